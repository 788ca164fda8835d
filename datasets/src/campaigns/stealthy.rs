//! Stealthy attack campaigns and benign look-alikes (`--stealthy`).
//!
//! Every attack here stays under the per-source thresholds of the built-in
//! rules by construction: at most two failures per source and host in ten
//! minutes (LLX-SSH-001 needs 5), at most one failing user per source in
//! five minutes (LLX-AUTH-001 needs 11), at most four sources per failing
//! user (LLX-AUTH-003 needs 10), at most one invalid name per source
//! (LLX-AUTH-002 needs 10) and at most one failure before a success from a
//! public source (LLX-AUTH-004 needs 3). The look-alikes are routine: the
//! credential audit trips LLX-SSH-001 on purpose.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use rand::seq::SliceRandom;
use rand::Rng;

use super::{Draft, Plan, Planner};
use crate::event::{Ev, Kind};
use crate::labels::CampaignKind;
use crate::names::NONE;
use crate::names::{Sym, ADMIN_COMMANDS, FIRST_NAMES};
use crate::net::pid;
use crate::org::{key_fingerprint, Role, Team};
use crate::timefmt::{weekday, DAY, HOUR, MINUTE};

/// Time kept free on each side of a stealthy campaign: two campaigns are at
/// least twice this (twice the evaluation's matching slack) apart.
pub(super) const MARGIN: i64 = HOUR;

/// The security team's audit scanner: outside every host and person range
/// (host addresses end in .10–.249, people's in .50 or .100).
pub(crate) const AUDIT_SCANNER: Ipv4Addr = Ipv4Addr::new(10, 0, 6, 250);

/// The security team's vulnerability scanner (`--lookalikes`), beside the
/// audit scanner and outside the same ranges.
pub(crate) const VULN_SCANNER: Ipv4Addr = Ipv4Addr::new(10, 0, 6, 251);

/// Accounts the audit tries wrong passwords for.
const AUDIT_ACCOUNTS: [&str; 2] = ["root", "admin"];

/// Names a forgotten account may have (`svc_…`; `old.` + a first name is the
/// other form).
pub(super) const DORMANT_SERVICES: &[&str] = &[
    "svc_reports",
    "svc_ldapsync",
    "svc_legacy",
    "svc_etl",
    "svc_billing",
    "svc_archive",
    "svc_printer",
    "svc_wiki",
];

/// Surnames of the invalid names on the leaked list (`first.surname`).
const SURNAMES: &[&str] = &[
    "smith", "mueller", "garcia", "rossi", "dubois", "novak", "jensen", "silva", "kowalski", "tanaka", "brown",
    "martin", "weber", "lopez", "nielsen",
];

/// Commands a stolen-key intruder tries with sudo.
const PROBE_COMMANDS: &[&str] = &["/usr/bin/id", "/usr/bin/cat /etc/shadow", "/usr/bin/crontab -l"];

impl Planner<'_> {
    /// Plans the look-alikes and, with `attacks`, the six stealthy campaigns
    /// on top of `base`: fresh addresses (none of `base`'s), label numbers
    /// after `base`'s, and people none of `full`'s labels is about. `full` is
    /// the base plan with attacks (`base` itself when it has them), so the
    /// look-alikes are the same whether or not attacks are placed.
    pub(crate) fn plan_stealthy(mut self, attacks: bool, base: &Plan, full: &Plan) -> Plan {
        self.reserved = base.reserved_ips.clone();
        self.base_sources = base
            .labels
            .iter()
            .flat_map(|l| &l.source_ips)
            .filter_map(|ip| ip.parse().ok())
            .collect();
        let malicious = base.labels.iter().filter(|l| l.malicious).count();
        self.numbered = (malicious, base.labels.len() - malicious);
        // People a label is about (compromise victims, the target of a
        // distributed brute force, people of benign patterns), not the many
        // targets of a spray.
        let names = &*self.names;
        let mut used: HashSet<Sym> = full
            .labels
            .iter()
            .filter(|l| {
                !matches!(
                    l.kind,
                    CampaignKind::PasswordSpraying
                        | CampaignKind::UserEnumeration
                        | CampaignKind::BruteForceFast
                        | CampaignKind::BruteForceSlow
                )
            })
            .flat_map(|l| l.users.iter())
            .filter_map(|u| names.lookup(u))
            .collect();
        // Attacks keep clear of the audit, which trips LLX-SSH-001 on the
        // hosts it visits.
        let mut taken = self.credential_audit();
        self.admin_hop(&mut used);
        // The traveller is nobody an attack is about, so travel may overlap
        // the classic attacks; the stealthy ones keep clear of them when the
        // period has room.
        self.travel(&mut used, &mut taken);
        self.first_sudo(&mut used);
        self.avoid = base
            .labels
            .iter()
            .filter(|l| l.malicious)
            .map(|l| (l.start.timestamp() - MARGIN, l.end.timestamp() + MARGIN))
            .collect();
        if attacks {
            let mut segments: Vec<usize> = (0..6).collect();
            segments.shuffle(&mut self.rng);
            self.lateral(segments[1], &mut used, &mut taken);
            self.stolen_key(segments[2], &mut used, &mut taken);
            self.concurrent(segments[3], &mut used, &mut taken);
            self.dormant(segments[0], &used, &mut taken);
            self.slow_spray(segments[4], &used, &mut taken);
            self.stuffing(segments[5], &used, &mut taken);
        }
        self.finish()
    }

    /// Local day number (days since 1970-01-01 in the org's zone) of period
    /// day `d`.
    pub(super) fn day_number(&self, d: i64) -> i64 {
        self.start / DAY + d
    }

    pub(super) fn is_weekday(&self, d: i64) -> bool {
        weekday(self.day_number(d)) < 5
    }

    pub(super) fn internal_servers(&self) -> Vec<u32> {
        let org = self.org;
        let v: Vec<u32> = org
            .servers
            .iter()
            .copied()
            .filter(|&h| !org.hosts[h as usize].role.exposed())
            .collect();
        if v.is_empty() {
            org.servers.clone()
        } else {
            v
        }
    }

    /// People (no service accounts) not in `used`, those passing `prefer`
    /// first when there are any.
    fn pick_person(&mut self, used: &HashSet<Sym>, prefer: impl Fn(usize) -> bool) -> Option<usize> {
        let org = self.org;
        let free: Vec<usize> = (0..org.users.len())
            .filter(|&i| org.users[i].team != Team::Service && !used.contains(&org.users[i].name))
            .collect();
        let preferred: Vec<usize> = free.iter().copied().filter(|&i| prefer(i)).collect();
        let pool = if preferred.is_empty() { free } else { preferred };
        pool.choose(&mut self.rng).copied()
    }

    /// A start time for a campaign lasting up to `dur` seconds, at local
    /// minute `window` (may pass midnight) of a day in segment `seg` of six
    /// (then of any day), keeping [`MARGIN`] from `taken` and, unless that
    /// fails, from the spans to avoid. Records the span.
    pub(super) fn slot(
        &mut self,
        seg: usize,
        dur: i64,
        weekdays: bool,
        window: (i64, i64),
        taken: &mut Vec<(i64, i64)>,
    ) -> Option<i64> {
        let days = self.days();
        if days < 1 {
            return None;
        }
        let seg_days = (days / 6).max(1);
        let first = (seg as i64 * days / 6).min(days - 1);
        for attempt in 0..600 {
            let d = if attempt < 100 {
                first + self.rng.gen_range(0..seg_days)
            } else {
                self.rng.gen_range(0..days)
            };
            if d >= days || (weekdays && !self.is_weekday(d)) {
                continue;
            }
            let minute = self.rng.gen_range(window.0..window.1.max(window.0 + 1));
            let t = self.local(d, minute) + self.rng.gen_range(0..MINUTE);
            let (a, b) = (t - MARGIN, t + dur + MARGIN);
            if t < self.start + MINUTE || t + dur >= self.end - MINUTE {
                continue;
            }
            let free = |spans: &[(i64, i64)]| spans.iter().all(|&(x, y)| b <= x || a >= y);
            if free(taken) && (attempt >= 400 || free(&self.avoid)) {
                taken.push((a, b));
                return Some(t);
            }
        }
        None
    }

    // ---- look-alikes -----------------------------------------------------

    /// Every Monday 10:00–10:30 the security scanner tries wrong passwords
    /// for two accounts, 5–6 times within three minutes on each of 6–10
    /// servers (internal ones first). Returns the spans it occupies, with
    /// [`MARGIN`].
    fn credential_audit(&mut self) -> Vec<(i64, i64)> {
        let mut d = Draft::new(CampaignKind::BenignCredentialAudit);
        let src = IpAddr::V4(AUDIT_SCANNER);
        let want = self.rng.gen_range(6..=10);
        let mut servers = self.internal_servers();
        servers.shuffle(&mut self.rng);
        if servers.len() < want {
            let mut more: Vec<u32> = self
                .org
                .servers
                .iter()
                .copied()
                .filter(|h| !servers.contains(h))
                .collect();
            more.shuffle(&mut self.rng);
            servers.extend(more);
        }
        servers.truncate(want);
        let mut spans = Vec::new();
        let accounts: Vec<(Sym, bool)> = AUDIT_ACCOUNTS
            .iter()
            .map(|a| {
                let sym = self.names.intern(a);
                (sym, !self.org.accounts.contains(&sym))
            })
            .collect();
        d.ips.push(src);
        d.users.extend(accounts.iter().map(|a| a.0));
        d.hosts.extend(&servers);
        for day in 0..self.days() {
            if weekday(self.day_number(day)) != 0 {
                continue;
            }
            let t0 = self.local(day, 10 * 60) + self.rng.gen_range(0..MINUTE);
            if !self.fits(t0) {
                continue;
            }
            let mut last = t0;
            for (i, &host) in servers.iter().enumerate() {
                let mut t = t0 + i as i64 * 170;
                for k in 0..self.rng.gen_range(5..=6) {
                    let (user, invalid) = accounts[k % accounts.len()];
                    last = self.failed_attempt(&mut d, host, user, invalid, src, t, true);
                    t += self.rng.gen_range(10..=25);
                }
            }
            spans.push((t0 - MARGIN, last + MARGIN));
        }
        self.drafts.push(d);
        spans
    }

    /// Every working day an administrator opens a root shell on the bastion
    /// and, within 30 minutes, logs in as themselves from it to the same 2–4
    /// internal servers.
    fn admin_hop(&mut self, used: &mut HashSet<Sym>) {
        let org = self.org;
        let Some(ui) = self.pick_person(used, |i| org.users[i].admin) else {
            return;
        };
        let u = &org.users[ui];
        used.insert(u.name);
        let bastion = org
            .first_of(Role::Bastion)
            .or_else(|| org.exposed.first().copied())
            .unwrap_or(0);
        let hop_ip = IpAddr::V4(org.ip_of(bastion));
        let mut targets: Vec<u32> = self.internal_servers().into_iter().filter(|&h| h != bastion).collect();
        targets.shuffle(&mut self.rng);
        targets.truncate(self.rng.gen_range(2..=4));
        if targets.is_empty() {
            return;
        }
        let src = IpAddr::V4(u.src_ip);
        let bash = self.names.intern("/bin/bash");
        let mut d = Draft::new(CampaignKind::BenignAdminHop);
        d.ips.extend([src, hop_ip]);
        d.users.push(u.name);
        d.hosts.push(bastion);
        d.hosts.extend(&targets);
        for day in 0..self.days() {
            if !self.is_weekday(day) {
                continue;
            }
            let minute = i64::from(u.start_min) + self.rng.gen_range(20..120);
            let t = self.local(day, minute);
            if !self.fits(t) {
                continue;
            }
            let shell = t + self.rng.gen_range(30..300);
            let mut last = shell;
            let mut hops: Vec<i64> = targets
                .iter()
                .map(|_| shell + self.rng.gen_range(MINUTE..30 * MINUTE))
                .collect();
            hops.sort_unstable();
            for (&host, &at) in targets.iter().zip(&hops) {
                let len = self.rng.gen_range(3 * MINUTE..20 * MINUTE);
                self.session(&mut d, host, u.name, hop_ip, at, len, false, u.key_fp);
                last = last.max(at + len);
            }
            let shell_end = last + self.rng.gen_range(30..300);
            self.root_shell(&mut d, bastion, ui, shell, shell_end, bash);
            let end = shell_end + self.rng.gen_range(30..600);
            let fp = if u.password_auth { NONE } else { u.key_fp };
            self.session(&mut d, bastion, u.name, src, t, end - t, u.password_auth, fp);
        }
        self.drafts.push(d);
    }

    /// `sudo /bin/bash` (three times in four) or `su` to root by person `ui`
    /// on `host` from `at` to `end`.
    fn root_shell(&mut self, d: &mut Draft, host: u32, ui: usize, at: i64, end: i64, bash: Sym) {
        let u = &self.org.users[ui];
        let root = self.org.root;
        let tty = self.rng.gen_range(0..6);
        let p = pid(&mut self.rng);
        if self.rng.gen_bool(0.75) {
            d.extend(Ev::sudo_opened(at, host, p, u.name, root, bash, tty));
            d.push(Ev::new(end, host, p, Kind::SudoSessionClosed).user(u.name).other(root));
        } else {
            self.su_root(d, host, ui, at, end, tty);
        }
    }

    fn su_root(&mut self, d: &mut Draft, host: u32, ui: usize, at: i64, end: i64, tty: u16) {
        let u = &self.org.users[ui];
        let root = self.org.root;
        let p = pid(&mut self.rng);
        d.push(Ev::new(at, host, p, Kind::SuTo).user(u.name).other(root).tty(tty));
        d.push(
            Ev::new(at, host, p, Kind::SuSessionOpened)
                .user(u.name)
                .other(root)
                .num(u.uid),
        );
        d.push(Ev::new(end, host, p, Kind::SuSessionClosed).user(u.name).other(root));
    }

    /// A person works 2–3 consecutive weekdays from a hotel's public address
    /// (and not from the office).
    fn travel(&mut self, used: &mut HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let Some(ui) = self.pick_person(used, |i| !org.users[i].admin) else {
            return;
        };
        let u = &org.users[ui];
        let k = self.rng.gen_range(2..=3);
        let days = self.days();
        let mut firsts: Vec<i64> = (0..days - k + 1)
            .filter(|&d| (d..d + k).all(|x| self.is_weekday(x)))
            .collect();
        firsts.shuffle(&mut self.rng);
        let Some(first) = firsts.into_iter().find(|&d| {
            let (a, b) = (self.local(d, 0), self.local(d + k, 0));
            a >= self.start && b <= self.end && taken.iter().all(|&(x, y)| b + MARGIN <= x || a - MARGIN >= y)
        }) else {
            return;
        };
        used.insert(u.name);
        taken.push((self.local(first, 0) - MARGIN, self.local(first + k, 0) + MARGIN));
        let hotel = self.fresh_ip(0.0);
        let servers = if u.servers.is_empty() {
            org.exposed.clone()
        } else {
            u.servers.clone()
        };
        let mut d = Draft::new(CampaignKind::BenignTravel);
        d.ips.push(hotel);
        d.users.push(u.name);
        let fp = if u.password_auth { NONE } else { u.key_fp };
        for day in first..first + k {
            self.absent.insert((ui, self.day_number(day)));
            let from = i64::from(u.start_min);
            let len = i64::from(u.work_len).max(4 * 60);
            let n = self.rng.gen_range(2..=4);
            let mut starts: Vec<i64> = (0..n).map(|_| from + self.rng.gen_range(0..len - 90)).collect();
            starts.sort_unstable();
            for minute in starts {
                let host = *servers.choose(&mut self.rng).unwrap_or(&0);
                d.hosts.push(host);
                let t = self.local(day, minute) + self.rng.gen_range(0..MINUTE);
                let session = self.rng.gen_range(20 * MINUTE..90 * MINUTE);
                self.session(&mut d, host, u.name, hotel, t, session, u.password_auth, fp);
            }
        }
        self.drafts.push(d);
    }

    /// One quick command `user` runs as root with sudo at `at` on `host`.
    pub(super) fn sudo_once(&mut self, d: &mut Draft, host: u32, user: Sym, cmd: &str, at: i64) {
        let cmd = self.names.intern(cmd);
        let (p, tty) = (pid(&mut self.rng), self.rng.gen_range(0..6));
        let root = self.org.root;
        d.extend(Ev::sudo_opened(at, host, p, user, root, cmd, tty));
        d.push(Ev::new(at + 1, host, p, Kind::SudoSessionClosed).user(user).other(root));
    }

    /// A person who never used sudo is given a new duty: on one weekday, in
    /// a session from their usual address on their primary server in
    /// working hours, they run 2–4 ordinary administration commands with
    /// sudo.
    fn first_sudo(&mut self, used: &mut HashSet<Sym>) {
        let org = self.org;
        let Some(ui) = self.pick_person(used, |i| !org.users[i].admin && !org.users[i].servers.is_empty()) else {
            return;
        };
        let u = &org.users[ui];
        let weekdays: Vec<i64> = (0..self.days()).filter(|&d| self.is_weekday(d)).collect();
        let Some(&day) = weekdays.choose(&mut self.rng) else {
            return;
        };
        let latest = (i64::from(u.work_len) - 90).max(31);
        let minute = i64::from(u.start_min) + self.rng.gen_range(30..latest);
        let t = self.local(day, minute);
        let Some(&host) = u.servers.first().filter(|_| self.fits(t)) else {
            return;
        };
        used.insert(u.name);
        let src = IpAddr::V4(u.src_ip);
        let mut d = Draft::new(CampaignKind::BenignFirstSudo);
        d.ips.push(src);
        d.users.push(u.name);
        d.hosts.push(host);
        let len = self.rng.gen_range(20 * MINUTE..60 * MINUTE);
        let fp = if u.password_auth { NONE } else { u.key_fp };
        self.session(&mut d, host, u.name, src, t, len, u.password_auth, fp);
        for _ in 0..self.rng.gen_range(2..=4) {
            let cmd = *ADMIN_COMMANDS.choose(&mut self.rng).unwrap_or(&"/usr/bin/df -h");
            let at = t + self.rng.gen_range(MINUTE..len - MINUTE);
            self.sudo_once(&mut d, host, u.name, cmd, at);
        }
        self.drafts.push(d);
    }

    // ---- stealthy attacks --------------------------------------------------

    /// A name interned nowhere yet, so used by nothing else in the output.
    fn dormant_name(&mut self) -> Option<Sym> {
        let mut candidates: Vec<String> = DORMANT_SERVICES.iter().map(|s| s.to_string()).collect();
        candidates.extend(FIRST_NAMES.iter().map(|f| format!("old.{f}")));
        candidates.shuffle(&mut self.rng);
        let name = candidates.into_iter().find(|c| self.names.lookup(c).is_none())?;
        Some(self.names.intern(&name))
    }

    /// An account seen nowhere else logs in with a key at night from a
    /// workstation to 2–4 internal servers.
    fn dormant(&mut self, seg: usize, used: &HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let busy: HashSet<u32> = org
            .users
            .iter()
            .filter(|u| used.contains(&u.name))
            .filter_map(|u| u.own_ws)
            .collect();
        let mut workstations: Vec<u32> = (0..org.hosts.len() as u32)
            .filter(|&h| org.hosts[h as usize].role == Role::Workstation && !busy.contains(&h))
            .collect();
        if workstations.is_empty() {
            workstations = (0..org.hosts.len() as u32)
                .filter(|&h| org.hosts[h as usize].role == Role::Workstation)
                .collect();
        }
        let src = match workstations.choose(&mut self.rng) {
            Some(&ws) => org.ip_of(ws),
            None => match org.people().next() {
                Some(u) => u.src_ip,
                None => return,
            },
        };
        let mut hosts = self.internal_servers();
        hosts.shuffle(&mut self.rng);
        hosts.truncate(self.rng.gen_range(2..=4));
        // Logins start 2–10 minutes apart, so the last is before 04:30.
        let Some(t0) = self.slot(seg, 4 * 25 * MINUTE, false, (30, 240), taken) else {
            return;
        };
        let Some(name) = self.dormant_name() else { return };
        let fp = key_fingerprint(&mut self.rng);
        let fp = self.names.intern(&fp);
        let src = IpAddr::V4(src);
        let mut d = Draft::new(CampaignKind::DormantAccount);
        d.ips.push(src);
        d.users.push(name);
        let mut t = t0;
        for &host in &hosts {
            d.hosts.push(host);
            let len = self.rng.gen_range(2 * MINUTE..=15 * MINUTE);
            self.session(&mut d, host, name, src, t, len, false, fp);
            t += self.rng.gen_range(2 * MINUTE..=10 * MINUTE);
        }
        self.drafts.push(d);
    }

    /// A regular person gets root on internal server A during working hours;
    /// root then logs in with a key from A's address to 2–3 other servers.
    fn lateral(&mut self, seg: usize, used: &mut HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        // A's address is a source of this campaign: not one of a base label
        // (the backup and health-check hosts).
        let mut internal = self.internal_servers();
        let sources = &self.base_sources;
        internal.retain(|&h| !sources.contains(&IpAddr::V4(org.ip_of(h))));
        if internal.len() < 2 {
            internal = self.internal_servers();
        }
        let Some(ui) = self.pick_person(used, |i| !org.users[i].admin) else {
            return;
        };
        let u = &org.users[ui];
        let own: Vec<u32> = u.servers.iter().copied().filter(|h| internal.contains(h)).collect();
        let Some(&a) = own.choose(&mut self.rng).or_else(|| internal.choose(&mut self.rng)) else {
            return;
        };
        let mut targets: Vec<u32> = internal.iter().copied().filter(|&h| h != a).collect();
        if targets.is_empty() {
            targets = org.servers.iter().copied().filter(|&h| h != a).collect();
        }
        targets.shuffle(&mut self.rng);
        targets.truncate(self.rng.gen_range(2..=3));
        if targets.is_empty() {
            return;
        }
        let from = i64::from(u.start_min) + 30;
        let to = i64::from(u.start_min + u.work_len) - 180;
        let Some(t) = self.slot(seg, 4 * HOUR, true, (from, to), taken) else {
            return;
        };
        used.insert(u.name);
        let src = IpAddr::V4(u.src_ip);
        let a_ip = IpAddr::V4(org.ip_of(a));
        let root = org.root;
        let mut d = Draft::new(CampaignKind::LateralMovement);
        d.ips.extend([src, a_ip]);
        d.users.extend([u.name, root]);
        d.hosts.push(a);
        let shell = t + self.rng.gen_range(5 * MINUTE..=30 * MINUTE);
        let root_fp = key_fingerprint(&mut self.rng);
        let root_fp = self.names.intern(&root_fp);
        let mut at = shell + self.rng.gen_range(5 * MINUTE..=40 * MINUTE);
        let mut last = at;
        for &host in &targets {
            d.hosts.push(host);
            let len = self.rng.gen_range(2 * MINUTE..=15 * MINUTE);
            self.session(&mut d, host, root, a_ip, at, len, false, root_fp);
            last = last.max(at + len);
            at += self.rng.gen_range(2 * MINUTE..=8 * MINUTE);
        }
        let shell_end = last + self.rng.gen_range(MINUTE..=5 * MINUTE);
        let bash = self.names.intern("/bin/bash");
        let tty = self.rng.gen_range(0..6);
        if self.rng.gen_bool(0.5) {
            self.su_root(&mut d, a, ui, shell, shell_end, tty);
        } else {
            let p = pid(&mut self.rng);
            d.extend(Ev::sudo_opened(shell, a, p, u.name, root, bash, tty));
            d.push(
                Ev::new(shell_end, a, p, Kind::SudoSessionClosed)
                    .user(u.name)
                    .other(root),
            );
        }
        let end = shell_end + self.rng.gen_range(2 * MINUTE..=15 * MINUTE);
        let fp = if u.password_auth { NONE } else { u.key_fp };
        self.session(&mut d, a, u.name, src, t, end - t, u.password_auth, fp);
        self.drafts.push(d);
    }

    /// An office-hours person's key used at night from a new public address.
    fn stolen_key(&mut self, seg: usize, used: &mut HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let Some(ui) = self.pick_person(used, |i| org.users[i].evening < 0.015) else {
            return;
        };
        let u = &org.users[ui];
        let Some(t) = self.slot(seg, HOUR + 5 * MINUTE, false, (22 * 60, 29 * 60), taken) else {
            return;
        };
        used.insert(u.name);
        let exposed: Vec<u32> = u.servers.iter().copied().filter(|h| org.exposed.contains(h)).collect();
        let host = match exposed.choose(&mut self.rng) {
            Some(&h) => h,
            None => self.exposed_host(),
        };
        let ip = self.fresh_ip(0.1);
        let mut d = Draft::new(CampaignKind::StolenKey);
        d.ips.push(ip);
        d.users.push(u.name);
        d.hosts.push(host);
        let len = self.rng.gen_range(15 * MINUTE..=60 * MINUTE);
        self.session(&mut d, host, u.name, ip, t, len, false, u.key_fp);
        if self.rng.gen_bool(0.5) {
            let cmd = *PROBE_COMMANDS.choose(&mut self.rng).unwrap_or(&"/usr/bin/id");
            let at = t + self.rng.gen_range(MINUTE..=(len - MINUTE).max(MINUTE + 1));
            self.sudo_once(&mut d, host, u.name, cmd, at);
        }
        self.drafts.push(d);
    }

    /// A person logs in from the office and, 1–8 minutes later, with a
    /// password from a new public address to an exposed host.
    fn concurrent(&mut self, seg: usize, used: &mut HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let Some(ui) = self.pick_person(used, |_| true) else {
            return;
        };
        let u = &org.users[ui];
        let from = i64::from(u.start_min) + 30;
        let to = i64::from(u.start_min + u.work_len) - 120;
        let Some(t) = self.slot(seg, 2 * HOUR, true, (from, to), taken) else {
            return;
        };
        used.insert(u.name);
        let office_host = match u.servers.first() {
            Some(&h) => h,
            None => self.exposed_host(),
        };
        let src = IpAddr::V4(u.src_ip);
        let ip = self.fresh_ip(0.1);
        let host = self.exposed_host();
        let mut d = Draft::new(CampaignKind::ConcurrentUse);
        d.ips.extend([ip, src]);
        d.users.push(u.name);
        d.hosts.extend([office_host, host]);
        let len = self.rng.gen_range(20 * MINUTE..=90 * MINUTE);
        let fp = if u.password_auth { NONE } else { u.key_fp };
        self.session(&mut d, office_host, u.name, src, t, len, u.password_auth, fp);
        let at = t + self.rng.gen_range(MINUTE..=8 * MINUTE);
        let len = self.rng.gen_range(5 * MINUTE..=30 * MINUTE);
        self.session(&mut d, host, u.name, ip, at, len, true, NONE);
        self.drafts.push(d);
    }

    /// One address, one failed password per valid person, 6–15 minutes
    /// apart, against 1–2 exposed hosts.
    fn slow_spray(&mut self, seg: usize, used: &HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        // People of the other campaigns only when the rest are too few;
        // those campaigns are hours away.
        let (mut people, mut others): (Vec<Sym>, Vec<Sym>) =
            org.people().map(|u| u.name).partition(|n| !used.contains(n));
        people.shuffle(&mut self.rng);
        others.shuffle(&mut self.rng);
        people.extend(others);
        people.truncate(self.rng.gen_range(25..=45));
        let mut hosts = org.exposed.clone();
        hosts.shuffle(&mut self.rng);
        hosts.truncate(self.rng.gen_range(1..=2));
        if people.is_empty() || hosts.is_empty() {
            return;
        }
        let dur = people.len() as i64 * 15 * MINUTE;
        let Some(mut t) = self.slot(seg, dur, false, (0, 24 * 60), taken) else {
            return;
        };
        let ip = self.fresh_ip(0.1);
        let mut d = Draft::new(CampaignKind::SlowSpray);
        d.ips.push(ip);
        for user in people {
            let host = *hosts.choose(&mut self.rng).unwrap_or(&0);
            d.users.push(user);
            d.hosts.push(host);
            self.failed_attempt(&mut d, host, user, false, ip, t, true);
            t += self.rng.gen_range(6 * MINUTE..=15 * MINUTE);
        }
        self.drafts.push(d);
    }

    /// Plausible names of a leaked list that are no account here.
    fn leaked_invalid_names(&mut self, n: usize) -> Vec<Sym> {
        let mut out = Vec::new();
        let mut firsts: Vec<&str> = FIRST_NAMES.to_vec();
        firsts.shuffle(&mut self.rng);
        'outer: for surname in SURNAMES {
            for first in &firsts {
                if out.len() >= n {
                    break 'outer;
                }
                let name = format!("{first}.{surname}");
                let taken = self.names.lookup(&name).is_some_and(|s| self.org.accounts.contains(&s));
                if !taken && self.rng.gen_bool(0.1) {
                    out.push(self.names.intern(&name));
                }
            }
        }
        out
    }

    /// 50–120 fresh addresses, each trying one name of a leaked list once
    /// (one in five twice) over 2–5 hours against one exposed host; no name
    /// from more than four addresses; one address (two from 90 on) logs in.
    fn stuffing(&mut self, seg: usize, used: &HashSet<Sym>, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let n_ips: usize = self.rng.gen_range(50..=120);
        let n_users = n_ips.div_ceil(3);
        let mut valid: Vec<Sym> = org.people().map(|u| u.name).filter(|n| !used.contains(n)).collect();
        if valid.is_empty() {
            valid = org.people().map(|u| u.name).collect();
        }
        valid.shuffle(&mut self.rng);
        valid.truncate(((n_users as f64 * 0.65).round() as usize).max(1));
        let invalid = self.leaked_invalid_names(n_users.saturating_sub(valid.len()));
        let mut slots: Vec<(Sym, bool)> = valid
            .iter()
            .map(|&u| (u, false))
            .chain(invalid.iter().map(|&u| (u, true)))
            .flat_map(|x| [x; 4])
            .collect();
        slots.shuffle(&mut self.rng);
        slots.truncate(n_ips);
        let entry = org.entry_hosts();
        let host = *entry.choose(&mut self.rng).unwrap_or(&0);
        let dur = self.rng.gen_range(2 * HOUR..=5 * HOUR);
        let Some(t0) = self.slot(seg, dur + 30 * MINUTE, false, (0, 24 * 60), taken) else {
            return;
        };
        let mut valid_slots: Vec<usize> = (0..slots.len()).filter(|&i| !slots[i].1).collect();
        valid_slots.shuffle(&mut self.rng);
        valid_slots.truncate(if slots.len() >= 90 { 2 } else { 1 });
        let mut d = Draft::new(CampaignKind::CredentialStuffing);
        d.hosts.push(host);
        for (i, &(user, invalid)) in slots.iter().enumerate() {
            let ip = self.fresh_ip(0.1);
            d.ips.push(ip);
            d.users.push(user);
            let tries = if self.rng.gen_bool(0.2) { 2 } else { 1 };
            let mut t = t0 + self.rng.gen_range(0..dur);
            let succeeds = valid_slots.contains(&i);
            for k in 0..tries {
                if succeeds && k + 1 == tries {
                    let len = self.rng.gen_range(5 * MINUTE..=20 * MINUTE);
                    self.session(&mut d, host, user, ip, t, len, true, NONE);
                } else {
                    self.failed_attempt(&mut d, host, user, invalid, ip, t, true);
                }
                t += self.rng.gen_range(20..600);
            }
        }
        self.drafts.push(d);
    }
}
