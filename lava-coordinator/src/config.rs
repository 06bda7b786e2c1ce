//! The daemon's configuration: LAVA's JSON conf file
//! (`/etc/lava-coordinator/lava-coordinator.conf`, keys `port`,
//! `blocksize`, `poll_delay`, `coordinator_hostname`) plus our own keys,
//! overridden by the command line (`docs/coordinator.md`, "Options").
//!
//! Of LAVA's keys the daemon uses `port` only: like LAVA it does not bind
//! `coordinator_hostname` (that key tells clients where to connect; on a
//! worker the same file is `lava-run`'s). It listens on `listen`
//! (default `0.0.0.0:<port>`). `blocksize` and `poll_delay` are for
//! clients and are ignored here; the client-side CURVE keys (`encrypt`,
//! `coordinator_cert`, `client_cert`, `curve_port`) too.
//!
//! Our keys, all optional, each also a command-line option:
//!
//! | key | option | meaning |
//! |---|---|---|
//! | `listen` (list of strings) | `--listen` | plaintext addresses to bind |
//! | `semantics` | `--semantics` | `lava2020` (default) or `fixed` |
//! | `auth` | `--auth` | `off` (default), `warn`, `require` |
//! | `auth_keys` | `--auth-keys` | member-token key file |
//! | `curve_bind`, `curve_cert`, `clients_certs` | same with `-` | CURVE listener |
//! | `state_dir` | `--state-dir` | persistence directory |
//! | `group_ttl` (s) | `--group-ttl` | idle groups expire after it |
//! | `max_groups`, `max_group_size`, `max_group_bytes`, `max_total_bytes` | same | limits of the state |
//! | `max_connections`, `request_timeout` (s), `max_block_ms`, `max_held` | same | limits of the server |

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lava_proto::coordinator::{CoordinatorConf, Key};
use serde_json::Value;

use crate::server::ServerConfig;
use crate::state::{AuthMode, Limits, Semantics, Settings};

/// Errors of configuration. Each names the file, key or option concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The conf file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// LAVA's part of the conf file is invalid.
    #[error(transparent)]
    Conf(#[from] lava_proto::coordinator::ConfError),
    /// One of our keys in the conf file has a wrong type or value.
    #[error("{path}: key \"{key}\": {reason}")]
    Key {
        /// The conf file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A value (from a key or an option) is invalid.
    #[error("{what}: {reason}")]
    Value {
        /// The option or key, e.g. `--listen`.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The member-token key file could not be loaded or written.
    #[error(transparent)]
    Keys(#[from] lava_proto::coordinator::KeyError),
    /// A setting needs another one.
    #[error("{0}")]
    Missing(String),
}

/// The CURVE listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurveOptions {
    /// ZeroMQ endpoint to bind, e.g. `tcp://*:3080`.
    pub bind: String,
    /// The coordinator's secret certificate (`NAME.key_secret`).
    pub cert: PathBuf,
    /// Directory of the authorised clients' public certificates (`*.key`).
    pub clients_certs: PathBuf,
}

/// Everything the daemon needs, after the conf file and the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// LAVA's `port` (used for the default listen address).
    pub port: u16,
    /// Plaintext listen addresses, as written (resolved by [`Config::server_config`]);
    /// empty = `0.0.0.0:<port>`.
    pub listen: Vec<String>,
    /// Observable semantics (spec §5.1).
    pub semantics: Semantics,
    /// Member-token policy for plaintext requests.
    pub auth: AuthMode,
    /// The member-token key file.
    pub auth_keys: Option<PathBuf>,
    /// The CURVE listener, if any.
    pub curve: Option<CurveOptions>,
    /// Persistence directory, if any.
    pub state_dir: Option<PathBuf>,
    /// Limits of the state machine.
    pub limits: Limits,
    /// Cap on connections being read or answered.
    pub max_connections: usize,
    /// Time allowed for a complete request frame.
    pub request_timeout: Duration,
    /// Cap on a request's `block_ms`.
    pub max_block: Duration,
    /// Cap on requests held at once (long-poll).
    pub max_held: usize,
}

impl Default for Config {
    fn default() -> Config {
        let server = ServerConfig::default();
        Config {
            port: lava_proto::coordinator::DEFAULT_PORT,
            listen: Vec::new(),
            semantics: Semantics::Lava2020,
            auth: AuthMode::Off,
            auth_keys: None,
            curve: None,
            state_dir: None,
            limits: Limits::default(),
            max_connections: server.max_connections,
            request_timeout: server.request_timeout,
            max_block: server.max_block,
            max_held: server.max_held,
        }
    }
}

/// Parse `lava2020` or `fixed`.
pub fn parse_semantics(text: &str) -> Result<Semantics, String> {
    match text {
        "lava2020" => Ok(Semantics::Lava2020),
        "fixed" => Ok(Semantics::Fixed),
        other => Err(format!(
            "unknown semantics '{other}' (use lava2020 or fixed)"
        )),
    }
}

/// Parse `off`, `warn` or `require`.
pub fn parse_auth(text: &str) -> Result<AuthMode, String> {
    match text {
        "off" => Ok(AuthMode::Off),
        "warn" => Ok(AuthMode::Warn),
        "require" => Ok(AuthMode::Require),
        other => Err(format!(
            "unknown auth mode '{other}' (use off, warn or require)"
        )),
    }
}

/// Resolve a listen address: `IP:PORT`, `[IPv6]:PORT`, a bare IP (then
/// `default_port`), or `HOST:PORT` / `HOST` resolved by the system.
pub fn resolve_listen(text: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, default_port)]);
    }
    let with_port = if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        text.to_string()
    } else {
        format!("{text}:{default_port}")
    };
    let addrs: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{text}': {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("'{text}' resolves to no address"));
    }
    Ok(addrs)
}

impl Config {
    /// Defaults, then the conf file at `path` if given. `explicit` says the
    /// path came from `--config`: then a missing file is an error; the
    /// default path may be absent (defaults are used).
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default())
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Config::parse(&text, path)
    }

    /// Defaults, then the conf file's text (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let lava = CoordinatorConf::parse(text, path)?;
        let mut config = Config {
            port: lava.port,
            ..Config::default()
        };
        // CoordinatorConf::parse has checked that this is a JSON object.
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let key_err = |key: &'static str, reason: &str| ConfigError::Key {
            path: path.to_path_buf(),
            key,
            reason: reason.to_string(),
        };
        let string = |key: &'static str| -> Result<Option<String>, ConfigError> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(key_err(key, "must be a string")),
            }
        };
        let number = |key: &'static str| -> Result<Option<u64>, ConfigError> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| key_err(key, "must be a non-negative integer")),
            }
        };
        match value.get("listen") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => config.listen = vec![s.clone()],
            Some(Value::Array(items)) => {
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| key_err("listen", "must be a list of strings"))?;
                    config.listen.push(s.to_string());
                }
            }
            Some(_) => return Err(key_err("listen", "must be a list of strings")),
        }
        if let Some(s) = string("semantics")? {
            config.semantics = parse_semantics(&s).map_err(|r| key_err("semantics", &r))?;
        }
        if let Some(s) = string("auth")? {
            config.auth = parse_auth(&s).map_err(|r| key_err("auth", &r))?;
        }
        config.auth_keys = string("auth_keys")?.map(PathBuf::from);
        config.state_dir = string("state_dir")?.map(PathBuf::from);
        let curve = (
            string("curve_bind")?,
            string("curve_cert")?,
            string("clients_certs")?,
        );
        config.curve = match curve {
            (None, None, None) => None,
            (Some(bind), Some(cert), Some(clients)) => Some(CurveOptions {
                bind,
                cert: cert.into(),
                clients_certs: clients.into(),
            }),
            _ => {
                return Err(key_err(
                    "curve_bind",
                    "curve_bind, curve_cert and clients_certs go together",
                ))
            }
        };
        if let Some(n) = number("group_ttl")? {
            config.limits.group_ttl = Duration::from_secs(n);
        }
        if let Some(n) = number("max_groups")? {
            config.limits.max_groups = n as usize;
        }
        if let Some(n) = number("max_group_size")? {
            config.limits.max_group_size = n;
        }
        if let Some(n) = number("max_group_bytes")? {
            config.limits.max_group_bytes = n as usize;
        }
        if let Some(n) = number("max_total_bytes")? {
            config.limits.max_total_bytes = n as usize;
        }
        if let Some(n) = number("max_connections")? {
            config.max_connections = n as usize;
        }
        if let Some(n) = number("request_timeout")? {
            config.request_timeout = Duration::from_secs(n);
        }
        if let Some(n) = number("max_block_ms")? {
            config.max_block = Duration::from_millis(n);
        }
        if let Some(n) = number("max_held")? {
            config.max_held = n as usize;
        }
        Ok(config)
    }

    /// Check the combination and load the member-token keys: the state
    /// machine's settings.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let keys = match &self.auth_keys {
            Some(path) => {
                if self.auth == AuthMode::Require || self.curve.is_some() {
                    refuse_shared_key_file(path)?;
                }
                Key::load(path)?
            }
            None => Vec::new(),
        };
        if keys.is_empty() {
            if self.auth_keys.is_some() {
                return Err(ConfigError::Missing(format!(
                    "{}: no key in the file",
                    self.auth_keys.as_deref().unwrap_or(Path::new("")).display()
                )));
            }
            if !matches!(self.auth, AuthMode::Off) {
                return Err(ConfigError::Missing(
                    "--auth warn|require needs --auth-keys FILE".into(),
                ));
            }
            if self.curve.is_some() {
                return Err(ConfigError::Missing(
                    "the CURVE listener requires member tokens: give --auth-keys FILE".into(),
                ));
            }
        }
        Ok(Settings {
            semantics: self.semantics,
            auth: self.auth,
            keys,
            limits: self.limits.clone(),
        })
    }

    /// The server's settings (listen addresses resolved).
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let mut listen = Vec::new();
        if self.listen.is_empty() {
            listen.push(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), self.port));
        }
        for text in &self.listen {
            let addrs = resolve_listen(text, self.port).map_err(|reason| ConfigError::Value {
                what: "--listen".into(),
                reason,
            })?;
            listen.extend(addrs);
        }
        #[cfg(not(feature = "curve"))]
        if self.curve.is_some() {
            return Err(ConfigError::Missing(
                "this lava-coordinator was built without CURVE support (feature \"curve\")".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Value {
                what: "--max-connections".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(ServerConfig {
            listen,
            max_connections: self.max_connections,
            request_timeout: self.request_timeout,
            max_block: self.max_block,
            max_held: self.max_held,
            state_dir: self.state_dir.clone(),
            #[cfg(feature = "curve")]
            curve: self.curve.clone(),
            ..ServerConfig::default()
        })
    }
}

/// Under `--auth require` or CURVE the key file must be private: a key
/// readable by group or others is refused (`Key::load` only warns).
fn refuse_shared_key_file(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::Value {
                what: path.display().to_string(),
                reason: format!(
                    "the member-token key file has mode {mode:04o}: group or others can read it; run chmod 600 on it (refused under --auth require and with CURVE)"
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Write a new member-token key (`ID:HEX`, 32 random bytes) to `path`,
/// created with mode 0600; an existing file is never overwritten. The
/// same file serves the master (`lava-master --coordinator-key`) and the
/// coordinator (`--auth-keys`).
pub fn write_new_key(path: &Path, id: &str) -> Result<(), ConfigError> {
    use std::io::Write;
    let key = Key::generate(id)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(key.to_line().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        let one = |t| resolve_listen(t, 3079).unwrap();
        assert_eq!(
            one("127.0.0.1:4000"),
            vec!["127.0.0.1:4000".parse().unwrap()]
        );
        assert_eq!(one("[::1]:4000"), vec!["[::1]:4000".parse().unwrap()]);
        assert_eq!(one("::1"), vec!["[::1]:3079".parse().unwrap()]);
        assert_eq!(one("[::]"), vec!["[::]:3079".parse().unwrap()]);
        assert_eq!(one("10.1.2.3"), vec!["10.1.2.3:3079".parse().unwrap()]);
        assert!(one("localhost").iter().all(|a| a.port() == 3079));
        assert!(resolve_listen("no such host.invalid", 1).is_err());
    }

    #[test]
    fn lava_conf_and_our_keys() {
        let path = Path::new("/etc/c.conf");
        let config = Config::parse(
            r#"{"port": 3179, "blocksize": 4096, "poll_delay": 3, "coordinator_hostname": "x",
                "listen": ["[::]"], "semantics": "fixed", "auth": "warn", "auth_keys": "/k",
                "group_ttl": 60, "max_held": 7}"#,
            path,
        )
        .unwrap();
        assert_eq!(config.port, 3179);
        assert_eq!(config.listen, vec!["[::]".to_string()]);
        assert!(matches!(config.semantics, Semantics::Fixed));
        assert!(matches!(config.auth, AuthMode::Warn));
        assert_eq!(config.auth_keys, Some(PathBuf::from("/k")));
        assert_eq!(config.limits.group_ttl, Duration::from_secs(60));
        assert_eq!(config.max_held, 7);
        let server = config.server_config().unwrap();
        assert_eq!(server.listen, vec!["[::]:3179".parse().unwrap()]);

        let err = Config::parse(r#"{"semantics": 3}"#, path).err().unwrap();
        assert_eq!(
            err.to_string(),
            "/etc/c.conf: key \"semantics\": must be a string"
        );
        let err = Config::parse(r#"{"auth": "maybe"}"#, path).err().unwrap();
        assert!(
            err.to_string().contains("unknown auth mode 'maybe'"),
            "{err}"
        );
    }

    #[test]
    fn missing_default_file_gives_defaults_but_an_explicit_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.conf");
        assert_eq!(Config::load(&path, false).unwrap(), Config::default());
        let err = Config::load(&path, true).err().unwrap();
        assert!(err.to_string().starts_with(&path.display().to_string()));
        let server = Config::default().server_config().unwrap();
        assert_eq!(server.listen, vec!["0.0.0.0:3079".parse().unwrap()]);
    }

    #[test]
    fn auth_needs_keys_and_new_keys_are_private() {
        let config = Config {
            auth: AuthMode::Require,
            ..Config::default()
        };
        assert!(config.settings().is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coordinator.key");
        write_new_key(&path, "lab1").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(write_new_key(&path, "lab1").is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let shared = dir.path().join("shared.key");
            std::fs::copy(&path, &shared).unwrap();
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
            let mut config = Config {
                auth: AuthMode::Warn,
                auth_keys: Some(shared.clone()),
                ..Config::default()
            };
            assert!(config.settings().is_ok(), "warn: a warning only");
            config.auth = AuthMode::Require;
            let err = config.settings().err().unwrap().to_string();
            assert!(
                err.contains(&shared.display().to_string()) && err.contains("mode 0640"),
                "{err}"
            );
            config.auth = AuthMode::Off;
            config.curve = Some(CurveOptions {
                bind: "tcp://127.0.0.1:0".into(),
                cert: "c".into(),
                clients_certs: "d".into(),
            });
            assert!(config.settings().is_err(), "CURVE: refused");
        }
        let config = Config {
            auth: AuthMode::Require,
            auth_keys: Some(path),
            ..Config::default()
        };
        let settings = config.settings().unwrap();
        assert_eq!(settings.keys.len(), 1);
        assert_eq!(settings.keys[0].id, "lab1");
    }
}
