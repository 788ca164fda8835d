//! The simulated organisation: hosts, people, service accounts.

use std::net::Ipv4Addr;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::names::{Names, Sym, FIRST_NAMES, LAST_INITIALS, SERVICE_ACCOUNTS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Web,
    Db,
    Bastion,
    Build,
    Mon,
    Backup,
    App,
    Git,
    Mail,
    Cache,
    Log,
    Workstation,
}

impl Role {
    fn prefix(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Db => "db",
            Role::Bastion => "bastion",
            Role::Build => "build",
            Role::Mon => "mon",
            Role::Backup => "backup",
            Role::App => "app",
            Role::Git => "git",
            Role::Mail => "mail",
            Role::Cache => "cache",
            Role::Log => "log",
            Role::Workstation => "ws",
        }
    }

    fn subnet(self) -> u8 {
        match self {
            Role::Web => 1,
            Role::App => 2,
            Role::Db => 3,
            Role::Bastion => 4,
            Role::Build | Role::Git => 5,
            Role::Mon | Role::Log => 6,
            Role::Backup => 7,
            Role::Mail => 8,
            Role::Cache => 9,
            Role::Workstation => 20,
        }
    }

    /// Reachable from the internet (scanned, attacked).
    pub(crate) fn exposed(self) -> bool {
        matches!(self, Role::Web | Role::Bastion | Role::Mail)
    }

    /// The role's name in the asset list.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Workstation => "workstation",
            r => r.prefix(),
        }
    }
}

/// Server roles in the order they are added.
const BASE_ROLES: [Role; 6] = [Role::Web, Role::Db, Role::Bastion, Role::Build, Role::Mon, Role::Backup];
const MORE_ROLES: [Role; 12] = [
    Role::Web,
    Role::App,
    Role::App,
    Role::Db,
    Role::Web,
    Role::Git,
    Role::Mail,
    Role::Cache,
    Role::App,
    Role::Log,
    Role::Web,
    Role::Db,
];

#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
    pub role: Role,
    /// Minutes between cron runs, and the phase of the first (minutes).
    pub cron_period: i64,
    pub cron_phase: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Team {
    Dev,
    Data,
    Ops,
    Service,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub name: Sym,
    pub uid: u32,
    pub team: Team,
    pub admin: bool,
    pub password_auth: bool,
    pub key_fp: Sym,
    /// Usual office source address (own workstation or laptop).
    pub src_ip: Ipv4Addr,
    /// Usual remote (VPN) source address.
    pub vpn_ip: Ipv4Addr,
    pub own_ws: Option<u32>,
    /// Usual servers, primary first.
    pub servers: Vec<u32>,
    /// Relative amount of activity.
    pub activity: f64,
    /// Usual start of the working day, minutes after local midnight.
    pub start_min: i32,
    /// Usual working-day length in minutes.
    pub work_len: i32,
    /// Chance per evening hour of being active.
    pub evening: f64,
}

#[derive(Debug)]
pub(crate) struct Org {
    pub hosts: Vec<Host>,
    pub users: Vec<User>,
    pub servers: Vec<u32>,
    pub exposed: Vec<u32>,
    /// Names that are real accounts (people and services).
    pub accounts: Vec<Sym>,
    pub root: Sym,
}

impl Org {
    /// Internet-facing servers other than the bastion, or every
    /// internet-facing one when that leaves none: where an attacker gets in.
    pub(crate) fn entry_hosts(&self) -> Vec<u32> {
        let entry: Vec<u32> = self
            .exposed
            .iter()
            .copied()
            .filter(|&h| self.hosts[h as usize].role != Role::Bastion)
            .collect();
        if entry.is_empty() {
            self.exposed.clone()
        } else {
            entry
        }
    }

    pub(crate) fn first_of(&self, role: Role) -> Option<u32> {
        self.servers
            .iter()
            .copied()
            .find(|&h| self.hosts[h as usize].role == role)
    }

    pub(crate) fn of_role(&self, role: Role) -> Vec<u32> {
        self.servers
            .iter()
            .copied()
            .filter(|&h| self.hosts[h as usize].role == role)
            .collect()
    }

    pub(crate) fn people(&self) -> impl Iterator<Item = &User> {
        self.users.iter().filter(|u| u.team != Team::Service)
    }

    pub(crate) fn ip_of(&self, host: u32) -> Ipv4Addr {
        self.hosts[host as usize].ip
    }

    pub(crate) fn build(n_users: usize, n_servers: usize, n_ws: usize, names: &mut Names, rng: &mut ChaCha8Rng) -> Org {
        let mut hosts = Vec::with_capacity(n_servers + n_ws);
        let mut counts = [0usize; 12];
        for i in 0..n_servers {
            let role = if i < BASE_ROLES.len() {
                BASE_ROLES[i]
            } else {
                MORE_ROLES[(i - BASE_ROLES.len()) % MORE_ROLES.len()]
            };
            counts[role as usize] += 1;
            let idx = counts[role as usize];
            let ip = Ipv4Addr::new(10, (idx / 240) as u8, role.subnet(), 10 + (idx % 240) as u8);
            hosts.push(Host {
                name: format!("{}-{:02}", role.prefix(), idx),
                ip,
                role,
                cron_period: 5,
                cron_phase: 0,
            });
        }
        for i in 0..n_ws {
            let idx = i + 1;
            hosts.push(Host {
                name: format!("ws-{idx:03}"),
                ip: Ipv4Addr::new(10, 20 + (idx / 250) as u8, (idx % 250) as u8, 100),
                role: Role::Workstation,
                cron_period: 60,
                cron_phase: 0,
            });
        }
        let servers: Vec<u32> = (0..n_servers as u32).collect();
        let exposed: Vec<u32> = servers
            .iter()
            .copied()
            .filter(|&h| hosts[h as usize].role.exposed())
            .collect();
        let exposed = if exposed.is_empty() { servers.clone() } else { exposed };
        let root = names.intern("root");

        let mut org = Org {
            hosts,
            users: Vec::new(),
            servers,
            exposed,
            accounts: vec![root],
            root,
        };
        org.add_people(n_users, n_servers, n_ws, names, rng);
        org.add_services(names, rng);
        org
    }

    fn add_people(&mut self, n_users: usize, n_servers: usize, n_ws: usize, names: &mut Names, rng: &mut ChaCha8Rng) {
        let n_admins = (n_users / 10).max(2).min(n_users);
        let n_data = n_users / 5;
        let mut firsts: Vec<&str> = FIRST_NAMES.to_vec();
        firsts.shuffle(rng);
        for i in 0..n_users {
            let name = if i < firsts.len() {
                firsts[i].to_string()
            } else {
                let base = firsts[i % firsts.len()];
                let mut k = 0;
                loop {
                    let initial = LAST_INITIALS[(i / firsts.len() + k) % LAST_INITIALS.len()] as char;
                    let candidate = if k < LAST_INITIALS.len() {
                        format!("{base}{initial}")
                    } else {
                        format!("{base}{initial}{}", k / LAST_INITIALS.len() + 1)
                    };
                    if names.lookup(&candidate).is_none() {
                        break candidate;
                    }
                    k += 1;
                }
            };
            let name = names.intern(&name);
            let (team, admin) = if i < n_admins {
                (Team::Ops, true)
            } else if i < n_admins + n_data {
                (Team::Data, false)
            } else {
                (Team::Dev, false)
            };
            let own_ws = (i < n_ws).then_some((n_servers + i) as u32);
            let src_ip = match own_ws {
                Some(h) => self.hosts[h as usize].ip,
                None => Ipv4Addr::new(10, 30 + (i / 250) as u8, (i % 250) as u8, 50),
            };
            let vpn_ip = Ipv4Addr::new(192, 168, 100 + (i / 250) as u8, (i % 250) as u8 + 2);
            let servers = self.usual_servers(team, rng);
            let fp = key_fingerprint(rng);
            let key_fp = names.intern(&fp);
            let user = User {
                name,
                uid: 1001 + i as u32,
                team,
                admin,
                password_auth: rng.gen_bool(0.3),
                key_fp,
                src_ip,
                vpn_ip,
                own_ws,
                servers,
                activity: (0.3 + rng.gen::<f64>() * 1.7) * if admin { 1.5 } else { 1.0 },
                start_min: rng.gen_range(7 * 60 + 15..=9 * 60 + 45),
                work_len: rng.gen_range(8 * 60..=9 * 60 + 30),
                evening: if rng.gen_bool(0.3) {
                    rng.gen_range(0.02..0.10)
                } else {
                    rng.gen_range(0.0..0.015)
                },
            };
            self.accounts.push(name);
            self.users.push(user);
        }
    }

    fn usual_servers(&self, team: Team, rng: &mut ChaCha8Rng) -> Vec<u32> {
        let want: &[Role] = match team {
            Team::Dev => &[Role::Web, Role::App, Role::Build, Role::Git],
            Team::Data => &[Role::Db, Role::App, Role::Cache],
            Team::Ops | Team::Service => &[
                Role::Bastion,
                Role::Web,
                Role::Db,
                Role::App,
                Role::Mon,
                Role::Backup,
                Role::Log,
                Role::Mail,
                Role::Build,
            ],
        };
        let mut pool: Vec<u32> = self
            .servers
            .iter()
            .copied()
            .filter(|&h| want.contains(&self.hosts[h as usize].role))
            .collect();
        if pool.is_empty() {
            pool = self.servers.clone();
        }
        pool.shuffle(rng);
        let n = match team {
            Team::Ops => rng.gen_range(3..=6),
            _ => rng.gen_range(1..=3),
        };
        pool.truncate(n.min(pool.len()));
        pool
    }

    fn add_services(&mut self, names: &mut Names, rng: &mut ChaCha8Rng) {
        for s in SERVICE_ACCOUNTS {
            let sym = names.intern(s);
            self.accounts.push(sym);
        }
        // `deploy` pushes releases from the build server to web and app servers.
        let (Some(build), targets) = (self.first_of(Role::Build), {
            let mut t = self.of_role(Role::Web);
            t.extend(self.of_role(Role::App));
            t
        }) else {
            return;
        };
        if targets.is_empty() {
            return;
        }
        let fp = key_fingerprint(rng);
        let user = User {
            name: names.intern("deploy"),
            uid: 995,
            team: Team::Service,
            admin: false,
            password_auth: false,
            key_fp: names.intern(&fp),
            src_ip: self.hosts[build as usize].ip,
            vpn_ip: self.hosts[build as usize].ip,
            own_ws: None,
            servers: targets,
            activity: 1.5,
            start_min: 9 * 60,
            work_len: 8 * 60,
            evening: 0.0,
        };
        self.users.push(user);
    }
}

pub(crate) fn key_fingerprint(rng: &mut ChaCha8Rng) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..43).map(|_| B64[rng.gen_range(0..64)] as char).collect()
}
