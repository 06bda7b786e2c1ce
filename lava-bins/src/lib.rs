//! Thin binaries of LAVA in Rust. Each binary only parses its arguments,
//! sets up logging and calls the libraries; this library holds the little
//! they share.
//!
//! Binaries:
//! - `lava-create-certificate NAME [--directory DIR] [--force]`: a CURVE key
//!   pair in pyzmq's certificate format.

use std::fmt::Display;
use std::process::ExitCode;

/// Set up `env_logger` with `default_level` unless `RUST_LOG` says otherwise.
pub fn init_logging(default_level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp_millis()
        .init();
}

/// Report a fatal error as one readable line on stderr and return the exit
/// code 1. `program` is the binary's name.
pub fn fail(program: &str, error: impl Display) -> ExitCode {
    eprintln!("{program}: error: {error}");
    ExitCode::FAILURE
}
