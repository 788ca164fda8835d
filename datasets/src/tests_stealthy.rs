//! Tests of `--stealthy` (stealthy campaigns, benign look-alikes) and of the
//! asset list.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use super::*;
use crate::campaigns::Plan;
use crate::event::{Ev, Kind};
use crate::names::Sym;
use crate::timefmt::{HOUR, MINUTE};

/// The syslog output of `cfg` and its summary.
pub(crate) fn run(cfg: &GeneratorConfig) -> (String, GenerationSummary) {
    let mut out = Vec::new();
    let summary = generate(cfg, OutputFormat::Syslog, &mut out).expect("generate");
    (String::from_utf8(out).expect("utf-8"), summary)
}

fn stealthy(events: u64, days: Option<u32>, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        events,
        days,
        seed,
        stealthy: true,
        ..GeneratorConfig::default()
    }
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn without_stealthy_the_output_is_what_it_was() {
    // Hashes of `loglynx-gen --events 50000 --seed S` (log, labels) made by
    // the generator before `--stealthy` existed (commit 4148398).
    for (seed, log_hash, labels_hash) in [
        (7, 0xadc9_ae78_7fe2_03b7u64, 0x3411_8c02_1ecb_80ffu64),
        (3, 0xb064_ca7b_70b9_4b9a, 0xc208_75eb_b015_8311),
    ] {
        let cfg = GeneratorConfig {
            events: 50_000,
            seed,
            ..GeneratorConfig::default()
        };
        let (log, summary) = run(&cfg);
        let mut labels = Vec::new();
        write_labels(&summary.labels, &mut labels).unwrap();
        assert_eq!(fnv(log.as_bytes()), log_hash, "seed {seed}: log changed");
        assert_eq!(fnv(&labels), labels_hash, "seed {seed}: labels changed");
        // The flag adds to the output; it does not leave it as it was.
        let (with, _) = run(&GeneratorConfig { stealthy: true, ..cfg });
        assert_ne!(with, log);
    }
}

/// The stealthy part of a config's plan, with the org and names.
fn stealthy_plan(cfg: &GeneratorConfig) -> (Setup, Plan) {
    let mut s = setup(cfg).expect("setup");
    let plan = s.stealthy.take().expect("stealthy plan");
    (s, plan)
}

fn is_failure(e: &Ev) -> bool {
    matches!(e.kind, Kind::FailedPassword | Kind::FailedPasswordInvalid)
}

fn is_success(e: &Ev) -> bool {
    matches!(e.kind, Kind::AcceptedPassword | Kind::AcceptedPublickey)
}

/// The largest number of distinct values within any `window` seconds of
/// `(time, value)` pairs.
fn max_distinct_in_window<T: Ord + Copy>(mut items: Vec<(i64, T)>, window: i64) -> usize {
    items.sort();
    let mut best = 0;
    for i in 0..items.len() {
        let distinct: BTreeSet<T> = items[i..]
            .iter()
            .take_while(|(t, _)| *t - items[i].0 < window)
            .map(|&(_, v)| v)
            .collect();
        best = best.max(distinct.len());
    }
    best
}

/// The largest number of items within any `window` seconds.
fn max_in_window(mut times: Vec<i64>, window: i64) -> usize {
    times.sort_unstable();
    (0..times.len())
        .map(|i| times[i..].iter().take_while(|&&t| t - times[i] < window).count())
        .max()
        .unwrap_or(0)
}

/// What the built-in per-source rules would count on `events`, the worst
/// window of each.
#[derive(Debug, Default)]
struct Worst {
    /// LLX-SSH-001: failures per source and host in 10 minutes.
    per_source_host: usize,
    /// LLX-AUTH-001: distinct failing users per source in 5 minutes.
    users_per_source: usize,
    /// LLX-AUTH-003: distinct sources per failing user in 30 minutes.
    sources_per_user: usize,
    /// LLX-AUTH-002: distinct invalid names per source in 10 minutes.
    invalid_per_source: usize,
    /// LLX-AUTH-004: failures from a public source within 30 minutes
    /// before a success of the same user from it.
    failures_before_success: usize,
}

fn worst(events: &[Ev]) -> Worst {
    let mut by_source_host: HashMap<(IpAddr, u32), Vec<i64>> = HashMap::new();
    let mut by_source: HashMap<IpAddr, Vec<(i64, Sym)>> = HashMap::new();
    let mut by_user: HashMap<Sym, Vec<(i64, IpAddr)>> = HashMap::new();
    let mut invalid: HashMap<IpAddr, Vec<(i64, Sym)>> = HashMap::new();
    let mut failures: HashMap<(Sym, IpAddr), Vec<i64>> = HashMap::new();
    for e in events.iter().filter(|e| is_failure(e)) {
        by_source_host.entry((e.ip, e.host)).or_default().push(e.ts);
        by_source.entry(e.ip).or_default().push((e.ts, e.user));
        by_user.entry(e.user).or_default().push((e.ts, e.ip));
        failures.entry((e.user, e.ip)).or_default().push(e.ts);
    }
    for e in events {
        if matches!(e.kind, Kind::InvalidUser | Kind::FailedPasswordInvalid) {
            invalid.entry(e.ip).or_default().push((e.ts, e.user));
        }
    }
    let mut w = Worst::default();
    for (_, t) in by_source_host {
        w.per_source_host = w.per_source_host.max(max_in_window(t, 600));
    }
    for (_, v) in by_source {
        w.users_per_source = w.users_per_source.max(max_distinct_in_window(v, 300));
    }
    for (_, v) in by_user {
        w.sources_per_user = w.sources_per_user.max(max_distinct_in_window(v, 1800));
    }
    for (_, v) in invalid {
        w.invalid_per_source = w.invalid_per_source.max(max_distinct_in_window(v, 600));
    }
    for e in events.iter().filter(|e| is_success(e)) {
        let before = failures
            .get(&(e.user, e.ip))
            .map_or(0, |f| f.iter().filter(|&&t| t <= e.ts && e.ts - t <= 1800).count());
        w.failures_before_success = w.failures_before_success.max(before);
    }
    w
}

fn label(plan: &Plan, kind: CampaignKind) -> &CampaignLabel {
    plan.labels
        .iter()
        .find(|l| l.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} campaign"))
}

/// Events of a label in the stealthy plan, within its span: those from its
/// sources, and the source-less ones (sessions, sudo, su) of its users on
/// its hosts.
fn events_of<'a>(s: &Setup, plan: &'a Plan, l: &CampaignLabel) -> Vec<&'a Ev> {
    let ips: HashSet<IpAddr> = l.source_ips.iter().map(|ip| ip.parse().unwrap()).collect();
    let users: HashSet<Sym> = l.users.iter().filter_map(|u| s.names.lookup(u)).collect();
    let hosts: HashSet<&str> = l.hosts.iter().map(String::as_str).collect();
    plan.events
        .iter()
        .filter(|e| e.ts >= l.start.timestamp() && e.ts <= l.end.timestamp())
        .filter(|e| {
            ips.contains(&e.ip)
                || (!e.has_source()
                    && users.contains(&e.user)
                    && hosts.contains(s.org.hosts[e.host as usize].name.as_str()))
        })
        .collect()
}

const SIZES: [(u64, Option<u32>, u64); 5] = [
    (50_000, None, 7),
    (50_000, None, 3),
    (20_000, Some(14), 42),
    (200_000, None, 5),
    (8_000, Some(7), 11),
];

#[test]
fn stealthy_campaigns_stay_under_every_per_source_threshold() {
    // Planning only (no background), so many seeds are cheap.
    let more = (100..120).map(|seed| (20_000, None, seed));
    for (events, days, seed) in SIZES.into_iter().chain(more) {
        let cfg = stealthy(events, days, seed);
        let (s, plan) = stealthy_plan(&cfg);
        let kinds: BTreeSet<CampaignKind> = plan.labels.iter().map(|l| l.kind).collect();
        for k in CampaignKind::STEALTHY.iter().chain(&CampaignKind::LOOK_ALIKES) {
            assert!(kinds.contains(k), "{events}/{days:?}/{seed}: no {k}");
        }
        assert_eq!(plan.labels.len(), 10, "one of each");
        // Every stealthy attack, and all of them together.
        let attacks: Vec<Ev> = plan
            .labels
            .iter()
            .filter(|l| l.malicious)
            .flat_map(|l| events_of(&s, &plan, l))
            .copied()
            .collect();
        let w = worst(&attacks);
        let ctx = format!("{events}/{days:?}/{seed}: {w:?}");
        assert!(w.per_source_host <= 2, "LLX-SSH-001 (5): {ctx}");
        assert!(w.users_per_source <= 2, "LLX-AUTH-001 (11): {ctx}");
        assert!(w.sources_per_user <= 4, "LLX-AUTH-003 (10): {ctx}");
        assert!(w.invalid_per_source <= 1, "LLX-AUTH-002 (10): {ctx}");
        assert!(w.failures_before_success <= 1, "LLX-AUTH-004 (3): {ctx}");
        // Stealthy attacks are apart in time from each other and from the
        // travel (and, room permitting, from the classic attacks); they
        // share no person or address.
        let stealthy_kind = |k: CampaignKind| CampaignKind::STEALTHY.contains(&k);
        for a in s.plan.labels.iter().filter(|l| stealthy_kind(l.kind)) {
            for b in s.plan.labels.iter().filter(|l| l.id != a.id) {
                if stealthy_kind(b.kind) || b.kind == CampaignKind::BenignTravel {
                    let gap = (b.start - a.end).max(a.start - b.end);
                    assert!(
                        gap >= chrono::Duration::hours(2),
                        "{ctx}: {} and {} overlap",
                        a.id,
                        b.id
                    );
                }
            }
        }
        let mut seen_ip = HashSet::new();
        for l in &plan.labels {
            for ip in &l.source_ips {
                assert!(seen_ip.insert(ip.clone()), "{ctx}: {ip} in two labels");
            }
        }
        let person = |l: &CampaignLabel| l.users.iter().find(|u| *u != "root").cloned();
        let singles: Vec<String> = plan
            .labels
            .iter()
            .filter(|l| {
                matches!(
                    l.kind,
                    CampaignKind::LateralMovement
                        | CampaignKind::StolenKey
                        | CampaignKind::ConcurrentUse
                        | CampaignKind::BenignTravel
                        | CampaignKind::BenignAdminHop
                        | CampaignKind::BenignFirstSudo
                )
            })
            .filter_map(person)
            .collect();
        assert_eq!(singles.iter().collect::<HashSet<_>>().len(), singles.len(), "{ctx}");
        // Public sources are fresh: none is a campaign address of the base plan.
        for ip in plan.labels.iter().flat_map(|l| &l.source_ips) {
            let ip: IpAddr = ip.parse().unwrap();
            let base_owned = s
                .plan
                .labels
                .iter()
                .filter(|l| !CampaignKind::STEALTHY.contains(&l.kind) && !CampaignKind::LOOK_ALIKES.contains(&l.kind))
                .any(|l| l.source_ips.contains(&ip.to_string()));
            assert!(!base_owned, "{ctx}: {ip} reused");
            assert!(
                s.plan.reserved_ips.contains(&ip) || is_internal(ip),
                "{ctx}: {ip} not reserved"
            );
        }
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(_) => false,
    }
}

#[test]
fn each_stealthy_campaign_has_its_shape() {
    for (events, days, seed) in SIZES {
        let cfg = stealthy(events, days, seed);
        let (s, plan) = stealthy_plan(&cfg);
        let ctx = format!("{events}/{days:?}/{seed}");
        let local_minute = |ts: i64| (ts + 3600).rem_euclid(DAY) / 60;
        let people: HashSet<&str> = s.org.people().map(|u| s.names.get(u.name)).collect();

        let spray = label(&plan, CampaignKind::SlowSpray);
        let ev = events_of(&s, &plan, spray);
        let mut fails: Vec<&Ev> = ev.iter().copied().filter(|e| is_failure(e)).collect();
        fails.sort_by_key(|e| e.ts);
        assert_eq!(spray.source_ips.len(), 1, "{ctx}");
        assert_eq!(fails.len(), spray.users.len(), "{ctx}: one attempt per user");
        assert!(spray.users.iter().all(|u| people.contains(u.as_str())), "{ctx}");
        assert!((1..=2).contains(&spray.hosts.len()), "{ctx}");
        assert!(spray.users.len() <= 45 && (spray.users.len() >= 25 || spray.users.len() == people.len()));
        for pair in fails.windows(2) {
            assert!((6 * MINUTE..=15 * MINUTE).contains(&(pair[1].ts - pair[0].ts)), "{ctx}");
        }

        let stuffing = label(&plan, CampaignKind::CredentialStuffing);
        let ev = events_of(&s, &plan, stuffing);
        let n = stuffing.source_ips.len();
        assert!((50..=120).contains(&n), "{ctx}: {n}");
        assert_eq!(stuffing.hosts.len(), 1, "{ctx}");
        let wins = ev.iter().filter(|e| e.kind == Kind::AcceptedPassword).count();
        assert_eq!(wins, if n >= 90 { 2 } else { 1 }, "{ctx}");
        let mut sources: HashMap<Sym, HashSet<IpAddr>> = HashMap::new();
        for e in ev.iter().filter(|e| is_failure(e) || is_success(e)) {
            sources.entry(e.user).or_default().insert(e.ip);
        }
        assert!(sources.values().all(|s| s.len() <= 4), "{ctx}");
        let span = stuffing.end.timestamp() - stuffing.start.timestamp();
        assert!(span <= 5 * HOUR + 30 * MINUTE, "{ctx}: {span}");

        let dormant = label(&plan, CampaignKind::DormantAccount);
        let ev = events_of(&s, &plan, dormant);
        assert!(ev.iter().all(|e| !is_failure(e)), "{ctx}");
        assert!(ev
            .iter()
            .filter(|e| is_success(e))
            .all(|e| e.kind == Kind::AcceptedPublickey && (30..270).contains(&local_minute(e.ts))));
        assert!(is_internal(dormant.source_ips[0].parse().unwrap()), "{ctx}");

        let lateral = label(&plan, CampaignKind::LateralMovement);
        let ev = events_of(&s, &plan, lateral);
        assert!(lateral.users.contains(&"root".to_string()) && lateral.source_ips.len() == 2);
        let root_logins = ev
            .iter()
            .filter(|e| is_success(e) && s.names.get(e.user) == "root")
            .count();
        assert!((1..=3).contains(&root_logins), "{ctx}");
        assert!(ev.iter().any(|e| matches!(e.kind, Kind::SuTo | Kind::SudoCommand)));

        let stolen = label(&plan, CampaignKind::StolenKey);
        let ev = events_of(&s, &plan, stolen);
        let login = ev.iter().find(|e| is_success(e)).expect("login");
        assert_eq!(login.kind, Kind::AcceptedPublickey);
        let m = local_minute(login.ts);
        assert!(!(5 * 60..22 * 60).contains(&m), "{ctx}: {m}");
        assert!(!is_internal(login.ip));

        let concurrent = label(&plan, CampaignKind::ConcurrentUse);
        let mut logins: Vec<&Ev> = events_of(&s, &plan, concurrent)
            .into_iter()
            .filter(|e| is_success(e))
            .collect();
        logins.sort_by_key(|e| e.ts);
        assert_eq!(logins.len(), 2, "{ctx}");
        assert!(is_internal(logins[0].ip) && !is_internal(logins[1].ip));
        assert_eq!(logins[1].kind, Kind::AcceptedPassword);
        assert!((MINUTE..=8 * MINUTE).contains(&(logins[1].ts - logins[0].ts)));

        // The audit trips LLX-SSH-001 on every server it visits.
        let audit = label(&plan, CampaignKind::BenignCredentialAudit);
        let ev = events_of(&s, &plan, audit);
        let mut per_host: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for e in ev.iter().filter(|e| is_failure(e)) {
            per_host.entry(e.host).or_default().push(e.ts);
        }
        assert_eq!(per_host.len(), audit.hosts.len(), "{ctx}");
        assert!((6..=10).contains(&per_host.len()) || per_host.len() == s.org.servers.len());
        for t in per_host.values() {
            assert!(max_in_window(t.clone(), 180) >= 5, "{ctx}");
        }
        let mut from_scanner = ev.iter().filter(|e| e.has_source());
        assert!(from_scanner.clone().count() > 0);
        assert!(from_scanner.all(|e| (600..631).contains(&local_minute(e.ts))), "{ctx}");

        // The new sudoer is no administrator: their only sudo commands are
        // the look-alike's, within one session from their usual address.
        let first = label(&plan, CampaignKind::BenignFirstSudo);
        let person = s
            .org
            .users
            .iter()
            .find(|u| s.names.get(u.name) == first.users[0])
            .expect("a person");
        assert!(!person.admin, "{ctx}");
        let sudo: Vec<&Ev> = plan
            .events
            .iter()
            .filter(|e| e.user == person.name && e.kind == Kind::SudoCommand)
            .collect();
        assert!((2..=4).contains(&sudo.len()), "{ctx}: {}", sudo.len());
        assert!(sudo
            .iter()
            .all(|e| e.ts >= first.start.timestamp() && e.ts <= first.end.timestamp()));
        assert_eq!(first.source_ips, [person.src_ip.to_string()], "{ctx}");
    }
}

#[test]
fn dormant_account_appears_nowhere_else() {
    for seed in [7, 3, 19] {
        let cfg = stealthy(30_000, Some(10), seed);
        let (log, summary) = run(&cfg);
        let dormant = summary
            .labels
            .iter()
            .find(|l| l.kind == CampaignKind::DormantAccount)
            .expect("dormant");
        let name = &dormant.users[0];
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(name.as_str())).collect();
        assert!(!lines.is_empty());
        assert!(lines.len() as u64 <= dormant.events);
        for l in &lines {
            let host = l[16..].split(' ').next().unwrap();
            assert!(dormant.hosts.iter().any(|h| h == host), "{l}");
        }
        let others = summary.labels.iter().filter(|l| l.id != dormant.id);
        assert!(others.flat_map(|l| &l.users).all(|u| u != name));
        for quiet in [
            GeneratorConfig {
                attacks: false,
                ..cfg.clone()
            },
            GeneratorConfig {
                attacks: false,
                stealthy: false,
                ..cfg.clone()
            },
            GeneratorConfig {
                stealthy: false,
                ..cfg.clone()
            },
        ] {
            let (log, _) = run(&quiet);
            assert!(!log.contains(name.as_str()), "{name} in {quiet:?}");
        }
    }
}

#[test]
fn quiet_stealthy_period_has_only_the_routine_look_alikes() {
    let cfg = GeneratorConfig {
        attacks: false,
        ..stealthy(30_000, Some(14), 8)
    };
    let (_, quiet) = run(&cfg);
    let (_, loud) = run(&GeneratorConfig { attacks: true, ..cfg });
    assert!(quiet.labels.iter().all(|l| !l.malicious));
    let kinds: BTreeSet<CampaignKind> = quiet.labels.iter().map(|l| l.kind).collect();
    assert!(CampaignKind::LOOK_ALIKES.iter().all(|k| kinds.contains(k)));
    // The look-alikes are the same in both periods.
    for kind in CampaignKind::LOOK_ALIKES {
        let pick = |s: &GenerationSummary| {
            let l = s.labels.iter().find(|l| l.kind == kind).expect("look-alike").clone();
            (l.source_ips, l.users, l.hosts, l.start, l.end, l.events)
        };
        assert_eq!(pick(&quiet), pick(&loud), "{kind}");
    }
    let audit = quiet
        .labels
        .iter()
        .find(|l| l.kind == CampaignKind::BenignCredentialAudit)
        .unwrap();
    // 14 days from a Monday: two Mondays.
    assert!(audit.end.timestamp() - audit.start.timestamp() > 6 * DAY);
}

#[test]
fn travel_days_have_no_office_logins() {
    let cfg = stealthy(50_000, Some(10), 21);
    let (log, summary) = run(&cfg);
    let travel = summary
        .labels
        .iter()
        .find(|l| l.kind == CampaignKind::BenignTravel)
        .expect("travel");
    let user = &travel.users[0];
    let hotel = &travel.source_ips[0];
    let (first_day, last_day) = (
        (travel.start.timestamp() + 3600).div_euclid(DAY),
        (travel.end.timestamp() + 3600).div_euclid(DAY),
    );
    assert!((1..=2).contains(&(last_day - first_day)));
    let mut from_hotel = 0;
    for l in log.lines().filter(|l| {
        l.contains(&format!("Accepted password for {user} from "))
            || l.contains(&format!("Accepted publickey for {user} from "))
    }) {
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .position(|m| *m == &l[..3])
        .unwrap() as u32
            + 1;
        let day: u32 = l[4..6].trim().parse().unwrap();
        let time = chrono::NaiveTime::parse_from_str(&l[7..15], "%H:%M:%S").unwrap();
        let ts = NaiveDate::from_ymd_opt(2026, month, day)
            .unwrap()
            .and_time(time)
            .and_utc()
            .timestamp();
        let local_day = (ts + 3600).div_euclid(DAY);
        if (first_day..=last_day).contains(&local_day) {
            assert!(l.contains(&format!(" from {hotel} port ")), "{l}");
            from_hotel += 1;
        }
    }
    assert!(from_hotel >= 4);
}

#[test]
fn stealthy_label_entities_appear_in_the_output() {
    let (log, summary) = run(&stealthy(50_000, None, 7));
    for l in summary
        .labels
        .iter()
        .filter(|l| CampaignKind::STEALTHY.contains(&l.kind) || CampaignKind::LOOK_ALIKES.contains(&l.kind))
    {
        for ip in &l.source_ips {
            assert!(log.contains(&format!(" {ip} port ")), "{} {ip}", l.id);
        }
        for h in &l.hosts {
            assert!(log.contains(&format!(" {h} ")), "{} {h}", l.id);
        }
    }
    assert_eq!(summary.labels.iter().filter(|l| l.malicious).count(), 14);
}

#[test]
fn asset_list_has_every_host() {
    for cfg in [stealthy(50_000, None, 7), stealthy(5_000, Some(3), 2)] {
        let (log, summary) = run(&cfg);
        let list = assets(&cfg).unwrap();
        assert_eq!(list.len(), summary.hosts);
        let names: HashSet<&str> = list.iter().map(|a| a.host.as_str()).collect();
        assert_eq!(names.len(), list.len());
        for l in log.lines() {
            let host = l[16..].split(' ').next().unwrap();
            assert!(names.contains(host), "{host}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/assets.csv");
        assert_eq!(write_assets_file(&cfg, &path).unwrap(), list.len());
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rows = text.lines();
        assert_eq!(rows.next(), Some("host,address,role"));
        let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
        assert_eq!(rows.len(), list.len());
        for (r, a) in rows.iter().zip(&list) {
            assert_eq!(r[0], a.host);
            assert_eq!(r[1].parse::<std::net::Ipv4Addr>().unwrap(), a.address);
            assert!(a.host.starts_with(if r[2] == "workstation" { "ws" } else { r[2] }));
        }
    }
}
