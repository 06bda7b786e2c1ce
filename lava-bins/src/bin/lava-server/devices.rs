//! `lava-server manage devices add|list|details|update`.

use std::path::PathBuf;

use clap::Subcommand;
use lava_scheduler::model::{DeviceHealth, DeviceState};
use lava_scheduler::store::{DeviceFilter, DeviceUpdate, NewDevice, SqlStore};

use crate::output::{actor, csv_line, read_text, Db, Result};

/// The commands of this group.
#[derive(Subcommand)]
pub enum Command {
    /// Add a device (health GOOD, or MAINTENANCE with --offline).
    Add {
        /// The device's hostname.
        hostname: String,
        /// Its device type (name or alias).
        #[arg(long, required = true)]
        device_type: String,
        /// The worker it is attached to.
        #[arg(long, required = true)]
        worker: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Add it in MAINTENANCE.
        #[arg(long)]
        offline: bool,
        /// Tags (created if missing).
        #[arg(long, num_args = 1..)]
        tags: Vec<String>,
        /// Its device dictionary, read from this file.
        #[arg(long)]
        dictionary: Option<PathBuf>,
    },
    /// List devices (retired ones only with --all or --health RETIRED).
    List {
        /// Only this state: IDLE, RESERVED or RUNNING.
        #[arg(long, value_parser = parse_state)]
        state: Option<DeviceState>,
        /// Only this health.
        #[arg(long, value_parser = parse_health, conflicts_with = "all")]
        health: Option<DeviceHealth>,
        /// Include retired devices.
        #[arg(short, long)]
        all: bool,
        /// Print CSV: hostname, device-type, state, health.
        #[arg(long)]
        csv: bool,
    },
    /// Show one device.
    Details {
        /// The device.
        hostname: String,
    },
    /// Render and validate device dictionaries (all with --all).
    Check {
        /// The devices to check.
        hostnames: Vec<String>,
        /// Check every device.
        #[arg(short, long, conflicts_with = "hostnames")]
        all: bool,
        /// Device-type template directories, searched in order.
        #[arg(long, num_args = 1.., default_value = DEVICE_TYPES)]
        device_types: Vec<PathBuf>,
    },
    /// A device's dictionary: get (print it), set (from FILE, validated by
    /// rendering first), check (render and validate the stored one).
    Dictionary {
        /// get, set or check.
        #[arg(value_parser = ["get", "set", "check"])]
        action: String,
        /// The device.
        hostname: String,
        /// For set: the dictionary file (`-` for standard input).
        file: Option<PathBuf>,
        /// Device-type template directories, searched in order.
        #[arg(long, num_args = 1.., default_value = DEVICE_TYPES)]
        device_types: Vec<PathBuf>,
    },
    /// Change a device's description, worker or health.
    Update {
        /// The device.
        hostname: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Move it to this worker.
        #[arg(long)]
        worker: Option<String>,
        /// New health (recorded in the transition log).
        #[arg(long, value_parser = parse_health)]
        health: Option<DeviceHealth>,
        /// Why (recorded in the transition log).
        #[arg(long, default_value = "lava-server manage devices update")]
        reason: String,
    },
}

/// LAVA's device-type template directory.
const DEVICE_TYPES: &str = "/etc/lava-server/dispatcher-config/device-types";

/// Render a dictionary and check the result as a device configuration.
/// Whether a dictionary renders into a valid device configuration, as the
/// master checks it before scheduling.
fn check_dictionary(dirs: &[PathBuf], hostname: &str, text: Option<&str>) -> Result {
    lava_devices::TemplateSet::new(dirs).check_device(hostname, text)?;
    Ok(())
}

fn parse_health(text: &str) -> Result<DeviceHealth, String> {
    DeviceHealth::parse(text).ok_or_else(|| {
        format!(
            "unknown device health '{text}' (use {})",
            DeviceHealth::labels()
        )
    })
}

fn parse_state(text: &str) -> Result<DeviceState, String> {
    DeviceState::parse(text).ok_or_else(|| {
        format!(
            "unknown device state '{text}' (use {})",
            DeviceState::labels()
        )
    })
}

/// Run a `devices` command.
pub fn run(command: Command, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Command::Add {
            hostname,
            device_type,
            worker,
            description,
            offline,
            tags,
            dictionary,
        } => {
            let new = NewDevice {
                hostname,
                device_type,
                worker: Some(worker),
                description,
                health: if offline {
                    DeviceHealth::Maintenance
                } else {
                    DeviceHealth::Good
                },
                tags,
                dictionary: dictionary.as_deref().map(read_text).transpose()?,
            };
            add(&store, &new)
        }
        Command::List {
            state,
            health,
            all,
            csv,
        } => list(&store, state, health, all, csv),
        Command::Check {
            hostnames,
            all,
            device_types,
        } => check(&store, &hostnames, all, &device_types),
        Command::Dictionary {
            action,
            hostname,
            file,
            device_types,
        } => match action.as_str() {
            "get" => dictionary_get(&store, &hostname),
            "set" => dictionary_set(&store, &hostname, file, &device_types),
            _ => dictionary_check(&store, &hostname, &device_types),
        },
        Command::Details { hostname } => details(&store, &hostname),
        Command::Update {
            hostname,
            description,
            worker,
            health,
            reason,
        } => update(
            &store,
            &hostname,
            DeviceUpdate {
                description,
                worker,
            },
            health,
            &reason,
        ),
    }
}

fn add(store: &SqlStore, new: &NewDevice) -> Result {
    let device = store.add_device(new, &actor())?;
    println!(
        "Device {} added ({}, {})",
        device.hostname, device.device_type, device.health
    );
    Ok(())
}

fn check(store: &SqlStore, hostnames: &[String], all: bool, device_types: &[PathBuf]) -> Result {
    let devices = if all {
        store.devices(&DeviceFilter {
            include_retired: true,
            ..Default::default()
        })?
    } else if hostnames.is_empty() {
        return Err("name devices to check, or use --all".into());
    } else {
        hostnames
            .iter()
            .map(|h| store.device(h))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut failed = 0;
    for d in &devices {
        match check_dictionary(device_types, &d.hostname, d.dictionary.as_deref()) {
            Ok(()) => println!("* {}: valid", d.hostname),
            Err(e) => {
                failed += 1;
                println!("* {}: invalid: {e}", d.hostname);
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} device dictionaries are invalid",
            devices.len()
        )
        .into());
    }
    Ok(())
}

fn dictionary_get(store: &SqlStore, hostname: &str) -> Result {
    match store.device(hostname)?.dictionary {
        Some(text) => {
            print!("{text}");
            Ok(())
        }
        None => Err(format!("device {hostname} has no dictionary").into()),
    }
}

fn dictionary_set(
    store: &SqlStore,
    hostname: &str,
    file: Option<PathBuf>,
    device_types: &[PathBuf],
) -> Result {
    store.device(hostname)?;
    let file = file.ok_or("dictionary set needs a FILE")?;
    let text = read_text(&file)?;
    lava_devices::DeviceDictionary::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    check_dictionary(device_types, hostname, Some(&text))
        .map_err(|e| format!("dictionary refused: {e}"))?;
    store.set_dictionary(hostname, Some(&text))?;
    println!("Dictionary of {hostname} set");
    Ok(())
}

fn dictionary_check(store: &SqlStore, hostname: &str, device_types: &[PathBuf]) -> Result {
    let device = store.device(hostname)?;
    check_dictionary(device_types, hostname, device.dictionary.as_deref())?;
    println!("{hostname}: valid");
    Ok(())
}

fn update(
    store: &SqlStore,
    hostname: &str,
    update: DeviceUpdate,
    health: Option<DeviceHealth>,
    reason: &str,
) -> Result {
    store.device(hostname)?;
    if update.description.is_some() || update.worker.is_some() {
        store.update_device(hostname, &update)?;
    }
    if let Some(health) = health {
        let old = store.set_device_health(hostname, health, &actor(), reason)?;
        println!("Device {hostname}: {old} -> {health}");
    }
    Ok(())
}

fn list(
    store: &SqlStore,
    state: Option<DeviceState>,
    health: Option<DeviceHealth>,
    all: bool,
    csv: bool,
) -> Result {
    let filter = DeviceFilter {
        state,
        health,
        include_retired: all,
        ..Default::default()
    };
    let devices = store.devices(&filter)?;
    if csv {
        println!(
            "{}",
            csv_line(&["hostname", "device-type", "state", "health"])
        );
    } else {
        println!("Devices:");
    }
    for d in devices {
        if csv {
            println!(
                "{}",
                csv_line(&[
                    d.hostname,
                    d.device_type,
                    d.state.to_string(),
                    d.health.to_string()
                ])
            );
        } else {
            println!(
                "* {} ({}) {}, {}",
                d.hostname, d.device_type, d.state, d.health
            );
        }
    }
    Ok(())
}

fn details(store: &SqlStore, hostname: &str) -> Result {
    let d = store.device(hostname)?;
    println!("hostname   : {}", d.hostname);
    println!("device-type: {}", d.device_type);
    println!("state      : {}", d.state);
    println!("health     : {}", d.health);
    println!("description: {}", d.description);
    println!("worker     : {}", d.worker.as_deref().unwrap_or("-"));
    println!("tags       : {}", d.tags.join(", "));
    println!(
        "dictionary : {}",
        if d.dictionary.is_some() {
            "set"
        } else {
            "none"
        }
    );
    println!(
        "current job: {}",
        d.current_job.map_or("-".to_string(), |j| j.to_string())
    );
    Ok(())
}
