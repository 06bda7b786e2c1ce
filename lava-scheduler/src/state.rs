//! The state machines as pure functions: which transitions exist, and the
//! cascades between workers, devices and jobs (docs/scheduler.md §2). The store
//! applies them inside guarded transactions; keeping the rules here makes
//! them testable one by one.
//!
//! ```
//! use lava_scheduler::model::{DeviceHealth, WorkerHealth};
//! use lava_scheduler::state::worker_health_cascade;
//!
//! // A worker going to Maintenance takes its good devices with it...
//! assert_eq!(
//!     worker_health_cascade(WorkerHealth::Active, WorkerHealth::Maintenance, DeviceHealth::Good),
//!     Some(DeviceHealth::Maintenance)
//! );
//! // ...but a Bad device stays Bad.
//! assert_eq!(worker_health_cascade(WorkerHealth::Active, WorkerHealth::Maintenance, DeviceHealth::Bad), None);
//! ```

use crate::model::{DeviceHealth, JobHealth, JobState, WorkerHealth};

/// Whether a job may move from `from` to `to` (§2.6). States only move
/// forward; Finished is terminal.
pub fn job_transition_allowed(from: JobState, to: JobState) -> bool {
    use JobState::*;
    matches!(
        (from, to),
        (Submitted, Scheduling)
            | (Submitted, Scheduled)
            | (Scheduling, Scheduled)
            | (Scheduled, Running)
            | (Submitted, Finished)
            | (Scheduling, Canceling)
            | (Scheduled, Canceling)
            | (Running, Canceling)
            | (Scheduling, Finished)
            | (Scheduled, Finished)
            | (Running, Finished)
            | (Canceling, Finished)
    )
}

/// The health a job gets when it finishes: a job that was Canceling always
/// ends Canceled (§2.7).
pub fn finished_health(state_before: JobState, requested: JobHealth) -> JobHealth {
    if state_before == JobState::Canceling {
        JobHealth::Canceled
    } else {
        requested
    }
}

/// What happens to a device when its worker's health changes from `prev`
/// to `new` (§2.2). `None` means the device keeps its health.
pub fn worker_health_cascade(
    prev: WorkerHealth,
    new: WorkerHealth,
    device: DeviceHealth,
) -> Option<DeviceHealth> {
    use DeviceHealth as D;
    if prev == new {
        return None;
    }
    match new {
        WorkerHealth::Maintenance => {
            matches!(device, D::Good | D::Unknown | D::Looping).then_some(D::Maintenance)
        }
        WorkerHealth::Retired => (!matches!(device, D::Bad | D::Retired)).then_some(D::Retired),
        WorkerHealth::Active => {
            (prev != WorkerHealth::Retired && device == D::Maintenance).then_some(D::Unknown)
        }
    }
}

/// The device health after a health check on it finished with `job` (§2.4).
/// `None` means unchanged (Looping stays Looping; Maintenance and Retired
/// are the admins').
pub fn health_check_outcome(device: DeviceHealth, job: JobHealth) -> Option<DeviceHealth> {
    use DeviceHealth as D;
    if !matches!(device, D::Good | D::Unknown | D::Bad) {
        return None;
    }
    let new = match job {
        JobHealth::Complete => D::Good,
        JobHealth::Incomplete | JobHealth::Canceled => D::Bad,
        JobHealth::Unknown => return None,
    };
    (new != device).then_some(new)
}

/// The device health after an ordinary job ended with an infrastructure
/// error: Unknown, so that a health check runs — but only from Good or
/// Unknown. (LAVA 2020.01 also did it from Maintenance and Retired, putting
/// devices an admin had taken out back into service; docs/scheduler.md §8.4.5.)
pub fn infrastructure_error_outcome(device: DeviceHealth) -> Option<DeviceHealth> {
    (device == DeviceHealth::Good).then_some(DeviceHealth::Unknown)
}

/// Device healths that ordinary jobs may be scheduled on.
pub const SCHEDULABLE_FOR_JOBS: [DeviceHealth; 2] = [DeviceHealth::Good, DeviceHealth::Unknown];

/// Device healths that health checks may be scheduled on.
pub const SCHEDULABLE_FOR_HEALTH_CHECKS: [DeviceHealth; 3] = [
    DeviceHealth::Good,
    DeviceHealth::Unknown,
    DeviceHealth::Looping,
];

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceHealth as D;

    #[test]
    fn job_states_only_move_forward() {
        for &from in JobState::ALL {
            for &to in JobState::ALL {
                if job_transition_allowed(from, to) {
                    assert!(to > from, "{from} -> {to}");
                }
            }
            assert!(!job_transition_allowed(JobState::Finished, from));
        }
        assert!(!job_transition_allowed(
            JobState::Submitted,
            JobState::Running
        ));
        assert!(!job_transition_allowed(
            JobState::Submitted,
            JobState::Canceling
        ));
        assert!(!job_transition_allowed(
            JobState::Canceling,
            JobState::Running
        ));
    }

    #[test]
    fn canceling_jobs_end_canceled() {
        assert_eq!(
            finished_health(JobState::Canceling, JobHealth::Complete),
            JobHealth::Canceled
        );
        assert_eq!(
            finished_health(JobState::Running, JobHealth::Complete),
            JobHealth::Complete
        );
    }

    #[test]
    fn worker_cascade_table() {
        use WorkerHealth::*;
        let all = D::ALL;
        let after = |prev, new| -> Vec<D> {
            all.iter()
                .map(|&d| worker_health_cascade(prev, new, d).unwrap_or(d))
                .collect()
        };
        // Columns: Good, Unknown, Looping, Bad, Maintenance, Retired.
        assert_eq!(
            after(Active, Maintenance),
            [
                D::Maintenance,
                D::Maintenance,
                D::Maintenance,
                D::Bad,
                D::Maintenance,
                D::Retired
            ]
        );
        assert_eq!(
            after(Active, Retired),
            [
                D::Retired,
                D::Retired,
                D::Retired,
                D::Bad,
                D::Retired,
                D::Retired
            ]
        );
        assert_eq!(
            after(Maintenance, Active),
            [
                D::Good,
                D::Unknown,
                D::Looping,
                D::Bad,
                D::Unknown,
                D::Retired
            ]
        );
        assert_eq!(after(Retired, Active), all.to_vec());
        assert_eq!(after(Maintenance, Maintenance), all.to_vec());
    }

    #[test]
    fn health_check_results() {
        assert_eq!(
            health_check_outcome(D::Unknown, JobHealth::Complete),
            Some(D::Good)
        );
        assert_eq!(
            health_check_outcome(D::Bad, JobHealth::Complete),
            Some(D::Good)
        );
        assert_eq!(
            health_check_outcome(D::Good, JobHealth::Incomplete),
            Some(D::Bad)
        );
        assert_eq!(
            health_check_outcome(D::Good, JobHealth::Canceled),
            Some(D::Bad)
        );
        assert_eq!(health_check_outcome(D::Good, JobHealth::Complete), None);
        assert_eq!(
            health_check_outcome(D::Looping, JobHealth::Incomplete),
            None
        );
        assert_eq!(
            health_check_outcome(D::Maintenance, JobHealth::Complete),
            None
        );
        assert_eq!(
            health_check_outcome(D::Retired, JobHealth::Incomplete),
            None
        );
    }

    #[test]
    fn infrastructure_errors_never_revive_devices_taken_out() {
        assert_eq!(infrastructure_error_outcome(D::Good), Some(D::Unknown));
        for d in [D::Unknown, D::Looping, D::Bad, D::Maintenance, D::Retired] {
            assert_eq!(infrastructure_error_outcome(d), None, "{d}");
        }
    }
}
