//! `lava-coordinator`: the MultiNode coordinator daemon. LAVA's wire
//! protocol on TCP (default `0.0.0.0:3079`), optional member tokens and a
//! CURVE listener, optional persistence. Options follow LAVA's
//! (`--config`, `--logfile`, `--loglevel`) plus ours; see
//! `docs/coordinator.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lava_coordinator::config::{self, Config, CurveOptions};
use lava_coordinator::Server;
use lava_proto::coordinator::CoordinatorConf;

/// The MultiNode coordinator daemon.
#[derive(Parser)]
#[command(name = "lava-coordinator", version)]
struct Args {
    /// LAVA's JSON conf file (port, blocksize, poll_delay,
    /// coordinator_hostname, and our keys). A missing default file means
    /// defaults; a missing file given here is an error.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Plaintext address to listen on (IP:PORT, `[IPv6]:PORT`, IP or HOST;
    /// repeatable). Default `0.0.0.0:PORT` (PORT from the conf file).
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
    /// Observable semantics: lava2020 (LAVA 2020.01's, default) or fixed.
    #[arg(long, value_name = "lava2020|fixed")]
    semantics: Option<String>,
    /// Member tokens on plaintext requests: off (default), warn, require.
    #[arg(long, value_name = "off|warn|require")]
    auth: Option<String>,
    /// Member-token key file (lines ID:HEX), the master's --coordinator-key file.
    #[arg(long, value_name = "FILE")]
    auth_keys: Option<PathBuf>,
    /// ZeroMQ endpoint of the CURVE listener, e.g. tcp://*:3080.
    #[arg(long, value_name = "URL", requires_all = ["curve_cert", "clients_certs"])]
    curve_bind: Option<String>,
    /// The coordinator's secret CURVE certificate (NAME.key_secret).
    #[arg(long, value_name = "SECRET_CERT", requires = "curve_bind")]
    curve_cert: Option<PathBuf>,
    /// Directory of the public certificates (*.key) of authorised CURVE clients.
    #[arg(long, value_name = "DIR", requires = "curve_bind")]
    clients_certs: Option<PathBuf>,
    /// Keep the state in DIR (journal + snapshot) so a restart keeps running groups.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Seconds after which an idle group is forgotten (default 86400).
    #[arg(long, value_name = "SECS")]
    group_ttl: Option<u64>,
    /// Groups held at once (default 10000).
    #[arg(long, value_name = "N")]
    max_groups: Option<usize>,
    /// Largest group_size accepted (default 1024).
    #[arg(long, value_name = "N")]
    max_group_size: Option<u64>,
    /// Bytes of messages a group may hold (default 1048576).
    #[arg(long, value_name = "BYTES")]
    max_group_bytes: Option<usize>,
    /// Bytes of messages all groups together may hold (default 268435456).
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<usize>,
    /// Connections being read or answered at once (default 256).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds allowed for a complete request (default 10).
    #[arg(long, value_name = "SECS")]
    request_timeout: Option<u64>,
    /// Cap on a request's block_ms (default 30000).
    #[arg(long, value_name = "MS")]
    max_block_ms: Option<u64>,
    /// Requests held at once for long-poll (default 1024).
    #[arg(long, value_name = "N")]
    max_held: Option<usize>,
    /// Log file ('-' for standard error).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/log/lava-coordinator.log"
    )]
    logfile: String,
    /// Log level: DEBUG, INFO, WARN, ERROR.
    #[arg(short = 'l', long, value_name = "LEVEL", default_value = "INFO")]
    loglevel: String,
    /// Write a new member-token key to FILE (mode 0600, never overwritten) and exit.
    #[arg(long, value_name = "FILE", requires = "key_id")]
    new_key: Option<PathBuf>,
    /// Id of the key written by --new-key.
    #[arg(long, value_name = "ID", requires = "new_key")]
    key_id: Option<String>,
}

const PROGRAM: &str = "lava-coordinator";

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => lava_bins::fail(PROGRAM, e),
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    if let (Some(path), Some(id)) = (&args.new_key, &args.key_id) {
        config::write_new_key(path, id).map_err(|e| e.to_string())?;
        println!("wrote key '{id}' to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    lava_bins::init_daemon_logging(&args.loglevel, &args.logfile)?;
    let config = configure(&args).map_err(|e| e.to_string())?;
    let settings = config.settings().map_err(|e| e.to_string())?;
    let server_config = config.server_config().map_err(|e| e.to_string())?;
    let server = Server::bind(server_config, settings).map_err(|e| e.to_string())?;
    lava_bins::stop_on_signals(&server.stop_flag())?;
    log::info!(
        "lava-coordinator {} started (semantics {:?}, auth {:?})",
        env!("CARGO_PKG_VERSION"),
        config.semantics,
        config.auth
    );
    server.run().map_err(|e| e.to_string())?;
    log::info!("lava-coordinator stopped");
    Ok(ExitCode::SUCCESS)
}

/// The conf file, then the command line over it.
fn configure(args: &Args) -> Result<Config, config::ConfigError> {
    let value_err = |what: &str| {
        let what = what.to_string();
        move |reason| config::ConfigError::Value { what, reason }
    };
    let mut config = match &args.config {
        Some(path) => Config::load(path, true)?,
        None => Config::load(std::path::Path::new(CoordinatorConf::DEFAULT_PATH), false)?,
    };
    if !args.listen.is_empty() {
        config.listen = args.listen.clone();
    }
    if let Some(s) = &args.semantics {
        config.semantics = config::parse_semantics(s).map_err(value_err("--semantics"))?;
    }
    if let Some(s) = &args.auth {
        config.auth = config::parse_auth(s).map_err(value_err("--auth"))?;
    }
    if let Some(path) = &args.auth_keys {
        config.auth_keys = Some(path.clone());
    }
    if let (Some(bind), Some(cert), Some(clients)) =
        (&args.curve_bind, &args.curve_cert, &args.clients_certs)
    {
        config.curve = Some(CurveOptions {
            bind: bind.clone(),
            cert: cert.clone(),
            clients_certs: clients.clone(),
        });
    }
    if let Some(dir) = &args.state_dir {
        config.state_dir = Some(dir.clone());
    }
    if let Some(secs) = args.group_ttl {
        config.limits.group_ttl = Duration::from_secs(secs);
    }
    if let Some(n) = args.max_groups {
        config.limits.max_groups = n;
    }
    if let Some(n) = args.max_group_size {
        config.limits.max_group_size = n;
    }
    if let Some(n) = args.max_group_bytes {
        config.limits.max_group_bytes = n;
    }
    if let Some(n) = args.max_total_bytes {
        config.limits.max_total_bytes = n;
    }
    if let Some(n) = args.max_connections {
        config.max_connections = n;
    }
    if let Some(secs) = args.request_timeout {
        config.request_timeout = Duration::from_secs(secs);
    }
    if let Some(ms) = args.max_block_ms {
        config.max_block = Duration::from_millis(ms);
    }
    if let Some(n) = args.max_held {
        config.max_held = n;
    }
    Ok(config)
}
