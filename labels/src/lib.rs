//! Ground-truth labels of attack campaigns and benign patterns: one JSON line
//! each. `loglynx-gen` writes them; `loglynx-score --labels` and
//! `loglynx-train --eval` read them, so neither needs the generator.
//!
//! Kinds: the six classic attacks ([`CampaignKind::ATTACKS`]), the six
//! stealthy ones that stay under per-source rule thresholds
//! ([`CampaignKind::STEALTHY`]), the benign noisy scripts and three routine
//! look-alikes of attacks ([`CampaignKind::LOOK_ALIKES`]); each kind's
//! keyword is [`CampaignKind::as_str`] (kebab-case, as in the JSON).
//!
//! Analysts' verdicts on alerts, the labels a team writes itself, are in
//! [`verdicts`].

pub mod verdicts;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a labelled group of events is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignKind {
    /// One IP, hundreds of failed passwords against one host within minutes.
    BruteForceFast,
    /// One IP, a failure every 2–10 minutes for hours against one host.
    BruteForceSlow,
    /// One IP, 20–60 distinct user names, 1–2 attempts each, several hosts.
    PasswordSpraying,
    /// One target user failing from 10–50 distinct IPs within ~30 minutes.
    DistributedBruteForce,
    /// One IP, many `Invalid user` lines with distinct names.
    UserEnumeration,
    /// Failures then a night-time success from a new public IP, sudo,
    /// a backdoor account and lateral movement.
    AccountCompromise,
    /// A harmless but noisy pattern (misconfigured script, stale password).
    BenignNoisyScript,
    /// One IP, one failed password per valid account, 6–15 minutes apart:
    /// spraying below per-source rate thresholds.
    SlowSpray,
    /// 50–120 IPs, one or two attempts each with names from a leaked list
    /// against one host; one or two of them log in.
    CredentialStuffing,
    /// An account seen nowhere else logs in at night from an internal
    /// workstation to several internal servers.
    DormantAccount,
    /// A person gets root on an internal server, then root logs in from that
    /// server's address to other internal servers.
    LateralMovement,
    /// A person's key used at night from a new public address.
    StolenKey,
    /// A person logs in from the office and, minutes later, with a password
    /// from a new public address.
    ConcurrentUse,
    /// Routine: the security team's weekly wrong-password audit of internal
    /// servers (looks like brute force).
    BenignCredentialAudit,
    /// Routine: a person works for a few days from a hotel's public address.
    BenignTravel,
    /// Routine: an administrator's daily root shell on the bastion and hops
    /// from it to internal servers (looks like lateral movement).
    BenignAdminHop,
    /// Routine: a person given a new duty runs their first sudo commands,
    /// from their usual address in working hours (looks like the intruder
    /// of a stolen account trying what it may do).
    BenignFirstSudo,
    /// Routine: the security team's vulnerability scanner tries default
    /// credentials on many internal servers from one fixed internal address
    /// (looks like enumeration, brute force and spraying).
    BenignVulnScan,
    /// Routine: an administrator rotates the passwords of many service and
    /// local accounts on several servers within an hour (looks like an
    /// attacker resetting passwords to take accounts over).
    BenignPasswordRotation,
    /// Routine: an administrator creates a new colleague's account, in the
    /// `sudo` group, on several servers, and the newcomer logs in and uses
    /// sudo there during their first working week (looks like a planted
    /// account, or a new or dormant account used).
    BenignNewAdmin,
}

impl CampaignKind {
    /// Every malicious kind.
    pub const ATTACKS: [CampaignKind; 6] = [
        CampaignKind::BruteForceFast,
        CampaignKind::BruteForceSlow,
        CampaignKind::PasswordSpraying,
        CampaignKind::DistributedBruteForce,
        CampaignKind::UserEnumeration,
        CampaignKind::AccountCompromise,
    ];

    /// Attacks built to stay under every per-source rule threshold
    /// (`loglynx-gen --stealthy`).
    pub const STEALTHY: [CampaignKind; 6] = [
        CampaignKind::SlowSpray,
        CampaignKind::CredentialStuffing,
        CampaignKind::DormantAccount,
        CampaignKind::LateralMovement,
        CampaignKind::StolenKey,
        CampaignKind::ConcurrentUse,
    ];

    /// Routine patterns that resemble attacks (`loglynx-gen --stealthy`).
    pub const LOOK_ALIKES: [CampaignKind; 4] = [
        CampaignKind::BenignCredentialAudit,
        CampaignKind::BenignTravel,
        CampaignKind::BenignAdminHop,
        CampaignKind::BenignFirstSudo,
    ];

    /// The label keyword, e.g. `password-spraying`.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::BruteForceFast => "brute-force-fast",
            CampaignKind::BruteForceSlow => "brute-force-slow",
            CampaignKind::PasswordSpraying => "password-spraying",
            CampaignKind::DistributedBruteForce => "distributed-brute-force",
            CampaignKind::UserEnumeration => "user-enumeration",
            CampaignKind::AccountCompromise => "account-compromise",
            CampaignKind::BenignNoisyScript => "benign-noisy-script",
            CampaignKind::SlowSpray => "slow-spray",
            CampaignKind::CredentialStuffing => "credential-stuffing",
            CampaignKind::DormantAccount => "dormant-account",
            CampaignKind::LateralMovement => "lateral-movement",
            CampaignKind::StolenKey => "stolen-key",
            CampaignKind::ConcurrentUse => "concurrent-use",
            CampaignKind::BenignCredentialAudit => "benign-credential-audit",
            CampaignKind::BenignTravel => "benign-travel",
            CampaignKind::BenignAdminHop => "benign-admin-hop",
            CampaignKind::BenignFirstSudo => "benign-first-sudo",
            CampaignKind::BenignVulnScan => "benign-vuln-scan",
            CampaignKind::BenignPasswordRotation => "benign-password-rotation",
            CampaignKind::BenignNewAdmin => "benign-new-admin",
        }
    }

    /// Whether the kind is an attack.
    pub fn is_malicious(self) -> bool {
        !matches!(
            self,
            CampaignKind::BenignNoisyScript
                | CampaignKind::BenignCredentialAudit
                | CampaignKind::BenignTravel
                | CampaignKind::BenignAdminHop
                | CampaignKind::BenignFirstSudo
                | CampaignKind::BenignVulnScan
                | CampaignKind::BenignPasswordRotation
                | CampaignKind::BenignNewAdmin
        )
    }
}

impl fmt::Display for CampaignKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One labelled campaign or benign pattern.
///
/// `events` is the number of log events (lines of syslog or JSON output)
/// that belong to it, all timed within `[start, end]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLabel {
    /// `c0001`, `c0002`, … for attacks; `b0001`, … for benign patterns.
    pub id: String,
    pub kind: CampaignKind,
    pub malicious: bool,
    /// Source addresses of its events (for account compromise and lateral
    /// movement also the internal address of the host moved from; for the
    /// admin hop the bastion's).
    pub source_ips: Vec<String>,
    /// User names it uses or targets.
    pub users: Vec<String>,
    /// Host names its events are logged on.
    pub hosts: Vec<String>,
    /// Time of its first event.
    pub start: DateTime<Utc>,
    /// Time of its last event.
    pub end: DateTime<Utc>,
    /// Number of events.
    pub events: u64,
}

/// Writes labels as JSON lines.
pub fn write_labels(labels: &[CampaignLabel], out: &mut dyn Write) -> io::Result<()> {
    for label in labels {
        serde_json::to_writer(&mut *out, label)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads labels written by [`write_labels`]; blank lines are skipped.
pub fn read_labels(input: impl BufRead) -> io::Result<Vec<CampaignLabel>> {
    let mut labels = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let label = serde_json::from_str(&line)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("labels line {}: {e}", i + 1)))?;
        labels.push(label);
    }
    Ok(labels)
}

/// Whether a path names a gzip file (`.gz`).
pub fn is_gzip_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Reads a labels file (gzip when the name ends in `.gz`).
pub fn read_labels_file(path: impl AsRef<Path>) -> io::Result<Vec<CampaignLabel>> {
    let path = path.as_ref();
    let file = File::open(path)?;
    if is_gzip_path(path) {
        read_labels(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        read_labels(BufReader::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_split() {
        let all: Vec<CampaignKind> = CampaignKind::ATTACKS
            .iter()
            .chain(&CampaignKind::STEALTHY)
            .chain(&CampaignKind::LOOK_ALIKES)
            .chain(&[CampaignKind::BenignNoisyScript])
            .copied()
            .collect();
        assert_eq!(all.len(), 17);
        for k in &all {
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<CampaignKind>(&json).unwrap(), *k);
        }
        assert!(CampaignKind::STEALTHY.iter().all(|k| k.is_malicious()));
        assert!(CampaignKind::LOOK_ALIKES.iter().all(|k| !k.is_malicious()));
        assert!(CampaignKind::ATTACKS.iter().all(|k| k.is_malicious()));
    }
}
