//! The rule file format: one TOML file per rule, read strictly (unknown keys,
//! unknown values and keys the rule's kind does not use are errors).

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
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Distinct => "distinct",
            Kind::Sequence => "sequence",
            Kind::Single => "single",
            Kind::NewTerm => "new_term",
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

    pub fn parse(s: &str) -> Result<Window, String> {
        let bad =
            || format!("bad duration `{s}`: expected a positive whole number and a unit s, m, h or d (like `10m`)");
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
}

impl Filter {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// How matching events become hits.
    pub kind: Kind,
    /// Fields that split events into independent groups; events lacking any
    /// of them are ignored. Not used by `new_term` (see `fields`).
    #[serde(default)]
    pub group_by: Vec<Field>,
    /// Time span: the sliding window (`count`, `distinct`), the longest gap
    /// from first to then (`sequence`), the merge gap (`single`, default 1h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Minimum events (`count`) or distinct values (`distinct`) per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// The field whose distinct values a `distinct` rule counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct_field: Option<Field>,
    /// Minimum `[first]` events (weighted by `repeat`) before `[then]`
    /// (`sequence`; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_first: Option<u64>,
    /// Conditions every considered event must meet (for `sequence`, both
    /// steps).
    #[serde(default)]
    pub filter: Filter,
    /// The first step of a `sequence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Filter>,
    /// The step that completes a `sequence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Filter>,
    /// The combination a `new_term` rule looks up in the baseline history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<TermField>,
    /// Severity escalations, first match wins, else `level`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Escalation>,
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
        match self.kind {
            Kind::Single => Some(self.window.unwrap_or(DEFAULT_SINGLE_WINDOW)),
            _ => self.window,
        }
    }

    /// Checks what serde cannot: keys each kind needs or does not use.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let err = |key, msg: &str| Err((key, msg.to_owned()));
        if self.id.trim().is_empty() {
            return err("id", "must not be empty");
        }
        if self.name.trim().is_empty() {
            return err("name", "must not be empty");
        }
        let kind = self.kind.as_str();
        let needs = |key: &'static str, present: bool| -> Result<(), (&'static str, String)> {
            if present {
                Ok(())
            } else {
                Err((key, format!("required for kind `{kind}`")))
            }
        };
        let unused = |key: &'static str, present: bool| -> Result<(), (&'static str, String)> {
            if present {
                Err((key, format!("not used by kind `{kind}`")))
            } else {
                Ok(())
            }
        };
        let k = self.kind;
        let uses_threshold = matches!(k, Kind::Count | Kind::Distinct);
        needs("threshold", !uses_threshold || self.threshold.is_some())?;
        unused("threshold", !uses_threshold && self.threshold.is_some())?;
        if self.threshold == Some(0) {
            return err("threshold", "must be at least 1");
        }
        needs(
            "window",
            !matches!(k, Kind::Count | Kind::Distinct | Kind::Sequence) || self.window.is_some(),
        )?;
        unused("window", k == Kind::NewTerm && self.window.is_some())?;
        needs("distinct_field", k != Kind::Distinct || self.distinct_field.is_some())?;
        unused("distinct_field", k != Kind::Distinct && self.distinct_field.is_some())?;
        needs("first", k != Kind::Sequence || self.first.is_some())?;
        needs("then", k != Kind::Sequence || self.then.is_some())?;
        unused("first", k != Kind::Sequence && self.first.is_some())?;
        unused("then", k != Kind::Sequence && self.then.is_some())?;
        unused("min_first", k != Kind::Sequence && self.min_first.is_some())?;
        if self.min_first == Some(0) {
            return err("min_first", "must be at least 1");
        }
        needs("fields", k != Kind::NewTerm || !self.fields.is_empty())?;
        unused("fields", k != Kind::NewTerm && !self.fields.is_empty())?;
        unused("group_by", k == Kind::NewTerm && !self.group_by.is_empty())?;
        if has_duplicates(&self.group_by) {
            return err("group_by", "lists a field twice");
        }
        if has_duplicates(&self.fields) {
            return err("fields", "lists a field twice");
        }
        if let Some(d) = self.distinct_field {
            if self.group_by.contains(&d) {
                return err(
                    "distinct_field",
                    "is also in `group_by`, so it can only have one value per group",
                );
            }
        }
        for (name, f) in [
            ("filter", Some(&self.filter)),
            ("first", self.first.as_ref()),
            ("then", self.then.as_ref()),
        ] {
            if let Some(key) = f.and_then(Filter::empty_list) {
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
    let mut line_no = None;
    let mut key = None;
    if let Some(span) = e.span() {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        line_no = Some(text[..start].matches('\n').count() + 1);
        let line = text[line_start..].lines().next().unwrap_or("");
        // Only a span inside one line points at a key (a missing field spans
        // the whole table).
        let one_line = span.end <= line_start + line.len();
        if let Some((k, _)) = line.split_once('=').filter(|_| one_line) {
            let k = k.trim().trim_matches('"');
            if !k.is_empty() && !k.starts_with('[') {
                // The innermost `[table]` or `[[array]]` header above the line.
                let table = text[..line_start]
                    .lines()
                    .rev()
                    .map(str::trim)
                    .find(|l| l.starts_with('['))
                    .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
                key = Some(match table {
                    Some(t) => format!("{t}.{k}"),
                    None => k.to_owned(),
                });
            }
        }
    }
    RuleError::Parse {
        origin: origin.to_owned(),
        line: line_no,
        key,
        message: e.message().trim().to_owned(),
    }
}
