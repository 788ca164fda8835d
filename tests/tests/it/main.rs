//! The one integration test binary of loglynx.

mod conformance;
mod connectors;
mod es_cluster;
mod features_cli;
mod gen_stealthy;
mod python_package;
mod report_browser;
mod reviewer_loop;
mod score_cli;
