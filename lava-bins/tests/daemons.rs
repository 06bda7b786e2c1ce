//! lava-master and lava-slave as real processes on loopback, with the
//! `fake-lava-run` example standing in for lava-run: a job goes from the
//! store to the worker and back, survives restarts of either daemon, and
//! every log line is stored exactly once, in order.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lava_scheduler::model::{JobHealth, JobState, WorkerState};
use lava_scheduler::store::{NewDevice, NewDeviceType, NewJob, NewWorker, Store};
use lava_scheduler::SqlStore;

const TEMPLATE: &str = "device_type: fixture
commands:
  connect: echo connected
  power_on: echo on
  power_off: echo off
actions:
  deploy:
    methods:
      image:
  boot:
    connections:
      serial:
    methods:
      minimal:
timeouts:
  job:
    minutes: 5
  actions:
    auto-login-action:
      minutes: 2
  connections:
    auto-login-action:
      minutes: 2
";

fn bin(name: &str) -> PathBuf {
    let master = PathBuf::from(env!("CARGO_BIN_EXE_lava-master"));
    let dir = master.parent().unwrap();
    match name {
        "fake-lava-run" => dir.join("examples").join(name),
        _ => dir.join(name),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Poll `check` until it holds, or fail after `timeout` saying `what`.
fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const DEADLINE: Duration = Duration::from_secs(30);

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Lab {
    dir: tempfile::TempDir,
    url: String,
    store: SqlStore,
    control: String,
    logs: String,
    master: Option<Daemon>,
    slave: Option<Daemon>,
    cleanup: Option<(String, String)>,
    /// CURVE: the slave's secret certificate (master certificates are in `certs/`).
    curve: Option<PathBuf>,
    /// Start the slave without encryption even when the master encrypts.
    plaintext_slave: bool,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.slave.take();
        self.master.take();
        if let Some((base, schema)) = self.cleanup.take() {
            if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

impl Lab {
    fn new(postgres: bool) -> Option<Lab> {
        let dir = tempfile::tempdir().unwrap();
        let (url, cleanup) = if postgres {
            let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") else {
                eprintln!("skipping PostgreSQL: LAVA_TEST_DATABASE_URL is not set");
                return None;
            };
            let schema = format!("lava_daemons_{}_{}", std::process::id(), free_port());
            let sep = if base.contains('?') { '&' } else { '?' };
            (format!("{base}{sep}schema={schema}"), Some((base, schema)))
        } else {
            (format!("sqlite://{}/lava.db", dir.path().display()), None)
        };
        let store = SqlStore::open_url(&url).unwrap();
        std::fs::create_dir_all(dir.path().join("device-types")).unwrap();
        std::fs::write(dir.path().join("device-types/fixture.jinja2"), TEMPLATE).unwrap();
        store
            .add_worker(&NewWorker::new("worker1"), "admin")
            .unwrap();
        store
            .add_device_type(&NewDeviceType::new("fixture"))
            .unwrap();
        let mut device = NewDevice::new("fixture-01", "fixture", "worker1");
        device.dictionary = Some("{% extends 'fixture.jinja2' %}\n".into());
        store.add_device(&device, "admin").unwrap();
        let lab = Lab {
            control: format!("tcp://127.0.0.1:{}", free_port()),
            logs: format!("tcp://127.0.0.1:{}", free_port()),
            dir,
            url,
            store,
            master: None,
            slave: None,
            cleanup,
            curve: None,
            plaintext_slave: false,
        };
        Some(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start_master(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("master.log"))
            .unwrap();
        let child = Command::new(bin("lava-master"))
            .args([
                "--master-socket",
                &self.control,
                "--log-socket",
                &self.logs,
                "--database",
                &self.url,
            ])
            .arg("--device-types")
            .arg(self.path("device-types"))
            .arg("--jobs-dir")
            .arg(self.path("jobs"))
            .arg("--dispatcher-config")
            .arg(self.path("dispatcher.d"))
            .args(["--level", "DEBUG"])
            .args(self.curve.as_ref().map_or(vec![], |_| {
                vec![
                    "--encrypt".to_string(),
                    "--master-cert".to_string(),
                    self.path("certs/master.key_secret").display().to_string(),
                    "--slaves-certs".to_string(),
                    self.path("certs").display().to_string(),
                ]
            }))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.master = Some(Daemon(child));
    }

    fn start_slave(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("slave.log"))
            .unwrap();
        let child = Command::new(bin("lava-slave"))
            .args([
                "--master",
                &self.control,
                "--socket-addr",
                &self.logs,
                "--hostname",
                "worker1",
            ])
            .arg("--slave-dir")
            .arg(self.path("slave"))
            .arg("--dispatcher-tmp")
            .arg(self.path("dispatcher-tmp"))
            .arg("--lava-run")
            .arg(bin("fake-lava-run"))
            .args(["--level", "DEBUG"])
            .args(
                self.curve
                    .as_ref()
                    .filter(|_| !self.plaintext_slave)
                    .map_or(vec![], |secret| {
                        vec![
                            "--encrypt".to_string(),
                            "--master-cert".to_string(),
                            self.path("certs/master.key").display().to_string(),
                            "--slave-cert".to_string(),
                            secret.display().to_string(),
                        ]
                    }),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.slave = Some(Daemon(child));
    }

    fn logs_of(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.path(n)).unwrap_or_default();
        format!(
            "--- master.log\n{}\n--- slave.log\n{}",
            read("master.log"),
            read("slave.log")
        )
    }

    fn submit(&self, fixture: &str) -> i64 {
        let definition = format!("job_name: fixture job\nvisibility: public\nfixture: {fixture}\n");
        self.store
            .insert_job(&NewJob {
                submitter: "alice".into(),
                description: "fixture job".into(),
                definition: definition.clone(),
                original_definition: definition,
                requested_device_type: Some("fixture".into()),
                priority: 50,
                ..Default::default()
            })
            .unwrap()
    }

    fn wait_state(&self, job: i64, state: JobState) {
        wait_for(&format!("job {job} to be {state}"), DEADLINE, || {
            self.store.job(job).unwrap().state == state
        });
    }

    fn job_dir(&self, job: i64) -> PathBuf {
        lava_scheduler::master::output_dir(&self.path("jobs"), &self.store.job(job).unwrap())
    }

    /// The slave's directory of a job (created by the slave, for `release`).
    fn slave_job_dir(&self, job: i64) -> PathBuf {
        self.path("slave").join("tmp").join(job.to_string())
    }

    fn release(&self, job: i64) {
        std::fs::write(self.slave_job_dir(job).join("release"), "").unwrap();
    }
}

/// The log of a job: each line of output.yaml checked against output.idx.
fn log_lines(dir: &Path) -> Vec<String> {
    let output = std::fs::read(dir.join("output.yaml")).unwrap();
    let index = std::fs::read(dir.join("output.idx")).unwrap();
    let offsets: Vec<u64> = index
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let text = String::from_utf8(output).unwrap();
    let mut lines = Vec::new();
    let mut at = 0u64;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        assert_eq!(offsets[n], at, "output.idx entry {n}");
        assert!(
            line.starts_with("- {") && line.ends_with("}\n"),
            "line {n}: {line}"
        );
        at += line.len() as u64;
        lines.push(line[2..line.len() - 1].to_string());
    }
    assert_eq!(offsets.len(), lines.len());
    lines
}

fn messages(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            lava_proto::log::LogRecord::parse(l)
                .unwrap()
                .msg
                .to_string()
        })
        .collect()
}

fn normal_job(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    wait_for("the worker to come online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    let job = lab.submit("{lines: 20}");
    wait_for("the job to finish", DEADLINE, || {
        lab.store.job(job).unwrap().state == JobState::Finished
    });
    let finished = lab.store.job(job).unwrap();
    assert_eq!(finished.health, JobHealth::Complete, "{}", lab.logs_of());
    let dir = lab.job_dir(job);
    let lines = log_lines(&dir);
    let msgs = messages(&lines);
    assert_eq!(
        lines.len(),
        23,
        "validate + 20 lines + 2 results (the marker is not written)"
    );
    for i in 0..20 {
        assert_eq!(msgs[1 + i], format!("\"line {i}\""));
    }
    let cases: Vec<(String, String)> = lab
        .store
        .test_cases(job)
        .unwrap()
        .into_iter()
        .map(|c| (c.suite, c.name))
        .collect();
    assert_eq!(
        cases,
        [
            ("0_fixture".into(), "smoke".into()),
            ("lava".into(), "job".into())
        ]
    );
    let smoke = &lab.store.test_cases(job).unwrap()[0];
    assert_eq!(
        (smoke.start_log_line, smoke.end_log_line),
        (Some(20), Some(20)),
        "the marker points at the line before it"
    );
    wait_for("description.yaml", DEADLINE, || {
        dir.join("description.yaml").exists()
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("description.yaml")).unwrap(),
        format!("job:\n  id: {job}\n")
    );
    for name in ["job.yaml", "device.yaml"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    assert!(std::fs::read_to_string(dir.join("job.yaml"))
        .unwrap()
        .ends_with("compatibility: 0\n"));
    wait_for("the worker to clean up after END_OK", DEADLINE, || {
        !lab.slave_job_dir(job).exists()
    });
}

#[test]
fn normal_job_on_sqlite() {
    normal_job(false);
}

#[test]
fn normal_job_on_postgres() {
    normal_job(true);
}

#[test]
fn lava_run_crash_is_incomplete_with_its_stderr() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{crash: true, stderr: 'segfault in the fixture'}");
    lab.wait_state(job, JobState::Finished);
    let job = lab.store.job(job).unwrap();
    assert_eq!(job.health, JobHealth::Incomplete, "{}", lab.logs_of());
    let comment = job.failure_comment.unwrap_or_default();
    assert!(comment.contains("segfault in the fixture"), "{comment}");
}

#[test]
fn cancel_of_a_running_job() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    lab.store.cancel_job(job, "alice").unwrap();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Canceled,
        "{}",
        lab.logs_of()
    );
    let msgs = messages(&log_lines(&lab.job_dir(job)));
    assert!(msgs.last().unwrap().contains("Canceled"), "{msgs:?}");
}

fn restart_mid_job(restart_master: bool) {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true, lines: 3}");
    lab.wait_state(job, JobState::Running);
    wait_for("the first log lines", DEADLINE, || {
        lab.job_dir(job).join("output.yaml").exists() && log_lines(&lab.job_dir(job)).len() >= 5
    });
    if restart_master {
        lab.master.take(); // SIGKILL
        lab.start_master();
    } else {
        lab.slave.take(); // SIGKILL: lava-run keeps running in its own group
        lab.start_slave();
    }
    lab.release(job);
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Complete,
        "{}",
        lab.logs_of()
    );
    let msgs = messages(&log_lines(&lab.job_dir(job)));
    assert_eq!(msgs.len(), 6, "every line exactly once: {msgs:?}");
    assert_eq!(msgs[1..4], ["\"line 0\"", "\"line 1\"", "\"line 2\""]);
    wait_for("the worker to clean up after END_OK", DEADLINE, || {
        !lab.slave_job_dir(job).exists()
    });
}

#[test]
fn master_restarted_mid_job() {
    restart_mid_job(true);
}

#[test]
fn slave_restarted_mid_job() {
    restart_mid_job(false);
}

/// Make a certificate with the real `lava-create-certificate`.
fn certificate(dir: &Path, name: &str) {
    let status = Command::new(bin("lava-create-certificate"))
        .arg(name)
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A lab whose master encrypts, with `worker1`'s key authorised.
fn curve_lab() -> Lab {
    let mut lab = Lab::new(false).unwrap();
    certificate(&lab.path("certs"), "master");
    certificate(&lab.path("certs"), "worker1");
    lab.curve = Some(lab.path("certs/worker1.key_secret"));
    lab
}

fn master_log_contains(lab: &Lab, text: &str) -> bool {
    std::fs::read_to_string(lab.path("master.log"))
        .unwrap_or_default()
        .contains(text)
}

#[test]
fn curve_job_runs_with_lava_create_certificate_keys() {
    let mut lab = curve_lab();
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{lines: 3}");
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Complete,
        "{}",
        lab.logs_of()
    );
    assert_eq!(
        log_lines(&lab.job_dir(job)).len(),
        6,
        "lava-run's log lines went through CURVE too"
    );
}

#[test]
fn curve_unknown_key_is_refused_and_logged() {
    let mut lab = curve_lab();
    certificate(&lab.path("elsewhere"), "intruder");
    lab.curve = Some(lab.path("elsewhere/intruder.key_secret"));
    lab.start_master();
    lab.start_slave();
    wait_for("the refusal in the master's log", DEADLINE, || {
        master_log_contains(&lab, "refused CURVE client from 127.0.0.1")
    });
    assert_eq!(
        lab.store.worker("worker1").unwrap().state,
        WorkerState::Offline,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn curve_plaintext_worker_is_refused_and_logged() {
    let mut lab = curve_lab();
    lab.plaintext_slave = true;
    lab.start_master();
    lab.start_slave();
    wait_for("the refusal in the master's log", DEADLINE, || {
        master_log_contains(
            &lab,
            "[AUTH] protocol error (encryption mismatch?) on the control socket",
        )
    });
    assert_eq!(
        lab.store.worker("worker1").unwrap().state,
        WorkerState::Offline,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn curve_revoked_key_cuts_a_connected_worker_off() {
    let mut lab = curve_lab();
    lab.start_master();
    lab.start_slave();
    wait_for("the worker to come online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    std::fs::remove_file(lab.path("certs/worker1.key")).unwrap();
    let revoked = Instant::now();
    // The directory is re-read twice a second; the worker is cut off at once
    // even though its connection stays up.
    wait_for(
        "the revoked worker to be cut off",
        Duration::from_secs(2),
        || lab.store.worker("worker1").unwrap().state == WorkerState::Offline,
    );
    eprintln!("revoked worker cut off after {:?}", revoked.elapsed());
    assert!(master_log_contains(&lab, "[AUTH] worker worker1 cut off"));
}
