//! [`Baseline`]: everything `loglynx-train` learns and `loglynx-score`
//! needs, in one typed, versioned, checksummed file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use loglynx_features::aggregate::registry::{EntityKind, SPEC_VERSION};
use loglynx_features::aggregate::FeatureConfig;
use loglynx_models::{file, BundleError, Inconsistency, ModelSet, FORMAT_VERSION};
use loglynx_rules::{History, Novelty};

use crate::accumulate::AlertCalibration;
use crate::rerank::AlertReranker;
use crate::routine::Routine;
use serde::{Deserialize, Serialize};
use serde_json::json;

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

/// A baseline that cannot be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    File(#[from] BundleError),
    #[error("model is inconsistent: {0}")]
    Invalid(#[from] Inconsistency),
    #[error("model is inconsistent: feature configuration: {0}")]
    Features(String),
    #[error(
        "the model was trained on feature spec version {found}; this loglynx computes version {supported}: \
         retrain the baseline with this loglynx-train"
    )]
    SpecVersion { found: u32, supported: u32 },
}

/// One trained baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Version of the feature definitions the sets were trained on
    /// ([`SPEC_VERSION`] of the trainer).
    pub spec_version: u32,
    /// How the features were computed: window, time zone and business
    /// hours, novelty warm-up. Scoring logs computes them the same way.
    /// `None` for a baseline of generic numeric tables.
    pub features: Option<FeatureConfig>,
    /// One model set per entity kind.
    pub sets: Vec<ModelSet>,
    pub metadata: TrainingMetadata,
    /// Terms seen in the baseline, for new-term rules. Empty when the
    /// baseline came from feature tables rather than events.
    pub history: History,
    /// Entities the model already finds unusual in the baseline itself (a
    /// jump host, a busy service account): unusual is their normal, so
    /// their anomalies alone do not alert later.
    pub anomalous: BTreeMap<EntityKind, BTreeSet<String>>,
    /// The alert budget calibrated on the baseline's replay: per entity
    /// kind, how strong its own evidence episodes were, from which the
    /// threshold of model-driven alerts follows.
    pub calibration: AlertCalibration,
    /// Rule-hit patterns that recur in the baseline (routine).
    pub routine: Routine,
    /// How often the baseline met new terms: how rare a never-seen one is.
    pub novelty: Novelty,
    /// Trained on analysts' verdicts (`loglynx-train --feedback --alerts`):
    /// how likely an alert is a true positive.
    pub reranker: Option<AlertReranker>,
}

impl Baseline {
    /// The set for an entity kind.
    pub fn set(&self, entity_kind: &str) -> Option<&ModelSet> {
        self.sets.iter().find(|s| s.spec().entity_kind == entity_kind)
    }

    /// Entity kinds unique, and each set internally consistent.
    pub fn validate(&self) -> Result<(), BaselineError> {
        let mut kinds = BTreeSet::new();
        for s in &self.sets {
            if !kinds.insert(&s.spec().entity_kind) {
                return Err(Inconsistency::DuplicateKind(s.spec().entity_kind.clone()).into());
            }
            s.validate()?;
        }
        if let Some(r) = &self.reranker {
            r.validate()?;
        }
        if let Some(f) = &self.features {
            f.clone().check().map_err(|e| BaselineError::Features(e.to_string()))?;
        }
        Ok(())
    }

    /// Refuses a baseline whose features were defined differently from the
    /// ones this build computes.
    pub fn check_spec_version(&self) -> Result<(), BaselineError> {
        if self.spec_version != SPEC_VERSION {
            return Err(BaselineError::SpecVersion {
                found: self.spec_version,
                supported: SPEC_VERSION,
            });
        }
        Ok(())
    }

    /// The file's bytes (see [`loglynx_models::file`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, BaselineError> {
        self.validate()?;
        Ok(file::encode(self)?)
    }

    /// Parses a model file's bytes, refusing anything that is not a
    /// complete, intact, consistent baseline of this build's format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Baseline, BaselineError> {
        let baseline: Baseline = file::decode(bytes)?;
        baseline.validate()?;
        Ok(baseline)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), BaselineError> {
        Ok(file::save(path.as_ref(), &self.to_bytes()?)?)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Baseline, BaselineError> {
        Self::from_bytes(&file::read(path.as_ref())?)
    }

    /// Machine-readable model card.
    pub fn model_card(&self) -> serde_json::Value {
        json!({
            "format_version": FORMAT_VERSION,
            "spec_version": self.spec_version,
            "features": self.features,
            "metadata": self.metadata,
            "sets": self.sets.iter().map(ModelSet::card).collect::<Vec<_>>(),
            "history": self.history.terms.iter().map(|(k, v)| (k.clone(), v.len())).collect::<BTreeMap<_, _>>(),
            "baseline_anomalous": self.anomalous.iter().map(|(k, v)| (k.as_str(), v.len())).collect::<BTreeMap<_, _>>(),
            "alert_budget": {
                "alerts_per_1000_entity_days": self.calibration.config.alert_budget,
                "drift_nats": self.calibration.config.drift,
                "self_days": self.calibration.config.self_days,
                "entities_measured_against_themselves": self.calibration.self_drift.iter().map(|(k, v)| (k.as_str(), v.len())).collect::<BTreeMap<_, _>>(),
                "kinds": self.calibration.describe(self.calibration.config.alert_budget),
                "population": self.calibration.population.as_ref().map(|p| json!({
                    "host_days": p.windows.entity_days,
                    "windows": p.windows.episodes,
                    "guessed_names": p.guessed.len(),
                    "threshold_sources": p.windows.threshold(self.calibration.config.alert_budget),
                    "replay_alerts": p.windows.replay_alerts(self.calibration.config.alert_budget),
                })),
            },
            "routine_patterns": self.routine.patterns.len(),
            "reranker": self.reranker.as_ref().map(AlertReranker::card),
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
        if let Some(f) = &self.features {
            let b = &f.business_hours;
            let _ = writeln!(
                s,
                "- features: window {} s; business hours {}–{} on days {:?} in {}; novelty warm-up {} s, horizon {} s",
                f.window_secs,
                b.start_hour,
                b.end_hour,
                b.days,
                b.time_zone,
                f.novelty_warmup_secs,
                f.novelty_horizon_secs
            );
        }
        if let Some((a, b)) = &m.time_range {
            let _ = writeln!(s, "- training period: {a} to {b}");
        }
        if !m.input_files.is_empty() {
            let _ = writeln!(s, "- input files: {}", m.input_files.join(", "));
        }
        for (k, v) in &m.notes {
            let _ = writeln!(s, "- {k}: {v}");
        }
        for (kind, entities) in &self.anomalous {
            let _ = writeln!(
                s,
                "- {kind} entities anomalous in the baseline itself: {}",
                entities.len()
            );
        }
        if !self.routine.patterns.is_empty() {
            let _ = writeln!(
                s,
                "- routine: {} rule-hit patterns seen in the baseline (a later hit that recurs on the same weekday \
                 and hour is demoted and labelled)",
                self.routine.patterns.len()
            );
        }
        if let Some(r) = &self.reranker {
            card_of_reranker(&mut s, r);
        }
        card_of_budget(&mut s, &self.calibration);
        for set in &self.sets {
            card_of_set(&mut s, set);
        }
        s
    }
}

fn card_of_reranker(s: &mut String, r: &AlertReranker) {
    let m = &r.model;
    let _ = writeln!(
        s,
        "\n## Re-ranker\n\nLogistic regression (smartcore, L2 alpha {}) on {} alerts analysts judged: {} true \
         positive, {} not. Log-odds of being a true positive per standard deviation of each feature, largest first:\n",
        m.alpha,
        m.positives + m.negatives,
        m.positives,
        m.negatives
    );
    let _ = writeln!(s, "| feature | log-odds |\n|---|---|");
    for (n, c) in m.weights().into_iter().take(12) {
        let _ = writeln!(s, "| {n} | {c:+.2} |");
    }
}

fn card_of_budget(s: &mut String, cal: &AlertCalibration) {
    if cal.kinds.is_empty() {
        return;
    }
    let b = cal.config.alert_budget;
    let _ = writeln!(
        s,
        "\n## Alert budget\n\nAt most {b} model-driven alerts per 1,000 entity-days when the baseline is replayed; \
         evidence accumulates per entity (windows above {:.2} nats of surprise add their excess, each window that adds \
         nothing takes {:.2} away).\n",
        cal.config.drift, cal.config.drift
    );
    let measured_by_self: usize = cal.self_drift.values().map(|m| m.len()).sum();
    let _ = writeln!(
        s,
        "{measured_by_self} entities active on at least {} days are also measured against themselves (their own \
         window at the same quantile). The user threshold also judges new terms: its episodes include the \
         baseline's logins with a term seen only there, each judged without itself.\n",
        cal.config.self_days
    );
    let _ = writeln!(
        s,
        "| entity kind | entity-days | episodes | alerts allowed | threshold (nats) | floor (nats) | replay alerts |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for k in &cal.kinds {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
            k.entity_kind,
            k.entity_days,
            k.episodes,
            k.allowed(b),
            k.threshold(b),
            k.floor,
            k.replay_alerts(b)
        );
    }
    if let Some(p) = &cal.population {
        let k = &p.windows;
        let _ = writeln!(
            s,
            "\nPopulation: per host and window, the public sources failing there with the name of an account that \
             logged in, other than the {} names public sources that never got in guessed. {} host-windows had \
             some; at {:.2} alerts allowed over {} host-days, more than {} sources alert ({} baseline windows \
             would).",
            p.guessed.len(),
            k.episodes,
            k.allowed(b),
            k.entity_days,
            k.threshold(b),
            k.replay_alerts(b)
        );
    }
}

fn card_of_set(s: &mut String, set: &ModelSet) {
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
        "| feature | transform | direction | baseline p1 | baseline median | baseline p99 |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (j, f) in set.explainer().features().iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {:?} | {:?} | {} | {} | {} |",
            f.name,
            spec.transform(j),
            f.direction,
            fmt_num(f.p1),
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
        (None, c) => format!("contamination {}", c.unwrap_or(loglynx_models::DEFAULT_CONTAMINATION)),
    };
    let _ = writeln!(
        s,
        "- combined score: {:?} of calibrated percentiles; alert when > {} ({how}; {:.2}% of the baseline)",
        cfg.combine,
        fmt_num(set.threshold()),
        100.0 * set.baseline_alert_rate()
    );
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
