//! Deterministic generator of realistic, labelled authentication logs.
//!
//! A simulated organisation (servers such as `web-01`, `db-02`, `bastion-01`
//! and workstations `ws-017`; people with office hours in the org's time
//! zone; administrators using sudo; cron; deploy, backup and health-check
//! accounts) produces sshd, sudo, su, CRON, useradd, usermod and passwd
//! events. Internet scanners knock constantly, always below brute-force
//! thresholds. Attack campaigns of six kinds are placed at seeded-random
//! times, and three harmless but noisy patterns repeat daily; each is
//! described by a [`CampaignLabel`].
//!
//! The same [`GeneratorConfig`] (seed included) gives byte-identical output.
//! Generation streams one simulated hour at a time, so memory stays small
//! at any size.
//!
//! ```
//! use loglynx_datasets::{generate, GeneratorConfig, OutputFormat};
//!
//! let cfg = GeneratorConfig { events: 5_000, days: Some(2), ..GeneratorConfig::default() };
//! let mut out = Vec::new();
//! let summary = generate(&cfg, OutputFormat::Syslog, &mut out).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert_eq!(text.lines().count() as u64, summary.lines);
//! assert!(summary.labels.iter().any(|l| l.malicious));
//! assert!(text.contains(" sshd["));
//! ```
//!
//! # Message forms
//!
//! Syslog lines are `Mmm dd hh:mm:ss HOST PROG[PID]: MESSAGE` in UTC, time
//! ordered. The messages are exactly these (`IP` is IPv4 or IPv6):
//!
//! | program | message |
//! | --- | --- |
//! | sshd | `Accepted publickey for U from IP port P ssh2: ED25519 SHA256:KEY` |
//! | sshd | `Accepted password for U from IP port P ssh2` |
//! | sshd | `Failed password for U from IP port P ssh2` |
//! | sshd | `Failed password for invalid user U from IP port P ssh2` |
//! | sshd | `Invalid user U from IP port P` |
//! | sshd | `Did not receive identification string from IP port P` |
//! | sshd | `Connection closed by IP port P [preauth]` |
//! | sshd | `error: maximum authentication attempts exceeded for [invalid user ]U from IP port P ssh2 [preauth]` |
//! | sshd | `Disconnecting authenticating user U IP port P: Too many authentication failures [preauth]` (`Disconnecting invalid user U …` for invalid names) |
//! | sshd | `Received disconnect from IP port P:11: disconnected by user` |
//! | sshd | `Disconnected from user U IP port P` |
//! | sshd | `pam_unix(sshd:session): session opened for user U by (uid=0)` / `session closed for user U` |
//! | sudo | `U : TTY=pts/N ; PWD=/home/U ; USER=root ; COMMAND=CMD` |
//! | sudo | `U : 1 incorrect password attempt ; TTY=pts/N ; PWD=/home/U ; USER=root ; COMMAND=CMD` |
//! | sudo | `pam_unix(sudo:auth): authentication failure; logname=U uid=UID euid=0 tty=/dev/pts/N ruser=U rhost=  user=U` |
//! | sudo | `pam_unix(sudo:session): session opened for user root by U(uid=0)` / `session closed for user root` |
//! | su | `(to T) U on pts/N`, `pam_unix(su:session): session opened for user T by U(uid=UID)` / `session closed for user T` |
//! | CRON | `pam_unix(cron:session): session opened for user root by (uid=0)` / `session closed for user root` |
//! | useradd | `new group: name=X, GID=N`, `new user: name=X, UID=N, GID=N, home=/home/X, shell=/bin/bash, from=/dev/pts/N` |
//! | usermod | `add 'X' to group 'sudo'`, `add 'X' to shadow group 'sudo'` |
//! | passwd | `pam_unix(passwd:chauthtok): password changed for X` |
//!
//! JSON lines carry the same events in ECS form and CSV only the
//! authentication events (accepted, failed, invalid user); see
//! [`OutputFormat`].
//!
//! # Labels
//!
//! A label's `events` counts every line of its campaign (failures, the
//! `Invalid user` and `[preauth]` lines around them, sessions, sudo, …), all
//! within `[start, end]`. Attack sources are public addresses used by no
//! other event. Internet scanners use each address once, with at most three
//! failed passwords and three invalid names, and each name (including
//! `root`) from at most two addresses per hour, so per-source, per-name and
//! enumeration rules stay quiet on them. The benign patterns are internal:
//! `backup` fails three times at ~06:00 local then logs in; `healthcheck`
//! fails six times within two minutes at ~06:10 local against one web server
//! and never succeeds; one person fails twice, twice each working day.
//!
//! # Stealthy campaigns and look-alikes
//!
//! With [`GeneratorConfig::stealthy`] (`--stealthy`) six more attacks, each
//! built to stay under every per-source threshold of the built-in rules, and
//! three routine patterns that resemble attacks are added, one of each per
//! period, hours apart and sharing no person or address:
//!
//! | kind | what |
//! | --- | --- |
//! | `slow-spray` | one public IP, one `Failed password` per valid person (25–45), 6–15 minutes apart, 1–2 exposed hosts |
//! | `credential-stuffing` | 50–120 public IPs, 1–2 attempts each with names of a leaked list (65 % real people), one host, 2–5 hours, no name from more than 4 IPs; one IP (two from 90 IPs) logs in after at most one failure |
//! | `dormant-account` | a name found nowhere else in the seed's output logs in with a key at 00:30–04:30 from a workstation to 2–4 internal servers |
//! | `lateral-movement` | a person logs in to internal server A as usual, `su` or `sudo /bin/bash` to root, then `Accepted publickey for root from` A's address on 2–3 other servers |
//! | `stolen-key` | an office-hours person's key from a new public IP at 22:00–05:00, 15–60 minutes, maybe one sudo |
//! | `concurrent-use` | an office login, then 1–8 minutes later a password login of the same person from a new public IP |
//! | `benign-credential-audit` | every Monday 10:00–10:30 the scanner 10.0.6.250 fails 5–6 times within 3 minutes for `root` and `admin` on each of 6–10 servers |
//! | `benign-travel` | a person works 2–3 weekdays only from a hotel's public IP |
//! | `benign-admin-hop` | every working day an administrator's root shell on the bastion and logins as themselves from it to the same 2–4 servers |
//!
//! With `attacks` off only the look-alikes are added, exactly those of the
//! period with attacks (their people are none the attacks would be about). The planning draws
//! from its own random stream, so without `stealthy` the output is
//! byte-identical to what it was before these kinds existed.
//!
//! With [`GeneratorConfig::lookalikes`] (`--lookalikes`), with or without
//! `stealthy` and `attacks`, three more routine patterns are added, one of
//! each per period ([`LOOKALIKES`]). Unlike the look-alikes above they trip
//! rules on purpose (the brute-force, enumeration and spraying rules, the
//! account-change burst, a new account put in the `sudo` group, and with a
//! baseline the new-terms rules), to measure how analysts' verdicts cut
//! false alerts from one period to the next:
//!
//! | kind | what |
//! | --- | --- |
//! | `benign-vuln-scan` | once, on a weekday at 09:00–17:00 for 1–2 hours, the vulnerability scanner 10.0.6.251 (the same in every period) visits 15–30 servers (every one when there are fewer), internal ones first, and tries 10–16 default-credential names (`root`, `admin`, `oracle`, `pi`, `ubnt`, `guest`, `deploy`, …) with 1–2 wrong passwords each, a few minutes per server; it never gets in |
//! | `benign-password-rotation` | once, on a weekday in their working hours, an administrator logs in to 5–12 internal servers one after the other and rotates the passwords of 10–30 service and local accounts (`deploy`, `monitor`, `svc_…`) within about an hour: `sudo chpasswd`, or `sudo passwd X` per account, and one `password changed for X` line per account; most servers get ten or more within minutes |
//! | `benign-new-admin` | a new administrator's first week: on its first working day an administrator creates the account on the bastion and 3–7 internal servers (`sudo useradd`, `passwd`, `usermod -aG sudo`: the `useradd`, `passwd` and `usermod` lines); then for five working days the newcomer, a name found nowhere else and new in each period, logs in with a password from a new workstation address (never a public one) to the bastion and those servers and runs sudo on them; two typos on the first day |
//!
//! The rotating and the creating administrator are two different ones,
//! neither of them a person an attack is about; an organisation of a few
//! dozen people may have no such administrator left, and then the pattern
//! is left out. The scan and the account creation keep clear of the
//! attacks' spans when the period has room. With `attacks` off the
//! look-alikes are exactly those of the period with attacks. They are
//! planned last, from their own random stream (and the period's first day),
//! so without `lookalikes` the output is byte-identical to what it was
//! before these kinds existed, and with it every other label stays the same.
//!
//! # Size
//!
//! `events` is met within a few percent from about 5 000 events up; below
//! that the campaigns (several hundred lines), benign patterns (~35 lines
//! a day) and `lookalikes` (about a thousand lines) can exceed the request.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod campaigns;
mod event;
pub use loglynx_labels as labels;
mod names;
mod net;
mod org;
mod sim;
mod timefmt;

pub use labels::{read_labels, read_labels_file, write_labels, CampaignKind, CampaignLabel};

use campaigns::Planner;
use event::Formatter;
use names::Names;
use net::stream_rng;
use org::Org;
use sim::{schedule_cron, Engine};
use timefmt::{midnight, DAY};

/// Output form of the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// RFC 3164 syslog lines, all hosts interleaved.
    #[default]
    Syslog,
    /// ECS JSON lines: `@timestamp`, `host.name`, `source.ip`/`port`,
    /// `user.name` (and `user.target.name`), `event.action`/`outcome`,
    /// `process.name`/`pid` (and `command_line` for sudo), `message`.
    Json,
    /// `timestamp,source_ip,username,success,system` rows of the
    /// authentication events only.
    Csv,
}

impl OutputFormat {
    /// The `--format` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Syslog => "syslog",
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
        }
    }

    /// The format a file name suggests (`.json`/`.jsonl`/`.ndjson`, `.csv`,
    /// anything else syslog), looking through a `.gz` suffix.
    pub fn from_path(path: &Path) -> OutputFormat {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            OutputFormat::Json
        } else if name.ends_with(".csv") {
            OutputFormat::Csv
        } else {
            OutputFormat::Syslog
        }
    }
}

/// What to generate. Sizes left `None` scale with `events` and `days`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Approximate number of events (syslog or JSON lines).
    pub events: u64,
    /// Length of the period in days; default from `events` (7–60).
    pub days: Option<u32>,
    /// First day of the period (starts at 00:00 UTC).
    pub start: NaiveDate,
    pub seed: u64,
    /// Number of people; default from events per day.
    pub users: Option<usize>,
    /// Number of hosts (servers and workstations); default from events per day.
    pub hosts: Option<usize>,
    /// Place attack campaigns; `false` gives a quiet baseline period with
    /// scanners and benign noise only.
    pub attacks: bool,
    /// The organisation's time zone as hours east of UTC (office hours and
    /// the night of account compromises are local).
    pub utc_offset_hours: i32,
    /// Add the stealthy campaigns (with `attacks`) and the benign
    /// look-alikes; see [`CampaignKind::STEALTHY`] and
    /// [`CampaignKind::LOOK_ALIKES`]. Without it the output is exactly what
    /// it was before these existed.
    pub stealthy: bool,
    /// Add three more routine patterns that alert ([`LOOKALIKES`]: a
    /// vulnerability scan, a password rotation, a new administrator's first
    /// week), with or without `stealthy` and `attacks`. Without it the output
    /// is exactly what it was before these existed.
    pub lookalikes: bool,
    /// Share of the background that is not cron which is internet scanning
    /// (each scanner address used once: one source entity-window each);
    /// `None` is the default mix (22%). Raising it makes the high-cardinality
    /// logs that memory benchmarks need.
    pub scan_share: Option<f64>,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            events: 100_000,
            days: None,
            start: NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date"),
            seed: 42,
            users: None,
            hosts: None,
            attacks: true,
            utc_offset_hours: 1,
            stealthy: false,
            lookalikes: false,
            scan_share: None,
        }
    }
}

/// The sizes actually used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Length of the period in days.
    pub days: u32,
    /// Number of people (service accounts come on top).
    pub users: usize,
    pub servers: usize,
    pub workstations: usize,
}

impl GeneratorConfig {
    /// The period length and organisation size this config gives.
    pub fn resolve(&self) -> io::Result<Resolved> {
        let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        if self.events == 0 {
            return Err(bad("events must be at least 1".into()));
        }
        let days = match self.days {
            Some(d) if (1..=3660).contains(&d) => d,
            Some(d) => return Err(bad(format!("days must be 1..=3660, got {d}"))),
            None => self.events.div_ceil(10_000).clamp(7, 60) as u32,
        };
        if !(-12..=14).contains(&self.utc_offset_hours) {
            return Err(bad(format!(
                "UTC offset must be -12..=14 hours, got {}",
                self.utc_offset_hours
            )));
        }
        let per_day = self.events as f64 / f64::from(days);
        let users = match self.users {
            Some(u) if (1..=30_000).contains(&u) => u,
            Some(u) => return Err(bad(format!("users must be 1..=30000, got {u}"))),
            None => ((per_day / 60.0) as usize).clamp(5, 3000),
        };
        let (servers, workstations) = match self.hosts {
            Some(h) if (1..=5_000).contains(&h) => {
                let s = if h <= 6 { h } else { (h * 3 / 10).max(6) };
                (s, h - s)
            }
            Some(h) => return Err(bad(format!("hosts must be 1..=5000, got {h}"))),
            None => (
                ((0.3 * per_day / 288.0).round() as usize).clamp(6, 400),
                (users / 3).clamp(1, 999),
            ),
        };
        Ok(Resolved {
            days,
            users,
            servers,
            workstations,
        })
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationSummary {
    /// Events generated (= syslog or JSON lines).
    pub events: u64,
    /// Lines written in the chosen format (CSV: header plus auth events).
    pub lines: u64,
    /// One label per attack campaign and benign pattern, by start time.
    pub labels: Vec<CampaignLabel>,
    /// The simulated period `[start, end)`.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub days: u32,
    pub users: usize,
    pub hosts: usize,
}

impl GenerationSummary {
    /// Number of attack campaigns.
    pub fn campaigns(&self) -> usize {
        self.labels.iter().filter(|l| l.malicious).count()
    }

    /// Number of benign noisy patterns.
    pub fn benign_patterns(&self) -> usize {
        self.labels.len() - self.campaigns()
    }
}

/// Seed of the stealthy planning's own random stream (the other streams
/// draw exactly what they drew before `stealthy` existed).
const STEALTHY_SEED_XOR: u64 = 0x5EA1_7417;

/// Seed of the `lookalikes` planning's own random stream (mixed with the
/// period's first day, so each period gets its own new administrator).
const LOOKALIKES_SEED_XOR: u64 = 0x100C_A11C;

/// The routine patterns [`GeneratorConfig::lookalikes`] adds, one of each
/// per period.
pub const LOOKALIKES: [CampaignKind; 3] = [
    CampaignKind::BenignVulnScan,
    CampaignKind::BenignPasswordRotation,
    CampaignKind::BenignNewAdmin,
];

/// The organisation and the planned campaigns of a config.
struct Setup {
    org: Org,
    names: Names,
    plan: campaigns::Plan,
    /// The stealthy part alone (already merged into `plan`).
    #[cfg_attr(not(test), allow(dead_code))]
    stealthy: Option<campaigns::Plan>,
    /// The `lookalikes` part alone (already merged into `plan`).
    #[cfg_attr(not(test), allow(dead_code))]
    lookalikes: Option<campaigns::Plan>,
    resolved: Resolved,
    start: i64,
    end: i64,
    offset: i64,
}

fn setup(cfg: &GeneratorConfig) -> io::Result<Setup> {
    let r = cfg.resolve()?;
    let start = midnight(cfg.start);
    let end = start + i64::from(r.days) * DAY;
    let offset = i64::from(cfg.utc_offset_hours) * 3600;

    let mut names = Names::default();
    let org = Org::build(
        r.users,
        r.servers,
        r.workstations,
        &mut names,
        &mut stream_rng(cfg.seed, 1),
    );
    // The classic plan, from its own stream: with and without attacks.
    let classic = |names: &mut Names, attacks: bool| {
        Planner::new(&org, names, stream_rng(cfg.seed, 2), start, end, offset, cfg.events).plan(attacks)
    };
    let mut plan = classic(&mut names, cfg.attacks);
    // Who and when the attacks would be, also when they are not placed.
    let full = (!cfg.attacks && (cfg.stealthy || cfg.lookalikes)).then(|| classic(&mut names, true));
    let stealthy_rng = || ChaCha8Rng::seed_from_u64(cfg.seed ^ STEALTHY_SEED_XOR);
    let stealthy = if cfg.stealthy {
        let extra = Planner::new(&org, &mut names, stealthy_rng(), start, end, offset, cfg.events).plan_stealthy(
            cfg.attacks,
            &plan,
            full.as_ref().unwrap_or(&plan),
        );
        let alone = extra.clone();
        plan.merge(extra);
        Some(alone)
    } else {
        None
    };
    // Planned last, so the plans above are what they are without the flag.
    let lookalikes = if cfg.lookalikes {
        let full = match full {
            None => plan.clone(),
            Some(mut full) => {
                if cfg.stealthy {
                    let extra = Planner::new(&org, &mut names, stealthy_rng(), start, end, offset, cfg.events)
                        .plan_stealthy(true, &full, &full);
                    full.merge(extra);
                }
                full
            }
        };
        let day = start.div_euclid(DAY) as u64;
        let rng = ChaCha8Rng::seed_from_u64(net::mix(cfg.seed ^ LOOKALIKES_SEED_XOR) ^ net::mix(day));
        let names_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ LOOKALIKES_SEED_XOR);
        let extra = Planner::new(&org, &mut names, rng, start, end, offset, cfg.events)
            .plan_lookalikes(&plan, &full, names_rng);
        let alone = extra.clone();
        plan.merge(extra);
        Some(alone)
    } else {
        None
    };
    Ok(Setup {
        org,
        names,
        plan,
        stealthy,
        lookalikes,
        resolved: r,
        start,
        end,
        offset,
    })
}

/// Generates the events into `out` (buffered internally) and returns the
/// summary with the labels.
pub fn generate(cfg: &GeneratorConfig, format: OutputFormat, out: &mut dyn Write) -> io::Result<GenerationSummary> {
    let Setup {
        mut org,
        mut names,
        mut plan,
        resolved: r,
        start,
        end,
        offset,
        ..
    } = setup(cfg)?;
    let background = cfg.events.saturating_sub(plan.events.len() as u64);
    let cron_lines = schedule_cron(&mut org, &mut stream_rng(cfg.seed, 3), start, end, background);
    let absent = std::mem::take(&mut plan.absent);
    let mut engine = Engine::new(
        &org,
        &mut names,
        stream_rng(cfg.seed, 4),
        cfg.seed,
        start,
        end,
        offset,
        &plan.reserved_ips,
    );
    engine.absent = absent;
    if let Some(share) = cfg.scan_share {
        engine.user_share_of_rest = 1.0 - share.clamp(0.0, 1.0);
    }
    let mut fmt = Formatter::new(&org, &names, format);
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let totals = engine.run(&plan.events, cron_lines, cfg.events, &mut fmt, &mut w)?;
    w.flush()?;
    let time = |ts: i64| DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
    Ok(GenerationSummary {
        events: totals.events,
        lines: totals.lines,
        labels: plan.labels,
        start: time(start),
        end: time(end),
        days: r.days,
        users: r.users,
        hosts: org.hosts.len(),
    })
}

/// One host of the simulated organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Host name as it appears in the logs, e.g. `web-01`.
    pub host: String,
    /// Its internal IPv4 address.
    pub address: std::net::Ipv4Addr,
    /// `web`, `db`, `bastion`, `build`, `mon`, `backup`, `app`, `git`,
    /// `mail`, `cache`, `log` or `workstation`.
    pub role: &'static str,
}

/// Every host (servers, then workstations) of the organisation `cfg`
/// simulates; the same as [`generate`]'s for that config.
pub fn assets(cfg: &GeneratorConfig) -> io::Result<Vec<Asset>> {
    let r = cfg.resolve()?;
    let org = Org::build(
        r.users,
        r.servers,
        r.workstations,
        &mut Names::default(),
        &mut stream_rng(cfg.seed, 1),
    );
    Ok(org
        .hosts
        .iter()
        .map(|h| Asset {
            host: h.name.clone(),
            address: h.ip,
            role: h.role.name(),
        })
        .collect())
}

/// Writes the asset list as CSV (`host,address,role` header, one row per
/// host).
pub fn write_assets(assets: &[Asset], out: &mut dyn Write) -> io::Result<()> {
    out.write_all(b"host,address,role\n")?;
    for a in assets {
        writeln!(out, "{},{},{}", a.host, a.address, a.role)?;
    }
    out.flush()
}

/// Writes the asset list of `cfg`'s organisation to `path` atomically (see
/// [`write_output`]); returns the number of hosts.
pub fn write_assets_file(cfg: &GeneratorConfig, path: &Path) -> io::Result<usize> {
    let list = assets(cfg)?;
    write_output(path, |w| write_assets(&list, w))?;
    Ok(list.len())
}

pub use loglynx_labels::is_gzip_path;

/// Writes a file atomically: into a temporary file in the same directory
/// (created if missing), renamed over `path` once complete; gzip-compressed
/// when `path` ends in `.gz`. The path `-` means standard output.
pub fn write_output<T>(path: &Path, body: impl FnOnce(&mut dyn Write) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut lock = stdout.lock();
        let value = body(&mut lock)?;
        lock.flush()?;
        return Ok(value);
    }
    // Devices, pipes and the like are written in place; a symlink is
    // followed so that its target is replaced, not the link.
    let resolved;
    let path = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(target) => {
                resolved = target;
                resolved.as_path()
            }
            Err(_) => path,
        },
        _ => path,
    };
    if let Ok(m) = std::fs::metadata(path) {
        if m.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a directory", path.display()),
            ));
        }
        if !m.is_file() {
            let file = File::options().write(true).open(path)?;
            return write_stream(path, &file, body);
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let context = |e: io::Error, what: &str| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(|e| context(e, "cannot create the directory of"))?;
    let tmp = tempfile::Builder::new()
        .prefix(".loglynx-gen-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| context(e, "cannot create a temporary file for"))?;
    let file: &File = tmp.as_file();
    let value = write_stream(path, file, body)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| context(e.error, "cannot write"))?;
    Ok(value)
}

/// Runs `body` on a buffered (and, for `.gz` names, compressing) writer
/// over `file`.
fn write_stream<T>(path: &Path, file: &File, body: impl FnOnce(&mut dyn Write) -> io::Result<T>) -> io::Result<T> {
    if is_gzip_path(path) {
        let mut gz = GzEncoder::new(BufWriter::with_capacity(1 << 20, file), Compression::new(3));
        let value = body(&mut gz)?;
        gz.finish()?.flush()?;
        Ok(value)
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let value = body(&mut w)?;
        w.flush()?;
        Ok(value)
    }
}

/// Generates into `output` (`-` = stdout, `.gz` = gzip, written atomically)
/// and, when given, writes the labels as JSON lines to `labels`.
pub fn generate_to_path(
    cfg: &GeneratorConfig,
    format: OutputFormat,
    output: &Path,
    labels: Option<&Path>,
) -> io::Result<GenerationSummary> {
    let summary = write_output(output, |w| generate(cfg, format, w))?;
    if let Some(path) = labels {
        write_output(path, |w| write_labels(&summary.labels, w))?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lookalikes;
#[cfg(test)]
mod tests_stealthy;
