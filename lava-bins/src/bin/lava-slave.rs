//! `lava-slave`: the worker daemon. It connects out to the master and runs
//! each job in a lava-run process. Options follow LAVA's `lava-slave`;
//! `--config-file` reads LAVA's `/etc/lava-dispatcher/lava-slave`
//! (docs/operations.md). SIGTERM/SIGINT stop it with status 0 (running
//! jobs keep running); SIGHUP reopens its `--log-file`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use lava_bins::service_config::{self, ConfigOptions, Service};
use lava_pipeline::slave::{Slave, SlaveConfig};
use lava_proto::socket::ConnectOptions;

/// The LAVA worker daemon.
#[derive(Parser)]
#[command(name = "lava-slave", version, args_override_self = true)]
struct Args {
    #[command(flatten)]
    config: ConfigOptions,
    /// The master's control socket, e.g. tcp://master:5556.
    #[arg(long)]
    master: String,
    /// The master's log socket, handed to lava-run, e.g. tcp://master:5555.
    #[arg(long)]
    socket_addr: String,
    /// This worker's name (default: the host name).
    #[arg(long)]
    hostname: Option<String>,
    /// Job table and per-job directories.
    #[arg(long, default_value = "/var/lib/lava/dispatcher/slave")]
    slave_dir: PathBuf,
    /// lava-run's download directory.
    #[arg(long, default_value = "/var/lib/lava/dispatcher/tmp")]
    dispatcher_tmp: PathBuf,
    /// The lava-run program (default: lava-run next to this program).
    #[arg(long)]
    lava_run: Option<PathBuf>,
    /// A SOCKS5 proxy (host:port).
    #[arg(long)]
    socks_proxy: Option<String>,
    /// Enable IPv6.
    #[arg(long)]
    ipv6: bool,
    /// Authenticate and encrypt with CURVE.
    #[arg(long)]
    encrypt: bool,
    /// The master's public certificate.
    #[arg(long, default_value = "/etc/lava-dispatcher/certificates.d/master.key")]
    master_cert: PathBuf,
    /// This worker's secret certificate.
    #[arg(
        long,
        default_value = "/etc/lava-dispatcher/certificates.d/slave.key_secret"
    )]
    slave_cert: PathBuf,
    /// After CANCEL: seconds before SIGTERM is sent again; SIGKILL follows
    /// after twice as long.
    #[arg(long, default_value_t = 60)]
    cancel_grace: u64,
    /// Serve the jobs' download directories over HTTP on this address
    /// (LAVA's Apache /tmp alias), e.g. 0.0.0.0:80.
    #[arg(long)]
    http_bind: Option<String>,
    /// Log level: DEBUG, INFO, WARN, ERROR.
    #[arg(short, long, default_value = "INFO")]
    level: String,
    /// Log file ('-' for standard error).
    #[arg(long, default_value = "-")]
    log_file: String,
}

fn default_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn main() -> ExitCode {
    let program = "lava-slave";
    // settings from LAVA's files (--config-file) first, the command line over them
    let command_line = match service_config::command_line(Service::Slave, std::env::args_os(), 1) {
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
    let lava_run = args.lava_run.unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("lava-run")))
            .unwrap_or_else(|| PathBuf::from("lava-run"))
    });
    let config = SlaveConfig {
        master: args.master,
        socket_addr: args.socket_addr,
        hostname: args.hostname.unwrap_or_else(default_hostname),
        slave_dir: args.slave_dir,
        dispatcher_tmp: args.dispatcher_tmp,
        lava_run,
        encrypt: args.encrypt.then_some((args.master_cert, args.slave_cert)),
        connect: ConnectOptions {
            ipv6: args.ipv6,
            socks_proxy: args.socks_proxy,
        },
        cancel_grace: std::time::Duration::from_secs(args.cancel_grace),
        http_bind: args.http_bind,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = lava_bins::stop_on_signals(&stop) {
        return lava_bins::fail(program, e);
    }
    let mut slave = match Slave::new(config) {
        Ok(slave) => slave,
        Err(e) => return lava_bins::fail(program, e),
    };
    match slave.run(&stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => lava_bins::fail(program, e),
    }
}
