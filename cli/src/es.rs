//! The Elasticsearch/OpenSearch flags the binaries share: how to connect
//! ([`EsConnectionArgs`]) and what to read ([`EsSourceArgs`]); reading an
//! index into a spooled NDJSON input ([`spool_from_es`]) that the pipeline
//! then reads like any JSON file, so the same normalization applies (ECS,
//! Filebeat, Wazuh, `--field-map`, raw syslog in `message`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use loglynx_es::{read_documents, Client, ConnectionConfig, Credentials, EsError, SourceConfig};
use loglynx_features::ingest::input::Source;

/// How to reach a cluster (credentials from a file or the environment,
/// never from flags).
#[derive(Debug, Clone, Default, Args)]
pub struct EsConnectionArgs {
    /// File with the cluster's credentials: `api_key = …`, or `username = …`
    /// and `password = …`. Without it: LOGLYNX_ES_API_KEY, or
    /// LOGLYNX_ES_USERNAME and LOGLYNX_ES_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub es_credentials: Option<PathBuf>,

    /// PEM file of the certificate authorities to trust.
    #[arg(long, value_name = "FILE")]
    pub es_ca_file: Option<PathBuf>,

    /// Do not verify the cluster's TLS certificate (loud; never the default).
    #[arg(long)]
    pub insecure: bool,

    /// Retries of a request answered 429 or 5xx, or whose connection failed.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub es_retries: u32,

    /// Milliseconds before the first retry; doubled for each next one.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub es_retry_wait_ms: u64,
}

impl EsConnectionArgs {
    /// A client for `url`; says loudly when certificates go unverified.
    pub fn client(&self, url: &str, binary: &str) -> Result<Client, EsError> {
        let mut c = ConnectionConfig::new(url);
        c.credentials = match &self.es_credentials {
            Some(p) => Some(Credentials::from_file(p)?),
            None => Credentials::from_env()?,
        };
        c.ca_file = self.es_ca_file.clone();
        c.insecure = self.insecure;
        c.retries = self.es_retries;
        c.retry_wait = Duration::from_millis(self.es_retry_wait_ms);
        if c.insecure {
            tracing::warn!("--insecure: the certificate of {url} is not verified");
            eprintln!("{binary}: warning: --insecure: TLS certificates of {url} are NOT verified");
        }
        Client::new(&c)
    }
}

/// Reading events from a cluster instead of (or besides) files.
#[derive(Debug, Clone, Default, Args)]
pub struct EsSourceArgs {
    /// Read events from this Elasticsearch or OpenSearch cluster
    /// (`https://host:9200`), with --index.
    #[arg(long, value_name = "URL", requires = "index")]
    pub from_es: Option<String>,

    /// Index name or pattern to read (`filebeat-*`, `wazuh-alerts-*`).
    #[arg(long, value_name = "PATTERN", requires = "from_es")]
    pub index: Option<String>,

    /// JSON file holding a query (the value of a search's `query`) the
    /// events must match.
    #[arg(long, value_name = "FILE", requires = "from_es")]
    pub query: Option<PathBuf>,

    /// Only events at or after this `@timestamp` (a date, or date math the
    /// cluster reads, like `now-7d`).
    #[arg(long, value_name = "TIME", requires = "from_es")]
    pub since: Option<String>,

    /// Only events before this `@timestamp`.
    #[arg(long, value_name = "TIME", requires = "from_es")]
    pub until: Option<String>,

    /// Events per page of the point-in-time search.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub es_page_size: usize,

    /// Sliced searches read in parallel (one connection each); the events
    /// come out in the order one reader gives.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub es_slices: usize,
}

/// Why events could not be read from a cluster.
#[derive(Debug, thiserror::Error)]
pub enum EsInputError {
    #[error("--from-es {url}, index {index}: {error}")]
    Read {
        url: String,
        index: String,
        /// Not a `source`: the message already holds it, and chains
        /// printed by cause would say it twice.
        error: Box<EsError>,
    },
    #[error("--query {path}: {why}")]
    Query { path: String, why: String },
    #[error("--from-es: spooling the events: {0}")]
    Spool(std::io::Error),
}

/// The events of `--from-es`, read into a temporary NDJSON file added to
/// `sources` and named `es:INDEX` in messages and evidence; the file is
/// deleted when the returned path is dropped. `None` without the flag.
pub fn spool_from_es(
    src: &EsSourceArgs,
    conn: &EsConnectionArgs,
    binary: &str,
    sources: &mut Vec<Source>,
) -> Result<Option<tempfile::TempPath>, EsInputError> {
    let (Some(url), Some(index)) = (&src.from_es, &src.index) else {
        return Ok(None);
    };
    let failed = |e: EsError| EsInputError::Read {
        url: url.clone(),
        index: index.clone(),
        error: Box::new(e),
    };
    let mut cfg = SourceConfig::new(index);
    if let Some(p) = &src.query {
        let bad = |why: String| EsInputError::Query {
            path: p.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(p).map_err(|e| bad(e.to_string()))?;
        let q: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if !q.is_object() {
            return Err(bad("expected a JSON object, the value of a search's `query`".into()));
        }
        cfg.query = Some(q);
    }
    cfg.since = src.since.clone();
    cfg.until = src.until.clone();
    cfg.page_size = src.es_page_size.max(1);
    cfg.slices = src.es_slices.max(1);
    let client = conn.client(url, binary).map_err(failed)?;
    let tmp = tempfile::NamedTempFile::new().map_err(EsInputError::Spool)?;
    let mut w = std::io::BufWriter::new(tmp.reopen().map_err(EsInputError::Spool)?);
    let report = read_documents(&client, &cfg, &mut w).map_err(failed)?;
    std::io::Write::flush(&mut w).map_err(EsInputError::Spool)?;
    tracing::info!(
        documents = report.documents,
        pages = report.pages,
        without_source = report.without_source,
        "read from {url} index {index}"
    );
    let path = tmp.into_temp_path();
    sources.push(Source::Spooled {
        path: path.to_path_buf(),
        name: format!("es:{index}"),
    });
    Ok(Some(path))
}
