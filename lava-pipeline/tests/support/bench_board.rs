//! The U-Boot bench boards of `scripts/uboot-board.sh`, for tests: which
//! files a board needs, how to start and power it, the dictionary that
//! drives it and a job for it. Shared by `lava-pipeline/tests/uboot.rs`
//! (lava-run's pipeline) and `lava-bins/tests/qemu_e2e.rs` (the daemons)
//! with `#[path]`, so both run the same job on the same boards.
//!
//! The images are looked for in `$LAVA_QEMU_LAB`, else
//! `<workspace>/target/qemu-lab` (`scripts/qemu-images.sh LAB ARCH` then
//! `scripts/uboot-board.sh build LAB ARCH`, as `.ci/run` does).

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};

/// The workspace root (every crate of it is one level down).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The two bench boards.
#[derive(Clone, Copy, Debug)]
pub enum Arch {
    /// `pc` with the 32-bit qemu-x86 U-Boot: `zboot`, no device tree.
    X86_64,
    /// `virt` (cortex-a57) with qemu_arm64 U-Boot: `booti` with a device
    /// tree, the ramdisk wrapped in a U-Boot header.
    Arm64,
}

impl Arch {
    /// The script's architecture argument, also the dictionary's
    /// `bench_arch`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// What `uname -m` says on the board.
    pub fn machine(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// The kernel's load address in the template.
    pub fn kernel_addr(self) -> &'static str {
        match self {
            Arch::X86_64 => "0x1000000",
            Arch::Arm64 => "0x40400000",
        }
    }

    /// The files of the lab this board needs.
    pub fn needed(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &[
                "vmlinuz",
                "initramfs.cpio.gz",
                "bin/qemu-system-x86_64",
                "bin/telnet",
                "uboot/x86_64/u-boot.rom",
            ],
            Arch::Arm64 => &[
                "arm64/Image",
                "arm64/initramfs.cpio.gz",
                "arm64/virt.dtb",
                "bin/qemu-system-aarch64",
                "bin/telnet",
                "uboot/arm64/u-boot.bin",
            ],
        }
    }

    /// The deploy block's files (indented for a `deploy:` block).
    pub fn deploy(self, lab: &Path) -> String {
        let lab = lab.display();
        match self {
            Arch::X86_64 => format!(
                "    kernel: {{url: 'file://{lab}/vmlinuz', type: zimage}}\n    ramdisk: {{url: 'file://{lab}/initramfs.cpio.gz', compression: gz}}\n"
            ),
            Arch::Arm64 => format!(
                "    kernel: {{url: 'file://{lab}/arm64/Image', type: image}}\n    dtb: {{url: 'file://{lab}/arm64/virt.dtb'}}\n    ramdisk: {{url: 'file://{lab}/arm64/initramfs.cpio.gz', compression: gz}}\n"
            ),
        }
    }
}

/// The lab holding `arch`'s board, or `None` (said on stderr) when it was
/// not built.
pub fn lab(arch: Arch) -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/qemu-lab"));
    if arch.needed().iter().all(|f| dir.join(f).exists()) {
        return Some(dir.canonicalize().unwrap());
    }
    eprintln!(
        "skipping: no {1} U-Boot board in {0} (build it with scripts/qemu-images.sh {0} {1} && scripts/uboot-board.sh build {0} {1})",
        dir.display(),
        arch.name()
    );
    None
}

/// A board's QEMU, killed (by its pid file) when dropped.
pub struct Board {
    pub lab: PathBuf,
    pub arch: Arch,
    /// The telnet port of its serial line.
    pub serial: u16,
    env: Vec<(String, String)>,
}

impl Board {
    /// A board of `arch` with its serial line and monitor on `serial` and
    /// `monitor`, QEMU's TFTP serving `tftp`, its files named after
    /// `name`. It is not started.
    pub fn new(
        lab: &Path,
        arch: Arch,
        serial: u16,
        monitor: u16,
        tftp: &Path,
        name: &str,
    ) -> Board {
        Board {
            lab: lab.to_path_buf(),
            arch,
            serial,
            env: vec![
                ("BOARD_SERIAL_PORT".into(), serial.to_string()),
                ("BOARD_MONITOR_PORT".into(), monitor.to_string()),
                ("BOARD_TFTP_DIR".into(), tftp.display().to_string()),
                ("BOARD_NAME".into(), name.to_string()),
            ],
        }
    }

    fn script() -> String {
        workspace()
            .join("scripts/uboot-board.sh")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    }

    /// The shell command that does `action` (a power command for the
    /// dictionary).
    pub fn command(&self, action: &str) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "env {} bash {} {} {} {action}",
            env.join(" "),
            Self::script(),
            self.lab.display(),
            self.arch.name()
        )
    }

    /// Does `action` now; whether it succeeded.
    pub fn run(&self, action: &str) -> bool {
        std::process::Command::new("bash")
            .arg(Self::script())
            .arg(&self.lab)
            .arg(self.arch.name())
            .arg(action)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The device dictionary that drives this board: telnet to its serial
    /// line, power through the script.
    pub fn dictionary(&self) -> String {
        format!(
            "{{% extends 'qemu-uboot-bench.jinja2' %}}\n{{% set bench_arch = '{arch}' %}}\n\
             {{% set connection_command = '{telnet} 127.0.0.1 {serial}' %}}\n\
             {{% set power_on_command = '{on}' %}}\n{{% set power_off_command = '{off}' %}}\n\
             {{% set hard_reset_command = '{reset}' %}}\n",
            arch = self.arch.name(),
            telnet = self.lab.join("bin/telnet").display(),
            serial = self.serial,
            on = self.command("on"),
            off = self.command("off"),
            reset = self.command("reset"),
        )
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.run("kill");
    }
}

/// The dispatcher configuration of a worker whose TFTP root QEMU serves.
pub fn dispatcher(tftp: &Path) -> String {
    format!(
        "dispatcher_ip: 10.0.2.2\ntftp_server: external\ntftp_root: {}\n",
        tftp.display()
    )
}

/// A job for the board: tftp deploy, u-boot boot with login, and a test
/// definition whose cases are `kernel` (pass), `arch` (pass: `uname -m`
/// is the board's), `overlay-in-ramdisk` (pass) and `must-fail` (fail).
pub fn job(lab: &Path, arch: Arch, name: &str) -> String {
    format!(
        r#"job_name: {name}
device_type: qemu-uboot-bench
visibility: public
timeouts: {{job: {{minutes: 8}}}}
actions:
- deploy:
    to: tftp
    os: oe
    timeout: {{minutes: 2}}
{files}- boot:
    method: u-boot
    commands: ramdisk
    timeout: {{minutes: 4}}
    prompts: ['root@lava:']
    auto_login: {{login_prompt: 'login:', username: root, password_prompt: 'Password:', password: lava}}
- test:
    timeout: {{minutes: 3}}
    definitions:
    - from: inline
      name: board
      path: inline/board.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: board, description: U-Boot board}}
        run:
          steps:
          - lava-test-case kernel --shell uname -r
          - lava-test-case arch --shell 'test "$(uname -m)" = {machine}'
          - lava-test-case overlay-in-ramdisk --shell 'ls /lava-*/bin/lava-test-runner'
          - lava-test-case must-fail --shell test -e /no/such/file
"#,
        files = arch.deploy(lab),
        machine = arch.machine(),
    )
}
