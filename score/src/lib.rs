//! loglynx scoring: new logs scored against a baseline, detection rules run
//! over their events, and both merged into prioritized, explained alerts.
//!
//! - [`rules`]: rules as data (TOML) and their engine.
//! - [`alerts`]: rule hits and anomalous windows merged into alerts.
//! - [`evidence`]: raw lines behind alerts, re-read by `file:line`.
//! - [`report`]: alert and score outputs, terminal summary.
//! - [`eval`]: detection against labelled campaigns, and a naive baseline.

pub mod alerts;
pub mod eval;
pub mod evidence;
pub mod report;
pub use loglynx_rules as rules;
