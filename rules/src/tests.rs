//! Rule engine tests on handcrafted logs.

use std::borrow::Cow;

use loglynx_features::event::{Action, AttemptLine, Event, Evidence, Outcome};
use loglynx_features::ingest::attempts::count_in_order;
use loglynx_features::output::compact::{CompactBatch, CompactLog, KeepEvents};

use crate::*;

/// 2024-03-03 00:00:00 UTC.
const T0: i64 = 1_709_424_000;
const ATTACKER: &str = "185.220.101.7";
const PUBLIC: &str = "8.8.4.4";
const PUBLIC2: &str = "9.9.9.9";
const PRIVATE: &str = "10.0.0.5";

fn us(secs: i64) -> Micros {
    (T0 + secs) * 1_000_000
}

/// An event under construction.
#[derive(Clone)]
struct E(Event<'static>);

fn at(secs: i64, action: Action, outcome: Outcome) -> E {
    let evidence = Evidence {
        file: 0,
        line: 0,
        raw: Cow::Borrowed(""),
    };
    let mut e = Event::new(us(secs), action, evidence);
    e.outcome = outcome;
    e.host = Some(Cow::Borrowed("web-01"));
    e.program = Some(Cow::Borrowed("sshd"));
    e.pid = Some(7);
    E(e)
}

/// `Failed password for U from A`: sshd names the method.
fn fail(secs: i64, user: &str, src: &str) -> E {
    let mut e = at(secs, Action::Authentication, Outcome::Failure).user(user).src(src);
    e.0.auth_method = Some(loglynx_features::event::AuthMethod::Password);
    e.0.attempt_line = AttemptLine::Daemon;
    e
}

/// PAM's `authentication failure; … rhost=A user=U` for the same attempt.
fn pam_fail(secs: i64, user: &str, src: &str) -> E {
    let mut e = at(secs, Action::Authentication, Outcome::Failure).user(user).src(src);
    e.0.attempt_line = AttemptLine::Pam;
    e
}

fn ok(secs: i64, user: &str, src: &str) -> E {
    at(secs, Action::Authentication, Outcome::Success).user(user).src(src)
}

/// `Invalid user X from A` and `Failed password for invalid user X from A`.
fn invalid(secs: i64, user: &str, src: &str) -> [E; 2] {
    [
        at(secs, Action::InvalidUser, Outcome::Failure)
            .user(user)
            .src(src)
            .flag_invalid()
            .attempt(AttemptLine::Opening),
        fail(secs, user, src).flag_invalid(),
    ]
}

impl E {
    fn user(mut self, u: &str) -> E {
        self.0.user = Some(Cow::Owned(u.to_owned()));
        self.connection()
    }
    fn src(mut self, s: &str) -> E {
        self.0.set_source(Cow::Owned(s.to_owned()));
        self.connection()
    }
    /// One sshd connection per source and user, as real pids are.
    fn connection(mut self) -> E {
        let key = format!("{:?}{:?}", self.0.source_address, self.0.user);
        self.0.pid = Some(1000 + (loglynx_features::aggregate::name_hash(&key) % 30_000) as u32);
        self
    }
    fn host(mut self, h: &str) -> E {
        self.0.host = Some(Cow::Owned(h.to_owned()));
        self
    }
    fn target(mut self, t: &str) -> E {
        self.0.target_user = Some(Cow::Owned(t.to_owned()));
        self
    }
    fn flag_invalid(mut self) -> E {
        self.0.user_invalid = true;
        self
    }
    fn denied(mut self) -> E {
        self.0.denied = true;
        self
    }
    fn repeat(mut self, n: u32) -> E {
        self.0.repeat = n;
        self
    }
    fn attempt(mut self, line: AttemptLine) -> E {
        self.0.attempt_line = line;
        self
    }
    fn no_source(mut self) -> E {
        self.0.source_address = None;
        self.0.source_ip = None;
        self
    }
}

/// Numbers lines 1.. in the given order (kept if already set).
fn numbered(events: Vec<E>) -> Vec<E> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            if e.0.evidence.line == 0 {
                e.0.evidence.line = i as u64 + 1;
            }
            e
        })
        .collect()
}

/// A log built the way the pipeline builds it: two batches appended.
/// Counts attempts in the given order, as the pipeline does.
fn counted(events: Vec<E>) -> Vec<E> {
    let mut inner: Vec<Event<'static>> = events.into_iter().map(|e| e.0).collect();
    count_in_order(&mut inner);
    inner.into_iter().map(E).collect()
}

/// Where in the test's input the hit's evidence events were: line - 1,
/// as [`numbered`] numbers them.
fn input_positions(h: &RuleHit) -> Vec<usize> {
    h.evidence.iter().map(|&(_, line)| line as usize - 1).collect()
}

fn log(events: Vec<E>) -> CompactLog {
    log_as_counted(counted(numbered(events)))
}

/// [`log`] without counting attempts again: for events counted before.
fn log_as_counted(events: Vec<E>) -> CompactLog {
    let events = numbered(events);
    let mid = events.len() / 2;
    let mut log = CompactLog::default();
    for part in [&events[..mid], &events[mid..]] {
        let mut batch = CompactBatch::default();
        for e in part {
            batch.push(&e.0);
        }
        log.append(batch);
    }
    log
}

fn builtin(id: &str) -> Rule {
    RuleSet::builtin()
        .get(id)
        .unwrap_or_else(|| panic!("no rule {id}"))
        .clone()
}

fn parse(text: &str) -> Rule {
    Rule::from_toml_str(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn run(rule: &Rule, log: &CompactLog) -> Vec<RuleHit> {
    let set = RuleSet {
        rules: vec![rule.clone()],
    };
    let (hits, notes) = evaluate(&set, log, None);
    assert!(notes.is_empty(), "{notes:?}");
    hits
}

fn run_id(id: &str, events: Vec<E>) -> Vec<RuleHit> {
    run(&builtin(id), &log(events))
}

fn failures(times: impl IntoIterator<Item = i64>, src: &str) -> Vec<E> {
    times.into_iter().map(|t| fail(t, "root", src)).collect()
}

/// Deterministic shuffle (LCG).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

// ------------------------------------------------------------------ count

#[test]
fn count_threshold_is_inclusive() {
    let hits = run_id("LLX-SSH-001", failures((0..4).map(|k| k * 60), ATTACKER));
    assert!(hits.is_empty(), "{hits:?}");
    let hits = run_id("LLX-SSH-001", failures((0..5).map(|k| k * 60), ATTACKER));
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.rule_id, "LLX-SSH-001");
    assert_eq!(h.count, 5);
    assert_eq!((h.first, h.last), (us(0), us(240)));
    assert_eq!(
        h.group,
        vec![("source".into(), ATTACKER.into()), ("host".into(), "web-01".into())]
    );
    assert_eq!(h.severity, Severity::Low);
}

#[test]
fn count_window_edge_is_inclusive() {
    // Five failures spanning exactly the 10-minute window, then one second more.
    let hits = run_id("LLX-SSH-001", failures([0, 150, 300, 450, 600], ATTACKER));
    assert_eq!(hits.len(), 1);
    let hits = run_id("LLX-SSH-001", failures([0, 150, 300, 450, 601], ATTACKER));
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn count_window_slides_across_fixed_buckets() {
    // Three in [0, 10m) and three in [10m, 20m): fixed buckets see 3 + 3, the
    // sliding window sees five between 4m and 13m.
    let hits = run_id("LLX-SSH-001", failures([0, 240, 480, 660, 720, 780], ATTACKER));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 5);
    assert_eq!((hits[0].first, hits[0].last), (us(240), us(780)));
}

#[test]
fn slow_brute_force_below_threshold_gives_no_hit() {
    // One failure every 3 minutes for 10 hours: 200 attempts, never 5 in 10m.
    let hits = run_id("LLX-SSH-001", failures((0..200).map(|k| k * 180), ATTACKER));
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn three_hour_burst_is_one_hit_and_a_later_burst_another() {
    let mut events = failures((0..360).map(|k| k * 30), ATTACKER);
    // A quiet gap longer than the window, then a second burst.
    let restart = 359 * 30 + 601;
    events.extend(failures((0..6).map(|k| restart + k * 10), ATTACKER));
    let hits = run_id("LLX-SSH-001", events);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].count, 360);
    assert_eq!((hits[0].first, hits[0].last), (us(0), us(359 * 30)));
    assert!(
        hits[0].summary.starts_with("360 failed logins in 2 hours"),
        "{}",
        hits[0].summary
    );
    assert_eq!(hits[1].count, 6);
    assert_eq!(hits[1].first, us(restart));
}

#[test]
fn bursts_closer_than_the_window_merge() {
    // 11 failures, 8 minutes of quiet, 5 more: one hit of 16.
    let mut events = failures((0..11).map(|k| k * 30), ATTACKER);
    events.extend(failures((0..5).map(|k| 300 + 480 + k * 30), ATTACKER));
    let hits = run_id("LLX-SSH-001", events);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].count, 16);
}

#[test]
fn repeat_weights_the_count() {
    let hits = run_id("LLX-SSH-001", vec![fail(0, "root", ATTACKER).repeat(4)]);
    assert!(hits.is_empty());
    let hits = run_id("LLX-SSH-001", vec![fail(0, "root", ATTACKER).repeat(5)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 5);
    assert_eq!(input_positions(&hits[0]), vec![0]);
}

#[test]
fn invalid_user_attempts_count_once() {
    // Each attempt logs two lines; only the authentication failure counts.
    let four: Vec<E> = (0..4)
        .flat_map(|k| invalid(k * 10, &format!("u{k}"), ATTACKER))
        .collect();
    assert!(run_id("LLX-SSH-001", four).is_empty());
    let five: Vec<E> = (0..5)
        .flat_map(|k| invalid(k * 10, &format!("u{k}"), ATTACKER))
        .collect();
    let hits = run_id("LLX-SSH-001", five);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].count, 5);
}

#[test]
fn events_lacking_a_group_field_are_ignored() {
    let events = (0..10).map(|k| fail(k, "root", ATTACKER).no_source()).collect();
    assert!(run_id("LLX-SSH-001", events).is_empty());
}

#[test]
fn groups_are_independent() {
    // Three failures from each of two sources, and from one source on two hosts.
    let mut events = failures([0, 10, 20], ATTACKER);
    events.extend(failures([5, 15, 25], PUBLIC));
    events.extend(failures([1, 2], ATTACKER).into_iter().map(|e| e.host("db-01")));
    assert!(run_id("LLX-SSH-001", events).is_empty());
}

/// Keys of three parts are grouped apart from those of two, each by all
/// its parts.
#[test]
fn groups_of_three_fields_are_independent() {
    let by_three = parse(&MINIMAL.replace("[\"source\"]", "[\"source\", \"host\", \"user\"]"));
    let by_two = parse(&MINIMAL.replace("[\"source\"]", "[\"source\", \"host\"]"));
    let mut events = failures([0, 10, 20, 30, 40], ATTACKER);
    events.extend([1, 2, 3, 4].map(|t| fail(t, "admin", ATTACKER)));
    let log = log(events);
    let hits = run(&by_three, &log);
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].count, hits[0].users.clone()), (5, vec!["root".to_owned()]));
    let hits = run(&by_two, &log);
    assert_eq!((hits.len(), hits[0].count), (1, 9));
}

#[test]
fn severity_escalates() {
    let attempts = |n: i64, users: i64| -> Vec<E> {
        (0..n)
            .map(|k| fail(k * 5, &format!("user{}", k % users), ATTACKER))
            .collect()
    };
    let level = |n, users| {
        let hits = run_id("LLX-SSH-001", attempts(n, users));
        assert_eq!(hits.len(), 1);
        hits[0].severity
    };
    assert_eq!(level(5, 1), Severity::Low);
    assert_eq!(level(10, 1), Severity::Low);
    assert_eq!(level(11, 1), Severity::Medium);
    assert_eq!(level(5, 2), Severity::Medium);
    assert_eq!(level(21, 2), Severity::Medium);
    assert_eq!(level(20, 3), Severity::Medium);
    assert_eq!(level(21, 3), Severity::High);
}

#[test]
fn summary_reads_like_an_analyst_note() {
    let events = (0..27)
        .map(|k| fail(k * 180 / 26, &format!("user{}", k % 4), ATTACKER))
        .collect();
    let hits = run_id("LLX-SSH-001", events);
    assert_eq!(hits[0].summary, "27 failed logins in 3 minutes, 4 distinct users");
    assert_eq!(hits[0].users, vec!["user0", "user1", "user2", "user3"]);
    assert_eq!(
        (hits[0].distinct_users, hits[0].distinct_sources, hits[0].distinct_hosts),
        (4, 1, 1)
    );
}

#[test]
fn evidence_is_first_and_last_five_matching_events() {
    // Matching failures at odd indices, unrelated successes at even ones.
    let mut events = Vec::new();
    for k in 0..12 {
        events.push(ok(k * 10, "alice", PRIVATE));
        events.push(fail(k * 10 + 1, "root", ATTACKER));
    }
    let hits = run_id("LLX-SSH-001", events.clone());
    assert_eq!(hits.len(), 1);
    assert_eq!(input_positions(&hits[0]), vec![1, 3, 5, 7, 9, 15, 17, 19, 21, 23]);
    // Fewer than ten: each once.
    let hits = run_id("LLX-SSH-001", events[..14].to_vec());
    assert_eq!(input_positions(&hits[0]), vec![1, 3, 5, 7, 9, 11, 13]);
}

#[test]
fn distinct_values_are_capped_but_counted() {
    let events = (0..120).map(|k| fail(k, &format!("user{k:03}"), ATTACKER)).collect();
    let hits = run_id("LLX-SSH-001", events);
    assert_eq!(hits[0].distinct_users, 120);
    assert_eq!(hits[0].users.len(), MAX_LISTED);
    assert_eq!(hits[0].users[0], "user000");
}

// --------------------------------------------------------------- distinct

fn spray(n_users: usize, step: i64) -> Vec<E> {
    let hosts = ["web-01", "web-02", "db-01"];
    (0..n_users)
        .map(|k| fail(k as i64 * step, &format!("user{k}"), ATTACKER).host(hosts[k % 3]))
        .collect()
}

#[test]
fn password_spraying_threshold() {
    assert!(run_id("LLX-AUTH-001", spray(10, 10)).is_empty());
    let hits = run_id("LLX-AUTH-001", spray(11, 10));
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.group, vec![("source".into(), ATTACKER.into())]);
    assert_eq!((h.distinct_users, h.distinct_hosts, h.count), (11, 3, 11));
    assert_eq!(
        h.summary,
        "11 distinct users in 100 seconds (11 failed logins), on 3 distinct hosts"
    );
}

#[test]
fn repeated_users_do_not_make_a_spray() {
    let events: Vec<E> = (0..40).map(|k| fail(k, &format!("user{}", k % 10), ATTACKER)).collect();
    assert!(run_id("LLX-AUTH-001", events).is_empty());
}

#[test]
fn distinct_window_slides() {
    // 11 users over exactly 5 minutes is a hit; over 5 minutes and 1 second not.
    let mut events = spray(10, 30);
    events.push(fail(300, "user10", ATTACKER));
    assert_eq!(run_id("LLX-AUTH-001", events).len(), 1);
    let mut events = spray(10, 30);
    events.push(fail(301, "user10", ATTACKER));
    assert!(run_id("LLX-AUTH-001", events).is_empty());
}

#[test]
fn user_enumeration_counts_names_not_lines() {
    let names = |n: i64| -> Vec<E> {
        (0..n)
            .flat_map(|k| invalid(k * 20, &format!("guess{k}"), ATTACKER))
            .collect()
    };
    assert!(run_id("LLX-AUTH-002", names(9)).is_empty());
    let hits = run_id("LLX-AUTH-002", names(10));
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].distinct_users, hits[0].count), (10, 20));
    assert_eq!(hits[0].severity, Severity::Medium);
    // An `Invalid user` line alone (no password tried) still counts.
    let lone: Vec<E> = (0..10)
        .map(|k| {
            at(k, Action::InvalidUser, Outcome::Failure)
                .user(&format!("g{k}"))
                .src(ATTACKER)
        })
        .collect();
    assert_eq!(run_id("LLX-AUTH-002", lone).len(), 1);
    // Failures for existing users are not enumeration.
    let valid: Vec<E> = (0..12).map(|k| fail(k, &format!("user{k}"), ATTACKER)).collect();
    assert!(run_id("LLX-AUTH-002", valid).is_empty());
}

#[test]
fn distributed_brute_force_counts_sources_per_user() {
    let sources = |n: usize| -> Vec<E> {
        (0..n)
            .map(|k| fail(k as i64 * 60, "root", &format!("198.18.0.{k}")))
            .collect()
    };
    assert!(run_id("LLX-AUTH-003", sources(9)).is_empty());
    let hits = run_id("LLX-AUTH-003", sources(10));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group, vec![("user".into(), "root".into())]);
    assert_eq!(hits[0].distinct_sources, 10);
    assert_eq!(
        hits[0].summary,
        "10 distinct sources in 9 minutes (10 failed logins), on web-01"
    );
}

// --------------------------------------------------------------- sequence

fn brute_then_success(n_fail: i64, user: &str, src: &str) -> Vec<E> {
    let mut v: Vec<E> = (0..n_fail).map(|k| fail(k * 20, user, src)).collect();
    v.push(ok(n_fail * 20 + 5, user, src));
    v
}

#[test]
fn success_after_failures_needs_min_first() {
    assert!(run_id("LLX-AUTH-004", brute_then_success(2, "admin", ATTACKER)).is_empty());
    let hits = run_id("LLX-AUTH-004", brute_then_success(3, "admin", ATTACKER));
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.severity, Severity::High);
    assert_eq!(
        h.group,
        vec![("user".into(), "admin".into()), ("source".into(), ATTACKER.into())]
    );
    assert_eq!((h.count, h.first, h.last), (4, us(0), us(65)));
    assert_eq!(input_positions(h), vec![0, 1, 2, 3]);
    assert_eq!(
        h.summary,
        "3 failed logins then 1 successful login within 65 seconds, on web-01"
    );
}

#[test]
fn success_after_failures_respects_window_scope_and_group() {
    // Failures more than 30 minutes before the success.
    let mut old = failures([0, 10, 20], ATTACKER);
    old.push(ok(20 + 1801, "root", ATTACKER));
    assert!(run_id("LLX-AUTH-004", old).is_empty());
    // A private source: an internal script that mistyped.
    assert!(run_id("LLX-AUTH-004", brute_then_success(5, "deploy", PRIVATE)).is_empty());
    // Success for another user, or from another source.
    let mut other = failures([0, 10, 20], ATTACKER);
    other.push(ok(30, "alice", ATTACKER));
    other.push(ok(40, "root", PUBLIC));
    assert!(run_id("LLX-AUTH-004", other).is_empty());
    // Success first, failures after.
    let mut before = vec![ok(0, "root", ATTACKER)];
    before.extend(failures([10, 20, 30], ATTACKER));
    assert!(run_id("LLX-AUTH-004", before).is_empty());
}

#[test]
fn sequence_repeats_within_the_window_are_one_hit() {
    let mut events = failures([0, 10, 20], ATTACKER);
    events.push(ok(30, "root", ATTACKER));
    events.push(ok(600, "root", ATTACKER));
    let hits = run_id("LLX-AUTH-004", events.clone());
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].count, hits[0].last), (5, us(600)));
    // Much later, a new round of failures and a success: a new hit.
    events.extend(failures([5000, 5010, 5020], ATTACKER));
    events.push(ok(5030, "root", ATTACKER));
    let hits = run_id("LLX-AUTH-004", events);
    assert_eq!(hits.len(), 2);
    assert_eq!((hits[1].count, hits[1].first), (4, us(5000)));
}

fn account(secs: i64, action: Action, user: &str) -> E {
    let mut e = at(secs, action, Outcome::Success).user(user);
    e.0.program = Some(Cow::Borrowed("useradd"));
    e
}

#[test]
fn new_account_added_to_privileged_group() {
    let created = account(0, Action::UserCreated, "bob");
    let to = |secs, group| account(secs, Action::UserModified, "bob").target(group);
    let hits = run_id("LLX-ACCT-001", vec![created.clone(), to(3600, "sudo")]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, Severity::Critical);
    assert_eq!(hits[0].group, vec![("user".into(), "bob".into())]);
    assert_eq!(
        hits[0].summary,
        "1 account creation then 1 account change within 60 minutes, on web-01"
    );
    // `add 'bob' to group 'sudo'` and `... to shadow group 'sudo'`: one hit.
    let hits = run_id("LLX-ACCT-001", vec![created.clone(), to(60, "sudo"), to(60, "sudo")]);
    assert_eq!((hits.len(), hits[0].count), (1, 3));
    // An unprivileged group, too late, or the wrong order: nothing.
    assert!(run_id("LLX-ACCT-001", vec![created.clone(), to(60, "docker")]).is_empty());
    assert!(run_id("LLX-ACCT-001", vec![created.clone(), to(25 * 3600, "wheel")]).is_empty());
    assert!(run_id(
        "LLX-ACCT-001",
        vec![to(0, "sudo"), account(60, Action::UserCreated, "bob")]
    )
    .is_empty());
}

// ----------------------------------------------------------------- single

#[test]
fn root_login_from_public_address() {
    let hits = run_id("LLX-AUTH-005", vec![ok(0, "root", ATTACKER)]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, Severity::High);
    assert_eq!(hits[0].summary, "1 successful login, user root");
    assert!(run_id("LLX-AUTH-005", vec![ok(0, "root", PRIVATE)]).is_empty());
    assert!(run_id("LLX-AUTH-005", vec![ok(0, "alice", ATTACKER)]).is_empty());
    assert!(run_id("LLX-AUTH-005", vec![fail(0, "root", ATTACKER)]).is_empty());
}

#[test]
fn single_storm_is_one_hit_and_gaps_split() {
    // One root login a minute for 50 minutes: one hit.
    let storm: Vec<E> = (0..50).map(|k| ok(k * 60, "root", ATTACKER)).collect();
    let hits = run_id("LLX-AUTH-005", storm);
    assert_eq!((hits.len(), hits[0].count), (1, 50));
    assert_eq!(hits[0].summary, "50 successful logins in 49 minutes, user root");
    // Two hours apart: two hits; another source: its own hit.
    let hits = run_id(
        "LLX-AUTH-005",
        vec![
            ok(0, "root", ATTACKER),
            ok(7200, "root", ATTACKER),
            ok(10, "root", PUBLIC),
        ],
    );
    assert_eq!(hits.len(), 3);
}

#[test]
fn sudo_refused_by_policy() {
    let sudo = |secs| at(secs, Action::Sudo, Outcome::Failure).user("mallory").target("root");
    let hits = run_id("LLX-PRIV-001", vec![sudo(0).denied(), sudo(30).denied()]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].severity, Severity::Medium);
    assert_eq!(
        hits[0].group,
        vec![("user".into(), "mallory".into()), ("host".into(), "web-01".into())]
    );
    assert_eq!(hits[0].summary, "2 denied sudo commands in 30 seconds");
    // A wrong password is not a policy refusal.
    assert!(run_id("LLX-PRIV-001", vec![sudo(0)]).is_empty());
}

// --------------------------------------------------------------- new_term

fn baseline() -> CompactLog {
    log(vec![
        ok(0, "alice", PUBLIC),
        ok(3600, "alice", PRIVATE).host("web-02"),
        ok(7200, "bob", PUBLIC2),
        fail(9000, "alice", ATTACKER),
    ])
}

#[test]
fn new_terms_against_a_baseline() {
    let rules = RuleSet::builtin();
    let history = History::from_log(&baseline(), &rules);
    assert!(history.contains(&[TermField::User, TermField::Source], &["alice", PUBLIC]));
    // A failure is not a term: the rules only learn successful logins.
    assert!(!history.contains(&[TermField::User, TermField::Source], &["alice", ATTACKER]));
    let new = log(vec![
        ok(86_400, "alice", PUBLIC),
        ok(86_500, "alice", ATTACKER),
        ok(86_600, "alice", ATTACKER),
        ok(86_700, "bob", PUBLIC2).host("db-01"),
        fail(86_800, "carol", PUBLIC2),
    ]);
    let (hits, notes) = evaluate(&rules, &new, Some(&history));
    assert!(notes.is_empty(), "{notes:?}");
    let new_terms: Vec<String> = hits
        .iter()
        .filter(|h| h.rule_id.starts_with("LLX-NEW"))
        .map(|h| format!("{} {:?} {}", h.rule_id, h.group, h.count))
        .collect();
    assert_eq!(
        new_terms,
        vec![
            format!(r#"LLX-NEW-001 [("user", "alice"), ("source", "{ATTACKER}")] 2"#),
            r#"LLX-NEW-002 [("user", "bob"), ("host", "db-01")] 1"#.to_owned(),
        ]
    );
    let h = hits.iter().find(|h| h.rule_id == "LLX-NEW-001").unwrap();
    assert_eq!(h.severity, Severity::Low);
    assert_eq!(
        h.summary,
        format!("user+source not in the baseline: alice, {ATTACKER} (2 successful logins in 100 seconds), on web-01")
    );
}

#[test]
fn new_term_without_history_is_skipped_with_a_note() {
    let (hits, notes) = evaluate(&RuleSet::builtin(), &baseline(), None);
    assert!(hits.iter().all(|h| !h.rule_id.starts_with("LLX-NEW")));
    assert_eq!(notes.len(), 5, "{notes:?}");
    assert!(notes[0].to_string().starts_with("LLX-NEW-001: skipped"), "{notes:?}");
    // A history built for other rules lacks the key: also skipped.
    let (_, notes) = evaluate(&RuleSet::builtin(), &baseline(), Some(&History::default()));
    assert!(notes[1].to_string().contains("no `user+host` terms"), "{notes:?}");
}

/// A `new_term` rule on the user and the hour, with `extra` keys.
fn hour_rule(extra: &str) -> RuleSet {
    let rule = parse(&format!(
        r#"
        id = "T-HOUR"
        name = "login at a new hour"
        level = "low"
        kind = "new_term"
        fields = ["user", "hour"]
        {extra}
        [filter]
        outcome = ["success"]
        "#
    ));
    RuleSet { rules: vec![rule] }
}

#[test]
fn new_term_hour_of_day() {
    let set = hour_rule("");
    let history = History::from_log(&log(vec![ok(9 * 3600, "alice", PUBLIC)]), &set);
    assert_eq!(history.terms["user+hour"].len(), 1);
    let (hits, _) = evaluate(
        &set,
        &log(vec![
            ok(86_400 + 9 * 3600 + 59, "alice", PUBLIC),
            ok(3 * 3600, "alice", PUBLIC),
        ]),
        Some(&history),
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].group,
        vec![("user".into(), "alice".into()), ("hour".into(), "03".into())]
    );
}

#[test]
fn an_hour_within_the_slack_of_a_seen_hour_is_not_new() {
    let set = hour_rule("hour_slack = 2");
    // alice at 09:00 and 23:00.
    let history = History::from_log(
        &log(vec![ok(9 * 3600, "alice", PUBLIC), ok(23 * 3600, "alice", PUBLIC)]),
        &set,
    );
    let day = 86_400;
    let (hits, _) = evaluate(
        &set,
        &log(vec![
            ok(day + 7 * 3600, "alice", PUBLIC),  // 2 h early: seen
            ok(day + 11 * 3600, "alice", PUBLIC), // 2 h late: seen
            ok(day + 3600, "alice", PUBLIC),      // 01:00, 2 h after 23:00 around the clock: seen
            ok(day + 4 * 3600, "alice", PUBLIC),  // 04:00: new
            ok(day + 12 * 3600, "alice", PUBLIC), // 12:00: new
        ]),
        Some(&history),
    );
    let hours: Vec<&str> = hits.iter().map(|h| h.group[1].1.as_str()).collect();
    assert_eq!(hours, vec!["04", "12"]);
    // A slack without an hour, or beyond half a day, is refused.
    for bad in [
        "fields = [\"user\", \"source\"]\nhour_slack = 2",
        "fields = [\"user\", \"hour\"]\nhour_slack = 12",
    ] {
        let text = format!("id = \"T\"\nname = \"t\"\nlevel = \"low\"\nkind = \"new_term\"\n{bad}\n[filter]\n");
        let err = Rule::from_toml_str(&text, "t.toml").unwrap_err().to_string();
        assert!(err.contains("hour_slack"), "{err}");
    }
}

#[test]
fn with_an_hour_slack_an_event_is_seen_once_when_no_other_lies_within_the_slack() {
    let rules = RuleSet::builtin();
    let Some(Logic::NewTerm(rule)) = rules.get("LLX-NEW-004").map(|r| &r.kind) else {
        panic!("LLX-NEW-004 is a new_term rule");
    };
    assert_eq!(rule.hour_slack, 2);
    // alice: 08:00, 09:00, 10:00 (each near another) and 20:00 (alone);
    // bob: 09:00 twice.
    let h = 3600;
    let novelty = Novelty::from_log(
        &log(vec![
            ok(8 * h, "alice", PUBLIC),
            ok(9 * h, "alice", PUBLIC),
            ok(10 * h, "alice", PUBLIC),
            ok(20 * h, "alice", PUBLIC),
            ok(9 * h, "bob", PUBLIC),
            ok(86_400 + 9 * h, "bob", PUBLIC),
        ]),
        &rules,
    );
    let f = &novelty.fields["user+hour~2h"];
    let counts = |events, singletons| NoveltyCounts {
        events,
        singletons,
        public_singletons: 0,
    };
    assert_eq!(f.by_first["alice"], counts(4, 1));
    assert_eq!(f.by_first["bob"], counts(2, 0));
    // Good–Turing: (1 + 1) / (4 + 2) for alice.
    let t = novelty.term(rule, &["alice", "03"]).unwrap();
    assert!(t.own && (t.nats - 3f64.ln()).abs() < 1e-9, "{t:?}");
    // carol has no history: the baseline's own chance, (1 + 1) / (6 + 2).
    let t = novelty.term(rule, &["carol", "03"]).unwrap();
    assert!(!t.own && (t.nats - 4f64.ln()).abs() < 1e-9, "{t:?}");
}

#[test]
fn where_and_when_add_up_but_a_new_address_and_a_new_host_count_once() {
    let t = |nats: f64, own: bool, hour: bool| TermRarity { nats, own, hour };
    // A new address (5) and a new host (4), as on a trip: the rarest.
    assert_eq!(Novelty::combined([t(5.0, true, false), t(4.0, true, false)]), 5.0);
    // A new address at a new hour: both.
    assert_eq!(Novelty::combined([t(5.0, true, false), t(4.0, true, true)]), 9.0);
    // An account never seen: every term is new, the rarest counts.
    assert_eq!(Novelty::combined([t(8.0, false, false), t(3.0, false, true)]), 8.0);
}

#[test]
fn the_baseline_replay_judges_each_term_seen_once_without_it() {
    let rules = RuleSet::builtin();
    let h = 3600;
    // alice: four logins from 10.0.0.5 at 09:00 on four days, one from
    // PUBLIC at 21:00 (new address and new hour, had it come last); bob
    // logs in once (every term of his would have been new).
    let mut events: Vec<E> = (0..4).map(|d| ok(d * 86_400 + 9 * h, "alice", PRIVATE)).collect();
    events.push(ok(4 * 86_400 + 21 * h, "alice", PUBLIC));
    events.push(ok(9 * h, "bob", PUBLIC2));
    let baseline = log(events);
    let (history, novelty, replay) = Novelty::baseline_terms(&baseline, &rules);
    // The history counted with the novelty is the history.
    assert_eq!(history, History::from_log(&baseline, &rules));
    assert_eq!(history.terms["user+hour"].len(), 3);
    let alice = replay.iter().find(|r| r.user.as_deref() == Some("alice")).unwrap();
    assert_eq!(alice.source.as_deref(), Some(PUBLIC));
    let mut replay: Vec<f64> = replay.iter().map(ReplayedTerms::nats).collect();
    // Her address seen once is public.
    let alice = NoveltyCounts {
        events: 5,
        singletons: 1,
        public_singletons: 1,
    };
    assert_eq!(novelty.fields["user+source"].by_first["alice"], alice);
    replay.sort_by(f64::total_cmp);
    assert_eq!(replay.len(), 2, "{replay:?}");
    // alice without her 21:00 login: 4 logins, none seen once, a chance of
    // 1/6 for a new address and for a new hour: 2 ln 6 together.
    assert!((replay[1] - 2.0 * 6f64.ln()).abs() < 1e-9, "{replay:?}");
    // bob without his login has no history: his terms are judged by the
    // whole baseline without it and count once, the rarest: an account
    // never seen among 5 logins of one other, (0 + 1) / (5 + 2).
    assert!((replay[0] - 7f64.ln()).abs() < 1e-9, "{replay:?}");
}

/// A login's new terms and the first sudo of its session are one incident
/// to the policy, so the replay joins them too.
#[test]
fn the_replay_joins_one_users_terms_within_the_gap() {
    let term = |nats: f64, own: bool, hour: bool| TermRarity { nats, own, hour };
    let r = |secs: i64, user: Option<&str>, terms: Vec<TermRarity>| ReplayedTerms {
        at: us(secs),
        user: user.map(str::to_owned),
        source: None,
        terms,
    };
    let replay = vec![
        r(3000, Some("alice"), vec![term(5.0, false, false)]),
        r(0, Some("alice"), vec![term(2.0, true, false), term(3.0, true, true)]),
        r(100, Some("bob"), vec![term(1.0, true, false)]),
        r(9000, Some("alice"), vec![term(4.0, true, true)]),
        r(50, None, vec![term(6.0, false, false)]),
        r(60, None, vec![term(6.0, false, false)]),
    ];
    let sessions = ReplayedTerms::sessions(&replay, us(3600) - us(0));
    assert_eq!(sessions, vec![vec![1, 0], vec![3], vec![2], vec![4], vec![5]]);
    // Where, when and what the account was never seen doing add up.
    let joined = Novelty::combined(sessions[0].iter().flat_map(|&i| replay[i].terms.iter().copied()));
    assert!((joined - 10.0).abs() < 1e-9, "{joined}");
    assert!((replay[1].nats() - 5.0).abs() < 1e-9);
}

#[test]
fn history_keeps_keys_without_terms() {
    let h = History::from_log(&CompactLog::default(), &RuleSet::builtin());
    assert_eq!(
        h.terms.keys().collect::<Vec<_>>(),
        vec!["user", "user+host", "user+hour", "user+source", "user+target_user"]
    );
    assert!(h.terms.values().all(|s| s.is_empty()));
}

// ------------------------------------------------- order and determinism

/// Every pattern at once, interleaved.
fn mixed() -> Vec<E> {
    let mut v = Vec::new();
    v.extend((0..40).map(|k| fail(k * 7, &format!("user{}", k % 13), ATTACKER)));
    v.extend(brute_then_success(4, "admin", PUBLIC));
    v.extend((0..12).flat_map(|k| invalid(500 + k * 3, &format!("guess{k}"), PUBLIC2)));
    v.extend((0..11).map(|k| fail(900 + k * 60, "oracle", &format!("198.18.1.{k}"))));
    v.push(ok(1000, "root", ATTACKER));
    v.push(ok(1000, "root", ATTACKER).host("web-02"));
    v.push(at(1100, Action::Sudo, Outcome::Failure).user("eve").denied());
    v.push(account(1200, Action::UserCreated, "backdoor"));
    v.push(account(1300, Action::UserModified, "backdoor").target("wheel"));
    v.extend((0..30).map(|k| ok(k * 100, "alice", PRIVATE)));
    v
}

#[test]
fn out_of_order_input_gives_the_same_hits() {
    let rules = RuleSet::builtin();
    // Attempts are counted in input order (the pipeline's job); given the
    // counts, the engine does not depend on the order.
    let events = counted(numbered(mixed()));
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| (e.0.timestamp, e.0.evidence.line));
    let sorted_log = log_as_counted(sorted);
    let (expected, _) = evaluate(&rules, &sorted_log, None);
    let ids: std::collections::BTreeSet<&str> = expected.iter().map(|h| h.rule_id.as_str()).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec![
            "LLX-ACCT-001",
            "LLX-AUTH-001",
            "LLX-AUTH-002",
            "LLX-AUTH-003",
            "LLX-AUTH-004",
            "LLX-AUTH-005",
            "LLX-PRIV-001",
            "LLX-SSH-001",
            "LLX-SSH-003"
        ]
    );
    for seed in 1..6 {
        let mut shuffled = events.clone();
        shuffle(&mut shuffled, seed);
        let shuffled_log = log_as_counted(shuffled);
        let (hits, _) = evaluate(&rules, &shuffled_log, None);
        assert_eq!(hits, expected, "seed {seed}");
    }
}

/// [`log`], keeping only what `keep` selects.
fn log_keeping(events: Vec<E>, keep: KeepEvents) -> CompactLog {
    let events = counted(numbered(events));
    CompactLog::from_events(events.iter().map(|e| &e.0), keep)
}

#[test]
fn a_log_of_only_the_events_rules_read_gives_the_same_hits_and_history() {
    let rules = RuleSet::builtin();
    let mut events = mixed();
    // Bulk no rule reads: sessions, disconnects, scanners; and sudo
    // commands, which the chain rule reads as escalations.
    for k in 0..50 {
        events.push(at(k * 11, Action::SessionOpened, Outcome::Success).user("alice"));
        events.push(at(k * 11 + 5, Action::SessionClosed, Outcome::Unknown).user("alice"));
        events.push(at(k * 13, Action::Disconnect, Outcome::Unknown).src(PUBLIC2));
        events.push(at(k * 17, Action::Sudo, Outcome::Success).user("bob"));
        events.push(at(k * 19, Action::ReverseMappingFailed, Outcome::Unknown).src(ATTACKER));
    }
    let events = numbered(events);
    let all = log(events.clone());
    let kept = log_keeping(events.clone(), rules.events_read());
    assert!(kept.len() < all.len() - 150, "{} of {}", kept.len(), all.len());
    let (expected, _) = evaluate(&rules, &all, None);
    let (hits, _) = evaluate(&rules, &kept, None);
    assert!(expected.len() >= 8);
    assert_eq!(hits, expected);

    let history = History::from_log(&all, &rules);
    assert!(history.terms.values().any(|s| !s.is_empty()));
    let for_history = log_keeping(events, rules.history_events());
    assert!(for_history.len() < kept.len());
    assert_eq!(History::from_log(&for_history, &rules), history);
    let with_history = |log: &CompactLog| evaluate(&rules, log, Some(&history)).0;
    assert_eq!(with_history(&kept), with_history(&all));
}

#[test]
fn evaluation_is_deterministic_and_sorted() {
    let rules = RuleSet::builtin();
    let log = log(mixed());
    let once = evaluate(&rules, &log, None);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        assert_eq!(pool.install(|| evaluate(&rules, &log, None)), once);
    }
    let keys: Vec<_> = once
        .0
        .iter()
        .map(|h| (h.first, h.rule_id.clone(), h.group.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

// -------------------------------------------------------- rule files

#[test]
fn every_builtin_rule_parses_and_is_listed() {
    let set = RuleSet::builtin();
    assert_eq!(set.len(), 19);
    let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), set.len(), "duplicate ids");
    for r in &set.rules {
        assert!(!r.description.is_empty() && !r.references.is_empty(), "{}", r.id);
        assert!(!r.recommended_action.is_empty() && !r.tags.is_empty(), "{}", r.id);
        assert!(r.tags.iter().all(|t| t.starts_with("attack.")), "{}", r.id);
    }
    // Every file in rules/builtin/ is compiled in, and loads the same from disk.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("builtin");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = builtin::FILES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    let mut loaded = RuleSet::load_dir(&dir).unwrap().rules;
    let mut compiled = set.rules;
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    compiled.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded, compiled);
}

#[test]
fn rules_round_trip_through_toml() {
    for rule in RuleSet::builtin().rules {
        let text = toml::to_string(&rule).unwrap();
        assert_eq!(parse(&text), rule, "{text}");
    }
}

const MINIMAL: &str = r#"
id = "T-1"
name = "test"
level = "medium"
kind = "count"
group_by = ["source"]
window = "10m"
threshold = 5
[filter]
action = ["authentication"]
"#;

fn error_of(text: &str) -> String {
    Rule::from_toml_str(text, "rules.d/bad.toml").unwrap_err().to_string()
}

#[test]
fn parse_errors_name_the_file_and_key() {
    parse(MINIMAL);
    let cases = [
        (
            MINIMAL.replace("threshold = 5", "threshold = 5\ncolour = \"red\""),
            "`colour`",
        ),
        (MINIMAL.replace("level = \"medium\"", "level = \"severe\""), "`level`"),
        (MINIMAL.replace("\"10m\"", "\"10x\""), "`window`"),
        (MINIMAL.replace("\"10m\"", "\"1.5h\""), "bad duration"),
        (
            MINIMAL.replace("[\"authentication\"]", "[\"login\"]"),
            "`filter.action`",
        ),
        (MINIMAL.replace("action =", "actions ="), "`filter.actions`"),
        (MINIMAL.replace("kind = \"count\"", "kind = \"threshold\""), "`kind`"),
        (MINIMAL.replace("[\"source\"]", "[\"ip\"]"), "`group_by`"),
        (MINIMAL.replace("threshold = 5", ""), "`threshold`"),
        (MINIMAL.replace("threshold = 5", "threshold = 0"), "`threshold`"),
        (MINIMAL.replace("window = \"10m\"", ""), "`window`"),
        (
            MINIMAL.replace("kind = \"count\"", "kind = \"single\""),
            "`threshold`: not used",
        ),
        (
            MINIMAL.replace("kind = \"count\"", "kind = \"distinct\""),
            "`distinct_field`",
        ),
        (MINIMAL.replace("id = \"T-1\"", ""), "missing field `id`"),
        (format!("{MINIMAL}[[severity]]\nlevel = \"high\"\n"), "`severity`"),
        (
            format!("{MINIMAL}[[severity]]\nlevel = \"high\"\nmin_users = 3\n"),
            "`severity.min_users`",
        ),
        (MINIMAL.replace("[\"authentication\"]", "[]"), "empty list"),
    ];
    for (text, needle) in cases {
        let err = error_of(&text);
        assert!(err.starts_with("rules.d/bad.toml"), "{err}");
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    // A key of another kind, or of no kind, is refused with its line.
    let sequence = r#"
id = "T-2"
name = "test"
level = "low"
kind = "sequence"
window = "10m"
[first]
action = ["user-created"]
[then]
action = ["user-modified"]
"#;
    parse(sequence);
    let cases = [
        (
            MINIMAL.replace("threshold = 5", "threshold = 5\ndistinct_field = \"user\""),
            "rules.d/bad.toml:9: `distinct_field`: not used by kind `count`",
        ),
        (
            MINIMAL.replace("threshold = 5", "threshold = 5\nfields = [\"user\"]"),
            "rules.d/bad.toml:9: `fields`: not used by kind `count`",
        ),
        (
            sequence.replace("window = \"10m\"", "window = \"10m\"\nthreshold = 3"),
            "rules.d/bad.toml:7: `threshold`: not used by kind `sequence`",
        ),
        (
            MINIMAL.replace("threshold = 5", "threshold = 5\ncolour = \"red\""),
            "rules.d/bad.toml:9: `colour`: unknown key; besides the common keys, kind `count` takes `group_by`, `window`, `threshold`",
        ),
        (
            sequence.replace("[then]\naction", "[then]\nactions"),
            "rules.d/bad.toml:10: `then.actions`: unknown field `actions`",
        ),
        (
            sequence.replace("[then]", "[next]"),
            "rules.d/bad.toml:9: `next`: unknown key; besides the common keys, kind `sequence` takes",
        ),
        (
            MINIMAL.replace("kind = \"count\"\n", ""),
            "rules.d/bad.toml: missing field `kind`",
        ),
    ];
    for (text, start) in cases {
        let err = error_of(&text);
        assert!(err.starts_with(start), "`{start}` does not start: {err}");
    }
    // The unknown value is quoted and the line given.
    let err = error_of(&MINIMAL.replace("level = \"medium\"", "level = \"severe\""));
    assert!(
        err.starts_with("rules.d/bad.toml:4: `level`:") && err.contains("severe"),
        "{err}"
    );
}

#[test]
fn windows_parse() {
    assert_eq!(Window::parse("30s").unwrap().micros(), 30_000_000);
    assert_eq!(Window::parse("10m").unwrap().micros(), 600_000_000);
    assert_eq!(Window::parse("24h").unwrap(), Window::parse("1d").unwrap());
    assert_eq!(Window::parse("90m").unwrap().to_string(), "90m");
    assert_eq!(Window::parse("120m").unwrap().to_string(), "2h");
    for bad in ["", "10", "m", "-5m", "1.5h", "0m", "10 m", "10ms", "99999999999999999d"] {
        assert!(Window::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn severity_orders_and_prints() {
    assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
    assert_eq!(Severity::High.to_string(), "HIGH");
    assert_eq!(serde_json::to_string(&Severity::Critical).unwrap(), "\"critical\"");
}

// ------------------------------------------------------- --rules DIR

#[test]
fn rules_dir_overrides_builtins_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let brute = builtin::FILES[0].1.replace("threshold = 5", "threshold = 3");
    std::fs::write(dir.path().join("mine.toml"), brute).unwrap();
    std::fs::write(dir.path().join("extra.toml"), MINIMAL).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a rule").unwrap();
    let mut set = RuleSet::builtin();
    let n = set.len();
    set.merge(RuleSet::load_dir(dir.path()).unwrap()).unwrap();
    assert_eq!(set.len(), n + 1);
    assert_eq!(set.rules[0].id, "LLX-SSH-001");
    assert!(matches!(&set.rules[0].kind, Logic::Count(c) if c.threshold == 3));
    assert_eq!(set.rules[n].id, "T-1");
    let (hits, _) = evaluate(&set, &log(failures([0, 10, 20], ATTACKER)), None);
    assert!(hits.iter().any(|h| h.rule_id == "LLX-SSH-001"));
}

/// The history keeps one set of terms per combination of fields: a rule
/// counting `user` among sudo commands must not read (or add to) the
/// accounts that logged in.
#[test]
fn rules_sharing_history_fields_under_other_filters_are_refused() {
    RuleSet::builtin().check_terms().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sudoers = r#"
id = "T-SUDO"
name = "first sudo"
description = "d"
level = "low"
kind = "new_term"
fields = ["user"]
[filter]
action = ["sudo"]
"#;
    std::fs::write(dir.path().join("sudo.toml"), sudoers).unwrap();
    let mut set = RuleSet::builtin();
    let err = set
        .merge(RuleSet::load_dir(dir.path()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("LLX-NEW-003") && err.contains("T-SUDO") && err.contains("`user`"),
        "{err}"
    );
    // The same fields under the same filter share the terms.
    let logins = sudoers.replace(
        r#"action = ["sudo"]"#,
        "action = [\"authentication\"]\noutcome = [\"success\"]",
    );
    std::fs::write(dir.path().join("sudo.toml"), logins).unwrap();
    let mut set = RuleSet::builtin();
    set.merge(RuleSet::load_dir(dir.path()).unwrap()).unwrap();
}

#[test]
fn rules_dir_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(RuleSet::load_dir(dir.path()), Err(RuleError::NoRules { .. })));
    std::fs::write(dir.path().join("a.toml"), MINIMAL).unwrap();
    std::fs::write(dir.path().join("b.toml"), MINIMAL).unwrap();
    let err = RuleSet::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("`T-1`") && err.contains("a.toml") && err.contains("b.toml"),
        "{err}"
    );
    std::fs::write(dir.path().join("b.toml"), MINIMAL.replace("10m", "ten minutes")).unwrap();
    let err = RuleSet::load_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("b.toml") && err.contains("`window`"), "{err}");
    let err = RuleSet::load_dir(&dir.path().join("missing")).unwrap_err().to_string();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn pam_duplicates_of_sshd_failures_are_not_counted() {
    // Four attempts, each logged by PAM and by sshd: below the threshold of 5.
    let mut evs = Vec::new();
    for i in 0..4 {
        evs.push(pam_fail(i * 10, "root", "203.0.113.9"));
        evs.push(fail(i * 10, "root", "203.0.113.9"));
    }
    let hits = run_id("LLX-SSH-001", evs);
    assert!(hits.is_empty(), "{hits:?}");
}

// ------------------------------------------- chain and concurrent

mod chain_concurrent;
mod stream;
