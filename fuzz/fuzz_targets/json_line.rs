//! JSON lines: ECS through the default field map, a custom field map (with
//! action and outcome values), and the Windows Security events that
//! `decode_json_line` recognizes whatever the map says.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::json::{decode_json_line, looks_like_json, parse_timestamp, FieldMap};

static MAPS: LazyLock<[FieldMap; 2]> = LazyLock::new(|| {
    let custom = FieldMap::from_toml_str(
        r#"
timestamp = "ts"
host = "device.hostname"
user = "actor.login"
source_ip = "client_ip"
source_port = "client.port"
action = "type"
outcome = "result"
message = "msg"
program = "app"

[action_values]
"login.failed" = "authentication"
"account.create" = "user-created"

[outcome_values]
"ok" = "success"
"denied" = "failure"
"#,
    )
    .expect("the custom field map is valid");
    [FieldMap::default(), custom]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = looks_like_json(text);
    let _ = parse_timestamp(text);
    for map in MAPS.iter() {
        let _ = decode_json_line(text, 0, 1, map);
    }
});
