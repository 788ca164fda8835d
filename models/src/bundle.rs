//! The model file: every entity kind's [`ModelSet`] of one trained baseline,
//! with its training metadata.
//!
//! Layout (little-endian): 8 magic bytes `LLXMODEL`, u16 format version,
//! u16 flags (0), u64 payload length, u32 CRC-32 (IEEE) of the payload, then
//! the payload: the [`ModelBundle`] encoded with postcard.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::detector::ModelSet;
use crate::error::{BundleError, Inconsistency};

pub const MAGIC: [u8; 8] = *b"LLXMODEL";
/// Highest format version this build reads (and the one it writes).
pub const FORMAT_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 24;

/// Where a baseline came from. `created_at` is given by the caller (RFC
/// 3339) so that training stays deterministic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetadata {
    pub input_files: Vec<String>,
    /// First and last window start of the training data.
    pub time_range: Option<(String, String)>,
    pub rows_per_set: BTreeMap<String, usize>,
    pub seed: u64,
    pub loglynx_version: String,
    pub created_at: String,
    pub notes: BTreeMap<String, String>,
}

/// One trained baseline: a model set per entity kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBundle {
    /// Version of the feature definitions the sets were trained on (set by
    /// the trainer; a scorer compares it with its own).
    pub spec_version: u32,
    pub sets: Vec<ModelSet>,
    pub metadata: TrainingMetadata,
    /// Terms seen in the baseline, for new-term detection: key = the fields
    /// (`user+source`), value = every combination seen. Empty when the
    /// baseline came from feature tables rather than events.
    pub history: BTreeMap<String, BTreeSet<String>>,
}

impl ModelBundle {
    /// The set for an entity kind.
    pub fn set(&self, entity_kind: &str) -> Option<&ModelSet> {
        self.sets.iter().find(|s| s.spec().entity_kind == entity_kind)
    }

    /// Entity kinds unique, and each set internally consistent.
    pub fn validate(&self) -> Result<(), BundleError> {
        let mut kinds = BTreeSet::new();
        for s in &self.sets {
            if !kinds.insert(&s.spec().entity_kind) {
                return Err(Inconsistency::DuplicateKind(s.spec().entity_kind.clone()).into());
            }
            s.validate()?;
        }
        Ok(())
    }

    /// The file's bytes: header then payload.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BundleError> {
        self.validate()?;
        let payload = postcard::to_stdvec(self).map_err(|e| BundleError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Parses a model file's bytes, refusing anything that is not a complete,
    /// intact model of a format version this build reads.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelBundle, BundleError> {
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
        if version == 0 {
            return Err(BundleError::Unsupported("format version 0".into()));
        }
        if flags != 0 {
            return Err(BundleError::Unsupported(format!("unknown flags {flags:#06x}")));
        }
        let actual = (bytes.len() - HEADER_LEN) as u64;
        if actual < len {
            return Err(BundleError::Truncated {
                expected: HEADER_LEN as u64 + len,
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
        let (bundle, rest): (ModelBundle, _) =
            postcard::take_from_bytes(payload).map_err(|e| BundleError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(BundleError::Decode(format!(
                "{} bytes left after the model",
                rest.len()
            )));
        }
        bundle.validate()?;
        Ok(bundle)
    }

    /// Writes the file atomically: a temporary file in the same directory,
    /// fsync, then rename over `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BundleError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
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
        tmp.write_all(&bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        // Make the rename durable; not every platform can fsync a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    pub fn load(path: impl AsRef<Path>) -> Result<ModelBundle, BundleError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| BundleError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Machine-readable model card.
    pub fn model_card(&self) -> serde_json::Value {
        json!({
            "format_version": FORMAT_VERSION,
            "spec_version": self.spec_version,
            "metadata": self.metadata,
            "sets": self.sets.iter().map(ModelSet::card).collect::<Vec<_>>(),
            "history": self.history.iter().map(|(k, v)| (k.clone(), v.len())).collect::<BTreeMap<_, _>>(),
        })
    }

    /// Human-readable model card (Markdown).
    pub fn model_card_markdown(&self) -> String {
        let m = &self.metadata;
        let mut s = String::new();
        let _ = writeln!(s, "# loglynx model card\n");
        let _ = writeln!(s, "- loglynx version: {}", m.loglynx_version);
        let _ = writeln!(s, "- created: {}", m.created_at);
        let _ = writeln!(
            s,
            "- file format version: {FORMAT_VERSION}; feature spec version: {}",
            self.spec_version
        );
        let _ = writeln!(s, "- seed: {}", m.seed);
        if let Some((a, b)) = &m.time_range {
            let _ = writeln!(s, "- training period: {a} to {b}");
        }
        if !m.input_files.is_empty() {
            let _ = writeln!(s, "- input files: {}", m.input_files.join(", "));
        }
        for (k, v) in &m.notes {
            let _ = writeln!(s, "- {k}: {v}");
        }
        for set in &self.sets {
            let spec = set.spec();
            let cfg = set.config();
            let _ = writeln!(s, "\n## Entity kind `{}`\n", spec.entity_kind);
            let _ = writeln!(
                s,
                "{} training rows, window {} s, scaling {:?}.\n",
                set.n_train_rows(),
                spec.window_secs,
                cfg.scaling
            );
            let _ = writeln!(
                s,
                "| feature | transform | direction | baseline median | baseline p99 |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|");
            for (j, f) in set.explainer().features().iter().enumerate() {
                let _ = writeln!(
                    s,
                    "| {} | {:?} | {:?} | {} | {} |",
                    f.name,
                    spec.transform(j),
                    f.direction,
                    fmt_num(f.median),
                    fmt_num(f.p99)
                );
            }
            let forest = set.iforest();
            let _ = writeln!(
                s,
                "\n- isolation forest: {} trees, ψ = {}, height limit {}, seed {}",
                forest.n_trees(),
                forest.psi(),
                forest.height_limit(),
                cfg.iforest.seed
            );
            match set.kmeans() {
                Some(km) => {
                    let sizes: Vec<String> = km.clusters().iter().map(|c| c.size.to_string()).collect();
                    let how = if km.silhouettes().is_empty() {
                        "given"
                    } else {
                        "chosen by silhouette"
                    };
                    let _ = writeln!(
                        s,
                        "- k-means peer groups: k = {} ({how}), cluster sizes {}",
                        km.k(),
                        sizes.join(", ")
                    );
                }
                None => {
                    let _ = writeln!(s, "- k-means peer groups: off");
                }
            }
            let how = match (cfg.threshold, cfg.contamination) {
                (Some(_), _) => "fixed".to_string(),
                (None, c) => format!("contamination {}", c.unwrap_or(crate::detector::DEFAULT_CONTAMINATION)),
            };
            let _ = writeln!(
                s,
                "- combined score: {:?} of calibrated percentiles; alert when > {} ({how}; {:.2}% of the baseline)",
                cfg.combine,
                fmt_num(set.threshold()),
                100.0 * set.baseline_alert_rate()
            );
        }
        s
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
