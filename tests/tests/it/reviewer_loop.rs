//! The reviewer's loop end to end on generated logs with routine
//! look-alikes (`loglynx-gen --lookalikes`): verdicts on one period's
//! alerts, simulated from the labels, train the re-ranker
//! (`loglynx-train --feedback … --alerts …`), which then demotes false
//! alerts of a later period and no true one.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use loglynx_tests::bin;

/// A generated period with the look-alikes, in its own folder `dir/name`.
fn gen(dir: &Path, name: &str, seed: u32, extra: &[&str]) -> (PathBuf, PathBuf) {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let mut args = vec!["--stealthy", "--lookalikes"];
    args.extend_from_slice(extra);
    super::score_cli::generate(&sub, 60_000, seed, &args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Scores `log` with `model` (and `feedback`), returning the evaluation.
fn score(dir: &Path, name: &str, log: &Path, labels: &Path, model: &Path, extra: &[&str]) -> serde_json::Value {
    let eval = dir.join(format!("{name}.eval.json"));
    Command::new(bin("loglynx-score"))
        .arg(log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(dir.join(format!("{name}.ndjson")))
        .arg("--model")
        .arg(model)
        .arg("--labels")
        .arg(labels)
        .arg("--eval-out")
        .arg(&eval)
        .args(extra)
        .assert()
        .success();
    json(&eval)
}

/// Fills `template` with the verdict the labels give each alert.
fn simulated_verdicts(template: &Path, eval: &serde_json::Value, out: &Path) {
    let truth: std::collections::BTreeMap<&str, &str> = eval["alert_truth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["truth"].as_str().unwrap()))
        .collect();
    let mut r = csv::Reader::from_path(template).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let mut w = csv::Writer::from_path(out).unwrap();
    w.write_record(&headers).unwrap();
    for row in r.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_owned).collect();
        row[col("verdict")] = match truth[row[col("alert_id")].as_str()] {
            "true" => "true_positive",
            "benign" => "benign_true_positive",
            _ => "false_positive",
        }
        .into();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn the_verdicts_reranker_cuts_false_alerts_of_the_next_period_without_losing_a_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (quiet, _) = gen(d, "quiet", 5, &["--no-attacks", "--start", "2026-01-20"]);
    let (a_log, a_labels) = gen(d, "a", 5, &["--assets-out", d.join("assets.csv").to_str().unwrap()]);
    let (b_log, b_labels) = gen(d, "b", 5, &["--start", "2026-04-06"]);
    let train = |name: &str, extra: &[&std::ffi::OsStr]| -> PathBuf {
        let model = d.join(name);
        Command::new(bin("loglynx-train"))
            .arg(&quiet)
            .args(["--year", "2026", "--quiet", "--assets"])
            .arg(d.join("assets.csv"))
            .arg("-o")
            .arg(&model)
            .args(extra)
            .assert()
            .success();
        model
    };
    let assets = d.join("assets.csv");
    let assets = assets.to_str().unwrap();
    let plain = train("plain.llx", &[]);
    let template = d.join("template.csv");
    let a = score(
        d,
        "a",
        &a_log,
        &a_labels,
        &plain,
        &["--assets", assets, "--verdict-template", template.to_str().unwrap()],
    );
    let verdicts = d.join("verdicts.csv");
    simulated_verdicts(&template, &a, &verdicts);
    let a_alerts = d.join("a.ndjson");
    let reranked = train(
        "reranked.llx",
        &[
            "--feedback".as_ref(),
            verdicts.as_os_str(),
            "--alerts".as_ref(),
            a_alerts.as_os_str(),
        ],
    );
    let card = json(&reranked.with_extension("card.json"));
    let weights = card["reranker"]["log_odds_per_standard_deviation"].as_array().unwrap();
    assert!(weights.len() > 10, "{}", card["reranker"]);
    let note = card["metadata"]["notes"]["reranker"].as_str().unwrap();
    assert!(note.starts_with("trained on "), "{note}");

    let v = verdicts.to_str().unwrap();
    let before = score(d, "b", &b_log, &b_labels, &plain, &["--assets", assets]);
    let patterns = score(
        d,
        "bf",
        &b_log,
        &b_labels,
        &plain,
        &["--assets", assets, "--feedback", v],
    );
    let after = score(
        d,
        "br",
        &b_log,
        &b_labels,
        &reranked,
        &["--assets", assets, "--feedback", v],
    );
    let get = |e: &serde_json::Value, k: &str| e["loglynx"][k].as_u64().unwrap();
    // Verdicts on exact patterns cut some false alerts; the re-ranker,
    // which generalises to other entities, cuts more.
    assert!(get(&patterns, "false_alerts") < get(&before, "false_alerts"));
    assert!(
        get(&after, "false_alerts") < get(&patterns, "false_alerts"),
        "{} false alerts with the re-ranker, {} without",
        get(&after, "false_alerts"),
        get(&patterns, "false_alerts")
    );
    // At equal recall: every campaign and every true alert is still read.
    for k in ["campaigns_alerted", "true_alerts"] {
        assert_eq!(get(&after, k), get(&before, k), "{k}");
    }
    let demoted = &after["demoted"];
    assert!(demoted["alerts"].as_u64().unwrap() >= 1, "{demoted}");
    assert_eq!(demoted["true_alerts"], 0, "{demoted}");
    // Each demoted alert says why, and every alert has its probability.
    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(d.join("br.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for x in &alerts {
        let r = &x["reranked"];
        let p = r["true_positive_probability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        if r.get("demoted_from").is_some() {
            assert_eq!(x["severity"], "low");
            let why = r["explanation"].as_str().unwrap();
            assert!(why.starts_with("demoted: P(true positive) = "), "{why}");
            assert!(
                why.contains("alerts sharing its rules were marked false positive"),
                "{why}"
            );
        }
    }
}

/// A line of `--alerts` that is not an alert fails training with the file
/// and line; `--alerts` without `--feedback` is refused.
#[test]
fn train_refuses_an_alerts_file_with_a_bad_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (log, _) = gen(d, "q", 3, &["--no-attacks"]);
    let alerts = d.join("alerts.ndjson");
    std::fs::write(&alerts, "{\"id\":\"LLX-1\"}\n").unwrap();
    let verdicts = d.join("v.csv");
    std::fs::write(
        &verdicts,
        "alert_id,primary,rule_ids,verdict\nLLX-1,user=a,LLX-NEW-001,false_positive\n",
    )
    .unwrap();
    let out = Command::new(bin("loglynx-train"))
        .arg(&log)
        .args(["--year", "2026", "--quiet", "-o"])
        .arg(d.join("m.llx"))
        .arg("--feedback")
        .arg(&verdicts)
        .arg("--alerts")
        .arg(&alerts)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(
        stderr.contains("alerts.ndjson:1: not an alert of loglynx-score's NDJSON output"),
        "{stderr}"
    );
    assert!(!d.join("m.llx").exists());
    Command::new(bin("loglynx-train"))
        .arg(&log)
        .arg("--alerts")
        .arg(&alerts)
        .assert()
        .code(2);
}
