//! Live logs for many viewers: 500 Server-Sent-Events subscribers on one
//! running job (docs/web.md, "Live logs"), the way 500 open job pages
//! follow it, while the job's log grows as the master writes it
//! (`output.yaml` and its line index, in bursts).
//!
//! `lava-server serve` runs as its own process on SQLite. Printed: the
//! lines/s each subscriber received (slowest, median), how long after the
//! last line was written the last subscriber had it, the service's CPU
//! (user + system, as a share of one core) and memory while it streamed,
//! and the time to the first byte of the job page (p50, p99 of 1,000
//! requests made during the stream).
//!
//! `cargo bench -p lava-bins --bench live_log [-- SUBSCRIBERS SECONDS]`
//! (default 500 and 10).

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use lava_scheduler::store::{NewDeviceType, NewJob};
use lava_scheduler::SqlStore;

/// Lines written per burst, and bursts per second.
const BURST: u64 = 50;
const BURSTS_PER_SECOND: u64 = 40;

/// User and system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields after the name: state is [0]; utime [11], stime [12]
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get(11), get(12))
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// One subscriber: reads the stream, counts `data:` lines, records when it
/// had `want` of them.
fn subscribe(
    port: u16,
    job: i64,
    start: Arc<Barrier>,
    want: Arc<AtomicU64>,
) -> (u64, Option<Instant>) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET /scheduler/job/{job}/log/live HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    start.wait();
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut lines = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return (lines, None),
            Ok(n) => n,
        };
        partial.extend_from_slice(&buf[..n]);
        let mut consumed = 0;
        while let Some(end) = partial[consumed..].iter().position(|&b| b == b'\n') {
            if partial[consumed..].starts_with(b"data: ") {
                lines += 1;
            }
            consumed += end + 1;
        }
        partial.drain(..consumed);
        let wanted = want.load(Ordering::SeqCst);
        if wanted > 0 && lines >= wanted {
            return (lines, Some(Instant::now()));
        }
    }
}

/// Time to the first byte of one GET.
fn first_byte(port: u16, path: &str) -> Duration {
    let started = Instant::now();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).unwrap();
    let took = started.elapsed();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    took
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let subscribers = args.first().copied().unwrap_or(500) as usize;
    let seconds = args.get(1).copied().unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/lava.db", dir.path().display());
    let store = SqlStore::open_url(&url).unwrap();
    store
        .add_device_type(&NewDeviceType::new("fixture"))
        .unwrap();
    let definition = "job_name: followed\nvisibility: public\n".to_string();
    let job = store
        .insert_job(&NewJob {
            submitter: "bench".into(),
            description: "followed".into(),
            definition: definition.clone(),
            original_definition: definition,
            requested_device_type: Some("fixture".into()),
            ..Default::default()
        })
        .unwrap();
    let jobs_dir = dir.path().join("jobs");
    let output = lava_scheduler::master::output_dir(&jobs_dir, &store.job(job).unwrap());
    std::fs::create_dir_all(&output).unwrap();
    let (serve, port) = support::serve(&url, &jobs_dir);
    let pid = serve.0.id();
    let idle_rss = support::memory_kib(pid, "VmRSS:");

    // the subscribers connect, then the log starts to grow
    let start = Arc::new(Barrier::new(subscribers + 1));
    let want = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..subscribers)
        .map(|_| {
            let (start, want) = (start.clone(), want.clone());
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || subscribe(port, job, start, want))
                .unwrap()
        })
        .collect();
    start.wait();
    let cpu_before = cpu_ticks(pid);
    let began = Instant::now();

    // the page's first byte, measured while the log streams
    let page_port = port;
    let pages = std::thread::spawn(move || {
        let mut times: Vec<Duration> = (0..1000)
            .map(|_| first_byte(page_port, &format!("/scheduler/job/{job}")))
            .collect();
        times.sort();
        times
    });

    // the master's side: a line, then its offset, in bursts
    let mut text = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(output.join("output.yaml"))
        .unwrap();
    let mut index = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(output.join("output.idx"))
        .unwrap();
    let mut offset = 0u64;
    let mut written = 0u64;
    let pace = Duration::from_secs(1) / BURSTS_PER_SECOND as u32;
    let mut next = Instant::now();
    while began.elapsed() < Duration::from_secs(seconds) {
        let mut lines = Vec::new();
        let mut offsets = Vec::new();
        for _ in 0..BURST {
            let line = format!(
                "- {{\"dt\": \"2026-12-07T10:00:00.000000\", \"lvl\": \"target\", \"msg\": \"[ {written}.000000] a console line of a busy board, written by the bench\"}}\n"
            );
            offsets.extend_from_slice(&offset.to_le_bytes());
            offset += line.len() as u64;
            lines.extend_from_slice(line.as_bytes());
            written += 1;
        }
        text.write_all(&lines).unwrap();
        index.write_all(&offsets).unwrap();
        next += pace;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let last_written = Instant::now();
    want.store(written, Ordering::SeqCst);
    let cpu_after_write = cpu_ticks(pid);
    let writing = began.elapsed();
    // the subscribers check `want` when bytes arrive: one more line wakes
    // those already complete
    let line = "- {\"dt\": \"2026-12-07T10:00:00.000000\", \"lvl\": \"info\", \"msg\": \"done\"}\n";
    index.write_all(&offset.to_le_bytes()).unwrap();
    text.write_all(line.as_bytes()).unwrap();
    let results: Vec<(u64, Option<Instant>)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let complete: Vec<Duration> = results
        .iter()
        .filter_map(|(_, at)| at.map(|at| at.duration_since(began)))
        .collect();
    let missing = results.len() - complete.len();
    let mut rates: Vec<f64> = complete
        .iter()
        .map(|took| written as f64 / took.as_secs_f64())
        .collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let lag = complete
        .iter()
        .map(|took| (began + *took).saturating_duration_since(last_written))
        .max()
        .unwrap_or_default();
    let share = |ticks: u64| ticks as f64 / ticks_per_second() / writing.as_secs_f64();
    let user = share(cpu_after_write.0 - cpu_before.0);
    let system = share(cpu_after_write.1 - cpu_before.1);
    let peak_rss = support::memory_kib(pid, "VmHWM:");
    let pages = pages.join().unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{subscribers} subscribers, {written} lines written in {:.1} s ({} lines/s offered): \
         per subscriber slowest {:.0} lines/s, median {:.0} lines/s; {missing} subscribers incomplete; \
         the last subscriber had the last line {:.0} ms after it was written",
        writing.as_secs_f64(),
        BURST * BURSTS_PER_SECOND,
        rates.first().copied().unwrap_or(0.0),
        rates.get(rates.len() / 2).copied().unwrap_or(0.0),
        ms(lag),
    );
    println!(
        "service: CPU {:.0}% of one core while streaming ({:.0}% user, {:.0}% system), RSS idle {} MiB, peak {} MiB",
        (user + system) * 100.0,
        user * 100.0,
        system * 100.0,
        idle_rss / 1024,
        peak_rss / 1024
    );
    println!(
        "job page during the stream, 1,000 requests: first byte p50 {:.2} ms, p99 {:.2} ms",
        ms(pages[pages.len() / 2]),
        ms(pages[pages.len() * 99 / 100]),
    );
    assert_eq!(missing, 0, "every subscriber gets every line");
}
