//! Live logs: every line the master stores, pushed to the browsers that
//! follow the job, as Server-Sent Events (docs/web.md, "Live logs").
//!
//! One [`Feed`] per followed job, however many viewers: it watches the
//! job's output directory (one inotify watch), reads the new lines once,
//! formats them once as an SSE event, and hands the same bytes to every
//! viewer through a broadcast channel. It notices the end of the job
//! through the store's change notifications. A feed lives as long as
//! someone follows the job.
//!
//! A viewer first reads what is already stored straight from the file, in
//! slices of [`BACKLOG_BYTES`], then takes the feed's events. Each event's
//! `id` is the number of lines sent so far, so a reconnecting browser
//! (`Last-Event-ID`) resumes at the next line. A viewer that falls behind
//! the channel reads the lines it missed from the file: nothing is lost,
//! and nothing is held per viewer beyond its position.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Bytes;
use lava_scheduler::model::{Job, JobState};
use lava_scheduler::StoreError;
use tokio::sync::{broadcast, watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::logs;
use crate::server::AppState;

/// The most bytes of log one event carries when a viewer catches up.
pub const BACKLOG_BYTES: u64 = 512 * 1024;

/// How long a quiet stream waits before it sends a comment, so that
/// proxies keep it open and dead clients are noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Events a feed keeps for slow viewers before they must read the file.
const CHANNEL: usize = 256;

/// How soon a feed tries again when the store failed, or when it has no
/// watch (then it looks for new lines this often).
const RETRY: Duration = Duration::from_secs(1);

/// What a feed broadcasts.
#[derive(Clone)]
enum Update {
    /// Lines `first..end` of the log's `generation`, as one SSE event.
    Lines {
        generation: u64,
        first: u64,
        end: u64,
        event: Bytes,
    },
    /// The log was rebuilt (the master recovered lost lines): numbering
    /// starts again.
    Reset,
    /// The job finished; the event to send after the last line.
    End,
}

/// One followed job.
pub(crate) struct Feed {
    job: i64,
    dir: PathBuf,
    updates: broadcast::Sender<Update>,
    end: Arc<Mutex<Option<Bytes>>>,
    /// Bumped when the log is rebuilt under the feed.
    generation: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.cancel();
        log::debug!("[{}] live log: no viewer left", self.job);
    }
}

/// Who wakes for which watched directory.
type Wakers = HashMap<PathBuf, Vec<(u64, Arc<Notify>)>>;

/// The feeds of the jobs being followed, and the service's one inotify
/// instance watching their directories.
pub(crate) struct LogHub {
    feeds: Mutex<HashMap<i64, Weak<Feed>>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    wakers: Arc<Mutex<Wakers>>,
    next_waker: AtomicU64,
}

impl Default for LogHub {
    fn default() -> LogHub {
        let wakers: Arc<Mutex<Wakers>> = Arc::default();
        let dispatch = wakers.clone();
        // One watcher (one inotify instance and thread) for the service:
        // an event on a path wakes whoever watches it or its directory.
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let wakers = dispatch.lock().unwrap_or_else(|e| e.into_inner());
            for path in &event.paths {
                for key in [Some(path.as_path()), path.parent()].into_iter().flatten() {
                    for (_, wake) in wakers.get(key).into_iter().flatten() {
                        wake.notify_one();
                    }
                }
            }
        })
        .map_err(|e| log::warn!("[HTTP] live log: cannot watch files ({e}); looking every second"))
        .ok();
        LogHub {
            feeds: Mutex::default(),
            watcher: Mutex::new(watcher),
            wakers,
            next_waker: AtomicU64::new(1),
        }
    }
}

/// The SSE text of lines as `output.yaml` holds them (`- ` + line):
/// one `data:` field per line, the id after the last. A raw carriage
/// return (an SSE line end) is sent as the escape `\r`.
pub(crate) fn lines_event(text: &[u8], end: u64) -> Bytes {
    let mut event = Vec::with_capacity(text.len() + text.len() / 16 + 32);
    event.extend_from_slice(b"event: lines\n");
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        event.extend_from_slice(b"data: ");
        for &b in line.strip_prefix(b"- ").unwrap_or(line) {
            if b == b'\r' {
                event.extend_from_slice(b"\\r");
            } else {
                event.push(b);
            }
        }
        event.push(b'\n');
    }
    event.extend_from_slice(format!("id: {end}\n\n").as_bytes());
    Bytes::from(event)
}

/// The final event: the job's state and health, as JSON.
fn end_event(job: &Job) -> Bytes {
    let data = serde_json::json!({
        "state": job.state.label(),
        "health": job.health.label(),
    });
    Bytes::from(format!("event: end\ndata: {data}\n\n"))
}

/// The final event for a job that no longer exists.
fn gone_event() -> Bytes {
    Bytes::from_static(b"event: end\ndata: {\"state\": \"Deleted\", \"health\": \"Unknown\"}\n\n")
}

const RESET_EVENT: &[u8] = b"event: reset\ndata: the log was rebuilt\nid: 0\n\n";

/// Read lines `from..` (at most `budget` bytes of them) of the log in `dir`.
/// `None` when there is nothing new, or when the bytes read are not whole
/// lines (the files are being replaced: the next wake reads them again).
async fn read_lines(dir: PathBuf, from: u64, budget: u64) -> Option<(u64, Bytes)> {
    tokio::task::spawn_blocking(move || {
        let slice = logs::slice(&dir, from, None, budget).ok()??;
        if slice.lines == 0 {
            return None;
        }
        let text = logs::read(&slice).ok()?;
        if !text.starts_with(b"- ") || !text.ends_with(b"\n") {
            return None;
        }
        let end = slice.first + slice.lines;
        Some((end, lines_event(&text, end)))
    })
    .await
    .ok()
    .flatten()
}

/// The identity of `output.idx`: a new one means the log was rebuilt.
fn index_identity(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(dir.join("output.idx"))
        .ok()
        .map(|m| m.ino())
}

/// What to watch for `dir`: itself once it exists, else its nearest
/// existing ancestor within `root` (the job's directory is the master's
/// to make; its creation shows there).
fn watch_target(dir: &Path, root: &Path) -> Option<PathBuf> {
    let mut at = Some(dir);
    while let Some(path) = at {
        if !path.starts_with(root) {
            return None;
        }
        if path.is_dir() {
            return Some(path.to_path_buf());
        }
        at = path.parent();
    }
    None
}

impl LogHub {
    /// The feed of `job`, started if nobody follows it yet.
    pub fn follow(&self, state: &AppState, job: &Job) -> Arc<Feed> {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        feeds.retain(|_, feed| feed.strong_count() > 0);
        if let Some(feed) = feeds.get(&job.id).and_then(Weak::upgrade) {
            return feed;
        }
        let dir = lava_scheduler::master::output_dir(&state.jobs_dir, job);
        let (updates, _) = broadcast::channel(CHANNEL);
        let feed = Arc::new(Feed {
            job: job.id,
            dir: dir.clone(),
            updates: updates.clone(),
            end: Arc::new(Mutex::new(None)),
            generation: Arc::new(AtomicU64::new(0)),
            stop: CancellationToken::new(),
        });
        tokio::spawn(run_feed(
            state.clone(),
            job.id,
            dir,
            FeedSide {
                updates,
                end: feed.end.clone(),
                generation: feed.generation.clone(),
            },
            feed.stop.clone(),
        ));
        feeds.insert(job.id, Arc::downgrade(&feed));
        log::debug!("[{}] live log: first viewer", job.id);
        feed
    }

    /// Wake `wake` on events in `dir`; the token to stop with.
    fn watch(&self, dir: &Path, wake: Arc<Notify>) -> Option<u64> {
        let token = self.next_waker.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            let list = wakers.entry(dir.to_path_buf()).or_default();
            list.push((token, wake));
            list.len() == 1
        };
        if first {
            // not under the wakers' lock: the watcher's thread takes it
            use notify::Watcher as _;
            let mut watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
            let watched = match watcher.as_mut() {
                Some(w) => w.watch(dir, notify::RecursiveMode::NonRecursive),
                None => return None,
            };
            if let Err(e) = watched {
                log::warn!("[HTTP] live log: cannot watch {}: {e}", dir.display());
                drop(watcher);
                self.unwatch(dir, token);
                return None;
            }
        }
        Some(token)
    }

    fn unwatch(&self, dir: &Path, token: u64) {
        let last = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            let Some(list) = wakers.get_mut(dir) else {
                return;
            };
            list.retain(|(t, _)| *t != token);
            let empty = list.is_empty();
            if empty {
                wakers.remove(dir);
            }
            empty
        };
        if last {
            use notify::Watcher as _;
            if let Some(w) = self
                .watcher
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                let _ = w.unwatch(dir);
            }
        }
    }
}

/// The feed's end of what it shares with its viewers.
struct FeedSide {
    updates: broadcast::Sender<Update>,
    end: Arc<Mutex<Option<Bytes>>>,
    generation: Arc<AtomicU64>,
}

impl FeedSide {
    /// Send every line from `known` on; the new count.
    async fn send_new(&self, dir: &Path, mut known: u64) -> u64 {
        while let Some((next, event)) = read_lines(dir.to_path_buf(), known, BACKLOG_BYTES).await {
            let _ = self.updates.send(Update::Lines {
                generation: self.generation.load(Ordering::SeqCst),
                first: known,
                end: next,
                event,
            });
            known = next;
        }
        known
    }

    fn finish(&self, event: Bytes) {
        *self.end.lock().unwrap_or_else(|e| e.into_inner()) = Some(event);
        let _ = self.updates.send(Update::End);
    }
}

async fn run_feed(
    state: AppState,
    job: i64,
    dir: PathBuf,
    side: FeedSide,
    stop: CancellationToken,
) {
    let hub = state.live.clone();
    let wake = Arc::new(Notify::new());
    let mut watched: Option<(PathBuf, u64)> = None;
    let mut changes: watch::Receiver<u64> = state.store_changes.clone();
    let mut identity = index_identity(&dir);
    // Lines already stored are read by each viewer from the file.
    let mut known = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || logs::slice(&dir, 0, None, 0))
            .await
            .ok()
            .and_then(|r| r.ok().flatten())
            .map_or(0, |s| s.total)
    };
    let mut check_job = true;
    loop {
        // the job's directory once the master made it, else an ancestor
        let target = watch_target(&dir, &state.jobs_dir);
        if watched.as_ref().map(|w| &w.0) != target.as_ref() {
            if let Some((path, token)) = watched.take() {
                hub.unwatch(&path, token);
            }
            if let Some(path) = target {
                watched = hub.watch(&path, wake.clone()).map(|token| (path, token));
            }
        }
        // a rebuilt log (the master recovered lost lines) renumbers it
        let now = index_identity(&dir);
        if identity.is_some() && now.is_some() && now != identity {
            log::info!("[{job}] live log: the log was rebuilt, viewers start again");
            side.generation.fetch_add(1, Ordering::SeqCst);
            known = 0;
            let _ = side.updates.send(Update::Reset);
        }
        identity = now.or(identity);
        // new lines, once for every viewer
        let before = known;
        known = side.send_new(&dir, known).await;
        if known != before {
            log::debug!("[{job}] live log: {known} lines");
        }
        let mut retry = watched.is_none();
        if check_job {
            check_job = false;
            match state.blocking(move |s| s.store.job(job)).await {
                Ok(found) if found.state == JobState::Finished => {
                    // the master finishes a job after its last line is stored
                    known = side.send_new(&dir, known).await;
                    side.finish(end_event(&found));
                    log::debug!("[{job}] live log: job finished, {known} lines");
                    break;
                }
                Ok(_) => {}
                Err(StoreError::NotFound { .. }) => {
                    side.finish(gone_event());
                    log::debug!("[{job}] live log: the job was deleted");
                    break;
                }
                Err(e) => {
                    log::warn!("[{job}] live log: cannot read the job ({e}); trying again");
                    check_job = true;
                    retry = true;
                }
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    break; // the service stops
                }
                check_job = true;
            }
            () = tokio::time::sleep(RETRY), if retry => {}
            () = stop.cancelled() => break,
        }
    }
    if let Some((path, token)) = watched.take() {
        hub.unwatch(&path, token);
    }
}

/// One viewer's stream: the backlog from line `from`, then the feed's
/// events, then the end.
pub(crate) fn stream(
    feed: Arc<Feed>,
    from: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    struct Viewer {
        updates: broadcast::Receiver<Update>,
        feed: Arc<Feed>,
        generation: u64,
        next: u64,
        /// Everything in the file was sent: take the feed's events.
        caught_up: bool,
        /// The file was read once more after the job ended.
        final_read: bool,
        done: bool,
    }
    let viewer = Viewer {
        updates: feed.updates.subscribe(),
        generation: feed.generation.load(Ordering::SeqCst),
        feed,
        next: from,
        caught_up: false,
        final_read: false,
        done: false,
    };
    futures_util::stream::unfold(viewer, |mut v| async move {
        if v.done {
            return None;
        }
        loop {
            // the log was rebuilt: the browser starts again from line 0
            let generation = v.feed.generation.load(Ordering::SeqCst);
            if generation != v.generation {
                v.generation = generation;
                v.next = 0;
                v.caught_up = false;
                return Some((Ok(Bytes::from_static(RESET_EVENT)), v));
            }
            // the backlog, or lines missed while behind: from the file
            if !v.caught_up {
                let dir = v.feed.dir.clone();
                if let Some((end, event)) = read_lines(dir, v.next, BACKLOG_BYTES).await {
                    v.next = end;
                    return Some((Ok(event), v));
                }
                v.caught_up = true;
            }
            let ended = v.feed.end.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(event) = ended {
                if !v.final_read {
                    // lines broadcast before the end may still be queued
                    v.final_read = true;
                    v.caught_up = false;
                    continue;
                }
                v.done = true;
                return Some((Ok(event), v));
            }
            match tokio::time::timeout(KEEP_ALIVE, v.updates.recv()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), v)),
                Ok(Ok(Update::Lines {
                    generation,
                    first,
                    end,
                    event,
                })) => {
                    if generation != v.generation {
                        continue;
                    }
                    if first == v.next {
                        v.next = end;
                        return Some((Ok(event), v));
                    }
                    if end > v.next {
                        // a gap or an overlap: the file has them
                        v.caught_up = false;
                    }
                }
                Ok(Ok(Update::End | Update::Reset)) => {}
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => v.caught_up = false,
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriage_returns_do_not_end_sse_lines() {
        let event = lines_event(b"- {\"msg\": \"a\rb\"}\n", 1);
        assert_eq!(
            std::str::from_utf8(&event).unwrap(),
            "event: lines\ndata: {\"msg\": \"a\\rb\"}\nid: 1\n\n"
        );
    }

    #[test]
    fn the_nearest_existing_directory_is_watched() {
        let root = tempfile::tempdir().unwrap();
        let job = root.path().join("2026/12/07/42");
        assert_eq!(
            watch_target(&job, root.path()),
            Some(root.path().to_path_buf())
        );
        std::fs::create_dir_all(root.path().join("2026/12")).unwrap();
        assert_eq!(
            watch_target(&job, root.path()),
            Some(root.path().join("2026/12"))
        );
        std::fs::create_dir_all(&job).unwrap();
        assert_eq!(watch_target(&job, root.path()), Some(job.clone()));
        assert_eq!(watch_target(&job, Path::new("/elsewhere")), None);
    }

    #[test]
    fn lines_become_one_event_with_the_next_line_as_id() {
        let text = b"- {\"lvl\": \"info\", \"msg\": \"a\"}\n- {\"msg\": \"b\"}\n";
        let event = lines_event(text, 7);
        assert_eq!(
            std::str::from_utf8(&event).unwrap(),
            "event: lines\ndata: {\"lvl\": \"info\", \"msg\": \"a\"}\ndata: {\"msg\": \"b\"}\nid: 7\n\n"
        );
    }
}
