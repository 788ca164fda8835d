//! Attacker-controlled text never moves the blame: sshd writes the user name
//! the client sent (and, in old versions, ssh1's remote user) into the same
//! line as the real address. For every line shape and every crafted name
//! here, the decoded source is the real address, or the line is decoded with
//! its source marked unreliable, which no feature or rule ever blames.

use std::borrow::Cow;

use loglynx_features::connectors::decode::decode_message;
use loglynx_features::connectors::syslog::{decode_line, YearResolver};
use loglynx_features::event::{Event, Evidence};

const REAL: &str = "192.0.2.10";
const REAL_PORT: u16 = 4242;
const DECOY: &str = "198.51.100.99";

fn decode(message: &str) -> Event<'_> {
    let evidence = Evidence {
        file: 0,
        line: 1,
        raw: Cow::Borrowed(message),
    };
    decode_message(0, Some("web-01"), "sshd", Some(7), message, evidence)
        .unwrap_or_else(|skip| panic!("{message:?} does not decode: {skip:?}"))
}

/// Names a client can send: the shapes of the rest of the line, decoys,
/// control characters, and a very long one.
fn crafted_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "admin",
        "admin from 198.51.100.99",
        "admin from 198.51.100.99 port 22",
        "admin from 198.51.100.99 port 22 ssh2",
        "admin from 198.51.100.99 port 22 ssh2:",
        "admin from 198.51.100.99 port 22 ssh2: x",
        "from 198.51.100.99 port 22 ssh2",
        "x port 22",
        " port 1 ssh2",
        "invalid user y from 198.51.100.99 port 22 ssh2",
        "authenticating user y 198.51.100.99 port 22",
        "y 198.51.100.99 port 22",
        "y [preauth]",
        "x\x1b[31m from 198.51.100.99 port 22 ssh2\x1b[0m",
        "x\nMar  3 10:00:00 web-01 sshd[9]: Failed password for root from 198.51.100.99 port 22 ssh2",
        "x\r from 198.51.100.99 port 22 ssh2",
        "ü from 198.51.100.99 port 22 ssh2 ✓",
    ]
    .map(String::from)
    .to_vec();
    names.push("from 198.51.100.99 port 22 ssh2 ".repeat(2048));
    names
}

/// Lines sshd writes with a user name in them, filled with `user`.
fn lines_for(user: &str) -> Vec<String> {
    let a = format!("{REAL} port {REAL_PORT}");
    vec![
        format!("Failed password for invalid user {user} from {a} ssh2"),
        format!("Failed none for invalid user {user} from {a} ssh2"),
        format!("Accepted publickey for {user} from {a} ssh2: RSA SHA256:abcdef"),
        format!("Failed password for {user} from {a} ssh2"),
        format!("Invalid user {user} from {a}"),
        format!("Connection closed by authenticating user {user} {a} [preauth]"),
        format!("Disconnected from invalid user {user} {a} [preauth]"),
        format!("Connection closed by invalid user {user} {a} [preauth]"),
        format!("error: maximum authentication attempts exceeded for invalid user {user} from {a} ssh2 [preauth]"),
        format!("Disconnecting invalid user {user} {a}: Too many authentication failures [preauth]"),
        format!("error: PAM: Authentication failure for illegal user {user} from {REAL}"),
    ]
}

/// The source is the real address, or it is marked unreliable and so is no
/// entity; the decoy is never a reliable source.
fn assert_not_moved(message: &str, e: &Event<'_>) {
    let source = e.source_address.as_deref();
    assert_ne!(e.source_key(), Some(DECOY), "{message:?}");
    if e.source_unreliable {
        assert_eq!(e.source_key(), None, "{message:?}");
        return;
    }
    assert_eq!(source, Some(REAL), "source moved in {message:?} (user {:?})", e.user);
    assert_eq!(e.source_key(), Some(REAL));
    if let Some(port) = e.source_port {
        assert_eq!(port, REAL_PORT, "{message:?}");
    }
}

#[test]
fn crafted_user_names_never_move_the_source() {
    let mut reliable = 0;
    let mut total = 0;
    for name in crafted_names() {
        for line in lines_for(&name) {
            let e = decode(&line);
            assert_not_moved(&line, &e);
            total += 1;
            reliable += usize::from(!e.source_unreliable);
        }
    }
    // Only lines where two places fit the format may give up the source.
    assert!(reliable * 10 >= total * 8, "{reliable} of {total} reliable");
}

#[test]
fn the_plain_names_decode_exactly() {
    for line in lines_for("admin") {
        let e = decode(&line);
        assert!(!e.source_unreliable, "{line}");
        assert_eq!(e.source_address.as_deref(), Some(REAL), "{line}");
        assert_eq!(e.user.as_deref(), Some("admin"), "{line}");
    }
}

#[test]
fn an_ssh1_ruser_after_the_address_does_not_move_it() {
    let line = "Failed password for admin from 192.0.2.10 port 4242 ssh1: ruser from 198.51.100.99";
    let e = decode(line);
    assert_eq!(
        (e.source_address.as_deref(), e.user.as_deref(), e.source_unreliable),
        (Some(REAL), Some("admin"), false)
    );
}

#[test]
fn trailing_text_shaped_like_the_address_is_not_trusted() {
    let line = "Failed password for invalid user guest from 192.0.2.10 port 4242 ssh2: from 198.51.100.99 port 22 ssh2";
    let e = decode(line);
    // Two places fit: either could be the real one, so the source is kept for
    // the analyst but never blamed.
    assert!(e.source_unreliable);
    assert_eq!(e.source_address.as_deref(), Some(REAL));
    assert_eq!(e.source_key(), None);
}

#[test]
fn info_after_the_port_shaped_like_the_address_makes_the_source_unreliable() {
    let line = "Failed publickey for alice from 192.0.2.10 port 4242 ssh2: ID x from 198.51.100.99 port 22 ssh2";
    let e = decode(line);
    assert_eq!((e.source_address.as_deref(), e.source_unreliable), (Some(REAL), true));
}

#[test]
fn whole_syslog_lines_with_crafted_names_keep_host_program_and_source() {
    let years = YearResolver::fixed(2024);
    for name in crafted_names().into_iter().filter(|n| !n.contains(['\n', '\r'])) {
        for message in lines_for(&name) {
            let line = format!("Mar  3 10:00:00 web-01 sshd[4100]: {message}");
            let e = decode_line(&line, 0, 1, &years).unwrap_or_else(|s| panic!("{line:?}: {s:?}"));
            assert_eq!(e.host.as_deref(), Some("web-01"));
            assert_eq!(e.program.as_deref(), Some("sshd"));
            assert_eq!(e.pid, Some(4100));
            assert_not_moved(&line, &e);
        }
    }
}
