//! `lava-server manage maintenance [--force] [--dry-run]` and
//! `maintenance --end`: the whole instance in maintenance and back
//! (docs/operations.md "Maintenance").

use crate::output::{actor, Db, Result};

/// The arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Also cancel every job that holds a device (otherwise running jobs
    /// finish).
    #[arg(long, conflicts_with = "end")]
    force: bool,
    /// End the maintenance: bring back the devices it took.
    #[arg(long, visible_alias = "disable")]
    end: bool,
    /// Show what would change, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The admin recorded in the transition log (default: the login name).
    #[arg(long)]
    user: Option<String>,
}

/// Run the command.
pub fn run(args: Args, db: &Db) -> Result {
    let store = db.open()?;
    let who = args.user.unwrap_or_else(actor);
    if args.end {
        let changes = store.end_maintenance(&who, args.dry_run)?;
        println!("Bringing devices back from maintenance:");
        for (device, old, new) in &changes {
            println!("* {device}: {old} -> {new}");
        }
        println!("{} devices back", changes.len());
    } else {
        let report = store.start_maintenance(&who, args.force, args.dry_run)?;
        println!("Setting all devices to maintenance:");
        for (device, old) in &report.devices {
            println!("* {device}: {old} -> Maintenance");
        }
        if args.force {
            println!("Canceling the jobs that hold a device:");
            for job in &report.canceled {
                println!("* {job}");
            }
        }
        println!(
            "{} devices in maintenance, {} jobs canceled",
            report.devices.len(),
            report.canceled.len()
        );
    }
    if args.dry_run {
        println!("Dry run: rolled back, nothing was written");
    }
    Ok(())
}
