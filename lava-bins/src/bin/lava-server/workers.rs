//! `lava-server manage workers add|list|details|update`.

use clap::Subcommand;
use lava_scheduler::model::{DeviceHealth, WorkerHealth};
use lava_scheduler::store::{DeviceFilter, NewWorker, SqlStore};

use crate::output::{actor, csv_line, when, Db, Result};

/// The commands of this group.
#[derive(Subcommand)]
pub enum Command {
    /// Add a worker (it stays Offline until it connects).
    Add {
        /// The worker's hostname (its identity on the control channel).
        hostname: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Initial health: ACTIVE, MAINTENANCE or RETIRED.
        #[arg(long, value_parser = parse_health, conflicts_with = "disabled")]
        health: Option<WorkerHealth>,
        /// Add it disabled (health MAINTENANCE).
        #[arg(long)]
        disabled: bool,
    },
    /// List workers.
    List {
        /// Include retired workers.
        #[arg(short, long)]
        all: bool,
        /// Print CSV: hostname, description, state, health, devices, job-limit.
        #[arg(long)]
        csv: bool,
    },
    /// Show one worker.
    Details {
        /// The worker.
        hostname: String,
        /// List its devices.
        #[arg(long)]
        devices: bool,
    },
    /// Change a worker's description, health (it cascades to its devices) or job limit.
    Update {
        /// The worker.
        hostname: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New health: ACTIVE, MAINTENANCE or RETIRED.
        #[arg(long, value_parser = parse_health)]
        health: Option<WorkerHealth>,
        /// Also take every device of the worker offline (MAINTENANCE), in one action.
        #[arg(long)]
        devices_offline: bool,
        /// How many jobs the worker may run at once (0: no limit).
        #[arg(long, value_name = "N")]
        job_limit: Option<i64>,
        /// Why (recorded in the transition log).
        #[arg(long, default_value = "lava-server manage workers update")]
        reason: String,
    },
}

fn parse_health(text: &str) -> Result<WorkerHealth, String> {
    WorkerHealth::parse(text).ok_or_else(|| {
        format!(
            "unknown worker health '{text}' (use {})",
            WorkerHealth::labels()
        )
    })
}

/// Run a `workers` command.
pub fn run(command: Command, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Command::Add {
            hostname,
            description,
            health,
            disabled,
        } => add(&store, hostname, description, health, disabled),
        Command::List { all, csv } => list(&store, all, csv),
        Command::Details { hostname, devices } => details(&store, &hostname, devices),
        Command::Update {
            hostname,
            description,
            health,
            devices_offline,
            job_limit,
            reason,
        } => update(
            &store,
            &hostname,
            Changes {
                description,
                health,
                devices_offline,
                job_limit,
            },
            &reason,
        ),
    }
}

fn add(
    store: &SqlStore,
    hostname: String,
    description: String,
    health: Option<WorkerHealth>,
    disabled: bool,
) -> Result {
    let health = if disabled {
        WorkerHealth::Maintenance
    } else {
        health.unwrap_or(WorkerHealth::Active)
    };
    let new = NewWorker {
        hostname,
        description,
        health,
    };
    let worker = store.add_worker(&new, &actor())?;
    println!("Worker {} added ({})", worker.hostname, worker.health);
    Ok(())
}

/// A job limit as admins read it: `none` for 0.
fn job_limit_text(limit: i64) -> String {
    if limit == 0 {
        "none".to_string()
    } else {
        limit.to_string()
    }
}

fn device_counts(store: &SqlStore) -> Result<std::collections::BTreeMap<String, usize>> {
    let mut counts = std::collections::BTreeMap::new();
    let all = DeviceFilter {
        include_retired: true,
        ..Default::default()
    };
    for device in store.devices(&all)? {
        if let Some(worker) = device.worker {
            *counts.entry(worker).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

fn list(store: &SqlStore, all: bool, csv: bool) -> Result {
    let counts = device_counts(store)?;
    let workers = store.workers(all)?;
    if csv {
        println!(
            "{}",
            csv_line(&[
                "hostname",
                "description",
                "state",
                "health",
                "devices",
                "job-limit"
            ])
        );
    } else {
        println!("Workers:");
    }
    for w in workers {
        let n = counts.get(&w.hostname).copied().unwrap_or(0);
        if csv {
            println!(
                "{}",
                csv_line(&[
                    w.hostname,
                    w.description,
                    w.state.to_string(),
                    w.health.to_string(),
                    n.to_string(),
                    w.job_limit.to_string()
                ])
            );
        } else {
            let limit = match w.job_limit {
                0 => String::new(),
                n => format!(", at most {n} jobs"),
            };
            println!(
                "* {} ({n} devices{limit}) {}, {}",
                w.hostname, w.state, w.health
            );
        }
    }
    Ok(())
}

fn details(store: &SqlStore, hostname: &str, list_devices: bool) -> Result {
    let w = store.worker(hostname)?;
    let filter = DeviceFilter {
        worker: Some(hostname.to_string()),
        include_retired: true,
        ..Default::default()
    };
    let devices = store.devices(&filter)?;
    println!("hostname   : {}", w.hostname);
    println!("description: {}", w.description);
    println!("state      : {}", w.state);
    println!("health     : {}", w.health);
    println!("last ping  : {}", when(w.last_ping));
    println!("job limit  : {}", job_limit_text(w.job_limit));
    if list_devices {
        println!("devices    :");
        for d in devices {
            println!(
                "* {} ({}) {}, {}",
                d.hostname, d.device_type, d.state, d.health
            );
        }
    } else {
        let retired = devices
            .iter()
            .filter(|d| d.health == DeviceHealth::Retired)
            .count();
        println!("devices    : {} ({retired} retired)", devices.len());
    }
    Ok(())
}

/// What `workers update` changes.
struct Changes {
    description: Option<String>,
    health: Option<WorkerHealth>,
    devices_offline: bool,
    job_limit: Option<i64>,
}

fn update(store: &SqlStore, hostname: &str, changes: Changes, reason: &str) -> Result {
    let Changes {
        description,
        health,
        devices_offline,
        job_limit,
    } = changes;
    let who = actor();
    store.worker(hostname)?;
    if let Some(limit) = job_limit {
        store.set_worker_job_limit(hostname, limit)?;
        println!("Worker {hostname}: job limit {}", job_limit_text(limit));
    }
    if let Some(description) = description {
        store.set_worker_description(hostname, &description)?;
    }
    if let Some(health) = health {
        let changes = store.set_worker_health(hostname, health, &who, reason)?;
        println!("Worker {hostname} is {health}");
        for (device, old, new) in changes {
            println!("  device {device}: {old} -> {new}");
        }
    }
    if devices_offline {
        let changes = store.worker_devices_offline(hostname, &who, reason)?;
        println!("All devices of {hostname} are offline");
        for (device, old, new) in changes {
            println!("  device {device}: {old} -> {new}");
        }
    }
    Ok(())
}
