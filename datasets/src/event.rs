//! The compact in-memory event and its three output forms.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::names::{Names, Sym, NONE};
use crate::org::Org;
use crate::timefmt::{push_rfc3339, push_syslog_ts, push_u64};
use crate::OutputFormat;

/// What a line says. The message forms are listed in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AcceptedPassword,
    AcceptedPublickey,
    FailedPassword,
    FailedPasswordInvalid,
    InvalidUser,
    NoIdent,
    ConnClosedPreauth,
    MaxAuth,
    MaxAuthInvalid,
    TooManyFailures,
    TooManyFailuresInvalid,
    ReceivedDisconnect,
    DisconnectedUser,
    SshSessionOpened,
    SshSessionClosed,
    SudoCommand,
    SudoIncorrect,
    SudoAuthFailure,
    SudoSessionOpened,
    SudoSessionClosed,
    SuTo,
    SuSessionOpened,
    SuSessionClosed,
    CronSessionOpened,
    CronSessionClosed,
    NewGroup,
    NewUser,
    AddToGroup,
    AddToShadowGroup,
    PasswordChanged,
}

/// One event. `user` is the account acting or attempted; `other` is the
/// sudo command, su target, group name or key fingerprint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ev {
    pub ts: i64,
    pub host: u32,
    pub pid: u32,
    pub ip: IpAddr,
    pub user: Sym,
    pub other: Sym,
    pub num: u32,
    pub port: u16,
    pub tty: u16,
    pub kind: Kind,
}

const NO_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

impl Ev {
    /// A sudo command of `user` as `runas` and the session it opens.
    pub(crate) fn sudo_opened(at: i64, host: u32, pid: u32, user: Sym, runas: Sym, cmd: Sym, tty: u16) -> [Ev; 2] {
        [
            Ev::new(at, host, pid, Kind::SudoCommand)
                .user(user)
                .other(runas)
                .num(cmd)
                .tty(tty),
            Ev::new(at, host, pid, Kind::SudoSessionOpened).user(user).other(runas),
        ]
    }

    pub(crate) fn new(ts: i64, host: u32, pid: u32, kind: Kind) -> Ev {
        Ev {
            ts,
            host,
            pid,
            ip: NO_IP,
            user: NONE,
            other: NONE,
            num: 0,
            port: 0,
            tty: 0,
            kind,
        }
    }

    pub(crate) fn from(mut self, ip: IpAddr, port: u16) -> Ev {
        self.ip = ip;
        self.port = port;
        self
    }

    pub(crate) fn user(mut self, user: Sym) -> Ev {
        self.user = user;
        self
    }

    pub(crate) fn other(mut self, other: Sym) -> Ev {
        self.other = other;
        self
    }

    pub(crate) fn num(mut self, num: u32) -> Ev {
        self.num = num;
        self
    }

    pub(crate) fn tty(mut self, tty: u16) -> Ev {
        self.tty = tty;
        self
    }

    pub(crate) fn has_source(&self) -> bool {
        matches!(
            self.kind,
            Kind::AcceptedPassword
                | Kind::AcceptedPublickey
                | Kind::FailedPassword
                | Kind::FailedPasswordInvalid
                | Kind::InvalidUser
                | Kind::NoIdent
                | Kind::ConnClosedPreauth
                | Kind::MaxAuth
                | Kind::MaxAuthInvalid
                | Kind::TooManyFailures
                | Kind::TooManyFailuresInvalid
                | Kind::ReceivedDisconnect
                | Kind::DisconnectedUser
        )
    }

    fn program(&self) -> &'static str {
        match self.kind {
            Kind::SudoCommand
            | Kind::SudoIncorrect
            | Kind::SudoAuthFailure
            | Kind::SudoSessionOpened
            | Kind::SudoSessionClosed => "sudo",
            Kind::SuTo | Kind::SuSessionOpened | Kind::SuSessionClosed => "su",
            Kind::CronSessionOpened | Kind::CronSessionClosed => "CRON",
            Kind::NewGroup | Kind::NewUser => "useradd",
            Kind::AddToGroup | Kind::AddToShadowGroup => "usermod",
            Kind::PasswordChanged => "passwd",
            _ => "sshd",
        }
    }

    /// `(event.action, event.outcome)`.
    fn action(&self) -> (&'static str, &'static str) {
        match self.kind {
            Kind::AcceptedPassword | Kind::AcceptedPublickey => ("authentication", "success"),
            Kind::FailedPassword | Kind::FailedPasswordInvalid | Kind::SudoAuthFailure => ("authentication", "failure"),
            Kind::InvalidUser => ("invalid-user", "failure"),
            Kind::NoIdent => ("no-identification", "failure"),
            Kind::ConnClosedPreauth | Kind::ReceivedDisconnect | Kind::DisconnectedUser => ("disconnect", "unknown"),
            Kind::MaxAuth | Kind::MaxAuthInvalid => ("max-auth-attempts", "failure"),
            Kind::TooManyFailures | Kind::TooManyFailuresInvalid => ("disconnect", "failure"),
            Kind::SshSessionOpened | Kind::SudoSessionOpened | Kind::SuSessionOpened | Kind::CronSessionOpened => {
                ("session-opened", "success")
            }
            Kind::SshSessionClosed | Kind::SudoSessionClosed | Kind::SuSessionClosed | Kind::CronSessionClosed => {
                ("session-closed", "success")
            }
            Kind::SudoCommand => ("sudo", "success"),
            Kind::SudoIncorrect => ("sudo", "failure"),
            Kind::SuTo => ("su", "success"),
            Kind::NewUser => ("user-created", "success"),
            Kind::NewGroup => ("group-changed", "success"),
            Kind::AddToGroup | Kind::AddToShadowGroup => ("user-modified", "success"),
            Kind::PasswordChanged => ("password-changed", "success"),
        }
    }

    /// `(user.name, user.target.name)` for JSON.
    fn json_users(&self) -> (Sym, Sym) {
        match self.kind {
            Kind::SudoCommand | Kind::SudoIncorrect => (self.user, self.other),
            Kind::SudoSessionOpened | Kind::SudoSessionClosed => (self.user, self.other),
            Kind::SuTo | Kind::SuSessionOpened | Kind::SuSessionClosed => (self.user, self.other),
            // Account management runs as root; the account is the target.
            Kind::NewUser | Kind::NewGroup | Kind::AddToGroup | Kind::AddToShadowGroup | Kind::PasswordChanged => {
                (self.other, self.user)
            }
            Kind::NoIdent | Kind::ConnClosedPreauth => (NONE, NONE),
            _ => (self.user, NONE),
        }
    }

    fn is_auth(&self) -> bool {
        matches!(
            self.kind,
            Kind::AcceptedPassword
                | Kind::AcceptedPublickey
                | Kind::FailedPassword
                | Kind::FailedPasswordInvalid
                | Kind::InvalidUser
        )
    }
}

fn push_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            for (i, b) in o.iter().enumerate() {
                if i > 0 {
                    buf.push(b'.');
                }
                push_u64(buf, u64::from(*b));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(buf, "{v6}");
        }
    }
}

/// Appends `s` as JSON string content (without quotes).
fn push_json_str(buf: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..=0x1f => {
                let _ = write!(buf, "\\u{b:04x}");
            }
            _ => buf.push(b),
        }
    }
}

/// Formats events into lines.
pub(crate) struct Formatter<'a> {
    pub org: &'a Org,
    pub names: &'a Names,
    pub format: OutputFormat,
    line: Vec<u8>,
    msg: Vec<u8>,
}

impl<'a> Formatter<'a> {
    pub(crate) fn new(org: &'a Org, names: &'a Names, format: OutputFormat) -> Self {
        Formatter {
            org,
            names,
            format,
            line: Vec::with_capacity(512),
            msg: Vec::with_capacity(256),
        }
    }

    pub(crate) fn header(&self, out: &mut dyn Write) -> io::Result<u64> {
        if self.format == OutputFormat::Csv {
            out.write_all(b"timestamp,source_ip,username,success,system\n")?;
            return Ok(1);
        }
        Ok(0)
    }

    /// Writes one event; returns the number of lines written (0 or 1).
    pub(crate) fn write(&mut self, ev: &Ev, out: &mut dyn Write) -> io::Result<u64> {
        self.line.clear();
        match self.format {
            OutputFormat::Syslog => {
                push_syslog_ts(&mut self.line, ev.ts);
                self.line.push(b' ');
                self.line
                    .extend_from_slice(self.org.hosts[ev.host as usize].name.as_bytes());
                self.line.push(b' ');
                self.line.extend_from_slice(ev.program().as_bytes());
                self.line.push(b'[');
                push_u64(&mut self.line, u64::from(ev.pid));
                self.line.extend_from_slice(b"]: ");
                let mut msg = std::mem::take(&mut self.msg);
                msg.clear();
                self.message(ev, &mut msg);
                self.line.extend_from_slice(&msg);
                self.msg = msg;
            }
            OutputFormat::Json => self.json(ev),
            OutputFormat::Csv => {
                if !ev.is_auth() {
                    return Ok(0);
                }
                push_rfc3339(&mut self.line, ev.ts);
                self.line.push(b',');
                push_ip(&mut self.line, ev.ip);
                self.line.push(b',');
                self.line.extend_from_slice(self.names.get(ev.user).as_bytes());
                let ok = matches!(ev.kind, Kind::AcceptedPassword | Kind::AcceptedPublickey);
                self.line.extend_from_slice(if ok { b",true," } else { b",false," });
                self.line
                    .extend_from_slice(self.org.hosts[ev.host as usize].name.as_bytes());
            }
        }
        self.line.push(b'\n');
        out.write_all(&self.line)?;
        Ok(1)
    }

    fn json(&mut self, ev: &Ev) {
        let mut msg = std::mem::take(&mut self.msg);
        msg.clear();
        self.message(ev, &mut msg);
        let l = &mut self.line;
        l.extend_from_slice(b"{\"@timestamp\":\"");
        push_rfc3339(l, ev.ts);
        l.extend_from_slice(b"\",\"host\":{\"name\":\"");
        push_json_str(l, self.org.hosts[ev.host as usize].name.as_bytes());
        l.extend_from_slice(b"\"}");
        if ev.has_source() {
            l.extend_from_slice(b",\"source\":{\"ip\":\"");
            push_ip(l, ev.ip);
            l.extend_from_slice(b"\",\"port\":");
            push_u64(l, u64::from(ev.port));
            l.push(b'}');
        }
        let (name, target) = ev.json_users();
        if name != NONE || target != NONE {
            l.extend_from_slice(b",\"user\":{");
            if name != NONE {
                l.extend_from_slice(b"\"name\":\"");
                push_json_str(l, self.names.get(name).as_bytes());
                l.push(b'"');
            }
            if target != NONE {
                if name != NONE {
                    l.push(b',');
                }
                l.extend_from_slice(b"\"target\":{\"name\":\"");
                push_json_str(l, self.names.get(target).as_bytes());
                l.extend_from_slice(b"\"}");
            }
            l.push(b'}');
        }
        let (action, outcome) = ev.action();
        l.extend_from_slice(b",\"event\":{\"action\":\"");
        l.extend_from_slice(action.as_bytes());
        l.extend_from_slice(b"\",\"outcome\":\"");
        l.extend_from_slice(outcome.as_bytes());
        l.extend_from_slice(b"\"},\"process\":{\"name\":\"");
        l.extend_from_slice(ev.program().as_bytes());
        l.extend_from_slice(b"\",\"pid\":");
        push_u64(l, u64::from(ev.pid));
        if matches!(ev.kind, Kind::SudoCommand | Kind::SudoIncorrect) {
            l.extend_from_slice(b",\"command_line\":\"");
            push_json_str(l, self.names.get(ev.num).as_bytes());
            l.push(b'"');
        }
        l.extend_from_slice(b"},\"message\":\"");
        push_json_str(l, &msg);
        l.extend_from_slice(b"\"}");
        self.msg = msg;
    }

    /// The syslog message after `prog[pid]: `.
    fn message(&self, ev: &Ev, m: &mut Vec<u8>) {
        let n = self.names;
        let user = |m: &mut Vec<u8>| m.extend_from_slice(n.get(ev.user).as_bytes());
        let other = |m: &mut Vec<u8>| m.extend_from_slice(n.get(ev.other).as_bytes());
        let from = |m: &mut Vec<u8>| {
            m.extend_from_slice(b" from ");
            push_ip(m, ev.ip);
            m.extend_from_slice(b" port ");
            push_u64(m, u64::from(ev.port));
        };
        let ip_port = |m: &mut Vec<u8>| {
            push_ip(m, ev.ip);
            m.extend_from_slice(b" port ");
            push_u64(m, u64::from(ev.port));
        };
        let sudo_tail = |m: &mut Vec<u8>| {
            m.extend_from_slice(b"TTY=pts/");
            push_u64(m, u64::from(ev.tty));
            m.extend_from_slice(b" ; PWD=/home/");
            user(m);
            m.extend_from_slice(b" ; USER=");
            other(m);
            m.extend_from_slice(b" ; COMMAND=");
            m.extend_from_slice(n.get(ev.num).as_bytes());
        };
        match ev.kind {
            Kind::AcceptedPassword | Kind::AcceptedPublickey => {
                m.extend_from_slice(if ev.kind == Kind::AcceptedPassword {
                    b"Accepted password for "
                } else {
                    b"Accepted publickey for "
                });
                user(m);
                from(m);
                m.extend_from_slice(b" ssh2");
                if ev.kind == Kind::AcceptedPublickey && ev.other != NONE {
                    m.extend_from_slice(b": ED25519 SHA256:");
                    other(m);
                }
            }
            Kind::FailedPassword => {
                m.extend_from_slice(b"Failed password for ");
                user(m);
                from(m);
                m.extend_from_slice(b" ssh2");
            }
            Kind::FailedPasswordInvalid => {
                m.extend_from_slice(b"Failed password for invalid user ");
                user(m);
                from(m);
                m.extend_from_slice(b" ssh2");
            }
            Kind::InvalidUser => {
                m.extend_from_slice(b"Invalid user ");
                user(m);
                from(m);
            }
            Kind::NoIdent => {
                m.extend_from_slice(b"Did not receive identification string");
                from(m);
            }
            Kind::ConnClosedPreauth => {
                m.extend_from_slice(b"Connection closed by ");
                ip_port(m);
                m.extend_from_slice(b" [preauth]");
            }
            Kind::MaxAuth | Kind::MaxAuthInvalid => {
                m.extend_from_slice(b"error: maximum authentication attempts exceeded for ");
                if ev.kind == Kind::MaxAuthInvalid {
                    m.extend_from_slice(b"invalid user ");
                }
                user(m);
                from(m);
                m.extend_from_slice(b" ssh2 [preauth]");
            }
            Kind::TooManyFailures | Kind::TooManyFailuresInvalid => {
                m.extend_from_slice(if ev.kind == Kind::TooManyFailures {
                    b"Disconnecting authenticating user "
                } else {
                    b"Disconnecting invalid user "
                });
                user(m);
                m.push(b' ');
                ip_port(m);
                m.extend_from_slice(b": Too many authentication failures [preauth]");
            }
            Kind::ReceivedDisconnect => {
                m.extend_from_slice(b"Received disconnect");
                from(m);
                m.extend_from_slice(b":11: disconnected by user");
            }
            Kind::DisconnectedUser => {
                m.extend_from_slice(b"Disconnected from user ");
                user(m);
                m.push(b' ');
                ip_port(m);
            }
            Kind::SshSessionOpened => {
                m.extend_from_slice(b"pam_unix(sshd:session): session opened for user ");
                user(m);
                m.extend_from_slice(b" by (uid=0)");
            }
            Kind::SshSessionClosed => {
                m.extend_from_slice(b"pam_unix(sshd:session): session closed for user ");
                user(m);
            }
            Kind::SudoCommand => {
                user(m);
                m.extend_from_slice(b" : ");
                sudo_tail(m);
            }
            Kind::SudoIncorrect => {
                user(m);
                m.extend_from_slice(b" : 1 incorrect password attempt ; ");
                sudo_tail(m);
            }
            Kind::SudoAuthFailure => {
                m.extend_from_slice(b"pam_unix(sudo:auth): authentication failure; logname=");
                user(m);
                m.extend_from_slice(b" uid=");
                push_u64(m, u64::from(ev.num));
                m.extend_from_slice(b" euid=0 tty=/dev/pts/");
                push_u64(m, u64::from(ev.tty));
                m.extend_from_slice(b" ruser=");
                user(m);
                m.extend_from_slice(b" rhost=  user=");
                user(m);
            }
            Kind::SudoSessionOpened => {
                m.extend_from_slice(b"pam_unix(sudo:session): session opened for user ");
                other(m);
                m.extend_from_slice(b" by ");
                user(m);
                m.extend_from_slice(b"(uid=0)");
            }
            Kind::SudoSessionClosed => {
                m.extend_from_slice(b"pam_unix(sudo:session): session closed for user ");
                other(m);
            }
            Kind::SuTo => {
                m.extend_from_slice(b"(to ");
                other(m);
                m.extend_from_slice(b") ");
                user(m);
                m.extend_from_slice(b" on pts/");
                push_u64(m, u64::from(ev.tty));
            }
            Kind::SuSessionOpened => {
                m.extend_from_slice(b"pam_unix(su:session): session opened for user ");
                other(m);
                m.extend_from_slice(b" by ");
                user(m);
                m.extend_from_slice(b"(uid=");
                push_u64(m, u64::from(ev.num));
                m.push(b')');
            }
            Kind::SuSessionClosed => {
                m.extend_from_slice(b"pam_unix(su:session): session closed for user ");
                other(m);
            }
            Kind::CronSessionOpened => {
                m.extend_from_slice(b"pam_unix(cron:session): session opened for user ");
                user(m);
                m.extend_from_slice(b" by (uid=0)");
            }
            Kind::CronSessionClosed => {
                m.extend_from_slice(b"pam_unix(cron:session): session closed for user ");
                user(m);
            }
            Kind::NewGroup => {
                m.extend_from_slice(b"new group: name=");
                user(m);
                m.extend_from_slice(b", GID=");
                push_u64(m, u64::from(ev.num));
            }
            Kind::NewUser => {
                m.extend_from_slice(b"new user: name=");
                user(m);
                m.extend_from_slice(b", UID=");
                push_u64(m, u64::from(ev.num));
                m.extend_from_slice(b", GID=");
                push_u64(m, u64::from(ev.num));
                m.extend_from_slice(b", home=/home/");
                user(m);
                m.extend_from_slice(b", shell=/bin/bash, from=/dev/pts/");
                push_u64(m, u64::from(ev.tty));
            }
            Kind::AddToGroup | Kind::AddToShadowGroup => {
                m.extend_from_slice(b"add '");
                user(m);
                m.extend_from_slice(if ev.kind == Kind::AddToGroup {
                    b"' to group '"
                } else {
                    b"' to shadow group '"
                });
                m.extend_from_slice(b"sudo'");
            }
            Kind::PasswordChanged => {
                m.extend_from_slice(b"pam_unix(passwd:chauthtok): password changed for ");
                user(m);
            }
        }
    }
}
