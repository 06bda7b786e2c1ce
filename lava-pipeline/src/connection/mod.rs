//! Connections to the device: a child process on a pseudo-terminal
//! ([`Pty`]), a bounded expect engine, and the [`ShellSession`] that
//! combines them with prompts, timeouts and logging.
//!
//! A boot action that brings up a console stores its session for the
//! namespace ([`crate::JobData::set_connection`]); later actions of the
//! namespace get it back with [`crate::RunContext::connection`].

pub(crate) mod expect;
mod pty;
mod session;

pub use expect::{Match, Pattern};
pub use pty::Pty;
pub use session::{
    compile, lock, LineOutcome, SessionHandle, SessionKind, ShellSession, WaitOutcome,
};
