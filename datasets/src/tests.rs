//! Tests of the generator as a whole.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;

fn run(cfg: &GeneratorConfig, format: OutputFormat) -> (String, GenerationSummary) {
    let mut out = Vec::new();
    let summary = generate(cfg, format, &mut out).expect("generate");
    (String::from_utf8(out).expect("utf-8"), summary)
}

fn cfg(events: u64, days: u32, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        events,
        days: Some(days),
        seed,
        ..GeneratorConfig::default()
    }
}

/// 20k events over 7 days, generated once.
fn small() -> &'static (String, GenerationSummary) {
    static CELL: OnceLock<(String, GenerationSummary)> = OnceLock::new();
    CELL.get_or_init(|| run(&cfg(20_000, 7, 42), OutputFormat::Syslog))
}

/// A parsed syslog line.
struct Line<'a> {
    ts: i64,
    host: &'a str,
    prog: &'a str,
    msg: &'a str,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parse(line: &str) -> Line<'_> {
    let month = MONTHS.iter().position(|m| *m == &line[..3]).expect("month") as u32 + 1;
    let day: u32 = line[4..6].trim().parse().expect("day");
    assert_eq!(&line[3..4], " ");
    let time = chrono::NaiveTime::parse_from_str(&line[7..15], "%H:%M:%S").expect("time");
    let ts = NaiveDate::from_ymd_opt(2026, month, day)
        .expect("date")
        .and_time(time)
        .and_utc()
        .timestamp();
    let rest = &line[16..];
    let (host, rest) = rest.split_once(' ').expect("host");
    let (tag, msg) = rest.split_once(": ").expect("tag");
    let (prog, pid) = tag.split_once('[').expect("pid");
    assert!(
        pid.ends_with(']') && pid[..pid.len() - 1].parse::<u32>().is_ok(),
        "{line}"
    );
    Line { ts, host, prog, msg }
}

fn within(l: &Line<'_>, label: &CampaignLabel) -> bool {
    l.ts >= label.start.timestamp() && l.ts <= label.end.timestamp()
}

/// `IP` as it appears before ` port` in a message.
fn mentions_ip(msg: &str, ip: &str) -> bool {
    msg.contains(&format!(" {ip} port ")) || msg.contains(&format!("from {ip} port "))
}

fn failed_ip(msg: &str) -> Option<(&str, &str)> {
    let rest = msg.strip_prefix("Failed password for ")?;
    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
    let (user, rest) = rest.split_once(" from ")?;
    let (ip, _) = rest.split_once(" port ")?;
    Some((user, ip))
}

#[test]
fn same_seed_same_bytes_different_seed_different() {
    for format in [OutputFormat::Syslog, OutputFormat::Json, OutputFormat::Csv] {
        let a = run(&cfg(8_000, 3, 9), format).0;
        let b = run(&cfg(8_000, 3, 9), format).0;
        assert!(a == b, "{format:?} differs between runs");
        let c = run(&cfg(8_000, 3, 10), format).0;
        assert!(a != c, "{format:?} ignores the seed");
    }
    let (a, sa) = run(&cfg(8_000, 3, 9), OutputFormat::Syslog);
    let (b, sb) = run(&cfg(8_000, 3, 9), OutputFormat::Syslog);
    assert_eq!((a, sa.labels), (b, sb.labels));
}

#[test]
fn event_count_is_close_to_requested() {
    let cases = [
        GeneratorConfig {
            events: 3_000,
            ..GeneratorConfig::default()
        },
        cfg(20_000, 7, 1),
        cfg(50_000, 30, 2),
        GeneratorConfig::default(),
        GeneratorConfig {
            events: 40_000,
            users: Some(12),
            hosts: Some(9),
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            events: 40_000,
            users: Some(900),
            hosts: Some(300),
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            events: 30_000,
            attacks: false,
            ..GeneratorConfig::default()
        },
        GeneratorConfig {
            events: 30_000,
            days: Some(1),
            ..GeneratorConfig::default()
        },
    ];
    for c in cases {
        let (text, s) = run(&c, OutputFormat::Syslog);
        let n = text.lines().count() as u64;
        assert_eq!(n, s.events);
        assert_eq!(n, s.lines);
        let err = (n as f64 - c.events as f64).abs() / c.events as f64;
        assert!(err <= 0.10, "{c:?}: asked {} got {n}", c.events);
    }
}

#[test]
fn every_campaign_kind_appears() {
    let mut configs = vec![GeneratorConfig::default()];
    configs.extend((1..=4).map(|seed| cfg(20_000, 7, seed)));
    configs.push(cfg(20_000, 14, 5));
    for c in configs {
        let (_, s) = run(&c, OutputFormat::Csv);
        let kinds: HashSet<CampaignKind> = s.labels.iter().map(|l| l.kind).collect();
        for kind in CampaignKind::ATTACKS {
            assert!(kinds.contains(&kind), "{kind} missing for {c:?}");
        }
        assert!(kinds.contains(&CampaignKind::BenignNoisyScript));
        for l in &s.labels {
            assert_eq!(l.malicious, l.kind.is_malicious());
            assert!(l.start <= l.end && l.start >= s.start && l.events > 0, "{l:?}");
        }
    }
}

#[test]
fn lines_are_time_ordered_and_well_formed() {
    let (text, s) = small();
    let mut last = i64::MIN;
    for line in text.lines() {
        let l = parse(line);
        assert!(l.ts >= last, "out of order: {line}");
        last = l.ts;
        assert!(l.ts >= s.start.timestamp(), "{line}");
        assert!(!l.msg.is_empty() && !l.host.is_empty());
        assert!(
            ["sshd", "sudo", "su", "CRON", "useradd", "usermod", "passwd"].contains(&l.prog),
            "{line}"
        );
    }
    // Day of month is space-padded.
    assert!(text.starts_with("Mar  2 "));
}

#[test]
fn label_entities_appear_in_the_output() {
    let (text, s) = small();
    let lines: Vec<Line<'_>> = text.lines().map(parse).collect();
    for label in &s.labels {
        let inside: Vec<&Line<'_>> = lines.iter().filter(|l| within(l, label)).collect();
        for ip in &label.source_ips {
            assert!(inside.iter().any(|l| mentions_ip(l.msg, ip)), "{} {ip}", label.id);
        }
        for user in &label.users {
            assert!(
                inside.iter().any(|l| l.msg.contains(user.as_str())),
                "{} {user}",
                label.id
            );
        }
        for host in &label.hosts {
            assert!(inside.iter().any(|l| l.host == host), "{} {host}", label.id);
        }
        let ips: Vec<&str> = label.source_ips.iter().map(String::as_str).collect();
        let with_ip = inside
            .iter()
            .filter(|l| ips.iter().any(|ip| mentions_ip(l.msg, ip)))
            .count() as u64;
        let failures = inside
            .iter()
            .filter(|l| failed_ip(l.msg).is_some_and(|(_, ip)| ips.contains(&ip)))
            .count() as u64;
        match label.kind {
            CampaignKind::BruteForceFast => {
                // Every event of the campaign names its one source.
                assert_eq!(with_ip, label.events, "{label:?}");
                assert!(failures >= 100, "{label:?}: {failures}");
            }
            CampaignKind::BruteForceSlow => {
                assert_eq!(with_ip, label.events, "{label:?}");
                assert!(failures >= 15, "{label:?}: {failures}");
                let span = label.end - label.start;
                assert!(span >= chrono::Duration::hours(2), "{label:?}");
            }
            CampaignKind::DistributedBruteForce => {
                assert_eq!(with_ip, label.events, "{label:?}");
                assert!((10..=50).contains(&label.source_ips.len()));
                assert_eq!(label.users.len(), 1);
                assert!(label.end - label.start <= chrono::Duration::minutes(40), "{label:?}");
            }
            CampaignKind::PasswordSpraying => {
                assert_eq!(with_ip, label.events, "{label:?}");
                assert!((20..=60).contains(&label.users.len()), "{label:?}");
                assert!(label.hosts.len() >= 2 || s.hosts < 8, "{label:?}");
            }
            CampaignKind::UserEnumeration => {
                assert_eq!(with_ip, label.events, "{label:?}");
                let names: HashSet<&str> = inside
                    .iter()
                    .filter(|l| mentions_ip(l.msg, &label.source_ips[0]))
                    .filter_map(|l| l.msg.strip_prefix("Invalid user "))
                    .map(|r| r.split(' ').next().unwrap_or(""))
                    .collect();
                assert!(names.len() >= 30, "{label:?}");
            }
            CampaignKind::AccountCompromise => {
                let (public, internal) = (&label.source_ips[0], &label.source_ips[1]);
                let victim = &label.users[0];
                let backdoor = &label.users[1];
                let accepted = format!("Accepted password for {victim} from {public} port ");
                assert!(inside
                    .iter()
                    .any(|l| l.msg.starts_with(&accepted) && l.host == label.hosts[0]));
                assert!(failures >= 3);
                assert!(inside
                    .iter()
                    .any(|l| l.prog == "sudo" && l.msg.ends_with("COMMAND=/bin/bash")));
                assert!(inside
                    .iter()
                    .any(|l| l.msg.starts_with(&format!("new user: name={backdoor}, "))));
                assert!(inside
                    .iter()
                    .any(|l| l.msg == format!("add '{backdoor}' to group 'sudo'")));
                let lateral: HashSet<&str> = inside
                    .iter()
                    .filter(|l| {
                        l.msg
                            .starts_with(&format!("Accepted password for {victim} from {internal} port "))
                    })
                    .map(|l| l.host)
                    .collect();
                assert!((2..=3).contains(&lateral.len()), "{label:?}");
                assert_eq!(label.hosts.len(), 1 + lateral.len());
            }
            CampaignKind::BenignNoisyScript => {
                // Their sources are ordinary internal addresses used for
                // other work too, so only the health check is exact.
                assert!(!label.malicious);
                assert!(failures > 0, "{label:?}");
                if label.users == ["healthcheck"] {
                    assert_eq!(with_ip, label.events, "{label:?}");
                }
            }
            other => panic!("{other} without --stealthy"),
        }
    }
}

/// A naive rule set: the attacks trip it, and nothing else does except the
/// benign patterns (which are labelled as such).
#[test]
fn naive_rules_fire_only_on_labelled_sources() {
    let (text, s) = small();
    let labelled: HashMap<&str, &CampaignLabel> = s
        .labels
        .iter()
        .flat_map(|l| l.source_ips.iter().map(move |ip| (ip.as_str(), l)))
        .collect();
    // (ip, host) -> failure times; user -> (time, ip) failures; ip -> invalid names.
    let mut per_source: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
    let mut per_user: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    let mut invalid: HashMap<&str, HashSet<&str>> = HashMap::new();
    for line in text.lines() {
        let l = parse(line);
        if let Some((user, ip)) = failed_ip(l.msg) {
            per_source.entry((ip, l.host)).or_default().push(l.ts);
            per_user.entry(user).or_default().push((l.ts, ip));
        }
        if let Some(rest) = l.msg.strip_prefix("Invalid user ") {
            let (user, rest) = rest.split_once(" from ").expect("from");
            let ip = rest.split(' ').next().expect("ip");
            invalid.entry(ip).or_default().insert(user);
        }
    }
    let mut fired = BTreeSet::new();
    for ((ip, _), times) in &per_source {
        if times.windows(5).any(|w| w[4] - w[0] <= 300) {
            fired.insert(ip.to_string());
            let label = labelled
                .get(ip)
                .unwrap_or_else(|| panic!("unlabelled brute force from {ip}"));
            assert!(
                matches!(
                    label.kind,
                    CampaignKind::BruteForceFast
                        | CampaignKind::BenignNoisyScript
                        | CampaignKind::UserEnumeration
                        | CampaignKind::PasswordSpraying
                        | CampaignKind::AccountCompromise
                ),
                "{label:?}"
            );
        }
    }
    for (ip, names) in &invalid {
        if names.len() >= 10 {
            fired.insert(ip.to_string());
            assert!(labelled.contains_key(ip), "unlabelled enumeration from {ip}");
        }
    }
    // Distributed: one user failing from >= 10 addresses within 30 minutes.
    let mut distributed_users = HashSet::new();
    for (user, fails) in &per_user {
        let mut sorted = fails.clone();
        sorted.sort();
        for (i, &(t, _)) in sorted.iter().enumerate() {
            let ips: HashSet<&str> = sorted[i..]
                .iter()
                .take_while(|(u, _)| *u - t <= 1800)
                .map(|(_, ip)| *ip)
                .collect();
            if ips.len() >= 10 {
                distributed_users.insert(user.to_string());
                break;
            }
        }
    }
    for l in &s.labels {
        match l.kind {
            CampaignKind::BruteForceFast | CampaignKind::UserEnumeration => {
                assert!(fired.contains(&l.source_ips[0]), "{l:?} not detected")
            }
            CampaignKind::DistributedBruteForce => {
                assert!(distributed_users.contains(&l.users[0]), "{l:?} not detected")
            }
            CampaignKind::BenignNoisyScript if l.users == ["healthcheck"] => {
                assert!(
                    fired.contains(&l.source_ips[0]),
                    "the health check must look like brute force"
                )
            }
            _ => {}
        }
    }
    let distributed: HashSet<String> = s
        .labels
        .iter()
        .filter(|l| l.kind == CampaignKind::DistributedBruteForce)
        .map(|l| l.users[0].clone())
        .collect();
    for user in distributed_users {
        // Password spraying touches many users once each; only the
        // distributed campaigns' targets may trip this rule.
        assert!(
            distributed.contains(&user),
            "unlabelled distributed failures for {user}"
        );
    }
}

#[test]
fn no_attacks_has_only_benign_labels() {
    let c = GeneratorConfig {
        events: 20_000,
        days: Some(7),
        attacks: false,
        ..GeneratorConfig::default()
    };
    let (text, s) = run(&c, OutputFormat::Syslog);
    assert!(!s.labels.is_empty());
    assert!(s
        .labels
        .iter()
        .all(|l| !l.malicious && l.kind == CampaignKind::BenignNoisyScript));
    assert!(!text.contains("new user:") && !text.contains("COMMAND=/bin/bash"));
    assert!(text.contains("Did not receive identification string"));
    // The same organisation as with attacks.
    let (with, _) = run(&GeneratorConfig { attacks: true, ..c }, OutputFormat::Syslog);
    let hosts = |t: &str| t.lines().map(|l| parse(l).host.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(hosts(&text), hosts(&with));
}

#[test]
fn json_lines_are_ecs() {
    let (text, s) = run(&cfg(20_000, 7, 42), OutputFormat::Json);
    let (syslog, _) = small();
    assert_eq!(text.lines().count(), syslog.lines().count());
    assert_eq!(s.labels, small().1.labels);
    let actions: HashSet<&str> = [
        "authentication",
        "invalid-user",
        "session-opened",
        "session-closed",
        "sudo",
        "su",
        "user-created",
        "user-modified",
        "user-deleted",
        "password-changed",
        "group-changed",
        "max-auth-attempts",
        "no-identification",
        "reverse-mapping-failed",
        "disconnect",
    ]
    .into();
    let mut seen = HashSet::new();
    for (line, sys) in text.lines().zip(syslog.lines()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let ts = v["@timestamp"].as_str().expect("@timestamp");
        let t = DateTime::parse_from_rfc3339(ts).expect("rfc3339").with_timezone(&Utc);
        let l = parse(sys);
        assert_eq!(t.timestamp(), l.ts);
        assert_eq!(v["host"]["name"], l.host);
        assert_eq!(v["message"], l.msg);
        assert_eq!(v["process"]["name"], l.prog);
        assert!(v["process"]["pid"].is_u64());
        let action = v["event"]["action"].as_str().expect("action");
        assert!(actions.contains(action), "{line}");
        assert!(["success", "failure", "unknown"].contains(&v["event"]["outcome"].as_str().unwrap_or("")));
        seen.insert(action.to_string());
        if let Some(ip) = v["source"]["ip"].as_str() {
            assert!(ip.parse::<std::net::IpAddr>().is_ok() && v["source"]["port"].is_u64());
            assert!(l.msg.contains(ip), "{line}");
        }
        if action == "sudo" {
            assert_eq!(v["user"]["target"]["name"], "root");
            let cmd = v["process"]["command_line"].as_str().expect("command_line");
            assert!(l.msg.ends_with(&format!("COMMAND={cmd}")));
        }
        if action == "authentication" && l.prog == "sshd" {
            let user = v["user"]["name"].as_str().expect("user");
            assert!(l.msg.contains(&format!(" {user} from ")), "{line}");
            let ok = v["event"]["outcome"] == "success";
            assert_eq!(ok, l.msg.starts_with("Accepted "));
        }
    }
    for a in [
        "authentication",
        "invalid-user",
        "session-opened",
        "session-closed",
        "sudo",
        "user-created",
        "user-modified",
        "disconnect",
        "no-identification",
        "max-auth-attempts",
    ] {
        assert!(seen.contains(a), "no {a}");
    }
}

#[test]
fn csv_has_header_and_auth_rows() {
    let (text, s) = run(&cfg(20_000, 7, 42), OutputFormat::Csv);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,source_ip,username,success,system"));
    let syslog = &small().0;
    let auth = syslog
        .lines()
        .filter(|l| {
            let m = parse(l).msg;
            m.starts_with("Accepted ") || m.starts_with("Failed password") || m.starts_with("Invalid user ")
        })
        .count();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        assert!(DateTime::parse_from_rfc3339(f[0]).is_ok(), "{line}");
        assert!(f[1].parse::<std::net::IpAddr>().is_ok(), "{line}");
        assert!(
            !f[2].is_empty() && (f[3] == "true" || f[3] == "false") && !f[4].is_empty(),
            "{line}"
        );
        rows += 1;
    }
    assert_eq!(rows, auth);
    assert_eq!(s.lines, rows as u64 + 1);
}

#[test]
fn labels_round_trip() {
    let labels = &small().1.labels;
    let mut buf = Vec::new();
    write_labels(labels, &mut buf).expect("write");
    let text = String::from_utf8(buf.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), labels.len());
    let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    for key in [
        "id",
        "kind",
        "malicious",
        "source_ips",
        "users",
        "hosts",
        "start",
        "end",
        "events",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert!(first["start"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(&read_labels(&buf[..]).expect("read"), labels);
    assert!(read_labels(&b"{\"id\":1}\n"[..]).is_err());
}

#[test]
fn files_are_written_atomically_and_gzipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = cfg(6_000, 2, 3);
    let out = dir.path().join("auth.log.gz");
    let labels = dir.path().join("labels.jsonl");
    let s = generate_to_path(&c, OutputFormat::Syslog, &out, Some(&labels)).expect("generate");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&out).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    assert_eq!(text, run(&c, OutputFormat::Syslog).0);
    assert_eq!(read_labels_file(&labels).expect("labels"), s.labels);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "temporary files left behind: {names:?}");
    // Missing directories are created; a file in the way is an error.
    let nested = dir.path().join("demo/sub/auth.csv");
    generate_to_path(&c, OutputFormat::Csv, &nested, None).expect("nested");
    assert!(std::fs::read_to_string(&nested).expect("csv").starts_with("timestamp,"));
    let blocked = dir.path().join("labels.jsonl/x.log");
    assert!(generate_to_path(&c, OutputFormat::Syslog, &blocked, None).is_err());
}

#[test]
fn people_keep_office_hours_in_the_org_time_zone() {
    let (text, _) = small();
    // Logins of people from office addresses (10.20/10.30) happen on local
    // weekdays between 06:00 and 20:00 (UTC+1 by default).
    let mut total = 0;
    let mut office = 0;
    for line in text.lines() {
        let l = parse(line);
        if l.msg.starts_with("Accepted ") && (l.msg.contains(" from 10.20.") || l.msg.contains(" from 10.30.")) {
            total += 1;
            let local = l.ts + 3600;
            let hour = local.rem_euclid(86_400) / 3600;
            let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7);
            if (6..20).contains(&hour) && weekday < 5 {
                office += 1;
            }
        }
    }
    assert!(total > 100 && office as f64 >= 0.97 * total as f64, "{office}/{total}");
}

#[test]
fn config_validation_and_format_from_path() {
    assert!(GeneratorConfig {
        events: 0,
        ..GeneratorConfig::default()
    }
    .resolve()
    .is_err());
    assert!(GeneratorConfig {
        days: Some(0),
        ..GeneratorConfig::default()
    }
    .resolve()
    .is_err());
    assert!(GeneratorConfig {
        utc_offset_hours: 20,
        ..GeneratorConfig::default()
    }
    .resolve()
    .is_err());
    let r = GeneratorConfig::default().resolve().expect("default");
    assert_eq!(r.days, 10);
    assert_eq!(
        GeneratorConfig {
            events: 20_000,
            ..GeneratorConfig::default()
        }
        .resolve()
        .expect("20k")
        .days,
        7
    );
    assert_eq!(OutputFormat::from_path(Path::new("x.jsonl.gz")), OutputFormat::Json);
    assert_eq!(OutputFormat::from_path(Path::new("x.CSV")), OutputFormat::Csv);
    assert_eq!(OutputFormat::from_path(Path::new("auth.log")), OutputFormat::Syslog);
    assert_eq!(OutputFormat::from_path(Path::new("-")), OutputFormat::Syslog);
}

#[test]
fn tiny_organisations_and_far_time_zones_work() {
    let base = cfg(5_000, 2, 11);
    for c in [
        GeneratorConfig {
            users: Some(1),
            hosts: Some(1),
            ..base.clone()
        },
        GeneratorConfig {
            users: Some(2),
            hosts: Some(3),
            ..base.clone()
        },
        GeneratorConfig {
            utc_offset_hours: 14,
            ..base.clone()
        },
        GeneratorConfig {
            utc_offset_hours: -12,
            ..base.clone()
        },
        GeneratorConfig {
            days: Some(1),
            ..base.clone()
        },
    ] {
        let (text, s) = run(&c, OutputFormat::Syslog);
        let mut last = i64::MIN;
        for line in text.lines() {
            let l = parse(line);
            assert!(l.ts >= last && l.ts >= s.start.timestamp(), "{c:?}: {line}");
            last = l.ts;
        }
        assert_eq!(s.campaigns(), CampaignKind::ATTACKS.len(), "{c:?}");
        for l in &s.labels {
            assert!(l.start >= s.start && l.end <= s.end, "{c:?}: {l:?}");
        }
    }
}

#[cfg(unix)]
#[test]
fn devices_and_symlinks_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let c = cfg(3_000, 1, 4);
    let null = Path::new("/dev/null");
    if null.exists() {
        generate_to_path(&c, OutputFormat::Syslog, null, None).expect("/dev/null");
        assert!(std::fs::metadata(null).expect("meta").file_type().is_char_device());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real.log");
    std::fs::write(&real, "old").expect("write");
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    generate_to_path(&c, OutputFormat::Syslog, &link, None).expect("link");
    assert!(std::fs::symlink_metadata(&link).expect("meta").file_type().is_symlink());
    assert_eq!(
        std::fs::read_to_string(&real).expect("read"),
        run(&c, OutputFormat::Syslog).0
    );
    assert!(generate_to_path(&c, OutputFormat::Syslog, dir.path(), None).is_err());
}

/// Distinct addresses after `from ` in a syslog output.
fn distinct_sources(log: &str) -> usize {
    log.lines()
        .filter_map(|l| l.split(" from ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn scan_share_makes_a_high_cardinality_log_of_the_same_size() {
    let base = cfg(30_000, 7, 42);
    let (plain, plain_summary) = run(&base, OutputFormat::Syslog);
    let (busy, busy_summary) = run(
        &GeneratorConfig {
            scan_share: Some(0.8),
            ..base.clone()
        },
        OutputFormat::Syslog,
    );
    // The default share is the default mix, byte for byte.
    let (same, _) = run(
        &GeneratorConfig {
            scan_share: Some(0.22),
            ..base
        },
        OutputFormat::Syslog,
    );
    assert_eq!(same, plain);
    let ratio = busy_summary.events as f64 / plain_summary.events as f64;
    assert!((0.95..1.05).contains(&ratio), "{ratio}");
    let (a, b) = (distinct_sources(&plain), distinct_sources(&busy));
    assert!(b > 3 * a, "{a} sources by default, {b} with scan_share 0.8");
    // The campaigns are the same.
    assert_eq!(plain_summary.labels, busy_summary.labels);
}
