use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ureq::tls::{PemItem, RootCerts, TlsConfig};

/// How to reach a cluster.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Base URL, `http://host:9200` or `https://…`.
    pub url: String,
    pub credentials: Option<Credentials>,
    /// PEM file of the certificate authorities to trust instead of the
    /// bundled public roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Off unless asked for.
    pub insecure: bool,
    /// Attempts after the first for a request answered 429 or 5xx, or whose
    /// connection failed.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub retry_wait: Duration,
    /// Limit for one request, connection to last byte.
    pub timeout: Duration,
}

impl ConnectionConfig {
    pub fn new(url: &str) -> ConnectionConfig {
        ConnectionConfig {
            url: url.trim_end_matches('/').to_owned(),
            credentials: None,
            ca_file: None,
            insecure: false,
            retries: 5,
            retry_wait: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Basic auth or an API key.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { username: String, password: String },
    ApiKey(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::ApiKey(_) => write!(f, "ApiKey(<redacted>)"),
        }
    }
}

/// Environment variables read by [`Credentials::from_env`].
pub const ENV_API_KEY: &str = "LOGLYNX_ES_API_KEY";
pub const ENV_USERNAME: &str = "LOGLYNX_ES_USERNAME";
pub const ENV_PASSWORD: &str = "LOGLYNX_ES_PASSWORD";

impl Credentials {
    /// `LOGLYNX_ES_API_KEY` (the encoded `id:key` that Elasticsearch and
    /// OpenSearch hand out), else `LOGLYNX_ES_USERNAME` with
    /// `LOGLYNX_ES_PASSWORD`; `None` when neither is set.
    pub fn from_env() -> Result<Option<Credentials>, EsError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(key) = get(ENV_API_KEY) {
            return Ok(Some(Credentials::ApiKey(key)));
        }
        match (get(ENV_USERNAME), get(ENV_PASSWORD)) {
            (Some(username), Some(password)) => Ok(Some(Credentials::Basic { username, password })),
            (None, None) => Ok(None),
            _ => Err(EsError::Credentials(format!(
                "set both {ENV_USERNAME} and {ENV_PASSWORD}, or {ENV_API_KEY}"
            ))),
        }
    }

    /// A file of `key = value` lines: `api_key`, or `username` and
    /// `password`; `#` starts a comment.
    pub fn from_file(path: &Path) -> Result<Credentials, EsError> {
        let bad = |why: String| EsError::Credentials(format!("{}: {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let (mut username, mut password, mut api_key) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(bad(format!("line {}: expected key = value", n + 1)));
            };
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim() {
                "username" => username = Some(v),
                "password" => password = Some(v),
                "api_key" => api_key = Some(v),
                other => return Err(bad(format!("line {}: unknown key `{other}`", n + 1))),
            }
        }
        match (api_key, username, password) {
            (Some(key), None, None) => Ok(Credentials::ApiKey(key)),
            (None, Some(username), Some(password)) => Ok(Credentials::Basic { username, password }),
            _ => Err(bad("expected api_key, or username and password".into())),
        }
    }

    fn header(&self) -> String {
        match self {
            Credentials::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            ),
            Credentials::ApiKey(key) => format!("ApiKey {key}"),
        }
    }
}

/// Why talking to the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("CA file {path}: {why}")]
    CaFile { path: String, why: String },
    #[error("{method} {url}: {why} ({})", attempts_text(*.attempts))]
    Transport {
        method: String,
        url: String,
        why: String,
        attempts: u32,
    },
    #[error("{method} {url}: HTTP {status} ({}): {body}", attempts_text(*.attempts))]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
        attempts: u32,
    },
    #[error("{url}: unexpected answer: {why}")]
    Answer { url: String, why: String },
    #[error("`{url}`: {why}")]
    Url { url: String, why: String },
    #[error("{url}: {failed} of {sent} documents were refused; first: {first}")]
    Items {
        url: String,
        sent: usize,
        failed: usize,
        first: String,
    },
}

fn attempts_text(n: u32) -> String {
    if n == 1 {
        "after 1 attempt".into()
    } else {
        format!("after {n} attempts")
    }
}

/// A status and body, and the attempts it took.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub attempts: u32,
}

/// A connection to one cluster.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    auth: Option<String>,
    retries: u32,
    retry_wait: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Answers worth another attempt.
fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// The first 300 characters of an answer, on one line.
fn excerpt(body: &str) -> String {
    let one_line: String = body.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

impl Client {
    pub fn new(cfg: &ConnectionConfig) -> Result<Client, EsError> {
        if !(cfg.url.starts_with("http://") || cfg.url.starts_with("https://")) {
            return Err(EsError::Url {
                url: cfg.url.clone(),
                why: "the URL must start with http:// or https://".into(),
            });
        }
        let mut tls = TlsConfig::builder().disable_verification(cfg.insecure);
        if let Some(path) = &cfg.ca_file {
            let bad = |why: String| EsError::CaFile {
                path: path.display().to_string(),
                why,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                if let PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
                    certs.push(c);
                }
            }
            if certs.is_empty() {
                return Err(bad("no certificate in it".into()));
            }
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Client {
            agent,
            base: cfg.url.trim_end_matches('/').to_owned(),
            auth: cfg.credentials.as_ref().map(Credentials::header),
            retries: cfg.retries,
            retry_wait: cfg.retry_wait,
        })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One attempt.
    fn attempt(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Response, String> {
        let url = self.url(path);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.auth {
            req = req.header("authorization", auth);
        }
        if let Some((content_type, _)) = body {
            req = req.header("content-type", content_type);
        }
        let req = req
            .body(body.map(|(_, b)| b.to_vec()).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let mut resp = self.agent.run(req).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Response {
            status,
            body,
            attempts: 1,
        })
    }

    /// The error of an answer `r` to `method path`.
    pub fn status_error(&self, method: &str, path: &str, r: &Response) -> EsError {
        EsError::Status {
            method: method.to_owned(),
            url: self.url(path),
            status: r.status,
            body: excerpt(&r.body),
            attempts: r.attempts,
        }
    }

    /// Sends a request; 429, 5xx and failed connections are tried again
    /// with exponential backoff. Any other answer is returned, whatever its
    /// status; a request still failing after the retries is an error.
    pub fn send(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Response, EsError> {
        let mut wait = self.retry_wait;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let last = attempts > self.retries;
            match self.attempt(method, path, body).map(|r| Response { attempts, ..r }) {
                Ok(r) if !retryable(r.status) => return Ok(r),
                Ok(r) if last => return Err(self.status_error(method, path, &r)),
                Err(why) if last => {
                    return Err(EsError::Transport {
                        method: method.to_owned(),
                        url: self.url(path),
                        why,
                        attempts,
                    })
                }
                Ok(r) => tracing::warn!(status = r.status, url = %self.url(path), "retrying in {wait:?}"),
                Err(why) => tracing::warn!(%why, url = %self.url(path), "retrying in {wait:?}"),
            }
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
    }

    /// Like [`Client::send`], and an answer other than 2xx is an error.
    pub fn send_ok(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Response, EsError> {
        let r = self.send(method, path, body)?;
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(self.status_error(method, path, &r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_their_secret() {
        let b = Credentials::Basic {
            username: "svc".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{b:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::ApiKey("s3cr3t".into())).contains("s3cr3t"));
        assert_eq!(b.header(), "Basic c3ZjOmh1bnRlcjI=");
    }

    #[test]
    fn a_credentials_file_is_read_and_its_mistakes_named() {
        let dir = std::env::temp_dir().join(format!("llx-es-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("creds");
        std::fs::write(&p, "# cluster\nusername = svc\npassword = \"p=w\"\n").unwrap();
        assert_eq!(
            Credentials::from_file(&p).unwrap(),
            Credentials::Basic {
                username: "svc".into(),
                password: "p=w".into()
            }
        );
        std::fs::write(&p, "api_key = abc\n").unwrap();
        assert_eq!(Credentials::from_file(&p).unwrap(), Credentials::ApiKey("abc".into()));
        std::fs::write(&p, "user = svc\n").unwrap();
        let e = Credentials::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("unknown key `user`"), "{e}");
        std::fs::write(&p, "username = svc\n").unwrap();
        assert!(Credentials::from_file(&p).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_url_without_a_scheme_is_refused() {
        assert!(Client::new(&ConnectionConfig::new("localhost:9200")).is_err());
        assert!(Client::new(&ConnectionConfig::new("http://localhost:9200/")).is_ok());
    }
}
