//! `lava-master`: the master daemon. Workers connect to its control socket,
//! lava-run processes to its log socket; it schedules jobs as soon as the
//! database changes. Options follow LAVA's `lava-server manage lava-master`;
//! `--config-file` reads LAVA's `/etc/lava-server/lava-master`
//! (docs/operations.md). SIGTERM/SIGINT stop it with status 0; SIGHUP
//! reopens its `--log-file`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lava_scheduler::master::{Master, MasterConfig};
use lava_scheduler::SqlStore;

/// The LAVA master daemon.
#[derive(Parser)]
#[command(name = "lava-master", version, args_override_self = true)]
struct Args {
    #[command(flatten)]
    config: lava_bins::service_config::ConfigOptions,
    /// Control socket to bind.
    #[arg(long, default_value = "tcp://*:5556")]
    master_socket: String,
    /// Log socket to bind.
    #[arg(long, default_value = "tcp://*:5555")]
    log_socket: String,
    /// Enable IPv6.
    #[arg(long)]
    ipv6: bool,
    /// Authenticate and encrypt with CURVE.
    #[arg(long)]
    encrypt: bool,
    /// The master's secret certificate.
    #[arg(
        long,
        default_value = "/etc/lava-dispatcher/certificates.d/master.key_secret"
    )]
    master_cert: PathBuf,
    /// Directory of the workers' public certificates (*.key).
    #[arg(long, default_value = "/etc/lava-dispatcher/certificates.d")]
    slaves_certs: PathBuf,
    /// The database: postgresql://USER@HOST/DB or sqlite://PATH.
    #[arg(
        long,
        env = "LAVA_DATABASE_URL",
        default_value = "sqlite:///var/lib/lava-server/lava.db"
    )]
    database: String,
    /// Device-type template directories, searched in order.
    #[arg(long, num_args = 1.., default_value = "/etc/lava-server/dispatcher-config/device-types")]
    device_types: Vec<PathBuf>,
    /// Where job output (logs, results metadata) is written.
    #[arg(long, default_value = "/var/lib/lava-server/default/media/job-output")]
    jobs_dir: PathBuf,
    /// Per-worker dispatcher configuration (dispatcher.yaml, env.yaml, env.dut.yaml).
    #[arg(long, default_value = "/etc/lava-server/dispatcher.d")]
    dispatcher_config: PathBuf,
    /// Create workers that are not registered when they first connect (LAVA's behaviour).
    #[arg(long)]
    auto_register_workers: bool,
    /// Seconds of silence after which a worker is Offline.
    #[arg(long, default_value_t = 60)]
    worker_timeout: u64,
    /// MultiNode member tokens: a key file shared with lava-coordinator
    /// (lines `KID:HEX-SECRET`; the first key is used). START of each
    /// multinode sub-job then carries its token (docs/multinode.md).
    #[arg(long, value_name = "FILE")]
    coordinator_key: Option<PathBuf>,
    /// Answer `GET /metrics` (OpenMetrics) on this address, e.g.
    /// 127.0.0.1:9100 (docs/metrics.md); off by default.
    #[arg(long, value_name = "ADDR")]
    metrics_bind: Option<String>,
    /// Publish job, device and worker state changes on this ZeroMQ PUB
    /// endpoint as LAVA's lava-publisher does, e.g. tcp://*:5500; off by
    /// default.
    #[arg(long, value_name = "URL")]
    event_socket: Option<String>,
    /// The events' topic prefix.
    #[arg(long, default_value = lava_scheduler::events::DEFAULT_TOPIC)]
    event_topic: String,
    /// Log level: DEBUG, INFO, WARN, ERROR.
    #[arg(short, long, default_value = "INFO")]
    level: String,
    /// Log file ('-' for standard error).
    #[arg(short = 'o', long, default_value = "-")]
    log_file: String,
}

fn main() -> ExitCode {
    let program = "lava-master";
    // settings from LAVA's files (--config-file) first, the command line over them
    let command_line = match lava_bins::service_config::command_line(
        lava_bins::service_config::Service::Master,
        std::env::args_os(),
        1,
    ) {
        Ok(command_line) => command_line,
        Err(e) => return lava_bins::fail(program, e),
    };
    let args = Args::parse_from(&command_line.args);
    if args.config.print_args {
        println!("{}", command_line.display());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = lava_bins::init_daemon_logging(&args.level, &args.log_file) {
        return lava_bins::fail(program, e);
    }
    command_line.log_ignored(program);
    let store = match SqlStore::open_url(&args.database) {
        Ok(store) => store,
        Err(e) => return lava_bins::fail(program, e),
    };
    let coordinator_key = match &args.coordinator_key {
        None => None,
        Some(path) => match lava_proto::coordinator::Key::load(path) {
            Ok(keys) => match keys.into_iter().next() {
                Some(key) => {
                    log::info!(
                        "[INIT] MultiNode member tokens with key '{}' from {}",
                        key.id,
                        path.display()
                    );
                    Some(key)
                }
                None => {
                    return lava_bins::fail(
                        program,
                        format!("{}: no key in the file", path.display()),
                    )
                }
            },
            Err(e) => return lava_bins::fail(program, e),
        },
    };
    let mut config = MasterConfig::new(args.jobs_dir, args.device_types);
    config.coordinator_key = coordinator_key;
    config.master_socket = args.master_socket;
    config.log_socket = args.log_socket;
    config.ipv6 = args.ipv6;
    config.encrypt = args
        .encrypt
        .then_some((args.master_cert, args.slaves_certs));
    config.dispatcher_config = Some(args.dispatcher_config);
    config.auto_register = args.auto_register_workers;
    config.worker_timeout = std::time::Duration::from_secs(args.worker_timeout);
    config.metrics_bind = args.metrics_bind;
    config.event_socket = args.event_socket;
    config.event_topic = args.event_topic;
    let mut master = match Master::bind(config, store) {
        Ok(master) => master,
        Err(e) => return lava_bins::fail(program, e),
    };
    if let Err(e) = lava_bins::stop_on_signals(&master.waker().stop_flag()) {
        return lava_bins::fail(program, e);
    }
    match master.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => lava_bins::fail(program, e),
    }
}
