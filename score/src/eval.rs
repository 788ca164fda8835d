//! Evaluation against labelled campaigns (from `loglynx-gen`): which
//! campaigns the alerts detect, how many alerts match no campaign, and the
//! same for a naive detector (5 failures per source and host within
//! 5 minutes, one alert each time) on the same events.

use std::collections::BTreeMap;

use loglynx_features::event::{Action, Micros, Outcome};
use loglynx_features::output::compact::{CompactLog, EventClass, KeepEvents};
use loglynx_features::time::{MICROS_PER_HOUR, MICROS_PER_MINUTE};
use loglynx_labels::{CampaignKind, CampaignLabel};
use serde::Serialize;

use crate::alerts::Alert;
use crate::policy::PolicyRule;

/// Slack around a campaign's span when matching alerts to it.
const SLACK: Micros = MICROS_PER_HOUR;

/// Rule ids that name each campaign kind correctly; `anomaly` stands for an
/// alert made by the model.
pub fn expected_detections(kind: CampaignKind) -> &'static [&'static str] {
    match kind {
        CampaignKind::BruteForceFast => &["LLX-SSH-001"],
        CampaignKind::BruteForceSlow => &["LLX-SSH-001", "LLX-SSH-003", "LLX-BASE-ACC", "anomaly"],
        CampaignKind::PasswordSpraying => &["LLX-AUTH-001"],
        CampaignKind::DistributedBruteForce => &["LLX-AUTH-003"],
        CampaignKind::UserEnumeration => &["LLX-AUTH-002"],
        CampaignKind::AccountCompromise => &["LLX-AUTH-004", "LLX-ACCT-001", "LLX-NEW-001", "LLX-NEW-002", "anomaly"],
        // One source paced under the spraying rule's 5 minutes trips the
        // slow brute-force rule's 6 hours on a host it visits long enough.
        CampaignKind::SlowSpray => &["LLX-AUTH-001", "LLX-SSH-003", "LLX-BASE-ACC", "anomaly"],
        CampaignKind::CredentialStuffing => &["LLX-BASE-POP", "LLX-AUTH-003", "LLX-AUTH-007", "anomaly"],
        CampaignKind::DormantAccount => &["LLX-BASE-RARE", "LLX-NEW-001", "LLX-NEW-002", "LLX-NEW-003", "anomaly"],
        CampaignKind::LateralMovement => &["LLX-LAT-001", "anomaly"],
        CampaignKind::StolenKey => &[
            "LLX-BASE-RARE",
            "LLX-NEW-001",
            "LLX-NEW-004",
            "LLX-NEW-005",
            "LLX-BASE-ACC",
            "anomaly",
        ],
        CampaignKind::ConcurrentUse => &["LLX-AUTH-006", "LLX-BASE-RARE"],
        CampaignKind::BenignNoisyScript
        | CampaignKind::BenignCredentialAudit
        | CampaignKind::BenignTravel
        | CampaignKind::BenignAdminHop
        | CampaignKind::BenignFirstSudo
        | CampaignKind::BenignVulnScan
        | CampaignKind::BenignPasswordRotation
        | CampaignKind::BenignNewAdmin => &[],
    }
}

/// A span and the entities of one alert (or naive alert).
#[derive(Debug, Clone)]
pub struct AlertView {
    pub first: Micros,
    pub last: Micros,
    pub sources: Vec<String>,
    pub users: Vec<String>,
    /// Target hosts.
    pub hosts: Vec<String>,
    /// Rule ids, plus `anomaly` when the model contributed.
    pub detections: Vec<String>,
}

impl From<&Alert> for AlertView {
    fn from(a: &Alert) -> Self {
        let mut detections = a.rule_ids.clone();
        if !a.anomalies.is_empty() {
            detections.push("anomaly".into());
        }
        AlertView {
            first: a.first,
            last: a.last,
            sources: a.source_ips.clone(),
            users: a.users.clone(),
            hosts: a.target_hosts.clone(),
            detections,
        }
    }
}

fn matches(a: &AlertView, c: &CampaignLabel) -> bool {
    let (cs, ce) = (c.start.timestamp_micros() - SLACK, c.end.timestamp_micros() + SLACK);
    if a.last < cs || a.first > ce {
        return false;
    }
    let by_source = a.sources.iter().any(|s| c.source_ips.contains(s));
    // Campaigns defined by their accounts (never `root`, which every host
    // has); the noisy scripts are known by their own internal source address.
    let by_user = matches!(
        c.kind,
        CampaignKind::DistributedBruteForce
            | CampaignKind::AccountCompromise
            | CampaignKind::DormantAccount
            | CampaignKind::LateralMovement
            | CampaignKind::StolenKey
            | CampaignKind::ConcurrentUse
            | CampaignKind::BenignTravel
            | CampaignKind::BenignAdminHop
            | CampaignKind::BenignFirstSudo
            | CampaignKind::BenignPasswordRotation
            | CampaignKind::BenignNewAdmin
    ) && a.users.iter().any(|u| c.users.contains(u) && u != "root");
    // Stuffing spreads over many addresses, but all against one host.
    let by_host = c.kind == CampaignKind::CredentialStuffing && a.hosts.iter().any(|h| c.hosts.contains(h));
    by_source || by_user || by_host
}

/// Per-campaign outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignResult {
    pub id: String,
    pub kind: String,
    pub malicious: bool,
    /// Some alert matches its entities and time.
    pub alerted: bool,
    /// Some matching alert carries a detection that names its kind.
    pub detected_as_kind: bool,
    pub alerts: usize,
}

/// Outcome for the campaigns of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindResult {
    pub campaigns: usize,
    /// Campaigns some alert matches.
    pub alerted: usize,
    /// Campaigns some matching alert names correctly.
    pub detected_as_kind: usize,
    /// Alerts matching a campaign of this kind (an alert matching two
    /// campaigns counts for each).
    pub alerts: usize,
}

/// Outcome of one detector.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorResult {
    pub alerts: usize,
    /// Alerts matching a malicious campaign.
    pub true_alerts: usize,
    /// Alerts matching only a labelled benign pattern.
    pub benign_alerts: usize,
    /// Alerts matching no campaign at all.
    pub unmatched_alerts: usize,
    /// Alerts that are not true (benign + unmatched).
    pub false_alerts: usize,
    pub campaigns_alerted: usize,
    pub campaigns_detected_as_kind: usize,
    pub malicious_campaigns: usize,
    pub benign_patterns_alerted: usize,
    pub recall: f64,
    pub campaigns: Vec<CampaignResult>,
    /// The campaigns by kind (keyword), benign ones included.
    pub by_kind: BTreeMap<String, KindResult>,
}

/// Both detectors side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub loglynx: DetectorResult,
    pub naive: DetectorResult,
    /// 1 − loglynx false alerts / naive false alerts.
    pub false_alert_reduction: f64,
    /// False alerts of loglynx raised by the baseline's evidence (an
    /// `LLX-BASE-*` detection or a login from a population's source); the
    /// rest came from rules alone.
    pub model_false_alerts: usize,
    /// How many model-driven alerts the alert budget expects on this input:
    /// budget × its entity-days / 1,000 (set by the scorer).
    pub model_alert_allowance: f64,
    /// False alerts of loglynx demoted to LOW and labelled as routine.
    pub routine_false_alerts: usize,
    /// What the labels say of each of loglynx's alerts, in output order:
    /// the verdicts a perfect analyst would give (`--verdict-template`).
    pub alert_truth: Vec<AlertTruth>,
    /// Alerts the verdicts' re-ranker demoted: `loglynx` above judges the
    /// others, the alerts a person reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demoted: Option<DemotedResult>,
}

/// What the re-ranker demoted.
#[derive(Debug, Clone, Serialize)]
pub struct DemotedResult {
    pub alerts: usize,
    pub true_alerts: usize,
    pub false_alerts: usize,
    /// Malicious campaigns that only demoted alerts name (lost to a reader
    /// who skips demoted alerts).
    pub campaigns_only_demoted: usize,
}

/// What the labels say of one alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertTruth {
    pub id: String,
    pub fingerprint: String,
    /// `true` (matches a malicious campaign), `benign` (only a labelled
    /// benign pattern) or `unmatched`.
    pub truth: &'static str,
}

/// Scores one detector's alerts against the labels.
pub fn judge(alerts: &[AlertView], labels: &[CampaignLabel]) -> DetectorResult {
    let mut true_alerts = 0;
    let mut benign_alerts = 0;
    let mut unmatched = 0;
    let mut per_campaign: Vec<(usize, bool)> = vec![(0, false); labels.len()];
    for a in alerts {
        let mut malicious = false;
        let mut benign = false;
        for (i, c) in labels.iter().enumerate() {
            if matches(a, c) {
                per_campaign[i].0 += 1;
                if a.detections
                    .iter()
                    .any(|d| expected_detections(c.kind).contains(&d.as_str()))
                {
                    per_campaign[i].1 = true;
                }
                if c.malicious {
                    malicious = true;
                } else {
                    benign = true;
                }
            }
        }
        if malicious {
            true_alerts += 1;
        } else if benign {
            benign_alerts += 1;
        } else {
            unmatched += 1;
        }
    }
    let campaigns: Vec<CampaignResult> = labels
        .iter()
        .zip(&per_campaign)
        .map(|(c, &(n, kind_ok))| CampaignResult {
            id: c.id.clone(),
            kind: c.kind.as_str().to_owned(),
            malicious: c.malicious,
            alerted: n > 0,
            detected_as_kind: kind_ok,
            alerts: n,
        })
        .collect();
    let mut by_kind: BTreeMap<String, KindResult> = BTreeMap::new();
    for c in &campaigns {
        let k = by_kind.entry(c.kind.clone()).or_default();
        k.campaigns += 1;
        k.alerted += usize::from(c.alerted);
        k.detected_as_kind += usize::from(c.detected_as_kind);
        k.alerts += c.alerts;
    }
    let malicious: Vec<&CampaignResult> = campaigns.iter().filter(|c| c.malicious).collect();
    let alerted = malicious.iter().filter(|c| c.alerted).count();
    DetectorResult {
        alerts: alerts.len(),
        true_alerts,
        benign_alerts,
        unmatched_alerts: unmatched,
        false_alerts: benign_alerts + unmatched,
        campaigns_alerted: alerted,
        campaigns_detected_as_kind: malicious.iter().filter(|c| c.detected_as_kind).count(),
        malicious_campaigns: malicious.len(),
        benign_patterns_alerted: campaigns.iter().filter(|c| !c.malicious && c.alerted).count(),
        recall: if malicious.is_empty() {
            f64::NAN
        } else {
            alerted as f64 / malicious.len() as f64
        },
        campaigns,
        by_kind,
    }
}

/// The events [`naive_alerts`] reads: failed authentications from a source.
pub fn events_read() -> KeepEvents {
    let mut keep = KeepEvents::none();
    keep.add(EventClass {
        actions: 1 << Action::Authentication as u32,
        outcomes: 1 << Outcome::Failure as u8,
        has_source: Some(true),
        ..EventClass::ANY
    });
    keep
}

/// The naive detector: per (source, host), an alert each time 5 failed
/// authentications fall within 5 minutes; its count restarts after each alert.
pub fn naive_alerts(log: &CompactLog) -> Vec<AlertView> {
    let mut groups: BTreeMap<(u32, u32), Vec<Micros>> = BTreeMap::new();
    for e in &log.events {
        if e.action == Action::Authentication && e.outcome == Outcome::Failure && e.source.is_some() {
            let g = groups.entry((e.source.0, e.host.0)).or_default();
            for _ in 0..e.repeat.max(1) {
                g.push(e.timestamp);
            }
        }
    }
    let mut out = Vec::new();
    for ((source, _host), mut times) in groups {
        times.sort_unstable();
        let mut start = 0;
        let mut i = 0;
        while i < times.len() {
            while times[i] - times[start] > 5 * MICROS_PER_MINUTE {
                start += 1;
            }
            if i + 1 - start >= 5 {
                out.push(AlertView {
                    first: times[start],
                    last: times[i],
                    sources: vec![log
                        .strings
                        .str(loglynx_features::output::compact::Sym(source))
                        .to_owned()],
                    users: vec![],
                    hosts: vec![],
                    detections: vec!["naive".into()],
                });
                start = i + 1;
            }
            i += 1;
        }
    }
    out
}

/// Evaluates loglynx's alerts and the naive detector on the same log.
pub fn evaluate(alerts: &[Alert], log: &CompactLog, labels: &[CampaignLabel]) -> Evaluation {
    let views: Vec<AlertView> = alerts.iter().map(AlertView::from).collect();
    let is_demoted = |a: &Alert| a.reranked.as_ref().is_some_and(|r| r.demoted());
    let pick = |demoted: bool| -> Vec<AlertView> {
        alerts
            .iter()
            .zip(&views)
            .filter(|(a, _)| is_demoted(a) == demoted)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let loglynx = judge(&pick(false), labels);
    let demoted = alerts.iter().any(|a| a.reranked.is_some()).then(|| {
        let d = judge(&pick(true), labels);
        DemotedResult {
            alerts: d.alerts,
            true_alerts: d.true_alerts,
            false_alerts: d.false_alerts,
            campaigns_only_demoted: d
                .campaigns
                .iter()
                .zip(&loglynx.campaigns)
                .filter(|(d, r)| d.malicious && d.alerted && !r.alerted)
                .count(),
        }
    });
    let naive = judge(&naive_alerts(log), labels);
    let false_alert_reduction = if naive.false_alerts == 0 {
        f64::NAN
    } else {
        1.0 - loglynx.false_alerts as f64 / naive.false_alerts as f64
    };
    let alert_truth: Vec<AlertTruth> = alerts
        .iter()
        .zip(&views)
        .map(|(a, v)| AlertTruth {
            id: a.id.clone(),
            fingerprint: a.fingerprint.clone(),
            truth: if labels.iter().any(|c| c.malicious && matches(v, c)) {
                "true"
            } else if labels.iter().any(|c| matches(v, c)) {
                "benign"
            } else {
                "unmatched"
            },
        })
        .collect();
    let false_where = |pred: &dyn Fn(&Alert) -> bool| {
        alerts
            .iter()
            .zip(&alert_truth)
            .filter(|(a, t)| !is_demoted(a) && pred(a) && t.truth != "true")
            .count()
    };
    let model_false_alerts = false_where(&|a| a.rule_ids.iter().any(|id| PolicyRule::get(id).is_some()));
    let routine_false_alerts = false_where(&|a| a.routine.is_some());
    Evaluation {
        loglynx,
        naive,
        false_alert_reduction,
        model_false_alerts,
        model_alert_allowance: 0.0,
        routine_false_alerts,
        alert_truth,
        demoted,
    }
}

/// A Markdown table of the evaluation.
pub fn render(e: &Evaluation) -> String {
    let row = |name: &str, d: &DetectorResult| {
        format!(
            "| {name} | {} | {} | {} | {} | {}/{} | {}/{} | {} |\n",
            d.alerts,
            d.true_alerts,
            d.benign_alerts,
            d.unmatched_alerts,
            d.campaigns_alerted,
            d.malicious_campaigns,
            d.campaigns_detected_as_kind,
            d.malicious_campaigns,
            d.benign_patterns_alerted
        )
    };
    let mut s = String::from(
        "| detector | alerts | true | on benign patterns | matching nothing | campaigns alerted | detected as their kind | benign patterns alerted |\n|---|---|---|---|---|---|---|---|\n",
    );
    s.push_str(&row("loglynx", &e.loglynx));
    s.push_str(&row("naive (5 failures / source+host / 5 min)", &e.naive));
    s.push_str(&format!(
        "\nfalse alerts (benign + matching nothing): loglynx {}, naive {}: {:.1}% fewer\n",
        e.loglynx.false_alerts,
        e.naive.false_alerts,
        100.0 * e.false_alert_reduction
    ));
    s.push_str(&format!(
        "of loglynx's, raised by the baseline's evidence: {} (the alert budget expects about {:.1} on this input); \
         demoted as routine: {}\n",
        e.model_false_alerts, e.model_alert_allowance, e.routine_false_alerts
    ));
    for c in e
        .loglynx
        .campaigns
        .iter()
        .filter(|c| c.malicious && !c.detected_as_kind)
    {
        s.push_str(&format!(
            "missed as its kind: {} {} (alerted: {})\n",
            c.id, c.kind, c.alerted
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn label(id: &str, kind: CampaignKind, ips: &[&str], users: &[&str], hosts: &[&str]) -> CampaignLabel {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        CampaignLabel {
            id: id.into(),
            kind,
            malicious: kind.is_malicious(),
            source_ips: ips.iter().map(|s| s.to_string()).collect(),
            users: users.iter().map(|s| s.to_string()).collect(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            start: at("2026-03-02T10:00:00Z"),
            end: at("2026-03-02T12:00:00Z"),
            events: 10,
        }
    }

    fn alert(hour: i64, sources: &[&str], users: &[&str], hosts: &[&str], rule: &str) -> AlertView {
        let t = "2026-03-02T00:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
            .timestamp_micros()
            + hour * MICROS_PER_HOUR;
        AlertView {
            first: t,
            last: t,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            users: users.iter().map(|s| s.to_string()).collect(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            detections: vec![rule.into()],
        }
    }

    #[test]
    fn stuffing_matches_by_host_and_account_kinds_by_user() {
        let labels = [
            label(
                "c0001",
                CampaignKind::CredentialStuffing,
                &["203.0.113.5"],
                &["eva"],
                &["web-02"],
            ),
            label(
                "c0002",
                CampaignKind::LateralMovement,
                &["10.20.1.100"],
                &["hugo", "root"],
                &["db-01"],
            ),
            label(
                "c0003",
                CampaignKind::SlowSpray,
                &["198.51.100.7"],
                &["ana"],
                &["web-01"],
            ),
            label(
                "b0001",
                CampaignKind::BenignTravel,
                &["192.0.2.9"],
                &["judy"],
                &["web-01"],
            ),
        ];
        let alerts = [
            // Names the stuffing host within the span (± slack): matched.
            alert(12, &["198.18.0.1"], &[], &["web-02"], "LLX-BASE-POP"),
            // The same host a day later: no match.
            alert(36, &["198.18.0.1"], &[], &["web-02"], "LLX-BASE-POP"),
            // By user for lateral movement, but never by root.
            alert(11, &[], &["hugo"], &["app-01"], "LLX-LAT-001"),
            alert(11, &[], &["root"], &["app-01"], "LLX-LAT-001"),
            // Slow spray matches by source only; a host or user is not enough.
            alert(11, &[], &["ana"], &["web-01"], "LLX-AUTH-001"),
            alert(11, &["198.51.100.7"], &[], &[], "LLX-BASE-ACC"),
            // The traveller, by user: a benign match.
            alert(10, &[], &["judy"], &[], "LLX-BASE-RARE"),
        ];
        let r = judge(&alerts, &labels);
        let by_id: BTreeMap<&str, &CampaignResult> = r.campaigns.iter().map(|c| (c.id.as_str(), c)).collect();
        assert_eq!(by_id["c0001"].alerts, 1);
        assert!(by_id["c0001"].detected_as_kind);
        assert_eq!(by_id["c0002"].alerts, 1);
        assert!(by_id["c0002"].detected_as_kind);
        assert_eq!(by_id["c0003"].alerts, 1);
        assert!(by_id["c0003"].detected_as_kind);
        assert_eq!(by_id["b0001"].alerts, 1);
        assert_eq!((r.true_alerts, r.benign_alerts, r.unmatched_alerts), (3, 1, 3));
        assert_eq!(r.campaigns_alerted, 3);
        assert_eq!(r.malicious_campaigns, 3);
        assert_eq!(r.benign_patterns_alerted, 1);
        let k = &r.by_kind["credential-stuffing"];
        assert_eq!((k.campaigns, k.alerted, k.detected_as_kind, k.alerts), (1, 1, 1, 1));
        assert_eq!(r.by_kind["benign-travel"].detected_as_kind, 0);
        assert_eq!(r.by_kind.len(), 4);
    }

    #[test]
    fn look_alikes_expect_nothing_and_stealthy_kinds_something() {
        for k in CampaignKind::LOOK_ALIKES {
            assert!(expected_detections(k).is_empty(), "{k}");
        }
        for k in CampaignKind::STEALTHY.into_iter().chain(CampaignKind::ATTACKS) {
            assert!(!expected_detections(k).is_empty(), "{k}");
        }
    }
}
