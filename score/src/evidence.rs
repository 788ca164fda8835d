//! Evidence: the raw lines behind alerts, re-read from their files by line
//! number (events keep `file:line`, not the text, to stay small).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use loglynx_features::input::{self, Source};

use crate::alerts::Alert;

/// Longest raw line kept in an alert.
pub const MAX_RAW_LEN: usize = 2048;

/// Fills `raw` of every evidence line; lines that cannot be re-read (stdin,
/// a file changed since) say so instead. Each file is read once,
/// sequentially, up to its last wanted line.
pub fn fill(alerts: &mut [Alert], sources: &[Source]) {
    let mut wanted: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for a in alerts.iter() {
        for e in &a.evidence {
            wanted.entry(e.file_id).or_default().push(e.line);
        }
    }
    let mut found: HashMap<(u32, u64), String> = HashMap::new();
    for (file, mut lines) in wanted {
        lines.sort_unstable();
        lines.dedup();
        let Some(source) = sources.get(file as usize) else {
            continue;
        };
        if *source == Source::Stdin {
            continue;
        }
        let Ok(reader) = input::open(source) else {
            continue;
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
        let mut buf = Vec::new();
        let mut no = 0u64;
        let mut next = 0;
        while next < lines.len() {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            no += 1;
            if no == lines[next] {
                let text = String::from_utf8_lossy(&buf);
                let text = text.trim_end_matches(['\n', '\r']);
                let mut end = text.len().min(MAX_RAW_LEN);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                found.insert((file, no), text[..end].to_owned());
                next += 1;
            }
        }
    }
    for a in alerts.iter_mut() {
        for e in &mut a.evidence {
            e.raw = found
                .get(&(e.file_id, e.line))
                .cloned()
                .unwrap_or_else(|| "(raw line not available: input was stdin or changed)".to_owned());
        }
    }
}
