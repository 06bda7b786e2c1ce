//! Load on the HTTP service: many clients polling one job, as CI systems
//! do while they wait (lavacli's `jobs wait` calls `scheduler.jobs.show`
//! every few seconds; here every client asks again as soon as it has its
//! answer). `lava-server serve` runs as its own process on SQLite (and on
//! PostgreSQL when `LAVA_TEST_DATABASE_URL` is set); `wrk` (Debian's
//! package) is the load generator, with 1,000 connections on 2 threads.
//!
//! Two loads: **flat out** (each client asks again as soon as it has its
//! answer: the most the service can do; in such a closed loop latency is
//! about clients ÷ throughput) and **paced** (each client waits 200 ms
//! between requests, so 5,000 requests/s are offered and the latency is the
//! service's own).
//!
//! `cargo bench -p lava-bins --bench api_load [-- SECONDS]` (default 20).
//! Printed: requests/s, latency percentiles from wrk, and the service's
//! resident memory idle and at its peak under the load.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use lava_scheduler::store::{NewDeviceType, NewJob};
use lava_scheduler::SqlStore;

const CLIENTS: usize = 1000;

fn run(name: &str, url: &str, dir: &Path, seconds: u64) {
    let store = SqlStore::open_url(url).unwrap();
    store
        .add_device_type(&NewDeviceType::new("fixture"))
        .unwrap();
    let definition = "job_name: polled\nvisibility: public\n".to_string();
    let job = store
        .insert_job(&NewJob {
            submitter: "bench".into(),
            description: "polled".into(),
            definition: definition.clone(),
            original_definition: definition,
            requested_device_type: Some("fixture".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap();
    let (serve, port) = support::serve(url, &dir.join("jobs"));
    let pid = serve.0.id();
    let idle = support::memory_kib(pid, "VmRSS:");
    let body = format!(
        "<?xml version='1.0'?><methodCall><methodName>scheduler.jobs.show</methodName><params><param><value><string>{job}</string></value></param></params></methodCall>"
    );
    let pause = 1_000 * CLIENTS / 5_000; // ms between a client's requests
    for (load, delay) in [
        ("flat out", String::new()),
        (
            "paced to 5,000/s",
            format!("function delay() return {pause} end\n"),
        ),
    ] {
        let script = dir.join("show.lua");
        std::fs::write(
            &script,
            format!(
                "wrk.method = \"POST\"\nwrk.body = \"{body}\"\nwrk.headers[\"Content-Type\"] = \"text/xml\"\n{delay}\
                 done = function(summary, latency, requests)\n  io.write(string.format(\"errors: %d\\n\", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n"
            ),
        )
        .unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 8192 && wrk -t2 -c{CLIENTS} -d{seconds}s --timeout 10s --latency -s '{}' http://127.0.0.1:{port}/RPC2",
                script.display()
            ))
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let pick = |prefix: &str| {
            report
                .lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| format!("{prefix} ?"))
        };
        println!(
            "{name}: {CLIENTS} clients polling scheduler.jobs.show, {load}, {seconds} s: {} | latency {} | {} | {}",
            pick("Requests/sec:"),
            pick("50%"),
            pick("99%"),
            pick("errors:"),
        );
    }
    let peak = support::memory_kib(pid, "VmHWM:");
    println!(
        "{name}: RSS idle {} MiB, peak under load {} MiB",
        idle / 1024,
        peak / 1024
    );
}

fn main() {
    if Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        println!("api_load: skipped (wrk is not installed: apt-get install wrk)");
        return;
    }
    let seconds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    support::on_both_backends("api_load", |name, url, dir| run(name, url, dir, seconds));
}
