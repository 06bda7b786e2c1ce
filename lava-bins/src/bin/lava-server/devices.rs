//! `lava-server manage devices add|list|details|update`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use lava_scheduler::model::{DeviceHealth, DeviceState};
use lava_scheduler::store::{DeviceFilter, DeviceUpdate, NewDevice, Store};

use crate::output::{actor, csv_line, fail, finish, Db};

/// Arguments of `devices`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
fn check_dictionary(
    dirs: &[PathBuf],
    hostname: &str,
    device_type: &str,
    text: Option<&str>,
) -> Result<(), String> {
    use lava_scheduler::scheduler::DeviceCheck;
    lava_scheduler::master::Devices::new(dirs).check(hostname, device_type, text)
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
pub fn run(args: Args, db: &Db) -> ExitCode {
    let store = match db.open() {
        Ok(store) => store,
        Err(e) => return fail(e),
    };
    finish(match args.command {
        Command::Add {
            hostname,
            device_type,
            worker,
            description,
            offline,
            tags,
            dictionary,
        } => (|| {
            let dictionary = match dictionary {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                ),
                None => None,
            };
            let health = if offline {
                DeviceHealth::Maintenance
            } else {
                DeviceHealth::Good
            };
            let new = NewDevice {
                hostname,
                device_type,
                worker: Some(worker),
                description,
                health,
                tags,
                dictionary,
            };
            let device = store
                .add_device(&new, &actor())
                .map_err(|e| e.to_string())?;
            println!(
                "Device {} added ({}, {})",
                device.hostname, device.device_type, device.health
            );
            Ok(())
        })(),
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
        } => (|| {
            let devices = if all {
                store
                    .devices(&DeviceFilter {
                        include_retired: true,
                        ..Default::default()
                    })
                    .map_err(|e| e.to_string())?
            } else if hostnames.is_empty() {
                return Err("name devices to check, or use --all".to_string());
            } else {
                hostnames
                    .iter()
                    .map(|h| store.device(h).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let mut failed = 0;
            for d in &devices {
                match check_dictionary(
                    &device_types,
                    &d.hostname,
                    &d.device_type,
                    d.dictionary.as_deref(),
                ) {
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
                ));
            }
            Ok(())
        })(),
        Command::Dictionary {
            action,
            hostname,
            file,
            device_types,
        } => (|| {
            let device = store.device(&hostname).map_err(|e| e.to_string())?;
            match action.as_str() {
                "get" => match device.dictionary {
                    Some(text) => {
                        print!("{text}");
                        Ok(())
                    }
                    None => Err(format!("device {hostname} has no dictionary")),
                },
                "set" => {
                    let file = file.ok_or("dictionary set needs a FILE")?;
                    let text = if file.as_os_str() == "-" {
                        let mut text = String::new();
                        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                            .map_err(|e| format!("standard input: {e}"))?;
                        text
                    } else {
                        std::fs::read_to_string(&file)
                            .map_err(|e| format!("{}: {e}", file.display()))?
                    };
                    lava_devices::DeviceDictionary::parse(&text)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    check_dictionary(&device_types, &hostname, &device.device_type, Some(&text))
                        .map_err(|e| format!("dictionary refused: {e}"))?;
                    store
                        .set_dictionary(&hostname, Some(&text))
                        .map_err(|e| e.to_string())?;
                    println!("Dictionary of {hostname} set");
                    Ok(())
                }
                _ => check_dictionary(
                    &device_types,
                    &hostname,
                    &device.device_type,
                    device.dictionary.as_deref(),
                )
                .map(|()| println!("{hostname}: valid")),
            }
        })(),
        Command::Details { hostname } => details(&store, &hostname),
        Command::Update {
            hostname,
            description,
            worker,
            health,
            reason,
        } => (|| {
            store.device(&hostname).map_err(|e| e.to_string())?;
            if description.is_some() || worker.is_some() {
                store
                    .update_device(
                        &hostname,
                        &DeviceUpdate {
                            description,
                            worker,
                        },
                    )
                    .map_err(|e| e.to_string())?;
            }
            if let Some(health) = health {
                let old = store
                    .set_device_health(&hostname, health, &actor(), &reason)
                    .map_err(|e| e.to_string())?;
                println!("Device {hostname}: {old} -> {health}");
            }
            Ok(())
        })(),
    })
}

fn list(
    store: &dyn Store,
    state: Option<DeviceState>,
    health: Option<DeviceHealth>,
    all: bool,
    csv: bool,
) -> Result<(), String> {
    let filter = DeviceFilter {
        state,
        health,
        include_retired: all,
        ..Default::default()
    };
    let devices = store.devices(&filter).map_err(|e| e.to_string())?;
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

fn details(store: &dyn Store, hostname: &str) -> Result<(), String> {
    let d = store.device(hostname).map_err(|e| e.to_string())?;
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
