//! Civil-time arithmetic and fast timestamp formatting (UTC, whole seconds).

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
pub(crate) const MINUTE: i64 = 60;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
pub(crate) fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i32, u32, u32) {
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

/// Day of the week of a day count since 1970-01-01: 0 = Monday … 6 = Sunday.
pub(crate) fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday (3).
    (days + 3).rem_euclid(7) as u32
}

fn push2(buf: &mut Vec<u8>, n: u32) {
    buf.push(b'0' + (n / 10) as u8);
    buf.push(b'0' + (n % 10) as u8);
}

/// Appends the decimal form of `n`.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn split(ts: i64) -> (i32, u32, u32, u32, u32, u32) {
    let days = ts.div_euclid(DAY);
    let secs = ts.rem_euclid(DAY) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// RFC 3164 timestamp: `Mar  3 08:00:01` (day space-padded).
pub(crate) fn push_syslog_ts(buf: &mut Vec<u8>, ts: i64) {
    let (_, m, d, hh, mm, ss) = split(ts);
    buf.extend_from_slice(MONTHS[m as usize - 1].as_bytes());
    buf.push(b' ');
    if d < 10 {
        buf.push(b' ');
        buf.push(b'0' + d as u8);
    } else {
        push2(buf, d);
    }
    buf.push(b' ');
    push2(buf, hh);
    buf.push(b':');
    push2(buf, mm);
    buf.push(b':');
    push2(buf, ss);
}

/// RFC 3339 UTC timestamp: `2026-03-02T08:00:01Z`.
pub(crate) fn push_rfc3339(buf: &mut Vec<u8>, ts: i64) {
    let (y, m, d, hh, mm, ss) = split(ts);
    push_u64(buf, y as u64);
    buf.push(b'-');
    push2(buf, m);
    buf.push(b'-');
    push2(buf, d);
    buf.push(b'T');
    push2(buf, hh);
    buf.push(b':');
    push2(buf, mm);
    buf.push(b':');
    push2(buf, ss);
    buf.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_format() {
        let days = days_from_civil(2026, 3, 2);
        assert_eq!(civil_from_days(days), (2026, 3, 2));
        assert_eq!(weekday(days), 0, "2026-03-02 is a Monday");
        let mut b = Vec::new();
        push_syslog_ts(&mut b, days * DAY + 8 * HOUR + 61);
        assert_eq!(b, b"Mar  2 08:01:01");
        b.clear();
        push_rfc3339(&mut b, (days + 10) * DAY + 23 * HOUR + 59 * MINUTE + 59);
        assert_eq!(b, b"2026-03-12T23:59:59Z");
        b.clear();
        push_syslog_ts(&mut b, (days + 10) * DAY);
        assert_eq!(b, b"Mar 12 00:00:00");
        b.clear();
        push_u64(&mut b, 0);
        push_u64(&mut b, 65535);
        assert_eq!(b, b"065535");
    }
}
