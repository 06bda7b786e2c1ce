//! `lava-run`: runs one job's pipeline on the worker, with the built-in
//! strategies. The command line and exit codes are those of
//! `lava_pipeline::run` (`lava-run --help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    lava_bins::lava_run_main(std::env::args_os())
}
