//! The rule file format: one TOML file per rule, read strictly (unknown keys,
//! unknown values and keys the rule's kind does not use are errors).
//!
//! Common keys ([`Rule`]): `id`, `name`, `description`, `level`, `tags`,
//! `recommended_action`, `references`, `superseded_by`, `kind`, `[filter]`
//! (a [`Filter`]) and `[[severity]]` entries (an [`Escalation`]). The keys
//! of each kind:
//!
//! | kind | keys (default) |
//! |---|---|
//! | `count` | `group_by` (`[]`), `window`, `threshold` |
//! | `distinct` | `group_by` (`[]`), `distinct_field`, `window`, `threshold` |
//! | `sequence` | `group_by` (`[]`), `window`, `min_first` (1), `[first]`, `[then]` |
//! | `single` | `group_by` (`[]`), `window` (1h) |
//! | `new_term` | `fields` |
//! | `chain` | `window`, `session_window` (12h), `min_targets` (1), `[session]`, `[escalation]`, `[onward]` |
//! | `concurrent` | `group_by` (`["user"]`, must include `user`), `window` (10m), `network_prefix_v4` (24, 1 to 32), `network_prefix_v6` (48, 1 to 128) |
//!
//! `chain` (see [`Chain`]): for each event matching `[escalation]` by user
//! U on host A, the latest `[session]` event of U on A at most
//! `session_window` before it (optional), and the `[onward]` events at most
//! `window` after it on hosts other than A whose source is an address of A
//! (from the asset list, or written as A's name or first DNS label), on at
//! least `min_targets` distinct hosts. Chains are found per host and
//! escalating user (escalations at most `window` apart make one hit), and
//! the hit's group is the host alone, so chains on one host merge into one
//! alert. The common
//! `[filter]` applies to all three steps.
//!
//! `concurrent` (see [`Concurrent`]): two events of one group at most
//! `window` apart whose source addresses are in different networks (the
//! first `network_prefix_v4` or `network_prefix_v6` bits differ), one of
//! them public and new for the user; hits of one group closer than
//! `window` merge.

use std::fmt;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::{Action, AuthMethod, Micros, Outcome};
use loglynx_features::time::parse_duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{RuleError, Severity};

/// How a rule turns matching events into hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// At least `threshold` matching events (weighted by `repeat`) of one
    /// group within a sliding `window`.
    Count,
    /// At least `threshold` distinct values of `distinct_field` among the
    /// matching events of one group within a sliding `window`.
    Distinct,
    /// At least `min_first` events matching `[first]`, then an event matching
    /// `[then]` within `window`, in one group.
    Sequence,
    /// Every matching event; hits of one group closer than `window` merge.
    Single,
    /// A combination of `fields` absent from the baseline [`crate::History`].
    NewTerm,
    /// A session, an escalation on its host, then logins from that host's
    /// addresses to other hosts within `window`.
    Chain,
    /// Two successful logins of one user from different networks within
    /// `window`, one of them from a public address new for the user.
    Concurrent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Distinct => "distinct",
            Kind::Sequence => "sequence",
            Kind::Single => "single",
            Kind::NewTerm => "new_term",
            Kind::Chain => "chain",
            Kind::Concurrent => "concurrent",
        }
    }
}

/// An event field used to group events or to count distinct values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    User,
    Host,
    Source,
    TargetUser,
    Program,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::User => "user",
            Field::Host => "host",
            Field::Source => "source",
            Field::TargetUser => "target_user",
            Field::Program => "program",
        }
    }
}

/// A part of a `new_term` combination: an event field or the UTC hour of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermField {
    User,
    Host,
    Source,
    TargetUser,
    Program,
    /// UTC hour of day, written `00` to `23`.
    Hour,
}

impl TermField {
    pub fn as_str(self) -> &'static str {
        match self {
            TermField::User => "user",
            TermField::Host => "host",
            TermField::Source => "source",
            TermField::TargetUser => "target_user",
            TermField::Program => "program",
            TermField::Hour => "hour",
        }
    }

    /// The event field, `None` for [`TermField::Hour`].
    pub fn field(self) -> Option<Field> {
        match self {
            TermField::User => Some(Field::User),
            TermField::Host => Some(Field::Host),
            TermField::Source => Some(Field::Source),
            TermField::TargetUser => Some(Field::TargetUser),
            TermField::Program => Some(Field::Program),
            TermField::Hour => None,
        }
    }
}

/// A positive duration written as a whole number and a unit: `30s`, `10m`,
/// `1h`, `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window(Micros);

impl Window {
    const UNITS: [(char, Micros); 4] = [
        ('d', 86_400_000_000),
        ('h', 3_600_000_000),
        ('m', 60_000_000),
        ('s', 1_000_000),
    ];

    pub fn from_secs(secs: i64) -> Window {
        Window(secs * 1_000_000)
    }

    pub fn micros(self) -> Micros {
        self.0
    }

    pub fn parse(s: &str) -> Result<Window, BadWindow> {
        let bad = || BadWindow(s.to_owned());
        // Unlike on the command line, a rule's duration needs its unit.
        if !s.trim().ends_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(bad());
        }
        let secs = parse_duration(s).map_err(|_| bad())?;
        i64::try_from(secs)
            .ok()
            .and_then(|secs| secs.checked_mul(1_000_000))
            .filter(|&us| us > 0)
            .map(Window)
            .ok_or_else(bad)
    }
}

/// A duration that [`Window::parse`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration `{0}`: expected a positive whole number and a unit s, m, h or d (like `10m`)")]
pub struct BadWindow(pub String);

impl fmt::Display for Window {
    /// The largest unit that divides the duration exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, scale) in Self::UNITS {
            if self.0 % scale == 0 {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}us", self.0)
    }
}

impl Serialize for Window {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let s = String::deserialize(d)?;
        Window::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Conditions on one event. Every given key must hold; a list holds when
/// any of its values matches. An empty filter matches every event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// `event.action` keywords (`authentication`, `sudo`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Vec<Action>>,
    /// `event.outcome`: `success`, `failure`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Vec<Outcome>>,
    /// The attempted user does not exist: the event says so, or its action
    /// is `invalid-user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_invalid: Option<bool>,
    /// Refused by policy (sudo `NOT in sudoers`), not for a bad credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<bool>,
    /// Scope of the source IP: `loopback`, `private`, `special`, `public`.
    /// Events without a source IP never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_scope: Option<Vec<IpScope>>,
    /// `process.name`, exact (`sshd`, `sudo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Vec<String>>,
    /// How the credential was presented (`password`, `publickey`, ...).
    /// Events that do not say never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<Vec<AuthMethod>>,
    /// `user.name`, exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Vec<String>>,
    /// `user.target.name`, exact (sudo `USER=`, su target, the group of a
    /// membership change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user: Option<Vec<String>>,
    /// The event has (true) or lacks (false) a source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_source: Option<bool>,
    /// The line counts authentication attempts with one of these outcomes.
    /// Each attempt is counted once, on the first of its lines (sshd's
    /// `Invalid user`, PAM's `authentication failure`, sshd's `Failed
    /// password`, a closing `Connection closed by authenticating user`), so
    /// matching lines are weighted by the attempts they count instead of by
    /// `repeat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Vec<Outcome>>,
}

impl Filter {
    /// The names it lists: users, target users and programs.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.user, &self.target_user, &self.program]
            .into_iter()
            .flatten()
            .flatten()
            .map(String::as_str)
    }

    /// The first list key given as an empty list (which would match nothing).
    fn empty_list(&self) -> Option<&'static str> {
        fn empty<T>(v: &Option<Vec<T>>) -> bool {
            v.as_ref().is_some_and(|v| v.is_empty())
        }
        [
            ("action", empty(&self.action)),
            ("outcome", empty(&self.outcome)),
            ("source_scope", empty(&self.source_scope)),
            ("program", empty(&self.program)),
            ("auth_method", empty(&self.auth_method)),
            ("user", empty(&self.user)),
            ("target_user", empty(&self.target_user)),
            ("attempt", empty(&self.attempt)),
        ]
        .into_iter()
        .find(|(_, e)| *e)
        .map(|(k, _)| k)
    }
}

/// A severity escalation: when every given minimum holds for a hit, the hit
/// gets `level`. Entries are tried in order; the first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// The severity given when this entry matches.
    pub level: Severity,
    /// At least this many matching events (weighted by `repeat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u64>,
    /// At least this many distinct users in the hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_distinct_users: Option<usize>,
    /// At least this many distinct hosts in the hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_distinct_hosts: Option<usize>,
    /// At least this many distinct sources in the hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_distinct_sources: Option<usize>,
}

impl Escalation {
    fn is_empty(&self) -> bool {
        self.min_count.is_none()
            && self.min_distinct_users.is_none()
            && self.min_distinct_hosts.is_none()
            && self.min_distinct_sources.is_none()
    }
}

/// One detection rule, as written in its TOML file.
///
/// Unknown keys are refused: the kind-specific structs deny them, and every
/// key the common fields do not take reaches the kind's struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable identifier (`LLX-SSH-001`); a rule file with the same id
    /// replaces a built-in rule.
    pub id: String,
    /// Short title shown with every hit.
    pub name: String,
    /// What the rule detects and why it matters.
    #[serde(default)]
    pub description: String,
    /// Base severity, used when no `[[severity]]` entry matches.
    pub level: Severity,
    /// MITRE ATT&CK tags (`attack.credential_access`, `attack.t1110.001`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// What the analyst should do about a hit.
    #[serde(default)]
    pub recommended_action: String,
    /// Where the rule's logic and numbers come from.
    #[serde(default)]
    pub references: Vec<String>,
    /// Rule ids that make a hit of this rule redundant: an alert that also
    /// holds a hit of one of them leaves this rule's hits out (the slow
    /// brute-force rule beside the fast one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_by: Vec<String>,
    /// How matching events become hits: the `kind` key and the keys of
    /// that kind.
    #[serde(flatten)]
    pub kind: Logic,
    /// Conditions every considered event must meet (for `sequence`, both
    /// steps; for `chain`, all three).
    #[serde(default)]
    pub filter: Filter,
    /// Severity escalations, first match wins, else `level`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Escalation>,
}

/// The kind of a rule with the keys only that kind takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Logic {
    Count(Count),
    Distinct(Distinct),
    // Boxed: two filters make it much larger than the other kinds.
    Sequence(Box<Sequence>),
    Single(Single),
    NewTerm(NewTerm),
    // Boxed: three filters.
    Chain(Box<Chain>),
    Concurrent(Concurrent),
}

/// `rule.kind == Kind::Count` compares the kind alone.
impl PartialEq<Kind> for Logic {
    fn eq(&self, other: &Kind) -> bool {
        self.kind() == *other
    }
}

impl Logic {
    pub fn kind(&self) -> Kind {
        match self {
            Logic::Count(_) => Kind::Count,
            Logic::Distinct(_) => Kind::Distinct,
            Logic::Sequence(_) => Kind::Sequence,
            Logic::Single(_) => Kind::Single,
            Logic::NewTerm(_) => Kind::NewTerm,
            Logic::Chain(_) => Kind::Chain,
            Logic::Concurrent(_) => Kind::Concurrent,
        }
    }

    /// The `kind` keyword (`count`, `new_term`, ...).
    pub fn as_str(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The fields that split events into groups (none for `new_term`; a
    /// `chain` always groups by the escalation's host and user).
    pub fn group_by(&self) -> &[Field] {
        match self {
            Logic::Count(c) => &c.group_by,
            Logic::Distinct(d) => &d.group_by,
            Logic::Sequence(s) => &s.group_by,
            Logic::Single(s) => &s.group_by,
            Logic::NewTerm(_) => &[],
            Logic::Chain(_) => &[Field::Host, Field::User],
            Logic::Concurrent(c) => &c.group_by,
        }
    }

    /// The time span in effect (none for `new_term`).
    pub fn window(&self) -> Option<Window> {
        match self {
            Logic::Count(c) => Some(c.window),
            Logic::Distinct(d) => Some(d.window),
            Logic::Sequence(s) => Some(s.window),
            Logic::Single(s) => Some(s.window),
            Logic::NewTerm(_) => None,
            Logic::Chain(c) => Some(c.window),
            Logic::Concurrent(c) => Some(c.window),
        }
    }

    /// The keys of every kind besides the common ones.
    const KEYS: [&'static str; 17] = [
        "group_by",
        "window",
        "threshold",
        "distinct_field",
        "min_first",
        "first",
        "then",
        "fields",
        "session_window",
        "min_targets",
        "session",
        "escalation",
        "onward",
        "onward_as_target",
        "onward_new",
        "network_prefix_v4",
        "network_prefix_v6",
    ];
}

/// At least `threshold` matching events (weighted by `repeat`) of one group
/// within a sliding `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    /// Fields that split events into independent groups; events lacking any
    /// of them are ignored.
    #[serde(default)]
    pub group_by: Vec<Field>,
    pub window: Window,
    pub threshold: u64,
}

/// At least `threshold` distinct values of `distinct_field` among the
/// matching events of one group within a sliding `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distinct {
    #[serde(default)]
    pub group_by: Vec<Field>,
    pub distinct_field: Field,
    pub window: Window,
    pub threshold: u64,
}

/// At least `min_first` events matching `first`, then an event matching
/// `then` within `window`, in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    #[serde(default)]
    pub group_by: Vec<Field>,
    /// The longest gap from the first step to the completing one.
    pub window: Window,
    /// Minimum `first` events, weighted by `repeat` (default 1).
    #[serde(default = "one")]
    pub min_first: u64,
    /// The first step.
    pub first: Filter,
    /// The step that completes the sequence.
    pub then: Filter,
}

fn one() -> u64 {
    1
}

/// Every matching event; hits of one group closer than `window` merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Single {
    #[serde(default)]
    pub group_by: Vec<Field>,
    /// The merge gap (default 1h).
    #[serde(default = "default_single_window")]
    pub window: Window,
}

fn default_single_window() -> Window {
    DEFAULT_SINGLE_WINDOW
}

/// A combination of `fields` absent from the baseline [`crate::History`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTerm {
    /// The combination looked up in the history.
    pub fields: Vec<TermField>,
    /// With an `hour` field: an hour within this many hours (around the
    /// clock) of an hour seen with the same other fields counts as seen,
    /// so that starting work an hour early is not new (default 0).
    #[serde(default)]
    pub hour_slack: u8,
}

impl NewTerm {
    /// The hours a term's hour `h` counts as seen by: `h` and those within
    /// the slack, around the clock.
    pub fn hours_around(&self, h: u32) -> impl Iterator<Item = u32> {
        let s = i64::from(self.hour_slack.min(11));
        (-s..=s).map(move |d| (i64::from(h) + d).rem_euclid(24) as u32)
    }

    /// The position of the hour among the fields, when there is a slack.
    pub fn slack_slot(&self) -> Option<usize> {
        (self.hour_slack > 0)
            .then(|| self.fields.iter().position(|&f| f == TermField::Hour))
            .flatten()
    }
}

/// A lateral-movement chain on host A by user U: a `session` of U on A
/// within `session_window` before an `escalation` of U on A, then, within
/// `window` after the escalation, `onward` events on at least
/// `min_targets` other hosts whose source is an address of A. A's
/// addresses come from the [`crate::Assets`] list, and a source written as
/// A's name (or as its first DNS label) is A too. Only the host and source
/// fields link events: user names and commands never do. Chains are found
/// per host and escalating user; the hit's group is the host alone. The
/// session is optional (a log may start mid-session) and its absence is
/// said in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// The longest gap from the escalation to an onward event.
    pub window: Window,
    /// How long before the escalation a session counts (default 12h).
    #[serde(default = "default_session_window")]
    pub session_window: Window,
    /// Distinct other hosts the onward events must reach (default 1).
    #[serde(default = "one_usize")]
    pub min_targets: usize,
    /// Only onward events as the account the escalation switched to (root)
    /// count: the escalated account's credentials used from the host. A
    /// user hopping on as themselves, or another user of a shared host, is
    /// everyday work.
    #[serde(default)]
    pub onward_as_target: bool,
    /// Only onward events new for their user count: with a history, a
    /// source or host not in its `user+source` or `user+host` terms; without
    /// one, a (user, source, host) not seen earlier in the log (a deploy
    /// account that logs in from the build host every day is routine).
    #[serde(default)]
    pub onward_new: bool,
    /// The session of the user on the host (a successful login).
    pub session: Filter,
    /// The privilege escalation on the host (su or sudo to root).
    pub escalation: Filter,
    /// The events on other hosts from the host's addresses.
    pub onward: Filter,
}

fn default_session_window() -> Window {
    Window(12 * 3_600_000_000)
}

fn one_usize() -> usize {
    1
}

/// Two events of one group (which must include `user`) within `window` from
/// different networks, at least one of them from a public address new for
/// the user: absent from the baseline [`crate::History`]'s `user+source`
/// terms when a history is given, else not seen for the user earlier in the
/// log. Events without a source IP address take no part. Hits of one group
/// closer than `window` merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrent {
    #[serde(default = "user_only")]
    pub group_by: Vec<Field>,
    /// The longest gap between the two events (default 10m).
    #[serde(default = "default_concurrent_window")]
    pub window: Window,
    /// IPv4 addresses with this many leading bits in common are one network
    /// (default 24).
    #[serde(default = "default_prefix_v4")]
    pub network_prefix_v4: u8,
    /// IPv6 addresses with this many leading bits in common are one network
    /// (default 48).
    #[serde(default = "default_prefix_v6")]
    pub network_prefix_v6: u8,
}

fn user_only() -> Vec<Field> {
    vec![Field::User]
}

fn default_concurrent_window() -> Window {
    Window(600_000_000)
}

fn default_prefix_v4() -> u8 {
    24
}

fn default_prefix_v6() -> u8 {
    48
}

/// The merge gap of a `single` rule without a `window`.
pub const DEFAULT_SINGLE_WINDOW: Window = Window(3_600_000_000);

impl Rule {
    /// Parses and checks one rule; `origin` (usually the file path) names
    /// the rule in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Rule, RuleError> {
        let rule: Rule = toml::from_str(text).map_err(|e| parse_error(text, origin, &e))?;
        rule.validate().map_err(|(key, message)| RuleError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            message,
        })?;
        Ok(rule)
    }

    /// The window in effect (`single` defaults to one hour).
    pub fn window(&self) -> Option<Window> {
        self.kind.window()
    }

    /// Checks what the types cannot: non-empty names, positive numbers, no
    /// duplicate or empty lists.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let err = |key, msg: &str| Err((key, msg.to_owned()));
        if self.id.trim().is_empty() {
            return err("id", "must not be empty");
        }
        if self.name.trim().is_empty() {
            return err("name", "must not be empty");
        }
        let mut steps = vec![("filter", &self.filter)];
        match &self.kind {
            Logic::Count(Count { threshold: 0, .. }) | Logic::Distinct(Distinct { threshold: 0, .. }) => {
                return err("threshold", "must be at least 1");
            }
            Logic::Distinct(d) if d.group_by.contains(&d.distinct_field) => {
                return err(
                    "distinct_field",
                    "is also in `group_by`, so it can only have one value per group",
                );
            }
            Logic::Sequence(s) => {
                if s.min_first == 0 {
                    return err("min_first", "must be at least 1");
                }
                steps.extend([("first", &s.first), ("then", &s.then)]);
            }
            Logic::Chain(c) => {
                if c.min_targets == 0 {
                    return err("min_targets", "must be at least 1");
                }
                steps.extend([
                    ("session", &c.session),
                    ("escalation", &c.escalation),
                    ("onward", &c.onward),
                ]);
            }
            Logic::Concurrent(c) => {
                if !c.group_by.contains(&Field::User) {
                    return err("group_by", "must include `user`: novelty is per user");
                }
                if !(1..=32).contains(&c.network_prefix_v4) {
                    return err("network_prefix_v4", "must be between 1 and 32");
                }
                if !(1..=128).contains(&c.network_prefix_v6) {
                    return err("network_prefix_v6", "must be between 1 and 128");
                }
            }
            Logic::NewTerm(n) => {
                if n.fields.is_empty() {
                    return err("fields", "must name at least one field");
                }
                if has_duplicates(&n.fields) {
                    return err("fields", "lists a field twice");
                }
                if n.hour_slack > 0 && !n.fields.contains(&TermField::Hour) {
                    return err("hour_slack", "needs an `hour` field");
                }
                if n.hour_slack > 11 {
                    return err("hour_slack", "must be at most 11 (hours either side)");
                }
            }
            _ => {}
        }
        if has_duplicates(self.kind.group_by()) {
            return err("group_by", "lists a field twice");
        }
        for (name, f) in steps {
            if let Some(key) = f.empty_list() {
                return Err((name, format!("`{key}` is an empty list, which matches nothing")));
            }
        }
        if self.severity.iter().any(Escalation::is_empty) {
            return err(
                "severity",
                "an entry has no `min_*` condition; use `level` for the base severity",
            );
        }
        Ok(())
    }
}

fn has_duplicates<T: PartialEq>(v: &[T]) -> bool {
    v.iter().enumerate().any(|(i, a)| v[..i].contains(a))
}

/// A TOML or serde error with the file, the line and, when the error points
/// at a line of `key = value`, the key path (`filter.action`).
fn parse_error(text: &str, origin: &str, e: &toml::de::Error) -> RuleError {
    let mut message = e.message().trim().to_owned();
    let mut line_no = None;
    let mut key = None;
    if let Some(span) = e.span() {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        line_no = Some(text[..start].matches('\n').count() + 1);
        let line = text[line_start..].lines().next().unwrap_or("");
        // Only a span inside one line points at a key (a missing field spans
        // the whole table).
        if span.end <= line_start + line.len() {
            key = key_lines(line).next().map(|(_, k, _)| k);
            if let Some(k) = &mut key {
                if let Some(t) = table_above(&text[..line_start]) {
                    *k = format!("{t}.{k}");
                }
            }
        }
    }
    // Errors in the keys of a kind span the whole file: find the line by the
    // key or value the message quotes.
    if key.is_none() && message.starts_with("missing field") {
        // The span is the whole file or the table that lacks the key.
        if e.span().is_some_and(|s| s.start == 0) {
            line_no = None;
        }
    } else if key.is_none() {
        let unknown_field = message.starts_with("unknown field");
        if let Some(token) = message.split('`').nth(1).map(str::to_owned) {
            if let Some((n, k)) = locate(text, &token, unknown_field) {
                line_no = Some(n);
                key = Some(k);
            }
            let top_level = key.as_ref().is_some_and(|k| !k.contains('.'));
            if let (true, true, Some(kind)) = (unknown_field, top_level, kind_of(text)) {
                message = if Logic::KEYS.contains(&token.as_str()) {
                    format!("not used by kind `{kind}`")
                } else {
                    // serde lists the kind's keys only.
                    let takes = message.split_once("expected ").map_or("", |(_, e)| e);
                    let takes = takes.trim_start_matches("one of ");
                    format!("unknown key; besides the common keys, kind `{kind}` takes {takes}")
                };
            }
        }
    }
    RuleError::Parse {
        origin: origin.to_owned(),
        line: line_no,
        key,
        message,
    }
}

/// `(line index, key, value)` of each `key = value` line of `text`.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, String, &str)> {
    text.lines().enumerate().filter_map(|(n, line)| {
        let (k, v) = line.split_once('=')?;
        let k = k.trim().trim_matches('"');
        let bare = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        bare.then(|| (n, k.to_owned(), v.trim()))
    })
}

/// The innermost `[table]` or `[[array]]` header in `text`, without brackets.
fn table_above(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
}

/// The first line (1-based) with key `token` (`as_key`: `token = ...` or a
/// `[token]` header) or a value that is `token` or lists it, and its key path.
fn locate(text: &str, token: &str, as_key: bool) -> Option<(usize, String)> {
    let header = text
        .lines()
        .position(|l| as_key && l.trim().trim_matches(|c| c == '[' || c == ']') == token);
    let line = key_lines(text).find(|(_, k, v)| {
        if as_key {
            k == token
        } else {
            *v == token || v.contains(&format!("\"{token}\"")) || v.contains(&format!("'{token}'"))
        }
    });
    match (header, line) {
        (Some(h), l) if l.as_ref().is_none_or(|(n, _, _)| h < *n) => Some((h + 1, token.to_owned())),
        (_, Some((n, k, _))) => {
            let above: Vec<&str> = text.lines().take(n).collect();
            let path = match table_above(&above.join("\n")) {
                Some(t) => format!("{t}.{k}"),
                None => k,
            };
            Some((n + 1, path))
        }
        _ => None,
    }
}

/// The `kind` value of a rule file that is valid TOML.
fn kind_of(text: &str) -> Option<String> {
    let table: toml::Table = text.parse().ok()?;
    Some(table.get("kind")?.as_str()?.to_owned())
}
