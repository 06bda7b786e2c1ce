//! The MultiNode coordinator (see `docs/coordinator.md`).

pub mod config;
mod error;
pub mod journal;
pub mod server;
mod state;

pub use config::{Config, ConfigError};
pub use error::Error;
pub use journal::{Journal, JournalError};
pub use server::{RunningServer, Server, ServerConfig, ServerError, ServerHandle, ServerStats};
pub use state::{AuthMode, Coordinator, Handled, Limits, Semantics, Settings, Stats};
