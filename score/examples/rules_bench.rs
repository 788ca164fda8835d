//! Times rule evaluation with every built-in rule on synthetic compact events.
//!
//! `cargo run --release -p loglynx-score --example rules_bench -- [EVENTS]`
//! (default 10,000,000). The log spans 30 days: internal logins and sudo,
//! Internet scanner noise, and injected brute force, spraying, enumeration,
//! distributed brute force, compromises, root logins, sudo refusals and
//! backdoor accounts. About 1% of events are out of time order.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use loglynx_features::aggregate::enrich::IpScope;
use loglynx_features::event::{Action, AttemptLine, AuthMethod, Micros, Outcome};
use loglynx_features::output::compact::{CompactEvent, CompactLog, Sym};
use loglynx_score::rules::{evaluate, History, RuleSet};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
}

struct Gen {
    log: CompactLog,
    rng: Rng,
    users: Vec<Sym>,
    hosts: Vec<Sym>,
    internal: Vec<(Sym, IpScope)>,
    internet: Vec<(Sym, IpScope)>,
    guesses: Vec<Sym>,
    sshd: Sym,
    sudo: Sym,
    useradd: Sym,
    root: Sym,
    groups: [Sym; 2],
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut log = CompactLog::default();
        let mut s = |t: String| log.strings.intern(&t);
        let users = (0..2_000).map(|i| s(format!("user{i}"))).collect();
        let hosts = (0..200).map(|i| s(format!("host-{i:03}"))).collect();
        let mut guesses: Vec<Sym> = [
            "root", "admin", "test", "oracle", "ubuntu", "postgres", "git", "pi", "ftp", "guest",
        ]
        .iter()
        .map(|g| s(g.to_string()))
        .collect();
        guesses.extend((0..5_000).map(|i| s(format!("guess{i}"))));
        let (sshd, sudo, useradd, root) = (
            s("sshd".into()),
            s("sudo".into()),
            s("useradd".into()),
            s("root".into()),
        );
        let groups = [s("docker".into()), s("sudo".into())];
        let mut ip = |a: IpAddr| (log.strings.intern(&a.to_string()), IpScope::of(a));
        let internal = (0..4_000u32)
            .map(|i| ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))))
            .collect();
        // Public addresses spread over 45.0.0.0/8 .. 109.0.0.0/8.
        let internet = (0..200_000u32)
            .map(|i| {
                ip(IpAddr::V4(Ipv4Addr::from(
                    0x2d00_0000 + i.wrapping_mul(2_654_435_761) % 0x4000_0000,
                )))
            })
            .collect();
        Gen {
            log,
            rng: Rng(seed),
            users,
            hosts,
            internal,
            internet,
            guesses,
            sshd,
            sudo,
            useradd,
            root,
            groups,
        }
    }

    fn pick<T: Copy>(rng: &mut Rng, v: &[T]) -> T {
        v[rng.below(v.len() as u64) as usize]
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        t: Micros,
        action: Action,
        outcome: Outcome,
        user: Sym,
        host: Sym,
        source: Option<(Sym, IpScope)>,
        program: Sym,
    ) -> &mut CompactEvent {
        let line = self.log.events.len() as u64 + 1;
        self.log.events.push(CompactEvent {
            timestamp: t,
            line,
            file: 0,
            user,
            host,
            source: source.map_or(Sym::NONE, |s| s.0),
            target_user: Sym::NONE,
            program,
            command: Sym::NONE,
            repeat: 1,
            // Each authentication line is its own attempt here.
            attempt_line: if action == Action::Authentication {
                AttemptLine::Daemon
            } else {
                AttemptLine::None
            },
            attempts: u32::from(action == Action::Authentication),
            action,
            outcome,
            auth_method: Some(AuthMethod::Password),
            source_scope: source.map(|s| s.1),
            user_invalid: false,
            denied: false,
        });
        self.log.events.last_mut().expect("pushed")
    }

    /// About `n` events over 30 days starting at `start`.
    fn fill(&mut self, n: usize, start: Micros) {
        let span: Micros = 30 * 86_400 * 1_000_000;
        let step = span / n as Micros;
        let mut t = start;
        while self.log.events.len() < n {
            t += step / 2 + self.rng.below(step as u64) as Micros;
            // 1% of events are logged late (out of order by up to 10 minutes).
            let ts = if self.rng.chance(0.01) {
                t - self.rng.below(600_000_000) as Micros
            } else {
                t
            };
            let r = self.rng.below(1_000);
            let rng = &mut self.rng;
            // Each user mostly logs in from two workstations to three hosts.
            let u = rng.below(self.users.len() as u64) as usize;
            let user = self.users[u];
            let host = match rng.chance(0.99) {
                true => self.hosts[(u + rng.below(3) as usize) % self.hosts.len()],
                false => Self::pick(rng, &self.hosts),
            };
            let inside = match rng.chance(0.995) {
                true => Some(self.internal[(2 * u + rng.below(2) as usize) % self.internal.len()]),
                false => Some(Self::pick(rng, &self.internal)),
            };
            let outside = Some(Self::pick(rng, &self.internet));
            let guess = Self::pick(rng, &self.guesses);
            let (sshd, sudo) = (self.sshd, self.sudo);
            match r {
                0..=449 => {
                    self.push(ts, Action::Authentication, Outcome::Success, user, host, inside, sshd);
                }
                450..=649 => {
                    let a = if r < 550 {
                        Action::SessionOpened
                    } else {
                        Action::SessionClosed
                    };
                    self.push(ts, a, Outcome::Success, user, host, None, sshd);
                }
                650..=699 => {
                    self.push(ts, Action::Sudo, Outcome::Success, user, host, None, sudo)
                        .target_user = self.root;
                }
                700..=719 => {
                    self.push(ts, Action::Authentication, Outcome::Failure, user, host, inside, sshd);
                }
                720..=979 => {
                    // Internet noise: one guess, half of them for names that do not exist.
                    if self.rng.chance(0.5) {
                        self.push(ts, Action::InvalidUser, Outcome::Failure, guess, host, outside, sshd)
                            .user_invalid = true;
                        self.push(ts, Action::Authentication, Outcome::Failure, guess, host, outside, sshd)
                            .user_invalid = true;
                    } else {
                        self.push(ts, Action::Authentication, Outcome::Failure, guess, host, outside, sshd);
                    }
                }
                980..=989 => {
                    self.push(
                        ts,
                        Action::NoIdentification,
                        Outcome::Unknown,
                        Sym::NONE,
                        host,
                        outside,
                        sshd,
                    );
                }
                990..=995 => self.attack(ts, host),
                _ => {
                    self.push(ts, Action::Disconnect, Outcome::Unknown, Sym::NONE, host, outside, sshd);
                }
            }
        }
    }

    /// One injected attack starting at `t`.
    fn attack(&mut self, t: Micros, host: Sym) {
        let s = 1_000_000;
        let rng = &mut self.rng;
        let src = Some(Self::pick(rng, &self.internet));
        let user = Self::pick(rng, &self.users);
        let sshd = self.sshd;
        match self.rng.below(8) {
            0 => {
                // Brute force: 5-60 guesses a few seconds apart.
                let n = 5 + self.rng.below(56) as i64;
                for k in 0..n {
                    let g = Self::pick(&mut self.rng, &self.guesses[..10]);
                    self.push(
                        t + k * 3 * s,
                        Action::Authentication,
                        Outcome::Failure,
                        g,
                        host,
                        src,
                        sshd,
                    );
                }
            }
            1 => {
                // Spraying 12 users across hosts.
                for k in 0..12 {
                    let (u, h) = (self.users[k * 7], Self::pick(&mut self.rng, &self.hosts));
                    self.push(
                        t + k as i64 * 5 * s,
                        Action::Authentication,
                        Outcome::Failure,
                        u,
                        h,
                        src,
                        sshd,
                    );
                }
            }
            2 => {
                // Enumeration: 15 names that do not exist.
                for k in 0..15 {
                    let g = Self::pick(&mut self.rng, &self.guesses[10..]);
                    let tk = t + k * 2 * s;
                    self.push(tk, Action::InvalidUser, Outcome::Failure, g, host, src, sshd)
                        .user_invalid = true;
                }
            }
            3 => {
                // Distributed: one account from 12 sources.
                for k in 0..12 {
                    let src = Some(Self::pick(&mut self.rng, &self.internet));
                    self.push(
                        t + k * 60 * s,
                        Action::Authentication,
                        Outcome::Failure,
                        user,
                        host,
                        src,
                        sshd,
                    );
                }
            }
            4 => {
                // Compromise: failures then success.
                for k in 0..4 {
                    self.push(
                        t + k * 5 * s,
                        Action::Authentication,
                        Outcome::Failure,
                        user,
                        host,
                        src,
                        sshd,
                    );
                }
                self.push(
                    t + 30 * s,
                    Action::Authentication,
                    Outcome::Success,
                    user,
                    host,
                    src,
                    sshd,
                );
            }
            5 => {
                let root = self.root;
                self.push(t, Action::Authentication, Outcome::Success, root, host, src, sshd);
            }
            6 => {
                let sudo = self.sudo;
                let e = self.push(t, Action::Sudo, Outcome::Failure, user, host, None, sudo);
                e.denied = true;
            }
            _ => {
                let (useradd, group) = (self.useradd, Self::pick(&mut self.rng, &self.groups));
                let name = Self::pick(&mut self.rng, &self.guesses[10..]);
                self.push(t, Action::UserCreated, Outcome::Success, name, host, None, useradd);
                self.push(
                    t + 60 * s,
                    Action::UserModified,
                    Outcome::Success,
                    name,
                    host,
                    None,
                    useradd,
                )
                .target_user = group;
            }
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("EVENTS must be a number"))
        .unwrap_or(10_000_000);
    let rules = RuleSet::builtin();
    let day0: Micros = 1_709_251_200 * 1_000_000; // 2024-03-01

    let t = Instant::now();
    let mut baseline = Gen::new(1);
    baseline.fill(n / 5, day0 - 30 * 86_400 * 1_000_000);
    let mut current = Gen::new(2);
    current.fill(n, day0);
    println!(
        "generated {} baseline + {} events in {:.2?} ({} threads)",
        baseline.log.len(),
        current.log.len(),
        t.elapsed(),
        rayon::current_num_threads()
    );

    let t = Instant::now();
    let history = History::from_log(&baseline.log, &rules);
    let terms: usize = history.terms.values().map(|s| s.len()).sum();
    println!("History::from_log: {:.2?} ({terms} terms)", t.elapsed());
    drop(baseline);

    let mut best = f64::MAX;
    let mut result = None;
    for run in 1..=3 {
        let t = Instant::now();
        let r = evaluate(&rules, &current.log, Some(&history));
        let secs = t.elapsed().as_secs_f64();
        println!("evaluate, all {} rules, run {run}: {secs:.3} s", rules.len());
        best = best.min(secs);
        result = Some(r);
    }
    let (hits, notes) = result.expect("ran");
    println!(
        "best: {best:.3} s = {:.1} M events/s; {} hits, notes {notes:?}",
        current.log.len() as f64 / best / 1e6,
        hits.len()
    );

    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &hits {
        *per_rule.entry(&h.rule_id).or_default() += 1;
    }
    for rule in &rules.rules {
        let one = RuleSet {
            rules: vec![rule.clone()],
        };
        let t = Instant::now();
        let _ = evaluate(&one, &current.log, Some(&history));
        println!(
            "  {:<13} {:<9} {:>8} hits  {:>7.3} s alone",
            rule.id,
            rule.kind.as_str(),
            per_rule.get(rule.id.as_str()).copied().unwrap_or(0),
            t.elapsed().as_secs_f64()
        );
    }
}
