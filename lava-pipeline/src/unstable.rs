//! Framework internals, for this workspace's own tests and benchmarks.
//!
//! **Not part of the stable API**: anything here may change or go in any
//! release. Enabled by the `unstable` feature.

pub use crate::cancel::wait_readable;
pub use crate::connection::expect::{Cursor, Expect};
pub use crate::job::deployment_data;
pub use crate::logger::result_map;
pub use crate::timeout::{hms, parse_timeout, TimeoutLayer, TimeoutTable, DEFAULT_TIMEOUT};

/// The built-in actions and strategies.
pub mod actions {
    pub use crate::actions::*;
}

/// Archive extraction that never escapes its directory.
pub mod archive {
    pub use crate::archive::*;
}

/// `description.yaml`'s block style.
pub mod describe {
    pub use crate::describe::*;
}

/// The tree of actions and the framework's run loop.
pub mod pipeline {
    pub use crate::pipeline::*;
}
