use std::io::{BufRead, BufReader, BufWriter, Write};

use serde_json::{json, Value};

use crate::client::{Client, EsError};

/// What to read and how.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Index name or pattern (`auth-*`).
    pub index: String,
    /// A query (the value of a search's `query`) the documents must match.
    pub query: Option<Value>,
    /// `@timestamp` at or after this (a date or date math, as the cluster reads it).
    pub since: Option<String>,
    /// `@timestamp` before this.
    pub until: Option<String>,
    /// Documents per page.
    pub page_size: usize,
    /// Sliced point-in-time searches read in parallel; 1 reads with one.
    pub slices: usize,
    /// How long the point in time lives between pages.
    pub keep_alive: String,
}

impl SourceConfig {
    pub fn new(index: &str) -> SourceConfig {
        SourceConfig {
            index: index.to_owned(),
            query: None,
            since: None,
            until: None,
            page_size: 5000,
            slices: 1,
            keep_alive: "5m".into(),
        }
    }
}

/// Which point-in-time API the cluster speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PitApi {
    /// `POST /INDEX/_pit`, `DELETE /_pit`.
    Elasticsearch,
    /// `POST /INDEX/_search/point_in_time`, `DELETE /_search/point_in_time`.
    OpenSearch,
}

/// What a read did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadReport {
    pub documents: u64,
    /// Hits without a `_source`, left out.
    pub without_source: u64,
    pub pages: u64,
    pub api: PitApi,
}

impl ReadReport {
    fn new(api: PitApi) -> ReadReport {
        ReadReport {
            documents: 0,
            without_source: 0,
            pages: 0,
            api,
        }
    }
}

/// A local I/O failure (`what`) while reading from `client`.
fn io_failure(client: &Client, what: &str, e: std::io::Error) -> EsError {
    EsError::Answer {
        url: client.url("/_search"),
        why: format!("{what}: {e}"),
    }
}

fn parse(url: String, body: &str) -> Result<Value, EsError> {
    serde_json::from_str(body).map_err(|e| EsError::Answer {
        url,
        why: format!("not JSON: {e}"),
    })
}

/// The API of the cluster, from its version answer (`GET /`).
pub fn detect_api(client: &Client) -> Result<PitApi, EsError> {
    let r = client.send_ok("GET", "/", None)?;
    let v = parse(client.url("/"), &r.body)?;
    Ok(match v["version"]["distribution"].as_str() {
        Some("opensearch") => PitApi::OpenSearch,
        _ => PitApi::Elasticsearch,
    })
}

/// An open point in time, closed when dropped (also after an error).
struct Pit<'c> {
    client: &'c Client,
    api: PitApi,
    id: String,
}

impl<'c> Pit<'c> {
    fn open(client: &'c Client, api: PitApi, cfg: &SourceConfig) -> Result<Pit<'c>, EsError> {
        let (path, field) = match api {
            PitApi::Elasticsearch => (format!("/{}/_pit?keep_alive={}", cfg.index, cfg.keep_alive), "id"),
            PitApi::OpenSearch => (
                format!("/{}/_search/point_in_time?keep_alive={}", cfg.index, cfg.keep_alive),
                "pit_id",
            ),
        };
        let r = client.send_ok("POST", &path, None)?;
        let v = parse(client.url(&path), &r.body)?;
        let id = v[field].as_str().ok_or_else(|| EsError::Answer {
            url: client.url(&path),
            why: format!("no `{field}` in the point-in-time answer"),
        })?;
        Ok(Pit {
            client,
            api,
            id: id.to_owned(),
        })
    }
}

impl Drop for Pit<'_> {
    fn drop(&mut self) {
        let (path, body) = match self.api {
            PitApi::Elasticsearch => ("/_pit", json!({"id": self.id})),
            PitApi::OpenSearch => ("/_search/point_in_time", json!({"pit_id": [self.id]})),
        };
        if let Err(e) = self
            .client
            .send_ok("DELETE", path, Some(("application/json", body.to_string().as_bytes())))
        {
            tracing::warn!("closing the point in time: {e}");
        }
    }
}

/// The search of one page.
fn search_body(cfg: &SourceConfig, pit: &str, after: Option<&Value>, slice: Option<(usize, usize)>) -> Value {
    let mut filter = Vec::new();
    if let Some(q) = &cfg.query {
        filter.push(q.clone());
    }
    if cfg.since.is_some() || cfg.until.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(s) = &cfg.since {
            range.insert("gte".into(), json!(s));
        }
        if let Some(u) = &cfg.until {
            range.insert("lt".into(), json!(u));
        }
        filter.push(json!({"range": {"@timestamp": range}}));
    }
    let mut body = json!({
        "size": cfg.page_size.max(1),
        "pit": {"id": pit, "keep_alive": cfg.keep_alive},
        "sort": [{"@timestamp": {"order": "asc"}}, {"_shard_doc": "asc"}],
        "track_total_hits": false,
        "query": {"bool": {"filter": filter}},
    });
    if let Some(a) = after {
        body["search_after"] = a.clone();
    }
    if let Some((id, max)) = slice {
        body["slice"] = json!({"id": id, "max": max});
    }
    body
}

/// The position of a hit in the read order, from its sort values (the
/// time in milliseconds and the point in time's document order).
fn sort_key(sort: &Value) -> (i64, i64) {
    let n = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(i64::MAX);
    (n(&sort[0]), n(&sort[1]))
}

/// Reads one slice (or everything), page by page, handing each hit's
/// source and sort key to `emit`.
fn read_slice(
    client: &Client,
    pit: &Pit<'_>,
    cfg: &SourceConfig,
    slice: Option<(usize, usize)>,
    report: &mut ReadReport,
    mut emit: impl FnMut((i64, i64), &Value) -> std::io::Result<()>,
) -> Result<(), EsError> {
    let url = client.url("/_search");
    let io = |e| io_failure(client, "writing the documents", e);
    let mut pit_id = pit.id.clone();
    let mut after: Option<Value> = None;
    loop {
        let body = search_body(cfg, &pit_id, after.as_ref(), slice);
        let r = client.send_ok(
            "POST",
            "/_search",
            Some(("application/json", body.to_string().as_bytes())),
        )?;
        let v = parse(url.clone(), &r.body)?;
        if let Some(id) = v["pit_id"].as_str() {
            pit_id = id.to_owned();
        }
        let hits = v["hits"]["hits"].as_array().ok_or_else(|| EsError::Answer {
            url: url.clone(),
            why: "no hits.hits in the search answer".into(),
        })?;
        report.pages += 1;
        let Some(last) = hits.last() else { break };
        for hit in hits {
            match hit.get("_source") {
                Some(source) => {
                    emit(sort_key(&hit["sort"]), source).map_err(io)?;
                    report.documents += 1;
                }
                None => report.without_source += 1,
            }
        }
        after = Some(last["sort"].clone());
        if hits.len() < cfg.page_size.max(1) {
            break;
        }
    }
    Ok(())
}

/// Reads the documents of `cfg.index` in time order into `out`, one JSON
/// line (the document's `_source`) each: a point in time with
/// `search_after` paging, sorted by `@timestamp` and the point in time's
/// document order; with several slices, each read on a thread of its own
/// and merged in that same order, so the lines are those of one reader.
/// The point in time is closed at the end, also after an error.
pub fn read_documents(client: &Client, cfg: &SourceConfig, out: &mut dyn Write) -> Result<ReadReport, EsError> {
    let api = detect_api(client)?;
    let pit = Pit::open(client, api, cfg)?;
    let mut report = ReadReport::new(api);
    let io = |e| io_failure(client, "writing the documents", e);
    if cfg.slices <= 1 {
        read_slice(client, &pit, cfg, None, &mut report, |_, source| {
            serde_json::to_writer(&mut *out, source)?;
            out.write_all(b"\n")
        })?;
        return Ok(report);
    }
    // Each slice to a file of its own, every line prefixed by its key.
    let results: Vec<Result<(tempfile::NamedTempFile, ReadReport), EsError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cfg.slices)
            .map(|id| {
                let pit = &pit;
                scope.spawn(move || {
                    let temp = |e| io_failure(client, "a temporary file", e);
                    let file = tempfile::NamedTempFile::new().map_err(temp)?;
                    let mut w = BufWriter::new(file.reopen().map_err(temp)?);
                    let mut part = ReadReport::new(api);
                    read_slice(client, pit, cfg, Some((id, cfg.slices)), &mut part, |(t, d), source| {
                        write!(w, "{t} {d} ")?;
                        serde_json::to_writer(&mut w, source)?;
                        w.write_all(b"\n")
                    })?;
                    w.flush().map_err(temp)?;
                    Ok((file, part))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a slice reader panicked"))
            .collect()
    });
    let mut readers = Vec::new();
    for r in results {
        let (file, part) = r?;
        report.documents += part.documents;
        report.without_source += part.without_source;
        report.pages += part.pages;
        readers.push(BufReader::new(file.reopen().map_err(io)?));
    }
    // A k-way merge on the keys.
    let next = |r: &mut BufReader<std::fs::File>| -> std::io::Result<Option<((i64, i64), String)>> {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let mut parts = line.splitn(3, ' ');
        let bad = || std::io::Error::other("a malformed slice line");
        let t: i64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let d: i64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        Ok(Some(((t, d), parts.next().ok_or_else(bad)?.to_owned())))
    };
    let mut heads: Vec<Option<((i64, i64), String)>> = Vec::with_capacity(readers.len());
    for r in &mut readers {
        heads.push(next(r).map_err(io)?);
    }
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<((i64, i64), usize)>> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.as_ref().map(|(k, _)| std::cmp::Reverse((*k, i))))
        .collect();
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        let (_, line) = heads[i].take().expect("a head for every heap entry");
        out.write_all(line.as_bytes()).map_err(io)?;
        heads[i] = next(&mut readers[i]).map_err(io)?;
        if let Some((k, _)) = &heads[i] {
            heap.push(std::cmp::Reverse((*k, i)));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_search_filters_by_query_and_time_and_pages_after_the_last_hit() {
        let mut cfg = SourceConfig::new("auth-*");
        cfg.query = Some(json!({"term": {"event.category": "authentication"}}));
        cfg.since = Some("2026-01-01T00:00:00Z".into());
        cfg.page_size = 100;
        let b = search_body(&cfg, "p1", Some(&json!([5, 7])), Some((1, 3)));
        assert_eq!(b["pit"]["id"], "p1");
        assert_eq!(b["size"], 100);
        assert_eq!(b["search_after"], json!([5, 7]));
        assert_eq!(b["slice"], json!({"id": 1, "max": 3}));
        let filter = b["query"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(filter[0], json!({"term": {"event.category": "authentication"}}));
        assert_eq!(
            filter[1],
            json!({"range": {"@timestamp": {"gte": "2026-01-01T00:00:00Z"}}})
        );
        assert!(search_body(&SourceConfig::new("x"), "p", None, None)
            .get("slice")
            .is_none());
        assert_eq!(sort_key(&json!([1767225600000i64, 6])), (1767225600000, 6));
        assert_eq!(sort_key(&json!([])), (i64::MAX, i64::MAX));
    }
}
