//! The one integration test binary of loglynx.

mod conformance;
mod connectors;
mod features_cli;
mod score_cli;
