//! The master's side of LAVA: the store (workers, device types, devices,
//! jobs, results) on PostgreSQL or embedded SQLite, and the state machines
//! of workers, devices and jobs.
//!
//! - [`model`]: the data model, with LAVA's enums (states, healths) as Rust
//!   enums carrying LAVA's stored codes and labels;
//! - [`state`]: the transition rules and cascades as pure functions;
//! - [`scheduler`]: the scheduling pass (health checks first, priority and
//!   tags, multinode groups all-or-nothing);
//! - [`store`]: [`SqlStore`], the store over PostgreSQL or SQLite, where
//!   every transition is one guarded transaction;
//! - [`master`]: lava-master, the control loop workers connect to, with
//!   the log sink and event-driven scheduling;
//! - [`results`]: test results exported as LAVA's YAML/CSV, JUnit XML or a table;
//! - [`accounts`]: users, groups and API tokens (digests only) for the HTTP
//!   service;
//! - [`notifications`]: the queue of job-end notifications to send;
//! - [`metrics`]: the OpenMetrics exposition (`/metrics`) and the master's
//!   own measurements; [`events`]: state changes published as LAVA's
//!   `lava-publisher` does (docs/metrics.md);
//! - [`submit`]: submission (validation, device-type and tag checks);
//! - [`multinode`]: the split of a multinode submission into its group
//!   (docs/multinode.md);
//! - [`db`]: the connection pools (PostgreSQL via `postgres` + `r2d2`,
//!   SQLite via `rusqlite` + `r2d2`) and the versioned migrations.
//!
//! A store is chosen by URL: `postgresql://USER@HOST/DB` for production,
//! `sqlite://PATH` for one machine.
//!
//! ```
//! use lava_scheduler::model::{JobHealth, JobState};
//! use lava_scheduler::store::{CancelOutcome, NewDevice, NewDeviceType, NewJob, NewWorker, SqlStore};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqlStore::open_url(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
//! store.add_worker(&NewWorker::new("worker1"), "admin").unwrap();
//! store.add_device_type(&NewDeviceType::new("qemu")).unwrap();
//! store.add_device(&NewDevice::new("qemu-01", "qemu", "worker1"), "admin").unwrap();
//!
//! let job = NewJob { submitter: "alice".into(), requested_device_type: Some("qemu".into()), priority: 50, ..Default::default() };
//! let id = store.insert_job(&job).unwrap();
//! store.assign_job(id, "qemu-01").unwrap();
//! assert_eq!(store.job(id).unwrap().state, JobState::Scheduled);
//!
//! // Canceling a scheduled job leaves it to the master to stop it...
//! assert_eq!(store.cancel_job(id, "alice").unwrap(), CancelOutcome::Canceling(vec![id]));
//! // ...and whatever the worker reports, it ends Canceled.
//! let job = store.finish_job(id, JobHealth::Complete, false, None, "lava-master").unwrap();
//! assert_eq!(job.health, JobHealth::Canceled);
//! ```

#![warn(missing_docs)]

pub mod accounts;
pub mod db;
mod error;
pub mod events;
pub mod master;
pub mod metrics;
pub mod model;
pub mod multinode;
pub mod notifications;
pub mod results;
pub mod scheduler;
pub mod state;
pub mod store;
pub mod submit;

pub use error::{Cause, StoreError};
pub use store::SqlStore;
