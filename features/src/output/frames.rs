//! Frames of bytes written to a compressed temporary file and read back in
//! order ([`FrameFile`]), and on it records of any serde type
//! ([`FrameSpool`]): what a stage writes as it goes, so that a later stage
//! reads back only what it asks for instead of everything staying in
//! memory.
//!
//! The file is anonymous (removed when the spool is dropped, also on error
//! or panic) and lives in the system's temporary directory (`TMPDIR`).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::OutputError;

/// zstd level: the fastest standard level.
const LEVEL: i32 = 1;

/// Length-prefixed frames in a zstd stream in an anonymous temporary file.
pub struct FrameFile {
    state: State,
    frames: u64,
}

enum State {
    Writing(zstd::stream::write::Encoder<'static, BufWriter<File>>),
    Written(File),
    Failed,
}

impl FrameFile {
    /// An empty file.
    pub fn new() -> Result<FrameFile, OutputError> {
        let open = || -> io::Result<FrameFile> {
            let file = tempfile::tempfile()?;
            Ok(FrameFile {
                state: State::Writing(zstd::stream::write::Encoder::new(
                    BufWriter::with_capacity(1 << 20, file),
                    LEVEL,
                )?),
                frames: 0,
            })
        };
        open().map_err(spool_error)
    }

    /// Appends one frame. After a failed write every later call fails.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        let State::Writing(w) = &mut self.state else {
            return Err(spool_error(io::Error::other("a frame written after reading began")));
        };
        let written = w
            .write_all(&(bytes.len() as u64).to_le_bytes())
            .and_then(|()| w.write_all(bytes));
        if let Err(e) = written {
            self.state = State::Failed;
            return Err(spool_error(e));
        }
        self.frames += 1;
        Ok(())
    }

    /// Hands every frame to `each`, in order. May be called again; no frame
    /// can be written after it.
    pub fn read(&mut self, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> Result<(), OutputError> {
        let mut file = match std::mem::replace(&mut self.state, State::Failed) {
            State::Writing(w) => w
                .finish()
                .and_then(|b| b.into_inner().map_err(|e| e.into_error()))
                .map_err(spool_error)?,
            State::Written(f) => f,
            State::Failed => return Err(spool_error(io::Error::other("the spool failed earlier"))),
        };
        let read = (|| -> io::Result<()> {
            file.seek(SeekFrom::Start(0))?;
            let mut r = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(1 << 20, &file))?;
            let mut len = [0u8; 8];
            let mut bytes = Vec::new();
            for _ in 0..self.frames {
                r.read_exact(&mut len)?;
                bytes.resize(u64::from_le_bytes(len) as usize, 0);
                r.read_exact(&mut bytes)?;
                each(&bytes)?;
            }
            Ok(())
        })();
        self.state = State::Written(file);
        read.map_err(spool_error)
    }
}

/// Records of `T` spooled a batch at a time ([`FrameSpool::push`]) and read
/// back in the order pushed ([`FrameSpool::read`]).
pub struct FrameSpool<T> {
    file: FrameFile,
    records: u64,
    kind: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> FrameSpool<T> {
    pub fn new() -> Result<FrameSpool<T>, OutputError> {
        Ok(FrameSpool {
            file: FrameFile::new()?,
            records: 0,
            kind: PhantomData,
        })
    }

    /// Records pushed.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends `records` as one frame (none: nothing is written).
    pub fn push(&mut self, records: &[T]) -> Result<(), OutputError> {
        if records.is_empty() {
            return Ok(());
        }
        let bytes = postcard::to_stdvec(records).map_err(|e| spool_error(io::Error::other(e)))?;
        self.file.write(&bytes)?;
        self.records += records.len() as u64;
        Ok(())
    }

    /// Every record, in the order pushed. May be called again.
    pub fn read(&mut self, mut each: impl FnMut(T)) -> Result<(), OutputError> {
        self.file.read(|bytes| {
            let records: Vec<T> = postcard::from_bytes(bytes).map_err(io::Error::other)?;
            records.into_iter().for_each(&mut each);
            Ok(())
        })
    }
}

/// A spool's I/O error, naming the directory it writes to.
pub fn spool_error(source: io::Error) -> OutputError {
    OutputError::Spool {
        dir: std::env::temp_dir(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_as_often_as_asked() {
        let mut spool: FrameSpool<(u32, String)> = FrameSpool::new().unwrap();
        spool.push(&[(1, "a".into()), (2, "b".into())]).unwrap();
        spool.push(&[]).unwrap();
        spool.push(&[(3, "c".into())]).unwrap();
        assert_eq!(spool.records(), 3);
        for _ in 0..2 {
            let mut got = Vec::new();
            spool.read(|r| got.push(r)).unwrap();
            assert_eq!(got, [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
        }
        // Reading began: nothing more can be pushed.
        assert!(spool.push(&[(4, "d".into())]).is_err());
    }

    #[test]
    fn an_empty_spool_reads_nothing() {
        let mut spool: FrameSpool<u8> = FrameSpool::new().unwrap();
        let mut n = 0;
        spool.read(|_| n += 1).unwrap();
        assert_eq!(n, 0);
    }
}
