//! Real QEMU jobs through the real daemons: `lava-master`, `lava-slave` and
//! `lava-run` as processes, a QEMU guest as the board. From submission to
//! stored results on SQLite and PostgreSQL, and through a master or worker
//! killed (SIGKILL) and restarted in the middle of the job.

#[path = "../../lava-pipeline/tests/support/bench_board.rs"]
mod bench_board;
mod common;
#[path = "../../lava-pipeline/tests/support/nfs_server.rs"]
mod nfs_server;
#[path = "../../lava-pipeline/tests/support/ssh_host.rs"]
mod ssh_host;

use std::collections::HashSet;
use std::path::Path;

use bench_board::{Bench, Board, Root, Templates};
use common::*;
use lava_scheduler::model::{JobHealth, JobState, TestResultCode};
use lava_scheduler::store::{NewDevice, NewDeviceType};

fn submit(lab: &Lab, images: &Path) -> i64 {
    lava_scheduler::submit::submit(&lab.store, &lava_bins::lab::sample_job(images), "alice")
        .unwrap()
}

/// Wait for `job` to finish, assert it completed; its test cases, and
/// the (name, result) pairs of `suite`.
fn completed(
    lab: &Lab,
    job: i64,
    suite: &str,
) -> (
    Vec<lava_scheduler::model::TestCase>,
    Vec<(String, TestResultCode)>,
) {
    // real boards under a loaded machine: the job's own timeout (minutes)
    // ends it long before this
    wait_for(
        &format!("job {job} to finish"),
        std::time::Duration::from_secs(600),
        || lab.store.job(job).unwrap().state == JobState::Finished,
    );
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        finished.health,
        JobHealth::Complete,
        "{:?}\n{}",
        finished.failure_comment,
        lab.logs_of()
    );
    let cases = lab.store.test_cases(job).unwrap();
    let in_suite = cases
        .iter()
        .filter(|c| c.suite == suite)
        .map(|c| (c.name.clone(), c.result))
        .collect();
    (cases, in_suite)
}

fn pairs(expected: &[(&str, TestResultCode)]) -> Vec<(String, TestResultCode)> {
    expected.iter().map(|(n, r)| (n.to_string(), *r)).collect()
}

fn check_complete(lab: &Lab, job: i64) {
    let (cases, smoke) = completed(lab, job, "0_smoke");
    assert_eq!(
        smoke,
        pairs(&[
            ("kernel-version", TestResultCode::Pass),
            ("overlay-mounted", TestResultCode::Pass),
            ("uptime", TestResultCode::Pass)
        ])
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

/// Boards started by this process so far.
static BOARDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A job on a bench board through the daemons: submitted, scheduled,
/// run by lava-run on the worker through the board's own firmware; its
/// test results stored.
fn board_job(postgres: bool, arch: Bench) {
    board_job_with_root(postgres, arch, Root::Ramdisk);
}

/// [`board_job`] with the job's root file system at `root`: an NFS root is
/// served by nfs-ganesha from the worker's download directory.
fn board_job_with_root(postgres: bool, arch: Bench, root: Root) {
    let Some(board_lab) = bench_board::lab(arch) else {
        return;
    };
    let Some((mut lab, _)) = qemu_lab(postgres) else {
        return;
    };
    let downloads = lab.path("dispatcher-tmp");
    std::fs::create_dir_all(&downloads).unwrap();
    let server = match root {
        Root::Ramdisk => None,
        _ => match nfs_server::NfsServer::start(&[&downloads]) {
            Some(server) => Some(server),
            None => return,
        },
    };
    let tftp = lab.path("tftp");
    std::fs::create_dir_all(&tftp).unwrap();
    let mut board = Board::new(
        &board_lab,
        arch,
        free_port(),
        free_port(),
        &tftp,
        // one name per board: tests of the same board run at once
        &format!(
            "e2e-{}-{}-{}",
            std::process::id(),
            arch.name(),
            BOARDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ),
    );
    if server.is_some() {
        board = board.open_network();
    }
    assert!(board.run("start"), "the board did not start");
    let device_type = arch.device_type(Templates::Ours);
    lab.store
        .add_device_type(&NewDeviceType::new(device_type))
        .unwrap();
    let mut device = NewDevice::new("bench-01", device_type, "worker1");
    device.dictionary = Some(board.dictionary());
    lab.store.add_device(&device, "admin").unwrap();
    // The worker's dispatcher configuration: QEMU's TFTP serves our root.
    std::fs::write(
        lab.path("dispatcher.d/worker1/dispatcher.yaml"),
        bench_board::dispatcher(&tftp),
    )
    .unwrap();
    lab.start_master();
    lab.start_slave();
    let definition = bench_board::job_with_root(
        &board_lab,
        arch,
        &format!("{} board through the daemons", arch.name()),
        arch.device_type(Templates::Ours),
        &root,
    );
    let job = lava_scheduler::submit::submit(&lab.store, &definition, "alice").unwrap();
    let (_, board_cases) = completed(&lab, job, "0_board");
    let on_root: &[(&str, TestResultCode)] = match root {
        Root::Ramdisk => &[("overlay-in-ramdisk", TestResultCode::Pass)],
        _ => &[
            ("root-is-nfs", TestResultCode::Pass),
            ("written-back", TestResultCode::Pass),
        ],
    };
    let expected: Vec<_> = [
        ("kernel", TestResultCode::Pass),
        ("arch", TestResultCode::Pass),
    ]
    .iter()
    .chain(on_root)
    .chain(&[("must-fail", TestResultCode::Fail)])
    .copied()
    .collect();
    assert_eq!(board_cases, pairs(&expected));
    let log = messages(&log_lines(&lab.job_dir(job))).join("\n");
    match arch {
        Bench::X86_64 | Bench::Arm64 => {
            assert!(log.contains("Starting kernel"), "booted through U-Boot");
            assert!(
                log.contains(&format!("tftp {} {job}/tftp-deploy-", arch.kernel_addr())),
                "TFTP paths of this job"
            );
        }
        Bench::Ipxe => assert!(
            log.contains(&format!("kernel tftp://10.0.2.2/{job}/tftp-deploy-")),
            "TFTP paths of this job"
        ),
        Bench::Grub => assert!(
            log.contains(&format!("linux (tftp,10.0.2.2)/{job}/tftp-deploy-")),
            "TFTP paths of this job"
        ),
    }
    if let Bench::Arm64 = arch {
        assert!(
            log.contains(&format!("tftp 0x48000000 {job}/tftp-deploy-")),
            "the device tree goes through TFTP"
        );
        assert!(log.contains("booti 0x40400000 0x44000000 0x48000000"));
    }
    drop(board);
}

/// The x86_64 U-Boot board (zboot, no device tree) on SQLite.
#[test]
fn uboot_board_job_on_sqlite() {
    board_job(false, Bench::X86_64);
}

/// The arm64 U-Boot board (booti with a device tree) on PostgreSQL.
#[test]
fn uboot_board_job_on_postgres() {
    board_job(true, Bench::Arm64);
}

/// The iPXE bench PC on SQLite.
#[test]
fn ipxe_board_job_on_sqlite() {
    board_job(false, Bench::Ipxe);
}

/// The iPXE bench PC on PostgreSQL.
#[test]
fn ipxe_board_job_on_postgres() {
    board_job(true, Bench::Ipxe);
}

/// The GRUB bench PC on PostgreSQL.
#[test]
fn grub_board_job_on_postgres() {
    board_job(true, Bench::Grub);
}

/// The GRUB bench PC on SQLite.
#[test]
fn grub_board_job_on_sqlite() {
    board_job(false, Bench::Grub);
}

/// The iPXE bench PC with a tftp deploy's `nfsrootfs` on PostgreSQL: the
/// board's `/` mounted over NFS from the worker's download directory.
#[test]
fn ipxe_board_nfsrootfs_job_on_postgres() {
    board_job_with_root(true, Bench::Ipxe, Root::Nfs);
}

/// The same on SQLite.
#[test]
fn ipxe_board_nfsrootfs_job_on_sqlite() {
    board_job_with_root(false, Bench::Ipxe, Root::Nfs);
}

/// `to: nfs` and `method: qemu-nfs` through the daemons on SQLite: QEMU's
/// kernel mounts its root over NFS from the worker.
#[test]
fn qemu_nfs_job_on_sqlite() {
    qemu_nfs_job(false);
}

/// The same on PostgreSQL.
#[test]
fn qemu_nfs_job_on_postgres() {
    qemu_nfs_job(true);
}

fn qemu_nfs_job(postgres: bool) {
    let Some((mut lab, images)) = qemu_lab(postgres) else {
        return;
    };
    if !images.join("nfsrootfs.tar.gz").exists() {
        eprintln!("skipping: no nfsrootfs.tar.gz in {}", images.display());
        return;
    }
    let downloads = lab.path("dispatcher-tmp");
    std::fs::create_dir_all(&downloads).unwrap();
    let Some(_server) = nfs_server::NfsServer::start(&[&downloads]) else {
        return;
    };
    // a guest that may reach the worker (qemu-01's network is restricted)
    let mut device = NewDevice::new("qemu-nfs-01", "qemu", "worker1");
    device.dictionary = Some(
        "{% extends 'qemu.jinja2' %}\n{% set arch = 'amd64' %}\n{% set no_kvm = true %}\n{% set memory = 256 %}\n"
            .into(),
    );
    lab.store.add_device(&device, "admin").unwrap();
    lab.store
        .set_device_health(
            "qemu-01",
            lava_scheduler::model::DeviceHealth::Retired,
            "admin",
            "its network is restricted",
        )
        .unwrap();
    std::fs::write(
        lab.path("dispatcher.d/worker1/dispatcher.yaml"),
        "dispatcher_ip: 10.0.2.2\n",
    )
    .unwrap();
    lab.start_master();
    lab.start_slave();
    let job = lava_scheduler::submit::submit(&lab.store, &nfs_server::qemu_job(&images), "alice")
        .unwrap();
    let (cases, nfs_cases) = completed(&lab, job, "0_nfs");
    assert_eq!(
        nfs_cases,
        pairs(&[
            ("root-is-nfs", TestResultCode::Pass),
            ("overlay-in-root", TestResultCode::Pass),
            ("written-back", TestResultCode::Pass),
            ("must-fail", TestResultCode::Fail),
            ("nfs-mounts", TestResultCode::Pass)
        ])
    );
    let mounts = cases.iter().find(|c| c.name == "nfs-mounts").unwrap();
    assert_eq!(mounts.units, "mounts");
    let count: f64 = mounts.measurement.as_deref().unwrap().parse().unwrap();
    assert!(count >= 1.0, "the guest counts its NFS mounts: {count}");
    let log = messages(&log_lines(&lab.job_dir(job))).join("\n");
    assert!(log.contains("nfsroot: mounted 10.0.2.2:"), "{log}");
}

/// A job on the SSH device (dropbear on loopback) through the daemons:
/// the overlay deployed over ssh, the test shell over the ssh login, the
/// results stored.
fn ssh_job(postgres: bool) {
    let Some((mut lab, _)) = qemu_lab(postgres) else {
        return;
    };
    let Some(host) = ssh_host::SshHost::start() else {
        return;
    };
    lab.store
        .add_device_type(&NewDeviceType::new("ssh"))
        .unwrap();
    let mut device = NewDevice::new("ssh-01", "ssh", "worker1");
    device.dictionary = Some(host.dictionary("ssh"));
    lab.store.add_device(&device, "admin").unwrap();
    lab.start_master();
    lab.start_slave();
    let definition = ssh_host::job("ssh device through the daemons", "ssh");
    let job = lava_scheduler::submit::submit(&lab.store, &definition, "alice").unwrap();
    let (cases, ssh_cases) = completed(&lab, job, "0_over-ssh");
    assert_eq!(
        ssh_cases,
        pairs(&[
            ("home", TestResultCode::Pass),
            ("must-fail", TestResultCode::Fail),
            ("speed", TestResultCode::Pass)
        ])
    );
    let speed = cases.iter().find(|c| c.name == "speed").unwrap();
    assert_eq!(speed.measurement.as_deref(), Some("42.5"));
    assert_eq!(speed.units, "MB/s");
    let log = messages(&log_lines(&lab.job_dir(job))).join("\n");
    assert!(log.contains("Copying overlay to root@127.0.0.1:"), "{log}");
    drop(host);
}

#[test]
fn ssh_job_on_sqlite() {
    ssh_job(false);
}

#[test]
fn ssh_job_on_postgres() {
    ssh_job(true);
}
