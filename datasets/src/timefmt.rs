//! Fast timestamp formatting (UTC, whole seconds); dates come from chrono.

use chrono::{Datelike, Timelike};

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
pub(crate) const MINUTE: i64 = 60;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

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
    let t = chrono::DateTime::from_timestamp(ts, 0).expect("timestamp within chrono's range");
    (t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

/// Seconds since the epoch of midnight UTC of `date`.
pub(crate) fn midnight(date: chrono::NaiveDate) -> i64 {
    date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp()
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
        let days = midnight(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()) / DAY;
        assert_eq!(days * DAY, 1_772_409_600);
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
