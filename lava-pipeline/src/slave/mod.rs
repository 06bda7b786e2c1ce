//! lava-slave: the worker daemon. It connects *out* to the master, greets
//! it, keeps pinging, and runs each job in a `lava-run` process.
//!
//! The worker declares nothing about its devices: everything it needs comes
//! in START (job definition, device configuration, dispatcher
//! configuration, environment). Its job table (SQLite) survives restarts,
//! and lava-run processes run in their own process group, so the worker can
//! be restarted at any time without touching running jobs; it then reports
//! their END when they finish.
//!
//! Protocol (docs/protocol.md §5–8), with LAVA 2020.01's defects fixed as §16
//! suggests: PING whenever nothing was *sent* for a ping interval (D6),
//! processes identified by pid and start time (D7), the configured
//! `--slave-dir` used for cleanup (D8), stderr read lossily (D14), START of
//! an already acknowledged job answered with END (D4), and a fresh socket
//! for every HELLO_RETRY (libzmq does not reconnect after a refused CURVE
//! handshake).

pub use http::FileServer;
mod http;
mod jobs;
mod process;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lava_proto::cert;
use lava_proto::control::{JobEnd, Message, StartJob, PROTOCOL_VERSION};
use lava_proto::socket::{self, ConnectOptions, Security, MASTER_ID};

use crate::run::RunOptions;
use jobs::{unix_now, JobTable, SlaveJob, SlaveJobStatus};
use process::ProcessId;

/// How long to wait for HELLO_OK before HELLO_RETRY.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often jobs are checked and unanswered ENDs re-sent.
const END_RESEND: Duration = Duration::from_secs(5);
/// After CANCEL, LAVA's worker sends SIGTERM again after 60 s and SIGKILL
/// after 120 s (FINISH_MAX_DURATION).
pub const CANCEL_GRACE: Duration = Duration::from_secs(60);

/// How a worker is set up. Option names follow LAVA's `lava-slave`.
#[derive(Debug, Clone)]
pub struct SlaveConfig {
    /// The master's control endpoint (`--master`, e.g. `tcp://master:5556`).
    pub master: String,
    /// The master's log endpoint, handed to lava-run (`--socket-addr`).
    pub socket_addr: String,
    /// This worker's name (`--hostname`); its identity on the control channel.
    pub hostname: String,
    /// The job table and per-job directories (`--slave-dir`).
    pub slave_dir: PathBuf,
    /// lava-run's download directory root (LAVA: `/var/lib/lava/dispatcher/tmp`).
    pub dispatcher_tmp: PathBuf,
    /// The lava-run program (`--lava-run`), started with the command line
    /// of [`RunOptions::to_args`]. It may be LAVA's own lava-run, ours,
    /// or the lab's own binary whose `main` calls
    /// [`crate::run::main_with`] with a registry holding its own
    /// strategies (see `examples/custom-lava-run.rs`).
    pub lava_run: PathBuf,
    /// CURVE: the master's public certificate and our secret certificate
    /// (`--master-cert`, `--slave-cert`).
    pub encrypt: Option<(PathBuf, PathBuf)>,
    /// IPv6 and SOCKS proxy.
    pub connect: ConnectOptions,
    /// After CANCEL: SIGTERM again after this long, SIGKILL after twice
    /// this long ([`CANCEL_GRACE`] in LAVA).
    pub cancel_grace: Duration,
    /// Serve the jobs' download directories over HTTP on this address
    /// (`--http-bind`, e.g. `0.0.0.0:80`); see [`FileServer`].
    pub http_bind: Option<String>,
}

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlaveError {
    /// A socket could not be set up.
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    /// A certificate could not be read.
    #[error(transparent)]
    Certificate(#[from] cert::CertError),
    /// The job table could not be opened.
    #[error("job table {}: {source}", path.display())]
    Jobs {
        /// The table's file.
        path: PathBuf,
        /// The database's error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A directory or the HTTP server could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being set up.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The worker daemon.
pub struct Slave {
    config: SlaveConfig,
    ctx: zmq::Context,
    security: Security,
    socket: zmq::Socket,
    jobs: JobTable,
    children: HashMap<i64, Child>,
    last_sent: Instant,
    last_received: Instant,
    ping_interval: Duration,
    master_online: bool,
    last_end: HashMap<i64, Instant>,
    /// Log lines (markers excepted) in each ended job's journal, counted
    /// once: the fifth frame of END.
    journal_lines: HashMap<i64, Option<u64>>,
    files: Option<http::FileServer>,
}

impl Slave {
    /// Open the job table and connect (nothing is sent yet).
    pub fn new(config: SlaveConfig) -> Result<Slave, SlaveError> {
        log::info!("[INIT] LAVA slave has started.");
        log::info!("[INIT] Using protocol version {PROTOCOL_VERSION}");
        socket::validate_hostname(&config.hostname)?;
        let security = match &config.encrypt {
            None => {
                log::debug!("[INIT] Connection is not encrypted");
                Security::Null
            }
            Some((master_cert, slave_cert)) => {
                log::info!("[INIT] Starting encryption");
                log::debug!("[INIT] Opening slave cert: {}", slave_cert.display());
                let own = cert::load_pair(slave_cert)?;
                log::debug!("[INIT] Opening master cert: {}", master_cert.display());
                let server = cert::load_public(master_cert)?;
                Security::CurveClient { own, server }
            }
        };
        for dir in [config.slave_dir.join("tmp"), config.dispatcher_tmp.clone()] {
            std::fs::create_dir_all(&dir).map_err(|source| SlaveError::Io {
                what: dir.display().to_string(),
                source,
            })?;
        }
        let table = config.slave_dir.join("db.sqlite3");
        let table_error = |e: rusqlite::Error| SlaveError::Jobs {
            path: table.clone(),
            source: Box::new(e),
        };
        let jobs = JobTable::open(&table).map_err(table_error)?;
        let files = match &config.http_bind {
            None => None,
            Some(bind) => {
                let server =
                    http::FileServer::start(bind, &config.dispatcher_tmp).map_err(|source| {
                        SlaveError::Io {
                            what: format!("HTTP server on {bind}"),
                            source,
                        }
                    })?;
                // Jobs adopted from before a restart are still served.
                for job in jobs.all().map_err(table_error)? {
                    server.allow(&format!("{}{}", job.prefix, job.id));
                }
                Some(server)
            }
        };
        let ctx = zmq::Context::new();
        let socket = socket::worker_control(
            &ctx,
            &config.master,
            &config.hostname,
            &security,
            &config.connect,
        )?;
        log::info!(
            "[BTSP] Connecting to master [{}] as <{}>",
            config.master,
            config.hostname
        );
        Ok(Slave {
            config,
            ctx,
            security,
            socket,
            jobs,
            children: HashMap::new(),
            last_sent: Instant::now(),
            last_received: Instant::now(),
            ping_interval: HELLO_TIMEOUT,
            master_online: false,
            last_end: HashMap::new(),
            journal_lines: HashMap::new(),
            files,
        })
    }

    fn send(&mut self, message: &Message) {
        match socket::send(&self.socket, MASTER_ID, message) {
            Ok(()) => self.last_sent = Instant::now(),
            Err(e) => log::warn!("cannot send {message} to the master: {e}"),
        }
    }

    /// Receive one message from the master within `timeout`.
    fn receive(&mut self, timeout: Duration) -> Option<Message> {
        match self.socket.poll(zmq::POLLIN, timeout.as_millis() as i64) {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
        let received = socket::recv(&self.socket).ok()?;
        if received.routing_id != MASTER_ID {
            log::error!("Invalid master id: {}", received.peer());
            return None;
        }
        match received.message() {
            Ok(message) => Some(message),
            Err(e) => {
                log::error!("Invalid message from the master: {e}");
                None
            }
        }
    }

    /// Greet the master until it answers (or `stop` is set).
    fn handshake(&mut self, stop: &AtomicBool) -> Result<bool, SlaveError> {
        self.send(&Message::Hello {
            version: PROTOCOL_VERSION,
        });
        log::info!(
            "[BTSP] Greeting the master [{}] => 'HELLO'",
            self.config.master
        );
        loop {
            let deadline = Instant::now() + HELLO_TIMEOUT;
            while Instant::now() < deadline {
                if stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                // Jobs keep being looked after while the master is away.
                self.check_jobs();
                match self.receive(Duration::from_millis(200)) {
                    Some(Message::HelloOk) => {
                        log::info!(
                            "[BTSP] Connection with master [{}] established",
                            self.config.master
                        );
                        self.mark_master_alive();
                        return Ok(true);
                    }
                    Some(other) => {
                        log::info!("[BTSP] Unexpected message from the master: {other} (dropped)")
                    }
                    None => {}
                }
            }
            // A fresh connection: a refused handshake is never retried by libzmq.
            self.socket = socket::worker_control(
                &self.ctx,
                &self.config.master,
                &self.config.hostname,
                &self.security,
                &self.config.connect,
            )?;
            self.send(&Message::HelloRetry {
                version: PROTOCOL_VERSION,
            });
            log::info!("[BTSP] Greeting master => 'HELLO_RETRY' (using the same version?)");
        }
    }

    fn mark_master_alive(&mut self) {
        self.last_received = Instant::now();
        if !self.master_online {
            log::info!("Master is ONLINE");
            self.master_online = true;
        }
    }

    /// Run until `stop` is set. Running jobs are left running.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), SlaveError> {
        if !self.handshake(stop)? {
            return Ok(());
        }
        let mut last_check = Instant::now() - Duration::from_secs(10);
        while !stop.load(Ordering::SeqCst) {
            if let Some(message) = self.receive(Duration::from_millis(200)) {
                self.handle(message);
            }
            if self.last_sent.elapsed() >= self.ping_interval {
                if self.master_online && self.last_received.elapsed() > self.ping_interval * 4 {
                    log::warn!("Master goes OFFLINE");
                    self.master_online = false;
                }
                log::debug!(
                    "PING => master (last message {}s ago)",
                    self.last_received.elapsed().as_secs()
                );
                self.send(&Message::Ping);
            }
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                self.check_jobs();
            }
        }
        log::info!("[EXIT] lava-slave stopped; running jobs continue");
        Ok(())
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Pong { interval } => {
                if interval < 5 {
                    log::error!("invalid ping interval ({interval})");
                    return;
                }
                log::debug!("master => PONG({interval})");
                self.ping_interval = Duration::from_secs(u64::from(interval));
                self.mark_master_alive();
            }
            Message::Start(start) => {
                log::info!("master => START({})", start.job_id);
                self.mark_master_alive();
                self.start(*start);
            }
            Message::Cancel { job_id } => {
                log::info!("master => CANCEL({job_id})");
                self.mark_master_alive();
                self.cancel(job_id as i64);
            }
            Message::Status { job_id } => {
                log::info!("master => STATUS({job_id})");
                self.mark_master_alive();
                self.status(job_id as i64);
            }
            Message::EndOk { job_id } => {
                log::info!("master => END_OK({job_id})");
                self.end_ok(job_id as i64);
            }
            Message::LogSync { job_id } => {
                log::info!("master => LOG_SYNC({job_id})");
                self.mark_master_alive();
                self.log_sync(job_id as i64);
            }
            Message::HelloOk => log::debug!("master => HELLO_OK (late)"),
            other => log::error!("Unexpected message from the master: {other}"),
        }
    }

    fn job_dir(&self, prefix: &str, id: i64) -> PathBuf {
        self.config
            .slave_dir
            .join("tmp")
            .join(format!("{prefix}{id}"))
    }

    fn table<T>(&self, result: rusqlite::Result<T>) -> Option<T> {
        result.map_err(|e| log::error!("job table: {e}")).ok()
    }

    fn start(&mut self, start: StartJob) {
        let id = start.job_id as i64;
        match self.table(self.jobs.get(id)).flatten() {
            Some(job) if job.status == SlaveJobStatus::Finished => {
                self.send_end(&job);
                return;
            }
            Some(_) => {
                self.send(&Message::StartOk {
                    job_id: start.job_id,
                });
                return;
            }
            None => {}
        }
        if self.table(self.jobs.is_tombstone(id)).unwrap_or(false) {
            // D4: the master already acknowledged this job; it must not run twice.
            log::warn!("[{id}] START for a job that already ended: answering END");
            self.send(&Message::End(JobEnd::new(start.job_id, "", None)));
            return;
        }
        let prefix = lava_proto::yaml::load(&start.dispatcher)
            .ok()
            .and_then(|v| v.get("prefix").and_then(|p| p.as_str()).map(str::to_string))
            .unwrap_or_default();
        // The row exists before lava-run does: a worker killed between the
        // two finds the job (and adopts its lava-run, see `is_running`)
        // instead of starting it a second time when START comes again.
        let mut row = SlaveJob {
            id,
            pid: 0,
            start_time: 0,
            status: SlaveJobStatus::Running,
            last_update: unix_now(),
            prefix: prefix.clone(),
        };
        self.table(self.jobs.insert(&row));
        let dir = self.job_dir(&prefix, id);
        if let Some(files) = &self.files {
            files.allow(&format!("{prefix}{id}"));
        }
        match self.spawn(&start, &dir) {
            Ok((child, pid)) => {
                log::info!("[{id}] Starting job (pid {})", pid.pid);
                row.pid = pid.pid;
                row.start_time = pid.start_time;
                row.status = SlaveJobStatus::Running;
                self.children.insert(id, child);
            }
            Err(e) => {
                log::error!("[{id}] cannot start lava-run: {e}");
                row.status = SlaveJobStatus::Finished;
                let _ = std::fs::create_dir_all(&dir);
                let stderr = dir.join("stderr");
                let mut text = std::fs::read_to_string(&stderr).unwrap_or_default();
                text.push_str(&format!("lava-slave could not start lava-run: {e}\n"));
                let _ = std::fs::write(&stderr, text);
            }
        }
        self.table(self.jobs.insert(&row));
        self.send(&Message::StartOk {
            job_id: start.job_id,
        });
    }

    fn spawn(&self, start: &StartJob, dir: &Path) -> std::io::Result<(Child, ProcessId)> {
        std::fs::create_dir_all(dir)?;
        // The definition may hold the job's secrets and its MultiNode
        // member token (docs/multinode.md): readable by the worker only.
        write_private(&dir.join("job.yaml"), start.definition.as_bytes())?;
        std::fs::write(dir.join("device.yaml"), &start.device)?;
        std::fs::write(dir.join("dispatcher.yaml"), &start.dispatcher)?;
        let mut options = RunOptions::new(
            start.job_id.to_string(),
            dir,
            dir.join("device.yaml"),
            dir.join("job.yaml"),
        );
        options.dispatcher = Some(dir.join("dispatcher.yaml"));
        options.logging_url = Some(self.config.socket_addr.clone());
        options.socks_proxy = self.config.connect.socks_proxy.clone();
        options.ipv6 = self.config.connect.ipv6;
        if let Some((master_cert, slave_cert)) = &self.config.encrypt {
            options.master_cert = Some(master_cert.clone());
            options.slave_cert = Some(slave_cert.clone());
        }
        if !start.env_dut.is_empty() {
            std::fs::write(dir.join("env.dut.yaml"), &start.env_dut)?;
            options.env_dut = Some(dir.join("env.dut.yaml"));
        }
        let args = options.to_args();
        let env = environment(&start.env);
        process::spawn(
            &self.config.lava_run,
            &args,
            &env,
            &dir.join("stdout"),
            &dir.join("stderr"),
        )
    }

    fn is_running(&mut self, job: &SlaveJob) -> bool {
        if job.pid == 0 && job.status != SlaveJobStatus::Finished {
            // Recorded but the worker died before noting the process: look
            // for a lava-run working in this job's directory.
            let dir = self.job_dir(&job.prefix, job.id);
            if let Some(found) =
                ProcessId::find_by_argument(&format!("--output-dir={}", dir.display()))
            {
                log::warn!("[{}] adopting lava-run (pid {})", job.id, found.pid);
                let adopted = SlaveJob {
                    pid: found.pid,
                    start_time: found.start_time,
                    ..job.clone()
                };
                self.table(self.jobs.insert(&adopted));
                return found.is_running();
            }
            return false;
        }
        if let Some(child) = self.children.get_mut(&job.id) {
            // Our own child: reap it when it is done.
            return match child.try_wait() {
                Ok(None) => true,
                _ => {
                    self.children.remove(&job.id);
                    false
                }
            };
        }
        job.pid != 0
            && ProcessId {
                pid: job.pid,
                start_time: job.start_time,
            }
            .is_running()
    }

    /// A job this worker never ran (or lost with its database): record it
    /// as finished and report END with no description, so the master can
    /// finish it.
    fn report_lost(&mut self, id: i64) {
        let row = SlaveJob {
            id,
            pid: 0,
            start_time: 0,
            status: SlaveJobStatus::Finished,
            last_update: unix_now(),
            prefix: String::new(),
        };
        self.table(self.jobs.insert(&row));
        self.send_end(&row);
    }

    fn cancel(&mut self, id: i64) {
        let Some(job) = self.table(self.jobs.get(id)).flatten() else {
            // Never seen: the master can finish it at once.
            self.report_lost(id);
            return;
        };
        match job.status {
            SlaveJobStatus::Running if self.is_running(&job) => {
                log::info!("[{id}] Canceling: SIGTERM");
                ProcessId {
                    pid: job.pid,
                    start_time: job.start_time,
                }
                .signal_group(libc::SIGTERM);
                self.table(self.jobs.set_status(id, SlaveJobStatus::Canceling));
            }
            SlaveJobStatus::Running => {
                self.table(self.jobs.set_status(id, SlaveJobStatus::Finished));
                self.send_end(&job);
            }
            _ => {}
        }
    }

    fn status(&mut self, id: i64) {
        match self.table(self.jobs.get(id)).flatten() {
            Some(job) if job.status == SlaveJobStatus::Finished => self.send_end(&job),
            Some(job) if self.is_running(&job) => {
                self.send(&Message::StartOk { job_id: id as u64 })
            }
            Some(job) => {
                // D17: it ended meanwhile; END straight away.
                self.table(self.jobs.set_status(id, SlaveJobStatus::Finished));
                self.send_end(&job);
            }
            None => {
                log::warn!("[{id}] STATUS for a job this worker does not know: reporting it lost");
                self.report_lost(id);
            }
        }
    }

    fn send_end(&mut self, job: &SlaveJob) {
        let dir = self.job_dir(&job.prefix, job.id);
        // D14: stderr may hold anything; read it lossily.
        let errors = std::fs::read(dir.join("stderr"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let description = std::fs::read(dir.join("description.yaml")).ok();
        let lines = *self
            .journal_lines
            .entry(job.id)
            .or_insert_with(|| journal_lines(&dir.join(crate::logger::JOURNAL)));
        log::info!("[{}] Job END", job.id);
        self.last_end.insert(job.id, Instant::now());
        let mut end = JobEnd::new(job.id as u64, errors, description.as_deref());
        if let Some(lines) = lines {
            end = end.with_log_lines(lines);
        }
        self.send(&Message::End(end));
    }

    /// LOG_SYNC: the master lost log lines of an ended job; send it the
    /// journal, then END again so that it can acknowledge at once.
    fn log_sync(&mut self, id: i64) {
        let job = match self.table(self.jobs.get(id)).flatten() {
            Some(job) if job.status == SlaveJobStatus::Finished => job,
            Some(_) => {
                log::warn!("[{id}] LOG_SYNC for a job still running: ignored");
                return;
            }
            None => {
                log::warn!("[{id}] LOG_SYNC for a job this worker does not know: ignored");
                return;
            }
        };
        let path = self.job_dir(&job.prefix, id).join(crate::logger::JOURNAL);
        // what cannot be sent is said by an END without a count: the master
        // then acknowledges the log as it has it
        let packed = std::fs::read(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .map(|journal| lava_proto::xz::compress_fast(&journal))
            .and_then(|packed| {
                // the frame must fit the master's message limit
                if (packed.len() as i64) < lava_proto::socket::MAX_CONTROL_MESSAGE - 4096 {
                    Ok(packed)
                } else {
                    Err(format!(
                        "the journal is too large to send ({} bytes packed)",
                        packed.len()
                    ))
                }
            });
        match packed {
            Ok(journal_xz) => {
                log::info!(
                    "[{id}] LOG_SYNC_DATA: the journal, {} bytes packed",
                    journal_xz.len()
                );
                self.send(&Message::LogSyncData {
                    job_id: id as u64,
                    journal_xz,
                });
            }
            Err(e) => {
                log::warn!("[{id}] LOG_SYNC: {e}; the master keeps the log it has");
                self.journal_lines.insert(id, None);
            }
        }
        self.send_end(&job);
    }

    fn end_ok(&mut self, id: i64) {
        let prefix = self
            .table(self.jobs.get(id))
            .flatten()
            .map(|j| j.prefix)
            .unwrap_or_default();
        for dir in [
            self.job_dir(&prefix, id),
            self.config.dispatcher_tmp.join(format!("{prefix}{id}")),
        ] {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    log::warn!("[{id}] cannot remove {}: {e}", dir.display());
                }
            }
        }
        if let Some(files) = &self.files {
            files.forbid(&format!("{prefix}{id}"));
        }
        self.last_end.remove(&id);
        self.journal_lines.remove(&id);
        self.children.remove(&id);
        self.table(self.jobs.remove(id));
    }

    /// Look at every job: report those that ended, re-send ENDs not yet
    /// acknowledged, escalate cancellations.
    fn check_jobs(&mut self) {
        let Some(jobs) = self.table(self.jobs.all()) else {
            return;
        };
        let now = unix_now();
        for job in jobs {
            match job.status {
                SlaveJobStatus::Finished => {
                    let due = self
                        .last_end
                        .get(&job.id)
                        .is_none_or(|t| t.elapsed() >= END_RESEND);
                    if due {
                        if self.last_end.contains_key(&job.id) {
                            log::info!("[{}] Job END (resend)", job.id);
                        }
                        self.send_end(&job);
                    }
                }
                SlaveJobStatus::Running => {
                    if !self.is_running(&job) {
                        self.table(self.jobs.set_status(job.id, SlaveJobStatus::Finished));
                        self.send_end(&job);
                    }
                }
                SlaveJobStatus::Canceling => {
                    if !self.is_running(&job) {
                        self.table(self.jobs.set_status(job.id, SlaveJobStatus::Finished));
                        self.send_end(&job);
                    } else {
                        let pid = ProcessId {
                            pid: job.pid,
                            start_time: job.start_time,
                        };
                        let waited = now - job.last_update;
                        let grace = self.config.cancel_grace.as_secs() as i64;
                        if waited >= 2 * grace {
                            log::warn!(
                                "[{}] still running {waited}s after CANCEL: SIGKILL",
                                job.id
                            );
                            pid.signal_group(libc::SIGKILL);
                        } else if waited >= grace {
                            log::warn!(
                                "[{}] still running {waited}s after CANCEL: SIGTERM again",
                                job.id
                            );
                            pid.signal_group(libc::SIGTERM);
                        }
                    }
                }
            }
        }
    }
}

/// The variables of the slave's own environment that lava-run keeps even
/// when the job's environment is purged: they are the slave's host's
/// business, not the job's. `LAVA_LAB_PID` names the `lava-lab` whose
/// worker starts lava-run, which ends with it (docs/operations.md,
/// "Stopping lava-lab").
const KEPT_ON_PURGE: &[&str] = &["LAVA_LAB_PID"];

/// lava-run's environment from the slave's own and the `env` YAML of START:
/// `purge: true` starts empty (but for the few variables the slave's host
/// needs lava-run to keep), `removes` deletes names, `overrides` sets them.
pub fn environment(env_yaml: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    let Ok(value) = lava_proto::yaml::load(env_yaml) else {
        return env;
    };
    if value.get("purge").and_then(|v| v.as_bool()) == Some(true) {
        env.retain(|(k, _)| KEPT_ON_PURGE.contains(&k.as_str()));
    }
    if let Some(removes) = value.get("removes").and_then(|v| v.as_sequence()) {
        let names: Vec<&str> = removes.iter().filter_map(|v| v.as_str()).collect();
        env.retain(|(k, _)| !names.contains(&k.as_str()));
    }
    if let Some(overrides) = value.get("overrides").and_then(|v| v.as_mapping()) {
        for (key, value) in overrides.iter() {
            let (Some(key), Some(value)) = (key.as_str(), scalar(value)) else {
                continue;
            };
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value));
        }
    }
    env
}

fn scalar(value: &lava_proto::yaml::Value) -> Option<String> {
    use lava_proto::yaml::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The log lines of a journal the master stores (markers are not
/// stored); `None` without a journal (a job lava-run never logged).
fn journal_lines(path: &Path) -> Option<u64> {
    let text = std::fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&text);
    Some(
        text.lines()
            .filter(|line| {
                lava_proto::log::LogRecord::parse(line)
                    .is_ok_and(|r| r.lvl != lava_proto::log::LogLevel::Marker)
            })
            .count() as u64,
    )
}

/// Write `data` to `path` with mode 0600 (also when the file existed).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_purge_removes_and_overrides() {
        let env = environment("purge: true\noverrides:\n  LC_ALL: C.UTF-8\n  N: 3\n");
        assert_eq!(
            env,
            [
                ("LC_ALL".to_string(), "C.UTF-8".to_string()),
                ("N".to_string(), "3".to_string())
            ]
        );
        let env = environment("removes: [PATH]\n");
        assert!(env.iter().all(|(k, _)| k != "PATH"));
        assert!(
            !environment("").is_empty(),
            "an empty env YAML keeps the slave's environment"
        );
    }
}
