//! `lava-server manage GROUP COMMAND ...`: the master's admin commands, named
//! as LAVA admins know them. Each command group lives in its own module and
//! only parses arguments, calls the libraries and prints.
//!
//! Exit codes: 0 success, 1 failure (the error is one line on stderr), 2
//! usage error.

mod jobs;
mod templates;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// LAVA server administration.
#[derive(Parser)]
#[command(name = "lava-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// Administration commands (as `lava-server manage` in LAVA).
    Manage {
        #[command(subcommand)]
        group: Manage,
    },
}

#[derive(Subcommand)]
enum Manage {
    /// Job definitions: validate.
    Jobs(jobs::Args),
    /// Device-type templates and device dictionaries: render.
    Templates(templates::Args),
}

fn main() -> ExitCode {
    lava_bins::init_logging("warn");
    let cli = Cli::parse();
    match cli.command {
        Top::Manage { group } => match group {
            Manage::Jobs(args) => jobs::run(args),
            Manage::Templates(args) => templates::run(args),
        },
    }
}
