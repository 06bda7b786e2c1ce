//! `lava-server manage templates ...` (being written).

use std::process::ExitCode;

/// Arguments of `templates`.
#[derive(clap::Args)]
pub struct Args {}

/// Run a `templates` command.
pub fn run(_args: Args) -> ExitCode {
    lava_bins::fail("lava-server", "not implemented yet")
}
