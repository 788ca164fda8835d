//! CSV: the first line is the header (resolved through the default column
//! map and a custom one), every later line a row.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use loglynx_features::connectors::csv::{decode_csv_line, looks_like_csv_header, ColumnMap, CsvLayout};

static MAPS: LazyLock<[ColumnMap; 2]> = LazyLock::new(|| {
    let custom = ColumnMap::from_toml_str(
        r#"
timestamp = "time"
user = "login"
source_ip = "ip"
success = "ok"
host = ""
action = "event"
program = "app"
source_port = "port"
target_user = "target"
"#,
    )
    .expect("the custom column map is valid");
    [ColumnMap::default(), custom]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let Some(header) = lines.next() else {
        return;
    };
    let rows: Vec<&str> = lines.collect();
    for map in MAPS.iter() {
        let _ = looks_like_csv_header(header, map);
        let Ok(layout) = CsvLayout::from_header(header, map) else {
            continue;
        };
        for (i, row) in rows.iter().enumerate() {
            let _ = decode_csv_line(row, 0, i as u64 + 2, &layout);
        }
    }
});
