//! Windows closed as time passes give the same rows as windows finished at
//! the end of the input: for time-ordered input, for input out of order by
//! less than the allowed lateness, across files read in the order of their
//! first event; and events later than that are counted, not mis-windowed.

use std::borrow::Cow;
use std::sync::Arc;

use loglynx_features::aggregate::{name_hash, Aggregator, FeatureConfig, FeatureTable};
use loglynx_features::event::{Action, Event, Evidence, Outcome};
use loglynx_features::ingest::input::Source;
use loglynx_features::ingest::pipeline::{run, run_closing, RunConfig};
use loglynx_features::output::OutputError;
use proptest::prelude::*;

const T0: i64 = 1_772_409_600; // 2026-03-02 00:00 UTC
const S: i64 = 1_000_000;

/// One generated event: seconds after `T0`, user, source, host, kind.
#[derive(Debug, Clone)]
struct Gen {
    secs: i64,
    user: usize,
    source: usize,
    host: usize,
    kind: u8,
}

fn event(g: &Gen, line: u64) -> Event<'static> {
    let (action, outcome) = match g.kind % 5 {
        0 | 1 => (Action::Authentication, Outcome::Failure),
        2 => (Action::Authentication, Outcome::Success),
        3 => (Action::Sudo, Outcome::Success),
        _ => (Action::SessionOpened, Outcome::Success),
    };
    let mut ev = Event::new(
        (T0 + g.secs) * S,
        action,
        Evidence {
            file: 0,
            line,
            raw: Cow::Borrowed(""),
        },
    );
    ev.outcome = outcome;
    ev.user = Some(Cow::Owned(format!("user{}", g.user)));
    ev.host = Some(Cow::Owned(format!("host{}", g.host)));
    // Sources 0–2 are internal, the rest public.
    let source = if g.source < 3 {
        format!("10.0.0.{}", g.source + 1)
    } else {
        format!("203.0.113.{}", g.source)
    };
    ev.set_source(Cow::Owned(source));
    ev
}

fn config(horizon_secs: u64) -> Arc<loglynx_features::aggregate::ValidFeatureConfig> {
    let cfg = FeatureConfig {
        novelty_warmup_secs: 3600,
        novelty_horizon_secs: horizon_secs,
        ..FeatureConfig::default()
    };
    Arc::new(cfg.check().unwrap())
}

/// A table as comparable values: NaN (a feature that does not apply) is
/// compared by its bits.
type Row = (i64, String, String, Vec<u64>, Option<&'static str>, Vec<u64>);

fn rows(t: &FeatureTable) -> Vec<Row> {
    (0..t.len())
        .map(|i| {
            (
                t.window_starts[i],
                t.kinds[i].as_str().to_owned(),
                t.entities[i].to_string(),
                t.columns.iter().map(|c| c[i].to_bits()).collect(),
                t.source_scope[i],
                t.evidence.get(i).map_or(Vec::new(), |e| {
                    e.iter().map(|l| l.get().map_or(0, |(_, n)| n)).collect()
                }),
            )
        })
        .collect()
}

/// Rows of the legacy path, finished at the end, in the order windows that
/// close as time passes come out: start, kind, name.
fn finished_at_the_end(events: &[Gen], horizon: u64) -> Vec<Row> {
    let mut agg = Aggregator::with_shards(config(horizon), 3);
    agg.keep_evidence();
    for (i, g) in events.iter().enumerate() {
        agg.add(&event(g, i as u64 + 1));
    }
    let mut rows = rows(&agg.finish());
    in_closing_order(&mut rows);
    rows
}

/// The order windows come out in as they close: start, kind, name hash.
fn in_closing_order(rows: &mut [Row]) {
    let kind = |k: &str| ["user", "source_ip", "host"].iter().position(|x| *x == k);
    rows.sort_by(|a, b| (a.0, kind(&a.1), name_hash(&a.2), &a.2).cmp(&(b.0, kind(&b.1), name_hash(&b.2), &b.2)));
}

/// Rows of windows closed at `lateness` behind the latest event every
/// `every` events, and the late events.
fn closed_as_time_passes(events: &[Gen], horizon: u64, lateness: i64, every: usize) -> (Vec<Row>, u64) {
    let mut agg = Aggregator::with_shards(config(horizon), 3);
    agg.keep_evidence();
    agg.close_as_time_passes();
    let mut table = FeatureTable::new(3600 * S);
    let mut latest = i64::MIN;
    for (i, g) in events.iter().enumerate() {
        agg.add(&event(g, i as u64 + 1));
        latest = latest.max((T0 + g.secs) * S);
        if i % every == every - 1 {
            table.append(agg.close_until(latest - lateness * S));
        }
    }
    table.append(agg.close_until(i64::MAX));
    assert_eq!(agg.windows(), 0, "every window is closed and freed");
    (rows(&table), agg.late_events())
}

fn generated() -> impl Strategy<Value = Vec<Gen>> {
    // Four days with quiet gaps, so that the one-day horizon forgets.
    prop::collection::vec(
        (0i64..4 * 86_400, 0usize..6, 0usize..12, 0usize..4, any::<u8>()),
        1..400,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(secs, user, source, host, kind)| Gen {
                // Thin out the second day: entities come back after gaps.
                secs: if secs / 86_400 == 1 { secs + 86_400 } else { secs },
                user,
                source,
                host,
                kind,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn closing_time_ordered_input_early_gives_the_rows_of_closing_at_the_end(
        mut events in generated(),
        every in 1usize..50,
        horizon in prop::sample::select(vec![0u64, 86_400, 3 * 86_400]),
    ) {
        events.sort_by_key(|g| g.secs);
        let (early, late) = closed_as_time_passes(&events, horizon, 0, every);
        prop_assert_eq!(late, 0);
        let (at_end, _) = closed_as_time_passes(&events, horizon, 0, usize::MAX);
        prop_assert_eq!(&early, &at_end);
        prop_assert_eq!(early, finished_at_the_end(&events, horizon));
    }

    #[test]
    fn input_out_of_order_within_the_lateness_gives_the_same_rows(
        mut events in generated(),
        delays in prop::collection::vec(0i64..=600, 400),
        every in 1usize..50,
    ) {
        // Each event arrives up to 10 minutes after later ones: never more
        // than the allowed lateness behind the latest event.
        events.sort_by_key(|g| g.secs);
        let mut arriving: Vec<(i64, Gen)> =
            events.iter().zip(&delays).map(|(g, d)| (g.secs + d, g.clone())).collect();
        arriving.sort_by_key(|(k, _)| *k);
        let arriving: Vec<Gen> = arriving.into_iter().map(|(_, g)| g).collect();
        let (early, late) = closed_as_time_passes(&arriving, 86_400, 600, every);
        prop_assert_eq!(late, 0);
        prop_assert_eq!(early, finished_at_the_end(&arriving, 86_400));
    }
}

#[test]
fn an_event_of_a_window_already_closed_is_counted_late_and_left_out() {
    let g = |secs, user| Gen {
        secs,
        user,
        source: 4,
        host: 0,
        kind: 0,
    };
    let mut agg = Aggregator::with_shards(config(86_400), 2);
    agg.close_as_time_passes();
    agg.add(&event(&g(100, 0), 1));
    agg.add(&event(&g(7300, 0), 2));
    let first = agg.close_until((T0 + 7300) * S);
    assert_eq!(first.len(), 3, "user, source and host of hour 0");
    // Hour 0 is closed: an event in it is late; hour 2 is still open.
    agg.add(&event(&g(3599, 1), 3));
    agg.add(&event(&g(7400, 1), 4));
    assert_eq!(agg.late_events(), 1);
    let rest = agg.close_until(i64::MAX);
    assert!(
        rest.window_starts.iter().all(|&s| s == (T0 + 7200) * S),
        "{:?}",
        rest.window_starts
    );
    let host = rest.entities.iter().position(|e| e == "host0").unwrap();
    assert_eq!(rest.value(host, "events"), Some(2.0), "the late event is in no window");
    // A time earlier than one already closed closes nothing.
    assert!(agg.close_until((T0 + 60) * S).is_empty());
}

#[test]
fn partners_are_forgotten_after_the_horizon_and_new_again() {
    let at = |secs| Gen {
        secs,
        user: 0,
        source: 5,
        host: 0,
        kind: 2,
    };
    // Windows of user0 from the same address: day 0, day 1 (within the
    // horizon of two days) and day 5 (beyond it).
    let mut events: Vec<Gen> = [10 * 3600, 34 * 3600, 130 * 3600].into_iter().map(at).collect();
    // Another user's event starts the data, and the warm-up, earlier.
    events.insert(0, Gen { user: 1, ..at(0) });
    let (rows, _) = closed_as_time_passes(&events, 2 * 86_400, 0, 1);
    let new_sources: Vec<u64> = rows
        .iter()
        .filter(|r| r.2 == "user0")
        .map(|r| f64::from_bits(r.3[loglynx_features::aggregate::registry::index_of("new_source_ips").unwrap()]) as u64)
        .collect();
    assert_eq!(new_sources, [1, 0, 1]);
    assert_eq!(rows, finished_at_the_end(&events, 2 * 86_400));
}

#[test]
fn a_partner_not_seen_for_longer_than_the_horizon_is_new_again_though_the_entity_never_rested() {
    let at = |secs, source| Gen {
        secs,
        user: 0,
        source,
        host: 0,
        kind: 2,
    };
    // user0 logs in every evening from address 6; from address 5 on day 0
    // and, five days later, on day 5 (the horizon is two days).
    let mut events: Vec<Gen> = (0..6).map(|d| at(d * 86_400 + 20 * 3600, 6)).collect();
    events.push(at(10 * 3600, 5));
    events.push(at(5 * 86_400 + 10 * 3600, 5));
    events.push(Gen { user: 1, ..at(0, 1) });
    events.sort_by_key(|g| g.secs);
    let (rows, _) = closed_as_time_passes(&events, 2 * 86_400, 0, 1);
    let column = loglynx_features::aggregate::registry::index_of("new_source_ips").unwrap();
    let new_sources: Vec<u64> = rows
        .iter()
        .filter(|r| r.2 == "user0")
        .map(|r| f64::from_bits(r.3[column]) as u64)
        .collect();
    assert_eq!(new_sources, [1, 1, 0, 0, 0, 0, 1, 0]);
    assert_eq!(rows, finished_at_the_end(&events, 2 * 86_400));
}

/// Syslog lines of hour `h` (after 2026-03-02 00:00), one per minute.
fn hour_of_lines(h: u32) -> String {
    let mut s = String::new();
    for m in 0..60 {
        let (day, hour) = (2 + h / 24, h % 24);
        s.push_str(&format!(
            "Mar {day:>2} {hour:02}:{m:02}:00 web1 sshd[{h}{m}]: Failed password for user{} from 203.0.113.{} port 4711 ssh2\n",
            m % 7,
            (h * 7 + m) % 50
        ));
    }
    s
}

#[test]
fn rotated_files_given_newest_first_are_read_oldest_first_and_close_as_they_go() {
    let dir = tempfile::tempdir().unwrap();
    // auth.log holds the newest hours, auth.log.2 the oldest: the order a
    // glob gives them in.
    let parts = [("auth.log", 48..72), ("auth.log.1", 24..48), ("auth.log.2", 0..24)];
    let sources: Vec<Source> = parts
        .iter()
        .map(|(name, hours)| {
            let path = dir.path().join(name);
            std::fs::write(&path, hours.clone().map(hour_of_lines).collect::<String>()).unwrap();
            Source::File(path)
        })
        .collect();
    let mut cfg = RunConfig::new(FeatureConfig::default().check().unwrap());
    cfg.year = Some(2026);
    cfg.block_size = 8 * 1024;
    let mut closed = FeatureTable::new(3600 * S);
    let mut calls = 0;
    let mut on_rows = |rows: FeatureTable| -> Result<(), OutputError> {
        calls += 1;
        closed.append(rows);
        Ok(())
    };
    let result = run_closing(&sources, &cfg, 300 * S, &mut on_rows, |_| Ok(()), &|_| {}).unwrap();
    assert_eq!(result.aggregator.late_events(), 0);
    assert!(calls > 10, "windows closed as the input went: {calls} calls");
    let reference = run(&sources, &cfg, |_| Ok(()), &|_| {}).unwrap();
    let mut expected = rows(&reference.aggregator.finish());
    in_closing_order(&mut expected);
    assert_eq!(closed.len(), 72 * (7 + 50 + 1));
    assert_eq!(rows(&closed), expected);
    // Another number of threads (so of shards) gives the same rows in the
    // same order.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let mut on_three = FeatureTable::new(3600 * S);
    let mut collect = |rows: FeatureTable| -> Result<(), OutputError> {
        on_three.append(rows);
        Ok(())
    };
    pool.install(|| run_closing(&sources, &cfg, 300 * S, &mut collect, |_| Ok(()), &|_| {}))
        .unwrap();
    assert_eq!(rows(&on_three), expected);
}

/// 72 hours of lines in a temporary file, and a run over it in small
/// blocks.
fn three_days() -> (tempfile::TempDir, std::path::PathBuf, Vec<Source>, RunConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    std::fs::write(&path, (0..72).map(hour_of_lines).collect::<String>()).unwrap();
    let sources = vec![Source::File(path.clone())];
    let mut cfg = RunConfig::new(FeatureConfig::default().check().unwrap());
    cfg.year = Some(2026);
    cfg.block_size = 8 * 1024;
    (dir, path, sources, cfg)
}

#[test]
fn a_row_sink_that_fails_stops_the_run_with_its_error() {
    let (_dir, path, sources, cfg) = three_days();
    let mut calls = 0;
    let mut failing = |_: FeatureTable| -> Result<(), OutputError> {
        calls += 1;
        Err(OutputError::Io {
            path: path.clone(),
            source: std::io::Error::other("disk full"),
        })
    };
    let err = run_closing(&sources, &cfg, 300 * S, &mut failing, |_| Ok(()), &|_| {})
        .err()
        .expect("the sink's error");
    assert!(err.to_string().contains("disk full"), "{err}");
    // Nothing is handed to a sink after it failed.
    assert_eq!(calls, 1);
}

#[test]
fn a_row_sink_that_panics_fails_the_run_instead_of_hanging_it() {
    let (_dir, _, sources, cfg) = three_days();
    let run = std::panic::catch_unwind(move || {
        let mut calls = 0;
        let mut panicking = |_: FeatureTable| -> Result<(), OutputError> {
            calls += 1;
            // Slow enough for tables to queue up behind it first.
            std::thread::sleep(std::time::Duration::from_millis(50));
            panic!("sink bug");
        };
        run_closing(&sources, &cfg, 300 * S, &mut panicking, |_| Ok(()), &|_| {})
    });
    let panic = run.err().expect("the sink's panic reaches the caller");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"sink bug"));
}

/// `sources` read with windows closing as time passes (5 minutes late at
/// most), rows dropped, kept events handed to `events`.
fn read_with_events(
    sources: &[Source],
    cfg: &RunConfig,
    events: loglynx_features::ingest::pipeline::EventSink<'_>,
) -> Result<loglynx_features::ingest::pipeline::RunResult, loglynx_features::ingest::pipeline::PipelineError> {
    loglynx_features::ingest::pipeline::run_closing_with_events(
        sources,
        cfg,
        300 * S,
        &mut |_| Ok(()),
        events,
        |_| Ok(()),
        &|_| {},
    )
}

/// The kept events go to a sink on a thread of their own: its failure
/// stops the run with its error, its panic reaches the caller, and every
/// kept event reaches it, with a watermark that never goes back.
#[test]
fn an_event_sink_gets_every_kept_event_and_its_failure_or_panic_ends_the_run() {
    use loglynx_features::output::compact::{CompactBatch, KeepEvents};
    let (_dir, path, sources, mut cfg) = three_days();
    cfg.collect_compact = Some(KeepEvents::all());
    let (mut kept, mut last) = (0u64, i64::MIN);
    let mut events = |batches: Vec<CompactBatch>, until: i64| -> Result<(), OutputError> {
        kept += batches.iter().map(|b| b.events.len() as u64).sum::<u64>();
        assert!(until >= last, "the watermark went back");
        last = until;
        Ok(())
    };
    let result = read_with_events(&sources, &cfg, &mut events).unwrap();
    assert!(result.compact.is_none());
    assert_eq!(kept, result.stats.events);

    let mut calls = 0;
    let mut failing = |_: Vec<CompactBatch>, _: i64| -> Result<(), OutputError> {
        calls += 1;
        Err(OutputError::Io {
            path: path.clone(),
            source: std::io::Error::other("spool full"),
        })
    };
    let err = read_with_events(&sources, &cfg, &mut failing)
        .err()
        .expect("the event sink's error");
    assert!(err.to_string().contains("spool full"), "{err}");
    assert_eq!(calls, 1);

    let run = std::panic::catch_unwind(move || {
        let mut panicking = |_: Vec<CompactBatch>, _: i64| -> Result<(), OutputError> {
            std::thread::sleep(std::time::Duration::from_millis(50));
            panic!("event sink bug");
        };
        read_with_events(&sources, &cfg, &mut panicking)
    });
    let panic = run.err().expect("the event sink's panic reaches the caller");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"event sink bug"));
}

/// A batch that spans many hours hands the row sink tables of about
/// `table_rows` rows, not one table of every window it closes, and the rows
/// are those, in the order, of a batch closed in one table.
#[test]
fn a_batch_spanning_many_windows_is_sent_in_tables_of_about_table_rows() {
    let (_dir, _path, sources, mut cfg) = three_days();
    // One block, so one batch closes every window but the last ones.
    cfg.block_size = 64 << 20;
    let collect = |cfg: &RunConfig| {
        let mut tables: Vec<FeatureTable> = Vec::new();
        let mut on_rows = |rows: FeatureTable| -> Result<(), OutputError> {
            tables.push(rows);
            Ok(())
        };
        run_closing(&sources, cfg, 300 * S, &mut on_rows, |_| Ok(()), &|_| {}).unwrap();
        tables
    };
    cfg.table_rows = usize::MAX;
    let whole = collect(&cfg);
    assert!(whole.len() <= 2, "{} tables", whole.len());
    cfg.table_rows = 100;
    let parts = collect(&cfg);
    // 58 rows a window start: two starts make a table of 116.
    assert!(parts.len() >= 30, "{} tables", parts.len());
    for t in &parts {
        assert!(t.len() < 100 + 58, "a table of {} rows", t.len());
    }
    // Only what is left at the end of the batch and of the input is smaller.
    let small = parts.iter().filter(|t| t.len() < 100).count();
    assert!(small <= 2, "{small} tables under 100 rows");
    let joined = |tables: Vec<FeatureTable>| {
        let mut all = FeatureTable::new(3600 * S);
        for t in tables {
            all.append(t);
        }
        rows(&all)
    };
    assert_eq!(joined(parts), joined(whole));
}
