//! What the dispatcher costs per job on each bench device.
//!
//! `cargo bench -p lava-bins --bench boards` runs one job with the
//! `lava-run` binary (as a worker starts it) on every bench device this
//! machine has built (`scripts/bench-board.sh`, `scripts/ssh-host.sh`) and
//! prints, per device: the job's wall time, lava-run's CPU time (user +
//! system, from `wait4`) and peak resident memory, next to the CPU time of
//! the device itself over the same job (the board's QEMU, from
//! `/proc/<pid>/stat`; for an NFS root, the NFS server's too; for the SSH
//! device nothing: its shell runs on this machine, under dropbear).
//! Devices that are not built are skipped.

#[path = "../../lava-pipeline/tests/support/bench_board.rs"]
mod bench_board;
#[path = "../../lava-pipeline/tests/support/nfs_server.rs"]
mod nfs_server;
#[path = "../../lava-pipeline/tests/support/ssh_host.rs"]
mod ssh_host;

use std::path::Path;
use std::time::Instant;

use bench_board::{workspace, Bench, Board, Root, Templates};
use lava_devices::TemplateSet;
use lava_proto::yaml::Mapping;

/// User + system CPU seconds of a running process.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 2)..]
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// What one lava-run cost.
struct Cost {
    wall: f64,
    cpu: f64,
    peak_kib: i64,
    passed: bool,
}

/// Run `definition` on `device` with the lava-run binary; its exit and
/// resource use from `wait4`, which reaps it (the `Child` is not waited
/// for a second time).
#[allow(clippy::zombie_processes)]
fn lava_run(id: &str, definition: &str, device: &str, dispatcher: &str, tmp: &Path) -> Cost {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let job = write("job.yaml", definition);
    let device = write("device.yaml", device);
    let dispatcher = write("dispatcher.yaml", dispatcher);
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lava-run"))
        .args(["--job-id", id, "--output-dir"])
        .arg(dir.path().join("output"))
        .arg("--device")
        .arg(&device)
        .arg("--dispatcher")
        .arg(&dispatcher)
        .arg("--tmp-dir")
        .arg(tmp)
        .arg(&job)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cost {
        wall: started.elapsed().as_secs_f64(),
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_kib: usage.ru_maxrss,
        passed: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn report(device: &str, cost: &Cost, device_cpu: Option<f64>) {
    println!(
        "{device:<28} {:>6.1} s  {:>6.2} s  {:>7.1} MiB  {:>12}  {}",
        cost.wall,
        cost.cpu,
        cost.peak_kib as f64 / 1024.0,
        device_cpu.map_or("-".to_string(), |c| format!("{c:.1} s")),
        if cost.passed { "complete" } else { "FAILED" }
    );
}

fn board(bench: Bench, id: &str) {
    board_with_root(bench, id, Root::Ramdisk);
}

fn board_with_root(bench: Bench, id: &str, root: Root) {
    let Some(lab) = bench_board::lab(bench) else {
        return;
    };
    // lava-run's download directory, which the NFS server exports
    let downloads = tempfile::tempdir().unwrap();
    let server = match root {
        Root::Ramdisk => None,
        _ => match nfs_server::NfsServer::start(&[downloads.path()]) {
            Some(server) => Some(server),
            None => return,
        },
    };
    let tftp = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let name = format!("bench-{}-{}", bench.name(), std::process::id());
    let mut board = Board::new(&lab, bench, port(), port(), tftp.path(), &name);
    if server.is_some() {
        board = board.open_network();
    }
    assert!(board.run("start"), "the board did not start");
    let device = TemplateSet::new([workspace().join("share/device-types")].iter())
        .render_str("bench.jinja2", &board.dictionary(), &Mapping::new())
        .unwrap();
    let definition = bench_board::job_with_root(
        &lab,
        bench,
        "dispatcher cost",
        bench.device_type(Templates::Ours),
        &root,
    );
    let pid: u32 = std::fs::read_to_string(lab.join(format!("run/{name}.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let device_cpu = || cpu_seconds(pid) + server.as_ref().map_or(0.0, |s| cpu_seconds(s.pid()));
    let before = device_cpu();
    let cost = lava_run(
        id,
        &definition,
        &device,
        &bench_board::dispatcher(tftp.path()),
        downloads.path(),
    );
    let spent = device_cpu() - before;
    let label = match root {
        Root::Ramdisk => format!("{} ({})", bench.name(), bench.method()),
        _ => format!("{} ({}, NFS root)", bench.name(), bench.method()),
    };
    report(&label, &cost, Some(spent));
    drop(board);
}

fn ssh(id: &str) {
    let Some(host) = ssh_host::SshHost::start() else {
        return;
    };
    let device = TemplateSet::new([workspace().join("share/device-types")].iter())
        .render_str("bench.jinja2", &host.dictionary("ssh"), &Mapping::new())
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cost = lava_run(
        id,
        &ssh_host::job("dispatcher cost", "ssh"),
        &device,
        "{}\n",
        tmp.path(),
    );
    report("ssh (dropbear)", &cost, None);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "{:<28} {:>8}  {:>8}  {:>11}  {:>12}",
        "device (boot)", "wall", "lava-run", "peak RSS", "device CPU"
    );
    board(Bench::X86_64, "9101");
    board(Bench::Arm64, "9102");
    board(Bench::Ipxe, "9103");
    board(Bench::Grub, "9104");
    ssh("9105");
    board_with_root(Bench::Ipxe, "9106", Root::Nfs);
}
