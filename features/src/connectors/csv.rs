//! CSV connector: a header line names the columns, a [`ColumnMap`] (TOML)
//! says which column holds which field, and each row becomes one event:
//! [`Action::Authentication`] unless an `action` column gives a keyword.
//!
//! Quoting follows RFC 4180 on a single line: fields may be quoted, a quoted
//! field may hold commas and `""` for a quote. A quoted field spanning lines
//! is not supported: the connector reads one line at a time, so such a row
//! is skipped as [`SkipReason::Malformed`] (and so are its continuation
//! lines, which have the wrong number of fields).

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::connectors::json::{action_from_text, parse_timestamp, ConnectorError};
use crate::event::{Action, Decoded, Event, Evidence, FileId, Outcome, Skip, SkipReason};

/// Which CSV column holds each field, by header name (compared without case
/// and surrounding spaces). Read from TOML; every key is optional:
///
/// ```toml
/// timestamp = "time"
/// user = "login"
/// host = ""          # this CSV has no host column
/// action = "event"
/// ```
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnMap {
    /// When it happened: RFC 3339, `YYYY-MM-DD hh:mm:ss[.f]` (UTC when no
    /// zone is given) or epoch seconds/milliseconds. Required.
    pub timestamp: String,
    /// The remote peer, IP or host name; `""` if the CSV has none.
    pub source_ip: String,
    /// The account attempted. Required; a row with it empty is skipped.
    pub user: String,
    /// Whether it succeeded: true/false, 1/0, yes/no, success/failure (any
    /// case; empty = unknown); `""` if the CSV has none.
    pub success: String,
    /// The system that logged the event; `""` if the CSV has none.
    pub host: String,
    /// Optional: the loglynx action keyword of each row (`authentication`,
    /// `user-created`, ...); empty cells mean `authentication`.
    pub action: Option<String>,
    /// Optional: the program that logged the event.
    pub program: Option<String>,
    /// Optional: the remote peer's port.
    pub source_port: Option<String>,
    /// Optional: the account acted upon (sudo/su target, created account).
    pub target_user: Option<String>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            timestamp: "timestamp".into(),
            source_ip: "source_ip".into(),
            user: "username".into(),
            success: "success".into(),
            host: "system".into(),
            action: None,
            program: None,
            source_port: None,
            target_user: None,
        }
    }
}

impl ColumnMap {
    /// Reads a column map from a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConnectorError> {
        Self::parse(&super::json::read_map_file(path)?, path)
    }

    /// Reads a column map from TOML text (errors name `<string>`).
    pub fn from_toml_str(text: &str) -> Result<Self, ConnectorError> {
        Self::parse(text, Path::new("<string>"))
    }

    fn parse(text: &str, path: &Path) -> Result<Self, ConnectorError> {
        toml::from_str(text).map_err(|source| ConnectorError::ColumnMap {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Column indices resolved from a header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    fields: usize,
    timestamp: usize,
    user: usize,
    source_ip: Option<usize>,
    success: Option<usize>,
    host: Option<usize>,
    action: Option<usize>,
    program: Option<usize>,
    source_port: Option<usize>,
    target_user: Option<usize>,
}

impl CsvLayout {
    /// Resolves the mapped columns in a header line. The first column of a
    /// name wins. Fails naming every mapped column the header lacks.
    pub fn from_header(header: &str, map: &ColumnMap) -> Result<Self, ConnectorError> {
        if map.timestamp.trim().is_empty() {
            return Err(ConnectorError::EmptyColumnName { field: "timestamp" });
        }
        if map.user.trim().is_empty() {
            return Err(ConnectorError::EmptyColumnName { field: "user" });
        }
        let header = header.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
        let names = split_row(header).unwrap_or_default();
        let mut missing = Vec::new();
        let mut find = |name: &str| -> Option<usize> {
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let i = names.iter().position(|n| n.trim().eq_ignore_ascii_case(name));
            if i.is_none() {
                missing.push(name.to_owned());
            }
            i
        };
        let timestamp = find(&map.timestamp);
        let source_ip = find(&map.source_ip);
        let user = find(&map.user);
        let success = find(&map.success);
        let host = find(&map.host);
        let action = map.action.as_deref().and_then(&mut find);
        let program = map.program.as_deref().and_then(&mut find);
        let source_port = map.source_port.as_deref().and_then(&mut find);
        let target_user = map.target_user.as_deref().and_then(&mut find);
        match (timestamp, user) {
            (Some(timestamp), Some(user)) if missing.is_empty() => Ok(CsvLayout {
                fields: names.len(),
                timestamp,
                user,
                source_ip,
                success,
                host,
                action,
                program,
                source_port,
                target_user,
            }),
            _ => Err(ConnectorError::CsvHeader {
                missing,
                header: header.to_owned(),
            }),
        }
    }

    /// The number of fields every row must have.
    pub fn field_count(&self) -> usize {
        self.fields
    }
}

/// Whether a line is a CSV header holding every column `map` requires.
pub fn looks_like_csv_header(line: &str, map: &ColumnMap) -> bool {
    line.contains(',') && CsvLayout::from_header(line, map).is_ok()
}

/// Decodes one CSV data row (not the header) into an event.
pub fn decode_csv_line<'a>(line: &'a str, file: FileId, line_no: u64, layout: &CsvLayout) -> Decoded<'a> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(Skip::new(SkipReason::Empty));
    }
    let Some(fields) = split_row(line) else {
        return Err(Skip::new(SkipReason::Malformed));
    };
    if fields.len() != layout.fields {
        return Err(Skip::new(SkipReason::Malformed));
    }
    // A cell, trimmed; None when empty or "-".
    let cell = |i: Option<usize>| -> Option<Cow<'a, str>> {
        let c = fields.get(i?)?;
        let t = c.trim();
        if t.is_empty() || t == "-" {
            return None;
        }
        Some(match c {
            Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
            Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
        })
    };
    let program = cell(layout.program);
    let action = match cell(layout.action) {
        None => Action::Authentication,
        Some(a) => match action_from_text(&a) {
            Some(a) => a,
            None => {
                return Err(Skip {
                    reason: SkipReason::Unrecognized,
                    program,
                })
            }
        },
    };
    let Some(timestamp) = cell(Some(layout.timestamp)).and_then(|t| parse_timestamp(&t)) else {
        return Err(Skip::new(SkipReason::BadTimestamp));
    };
    let Some(user) = cell(Some(layout.user)) else {
        return Err(Skip::new(SkipReason::MissingField));
    };
    let outcome = match cell(layout.success) {
        None => Outcome::Unknown,
        Some(s) => match success_from_text(&s) {
            Some(o) => o,
            None => return Err(Skip::new(SkipReason::Malformed)),
        },
    };
    let port = match cell(layout.source_port) {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => return Err(Skip::new(SkipReason::Malformed)),
        },
    };
    let evidence = Evidence {
        file,
        line: line_no,
        raw: Cow::Borrowed(line),
    };
    let mut ev = Event::new(timestamp, action, evidence);
    ev.outcome = outcome;
    ev.user = Some(user);
    ev.host = cell(layout.host);
    if let Some(src) = cell(layout.source_ip) {
        ev.set_source(src);
    }
    ev.source_port = port;
    ev.program = program;
    ev.target_user = cell(layout.target_user);
    Ok(ev)
}

/// The 1-based line of `text` that a record read by the `csv` crate starts
/// on. The crate's position of a record includes the blank lines before it.
pub fn record_line(text: &[u8], record: &::csv::StringRecord) -> u64 {
    let mut at = record.position().map_or(0, |p| p.byte() as usize).min(text.len());
    while matches!(text.get(at), Some(b'\n' | b'\r')) {
        at += 1;
    }
    memchr::memchr_iter(b'\n', &text[..at]).count() as u64 + 1
}

fn success_from_text(s: &str) -> Option<Outcome> {
    Some(match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "success" | "t" | "y" => Outcome::Success,
        "false" | "0" | "no" | "failure" | "f" | "n" => Outcome::Failure,
        _ => return None,
    })
}

/// Splits one line into fields (RFC 4180 on a single line; spaces around a
/// quoted field are allowed). Unquoted fields and quoted fields without `""`
/// borrow the line. `None` when a quote is left open or a closing quote is
/// followed by anything but a comma.
///
/// Not the `csv` crate (used for whole CSV files elsewhere): it copies every
/// field and reads an open quote or text after a closing quote without an
/// error, where this connector must skip the row as malformed.
fn split_row(line: &str) -> Option<Vec<Cow<'_, str>>> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.trim_start_matches(' ').strip_prefix('"') {
            // Find the closing quote, skipping doubled quotes.
            let bytes = quoted.as_bytes();
            let mut i = 0;
            let mut escaped = false;
            loop {
                let q = i + memchr::memchr(b'"', &bytes[i..])?;
                if bytes.get(q + 1) == Some(&b'"') {
                    escaped = true;
                    i = q + 2;
                } else {
                    i = q;
                    break;
                }
            }
            let body = &quoted[..i];
            fields.push(if escaped {
                Cow::Owned(body.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(body)
            });
            let after = quoted[i + 1..].trim_start_matches(' ');
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => return Some(fields),
                None => return None,
            }
        } else {
            match memchr::memchr(b',', rest.as_bytes()) {
                Some(c) => {
                    fields.push(Cow::Borrowed(&rest[..c]));
                    rest = &rest[c + 1..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Some(fields);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_rfc3339;

    const HEADER: &str = "timestamp,source_ip,username,success,system";

    fn layout() -> CsvLayout {
        CsvLayout::from_header(HEADER, &ColumnMap::default()).unwrap()
    }

    fn row(line: &str) -> Decoded<'_> {
        decode_csv_line(line, 2, 7, &layout())
    }

    fn reason(line: &str) -> SkipReason {
        match row(line) {
            Ok(ev) => panic!("{line}: decoded {ev:?}"),
            Err(s) => s.reason,
        }
    }

    #[test]
    fn plain_row() {
        let line = "2024-03-03 04:05:06,203.0.113.9,root,false,web1\r";
        let ev = row(line).unwrap();
        assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T04:05:06Z");
        assert_eq!(ev.action, Action::Authentication);
        assert_eq!(ev.outcome, Outcome::Failure);
        assert_eq!(ev.user.as_deref(), Some("root"));
        assert_eq!(ev.source_ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(ev.host.as_deref(), Some("web1"));
        assert_eq!((ev.evidence.file, ev.evidence.line), (2, 7));
        assert_eq!(ev.evidence.raw, "2024-03-03 04:05:06,203.0.113.9,root,false,web1");
        assert!(
            matches!(ev.user, Some(Cow::Borrowed(_))),
            "unquoted fields borrow the line"
        );
    }

    #[test]
    fn success_values() {
        for (v, want) in [
            ("true", Outcome::Success),
            ("TRUE", Outcome::Success),
            ("1", Outcome::Success),
            ("yes", Outcome::Success),
            ("Success", Outcome::Success),
            ("false", Outcome::Failure),
            ("0", Outcome::Failure),
            ("No", Outcome::Failure),
            ("FAILURE", Outcome::Failure),
            ("", Outcome::Unknown),
        ] {
            let line = format!("1709438706,2001:db8::1,alice,{v},h");
            assert_eq!(row(&line).unwrap().outcome, want, "{v:?}");
        }
        assert_eq!(reason("1709438706,10.0.0.1,alice,maybe,h"), SkipReason::Malformed);
    }

    #[test]
    fn record_lines_count_blank_and_quoted_lines() {
        let text = "a,b\n1,2\n\n\r\n\"x\ny\",3\n4,5\n";
        let mut r = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let lines: Vec<u64> = r
            .records()
            .map(|rec| record_line(text.as_bytes(), &rec.unwrap()))
            .collect();
        assert_eq!(lines, [2, 5, 7]);
    }

    #[test]
    fn quoting() {
        let line = r#""2024-03-03T04:05:06+01:00","10.0.0.1","o""brien, jr",TRUE,"db, primary""#;
        let ev = row(line).unwrap();
        assert_eq!(ev.user.as_deref(), Some("o\"brien, jr"));
        assert_eq!(ev.host.as_deref(), Some("db, primary"));
        assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T03:05:06Z");
        // Spaces around quoted fields and cells.
        let ev = row(r#"1709438706, "10.0.0.1" , bob ,yes,"""#).unwrap();
        assert_eq!(ev.source_address.as_deref(), Some("10.0.0.1"));
        assert_eq!(ev.user.as_deref(), Some("bob"));
        assert_eq!(ev.host, None);
        assert_eq!(split_row(r#"a,"",b"#).unwrap(), ["a", "", "b"]);
        assert_eq!(split_row("a,,").unwrap(), ["a", "", ""]);
        assert_eq!(split_row(r#"a"b,c"#).unwrap(), ["a\"b", "c"]);
    }

    #[test]
    fn multi_line_quoted_field_is_malformed() {
        // The first physical line of a row whose quoted field spans lines.
        assert_eq!(reason(r#"1709438706,10.0.0.1,"alice"#), SkipReason::Malformed);
        // Its continuation line.
        assert_eq!(reason(r#"smith",true,web1"#), SkipReason::Malformed);
        assert_eq!(
            reason(r#"1709438706,"10.0.0.1"x,alice,true,web1"#),
            SkipReason::Malformed
        );
    }

    #[test]
    fn bad_rows() {
        assert_eq!(reason(""), SkipReason::Empty);
        assert_eq!(reason(" \r"), SkipReason::Empty);
        assert_eq!(reason("1709438706,10.0.0.1,alice,true"), SkipReason::Malformed);
        assert_eq!(
            reason("1709438706,10.0.0.1,alice,true,web1,extra"),
            SkipReason::Malformed
        );
        assert_eq!(reason("1709438706,10.0.0.1,,true,web1"), SkipReason::MissingField);
        assert_eq!(reason("1709438706,10.0.0.1,-,true,web1"), SkipReason::MissingField);
        assert_eq!(reason("yesterday,10.0.0.1,alice,true,web1"), SkipReason::BadTimestamp);
        assert_eq!(reason(",10.0.0.1,alice,true,web1"), SkipReason::BadTimestamp);
        assert_eq!(
            reason("2024-02-30 00:00:00,10.0.0.1,alice,true,web1"),
            SkipReason::BadTimestamp
        );
        // The header itself, if fed as a row.
        assert_eq!(reason(HEADER), SkipReason::BadTimestamp);
    }

    #[test]
    fn header_resolution() {
        let map = ColumnMap::default();
        let l = CsvLayout::from_header(
            "\u{feff}System, Success ,\"USERNAME\",source_ip,timestamp,extra\r\n",
            &map,
        )
        .unwrap();
        assert_eq!(l.field_count(), 6);
        let ev = decode_csv_line("web1,1,alice,10.0.0.1,1709438706000,x", 0, 2, &l).unwrap();
        assert_eq!((ev.host.as_deref(), ev.user.as_deref()), (Some("web1"), Some("alice")));
        assert_eq!(format_rfc3339(ev.timestamp), "2024-03-03T04:05:06Z");

        let e = CsvLayout::from_header("time,source_ip,user,success,system", &map).unwrap_err();
        match &e {
            ConnectorError::CsvHeader { missing, .. } => assert_eq!(missing, &["timestamp", "username"]),
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("\"timestamp\"") && msg.contains("\"username\""), "{msg}");

        let map = ColumnMap {
            program: Some("prog".into()),
            ..ColumnMap::default()
        };
        let e = CsvLayout::from_header(HEADER, &map).unwrap_err();
        assert!(e.to_string().contains("\"prog\""), "{e}");

        let map = ColumnMap {
            user: " ".into(),
            ..ColumnMap::default()
        };
        assert!(matches!(
            CsvLayout::from_header(HEADER, &map),
            Err(ConnectorError::EmptyColumnName { field: "user" })
        ));
    }

    #[test]
    fn column_map_from_toml_with_optional_columns() {
        let map = ColumnMap::from_toml_str(
            r#"
            timestamp = "time"
            user = "login"
            host = ""
            success = ""
            action = "event"
            program = "prog"
            source_port = "port"
            target_user = "target"
            "#,
        )
        .unwrap();
        assert_eq!(map.source_ip, "source_ip");
        let header = "time,login,source_ip,event,prog,port,target";
        assert!(looks_like_csv_header(header, &map));
        let l = CsvLayout::from_header(header, &map).unwrap();
        let ev = decode_csv_line(
            "2024-03-03T04:05:06Z,admin,10.0.0.2,user-created,useradd,,eve",
            0,
            2,
            &l,
        )
        .unwrap();
        assert_eq!(ev.action, Action::UserCreated);
        assert_eq!(ev.outcome, Outcome::Unknown);
        assert_eq!(ev.program.as_deref(), Some("useradd"));
        assert_eq!(ev.target_user.as_deref(), Some("eve"));
        assert_eq!(ev.source_port, None);
        let ev = decode_csv_line("2024-03-03T04:05:06Z,bob,10.0.0.2,,sshd,2222,", 0, 3, &l).unwrap();
        assert_eq!((ev.action, ev.source_port), (Action::Authentication, Some(2222)));
        let ev = decode_csv_line("2024-03-03T04:05:06Z,bob,10.0.0.2,ssh_login,sshd,22,", 0, 3, &l).unwrap();
        assert_eq!(ev.action, Action::Authentication);
        let s = decode_csv_line("2024-03-03T04:05:06Z,bob,10.0.0.2,reboot,init,,", 0, 4, &l).unwrap_err();
        assert_eq!(
            (s.reason, s.program.as_deref()),
            (SkipReason::Unrecognized, Some("init"))
        );
        let s = decode_csv_line("2024-03-03T04:05:06Z,bob,10.0.0.2,,sshd,99999,", 0, 5, &l).unwrap_err();
        assert_eq!(s.reason, SkipReason::Malformed);
    }

    #[test]
    fn column_map_rejects_unknown_keys() {
        let e = ColumnMap::from_toml_str("usr = \"login\"").unwrap_err();
        assert!(matches!(e, ConnectorError::ColumnMap { .. }), "{e:?}");
        assert!(e.to_string().contains("usr"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cols.toml");
        std::fs::write(&path, "timestamp = \"t\"\ncolour = \"x\"\n").unwrap();
        let msg = ColumnMap::from_toml_file(&path).unwrap_err().to_string();
        assert!(msg.contains("cols.toml") && msg.contains("colour"), "{msg}");
        let text = toml::to_string(&ColumnMap::default()).unwrap();
        assert_eq!(ColumnMap::from_toml_str(&text).unwrap(), ColumnMap::default());
    }

    #[test]
    fn header_detection() {
        let map = ColumnMap::default();
        assert!(looks_like_csv_header(HEADER, &map));
        assert!(!looks_like_csv_header("timestamp,username", &map));
        assert!(!looks_like_csv_header(r#"{"timestamp":1}"#, &map));
        assert!(!looks_like_csv_header("", &map));
    }

    #[test]
    fn layout_is_send_and_sync() {
        fn check<T: Clone + Send + Sync>() {}
        check::<CsvLayout>();
    }

    #[test]
    fn truncations_never_panic() {
        let l = layout();
        let samples = [
            r#""2024-03-03T04:05:06+01:00","10.0.0.1","o""brien, jr",TRUE,"db, primary""#,
            "2024-03-03 04:05:06.5,fe80::1%eth0,rööt,no,wëb1",
            r#"1709438706, "10.0.0.1" , bob ,yes,"""#,
        ];
        for s in samples {
            for (i, _) in s.char_indices() {
                let _ = decode_csv_line(&s[..i], 0, 1, &l);
                let _ = decode_csv_line(&s[i..], 0, 1, &l);
                let _ = CsvLayout::from_header(&s[..i], &ColumnMap::default());
            }
        }
    }
}
