//! Errors of the HTTP service's set-up and of account administration.
//! (Errors answered to clients are HTTP statuses and XML-RPC faults, made
//! where the request is handled.)

use lava_scheduler::StoreError;

/// Why the service could not start, or an account change failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The listening address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the HTTP service failed: {0}")]
    Serve(#[source] std::io::Error),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system's random generator failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// A request that cannot be carried out (the message says why).
    #[error("{0}")]
    Refused(String),
    /// A bad configuration value.
    #[error("{0}")]
    Config(String),
}
