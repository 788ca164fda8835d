//! Evidence: the raw lines behind alerts, re-read from their files by line
//! number (events keep `file:line`, not the text, to stay small).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

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
        read_lines(reader, &lines, |no, line| {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches('\r');
            let mut end = text.len().min(MAX_RAW_LEN);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            found.insert((file, no), text[..end].to_owned());
        });
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

/// Calls `each` with the number and text (without the newline) of each of
/// `lines` (ascending, 1-based) in `r`, reading blocks and stopping after
/// the last one. A read error ends the lines found.
fn read_lines(mut r: impl Read, lines: &[u64], mut each: impl FnMut(u64, &[u8])) {
    const BLOCK: u64 = 1 << 20;
    let mut buf: Vec<u8> = Vec::new();
    // Number of the line starting at buf[0]; buf[..scanned] has no newline.
    let (mut no, mut scanned, mut next) = (1u64, 0, 0);
    while next < lines.len() {
        // Appends without zeroing the buffer first; retries interrupted
        // reads; on an error, what was read before it is in `buf`.
        let read = r.by_ref().take(BLOCK).read_to_end(&mut buf);
        let mut start = 0;
        while next < lines.len() {
            let from = start.max(scanned);
            let Some(i) = memchr::memchr(b'\n', &buf[from..]) else {
                break;
            };
            let end = from + i;
            if no == lines[next] {
                each(no, &buf[start..end]);
                next += 1;
            }
            no += 1;
            start = end + 1;
        }
        match read {
            // A line cut by the error is not the line.
            Err(_) => break,
            Ok(0) => {
                // The last line may lack its newline.
                if next < lines.len() && no == lines[next] && start < buf.len() {
                    each(no, &buf[start..]);
                }
                break;
            }
            Ok(_) => {}
        }
        buf.drain(..start);
        scanned = buf.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_lines_are_read_across_blocks_and_without_a_final_newline() {
        // Lines longer than a block, CRLF, and a last line with no newline.
        let long = "x".repeat(3 << 20);
        let text = format!("one\r\n{long}\nthree\n\nfive");
        let read = |lines: &[u64]| {
            let mut got = Vec::new();
            read_lines(text.as_bytes(), lines, |no, line| {
                got.push((no, String::from_utf8_lossy(line).into_owned()))
            });
            got
        };
        let got = read(&[1, 2, 3, 4, 5]);
        let want = [(1, "one\r"), (2, long.as_str()), (3, "three"), (4, ""), (5, "five")];
        assert_eq!(got.len(), want.len());
        for ((no, line), (wno, wline)) in got.iter().zip(want) {
            assert_eq!((*no, line.as_str()), (wno, wline));
        }
        assert_eq!(read(&[3, 6]), vec![(3, "three".to_owned())]);
        assert!(read(&[]).is_empty());
    }

    #[test]
    fn a_read_error_keeps_the_lines_before_it_and_not_the_cut_one() {
        // "one\ntw", then an error: "tw" is not line 2.
        let failing = std::io::Read::chain(&b"one\ntw"[..], FailingReader);
        let mut got = Vec::new();
        read_lines(failing, &[1, 2], |no, line| got.push((no, line.to_vec())));
        assert_eq!(got, vec![(1, b"one".to_vec())]);
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }
}
