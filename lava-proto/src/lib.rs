//! The shared vocabulary of LAVA in Rust: what the master, the workers and
//! lava-run say to each other, byte-compatible with LAVA 2020.01.
//!
//! Every other crate of the workspace depends on this one and on nothing
//! else of the workspace. It holds:
//!
//! - [`control`]: the control-channel messages (HELLO ... END_OK) with
//!   `encode()` / `decode()` and LAVA's exact frame counts;
//! - [`log`]: log messages, log records in lava-run's line format, test
//!   results and markers;
//! - [`yaml`]: a YAML loader with PyYAML's semantics (YAML 1.1 scalars,
//!   merge keys, last duplicate wins, bounded against hostile input) and the
//!   emitter of log lines;
//! - [`cert`]: CURVE certificates in pyzmq's `zmq.auth` file format;
//! - [`auth`]: the ZAP handler that admits CURVE clients by public key;
//! - [`socket`]: ZeroMQ sockets set up as LAVA sets them up, optionally with
//!   CURVE, and framing helpers;
//! - [`coordinator`]: the MultiNode coordinator's wire vocabulary (Python
//!   JSON, hex-length frames, member tokens, the worker's conf file);
//! - [`xz`]: the compression of END's description; [`time`]: timestamps.
//!
//! Decoding never panics: malformed frames are a [`ProtoError`] that names
//! the command, the frame and the reason.
//!
//! ```
//! use lava_proto::control::{JobEnd, Message};
//!
//! // A worker reports the end of job 42 with its description.yaml.
//! let end = Message::End(JobEnd::new(42, "", Some(b"job: {result: pass}\n")));
//! let frames = end.encode();
//! assert_eq!(frames.len(), 4);
//! let Message::End(decoded) = Message::decode(&frames).unwrap() else { unreachable!() };
//! assert_eq!(decoded.description().unwrap().unwrap(), b"job: {result: pass}\n");
//! ```

#![warn(missing_docs)]

#[cfg(feature = "zmq")]
pub mod auth;
#[cfg(feature = "zmq")]
pub mod cert;
pub mod control;
pub mod coordinator;
mod error;
#[cfg(feature = "zmq")]
mod ffi;
pub mod job;
pub mod log;
#[cfg(feature = "zmq")]
pub mod socket;
pub mod time;
pub mod xz;
pub mod yaml;

pub use control::{JobId, Message};
pub use error::ProtoError;
