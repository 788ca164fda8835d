//! Property tests: what the pipeline makes of a log does not depend on how
//! the log is cut (block size, number of files) nor, for the features of
//! one window, on the order of its lines.
//!
//! The logs are generated: a mix of sshd, PAM (new and old `sshd(pam_unix)`
//! forms), sudo and su lines with random users, addresses and pids (from a
//! small range, so pids repeat), an sshd line and a PAM line of one attempt
//! with the same pid and time, junk lines (text, unknown programs, cut-off
//! headers, blank lines, invalid UTF-8), CRLF endings and sometimes no final
//! newline; the chunking test also writes the same messages as journald
//! JSON. The format is forced and the year given: format detection and
//! year inference look at the head of each file, so a file that starts
//! with junk is legitimately read differently.

use std::collections::BTreeMap;
use std::path::Path;

use loglynx_features::aggregate::registry::FEATURES;
use loglynx_features::aggregate::{FeatureConfig, FeatureTable};
use loglynx_features::ingest::input::{InputFormat, Source};
use loglynx_features::ingest::pipeline::{run, RunConfig};
use loglynx_features::ingest::stats::LineStats;
use loglynx_features::output::EventBatch;
use proptest::prelude::*;
use proptest::sample::select;

const USERS: &[&str] = &["root", "admin", "alice", "bob", "oracle", "test", "git"];
const HOSTS: &[&str] = &["web1", "web2", "db"];

/// What one generated log entry says.
#[derive(Debug, Clone)]
enum Msg {
    FailedPassword {
        user: String,
        invalid: bool,
        ip: String,
        port: u16,
    },
    Accepted {
        user: String,
        publickey: bool,
        ip: String,
        port: u16,
    },
    InvalidUser {
        user: String,
        ip: String,
        port: Option<u16>,
    },
    PamAuthFailure {
        user: Option<String>,
        ip: String,
    },
    OldPamAuthFailure {
        user: String,
        ip: String,
    },
    PamSession {
        user: String,
        open: bool,
    },
    Sudo {
        user: String,
        failed: bool,
    },
    Su {
        user: String,
        target: String,
        ok: bool,
    },
    /// The PAM line and the sshd line of one attempt (same pid and time).
    Pair {
        user: String,
        ip: String,
        port: u16,
    },
    /// Text that is no syslog line (it never starts with a month name, so
    /// it cannot move the file's inferred year).
    Junk(String),
    /// A syslog header of a program no decoder reads.
    Unknown(String),
    /// A header cut off in the time.
    CutHeader,
    Blank,
    InvalidUtf8,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Seconds after the first line's window start.
    offset: u32,
    host: &'static str,
    pid: u32,
    msg: Msg,
    crlf: bool,
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![3 => select(USERS).prop_map(str::to_owned), 1 => "[a-z][a-z0-9_]{0,7}"]
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u8..4, any::<u8>()).prop_map(|(a, b)| format!("203.0.113.{}", u16::from(a) * 60 + u16::from(b) % 60)),
        1 => (1u8..=254).prop_map(|b| format!("10.0.0.{b}")),
        1 => (0u16..16).prop_map(|b| format!("2001:db8::{b:x}")),
    ]
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        4 => (user(), any::<bool>(), ip(), 1024u16..65535)
            .prop_map(|(user, invalid, ip, port)| Msg::FailedPassword { user, invalid, ip, port }),
        2 => (user(), any::<bool>(), ip(), 1024u16..65535)
            .prop_map(|(user, publickey, ip, port)| Msg::Accepted { user, publickey, ip, port }),
        2 => (user(), ip(), proptest::option::of(1024u16..65535))
            .prop_map(|(user, ip, port)| Msg::InvalidUser { user, ip, port }),
        2 => (proptest::option::of(user()), ip()).prop_map(|(user, ip)| Msg::PamAuthFailure { user, ip }),
        1 => (user(), ip()).prop_map(|(user, ip)| Msg::OldPamAuthFailure { user, ip }),
        2 => (user(), any::<bool>()).prop_map(|(user, open)| Msg::PamSession { user, open }),
        1 => (user(), any::<bool>()).prop_map(|(user, failed)| Msg::Sudo { user, failed }),
        1 => (user(), user(), any::<bool>()).prop_map(|(user, target, ok)| Msg::Su { user, target, ok }),
        3 => (user(), ip(), 1024u16..65535).prop_map(|(user, ip, port)| Msg::Pair { user, ip, port }),
        1 => "~[ -~]{0,60}".prop_map(Msg::Junk),
        1 => "[ -~]{0,40}".prop_map(Msg::Unknown),
        1 => Just(Msg::CutHeader),
        1 => Just(Msg::Blank),
        1 => Just(Msg::InvalidUtf8),
    ]
}

/// Entries within `span` seconds.
fn entry(span: u32) -> impl Strategy<Value = Entry> {
    (0..span, select(HOSTS), 2000u32..2010, msg(), prop::bool::weighted(0.2)).prop_map(
        |(offset, host, pid, msg, crlf)| Entry {
            offset,
            host,
            pid,
            msg,
            crlf,
        },
    )
}

/// `Mar  3 04:00:00` plus `offset` seconds (the test logs stay within a day).
fn stamp(offset: u32) -> String {
    let s = 4 * 3600 + offset;
    format!("Mar  3 {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The lines (without endings) of one entry.
fn render(e: &Entry) -> Vec<Vec<u8>> {
    let head = |program: &str| format!("{} {} {program}[{}]: ", stamp(e.offset), e.host, e.pid);
    let line = |program: &str, text: String| format!("{}{text}", head(program)).into_bytes();
    let one = |l: Vec<u8>| vec![l];
    match &e.msg {
        Msg::FailedPassword { user, invalid, ip, port } => {
            let inv = if *invalid { "invalid user " } else { "" };
            one(line("sshd", format!("Failed password for {inv}{user} from {ip} port {port} ssh2")))
        }
        Msg::Accepted { user, publickey, ip, port } => {
            let method = if *publickey { "publickey" } else { "password" };
            one(line("sshd", format!("Accepted {method} for {user} from {ip} port {port} ssh2")))
        }
        Msg::InvalidUser { user, ip, port } => {
            let port = port.map(|p| format!(" port {p}")).unwrap_or_default();
            one(line("sshd", format!("Invalid user {user} from {ip}{port}")))
        }
        Msg::PamAuthFailure { user, ip } => {
            let user = user.as_ref().map(|u| format!("  user={u}")).unwrap_or_default();
            one(line(
                "sshd",
                format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}{user}"),
            ))
        }
        Msg::OldPamAuthFailure { user, ip } => one(line(
            "sshd(pam_unix)",
            format!("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={ip}  user={user}"),
        )),
        Msg::PamSession { user, open } => one(line(
            "sshd",
            if *open {
                format!("pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)")
            } else {
                format!("pam_unix(sshd:session): session closed for user {user}")
            },
        )),
        Msg::Sudo { user, failed } => {
            let problem = if *failed { "3 incorrect password attempts ; " } else { "" };
            one(line(
                "sudo",
                format!("   {user} : {problem}TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/ls"),
            ))
        }
        Msg::Su { user, target, ok } => {
            let failed = if *ok { "" } else { "FAILED SU " };
            one(line("su", format!("{failed}(to {target}) {user} on pts/0")))
        }
        Msg::Pair { user, ip, port } => vec![
            line(
                "sshd",
                format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"),
            ),
            line("sshd", format!("Failed password for {user} from {ip} port {port} ssh2")),
        ],
        Msg::Junk(text) => one(text.clone().into_bytes()),
        Msg::Unknown(text) => one(line("kernel", text.clone())),
        Msg::CutHeader => one(stamp(e.offset).as_bytes()[..10].to_vec()),
        Msg::Blank => one(b"   ".to_vec()),
        Msg::InvalidUtf8 => one(line("sshd", String::new()).into_iter().chain(*b"Failed password for \xff\xfe from x").collect()),
    }
}

/// One line with its ending (shown as text in failure reports), and the
/// process that wrote it (host and pid; `None` for junk).
#[derive(Clone, PartialEq)]
struct Line(Vec<u8>, Option<(&'static str, u32)>);

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

fn concat(lines: &[Line]) -> Vec<u8> {
    lines.iter().flat_map(|l| l.0.iter().copied()).collect()
}

/// `shuffled` (a permutation of `sorted`) with each process's lines put
/// back in their order in `sorted`, in the places its lines hold in
/// `shuffled`: lines of different processes interleave arbitrarily, one
/// process's lines stay in the order it wrote them.
fn keep_process_order(sorted: &[Line], shuffled: Vec<Line>) -> Vec<Line> {
    let mut out = shuffled;
    let mut processes: Vec<(&'static str, u32)> = sorted.iter().filter_map(|l| l.1).collect();
    processes.sort_unstable();
    processes.dedup();
    for p in processes {
        let places = (0..out.len()).filter(|&i| out[i].1 == Some(p));
        let in_order = sorted.iter().filter(|l| l.1 == Some(p));
        let moved: Vec<(usize, Line)> = places.zip(in_order.cloned()).collect();
        for (i, l) in moved {
            out[i] = l;
        }
    }
    out
}

/// Unix time of `Mar  3 04:00:00` 2024 UTC, the logs' first window.
const START_SECS: i64 = 1_709_438_400;

/// A rendered syslog line of `e` as the `journalctl -o json` entry of the
/// same message; junk, cut-off and invalid UTF-8 lines stay as they are.
fn as_journald(e: &Entry, line: Vec<u8>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(&line) else {
        return line;
    };
    let Some(rest) = text.strip_prefix(&format!("{} {} ", stamp(e.offset), e.host)) else {
        return line;
    };
    let Some((program, message)) = rest.split_once(&format!("[{}]: ", e.pid)) else {
        return line;
    };
    serde_json::json!({
        "__REALTIME_TIMESTAMP": ((START_SECS + i64::from(e.offset)) * 1_000_000).to_string(),
        "_HOSTNAME": e.host,
        "SYSLOG_IDENTIFIER": program,
        "_PID": e.pid.to_string(),
        "MESSAGE": message,
    })
    .to_string()
    .into_bytes()
}

/// The log's lines in entry order, each with its ending, as syslog lines
/// or journald JSON.
fn lines_of(entries: &[Entry], format: InputFormat) -> Vec<Line> {
    let mut out = Vec::new();
    for e in entries {
        let ending: &[u8] = if e.crlf { b"\r\n" } else { b"\n" };
        let process = match e.msg {
            Msg::Junk(_) | Msg::CutHeader | Msg::Blank => None,
            _ => Some((e.host, e.pid)),
        };
        for l in render(e) {
            let mut l = match format {
                InputFormat::Journald => as_journald(e, l),
                _ => l,
            };
            l.extend_from_slice(ending);
            out.push(Line(l, process));
        }
    }
    out
}

/// One event, all its fields, with its line numbered across all files.
type EventRow = Vec<String>;

fn event_rows(batch: &EventBatch, first_line: &[u64]) -> Vec<EventRow> {
    (0..batch.len())
        .map(|i| {
            vec![
                batch.timestamp[i].to_string(),
                format!("{:?}", batch.host[i]),
                format!("{:?}", batch.source_address[i]),
                format!("{:?}", batch.source_ip[i]),
                format!("{:?}", batch.source_port[i]),
                format!("{:?}", batch.source_scope[i]),
                format!("{:?}", batch.user[i]),
                format!("{:?}", batch.target_user[i]),
                batch.action[i].to_owned(),
                batch.outcome[i].to_owned(),
                format!("{:?}", batch.auth_method[i]),
                batch.user_invalid[i].to_string(),
                format!("{:?}", batch.program[i]),
                format!("{:?}", batch.pid[i]),
                format!("{:?}", batch.command[i]),
                batch.repeat[i].to_string(),
                batch.attempts[i].to_string(),
                batch.source_unreliable[i].to_string(),
                batch.category[i].to_owned(),
                (first_line[batch.file[i] as usize] + batch.line[i]).to_string(),
                batch.message[i].clone(),
            ]
        })
        .collect()
}

/// One feature row: kind, entity, window start, then every feature (NaN as
/// `None`, compared exactly), then the source scope.
type FeatureRow = (String, String, i64, Vec<Option<u64>>, Option<&'static str>);

fn feature_rows(table: &FeatureTable) -> Vec<FeatureRow> {
    (0..table.len())
        .map(|i| {
            let values = table
                .columns
                .iter()
                .map(|c| Some(c[i]).filter(|v| !v.is_nan()).map(f64::to_bits))
                .collect();
            (
                table.kinds[i].as_str().to_owned(),
                table.entities[i].to_string(),
                table.window_starts[i],
                values,
                table.source_scope[i],
            )
        })
        .collect()
}

/// Line counts by reason and program (the first example's file and line
/// depend on the files, so they are left out).
fn skip_counts(stats: &LineStats) -> (u64, u64, u64, BTreeMap<String, u64>) {
    let skipped = stats
        .skipped
        .iter()
        .flat_map(|(reason, programs)| programs.iter().map(move |(p, b)| (format!("{reason}/{p}"), b.count)))
        .collect();
    (stats.lines, stats.events, stats.invalid_utf8, skipped)
}

struct Outcome {
    events: Vec<EventRow>,
    features: Vec<FeatureRow>,
    stats: (u64, u64, u64, BTreeMap<String, u64>),
}

/// Runs the pipeline over `files` (each the bytes of one file) written to
/// `dir`, with `block_size`.
fn read(dir: &Path, files: &[Vec<u8>], format: InputFormat, block_size: usize, features: FeatureConfig) -> Outcome {
    let mut sources = Vec::new();
    let mut first_line = Vec::new();
    let mut lines_before = 0u64;
    for (i, bytes) in files.iter().enumerate() {
        let path = dir.join(format!("part{i:03}.log"));
        std::fs::write(&path, bytes).unwrap();
        sources.push(Source::File(path));
        first_line.push(lines_before);
        lines_before += bytes.iter().filter(|&&b| b == b'\n').count() as u64
            + u64::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'));
    }
    let mut cfg = RunConfig::new(features.check().unwrap());
    cfg.format = Some(format);
    cfg.year = Some(2024);
    cfg.block_size = block_size;
    cfg.collect_events = true;
    let mut events = Vec::new();
    let result = run(
        &sources,
        &cfg,
        |batch| {
            events.extend(event_rows(batch, &first_line));
            Ok(())
        },
        &|_| {},
    )
    .unwrap();
    assert!(
        result.errors().next().is_none(),
        "{:?}",
        result.errors().collect::<Vec<_>>()
    );
    let stats = skip_counts(&result.stats);
    Outcome {
        events,
        features: feature_rows(&result.aggregator.finish()),
        stats,
    }
}

/// 15-minute windows, so entities span several, and novelty counted from
/// the start.
fn short_windows() -> FeatureConfig {
    FeatureConfig {
        window_secs: 900,
        novelty_warmup_secs: 0,
        ..FeatureConfig::default()
    }
}

/// A log of two hours, in time order, as syslog or journald JSON lines,
/// its lines split into files at `cuts` (line indices, any order, repeats
/// allowed: empty files), and whether the last line keeps its newline.
fn chunking_case() -> impl Strategy<Value = (InputFormat, Vec<Line>, Vec<prop::sample::Index>, bool)> {
    (
        prop_oneof![3 => Just(InputFormat::Syslog), 1 => Just(InputFormat::Journald)],
        prop::collection::vec(entry(7200), 15..60),
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(format, mut entries, cuts, final_newline)| {
            entries.sort_by_key(|e| e.offset);
            (format, lines_of(&entries, format), cuts, final_newline)
        })
}

fn strip_final_newline(text: &mut Vec<u8>) {
    if text.last() == Some(&b'\n') {
        text.pop();
        if text.last() == Some(&b'\r') {
            text.pop();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// One file read in one block, the same file read in small blocks (the
    /// reader raises sizes below 1 KiB to 1 KiB; a log is 15 to 60 entries
    /// of about 100 bytes a line, so blocks end after many different
    /// lines), and the lines split into several
    /// files: the same events in the same order, the same line counts and
    /// the same feature rows.
    #[test]
    fn decoding_does_not_depend_on_blocks_or_files(
        (format, lines, cuts, final_newline) in chunking_case(),
        block_size in 1usize..=4096,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut whole = concat(&lines);
        if !final_newline {
            strip_final_newline(&mut whole);
        }
        let one = read(dir.path(), std::slice::from_ref(&whole), format, 1 << 20, short_windows());
        prop_assert!(!one.events.is_empty());

        let blocks = read(dir.path(), std::slice::from_ref(&whole), format, block_size, short_windows());
        prop_assert_eq!(&blocks.events, &one.events);
        prop_assert_eq!(&blocks.stats, &one.stats);
        prop_assert_eq!(&blocks.features, &one.features);

        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
        at.sort_unstable();
        let mut files = Vec::new();
        let mut start = 0;
        for cut in at.into_iter().chain([lines.len()]) {
            files.push(concat(&lines[start..cut]));
            start = cut;
        }
        if !final_newline {
            strip_final_newline(files.last_mut().unwrap());
        }
        let split_dir = tempfile::tempdir().unwrap();
        let split = read(split_dir.path(), &files, format, block_size, short_windows());
        prop_assert_eq!(&split.events, &one.events);
        prop_assert_eq!(&split.stats, &one.stats);
        prop_assert_eq!(&split.features, &one.features);
    }
}

fn feature_index(name: &str) -> usize {
    FEATURES.iter().position(|f| f.name == name).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// All lines within one hour window (04:00–04:59): any interleaving of
    /// the processes' lines gives the same feature rows, with two
    /// exceptions that depend on line order (below).
    ///
    /// Each process's (host and pid's) own lines stay in the order it wrote
    /// them, as in any syslog file: attempts are counted once per sshd
    /// connection (`ingest::attempts`) in input order, and a connection
    /// whose lines come out of time order counts differently. For example,
    /// `db sshd[2003]` writing `Invalid user` at 04:02:34, then the PAM
    /// and `Failed password` lines of one attempt at 04:40:25 (a reused
    /// pid, 38 minutes later) counts 2 attempts in time order and 3 when the
    /// PAM line comes first: each step back and forth across the idle time
    /// starts a new connection.
    ///
    /// - `min_interarrival_s` is the smallest gap between consecutive events
    ///   *in input order*: a permutation can only raise it (any two events
    ///   are at least as far apart as the closest pair in time), and in time
    ///   order, as logs are, it is the smallest gap in time. Checked to be
    ///   no lower than in time order.
    /// - `username_entropy` sums over the window's users in the order they
    ///   were first seen, so floating-point rounding differs in the last
    ///   bits. Checked equal to a relative 1e-12.
    #[test]
    fn features_of_a_window_do_not_depend_on_line_order(
        (sorted, shuffled) in prop::collection::vec(entry(3600), 5..40).prop_flat_map(|mut entries| {
            entries.sort_by_key(|e| e.offset);
            let lines = lines_of(&entries, InputFormat::Syslog);
            (Just(lines.clone()), Just(lines).prop_shuffle())
                .prop_map(|(sorted, shuffled)| {
                    let shuffled = keep_process_order(&sorted, shuffled);
                    (sorted, shuffled)
                })
        }),
    ) {
        let hour = FeatureConfig { novelty_warmup_secs: 0, ..FeatureConfig::default() };
        let dir = tempfile::tempdir().unwrap();
        let in_order = read(dir.path(), &[concat(&sorted)], InputFormat::Syslog, 1 << 20, hour.clone());
        let permuted = read(dir.path(), &[concat(&shuffled)], InputFormat::Syslog, 1 << 20, hour);
        let gap = feature_index("min_interarrival_s");
        let entropy = feature_index("username_entropy");
        let mut a = in_order.features;
        let mut b = permuted.features;
        a.sort_by(|x, y| (&x.0, &x.1, x.2).cmp(&(&y.0, &y.1, y.2)));
        b.sort_by(|x, y| (&x.0, &x.1, x.2).cmp(&(&y.0, &y.1, y.2)));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter_mut().zip(b.iter_mut()) {
            let (gx, gy) = (x.3[gap].take(), y.3[gap].take());
            let (ex, ey) = (x.3[entropy].take(), y.3[entropy].take());
            prop_assert_eq!(&*x, &*y);
            let (ex, ey) = (ex.map(f64::from_bits).unwrap_or(0.0), ey.map(f64::from_bits).unwrap_or(0.0));
            prop_assert!((ex - ey).abs() <= 1e-12 * ex.abs().max(ey.abs()), "{x:?}: entropy {ex} vs {ey}");
            if let (Some(gx), Some(gy)) = (gx, gy) {
                prop_assert!(f64::from_bits(gy) >= f64::from_bits(gx), "{x:?}: {} < {}", f64::from_bits(gy), f64::from_bits(gx));
            } else {
                prop_assert_eq!(gx, gy);
            }
        }
        prop_assert_eq!(in_order.stats, permuted.stats);
    }
}
