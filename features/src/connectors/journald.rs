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
        Ok(e) => e.realtime.is_some() && e.message.is_some(),
        Err(_) => false,
    }
}

/// Decodes one `journalctl -o json` line. `line_no` is 1-based.
pub fn decode_journald_line(line: &str, file: FileId, line_no: u64) -> Decoded<'_> {
    let text = line.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(Skip::new(SkipReason::Empty));
    }
    let entry = match serde_json::from_str::<Entry<'_>>(text) {
        Ok(e) => e,
        Err(e) if e.is_eof() && text.starts_with('{') => return Err(Skip::new(SkipReason::Truncated)),
        Err(_) => return Err(Skip::new(SkipReason::Malformed)),
    };
    let program = entry.identifier.or(entry.comm).and_then(Field::into_text);
    let timestamp = match entry.realtime.as_ref().and_then(Field::micros) {
        Some(t) => t,
        None => return Err(skip_with(SkipReason::BadTimestamp, program)),
    };
    let message = match entry.message.map(Field::into_message) {
        Some(Some(m)) => m,
        _ => return Err(skip_with(SkipReason::MissingField, program)),
    };
    let host = entry.hostname.and_then(Field::into_text);
    let pid = entry
        .pid
        .as_ref()
        .and_then(Field::number)
        .or_else(|| entry.syslog_pid.as_ref().and_then(Field::number));
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
    realtime: Option<Field<'a>>,
    #[serde(rename = "_HOSTNAME", borrow, default)]
    hostname: Option<Field<'a>>,
    #[serde(rename = "SYSLOG_IDENTIFIER", borrow, default)]
    identifier: Option<Field<'a>>,
    #[serde(rename = "_COMM", borrow, default)]
    comm: Option<Field<'a>>,
    #[serde(rename = "_PID", borrow, default)]
    pid: Option<Field<'a>>,
    #[serde(rename = "SYSLOG_PID", borrow, default)]
    syslog_pid: Option<Field<'a>>,
    #[serde(rename = "MESSAGE", borrow, default)]
    message: Option<Field<'a>>,
}

/// A journald field value as journalctl writes it.
#[derive(Debug, PartialEq)]
enum Field<'a> {
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
            Field::Bytes(_) | Field::Other => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// The message: text, or bytes decoded lossily.
    fn into_message(self) -> Option<Cow<'a, str>> {
        match self {
            Field::Text(s) => Some(s),
            Field::Bytes(b) => Some(Cow::Owned(String::from_utf8_lossy(&b).into_owned())),
            Field::Number(_) | Field::Other => None,
        }
    }

    fn number<T: std::str::FromStr + TryFrom<u64>>(&self) -> Option<T> {
        match self {
            Field::Text(s) => s.trim().parse().ok(),
            Field::Number(n) => T::try_from(*n).ok(),
            Field::Bytes(_) | Field::Other => None,
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
