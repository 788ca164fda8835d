//! `journalctl -o export`: the journal's serialization format, turned into
//! journald's JSON form (one object per entry, one entry per line) as it is
//! read, so that the journald connector reads both.
//!
//! An entry is a run of fields ended by an empty line. A text field is
//! `KEY=VALUE\n`; a binary field (a value holding a newline or other
//! non-printable bytes) is `KEY\n`, a little-endian u64 length, the bytes and
//! `\n`. As `journalctl -o json` does, a value that is not UTF-8 becomes an
//! array of byte values and a key given several times an array of values.
//! Evidence line numbers count entries.

use std::io::{self, BufRead, Read};

use serde_json::{Map, Value};

/// Every export stream starts with its first entry's cursor.
pub const MAGIC: &[u8] = b"__CURSOR=";

/// The largest binary field read; a larger length means a corrupt stream.
const MAX_FIELD: u64 = 64 << 20;

/// Whether `head` (the first bytes of a decompressed input) is an export
/// stream.
pub fn looks_like_export(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Reads an export stream as journald JSON lines.
pub struct ExportToJson<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    done: bool,
    /// Entries read so far.
    entries: u64,
}

impl<R: BufRead> ExportToJson<R> {
    pub fn new(inner: R) -> Self {
        ExportToJson {
            inner,
            out: Vec::new(),
            pos: 0,
            done: false,
            entries: 0,
        }
    }

    /// Reads the next entry into `out` as one JSON line; false at the end.
    fn next_entry(&mut self) -> io::Result<bool> {
        let mut fields = Map::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            if self.inner.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.is_empty() {
                if fields.is_empty() {
                    continue;
                }
                break;
            }
            let (key, value) = match memchr::memchr(b'=', &line) {
                Some(i) => (line[..i].to_vec(), line[i + 1..].to_vec()),
                None => {
                    let cut = || {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "journal export entry {}: binary field {} cut short",
                                self.entries + 1,
                                String::from_utf8_lossy(&line)
                            ),
                        )
                    };
                    let mut len = [0u8; 8];
                    self.inner.read_exact(&mut len).map_err(|_| cut())?;
                    let len = u64::from_le_bytes(len);
                    if len > MAX_FIELD {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "journal export entry {}: binary field {} claims {len} bytes",
                                self.entries + 1,
                                String::from_utf8_lossy(&line)
                            ),
                        ));
                    }
                    // Read what is there rather than allocating what the
                    // length claims.
                    let mut value = Vec::new();
                    (&mut self.inner).take(len).read_to_end(&mut value)?;
                    if value.len() as u64 != len {
                        return Err(cut());
                    }
                    let mut nl = [0u8; 1];
                    self.inner.read_exact(&mut nl).map_err(|_| cut())?;
                    (line.clone(), value)
                }
            };
            let key = String::from_utf8_lossy(&key).into_owned();
            let value = match String::from_utf8(value) {
                Ok(s) => Value::String(s),
                Err(e) => Value::Array(e.into_bytes().into_iter().map(Value::from).collect()),
            };
            match fields.get_mut(&key) {
                Some(Value::Array(values)) if values.first().is_some_and(|v| !v.is_number()) => values.push(value),
                Some(first) => {
                    let first = std::mem::take(first);
                    fields.insert(key, Value::Array(vec![first, value]));
                }
                None => {
                    fields.insert(key, value);
                }
            }
        }
        if fields.is_empty() {
            return Ok(false);
        }
        self.entries += 1;
        self.out.clear();
        self.pos = 0;
        serde_json::to_writer(&mut self.out, &fields)?;
        self.out.push(b'\n');
        Ok(true)
    }
}

impl<R: BufRead> Read for ExportToJson<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done || !self.next_entry()? {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_lines(export: &[u8]) -> Vec<Value> {
        let mut text = String::new();
        ExportToJson::new(export).read_to_string(&mut text).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn text_binary_repeated_and_non_utf8_fields() {
        let mut export = b"__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1709438706250000\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER=sshd\n_PID=2001\nMESSAGE=Failed password for root from 203.0.113.7 port 50000 ssh2\n\n".to_vec();
        export.extend_from_slice(b"__CURSOR=s=1;i=2\n__REALTIME_TIMESTAMP=1709438707000000\nMESSAGE\n");
        export.extend_from_slice(&5u64.to_le_bytes());
        export.extend_from_slice(b"a\nb\xffc\nTAG=x\nTAG=y\n\n");
        let entries = json_lines(&export);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["_HOSTNAME"], "web1");
        assert_eq!(
            entries[0]["MESSAGE"],
            "Failed password for root from 203.0.113.7 port 50000 ssh2"
        );
        assert_eq!(entries[1]["MESSAGE"], serde_json::json!([97, 10, 98, 255, 99]));
        assert_eq!(entries[1]["TAG"], serde_json::json!(["x", "y"]));
    }

    #[test]
    fn a_cut_or_lying_stream_is_an_error_not_a_panic() {
        let mut export = b"__CURSOR=c\nMESSAGE\n".to_vec();
        export.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut text = String::new();
        assert!(ExportToJson::new(&export[..]).read_to_string(&mut text).is_err());
        let cut = b"__CURSOR=c\nMESSAGE\n\x05\x00";
        let err = ExportToJson::new(&cut[..]).read_to_string(&mut text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "journal export entry 1: binary field MESSAGE cut short"
        );
    }
}
