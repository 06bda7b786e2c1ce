//! Persistence of the coordinator's state (`--state-dir DIR`), so that a
//! restarted coordinator — even one killed with SIGKILL — keeps the groups
//! that were running (`docs/coordinator.md`, "Persistence").
//!
//! The directory holds two files:
//!
//! - `journal.jsonl`: one JSON line per state change, written (one
//!   `write`) before the reply to the request that caused it is sent:
//!   `{"seq": N, "now": T, "secure": B, "body": {...}}` for a request, or
//!   `{"seq": N, "now": T, "expire": true}` for an expiry pass that removed
//!   groups. Replaying the lines through [`Coordinator::handle`] and
//!   [`Coordinator::expire`] rebuilds the state, since the state machine is
//!   pure (no clock, no randomness).
//! - `snapshot.json`: `{"version": 1, "seq": N, "state": ...}`, the state
//!   after line N ([`Coordinator::snapshot`]). Written to a temporary file,
//!   fsynced and renamed; only then is the journal truncated. Sequence
//!   numbers never restart, so lines a crash left in the journal after the
//!   rename are recognised (seq ≤ N) and skipped.
//!
//! A torn last line (the machine lost power in the middle of a write) is
//! dropped with a warning naming the file and line; any other bad line is
//! an error at start, naming the file and line: the daemon refuses to guess.
//!
//! Lines hold whole request bodies, member tokens included: the directory
//! is created with mode 0700 and the files 0600.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::state::{Coordinator, Settings};

/// Name of the journal file in the state directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Name of the snapshot file in the state directory.
pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// Journal size (bytes) above which the state is compacted into a snapshot.
pub const DEFAULT_COMPACT_BYTES: u64 = 4 * 1024 * 1024;

const SNAPSHOT_VERSION: u64 = 1;

/// Errors of the state directory. Each names the file concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file or the directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A journal line that is not the last one is unreadable.
    #[error("{path}, line {line}: {reason} (the journal is damaged; move the state directory away to start empty)")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The snapshot file is unreadable or was refused by the state machine.
    #[error("{path}: {reason} (move the state directory away to start empty)")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What loading a state directory found, for the start-up log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Whether a snapshot was restored.
    pub snapshot: bool,
    /// Journal entries applied after the snapshot.
    pub replayed: usize,
    /// Whether a torn last line was dropped.
    pub torn: bool,
}

/// The open journal of a state directory.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    size: u64,
    seq: u64,
    compact_bytes: u64,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Open (creating if needed) the state directory `dir`, rebuild the
    /// coordinator from its snapshot and journal, and compact at once so
    /// the journal starts empty. `compact_bytes` is the journal size above
    /// which [`Journal::needs_compaction`] says yes.
    pub fn open(
        dir: &Path,
        settings: Settings,
        compact_bytes: u64,
    ) -> Result<(Journal, Coordinator, Loaded), JournalError> {
        create_private_dir(dir)?;
        let snapshot_path = dir.join(SNAPSHOT_FILE);
        let mut loaded = Loaded::default();
        let (mut coordinator, snapshot_seq) = match fs::read(&snapshot_path) {
            Ok(bytes) => {
                let bad = |reason: String| JournalError::Snapshot {
                    path: snapshot_path.clone(),
                    reason,
                };
                let value: Value =
                    serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
                let version = value.get("version").and_then(Value::as_u64);
                if version != Some(SNAPSHOT_VERSION) {
                    return Err(bad(format!(
                        "unknown snapshot version {} (expected {SNAPSHOT_VERSION})",
                        value.get("version").unwrap_or(&Value::Null)
                    )));
                }
                let seq = value
                    .get("seq")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("no integer \"seq\"".into()))?;
                let state = value
                    .get("state")
                    .ok_or_else(|| bad("no \"state\"".into()))?;
                let coordinator =
                    Coordinator::restore(settings, state).map_err(|e| bad(e.to_string()))?;
                loaded.snapshot = true;
                (coordinator, seq)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Coordinator::new(settings), 0),
            Err(e) => return Err(io_err(&snapshot_path)(e)),
        };

        let path = dir.join(JOURNAL_FILE);
        let text = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let (entries, valid_len, torn) = parse_journal(&text, &path)?;
        if let Some(line) = torn {
            log::warn!(
                "{}, line {line}: dropping an incomplete last entry (torn write)",
                path.display()
            );
            loaded.torn = true;
        }
        let mut seq = snapshot_seq;
        for entry in entries {
            if entry.seq <= snapshot_seq {
                continue;
            }
            match entry.kind {
                EntryKind::Request { secure, body } => {
                    coordinator.handle(&body, secure, entry.now);
                }
                EntryKind::Expire => {
                    coordinator.expire(entry.now);
                }
            }
            loaded.replayed += 1;
            seq = seq.max(entry.seq);
        }

        let file = open_private(&path, true)?;
        // Cut a torn tail so new lines never follow half a line.
        file.set_len(valid_len).map_err(io_err(&path))?;
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            path,
            file,
            size: valid_len,
            seq,
            compact_bytes,
        };
        if loaded.snapshot || journal.size > 0 {
            journal.compact(&coordinator)?;
        }
        Ok((journal, coordinator, loaded))
    }

    /// Append one accepted state-changing request. One `write` call; the
    /// line is in the kernel (safe from a SIGKILL) when this returns.
    pub fn append_request(
        &mut self,
        now: u64,
        secure: bool,
        body: &Value,
    ) -> Result<(), JournalError> {
        self.seq += 1;
        let line = json!({"seq": self.seq, "now": now, "secure": secure, "body": body});
        self.write_line(&line)
    }

    /// Append an expiry pass (made at unix time `now`) that removed groups.
    pub fn append_expire(&mut self, now: u64) -> Result<(), JournalError> {
        self.seq += 1;
        let line = json!({"seq": self.seq, "now": now, "expire": true});
        self.write_line(&line)
    }

    fn write_line(&mut self, line: &Value) -> Result<(), JournalError> {
        let mut text = line.to_string();
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(io_err(&self.path))?;
        self.size += text.len() as u64;
        Ok(())
    }

    /// Whether the journal has grown past the compaction size.
    pub fn needs_compaction(&self) -> bool {
        self.size > self.compact_bytes
    }

    /// Current journal size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Write `coordinator`'s state as the snapshot (temporary file, fsync,
    /// rename, fsync of the directory), then empty the journal.
    pub fn compact(&mut self, coordinator: &Coordinator) -> Result<(), JournalError> {
        let snapshot = json!({
            "version": SNAPSHOT_VERSION,
            "seq": self.seq,
            "state": coordinator.snapshot(),
        });
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        {
            let mut file = open_private(&tmp, false)?;
            file.set_len(0).map_err(io_err(&tmp))?;
            file.write_all(snapshot.to_string().as_bytes())
                .map_err(io_err(&tmp))?;
            file.sync_all().map_err(io_err(&tmp))?;
        }
        let target = self.dir.join(SNAPSHOT_FILE);
        fs::rename(&tmp, &target).map_err(io_err(&target))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))?;
        self.file.set_len(0).map_err(io_err(&self.path))?;
        self.file.sync_all().map_err(io_err(&self.path))?;
        self.size = 0;
        Ok(())
    }
}

enum EntryKind {
    Request { secure: bool, body: Value },
    Expire,
}

struct Entry {
    seq: u64,
    now: u64,
    kind: EntryKind,
}

fn parse_entry(line: &[u8]) -> Result<Entry, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let seq = value
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("no integer \"seq\"")?;
    let now = value
        .get("now")
        .and_then(Value::as_u64)
        .ok_or("no integer \"now\"")?;
    if value.get("expire").and_then(Value::as_bool) == Some(true) {
        return Ok(Entry {
            seq,
            now,
            kind: EntryKind::Expire,
        });
    }
    let secure = value
        .get("secure")
        .and_then(Value::as_bool)
        .ok_or("no boolean \"secure\"")?;
    let body = value.get("body").cloned().ok_or("no \"body\"")?;
    Ok(Entry {
        seq,
        now,
        kind: EntryKind::Request { secure, body },
    })
}

/// Parse the journal text: the entries, the length of the valid prefix,
/// and the line number of a dropped torn last line.
fn parse_journal(
    text: &[u8],
    path: &Path,
) -> Result<(Vec<Entry>, u64, Option<usize>), JournalError> {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    let mut number = 0usize;
    while offset < text.len() {
        number += 1;
        let (line, next, complete) = match text[offset..].iter().position(|&b| b == b'\n') {
            Some(end) => (&text[offset..offset + end], offset + end + 1, true),
            None => (&text[offset..], text.len(), false),
        };
        let last = next >= text.len();
        match parse_entry(line) {
            Ok(entry) if complete => entries.push(entry),
            // a line without its newline is a torn write, even if it parses
            Ok(_) => return Ok((entries, offset as u64, Some(number))),
            Err(_) if last => return Ok((entries, offset as u64, Some(number))),
            Err(reason) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: number,
                    reason,
                })
            }
        }
        offset = next;
    }
    Ok((entries, offset as u64, None))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), JournalError> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), JournalError> {
    fs::create_dir_all(dir).map_err(io_err(dir))
}

fn open_private(path: &Path, append: bool) -> Result<File, JournalError> {
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true).read(true);
    } else {
        options.write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> String {
        format!("{{\"seq\": {seq}, \"now\": 5, \"secure\": false, \"body\": {{}}}}\n")
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_an_earlier_bad_line_is_an_error() {
        let path = Path::new("/state/journal.jsonl");
        let good = format!("{}{}", line(1), line(2));
        let (entries, len, torn) = parse_journal(good.as_bytes(), path).unwrap();
        assert_eq!((entries.len(), len as usize, torn), (2, good.len(), None));

        let torn_text = format!("{good}{{\"seq\": 3, \"no");
        let (entries, len, torn) = parse_journal(torn_text.as_bytes(), path).unwrap();
        assert_eq!(
            (entries.len(), len as usize, torn),
            (2, good.len(), Some(3))
        );

        // complete JSON but no newline: still torn
        let unterminated = format!("{good}{}", line(3).trim_end());
        let (_, len, torn) = parse_journal(unterminated.as_bytes(), path).unwrap();
        assert_eq!((len as usize, torn), (good.len(), Some(3)));

        let middle = format!("{}garbage\n{}", line(1), line(2));
        let err = parse_journal(middle.as_bytes(), path).err().unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("/state/journal.jsonl, line 2: not JSON"),
            "{text}"
        );
    }
}
