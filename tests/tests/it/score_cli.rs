//! `loglynx-score` end to end: detection of generated campaigns against a
//! naive detector, brute force on real OpenSSH logs against an independent
//! count, model files that must be refused, exit codes and golden alerts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use loglynx_tests::{assert_golden, bin, shared};

fn score() -> Command {
    Command::new(bin("loglynx-score"))
}

/// A generated log and its labels in `dir` (`gen-SEED.log`).
pub(super) fn generate(dir: &Path, events: u32, seed: u32, extra: &[&str]) -> (PathBuf, PathBuf) {
    let log = dir.join(format!("gen-{seed}.log"));
    let labels = dir.join(format!("gen-{seed}.labels.jsonl"));
    Command::new(bin("loglynx-gen"))
        .args([
            "--events",
            &events.to_string(),
            "--seed",
            &seed.to_string(),
            "--quiet",
            "-o",
        ])
        .arg(&log)
        .arg("--labels")
        .arg(&labels)
        .args(extra)
        .assert()
        .success();
    (log, labels)
}

/// Trains `model` on the log at `log` (year 2026).
fn train_on(log: &Path, model: &Path) {
    Command::new(bin("loglynx-train"))
        .arg(log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(model)
        .assert()
        .success();
}

fn read_alerts(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The smallest `k` with P(X <= k) >= 0.999 for X ~ Poisson(`mean`).
fn poisson_999(mean: f64) -> u64 {
    let (mut p, mut total, mut k) = ((-mean).exp(), 0.0, 0);
    loop {
        total += p;
        if total >= 0.999 {
            return k;
        }
        k += 1;
        p *= mean / k as f64;
    }
}

/// Every malicious campaign detected as its kind, no benign pattern
/// alerted, false alerts of the rules at most 15% of the naive detector's,
/// and false alerts raised by the baseline's evidence within what the alert
/// budget expects on the input (a Poisson count of that mean, at its 99.9%
/// quantile).
/// `loglynx-score LOG --year 2026 --quiet EXTRA… -o ALERTS --labels LABELS
/// --eval-out EVAL`, which must succeed.
pub(super) fn score_with_labels(
    log: &Path,
    labels: &Path,
    alerts: &Path,
    eval: &Path,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    score()
        .arg(log)
        .args(["--year", "2026", "--quiet"])
        .args(extra)
        .arg("-o")
        .arg(alerts)
        .arg("--labels")
        .arg(labels)
        .arg("--eval-out")
        .arg(eval)
        .assert()
        .success()
}

fn assert_good_evaluation(eval: &Path, what: &str) {
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(eval).unwrap()).unwrap();
    for c in e["loglynx"]["campaigns"].as_array().unwrap() {
        if c["malicious"].as_bool().unwrap() {
            assert!(
                c["detected_as_kind"].as_bool().unwrap(),
                "{what}: not detected as its kind: {c}"
            );
        } else {
            assert!(!c["alerted"].as_bool().unwrap(), "{what}: benign pattern alerted: {c}");
        }
    }
    let ours = e["loglynx"]["false_alerts"].as_u64().unwrap();
    // Each alert's truth, as a simulated analyst's verdicts read it.
    let truth = e["alert_truth"].as_array().unwrap();
    assert_eq!(truth.len() as u64, e["loglynx"]["alerts"].as_u64().unwrap(), "{what}");
    let count = |t: &str| truth.iter().filter(|a| a["truth"] == t).count() as u64;
    assert_eq!(count("true"), e["loglynx"]["true_alerts"].as_u64().unwrap(), "{what}");
    assert_eq!(count("benign") + count("unmatched"), ours, "{what}");
    let model = e["model_false_alerts"].as_u64().unwrap();
    let naive = e["naive"]["false_alerts"].as_u64().unwrap();
    assert!(naive > 0, "{what}: the naive detector should trip on the noisy scripts");
    assert!(
        (ours - model) as f64 <= 0.15 * naive as f64,
        "{what}: {} false alerts of the rules vs naive {naive}",
        ours - model
    );
    let allowance = e["model_alert_allowance"].as_f64().unwrap();
    assert!(allowance > 0.0, "{what}: no allowance");
    assert!(
        model <= poisson_999(allowance),
        "{what}: {model} false alerts of the model, the budget expects {allowance:.2}"
    );
    assert!(e["loglynx"]["recall"].as_f64().unwrap() >= e["naive"]["recall"].as_f64().unwrap());
}

#[test]
fn generated_campaigns_are_detected_with_far_fewer_false_alerts_than_a_naive_detector() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [3, 8] {
        let (log, labels) = generate(dir.path(), 100_000, seed, &[]);
        let eval = dir.path().join(format!("eval-{seed}.json"));
        score_with_labels(&log, &labels, &dir.path().join("alerts.ndjson"), &eval, &[]);
        assert_good_evaluation(&eval, &format!("seed {seed}"));
    }
}

/// Source addresses with at least 5 failed password attempts within 10
/// minutes against one host, counted from loghub's structured CSV
/// (templates E9, E10 and E14 `message repeated N times`), not by loglynx.
fn openssh_brute_force_sources_from_templates() -> BTreeSet<String> {
    let text = std::fs::read_to_string(shared("loghub/OpenSSH/OpenSSH_2k.log_structured.csv")).unwrap();
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields = loglynx_tests::split_csv_line(line);
        assert!(fields.len() >= 9, "line {}: {line}", i + 1);
        let (day, time, content, event) = (&fields[2], &fields[3], &fields[6], &fields[7]);
        let repeat = match event.as_str() {
            "E9" | "E10" => 1,
            "E14" => content
                .strip_prefix("message repeated ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap(),
            _ => continue,
        };
        let ip = content
            .split(" from ")
            .last()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        let hms: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
        let t = day.parse::<i64>().unwrap() * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
        for _ in 0..repeat {
            times.entry(ip.clone()).or_default().push(t);
        }
    }
    let mut out = BTreeSet::new();
    for (ip, mut ts) in times {
        ts.sort_unstable();
        let mut start = 0;
        for end in 0..ts.len() {
            while ts[end] - ts[start] > 600 {
                start += 1;
            }
            if end + 1 - start >= 5 {
                out.insert(ip.clone());
                break;
            }
        }
    }
    out
}

#[test]
fn openssh_brute_force_alerts_name_exactly_the_sources_above_threshold() {
    let expected = openssh_brute_force_sources_from_templates();
    assert!(expected.len() >= 5, "{expected:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.ndjson");
    score()
        .arg(shared("loghub/OpenSSH/OpenSSH_2k.log"))
        .args(["--year", "2025", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .success();
    let found: BTreeSet<String> = read_alerts(&out)
        .iter()
        .filter(|a| a["rule_ids"].as_array().unwrap().iter().any(|r| r == "LLX-SSH-001"))
        .flat_map(|a| {
            a["source_ips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn corrupt_incompatible_or_missing_models_are_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 5_000, 1, &["--days", "2"]);
    let model = dir.path().join("base.llx");
    train_on(&log, &model);
    // The good model scores.
    score()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.path().join("a.ndjson"))
        .arg("--model")
        .arg(&model)
        .assert()
        .success();
    let bytes = std::fs::read(&model).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let i = b.len() - 10;
                b[i] ^= 0xff;
                b
            },
            "checksum",
        ),
        ("truncated", bytes[..bytes.len() / 2].to_vec(), "truncated"),
        (
            "magic",
            {
                let mut b = bytes.clone();
                b[0] = b'X';
                b
            },
            "not a loglynx model",
        ),
        (
            "newer",
            {
                let mut b = bytes.clone();
                b[8] = 99;
                b
            },
            "newer",
        ),
        (
            "older",
            {
                // Format version 1: the untyped bundle before the typed baseline.
                let mut b = bytes.clone();
                b[8] = 1;
                b
            },
            "format version 1, this build reads version 8; retrain",
        ),
    ];
    for (name, content, needle) in cases {
        let p = dir.path().join(format!("{name}.llx"));
        std::fs::write(&p, content).unwrap();
        let assert = score()
            .arg(&log)
            .args(["--year", "2026", "--quiet", "-o"])
            .arg(dir.path().join("x.ndjson"))
            .arg("--model")
            .arg(&p)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_lowercase();
        assert!(stderr.contains(needle), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}.llx")),
            "{name}: the message names the file: {stderr}"
        );
    }
    let assert = score()
        .arg(&log)
        .args(["--quiet", "--model"])
        .arg(dir.path().join("missing.llx"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&assert.get_output().stderr).contains("missing.llx"));
}

#[test]
fn a_model_trained_in_berlin_scores_with_berlin_business_hours_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 5_000, 3, &["--days", "2"]);
    let model = dir.path().join("berlin.llx");
    Command::new(bin("loglynx-train"))
        .arg(&log)
        .args(["--year", "2026", "--quiet", "--time-zone", "Europe/Berlin", "-o"])
        .arg(&model)
        .assert()
        .success();
    let scored = |extra: &[&str]| {
        score()
            .arg(&log)
            .args(["--year", "2026", "-o"])
            .arg(dir.path().join("alerts.ndjson"))
            .arg("--model")
            .arg(&model)
            .args(extra)
            .assert()
    };
    let stderr = |a: &assert_cmd::assert::Assert| String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    let plain = scored(&[]).success();
    let text = stderr(&plain);
    assert!(
        text.contains("business hours 8–18 in Europe/Berlin (from the model)"),
        "{text}"
    );
    // Repeating the model's zone is fine; another zone or window is refused.
    scored(&["--time-zone", "Europe/Berlin"]).success();
    let utc = scored(&["--time-zone", "UTC"]).code(2);
    let text = stderr(&utc);
    assert!(
        text.contains("--time-zone UTC") && text.contains("Europe/Berlin"),
        "{text}"
    );
    let window = scored(&["--window-secs", "900"]).code(2);
    let text = stderr(&window);
    assert!(text.contains("--window-secs 900") && text.contains("3600 s"), "{text}");
    let card = Command::new(bin("loglynx-train"))
        .arg("inspect")
        .arg(&model)
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&card.get_output().stdout).contains("in Europe/Berlin"));
}

#[test]
fn fail_on_sets_exit_code_1_and_outputs_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 30_000, 5, &[]);
    let csv = dir.path().join("alerts.csv");
    let scores = dir.path().join("scores.parquet");
    score()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "--fail-on", "high", "-o"])
        .arg(&csv)
        .arg("--scores-out")
        .arg(&scores)
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("id,fingerprint,severity,risk_score,title"));
    assert!(text.lines().count() > 1);
    assert!(std::fs::metadata(&scores).unwrap().len() > 0);
    // A quiet period (no attacks, still scanners and noisy scripts) raises
    // nothing HIGH: exit 0.
    let (quiet, _) = generate(dir.path(), 30_000, 6, &["--no-attacks"]);
    score()
        .arg(&quiet)
        .args(["--year", "2026", "--quiet", "--fail-on", "high", "-o"])
        .arg(dir.path().join("quiet.ndjson"))
        .assert()
        .code(0);
}

#[test]
fn golden_alerts_of_a_small_generated_log() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 20_000, 7, &["--days", "7"]);
    let out = dir.path().join("alerts.ndjson");
    score()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .success();
    // Paths differ per run: keep file names only.
    let text = std::fs::read_to_string(&out)
        .unwrap()
        .replace(&format!("{}/", dir.path().display()), "");
    assert_golden("alerts_seed7.ndjson", &text);
}

#[test]
fn a_baseline_fitted_on_a_small_sample_of_the_input_still_explains_every_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let (log, labels) = generate(dir.path(), 20_000, 7, &["--days", "7"]);
    let alerts_of = |sample: &str| {
        let out = dir.path().join(format!("alerts-{sample}.ndjson"));
        let eval = dir.path().join(format!("eval-{sample}.json"));
        let assert = score_with_labels(&log, &labels, &out, &eval, &["--fit-sample", sample]);
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
        assert!(!stdout.contains("baseline skipped"), "{stdout}");
        let eval: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval).unwrap()).unwrap();
        let alerts: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (eval["loglynx"].clone(), alerts)
    };
    // 300 of the input's thousands of rows per kind: another model, the
    // same campaigns, still explained by the model's evidence.
    let (whole, whole_alerts) = alerts_of("262144");
    let (sampled, sampled_alerts) = alerts_of("300");
    assert_eq!(sampled["campaigns_alerted"], whole["campaigns_alerted"]);
    assert_eq!(sampled["campaigns_alerted"], sampled["malicious_campaigns"]);
    assert!(sampled["false_alerts"].as_u64().unwrap() <= whole["false_alerts"].as_u64().unwrap() + 1);
    let explained = |alerts: &[serde_json::Value]| {
        alerts
            .iter()
            .filter(|a| a["anomalies"].as_array().is_some_and(|x| !x.is_empty()))
            .count()
    };
    assert!(explained(&sampled_alerts) > 0);
    assert_ne!(sampled_alerts, whole_alerts, "the sample gives another model");
    // A sample too small to fit on is refused, not silently skipped.
    score_and_train_refuse(
        &log,
        dir.path(),
        None,
        &["--fit-sample", "1"],
        "--fit-sample 1: sample at least 2 rows per kind",
    );
}

/// `loglynx-score` and `loglynx-train` on `log` with `args` (and the
/// environment variable `env`) both exit 2 with `expected` on stderr and
/// write no output.
fn score_and_train_refuse(log: &Path, dir: &Path, env: Option<(&str, &Path)>, args: &[&str], expected: &str) {
    for (bin, out) in [(bin("loglynx-score"), "out.ndjson"), (bin("loglynx-train"), "out.llx")] {
        let mut cmd = Command::new(bin);
        if let Some((name, value)) = env {
            cmd.env(name, value);
        }
        let assert = cmd
            .arg(log)
            .args(["--year", "2026", "--quiet"])
            .args(args)
            .arg("-o")
            .arg(dir.join(out))
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!dir.join(out).exists());
    }
}

#[test]
fn rows_that_cannot_be_spooled_are_an_error_naming_the_temporary_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 2_000, 3, &[]);
    let missing = dir.path().join("no-such-dir");
    score_and_train_refuse(
        &log,
        dir.path(),
        Some(("TMPDIR", &missing)),
        &[],
        &format!("spooling feature rows in {}", missing.display()),
    );
}

#[test]
fn a_baseline_trained_on_a_quiet_period_keeps_new_term_history_and_detects_every_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let (quiet, _) = generate(dir.path(), 60_000, 4, &["--no-attacks", "--start", "2026-02-01"]);
    let model = dir.path().join("quiet.llx");
    train_on(&quiet, &model);
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.with_extension("card.json")).unwrap()).unwrap();
    assert!(
        card["history"]["user+source"].as_u64().unwrap() > 0,
        "{}",
        card["history"]
    );
    // Replayed through its own model, the baseline gives no more
    // model-driven alerts than the budget allows, kind by kind.
    let budget = &card["alert_budget"];
    let mut allowed = 0.0;
    for (kind, k) in budget["kinds"].as_object().unwrap() {
        let (replay, allow) = (
            k["replay_alerts"].as_u64().unwrap(),
            k["allowed_alerts"].as_f64().unwrap(),
        );
        assert!(
            replay as f64 <= allow,
            "{kind}: {replay} replay alerts, {allow} allowed"
        );
        allowed += allow.floor();
    }
    let replay = dir.path().join("replay.ndjson");
    score()
        .arg(&quiet)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(&replay)
        .arg("--model")
        .arg(&model)
        .assert()
        .success();
    let own = read_alerts(&replay)
        .iter()
        .filter(|a| a["rule_ids"].as_array().unwrap().iter().any(|r| r == "LLX-BASE-ACC"))
        .count();
    assert!(
        own as f64 <= allowed,
        "{own} model alerts replaying the baseline, {allowed} allowed"
    );
    let (log, labels) = generate(dir.path(), 60_000, 4, &[]);
    let eval = dir.path().join("eval.json");
    score()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.path().join("alerts.ndjson"))
        .arg("--model")
        .arg(&model)
        .arg("--labels")
        .arg(&labels)
        .arg("--eval-out")
        .arg(&eval)
        .assert()
        .success();
    assert_good_evaluation(&eval, "with a quiet-period model");
}

/// 5,000 failed root logins from 203.0.113.9, gzipped.
fn gzipped_brute_force() -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..5_000 {
        writeln!(
            enc,
            "Mar  3 04:05:{:02} web1 sshd[{i}]: Failed password for root from 203.0.113.9 port 4711 ssh2",
            i % 60
        )
        .unwrap();
    }
    enc.finish().unwrap()
}

#[test]
fn a_cut_gzip_too_short_to_score_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzipped_brute_force();
    let cut = dir.path().join("cut.log.gz");
    // A few lines survive: too few to fit a baseline on.
    std::fs::write(&cut, &gz[..200]).unwrap();
    let assert = score()
        .arg(&cut)
        .args(["--year", "2025", "--quiet", "-o"])
        .arg(dir.path().join("alerts.ndjson"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("cut.log.gz") && stderr.contains("could not be read in full"),
        "{stderr}"
    );
}

#[test]
fn unreadable_inputs_are_reported_and_the_rest_is_scored_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzipped_brute_force();
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let out = dir.path().join("alerts.ndjson");
    let assert = score()
        .arg(&cut)
        .arg(dir.path().join("missing.log"))
        .arg(shared("loghub/OpenSSH/OpenSSH_2k.log"))
        .args(["--year", "2025", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("missing.log") && stderr.contains("cut.log.gz"),
        "{stderr}"
    );
    let alerts = read_alerts(&out);
    // OpenSSH's attackers and the readable part of the cut file are both scored.
    let sources: BTreeSet<String> = alerts
        .iter()
        .flat_map(|a| {
            a["source_ips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        sources.contains("203.0.113.9") && sources.contains("183.62.140.253"),
        "{sources:?}"
    );
}

#[test]
fn a_generic_numeric_table_is_scored_against_the_model_trained_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("sessions.csv");
    let mut text = String::from("session,events,errors,share\n");
    for i in 0..600u32 {
        text.push_str(&format!("s{i},{},{},{}\n", 20 + i % 7, i % 3, f64::from(i % 10) / 10.0));
    }
    text.push_str("odd,900,400,0.5\n");
    std::fs::write(&table, text).unwrap();
    let model = dir.path().join("sessions.llx");
    Command::new(bin("loglynx-train"))
        .arg(&table)
        .args(["--id-column", "session", "--quiet", "--seed", "1", "-o"])
        .arg(&model)
        .assert()
        .success();
    let scores = dir.path().join("scores.csv");
    score()
        .arg(&table)
        .arg("--model")
        .arg(&model)
        .args(["--id-column", "session", "--quiet", "-o"])
        .arg(dir.path().join("alerts.ndjson"))
        .arg("--scores-out")
        .arg(&scores)
        .assert()
        .success();
    let text = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(text.lines().count(), 602, "header and one line per row");
    let odd = text.lines().find(|l| l.starts_with("table,odd,")).unwrap();
    assert!(odd.contains(",true,"), "{odd}");
    assert!(odd.contains("events = 900"), "{odd}");
    // Without --id-column the table is not recognised as one.
    score()
        .arg(&table)
        .arg("--model")
        .arg(&model)
        .args(["--quiet", "-o"])
        .arg(dir.path().join("alerts2.ndjson"))
        .assert()
        .code(2);
}

#[test]
fn scores_out_lists_every_entity_window_of_the_features_binary_once() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 20_000, 8, &[]);
    let features = dir.path().join("features.csv");
    Command::new(bin("loglynx-features"))
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(&features)
        .assert()
        .success();
    let keys = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
            .collect()
    };
    // loglynx-features writes windows as they close (by start), the scorer
    // by kind and entity: the same windows, each once.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let expected = sorted(keys(&features));
    assert!(expected.len() > 1000, "{}", expected.len());
    for name in ["scores.csv", "scores.ndjson"] {
        let scores = dir.path().join(name);
        score()
            .arg(&log)
            .args(["--year", "2026", "--quiet", "-o"])
            .arg(dir.path().join("alerts.ndjson"))
            .arg("--scores-out")
            .arg(&scores)
            .assert()
            .success();
        if name.ends_with(".csv") {
            assert_eq!(sorted(keys(&scores)), expected);
        } else {
            let rows: Vec<String> = std::fs::read_to_string(&scores)
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    ["entity_kind", "entity", "window_start", "window_end"]
                        .map(|k| v[k].as_str().unwrap().to_owned())
                        .join(",")
                })
                .collect();
            assert_eq!(sorted(rows), expected);
        }
    }
}

/// Sources in loghub's full `Linux.log` with at least 5 PAM `authentication
/// failure` lines (sshd writes nothing else there) within 10 minutes,
/// counted here from the text, not by loglynx.
fn linux_log_pam_brute_force_sources() -> BTreeSet<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let text = std::fs::read(shared("loghub-full/Linux.log")).unwrap();
    let text = String::from_utf8_lossy(&text);
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for line in text.lines() {
        let Some((_, kvs)) = line.split_once("sshd(pam_unix)") else {
            continue;
        };
        let n = if kvs.contains("]: authentication failure;") {
            1
        } else {
            match kvs
                .split_once("]: ")
                .and_then(|(_, m)| m.split_once(" more authentication failure"))
            {
                Some((n, _)) => n.parse::<usize>().unwrap(),
                None => continue,
            }
        };
        let Some(rhost) = kvs.split(' ').find_map(|w| w.strip_prefix("rhost=")) else {
            continue;
        };
        if rhost.is_empty() {
            continue;
        }
        let month = MONTHS.iter().position(|m| line.starts_with(m)).unwrap() as i64;
        // June 2005 to February 2006.
        let month = if month < 5 { month + 12 } else { month };
        let day: i64 = line[4..6].trim().parse().unwrap();
        let hms: Vec<i64> = line[7..15].split(':').map(|x| x.parse().unwrap()).collect();
        let t = ((month * 31 + day) * 24 + hms[0]) * 3600 + hms[1] * 60 + hms[2];
        times
            .entry(rhost.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(t, n));
    }
    let mut out = BTreeSet::new();
    for (source, mut ts) in times {
        ts.sort_unstable();
        if ts.windows(5).any(|w| w[4] - w[0] <= 600) {
            out.insert(source);
        }
    }
    out
}

#[test]
fn every_pam_only_brute_force_source_in_linux_log_is_named_in_an_alert() {
    let expected = linux_log_pam_brute_force_sources();
    assert!(expected.len() >= 200, "{} sources", expected.len());
    assert!(expected.contains("219.150.28.34"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.ndjson");
    score()
        .arg(shared("loghub-full/Linux.log"))
        .args(["--year", "2005", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .success();
    let named: BTreeSet<String> = read_alerts(&out)
        .iter()
        .flat_map(|a| {
            let ips = a["source_ips"].as_array().cloned().unwrap_or_default();
            let sources = a["sources"].as_array().cloned().unwrap_or_default();
            ips.into_iter()
                .chain(sources)
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    let missing: Vec<&String> = expected.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "{} of {} sources in no alert: {missing:?}",
        missing.len(),
        expected.len()
    );
}

#[test]
fn an_attempt_logged_by_pam_and_by_sshd_counts_once() {
    // Four attempts, each logged by PAM and by sshd (same pid): 4 attempts,
    // under the brute-force threshold of 5; a fifth makes an alert of 5.
    let attempt = |i: u32| {
        format!(
            "Mar  3 10:0{i}:00 web-01 sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50  user=root\n\
             Mar  3 10:0{i}:02 web-01 sshd[{pid}]: Failed password for root from 203.0.113.50 port {port} ssh2\n",
            pid = 3000 + i,
            port = 40000 + i
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |attempts: u32| {
        let log = dir.path().join(format!("pairs{attempts}.log"));
        std::fs::write(&log, (0..attempts).map(attempt).collect::<String>()).unwrap();
        let out = dir.path().join(format!("alerts{attempts}.ndjson"));
        score()
            .arg(&log)
            .args(["--year", "2024", "--quiet", "-o"])
            .arg(&out)
            .assert()
            .success();
        read_alerts(&out)
    };
    assert!(run(4).is_empty());
    let alerts = run(5);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let text = alerts[0].to_string();
    assert!(text.contains("5 failed logins"), "{text}");
}

/// Six failed logins from 203.0.113.50 within 3 seconds, each for the
/// invalid user `user(i)`.
fn six_failed_logins(user: impl Fn(usize) -> String) -> String {
    (0..6)
        .map(|i| {
            format!(
                "Mar  3 04:05:{:02} web1 sshd[{}]: Failed password for invalid user {} from 203.0.113.50 port {} ssh2\n",
                i / 2,
                811 + i,
                user(i),
                53502 + i
            )
        })
        .collect()
}

#[test]
fn without_a_model_a_log_too_small_for_a_baseline_is_scored_by_the_rules_alone() {
    let dir = tempfile::tempdir().unwrap();
    // One name: every entity kind has one window, too few for any baseline.
    // Six names: the user kind is fitted, source and host are not.
    let cases = [
        (
            "one-name",
            six_failed_logins(|_| "admin".into()),
            "baseline skipped: 3 entity-window rows",
        ),
        (
            "six-names",
            six_failed_logins(|i| format!("guest{i}")),
            "baseline not fitted for source_ip (1 row), host (1 row)",
        ),
    ];
    for (name, text, note) in cases {
        let log = dir.path().join(format!("{name}.log"));
        std::fs::write(&log, text).unwrap();
        let out = dir.path().join(format!("{name}.ndjson"));
        let scores = dir.path().join(format!("{name}.scores.csv"));
        let assert = score()
            .arg(&log)
            .args(["--year", "2026", "-o"])
            .arg(&out)
            .arg("--scores-out")
            .arg(&scores)
            .assert()
            .code(0);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(note), "{name}: {stderr}");
        assert!(!stderr.contains("error"), "{name}: {stderr}");
        let alerts = read_alerts(&out);
        assert!(
            alerts
                .iter()
                .any(|a| a["rule_ids"].as_array().unwrap().iter().any(|r| r == "LLX-SSH-001")
                    && a["source_ips"].as_array().unwrap().iter().any(|s| s == "203.0.113.50")),
            "{name}: {alerts:?}"
        );
        // The scores file holds the fitted kinds' rows, or only its header.
        let rows: Vec<String> = std::fs::read_to_string(&scores)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(
            rows[0].starts_with("entity_kind,entity,window_start"),
            "{name}: {rows:?}"
        );
        let fitted_users = if name == "one-name" { 0 } else { 6 };
        assert_eq!(rows.len(), 1 + fitted_users, "{name}: {rows:?}");
        assert!(rows[1..].iter().all(|r| r.starts_with("user,")), "{name}: {rows:?}");

        // The brute force is at least LOW: --fail-on low exits 1.
        score()
            .arg(&log)
            .args(["--year", "2026", "--quiet", "--fail-on", "low", "-o"])
            .arg(dir.path().join("fail-on.ndjson"))
            .assert()
            .code(1);
    }
}

#[test]
fn a_one_line_log_without_a_model_is_a_clean_run_with_no_alert() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("one.log");
    std::fs::write(
        &log,
        "Mar  3 04:05:06 web1 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2\n",
    )
    .unwrap();
    for scores in ["scores.ndjson", "scores.parquet"] {
        let out = dir.path().join("alerts.ndjson");
        let scores = dir.path().join(scores);
        let assert = score()
            .arg(&log)
            .args(["--year", "2026", "--fail-on", "low", "-o"])
            .arg(&out)
            .arg("--scores-out")
            .arg(&scores)
            .assert()
            .code(0);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(!stderr.contains("error"), "{stderr}");
        assert!(stderr.contains("alerts come from rules alone"), "{stderr}");
        assert!(stderr.contains("1 lines, 1 events"), "{stderr}");
        assert!(read_alerts(&out).is_empty());
        if scores.extension().unwrap() == "parquet" {
            let df = ParquetReader::new(std::fs::File::open(&scores).unwrap())
                .finish()
                .unwrap();
            assert_eq!(df.height(), 0);
            assert!(df.column("score").is_ok(), "{df:?}");
        } else {
            assert_eq!(std::fs::read_to_string(&scores).unwrap(), "");
        }
    }
}

#[test]
fn training_on_a_log_too_small_fails_naming_the_row_counts_and_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("six.log");
    std::fs::write(&log, six_failed_logins(|_| "admin".into())).unwrap();
    let assert = Command::new(bin("loglynx-train"))
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.path().join("model.llx"))
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("nothing to train")
            && stderr.contains("at least 2 per kind are needed")
            && stderr.contains("user (1 row), source_ip (1 row), host (1 row)"),
        "{stderr}"
    );
    assert!(!dir.path().join("model.llx").exists());
}

#[test]
fn six_invalid_user_lines_alone_from_one_address_are_a_brute_force_without_a_model() {
    // Clients that leave before the password prompt: only `Invalid user`.
    let log: String = (0..6)
        .map(|i| {
            format!(
                "Mar  3 04:05:{:02} web1 sshd[{}]: Invalid user user{i} from 203.0.113.50 port {}\n",
                i / 2,
                900 + i,
                53502 + i
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("invalid.log");
    std::fs::write(&path, log).unwrap();
    let out = dir.path().join("alerts.ndjson");
    score()
        .arg(&path)
        .args(["--year", "2024", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .success();
    let alerts = read_alerts(&out);
    let brute: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule_ids"].as_array().unwrap().iter().any(|r| r == "LLX-SSH-001"))
        .collect();
    assert_eq!(brute.len(), 1, "{alerts:?}");
    assert!(brute[0]["source_ips"].to_string().contains("203.0.113.50"));
}

/// Issue 18: on one internet-facing host (loghub's full `Linux.log`), one
/// LOW "SSH brute force" alert per scanner buried everything else.
#[test]
fn background_brute_force_on_one_internet_facing_host_is_one_rollup_listing_every_source() {
    let log = shared("loghub-full/Linux.log");
    let dir = tempfile::tempdir().unwrap();
    let alerts_of = |name: &str, extra: &[&str]| -> Vec<serde_json::Value> {
        let out = dir.path().join(name);
        score()
            .arg(&log)
            .args(["--year", "2026", "--quiet", "-o"])
            .arg(&out)
            .args(extra)
            .assert()
            .code(0);
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let alone = alerts_of("alone.ndjson", &["--rollup-min-sources", "0"]);
    let rolled = alerts_of("rolled.ndjson", &[]);
    assert!(alone.len() > 250, "{} alerts without the roll-up", alone.len());
    assert!(rolled.len() < 10, "{} alerts with the roll-up", rolled.len());
    let rollup = rolled
        .iter()
        .find(|a| a["rule_ids"][0] == "LLX-BASE-BKG")
        .expect("a roll-up");
    // Nothing is lost: every source of an alert rolled up is listed, and
    // every member names the alert it would have been.
    let listed: BTreeSet<&str> = rollup["source_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let fingerprints: BTreeSet<&str> = rollup["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fingerprint"].as_str().unwrap())
        .collect();
    let kept: BTreeSet<&str> = rolled.iter().map(|a| a["fingerprint"].as_str().unwrap()).collect();
    for a in &alone {
        let fp = a["fingerprint"].as_str().unwrap();
        if kept.contains(fp) {
            continue;
        }
        assert!(fingerprints.contains(fp), "{fp} neither alone nor in the roll-up");
        for s in a["source_ips"].as_array().unwrap() {
            assert!(listed.contains(s.as_str().unwrap()), "{s} listed");
        }
    }
    assert!(listed.len() > 200, "{} sources", listed.len());
}

/// Scores loghub's OpenSSH_2k log into `dir/first.ndjson` with a verdicts
/// template: the log, the template's path and its lines.
fn openssh_verdict_template(dir: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let log = shared("loghub/OpenSSH/OpenSSH_2k.log");
    let template = dir.join("verdicts.csv");
    score()
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.join("first.ndjson"))
        .arg("--verdict-template")
        .arg(&template)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&template).unwrap();
    let lines = text.lines().map(str::to_owned).collect();
    (log, template, lines)
}

/// A template row with its (empty) verdict, note and analyst filled in.
fn judged(row: &str, verdict: &str) -> String {
    row.replacen(",,,,,", &format!(",{verdict},our scanner,alice,,"), 1)
}

/// The reviewer's loop: a verdicts template from one run, filled in, leaves
/// the judged false positives out of the next run, and says so.
#[test]
fn verdicts_from_the_template_leave_judged_false_positives_out_of_the_next_run_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let (log, template, mut lines) = openssh_verdict_template(dir.path());
    let first = std::fs::read_to_string(dir.path().join("first.ndjson")).unwrap();
    assert_eq!(lines.len(), first.lines().count() + 1, "one row per alert");
    // Judge the last two alerts false positives, the first a true one.
    let n = lines.len();
    for (i, verdict) in [
        (n - 1, "false_positive"),
        (n - 2, "false_positive"),
        (1, "true_positive"),
    ] {
        lines[i] = lines[i].replacen(",,,,,", &format!(",{verdict},our scanner,alice,,"), 1);
    }
    std::fs::write(&template, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("second.ndjson");
    let page = dir.path().join("report.html");
    let assert = score()
        .arg(&log)
        .args(["--year", "2026", "-o"])
        .arg(&out)
        .arg("--feedback")
        .arg(&template)
        .arg("--report")
        .arg(&page)
        .assert()
        .code(0);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr);
    assert!(stderr.contains("2 alerts left out by 2 verdicts"), "{stderr}");
    assert!(stderr.contains("left out by the false_positive verdict at"), "{stderr}");
    let second = std::fs::read_to_string(&out).unwrap();
    assert_eq!(second.lines().count(), first.lines().count() - 2);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Left out by verdicts") && html.contains("our scanner"));
}

/// `loglynx-train --feedback`: the windows of an alert judged an attack
/// are left out of the baseline, and the model card says how many.
#[test]
fn train_feedback_leaves_the_windows_of_confirmed_attacks_out_of_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let (log, template, mut lines) = openssh_verdict_template(dir.path());
    let attack = lines
        .iter()
        .position(|l| l.contains(",source=") && l.contains("SSH brute force"))
        .expect("a brute-force alert about a source");
    lines[attack] = judged(&lines[attack], "true_positive");
    std::fs::write(&template, lines.join("\n") + "\n").unwrap();
    let train = |name: &str, feedback: bool| -> serde_json::Value {
        let model = dir.path().join(name);
        let mut cmd = Command::new(bin("loglynx-train"));
        cmd.arg(&log).args(["--year", "2026", "--quiet", "-o"]).arg(&model);
        if feedback {
            cmd.arg("--feedback").arg(&template);
        }
        cmd.assert().success();
        serde_json::from_str(&std::fs::read_to_string(model.with_extension("card.json")).unwrap()).unwrap()
    };
    let plain = train("plain.llx", false);
    let taught = train("taught.llx", true);
    let rows = |card: &serde_json::Value| card["metadata"]["rows_per_set"]["source_ip"].as_u64().unwrap();
    let note = taught["metadata"]["notes"]["left_out_by_verdicts"].as_str().unwrap();
    let left: u64 = note.split(' ').next().unwrap().parse().unwrap();
    assert!(left >= 1, "{note}");
    assert!(note.ends_with("of 1 alerts judged true_positive"), "{note}");
    assert_eq!(rows(&plain) - rows(&taught), left, "{note}");
}

/// Issue 18, regression: on gtkcyber's internet-facing host, scanners
/// trying dictionaries of names the host does not have reached HIGH
/// (spraying, 21+ attempts against 3+ names) and each stayed an alert: 11
/// alerts, every one internet noise, none of them logged in.
#[test]
fn dictionary_scanners_of_names_that_do_not_exist_roll_up_on_a_real_internet_facing_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.ndjson");
    score()
        .arg(shared("gtkcyber/auth.log"))
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(&out)
        .assert()
        .code(0);
    let alerts = read_alerts(&out);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["rule_ids"][0], "LLX-BASE-BKG");
    let members = alerts[0]["members"].as_array().unwrap();
    assert!(members.len() >= 10, "{} members", members.len());
    assert!(
        members.iter().any(|m| m["severity"] == "high"),
        "HIGH dictionary scans are members"
    );
}

/// Without `--report` the merge reads back from the event spool only the
/// events it asks about (the population's, the hosts' over their spans,
/// the sources'); with it, every event. The alerts are the same, with and
/// without a model, and include population alerts, which read the hosts'
/// events and whether each source was new there. (The high-cardinality
/// logs of BENCHMARKS.md, whose alerts were compared byte for byte with
/// the whole log's, also roll background sources up.)
#[test]
fn the_merge_asks_the_spool_for_the_events_it_reads_and_alerts_as_on_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), 60_000, 21, &["--stealthy", "--days", "10"]);
    let quiet = dir.path().join("quiet.log");
    Command::new(bin("loglynx-gen"))
        .args([
            "--events",
            "60000",
            "--seed",
            "21",
            "--stealthy",
            "--no-attacks",
            "--days",
            "10",
        ])
        .args(["--start", "2026-01-20", "--quiet", "-o"])
        .arg(&quiet)
        .assert()
        .success();
    let model = dir.path().join("quiet.llx");
    train_on(&quiet, &model);
    let mut rules_seen = BTreeSet::new();
    for with_model in [false, true] {
        let alerts = |report: bool| {
            let out = dir.path().join(format!("a-{with_model}-{report}.ndjson"));
            let mut cmd = score();
            // Two background sources on a host roll up: the roll-up reads
            // the facts of every source.
            cmd.arg(&log)
                .args(["--year", "2026", "--rollup-min-sources", "2", "--quiet", "-o"])
                .arg(&out);
            if with_model {
                cmd.arg("--model").arg(&model);
            }
            if report {
                cmd.arg("--report").arg(dir.path().join("report.md"));
            }
            cmd.assert().success();
            std::fs::read_to_string(&out).unwrap()
        };
        let asked = alerts(false);
        assert_eq!(asked, alerts(true), "model: {with_model}");
        for a in asked
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        {
            for r in a["rule_ids"].as_array().unwrap() {
                rules_seen.insert(r.as_str().unwrap().to_owned());
            }
        }
    }
    for rule in ["LLX-BASE-POP", "LLX-AUTH-007", "LLX-SSH-001"] {
        assert!(rules_seen.contains(rule), "{rule} not in {rules_seen:?}");
    }
}
