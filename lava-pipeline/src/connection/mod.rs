//! Connections to the device: a child process on a pseudo-terminal
//! ([`pty`]), the bounded expect engine ([`expect`]) and the shell session
//! that combines them with prompts, timeouts and logging ([`session`]).

pub mod expect;
pub mod pty;
pub mod session;

pub use session::{lock, SessionHandle, SessionKind, ShellSession, WaitOutcome};
