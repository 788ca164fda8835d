//! Tests of `--lookalikes` (vulnerability scan, password rotation, new
//! administrator).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::campaigns::Plan;
use crate::event::{Ev, Formatter, Kind};
use crate::names::{Sym, NONE};
use crate::tests_stealthy::{fnv, run};
use crate::timefmt::{weekday, HOUR, MINUTE};

const SCANNER: Ipv4Addr = Ipv4Addr::new(10, 0, 6, 251);

fn cfg(events: u64, days: Option<u32>, seed: u64, stealthy: bool) -> GeneratorConfig {
    GeneratorConfig {
        events,
        days,
        seed,
        stealthy,
        lookalikes: true,
        ..GeneratorConfig::default()
    }
}

fn find(labels: &[CampaignLabel], kind: CampaignKind) -> &CampaignLabel {
    labels
        .iter()
        .find(|l| l.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} label"))
}

/// The largest number of `times` within any `window` seconds.
fn max_in_window(mut times: Vec<i64>, window: i64) -> usize {
    times.sort_unstable();
    (0..times.len())
        .map(|i| times[i..].iter().take_while(|&&t| t - times[i] < window).count())
        .max()
        .unwrap_or(0)
}

/// Whether `name` is one of the words of `line` (user names are separated
/// by spaces, `=`, `,`, `/`, `'`, `(` or `:` in every message form).
fn mentions(line: &str, name: &str) -> bool {
    line.split(|c: char| " =,/'():".contains(c)).any(|w| w == name)
}

/// The look-alike (index into [`LOOKALIKES`]) each event of the
/// `--lookalikes` plan belongs to, by its entities: the scanner's address;
/// the rotating administrator's address, or a source-less line of them or
/// of a rotated account; the newcomer's or their creator's address, or a
/// source-less line of either.
fn owners(s: &Setup, plan: &Plan) -> Vec<Vec<usize>> {
    let sym = |u: &String| s.names.lookup(u).expect("interned");
    let ip = |l: &CampaignLabel, i: usize| l.source_ips[i].parse::<IpAddr>().unwrap();
    let rotation = find(&plan.labels, CampaignKind::BenignPasswordRotation);
    let newcomer = find(&plan.labels, CampaignKind::BenignNewAdmin);
    let rot_users: HashSet<Sym> = rotation.users.iter().map(sym).collect();
    let new_users: HashSet<Sym> = newcomer.users.iter().map(sym).collect();
    let new_ips = [ip(newcomer, 0), ip(newcomer, 1)];
    plan.events
        .iter()
        .map(|e| {
            let mut who = Vec::new();
            if e.ip == IpAddr::V4(SCANNER) {
                who.push(0);
            }
            if e.ip == ip(rotation, 0) || (!e.has_source() && rot_users.contains(&e.user)) {
                who.push(1);
            }
            if new_ips.contains(&e.ip) || (!e.has_source() && new_users.contains(&e.user)) {
                who.push(2);
            }
            who
        })
        .collect()
}

fn syslog_line(s: &Setup, e: &Ev) -> String {
    let mut f = Formatter::new(&s.org, &s.names, OutputFormat::Syslog);
    let mut out = Vec::new();
    f.write(e, &mut out).unwrap();
    String::from_utf8(out).unwrap().trim_end().to_string()
}

/// `(events, days, seed, stealthy, UTC offset)`.
const SIZES: [(u64, Option<u32>, u64, bool, i32); 6] = [
    (50_000, None, 7, true, 1),
    (50_000, None, 3, false, 1),
    (30_000, Some(10), 42, true, 1),
    (200_000, None, 5, false, 1),
    (12_000, Some(4), 11, true, 1),
    (15_000, Some(5), 2, false, -8),
];

fn sized((events, days, seed, stealthy, offset): (u64, Option<u32>, u64, bool, i32)) -> (GeneratorConfig, String) {
    let cfg = GeneratorConfig {
        utc_offset_hours: offset,
        ..cfg(events, days, seed, stealthy)
    };
    (cfg, format!("{events}/{days:?}/{seed}/{stealthy}/{offset}"))
}

#[test]
fn each_lookalike_is_labelled_with_exactly_its_lines() {
    for size in SIZES {
        let (cfg, ctx) = sized(size);
        let (log, summary) = run(&cfg);
        let mut s = setup(&cfg).expect("setup");
        let plan = s.lookalikes.take().expect("lookalikes plan");
        assert_eq!(plan.labels.len(), 3, "{ctx}: one of each");
        for kind in LOOKALIKES {
            let l = find(&summary.labels, kind);
            assert!(!l.malicious && l.events > 0, "{ctx}: {l:?}");
            assert_eq!(l, find(&plan.labels, kind), "{ctx}");
        }
        // Every event of the plan belongs to exactly one look-alike, within
        // its span, and each label counts exactly its events.
        let owners = owners(&s, &plan);
        let mut counts = [0u64; 3];
        for (e, who) in plan.events.iter().zip(&owners) {
            assert_eq!(who.len(), 1, "{ctx}: {e:?} belongs to {who:?}");
            let l = find(&plan.labels, LOOKALIKES[who[0]]);
            assert!(
                (l.start.timestamp()..=l.end.timestamp()).contains(&e.ts),
                "{ctx}: {e:?}"
            );
            counts[who[0]] += 1;
        }
        for (i, kind) in LOOKALIKES.iter().enumerate() {
            assert_eq!(counts[i], find(&plan.labels, *kind).events, "{ctx}: {kind}");
        }
        // Every one of those events is a line of the output.
        let mut lines: HashMap<&str, usize> = HashMap::new();
        for line in log.lines() {
            *lines.entry(line).or_default() += 1;
        }
        for e in &plan.events {
            let line = syslog_line(&s, e);
            let left = lines
                .get_mut(line.as_str())
                .unwrap_or_else(|| panic!("{ctx}: missing {line}"));
            assert!(*left > 0, "{ctx}: {line} once too often");
            *left -= 1;
        }
        // The scanner's address is the scan's alone.
        let scan = find(&summary.labels, CampaignKind::BenignVulnScan);
        let from_scanner = log.lines().filter(|l| l.contains(" 10.0.6.251 ")).count() as u64;
        assert_eq!(from_scanner, scan.events, "{ctx}");
    }
}

#[test]
fn each_lookalike_has_its_shape() {
    for size in SIZES {
        let (cfg, ctx) = sized(size);
        let (log, summary) = run(&cfg);
        let s = setup(&cfg).expect("setup");
        let org = &s.org;
        let offset = i64::from(cfg.utc_offset_hours) * HOUR;
        let local_minute = |ts: i64| (ts + offset).rem_euclid(DAY) / 60;
        let local_weekday = |ts: i64| weekday((ts + offset).div_euclid(DAY));
        let host_of = |name: &str| org.hosts.iter().find(|h| h.name == name).expect("a host");
        let person = |name: &str| org.users.iter().find(|u| s.names.get(u.name) == name);
        let inside = |l: &CampaignLabel| {
            let (a, b) = (l.start.timestamp(), l.end.timestamp());
            move |e: &&Ev| e.ts >= a && e.ts <= b
        };
        let about_attacks: HashSet<&str> = summary
            .labels
            .iter()
            .filter(|l| l.malicious)
            .filter(|l| !crate::campaigns::lookalikes::many_targets(l.kind))
            .flat_map(|l| l.users.iter().map(String::as_str))
            .collect();

        // The scan: one fixed internal address, a weekday's working hours,
        // 1–2 hours, many servers, a burst of failures on each, no login.
        let scan = find(&summary.labels, CampaignKind::BenignVulnScan);
        assert_eq!(scan.source_ips, ["10.0.6.251"], "{ctx}");
        let span = scan.end.timestamp() - scan.start.timestamp();
        assert!((HOUR / 2..=2 * HOUR + 10 * MINUTE).contains(&span), "{ctx}: {span}");
        assert!(local_weekday(scan.start.timestamp()) < 5, "{ctx}");
        assert!(local_minute(scan.start.timestamp()) >= 9 * 60, "{ctx}");
        assert!(local_minute(scan.end.timestamp()) <= 17 * 60 + 30, "{ctx}");
        assert!(
            scan.hosts.len() >= org.servers.len().min(15) && scan.hosts.len() <= 30,
            "{ctx}"
        );
        assert!(scan.users.iter().any(|u| u == "root") && scan.users.iter().any(|u| u == "admin"));
        let mut per_host: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for e in s.plan.events.iter().filter(|e| e.ip == IpAddr::V4(SCANNER)) {
            assert!(!matches!(e.kind, Kind::AcceptedPassword | Kind::AcceptedPublickey));
            if matches!(e.kind, Kind::FailedPassword | Kind::FailedPasswordInvalid) {
                per_host.entry(e.host).or_default().push(e.ts);
            }
        }
        assert_eq!(per_host.len(), scan.hosts.len(), "{ctx}");
        for times in per_host.values() {
            // LLX-SSH-001 counts 5 in 10 minutes.
            assert!(max_in_window(times.clone(), 10 * MINUTE) >= 10, "{ctx}");
        }
        assert!(!log.contains("Accepted password for root from 10.0.6.251 "));

        // The rotation: an administrator nobody's attack is about changes
        // 10–30 accounts' passwords on internal servers, in bursts.
        let rotation = find(&summary.labels, CampaignKind::BenignPasswordRotation);
        let admin = person(&rotation.users[0]).expect("a person");
        assert!(admin.admin, "{ctx}");
        assert!(!about_attacks.contains(rotation.users[0].as_str()), "{ctx}");
        assert_eq!(rotation.source_ips, [admin.src_ip.to_string()], "{ctx}");
        let accounts: HashSet<&str> = rotation.users[1..].iter().map(String::as_str).collect();
        assert!((10..=30).contains(&accounts.len()), "{ctx}: {}", accounts.len());
        assert!((1..=12).contains(&rotation.hosts.len()), "{ctx}");
        for h in &rotation.hosts {
            assert!(!host_of(h).role.exposed(), "{ctx}: {h}");
        }
        assert!(rotation.end - rotation.start <= chrono::Duration::hours(2), "{ctx}");
        assert!(local_weekday(rotation.start.timestamp()) < 5, "{ctx}");
        let mut changes: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for e in s.plan.events.iter().filter(inside(rotation)) {
            if e.kind == Kind::PasswordChanged && e.user != NONE && accounts.contains(s.names.get(e.user)) {
                changes.entry(e.host).or_default().push(e.ts);
            }
        }
        assert_eq!(changes.len(), rotation.hosts.len(), "{ctx}");
        // LLX-ACCT-002 counts 10 changes on a host in 10 minutes.
        let bursts = changes
            .values()
            .filter(|t| max_in_window((*t).clone(), 10 * MINUTE) >= 10)
            .count();
        assert!(bursts >= 2.min(rotation.hosts.len()), "{ctx}: {bursts} bursts");
        let changed_in_log = log
            .lines()
            .filter(|l| l.contains(": pam_unix(passwd:chauthtok): password changed for "))
            .filter(|l| accounts.contains(l.rsplit(' ').next().unwrap()))
            .count();
        assert_eq!(changed_in_log, changes.values().map(Vec::len).sum::<usize>(), "{ctx}");

        // The newcomer: a name nobody else uses, created by an administrator,
        // then logging in only from a new internal workstation.
        let newcomer = find(&summary.labels, CampaignKind::BenignNewAdmin);
        let name = newcomer.users[0].as_str();
        let creator = person(&newcomer.users[1]).expect("a person");
        assert!(
            creator.admin && !about_attacks.contains(newcomer.users[1].as_str()),
            "{ctx}"
        );
        assert_ne!(newcomer.users[1], rotation.users[0], "{ctx}");
        assert!(person(name).is_none(), "{ctx}: {name} is an org account");
        for l in summary.labels.iter().filter(|l| l.id != newcomer.id) {
            assert!(l.users.iter().all(|u| u != name), "{ctx}: {name} in {}", l.id);
        }
        let ws: Ipv4Addr = newcomer.source_ips[0].parse().unwrap();
        assert!(ws.is_private(), "{ctx}");
        assert!(org.users.iter().all(|u| u.src_ip != ws && u.vpn_ip != ws), "{ctx}");
        assert!(org.hosts.iter().all(|h| h.ip != ws), "{ctx}");
        assert!((4..=8).contains(&newcomer.hosts.len()) || newcomer.hosts.len() <= org.servers.len());
        let created: HashSet<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("new user: name={name}, ")))
            .map(|l| l[16..].split(' ').next().unwrap())
            .collect();
        assert_eq!(created.len(), newcomer.hosts.len(), "{ctx}");
        let mut login_days = HashSet::new();
        let mut sudo_hosts = HashSet::new();
        for l in log.lines().filter(|l| mentions(l, name)) {
            if l.contains(&format!("Accepted password for {name} from ")) {
                assert!(l.contains(&format!(" from {ws} port ")), "{ctx}: {l}");
            }
            assert!(!l.contains(&format!("Accepted publickey for {name} ")), "{ctx}: {l}");
            if l.contains(" sudo[") && l.contains(&format!(": {name} : TTY=")) {
                sudo_hosts.insert(l[16..].split(' ').next().unwrap().to_string());
            }
        }
        for e in s
            .plan
            .events
            .iter()
            .filter(|e| e.user != NONE && s.names.get(e.user) == name)
        {
            if e.kind == Kind::AcceptedPassword {
                assert!(local_weekday(e.ts) < 5, "{ctx}");
                let m = local_minute(e.ts);
                assert!((6 * 60..20 * 60).contains(&m), "{ctx}: {m}");
                login_days.insert((e.ts + offset).div_euclid(DAY));
            }
        }
        assert!((1..=5).contains(&login_days.len()), "{ctx}");
        if summary.days >= 7 {
            assert_eq!(login_days.len(), 5, "{ctx}");
        }
        // Sudo on every server it was created on but the bastion.
        for h in &newcomer.hosts {
            if host_of(h).role != crate::org::Role::Bastion {
                assert!(sudo_hosts.contains(h), "{ctx}: no sudo on {h}");
            }
        }
    }
}

#[test]
fn lookalikes_are_placed_for_many_seeds() {
    // Planning only (no background), so many seeds are cheap.
    for seed in 100..130 {
        for (events, days) in [(20_000, None), (200_000, Some(30))] {
            let cfg = cfg(events, days, seed, seed % 2 == 0);
            let mut s = setup(&cfg).expect("setup");
            let plan = s.lookalikes.take().expect("lookalikes plan");
            let kinds: Vec<CampaignKind> = plan.labels.iter().map(|l| l.kind).collect();
            for kind in LOOKALIKES {
                assert!(kinds.contains(&kind), "{events}/{days:?}/{seed}: no {kind}");
            }
            let owners = owners(&s, &plan);
            assert!(owners.iter().all(|o| o.len() == 1), "{events}/{days:?}/{seed}");
        }
    }
}

#[test]
fn no_administrator_no_rotation_or_newcomer() {
    // 23 people, two administrators: one the compromise's victim, one the
    // distributed brute force's target. The scan needs nobody.
    let cfg = cfg(20_000, Some(14), 42, true);
    let (_, summary) = run(&cfg);
    let s = setup(&cfg).expect("setup");
    let attacked: HashSet<&str> = summary
        .labels
        .iter()
        .filter(|l| {
            matches!(
                l.kind,
                CampaignKind::AccountCompromise | CampaignKind::DistributedBruteForce
            )
        })
        .flat_map(|l| l.users.iter().map(String::as_str))
        .collect();
    assert!(s
        .org
        .people()
        .filter(|u| u.admin)
        .all(|u| attacked.contains(s.names.get(u.name))));
    let kinds: HashSet<CampaignKind> = summary.labels.iter().map(|l| l.kind).collect();
    assert!(kinds.contains(&CampaignKind::BenignVulnScan));
    assert!(!kinds.contains(&CampaignKind::BenignPasswordRotation));
    assert!(!kinds.contains(&CampaignKind::BenignNewAdmin));
}

#[test]
fn newcomer_appears_in_no_line_before_the_account_is_created() {
    let mut seen = HashSet::new();
    for (seed, start) in [
        (7, (2026, 3, 2)),
        (7, (2026, 4, 6)),
        (3, (2026, 3, 2)),
        (19, (2026, 1, 5)),
    ] {
        let cfg = GeneratorConfig {
            start: NaiveDate::from_ymd_opt(start.0, start.1, start.2).unwrap(),
            users: Some(80),
            ..cfg(30_000, Some(14), seed, true)
        };
        let (log, summary) = run(&cfg);
        let newcomer = find(&summary.labels, CampaignKind::BenignNewAdmin);
        let name = newcomer.users[0].as_str();
        assert!(seen.insert(name.to_string()), "{name} again in {seed}/{start:?}");
        let first = log.lines().find(|l| mentions(l, name)).expect("the newcomer's lines");
        assert!(
            first.contains(&format!("COMMAND=/usr/sbin/useradd -m -s /bin/bash {name}")),
            "{first}"
        );
        let created = log
            .lines()
            .position(|l| l.contains("useradd[") && l.contains(&format!("new user: name={name}, ")))
            .expect("useradd");
        let before = log.lines().take(created).filter(|l| mentions(l, name)).count();
        // The sudo line running useradd, and useradd's `new group`.
        assert_eq!(before, 2, "{seed}/{start:?}");
        // Nobody uses the name without the flag.
        let (plain, _) = run(&GeneratorConfig {
            lookalikes: false,
            ..cfg.clone()
        });
        assert!(!plain.lines().any(|l| mentions(l, name)), "{name}");
    }
}

#[test]
fn same_seed_same_bytes() {
    let cfg = GeneratorConfig {
        users: Some(80),
        ..cfg(20_000, Some(10), 9, true)
    };
    let (a, sa) = run(&cfg);
    let (b, sb) = run(&cfg);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let (c, sc) = run(&GeneratorConfig { seed: 10, ..cfg });
    assert_ne!(a, c);
    let name = |s: &GenerationSummary| find(&s.labels, CampaignKind::BenignNewAdmin).users[0].clone();
    assert_ne!(name(&sa), name(&sc));
}

#[test]
fn quiet_period_has_the_same_lookalikes() {
    for stealthy in [false, true] {
        let loud = GeneratorConfig {
            users: Some(80),
            ..cfg(30_000, Some(14), 8, stealthy)
        };
        let (_, quiet) = run(&GeneratorConfig {
            attacks: false,
            ..loud.clone()
        });
        let (_, loud) = run(&loud);
        assert!(quiet.labels.iter().all(|l| !l.malicious));
        for kind in LOOKALIKES {
            let pick = |s: &GenerationSummary| {
                let l = find(&s.labels, kind).clone();
                (l.source_ips, l.users, l.hosts, l.start, l.end, l.events)
            };
            assert_eq!(pick(&quiet), pick(&loud), "{kind} (stealthy: {stealthy})");
        }
    }
}

#[test]
fn the_flag_only_adds() {
    // Hashes of `loglynx-gen --events 20000 --users 80 --seed S --stealthy
    // [--no-attacks]` (log, labels) made by the generator before
    // `--lookalikes` existed (commit 922bf52).
    for (seed, attacks, log_hash, labels_hash) in [
        (7, true, 0x7741_7cfd_f06a_aef4u64, 0x207a_75fa_8d9d_3c3eu64),
        (3, false, 0x7d6f_616a_082a_3700, 0x9837_423f_60a2_7473),
    ] {
        let cfg = GeneratorConfig {
            events: 20_000,
            users: Some(80),
            seed,
            attacks,
            stealthy: true,
            ..GeneratorConfig::default()
        };
        let (log, summary) = run(&cfg);
        let mut labels = Vec::new();
        write_labels(&summary.labels, &mut labels).unwrap();
        assert_eq!(fnv(log.as_bytes()), log_hash, "seed {seed}: log changed");
        assert_eq!(fnv(&labels), labels_hash, "seed {seed}: labels changed");
        // With the flag every other label stays as it was.
        let (_, with) = run(&GeneratorConfig {
            lookalikes: true,
            ..cfg
        });
        let others: Vec<&CampaignLabel> = with.labels.iter().filter(|l| !LOOKALIKES.contains(&l.kind)).collect();
        assert_eq!(others, summary.labels.iter().collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(with.labels.len(), summary.labels.len() + 3);
    }
}

#[test]
fn lookalike_kinds_are_benign_and_round_trip() {
    for kind in LOOKALIKES {
        assert!(!kind.is_malicious());
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<CampaignKind>(&json).unwrap(), kind);
    }
    let names: Vec<&str> = LOOKALIKES.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        ["benign-vuln-scan", "benign-password-rotation", "benign-new-admin"]
    );
}
