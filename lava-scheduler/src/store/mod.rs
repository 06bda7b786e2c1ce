//! The store: the master's single source of truth, [`SqlStore`], over
//! PostgreSQL or SQLite (the backends differ only below
//! [`crate::db::Database`]). It is deliberately concrete: the scheduler
//! and the master run their own guarded SQL in the store's transactions,
//! so a second kind of store would be a second database dialect, not a
//! second implementation of these methods.
//!
//! By concern: `workers`, `device_types` (with aliases and tags),
//! `devices`, `jobs` (submission to deletion), `results` (test cases);
//! `rows` maps each model's row once and holds the locking reads;
//! `inputs` the argument types (new objects, updates, filters, queries).
//!
//! Every state change is one transaction that re-checks the current state
//! in its `WHERE` clause (a guarded update) and fails with
//! [`StoreError::InvalidTransition`] when the precondition no longer holds.
//! So a cancel and a scheduling pass that race can never both win, and no
//! update is lost. Rows are locked device first, then job.
//!
//! ```
//! use lava_scheduler::model::{DeviceHealth, WorkerHealth};
//! use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker, SqlStore};
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

mod device_types;
mod devices;
mod import;
mod inputs;
mod jobs;
mod maintenance;
mod results;
mod rows;
mod workers;

pub(crate) use devices::change_device_health;
pub use import::{ImportDevice, ImportHealthCheck, ImportOutcome, ImportPlan, ImportReport};
pub use inputs::*;
pub(crate) use jobs::{assign_batch, assign_in, insert_job_in, write_group_roles};
pub use maintenance::{MaintenanceReport, MAINTENANCE_REASON};

use crate::db::{Conn, Database, DatabaseUrl, Dialect};
use crate::error::StoreError;

/// The master's store, for both backends. All methods are synchronous
/// and transactional.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    #[test]
    fn a_driver_error_is_kept_as_the_source() {
        use std::error::Error as _;
        let e = SqlStore::open_url("sqlite:///proc/no-such-dir/lava.db").unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Connect {
                    source: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("cannot connect to the database: /proc/no-such-dir"),
            "{e}"
        );
        assert!(e.source().is_some());
    }

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
