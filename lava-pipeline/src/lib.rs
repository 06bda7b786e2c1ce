//! An embeddable LAVA dispatcher: turns a job definition and a device
//! configuration into a pipeline of deploy, boot and test actions and runs
//! it against a device, streaming structured logs and results.
//!
//! Synchronous and blocking (no async runtime): one job runs on the
//! calling thread; every wait polls the console, a deadline and the
//! [`cancel::CancelToken`].
//!
//! ```no_run
//! use lava_pipeline::cancel::CancelToken;
//! use lava_pipeline::job::{Job, JobInputs};
//! use lava_pipeline::logger::Logger;
//! use lava_pipeline::strategy::Registry;
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
//! The worker daemon, [`slave`], runs each job in a `lava-run` process
//! (the thin binary over [`run::lava_run`]). Log records use lava-proto's line
//! format:
//!
//! ```
//! use lava_proto::log::{LogLevel, LogRecord};
//! let line = LogRecord::new(LogLevel::Info, "start: 1 deployimages").to_line();
//! assert!(line.contains(r#""lvl": "info""#));
//! ```

#![warn(missing_docs)]

pub mod action;
pub mod actions;
pub mod archive;
pub mod cancel;
pub mod connection;
pub mod context;
pub mod describe;
pub mod error;
pub mod host;
pub mod job;
pub mod logger;
pub mod pipeline;
pub mod run;
pub mod slave;
pub mod strategy;
pub mod timeout;
