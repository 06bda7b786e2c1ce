//! A whole LAVA lab inside one program: the master (store, scheduler,
//! control loop, log sink) and a worker, both embedded as libraries.
//!
//! `cargo run -p lava-examples --example embedded-lab [-- DATABASE_URL]`
//!
//! With no argument the store is a temporary SQLite file; give
//! `postgresql://USER@HOST/DB` to use PostgreSQL. The worker runs each job
//! with this same program as its `lava-run` (the program notices the
//! `--job-id` option): it streams a few log lines and a passing result, the
//! way a real lava-run would after booting a board.

use std::time::{Duration, Instant};

use lava_pipeline::run::{Invocation, RunOptions};
use lava_pipeline::slave::{Slave, SlaveConfig};
use lava_proto::log::{LogLevel, LogMessage, LogRecord};
use lava_proto::socket::{self, Security};
use lava_proto::yaml::{Mapping, Value};
use lava_scheduler::master::{Master, MasterConfig};
use lava_scheduler::model::JobState;
use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker};
use lava_scheduler::SqlStore;

const TEMPLATE: &str = "device_type: demo\ncommands:\n  connect: echo connected\n  power_on: echo on\n  power_off: echo off\n\
actions:\n  deploy:\n    methods:\n      image:\n  boot:\n    connections:\n      serial:\n    methods:\n      minimal:\n\
timeouts:\n  job:\n    minutes: 5\n  actions:\n    auto-login-action:\n      minutes: 2\n  connections:\n    auto-login-action:\n      minutes: 2\n";

const JOB: &str = "job_name: embedded demo\ndevice_type: demo\nvisibility: public\ntimeouts:\n  job:\n    minutes: 5\nactions: []\n";

/// The `lava-run` side: stream a few lines and the final result.
fn lava_run(options: &RunOptions) {
    let job_id: u64 = options.job_id.parse().expect("a numeric --job-id");
    let out = &options.output_dir;
    let ctx = zmq::Context::new();
    let push = socket::log_source(
        &ctx,
        options.logging_url.as_deref().expect("--logging-url"),
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    let send = |lvl, msg: Value| {
        let line = LogRecord::new(lvl, msg).to_line();
        socket::send_log(&push, &LogMessage { job_id, line }).unwrap();
    };
    send(LogLevel::Info, "start: 1 minimal boot".into());
    send(
        LogLevel::Target,
        "Linux version 6.1.0 (embedded demo)".into(),
    );
    let result = |case: &str, definition: &str| {
        Value::Mapping(Mapping::from_iter([
            ("case".into(), case.into()),
            ("definition".into(), definition.into()),
            ("result".into(), "pass".into()),
        ]))
    };
    send(LogLevel::Results, result("boot", "0_demo"));
    send(LogLevel::Results, result("job", "lava"));
    drop(push); // waits until every line is delivered
    std::fs::write(out.join("description.yaml"), "demo: true\n").unwrap();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(Invocation::Run(options)) = RunOptions::from_args(std::env::args_os().skip(1)) {
        lava_run(&options);
        return Ok(());
    }
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir()?;
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/lab.db", dir.path().display()));

    // The master's data: a worker, a device type and a device.
    let store = SqlStore::open_url(&url)?;
    std::fs::create_dir_all(dir.path().join("device-types"))?;
    std::fs::write(dir.path().join("device-types/demo.jinja2"), TEMPLATE)?;
    store.add_worker(&NewWorker::new("embedded-worker"), "example")?;
    store.add_device_type(&NewDeviceType::new("demo"))?;
    let mut device = NewDevice::new("demo-01", "demo", "embedded-worker");
    device.dictionary = Some("{% extends 'demo.jinja2' %}\n".into());
    store.add_device(&device, "example")?;

    // The master, on loopback ports chosen by the system.
    let mut config = MasterConfig::new(
        dir.path().join("jobs"),
        vec![dir.path().join("device-types")],
    );
    config.master_socket = "tcp://127.0.0.1:*".into();
    config.log_socket = "tcp://127.0.0.1:*".into();
    let mut master = Master::bind(config, SqlStore::open_url(&url)?)?;
    let (control, logs, waker) = (
        master.control_endpoint(),
        master.log_endpoint(),
        master.waker(),
    );
    let master_thread = std::thread::spawn(move || master.run());

    // The worker, running this program as its lava-run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut slave = Slave::new(SlaveConfig {
        master: control,
        socket_addr: logs,
        hostname: "embedded-worker".into(),
        slave_dir: dir.path().join("slave"),
        dispatcher_tmp: dir.path().join("tmp"),
        lava_run: std::env::current_exe()?,
        encrypt: None,
        connect: Default::default(),
        cancel_grace: lava_pipeline::slave::CANCEL_GRACE,
        http_bind: None,
    })?;
    let slave_stop = stop.clone();
    let slave_thread = std::thread::spawn(move || slave.run(&slave_stop));

    // Submit a job and wait for it.
    let id = lava_scheduler::submit::submit(&store, JOB, "example")?;
    println!("submitted job {id}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.job(id)?.state != JobState::Finished {
        if Instant::now() > deadline {
            return Err("the job did not finish within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let job = store.job(id)?;
    println!("Job {id} finished: {}", job.health);
    for case in store.test_cases(id)? {
        println!("  {}/{}: {}", case.suite, case.name, case.result);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    waker.shutdown();
    slave_thread.join().expect("worker thread")?;
    master_thread.join().expect("master thread")?;
    Ok(())
}
