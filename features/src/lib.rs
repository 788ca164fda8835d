//! loglynx ingest and features.
//!
//! Reads security logs (syslog auth logs, JSON lines with ECS or mapped
//! fields, Windows Security events as JSON, CSV), normalizes every line into
//! one [`Event`] type with ECS field names, and aggregates events into
//! per-entity, per-window behaviour features (see [`registry::FEATURES`]).
//!
//! ```
//! use loglynx_features::syslog::{decode_line, YearResolver};
//! use loglynx_features::event::{Action, Outcome};
//!
//! let years = YearResolver::fixed(2024);
//! let line = "Mar  3 04:05:06 web1 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2";
//! let ev = decode_line(line, 0, 1, &years).unwrap();
//! assert_eq!(ev.action, Action::Authentication);
//! assert_eq!(ev.outcome, Outcome::Failure);
//! assert_eq!(ev.user.as_deref(), Some("root"));
//! assert_eq!(ev.source_address.as_deref(), Some("203.0.113.9"));
//! ```

pub mod aggregate;
pub mod cli;
pub mod compact;
pub mod csv;
pub mod decode;
pub mod enrich;
pub mod event;
pub mod input;
pub mod json;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod release;
pub mod slab;
pub mod smallset;
pub mod stats;
pub mod syslog;
pub mod time;

pub use compact_str::CompactString;
pub use event::{Action, Event, Outcome};
