//! `loglynx-features` end to end: malformed input of every kind, input
//! forms (globs, gzip, stdin), outputs, exit codes and a golden feature table.

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use loglynx_tests::{assert_golden, bin};

fn features() -> Command {
    Command::new(bin("loglynx-features"))
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(str::to_owned).collect();
    let rows = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    (header, rows)
}

fn cell<'a>(header: &[String], rows: &'a [Vec<String>], kind: &str, entity: &str, col: &str) -> Vec<&'a str> {
    let c = header
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col}"));
    rows.iter()
        .filter(|r| r[0] == kind && r[1] == entity)
        .map(|r| r[c].as_str())
        .collect()
}

const SSH: &str = "Mar  3 04:05:06 web1 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2";

#[test]
fn crlf_and_missing_final_newline_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{SSH}\r\n{SSH}\r\n{SSH}")).unwrap();
    let out = dir.path().join("f.csv");
    features()
        .arg(&log)
        .args(["--year", "2024", "-o"])
        .arg(&out)
        .assert()
        .success();
    let (h, rows) = read_csv(&out);
    assert_eq!(cell(&h, &rows, "source_ip", "203.0.113.9", "failures"), vec!["3"]);
    assert_eq!(cell(&h, &rows, "user", "root", "events"), vec!["3"]);
}

#[test]
fn invalid_utf8_truncated_and_garbage_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut f = std::fs::File::create(&log).unwrap();
    f.write_all(SSH.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
    // Invalid UTF-8 inside the user name: replaced, still an event.
    f.write_all(b"Mar  3 04:05:07 web1 sshd[812]: Failed password for r\xffot from 203.0.113.9 port 4712 ssh2\n")
        .unwrap();
    f.write_all(b"complete garbage that is not syslog\n").unwrap();
    f.write_all(b"Feb 30 04:05:08 web1 sshd[813]: Failed password for root from 203.0.113.9 port 1 ssh2\n")
        .unwrap();
    f.write_all(b"\n\n").unwrap();
    f.write_all(b"Mar  3 04:05:").unwrap(); // truncated last line
    drop(f);
    let out = dir.path().join("f.csv");
    let assert = features()
        .arg(&log)
        .args(["--year", "2024", "-o"])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("invalid-utf8"), "{stderr}");
    assert!(stderr.contains("bad-timestamp"), "{stderr}");
    assert!(
        stderr.contains("auth.log:4"),
        "first example of the bad timestamp is named: {stderr}"
    );
    let (h, rows) = read_csv(&out);
    assert_eq!(cell(&h, &rows, "source_ip", "203.0.113.9", "failures"), vec!["2"]);

    // --strict turns malformed lines into exit code 2, and still writes the output.
    std::fs::remove_file(&out).unwrap();
    features()
        .arg(&log)
        .args(["--year", "2024", "--strict", "-o"])
        .arg(&out)
        .assert()
        .code(2);
    assert!(out.exists());
}

#[test]
fn a_missing_input_is_reported_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{SSH}\n")).unwrap();
    let out = dir.path().join("f.csv");
    let assert = features()
        .arg(&log)
        .arg(dir.path().join("nope.log"))
        .args(["--year", "2024", "-o"])
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("nope.log: no such file"), "{stderr}");
    let (h, rows) = read_csv(&out);
    assert_eq!(cell(&h, &rows, "host", "web1", "events"), vec!["1"]);
}

#[test]
fn globs_gzip_and_stdin_read_the_same_events() {
    use flate2::write::GzEncoder;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), format!("{SSH}\n")).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("{SSH}\n{SSH}\n").as_bytes()).unwrap();
    std::fs::write(dir.path().join("b.log.gz"), gz.finish().unwrap()).unwrap();
    let out = dir.path().join("f.csv");
    features()
        .arg(format!("{}/*.log*", dir.path().display()))
        .args(["--year", "2024", "-o"])
        .arg(&out)
        .assert()
        .success();
    let (h, rows) = read_csv(&out);
    assert_eq!(cell(&h, &rows, "source_ip", "203.0.113.9", "failures"), vec!["3"]);

    let out2 = dir.path().join("g.csv");
    features()
        .arg("-")
        .args(["--year", "2024", "--format", "syslog", "-o"])
        .arg(&out2)
        .write_stdin(format!("{SSH}\n{SSH}\n"))
        .assert()
        .success();
    let (h, rows) = read_csv(&out2);
    assert_eq!(cell(&h, &rows, "source_ip", "203.0.113.9", "failures"), vec!["2"]);
}

#[test]
fn december_to_january_roll_over_with_year() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "Dec 31 23:59:58 h sshd[1]: Failed password for bob from 198.51.100.1 port 1 ssh2\n\
         Jan  1 00:00:01 h sshd[2]: Failed password for bob from 198.51.100.1 port 2 ssh2\n",
    )
    .unwrap();
    let out = dir.path().join("f.csv");
    features()
        .arg(&log)
        .args(["--year", "2023", "-o"])
        .arg(&out)
        .assert()
        .success();
    let (h, rows) = read_csv(&out);
    let starts = cell(&h, &rows, "user", "bob", "window_start");
    assert_eq!(starts, vec!["2023-12-31T23:00:00Z", "2024-01-01T00:00:00Z"]);
}

#[test]
fn attacker_controlled_names_cannot_inject_csv_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "Mar  3 04:05:06 web1 sshd[811]: Invalid user =HYPERLINK(\"http://x\") from 203.0.113.9 port 4711\n",
    )
    .unwrap();
    let out = dir.path().join("f.csv");
    features()
        .arg(&log)
        .args(["--year", "2024", "-o"])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
}

/// `--year 300000` overflowed the microsecond timestamp (a panic in debug
/// builds, wrapped times in release): years outside 1..=9999 are refused,
/// as in `loglynx-score` and `loglynx-train`.
#[test]
fn year_out_of_range_is_refused_not_overflowed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{SSH}\n")).unwrap();
    for year in ["300000", "2147483647", "0", "-5"] {
        let assert = features()
            .arg(&log)
            .arg(format!("--year={year}"))
            .args(["-o", "out.csv"])
            .current_dir(dir.path())
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains("--year") && !stderr.contains("panicked"), "{stderr}");
    }
    for bin_name in ["loglynx-score", "loglynx-train"] {
        let assert = Command::new(bin(bin_name))
            .arg(&log)
            .args(["--year", "300000"])
            .current_dir(dir.path())
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(
            stderr.contains("--year") && !stderr.contains("panicked"),
            "{bin_name}: {stderr}"
        );
    }
}

#[test]
fn unknown_output_extension_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{SSH}\n")).unwrap();
    let assert = features()
        .arg(&log)
        .args(["-o", "out.xlsx"])
        .current_dir(dir.path())
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("out.xlsx"), "{stderr}");
}

#[test]
fn parquet_output_is_readable_and_matches_csv() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, format!("{SSH}\n{SSH}\n")).unwrap();
    let pq = dir.path().join("f.parquet");
    let events = dir.path().join("events.parquet");
    features()
        .arg(&log)
        .args(["--year", "2024", "-o"])
        .arg(&pq)
        .arg("--events-out")
        .arg(&events)
        .assert()
        .success();
    let df = ParquetReader::new(std::fs::File::open(&pq).unwrap()).finish().unwrap();
    assert_eq!(df.height(), 3); // one user, one source, one host window
    let failures = df.column("failures").unwrap().f64().unwrap().clone();
    assert_eq!(failures.iter().flatten().collect::<Vec<_>>(), vec![2.0, 2.0, 2.0]);
    let ev = ParquetReader::new(std::fs::File::open(&events).unwrap())
        .finish()
        .unwrap();
    assert_eq!(ev.height(), 2);
    assert!(ev.column("event.action").is_ok());
}

#[test]
fn golden_features_of_a_small_generated_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gen.log");
    Command::new(bin("loglynx-gen"))
        .args(["--events", "3000", "--days", "2", "--seed", "7", "--quiet", "-o"])
        .arg(&log)
        .assert()
        .success();
    let out = dir.path().join("f.csv");
    features()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_golden("features_seed7.csv", &std::fs::read_to_string(&out).unwrap());
}

/// Features of `log` read in blocks of `block_size` bytes on a pool of
/// `threads` threads (the aggregation state has four shards per thread).
fn features_with(log: &Path, block_size: usize, threads: usize) -> loglynx_features::aggregate::FeatureTable {
    use loglynx_features::aggregate::FeatureConfig;
    use loglynx_features::ingest::input::Source;
    use loglynx_features::ingest::pipeline::{self, RunConfig};
    let mut cfg = RunConfig::new(FeatureConfig::default().check().unwrap());
    cfg.year = Some(2026);
    cfg.block_size = block_size;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let result = pool
        .install(|| pipeline::run(&[Source::File(log.to_path_buf())], &cfg, |_| Ok(()), &|_| ()))
        .unwrap();
    result.aggregator.finish()
}

/// The rows of a feature table, with values as bits (NaN marks a feature
/// that does not apply, and NaN != NaN).
fn rows(t: &loglynx_features::aggregate::FeatureTable) -> Vec<(String, String, i64, Vec<u64>)> {
    (0..t.len())
        .map(|i| {
            let values = t.columns.iter().map(|c| c[i].to_bits()).collect();
            (
                t.kinds[i].to_string(),
                t.entities[i].to_string(),
                t.window_starts[i],
                values,
            )
        })
        .collect()
}

#[test]
fn features_do_not_depend_on_block_size_or_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gen.log");
    let cfg = loglynx_datasets::GeneratorConfig {
        events: 20_000,
        days: Some(3),
        seed: 11,
        ..Default::default()
    };
    let mut out = std::fs::File::create(&log).unwrap();
    loglynx_datasets::generate(&cfg, loglynx_datasets::OutputFormat::Syslog, &mut out).unwrap();
    drop(out);
    let whole = rows(&features_with(&log, 64 << 20, 2));
    assert!(whole.len() > 1000, "{} rows", whole.len());
    // 1 KiB blocks: hundreds of batches, each entity's events spread over
    // many of them and, with one thread, over four shards instead of eight.
    assert!(rows(&features_with(&log, 1024, 1)) == whole);
    assert!(rows(&features_with(&log, 1024, 2)) == whole);
    assert!(rows(&features_with(&log, 64 << 20, 3)) == whole);
}

#[test]
fn audit_and_journald_inputs_are_detected_and_kernel_records_are_not_malformed() {
    let dir = tempfile::tempdir().unwrap();
    // The OTRF kernel records, then five failed PAM authentications.
    let mut audit = std::fs::read_to_string(loglynx_tests::shared(
        "otrf/sh_arp_cache/sh_arp_cache_2020-11-10074812.log",
    ))
    .unwrap();
    for i in 0..5 {
        audit.push_str(&format!(
            "node=web1 type=USER_AUTH msg=audit(1604994500.{i}00:{}): pid={} uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=failed'\n",
            93000 + i,
            4000 + i
        ));
    }
    let log = dir.path().join("audit.log");
    std::fs::write(&log, audit).unwrap();
    let out = dir.path().join("f.csv");
    let assert = features()
        .arg(&log)
        .arg("--strict")
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("not-auth: 12"), "{stderr}");
    assert!(stderr.contains("SYSCALL"), "{stderr}");
    let (h, rows) = read_csv(&out);
    assert_eq!(cell(&h, &rows, "source_ip", "203.0.113.9", "failures"), vec!["5"]);
    assert_eq!(cell(&h, &rows, "host", "web1", "failures"), vec!["5"]);

    // journald JSON under a name that says nothing, and forced by name.
    let journal = dir.path().join("journal.txt");
    let entry = |i: u32| {
        format!(
            "{{\"__REALTIME_TIMESTAMP\":\"17094387060{i}0000\",\"_HOSTNAME\":\"web1\",\"SYSLOG_IDENTIFIER\":\"sshd\",\"_PID\":\"{}\",\"MESSAGE\":\"Failed password for root from 203.0.113.9 port 4711 ssh2\"}}\n",
            800 + i
        )
    };
    std::fs::write(&journal, (0..3).map(entry).collect::<String>()).unwrap();
    for format in [None, Some("journald")] {
        let mut cmd = features();
        cmd.arg(&journal).arg("-o").arg(&out);
        if let Some(f) = format {
            cmd.args(["--format", f]);
        }
        cmd.assert().success();
        let (h, rows) = read_csv(&out);
        assert_eq!(
            cell(&h, &rows, "source_ip", "203.0.113.9", "failures"),
            vec!["3"],
            "{format:?}"
        );
    }
    // Forced to the wrong format, every line is malformed, never an event.
    let assert = features()
        .arg(&journal)
        .args(["--format", "audit", "-o"])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("malformed: 3"), "{stderr}");
}

/// The stage binaries allocate with jemalloc and read its options: with
/// glibc's malloc their peak RSS sat 200–300 MiB above the live heap
/// (issue 19). `stats_print` makes jemalloc print its options at exit.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[test]
fn the_stage_binaries_allocate_with_jemalloc_and_read_its_options() {
    for name in ["loglynx-features", "loglynx-score", "loglynx-train"] {
        let out = std::process::Command::new(bin(name))
            .arg("--version")
            .env("_RJEM_MALLOC_CONF", "stats_print:true")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for option in [
            "opt.background_thread: true",
            "opt.dirty_decay_ms: 1000",
            "opt.muzzy_decay_ms: 0",
        ] {
            assert!(stderr.contains(option), "{name} lacks {option}: {stderr}");
        }
    }
}

#[test]
fn events_written_with_events_out_read_back_give_the_same_feature_table() {
    // Regression: the attempts of an events file read back were counted
    // as whole attempts (the record of the attempt each line is was not
    // written), so features from `--events-out` differed from the log's.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    Command::new(bin("loglynx-gen"))
        .args(["--events", "20000", "--seed", "9", "-q", "-o"])
        .arg(&log)
        .assert()
        .success();
    let (from_log, events, from_events) = (
        dir.path().join("a.parquet"),
        dir.path().join("e.ndjson"),
        dir.path().join("b.parquet"),
    );
    features()
        .arg(&log)
        .args(["--year", "2026", "-q", "-o"])
        .arg(&from_log)
        .arg("--events-out")
        .arg(&events)
        .assert()
        .success();
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(text.contains(r#""attempt_line":"opening""#) && text.contains(r#""attempts":0"#));
    features()
        .arg(&events)
        .args(["-q", "-o"])
        .arg(&from_events)
        .assert()
        .success();
    assert!(
        std::fs::read(&from_log).unwrap() == std::fs::read(&from_events).unwrap(),
        "the feature tables differ"
    );
}
