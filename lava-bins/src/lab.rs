//! `lava-lab`: a whole lab on one machine, in one command.
//!
//! It keeps its state in one directory (the embedded SQLite store, CURVE
//! certificates, QEMU images, job output), so a second run picks up where
//! the first stopped. Each run:
//!
//! 1. builds the QEMU device's images with the repository's
//!    `scripts/qemu-images.sh` if they are missing (Debian packages through
//!    `apt-get download`; a clear message when that is not possible);
//! 2. creates the certificates on the first run (CURVE is on);
//! 3. registers a worker, the `qemu` device type and a `qemu-01` device with
//!    its dictionary (our `share/` templates), and, when their firmware can
//!    be fetched (`scripts/bench-board.sh build`), the bench boards, started
//!    unpowered: `bench-01` (U-Boot), `pc-ipxe-01` (iPXE) and `pc-grub-01`
//!    (GRUB);
//! 4. starts the master and a worker (CURVE, loopback), which runs each job
//!    with this same program as its lava-run, and the MultiNode coordinator
//!    in its secure mode (CURVE only, member tokens required; see
//!    `docs/coordinator.md`), with a second QEMU device `qemu-02` so that a
//!    two-node MultiNode job can run;
//! 5. submits a sample job, follows its log, prints `Job N finished: HEALTH`
//!    and its results;
//! 6. keeps running for more submissions until Ctrl-C.
//!
//! It also starts the HTTP service (`lava_web`) and prints its URL with an
//! `admin` account, its password and its token (kept, readable by their
//! owner only, in `admin.password` and `admin.token` in the state
//! directory), so that a browser, lavacli or curl can reach the lab at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lava_pipeline::slave::{Slave, SlaveConfig, CANCEL_GRACE};
use lava_proto::cert::{self, KeyPair};
use lava_scheduler::master::{Master, MasterConfig};
use lava_scheduler::model::JobState;
use lava_scheduler::store::{NewDevice, NewDeviceType, NewWorker};
use lava_scheduler::SqlStore;

const WORKER: &str = "lab-worker";
const DEVICE: &str = "qemu-01";
/// The second QEMU device, for MultiNode jobs.
const SECOND_DEVICE: &str = "qemu-02";

/// Where the lab keeps things and what it runs.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab's state directory.
    pub state_dir: PathBuf,
    /// The repository's `share/` (templates, dictionaries).
    pub share_dir: PathBuf,
    /// The repository's `scripts/` (image builder).
    pub scripts_dir: PathBuf,
    /// A job to submit instead of the sample job.
    pub job: Option<PathBuf>,
    /// Stop after the first job instead of serving more.
    pub once: bool,
    /// Submit the sample MultiNode job (two QEMU devices) instead of the
    /// sample job.
    pub multinode: bool,
    /// Where the HTTP service (XML-RPC and REST API) listens.
    pub http_bind: String,
}

fn say(text: impl std::fmt::Display) {
    println!("lava-lab: {text}");
}

fn io<T>(what: &Path, result: std::io::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{}: {e}", what.display()))
}

/// The QEMU images, built when missing.
fn images(options: &LabOptions) -> Result<PathBuf, String> {
    let dir = options.state_dir.join("qemu-lab");
    let ready = ["vmlinuz", "initramfs.cpio.gz", "bin/qemu-system-x86_64"]
        .iter()
        .all(|f| dir.join(f).exists());
    if ready {
        return Ok(dir);
    }
    let script = options.scripts_dir.join("qemu-images.sh");
    say(format!(
        "building the QEMU device's images in {} (Debian packages via apt-get download)",
        dir.display()
    ));
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err("the QEMU device's images could not be built. They come from Debian's packages \
             linux-image-cloud-amd64, busybox-static and qemu-system-x86 (fetched with apt-get download, \
             nothing installed) and need apt-get, dpkg-deb and mke2fs (e2fsprogs); see the messages above"
            .into());
    }
    Ok(dir)
}

/// Certificates: the master's pair, the worker's pair, and the directory of
/// authorised worker keys.
fn certificates(dir: &Path) -> Result<(), String> {
    for name in ["master", WORKER, "coordinator"] {
        if !dir.join(format!("{name}.key_secret")).exists() {
            let pair = KeyPair::generate().map_err(|e| e.to_string())?;
            cert::write_pair(dir, name, &pair, true).map_err(|e| e.to_string())?;
            say(format!("created the CURVE certificate {name}"));
        }
    }
    let authorised = dir.join("workers");
    io(&authorised, std::fs::create_dir_all(&authorised))?;
    let key = dir.join(format!("{WORKER}.key"));
    io(
        &authorised,
        std::fs::copy(&key, authorised.join(format!("{WORKER}.key"))),
    )?;
    Ok(())
}

/// The worker, the device type and the device, if not there yet.
fn register(store: &SqlStore, options: &LabOptions, images: &Path) -> Result<(), String> {
    let err = |e: lava_scheduler::StoreError| e.to_string();
    if store.worker(WORKER).is_err() {
        store
            .add_worker(&NewWorker::new(WORKER), "lava-lab")
            .map_err(err)?;
    }
    if store.device_type("qemu").is_err() {
        store
            .add_device_type(&NewDeviceType::new("qemu"))
            .map_err(err)?;
    }
    for name in [DEVICE, SECOND_DEVICE] {
        if store.device(name).is_err() {
            let path = options.share_dir.join("devices/qemu-01.jinja2");
            let dictionary = io(&path, std::fs::read_to_string(&path))?;
            let mut device = NewDevice::new(name, "qemu", WORKER);
            device.dictionary = Some(dictionary);
            store.add_device(&device, "lava-lab").map_err(err)?;
            say(format!(
                "registered device {name} (qemu) on worker {WORKER}"
            ));
        }
    }
    // The worker finds the unpacked QEMU through PATH (LAVA's env.yaml).
    let env_dir = options.state_dir.join("dispatcher.d").join(WORKER);
    io(&env_dir, std::fs::create_dir_all(&env_dir))?;
    let path = format!(
        "{}:{}",
        images.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp = options.state_dir.join("tmp").display().to_string();
    let env = format!(
        "overrides:\n  PATH: {}\n  LAVA_DISPATCHER_TMP_DIR: {}\n",
        lava_proto::yaml::to_flow_line(&path.as_str().into()),
        lava_proto::yaml::to_flow_line(&tmp.as_str().into())
    );
    io(&env_dir, std::fs::write(env_dir.join("env.yaml"), env))?;
    Ok(())
}

/// A bench board of `scripts/bench-board.sh`, powered off (killed) when
/// the lab stops. Its QEMU is the lab's own child (`bench-board.sh run`,
/// not daemonized): in its own process group, so that a Ctrl-C at the
/// terminal (SIGINT to the lab's group) reaches the lab, which stops the
/// board after the jobs' cleanup, and not the board itself; and with
/// `PR_SET_PDEATHSIG`, so that it dies with the lab even when the lab is
/// killed and cannot stop it (docs/operations.md, "Stopping lava-lab").
struct Board {
    script: PathBuf,
    images: PathBuf,
    kind: &'static BenchKind,
    env: Vec<(String, String)>,
    child: Option<std::process::Child>,
}

/// The bench boards the lab registers when their images build.
struct BenchKind {
    /// The script's board argument.
    board: &'static str,
    /// The device's name in the lab.
    device: &'static str,
    /// Its device type (our `share/device-types`).
    device_type: &'static str,
    /// What the lab calls it.
    label: &'static str,
    /// Dictionary lines before the connection and power commands.
    dictionary: &'static str,
}

const BENCH_BOARDS: [BenchKind; 3] = [
    BenchKind {
        board: "x86_64",
        device: "bench-01",
        device_type: "qemu-uboot-bench",
        label: "U-Boot bench board",
        dictionary: "{% extends 'qemu-uboot-bench.jinja2' %}\n{% set bench_arch = 'x86_64' %}\n",
    },
    BenchKind {
        board: "ipxe",
        device: "pc-ipxe-01",
        device_type: "qemu-pc-bench",
        label: "iPXE bench PC",
        dictionary: "{% extends 'qemu-pc-bench.jinja2' %}\n",
    },
    BenchKind {
        board: "grub",
        device: "pc-grub-01",
        device_type: "qemu-pc-bench",
        label: "GRUB bench PC",
        dictionary: "{% extends 'qemu-pc-bench.jinja2' %}\n",
    },
];

impl Board {
    /// The board's name (`BOARD_NAME`), which names its pid file.
    fn name(&self) -> &str {
        &self.env[3].1
    }

    /// Its QEMU's pid file and log (`bench-board.sh`'s `LAB/run/NAME.*`).
    fn run_file(&self, ext: &str) -> PathBuf {
        self.images
            .join("run")
            .join(format!("{}.{ext}", self.name()))
    }

    /// Remove its pid file and log (and the marker `bench-board.sh run`
    /// leaves): after a failed start and once its QEMU has ended, so that
    /// nothing acts on a pid that may name another process by then.
    fn remove_run_files(&self) {
        for ext in ["pid", "log", "managed"] {
            let _ = std::fs::remove_file(self.run_file(ext));
        }
    }

    /// Start the board's QEMU as this process's child and wait until its
    /// monitor listens (`bench-board.sh`'s other actions talk to it).
    fn start(&mut self) -> Result<(), String> {
        use std::os::unix::process::CommandExt;
        let lab = std::process::id();
        let mut command = std::process::Command::new("bash");
        command
            .arg(&self.script)
            .arg(&self.images)
            .args([self.kind.board, "run"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .process_group(0);
        // SAFETY: between fork and exec the closure makes only
        // async-signal-safe system calls (prctl, getppid) and allocates
        // nothing. The death signal comes when the thread that forks ends:
        // the one running the lab (`run`), which outlives its boards.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // the lab ended before the prctl: do not outlive it
                if libc::getppid() as u32 != lab {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.script.display()))?;
        let pidfile = self.run_file("pid");
        let monitor = format!("127.0.0.1:{}", self.env[1].1);
        let deadline = std::time::Instant::now() + BOARD_START;
        let failed = loop {
            match child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    let text = std::fs::read_to_string(self.run_file("log")).unwrap_or_default();
                    break format!("its QEMU ended ({status}): {}", text.trim());
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break format!("its QEMU: {e}");
                }
            }
            if pidfile.exists() && std::net::TcpStream::connect(&monitor).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break format!(
                    "its QEMU's monitor did not listen on {monitor} within {} s",
                    BOARD_START.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // its pid file names a process that has been reaped
        self.remove_run_files();
        Err(failed)
    }

    fn command(&self, action: &str) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "env {} bash {} {} {} {action}",
            env.join(" "),
            self.script.display(),
            self.images.display(),
            self.kind.board
        )
    }
}

impl Drop for Board {
    /// Power the board off: SIGTERM to its QEMU through the lab's child
    /// handle (whose pid stays reserved until it is reaped, unlike the pid
    /// file's, which may name another process once QEMU has died), SIGKILL
    /// after 10 s; then its pid file goes.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                // SAFETY: kill(2) takes plain integers; the child is not
                // reaped, so its pid is still its own.
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGTERM);
                }
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) {
                if std::time::Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.remove_run_files();
    }
}

/// How long a bench board's QEMU may take to listen.
const BOARD_START: Duration = Duration::from_secs(60);

/// Stop the bench boards that earlier runs of the lab left running when
/// they were killed before they could (their pid files name them
/// `lava-lab-BOARD-LABPID`): those whose lab no longer runs, and only when
/// the pid file's process is that board's QEMU.
fn stop_stale_boards(images: &Path) {
    let run = images.join("run");
    let Ok(entries) = std::fs::read_dir(&run) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(board) = name
            .strip_prefix("lava-lab-")
            .and_then(|n| n.strip_suffix(".pid"))
        else {
            continue;
        };
        let Some(lab) = board.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{lab}")).exists() {
            // that lab still runs (or its pid is taken: leave it be)
            continue;
        }
        let pidfile = entry.path();
        let qemu = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = qemu {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let needle = pidfile.as_os_str().as_encoded_bytes();
            if cmdline.windows(needle.len()).any(|w| w == needle) {
                // SAFETY: kill(2) takes plain integers.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
                say(format!(
                    "stopped bench board {board} (pid {pid}), left running by an earlier lab"
                ));
            }
        }
        let _ = std::fs::remove_file(&pidfile);
        let _ = std::fs::remove_file(run.join(format!("lava-lab-{board}.log")));
        let _ = std::fs::remove_file(run.join(format!("lava-lab-{board}.managed")));
    }
}

/// The environment variable naming the lab's pid in the lava-run
/// processes its worker starts (see [`end_with_the_lab`]).
const LAB_PID_ENV: &str = "LAVA_LAB_PID";

/// In `lava-lab`'s `main`, before any thread starts (`set_var` is unsound
/// while another thread reads the environment): name this process as the
/// lab in the environment its worker's lava-run processes inherit, so that
/// they end with it ([`end_with_the_lab`]; the worker keeps the variable
/// even when a job's environment is purged).
pub fn mark_the_lab() {
    std::env::set_var(LAB_PID_ENV, std::process::id().to_string());
}

/// In a lava-run started by the lab's worker: end with the lab. The kernel
/// sends it SIGTERM when the lab's worker thread ends (`PR_SET_PDEATHSIG`),
/// which includes the lab being killed; lava-run then cancels its job
/// through the job's cleanup. A lab that was killed took its master along,
/// and lava-run would wait forever to hand its last log lines to it: a
/// watcher thread ends the process once the job's cleanup has ended what
/// it started (or after the worker's cancel grace, killing what is left).
/// False when the lab has already ended. Does nothing in a lava-run that
/// the lab did not start.
pub fn end_with_the_lab() -> bool {
    let Some(lab) = std::env::var(LAB_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return true;
    };
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take and return plain
    // integers.
    let alive = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
        libc::getppid() as u32 == lab
    };
    if !alive {
        return false;
    }
    let watcher = std::thread::Builder::new()
        .name("lab-watch".into())
        .spawn(move || {
            // SAFETY: getppid takes nothing and returns an integer.
            while unsafe { libc::getppid() } as u32 == lab {
                std::thread::sleep(Duration::from_millis(200));
            }
            let me = std::process::id();
            let deadline = std::time::Instant::now() + CANCEL_GRACE;
            while !descendants(&[me]).is_empty() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            for pid in descendants(&[me]) {
                // SAFETY: kill(2) takes plain integers.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
            eprintln!("lava-run: the lab that started this job has ended; exiting");
            // SAFETY: _exit ends the process at once, as intended: the
            // log's last lines have nowhere to go.
            unsafe { libc::_exit(1) }
        });
    watcher.is_ok()
}

/// A process's state letter (`/proc/PID/stat` field 3), `None` when gone.
fn process_state(pid: u32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].chars().next()
}

/// A live process's start time (`/proc/PID/stat` field 22): with its pid,
/// what tells it from a later process given the same pid.
fn start_time(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The live processes: (pid, parent's pid), zombies left out.
fn process_table() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // fields from 3 on: state, ppid
            if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
                return None;
            }
            Some((pid, fields.get(1)?.parse().ok()?))
        })
        .collect()
}

/// The lava-run processes this process's worker started (its children with
/// `--job-id` on their command line), still running.
fn lava_runs() -> Vec<u32> {
    let me = std::process::id();
    process_table()
        .into_iter()
        .filter(|(pid, parent)| {
            *parent == me
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|a| a.starts_with(b"--job-id")))
                    .unwrap_or(false)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// The descendants of `roots` (a job's QEMU runs in a session of its own,
/// on a pseudo-terminal, outside lava-run's process group).
fn descendants(roots: &[u32]) -> Vec<u32> {
    let table = process_table();
    let mut found: Vec<u32> = Vec::new();
    let mut frontier = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for (pid, _) in table.iter().filter(|(_, p)| *p == parent) {
            if !found.contains(pid) {
                found.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    found
}

/// End the jobs still running: each lava-run gets SIGTERM unless
/// `signalled` (it cancels its job through the job's cleanup, which powers
/// the device off; a second SIGTERM would cut that short), then, after
/// `grace`, SIGKILL for its whole process group (what it started: QEMU,
/// telnet, ...) while it still leads it, and for each process it started
/// that is still the very process seen.
fn end_jobs(grace: Duration, signalled: bool) {
    // what they are and what they started (pid and start time): a pid, or
    // a group id, is only signalled while it names the very process seen
    let identify = |pids: Vec<u32>| -> Vec<(u32, u64)> {
        pids.into_iter()
            .filter_map(|pid| Some((pid, start_time(pid)?)))
            .collect()
    };
    let runs = identify(lava_runs());
    if runs.is_empty() {
        return;
    }
    let running: Vec<u32> = runs.iter().map(|(pid, _)| *pid).collect();
    say(format!("cancelling {} running job(s)", running.len()));
    let mut started = identify(descendants(&running));
    // Each lava-run's group, signalled only while its leader is the
    // lava-run seen (alive, not a zombie): once it has ended, its group
    // may be empty and its id taken by another group.
    let signal_group = |signal: i32| {
        for (pid, started_at) in &runs {
            if start_time(*pid) == Some(*started_at) {
                // SAFETY: kill(2) takes plain integers; lava-run leads its
                // group.
                unsafe {
                    libc::kill(-(*pid as i32), signal);
                }
            }
        }
    };
    if !signalled {
        signal_group(libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while running
        .iter()
        .any(|pid| !matches!(process_state(*pid), None | Some('Z') | Some('X')))
        && std::time::Instant::now() < deadline
    {
        for process in identify(descendants(&running)) {
            if !started.contains(&process) {
                started.push(process);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_group(libc::SIGKILL);
    for (pid, started_at) in started {
        // the very process seen, not another given its pid since
        if start_time(pid) == Some(started_at) {
            // SAFETY: kill(2) takes plain integers.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The bench boards whose images can be built: each registered with its
/// device type and started, unpowered. The worker's TFTP root is the one
/// QEMU serves them.
fn bench_boards(
    store: &SqlStore,
    options: &LabOptions,
    images: &Path,
) -> Result<Vec<Board>, String> {
    let tftp = options.state_dir.join("tftp");
    io(&tftp, std::fs::create_dir_all(&tftp))?;
    if let Ok(real) = images.canonicalize() {
        stop_stale_boards(&real);
    }
    let mut boards = Vec::new();
    for kind in &BENCH_BOARDS {
        if let Some(board) = bench_board(store, options, images, &tftp, kind)? {
            boards.push(board);
        }
    }
    if !boards.is_empty() {
        // QEMU's built-in TFTP serves the worker's TFTP root at 10.0.2.2.
        let dispatcher = options
            .state_dir
            .join("dispatcher.d")
            .join(WORKER)
            .join("dispatcher.yaml");
        io(
            &dispatcher,
            std::fs::write(
                &dispatcher,
                format!(
                    "dispatcher_ip: 10.0.2.2\ntftp_server: external\ntftp_root: {}\n",
                    tftp.display()
                ),
            ),
        )?;
    }
    Ok(boards)
}

/// One bench board, when its images can be built.
fn bench_board(
    store: &SqlStore,
    options: &LabOptions,
    images: &Path,
    tftp: &Path,
    kind: &'static BenchKind,
) -> Result<Option<Board>, String> {
    let script = options.scripts_dir.join("bench-board.sh");
    let built = std::process::Command::new("bash")
        .arg(&script)
        .arg("build")
        .arg(images)
        .arg(kind.board)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        say(format!(
            "no {} this time: its firmware (Debian packages) could not be fetched",
            kind.label
        ));
        return Ok(None);
    }
    let mut board = Board {
        script,
        images: io(images, images.canonicalize())?,
        kind,
        child: None,
        env: vec![
            ("BOARD_SERIAL_PORT".into(), free_port()?.to_string()),
            ("BOARD_MONITOR_PORT".into(), free_port()?.to_string()),
            ("BOARD_TFTP_DIR".into(), tftp.display().to_string()),
            (
                "BOARD_NAME".into(),
                format!("lava-lab-{}-{}", kind.board, std::process::id()),
            ),
        ],
    };
    if let Err(e) = board.start() {
        say(format!(
            "no {} this time: it did not start: {e}",
            kind.label
        ));
        return Ok(None);
    }
    // The ports change with every run: the dictionary is set each time.
    let dictionary = format!(
        "{}{{% set connection_command = '{telnet} 127.0.0.1 {serial}' %}}\n\
         {{% set power_on_command = '{on}' %}}\n{{% set power_off_command = '{off}' %}}\n\
         {{% set hard_reset_command = '{reset}' %}}\n",
        kind.dictionary,
        telnet = images.join("bin/telnet").display(),
        serial = board.env[0].1,
        on = board.command("on"),
        off = board.command("off"),
        reset = board.command("reset"),
    );
    let err = |e: lava_scheduler::StoreError| e.to_string();
    if store.device_type(kind.device_type).is_err() {
        store
            .add_device_type(&NewDeviceType::new(kind.device_type))
            .map_err(err)?;
    }
    if store.device(kind.device).is_err() {
        store
            .add_device(
                &NewDevice::new(kind.device, kind.device_type, WORKER),
                "lava-lab",
            )
            .map_err(err)?;
        say(format!(
            "registered device {} ({})",
            kind.device, kind.label
        ));
    }
    store
        .set_dictionary(kind.device, Some(&dictionary))
        .map_err(err)?;
    Ok(Some(board))
}

/// The sample job for the images in `images`: boot the QEMU guest, log
/// in, run a small lava-test-shell definition.
pub fn sample_job(images: &Path) -> String {
    format!(
        r#"job_name: lava-lab sample job
device_type: qemu
visibility: public
timeouts: {{job: {{minutes: 10}}}}
context: {{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}}
actions:
{deploy_boot}- test:
    timeout: {{minutes: 3}}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: smoke, description: lava-lab smoke test}}
        run:
          steps:
          - lava-test-case kernel-version --shell uname -r
          - lava-test-case overlay-mounted --shell 'grep -q /lava- /proc/mounts'
          - lava-test-case uptime --result pass --measurement "$(cut -d' ' -f1 /proc/uptime)" --units seconds
"#,
        deploy_boot = qemu_deploy_boot(images, None)
    )
}

/// The `deploy` and `boot` actions of the lab's QEMU guest (the images in
/// `images`: kernel and ramdisk from `scripts/qemu-images.sh`, login as
/// root), with `role: [ROLES]` when given (a MultiNode job).
pub fn qemu_deploy_boot(images: &Path, roles: Option<&str>) -> String {
    let role = roles.map_or(String::new(), |r| format!("    role: [{r}]\n"));
    format!(
        r#"- deploy:
{role}    to: tmpfs
    os: oe
    timeout: {{minutes: 2}}
    images:
      kernel:
        url: file://{lab}/vmlinuz
        image_arg: "-kernel {{kernel}} -append 'console=ttyS0,115200 panic=-1'"
      initrd:
        url: file://{lab}/initramfs.cpio.gz
        image_arg: -initrd {{initrd}}
- boot:
{role}    method: qemu
    media: tmpfs
    timeout: {{minutes: 3}}
    prompts: ['root@lava:']
    auto_login: {{login_prompt: 'login:', username: root, password_prompt: 'Password:', password: lava}}
"#,
        lab = images.display()
    )
}

/// The sample MultiNode job for the images in `images`: a `server` and a
/// `client` QEMU guest; the server publishes a value with `lava-send`, the
/// client waits for it with `lava-wait` and checks it, and both meet at a
/// `lava-sync` barrier (docs/multinode.md).
pub fn sample_multinode_job(images: &Path) -> String {
    format!(
        r#"job_name: lava-lab MultiNode sample job
visibility: public
timeouts: {{job: {{minutes: 10}}}}
protocols:
  lava-multinode:
    roles:
      server:
        device_type: qemu
        count: 1
        context: {{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}}
      client:
        device_type: qemu
        count: 1
        context: {{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}}
    timeout: {{minutes: 5}}
actions:
{deploy_boot}- test:
    role: [server]
    timeout: {{minutes: 5}}
    definitions:
    - from: inline
      name: server
      path: inline/server.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: server, description: publish a value}}
        run:
          steps:
          - lava-send ready answer=42
          - lava-sync done
- test:
    role: [client]
    timeout: {{minutes: 5}}
    definitions:
    - from: inline
      name: client
      path: inline/client.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: client, description: wait for the value}}
        run:
          steps:
          - lava-wait ready
          - lava-test-case got-answer --shell grep -q ':answer=42$' /tmp/lava_multi_node_cache.txt
          - lava-sync done
"#,
        deploy_boot = qemu_deploy_boot(images, Some("server, client"))
    )
}

/// The lab's administrator account.
const ADMIN: &str = "admin";

/// The admin's API token: the one kept in `admin.token` while the store
/// still knows it, else a new one (the store keeps only its digest).
fn admin_token(store: &SqlStore, state: &Path) -> Result<String, String> {
    use lava_scheduler::accounts::{Accounts, NewUser};
    if let Err(lava_scheduler::StoreError::NotFound { .. }) = store.user(ADMIN) {
        let mut admin = NewUser::new(ADMIN);
        admin.is_superuser = true;
        store.add_user(&admin).map_err(|e| e.to_string())?;
    }
    let path = state.join("admin.token");
    if let Ok(kept) = std::fs::read_to_string(&path) {
        let kept = kept.trim().to_string();
        let known = store
            .user_by_token_digest(&lava_web::token_digest(&kept))
            .map_err(|e| e.to_string())?;
        if known.is_some_and(|(user, _)| user.username == ADMIN) {
            return Ok(kept);
        }
    }
    let token = lava_web::new_token().map_err(|e| e.to_string())?;
    store
        .add_token(ADMIN, "lava-lab", &lava_web::token_digest(&token))
        .map_err(|e| e.to_string())?;
    write_secret(&path, &token)?;
    Ok(token)
}

/// Write a secret readable by its owner only.
fn write_secret(path: &Path, secret: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{secret}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The admin's password for the web UI: the one kept in `admin.password`
/// while it still matches the store's hash, else a new one.
fn admin_password(store: &SqlStore, state: &Path) -> Result<String, String> {
    use lava_scheduler::accounts::{Accounts, UserUpdate};
    let path = state.join("admin.password");
    let admin = store.user(ADMIN).map_err(|e| e.to_string())?;
    if let (Ok(kept), Some(hash)) = (std::fs::read_to_string(&path), &admin.password_hash) {
        let kept = kept.trim().to_string();
        if lava_web::verify_password(&kept, hash) {
            return Ok(kept);
        }
    }
    let password: String = lava_web::new_token()
        .map_err(|e| e.to_string())?
        .chars()
        .take(20)
        .collect();
    let hash = lava_web::hash_password(&password).map_err(|e| e.to_string())?;
    store
        .update_user(
            ADMIN,
            &UserUpdate {
                password_hash: Some(Some(hash)),
                ..UserUpdate::default()
            },
        )
        .map_err(|e| e.to_string())?;
    write_secret(&path, &password)?;
    Ok(password)
}

/// The MultiNode coordinator in its secure mode: CURVE on loopback for the
/// lab's worker only, and every request must carry the member token the
/// master adds to START (key in `coordinator.key`, readable by its owner
/// only). lava-run finds it through the conf file the lab writes
/// (`lava-coordinator.conf`, LAVA's JSON plus our CURVE keys).
fn coordinator(
    state: &Path,
    certs: &Path,
) -> Result<
    (
        lava_coordinator::RunningServer,
        lava_proto::coordinator::Key,
    ),
    String,
> {
    use lava_proto::coordinator::Key;
    let key_file = state.join("coordinator.key");
    if !key_file.exists() {
        lava_coordinator::config::write_new_key(&key_file, "lab").map_err(|e| e.to_string())?;
    }
    let keys = Key::load(&key_file).map_err(|e| e.to_string())?;
    let key = keys
        .first()
        .cloned()
        .ok_or_else(|| format!("{}: no key", key_file.display()))?;
    let config = lava_coordinator::ServerConfig {
        // no plaintext listener: LAVA's protocol has no secret of its own
        listen: Vec::new(),
        curve: Some(lava_coordinator::config::CurveOptions {
            bind: "tcp://127.0.0.1:*".into(),
            cert: certs.join("coordinator.key_secret"),
            clients_certs: certs.join("workers"),
        }),
        state_dir: Some(state.join("coordinator")),
        ..Default::default()
    };
    let settings = lava_coordinator::Settings {
        auth: lava_coordinator::AuthMode::Require,
        keys,
        ..Default::default()
    };
    let server = lava_coordinator::Server::bind(config, settings)
        .and_then(lava_coordinator::Server::spawn)
        .map_err(|e| format!("the MultiNode coordinator: {e}"))?;
    let endpoint = server
        .curve_endpoint()
        .ok_or("the MultiNode coordinator has no CURVE endpoint")?;
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("the MultiNode coordinator's endpoint {endpoint}"))?;
    let conf = serde_json::json!({
        "port": lava_proto::coordinator::DEFAULT_PORT,
        "poll_delay": 1,
        "coordinator_hostname": "127.0.0.1",
        "encrypt": true,
        "curve_port": port,
        "coordinator_cert": certs.join("coordinator.key").display().to_string(),
        "client_cert": certs.join(format!("{WORKER}.key_secret")).display().to_string(),
    });
    let path = state.join("lava-coordinator.conf");
    io(&path, std::fs::write(&path, format!("{conf:#}\n")))?;
    // lava-run (this program, started by the worker) inherits it; set before
    // the worker's thread starts.
    std::env::set_var(lava_pipeline::run::COORDINATOR_CONF_ENV, &path);
    Ok((server, key))
}

/// Run the lab until `stop` is set (or after the first job with `once`).
pub fn run(options: &LabOptions, stop: Arc<AtomicBool>) -> Result<(), String> {
    let state = &options.state_dir;
    io(state, std::fs::create_dir_all(state))?;
    say(format!("state in {}", state.display()));
    let images = images(options)?;
    let certs = state.join("certs");
    certificates(&certs)?;
    let url = format!("sqlite://{}", state.join("lava.db").display());
    let store = SqlStore::open_url(&url).map_err(|e| e.to_string())?;
    register(&store, options, &images)?;
    let boards = bench_boards(&store, options, &images)?;
    let (coordinator, coordinator_key) = coordinator(state, &certs)?;

    let jobs_dir = state.join("jobs");
    let mut config = MasterConfig::new(&jobs_dir, vec![options.share_dir.join("device-types")]);
    config.master_socket = "tcp://127.0.0.1:*".into();
    config.log_socket = "tcp://127.0.0.1:*".into();
    config.encrypt = Some((certs.join("master.key_secret"), certs.join("workers")));
    config.dispatcher_config = Some(state.join("dispatcher.d"));
    config.coordinator_key = Some(coordinator_key);
    let mut master = Master::bind(config, SqlStore::open_url(&url).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let (control, logs, waker) = (
        master.control_endpoint(),
        master.log_endpoint(),
        master.waker(),
    );
    let master_thread = std::thread::spawn(move || master.run());
    let mut slave = Slave::new(SlaveConfig {
        master: control,
        socket_addr: logs,
        hostname: WORKER.into(),
        slave_dir: state.join("slave"),
        dispatcher_tmp: state.join("tmp"),
        lava_run: std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?,
        encrypt: Some((
            certs.join("master.key"),
            certs.join(format!("{WORKER}.key_secret")),
        )),
        connect: Default::default(),
        cancel_grace: CANCEL_GRACE,
        http_bind: None,
    })
    .map_err(|e| e.to_string())?;
    let slave_stop = Arc::new(AtomicBool::new(false));
    let worker_stop = Arc::clone(&slave_stop);
    let slave_thread = std::thread::spawn(move || slave.run(&worker_stop));
    say(format!(
        "master, worker and MultiNode coordinator started (CURVE on loopback; coordinator at {})",
        coordinator.curve_endpoint().unwrap_or("?")
    ));
    let token = admin_token(&store, state)?;
    let password = admin_password(&store, state)?;
    let mut web_config = lava_web::ServiceConfig::new(options.http_bind.clone(), &jobs_dir);
    web_config.device_types = vec![options.share_dir.join("device-types")];
    // the lab's only worker runs this lava-run
    web_config.submit = crate::submit_options(false);
    let service = lava_web::Service::bind(
        SqlStore::open_url(&url).map_err(|e| e.to_string())?,
        web_config,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "web UI and API: http://{}/  user: {ADMIN}  password: {password}  token: {token}",
        service.local_addr()
    );
    let notifier = lava_web::Notifier::spawn(
        SqlStore::open_url(&url).map_err(|e| e.to_string())?,
        lava_web::NotifyConfig::new(format!("http://{}", service.local_addr()), &jobs_dir),
    )
    .map_err(|e| e.to_string())?;
    let web_stop = Arc::new(AtomicBool::new(false));
    let web_thread = {
        let web_stop = Arc::clone(&web_stop);
        std::thread::spawn(move || service.run_until(web_stop))
    };

    let text = match &options.job {
        Some(path) => io(path, std::fs::read_to_string(path))?,
        None if options.multinode => sample_multinode_job(&images),
        None => sample_job(&images),
    };
    let submitted = lava_scheduler::submit::submit_jobs(
        &store,
        &text,
        "lava-lab",
        &crate::submit_options(false),
    )
    .map_err(|e| e.to_string())?;
    let ids = submitted.ids();
    match &submitted {
        lava_scheduler::submit::Submitted::Group { jobs, .. } => say(format!(
            "submitted MultiNode group {}; the log of {} follows",
            submitted.display_ids().join(" "),
            jobs[0].1
        )),
        _ => say(format!("submitted job {}; its log follows", ids[0])),
    }
    crate::follow::print_log(&store, ids[0], true, false, &jobs_dir, Some(&stop))?;
    for id in ids {
        // the other sub-jobs of a group end about when the first does
        while !stop.load(Ordering::SeqCst)
            && store.job(id).map_err(|e| e.to_string())?.state != JobState::Finished
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let job = store.job(id).map_err(|e| e.to_string())?;
        if job.state == JobState::Finished {
            let name = if job.sub_id.is_empty() {
                id.to_string()
            } else {
                job.sub_id.clone()
            };
            println!("Job {name} finished: {}", job.health);
            let cases = store.test_cases(id).map_err(|e| e.to_string())?;
            print!(
                "{}",
                lava_scheduler::results::export(&cases, lava_scheduler::results::Format::Table)
            );
        }
    }
    if !options.once {
        say(format!(
            "the lab keeps running; submit more jobs with\n  lava-server manage --database {url} jobs submit FILE --follow --jobs-dir {}\nCtrl-C stops it",
            jobs_dir.display()
        ));
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    say("stopping");
    // The running jobs are cancelled while the worker still runs (it
    // reports their end); then the boards are stopped.
    end_jobs(CANCEL_GRACE, false);
    web_stop.store(true, Ordering::SeqCst);
    slave_stop.store(true, Ordering::SeqCst);
    waker.shutdown();
    let worker = slave_thread.join();
    // a job the master started meanwhile got SIGTERM when the worker's
    // thread ended
    end_jobs(CANCEL_GRACE, true);
    worker
        .map_err(|_| "the worker thread panicked")?
        .map_err(|e| e.to_string())?;
    drop(boards);
    drop(notifier);
    coordinator
        .stop()
        .map_err(|e| format!("the MultiNode coordinator: {e}"))?;
    web_thread
        .join()
        .map_err(|_| "the HTTP service's thread panicked")?
        .map_err(|e| e.to_string())?;
    master_thread
        .join()
        .map_err(|_| "the master thread panicked")?
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that stands for a board's QEMU: `sh` with the pid file's
    /// path on its command line, as QEMU's `-pidfile PATH`.
    fn fake_board(pidfile: &Path) -> std::process::Child {
        let child = std::process::Command::new("sh")
            .args(["-c", "sleep 600", &pidfile.display().to_string()])
            .spawn()
            .unwrap();
        std::fs::write(pidfile, format!("{}\n", child.id())).unwrap();
        child
    }

    #[test]
    fn boards_left_by_a_killed_lab_are_stopped_and_a_running_labs_kept() {
        let images = tempfile::tempdir().unwrap();
        let run = images.path().join("run");
        std::fs::create_dir(&run).unwrap();
        // a lab that has ended: a finished process's pid
        let mut ended = std::process::Command::new("true").spawn().unwrap();
        ended.wait().unwrap();
        let dead_lab = ended.id();
        let stale = run.join(format!("lava-lab-x86_64-{dead_lab}.pid"));
        let mut left = fake_board(&stale);
        std::fs::write(run.join(format!("lava-lab-x86_64-{dead_lab}.log")), "").unwrap();
        // this running "lab"'s board
        let kept = run.join(format!("lava-lab-ipxe-{}.pid", std::process::id()));
        let mut running = fake_board(&kept);
        // a pid file whose process is not a board: left alone
        let mut other = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let unrelated = run.join(format!("lava-lab-grub-{dead_lab}.pid"));
        std::fs::write(&unrelated, other.id().to_string()).unwrap();

        stop_stale_boards(images.path());

        let status = left.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        assert!(!stale.exists() && !unrelated.exists());
        assert!(!run.join(format!("lava-lab-x86_64-{dead_lab}.log")).exists());
        assert!(kept.exists());
        assert!(
            running.try_wait().unwrap().is_none(),
            "a running lab's board"
        );
        assert!(other.try_wait().unwrap().is_none(), "an unrelated process");
        for mut child in [running, other] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}
