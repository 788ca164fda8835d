//! Enrichment: IP scope, an asset inventory (host → criticality, owner) and
//! allowlists of addresses, CIDR ranges and users.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

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

    pub fn as_str(self) -> &'static str {
        match self {
            IpScope::Loopback => "loopback",
            IpScope::Private => "private",
            IpScope::Special => "special",
            IpScope::Public => "public",
        }
    }
}

/// An IPv4 or IPv6 network in CIDR notation (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                (u32::from(n) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                (u128::from(n) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

/// Addresses, networks and users whose events are left out.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    pub networks: Vec<Cidr>,
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
    pub fn from_config(cfg: &AllowlistConfig) -> Result<Self, String> {
        let networks = cfg
            .networks
            .iter()
            .map(|n| Cidr::parse(n).ok_or_else(|| format!("`{n}` is not an IP address or CIDR range")))
            .collect::<Result<_, _>>()?;
        Ok(Allowlist {
            networks,
            users: cfg.users.clone(),
        })
    }

    pub fn from_toml_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cfg: AllowlistConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Allowlist::from_config(&cfg).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.users.is_empty()
    }

    pub fn allows(&self, ip: Option<IpAddr>, user: Option<&str>) -> bool {
        if let Some(ip) = ip {
            if self.networks.iter().any(|n| n.contains(ip)) {
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
    pub fn from_csv_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_csv_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_csv_str(text: &str) -> Result<Self, String> {
        let mut lines = text.lines().enumerate();
        let header: Vec<String> = lines
            .next()
            .ok_or("empty asset inventory")?
            .1
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let host = col("host").ok_or("asset inventory header has no `host` column")?;
        let crit = col("criticality").ok_or("asset inventory header has no `criticality` column")?;
        let owner = col("owner");
        let mut assets = HashMap::new();
        for (i, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let get = |c: usize| {
                fields
                    .get(c)
                    .copied()
                    .ok_or_else(|| format!("line {}: too few fields", i + 1))
            };
            assets.insert(
                get(host)?.to_owned(),
                Asset {
                    criticality: get(crit)?.to_owned(),
                    owner: owner
                        .and_then(|c| fields.get(c))
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
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
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.200.1.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8:1::5".parse().unwrap()));
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
        assert!(err.contains("nope"));
    }

    #[test]
    fn inventory() {
        let inv =
            AssetInventory::from_csv_str("host,criticality,owner\nweb-01,high,web team\ndb-01,critical,dba\n").unwrap();
        assert_eq!(inv.get("db-01").unwrap().criticality, "critical");
        assert_eq!(inv.len(), 2);
        assert!(AssetInventory::from_csv_str("name,owner\n")
            .unwrap_err()
            .contains("host"));
    }
}
