//! `journalctl -o export` streams: text and binary (length-prefixed)
//! fields, repeated keys, non-UTF-8 values, entries cut short; the JSON
//! lines they become are then decoded as journald entries.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::journal_export::{looks_like_export, ExportToJson};
use loglynx_features::connectors::journald::decode_journald_line;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_export(data);
    let mut json = Vec::new();
    // A corrupt stream is an error after the entries before it.
    let _ = ExportToJson::new(data).read_to_end(&mut json);
    for (no, line) in json.split(|&b| b == b'\n').enumerate() {
        if let Ok(line) = std::str::from_utf8(line) {
            let _ = decode_journald_line(line, 0, no as u64 + 1);
        }
    }
});
