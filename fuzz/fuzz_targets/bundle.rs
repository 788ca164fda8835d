//! The model file loader: the container (magic, version, length, CRC) on
//! the raw input, and the postcard payload of every model type behind a
//! valid header (a random checksum would almost never match). A model set
//! that decodes and validates must then score a row without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loglynx_models::file::{decode, payload, with_header, FORMAT_VERSION};
use loglynx_models::ndarray::Array2;
use loglynx_models::{Calibration, IsolationForest, KMeansDetector, ModelSet, Preprocessor};

fn decode_all(bytes: &[u8]) {
    if let Ok(set) = decode::<ModelSet>(bytes) {
        if set.validate().is_ok() {
            let d = set.spec().n_features();
            let rows = Array2::<f64>::zeros((2, d));
            let _ = set.score(rows.view());
        }
    }
    let _ = decode::<IsolationForest>(bytes);
    let _ = decode::<KMeansDetector>(bytes);
    let _ = decode::<Preprocessor>(bytes);
    let _ = decode::<Calibration>(bytes);
}

fuzz_target!(|data: &[u8]| {
    let _ = payload(data);
    decode_all(data);
    decode_all(&with_header(FORMAT_VERSION, data));
});
