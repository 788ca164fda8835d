//! Enrichment: IP scope, an asset inventory (host → criticality, owner) and
//! allowlists of addresses, CIDR ranges and users.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::connectors::csv::record_line;

/// Where an address lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpScope {
    Loopback,
    /// RFC 1918, IPv6 unique-local, link-local, CGNAT (100.64/10).
    Private,
    /// Documentation, unspecified, multicast, reserved.
    Special,
    Public,
}

impl IpScope {
    pub fn of(ip: IpAddr) -> IpScope {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                if v4.is_loopback() {
                    IpScope::Loopback
                } else if v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
                    IpScope::Private
                } else if v4.is_unspecified()
                    || v4.is_multicast()
                    || v4.is_broadcast()
                    || v4.is_documentation()
                    || o[0] >= 240
                    || o[0] == 0
                {
                    IpScope::Special
                } else {
                    IpScope::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return IpScope::of(IpAddr::V4(v4));
                }
                let s = v6.segments();
                if v6.is_loopback() {
                    IpScope::Loopback
                } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80 {
                    IpScope::Private
                } else if v6.is_unspecified() || v6.is_multicast() || (s[0] == 0x2001 && s[1] == 0x0db8) {
                    IpScope::Special
                } else {
                    IpScope::Public
                }
            }
        }
    }

    /// Whether `text` is a public address (a host name is not).
    pub fn is_public_address(text: &str) -> bool {
        crate::event::parse_ip(text).is_some_and(|ip| IpScope::of(ip) == IpScope::Public)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IpScope::Loopback => "loopback",
            IpScope::Private => "private",
            IpScope::Special => "special",
            IpScope::Public => "public",
        }
    }
}

/// An IPv4 or IPv6 network in CIDR notation; a bare address is a /32 or
/// /128.
pub fn parse_network(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Errors reading enrichment files.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("`{0}` is not an IP address or CIDR range")]
    Network(String),
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Toml { path: PathBuf, source: toml::de::Error },
    #[error("empty asset inventory")]
    EmptyInventory,
    #[error("asset inventory header has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("line {0}: too few fields")]
    TooFewFields(u64),
    #[error("{0}")]
    Csv(#[from] csv::Error),
    /// An error of the file at `path`.
    #[error("{path}: {source}")]
    In { path: PathBuf, source: Box<EnrichError> },
}

impl EnrichError {
    fn read(path: &Path) -> impl FnOnce(std::io::Error) -> EnrichError + '_ {
        move |source| EnrichError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    fn within(path: &Path) -> impl FnOnce(EnrichError) -> EnrichError + '_ {
        move |e| EnrichError::In {
            path: path.to_path_buf(),
            source: Box::new(e),
        }
    }
}

/// Addresses, networks and users whose events are left out.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    pub networks: Vec<IpNet>,
    pub users: Vec<String>,
}

/// The allowlist file: TOML with `networks = ["10.0.0.0/8", "192.0.2.7"]`
/// and `users = ["nagios"]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Source addresses or CIDR ranges whose events are ignored.
    #[serde(default)]
    pub networks: Vec<String>,
    /// User names whose events are ignored.
    #[serde(default)]
    pub users: Vec<String>,
}

impl Allowlist {
    pub fn from_config(cfg: &AllowlistConfig) -> Result<Self, EnrichError> {
        let networks = cfg
            .networks
            .iter()
            .map(|n| parse_network(n).ok_or_else(|| EnrichError::Network(n.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Allowlist {
            networks,
            users: cfg.users.clone(),
        })
    }

    pub fn from_toml_file(path: &Path) -> Result<Self, EnrichError> {
        let text = std::fs::read_to_string(path).map_err(EnrichError::read(path))?;
        let cfg: AllowlistConfig = toml::from_str(&text).map_err(|source| EnrichError::Toml {
            path: path.to_path_buf(),
            source,
        })?;
        Allowlist::from_config(&cfg).map_err(EnrichError::within(path))
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.users.is_empty()
    }

    pub fn allows(&self, ip: Option<IpAddr>, user: Option<&str>) -> bool {
        if let Some(ip) = ip {
            if self.networks.iter().any(|n| n.contains(&ip)) {
                return true;
            }
        }
        user.is_some_and(|u| self.users.iter().any(|a| a == u))
    }
}

/// What the inventory knows of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    pub criticality: String,
    pub owner: String,
}

/// Host → criticality and owner, from a CSV with header `host,criticality,owner`.
#[derive(Debug, Clone, Default)]
pub struct AssetInventory {
    assets: HashMap<String, Asset>,
}

impl AssetInventory {
    pub fn from_csv_file(path: &Path) -> Result<Self, EnrichError> {
        let text = std::fs::read_to_string(path).map_err(EnrichError::read(path))?;
        Self::from_csv_str(&text).map_err(EnrichError::within(path))
    }

    /// Reads the inventory from CSV text (RFC 4180 quoting; header names
    /// compared without case; blank lines skipped).
    pub fn from_csv_str(text: &str) -> Result<Self, EnrichError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers()?.iter().map(str::to_ascii_lowercase).collect();
        if header.is_empty() {
            return Err(EnrichError::EmptyInventory);
        }
        let col = |name: &'static str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or(EnrichError::MissingColumn(name))
        };
        let host = col("host")?;
        let crit = col("criticality")?;
        let owner = col("owner").ok();
        let mut assets = HashMap::new();
        for record in reader.records() {
            let record = record?;
            if record.iter().all(str::is_empty) {
                continue;
            }
            let get = |c: usize| {
                record
                    .get(c)
                    .ok_or_else(|| EnrichError::TooFewFields(record_line(text.as_bytes(), &record)))
            };
            assets.insert(
                get(host)?.to_owned(),
                Asset {
                    criticality: get(crit)?.to_owned(),
                    owner: owner.and_then(|c| record.get(c)).unwrap_or_default().to_owned(),
                },
            );
        }
        Ok(AssetInventory { assets })
    }

    pub fn get(&self, host: &str) -> Option<&Asset> {
        self.assets.get(host)
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let s = |a: &str| IpScope::of(a.parse().unwrap());
        assert_eq!(s("127.0.0.1"), IpScope::Loopback);
        assert_eq!(s("::1"), IpScope::Loopback);
        assert_eq!(s("10.1.2.3"), IpScope::Private);
        assert_eq!(s("172.16.0.1"), IpScope::Private);
        assert_eq!(s("192.168.33.1"), IpScope::Private);
        assert_eq!(s("100.64.1.1"), IpScope::Private);
        assert_eq!(s("fd00::1"), IpScope::Private);
        assert_eq!(s("fe80::1"), IpScope::Private);
        assert_eq!(s("203.0.113.9"), IpScope::Special);
        assert_eq!(s("2001:db8::1"), IpScope::Special);
        assert_eq!(s("173.234.31.186"), IpScope::Public);
        assert_eq!(s("::ffff:8.8.8.8"), IpScope::Public);
        assert_eq!(s("2a00:1450::1"), IpScope::Public);
    }

    #[test]
    fn cidr_and_allowlist() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let c = parse_network("10.0.0.0/8").unwrap();
        assert!(c.contains(&ip("10.200.1.1")));
        assert!(!c.contains(&ip("11.0.0.1")));
        assert!(parse_network("10.0.0.0/33").is_none());
        assert!(parse_network("2001:db8::/32").unwrap().contains(&ip("2001:db8:1::5")));
        // Host bits set: the network still holds its range.
        assert!(parse_network("10.1.2.3/8").unwrap().contains(&ip("10.9.9.9")));
        assert!(parse_network(" 192.0.2.7 ").unwrap().contains(&ip("192.0.2.7")));
        assert!(!parse_network("0.0.0.0/0").unwrap().contains(&ip("::1")));
        let a = Allowlist::from_config(&AllowlistConfig {
            networks: vec!["192.0.2.7".into()],
            users: vec!["nagios".into()],
        })
        .unwrap();
        assert!(a.allows(Some("192.0.2.7".parse().unwrap()), None));
        assert!(!a.allows(Some("192.0.2.8".parse().unwrap()), Some("root")));
        assert!(a.allows(None, Some("nagios")));
        let err = Allowlist::from_config(&AllowlistConfig {
            networks: vec!["nope".into()],
            users: vec![],
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "`nope` is not an IP address or CIDR range");
    }

    #[test]
    fn inventory() {
        let inv =
            AssetInventory::from_csv_str("host,criticality,owner\nweb-01,high,web team\ndb-01,critical,dba\n").unwrap();
        assert_eq!(inv.get("db-01").unwrap().criticality, "critical");
        assert_eq!(inv.len(), 2);
        let err = AssetInventory::from_csv_str("name,owner\n").unwrap_err();
        assert_eq!(err.to_string(), "asset inventory header has no `host` column");
        let err = AssetInventory::from_csv_str("host,criticality\nweb-01,high\n\ndb-01\n").unwrap_err();
        assert_eq!(err.to_string(), "line 4: too few fields");
    }

    #[test]
    fn inventory_reads_quoted_fields() {
        let inv = AssetInventory::from_csv_str(
            "Host, Criticality ,owner\n\"web-01\",high,\"web team, Berlin\"\n\"db,01\" , critical ,\"dba \"\"core\"\"\"\n",
        )
        .unwrap();
        assert_eq!(inv.get("web-01").unwrap().owner, "web team, Berlin");
        assert_eq!(inv.get("db,01").unwrap().criticality, "critical");
        assert_eq!(inv.get("db,01").unwrap().owner, "dba \"core\"");
        assert_eq!(inv.len(), 2);
    }

    #[test]
    fn inventory_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assets.csv");
        std::fs::write(&path, "host,owner\n").unwrap();
        let err = AssetInventory::from_csv_file(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: asset inventory header has no `criticality` column", path.display())
        );
    }
}
