//! `loglynx-gen --stealthy` end to end: the asset list covers the log, the
//! scorer reads the new kinds, the classic campaigns are still detected, and
//! no per-source threshold rule fires on a stealthy attack.

use std::collections::{BTreeSet, HashSet};

use assert_cmd::Command;
use loglynx_datasets::labels::{read_labels_file, CampaignKind};
use loglynx_features::connectors::json::parse_timestamp;
use loglynx_tests::bin;

/// Unix seconds of an alert's RFC 3339 time.
fn unix(s: &str) -> i64 {
    parse_timestamp(s).expect("an RFC 3339 time") / 1_000_000
}

#[test]
fn stealthy_generation_scores_and_stays_under_per_source_rules() {
    let help = Command::new(bin("loglynx-gen")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--stealthy") && help.contains("--assets-out"), "{help}");
    assert!(help.contains("loglynx-gen --stealthy "), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let (log, labels, assets) = (
        dir.path().join("s.log"),
        dir.path().join("s.labels.jsonl"),
        dir.path().join("assets.csv"),
    );
    Command::new(bin("loglynx-gen"))
        .args(["--events", "60000", "--seed", "5", "--stealthy", "--quiet", "-o"])
        .arg(&log)
        .arg("--labels")
        .arg(&labels)
        .arg("--assets-out")
        .arg(&assets)
        .assert()
        .success();

    let assets = std::fs::read_to_string(&assets).unwrap();
    let mut rows = assets.lines();
    assert_eq!(rows.next(), Some("host,address,role"));
    let hosts: HashSet<&str> = rows.map(|r| r.split(',').next().unwrap()).collect();
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines() {
        let host = line[16..].split(' ').next().unwrap();
        assert!(hosts.contains(host), "{host} not in the asset list");
    }

    let (alerts, eval) = (dir.path().join("a.ndjson"), dir.path().join("eval.json"));
    super::score_cli::score_with_labels(&log, &labels, &alerts, &eval, &[]);
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval).unwrap()).unwrap();
    let by_kind = &e["loglynx"]["by_kind"];
    for k in CampaignKind::STEALTHY.iter().chain(&CampaignKind::LOOK_ALIKES) {
        assert_eq!(by_kind[k.as_str()]["campaigns"], 1, "{k}: {by_kind}");
    }
    let labels = read_labels_file(&labels).unwrap();
    let classic: BTreeSet<&str> = labels
        .iter()
        .filter(|l| CampaignKind::ATTACKS.contains(&l.kind))
        .map(|l| l.id.as_str())
        .collect();
    for c in e["loglynx"]["campaigns"].as_array().unwrap() {
        if classic.contains(c["id"].as_str().unwrap()) {
            assert!(c["detected_as_kind"].as_bool().unwrap(), "{c}");
        }
    }

    // No alert the evaluation would match to a stealthy attack (by source,
    // by account for the account kinds, by host for stuffing) carries a
    // per-source threshold rule.
    let threshold_rules = [
        "LLX-SSH-001",
        "LLX-AUTH-001",
        "LLX-AUTH-002",
        "LLX-AUTH-003",
        "LLX-AUTH-004",
    ];
    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    for l in labels.iter().filter(|l| CampaignKind::STEALTHY.contains(&l.kind)) {
        let (from, to) = (l.start.timestamp() - 3600, l.end.timestamp() + 3600);
        for a in &alerts {
            let (first, last) = (
                unix(a["first_seen"].as_str().unwrap()),
                unix(a["last_seen"].as_str().unwrap()),
            );
            if last < from || first > to {
                continue;
            }
            let by_user = !matches!(l.kind, CampaignKind::SlowSpray | CampaignKind::CredentialStuffing);
            let about = strings(&a["source_ips"]).iter().any(|s| l.source_ips.contains(s))
                || (by_user && strings(&a["users"]).iter().any(|u| u != "root" && l.users.contains(u)))
                || (l.kind == CampaignKind::CredentialStuffing
                    && strings(&a["target_hosts"]).iter().any(|h| l.hosts.contains(h)));
            if about {
                let rules = strings(&a["rule_ids"]);
                assert!(
                    !rules.iter().any(|r| threshold_rules.contains(&r.as_str())),
                    "{} {}: {a}",
                    l.id,
                    l.kind
                );
            }
        }
    }
}

/// Campaigns built to stay under every per-source threshold, scored with a
/// baseline trained on a quiet period of the same organisation (tuning
/// seed 1; held-out seeds are in EVALUATION.md §1b): every kind but the
/// credential stuffing is detected as its kind at this size (the stuffed
/// host's population stays under the threshold the budget sets on an
/// organisation this small; §1b has its figures), the false alerts raised
/// by the baseline's evidence stay within what the alert budget expects,
/// and the weekly credential audit, a rule hit that recurs in the
/// baseline, is demoted and labelled as routine.
#[test]
fn stealthy_campaigns_are_detected_with_a_quiet_period_model_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let gen = |args: &[&str], log: &std::path::Path| {
        Command::new(bin("loglynx-gen"))
            .args(["--events", "100000", "--seed", "1", "--stealthy", "--quiet"])
            .args(args)
            .arg("-o")
            .arg(log)
            .assert()
            .success();
    };
    gen(&["--no-attacks", "--start", "2026-02-01"], &p("quiet.log"));
    let (labels, assets) = (p("labels.jsonl"), p("assets.csv"));
    gen(
        &[
            "--labels",
            labels.to_str().unwrap(),
            "--assets-out",
            assets.to_str().unwrap(),
        ],
        &p("attack.log"),
    );
    Command::new(bin("loglynx-train"))
        .arg(p("quiet.log"))
        .args(["--year", "2026", "--quiet", "--assets"])
        .arg(&assets)
        .arg("-o")
        .arg(p("quiet.llx"))
        .assert()
        .success();
    Command::new(bin("loglynx-score"))
        .arg(p("attack.log"))
        .args(["--year", "2026", "--quiet", "--assets"])
        .arg(&assets)
        .arg("--model")
        .arg(p("quiet.llx"))
        .arg("-o")
        .arg(p("alerts.ndjson"))
        .arg("--labels")
        .arg(&labels)
        .arg("--eval-out")
        .arg(p("eval.json"))
        .assert()
        .success();
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p("eval.json")).unwrap()).unwrap();
    for c in e["loglynx"]["campaigns"].as_array().unwrap() {
        let near_the_line = c["kind"].as_str() == Some("credential-stuffing");
        if c["malicious"].as_bool().unwrap() && !near_the_line {
            assert!(c["detected_as_kind"].as_bool().unwrap(), "{c}");
        }
    }
    let model = e["model_false_alerts"].as_u64().unwrap();
    let allowance = e["model_alert_allowance"].as_f64().unwrap();
    assert!(
        model as f64 <= allowance,
        "{model} false alerts of the model, the budget expects {allowance:.2}"
    );
    // The audit's alerts are there, LOW and labelled.
    let labels = read_labels_file(&labels).unwrap();
    let audit = labels
        .iter()
        .find(|l| l.kind == CampaignKind::BenignCredentialAudit)
        .unwrap();
    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(p("alerts.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of_audit: Vec<&serde_json::Value> = alerts
        .iter()
        .filter(|a| {
            a["source_ips"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| audit.source_ips.iter().any(|x| x == s.as_str().unwrap()))
        })
        .collect();
    assert!(!of_audit.is_empty());
    for a in of_audit {
        assert_eq!(a["severity"], "low", "{a}");
        assert!(a["routine"].as_str().unwrap().contains("previous Mondays"), "{a}");
    }
}
