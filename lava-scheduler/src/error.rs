//! Errors of the store.

/// Why a store operation failed. Messages are meant for an admin: they name
/// the object and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A bad database URL or option.
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
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
    #[error("database error: {0}")]
    Database(String),
    /// Stored data that this program cannot read.
    #[error("corrupt data in the database: {0}")]
    Corrupt(String),
}
