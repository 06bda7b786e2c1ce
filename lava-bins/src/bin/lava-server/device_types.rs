//! `lava-server manage device-types add|list|details|update`.

use std::path::PathBuf;

use clap::Subcommand;
use lava_scheduler::model::HealthDenominator;
use lava_scheduler::store::{DeviceFilter, DeviceTypeUpdate, NewDeviceType, SqlStore};

use crate::output::{csv_line, read_text, Db, Result};

/// The commands of this group.
#[derive(Subcommand)]
pub enum Command {
    /// Add a device type.
    Add {
        /// The name (also its template, NAME.jinja2).
        name: String,
        /// Another name jobs may use for it.
        #[arg(long)]
        alias: Option<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Run a health check every N hours or jobs.
        #[arg(long, default_value_t = 24)]
        health_frequency: i64,
        /// What N counts: hours or jobs.
        #[arg(long, value_parser = parse_denominator, default_value = "hours")]
        health_denominator: HealthDenominator,
        /// Never run health checks on devices of this type.
        #[arg(long)]
        disable_health_check: bool,
    },
    /// List device types.
    List {
        /// Print CSV: name, devices, aliases.
        #[arg(long)]
        csv: bool,
    },
    /// Show one device type.
    Details {
        /// The device type.
        name: String,
        /// List its devices.
        #[arg(long)]
        devices: bool,
    },
    /// The health-check job of a device type: get (print it) or set (from
    /// FILE, validated like a submitted job; `--clear` removes it).
    HealthCheck {
        /// get or set.
        #[arg(value_parser = ["get", "set"])]
        action: String,
        /// The device type.
        name: String,
        /// For set: the job definition (`-` for standard input).
        file: Option<PathBuf>,
        /// For set: remove the health check instead.
        #[arg(long)]
        clear: bool,
    },
    /// Change a device type: add an alias, description, health-check policy.
    Update {
        /// The device type.
        name: String,
        /// Add this alias.
        #[arg(long)]
        alias: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New health-check frequency.
        #[arg(long)]
        health_frequency: Option<i64>,
        /// New denominator: hours or jobs.
        #[arg(long, value_parser = parse_denominator)]
        health_denominator: Option<HealthDenominator>,
        /// Disable health checks.
        #[arg(long, conflicts_with = "enable_health_check")]
        disable_health_check: bool,
        /// Enable health checks again.
        #[arg(long)]
        enable_health_check: bool,
    },
}

fn parse_denominator(text: &str) -> Result<HealthDenominator, String> {
    HealthDenominator::parse(text)
        .ok_or_else(|| format!("unknown health denominator '{text}' (use hours or jobs)"))
}

/// Run a `device-types` command.
pub fn run(command: Command, db: &Db) -> Result {
    let store = db.open()?;
    match command {
        Command::Add {
            name,
            alias,
            description,
            health_frequency,
            health_denominator,
            disable_health_check,
        } => {
            let new = NewDeviceType {
                name,
                description,
                health_frequency,
                health_denominator,
                health_check_disabled: disable_health_check,
            };
            add(&store, &new, alias)
        }
        Command::List { csv } => list(&store, csv),
        Command::HealthCheck {
            action,
            name,
            file,
            clear,
        } => match (action.as_str(), clear) {
            ("get", _) => health_check_get(&store, &name),
            (_, true) => health_check_clear(&store, &name),
            _ => health_check_set(&store, &name, file),
        },
        Command::Details { name, devices } => details(&store, &name, devices),
        Command::Update {
            name,
            alias,
            description,
            health_frequency,
            health_denominator,
            disable_health_check,
            enable_health_check,
        } => {
            let update = DeviceTypeUpdate {
                description,
                health_frequency,
                health_denominator,
                health_check_disabled: match (disable_health_check, enable_health_check) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            self::update(&store, &name, &update, alias)
        }
    }
}

fn add(store: &SqlStore, new: &NewDeviceType, alias: Option<String>) -> Result {
    store.add_device_type(new)?;
    if let Some(alias) = alias {
        store.add_alias(&new.name, &alias)?;
    }
    println!("Device type {} added", new.name);
    Ok(())
}

fn health_check_get(store: &SqlStore, name: &str) -> Result {
    match store.device_type(name)?.health_check {
        Some(text) => {
            print!("{text}");
            Ok(())
        }
        None => Err(format!("device type {name} has no health check").into()),
    }
}

fn health_check_clear(store: &SqlStore, name: &str) -> Result {
    store.device_type(name)?;
    store.set_health_check(name, None)?;
    println!("Health check of {name} removed");
    Ok(())
}

fn health_check_set(store: &SqlStore, name: &str, file: Option<PathBuf>) -> Result {
    store.device_type(name)?;
    let file = file.ok_or("health-check set needs a FILE (or --clear)")?;
    let text = read_text(&file)?;
    let report = lava_proto::job::validate(&text);
    if let Some(issue) = report.first_error() {
        return Err(format!("{}: invalid health check: {issue}", file.display()).into());
    }
    store.set_health_check(name, Some(&text))?;
    println!("Health check of {name} set");
    Ok(())
}

fn update(
    store: &SqlStore,
    name: &str,
    update: &DeviceTypeUpdate,
    alias: Option<String>,
) -> Result {
    store.update_device_type(name, update)?;
    if let Some(alias) = alias {
        store.add_alias(name, &alias)?;
    }
    println!("Device type {name} updated");
    Ok(())
}

fn list(store: &SqlStore, csv: bool) -> Result {
    let devices = store.devices(&DeviceFilter::default())?;
    let types = store.device_types()?;
    if csv {
        println!("{}", csv_line(&["name", "devices", "aliases"]));
    } else {
        println!("Device types:");
    }
    for t in types {
        let n = devices.iter().filter(|d| d.device_type == t.name).count();
        if csv {
            println!(
                "{}",
                csv_line(&[t.name, n.to_string(), t.aliases.join(" ")])
            );
        } else {
            println!("* {} ({n} devices)", t.name);
        }
    }
    Ok(())
}

fn details(store: &SqlStore, name: &str, list_devices: bool) -> Result {
    let t = store.resolve_device_type(name)?;
    let filter = DeviceFilter {
        device_type: Some(t.name.clone()),
        include_retired: true,
        ..Default::default()
    };
    let devices = store.devices(&filter)?;
    println!("name        : {}", t.name);
    println!("description : {}", t.description);
    println!("aliases     : {}", t.aliases.join(", "));
    println!(
        "health check: {}",
        if t.health_check_disabled {
            "disabled".to_string()
        } else {
            format!("every {} {}", t.health_frequency, t.health_denominator)
        }
    );
    println!(
        "definition  : {}",
        if t.health_check.is_some() {
            "set"
        } else {
            "none"
        }
    );
    if list_devices {
        println!("devices     :");
        for d in devices {
            println!("* {} {}, {}", d.hostname, d.state, d.health);
        }
    } else {
        println!("devices     : {}", devices.len());
    }
    Ok(())
}
