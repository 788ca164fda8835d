//! Elasticsearch and OpenSearch: events read with `--from-es` and alerts
//! sent with `--to-es`, against a real OpenSearch-API server (osmem-server,
//! which `.ci/run` installs) and small fake clusters that speak
//! Elasticsearch's point-in-time API, refuse, drop the connection or
//! answer 429 and 5xx.
//!
//! The osmem-server tests need its binary in `LOGLYNX_OSMEM_SERVER`;
//! without it they say so and pass, unless `LOGLYNX_REQUIRE_OSMEM` is set
//! (`.ci/run` sets both), so that CI cannot pass them vacuously.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use loglynx_es::{Client, ConnectionConfig};
use loglynx_tests::bin;
use serde_json::Value;

/// An osmem-server on loopback, stopped when dropped.
struct Osmem {
    child: Child,
    url: String,
}

impl Drop for Osmem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn osmem() -> Option<Osmem> {
    let Some(path) = std::env::var_os("LOGLYNX_OSMEM_SERVER") else {
        assert!(
            std::env::var_os("LOGLYNX_REQUIRE_OSMEM").is_none(),
            "LOGLYNX_REQUIRE_OSMEM is set but LOGLYNX_OSMEM_SERVER is not"
        );
        eprintln!("skipped: set LOGLYNX_OSMEM_SERVER to osmem-server's binary (pip install osmem-server)");
        return None;
    };
    let mut child = Process::new(path)
        .args(["-addr", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("osmem-server starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let hello: Value = serde_json::from_str(&first).expect("osmem-server prints its address first");
    Some(Osmem {
        url: hello["url"].as_str().unwrap().to_owned(),
        child,
    })
}

fn client(url: &str) -> Client {
    Client::new(&ConnectionConfig::new(url)).unwrap()
}

fn small_log(dir: &Path) -> PathBuf {
    super::score_cli::generate(dir, 20_000, 5, &[]).0
}

fn score_to(log: &Path, out: &Path, url: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::new(bin("loglynx-score"))
        .arg(log)
        .args(["--year", "2026", "-o"])
        .arg(out)
        .args(["--to-es", url, "--alerts-index", "llx-alerts"])
        .args(extra)
        .assert()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn alerts_in(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(url: &str, index: &str) -> u64 {
    let c = client(url);
    c.send_ok("POST", &format!("/{index}/_refresh"), None).ok();
    let r = c.send_ok("GET", &format!("/{index}/_count"), None).unwrap();
    serde_json::from_str::<Value>(&r.body).unwrap()["count"]
        .as_u64()
        .unwrap()
}

#[test]
fn alerts_round_trip_through_opensearch_and_a_rerun_updates_them_instead_of_adding_copies() {
    let Some(server) = osmem() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let out = dir.path().join("alerts.ndjson");
    let first = score_to(&log, &out, &server.url, &[]).code(0);
    let alerts = alerts_in(&out);
    assert!(!alerts.is_empty(), "the generated log raises alerts");
    let stderr = stderr_of(&first);
    assert!(stderr.contains(&format!("{} new, 0 updated", alerts.len())), "{stderr}");
    assert_eq!(count(&server.url, "llx-alerts"), alerts.len() as u64);

    // Each alert is a document under its fingerprint, ECS fields on top.
    let c = client(&server.url);
    for a in &alerts {
        let fp = a["fingerprint"].as_str().unwrap();
        let r = c.send_ok("GET", &format!("/llx-alerts/_doc/{fp}"), None).unwrap();
        let doc: Value = serde_json::from_str(&r.body).unwrap();
        let src = &doc["_source"];
        assert_eq!(src["event"]["kind"], "alert");
        assert_eq!(src["event"]["id"], a["id"]);
        assert_eq!(src["rule"]["id"], a["rule_ids"]);
        assert_eq!(src["@timestamp"], a["first_seen"]);
        assert_eq!(src["loglynx"]["alert"]["summary"], a["summary"]);
    }
    let t = c.send("GET", "/_index_template/llx-alerts-template", None).unwrap();
    assert_eq!(t.status, 200, "the index template was created: {}", t.body);

    // The same run again: every alert updated, none added.
    let again = score_to(&log, &out, &server.url, &[]).code(0);
    let stderr = stderr_of(&again);
    assert!(stderr.contains(&format!("0 new, {} updated", alerts.len())), "{stderr}");
    assert_eq!(count(&server.url, "llx-alerts"), alerts.len() as u64);

    // Every entity-window's scores too, from --scores-out; a re-run updates.
    let scores = dir.path().join("scores.ndjson");
    let with_scores = |scores: &Path| {
        let mut extra: Vec<String> = vec!["--scores-index".into(), "llx-scores".into(), "--scores-out".into()];
        extra.push(scores.display().to_string());
        extra
    };
    let extra = with_scores(&scores);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    score_to(&log, &out, &server.url, &extra).code(0);
    let rows = std::fs::read_to_string(&scores).unwrap().lines().count();
    assert!(rows > 1000, "{rows} scored windows");
    assert_eq!(count(&server.url, "llx-scores"), rows as u64);
    let again = score_to(&log, &out, &server.url, &extra).code(0);
    let stderr = stderr_of(&again);
    assert!(
        stderr.contains(&format!("sent {rows} scores to index llx-scores")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("0 new, {rows} updated")), "{stderr}");
    assert_eq!(count(&server.url, "llx-scores"), rows as u64);
    let csv = with_scores(&dir.path().join("scores.csv"));
    let csv: Vec<&str> = csv.iter().map(String::as_str).collect();
    let refused = score_to(&log, &out, &server.url, &csv).code(2);
    let stderr = stderr_of(&refused);
    assert!(
        stderr.contains("--scores-index") && stderr.contains(".ndjson"),
        "{stderr}"
    );

    // A run whose cluster failed is finished from its alerts file alone.
    Command::new(bin("loglynx-score"))
        .arg("--send-alerts")
        .arg(&out)
        .args(["--to-es", &server.url, "--alerts-index", "llx-resumed"])
        .assert()
        .code(0);
    assert_eq!(count(&server.url, "llx-resumed"), alerts.len() as u64);
    let c = client(&server.url);
    let fp = alerts[0]["fingerprint"].as_str().unwrap();
    let resumed: Value =
        serde_json::from_str(&c.send_ok("GET", &format!("/llx-resumed/_doc/{fp}"), None).unwrap().body).unwrap();
    let direct: Value =
        serde_json::from_str(&c.send_ok("GET", &format!("/llx-alerts/_doc/{fp}"), None).unwrap().body).unwrap();
    assert_eq!(resumed["_source"], direct["_source"], "the same document either way");

    // --output-format es-bulk: the same documents in a file, loaded later.
    let bulk = dir.path().join("alerts.bulk");
    Command::new(bin("loglynx-score"))
        .arg(&log)
        .args([
            "--year",
            "2026",
            "-q",
            "--output-format",
            "es-bulk",
            "--alerts-index",
            "llx-offline",
            "-o",
        ])
        .arg(&bulk)
        .assert()
        .code(0);
    let body = std::fs::read(&bulk).unwrap();
    assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), 2 * alerts.len());
    let r = c
        .send_ok("POST", "/_bulk?refresh=true", Some(("application/x-ndjson", &body)))
        .unwrap();
    assert!(r.body.contains("\"errors\":false"), "{}", r.body);
    assert_eq!(count(&server.url, "llx-offline"), alerts.len() as u64);

    // An alerts file that is not one is refused, naming the line.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, "{\"id\":1}\n").unwrap();
    let a = Command::new(bin("loglynx-score"))
        .arg("--send-alerts")
        .arg(&bad)
        .args(["--to-es", &server.url])
        .assert()
        .code(2);
    let stderr = stderr_of(&a);
    assert!(stderr.contains("bad.ndjson:1: not an alert"), "{stderr}");
}

/// A fake cluster: answers each request (method, path, body) with a
/// status and body from `answer`, closing every connection; `None` drops
/// the connection without an answer. Returns its URL and the requests.
#[allow(clippy::type_complexity)]
fn fake_cluster(
    answer: impl Fn(usize, &str, &str, &str) -> Option<(u16, String)> + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let Some(r) = read_request_from(&stream) else {
                continue;
            };
            log.lock().unwrap().push(format!("{} {}", r.method, r.path));
            if let Some((status, text)) = answer(n, &r.method, &r.path, &r.body) {
                respond(&stream, status, &text);
            }
        }
    });
    (url, seen)
}

/// A bulk answer creating every document of `body`.
fn bulk_created(body: &str) -> String {
    let items: Vec<Value> = body
        .lines()
        .step_by(2)
        .map(|action| {
            let a: Value = serde_json::from_str(action).unwrap();
            serde_json::json!({"index": {"_id": a["index"]["_id"], "status": 201, "result": "created"}})
        })
        .collect();
    serde_json::json!({"errors": false, "items": items}).to_string()
}

#[test]
fn a_cluster_answering_429_and_503_gets_the_alerts_after_retries() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let out = dir.path().join("alerts.ndjson");
    let (url, seen) = fake_cluster(|n, method, path, body| {
        Some(match (n, method, path) {
            (0, _, _) => (429, r#"{"error":"slow down"}"#.into()),
            (_, "GET", p) if p.starts_with("/_index_template/") => (404, "{}".into()),
            (_, "PUT", _) => (200, r#"{"acknowledged":true}"#.into()),
            (3, "POST", "/_bulk") => (503, r#"{"error":"unavailable"}"#.into()),
            (_, "POST", "/_bulk") => (200, bulk_created(body)),
            _ => (400, "{}".into()),
        })
    });
    score_to(&log, &out, &url, &["--es-retry-wait-ms", "1"]).code(0);
    let requests = seen.lock().unwrap().clone();
    assert_eq!(
        requests,
        [
            "GET /_index_template/llx-alerts-template",
            "GET /_index_template/llx-alerts-template",
            "PUT /_index_template/llx-alerts-template",
            "POST /_bulk",
            "POST /_bulk"
        ]
    );
    assert!(!alerts_in(&out).is_empty());
}

#[test]
fn a_cluster_that_fails_is_an_error_with_exit_code_2_and_the_alerts_file_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let out = dir.path().join("alerts.ndjson");

    // Always 500: the retries, then an error naming the status.
    let (url, seen) = fake_cluster(|_, _, _, _| Some((500, r#"{"error":"boom"}"#.into())));
    let a = score_to(&log, &out, &url, &["--es-retries", "2", "--es-retry-wait-ms", "1"]).code(2);
    let stderr = stderr_of(&a);
    assert!(
        stderr.contains("HTTP 500") && stderr.contains("after 3 attempts"),
        "{stderr}"
    );
    assert!(stderr.contains("the alerts are in"), "{stderr}");
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(
        !alerts_in(&out).is_empty(),
        "the alerts file is written before the sink"
    );

    // Connections dropped without an answer.
    std::fs::remove_file(&out).unwrap();
    let (url, _) = fake_cluster(|_, _, _, _| None);
    let a = score_to(&log, &out, &url, &["--es-retries", "1", "--es-retry-wait-ms", "1"]).code(2);
    let stderr = stderr_of(&a);
    assert!(stderr.contains("after 2 attempts"), "{stderr}");
    assert!(!alerts_in(&out).is_empty());

    // Nothing listening.
    std::fs::remove_file(&out).unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let a = score_to(&log, &out, &format!("http://127.0.0.1:{port}"), &["--es-retries", "0"]).code(2);
    let stderr = stderr_of(&a);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!alerts_in(&out).is_empty());

    // Refused documents are named.
    std::fs::remove_file(&out).unwrap();
    let (url, _) = fake_cluster(|_, method, path, body| {
        Some(match (method, path) {
            ("GET", _) => (200, "{}".into()),
            ("POST", "/_bulk") => {
                let mut answer: Value = serde_json::from_str(&bulk_created(body)).unwrap();
                answer["items"][0]["index"]["status"] = 400.into();
                answer["items"][0]["index"]["error"] = serde_json::json!({"reason": "mapper_parsing_exception"});
                (200, answer.to_string())
            }
            _ => (400, "{}".into()),
        })
    });
    let a = score_to(&log, &out, &url, &[]).code(2);
    let stderr = stderr_of(&a);
    assert!(
        stderr.contains("were refused") && stderr.contains("mapper_parsing_exception"),
        "{stderr}"
    );
    assert!(!alerts_in(&out).is_empty());
}

#[test]
fn credentials_come_from_the_environment_and_never_show_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let out = dir.path().join("alerts.ndjson");
    let auth = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::clone(&auth);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(r) = read_request_from(&stream) {
                seen.lock().unwrap().push(r.head);
            }
            respond(&stream, 401, "{}");
        }
    });
    let a = Command::new(bin("loglynx-score"))
        .arg(&log)
        .args(["--year", "2026", "-o"])
        .arg(&out)
        .args(["--to-es", &url, "--es-retries", "0"])
        .env("LOGLYNX_ES_USERNAME", "svc")
        .env("LOGLYNX_ES_PASSWORD", "hunter2")
        .assert()
        .code(2);
    let stderr = stderr_of(&a);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let heads = auth.lock().unwrap().join("");
    assert!(
        heads
            .to_ascii_lowercase()
            .contains("authorization: basic c3zjomh1bnrlcji="),
        "{heads}"
    );
}

/// Indexes the lines of an NDJSON file into `index`, ids the line numbers.
fn index_lines(url: &str, index: &str, path: &Path) {
    let docs: Vec<loglynx_es::BulkDoc> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| loglynx_es::BulkDoc {
            id: i.to_string(),
            doc: serde_json::from_str(l).unwrap(),
        })
        .collect();
    let report = loglynx_es::send_bulk(&client(url), index, &docs, 5000).unwrap();
    assert_eq!(report.sent, docs.len());
    client(url)
        .send_ok("POST", &format!("/{index}/_refresh"), None)
        .unwrap();
}

#[test]
fn events_read_back_from_opensearch_give_the_features_and_alerts_of_the_file_whatever_the_slices() {
    let Some(server) = osmem() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let events = dir.path().join("events.ndjson");
    Command::new(bin("loglynx-features"))
        .arg(&log)
        .args(["--year", "2026", "-q", "-o"])
        .arg(dir.path().join("f-log.parquet"))
        .arg("--events-out")
        .arg(&events)
        .assert()
        .success();
    index_lines(&server.url, "auth-events", &events);
    let from_file = dir.path().join("f-file.parquet");
    Command::new(bin("loglynx-features"))
        .arg(&events)
        .args(["-q", "-o"])
        .arg(&from_file)
        .assert()
        .success();

    // Features: the same table from the file and from the cluster, read
    // with one slice or three.
    let features_from_es = |slices: &str, out: &Path| {
        Command::new(bin("loglynx-features"))
            .args(["--from-es", &server.url, "--index", "auth-*", "--es-slices", slices])
            .args(["--es-page-size", "700", "-q", "-o"])
            .arg(out)
            .assert()
            .success();
    };
    let one = dir.path().join("f-es1.parquet");
    let three = dir.path().join("f-es3.parquet");
    features_from_es("1", &one);
    features_from_es("3", &three);
    let file_table = std::fs::read(&from_file).unwrap();
    assert!(
        std::fs::read(&one).unwrap() == file_table,
        "one slice gives the file's features"
    );
    assert!(
        std::fs::read(&three).unwrap() == file_table,
        "three slices give the file's features"
    );

    // Alerts: the same as scoring the events file, evidence named es:INDEX.
    let a_file = dir.path().join("a-file.ndjson");
    let a_es = dir.path().join("a-es.ndjson");
    Command::new(bin("loglynx-score"))
        .arg(&events)
        .args(["-q", "-o"])
        .arg(&a_file)
        .assert()
        .code(0);
    Command::new(bin("loglynx-score"))
        .args(["--from-es", &server.url, "--index", "auth-events", "-q", "-o"])
        .arg(&a_es)
        .args(["--to-es", &server.url, "--alerts-index", "llx-from-es"])
        .assert()
        .code(0);
    assert_eq!(
        count(&server.url, "llx-from-es"),
        alerts_in(&a_es).len() as u64,
        "read from and written to the cluster"
    );
    let file_text = std::fs::read_to_string(&a_file).unwrap();
    let es_text = std::fs::read_to_string(&a_es).unwrap();
    assert!(!file_text.is_empty());
    assert!(es_text.contains("\"es:auth-events\""), "evidence names the index");
    assert_eq!(
        es_text.replace(
            "\"es:auth-events\"",
            &serde_json::to_string(&events.display().to_string()).unwrap()
        ),
        file_text
    );

    // A time range and a query narrow what is read.
    let query = dir.path().join("q.json");
    std::fs::write(&query, r#"{"term": {"event.outcome": "failure"}}"#).unwrap();
    let narrowed = dir.path().join("e-narrow.ndjson");
    Command::new(bin("loglynx-features"))
        .args(["--from-es", &server.url, "--index", "auth-events", "--query"])
        .arg(&query)
        .args([
            "--since",
            "2026-03-03T00:00:00Z",
            "--until",
            "2026-03-04T00:00:00Z",
            "-q",
            "-o",
        ])
        .arg(dir.path().join("f-narrow.parquet"))
        .arg("--events-out")
        .arg(&narrowed)
        .assert()
        .success();
    let kept = alerts_in(&narrowed);
    assert!(!kept.is_empty());
    assert!(alerts_in(&events).len() > kept.len());
    for e in &kept {
        assert_eq!(e["event"]["outcome"], "failure", "{e}");
        let t = e["@timestamp"].as_str().unwrap();
        assert!(t.starts_with("2026-03-03"), "{t}");
    }

    // Training reads the cluster the same way.
    Command::new(bin("loglynx-train"))
        .args(["--from-es", &server.url, "--index", "auth-events", "-q", "-o"])
        .arg(dir.path().join("m.llx"))
        .assert()
        .success();
}

#[test]
fn elasticsearch_point_in_time_is_opened_read_and_closed_also_after_an_error() {
    let cluster = |fail_search: bool| {
        fake_cluster(move |_, method, path, _| Some(elasticsearch_answer(method, path, fail_search)))
    };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.ndjson");
    let (url, seen) = cluster(false);
    Command::new(bin("loglynx-features"))
        .args(["--from-es", &url, "--index", "auth", "--es-slices", "1", "-q", "-o"])
        .arg(dir.path().join("f.parquet"))
        .arg("--events-out")
        .arg(&events)
        .assert()
        .success();
    assert_eq!(alerts_in(&events).len(), 2);
    assert_eq!(
        seen.lock().unwrap().clone(),
        [
            "GET /",
            "POST /auth/_pit?keep_alive=5m",
            "POST /_search",
            "DELETE /_pit"
        ]
    );

    let (url, seen) = cluster(true);
    let a = Command::new(bin("loglynx-features"))
        .args(["--from-es", &url, "--index", "auth", "--es-slices", "1", "-q", "-o"])
        .arg(dir.path().join("f2.parquet"))
        .assert()
        .code(2);
    let stderr = stderr_of(&a);
    assert!(stderr.contains("--from-es") && stderr.contains("HTTP 400"), "{stderr}");
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        "DELETE /_pit",
        "closed after the error"
    );
}

/// Reads one HTTP request (method, path, body) from any stream.
/// One HTTP request as a fake cluster reads it.
struct Request {
    method: String,
    path: String,
    /// The header lines.
    head: String,
    body: String,
}

fn read_request_from(stream: impl Read) -> Option<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
        head.push_str(&h);
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Answers with `status` and a JSON `body`, and closes.
fn respond(mut w: impl Write, status: u16, body: &str) {
    let _ = write!(
        w,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// What a fake Elasticsearch answers: its version, a point in time on
/// index `auth`, one page of two sshd failures (or 400 with
/// `fail_search`), and the point in time closed.
fn elasticsearch_answer(method: &str, path: &str, fail_search: bool) -> (u16, String) {
    let doc = r#"{"@timestamp":"2026-03-02T10:00:00Z","host":{"name":"web-01"},"process":{"name":"sshd","pid":811},"message":"Failed password for root from 203.0.113.9 port 4711 ssh2"}"#;
    match (method, path) {
        ("GET", "/") => (
            200,
            r#"{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}"#.into(),
        ),
        ("POST", p) if p.starts_with("/auth/_pit") => (200, r#"{"id":"PIT-1"}"#.into()),
        ("POST", "/_search") if fail_search => (400, r#"{"error":"bad query"}"#.into()),
        ("POST", "/_search") => (
            200,
            format!(
                r#"{{"pit_id":"PIT-1","hits":{{"hits":[{{"_source":{doc},"sort":[1,0]}},{{"_source":{doc},"sort":[1,1]}}]}}}}"#
            ),
        ),
        ("DELETE", "/_pit") => (200, r#"{"succeeded":true}"#.into()),
        _ => (404, "{}".into()),
    }
}

/// A fake Elasticsearch over TLS with a certificate made now for
/// 127.0.0.1: returns its URL and the certificate (PEM).
fn fake_tls_cluster() -> (String, String) {
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            // A client that refuses the certificate ends the handshake here.
            let Some(r) = read_request_from(&mut tls) else {
                continue;
            };
            let (status, body) = elasticsearch_answer(&r.method, &r.path, false);
            respond(&mut tls, status, &body);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (url, cert.pem())
}

#[test]
fn tls_certificates_are_verified_unless_insecure_is_asked_for_loudly() {
    let (url, pem) = fake_tls_cluster();
    let dir = tempfile::tempdir().unwrap();
    let read = |extra: &[&str]| {
        Command::new(bin("loglynx-features"))
            .args([
                "--from-es",
                &url,
                "--index",
                "auth",
                "--es-slices",
                "1",
                "--es-retries",
                "0",
                "-o",
            ])
            .arg(dir.path().join("f.parquet"))
            .args(extra)
            .assert()
    };
    // An unknown issuer: refused, nothing read.
    let refused = read(&[]).code(2);
    let stderr = stderr_of(&refused);
    assert!(stderr.to_ascii_lowercase().contains("certificate"), "{stderr}");

    // Trusted through --es-ca-file.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let trusted = read(&["--es-ca-file", ca.to_str().unwrap()]).success();
    assert!(!stderr_of(&trusted).contains("NOT verified"));

    // --insecure reads, and says so.
    let insecure = read(&["--insecure"]).success();
    let stderr = stderr_of(&insecure);
    assert!(stderr.contains("NOT verified"), "{stderr}");
}
