//! lava-master: the control loop that workers connect to, the log sink, and
//! the scheduler wired to database change notifications.
//!
//! One thread polls three sockets: the control ROUTER (workers, port 5556),
//! the log PULL (lava-run processes, port 5555) and an in-process wake-up
//! socket fed by the database watcher (any committed change, from this
//! process or from the admin CLI). Each turn of the loop:
//!
//! 1. drains log lines first (so END is handled after the job's last line),
//! 2. handles control messages (HELLO, PING, START_OK, END, ...),
//! 3. runs a scheduling pass when something changed, and sends START for
//!    the jobs it scheduled at once,
//! 4. once a second: re-sends START/CANCEL that were not answered (1, 2, 4,
//!    ... up to 20 s apart), marks silent workers Offline after 60 s,
//!    reloads the authorised worker keys, finishes jobs whose END came
//!    without a final result after a grace period.
//!
//! Nothing is sent inside a database transaction: START goes out after the
//! assignment committed, and a worker drops duplicates.
//!
//! Differences from LAVA 2020.01 that a 2020.01 worker cannot notice
//! (docs/protocol.md §16): STATUS after every HELLO (D3), no START after END
//! (D4), an empty `description.yaml` for crashed jobs (D5), refused
//! messages about jobs of other workers (D13), per-message key checks so a
//! revoked worker is cut off at once (D10), logged refusals (D11), and
//! unknown workers refused unless `auto_register` is set (D12).

mod jobs;
mod logs;
mod prepare;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lava_proto::auth::{self, Authenticator};
use lava_proto::cert;
use lava_proto::control::{JobEnd, Message, PING_INTERVAL, PROTOCOL_VERSION};

use jobs::{end_step, EndFacts, EndStep, Finish, JobRecords, LogCount, Resend};
use lava_proto::socket::{self, Security};

pub use logs::{LogOutcome, LogSink};
pub use prepare::{output_dir, Devices};

use crate::error::StoreError;
use crate::model::{Job, JobHealth, JobState, WorkerState};
use crate::multinode;
use crate::scheduler;
use crate::store::{JobFilter, NewTestCase, SqlStore};

/// How the master is set up. Option names follow LAVA's `lava-master`.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Control endpoint to bind (`--master-socket`, LAVA: `tcp://*:5556`).
    pub master_socket: String,
    /// Log endpoint to bind (`--log-socket`, LAVA: `tcp://*:5555`).
    pub log_socket: String,
    /// Enable IPv6 on both sockets.
    pub ipv6: bool,
    /// CURVE: the master's secret certificate and the directory of the
    /// workers' public certificates (`--master-cert`, `--slaves-certs`).
    pub encrypt: Option<(PathBuf, PathBuf)>,
    /// Device-type template directories (`--device-types`).
    pub device_types: Vec<PathBuf>,
    /// Where job output directories are created (`--jobs-dir`).
    pub jobs_dir: PathBuf,
    /// Per-worker dispatcher configuration (`dispatcher.yaml`, `env.yaml`,
    /// `env.dut.yaml`), LAVA's `/etc/lava-server/dispatcher.d`.
    pub dispatcher_config: Option<PathBuf>,
    /// Create a worker the first time an unknown hostname talks (LAVA's
    /// behaviour); off by default: unknown workers get no answer.
    pub auto_register: bool,
    /// How long END may wait for the job's final result line.
    pub end_grace: Duration,
    /// Silence after which a worker is Offline (LAVA: 60 s).
    pub worker_timeout: Duration,
    /// MultiNode member tokens (`--coordinator-key`): START of a sub-job
    /// carries `protocols.lava-multinode.token` made with this key, never
    /// stored (docs/multinode.md §5).
    pub coordinator_key: Option<lava_proto::coordinator::Key>,
    /// `--metrics-bind ADDR`: answer `GET /metrics` there (docs/metrics.md).
    pub metrics_bind: Option<String>,
    /// `--event-socket URL`: publish state changes there as LAVA's
    /// lava-publisher does (LAVA: `tcp://*:5500`).
    pub event_socket: Option<String>,
    /// `--event-topic`: the events' topic prefix (LAVA: `org.lavasoftware`).
    pub event_topic: String,
}

impl MasterConfig {
    /// LAVA's defaults with the given directories.
    pub fn new(jobs_dir: impl Into<PathBuf>, device_types: Vec<PathBuf>) -> Self {
        MasterConfig {
            master_socket: "tcp://*:5556".into(),
            log_socket: "tcp://*:5555".into(),
            ipv6: false,
            encrypt: None,
            device_types,
            jobs_dir: jobs_dir.into(),
            dispatcher_config: None,
            auto_register: false,
            end_grace: Duration::from_secs(10),
            worker_timeout: Duration::from_secs(60),
            coordinator_key: None,
            metrics_bind: None,
            event_socket: None,
            event_topic: crate::events::DEFAULT_TOPIC.into(),
        }
    }
}

/// Why the master could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterError {
    /// A socket could not be set up.
    #[error("{0}")]
    Socket(#[from] socket::SocketError),
    /// A certificate could not be read.
    #[error("{0}")]
    Certificate(#[from] cert::CertError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The event publisher could not start.
    #[error("{0}")]
    Events(#[from] crate::events::PublisherError),
    /// The metrics listener could not start.
    #[error("metrics listener {addr}: {source}")]
    Metrics {
        /// The address asked for.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A ZeroMQ call failed.
    #[error("ZeroMQ: {0}")]
    Zmq(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

fn zmq_error(e: zmq::Error) -> MasterError {
    MasterError::Zmq(Box::new(e))
}

/// Wakes the master's loop from another thread.
#[derive(Clone)]
pub struct Waker {
    socket: Arc<Mutex<zmq::Socket>>,
    stop: Arc<AtomicBool>,
}

impl Waker {
    /// Make the loop look at the database again.
    pub fn wake(&self) {
        let socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        let _ = socket.send("", zmq::DONTWAIT);
    }

    /// The flag that stops the loop (for signal handlers: setting it stops
    /// the master within 200 ms).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Ask the loop to stop; [`Master::run`] returns soon after.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
    }
}

#[derive(Debug)]
struct Peer {
    last_seen: Instant,
    online: bool,
    last_db_ping: Instant,
    key: Option<String>,
}

/// The master daemon.
pub struct Master {
    config: MasterConfig,
    store: SqlStore,
    devices: Devices,
    sink: LogSink,
    _ctx: zmq::Context,
    control: zmq::Socket,
    logs: zmq::Socket,
    wake_rx: zmq::Socket,
    monitors: Vec<zmq::Socket>,
    waker: Waker,
    auth: Option<Authenticator>,
    keys_fingerprint: Option<Vec<(PathBuf, std::time::SystemTime)>>,
    peers: HashMap<String, Peer>,
    /// The protocol state of each job (see `jobs`).
    jobs: JobRecords,
    refused: HashMap<String, Instant>,
    /// START latency and log lines (docs/metrics.md).
    metrics: Arc<Mutex<crate::metrics::MasterMetrics>>,
    metrics_listener: Option<crate::metrics::MetricsListener>,
    publisher: Option<crate::events::Publisher>,
}

static NEXT_WAKE: AtomicUsize = AtomicUsize::new(0);

impl Master {
    /// Bind the sockets (and start the authenticator with `encrypt`).
    pub fn bind(config: MasterConfig, store: SqlStore) -> Result<Master, MasterError> {
        log::info!("[INIT] Starting lava-master");
        log::info!("[INIT] Using protocol version {PROTOCOL_VERSION}");
        let ctx = zmq::Context::new();
        let (security, auth) = match &config.encrypt {
            None => {
                log::debug!("[INIT] Connection is not encrypted");
                (Security::Null, None)
            }
            Some((master_cert, slaves_certs)) => {
                log::info!("[INIT] Starting encryption");
                log::debug!(
                    "[INIT] Opening master certificate: {}",
                    master_cert.display()
                );
                let pair = cert::load_pair(master_cert)?;
                log::debug!(
                    "[INIT] Using slaves certificates from: {}",
                    slaves_certs.display()
                );
                let keys = Self::load_keys(slaves_certs);
                (
                    Security::CurveServer(pair),
                    Some(Authenticator::start(&ctx, keys)?),
                )
            }
        };
        if config.ipv6 {
            log::info!("[INIT] Enabling IPv6");
        }
        let control = socket::master_control(&ctx, &config.master_socket, &security, config.ipv6)?;
        let logs = socket::log_sink(&ctx, &config.log_socket, &security, config.ipv6)?;
        let endpoint = format!(
            "inproc://lava-master-wake-{}",
            NEXT_WAKE.fetch_add(1, Ordering::Relaxed)
        );
        let wake_rx = ctx.socket(zmq::PULL).map_err(zmq_error)?;
        wake_rx.bind(&endpoint).map_err(zmq_error)?;
        let wake_tx = ctx.socket(zmq::PUSH).map_err(zmq_error)?;
        wake_tx.set_sndhwm(1).map_err(zmq_error)?;
        wake_tx.connect(&endpoint).map_err(zmq_error)?;
        let waker = Waker {
            socket: Arc::new(Mutex::new(wake_tx)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        // Handshake failures (wrong keys, plaintext peers) are otherwise
        // invisible to the application (D11).
        let failures = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32;
        let mut monitors = Vec::new();
        for socket in [&control, &logs] {
            let endpoint = format!(
                "inproc://lava-master-monitor-{}",
                NEXT_WAKE.fetch_add(1, Ordering::Relaxed)
            );
            socket.monitor(&endpoint, failures).map_err(zmq_error)?;
            let pair = ctx.socket(zmq::PAIR).map_err(zmq_error)?;
            pair.connect(&endpoint).map_err(zmq_error)?;
            monitors.push(pair);
        }
        let devices = Devices::new(&config.device_types);
        let sink = LogSink::new(&config.jobs_dir);
        let metrics = Arc::new(Mutex::new(crate::metrics::MasterMetrics::default()));
        let metrics_listener = match &config.metrics_bind {
            Some(addr) => Some(
                crate::metrics::MetricsListener::spawn(
                    addr,
                    store.clone(),
                    Arc::clone(&metrics),
                    Arc::new(AtomicBool::new(false)),
                )
                .map_err(|source| MasterError::Metrics {
                    addr: addr.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        let publisher = match &config.event_socket {
            Some(endpoint) => Some(crate::events::Publisher::bind(
                &ctx,
                endpoint,
                &config.event_topic,
                &store,
            )?),
            None => None,
        };
        Ok(Master {
            metrics,
            metrics_listener,
            publisher,
            keys_fingerprint: None,
            config,
            store,
            devices,
            sink,
            _ctx: ctx,
            control,
            logs,
            wake_rx,
            monitors,
            waker,
            auth,
            peers: HashMap::new(),
            jobs: JobRecords::default(),
            refused: HashMap::new(),
        })
    }

    fn load_keys(dir: &Path) -> auth::KeySet {
        match auth::load_authorized_dir(dir) {
            Ok((keys, errors)) => {
                for e in errors {
                    log::error!("[AUTH] skipping a worker certificate: {e}");
                }
                keys
            }
            Err(e) => {
                log::error!("[AUTH] no worker is authorised: {e}");
                auth::KeySet::new()
            }
        }
    }

    /// The control endpoint actually bound (useful with port `*`).
    pub fn control_endpoint(&self) -> String {
        self.control
            .get_last_endpoint()
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// The log endpoint actually bound.
    pub fn log_endpoint(&self) -> String {
        self.logs
            .get_last_endpoint()
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// The address of the `--metrics-bind` listener, when there is one.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener.as_ref().map(|l| l.local_addr())
    }

    /// The endpoint of the `--event-socket` publisher, when there is one.
    pub fn event_endpoint(&self) -> Option<String> {
        self.publisher.as_ref().map(|p| p.endpoint())
    }

    /// Publish the events committed since the last call (docs/metrics.md).
    fn publish_events(&mut self) {
        if let Some(publisher) = &mut self.publisher {
            if let Err(e) = publisher.publish(&self.store) {
                log::error!("[EVENTS] cannot read the events: {e}");
            }
        }
    }

    /// Once a minute: bound the events table; store the master's metrics
    /// for the HTTP service when they changed (every few seconds).
    fn metrics_housekeeping(&mut self, prune: bool) {
        let persisted = self
            .metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .persist(&self.store);
        if let Err(e) = persisted {
            log::warn!("[METRICS] cannot store the master's metrics: {e}");
        }
        if prune {
            let pruned = match &self.publisher {
                Some(publisher) => publisher.prune(&self.store),
                None => crate::events::EventReader::from_now(&self.store)
                    .and_then(|r| crate::events::prune(&self.store, r.last())),
            };
            match pruned {
                Ok(0) => {}
                Ok(n) => log::debug!("[EVENTS] {n} old events deleted"),
                Err(e) => log::warn!("[EVENTS] cannot prune the events: {e}"),
            }
        }
    }

    /// A handle to wake or stop the loop from another thread.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// Run until [`Waker::shutdown`].
    pub fn run(&mut self) -> Result<(), MasterError> {
        log::info!("[INIT] Marking all workers as offline");
        self.store.mark_all_workers_offline()?;
        let waker = self.waker.clone();
        let _watcher = self
            .store
            .database()
            .watch_changes(Box::new(move || waker.wake()))?;
        log::info!("[INIT] Starting main loop");
        let mut need_pass = true;
        let mut last_sweep = Instant::now();
        let mut last_full_pass = Instant::now();
        let mut last_metrics = Instant::now();
        let mut last_prune = Instant::now();
        while !self.waker.stop.load(Ordering::SeqCst) {
            let mut items = [
                self.logs.as_poll_item(zmq::POLLIN),
                self.control.as_poll_item(zmq::POLLIN),
                self.wake_rx.as_poll_item(zmq::POLLIN),
                self.monitors[0].as_poll_item(zmq::POLLIN),
                self.monitors[1].as_poll_item(zmq::POLLIN),
            ];
            match zmq::poll(&mut items, 200) {
                Ok(_) => {}
                // A signal (SIGTERM, SIGHUP) interrupted the wait: look at
                // the stop flag and go on (docs/operations.md, signals).
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(zmq_error(e)),
            }
            let (logs_ready, control_ready, woken, failures) = (
                items[0].is_readable(),
                items[1].is_readable(),
                items[2].is_readable(),
                items[3].is_readable() || items[4].is_readable(),
            );
            if failures {
                self.log_handshake_failures();
            }
            if woken {
                while self.wake_rx.recv_bytes(zmq::DONTWAIT).is_ok() {}
                need_pass = true;
                self.publish_events();
            }
            if logs_ready && self.drain_logs() {
                need_pass = true;
            }
            if control_ready {
                // Logs first: lines queued before an END are stored before it.
                self.drain_logs();
                loop {
                    match socket::try_recv(&self.control) {
                        Ok(Some(received)) => need_pass |= self.handle_control(received),
                        // interrupted by a signal: the next turn reads the rest
                        Ok(None) | Err(zmq::Error::EINTR) => break,
                        Err(e) => return Err(zmq_error(e)),
                    }
                }
            }
            if need_pass
                || last_full_pass.elapsed() >= Duration::from_secs(u64::from(PING_INTERVAL))
            {
                need_pass = false;
                last_full_pass = Instant::now();
                self.schedule_and_start();
                self.send_cancels();
            }
            if last_sweep.elapsed() >= Duration::from_millis(500) {
                last_sweep = Instant::now();
                self.sweep();
                // a gap left by a rollback wakes nobody
                self.publish_events();
            }
            if last_metrics.elapsed() >= Duration::from_secs(2) {
                last_metrics = Instant::now();
                let prune = last_prune.elapsed() >= Duration::from_secs(60);
                if prune {
                    last_prune = Instant::now();
                }
                self.metrics_housekeeping(prune);
            }
        }
        log::info!("[EXIT] lava-master stopped");
        Ok(())
    }

    /// Log refused handshakes (the ZAP handler logs the peer's address and
    /// key; a mechanism mismatch is only seen here, with our endpoint).
    fn log_handshake_failures(&self) {
        for (monitor, which) in self.monitors.iter().zip(["control", "log"]) {
            while let Ok(frames) = monitor.recv_multipart(zmq::DONTWAIT) {
                let (Some(event), Some(address)) = (frames.first(), frames.get(1)) else {
                    continue;
                };
                if event.len() < 2 {
                    continue;
                }
                let kind =
                    match zmq::SocketEvent::from_raw(u16::from_le_bytes([event[0], event[1]])) {
                        zmq::SocketEvent::HANDSHAKE_FAILED_AUTH => "authentication refused",
                        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => {
                            "protocol error (encryption mismatch?)"
                        }
                        _ => "handshake failed",
                    };
                log::warn!(
                    "[AUTH] {kind} on the {which} socket ({})",
                    String::from_utf8_lossy(address)
                );
            }
        }
    }

    /// Store every queued log line; true when a job finished.
    fn drain_logs(&mut self) -> bool {
        let mut finished = false;
        let mut stored = 0;
        while let Ok(frames) = socket::recv_log(&self.logs, zmq::DONTWAIT) {
            self.test_event(&frames);
            match self.sink.handle(&self.store, &frames) {
                LogOutcome::JobFinished(id) => {
                    stored += 1;
                    finished = true;
                    self.result_arrived(id);
                }
                LogOutcome::Stored => stored += 1,
                LogOutcome::Dropped => {}
            }
        }
        self.metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .log_lines(stored);
        finished
    }

    /// A `lava-test-event` line (level `event`) is also published as a
    /// `.event` (docs/metrics.md, "Events"); only lines that may be one are
    /// parsed twice.
    fn test_event(&mut self, frames: &[Vec<u8>]) {
        let Some(publisher) = &mut self.publisher else {
            return;
        };
        let [job, line] = frames else { return };
        const EVENT: &[u8] = b"\"lvl\": \"event\"";
        if !line.windows(EVENT.len()).any(|w| w == EVENT) {
            return;
        }
        let Ok(record) = lava_proto::log::LogRecord::parse(&String::from_utf8_lossy(line)) else {
            return;
        };
        if record.lvl == lava_proto::log::LogLevel::Event {
            let message = serde_json::to_value(&record.msg).unwrap_or_default();
            publisher.log_event(&String::from_utf8_lossy(job), message);
        }
    }

    /// A job's final result was stored: an END waiting for it is complete.
    fn result_arrived(&mut self, id: i64) {
        if self.jobs.get(id).result_deadline.take().is_some() {
            log::info!("[{id}] END completed by its final result");
        }
    }

    fn send(&self, hostname: &str, message: &Message) {
        if let Err(e) = socket::send(&self.control, hostname.as_bytes(), message) {
            log::warn!("cannot send {message} to {hostname}: {e}");
        }
    }

    /// Whether a message from `hostname` (authenticated as `user_id`) may
    /// be handled.
    fn admitted(&mut self, hostname: &str, user_id: Option<&str>) -> bool {
        let Some(auth) = &self.auth else { return true };
        let Some(key) = user_id else {
            log::warn!("[AUTH] dropping a message from {hostname}: no authenticated key");
            return false;
        };
        if !auth.is_authorized(key) {
            self.warn_refused(
                hostname,
                &format!(
                    "[AUTH] dropping a message from {hostname}: key {key} is no longer authorised"
                ),
            );
            return false;
        }
        if let Some(peer) = self.peers.get(hostname) {
            if let Some(bound) = &peer.key {
                if bound != key && auth.is_authorized(bound) {
                    self.warn_refused(
                        hostname,
                        &format!("[AUTH] refusing {hostname} with key {key}: the worker uses key {bound}"),
                    );
                    return false;
                }
            }
        }
        true
    }

    fn warn_refused(&mut self, hostname: &str, text: &str) {
        let now = Instant::now();
        let recent = self
            .refused
            .get(hostname)
            .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(10));
        if !recent {
            log::warn!("{text}");
            self.refused.insert(hostname.to_string(), now);
        }
    }

    /// Handle one control message; true when scheduling may have changed.
    fn handle_control(&mut self, received: socket::Received) -> bool {
        let hostname = received.peer();
        if !self.admitted(&hostname, received.user_id.as_deref()) {
            return false;
        }
        let message = match received.message() {
            Ok(message) => message,
            Err(e) => {
                log::warn!("invalid message from {hostname}: {e}");
                return false;
            }
        };
        if received.routing_id == socket::LOGS_ID {
            // LAVA's log daemon only pings.
            if message == Message::Ping {
                self.send(
                    &hostname,
                    &Message::Pong {
                        interval: PING_INTERVAL,
                    },
                );
            } else {
                log::warn!("lava-logs => {message}: ignored");
            }
            return false;
        }
        match self.store.worker(&hostname) {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) if self.config.auto_register => {
                let worker = crate::store::NewWorker {
                    description: format!(
                        "Created by lava-master ({})",
                        lava_proto::time::UtcTime::now()
                    ),
                    ..crate::store::NewWorker::new(hostname.clone())
                };
                if let Err(e) = self.store.add_worker(&worker, "lava-master") {
                    log::warn!("cannot register worker {hostname}: {e}");
                    return false;
                }
                log::info!("New dispatcher {hostname} registered");
            }
            Err(StoreError::NotFound { .. }) => {
                self.warn_refused(
                    &hostname,
                    &format!("unknown worker {hostname} => {message}: ignored (add it with `lava-server manage workers add {hostname}`)"),
                );
                return false;
            }
            Err(e) => {
                log::error!("cannot look up worker {hostname}: {e}");
                return false;
            }
        }
        let key = received.user_id.clone();
        match message {
            Message::Hello { version } | Message::HelloRetry { version } => {
                let retry = matches!(message, Message::HelloRetry { .. });
                if version != PROTOCOL_VERSION {
                    log::warn!("{hostname} using protocol v{version} while master is using v{PROTOCOL_VERSION}");
                    return false;
                }
                log::info!(
                    "{hostname} => {}",
                    if retry { "HELLO_RETRY" } else { "HELLO" }
                );
                self.send(&hostname, &Message::HelloOk);
                match self.peers.get(&hostname) {
                    None => log::info!("New dispatcher {hostname}"),
                    Some(_) if retry => log::info!("Dispatcher {hostname} was not confirmed"),
                    Some(_) => log::info!("Dispatcher {hostname} has RESTARTED"),
                }
                let changed = self.alive(&hostname, key);
                // D3: a restarted worker may have lost jobs; ask.
                self.send_status(&hostname);
                changed
            }
            Message::Ping => {
                log::debug!("{hostname} => PING");
                self.send(
                    &hostname,
                    &Message::Pong {
                        interval: PING_INTERVAL,
                    },
                );
                self.alive(&hostname, key)
            }
            Message::StartOk { job_id } => {
                let job_id = job_id as i64;
                if !self.owns(&hostname, job_id) {
                    return false;
                }
                log::info!("[{job_id}] {hostname} => START_OK");
                self.jobs.get(job_id).start = None;
                self.metrics
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .start_ok(job_id, Instant::now());
                if let Err(e) = self.store.job_started(job_id) {
                    log::warn!("[{job_id}] START_OK not applied: {e}");
                }
                self.alive(&hostname, key);
                false
            }
            Message::End(end) => {
                let changed = self.handle_end(&hostname, end);
                self.alive(&hostname, key) || changed
            }
            Message::LogSyncData { job_id, journal_xz } => {
                let changed = self.alive(&hostname, key);
                self.handle_log_sync(&hostname, job_id as i64, &journal_xz) || changed
            }
            other => {
                log::warn!("{hostname} => {other}: unexpected from a worker, ignored");
                false
            }
        }
    }

    /// The worker of the device a job runs on; for a multinode connection
    /// sub-job, the worker of its host role's device.
    fn worker_of(&self, job: &Job) -> Option<String> {
        let device = match &job.actual_device {
            Some(device) => device.clone(),
            None => self.host_job(job)?.actual_device?,
        };
        self.store.device(&device).ok().and_then(|d| d.worker)
    }

    /// The host-role sub-job of a multinode connection sub-job (a sub-job
    /// with a `host_role` and no device type; docs/multinode.md §4).
    fn host_job(&self, job: &Job) -> Option<Job> {
        if job.requested_device_type.is_some() {
            return None;
        }
        let group = job.target_group.as_deref()?;
        let host_role = multinode::member(&job.definition)?.host_role?;
        self.store
            .group_jobs(group)
            .ok()?
            .into_iter()
            .find(|other| {
                other.actual_device.is_some()
                    && multinode::member(&other.definition).is_some_and(|m| m.role == host_role)
            })
    }

    /// The member token of a multinode sub-job, when the master has a
    /// coordinator key.
    fn member_token(&self, job: &Job) -> Option<String> {
        let key = self.config.coordinator_key.as_ref()?;
        job.target_group.as_ref()?;
        let member = multinode::member(&job.definition)?;
        Some(key.token(
            &member.target_group,
            &job.id.to_string(),
            &member.role,
            member.group_size,
        ))
    }

    /// Whether `job_id` runs on a device of `hostname` (D13).
    fn owns(&self, hostname: &str, job_id: i64) -> bool {
        let owner = self
            .store
            .job(job_id)
            .ok()
            .and_then(|job| self.worker_of(&job));
        if owner.as_deref() == Some(hostname) {
            true
        } else {
            log::warn!(
                "[{job_id}] message from {hostname} ignored: the job is not on one of its devices"
            );
            false
        }
    }

    /// Record a sign of life; true when the worker came Online.
    fn alive(&mut self, hostname: &str, key: Option<String>) -> bool {
        let now = Instant::now();
        let known = self.peers.contains_key(hostname);
        let peer = self
            .peers
            .entry(hostname.to_string())
            .or_insert_with(|| Peer {
                last_seen: now,
                online: false,
                last_db_ping: now - Duration::from_secs(3600),
                key: None,
            });
        peer.last_seen = now;
        if key.is_some() {
            peer.key = key;
        }
        let became_online = !peer.online;
        let ping_due = peer.last_db_ping.elapsed() >= Duration::from_secs(u64::from(PING_INTERVAL));
        peer.online = true;
        if became_online || ping_due {
            peer.last_db_ping = now;
            match self.store.set_worker_state(hostname, WorkerState::Online) {
                Ok(true) => log::info!("[STATE] Dispatcher {hostname} goes ONLINE"),
                Ok(false) => {}
                Err(e) => log::error!("cannot mark {hostname} online: {e}"),
            }
        }
        if !known {
            // A worker this master has not heard from since it started:
            // resynchronise its running jobs.
            log::info!("Unknown dispatcher {hostname} (server restarted?)");
            self.send_status(hostname);
        }
        became_online
    }

    fn send_status(&self, hostname: &str) {
        match self.store.jobs_on_worker(hostname, &[JobState::Running]) {
            Ok(jobs) => {
                for job in jobs {
                    log::info!(
                        "[{}] STATUS => {hostname} ({})",
                        job.id,
                        job.actual_device.as_deref().unwrap_or("-")
                    );
                    self.send(
                        hostname,
                        &Message::Status {
                            job_id: job.id as u64,
                        },
                    );
                }
            }
            Err(e) => log::error!("cannot list the jobs of {hostname}: {e}"),
        }
    }

    /// The journal a worker sent for LOG_SYNC: the job's log rebuilt from
    /// it; true when that finished the job. Whatever goes wrong, the job is
    /// marked synced: its next END is acknowledged with the log as stored
    /// (a job never waits on its log forever).
    fn handle_log_sync(&mut self, hostname: &str, job_id: i64, journal_xz: &[u8]) -> bool {
        log::info!("[{job_id}] {hostname} => LOG_SYNC_DATA");
        if self.jobs.peek(job_id).map(|r| r.log) != Some(LogCount::Short) {
            log::warn!("[{job_id}] LOG_SYNC_DATA from {hostname} not asked for: ignored");
            return false;
        }
        if !self.owns(hostname, job_id) || !self.jobs.get(job_id).take_log_sync() {
            return false;
        }
        let journal = match lava_proto::xz::decompress_journal(journal_xz) {
            Ok(journal) => journal,
            Err(e) => {
                log::warn!("[{job_id}] journal from {hostname} not applied: {e}");
                return false;
            }
        };
        // the lines still queued are in the journal too: store them first so
        // that the rebuild starts from a quiet log
        let mut finished = self.drain_logs();
        match self
            .sink
            .resync(&self.store, job_id, &String::from_utf8_lossy(&journal))
        {
            Ok(LogOutcome::JobFinished(id)) => {
                finished = true;
                self.result_arrived(id);
            }
            Ok(_) => {}
            Err(e) => log::warn!("[{job_id}] journal from {hostname} not applied: {e}"),
        }
        finished
    }

    /// END from a worker; true when a job finished. The decision is
    /// [`jobs::end_step`]'s; this reads its facts and carries it out.
    fn handle_end(&mut self, hostname: &str, end: JobEnd) -> bool {
        let job_id = end.job_id as i64;
        log::info!("[{job_id}] {hostname} => END");
        // lines already queued count (and may finish the job)
        let drained = end.log_lines.is_some() && self.drain_logs();
        let job = self.store.job(job_id).ok();
        let owned = job
            .as_ref()
            .is_some_and(|job| self.worker_of(job).as_deref() == Some(hostname));
        let dir = job.as_ref().map(|job| self.sink.output_dir(job));
        let description_path = dir.as_ref().map(|dir| dir.join("description.yaml"));
        let facts = EndFacts {
            known: job.is_some(),
            finished: job.as_ref().is_some_and(|j| j.state == JobState::Finished),
            owned,
            description_exists: description_path.as_ref().is_some_and(|p| p.exists()),
            sent_lines: end.log_lines,
            stored_lines: match (&job, end.log_lines) {
                (Some(job), Some(_)) if owned => self.sink.stored_lines(job),
                _ => 0,
            },
            crash: end.is_crash(),
            saw_final_result: self.sink.saw_final_result(job_id),
        };
        let step = match (&dir, &description_path) {
            // no record is made for a job that does not exist
            (Some(_), Some(_)) => end_step(self.jobs.get(job_id), &facts),
            _ => EndStep::Unknown,
        };
        let finish = match step {
            EndStep::Unknown => {
                log::warn!("[{job_id}] END for an unknown job: acknowledged");
                self.send(hostname, &Message::EndOk { job_id: end.job_id });
                return drained;
            }
            EndStep::NotOwner => {
                log::warn!(
                    "[{job_id}] message from {hostname} ignored: the job is not on one of its devices"
                );
                return drained;
            }
            EndStep::Duplicate => {
                log::info!("[{job_id}] END (duplicated), skipping");
                self.send(hostname, &Message::EndOk { job_id: end.job_id });
                return drained;
            }
            EndStep::WaitForLog { sent, stored } => {
                log::info!(
                    "[{job_id}] END counts {sent} log lines, {stored} are stored: waiting for the rest"
                );
                return drained;
            }
            EndStep::LogSync { sent, stored } => {
                log::warn!(
                    "[{job_id}] {hostname} sent {sent} log lines, {stored} are stored: LOG_SYNC => {hostname}"
                );
                self.send(hostname, &Message::LogSync { job_id: end.job_id });
                return drained;
            }
            EndStep::Accept(finish) => finish,
        };
        let (Some(dir), Some(description_path)) = (dir, description_path) else {
            return drained; // accepted implies a known job
        };
        let description = match end.description() {
            Ok(description) => description,
            Err(e) => {
                log::warn!("[{job_id}] unreadable description: {e}");
                None
            }
        };
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::write(
                &description_path,
                description.as_deref().unwrap_or_default(),
            )
        }) {
            log::error!(
                "[{job_id}] cannot write {}: {e}",
                description_path.display()
            );
        }
        let mut finished = false;
        match finish {
            Finish::Nothing => {}
            Finish::Crashed => {
                let comment = if end.errors.trim().is_empty() {
                    "lava-run crashed (no description)".to_string()
                } else {
                    log::warn!("[{job_id}] lava-run crashed: {}", end.errors.trim());
                    end.errors.clone()
                };
                match self.store.finish_job(
                    job_id,
                    JobHealth::Incomplete,
                    false,
                    Some(&comment),
                    "lava-master",
                ) {
                    Ok(job) => {
                        log::info!("[{job_id}] job status: {}", job.health);
                        finished = true;
                    }
                    Err(e) => log::warn!("[{job_id}] END not applied: {e}"),
                }
            }
            Finish::AwaitResult => {
                // The final result line may still be on its way.
                self.jobs.get(job_id).result_deadline =
                    Some(Instant::now() + self.config.end_grace);
            }
        }
        self.send(hostname, &Message::EndOk { job_id: end.job_id });
        finished || drained
    }

    /// One scheduling pass, then START for what it scheduled.
    fn schedule_and_start(&mut self) {
        match scheduler::schedule(&self.store, &self.devices) {
            Ok(report) => {
                for (device, why) in &report.bad_devices {
                    log::warn!("[SCHED] device {device} set Bad: {why}");
                }
                if report.scheduled().next().is_some() {
                    self.send_starts(true);
                }
            }
            Err(e) => log::error!("[SCHED] scheduling pass failed: {e}"),
        }
    }

    /// Send START for Scheduled jobs whose worker is online: new ones at
    /// once, unanswered ones when their back-off expires.
    fn send_starts(&mut self, only_new: bool) {
        let jobs = match self.store.jobs(&JobFilter {
            states: vec![JobState::Scheduled],
            ..Default::default()
        }) {
            Ok(jobs) => jobs,
            Err(e) => {
                log::error!("cannot list scheduled jobs: {e}");
                return;
            }
        };
        if !only_new {
            let scheduled: HashSet<i64> = jobs.iter().map(|j| j.id).collect();
            self.jobs.forget_settled(|id| scheduled.contains(&id));
        }
        for job in jobs.into_iter().rev() {
            // A connection sub-job starts once, on its host role's device's
            // worker, in the pass that starts the host (S1 fixed).
            let device_name = match job.actual_device.clone() {
                Some(device) => device,
                None => match self.host_job(&job).and_then(|host| host.actual_device) {
                    Some(device) => device,
                    None => continue,
                },
            };
            let now = Instant::now();
            if !self
                .jobs
                .peek(job.id)
                .is_none_or(|r| r.start_due(only_new, now))
            {
                continue;
            }
            let device = match self.store.device(&device_name) {
                Ok(device) => device,
                Err(e) => {
                    log::error!("[{}] cannot read device {device_name}: {e}", job.id);
                    continue;
                }
            };
            let Some(worker) = device.worker.clone() else {
                continue;
            };
            if !self.peers.get(&worker).is_some_and(|p| p.online) {
                continue;
            }
            let dir = self.sink.output_dir(&job);
            if dir.join("description.yaml").exists() {
                // D4: the job already ran; never start it again.
                self.jobs.get(job.id).ended = true;
                continue;
            }
            let token = self.member_token(&job);
            match prepare::start_payload(
                &self.devices,
                &job,
                &device,
                self.config.dispatcher_config.as_deref(),
                &dir,
                token.as_deref(),
            ) {
                Ok(start) => {
                    log::info!("[{}] START => {worker} ({device_name})", job.id);
                    self.send(&worker, &Message::Start(Box::new(start)));
                    self.metrics
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .start_sent(job.id, Instant::now());
                    let record = self.jobs.get(job.id);
                    record.start = Some(Resend::after(record.start, Instant::now()));
                }
                Err(why) => self.start_failed(job.id, &why),
            }
        }
    }

    /// A job that cannot be started: Incomplete with an infrastructure
    /// error, and a `lava`/`job` result saying why (docs/scheduler.md §2.6).
    fn start_failed(&mut self, job_id: i64, why: &str) {
        log::error!("[{job_id}] cannot start the job: {why}");
        let metadata = lava_proto::yaml::to_flow_line(&lava_proto::yaml::Value::Mapping(
            [
                ("case", "job"),
                ("definition", "lava"),
                ("error_msg", why),
                ("error_type", "Infrastructure"),
                ("result", "fail"),
            ]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        ));
        let case = NewTestCase {
            suite: "lava".into(),
            name: "job".into(),
            result: Some(crate::model::TestResultCode::Fail),
            metadata: Some(metadata),
            ..Default::default()
        };
        if let Err(e) = self.store.add_test_case(job_id, &case) {
            log::error!("[{job_id}] cannot store the failure: {e}");
        }
        if let Err(e) = self.store.finish_job(
            job_id,
            JobHealth::Incomplete,
            true,
            Some(why),
            "lava-master",
        ) {
            log::error!("[{job_id}] cannot finish the job: {e}");
        }
    }

    /// CANCEL for Canceling jobs whose worker is online.
    fn send_cancels(&mut self) {
        let jobs = match self.store.jobs(&JobFilter {
            states: vec![JobState::Canceling],
            ..Default::default()
        }) {
            Ok(jobs) => jobs,
            Err(e) => {
                log::error!("cannot list canceling jobs: {e}");
                return;
            }
        };
        let canceling: HashSet<i64> = jobs.iter().map(|j| j.id).collect();
        self.jobs.keep_cancels(|id| canceling.contains(&id));
        for job in jobs {
            let now = Instant::now();
            if self.jobs.get(job.id).cancel.is_some_and(|r| !r.due(now)) {
                continue;
            }
            let Some(worker) = self.worker_of(&job) else {
                continue;
            };
            if !self.peers.get(&worker).is_some_and(|p| p.online) {
                continue;
            }
            log::info!("[{}] CANCEL => {worker}", job.id);
            self.send(
                &worker,
                &Message::Cancel {
                    job_id: job.id as u64,
                },
            );
            let record = self.jobs.get(job.id);
            record.cancel = Some(Resend::after(record.cancel, now));
        }
    }

    /// Periodic work: liveness, resends, grace periods, key reloads.
    fn sweep(&mut self) {
        let timeout = self.config.worker_timeout;
        let silent: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.online && p.last_seen.elapsed() > timeout)
            .map(|(h, _)| h.clone())
            .collect();
        for hostname in silent {
            if let Some(peer) = self.peers.get_mut(&hostname) {
                peer.online = false;
            }
            log::info!("[STATE] Dispatcher {hostname} goes OFFLINE");
            if let Err(e) = self.store.set_worker_state(&hostname, WorkerState::Offline) {
                log::error!("cannot mark {hostname} offline: {e}");
            }
        }
        for job_id in self.jobs.take_expired_results(Instant::now()) {
            if self.sink.saw_final_result(job_id) {
                continue;
            }
            let why = "lava-run ended without sending the final result";
            log::warn!("[{job_id}] {why}");
            if let Err(e) = self.store.finish_job(
                job_id,
                JobHealth::Incomplete,
                true,
                Some(why),
                "lava-master",
            ) {
                log::warn!("[{job_id}] not finished: {e}");
            }
        }
        self.send_starts(false);
        self.send_cancels();
        self.sink.close_idle();
        self.reload_keys();
    }

    /// Re-read the authorised keys when the directory changed.
    fn reload_keys(&mut self) {
        let (Some(auth), Some((_, dir))) = (&self.auth, &self.config.encrypt) else {
            return;
        };
        let mut listing: Vec<(PathBuf, std::time::SystemTime)> = std::fs::read_dir(dir)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter_map(|e| Some((e.path(), e.metadata().ok()?.modified().ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        listing.sort();
        if self.keys_fingerprint.as_ref() == Some(&listing) {
            return;
        }
        if self.keys_fingerprint.is_some() {
            log::info!("[AUTH] Reloading certificates from {}", dir.display());
        }
        self.keys_fingerprint = Some(listing);
        auth.set_keys(Self::load_keys(dir));
        // D10: a connection authenticated with a revoked key is cut off now,
        // not when it happens to reconnect.
        let revoked: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.online && p.key.as_deref().is_some_and(|k| !auth.is_authorized(k)))
            .map(|(h, _)| h.clone())
            .collect();
        for hostname in revoked {
            log::warn!("[AUTH] worker {hostname} cut off: its key is no longer authorised");
            if let Some(peer) = self.peers.get_mut(&hostname) {
                peer.online = false;
            }
            if let Err(e) = self.store.set_worker_state(&hostname, WorkerState::Offline) {
                log::error!("cannot mark {hostname} offline: {e}");
            }
        }
    }
}
