//! One test per merge policy documented at the top of `alerts.rs` (and the
//! allowlist and minimum severity of [`AlertConfig`]). Hits, anomalies and
//! evidence episodes are built by hand, events from small hand-written
//! logs; [`merge`] is the only code under test.

use super::*;
use loglynx_baseline::accumulate::{EvidenceConfig, KindCalibration};
use loglynx_baseline::population::PopulationCalibration;
use loglynx_baseline::routine::Routine;
use loglynx_features::aggregate::enrich::AllowlistConfig;
use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::FeatureConfig;
use loglynx_features::ingest::input::Source;
use loglynx_features::ingest::pipeline::{self, RunConfig};
use loglynx_features::output::compact::KeepEvents;
use loglynx_rules::{FieldNovelty, NoveltyCounts};

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
            .map(|(f, v, p)| format!("{f} = {v}, unusually high (baseline p99 = {p})"))
            .collect(),
        drivers: drivers
            .iter()
            .map(|&(f, v, p)| Driver {
                feature: f.into(),
                value: v,
                side: loglynx_models::Side::High,
                baseline_bound: p,
            })
            .collect(),
        flagged: true,
        evidence: vec![],
    }
}

/// Many failures from a public source.
fn failing_source(entity: &str, start: i64) -> Anomaly {
    anomaly("source_ip", entity, start, 0.9995, &[("failures", 50.0, 2.0)])
}

/// An evidence episode of `entity` with one window per `(minute, nats)`,
/// peaking at `peak`.
fn episode(kind: &str, entity: &str, windows: &[(i64, f64)], peak: f64) -> EntityEpisode {
    EntityEpisode {
        entity_kind: EntityKind::parse(kind).expect("an entity kind"),
        entity: entity.into(),
        episode: Episode {
            entity: 0,
            first: at(windows[0].0),
            last: at(windows[windows.len() - 1].0),
            peak,
            windows: windows.iter().map(|&(m, n)| (at(m), n)).collect(),
        },
    }
}

/// Every kind replayed over 10,000 entity-days, with nine baseline
/// episodes peaking at 10, 9, …, 2 nats (too few for a tail model): a
/// budget of 0.3 allows 3 of them, so the threshold is the fourth
/// strongest, 7 nats.
fn calibration() -> AlertCalibration {
    let peaks: Vec<f64> = (2..=10).rev().map(f64::from).collect();
    AlertCalibration {
        config: EvidenceConfig {
            alert_budget: 0.3,
            ..Default::default()
        },
        kinds: EntityKind::ALL
            .iter()
            .map(|&k| KindCalibration {
                entity_kind: k,
                entity_days: 10_000,
                episodes: 9,
                top_peaks: peaks.clone(),
                floor: 0.5,
            })
            .collect(),
        self_drift: BTreeMap::new(),
        population: None,
    }
}

/// What a merge reads besides hits, anomalies and episodes.
#[derive(Default)]
struct Extra {
    calibration: Option<AlertCalibration>,
    routine: Option<Routine>,
    novelty: Option<Novelty>,
    history: Option<History>,
    log: CompactLog,
}

fn merge_all(
    hits: &[RuleHit],
    anomalies: &[Anomaly],
    episodes: &[EntityEpisode],
    extra: &Extra,
    cfg: &AlertConfig,
) -> (Vec<Alert>, MergeStats) {
    let rules = RuleSet::builtin();
    let calibration = extra.calibration.clone().unwrap_or_else(calibration);
    let input = MergeInput {
        hits,
        anomalies,
        episodes,
        calibration: &calibration,
        routine: extra.routine.as_ref(),
        novelty: extra.novelty.as_ref(),
        history: extra.history.as_ref(),
        window: 60 * MIN,
        rules: &rules,
        logs: crate::alerts::EventLogs::whole(&extra.log),
        file_names: &[],
    };
    merge(&input, cfg)
}

fn run(hits: &[RuleHit], anomalies: &[Anomaly], cfg: &AlertConfig) -> (Vec<Alert>, MergeStats) {
    merge_all(hits, anomalies, &[], &Extra::default(), cfg)
}

fn merged(hits: &[RuleHit], anomalies: &[Anomaly]) -> (Vec<Alert>, MergeStats) {
    run(hits, anomalies, &AlertConfig::default())
}

/// The events of a small syslog log (year 2024), every one kept.
fn compact_of(lines: &str) -> CompactLog {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    std::fs::write(&path, lines).unwrap();
    let cfg = RunConfig {
        year: Some(2024),
        collect_compact: Some(KeepEvents::all()),
        ..RunConfig::new(FeatureConfig::default().check().unwrap())
    };
    let result = pipeline::run(&[Source::File(path)], &cfg, |_| Ok(()), &|_| {}).unwrap();
    result.compact.unwrap()
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

/// Regression (Elastic's "suspicious login activity" auth.log): a script
/// created ten accounts in 82 seconds and each logged in from the internet
/// later; that was eleven alerts, one per account and one for the burst.
#[test]
fn accounts_created_in_one_burst_that_log_in_from_outside_are_one_alert_with_the_burst() {
    let users = ["svc_a", "svc_b", "svc_c", "svc_d"];
    let mut burst = hit("LLX-ACCT-002", Severity::Medium, &[("host", "web-01")], 0, 2);
    burst.users = users.iter().map(|u| u.to_string()).collect();
    let used = |user: &str, host: &str, first: i64| {
        let mut h = hit("LLX-ACCT-003", Severity::High, &[("user", user)], first, first + 300);
        h.hosts = vec![host.into()];
        h.sources = vec![PUBLIC.into()];
        h
    };
    let hits = [
        burst,
        used("svc_a", "web-01", 0),
        used("svc_b", "web-01", 1),
        used("svc_c", "web-01", 2),
        // Named by the burst, but created and used on another host.
        used("svc_d", "web-02", 1),
        // Created long after the burst: its own alert.
        used("svc_b", "web-01", 600),
    ];
    let (alerts, _) = merged(&hits, &[]);
    assert_eq!(alerts.len(), 3, "{alerts:#?}");
    let joined = alerts.iter().find(|a| a.primary == "host=web-01").unwrap();
    assert_eq!(joined.detections, 4);
    assert!(alerts.iter().any(|a| a.primary == "user=svc_d"));
    assert_eq!(joined.target_hosts, vec!["web-01"]);
    assert_eq!(joined.severity, Severity::High);
    assert_eq!(joined.rule_ids, vec!["LLX-ACCT-002", "LLX-ACCT-003"]);
}

#[test]
fn an_anomaly_sharing_entity_and_time_corroborates_the_incident() {
    let hits = [brute_force(PUBLIC, "web-01", 0)];
    let (alone, _) = merged(&hits, &[]);
    assert_eq!(alone[0].severity, Severity::Low);

    let corroborating = failing_source(PUBLIC, 0);
    // Same time, another entity, whose evidence stays under the threshold:
    // no alert of its own.
    let unrelated = anomaly("source_ip", PUBLIC2, 0, 0.9995, &[("events", 500.0, 20.0)]);
    let weak = [episode("source_ip", PUBLIC2, &[(0, 8.0)], 5.0)];
    let (alerts, stats) = merge_all(
        &hits,
        &[corroborating.clone(), unrelated],
        &weak,
        &Extra::default(),
        &AlertConfig::default(),
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    // The explanation joins the alert; the priority rises with it.
    assert_eq!(a.anomalies.len(), 1);
    assert_eq!(a.anomalies[0].entity, PUBLIC);
    assert_eq!(
        a.anomalies[0].explanation,
        vec!["failures = 50, unusually high (baseline p99 = 2)"]
    );
    assert_eq!(a.detections, 2);
    assert!(a.risk_score > alone[0].risk_score);
    assert_eq!(stats.anomalies_corroborating, 1);
    assert_eq!(stats.anomaly_alerts, 0);
    // Severity rises one level only when the source's own evidence passes
    // the threshold.
    assert_eq!(a.severity, Severity::Low);
    let strong = [episode("source_ip", PUBLIC, &[(0, 12.0)], 9.5)];
    let (alerts, _) = merge_all(
        &hits,
        &[corroborating],
        &strong,
        &Extra::default(),
        &AlertConfig::default(),
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].severity, Severity::Medium);

    // Far from the incident in time it corroborates nothing: two alerts.
    let (alerts, stats) = merge_all(
        &hits,
        &[failing_source(PUBLIC, 24 * 60)],
        &[episode("source_ip", PUBLIC, &[(24 * 60, 12.0)], 9.5)],
        &Extra::default(),
        &AlertConfig::default(),
    );
    assert_eq!(alerts.len(), 2);
    assert_eq!(stats.anomalies_corroborating, 0);
}

#[test]
fn the_alert_budget_sets_which_evidence_episodes_alert() {
    // Thresholds: 7 nats at a budget of 0.3 per 1,000 entity-days.
    let eps = [
        episode("source_ip", PUBLIC, &[(0, 9.0)], 7.5),
        episode("source_ip", PUBLIC2, &[(0, 9.0)], 6.5),
    ];
    let (alerts, stats) = merge_all(&[], &[], &eps, &Extra::default(), &AlertConfig::default());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].source_ips, vec![PUBLIC]);
    assert_eq!(alerts[0].rule_ids, vec!["LLX-BASE-ACC"]);
    assert_eq!((stats.episodes_alerting, stats.anomaly_alerts), (1, 1));
    assert!(
        alerts[0].description.contains("threshold at 7.0 nats"),
        "{}",
        alerts[0].description
    );
    // A budget of 0.5 allows 5 baseline episodes: the threshold is 5 nats.
    let cfg = AlertConfig {
        alert_budget: Some(0.5),
        ..AlertConfig::default()
    };
    let (alerts, _) = merge_all(&[], &[], &eps, &Extra::default(), &cfg);
    assert_eq!(alerts.len(), 2);
    // No calibration (a model without one): the model alerts on nothing alone.
    let none = Extra {
        calibration: Some(AlertCalibration::default()),
        ..Extra::default()
    };
    let (alerts, _) = merge_all(&[], &[], &eps, &none, &AlertConfig::default());
    assert!(alerts.is_empty());
}

#[test]
fn evidence_accumulated_over_seven_hours_is_one_alert_listing_its_windows() {
    // Seven moderate hours of one source, each under what one window needs.
    let hours: Vec<(i64, f64)> = (0..7).map(|h| (h * 60, 3.5)).collect();
    let slow = episode("source_ip", PUBLIC, &hours, 7.0 * (3.5 - std::f64::consts::LN_10));
    let anomalies: Vec<Anomaly> = (0..7)
        .map(|h| anomaly("source_ip", PUBLIC, h * 60, 0.97, &[("distinct_users", 9.0, 4.0)]))
        .collect();
    let (alerts, _) = merge_all(&[], &anomalies, &[slow], &Extra::default(), &AlertConfig::default());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.windows.len(), 7);
    assert_eq!(a.anomalies.len(), 5, "the five strongest windows explain it");
    assert_eq!((a.first, a.last), (at(0), at(7 * 60)));
    assert!(a.summary.starts_with("7 unusual windows"), "{}", a.summary);
    // Stronger than every baseline episode (peak 10): MEDIUM.
    assert_eq!(a.severity, Severity::Low);
    let hours: Vec<(i64, f64)> = (0..7).map(|h| (h * 60, 4.0)).collect();
    let stronger = episode("source_ip", PUBLIC, &hours, 11.0);
    let (alerts, _) = merge_all(&[], &[], &[stronger], &Extra::default(), &AlertConfig::default());
    assert_eq!(alerts[0].severity, Severity::Medium);
}

/// alice's login from a new public address.
fn alice_new_source() -> RuleHit {
    hit(
        "LLX-NEW-001",
        Severity::Low,
        &[("user", "alice"), ("source", PUBLIC)],
        0,
        0,
    )
}

/// The baseline's `user+source` novelty, with alice's counts.
fn alice_novelty(events: u64, singletons: u64, public_singletons: u64) -> Novelty {
    Novelty {
        fields: BTreeMap::from([(
            "user+source".to_owned(),
            FieldNovelty {
                all: NoveltyCounts {
                    events: 10_000,
                    singletons: 2_000,
                    public_singletons: 1_000,
                },
                by_first: BTreeMap::from([(
                    "alice".to_owned(),
                    NoveltyCounts {
                        events,
                        singletons,
                        public_singletons,
                    },
                )]),
            },
        )]),
    }
}

#[test]
fn new_term_hits_alert_when_rarity_and_the_models_evidence_pass_the_threshold() {
    let new_source = alice_new_source();
    // alice logged in 400 times from 2 addresses, each seen often: a new
    // address for her has a chance of 1/402, 6.0 nats.
    let novelty = alice_novelty;
    let steady = Extra {
        novelty: Some(novelty(400, 0, 0)),
        ..Extra::default()
    };
    // Rarity alone (6.0) stays under the threshold (7).
    let (alerts, stats) = merge_all(
        std::slice::from_ref(&new_source),
        &[],
        &[],
        &steady,
        &AlertConfig::default(),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.uncorroborated_new_terms, 1);
    // With 1.5 nats of the model's evidence for alice around it: an alert.
    let evidence = [episode("user", "alice", &[(0, 3.8)], 1.5)];
    let (alerts, stats) = merge_all(
        std::slice::from_ref(&new_source),
        &[],
        &evidence,
        &steady,
        &AlertConfig::default(),
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule_ids, vec!["LLX-NEW-001", "LLX-BASE-RARE"]);
    assert_eq!(stats.rarity_alerts, 1);
    // A user who roams (half her logins from public addresses seen once):
    // a new public address is common, and the same evidence is not enough.
    let roaming = Extra {
        novelty: Some(novelty(400, 200, 200)),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(
        std::slice::from_ref(&new_source),
        &[],
        &evidence,
        &roaming,
        &AlertConfig::default(),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.uncorroborated_new_terms, 1);
    // Her new addresses were all the office's (private): a new public one
    // is as rare as for a steady user.
    let dhcp = Extra {
        novelty: Some(novelty(400, 200, 0)),
        ..Extra::default()
    };
    let (alerts, _) = merge_all(&[new_source], &[], &evidence, &dhcp, &AlertConfig::default());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
}

#[test]
fn a_login_from_a_new_address_at_a_new_hour_adds_both_rarities_in_one_alert() {
    let new_source = hit(
        "LLX-NEW-001",
        Severity::Low,
        &[("user", "alice"), ("source", PUBLIC)],
        180,
        180,
    );
    let new_hour = |user: &str| {
        hit(
            "LLX-NEW-004",
            Severity::Low,
            &[("user", user), ("hour", "03")],
            180,
            200,
        )
    };
    // alice logged in 400 times, from 2 addresses and in 9 hours, each seen
    // often: a new address and a new hour each have a chance of 1/402
    // (6.0 nats), under the threshold (7) alone.
    let steady = NoveltyCounts {
        events: 400,
        singletons: 0,
        public_singletons: 0,
    };
    let field = FieldNovelty {
        all: NoveltyCounts {
            events: 10_000,
            singletons: 2_000,
            public_singletons: 1_000,
        },
        by_first: BTreeMap::from([("alice".to_owned(), steady), ("bob".to_owned(), steady)]),
    };
    let extra = Extra {
        novelty: Some(Novelty {
            fields: BTreeMap::from([
                ("user+source".to_owned(), field.clone()),
                ("user+hour~2h".to_owned(), field),
            ]),
        }),
        ..Extra::default()
    };
    let cfg = AlertConfig::default();
    for alone in [new_source.clone(), new_hour("alice")] {
        let (alerts, stats) = merge_all(&[alone], &[], &[], &extra, &cfg);
        assert!(alerts.is_empty(), "{alerts:#?}");
        assert_eq!(stats.uncorroborated_new_terms, 1);
    }
    // Both for the same login: one alert about the address, 12 nats.
    let (alerts, stats) = merge_all(&[new_source.clone(), new_hour("alice")], &[], &[], &extra, &cfg);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.rule_ids, vec!["LLX-NEW-001", "LLX-NEW-004", "LLX-BASE-RARE"]);
    assert_eq!(a.source_ips, vec![PUBLIC]);
    assert!(a.description.contains("together 12.0 nats"), "{}", a.description);
    assert_eq!(stats.rarity_alerts, 1);
    // Another user's new hour is not alice's login.
    let (alerts, stats) = merge_all(&[new_source, new_hour("bob")], &[], &[], &extra, &cfg);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.uncorroborated_new_terms, 2);
}

#[test]
fn many_sources_against_one_host_are_one_alert_and_a_source_that_logs_in_is_another() {
    // Five public sources fail once each against web-01 (no single one
    // crosses anything); the fifth then logs in.
    let mut lines = String::new();
    for (i, src) in [
        "203.0.113.10",
        "203.0.113.11",
        "198.51.100.12",
        "192.0.2.13",
        "198.51.100.14",
    ]
    .iter()
    .enumerate()
    {
        lines.push_str(&format!(
            "Mar  4 00:{:02}:00 web-01 sshd[{}]: Failed password for user{i} from {src} port 4{i}000 ssh2\n",
            10 + 5 * i,
            100 + i
        ));
    }
    lines
        .push_str("Mar  4 00:40:00 web-01 sshd[200]: Accepted password for user4 from 198.51.100.14 port 42222 ssh2\n");
    // An office login in the same hour is no member.
    lines.push_str("Mar  4 00:45:00 web-01 sshd[201]: Accepted publickey for bob from 10.0.0.7 port 42223 ssh2\n");
    let extra = Extra {
        log: compact_of(&lines),
        ..Extra::default()
    };
    let host = [episode("host", "web-01", &[(0, 11.0)], 8.0)];
    let (alerts, stats) = merge_all(&[], &[], &host, &extra, &AlertConfig::default());
    assert_eq!((stats.population_alerts, stats.population_logins), (1, 1));
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let pop = alerts
        .iter()
        .find(|a| a.rule_ids == ["LLX-BASE-POP"])
        .expect("population alert");
    assert_eq!(pop.target_hosts, vec!["web-01"]);
    assert_eq!(pop.source_ips.len(), 5);
    assert!(pop.summary.starts_with("5 sources, 5 failed logins"), "{}", pop.summary);
    let login = alerts
        .iter()
        .find(|a| a.rule_ids == ["LLX-AUTH-007"])
        .expect("login alert");
    assert_eq!(login.source_ips, vec!["198.51.100.14"]);
    assert_eq!(login.users, vec!["user4"]);
    assert_eq!(login.severity, Severity::High);
    // A person's own address, where the baseline saw them log in, is no
    // member when they mistype there during the attack.
    let mut history = History::default();
    history
        .terms
        .entry("user+source".into())
        .or_default()
        .insert(format!("carol{}10.0.0.9", History::SEPARATOR));
    let typo = "Mar  4 00:30:00 web-01 sshd[300]: Failed password for carol from 10.0.0.9 port 43000 ssh2\n\
                Mar  4 00:30:20 web-01 sshd[300]: Accepted password for carol from 10.0.0.9 port 43000 ssh2\n";
    let with_typo = |history: Option<History>| Extra {
        log: compact_of(&format!("{lines}{typo}")),
        history,
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(&[], &[], &host, &with_typo(None), &AlertConfig::default());
    assert_eq!(
        (stats.population_alerts, stats.population_logins),
        (1, 2),
        "{alerts:#?}"
    );
    let (alerts, stats) = merge_all(&[], &[], &host, &with_typo(Some(history)), &AlertConfig::default());
    assert_eq!(
        (stats.population_alerts, stats.population_logins),
        (1, 1),
        "{alerts:#?}"
    );
    let pop = alerts.iter().find(|a| a.rule_ids == ["LLX-BASE-POP"]).unwrap();
    assert!(!pop.source_ips.contains(&"10.0.0.9".to_string()), "{pop:#?}");

    // One source alone is not a population: the host's evidence is an
    // alert about the host.
    let one = Extra {
        log: compact_of(
            "Mar  4 00:10:00 web-01 sshd[100]: Failed password for root from 203.0.113.10 port 40000 ssh2\n",
        ),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(&[], &[], &host, &one, &AlertConfig::default());
    assert_eq!(stats.population_alerts, 0);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule_ids, vec!["LLX-BASE-ACC"]);
}

/// Four public sources failing on web-01 at real accounts (alice, bob,
/// carol), the third then logging in as carol; and a history that knows
/// the three accounts.
fn stuffing_on_web01() -> (String, History) {
    let mut lines = String::new();
    for (i, (user, src)) in [
        ("alice", "45.33.32.10"),
        ("bob", "45.33.32.11"),
        ("carol", "81.2.69.12"),
        ("alice", "185.220.100.13"),
    ]
    .iter()
    .enumerate()
    {
        lines.push_str(&format!(
            "Mar  4 03:{:02}:00 web-01 sshd[{}]: Failed password for {user} from {src} port 4{i}000 ssh2\n",
            10 + 10 * i,
            100 + i
        ));
    }
    lines.push_str("Mar  4 03:50:00 web-01 sshd[200]: Accepted password for carol from 81.2.69.12 port 42222 ssh2\n");
    let mut history = History::default();
    let users = history.terms.entry("user".into()).or_default();
    users.extend(["alice", "bob", "carol"].map(String::from));
    (lines, history)
}

/// Credential stuffing: public sources that each try a real account once
/// on one host, with no evidence episode of the host at all.
#[test]
fn many_public_sources_naming_real_accounts_are_a_population_without_the_hosts_evidence() {
    let (lines, history) = stuffing_on_web01();
    let with = |guessed: &[&str], history: Option<History>| {
        let mut calibration = calibration();
        calibration.population = Some(PopulationCalibration::new(
            &[1, 1],
            10_000,
            guessed.iter().map(|g| g.to_string()).collect(),
        ));
        Extra {
            calibration: Some(calibration),
            history,
            log: compact_of(&lines),
            ..Extra::default()
        }
    };
    // The baseline never saw more than one such source per window: four
    // are a population, and the one that got in an alert of its own.
    let (alerts, stats) = merge_all(
        &[],
        &[],
        &[],
        &with(&["root"], Some(history.clone())),
        &AlertConfig::default(),
    );
    assert_eq!(
        (
            stats.population_windows,
            stats.population_alerts,
            stats.population_logins
        ),
        (1, 1, 1)
    );
    let pop = alerts
        .iter()
        .find(|a| a.rule_ids == ["LLX-BASE-POP"])
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    assert_eq!(pop.source_ips.len(), 4);
    assert!(alerts
        .iter()
        .any(|a| a.rule_ids == ["LLX-AUTH-007"] && a.users == ["carol"]));
    // Names the internet already guessed in the baseline say nothing.
    let (_, stats) = merge_all(
        &[],
        &[],
        &[],
        &with(&["alice", "bob", "carol"], Some(history)),
        &AlertConfig::default(),
    );
    assert_eq!(stats.population_alerts, 0);
    // Without the baseline's accounts there is no statistic.
    let (_, stats) = merge_all(&[], &[], &[], &with(&["root"], None), &AlertConfig::default());
    assert_eq!(stats.population_alerts, 0);
}

#[test]
fn a_rule_hit_that_recurs_in_the_baseline_is_demoted_labelled_and_counted() {
    // T0 is Monday 2024-03-04; the audit ran the three Mondays before.
    let week = 7 * 24 * 60;
    let baseline: Vec<RuleHit> = (1..=3).map(|w| brute_force(PRIVATE, "db-01", -w * week)).collect();
    let mut audit = brute_force(PRIVATE, "db-01", 0);
    audit.severity = Severity::High;
    let extra = Extra {
        routine: Some(Routine::from_hits(&baseline, at(-3 * week), at(-1))),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(std::slice::from_ref(&audit), &[], &[], &extra, &AlertConfig::default());
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(a.routine.as_deref(), Some("seen on 3 of 3 previous Mondays"));
    assert!(a.title.starts_with("Routine: "), "{}", a.title);
    assert!(a.tags.contains(&"routine".to_owned()));
    assert_eq!(stats.routine_demoted, 1);
    // On a Tuesday, or from another source, it is no routine.
    let mut tuesday = audit.clone();
    tuesday.first += 24 * 60 * MIN;
    tuesday.last += 24 * 60 * MIN;
    let mut other = audit.clone();
    other.group[0].1 = PUBLIC.into();
    for h in [tuesday, other] {
        let (alerts, stats) = merge_all(&[h], &[], &[], &extra, &AlertConfig::default());
        assert_eq!(alerts[0].severity, Severity::High);
        assert_eq!(stats.routine_demoted, 0);
    }
}

#[test]
fn anomalies_alone_of_an_entity_unusual_in_the_baseline_do_not_alert() {
    let cfg = AlertConfig {
        baseline_anomalous: BTreeMap::from([(EntityKind::SourceIp, BTreeSet::from([PUBLIC.to_owned()]))]),
        ..AlertConfig::default()
    };
    let strong = |source: &str| [episode("source_ip", source, &[(0, 12.0)], 9.5)];
    let (alerts, stats) = merge_all(&[], &[], &strong(PUBLIC), &Extra::default(), &cfg);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(stats.known_unusual, 1);
    // Another entity still alerts, and so do the rules for the known one.
    let (alerts, stats) = merge_all(&[], &[], &strong(PUBLIC2), &Extra::default(), &cfg);
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
    let later = [episode("source_ip", PUBLIC, &[(600, 12.0)], 9.5)];
    let (alerts, stats) = merge_all(&hits, &[], &later, &Extra::default(), &cfg);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].source_ips, vec![PUBLIC2]);
    assert_eq!(stats.allowlisted, 3);
    // Without the allowlist all four alert.
    let (alerts, _) = merge_all(&hits, &[], &later, &Extra::default(), &AlertConfig::default());
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

#[test]
fn a_slow_brute_force_hit_beside_a_fast_one_is_left_out_and_counted() {
    let slow = hit(
        "LLX-SSH-003",
        Severity::Medium,
        &[("source", PUBLIC), ("host", "web-01")],
        0,
        300,
    );
    let (alerts, stats) = merged(&[brute_force(PUBLIC, "web-01", 10), slow.clone()], &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule_ids, vec!["LLX-SSH-001"]);
    assert_eq!(stats.superseded, 1);
    // Alone, the slow one is the alert.
    let (alerts, stats) = merged(&[slow], &[]);
    assert_eq!(alerts[0].rule_ids, vec!["LLX-SSH-003"]);
    assert_eq!(stats.superseded, 0);
}

/// Public sources of a background roll-up (real public ranges).
const SCANNERS: [&str; 4] = [PUBLIC, PUBLIC2, "193.32.162.40", "141.98.10.1"];
/// A public source that sprays accounts that exist.
const SPRAYER: &str = "91.240.118.5";

/// Regression (gtkcyber's auth.log): scanners trying dictionaries of names
/// the host does not have reached HIGH (spraying, 21+ attempts against 3+
/// names) and each stayed an alert: 11 alerts, all internet noise.
#[test]
fn a_high_dictionary_scan_of_names_that_do_not_exist_rolls_up() {
    let mut hits: Vec<RuleHit> = SCANNERS[..2].iter().map(|s| brute_force(s, "web-01", 0)).collect();
    let mut log = String::new();
    for (n, source) in ["80.94.95.1", "80.94.95.2"].iter().enumerate() {
        let mut h = brute_force(source, "web-01", 30);
        h.rule_id = "LLX-AUTH-001".into();
        h.severity = Severity::High;
        hits.push(h);
        for (i, user) in ["oracle", "pi", "ubnt", "test"].iter().enumerate() {
            log.push_str(&format!(
                "Mar  4 00:3{i}:0{n} web-01 sshd[{n}{i}]: Invalid user {user} from {source} port 2222\n\
                 Mar  4 00:3{i}:0{n} web-01 sshd[{n}{i}]: Failed password for invalid user {user} from {source} port 2222 ssh2\n"
            ));
        }
    }
    // root exists, but one account is not three.
    log.push_str("Mar  4 00:39:00 web-01 sshd[99]: Failed password for root from 80.94.95.1 port 2222 ssh2\n");
    let extra = Extra {
        log: compact_of(&log),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(&hits, &[], &[], &extra, &AlertConfig::default());
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(stats.rolled_up, 4);
    assert_eq!(alerts[0].rule_ids, vec!["LLX-BASE-BKG", "LLX-AUTH-001", "LLX-SSH-001"]);
}

#[test]
fn background_brute_force_from_many_external_sources_is_one_rollup_per_host_listing_every_source() {
    let mut hits: Vec<RuleHit> = SCANNERS
        .iter()
        .enumerate()
        .map(|(i, s)| brute_force(s, "web-01", i as i64 * 90))
        .collect();
    // A reverse-DNS name outside the organisation is external too.
    hits.push(brute_force("host-7.dsl.example-isp.net", "web-01", 400));
    let (alerts, stats) = merged(&hits, &[]);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.rule_ids, vec!["LLX-BASE-BKG", "LLX-SSH-001"]);
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(a.target_hosts, vec!["web-01"]);
    assert_eq!(a.members.len(), 5);
    assert_eq!(a.source_ips.len(), 5);
    for s in SCANNERS {
        assert!(a.source_ips.iter().any(|x| x == s), "{s} listed");
    }
    assert!(
        a.summary
            .starts_with("internet background: 5 sources, 25 failed attempts, 0 successes"),
        "{}",
        a.summary
    );
    assert_eq!((stats.rolled_up, stats.rollups), (5, 1));
    // Each member keeps the fingerprint of the alert it would have been.
    let (alone, _) = run(
        &hits,
        &[],
        &AlertConfig {
            rollup: RollupConfig {
                min_sources: 0,
                ..RollupConfig::default()
            },
            ..AlertConfig::default()
        },
    );
    assert_eq!(alone.len(), 5);
    for m in &a.members {
        assert!(alone
            .iter()
            .any(|x| x.fingerprint == m.fingerprint && x.source_ips == [m.source.clone()]));
    }
}

/// On a host the internet scans all day, the model's budget singles out
/// the most unusual scanners: each was an alert of its own (959 of 1,006
/// alerts on a generated high-cardinality log of 10M events).
#[test]
fn the_models_alerts_alone_on_dictionary_scanners_roll_up_and_on_real_accounts_do_not() {
    let scanners = ["80.94.95.1", "80.94.95.2", "80.94.95.3"];
    let mut log = String::new();
    let mut eps = Vec::new();
    for (n, source) in scanners.iter().chain([&SPRAYER]).enumerate() {
        eps.push(episode("source_ip", source, &[(n as i64 * 60, 9.0)], 7.5));
        let users: &[&str] = if *source == SPRAYER {
            &["anna", "bob", "carl"]
        } else {
            &["oracle", "pi", "root"]
        };
        for (i, user) in users.iter().enumerate() {
            let invalid = if *user == "root" || *source == SPRAYER {
                ""
            } else {
                "invalid user "
            };
            log.push_str(&format!(
                "Mar  4 0{n}:1{i}:00 web-01 sshd[{n}{i}]: Failed password for {invalid}{user} from {source} port 2222 ssh2\n"
            ));
        }
    }
    let extra = Extra {
        log: compact_of(&log),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(&[], &[], &eps, &extra, &AlertConfig::default());
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(stats.rolled_up, 3);
    let rollup = alerts.iter().find(|a| !a.members.is_empty()).expect("a roll-up");
    assert_eq!(rollup.target_hosts, vec!["web-01"]);
    assert_eq!(rollup.rule_ids, vec!["LLX-BASE-BKG", "LLX-BASE-ACC"]);
    let alone = alerts.iter().find(|a| a.members.is_empty()).unwrap();
    assert_eq!(alone.source_ips, vec![SPRAYER]);
}

#[test]
fn a_source_that_is_more_than_background_noise_alerts_on_its_own() {
    let mut hits: Vec<RuleHit> = SCANNERS.iter().map(|s| brute_force(s, "web-01", 0)).collect();
    // Internal: a private address and an internal host name.
    hits.push(brute_force(PRIVATE, "web-01", 10));
    hits.push(brute_force("build-7.corp", "web-01", 10));
    // Spraying, HIGH, against three accounts that exist.
    let spray = |source: &str| {
        let mut h = brute_force(source, "web-01", 20);
        h.rule_id = "LLX-AUTH-001".into();
        h.severity = Severity::High;
        h
    };
    hits.push(spray(SPRAYER));
    // Against two hosts.
    let mut wide = hit(
        "LLX-SSH-001",
        Severity::Low,
        &[("source", "203.0.113.9"), ("host", "web-01"), ("host", "web-02")],
        30,
        35,
    );
    wide.hosts = vec!["web-01".into(), "web-02".into()];
    hits.push(wide);
    // And one of the scanners logs in later in the input.
    let mut log = format!(
        "Mar  4 23:00:00 web-01 sshd[1]: Accepted password for anna from {} port 2222 ssh2\n",
        SCANNERS[3]
    );
    for (i, user) in ["anna", "bob", "carl"].iter().enumerate() {
        log.push_str(&format!(
            "Mar  4 00:2{i}:00 web-01 sshd[1{i}]: Failed password for {user} from {SPRAYER} port 2222 ssh2\n"
        ));
    }
    let extra = Extra {
        log: compact_of(&log),
        ..Extra::default()
    };
    let (alerts, stats) = merge_all(&hits, &[], &[], &extra, &AlertConfig::default());
    let rollup = alerts.iter().find(|a| !a.members.is_empty()).expect("a roll-up");
    let mut listed = rollup.source_ips.clone();
    listed.sort();
    let mut want = SCANNERS[..3].to_vec();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(stats.rolled_up, 3);
    let alone: Vec<&str> = alerts
        .iter()
        .filter(|a| a.members.is_empty())
        .map(|a| a.source_ips[0].as_str())
        .collect();
    for s in [SCANNERS[3], PRIVATE, "build-7.corp", SPRAYER, "203.0.113.9"] {
        assert!(alone.contains(&s), "{s} alerts alone: {alone:?}");
    }
}

#[test]
fn too_few_background_sources_stay_alerts_and_periods_split_rollups() {
    let hits: Vec<RuleHit> = SCANNERS[..2].iter().map(|s| brute_force(s, "web-01", 0)).collect();
    let (alerts, stats) = merged(&hits, &[]);
    assert_eq!((alerts.len(), stats.rolled_up), (2, 0));
    // Three sources on each of two days: one roll-up each with a 1-day
    // period, one for both without.
    let hits: Vec<RuleHit> = (0..2)
        .flat_map(|day| {
            SCANNERS[..3]
                .iter()
                .map(move |s| brute_force(s, "web-01", day * 24 * 60))
        })
        .collect();
    let daily = AlertConfig {
        rollup: RollupConfig {
            period: Some(MICROS_PER_DAY),
            ..RollupConfig::default()
        },
        ..AlertConfig::default()
    };
    let (alerts, stats) = run(&hits, &[], &daily);
    assert_eq!((alerts.len(), stats.rollups, stats.rolled_up), (2, 2, 6));
    let (alerts, stats) = merged(&hits, &[]);
    assert_eq!((alerts.len(), stats.rollups, stats.rolled_up), (1, 1, 6));
    // Alerts above LOW only: the roll-up (LOW) would hide its members.
    let medium = AlertConfig {
        min_severity: Severity::Medium,
        ..AlertConfig::default()
    };
    let (_, stats) = run(&hits, &[], &medium);
    assert_eq!(stats.rolled_up, 0);
}

#[test]
fn the_merge_attaches_only_anomalies_of_entities_a_hit_an_alerting_episode_or_a_hosts_event_names() {
    // A population on web-01 whose one login (carol from 81.2.69.12) only
    // the population's hit names, a brute force, and an episode.
    let (lines, history) = stuffing_on_web01();
    let mut calibration = calibration();
    calibration.population = Some(PopulationCalibration::new(&[1, 1], 10_000, ["root".to_string()].into()));
    let extra = Extra {
        calibration: Some(calibration),
        history: Some(history),
        log: compact_of(&lines),
        ..Extra::default()
    };
    let hits = [brute_force(PUBLIC, "db-01", 600)];
    // The second episode is under the threshold (7 nats): it makes no alert.
    let episodes = [
        episode("source_ip", PUBLIC2, &[(900, 9.0), (960, 9.0)], 12.0),
        episode("source_ip", "198.51.100.9", &[(300, 4.0)], 2.0),
    ];
    let anomalies = [
        failing_source("81.2.69.12", 180),
        failing_source(PUBLIC, 590),
        Anomaly {
            flagged: false,
            ..failing_source(PUBLIC2, 900)
        },
        // Nothing that alerts names these.
        Anomaly {
            flagged: false,
            ..failing_source("198.51.100.9", 300)
        },
        failing_source("198.51.100.77", 600),
        anomaly("user", "nobody-named", 600, 0.9999, &[("failures", 9.0, 1.0)]),
    ];
    let logs = crate::alerts::EventLogs::whole(&extra.log);
    let wanted = logs.anomaly_entities(&hits, &episodes, extra.calibration.as_ref().unwrap(), 0.3);
    let read_back: Vec<Anomaly> = anomalies
        .iter()
        .filter(|a| wanted.contains(&(a.entity_kind, a.entity.as_str())))
        .cloned()
        .collect();
    assert_eq!(read_back.len(), 3);
    let (every, every_stats) = merge_all(&hits, &anomalies, &episodes, &extra, &AlertConfig::default());
    let (asked, asked_stats) = merge_all(&hits, &read_back, &episodes, &extra, &AlertConfig::default());
    let json = |alerts: &[Alert]| serde_json::to_string(alerts).unwrap();
    assert_eq!(json(&asked), json(&every));
    assert_eq!(asked_stats.anomalies_corroborating, every_stats.anomalies_corroborating);
    // Each kept anomaly made it into an alert: the login's source through
    // the population's hit, the brute force's source, the episode's.
    for entity in ["81.2.69.12", PUBLIC, PUBLIC2] {
        assert!(
            every.iter().any(|a| a.anomalies.iter().any(|x| x.entity == entity)),
            "{entity}: {every:#?}"
        );
    }
}

#[test]
fn the_episodes_under_the_threshold_of_users_and_sources_nothing_names_change_no_alert() {
    // alice's new address alerts only with her episode under the threshold
    // (the rarity reads it); dave's and a scanner's are named by nothing.
    let (lines, _) = stuffing_on_web01();
    let extra = Extra {
        novelty: Some(alice_novelty(400, 0, 0)),
        log: compact_of(&lines),
        ..Extra::default()
    };
    let hits = [alice_new_source()];
    let every = [
        episode("user", "alice", &[(0, 3.8)], 1.5),
        episode("user", "dave", &[(0, 3.8)], 1.5),
        episode("source_ip", "198.51.100.9", &[(0, 4.0)], 2.0),
        episode("source_ip", PUBLIC2, &[(900, 9.0), (960, 9.0)], 12.0),
    ];
    let logs = crate::alerts::EventLogs::whole(&extra.log);
    let named = logs.users_and_sources_named(&hits);
    // The hosts' events name every user and source population hits can.
    for (kind, name) in [(EntityKind::User, "carol"), (EntityKind::SourceIp, "81.2.69.12")] {
        assert!(named.contains(&(kind, name)), "{name}");
    }
    let cal = calibration();
    let kept: Vec<EntityEpisode> = every
        .iter()
        .filter(|e| {
            crate::alerts::alerts(&cal, e, cal.config.alert_budget)
                || named.contains(&(e.entity_kind, e.entity.as_str()))
        })
        .cloned()
        .collect();
    let kept_names: Vec<&str> = kept.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(kept_names, ["alice", PUBLIC2]);
    let (all, all_stats) = merge_all(&hits, &[], &every, &extra, &AlertConfig::default());
    let (asked, asked_stats) = merge_all(&hits, &[], &kept, &extra, &AlertConfig::default());
    let json = |alerts: &[Alert]| serde_json::to_string(alerts).unwrap();
    assert_eq!(json(&asked), json(&all));
    assert_eq!(asked_stats.rarity_alerts, 1);
    assert_eq!(all_stats.rarity_alerts, 1);
    assert!(all.iter().any(|a| a.rule_ids.contains(&"LLX-BASE-RARE".to_owned())));
}
