//! The bench boards of `scripts/bench-board.sh`, for tests: which files a
//! board needs, how to start and power it, the dictionary that drives it
//! (with this project's device types or LAVA's own) and a job for it.
//! Shared by `lava-pipeline/tests/boards.rs`
//! (lava-run's pipeline) and `lava-bins/tests/qemu_e2e.rs` (the daemons)
//! with `#[path]`, so they run the same job on the same boards.
//!
//! The images are looked for in `$LAVA_QEMU_LAB`, else
//! `<workspace>/target/qemu-lab` (`scripts/qemu-images.sh LAB ARCH` then
//! `scripts/bench-board.sh build LAB BOARD`, as `.ci/run` does).

#![allow(dead_code)] // each test crate uses part of it

use std::path::{Path, PathBuf};

/// The workspace root (every crate of it is one level down).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bench boards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bench {
    /// `pc` with the 32-bit qemu-x86 U-Boot: `zboot`, no device tree.
    X86_64,
    /// `virt` (cortex-a57) with qemu_arm64 U-Boot: `booti` with a device
    /// tree, the ramdisk wrapped in a U-Boot header.
    Arm64,
    /// `pc` booting the iPXE ROM of its virtio NIC, typed at through
    /// SeaBIOS's serial console.
    Ipxe,
    /// `pc` whose iPXE runs a PXE build of GRUB, on its serial terminal.
    Grub,
}

/// Which device types drive a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Templates {
    /// This project's, in `share/device-types`.
    Ours,
    /// LAVA 2020.01's own, from the corpus: `x86.jinja2` for iPXE,
    /// `x86-pentium4.jinja2` (a `base-grub.jinja2` type) for GRUB.
    Lavas,
}

impl Bench {
    /// The script's board argument, also the U-Boot dictionary's
    /// `bench_arch`.
    pub fn name(self) -> &'static str {
        match self {
            Bench::X86_64 => "x86_64",
            Bench::Arm64 => "arm64",
            Bench::Ipxe => "ipxe",
            Bench::Grub => "grub",
        }
    }

    /// The boot method of its jobs.
    pub fn method(self) -> &'static str {
        match self {
            Bench::X86_64 | Bench::Arm64 => "u-boot",
            Bench::Ipxe => "ipxe",
            Bench::Grub => "grub",
        }
    }

    /// What `uname -m` says on the board.
    pub fn machine(self) -> &'static str {
        match self {
            Bench::Arm64 => "aarch64",
            _ => "x86_64",
        }
    }

    /// The kernel's load address in the U-Boot template.
    pub fn kernel_addr(self) -> &'static str {
        match self {
            Bench::Arm64 => "0x40400000",
            _ => "0x1000000",
        }
    }

    /// The device type that drives it.
    pub fn device_type(self, templates: Templates) -> &'static str {
        match (self, templates) {
            (Bench::X86_64 | Bench::Arm64, _) => "qemu-uboot-bench",
            (_, Templates::Ours) => "qemu-pc-bench",
            (Bench::Ipxe, Templates::Lavas) => "x86",
            (Bench::Grub, Templates::Lavas) => "x86-pentium4",
        }
    }

    /// The files of the lab this board needs.
    pub fn needed(self) -> &'static [&'static str] {
        match self {
            Bench::X86_64 => &[
                "vmlinuz",
                "initramfs.cpio.gz",
                "bin/qemu-system-x86_64",
                "bin/telnet",
                "uboot/x86_64/u-boot.rom",
            ],
            Bench::Arm64 => &[
                "arm64/Image",
                "arm64/initramfs.cpio.gz",
                "arm64/virt.dtb",
                "bin/qemu-system-aarch64",
                "bin/telnet",
                "uboot/arm64/u-boot.bin",
            ],
            Bench::Ipxe => &[
                "vmlinuz",
                "initramfs.cpio.gz",
                "bin/qemu-system-x86_64",
                "bin/telnet",
                "pc/sercon-port",
            ],
            Bench::Grub => &[
                "vmlinuz",
                "initramfs.cpio.gz",
                "bin/qemu-system-x86_64",
                "bin/telnet",
                "pc/grub/core.0",
            ],
        }
    }

    /// The deploy block's files (indented for a `deploy:` block).
    pub fn deploy(self, lab: &Path) -> String {
        let lab = lab.display();
        match self {
            Bench::Ipxe | Bench::Grub => format!(
                "    kernel: {{url: 'file://{lab}/vmlinuz'}}\n    ramdisk: {{url: 'file://{lab}/initramfs.cpio.gz', compression: gz}}\n"
            ),
            Bench::X86_64 => format!(
                "    kernel: {{url: 'file://{lab}/vmlinuz', type: zimage}}\n    ramdisk: {{url: 'file://{lab}/initramfs.cpio.gz', compression: gz}}\n"
            ),
            Bench::Arm64 => format!(
                "    kernel: {{url: 'file://{lab}/arm64/Image', type: image}}\n    dtb: {{url: 'file://{lab}/arm64/virt.dtb'}}\n    ramdisk: {{url: 'file://{lab}/arm64/initramfs.cpio.gz', compression: gz}}\n"
            ),
        }
    }
}

/// The lab holding `arch`'s board, or `None` (said on stderr) when it was
/// not built.
pub fn lab(arch: Bench) -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/qemu-lab"));
    if arch.needed().iter().all(|f| dir.join(f).exists()) {
        return Some(dir.canonicalize().unwrap());
    }
    eprintln!(
        "skipping: no {1} bench board in {0} (build it with scripts/qemu-images.sh {0} {2} && scripts/bench-board.sh build {0} {1})",
        dir.display(),
        arch.name(),
        if arch == Bench::Arm64 { "arm64" } else { "x86_64" }
    );
    None
}

/// A board's QEMU, killed (by its pid file) when dropped.
pub struct Board {
    pub lab: PathBuf,
    pub arch: Bench,
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
        arch: Bench,
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

    /// Let the board reach this machine's services (an NFS server, the
    /// worker's HTTP file server), not only QEMU's DHCP and TFTP.
    pub fn open_network(mut self) -> Board {
        self.env.push(("BOARD_NETWORK".into(), "open".into()));
        self
    }

    fn script() -> String {
        workspace()
            .join("scripts/bench-board.sh")
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

    /// The device dictionary that drives this board with this project's
    /// device type: telnet to its serial line, power through the script.
    pub fn dictionary(&self) -> String {
        self.dictionary_for(Templates::Ours)
    }

    /// The device dictionary that drives this board with `templates`.
    /// LAVA's PC types type at 500 ms (x86) or 300 ms (GRUB) a character:
    /// the dictionary sets 50 ms, which iPXE under SeaBIOS needs and GRUB
    /// does not mind.
    pub fn dictionary_for(&self, templates: Templates) -> String {
        if matches!(self.arch, Bench::Ipxe | Bench::Grub) {
            return format!(
                "{{% extends '{kind}.jinja2' %}}\n{{% set boot_character_delay = 50 %}}\n\
                 {{% set connection_command = '{telnet} 127.0.0.1 {serial}' %}}\n\
                 {{% set power_on_command = '{on}' %}}\n{{% set power_off_command = '{off}' %}}\n\
                 {{% set hard_reset_command = '{reset}' %}}\n",
                kind = self.arch.device_type(templates),
                telnet = self.lab.join("bin/telnet").display(),
                serial = self.serial,
                on = self.command("on"),
                off = self.command("off"),
                reset = self.command("reset"),
            );
        }
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

/// Where a board's job has its root file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// The ramdisk, with the overlay appended to it.
    Ramdisk,
    /// `nfsrootfs` (the lab's `nfsrootfs.tar.gz`), unpacked by the worker
    /// and mounted over NFS by the ramdisk's `/init`.
    Nfs,
    /// `persistent_nfs` at this `server:/path`, the overlay not installed
    /// by the worker but fetched by the board (`transfer_overlay`, busybox
    /// `wget` from the dispatcher's `tmp_url`).
    PersistentNfs(String),
}

/// A job for the board: tftp deploy, a boot through its bootloader with
/// login, and a test definition whose cases are `kernel` (pass), `arch`
/// (pass: `uname -m` is the board's), `overlay-in-ramdisk` (pass) and
/// `must-fail` (fail).
pub fn job(lab: &Path, arch: Bench, name: &str) -> String {
    job_on(lab, arch, name, arch.device_type(Templates::Ours))
}

/// [`job`] for a device of `device_type`.
pub fn job_on(lab: &Path, arch: Bench, name: &str, device_type: &str) -> String {
    job_with_root(lab, arch, name, device_type, &Root::Ramdisk)
}

/// [`job_on`] with its root file system at `root`: the boot uses the
/// device's `nfs` commands for NFS roots, and the third case is
/// `root-is-nfs` (`/` is mounted over NFS), with `written-back` (a file
/// written to `/root/written-by-guest`) after it.
pub fn job_with_root(
    lab: &Path,
    arch: Bench,
    name: &str,
    device_type: &str,
    root: &Root,
) -> String {
    let mut files = arch.deploy(lab);
    let mut boot_extra = String::new();
    let (commands, third) = match root {
        Root::Ramdisk => (
            "ramdisk",
            "lava-test-case overlay-in-ramdisk --shell 'ls /lava-*/bin/lava-test-runner'".to_string(),
        ),
        Root::Nfs | Root::PersistentNfs(_) => (
            "nfs",
            "lava-test-case root-is-nfs --shell 'grep -q \"^[^ ]* / nfs\" /proc/mounts'\n          - lava-test-case written-back --shell 'echo from-the-guest > /root/written-by-guest'".to_string(),
        ),
    };
    match root {
        Root::Ramdisk => {}
        Root::Nfs => files.push_str(&format!(
            "    nfsrootfs: {{url: 'file://{}/nfsrootfs.tar.gz', compression: gz}}\n",
            lab.display()
        )),
        Root::PersistentNfs(address) => {
            files.push_str(&format!(
                "    persistent_nfs: {{address: '{address}', install_overlay: false}}\n"
            ));
            boot_extra.push_str(
                "    transfer_overlay: {download_command: 'wget -q', unpack_command: 'tar -C / -xzf'}\n",
            );
        }
    }
    format!(
        r#"job_name: {name}
device_type: {device_type}
visibility: public
timeouts: {{job: {{minutes: 8}}}}
actions:
- deploy:
    to: tftp
    os: oe
    timeout: {{minutes: 2}}
{files}- boot:
    method: {method}
    commands: {commands}
    timeout: {{minutes: 4}}
    prompts: ['root@lava:']
    auto_login: {{login_prompt: 'login:', username: root, password_prompt: 'Password:', password: lava}}
{boot_extra}- test:
    timeout: {{minutes: 3}}
    definitions:
    - from: inline
      name: board
      path: inline/board.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: board, description: bench board}}
        run:
          steps:
          - lava-test-case kernel --shell uname -r
          - lava-test-case arch --shell 'test "$(uname -m)" = {machine}'
          - {third}
          - lava-test-case must-fail --shell test -e /no/such/file
"#,
        machine = arch.machine(),
        method = arch.method(),
    )
}
