//! lava-run's command line (see the `lava-run` binary). Kept in the
//! library so that `lava-lab` can act as lava-run for its worker.
//!
//! `lava-run` runs one job's pipeline on the worker. Options as LAVA's
//! (`--job-id`, `--output-dir`, `--device`, `--dispatcher`, `--env-dut`,
//! `--validate`, `--logging-url`, `--master-cert`, `--slave-cert`,
//! `--socks-proxy`, `--ipv6`, the job file) plus `--tmp-dir`. Exit codes:
//! 0 success, 1 any failure, 2 usage. The first SIGTERM (or SIGINT,
//! SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) cancels the job through its cleanup;
//! a second one stops the cleanup.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lava_pipeline::cancel::CancelToken;
use lava_pipeline::run::{lava_run, RunOptions};
use lava_pipeline::strategy::Registry;

#[derive(Parser)]
#[command(name = "lava-run", version, about = "Run a LAVA job on this worker")]
struct Args {
    /// Job identifier.
    #[arg(long = "job-id")]
    job_id: String,
    /// Directory for description.yaml (created if missing).
    #[arg(long = "output-dir")]
    output_dir: PathBuf,
    /// Rendered device configuration.
    #[arg(long)]
    device: PathBuf,
    /// Dispatcher configuration.
    #[arg(long)]
    dispatcher: Option<PathBuf>,
    /// DUT environment.
    #[arg(long = "env-dut")]
    env_dut: Option<PathBuf>,
    /// Only parse and validate, print the pipeline.
    #[arg(long)]
    validate: bool,
    /// Log socket (ZeroMQ PUSH); standard error without it.
    #[arg(long = "logging-url")]
    logging_url: Option<String>,
    /// The master's public certificate (CURVE).
    #[arg(long = "master-cert")]
    master_cert: Option<PathBuf>,
    /// This worker's certificate pair (CURVE).
    #[arg(long = "slave-cert")]
    slave_cert: Option<PathBuf>,
    /// SOCKS5 proxy for the log socket.
    #[arg(long = "socks-proxy")]
    socks_proxy: Option<String>,
    /// Enable IPv6 on the log socket.
    #[arg(long)]
    ipv6: bool,
    /// Base directory of per-job temporary files.
    #[arg(long = "tmp-dir", env = "LAVA_DISPATCHER_TMP_DIR", default_value = lava_pipeline::job::DEFAULT_TMP_DIR)]
    tmp_dir: PathBuf,
    /// The job definition.
    definition: PathBuf,
}

/// lava-run's `main`, for any binary that acts as lava-run (`lava-run`
/// itself, and `lava-lab`, which runs its jobs with itself). `args`
/// includes the program name.
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = Args::parse_from(args);
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    for cert in [&args.master_cert, &args.slave_cert].into_iter().flatten() {
        if !cert.exists() {
            eprintln!(
                "lava-run failed to setup logging: {} does not exist",
                cert.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let cancel = match CancelToken::new() {
        Ok(token) => token,
        Err(e) => return crate::fail("lava-run", e),
    };
    if let Err(e) = cancel.cancel_on_signals() {
        return crate::fail("lava-run", e);
    }
    let options = RunOptions {
        job_id: args.job_id,
        output_dir: args.output_dir,
        device: args.device,
        dispatcher: args.dispatcher,
        env_dut: args.env_dut,
        validate_only: args.validate,
        logging_url: args.logging_url,
        master_cert: args.master_cert,
        slave_cert: args.slave_cert,
        socks_proxy: args.socks_proxy,
        ipv6: args.ipv6,
        definition: args.definition,
        tmp_dir: args.tmp_dir,
    };
    match lava_run(&options, &Registry::with_builtins(), &cancel) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
