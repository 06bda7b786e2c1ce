//! The master's side of LAVA: the store (workers, device types, devices,
//! jobs, results) on PostgreSQL or embedded SQLite, the state machines of
//! devices and jobs, and the scheduler that assigns jobs to devices.
//!
//! This crate is a skeleton today; see `ARCHITECTURE.md` for what it will
//! hold. It depends on `lava-proto` (wire vocabulary) and `lava-devices`
//! (rendering device configurations for START).
//!
//! ```
//! // The master answers a worker's PING with the interval LAVA uses.
//! use lava_proto::control::{Message, PING_INTERVAL};
//! assert_eq!(Message::Pong { interval: PING_INTERVAL }.encode()[1], b"20");
//! ```

#![warn(missing_docs)]
