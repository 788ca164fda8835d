//! The per-program message decoders, called directly: `program\nmessage`,
//! or, without a newline, a known program picked by the first byte and the
//! rest as the message.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::decode::decode_message;
use loglynx_features::event::Evidence;

const PROGRAMS: &[&str] = &[
    "sshd",
    "sshd-session",
    "/usr/sbin/sshd",
    "sshd(pam_unix)",
    "su(pam_unix)",
    "sudo",
    "su",
    "login",
    "useradd",
    "usermod",
    "userdel",
    "groupadd",
    "gpasswd",
    "passwd",
    "chpasswd",
    "chage",
    "ftpd",
    "klogind",
    "systemd-logind",
    "unix_chkpwd",
    "CRON",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (program, message) = match text.split_once('\n') {
        Some((p, m)) => (p, m),
        None => match text.as_bytes().first() {
            Some(&b) => {
                let rest = text.get(1..).unwrap_or("");
                (PROGRAMS[b as usize % PROGRAMS.len()], rest)
            }
            None => return,
        },
    };
    let evidence = Evidence {
        file: 0,
        line: 1,
        raw: Cow::Borrowed(text),
    };
    let _ = decode_message(
        1_700_000_000_000_000,
        Some("host"),
        program,
        Some(42),
        message,
        evidence,
    );
});
