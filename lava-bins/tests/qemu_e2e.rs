//! Real QEMU jobs through the real daemons: `lava-master`, `lava-slave` and
//! `lava-run` as processes, a QEMU guest as the board. From submission to
//! stored results on SQLite and PostgreSQL, and through a master or worker
//! killed (SIGKILL) and restarted in the middle of the job.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::*;
use lava_scheduler::model::{JobHealth, JobState, TestResultCode};
use lava_scheduler::store::{NewDevice, NewDeviceType, Store};

fn images() -> Option<PathBuf> {
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
fn qemu_lab(postgres: bool) -> Option<(Lab, PathBuf)> {
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

fn submit(lab: &Lab, images: &Path) -> i64 {
    lava_scheduler::submit::submit(&lab.store, &lava_bins::lab::sample_job(images), "alice")
        .unwrap()
}

fn check_complete(lab: &Lab, job: i64) {
    lab.wait_state(job, JobState::Finished);
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        finished.health,
        JobHealth::Complete,
        "{:?}\n{}",
        finished.failure_comment,
        lab.logs_of()
    );
    let cases = lab.store.test_cases(job).unwrap();
    let smoke: Vec<(&str, TestResultCode)> = cases
        .iter()
        .filter(|c| c.suite == "0_smoke")
        .map(|c| (c.name.as_str(), c.result))
        .collect();
    assert_eq!(
        smoke,
        [
            ("kernel-version", TestResultCode::Pass),
            ("overlay-mounted", TestResultCode::Pass),
            ("uptime", TestResultCode::Pass)
        ]
    );
    let uptime = cases.iter().find(|c| c.name == "uptime").unwrap();
    assert_eq!(uptime.units, "seconds");
    assert!(uptime
        .measurement
        .as_deref()
        .and_then(|m| m.parse::<f64>().ok())
        .is_some());
    let lines = log_lines(&lab.job_dir(job));
    let unique: HashSet<&String> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "a log line was stored twice");
}

fn qemu_job(postgres: bool) {
    let Some((mut lab, images)) = qemu_lab(postgres) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = submit(&lab, &images);
    check_complete(&lab, job);
}

#[test]
fn qemu_job_on_sqlite() {
    qemu_job(false);
}

#[test]
fn qemu_job_on_postgres() {
    qemu_job(true);
}

fn qemu_job_survives(restart_master: bool) {
    let Some((mut lab, images)) = qemu_lab(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = submit(&lab, &images);
    lab.wait_state(job, JobState::Running);
    // Kill while the guest boots: once the kernel's first lines are in.
    wait_for("the kernel booting", DEADLINE, || {
        let dir = lab.job_dir(job);
        messages(&log_lines_so_far(&dir))
            .iter()
            .any(|m| m.contains("Linux version"))
    });
    if restart_master {
        lab.master.take();
        lab.start_master();
    } else {
        lab.slave.take();
        lab.start_slave();
    }
    check_complete(&lab, job);
}

#[test]
fn qemu_job_survives_a_master_restart() {
    qemu_job_survives(true);
}

#[test]
fn qemu_job_survives_a_worker_restart() {
    qemu_job_survives(false);
}

/// The U-Boot bench board of `scripts/uboot-board.sh`, killed when dropped.
struct Board {
    images: PathBuf,
    /// `x86_64` or `arm64`: the script's architecture argument.
    arch: &'static str,
    env: Vec<(String, String)>,
}

impl Board {
    fn script() -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/uboot-board.sh")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    }

    fn command(&self, action: &str) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "env {} bash {} {} {} {action}",
            env.join(" "),
            Self::script(),
            self.images.display(),
            self.arch
        )
    }

    fn run(&self, action: &str) -> bool {
        std::process::Command::new("bash")
            .arg(Self::script())
            .arg(&self.images)
            .args([self.arch, action])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.run("kill");
    }
}

/// The deploy block's files for the bench board of `arch`: arm64 adds a
/// device tree.
fn uboot_files(images: &Path, arch: &str) -> String {
    let images = images.display();
    if arch == "arm64" {
        format!(
            "    kernel: {{url: 'file://{images}/arm64/Image', type: image}}\n    dtb: {{url: 'file://{images}/arm64/virt.dtb'}}\n    ramdisk: {{url: 'file://{images}/arm64/initramfs.cpio.gz', compression: gz}}\n"
        )
    } else {
        format!(
            "    kernel: {{url: 'file://{images}/vmlinuz', type: zimage}}\n    ramdisk: {{url: 'file://{images}/initramfs.cpio.gz', compression: gz}}\n"
        )
    }
}

fn uboot_job(images: &Path, arch: &str) -> String {
    format!(
        r#"job_name: u-boot board through the daemons
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
          - lava-test-case must-fail --shell test -e /no/such/file
"#,
        files = uboot_files(images, arch)
    )
}

fn uboot_board_job(postgres: bool, arch: &'static str) {
    let Some((mut lab, images)) = qemu_lab(postgres) else {
        return;
    };
    let needed: &[&str] = if arch == "arm64" {
        &[
            "bin/telnet",
            "bin/qemu-system-aarch64",
            "uboot/arm64/u-boot.bin",
            "arm64/Image",
            "arm64/virt.dtb",
        ]
    } else {
        &["bin/telnet", "uboot/x86_64/u-boot.rom"]
    };
    if !needed.iter().all(|f| images.join(f).exists()) {
        eprintln!(
            "skipping: no {arch} U-Boot board in {0} (scripts/qemu-images.sh {0} {arch} && scripts/uboot-board.sh build {0} {arch})",
            images.display()
        );
        return;
    }
    let tftp = lab.path("tftp");
    std::fs::create_dir_all(&tftp).unwrap();
    let board = Board {
        images: images.canonicalize().unwrap(),
        arch,
        env: vec![
            ("BOARD_SERIAL_PORT".into(), free_port().to_string()),
            ("BOARD_MONITOR_PORT".into(), free_port().to_string()),
            ("BOARD_TFTP_DIR".into(), tftp.display().to_string()),
            (
                "BOARD_NAME".into(),
                format!("e2e-{}-{}", std::process::id(), u8::from(postgres)),
            ),
        ],
    };
    assert!(board.run("start"), "the board did not start");
    let serial = &board.env[0].1;
    let dictionary = format!(
        "{{% extends 'qemu-uboot-bench.jinja2' %}}\n{{% set bench_arch = '{arch}' %}}\n\
         {{% set connection_command = '{telnet} 127.0.0.1 {serial}' %}}\n\
         {{% set power_on_command = '{on}' %}}\n{{% set power_off_command = '{off}' %}}\n\
         {{% set hard_reset_command = '{reset}' %}}\n",
        telnet = images.join("bin/telnet").display(),
        on = board.command("on"),
        off = board.command("off"),
        reset = board.command("reset"),
    );
    lab.store
        .add_device_type(&NewDeviceType::new("qemu-uboot-bench"))
        .unwrap();
    let mut device = NewDevice::new("bench-01", "qemu-uboot-bench", "worker1");
    device.dictionary = Some(dictionary);
    lab.store.add_device(&device, "admin").unwrap();
    // The worker's dispatcher configuration: QEMU's TFTP serves our root.
    std::fs::write(
        lab.path("dispatcher.d/worker1/dispatcher.yaml"),
        format!(
            "dispatcher_ip: 10.0.2.2\ntftp_server: external\ntftp_root: {}\n",
            tftp.display()
        ),
    )
    .unwrap();
    lab.start_master();
    lab.start_slave();
    let job =
        lava_scheduler::submit::submit(&lab.store, &uboot_job(&images, arch), "alice").unwrap();
    lab.wait_state(job, JobState::Finished);
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        finished.health,
        JobHealth::Complete,
        "{:?}\n{}",
        finished.failure_comment,
        lab.logs_of()
    );
    let cases = lab.store.test_cases(job).unwrap();
    let board_cases: Vec<(&str, TestResultCode)> = cases
        .iter()
        .filter(|c| c.suite == "0_board")
        .map(|c| (c.name.as_str(), c.result))
        .collect();
    assert_eq!(
        board_cases,
        [
            ("kernel", TestResultCode::Pass),
            ("must-fail", TestResultCode::Fail)
        ]
    );
    let log = messages(&log_lines(&lab.job_dir(job))).join("\n");
    assert!(log.contains("Starting kernel"), "booted through U-Boot");
    let kernel_addr = if arch == "arm64" {
        "0x40400000"
    } else {
        "0x1000000"
    };
    assert!(
        log.contains(&format!("tftp {kernel_addr} {job}/tftp-deploy-")),
        "TFTP paths of this job"
    );
    if arch == "arm64" {
        assert!(
            log.contains(&format!("tftp 0x48000000 {job}/tftp-deploy-")),
            "the device tree goes through TFTP"
        );
        assert!(log.contains("booti 0x40400000 0x44000000 0x48000000"));
    }
}

/// The x86_64 board (zboot, no device tree) on SQLite.
#[test]
fn uboot_board_job_on_sqlite() {
    uboot_board_job(false, "x86_64");
}

/// The arm64 board (booti with a device tree) on PostgreSQL.
#[test]
fn uboot_board_job_on_postgres() {
    uboot_board_job(true, "arm64");
}
