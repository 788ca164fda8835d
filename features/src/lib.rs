//! loglynx ingest and features.
//!
//! Reads security logs (syslog auth logs, JSON lines with ECS or mapped
//! fields, Windows Security events as JSON, CSV), normalizes every line into
//! one [`Event`] type with ECS field names, and aggregates events into
//! per-entity, per-window behaviour features (see
//! [`aggregate::registry::FEATURES`]).
//!
//! The modules follow the data, in order:
//!
//! 1. [`ingest`]: inputs (files, globs, stdin, gzip) cut into blocks of
//!    lines, and the parallel [`ingest::pipeline`] that drives the stages
//!    below; [`ingest::stats`] counts the lines that gave no event.
//! 2. [`connectors`]: a line becomes an [`Event`] (syslog headers and
//!    per-program decoders, JSON/ECS/Windows, CSV).
//! 3. [`aggregate`]: events become per-entity, per-window feature rows; the
//!    [`aggregate::registry`] names the features and entity kinds, and
//!    [`aggregate::enrich`] holds IP scopes, assets and allowlists.
//! 4. [`output`]: feature tables and events written as Parquet, CSV or
//!    NDJSON, and the [`output::compact`] event log the rules read.
//!
//! [`event`] and [`time`] are shared by every stage; [`mem`] holds the
//! containers and memory release the aggregation uses.
//!
//! ```
//! use loglynx_features::connectors::syslog::{decode_line, YearResolver};
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
pub mod connectors;
pub mod event;
pub mod ingest;
pub mod mem;
pub mod output;
#[cfg(test)]
mod test_support;
pub mod time;

pub use compact_str::CompactString;
pub use event::{Action, Event, Outcome};
/// The polars the tables are built with, for callers that take them.
#[cfg(feature = "parquet")]
pub use polars;
