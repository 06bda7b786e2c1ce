//! `lava-server manage import-lava`: a LAVA instance's devices, device
//! types and health checks, read from its `dispatcher-config/` folder
//! (docs/operations.md "Importing a LAVA instance"). Every file is
//! validated first; the accepted ones are then written in one transaction.
//! One line per file; exit status 1 when any file was refused.

use std::path::PathBuf;
use std::process::ExitCode;

use lava_bins::import_lava::{self, Workers};
use lava_scheduler::model::WorkerHealth;
use lava_scheduler::store::ImportOutcome;

use crate::output::{actor, Db, Result};

/// The arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The LAVA instance's dispatcher-config folder (with devices/,
    /// device-types/ and health-checks/), e.g. a copy of
    /// /etc/lava-server/dispatcher-config.
    #[arg(long, value_name = "DIR")]
    dispatcher_config: PathBuf,
    /// The worker every device is attached to.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "worker_map",
        conflicts_with = "worker_map"
    )]
    worker: Option<String>,
    /// A YAML file mapping workers to their devices:
    /// `worker1: [bbb-01, bbb-02]`. A device not in it is refused.
    #[arg(long, value_name = "FILE")]
    worker_map: Option<PathBuf>,
    /// More device-type template folders, searched after DIR/device-types
    /// (give the master the same ones).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    device_types: Vec<PathBuf>,
    /// Validate and report what would be done, write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Run the import.
pub fn run(args: Args, db: &Db) -> Result<ExitCode> {
    let workers = match (args.worker, args.worker_map) {
        (Some(worker), _) => Workers::All(worker),
        (None, Some(path)) => {
            let map = import_lava::read_worker_map(&path).map_err(|e| e.to_string())?;
            Workers::Map(path, map)
        }
        (None, None) => return Err("give --worker NAME or --worker-map FILE".into()),
    };
    let prepared = import_lava::prepare(&args.dispatcher_config, &workers, &args.device_types)
        .map_err(|e| e.to_string())?;
    let store = db.open()?;
    let report = store.import_lab(
        &prepared.plan,
        WorkerHealth::Maintenance,
        &actor(),
        args.dry_run,
    )?;
    if args.dry_run {
        println!("Dry run: nothing is written");
    }
    for note in &prepared.notes {
        println!("{note}");
    }
    for (worker, outcome) in &report.workers {
        match outcome {
            ImportOutcome::Created => println!(
                "created worker {worker} (Maintenance; enable it with `lava-server manage workers update {worker} --health ACTIVE`)"
            ),
            ImportOutcome::Refused(why) => println!("refused worker {worker}: {why}"),
            _ => println!("worker {worker} exists, unchanged"),
        }
    }
    for (device_type, outcome) in &report.device_types {
        match outcome {
            ImportOutcome::Created => println!("created device type {device_type}"),
            ImportOutcome::Refused(why) => println!("refused device type {device_type}: {why}"),
            _ => println!("device type {device_type} exists, unchanged"),
        }
    }
    let mut counts = Counts::default();
    for ((device, path), outcome) in prepared
        .plan
        .devices
        .iter()
        .zip(&prepared.device_files)
        .zip(&report.devices)
    {
        let what = format!(
            "device {} (type {}, worker {})",
            device.hostname, device.device_type, device.worker
        );
        counts.add(outcome);
        match outcome {
            ImportOutcome::Created => println!("imported {what}"),
            ImportOutcome::Updated(changed) => {
                println!("updated {what}: {}", changed.join(", "))
            }
            ImportOutcome::Unchanged => println!("unchanged {what}"),
            ImportOutcome::Refused(why) | ImportOutcome::Skipped(why) => {
                println!("refused {}: {why}", path.display())
            }
        }
    }
    for ((check, path), outcome) in prepared
        .plan
        .health_checks
        .iter()
        .zip(&prepared.health_check_files)
        .zip(&report.health_checks)
    {
        let what = format!(
            "health check of {} from {}",
            check.device_type,
            path.display()
        );
        counts.add(outcome);
        match outcome {
            ImportOutcome::Created => println!("imported {what}"),
            ImportOutcome::Updated(_) => println!("updated {what}"),
            ImportOutcome::Unchanged => println!("unchanged {what}"),
            ImportOutcome::Refused(why) => println!("refused {}: {why}", path.display()),
            ImportOutcome::Skipped(why) => println!("skipped {}: {why}", path.display()),
        }
    }
    for refusal in &prepared.refused {
        println!("refused {}: {}", refusal.path.display(), refusal.reason);
    }
    let refused = counts.refused + prepared.refused.len();
    println!(
        "{} imported, {} updated, {} unchanged, {} skipped, {refused} refused{}",
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.skipped,
        if args.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
    if refused > 0 {
        eprintln!("lava-server: {refused} files refused (see the lines starting with 'refused')");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Counts {
    created: usize,
    updated: usize,
    unchanged: usize,
    skipped: usize,
    refused: usize,
}

impl Counts {
    fn add(&mut self, outcome: &ImportOutcome) {
        match outcome {
            ImportOutcome::Created => self.created += 1,
            ImportOutcome::Updated(_) => self.updated += 1,
            ImportOutcome::Unchanged => self.unchanged += 1,
            ImportOutcome::Skipped(_) => self.skipped += 1,
            ImportOutcome::Refused(_) => self.refused += 1,
        }
    }
}
