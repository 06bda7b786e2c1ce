//! `lava-run`: runs one job's pipeline on the worker. Options as LAVA's
//! (`--job-id`, `--output-dir`, `--device`, `--dispatcher`, `--env-dut`,
//! `--validate`, `--logging-url`, `--master-cert`, `--slave-cert`,
//! `--socks-proxy`, `--ipv6`, the job file) plus `--tmp-dir`. Exit codes:
//! 0 success, 1 any failure, 2 usage. The first SIGTERM (or SIGINT,
//! SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) cancels the job through its cleanup;
//! a second one stops the cleanup.

use std::process::ExitCode;

fn main() -> ExitCode {
    lava_bins::run_cli::main_with(std::env::args_os())
}
