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
    /// An earlier write failed: the change is kept in memory and saved by
    /// the next compaction, not appended.
    #[error("{path}: not appended: an earlier write failed; the next snapshot saves the state")]
    Unsaved {
        /// The journal file.
        path: PathBuf,
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
    /// Bytes of complete, good lines: the file is cut back to it after a
    /// failed write.
    size: u64,
    seq: u64,
    compact_bytes: u64,
    /// State changes that are in neither the journal nor the snapshot
    /// (a write failed). While non-zero nothing is appended (a replay
    /// without the lost change would rebuild another state) and every
    /// change asks for a compaction, which saves the whole state.
    unsaved: u64,
    /// A compaction is between [`Journal::begin_compaction`] and
    /// [`Journal::finish_compaction`].
    compacting: bool,
}

/// A compaction in progress: the state taken under the caller's lock,
/// written by [`Compaction::write`] without it (see
/// [`Journal::begin_compaction`]).
#[derive(Debug)]
pub struct Compaction {
    dir: PathBuf,
    snapshot: Value,
    /// Journal bytes covered by the snapshot.
    offset: u64,
    unsaved: u64,
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
        #[cfg(unix)]
        if snapshot_path.exists() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&snapshot_path, fs::Permissions::from_mode(0o600))
                .map_err(io_err(&snapshot_path))?;
        }
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
                EntryKind::Expire(Some(groups)) => {
                    coordinator.remove_expired(&groups);
                }
                // a journal written before the names were recorded
                EntryKind::Expire(None) => {
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
            unsaved: 0,
            compacting: false,
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

    /// Append an expiry pass (made at unix time `now`) that removed the
    /// groups `removed`; a replay removes exactly those.
    pub fn append_expire(&mut self, now: u64, removed: &[String]) -> Result<(), JournalError> {
        self.seq += 1;
        let line = json!({"seq": self.seq, "now": now, "expire": true, "groups": removed});
        self.write_line(&line)
    }

    /// Write one line. After a failed write the file is cut back to its
    /// last complete line (so no later line is glued to half a line) and
    /// the change is counted as unsaved: nothing more is appended until a
    /// compaction has saved the whole state.
    fn write_line(&mut self, line: &Value) -> Result<(), JournalError> {
        if self.unsaved > 0 {
            self.unsaved += 1;
            return Err(JournalError::Unsaved {
                path: self.path.clone(),
            });
        }
        let mut text = line.to_string();
        text.push('\n');
        if let Err(e) = self.file.write_all(text.as_bytes()) {
            self.unsaved += 1;
            if let Err(cut) = self.file.set_len(self.size) {
                log::error!(
                    "{}: cannot cut a partly written line back to {} bytes: {cut}",
                    self.path.display(),
                    self.size
                );
            }
            return Err(io_err(&self.path)(e));
        }
        self.size += text.len() as u64;
        Ok(())
    }

    /// Whether the journal has grown past the compaction size, or holds
    /// less than the state (a write failed).
    pub fn needs_compaction(&self) -> bool {
        !self.compacting && (self.size > self.compact_bytes || self.unsaved > 0)
    }

    /// State changes lost by failed writes and not yet saved by a
    /// compaction.
    pub fn unsaved(&self) -> u64 {
        self.unsaved
    }

    /// Start a compaction: take `coordinator`'s state (call under the lock
    /// that orders requests). `None` when one is already running. Write it
    /// with [`Compaction::write`] (without the lock), then call
    /// [`Journal::finish_compaction`] (under the lock again). Lines
    /// appended meanwhile have higher sequence numbers and are kept.
    pub fn begin_compaction(&mut self, coordinator: &Coordinator) -> Option<Compaction> {
        if self.compacting {
            return None;
        }
        self.compacting = true;
        Some(Compaction {
            dir: self.dir.clone(),
            snapshot: json!({
                "version": SNAPSHOT_VERSION,
                "seq": self.seq,
                "state": coordinator.snapshot(),
            }),
            offset: self.size,
            unsaved: self.unsaved,
        })
    }

    /// End a compaction: on success, drop the journal lines the snapshot
    /// covers (the newer ones are copied to a new journal file, renamed
    /// over the old one).
    pub fn finish_compaction(
        &mut self,
        compaction: Compaction,
        written: Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        self.compacting = false;
        written?;
        // changes lost after the state was taken are still unsaved
        self.unsaved -= compaction.unsaved.min(self.unsaved);
        if compaction.offset >= self.size {
            self.file.set_len(0).map_err(io_err(&self.path))?;
            self.size = 0;
            return Ok(());
        }
        let mut tail = vec![0; (self.size - compaction.offset) as usize];
        {
            use std::io::{Read, Seek, SeekFrom};
            let mut reader = File::open(&self.path).map_err(io_err(&self.path))?;
            reader
                .seek(SeekFrom::Start(compaction.offset))
                .and_then(|_| reader.read_exact(&mut tail))
                .map_err(io_err(&self.path))?;
        }
        let tmp = self.dir.join(format!("{JOURNAL_FILE}.tmp"));
        {
            let mut file = open_private(&tmp, false)?;
            file.set_len(0).map_err(io_err(&tmp))?;
            file.write_all(&tail).map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        self.file = open_private(&self.path, true)?;
        self.size = tail.len() as u64;
        Ok(())
    }

    /// Current journal size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Write `coordinator`'s state as the snapshot (temporary file, fsync,
    /// rename, fsync of the directory), then empty the journal.
    pub fn compact(&mut self, coordinator: &Coordinator) -> Result<(), JournalError> {
        let Some(compaction) = self.begin_compaction(coordinator) else {
            return Ok(());
        };
        let written = compaction.write();
        self.finish_compaction(compaction, written)?;
        self.file.sync_all().map_err(io_err(&self.path))
    }
}

impl Compaction {
    /// Write the snapshot: temporary file, fsync, rename, fsync of the
    /// directory. Needs no lock.
    pub fn write(&self) -> Result<(), JournalError> {
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        {
            let mut file = open_private(&tmp, false)?;
            file.set_len(0).map_err(io_err(&tmp))?;
            file.write_all(self.snapshot.to_string().as_bytes())
                .map_err(io_err(&tmp))?;
            file.sync_all().map_err(io_err(&tmp))?;
        }
        let target = self.dir.join(SNAPSHOT_FILE);
        fs::rename(&tmp, &target).map_err(io_err(&target))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }
}

enum EntryKind {
    Request {
        secure: bool,
        body: Value,
    },
    /// The groups removed (absent in older journals: expire by the clock).
    Expire(Option<Vec<String>>),
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
        let groups = match value.get("groups") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|g| g.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                    .ok_or("\"groups\" is not a list of strings")?,
            ),
            Some(_) => return Err("\"groups\" is not a list of strings".into()),
        };
        return Ok(Entry {
            seq,
            now,
            kind: EntryKind::Expire(groups),
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
    use std::os::unix::fs::PermissionsExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    // an existing directory too: the journal holds member tokens
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
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
    let file = options.open(path).map_err(io_err(path))?;
    #[cfg(unix)]
    {
        // an existing file too: lines hold member tokens
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err(path))?;
    }
    Ok(file)
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
