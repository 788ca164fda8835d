//! Inputs: files, directories, globs and `-` (stdin); gzip detected by its
//! magic bytes; per-file format detection; reading in blocks that end at a
//! line boundary so blocks can be decoded in parallel with bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::connectors::journal_export::{looks_like_export, ExportToJson};
use crate::event::FileId;

/// A log input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Syslog: RFC 3164, RFC 5424 or ISO-8601-prefixed lines.
    Syslog,
    /// JSON lines: ECS fields, a field map, or Windows Security events.
    Json,
    /// CSV with a header row, read through a column map.
    Csv,
    /// `journalctl -o json` lines, messages read by the syslog decoders.
    Journald,
    /// Linux audit logs (`/var/log/audit/audit.log`).
    Audit,
}

impl InputFormat {
    pub const ALL: [InputFormat; 5] = [
        InputFormat::Syslog,
        InputFormat::Json,
        InputFormat::Csv,
        InputFormat::Journald,
        InputFormat::Audit,
    ];

    /// One line on what the format reads, for help texts.
    pub fn description(self) -> &'static str {
        match self {
            InputFormat::Syslog => "Syslog: RFC 3164, RFC 5424 or ISO-8601-prefixed lines",
            InputFormat::Json => "JSON lines: ECS fields, a field map, or Windows Security events",
            InputFormat::Csv => "CSV with a header row, read through a column map",
            InputFormat::Journald => "journalctl -o json lines, messages read by the syslog decoders",
            InputFormat::Audit => "Linux audit log (audit.log): user-space login, account and sudo records",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Syslog => "syslog",
            InputFormat::Json => "json",
            InputFormat::Csv => "csv",
            InputFormat::Journald => "journald",
            InputFormat::Audit => "audit",
        }
    }
}

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// A file standing in for an input that is not one, such as the
    /// documents read from a cluster: read from `path`, named `name` in
    /// messages and evidence.
    Spooled {
        path: PathBuf,
        name: String,
    },
}

impl Source {
    /// The name shown in messages and evidence (`-` for stdin).
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "-".to_owned(),
            Source::File(p) => p.display().to_string(),
            Source::Spooled { name, .. } => name.clone(),
        }
    }

    /// The file read, unless this is stdin.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Stdin => None,
            Source::File(p) | Source::Spooled { path: p, .. } => Some(p),
        }
    }

    /// Modification time, used to infer the year of RFC 3164 timestamps.
    pub fn modified(&self) -> Option<SystemTime> {
        match self {
            Source::Stdin | Source::Spooled { .. } => None,
            Source::File(p) => std::fs::metadata(p).and_then(|m| m.modified()).ok(),
        }
    }
}

/// An input argument that named nothing readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub reason: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.input, self.reason)
    }
}

/// Expands input arguments: `-` is stdin, a directory is every file below it
/// (sorted, hidden files skipped), an argument with `*`, `?` or `[` is a glob.
/// Arguments that match nothing are returned as errors; the rest go on.
pub fn discover(args: &[String]) -> (Vec<Source>, Vec<InputError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg == "-" {
            sources.push(Source::Stdin);
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            let before = sources.len();
            walk_dir(path, &mut sources, &mut errors);
            if sources.len() == before {
                errors.push(InputError {
                    input: arg.clone(),
                    reason: "directory holds no files".into(),
                });
            }
        } else if path.is_file() {
            sources.push(Source::File(path.to_path_buf()));
        } else if arg.contains(['*', '?', '[']) {
            match glob::glob(arg) {
                Ok(paths) => {
                    let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
                    matched.sort();
                    if matched.is_empty() {
                        errors.push(InputError {
                            input: arg.clone(),
                            reason: "pattern matches no file".into(),
                        });
                    }
                    sources.extend(matched.into_iter().map(Source::File));
                }
                Err(e) => errors.push(InputError {
                    input: arg.clone(),
                    reason: format!("bad glob pattern: {e}"),
                }),
            }
        } else {
            errors.push(InputError {
                input: arg.clone(),
                reason: "no such file or directory".into(),
            });
        }
    }
    (sources, errors)
}

fn walk_dir(dir: &Path, sources: &mut Vec<Source>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(InputError {
                input: dir.display().to_string(),
                reason: e.to_string(),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk_dir(&p, sources, errors);
        } else if p.is_file() {
            sources.push(Source::File(p));
        }
    }
}

/// Opens a source for reading, decompressing gzip (detected by magic bytes,
/// whatever the file name says) and turning a `journalctl -o export` stream
/// into journald JSON lines.
pub fn open(source: &Source) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match source {
        Source::Stdin => Box::new(io::stdin()),
        Source::File(p) | Source::Spooled { path: p, .. } => Box::new(File::open(p)?),
    };
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let is_gzip = {
        let head = buffered.fill_buf()?;
        is_gzip(head)
    };
    if is_gzip {
        let mut inner = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(buffered));
        if looks_like_export(inner.fill_buf()?) {
            return Ok(Box::new(ExportToJson::new(inner)));
        }
        Ok(Box::new(inner))
    } else if looks_like_export(buffered.fill_buf()?) {
        Ok(Box::new(ExportToJson::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

fn is_gzip(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
}

/// Whether the bytes at an input's start mean it is read through a
/// decoder (gzip, journal export), so byte offsets of what the pipeline
/// reads are not the file's.
pub fn is_transformed(head: &[u8]) -> bool {
    is_gzip(head) || looks_like_export(head)
}

/// A run of whole lines from one input.
#[derive(Debug, Clone)]
pub struct Block {
    pub file: FileId,
    /// Line number of the first line in `data` (1-based).
    pub first_line: u64,
    /// Whole lines; the last one may lack its newline only at end of input.
    pub data: Vec<u8>,
}

impl Block {
    /// Lines of the block with their 1-based numbers, line endings removed
    /// (`\n` and a preceding `\r`).
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let mut rest: &[u8] = &self.data;
        let mut no = self.first_line;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let n = no;
            no += 1;
            Some((n, line))
        })
    }
}

/// Reads an input as blocks of about `block_size` bytes cut at line ends.
pub struct BlockReader {
    reader: Box<dyn Read + Send>,
    file: FileId,
    block_size: usize,
    carry: Vec<u8>,
    next_line: u64,
    done: bool,
    /// A read error met after some data: reported on the call after that
    /// data's block, so what was read before it is not lost.
    pending_error: Option<io::Error>,
}

impl BlockReader {
    pub fn new(reader: Box<dyn Read + Send>, file: FileId, block_size: usize) -> Self {
        BlockReader {
            reader,
            file,
            block_size: block_size.max(1024),
            carry: Vec::new(),
            next_line: 1,
            done: false,
            pending_error: None,
        }
    }

    /// The next block, `None` at end of input. A read error (a corrupt gzip
    /// member, say) first yields the lines read before it, then the error.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut data = std::mem::take(&mut self.carry);
        data.reserve(self.block_size + self.block_size / 8);
        // Fill to block_size, then keep reading until a newline appears past it.
        loop {
            let start = data.len();
            let want = if start < self.block_size {
                self.block_size - start
            } else {
                64 * 1024
            };
            data.resize(start + want, 0);
            let (n, error) = read_full(&mut self.reader, &mut data[start..]);
            data.truncate(start + n);
            if let Some(e) = error {
                self.done = true;
                if data.is_empty() {
                    return Err(e);
                }
                self.pending_error = Some(e);
                break;
            }
            if n == 0 {
                self.done = true;
                break;
            }
            if data.len() >= self.block_size {
                if let Some(cut) = memchr::memrchr(b'\n', &data) {
                    self.carry = data[cut + 1..].to_vec();
                    data.truncate(cut + 1);
                    break;
                }
            }
        }
        if data.is_empty() {
            return Ok(None);
        }
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64 + u64::from(data.last() != Some(&b'\n'));
        let block = Block {
            file: self.file,
            first_line: self.next_line,
            data,
        };
        self.next_line += lines;
        Ok(Some(block))
    }
}

/// Reads until `buf` is full or the input ends; an error comes back with
/// the count of bytes read before it.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// Guesses the format from the first non-blank line and the file name.
/// Journald JSON and audit records are recognized by their content first,
/// whatever the name (a journald export is often named `.json`).
pub fn detect_format(name: &str, head: &[u8], columns: &crate::connectors::csv::ColumnMap) -> InputFormat {
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    let first = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(String::from_utf8_lossy);
    if let Some(first) = &first {
        if crate::connectors::journald::looks_like_journald(first) {
            return InputFormat::Journald;
        }
        if crate::connectors::audit::looks_like_audit(first) {
            return InputFormat::Audit;
        }
    }
    if lower.ends_with(".json") || lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        return InputFormat::Json;
    }
    let Some(first) = first else {
        return InputFormat::Syslog;
    };
    if crate::connectors::json::looks_like_json(&first) {
        InputFormat::Json
    } else if lower.ends_with(".csv") || crate::connectors::csv::looks_like_csv_header(&first, columns) {
        InputFormat::Csv
    } else {
        InputFormat::Syslog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(data: &[u8], size: usize) -> Vec<Block> {
        let mut r = BlockReader::new(Box::new(io::Cursor::new(data.to_vec())), 0, size);
        let mut out = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn blocks_cut_at_line_ends_and_number_lines() {
        let mut text = Vec::new();
        for i in 1..=5000 {
            text.extend_from_slice(format!("line {i} with some padding text\r\n").as_bytes());
        }
        text.extend_from_slice(b"last line without newline");
        let bs = blocks(&text, 1024);
        assert!(bs.len() > 10);
        let mut expected = 1;
        for b in &bs {
            assert_eq!(b.first_line, expected);
            for (no, line) in b.lines() {
                assert_eq!(no, expected);
                assert!(!line.ends_with(b"\r"));
                if no <= 5000 {
                    assert_eq!(line, format!("line {no} with some padding text").as_bytes());
                }
                expected += 1;
            }
        }
        assert_eq!(expected, 5002);
        assert_eq!(
            bs.last().unwrap().lines().last().unwrap().1,
            b"last line without newline"
        );
    }

    #[test]
    fn a_truncated_gzip_keeps_the_lines_before_the_damage() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..20_000 {
            writeln!(enc, "line {i} of a log that will be cut short").unwrap();
        }
        let gz = enc.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.log.gz");
        std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
        let mut r = BlockReader::new(open(&Source::File(path)).unwrap(), 0, 1024);
        let mut lines = 0;
        let err = loop {
            match r.next_block() {
                Ok(Some(b)) => lines += b.lines().count(),
                Ok(None) => panic!("a truncated gzip must report an error"),
                Err(e) => break e,
            }
        };
        assert!(lines > 1000, "only {lines} lines kept");
        assert!(!err.to_string().is_empty());
        assert!(r.next_block().unwrap().is_none());
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log.1"); // no .gz extension
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"hello\nworld\n").unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let mut s = String::new();
        open(&Source::File(path)).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello\nworld\n");
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        let columns = crate::connectors::csv::ColumnMap::default();
        let journald = br#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1709438706123456","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Invalid user x from 192.0.2.1"}"#;
        let audit = br#"type=USER_AUTH msg=audit(1700000000.123:456): pid=1234 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.7 terminal=ssh res=failed'"#;
        let mut blank_first = b"\n  \r\n".to_vec();
        blank_first.extend_from_slice(audit);
        let mut node = b"node=web1 ".to_vec();
        node.extend_from_slice(audit);
        for (name, head, want) in [
            ("journal.txt", &journald[..], InputFormat::Journald),
            // journalctl output is often saved as .json.
            ("journal.json", &journald[..], InputFormat::Journald),
            ("journal.json.gz", &journald[..], InputFormat::Journald),
            ("audit.log", &audit[..], InputFormat::Audit),
            ("audit.log", &blank_first[..], InputFormat::Audit),
            ("audit.log.1", &node[..], InputFormat::Audit),
            (
                "events.json",
                &br#"{"@timestamp":"2024-01-01T00:00:00Z","message":"x"}"#[..],
                InputFormat::Json,
            ),
            ("x.log", &br#"{"__REALTIME_TIMESTAMP":"1"}"#[..], InputFormat::Json),
            ("auth.log", &b"Mar  3 04:05:06 web1 sshd[1]: x"[..], InputFormat::Syslog),
            (
                "auth.log",
                &b"Mar  3 04:05:06 web1 audit[1]: type=USER_AUTH msg=audit(1:2): x"[..],
                InputFormat::Syslog,
            ),
            ("empty.log", &b""[..], InputFormat::Syslog),
        ] {
            assert_eq!(detect_format(name, head, &columns), want, "{name}");
        }
        for f in InputFormat::ALL {
            assert!(!f.description().is_empty());
            assert_eq!(InputFormat::ALL.iter().filter(|g| g.as_str() == f.as_str()).count(), 1);
        }
    }

    #[test]
    fn discover_reports_missing_inputs_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
        std::fs::write(dir.path().join("b.log"), "y\n").unwrap();
        std::fs::write(dir.path().join(".hidden"), "z\n").unwrap();
        let d = dir.path().display().to_string();
        let args = vec![
            d.clone(),
            format!("{d}/*.log"),
            format!("{d}/missing.log"),
            format!("{d}/*.nope"),
        ];
        let (sources, errors) = discover(&args);
        assert_eq!(sources.len(), 4);
        assert_eq!(errors.len(), 2);
        assert!(errors[0].reason.contains("no such file"));
        assert!(errors[1].reason.contains("matches no file"));
    }
}
