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
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Bytes;
use lava_scheduler::model::{Job, JobState};
use lava_scheduler::Store;
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

/// What a feed broadcasts.
#[derive(Clone)]
enum Update {
    /// Lines `first..end`, formatted as one SSE event.
    Lines { first: u64, end: u64, event: Bytes },
    /// The job finished; the event to send after the last line.
    End,
}

/// One followed job.
pub(crate) struct Feed {
    job: i64,
    dir: PathBuf,
    updates: broadcast::Sender<Update>,
    end: Arc<Mutex<Option<Bytes>>>,
    stop: CancellationToken,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.cancel();
        log::debug!("[{}] live log: no viewer left", self.job);
    }
}

/// The feeds of the jobs being followed.
#[derive(Default)]
pub(crate) struct LogHub {
    feeds: Mutex<HashMap<i64, Weak<Feed>>>,
}

/// The SSE text of lines as `output.yaml` holds them (`- ` + line):
/// one `data:` field per line, the id after the last.
pub(crate) fn lines_event(text: &[u8], end: u64) -> Bytes {
    let mut event = Vec::with_capacity(text.len() + text.len() / 16 + 32);
    event.extend_from_slice(b"event: lines\n");
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(line.strip_prefix(b"- ").unwrap_or(line));
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

/// Read lines `from..` (at most `budget` bytes of them) of the log in `dir`.
async fn read_lines(dir: PathBuf, from: u64, budget: u64) -> Option<(u64, Bytes)> {
    tokio::task::spawn_blocking(move || {
        let slice = logs::slice(&dir, from, None, budget).ok()??;
        if slice.lines == 0 {
            return None;
        }
        let text = logs::read(&slice).ok()?;
        let end = slice.first + slice.lines;
        Some((end, lines_event(&text, end)))
    })
    .await
    .ok()
    .flatten()
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
            stop: CancellationToken::new(),
        });
        tokio::spawn(run_feed(
            state.clone(),
            job.id,
            dir,
            updates,
            feed.end.clone(),
            feed.stop.clone(),
        ));
        feeds.insert(job.id, Arc::downgrade(&feed));
        log::debug!("[{}] live log: first viewer", job.id);
        feed
    }
}

/// Watch `dir` for writes; `None` when it cannot be watched (then the
/// feed still ends with the job, and viewers read the file then).
fn watch_dir(dir: &std::path::Path, wake: Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    // The master makes the directory when the first line arrives; made
    // here, the watch starts before that line.
    if let Err(e) = std::fs::create_dir_all(dir) {
        log::warn!("[HTTP] live log: cannot make {}: {e}", dir.display());
    }
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
                wake.notify_one();
            }
        }) {
            Ok(w) => w,
            Err(e) => {
                log::warn!("[HTTP] live log: cannot watch files: {e}");
                return None;
            }
        };
    match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
        Ok(()) => Some(watcher),
        Err(e) => {
            log::warn!("[HTTP] live log: cannot watch {}: {e}", dir.display());
            None
        }
    }
}

async fn run_feed(
    state: AppState,
    job: i64,
    dir: PathBuf,
    updates: broadcast::Sender<Update>,
    end: Arc<Mutex<Option<Bytes>>>,
    stop: CancellationToken,
) {
    let wake = Arc::new(Notify::new());
    let _watcher = watch_dir(&dir, wake.clone());
    let mut changes: watch::Receiver<u64> = state.store_changes.clone();
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
        // new lines, once for every viewer
        while let Some((next, event)) = read_lines(dir.clone(), known, BACKLOG_BYTES).await {
            let _ = updates.send(Update::Lines {
                first: known,
                end: next,
                event,
            });
            known = next;
        }
        if check_job {
            check_job = false;
            let found = state.blocking(move |s| s.store.job(job)).await;
            if let Ok(found) = found {
                if found.state == JobState::Finished {
                    // the master finishes a job after its last line is stored
                    while let Some((next, event)) =
                        read_lines(dir.clone(), known, BACKLOG_BYTES).await
                    {
                        let _ = updates.send(Update::Lines {
                            first: known,
                            end: next,
                            event,
                        });
                        known = next;
                    }
                    *end.lock().unwrap_or_else(|e| e.into_inner()) = Some(end_event(&found));
                    let _ = updates.send(Update::End);
                    log::debug!("[{job}] live log: job finished, {known} lines");
                    return;
                }
            }
        }
        tokio::select! {
            () = wake.notified() => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                check_job = true;
            }
            () = stop.cancelled() => return,
        }
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
        next: u64,
        /// Everything in the file was sent: take the feed's events.
        caught_up: bool,
        /// The file was read once more after the job ended.
        final_read: bool,
        done: bool,
    }
    let viewer = Viewer {
        updates: feed.updates.subscribe(),
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
                Ok(Ok(Update::Lines { first, end, event })) => {
                    if first == v.next {
                        v.next = end;
                        return Some((Ok(event), v));
                    }
                    if end > v.next {
                        // a gap or an overlap: the file has them
                        v.caught_up = false;
                    }
                }
                Ok(Ok(Update::End)) => {}
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
    fn lines_become_one_event_with_the_next_line_as_id() {
        let text = b"- {\"lvl\": \"info\", \"msg\": \"a\"}\n- {\"msg\": \"b\"}\n";
        let event = lines_event(text, 7);
        assert_eq!(
            std::str::from_utf8(&event).unwrap(),
            "event: lines\ndata: {\"lvl\": \"info\", \"msg\": \"a\"}\ndata: {\"msg\": \"b\"}\nid: 7\n\n"
        );
    }
}
