//! [`RowSpool`]: feature rows written to a compressed temporary file and
//! read back in the same order, so a stage that must see every row twice
//! (fit on a sample, then score every row) reads its logs once.
//!
//! The file is anonymous (removed when the spool is dropped, also on error
//! or panic) and lives in the system's temporary directory (`TMPDIR`).
//! Values are written bit for bit, so a replayed table equals the one
//! written. Replay decompresses ahead on a thread of its own.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use compact_str::CompactString;

use super::frames::spool_error;
use super::OutputError;
use crate::aggregate::registry::{EntityKind, N_FEATURES};
use crate::aggregate::{source_scope, FeatureTable, LineRef, WindowEvidence, EVIDENCE_PER_WINDOW};

/// zstd level: the fastest of the standard levels; rows compress well at it.
const LEVEL: i32 = 1;

/// Feature tables spooled to disk, to be replayed once.
pub struct RowSpool {
    encoder: zstd::stream::write::Encoder<'static, BufWriter<File>>,
    tables: u64,
    rows: u64,
}

impl RowSpool {
    /// An empty spool in a new anonymous temporary file.
    pub fn new() -> Result<RowSpool, OutputError> {
        let open = || -> io::Result<RowSpool> {
            let file = tempfile::tempfile()?;
            Ok(RowSpool {
                encoder: zstd::stream::write::Encoder::new(BufWriter::with_capacity(1 << 20, file), LEVEL)?,
                tables: 0,
                rows: 0,
            })
        };
        open().map_err(spool_error)
    }

    /// Rows spooled so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends `table`'s rows (an empty table is skipped).
    pub fn push(&mut self, table: &FeatureTable) -> Result<(), OutputError> {
        self.write(table).map_err(spool_error)
    }

    fn write(&mut self, table: &FeatureTable) -> io::Result<()> {
        let n = table.len();
        if n == 0 {
            return Ok(());
        }
        let w = &mut self.encoder;
        put_u64(w, n as u64)?;
        put_u64(w, table.window as u64)?;
        let kinds: Vec<u8> = table.kinds.iter().map(|k| k.index() as u8).collect();
        w.write_all(&kinds)?;
        for name in &table.entities {
            put_str(w, name)?;
        }
        put_words(w, table.window_starts.iter().map(|&s| s as u64))?;
        for column in &table.columns {
            put_words(w, column.iter().map(|v| v.to_bits()))?;
        }
        for criticality in &table.asset_criticality {
            match criticality {
                Some(c) => {
                    w.write_all(&[1])?;
                    put_str(w, c)?;
                }
                None => w.write_all(&[0])?,
            }
        }
        let with_evidence = !table.evidence.is_empty();
        w.write_all(&[u8::from(with_evidence)])?;
        if with_evidence {
            put_words(w, table.evidence.as_flattened().iter().map(|r| r.to_bits()))?;
        }
        self.tables += 1;
        self.rows += n as u64;
        Ok(())
    }

    /// Hands every spooled table to `each`, in the order pushed, and
    /// removes the file. Returns the rows replayed.
    pub fn replay(self, each: impl FnMut(FeatureTable)) -> Result<u64, OutputError> {
        self.read(each).map_err(spool_error)
    }

    fn read(self, mut each: impl FnMut(FeatureTable)) -> io::Result<u64> {
        let mut file = self.encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        let tables = self.tables;
        // The next tables are decompressed on a thread of its own while
        // `each` works on this one; two wait at most.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<FeatureTable>(2);
            let reader = scope.spawn(move || -> io::Result<()> {
                let mut r = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(1 << 20, file))?;
                for _ in 0..tables {
                    if tx.send(read_table(&mut r)?).is_err() {
                        break;
                    }
                }
                Ok(())
            });
            for table in rx {
                each(table);
            }
            match reader.join() {
                Ok(read) => read,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })?;
        Ok(self.rows)
    }
}

fn put_u64(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn put_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    put_u64(w, s.len() as u64)?;
    w.write_all(s.as_bytes())
}

/// Writes 64-bit words, little-endian, in one write.
fn put_words(w: &mut impl Write, words: impl ExactSizeIterator<Item = u64>) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(words.len() * 8);
    for x in words {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    w.write_all(&bytes)
}

fn get_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn get_bytes(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn get_str(r: &mut impl Read) -> io::Result<String> {
    let n = get_u64(r)? as usize;
    String::from_utf8(get_bytes(r, n)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads `n` words of [`put_words`], each turned into a `T` by `word`.
fn get_words<T>(r: &mut impl Read, n: usize, word: impl Fn(u64) -> T) -> io::Result<Vec<T>> {
    Ok(get_bytes(r, n * 8)?
        .chunks_exact(8)
        .map(|c| word(u64::from_le_bytes(c.try_into().expect("8 bytes"))))
        .collect())
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("row spool: {what}"))
}

fn read_table(r: &mut impl Read) -> io::Result<FeatureTable> {
    let n = get_u64(r)? as usize;
    let window = get_u64(r)? as i64;
    let mut t = FeatureTable::with_capacity(window, n);
    for k in get_bytes(r, n)? {
        t.kinds
            .push(*EntityKind::ALL.get(k as usize).ok_or_else(|| invalid("entity kind"))?);
    }
    for _ in 0..n {
        t.entities.push(CompactString::from(get_str(r)?));
    }
    t.window_starts = get_words(r, n, |w| w as i64)?;
    for c in 0..N_FEATURES {
        t.columns[c] = get_words(r, n, f64::from_bits)?;
    }
    for (kind, name) in t.kinds.iter().zip(&t.entities) {
        t.source_scope.push(source_scope(*kind, name));
    }
    for _ in 0..n {
        let mut flag = [0u8];
        r.read_exact(&mut flag)?;
        t.asset_criticality.push(match flag[0] {
            0 => None,
            1 => Some(get_str(r)?),
            _ => return Err(invalid("asset criticality")),
        });
    }
    let mut with_evidence = [0u8];
    r.read_exact(&mut with_evidence)?;
    if with_evidence[0] == 1 {
        let refs = get_words(r, n * EVIDENCE_PER_WINDOW, LineRef::from_bits)?;
        t.evidence = refs
            .chunks_exact(EVIDENCE_PER_WINDOW)
            .map(|c| WindowEvidence::try_from(c).expect("chunks of EVIDENCE_PER_WINDOW"))
            .collect();
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize, evidence: bool) -> FeatureTable {
        let mut t = FeatureTable::new(3_600_000_000);
        for i in 0..rows {
            let kind = EntityKind::ALL[i % 3];
            let name = match kind {
                EntityKind::SourceIp => format!("203.0.113.{i}"),
                _ => format!("entity-{i}-with-a-name-longer-than-twenty-four-bytes"),
            };
            t.kinds.push(kind);
            t.source_scope.push(source_scope(kind, &name));
            t.entities.push(name.into());
            t.window_starts.push(i as i64 * 3_600_000_000 - 7);
            for (c, column) in t.columns.iter_mut().enumerate() {
                column.push(match (i + c) % 4 {
                    0 => f64::NAN,
                    1 => 0.0,
                    2 => -0.0,
                    _ => (i * c) as f64 / 7.0,
                });
            }
            t.asset_criticality.push((i % 5 == 0).then(|| "high".to_owned()));
            if evidence {
                let mut e = [LineRef::NONE; EVIDENCE_PER_WINDOW];
                e[0] = LineRef::new(i as u32 % 4, i as u64 * 3);
                t.evidence.push(e);
            }
        }
        t
    }

    #[test]
    fn replayed_tables_are_the_tables_spooled_bit_for_bit() {
        let written = [table(5, true), table(0, false), table(300, false), table(1, true)];
        let mut spool = RowSpool::new().unwrap();
        for t in &written {
            spool.push(t).unwrap();
        }
        assert_eq!(spool.rows(), 306);
        let mut read = Vec::new();
        assert_eq!(spool.replay(|t| read.push(t)).unwrap(), 306);
        // The empty table is skipped; Debug text compares NaN too.
        let expected: Vec<String> = written
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| format!("{t:?}"))
            .collect();
        let got: Vec<String> = read.iter().map(|t| format!("{t:?}")).collect();
        assert_eq!(got, expected);
        // -0.0 stays -0.0.
        let col = &read[1].columns[0];
        assert!(col.iter().any(|v| *v == 0.0 && v.is_sign_negative()));
    }

    #[test]
    fn a_spool_cut_short_is_an_error_naming_the_temporary_directory() {
        let mut spool = RowSpool::new().unwrap();
        spool.push(&table(50, true)).unwrap();
        spool.push(&table(50, false)).unwrap();
        // Claims a third table that was never written.
        spool.tables += 1;
        let mut read = 0;
        let err = spool.replay(|_| read += 1).unwrap_err();
        assert_eq!(read, 2, "the tables before the cut are handed over");
        assert!(err.to_string().starts_with("spooling feature rows in "), "{err}");
    }
}
