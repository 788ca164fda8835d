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

    /// The event field that names the entity, as rules group by it and
    /// alerts name their primary entity (`source=203.0.113.9`).
    pub fn field(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::SourceIp => "source",
            EntityKind::Host => "host",
        }
    }

    /// The kind an event field ([`EntityKind::field`]) names.
    pub fn of_field(field: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.field() == field)
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

/// A feature's place in [`FEATURES`] (and in every feature row): `id as
/// usize` is its index, checked when the crate compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureId {
    Events,
    Failures,
    Successes,
    FailureRatio,
    DistinctUsers,
    DistinctHosts,
    DistinctSourceIps,
    InvalidUserAttempts,
    SudoCommands,
    SudoFailures,
    Sessions,
    SuccessAfterFailures,
    OffHoursShare,
    MaxEventsPerMinute,
    MeanInterarrivalS,
    MinInterarrivalS,
    UsernameEntropy,
    NewSourceIps,
    NewHosts,
    NewUsers,
    PublicSourceShare,
    AccountChanges,
    ScanEvents,
}

/// The number of features: the length of a feature row.
pub const N_FEATURES: usize = FeatureId::ScanEvents as usize + 1;

/// What a feature tells the stages after aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Unusual values point at an attack rather than at a busy day; a
    /// standalone anomaly alert needs one of these among its drivers.
    Security,
    /// How an account is used (rather than attacked).
    AccountUse,
    /// The account got in: successful logins, sessions opened.
    Access,
}

/// One feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureDef {
    pub id: FeatureId,
    /// Column name.
    pub name: &'static str,
    /// What it measures, for model cards and explanations.
    pub description: &'static str,
    /// Entity kinds it is computed for; other kinds get null.
    pub kinds: &'static [EntityKind],
    pub value: ValueKind,
    pub tags: &'static [Tag],
}

impl FeatureDef {
    pub fn applies_to(&self, kind: EntityKind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn has(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }
}

use EntityKind::{Host, SourceIp, User};
const ALL: &[EntityKind] = &[User, SourceIp, Host];

/// Version of the feature definitions below. Bump it when a feature's
/// meaning or computation changes: baselines trained on another version are
/// refused by the scorer.
pub const SPEC_VERSION: u32 = 1;

/// Every feature, in output column order.
pub const FEATURES: &[FeatureDef; N_FEATURES] = &[
    FeatureDef {
        id: FeatureId::Events,
        name: "events",
        description: "events in the window (repeated messages counted once per repeat)",
        kinds: ALL,
        value: ValueKind::Count,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::Failures,
        name: "failures",
        description:
            "failed authentications, su and sudo attempts (`Invalid user` notices count in invalid_user_attempts)",
        kinds: ALL,
        value: ValueKind::Count,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::Successes,
        name: "successes",
        description: "successful authentications and su",
        kinds: ALL,
        value: ValueKind::Count,
        tags: &[Tag::Access],
    },
    FeatureDef {
        id: FeatureId::FailureRatio,
        name: "failure_ratio",
        description: "failures / (failures + successes); 0 without attempts",
        kinds: ALL,
        value: ValueKind::Ratio,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::DistinctUsers,
        name: "distinct_users",
        description: "distinct user names seen",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::DistinctHosts,
        name: "distinct_hosts",
        description: "distinct hosts touched",
        kinds: &[User, SourceIp],
        value: ValueKind::Count,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::DistinctSourceIps,
        name: "distinct_source_ips",
        description: "distinct source addresses seen",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::InvalidUserAttempts,
        name: "invalid_user_attempts",
        description: "attempts naming a user that does not exist",
        kinds: ALL,
        value: ValueKind::Count,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::SudoCommands,
        name: "sudo_commands",
        description: "sudo events (commands and sudo failures)",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::SudoFailures,
        name: "sudo_failures",
        description: "failed sudo: wrong password, not in sudoers",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::Sessions,
        name: "sessions",
        description: "sessions opened",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[Tag::Access],
    },
    FeatureDef {
        id: FeatureId::SuccessAfterFailures,
        name: "success_after_failures",
        description: "1 when a success follows a failure in the window",
        kinds: ALL,
        value: ValueKind::Flag,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::OffHoursShare,
        name: "off_hours_share",
        description: "share of events outside business hours (configured days, hours, time zone)",
        kinds: ALL,
        value: ValueKind::Ratio,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::MaxEventsPerMinute,
        name: "max_events_per_minute",
        description: "burstiness: most events in one minute of the window",
        kinds: ALL,
        value: ValueKind::Count,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::MeanInterarrivalS,
        name: "mean_interarrival_s",
        description: "mean seconds between events; the window length with fewer than 2 events",
        kinds: ALL,
        value: ValueKind::Seconds,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::MinInterarrivalS,
        name: "min_interarrival_s",
        description: "shortest seconds between consecutive events; the window length with fewer than 2 events",
        kinds: ALL,
        value: ValueKind::Seconds,
        tags: &[],
    },
    FeatureDef {
        id: FeatureId::UsernameEntropy,
        name: "username_entropy",
        description: "Shannon entropy (bits) of the user names tried",
        kinds: &[SourceIp, Host],
        value: ValueKind::Bits,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::NewSourceIps,
        name: "new_source_ips",
        description: "source addresses this user or host had not been seen with earlier in the data",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::NewHosts,
        name: "new_hosts",
        description: "hosts this user had not been seen on earlier in the data",
        kinds: &[User],
        value: ValueKind::Count,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::NewUsers,
        name: "new_users",
        description: "users not seen earlier in the data from this source address or on this host",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security],
    },
    FeatureDef {
        id: FeatureId::PublicSourceShare,
        name: "public_source_share",
        description: "share of events from public IP addresses",
        kinds: &[User, Host],
        value: ValueKind::Ratio,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::AccountChanges,
        name: "account_changes",
        description: "accounts or groups created, changed or deleted; passwords changed",
        kinds: &[User, Host],
        value: ValueKind::Count,
        tags: &[Tag::Security, Tag::AccountUse],
    },
    FeatureDef {
        id: FeatureId::ScanEvents,
        name: "scan_events",
        description: "scanner signs: no SSH identification, failed reverse mapping, too many attempts",
        kinds: &[SourceIp, Host],
        value: ValueKind::Count,
        tags: &[],
    },
];

// Each feature sits at the index of its id, so rows can be written by id.
const _: () = {
    let mut i = 0;
    while i < N_FEATURES {
        assert!(FEATURES[i].id as usize == i, "FEATURES out of FeatureId order");
        i += 1;
    }
};

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

/// The features carrying `tag`, in column order.
pub fn tagged(tag: Tag) -> impl Iterator<Item = &'static FeatureDef> {
    FEATURES.iter().filter(move |f| f.has(tag))
}

/// Whether the feature named `name` carries `tag` (false for names outside
/// the registry, such as the columns of a generic numeric table).
pub fn is_tagged(name: &str, tag: Tag) -> bool {
    feature(name).is_some_and(|f| f.has(tag))
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

    #[test]
    fn tags_name_the_sets_score_used_to_list() {
        let names = |tag| tagged(tag).map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(Tag::Security),
            [
                "failures",
                "failure_ratio",
                "distinct_users",
                "distinct_source_ips",
                "invalid_user_attempts",
                "sudo_failures",
                "success_after_failures",
                "username_entropy",
                "new_source_ips",
                "new_hosts",
                "new_users",
                "public_source_share",
                "account_changes",
            ]
        );
        assert_eq!(
            names(Tag::AccountUse),
            [
                "sudo_failures",
                "success_after_failures",
                "new_source_ips",
                "new_hosts",
                "public_source_share",
                "account_changes",
            ]
        );
        assert_eq!(names(Tag::Access), ["successes", "sessions"]);
        assert!(is_tagged("failures", Tag::Security));
        assert!(!is_tagged("events", Tag::Security));
        assert!(!is_tagged("no_such_column", Tag::Security));
    }

    #[test]
    fn ids_index_the_registry() {
        assert_eq!(FEATURES.len(), N_FEATURES);
        for (i, f) in FEATURES.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{}", f.name);
            assert_eq!(index_of(f.name), Some(i));
        }
    }
}
