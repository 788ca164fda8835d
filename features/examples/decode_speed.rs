//! Decoding speed of one thread over a syslog file (no aggregation):
//! `cargo run --release -p loglynx-features --example decode_speed -- FILE YEAR`.
use std::time::Instant;

use loglynx_features::connectors::syslog::{decode_line, YearResolver};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read the file");
    let year: i32 = args[2].parse().expect("a year");
    let years = YearResolver::starting(year, 1);
    for _ in 0..3 {
        let started = Instant::now();
        let (mut ok, mut skipped) = (0u64, 0u64);
        let Ok(text) = std::str::from_utf8(&data) else {
            panic!("the file is not UTF-8");
        };
        for (no, line) in text.split('\n').enumerate() {
            match decode_line(line, 0, no as u64 + 1, &years) {
                Ok(ev) => {
                    ok += 1;
                    std::hint::black_box(&ev);
                }
                Err(_) => skipped += 1,
            }
        }
        let s = started.elapsed().as_secs_f64();
        println!(
            "{ok} events, {skipped} skipped, {s:.3} s, {:.0} ns/line",
            s * 1e9 / (ok + skipped) as f64
        );
    }
}
