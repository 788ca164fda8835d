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

use compact_str::CompactString;
use loglynx_features::aggregate::registry::{EntityKind, FEATURES};
use loglynx_features::aggregate::FeatureTable;
use loglynx_features::event::Micros;
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

/// A uniform sample of at most `cap` rows of one entity kind, keeping only
/// what a fit reads: the entity, the window and the features that apply to
/// the kind (the others are NaN in every row of it).
#[derive(Debug)]
struct Reservoir {
    kind: EntityKind,
    cap: usize,
    /// Rows offered so far.
    seen: u64,
    /// Indices into [`FEATURES`] of the features that apply to `kind`.
    features: Vec<usize>,
    entities: Vec<CompactString>,
    window_starts: Vec<Micros>,
    /// Row-major, `features.len()` values a row.
    values: Vec<f64>,
    rng: ChaCha8Rng,
}

impl Reservoir {
    fn len(&self) -> usize {
        self.entities.len()
    }

    /// Writes row `i` of `table` at sample row `j` (`j == len` appends).
    fn put(&mut self, j: usize, table: &FeatureTable, i: usize) {
        let n = self.features.len();
        if j == self.len() {
            self.entities.push(table.entities[i].clone());
            self.window_starts.push(table.window_starts[i]);
            self.values.extend(self.features.iter().map(|&f| table.columns[f][i]));
        } else {
            self.entities[j] = table.entities[i].clone();
            self.window_starts[j] = table.window_starts[i];
            for (to, &f) in self.values[j * n..(j + 1) * n].iter_mut().zip(&self.features) {
                *to = table.columns[f][i];
            }
        }
        debug_assert!(
            (0..FEATURES.len()).all(|f| self.features.contains(&f) || table.columns[f][i].is_nan()),
            "a feature that does not apply to {:?} has a value",
            self.kind
        );
    }

    /// The sample as a table in the order a whole-input fit sees: by
    /// entity, then window.
    fn into_table(self, window: Micros) -> FeatureTable {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            (&self.entities[a], self.window_starts[a]).cmp(&(&self.entities[b], self.window_starts[b]))
        });
        let rows = order.len();
        let mut table = FeatureTable::new(window);
        table.kinds = vec![self.kind; rows];
        table.window_starts = order.iter().map(|&i| self.window_starts[i as usize]).collect();
        table.source_scope = vec![None; rows];
        table.asset_criticality = vec![None; rows];
        let n = self.features.len();
        for (c, &f) in self.features.iter().enumerate() {
            table.columns[f] = order.iter().map(|&i| self.values[i as usize * n + c]).collect();
        }
        for (f, column) in table.columns.iter_mut().enumerate() {
            if !self.features.contains(&f) {
                *column = vec![f64::NAN; rows];
            }
        }
        let mut entities = self.entities;
        table.entities = order
            .iter()
            .map(|&i| std::mem::take(&mut entities[i as usize]))
            .collect();
        table
    }
}

/// Uniform samples of each entity kind's rows, fed as windows close.
#[derive(Debug)]
pub struct KindSampler {
    /// One reservoir per kind, in [`EntityKind::ALL`]'s order.
    kinds: Vec<Reservoir>,
    window: Micros,
}

impl KindSampler {
    /// Samples of at most `cap` rows per kind, drawn with `seed`.
    pub fn new(cap: usize, seed: u64, window: Micros) -> KindSampler {
        let kinds = EntityKind::ALL
            .iter()
            .map(|&k| Reservoir {
                kind: k,
                cap: cap.max(1),
                seen: 0,
                features: (0..FEATURES.len()).filter(|&f| FEATURES[f].applies_to(k)).collect(),
                entities: Vec::new(),
                window_starts: Vec::new(),
                values: Vec::new(),
                // One stream per kind, so kinds do not shift each other.
                rng: ChaCha8Rng::seed_from_u64(seed ^ (0x5a4d_504c_0000 + k.index() as u64)),
            })
            .collect();
        KindSampler { kinds, window }
    }

    /// Offers every row of `table`, in order.
    pub fn add(&mut self, table: &FeatureTable) {
        for i in 0..table.len() {
            let r = &mut self.kinds[table.kinds[i].index()];
            if r.len() < r.cap {
                r.put(r.len(), table, i);
            } else {
                let j = r.rng.gen_range(0..=r.seen);
                if (j as usize) < r.cap {
                    r.put(j as usize, table, i);
                }
            }
            r.seen += 1;
        }
    }

    /// Rows offered of `kind`.
    pub fn seen(&self, kind: EntityKind) -> u64 {
        self.kinds[kind.index()].seen
    }

    /// Fits one set per entity kind on its sample: the kinds fitted, in
    /// kind order, and those too small.
    pub fn fit(self, config: &ModelSetConfig) -> Result<FittedSets, FitError> {
        let mut fitted = FittedSets::default();
        for r in self.kinds {
            let (kind, seen) = (r.kind, r.seen);
            let frame = FeatureFrame::from_table(r.into_table(self.window));
            match KindJob::new(&frame, RowKind::Entity(kind), KindModel::Fit(config))? {
                Err(TooLittle(why)) => fitted.too_small.push((kind, why)),
                Ok(job) => {
                    if let KindOutcome::Fitted(set) = job.run(None, usize::MAX, |_, _| {})? {
                        fitted.sets.push((kind, *set, seen));
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
            one.entities = vec![format!("e{}", (i + offset) % 997).into()];
            one.window_starts = vec![(i + offset) as i64 * 3_600_000_000];
            one.columns = FEATURES
                .iter()
                .enumerate()
                .map(|(f, def)| {
                    vec![if def.applies_to(kind) {
                        ((i + offset) * 31 + f) as f64
                    } else {
                        f64::NAN
                    }]
                })
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
        assert_eq!(s.kinds[0].len(), 600);
        for chunk in 0..20 {
            s.add(&table(EntityKind::User, 1000, 600 + chunk * 1000));
        }
        let r = &s.kinds[0];
        assert_eq!(r.seen, 20_600);
        assert_eq!(r.len(), 1000);
        // Uniform: the sample's mean row number is near the input's.
        let events = r.features.iter().position(|&f| f == 0).unwrap();
        let mean = r
            .values
            .iter()
            .skip(events)
            .step_by(r.features.len())
            .map(|v| v / 31.0)
            .sum::<f64>()
            / 1000.0;
        assert!((mean - 10_300.0).abs() < 600.0, "mean {mean}");
        let other = KindSampler::new(1000, 7, 3_600_000_000);
        assert_eq!(other.seen(EntityKind::Host), 0);
    }

    /// The compact reservoir gives the table the whole-row one did (each
    /// row kept with every column, its scope and criticality), so fits on
    /// it are unchanged.
    #[test]
    fn a_compact_sample_gives_the_table_a_sample_of_whole_rows_gives() {
        let cap = 500;
        let mut compact = KindSampler::new(cap, 11, 3_600_000_000);
        let mut whole: Vec<(FeatureTable, u64, ChaCha8Rng)> = EntityKind::ALL
            .iter()
            .map(|k| {
                let rng = ChaCha8Rng::seed_from_u64(11 ^ (0x5a4d_504c_0000 + k.index() as u64));
                (FeatureTable::new(3_600_000_000), 0, rng)
            })
            .collect();
        for chunk in 0..12 {
            let kind = EntityKind::ALL[chunk % 3];
            let t = table(kind, 97 * (chunk + 1), chunk * 1000);
            compact.add(&t);
            for i in 0..t.len() {
                let (rows, seen, rng) = &mut whole[t.kinds[i].index()];
                if rows.len() < cap {
                    rows.push_row_of(&t, i);
                } else {
                    let j = rng.gen_range(0..=*seen);
                    if (j as usize) < cap {
                        rows.set_row_of(j as usize, &t, i);
                    }
                }
                *seen += 1;
            }
        }
        for (r, (rows, seen, _)) in compact.kinds.into_iter().zip(whole) {
            assert_eq!(r.seen, seen);
            let mut order: Vec<u32> = (0..rows.len() as u32).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                (&rows.entities[a], rows.window_starts[a]).cmp(&(&rows.entities[b], rows.window_starts[b]))
            });
            let expected = rows.reordered(&order);
            let got = r.into_table(3_600_000_000);
            assert_eq!(got.kinds, expected.kinds);
            assert_eq!(got.entities, expected.entities);
            assert_eq!(got.window_starts, expected.window_starts);
            assert_eq!(got.columns.len(), expected.columns.len());
            for (g, e) in got.columns.iter().zip(&expected.columns) {
                let bits = |c: &Vec<f64>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(g), bits(e));
            }
        }
    }
}
