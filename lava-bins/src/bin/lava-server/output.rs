//! What the admin commands share: the error type, opening the store,
//! reading input, printing CSV.

use std::fmt::Display;
use std::io::Read;
use std::path::Path;

use lava_scheduler::SqlStore;
use lava_scheduler::StoreError;

/// Why an admin command failed; `main` prints it as one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A job definition was refused.
    #[error(transparent)]
    Submit(#[from] lava_scheduler::submit::SubmitError),
    /// A device's configuration does not render or is invalid.
    #[error(transparent)]
    Device(#[from] lava_devices::DeviceError),
    /// A template does not render.
    #[error(transparent)]
    Render(#[from] lava_devices::RenderError),
    /// The HTTP service failed.
    #[error(transparent)]
    Web(#[from] lava_web::WebError),
    /// A file or a stream could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// The file or stream.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else, said for the admin.
    #[error("{0}")]
    Refused(String),
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Refused(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Refused(message.to_string())
    }
}

/// The result of an admin command.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// An I/O error about `what` (a path, `standard input`...).
pub fn io_error(what: impl Display) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        what: what.to_string(),
        source,
    }
}

/// A file's bytes, or standard input's for `-`.
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(path)
    }
}

/// A file's text, or standard input's for `-`.
pub fn read_text(path: &Path) -> Result<String> {
    let what = if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = read_input(path).map_err(io_error(&what))?;
    String::from_utf8(bytes).map_err(|_| format!("{what}: not UTF-8 text").into())
}

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
    pub fn open(&self) -> Result<SqlStore> {
        Ok(SqlStore::open_url(&self.url)?)
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
