//! What callers hand the store: new objects, updates, filters and queries.

use crate::model::*;

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
