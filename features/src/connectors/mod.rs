//! Connectors: one line of a log in, one normalized [`crate::Event`] (or a
//! reason to skip it) out.
//!
//! - [`syslog`]: syslog headers (RFC 3164, RFC 5424, ISO-8601 prefixes);
//!   the message goes to [`decode`], the per-program message decoders.
//! - [`json`]: JSON lines (ECS, mapped schemas, Windows Security events).
//! - [`csv`]: CSV with a header and a column map.
//! - [`journald`]: `journalctl -o json` lines; the message goes to
//!   [`decode`] like a syslog message, picked by `SYSLOG_IDENTIFIER`.
//! - [`journal_export`]: `journalctl -o export` streams, turned into
//!   journald JSON lines as they are read (by [`crate::ingest::input::open`]).
//! - [`audit`]: Linux audit logs (`audit.log`): the user-space records of
//!   PAM, sshd, login, sudo and shadow-utils; kernel records are skipped.

pub mod audit;
pub mod csv;
pub mod decode;
pub mod journal_export;
pub mod journald;
pub mod json;
pub mod syslog;
