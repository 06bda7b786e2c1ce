//! Errors of the store.

use std::fmt;
use std::sync::Arc;

/// Why a store operation failed. Messages are meant for an admin: they name
/// the object and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A bad database URL or option.
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached.
    #[error("cannot connect to the database: {message}")]
    Connect {
        /// What failed, with the driver's reason.
        message: String,
        /// The driver's error.
        source: Option<Cause>,
    },
    /// The database has a schema newer than this program.
    #[error("the database schema is version {found}, newer than this program knows ({known}); upgrade LAVA")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version known.
        known: i64,
    },
    /// An object does not exist.
    #[error("{kind} '{name}' does not exist")]
    NotFound {
        /// `worker`, `device`, `device type`, `tag`, `job`.
        kind: &'static str,
        /// Its name or id.
        name: String,
    },
    /// An object already exists.
    #[error("{kind} '{name}' already exists")]
    Exists {
        /// `worker`, `device`, `device type`, `tag`, `alias`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A state transition that the state machine does not allow, or whose
    /// precondition no longer holds (someone else changed the row first).
    #[error("{object}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// The object, e.g. `job 12` or `device bbb-01`.
        object: String,
        /// The current state.
        from: String,
        /// The requested state.
        to: String,
    },
    /// A request that makes no sense for the object's current situation.
    #[error("{0}")]
    Refused(String),
    /// A uniqueness constraint failed in the database.
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A reference to a missing row.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// The database was too busy (lock wait, serialization failure).
    #[error("database busy: {0}")]
    Busy(String),
    /// Any other database error.
    #[error("database error: {message}")]
    Database {
        /// What failed, with the driver's reason.
        message: String,
        /// The driver's error, when there is one.
        source: Option<Cause>,
    },
    /// Stored data that this program cannot read.
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// [`StoreError::Database`] without a driver error.
    pub fn database(message: impl Into<String>) -> Self {
        StoreError::Database {
            message: message.into(),
            source: None,
        }
    }

    /// [`StoreError::Database`] caused by `source`.
    pub(crate) fn database_caused(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Database {
            message: message.into(),
            source: Some(Cause(Arc::new(source))),
        }
    }

    /// [`StoreError::Connect`] caused by `source`.
    pub(crate) fn connect_caused(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Connect {
            message: message.into(),
            source: Some(Cause(Arc::new(source))),
        }
    }
}

/// The database driver's error behind a [`StoreError`] (reached through
/// [`std::error::Error::source`]; the driver's type is not part of this
/// API). Two causes are equal when they say the same.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Cause {}
