use serde_json::{json, Value};

use crate::client::{Client, EsError};

/// A document to index, with its id (a re-run with the same id replaces
/// it instead of adding a copy).
#[derive(Debug, Clone)]
pub struct BulkDoc {
    pub id: String,
    pub doc: Value,
}

/// One document the cluster refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    pub id: String,
    pub status: u16,
    pub reason: String,
}

/// What a bulk upload did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkReport {
    pub sent: usize,
    pub created: usize,
    pub updated: usize,
    pub requests: usize,
    pub failed: Vec<ItemError>,
}

impl BulkReport {
    /// Adds what another upload did.
    pub fn add(&mut self, other: BulkReport) {
        self.sent += other.sent;
        self.created += other.created;
        self.updated += other.updated;
        self.requests += other.requests;
        self.failed.extend(other.failed);
    }
}

/// The `_bulk` NDJSON body indexing `docs` into `index`: an action line
/// and a source line each.
pub fn bulk_body(index: &str, docs: &[BulkDoc]) -> String {
    let mut out = String::new();
    for d in docs {
        out.push_str(&json!({"index": {"_index": index, "_id": d.id}}).to_string());
        out.push('\n');
        out.push_str(&d.doc.to_string());
        out.push('\n');
    }
    out
}

/// Indexes `docs` into `index` in requests of `batch` documents. Every
/// item's result is read; refused documents are an error naming the first.
pub fn send_bulk(client: &Client, index: &str, docs: &[BulkDoc], batch: usize) -> Result<BulkReport, EsError> {
    let mut report = BulkReport::default();
    let url = client.url("/_bulk");
    for chunk in docs.chunks(batch.max(1)) {
        let body = bulk_body(index, chunk);
        let r = client.send_ok("POST", "/_bulk", Some(("application/x-ndjson", body.as_bytes())))?;
        report.requests += 1;
        report.sent += chunk.len();
        let answer: Value = serde_json::from_str(&r.body).map_err(|e| EsError::Answer {
            url: url.clone(),
            why: format!("not JSON: {e}"),
        })?;
        let items = answer
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| EsError::Answer {
                url: url.clone(),
                why: "no `items` in the bulk answer".into(),
            })?;
        if items.len() != chunk.len() {
            return Err(EsError::Answer {
                url: url.clone(),
                why: format!("{} items for {} documents", items.len(), chunk.len()),
            });
        }
        for (item, doc) in items.iter().zip(chunk) {
            let Some(result) = item.as_object().and_then(|o| o.values().next()) else {
                return Err(EsError::Answer {
                    url: url.clone(),
                    why: "a bulk item without a result".into(),
                });
            };
            let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
            if (200..300).contains(&status) {
                match result.get("result").and_then(Value::as_str) {
                    Some("created") => report.created += 1,
                    _ => report.updated += 1,
                }
            } else {
                let reason = result
                    .get("error")
                    .map(|e| {
                        e.get("reason")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .unwrap_or_else(|| e.to_string())
                    })
                    .unwrap_or_default();
                report.failed.push(ItemError {
                    id: doc.id.clone(),
                    status,
                    reason,
                });
            }
        }
    }
    if let Some(first) = report.failed.first() {
        return Err(EsError::Items {
            url,
            sent: report.sent,
            failed: report.failed.len(),
            first: format!("{} (HTTP {}): {}", first.id, first.status, first.reason),
        });
    }
    Ok(report)
}

/// Creates index template `name` with `body` unless one of that name
/// exists; says whether it created it.
pub fn ensure_template(client: &Client, name: &str, body: &Value) -> Result<bool, EsError> {
    let path = format!("/_index_template/{name}");
    let r = client.send("GET", &path, None)?;
    match r.status {
        200..=299 => Ok(false),
        404 => {
            client.send_ok("PUT", &path, Some(("application/json", body.to_string().as_bytes())))?;
            Ok(true)
        }
        _ => Err(client.status_error("GET", &path, &r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_body_is_an_action_and_a_source_line_per_document_whatever_the_text() {
        let docs = [
            BulkDoc {
                id: "a\"b".into(),
                doc: json!({"user": {"name": "x\n{\"index\":{}}"}}),
            },
            BulkDoc {
                id: "c".into(),
                doc: json!({"n": 1}),
            },
        ];
        let body = bulk_body("alerts", &docs);
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 4);
        let action: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(action["index"]["_id"], "a\"b");
        assert_eq!(action["index"]["_index"], "alerts");
        let source: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(source["user"]["name"], "x\n{\"index\":{}}");
        assert!(body.ends_with('\n'));
    }
}
