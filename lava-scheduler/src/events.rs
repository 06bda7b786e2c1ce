//! Events as LAVA's `lava-publisher` sends them (docs/metrics.md,
//! "Events"): a ZeroMQ PUB socket, five frames per message (topic, uuid,
//! datetime, username, JSON), topics `<topic>.testjob`, `.device` and
//! `.worker`, and `.event` for the jobs' `lava-test-event` lines.
//!
//! Every state or health change of a job, device or worker is a row of the
//! `events` table, written by triggers in the transaction that makes the
//! change (migration 6), whichever process makes it: the master, the HTTP
//! service, `lava-server manage`. So an event exists exactly when its
//! change is committed. The master's [`Publisher`] sends the rows after
//! the last one it sent, in id order, when the store's change watcher wakes
//! it, and prunes the table.
//!
//! Order: changes of one job (or device, worker) are serialised by its row
//! lock, so their rows' ids follow the order of the changes. On SQLite one
//! transaction writes at a time and ids are given in commit order. On
//! PostgreSQL ids are taken before commit, so a row may become visible
//! after a row with a larger id: the reader stops at such a gap and only
//! passes it once every transaction that was running when it saw the gap
//! has ended (then the row is there, or was rolled back).

use lava_proto::time::UtcTime;
use serde_json::{json, Map, Value};

use crate::db::Dialect;
use crate::error::StoreError;
use crate::model::{DeviceHealth, DeviceState, JobHealth, JobState, WorkerHealth, WorkerState};
use crate::store::SqlStore;

/// LAVA's default topic prefix (`EVENT_TOPIC`).
pub const DEFAULT_TOPIC: &str = "org.lavasoftware";
/// LAVA's default event socket (`EVENT_SOCKET`).
pub const DEFAULT_SOCKET: &str = "tcp://*:5500";
/// Rows kept in the table behind the last one published.
const KEEP: i64 = 10_000;

/// One event, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The row's id.
    pub id: i64,
    /// `.testjob`, `.device` or `.worker`.
    pub suffix: &'static str,
    /// When the change was made, as Python's `utcnow().isoformat()`.
    pub datetime: String,
    /// The job's submitter; `lavaserver` for devices and workers (as LAVA).
    pub username: String,
    /// LAVA's JSON object.
    pub data: Value,
}

impl Event {
    /// The five frames under `topic` (uuid: a version-1 UUID, as LAVA's).
    pub fn frames(&self, topic: &str) -> [Vec<u8>; 5] {
        [
            format!("{topic}{}", self.suffix).into_bytes(),
            uuid1().into_bytes(),
            self.datetime.clone().into_bytes(),
            self.username.clone().into_bytes(),
            self.data.to_string().into_bytes(),
        ]
    }
}

/// A version-1 UUID (time-based, random node with the multicast bit, as
/// RFC 4122 §4.5 allows).
fn uuid1() -> String {
    let now = UtcTime::now();
    // 100-ns intervals since 1582-10-15
    let ticks = (now.unix_seconds() as u64 + 12_219_292_800) * 10_000_000
        + u64::from(now.subsec_micros()) * 10;
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    let clock = (u16::from_be_bytes([random[0], random[1]]) & 0x3fff) | 0x8000;
    let node = u64::from_be_bytes([
        0, 0, random[2], random[3], random[4], random[5], random[6], random[7],
    ]) | 0x0100_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        ticks & 0xffff_ffff,
        (ticks >> 32) & 0xffff,
        ((ticks >> 48) & 0x0fff) | 0x1000,
        clock,
        node
    )
}

/// A time stored in microseconds, as Python's `isoformat()` of an aware
/// UTC datetime (`...+00:00`), LAVA's job times in events.
fn aware(micros: i64) -> String {
    format!("{}+00:00", naive(micros))
}

fn naive(micros: i64) -> String {
    UtcTime::from_unix(
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000) as u32,
    )
    .isoformat()
}

/// Where the reader stopped at a gap in ids (PostgreSQL only).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Gap {
    /// The first missing id.
    id: i64,
    /// The transactions in progress just after the gap was seen: the one
    /// that took the missing id is among them (it took the id before the
    /// rows were read) unless it had already ended. Once none of them is
    /// in progress, the missing rows are committed or never will be.
    running: Vec<i64>,
}

/// Reads the events table in order, from a starting point.
#[derive(Debug, Clone)]
pub struct EventReader {
    last: i64,
    gap: Option<Gap>,
}

const EVENT_QUERY: &str = "SELECT e.id, e.at, e.kind, e.name, e.state, e.health, e.device, e.job, \
     e.start_time, e.end_time, j.description, j.priority, j.submit_time, j.submitter, \
     j.health_check, j.sub_id, j.target_group, j.requested_device_type, d.device_type, \
     cj.sub_id \
     FROM events e \
     LEFT JOIN jobs j ON e.kind = 'testjob' AND j.id = e.job \
     LEFT JOIN devices d ON e.kind = 'device' AND d.hostname = e.name \
     LEFT JOIN jobs cj ON e.kind = 'device' AND cj.id = e.job \
     WHERE e.id > $1 ORDER BY e.id LIMIT $2";

impl EventReader {
    /// A reader that starts after the newest event stored now.
    pub fn from_now(store: &SqlStore) -> Result<EventReader, StoreError> {
        let last = store
            .database()
            .transaction(|conn| conn.query_opt("SELECT MAX(id) FROM events", &[]))?
            .map(|row| row.opt_int(0))
            .transpose()?
            .flatten()
            .unwrap_or(0);
        Ok(EventReader { last, gap: None })
    }

    /// A reader that starts after event `id`.
    pub fn after(id: i64) -> EventReader {
        EventReader {
            last: id,
            gap: None,
        }
    }

    /// The id of the last event returned.
    pub fn last(&self) -> i64 {
        self.last
    }

    /// The next events in order (at most `limit`); empty when there are
    /// none yet, or when the next one may still be committed.
    pub fn next(&mut self, store: &SqlStore, limit: i64) -> Result<Vec<Event>, StoreError> {
        self.next_pausing(store, limit, || {})
    }

    /// [`EventReader::next`], calling `between` after the rows are read
    /// and before the transactions in progress are: for tests of what
    /// commits in between.
    #[doc(hidden)]
    pub fn next_pausing(
        &mut self,
        store: &SqlStore,
        limit: i64,
        between: impl FnOnce(),
    ) -> Result<Vec<Event>, StoreError> {
        let dialect = store.dialect();
        let (rows, snapshot) = store.database().transaction(|conn| {
            // PostgreSQL: the rows and the list of transactions in progress
            // must come from one snapshot. Under READ COMMITTED each
            // statement takes its own: a transaction holding a missing id
            // could commit between the two statements, so that its row is
            // not among the rows read and it is no longer in progress
            // either; the gap would then be passed as rolled back and the
            // event lost. REPEATABLE READ takes the snapshot at the first
            // statement and keeps it for the transaction (docs/metrics.md,
            // "Order").
            if dialect == Dialect::Postgres {
                conn.batch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            }
            let rows = conn.query(EVENT_QUERY, &[self.last.into(), limit.into()])?;
            between();
            // the same snapshot as the rows: every transaction that could
            // still add a row below the newest one read is in it, or had
            // ended (its row is read, or was rolled back) when it was taken
            let snapshot = if dialect == Dialect::Postgres {
                let running = conn
                    .query("SELECT txid_snapshot_xip(txid_current_snapshot())", &[])?
                    .iter()
                    .map(|r| r.int(0))
                    .collect::<Result<Vec<i64>, _>>()?;
                Some(running)
            } else {
                None
            };
            Ok((rows, snapshot))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.int(0)?;
            if id != self.last + 1 {
                if let Some(running) = &snapshot {
                    match &self.gap {
                        Some(gap)
                            if gap.id == self.last + 1
                                && !gap.running.iter().any(|x| running.contains(x)) =>
                        {
                            log::debug!(
                                "[EVENTS] ids {}..{} were rolled back",
                                self.last + 1,
                                id - 1
                            );
                        }
                        Some(gap) if gap.id == self.last + 1 => break,
                        _ => {
                            // the first sight of this gap: wait for the
                            // transactions running now
                            self.gap = Some(Gap {
                                id: self.last + 1,
                                running: running.clone(),
                            });
                            break;
                        }
                    }
                }
                // SQLite: one writer at a time, so a gap is a pruned or
                // rolled-back range, never one still to come.
            }
            self.gap = None;
            self.last = id;
            match event_from(&row) {
                Ok(event) => out.push(event),
                Err(e) => log::warn!("[EVENTS] event {id} skipped: {e}"),
            }
        }
        Ok(out)
    }
}

fn event_from(row: &crate::db::Row) -> Result<Event, StoreError> {
    let id = row.int(0)?;
    let datetime = naive(row.int(1)?);
    let kind = row.text(2)?;
    let name = row.text(3)?;
    let (state, health) = (row.int(4)?, row.int(5)?);
    let mut data = Map::new();
    let bad = |what: &str, code: i64| StoreError::Corrupt(format!("unknown {what} code {code}"));
    match kind.as_str() {
        "testjob" => {
            let state = JobState::from_code(state).ok_or_else(|| bad("job state", state))?;
            let health = JobHealth::from_code(health).ok_or_else(|| bad("job health", health))?;
            data.insert("health".into(), json!(health.label()));
            data.insert("state".into(), json!(state.label()));
            let job = row.int(7)?;
            data.insert("job".into(), json!(job));
            let submitter = row.opt_text(13)?.unwrap_or_default();
            if row.opt_text(13)?.is_some() {
                data.insert("description".into(), json!(row.opt_text(10)?));
                data.insert("priority".into(), json!(row.opt_int(11)?));
                if let Some(submit) = row.opt_int(12)? {
                    data.insert("submit_time".into(), json!(aware(submit)));
                }
                data.insert("submitter".into(), json!(submitter));
                data.insert("health_check".into(), json!(row.bool(14)?));
                if row.opt_text(16)?.is_some() {
                    data.insert("sub_id".into(), json!(row.opt_text(15)?));
                }
            }
            if let Some(device) = row.opt_text(6)? {
                data.insert("device".into(), json!(device));
            }
            if let Some(device_type) = row.opt_text(17)? {
                data.insert("device_type".into(), json!(device_type));
            }
            if let Some(start) = row.opt_int(8)? {
                data.insert("start_time".into(), json!(aware(start)));
            }
            if let Some(end) = row.opt_int(9)? {
                data.insert("end_time".into(), json!(aware(end)));
            }
            Ok(Event {
                id,
                suffix: ".testjob",
                datetime,
                username: submitter,
                data: Value::Object(data),
            })
        }
        "device" => {
            let state = DeviceState::from_code(state).ok_or_else(|| bad("device state", state))?;
            let health =
                DeviceHealth::from_code(health).ok_or_else(|| bad("device health", health))?;
            data.insert("health".into(), json!(health.label()));
            data.insert("state".into(), json!(state.label()));
            data.insert("device".into(), json!(name));
            data.insert(
                "device_type".into(),
                json!(row.opt_text(18)?.unwrap_or_default()),
            );
            if let Some(job) = row.opt_int(7)? {
                // LAVA's `display_id`: the sub_id (a string such as
                // "12.1") of a MultiNode sub-job, else the id (a number)
                let display = match row.opt_text(19)?.filter(|s| !s.is_empty()) {
                    Some(sub_id) => json!(sub_id),
                    None => json!(job),
                };
                data.insert("job".into(), display);
            }
            Ok(Event {
                id,
                suffix: ".device",
                datetime,
                username: "lavaserver".into(),
                data: Value::Object(data),
            })
        }
        "worker" => {
            let state = WorkerState::from_code(state).ok_or_else(|| bad("worker state", state))?;
            let health =
                WorkerHealth::from_code(health).ok_or_else(|| bad("worker health", health))?;
            data.insert("hostname".into(), json!(name));
            data.insert("health".into(), json!(health.label()));
            data.insert("state".into(), json!(state.label()));
            Ok(Event {
                id,
                suffix: ".worker",
                datetime,
                username: "lavaserver".into(),
                data: Value::Object(data),
            })
        }
        other => Err(StoreError::Corrupt(format!("unknown event kind '{other}'"))),
    }
}

/// Delete the events at or before `id` except the last 10,000 of them.
/// Returns the rows deleted.
pub fn prune(store: &SqlStore, id: i64) -> Result<u64, StoreError> {
    let below = id - KEEP;
    if below <= 0 {
        return Ok(0);
    }
    store.database().transaction(|conn| {
        let any = conn.query_opt(
            "SELECT 1 FROM events WHERE id <= $1 LIMIT 1",
            &[below.into()],
        )?;
        if any.is_none() {
            return Ok(0);
        }
        conn.execute("DELETE FROM events WHERE id <= $1", &[below.into()])
    })
}

/// The master's publisher: a PUB socket and a reader.
pub struct Publisher {
    socket: zmq::Socket,
    topic: String,
    reader: EventReader,
    published: u64,
}

impl Publisher {
    /// Bind `endpoint` (LAVA: `tcp://*:5500`); events committed from now on
    /// are published under `topic`.
    pub fn bind(
        ctx: &zmq::Context,
        endpoint: &str,
        topic: &str,
        store: &SqlStore,
    ) -> Result<Publisher, PublisherError> {
        let socket = ctx
            .socket(zmq::PUB)
            .map_err(PublisherError::zmq(endpoint))?;
        // keep-alive towards idle subscribers; up to 10,000 messages queued
        // for each slow subscriber before ZeroMQ drops (lava-publisher's
        // high-water mark)
        socket
            .set_sndhwm(10_000)
            .and_then(|()| socket.set_tcp_keepalive(1))
            .and_then(|()| socket.set_tcp_keepalive_idle(60))
            .and_then(|()| socket.set_linger(0))
            .and_then(|()| socket.bind(endpoint))
            .map_err(PublisherError::zmq(endpoint))?;
        log::info!("[INIT] publishing events on {endpoint} under '{topic}'");
        Ok(Publisher {
            socket,
            topic: topic.to_string(),
            reader: EventReader::from_now(store)?,
            published: 0,
        })
    }

    /// The endpoint bound (with the port chosen for `:*` or `:0`).
    pub fn endpoint(&self) -> String {
        self.socket
            .get_last_endpoint()
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// Send every event committed since the last call, in order.
    pub fn publish(&mut self, store: &SqlStore) -> Result<usize, StoreError> {
        let mut sent = 0;
        loop {
            let batch = self.reader.next(store, 500)?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for event in &batch {
                let frames = event.frames(&self.topic);
                if let Err(e) = self.socket.send_multipart(frames, 0) {
                    log::warn!("[EVENTS] event {} not sent: {e}", event.id);
                }
                sent += 1;
                self.published += 1;
            }
        }
    }

    /// A `lava-test-event` line of a job's log: `.event` with `message`
    /// and `job` (the job id as the log frame gives it), as LAVA's log
    /// daemon sends it. Not stored: a consumer that is not listening when
    /// the line arrives misses it, as with LAVA.
    pub fn log_event(&mut self, job: &str, message: Value) {
        let event = Event {
            id: 0,
            suffix: ".event",
            datetime: UtcTime::now().isoformat(),
            username: "lavaserver".into(),
            data: json!({"message": message, "job": job}),
        };
        if let Err(e) = self.socket.send_multipart(event.frames(&self.topic), 0) {
            log::warn!("[EVENTS] [{job}] test event not sent: {e}");
        }
    }

    /// Delete old rows (keeping a margin behind the last one published).
    pub fn prune(&self, store: &SqlStore) -> Result<u64, StoreError> {
        prune(store, self.reader.last())
    }
}

/// Why the publisher could not start.
#[derive(Debug, thiserror::Error)]
pub enum PublisherError {
    /// The socket could not be bound.
    #[error("event socket {endpoint}: {source}")]
    Zmq {
        /// The endpoint.
        endpoint: String,
        /// ZeroMQ's error.
        #[source]
        source: zmq::Error,
    },
    /// The store could not be read.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl PublisherError {
    fn zmq(endpoint: &str) -> impl Fn(zmq::Error) -> PublisherError + '_ {
        move |source| PublisherError::Zmq {
            endpoint: endpoint.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::store::*;

    #[test]
    fn uuid1_has_version_1_and_the_rfc_variant() {
        let u = uuid1();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "1", "{u}");
        assert!("89ab".contains(&u[19..20]), "{u}");
    }

    #[test]
    fn every_change_is_one_event_in_order_whoever_makes_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = SqlStore::open_url(&url).unwrap();
        store.add_worker(&NewWorker::new("w"), "t").unwrap();
        store.add_device_type(&NewDeviceType::new("qemu")).unwrap();
        store
            .add_device(&NewDevice::new("d", "qemu", "w"), "t")
            .unwrap();
        let mut reader = EventReader::from_now(&store).unwrap();
        let id = store
            .insert_job(&NewJob {
                submitter: "alice".into(),
                description: "smoke".into(),
                requested_device_type: Some("qemu".into()),
                priority: 50,
                ..Default::default()
            })
            .unwrap();
        // another connection, as another process would
        let other = SqlStore::open_url(&url).unwrap();
        other.assign_job(id, "d").unwrap();
        store.job_started(id).unwrap();
        store
            .finish_job(id, JobHealth::Complete, false, None, "lava-master")
            .unwrap();
        let events = reader.next(&store, 100).unwrap();
        let jobs: Vec<(String, String)> = events
            .iter()
            .filter(|e| e.suffix == ".testjob")
            .map(|e| {
                (
                    e.data["state"].as_str().unwrap().to_string(),
                    e.data["health"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            jobs,
            [
                ("Submitted", "Unknown"),
                ("Scheduled", "Unknown"),
                ("Running", "Unknown"),
                ("Finished", "Complete")
            ]
            .map(|(s, h)| (s.to_string(), h.to_string()))
        );
        let first = &events[0];
        assert_eq!(first.username, "alice");
        assert_eq!(first.data["job"], json!(id));
        assert_eq!(first.data["submitter"], json!("alice"));
        assert_eq!(first.data["description"], json!("smoke"));
        assert_eq!(first.data["device_type"], json!("qemu"));
        assert!(first.data["submit_time"]
            .as_str()
            .unwrap()
            .ends_with("+00:00"));
        let devices: Vec<&str> = events
            .iter()
            .filter(|e| e.suffix == ".device")
            .map(|e| e.data["state"].as_str().unwrap())
            .collect();
        assert_eq!(devices, ["Reserved", "Running", "Idle"]);
        let running = events
            .iter()
            .find(|e| e.suffix == ".device" && e.data["state"] == "Running")
            .unwrap();
        assert_eq!(running.data["job"], json!(id), "a number, not a string");
        assert_eq!(running.data["device_type"], json!("qemu"));
        assert!(reader.next(&store, 100).unwrap().is_empty());
        let frames = first.frames(DEFAULT_TOPIC);
        assert_eq!(frames[0], b"org.lavasoftware.testjob");
        assert_eq!(frames[3], b"alice");
    }
}
