//! Routine work that alerts (`--lookalikes`): the security team's
//! vulnerability scan, an administrator's password rotation and a new
//! administrator's first week.
//!
//! Unlike the stealthy look-alikes these trip rules on purpose: the scan is
//! a default-credential dictionary from one address (LLX-SSH-001,
//! LLX-AUTH-002, often LLX-AUTH-001), the rotation bursts of password
//! changes (LLX-ACCT-002), the newcomer a new account put in the `sudo`
//! group (LLX-ACCT-001) and, against a baseline, a new account on new
//! hosts running its first sudo (the new-terms rules). They are planned
//! after every other part of the plan, from their own random stream, so the
//! rest of the plan does not change with the flag.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::stealthy::{DORMANT_SERVICES, MARGIN, VULN_SCANNER};
use super::{Draft, Plan, Planner};
use crate::event::{Ev, Kind};
use crate::labels::CampaignKind;
use crate::names::{Sym, ADMIN_COMMANDS, FIRST_NAMES, LAST_INITIALS, NONE};
use crate::net::{any_port, client_port, pid};
use crate::org::{Role, Team, User};
use crate::timefmt::{weekday, DAY, HOUR, MINUTE};

/// Default-credential names the vulnerability scanner tries besides `root`
/// and `admin` (whether each is an account here decides its lines).
const SCAN_NAMES: &[&str] = &[
    "oracle", "test", "pi", "ubnt", "guest", "postgres", "ftp", "user", "support", "git", "ansible", "deploy",
    "ubuntu", "vagrant", "tomcat", "jenkins", "nagios", "mysql", "hadoop", "cisco",
];

/// Service and local accounts whose passwords are rotated: the org's own
/// service accounts and local ones that never log in over ssh (none is a
/// name internet scanners try, none a forgotten account's).
const ROTATED_ACCOUNTS: &[&str] = &[
    "deploy",
    "monitor",
    "svc_jenkins",
    "svc_grafana",
    "svc_nagios",
    "svc_ansible",
    "svc_ci",
    "svc_vault",
    "svc_sentry",
    "svc_consul",
    "svc_kafka",
    "svc_rabbitmq",
    "svc_redis",
    "svc_elastic",
    "svc_zabbix",
    "svc_prometheus",
    "svc_sftp",
    "svc_batch",
    "svc_mailrelay",
    "svc_proxy",
    "svc_nfs",
    "svc_smtp",
    "svc_dns",
    "svc_ntp",
    "svc_pgbackup",
    "svc_s3sync",
    "svc_logship",
    "svc_metrics",
    "svc_alerting",
    "svc_queue",
    "svc_search",
    "svc_api",
];

/// Working days of a new administrator's first week.
const FIRST_WEEK: usize = 5;

/// Who the look-alikes' administrators may be.
struct People {
    /// People an attack is about (never picked).
    attacked: HashSet<Sym>,
    /// People any pattern is about.
    busy: HashSet<Sym>,
    /// Every name a label names, spray targets included.
    named: HashSet<String>,
    /// The administrators picked here so far.
    mine: HashSet<Sym>,
}

/// Kinds whose users are the many targets of an attack, not people it is
/// about.
pub(crate) fn many_targets(kind: CampaignKind) -> bool {
    matches!(
        kind,
        CampaignKind::PasswordSpraying
            | CampaignKind::UserEnumeration
            | CampaignKind::BruteForceFast
            | CampaignKind::BruteForceSlow
            | CampaignKind::SlowSpray
            | CampaignKind::CredentialStuffing
    )
}

impl Planner<'_> {
    /// Plans the three routine patterns after `base` (the plan so far):
    /// label numbers after `base`'s; people, names and times from `full`
    /// (`base` with attacks, also when they are not placed), so the patterns
    /// are the same with and without attacks. `names_rng` draws only the
    /// newcomer's name (it is the seed's, not the period's).
    pub(crate) fn plan_lookalikes(mut self, base: &Plan, full: &Plan, names_rng: ChaCha8Rng) -> Plan {
        self.reserved = base.reserved_ips.clone();
        let malicious = base.labels.iter().filter(|l| l.malicious).count();
        self.numbered = (malicious, base.labels.len() - malicious);
        let names = &*self.names;
        let people = |attacks_only: bool| -> HashSet<Sym> {
            full.labels
                .iter()
                .filter(|l| !many_targets(l.kind) && (l.malicious || !attacks_only))
                .flat_map(|l| &l.users)
                .filter_map(|u| names.lookup(u))
                .collect()
        };
        let mut people = People {
            attacked: people(true),
            busy: people(false),
            named: full.labels.iter().flat_map(|l| l.users.iter().cloned()).collect(),
            mine: HashSet::new(),
        };
        self.avoid = full
            .labels
            .iter()
            .filter(|l| l.malicious)
            .map(|l| (l.start.timestamp() - MARGIN, l.end.timestamp() + MARGIN))
            .collect();
        // The scan keeps clear of the weekly credential audit's mornings
        // (Monday 10:00–10:30), so no two scanners run at once.
        let mut taken = Vec::new();
        if full
            .labels
            .iter()
            .any(|l| l.kind == CampaignKind::BenignCredentialAudit)
        {
            for d in 0..self.days() {
                if weekday(self.day_number(d)) == 0 {
                    taken.push((self.local(d, 9 * 60 + 30), self.local(d, 11 * 60)));
                }
            }
        }
        let audits = taken.len();
        self.vuln_scan(&mut taken);
        taken.drain(..audits);
        self.password_rotation(&mut people, &mut taken);
        self.new_admin(&mut people, names_rng, &mut taken);
        self.finish()
    }

    /// An administrator for a look-alike, never one an attack is about nor
    /// the other look-alike's: preferably one no label names at all (not
    /// even as one of a spray's many targets), else one in no other
    /// pattern, else one already in a benign pattern. Small organisations
    /// (two administrators) may have none.
    fn pick_admin(&mut self, people: &People) -> Option<usize> {
        let org = self.org;
        let admins: Vec<usize> = (0..org.users.len())
            .filter(|&i| {
                let u = &org.users[i];
                u.admin
                    && u.team != Team::Service
                    && !people.attacked.contains(&u.name)
                    && !people.mine.contains(&u.name)
            })
            .collect();
        let names = &*self.names;
        let tiers: [&dyn Fn(&User) -> bool; 3] = [
            &|u| !people.busy.contains(&u.name) && !people.named.contains(names.get(u.name)),
            &|u| !people.busy.contains(&u.name),
            &|_| true,
        ];
        let pool = tiers.iter().find_map(|tier| {
            let pool: Vec<usize> = admins.iter().copied().filter(|&i| tier(&org.users[i])).collect();
            (!pool.is_empty()).then_some(pool)
        })?;
        pool.choose(&mut self.rng).copied()
    }

    /// Whether `[a, b]` is inside the period.
    fn inside(&self, a: i64, b: i64) -> bool {
        a >= self.start + MINUTE && b < self.end - MINUTE
    }

    /// Once a period, on a weekday in working hours, the vulnerability
    /// scanner visits 15–30 servers (internal ones first) over 1–2 hours and
    /// tries 10–16 default-credential names on each, 1–2 wrong passwords
    /// per name within a few minutes. It never gets in.
    fn vuln_scan(&mut self, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let want = self.rng.gen_range(15..=30);
        let mut servers = self.internal_servers();
        servers.shuffle(&mut self.rng);
        let mut more: Vec<u32> = org.servers.iter().copied().filter(|h| !servers.contains(h)).collect();
        more.shuffle(&mut self.rng);
        servers.extend(more);
        servers.truncate(want);
        if servers.is_empty() {
            return;
        }
        let account = |names: &mut crate::names::Names, s: &str| {
            let sym = names.intern(s);
            (sym, !org.accounts.contains(&sym))
        };
        let must: Vec<(Sym, bool)> = ["root", "admin"].iter().map(|s| account(self.names, s)).collect();
        let others: Vec<(Sym, bool)> = SCAN_NAMES.iter().map(|s| account(self.names, s)).collect();
        let dur = self.rng.gen_range(HOUR..=2 * HOUR);
        let seg = self.rng.gen_range(0..6);
        // Start by 15:00 local, done by about 17:00.
        let Some(t0) = self.slot(seg, dur + 5 * MINUTE, true, (9 * 60, 15 * 60), taken) else {
            return;
        };
        let src = IpAddr::V4(VULN_SCANNER);
        let mut d = Draft::new(CampaignKind::BenignVulnScan);
        d.ips.push(src);
        d.hosts.extend(&servers);
        let step = dur / servers.len() as i64;
        for (i, &host) in servers.iter().enumerate() {
            let mut tries = others.clone();
            tries.shuffle(&mut self.rng);
            tries.truncate(self.rng.gen_range(8..=14));
            tries.extend(&must);
            tries.shuffle(&mut self.rng);
            let mut t = t0 + i as i64 * step + self.rng.gen_range(0..=step / 4);
            for (user, invalid) in tries {
                d.users.push(user);
                let (p, port) = (pid(&mut self.rng), any_port(&mut self.rng));
                if invalid {
                    d.push(Ev::new(t, host, p, Kind::InvalidUser).user(user).from(src, port));
                }
                let kind = if invalid {
                    Kind::FailedPasswordInvalid
                } else {
                    Kind::FailedPassword
                };
                for _ in 0..self.rng.gen_range(1..=2) {
                    t += self.rng.gen_range(1..4);
                    d.push(Ev::new(t, host, p, kind).user(user).from(src, port));
                }
                t += self.rng.gen_range(0..2);
                d.push(Ev::new(t, host, p, Kind::ConnClosedPreauth).from(src, port));
                t += self.rng.gen_range(3..15);
            }
        }
        self.drafts.push(d);
    }

    /// Once a period, on a weekday in their working hours, an administrator
    /// rotates the passwords of 10–30 service and local accounts on 5–12
    /// internal servers: on each, in one session, one `chpasswd` run or one
    /// `passwd` per account, all within minutes. Most servers hold ten or
    /// more of the accounts, so the account-change burst rule alerts there.
    fn password_rotation(&mut self, people: &mut People, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let Some(ui) = self.pick_admin(people) else {
            return;
        };
        let u = &org.users[ui];
        let invalid: HashSet<Sym> = self.invalid_names.iter().copied().collect();
        let mut accounts: Vec<Sym> = Vec::new();
        for name in ROTATED_ACCOUNTS {
            let scanned = self.names.lookup(name).is_some_and(|s| invalid.contains(&s));
            if scanned || people.named.contains(*name) || DORMANT_SERVICES.contains(name) {
                continue;
            }
            accounts.push(self.names.intern(name));
        }
        accounts.shuffle(&mut self.rng);
        accounts.truncate(self.rng.gen_range(10..=30));
        let mut servers = self.internal_servers();
        servers.shuffle(&mut self.rng);
        servers.truncate(self.rng.gen_range(5..=12));
        let n = accounts.len();
        if servers.is_empty() || n == 0 {
            return;
        }
        let src = IpAddr::V4(u.src_ip);
        let fp = if u.password_auth { NONE } else { u.key_fp };
        let root = org.root;
        let chpasswd = self.names.intern("/usr/sbin/chpasswd");
        let mut d = Draft::new(CampaignKind::BenignPasswordRotation);
        d.ips.push(src);
        d.users.push(u.name);
        d.users.extend(&accounts);
        d.hosts.extend(&servers);
        // Planned from time 0, then moved to a free slot.
        let mut t = 0;
        for &host in &servers {
            let mut here = accounts.clone();
            here.shuffle(&mut self.rng);
            let k = if n <= 10 || self.rng.gen_bool(0.7) {
                self.rng.gen_range(n.min(10)..=n)
            } else {
                self.rng.gen_range(4.min(n)..10)
            };
            here.truncate(k);
            let login = t;
            let mut at = t + self.rng.gen_range(20..90);
            let tty = self.rng.gen_range(0..6);
            if self.rng.gen_bool(0.5) {
                // One run over a prepared list.
                let p = pid(&mut self.rng);
                d.extend(Ev::sudo_opened(at, host, p, u.name, root, chpasswd, tty));
                let child = pid(&mut self.rng);
                for &account in &here {
                    at += self.rng.gen_range(0..2);
                    d.push(
                        Ev::new(at, host, child, Kind::PasswordChanged)
                            .user(account)
                            .other(root),
                    );
                }
                at += 1;
                d.push(Ev::new(at, host, p, Kind::SudoSessionClosed).user(u.name).other(root));
            } else {
                for &account in &here {
                    let cmd = format!("/usr/bin/passwd {}", self.names.get(account));
                    let cmd = self.names.intern(&cmd);
                    let p = pid(&mut self.rng);
                    d.extend(Ev::sudo_opened(at, host, p, u.name, root, cmd, tty));
                    at += self.rng.gen_range(3..9);
                    let child = pid(&mut self.rng);
                    d.push(
                        Ev::new(at, host, child, Kind::PasswordChanged)
                            .user(account)
                            .other(root),
                    );
                    d.push(Ev::new(at, host, p, Kind::SudoSessionClosed).user(u.name).other(root));
                    at += self.rng.gen_range(5..13);
                }
            }
            let end = at + self.rng.gen_range(30..180);
            self.session(&mut d, host, u.name, src, login, end - login, u.password_auth, fp);
            t = end + self.rng.gen_range(MINUTE..=4 * MINUTE);
        }
        let from = i64::from(u.start_min) + 30;
        let to = (i64::from(u.start_min + u.work_len) - 60 - t / MINUTE).max(from + 1);
        let seg = self.rng.gen_range(0..6);
        let Some(t0) = self.slot(seg, t, true, (from, to), taken) else {
            return;
        };
        for e in &mut d.events {
            e.ts += t0;
        }
        people.mine.insert(u.name);
        self.drafts.push(d);
    }

    /// A name of the people's form used by nobody: the seed's shuffled list
    /// of free names, one entry per week, so each period's newcomer differs.
    fn newcomer_name(&mut self, mut names_rng: ChaCha8Rng, named: &HashSet<String>) -> Option<Sym> {
        let mut candidates: Vec<String> = FIRST_NAMES.iter().map(|f| f.to_string()).collect();
        for f in FIRST_NAMES {
            candidates.extend(LAST_INITIALS.iter().map(|&c| format!("{f}{}", c as char)));
        }
        candidates.retain(|c| self.names.lookup(c).is_none() && !named.contains(c));
        candidates.shuffle(&mut names_rng);
        let week = self.start.div_euclid(7 * DAY);
        let i = usize::try_from(week.rem_euclid(candidates.len().max(1) as i64)).ok()?;
        let name = candidates.get(i)?;
        Some(self.names.intern(name))
    }

    /// A new administrator's first week: on its first working day an
    /// administrator creates the account on the bastion and 3–7 internal
    /// servers (useradd, a first password, the `sudo` group); then for five
    /// working days the newcomer logs in with a password from a new
    /// workstation to the bastion and those servers and runs sudo there. Two
    /// typos on the first day.
    fn new_admin(&mut self, people: &mut People, names_rng: ChaCha8Rng, taken: &mut Vec<(i64, i64)>) {
        let org = self.org;
        let Some(ci) = self.pick_admin(people) else {
            return;
        };
        let creator = &org.users[ci];
        // The first week: five working days from a weekday, Mondays and days
        // whose morning is free of other campaigns first.
        let working: Vec<i64> = (0..self.days()).filter(|&d| self.is_weekday(d)).collect();
        let mut starts: Vec<(usize, bool, bool, i64, i64)> = Vec::new();
        for j in 0..working.len() {
            let d0 = working[j];
            let minute = i64::from(creator.start_min) + self.rng.gen_range(20..90);
            let t = self.local(d0, minute) + self.rng.gen_range(0..MINUTE);
            // Account creation takes well under an hour.
            let (a, b) = (t - MARGIN, t + HOUR + MARGIN);
            if !self.inside(t, t + HOUR) {
                continue;
            }
            let free = |spans: &[(i64, i64)]| spans.iter().all(|&(x, y)| b <= x || a >= y);
            let free = free(taken) && free(&self.avoid);
            let monday = weekday(self.day_number(d0)) == 0;
            let len = (working.len() - j).min(FIRST_WEEK);
            starts.push((len, free, monday, d0, t));
        }
        starts.shuffle(&mut self.rng);
        starts.sort_by_key(|&(len, free, monday, ..)| (std::cmp::Reverse(len), !free, !monday));
        let Some(&(_, _, _, first_day, t_create)) = starts.first() else {
            return;
        };
        let Some(name) = self.newcomer_name(names_rng, &people.named) else {
            return;
        };
        // A new workstation: the next free address of the workstation range.
        let n_ws = org.hosts.iter().filter(|h| h.role == Role::Workstation).count();
        let busy: HashSet<Ipv4Addr> = org
            .users
            .iter()
            .flat_map(|u| [u.src_ip, u.vpn_ip])
            .chain(org.hosts.iter().map(|h| h.ip))
            .collect();
        let mut idx = n_ws + 1 + self.rng.gen_range(0..40);
        let ws = loop {
            let ip = Ipv4Addr::new(10, 20 + (idx / 250) as u8, (idx % 250) as u8, 100);
            if !busy.contains(&ip) {
                break ip;
            }
            idx += 1;
        };
        let bastion = org.first_of(Role::Bastion);
        let mut servers: Vec<u32> = self
            .internal_servers()
            .into_iter()
            .filter(|&h| Some(h) != bastion)
            .collect();
        servers.shuffle(&mut self.rng);
        servers.truncate(if bastion.is_some() {
            self.rng.gen_range(3..=7)
        } else {
            self.rng.gen_range(4..=8)
        });
        if servers.is_empty() {
            return;
        }
        people.mine.insert(creator.name);
        let days: Vec<i64> = working
            .iter()
            .copied()
            .filter(|&d| d >= first_day)
            .take(FIRST_WEEK)
            .collect();
        let hosts: Vec<u32> = bastion.into_iter().chain(servers.iter().copied()).collect();
        let src = IpAddr::V4(ws);
        let creator_src = IpAddr::V4(creator.src_ip);
        let mut d = Draft::new(CampaignKind::BenignNewAdmin);
        d.ips.extend([src, creator_src]);
        d.users.extend([name, creator.name]);
        d.hosts.extend(&hosts);

        // The account, host after host.
        let root = org.root;
        let who = self.names.get(name).to_string();
        let uid = 1001 + org.users.len() as u32 + self.rng.gen_range(0..5);
        let useradd = self.names.intern(&format!("/usr/sbin/useradd -m -s /bin/bash {who}"));
        let passwd = self.names.intern(&format!("/usr/bin/passwd {who}"));
        let usermod = self.names.intern(&format!("/usr/sbin/usermod -aG sudo {who}"));
        let fp = if creator.password_auth { NONE } else { creator.key_fp };
        let mut t = t_create;
        for &host in &hosts {
            let tty = self.rng.gen_range(0..6);
            let mut at = t + self.rng.gen_range(20..60);
            let p = pid(&mut self.rng);
            let sudo = |d: &mut Draft, at: i64, p: u32, cmd: Sym| {
                d.extend(Ev::sudo_opened(at, host, p, creator.name, root, cmd, tty));
            };
            let closed = |d: &mut Draft, at: i64, p: u32| {
                d.push(
                    Ev::new(at, host, p, Kind::SudoSessionClosed)
                        .user(creator.name)
                        .other(root),
                );
            };
            sudo(&mut d, at, p, useradd);
            let child = pid(&mut self.rng);
            d.push(Ev::new(at, host, child, Kind::NewGroup).user(name).other(root).num(uid));
            d.push(
                Ev::new(at, host, child, Kind::NewUser)
                    .user(name)
                    .other(root)
                    .num(uid)
                    .tty(tty),
            );
            closed(&mut d, at + 1, p);
            at += self.rng.gen_range(10..40);
            let p = pid(&mut self.rng);
            sudo(&mut d, at, p, passwd);
            at += self.rng.gen_range(5..15);
            d.push(Ev::new(at, host, p + 1, Kind::PasswordChanged).user(name).other(root));
            closed(&mut d, at, p);
            at += self.rng.gen_range(20..60);
            let p = pid(&mut self.rng);
            sudo(&mut d, at, p, usermod);
            let child = pid(&mut self.rng);
            d.push(Ev::new(at, host, child, Kind::AddToGroup).user(name).other(root));
            d.push(Ev::new(at, host, child, Kind::AddToShadowGroup).user(name).other(root));
            closed(&mut d, at + 1, p);
            at += 1;
            let end = at + self.rng.gen_range(10..60);
            self.session(
                &mut d,
                host,
                creator.name,
                creator_src,
                t,
                end - t,
                creator.password_auth,
                fp,
            );
            t = end + self.rng.gen_range(30..180);
        }
        taken.push((t_create - MARGIN, t + MARGIN));

        // The newcomer's week: each server first visited on some day.
        let mut first_visit: Vec<usize> = servers.iter().map(|_| self.rng.gen_range(0..days.len())).collect();
        first_visit[0] = 0;
        let start_min = i64::from(self.rng.gen_range(8 * 60..=9 * 60 + 30));
        let mut typos = 2;
        for (k, &day) in days.iter().enumerate() {
            let begin = if k == 0 {
                t + self.rng.gen_range(20 * MINUTE..60 * MINUTE)
            } else {
                let minute = start_min + self.rng.gen_range(-20..=20);
                self.local(day, minute) + self.rng.gen_range(0..MINUTE)
            };
            let close = self.local(day, start_min + 8 * 60 + 30).max(begin + 3 * HOUR);
            let mut visits: Vec<u32> = servers
                .iter()
                .zip(&first_visit)
                .filter(|&(_, &f)| f == k)
                .map(|(&h, _)| h)
                .collect();
            if k > 0 && self.rng.gen_bool(0.7) {
                visits.extend(servers.choose(&mut self.rng));
            }
            // The bastion first thing in the morning and once after lunch.
            let mut logins: Vec<(u32, i64)> = Vec::new();
            if let Some(b) = bastion {
                logins.push((b, begin));
                logins.push((
                    b,
                    begin + self.rng.gen_range(4 * HOUR..5 * HOUR).min(close - begin - HOUR),
                ));
            }
            for &h in &visits {
                logins.push((
                    h,
                    begin + self.rng.gen_range(5 * MINUTE..(close - begin - HOUR).max(6 * MINUTE)),
                ));
            }
            logins.sort_by_key(|&(_, at)| at);
            for (host, at) in logins {
                let len = self.rng.gen_range(20 * MINUTE..90 * MINUTE);
                if !self.inside(at, at + len + 10) {
                    continue;
                }
                let typo = typos > 0 && k == 0;
                if typo {
                    typos -= 1;
                }
                self.newcomer_session(&mut d, host, name, src, at, len, typo);
                if Some(host) != bastion {
                    for _ in 0..self.rng.gen_range(1..=3) {
                        let cmd = *ADMIN_COMMANDS.choose(&mut self.rng).unwrap_or(&"/usr/bin/df -h");
                        let when = at + self.rng.gen_range(MINUTE..len - MINUTE);
                        self.sudo_once(&mut d, host, name, cmd, when);
                    }
                }
            }
        }
        self.drafts.push(d);
    }

    /// A password login of `user`, after one typo on the same connection
    /// when `typo`.
    #[allow(clippy::too_many_arguments)]
    fn newcomer_session(&mut self, d: &mut Draft, host: u32, user: Sym, src: IpAddr, t: i64, len: i64, typo: bool) {
        if !typo {
            self.session(d, host, user, src, t, len, true, NONE);
            return;
        }
        let (p, port) = (pid(&mut self.rng), client_port(&mut self.rng));
        d.push(Ev::new(t, host, p, Kind::FailedPassword).user(user).from(src, port));
        let t = t + self.rng.gen_range(3..12);
        d.push(Ev::new(t, host, p, Kind::AcceptedPassword).user(user).from(src, port));
        d.push(Ev::new(t, host, p, Kind::SshSessionOpened).user(user));
        let e = t + len;
        d.push(Ev::new(e, host, p, Kind::ReceivedDisconnect).from(src, port));
        d.push(Ev::new(e, host, p, Kind::DisconnectedUser).user(user).from(src, port));
        d.push(Ev::new(e, host, p, Kind::SshSessionClosed).user(user));
    }
}
