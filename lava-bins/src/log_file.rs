//! A daemon's `--log-file` that SIGHUP reopens, so logrotate can rename the
//! file and have the daemon write a new one (`postrotate: systemctl kill -s
//! HUP ...`). See `docs/operations.md` ("Signals and logs").

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Set once a daemon's SIGHUP reopens its log file (then SIGHUP no longer
/// stops it, see [`crate::stop_on_signals`]).
pub(crate) static SIGHUP_REOPENS: AtomicBool = AtomicBool::new(false);

/// A log file shared by the logger and the SIGHUP handler.
#[derive(Debug)]
pub struct ReopenableFile {
    path: PathBuf,
    file: Mutex<File>,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl ReopenableFile {
    /// Open (create, append to) `path`.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Arc<Self>> {
        let path = path.into();
        let file = open_append(&path)?;
        Ok(Arc::new(ReopenableFile {
            path,
            file: Mutex::new(file),
        }))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the path again and write there from now on; on failure the
    /// old file is kept and the error returned.
    pub fn reopen(&self) -> io::Result<()> {
        let new = open_append(&self.path)?;
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.flush();
        *file = new;
        Ok(())
    }

    /// A writer for `env_logger`'s `Target::Pipe`.
    pub fn writer(self: &Arc<Self>) -> LogWriter {
        LogWriter(Arc::clone(self))
    }

    /// Reopen the file on each SIGHUP (from a thread of its own) and log
    /// that it did.
    pub fn reopen_on_sighup(self: &Arc<Self>) -> io::Result<()> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
        let log = Arc::clone(self);
        SIGHUP_REOPENS.store(true, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("sighup".into())
            .spawn(move || {
                for _ in signals.forever() {
                    match log.reopen() {
                        Ok(()) => log::info!(
                            "[LOGS] SIGHUP: reopened the log file {}",
                            log.path.display()
                        ),
                        Err(e) => log::warn!(
                            "[LOGS] SIGHUP: cannot reopen the log file {}: {e} (still writing to the old one)",
                            log.path.display()
                        ),
                    }
                }
            })?;
        Ok(())
    }
}

/// Writes to the current file of a [`ReopenableFile`].
#[derive(Debug)]
pub struct LogWriter(Arc<ReopenableFile>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // one lock for the whole record: a reopen never splits a line
        self.0
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_writes_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let log = ReopenableFile::open(&path).unwrap();
        let mut writer = log.writer();
        writer.write_all(b"old\n").unwrap();
        std::fs::rename(&path, dir.path().join("d.log.1")).unwrap();
        writer.write_all(b"still old\n").unwrap();
        log.reopen().unwrap();
        writer.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("d.log.1")).unwrap(),
            "old\nstill old\n"
        );
    }
}
