//! Attack campaigns and benign noisy patterns, planned up front (they are
//! small) with exact labels.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::event::{Ev, Kind};
use crate::labels::{CampaignKind, CampaignLabel};
use crate::names::{Names, Sym, BACKDOOR_NAMES, NONE};
use crate::net::{any_port, client_port, pid, public_ip};
use crate::org::{Org, Role, Team};
use crate::timefmt::{DAY, HOUR, MINUTE};

pub(crate) mod lookalikes;
mod stealthy;

/// Everything planned before streaming.
#[derive(Clone)]
pub(crate) struct Plan {
    /// Campaign and benign events, sorted by time.
    pub events: Vec<Ev>,
    pub labels: Vec<CampaignLabel>,
    /// Public addresses owned by campaigns (scanners must not reuse them).
    pub reserved_ips: HashSet<IpAddr>,
    /// `(user index, local day number)` on which the background simulation
    /// gives the user no sessions (they are planned elsewhere).
    pub absent: HashSet<(usize, i64)>,
}

impl Plan {
    /// Adds the campaigns of `other` (planned after this plan, from its
    /// reserved addresses on).
    pub(crate) fn merge(&mut self, other: Plan) {
        self.events.extend(other.events);
        self.events.sort_by_key(|e| e.ts);
        self.labels.extend(other.labels);
        self.labels.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        self.reserved_ips.extend(other.reserved_ips);
        self.absent.extend(other.absent);
    }
}

struct Draft {
    kind: CampaignKind,
    events: Vec<Ev>,
    ips: Vec<IpAddr>,
    users: Vec<Sym>,
    hosts: Vec<u32>,
}

impl Draft {
    fn new(kind: CampaignKind) -> Draft {
        Draft {
            kind,
            events: Vec::new(),
            ips: Vec::new(),
            users: Vec::new(),
            hosts: Vec::new(),
        }
    }

    fn push(&mut self, ev: Ev) {
        self.events.push(ev);
    }

    fn extend(&mut self, evs: impl IntoIterator<Item = Ev>) {
        self.events.extend(evs);
    }
}

pub(crate) struct Planner<'a> {
    pub org: &'a Org,
    pub names: &'a mut Names,
    pub rng: ChaCha8Rng,
    /// Period `[start, end)`, Unix seconds.
    pub start: i64,
    pub end: i64,
    /// Org time zone offset, seconds east of UTC.
    pub offset: i64,
    pub target_events: u64,
    drafts: Vec<Draft>,
    reserved: HashSet<IpAddr>,
    invalid_names: Vec<Sym>,
    /// Label numbers already used (`c`, `b`) by an earlier plan.
    numbered: (usize, usize),
    absent: HashSet<(usize, i64)>,
    /// Spans later campaigns keep clear of when they can.
    avoid: Vec<(i64, i64)>,
    /// Source addresses of an earlier plan's labels.
    base_sources: HashSet<IpAddr>,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        org: &'a Org,
        names: &'a mut Names,
        rng: ChaCha8Rng,
        start: i64,
        end: i64,
        offset: i64,
        target_events: u64,
    ) -> Self {
        let invalid_names = crate::sim::scanner_names(org, names);
        Planner {
            org,
            names,
            rng,
            start,
            end,
            offset,
            target_events,
            drafts: Vec::new(),
            reserved: HashSet::new(),
            invalid_names,
            numbered: (0, 0),
            absent: HashSet::new(),
            avoid: Vec::new(),
            base_sources: HashSet::new(),
        }
    }

    pub(crate) fn plan(mut self, attacks: bool) -> Plan {
        self.benign();
        if attacks {
            self.attacks();
        }
        self.finish()
    }

    fn days(&self) -> i64 {
        (self.end - self.start) / DAY
    }

    /// Unix time of local `minute` (after local midnight) on period day `d`.
    fn local(&self, d: i64, minute: i64) -> i64 {
        self.start + d * DAY + minute * MINUTE - self.offset
    }

    /// Whether a daily occurrence starting at `t` fits inside the period.
    fn fits(&self, t: i64) -> bool {
        t >= self.start && t < self.end - HOUR
    }

    fn fresh_ip(&mut self, v6: f64) -> IpAddr {
        loop {
            let ip = public_ip(&mut self.rng, v6);
            if self.reserved.insert(ip) {
                return ip;
            }
        }
    }

    fn name(&self, sym: Sym) -> &str {
        self.names.get(sym)
    }

    fn finish(self) -> Plan {
        let names = &*self.names;
        let org = self.org;
        let mut drafts: Vec<Draft> = self.drafts.into_iter().filter(|d| !d.events.is_empty()).collect();
        drafts.sort_by_key(|d| (!d.kind.is_malicious(), d.events.iter().map(|e| e.ts).min()));
        let mut labels = Vec::new();
        let mut events = Vec::new();
        let (mut attack_no, mut benign_no) = self.numbered;
        for mut d in drafts {
            d.events.sort_by_key(|e| e.ts);
            let id = if d.kind.is_malicious() {
                attack_no += 1;
                format!("c{attack_no:04}")
            } else {
                benign_no += 1;
                format!("b{benign_no:04}")
            };
            let mut seen_ip = HashSet::new();
            let source_ips = d
                .ips
                .iter()
                .filter(|ip| seen_ip.insert(**ip))
                .map(|ip| ip.to_string())
                .collect();
            let mut seen_user = HashSet::new();
            let users = d
                .users
                .iter()
                .filter(|u| seen_user.insert(**u))
                .map(|&u| names.get(u).to_string())
                .collect();
            let mut seen_host = HashSet::new();
            let hosts = d
                .hosts
                .iter()
                .filter(|h| seen_host.insert(**h))
                .map(|&h| org.hosts[h as usize].name.clone())
                .collect();
            let time = |ts: i64| DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
            labels.push(CampaignLabel {
                id,
                kind: d.kind,
                malicious: d.kind.is_malicious(),
                source_ips,
                users,
                hosts,
                start: time(d.events[0].ts),
                end: time(d.events[d.events.len() - 1].ts),
                events: d.events.len() as u64,
            });
            events.extend(d.events);
        }
        events.sort_by_key(|e| e.ts);
        labels.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        Plan {
            events,
            labels,
            reserved_ips: self.reserved,
            absent: self.absent,
        }
    }

    // ---- benign noisy patterns -------------------------------------------

    fn benign(&mut self) {
        let org = self.org;
        let days = self.days();
        let first_server = org.servers.first().copied().unwrap_or(0);
        let db = org.first_of(Role::Db).unwrap_or(first_server);
        let web = org.first_of(Role::Web).unwrap_or(first_server);
        let source = |role: Role, fallback: [u8; 4]| -> IpAddr {
            org.first_of(role)
                .map(|h| org.ip_of(h))
                .unwrap_or(fallback.into())
                .into()
        };

        // A backup script that retries its password three times at ~06:00.
        let backup = self.names.intern("backup");
        let src = source(Role::Backup, [10, 0, 7, 10]);
        let mut d = Draft::new(CampaignKind::BenignNoisyScript);
        d.ips.push(src);
        d.users.push(backup);
        d.hosts.push(db);
        for day in 0..days {
            let mut t = self.local(day, 6 * 60) + self.rng.gen_range(0..90);
            if !self.fits(t) {
                continue;
            }
            for _ in 0..3 {
                let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
                d.push(Ev::new(t, db, p, Kind::FailedPassword).user(backup).from(src, port));
                t += self.rng.gen_range(1..3);
                d.push(Ev::new(t, db, p, Kind::ConnClosedPreauth).from(src, port));
                t += self.rng.gen_range(4..15);
            }
            let len = self.rng.gen_range(120..900);
            self.session(&mut d, db, backup, src, t, len, true, NONE);
        }
        self.drafts.push(d);

        // A health check with a wrong password: six failures in two minutes.
        let check = self.names.intern("healthcheck");
        let src = source(Role::Mon, [10, 0, 6, 10]);
        let mut d = Draft::new(CampaignKind::BenignNoisyScript);
        d.ips.push(src);
        d.users.push(check);
        d.hosts.push(web);
        for day in 0..days {
            let mut t = self.local(day, 6 * 60 + 10) + self.rng.gen_range(0..60);
            if !self.fits(t) {
                continue;
            }
            for _ in 0..6 {
                let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
                d.push(Ev::new(t, web, p, Kind::FailedPassword).user(check).from(src, port));
                d.push(Ev::new(t + 1, web, p, Kind::ConnClosedPreauth).from(src, port));
                t += self.rng.gen_range(15..22);
            }
        }
        self.drafts.push(d);

        // A person whose tool has a stale saved password: two failures twice a
        // working day, from their usual address against their usual server.
        let people: Vec<usize> = (0..org.users.len())
            .filter(|&i| org.users[i].team != Team::Service && !org.users[i].admin)
            .collect();
        let who = match people.choose(&mut self.rng) {
            Some(&i) => i,
            None if !org.users.is_empty() => 0,
            None => return,
        };
        let u = &org.users[who];
        let Some(&host) = u.servers.first() else { return };
        let src = IpAddr::V4(u.src_ip);
        let mut d = Draft::new(CampaignKind::BenignNoisyScript);
        d.ips.push(src);
        d.users.push(u.name);
        d.hosts.push(host);
        for day in 0..days {
            if crate::timefmt::weekday(self.start / DAY + day) >= 5 {
                continue;
            }
            for minute in [u.start_min as i64 + 5, 13 * 60 + 30] {
                let mut t = self.local(day, minute) + self.rng.gen_range(0..1200);
                if !self.fits(t) {
                    continue;
                }
                let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
                for _ in 0..2 {
                    d.push(Ev::new(t, host, p, Kind::FailedPassword).user(u.name).from(src, port));
                    t += self.rng.gen_range(2..5);
                }
                d.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(src, port));
            }
        }
        self.drafts.push(d);
    }

    /// An interactive sshd session: accepted, opened, later closed.
    #[allow(clippy::too_many_arguments)]
    fn session(&mut self, d: &mut Draft, host: u32, user: Sym, src: IpAddr, t: i64, len: i64, password: bool, fp: Sym) {
        let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
        let kind = if password {
            Kind::AcceptedPassword
        } else {
            Kind::AcceptedPublickey
        };
        d.push(Ev::new(t, host, p, kind).user(user).from(src, port).other(fp));
        d.push(Ev::new(t, host, p, Kind::SshSessionOpened).user(user));
        let e = t + len;
        d.push(Ev::new(e, host, p, Kind::ReceivedDisconnect).from(src, port));
        d.push(Ev::new(e, host, p, Kind::DisconnectedUser).user(user).from(src, port));
        d.push(Ev::new(e, host, p, Kind::SshSessionClosed).user(user));
    }

    // ---- attacks ---------------------------------------------------------

    fn attacks(&mut self) {
        let mut kinds: Vec<CampaignKind> = CampaignKind::ATTACKS.to_vec();
        let extra = (self.days() / 3) as usize;
        for _ in 0..extra {
            kinds.push(
                *CampaignKind::ATTACKS
                    .choose(&mut self.rng)
                    .unwrap_or(&CampaignKind::BruteForceFast),
            );
        }
        kinds.shuffle(&mut self.rng);
        let n = kinds.len() as i64;
        let seg = (self.end - self.start) / n;
        // Extras only while attacks stay a small share of the output.
        let extra_budget = self.target_events / 10;
        let mut spent = 0u64;
        let mut done = HashSet::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            if done.contains(&kind) && spent > extra_budget {
                continue;
            }
            let seg_start = self.start + i as i64 * seg;
            let before = self.drafts.len();
            match kind {
                CampaignKind::BruteForceFast => self.brute_force_fast(seg_start, seg),
                CampaignKind::BruteForceSlow => self.brute_force_slow(seg_start, seg),
                CampaignKind::PasswordSpraying => self.spraying(seg_start, seg),
                CampaignKind::DistributedBruteForce => self.distributed(seg_start, seg),
                CampaignKind::UserEnumeration => self.enumeration(seg_start, seg),
                CampaignKind::AccountCompromise => self.compromise(seg_start, seg),
                _ => {}
            }
            spent += self.drafts[before..].iter().map(|d| d.events.len() as u64).sum::<u64>();
            done.insert(kind);
        }
    }

    /// A start time in the segment leaving `dur` seconds before the period end.
    fn place(&mut self, seg_start: i64, seg: i64, dur: i64) -> i64 {
        let latest = (self.end - dur - 60).max(self.start);
        let room = (seg - dur).max(1);
        (seg_start + self.rng.gen_range(0..room)).min(latest)
    }

    /// How much bigger than their minimum campaigns may be at this size.
    fn scale(&self) -> f64 {
        (self.target_events as f64 / 50_000.0).clamp(0.2, 1.0)
    }

    fn exposed_host(&mut self) -> u32 {
        *self.org.exposed.choose(&mut self.rng).unwrap_or(&0)
    }

    /// One failed login attempt in its own connection.
    #[allow(clippy::too_many_arguments)]
    fn failed_attempt(
        &mut self,
        d: &mut Draft,
        host: u32,
        user: Sym,
        invalid: bool,
        ip: IpAddr,
        t: i64,
        closed: bool,
    ) -> i64 {
        let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
        let mut t = t;
        if invalid {
            d.push(Ev::new(t, host, p, Kind::InvalidUser).user(user).from(ip, port));
            t += self.rng.gen_range(0..3);
            d.push(
                Ev::new(t, host, p, Kind::FailedPasswordInvalid)
                    .user(user)
                    .from(ip, port),
            );
        } else {
            d.push(Ev::new(t, host, p, Kind::FailedPassword).user(user).from(ip, port));
        }
        if closed {
            t += self.rng.gen_range(0..2);
            d.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(ip, port));
        }
        t
    }

    fn brute_force_fast(&mut self, seg_start: i64, seg: i64) {
        let mut d = Draft::new(CampaignKind::BruteForceFast);
        let ip = self.fresh_ip(0.1);
        let host = self.exposed_host();
        let n = 100 + (self.rng.gen_range(0..=500) as f64 * self.scale()) as usize;
        let rate = self.rng.gen_range(1.0..3.0); // attempts per second
        let dur = (n as f64 / rate) as i64 + 60;
        let mut t = self.place(seg_start, seg, dur);
        let root = self.org.root;
        let others: Vec<Sym> = ["admin", "ubuntu", "test", "oracle", "user", "pi"]
            .iter()
            .map(|s| self.names.intern(s))
            .collect();
        d.ips.push(ip);
        d.hosts.push(host);
        let mut left = n;
        let mut clock = t as f64;
        while left > 0 {
            let (user, invalid) = if self.rng.gen_bool(0.7) {
                (root, false)
            } else {
                (*others.choose(&mut self.rng).unwrap_or(&root), true)
            };
            d.users.push(user);
            let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
            let tries = left.min(6);
            if invalid {
                d.push(Ev::new(t, host, p, Kind::InvalidUser).user(user).from(ip, port));
            }
            for _ in 0..tries {
                clock += self.rng.gen_range(0.3..2.0) / rate * 1.2;
                t = clock as i64;
                let kind = if invalid {
                    Kind::FailedPasswordInvalid
                } else {
                    Kind::FailedPassword
                };
                d.push(Ev::new(t, host, p, kind).user(user).from(ip, port));
            }
            if tries == 6 {
                let (max, bye) = if invalid {
                    (Kind::MaxAuthInvalid, Kind::TooManyFailuresInvalid)
                } else {
                    (Kind::MaxAuth, Kind::TooManyFailures)
                };
                d.push(Ev::new(t, host, p, max).user(user).from(ip, port));
                d.push(Ev::new(t, host, p, bye).user(user).from(ip, port));
            } else {
                d.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(ip, port));
            }
            left -= tries;
        }
        self.drafts.push(d);
    }

    fn brute_force_slow(&mut self, seg_start: i64, seg: i64) {
        let mut d = Draft::new(CampaignKind::BruteForceSlow);
        let ip = self.fresh_ip(0.1);
        let host = self.exposed_host();
        let hours = self
            .rng
            .gen_range(3..=10)
            .min(((self.end - self.start) / HOUR - 1).max(1));
        let dur = hours * HOUR;
        let mut t = self.place(seg_start, seg, dur);
        let stop = t + dur;
        let root = self.org.root;
        let admin = self.names.intern("admin");
        d.ips.push(ip);
        d.hosts.push(host);
        while t < stop {
            let (user, invalid) = if self.rng.gen_bool(0.85) {
                (root, false)
            } else {
                (admin, true)
            };
            d.users.push(user);
            self.failed_attempt(&mut d, host, user, invalid, ip, t, true);
            t += self.rng.gen_range(2 * MINUTE..=10 * MINUTE);
        }
        self.drafts.push(d);
    }

    fn spraying(&mut self, seg_start: i64, seg: i64) {
        let mut d = Draft::new(CampaignKind::PasswordSpraying);
        let ip = self.fresh_ip(0.1);
        let mut hosts = self.org.exposed.clone();
        hosts.shuffle(&mut self.rng);
        hosts.truncate(self.rng.gen_range(2..=4));
        let want = self.rng.gen_range(20..=60);
        let mut people: Vec<Sym> = self.org.people().map(|u| u.name).collect();
        people.shuffle(&mut self.rng);
        let n_valid = ((want as f64 * 0.8) as usize).min(people.len());
        let mut targets: Vec<(Sym, bool)> = people[..n_valid].iter().map(|&u| (u, false)).collect();
        let mut invalid = self.invalid_names.clone();
        invalid.shuffle(&mut self.rng);
        targets.extend(invalid.into_iter().take(want - n_valid).map(|u| (u, true)));
        targets.shuffle(&mut self.rng);
        let mut attempts = Vec::new();
        for &(u, inv) in &targets {
            for _ in 0..self.rng.gen_range(1..=2) {
                attempts.push((u, inv));
            }
        }
        let dur = self.rng.gen_range(6 * MINUTE..=12 * MINUTE);
        let t0 = self.place(seg_start, seg, dur);
        let mut times: Vec<i64> = (0..attempts.len()).map(|_| t0 + self.rng.gen_range(0..dur)).collect();
        times.sort_unstable();
        d.ips.push(ip);
        for ((user, inv), t) in attempts.into_iter().zip(times) {
            let host = *hosts.choose(&mut self.rng).unwrap_or(&0);
            d.users.push(user);
            d.hosts.push(host);
            self.failed_attempt(&mut d, host, user, inv, ip, t, true);
        }
        self.drafts.push(d);
    }

    fn distributed(&mut self, seg_start: i64, seg: i64) {
        let mut d = Draft::new(CampaignKind::DistributedBruteForce);
        let admins: Vec<Sym> = self.org.people().filter(|u| u.admin).map(|u| u.name).collect();
        let (user, invalid) = match admins.choose(&mut self.rng) {
            Some(&u) if self.rng.gen_bool(0.5) => (u, false),
            _ => (self.names.intern("admin"), true),
        };
        let host = self.exposed_host();
        let n_ips = self.rng.gen_range(10..=50);
        let dur = self.rng.gen_range(20 * MINUTE..=35 * MINUTE);
        let t0 = self.place(seg_start, seg, dur);
        d.users.push(user);
        d.hosts.push(host);
        for _ in 0..n_ips {
            let ip = self.fresh_ip(0.15);
            d.ips.push(ip);
            for _ in 0..self.rng.gen_range(1..=3) {
                let t = t0 + self.rng.gen_range(0..dur);
                self.failed_attempt(&mut d, host, user, invalid, ip, t, true);
            }
        }
        self.drafts.push(d);
    }

    fn enumeration(&mut self, seg_start: i64, seg: i64) {
        let mut d = Draft::new(CampaignKind::UserEnumeration);
        let ip = self.fresh_ip(0.1);
        let host = self.exposed_host();
        let n = 30 + (self.rng.gen_range(0..=120) as f64 * self.scale()) as usize;
        let mut pool = self.invalid_names.clone();
        pool.shuffle(&mut self.rng);
        let mut extra = 0;
        while pool.len() < n {
            extra += 1;
            let base = self
                .name(self.invalid_names[extra % self.invalid_names.len()])
                .to_string();
            pool.push(self.names.intern(&format!("{base}{extra}")));
        }
        pool.truncate(n);
        let dur = self.rng.gen_range(5 * MINUTE..=30 * MINUTE);
        let t0 = self.place(seg_start, seg, dur);
        let mut times: Vec<i64> = (0..n).map(|_| t0 + self.rng.gen_range(0..dur)).collect();
        times.sort_unstable();
        d.ips.push(ip);
        d.hosts.push(host);
        for (user, t) in pool.into_iter().zip(times) {
            d.users.push(user);
            let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
            d.push(Ev::new(t, host, p, Kind::InvalidUser).user(user).from(ip, port));
            let mut t = t;
            if self.rng.gen_bool(0.2) {
                t += self.rng.gen_range(1..3);
                d.push(
                    Ev::new(t, host, p, Kind::FailedPasswordInvalid)
                        .user(user)
                        .from(ip, port),
                );
            }
            d.push(Ev::new(t + self.rng.gen_range(0..2), host, p, Kind::ConnClosedPreauth).from(ip, port));
        }
        self.drafts.push(d);
    }

    fn compromise(&mut self, seg_start: i64, seg: i64) {
        let org = self.org;
        let mut d = Draft::new(CampaignKind::AccountCompromise);
        // The victim: an administrator (so sudo works) when there is one.
        let people: Vec<usize> = (0..org.users.len())
            .filter(|&i| org.users[i].team != Team::Service)
            .collect();
        let admins: Vec<usize> = people.iter().copied().filter(|&i| org.users[i].admin).collect();
        let Some(&victim) = admins.choose(&mut self.rng).or_else(|| people.first()) else {
            return;
        };
        let victim = org.users[victim].name;
        let entry = org.entry_hosts();
        let host = *entry.choose(&mut self.rng).unwrap_or(&0);
        let host_ip = IpAddr::V4(org.ip_of(host));
        let mut lateral: Vec<u32> = org
            .servers
            .iter()
            .copied()
            .filter(|&h| h != host && !org.hosts[h as usize].role.exposed())
            .collect();
        if lateral.len() < 2 {
            lateral = org
                .hosts
                .iter()
                .enumerate()
                .map(|(i, _)| i as u32)
                .filter(|&h| h != host)
                .collect();
        }
        lateral.shuffle(&mut self.rng);
        lateral.truncate(self.rng.gen_range(2..=3));

        let ip = self.fresh_ip(0.1);
        // A night in the segment (01:00–04:00 org time), a day from its start.
        let seg_days = (seg / DAY).max(1);
        let day = ((seg_start - self.start) / DAY + self.rng.gen_range(0..seg_days))
            .min(self.days() - 1)
            .max(0);
        let minute = self.rng.gen_range(60..240);
        let mut success = self.local(day, minute) + self.rng.gen_range(0..60);
        let fail_span = self.rng.gen_range(10 * MINUTE..=40 * MINUTE);
        if success - fail_span < self.start {
            success = self.start + fail_span + 60;
        }
        if success + 3 * HOUR > self.end {
            success = (self.end - 3 * HOUR).max(self.start + fail_span + 60);
        }
        d.ips.push(ip);
        d.ips.push(host_ip);
        d.users.push(victim);
        d.hosts.push(host);
        let n_fail = self.rng.gen_range(3..=8);
        let mut t = success - fail_span;
        for _ in 0..n_fail {
            self.failed_attempt(&mut d, host, victim, false, ip, t, true);
            t += self.rng.gen_range(MINUTE..=fail_span / n_fail);
        }
        let t = success.max(t + 30);
        let (acc_pid, acc_port) = (pid(&mut self.rng), any_port(&mut self.rng));
        d.push(
            Ev::new(t, host, acc_pid, Kind::AcceptedPassword)
                .user(victim)
                .from(ip, acc_port),
        );
        d.push(Ev::new(t, host, acc_pid, Kind::SshSessionOpened).user(victim));
        let root = org.root;
        let tty = self.rng.gen_range(0..4);
        let sudo = |planner: &mut Self, d: &mut Draft, host: u32, t: i64, cmd: &str, len: i64| {
            let cmd = planner.names.intern(cmd);
            let p = pid(&mut planner.rng);
            d.extend(Ev::sudo_opened(t, host, p, victim, root, cmd, tty));
            d.push(
                Ev::new(t + len, host, p, Kind::SudoSessionClosed)
                    .user(victim)
                    .other(root),
            );
        };
        let mut t = t + self.rng.gen_range(40..180);
        sudo(self, &mut d, host, t, "/usr/bin/cat /etc/shadow", 0);
        t += self.rng.gen_range(20..120);
        let root_shell = self.rng.gen_range(20 * MINUTE..50 * MINUTE);
        sudo(self, &mut d, host, t, "/bin/bash", root_shell);
        let bash_end = t + root_shell;

        // A backdoor account with sudo rights.
        t += self.rng.gen_range(30..200);
        let bd_name = *BACKDOOR_NAMES.choose(&mut self.rng).unwrap_or(&"backdoor");
        let backdoor = self.names.intern(bd_name);
        d.users.push(backdoor);
        let uid = 1000 + org.users.len() as u32 + self.rng.gen_range(10..60);
        let p = pid(&mut self.rng);
        d.push(Ev::new(t, host, p, Kind::NewGroup).user(backdoor).other(root).num(uid));
        d.push(
            Ev::new(t, host, p, Kind::NewUser)
                .user(backdoor)
                .other(root)
                .num(uid)
                .tty(tty + 1),
        );
        t += self.rng.gen_range(5..40);
        let p = pid(&mut self.rng);
        d.push(Ev::new(t, host, p, Kind::PasswordChanged).user(backdoor).other(root));
        t += self.rng.gen_range(5..40);
        let p = pid(&mut self.rng);
        d.push(Ev::new(t, host, p, Kind::AddToGroup).user(backdoor).other(root));
        d.push(Ev::new(t, host, p, Kind::AddToShadowGroup).user(backdoor).other(root));

        // Lateral movement with the stolen password from the entry host.
        let mut last = t;
        for (i, &target) in lateral.iter().enumerate() {
            t += self.rng.gen_range(2 * MINUTE..8 * MINUTE);
            d.hosts.push(target);
            let len = self.rng.gen_range(3 * MINUTE..20 * MINUTE);
            let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
            d.push(
                Ev::new(t, target, p, Kind::AcceptedPassword)
                    .user(victim)
                    .from(host_ip, port),
            );
            d.push(Ev::new(t, target, p, Kind::SshSessionOpened).user(victim));
            if i == 0 {
                let at = t + self.rng.gen_range(20..90);
                sudo(self, &mut d, target, at, "/usr/bin/cat /etc/shadow", 0);
            }
            let e = t + len;
            d.push(Ev::new(e, target, p, Kind::ReceivedDisconnect).from(host_ip, port));
            d.push(
                Ev::new(e, target, p, Kind::DisconnectedUser)
                    .user(victim)
                    .from(host_ip, port),
            );
            d.push(Ev::new(e, target, p, Kind::SshSessionClosed).user(victim));
            last = last.max(e);
        }
        let e = last.max(bash_end) + self.rng.gen_range(60..600);
        d.push(Ev::new(e, host, acc_pid, Kind::ReceivedDisconnect).from(ip, acc_port));
        d.push(
            Ev::new(e, host, acc_pid, Kind::DisconnectedUser)
                .user(victim)
                .from(ip, acc_port),
        );
        d.push(Ev::new(e, host, acc_pid, Kind::SshSessionClosed).user(victim));
        self.drafts.push(d);
    }
}
