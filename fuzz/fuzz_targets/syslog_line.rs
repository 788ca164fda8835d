//! Syslog headers (RFC 3164, RFC 5424, ISO-8601) and, through them, every
//! message decoder; also format detection and the first-month scan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::csv::ColumnMap;
use loglynx_features::connectors::syslog::{decode_line, first_month, looks_like_syslog, YearResolver};
use loglynx_features::ingest::input::detect_format;

fuzz_target!(|data: &[u8]| {
    let _ = detect_format("input", data, &ColumnMap::default());
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = first_month(text);
    let resolvers = [
        YearResolver::fixed(2024),
        // December first: later January lines roll over into the next year.
        YearResolver::starting(2023, 12),
        YearResolver::ending(2026, 1, 15),
        YearResolver::fixed(1),
        YearResolver::fixed(9999),
    ];
    // The whole input as one line (embedded newlines and all), then line by
    // line as the pipeline cuts it.
    for years in &resolvers {
        let _ = decode_line(text, 0, 1, years);
    }
    for (no, line) in text.split('\n').enumerate() {
        let _ = looks_like_syslog(line);
        let _ = decode_line(line, 0, no as u64 + 1, &resolvers[0]);
    }
});
