//! The streaming simulation: one hour at a time, background activity sized
//! to hit the requested event count, merged with the planned campaigns.

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::IpAddr;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::event::{Ev, Formatter, Kind};
use crate::names::{Names, Sym, ADMIN_COMMANDS, SCANNER_NAMES};
use crate::net::{any_port, client_port, lognormal_secs, mix, pid, public_v6, unit, DistinctV4};
use crate::org::{Org, Role, Team};
use crate::timefmt::{weekday, DAY, HOUR, MINUTE};

/// Shares of the background (everything but campaigns and benign patterns).
const CRON_SHARE: f64 = 0.25;
const USER_SHARE_OF_REST: f64 = 0.78;

/// Minutes between cron runs that servers may use.
const CRON_LADDER: [i64; 14] = [1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 240, 360, 720, 1440];
/// Workstations run cron at most this often (minutes).
const WS_CRON_MIN_PERIOD: i64 = 720;

/// Number of runs of a schedule `base + k * period` inside `[from, to)`.
fn runs_between(base: i64, period: i64, from: i64, to: i64) -> i64 {
    if to <= from {
        return 0;
    }
    let first = if from <= base {
        0
    } else {
        (from - base + period - 1) / period
    };
    let last_excl = if to <= base {
        0
    } else {
        (to - base + period - 1) / period
    };
    (last_excl - first).max(0)
}

/// Picks cron periods so cron is about [`CRON_SHARE`] of the background and
/// returns the exact number of cron lines over `[start, end)`.
pub(crate) fn schedule_cron(org: &mut Org, rng: &mut ChaCha8Rng, start: i64, end: i64, background: u64) -> u64 {
    let target = background as f64 * CRON_SHARE;
    let minutes = (end - start) / MINUTE;
    let n_servers = org.hosts.iter().filter(|h| h.role != Role::Workstation).count() as i64;
    let n_ws = org.hosts.len() as i64 - n_servers;
    let lines = |p: i64| 2 * (n_servers * (minutes / p) + n_ws * (minutes / p.max(WS_CRON_MIN_PERIOD)));
    let period = CRON_LADDER
        .iter()
        .copied()
        .find(|&p| lines(p) as f64 <= target)
        .unwrap_or(1440);
    let mut total = 0;
    for h in &mut org.hosts {
        h.cron_period = if h.role == Role::Workstation {
            period.max(WS_CRON_MIN_PERIOD)
        } else {
            period
        };
        h.cron_phase = rng.gen_range(0..h.cron_period);
        total += 2 * runs_between(start + h.cron_phase * MINUTE, h.cron_period * MINUTE, start, end);
    }
    total as u64
}

/// Invalid names scanners try: the scanner list less real accounts.
pub(crate) fn scanner_names(org: &Org, names: &mut Names) -> Vec<Sym> {
    let accounts: HashSet<Sym> = org.accounts.iter().copied().collect();
    SCANNER_NAMES
        .iter()
        .map(|s| names.intern(s))
        .filter(|s| !accounts.contains(s))
        .collect()
}

/// A user's day: at work or not, and when.
struct Day {
    workday: bool,
    present: bool,
    start: i64,
    end: i64,
}

pub(crate) struct Engine<'a> {
    pub org: &'a Org,
    pub rng: ChaCha8Rng,
    pub seed: u64,
    pub start: i64,
    pub end: i64,
    pub offset: i64,
    pub reserved: &'a HashSet<IpAddr>,
    pub scan_names: Vec<Sym>,
    pub admin_commands: Vec<Sym>,
    pub postgres: Sym,
    scan_ips: DistinctV4,
    scan_used: Vec<u8>,
    root_used: u8,
    bastion: Option<u32>,
    cum: Vec<f64>,
    /// `(user index, local day number)` without background sessions.
    pub absent: HashSet<(usize, i64)>,
    /// Share of the non-cron background made by people (the rest is
    /// internet scanning).
    pub user_share_of_rest: f64,
}

/// What the run produced.
pub(crate) struct Totals {
    pub events: u64,
    pub lines: u64,
}

impl<'a> Engine<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        org: &'a Org,
        names: &mut Names,
        mut rng: ChaCha8Rng,
        seed: u64,
        start: i64,
        end: i64,
        offset: i64,
        reserved: &'a HashSet<IpAddr>,
    ) -> Self {
        let scan_names = scanner_names(org, names);
        let admin_commands = ADMIN_COMMANDS.iter().map(|c| names.intern(c)).collect();
        let postgres = names.intern("postgres");
        Engine {
            org,
            scan_ips: DistinctV4::new(&mut rng),
            rng,
            seed,
            start,
            end,
            offset,
            reserved,
            scan_used: vec![0; scan_names.len()],
            scan_names,
            admin_commands,
            postgres,
            root_used: 0,
            bastion: org.first_of(Role::Bastion),
            cum: Vec::with_capacity(org.users.len()),
            absent: HashSet::new(),
            user_share_of_rest: USER_SHARE_OF_REST,
        }
    }

    fn day(&self, ui: usize, local_day: i64) -> Day {
        let u = &self.org.users[ui];
        let h = mix(self.seed ^ mix(((ui as u64) << 32) ^ local_day as u64));
        let (r1, r2, r3) = (unit(h), unit(mix(h ^ 1)), unit(mix(h ^ 2)));
        let workday = weekday(local_day) < 5;
        let service = u.team == Team::Service;
        let away = !self.absent.is_empty() && self.absent.contains(&(ui, local_day));
        let present = if away {
            false
        } else if workday {
            service || r1 < 0.93
        } else {
            !service && r1 < 0.10
        };
        let start = i64::from(u.start_min) * MINUTE + ((r2 - 0.5) * 3600.0) as i64;
        let end = start + i64::from(u.work_len) * MINUTE + ((r3 - 0.5) * 3600.0) as i64;
        Day {
            workday,
            present,
            start,
            end,
        }
    }

    /// Activity weight of user `ui` in the hour starting at `t0` (UTC).
    fn weight(&self, ui: usize, t0: i64) -> f64 {
        let local = t0 + self.offset;
        let d = self.day(ui, local.div_euclid(DAY));
        if !d.present {
            return 0.0;
        }
        let u = &self.org.users[ui];
        let m0 = local.rem_euclid(DAY);
        let m1 = m0 + HOUR;
        let overlap = |a: i64, b: i64| (m1.min(b) - m0.max(a)).max(0) as f64 / HOUR as f64;
        let w = if d.workday {
            let work = overlap(d.start, d.end) - 0.5 * overlap(d.start.max(12 * HOUR), d.end.min(13 * HOUR));
            let evening = if m0 >= d.end && (18 * HOUR..23 * HOUR).contains(&m0) {
                u.evening
            } else {
                0.0
            };
            work + evening
        } else if (10 * HOUR..22 * HOUR).contains(&m0) {
            0.3
        } else {
            0.0
        };
        w * u.activity
    }

    fn hour_total_weight(&self, t0: i64) -> f64 {
        (0..self.org.users.len()).map(|ui| self.weight(ui, t0)).sum()
    }

    /// Runs the simulation, writing every event in time order.
    pub(crate) fn run(
        &mut self,
        fixed: &[Ev],
        cron_lines: u64,
        target: u64,
        fmt: &mut Formatter<'_>,
        out: &mut dyn Write,
    ) -> io::Result<Totals> {
        let hours = ((self.end - self.start) / HOUR).max(1) as usize;
        let weights: Vec<f64> = (0..hours)
            .map(|h| self.hour_total_weight(self.start + h as i64 * HOUR))
            .collect();
        let weight_sum: f64 = weights.iter().sum();
        let rest = target as f64 - fixed.len() as f64 - cron_lines as f64;
        let rest = rest.max(0.0);
        let user_total = if weight_sum > 0.0 {
            rest * self.user_share_of_rest
        } else {
            0.0
        };
        let scan_per_hour = (rest - user_total) / hours as f64;

        let mut lines = fmt.header(out)?;
        let mut produced = 0u64;
        // Each background part carries its surplus or shortfall to the next hour.
        let (mut user_debt, mut scan_debt) = (0.0f64, 0.0f64);
        let mut next_fixed = 0;
        let mut buf: Vec<Ev> = Vec::new();
        for (h, &w) in weights.iter().enumerate() {
            let t0 = self.start + h as i64 * HOUR;
            let t1 = t0 + HOUR;
            let before = buf.len();
            while next_fixed < fixed.len() && fixed[next_fixed].ts < t1 {
                buf.push(fixed[next_fixed]);
                next_fixed += 1;
            }
            self.cron(&mut buf, t0, t1);
            if weight_sum > 0.0 {
                user_debt += user_total * w / weight_sum;
            }
            if user_debt > 0.0 && w > 0.0 {
                let mark = buf.len();
                self.users(&mut buf, t0, user_debt);
                user_debt -= (buf.len() - mark) as f64;
            }
            scan_debt += scan_per_hour;
            if scan_debt > 0.0 {
                let mark = buf.len();
                self.scanners(&mut buf, t0, scan_debt);
                scan_debt -= (buf.len() - mark) as f64;
            }
            produced += (buf.len() - before) as u64;

            buf.sort_by_key(|e| e.ts);
            let ready = buf.partition_point(|e| e.ts < t1);
            for ev in &buf[..ready] {
                lines += fmt.write(ev, out)?;
            }
            buf.drain(..ready);
        }
        buf.extend_from_slice(&fixed[next_fixed..]);
        produced += (fixed.len() - next_fixed) as u64;
        buf.sort_by_key(|e| e.ts);
        for ev in &buf {
            lines += fmt.write(ev, out)?;
        }
        out.flush()?;
        Ok(Totals {
            events: produced,
            lines,
        })
    }

    fn cron(&mut self, out: &mut Vec<Ev>, t0: i64, t1: i64) {
        let root = self.org.root;
        for (hi, h) in self.org.hosts.iter().enumerate() {
            let period = h.cron_period * MINUTE;
            let base = self.start + h.cron_phase * MINUTE;
            let mut k = if t0 <= base {
                0
            } else {
                (t0 - base + period - 1) / period
            };
            loop {
                let t = base + k * period;
                if t >= t1 {
                    break;
                }
                let p = pid(&mut self.rng);
                let opened = t + i64::from(self.rng.gen_bool(0.3));
                let r: f64 = self.rng.gen();
                let took = if r < 0.7 {
                    0
                } else if r < 0.95 {
                    1
                } else {
                    self.rng.gen_range(2..90)
                };
                out.push(Ev::new(opened, hi as u32, p, Kind::CronSessionOpened).user(root));
                out.push(Ev::new(opened + took, hi as u32, p, Kind::CronSessionClosed).user(root));
                k += 1;
            }
        }
    }

    /// Sessions of people and service accounts until `budget` lines are used.
    fn users(&mut self, out: &mut Vec<Ev>, t0: i64, budget: f64) {
        let mut cum = std::mem::take(&mut self.cum);
        cum.clear();
        let mut total = 0.0;
        for ui in 0..self.org.users.len() {
            total += self.weight(ui, t0);
            cum.push(total);
        }
        let mut used = 0.0;
        while total > 0.0 && used < budget {
            let r = self.rng.gen::<f64>() * total;
            let ui = cum.partition_point(|&c| c <= r).min(cum.len() - 1);
            let t = t0 + self.rng.gen_range(0..HOUR);
            let local = t + self.offset;
            let day = self.day(ui, local.div_euclid(DAY));
            let m = local.rem_euclid(DAY);
            let remote = !day.workday || m < day.start || m >= day.end;
            used += self.user_session(out, ui, t, remote) as f64;
        }
        self.cum = cum;
    }

    fn user_session(&mut self, out: &mut Vec<Ev>, ui: usize, t: i64, remote: bool) -> usize {
        let org = self.org;
        let u = &org.users[ui];
        let before = out.len();
        if u.team == Team::Service {
            let host = *u.servers.choose(&mut self.rng).unwrap_or(&0);
            let len = lognormal_secs(&mut self.rng, 60.0, 0.6, 8, 900);
            self.ssh_session(out, ui, host, IpAddr::V4(u.src_ip), t, len, false);
            return out.len() - before;
        }
        let src = IpAddr::V4(if remote { u.vpn_ip } else { u.src_ip });
        let host = match u.own_ws {
            Some(ws) if remote && self.rng.gen_bool(0.35) => ws,
            _ if u.servers.is_empty() => u.own_ws.unwrap_or(0),
            _ if self.rng.gen_bool(0.5) => u.servers[0],
            _ => *u.servers.choose(&mut self.rng).unwrap_or(&0),
        };
        let median = if u.admin { 20.0 * 60.0 } else { 35.0 * 60.0 };
        let len = lognormal_secs(&mut self.rng, median, 0.9, 60, 8 * HOUR);
        match self.bastion {
            Some(b) if u.admin && !remote && host != b && self.rng.gen_bool(0.35) => {
                let hop = self.rng.gen_range(5..60);
                let outer = hop + len + self.rng.gen_range(5..120);
                self.ssh_session(out, ui, b, src, t, outer, false);
                self.ssh_session(out, ui, host, IpAddr::V4(org.ip_of(b)), t + hop, len, true);
            }
            _ => self.ssh_session(out, ui, host, src, t, len, true),
        }
        out.len() - before
    }

    #[allow(clippy::too_many_arguments)]
    fn ssh_session(&mut self, out: &mut Vec<Ev>, ui: usize, host: u32, src: IpAddr, t: i64, len: i64, activity: bool) {
        let u = &self.org.users[ui];
        let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
        let mut t = t;
        // Typos only on direct logins (hops from the bastion use agent keys).
        let direct = src == IpAddr::V4(u.src_ip) || src == IpAddr::V4(u.vpn_ip);
        if u.password_auth && direct && self.rng.gen_bool(0.04) {
            // A typo, then the right password on the same connection.
            out.push(Ev::new(t, host, p, Kind::FailedPassword).user(u.name).from(src, port));
            t += self.rng.gen_range(3..12);
        }
        let accepted = if u.password_auth {
            Ev::new(t, host, p, Kind::AcceptedPassword)
        } else {
            Ev::new(t, host, p, Kind::AcceptedPublickey).other(u.key_fp)
        };
        out.push(accepted.user(u.name).from(src, port));
        out.push(Ev::new(t, host, p, Kind::SshSessionOpened).user(u.name));
        let end = t + len;
        let tty = self.rng.gen_range(0..6);
        if activity && u.admin {
            let n = match self.rng.gen_range(0..20) {
                0..=5 => 0,
                6..=11 => 1,
                12..=15 => 2,
                16..=18 => 3,
                _ => 4,
            };
            for _ in 0..n {
                let at = t + self.rng.gen_range(5..(len - 5).max(6));
                self.sudo(out, ui, host, at, tty, end);
            }
        }
        if activity && u.team == Team::Data && self.org.hosts[host as usize].role == Role::Db && self.rng.gen_bool(0.25)
        {
            let at = t + self.rng.gen_range(5..(len - 5).max(6));
            let close = (at + self.rng.gen_range(60..1200)).min(end - 1).max(at);
            let p = pid(&mut self.rng);
            let target = self.postgres;
            out.push(Ev::new(at, host, p, Kind::SuTo).user(u.name).other(target).tty(tty));
            out.push(
                Ev::new(at, host, p, Kind::SuSessionOpened)
                    .user(u.name)
                    .other(target)
                    .num(u.uid),
            );
            out.push(
                Ev::new(close, host, p, Kind::SuSessionClosed)
                    .user(u.name)
                    .other(target),
            );
        }
        out.push(Ev::new(end, host, p, Kind::ReceivedDisconnect).from(src, port));
        out.push(
            Ev::new(end, host, p, Kind::DisconnectedUser)
                .user(u.name)
                .from(src, port),
        );
        out.push(Ev::new(end, host, p, Kind::SshSessionClosed).user(u.name));
    }

    fn sudo(&mut self, out: &mut Vec<Ev>, ui: usize, host: u32, at: i64, tty: u16, end: i64) {
        let u = &self.org.users[ui];
        let root = self.org.root;
        let cmd = *self.admin_commands.choose(&mut self.rng).expect("commands");
        let mut at = at;
        if self.rng.gen_bool(0.02) {
            // A mistyped sudo password, given up, then run again.
            let p = pid(&mut self.rng);
            out.push(
                Ev::new(at, host, p, Kind::SudoAuthFailure)
                    .user(u.name)
                    .num(u.uid)
                    .tty(tty),
            );
            at += self.rng.gen_range(3..9);
            out.push(
                Ev::new(at, host, p, Kind::SudoIncorrect)
                    .user(u.name)
                    .other(root)
                    .num(cmd)
                    .tty(tty),
            );
            at += self.rng.gen_range(5..30);
        }
        let p = pid(&mut self.rng);
        let took = if self.rng.gen_bool(0.9) {
            self.rng.gen_range(0..3)
        } else {
            self.rng.gen_range(10..600)
        };
        let close = (at + took).min(end.max(at));
        out.extend(Ev::sudo_opened(at, host, p, u.name, root, cmd, tty));
        out.push(
            Ev::new(close, host, p, Kind::SudoSessionClosed)
                .user(u.name)
                .other(root),
        );
    }

    /// A scanner address no other scanner or campaign uses.
    fn scanner_ip(&mut self) -> IpAddr {
        loop {
            let ip = if self.rng.gen_bool(0.06) {
                IpAddr::V6(public_v6(&mut self.rng))
            } else {
                IpAddr::V4(self.scan_ips.next_ip())
            };
            if !self.reserved.contains(&ip) {
                return ip;
            }
        }
    }

    /// Internet background noise: one short visit per address, each below
    /// any brute-force threshold; per hour each name is tried at most twice.
    fn scanners(&mut self, out: &mut Vec<Ev>, t0: i64, budget: f64) {
        self.scan_used.iter_mut().for_each(|c| *c = 0);
        self.root_used = 0;
        let mut used = 0usize;
        while (used as f64) < budget {
            let before = out.len();
            let t = t0 + self.rng.gen_range(0..HOUR);
            let host = *self.org.exposed.choose(&mut self.rng).unwrap_or(&0);
            let ip = self.scanner_ip();
            let r: f64 = self.rng.gen();
            let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
            if r < 0.40 {
                out.push(Ev::new(t, host, p, Kind::NoIdent).from(ip, port));
            } else if r < 0.60 {
                out.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(ip, port));
            } else if r < 0.90 || self.root_used >= 2 {
                let mut t = t;
                for _ in 0..self.rng.gen_range(1..=3) {
                    let i = self.rng.gen_range(0..self.scan_names.len());
                    if self.scan_used[i] >= 2 {
                        continue;
                    }
                    self.scan_used[i] += 1;
                    let name = self.scan_names[i];
                    let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
                    out.push(Ev::new(t, host, p, Kind::InvalidUser).user(name).from(ip, port));
                    if self.rng.gen_bool(0.6) {
                        t += self.rng.gen_range(1..4);
                        out.push(
                            Ev::new(t, host, p, Kind::FailedPasswordInvalid)
                                .user(name)
                                .from(ip, port),
                        );
                    }
                    t += self.rng.gen_range(0..2);
                    out.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(ip, port));
                    t += self.rng.gen_range(1..20);
                }
                if out.len() == before {
                    out.push(Ev::new(t, host, p, Kind::NoIdent).from(ip, port));
                }
            } else {
                self.root_used += 1;
                let root = self.org.root;
                let mut t = t;
                for _ in 0..self.rng.gen_range(1..=2) {
                    out.push(Ev::new(t, host, p, Kind::FailedPassword).user(root).from(ip, port));
                    t += self.rng.gen_range(1..5);
                }
                out.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(ip, port));
            }
            used += out.len() - before;
        }
    }
}
