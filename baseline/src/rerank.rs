//! The supervised re-ranker: a logistic regression (smartcore, see
//! [`loglynx_models::logistic`]) fitted on the features of alerts that
//! analysts judged, kept in the baseline bundle. Scoring asks it how likely
//! each new alert is to be a true positive, orders alerts by it and demotes
//! those it finds unlikely, saying why.
//!
//! An alert's features ([`ReviewedAlert::features`]) describe what kind of
//! alert it is, never who it is about: severity and risk, how many events,
//! sources, hosts and users, whether a source is external, whether the
//! baseline's evidence is in it, whether it started outside business hours,
//! and which rules fired (one column per rule the training alerts used).
//! So a verdict teaches about alerts like it on other entities too, which
//! an exact verdict pattern (`--feedback` in scoring) cannot.

use std::collections::BTreeMap;
use std::fmt;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::aggregate::ValidFeatureConfig;
use loglynx_features::event::{parse_ip, Micros};
use loglynx_models::logistic::{LogisticModel, ValidLogisticParams};
use loglynx_models::{Inconsistency, ModelError};
use loglynx_rules::Severity;
use serde::{Deserialize, Serialize};

/// Below this probability of being a true positive an alert is demoted.
pub const DEFAULT_DEMOTE_BELOW: f64 = 0.2;

/// Prefix of the per-rule feature columns.
const RULE_PREFIX: &str = "rule:";

/// The features every re-ranker has, before the per-rule columns.
pub const BASE_FEATURES: &[&str] = &[
    "severity",
    "risk",
    "log_events",
    "log_sources",
    "log_hosts",
    "log_users",
    "external_source",
    "about_source",
    "about_user",
    "about_host",
    "baseline_evidence",
    "off_hours",
    "log_minutes",
    "routine",
    "root_user",
];

/// What the re-ranker reads of an alert: the fields of `loglynx-score`'s
/// alert output it needs (unknown fields are ignored, so it reads the
/// NDJSON alerts file as written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedAlert {
    pub id: String,
    pub fingerprint: String,
    pub primary: String,
    pub severity: Severity,
    pub risk_score: u8,
    /// RFC 3339.
    pub first_seen: String,
    pub last_seen: String,
    #[serde(default)]
    pub source_ips: Vec<String>,
    #[serde(default)]
    pub target_hosts: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub rule_ids: Vec<String>,
    /// How many model anomalies the alert carries.
    #[serde(default, deserialize_with = "count_of_list")]
    pub anomalies: usize,
    #[serde(default)]
    pub routine: Option<String>,
}

fn count_of_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let v: Vec<serde::de::IgnoredAny> = Deserialize::deserialize(d)?;
    Ok(v.len())
}

fn rfc3339_micros(s: &str) -> Option<Micros> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

fn ln_count(n: usize) -> f64 {
    (n as f64).ln_1p()
}

impl ReviewedAlert {
    /// The pattern similar alerts share: their rules, or the baseline's
    /// evidence on their kind of entity when no rule fired.
    pub fn pattern(&self) -> String {
        if self.rule_ids.is_empty() {
            let kind = self.primary.split('=').next().unwrap_or("");
            return format!("baseline evidence on a {kind}");
        }
        let mut ids = self.rule_ids.clone();
        ids.sort();
        ids.dedup();
        ids.join("+")
    }

    /// The value of the feature `name` (see [`BASE_FEATURES`] and the
    /// `rule:` columns); `None` for a name this build does not know.
    pub fn feature(&self, name: &str, hours: Option<&ValidFeatureConfig>) -> Option<f64> {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        if let Some(rule) = name.strip_prefix(RULE_PREFIX) {
            return Some(flag(self.rule_ids.iter().any(|r| r == rule)));
        }
        let first = rfc3339_micros(&self.first_seen);
        let v = match name {
            "severity" => match self.severity {
                Severity::Low => 0.0,
                Severity::Medium => 1.0,
                Severity::High => 2.0,
                Severity::Critical => 3.0,
            },
            "risk" => f64::from(self.risk_score) / 100.0,
            "log_events" => (self.events as f64).ln_1p(),
            "log_sources" => ln_count(self.source_ips.len()),
            "log_hosts" => ln_count(self.target_hosts.len()),
            "log_users" => ln_count(self.users.len()),
            "external_source" => flag(self.source_ips.iter().any(|s| {
                parse_ip(s).is_some_and(|ip| !matches!(IpScope::of(ip), IpScope::Private | IpScope::Loopback))
            })),
            "about_source" => flag(self.primary.starts_with("source=")),
            "about_user" => flag(self.primary.starts_with("user=")),
            "about_host" => flag(self.primary.starts_with("host=")),
            "baseline_evidence" => flag(self.anomalies > 0 || self.rule_ids.iter().any(|r| r.starts_with("LLX-BASE-"))),
            "off_hours" => flag(match (first, hours) {
                (Some(t), Some(h)) => h.is_off_hours(t),
                _ => false,
            }),
            "log_minutes" => match (first, rfc3339_micros(&self.last_seen)) {
                (Some(a), Some(b)) if b > a => ((b - a) as f64 / 60e6).ln_1p(),
                _ => 0.0,
            },
            "routine" => flag(self.routine.is_some()),
            "root_user" => flag(self.users.iter().any(|u| u == "root")),
            _ => return None,
        };
        Some(v)
    }

    /// The values of `names`, in order.
    fn features(&self, names: &[String], hours: Option<&ValidFeatureConfig>) -> Vec<f64> {
        names.iter().map(|n| self.feature(n, hours).unwrap_or(0.0)).collect()
    }
}

/// What an analyst said of a reviewed alert, for the re-ranker: whether it
/// needed a person (`true_positive`) or not (`false_positive`,
/// `benign_true_positive`).
#[derive(Debug, Clone)]
pub struct Judged {
    pub alert: ReviewedAlert,
    pub true_positive: bool,
}

/// Verdict counts of one alert pattern in the training set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternCounts {
    pub true_positive: usize,
    pub not_true_positive: usize,
}

/// The trained re-ranker, saved in the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertReranker {
    pub model: LogisticModel,
    /// Verdicts per alert pattern ([`ReviewedAlert::pattern`]).
    pub patterns: BTreeMap<String, PatternCounts>,
}

/// The re-ranker's view of one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// P(true positive).
    pub probability: f64,
    /// Verdicts on similar alerts ([`AlertReranker::similar`]).
    pub similar: PatternCounts,
    /// The features that moved the probability most, with their log-odds.
    pub drivers: Vec<(String, f64)>,
}

impl fmt::Display for Ranking {
    /// `P(true positive) = 0.07; similar alerts were marked false positive
    /// 14 times, true positive 0 times`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P(true positive) = {:.2}", self.probability)?;
        let s = self.similar;
        if s.true_positive + s.not_true_positive == 0 {
            write!(f, "; no verdict on similar alerts yet")?;
        } else {
            write!(
                f,
                "; alerts sharing its rules were marked false positive {} times, true positive {} times",
                s.not_true_positive, s.true_positive
            )?;
        }
        if !self.drivers.is_empty() {
            let d: Vec<String> = self
                .drivers
                .iter()
                .map(|(n, w)| format!("{n} {}{:.1}", if *w >= 0.0 { "+" } else { "−" }, w.abs()))
                .collect();
            write!(f, " (log-odds: {})", d.join(", "))?;
        }
        Ok(())
    }
}

/// Why no re-ranker was trained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEnoughVerdicts {
    pub true_positive: usize,
    pub not_true_positive: usize,
    pub needed_rows: usize,
    pub needed_per_class: usize,
}

impl fmt::Display for NotEnoughVerdicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} true_positive and {} other verdicts on alerts found; the re-ranker needs {} with at least {} of each",
            self.true_positive, self.not_true_positive, self.needed_rows, self.needed_per_class
        )
    }
}

/// A re-ranker that could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum RerankError {
    #[error("{0}")]
    NotEnough(NotEnoughVerdicts),
    #[error("re-ranker: {0}")]
    Fit(#[from] ModelError),
}

impl AlertReranker {
    /// Fits on `judged` alerts. `hours` are the features' business hours
    /// (the `off_hours` column); the column names are [`BASE_FEATURES`]
    /// plus one per rule the judged alerts used.
    pub fn fit(
        judged: &[Judged],
        hours: Option<&ValidFeatureConfig>,
        params: &ValidLogisticParams,
    ) -> Result<AlertReranker, RerankError> {
        let positives = judged.iter().filter(|j| j.true_positive).count();
        let negatives = judged.len() - positives;
        if !params.enough(positives, negatives) {
            let p = params.params();
            return Err(RerankError::NotEnough(NotEnoughVerdicts {
                true_positive: positives,
                not_true_positive: negatives,
                needed_rows: p.min_rows,
                needed_per_class: p.min_per_class,
            }));
        }
        let mut rules: Vec<&str> = judged
            .iter()
            .flat_map(|j| j.alert.rule_ids.iter().map(String::as_str))
            .collect();
        rules.sort_unstable();
        rules.dedup();
        let names: Vec<String> = BASE_FEATURES
            .iter()
            .map(|s| s.to_string())
            .chain(rules.iter().map(|r| format!("{RULE_PREFIX}{r}")))
            .collect();
        let rows: Vec<Vec<f64>> = judged.iter().map(|j| j.alert.features(&names, hours)).collect();
        let labels: Vec<bool> = judged.iter().map(|j| j.true_positive).collect();
        let model = params.fit(names, &rows, &labels)?;
        let mut patterns: BTreeMap<String, PatternCounts> = BTreeMap::new();
        for j in judged {
            let c = patterns.entry(j.alert.pattern()).or_default();
            if j.true_positive {
                c.true_positive += 1;
            } else {
                c.not_true_positive += 1;
            }
        }
        Ok(AlertReranker { model, patterns })
    }

    /// How likely `alert` is a true positive, and why.
    pub fn rank(&self, alert: &ReviewedAlert, hours: Option<&ValidFeatureConfig>) -> Ranking {
        let x = alert.features(&self.model.names, hours);
        let drivers = self
            .model
            .contributions(&x)
            .into_iter()
            .filter(|(_, w)| w.abs() >= 0.5)
            .take(3)
            .map(|(n, w)| (n.to_owned(), w))
            .collect();
        Ranking {
            probability: self.model.probability(&x),
            similar: self.similar(alert),
            drivers,
        }
    }

    /// Verdicts on alerts similar to `alert`: sharing one of its rules, or,
    /// for an alert of the baseline's evidence alone, of the same pattern.
    pub fn similar(&self, alert: &ReviewedAlert) -> PatternCounts {
        let own = alert.pattern();
        let mut c = PatternCounts::default();
        for (pattern, n) in &self.patterns {
            let shares = if alert.rule_ids.is_empty() {
                *pattern == own
            } else {
                pattern.split('+').any(|r| alert.rule_ids.iter().any(|a| a == r))
            };
            if shares {
                c.true_positive += n.true_positive;
                c.not_true_positive += n.not_true_positive;
            }
        }
        c
    }

    /// The model is consistent and every column is one this build computes.
    pub fn validate(&self) -> Result<(), Inconsistency> {
        self.model.validate()?;
        let probe = ReviewedAlert {
            id: String::new(),
            fingerprint: String::new(),
            primary: String::new(),
            severity: Severity::Low,
            risk_score: 0,
            first_seen: String::new(),
            last_seen: String::new(),
            source_ips: Vec::new(),
            target_hosts: Vec::new(),
            users: Vec::new(),
            events: 0,
            rule_ids: Vec::new(),
            anomalies: 0,
            routine: None,
        };
        match self.model.names.iter().find(|n| probe.feature(n, None).is_none()) {
            Some(n) => Err(Inconsistency::Reranker(format!("unknown feature `{n}`"))),
            None => Ok(()),
        }
    }

    /// For the model card: training counts and the weights, largest first.
    pub fn card(&self) -> serde_json::Value {
        serde_json::json!({
            "model": "logistic regression (smartcore), standardized features, L2",
            "alpha": self.model.alpha,
            "true_positive_verdicts": self.model.positives,
            "other_verdicts": self.model.negatives,
            "intercept": self.model.intercept,
            "log_odds_per_standard_deviation": self
                .model
                .weights()
                .into_iter()
                .map(|(n, w)| serde_json::json!([n, w]))
                .collect::<Vec<_>>(),
            "patterns": self.patterns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_features::aggregate::FeatureConfig;
    use loglynx_models::logistic::LogisticParams;

    fn alert(primary: &str, rule: &str, severity: Severity, sources: &[&str], first: &str) -> ReviewedAlert {
        ReviewedAlert {
            id: format!("LLX-{primary}"),
            fingerprint: String::new(),
            primary: primary.into(),
            severity,
            risk_score: 50,
            first_seen: first.into(),
            last_seen: first.into(),
            source_ips: sources.iter().map(|s| s.to_string()).collect(),
            target_hosts: vec!["web-01".into()],
            users: vec!["anna".into()],
            events: 10,
            rule_ids: if rule.is_empty() { vec![] } else { vec![rule.into()] },
            anomalies: 0,
            routine: None,
        }
    }

    fn hours() -> ValidFeatureConfig {
        FeatureConfig::default().check().unwrap()
    }

    #[test]
    fn reads_the_alerts_ndjson_as_score_writes_it() {
        let line = r#"{"id":"LLX-1","fingerprint":"ab","primary":"user=x","title":"t","severity":"critical","risk_score":90,
            "first_seen":"2026-03-13T01:17:07Z","last_seen":"2026-03-13T01:18:20Z","source_ips":[],"target_hosts":["web-01"],
            "users":["x"],"events":3,"rule_ids":["LLX-ACCT-001"],"model_version":null,
            "anomalies":[{"entity_kind":"user","entity":"x","window_start":"w","score":0.9,"explanation":[]}],"evidence":[],"detections":1}"#;
        let a: ReviewedAlert = serde_json::from_str(line).unwrap();
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.anomalies, 1);
        let h = hours();
        assert_eq!(a.feature("off_hours", Some(&h)), Some(1.0));
        assert_eq!(a.feature("baseline_evidence", None), Some(1.0));
        assert_eq!(a.feature("rule:LLX-ACCT-001", None), Some(1.0));
        assert_eq!(a.feature("rule:LLX-SSH-001", None), Some(0.0));
        assert_eq!(a.feature("no such feature", None), None);
        assert_eq!(a.pattern(), "LLX-ACCT-001");
    }

    /// Verdicts say the internal scanner's brute-force alerts are routine and
    /// external ones are not: a new internal source's alert of that rule is
    /// unlikely, a new external one likely.
    #[test]
    fn verdicts_on_some_entities_teach_about_others() {
        let mut judged = Vec::new();
        for i in 0..6 {
            judged.push(Judged {
                alert: alert(
                    &format!("source=10.0.6.{i}"),
                    "LLX-SSH-001",
                    Severity::Medium,
                    &[&format!("10.0.6.{i}")],
                    "2026-03-02T10:00:00Z",
                ),
                true_positive: false,
            });
            judged.push(Judged {
                alert: alert(
                    &format!("source=198.51.100.{i}"),
                    "LLX-SSH-001",
                    Severity::Medium,
                    &[&format!("198.51.100.{i}")],
                    "2026-03-02T23:00:00Z",
                ),
                true_positive: true,
            });
        }
        let params = LogisticParams::default().check().unwrap();
        let h = hours();
        let r = AlertReranker::fit(&judged, Some(&h), &params).unwrap();
        let internal = r.rank(
            &alert(
                "source=10.9.9.9",
                "LLX-SSH-001",
                Severity::Medium,
                &["10.9.9.9"],
                "2026-04-06T10:00:00Z",
            ),
            Some(&h),
        );
        let external = r.rank(
            &alert(
                "source=203.0.113.9",
                "LLX-SSH-001",
                Severity::Medium,
                &["203.0.113.9"],
                "2026-04-06T23:30:00Z",
            ),
            Some(&h),
        );
        assert!(internal.probability < 0.2, "{internal}");
        assert!(external.probability > 0.8, "{external}");
        assert_eq!(
            internal.similar,
            PatternCounts {
                true_positive: 6,
                not_true_positive: 6
            }
        );
        assert!(internal
            .to_string()
            .contains("alerts sharing its rules were marked false positive 6 times"));
        r.validate().unwrap();
    }

    #[test]
    fn too_few_verdicts_say_how_many_are_needed() {
        let judged: Vec<Judged> = (0..4)
            .map(|i| Judged {
                alert: alert("user=a", "LLX-SSH-001", Severity::Low, &[], "2026-03-02T10:00:00Z"),
                true_positive: i == 0,
            })
            .collect();
        let params = LogisticParams::default().check().unwrap();
        let err = AlertReranker::fit(&judged, None, &params).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 true_positive and 3 other verdicts on alerts found; the re-ranker needs 10 with at least 3 of each"
        );
    }

    #[test]
    fn a_model_with_a_column_this_build_does_not_compute_is_refused() {
        let judged: Vec<Judged> = (0..12)
            .map(|i| Judged {
                alert: alert("user=a", "LLX-SSH-001", Severity::Low, &[], "2026-03-02T10:00:00Z"),
                true_positive: i % 2 == 0,
            })
            .collect();
        let params = LogisticParams::default().check().unwrap();
        let mut r = AlertReranker::fit(&judged, None, &params).unwrap();
        r.model.names[0] = "tomorrow's feature".into();
        assert!(r.validate().unwrap_err().to_string().contains("unknown feature"));
    }
}
