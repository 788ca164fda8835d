//! [`RuleStream`] against the batch engine: the same hits on random logs,
//! whatever the watermarks between events.

use proptest::prelude::*;

use super::*;

/// Windowed rules with small windows and thresholds, so random logs make
/// bursts that start, extend, end and restart.
const SMALL: &[&str] = &[
    r#"
id = "T-COUNT"
name = "count"
description = "d"
level = "medium"
recommended_action = "a"
kind = "count"
group_by = ["source"]
window = "60s"
threshold = 3
[filter]
action = ["authentication"]
outcome = ["failure"]
"#,
    r#"
id = "T-DISTINCT"
name = "distinct"
description = "d"
level = "medium"
recommended_action = "a"
kind = "distinct"
group_by = ["host"]
distinct_field = "user"
window = "120s"
threshold = 3
[filter]
outcome = ["failure"]
"#,
    r#"
id = "T-SINGLE"
name = "single"
description = "d"
level = "low"
recommended_action = "a"
kind = "single"
group_by = ["user", "host"]
window = "30s"
[filter]
outcome = ["success"]
"#,
    r#"
id = "T-SEQ"
name = "sequence"
description = "d"
level = "high"
recommended_action = "a"
kind = "sequence"
group_by = ["user"]
window = "100s"
min_first = 2
[filter]
action = ["authentication"]
[first]
outcome = ["failure"]
[then]
outcome = ["success"]
"#,
];

fn rules() -> RuleSet {
    let mut rules: Vec<Rule> = SMALL.iter().map(|t| parse(t)).collect();
    rules.extend(RuleSet::builtin().rules.into_iter().filter(RuleStream::streams));
    RuleSet { rules }
}

const USERS: &[&str] = &["root", "admin", "alice", "bob", "oracle"];
const SOURCES: &[&str] = &[ATTACKER, PUBLIC, PUBLIC2, PRIVATE, "198.18.0.9"];
const HOSTS: &[&str] = &["web-01", "web-02", "db-01"];

/// One random event: tens of seconds (so that gaps of exactly a window
/// occur), kind, user, source, host, repeat.
fn event((tens, kind, user, source, host, repeat): (i64, u8, usize, usize, usize, u32)) -> Vec<E> {
    let secs = tens * 10;
    let (user, source) = (USERS[user], SOURCES[source]);
    let mut v = match kind {
        0 | 1 => vec![fail(secs, user, source)],
        2 => vec![ok(secs, user, source)],
        3 => invalid(secs, user, source).to_vec(),
        4 => vec![pam_fail(secs, user, source)],
        _ => vec![at(secs, Action::Sudo, Outcome::Failure).user(user).denied()],
    };
    for e in &mut v {
        *e = e.clone().host(HOSTS[host]).repeat(repeat);
    }
    v
}

/// The streamed hits: events pushed in (time, file, line) order, the
/// watermark advanced before the events `cuts` names (at most to the
/// event's time less `slack` seconds).
fn streamed(rules: &RuleSet, log: &CompactLog, cuts: &[(usize, i64)]) -> Vec<RuleHit> {
    let mut strings = log.strings.clone();
    let mut stream = RuleStream::new(&rules.rules, &mut strings);
    let mut order: Vec<usize> = (0..log.events.len()).collect();
    order.sort_by_key(|&i| {
        let e = &log.events[i];
        (e.timestamp, e.file, e.line, i)
    });
    let mut hits = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        let e = &log.events[i];
        for &(_, slack) in cuts.iter().filter(|&&(at, _)| at == n) {
            stream.advance(e.timestamp - slack * 1_000_000, &strings);
            hits.extend(stream.take_hits());
        }
        stream.push(e, &strings);
    }
    hits.extend(stream.finish(&strings));
    sort_hits(&mut hits);
    hits
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn streamed_rules_give_the_batch_engines_hits(
        spec in prop::collection::vec((0i64..300, 0u8..6, 0..USERS.len(), 0..SOURCES.len(), 0..HOSTS.len(), 1u32..3), 1..250),
        cuts in prop::collection::vec((0usize..300, 0i64..400), 0..40),
    ) {
        let rules = rules();
        let log = log(spec.into_iter().flat_map(event).collect());
        let (expected, notes) = evaluate(&rules, &log, None);
        prop_assert!(notes.is_empty());
        prop_assert_eq!(streamed(&rules, &log, &cuts), expected);
    }
}

#[test]
fn a_burst_longer_than_every_window_is_one_hit_and_groups_are_dropped_after_it() {
    let rules = RuleSet {
        rules: vec![builtin("LLX-SSH-001")],
    };
    // One failure every 100 s for a day: 10-minute windows hold 6, so every
    // window qualifies and the burst never ends.
    let log = log((0..864).map(|k| fail(k * 100, "root", ATTACKER)).collect());
    let (expected, _) = evaluate(&rules, &log, None);
    assert_eq!(expected.len(), 1);
    let mut strings = log.strings.clone();
    let mut stream = RuleStream::new(&rules.rules, &mut strings);
    for e in &log.events {
        stream.advance(e.timestamp, &strings);
        stream.push(e, &strings);
    }
    assert_eq!(stream.live_groups(), 1);
    assert!(stream.take_hits().is_empty());
    // Ten minutes after the last failure no window can extend the burst.
    let last = log.events.last().unwrap().timestamp;
    stream.advance(last + 10 * 60 * 1_000_000, &strings);
    assert_eq!(stream.live_groups(), 1);
    stream.advance(last + 10 * 60 * 1_000_000 + 1, &strings);
    assert_eq!(stream.live_groups(), 0);
    assert_eq!(stream.take_hits(), expected);
}

/// The batches of a pipeline: `events` in order, cut before each position
/// `cuts` names.
fn batches(events: &[E], cuts: &[usize]) -> Vec<(CompactBatch, Micros)> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(events.len())).collect();
    bounds.extend([0, events.len()]);
    bounds.sort_unstable();
    bounds.dedup();
    bounds
        .windows(2)
        .map(|w| {
            let mut batch = CompactBatch::default();
            for e in &events[w[0]..w[1]] {
                batch.push(&e.0);
            }
            let latest = events[..w[1]].iter().map(|e| e.0.timestamp).max().unwrap();
            (batch, latest)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Events arrive out of order by at most the lateness; the watermark
    /// trails the latest by it; the interner is compacted at every batch.
    #[test]
    fn live_rules_give_the_batch_engines_hits(
        spec in prop::collection::vec((0i64..300, 0u8..6, 0..USERS.len(), 0..SOURCES.len(), 0..HOSTS.len(), 1u32..3), 1..200),
        jitter in prop::collection::vec(0i64..6, 200..201),
        cuts in prop::collection::vec(0usize..400, 0..30),
    ) {
        let lateness = 60 * 1_000_000;
        let rules = rules();
        let mut all = RuleSet::builtin();
        all.rules.extend(SMALL.iter().map(|t| parse(t)));
        // Arrival order: by time, each event up to 50 s late.
        let mut events: Vec<E> = numbered(spec.into_iter().flat_map(event).collect());
        let mut arrival: Vec<(i64, usize)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.0.timestamp + jitter[i % jitter.len()] * 10_000_000, i))
            .collect();
        arrival.sort_unstable();
        events = arrival.into_iter().map(|(_, i)| events[i].clone()).collect();
        let events = counted(events);
        let log = log_as_counted(events.clone());
        let (expected, expected_notes) = evaluate(&all, &log, None);
        // The other rules read their events back from the spool, or
        // without one hold them as they come: the same hits.
        let mut held = LiveRules::new(&all, false).unwrap();
        for (batch, latest) in batches(&events, &cuts) {
            held.add(vec![batch], latest - lateness).unwrap();
        }
        let held = held.finish(&Context::default()).unwrap();
        prop_assert_eq!(&held.hits, &expected);
        let mut live = LiveRules::new(&all, true).unwrap();
        live.compact_always();
        for (batch, latest) in batches(&events, &cuts) {
            live.add(vec![batch], latest - lateness).unwrap();
        }
        let out = live.finish(&Context::default()).unwrap();
        prop_assert_eq!(out.late, 0);
        prop_assert_eq!(out.notes, expected_notes);
        prop_assert_eq!(out.rest_log.len(), held.rest_log.len());
        prop_assert_eq!(out.hits, expected);
        let mut spool = out.spool.unwrap();
        let back = spool.collect(|_, _| true).unwrap();
        prop_assert_eq!(back.len(), log.len());
        let _ = rules;
    }
}

#[test]
fn events_later_than_the_watermark_are_counted_and_still_spooled() {
    let rules = RuleSet::builtin();
    let mut live = LiveRules::new(&rules, true).unwrap();
    let events = counted(numbered(failures([0, 10, 20, 30, 40], ATTACKER)));
    let early = batches(&events[3..], &[]);
    let late = batches(&events[..3], &[]);
    for (batch, latest) in early.into_iter().chain(late) {
        live.add(vec![batch], latest).unwrap();
    }
    let out = live.finish(&Context::default()).unwrap();
    assert_eq!(out.late, 3);
    // The brute force needs 5 failures; the windowed rules read 2.
    assert!(out.hits.iter().all(|h| h.rule_id != "LLX-SSH-001"));
    assert_eq!(out.spool.unwrap().collect(|_, _| true).unwrap().len(), 5);
}
