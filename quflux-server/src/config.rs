//! Server configuration: environment variables, a `.env` file and an optional TOML file.
//!
//! Every setting has one name, the environment variable (`QUFLUX_BIND`, ...). A TOML file
//! (`--config FILE` or `QUFLUX_CONFIG`) may set the same settings, keyed by the name without
//! the `QUFLUX_` prefix, in lower case, with tables flattened by `_`:
//!
//! ```toml
//! bind = "0.0.0.0:8080"
//! database_url = "postgres://quflux@db/quflux"
//!
//! [x]                      # = QUFLUX_X_CLIENT_ID, QUFLUX_X_REDIRECT_URL
//! client_id = "…"
//! redirect_url = "https://quflux.example/connect/x"
//! ```
//!
//! Precedence: the process environment, then `.env` (which never overrides the environment),
//! then the TOML file, then the defaults. Every value is checked at start-up and a bad one is
//! reported with the setting's name.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quflux_core::{Error, Result};

/// Where settings come from, in precedence order. Cheap to clone.
#[derive(Clone, Default)]
pub struct Settings {
    env: Arc<BTreeMap<String, String>>,
    file: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: only the names are shown.
        f.debug_struct("Settings")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("file", &self.file.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Settings {
    /// The process environment (after loading `.env` from the working directory, if present)
    /// and the TOML file named by `config_file` or `QUFLUX_CONFIG`.
    pub fn load(config_file: Option<&Path>) -> Result<Self> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(Error::Config(format!(".env: {e}"))),
        }
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("QUFLUX_") || k.starts_with("AWS_"))
            .collect();
        let path = config_file
            .map(Path::to_path_buf)
            .or_else(|| env.get("QUFLUX_CONFIG").map(PathBuf::from));
        let file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    Error::Config(format!("QUFLUX_CONFIG: cannot read {}: {e}", p.display()))
                })?;
                parse_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", p.display())))?
            }
            None => BTreeMap::new(),
        };
        Ok(Self {
            env: Arc::new(env),
            file: Arc::new(file),
        })
    }

    /// Settings from explicit pairs (`QUFLUX_…` names), for tests and embedding.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            env: Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            file: Arc::new(BTreeMap::new()),
        }
    }

    /// The value of a setting (empty values count as unset).
    pub fn get(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .or_else(|| self.file.get(name))
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }

    /// A lookup function for the library configs' `from_lookup`.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + Clone + use<> {
        let me = self.clone();
        move |name: &str| me.get(name)
    }
}

/// Flattens a TOML document into `QUFLUX_…` settings.
fn parse_toml(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = BTreeMap::new();
    flatten("QUFLUX", &toml::Value::Table(table), &mut out)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    out: &mut BTreeMap<String, String>,
) -> std::result::Result<(), String> {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = format!("{prefix}_{}", k.to_uppercase().replace('-', "_"));
                flatten(&key, v, out)?;
            }
            Ok(())
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
            Ok(())
        }
        toml::Value::Integer(i) => {
            out.insert(prefix.to_owned(), i.to_string());
            Ok(())
        }
        toml::Value::Float(f) => {
            out.insert(prefix.to_owned(), f.to_string());
            Ok(())
        }
        toml::Value::Boolean(b) => {
            out.insert(prefix.to_owned(), b.to_string());
            Ok(())
        }
        toml::Value::Array(items) => {
            let mut parts = Vec::new();
            for item in items {
                match item {
                    toml::Value::String(s) => parts.push(s.clone()),
                    toml::Value::Integer(i) => parts.push(i.to_string()),
                    _ => return Err(format!("{prefix}: arrays may hold strings or integers")),
                }
            }
            out.insert(prefix.to_owned(), parts.join(","));
            Ok(())
        }
        toml::Value::Datetime(d) => {
            out.insert(prefix.to_owned(), d.to_string());
            Ok(())
        }
    }
}

/// Which blob store holds media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobBackend {
    /// Local files under a root directory.
    Fs(PathBuf),
    /// An S3 bucket (settings `QUFLUX_S3_…`).
    S3,
}

/// The server's own validated settings (the libraries read theirs from [`Settings`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// `QUFLUX_BIND`: listen address (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `QUFLUX_DATABASE_URL`: `sqlite://…` (default `sqlite://quflux.db`) or `postgres://…`.
    pub database_url: String,
    /// `QUFLUX_BLOB_STORE` (`fs` default, or `s3`) and `QUFLUX_FS_ROOT` (default `quflux-media`).
    pub blobs: BlobBackend,
    /// `QUFLUX_OUTBOX_PATH`: where platforms without a real adapter publish (default `quflux-outbox.jsonl`).
    pub outbox_path: PathBuf,
    /// `QUFLUX_WORKER_CONCURRENCY`: jobs a worker runs at once (default 8).
    pub worker_concurrency: usize,
    /// `QUFLUX_SESSION_TTL_HOURS`: lifetime of a login session (default 720 = 30 days).
    pub session_ttl: Duration,
    /// `QUFLUX_SESSION_CACHE_SECS`: how long a process trusts a checked session before asking
    /// the database again (default 5; 0 = always ask). A logout is immediate on the process
    /// that served it and at most this late on the others.
    pub session_cache: Duration,
    /// `QUFLUX_MAX_BODY_BYTES`: largest JSON body (default 1 MiB).
    pub max_body_bytes: usize,
    /// `QUFLUX_MAX_UPLOAD_BYTES`: largest media upload (default 50 MiB).
    pub max_upload_bytes: usize,
    /// `QUFLUX_LOGIN_MAX_FAILURES`: failed logins per account and address per window (default 5).
    pub login_max_failures: u32,
    /// `QUFLUX_LOGIN_MAX_ATTEMPTS_PER_ADDRESS`: logins per address per window (default 30).
    pub login_max_attempts_per_address: u32,
    /// `QUFLUX_LOGIN_WINDOW_SECS`: the login rate-limit window (default 900).
    pub login_window: Duration,
    /// `QUFLUX_LOG_FORMAT`: `json` (default) or `text`.
    pub log_json: bool,
    /// `QUFLUX_DEFAULT_TIME_ZONE`: time zone of new users (default `UTC`).
    pub default_time_zone: String,
    /// `QUFLUX_PRESIGN_SECS`: lifetime of presigned media URLs (default 900).
    pub presign_ttl: Duration,
}

fn parse<T: std::str::FromStr>(s: &Settings, name: &str, default: T, expected: &str) -> Result<T> {
    match s.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::Config(format!("{name}: `{v}` is not {expected}"))),
    }
}

fn positive(s: &Settings, name: &str, default: u64) -> Result<u64> {
    let v: u64 = parse(s, name, default, "a whole number")?;
    if v == 0 {
        return Err(Error::Config(format!("{name}: must be greater than 0")));
    }
    Ok(v)
}

impl Config {
    /// Reads and checks the server's settings.
    pub fn from_settings(s: &Settings) -> Result<Self> {
        let bind = parse(
            s,
            "QUFLUX_BIND",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "a socket address (host:port, e.g. 127.0.0.1:8080)",
        )?;
        let database_url = s
            .get("QUFLUX_DATABASE_URL")
            .unwrap_or_else(|| "sqlite://quflux.db".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(Error::Config(format!(
                "QUFLUX_DATABASE_URL: `{}` must start with sqlite:, postgres:// or postgresql://",
                redact_url(&database_url)
            )));
        }
        let blobs = match s.get("QUFLUX_BLOB_STORE").as_deref().unwrap_or("fs") {
            "fs" => BlobBackend::Fs(PathBuf::from(
                s.get("QUFLUX_FS_ROOT")
                    .unwrap_or_else(|| "quflux-media".to_owned()),
            )),
            "s3" => BlobBackend::S3,
            other => {
                return Err(Error::Config(format!(
                    "QUFLUX_BLOB_STORE: `{other}` is not `fs` or `s3`"
                )));
            }
        };
        let log_json = match s.get("QUFLUX_LOG_FORMAT").as_deref().unwrap_or("json") {
            "json" => true,
            "text" => false,
            other => {
                return Err(Error::Config(format!(
                    "QUFLUX_LOG_FORMAT: `{other}` is not `json` or `text`"
                )));
            }
        };
        let default_time_zone = s
            .get("QUFLUX_DEFAULT_TIME_ZONE")
            .unwrap_or_else(|| "UTC".to_owned());
        if default_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::Config(format!(
                "QUFLUX_DEFAULT_TIME_ZONE: `{default_time_zone}` is not an IANA time zone"
            )));
        }
        Ok(Self {
            bind,
            database_url,
            blobs,
            outbox_path: PathBuf::from(
                s.get("QUFLUX_OUTBOX_PATH")
                    .unwrap_or_else(|| "quflux-outbox.jsonl".to_owned()),
            ),
            worker_concurrency: positive(s, "QUFLUX_WORKER_CONCURRENCY", 8)? as usize,
            session_ttl: Duration::from_secs(positive(s, "QUFLUX_SESSION_TTL_HOURS", 720)? * 3600),
            session_cache: Duration::from_secs(parse(
                s,
                "QUFLUX_SESSION_CACHE_SECS",
                5,
                "a whole number of seconds",
            )?),
            max_body_bytes: positive(s, "QUFLUX_MAX_BODY_BYTES", 1 << 20)? as usize,
            max_upload_bytes: positive(s, "QUFLUX_MAX_UPLOAD_BYTES", 50 << 20)? as usize,
            login_max_failures: positive(s, "QUFLUX_LOGIN_MAX_FAILURES", 5)? as u32,
            login_max_attempts_per_address: positive(
                s,
                "QUFLUX_LOGIN_MAX_ATTEMPTS_PER_ADDRESS",
                30,
            )? as u32,
            login_window: Duration::from_secs(positive(s, "QUFLUX_LOGIN_WINDOW_SECS", 900)?),
            log_json,
            default_time_zone,
            presign_ttl: Duration::from_secs(positive(s, "QUFLUX_PRESIGN_SECS", 900)?),
        })
    }
}

/// A database URL with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_with_nothing_set() {
        let c = Config::from_settings(&Settings::default()).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://quflux.db");
        assert_eq!(c.blobs, BlobBackend::Fs(PathBuf::from("quflux-media")));
    }

    #[test]
    fn bad_values_name_the_setting() {
        for (name, value) in [
            ("QUFLUX_BIND", "localhost"),
            ("QUFLUX_DATABASE_URL", "mysql://x"),
            ("QUFLUX_BLOB_STORE", "gcs"),
            ("QUFLUX_WORKER_CONCURRENCY", "0"),
            ("QUFLUX_WORKER_CONCURRENCY", "many"),
            ("QUFLUX_SESSION_TTL_HOURS", "-1"),
            ("QUFLUX_LOG_FORMAT", "xml"),
            ("QUFLUX_DEFAULT_TIME_ZONE", "Mars/Olympus"),
        ] {
            let err = Config::from_settings(&Settings::from_pairs([(name, value)])).unwrap_err();
            assert!(
                err.to_string().contains(name),
                "{name}={value}: message `{err}` does not name the setting"
            );
        }
    }

    #[test]
    fn toml_tables_flatten_to_setting_names() {
        let m = parse_toml(
            "bind = \"0.0.0.0:9\"\n[x]\nclient_id = \"abc\"\n[login]\nmax-failures = 3\n",
        )
        .unwrap();
        assert_eq!(m["QUFLUX_BIND"], "0.0.0.0:9");
        assert_eq!(m["QUFLUX_X_CLIENT_ID"], "abc");
        assert_eq!(m["QUFLUX_LOGIN_MAX_FAILURES"], "3");
        assert!(parse_toml("bind = ").is_err());
    }

    #[test]
    fn environment_wins_over_the_file() {
        let s = Settings {
            env: Arc::new([("QUFLUX_BIND".to_owned(), "127.0.0.1:1".to_owned())].into()),
            file: Arc::new(
                [
                    ("QUFLUX_BIND".to_owned(), "127.0.0.1:2".to_owned()),
                    ("QUFLUX_FS_ROOT".to_owned(), "media".to_owned()),
                ]
                .into(),
            ),
        };
        let c = Config::from_settings(&s).unwrap();
        assert_eq!(c.bind.port(), 1);
        assert_eq!(c.blobs, BlobBackend::Fs(PathBuf::from("media")));
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
