//! The real `lava-run` binary, started with the command line lava-slave
//! uses, streaming its log to a PULL socket of the test (plain and CURVE),
//! or to standard error; `--validate`; SIGTERM cancels through cleanup.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lava_proto::cert::{self, KeyPair};
use lava_proto::log::{LogLevel, LogRecord};
use lava_proto::socket::{self, Security};
use lava_proto::yaml::{self, Value};

const DEVICE: &str = "commands:\n  connect: sh -c 'PS1=\"dut# \" exec sh -i'\n\
actions:\n  deploy:\n    methods:\n      overlay:\n  boot:\n    connections:\n      serial:\n    methods:\n      minimal:\n\
timeouts:\n  actions:\n    power-off: {seconds: 5}\n  connections: {}\n";

const JOB: &str = "job_name: lava-run test\ntimeouts: {job: {minutes: 2}}\nvisibility: personal\nsecrets: {TOKEN: tok-123456}\nactions:\n\
- boot: {method: minimal, reset: false, prompts: ['dut# ']}\n";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(job: &str, device: &str) -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.yaml"), job).unwrap();
        std::fs::write(dir.path().join("device.yaml"), device).unwrap();
        std::fs::write(dir.path().join("dispatcher.yaml"), "").unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// lava-run with lava-slave's arguments.
    fn command(&self, job_id: &str, url: Option<&str>) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lava-run"));
        let p = |n: &str| self.path(n).display().to_string();
        c.arg(format!("--device={}", p("device.yaml")))
            .arg(format!("--dispatcher={}", p("dispatcher.yaml")))
            .arg(format!("--output-dir={}", p("out")))
            .arg(format!("--job-id={job_id}"))
            .arg(format!("--tmp-dir={}", p("tmp")));
        if let Some(url) = url {
            c.arg(format!("--logging-url={url}"));
        }
        c.arg(p("job.yaml"));
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }
}

/// Receive log lines until the `lava`/`job` result (or the deadline).
fn receive(
    pull: &zmq::Socket,
    job_id: &str,
    deadline: Instant,
    mut on_line: impl FnMut(&LogRecord),
) -> Vec<LogRecord> {
    let mut records = Vec::new();
    while Instant::now() < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i64;
        if pull.poll(zmq::POLLIN, left.max(1)).unwrap() == 0 {
            continue;
        }
        let frames = pull.recv_multipart(0).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], job_id.as_bytes());
        let record = LogRecord::parse(std::str::from_utf8(&frames[1]).unwrap()).unwrap();
        on_line(&record);
        let done = record.lvl == LogLevel::Results
            && record.msg.get("case").and_then(Value::as_str) == Some("job");
        records.push(record);
        if done {
            break;
        }
    }
    records
}

fn final_result(records: &[LogRecord]) -> &Value {
    let last = records.last().expect("no log line received");
    assert_eq!(last.lvl, LogLevel::Results, "{:?}", last);
    assert_eq!(
        last.msg.get("definition").and_then(Value::as_str),
        Some("lava")
    );
    &last.msg
}

/// The exit code of `child`, which must exit within `limit`.
fn wait(child: Child, limit: Duration) -> i32 {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut child = child;
    std::thread::spawn(move || {
        let _ = tx.send(child.wait().map(|s| s.code().unwrap_or(-1)));
    });
    rx.recv_timeout(limit)
        .expect("lava-run did not exit in time")
        .unwrap()
}

fn bind_pull(ctx: &zmq::Context, security: &Security) -> (zmq::Socket, String) {
    let pull = socket::log_sink(ctx, "tcp://127.0.0.1:*", security, false).unwrap();
    let url = pull.get_last_endpoint().unwrap().unwrap();
    (pull, url)
}

fn description(path: &Path) -> Value {
    yaml::load(&std::fs::read_to_string(path).expect("description.yaml")).unwrap()
}

#[test]
fn a_minimal_job_streams_its_log_and_writes_its_description() {
    let files = Files::new(JOB, DEVICE);
    let ctx = zmq::Context::new();
    let (pull, url) = bind_pull(&ctx, &Security::Null);
    let child = files.command("31", Some(&url)).spawn().unwrap();
    let records = receive(
        &pull,
        "31",
        Instant::now() + Duration::from_secs(60),
        |_| {},
    );
    assert_eq!(wait(child, Duration::from_secs(30)), 0);
    let result = final_result(&records);
    assert_eq!(
        result.get("result").and_then(Value::as_str),
        Some("pass"),
        "{records:#?}"
    );
    let infos: Vec<&str> = records
        .iter()
        .filter(|r| r.lvl == LogLevel::Info)
        .filter_map(|r| r.msg.as_str())
        .collect();
    assert!(infos.contains(&"start: 0 validate"));
    assert!(infos
        .iter()
        .any(|m| m.starts_with("start: 1 minimal-boot (timeout 00:00:30) [common]")));
    assert!(infos.contains(&"Job finished correctly"));
    let description = description(&files.path("out/description.yaml"));
    assert_eq!(
        description.get("compatibility").and_then(Value::as_i64),
        Some(2)
    );
    let pipeline = description
        .get("pipeline")
        .and_then(Value::as_sequence)
        .unwrap();
    let levels: Vec<&str> = pipeline
        .iter()
        .filter_map(|p| p.get("level").and_then(Value::as_str))
        .collect();
    assert_eq!(levels, ["1", "2"]);
    assert_eq!(
        pipeline[0].get("section").and_then(Value::as_str),
        Some("boot")
    );
    assert_eq!(
        pipeline[0]
            .get("timeout")
            .and_then(|t| t.get("duration"))
            .and_then(Value::as_i64),
        Some(30)
    );
    let text = std::fs::read_to_string(files.path("out/description.yaml")).unwrap();
    assert!(
        !text.contains("tok-123456"),
        "secrets stay out of description.yaml"
    );
    assert_eq!(
        description
            .get("job")
            .and_then(|j| j.get("actions"))
            .and_then(|a| a.as_sequence())
            .map(|a| a[0].get("boot").and_then(|b| b.get("namespace")).cloned()),
        Some(Some(Value::from("common")))
    );
}

#[test]
fn failures_are_classified_in_the_final_result() {
    let device = DEVICE.replace(
        "connect: sh -c 'PS1=\"dut# \" exec sh -i'",
        "connect: /no/such/console",
    );
    let files = Files::new(JOB, &device);
    let ctx = zmq::Context::new();
    let (pull, url) = bind_pull(&ctx, &Security::Null);
    let child = files.command("32", Some(&url)).spawn().unwrap();
    let records = receive(
        &pull,
        "32",
        Instant::now() + Duration::from_secs(60),
        |_| {},
    );
    assert_eq!(wait(child, Duration::from_secs(30)), 1);
    let result = final_result(&records);
    assert_eq!(result.get("result").and_then(Value::as_str), Some("fail"));
    assert_eq!(
        result.get("error_type").and_then(Value::as_str),
        Some("Infrastructure")
    );
    assert_eq!(
        result.get("error_msg").and_then(Value::as_str),
        Some("Cannot find command '/no/such/console' in $PATH")
    );
    assert!(files.path("out/description.yaml").exists());
}

#[test]
fn sigterm_cancels_through_cleanup() {
    // a prompt that never comes: the boot waits until canceled
    let job = JOB.replace(
        "prompts: ['dut# ']",
        "prompts: ['never-seen# '], timeout: {minutes: 1}",
    );
    let files = Files::new(&job, DEVICE);
    let ctx = zmq::Context::new();
    let (pull, url) = bind_pull(&ctx, &Security::Null);
    let child = files.command("33", Some(&url)).spawn().unwrap();
    let pid = child.id().to_string();
    let started = Instant::now();
    let records = receive(
        &pull,
        "33",
        Instant::now() + Duration::from_secs(60),
        |record| {
            if record
                .msg
                .as_str()
                .is_some_and(|m| m.starts_with("start: 1.2 auto-login-action"))
            {
                Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            }
        },
    );
    assert_eq!(wait(child, Duration::from_secs(30)), 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "canceled promptly"
    );
    let result = final_result(&records);
    assert_eq!(
        result.get("error_type").and_then(Value::as_str),
        Some("Canceled")
    );
    let infos: Vec<&str> = records.iter().filter_map(|r| r.msg.as_str()).collect();
    assert!(infos.contains(&"Cleaning after the job"));
    assert!(files.path("out/description.yaml").exists());
}

#[test]
fn curve_logging_and_validate_and_stderr() {
    // CURVE: the master's key pair on the PULL socket, the worker's in lava-run
    let files = Files::new(JOB, DEVICE);
    let master = KeyPair::generate().unwrap();
    let worker = KeyPair::generate().unwrap();
    let (master_public, _) = cert::write_pair(files.dir.path(), "master", &master, false).unwrap();
    let (_, worker_secret) = cert::write_pair(files.dir.path(), "worker", &worker, false).unwrap();
    let ctx = zmq::Context::new();
    let (pull, url) = bind_pull(&ctx, &Security::CurveServer(master));
    let mut command = files.command("34", Some(&url));
    command
        .arg("--master-cert")
        .arg(&master_public)
        .arg("--slave-cert")
        .arg(&worker_secret);
    let child = command.spawn().unwrap();
    let records = receive(
        &pull,
        "34",
        Instant::now() + Duration::from_secs(60),
        |_| {},
    );
    assert_eq!(wait(child, Duration::from_secs(30)), 0);
    assert_eq!(
        final_result(&records).get("result").and_then(Value::as_str),
        Some("pass")
    );

    // a missing certificate: lava-run cannot log and says so
    let mut command = files.command("35", Some(&url));
    command
        .arg("--master-cert")
        .arg(files.path("nope.key"))
        .arg("--slave-cert")
        .arg(&worker_secret);
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lava-run failed to setup logging"));

    // --validate: the pipeline on stdout, LAVA's log format on stderr
    let mut command = files.command("36", None);
    command.arg("--validate");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 minimal-boot"), "{stdout}");
    assert!(stdout.contains("  1.1 connect-device"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<LogRecord> = stderr
        .lines()
        .map(|l| LogRecord::parse(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|r| r.msg.as_str() == Some("start: 0 validate")));
    assert!(files.path("out/description.yaml").exists());

    // usage errors exit 2
    let out = Command::new(env!("CARGO_BIN_EXE_lava-run"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
