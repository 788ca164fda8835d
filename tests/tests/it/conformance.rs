//! Conformance of the syslog decoders on real public logs in
//! `../shared/datasets` (see its README; never copied into the repository).
//!
//! - loghub OpenSSH_2k and Linux_2k: every line is compared with an
//!   expectation derived independently from loghub's structured CSV (our own
//!   table keyed on EventId; users and sources cut out of `Content` by
//!   matching the template's literal pieces), and the counts per (action,
//!   outcome), per user and per source must agree exactly. Counts are of
//!   lines; `repeat` is checked on its own.
//! - gtkcyber, loghub-full Linux, wazuh log entries, elastic-beats: every line
//!   decodes without panic; event counts match figures found with grep, and
//!   the unrecognized share stays within bounds (printed with `--nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loglynx_features::connectors::syslog::{decode_line, first_month, looks_like_syslog, YearResolver};
use loglynx_features::event::{Action, Decoded, Outcome, SkipReason};
use loglynx_features::time::{format_rfc3339, month_from_abbrev, to_micros};

fn datasets() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets");
    assert!(
        dir.join("README.md").is_file(),
        "the shared real-log datasets are missing: expected them at {} (beside the checkout, as in CI)",
        dir.display()
    );
    dir
}

/// The lines of a file, split on `\n` only (a `\r` stays for the decoder to
/// strip); bytes that are not UTF-8 are replaced.
fn read_lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut lines: Vec<String> = bytes
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// CSV records (RFC 4180: quoted fields may hold commas, doubled quotes
/// and line breaks; records end with LF or CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("CSV record").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn csv_reader_handles_quotes() {
    let rows = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\",\"two\nlines\"\n2,,\n");
    assert_eq!(rows[0], ["a", "b", "c"]);
    assert_eq!(rows[1], ["1", "x, \"y\"", "two\nlines"]);
    assert_eq!(rows[2], ["2", "", ""]);
}

/// Rows of a structured loghub CSV as column-name → value maps.
fn read_structured(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut rows = parse_csv(&text).into_iter();
    let header = rows.next().expect("CSV header");
    rows.map(|r| {
        assert_eq!(r.len(), header.len(), "CSV row {r:?}");
        header.iter().cloned().zip(r).collect()
    })
    .collect()
}

/// The `<*>` values of `content` under a loghub template: each literal piece
/// is matched at its first occurrence, the last one at the end.
fn template_values<'a>(template: &str, content: &'a str) -> Option<Vec<&'a str>> {
    let pieces: Vec<&str> = template.split("<*>").collect();
    let mut rest = content.strip_prefix(pieces[0])?;
    let mut values = Vec::new();
    for (k, piece) in pieces.iter().enumerate().skip(1) {
        if k == pieces.len() - 1 {
            values.push(rest.strip_suffix(piece)?);
            rest = "";
        } else {
            let i = rest.find(piece)?;
            values.push(&rest[..i]);
            rest = &rest[i + piece.len()..];
        }
    }
    rest.is_empty().then_some(values)
}

#[test]
fn template_matcher() {
    let t = "Invalid user <*> from <*>";
    assert_eq!(
        template_values(t, "Invalid user  0101 from 5.1.1.1"),
        Some(vec![" 0101", "5.1.1.1"])
    );
    assert_eq!(template_values("a <*> [<*>] b", "a x [1] b"), Some(vec!["x", "1"]));
    assert_eq!(template_values("abc", "abc"), Some(vec![]));
    assert_eq!(template_values("abc", "abd"), None);
}

/// Where an expected field comes from in a loghub line.
#[derive(Debug, Clone, Copy)]
enum Field {
    Nothing,
    /// The n-th `<*>` of the template.
    Wild(usize),
    /// A constant written in the template itself.
    Text(&'static str),
}

/// What a template line must decode to: `None` for unrecognized.
type Expect = Option<(Action, Outcome, Field, Field)>;

/// One decoded line reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: Option<(Action, Outcome)>,
    user: Option<String>,
    source: Option<String>,
    repeat: u32,
}

/// Counts of lines per (action, outcome), per user and per source.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    kinds: BTreeMap<String, usize>,
    users: BTreeMap<String, usize>,
    sources: BTreeMap<String, usize>,
    repeats: u64,
}

impl Tally {
    fn add(&mut self, s: &Seen) {
        let kind = match s.kind {
            Some((a, o)) => format!("{}/{}", a.as_str(), o.as_str()),
            None => "unrecognized".to_owned(),
        };
        *self.kinds.entry(kind).or_default() += 1;
        if let Some(u) = &s.user {
            *self.users.entry(u.clone()).or_default() += 1;
        }
        if let Some(src) = &s.source {
            *self.sources.entry(src.clone()).or_default() += 1;
        }
        self.repeats += u64::from(s.repeat);
    }
}

fn seen(d: &Decoded<'_>) -> Seen {
    match d {
        Ok(e) => Seen {
            kind: Some((e.action, e.outcome)),
            user: e.user.as_deref().map(str::to_owned),
            source: e.source_address.as_deref().map(str::to_owned),
            repeat: e.repeat,
        },
        Err(s) => {
            assert_eq!(s.reason, SkipReason::Unrecognized, "{s:?}");
            Seen {
                kind: None,
                user: None,
                source: None,
                repeat: 1,
            }
        }
    }
}

/// Compares a loghub `_2k.log` with its structured CSV: program, pid and
/// timestamp of every line, then the expected events, line by line and as
/// counts. Returns the actual tally.
fn check_loghub(
    dir: &str,
    stem: &str,
    year: i32,
    component_is_host: bool,
    table: &dyn Fn(&str) -> Expect,
    repeat_wild: &[&str],
) -> Tally {
    let base = datasets().join("loghub").join(dir);
    let lines = read_lines(&base.join(format!("{stem}.log")));
    let rows = read_structured(&base.join(format!("{stem}.log_structured.csv")));
    assert_eq!(lines.len(), rows.len(), "{stem}: lines vs CSV rows");
    // CRLF endings, and no line ending after the last line.
    assert!(
        lines[..lines.len() - 1].iter().all(|l| l.ends_with('\r')),
        "{stem}: CRLF"
    );

    let years = YearResolver::fixed(year);
    let (mut expected, mut actual) = (Tally::default(), Tally::default());
    let mut mismatches = Vec::new();
    for (i, (line, row)) in lines.iter().zip(&rows).enumerate() {
        let line_no = i as u64 + 1;
        assert_eq!(row["LineId"], line_no.to_string());
        let d = decode_line(line, 0, line_no, &years);

        // Header: program (or host), pid and time against loghub's columns.
        let component = Some(row["Component"].as_str());
        match (&d, component_is_host) {
            (Ok(e), true) => assert_eq!(e.host.as_deref(), component, "{stem}:{line_no} host"),
            (Ok(e), false) => assert_eq!(e.program.as_deref(), component, "{stem}:{line_no} program"),
            (Err(s), false) => assert_eq!(s.program.as_deref(), component, "{stem}:{line_no} program"),
            (Err(_), true) => {}
        }
        let pid = row.get("Pid").or_else(|| row.get("PID")).unwrap();
        if let Ok(e) = &d {
            assert_eq!(
                e.pid.map(|p| p.to_string()).unwrap_or_default(),
                *pid,
                "{stem}:{line_no} pid"
            );
            let month_col = row.get("Month").or_else(|| row.get("Date")).unwrap();
            let day_col = if row.contains_key("Month") {
                &row["Date"]
            } else {
                &row["Day"]
            };
            let month = month_from_abbrev(month_col.as_bytes()).unwrap();
            let day: u32 = day_col.parse().unwrap();
            let hms: Vec<u32> = row["Time"].split(':').map(|x| x.parse().unwrap()).collect();
            let want = to_micros(year, month, day, hms[0], hms[1], hms[2], 0);
            assert_eq!(
                format_rfc3339(e.timestamp),
                format_rfc3339(want),
                "{stem}:{line_no} time"
            );
            assert_eq!(e.evidence.line, line_no);
            assert!(!e.evidence.raw.ends_with('\r'));
        }

        // Message: our own expectation from the template.
        let (event_id, template, content) = (&row["EventId"], &row["EventTemplate"], &row["Content"]);
        let values = template_values(template, content)
            .unwrap_or_else(|| panic!("{stem}:{line_no}: {content:?} does not match {template:?}"));
        let pick = |f: Field| match f {
            Field::Nothing => None,
            Field::Wild(n) => Some(values[n].trim().to_owned()),
            Field::Text(t) => Some(t.to_owned()),
        };
        let want = match table(event_id) {
            Some((action, outcome, user, source)) => Seen {
                kind: Some((action, outcome)),
                // A user may start with a space (` 0101`); only blanks are no user.
                user: match user {
                    Field::Wild(n) => Some(values[n].to_owned()),
                    other => pick(other),
                }
                .filter(|u| !u.trim().is_empty()),
                source: pick(source).filter(|s| !s.is_empty()),
                repeat: if repeat_wild.contains(&event_id.as_str()) {
                    values[0].parse().unwrap()
                } else {
                    1
                },
            },
            None => Seen {
                kind: None,
                user: None,
                source: None,
                repeat: 1,
            },
        };
        let got = seen(&d);
        if got != want {
            mismatches.push(format!(
                "{stem}:{line_no} {event_id} {content:?}\n  want {want:?}\n  got  {got:?}"
            ));
        }
        expected.add(&want);
        actual.add(&got);
    }
    eprintln!("{stem}: {:?}", actual.kinds);
    assert!(
        mismatches.is_empty(),
        "{} lines differ:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
    assert_eq!(actual.kinds, expected.kinds, "{stem}: lines per (action, outcome)");
    assert_eq!(actual.users, expected.users, "{stem}: lines per user");
    assert_eq!(actual.sources, expected.sources, "{stem}: lines per source");
    assert_eq!(actual.repeats, expected.repeats, "{stem}: sum of repeats");
    actual
}

/// OpenSSH_2k templates (see `OpenSSH_2k.log_templates.csv`).
fn openssh_expect(event_id: &str) -> Expect {
    use Action::*;
    use Field::*;
    use Outcome::*;
    Some(match event_id {
        "E1" => (Authentication, Success, Wild(0), Wild(1)),
        "E2" => (Disconnect, Unknown, Nothing, Wild(0)),
        "E3" => (NoIdentification, Failure, Nothing, Wild(0)),
        "E4" => (MaxAuthAttempts, Failure, Text("admin"), Nothing),
        "E5" => (MaxAuthAttempts, Failure, Text("root"), Nothing),
        "E6" | "E7" => (Disconnect, Unknown, Nothing, Wild(0)),
        "E8" | "E9" | "E10" => (Authentication, Failure, Wild(0), Wild(1)),
        // `fatal: Write failed: Connection reset by peer`: nobody named.
        "E11" => return None,
        "E12" => (InvalidUser, Failure, Wild(0), Nothing),
        "E13" => (InvalidUser, Failure, Wild(0), Wild(1)),
        "E14" => (Authentication, Failure, Text("root"), Wild(1)),
        "E15" | "E16" => (Authentication, Failure, Nothing, Wild(3)),
        "E17" => (Authentication, Failure, Text("root"), Wild(3)),
        "E18" => (MaxAuthAttempts, Failure, Nothing, Nothing),
        "E19" => (Authentication, Failure, Nothing, Wild(2)),
        "E20" => (Authentication, Failure, Wild(3), Wild(2)),
        "E21" => (InvalidUser, Failure, Nothing, Nothing),
        "E22" => (SessionClosed, Success, Wild(0), Nothing),
        "E23" => (SessionOpened, Success, Wild(0), Nothing),
        "E24" | "E25" | "E26" => (Disconnect, Unknown, Nothing, Wild(0)),
        "E27" => (ReverseMappingFailed, Unknown, Nothing, Wild(1)),
        other => panic!("unknown OpenSSH template {other}"),
    })
}

/// Linux_2k templates: the authentication ones; everything else (kernel,
/// ftpd connections, daemons starting) is unrecognized.
fn linux_expect(event_id: &str) -> Expect {
    use Action::*;
    use Field::*;
    use Outcome::*;
    Some(match event_id {
        "E9" => (Authentication, Success, Text("anonymous"), Wild(0)),
        // klogind; its `Kerberos authentication failed` (E61) repeats it.
        "E13" | "E14" => (Authentication, Failure, Nothing, Wild(0)),
        "E15" => (Authentication, Failure, Nothing, Nothing),
        "E16" => (Authentication, Failure, Nothing, Wild(0)),
        "E17" => (Authentication, Failure, Text("guest"), Wild(0)),
        "E18" => (Authentication, Failure, Text("root"), Wild(0)),
        "E19" => (Authentication, Failure, Text("test"), Wild(0)),
        "E27" => (InvalidUser, Failure, Nothing, Nothing),
        "E91" => (Authentication, Success, Text("root"), Nothing),
        "E101" => (SessionClosed, Success, Wild(0), Nothing),
        "E102" | "E103" => (SessionOpened, Success, Wild(0), Nothing),
        _ => return None,
    })
}

#[test]
fn loghub_openssh_2k_agrees_with_structured_csv() {
    // The year is not in the log; any will do with a fixed resolver.
    // Its `Component` column holds the host; every line is sshd.
    let t = check_loghub(
        "OpenSSH",
        "OpenSSH_2k",
        2017,
        true,
        &openssh_expect,
        &["E14", "E15", "E16", "E17"],
    );
    // Independent figures (grep): 520 `Failed password` lines, 383 of them
    // loghub's E9, 135 for invalid users (E10), 2 inside `message repeated`.
    let rows = read_structured(&datasets().join("loghub/OpenSSH/OpenSSH_2k.log_structured.csv"));
    let count = |id: &str| rows.iter().filter(|r| r["EventId"] == id).count();
    assert_eq!((count("E9"), count("E10"), count("E14")), (383, 135, 2));
    assert_eq!(
        rows.iter().filter(|r| r["Content"].contains("Failed password")).count(),
        520
    );
    assert_eq!(t.kinds["authentication/failure"], 520 + 4 + 2 + 6 + 2 + 110 + 384);
    assert_eq!(t.kinds["invalid-user/failure"], 113 + 113 + 135);
    assert_eq!(t.kinds["unrecognized"], 1);
}

#[test]
fn loghub_linux_2k_agrees_with_structured_csv() {
    // ftpd lines say `at Sun Jul 24 02:38:22 2005`.
    let t = check_loghub("Linux", "Linux_2k", 2005, false, &linux_expect, &[]);
    assert_eq!(t.kinds["session-opened/success"], 86 + 36 + 1);
    assert_eq!(t.kinds["invalid-user/failure"], 117);
}

/// Decodes every line of a file: the results and the skip reasons counted.
struct FileRun {
    lines: usize,
    kinds: BTreeMap<(Action, Outcome), usize>,
    skipped: BTreeMap<SkipReason, usize>,
    unrecognized_by_program: BTreeMap<String, usize>,
}

impl FileRun {
    fn new(lines: &[String], years: &YearResolver, mut each: impl FnMut(&str, &Decoded<'_>)) -> FileRun {
        let mut run = FileRun {
            lines: lines.len(),
            kinds: BTreeMap::new(),
            skipped: BTreeMap::new(),
            unrecognized_by_program: BTreeMap::new(),
        };
        for (i, line) in lines.iter().enumerate() {
            let d = decode_line(line, 0, i as u64 + 1, years);
            match &d {
                Ok(e) => *run.kinds.entry((e.action, e.outcome)).or_default() += 1,
                Err(s) => {
                    *run.skipped.entry(s.reason).or_default() += 1;
                    if s.reason == SkipReason::Unrecognized {
                        let p = s.program.as_deref().unwrap_or("-").to_owned();
                        *run.unrecognized_by_program.entry(p).or_default() += 1;
                    }
                }
            }
            each(line, &d);
        }
        run
    }

    fn kind(&self, action: Action, outcome: Outcome) -> usize {
        self.kinds.get(&(action, outcome)).copied().unwrap_or(0)
    }

    fn skipped(&self, reason: SkipReason) -> usize {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }

    fn unrecognized_share(&self) -> f64 {
        self.skipped(SkipReason::Unrecognized) as f64 / self.lines as f64
    }

    fn report(&self, name: &str) {
        let mut top: Vec<_> = self.unrecognized_by_program.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        top.truncate(8);
        eprintln!(
            "{name}: {} lines, {} events, unrecognized {:.2}%, skipped {:?}, top unrecognized {top:?}",
            self.lines,
            self.kinds.values().sum::<usize>(),
            100.0 * self.unrecognized_share(),
            self.skipped
        );
    }
}

fn file_years(text_lines: &[String], year: i32) -> YearResolver {
    let head = text_lines
        .iter()
        .take(200)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    YearResolver::starting(year, first_month(&head).expect("an RFC 3164 line near the start"))
}

#[test]
fn gtkcyber_auth_log() {
    let lines = read_lines(&datasets().join("gtkcyber/auth.log"));
    let years = file_years(&lines, 2016);
    let mut invalid_with_source = 0;
    let mut invalid_users: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_time = i64::MIN;
    let mut backwards = 0;
    let run = FileRun::new(&lines, &years, |_, d| {
        if let Ok(e) = d {
            if e.timestamp < last_time {
                backwards += 1;
            }
            last_time = e.timestamp;
            if e.action == Action::InvalidUser && e.source_address.is_some() {
                invalid_with_source += 1;
                *invalid_users
                    .entry(e.user.as_deref().unwrap_or("").to_owned())
                    .or_default() += 1;
            }
        }
    });
    run.report("gtkcyber/auth.log");
    // Figures found with grep on the file.
    assert_eq!(run.lines, 10_567);
    assert_eq!(invalid_with_source, 1_489, "`sshd[N]: Invalid user` lines");
    assert_eq!(
        run.kind(Action::InvalidUser, Outcome::Failure),
        1_489 * 2,
        "plus `input_userauth_request: invalid user`"
    );
    assert_eq!(
        (invalid_users["test"], invalid_users["nagios"], invalid_users["guest"]),
        (197, 168, 129)
    );
    assert_eq!(run.kind(Action::NoIdentification, Outcome::Failure), 704);
    assert_eq!(run.kind(Action::ReverseMappingFailed, Outcome::Unknown), 88);
    assert_eq!(run.kind(Action::Disconnect, Outcome::Unknown), 6_377 + 66);
    assert_eq!(run.kind(Action::SessionOpened, Outcome::Success), 58);
    assert_eq!(run.kind(Action::SessionClosed, Outcome::Success), 59);
    // The last line is cut inside its timestamp.
    assert_eq!(run.skipped(SkipReason::Truncated), 1);
    // 227 `fatal: Read from socket failed`, 5 `Could not write ident string`,
    // 4 `warning: can't get client address`.
    assert_eq!(run.skipped(SkipReason::Unrecognized), 236);
    assert_eq!(run.skipped.values().sum::<usize>(), 237);
    assert!(run.unrecognized_share() < 0.03);
    // Nov → Dec within one year: time never runs backwards.
    assert_eq!(backwards, 0);
}

#[test]
fn loghub_full_linux_log() {
    let lines = read_lines(&datasets().join("loghub-full/Linux.log"));
    // June 2005 to February 2006: the roll-over into January is resolved.
    let years = file_years(&lines, 2005);
    let mut backwards = 0;
    let mut last_time = i64::MIN;
    let mut su_sessions = 0;
    let (mut jan_events, mut jan_2006) = (0, 0);
    let run = FileRun::new(&lines, &years, |line, d| {
        if let Ok(e) = d {
            if e.timestamp < last_time.saturating_sub(3_600_000_000) {
                backwards += 1;
            }
            last_time = last_time.max(e.timestamp);
            if e.program.as_deref() == Some("su(pam_unix)") {
                su_sessions += 1;
            }
            if line.starts_with("Jan") {
                jan_events += 1;
                jan_2006 += usize::from(format_rfc3339(e.timestamp).starts_with("2006-01-"));
            }
        }
    });
    run.report("loghub-full/Linux.log");
    assert_eq!(run.lines, 25_237);
    assert_eq!(jan_2006, jan_events);
    assert!(jan_events > 0);
    assert_eq!(backwards, 0, "timestamps run backwards by more than an hour");
    // Figures found with grep: 3,922 `authentication failure;` lines (sshd,
    // gdm, login, passwd) besides 18 `N more authentication failure[s];`, 25
    // klogind `Authentication failed from`, 8 `FAILED LOGIN`.
    assert_eq!(run.kind(Action::Authentication, Outcome::Failure), 3_922 + 18 + 25 + 8);
    // 1,043 `check pass; user unknown`, 13 `bad username [...]`.
    assert_eq!(run.kind(Action::InvalidUser, Outcome::Failure), 1_043 + 13);
    assert_eq!(run.kind(Action::SessionOpened, Outcome::Success), 561);
    assert_eq!(run.kind(Action::SessionClosed, Outcome::Success), 561);
    assert_eq!(su_sessions, 944, "every su(pam_unix) line is a session");
    // 7 `ROOT LOGIN ON`, 11 `ANONYMOUS FTP LOGIN FROM`.
    assert_eq!(run.kind(Action::Authentication, Outcome::Success), 7 + 11);
    assert_eq!(run.kind(Action::MaxAuthAttempts, Outcome::Failure), 11);
    assert_eq!(run.kind(Action::PasswordChanged, Outcome::Success), 4);
    // Every line has a readable header; most are kernel and daemon noise.
    assert_eq!(
        run.skipped(SkipReason::Unrecognized) + run.kinds.values().sum::<usize>(),
        run.lines
    );
    let share = run.unrecognized_share();
    assert!((0.70..0.80).contains(&share), "unrecognized share {share}");
    assert!(run.unrecognized_by_program["kernel"] >= 13_000);
}

#[test]
fn wazuh_log_entries() {
    let dir = datasets().join("wazuh-log-entries");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let years = YearResolver::fixed(2008);
    let mut runs = BTreeMap::new();
    let (mut total_headers, mut total_unrecognized) = (0, 0);
    for name in &names {
        let lines = read_lines(&dir.join(name));
        // Every file decodes without panic, syslog or not.
        let run = FileRun::new(&lines, &years, |_, _| {});
        let content: Vec<&String> = lines
            .iter()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        let syslog = content.iter().filter(|l| looks_like_syslog(l)).count();
        if content.is_empty() || syslog * 2 < content.len() {
            continue;
        }
        run.report(&format!("wazuh/{name}"));
        total_headers += run.kinds.values().sum::<usize>() + run.skipped(SkipReason::Unrecognized);
        total_unrecognized += run.skipped(SkipReason::Unrecognized);
        runs.insert(name.clone(), run);
    }
    eprintln!(
        "wazuh syslog files: {} files, {total_headers} lines with a header, unrecognized {:.2}%",
        runs.len(),
        100.0 * total_unrecognized as f64 / total_headers as f64
    );
    for auth in ["sshd", "409", "1401", "1402", "1301_1302_1303", "access-control", "408"] {
        assert!(runs.contains_key(auth), "{auth} is syslog");
    }
    for other in ["vpn.log", "symantecws", "iis6", "apache-error.logs", "worms"] {
        assert!(!runs.contains_key(other), "{other} is not syslog");
    }
    let kind = |file: &str, a, o| runs[file].kind(a, o);
    use Action::*;
    use Outcome::*;
    // Figures found with grep.
    assert_eq!(kind("sshd", InvalidUser, Failure), 345, "`Invalid user` lines");
    assert_eq!(runs["sshd"].skipped(SkipReason::Unrecognized), 0);
    assert_eq!(kind("409", InvalidUser, Failure), 2, "`Illegal user`");
    assert_eq!(kind("409", Authentication, Failure), 4);
    assert_eq!(kind("1401", Sudo, Failure), 3);
    assert_eq!(kind("1402", Sudo, Success), 5);
    assert_eq!(kind("408", Authentication, Failure), 1);
    assert_eq!(kind("access-control", Authentication, Failure), 7);
    assert_eq!(
        kind("1301_1302_1303", GroupChanged, Success),
        12 + 6,
        "new group, remove group"
    );
    assert_eq!(kind("1301_1302_1303", UserCreated, Success), 9);
    assert_eq!(kind("1301_1302_1303", UserDeleted, Success), 3);
    assert_eq!(
        kind("1101", Su, Failure),
        3 + 2 + 1,
        "pam_unix(su) failures, Slackware `-` and `Authentication failed`, old `BAD su U on TTY`"
    );
    // util-linux `+ pts/4 dcid-root` and the old `ericx to root on /dev/ttyu0`.
    assert_eq!(kind("1101", Su, Success), 2);
    assert_eq!(kind("1101", SessionOpened, Success), 2);
    let share = total_unrecognized as f64 / total_headers as f64;
    assert!(share < 0.85, "unrecognized share {share}");
}

#[test]
fn elastic_beats_test_logs() {
    let dir = datasets().join("elastic-beats");
    let lines = read_lines(&dir.join("test.log"));
    let years = YearResolver::fixed(2019);
    let got: Vec<(Action, Outcome, Option<String>, Option<String>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let e = decode_line(l, 0, i as u64 + 1, &years).unwrap_or_else(|s| panic!("{l}: {s:?}"));
            (
                e.action,
                e.outcome,
                e.user.map(|u| u.into_owned()),
                e.source_address.map(|s| s.into_owned()),
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_owned());
    use Action::*;
    use Outcome::*;
    assert_eq!(
        got,
        [
            (Authentication, Success, s("vagrant"), s("10.0.2.2")),
            (Authentication, Success, s("vagrant"), s("192.168.33.1")),
            (InvalidUser, Failure, s("test"), s("10.0.2.2")),
            (Authentication, Failure, s("root"), s("216.160.83.57")),
            (Sudo, Success, s("vagrant"), None),
            (NoIdentification, Failure, None, s("2.125.160.217")),
            (Sudo, Success, s("vagrant"), None),
            (Sudo, Failure, s("tsg"), None),
            (GroupChanged, Success, None, None),
            (UserCreated, Success, s("apache"), None),
        ]
    );
    let e = decode_line(&lines[6], 0, 7, &years).unwrap();
    assert_eq!(e.command.as_deref(), Some("/bin/cat /var/log/secure"));
    assert_eq!(e.target_user.as_deref(), Some("root"));

    let lines = read_lines(&dir.join("timestamp.log"));
    let e = decode_line(&lines[0], 1, 1, &years).unwrap();
    assert_eq!(format_rfc3339(e.timestamp), "2019-06-14T10:40:20.912134Z");
    assert_eq!(
        (e.action, e.user.as_deref(), e.target_user.as_deref()),
        (SessionOpened, Some("userauth3"), Some("root"))
    );
    let s = decode_line(&lines[1], 1, 2, &years).unwrap_err();
    assert_eq!(
        (s.reason, s.program.as_deref()),
        (SkipReason::Unrecognized, Some("pam"))
    );
    assert!(lines.iter().all(|l| looks_like_syslog(l)));
}
