//! NFS roots, for real: the guest's `/` mounted over NFS version 4 from
//! Debian's nfs-ganesha (`scripts/nfs-server.sh`), which exports the
//! worker's download directory as LAVA's workers export theirs.
//!
//! - `to: nfs` + `method: qemu-nfs`: QEMU boots the kernel and ramdisk of
//!   `scripts/qemu-images.sh`, whose `/init` mounts `nfsroot=` and
//!   switches to it; with our `qemu.jinja2` and with LAVA's.
//! - `to: tftp` with `nfsrootfs` on the iPXE bench board, with our
//!   `qemu-pc-bench.jinja2` and LAVA's `x86.jinja2`: the `nfs` commands.
//! - `persistent_nfs` on the same server: a root the lab keeps, the
//!   overlay fetched by the board over HTTP (`transfer_overlay`), since
//!   the worker here has no NFS client to put it there.
//!
//! Each job's cases show the root is NFS (`/proc/mounts`), the overlay is
//! in it, and a file the guest writes appears in the worker's directory.
//! Without the images, ganesha or root, the tests say so and skip.

#[path = "support/bench_board.rs"]
mod bench_board;
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/nfs_server.rs"]
mod nfs_server;

use std::path::{Path, PathBuf};

use bench_board::{workspace, Bench, Board, Root, Templates};
use lava_devices::TemplateSet;
use lava_pipeline::{scalar, CancelToken, Job, JobInputs, Logger, MemoryLog, Registry};
use lava_proto::yaml::{self, Mapping};
use nfs_server::NfsServer;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every file named `name` below `dir`.
fn find_files(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            find_files(&entry.path(), name, found);
        } else if entry.file_name() == name {
            found.push(entry.path());
        }
    }
}

/// Runs the job with `tmp` as the download directory; fails the test
/// with the log when the job fails. Returns the log and what the guest
/// wrote to `/root/written-by-guest`, read on the worker before cleanup.
fn run(
    id: &str,
    definition: &str,
    device: &str,
    dispatcher: &str,
    tmp: &Path,
) -> (MemoryLog, Option<String>) {
    let mut inputs = JobInputs::new(id, definition, device);
    inputs.tmp_dir = tmp.to_path_buf();
    inputs.dispatcher = Some(dispatcher.to_string());
    let (logger, memory) = Logger::memory(id);
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    let mut found = Vec::new();
    find_files(tmp, "written-by-guest", &mut found);
    let written = found
        .first()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default());
    job.cleanup(&logger, &cancel);
    if let Err(e) = outcome {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
        panic!("job {id} failed: {e:?}\ndevice:\n{device}");
    }
    (memory, written)
}

fn result_of(memory: &MemoryLog, definition: &str, case: &str) -> String {
    let results = memory.results();
    results
        .iter()
        .find(|r| {
            r.get("definition").map(scalar).as_deref() == Some(definition)
                && r.get("case").map(scalar).as_deref() == Some(case)
        })
        .and_then(|r| r.get("result").map(scalar))
        .unwrap_or_else(|| panic!("no result {definition}/{case} in {results:#?}"))
}

fn qemu_lab() -> Option<PathBuf> {
    let lab = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/qemu-lab"));
    let needed = [
        "vmlinuz",
        "initramfs.cpio.gz",
        "nfsrootfs.tar.gz",
        "bin/qemu-system-x86_64",
    ];
    if needed.iter().all(|f| lab.join(f).exists()) {
        return Some(lab.canonicalize().unwrap());
    }
    eprintln!(
        "skipping: no NFS root images in {0} (build them with scripts/qemu-images.sh {0})",
        lab.display()
    );
    None
}

fn qemu_nfs(templates: Templates, id: &str) {
    let Some(lab) = qemu_lab() else { return };
    let search = match templates {
        Templates::Ours => workspace().join("share/device-types"),
        Templates::Lavas => match corpus::device_types("qemu.jinja2") {
            Some(dir) => dir,
            None => return,
        },
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some(_server) = NfsServer::start(&[tmp.path()]) else {
        return;
    };
    // LAVA's template says ttyAMA0 unless told
    let dictionary = "{% extends 'qemu.jinja2' %}\n{% set no_kvm = true %}\n\
                      {% set memory = 256 %}\n{% set console_device = 'ttyS0' %}\n";
    let context = yaml::load("{arch: amd64, extra_options: ['-no-reboot']}").unwrap();
    let device = TemplateSet::new([search].iter())
        .render_str(
            "qemu-nfs-test.jinja2",
            dictionary,
            context.as_mapping().unwrap(),
        )
        .unwrap()
        .replace(
            "qemu-system-x86_64",
            &lab.join("bin/qemu-system-x86_64").display().to_string(),
        );
    assert!(device.contains("qemu-nfs"), "{device}");
    let (memory, written) = run(
        id,
        &nfs_server::qemu_job(&lab),
        &device,
        "dispatcher_ip: 10.0.2.2\n",
        tmp.path(),
    );
    for (case, expected) in [
        ("root-is-nfs", "pass"),
        ("overlay-in-root", "pass"),
        ("written-back", "pass"),
        ("must-fail", "fail"),
    ] {
        assert_eq!(result_of(&memory, "0_nfs", case), expected, "{case}");
    }
    assert_eq!(
        written.as_deref(),
        Some("from-the-guest\n"),
        "the guest's file is in the worker's NFS root"
    );
    let log: Vec<String> = memory.records().iter().map(|r| r.to_line()).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("Boot command:") && l.contains("root=/dev/nfs")),
        "the kernel is told to mount its root over NFS"
    );
}

#[test]
fn qemu_nfs_root_with_our_template() {
    qemu_nfs(Templates::Ours, "4601");
}

#[test]
fn qemu_nfs_root_with_lavas_own_template() {
    qemu_nfs(Templates::Lavas, "4602");
}

/// A job on the iPXE bench board with its root at `root`.
fn ipxe_nfs(templates: Templates, id: &str, root: impl Fn(&Path) -> Option<Root>) {
    let search = match templates {
        Templates::Ours => workspace().join("share/device-types"),
        Templates::Lavas => match corpus::device_types("x86.jinja2") {
            Some(dir) => dir,
            None => return,
        },
    };
    let Some(lab) = bench_board::lab(Bench::Ipxe) else {
        return;
    };
    if !lab.join("nfsrootfs.tar.gz").exists() {
        eprintln!("skipping: no nfsrootfs.tar.gz in {}", lab.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let persistent = tempfile::tempdir().unwrap();
    let Some(root) = root(persistent.path()) else {
        return;
    };
    let Some(_server) = NfsServer::start(&[tmp.path(), persistent.path()]) else {
        return;
    };
    let tftp = tempfile::tempdir().unwrap();
    let board = Board::new(
        &lab,
        Bench::Ipxe,
        free_port(),
        free_port(),
        tftp.path(),
        &format!("test-ipxe-nfs-{id}-{}", std::process::id()),
    )
    .open_network();
    assert!(board.run("start"), "the board did not start");
    let device = TemplateSet::new([search].iter())
        .render_str(
            "bench-test.jinja2",
            &board.dictionary_for(templates),
            &Mapping::new(),
        )
        .unwrap();
    let files = lava_pipeline::slave::FileServer::start("127.0.0.1:0", tmp.path()).unwrap();
    files.allow(id);
    let port = files.url().rsplit(':').next().unwrap().to_string();
    let dispatcher = format!(
        "{}tmp_url: http://10.0.2.2:{port}/tmp\n",
        bench_board::dispatcher(tftp.path())
    );
    let definition = bench_board::job_with_root(
        &lab,
        Bench::Ipxe,
        &format!("ipxe nfs {id}"),
        Bench::Ipxe.device_type(templates),
        &root,
    );
    let (memory, written) = run(id, &definition, &device, &dispatcher, tmp.path());
    for (case, expected) in [
        ("kernel", "pass"),
        ("root-is-nfs", "pass"),
        ("written-back", "pass"),
        ("must-fail", "fail"),
    ] {
        assert_eq!(result_of(&memory, "0_board", case), expected, "{case}");
    }
    let written = match root {
        Root::PersistentNfs(_) => {
            std::fs::read_to_string(persistent.path().join("root/written-by-guest")).ok()
        }
        _ => written,
    };
    assert_eq!(
        written.as_deref(),
        Some("from-the-guest\n"),
        "the guest's file is in the NFS root"
    );
}

#[test]
fn tftp_nfsrootfs_on_the_ipxe_board() {
    ipxe_nfs(Templates::Ours, "4611", |_| Some(Root::Nfs));
}

#[test]
fn tftp_nfsrootfs_on_the_ipxe_board_with_lavas_x86_device_type() {
    ipxe_nfs(Templates::Lavas, "4612", |_| Some(Root::Nfs));
}

/// The lab's root file system, unpacked once into a directory the server
/// exports, is booted as `persistent_nfs` at the machine's address.
#[test]
fn persistent_nfs_on_the_ipxe_board() {
    ipxe_nfs(Templates::Ours, "4613", |dir| {
        let lab = bench_board::lab(Bench::Ipxe)?;
        let Some(address) = NfsServer::host_address() else {
            eprintln!("skipping: this machine has no address besides loopback");
            return None;
        };
        let data = std::fs::File::open(lab.join("nfsrootfs.tar.gz")).ok()?;
        lava_pipeline::unstable::archive::extract_rootfs(data, dir).unwrap();
        Some(Root::PersistentNfs(format!("{address}:{}", dir.display())))
    });
}

/// A guest on a restricted user network cannot reach the NFS server: the
/// job is refused at validation, before QEMU starts.
#[test]
fn qemu_nfs_on_a_restricted_network_is_refused() {
    let Some(lab) = qemu_lab() else { return };
    let dictionary =
        "{% extends 'qemu.jinja2' %}\n{% set no_kvm = true %}\n{% set net_restrict = true %}\n";
    let device = TemplateSet::new([workspace().join("share/device-types")].iter())
        .render_str("qemu-nfs-test.jinja2", dictionary, &Mapping::new())
        .unwrap()
        .replace(
            "qemu-system-x86_64",
            &lab.join("bin/qemu-system-x86_64").display().to_string(),
        );
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new("4621", &nfs_server::qemu_job(&lab), &device);
    inputs.tmp_dir = tmp.path().to_path_buf();
    inputs.dispatcher = Some("dispatcher_ip: 10.0.2.2\n".into());
    let (logger, _memory) = Logger::memory("4621");
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let err = job.validate(&logger, &cancel).unwrap_err();
    assert!(err.message.contains("restrict=on"), "{err:?}");
}
