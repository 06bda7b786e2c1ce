//! The daemons under load, as real processes.
//!
//! `cargo bench -p lava-bins --bench daemons [-- LINES]` prints:
//! - **log ingest**: LINES log lines (default 200,000) from one
//!   lava-run-like PUSH producer through `lava-master` to `output.yaml` and
//!   `output.idx`, checked for loss and order; next to a raw PUSH→PULL of the
//!   same lines in the same run;
//! - **lava-run's logger**: LINES records through `lava_pipeline`'s
//!   `Logger` to a PULL socket, without and with the journal (`log.yaml`,
//!   one unbuffered write per line) that makes a killed master's losses
//!   recoverable;
//! - **1,000 workers**: 1,000 simulated workers (one ZeroMQ socket each)
//!   greet one master and PING it every second for 10 s (LAVA's workers ping
//!   every 20 s, so this is 20 times the real load); the master's CPU and
//!   resident memory;
//! - **idle**: resident memory of an idle `lava-master` and `lava-slave`.

use std::path::Path;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lava_proto::control::Message;
use lava_proto::log::{LogLevel, LogMessage, LogRecord};
use lava_proto::socket::{self, Security, MASTER_ID};
use lava_scheduler::store::{NewDeviceType, NewJob, NewWorker};
use lava_scheduler::SqlStore;
use support::{free_port, Daemon};

/// (resident KiB, user + system clock ticks) of a process.
fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 2)..]
        .split_whitespace()
        .collect();
    let ticks = fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
    (rss, ticks)
}

fn master(dir: &Path, url: &str) -> (Daemon, String, String) {
    let control = format!("tcp://127.0.0.1:{}", free_port());
    let logs = format!("tcp://127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_lava-master"))
        .args([
            "--master-socket",
            &control,
            "--log-socket",
            &logs,
            "--database",
            url,
            "--level",
            "WARN",
        ])
        .arg("--device-types")
        .arg(dir.join("device-types"))
        .arg("--jobs-dir")
        .arg(dir.join("jobs"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Daemon(child), control, logs)
}

fn lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            LogRecord::new(
                LogLevel::Target,
                format!("[{i:>8}] console output of a board under test"),
            )
            .to_line()
        })
        .collect()
}

fn log_ingest(dir: &Path, url: &str, store: &SqlStore, n: usize) {
    let job = store
        .insert_job(&NewJob {
            submitter: "bench".into(),
            requested_device_type: Some("bench".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap();
    let (_master, _control, logs) = master(dir, url);
    let out = lava_scheduler::master::output_dir(&dir.join("jobs"), &store.job(job).unwrap());
    let lines = lines(n);
    let ctx = zmq::Context::new();

    // Raw PUSH → PULL of the same lines, in this process.
    let pull = socket::log_sink(&ctx, "tcp://127.0.0.1:*", &Security::Null, false).unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    let push = socket::log_source(&ctx, &endpoint, &Security::Null, &Default::default()).unwrap();
    let t0 = Instant::now();
    let sender = {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in lines {
                socket::send_log(&push, &LogMessage { job_id: 1, line }).unwrap();
            }
        })
    };
    for _ in 0..n {
        socket::recv_log(&pull, 0).unwrap();
    }
    sender.join().unwrap();
    let raw = t0.elapsed();

    // Through lava-master to disk.
    let push = socket::log_source(&ctx, &logs, &Security::Null, &Default::default()).unwrap();
    let t0 = Instant::now();
    for line in &lines {
        socket::send_log(
            &push,
            &LogMessage {
                job_id: job as u64,
                line: line.clone(),
            },
        )
        .unwrap();
    }
    let index = out.join("output.idx");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::metadata(&index).map(|m| m.len()).unwrap_or(0) < (n as u64) * 8 {
        assert!(Instant::now() < deadline, "lines missing after 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let through = t0.elapsed();
    let written = std::fs::read_to_string(out.join("output.yaml")).unwrap();
    let stored: Vec<&str> = written.lines().collect();
    assert_eq!(stored.len(), n, "every line exactly once");
    assert!(
        stored
            .iter()
            .zip(&lines)
            .all(|(s, l)| s.strip_prefix("- ") == Some(l.as_str())),
        "in order"
    );
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "log ingest: {n} lines ({:.1} MB) through lava-master to disk in {through:.2?} = {:.0} lines/s, 0 lost; raw PUSH/PULL {raw:.2?} = {:.0} lines/s",
        written.len() as f64 / 1e6,
        rate(through),
        rate(raw)
    );
}

fn logger_journal(dir: &Path, n: usize) {
    use lava_pipeline::{run::JOURNAL, Logger};
    let mut rates = Vec::new();
    for journal in [false, true] {
        let ctx = zmq::Context::new();
        let pull = socket::log_sink(&ctx, "tcp://127.0.0.1:*", &Security::Null, false).unwrap();
        let endpoint = pull.get_last_endpoint().unwrap().unwrap();
        let receiver = std::thread::spawn(move || {
            for _ in 0..n {
                socket::recv_log(&pull, 0).unwrap();
            }
        });
        let mut logger = Logger::zmq(&endpoint, "1", &Security::Null, &Default::default()).unwrap();
        let path = dir.join(format!("journal-bench-{journal}")).join(JOURNAL);
        if journal {
            logger = logger.with_journal(&path).unwrap();
        }
        let t0 = Instant::now();
        for i in 0..n {
            logger.record(LogRecord::new(
                LogLevel::Target,
                format!("line {i} of a board's console output"),
            ));
        }
        logger.close();
        receiver.join().unwrap();
        let elapsed = t0.elapsed();
        if journal {
            let written = std::fs::read_to_string(&path).unwrap();
            assert_eq!(written.lines().count(), n, "every line journaled");
        }
        rates.push((elapsed, n as f64 / elapsed.as_secs_f64()));
    }
    println!(
        "lava-run logger: {n} lines to a PULL socket in {:.2?} = {:.0} lines/s; with the journal {:.2?} = {:.0} lines/s",
        rates[0].0, rates[0].1, rates[1].0, rates[1].1
    );
}

fn many_workers(dir: &Path, url: &str, store: &SqlStore) {
    const WORKERS: usize = 1000;
    for i in 0..WORKERS {
        store
            .add_worker(&NewWorker::new(format!("sim{i:04}")), "bench")
            .unwrap();
    }
    let (master, control, _logs) = master(dir, url);
    let pid = master.0.id();
    std::thread::sleep(Duration::from_millis(500));
    let (idle_rss, _) = usage(pid);
    // A ZeroMQ context holds at most 1,023 sockets: use two.
    let contexts = [zmq::Context::new(), zmq::Context::new()];
    let workers: Vec<zmq::Socket> = (0..WORKERS)
        .map(|i| {
            let ctx = &contexts[i % 2];
            socket::worker_control(
                ctx,
                &control,
                &format!("sim{i:04}"),
                &Security::Null,
                &Default::default(),
            )
            .unwrap()
        })
        .collect();
    for w in &workers {
        socket::send(w, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    }
    for w in &workers {
        assert!(w.poll(zmq::POLLIN, 30_000).unwrap() > 0, "no HELLO_OK");
        socket::recv(w).unwrap();
    }
    let (_, ticks0) = usage(pid);
    let t0 = Instant::now();
    let mut pongs = 0;
    for _ in 0..10 {
        let round = Instant::now();
        for w in &workers {
            socket::send(w, MASTER_ID, &Message::Ping).unwrap();
        }
        for w in &workers {
            while w.poll(zmq::POLLIN, 10_000).unwrap() > 0 {
                if socket::recv(w).unwrap().message() == Ok(Message::Pong { interval: 20 }) {
                    pongs += 1;
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(round.elapsed()));
    }
    let elapsed = t0.elapsed();
    let (rss, ticks1) = usage(pid);
    let hz = 100.0; // USER_HZ on Linux
    let cpu = (ticks1 - ticks0) as f64 / hz / elapsed.as_secs_f64() * 100.0;
    assert_eq!(pongs, WORKERS * 10);
    println!(
        "1000 workers: {pongs} PING/PONG in {elapsed:.1?} ({:.0}/s): lava-master CPU {cpu:.1}% of one core, RSS {} KiB (idle before: {idle_rss} KiB)",
        pongs as f64 / elapsed.as_secs_f64(),
        rss
    );
}

fn idle_slave(dir: &Path) {
    let control = format!("tcp://127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_lava-slave"))
        .args([
            "--master",
            &control,
            "--socket-addr",
            "tcp://127.0.0.1:1",
            "--hostname",
            "idle",
            "--level",
            "WARN",
        ])
        .arg("--slave-dir")
        .arg(dir.join("slave"))
        .arg("--dispatcher-tmp")
        .arg(dir.join("tmp"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let slave = Daemon(child);
    std::thread::sleep(Duration::from_secs(1));
    println!("idle: lava-slave RSS {} KiB", usage(slave.0.id()).0);
}

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/lava.db", dir.path().display());
    let store = SqlStore::open_url(&url).unwrap();
    std::fs::create_dir_all(dir.path().join("device-types")).unwrap();
    store.add_device_type(&NewDeviceType::new("bench")).unwrap();
    {
        let (master, _, _) = master(dir.path(), &url);
        std::thread::sleep(Duration::from_secs(1));
        println!("idle: lava-master RSS {} KiB", usage(master.0.id()).0);
    }
    idle_slave(dir.path());
    log_ingest(dir.path(), &url, &store, n);
    logger_journal(dir.path(), n);
    many_workers(dir.path(), &url, &store);
}
