//! journald JSON lines (`journalctl -o json`): one JSON object per line.
//!
//! Fields read: `__REALTIME_TIMESTAMP` (microseconds since the epoch, a
//! decimal string), `_HOSTNAME`, `SYSLOG_IDENTIFIER` (else `_COMM`), `_PID`
//! (else `SYSLOG_PID`) and `MESSAGE`; every other field is ignored. The
//! message goes through the same per-program decoders as a syslog line
//! ([`crate::connectors::decode::decode_message`]), so an entry and the line
//! rsyslog would have written for it decode to the same event.
//!
//! journalctl writes a field that is not valid UTF-8 as an array of byte
//! values; such a `MESSAGE` is decoded lossily (invalid bytes become
//! U+FFFD). A field with several values is an array of strings: a
//! `MESSAGE` like that, or a `null` one (journalctl writes `null` for
//! fields over 4096 bytes unless run with `--all`), is
//! [`SkipReason::MissingField`], as is an entry with no `MESSAGE`; an entry
//! without a readable timestamp is [`SkipReason::BadTimestamp`].
//!
//! Fields borrow from the line when the JSON string has no escapes; a line
//! whose fields needed unescaping (or a byte-array message) gives an event
//! that owns its text.
//!
//! `SYSLOG_IDENTIFIER`, `SYSLOG_PID` and `MESSAGE` are written by the
//! logging client, like a syslog tag and message; `_PID`, `_COMM` and
//! `_HOSTNAME` are added by journald.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use crate::connectors::decode::decode_message;
use crate::event::{Decoded, Evidence, FileId, Micros, Skip, SkipReason};

/// Whether a line is a journald JSON entry (for input format detection): a
/// JSON object with `__REALTIME_TIMESTAMP` and `MESSAGE` keys.
pub fn looks_like_journald(line: &str) -> bool {
    let text = line.trim_start_matches('\u{feff}').trim();
    if !text.starts_with('{') {
        return false;
    }
    match serde_json::from_str::<Entry<'_>>(text) {
        Ok(e) => e.realtime != Field::Missing && e.message != Field::Missing,
        Err(_) => false,
    }
}

/// Decodes one `journalctl -o json` line. `line_no` is 1-based.
pub fn decode_journald_line(line: &str, file: FileId, line_no: u64) -> Decoded<'_> {
    let text = line.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(Skip::new(SkipReason::Empty));
    }
    // serde would also read a struct from a JSON array.
    if !text.starts_with('{') {
        return Err(Skip::new(SkipReason::Malformed));
    }
    let entry = match serde_json::from_str::<Entry<'_>>(text) {
        Ok(e) => e,
        Err(e) if e.is_eof() && text.starts_with('{') => return Err(Skip::new(SkipReason::Truncated)),
        Err(_) => return Err(Skip::new(SkipReason::Malformed)),
    };
    let program = entry.identifier.into_text().or_else(|| entry.comm.into_text());
    let Some(timestamp) = entry.realtime.micros() else {
        return Err(skip_with(SkipReason::BadTimestamp, program));
    };
    let Some(message) = entry.message.into_message() else {
        return Err(skip_with(SkipReason::MissingField, program));
    };
    let host = entry.hostname.into_text();
    let pid = entry.pid.number().or_else(|| entry.syslog_pid.number());
    let evidence = Evidence {
        file,
        line: line_no,
        raw: Cow::Borrowed(line.trim_end_matches(['\r', '\n'])),
    };
    let program = program.unwrap_or(Cow::Borrowed(""));
    // The usual case: every field borrows from the line.
    let borrowed_host = match &host {
        None => Some(None),
        Some(Cow::Borrowed(h)) => Some(Some(*h)),
        Some(Cow::Owned(_)) => None,
    };
    if let (Cow::Borrowed(p), Cow::Borrowed(m), Some(h)) = (&program, &message, borrowed_host) {
        return decode_message(timestamp, h, p, pid, m, evidence);
    }
    // Some field was unescaped or decoded: the event owns its text.
    match decode_message(timestamp, host.as_deref(), &program, pid, &message, evidence) {
        Ok(ev) => Ok(ev.into_owned()),
        Err(s) => Err(Skip {
            reason: s.reason,
            program: s.program.map(|p| Cow::Owned(p.into_owned())),
        }),
    }
}

fn skip_with(reason: SkipReason, program: Option<Cow<'_, str>>) -> Skip<'_> {
    Skip { reason, program }
}

/// The fields of an entry that are read; the rest are skipped.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "__REALTIME_TIMESTAMP", borrow, default)]
    realtime: Field<'a>,
    #[serde(rename = "_HOSTNAME", borrow, default)]
    hostname: Field<'a>,
    #[serde(rename = "SYSLOG_IDENTIFIER", borrow, default)]
    identifier: Field<'a>,
    #[serde(rename = "_COMM", borrow, default)]
    comm: Field<'a>,
    #[serde(rename = "_PID", borrow, default)]
    pid: Field<'a>,
    #[serde(rename = "SYSLOG_PID", borrow, default)]
    syslog_pid: Field<'a>,
    #[serde(rename = "MESSAGE", borrow, default)]
    message: Field<'a>,
}

/// A journald field value as journalctl writes it.
#[derive(Debug, Default, PartialEq)]
enum Field<'a> {
    /// The entry has no such field.
    #[default]
    Missing,
    /// A UTF-8 value (borrowed when the JSON string had no escapes).
    Text(Cow<'a, str>),
    /// A value that is not UTF-8, written as an array of byte values.
    Bytes(Vec<u8>),
    /// A number (journalctl writes strings; accepted for hand-made input).
    Number(u64),
    /// `null` (a value too large to show), several values, or another
    /// JSON type.
    Other,
}

impl<'a> Field<'a> {
    /// The value as text, trimmed; `None` when empty or not text.
    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Text(Cow::Borrowed(s)) => Some(Cow::Borrowed(s.trim())),
            Field::Text(Cow::Owned(s)) => Some(Cow::Owned(s.trim().to_owned())),
            Field::Number(n) => Some(Cow::Owned(n.to_string())),
            Field::Bytes(_) | Field::Other | Field::Missing => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// The message: text, or bytes decoded lossily.
    fn into_message(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Text(s) => Some(s),
            Field::Bytes(b) => Some(Cow::Owned(String::from_utf8_lossy(&b).into_owned())),
            Field::Number(_) | Field::Other | Field::Missing => None,
        }
    }

    fn number<T: std::str::FromStr + TryFrom<u64>>(&self) -> Option<T> {
        match self {
            Field::Text(s) => s.trim().parse().ok(),
            Field::Number(n) => T::try_from(*n).ok(),
            Field::Bytes(_) | Field::Other | Field::Missing => None,
        }
    }

    fn micros(&self) -> Option<Micros> {
        self.number::<u64>().and_then(|t| Micros::try_from(t).ok())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a journald field value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Number(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Field::Other, Field::Number))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    /// An array of byte values is one binary value; anything else in an
    /// array (strings: several values) makes the field [`Field::Other`].
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::new();
        let mut all_bytes = true;
        while let Some(item) = seq.next_element::<ByteOrOther>()? {
            match item {
                ByteOrOther::Byte(b) if all_bytes => bytes.push(b),
                _ => all_bytes = false,
            }
        }
        Ok(if all_bytes { Field::Bytes(bytes) } else { Field::Other })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
}

/// One element of an array field.
enum ByteOrOther {
    Byte(u8),
    Other,
}

impl<'de> Deserialize<'de> for ByteOrOther {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteOrOther;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte value")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(u8::try_from(v).map_or(ByteOrOther::Other, ByteOrOther::Byte))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u8::try_from(v).map_or(ByteOrOther::Other, ByteOrOther::Byte))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ByteOrOther::Other)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ByteOrOther::Other)
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ByteOrOther::Other)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ByteOrOther::Other)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ByteOrOther::Other)
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ByteOrOther::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::syslog::{decode_line, YearResolver};
    use crate::event::{Action, Outcome};
    use crate::time::format_rfc3339;

    /// A `journalctl -o json` entry as journald writes it, trimmed of some
    /// fields.
    const SSHD: &str = r#"{"__CURSOR":"s=6f0b;i=1a2b;b=9c;m=1f;t=60a;x=5e","__REALTIME_TIMESTAMP":"1709438706123456","__MONOTONIC_TIMESTAMP":"912345678","_BOOT_ID":"9c0f","PRIORITY":"6","SYSLOG_FACILITY":"10","_UID":"0","_GID":"0","_TRANSPORT":"syslog","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_COMM":"sshd","_EXE":"/usr/sbin/sshd","SYSLOG_PID":"811","_PID":"811","_SYSTEMD_UNIT":"ssh.service","MESSAGE":"Failed password for root from 203.0.113.9 port 4711 ssh2","SYSLOG_TIMESTAMP":"Mar  3 04:05:06 "}"#;

    fn ok(line: &str) -> Event<'_> {
        match decode_journald_line(line, 0, 1) {
            Ok(ev) => ev,
            Err(s) => panic!("{line}: {s:?}"),
        }
    }

    fn ok_owned(line: &str) -> Event<'static> {
        ok(line).into_owned()
    }

    fn skip(line: &str) -> Skip<'static> {
        match decode_journald_line(line, 0, 1) {
            Ok(ev) => panic!("{line}: decoded {ev:?}"),
            Err(s) => Skip {
                reason: s.reason,
                program: s.program.map(|p| Cow::Owned(p.into_owned())),
            },
        }
    }

    fn entry(fields: &str) -> String {
        format!(r#"{{"__REALTIME_TIMESTAMP":"1709438706123456","_HOSTNAME":"web1",{fields}}}"#)
    }

    use crate::event::Event;

    #[test]
    fn sshd_entry_decodes_like_its_syslog_line() {
        let ev = ok(SSHD);
        assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T04:05:06.123456Z");
        let line =
            "2024-03-03T04:05:06.123456Z web1 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2";
        let want = decode_line(line, 0, 1, &YearResolver::fixed(2024)).unwrap();
        assert_eq!(
            (
                &ev.host,
                &ev.user,
                &ev.source_address,
                ev.source_port,
                ev.action,
                ev.outcome
            ),
            (
                &want.host,
                &want.user,
                &want.source_address,
                want.source_port,
                want.action,
                want.outcome
            )
        );
        assert_eq!((ev.program.as_deref(), ev.pid), (Some("sshd"), Some(811)));
        assert_eq!(ev.auth_method, want.auth_method);
        assert_eq!(ev.evidence.raw, SSHD);
        // Nothing needed unescaping: every field borrows from the line.
        for f in [&ev.host, &ev.user, &ev.source_address, &ev.program] {
            assert!(matches!(f, Some(Cow::Borrowed(_))), "{f:?}");
        }
    }

    #[test]
    fn fallbacks_and_escapes() {
        // No SYSLOG_IDENTIFIER: _COMM picks the decoder; no _PID: SYSLOG_PID.
        let ev = ok_owned(&entry(
            r#""_COMM":"sudo","SYSLOG_PID":"42","MESSAGE":"pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)""#,
        ));
        assert_eq!((ev.program.as_deref(), ev.pid), (Some("sudo"), Some(42)));
        assert_eq!(ev.action, Action::SessionOpened);
        // _PID (journald's) wins over SYSLOG_PID (the client's).
        let ev = ok_owned(&entry(
            r#""SYSLOG_IDENTIFIER":"sshd","_PID":"7","SYSLOG_PID":"8","MESSAGE":"Invalid user x from 192.0.2.1 port 22""#,
        ));
        assert_eq!(ev.pid, Some(7));
        // An escaped message is unescaped; the event owns its text.
        let line = entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Invalid user \u0061dmin from 192.0.2.1 port 22""#);
        let ev = ok(&line);
        assert_eq!((ev.action, ev.user.as_deref()), (Action::InvalidUser, Some("admin")));
        assert!(matches!(ev.user, Some(Cow::Owned(_))));
        // An escaped host name alone also gives an owned event.
        let ev = ok(
            r#"{"__REALTIME_TIMESTAMP":"1","_HOSTNAME":"w\u0065b1","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Invalid user x from 192.0.2.1"}"#,
        );
        assert_eq!(ev.host.as_deref(), Some("web1"));
        // Numbers instead of strings are read too.
        let ev = ok(
            r#"{"__REALTIME_TIMESTAMP":1709438706000000,"_PID":9,"SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Invalid user x from 192.0.2.1"}"#,
        );
        assert_eq!(
            (format_rfc3339(ev.timestamp).as_str(), ev.pid),
            ("2024-03-03T04:05:06Z", Some(9))
        );
        assert_eq!(ev.host, None);
    }

    #[test]
    fn byte_array_messages_decode_lossily() {
        let mut bytes: Vec<u8> = b"Failed password for invalid user r".to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(b"ot from 198.51.100.7 port 22 ssh2");
        let array = bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
        let line = entry(&format!(r#""SYSLOG_IDENTIFIER":"sshd","_PID":"5","MESSAGE":[{array}]"#));
        let ev = ok(&line);
        assert_eq!((ev.action, ev.outcome), (Action::Authentication, Outcome::Failure));
        assert_eq!(ev.user.as_deref(), Some("r\u{fffd}ot"));
        assert!(ev.user_invalid);
        assert_eq!(ev.source_address.as_deref(), Some("198.51.100.7"));
        assert_eq!(ev.evidence.raw, line);
        // Byte values out of range are not bytes.
        let s = skip(&entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":[70,300]"#));
        assert_eq!(s.reason, SkipReason::MissingField);
    }

    #[test]
    fn entries_without_message_or_time_are_counted_skips() {
        for (line, want) in [
            (entry(r#""SYSLOG_IDENTIFIER":"sshd""#), SkipReason::MissingField),
            // journalctl writes null for a field over 4096 bytes.
            (
                entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":null"#),
                SkipReason::MissingField,
            ),
            // Several values of one field.
            (
                entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":["a","b"]"#),
                SkipReason::MissingField,
            ),
            (
                entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":{"a":1}"#),
                SkipReason::MissingField,
            ),
            (
                r#"{"SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Invalid user x from 192.0.2.1"}"#.to_owned(),
                SkipReason::BadTimestamp,
            ),
            (
                r#"{"__REALTIME_TIMESTAMP":"yesterday","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"x"}"#.to_owned(),
                SkipReason::BadTimestamp,
            ),
            (
                r#"{"__REALTIME_TIMESTAMP":"99999999999999999999","MESSAGE":"x"}"#.to_owned(),
                SkipReason::BadTimestamp,
            ),
            (
                r#"{"__REALTIME_TIMESTAMP":-5,"MESSAGE":"x"}"#.to_owned(),
                SkipReason::BadTimestamp,
            ),
        ] {
            let s = skip(&line);
            assert_eq!(s.reason, want, "{line}");
            assert!(s.reason.is_malformed(), "{line}");
        }
        assert_eq!(
            skip(&entry(r#""SYSLOG_IDENTIFIER":"sshd""#)).program.as_deref(),
            Some("sshd")
        );
        for (line, want) in [
            ("", SkipReason::Empty),
            ("  \r", SkipReason::Empty),
            (r#"{"__REALTIME_TIMESTAMP":"17094"#, SkipReason::Truncated),
            ("[1,2]", SkipReason::Malformed),
            ("Mar  3 04:05:06 web1 sshd[1]: x", SkipReason::Malformed),
            (r#"{"MESSAGE":"a","MESSAGE":"b"}"#, SkipReason::Malformed),
            (r#"{"a":1} trailing"#, SkipReason::Malformed),
        ] {
            assert_eq!(skip(line).reason, want, "{line:?}");
        }
    }

    #[test]
    fn unrecognized_messages_keep_their_program() {
        let s = skip(&entry(r#""SYSLOG_IDENTIFIER":"kernel","MESSAGE":"eth0: link up""#));
        assert_eq!(
            (s.reason, s.program.as_deref()),
            (SkipReason::Unrecognized, Some("kernel"))
        );
        let s = skip(&entry(r#""SYSLOG_IDENTIFIER":"k\u0065rnel","MESSAGE":"eth0: link up""#));
        assert_eq!(
            (s.reason, s.program.as_deref()),
            (SkipReason::Unrecognized, Some("kernel"))
        );
    }

    #[test]
    fn detection() {
        assert!(looks_like_journald(SSHD));
        assert!(looks_like_journald(&format!("\u{feff}{SSHD}\r")));
        // MESSAGE present but null still marks the format.
        assert!(looks_like_journald(r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":null}"#));
        assert!(!looks_like_journald(
            r#"{"@timestamp":"2024-03-03T04:05:06Z","message":"x"}"#
        ));
        assert!(!looks_like_journald(r#"{"__REALTIME_TIMESTAMP":"1"}"#));
        assert!(!looks_like_journald(r#"{"msg":"__REALTIME_TIMESTAMP MESSAGE"}"#));
        assert!(!looks_like_journald("Mar  3 04:05:06 web1 sshd[1]: x"));
        assert!(!looks_like_journald(""));
    }

    #[test]
    fn every_cut_and_random_input_decodes_without_panic() {
        let bytes = entry(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":[70,97,105,108,195,169,255]"#);
        let escaped = entry(r#""SYSLOG_IDENTIFIER":"s\"s\\hd","MESSAGE":"Invalid user \u00e9 from 192.0.2.1""#);
        for line in [SSHD, bytes.as_str(), escaped.as_str()] {
            for (i, _) in line.char_indices() {
                let _ = decode_journald_line(&line[..i], 0, 1);
                let _ = decode_journald_line(&line[i..], 0, 1);
                let _ = looks_like_journald(&line[..i]);
            }
        }
        let mut rng = crate::test_support::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let alphabet: &[u8] = b"{}[]\":,\\u0123456789 MESSAGE__REALTIME_TIMESTAMPnull-e.\xc3\xa9";
        for _ in 0..5_000 {
            let s = rng.bytes_from(alphabet, 100);
            let s = String::from_utf8_lossy(&s);
            let _ = decode_journald_line(&s, 0, 1);
            let _ = looks_like_journald(&s);
            let _ = decode_journald_line(&entry(&format!(r#""SYSLOG_IDENTIFIER":"sshd","MESSAGE":"{s}""#)), 0, 1);
        }
    }
}
