//! Submission latency through the real processes: a submission → lava-master
//! (a process) schedules the job on an idle device → START arrives at the
//! worker. LAVA 2020.01 waits for its 20-second scheduling loop here. Three
//! ways in: `lava-server manage jobs submit` (a process of its own), REST
//! `POST /api/v0.2/jobs/` and XML-RPC `scheduler.jobs.submit` to a running
//! `lava-server serve` (HTTP keep-alive, as a CI client would).
//!
//! `cargo bench -p lava-bins --bench submit_latency [-- JOBS]` (default 200)
//! on SQLite, and on PostgreSQL when `LAVA_TEST_DATABASE_URL` is set. The
//! worker is simulated in this process with lava-proto's sockets: it greets
//! the master, takes each START, and the job is then finished through the
//! store so the device is idle for the next one. Printed: percentiles of
//! (a) from starting the submission to START at the worker, and (b) from
//! the submission's answer (the job is committed) to START.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lava_proto::control::Message;
use lava_proto::socket::{self, Security, MASTER_ID};
use lava_scheduler::model::JobHealth;
use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker};
use lava_scheduler::SqlStore;
use support::{free_port, Daemon};

const TEMPLATE: &str = "device_type: fixture\ncommands:\n  connect: echo connected\n  power_on: echo on\n  power_off: echo off\n\
actions:\n  deploy:\n    methods:\n      image:\n  boot:\n    connections:\n      serial:\n    methods:\n      minimal:\n\
timeouts:\n  job:\n    minutes: 5\n  actions:\n    auto-login-action:\n      minutes: 2\n  connections:\n    auto-login-action:\n      minutes: 2\n";

const JOB: &str = "job_name: latency\ndevice_type: fixture\nvisibility: public\ntimeouts:\n  job:\n    minutes: 5\nactions: []\n";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// How a job goes in.
enum Way {
    Cli,
    Rest {
        agent: ureq::Agent,
        base: String,
        token: String,
    },
    Rpc {
        agent: ureq::Agent,
        base: String,
        token: String,
    },
}

impl Way {
    fn label(&self) -> &'static str {
        match self {
            Way::Cli => "CLI",
            Way::Rest { .. } => "REST",
            Way::Rpc { .. } => "XML-RPC",
        }
    }

    fn submit(&self, url: &str, dir: &Path) {
        match self {
            Way::Cli => {
                let status = Command::new(env!("CARGO_BIN_EXE_lava-server"))
                    .args(["manage", "--database", url, "jobs", "submit"])
                    .arg(dir.join("job.yaml"))
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
            }
            Way::Rest { agent, base, token } => {
                let body = format!("{{\"definition\": {:?}}}", JOB);
                let response = agent
                    .post(&format!("{base}/api/v0.2/jobs/"))
                    .header("Authorization", &format!("Token {token}"))
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
            }
            Way::Rpc { agent, base, token } => {
                let call = dxr::MethodCall {
                    name: "scheduler.jobs.submit".into(),
                    params: vec![dxr::Value::String(JOB.into())],
                };
                let mut response = agent
                    .post(&format!("{base}/RPC2"))
                    .header("Authorization", &format!("Token {token}"))
                    .send(call.to_xml().unwrap().as_bytes())
                    .unwrap();
                let text = response.body_mut().read_to_string().unwrap();
                assert!(dxr::MethodResponse::from_xml(&text).is_ok(), "{text}");
            }
        }
    }
}

/// Start `lava-server serve` with a user and token; the REST and XML-RPC
/// ways in.
fn api_ways(url: &str, dir: &Path) -> (Daemon, Vec<Way>) {
    let manage = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-server"))
            .args(["manage", "--database", url])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    manage(&["users", "add", "bench"]);
    let token = manage(&["tokens", "add", "--user", "bench"]);
    let (serve, port) = support::serve(url, &dir.join("jobs"));
    let base = format!("http://127.0.0.1:{port}");
    let agent = || -> ureq::Agent { ureq::Agent::config_builder().build().into() };
    let ways = vec![
        Way::Rest {
            agent: agent(),
            base: base.clone(),
            token: token.clone(),
        },
        Way::Rpc {
            agent: agent(),
            base,
            token,
        },
    ];
    (serve, ways)
}

fn run(name: &str, url: &str, dir: &Path, jobs: usize) {
    let store = SqlStore::open_url(url).unwrap();
    std::fs::create_dir_all(dir.join("device-types")).unwrap();
    std::fs::write(dir.join("device-types/fixture.jinja2"), TEMPLATE).unwrap();
    std::fs::write(dir.join("job.yaml"), JOB).unwrap();
    store
        .add_worker(&NewWorker::new("bench-worker"), "bench")
        .unwrap();
    store
        .add_device_type(&NewDeviceType::new("fixture"))
        .unwrap();
    let mut device = NewDevice::new("fixture-01", "fixture", "bench-worker");
    device.dictionary = Some("{% extends 'fixture.jinja2' %}\n".into());
    store.add_device(&device, "bench").unwrap();

    let control = format!("tcp://127.0.0.1:{}", free_port());
    let logs = format!("tcp://127.0.0.1:{}", free_port());
    let _master = Daemon(
        Command::new(env!("CARGO_BIN_EXE_lava-master"))
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
            .unwrap(),
    );
    let ctx = zmq::Context::new();
    let worker = socket::worker_control(
        &ctx,
        &control,
        "bench-worker",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    loop {
        assert!(worker.poll(zmq::POLLIN, 10_000).unwrap() > 0, "no HELLO_OK");
        if socket::recv(&worker).unwrap().message() == Ok(Message::HelloOk) {
            break;
        }
    }
    let (_serve, api) = api_ways(url, dir);
    for way in std::iter::once(Way::Cli).chain(api) {
        let mut from_command = Vec::with_capacity(jobs);
        let mut from_commit = Vec::with_capacity(jobs);
        for _ in 0..jobs {
            let t0 = Instant::now();
            way.submit(url, dir);
            let committed = Instant::now();
            let job = loop {
                assert!(
                    worker.poll(zmq::POLLIN, 10_000).unwrap() > 0,
                    "no START within 10 s"
                );
                if let Ok(Message::Start(start)) = socket::recv(&worker).unwrap().message() {
                    break start.job_id as i64;
                }
            };
            let arrived = Instant::now();
            from_command.push(arrived - t0);
            from_commit.push(arrived - committed);
            socket::send(&worker, MASTER_ID, &Message::StartOk { job_id: job as u64 }).unwrap();
            // Free the device for the next job (as lava-run's final result would).
            // (START_OK may not be processed yet; finishing works from any state.)
            store
                .finish_job(job, JobHealth::Complete, false, None, "bench")
                .unwrap();
        }
        for (label, mut samples) in [
            ("submission → START", from_command),
            ("commit → START", from_commit),
        ] {
            samples.sort();
            println!(
                "{name}: {:<8} {label:<20} p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}  ({} jobs)",
                way.label(),
                percentile(&samples, 0.5),
                percentile(&samples, 0.99),
                samples[samples.len() - 1],
                samples.len()
            );
        }
    }
}

fn main() {
    let jobs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    support::on_both_backends("latency", |name, url, dir| run(name, url, dir, jobs));
}
