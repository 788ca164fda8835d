//! `chain` and `concurrent` rules, the asset list and `LLX-NEW-003`.

use std::net::IpAddr;

use super::*;

const WEB_IP: &str = "10.0.1.5";
const OTHER_IP: &str = "10.0.1.9";

fn assets() -> Assets {
    let mut a = Assets::default();
    a.insert("web-1", WEB_IP.parse::<IpAddr>().unwrap());
    a.insert("app-1", OTHER_IP.parse::<IpAddr>().unwrap());
    a
}

fn run_with(rule: &Rule, log: &CompactLog, ctx: &Context) -> Vec<RuleHit> {
    let set = RuleSet {
        rules: vec![rule.clone()],
    };
    let (hits, notes) = evaluate_with(&set, log, ctx);
    assert!(notes.is_empty(), "{notes:?}");
    hits
}

fn lateral(events: Vec<E>, assets: Option<&Assets>) -> Vec<RuleHit> {
    let ctx = Context { history: None, assets };
    run_with(&builtin("LLX-LAT-001"), &log(events), &ctx)
}

fn su(secs: i64, user: &str, host: &str) -> E {
    at(secs, Action::Su, Outcome::Success)
        .user(user)
        .target("root")
        .host(host)
}

fn sudo_as(secs: i64, user: &str, target: &str, host: &str) -> E {
    at(secs, Action::Sudo, Outcome::Success)
        .user(user)
        .target(target)
        .host(host)
}

/// A session of alice on web-1, su to root, root onto db-1 and db-2 from
/// web-1's address.
fn story() -> Vec<E> {
    vec![
        ok(0, "alice", PUBLIC).host("web-1"),
        su(600, "alice", "web-1"),
        ok(900, "root", WEB_IP).host("db-1"),
        ok(1320, "root", WEB_IP).host("db-2"),
    ]
}

#[test]
fn chain_session_escalation_onward_logins() {
    let a = assets();
    let hits = lateral(story(), Some(&a));
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(h.severity, Severity::High);
    assert_eq!(h.group, vec![("host".into(), "web-1".into())]);
    assert_eq!(h.hosts, vec!["db-1", "db-2", "web-1"]);
    assert_eq!(h.users, vec!["alice", "root"]);
    assert_eq!(h.sources, vec![WEB_IP, PUBLIC]);
    assert_eq!(input_positions(h), vec![0, 1, 2, 3]);
    assert_eq!((h.first, h.last), (us(0), us(1320)));
    assert_eq!(
        h.summary,
        "alice on web-1: su to root, then root logged in from web-1 (10.0.1.5) to db-1, db-2 within 12 minutes"
    );
}

#[test]
fn onward_logins_as_the_escalating_user_are_everyday_work_not_a_chain() {
    // An admin on the bastion runs sudo, then hops on as themselves.
    let a = assets();
    let hop = vec![
        ok(0, "alice", PUBLIC).host("web-1"),
        sudo_as(600, "alice", "root", "web-1"),
        ok(900, "alice", WEB_IP).host("db-1"),
        ok(1320, "alice", WEB_IP).host("db-2"),
    ];
    assert!(lateral(hop.clone(), Some(&a)).is_empty());
    // The same hop with one onward login as root is a chain.
    let mut root = hop;
    root.push(ok(1500, "root", WEB_IP).host("db-2"));
    let hits = lateral(root, Some(&a));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].hosts, vec!["db-2", "web-1"]);
}

#[test]
fn chain_without_assets_or_a_host_named_source_finds_nothing() {
    assert!(lateral(story(), None).is_empty());
    // An asset list that does not know web-1 neither.
    let mut other = Assets::default();
    other.insert("db-1", "10.0.2.7".parse::<IpAddr>().unwrap());
    assert!(lateral(story(), Some(&other)).is_empty());
}

#[test]
fn chain_near_misses() {
    let a = Some(assets());
    let a = a.as_ref();
    // Escalation without onward logins.
    assert!(lateral(story()[..2].to_vec(), a).is_empty());
    // Onward logins from an address that is not web-1's.
    let mut v = story();
    v[2] = ok(900, "root", OTHER_IP).host("db-1");
    v[3] = ok(1320, "root", "10.0.1.6").host("db-2");
    assert!(lateral(v, a).is_empty());
    // Outside the window (1h after the escalation), or before it.
    let mut v = story();
    v[2] = ok(600 + 3601, "root", WEB_IP).host("db-1");
    v[3] = ok(500, "root", WEB_IP).host("db-2");
    assert!(lateral(v.clone(), a).is_empty());
    // The window's edge is inclusive.
    v[2] = ok(600 + 3600, "root", WEB_IP).host("db-1");
    assert_eq!(lateral(v, a).len(), 1);
    // A login on web-1 itself from its own address is not onward.
    let mut v = story();
    v.truncate(2);
    v.push(ok(900, "root", WEB_IP).host("web-1"));
    assert!(lateral(v, a).is_empty());
    // A failed onward login, and sudo as another user, do not count.
    let v = vec![
        ok(0, "alice", PUBLIC).host("web-1"),
        sudo_as(600, "alice", "backup", "web-1"),
        ok(900, "backup", WEB_IP).host("db-1"),
        su(2000, "alice", "web-1"),
        fail(2100, "root", WEB_IP).host("db-1"),
    ];
    assert!(lateral(v, a).is_empty());
}

#[test]
fn chain_without_a_session_says_so() {
    let a = assets();
    let v = story()[1..].to_vec();
    let hits = lateral(v, Some(&a));
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0]
            .summary
            .ends_with("; no session of alice on web-1 seen before the escalation"),
        "{}",
        hits[0].summary
    );
    assert_eq!(hits[0].sources, vec![WEB_IP]);
    // A session older than `session_window` (12h) is not this one.
    let mut v = story();
    v[0] = ok(600 - 12 * 3600 - 1, "alice", PUBLIC).host("web-1");
    let hits = lateral(v, Some(&a));
    assert!(hits[0].summary.contains("no session"), "{}", hits[0].summary);
    assert_eq!(input_positions(&hits[0]), vec![1, 2, 3]);
    // Another user's session on the host is not alice's.
    let mut v = story();
    v[0] = ok(0, "bob", PUBLIC).host("web-1");
    assert!(lateral(v, Some(&a))[0].summary.contains("no session"));
}

#[test]
fn chain_links_sources_written_as_the_host_name() {
    let v = |src: &str, host: &str| vec![su(600, "alice", host), ok(900, "root", src).host("db-1")];
    let hits = lateral(v("web-1", "web-1"), None);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].summary,
        "alice on web-1: su to root, then root logged in from web-1 to db-1 within 5 minutes; \
         no session of alice on web-1 seen before the escalation"
    );
    // The first DNS label of the host stands for it, and case does not matter.
    assert_eq!(lateral(v("WEB-1", "web-1.corp.example"), None).len(), 1);
    // A name that only starts like the host's does not.
    assert!(lateral(v("web-1.evil.example", "web-1"), None).is_empty());
    assert!(lateral(v("web-10", "web-1"), None).is_empty());
}

#[test]
fn user_names_and_commands_never_link_hosts() {
    // A user named like web-1 or its address, logging in from elsewhere.
    let v = vec![
        su(600, "alice", "web-1"),
        ok(900, "web-1", OTHER_IP).host("db-1"),
        ok(910, WEB_IP, OTHER_IP).host("db-2"),
        su(1000, WEB_IP, "app-2"),
        ok(1100, "root", "app-3").host("db-1"),
    ];
    assert!(lateral(v.clone(), None).is_empty());
    let a = assets();
    assert!(lateral(v, Some(&a)).is_empty());
}

#[test]
fn chain_min_targets_and_merged_escalations() {
    let rule = builtin("LLX-LAT-001");
    let text = builtin::FILES
        .iter()
        .find(|(n, _)| *n == "lateral_movement_after_escalation.toml")
        .unwrap()
        .1
        .replace("min_targets = 1", "min_targets = 2");
    let two = parse(&text);
    let a = assets();
    let ctx = Context {
        history: None,
        assets: Some(&a),
    };
    let one_target = log(story()[..3].to_vec());
    assert_eq!(run_with(&rule, &one_target, &ctx).len(), 1);
    assert!(run_with(&two, &one_target, &ctx).is_empty());
    assert_eq!(run_with(&two, &log(story()), &ctx).len(), 1);
    // Repeated sudo commands within the window are one chain.
    let mut v = story();
    v.push(sudo_as(700, "alice", "root", "web-1"));
    v.push(sudo_as(800, "alice", "root", "web-1"));
    let hits = run_with(&rule, &log(v), &ctx);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0].summary.contains("su to root (3 escalations)"),
        "{}",
        hits[0].summary
    );
    // Each onward login once, though three escalations reach it.
    assert_eq!((hits[0].count, input_positions(&hits[0]).len()), (6, 6));
}

#[test]
fn chain_events_are_kept_for_the_rules() {
    let rules = RuleSet::builtin();
    let mut events = story();
    for k in 0..30 {
        events.push(at(k * 7, Action::SessionClosed, Outcome::Unknown).user("alice"));
        events.push(at(k * 11, Action::Disconnect, Outcome::Unknown).src(PUBLIC2));
    }
    let a = assets();
    let ctx = Context {
        history: None,
        assets: Some(&a),
    };
    let all = log(events.clone());
    let kept = log_keeping(events, rules.events_read());
    assert!(kept.len() < all.len());
    let lat = |log: &CompactLog| {
        let hits = evaluate_with(&rules, log, &ctx).0;
        hits.into_iter()
            .filter(|h| h.rule_id == "LLX-LAT-001")
            .collect::<Vec<_>>()
    };
    let expected = lat(&all);
    assert_eq!(expected.len(), 1);
    assert_eq!(lat(&kept), expected);
}

// ------------------------------------------------------------ concurrent

fn concurrent(events: Vec<E>, history: Option<&History>) -> Vec<RuleHit> {
    let ctx = Context { history, assets: None };
    run_with(&builtin("LLX-AUTH-006"), &log(events), &ctx)
}

#[test]
fn concurrent_logins_from_the_office_and_a_new_public_address() {
    let hits = concurrent(vec![ok(0, "alice", PRIVATE), ok(300, "alice", ATTACKER)], None);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(h.group, vec![("user".into(), "alice".into())]);
    assert_eq!(h.severity, Severity::High);
    assert_eq!(input_positions(h), vec![0, 1]);
    assert_eq!(
        h.summary,
        format!(
            "successful logins from {PRIVATE} and {ATTACKER} (public, new for the user) 5 minutes apart, on web-01"
        )
    );
    // The other order too.
    assert_eq!(
        concurrent(vec![ok(0, "alice", ATTACKER), ok(300, "alice", PRIVATE)], None).len(),
        1
    );
}

#[test]
fn concurrent_near_misses() {
    // Same /24.
    assert!(concurrent(vec![ok(0, "alice", "81.2.69.10"), ok(60, "alice", "81.2.69.200")], None).is_empty());
    // Same IPv6 /48; another /48 is another network.
    assert!(concurrent(
        vec![ok(0, "alice", "2a01:4f8:1:2::5"), ok(60, "alice", "2a01:4f8:1:9::7")],
        None
    )
    .is_empty());
    assert_eq!(
        concurrent(
            vec![ok(0, "alice", "2a01:4f8:1:2::5"), ok(60, "alice", "2a01:4f8:2:2::5")],
            None
        )
        .len(),
        1
    );
    // Outside the window (10m); its edge is inclusive.
    assert!(concurrent(vec![ok(0, "alice", PRIVATE), ok(601, "alice", ATTACKER)], None).is_empty());
    assert_eq!(
        concurrent(vec![ok(0, "alice", PRIVATE), ok(600, "alice", ATTACKER)], None).len(),
        1
    );
    // No public address among the two.
    assert!(concurrent(vec![ok(0, "alice", PRIVATE), ok(60, "alice", "192.168.7.7")], None).is_empty());
    // Two users, one login each.
    assert!(concurrent(vec![ok(0, "alice", PRIVATE), ok(60, "bob", ATTACKER)], None).is_empty());
    // A failure is not a login.
    assert!(concurrent(vec![ok(0, "alice", PRIVATE), fail(60, "alice", ATTACKER)], None).is_empty());
    // A source without an address (a host name) takes no part.
    assert!(concurrent(vec![ok(0, "alice", "laptop-7"), ok(60, "alice", ATTACKER)], None).is_empty());
}

#[test]
fn a_public_address_seen_before_for_the_user_is_not_new() {
    // Without a history: seen earlier in the log.
    let v = vec![
        ok(0, "alice", PUBLIC),
        ok(5 * 3600, "alice", PRIVATE),
        ok(5 * 3600 + 120, "alice", PUBLIC),
    ];
    assert!(concurrent(v, None).is_empty());
    // Seen for another user does not make it known for alice.
    let v = vec![
        ok(0, "bob", PUBLIC),
        ok(5 * 3600, "alice", PRIVATE),
        ok(5 * 3600 + 120, "alice", PUBLIC),
    ];
    assert_eq!(concurrent(v, None).len(), 1);
}

#[test]
fn concurrent_with_and_without_a_history() {
    let rules = RuleSet::builtin();
    let baseline = log(vec![ok(0, "alice", PUBLIC), ok(100, "alice", PRIVATE)]);
    let history = History::from_log(&baseline, &rules);
    let v = || vec![ok(86_400, "alice", PRIVATE), ok(86_400 + 120, "alice", PUBLIC)];
    // First seen in this log: new without a history, known with one.
    assert_eq!(concurrent(v(), None).len(), 1);
    assert!(concurrent(v(), Some(&history)).is_empty());
    // With a history, an address the log shows earlier is still new.
    let v = vec![
        ok(0, "alice", ATTACKER),
        ok(5 * 3600, "alice", PRIVATE),
        ok(5 * 3600 + 120, "alice", ATTACKER),
    ];
    assert!(concurrent(v.clone(), None).is_empty());
    let hits = concurrent(v, Some(&history));
    assert_eq!(hits.len(), 1);
    assert_eq!(input_positions(&hits[0]), vec![1, 2]);
    // The history learns the concurrent rule's terms even without LLX-NEW-001.
    let only = RuleSet {
        rules: vec![builtin("LLX-AUTH-006")],
    };
    let h = History::from_log(&baseline, &only);
    assert!(h.contains(&[TermField::User, TermField::Source], &["alice", PUBLIC]));
    assert!(only.history_events().keeps(&ok(0, "alice", PUBLIC).0));
}

#[test]
fn concurrent_bursts_merge_within_the_window() {
    let v = vec![
        ok(0, "alice", PRIVATE),
        ok(120, "alice", ATTACKER),
        ok(300, "alice", PRIVATE),
        // Not new any more, but the partner of the next, new, address.
        ok(400, "alice", ATTACKER),
        ok(500, "alice", "81.2.69.142"),
        // Three hours later, another new address: another hit.
        ok(3 * 3600, "alice", PRIVATE),
        ok(3 * 3600 + 60, "alice", PUBLIC2),
    ];
    let hits = concurrent(v, None);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(input_positions(&hits[0]), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        hits[0].summary,
        format!(
            "successful logins from {PRIVATE} and {ATTACKER} (public, new for the user) 2 minutes apart; \
             5 logins from 3 networks in 8 minutes, on web-01"
        )
    );
    assert_eq!(input_positions(&hits[1]), vec![5, 6]);
}

// ------------------------------------------------------------ LLX-NEW-003

#[test]
fn login_by_an_account_never_seen() {
    let rules = RuleSet::builtin();
    let history = History::from_log(&log(vec![ok(0, "alice", PRIVATE), fail(10, "svc", PRIVATE)]), &rules);
    assert!(history.contains(&[TermField::User], &["alice"]));
    assert!(!history.contains(&[TermField::User], &["svc"]));
    let new = log(vec![
        ok(86_400, "alice", PRIVATE),
        ok(86_500, "svc", PRIVATE).host("db-01"),
        ok(86_600, "svc", PRIVATE).host("db-02"),
        fail(86_700, "ghost", PRIVATE),
    ]);
    let (hits, _) = evaluate(&rules, &new, Some(&history));
    let new3: Vec<&RuleHit> = hits.iter().filter(|h| h.rule_id == "LLX-NEW-003").collect();
    assert_eq!(new3.len(), 1, "{hits:?}");
    assert_eq!(new3[0].group, vec![("user".into(), "svc".into())]);
    assert_eq!((new3[0].count, new3[0].severity), (2, Severity::Medium));
}

// ------------------------------------------------------------ rule files

const CHAIN: &str = r#"
id = "T-C"
name = "chain"
level = "high"
kind = "chain"
window = "1h"
[session]
action = ["authentication"]
[escalation]
action = ["su"]
[onward]
action = ["authentication"]
"#;

const CONCURRENT: &str = r#"
id = "T-K"
name = "concurrent"
level = "high"
kind = "concurrent"
group_by = ["user"]
"#;

#[test]
fn new_kinds_are_strict_and_have_defaults() {
    let c = parse(CHAIN);
    let Logic::Chain(chain) = &c.kind else { panic!() };
    assert_eq!(chain.session_window, Window::parse("12h").unwrap());
    assert_eq!(chain.min_targets, 1);
    assert_eq!(c.kind.group_by(), &[Field::Host, Field::User]);
    let k = parse(CONCURRENT);
    let Logic::Concurrent(conc) = &k.kind else { panic!() };
    assert_eq!(
        (conc.window, conc.network_prefix_v4, conc.network_prefix_v6),
        (Window::parse("10m").unwrap(), 24, 48)
    );
    let cases = [
        (
            CHAIN.replace("window = \"1h\"", "window = \"1h\"\nthreshold = 2"),
            "rules.d/bad.toml:7: `threshold`: not used by kind `chain`",
        ),
        (
            CHAIN.replace("window = \"1h\"", "window = \"1h\"\nmax_targets = 2"),
            "rules.d/bad.toml:7: `max_targets`: unknown key; besides the common keys, kind `chain` takes",
        ),
        (
            CHAIN.replace("window = \"1h\"", "window = \"1h\"\ngroup_by = [\"user\"]"),
            "rules.d/bad.toml:7: `group_by`: not used by kind `chain`",
        ),
        (
            CHAIN.replace("[onward]\naction", "[onward]\nactions"),
            "rules.d/bad.toml:12: `onward.actions`: unknown field `actions`",
        ),
        (
            CHAIN.replace("window = \"1h\"", "window = \"1h\"\nmin_targets = 0"),
            "rules.d/bad.toml: `min_targets`: must be at least 1",
        ),
        (
            CHAIN.replace("[escalation]\naction = [\"su\"]", "[escalation]\naction = []"),
            "rules.d/bad.toml: `escalation`: `action` is an empty list",
        ),
        (
            CONCURRENT.replace("group_by", "network_prefix_v4 = 24\nfirst = 3\ngroup_by"),
            "rules.d/bad.toml:7: `first`: not used by kind `concurrent`",
        ),
        (
            CONCURRENT.replace("group_by", "prefix = 24\ngroup_by"),
            "rules.d/bad.toml:6: `prefix`: unknown key; besides the common keys, kind `concurrent` takes",
        ),
        (
            CONCURRENT.replace("group_by = [\"user\"]", "group_by = [\"source\"]"),
            "rules.d/bad.toml: `group_by`: must include `user`",
        ),
        (
            format!("{CONCURRENT}network_prefix_v4 = 33\n"),
            "rules.d/bad.toml: `network_prefix_v4`: must be between 1 and 32",
        ),
        (
            format!("{CONCURRENT}network_prefix_v6 = 0\n"),
            "rules.d/bad.toml: `network_prefix_v6`: must be between 1 and 128",
        ),
    ];
    for (text, start) in cases {
        let err = error_of(&text);
        assert!(err.starts_with(start), "`{start}` does not start: {err}");
    }
    let err = error_of(&CHAIN.replace("[onward]\naction = [\"authentication\"]\n", ""));
    assert!(err.contains("missing field `onward`"), "{err}");
}
