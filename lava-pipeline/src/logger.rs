//! The job log: [`LogRecord`]s in lava-run's line format, sent to the
//! master's log socket (ZeroMQ PUSH, CURVE when given certificates) or
//! written to standard error, one line per record.
//!
//! Nothing is ever dropped: the PUSH socket blocks when its queue is full
//! and is closed with an infinite linger ([`Logger::close`] returns once
//! every line is handed over). If the socket fails, lines go to standard
//! error instead of being lost.
//!
//! With [`Logger::with_journal`] every line is also appended to a file
//! (lava-run keeps [`JOURNAL`] in its output directory) before it is sent:
//! a master killed while lines were in flight asks the worker for that
//! journal (the LOG_SYNC extension of `lava_proto::control`), so no line
//! is lost even then.
//!
//! Job secrets are registered with [`Logger::redact`]; every string of
//! every record is scrubbed before it leaves the process.
//!
//! ```
//! use lava_pipeline::Logger;
//! use lava_proto::log::LogLevel;
//!
//! let (logger, memory) = Logger::memory("42");
//! logger.redact("hunter2");
//! logger.redact("no");
//! logger.info("start: 1 deployimages (timeout 00:05:00) [common]");
//! logger.debug("password is hunter2");
//! let records = memory.records();
//! assert_eq!(records[0].lvl, LogLevel::Info);
//! assert_eq!(records[1].msg.as_str(), Some("password is [redacted]"));
//! assert_eq!(records[0].msg.as_str(), Some("start: 1 deployimages (timeout 00:05:00) [common]"));
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use lava_proto::log::{LogLevel, LogRecord};
#[cfg(feature = "zmq-logger")]
use lava_proto::socket::{self, ConnectOptions, Security};
use lava_proto::yaml::{Mapping, Value};

/// Why the log socket could not be set up.
#[cfg(feature = "zmq-logger")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggerError {
    /// Socket creation or connection failed.
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
}

enum Sink {
    #[cfg(feature = "zmq-logger")]
    Zmq {
        // declared before the context so that it is dropped first
        socket: Option<zmq::Socket>,
        context: zmq::Context,
    },
    Writer(Box<dyn Write + Send>),
    Memory(MemoryLog),
}

struct Inner {
    job_id: String,
    sink: Sink,
    secrets: Vec<String>,
    lines: u64,
    journal: Option<(std::fs::File, std::path::PathBuf)>,
}

/// The journal lava-run keeps in its output directory: every log line it
/// sent, one per line, as sent.
pub const JOURNAL: &str = "log.yaml";

/// A handle on the job log; clones share it.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").finish_non_exhaustive()
    }
}

/// The records kept by a [`Logger::memory`] logger.
#[derive(Clone, Default, Debug)]
pub struct MemoryLog(Arc<(Mutex<Vec<LogRecord>>, std::sync::Condvar)>);

impl MemoryLog {
    fn push(&self, record: LogRecord) {
        self.0
             .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
        self.0 .1.notify_all();
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wait until a record satisfies `predicate` (true) or `timeout`
    /// passes (false); woken by each new record, no polling.
    pub fn wait_for(
        &self,
        timeout: std::time::Duration,
        predicate: impl Fn(&LogRecord) -> bool,
    ) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut records = self.0 .0.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = 0;
        loop {
            if records[seen..].iter().any(&predicate) {
                return true;
            }
            seen = records.len();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            records = self
                .0
                 .1
                .wait_timeout(records, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The `results` messages so far.
    pub fn results(&self) -> Vec<Mapping> {
        self.records()
            .into_iter()
            .filter(|r| r.lvl == LogLevel::Results)
            .filter_map(|r| r.msg.as_mapping().cloned())
            .collect()
    }

    /// The string messages of level `lvl`.
    pub fn messages(&self, lvl: LogLevel) -> Vec<String> {
        self.records()
            .into_iter()
            .filter(|r| r.lvl == lvl)
            .filter_map(|r| r.msg.as_str().map(str::to_string))
            .collect()
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}

fn scrub(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "[redacted]");
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(|v| scrub(v, secrets)),
        Value::Mapping(map) => map.iter_mut().for_each(|(_, v)| scrub(v, secrets)),
        _ => {}
    }
}

impl Logger {
    fn with_sink(job_id: &str, sink: Sink) -> Self {
        Logger {
            inner: Arc::new(Mutex::new(Inner {
                job_id: job_id.to_string(),
                sink,
                secrets: Vec::new(),
                lines: 0,
                journal: None,
            })),
        }
    }

    /// Lines to the master's log socket at `url` (PUSH, lossless).
    /// Feature `zmq-logger`.
    #[cfg(feature = "zmq-logger")]
    pub fn zmq(
        url: &str,
        job_id: &str,
        security: &Security,
        options: &ConnectOptions,
    ) -> Result<Self, LoggerError> {
        let context = zmq::Context::new();
        let socket = socket::log_source(&context, url, security, options)?;
        Ok(Self::with_sink(
            job_id,
            Sink::Zmq {
                socket: Some(socket),
                context,
            },
        ))
    }

    /// Lines to standard error (lava-run without `--logging-url`).
    pub fn stderr(job_id: &str) -> Self {
        Self::with_sink(job_id, Sink::Writer(Box::new(std::io::stderr())))
    }

    /// Lines to any writer, one per line.
    pub fn writer(job_id: &str, writer: Box<dyn Write + Send>) -> Self {
        Self::with_sink(job_id, Sink::Writer(writer))
    }

    /// Records kept in memory (tests, embedding).
    pub fn memory(job_id: &str) -> (Self, MemoryLog) {
        let log = MemoryLog::default();
        (Self::with_sink(job_id, Sink::Memory(log.clone())), log)
    }

    /// Also append every line to `path` (created with its directory), before
    /// it is sent. Unbuffered: a line written survives lava-run being
    /// killed.
    pub fn with_journal(self, path: &std::path::Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        lock(&self.inner).journal = Some((file, path.to_path_buf()));
        Ok(self)
    }

    /// Never let `secret` reach the log (replaced by `[redacted]`).
    /// Values shorter than 4 characters are not redacted (they would
    /// garble every line); lava-run warns about them.
    pub fn redact(&self, secret: &str) {
        if secret.len() >= 4 {
            let mut inner = lock(&self.inner);
            if !inner.secrets.iter().any(|s| s == secret) {
                inner.secrets.push(secret.to_string());
                // longest first, so that a secret containing another is hidden whole
                inner.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    /// The job id.
    pub fn job_id(&self) -> String {
        lock(&self.inner).job_id.clone()
    }

    /// How many records were written.
    pub fn count(&self) -> u64 {
        lock(&self.inner).lines
    }

    /// Write one record.
    pub fn record(&self, mut record: LogRecord) {
        let mut inner = lock(&self.inner);
        if !inner.secrets.is_empty() {
            let secrets = inner.secrets.clone();
            scrub(&mut record.msg, &secrets);
        }
        inner.lines += 1;
        #[cfg(feature = "zmq-logger")]
        let job_id = inner.job_id.clone();
        if let Some((journal, path)) = &mut inner.journal {
            let mut line = record.to_line();
            line.push('\n');
            if let Err(e) = journal.write_all(line.as_bytes()) {
                // a journal with a hole must not stand for the whole log
                log::error!("cannot write the log journal ({e}); going on without it");
                let _ = std::fs::remove_file(&*path);
                inner.journal = None;
            }
        }
        match &mut inner.sink {
            Sink::Memory(log) => log.push(record),
            Sink::Writer(w) => {
                let mut line = record.to_line();
                line.push('\n');
                let _ = w.write_all(line.as_bytes());
                let _ = w.flush();
            }
            #[cfg(feature = "zmq-logger")]
            Sink::Zmq { socket, .. } => {
                let line = record.to_line();
                let sent = match socket {
                    Some(s) => s.send_multipart([job_id.as_bytes(), line.as_bytes()], 0),
                    None => Err(zmq::Error::ENOTSOCK),
                };
                if let Err(e) = sent {
                    // never lose a line: fall back to standard error
                    log::error!("log socket failed ({e}); logging to stderr");
                    eprintln!("{line}");
                }
            }
        }
    }

    /// A record of level `lvl` with message `msg`.
    pub fn log(&self, lvl: LogLevel, msg: impl Into<Value>) {
        self.record(LogRecord::new(lvl, msg));
    }

    /// `info`.
    pub fn info(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Info, msg)
    }

    /// `debug`.
    pub fn debug(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Debug, msg)
    }

    /// `warning`.
    pub fn warning(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Warning, msg)
    }

    /// `error`.
    pub fn error(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Error, msg)
    }

    /// `exception`.
    pub fn exception(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Exception, msg)
    }

    /// `input`: text sent to a device.
    pub fn input(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Input, msg)
    }

    /// `target` (or `feedback`): one line of device output, cleaned as
    /// lava-run cleans it.
    pub fn device_output(&self, lvl: LogLevel, line: &str) {
        self.record(LogRecord::device_output(lvl, line));
    }

    /// `event`.
    pub fn event(&self, msg: impl Into<Value>) {
        self.log(LogLevel::Event, msg)
    }

    /// `results`: one test case.
    pub fn results(&self, result: Mapping) {
        self.log(LogLevel::Results, Value::Mapping(result))
    }

    /// `marker`: `{case, type}`.
    pub fn marker(&self, case: &str, kind: &str) {
        let map = Mapping::from_iter([
            (Value::from("case"), Value::from(case)),
            (Value::from("type"), Value::from(kind)),
        ]);
        self.log(LogLevel::Marker, Value::Mapping(map))
    }

    /// Deliver everything and close the socket (blocks until every line is
    /// handed to the master). Later records go to standard error.
    pub fn close(&self) {
        let mut inner = lock(&self.inner);
        match &mut inner.sink {
            #[cfg(feature = "zmq-logger")]
            Sink::Zmq { socket, context } => {
                drop(socket.take());
                let _ = context.destroy();
            }
            Sink::Writer(w) => {
                let _ = w.flush();
            }
            Sink::Memory(_) => {}
        }
    }
}

/// A `results` mapping from pairs (keys in the given order).
///
/// ```
/// let r = lava_pipeline::unstable::result_map([("definition", "lava".into()), ("case", "job".into())]);
/// assert_eq!(r.get("case").and_then(|v| v.as_str()), Some("job"));
/// ```
pub fn result_map<const N: usize>(pairs: [(&str, Value); N]) -> Mapping {
    pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect()
}
