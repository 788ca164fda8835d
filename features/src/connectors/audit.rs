//! Linux audit logs (`/var/log/audit/audit.log`, as auditd writes them).
//!
//! A record is one line:
//! `[node=HOST ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): FIELDS`. The
//! user-space records that PAM, sshd, login, sudo and shadow-utils write
//! (through libaudit) have the kernel's `pid= uid= auid= ses= [subj=]`
//! fields, then the program's text in `msg='...'`:
//! `op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd"
//! hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=failed`. In the
//! enriched log format auditd appends `\x1d` and the names of numeric ids
//! (`UID="root" AUID="unset" ID="alice"`).
//!
//! The user-space authentication records are single-record events: each
//! line is read alone. Kernel events (SYSCALL with its EXECVE, PATH, CWD,
//! PROCTITLE... records) span several lines that share the serial of
//! `msg=audit(T:SERIAL)`; they say nothing about authentication and are
//! skipped as [`SkipReason::NotAuth`] with the record type as program, as
//! are the records below that carry no event of their own.
//!
//! Record types and what they become:
//!
//! | type | event |
//! |---|---|
//! | `USER_AUTH` | `authentication` (PAM's credential check) |
//! | `USER_LOGIN` | `authentication`: the login program's (sshd, login, gdm) own record of a login, success or failure, like sshd's `Accepted`/`Failed` lines beside PAM's (the audit documentation: "user has logged in"; Auditbeat's ECS mapping calls it `logged-in`, authentication category). sshd writes one next to PAM's `USER_AUTH` for the same attempt, with the same pid, as it writes a syslog line next to PAM's |
//! | `USER_ACCT` | failed: `authentication` failure, `denied` (PAM's account check refused an authenticated user: expired, `pam_access`, `AllowUsers`); success: skipped, `NotAuth` (every login, sudo and cron job passes it) |
//! | `USER_START` / `USER_END` | `session-opened` / `session-closed` |
//! | `ADD_USER` / `DEL_USER` | `user-created` / `user-deleted` |
//! | `USER_CHAUTHTOK`, `USER_MGMT` | `password-changed` when `op=` names a password or `chauthtok`, else `user-modified` (`grp=` is the target); `op=display...` (chage -l) is skipped, `NotAuth` |
//! | `ADD_GROUP`, `DEL_GROUP`, `GRP_MGMT`, `GRP_CHAUTHTOK` | `group-changed`, the group in `target_user` |
//! | `USER_CMD` | `sudo`, the command from `cmd=` |
//! | `USER_ERR` | `op=PAM:bad_ident` (a connection that ended before authenticating): `disconnect`; `op=PAM:authentication`: `authentication` failure; other ops: unrecognized |
//! | `ANOM_LOGIN_FAILURES` | `account-locked` (pam_faillock or pam_tally2 reached its limit) |
//! | `CRED_ACQ`, `CRED_DISP`, `CRED_REFR`, `USER_LOGOUT` | skipped, `NotAuth`: credential bookkeeping around a session, and the login program's logout beside PAM's `USER_END` |
//! | any other type | skipped, `NotAuth` |
//!
//! Fields: host from `node=` (absent when auditd does not write it); program
//! the base name of `exe=`; pid from the kernel's `pid=`; source from
//! `addr=`, else `hostname=` when it is an address; user from `acct=`
//! (else the enriched `ID=` name of `id=`), except for `USER_CMD`, whose
//! user is the enriched `UID=` name (absent without the enriched format).
//! `acct="(invalid user)"` (sshd) marks an invalid user; `?` is absent.
//!
//! libaudit quotes a value (`acct="root"`), or writes it in hex
//! (`acct=726F6F74`) when it holds a space, a quote or a control byte;
//! `acct`, `exe`, `cmd` and `grp` values without quotes are hex-decoded
//! (owned text), quoted ones borrow from the line.
//!
//! Injection: `acct` (the user name a client sent) is the only field a
//! remote party writes. Every trusted field comes after it, so `exe`,
//! `hostname`, `addr` and `terminal` are taken at their last occurrence and
//! `res` must be the last field of `msg='...'`; whatever text the account
//! name holds, it cannot move them. A record whose last field is not a
//! known `res=` value is [`SkipReason::Malformed`], one cut before its
//! closing quote [`SkipReason::Truncated`].

use std::borrow::Cow;

use crate::event::{
    parse_ip, Action, AttemptLine, Decoded, Event, Evidence, FileId, Micros, Outcome, Skip, SkipReason,
};
use crate::time::MICROS_PER_SECOND;

/// The enriched format's separator between the record and the id names.
const ENRICHED_SEPARATOR: u8 = 0x1d;

/// Whether a line is an audit record (for input format detection):
/// `type=... msg=audit(`, optionally after `node=...`.
pub fn looks_like_audit(line: &str) -> bool {
    parse_header(strip_line_ending(line)).is_ok()
}

/// Decodes one audit.log line (without its line ending; a trailing `'\r'`
/// is stripped). `line_no` is 1-based.
pub fn decode_audit_line(line: &str, file: FileId, line_no: u64) -> Decoded<'_> {
    let line = strip_line_ending(line);
    if line.bytes().all(|b| b.is_ascii_whitespace()) {
        return Err(Skip::new(SkipReason::Empty));
    }
    let h = parse_header(line).map_err(Skip::new)?;
    let Some(kind) = Kind::of(h.record_type) else {
        return Err(Skip::with_program(SkipReason::NotAuth, h.record_type));
    };
    let (body, enriched) = match memchr::memchr(ENRICHED_SEPARATOR, h.body.as_bytes()) {
        Some(i) => (&h.body[..i], Some(&h.body[i + 1..])),
        None => (h.body, None),
    };
    let rec = UserRecord::parse(body).map_err(|reason| Skip::with_program(reason, h.record_type))?;
    let names = Enriched::parse(enriched.unwrap_or(""));
    let evidence = Evidence {
        file,
        line: line_no,
        raw: Cow::Borrowed(line),
    };
    let not_auth = || Err(Skip::with_program(SkipReason::NotAuth, h.record_type));
    let op = rec.op();
    let account = rec.account(&names);
    let (action, user, target) = match kind {
        Kind::Auth | Kind::Login => (Action::Authentication, account, None),
        Kind::Acct if rec.outcome == Outcome::Success => return not_auth(),
        Kind::Acct => (Action::Authentication, account, None),
        Kind::Start => (Action::SessionOpened, account, None),
        Kind::End => (Action::SessionClosed, account, None),
        Kind::AddUser => (Action::UserCreated, account, None),
        Kind::DelUser => (Action::UserDeleted, account, None),
        Kind::UserChange => {
            let op_lower = op.to_ascii_lowercase();
            if op_lower.starts_with("display") {
                return not_auth();
            }
            let group = rec.before_account("grp").and_then(|t| t.text(true));
            if op_lower.contains("password") || op_lower.contains("chauthtok") || op_lower.contains("passwd") {
                (Action::PasswordChanged, account, group)
            } else {
                (Action::UserModified, account, group)
            }
        }
        Kind::Group => {
            let group = rec.before_account("grp").and_then(|t| t.text(true)).or(account);
            (Action::GroupChanged, None, group)
        }
        Kind::Cmd => (Action::Sudo, names.uid.map(Cow::Borrowed), None),
        Kind::Err if op.contains("bad_ident") => (Action::Disconnect, account, None),
        Kind::Err if op.contains("authentication") => (Action::Authentication, account, None),
        Kind::Err => return Err(Skip::with_program(SkipReason::Unrecognized, h.record_type)),
        Kind::LoginFailures => (Action::AccountLocked, account, None),
    };
    let mut ev = Event::new(h.timestamp, action, evidence);
    ev.outcome = rec.outcome;
    ev.host = h.node.map(Cow::Borrowed);
    ev.program = rec.program();
    ev.pid = rec.pid;
    ev.user_invalid = rec.invalid_user();
    ev.user = user;
    ev.target_user = target;
    ev.denied = kind == Kind::Acct;
    // PAM's and the login program's records of one attempt share the pid,
    // as their syslog lines do: counted once (`ingest::attempts`).
    ev.attempt_line = match kind {
        Kind::Auth => AttemptLine::Pam,
        Kind::Login => AttemptLine::Daemon,
        Kind::Acct => AttemptLine::Opening,
        Kind::Err if action == Action::Authentication => AttemptLine::DaemonPam,
        _ => ev.attempt_line,
    };
    if let Some(source) = rec.source() {
        ev.set_source(source);
    }
    if kind == Kind::Cmd {
        ev.command = rec.first("cmd").and_then(|t| t.text(true));
    }
    Ok(ev)
}

fn strip_line_ending(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// The record types read, by what they become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auth,
    Login,
    Acct,
    Start,
    End,
    AddUser,
    DelUser,
    UserChange,
    Group,
    Cmd,
    Err,
    LoginFailures,
}

impl Kind {
    /// `None` for the types that carry no event.
    fn of(record_type: &str) -> Option<Kind> {
        Some(match record_type {
            "USER_AUTH" => Kind::Auth,
            "USER_LOGIN" => Kind::Login,
            "USER_ACCT" => Kind::Acct,
            "USER_START" => Kind::Start,
            "USER_END" => Kind::End,
            "ADD_USER" => Kind::AddUser,
            "DEL_USER" => Kind::DelUser,
            "USER_MGMT" | "USER_CHAUTHTOK" => Kind::UserChange,
            "ADD_GROUP" | "DEL_GROUP" | "GRP_MGMT" | "GRP_CHAUTHTOK" => Kind::Group,
            "USER_CMD" => Kind::Cmd,
            "USER_ERR" => Kind::Err,
            "ANOM_LOGIN_FAILURES" => Kind::LoginFailures,
            _ => return None,
        })
    }
}

/// `[node=HOST ]type=TYPE msg=audit(T:SERIAL): BODY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header<'a> {
    node: Option<&'a str>,
    record_type: &'a str,
    timestamp: Micros,
    body: &'a str,
}

/// The text before the first space of `s`, and the rest after the spaces;
/// `Truncated` when there is no space.
fn word(s: &str) -> Result<(&str, &str), SkipReason> {
    let end = memchr::memchr(b' ', s.as_bytes()).ok_or(SkipReason::Truncated)?;
    Ok((&s[..end], s[end..].trim_start_matches(' ')))
}

/// `Truncated` when `s` is a strict prefix of `want` (the line ends early),
/// else `Malformed`.
fn cut_or_malformed(s: &str, want: &str) -> SkipReason {
    if want.starts_with(s) {
        SkipReason::Truncated
    } else {
        SkipReason::Malformed
    }
}

fn parse_header(line: &str) -> Result<Header<'_>, SkipReason> {
    let mut rest = line.strip_prefix('\u{feff}').unwrap_or(line).trim_start_matches(' ');
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = word(r)?;
        node = (!n.is_empty()).then_some(n);
        rest = r;
    }
    let Some(r) = rest.strip_prefix("type=") else {
        return Err(cut_or_malformed(rest, "type="));
    };
    let (record_type, r) = word(r)?;
    if record_type.is_empty() {
        return Err(SkipReason::Malformed);
    }
    let Some(r) = r.strip_prefix("msg=audit(") else {
        return Err(cut_or_malformed(r, "msg=audit("));
    };
    let close = memchr::memchr(b')', r.as_bytes()).ok_or(SkipReason::Truncated)?;
    let timestamp = audit_time(&r[..close])?;
    let body = match r[close + 1..].strip_prefix(':') {
        Some(b) => b.trim_start_matches(' '),
        None if r.len() == close + 1 => return Err(SkipReason::Truncated),
        None => return Err(SkipReason::Malformed),
    };
    Ok(Header {
        node,
        record_type,
        timestamp,
        body,
    })
}

/// `SECONDS.FRACTION:SERIAL` as UTC microseconds (the serial is checked,
/// not kept).
fn audit_time(s: &str) -> Result<Micros, SkipReason> {
    let (time, serial) = s.split_once(':').ok_or(SkipReason::BadTimestamp)?;
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SkipReason::Malformed);
    }
    let (secs, frac) = time.split_once('.').unwrap_or((time, ""));
    let digits = |d: &str| !d.is_empty() && d.len() <= 12 && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || !(frac.is_empty() || frac.bytes().all(|b| b.is_ascii_digit())) {
        return Err(SkipReason::BadTimestamp);
    }
    let secs: i64 = secs.parse().map_err(|_| SkipReason::BadTimestamp)?;
    let mut micros = 0i64;
    for (i, b) in frac.bytes().take(6).enumerate() {
        micros += i64::from(b - b'0') * 10i64.pow(5 - i as u32);
    }
    secs.checked_mul(MICROS_PER_SECOND)
        .and_then(|t| t.checked_add(micros))
        .ok_or(SkipReason::BadTimestamp)
}

/// One `key=value` of a record, or a bare word (empty key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token<'a> {
    key: &'a str,
    value: &'a str,
    quoted: bool,
}

impl<'a> Token<'a> {
    /// The value as text: quoted values as written, `?` and empty values
    /// absent, unquoted values hex-decoded when `hex` (the fields libaudit
    /// encodes) and they are hex.
    fn text(&self, hex: bool) -> Option<Cow<'a, str>> {
        if self.value.is_empty() || self.value == "?" {
            return None;
        }
        if self.quoted {
            return Some(Cow::Borrowed(self.value));
        }
        if hex {
            if let Some(decoded) = unhex(self.value) {
                return Some(Cow::Owned(decoded));
            }
        }
        Some(Cow::Borrowed(self.value))
    }
}

/// Hex text (even length, hex digits only) decoded, invalid UTF-8 replaced.
fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s
        .as_bytes()
        .chunks_exact(2)
        .map(|c| Some(nibble(c[0])? << 4 | nibble(c[1])?))
        .collect::<Option<Vec<u8>>>()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Splits `key=value key="quoted value" word` into tokens. A quoted value
/// ends at the next quote; one that never ends becomes a bare word, so it
/// can never stand for a field.
fn tokens(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(12);
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] == b' ' {
            out.push(Token {
                key: "",
                value: &s[start..i],
                quoted: false,
            });
            continue;
        }
        let key = &s[start..i];
        i += 1;
        if b.get(i) == Some(&b'"') {
            match memchr::memchr(b'"', &b[i + 1..]) {
                Some(len) => {
                    out.push(Token {
                        key,
                        value: &s[i + 1..i + 1 + len],
                        quoted: true,
                    });
                    i += len + 2;
                }
                None => {
                    out.push(Token {
                        key: "",
                        value: &s[start..],
                        quoted: false,
                    });
                    i = b.len();
                }
            }
        } else {
            let v = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            out.push(Token {
                key,
                value: &s[v..i],
                quoted: false,
            });
        }
    }
    out
}

/// A user-space record: the kernel's fields and the program's `msg='...'`.
struct UserRecord<'a> {
    pid: Option<u32>,
    /// The fields of `msg='...'`, the last one `res=`.
    fields: Vec<Token<'a>>,
    outcome: Outcome,
    /// An even number of `"` in `msg='...'`, as libaudit writes (it
    /// hex-encodes values that hold one). With an odd number, a quote from
    /// the account name may have paired with `exe="`, so `exe` is not read.
    balanced: bool,
}

impl<'a> UserRecord<'a> {
    fn parse(body: &'a str) -> Result<Self, SkipReason> {
        let body = body.trim_end_matches([' ', '\t']);
        let start = memchr::memmem::find(body.as_bytes(), b"msg='").ok_or(SkipReason::Malformed)?;
        if start > 0 && body.as_bytes()[start - 1] != b' ' {
            return Err(SkipReason::Malformed);
        }
        let kernel = &body[..start];
        let inner = &body[start + 5..];
        // The program's text ends at the record's last quote: an account
        // name may hold quotes of its own.
        let Some(inner) = inner.strip_suffix('\'') else {
            return Err(SkipReason::Truncated);
        };
        let pid = tokens(kernel)
            .into_iter()
            .find(|t| t.key == "pid")
            .and_then(|t| t.value.parse().ok());
        let fields = tokens(inner);
        let outcome = match fields.last() {
            Some(t) if t.key == "res" => match t.value {
                "success" | "yes" | "1" => Outcome::Success,
                "failed" | "failure" | "no" | "0" => Outcome::Failure,
                _ => return Err(SkipReason::Malformed),
            },
            _ => return Err(SkipReason::Malformed),
        };
        let balanced = memchr::memchr_iter(b'"', inner.as_bytes()).count() % 2 == 0;
        Ok(UserRecord {
            pid,
            fields,
            outcome,
            balanced,
        })
    }

    /// The first field named `key`: `acct`, and `cmd` of records without
    /// an account.
    fn first(&self, key: &str) -> Option<&Token<'a>> {
        self.fields.iter().find(|t| t.key == key)
    }

    /// `op=`, when it is the first field (as libaudit writes it), else "".
    fn op(&self) -> &'a str {
        match self.fields.first() {
            Some(t) if t.key == "op" => t.value,
            _ => "",
        }
    }

    /// The field named `key` among those before the account name
    /// (shadow-utils writes `grp=` in the `op=` part).
    fn before_account(&self, key: &str) -> Option<&Token<'a>> {
        self.fields
            .iter()
            .take_while(|t| t.key != "acct")
            .find(|t| t.key == key)
    }

    /// The last field named `key`: the trusted fields after the account.
    fn last(&self, key: &str) -> Option<&Token<'a>> {
        self.fields.iter().rev().find(|t| t.key == key)
    }

    fn acct(&self) -> Option<Cow<'a, str>> {
        self.first("acct").and_then(|t| t.text(true))
    }

    /// `acct=`, else the enriched name of `id=`; sshd's placeholders for a
    /// user it does not know are absent.
    fn account(&self, names: &Enriched<'a>) -> Option<Cow<'a, str>> {
        match self.acct() {
            Some(a) if a == "(invalid user)" || a == "(unknown user)" || a == "(unknown)" => None,
            Some(a) => Some(a),
            None if self.first("id").is_some() => names.id.map(Cow::Borrowed),
            None => None,
        }
    }

    fn invalid_user(&self) -> bool {
        self.acct().is_some_and(|a| a == "(invalid user)")
    }

    /// The base name of `exe=`.
    fn program(&self) -> Option<Cow<'a, str>> {
        if !self.balanced {
            return None;
        }
        let exe = self.last("exe")?.text(true)?;
        let name: Cow<'a, str> = match exe {
            Cow::Borrowed(s) => Cow::Borrowed(s.rsplit('/').next().unwrap_or(s)),
            Cow::Owned(s) => Cow::Owned(s.rsplit('/').next().unwrap_or(&s).to_owned()),
        };
        (!name.is_empty()).then_some(name)
    }

    /// `addr=`, else `hostname=` when it is an IP address; IPv4-mapped IPv6
    /// reduced to IPv4.
    fn source(&self) -> Option<Cow<'a, str>> {
        let pick = |key: &str, need_ip: bool| {
            let t = self.last(key)?;
            let v = t.text(false)?;
            let ip = parse_ip(&v);
            if need_ip && ip.is_none() {
                return None;
            }
            Some(match (v, ip) {
                (Cow::Borrowed(s), Some(std::net::IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_some() => {
                    Cow::Borrowed(s.rsplit(':').next().unwrap_or(s))
                }
                (v, _) => v,
            })
        };
        pick("addr", false).or_else(|| pick("hostname", true))
    }
}

/// The id names of the enriched format (`UID="root" AUID="unset" ID="x"`),
/// written by auditd; unset and unresolved ids are absent.
#[derive(Debug, Default)]
struct Enriched<'a> {
    uid: Option<&'a str>,
    id: Option<&'a str>,
}

impl<'a> Enriched<'a> {
    fn parse(tail: &'a str) -> Self {
        let mut names = Enriched::default();
        for t in tokens(tail) {
            let name = Some(t.value).filter(|v| !v.is_empty() && *v != "unset" && !v.starts_with("unknown("));
            match t.key {
                "UID" if names.uid.is_none() => names.uid = name,
                "ID" if names.id.is_none() => names.id = name,
                _ => {}
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    const AUTH_FAILED: &str = r#"type=USER_AUTH msg=audit(1700000000.123:456): pid=1234 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=failed'"#;

    fn ok(line: &str) -> Event<'_> {
        match decode_audit_line(line, 0, 1) {
            Ok(ev) => ev,
            Err(s) => panic!("{line}: {s:?}"),
        }
    }

    fn skip(line: &str) -> Skip<'_> {
        match decode_audit_line(line, 0, 1) {
            Ok(ev) => panic!("{line}: decoded {ev:?}"),
            Err(s) => s,
        }
    }

    /// A user-space record of `record_type` with the program text `inner`.
    fn record(record_type: &str, inner: &str) -> String {
        format!("type={record_type} msg=audit(1700000000.123:456): pid=1234 uid=0 auid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 msg='{inner}'")
    }

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn user_auth_failure() {
        let ev = ok(AUTH_FAILED);
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert_eq!(format_rfc3339(ev.timestamp), "2023-11-14T22:13:20.123000Z");
        assert_eq!(ev.user.as_deref(), Some("root"));
        assert_eq!(ev.source_address.as_deref(), Some("203.0.113.7"));
        assert_eq!(ev.source_ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(ev.program.as_deref(), Some("sshd"));
        assert_eq!(ev.pid, Some(1234));
        assert_eq!(ev.host, None);
        assert!(!ev.user_invalid && !ev.denied);
        assert_eq!(ev.evidence.raw, AUTH_FAILED);
        // Quoted values borrow from the line.
        assert!(matches!(ev.user, Some(Cow::Borrowed(_))));
        assert!(matches!(ev.program, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn node_prefix_older_format_and_enriched_tail() {
        let line = format!("node=web1.example.com {AUTH_FAILED}");
        let ev = ok(&line);
        assert_eq!(ev.host.as_deref(), Some("web1.example.com"));
        assert_eq!(ev.user.as_deref(), Some("root"));
        // Without grantors (older libpam).
        let line = record(
            "USER_AUTH",
            r#"op=PAM:authentication acct="alice" exe="/usr/sbin/sshd" hostname=198.51.100.20 addr=198.51.100.20 terminal=ssh res=success"#,
        );
        let ev = ok(&line);
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Success));
        assert_eq!(ev.user.as_deref(), Some("alice"));
        // Enriched: the names after 0x1d are not part of the record.
        let line = format!("node=web1 {AUTH_FAILED}\x1dUID=\"root\" AUID=\"unset\"");
        let ev = ok(&line);
        assert_eq!((ev.host.as_deref(), ev.outcome), (Some("web1"), Outcome::Failure));
        assert_eq!(ev.source_address.as_deref(), Some("203.0.113.7"));
        // CRLF.
        assert_eq!(ok(&format!("{AUTH_FAILED}\r")).outcome, Outcome::Failure);
    }

    #[test]
    fn hex_encoded_fields() {
        let line = record(
            "USER_AUTH",
            &format!(
                "op=PAM:authentication grantors=? acct={} exe={} hostname=? addr=192.0.2.10 terminal=ssh res=failed",
                hex("root"),
                hex("/opt/my tools/sshd")
            ),
        );
        let ev = ok(&line);
        assert_eq!(ev.user.as_deref(), Some("root"));
        assert!(matches!(ev.user, Some(Cow::Owned(_))));
        assert_eq!(ev.program.as_deref(), Some("sshd"));
        // sshd's placeholder for a user that does not exist.
        let line = record(
            "USER_LOGIN",
            &format!(
                "op=login acct={} exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.10 terminal=sshd res=failed",
                hex("(invalid user)")
            ),
        );
        let ev = ok(&line);
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert_eq!(ev.user, None);
        assert!(ev.user_invalid && ev.names_invalid_user());
        // Invalid UTF-8 in a hex value is replaced, not an error.
        let line = record(
            "USER_AUTH",
            "op=PAM:authentication acct=72FF6F74 exe=\"/usr/sbin/sshd\" hostname=? addr=192.0.2.10 terminal=ssh res=failed",
        );
        assert_eq!(ok(&line).user.as_deref(), Some("r\u{fffd}ot"));
    }

    #[test]
    fn record_types() {
        let sshd = r#"exe="/usr/sbin/sshd" hostname=198.51.100.20 addr=198.51.100.20 terminal=ssh"#;
        let tty = r#"exe="/usr/bin/login" hostname=? addr=? terminal=/dev/tty1"#;
        let local = r#"hostname=web1 addr=? terminal=pts/0"#;
        // (record, action, outcome, user, target user)
        type Case<'s> = (String, Action, Outcome, Option<&'s str>, Option<&'s str>);
        let cases: Vec<Case<'_>> = vec![
            (
                record("USER_LOGIN", &format!(r#"op=login acct="deploy" {sshd} res=success"#)),
                Action::Authentication,
                Outcome::Success,
                Some("deploy"),
                None,
            ),
            (
                record(
                    "USER_ACCT",
                    &format!(r#"op=PAM:accounting grantors=pam_access acct="bob" {sshd} res=failed"#),
                ),
                Action::Authentication,
                Outcome::Failure,
                Some("bob"),
                None,
            ),
            (
                record(
                    "USER_START",
                    &format!(r#"op=PAM:session_open grantors=pam_unix acct="alice" {tty} res=success"#),
                ),
                Action::SessionOpened,
                Outcome::Success,
                Some("alice"),
                None,
            ),
            (
                record(
                    "USER_END",
                    &format!(r#"op=PAM:session_close grantors=pam_unix acct="alice" {tty} res=success"#),
                ),
                Action::SessionClosed,
                Outcome::Success,
                Some("alice"),
                None,
            ),
            (
                record(
                    "ADD_USER",
                    &format!(r#"op=add-user acct="backup2" exe="/usr/sbin/useradd" {local} res=success"#),
                ),
                Action::UserCreated,
                Outcome::Success,
                Some("backup2"),
                None,
            ),
            (
                record(
                    "DEL_USER",
                    &format!(r#"op=delete-user acct="backup2" exe="/usr/sbin/userdel" {local} res=success"#),
                ),
                Action::UserDeleted,
                Outcome::Success,
                Some("backup2"),
                None,
            ),
            (
                record(
                    "USER_CHAUTHTOK",
                    &format!(
                        r#"op=PAM:chauthtok grantors=pam_unix acct="alice" exe="/usr/bin/passwd" {local} res=success"#
                    ),
                ),
                Action::PasswordChanged,
                Outcome::Success,
                Some("alice"),
                None,
            ),
            (
                record(
                    "USER_MGMT",
                    &format!(r#"op=changing-shell acct="alice" exe="/usr/sbin/usermod" {local} res=success"#),
                ),
                Action::UserModified,
                Outcome::Success,
                Some("alice"),
                None,
            ),
            (
                record(
                    "USER_MGMT",
                    &format!(
                        r#"op=add-user-to-group grp="wheel" acct="alice" exe="/usr/sbin/usermod" {local} res=success"#
                    ),
                ),
                Action::UserModified,
                Outcome::Success,
                Some("alice"),
                Some("wheel"),
            ),
            (
                record(
                    "USER_MGMT",
                    &format!(r#"op=changing-password acct="alice" exe="/usr/sbin/usermod" {local} res=success"#),
                ),
                Action::PasswordChanged,
                Outcome::Success,
                Some("alice"),
                None,
            ),
            (
                record(
                    "ADD_GROUP",
                    &format!(r#"op=add-group acct="devs" exe="/usr/sbin/groupadd" {local} res=success"#),
                ),
                Action::GroupChanged,
                Outcome::Success,
                None,
                Some("devs"),
            ),
            (
                record(
                    "DEL_GROUP",
                    &format!(r#"op=delete-group acct="devs" exe="/usr/sbin/groupdel" {local} res=success"#),
                ),
                Action::GroupChanged,
                Outcome::Success,
                None,
                Some("devs"),
            ),
            (
                record(
                    "GRP_MGMT",
                    &format!(r#"op=modify-group acct="devs" exe="/usr/sbin/groupmod" {local} res=failed"#),
                ),
                Action::GroupChanged,
                Outcome::Failure,
                None,
                Some("devs"),
            ),
            (
                record(
                    "USER_ERR",
                    &format!(r#"op=PAM:bad_ident grantors=? acct="?" {sshd} res=failed"#),
                ),
                Action::Disconnect,
                Outcome::Failure,
                None,
                None,
            ),
            (
                record(
                    "USER_ERR",
                    &format!(r#"op=PAM:authentication grantors=? acct="root" {sshd} res=failed"#),
                ),
                Action::Authentication,
                Outcome::Failure,
                Some("root"),
                None,
            ),
            (
                record(
                    "ANOM_LOGIN_FAILURES",
                    &format!(r#"pam_faillock acct="root" {sshd} res=success"#),
                ),
                Action::AccountLocked,
                Outcome::Success,
                Some("root"),
                None,
            ),
        ];
        for (line, action, outcome, user, target) in &cases {
            let ev = ok(line);
            assert_eq!(
                (ev.action, ev.outcome, ev.user.as_deref(), ev.target_user.as_deref()),
                (*action, *outcome, *user, *target),
                "{line}"
            );
            assert_eq!(ev.pid, Some(1234), "{line}");
        }
        let ev = ok(&cases[1].0);
        assert!(ev.denied, "a refused account check is a policy denial");
        let ev = ok(&cases[0].0);
        assert_eq!(ev.source_address.as_deref(), Some("198.51.100.20"));
        assert_eq!(ev.program.as_deref(), Some("sshd"));
        let ev = ok(&cases[2].0);
        assert_eq!((ev.source_address, ev.program.as_deref()), (None, Some("login")));
    }

    #[test]
    fn ids_resolved_by_the_enriched_format() {
        // sshd's session record names the uid; auditd's enriched tail names it.
        let line = record(
            "USER_LOGIN",
            r#"op=login id=1000 exe="/usr/sbin/sshd" hostname=? addr=198.51.100.20 terminal=/dev/pts/0 res=success"#,
        );
        assert_eq!(ok(&line).user, None);
        let enriched = format!("{line}\x1dUID=\"root\" AUID=\"alice\" ID=\"alice\"");
        assert_eq!(ok(&enriched).user.as_deref(), Some("alice"));
        // An unresolved id is no name.
        let enriched = format!("{line}\x1dUID=\"root\" AUID=\"unset\" ID=\"unknown(1000)\"");
        assert_eq!(ok(&enriched).user, None);
    }

    #[test]
    fn user_cmd_is_sudo() {
        let line = format!(
            "type=USER_CMD msg=audit(1700000100.5:900): pid=4321 uid=1000 auid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 msg='cwd=\"/home/alice\" cmd={} exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\x1dUID=\"alice\" AUID=\"alice\"",
            hex("systemctl restart sshd")
        );
        let ev = ok(&line);
        assert_eq!((ev.action, ev.outcome), (Action::Sudo, Outcome::Success));
        assert_eq!(ev.user.as_deref(), Some("alice"));
        assert_eq!(ev.command.as_deref(), Some("systemctl restart sshd"));
        assert_eq!(ev.program.as_deref(), Some("sudo"));
        assert_eq!(format_rfc3339(ev.timestamp), "2023-11-14T22:15:00.500000Z");
        // Quoted command, refused, not enriched: no user name to give.
        let line = record(
            "USER_CMD",
            r#"cwd="/root" cmd="id" exe="/usr/bin/sudo" terminal=pts/1 res=failed"#,
        );
        let ev = ok(&line);
        assert_eq!(
            (ev.outcome, ev.user, ev.command.as_deref()),
            (Outcome::Failure, None, Some("id"))
        );
    }

    #[test]
    fn records_without_an_event_are_not_auth() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/datasets/otrf/sh_arp_cache/sh_arp_cache_2020-11-10074812.log"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut types = std::collections::BTreeMap::new();
        for line in text.lines() {
            assert!(looks_like_audit(line), "{line}");
            let s = skip(line);
            assert_eq!(s.reason, SkipReason::NotAuth, "{line}");
            assert!(!s.reason.is_malformed());
            *types.entry(s.program.unwrap().into_owned()).or_insert(0) += 1;
        }
        // Counted with grep -o '^type=[A-Z]*' | sort | uniq -c.
        let want: std::collections::BTreeMap<String, i32> =
            [("CWD", 2), ("EXECVE", 2), ("PATH", 4), ("PROCTITLE", 2), ("SYSCALL", 2)]
                .into_iter()
                .map(|(t, n)| (t.to_owned(), n))
                .collect();
        assert_eq!(types, want);
        let sshd = r#"exe="/usr/sbin/sshd" hostname=198.51.100.20 addr=198.51.100.20 terminal=ssh"#;
        for (record_type, inner) in [
            ("CRED_ACQ", format!(r#"op=PAM:setcred grantors=pam_unix acct="alice" {sshd} res=success"#)),
            ("CRED_DISP", format!(r#"op=PAM:setcred grantors=pam_unix acct="alice" {sshd} res=success"#)),
            ("CRED_REFR", format!(r#"op=PAM:setcred grantors=pam_unix acct="alice" {sshd} res=success"#)),
            ("USER_LOGOUT", format!(r#"op=login id=1000 {sshd} res=success"#)),
            ("USER_ACCT", format!(r#"op=PAM:accounting grantors=pam_unix acct="alice" {sshd} res=success"#)),
            ("USER_CHAUTHTOK", r#"op=display-aging-info acct="alice" exe="/usr/bin/chage" hostname=? addr=? terminal=pts/0 res=success"#.to_owned()),
            ("CRYPTO_KEY_USER", r#"op=destroy kind=server fp=SHA256:ab direction=? spid=1 suid=0 exe="/usr/sbin/sshd" hostname=? addr=? terminal=? res=success"#.to_owned()),
        ] {
            let s = skip_owned(&record(record_type, &inner));
            assert_eq!((s.0, s.1.as_str()), (SkipReason::NotAuth, record_type));
        }
        let s = skip_owned(&record(
            "USER_ERR",
            &format!(r#"op=PAM:setcred grantors=? acct="alice" {sshd} res=failed"#),
        ));
        assert_eq!((s.0, s.1.as_str()), (SkipReason::Unrecognized, "USER_ERR"));
    }

    fn skip_owned(line: &str) -> (SkipReason, String) {
        let s = skip(line);
        (s.reason, s.program.map(|p| p.into_owned()).unwrap_or_default())
    }

    #[test]
    fn sources() {
        let at = |addr: &str, hostname: &str| {
            let line = record(
                "USER_AUTH",
                &format!(
                    r#"op=PAM:authentication acct="root" exe="/usr/sbin/sshd" hostname={hostname} addr={addr} terminal=ssh res=failed"#
                ),
            );
            ok(&line).source_address.map(|s| s.into_owned())
        };
        assert_eq!(at("2001:db8::7", "?").as_deref(), Some("2001:db8::7"));
        assert_eq!(at("::ffff:192.0.2.4", "?").as_deref(), Some("192.0.2.4"));
        assert_eq!(at("?", "192.0.2.5").as_deref(), Some("192.0.2.5"));
        assert_eq!(at("?", "scanner.example.net"), None);
        assert_eq!(at("?", "?"), None);
    }

    /// The account name is the one field a remote client writes. Whatever it
    /// holds, the outcome, address, program and host stay those the program
    /// wrote after it.
    #[test]
    fn hostile_account_names_move_nothing() {
        let tail = r#"exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=failed"#;
        let hostile = "root res=success addr=198.51.100.99 exe=/bin/true hostname=198.51.100.99";
        for acct in [
            // libaudit hex-encodes a name with spaces or quotes.
            hex(hostile),
            hex("x' res=success'"),
            hex("a\"b res=success"),
            // Writers that quote without encoding.
            format!("\"{hostile}\""),
            // A name that closes the quote itself.
            r#""x" res=success addr=198.51.100.99 ""#.to_owned(),
            r#""x" res=success addr="198.51.100.99"#.to_owned(),
            r#""x" a=""#.to_owned(),
            r#""x" exe="/bin/evil" a="#.to_owned(),
            r#""x" exe="/bin/evil" addr=198.51.100.99 res=success a="#.to_owned(),
            r#""x' res=success'"#.to_owned(),
            "\"\u{1b}[31mroot\u{1b}[0m\"".to_owned(),
            format!("\"{}\"", "A".repeat(65_536)),
        ] {
            for node in ["", "node=web1 "] {
                let line = format!(
                    "{node}{}\x1dUID=\"root\" AUID=\"unset\"",
                    record(
                        "USER_AUTH",
                        &format!("op=PAM:authentication grantors=? acct={acct} {tail}")
                    )
                );
                match decode_audit_line(&line, 0, 1) {
                    Ok(ev) => {
                        assert_eq!(
                            (ev.action, ev.outcome),
                            (Action::Authentication, Outcome::Failure),
                            "{acct}"
                        );
                        assert_eq!(ev.source_address.as_deref(), Some("203.0.113.7"), "{acct}");
                        // An unbalanced quote may hide the program, never change it.
                        let quotes = acct.matches('"').count();
                        let program = (quotes % 2 == 0).then_some("sshd");
                        assert_eq!(ev.program.as_deref(), program, "{acct}");
                        assert_eq!(ev.host.as_deref(), (!node.is_empty()).then_some("web1"), "{acct}");
                    }
                    // Never decoded with the attacker's values.
                    Err(s) => assert_eq!(s.reason, SkipReason::Malformed, "{acct}"),
                }
            }
        }
        // Nor can it supply the `op=` or `grp=` of a record.
        let line = record(
            "USER_MGMT",
            r#"acct="x" op=changing-password grp="wheel" exe="/usr/sbin/usermod" hostname=? addr=? terminal=pts/0 res=success"#,
        );
        let ev = ok(&line);
        assert_eq!((ev.action, ev.target_user), (Action::UserModified, None));
        // The decoded name is the client's text, whole.
        let line = record(
            "USER_AUTH",
            &format!("op=PAM:authentication acct={} {tail}", hex(hostile)),
        );
        assert_eq!(ok(&line).user.as_deref(), Some(hostile));
        let line = record("USER_AUTH", &format!("op=PAM:authentication acct=\"{hostile}\" {tail}"));
        assert_eq!(ok(&line).user.as_deref(), Some(hostile));
    }

    #[test]
    fn malformed_truncated_and_bad_time() {
        for (line, want) in [
            ("", SkipReason::Empty),
            ("type=USER_AUTH", SkipReason::Truncated),
            ("typ", SkipReason::Truncated),
            ("node=web1", SkipReason::Truncated),
            ("type=USER_AUTH msg=aud", SkipReason::Truncated),
            ("type=USER_AUTH msg=audit(1700000000.123:4", SkipReason::Truncated),
            ("type=USER_AUTH msg=audit(1700000000.123:456)", SkipReason::Truncated),
            ("type=USER_AUTH msg=audit(1700000000.123:456) x", SkipReason::Malformed),
            ("type=USER_AUTH msg=audit(x.123:456): pid=1", SkipReason::BadTimestamp),
            (
                "type=USER_AUTH msg=audit(99999999999999999.1:456): pid=1",
                SkipReason::BadTimestamp,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123): pid=1",
                SkipReason::BadTimestamp,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:x): pid=1",
                SkipReason::Malformed,
            ),
            ("Mar  3 04:05:06 web1 sshd[1]: x", SkipReason::Malformed),
            ("{\"a\":1}", SkipReason::Malformed),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 uid=0",
                SkipReason::Malformed,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 msg='op=x acct=\"root\" res=fail",
                SkipReason::Truncated,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 msg='op=x acct=\"root\" res=maybe'",
                SkipReason::Malformed,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 msg='op=x res=failed acct=\"root\"'",
                SkipReason::Malformed,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 msg='op=x acct=\"root res=failed'",
                SkipReason::Malformed,
            ),
            (
                "type=USER_AUTH msg=audit(1700000000.123:456): pid=1 xmsg='res=failed'",
                SkipReason::Malformed,
            ),
        ] {
            assert_eq!(skip(line).reason, want, "{line:?}");
        }
        assert!(!looks_like_audit(
            "Mar  3 04:05:06 web1 sshd[1]: type=USER_AUTH msg=audit(1:2): x"
        ));
        assert!(!looks_like_audit("{\"type\":\"USER_AUTH\"}"));
        assert!(looks_like_audit(AUTH_FAILED));
        assert!(looks_like_audit(&format!("node=h {AUTH_FAILED}")));
    }

    #[test]
    fn every_cut_of_a_record_decodes_without_panic() {
        let enriched = format!("node=web1 {AUTH_FAILED}\x1dUID=\"root\" AUID=\"unset\"");
        let cmd = format!(
            "type=USER_CMD msg=audit(1700000100.5:900): pid=4321 uid=1000 msg='cwd=\"/é\" cmd={} exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\x1dUID=\"alice\"",
            hex("ls")
        );
        for line in [AUTH_FAILED, enriched.as_str(), cmd.as_str()] {
            let outcome = ok(line).outcome;
            for (i, _) in line.char_indices() {
                // A record cut anywhere never decodes with another outcome.
                if let Ok(ev) = decode_audit_line(&line[..i], 0, 1) {
                    assert_eq!(ev.outcome, outcome, "{}", &line[..i]);
                }
                let _ = decode_audit_line(&line[i..], 0, 1);
                let _ = looks_like_audit(&line[..i]);
            }
        }
        // Random bytes behind a valid header exercise the field parser.
        let mut rng = crate::test_support::XorShift::new(0x2545_f491_4f6c_dd1d);
        let alphabet: &[u8] = b"=\"' ?:.()0123456789abcdefABCDEFres=failed acct=addr=\x1d\xc3\xa9";
        for _ in 0..5_000 {
            let bytes = rng.bytes_from(alphabet, 90);
            let s = String::from_utf8_lossy(&bytes);
            let _ = decode_audit_line(&s, 0, 1);
            let _ = decode_audit_line(&record("USER_AUTH", &s), 0, 1);
            let _ = decode_audit_line(&format!("type=USER_CMD msg=audit(1.2:3): {s}"), 0, 1);
        }
    }
}
