//! What the admin commands share: opening the store, reporting errors,
//! printing CSV.

use std::fmt::Display;
use std::process::ExitCode;

use lava_scheduler::SqlStore;

/// The embedded default store.
pub const DEFAULT_DATABASE: &str = "sqlite:///var/lib/lava-server/lava.db";

/// The program name used in error lines.
pub const PROGRAM: &str = "lava-server";

/// The database chosen on the command line, opened on first use.
pub struct Db {
    url: String,
}

impl Db {
    pub fn new(url: String) -> Self {
        Db { url }
    }

    /// Open the store (applying migrations).
    pub fn open(&self) -> Result<SqlStore, String> {
        SqlStore::open_url(&self.url).map_err(|e| e.to_string())
    }
}

/// Report an error in one line and return exit code 1.
pub fn fail(error: impl Display) -> ExitCode {
    lava_bins::fail(PROGRAM, error)
}

/// Turn a result into an exit code, printing the error.
pub fn finish<E: Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// One CSV record with RFC 4180 quoting (only where needed).
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(|f| {
            let f = f.as_ref();
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The actor recorded for changes made from this command line: the login
/// name of the admin.
pub fn actor() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "lava-server".to_string())
}

/// A timestamp in microseconds as `YYYY-MM-DD HH:MM:SS`.
pub fn when(micros: Option<i64>) -> String {
    match micros {
        None => "-".into(),
        Some(t) => {
            let text = lava_proto::time::UtcTime::from_unix(t.div_euclid(1_000_000), 0).to_string();
            text[..19].to_string() + " UTC"
        }
    }
}
