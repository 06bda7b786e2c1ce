//! Errors of the coordinator's state machine.

/// Why a state snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The snapshot does not have the expected shape.
    #[error("invalid coordinator snapshot: {0}")]
    Snapshot(String),
    /// The snapshot's JSON does not decode into the state.
    #[error("invalid coordinator snapshot: {0}")]
    Json(#[from] serde_json::Error),
}
