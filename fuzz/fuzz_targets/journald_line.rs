//! journald JSON lines (`journalctl -o json`): the fields loglynx reads,
//! byte-array and multi-value fields, and the message through the
//! per-program decoders; also `looks_like_journald`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::journald::{decode_journald_line, looks_like_journald};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = looks_like_journald(text);
    let _ = decode_journald_line(text, 0, 1);
});
