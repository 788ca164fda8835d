//! Evidence: the raw lines behind alerts, re-read from their files by line
//! number (events keep `file:line`, not the text, to stay small).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use loglynx_features::ingest::input::{self, Source};
use rayon::prelude::*;

use crate::alerts::Alert;

/// Longest raw line kept in an alert.
pub const MAX_RAW_LEN: usize = 2048;

/// Fills `raw` of every evidence line; lines that cannot be re-read (stdin,
/// a file changed since) say so instead. `block_starts` (per source, as
/// [`FileReport::block_starts`]) lets an uncompressed file be read only
/// from the blocks that hold wanted lines; without it, or for gzip, each
/// file is read once, sequentially, up to its last wanted line.
///
/// [`FileReport::block_starts`]: loglynx_features::ingest::pipeline::FileReport::block_starts
pub fn fill(alerts: &mut [Alert], sources: &[Source], block_starts: &[Vec<(u64, u64)>]) {
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
        let starts = block_starts.get(file as usize).map_or(&[][..], Vec::as_slice);
        for (no, text) in read_wanted(source, &lines, starts) {
            found.insert((file, no), text);
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

/// A raw line as kept in an alert: lossy UTF-8, no `\r`, at most
/// [`MAX_RAW_LEN`] bytes.
fn kept_text(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    let mut end = text.len().min(MAX_RAW_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The text of each of `lines` (ascending, 1-based) of `source` that can
/// be re-read, cut to [`MAX_RAW_LEN`].
fn read_wanted(source: &Source, lines: &[u64], starts: &[(u64, u64)]) -> Vec<(u64, String)> {
    let mut found = Vec::new();
    match source.path() {
        None => {}
        Some(path) => match uncompressed(path) {
            Some(_) if starts.first().is_some_and(|&(first, offset)| first == 1 && offset == 0) => {
                // Each run of wanted lines in one block is read from the
                // start of that block, the runs in parallel. Line numbers
                // start at 1.
                let mut runs: Vec<(u64, u64, Vec<u64>)> = Vec::new();
                let mut i = lines.partition_point(|&l| l == 0);
                while i < lines.len() {
                    let b = starts.partition_point(|&(first, _)| first <= lines[i]) - 1;
                    let (first, offset) = starts[b];
                    let next = starts.get(b + 1).map(|&(next, _)| next);
                    let n = lines[i..].partition_point(|&l| next.is_none_or(|next| l < next));
                    runs.push((first, offset, lines[i..i + n].iter().map(|l| l - first + 1).collect()));
                    i += n;
                }
                let per_run: Vec<Vec<(u64, String)>> = runs
                    .par_iter()
                    .map(|(first, offset, relative)| {
                        let mut out = Vec::new();
                        if let Ok(mut f) = File::open(path) {
                            if f.seek(SeekFrom::Start(*offset)).is_ok() {
                                read_lines(&mut f, relative, |no, line| out.push((no + first - 1, kept_text(line))));
                            }
                        }
                        out
                    })
                    .collect();
                found.extend(per_run.into_iter().flatten());
            }
            _ => {
                if let Ok(reader) = input::open(source) {
                    read_lines(reader, lines, |no, line| found.push((no, kept_text(line))));
                }
            }
        },
    }
    found
}

/// The file at `path`, opened, unless it is read through a decoder (gzip,
/// journal export), whose offsets are not the file's.
fn uncompressed(path: &std::path::Path) -> Option<File> {
    let mut f = File::open(path).ok()?;
    let mut head = Vec::with_capacity(16);
    (&mut f).take(16).read_to_end(&mut head).ok()?;
    (!input::is_transformed(&head)).then_some(f)
}

/// Calls `each` with the number and text (without the newline) of each of
/// `lines` (ascending, 1-based) in `r`, reading blocks and stopping after
/// the last one. Lines before a wanted one are skipped by counting
/// newlines in bulk. A read error ends the lines found.
fn read_lines(mut r: impl Read, lines: &[u64], mut each: impl FnMut(u64, &[u8])) {
    const BLOCK: u64 = 1 << 20;
    let mut buf: Vec<u8> = Vec::new();
    // Number of the line starting at buf[0].
    let (mut no, mut next) = (1u64, 0);
    while next < lines.len() {
        // Appends without zeroing the buffer first; retries interrupted
        // reads; on an error, what was read before it is in `buf`.
        let read = r.by_ref().take(BLOCK).read_to_end(&mut buf);
        // buf[start..] begins line `no`.
        let mut start = 0;
        while next < lines.len() {
            if lines[next] < no {
                next += 1;
                continue;
            }
            let skip = lines[next] - no;
            if skip > 0 {
                match nth_newline(&buf[start..], skip) {
                    Ok(at) => {
                        start += at + 1;
                        no += skip;
                    }
                    Err(found) => {
                        // Fewer lines than that here: past the last whole one.
                        if let Some(at) = memchr::memrchr(b'\n', &buf[start..]) {
                            start += at + 1;
                            no += found;
                        }
                        break;
                    }
                }
            }
            let Some(end) = memchr::memchr(b'\n', &buf[start..]) else {
                break;
            };
            each(no, &buf[start..start + end]);
            next += 1;
            no += 1;
            start += end + 1;
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
    }
}

/// The position of the `n`-th newline (1-based) of `hay`, or how many
/// newlines it has when fewer. Newlines are counted a chunk at a time.
fn nth_newline(hay: &[u8], n: u64) -> Result<usize, u64> {
    const CHUNK: usize = 64 << 10;
    let mut left = n;
    for (c, chunk) in hay.chunks(CHUNK).enumerate() {
        let count = memchr::memchr_iter(b'\n', chunk).count() as u64;
        if count < left {
            left -= count;
            continue;
        }
        let at = memchr::memchr_iter(b'\n', chunk)
            .nth((left - 1) as usize)
            .expect("counted");
        return Ok(c * CHUNK + at);
    }
    Err(n - left)
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
    fn lines_skipped_in_bulk_across_chunks_and_blocks_are_the_right_ones() {
        let text: String = (1..=50_000u32)
            .map(|no| format!("{no} {}\n", "y".repeat((no % 61) as usize)))
            .collect();
        let all: Vec<&str> = text.lines().collect();
        let wanted = [1, 2, 1700, 1701, 30_000, 49_999, 50_000, 50_001];
        let mut got = Vec::new();
        read_lines(text.as_bytes(), &wanted, |no, line| {
            got.push((no, String::from_utf8_lossy(line).into_owned()))
        });
        let want: Vec<(u64, String)> = wanted
            .iter()
            .filter_map(|&no| all.get(no as usize - 1).map(|l| (no, l.to_string())))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn lines_read_from_their_blocks_equal_lines_read_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        let mut text = String::new();
        let mut starts = Vec::new();
        for no in 1..=1000u64 {
            if no % 97 == 1 {
                starts.push((no, text.len() as u64));
            }
            text.push_str(&format!("line {no} {}\r\n", "x".repeat((no % 13) as usize)));
        }
        std::fs::write(&path, &text).unwrap();
        let source = Source::File(path.clone());
        let lines = [1, 2, 96, 97, 98, 194, 500, 501, 999, 1000, 1001];
        let sequential = read_wanted(&source, &lines, &[]);
        assert_eq!(sequential.len(), 10);
        assert_eq!(sequential[2], (96, format!("line 96 {}", "x".repeat(5))));
        assert_eq!(read_wanted(&source, &lines, &starts), sequential);
        // A file cut since: the lines still there, no others.
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let cut = read_wanted(&source, &lines, &starts);
        assert!(!cut.is_empty() && cut.len() < sequential.len());
        assert_eq!(cut[..], sequential[..cut.len()]);
        // Gzip is read from the start whatever the block offsets say.
        let gz = dir.path().join("auth.log.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_wanted(&Source::File(gz), &lines, &starts), sequential);
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
