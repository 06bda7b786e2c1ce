//! The lab used by the daemon tests: a store, real `lava-master` and
//! `lava-slave` processes on loopback, and the `fake-lava-run` example as
//! lava-run.

#![allow(dead_code)]

pub mod cli;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lava_scheduler::model::JobState;
use lava_scheduler::store::{NewDevice, NewDeviceType, NewJob, NewWorker};

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

pub fn bin(name: &str) -> PathBuf {
    let master = PathBuf::from(env!("CARGO_BIN_EXE_lava-master"));
    let dir = master.parent().unwrap();
    match name {
        "fake-lava-run" => dir.join("examples").join(name),
        // lava-examples' example, built by `cargo test --workspace`
        "custom-lava-run" => dir.join("examples").join(name),
        _ => dir.join(name),
    }
}

/// A port for a daemon to bind. Taken below the kernel's ephemeral range
/// (32768 and up), so that the outgoing connections of tests running in
/// parallel can never be given it before the daemon binds it; each test
/// process starts at its own offset.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 400) * 30;
    loop {
        let port = (base + NEXT.fetch_add(1, Ordering::Relaxed) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Poll `check` until it holds, or fail after `timeout` saying `what`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub store: SqlStore,
    pub control: String,
    pub logs: String,
    pub master: Option<Daemon>,
    pub slave: Option<Daemon>,
    cleanup: Option<(String, String)>,
    /// CURVE: the slave's secret certificate (master certificates are in `certs/`).
    pub curve: Option<PathBuf>,
    /// Start the slave without encryption even when the master encrypts.
    pub plaintext_slave: bool,
    /// Extra options for lava-master and lava-slave.
    pub master_args: Vec<String>,
    pub slave_args: Vec<String>,
    /// The lava-run the slave starts (default: the fake-lava-run example).
    pub lava_run: Option<PathBuf>,
    /// Extra environment of lava-slave (which passes it on to lava-run).
    pub slave_env: Vec<(String, String)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.slave.take();
        self.master.take();
        // lava-run runs in its own process group (with QEMU, for the real
        // one): a failed test must not leave one behind.
        for pid in all_lava_runs(self) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        if let Some((base, schema)) = self.cleanup.take() {
            drop_schema(&base, &schema);
        }
    }
}

/// Drop a test's PostgreSQL schema (best effort: the test is over).
pub fn drop_schema(base: &str, schema: &str) {
    if let Ok(mut client) = postgres::Client::connect(base, postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

impl Lab {
    pub fn new(postgres: bool) -> Option<Lab> {
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
            master_args: Vec::new(),
            slave_args: Vec::new(),
            lava_run: None,
            slave_env: Vec::new(),
        };
        Some(lab)
    }

    /// Run `lava-server manage ARGS` on this lab's store; require success
    /// and return stdout.
    pub fn manage(&self, args: &[&str]) -> String {
        let out = Command::new(bin("lava-server"))
            .args(["manage", "--database", &self.url])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "manage {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn start_master(&mut self) {
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
            .args(&self.master_args)
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

    pub fn start_slave(&mut self) {
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
            .arg(
                self.lava_run
                    .clone()
                    .unwrap_or_else(|| bin("fake-lava-run")),
            )
            .args(["--level", "DEBUG"])
            .args(&self.slave_args)
            .envs(self.slave_env.iter().map(|(k, v)| (k, v)))
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

    pub fn logs_of(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.path(n)).unwrap_or_default();
        format!(
            "--- master.log\n{}\n--- slave.log\n{}",
            read("master.log"),
            read("slave.log")
        )
    }

    pub fn submit(&self, fixture: &str) -> i64 {
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

    pub fn wait_state(&self, job: i64, state: JobState) {
        wait_for(&format!("job {job} to be {state}"), DEADLINE, || {
            self.store.job(job).unwrap().state == state
        });
    }

    pub fn job_dir(&self, job: i64) -> PathBuf {
        lava_scheduler::master::output_dir(&self.path("jobs"), &self.store.job(job).unwrap())
    }

    /// The slave's directory of a job (created by the slave, for `release`).
    pub fn slave_job_dir(&self, job: i64) -> PathBuf {
        self.path("slave").join("tmp").join(job.to_string())
    }

    pub fn release(&self, job: i64) {
        std::fs::write(self.slave_job_dir(job).join("release"), "").unwrap();
    }
}

/// The offsets `output.idx` holds, one per line of `output.yaml`.
pub fn log_offsets(dir: &Path) -> Vec<u64> {
    std::fs::read(dir.join("output.idx"))
        .unwrap()
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The log of a job: each line of output.yaml checked against output.idx.
pub fn log_lines(dir: &Path) -> Vec<String> {
    let output = std::fs::read(dir.join("output.yaml")).unwrap();
    let offsets = log_offsets(dir);
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

/// The complete lines of a job's log that the master is still writing:
/// a line it has not finished (no newline yet) is left out, and
/// `output.idx` is not checked (it follows `output.yaml`). For polling;
/// [`log_lines`] checks a finished log.
pub fn log_lines_so_far(dir: &Path) -> Vec<String> {
    let Ok(output) = std::fs::read(dir.join("output.yaml")) else {
        return Vec::new();
    };
    let complete = output
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&output[..0], |end| &output[..=end]);
    String::from_utf8_lossy(complete)
        .split_inclusive('\n')
        .filter(|l| l.starts_with("- {") && l.ends_with("}\n"))
        .map(|l| l[2..l.len() - 1].to_string())
        .collect()
}

pub fn messages(lines: &[String]) -> Vec<String> {
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

/// The fake-lava-run processes of this lab running job `id`.
pub fn lava_runs(lab: &Lab, id: i64) -> Vec<u32> {
    let needle = format!("--job-id={id}");
    let dir = lab.path("slave").display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let text = String::from_utf8_lossy(&c);
                    text.contains("fake-lava-run")
                        && text.contains(&dir)
                        && text.split('\0').any(|a| a == needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Every lava-run process (the fake one or the real one) started for this
/// lab, for any job: a failed test must not leave a QEMU job running.
fn all_lava_runs(lab: &Lab) -> Vec<u32> {
    let dir = lab.path("slave").display().to_string();
    std::fs::read_dir("/proc")
        .map(|it| {
            it.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| {
                            let text = String::from_utf8_lossy(&c);
                            text.contains("lava-run") && text.contains(&dir)
                        })
                        .unwrap_or(false)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Make a certificate with the real `lava-create-certificate`.
pub fn certificate(dir: &Path, name: &str) {
    let status = Command::new(bin("lava-create-certificate"))
        .arg(name)
        .arg("--directory")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A lab whose master encrypts, with `worker1`'s key authorised.
pub fn curve_lab() -> Lab {
    let mut lab = Lab::new(false).unwrap();
    certificate(&lab.path("certs"), "master");
    certificate(&lab.path("certs"), "worker1");
    lab.curve = Some(lab.path("certs/worker1.key_secret"));
    lab
}

pub fn master_log_contains(lab: &Lab, text: &str) -> bool {
    std::fs::read_to_string(lab.path("master.log"))
        .unwrap_or_default()
        .contains(text)
}

/// The QEMU images of `scripts/qemu-images.sh` (`LAVA_QEMU_LAB`, else
/// `target/qemu-lab`), or `None` (the test says it skips).
pub fn images() -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-lab"));
    if ["vmlinuz", "initramfs.cpio.gz", "bin/qemu-system-x86_64"]
        .iter()
        .all(|f| dir.join(f).exists())
    {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no QEMU images in {} (scripts/qemu-images.sh builds them)",
            dir.display()
        );
        None
    }
}

/// A lab with the `qemu` type from `share/` and the real lava-run.
pub fn qemu_lab(postgres: bool) -> Option<(Lab, PathBuf)> {
    let images = images()?;
    let mut lab = Lab::new(postgres)?;
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("../share");
    lab.lava_run = Some(PathBuf::from(env!("CARGO_BIN_EXE_lava-run")));
    lab.master_args = vec![
        "--device-types".into(),
        share.join("device-types").display().to_string(),
    ];
    lab.store
        .add_device_type(&NewDeviceType::new("qemu"))
        .unwrap();
    let mut device = NewDevice::new("qemu-01", "qemu", "worker1");
    device.dictionary =
        Some(std::fs::read_to_string(share.join("devices/qemu-01.jinja2")).unwrap());
    lab.store.add_device(&device, "admin").unwrap();
    // The worker's environment (LAVA's env.yaml): the unpacked QEMU and a
    // download directory of the lab's own.
    let env_dir = lab.path("dispatcher.d/worker1");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(
        env_dir.join("env.yaml"),
        format!(
            "overrides:\n  PATH: \"{}:{}\"\n  LAVA_DISPATCHER_TMP_DIR: \"{}\"\n",
            images.join("bin").display(),
            std::env::var("PATH").unwrap_or_default(),
            lab.path("dispatcher-tmp").display()
        ),
    )
    .unwrap();
    Some((lab, images))
}
