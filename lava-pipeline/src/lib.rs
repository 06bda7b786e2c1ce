//! An embeddable LAVA dispatcher: turns a job definition and a device
//! configuration into a pipeline of deploy, boot and test actions and runs
//! it against a device, streaming structured logs and results.
//!
//! Today it holds [`slave`], the worker daemon (lava-slave) that connects to
//! the master and runs each job in a `lava-run` process; the pipeline
//! itself is being written, and `lava-run` (in `lava-bins`) will be its thin
//! binary. Log records use lava-proto's line format:
//!
//! ```
//! use lava_proto::log::{LogLevel, LogRecord};
//! let line = LogRecord::new(LogLevel::Info, "start: 1 deployimages").to_line();
//! assert!(line.contains(r#""lvl": "info""#));
//! ```

#![warn(missing_docs)]

pub mod slave;
