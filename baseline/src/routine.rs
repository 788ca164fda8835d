//! Rule hits that recur in the baseline: the team's own routine (a weekly
//! credential audit, an admin's daily hop through a bastion).
//!
//! Training runs the rules over the baseline and keeps, per pattern (the
//! rule and the values of its group, e.g. `LLX-SSH-001` for source
//! `10.50.0.10` and host `db-1`), the day and hour of every hit and the
//! hosts it touched. A later hit of the same pattern is routine when the
//! baseline saw it on enough previous days of the same weekday at about the
//! same hour, on the same hosts: it is demoted and labelled ("seen on 3 of
//! 3 previous Mondays"), never dropped.

use std::collections::{BTreeMap, BTreeSet};

use loglynx_features::event::Micros;
use loglynx_features::time::{MICROS_PER_DAY, MICROS_PER_HOUR};
use loglynx_rules::RuleHit;
use serde::{Deserialize, Serialize};

/// When a recurring pattern counts as routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutineConfig {
    /// Days of the same weekday the baseline must have seen the pattern on.
    pub min_days: usize,
    /// Hours (UTC) a hit may start before or after the baseline's hits of
    /// the pattern and still match them.
    pub hour_slack: u32,
}

impl Default for RoutineConfig {
    fn default() -> Self {
        RoutineConfig {
            min_days: 2,
            hour_slack: 2,
        }
    }
}

/// One pattern's hits in the baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSeen {
    /// (day since 1970-01-01 UTC, hour of day UTC) of each hit's start.
    pub times: BTreeSet<(i64, u32)>,
    pub hosts: BTreeSet<String>,
}

/// The baseline's recurring rule-hit patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    /// First and last day of the baseline (days since 1970-01-01 UTC).
    pub days: Option<(i64, i64)>,
    pub patterns: BTreeMap<String, PatternSeen>,
}

/// How a hit matched the baseline's routine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutineMatch {
    /// Days of this weekday the pattern was seen on, around this hour.
    pub seen: usize,
    /// Days of this weekday in the baseline.
    pub of: usize,
    pub weekday: &'static str,
}

impl std::fmt::Display for RoutineMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seen on {} of {} previous {}s", self.seen, self.of, self.weekday)
    }
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Monday = 0 (1970-01-01 was a Thursday).
fn weekday(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

fn day_hour(t: Micros) -> (i64, u32) {
    (
        t.div_euclid(MICROS_PER_DAY),
        (t.rem_euclid(MICROS_PER_DAY) / MICROS_PER_HOUR) as u32,
    )
}

impl Routine {
    /// The pattern of a hit: its rule and group values.
    pub fn key(hit: &RuleHit) -> String {
        let mut k = hit.rule_id.clone();
        for (f, v) in &hit.group {
            k.push('|');
            k.push_str(f);
            k.push('=');
            k.push_str(v);
        }
        k
    }

    /// The patterns of the baseline's hits over `[first, last]`.
    pub fn from_hits(hits: &[RuleHit], first: Micros, last: Micros) -> Routine {
        let mut r = Routine {
            days: Some((first.div_euclid(MICROS_PER_DAY), last.div_euclid(MICROS_PER_DAY))),
            patterns: BTreeMap::new(),
        };
        for h in hits {
            let p = r.patterns.entry(Routine::key(h)).or_default();
            p.times.insert(day_hour(h.first));
            p.hosts.extend(h.hosts.iter().cloned());
        }
        r
    }

    /// Whether `hit` is routine: its pattern seen on at least `min_days`
    /// days of the same weekday within `hour_slack` hours, on hosts the
    /// pattern touched then.
    pub fn matches(&self, hit: &RuleHit, cfg: &RoutineConfig) -> Option<RoutineMatch> {
        let (first, last) = self.days?;
        let p = self.patterns.get(&Routine::key(hit))?;
        if !hit.hosts.iter().all(|h| p.hosts.contains(h)) {
            return None;
        }
        let (day, hour) = day_hour(hit.first);
        let wd = weekday(day);
        let seen: BTreeSet<i64> = p
            .times
            .iter()
            .filter(|(d, h)| {
                *d < day && weekday(*d) == wd && h.abs_diff(hour).min(24 - h.abs_diff(hour)) <= cfg.hour_slack
            })
            .map(|(d, _)| *d)
            .collect();
        let of = (first..=last.min(day - 1)).filter(|&d| weekday(d) == wd).count();
        (seen.len() >= cfg.min_days.max(1)).then_some(RoutineMatch {
            seen: seen.len(),
            of,
            weekday: WEEKDAYS[wd],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loglynx_rules::Severity;

    fn hit(day: i64, hour: i64, host: &str) -> RuleHit {
        let t = day * MICROS_PER_DAY + hour * MICROS_PER_HOUR;
        RuleHit {
            rule_id: "LLX-SSH-001".into(),
            severity: Severity::High,
            group: vec![("source".into(), "10.50.0.10".into()), ("host".into(), host.into())],
            first: t,
            last: t + 60_000_000,
            count: 6,
            users: vec!["auditcheck".into()],
            hosts: vec![host.into()],
            sources: vec!["10.50.0.10".into()],
            distinct_users: 1,
            distinct_hosts: 1,
            distinct_sources: 1,
            evidence: vec![],
            summary: String::new(),
        }
    }

    // 2026-01-05 is a Monday: day 20458.
    const MONDAY: i64 = 20_458;

    #[test]
    fn a_weekly_audit_seen_on_previous_mondays_is_routine() {
        assert_eq!(weekday(MONDAY), 0);
        let baseline: Vec<RuleHit> = (0..3).map(|w| hit(MONDAY + 7 * w, 9, "db-1")).collect();
        let r = Routine::from_hits(&baseline, MONDAY * MICROS_PER_DAY, (MONDAY + 20) * MICROS_PER_DAY);
        let cfg = RoutineConfig::default();
        let m = r.matches(&hit(MONDAY + 21, 10, "db-1"), &cfg).expect("routine");
        assert_eq!(m.to_string(), "seen on 3 of 3 previous Mondays");
        // Another weekday, another hour, another host or another source: not routine.
        assert!(r.matches(&hit(MONDAY + 22, 9, "db-1"), &cfg).is_none());
        assert!(r.matches(&hit(MONDAY + 21, 15, "db-1"), &cfg).is_none());
        assert!(r.matches(&hit(MONDAY + 21, 9, "db-2"), &cfg).is_none());
        let mut other = hit(MONDAY + 21, 9, "db-1");
        other.group[0].1 = "203.0.113.9".into();
        assert!(r.matches(&other, &cfg).is_none());
    }

    #[test]
    fn one_previous_occurrence_is_not_yet_routine() {
        let r = Routine::from_hits(
            &[hit(MONDAY, 9, "db-1")],
            MONDAY * MICROS_PER_DAY,
            (MONDAY + 13) * MICROS_PER_DAY,
        );
        assert!(r
            .matches(&hit(MONDAY + 7, 9, "db-1"), &RoutineConfig::default())
            .is_none());
        let once = RoutineConfig {
            min_days: 1,
            ..Default::default()
        };
        assert_eq!(
            r.matches(&hit(MONDAY + 7, 9, "db-1"), &once).unwrap().to_string(),
            "seen on 1 of 1 previous Mondays"
        );
    }
}
