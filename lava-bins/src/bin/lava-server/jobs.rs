//! `lava-server manage jobs ...` (being written).

use std::process::ExitCode;

/// Arguments of `jobs`.
#[derive(clap::Args)]
pub struct Args {}

/// Run a `jobs` command.
pub fn run(_args: Args) -> ExitCode {
    lava_bins::fail("lava-server", "not implemented yet")
}
