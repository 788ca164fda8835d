//! The asset list: which addresses belong to which host.
//!
//! A CSV file with a header row naming at least `host` and `address`
//! (`role` and other columns are allowed and ignored), one address per row,
//! a host on as many rows as it has addresses. Lines starting with `#` and
//! blank lines are skipped. `loglynx-gen --assets-out` writes
//! `host,address,role`.
//!
//! ```text
//! host,address,role
//! # web tier
//! web-1,10.0.1.5,web
//! db-1,10.0.2.7,db
//! ```
//!
//! Host names are compared without regard to case; a host of the log also
//! finds the entry of its first DNS label or full name (`web-1` and
//! `web-1.corp.example` are the same host), since syslog headers and asset
//! inventories often differ only there.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A file [`Assets::from_csv_file`] cannot read; each names the file and,
/// for content errors, the line.
#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Line { path: PathBuf, line: u64, message: String },
    #[error("{}: no header row (expected at least `host,address`)", path.display())]
    NoHeader { path: PathBuf },
}

/// Hosts and their addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assets {
    /// Lowercase host name → its addresses.
    hosts: BTreeMap<String, BTreeSet<IpAddr>>,
    /// Address → the lowercase names of the hosts that have it.
    addresses: BTreeMap<IpAddr, BTreeSet<String>>,
}

impl Assets {
    /// Reads an asset list (see the module documentation for the format).
    pub fn from_csv_file(path: &Path) -> Result<Assets, AssetsError> {
        let file = std::fs::File::open(path).map_err(|source| AssetsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Assets::from_csv_reader(file, path)
    }

    /// Reads an asset list from `reader`; `path` names it in errors.
    pub fn from_csv_reader(mut reader: impl std::io::Read, path: &Path) -> Result<Assets, AssetsError> {
        let mut text = String::new();
        reader.read_to_string(&mut text).map_err(|source| AssetsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut columns: Option<(usize, usize)> = None;
        let mut assets = Assets::default();
        for (n, raw) in text.lines().enumerate() {
            let line = n as u64 + 1;
            let line_err = |message: String| AssetsError::Line {
                path: path.to_path_buf(),
                line,
                message,
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let record = csv::ReaderBuilder::new()
                .has_headers(false)
                .trim(csv::Trim::All)
                .from_reader(trimmed.as_bytes())
                .records()
                .next()
                .transpose()
                .map_err(|e| line_err(format!("not a CSV row: {e}")))?
                .unwrap_or_default();
            // A line of only commas or spaces is blank too.
            if record.iter().all(str::is_empty) {
                continue;
            }
            let Some((host_col, address_col)) = columns else {
                let find = |name: &str| record.iter().position(|c| c.eq_ignore_ascii_case(name));
                match (find("host"), find("address")) {
                    (Some(h), Some(a)) => columns = Some((h, a)),
                    (h, _) => {
                        let missing = if h.is_none() { "host" } else { "address" };
                        return Err(line_err(format!(
                            "the header row has no `{missing}` column (expected at least `host,address`)"
                        )));
                    }
                }
                continue;
            };
            let field = |col: usize, name: &str| match record.get(col) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(line_err(format!("missing column `{name}`"))),
            };
            let host = field(host_col, "host")?;
            let address = field(address_col, "address")?;
            let ip: IpAddr = address
                .parse()
                .map_err(|_| line_err(format!("bad address `{address}`: expected an IPv4 or IPv6 address")))?;
            assets.insert(host, ip);
        }
        if columns.is_none() {
            return Err(AssetsError::NoHeader {
                path: path.to_path_buf(),
            });
        }
        Ok(assets)
    }

    /// Adds one address of `host`.
    pub fn insert(&mut self, host: &str, address: IpAddr) {
        let host = host.to_ascii_lowercase();
        self.hosts.entry(host.clone()).or_default().insert(address);
        self.addresses.entry(address).or_default().insert(host);
    }

    /// The addresses of `host`: its own entry, else the entry whose first
    /// DNS label or full name is `host`'s (`web-1` ↔ `web-1.corp.example`).
    pub fn addresses_of(&self, host: &str) -> impl Iterator<Item = IpAddr> + '_ {
        let host = host.to_ascii_lowercase();
        let label = first_label(&host).to_owned();
        let exact = self.hosts.get(&host);
        let entries: Vec<&BTreeSet<IpAddr>> = match exact {
            Some(set) => vec![set],
            None => self
                .hosts
                .iter()
                .filter(|(name, _)| **name == label || first_label(name) == host)
                .map(|(_, set)| set)
                .collect(),
        };
        let mut all: BTreeSet<IpAddr> = BTreeSet::new();
        for set in entries {
            all.extend(set);
        }
        all.into_iter()
    }

    /// The (lowercase) names of the hosts that have `address`.
    pub fn hosts_of(&self, address: IpAddr) -> impl Iterator<Item = &str> + '_ {
        self.addresses.get(&address).into_iter().flatten().map(String::as_str)
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// `web-1` of `web-1.corp.example`; an IP address or a name without a dot
/// is its own first label.
pub(crate) fn first_label(name: &str) -> &str {
    if name.parse::<IpAddr>().is_ok() {
        return name;
    }
    name.split('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Assets, AssetsError> {
        Assets::from_csv_reader(text.as_bytes(), Path::new("assets.csv"))
    }

    #[test]
    fn reads_hosts_and_addresses_both_ways() {
        let a = read(
            "# inventory\n\nhost,address,role\nweb-1,10.0.1.5,web\n# second address\nWeb-1, 2001:db8::5 ,web\ndb-1.corp.example,10.0.2.7,db\n",
        )
        .unwrap();
        assert_eq!(a.len(), 2);
        let web: Vec<IpAddr> = a.addresses_of("WEB-1").collect();
        assert_eq!(
            web,
            vec!["10.0.1.5".parse::<IpAddr>().unwrap(), "2001:db8::5".parse().unwrap()]
        );
        // A short syslog name finds the full inventory name, and back.
        assert_eq!(a.addresses_of("db-1").count(), 1);
        assert_eq!(a.addresses_of("web-1.corp.example").count(), 2);
        assert_eq!(a.addresses_of("db-2").count(), 0);
        let hosts: Vec<&str> = a.hosts_of("10.0.2.7".parse().unwrap()).collect();
        assert_eq!(hosts, vec!["db-1.corp.example"]);
        assert_eq!(a.hosts_of("10.9.9.9".parse().unwrap()).count(), 0);
    }

    #[test]
    fn columns_in_any_order_and_extra_columns() {
        let a = read("role,address,owner,host\nweb,10.0.1.5,ops,web-1\n").unwrap();
        assert_eq!(a.addresses_of("web-1").count(), 1);
    }

    #[test]
    fn a_bad_line_names_file_line_and_reason() {
        let e = read("host,address,role\nweb-1,10.0.1.5,web\n# c\nweb-2,10.0.1.300,web\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "assets.csv:4: bad address `10.0.1.300`: expected an IPv4 or IPv6 address"
        );
        let e = read("host,address\nweb-1\n").unwrap_err();
        assert_eq!(e.to_string(), "assets.csv:2: missing column `address`");
        let e = read("host,ip\nweb-1,10.0.1.5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "assets.csv:1: the header row has no `address` column (expected at least `host,address`)"
        );
        let e = read("# only a comment\n\n").unwrap_err();
        assert!(e.to_string().contains("no header row"), "{e}");
        let e = read("host,address\n,10.0.1.5\n").unwrap_err();
        assert_eq!(e.to_string(), "assets.csv:2: missing column `host`");
    }

    #[test]
    fn from_a_file_and_serde_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("assets.csv");
        std::fs::write(&path, "host,address,role\nweb-1,10.0.1.5,web\n").unwrap();
        let a = Assets::from_csv_file(&path).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Assets>(&json).unwrap(), a);
        let e = Assets::from_csv_file(&dir.path().join("missing.csv")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with(&dir.path().join("missing.csv").display().to_string()));
        std::fs::write(&path, "host,address\nweb-1,not-an-ip\n").unwrap();
        let e = Assets::from_csv_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2: bad address `not-an-ip`: expected an IPv4 or IPv6 address",
                path.display()
            )
        );
    }
}
