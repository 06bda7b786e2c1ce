//! The store: the master's single source of truth, behind the [`Store`]
//! trait, implemented once in SQL ([`SqlStore`]) over PostgreSQL or SQLite.
//!
//! Every state change is one transaction that re-checks the current state
//! in its `WHERE` clause (a guarded update) and fails with
//! [`StoreError::InvalidTransition`] when the precondition no longer holds.
//! So a cancel and a scheduling pass that race can never both win, and no
//! update is lost. Rows are locked device first, then job.
//!
//! ```
//! use lava_scheduler::model::{DeviceHealth, WorkerHealth};
//! use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker, SqlStore, Store};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("lava.db").display());
//! let store = SqlStore::open_url(&url).unwrap();
//! store.add_worker(&NewWorker::new("worker1"), "admin").unwrap();
//! store.add_device_type(&NewDeviceType::new("qemu")).unwrap();
//! store.add_device(&NewDevice::new("qemu-01", "qemu", "worker1"), "admin").unwrap();
//!
//! // Taking the worker into maintenance takes its devices with it.
//! store.set_worker_health("worker1", WorkerHealth::Maintenance, "admin", "rack move").unwrap();
//! assert_eq!(store.device("qemu-01").unwrap().health, DeviceHealth::Maintenance);
//! ```

use std::collections::BTreeMap;

use crate::db::{Conn, Database, DatabaseUrl, Dialect, Row, SqlValue};
use crate::error::StoreError;
use crate::model::*;
use crate::state;

/// A new worker.
#[derive(Debug, Clone)]
pub struct NewWorker {
    /// The hostname.
    pub hostname: String,
    /// Free text.
    pub description: String,
    /// Initial health (`--disabled` = Maintenance).
    pub health: WorkerHealth,
}

impl NewWorker {
    /// An Active worker without description.
    pub fn new(hostname: impl Into<String>) -> Self {
        NewWorker {
            hostname: hostname.into(),
            description: String::new(),
            health: WorkerHealth::Active,
        }
    }
}

/// A new device type.
#[derive(Debug, Clone)]
pub struct NewDeviceType {
    /// The name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Health-check frequency (default 24).
    pub health_frequency: i64,
    /// Hours or jobs (default hours).
    pub health_denominator: HealthDenominator,
    /// No health checks for this type.
    pub health_check_disabled: bool,
}

impl NewDeviceType {
    /// A type with LAVA's defaults: a health check every 24 hours.
    pub fn new(name: impl Into<String>) -> Self {
        NewDeviceType {
            name: name.into(),
            description: String::new(),
            health_frequency: 24,
            health_denominator: HealthDenominator::Hours,
            health_check_disabled: false,
        }
    }
}

/// Changes to a device type; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct DeviceTypeUpdate {
    /// New description.
    pub description: Option<String>,
    /// New health-check frequency.
    pub health_frequency: Option<i64>,
    /// New denominator.
    pub health_denominator: Option<HealthDenominator>,
    /// Disable or enable health checks.
    pub health_check_disabled: Option<bool>,
}

/// A new device.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// The hostname.
    pub hostname: String,
    /// Its device type (name or alias).
    pub device_type: String,
    /// Its worker.
    pub worker: Option<String>,
    /// Free text.
    pub description: String,
    /// Initial health (Good, or Maintenance with `--offline`).
    pub health: DeviceHealth,
    /// Tags (created if missing, as LAVA's `devices add --tags`).
    pub tags: Vec<String>,
    /// The device dictionary text.
    pub dictionary: Option<String>,
}

impl NewDevice {
    /// A Good device on `worker`, without tags or dictionary.
    pub fn new(
        hostname: impl Into<String>,
        device_type: impl Into<String>,
        worker: impl Into<String>,
    ) -> Self {
        NewDevice {
            hostname: hostname.into(),
            device_type: device_type.into(),
            worker: Some(worker.into()),
            description: String::new(),
            health: DeviceHealth::Good,
            tags: Vec::new(),
            dictionary: None,
        }
    }
}

/// Changes to a device; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct DeviceUpdate {
    /// New description.
    pub description: Option<String>,
    /// Move the device to another worker.
    pub worker: Option<String>,
}

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Only this state.
    pub state: Option<DeviceState>,
    /// Only this health (also shows Retired devices when it is Retired).
    pub health: Option<DeviceHealth>,
    /// Include Retired devices.
    pub include_retired: bool,
    /// Only devices of this worker.
    pub worker: Option<String>,
    /// Only devices of this type.
    pub device_type: Option<String>,
}

/// A job to store.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    /// Who submits.
    pub submitter: String,
    /// The job's name.
    pub description: String,
    /// The definition the dispatcher gets.
    pub definition: String,
    /// Exactly what was submitted.
    pub original_definition: String,
    /// The whole multinode submission (multinode sub-jobs only).
    pub multinode_definition: String,
    /// The device type asked for.
    pub requested_device_type: Option<String>,
    /// 0–100.
    pub priority: i64,
    /// Tags the device must have.
    pub tags: Vec<String>,
    /// A health check.
    pub health_check: bool,
    /// Multinode group id.
    pub target_group: Option<String>,
    /// Multinode: essential role.
    pub essential: bool,
    /// Multinode sub-job id.
    pub sub_id: String,
    /// Who may see it.
    pub visibility: JobVisibility,
    /// With [`JobVisibility::Group`]: the groups (which must exist).
    pub viewing_groups: Vec<String>,
    /// The definition has a `notify` block: queue its notification, sent
    /// when the job ends.
    pub notify: bool,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in these states (empty: all).
    pub states: Vec<JobState>,
    /// Only this device type.
    pub device_type: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<i64>,
}

/// How a job list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobOrder {
    /// Newest first (`-id`), as LAVA lists jobs by default.
    #[default]
    IdDescending,
    /// Oldest first (`id`).
    IdAscending,
}

/// A page of jobs as the HTTP API asks for it: filters, the viewer whose
/// visibility applies, ordering, offset and limit. Every filter is applied
/// in SQL, so that counts and pages agree.
#[derive(Debug, Clone)]
pub struct JobQuery {
    /// Only jobs this viewer may see.
    pub viewer: Viewer,
    /// Only these ids (empty: all).
    pub ids: Vec<i64>,
    /// Only ids greater than this.
    pub id_gt: Option<i64>,
    /// Only these states (empty: all).
    pub states: Vec<JobState>,
    /// Only these healths (empty: all).
    pub healths: Vec<JobHealth>,
    /// Only this submitter.
    pub submitter: Option<String>,
    /// Only this requested device type.
    pub device_type: Option<String>,
    /// Only jobs that ran (or run) on this device.
    pub device: Option<String>,
    /// Only health checks (`Some(true)`) or only other jobs (`Some(false)`).
    pub health_check: Option<bool>,
    /// Only submitted after this time.
    pub submit_time_gt: Option<Timestamp>,
    /// Only started after this time.
    pub start_time_gt: Option<Timestamp>,
    /// Only ended after this time.
    pub end_time_gt: Option<Timestamp>,
    /// The order.
    pub order: JobOrder,
    /// Rows to skip.
    pub offset: i64,
    /// At most this many rows.
    pub limit: i64,
}

impl JobQuery {
    /// Every job `viewer` may see, newest first, `limit` at a time.
    pub fn new(viewer: Viewer, limit: i64) -> JobQuery {
        JobQuery {
            viewer,
            ids: Vec::new(),
            id_gt: None,
            states: Vec::new(),
            healths: Vec::new(),
            submitter: None,
            device_type: None,
            device: None,
            health_check: None,
            submit_time_gt: None,
            start_time_gt: None,
            end_time_gt: None,
            order: JobOrder::default(),
            offset: 0,
            limit,
        }
    }
}

/// One page of a [`JobQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    /// How many jobs match in all.
    pub count: i64,
    /// The jobs of this page.
    pub jobs: Vec<Job>,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job was still queued: it is Finished/Canceled now.
    Canceled,
    /// These jobs (the job, or its whole multinode group) are Canceling:
    /// the master will send CANCEL to their workers.
    Canceling(Vec<i64>),
    /// The job was already Canceling or Finished; nothing changed.
    AlreadyEnding(JobState),
}

/// A test case to store.
#[derive(Debug, Clone, Default)]
pub struct NewTestCase {
    /// The suite (`definition`).
    pub suite: String,
    /// The test set, if any.
    pub set: Option<String>,
    /// The case name.
    pub name: String,
    /// The result.
    pub result: Option<TestResultCode>,
    /// Measurement as decimal text.
    pub measurement: Option<String>,
    /// Units.
    pub units: String,
    /// YAML of the whole record.
    pub metadata: Option<String>,
    /// First log line.
    pub start_log_line: Option<i64>,
    /// Last log line.
    pub end_log_line: Option<i64>,
}

/// The master's store. All methods are synchronous and transactional.
pub trait Store: Send + Sync {
    // ---- workers
    /// Add a worker (state Offline until it talks).
    fn add_worker(&self, worker: &NewWorker, actor: &str) -> Result<Worker, StoreError>;
    /// One worker.
    fn worker(&self, hostname: &str) -> Result<Worker, StoreError>;
    /// All workers (Retired ones only with `include_retired`).
    fn workers(&self, include_retired: bool) -> Result<Vec<Worker>, StoreError>;
    /// Change a worker's description.
    fn set_worker_description(&self, hostname: &str, description: &str) -> Result<(), StoreError>;
    /// Change a worker's health, cascading to its devices (docs/scheduler.md
    /// §2.2). Returns the devices whose health changed, with old and new.
    fn set_worker_health(
        &self,
        hostname: &str,
        health: WorkerHealth,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError>;
    /// Take every device of a worker offline (Maintenance) in one
    /// transaction, whatever its health, except Retired ones. Returns the
    /// devices changed.
    fn worker_devices_offline(
        &self,
        hostname: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError>;
    /// Set a worker Online or Offline (the master's view); also records
    /// `last_ping` when Online. Returns whether the state changed.
    fn set_worker_state(&self, hostname: &str, state: WorkerState) -> Result<bool, StoreError>;
    /// Every worker Offline (master start-up). Returns how many changed.
    fn mark_all_workers_offline(&self) -> Result<u64, StoreError>;

    // ---- device types, aliases, tags
    /// Add a device type.
    fn add_device_type(&self, device_type: &NewDeviceType) -> Result<DeviceType, StoreError>;
    /// One device type, by name.
    fn device_type(&self, name: &str) -> Result<DeviceType, StoreError>;
    /// All device types.
    fn device_types(&self) -> Result<Vec<DeviceType>, StoreError>;
    /// Change a device type's description and health-check policy.
    fn update_device_type(
        &self,
        name: &str,
        update: &DeviceTypeUpdate,
    ) -> Result<DeviceType, StoreError>;
    /// Add an alias for a device type (must not clash with a type or alias).
    fn add_alias(&self, device_type: &str, alias: &str) -> Result<(), StoreError>;
    /// Find a device type by alias first, then by name (as submission does).
    fn resolve_device_type(&self, name: &str) -> Result<DeviceType, StoreError>;
    /// Store (or clear) a device type's health-check definition.
    fn set_health_check(
        &self,
        device_type: &str,
        definition: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Create a tag.
    fn add_tag(&self, name: &str, description: &str) -> Result<(), StoreError>;
    /// All tags.
    fn tags(&self) -> Result<Vec<Tag>, StoreError>;
    /// Attach existing tags to a device.
    fn add_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError>;
    /// Detach tags from a device (each must be attached).
    fn remove_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError>;

    // ---- devices
    /// Add a device (state Idle).
    fn add_device(&self, device: &NewDevice, actor: &str) -> Result<Device, StoreError>;
    /// One device.
    fn device(&self, hostname: &str) -> Result<Device, StoreError>;
    /// Devices matching a filter, by hostname.
    fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>, StoreError>;
    /// Change a device's description or worker.
    fn update_device(&self, hostname: &str, update: &DeviceUpdate) -> Result<Device, StoreError>;
    /// Set a device's health (an admin decision; logged). Returns the old health.
    fn set_device_health(
        &self,
        hostname: &str,
        health: DeviceHealth,
        actor: &str,
        reason: &str,
    ) -> Result<DeviceHealth, StoreError>;
    /// Store (or clear) a device's dictionary text.
    fn set_dictionary(&self, hostname: &str, dictionary: Option<&str>) -> Result<(), StoreError>;
    /// The health changes of an object (`device` or `worker`), oldest first.
    fn transitions(&self, object_kind: &str, object: &str) -> Result<Vec<Transition>, StoreError>;

    // ---- jobs
    /// Store a job (state Submitted); returns its id. Validation is the
    /// caller's.
    fn insert_job(&self, job: &NewJob) -> Result<i64, StoreError>;
    /// One job.
    fn job(&self, id: i64) -> Result<Job, StoreError>;
    /// Jobs matching a filter, newest first.
    fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    /// A page of jobs: filters, visibility, order, offset and limit.
    fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError>;
    /// Jobs in one of `states` whose device is attached to worker `hostname`,
    /// oldest first.
    fn jobs_on_worker(&self, hostname: &str, states: &[JobState]) -> Result<Vec<Job>, StoreError>;
    /// Give a Submitted job a device: the job becomes Scheduled (Scheduling
    /// for a multinode sub-job) and the Idle device Reserved, in one guarded
    /// transaction.
    fn assign_job(&self, job_id: i64, device: &str) -> Result<(), StoreError>;
    /// Multinode: when every sub-job of the group is Scheduling, move them
    /// all to Scheduled. Returns the ids moved (empty when not complete).
    fn group_scheduled(&self, target_group: &str) -> Result<Vec<i64>, StoreError>;
    /// START_OK: a Scheduled job runs; its device becomes Running. Returns
    /// false when the job was already Running or beyond (a duplicate).
    fn job_started(&self, job_id: i64) -> Result<bool, StoreError>;
    /// Cancel a job (and its multinode group).
    fn cancel_job(&self, job_id: i64, actor: &str) -> Result<CancelOutcome, StoreError>;
    /// Finish a job: device Idle, health rules applied (health checks set
    /// the device Good or Bad; infrastructure errors send it to Unknown),
    /// essential multinode failures cancel the group. A Canceling job always
    /// ends Canceled.
    fn finish_job(
        &self,
        job_id: i64,
        health: JobHealth,
        infrastructure_error: bool,
        failure_comment: Option<&str>,
        actor: &str,
    ) -> Result<Job, StoreError>;

    /// Delete a job and its results. A job that is not Finished is first
    /// finished as Canceled with an infrastructure error, releasing its
    /// device (docs/scheduler.md §2.6, path 5). Returns the job as it was.
    fn delete_job(&self, job_id: i64, actor: &str) -> Result<Job, StoreError>;

    // ---- results
    /// Store one test case of a job (suite and set created on demand).
    fn add_test_case(&self, job_id: i64, case: &NewTestCase) -> Result<i64, StoreError>;
    /// A job's test cases, in the order stored.
    fn test_cases(&self, job_id: i64) -> Result<Vec<TestCase>, StoreError>;
    /// A job's test suites as (id, name), in the order they were made.
    fn test_suites(&self, job_id: i64) -> Result<Vec<(i64, String)>, StoreError>;
    /// Forget a job's results (suites, sets, cases), before they are
    /// stored again from its whole log; returns how many cases went.
    fn delete_test_cases(&self, job_id: i64) -> Result<u64, StoreError>;
}

/// The SQL implementation of [`Store`] for both backends.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
}

const WORKER_COLUMNS: &str = "hostname, description, state, health, last_ping, job_limit";
const DEVICE_TYPE_COLUMNS: &str =
    "name, description, health_frequency, health_denominator, health_check_disabled, health_check";
const DEVICE_COLUMNS: &str = "hostname, device_type, worker, description, state, health, dictionary, current_job, last_health_report_job";
const JOB_COLUMNS: &str = "id, submitter, description, definition, original_definition, requested_device_type, actual_device, state, health, priority, health_check, target_group, essential, sub_id, submit_time, start_time, end_time, failure_comment, infrastructure_error, visibility";

fn worker_from(row: &Row) -> Result<Worker, StoreError> {
    Ok(Worker {
        hostname: row.text(0)?,
        description: row.text(1)?,
        state: row.code(2, WorkerState::from_code, "worker state")?,
        health: row.code(3, WorkerHealth::from_code, "worker health")?,
        last_ping: row.opt_int(4)?,
        job_limit: row.int(5)?,
    })
}

fn device_from(row: &Row, tags: Vec<String>) -> Result<Device, StoreError> {
    Ok(Device {
        hostname: row.text(0)?,
        device_type: row.text(1)?,
        worker: row.opt_text(2)?,
        description: row.text(3)?,
        state: row.code(4, DeviceState::from_code, "device state")?,
        health: row.code(5, DeviceHealth::from_code, "device health")?,
        dictionary: row.opt_text(6)?,
        current_job: row.opt_int(7)?,
        last_health_report_job: row.opt_int(8)?,
        tags,
    })
}

/// A job from a row of `JOB_COLUMNS`, with its tags and viewing groups.
fn job_from(conn: &mut dyn Conn, row: &Row) -> Result<Job, StoreError> {
    let id = row.int(0)?;
    let tags = job_tags(conn, id)?;
    let visibility = row.code(19, JobVisibility::from_code, "job visibility")?;
    let viewing_groups = if visibility == JobVisibility::Group {
        conn.query(
            "SELECT g.name FROM job_viewing_groups v JOIN groups g ON g.id = v.group_id WHERE v.job = $1 ORDER BY g.name",
            &[id.into()],
        )?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    Ok(Job {
        id: row.int(0)?,
        submitter: row.text(1)?,
        description: row.text(2)?,
        definition: row.text(3)?,
        original_definition: row.text(4)?,
        requested_device_type: row.opt_text(5)?,
        actual_device: row.opt_text(6)?,
        state: row.code(7, JobState::from_code, "job state")?,
        health: row.code(8, JobHealth::from_code, "job health")?,
        priority: row.int(9)?,
        health_check: row.bool(10)?,
        target_group: row.opt_text(11)?,
        essential: row.bool(12)?,
        sub_id: row.text(13)?,
        submit_time: row.int(14)?,
        start_time: row.opt_int(15)?,
        end_time: row.opt_int(16)?,
        failure_comment: row.opt_text(17)?,
        infrastructure_error: row.bool(18)?,
        tags,
        visibility,
        viewing_groups,
    })
}

fn not_found(kind: &'static str, name: impl ToString) -> StoreError {
    StoreError::NotFound {
        kind,
        name: name.to_string(),
    }
}

/// Record a health change in the transition log.
fn log_transition(
    conn: &mut dyn Conn,
    kind: &str,
    object: &str,
    old: &str,
    new: &str,
    actor: &str,
    reason: &str,
) -> Result<(), StoreError> {
    log::info!("[{kind} {object}] {old} → {new} by {actor}: {reason}");
    conn.execute(
        "INSERT INTO transitions (at, object_kind, object, old_value, new_value, actor, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[now_micros().into(), kind.into(), object.into(), old.into(), new.into(), actor.into(), reason.into()],
    )?;
    Ok(())
}

fn lock_worker(conn: &mut dyn Conn, hostname: &str) -> Result<Worker, StoreError> {
    let sql = format!(
        "SELECT {WORKER_COLUMNS} FROM workers WHERE hostname = $1{}",
        conn.dialect().for_update()
    );
    conn.query_opt(&sql, &[hostname.into()])?
        .map(|row| worker_from(&row))
        .transpose()?
        .ok_or_else(|| not_found("worker", hostname))
}

fn device_tags(conn: &mut dyn Conn, hostname: &str) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT tag FROM device_tags WHERE device = $1 ORDER BY tag",
        &[hostname.into()],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

fn lock_device(conn: &mut dyn Conn, hostname: &str) -> Result<Device, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE hostname = $1{}",
        conn.dialect().for_update()
    );
    let row = conn
        .query_opt(&sql, &[hostname.into()])?
        .ok_or_else(|| not_found("device", hostname))?;
    let tags = device_tags(conn, hostname)?;
    device_from(&row, tags)
}

fn job_tags(conn: &mut dyn Conn, id: i64) -> Result<Vec<String>, StoreError> {
    conn.query(
        "SELECT tag FROM job_tags WHERE job = $1 ORDER BY tag",
        &[id.into()],
    )?
    .iter()
    .map(|row| row.text(0))
    .collect()
}

fn lock_job(conn: &mut dyn Conn, id: i64) -> Result<Job, StoreError> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1{}",
        conn.dialect().for_update()
    );
    let row = conn
        .query_opt(&sql, &[id.into()])?
        .ok_or_else(|| not_found("job", id))?;
    job_from(conn, &row)
}

fn device_type_in(conn: &mut dyn Conn, name: &str) -> Result<DeviceType, StoreError> {
    let row = conn
        .query_opt(
            &format!("SELECT {DEVICE_TYPE_COLUMNS} FROM device_types WHERE name = $1"),
            &[name.into()],
        )?
        .ok_or_else(|| not_found("device type", name))?;
    let aliases = conn
        .query(
            "SELECT name FROM aliases WHERE device_type = $1 ORDER BY name",
            &[name.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DeviceType {
        name: row.text(0)?,
        description: row.text(1)?,
        health_frequency: row.int(2)?,
        health_denominator: row.code(3, HealthDenominator::from_code, "health denominator")?,
        health_check_disabled: row.bool(4)?,
        health_check: row.opt_text(5)?,
        aliases,
    })
}

fn ensure_tags_exist(conn: &mut dyn Conn, tags: &[String]) -> Result<(), StoreError> {
    for tag in tags {
        if conn
            .query_opt("SELECT name FROM tags WHERE name = $1", &[tag.into()])?
            .is_none()
        {
            return Err(StoreError::NotFound {
                kind: "tag",
                name: tag.clone(),
            });
        }
    }
    Ok(())
}

/// Set a device's health inside a transaction, logging the change.
pub(crate) fn change_device_health(
    conn: &mut dyn Conn,
    hostname: &str,
    old: DeviceHealth,
    new: DeviceHealth,
    actor: &str,
    reason: &str,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    let changed = conn.execute(
        "UPDATE devices SET health = $1 WHERE hostname = $2 AND health = $3",
        &[new.code().into(), hostname.into(), old.code().into()],
    )?;
    if changed != 1 {
        return Err(StoreError::InvalidTransition {
            object: format!("device {hostname}"),
            from: old.to_string(),
            to: new.to_string(),
        });
    }
    log_transition(
        conn,
        "device",
        hostname,
        old.label(),
        new.label(),
        actor,
        reason,
    )
}

/// Store a job inside a transaction; returns its id.
pub(crate) fn insert_job_in(conn: &mut dyn Conn, job: &NewJob) -> Result<i64, StoreError> {
    if !(0..=100).contains(&job.priority) {
        return Err(StoreError::Refused(format!(
            "priority must be within 0..100, not {}",
            job.priority
        )));
    }
    if let Some(device_type) = &job.requested_device_type {
        device_type_in(conn, device_type)?;
    }
    ensure_tags_exist(conn, &job.tags)?;
    let row = conn
        .query_opt(
            "INSERT INTO jobs (submitter, description, definition, original_definition, multinode_definition, requested_device_type, state, health, priority, health_check, target_group, essential, sub_id, submit_time, visibility) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            &[
                job.submitter.as_str().into(),
                job.description.as_str().into(),
                job.definition.as_str().into(),
                job.original_definition.as_str().into(),
                job.multinode_definition.as_str().into(),
                job.requested_device_type.clone().into(),
                JobState::Submitted.code().into(),
                JobHealth::Unknown.code().into(),
                job.priority.into(),
                job.health_check.into(),
                job.target_group.clone().into(),
                job.essential.into(),
                job.sub_id.as_str().into(),
                now_micros().into(),
                job.visibility.code().into(),
            ],
        )?
        .ok_or_else(|| StoreError::Database("INSERT ... RETURNING gave no row".into()))?;
    let id = row.int(0)?;
    for tag in &job.tags {
        conn.execute(
            "INSERT INTO job_tags (job, tag) VALUES ($1, $2)",
            &[id.into(), tag.into()],
        )?;
    }
    if job.notify {
        conn.execute("INSERT INTO notifications (job) VALUES ($1)", &[id.into()])?;
    }
    if job.visibility == JobVisibility::Group {
        if job.viewing_groups.is_empty() {
            return Err(StoreError::Refused(
                "a group-visible job needs at least one viewing group".into(),
            ));
        }
        for group in &job.viewing_groups {
            let group_id = conn
                .query_opt("SELECT id FROM groups WHERE name = $1", &[group.into()])?
                .ok_or_else(|| not_found("group", group))?
                .int(0)?;
            conn.execute(
                "INSERT INTO job_viewing_groups (job, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[id.into(), group_id.into()],
            )?;
        }
    }
    log::info!(
        "[job {id}] submitted by {} for {}",
        job.submitter,
        job.requested_device_type
            .as_deref()
            .unwrap_or("(no device type)")
    );
    Ok(id)
}

/// The `WHERE` clause of a job query and its parameters. Visibility is
/// [`Job::visible_to`] in SQL: public jobs, the viewer's own, and group jobs
/// none of whose viewing groups the viewer lacks; administrators see all.
fn job_query_where(query: &JobQuery) -> (String, Vec<SqlValue>) {
    let mut clause = String::from("1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    let mark = |params: &mut Vec<SqlValue>, value: SqlValue| {
        params.push(value);
        format!("${}", params.len())
    };
    match &query.viewer {
        Viewer::Anonymous => clause.push_str(&format!(
            " AND visibility = {}",
            JobVisibility::Public.code()
        )),
        Viewer::User {
            superuser: true, ..
        } => {}
        Viewer::User { name, .. } => {
            let user = mark(&mut params, name.as_str().into());
            clause.push_str(&format!(
                " AND (visibility = {public} OR submitter = {user} OR (visibility = {group} AND NOT EXISTS (\
                 SELECT 1 FROM job_viewing_groups v WHERE v.job = jobs.id AND v.group_id NOT IN (\
                 SELECT group_id FROM user_groups WHERE username = {user}))))",
                public = JobVisibility::Public.code(),
                group = JobVisibility::Group.code(),
            ));
        }
    }
    let mut list = |params: &mut Vec<SqlValue>, column: &str, values: Vec<SqlValue>| {
        if !values.is_empty() {
            let marks: Vec<String> = values.into_iter().map(|v| mark(params, v)).collect();
            clause.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
        }
    };
    list(
        &mut params,
        "id",
        query.ids.iter().map(|&i| i.into()).collect(),
    );
    list(
        &mut params,
        "state",
        query.states.iter().map(|s| s.code().into()).collect(),
    );
    list(
        &mut params,
        "health",
        query.healths.iter().map(|h| h.code().into()).collect(),
    );
    let mut compare =
        |params: &mut Vec<SqlValue>, column: &str, op: &str, value: Option<SqlValue>| {
            if let Some(value) = value {
                let m = mark(params, value);
                clause.push_str(&format!(" AND {column} {op} {m}"));
            }
        };
    compare(&mut params, "id", ">", query.id_gt.map(Into::into));
    compare(
        &mut params,
        "submitter",
        "=",
        query.submitter.clone().map(Into::into),
    );
    compare(
        &mut params,
        "requested_device_type",
        "=",
        query.device_type.clone().map(Into::into),
    );
    compare(
        &mut params,
        "actual_device",
        "=",
        query.device.clone().map(Into::into),
    );
    compare(
        &mut params,
        "health_check",
        "=",
        query.health_check.map(Into::into),
    );
    compare(
        &mut params,
        "submit_time",
        ">",
        query.submit_time_gt.map(Into::into),
    );
    compare(
        &mut params,
        "start_time",
        ">",
        query.start_time_gt.map(Into::into),
    );
    compare(
        &mut params,
        "end_time",
        ">",
        query.end_time_gt.map(Into::into),
    );
    (clause, params)
}

/// Give many queued single-node jobs their devices in one transaction,
/// with set-based guarded updates: a device is only reserved while Idle and
/// Good or Unknown, a job only scheduled while Submitted without a device.
/// Pairs whose guard fails are left alone (a device reserved for a job that
/// lost its race is released again). Returns the pairs applied.
pub(crate) fn assign_batch(
    conn: &mut dyn Conn,
    pairs: &[(i64, String)],
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut applied = Vec::new();
    for chunk in pairs.chunks(500) {
        let values = |first: usize, params: &mut Vec<SqlValue>, rows: &[(i64, String)]| -> String {
            rows.iter()
                .enumerate()
                .map(|(i, (job, device))| {
                    params.push(device.as_str().into());
                    params.push((*job).into());
                    let n = first + 2 * i;
                    format!("(CAST(${n} AS TEXT), CAST(${} AS BIGINT))", n + 1)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut params: Vec<SqlValue> = vec![
            DeviceState::Reserved.code().into(),
            DeviceState::Idle.code().into(),
            DeviceHealth::Good.code().into(),
            DeviceHealth::Unknown.code().into(),
        ];
        let list = values(5, &mut params, chunk);
        let reserved: Vec<String> = conn
            .query(
                &format!(
                    "WITH v(device, job) AS (VALUES {list}) \
                     UPDATE devices SET state = $1, current_job = v.job FROM v \
                     WHERE devices.hostname = v.device AND devices.state = $2 AND devices.health IN ($3, $4) \
                     RETURNING devices.hostname"
                ),
                &params,
            )?
            .iter()
            .map(|row| row.text(0))
            .collect::<Result<_, _>>()?;
        let candidates: Vec<(i64, String)> = chunk
            .iter()
            .filter(|(_, d)| reserved.contains(d))
            .cloned()
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let mut params: Vec<SqlValue> = vec![
            JobState::Scheduled.code().into(),
            JobState::Submitted.code().into(),
        ];
        let list = values(3, &mut params, &candidates);
        let scheduled: Vec<i64> = conn
            .query(
                &format!(
                    "WITH v(device, job) AS (VALUES {list}) \
                     UPDATE jobs SET state = $1, actual_device = v.device FROM v \
                     WHERE jobs.id = v.job AND jobs.state = $2 AND jobs.actual_device IS NULL AND jobs.target_group IS NULL \
                     RETURNING jobs.id"
                ),
                &params,
            )?
            .iter()
            .map(|row| row.int(0))
            .collect::<Result<_, _>>()?;
        for (job, device) in candidates {
            if scheduled.contains(&job) {
                log::info!("[job {job}] → Scheduled on {device}");
                applied.push((job, device));
            } else {
                conn.execute(
                    "UPDATE devices SET state = $1, current_job = NULL WHERE hostname = $2 AND current_job = $3",
                    &[DeviceState::Idle.code().into(), device.as_str().into(), job.into()],
                )?;
            }
        }
    }
    Ok(applied)
}

/// Give a Submitted job a device inside a transaction (guarded): the job
/// becomes Scheduled (Scheduling for a multinode sub-job), the Idle device
/// Reserved. Returns the job's new state.
pub(crate) fn assign_in(
    conn: &mut dyn Conn,
    job_id: i64,
    hostname: &str,
) -> Result<JobState, StoreError> {
    // Device first, then job.
    let device = lock_device(conn, hostname)?;
    let job = lock_job(conn, job_id)?;
    let target = if job.target_group.is_some() {
        JobState::Scheduling
    } else {
        JobState::Scheduled
    };
    if job.state != JobState::Submitted {
        return Err(StoreError::InvalidTransition {
            object: format!("job {job_id}"),
            from: job.state.to_string(),
            to: target.to_string(),
        });
    }
    if device.state != DeviceState::Idle {
        return Err(StoreError::InvalidTransition {
            object: format!("device {hostname}"),
            from: device.state.to_string(),
            to: DeviceState::Reserved.to_string(),
        });
    }
    let allowed: &[DeviceHealth] = if job.health_check {
        &state::SCHEDULABLE_FOR_HEALTH_CHECKS
    } else {
        &state::SCHEDULABLE_FOR_JOBS
    };
    if !allowed.contains(&device.health) {
        return Err(StoreError::Refused(format!(
            "device {hostname} is {} and cannot take job {job_id}",
            device.health
        )));
    }
    conn.execute(
        "UPDATE devices SET state = $1, current_job = $2 WHERE hostname = $3 AND state = $4",
        &[
            DeviceState::Reserved.code().into(),
            job_id.into(),
            hostname.into(),
            DeviceState::Idle.code().into(),
        ],
    )?;
    let changed = conn.execute(
        "UPDATE jobs SET state = $1, actual_device = $2 WHERE id = $3 AND state = $4",
        &[
            target.code().into(),
            hostname.into(),
            job_id.into(),
            JobState::Submitted.code().into(),
        ],
    )?;
    if changed != 1 {
        return Err(StoreError::InvalidTransition {
            object: format!("job {job_id}"),
            from: job.state.to_string(),
            to: target.to_string(),
        });
    }
    log::info!("[job {job_id}] → {target} on {hostname}");
    Ok(target)
}

impl SqlStore {
    /// Open the store at a database URL (`postgresql://...` or
    /// `sqlite://PATH`), applying migrations.
    pub fn open_url(url: &str) -> Result<SqlStore, StoreError> {
        Ok(SqlStore {
            db: Database::open(&DatabaseUrl::parse(url)?)?,
        })
    }

    /// Open the store on an already-parsed URL.
    pub fn open(url: &DatabaseUrl) -> Result<SqlStore, StoreError> {
        Ok(SqlStore {
            db: Database::open(url)?,
        })
    }

    /// The underlying database (for the scheduler's own queries).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The backend's dialect.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    fn tx<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.transaction(f)
    }

    /// Finish a job inside a transaction (shared by finish and cancel).
    fn finish_in(
        conn: &mut dyn Conn,
        job: &Job,
        health: JobHealth,
        infrastructure_error: bool,
        failure_comment: Option<&str>,
        actor: &str,
    ) -> Result<JobHealth, StoreError> {
        if health == JobHealth::Unknown {
            return Err(StoreError::Refused(format!(
                "job {}: cannot finish with health Unknown",
                job.id
            )));
        }
        let final_health = state::finished_health(job.state, health);
        let comment = match (&job.failure_comment, failure_comment) {
            (Some(old), Some(new)) => Some(format!("{old}\n{new}")),
            (old, new) => new.map(str::to_string).or_else(|| old.clone()),
        };
        let changed = conn.execute(
            "UPDATE jobs SET state = $1, health = $2, end_time = $3, failure_comment = $4, infrastructure_error = $5 WHERE id = $6 AND state = $7",
            &[
                JobState::Finished.code().into(),
                final_health.code().into(),
                now_micros().into(),
                comment.into(),
                infrastructure_error.into(),
                job.id.into(),
                job.state.code().into(),
            ],
        )?;
        if changed != 1 {
            return Err(StoreError::InvalidTransition {
                object: format!("job {}", job.id),
                from: job.state.to_string(),
                to: JobState::Finished.to_string(),
            });
        }
        log::info!(
            "[job {}] {} → Finished ({final_health}) by {actor}",
            job.id,
            job.state
        );
        if let Some(hostname) = &job.actual_device {
            let device = lock_device(conn, hostname)?;
            if device.current_job == Some(job.id) {
                conn.execute(
                    "UPDATE devices SET state = $1, current_job = NULL WHERE hostname = $2",
                    &[DeviceState::Idle.code().into(), hostname.into()],
                )?;
            }
            if job.health_check {
                conn.execute(
                    "UPDATE devices SET last_health_report_job = $1 WHERE hostname = $2",
                    &[job.id.into(), hostname.into()],
                )?;
                match state::health_check_outcome(device.health, final_health) {
                    Some(new) => {
                        let verdict = if new == DeviceHealth::Good {
                            "passed"
                        } else {
                            "failed"
                        };
                        let reason = format!("health-check [{}] {verdict}", job.id);
                        change_device_health(
                            conn,
                            hostname,
                            device.health,
                            new,
                            "lava-health",
                            &reason,
                        )?;
                    }
                    None if device.health == DeviceHealth::Looping
                        && final_health != JobHealth::Complete =>
                    {
                        log::warn!(
                            "[device {hostname}] Looping health-check [{}] failed",
                            job.id
                        );
                    }
                    None => {}
                }
            } else if infrastructure_error {
                if let Some(new) = state::infrastructure_error_outcome(device.health) {
                    let reason = format!("job [{}] ended with an infrastructure error", job.id);
                    change_device_health(
                        conn,
                        hostname,
                        device.health,
                        new,
                        "lava-health",
                        &reason,
                    )?;
                }
            }
        }
        Ok(final_health)
    }

    /// Move one job to Canceling (guarded). Returns whether it changed.
    fn to_canceling(conn: &mut dyn Conn, id: i64) -> Result<bool, StoreError> {
        let changed = conn.execute(
            "UPDATE jobs SET state = $1 WHERE id = $2 AND state IN ($3, $4, $5)",
            &[
                JobState::Canceling.code().into(),
                id.into(),
                JobState::Scheduling.code().into(),
                JobState::Scheduled.code().into(),
                JobState::Running.code().into(),
            ],
        )?;
        if changed == 1 {
            log::info!("[job {id}] → Canceling");
        }
        Ok(changed == 1)
    }

    /// Cancel one job inside a transaction.
    fn cancel_one(conn: &mut dyn Conn, id: i64, actor: &str) -> Result<Option<bool>, StoreError> {
        let job = lock_job(conn, id)?;
        match job.state {
            JobState::Submitted => {
                Self::finish_in(conn, &job, JobHealth::Canceled, false, None, actor)?;
                Ok(Some(false))
            }
            JobState::Scheduling | JobState::Scheduled | JobState::Running => {
                Ok(Some(Self::to_canceling(conn, id)?))
            }
            JobState::Canceling | JobState::Finished => Ok(None),
        }
    }
}

impl Store for SqlStore {
    fn add_worker(&self, worker: &NewWorker, actor: &str) -> Result<Worker, StoreError> {
        lava_proto::socket::validate_hostname(&worker.hostname)
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        self.tx(|conn| {
            if conn.query_opt("SELECT hostname FROM workers WHERE hostname = $1", &[worker.hostname.as_str().into()])?.is_some() {
                return Err(StoreError::Exists { kind: "worker", name: worker.hostname.clone() });
            }
            conn.execute(
                "INSERT INTO workers (hostname, description, state, health) VALUES ($1, $2, $3, $4)",
                &[
                    worker.hostname.as_str().into(),
                    worker.description.as_str().into(),
                    WorkerState::Offline.code().into(),
                    worker.health.code().into(),
                ],
            )?;
            log_transition(conn, "worker", &worker.hostname, "", worker.health.label(), actor, "created")?;
            lock_worker(conn, &worker.hostname)
        })
    }

    fn worker(&self, hostname: &str) -> Result<Worker, StoreError> {
        self.tx(|conn| {
            conn.query_opt(
                &format!("SELECT {WORKER_COLUMNS} FROM workers WHERE hostname = $1"),
                &[hostname.into()],
            )?
            .map(|row| worker_from(&row))
            .transpose()?
            .ok_or_else(|| not_found("worker", hostname))
        })
    }

    fn workers(&self, include_retired: bool) -> Result<Vec<Worker>, StoreError> {
        self.tx(|conn| {
            let rows = conn.query(
                &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY hostname"),
                &[],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let worker = worker_from(row)?;
                if include_retired || worker.health != WorkerHealth::Retired {
                    out.push(worker);
                }
            }
            Ok(out)
        })
    }

    fn set_worker_description(&self, hostname: &str, description: &str) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE workers SET description = $1 WHERE hostname = $2",
                &[description.into(), hostname.into()],
            )?;
            if changed == 0 {
                return Err(not_found("worker", hostname));
            }
            Ok(())
        })
    }

    fn set_worker_health(
        &self,
        hostname: &str,
        health: WorkerHealth,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError> {
        self.tx(|conn| {
            let worker = lock_worker(conn, hostname)?;
            if worker.health == health {
                return Ok(Vec::new());
            }
            // Devices first (lock order device → job; the worker row is
            // only read-locked to keep its health stable).
            let sql = format!(
                "SELECT hostname, health FROM devices WHERE worker = $1 ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            let devices = conn.query(&sql, &[hostname.into()])?;
            let mut changes = Vec::new();
            for row in &devices {
                let device = row.text(0)?;
                let old = row.code(1, DeviceHealth::from_code, "device health")?;
                if let Some(new) = state::worker_health_cascade(worker.health, health, old) {
                    let why = format!("worker {hostname} → {health}: {reason}");
                    change_device_health(conn, &device, old, new, actor, &why)?;
                    changes.push((device, old, new));
                }
            }
            conn.execute(
                "UPDATE workers SET health = $1 WHERE hostname = $2",
                &[health.code().into(), hostname.into()],
            )?;
            log_transition(
                conn,
                "worker",
                hostname,
                worker.health.label(),
                health.label(),
                actor,
                reason,
            )?;
            Ok(changes)
        })
    }

    fn worker_devices_offline(
        &self,
        hostname: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Vec<(String, DeviceHealth, DeviceHealth)>, StoreError> {
        self.tx(|conn| {
            lock_worker(conn, hostname)?;
            let sql = format!(
                "SELECT hostname, health FROM devices WHERE worker = $1 ORDER BY hostname{}",
                conn.dialect().for_update()
            );
            let mut changes = Vec::new();
            for row in conn.query(&sql, &[hostname.into()])? {
                let device = row.text(0)?;
                let old = row.code(1, DeviceHealth::from_code, "device health")?;
                if !matches!(old, DeviceHealth::Maintenance | DeviceHealth::Retired) {
                    let why = format!("all devices of worker {hostname} offline: {reason}");
                    change_device_health(
                        conn,
                        &device,
                        old,
                        DeviceHealth::Maintenance,
                        actor,
                        &why,
                    )?;
                    changes.push((device, old, DeviceHealth::Maintenance));
                }
            }
            Ok(changes)
        })
    }

    fn set_worker_state(&self, hostname: &str, new: WorkerState) -> Result<bool, StoreError> {
        self.tx(|conn| {
            let worker = lock_worker(conn, hostname)?;
            if new == WorkerState::Online {
                conn.execute(
                    "UPDATE workers SET last_ping = $1 WHERE hostname = $2",
                    &[now_micros().into(), hostname.into()],
                )?;
            }
            if worker.state == new {
                return Ok(false);
            }
            conn.execute(
                "UPDATE workers SET state = $1 WHERE hostname = $2",
                &[new.code().into(), hostname.into()],
            )?;
            log::info!(
                "[STATE] worker {hostname} goes {}",
                new.label().to_uppercase()
            );
            Ok(true)
        })
    }

    fn mark_all_workers_offline(&self) -> Result<u64, StoreError> {
        self.tx(|conn| {
            conn.execute(
                "UPDATE workers SET state = $1 WHERE state <> $1",
                &[WorkerState::Offline.code().into()],
            )
        })
    }

    fn add_device_type(&self, device_type: &NewDeviceType) -> Result<DeviceType, StoreError> {
        if device_type.name.is_empty() {
            return Err(StoreError::Refused("a device type needs a name".into()));
        }
        if device_type.health_frequency < 0 {
            return Err(StoreError::Refused(format!(
                "health frequency must be 0 or more, not {}",
                device_type.health_frequency
            )));
        }
        self.tx(|conn| {
            let name = device_type.name.as_str();
            if conn.query_opt("SELECT name FROM device_types WHERE name = $1", &[name.into()])?.is_some() {
                return Err(StoreError::Exists { kind: "device type", name: name.to_string() });
            }
            if conn.query_opt("SELECT name FROM aliases WHERE name = $1", &[name.into()])?.is_some() {
                return Err(StoreError::Exists { kind: "alias", name: name.to_string() });
            }
            conn.execute(
                "INSERT INTO device_types (name, description, health_frequency, health_denominator, health_check_disabled) VALUES ($1, $2, $3, $4, $5)",
                &[
                    name.into(),
                    device_type.description.as_str().into(),
                    device_type.health_frequency.into(),
                    device_type.health_denominator.code().into(),
                    device_type.health_check_disabled.into(),
                ],
            )?;
            device_type_in(conn, name)
        })
    }

    fn device_type(&self, name: &str) -> Result<DeviceType, StoreError> {
        self.tx(|conn| device_type_in(conn, name))
    }

    fn device_types(&self) -> Result<Vec<DeviceType>, StoreError> {
        self.tx(|conn| {
            let names = conn.query("SELECT name FROM device_types ORDER BY name", &[])?;
            names
                .iter()
                .map(|row| device_type_in(conn, &row.text(0)?))
                .collect()
        })
    }

    fn update_device_type(
        &self,
        name: &str,
        update: &DeviceTypeUpdate,
    ) -> Result<DeviceType, StoreError> {
        if let Some(f) = update.health_frequency.filter(|f| *f < 0) {
            return Err(StoreError::Refused(format!(
                "health frequency must be 0 or more, not {f}"
            )));
        }
        self.tx(|conn| {
            let current = device_type_in(conn, name)?;
            conn.execute(
                "UPDATE device_types SET description = $1, health_frequency = $2, health_denominator = $3, health_check_disabled = $4 WHERE name = $5",
                &[
                    update.description.clone().unwrap_or(current.description).into(),
                    update.health_frequency.unwrap_or(current.health_frequency).into(),
                    update.health_denominator.unwrap_or(current.health_denominator).code().into(),
                    update.health_check_disabled.unwrap_or(current.health_check_disabled).into(),
                    name.into(),
                ],
            )?;
            device_type_in(conn, name)
        })
    }

    fn add_alias(&self, device_type: &str, alias: &str) -> Result<(), StoreError> {
        self.tx(|conn| {
            device_type_in(conn, device_type)?;
            if conn
                .query_opt(
                    "SELECT name FROM device_types WHERE name = $1",
                    &[alias.into()],
                )?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "device type",
                    name: alias.to_string(),
                });
            }
            if conn
                .query_opt("SELECT name FROM aliases WHERE name = $1", &[alias.into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "alias",
                    name: alias.to_string(),
                });
            }
            conn.execute(
                "INSERT INTO aliases (name, device_type) VALUES ($1, $2)",
                &[alias.into(), device_type.into()],
            )?;
            Ok(())
        })
    }

    fn resolve_device_type(&self, name: &str) -> Result<DeviceType, StoreError> {
        self.tx(|conn| {
            let target = conn
                .query_opt(
                    "SELECT device_type FROM aliases WHERE name = $1",
                    &[name.into()],
                )?
                .map(|row| row.text(0))
                .transpose()?
                .unwrap_or_else(|| name.to_string());
            device_type_in(conn, &target)
        })
    }

    fn set_health_check(
        &self,
        device_type: &str,
        definition: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE device_types SET health_check = $1 WHERE name = $2",
                &[definition.into(), device_type.into()],
            )?;
            if changed == 0 {
                return Err(not_found("device type", device_type));
            }
            Ok(())
        })
    }

    fn add_tag(&self, name: &str, description: &str) -> Result<(), StoreError> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(StoreError::Refused(format!("invalid tag name '{name}'")));
        }
        self.tx(|conn| {
            if conn
                .query_opt("SELECT name FROM tags WHERE name = $1", &[name.into()])?
                .is_some()
            {
                return Err(StoreError::Exists {
                    kind: "tag",
                    name: name.to_string(),
                });
            }
            conn.execute(
                "INSERT INTO tags (name, description) VALUES ($1, $2)",
                &[name.into(), description.into()],
            )?;
            Ok(())
        })
    }

    fn tags(&self) -> Result<Vec<Tag>, StoreError> {
        self.tx(|conn| {
            conn.query("SELECT name, description FROM tags ORDER BY name", &[])?
                .iter()
                .map(|row| {
                    Ok(Tag {
                        name: row.text(0)?,
                        description: row.text(1)?,
                    })
                })
                .collect()
        })
    }

    fn add_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            ensure_tags_exist(conn, tags)?;
            for tag in tags.iter().filter(|t| !device.tags.contains(t)) {
                conn.execute(
                    "INSERT INTO device_tags (device, tag) VALUES ($1, $2)",
                    &[hostname.into(), tag.into()],
                )?;
            }
            Ok(())
        })
    }

    fn remove_device_tags(&self, hostname: &str, tags: &[String]) -> Result<(), StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            for tag in tags {
                if !device.tags.contains(tag) {
                    return Err(StoreError::Refused(format!(
                        "device {hostname} does not have tag '{tag}'"
                    )));
                }
                conn.execute(
                    "DELETE FROM device_tags WHERE device = $1 AND tag = $2",
                    &[hostname.into(), tag.into()],
                )?;
            }
            Ok(())
        })
    }

    fn add_device(&self, device: &NewDevice, actor: &str) -> Result<Device, StoreError> {
        if device.hostname.is_empty()
            || device.hostname.contains('/')
            || device.hostname.chars().any(char::is_whitespace)
        {
            return Err(StoreError::Refused(format!(
                "invalid device hostname '{}'",
                device.hostname
            )));
        }
        self.tx(|conn| {
            let hostname = device.hostname.as_str();
            if conn.query_opt("SELECT hostname FROM devices WHERE hostname = $1", &[hostname.into()])?.is_some() {
                return Err(StoreError::Exists { kind: "device", name: hostname.to_string() });
            }
            let alias = conn
                .query_opt("SELECT device_type FROM aliases WHERE name = $1", &[device.device_type.as_str().into()])?
                .map(|row| row.text(0))
                .transpose()?;
            let device_type = device_type_in(conn, alias.as_deref().unwrap_or(&device.device_type))?;
            // A device joining a worker in Maintenance or Retired follows
            // the worker, as if the worker's health had cascaded to it.
            let mut health = device.health;
            if let Some(worker) = &device.worker {
                let worker = lock_worker(conn, worker)?;
                if let Some(h) = state::worker_health_cascade(WorkerHealth::Active, worker.health, health) {
                    health = h;
                }
            }
            conn.execute(
                "INSERT INTO devices (hostname, device_type, worker, description, state, health, dictionary) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    hostname.into(),
                    device_type.name.as_str().into(),
                    device.worker.clone().into(),
                    device.description.as_str().into(),
                    DeviceState::Idle.code().into(),
                    health.code().into(),
                    device.dictionary.clone().into(),
                ],
            )?;
            for tag in &device.tags {
                if conn.query_opt("SELECT name FROM tags WHERE name = $1", &[tag.into()])?.is_none() {
                    conn.execute("INSERT INTO tags (name, description) VALUES ($1, '')", &[tag.into()])?;
                }
                conn.execute("INSERT INTO device_tags (device, tag) VALUES ($1, $2)", &[hostname.into(), tag.into()])?;
            }
            log_transition(conn, "device", hostname, "", health.label(), actor, "created")?;
            lock_device(conn, hostname)
        })
    }

    fn device(&self, hostname: &str) -> Result<Device, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE hostname = $1"),
                    &[hostname.into()],
                )?
                .ok_or_else(|| not_found("device", hostname))?;
            let tags = device_tags(conn, hostname)?;
            device_from(&row, tags)
        })
    }

    fn devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>, StoreError> {
        self.tx(|conn| {
            let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for row in conn.query("SELECT device, tag FROM device_tags ORDER BY tag", &[])? {
                tags.entry(row.text(0)?).or_default().push(row.text(1)?);
            }
            let rows = conn.query(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY hostname"),
                &[],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let hostname = row.text(0)?;
                let device = device_from(row, tags.remove(&hostname).unwrap_or_default())?;
                let retired_hidden = device.health == DeviceHealth::Retired
                    && !filter.include_retired
                    && filter.health != Some(DeviceHealth::Retired);
                if retired_hidden
                    || filter.state.is_some_and(|s| s != device.state)
                    || filter.health.is_some_and(|h| h != device.health)
                    || filter
                        .worker
                        .as_ref()
                        .is_some_and(|w| Some(w) != device.worker.as_ref())
                    || filter
                        .device_type
                        .as_ref()
                        .is_some_and(|t| *t != device.device_type)
                {
                    continue;
                }
                out.push(device);
            }
            Ok(out)
        })
    }

    fn update_device(&self, hostname: &str, update: &DeviceUpdate) -> Result<Device, StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            if let Some(worker) = &update.worker {
                lock_worker(conn, worker)?;
            }
            conn.execute(
                "UPDATE devices SET description = $1, worker = $2 WHERE hostname = $3",
                &[
                    update
                        .description
                        .clone()
                        .unwrap_or(device.description)
                        .into(),
                    update.worker.clone().or(device.worker).into(),
                    hostname.into(),
                ],
            )?;
            lock_device(conn, hostname)
        })
    }

    fn set_device_health(
        &self,
        hostname: &str,
        health: DeviceHealth,
        actor: &str,
        reason: &str,
    ) -> Result<DeviceHealth, StoreError> {
        self.tx(|conn| {
            let device = lock_device(conn, hostname)?;
            change_device_health(conn, hostname, device.health, health, actor, reason)?;
            Ok(device.health)
        })
    }

    fn set_dictionary(&self, hostname: &str, dictionary: Option<&str>) -> Result<(), StoreError> {
        self.tx(|conn| {
            let changed = conn.execute(
                "UPDATE devices SET dictionary = $1 WHERE hostname = $2",
                &[dictionary.into(), hostname.into()],
            )?;
            if changed == 0 {
                return Err(not_found("device", hostname));
            }
            Ok(())
        })
    }

    fn transitions(&self, object_kind: &str, object: &str) -> Result<Vec<Transition>, StoreError> {
        self.tx(|conn| {
            conn.query(
                "SELECT at, object_kind, object, old_value, new_value, actor, reason FROM transitions WHERE object_kind = $1 AND object = $2 ORDER BY id",
                &[object_kind.into(), object.into()],
            )?
            .iter()
            .map(|row| {
                Ok(Transition {
                    at: row.int(0)?,
                    object_kind: row.text(1)?,
                    object: row.text(2)?,
                    old: row.text(3)?,
                    new: row.text(4)?,
                    actor: row.text(5)?,
                    reason: row.text(6)?,
                })
            })
            .collect()
        })
    }

    fn insert_job(&self, job: &NewJob) -> Result<i64, StoreError> {
        self.tx(|conn| insert_job_in(conn, job))
    }

    fn job(&self, id: i64) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                    &[id.into()],
                )?
                .ok_or_else(|| not_found("job", id))?;
            job_from(conn, &row)
        })
    }

    fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.tx(|conn| {
            let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
            let mut params: Vec<SqlValue> = Vec::new();
            if !filter.states.is_empty() {
                let marks: Vec<String> = filter
                    .states
                    .iter()
                    .map(|s| {
                        params.push(s.code().into());
                        format!("${}", params.len())
                    })
                    .collect();
                sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
            }
            if let Some(device_type) = &filter.device_type {
                params.push(device_type.into());
                sql.push_str(&format!(" AND requested_device_type = ${}", params.len()));
            }
            sql.push_str(" ORDER BY id DESC");
            if let Some(limit) = filter.limit {
                params.push(limit.into());
                sql.push_str(&format!(" LIMIT ${}", params.len()));
            }
            let rows = conn.query(&sql, &params)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(job_from(conn, row)?);
            }
            Ok(out)
        })
    }

    fn query_jobs(&self, query: &JobQuery) -> Result<JobPage, StoreError> {
        self.tx(|conn| {
            let (clause, mut params) = job_query_where(query);
            let count = conn
                .query_opt(&format!("SELECT COUNT(*) FROM jobs WHERE {clause}"), &params)?
                .map(|row| row.int(0))
                .transpose()?
                .unwrap_or(0);
            let order = match query.order {
                JobOrder::IdDescending => "id DESC",
                JobOrder::IdAscending => "id ASC",
            };
            params.push(query.limit.max(0).into());
            let limit = params.len();
            params.push(query.offset.max(0).into());
            let offset = params.len();
            let rows = conn.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {clause} ORDER BY {order} LIMIT ${limit} OFFSET ${offset}"),
                &params,
            )?;
            let mut jobs = Vec::with_capacity(rows.len());
            for row in &rows {
                jobs.push(job_from(conn, row)?);
            }
            Ok(JobPage { count, jobs })
        })
    }

    fn assign_job(&self, job_id: i64, hostname: &str) -> Result<(), StoreError> {
        self.tx(|conn| assign_in(conn, job_id, hostname).map(|_| ()))
    }

    fn jobs_on_worker(&self, hostname: &str, states: &[JobState]) -> Result<Vec<Job>, StoreError> {
        self.tx(|conn| {
            let rows = conn.query(
                &format!(
                    "SELECT {} FROM jobs j JOIN devices d ON d.hostname = j.actual_device WHERE d.worker = $1 ORDER BY j.id",
                    JOB_COLUMNS.split(", ").map(|c| format!("j.{c}")).collect::<Vec<_>>().join(", ")
                ),
                &[hostname.into()],
            )?;
            let mut out = Vec::new();
            for row in &rows {
                let job = job_from(conn, row)?;
                if states.contains(&job.state) {
                    out.push(job);
                }
            }
            Ok(out)
        })
    }

    fn group_scheduled(&self, target_group: &str) -> Result<Vec<i64>, StoreError> {
        self.tx(|conn| {
            let sql = format!(
                "SELECT id, state FROM jobs WHERE target_group = $1 ORDER BY id{}",
                conn.dialect().for_update()
            );
            let rows = conn.query(&sql, &[target_group.into()])?;
            let mut ids = Vec::new();
            for row in &rows {
                if row.code(1, JobState::from_code, "job state")? != JobState::Scheduling {
                    return Ok(Vec::new());
                }
                ids.push(row.int(0)?);
            }
            for id in &ids {
                conn.execute(
                    "UPDATE jobs SET state = $1 WHERE id = $2 AND state = $3",
                    &[
                        JobState::Scheduled.code().into(),
                        (*id).into(),
                        JobState::Scheduling.code().into(),
                    ],
                )?;
            }
            Ok(ids)
        })
    }

    fn job_started(&self, job_id: i64) -> Result<bool, StoreError> {
        self.tx(|conn| {
            let job = conn
                .query_opt(
                    "SELECT actual_device, state FROM jobs WHERE id = $1",
                    &[job_id.into()],
                )?
                .ok_or_else(|| not_found("job", job_id))?;
            if let Some(device) = job.opt_text(0)? {
                lock_device(conn, &device)?;
            }
            let job = lock_job(conn, job_id)?;
            match job.state {
                JobState::Scheduled => {}
                JobState::Running | JobState::Canceling | JobState::Finished => return Ok(false),
                other => {
                    return Err(StoreError::InvalidTransition {
                        object: format!("job {job_id}"),
                        from: other.to_string(),
                        to: JobState::Running.to_string(),
                    })
                }
            }
            conn.execute(
                "UPDATE jobs SET state = $1, start_time = $2 WHERE id = $3 AND state = $4",
                &[
                    JobState::Running.code().into(),
                    now_micros().into(),
                    job_id.into(),
                    JobState::Scheduled.code().into(),
                ],
            )?;
            if let Some(device) = &job.actual_device {
                conn.execute(
                    "UPDATE devices SET state = $1 WHERE hostname = $2 AND current_job = $3",
                    &[
                        DeviceState::Running.code().into(),
                        device.into(),
                        job_id.into(),
                    ],
                )?;
            }
            log::info!("[job {job_id}] → Running");
            Ok(true)
        })
    }

    fn cancel_job(&self, job_id: i64, actor: &str) -> Result<CancelOutcome, StoreError> {
        self.tx(|conn| {
            let row = conn
                .query_opt(
                    "SELECT actual_device, state, target_group FROM jobs WHERE id = $1",
                    &[job_id.into()],
                )?
                .ok_or_else(|| not_found("job", job_id))?;
            let state = row.code(1, JobState::from_code, "job state")?;
            let group = row.opt_text(2)?;
            let ids: Vec<(i64, Option<String>)> = match &group {
                Some(group) => conn
                    .query(
                        "SELECT id, actual_device FROM jobs WHERE target_group = $1 ORDER BY id",
                        &[group.into()],
                    )?
                    .iter()
                    .map(|r| Ok((r.int(0)?, r.opt_text(1)?)))
                    .collect::<Result<_, StoreError>>()?,
                None => vec![(job_id, row.opt_text(0)?)],
            };
            // Lock devices first, then jobs.
            for (_, device) in &ids {
                if let Some(device) = device {
                    lock_device(conn, device)?;
                }
            }
            let mut canceling = Vec::new();
            let mut canceled_queued = false;
            for (id, _) in &ids {
                match Self::cancel_one(conn, *id, actor)? {
                    Some(true) => canceling.push(*id),
                    Some(false) => canceled_queued |= *id == job_id,
                    None => {}
                }
            }
            if !canceling.is_empty() {
                Ok(CancelOutcome::Canceling(canceling))
            } else if canceled_queued {
                Ok(CancelOutcome::Canceled)
            } else {
                Ok(CancelOutcome::AlreadyEnding(state))
            }
        })
    }

    fn finish_job(
        &self,
        job_id: i64,
        health: JobHealth,
        infrastructure_error: bool,
        failure_comment: Option<&str>,
        actor: &str,
    ) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let peek = conn
                .query_opt(
                    "SELECT actual_device FROM jobs WHERE id = $1",
                    &[job_id.into()],
                )?
                .ok_or_else(|| not_found("job", job_id))?;
            if let Some(device) = peek.opt_text(0)? {
                lock_device(conn, &device)?;
            }
            let job = lock_job(conn, job_id)?;
            if job.state == JobState::Finished {
                return Err(StoreError::InvalidTransition {
                    object: format!("job {job_id}"),
                    from: job.state.to_string(),
                    to: JobState::Finished.to_string(),
                });
            }
            let final_health = Self::finish_in(
                conn,
                &job,
                health,
                infrastructure_error,
                failure_comment,
                actor,
            )?;
            if job.essential && final_health == JobHealth::Incomplete {
                if let Some(group) = &job.target_group {
                    let others = conn.query(
                        "SELECT id FROM jobs WHERE target_group = $1 AND id <> $2 ORDER BY id",
                        &[group.into(), job_id.into()],
                    )?;
                    for row in &others {
                        let id = row.int(0)?;
                        if Self::to_canceling(conn, id)? {
                            log::info!("[job {id}] canceled: essential role job {job_id} failed");
                        }
                    }
                }
            }
            lock_job(conn, job_id)
        })
    }

    fn delete_job(&self, job_id: i64, actor: &str) -> Result<Job, StoreError> {
        self.tx(|conn| {
            let peek = conn
                .query_opt("SELECT actual_device FROM jobs WHERE id = $1", &[job_id.into()])?
                .ok_or_else(|| not_found("job", job_id))?;
            if let Some(device) = peek.opt_text(0)? {
                lock_device(conn, &device)?;
            }
            let job = lock_job(conn, job_id)?;
            if job.state != JobState::Finished {
                Self::finish_in(conn, &job, JobHealth::Canceled, true, Some("job deleted"), actor)?;
            }
            conn.execute(
                "UPDATE devices SET last_health_report_job = NULL WHERE last_health_report_job = $1",
                &[job_id.into()],
            )?;
            conn.execute("DELETE FROM jobs WHERE id = $1", &[job_id.into()])?;
            log::info!("[job {job_id}] deleted by {actor}");
            Ok(job)
        })
    }

    fn add_test_case(&self, job_id: i64, case: &NewTestCase) -> Result<i64, StoreError> {
        let result = case.result.ok_or_else(|| {
            StoreError::Refused(format!("test case '{}' has no result", case.name))
        })?;
        self.tx(|conn| {
            conn.query_opt("SELECT id FROM jobs WHERE id = $1", &[job_id.into()])?
                .ok_or_else(|| not_found("job", job_id))?;
            let suite = match conn.query_opt("SELECT id FROM test_suites WHERE job = $1 AND name = $2", &[job_id.into(), case.suite.as_str().into()])? {
                Some(row) => row.int(0)?,
                None => conn
                    .query_opt("INSERT INTO test_suites (job, name) VALUES ($1, $2) RETURNING id", &[job_id.into(), case.suite.as_str().into()])?
                    .ok_or_else(|| StoreError::Database("INSERT ... RETURNING gave no row".into()))?
                    .int(0)?,
            };
            let set = match &case.set {
                None => None,
                Some(name) => Some(match conn.query_opt("SELECT id FROM test_sets WHERE suite = $1 AND name = $2", &[suite.into(), name.into()])? {
                    Some(row) => row.int(0)?,
                    None => conn
                        .query_opt("INSERT INTO test_sets (suite, name) VALUES ($1, $2) RETURNING id", &[suite.into(), name.into()])?
                        .ok_or_else(|| StoreError::Database("INSERT ... RETURNING gave no row".into()))?
                        .int(0)?,
                }),
            };
            let row = conn
                .query_opt(
                    "INSERT INTO test_cases (suite, test_set, name, result, measurement, units, metadata, start_log_line, end_log_line, logged) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[
                        suite.into(),
                        set.into(),
                        case.name.as_str().into(),
                        result.code().into(),
                        case.measurement.clone().into(),
                        case.units.as_str().into(),
                        case.metadata.clone().into(),
                        case.start_log_line.into(),
                        case.end_log_line.into(),
                        now_micros().into(),
                    ],
                )?
                .ok_or_else(|| StoreError::Database("INSERT ... RETURNING gave no row".into()))?;
            row.int(0)
        })
    }

    fn delete_test_cases(&self, job_id: i64) -> Result<u64, StoreError> {
        self.tx(|conn| {
            let cases = conn
                .query_opt(
                    "SELECT COUNT(*) FROM test_cases WHERE suite IN (SELECT id FROM test_suites WHERE job = $1)",
                    &[job_id.into()],
                )?
                .map(|row| row.int(0))
                .transpose()?
                .unwrap_or(0);
            // sets and cases go with their suites (ON DELETE CASCADE)
            conn.execute("DELETE FROM test_suites WHERE job = $1", &[job_id.into()])?;
            Ok(cases as u64)
        })
    }

    fn test_suites(&self, job_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.tx(|conn| {
            conn.query(
                "SELECT id, name FROM test_suites WHERE job = $1 ORDER BY id",
                &[job_id.into()],
            )?
            .iter()
            .map(|row| Ok((row.int(0)?, row.text(1)?)))
            .collect()
        })
    }

    fn test_cases(&self, job_id: i64) -> Result<Vec<TestCase>, StoreError> {
        self.tx(|conn| {
            conn.query(
                "SELECT c.id, s.job, s.name, t.name, c.name, c.result, c.measurement, c.units, c.metadata, c.start_log_line, c.end_log_line, c.logged \
                 FROM test_cases c JOIN test_suites s ON c.suite = s.id LEFT JOIN test_sets t ON c.test_set = t.id \
                 WHERE s.job = $1 ORDER BY c.id",
                &[job_id.into()],
            )?
            .iter()
            .map(|row| {
                Ok(TestCase {
                    id: row.int(0)?,
                    job: row.int(1)?,
                    suite: row.text(2)?,
                    set: row.opt_text(3)?,
                    name: row.text(4)?,
                    result: row.code(5, TestResultCode::from_code, "test result")?,
                    measurement: row.opt_text(6)?,
                    units: row.text(7)?,
                    metadata: row.opt_text(8)?,
                    start_log_line: row.opt_int(9)?,
                    end_log_line: row.opt_int(10)?,
                    logged: row.int(11)?,
                })
            })
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_assignment_applies_only_what_still_holds() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqlStore::open_url(&format!("sqlite://{}/t.db", dir.path().display())).unwrap();
        store.add_worker(&NewWorker::new("w"), "t").unwrap();
        store.add_device_type(&NewDeviceType::new("t")).unwrap();
        for d in ["d1", "d2", "d3"] {
            store.add_device(&NewDevice::new(d, "t", "w"), "t").unwrap();
        }
        let job = |n: &str| {
            store
                .insert_job(&NewJob {
                    submitter: n.into(),
                    requested_device_type: Some("t".into()),
                    priority: 50,
                    ..Default::default()
                })
                .unwrap()
        };
        let (ok, canceled, on_bad) = (job("a"), job("b"), job("c"));
        // Between planning and applying: a cancel, and an admin marks d3 Bad.
        store.cancel_job(canceled, "t").unwrap();
        store
            .set_device_health("d3", DeviceHealth::Bad, "t", "t")
            .unwrap();
        let pairs = vec![
            (ok, "d1".to_string()),
            (canceled, "d2".to_string()),
            (on_bad, "d3".to_string()),
        ];
        let applied = store
            .database()
            .transaction(|c| assign_batch(c, &pairs))
            .unwrap();
        assert_eq!(applied, [(ok, "d1".to_string())]);
        assert_eq!(store.device("d1").unwrap().current_job, Some(ok));
        let d2 = store.device("d2").unwrap();
        assert_eq!(
            (d2.state, d2.current_job),
            (DeviceState::Idle, None),
            "released again"
        );
        assert_eq!(
            store.job(canceled).unwrap().health,
            JobHealth::Canceled,
            "the cancel is not lost"
        );
        assert_eq!(store.job(on_bad).unwrap().state, JobState::Submitted);
    }
}
