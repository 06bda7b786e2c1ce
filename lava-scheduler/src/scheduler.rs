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
    assign_batch, assign_in, change_device_health, insert_job_in, write_group_roles, NewJob,
    SqlStore,
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

/// A device to take out of service: it cannot run jobs as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BadDevice {
    hostname: String,
    /// Its health in the snapshot (the guard of the change).
    health: DeviceHealth,
    why: String,
}

/// What a pass decided, before anything is written: a pure function of
/// the snapshot ([`plan`]), applied by [`apply`].
#[derive(Debug, Default)]
struct Plan {
    bad_devices: Vec<BadDevice>,
    /// A health-check job to create, and its device.
    health_checks: Vec<(NewJob, String)>,
    /// Single-node jobs and their devices, applied in one transaction.
    jobs: Vec<(i64, String)>,
    /// Multinode groups whose every role has its devices, each applied
    /// all-or-nothing.
    groups: Vec<(String, Vec<(i64, String)>)>,
}

/// Decide a pass (see the module documentation for the order of work).
/// Reads nothing but `snap`, `check` and `now`; writes nothing.
fn plan(mut snap: Snapshot, check: &dyn DeviceCheck, now: Timestamp) -> Plan {
    let mut plan = Plan::default();
    let mut capacity = Capacity(&mut snap.workers);
    let devices = std::mem::take(&mut snap.devices);
    let free = plan_devices(devices, &snap.types, check, now, &mut capacity, &mut plan);
    place_jobs(
        std::mem::take(&mut snap.jobs),
        free,
        &mut capacity,
        &mut plan,
    );
    plan
}

/// Pass 1: the configuration check and due health checks. Returns the
/// devices left for ordinary jobs, by type, least-equipped first.
fn plan_devices(
    devices: Vec<FreeDevice>,
    types: &HashMap<String, DeviceType>,
    check: &dyn DeviceCheck,
    now: Timestamp,
    capacity: &mut Capacity,
    plan: &mut Plan,
) -> BTreeMap<String, Vec<FreeDevice>> {
    let mut free: BTreeMap<String, Vec<FreeDevice>> = BTreeMap::new();
    for device in devices {
        if !capacity.available(&device.worker) {
            continue;
        }
        let bad = |why: String| BadDevice {
            hostname: device.hostname.clone(),
            health: device.health,
            why,
        };
        if let Err(reason) = check.check(
            &device.hostname,
            &device.device_type,
            device.dictionary.as_deref(),
        ) {
            plan.bad_devices
                .push(bad(format!("Invalid device configuration: {reason}")));
            continue;
        }
        let Some(device_type) = types.get(&device.device_type) else {
            continue;
        };
        let check_definition = device_type
            .health_check
            .as_deref()
            .filter(|_| !device_type.health_check_disabled);
        if let Some(definition) = check_definition {
            if health_check_due(&device, device_type, now) {
                match health_check_job(definition, &device) {
                    Ok(job) => {
                        capacity.take(&device.worker);
                        plan.health_checks.push((job, device.hostname.clone()));
                    }
                    Err(why) => plan.bad_devices.push(bad(why)),
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

    free
}

/// Pass 2 and 3: jobs and multinode groups in priority order (a group at
/// the place of its first member), on the `free` devices.
fn place_jobs(
    jobs: Vec<QueuedJob>,
    mut free: BTreeMap<String, Vec<FreeDevice>>,
    capacity: &mut Capacity,
    plan: &mut Plan,
) {
    let mut groups: BTreeMap<String, Vec<QueuedJob>> = BTreeMap::new();
    let mut order: Vec<Result<QueuedJob, String>> = Vec::new();
    for job in jobs {
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
                capacity: &mut Capacity,
                job: &QueuedJob|
     -> Option<FreeDevice> {
        let devices = free.get_mut(job.device_type.as_deref()?)?;
        let index = devices
            .iter()
            .position(|d| job.tags.is_subset(&d.tags) && capacity.available(&d.worker))?;
        let device = devices.remove(index);
        capacity.take(&device.worker);
        Some(device)
    };
    for item in order {
        match item {
            Ok(job) => {
                if let Some(device) = pick(&mut free, capacity, &job) {
                    plan.jobs.push((job.id, device.hostname));
                }
            }
            Err(group) => {
                let members = groups.remove(&group).unwrap_or_default();
                // Connection roles (no device type) need no device.
                let mut picked: Vec<(i64, FreeDevice)> = Vec::new();
                let mut complete = true;
                for job in members.iter().filter(|j| j.device_type.is_some()) {
                    match pick(&mut free, capacity, job) {
                        Some(device) => picked.push((job.id, device)),
                        None => {
                            complete = false;
                            break;
                        }
                    }
                }
                if complete {
                    let pairs = picked.into_iter().map(|(id, d)| (id, d.hostname));
                    plan.groups.push((group, pairs.collect()));
                } else {
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
}

/// Write a plan with the store's guarded transitions. A decision whose
/// guard fails (someone changed the row since the snapshot) counts as a
/// conflict and is left to the next pass.
fn apply(store: &SqlStore, plan: Plan) -> PassReport {
    let db = store.database();
    let mut report = PassReport::default();
    for bad in plan.bad_devices {
        let applied = db.transaction(|conn| {
            change_device_health(
                conn,
                &bad.hostname,
                bad.health,
                DeviceHealth::Bad,
                "lava-health",
                &bad.why,
            )
        });
        match applied {
            Ok(()) => report.bad_devices.push((bad.hostname, bad.why)),
            Err(_) => report.conflicts += 1,
        }
    }
    for (job, device) in plan.health_checks {
        let created = db.transaction(|conn| {
            let id = insert_job_in(conn, &job)?;
            assign_in(conn, id, &device)?;
            Ok(id)
        });
        match created {
            Ok(job) => report.health_checks.push(Assignment { job, device }),
            Err(_) => report.conflicts += 1,
        }
    }
    for (group, pairs) in plan.groups {
        let placed = db.transaction(|conn| {
            for (id, device) in &pairs {
                assign_in(conn, *id, device)?;
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
            // The roles map goes into every sub-job in this transaction
            // (docs/multinode.md §3).
            write_group_roles(conn, &group)?;
            Ok(())
        });
        match placed {
            Ok(()) => report.multinode.extend(
                pairs
                    .into_iter()
                    .map(|(job, device)| Assignment { job, device }),
            ),
            Err(_) => report.conflicts += 1,
        }
    }
    if !plan.jobs.is_empty() {
        match db.transaction(|conn| assign_batch(conn, &plan.jobs)) {
            Ok(applied) => {
                report.conflicts += plan.jobs.len() - applied.len();
                report.jobs.extend(
                    applied
                        .into_iter()
                        .map(|(job, device)| Assignment { job, device }),
                );
            }
            Err(e) => {
                log::warn!("[SCHED] assignments not applied: {e}");
                report.conflicts += plan.jobs.len();
            }
        }
    }
    report
}

/// Run one scheduling pass: a snapshot of the store, a plan made from
/// it in memory, and the plan applied.
pub fn schedule(store: &SqlStore, check: &dyn DeviceCheck) -> Result<PassReport, StoreError> {
    let snap = store.database().transaction(snapshot)?;
    let report = apply(store, plan(snap, check, now_micros()));
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

#[cfg(test)]
mod tests {
    //! `plan` on snapshots made by hand: no database.
    use super::*;

    const NOW: Timestamp = 1_000_000_000_000_000;

    fn device(hostname: &str, device_type: &str, worker: &str, tags: &[&str]) -> FreeDevice {
        FreeDevice {
            hostname: hostname.into(),
            device_type: device_type.into(),
            health: DeviceHealth::Good,
            worker: worker.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            dictionary: None,
            // checked a minute ago, so no health check is due
            last_check_submit: Some(NOW - 60_000_000),
            jobs_since_check: 0,
        }
    }

    fn job(id: i64, device_type: &str, tags: &[&str], group: Option<&str>) -> QueuedJob {
        QueuedJob {
            id,
            device_type: Some(device_type.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            target_group: group.map(str::to_string),
        }
    }

    fn device_type(name: &str, health_check: Option<&str>) -> DeviceType {
        DeviceType {
            name: name.into(),
            description: String::new(),
            aliases: Vec::new(),
            health_frequency: 24,
            health_denominator: HealthDenominator::Hours,
            health_check_disabled: false,
            health_check: health_check.map(str::to_string),
        }
    }

    fn snapshot(devices: Vec<FreeDevice>, jobs: Vec<QueuedJob>) -> Snapshot {
        let workers = devices.iter().map(|d| (d.worker.clone(), (0, 0))).collect();
        let types = devices
            .iter()
            .map(|d| (d.device_type.clone(), device_type(&d.device_type, None)))
            .collect();
        Snapshot {
            devices,
            workers,
            types,
            jobs,
        }
    }

    struct Refuse(&'static str);

    impl DeviceCheck for Refuse {
        fn check(&self, hostname: &str, _: &str, _: Option<&str>) -> Result<(), String> {
            if hostname == self.0 {
                Err("no template".into())
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn a_tagged_job_gets_the_tagged_board_and_others_the_plainest() {
        let snap = snapshot(
            vec![
                device("qemu-01", "qemu", "w1", &["usb", "fast"]),
                device("qemu-02", "qemu", "w1", &[]),
                device("qemu-03", "qemu", "w1", &["usb"]),
            ],
            vec![
                job(1, "qemu", &[], None),
                job(2, "qemu", &["usb", "fast"], None),
            ],
        );
        let plan = plan(snap, &AcceptAll, NOW);
        assert_eq!(
            plan.jobs,
            [(1, "qemu-02".to_string()), (2, "qemu-01".to_string())]
        );
    }

    #[test]
    fn a_worker_never_gets_more_jobs_than_its_limit() {
        let mut snap = snapshot(
            vec![
                device("a-01", "qemu", "w1", &[]),
                device("a-02", "qemu", "w1", &[]),
                device("b-01", "qemu", "w2", &[]),
            ],
            (1..=3).map(|id| job(id, "qemu", &[], None)).collect(),
        );
        // w1 runs one job already and may run two
        snap.workers.insert("w1".into(), (2, 1));
        let plan = plan(snap, &AcceptAll, NOW);
        assert_eq!(
            plan.jobs,
            [(1, "a-01".to_string()), (2, "b-01".to_string())]
        );
    }

    #[test]
    fn a_group_is_placed_whole_or_holds_nothing() {
        let devices = vec![device("bbb-01", "bbb", "w1", &[])];
        // two roles, one board: the group waits, the later job runs
        let jobs = vec![
            job(1, "bbb", &[], Some("g")),
            job(2, "bbb", &[], Some("g")),
            job(3, "bbb", &[], None),
        ];
        let plan1 = plan(snapshot(devices.clone(), jobs), &AcceptAll, NOW);
        assert!(plan1.groups.is_empty());
        assert_eq!(plan1.jobs, [(3, "bbb-01".to_string())]);
        // with a second board the group takes both, before the later job
        let devices = vec![devices[0].clone(), device("bbb-02", "bbb", "w1", &[])];
        let jobs = vec![
            job(1, "bbb", &[], Some("g")),
            job(3, "bbb", &[], None),
            job(2, "bbb", &[], Some("g")),
        ];
        let plan2 = plan(snapshot(devices, jobs), &AcceptAll, NOW);
        assert_eq!(
            plan2.groups,
            [(
                "g".to_string(),
                vec![(1, "bbb-01".to_string()), (2, "bbb-02".to_string())]
            )]
        );
        assert!(plan2.jobs.is_empty());
    }

    #[test]
    fn due_health_checks_come_first_and_invalid_devices_go_bad() {
        let mut unknown = device("qemu-01", "qemu", "w1", &[]);
        unknown.health = DeviceHealth::Unknown;
        let mut snap = snapshot(
            vec![
                unknown,
                device("qemu-02", "qemu", "w1", &[]),
                device("qemu-03", "qemu", "w1", &[]),
            ],
            vec![job(1, "qemu", &[], None), job(2, "qemu", &[], None)],
        );
        snap.types.insert(
            "qemu".into(),
            device_type("qemu", Some("job_name: check\npriority: high\n")),
        );
        let plan = plan(snap, &Refuse("qemu-03"), NOW);
        assert_eq!(plan.health_checks.len(), 1);
        let (check, on) = &plan.health_checks[0];
        assert_eq!(on, "qemu-01");
        assert!(check.health_check);
        assert_eq!((check.description.as_str(), check.priority), ("check", 100));
        assert_eq!(plan.jobs, [(1, "qemu-02".to_string())]);
        assert_eq!(
            plan.bad_devices,
            [BadDevice {
                hostname: "qemu-03".into(),
                health: DeviceHealth::Good,
                why: "Invalid device configuration: no template".into(),
            }]
        );
    }
}
