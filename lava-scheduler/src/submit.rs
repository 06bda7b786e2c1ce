//! Submitting a job: validation as LAVA 2020.01 does it before a job is
//! queued (docs/scheduler.md §4.2–4.3), then one row in the store.
//!
//! A submission is refused, with a reason a person can act on, when:
//! - the definition is not valid ([`lava_proto::job::validate`]; the first
//!   error names the path);
//! - its device type (or alias) does not exist;
//! - the type has no device that is not Retired;
//! - one of its tags does not exist, or no non-retired device of the type
//!   has all of them.
//!
//! - with [`submit_with`] and the [`Dispatchers`] of the lab: one of its
//!   deploy, boot or test blocks uses a method none of them implements (a
//!   job that would wait for a device, then fail on it).
//!
//! A multinode submission is split into its group ([`crate::multinode`],
//! docs/multinode.md): each role's device type must exist with at least
//! `count` non-retired devices carrying the role's tags; the sub-jobs are
//! created in one transaction and [`submit_jobs`] returns them all.
//!
//! ```
//! use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker, SqlStore};
//! use lava_scheduler::submit::{submit, SubmitError};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqlStore::open_url(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
//! store.add_worker(&NewWorker::new("worker1"), "admin").unwrap();
//! store.add_device_type(&NewDeviceType::new("qemu")).unwrap();
//! store.add_device(&NewDevice::new("qemu-01", "qemu", "worker1"), "admin").unwrap();
//!
//! let job = "job_name: smoke\ndevice_type: qemu\nvisibility: public\n\
//!            timeouts: {job: {minutes: 10}}\nactions: []\n";
//! let id = submit(&store, job, "alice").unwrap();
//! assert_eq!(store.job(id).unwrap().description, "smoke");
//!
//! let err = submit(&store, &job.replace("qemu", "bbb"), "alice").unwrap_err();
//! assert_eq!(err.to_string(), "Device type 'bbb' is unavailable: it does not exist");
//! ```

use lava_proto::job::{self, JobDefinition};

use crate::error::StoreError;
use crate::model::{DeviceHealth, JobVisibility};
use crate::multinode;
use crate::store::{DeviceFilter, NewJob, SqlStore};

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The definition is not valid.
    #[error("invalid job definition: {0}")]
    Invalid(String),
    /// No device can ever run it.
    #[error("{0}")]
    Unavailable(String),
    /// Not supported by this version.
    #[error("{0}")]
    Unsupported(String),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The methods the lab's dispatchers implement: a job whose blocks need
/// another is refused at submission (the binaries fill this from
/// `lava_pipeline::Registry::supported`; docs/scheduler.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatchers {
    /// `to:` values of deploy blocks.
    pub deploy: Vec<String>,
    /// `method:` values of boot blocks.
    pub boot: Vec<String>,
    /// Test block kinds (`definitions`, `interactive`, `monitors`).
    pub test: Vec<String>,
}

impl Dispatchers {
    /// The first block of `definition` whose method is not implemented,
    /// as the refusal a submitter sees.
    pub fn check(&self, definition: &JobDefinition) -> Result<(), SubmitError> {
        let refuse = |index: usize, section: &str, what: &str, given: &str, known: &[String]| {
            Err(SubmitError::Unsupported(format!(
                "actions[{index}].{section}: {what} '{given}' is not implemented by this lab's dispatchers (they implement {})",
                known.join(", ")
            )))
        };
        for (index, action) in definition.actions.iter().enumerate() {
            match action {
                job::Action::Deploy(d) if !self.deploy.iter().any(|m| m == d.to.as_str()) => {
                    return refuse(index, "deploy", "deploy to", d.to.as_str(), &self.deploy)
                }
                job::Action::Boot(b) if !self.boot.iter().any(|m| m == b.method.as_str()) => {
                    return refuse(index, "boot", "boot method", b.method.as_str(), &self.boot)
                }
                job::Action::Test(t) => {
                    let kind = match t.kind {
                        job::TestKind::Definitions(_) => "definitions",
                        job::TestKind::Interactive(_) => "interactive",
                        job::TestKind::Monitors(_) => "monitors",
                    };
                    if !self.test.iter().any(|k| k == kind) {
                        return refuse(index, "test", "test kind", kind, &self.test);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// How a submission is checked beyond LAVA's own validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Refuse jobs whose methods these dispatchers do not implement
    /// (`None`: the lab's workers may run other dispatchers, such as
    /// LAVA's own, so every method LAVA knows is accepted).
    pub dispatchers: Option<Dispatchers>,
}

/// What a submission created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// One job.
    Job(i64),
    /// A multinode group (docs/multinode.md): its id and its sub-jobs, as
    /// `(TestJob id, sub_id "<first id>.<k>")` in `k` order.
    Group {
        /// The group's `target_group`.
        target_group: String,
        /// The sub-jobs.
        jobs: Vec<(i64, String)>,
    },
}

impl Submitted {
    /// The job ids, in order.
    pub fn ids(&self) -> Vec<i64> {
        match self {
            Submitted::Job(id) => vec![*id],
            Submitted::Group { jobs, .. } => jobs.iter().map(|(id, _)| *id).collect(),
        }
    }

    /// The first job's id.
    pub fn first(&self) -> i64 {
        match self {
            Submitted::Job(id) => *id,
            Submitted::Group { jobs, .. } => jobs.first().map(|(id, _)| *id).unwrap_or_default(),
        }
    }

    /// The ids as LAVA shows them: `"12"` for a job, the sub_ids
    /// (`"12.0"`, `"12.1"`, ...) for a group.
    pub fn display_ids(&self) -> Vec<String> {
        match self {
            Submitted::Job(id) => vec![id.to_string()],
            Submitted::Group { jobs, .. } => jobs.iter().map(|(_, sub)| sub.clone()).collect(),
        }
    }
}

/// Validate and store a job; returns its id (for a multinode submission,
/// the first sub-job's: [`submit_jobs`] returns them all).
pub fn submit(store: &SqlStore, text: &str, submitter: &str) -> Result<i64, SubmitError> {
    submit_with(store, text, submitter, &SubmitOptions::default())
}

/// [`submit`], with the lab's [`SubmitOptions`].
pub fn submit_with(
    store: &SqlStore,
    text: &str,
    submitter: &str,
    options: &SubmitOptions,
) -> Result<i64, SubmitError> {
    submit_jobs(store, text, submitter, options).map(|s| s.first())
}

/// The device type a job (or a role) asks for, resolved (alias first), with
/// at least `count` non-retired devices, `count` of which have all `tags`.
/// Returns the type's name.
fn check_devices(
    store: &SqlStore,
    requested: &str,
    tags: &[String],
    count: usize,
) -> Result<String, SubmitError> {
    let device_type = match store.resolve_device_type(requested) {
        Ok(t) => t,
        Err(StoreError::NotFound { .. }) => {
            return Err(SubmitError::Unavailable(format!(
                "Device type '{requested}' is unavailable: it does not exist"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let filter = DeviceFilter {
        device_type: Some(device_type.name.clone()),
        ..Default::default()
    };
    let devices: Vec<_> = store
        .devices(&filter)?
        .into_iter()
        .filter(|d| d.health != DeviceHealth::Retired)
        .collect();
    if devices.is_empty() {
        return Err(SubmitError::Unavailable(format!(
            "No devices of type {} are available (none, or all retired)",
            device_type.name
        )));
    }
    if devices.len() < count {
        return Err(SubmitError::Unavailable(format!(
            "Not enough devices of type {}: {count} needed, {} not retired",
            device_type.name,
            devices.len()
        )));
    }
    let known: Vec<String> = store.tags()?.into_iter().map(|t| t.name).collect();
    if let Some(missing) = tags.iter().find(|t| !known.contains(t)) {
        return Err(SubmitError::Unavailable(format!(
            "Device tag '{missing}' does not exist"
        )));
    }
    let tagged = devices
        .iter()
        .filter(|d| tags.iter().all(|t| d.tags.contains(t)))
        .count();
    if tagged == 0 {
        return Err(SubmitError::Unavailable(format!(
            "No device of type {} has all the tags {}",
            device_type.name,
            tags.join(", ")
        )));
    }
    if tagged < count {
        return Err(SubmitError::Unavailable(format!(
            "Not enough devices of type {} with all the tags {}: {count} needed, {tagged} found",
            device_type.name,
            tags.join(", ")
        )));
    }
    Ok(device_type.name)
}

/// Whether the group's roles, together, can ever be placed
/// (docs/multinode.md §1): each role alone was checked by
/// [`check_devices`], but roles of one device type share its devices. For
/// every device type and every tag set `T` asked by its roles (and the
/// empty set), the roles whose tags include `T` need at least as many
/// non-retired devices having all of `T` as their counts add up to. This is
/// necessary, not sufficient, when roles ask for different, overlapping tag
/// sets; such a group may wait in the queue.
fn check_group_devices(
    store: &SqlStore,
    split: &multinode::Split,
    resolved: &[(String, Option<String>)],
) -> Result<(), SubmitError> {
    // (device type, sorted tags, role, count) per role with a device
    let mut roles: Vec<(&str, Vec<&str>, &str, usize)> = Vec::new();
    for (role, device_type) in resolved {
        let Some(device_type) = device_type else {
            continue;
        };
        let jobs: Vec<_> = split.jobs.iter().filter(|j| &j.role == role).collect();
        let mut tags: Vec<&str> = jobs
            .first()
            .map(|j| j.tags.iter().map(String::as_str).collect())
            .unwrap_or_default();
        tags.sort_unstable();
        tags.dedup();
        roles.push((device_type, tags, role, jobs.len()));
    }
    let mut types: Vec<&str> = roles.iter().map(|r| r.0).collect();
    types.sort_unstable();
    types.dedup();
    for device_type in types {
        let of_type: Vec<_> = roles.iter().filter(|r| r.0 == device_type).collect();
        if of_type.len() < 2 {
            continue;
        }
        let devices: Vec<_> = store
            .devices(&DeviceFilter {
                device_type: Some(device_type.to_string()),
                ..Default::default()
            })?
            .into_iter()
            .filter(|d| d.health != DeviceHealth::Retired)
            .collect();
        let mut sets: Vec<&[&str]> = vec![&[]];
        sets.extend(of_type.iter().map(|r| r.1.as_slice()));
        sets.sort_unstable();
        sets.dedup();
        for set in sets {
            let asking: Vec<_> = of_type
                .iter()
                .filter(|r| set.iter().all(|t| r.1.contains(t)))
                .collect();
            let needed: usize = asking.iter().map(|r| r.3).sum();
            let have = devices
                .iter()
                .filter(|d| set.iter().all(|t| d.tags.iter().any(|dt| dt == t)))
                .count();
            if needed > have {
                let counts: Vec<String> = asking
                    .iter()
                    .map(|r| format!("{} ({})", r.2, r.3))
                    .collect();
                let which = if set.is_empty() {
                    device_type.to_string()
                } else {
                    format!("{device_type} with all the tags {}", set.join(", "))
                };
                return Err(SubmitError::Unavailable(format!(
                    "Not enough devices of type {which} for the group: roles {} need {needed} together, {have} not retired",
                    counts.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Validate and store a job, or the group of a multinode submission (split
/// as docs/multinode.md says, every sub-job created in one transaction).
pub fn submit_jobs(
    store: &SqlStore,
    text: &str,
    submitter: &str,
    options: &SubmitOptions,
) -> Result<Submitted, SubmitError> {
    let (definition, _warnings) = JobDefinition::from_yaml(text).map_err(|e| match e {
        job::JobError::Invalid(report) => SubmitError::Invalid(
            report
                .first_error()
                .map(|issue| issue.to_string())
                .unwrap_or_else(|| "invalid".into()),
        ),
        other => SubmitError::Invalid(other.to_string()),
    })?;
    let (visibility, viewing_groups) = match &definition.visibility {
        job::Visibility::Public => (JobVisibility::Public, Vec::new()),
        job::Visibility::Personal => (JobVisibility::Personal, Vec::new()),
        job::Visibility::Group(groups) => (JobVisibility::Group, groups.clone()),
    };
    if definition.protocols.multinode.is_some() {
        return submit_group(
            store,
            text,
            submitter,
            options,
            &definition,
            visibility,
            viewing_groups,
        );
    }
    if let Some(dispatchers) = &options.dispatchers {
        dispatchers.check(&definition)?;
    }
    let requested = definition
        .device_type
        .clone()
        .ok_or_else(|| SubmitError::Invalid("device_type: required".into()))?;
    let device_type = check_devices(store, &requested, &definition.tags, 1)?;
    let id = store.insert_job(&NewJob {
        submitter: submitter.to_string(),
        description: definition.job_name.clone(),
        definition: text.to_string(),
        original_definition: text.to_string(),
        requested_device_type: Some(device_type),
        priority: i64::from(definition.priority.value()),
        tags: definition.tags.clone(),
        visibility,
        viewing_groups,
        notify: definition.notify.is_some(),
        ..Default::default()
    })?;
    Ok(Submitted::Job(id))
}

/// The multinode half of [`submit_jobs`].
fn submit_group(
    store: &SqlStore,
    text: &str,
    submitter: &str,
    options: &SubmitOptions,
    definition: &JobDefinition,
    visibility: JobVisibility,
    viewing_groups: Vec<String>,
) -> Result<Submitted, SubmitError> {
    let target_group = multinode::new_target_group()
        .map_err(|e| SubmitError::Unsupported(format!("no random group id: {e}")))?;
    let value = lava_proto::yaml::load(text).map_err(|e| SubmitError::Invalid(e.to_string()))?;
    let split =
        multinode::split(&value, &target_group).map_err(|e| SubmitError::Invalid(e.to_string()))?;
    // Device types and tags, role by role (a role's count against its type).
    let mut resolved: Vec<(String, Option<String>)> = Vec::new();
    for job in &split.jobs {
        if resolved.iter().any(|(role, _)| role == &job.role) {
            continue;
        }
        let device_type = match &job.device_type {
            Some(requested) => {
                let count = split.jobs.iter().filter(|j| j.role == job.role).count();
                Some(check_devices(store, requested, &job.tags, count)?)
            }
            None => None,
        };
        resolved.push((job.role.clone(), device_type));
    }
    check_group_devices(store, &split, &resolved)?;
    let mut rows = Vec::with_capacity(split.jobs.len());
    for job in &split.jobs {
        if let Some(dispatchers) = &options.dispatchers {
            let parsed = JobDefinition::parse(&job.text)
                .map_err(|e| SubmitError::Invalid(format!("role {}: {e}", job.role)))?;
            dispatchers.check(&parsed).map_err(|e| match e {
                SubmitError::Unsupported(why) => {
                    SubmitError::Unsupported(format!("role {}: {why}", job.role))
                }
                other => other,
            })?;
        }
        let device_type = resolved
            .iter()
            .find(|(role, _)| role == &job.role)
            .and_then(|(_, t)| t.clone());
        rows.push(NewJob {
            submitter: submitter.to_string(),
            description: definition.job_name.clone(),
            definition: job.text.clone(),
            original_definition: job.text.clone(),
            multinode_definition: text.to_string(),
            requested_device_type: device_type,
            priority: i64::from(definition.priority.value()),
            tags: job.tags.clone(),
            target_group: Some(target_group.clone()),
            essential: job.essential,
            visibility,
            viewing_groups: viewing_groups.clone(),
            notify: definition.notify.is_some(),
            ..Default::default()
        });
    }
    let jobs = store.insert_group(&rows)?;
    Ok(Submitted::Group { target_group, jobs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatchers() -> Dispatchers {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Dispatchers {
            deploy: list(&["download", "overlay", "ssh", "tftp", "tmpfs"]),
            boot: list(&["grub", "ipxe", "qemu", "ssh", "u-boot"]),
            test: list(&["definitions", "interactive"]),
        }
    }

    fn job(actions: &str) -> JobDefinition {
        let text = format!(
            "job_name: x\ndevice_type: x86\nvisibility: public\ntimeouts: {{job: {{minutes: 5}}}}\nactions:\n{actions}"
        );
        JobDefinition::from_yaml(&text).unwrap().0
    }

    #[test]
    fn a_method_no_dispatcher_implements_is_named_with_the_implemented_ones() {
        let ok = job("- deploy: {to: tftp, kernel: {url: 'http://x/k'}}\n- boot: {method: ipxe, commands: ramdisk}\n");
        assert!(dispatchers().check(&ok).is_ok());
        let fastboot =
            job("- deploy: {to: tftp, kernel: {url: 'http://x/k'}}\n- boot: {method: fastboot}\n");
        assert_eq!(
            dispatchers().check(&fastboot).unwrap_err().to_string(),
            "actions[1].boot: boot method 'fastboot' is not implemented by this lab's dispatchers (they implement grub, ipxe, qemu, ssh, u-boot)"
        );
        let monitors = job("- test: {monitors: [{name: m, start: a, end: b, pattern: c}]}\n");
        assert_eq!(
            dispatchers().check(&monitors).unwrap_err().to_string(),
            "actions[0].test: test kind 'monitors' is not implemented by this lab's dispatchers (they implement definitions, interactive)"
        );
        let docker = job("- deploy: {to: docker, image: debian}\n");
        assert!(dispatchers()
            .check(&docker)
            .unwrap_err()
            .to_string()
            .starts_with("actions[0].deploy: deploy to 'docker' is not implemented"));
    }
}
