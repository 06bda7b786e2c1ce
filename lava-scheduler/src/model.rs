//! The master's data model: workers, device types, devices, tags, jobs,
//! results and the transition log.
//!
//! Every state and health is a Rust enum. The integer stored in the
//! database and the label shown to people are LAVA 2020.01's (docs/scheduler.md
//! §1.1), so exported data and notifications keep their meaning:
//!
//! ```
//! use lava_scheduler::model::{DeviceHealth, JobState};
//!
//! assert_eq!(DeviceHealth::Looping.code(), 2);
//! assert_eq!(DeviceHealth::parse("maintenance"), Some(DeviceHealth::Maintenance));
//! assert_eq!(JobState::from_code(5), Some(JobState::Finished));
//! assert_eq!(JobState::Canceling.to_string(), "Canceling");
//! ```

use std::fmt;

/// Declares a LAVA enumeration: variants with their stored integer and
/// label, and the conversions every enum needs.
macro_rules! lava_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The integer LAVA stores.
            pub fn code(self) -> i64 {
                match self { $($name::$variant => $code,)+ }
            }

            /// The value for a stored integer.
            pub fn from_code(code: i64) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The label LAVA shows (`Good`, `Canceling`, ...).
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// Parse a label in any case (`GOOD`, `good`, `Good`).
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.label().eq_ignore_ascii_case(text.trim()))
            }

            /// The labels, for error messages and CLI help.
            pub fn labels() -> String {
                $name::ALL.iter().map(|v| v.label().to_ascii_uppercase()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

lava_enum! {
    /// Whether a worker is talking to the master (set by the master only).
    WorkerState {
        /// Heard from within the last 60 s.
        Online = 0, "Online";
        /// Silent, or not heard from since the master started.
        Offline = 1, "Offline";
    }
}

lava_enum! {
    /// An admin's decision about a worker; cascades to its devices.
    WorkerHealth {
        /// In service.
        Active = 0, "Active";
        /// Temporarily out of service.
        Maintenance = 1, "Maintenance";
        /// Permanently out of service.
        Retired = 2, "Retired";
    }
}

lava_enum! {
    /// What a device is doing; derived from its current job.
    DeviceState {
        /// No job.
        Idle = 0, "Idle";
        /// A job is assigned but not running yet.
        Reserved = 1, "Reserved";
        /// A job runs.
        Running = 2, "Running";
    }
}

lava_enum! {
    /// Whether a device may run jobs.
    DeviceHealth {
        /// Passed its last health check (or set by an admin).
        Good = 0, "Good";
        /// Needs a health check before ordinary jobs.
        Unknown = 1, "Unknown";
        /// Runs its health check over and over.
        Looping = 2, "Looping";
        /// Failed its health check; never scheduled until an admin acts.
        Bad = 3, "Bad";
        /// Out of service for now.
        Maintenance = 4, "Maintenance";
        /// Out of service for good.
        Retired = 5, "Retired";
    }
}

lava_enum! {
    /// How a device type's health-check frequency is counted.
    HealthDenominator {
        /// Every N hours.
        Hours = 0, "hours";
        /// Every N jobs.
        Jobs = 1, "jobs";
    }
}

lava_enum! {
    /// Where a job is in its life. Transitions only move forward in this order.
    JobState {
        /// Queued.
        Submitted = 0, "Submitted";
        /// A multinode sub-job holds a device while its group is completed.
        Scheduling = 1, "Scheduling";
        /// Has a device; START is being sent.
        Scheduled = 2, "Scheduled";
        /// The worker runs it.
        Running = 3, "Running";
        /// A cancel was asked; CANCEL is being sent.
        Canceling = 4, "Canceling";
        /// Over.
        Finished = 5, "Finished";
    }
}

lava_enum! {
    /// How a job ended.
    JobHealth {
        /// Not finished yet.
        Unknown = 0, "Unknown";
        /// Ran to the end and passed.
        Complete = 1, "Complete";
        /// Failed.
        Incomplete = 2, "Incomplete";
        /// Was canceled.
        Canceled = 3, "Canceled";
    }
}

lava_enum! {
    /// The result of one test case.
    TestResultCode {
        /// pass
        Pass = 0, "pass";
        /// fail
        Fail = 1, "fail";
        /// skip
        Skip = 2, "skip";
        /// unknown
        Unknown = 3, "unknown";
    }
}

lava_enum! {
    /// Who may see a job (job-definition `visibility`).
    #[derive(Default)]
    JobVisibility {
        /// Anyone, anonymous users included.
        #[default]
        Public = 0, "Public";
        /// Its submitter and administrators.
        Personal = 1, "Personal";
        /// Members of every one of its viewing groups, and administrators.
        Group = 2, "Group";
    }
}

impl From<lava_proto::log::TestResult> for TestResultCode {
    fn from(result: lava_proto::log::TestResult) -> Self {
        use lava_proto::log::TestResult;
        match result {
            TestResult::Pass => TestResultCode::Pass,
            TestResult::Fail => TestResultCode::Fail,
            TestResult::Skip => TestResultCode::Skip,
            TestResult::Unknown => TestResultCode::Unknown,
        }
    }
}

/// Seconds and microseconds since the Unix epoch, UTC (how times are stored).
pub type Timestamp = i64;

/// The current time as a [`Timestamp`] in microseconds.
pub fn now_micros() -> Timestamp {
    let now = lava_proto::time::UtcTime::now();
    now.unix_seconds() * 1_000_000 + i64::from(now.subsec_micros())
}

/// A worker machine that runs jobs for its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The hostname, also the worker's identity on the control channel.
    pub hostname: String,
    /// Free text.
    pub description: String,
    /// Online or Offline (the master's view).
    pub state: WorkerState,
    /// Active, Maintenance or Retired (the admins' decision).
    pub health: WorkerHealth,
    /// When the master last heard from it.
    pub last_ping: Option<Timestamp>,
    /// Most devices that may be busy at once (0 = no limit).
    pub job_limit: i64,
}

/// A kind of board, with its health-check policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceType {
    /// The name (also the template name without `.jinja2`).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Other names a job's `device_type` may use.
    pub aliases: Vec<String>,
    /// N in "every N hours" or "every N jobs".
    pub health_frequency: i64,
    /// Hours or jobs.
    pub health_denominator: HealthDenominator,
    /// When true, devices of this type never get health checks.
    pub health_check_disabled: bool,
    /// The health-check job definition, when one is set.
    pub health_check: Option<String>,
}

/// One board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The hostname (unique name of the board).
    pub hostname: String,
    /// Its device type.
    pub device_type: String,
    /// The worker it is attached to (none: never scheduled).
    pub worker: Option<String>,
    /// Free text.
    pub description: String,
    /// Idle, Reserved or Running.
    pub state: DeviceState,
    /// Good, Unknown, Looping, Bad, Maintenance or Retired.
    pub health: DeviceHealth,
    /// Capabilities that jobs may ask for (sorted).
    pub tags: Vec<String>,
    /// The device dictionary (Jinja2 text), stored in the database.
    pub dictionary: Option<String>,
    /// The job holding the device, if any.
    pub current_job: Option<i64>,
    /// The last finished health check on the device.
    pub last_health_report_job: Option<i64>,
}

/// A device capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The name.
    pub name: String,
    /// Free text.
    pub description: String,
}

/// How people name a job: its id (`12`) or, for a multinode sub-job, its
/// sub_id (`12.1`), as LAVA's `get_by_job_number` (docs/multinode.md §5).
///
/// ```
/// use lava_scheduler::model::JobNumber;
///
/// assert_eq!("12".parse(), Ok(JobNumber::Id(12)));
/// assert_eq!(" 12.1 ".parse(), Ok(JobNumber::SubId("12.1".into())));
/// assert!("12.".parse::<JobNumber>().is_err());
/// assert!("-3".parse::<JobNumber>().is_err());
/// assert_eq!(JobNumber::SubId("12.1".into()).to_string(), "12.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobNumber {
    /// A job id.
    Id(i64),
    /// A multinode sub_id, `<first id>.<index>`.
    SubId(String),
}

/// Text that is neither a job id nor a sub_id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a job id (N) or a multinode sub_id (N.M)")]
pub struct BadJobNumber(pub String);

impl std::str::FromStr for JobNumber {
    type Err = BadJobNumber;

    fn from_str(text: &str) -> Result<JobNumber, BadJobNumber> {
        let t = text.trim();
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        match t.split_once('.') {
            None if digits(t) => t
                .parse()
                .map(JobNumber::Id)
                .map_err(|_| BadJobNumber(text.to_string())),
            Some((id, index)) if digits(id) && digits(index) => Ok(JobNumber::SubId(t.to_string())),
            _ => Err(BadJobNumber(text.to_string())),
        }
    }
}

impl fmt::Display for JobNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobNumber::Id(id) => write!(f, "{id}"),
            JobNumber::SubId(sub_id) => f.write_str(sub_id),
        }
    }
}

/// A test job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The id.
    pub id: i64,
    /// Who submitted it.
    pub submitter: String,
    /// The job's `job_name`.
    pub description: String,
    /// The definition as the dispatcher receives it.
    pub definition: String,
    /// Exactly what was submitted.
    pub original_definition: String,
    /// The device type asked for (none for multinode connection roles).
    pub requested_device_type: Option<String>,
    /// The device it was given.
    pub actual_device: Option<String>,
    /// Where it is in its life.
    pub state: JobState,
    /// How it ended.
    pub health: JobHealth,
    /// 0 (low) to 100 (high).
    pub priority: i64,
    /// Made by the health-check scheduler.
    pub health_check: bool,
    /// Tags the device must all have.
    pub tags: Vec<String>,
    /// Multinode group id.
    pub target_group: Option<String>,
    /// Multinode: this role is essential (its failure cancels the group).
    pub essential: bool,
    /// Multinode sub-job id (`<first id>.<n>`).
    pub sub_id: String,
    /// When it was submitted.
    pub submit_time: Timestamp,
    /// When it started running.
    pub start_time: Option<Timestamp>,
    /// When it finished.
    pub end_time: Option<Timestamp>,
    /// Error text collected while it ran or ended.
    pub failure_comment: Option<String>,
    /// Ended with an infrastructure error.
    pub infrastructure_error: bool,
    /// Multinode: the whole submission, as submitted (empty otherwise).
    pub multinode_definition: String,
    /// Who may see it.
    pub visibility: JobVisibility,
    /// With [`JobVisibility::Group`]: the groups whose members may see it
    /// (members of all of them), sorted.
    pub viewing_groups: Vec<String>,
}

impl Job {
    /// What to submit again to resubmit this job: the whole multinode
    /// submission for a sub-job, else what was submitted.
    pub fn submission(&self) -> &str {
        if self.multinode_definition.is_empty() {
            &self.original_definition
        } else {
            &self.multinode_definition
        }
    }

    /// Whether `viewer` may see this job (lists, details, logs, results).
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        match viewer {
            Viewer::Anonymous => self.visibility == JobVisibility::Public,
            Viewer::User {
                name,
                superuser,
                groups,
            } => {
                *superuser
                    || self.submitter == *name
                    || match self.visibility {
                        JobVisibility::Public => true,
                        JobVisibility::Personal => false,
                        JobVisibility::Group => {
                            self.viewing_groups.iter().all(|g| groups.contains(g))
                        }
                    }
            }
        }
    }
}

/// Who is looking: what the visibility rules are applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// No credentials: public jobs only.
    Anonymous,
    /// An authenticated, active user.
    User {
        /// The username.
        name: String,
        /// Administrators see every job.
        superuser: bool,
        /// The groups the user belongs to.
        groups: Vec<String>,
    },
}

impl Viewer {
    /// The username, or `None` for anonymous viewers.
    pub fn name(&self) -> Option<&str> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User { name, .. } => Some(name),
        }
    }

    /// Whether this viewer is an administrator.
    pub fn is_superuser(&self) -> bool {
        matches!(
            self,
            Viewer::User {
                superuser: true,
                ..
            }
        )
    }
}

/// A person or CI system with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name.
    pub username: String,
    /// Where notifications go.
    pub email: String,
    /// The password's PHC string (never the password); none: token-only.
    pub password_hash: Option<String>,
    /// Administrators may change devices, workers and device types, and
    /// see and cancel every job.
    pub is_superuser: bool,
    /// Inactive users cannot log in or use their tokens.
    pub is_active: bool,
    /// When the account was made.
    pub date_joined: Timestamp,
    /// The groups the user belongs to, sorted.
    pub groups: Vec<String>,
}

impl User {
    /// The viewer this user is.
    pub fn viewer(&self) -> Viewer {
        Viewer::User {
            name: self.username.clone(),
            superuser: self.is_superuser,
            groups: self.groups.clone(),
        }
    }
}

/// A group of users, for group-visible jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The id (REST gives group ids).
    pub id: i64,
    /// The name.
    pub name: String,
}

/// An API token (the secret itself is never stored, only its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The id (to revoke it).
    pub id: i64,
    /// Its owner.
    pub username: String,
    /// What it is for.
    pub description: String,
    /// When it was made.
    pub created: Timestamp,
    /// When it was last used, if ever.
    pub last_used: Option<Timestamp>,
}

/// A device-health or worker-health change, with who made it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When.
    pub at: Timestamp,
    /// What kind of object (`device`, `worker`).
    pub object_kind: String,
    /// The object's name.
    pub object: String,
    /// The old value's label.
    pub old: String,
    /// The new value's label.
    pub new: String,
    /// Who (a user, `lava-health`, `lava-master`).
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// One stored test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The id.
    pub id: i64,
    /// The job.
    pub job: i64,
    /// The suite name.
    pub suite: String,
    /// The set name, if any.
    pub set: Option<String>,
    /// The case name.
    pub name: String,
    /// The result.
    pub result: TestResultCode,
    /// Measurement as decimal text.
    pub measurement: Option<String>,
    /// Units of the measurement.
    pub units: String,
    /// YAML text of the whole result record.
    pub metadata: Option<String>,
    /// First log line of the case, from markers.
    pub start_log_line: Option<i64>,
    /// Last log line of the case, from markers.
    pub end_log_line: Option<i64>,
    /// When it was stored.
    pub logged: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_are_lavas() {
        let job_states: Vec<_> = JobState::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect();
        assert_eq!(
            job_states,
            [
                (0, "Submitted"),
                (1, "Scheduling"),
                (2, "Scheduled"),
                (3, "Running"),
                (4, "Canceling"),
                (5, "Finished")
            ]
        );
        let healths: Vec<_> = DeviceHealth::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect();
        assert_eq!(
            healths,
            [
                (0, "Good"),
                (1, "Unknown"),
                (2, "Looping"),
                (3, "Bad"),
                (4, "Maintenance"),
                (5, "Retired")
            ]
        );
        assert_eq!(WorkerHealth::parse("RETIRED"), Some(WorkerHealth::Retired));
        assert_eq!(WorkerHealth::parse("gone"), None);
        assert_eq!(
            DeviceHealth::labels(),
            "GOOD, UNKNOWN, LOOPING, BAD, MAINTENANCE, RETIRED"
        );
        assert_eq!(TestResultCode::from_code(3), Some(TestResultCode::Unknown));
        assert_eq!(
            HealthDenominator::parse("Jobs"),
            Some(HealthDenominator::Jobs)
        );
    }
}
