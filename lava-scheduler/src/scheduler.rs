//! The scheduling pass: which job goes on which device, as a function of
//! the store.
//!
//! A pass reads a snapshot of what can move (idle devices on Online
//! workers, queued jobs, health-check due data) in a handful of queries,
//! matches in memory, then applies each decision with the store's guarded
//! transitions. A decision whose precondition changed in the meantime (a
//! cancel, an admin putting the device in Maintenance) simply fails its
//! guard and is retried by the next pass; nothing is lost or doubled.
//!
//! Only devices that are Idle, on a worker that is Online **and Active**,
//! are considered (LAVA 2020.01 ignored the worker's health, so a device set
//! Good by hand on a worker in Maintenance got jobs).
//!
//! Order of work (docs/scheduler.md §3, improved where §8 says LAVA is weak):
//!
//! 1. **Health checks first.** An idle device whose health check is due
//!    (health Unknown or Looping, never checked, or its type's frequency in
//!    hours or jobs has passed) gets a new health-check job straight away.
//!    Looping devices only ever run health checks.
//! 2. **Ordinary jobs**, highest priority first, then oldest, then lowest
//!    id. Each job takes a free device of its type whose tags include all
//!    the job's tags, on a worker under its job limit; among several, the
//!    device with the fewest tags is taken, to keep specially equipped
//!    boards for the jobs that need them.
//! 3. **Multinode groups all-or-nothing.** A group is placed only when every
//!    role can get its devices in the same pass; then all its sub-jobs are
//!    reserved in one transaction. A group never holds boards while it
//!    waits, so two groups cannot deadlock.
//!
//! Devices whose configuration does not render or validate (the
//! [`DeviceCheck`] says so) are set Bad with the reason, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::db::{Conn, SqlValue};
use crate::error::StoreError;
use crate::model::*;
use crate::state;
use crate::store::{
    assign_batch, assign_in, change_device_health, insert_job_in, NewJob, SqlStore,
};

/// Checks that a device's configuration renders and validates. The master
/// plugs in a caching renderer; tests use [`AcceptAll`].
pub trait DeviceCheck {
    /// `Err(reason)` when the device cannot run jobs as configured.
    fn check(
        &self,
        hostname: &str,
        device_type: &str,
        dictionary: Option<&str>,
    ) -> Result<(), String>;
}

/// A [`DeviceCheck`] that accepts every device.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl DeviceCheck for AcceptAll {
    fn check(&self, _: &str, _: &str, _: Option<&str>) -> Result<(), String> {
        Ok(())
    }
}

/// One job given one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The job.
    pub job: i64,
    /// The device.
    pub device: String,
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Health checks created and scheduled.
    pub health_checks: Vec<Assignment>,
    /// Ordinary single-node jobs scheduled.
    pub jobs: Vec<Assignment>,
    /// Multinode sub-jobs scheduled (whole groups).
    pub multinode: Vec<Assignment>,
    /// Devices set Bad because their configuration is invalid, with why.
    pub bad_devices: Vec<(String, String)>,
    /// Decisions that lost a race and are left to the next pass.
    pub conflicts: usize,
}

impl PassReport {
    /// Every job that became Scheduled in this pass (the ones to START).
    pub fn scheduled(&self) -> impl Iterator<Item = &Assignment> {
        self.health_checks
            .iter()
            .chain(&self.jobs)
            .chain(&self.multinode)
    }
}

#[derive(Debug, Clone)]
struct FreeDevice {
    hostname: String,
    device_type: String,
    health: DeviceHealth,
    worker: String,
    tags: BTreeSet<String>,
    dictionary: Option<String>,
    last_check_submit: Option<Timestamp>,
    jobs_since_check: i64,
}

#[derive(Debug, Clone)]
struct QueuedJob {
    id: i64,
    device_type: Option<String>,
    tags: BTreeSet<String>,
    target_group: Option<String>,
}

#[derive(Debug, Default)]
struct Snapshot {
    devices: Vec<FreeDevice>,
    /// worker → (job limit, busy devices)
    workers: HashMap<String, (i64, i64)>,
    types: HashMap<String, DeviceType>,
    /// In scheduling order: priority desc, submit time, id.
    jobs: Vec<QueuedJob>,
}

fn tag_map(rows: Vec<crate::db::Row>) -> Result<HashMap<String, BTreeSet<String>>, StoreError> {
    let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
    for row in rows {
        map.entry(row.text(0)?).or_default().insert(row.text(1)?);
    }
    Ok(map)
}

fn snapshot(conn: &mut dyn Conn) -> Result<Snapshot, StoreError> {
    let online = WorkerState::Online.code();
    let idle = DeviceState::Idle.code();
    let healths: Vec<String> = state::SCHEDULABLE_FOR_HEALTH_CHECKS
        .iter()
        .map(|h| h.code().to_string())
        .collect();
    let mut device_tags = tag_map(conn.query("SELECT device, tag FROM device_tags", &[])?)?;
    let checks: HashMap<String, (Timestamp, i64)> = conn
        .query(
            "SELECT d.hostname, h.submit_time, \
               (SELECT COUNT(*) FROM jobs j WHERE j.actual_device = d.hostname AND j.health_check = $1 AND j.start_time >= h.submit_time) \
             FROM devices d JOIN jobs h ON h.id = d.last_health_report_job WHERE d.state = $2",
            &[SqlValue::Bool(false), idle.into()],
        )?
        .into_iter()
        .map(|row| Ok((row.text(0)?, (row.int(1)?, row.int(2)?))))
        .collect::<Result<_, StoreError>>()?;
    let rows = conn.query(
        &format!(
            "SELECT d.hostname, d.device_type, d.health, d.worker, d.dictionary FROM devices d JOIN workers w ON w.hostname = d.worker \
             WHERE d.state = $1 AND w.state = $2 AND w.health = $3 AND d.health IN ({}) ORDER BY d.hostname",
            healths.join(", ")
        ),
        &[idle.into(), online.into(), WorkerHealth::Active.code().into()],
    )?;
    let mut devices = Vec::with_capacity(rows.len());
    for row in rows {
        let hostname = row.text(0)?;
        let (last_check_submit, jobs_since_check) = match checks.get(&hostname) {
            Some((t, n)) => (Some(*t), *n),
            None => (None, 0),
        };
        devices.push(FreeDevice {
            tags: device_tags.remove(&hostname).unwrap_or_default(),
            device_type: row.text(1)?,
            health: row.code(2, DeviceHealth::from_code, "device health")?,
            worker: row.text(3)?,
            dictionary: row.opt_text(4)?,
            hostname,
            last_check_submit,
            jobs_since_check,
        });
    }
    let mut workers = HashMap::new();
    for row in conn.query(
        "SELECT w.hostname, w.job_limit, (SELECT COUNT(*) FROM devices d WHERE d.worker = w.hostname AND d.state <> $1) FROM workers w WHERE w.state = $2",
        &[idle.into(), online.into()],
    )? {
        workers.insert(row.text(0)?, (row.int(1)?, row.int(2)?));
    }
    let mut types = HashMap::new();
    for row in conn.query(
        "SELECT name, description, health_frequency, health_denominator, health_check_disabled, health_check FROM device_types",
        &[],
    )? {
        let t = DeviceType {
            name: row.text(0)?,
            description: row.text(1)?,
            aliases: Vec::new(),
            health_frequency: row.int(2)?,
            health_denominator: row.code(3, HealthDenominator::from_code, "health denominator")?,
            health_check_disabled: row.bool(4)?,
            health_check: row.opt_text(5)?,
        };
        types.insert(t.name.clone(), t);
    }
    let submitted = JobState::Submitted.code();
    let mut job_tags: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for row in conn.query(
        "SELECT t.job, t.tag FROM job_tags t JOIN jobs j ON j.id = t.job WHERE j.state = $1",
        &[submitted.into()],
    )? {
        job_tags
            .entry(row.int(0)?)
            .or_default()
            .insert(row.text(1)?);
    }
    let mut jobs = Vec::new();
    for row in conn.query(
        "SELECT id, requested_device_type, target_group FROM jobs WHERE state = $1 AND actual_device IS NULL ORDER BY priority DESC, submit_time, id",
        &[submitted.into()],
    )? {
        let id = row.int(0)?;
        jobs.push(QueuedJob {
            id,
            device_type: row.opt_text(1)?,
            tags: job_tags.remove(&id).unwrap_or_default(),
            target_group: row.opt_text(2)?,
        });
    }
    Ok(Snapshot {
        devices,
        workers,
        types,
        jobs,
    })
}

/// Whether a health check is due on an idle device (docs/scheduler.md §3.3).
fn health_check_due(device: &FreeDevice, device_type: &DeviceType, now: Timestamp) -> bool {
    if matches!(device.health, DeviceHealth::Unknown | DeviceHealth::Looping) {
        return true;
    }
    let Some(last) = device.last_check_submit else {
        return true;
    };
    match device_type.health_denominator {
        HealthDenominator::Jobs => device.jobs_since_check >= device_type.health_frequency,
        HealthDenominator::Hours => last + device_type.health_frequency * 3_600_000_000 < now,
    }
}

/// The `job_name` and `priority` of a health-check definition.
fn health_check_job(definition: &str, device: &FreeDevice) -> Result<NewJob, String> {
    let value =
        lava_proto::yaml::load(definition).map_err(|e| format!("invalid health check: {e}"))?;
    let name = value
        .get("job_name")
        .and_then(|v| v.as_str())
        .ok_or("invalid health check: no job_name")?
        .to_string();
    let priority = match value.get("priority") {
        None => 50,
        Some(v) => match (
            v.as_i64(),
            v.as_str().map(str::to_ascii_lowercase).as_deref(),
        ) {
            (Some(n), _) if (0..=100).contains(&n) => n,
            (_, Some("high")) => 100,
            (_, Some("medium")) => 50,
            (_, Some("low")) => 0,
            _ => return Err("invalid health check: bad priority".into()),
        },
    };
    Ok(NewJob {
        submitter: "lava-health".into(),
        description: name,
        definition: definition.to_string(),
        original_definition: definition.to_string(),
        requested_device_type: Some(device.device_type.clone()),
        priority,
        health_check: true,
        ..Default::default()
    })
}

/// Tracks per-worker capacity during one pass.
struct Capacity<'a>(&'a mut HashMap<String, (i64, i64)>);

impl Capacity<'_> {
    fn available(&self, worker: &str) -> bool {
        self.0
            .get(worker)
            .is_some_and(|(limit, busy)| *limit == 0 || busy < limit)
    }
    fn take(&mut self, worker: &str) {
        if let Some((_, busy)) = self.0.get_mut(worker) {
            *busy += 1;
        }
    }
    fn give_back(&mut self, worker: &str) {
        if let Some((_, busy)) = self.0.get_mut(worker) {
            *busy -= 1;
        }
    }
}

/// Run one scheduling pass.
pub fn schedule(store: &SqlStore, check: &dyn DeviceCheck) -> Result<PassReport, StoreError> {
    let db = store.database();
    let mut snap = db.transaction(snapshot)?;
    let now = now_micros();
    let mut report = PassReport::default();
    let mut capacity = Capacity(&mut snap.workers);
    // Devices still free for ordinary jobs, by type.
    let mut free: BTreeMap<String, Vec<FreeDevice>> = BTreeMap::new();

    // Pass 1: configuration check and health checks.
    for device in std::mem::take(&mut snap.devices) {
        if !capacity.available(&device.worker) {
            continue;
        }
        if let Err(reason) = check.check(
            &device.hostname,
            &device.device_type,
            device.dictionary.as_deref(),
        ) {
            let why = format!("Invalid device configuration: {reason}");
            let applied = db.transaction(|conn| {
                change_device_health(
                    conn,
                    &device.hostname,
                    device.health,
                    DeviceHealth::Bad,
                    "lava-health",
                    &why,
                )
            });
            match applied {
                Ok(()) => report.bad_devices.push((device.hostname.clone(), why)),
                Err(_) => report.conflicts += 1,
            }
            continue;
        }
        let Some(device_type) = snap.types.get(&device.device_type) else {
            continue;
        };
        let check_definition = device_type
            .health_check
            .as_deref()
            .filter(|_| !device_type.health_check_disabled);
        if let Some(definition) = check_definition {
            if health_check_due(&device, device_type, now) {
                let new = match health_check_job(definition, &device) {
                    Ok(job) => job,
                    Err(why) => {
                        let applied = db.transaction(|conn| {
                            change_device_health(
                                conn,
                                &device.hostname,
                                device.health,
                                DeviceHealth::Bad,
                                "lava-health",
                                &why,
                            )
                        });
                        if applied.is_ok() {
                            report.bad_devices.push((device.hostname.clone(), why));
                        }
                        continue;
                    }
                };
                let created = db.transaction(|conn| {
                    let id = insert_job_in(conn, &new)?;
                    assign_in(conn, id, &device.hostname)?;
                    Ok(id)
                });
                match created {
                    Ok(id) => {
                        capacity.take(&device.worker);
                        report.health_checks.push(Assignment {
                            job: id,
                            device: device.hostname.clone(),
                        });
                    }
                    Err(_) => report.conflicts += 1,
                }
                continue;
            }
        }
        if state::SCHEDULABLE_FOR_JOBS.contains(&device.health) {
            free.entry(device.device_type.clone())
                .or_default()
                .push(device);
        }
    }
    // Least-equipped devices first, so that tagged boards stay free for
    // the jobs that need their tags.
    for devices in free.values_mut() {
        devices.sort_by(|a, b| {
            a.tags
                .len()
                .cmp(&b.tags.len())
                .then_with(|| a.hostname.cmp(&b.hostname))
        });
    }

    // Pass 2 and 3: jobs and multinode groups in priority order.
    let mut groups: BTreeMap<String, Vec<QueuedJob>> = BTreeMap::new();
    let mut order: Vec<Result<QueuedJob, String>> = Vec::new();
    for job in std::mem::take(&mut snap.jobs) {
        match &job.target_group {
            Some(group) => {
                let entry = groups.entry(group.clone()).or_default();
                if entry.is_empty() {
                    order.push(Err(group.clone()));
                }
                entry.push(job);
            }
            None => order.push(Ok(job)),
        }
    }
    let pick = |free: &mut BTreeMap<String, Vec<FreeDevice>>,
                capacity: &Capacity,
                job: &QueuedJob|
     -> Option<FreeDevice> {
        let devices = free.get_mut(job.device_type.as_deref()?)?;
        let index = devices
            .iter()
            .position(|d| job.tags.is_subset(&d.tags) && capacity.available(&d.worker))?;
        Some(devices.remove(index))
    };
    // Single-node jobs are planned here and applied together below; groups
    // are applied one by one (all or nothing).
    let mut planned: Vec<(i64, FreeDevice)> = Vec::new();
    for item in order {
        match item {
            Ok(job) => {
                let Some(device) = pick(&mut free, &capacity, &job) else {
                    continue;
                };
                capacity.take(&device.worker);
                planned.push((job.id, device));
            }
            Err(group) => {
                let members = groups.remove(&group).unwrap_or_default();
                // Connection roles (no device type) need no device.
                let mut picked: Vec<(i64, FreeDevice)> = Vec::new();
                let mut complete = true;
                for job in members.iter().filter(|j| j.device_type.is_some()) {
                    match pick(&mut free, &capacity, job) {
                        Some(device) => {
                            capacity.take(&device.worker);
                            picked.push((job.id, device));
                        }
                        None => {
                            complete = false;
                            break;
                        }
                    }
                }
                let placed = complete
                    && db
                        .transaction(|conn| {
                            for (id, device) in &picked {
                                assign_in(conn, *id, &device.hostname)?;
                            }
                            // Every member has its device: the group is Scheduled.
                            conn.execute(
                                "UPDATE jobs SET state = $1 WHERE target_group = $2 AND state IN ($3, $4)",
                                &[
                                    JobState::Scheduled.code().into(),
                                    group.as_str().into(),
                                    JobState::Scheduling.code().into(),
                                    JobState::Submitted.code().into(),
                                ],
                            )?;
                            Ok(())
                        })
                        .is_ok();
                if placed {
                    report
                        .multinode
                        .extend(picked.into_iter().map(|(job, d)| Assignment {
                            job,
                            device: d.hostname,
                        }));
                } else {
                    if complete {
                        report.conflicts += 1;
                    }
                    // Nothing is held while the group waits.
                    for (_, device) in picked {
                        capacity.give_back(&device.worker);
                        free.entry(device.device_type.clone())
                            .or_default()
                            .insert(0, device);
                    }
                }
            }
        }
    }
    if !planned.is_empty() {
        let pairs: Vec<(i64, String)> = planned
            .iter()
            .map(|(job, d)| (*job, d.hostname.clone()))
            .collect();
        match db.transaction(|conn| assign_batch(conn, &pairs)) {
            Ok(applied) => {
                report.conflicts += pairs.len() - applied.len();
                report.jobs.extend(
                    applied
                        .into_iter()
                        .map(|(job, device)| Assignment { job, device }),
                );
            }
            Err(e) => {
                log::warn!("[SCHED] assignments not applied: {e}");
                report.conflicts += pairs.len();
            }
        }
    }
    if !report.health_checks.is_empty() || !report.jobs.is_empty() || !report.multinode.is_empty() {
        log::info!(
            "[SCHED] scheduled {} health checks, {} jobs, {} multinode sub-jobs",
            report.health_checks.len(),
            report.jobs.len(),
            report.multinode.len()
        );
    }
    Ok(report)
}
