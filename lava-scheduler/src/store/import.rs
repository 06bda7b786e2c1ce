//! Bringing a LAVA instance's workers, device types, devices and health
//! checks over in one transaction (`lava-server manage import-lava`,
//! docs/operations.md "Importing a LAVA instance"). The caller reads and
//! validates the files; the store decides, against what the database
//! already holds, what each item becomes, and applies it all or nothing.

use std::collections::BTreeMap;

use super::device_types::add_device_type_in;
use super::devices::{add_device_in, check_device_hostname};
use super::rows::*;
use super::workers::{add_worker_in, check_worker_hostname};
use super::*;
use crate::error::StoreError;
use crate::model::*;

/// What to import, already validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// The devices, in the order they are reported.
    pub devices: Vec<ImportDevice>,
    /// Health-check job definitions, by device type.
    pub health_checks: Vec<ImportHealthCheck>,
}

/// One device of an [`ImportPlan`].
#[derive(Debug, Clone)]
pub struct ImportDevice {
    /// Its hostname.
    pub hostname: String,
    /// Its device type (the template its dictionary extends, without
    /// `.jinja2`).
    pub device_type: String,
    /// The worker it is attached to.
    pub worker: String,
    /// Its device dictionary, as the file holds it.
    pub dictionary: String,
}

/// One health check of an [`ImportPlan`].
#[derive(Debug, Clone)]
pub struct ImportHealthCheck {
    /// The device type.
    pub device_type: String,
    /// The job definition.
    pub definition: String,
}

/// What happened to one imported item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed; the names of what changed.
    Updated(Vec<&'static str>),
    /// It existed exactly as imported.
    Unchanged,
    /// Not imported, and nothing of it was written: why.
    Refused(String),
    /// Not imported, by design (not an error): why.
    Skipped(String),
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// The workers the devices name: created (in the health of
    /// [`SqlStore::import_lab`]'s `new_worker_health`) or unchanged.
    pub workers: Vec<(String, ImportOutcome)>,
    /// The device types the devices use: created (LAVA's default
    /// health-check policy) or unchanged.
    pub device_types: Vec<(String, ImportOutcome)>,
    /// One outcome per device of the plan, in its order.
    pub devices: Vec<ImportOutcome>,
    /// One outcome per health check of the plan, in its order.
    pub health_checks: Vec<ImportOutcome>,
}

impl SqlStore {
    /// Import `plan` in one transaction (rolled back when `dry_run`):
    ///
    /// - a worker the devices name that does not exist is created with
    ///   `new_worker_health` (existing workers are left as they are);
    /// - a device type a device uses that does not exist is created with
    ///   LAVA's defaults (existing ones are left as they are);
    /// - a new device is created Unknown (a health check before user
    ///   jobs), or Maintenance on a worker in Maintenance; an existing one
    ///   gets the imported dictionary and worker ("updated", or
    ///   "unchanged" when both are already so) but is refused if it has
    ///   another device type;
    /// - a health check is stored for its device type when the type exists
    ///   or is created here, and skipped otherwise.
    ///
    /// Items refused here are skipped, the rest applied. An error of the
    /// database aborts the whole import: nothing is written.
    pub fn import_lab(
        &self,
        plan: &ImportPlan,
        new_worker_health: WorkerHealth,
        actor: &str,
        dry_run: bool,
    ) -> Result<ImportReport, StoreError> {
        super::maintenance::rolled_back_if(self, dry_run, |conn| {
            import_in(conn, plan, new_worker_health, actor)
        })
    }
}

fn import_in(
    conn: &mut dyn Conn,
    plan: &ImportPlan,
    new_worker_health: WorkerHealth,
    actor: &str,
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    // First what the database refuses, so that a refused device creates no
    // worker and no device type.
    let mut verdicts: Vec<Option<ImportOutcome>> = Vec::with_capacity(plan.devices.len());
    let mut existing: Vec<Option<Device>> = Vec::with_capacity(plan.devices.len());
    for device in &plan.devices {
        let (verdict, current) = precheck(conn, device)?;
        verdicts.push(verdict);
        existing.push(current);
    }

    // Workers: created once, whatever the number of their devices.
    let mut workers: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    for device in pending(plan, &verdicts) {
        if workers.contains_key(&device.worker) {
            continue;
        }
        let outcome = if let Err(e) = check_worker_hostname(&device.worker) {
            ImportOutcome::Refused(e.to_string())
        } else if conn
            .query_opt(
                "SELECT hostname FROM workers WHERE hostname = $1",
                &[device.worker.as_str().into()],
            )?
            .is_some()
        {
            ImportOutcome::Unchanged
        } else {
            let new = NewWorker {
                hostname: device.worker.clone(),
                description: "imported from LAVA".into(),
                health: new_worker_health,
            };
            add_worker_in(conn, &new, actor)?;
            ImportOutcome::Created
        };
        let usable = match &outcome {
            ImportOutcome::Refused(why) => Err(format!("worker {}: {why}", device.worker)),
            _ => Ok(()),
        };
        workers.insert(device.worker.clone(), usable);
        report.workers.push((device.worker.clone(), outcome));
    }
    for (i, device) in plan.devices.iter().enumerate() {
        if let (None, Some(Err(why))) = (&verdicts[i], workers.get(&device.worker)) {
            verdicts[i] = Some(ImportOutcome::Refused(why.clone()));
        }
    }

    // Device types: those the remaining devices use.
    let mut types: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    for device in pending(plan, &verdicts) {
        if types.contains_key(&device.device_type) {
            continue;
        }
        let name = device.device_type.as_str();
        let alias_of = conn
            .query_opt(
                "SELECT device_type FROM aliases WHERE name = $1",
                &[name.into()],
            )?
            .map(|row| row.text(0))
            .transpose()?;
        let outcome = if let Some(target) = alias_of {
            ImportOutcome::Refused(format!(
                "'{name}' is an alias of device type {target} here; a device's type must be its template's name"
            ))
        } else if conn
            .query_opt(
                "SELECT name FROM device_types WHERE name = $1",
                &[name.into()],
            )?
            .is_some()
        {
            ImportOutcome::Unchanged
        } else {
            add_device_type_in(conn, &NewDeviceType::new(name))?;
            ImportOutcome::Created
        };
        let usable = match &outcome {
            ImportOutcome::Refused(why) => Err(format!("device type {name}: {why}")),
            _ => Ok(()),
        };
        types.insert(name.to_string(), usable);
        report.device_types.push((name.to_string(), outcome));
    }

    for (i, device) in plan.devices.iter().enumerate() {
        let outcome = match verdicts[i].take() {
            Some(outcome) => outcome,
            None => match &types[&device.device_type] {
                Err(why) => ImportOutcome::Refused(why.clone()),
                Ok(()) => import_device(conn, device, existing[i].take(), actor)?,
            },
        };
        report.devices.push(outcome);
    }

    for check in &plan.health_checks {
        let current = conn.query_opt(
            "SELECT health_check FROM device_types WHERE name = $1",
            &[check.device_type.as_str().into()],
        )?;
        let outcome = match current {
            None => ImportOutcome::Skipped(format!(
                "device type {} does not exist and no imported device uses it",
                check.device_type
            )),
            Some(row) if row.opt_text(0)?.as_deref() == Some(check.definition.as_str()) => {
                ImportOutcome::Unchanged
            }
            Some(row) => {
                let had = row.opt_text(0)?.is_some();
                conn.execute(
                    "UPDATE device_types SET health_check = $1 WHERE name = $2",
                    &[
                        check.definition.as_str().into(),
                        check.device_type.as_str().into(),
                    ],
                )?;
                if had {
                    ImportOutcome::Updated(vec!["health check"])
                } else {
                    ImportOutcome::Created
                }
            }
        };
        report.health_checks.push(outcome);
    }
    Ok(report)
}

/// The devices of `plan` that nothing has refused yet.
fn pending<'a>(
    plan: &'a ImportPlan,
    verdicts: &'a [Option<ImportOutcome>],
) -> impl Iterator<Item = &'a ImportDevice> + 'a {
    plan.devices
        .iter()
        .zip(verdicts)
        .filter(|(_, verdict)| verdict.is_none())
        .map(|(device, _)| device)
}

/// A device's refusal that depends only on its name and what the database
/// holds under it (`None`: go on), and the device as it is stored (locked).
fn precheck(
    conn: &mut dyn Conn,
    device: &ImportDevice,
) -> Result<(Option<ImportOutcome>, Option<Device>), StoreError> {
    if let Err(e) = check_device_hostname(&device.hostname) {
        return Ok((Some(ImportOutcome::Refused(e.to_string())), None));
    }
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE hostname = $1{}",
        conn.dialect().for_update()
    );
    let Some(row) = conn.query_opt(&sql, &[device.hostname.as_str().into()])? else {
        return Ok((None, None));
    };
    let current = device_from(&row, Vec::new())?;
    if current.device_type != device.device_type {
        let why = format!(
            "device {} exists here with device type {}, not {} (change it by hand: remove the device or fix the dictionary)",
            device.hostname, current.device_type, device.device_type
        );
        return Ok((Some(ImportOutcome::Refused(why)), None));
    }
    Ok((None, Some(current)))
}

/// Create a device, or bring an existing one (same type) to the
/// dictionary and worker imported.
fn import_device(
    conn: &mut dyn Conn,
    device: &ImportDevice,
    existing: Option<Device>,
    actor: &str,
) -> Result<ImportOutcome, StoreError> {
    let Some(existing) = existing else {
        let new = NewDevice {
            hostname: device.hostname.clone(),
            device_type: device.device_type.clone(),
            worker: Some(device.worker.clone()),
            description: String::new(),
            health: DeviceHealth::Unknown,
            tags: Vec::new(),
            dictionary: Some(device.dictionary.clone()),
        };
        add_device_in(conn, &new, actor)?;
        return Ok(ImportOutcome::Created);
    };
    let mut changed = Vec::new();
    if existing.dictionary.as_deref() != Some(device.dictionary.as_str()) {
        conn.execute(
            "UPDATE devices SET dictionary = $1 WHERE hostname = $2",
            &[
                device.dictionary.as_str().into(),
                device.hostname.as_str().into(),
            ],
        )?;
        changed.push("dictionary");
    }
    if existing.worker.as_deref() != Some(device.worker.as_str()) {
        conn.execute(
            "UPDATE devices SET worker = $1 WHERE hostname = $2",
            &[
                device.worker.as_str().into(),
                device.hostname.as_str().into(),
            ],
        )?;
        changed.push("worker");
    }
    if changed.is_empty() {
        return Ok(ImportOutcome::Unchanged);
    }
    log::info!(
        "[device {}] {} changed by {actor}: lava-server manage import-lava",
        device.hostname,
        changed.join(" and ")
    );
    Ok(ImportOutcome::Updated(changed))
}
