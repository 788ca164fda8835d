//! Connectors: one line of a log in, one normalized [`crate::Event`] (or a
//! reason to skip it) out.
//!
//! - [`syslog`]: syslog headers (RFC 3164, RFC 5424, ISO-8601 prefixes);
//!   the message goes to [`decode`], the per-program message decoders.
//! - [`json`]: JSON lines (ECS, mapped schemas, Windows Security events).
//! - [`csv`]: CSV with a header and a column map.

pub mod csv;
pub mod decode;
pub mod json;
pub mod syslog;
