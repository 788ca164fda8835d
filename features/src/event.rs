//! The one normalized event type that flows through every stage.
//!
//! Field names follow the Elastic Common Schema (ECS): `@timestamp`,
//! `host.name`, `source.ip`, `source.port`, `user.name`, `event.action`,
//! `event.outcome`, `process.name`, `process.pid`. An [`Event`] borrows its
//! text from the line it was decoded from, so decoding allocates nothing on
//! the hot path; [`Event::into_owned`] detaches it when it must outlive the
//! line.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Index of an input file in the run's file table (see [`crate::ingest::pipeline::RunResult::files`]).
pub type FileId = u32;

/// What happened, as an ECS `event.action` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A credential check: password, public key, keyboard-interactive, PAM
    /// `auth`, Windows logon (4624/4625), Kerberos pre-auth (4771), NTLM (4776).
    Authentication,
    /// A login attempt naming a user that does not exist (`Invalid user`).
    InvalidUser,
    /// A session was opened (pam_unix `session opened`, login).
    SessionOpened,
    /// A session was closed (pam_unix `session closed`, Windows 4634 logoff).
    SessionClosed,
    /// A command run through sudo, or a sudo authentication problem.
    Sudo,
    /// A switch of user with su.
    Su,
    /// An account was created (useradd, Windows 4720).
    UserCreated,
    /// An account was changed (usermod, including group membership).
    UserModified,
    /// An account was deleted (userdel).
    UserDeleted,
    /// A password was changed (passwd, chpasswd).
    PasswordChanged,
    /// A group was created or changed (groupadd, groupmod).
    GroupChanged,
    /// The server gave up after too many authentication failures.
    MaxAuthAttempts,
    /// A connection sent no SSH identification string (scanner).
    NoIdentification,
    /// Reverse DNS did not match (`POSSIBLE BREAK-IN ATTEMPT`).
    ReverseMappingFailed,
    /// A disconnect or closed connection, usually `[preauth]`.
    Disconnect,
    /// Special privileges assigned to a new logon (Windows 4672).
    PrivilegedLogon,
    /// A logon with explicit credentials (Windows 4648, runas).
    ExplicitCredentials,
    /// An account was locked out (Windows 4740).
    AccountLocked,
    /// A login refused by policy before any credential was checked: sshd
    /// `User U from A not allowed because ...`, `ROOT LOGIN REFUSED`, TCP
    /// wrappers `refused connect from`.
    LoginRefused,
    /// A connection that failed before authentication in the protocol itself:
    /// identification or banner exchange, key exchange negotiation, MAC or
    /// packet errors (scanners, old clients, fuzzers).
    ProtocolError,
    /// The client did not authenticate within the server's grace time.
    PreauthTimeout,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 21] = [
        Action::Authentication,
        Action::InvalidUser,
        Action::SessionOpened,
        Action::SessionClosed,
        Action::Sudo,
        Action::Su,
        Action::UserCreated,
        Action::UserModified,
        Action::UserDeleted,
        Action::PasswordChanged,
        Action::GroupChanged,
        Action::MaxAuthAttempts,
        Action::NoIdentification,
        Action::ReverseMappingFailed,
        Action::Disconnect,
        Action::PrivilegedLogon,
        Action::ExplicitCredentials,
        Action::AccountLocked,
        Action::LoginRefused,
        Action::ProtocolError,
        Action::PreauthTimeout,
    ];

    /// The ECS `event.action` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Authentication => "authentication",
            Action::InvalidUser => "invalid-user",
            Action::SessionOpened => "session-opened",
            Action::SessionClosed => "session-closed",
            Action::Sudo => "sudo",
            Action::Su => "su",
            Action::UserCreated => "user-created",
            Action::UserModified => "user-modified",
            Action::UserDeleted => "user-deleted",
            Action::PasswordChanged => "password-changed",
            Action::GroupChanged => "group-changed",
            Action::MaxAuthAttempts => "max-auth-attempts",
            Action::NoIdentification => "no-identification",
            Action::ReverseMappingFailed => "reverse-mapping-failed",
            Action::Disconnect => "disconnect",
            Action::PrivilegedLogon => "privileged-logon",
            Action::ExplicitCredentials => "explicit-credentials",
            Action::AccountLocked => "account-locked",
            Action::LoginRefused => "login-refused",
            Action::ProtocolError => "protocol-error",
            Action::PreauthTimeout => "preauth-timeout",
        }
    }

    /// The ECS `event.category` of the action.
    pub fn category(self) -> &'static str {
        match self {
            Action::Authentication
            | Action::InvalidUser
            | Action::MaxAuthAttempts
            | Action::LoginRefused
            | Action::PrivilegedLogon
            | Action::ExplicitCredentials
            | Action::AccountLocked => "authentication",
            Action::SessionOpened | Action::SessionClosed => "session",
            Action::Sudo | Action::Su => "process",
            Action::UserCreated
            | Action::UserModified
            | Action::UserDeleted
            | Action::PasswordChanged
            | Action::GroupChanged => "iam",
            Action::NoIdentification
            | Action::ReverseMappingFailed
            | Action::Disconnect
            | Action::ProtocolError
            | Action::PreauthTimeout => "network",
        }
    }

    /// Parses an `event.action` keyword written by [`Action::as_str`].
    pub fn from_keyword(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ECS `event.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

// Tables indexed by `outcome as usize` have `Outcome::ALL.len()` rows.
const _: () = assert!(Outcome::Unknown as usize == Outcome::ALL.len() - 1);

impl Outcome {
    /// Every outcome, in declaration order (`o as usize` is its index).
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

/// How a credential was presented, when the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    Password,
    Publickey,
    KeyboardInteractive,
    None,
    Kerberos,
    Ntlm,
    Other,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 7] = [
        AuthMethod::Password,
        AuthMethod::Publickey,
        AuthMethod::KeyboardInteractive,
        AuthMethod::None,
        AuthMethod::Kerberos,
        AuthMethod::Ntlm,
        AuthMethod::Other,
    ];

    /// Parses a name written by [`AuthMethod::as_str`].
    pub fn parse(s: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Publickey => "publickey",
            AuthMethod::KeyboardInteractive => "keyboard-interactive",
            AuthMethod::None => "none",
            AuthMethod::Kerberos => "kerberos",
            AuthMethod::Ntlm => "ntlm",
            AuthMethod::Other => "other",
        }
    }
}

/// Which record of an authentication attempt a line is. One attempt can
/// leave several lines (sshd's `Invalid user`, PAM's `authentication
/// failure`, sshd's `Failed password`, a closing `Connection closed by
/// authenticating user`); [`crate::ingest::attempts`] counts each attempt once
/// whichever of them a host writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptLine {
    /// Not part of an authentication attempt.
    None,
    /// A record that is a whole attempt by itself (a Windows 4625, an ECS
    /// authentication event, login(1)'s `FAILED LOGIN`).
    Whole,
    /// The daemon's verdict on one credential (`Failed password`, `Accepted
    /// publickey`).
    Daemon,
    /// PAM's record of a failed check (`authentication failure`, `N more
    /// authentication failures`).
    Pam,
    /// The daemon's report of a PAM verdict (sshd `error: PAM: Authentication
    /// failure for U from A`).
    DaemonPam,
    /// Written before any credential is checked: `Invalid user`, `User U from
    /// A not allowed because ...`, `ROOT LOGIN REFUSED`.
    Opening,
    /// The client left while authenticating (`Connection closed by
    /// authenticating user U A port P [preauth]`): an attempt when nothing
    /// else recorded one.
    Closing,
}

impl AttemptLine {
    /// Every kind, in declaration order.
    pub const ALL: [AttemptLine; 7] = [
        AttemptLine::None,
        AttemptLine::Whole,
        AttemptLine::Daemon,
        AttemptLine::Pam,
        AttemptLine::DaemonPam,
        AttemptLine::Opening,
        AttemptLine::Closing,
    ];

    /// The kebab-case name (`daemon-pam`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptLine::None => "none",
            AttemptLine::Whole => "whole",
            AttemptLine::Daemon => "daemon",
            AttemptLine::Pam => "pam",
            AttemptLine::DaemonPam => "daemon-pam",
            AttemptLine::Opening => "opening",
            AttemptLine::Closing => "closing",
        }
    }

    /// Parses a name written by [`AttemptLine::as_str`].
    pub fn parse(s: &str) -> Option<AttemptLine> {
        AttemptLine::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The outcome of the attempt a line of this kind records, given the
    /// line's own outcome: none for lines outside attempts, failure for lines
    /// that only open or close one (they are no verdict of their own).
    pub fn attempt_outcome(self, line_outcome: Outcome) -> Option<Outcome> {
        match self {
            AttemptLine::None => None,
            AttemptLine::Opening | AttemptLine::Closing => Some(Outcome::Failure),
            _ => Some(line_outcome),
        }
    }
}

/// Where an event came from: enough to show the analyst the raw line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence<'a> {
    /// The input file (index into the run's file table).
    pub file: FileId,
    /// 1-based line number in that file (after decompression).
    pub line: u64,
    /// The raw line, without its line ending.
    pub raw: Cow<'a, str>,
}

/// One normalized security event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// `@timestamp`: when it happened, UTC microseconds.
    pub timestamp: Micros,
    /// `host.name`: the system that logged the event.
    pub host: Option<Cow<'a, str>>,
    /// `source.address`: the remote peer as written (IP or host name).
    pub source_address: Option<Cow<'a, str>>,
    /// `source.ip`: the remote peer, when it is an IP address.
    pub source_ip: Option<IpAddr>,
    /// `source.port`.
    pub source_port: Option<u16>,
    /// `user.name`: the account acted as or attempted.
    pub user: Option<Cow<'a, str>>,
    /// `user.target.name`: sudo `USER=`, su target, the account of a session
    /// opened by someone else, the group of a group-membership change.
    pub target_user: Option<Cow<'a, str>>,
    /// `event.action`.
    pub action: Action,
    /// `event.outcome`.
    pub outcome: Outcome,
    /// How the credential was presented.
    pub auth_method: Option<AuthMethod>,
    /// The attempted user name does not exist on the system.
    pub user_invalid: bool,
    /// Refused by policy rather than for a wrong credential (`user NOT in
    /// sudoers`, `command not allowed`).
    pub denied: bool,
    /// `process.name`: the program that logged (`sshd`, `sudo`, ...).
    pub program: Option<Cow<'a, str>>,
    /// `process.pid`.
    pub pid: Option<u32>,
    /// `process.command_line` for sudo, when present.
    pub command: Option<Cow<'a, str>>,
    /// How many occurrences this line stands for: `message repeated N times`
    /// and PAM's `N more authentication failures` fold several into one.
    pub repeat: u32,
    /// Which record of an authentication attempt this line is.
    pub attempt_line: AttemptLine,
    /// How many authentication attempts are counted on this line: `repeat`
    /// for a line alone, 0 for a line whose attempt another line of the same
    /// connection already counted ([`crate::ingest::attempts`]).
    pub attempts: u32,
    /// The source was taken from text an attacker could have shaped (two
    /// places in the line fit the program's format): shown, never blamed.
    pub source_unreliable: bool,
    /// The line this event was decoded from.
    pub evidence: Evidence<'a>,
}

/// Whether a name field holds a value: empty and `-` (syslog's and many
/// exporters' "none") are absent.
pub fn is_present(name: &str) -> bool {
    !name.is_empty() && name != "-"
}

impl<'a> Event<'a> {
    /// A new event with every optional field empty, outcome unknown, repeat 1;
    /// an `authentication` event is a whole attempt until a decoder says
    /// otherwise.
    pub fn new(timestamp: Micros, action: Action, evidence: Evidence<'a>) -> Self {
        let attempt_line = if action == Action::Authentication {
            AttemptLine::Whole
        } else {
            AttemptLine::None
        };
        Event {
            timestamp,
            host: None,
            source_address: None,
            source_ip: None,
            source_port: None,
            user: None,
            target_user: None,
            action,
            outcome: Outcome::Unknown,
            auth_method: None,
            user_invalid: false,
            denied: false,
            program: None,
            pid: None,
            command: None,
            repeat: 1,
            attempt_line,
            attempts: u32::from(attempt_line != AttemptLine::None),
            source_unreliable: false,
            evidence,
        }
    }

    /// Marks which record of an attempt this line is; alone it counts
    /// `repeat` attempts (none outside attempts), until
    /// [`crate::ingest::attempts`] pairs it with its connection's other lines.
    pub fn set_attempt_line(&mut self, line: AttemptLine) {
        self.attempt_line = line;
        self.attempts = if line == AttemptLine::None {
            0
        } else {
            self.repeat.max(1)
        };
    }

    /// The outcome of the attempt this line records, if it records one: the
    /// event's outcome, or failure for lines that only open or close one.
    pub fn attempt_outcome(&self) -> Option<Outcome> {
        self.attempt_line.attempt_outcome(self.outcome)
    }

    /// Failed authentication attempts counted on this line.
    pub fn failed_attempts(&self) -> u32 {
        if self.attempt_outcome() == Some(Outcome::Failure) {
            self.attempts
        } else {
            0
        }
    }

    /// Sets `source.address` and, when it parses, `source.ip`. An
    /// IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address.
    pub fn set_source(&mut self, address: Cow<'a, str>) {
        let address = match address {
            Cow::Borrowed(a) => Cow::Borrowed(strip_v4_mapped(a)),
            Cow::Owned(a) if strip_v4_mapped(&a).len() != a.len() => Cow::Owned(strip_v4_mapped(&a).to_owned()),
            owned => owned,
        };
        self.source_ip = parse_ip(&address);
        self.source_address = Some(address);
    }

    /// The source as an entity key: the IP when there is one, else the name;
    /// none when the source is unreliable, so that it is never blamed.
    pub fn source_key(&self) -> Option<&str> {
        if self.source_unreliable {
            return None;
        }
        self.source_address.as_deref()
    }

    /// The event names an account that does not exist (`Invalid user`, or
    /// a failure flagged as such).
    pub fn names_invalid_user(&self) -> bool {
        self.user_invalid || self.action == Action::InvalidUser
    }

    /// Detaches the event from the line it borrows from.
    pub fn into_owned(self) -> Event<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        Event {
            timestamp: self.timestamp,
            host: own(self.host),
            source_address: own(self.source_address),
            source_ip: self.source_ip,
            source_port: self.source_port,
            user: own(self.user),
            target_user: own(self.target_user),
            action: self.action,
            outcome: self.outcome,
            auth_method: self.auth_method,
            user_invalid: self.user_invalid,
            denied: self.denied,
            program: own(self.program),
            pid: self.pid,
            command: own(self.command),
            repeat: self.repeat,
            attempt_line: self.attempt_line,
            attempts: self.attempts,
            source_unreliable: self.source_unreliable,
            evidence: Evidence {
                file: self.evidence.file,
                line: self.evidence.line,
                raw: Cow::Owned(self.evidence.raw.into_owned()),
            },
        }
    }
}

/// `::ffff:1.2.3.4` → `1.2.3.4`; anything else unchanged.
fn strip_v4_mapped(a: &str) -> &str {
    match a.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("::ffff:") && a[7..].parse::<std::net::Ipv4Addr>().is_ok() => &a[7..],
        _ => a,
    }
}

/// Parses an IPv4 or IPv6 address, also in `[v6]` brackets or with an IPv6
/// zone (`fe80::1%eth0`); `None` for host names.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let s = memchr::memchr(b'%', s.as_bytes()).map_or(s, |i| &s[..i]);
    s.parse().ok()
}

/// Why a line produced no event. Counted per reason (and per program for
/// unrecognized messages) and reported in the run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Blank line.
    Empty,
    /// Not the shape of the input format at all (no syslog header, not JSON,
    /// wrong number of CSV fields).
    Malformed,
    /// The timestamp is missing or cannot be read.
    BadTimestamp,
    /// The line ends early (a truncated write).
    Truncated,
    /// Bytes that are not UTF-8 were replaced; reported, the line still decodes.
    InvalidUtf8,
    /// A required field (for example the user of a CSV row) is missing.
    MissingField,
    /// A well-formed line whose message no decoder knows (kernel, cron, ...).
    Unrecognized,
    /// A Windows event ID outside the supported set.
    UnsupportedEventId,
    /// A well-formed record of a kind that carries no authentication event
    /// (audit kernel records such as SYSCALL or PATH, credential bookkeeping
    /// such as CRED_ACQ); the program is the record type.
    NotAuth,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::Malformed => "malformed",
            SkipReason::BadTimestamp => "bad-timestamp",
            SkipReason::Truncated => "truncated",
            SkipReason::InvalidUtf8 => "invalid-utf8",
            SkipReason::MissingField => "missing-field",
            SkipReason::Unrecognized => "unrecognized",
            SkipReason::UnsupportedEventId => "unsupported-event-id",
            SkipReason::NotAuth => "not-auth",
        }
    }

    /// Unrecognized messages, unsupported event IDs and records that are not
    /// about authentication are expected in real logs; the rest are
    /// malformed input, and `--strict` makes them errors.
    pub fn is_malformed(self) -> bool {
        !matches!(
            self,
            SkipReason::Empty | SkipReason::Unrecognized | SkipReason::UnsupportedEventId | SkipReason::NotAuth
        )
    }
}

/// A line that produced no event, with the program that wrote it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip<'a> {
    pub reason: SkipReason,
    pub program: Option<Cow<'a, str>>,
}

impl<'a> Skip<'a> {
    pub fn new(reason: SkipReason) -> Self {
        Skip { reason, program: None }
    }

    pub fn with_program(reason: SkipReason, program: impl Into<Cow<'a, str>>) -> Self {
        Skip {
            reason,
            program: Some(program.into()),
        }
    }
}

/// The result of decoding one line.
pub type Decoded<'a> = Result<Event<'a>, Skip<'a>>;
