//! The model file container: a versioned, checksummed header around a
//! postcard payload. What the payload holds (the typed baseline) is up to
//! the caller; this module only guarantees that a file is a complete,
//! intact loglynx model of a format version this build reads.
//!
//! Layout (little-endian): 8 magic bytes `LLXMODEL`, u16 format version,
//! u16 flags (0), u64 payload length, u32 CRC-32 (IEEE) of the payload, then
//! the payload.

use std::io::Write as _;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::BundleError;

pub const MAGIC: [u8; 8] = *b"LLXMODEL";
/// The one format version this build reads and writes. Older files are
/// refused with a "retrain" message: version 1 (before the typed baseline)
/// lacks the feature configuration, version 2 the alert budget's
/// calibration, the routine patterns and the novelty counts, version 3
/// the novelty counts by source scope, version 4 the population
/// statistic's calibration, version 5 the explainer's p1 (the lower bound
/// of "unusually low"), version 6 the verdicts' re-ranker, version 7 the
/// novelty horizon of the feature configuration.
pub const FORMAT_VERSION: u16 = 8;
pub const HEADER_LEN: usize = 24;

/// The file's bytes: header then `payload` encoded with postcard.
pub fn encode<T: Serialize>(payload: &T) -> Result<Vec<u8>, BundleError> {
    let payload = postcard::to_stdvec(payload).map_err(|e| BundleError::Encode(e.to_string()))?;
    Ok(with_header(FORMAT_VERSION, &payload))
}

/// A header of `version` before `payload` (tests write other versions).
pub fn with_header(version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a model file's bytes, refusing anything that is not a
/// complete, intact model of this build's format version.
pub fn payload(bytes: &[u8]) -> Result<&[u8], BundleError> {
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if head != &MAGIC[..head.len()] || bytes.is_empty() {
        return Err(BundleError::NotAModel);
    }
    if bytes.len() < HEADER_LEN {
        return Err(BundleError::Truncated {
            expected: HEADER_LEN as u64,
            actual: bytes.len() as u64,
        });
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let version = u16_at(8);
    let flags = u16_at(10);
    let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let stored = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(BundleError::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version < FORMAT_VERSION {
        return Err(BundleError::OlderVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if flags != 0 {
        return Err(BundleError::Unsupported(format!("unknown flags {flags:#06x}")));
    }
    let actual = (bytes.len() - HEADER_LEN) as u64;
    if actual < len {
        return Err(BundleError::Truncated {
            // A length near u64::MAX must not overflow the message.
            expected: (HEADER_LEN as u64).saturating_add(len),
            actual: bytes.len() as u64,
        });
    }
    if actual > len {
        return Err(BundleError::TrailingData { extra: actual - len });
    }
    let payload = &bytes[HEADER_LEN..];
    let computed = crc32fast::hash(payload);
    if computed != stored {
        return Err(BundleError::Checksum { stored, computed });
    }
    Ok(payload)
}

/// Decodes a model file's bytes into `T` (see [`payload`]).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BundleError> {
    let (value, rest): (T, _) =
        postcard::take_from_bytes(payload(bytes)?).map_err(|e| BundleError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(BundleError::Decode(format!(
            "{} bytes left after the model",
            rest.len()
        )));
    }
    Ok(value)
}

/// Writes `bytes` atomically: a temporary file in the same directory,
/// fsync, then rename over `path`.
pub fn save(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let io = |error| BundleError::Io {
        path: path.to_path_buf(),
        error,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".llxmodel-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename durable; not every platform can fsync a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a model file's bytes.
pub fn read(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|error| BundleError::Io {
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `bundle` fuzz target: a header whose payload length is
    /// near u64::MAX overflowed computing the expected file size (a panic in
    /// debug builds, a wrong size in the message otherwise).
    #[test]
    fn a_huge_payload_length_is_truncation_not_an_overflow() {
        let mut bytes = with_header(FORMAT_VERSION, b"abc");
        bytes[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        match payload(&bytes) {
            Err(BundleError::Truncated { expected, actual }) => {
                assert_eq!(expected, u64::MAX);
                assert_eq!(actual, bytes.len() as u64);
            }
            other => panic!("{other:?}"),
        }
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }

    #[test]
    fn an_intact_file_gives_back_its_payload() {
        let bytes = encode(&vec![1u8, 2, 3]).unwrap();
        assert_eq!(decode::<Vec<u8>>(&bytes).unwrap(), vec![1, 2, 3]);
        let mut cut = bytes.clone();
        cut.pop();
        assert!(matches!(payload(&cut), Err(BundleError::Truncated { .. })));
    }
}
