//! Metrics in the OpenMetrics text format (docs/metrics.md), for the HTTP
//! service's `/metrics` and lava-master's `--metrics-bind`.
//!
//! Where each number comes from, so that both endpoints agree:
//!
//! - the job histograms (queue wait, duration by device type and health)
//!   are computed from the jobs table at scrape time, one grouped query
//!   each ([`store_families`]);
//! - the gauges (workers by state and health, devices by type, health and
//!   state) from the workers and devices tables;
//! - what only the master process sees (START latency, log lines
//!   ingested) is kept in memory by [`MasterMetrics`]; lava-master serves
//!   it live and writes it into the `master_metrics` table when it changed
//!   (at most every few seconds), where the HTTP service reads it.
//!
//! The encoder is ours (a few dozen lines): the job histograms arrive
//! already bucketed from SQL and the master's families arrive as text, so
//! a client library's observe-and-collect model would not fit.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::SqlValue;
use crate::error::StoreError;
use crate::model::{now_micros, DeviceHealth, DeviceState, WorkerHealth, WorkerState};
use crate::store::SqlStore;

/// The content type of an OpenMetrics text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bucket bounds of the queue-wait histogram, in seconds.
pub const QUEUE_WAIT_BUCKETS: &[f64] =
    &[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0];
/// Bucket bounds of the job-duration histogram, in seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];
/// Bucket bounds of the START-latency histogram, in seconds.
pub const START_LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The name of the master's row in `master_metrics`.
const MASTER_ROW: &str = "lava-master";

/// An OpenMetrics text exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// A number as OpenMetrics writes it (`1.0`, `0.005`, `+Inf`).
fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A label value escaped (`\`, `"` and newlines).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start a metric family: its `TYPE`, `UNIT` (when given; the name
    /// then ends with it) and `HELP`.
    pub fn family(&mut self, name: &str, kind: &str, unit: Option<&str>, help: &str) {
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        if let Some(unit) = unit {
            let _ = writeln!(self.out, "# UNIT {name} {unit}");
        }
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\n', " "));
    }

    /// One sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            let text: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", text.join(","));
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// The samples of one histogram (`_bucket` with `le`, `_count`, `_sum`).
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let mut cumulative = 0;
        for (i, count) in histogram.counts.iter().enumerate() {
            cumulative += count;
            let le = number(histogram.bounds.get(i).copied().unwrap_or(f64::INFINITY));
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &with_le, cumulative as f64);
        }
        self.sample(&format!("{name}_count"), labels, cumulative as f64);
        self.sample(&format!("{name}_sum"), labels, histogram.sum);
    }

    /// Families written elsewhere (the master's, read from the store).
    pub fn raw(&mut self, text: &str) {
        self.out.push_str(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// The text so far, without the end marker.
    pub fn body(&self) -> &str {
        &self.out
    }

    /// The whole exposition, ending with `# EOF`.
    pub fn finish(mut self) -> String {
        self.out.push_str("# EOF\n");
        self.out
    }
}

/// A histogram: counts per bucket (the last one above every bound) and the
/// sum of the observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// Count one observation.
    pub fn observe(&mut self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += value;
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// From cumulative counts per bound, the total and the sum.
    fn from_cumulative(bounds: &'static [f64], cumulative: &[i64], total: i64, sum: f64) -> Self {
        let mut counts = Vec::with_capacity(bounds.len() + 1);
        let mut previous = 0;
        for &c in cumulative.iter().chain(std::iter::once(&total)) {
            let c = c.max(previous);
            counts.push((c - previous) as u64);
            previous = c;
        }
        Histogram {
            bounds,
            counts,
            sum,
        }
    }
}

/// One grouped histogram query: `key` columns, then one cumulative count
/// per bound of `value` (microseconds), the count and the sum.
fn histogram_query(
    store: &SqlStore,
    keys: &[&str],
    value: &str,
    filter: &str,
    bounds: &'static [f64],
) -> Result<Vec<(Vec<String>, Histogram)>, StoreError> {
    let mut columns = Vec::new();
    for b in bounds {
        let micros = (b * 1_000_000.0) as i64;
        columns.push(format!(
            "CAST(SUM(CASE WHEN {value} <= {micros} THEN 1 ELSE 0 END) AS BIGINT)"
        ));
    }
    let key_count = keys.len();
    let group: Vec<String> = (1..=key_count).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {}, {}, COUNT(*), CAST(SUM({value}) AS BIGINT) \
         FROM jobs j LEFT JOIN devices d ON d.hostname = j.actual_device \
         WHERE {filter} GROUP BY {} ORDER BY {}",
        keys.join(", "),
        columns.join(", "),
        group.join(", "),
        group.join(", ")
    );
    let rows = store.database().transaction(|conn| conn.query(&sql, &[]))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut key = Vec::with_capacity(key_count);
        for i in 0..key_count {
            key.push(match row.0.get(i) {
                Some(SqlValue::Int(v)) => v.to_string(),
                _ => row.opt_text(i)?.unwrap_or_default(),
            });
        }
        let cumulative: Vec<i64> = (0..bounds.len())
            .map(|i| row.opt_int(key_count + i).map(|v| v.unwrap_or(0)))
            .collect::<Result<_, _>>()?;
        let total = row.int(key_count + bounds.len())?;
        let sum = row.opt_int(key_count + bounds.len() + 1)?.unwrap_or(0) as f64 / 1e6;
        out.push((
            key,
            Histogram::from_cumulative(bounds, &cumulative, total, sum),
        ));
    }
    Ok(out)
}

/// The device type of a job for the metrics: the one it asked for, else
/// its device's (a MultiNode connection role has neither: empty).
const JOB_DEVICE_TYPE: &str = "COALESCE(j.requested_device_type, d.device_type, '')";

/// The families computed from the store: job histograms and the worker
/// and device gauges.
pub fn store_families(store: &SqlStore, out: &mut Exposition) -> Result<(), StoreError> {
    let waits = histogram_query(
        store,
        &[JOB_DEVICE_TYPE],
        "(j.start_time - j.submit_time)",
        "j.start_time IS NOT NULL",
        QUEUE_WAIT_BUCKETS,
    )?;
    out.family(
        "lava_queue_wait_seconds",
        "histogram",
        Some("seconds"),
        "Time from submission to the job's start (START_OK), by device type.",
    );
    for (key, histogram) in &waits {
        out.histogram(
            "lava_queue_wait_seconds",
            &[("device_type", &key[0])],
            histogram,
        );
    }
    let durations = histogram_query(
        store,
        &[JOB_DEVICE_TYPE, "j.health"],
        "(j.end_time - j.start_time)",
        "j.start_time IS NOT NULL AND j.end_time IS NOT NULL",
        DURATION_BUCKETS,
    )?;
    out.family(
        "lava_job_duration_seconds",
        "histogram",
        Some("seconds"),
        "Time from a job's start to its end, by device type and health.",
    );
    for (key, histogram) in &durations {
        let health = key[1]
            .parse::<i64>()
            .ok()
            .and_then(crate::model::JobHealth::from_code)
            .map_or("Unknown", |h| h.label());
        out.histogram(
            "lava_job_duration_seconds",
            &[("device_type", &key[0]), ("health", health)],
            histogram,
        );
    }
    let (workers, devices) = store.database().transaction(|conn| {
        let workers = conn.query(
            "SELECT state, health, COUNT(*) FROM workers GROUP BY state, health",
            &[],
        )?;
        let devices = conn.query(
            "SELECT device_type, health, state, COUNT(*) FROM devices \
             GROUP BY device_type, health, state ORDER BY device_type",
            &[],
        )?;
        Ok((workers, devices))
    })?;
    let mut by_worker: HashMap<(i64, i64), i64> = HashMap::new();
    for row in &workers {
        by_worker.insert((row.int(0)?, row.int(1)?), row.int(2)?);
    }
    let online: i64 = by_worker
        .iter()
        .filter(|((state, _), _)| *state == WorkerState::Online.code())
        .map(|(_, n)| n)
        .sum();
    out.family(
        "lava_workers_online",
        "gauge",
        None,
        "Workers heard from within their timeout.",
    );
    out.sample("lava_workers_online", &[], online as f64);
    out.family(
        "lava_workers",
        "gauge",
        None,
        "Workers by state and health.",
    );
    for state in WorkerState::ALL {
        for health in WorkerHealth::ALL {
            let n = by_worker
                .get(&(state.code(), health.code()))
                .copied()
                .unwrap_or(0);
            out.sample(
                "lava_workers",
                &[("state", state.label()), ("health", health.label())],
                n as f64,
            );
        }
    }
    let mut by_device: BTreeMap<String, HashMap<(i64, i64), i64>> = BTreeMap::new();
    for row in &devices {
        by_device
            .entry(row.text(0)?)
            .or_default()
            .insert((row.int(1)?, row.int(2)?), row.int(3)?);
    }
    out.family(
        "lava_devices",
        "gauge",
        None,
        "Devices by device type, health and state.",
    );
    for (device_type, counts) in &by_device {
        for health in DeviceHealth::ALL {
            for state in DeviceState::ALL {
                let n = counts
                    .get(&(health.code(), state.code()))
                    .copied()
                    .unwrap_or(0);
                out.sample(
                    "lava_devices",
                    &[
                        ("device_type", device_type),
                        ("health", health.label()),
                        ("state", state.label()),
                    ],
                    n as f64,
                );
            }
        }
    }
    Ok(())
}

/// What the master process measures: START latency and log lines
/// ingested. Shared between the master's loop and its metrics listener.
#[derive(Debug)]
pub struct MasterMetrics {
    start_latency: Histogram,
    log_lines: u64,
    /// When START was first sent, per job not yet answered.
    start_sent: HashMap<i64, Instant>,
    created: f64,
    /// Whether anything changed since the last [`MasterMetrics::persist`].
    dirty: bool,
}

impl Default for MasterMetrics {
    fn default() -> Self {
        MasterMetrics {
            start_latency: Histogram::new(START_LATENCY_BUCKETS),
            log_lines: 0,
            start_sent: HashMap::new(),
            created: now_micros() as f64 / 1e6,
            dirty: true,
        }
    }
}

impl MasterMetrics {
    /// START was sent for `job` (only the first send counts).
    pub fn start_sent(&mut self, job: i64, now: Instant) {
        self.start_sent.entry(job).or_insert(now);
        // A job whose START is never answered (ended, canceled, forgotten)
        // must not stay here for ever.
        if self.start_sent.len() > 10_000 {
            self.start_sent
                .retain(|_, t| now.duration_since(*t) < Duration::from_secs(3600));
        }
    }

    /// START_OK arrived for `job`: one START-latency observation.
    pub fn start_ok(&mut self, job: i64, now: Instant) {
        if let Some(sent) = self.start_sent.remove(&job) {
            self.start_latency
                .observe(now.duration_since(sent).as_secs_f64());
            self.dirty = true;
        }
    }

    /// The job ended without START_OK: forget its START.
    pub fn forget(&mut self, job: i64) {
        self.start_sent.remove(&job);
    }

    /// `n` log lines were stored.
    pub fn log_lines(&mut self, n: u64) {
        if n > 0 {
            self.log_lines += n;
            self.dirty = true;
        }
    }

    /// The number of START-latency observations.
    pub fn start_count(&self) -> u64 {
        self.start_latency.count()
    }

    /// The master's families.
    pub fn encode(&self, out: &mut Exposition) {
        out.family(
            "lava_start_latency_seconds",
            "histogram",
            Some("seconds"),
            "Time from the master sending START to the worker's START_OK.",
        );
        out.histogram("lava_start_latency_seconds", &[], &self.start_latency);
        out.family(
            "lava_log_lines",
            "counter",
            None,
            "Log lines the master stored since it started.",
        );
        out.sample("lava_log_lines_total", &[], self.log_lines as f64);
        out.sample("lava_log_lines_created", &[], self.created);
    }

    /// Write the master's families into the store when they changed, for
    /// the HTTP service. Returns whether it wrote.
    pub fn persist(&mut self, store: &SqlStore) -> Result<bool, StoreError> {
        if !self.dirty {
            return Ok(false);
        }
        let mut text = Exposition::new();
        self.encode(&mut text);
        let body = text.body().to_string();
        store.database().transaction(|conn| {
            let params = [MASTER_ROW.into(), body.as_str().into(), now_micros().into()];
            let changed = conn.execute(
                "UPDATE master_metrics SET body = $2, updated = $3 WHERE name = $1",
                &params,
            )?;
            if changed == 0 {
                conn.execute(
                    "INSERT INTO master_metrics (name, body, updated) VALUES ($1, $2, $3)",
                    &params,
                )?;
            }
            Ok(())
        })?;
        self.dirty = false;
        Ok(true)
    }
}

/// The exposition of the HTTP service: the store's families, then the
/// master's as it last wrote them (and when).
pub fn render_from_store(store: &SqlStore) -> Result<String, StoreError> {
    let mut out = Exposition::new();
    store_families(store, &mut out)?;
    let row = store.database().transaction(|conn| {
        conn.query_opt(
            "SELECT body, updated FROM master_metrics WHERE name = $1",
            &[MASTER_ROW.into()],
        )
    })?;
    if let Some(row) = row {
        out.raw(&row.text(0)?);
        out.family(
            "lava_master_metrics_updated_timestamp_seconds",
            "gauge",
            Some("seconds"),
            "When lava-master last wrote its metrics (START latency, log lines).",
        );
        out.sample(
            "lava_master_metrics_updated_timestamp_seconds",
            &[],
            row.int(1)? as f64 / 1e6,
        );
    }
    Ok(out.finish())
}

/// How long a rendering of the store's families is reused: each one
/// scans the jobs table twice, and `/metrics` is served without
/// credentials (docs/metrics.md, "Cost").
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// A rendered text reused for a while, computed by one caller at a time:
/// callers arriving while it is computed wait for that result instead of
/// running the same queries (each holding a database connection) in
/// parallel. A failure is not kept: the next caller tries again.
#[derive(Debug)]
pub struct RenderCache {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<str>)>>,
}

impl RenderCache {
    /// Reuse each rendering for `ttl` (zero: render at every call, still
    /// one at a time).
    pub fn new(ttl: Duration) -> RenderCache {
        RenderCache {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The text rendered less than `ttl` ago, or a new one from `render`.
    pub fn get(
        &self,
        render: impl FnOnce() -> Result<String, StoreError>,
    ) -> Result<Arc<str>, StoreError> {
        // held while rendering: that is what makes later callers wait
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, text)) = slot.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(Arc::clone(text));
            }
        }
        let text: Arc<str> = render()?.into();
        *slot = Some((Instant::now(), Arc::clone(&text)));
        Ok(text)
    }
}

/// The exposition of lava-master's `--metrics-bind`: the store's families
/// (as rendered within the last [`CACHE_TTL`] through `cache`) and the
/// master's own, live.
pub fn render_for_master(
    store: &SqlStore,
    master: &Mutex<MasterMetrics>,
    cache: &RenderCache,
) -> Result<String, StoreError> {
    let families = cache.get(|| {
        let mut out = Exposition::new();
        store_families(store, &mut out)?;
        Ok(out.out)
    })?;
    let mut out = Exposition::new();
    out.raw(&families);
    master
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .encode(&mut out);
    Ok(out.finish())
}

/// The largest request head the metrics listener reads.
const MAX_REQUEST: usize = 8192;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// lava-master's `--metrics-bind` listener: a thread answering
/// `GET /metrics` (one connection at a time; a request head of at most
/// 8 KiB within 2 s), until `stop` is set.
pub struct MetricsListener {
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl MetricsListener {
    /// Bind `addr` and start answering.
    pub fn spawn(
        addr: &str,
        store: SqlStore,
        master: Arc<Mutex<MasterMetrics>>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<MetricsListener> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        log::info!("[INIT] metrics on http://{bound}/metrics");
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("lava-master-metrics".into())
            .spawn(move || {
                let cache = RenderCache::new(CACHE_TTL);
                while !flag.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            if let Err(e) = answer(stream, &store, &master, &cache) {
                                log::warn!("[METRICS] request from {peer} failed: {e}");
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        Err(e) => {
                            log::warn!("[METRICS] accept failed: {e}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            })?;
        Ok(MetricsListener {
            addr: bound,
            thread: Some(thread),
            stop,
        })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer one connection.
fn answer(
    mut stream: TcpStream,
    store: &SqlStore,
    master: &Mutex<MasterMetrics>,
    cache: &RenderCache,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST || Instant::now() > deadline {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large or too slow\n",
            );
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => match render_for_master(store, master, cache) {
            Ok(body) => respond(&mut stream, "200 OK", CONTENT_TYPE, &body),
            Err(e) => {
                log::error!("[METRICS] cannot read the store: {e}");
                respond(
                    &mut stream,
                    "500 Internal Server Error",
                    "text/plain",
                    "cannot read the store\n",
                )
            }
        },
        ("GET", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            "only /metrics here\n",
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 2.0, 2.0, 9.0] {
            h.observe(v);
        }
        let mut out = Exposition::new();
        out.family("x_seconds", "histogram", Some("seconds"), "help");
        out.histogram("x_seconds", &[("device_type", "q\"e\\mu")], &h);
        let text = out.finish();
        assert_eq!(
            text,
            "# TYPE x_seconds histogram\n# UNIT x_seconds seconds\n# HELP x_seconds help\n\
             x_seconds_bucket{device_type=\"q\\\"e\\\\mu\",le=\"1.0\"} 1.0\n\
             x_seconds_bucket{device_type=\"q\\\"e\\\\mu\",le=\"5.0\"} 3.0\n\
             x_seconds_bucket{device_type=\"q\\\"e\\\\mu\",le=\"+Inf\"} 4.0\n\
             x_seconds_count{device_type=\"q\\\"e\\\\mu\"} 4.0\n\
             x_seconds_sum{device_type=\"q\\\"e\\\\mu\"} 13.5\n# EOF\n"
        );
    }

    #[test]
    fn cumulative_counts_from_sql_become_buckets() {
        let h = Histogram::from_cumulative(&[1.0, 5.0], &[1, 3], 4, 13.5);
        let mut direct = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 2.0, 2.0, 9.0] {
            direct.observe(v);
        }
        assert_eq!(h, direct);
    }

    #[test]
    fn a_rendering_is_shared_by_concurrent_callers_and_failures_are_not_kept() {
        let cache = Arc::new(RenderCache::new(Duration::from_secs(3600)));
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        assert!(cache
            .get(|| Err(StoreError::Refused("down".into())))
            .is_err());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, renders) = (Arc::clone(&cache), Arc::clone(&renders));
                std::thread::spawn(move || {
                    cache
                        .get(|| {
                            renders.fetch_add(1, Ordering::SeqCst);
                            Ok("text".to_string())
                        })
                        .unwrap()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(&*t.join().unwrap(), "text");
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        let fresh = RenderCache::new(Duration::ZERO);
        fresh.get(|| Ok("a".into())).unwrap();
        assert_eq!(&*fresh.get(|| Ok("b".into())).unwrap(), "b");
    }

    #[test]
    fn start_latency_counts_the_first_start_only() {
        let mut m = MasterMetrics::default();
        let t0 = Instant::now();
        m.start_sent(1, t0);
        m.start_sent(1, t0 + Duration::from_secs(1));
        m.start_ok(1, t0 + Duration::from_secs(3));
        m.start_ok(1, t0 + Duration::from_secs(4));
        m.start_ok(2, t0);
        assert_eq!(m.start_count(), 1);
        assert_eq!(m.start_latency.sum, 3.0);
    }
}
