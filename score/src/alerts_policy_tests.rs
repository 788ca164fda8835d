//! One test per merge policy documented at the top of `alerts.rs` (and the
//! allowlist and minimum severity of [`AlertConfig`]). Hits and anomalies
//! are built by hand; [`merge`] is the only code under test.

use super::*;
use loglynx_features::aggregate::enrich::AllowlistConfig;
use loglynx_features::aggregate::registry::EntityKind;

/// 2024-03-04 00:00:00 UTC.
const T0: Micros = 1_709_510_400_000_000;
const MIN: Micros = 60_000_000;
const PUBLIC: &str = "185.220.101.7";
const PUBLIC2: &str = "45.155.205.10";
const PRIVATE: &str = "10.0.0.5";

fn at(minutes: i64) -> Micros {
    T0 + minutes * MIN
}

/// A hit of `rule_id` over `[first, last]` minutes, grouped by `group`; the
/// distinct users, hosts and sources are those of the group.
fn hit(rule_id: &str, severity: Severity, group: &[(&str, &str)], first: i64, last: i64) -> RuleHit {
    let values = |field: &str| -> Vec<String> {
        group
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| v.to_string())
            .collect()
    };
    let (users, hosts, sources) = (values("user"), values("host"), values("source"));
    RuleHit {
        rule_id: rule_id.into(),
        severity,
        group: group.iter().map(|(f, v)| (f.to_string(), v.to_string())).collect(),
        first: at(first),
        last: at(last),
        count: 5,
        distinct_users: users.len(),
        distinct_hosts: hosts.len(),
        distinct_sources: sources.len(),
        users,
        hosts,
        sources,
        evidence: vec![],
        summary: format!("{rule_id} at {first}"),
    }
}

fn brute_force(source: &str, host: &str, first: i64) -> RuleHit {
    hit(
        "LLX-SSH-001",
        Severity::Low,
        &[("source", source), ("host", host)],
        first,
        first + 5,
    )
}

/// A flagged anomaly of one hour from `start` minutes, driven by `drivers`
/// (`(feature, value, baseline p99)`, most important first).
fn anomaly(kind: &str, entity: &str, start: i64, score: f64, drivers: &[(&str, f64, f64)]) -> Anomaly {
    Anomaly {
        entity_kind: EntityKind::parse(kind).expect("an entity kind"),
        entity: entity.into(),
        window_start: at(start),
        window_end: at(start + 60),
        score,
        explanation: drivers
            .iter()
            .map(|(f, v, p)| format!("{f} = {v} (baseline p99 = {p})"))
            .collect(),
        drivers: drivers
            .iter()
            .map(|&(f, v, p)| Driver {
                feature: f.into(),
                value: v,
                baseline_p99: p,
            })
            .collect(),
        flagged: true,
        account_used: true,
        evidence: vec![],
    }
}

/// Many failures from a public source: worth an alert on its own.
fn failing_source(entity: &str, start: i64) -> Anomaly {
    anomaly("source_ip", entity, start, 0.9995, &[("failures", 50.0, 2.0)])
}

fn run(hits: &[RuleHit], anomalies: &[Anomaly], cfg: &AlertConfig) -> (Vec<Alert>, MergeStats) {
    merge(hits, anomalies, &RuleSet::builtin(), &CompactLog::default(), &[], cfg)
}

fn merged(hits: &[RuleHit], anomalies: &[Anomaly]) -> (Vec<Alert>, MergeStats) {
    run(hits, anomalies, &AlertConfig::default())
}

#[test]
fn hits_of_one_entity_within_the_suppression_window_are_one_alert_listing_every_host() {
    let hits = [
        brute_force(PUBLIC, "web-01", 0),
        // 25 minutes after the first hit ended: merges.
        brute_force(PUBLIC, "web-02", 30),
        // Two hours after the last: a new alert.
        brute_force(PUBLIC, "web-03", 155),
    ];
    let (alerts, stats) = merged(&hits, &[]);
    assert_eq!(stats.rule_hits, 3);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let mut alerts = alerts;
    alerts.sort_by_key(|a| a.first);
    assert_eq!(alerts[0].detections, 2);
    assert_eq!(alerts[0].target_hosts, vec!["web-01", "web-02"]);
    assert!(alerts[0].title.ends_with("against 2 hosts"), "{}", alerts[0].title);
    assert_eq!((alerts[0].first, alerts[0].last), (at(0), at(35)));
    assert_eq!(alerts[1].target_hosts, vec!["web-03"]);
    // Another source at the same time is another alert.
    let (alerts, _) = merged(
        &[brute_force(PUBLIC, "web-01", 0), brute_force(PUBLIC2, "web-01", 0)],
        &[],
    );
    assert_eq!(alerts.len(), 2);
}

#[test]
fn an_anomaly_sharing_entity_and_time_corroborates_the_incident() {
    let hits = [brute_force(PUBLIC, "web-01", 0)];
    let (alone, _) = merged(&hits, &[]);
    assert_eq!(alone[0].severity, Severity::Low);

    let corroborating = failing_source(PUBLIC, 0);
    // Same time, another entity; no security driver, so no alert of its own.
    let unrelated = anomaly("source_ip", PUBLIC2, 0, 0.9995, &[("events", 500.0, 20.0)]);
    let (alerts, stats) = merged(&hits, &[corroborating, unrelated]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    // Priority rises and the explanation joins the alert.
    assert_eq!(a.severity, Severity::Medium);
    assert!(a.risk_score > alone[0].risk_score);
    assert_eq!(a.anomalies.len(), 1);
    assert_eq!(a.anomalies[0].entity, PUBLIC);
    assert_eq!(a.anomalies[0].explanation, vec!["failures = 50 (baseline p99 = 2)"]);
    assert_eq!(a.detections, 2);
    assert_eq!(stats.anomalies_corroborating, 1);
    assert_eq!(stats.anomaly_alerts, 0);

    // Far from the incident in time it corroborates nothing: two alerts.
    let (alerts, stats) = merged(&hits, &[failing_source(PUBLIC, 24 * 60)]);
    assert_eq!(alerts.len(), 2);
    assert_eq!(stats.anomalies_corroborating, 0);
}

#[test]
fn an_anomaly_alone_alerts_only_with_a_security_driver_well_above_baseline() {
    // A busy day: volume, not an attack.
    let busy = anomaly("source_ip", PUBLIC, 0, 0.9995, &[("events", 5000.0, 20.0)]);
    // Failures at exactly twice the p99 plus one: not "well above".
    let borderline = anomaly("source_ip", PUBLIC, 0, 0.9995, &[("failures", 5.0, 2.0)]);
    for quiet in [busy, borderline] {
        let (alerts, stats) = merged(&[], &[quiet]);
        assert!(alerts.is_empty(), "{alerts:#?}");
        assert_eq!(stats.anomaly_alerts, 0);
    }
    let (alerts, stats) = merged(&[], &[failing_source(PUBLIC, 0)]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(stats.anomaly_alerts, 1);
    assert!(alerts[0].rule_ids.is_empty());
    assert_eq!(alerts[0].source_ips, vec![PUBLIC]);
}

#[test]
fn new_term_hits_alert_only_when_the_model_finds_the_entity_unusual() {
    let new_source = hit(
        "LLX-NEW-001",
        Severity::Low,
        &[("user", "alice"), ("source", PUBLIC)],
        0,
        0,
    );
    let (alerts, stats) = merged(std::slice::from_ref(&new_source), &[]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.uncorroborated_new_terms, 1);

    // A weak anomaly of the user (one use-of-account sign) is not enough.
    let weak = anomaly("user", "alice", 0, 0.9995, &[("new_source_ips", 3.0, 0.0)]);
    let (alerts, stats) = merged(std::slice::from_ref(&new_source), &[weak]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.uncorroborated_new_terms, 1);

    let strong = anomaly(
        "user",
        "alice",
        0,
        0.9995,
        &[("new_source_ips", 3.0, 0.0), ("new_hosts", 2.0, 0.0)],
    );
    let (alerts, stats) = merged(&[new_source], &[strong]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule_ids, vec!["LLX-NEW-001"]);
    assert_eq!(stats.uncorroborated_new_terms, 0);
}

#[test]
fn anomalies_alone_of_an_entity_unusual_in_the_baseline_do_not_alert() {
    let cfg = AlertConfig {
        baseline_anomalous: BTreeMap::from([(EntityKind::SourceIp, BTreeSet::from([PUBLIC.to_owned()]))]),
        ..AlertConfig::default()
    };
    let (alerts, stats) = run(&[], &[failing_source(PUBLIC, 0)], &cfg);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.known_unusual, 1);
    // Another entity still alerts, and so do the rules for the known one.
    let (alerts, stats) = run(&[], &[failing_source(PUBLIC2, 0)], &cfg);
    assert_eq!((alerts.len(), stats.known_unusual), (1, 0));
    let (alerts, _) = run(&[brute_force(PUBLIC, "web-01", 0)], &[failing_source(PUBLIC, 0)], &cfg);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule_ids, vec!["LLX-SSH-001"]);
}

#[test]
fn weak_patterns_from_a_private_address_recurring_on_several_days_are_suppressed_and_counted() {
    let days =
        |source: &str, n: i64| -> Vec<RuleHit> { (0..n).map(|d| brute_force(source, "web-01", d * 24 * 60)).collect() };
    let (alerts, stats) = merged(&days(PRIVATE, 3), &[]);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.suppressed_recurring, 3);
    // Two days are not yet a pattern.
    let (alerts, stats) = merged(&days(PRIVATE, 2), &[]);
    assert_eq!((alerts.len(), stats.suppressed_recurring), (2, 0));
    // A public source is never known noise.
    let (alerts, stats) = merged(&days(PUBLIC, 3), &[]);
    assert_eq!((alerts.len(), stats.suppressed_recurring), (3, 0));
    // Nor is a HIGH hit.
    let mut high = days(PRIVATE, 3);
    for h in &mut high {
        h.severity = Severity::High;
    }
    let (alerts, stats) = merged(&high, &[]);
    assert_eq!((alerts.len(), stats.suppressed_recurring), (3, 0));
}

#[test]
fn the_allowlist_drops_hits_and_anomalies_of_listed_sources_and_users() {
    let allowlist = Allowlist::from_config(&AllowlistConfig {
        networks: vec!["185.220.101.0/24".into()],
        users: vec!["nagios".into()],
    })
    .unwrap();
    let cfg = AlertConfig {
        allowlist,
        ..AlertConfig::default()
    };
    let sudo = hit(
        "LLX-PRIV-001",
        Severity::Medium,
        &[("user", "nagios"), ("host", "web-01")],
        0,
        0,
    );
    let hits = [
        brute_force(PUBLIC, "web-01", 0),
        sudo.clone(),
        brute_force(PUBLIC2, "web-01", 0),
    ];
    let (alerts, stats) = run(&hits, &[failing_source(PUBLIC, 600)], &cfg);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].source_ips, vec![PUBLIC2]);
    assert_eq!(stats.allowlisted, 3);
    // Without the allowlist all four alert.
    let (alerts, _) = merged(&hits, &[failing_source(PUBLIC, 600)]);
    assert_eq!(alerts.len(), 4);
}

#[test]
fn alerts_below_the_minimum_severity_are_dropped_and_counted() {
    let cfg = AlertConfig {
        min_severity: Severity::Medium,
        ..AlertConfig::default()
    };
    let mut high = brute_force(PUBLIC2, "web-01", 0);
    high.severity = Severity::High;
    let (alerts, stats) = run(&[brute_force(PUBLIC, "web-01", 0), high], &[], &cfg);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::High);
    assert_eq!(stats.below_min_severity, 1);
}
