//! Linux audit records (`audit.log`): the `node=`/`type=`/`msg=audit(...)`
//! header, quoted, hex-encoded and enriched fields, and every record type
//! the connector reads; also `looks_like_audit`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::audit::{decode_audit_line, looks_like_audit};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = looks_like_audit(text);
    for line in text.split('\n') {
        let _ = decode_audit_line(line, 0, 1);
    }
});
