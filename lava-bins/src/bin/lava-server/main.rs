//! `lava-server manage GROUP COMMAND ...`: the master's admin commands, named
//! as LAVA admins know them. Each command group lives in its own module and
//! only parses arguments, calls the libraries and prints.
//!
//! Exit codes: 0 success, 1 failure (the error is one line on stderr), 2
//! usage error. `run` dispatches to one function per group, which
//! dispatches to one function per command; all return `output::Result`.

mod device_tags;
mod device_types;
mod devices;
mod import_lava;
mod jobs;
mod maintenance;
mod output;
mod serve;
mod templates;
mod users;
mod workers;

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
        /// The database: postgresql://USER@HOST/DB or sqlite://PATH.
        #[arg(long, global = true, env = "LAVA_DATABASE_URL", default_value = output::DEFAULT_DATABASE)]
        database: String,
        #[command(subcommand)]
        group: Manage,
    },
    /// The HTTP service: XML-RPC (/RPC2) and REST API (/api/v0.2/).
    #[command(args_override_self = true)]
    Serve {
        /// The database: postgresql://USER@HOST/DB or sqlite://PATH.
        #[arg(long, env = "LAVA_DATABASE_URL", default_value = output::DEFAULT_DATABASE)]
        database: String,
        #[command(flatten)]
        args: serve::Args,
    },
}

#[derive(Subcommand)]
enum Manage {
    /// Workers: add, list, details, update.
    #[command(subcommand)]
    Workers(workers::Command),
    /// Device types: add, list, details, update.
    #[command(subcommand)]
    DeviceTypes(device_types::Command),
    /// Devices: add, list, details, update.
    #[command(subcommand)]
    Devices(devices::Command),
    /// Device tags: create, list, add, remove, show.
    #[command(subcommand)]
    DeviceTags(device_tags::Command),
    /// Jobs: validate, submit, cancel, fail, list, show.
    #[command(subcommand)]
    Jobs(jobs::Command),
    /// Device-type templates and device dictionaries: render.
    #[command(subcommand)]
    Templates(templates::Command),
    /// Users of the HTTP service: add, list, update.
    #[command(subcommand)]
    Users(users::Users),
    /// Groups (for group-visible jobs): add, list.
    #[command(subcommand)]
    Groups(users::Groups),
    /// API tokens: add (printed once), list, rm.
    #[command(subcommand)]
    Tokens(users::Tokens),
    /// Import a LAVA instance's devices, device types and health checks
    /// from its dispatcher-config folder.
    ImportLava(import_lava::Args),
    /// Put every device in maintenance (--end: bring them back).
    Maintenance(maintenance::Args),
}

fn main() -> ExitCode {
    lava_bins::restore_sigpipe();
    // `serve --config-file PATH`: the files' settings go first
    let args = match serve::with_config_files(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => return lava_bins::fail(output::PROGRAM, e),
    };
    match run(Cli::parse_from(args)) {
        Ok(code) => code,
        Err(e) => lava_bins::fail(output::PROGRAM, e),
    }
}

fn run(cli: Cli) -> output::Result<ExitCode> {
    let (database, group) = match cli.command {
        Top::Serve { database, args } => return serve::run(args, &output::Db::new(database)),
        Top::Manage { database, group } => (database, group),
    };
    lava_bins::init_logging("warn");
    let db = output::Db::new(database);
    match group {
        Manage::Workers(args) => workers::run(args, &db),
        Manage::DeviceTypes(args) => device_types::run(args, &db),
        Manage::Devices(args) => devices::run(args, &db),
        Manage::DeviceTags(args) => device_tags::run(args, &db),
        Manage::Jobs(args) => return jobs::run(args, &db),
        Manage::ImportLava(args) => return import_lava::run(args, &db),
        Manage::Maintenance(args) => maintenance::run(args, &db),
        Manage::Templates(args) => templates::run(args),
        Manage::Users(args) => users::run_users(args, &db),
        Manage::Groups(args) => users::run_groups(args, &db),
        Manage::Tokens(args) => users::run_tokens(args, &db),
    }?;
    Ok(ExitCode::SUCCESS)
}
