//! Fast civil-time arithmetic for the hot path (no allocation, no time-zone
//! database): calendar date and time of day to UTC microseconds and back;
//! durations written as `90s`, `15m`, `1h`, `7d`.

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
}
