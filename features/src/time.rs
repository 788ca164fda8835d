//! Fast civil-time arithmetic for the hot path (no allocation, no time-zone
//! database): calendar date and time of day to UTC microseconds and back;
//! the one ISO-8601 date-time reader; durations written as `90s`, `15m`,
//! `1h`, `7d`.

use crate::event::Micros;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`). `month` is 1–12.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

/// Whether `day` exists in `month` of `year`.
pub fn is_valid_date(year: i32, month: u32, day: u32) -> bool {
    if !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= len
}

/// UTC microseconds of a civil date and time (no validation of ranges beyond
/// what the arithmetic needs; callers check with [`is_valid_date`]).
pub fn to_micros(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32, micros: u32) -> Micros {
    let days = days_from_civil(year, month, day);
    days * MICROS_PER_DAY
        + i64::from(hour) * MICROS_PER_HOUR
        + i64::from(minute) * MICROS_PER_MINUTE
        + i64::from(second) * MICROS_PER_SECOND
        + i64::from(micros)
}

/// Month number (1–12) of an English three-letter abbreviation, any case.
pub fn month_from_abbrev(s: &[u8]) -> Option<u32> {
    if s.len() != 3 {
        return None;
    }
    let l = [
        s[0].to_ascii_lowercase(),
        s[1].to_ascii_lowercase(),
        s[2].to_ascii_lowercase(),
    ];
    Some(match &l {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Formats UTC microseconds as RFC 3339 (`2024-03-03T04:05:06.123456Z`,
/// fraction only when non-zero).
pub fn format_rfc3339(t: Micros) -> String {
    let days = t.div_euclid(MICROS_PER_DAY);
    let rem = t.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / MICROS_PER_SECOND;
    let frac = rem % MICROS_PER_SECOND;
    let (hh, mm, ss) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
    }
}

/// Why [`parse_iso8601`] refused a date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoError {
    /// The text ends inside the date-time.
    Truncated,
    /// The text is not shaped like a date-time.
    Malformed,
    /// Shaped right, but an impossible date, time of day or offset.
    OutOfRange,
}

/// Which spellings of an ISO-8601 date-time [`parse_iso8601`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoStyle {
    /// A log line header (RFC 5424, rsyslog, journald, ISO-prefixed
    /// files): `YYYY-MM-DD(T| )hh:mm:ss[.frac][Z|±hh[:][mm]]`, then anything.
    Header,
    /// A field value (JSON, CSV): also `t` before the time, `hh:mm` without
    /// seconds, `,` before the fraction, a space before the zone and `UTC`
    /// as the zone.
    Value,
}

/// Reads an ISO-8601 date-time at the start of `b` as UTC microseconds (no
/// zone = UTC; a fraction has 1 to 9 digits, those past the sixth are
/// dropped), with the number of bytes read.
pub fn parse_iso8601(b: &[u8], style: IsoStyle) -> Result<(Micros, usize), IsoError> {
    let value = style == IsoStyle::Value;
    let mut r = Bytes { b, i: 0 };
    let year = r.digits(4)? as i32;
    r.expect(b'-')?;
    let month = r.digits(2)?;
    r.expect(b'-')?;
    let day = r.digits(2)?;
    match r.peek() {
        Some(b'T' | b' ') => r.i += 1,
        Some(b't') if value => r.i += 1,
        None => return Err(IsoError::Truncated),
        Some(_) => return Err(IsoError::Malformed),
    }
    let hour = r.digits(2)?;
    r.expect(b':')?;
    let minute = r.digits(2)?;
    let second = if value && r.peek() != Some(b':') {
        0
    } else {
        r.expect(b':')?;
        r.digits(2)?
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Err(IsoError::OutOfRange);
    }
    let micros = match r.peek() {
        Some(b'.') => r.fraction()?,
        Some(b',') if value => r.fraction()?,
        _ => 0,
    };
    if value && r.peek() == Some(b' ') {
        r.i += 1;
    }
    let offset_minutes = match r.peek() {
        Some(b'Z' | b'z') => {
            r.i += 1;
            0
        }
        Some(b'U') if value && b[r.i..].starts_with(b"UTC") => {
            r.i += 3;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            r.i += 1;
            let hours = r.digits(2)?;
            let colon = r.peek() == Some(b':');
            if colon {
                r.i += 1;
            }
            // A header may end its offset at `±hh:`; a value may not.
            let minutes = if r.peek().is_some_and(|c| c.is_ascii_digit()) || (colon && value) {
                r.digits(2)?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return Err(IsoError::OutOfRange);
            }
            let total = i64::from(hours * 60 + minutes);
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => 0,
    };
    if !is_valid_date(year, month, day) {
        return Err(IsoError::OutOfRange);
    }
    let t = to_micros(year, month, day, hour, minute, second, micros) - offset_minutes * MICROS_PER_MINUTE;
    Ok((t, r.i))
}

/// A reading position in bytes.
struct Bytes<'a> {
    b: &'a [u8],
    i: usize,
}

impl Bytes<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, want: u8) -> Result<(), IsoError> {
        match self.peek() {
            None => Err(IsoError::Truncated),
            Some(c) if c == want => {
                self.i += 1;
                Ok(())
            }
            Some(_) => Err(IsoError::Malformed),
        }
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Result<u32, IsoError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                None => return Err(IsoError::Truncated),
                Some(c) if c.is_ascii_digit() => {
                    v = v * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                Some(_) => return Err(IsoError::Malformed),
            }
        }
        Ok(v)
    }

    /// After `.` or `,`: 1 to 9 digits (nanoseconds at most), as microseconds.
    fn fraction(&mut self) -> Result<u32, IsoError> {
        self.i += 1;
        let mut micros = 0u32;
        let mut n = 0u32;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if n < 6 {
                micros = micros * 10 + u32::from(c - b'0');
            }
            n += 1;
            self.i += 1;
        }
        match n {
            0 if self.peek().is_none() => Err(IsoError::Truncated),
            0 => Err(IsoError::Malformed),
            10.. => Err(IsoError::Malformed),
            _ => Ok(micros * 10u32.pow(6 - n.min(6))),
        }
    }
}

/// A duration that [`parse_duration`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration like 90s, 15m, 1h or 1d")]
    NotANumber(String),
    #[error("`{0}`: unit must be s, m, h or d")]
    Unit(String),
    #[error("`{0}` is too long")]
    TooLong(String),
}

/// Seconds of a duration written as a whole number with an optional unit
/// `s`, `m`, `h` or `d` (`90`, `15m`, `1h`).
pub fn parse_duration(s: &str) -> Result<u64, DurationError> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| DurationError::NotANumber(s.to_owned()))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(DurationError::Unit(s.to_owned())),
    };
    n.checked_mul(mult).ok_or_else(|| DurationError::TooLong(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-150_000..150_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!(is_valid_date(y, m, d));
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(to_micros(1970, 1, 1, 0, 0, 0, 0), 0);
        // 2024-02-29T12:00:00Z = 1709208000
        assert_eq!(to_micros(2024, 2, 29, 12, 0, 0, 0), 1_709_208_000 * MICROS_PER_SECOND);
        assert_eq!(
            format_rfc3339(1_709_208_000 * MICROS_PER_SECOND + 5),
            "2024-02-29T12:00:00.000005Z"
        );
    }

    #[test]
    fn invalid_dates_are_rejected() {
        assert!(!is_valid_date(2023, 2, 29));
        assert!(is_valid_date(2000, 2, 29));
        assert!(!is_valid_date(1900, 2, 29));
        assert!(!is_valid_date(2024, 13, 1));
        assert!(!is_valid_date(2024, 4, 31));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(3600));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration(" 90 "), Ok(90));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("1w"), Err(DurationError::Unit("1w".into())));
        assert_eq!(parse_duration("h"), Err(DurationError::NotANumber("h".into())));
        assert_eq!(parse_duration("1.5h"), Err(DurationError::Unit("1.5h".into())));
        assert!(matches!(parse_duration("+5m"), Err(DurationError::NotANumber(_))));
        assert!(matches!(
            parse_duration("9999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert_eq!(
            parse_duration("1w").unwrap_err().to_string(),
            "`1w`: unit must be s, m, h or d"
        );
    }

    #[test]
    fn iso_header_variants() {
        let header = |s: &str| parse_iso8601(s.as_bytes(), IsoStyle::Header).map(|(t, n)| (format_rfc3339(t), n));
        let utc = |s: &str| header(s).map(|(t, _)| t);
        // macOS / ISO-prefixed syslog: space for `T`, offset without colon.
        assert_eq!(
            header("2020-03-23 09:58:27.102292-0700  localhost"),
            Ok(("2020-03-23T16:58:27.102292Z".into(), 31))
        );
        for (sep, s) in [("T", "2020-03-23T09:58:27"), ("space", "2020-03-23 09:58:27")] {
            assert_eq!(utc(&format!("{s} h")).unwrap(), "2020-03-23T09:58:27Z", "{sep}");
            assert_eq!(utc(&format!("{s}Z h")).unwrap(), "2020-03-23T09:58:27Z", "{sep}");
            assert_eq!(utc(&format!("{s}z h")), Ok("2020-03-23T09:58:27Z".into()), "{sep}");
            assert_eq!(utc(&format!("{s}+02:30 h")).unwrap(), "2020-03-23T07:28:27Z", "{sep}");
            assert_eq!(utc(&format!("{s}+0230 h")).unwrap(), "2020-03-23T07:28:27Z", "{sep}");
            assert_eq!(utc(&format!("{s}-02 h")).unwrap(), "2020-03-23T11:58:27Z", "{sep}");
            assert_eq!(utc(&format!("{s}-00:00 h")).unwrap(), "2020-03-23T09:58:27Z", "{sep}");
            // Fractions of 1 to 9 digits, kept to the microsecond.
            for (frac, want) in [
                ("1", "100000"),
                ("12", "120000"),
                ("123", "123000"),
                ("1234", "123400"),
                ("12345", "123450"),
                ("123456", "123456"),
                ("1234567", "123456"),
                ("12345678", "123456"),
                ("123456789", "123456"),
            ] {
                assert_eq!(
                    utc(&format!("{s}.{frac}+01:00 h")).unwrap(),
                    format!("2020-03-23T08:58:27.{want}Z"),
                    "{sep} .{frac}"
                );
            }
        }
        // The offset crosses midnight, the month and the year.
        assert_eq!(utc("2019-12-31 23:30:00-0100 h").unwrap(), "2020-01-01T00:30:00Z");
        assert_eq!(utc("2020-03-01T00:15:00+0100 h").unwrap(), "2020-02-29T23:15:00Z");

        // Rejects.
        assert_eq!(header("2020-13-23 09:58:27 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2020-00-23 09:58:27 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2020-03-23 09:58:27+2500 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2020-03-23 09:58:27+0160 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2020-03-23 09:58:27+1 h"), Err(IsoError::Malformed));
        assert_eq!(header("2020-03-23  09:58:27 h"), Err(IsoError::Malformed));
        assert_eq!(header("2020-03-23 localhost sshd[1]: x"), Err(IsoError::Malformed));
        assert_eq!(header("2020-03-23 09:58 h"), Err(IsoError::Malformed));
        assert_eq!(header("2020-03-23"), Err(IsoError::Truncated));
        assert_eq!(header("2020-03-23 "), Err(IsoError::Truncated));
        assert_eq!(header("2020-03-23t09:58:27 h"), Err(IsoError::Malformed));
        assert_eq!(header("2020-03-23 09:58:27.1234567890Z h"), Err(IsoError::Malformed));
    }

    #[test]
    fn iso_headers_and_values() {
        let header = |s: &str| parse_iso8601(s.as_bytes(), IsoStyle::Header).map(|(t, n)| (format_rfc3339(t), n));
        let value = |s: &str| {
            let (t, n) = parse_iso8601(s.as_bytes(), IsoStyle::Value).ok()?;
            (n == s.len()).then(|| format_rfc3339(t))
        };
        assert_eq!(
            header("2003-10-11T22:14:15.003Z host"),
            Ok(("2003-10-11T22:14:15.003000Z".into(), 24))
        );
        assert_eq!(
            header("2019-06-14T11:31:15.412+02:00 h").unwrap().0,
            "2019-06-14T09:31:15.412000Z"
        );
        assert_eq!(header("2019-06-14T11:31:15-0130 h").unwrap().0, "2019-06-14T13:01:15Z");
        assert_eq!(header("2019-06-14T11:31:15+02: h").unwrap().0, "2019-06-14T09:31:15Z");
        assert_eq!(
            header("2019-06-14T11:31:15 h").unwrap(),
            ("2019-06-14T11:31:15Z".into(), 19)
        );
        assert_eq!(header("2019-06-14T11:31"), Err(IsoError::Truncated));
        assert_eq!(header("2019-06-14t11:31:15 h"), Err(IsoError::Malformed));
        assert_eq!(header("2019-06-14T11:31:15. h"), Err(IsoError::Malformed));
        assert_eq!(header("2019-06-14T11:31:15."), Err(IsoError::Truncated));
        assert_eq!(header("2019-02-30T11:31:15 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2019-06-14T25:31:15 h"), Err(IsoError::OutOfRange));
        assert_eq!(header("2019-06-14T11:31:15+24:00 h"), Err(IsoError::OutOfRange));

        assert_eq!(
            value("2024-03-03 04:05:06,5 UTC").as_deref(),
            Some("2024-03-03T04:05:06.500000Z")
        );
        assert_eq!(value("2024-03-03t04:05").as_deref(), Some("2024-03-03T04:05:00Z"));
        assert_eq!(
            value("2024-03-03T04:05:06 +01").as_deref(),
            Some("2024-03-03T03:05:06Z")
        );
        assert_eq!(
            value("2024-03-03T04:05:06.1234567z").as_deref(),
            Some("2024-03-03T04:05:06.123456Z")
        );
        assert_eq!(value("2024-03-03T04:05:06+01:"), None);
        assert_eq!(value("2024-03-03T04:05:06+01:00x"), None);
        assert_eq!(value("2024-02-30 00:00:00"), None);
    }
}
