//! Ingest: reading inputs and running them through the connectors and the
//! aggregation in parallel.
//!
//! - [`input`]: files, directories, globs, stdin, gzip, format detection,
//!   blocks cut at line boundaries.
//! - [`pipeline`]: blocks → decoded events → features (and the compact
//!   event log), in parallel with bounded memory.
//! - [`attempts`]: each authentication attempt counted once, whichever lines
//!   it left (sequential, in input order, between decoding and folding).
//! - [`stats`]: counts of lines that produced no event, for the summary.
//! - [`frame`]: events given as a table (Python, Spark) back into events
//!   and feature rows, and the buckets that keep an entity's events together.

pub mod attempts;
#[cfg(feature = "parquet")]
pub mod frame;
pub mod input;
pub mod pipeline;
pub mod stats;
