//! Elasticsearch and OpenSearch for loglynx: a blocking client ([`Client`],
//! ureq with rustls) that retries with exponential backoff on 429, 5xx and
//! dropped connections; `_bulk` indexing in batches with each item's
//! result read ([`send_bulk`]); index templates created when absent
//! ([`ensure_template`]); reading an index in time order through a point
//! in time with `search_after` paging, sliced across threads
//! ([`read_documents`]).
//!
//! Credentials come from the environment or a file ([`Credentials`]), never
//! from the command line, and are never printed: their `Debug` is redacted
//! and errors carry the URL without them. TLS certificates are verified
//! unless the caller turns that off explicitly.

mod bulk;
mod client;
mod source;

pub use bulk::{bulk_body, ensure_template, send_bulk, BulkDoc, BulkReport, ItemError};
pub use client::{Client, ConnectionConfig, Credentials, EsError, Response};
pub use source::{detect_api, read_documents, PitApi, ReadReport, SourceConfig};
