//! An embeddable LAVA dispatcher: turns a job definition and a device
//! configuration into a pipeline of deploy, boot and test actions and runs
//! it against a device, streaming structured logs and results.
//!
//! Synchronous and blocking (no async runtime): one job runs on the
//! calling thread; every wait polls the console, a deadline and the
//! [`CancelToken`].
//!
//! # Where to start
//!
//! - **Run a job**: [`Job::parse`] with a [`Registry`], then
//!   [`Job::validate`], [`Job::run`], [`Job::cleanup`]. [`run::lava_run`]
//!   does the whole lava-run sequence (logger, final result,
//!   `description.yaml`).
//! - **Add a deploy, boot or test method**: write an [`Action`] (what it
//!   does) and a [`Strategy`] (which job blocks it takes), and
//!   [`Registry::register`] the strategy. The guide is
//!   `docs/writing-an-action.md`; `examples/custom-strategy.rs` is a
//!   whole one, imported from this page only.
//! - **Run your strategies on a real worker**: a binary whose `main` is
//!   [`run::main_with`] over your registry is the worker's lava-run
//!   (`lava-slave --lava-run PATH`); see `examples/custom-lava-run.rs`.
//! - **Embed the worker daemon**: the [`slave`] module (feature `slave`).
//!
//! ```no_run
//! use lava_pipeline::{CancelToken, Job, JobInputs, Logger, Registry};
//!
//! let inputs = JobInputs::new("42", &std::fs::read_to_string("job.yaml")?, &std::fs::read_to_string("device.yaml")?);
//! let logger = Logger::stderr("42");
//! let cancel = CancelToken::new()?;
//! let mut job = Job::parse(&inputs, &Registry::with_builtins())?;
//! let outcome = job.validate(&logger, &cancel).and_then(|()| job.run(&logger, &cancel));
//! job.cleanup(&logger, &cancel);
//! println!("{outcome:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! The root holds what an action author uses, including the console
//! session ([`ShellSession`]). Beside it: [`connection`] (the rest of the
//! session machinery), [`host`] (commands on the worker),
//! [`run`] (lava-run as a library), [`slave`] (the worker daemon).
//! `unstable` (feature `unstable`) exposes framework internals for this
//! workspace's own tests and benchmarks; it follows no semver promise.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `zmq-logger` | yes | [`Logger::zmq`]: logs to the master over ZeroMQ (libzmq, libsodium for CURVE) |
//! | `http` | yes | `http://` and `https://` downloads in deploy actions (ureq, rustls) |
//! | `slave` | yes | the [`slave`] worker daemon (its job table is SQLite); implies `zmq-logger` |
//! | `unstable` | no | the `unstable` module |
//!
//! An action author who only runs jobs in-process can depend on
//! `lava-pipeline = { version = "0.1", default-features = false }`.

#![warn(missing_docs)]

mod action;
mod actions;
mod archive;
mod cancel;
pub mod connection;
mod context;
mod describe;
mod error;
pub mod host;
mod job;
mod logger;
mod pipeline;
mod protocols;
pub mod run;
#[cfg(feature = "slave")]
pub mod slave;
mod strategy;
mod timeout;
#[cfg(feature = "unstable")]
pub mod unstable;

pub use action::{
    About, Action, Block, CleanupContext, NodeInfo, Populate, RunContext, Section, Validate,
};
pub use cancel::CancelToken;
pub use connection::{Pattern, SessionKind, ShellSession};
pub use context::JobData;
pub use error::{Error, ErrorKind, Result};
pub use job::{scalar, Job, JobInfo, JobInputs, TestInfo};
#[cfg(feature = "zmq-logger")]
pub use logger::LoggerError;
pub use logger::{Logger, MemoryLog};
pub use strategy::{Family, Registry, Strategy, TestNeeds};
pub use timeout::{ActionTimeout, Deadline};

/// A rendered device configuration (from `lava-devices`).
pub use lava_devices::DeviceConfig;
/// A YAML value and mapping, as job blocks and results hold them (from
/// `lava-proto`).
pub use lava_proto::yaml::{Mapping, Value};
