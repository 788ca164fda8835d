//! Fitting on an input too large to hold: a fixed-size uniform sample of
//! each entity kind's rows (reservoir sampling, Algorithm R, seeded), taken
//! as windows close. Isolation forest trains on subsamples of a few hundred
//! rows and k-means needs no more than a sample either, so a set fitted on
//! [`DEFAULT_FIT_SAMPLE`] rows per kind describes the kind's behaviour; its
//! calibration and explainer quantiles come from the sample (a quantile of
//! 262,144 rows is within about 0.001 of the input's at the median and
//! 0.0002 at p99, one standard error). An input with no more rows than the
//! sample is fitted on all of them, in the order a whole-input fit uses
//! (entity, then window), so it gets the same model.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use loglynx_features::aggregate::registry::EntityKind;
use loglynx_features::aggregate::FeatureTable;
use loglynx_models::{ModelSet, ModelSetConfig};

use crate::fit::{FitError, KindJob, KindModel, KindOutcome, TooLittle};
use crate::frame::{FeatureFrame, RowKind};

/// Rows kept per entity kind for fitting.
pub const DEFAULT_FIT_SAMPLE: usize = 1 << 18;

/// A `--fit-sample` too small to fit a set on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--fit-sample {0}: sample at least {min} rows per kind", min = crate::fit::MIN_ROWS)]
pub struct SampleTooSmall(pub usize);

/// Refuses a sample of fewer rows per kind than a set is fitted on.
pub fn check_fit_sample(cap: usize) -> Result<(), SampleTooSmall> {
    if cap < crate::fit::MIN_ROWS {
        return Err(SampleTooSmall(cap));
    }
    Ok(())
}

/// A uniform sample of at most `cap` rows of one entity kind.
#[derive(Debug)]
struct Reservoir {
    cap: usize,
    /// Rows offered so far.
    seen: u64,
    rows: FeatureTable,
    rng: ChaCha8Rng,
}

/// Uniform samples of each entity kind's rows, fed as windows close.
#[derive(Debug)]
pub struct KindSampler {
    kinds: Vec<(EntityKind, Reservoir)>,
}

impl KindSampler {
    /// Samples of at most `cap` rows per kind, drawn with `seed`.
    pub fn new(cap: usize, seed: u64, window: i64) -> KindSampler {
        let kinds = EntityKind::ALL
            .iter()
            .map(|&k| {
                let reservoir = Reservoir {
                    cap: cap.max(1),
                    seen: 0,
                    rows: FeatureTable::new(window),
                    // One stream per kind, so kinds do not shift each other.
                    rng: ChaCha8Rng::seed_from_u64(seed ^ (0x5a4d_504c_0000 + k.index() as u64)),
                };
                (k, reservoir)
            })
            .collect();
        KindSampler { kinds }
    }

    /// Offers every row of `table`, in order.
    pub fn add(&mut self, table: &FeatureTable) {
        for i in 0..table.len() {
            let r = &mut self.kinds[table.kinds[i].index()].1;
            if r.rows.len() < r.cap {
                r.rows.push_row_of(table, i);
            } else {
                let j = r.rng.gen_range(0..=r.seen);
                if (j as usize) < r.cap {
                    r.rows.set_row_of(j as usize, table, i);
                }
            }
            r.seen += 1;
        }
    }

    /// Rows offered of `kind`.
    pub fn seen(&self, kind: EntityKind) -> u64 {
        self.kinds[kind.index()].1.seen
    }

    /// Fits one set per entity kind on its sample: the kinds fitted, in
    /// kind order, and those too small.
    pub fn fit(self, config: &ModelSetConfig) -> Result<FittedSets, FitError> {
        let mut fitted = FittedSets::default();
        for (kind, r) in self.kinds {
            let mut rows = r.rows;
            // The order a whole-input fit sees: by entity, then window.
            let mut order: Vec<u32> = (0..rows.len() as u32).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                (&rows.entities[a], rows.window_starts[a]).cmp(&(&rows.entities[b], rows.window_starts[b]))
            });
            rows = rows.reordered(&order);
            let frame = FeatureFrame::from_table(rows);
            match KindJob::new(&frame, RowKind::Entity(kind), KindModel::Fit(config))? {
                Err(TooLittle(why)) => fitted.too_small.push((kind, why)),
                Ok(job) => {
                    if let KindOutcome::Fitted(set) = job.run(None, usize::MAX, |_, _| {})? {
                        fitted.sets.push((kind, *set, r.seen));
                    }
                }
            }
        }
        Ok(fitted)
    }
}

/// Sets fitted on samples of the input ([`KindSampler::fit`]).
#[derive(Debug, Default)]
pub struct FittedSets {
    /// Each kind's set and the rows its sample was drawn from.
    pub sets: Vec<(EntityKind, ModelSet, u64)>,
    /// Kinds too small to fit, with `kind (why)`.
    pub too_small: Vec<(EntityKind, String)>,
}

impl FittedSets {
    /// The kinds too small to fit, `kind (why), …`.
    pub fn too_small_note(&self) -> String {
        let why: Vec<&str> = self.too_small.iter().map(|(_, why)| why.as_str()).collect();
        why.join(", ")
    }

    pub fn set(&self, kind: RowKind) -> Option<&ModelSet> {
        let kind = kind.entity()?;
        self.sets.iter().find(|(k, ..)| *k == kind).map(|(_, s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(kind: EntityKind, n: usize, offset: usize) -> FeatureTable {
        let mut t = FeatureTable::new(3_600_000_000);
        let mut one = FeatureTable::new(3_600_000_000);
        for i in 0..n {
            one.kinds = vec![kind];
            one.entities = vec![format!("e{}", i + offset).into()];
            one.window_starts = vec![i as i64];
            one.columns = (0..loglynx_features::aggregate::registry::FEATURES.len())
                .map(|_| vec![(i + offset) as f64])
                .collect();
            one.source_scope = vec![None];
            one.asset_criticality = vec![None];
            t.push_row_of(&one, 0);
        }
        t
    }

    #[test]
    fn a_sample_keeps_every_row_of_a_small_input_and_a_uniform_share_of_a_large_one() {
        let mut s = KindSampler::new(1000, 7, 3_600_000_000);
        s.add(&table(EntityKind::User, 600, 0));
        assert_eq!(s.kinds[0].1.rows.len(), 600);
        for chunk in 0..20 {
            s.add(&table(EntityKind::User, 1000, 600 + chunk * 1000));
        }
        let r = &s.kinds[0].1;
        assert_eq!(r.seen, 20_600);
        assert_eq!(r.rows.len(), 1000);
        // Uniform: the sample's mean row number is near the input's.
        let mean = r.rows.columns[0].iter().sum::<f64>() / 1000.0;
        assert!((mean - 10_300.0).abs() < 600.0, "mean {mean}");
        let other = KindSampler::new(1000, 7, 3_600_000_000);
        assert_eq!(other.seen(EntityKind::Host), 0);
    }
}
