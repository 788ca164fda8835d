//! The feature registry: every behaviour feature with its name, meaning and
//! the entity kinds it is computed for. Its names are the output columns of
//! `loglynx-features` and the feature spec that models are trained on.

use serde::{Deserialize, Serialize};

/// What a feature row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// `user.name`: an account.
    User,
    /// `source.ip` (or `source.address` when the log names a host).
    SourceIp,
    /// `host.name`: the system that logged.
    Host,
}

impl EntityKind {
    pub const ALL: [EntityKind; 3] = [EntityKind::User, EntityKind::SourceIp, EntityKind::Host];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::SourceIp => "source_ip",
            EntityKind::Host => "host",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a model should treat a feature's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// A non-negative count with a heavy tail (log1p before scaling).
    Count,
    /// A share or ratio in [0, 1].
    Ratio,
    /// A 0/1 flag.
    Flag,
    /// Seconds.
    Seconds,
    /// Bits (Shannon entropy).
    Bits,
}

/// One feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureDef {
    /// Column name.
    pub name: &'static str,
    /// What it measures, for model cards and explanations.
    pub description: &'static str,
    /// Entity kinds it is computed for; other kinds get null.
    pub kinds: &'static [EntityKind],
    pub value: ValueKind,
}

impl FeatureDef {
    pub fn applies_to(&self, kind: EntityKind) -> bool {
        self.kinds.contains(&kind)
    }
}

use EntityKind::{Host, SourceIp, User};
const ALL: &[EntityKind] = &[User, SourceIp, Host];

/// Version of the feature definitions below. Bump it when a feature's
/// meaning or computation changes: baselines trained on another version are
/// refused by the scorer.
pub const SPEC_VERSION: u32 = 1;

/// Every feature, in output column order.
pub const FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "events",
        description: "events in the window (repeated messages counted once per repeat)",
        kinds: ALL,
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "failures",
        description:
            "failed authentications, su and sudo attempts (`Invalid user` notices count in invalid_user_attempts)",
        kinds: ALL,
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "successes",
        description: "successful authentications and su",
        kinds: ALL,
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "failure_ratio",
        description: "failures / (failures + successes); 0 without attempts",
        kinds: ALL,
        value: ValueKind::Ratio,
    },
    FeatureDef {
        name: "distinct_users",
        description: "distinct user names seen",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "distinct_hosts",
        description: "distinct hosts touched",
        kinds: &[User, SourceIp],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "distinct_source_ips",
        description: "distinct source addresses seen",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "invalid_user_attempts",
        description: "attempts naming a user that does not exist",
        kinds: ALL,
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "sudo_commands",
        description: "sudo events (commands and sudo failures)",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "sudo_failures",
        description: "failed sudo: wrong password, not in sudoers",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "sessions",
        description: "sessions opened",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "success_after_failures",
        description: "1 when a success follows a failure in the window",
        kinds: ALL,
        value: ValueKind::Flag,
    },
    FeatureDef {
        name: "off_hours_share",
        description: "share of events outside business hours (configured days, hours, time zone)",
        kinds: ALL,
        value: ValueKind::Ratio,
    },
    FeatureDef {
        name: "max_events_per_minute",
        description: "burstiness: most events in one minute of the window",
        kinds: ALL,
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "mean_interarrival_s",
        description: "mean seconds between events; the window length with fewer than 2 events",
        kinds: ALL,
        value: ValueKind::Seconds,
    },
    FeatureDef {
        name: "min_interarrival_s",
        description: "shortest seconds between consecutive events; the window length with fewer than 2 events",
        kinds: ALL,
        value: ValueKind::Seconds,
    },
    FeatureDef {
        name: "username_entropy",
        description: "Shannon entropy (bits) of the user names tried",
        kinds: &[SourceIp, Host],
        value: ValueKind::Bits,
    },
    FeatureDef {
        name: "new_source_ips",
        description: "source addresses this user or host had not been seen with earlier in the data",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "new_hosts",
        description: "hosts this user had not been seen on earlier in the data",
        kinds: &[User],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "new_users",
        description: "users not seen earlier in the data from this source address or on this host",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "public_source_share",
        description: "share of events from public IP addresses",
        kinds: &[User, Host],
        value: ValueKind::Ratio,
    },
    FeatureDef {
        name: "account_changes",
        description: "accounts or groups created, changed or deleted; passwords changed",
        kinds: &[User, Host],
        value: ValueKind::Count,
    },
    FeatureDef {
        name: "scan_events",
        description: "scanner signs: no SSH identification, failed reverse mapping, too many attempts",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
    },
];

/// Non-feature columns that precede the features in every output.
pub const KEY_COLUMNS: &[&str] = &["entity_kind", "entity", "window_start", "window_end"];

/// Context columns that follow the features (text, not model input).
pub const CONTEXT_COLUMNS: &[&str] = &["source_scope", "asset_criticality"];

/// The feature with this name.
pub fn feature(name: &str) -> Option<&'static FeatureDef> {
    FEATURES.iter().find(|f| f.name == name)
}

/// The features computed for one entity kind, in column order.
pub fn features_for(kind: EntityKind) -> impl Iterator<Item = &'static FeatureDef> {
    FEATURES.iter().filter(move |f| f.applies_to(kind))
}

/// Index of a feature in [`FEATURES`].
pub fn index_of(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_described() {
        let mut seen = std::collections::HashSet::new();
        for f in FEATURES {
            assert!(seen.insert(f.name), "duplicate feature {}", f.name);
            assert!(f
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(!f.description.is_empty() && !f.kinds.is_empty());
            assert!(!KEY_COLUMNS.contains(&f.name) && !CONTEXT_COLUMNS.contains(&f.name));
        }
    }

    #[test]
    fn each_kind_has_its_own_features() {
        assert!(features_for(EntityKind::SourceIp).any(|f| f.name == "username_entropy"));
        assert!(!features_for(EntityKind::User).any(|f| f.name == "username_entropy"));
        assert!(features_for(EntityKind::User).any(|f| f.name == "new_hosts"));
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
        }
    }
}
