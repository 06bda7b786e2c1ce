//! The SSH device of `scripts/ssh-host.sh`, for tests: Debian's dropbear
//! on a loopback port, logging in as root into a home of the test's own (a
//! fresh key pair, a `.bash_profile` that sets the prompt). Shared by
//! `lava-pipeline/tests/ssh.rs` (lava-run's pipeline) and
//! `lava-bins/tests/qemu_e2e.rs` (the daemons) with `#[path]`.
//!
//! It needs dropbear unpacked in `$LAVA_QEMU_LAB` (else
//! `<workspace>/target/qemu-lab`; `scripts/ssh-host.sh build LAB`, as
//! `.ci/run` does), `ssh` and `ssh-keygen`, and root (the script mounts the
//! home over `/root` in a mount namespace of its own). Without them the
//! tests say so and skip.

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The prompt of the device's login shell.
pub const PROMPT: &str = "lava-ssh# ";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running SSH device; dropbear is stopped when it is dropped.
pub struct SshHost {
    child: Child,
    /// Holds the home, the key pair and the results directory.
    pub dir: tempfile::TempDir,
    /// The loopback port dropbear listens on.
    pub port: u16,
}

impl SshHost {
    /// Start one, or `None` (said on stderr) when this machine cannot.
    pub fn start() -> Option<SshHost> {
        let lab = std::env::var_os("LAVA_QEMU_LAB")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/qemu-lab"));
        if !lab.join("ssh/root/usr/sbin/dropbear").exists() {
            eprintln!(
                "skipping: no dropbear in {0}/ssh (build it with scripts/ssh-host.sh build {0})",
                lab.display()
            );
            return None;
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping: the SSH device needs root (a mount namespace of its own)");
            return None;
        }
        for tool in ["ssh", "ssh-keygen", "unshare"] {
            if lava_pipeline::host::which(tool).is_err() {
                eprintln!("skipping: no {tool} on this machine");
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(dir.path().join("results")).unwrap();
        let key = dir.path().join("id_ed25519");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success(), "ssh-keygen failed");
        std::fs::copy(key.with_extension("pub"), home.join(".ssh/authorized_keys")).unwrap();
        std::fs::write(
            home.join(".bash_profile"),
            format!("export PS1='{PROMPT}'\n"),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("bash")
            .arg(workspace().join("scripts/ssh-host.sh"))
            .arg(&lab)
            .arg("run")
            .arg(port.to_string())
            .arg(&home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let host = SshHost { child, dir, port };
        // dropbear is up once it accepts connections
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "dropbear did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(host)
    }

    /// The private key the worker logs in with.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    /// Where jobs put their overlay on the device.
    pub fn results(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    /// The device dictionary: `device_type` (ours or LAVA's `ssh.jinja2`).
    pub fn dictionary(&self, device_type: &str) -> String {
        format!(
            "{{% extends '{device_type}.jinja2' %}}\n{{% set ssh_host = '127.0.0.1' %}}\n\
             {{% set ssh_port = {port} %}}\n{{% set ssh_user = 'root' %}}\n\
             {{% set ssh_identity_file = '{key}' %}}\n\
             {{% set lava_test_results_dir = '{results}/lava-%s' %}}\n",
            port = self.port,
            key = self.key().display(),
            results = self.results().display(),
        )
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A job for the device: the overlay deployed over ssh, a login over ssh,
/// and a definition with a passing case, a failing one and a measurement.
/// It names no `os`: an OS's deployment data would put the overlay in
/// `/lava-<id>` of this machine, where the device's
/// `lava_test_results_dir` keeps it in the test's directory.
pub fn job(name: &str, device_type: &str) -> String {
    format!(
        r#"job_name: {name}
device_type: {device_type}
visibility: public
timeouts: {{job: {{minutes: 4}}}}
actions:
- deploy:
    to: ssh
    timeout: {{minutes: 1}}
- boot:
    method: ssh
    connection: ssh
    prompts: ['{PROMPT}']
    timeout: {{minutes: 1}}
- test:
    timeout: {{minutes: 2}}
    definitions:
    - from: inline
      name: over-ssh
      path: inline/over-ssh.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: over-ssh, description: SSH device}}
        run:
          steps:
          - lava-test-case home --shell 'test -f ~/.ssh/authorized_keys'
          - lava-test-case must-fail --shell false
          - lava-test-case speed --result pass --measurement 42.5 --units MB/s
"#
    )
}
