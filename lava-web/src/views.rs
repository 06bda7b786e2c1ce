//! Formatting shared by the XML-RPC and REST answers: times, and the checks
//! every read path makes before it shows a job.

use lava_proto::time::UtcTime;
use lava_scheduler::model::{Device, Job, JobNumber, Timestamp, Viewer};
use lava_scheduler::store::JobQuery;
use lava_scheduler::submit::SubmitError;
use lava_scheduler::{SqlStore, StoreError};

use crate::auth::Caller;

fn utc(micros: Timestamp) -> UtcTime {
    UtcTime::from_unix(
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000) as u32,
    )
}

/// ISO 8601 with `Z`, as DRF writes times: `2026-12-06T20:47:58.725291Z`.
pub(crate) fn iso_z(micros: Timestamp) -> String {
    format!("{}Z", utc(micros).isoformat())
}

/// XML-RPC's `dateTime.iso8601` text: `20261206T20:47:54`.
pub(crate) fn xmlrpc_time(micros: Timestamp) -> String {
    let iso = utc(micros).isoformat();
    let (date, time) = iso.split_at(10);
    format!("{}{}", date.replace('-', ""), &time[..9])
}

/// A stable integer id for an object the store keys by name (tags, users):
/// the APIs give ids, and clients resolve them through the lists that give
/// the same id.
pub(crate) fn stable_id(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(name.as_bytes());
    i64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]) & 0x7fff_ffff)
}

/// Why a job cannot be shown.
pub(crate) enum JobRefusal {
    /// No such job, or the caller may not see it (the same answer, so that
    /// private jobs are not revealed).
    NotFound,
    /// The store failed.
    Store(StoreError),
}

/// A job the caller may see; refusals are logged.
pub(crate) fn visible_job(
    store: &SqlStore,
    caller: &Caller,
    number: &JobNumber,
    path: &str,
) -> Result<Job, JobRefusal> {
    match store.job_by_number(number) {
        Ok(job) if job.visible_to(&caller.viewer()) => Ok(job),
        Ok(_) => {
            caller.refused(path, &format!("job {number} is not visible to this user"));
            Err(JobRefusal::NotFound)
        }
        Err(StoreError::NotFound { .. }) => Err(JobRefusal::NotFound),
        Err(e) => Err(JobRefusal::Store(e)),
    }
}

/// Hide the current job of each device that `viewer` may not see (one
/// query): a device list must not name private jobs.
pub(crate) fn hide_invisible_jobs(
    store: &SqlStore,
    viewer: &Viewer,
    devices: &mut [Device],
) -> Result<(), StoreError> {
    let ids: Vec<i64> = devices.iter().filter_map(|d| d.current_job).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut query = JobQuery::new(viewer.clone(), ids.len() as i64);
    query.ids = ids;
    let visible: std::collections::HashSet<i64> = store
        .query_jobs(&query)?
        .jobs
        .iter()
        .map(|j| j.id)
        .collect();
    for device in devices {
        if device.current_job.is_some_and(|id| !visible.contains(&id)) {
            device.current_job = None;
        }
    }
    Ok(())
}

/// A refused submission: the client's fault (`Ok`, the message to answer
/// with 400, as LAVA words it) or the store's (`Err`, a 500).
pub(crate) fn submit_refusal(e: SubmitError) -> Result<String, StoreError> {
    match e {
        SubmitError::Invalid(msg) => Ok(format!("Problem with submitted job data: {msg}")),
        SubmitError::Unavailable(msg) | SubmitError::Unsupported(msg) => Ok(msg),
        SubmitError::Store(StoreError::NotFound { kind, name }) => Ok(format!(
            "Problem with submitted job data: {kind} '{name}' does not exist"
        )),
        SubmitError::Store(e) => Err(e),
    }
}

/// Whether the caller may cancel or resubmit `job`: its submitter or an
/// administrator.
pub(crate) fn may_change(caller: &Caller, job: &Job) -> bool {
    caller.is_superuser()
        || caller
            .user
            .as_ref()
            .is_some_and(|u| u.username == job.submitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_shapes() {
        let t = 1_796_590_074_725_291; // 2026-12-06T20:47:54.725291
        assert_eq!(iso_z(t), "2026-12-06T20:47:54.725291Z");
        assert_eq!(xmlrpc_time(t), "20261206T20:47:54");
        assert_eq!(iso_z(1_796_590_074_000_000), "2026-12-06T20:47:54Z");
    }
}
