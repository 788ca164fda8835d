//! Message decoders: the message of a syslog line, given its program, becomes
//! one normalized [`Event`].
//!
//! Known programs: sshd, PAM modules (`pam_unix(service:type): ...` from any
//! program, and the old `program(pam_unix)` form), sudo, su, login, the
//! shadow-utils account tools (useradd, usermod, userdel, groupadd, passwd,
//! chpasswd, gpasswd...), ftpd, klogind and systemd-logind. Other messages
//! become [`SkipReason::Unrecognized`] with their program, so the run summary
//! can count them per program.
//!
//! Decoders match fixed phrases with `str` methods and borrow every field
//! from the message; nothing is allocated. The phrases come from the
//! programs' own format strings; `features/tests/messages/*.toml` lists each
//! message family with what it must decode to.
//!
//! Fields next to text a client controls (user names, banners, disconnect
//! reasons) are taken at the position the program's format gives them, from
//! the end when nothing the client writes follows; when two positions fit,
//! the event's source is marked unreliable instead of guessed. Each line of
//! an authentication attempt says which record of it it is
//! ([`AttemptLine`]); [`crate::ingest::attempts`] counts the attempt once.
//!
//! Field conventions:
//! - Sessions: `user` is the account the session is for; when PAM names who
//!   opened it (`for user root by alice(uid=1000)`, su and sudo), `user` is
//!   that person and `target_user` the account.
//! - su: `user` is who ran su, `target_user` the account switched to.
//! - Account changes: `user` is the account created, changed, deleted or
//!   whose password changed; for group membership `target_user` is the
//!   group; for group creation or removal, `target_user` is the group and
//!   `user` is empty.
//! - `message repeated N times: [ ... ]` and `PAM N more authentication
//!   failures` set `repeat` to N.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;

use crate::event::{Action, AttemptLine, AuthMethod, Decoded, Event, Evidence, Micros, Outcome, Skip, SkipReason};

/// Decodes the message part given the parsed header. `program` is the tag
/// without its pid (`sshd`, `sudo`, `sshd(pam_unix)`, `CRON`...), empty when
/// the line had none; a path (`/usr/sbin/sshd`) is reduced to its last part
/// for matching. The message is trimmed here.
pub fn decode_message<'a>(
    timestamp: Micros,
    host: Option<&'a str>,
    program: &'a str,
    pid: Option<u32>,
    message: &'a str,
    evidence: Evidence<'a>,
) -> Decoded<'a> {
    let program = (!program.is_empty()).then_some(program);
    let Some(f) = fields(program.unwrap_or(""), message.trim()) else {
        return Err(Skip {
            reason: SkipReason::Unrecognized,
            program: program.map(Cow::Borrowed),
        });
    };
    let mut e = Event::new(timestamp, f.action, evidence);
    e.outcome = f.outcome;
    e.host = host.map(Cow::Borrowed);
    e.program = program.map(Cow::Borrowed);
    e.pid = pid;
    e.user = non_blank(f.user).map(Cow::Borrowed);
    e.target_user = non_blank(f.target_user).map(Cow::Borrowed);
    if let Some(source) = non_blank(f.source) {
        e.set_source(Cow::Borrowed(source));
    }
    e.source_port = f.port;
    e.auth_method = f.method;
    e.user_invalid = f.user_invalid;
    e.denied = f.denied;
    e.command = non_blank(f.command).map(Cow::Borrowed);
    e.repeat = f.repeat;
    e.set_attempt_line(f.attempt);
    e.source_unreliable = f.unreliable && e.source_address.is_some();
    Ok(e)
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// What a decoder found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields<'a> {
    action: Action,
    outcome: Outcome,
    user: Option<&'a str>,
    target_user: Option<&'a str>,
    source: Option<&'a str>,
    port: Option<u16>,
    method: Option<AuthMethod>,
    user_invalid: bool,
    denied: bool,
    command: Option<&'a str>,
    repeat: u32,
    attempt: AttemptLine,
    /// Two places in the line fit the program's format for the source.
    unreliable: bool,
}

impl<'a> Fields<'a> {
    fn new(action: Action, outcome: Outcome) -> Self {
        Fields {
            action,
            outcome,
            user: None,
            target_user: None,
            source: None,
            port: None,
            method: None,
            user_invalid: action == Action::InvalidUser,
            denied: false,
            command: None,
            repeat: 1,
            attempt: if action == Action::Authentication {
                AttemptLine::Whole
            } else {
                AttemptLine::None
            },
            unreliable: false,
        }
    }

    fn attempt(mut self, line: AttemptLine) -> Self {
        self.attempt = line;
        self
    }

    fn user(mut self, user: &'a str) -> Self {
        self.user = Some(user);
        self
    }

    fn target(mut self, target: &'a str) -> Self {
        self.target_user = Some(target);
        self
    }

    fn source(mut self, source: &'a str) -> Self {
        self.source = Some(source);
        self
    }

    /// Source and port from `ADDR[ port N]...`.
    fn peer(mut self, s: &'a str) -> Self {
        let (addr, port) = addr_port(s);
        self.source = Some(addr);
        self.port = port;
        self
    }
}

fn fields<'a>(program: &'a str, m: &'a str) -> Option<Fields<'a>> {
    // rsyslog folds repeats under the original tag.
    if let Some(r) = m.strip_prefix("message repeated ") {
        let (n, inner) = split_str(r, " times: [")?;
        let n: u32 = n.parse().ok()?;
        let inner = inner.trim();
        let inner = inner.strip_suffix(']').unwrap_or(inner).trim_end();
        let mut f = fields_once(program, inner)?;
        f.repeat = f.repeat.saturating_mul(n.max(1));
        return Some(f);
    }
    fields_once(program, m)
}

fn fields_once<'a>(program: &'a str, m: &'a str) -> Option<Fields<'a>> {
    if let Some((service, body)) = pam_prefix(m) {
        return pam(service, body);
    }
    let base = rsplit_byte(program, b'/').map_or(program, |(_, b)| b);
    // The old `sshd(pam_unix)` tag: the message is the PAM text.
    if let Some(service) = base
        .strip_suffix(')')
        .and_then(|b| split_str(b, "(pam_"))
        .map(|(s, _)| s)
    {
        return pam(service, m);
    }
    // TCP wrappers, under the name of the wrapped daemon.
    if let Some(r) = m.strip_prefix("refused connect from ") {
        return Some(tcp_wrappers_refused(r));
    }
    match base {
        "sshd" | "sshd-session" | "sshd-auth" => sshd(m),
        "sudo" => sudo(m),
        "su" => su(m),
        "login" => login(m),
        "useradd" | "adduser" | "usermod" | "userdel" | "deluser" | "groupadd" | "addgroup" | "groupmod"
        | "groupdel" | "delgroup" | "passwd" | "chpasswd" | "gpasswd" | "chage" | "newusers" => account(m),
        "ftpd" | "in.ftpd" | "wu-ftpd" => ftpd(m),
        "klogind" | "in.klogind" => klogind(m),
        "systemd-logind" => logind(m),
        "unix_chkpwd" => pam("unix_chkpwd", m),
        // login also logs under odd idents (`-- root[2421]: ROOT LOGIN ON tty2`).
        _ => login(m),
    }
}

// ---------------------------------------------------------------- helpers

// The standard library's `str` substring search sets up a Two-Way searcher
// per call, a large share of decoding time for these short patterns;
// memchr's is cheaper to start. Matches of a UTF-8 pattern fall on char
// boundaries.

fn find_str(s: &str, pat: &str) -> Option<usize> {
    memmem::find(s.as_bytes(), pat.as_bytes())
}

fn rfind_str(s: &str, pat: &str) -> Option<usize> {
    memmem::rfind(s.as_bytes(), pat.as_bytes())
}

fn contains_str(s: &str, pat: &str) -> bool {
    find_str(s, pat).is_some()
}

/// `s.split_once(pat)`.
fn split_str<'a>(s: &'a str, pat: &str) -> Option<(&'a str, &'a str)> {
    find_str(s, pat).map(|i| (&s[..i], &s[i + pat.len()..]))
}

/// `s.rsplit_once(pat)`.
fn rsplit_str<'a>(s: &'a str, pat: &str) -> Option<(&'a str, &'a str)> {
    rfind_str(s, pat).map(|i| (&s[..i], &s[i + pat.len()..]))
}

// Finders built once for the patterns of the most common lines.
static FOR: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(" for "));
static FROM: LazyLock<memmem::FinderRev<'static>> = LazyLock::new(|| memmem::FinderRev::new(" from "));
static FROM_FWD: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(" from "));
/// The end of a PAM prefix, `pam_unix(sshd:session): `.
static TAG_END: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("): "));

/// `s.split_once(pattern)` with a prebuilt finder of the pattern.
fn split_str_with<'a>(s: &'a str, finder: &memmem::Finder<'_>) -> Option<(&'a str, &'a str)> {
    let len = finder.needle().len();
    finder.find(s.as_bytes()).map(|i| (&s[..i], &s[i + len..]))
}

/// `s.split_once(b)` for an ASCII byte `b`.
fn split_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    memchr::memchr(b, s.as_bytes()).map(|i| (&s[..i], &s[i + 1..]))
}

/// `s.rsplit_once(b)` for an ASCII byte `b`.
fn rsplit_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    memchr::memrchr(b, s.as_bytes()).map(|i| (&s[..i], &s[i + 1..]))
}

/// The text of `s` before the first ASCII byte `b`, or all of it.
fn before_byte(s: &str, b: u8) -> &str {
    split_byte(s, b).map_or(s, |(head, _)| head)
}

/// `ADDR[ port N]...` → (ADDR, N).
fn addr_port(s: &str) -> (&str, Option<u16>) {
    let (addr, rest) = split_byte(s, b' ').unwrap_or((s, ""));
    (addr, rest.strip_prefix("port ").and_then(leading_u16))
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

fn leading_u16(s: &str) -> Option<u16> {
    leading_number(s).and_then(|n| u16::try_from(n).ok())
}

/// `N rest` → (N, rest).
fn count_prefix(s: &str) -> Option<(u32, &str)> {
    let (n, rest) = split_byte(s, b' ')?;
    Some((n.parse().ok()?, rest))
}

/// Strips `invalid user ` / `illegal user `; true when it was there.
fn invalid_prefix(s: &str) -> (bool, &str) {
    match s
        .strip_prefix("invalid user ")
        .or_else(|| s.strip_prefix("illegal user "))
    {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

/// The value of `key=` in a PAM `k=v k=v` list (the key must start a word),
/// up to the next space.
fn kv<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = find_str(&s[from..], key) {
        let at = from + i;
        if at == 0 || s.as_bytes()[at - 1] == b' ' {
            let value = &s[at + key.len()..];
            return Some(before_byte(value, b' '));
        }
        from = at + 1;
    }
    None
}

/// A user name quoted as `'U'` or `` `U' `` → (U, text after the quote).
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('\'').or_else(|| s.strip_prefix('`'))?;
    s.split_once('\'')
}

/// Drops a `(uid=N)` suffix: `root(uid=0)` → `root`.
fn strip_uid(s: &str) -> &str {
    before_byte(s, b'(').trim()
}

fn auth_method(word: &str) -> AuthMethod {
    match word {
        "password" => AuthMethod::Password,
        "publickey" => AuthMethod::Publickey,
        "keyboard-interactive/pam" | "keyboard-interactive" => AuthMethod::KeyboardInteractive,
        "none" => AuthMethod::None,
        "gssapi-with-mic" | "gssapi-keyex" | "gssapi" => AuthMethod::Kerberos,
        _ => AuthMethod::Other,
    }
}

// ---------------------------------------------------------------- PAM

/// `pam_unix(sshd:auth): body` → ("sshd", body).
fn pam_prefix(m: &str) -> Option<(&str, &str)> {
    if !m.starts_with("pam_") {
        return None;
    }
    let open = memchr::memchr(b'(', m.as_bytes())?;
    let (inside, body) = split_str_with(&m[open + 1..], &TAG_END)?;
    let service = before_byte(inside, b':');
    Some((service, body))
}

fn is_su(service: &str) -> bool {
    service == "su" || service.starts_with("su-")
}

/// A PAM message of `service`.
fn pam<'a>(service: &str, body: &'a str) -> Option<Fields<'a>> {
    if let Some(kvs) = body.strip_prefix("authentication failure;") {
        return Some(pam_auth_failure(service, kvs));
    }
    if body.starts_with("check pass; user unknown") {
        return Some(Fields::new(Action::InvalidUser, Outcome::Failure));
    }
    if let Some(r) = body.strip_prefix("session opened for user ") {
        return Some(session_opened(r));
    }
    if let Some(r) = body.strip_prefix("session closed for user ") {
        return Some(Fields::new(Action::SessionClosed, Outcome::Success).user(strip_uid(r)));
    }
    if let Some(r) = body.strip_prefix("password changed for ") {
        return Some(Fields::new(Action::PasswordChanged, Outcome::Success).user(r.trim()));
    }
    if let Some((n, r)) = count_prefix(body) {
        // `N more authentication failures; logname= ... rhost=A  user=U`
        let kvs = r.strip_prefix("more authentication failure")?;
        let mut f = pam_auth_failure(service, kvs);
        f.repeat = n;
        return Some(f);
    }
    if body.starts_with("service(") && contains_str(body, " ignoring max retries") {
        return Some(Fields::new(Action::MaxAuthAttempts, Outcome::Failure));
    }
    // pam_faillock: `Consecutive login failures for user U account
    // temporarily locked`.
    if let Some(r) = body.strip_prefix("Consecutive login failures for user ") {
        let user = r.strip_suffix(" account temporarily locked").unwrap_or(r);
        return Some(Fields::new(Action::AccountLocked, Outcome::Failure).user(user));
    }
    // pam_unix account checks: `account U has expired (account expired)`.
    if let Some(r) = body.strip_prefix("account ") {
        let (user, _) = split_str(r, " has expired")?;
        let mut f = Fields::new(Action::LoginRefused, Outcome::Failure).user(user);
        f.denied = true;
        return Some(f);
    }
    if let Some(r) = body.strip_prefix("bad username [") {
        return Some(Fields::new(Action::InvalidUser, Outcome::Failure).user(r.strip_suffix(']').unwrap_or(r)));
    }
    None
}

/// `logname=L uid=0 euid=0 tty=T ruser=R rhost=H  user=U`: a failed
/// password check; for su, a failed switch to U by R (or L).
fn pam_auth_failure<'a>(service: &str, kvs: &'a str) -> Fields<'a> {
    // `user=` comes last and may hold spaces.
    let user = find_str(kvs, " user=").map(|i| kvs[i + 6..].trim());
    let mut f = if is_su(service) {
        let by = kv(kvs, "ruser=")
            .filter(|s| !s.is_empty())
            .or_else(|| kv(kvs, "logname="));
        let mut f = Fields::new(Action::Su, Outcome::Failure);
        f.user = by;
        f.target_user = user;
        f
    } else {
        let mut f = Fields::new(Action::Authentication, Outcome::Failure).attempt(AttemptLine::Pam);
        f.user = user;
        f
    };
    f.source = kv(kvs, "rhost=");
    f
}

/// `X[(uid=N)] by [U][(uid=N)]`.
fn session_opened(r: &str) -> Fields<'_> {
    let (account, by) = match split_str(r, " by ") {
        Some((account, by)) => (strip_uid(account), strip_uid(by)),
        None => (strip_uid(r), ""),
    };
    let f = Fields::new(Action::SessionOpened, Outcome::Success);
    // `by LOGIN(uid=0)` names login itself, not a person.
    if by.is_empty() || by == "LOGIN" {
        f.user(account)
    } else {
        f.user(by).target(account)
    }
}

// ---------------------------------------------------------------- sshd
//
// Formats from OpenSSH's sources (auth.c `auth_log`, `auth_maxtries_exceeded`,
// `auth_root_allowed`, `allowed_user`, `getpwnamallow`; auth-pam.c; packet.c
// `sshpkt_vfatal`, `ssh_packet_disconnect`; sshd.c; kex.c) and their older
// variants. The user name is attacker-controlled and sits between trusted
// text, so addresses are taken at an anchored position, never by searching
// for the last ` from `.

fn sshd(m: &str) -> Option<Fields<'_>> {
    let m = m.strip_suffix("[preauth]").map_or(m, str::trim_end);
    if let Some(r) = m.strip_prefix("Failed ") {
        return attempt(r, Outcome::Failure);
    }
    if let Some(r) = m.strip_prefix("Accepted ") {
        return attempt(r, Outcome::Success);
    }
    if let Some(r) = m
        .strip_prefix("Invalid user ")
        .or_else(|| m.strip_prefix("Illegal user "))
    {
        // `Invalid user U from A port P`: ends at the port.
        let f = Fields::new(Action::InvalidUser, Outcome::Failure).attempt(AttemptLine::Opening);
        return Some(anchored_at_end(f, r));
    }
    if let Some(r) = m
        .strip_prefix("input_userauth_request: invalid user ")
        .or_else(|| m.strip_prefix("input_userauth_request: illegal user "))
    {
        // Repeats the `Invalid user` line of the same attempt.
        return Some(Fields::new(Action::InvalidUser, Outcome::Failure).user(r));
    }
    if let Some(r) = m.strip_prefix("User ") {
        return not_allowed(r);
    }
    if let Some(r) = m.strip_prefix("ROOT LOGIN REFUSED FROM ") {
        return Some(root_refused(r));
    }
    if let Some(r) = m.strip_prefix("PAM ") {
        return pam("sshd", r);
    }
    if let Some(r) = m.strip_prefix("Did not receive identification string from ") {
        return Some(Fields::new(Action::NoIdentification, Outcome::Failure).peer(r));
    }
    if let Some(r) = m.strip_prefix("reverse mapping checking getaddrinfo for ") {
        let f = Fields::new(Action::ReverseMappingFailed, Outcome::Unknown);
        let ip = split_str(r, " [")
            .and_then(|(_, r)| split_byte(r, b']'))
            .map(|(ip, _)| ip);
        return Some(match ip {
            Some(ip) => f.source(ip),
            None => f,
        });
    }
    if let Some(r) = m.strip_prefix("Address ") {
        if m.ends_with("POSSIBLE BREAK-IN ATTEMPT!") {
            let addr = before_byte(r, b' ');
            return Some(Fields::new(Action::ReverseMappingFailed, Outcome::Unknown).source(addr));
        }
        return None;
    }
    if let Some(r) = m.strip_prefix("Received disconnect from ") {
        return Some(received_disconnect(r));
    }
    if let Some(r) = m
        .strip_prefix("Connection closed by ")
        .or_else(|| m.strip_prefix("Disconnected from "))
        .or_else(|| m.strip_prefix("Connection reset by "))
    {
        return disconnect_peer(r);
    }
    if let Some(r) = m.strip_prefix("Disconnecting: Too many authentication failures") {
        let f = Fields::new(Action::MaxAuthAttempts, Outcome::Failure);
        return Some(match r.strip_prefix(" for ") {
            Some(user) => f.user(user.trim()),
            None => f,
        });
    }
    if let Some(r) = m.strip_prefix("Disconnecting ") {
        return disconnecting(r);
    }
    if let Some(r) = m.strip_prefix("Timeout before authentication for ") {
        return Some(preauth_timeout(r));
    }
    if let Some(r) = m.strip_prefix("fatal: ") {
        if let Some(r) = r.strip_prefix("Timeout before authentication for ") {
            return Some(preauth_timeout(r));
        }
        // Old sshd: `Read from socket failed: Connection reset by peer`, `Write
        // failed: Broken pipe`; the peer is not named.
        if r.starts_with("Read from socket failed: ") || r.starts_with("Write failed: ") {
            return Some(Fields::new(Action::Disconnect, Outcome::Unknown));
        }
        return protocol_error(r);
    }
    if let Some(r) = m.strip_prefix("error: ") {
        if let Some(r) = r.strip_prefix("maximum authentication attempts exceeded for ") {
            let f = Fields::new(Action::MaxAuthAttempts, Outcome::Failure);
            return Some(anchored_attempt(f, r));
        }
        if let Some(r) = r.strip_prefix("Received disconnect from ") {
            return Some(received_disconnect(r));
        }
        if let Some(r) = r.strip_prefix("PAM: ") {
            return pam_report(r);
        }
        return protocol_error(r);
    }
    if let Some(r) = m.strip_prefix("refused connect from ") {
        return Some(tcp_wrappers_refused(r));
    }
    protocol_error(m)
}

/// `METHOD for [invalid user ]U from A port P ssh2[: info]`.
fn attempt(r: &str, outcome: Outcome) -> Option<Fields<'_>> {
    let (method, r) = split_str_with(r, &FOR)?;
    if method.is_empty() || method.contains(' ') {
        return None;
    }
    let mut f = Fields::new(Action::Authentication, outcome).attempt(AttemptLine::Daemon);
    f.method = Some(auth_method(method));
    Some(anchored_attempt(f, r))
}

/// Where a ` from A port P[ sshN]` of an attempt line may start in `s`:
/// followed by an address (no spaces), ` port ` and digits, an optional
/// protocol, and then the end of the message or `: ` (sshd's extra info).
fn from_anchors(s: &str) -> impl Iterator<Item = Anchor<'_>> + '_ {
    FROM_FWD
        .find_iter(s.as_bytes())
        .map(|i| (i, i + 6))
        .chain(s.starts_with("from ").then_some((0, 5)))
        .filter_map(move |(user_end, at)| {
            let rest = &s[at..];
            let (addr, rest) = split_byte(rest, b' ')?;
            let rest = rest.strip_prefix("port ")?;
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let port = rest[..digits].parse::<u16>().ok()?;
            let mut tail = &rest[digits..];
            for proto in [" ssh2", " ssh1"] {
                if let Some(t) = tail.strip_prefix(proto) {
                    tail = t;
                    break;
                }
            }
            let at_end = tail.is_empty();
            (!addr.is_empty() && (at_end || tail.starts_with(": "))).then_some(Anchor {
                user_end,
                addr,
                port,
                at_end,
            })
        })
}

/// One place where the source of an sshd line may be.
#[derive(Debug, Clone, Copy)]
struct Anchor<'a> {
    /// Where the user name before it ends.
    user_end: usize,
    addr: &'a str,
    port: u16,
    /// Nothing follows the port (and protocol).
    at_end: bool,
}

/// `[invalid user ]U from A port P[ sshN][: info]`, the tail of `Failed` /
/// `Accepted` and `maximum authentication attempts exceeded` lines.
///
/// U is the name the client sent, and may itself hold text shaped like the
/// rest; the info after the port (a certificate id, ssh1's remote user) may
/// too. With two anchors either may be real: the first is taken and the
/// source marked unreliable (fail2ban refuses such lines). Lines with no
/// anchor keep the user and have no source.
fn anchored_attempt<'a>(mut f: Fields<'a>, s: &'a str) -> Fields<'a> {
    let (invalid, s) = invalid_prefix(s);
    f.user_invalid |= invalid;
    let mut anchors = from_anchors(s);
    let Some(first) = anchors.next() else {
        // Old sshd: `... for U from A` without a port, at the end.
        return old_from_at_end(f, s);
    };
    f.unreliable = anchors.next().is_some();
    f.user = Some(&s[..first.user_end]);
    f.source = Some(first.addr);
    f.port = Some(first.port);
    f
}

/// `U from A port P` (or `U from A`) that must end the message: nothing an
/// attacker writes can follow it, so the last ` from ` is the anchor.
fn anchored_at_end<'a>(mut f: Fields<'a>, s: &'a str) -> Fields<'a> {
    if let Some(a) = from_anchors(s).find(|a| a.at_end) {
        f.user = Some(&s[..a.user_end]);
        f.source = Some(a.addr);
        f.port = Some(a.port);
        return f;
    }
    old_from_at_end(f, s)
}

/// `U from A` ending the message (old sshd, or a line cut inside ` port N
/// ssh2`), A without spaces; else all of it is U.
fn old_from_at_end<'a>(mut f: Fields<'a>, s: &'a str) -> Fields<'a> {
    if let Some(i) = FROM.rfind(s.as_bytes()) {
        let rest = &s[i + 6..];
        let (addr, tail) = match split_byte(rest, b' ') {
            Some((addr, tail)) => (addr, Some(tail)),
            None => (rest, None),
        };
        if !addr.is_empty() && tail.is_none_or(is_cut_port_tail) {
            f.user = Some(&s[..i]);
            f.source = Some(addr);
            f.port = tail.and_then(|t| t.strip_prefix("port ")).and_then(leading_u16);
            return f;
        }
    }
    f.user = Some(s);
    f
}

/// The start of `port N ssh2`, cut anywhere.
fn is_cut_port_tail(t: &str) -> bool {
    let Some(r) = t.strip_prefix("port ") else {
        return "port ".starts_with(t);
    };
    let digits = r.bytes().take_while(u8::is_ascii_digit).count();
    let r = &r[digits..];
    r.is_empty() || (digits > 0 && " ssh2".starts_with(r))
}

/// `U from A not allowed because REASON` and `U not allowed because REASON`
/// (account locked, shell missing): the account exists, so U has no spaces.
fn not_allowed(r: &str) -> Option<Fields<'_>> {
    let (who, reason) = rsplit_str(r, " not allowed because ")?;
    if reason.is_empty() {
        return None;
    }
    let mut f = Fields::new(Action::LoginRefused, Outcome::Failure).attempt(AttemptLine::Opening);
    f.denied = true;
    Some(match split_str(who, " from ") {
        Some((user, host)) => f.user(user).source(host),
        None => f.user(who),
    })
}

/// `A[ port P]` after `ROOT LOGIN REFUSED FROM `.
fn root_refused(r: &str) -> Fields<'_> {
    let mut f = Fields::new(Action::LoginRefused, Outcome::Failure)
        .attempt(AttemptLine::Opening)
        .user("root")
        .peer(r.trim());
    f.denied = true;
    f
}

/// sshd's report of a PAM verdict: `Authentication failure for [illegal
/// user ]U from A[ via L]` (and `authentication error`, `User not known to
/// the underlying authentication module`); L is the local address.
fn pam_report(r: &str) -> Option<Fields<'_>> {
    let (_, rest) = split_str_with(r, &FOR)?;
    let f = Fields::new(Action::Authentication, Outcome::Failure).attempt(AttemptLine::DaemonPam);
    let rest = match rfind_str(rest, " via ") {
        Some(i) if !rest[i + 5..].contains(' ') => &rest[..i],
        _ => rest,
    };
    let (invalid, rest) = invalid_prefix(rest);
    let mut f = old_from_at_end(f, rest);
    f.user_invalid |= invalid;
    Some(f)
}

/// `A port P:CODE: text` or the older `A: CODE: text`; the text is the
/// client's. A client that says its authentication failed (`Auth fail`) ends
/// an attempt; `No supported authentication methods available` is a probe.
fn received_disconnect(r: &str) -> Fields<'_> {
    let mut f = Fields::new(Action::Disconnect, Outcome::Unknown);
    let (token, rest) = split_byte(r, b' ').unwrap_or((r, ""));
    let text = match token.strip_suffix(':') {
        Some(addr) => {
            f = f.source(addr);
            rest
        }
        None => {
            f = f.source(token);
            let after_port = rest.strip_prefix("port ").unwrap_or(rest);
            f.port = leading_u16(after_port);
            split_byte(after_port, b':').map_or("", |(_, t)| t)
        }
    };
    if contains_str(text, "Auth fail") || contains_str(text, "Auth cancel") {
        f.attempt = AttemptLine::Closing;
    }
    f
}

/// `[authenticating user U |invalid user U |user U ]A[ port P]`, the
/// connection id of packet.c; U is the client's, so A is taken from the end.
fn disconnect_peer(r: &str) -> Option<Fields<'_>> {
    let mut f = Fields::new(Action::Disconnect, Outcome::Unknown);
    let (who, r) = if let Some(r) = r.strip_prefix("invalid user ") {
        f.user_invalid = true;
        f.attempt = AttemptLine::Closing;
        (true, r)
    } else if let Some(r) = r.strip_prefix("authenticating user ") {
        f.attempt = AttemptLine::Closing;
        (true, r)
    } else if let Some(r) = r.strip_prefix("user ") {
        (true, r)
    } else {
        (false, r)
    };
    let r = r.trim_end();
    let (head, port) = match rfind_str(r, " port ") {
        Some(i) if r[i + 6..].bytes().all(|b| b.is_ascii_digit()) && i + 6 < r.len() => {
            (&r[..i], leading_u16(&r[i + 6..]))
        }
        _ => (r, None),
    };
    let addr = if who {
        let (user, addr) = rsplit_byte(head, b' ').unwrap_or(("", head));
        f.user = Some(user);
        addr
    } else {
        if head.contains(' ') {
            return None;
        }
        head
    };
    // `Connection reset by peer` names no one.
    if addr == "peer" || addr.is_empty() {
        return None;
    }
    f.source = Some(addr);
    f.port = port;
    Some(f)
}

/// `ID: REASON` from `ssh_packet_disconnect`: `invalid user U A port P: Too
/// many authentication failures`, `... : Change of username or service not
/// allowed: (a,ssh-connection) -> (b,ssh-connection)`. The reason is the
/// server's text and may quote user names; the id ends at the first `: `
/// after ` port N`.
fn disconnecting(r: &str) -> Option<Fields<'_>> {
    let mut cuts = memmem::find_iter(r.as_bytes(), b": ").filter(|&i| {
        let head = &r[..i];
        rsplit_str(head, " port ").is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let cut = cuts.next()?;
    let ambiguous = cuts.next().is_some();
    let (who, reason) = (&r[..cut], &r[cut + 2..]);
    let mut f = disconnect_peer(who)?;
    f.unreliable = ambiguous;
    if reason.starts_with("Too many authentication failures") {
        f.action = Action::MaxAuthAttempts;
        f.outcome = Outcome::Failure;
        f.attempt = AttemptLine::None;
    }
    Some(f)
}

/// `A[ port P][, pid = N]` (new sshd) or `A` (old `fatal:` form).
fn preauth_timeout(r: &str) -> Fields<'_> {
    let r = split_str(r, ", pid = ").map_or(r, |(a, _)| a);
    Fields::new(Action::PreauthTimeout, Outcome::Failure).peer(r.trim())
}

/// Pre-authentication protocol failures: identification and banner exchange,
/// key-exchange negotiation, MAC and packet errors. Most name the peer as
/// `Connection from A port P` or `with A port P`; `kex_exchange_identification`
/// lines name none (the next line of the connection does).
fn protocol_error(m: &str) -> Option<Fields<'_>> {
    let f = || Fields::new(Action::ProtocolError, Outcome::Failure);
    if let Some(r) = m.strip_prefix("Unable to negotiate with ") {
        // `A port P: no matching ... found. Their offer: ...` (the offer is the client's).
        return Some(f().peer(r));
    }
    if let Some(r) = m.strip_prefix("Bad protocol version identification ") {
        // `'ID' from A port P`: ID is the client's, the peer ends the line;
        // the anchor's text before ` from ` is the ID, not a user.
        let mut f = anchored_at_end(f(), r);
        f.user = None;
        return Some(f);
    }
    if m.starts_with("kex_exchange_identification: ") {
        return Some(f());
    }
    if m.starts_with("banner exchange: ")
        || m.starts_with("ssh_dispatch_run_fatal: ")
        || m.starts_with("kex_protocol_error: ")
        || m.starts_with("Protocol major versions differ")
        || m.starts_with("Bad packet length")
        || m.starts_with("Corrupted MAC on input")
        || m.starts_with("padding error")
        || m.starts_with("Bad remote protocol version identification")
        || m.starts_with("dispatch_protocol_error")
        || m.starts_with("kex_input_kexinit")
    {
        let peer = split_str(m, "Connection from ").map(|(_, r)| r);
        return Some(match peer {
            Some(r) => f().peer(r),
            None => f(),
        });
    }
    if let Some(r) = m.strip_prefix("Connection from ") {
        // `Connection from A port P: ...` after a failed operation; the plain
        // `Connection from A port P on L port Q` is a connection opening.
        let (id, _) = split_str(r, ": ")?;
        if contains_str(id, " on ") {
            return None;
        }
        return Some(f().peer(id));
    }
    None
}

/// TCP wrappers: `refused connect from NAME (A)` or `refused connect from A`.
fn tcp_wrappers_refused(r: &str) -> Fields<'_> {
    let r = r.trim();
    let addr = match r.strip_suffix(')').and_then(|h| rsplit_str(h, " (")) {
        Some((_, addr)) => addr,
        None => before_byte(r, b' '),
    };
    Fields::new(Action::LoginRefused, Outcome::Failure).source(addr)
}

// ---------------------------------------------------------------- sudo

/// `U : TTY=pts/0 ; PWD=/x ; USER=root ; COMMAND=/bin/ls`, with a problem
/// (`3 incorrect password attempts`, `user NOT in sudoers`) before the
/// fields when sudo refused.
fn sudo(m: &str) -> Option<Fields<'_>> {
    let (user, rest) = split_str(m, " : ")?;
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return None;
    }
    let mut f = Fields::new(Action::Sudo, Outcome::Success).user(user);
    let mut s = rest.trim_start();
    let mut any = false;
    loop {
        if let Some(command) = s.strip_prefix("COMMAND=") {
            f.command = Some(command.trim());
            any = true;
            break;
        }
        let (item, next) = split_str(s, " ; ").unwrap_or((s, ""));
        if let Some(target) = item.strip_prefix("USER=") {
            f.target_user = Some(target);
            any = true;
        } else if is_sudo_key(item) {
            any = true;
        } else if let Some((n, _)) = count_prefix(item).filter(|(_, r)| r.starts_with("incorrect password attempt")) {
            f.outcome = Outcome::Failure;
            f.repeat = n.max(1);
        } else if SUDO_REFUSALS.iter().any(|p| item.contains(p)) {
            f.outcome = Outcome::Failure;
            f.denied = !contains_str(item, "authentication failure");
        } else {
            return None;
        }
        if next.is_empty() {
            break;
        }
        s = next;
    }
    any.then_some(f)
}

const SUDO_REFUSALS: [&str; 6] = [
    "NOT in sudoers",
    "command not allowed",
    "a password is required",
    "NOT authorized on host",
    "authentication failure",
    "not allowed to",
];

/// `TTY=...`, `PWD=...`: an upper-case key and `=`.
fn is_sudo_key(item: &str) -> bool {
    split_byte(item, b'=').is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
}

// ---------------------------------------------------------------- su

fn su(m: &str) -> Option<Fields<'_>> {
    let ok = || Fields::new(Action::Su, Outcome::Success);
    let failed = || Fields::new(Action::Su, Outcome::Failure);
    // shadow-utils: `Successful su for X by U`, `FAILED su for X by U`.
    if let Some(r) = m.strip_prefix("Successful su for ") {
        let (target, by) = split_str(r, " by ")?;
        return Some(ok().user(by.trim()).target(target));
    }
    if let Some(r) = m.strip_prefix("FAILED su for ") {
        let (target, by) = split_str(r, " by ")?;
        return Some(failed().user(by.trim()).target(target));
    }
    // shadow-utils: `+ pts/0 U:X` (success), `- pts/0 U:X` (failure); old
    // versions write `U-X`.
    if let Some((sign, r)) = m.split_at_checked(2).filter(|(s, _)| *s == "+ " || *s == "- ") {
        let (_tty, pair) = split_byte(r, b' ')?;
        let (user, target) = split_byte(pair, b':').or_else(|| rsplit_byte(pair, b'-'))?;
        let f = if sign == "+ " { ok() } else { failed() };
        return Some(f.user(user).target(target.trim()));
    }
    // util-linux: `(to X) U on TTY`, `FAILED SU (to X) U on TTY`.
    let (f, r) = match m.strip_prefix("FAILED SU ") {
        Some(r) => (failed(), r),
        None => (ok(), m),
    };
    if let Some(r) = r.strip_prefix("(to ") {
        let (target, r) = split_str(r, ") ")?;
        let user = r.split(" on ").next().unwrap_or(r);
        return Some(f.user(user).target(target));
    }
    if let Some(r) = m.strip_prefix("BAD SU ") {
        let (user, r) = split_str(r, " to ")?;
        let target = r.split(" on ").next().unwrap_or(r);
        return Some(failed().user(user).target(target));
    }
    if let Some(target) = m.strip_prefix("Authentication failed for ") {
        return Some(failed().target(target.trim()));
    }
    // Old BSD/SunOS su: `failed: TTY changing from U to X` (`succeeded:`
    // on success), `BAD su U on TTY`, and the success `U to X on TTY`.
    for (prefix, f) in [("failed: ", failed()), ("succeeded: ", ok())] {
        if let Some(r) = m.strip_prefix(prefix) {
            let (_, r) = split_str(r, " changing from ")?;
            let (user, target) = split_str(r, " to ")?;
            return Some(f.user(user).target(target.trim()));
        }
    }
    if let Some(r) = m.strip_prefix("BAD su ") {
        let (user, _) = split_str(r, " on ")?;
        return Some(failed().user(user));
    }
    let (user, r) = split_str(m, " to ")?;
    let (target, tty) = split_str(r, " on ")?;
    (!user.contains(' ') && !target.contains(' ') && tty.starts_with("/dev/")).then(|| ok().user(user).target(target))
}

// ---------------------------------------------------------------- login

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).unwrap_or(s)
}

/// The remote host in ` FROM host` / ` FROM 'host'`, unless `(null)`.
fn login_from(s: &str) -> Option<&str> {
    let i = find_str(s, " FROM ").or_else(|| find_str(s, " from "))?;
    let host = unquote(s[i + 6..].split([' ', ',']).next().unwrap_or(""));
    (host != "(null)").then_some(host)
}

/// The user in ` FOR U, reason` / ` FOR 'U', reason`.
fn login_for(s: &str) -> Option<&str> {
    let i = find_str(s, " FOR ")?;
    let r = &s[i + 5..];
    Some(unquote(rsplit_str(r, ", ").map_or(r, |(u, _)| u)))
}

/// login(1): `ROOT LOGIN ON tty2`, `LOGIN ON tty1 BY U`, `FAILED LOGIN 1
/// FROM (null) FOR U, Authentication failure`, `FAILED LOGIN (1) on
/// '/dev/tty1' FOR 'U', ...`, `TOO MANY LOGIN TRIES (5) ...`, BSD `1 LOGIN
/// FAILURE ON ttyv0, U`.
fn login<'a>(m: &'a str) -> Option<Fields<'a>> {
    let with_from = |mut f: Fields<'a>| {
        f.source = login_from(m);
        f
    };
    if let Some(r) = m.strip_prefix("ROOT LOGIN REFUSED") {
        // login(1) `ROOT LOGIN REFUSED ON tty1 [FROM host]`, old sshd `... FROM A`.
        let mut f = Fields::new(Action::LoginRefused, Outcome::Failure)
            .attempt(AttemptLine::Opening)
            .user("root");
        f.denied = true;
        f.source = login_from(r).or_else(|| r.trim().strip_prefix("FROM ").map(|a| before_byte(a, b' ')));
        return Some(f);
    }
    if m.starts_with("ROOT LOGIN ") {
        return Some(with_from(
            Fields::new(Action::Authentication, Outcome::Success).user("root"),
        ));
    }
    if let Some(r) = m.strip_prefix("LOGIN ON ") {
        let (_, by) = split_str(r, " BY ")?;
        let user = unquote(by.split(" FROM ").next().unwrap_or(by));
        return Some(with_from(
            Fields::new(Action::Authentication, Outcome::Success).user(user),
        ));
    }
    let action = if m.starts_with("FAILED LOGIN ") {
        Action::Authentication
    } else if m.starts_with("TOO MANY LOGIN TRIES ") {
        Action::MaxAuthAttempts
    } else if count_prefix(m).is_some_and(|(_, r)| r.starts_with("LOGIN FAILURE")) {
        // BSD: the user, when given, follows the last comma.
        let mut f = with_from(Fields::new(Action::Authentication, Outcome::Failure));
        f.user = rsplit_str(m, ", ").map(|(_, u)| u.trim());
        return Some(f);
    } else {
        return None;
    };
    let mut f = with_from(Fields::new(action, Outcome::Failure));
    f.user = login_for(m);
    Some(f)
}

// ---------------------------------------------------------------- accounts

/// The value of `name=` up to the next comma.
fn name_value(s: &str) -> Option<&str> {
    let v = s.trim_start().strip_prefix("name=")?;
    Some(before_byte(v, b',').trim())
}

/// shadow-utils account and group changes.
fn account(m: &str) -> Option<Fields<'_>> {
    let done = |action| Fields::new(action, Outcome::Success);
    if let Some(r) = m.strip_prefix("new user:") {
        return Some(done(Action::UserCreated).user(name_value(r)?));
    }
    if let Some(r) = m.strip_prefix("new group:") {
        return Some(done(Action::GroupChanged).target(name_value(r)?));
    }
    if let Some(r) = m.strip_prefix("group added to ") {
        let (_, r) = split_str(r, ": ")?;
        return Some(done(Action::GroupChanged).target(name_value(r)?));
    }
    // `add 'U' to [shadow ]group 'G'`, `delete 'U' from [shadow ]group 'G'`.
    if let Some(r) = m.strip_prefix("add ").or_else(|| m.strip_prefix("delete ")) {
        if let Some((user, r)) = quoted(r) {
            let r = r.trim_start();
            let r = r.strip_prefix("to ").or_else(|| r.strip_prefix("from "))?;
            let r = r.strip_prefix("shadow ").unwrap_or(r).strip_prefix("group ")?;
            let (group, _) = quoted(r)?;
            return Some(done(Action::UserModified).user(user).target(group));
        }
    }
    if let Some(r) = m.strip_prefix("delete user ") {
        return Some(done(Action::UserDeleted).user(quoted(r)?.0));
    }
    if let Some(r) = m.strip_prefix("change user name ") {
        // `change user name 'old' to 'new'`: the new name is the target.
        let (old, r) = quoted(r)?;
        let new = r.trim_start().strip_prefix("to ").and_then(quoted).map(|(n, _)| n);
        let mut f = done(Action::UserModified).user(old);
        f.target_user = new;
        return Some(f);
    }
    if let Some(r) = m
        .strip_prefix("change user ")
        .or_else(|| m.strip_prefix("lock user "))
        .or_else(|| m.strip_prefix("unlock user "))
    {
        let (user, r) = quoted(r)?;
        let action = if m.starts_with("change user ") && r.trim() == "password" {
            Action::PasswordChanged
        } else {
            Action::UserModified
        };
        return Some(done(action).user(user));
    }
    if let Some(r) = m.strip_prefix("password for ") {
        // passwd: `password for 'U' changed by 'root'`.
        let (user, r) = quoted(r)?;
        return r
            .trim_start()
            .starts_with("changed")
            .then(|| done(Action::PasswordChanged).user(user));
    }
    if let Some(r) = m.strip_prefix("password changed for ") {
        return Some(done(Action::PasswordChanged).user(r.trim()));
    }
    if let Some(r) = m.strip_prefix("changed password expiry for ") {
        return Some(done(Action::UserModified).user(r.trim()));
    }
    // gpasswd: `user U added by A to group G`, `user U removed by A from group G`.
    if let Some(r) = m.strip_prefix("user ") {
        let (user, r) = split_byte(r, b' ')?;
        let (_, group) = split_str(r, " to group ").or_else(|| split_str(r, " from group "))?;
        return Some(done(Action::UserModified).user(user).target(group.trim()));
    }
    // `remove group 'G'`, `removed group 'G' owned by 'U'`, `removed shadow
    // group 'G' owned by 'U'`, `group 'G' removed[ from /etc/group]`.
    let removed = m
        .strip_prefix("remove group ")
        .or_else(|| m.strip_prefix("removed group "))
        .or_else(|| m.strip_prefix("removed shadow group "))
        .or_else(|| m.strip_prefix("group ").filter(|r| contains_str(r, " removed")));
    if let Some(r) = removed {
        return Some(done(Action::GroupChanged).target(quoted(r)?.0));
    }
    None
}

// ---------------------------------------------------------------- others

/// `ANONYMOUS FTP LOGIN FROM A, NAME (password)` (loghub) or `... FROM NAME
/// [A], password` (wu-ftpd); `FTP LOGIN FROM NAME [A], U`.
fn ftpd(m: &str) -> Option<Fields<'_>> {
    let (anonymous, r) = match m.strip_prefix("ANONYMOUS FTP LOGIN FROM ") {
        Some(r) => (true, r),
        None => (false, m.strip_prefix("FTP LOGIN FROM ")?),
    };
    let end = r.find([',', ' ']).unwrap_or(r.len());
    let (name, after) = r.split_at(end);
    let ip = after
        .strip_prefix(" [")
        .and_then(|a| split_byte(a, b']'))
        .map(|(ip, _)| ip);
    let user = if anonymous {
        "anonymous"
    } else {
        rsplit_str(r, ", ").map(|(_, u)| u.trim())?
    };
    Some(
        Fields::new(Action::Authentication, Outcome::Success)
            .user(user)
            .source(ip.unwrap_or(name)),
    )
}

/// `Authentication failed from A (NAME): reason`. The `Kerberos
/// authentication failed` line that follows repeats it and is not decoded.
fn klogind(m: &str) -> Option<Fields<'_>> {
    let r = m.strip_prefix("Authentication failed from ")?;
    let mut f = Fields::new(Action::Authentication, Outcome::Failure).peer(r);
    f.port = None;
    f.method = Some(AuthMethod::Kerberos);
    Some(f)
}

/// `New session N of user U.`, `Removed session N.`
fn logind(m: &str) -> Option<Fields<'_>> {
    if let Some(r) = m.strip_prefix("New session ") {
        let (_, user) = split_str(r, " of user ")?;
        let user = user.strip_suffix('.').unwrap_or(user);
        return Some(Fields::new(Action::SessionOpened, Outcome::Success).user(user));
    }
    m.starts_with("Removed session ")
        .then(|| Fields::new(Action::SessionClosed, Outcome::Success))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memchr_splits_agree_with_the_standard_library() {
        let texts = [
            "",
            " ",
            "for",
            " for ",
            "password for root from 1.2.3.4 port 22 ssh2",
            "a for  for b from c from d",
            "pam_unix(sshd:session): x): y",
            "héllo wörld ; ü : ß",
            "a b",
            "trailing ",
        ];
        for t in texts {
            for pat in [" for ", " from ", " port ", "): ", " ; ", " : ", "ö", "a"] {
                assert_eq!(split_str(t, pat), t.split_once(pat), "{t:?} {pat:?}");
                assert_eq!(rsplit_str(t, pat), t.rsplit_once(pat), "{t:?} {pat:?}");
                assert_eq!(contains_str(t, pat), t.contains(pat));
                assert_eq!(rfind_str(t, pat), t.rfind(pat));
            }
            assert_eq!(split_str_with(t, &FOR), t.split_once(" for "));
            assert_eq!(split_str_with(t, &TAG_END), t.split_once("): "));
            assert_eq!(FROM.rfind(t.as_bytes()), t.rfind(" from "));
            for b in [b' ', b'(', b':', b'/'] {
                let c = char::from(b);
                assert_eq!(split_byte(t, b), t.split_once(c));
                assert_eq!(rsplit_byte(t, b), t.rsplit_once(c));
                assert_eq!(before_byte(t, b), t.split(c).next().unwrap_or(t));
            }
        }
    }

    fn evidence(raw: &str) -> Evidence<'_> {
        Evidence {
            file: 0,
            line: 1,
            raw: Cow::Borrowed(raw),
        }
    }

    fn dec<'a>(program: &'a str, m: &'a str) -> Decoded<'a> {
        decode_message(0, Some("h"), program, Some(7), m, evidence(m))
    }

    fn ev<'a>(program: &'a str, m: &'a str) -> Event<'a> {
        dec(program, m).unwrap_or_else(|s| panic!("{program}: {m:?}: {s:?}"))
    }

    fn unrecognized(program: &str, m: &str) {
        let s = dec(program, m).expect_err(m);
        assert_eq!(s.reason, SkipReason::Unrecognized, "{m}");
        assert_eq!(s.program.as_deref(), (!program.is_empty()).then_some(program), "{m}");
    }

    /// (action, outcome, user, source, port)
    type Summary<'a> = (Action, Outcome, Option<&'a str>, Option<&'a str>, Option<u16>);

    fn summary<'a>(e: &'a Event<'a>) -> Summary<'a> {
        (
            e.action,
            e.outcome,
            e.user.as_deref(),
            e.source_address.as_deref(),
            e.source_port,
        )
    }

    use Action::*;
    use Outcome::{Failure, Success, Unknown};

    #[test]
    fn event_carries_header_fields() {
        let e = ev("sshd", "Failed password for root from 203.0.113.9 port 4711 ssh2");
        assert_eq!(e.host.as_deref(), Some("h"));
        assert_eq!(e.program.as_deref(), Some("sshd"));
        assert_eq!(e.pid, Some(7));
        assert_eq!(e.repeat, 1);
        assert_eq!(e.source_ip, Some("203.0.113.9".parse().unwrap()));
        assert!(matches!(e.user, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn sshd_accepted() {
        for (m, method, user, src, port) in [
            (
                "Accepted password for bob from 10.0.0.1 port 22 ssh2",
                AuthMethod::Password,
                "bob",
                "10.0.0.1",
                22,
            ),
            (
                "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99:e9:a0:dc:f2:33",
                AuthMethod::Publickey,
                "vagrant",
                "10.0.2.2",
                63673,
            ),
            (
                "Accepted keyboard-interactive/pam for al from 2001:db8::1 port 5 ssh2",
                AuthMethod::KeyboardInteractive,
                "al",
                "2001:db8::1",
                5,
            ),
            (
                "Accepted gssapi-with-mic for k from h.example port 6 ssh2",
                AuthMethod::Kerberos,
                "k",
                "h.example",
                6,
            ),
            (
                "Accepted hostbased for k from 1.2.3.4 port 6 ssh2",
                AuthMethod::Other,
                "k",
                "1.2.3.4",
                6,
            ),
        ] {
            let e = ev("sshd", m);
            assert_eq!(
                summary(&e),
                (Authentication, Success, Some(user), Some(src), Some(port)),
                "{m}"
            );
            assert_eq!(e.auth_method, Some(method), "{m}");
            assert!(!e.user_invalid);
        }
    }

    #[test]
    fn sshd_failed() {
        let e = ev(
            "sshd",
            "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("admin"), Some("1.2.3.4"), Some(22))
        );
        assert!(e.user_invalid);
        let e = ev(
            "sshd",
            "Failed none for invalid user 0 from 5.188.10.180 port 49811 ssh2",
        );
        assert_eq!(e.auth_method, Some(AuthMethod::None));
        assert_eq!(e.user.as_deref(), Some("0"));
        let e = ev(
            "sshd",
            "Failed publickey for root from 1.2.3.4 port 22 ssh2: RSA SHA256:abc",
        );
        assert_eq!(e.auth_method, Some(AuthMethod::Publickey));
        let e = ev(
            "sshd-session",
            "Failed keyboard-interactive/pam for bob from 1.2.3.4 port 2 ssh2 [preauth]",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("bob"), Some("1.2.3.4"), Some(2))
        );
        // User names with spaces, leading spaces, or none at all.
        let e = ev(
            "sshd",
            "Failed password for invalid user  0101 from 5.188.10.180 port 36279 ssh2",
        );
        assert_eq!(e.user.as_deref(), Some(" 0101"));
        let e = ev(
            "sshd",
            "Failed password for invalid user john from smith from 1.2.3.4 port 22 ssh2",
        );
        assert_eq!(
            (e.user.as_deref(), e.source_address.as_deref()),
            (Some("john from smith"), Some("1.2.3.4"))
        );
        let e = ev("sshd", "Failed password for invalid user  from 1.2.3.4 port 22 ssh2");
        assert_eq!(
            (e.user, e.source_address.as_deref(), e.user_invalid),
            (None, Some("1.2.3.4"), true)
        );
        let e = ev("sshd", "Failed password for invalid user from 1.2.3.4 port 22 ssh2");
        assert_eq!((e.user, e.source_address.as_deref()), (None, Some("1.2.3.4")));
        // IPv6 and host names.
        let e = ev("sshd", "Failed password for root from 2001:db8::1 port 22 ssh2");
        assert_eq!(e.source_ip, Some("2001:db8::1".parse().unwrap()));
        let e = ev("sshd", "Failed password for root from fe80::1%eth0 port 22 ssh2");
        assert_eq!(e.source_ip, Some("fe80::1".parse().unwrap()));
        let e = ev("sshd", "Failed password for root from host.example.org port 22 ssh2");
        assert_eq!(
            (e.source_address.as_deref(), e.source_ip),
            (Some("host.example.org"), None)
        );
        // Cut mid-message: decode what is there.
        let e = ev("sshd", "Failed password for root from 1.2.3.4 po");
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("root"), Some("1.2.3.4"), None)
        );
        let e = ev("sshd", "Failed password for roo");
        assert_eq!(summary(&e), (Authentication, Failure, Some("roo"), None, None));
        unrecognized("sshd", "Failed to release session");
    }

    #[test]
    fn sshd_repeated() {
        let e = ev(
            "sshd",
            "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("root"), Some("5.36.59.76"), Some(42393))
        );
        assert_eq!(e.repeat, 5);
        let e = ev(
            "sshd",
            "message repeated 2 times: [ Failed password for root from 5.36.59.76 port 42393 ssh",
        );
        assert_eq!(e.repeat, 2);
        unrecognized(
            "sshd",
            "message repeated 2 times: [ Server listening on 0.0.0.0 port 22.]",
        );
        unrecognized(
            "sshd",
            "message repeated 2 times: [ message repeated 3 times: [ Failed password for a from b]]",
        );
        unrecognized(
            "sshd",
            "message repeated x times: [ Failed password for root from 1.2.3.4 port 1 ssh2]",
        );
    }

    #[test]
    fn sshd_invalid_user() {
        let e = ev("sshd", "Invalid user webmaster from 173.234.31.186");
        assert_eq!(
            summary(&e),
            (InvalidUser, Failure, Some("webmaster"), Some("173.234.31.186"), None)
        );
        assert!(e.user_invalid);
        let e = ev("sshd", "Invalid user test from 10.0.0.1 port 51234");
        assert_eq!(
            summary(&e),
            (InvalidUser, Failure, Some("test"), Some("10.0.0.1"), Some(51234))
        );
        let e = ev("sshd", "Illegal user dcid from 192.168.1.2");
        assert_eq!(
            summary(&e),
            (InvalidUser, Failure, Some("dcid"), Some("192.168.1.2"), None)
        );
        let e = ev("sshd", "input_userauth_request: invalid user webmaster [preauth]");
        assert_eq!(summary(&e), (InvalidUser, Failure, Some("webmaster"), None, None));
        assert!(e.user_invalid);
        let e = ev("sshd", "pam_unix(sshd:auth): check pass; user unknown");
        assert_eq!(summary(&e), (InvalidUser, Failure, None, None, None));
        let e = ev("sshd(pam_unix)", "check pass; user unknown");
        assert_eq!((e.action, e.outcome, e.user_invalid), (InvalidUser, Failure, true));
        let e = ev("unix_chkpwd", "check pass; user unknown");
        assert_eq!(e.action, InvalidUser);
    }

    #[test]
    fn pam_authentication_failures() {
        let e = ev(
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, None, Some("173.234.31.186"), None)
        );
        let e = ev("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root");
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("root"), Some("112.95.230.3"), None)
        );
        let e = ev(
            "sshd(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
        );
        assert_eq!(summary(&e), (Authentication, Failure, None, Some("218.188.2.4"), None));
        let e = ev(
            "ftpd",
            "pam_unix(ftpd:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=1.2.3.4 user=ftp",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("ftp"), Some("1.2.3.4"), None)
        );
        let e = ev(
            "gdm(pam_unix)",
            "authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=",
        );
        assert_eq!(summary(&e), (Authentication, Failure, None, None, None));
        let e = ev(
            "login(pam_unix)",
            "authentication failure; logname=LOGIN uid=0 euid=0 tty=tty2 ruser= rhost=  user=root",
        );
        assert_eq!(summary(&e), (Authentication, Failure, Some("root"), None, None));
        // sudo keeps Authentication; su becomes a failed switch.
        let e = ev("sudo", "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob");
        assert_eq!(summary(&e), (Authentication, Failure, Some("bob"), None, None));
        assert_eq!(e.program.as_deref(), Some("sudo"));
        let e = ev("su", "pam_unix(su:auth): authentication failure; logname=dcid uid=1342 euid=0 tty=pts/1 ruser=dcid rhost=  user=root");
        assert_eq!(summary(&e), (Su, Failure, Some("dcid"), None, None));
        assert_eq!(e.target_user.as_deref(), Some("root"));
        let e = ev(
            "su(pam_unix)",
            "authentication failure; logname= uid=1342 euid=0 tty= ruser=dcid rhost=  user=osaudit",
        );
        assert_eq!(
            (e.action, e.user.as_deref(), e.target_user.as_deref()),
            (Su, Some("dcid"), Some("osaudit"))
        );
    }

    #[test]
    fn pam_more_failures_and_max_retries() {
        let e = ev("sshd", "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root");
        assert_eq!(
            summary(&e),
            (
                Authentication,
                Failure,
                Some("root"),
                Some("5.36.59.76.dynamic-dsl-ip.omantel.net.om"),
                None
            )
        );
        assert_eq!(e.repeat, 5);
        let e = ev(
            "sshd",
            "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4",
        );
        assert_eq!(
            (e.action, e.repeat, e.source_address.as_deref()),
            (Authentication, 1, Some("1.2.3.4"))
        );
        let e = ev(
            "sshd(pam_unix)",
            "2 more authentication failures; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4  user=root",
        );
        assert_eq!((e.action, e.repeat), (Authentication, 2));
        let e = ev("sshd", "PAM service(sshd) ignoring max retries; 6 > 3");
        assert_eq!(summary(&e), (MaxAuthAttempts, Failure, None, None, None));
        let e = ev("sshd(pam_unix)", "service(sshd) ignoring max retries; 6 > 3");
        assert_eq!(e.action, MaxAuthAttempts);
        unrecognized("sshd", "PAM adding faulty module: /lib/security/pam_x.so");
    }

    #[test]
    fn sshd_max_attempts() {
        let e = ev(
            "sshd",
            "error: maximum authentication attempts exceeded for invalid user ad from 1.2.3.4 port 5 ssh2 [preauth]",
        );
        assert_eq!(
            summary(&e),
            (MaxAuthAttempts, Failure, Some("ad"), Some("1.2.3.4"), Some(5))
        );
        assert!(e.user_invalid);
        let e = ev(
            "sshd",
            "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 5 ssh2 [preauth]",
        );
        assert_eq!((e.user.as_deref(), e.user_invalid), (Some("root"), false));
        let e = ev(
            "sshd",
            "Disconnecting: Too many authentication failures for admin [preauth]",
        );
        assert_eq!(summary(&e), (MaxAuthAttempts, Failure, Some("admin"), None, None));
        let e = ev("sshd", "Disconnecting: Too many authentication failures [preauth]");
        assert_eq!(summary(&e), (MaxAuthAttempts, Failure, None, None, None));
        let e = ev(
            "sshd",
            "Disconnecting invalid user guest 1.2.3.4 port 5: Too many authentication failures [preauth]",
        );
        assert_eq!(
            summary(&e),
            (MaxAuthAttempts, Failure, Some("guest"), Some("1.2.3.4"), Some(5))
        );
        assert!(e.user_invalid);
        let e = ev(
            "sshd",
            "Disconnecting authenticating user root 2001:db8::2 port 5: Too many authentication failures [preauth]",
        );
        assert_eq!(
            summary(&e),
            (MaxAuthAttempts, Failure, Some("root"), Some("2001:db8::2"), Some(5))
        );
        let e = ev("sshd", "Disconnecting invalid user a 1.2.3.4 port 5: Change of username or service not allowed: (a,ssh-connection) -> (b,ssh-connection) [preauth]");
        assert_eq!(summary(&e), (Disconnect, Unknown, Some("a"), Some("1.2.3.4"), Some(5)));
    }

    #[test]
    fn sshd_scans_and_reverse_mapping() {
        let e = ev("sshd", "Did not receive identification string from 187.12.249.74");
        assert_eq!(
            summary(&e),
            (NoIdentification, Failure, None, Some("187.12.249.74"), None)
        );
        let e = ev("sshd", "Did not receive identification string from 1.2.3.4 port 4711");
        assert_eq!(e.source_port, Some(4711));
        let e = ev("sshd", "reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!");
        assert_eq!(
            summary(&e),
            (ReverseMappingFailed, Unknown, None, Some("173.234.31.186"), None)
        );
        let e = ev(
            "sshd",
            "Address 1.2.3.4 maps to x.example, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
        );
        assert_eq!(
            summary(&e),
            (ReverseMappingFailed, Unknown, None, Some("1.2.3.4"), None)
        );
        unrecognized("sshd", "Address family not supported");
    }

    #[test]
    fn sshd_disconnects() {
        for (m, user, src, port) in [
            (
                "Received disconnect from 187.12.249.74: 11: Bye Bye [preauth]",
                None,
                "187.12.249.74",
                None,
            ),
            (
                "error: Received disconnect from 195.154.37.122: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
                None,
                "195.154.37.122",
                None,
            ),
            (
                "Received disconnect from 1.2.3.4 port 22:11: disconnected by user",
                None,
                "1.2.3.4",
                Some(22),
            ),
            (
                "Received disconnect from 2001:db8::1: 11: Bye",
                None,
                "2001:db8::1",
                None,
            ),
            (
                "Received disconnect from 2001:db8::1 port 9:11: Bye",
                None,
                "2001:db8::1",
                Some(9),
            ),
            (
                "Connection closed by 122.225.103.87 [preauth]",
                None,
                "122.225.103.87",
                None,
            ),
            (
                "Connection closed by 1.2.3.4 port 5 [preauth]",
                None,
                "1.2.3.4",
                Some(5),
            ),
            (
                "Connection closed by authenticating user root 1.2.3.4 port 5 [preauth]",
                Some("root"),
                "1.2.3.4",
                Some(5),
            ),
            (
                "Connection closed by invalid user admin 1.2.3.4 port 5 [preauth]",
                Some("admin"),
                "1.2.3.4",
                Some(5),
            ),
            (
                "Disconnected from user bob 10.0.0.1 port 6",
                Some("bob"),
                "10.0.0.1",
                Some(6),
            ),
            ("Disconnected from 10.0.0.1 port 6", None, "10.0.0.1", Some(6)),
            (
                "Connection reset by 10.0.0.1 port 6 [preauth]",
                None,
                "10.0.0.1",
                Some(6),
            ),
            (
                "Connection reset by authenticating user x 10.0.0.1 port 6 [preauth]",
                Some("x"),
                "10.0.0.1",
                Some(6),
            ),
        ] {
            let e = ev("sshd", m);
            assert_eq!(summary(&e), (Disconnect, Unknown, user, Some(src), port), "{m}");
        }
        let e = ev(
            "sshd",
            "Connection closed by invalid user admin 1.2.3.4 port 5 [preauth]",
        );
        assert!(e.user_invalid);
        unrecognized("sshd", "Connection reset by peer");
        // Pre-auth disconnects that name nobody.
        for m in [
            "fatal: Write failed: Connection reset by peer [preauth]",
            "fatal: Read from socket failed: Connection reset by peer [preauth]",
        ] {
            let e = ev("sshd", m);
            assert_eq!((e.action, e.source_address), (Action::Disconnect, None), "{m}");
        }
        unrecognized("sshd", "Server listening on 0.0.0.0 port 22.");
    }

    #[test]
    fn sessions() {
        let e = ev(
            "sshd",
            "pam_unix(sshd:session): session opened for user fztu by (uid=0)",
        );
        assert_eq!(summary(&e), (SessionOpened, Success, Some("fztu"), None, None));
        assert_eq!(e.target_user, None);
        let e = ev("sshd", "pam_unix(sshd:session): session closed for user fztu");
        assert_eq!(summary(&e), (SessionClosed, Success, Some("fztu"), None, None));
        let e = ev(
            "CRON",
            "pam_unix(cron:session): session opened for user root by (uid=0)",
        );
        assert_eq!((e.action, e.user.as_deref()), (SessionOpened, Some("root")));
        let e = ev("sshd(pam_unix)", "session opened for user test by (uid=509)");
        assert_eq!((e.action, e.user.as_deref()), (SessionOpened, Some("test")));
        let e = ev("login(pam_unix)", "session opened for user root by LOGIN(uid=0)");
        assert_eq!(
            (e.action, e.user.as_deref(), e.target_user),
            (SessionOpened, Some("root"), None)
        );
        let e = ev("su(pam_unix)", "session closed for user cyrus");
        assert_eq!((e.action, e.user.as_deref()), (SessionClosed, Some("cyrus")));
        // Who opened it, when PAM says: su, sudo.
        let e = ev(
            "su",
            "pam_unix(su:session): session opened for user root by dcid(uid=1342)",
        );
        assert_eq!(
            (e.action, e.user.as_deref(), e.target_user.as_deref()),
            (SessionOpened, Some("dcid"), Some("root"))
        );
        let e = ev(
            "sudo",
            "pam_unix(sudo:session): session opened for user root(uid=0) by vagrant(uid=1000)",
        );
        assert_eq!(
            (e.user.as_deref(), e.target_user.as_deref()),
            (Some("vagrant"), Some("root"))
        );
        let e = ev(
            "systemd",
            "pam_unix(systemd-user:session): session opened for user bob(uid=1000) by (uid=0)",
        );
        assert_eq!((e.user.as_deref(), e.target_user), (Some("bob"), None));
        let e = ev("sudo", "pam_unix(sudo:session): session closed for user root");
        assert_eq!((e.action, e.user.as_deref()), (SessionClosed, Some("root")));
        let e = ev("systemd-logind", "New session 12 of user bob.");
        assert_eq!(
            (e.action, e.outcome, e.user.as_deref()),
            (SessionOpened, Success, Some("bob"))
        );
        let e = ev("systemd-logind", "Removed session 12.");
        assert_eq!((e.action, e.user), (SessionClosed, None));
        unrecognized("systemd-logind", "Watching system buttons on /dev/input/event1");
        unrecognized("CRON", "(root) CMD (run-parts /etc/cron.hourly)");
    }

    #[test]
    fn sudo_commands_and_refusals() {
        let e = ev(
            "sudo",
            "  vagrant : TTY=pts/0 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
        );
        assert_eq!(summary(&e), (Sudo, Success, Some("vagrant"), None, None));
        assert_eq!(
            (e.target_user.as_deref(), e.command.as_deref()),
            (Some("root"), Some("/bin/ls"))
        );
        let e = ev(
            "sudo",
            "dcid : TTY=pts/26 ; PWD=/x ; USER=root ; COMMAND=/bin/cp -pr a ; b /var/osaudit/bin",
        );
        assert_eq!(e.command.as_deref(), Some("/bin/cp -pr a ; b /var/osaudit/bin"));
        let e = ev(
            "sudo",
            "bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; ENV=A=b ; TSID=000001 ; COMMAND=/usr/bin/id",
        );
        assert_eq!((e.outcome, e.command.as_deref()), (Success, Some("/usr/bin/id")));
        let e = ev(
            "sudo",
            "   test2 : 3 incorrect password attempts ; TTY=pts/4 ; PWD=/home/test2 ; USER=root ; COMMAND=/bin/ls",
        );
        assert_eq!(summary(&e), (Sudo, Failure, Some("test2"), None, None));
        assert_eq!((e.repeat, e.target_user.as_deref()), (3, Some("root")));
        let e = ev(
            "sudo",
            "     tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
        );
        assert_eq!(
            (e.action, e.outcome, e.user.as_deref(), e.repeat),
            (Sudo, Failure, Some("tsg"), 1)
        );
        let e = ev(
            "sudo",
            "bob : command not allowed ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
        );
        assert_eq!(e.outcome, Failure);
        unrecognized("sudo", "unable to resolve host web1: Name or service not known");
        unrecognized("sudo", "root : problem with defaults entries ; TTY=unknown ; PWD=/ ;");
        unrecognized("sudo", "pam_unix(sudo:auth): conversation failed");
    }

    #[test]
    fn su_forms() {
        let check = |m: &str, outcome, user, target| {
            let e = ev("su", m);
            assert_eq!(
                (e.action, e.outcome, e.user.as_deref(), e.target_user.as_deref()),
                (Su, outcome, user, target),
                "{m}"
            );
        };
        check("Successful su for root by alice", Success, Some("alice"), Some("root"));
        check("FAILED su for root by alice", Failure, Some("alice"), Some("root"));
        check("+ pts/0 alice:root", Success, Some("alice"), Some("root"));
        check("- pts/0 alice:root", Failure, Some("alice"), Some("root"));
        check("+ pts/4 dcid-root", Success, Some("dcid"), Some("root"));
        check("(to root) alice on pts/0", Success, Some("alice"), Some("root"));
        check(
            "FAILED SU (to root) alice on pts/0",
            Failure,
            Some("alice"),
            Some("root"),
        );
        check(
            "BAD SU ger to fwmaster on /dev/ttyp0",
            Failure,
            Some("ger"),
            Some("fwmaster"),
        );
        check("Authentication failed for root", Failure, None, Some("root"));
        let e = ev("su", "pam_unix(su:session): session opened for user news by (uid=0)");
        assert_eq!((e.action, e.user.as_deref()), (SessionOpened, Some("news")));
        unrecognized("su", "No passwd entry for user 'x'");
    }

    #[test]
    fn login_forms() {
        let e = ev("login", "ROOT LOGIN ON tty2");
        assert_eq!(summary(&e), (Authentication, Success, Some("root"), None, None));
        let e = ev("-- root", "ROOT LOGIN ON tty2");
        assert_eq!((e.action, e.program.as_deref()), (Authentication, Some("-- root")));
        let e = ev("login", "ROOT LOGIN  on '/dev/pts/0' from 'gw.example'");
        assert_eq!(
            summary(&e),
            (Authentication, Success, Some("root"), Some("gw.example"), None)
        );
        let e = ev("login", "LOGIN ON tty1 BY alice");
        assert_eq!(summary(&e), (Authentication, Success, Some("alice"), None, None));
        let e = ev("login", "LOGIN ON 'pts/1' BY 'alice' FROM '10.1.1.1'");
        assert_eq!(
            summary(&e),
            (Authentication, Success, Some("alice"), Some("10.1.1.1"), None)
        );
        let e = ev(
            "login",
            "FAILED LOGIN (1) on '/dev/tty1' FOR 'bob', Authentication failure",
        );
        assert_eq!(summary(&e), (Authentication, Failure, Some("bob"), None, None));
        let e = ev(
            "login",
            "FAILED LOGIN (2) on '/dev/pts/3' FROM 'h.example' FOR 'bob', Authentication failure",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, Some("bob"), Some("h.example"), None)
        );
        let e = ev("login", "FAILED LOGIN 1 FROM (null) FOR root, Authentication failure");
        assert_eq!(summary(&e), (Authentication, Failure, Some("root"), None, None));
        let e = ev(
            "login",
            "FAILED LOGIN SESSION FROM (null) FOR root, Authentication failure",
        );
        assert_eq!(e.user.as_deref(), Some("root"));
        let e = ev("login", "FAILED LOGIN 1 FROM (null) FOR   , Authentication failure");
        assert_eq!((e.action, e.user), (Authentication, None));
        let e = ev(
            "login",
            "TOO MANY LOGIN TRIES (5) on '/dev/tty1' FROM 'x' FOR 'bob', Authentication failure",
        );
        assert_eq!(summary(&e), (MaxAuthAttempts, Failure, Some("bob"), Some("x"), None));
        let e = ev("login", "1 LOGIN FAILURE ON ttyv0, root");
        assert_eq!(summary(&e), (Authentication, Failure, Some("root"), None, None));
        let e = ev("login", "2 LOGIN FAILURES ON ttyp0 FROM gw.example");
        assert_eq!(summary(&e), (Authentication, Failure, None, Some("gw.example"), None));
        let e = ev(
            "login",
            "pam_unix(login:session): session opened for user root by LOGIN(uid=0)",
        );
        assert_eq!((e.action, e.user.as_deref()), (SessionOpened, Some("root")));
        unrecognized("login", "LOGIN ON tty1");
        unrecognized("kernel", "Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com)");
    }

    #[test]
    fn account_changes() {
        let check = |program: &str, m: &str, action, user: Option<&str>, target: Option<&str>| {
            let e = ev(program, m);
            assert_eq!(
                (e.action, e.outcome, e.user.as_deref(), e.target_user.as_deref()),
                (action, Success, user, target),
                "{m}"
            );
        };
        check(
            "useradd",
            "new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin",
            UserCreated,
            Some("apache"),
            None,
        );
        check(
            "useradd",
            "new user: name=logr, uid=12000, gid=12000, home=/home/logr, shell=/bin/bash",
            UserCreated,
            Some("logr"),
            None,
        );
        check(
            "groupadd",
            "new group: name=apache, GID=48",
            GroupChanged,
            None,
            Some("apache"),
        );
        check(
            "useradd",
            "new group: name=test, gid=5006",
            GroupChanged,
            None,
            Some("test"),
        );
        check(
            "groupadd",
            "group added to /etc/group: name=dev, GID=1001",
            GroupChanged,
            None,
            Some("dev"),
        );
        check(
            "groupadd",
            "group added to /etc/gshadow: name=dev",
            GroupChanged,
            None,
            Some("dev"),
        );
        check(
            "usermod",
            "add 'bob' to group 'sudo'",
            UserModified,
            Some("bob"),
            Some("sudo"),
        );
        check(
            "usermod",
            "add 'bob' to shadow group 'sudo'",
            UserModified,
            Some("bob"),
            Some("sudo"),
        );
        check(
            "userdel",
            "delete 'bob' from group 'sudo'",
            UserModified,
            Some("bob"),
            Some("sudo"),
        );
        check(
            "gpasswd",
            "user bob added by root to group docker",
            UserModified,
            Some("bob"),
            Some("docker"),
        );
        check(
            "gpasswd",
            "user bob removed by root from group docker",
            UserModified,
            Some("bob"),
            Some("docker"),
        );
        check("userdel", "delete user 'bob'", UserDeleted, Some("bob"), None);
        check("userdel", "delete user `logr'", UserDeleted, Some("logr"), None);
        check(
            "usermod",
            "change user 'bob' password",
            PasswordChanged,
            Some("bob"),
            None,
        );
        check(
            "usermod",
            "change user 'bob' shell from '/bin/sh' to '/bin/bash'",
            UserModified,
            Some("bob"),
            None,
        );
        check("usermod", "lock user 'bob' password", UserModified, Some("bob"), None);
        check(
            "usermod",
            "change user name 'bob' to 'robert'",
            UserModified,
            Some("bob"),
            Some("robert"),
        );
        check(
            "passwd",
            "pam_unix(passwd:chauthtok): password changed for bob",
            PasswordChanged,
            Some("bob"),
            None,
        );
        check(
            "chpasswd",
            "pam_unix(chpasswd:chauthtok): password changed for bob",
            PasswordChanged,
            Some("bob"),
            None,
        );
        check(
            "passwd(pam_unix)",
            "password changed for test",
            PasswordChanged,
            Some("test"),
            None,
        );
        check(
            "passwd",
            "password for 'bob' changed by 'root'",
            PasswordChanged,
            Some("bob"),
            None,
        );
        check(
            "chage",
            "changed password expiry for bob",
            UserModified,
            Some("bob"),
            None,
        );
        check("groupdel", "remove group `logr'", GroupChanged, None, Some("logr"));
        check(
            "userdel",
            "removed group 'bob' owned by 'bob'",
            GroupChanged,
            None,
            Some("bob"),
        );
        check(
            "groupdel",
            "group 'dev' removed from /etc/group",
            GroupChanged,
            None,
            Some("dev"),
        );
        unrecognized("useradd", "failed adding user 'x', data deleted");
    }

    #[test]
    fn ftpd_and_klogind() {
        let e = ev("ftpd", "ANONYMOUS FTP LOGIN FROM 84.102.20.2,  (anonymous)");
        assert_eq!(
            summary(&e),
            (Authentication, Success, Some("anonymous"), Some("84.102.20.2"), None)
        );
        let e = ev(
            "ftpd",
            "ANONYMOUS FTP LOGIN FROM 1.2.3.4, x.adsl.skynet.be (Sgpuser@home.com)",
        );
        assert_eq!(e.source_address.as_deref(), Some("1.2.3.4"));
        let e = ev(
            "ftpd",
            "ANONYMOUS FTP LOGIN FROM emaca.here.com [192.168.3.236], guest@",
        );
        assert_eq!(e.source_address.as_deref(), Some("192.168.3.236"));
        let e = ev("ftpd", "FTP LOGIN FROM gw.example [10.0.0.9], bob");
        assert_eq!(
            summary(&e),
            (Authentication, Success, Some("bob"), Some("10.0.0.9"), None)
        );
        unrecognized("ftpd", "connection from 84.102.20.2 () at Sun Jul 24 02:38:22 2005");
        let e = ev(
            "klogind",
            "Authentication failed from 163.27.187.39 (163.27.187.39): Permission denied in replay cache code",
        );
        assert_eq!(
            summary(&e),
            (Authentication, Failure, None, Some("163.27.187.39"), None)
        );
        assert_eq!(e.auth_method, Some(AuthMethod::Kerberos));
        unrecognized("klogind", "Kerberos authentication failed");
        unrecognized("gdm-binary", "Couldn't authenticate user");
    }

    #[test]
    fn unknown_programs_and_messages() {
        unrecognized("kernel", "audit(1122475266.4294965305:0): initialized");
        unrecognized("sshd", "");
        unrecognized("", "last message repeated 3 times");
        unrecognized("syslogd 1.4.1", "restart.");
        unrecognized("pam", "user nobody logged out.");
        unrecognized("sshd", "pam_unix(sshd:auth");
        unrecognized(
            "sshd",
            "pam_unix(sshd:account): password for user bob will expire in 3 days",
        );
    }

    #[test]
    fn decoders_survive_every_prefix() {
        let lines = [
            (
                "sshd",
                "message repeated 5 times: [ Failed password for invalid user  x from 2001:db8::1 port 42393 ssh2]",
            ),
            (
                "sshd",
                "Disconnecting authenticating user root 2001:db8::2 port 5: Too many authentication failures [preauth]",
            ),
            (
                "sshd",
                "reverse mapping checking getaddrinfo for é.example [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!",
            ),
            (
                "sudo",
                "  tsg : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/v ; USER=root ; COMMAND=/bin/ls",
            ),
            ("su", "+ pts/4 dcid-root"),
            (
                "login",
                "FAILED LOGIN (2) on '/dev/pts/3' FROM 'h.example' FOR 'bob', Authentication failure",
            ),
            ("usermod", "change user name 'bob' to 'robert'"),
            (
                "ftpd",
                "ANONYMOUS FTP LOGIN FROM emaca.here.com [192.168.3.236], guest@",
            ),
            (
                "sshd(pam_unix)",
                "2 more authentication failures; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4  user=root",
            ),
        ];
        for (program, m) in lines {
            assert!(dec(program, m).is_ok(), "{m}");
            for (i, _) in m.char_indices() {
                let _ = dec(program, &m[..i]);
                let _ = dec(program, &m[i..]);
            }
        }
    }
}
