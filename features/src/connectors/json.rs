//! JSON lines connector: one JSON object per line.
//!
//! Three shapes are read:
//!
//! - **ECS** (Elastic Common Schema) documents as written by Filebeat,
//!   Auditbeat or any shipper that follows ECS, with nested objects
//!   (`{"source":{"ip":..}}`) or dotted keys (`{"source.ip":..}`), or a mix.
//! - **Other schemas**, through a [`FieldMap`] read from TOML that says
//!   which JSON field holds each ECS field and how the schema's action
//!   values translate to loglynx [`Action`] keywords.
//! - **Wazuh alerts** (`alerts.json`, the indexer's `wazuh-alerts-*`),
//!   recognized by `full_log` and `predecoder.program_name`: the raw line's
//!   message goes through the syslog message decoders.
//! - **Windows Security events** as JSON, recognized by an `EventID` /
//!   `EventId` field (OTRF, NXLog and similar flat exports) or by
//!   `winlog.event_id` (Winlogbeat), whatever the field map says. Event IDs
//!   4624, 4625, 4634, 4648, 4672, 4720, 4740, 4771 and 4776 become events;
//!   any other ID is skipped as [`SkipReason::UnsupportedEventId`].
//!
//! An ECS document whose action is unknown, or that has no action but a
//! `message` and a `process.name`, is handed to the syslog message decoders
//! ([`crate::connectors::decode::decode_message`]), so shipped raw auth lines still
//! decode.
//!
//! Text fields of the events are owned copies of the JSON values; the
//! evidence borrows the line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::{
    Action, AttemptLine, AuthMethod, Decoded, Event, Evidence, FileId, Micros, Outcome, Skip, SkipReason,
};
use crate::time::{parse_iso8601, IsoStyle, MICROS_PER_SECOND};

/// Errors of connector configuration: field and column maps, CSV headers.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A map file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON field map is not valid TOML or has an unknown or mistyped key.
    #[error("invalid JSON field map {}: {source}", path.display())]
    FieldMap {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// An `action_values` entry maps to something that is not a loglynx action.
    #[error(
        "invalid JSON field map {}: action_values maps {value:?} to {keyword:?}, which is not a loglynx action keyword ({})",
        path.display(),
        action_keywords()
    )]
    ActionValue {
        path: PathBuf,
        value: String,
        keyword: String,
    },
    /// An `outcome_values` entry maps to something other than success/failure/unknown.
    #[error(
        "invalid JSON field map {}: outcome_values maps {value:?} to {outcome:?}; expected success, failure or unknown",
        path.display()
    )]
    OutcomeValue {
        path: PathBuf,
        value: String,
        outcome: String,
    },
    /// A CSV column map is not valid TOML or has an unknown or mistyped key.
    #[error("invalid CSV column map {}: {source}", path.display())]
    ColumnMap {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A required entry of the CSV column map is empty.
    #[error("invalid CSV column map: `{field}` must name a column")]
    EmptyColumnName { field: &'static str },
    /// The CSV header lacks columns the column map requires.
    #[error(
        "CSV header lacks column(s) {} (header: {header:?}); name the right columns in the column map",
        quote_list(missing)
    )]
    CsvHeader { missing: Vec<String>, header: String },
}

fn action_keywords() -> String {
    Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
}

fn quote_list(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// Which JSON field holds each ECS field. Paths are dotted: `host.name`
/// matches `{"host":{"name":..}}`, a literal top-level key `"host.name"`, or
/// any mix of the two. An empty path means the schema has no such field.
///
/// Read from TOML; every key is optional and defaults to the ECS name:
///
/// ```toml
/// timestamp = "ts"
/// user = "actor.login"
/// source_ip = "client_ip"
/// action = "type"
///
/// [action_values]
/// "login.failed" = "authentication"
/// "account.create" = "user-created"
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FieldMap {
    /// When it happened (`@timestamp`): RFC 3339, `YYYY-MM-DD hh:mm:ss[.f]`
    /// (UTC when no zone is given), or epoch seconds/milliseconds.
    pub timestamp: String,
    /// The system that logged the event (`host.name`).
    pub host: String,
    /// The remote peer's IP address (`source.ip`); IPv4 or IPv6.
    pub source_ip: String,
    /// The remote peer as written, IP or host name (`source.address`); read
    /// only when `source_ip` is absent.
    pub source_address: String,
    /// The remote peer's port (`source.port`).
    pub source_port: String,
    /// The account acted as or attempted (`user.name`).
    pub user: String,
    /// The account acted upon: sudo/su target, created account (`user.target.name`).
    pub target_user: String,
    /// What happened (`event.action`): a loglynx keyword, a common ECS,
    /// Filebeat or Auditbeat value, or a key of `action_values`.
    pub action: String,
    /// `success`, `failure` or `unknown` (`event.outcome`), or a key of `outcome_values`.
    pub outcome: String,
    /// The program that logged (`process.name`).
    pub program: String,
    /// Its process ID (`process.pid`).
    pub pid: String,
    /// The command run, for sudo (`process.command_line`).
    pub command: String,
    /// The raw log message (`message`), decoded like a syslog message when
    /// the action is absent or unknown and the program is known.
    pub message: String,
    /// How the credential was presented: `password`, `publickey`, ... (no
    /// ECS field; Filebeat writes `system.auth.ssh.method`).
    pub auth_method: String,
    /// This schema's action values mapped to loglynx action keywords
    /// (`authentication`, `user-created`, ...). Checked first, exact match.
    pub action_values: BTreeMap<String, String>,
    /// This schema's outcome values mapped to `success`, `failure` or `unknown`.
    pub outcome_values: BTreeMap<String, String>,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            timestamp: "@timestamp".into(),
            host: "host.name".into(),
            source_ip: "source.ip".into(),
            source_address: "source.address".into(),
            source_port: "source.port".into(),
            user: "user.name".into(),
            target_user: "user.target.name".into(),
            action: "event.action".into(),
            outcome: "event.outcome".into(),
            program: "process.name".into(),
            pid: "process.pid".into(),
            command: "process.command_line".into(),
            message: "message".into(),
            auth_method: "system.auth.ssh.method".into(),
            action_values: BTreeMap::new(),
            outcome_values: BTreeMap::new(),
        }
    }
}

/// The text of a field or column map file.
pub(crate) fn read_map_file(path: &Path) -> Result<String, ConnectorError> {
    std::fs::read_to_string(path).map_err(|source| ConnectorError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl FieldMap {
    /// Reads and checks a field map from a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConnectorError> {
        Self::parse(&read_map_file(path)?, path)
    }

    /// Reads and checks a field map from TOML text (errors name `<string>`).
    pub fn from_toml_str(text: &str) -> Result<Self, ConnectorError> {
        Self::parse(text, Path::new("<string>"))
    }

    fn parse(text: &str, path: &Path) -> Result<Self, ConnectorError> {
        let map: FieldMap = toml::from_str(text).map_err(|source| ConnectorError::FieldMap {
            path: path.to_path_buf(),
            source,
        })?;
        for (value, keyword) in &map.action_values {
            if action_from_text(keyword).is_none() {
                return Err(ConnectorError::ActionValue {
                    path: path.to_path_buf(),
                    value: value.clone(),
                    keyword: keyword.clone(),
                });
            }
        }
        for (value, outcome) in &map.outcome_values {
            if outcome_from_text(outcome).is_none() {
                return Err(ConnectorError::OutcomeValue {
                    path: path.to_path_buf(),
                    value: value.clone(),
                    outcome: outcome.clone(),
                });
            }
        }
        Ok(map)
    }

    fn action_of(&self, value: &str) -> Option<Action> {
        match self.action_values.get(value) {
            Some(keyword) => action_from_text(keyword),
            None => action_from_text(value),
        }
    }

    fn outcome_of(&self, value: &str) -> Option<Outcome> {
        match self.outcome_values.get(value) {
            Some(outcome) => outcome_from_text(outcome),
            None => outcome_from_text(value),
        }
    }
}

/// Whether a line looks like a JSON object (for input format detection).
pub fn looks_like_json(line: &str) -> bool {
    let rest = line.trim_start_matches('\u{feff}').trim_start();
    let Some(rest) = rest.strip_prefix('{') else {
        return false;
    };
    matches!(rest.trim_start().as_bytes().first(), None | Some(b'"' | b'}'))
}

/// Decodes one JSON line into an event.
///
/// Windows events (an `EventID`/`EventId` field, or `winlog.event_id`) are
/// recognized whatever `map` says; everything else is read through `map`.
pub fn decode_json_line<'a>(line: &'a str, file: FileId, line_no: u64, map: &FieldMap) -> Decoded<'a> {
    let text = line.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(Skip::new(SkipReason::Empty));
    }
    let root = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(root)) => root,
        Ok(_) => return Err(Skip::new(SkipReason::Malformed)),
        // An object cut off mid-way: a truncated write.
        Err(e) if e.is_eof() && text.starts_with('{') => return Err(Skip::new(SkipReason::Truncated)),
        Err(_) => return Err(Skip::new(SkipReason::Malformed)),
    };
    let evidence = Evidence {
        file,
        line: line_no,
        raw: Cow::Borrowed(line.trim_end_matches(['\r', '\n'])),
    };
    if let Some(id) = windows_event_id(&root) {
        return decode_windows(&root, id, map, evidence);
    }
    if is_wazuh_alert(&root) {
        return decode_wazuh_alert(&root, evidence);
    }
    decode_mapped(&root, map, evidence)
}

// ---------------------------------------------------------------------------
// Wazuh alerts

/// A Wazuh alert (`alerts.json`, or the `wazuh-alerts-*` documents of its
/// indexer): the raw log line in `full_log`, its program in
/// `predecoder.program_name`.
fn is_wazuh_alert(root: &Map<String, Value>) -> bool {
    root.contains_key("full_log") && lookup(root, "predecoder.program_name").is_some()
}

/// Decodes a Wazuh alert's raw line with the syslog message decoders, so
/// what the event is comes from the program's own message, not from
/// Wazuh's rule.
fn decode_wazuh_alert<'a>(root: &Map<String, Value>, evidence: Evidence<'a>) -> Decoded<'a> {
    let Some(timestamp) = lookup(root, "@timestamp")
        .or_else(|| root.get("timestamp"))
        .and_then(timestamp_of)
    else {
        return Err(Skip::new(SkipReason::BadTimestamp));
    };
    let program = text_at(root, "predecoder.program_name").unwrap_or_default();
    let host = text_at(root, "predecoder.hostname").or_else(|| text_at(root, "agent.name"));
    let full_log = text_at(root, "full_log").unwrap_or_default();
    match message_after_program(&full_log, &program) {
        Some((pid, message)) => from_message(timestamp, host.as_deref(), &program, pid, message, evidence),
        None => Err(Skip {
            reason: SkipReason::Unrecognized,
            program: Some(owned(program)),
        }),
    }
}

/// The pid and message of a syslog line whose tag is `program[pid]: ` or
/// `program: `: the first such tag, which is the header's, since the
/// message (the only text an attacker writes) comes after it.
fn message_after_program<'l>(line: &'l str, program: &str) -> Option<(Option<u32>, &'l str)> {
    if program.is_empty() {
        return None;
    }
    for (at, _) in line.match_indices(program) {
        let rest = &line[at + program.len()..];
        if let Some(message) = rest.strip_prefix(": ") {
            return Some((None, message));
        }
        if let Some(bracketed) = rest.strip_prefix('[') {
            if let Some((pid, message)) = bracketed.split_once("]: ") {
                if let Ok(pid) = pid.parse() {
                    return Some((Some(pid), message));
                }
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Field access

/// The value at a dotted path: a literal key first, then every split of the
/// path at a dot into an object key and the rest inside that object.
fn lookup<'v>(obj: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return None;
    }
    if let Some(v) = obj.get(path) {
        return (!v.is_null()).then_some(v);
    }
    for (i, _) in path.match_indices('.') {
        if let Some(Value::Object(inner)) = obj.get(&path[..i]) {
            if let Some(v) = lookup(inner, &path[i + 1..]) {
                return Some(v);
            }
        }
    }
    None
}

/// A scalar as text, trimmed; `None` for empty, `-`, null, arrays, objects.
fn value_text(v: &Value) -> Option<Cow<'_, str>> {
    let t: Cow<'_, str> = match v {
        Value::String(s) => Cow::Borrowed(s.trim()),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        _ => return None,
    };
    (!t.is_empty() && t != "-").then_some(t)
}

fn text_at<'v>(obj: &'v Map<String, Value>, path: &str) -> Option<Cow<'v, str>> {
    lookup(obj, path).and_then(value_text)
}

fn owned(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

/// An unsigned integer from a JSON number or a decimal or `0x` hex string.
fn value_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_uint(s),
        _ => None,
    }
}

fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A source address as text, with IPv4-mapped IPv6 (`::ffff:10.0.0.5`, as
/// Windows writes for Kerberos) reduced to the IPv4 address.
fn source_text(s: Cow<'_, str>) -> Cow<'static, str> {
    if let Some(v4) = s.strip_prefix("::ffff:").or_else(|| s.strip_prefix("::FFFF:")) {
        if v4.parse::<std::net::Ipv4Addr>().is_ok() {
            return Cow::Owned(v4.to_owned());
        }
    }
    owned(s)
}

fn set_port(ev: &mut Event<'_>, v: Option<&Value>) {
    // Windows writes port 0 for "no network peer".
    ev.source_port = v
        .and_then(value_uint)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0);
}

// ---------------------------------------------------------------------------
// Timestamps

/// Parses a timestamp into UTC microseconds: RFC 3339 (`T` or space, `Z` or
/// `±hh:mm`/`±hhmm`/`±hh`; no zone = UTC; `.` or `,` fraction, at most
/// microseconds kept), epoch seconds, milliseconds, microseconds or
/// nanoseconds as digits (told apart by magnitude), and .NET JSON dates
/// (`/Date(1603157507232)/`).
pub fn parse_timestamp(s: &str) -> Option<Micros> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        // Milliseconds since the epoch, UTC; an optional `+hhmm` is display-only.
        let end = inner
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '+' || c == '-')
            .map_or(inner.len(), |(i, _)| i);
        let ms: i64 = inner[..end].parse().ok()?;
        return ms.checked_mul(1000);
    }
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return epoch_text(s);
    }
    parse_datetime(b)
}

fn epoch_text(s: &str) -> Option<Micros> {
    if s.contains('.') {
        epoch_float(s.parse().ok()?)
    } else {
        epoch_int(s.parse().ok()?)
    }
}

/// Epoch as an integer: seconds below 1e11 (year 5138), then milliseconds,
/// microseconds, nanoseconds.
fn epoch_int(n: i64) -> Option<Micros> {
    let a = n.unsigned_abs();
    if a < 100_000_000_000 {
        n.checked_mul(MICROS_PER_SECOND)
    } else if a < 100_000_000_000_000 {
        n.checked_mul(1000)
    } else if a < 100_000_000_000_000_000 {
        Some(n)
    } else {
        Some(n / 1000)
    }
}

fn epoch_float(x: f64) -> Option<Micros> {
    if !x.is_finite() {
        return None;
    }
    let a = x.abs();
    let us = if a < 1e11 {
        x * 1e6
    } else if a < 1e14 {
        x * 1e3
    } else if a < 1e17 {
        x
    } else {
        x / 1e3
    };
    // Outside ±2^62 µs (about ±146,000 years) is not a timestamp.
    (us.abs() < 4.6e18).then(|| us.round() as i64)
}

fn timestamp_of(v: &Value) -> Option<Micros> {
    match v {
        Value::String(s) => parse_timestamp(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => epoch_int(i),
            None => epoch_float(n.as_f64()?),
        },
        // Some exports nest the time: {"TimeCreated":{"SystemTime":..}}.
        Value::Object(o) => o
            .get("SystemTime")
            .or_else(|| o.get("@SystemTime"))
            .and_then(timestamp_of),
        _ => None,
    }
}

/// A whole string as an ISO-8601 date-time (see [`IsoStyle::Value`]).
fn parse_datetime(b: &[u8]) -> Option<Micros> {
    match parse_iso8601(b, IsoStyle::Value) {
        Ok((t, n)) if n == b.len() => Some(t),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Actions and outcomes

/// An action from a loglynx keyword or a common synonym written by ECS
/// shippers (Filebeat, Auditbeat, Winlogbeat). Case, `_` and spaces are
/// ignored: `SSH_Login` = `ssh-login`.
pub(crate) fn action_from_text(s: &str) -> Option<Action> {
    let norm: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if let Some(a) = Action::from_keyword(&norm) {
        return Some(a);
    }
    Some(match norm.as_str() {
        // Filebeat system/auth, Auditbeat login and auditd, Winlogbeat.
        "ssh-login"
        | "user-login"
        | "logged-in"
        | "login"
        | "logon"
        | "log-on"
        | "authenticated"
        | "authentication-success"
        | "authentication-failure"
        | "authentication-failed"
        | "logon-failed"
        | "ssh-auth" => Action::Authentication,
        "started-session" | "session-start" | "session-opened-for-user" => Action::SessionOpened,
        "logged-out" | "user-logout" | "logout" | "logoff" | "log-off" | "ended-session" | "session-end" => {
            Action::SessionClosed
        }
        "added-user-account" | "user-add" | "useradd" | "create-user" | "created-user" | "user-account-created" => {
            Action::UserCreated
        }
        "modified-user-account" | "usermod" | "user-modify" | "user-changed" | "user-account-changed" => {
            Action::UserModified
        }
        "deleted-user-account" | "userdel" | "user-delete" | "user-removed" | "user-account-deleted" => {
            Action::UserDeleted
        }
        "changed-password" | "passwd" | "password-change" | "user-password-changed" => Action::PasswordChanged,
        "added-group-account"
        | "modified-group-account"
        | "deleted-group-account"
        | "groupadd"
        | "groupmod"
        | "groupdel"
        | "group-created"
        | "group-modified"
        | "group-deleted"
        | "added-member-to-group"
        | "removed-member-from-group" => Action::GroupChanged,
        // Auditd USER_CMD records are written by sudo.
        "ran-command" | "sudo-command" => Action::Sudo,
        "switched-user" | "su-login" => Action::Su,
        "locked-out-user-account" | "user-locked-out" | "locked-account" | "account-lockout" => Action::AccountLocked,
        "invalid-user-login" => Action::InvalidUser,
        _ => return None,
    })
}

fn outcome_from_text(s: &str) -> Option<Outcome> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "success" | "succeeded" | "successful" | "ok" | "true" => Outcome::Success,
        "failure" | "failed" | "fail" | "false" | "denied" => Outcome::Failure,
        "unknown" => Outcome::Unknown,
        _ => return None,
    })
}

fn auth_method_from_text(s: &str) -> Option<AuthMethod> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "password" => AuthMethod::Password,
        "publickey" => AuthMethod::Publickey,
        "keyboard-interactive" | "keyboard-interactive/pam" => AuthMethod::KeyboardInteractive,
        "none" => AuthMethod::None,
        "kerberos" => AuthMethod::Kerberos,
        "ntlm" => AuthMethod::Ntlm,
        "" => return None,
        _ => AuthMethod::Other,
    })
}

// ---------------------------------------------------------------------------
// ECS and mapped schemas

fn decode_mapped<'a>(root: &Map<String, Value>, map: &FieldMap, evidence: Evidence<'a>) -> Decoded<'a> {
    let timestamp = match lookup(root, &map.timestamp).map(timestamp_of) {
        Some(Some(t)) => t,
        _ => return Err(Skip::new(SkipReason::BadTimestamp)),
    };
    let program = text_at(root, &map.program);
    let action_text = text_at(root, &map.action);
    let mut action = action_text.as_deref().and_then(|a| map.action_of(a));
    // Filebeat marks `Invalid user X from IP` as ssh_login with event Invalid.
    if action == Some(Action::Authentication)
        && text_at(root, "system.auth.ssh.event").is_some_and(|e| e.eq_ignore_ascii_case("invalid"))
    {
        action = Some(Action::InvalidUser);
    }
    let Some(action) = action else {
        let message = text_at(root, &map.message);
        return match (program, message) {
            (Some(program), Some(message)) => {
                let host = text_at(root, &map.host);
                let pid = lookup(root, &map.pid)
                    .and_then(value_uint)
                    .and_then(|p| u32::try_from(p).ok());
                from_message(timestamp, host.as_deref(), &program, pid, &message, evidence)
            }
            (program, _) => Err(Skip {
                reason: SkipReason::Unrecognized,
                program: program.map(owned),
            }),
        };
    };

    let mut ev = Event::new(timestamp, action, evidence);
    ev.outcome = text_at(root, &map.outcome)
        .and_then(|o| map.outcome_of(&o))
        .unwrap_or(match action {
            Action::InvalidUser => Outcome::Failure,
            _ => Outcome::Unknown,
        });
    ev.host = text_at(root, &map.host).map(owned);
    if let Some(src) = text_at(root, &map.source_ip).or_else(|| text_at(root, &map.source_address)) {
        ev.set_source(source_text(src));
    }
    set_port(&mut ev, lookup(root, &map.source_port));
    ev.user = text_at(root, &map.user).map(owned);
    ev.target_user = text_at(root, &map.target_user).map(owned);
    ev.auth_method = text_at(root, &map.auth_method).and_then(|m| auth_method_from_text(&m));
    ev.program = program.map(owned);
    ev.pid = lookup(root, &map.pid)
        .and_then(value_uint)
        .and_then(|p| u32::try_from(p).ok());
    ev.command = text_at(root, &map.command).map(owned);
    read_loglynx_fields(root, &mut ev);
    Ok(ev)
}

/// loglynx's own fields (`loglynx.*`, as `--events-out` writes them), so
/// that an events file read back gives the events it was written from:
/// which record of an attempt a line is (the attempts are paired again
/// from it, as they were), the repeat count, the flags.
fn read_loglynx_fields(root: &Map<String, Value>, ev: &mut Event<'_>) {
    let Some(Value::Object(own)) = root.get("loglynx") else {
        return;
    };
    let field = |name: &str| own.get(name).filter(|v| !v.is_null());
    let flag = |name: &str| field(name).and_then(Value::as_bool).unwrap_or(false);
    if let Some(m) = field("auth_method").and_then(Value::as_str).and_then(AuthMethod::parse) {
        ev.auth_method = Some(m);
    }
    if let Some(r) = field("repeat").and_then(value_uint).and_then(|r| u32::try_from(r).ok()) {
        ev.repeat = r.max(1);
    }
    if let Some(line) = field("attempt_line")
        .and_then(Value::as_str)
        .and_then(AttemptLine::parse)
    {
        ev.set_attempt_line(line);
    }
    ev.user_invalid |= flag("user_invalid");
    ev.denied |= flag("denied");
    ev.source_unreliable |= flag("source_unreliable");
}

/// Runs the syslog message decoders on a message held in the JSON document,
/// then detaches the result from the document.
fn from_message<'a>(
    timestamp: Micros,
    host: Option<&str>,
    program: &str,
    pid: Option<u32>,
    message: &str,
    evidence: Evidence<'a>,
) -> Decoded<'a> {
    match crate::connectors::decode::decode_message(timestamp, host, program, pid, message, evidence) {
        Ok(ev) => Ok(ev.into_owned()),
        Err(skip) => Err(Skip {
            reason: skip.reason,
            program: skip.program.map(owned),
        }),
    }
}

// ---------------------------------------------------------------------------
// Windows Security events

/// The event ID of a Windows event, if the document is one; `Some(None)`
/// when the ID field is there but not a number.
fn windows_event_id(root: &Map<String, Value>) -> Option<Option<u64>> {
    let v = root
        .get("EventID")
        .or_else(|| root.get("EventId"))
        .or_else(|| lookup(root, "winlog.event_id"))?;
    Some(value_uint(v))
}

const SECURITY_AUDITING: &str = "Microsoft-Windows-Security-Auditing";
/// `STATUS_NO_SUCH_USER`: the account name does not exist.
const STATUS_NO_SUCH_USER: u64 = 0xC000_0064;
/// Kerberos `KDC_ERR_C_PRINCIPAL_UNKNOWN`: the client is not in the database.
const KDC_ERR_C_PRINCIPAL_UNKNOWN: u64 = 0x6;

fn decode_windows<'a>(
    root: &Map<String, Value>,
    id: Option<u64>,
    map: &FieldMap,
    evidence: Evidence<'a>,
) -> Decoded<'a> {
    let provider = [
        "SourceName",
        "winlog.provider_name",
        "ProviderName",
        "Provider_Name",
        "event.provider",
    ]
    .iter()
    .find_map(|p| text_at(root, p));
    let Some(id) = id else {
        return Err(Skip::new(SkipReason::Malformed));
    };
    // Event data: Winlogbeat nests it, flat exports put it at the top level.
    let data = |name: &str| -> Option<&Value> {
        ["winlog.event_data.", "event_data.", "EventData."]
            .iter()
            .find_map(|p| lookup(root, &format!("{p}{name}")))
            .or_else(|| root.get(name).filter(|v| !v.is_null()))
    };
    let text = |name: &str| data(name).and_then(value_text).map(owned);
    let status = |name: &str| data(name).and_then(value_uint);

    let (action, outcome) = match id {
        4624 => (Action::Authentication, Outcome::Success),
        4625 => (Action::Authentication, Outcome::Failure),
        4634 => (Action::SessionClosed, Outcome::Success),
        4648 => (Action::ExplicitCredentials, Outcome::Success),
        4672 => (Action::PrivilegedLogon, Outcome::Success),
        4720 => (Action::UserCreated, Outcome::Success),
        4740 => (Action::AccountLocked, Outcome::Success),
        4771 => match status("Status") {
            Some(0) => (Action::Authentication, Outcome::Success),
            _ => (Action::Authentication, Outcome::Failure),
        },
        4776 => match status("Status") {
            Some(0) => (Action::Authentication, Outcome::Success),
            Some(_) => (Action::Authentication, Outcome::Failure),
            None => (Action::Authentication, Outcome::Unknown),
        },
        _ => {
            return Err(Skip {
                reason: SkipReason::UnsupportedEventId,
                program: provider.map(owned),
            })
        }
    };
    let timestamp = [
        map.timestamp.as_str(),
        "TimeCreated",
        "EventTime",
        "winlog.time_created",
    ]
    .iter()
    .find_map(|p| lookup(root, p))
    .and_then(timestamp_of);
    let Some(timestamp) = timestamp else {
        return Err(Skip::new(SkipReason::BadTimestamp));
    };

    let mut ev = Event::new(timestamp, action, evidence);
    ev.outcome = outcome;
    ev.program = Some(provider.map_or(Cow::Borrowed(SECURITY_AUDITING), owned));
    ev.host = [
        map.host.as_str(),
        "winlog.computer_name",
        "Hostname",
        "Computer",
        "ComputerName",
    ]
    .iter()
    .find_map(|p| text_at(root, p))
    .map(owned);
    let set_ip = |ev: &mut Event<'a>| {
        if let Some(ip) = data("IpAddress").and_then(value_text) {
            ev.set_source(source_text(ip));
        }
        set_port(ev, data("IpPort"));
    };
    match id {
        4624 | 4625 => {
            ev.user = text("TargetUserName");
            set_ip(&mut ev);
            ev.auth_method = text("AuthenticationPackageName").and_then(|p| match p.to_ascii_lowercase().as_str() {
                "ntlm" => Some(AuthMethod::Ntlm),
                "kerberos" => Some(AuthMethod::Kerberos),
                "" | "-" => None,
                _ => Some(AuthMethod::Other),
            });
            ev.user_invalid = id == 4625
                && (status("SubStatus") == Some(STATUS_NO_SUCH_USER) || status("Status") == Some(STATUS_NO_SUCH_USER));
        }
        4634 => ev.user = text("TargetUserName"),
        4648 => {
            ev.user = text("SubjectUserName");
            ev.target_user = text("TargetUserName");
            set_ip(&mut ev);
        }
        4672 => ev.user = text("SubjectUserName"),
        4720 => {
            ev.user = text("SubjectUserName");
            ev.target_user = text("TargetUserName");
        }
        4740 => {
            ev.user = text("TargetUserName");
            // For 4740, TargetDomainName holds the "Caller Computer Name".
            if let Some(caller) = text("TargetDomainName") {
                ev.set_source(caller);
            }
        }
        4771 => {
            ev.user = text("TargetUserName");
            ev.auth_method = Some(AuthMethod::Kerberos);
            set_ip(&mut ev);
            ev.user_invalid = status("Status") == Some(KDC_ERR_C_PRINCIPAL_UNKNOWN);
        }
        4776 => {
            ev.user = text("TargetUserName");
            ev.auth_method = Some(AuthMethod::Ntlm);
            if let Some(ws) = text("Workstation") {
                ev.set_source(ws);
            }
            ev.user_invalid = status("Status") == Some(STATUS_NO_SUCH_USER);
        }
        _ => {}
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    fn ecs(line: &str) -> Decoded<'static> {
        match decode_json_line(line, 0, 1, &FieldMap::default()) {
            Ok(ev) => Ok(ev.into_owned()),
            Err(s) => Err(Skip {
                reason: s.reason,
                program: s.program.map(owned),
            }),
        }
    }

    fn ok(line: &str) -> Event<'static> {
        ecs(line).unwrap_or_else(|s| panic!("{line}: {s:?}"))
    }

    fn skip(line: &str) -> SkipReason {
        match ecs(line) {
            Ok(ev) => panic!("{line}: decoded {ev:?}"),
            Err(s) => s.reason,
        }
    }

    fn ts(s: &str) -> String {
        format_rfc3339(parse_timestamp(s).unwrap_or_else(|| panic!("{s}")))
    }

    const NESTED: &str = r#"{"@timestamp":"2024-03-03T04:05:06.123Z","host":{"name":"web1"},"source":{"ip":"203.0.113.9","port":4711},"user":{"name":"root"},"event":{"action":"ssh_login","outcome":"failure","category":["authentication"]},"process":{"name":"sshd","pid":811},"system":{"auth":{"ssh":{"method":"password","event":"Failed"}}}}"#;
    const DOTTED: &str = r#"{"@timestamp":"2024-03-03T04:05:06.123Z","host.name":"web1","source.ip":"203.0.113.9","source.port":"4711","user.name":"root","event.action":"ssh_login","event.outcome":"failure","process.name":"sshd","process.pid":"811","system.auth.ssh.method":"password"}"#;

    #[test]
    fn nested_and_dotted_ecs_decode_the_same() {
        let a = ok(NESTED);
        let b = ok(DOTTED);
        for ev in [&a, &b] {
            assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T04:05:06.123000Z");
            assert_eq!(ev.action, Action::Authentication);
            assert_eq!(ev.outcome, Outcome::Failure);
            assert_eq!(ev.host.as_deref(), Some("web1"));
            assert_eq!(ev.source_address.as_deref(), Some("203.0.113.9"));
            assert_eq!(ev.source_ip, Some("203.0.113.9".parse().unwrap()));
            assert_eq!(ev.source_port, Some(4711));
            assert_eq!(ev.user.as_deref(), Some("root"));
            assert_eq!(ev.program.as_deref(), Some("sshd"));
            assert_eq!(ev.pid, Some(811));
            assert_eq!(ev.auth_method, Some(AuthMethod::Password));
            assert_eq!(ev.evidence.line, 1);
        }
        assert_eq!(a.evidence.raw, NESTED);
    }

    #[test]
    fn mixed_nesting_and_dotted_keys_inside_objects() {
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","source":{"ip":"2001:db8::7"},"event":{"action":"authentication"},"user":{"target.name":"admin"},"user.name":"bob"}"#,
        );
        assert_eq!(ev.source_ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(ev.user.as_deref(), Some("bob"));
        assert_eq!(ev.target_user.as_deref(), Some("admin"));
        assert_eq!(ev.outcome, Outcome::Unknown);
    }

    #[test]
    fn action_keywords_and_synonyms() {
        let cases = [
            ("authentication", Action::Authentication),
            ("session-opened", Action::SessionOpened),
            ("account-locked", Action::AccountLocked),
            ("ssh_login", Action::Authentication),
            ("user_login", Action::Authentication),
            ("logged-in", Action::Authentication),
            ("logged-out", Action::SessionClosed),
            ("user_logout", Action::SessionClosed),
            ("added-user-account", Action::UserCreated),
            ("user-created", Action::UserCreated),
            ("deleted-user-account", Action::UserDeleted),
            ("changed-password", Action::PasswordChanged),
            ("added-group-account", Action::GroupChanged),
            ("sudo", Action::Sudo),
            ("ran-command", Action::Sudo),
            ("SSH_Login", Action::Authentication),
        ];
        for (value, want) in cases {
            let line = format!(r#"{{"@timestamp":"2024-03-03T04:05:06Z","event":{{"action":"{value}"}}}}"#);
            assert_eq!(ok(&line).action, want, "{value}");
        }
        for a in Action::ALL {
            assert_eq!(action_from_text(a.as_str()), Some(a));
        }
    }

    #[test]
    fn filebeat_invalid_user_and_sudo_command() {
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","event":{"action":"ssh_login","outcome":"failure"},"system":{"auth":{"ssh":{"event":"Invalid"}}},"user":{"name":"oracle"},"source":{"ip":"198.51.100.4"}}"#,
        );
        assert_eq!(ev.action, Action::InvalidUser);
        assert_eq!(ev.outcome, Outcome::Failure);
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","event":{"action":"sudo"},"user":{"name":"alice","target":{"name":"root"}},"process":{"name":"sudo","command_line":"/bin/cat /etc/shadow"}}"#,
        );
        assert_eq!(ev.action, Action::Sudo);
        assert_eq!(ev.target_user.as_deref(), Some("root"));
        assert_eq!(ev.command.as_deref(), Some("/bin/cat /etc/shadow"));
    }

    #[test]
    fn outcomes() {
        for (v, want) in [
            ("success", Outcome::Success),
            ("failure", Outcome::Failure),
            ("unknown", Outcome::Unknown),
            ("Failure", Outcome::Failure),
            ("weird", Outcome::Unknown),
        ] {
            let line = format!(
                r#"{{"@timestamp":"2024-03-03T04:05:06Z","event.action":"authentication","event.outcome":"{v}"}}"#
            );
            assert_eq!(ok(&line).outcome, want, "{v}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts("2020-10-20 01:31:47.232"), "2020-10-20T01:31:47.232000Z");
        assert_eq!(ts("2020-10-20T01:31:47Z"), "2020-10-20T01:31:47Z");
        assert_eq!(ts("2020-10-20T03:31:47.5+02:00"), "2020-10-20T01:31:47.500000Z");
        assert_eq!(ts("2020-10-19T20:31:47-0500"), "2020-10-20T01:31:47Z");
        assert_eq!(ts("2020-10-20T01:31:47.123456789Z"), "2020-10-20T01:31:47.123456Z");
        assert_eq!(ts("2020-10-20T01:31:47,25+00"), "2020-10-20T01:31:47.250000Z");
        assert_eq!(ts("2020-10-20 01:31"), "2020-10-20T01:31:00Z");
        // The spellings a syslog header accepts are values too.
        assert_eq!(ts("2020-03-23 09:58:27.102292-0700"), "2020-03-23T16:58:27.102292Z");
        assert_eq!(ts("2020-03-23 09:58:27+05:30"), "2020-03-23T04:28:27Z");
        assert_eq!(ts("2020-03-23T09:58:27.1-02"), "2020-03-23T11:58:27.100000Z");
        assert_eq!(ts("2020-03-23 09:58:27z"), "2020-03-23T09:58:27Z");
        assert_eq!(ts("1603157507"), "2020-10-20T01:31:47Z");
        assert_eq!(ts("1603157507232"), "2020-10-20T01:31:47.232000Z");
        assert_eq!(ts("1603157507.25"), "2020-10-20T01:31:47.250000Z");
        assert_eq!(ts("/Date(1603157507232)/"), "2020-10-20T01:31:47.232000Z");
        assert_eq!(ts("/Date(1603157507232+0200)/"), "2020-10-20T01:31:47.232000Z");
        for bad in [
            "",
            "yesterday",
            "2020-02-30T00:00:00Z",
            "2020-10-20T24:00:00Z",
            "2020-10-20T01:31:47+25:00",
            "2020-10-20 01:31:47+2500",
            "2020-13-20 01:31:47Z",
            "2020-10-20 01:31:47.1234567890Z",
            "2020-10-20T01:31:47 junk",
            "2020-10-20",
            "2020-10-20T01:31:47.",
            "/Date()/",
            "/Date(x)/",
            ".",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        // Epoch numbers in JSON.
        let ev = ok(r#"{"@timestamp":1603157507232,"event.action":"authentication"}"#);
        assert_eq!(format_rfc3339(ev.timestamp), "2020-10-20T01:31:47.232000Z");
        let ev = ok(r#"{"@timestamp":1603157507.5,"event.action":"authentication"}"#);
        assert_eq!(format_rfc3339(ev.timestamp), "2020-10-20T01:31:47.500000Z");
    }

    #[test]
    fn bad_lines_are_skipped() {
        assert_eq!(skip(""), SkipReason::Empty);
        assert_eq!(skip("   \r"), SkipReason::Empty);
        assert_eq!(skip("not json"), SkipReason::Malformed);
        assert_eq!(skip("[1,2]"), SkipReason::Malformed);
        assert_eq!(skip("\"text\""), SkipReason::Malformed);
        assert_eq!(skip(r#"{"a":1} {"b":2}"#), SkipReason::Malformed);
        assert_eq!(
            skip(r#"{"@timestamp":"2024-03-03T04:05:06Z","event":{"act"#),
            SkipReason::Truncated
        );
        assert_eq!(
            skip(r#"{"event":{"action":"authentication"}}"#),
            SkipReason::BadTimestamp
        );
        assert_eq!(
            skip(r#"{"@timestamp":"soon","event":{"action":"authentication"}}"#),
            SkipReason::BadTimestamp
        );
        assert_eq!(
            skip(r#"{"@timestamp":null,"event":{"action":"authentication"}}"#),
            SkipReason::BadTimestamp
        );
    }

    #[test]
    fn unknown_action_without_message_is_unrecognized_with_program() {
        let s =
            ecs(r#"{"@timestamp":"2024-03-03T04:05:06Z","event":{"action":"dns-query"},"process":{"name":"named"}}"#)
                .unwrap_err();
        assert_eq!(s.reason, SkipReason::Unrecognized);
        assert_eq!(s.program.as_deref(), Some("named"));
        let s = ecs(r#"{"@timestamp":"2024-03-03T04:05:06Z","message":"hello"}"#).unwrap_err();
        assert_eq!((s.reason, s.program), (SkipReason::Unrecognized, None));
    }

    #[test]
    fn wazuh_alerts_are_read_from_their_raw_line_whatever_the_user_name_says() {
        let doc = |user: &str| {
            serde_json::json!({
                "timestamp": "2026-03-02T10:00:00.000+0000",
                "@timestamp": "2026-03-02T10:00:00.000Z",
                "rule": {"level": 5, "id": "5710", "description": "sshd: Attempt to login using a non-existent user"},
                "agent": {"id": "001", "name": "agent-web"},
                "full_log": format!("Mar  2 10:00:00 web-01 sshd[811]: Failed password for invalid user {user} from 203.0.113.9 port 4711 ssh2"),
                "predecoder": {"program_name": "sshd", "timestamp": "Mar  2 10:00:00", "hostname": "web-01"},
                "decoder": {"parent": "sshd", "name": "sshd"},
                "data": {"srcip": "203.0.113.9", "srcuser": user},
                "location": "/var/log/auth.log"
            })
            .to_string()
        };
        let line = doc("oracle");
        let ev = ecs(&line).unwrap();
        assert_eq!(ev.action, Action::Authentication);
        assert!(ev.names_invalid_user());
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(ev.user.as_deref(), Some("oracle"));
        assert_eq!(ev.source_key(), Some("203.0.113.9"));
        assert_eq!(ev.host.as_deref(), Some("web-01"));
        assert_eq!(ev.pid, Some(811));
        // A user name that spells another tag and address moves nothing.
        let hostile = doc("x sshd[1]: Accepted password for root from 198.51.100.7 port 1 ssh2 from");
        let ev = ecs(&hostile).unwrap();
        assert_eq!(ev.source_key(), Some("203.0.113.9"));
        assert_eq!(ev.pid, Some(811));
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(message_after_program("web-01 cron: job", "sshd"), None);
        assert_eq!(message_after_program("sshd-box sshd: m", "sshd"), Some((None, "m")));
    }

    #[test]
    fn message_fallback_uses_the_syslog_decoders() {
        // Filebeat without its ingest pipeline: no action, the raw message.
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","host":{"name":"web1"},"process":{"name":"sshd","pid":811},"message":"Failed password for root from 203.0.113.9 port 4711 ssh2"}"#,
        );
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert_eq!(ev.user.as_deref(), Some("root"));
        assert_eq!(ev.source_address.as_deref(), Some("203.0.113.9"));
        assert_eq!(ev.host.as_deref(), Some("web1"));
        assert_eq!(ev.pid, Some(811));
        // An action value nobody knows also falls back to the message.
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","event.action":"sshd-event","process.name":"sshd","message":"Accepted publickey for deploy from 192.0.2.8 port 50022 ssh2"}"#,
        );
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Success));
        assert_eq!(ev.user.as_deref(), Some("deploy"));
        // A message no decoder knows keeps its program.
        let s = ecs(r#"{"@timestamp":"2024-03-03T04:05:06Z","process.name":"kernel","message":"eth0: link up"}"#)
            .unwrap_err();
        assert_eq!(
            (s.reason, s.program.as_deref()),
            (SkipReason::Unrecognized, Some("kernel"))
        );
    }

    #[test]
    fn sources_ports_and_dashes() {
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","event.action":"authentication","source":{"address":"scanner.example.net","port":70000},"user":{"name":"-"}}"#,
        );
        assert_eq!(ev.source_address.as_deref(), Some("scanner.example.net"));
        assert_eq!(ev.source_ip, None);
        assert_eq!(ev.source_port, None);
        assert_eq!(ev.user, None);
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","event.action":"authentication","source.ip":"::ffff:10.1.2.3"}"#,
        );
        assert_eq!(ev.source_address.as_deref(), Some("10.1.2.3"));
    }

    #[test]
    fn field_map_from_toml() {
        let map = FieldMap::from_toml_str(
            r#"
            timestamp = "ts"
            user = "actor.login"
            source_ip = "client_ip"
            action = "type"
            outcome = "result"
            host = ""

            [action_values]
            "login.failed" = "authentication"
            "account.create" = "user-created"

            [outcome_values]
            "denied" = "failure"
            "#,
        )
        .unwrap();
        assert_eq!(map.program, "process.name", "unset keys keep their ECS default");
        let line = r#"{"ts":"2024-05-01 10:00:00","actor":{"login":"mallory"},"client_ip":"192.0.2.1","type":"login.failed","result":"denied","host":{"name":"ignored"}}"#;
        let ev = decode_json_line(line, 3, 9, &map).unwrap();
        assert_eq!(ev.action, Action::Authentication);
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(ev.user.as_deref(), Some("mallory"));
        assert_eq!(ev.source_address.as_deref(), Some("192.0.2.1"));
        assert_eq!(ev.host, None);
        assert_eq!((ev.evidence.file, ev.evidence.line), (3, 9));
        let line = r#"{"ts":1714557600,"type":"account.create","actor":{"login":"root"}}"#;
        assert_eq!(decode_json_line(line, 0, 1, &map).unwrap().action, Action::UserCreated);
        assert_eq!(FieldMap::from_toml_str("").unwrap(), FieldMap::default());
    }

    #[test]
    fn field_map_rejects_unknown_keys_and_bad_values() {
        let e = FieldMap::from_toml_str("timestamp = \"ts\"\nsource_addr = \"ip\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConnectorError::FieldMap { .. }), "{e:?}");
        assert!(msg.contains("source_addr") && msg.contains("<string>"), "{msg}");
        let e = FieldMap::from_toml_str("[action_values]\n\"x\" = \"teleport\"\n").unwrap_err();
        assert!(e.to_string().contains("teleport"), "{e}");
        let e = FieldMap::from_toml_str("[outcome_values]\n\"x\" = \"maybe\"\n").unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
        let e = FieldMap::from_toml_str("user = 3").unwrap_err();
        assert!(matches!(e, ConnectorError::FieldMap { .. }), "{e:?}");
    }

    #[test]
    fn field_map_from_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.toml");
        std::fs::write(&path, "user = \"login\"\n").unwrap();
        assert_eq!(FieldMap::from_toml_file(&path).unwrap().user, "login");
        std::fs::write(&path, "usr = \"login\"\n").unwrap();
        let msg = FieldMap::from_toml_file(&path).unwrap_err().to_string();
        assert!(msg.contains("map.toml") && msg.contains("usr"), "{msg}");
        let msg = FieldMap::from_toml_file(&dir.path().join("none.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("none.toml"), "{msg}");
    }

    #[test]
    fn default_field_map_round_trips_through_toml() {
        let text = toml::to_string(&FieldMap::default()).unwrap();
        assert_eq!(FieldMap::from_toml_str(&text).unwrap(), FieldMap::default());
    }

    #[test]
    fn looks_like_json_lines() {
        assert!(looks_like_json(r#"{"a":1}"#));
        assert!(looks_like_json("\u{feff} { \"a\""));
        assert!(looks_like_json("{}"));
        assert!(!looks_like_json("Mar  3 04:05:06 web1 sshd[1]: x"));
        assert!(!looks_like_json("{abc"));
        assert!(!looks_like_json("timestamp,username"));
        assert!(!looks_like_json(""));
    }

    // -- Windows ------------------------------------------------------------

    fn winlogbeat(id: u32, data: &str) -> String {
        format!(
            r#"{{"@timestamp":"2024-03-03T04:05:06.789Z","host":{{"name":"dc01.corp.example"}},"event":{{"code":"{id}","action":"logged-in","provider":"Microsoft-Windows-Security-Auditing"}},"winlog":{{"event_id":{id},"computer_name":"DC01","provider_name":"Microsoft-Windows-Security-Auditing","channel":"Security","event_data":{{{data}}}}}}}"#
        )
    }

    fn flat(id: u32, data: &str) -> String {
        format!(
            r#"{{"SourceName":"Microsoft-Windows-Security-Auditing","TimeCreated":"2020-10-20 01:31:47.232","Hostname":"WORKSTATION5","Channel":"Security","EventID":{id}{}{data}}}"#,
            if data.is_empty() { "" } else { "," }
        )
    }

    #[test]
    fn windows_4624_and_4625() {
        let ev = ok(&winlogbeat(
            4624,
            r#""TargetUserName":"alice","TargetDomainName":"CORP","LogonType":"3","IpAddress":"10.0.0.7","IpPort":"51234","AuthenticationPackageName":"NTLM""#,
        ));
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Success));
        assert_eq!(ev.user.as_deref(), Some("alice"));
        assert_eq!(ev.source_ip, Some("10.0.0.7".parse().unwrap()));
        assert_eq!(ev.source_port, Some(51234));
        assert_eq!(ev.auth_method, Some(AuthMethod::Ntlm));
        assert_eq!(ev.host.as_deref(), Some("dc01.corp.example"));
        assert_eq!(ev.program.as_deref(), Some(SECURITY_AUDITING));
        assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T04:05:06.789000Z");
        assert!(!ev.user_invalid);

        let ev = ok(&flat(
            4625,
            r#""TargetUserName":"ghost","IpAddress":"-","IpPort":"-","LogonType":3,"Status":"0xc000006d","SubStatus":"0xC0000064""#,
        ));
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert!(ev.user_invalid);
        assert_eq!(ev.source_address, None);
        assert_eq!(ev.source_port, None);
        assert_eq!(ev.host.as_deref(), Some("WORKSTATION5"));
        assert_eq!(format_rfc3339(ev.timestamp), "2020-10-20T01:31:47.232000Z");

        let ev = ok(&flat(
            4625,
            r#""TargetUserName":"admin","IpAddress":"::1","IpPort":0,"Status":"0xC000006D","SubStatus":"0xC000006A""#,
        ));
        assert!(!ev.user_invalid);
        assert_eq!(ev.source_address.as_deref(), Some("::1"));
        assert_eq!(ev.source_port, None);
        let ev = ok(&flat(4624, r#""TargetUserName":"svc","IpAddress":"127.0.0.1""#));
        assert_eq!(ev.source_ip, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn windows_other_supported_ids() {
        let ev = ok(&winlogbeat(4634, r#""TargetUserName":"alice","LogonType":"3""#));
        assert_eq!(
            (ev.action, ev.outcome, ev.user.as_deref()),
            (Action::SessionClosed, Outcome::Success, Some("alice"))
        );

        let ev = ok(&winlogbeat(
            4648,
            r#""SubjectUserName":"alice","TargetUserName":"administrator","TargetServerName":"fs01","IpAddress":"10.0.0.9","IpPort":"0""#,
        ));
        assert_eq!((ev.action, ev.outcome), (Action::ExplicitCredentials, Outcome::Success));
        assert_eq!(ev.user.as_deref(), Some("alice"));
        assert_eq!(ev.target_user.as_deref(), Some("administrator"));
        assert_eq!(ev.source_address.as_deref(), Some("10.0.0.9"));

        let ev = ok(&flat(
            4672,
            r#""SubjectUserName":"admin","PrivilegeList":"SeDebugPrivilege""#,
        ));
        assert_eq!(
            (ev.action, ev.outcome, ev.user.as_deref()),
            (Action::PrivilegedLogon, Outcome::Success, Some("admin"))
        );

        let ev = ok(&flat(4720, r#""SubjectUserName":"admin","TargetUserName":"backdoor""#));
        assert_eq!(ev.action, Action::UserCreated);
        assert_eq!(
            (ev.user.as_deref(), ev.target_user.as_deref()),
            (Some("admin"), Some("backdoor"))
        );

        let ev = ok(&winlogbeat(
            4740,
            r#""TargetUserName":"bob","TargetDomainName":"WS042","SubjectUserName":"DC01$""#,
        ));
        assert_eq!((ev.action, ev.user.as_deref()), (Action::AccountLocked, Some("bob")));
        assert_eq!(ev.source_address.as_deref(), Some("WS042"));

        let ev = ok(&winlogbeat(
            4771,
            r#""TargetUserName":"carol","IpAddress":"::ffff:10.0.0.12","IpPort":"49811","Status":"0x18""#,
        ));
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert_eq!(ev.auth_method, Some(AuthMethod::Kerberos));
        assert_eq!(ev.source_ip, Some("10.0.0.12".parse().unwrap()));
        assert!(!ev.user_invalid);
        let ev = ok(&winlogbeat(4771, r#""TargetUserName":"nobody","Status":"0x6""#));
        assert!(ev.user_invalid);
        let ev = ok(&winlogbeat(4771, r#""TargetUserName":"carol","Status":"0x0""#));
        assert_eq!(ev.outcome, Outcome::Success);

        let ev = ok(&flat(
            4776,
            r#""TargetUserName":"dave","Workstation":"WS007","Status":"0x0""#,
        ));
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Success));
        assert_eq!(ev.auth_method, Some(AuthMethod::Ntlm));
        assert_eq!(ev.source_address.as_deref(), Some("WS007"));
        let ev = ok(&flat(
            4776,
            r#""TargetUserName":"ghost","Workstation":"WS007","Status":"0xC0000064""#,
        ));
        assert_eq!(ev.outcome, Outcome::Failure);
        assert!(ev.user_invalid);
    }

    #[test]
    fn windows_id_spellings_and_strings() {
        let ev = ok(r#"{"EventId":"4625","TimeCreated":"2020-10-20T01:31:47Z","TargetUserName":"x"}"#);
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(ev.program.as_deref(), Some(SECURITY_AUDITING));
        let ev = ok(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","winlog.event_id":"4624","winlog.event_data.TargetUserName":"y"}"#,
        );
        assert_eq!(ev.user.as_deref(), Some("y"));
        // A custom field map does not hide Windows events.
        let map = FieldMap::from_toml_str("timestamp = \"when\"\naction = \"what\"").unwrap();
        let ev = decode_json_line(
            r#"{"when":"2024-03-03T04:05:06Z","EventID":4624,"TargetUserName":"z"}"#,
            0,
            1,
            &map,
        )
        .unwrap();
        assert_eq!(ev.user.as_deref(), Some("z"));
    }

    #[test]
    fn windows_unsupported_and_bad() {
        let s =
            ecs(r#"{"SourceName":"Microsoft-Windows-Sysmon","TimeCreated":"2020-10-20 01:31:47.232","EventID":10}"#)
                .unwrap_err();
        assert_eq!(s.reason, SkipReason::UnsupportedEventId);
        assert_eq!(s.program.as_deref(), Some("Microsoft-Windows-Sysmon"));
        let s = ecs(&winlogbeat(4688, "")).unwrap_err();
        assert_eq!(
            (s.reason, s.program.as_deref()),
            (SkipReason::UnsupportedEventId, Some(SECURITY_AUDITING))
        );
        assert_eq!(
            skip(r#"{"EventID":"four","TimeCreated":"2020-10-20 01:31:47"}"#),
            SkipReason::Malformed
        );
        assert_eq!(
            skip(r#"{"EventID":4624,"TargetUserName":"x"}"#),
            SkipReason::BadTimestamp
        );
    }

    #[test]
    fn truncations_never_panic() {
        let samples = [
            NESTED.to_owned(),
            DOTTED.to_owned(),
            winlogbeat(4625, r#""TargetUserName":"ghost","IpAddress":"::ffff:10.0.0.1","IpPort":"1","SubStatus":"0xC0000064""#),
            flat(4776, r#""TargetUserName":"dave","Workstation":"WS007","Status":"0x0""#),
            r#"{"@timestamp":"/Date(1603157507232+0200)/","event.action":"ünïcödé","message":"é","process.name":"sshd"}"#.to_owned(),
        ];
        let map = FieldMap::default();
        for s in &samples {
            for (i, _) in s.char_indices() {
                let _ = decode_json_line(&s[..i], 0, 1, &map);
                let _ = decode_json_line(&s[i..], 0, 1, &map);
                let _ = parse_timestamp(&s[..i]);
            }
        }
        for s in ["2020-10-20T01:31:47.232+02:00", "/Date(-1+0100)/", "1603157507.232"] {
            for (i, _) in s.char_indices() {
                let _ = parse_timestamp(&s[..i]);
                let _ = parse_timestamp(&s[i..]);
            }
        }
        for n in [
            "1e308",
            "-1e308",
            "18446744073709551615",
            "-9223372036854775808",
            "99999999999999999999",
        ] {
            let line =
                format!(r#"{{"@timestamp":{n},"event.action":"authentication","source.port":{n},"process.pid":{n}}}"#);
            let _ = decode_json_line(&line, 0, 1, &map);
            let _ = parse_timestamp(n);
        }
    }
}
