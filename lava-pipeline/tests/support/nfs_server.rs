//! The NFS server of `scripts/nfs-server.sh`, for tests: Debian's
//! nfs-ganesha exporting the test's own directories over NFS version 4
//! on port 2049 of this machine. A QEMU guest with user networking
//! reaches it as 10.0.2.2 (the host's loopback), or at the machine's own
//! address. Shared by `lava-pipeline/tests/nfs.rs` (lava-run's pipeline)
//! and `lava-bins/tests/qemu_e2e.rs` (the daemons) with `#[path]`.
//!
//! The port is the standard one because a kernel's `nfsroot=` (and LAVA's
//! templates) name no other: tests that need the server take turns, by a
//! lock file held while theirs runs.
//!
//! It needs ganesha unpacked in `$LAVA_QEMU_LAB` (else
//! `<workspace>/target/qemu-lab`; `scripts/nfs-server.sh build LAB`, as
//! `.ci/run` does) and root. Without them the tests say so and skip,
//! except under `CI=true`, where they fail.

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Skip with `reason`, or fail under `CI=true` (where skipping would
/// hide a broken bench).
fn unavailable(reason: &str) -> Option<NfsServer> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the NFS server is unavailable: {reason}");
    }
    eprintln!("skipping: {reason}");
    None
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running NFS server; stopped (SIGTERM) when dropped.
pub struct NfsServer {
    child: Child,
    state: tempfile::TempDir,
    // held for the server's life: the port is this test's
    _turn: std::fs::File,
}

impl NfsServer {
    /// Serve `dirs` (each exported under its own path), or `None` (said on
    /// stderr) when this machine cannot.
    pub fn start(dirs: &[&Path]) -> Option<NfsServer> {
        let lab = std::env::var_os("LAVA_QEMU_LAB")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/qemu-lab"));
        if !lab.join("nfs/root/usr/bin/ganesha.nfsd").exists() {
            return unavailable(&format!(
                "no nfs-ganesha in {0}/nfs (build it with scripts/nfs-server.sh build {0})",
                lab.display()
            ));
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return unavailable("the NFS server needs root (it serves files as their owners)");
        }
        let turn = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("lava-rs-tests-nfs-2049.lock"))
            .unwrap();
        turn.lock().unwrap();
        if std::net::TcpStream::connect(("127.0.0.1", 2049)).is_ok() {
            return unavailable("port 2049 is taken by another NFS server");
        }
        let state = tempfile::tempdir().unwrap();
        let mut command = Command::new("bash");
        // SAFETY: prctl is async-signal-safe; the server gets SIGTERM when
        // the thread that started it ends, even if the test process is
        // killed, so no ganesha outlives its test holding the port.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .arg(workspace().join("scripts/nfs-server.sh"))
            .arg(&lab)
            .arg("run")
            .arg(state.path())
            .arg("2049")
            .args(dirs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = NfsServer {
            child,
            state,
            _turn: turn,
        };
        // up once it listens (the port was free, and is ours while we
        // hold the turn)
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the NFS server exited ({status}):\n{}", server.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", 2049)).is_ok() {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "the NFS server did not answer:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's process id (the script execs ganesha).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("ganesha.log")).unwrap_or_default()
    }

    /// This machine's first IPv4 address other than loopback: what a
    /// `persistent_nfs` address names, since the worker and the guest both
    /// reach it.
    pub fn host_address() -> Option<String> {
        let out = Command::new("hostname").arg("-I").output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|a| !a.contains(':') && !a.starts_with("127."))
            .map(str::to_string)
    }
}

/// A `to: nfs` + `method: qemu-nfs` job for a `qemu` device, booting the
/// lab's kernel and ramdisk with `nfsrootfs.tar.gz` as its root. Cases:
/// `root-is-nfs`, `overlay-in-root`, `written-back` (the guest writes
/// `/root/written-by-guest`) pass, `must-fail` fails, `nfs-mounts` is a
/// measurement.
pub fn qemu_job(lab: &Path) -> String {
    format!(
        r#"job_name: qemu nfs root
device_type: qemu
timeouts: {{job: {{minutes: 6}}}}
visibility: public
context: {{arch: amd64, extra_options: ['-no-reboot']}}
actions:
- deploy:
    to: nfs
    os: oe
    timeout: {{minutes: 2}}
    images:
      kernel:
        url: file://{lab}/vmlinuz
        image_arg: -kernel {{kernel}}
      initrd:
        url: file://{lab}/initramfs.cpio.gz
        image_arg: -initrd {{initrd}}
      nfsrootfs:
        url: file://{lab}/nfsrootfs.tar.gz
        compression: gz
- boot:
    method: qemu-nfs
    timeout: {{minutes: 3}}
    prompts: ['root@lava:']
    auto_login: {{login_prompt: 'login:', username: root, password_prompt: 'Password:', password: lava}}
- test:
    timeout: {{minutes: 3}}
    definitions:
    - from: inline
      name: nfs
      path: inline/nfs.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: nfs, description: NFS root}}
        run:
          steps:
          - lava-test-case root-is-nfs --shell 'grep -q "^[^ ]* / nfs" /proc/mounts'
          - lava-test-case overlay-in-root --shell 'ls /lava-*/bin/lava-test-runner'
          - lava-test-case written-back --shell 'echo from-the-guest > /root/written-by-guest'
          - lava-test-case must-fail --shell test -e /no/such/file
          - lava-test-case nfs-mounts --result pass --measurement $(grep -c " nfs" /proc/mounts) --units mounts
"#,
        lab = lab.display()
    )
}

impl Drop for NfsServer {
    fn drop(&mut self) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
