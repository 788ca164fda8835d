//! Step 11 of merging: the verdicts' re-ranker ([`AlertReranker`], kept in
//! the model bundle by `loglynx-train --feedback … --alerts …`) gives each
//! alert its probability of being a true positive. Alerts it finds unlikely
//! (below `--demote-below`) are demoted to LOW, sorted last and say why,
//! but only when analysts called an alert sharing its rules a false
//! positive before: an alert of a kind never judged false is only ordered.
//! Nothing is dropped.

use loglynx_baseline::rerank::{AlertReranker, ReviewedAlert};
use loglynx_features::aggregate::ValidFeatureConfig;
use serde::Serialize;

use crate::alerts::Alert;
use crate::rules::Severity;

/// The re-ranker and when it demotes.
#[derive(Debug, Clone)]
pub struct RerankConfig {
    pub reranker: AlertReranker,
    /// The features' business hours (the `off_hours` column).
    pub hours: Option<ValidFeatureConfig>,
    /// Alerts below this probability of being a true positive are demoted
    /// (0: none is).
    pub demote_below: f64,
}

/// What the re-ranker said of one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reranked {
    /// P(true positive) from the analysts' earlier verdicts.
    pub true_positive_probability: f64,
    /// The severity before a demotion to LOW.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demoted_from: Option<Severity>,
    /// `demoted: P(true positive) = 0.07; similar alerts were marked false
    /// positive 14 times, true positive 0 times (log-odds: …)`.
    pub explanation: String,
}

impl Reranked {
    pub fn demoted(&self) -> bool {
        self.demoted_from.is_some()
    }
}

/// What the re-ranker reads of an alert.
pub fn reviewed(a: &Alert) -> ReviewedAlert {
    ReviewedAlert {
        id: a.id.clone(),
        fingerprint: a.fingerprint.clone(),
        primary: a.primary.clone(),
        severity: a.severity,
        risk_score: a.risk_score,
        first_seen: a.first_seen.clone(),
        last_seen: a.last_seen.clone(),
        source_ips: a.source_ips.clone(),
        target_hosts: a.target_hosts.clone(),
        users: a.users.clone(),
        events: a.events,
        rule_ids: a.rule_ids.clone(),
        anomalies: a.anomalies.len(),
        routine: a.routine.clone(),
    }
}

/// Ranks every alert; returns how many were demoted.
pub fn apply(alerts: &mut [Alert], cfg: &RerankConfig) -> usize {
    let mut demoted = 0;
    for a in alerts.iter_mut() {
        let ranking = cfg.reranker.rank(&reviewed(a), cfg.hours.as_ref());
        let demote = ranking.probability < cfg.demote_below && ranking.similar.not_true_positive > 0;
        let demoted_from = demote.then_some(a.severity);
        if demote {
            demoted += 1;
            a.severity = Severity::Low;
        }
        a.reranked = Some(Reranked {
            true_positive_probability: ranking.probability,
            demoted_from,
            explanation: format!("{}: {ranking}", if demote { "demoted" } else { "re-ranked" }),
        });
    }
    demoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::test_alert;
    use loglynx_baseline::rerank::Judged;
    use loglynx_models::logistic::LogisticParams;

    /// Verdicts: the internal scanner's SSH brute force is routine (false
    /// positive), brute force from outside is not.
    fn reranker() -> AlertReranker {
        let judged: Vec<Judged> = (0..12)
            .map(|i| {
                let internal = i % 2 == 0;
                let ip = if internal {
                    format!("10.0.6.{i}")
                } else {
                    format!("198.51.100.{i}")
                };
                let mut a = test_alert(&format!("source={ip}"), &["LLX-SSH-001"], 0);
                a.source_ips = vec![ip];
                a.severity = Severity::Medium;
                Judged {
                    alert: reviewed(&a),
                    true_positive: !internal,
                }
            })
            .collect();
        AlertReranker::fit(&judged, None, &LogisticParams::default().check().unwrap()).unwrap()
    }

    fn config(demote_below: f64) -> RerankConfig {
        RerankConfig {
            reranker: reranker(),
            hours: None,
            demote_below,
        }
    }

    fn brute_force(ip: &str, severity: Severity) -> Alert {
        let mut a = test_alert(&format!("source={ip}"), &["LLX-SSH-001"], 0);
        a.source_ips = vec![ip.to_owned()];
        a.severity = severity;
        a
    }

    #[test]
    fn an_alert_like_judged_false_positives_is_demoted_and_says_why() {
        let mut alerts = vec![
            brute_force("10.9.9.9", Severity::High),
            brute_force("203.0.113.7", Severity::Medium),
        ];
        assert_eq!(apply(&mut alerts, &config(DEFAULT_DEMOTE)), 1);
        let internal = alerts[0].reranked.as_ref().unwrap();
        assert_eq!(internal.demoted_from, Some(Severity::High));
        assert_eq!(alerts[0].severity, Severity::Low);
        assert!(
            internal.true_positive_probability < DEFAULT_DEMOTE,
            "{}",
            internal.explanation
        );
        assert!(internal.explanation.starts_with("demoted: P(true positive) = 0."));
        assert!(internal.explanation.contains("(log-odds: external_source −"));
        assert!(internal
            .explanation
            .contains("alerts sharing its rules were marked false positive 6 times, true positive 6 times"));
        let external = alerts[1].reranked.as_ref().unwrap();
        assert!(!external.demoted() && external.true_positive_probability > 0.5);
        assert_eq!(alerts[1].severity, Severity::Medium);
    }

    #[test]
    fn an_alert_of_rules_never_judged_false_is_not_demoted_and_zero_only_reorders() {
        let mut a = brute_force("10.9.9.9", Severity::Critical);
        a.rule_ids = vec!["LLX-ACCT-001".into()];
        let mut alerts = vec![a];
        assert_eq!(apply(&mut alerts, &config(DEFAULT_DEMOTE)), 0);
        assert_eq!(alerts[0].severity, Severity::Critical);
        let r = alerts[0].reranked.as_ref().unwrap();
        assert!(
            r.explanation.contains("no verdict on similar alerts yet"),
            "{}",
            r.explanation
        );
        let mut alerts = vec![brute_force("10.9.9.9", Severity::High)];
        assert_eq!(apply(&mut alerts, &config(0.0)), 0);
        assert!(alerts[0]
            .reranked
            .as_ref()
            .unwrap()
            .explanation
            .starts_with("re-ranked: "));
    }

    const DEFAULT_DEMOTE: f64 = loglynx_baseline::rerank::DEFAULT_DEMOTE_BELOW;
}
