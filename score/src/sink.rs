//! Alerts into Elasticsearch or OpenSearch (`--to-es`): each alert an
//! ECS-shaped document whose id is its fingerprint, so a re-run updates
//! instead of adding copies, sent with `_bulk` after the alerts file is
//! written; an index template maps the fields first when none exists.

use std::path::{Path, PathBuf};

use loglynx_es::{bulk_body, ensure_template, send_bulk, BulkDoc, BulkReport, Client, EsError};
use serde_json::{json, Value};

use crate::alerts::Alert;
use crate::config::ScoreConfig;
use crate::rules::Severity;

/// Where alerts go, checked before the run so that a bad setting fails
/// before the work.
#[derive(Debug)]
pub struct AlertSink {
    client: Client,
    url: String,
    index: String,
    batch: usize,
}

/// An alert sink that could not be set up or did not take the alerts.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("--to-es: {0}")]
    Setup(Box<EsError>),
    #[error("--scores-index: {0}")]
    Scores(String),
    #[error("--to-es {url}, index {index}: {error}; the alerts are in {}", output.display())]
    Send {
        url: String,
        index: String,
        output: PathBuf,
        /// Not a `source`: the message already holds it.
        error: Box<EsError>,
    },
}

impl AlertSink {
    /// The sink `config` asks for, if any: credentials from
    /// `--es-credentials` or the environment, never from flags
    /// ([`loglynx_cli::es::EsConnectionArgs`]).
    pub fn from_config(config: &ScoreConfig) -> Result<Option<AlertSink>, SinkError> {
        let Some(url) = &config.to_es else {
            return Ok(None);
        };
        let setup = |e| SinkError::Setup(Box::new(e));
        let client = config.es_connection.client(url, "loglynx-score").map_err(setup)?;
        Ok(Some(AlertSink {
            client,
            url: url.clone(),
            index: config.alerts_index.clone(),
            batch: config.es_batch,
        }))
    }

    /// Creates the index template if absent, then indexes the alerts.
    pub fn send(&self, alerts: &[Alert], output: &Path) -> Result<BulkReport, SinkError> {
        self.send_documents(&alert_documents(alerts), output)
    }

    /// Like [`AlertSink::send`], for alerts as `loglynx-score` writes them
    /// in NDJSON (`--send-alerts`, to finish a run whose sink failed).
    pub fn send_documents(&self, docs: &[BulkDoc], output: &Path) -> Result<BulkReport, SinkError> {
        let failed = self.failure(&self.index, output);
        ensure_template(
            &self.client,
            &format!("{}-template", self.index),
            &alerts_template(&self.index),
        )
        .map_err(failed)?;
        send_bulk(&self.client, &self.index, docs, self.batch).map_err(failed)
    }

    pub fn index(&self) -> &str {
        &self.index
    }

    /// Sends the rows of a `--scores-out` NDJSON file to `index`, a batch
    /// at a time (the file is not held whole), after creating the index
    /// template if absent.
    pub fn send_scores(&self, scores: &Path, index: &str) -> Result<BulkReport, SinkError> {
        let failed = self.failure(index, scores);
        let unreadable = |why: String| SinkError::Scores(format!("{}: {why}", scores.display()));
        ensure_template(&self.client, &format!("{index}-template"), &scores_template(index)).map_err(failed)?;
        let file = std::fs::File::open(scores).map_err(|e| unreadable(e.to_string()))?;
        let mut total = BulkReport::default();
        let mut batch = Vec::with_capacity(self.batch);
        for (n, line) in std::io::BufRead::lines(std::io::BufReader::new(file)).enumerate() {
            let line = line.map_err(|e| unreadable(e.to_string()))?;
            let row: Value = serde_json::from_str(&line).map_err(|e| unreadable(format!("line {}: {e}", n + 1)))?;
            batch.push(score_document(row));
            if batch.len() >= self.batch.max(1) {
                total.add(send_bulk(&self.client, index, &batch, self.batch).map_err(failed)?);
                batch.clear();
            }
        }
        if !batch.is_empty() {
            total.add(send_bulk(&self.client, index, &batch, self.batch).map_err(failed)?);
        }
        Ok(total)
    }

    /// The error of a failed upload to `index` of what `file` holds.
    fn failure<'a>(&'a self, index: &'a str, file: &'a Path) -> impl Fn(EsError) -> SinkError + Copy + 'a {
        move |error| SinkError::Send {
            url: self.url.clone(),
            index: index.to_owned(),
            output: file.to_path_buf(),
            error: Box::new(error),
        }
    }
}

/// A `--scores-out` row as a document: the row, `@timestamp` its window
/// start; its id a hash of entity kind, entity and window start.
pub fn score_document(mut row: Value) -> BulkDoc {
    let text = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
    let mut h = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(&(text("entity_kind"), text("entity"), text("window_start")), &mut h);
    let id = format!("{:016x}", std::hash::Hasher::finish(&h));
    row["@timestamp"] = row["window_start"].clone();
    BulkDoc { id, doc: row }
}

/// An index template for `index`: strings are keywords unless
/// `properties` maps them otherwise.
fn index_template(index: &str, properties: Value) -> Value {
    json!({
        "index_patterns": [index],
        "priority": 200,
        "template": {
            "mappings": {
                "dynamic_templates": [
                    {"strings_as_keywords": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
                ],
                "properties": properties,
            }
        }
    })
}

/// The index template of a scores index.
pub fn scores_template(index: &str) -> Value {
    let keyword = json!({"type": "keyword"});
    let date = json!({"type": "date"});
    let number = json!({"type": "double"});
    index_template(
        index,
        json!({
            "@timestamp": date,
            "entity_kind": keyword,
            "entity": keyword,
            "window_start": date,
            "window_end": date,
            "score": number,
            "iforest_pct": number,
            "kmeans_pct": number,
            "cluster": {"type": "integer"},
            "is_anomaly": {"type": "boolean"},
            "explanation": keyword,
        }),
    )
}

/// The documents of `alerts`, ids their fingerprints.
pub fn alert_documents(alerts: &[Alert]) -> Vec<BulkDoc> {
    alerts
        .iter()
        .map(|a| {
            let value = serde_json::to_value(a).expect("an alert is plain JSON");
            alert_document(&value).expect("a serialized alert has a fingerprint")
        })
        .collect()
}

/// The documents of an alerts file in NDJSON; the error names the line.
pub fn read_alert_documents(path: &Path) -> Result<Vec<BulkDoc>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut docs = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |why: String| format!("{}:{}: {why}", path.display(), n + 1);
        let value: Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        docs.push(alert_document(&value).ok_or_else(|| bad("not an alert of loglynx-score (no fingerprint)".into()))?);
    }
    Ok(docs)
}

/// Writes the `_bulk` NDJSON of `alerts` for `index` (`--output-format
/// es-bulk`), atomically, for loading later (`curl --data-binary @FILE
/// URL/_bulk`).
pub fn write_bulk_file(
    alerts: &[Alert],
    path: &Path,
    index: &str,
) -> Result<(), loglynx_features::output::OutputError> {
    loglynx_features::output::write_atomic(path, bulk_body(index, &alert_documents(alerts)).as_bytes())
}

/// An alert (as `loglynx-score` serializes it) as an ECS-shaped document:
/// `@timestamp`, `event.*`, `rule.*`, `source.ip` (the sources that are
/// addresses), `host.name`, `user.name` and `message`, with the whole
/// alert under `loglynx.alert` (stored, not indexed). `None` without a
/// fingerprint, the document id.
pub fn alert_document(a: &Value) -> Option<BulkDoc> {
    let fingerprint = a.get("fingerprint")?.as_str()?.to_owned();
    let ips: Vec<&str> = a["source_ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
        .collect();
    let severity = a["severity"].as_str().unwrap_or_default();
    // ECS's event.severity: 1 (low) to 4 (critical).
    let level = serde_json::from_value::<Severity>(a["severity"].clone())
        .ok()
        .map(|s| s as u8 + 1);
    let doc = json!({
        "@timestamp": a["first_seen"],
        "event": {
            "kind": "alert",
            "module": "loglynx",
            "id": a["id"],
            "severity": level,
            "risk_score": a["risk_score"],
            "start": a["first_seen"],
            "end": a["last_seen"],
        },
        "rule": { "id": a["rule_ids"], "name": a["title"] },
        "source": { "ip": ips, "address": a["source_ips"] },
        "host": { "name": a["target_hosts"] },
        "user": { "name": a["users"] },
        "message": a["summary"],
        "tags": a["tags"],
        "loglynx": {
            "severity": severity,
            "fingerprint": fingerprint,
            "primary": a["primary"],
            "alert": a,
        },
    });
    Some(BulkDoc { id: fingerprint, doc })
}

/// The index template of the alerts index: keywords, addresses, dates and
/// numbers, and the whole alert kept but not indexed.
pub fn alerts_template(index: &str) -> Value {
    let keyword = json!({"type": "keyword"});
    let date = json!({"type": "date"});
    index_template(
        index,
        json!({
            "@timestamp": date,
            "event": {"properties": {
                "kind": keyword, "module": keyword, "id": keyword,
                "severity": {"type": "byte"},
                "risk_score": {"type": "scaled_float", "scaling_factor": 100},
                "start": date, "end": date,
            }},
            "rule": {"properties": {"id": keyword, "name": {"type": "text", "fields": {"keyword": keyword}}}},
            "source": {"properties": {"ip": {"type": "ip"}, "address": keyword}},
            "host": {"properties": {"name": keyword}},
            "user": {"properties": {"name": keyword}},
            "message": {"type": "text"},
            "tags": keyword,
            "loglynx": {"properties": {
                "severity": keyword, "fingerprint": keyword, "primary": keyword,
                "alert": {"type": "object", "enabled": false},
            }},
        }),
    )
}
