//! The bench boards, for real: QEMU running Debian's U-Boot, or a PC whose
//! NIC boots iPXE (and, on the grub board, GRUB after it), as
//! `scripts/bench-board.sh` runs them: the serial line a telnet server,
//! power through the QEMU monitor, QEMU's built-in TFTP serving the
//! dispatcher's TFTP root. lava-run's pipeline deploys the kernel (device
//! tree) and ramdisk with `to: tftp` (the overlay appended to the ramdisk,
//! which on arm64 gets a U-Boot header), boots them through the board's
//! real firmware (`method: u-boot`, `ipxe`, `grub`), logs in and runs a
//! lava-test-shell definition; then, on the U-Boot and iPXE boards, a
//! second job runs on the same board, power-cycled in between. The arm64
//! board boots with `booti` and a device tree, the x86_64 one with `zboot`
//! and none. The iPXE and GRUB jobs also run with LAVA's own device types
//! (`x86.jinja2`, `x86-pentium4.jinja2`) from the corpus. Without the
//! boards' images (see `support/bench_board.rs`) or the corpus, those tests
//! say so and skip.
//!
//! Scripted bootloaders on a pty cover what the real ones cannot show:
//! error retries, NFS roots, validation.

#[path = "support/bench_board.rs"]
mod bench_board;
#[path = "support/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::time::Instant;

use bench_board::{workspace, Bench, Board, Templates};
use lava_devices::TemplateSet;
use lava_pipeline::CancelToken;
use lava_pipeline::Registry;
use lava_pipeline::{scalar, Job, JobInputs};
use lava_pipeline::{Logger, MemoryLog};
use lava_proto::yaml::Mapping;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(
    id: &str,
    arch: Bench,
    templates: Templates,
    device: &str,
    dispatcher: &str,
    lab: &Path,
) -> (MemoryLog, Result<(), String>) {
    let tmp = tempfile::tempdir().unwrap();
    let definition = bench_board::job_on(
        lab,
        arch,
        &format!("{} board {id}", arch.name()),
        arch.device_type(templates),
    );
    let mut inputs = JobInputs::new(id, &definition, device);
    inputs.tmp_dir = tmp.path().to_path_buf();
    inputs.dispatcher = Some(dispatcher.to_string());
    let (logger, memory) = Logger::memory(id);
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    (memory, outcome.map_err(|e| format!("{e:?}")))
}

fn result<'a>(results: &'a [Mapping], definition: &str, case: &str) -> Option<&'a Mapping> {
    results.iter().find(|r| {
        r.get("definition").map(scalar).as_deref() == Some(definition)
            && r.get("case").map(scalar).as_deref() == Some(case)
    })
}

/// Jobs one after the other on one bench board of `arch`, driven by
/// `templates`' device type, power-cycled in between; returns each job's
/// log.
fn jobs_on_the_board(arch: Bench, templates: Templates, ids: &[&str]) -> Option<Vec<String>> {
    let search = match templates {
        Templates::Ours => workspace().join("share/device-types"),
        Templates::Lavas => corpus::device_types("x86.jinja2")?,
    };
    let lab = bench_board::lab(arch)?;
    let tftp = tempfile::tempdir().unwrap();
    let board = Board::new(
        &lab,
        arch,
        free_port(),
        free_port(),
        tftp.path(),
        &format!("test-{}-{}-{}", arch.name(), ids[0], std::process::id()),
    );
    // the board exists, unpowered, before the first job (as on a bench)
    assert!(board.run("start"), "the board did not start");
    let device = TemplateSet::new([search].iter())
        .render_str(
            "bench-test.jinja2",
            &board.dictionary_for(templates),
            &Mapping::new(),
        )
        .unwrap();
    let dispatcher = bench_board::dispatcher(tftp.path());

    let mut logs = Vec::new();
    for id in ids {
        let started = Instant::now();
        let (memory, outcome) = run(id, arch, templates, &device, &dispatcher, &lab);
        if let Err(e) = &outcome {
            for r in memory.records() {
                eprintln!("{}", r.to_line());
            }
            panic!("job {id} failed: {e}\ndevice:\n{device}");
        }
        let results = memory.results();
        let get = |d: &str, c: &str| {
            result(&results, d, c)
                .and_then(|r| r.get("result"))
                .map(scalar)
                .unwrap_or_else(|| panic!("no result {d}/{c} in {results:#?}"))
        };
        assert_eq!(get("0_board", "kernel"), "pass");
        assert_eq!(get("0_board", "arch"), "pass");
        assert_eq!(get("0_board", "overlay-in-ramdisk"), "pass");
        assert_eq!(get("0_board", "must-fail"), "fail");
        assert_eq!(get("lava", "0_board"), "pass");
        if arch.method() == "u-boot" {
            // the load addresses are its results
            assert_eq!(get("lava", "bootloader-overlay"), "pass");
        }
        assert_eq!(get("lava", "pdu-reboot"), "pass");
        assert_eq!(get("lava", "auto-login-action"), "pass");
        let log: String = memory
            .records()
            .iter()
            .map(|r| r.to_line())
            .collect::<Vec<_>>()
            .join("\n");
        if std::env::var_os("LAVA_TEST_SHOW_LOG").is_some() {
            eprintln!("{log}");
        }
        // the job's TFTP directory is gone after the job (the grub board's
        // own bootloader stays)
        let left: Vec<_> = std::fs::read_dir(tftp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| !(arch == Bench::Grub && name == "grub"))
            .collect();
        assert!(left.is_empty(), "TFTP files left behind: {left:?}");
        println!(
            "{} board, {templates:?} device type, job {id}: tftp + {} + login + test in {:.1} s",
            arch.name(),
            arch.method(),
            started.elapsed().as_secs_f64()
        );
        logs.push(log);
    }
    drop(board);
    Some(logs)
}

#[test]
fn two_jobs_on_the_arm64_board_boot_kernel_dtb_and_ramdisk_through_uboot() {
    let Some(lab) = bench_board::lab(Bench::Arm64) else {
        return;
    };
    let dtb_size = std::fs::metadata(lab.join("arm64/virt.dtb")).unwrap().len();
    let Some(logs) = jobs_on_the_board(Bench::Arm64, Templates::Ours, &["4311", "4312"]) else {
        return;
    };
    for (id, log) in ["4311", "4312"].iter().zip(&logs) {
        assert!(log.contains("Starting kernel"), "U-Boot started the kernel");
        assert!(log.contains("- setenv serverip 10.0.2.2"), "{log}");
        // kernel, device tree and the re-wrapped ramdisk (U-Boot header
        // added in Rust) each fetched by TFTP from this job's directory
        for (addr, dir) in [
            ("0x40400000", "kernel/Image"),
            ("0x48000000", "dtb/virt.dtb"),
            ("0x44000000", "ramdisk/ramdisk.cpio.gz.uboot"),
        ] {
            let wanted = format!("- tftp {addr} {id}/tftp-deploy-");
            let line = log
                .lines()
                .find(|l| l.contains(&wanted) && l.contains(dir))
                .unwrap_or_else(|| panic!("no '{wanted}...{dir}' in\n{log}"));
            let command = &line[line.find("- tftp").unwrap()..];
            assert!(!command.contains('{'), "unsubstituted: {line}");
        }
        // U-Boot read the whole device tree, and booted with it
        assert!(
            log.contains(&format!("Bytes transferred = {dtb_size} ")),
            "the device tree ({dtb_size} bytes) did not go through TFTP:\n{log}"
        );
        assert!(
            log.contains("- booti 0x40400000 0x44000000 0x48000000"),
            "{log}"
        );
        assert!(log.contains("Loading Device Tree to"), "{log}");
    }
}

#[test]
fn two_jobs_on_the_x86_64_board_boot_kernel_and_ramdisk_through_uboot() {
    let Some(logs) = jobs_on_the_board(Bench::X86_64, Templates::Ours, &["4301", "4302"]) else {
        return;
    };
    for (id, log) in ["4301", "4302"].iter().zip(&logs) {
        assert!(log.contains("Starting kernel"), "U-Boot started the kernel");
        assert!(log.contains("- setenv serverip 10.0.2.2"), "{log}");
        // the substituted commands: TFTP-relative paths of this job, the
        // x86 board's load addresses
        assert!(
            log.contains(&format!("- tftp 0x1000000 {id}/tftp-deploy-")),
            "{log}"
        );
        assert!(
            log.contains("- zboot 0x1000000 0 0x8000000 ${initrd_size}"),
            "{log}"
        );
    }
}

/// The iPXE board: Ctrl-B at iPXE's prompt through SeaBIOS's serial
/// console, `dhcp`, `kernel` and `initrd` from QEMU's TFTP, `boot`; twice,
/// power-cycled in between.
#[test]
fn two_jobs_on_the_ipxe_board_boot_kernel_and_ramdisk_through_ipxe() {
    let Some(logs) = jobs_on_the_board(Bench::Ipxe, Templates::Ours, &["4321", "4322"]) else {
        return;
    };
    for (id, log) in ["4321", "4322"].iter().zip(&logs) {
        assert!(log.contains("bootloader-action"), "{log}");
        assert!(log.contains("- dhcp net0"), "{log}");
        let kernel = format!("- kernel tftp://10.0.2.2/{id}/tftp-deploy-");
        let line = log
            .lines()
            .find(|l| l.contains(&kernel))
            .unwrap_or_else(|| panic!("no '{kernel}' in\n{log}"));
        assert!(
            line.contains(
                "/kernel/vmlinuz console=ttyS0,115200 ip=dhcp lava_mac=52:54:00:12:34:56"
            ),
            "{line}"
        );
        assert!(log.contains(&format!("- initrd tftp://10.0.2.2/{id}/tftp-deploy-")));
        // iPXE itself fetched the files
        assert!(log.contains("vmlinuz... ok"), "{log}");
    }
}

/// LAVA's own `x86.jinja2` drives the same board unchanged (the
/// dictionary only names the console, the power commands and a typing
/// speed).
#[test]
fn an_ipxe_job_with_lavas_x86_device_type() {
    let Some(logs) = jobs_on_the_board(Bench::Ipxe, Templates::Lavas, &["4331"]) else {
        return;
    };
    let log = &logs[0];
    // x86.jinja2's ramdisk commands, substituted
    assert!(
        log.contains("- set console console=ttyS0,115200n8 lava_mac=00:90:05:af:00:7d"),
        "{log}"
    );
    assert!(
        log.contains("- kernel tftp://10.0.2.2/4331/tftp-deploy-"),
        "{log}"
    );
    assert!(log.contains("${extraargs} ${console}"), "{log}");
}

/// The GRUB board: iPXE runs GRUB by DHCP + TFTP; its menu is interrupted
/// with `c` and `net_bootp`, `linux`, `initrd`, `boot` are typed at
/// `grub>`.
#[test]
fn a_job_on_the_grub_board_boots_kernel_and_ramdisk_through_grub() {
    let Some(logs) = jobs_on_the_board(Bench::Grub, Templates::Ours, &["4341"]) else {
        return;
    };
    let log = &logs[0];
    assert!(log.contains("grub-main-action"), "{log}");
    assert!(log.contains("GNU GRUB"), "{log}");
    assert!(log.contains("- net_bootp"), "{log}");
    assert!(
        log.contains("- linux (tftp,10.0.2.2)/4341/tftp-deploy-"),
        "{log}"
    );
    assert!(
        log.contains("- initrd (tftp,10.0.2.2)/4341/tftp-deploy-"),
        "{log}"
    );
}

/// LAVA's own GRUB device type (`x86-pentium4.jinja2`, which extends
/// `base-grub.jinja2`) drives the same board unchanged.
#[test]
fn a_grub_job_with_lavas_grub_device_type() {
    let Some(logs) = jobs_on_the_board(Bench::Grub, Templates::Lavas, &["4351"]) else {
        return;
    };
    let log = &logs[0];
    // base-grub.jinja2's ramdisk commands, with its `clear`s and insmods
    assert!(log.contains("- insmod tftp"), "{log}");
    assert!(
        log.contains("- linux (tftp,10.0.2.2)/4351/tftp-deploy-"),
        "{log}"
    );
}

/// A pretend U-Boot on a pty: it waits for power (a line on a FIFO, which
/// the device's `hard_reset` command writes), counts down to autoboot,
/// then reads commands at `=> `, logs them, checks that the files named in
/// `tftp` commands exist under the TFTP root (a `.uboot` ramdisk must
/// carry a U-Boot header) and "boots" on booti/bootz/zboot/bootm into a
/// shell. With `FAIL_ONCE` set, its first `tftp` answers U-Boot's
/// "File not found" and the board wedges until the next power cycle.
const PRETEND_UBOOT: &str = r#"#!/bin/bash
cd "$BOARD_HOME" || exit 1
session() {
    echo "U-Boot 2023.01 (pretend board)"
    printf 'Hit any key to stop autoboot:  2 '
    if ! IFS= read -r -n 1 -t 20 _; then echo; echo "Starting kernel ..."; return 1; fi
    echo
    while true; do
        printf '=> '
        IFS= read -r line || exit 0
        printf '%s\n' "$line"      # U-Boot echoes what it reads
        echo "$line" >> "$BOARD_HOME/commands"
        set -- $line
        case $1 in
            tftp)
                if [ -n "$FAIL_ONCE" ] && [ ! -e "$BOARD_HOME/failed" ]; then
                    : > "$BOARD_HOME/failed"
                    echo "TFTP error: 'File not found' (1)"; echo "Not retrying..."
                    return 1    # a wedged board: only a power cycle helps
                fi
                f=$TFTP_ROOT/$3
                if [ ! -f "$f" ]; then echo "TFTP error: 'File not found' (1)"; continue; fi
                case $f in *.uboot)
                    [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 27051956 ] \
                        || { echo "Wrong Ramdisk Image Format"; continue; } ;;
                esac
                echo "Bytes transferred = $(stat -c %s "$f")" ;;
            setenv)
                case $line in *nfsroot=*)
                    root=${line#*nfsroot=}; root=${root#*:}; root=${root%%,*}
                    (cd "$root" && find . | sort) > "$BOARD_HOME/nfsroot" ;;
                esac ;;
            booti|bootz|bootm|zboot) echo "Starting kernel ..."; return 0 ;;
        esac
    done
}
while true; do
    IFS= read -r _ < "$BOARD_HOME/power" || exit 0
    session && break
done
echo "[    0.000000] Linux version 6.1.0 (pretend) #1 SMP"
PS1='root@board:~# ' exec sh -i
"#;

/// A pretend U-Boot board in a temporary directory: its home (where it
/// records the commands it was sent), the TFTP root, a folder of files to
/// deploy (`Image`, `virt.dtb`) and its rendered device configuration.
/// `env` goes into the connection command (e.g. `FAIL_ONCE=1 `).
struct PretendBoard {
    dir: tempfile::TempDir,
    home: PathBuf,
    tftp: PathBuf,
    files: PathBuf,
    device: String,
}

impl PretendBoard {
    fn new(env: &str) -> PretendBoard {
        Self::with(
            PRETEND_UBOOT,
            "{% extends 'qemu-uboot-bench.jinja2' %}\n",
            env,
        )
    }

    /// A pretend board running `script`, driven by a device whose
    /// dictionary starts with `extends`.
    fn with(script: &str, extends: &str, env: &str) -> PretendBoard {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let tftp = dir.path().join("tftp");
        let files = dir.path().join("files");
        for d in [&home, &tftp, &files] {
            std::fs::create_dir_all(d).unwrap();
        }
        let fifo = home.join("power");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let board = dir.path().join("pretend-board.sh");
        std::fs::write(&board, script).unwrap();
        let power = dir.path().join("power.sh");
        std::fs::write(&power, "#!/bin/sh\necho on > \"$1\"\n").unwrap();
        std::fs::write(files.join("Image"), b"pretend kernel").unwrap();
        std::fs::write(files.join("virt.dtb"), b"pretend dtb").unwrap();
        let dictionary = format!(
            "{extends}{{% set connection_command = 'env BOARD_HOME={home} TFTP_ROOT={tftp} {env}bash {board}' %}}\n{{% set hard_reset_command = 'sh {power} {fifo}' %}}\n{{% set boot_character_delay = 0 %}}\n",
            home = home.display(),
            tftp = tftp.display(),
            board = board.display(),
            power = power.display(),
            fifo = fifo.display(),
        );
        let templates = TemplateSet::new([workspace().join("share/device-types")].iter());
        let device = templates
            .render_str("pretend.jinja2", &dictionary, &Mapping::new())
            .unwrap();
        PretendBoard {
            dir,
            home,
            tftp,
            files,
            device,
        }
    }
}

/// That the pipeline `tree` has each (level, action name) of `expected`.
fn assert_tree(tree: &[(String, String)], expected: &[(&str, &str)]) {
    for (level, name) in expected {
        assert!(
            tree.iter().any(|(l, n)| l == level && n == name),
            "{level} {name} not in {tree:?}"
        );
    }
}

/// Run `job` (id `id`) on a pretend board's `device`, its TFTP root
/// `tftp`, the dispatcher at 192.0.2.10; its log and pipeline tree. A
/// failed job panics with its log.
fn run_pretend(
    id: &str,
    job: &str,
    device: &str,
    dir: &Path,
    tftp: &Path,
) -> (String, Vec<(String, String)>) {
    let mut inputs = JobInputs::new(id, job, device);
    inputs.tmp_dir = dir.join("tmp");
    inputs.dispatcher = Some(format!(
        "dispatcher_ip: 192.0.2.10\ntftp_server: external\ntftp_root: {}\n",
        tftp.display()
    ));
    let (logger, memory) = Logger::memory(id);
    let cancel = CancelToken::new().unwrap();
    let mut parsed = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let tree = parsed.tree();
    let outcome = parsed
        .validate(&logger, &cancel)
        .and_then(|()| parsed.run(&logger, &cancel));
    parsed.cleanup(&logger, &cancel);
    let log: Vec<String> = memory.records().iter().map(|r| r.to_line()).collect();
    let log = log.join("\n");
    if let Err(e) = outcome {
        panic!("the job failed: {e:?}\n{log}");
    }
    (log, tree)
}

#[test]
fn pretend_uboot_sees_the_substituted_commands_and_an_error_is_retried() {
    let PretendBoard {
        dir,
        home,
        tftp,
        files,
        device,
    } = PretendBoard::new("FAIL_ONCE=1 ");
    // a ramdisk as a board's build publishes it: gzipped cpio with a
    // U-Boot header (made by our own wrapper)
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"070701 pretend cpio").unwrap();
    let wrapped = lava_pipeline::unstable::actions::deploy::tftp::uboot_wrap(
        &gz.finish().unwrap(),
        "arm64",
        "ramdisk",
        0,
    )
    .unwrap();
    std::fs::write(files.join("initramfs.cpio.gz.uboot"), wrapped).unwrap();

    let job = format!(
        r#"job_name: pretend u-boot
timeouts: {{job: {{minutes: 2}}}}
visibility: public
actions:
- deploy:
    to: tftp
    os: oe
    kernel: {{url: 'file://{files}/Image', type: image}}
    dtb: {{url: 'file://{files}/virt.dtb'}}
    ramdisk: {{url: 'file://{files}/initramfs.cpio.gz.uboot', header: u-boot, compression: gz}}
- boot:
    method: u-boot
    commands: ramdisk
    failure_retry: 2
    timeout: {{seconds: 40}}
    prompts: ['root@board:~# ']
"#,
        files = files.display()
    );
    let (log, tree) = run_pretend("55", &job, &device, dir.path(), &tftp);
    assert_tree(
        &tree,
        &[
            ("1", "tftp-deploy"),
            ("1.4", "prepare-tftp-overlay"),
            ("2", "uboot-action"),
            ("2.1", "bootloader-overlay"),
            ("2.2", "connect-device"),
            ("2.3", "uboot-retry"),
            ("2.3.2", "bootloader-interrupt"),
            ("2.3.3", "bootloader-commands"),
        ],
    );
    assert!(
        log.contains("matched a bootloader error message"),
        "the first attempt met U-Boot's error: {log}"
    );
    let commands = std::fs::read_to_string(home.join("commands")).unwrap();
    let lines: Vec<&str> = commands.lines().collect();
    // the first attempt stopped at its failed tftp; the second went through
    let first_tftp = lines.iter().position(|l| l.starts_with("tftp")).unwrap();
    let second: Vec<&str> = lines[first_tftp + 1..]
        .iter()
        .copied()
        .skip_while(|l| !l.starts_with("setenv autoload"))
        .collect();
    assert_eq!(
        second[..3],
        ["setenv autoload no", "dhcp", "setenv serverip 192.0.2.10"]
    );
    let kernel = second[3];
    assert!(
        kernel.starts_with("tftp 0x40400000 55/tftp-deploy-") && kernel.ends_with("/kernel/Image"),
        "{kernel}"
    );
    assert!(second[4].starts_with("tftp 0x44000000 55/tftp-deploy-"));
    assert!(
        second[4].ends_with("/ramdisk/ramdisk.cpio.gz.uboot"),
        "the ramdisk was unwrapped, recompressed and wrapped again: {}",
        second[4]
    );
    assert_eq!(second[5], "setenv initrd_size ${filesize}");
    assert!(
        second[6].starts_with("tftp 0x48000000 55/tftp-deploy-")
            && second[6].ends_with("/dtb/virt.dtb")
    );
    assert_eq!(
        *second.last().unwrap(),
        "booti 0x40400000 0x44000000 0x48000000"
    );
    assert!(log.contains("Linux version 6.1.0 (pretend)"));
    // the job's TFTP files are removed when it ends
    assert_eq!(std::fs::read_dir(&tftp).unwrap().count(), 0);
}

/// Validation: the errors an admin or a job writer meets first.
#[test]
fn tftp_and_uboot_blocks_are_validated() {
    let templates = TemplateSet::new([workspace().join("share/device-types")].iter());
    let device = templates
        .render_str(
            "v.jinja2",
            "{% extends 'qemu-uboot-bench.jinja2' %}\n{% set connection_command = 'cat' %}\n{% set hard_reset_command = 'true' %}\n",
            &Mapping::new(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let validate = |deploy: &str, commands: &str, dispatcher: &str| -> String {
        let job = format!(
            "job_name: v\ntimeouts: {{job: {{minutes: 1}}}}\nvisibility: public\nactions:\n- deploy:\n    to: tftp\n{deploy}- boot:\n    method: u-boot\n    commands: {commands}\n"
        );
        let mut inputs = JobInputs::new("9", &job, &device);
        inputs.tmp_dir = dir.path().join("tmp");
        inputs.dispatcher = Some(dispatcher.to_string());
        let (logger, _memory) = Logger::memory("9");
        let cancel = CancelToken::new().unwrap();
        let mut parsed = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
        match parsed.validate(&logger, &cancel) {
            Ok(()) => String::new(),
            Err(e) => e.message,
        }
    };
    let root = format!(
        "tftp_server: external\ntftp_root: {}\n",
        dir.path().display()
    );
    let image = dir.path().join("Image");
    std::fs::write(&image, b"kernel").unwrap();
    let kernel = format!(
        "    kernel: {{url: 'file://{}', type: image}}\n",
        image.display()
    );
    let kernel = kernel.as_str();
    assert_eq!(validate(kernel, "ramdisk", &root), "");
    let dtb = format!("    dtb: {{url: 'file://{}'}}\n", image.display());
    let e = validate(&dtb, "ramdisk", &root);
    assert!(e.contains("tftp-deploy needs a kernel to deploy"), "{e}");
    let e = validate(kernel, "nosuchset", &root);
    assert!(
        e.contains("Command 'nosuchset' not found in supported methods"),
        "{e}"
    );
    let e = validate(
        &kernel.replace("type: image", "type: booti"),
        "ramdisk",
        &root,
    );
    assert!(e.contains("deprecated"), "{e}");
    // without a TFTP server on the worker the job cannot run
    let e = validate(
        kernel,
        "ramdisk",
        &root.replace("external", "no-such-tftpd"),
    );
    assert!(e.contains("No TFTP server: 'no-such-tftpd'"), "{e}");
    // persistent_nfs: an address that is not server:/path is refused; a
    // good one validates without any tool on the worker (the server is
    // asked when the deploy runs: tests/nfs.rs)
    let e = validate(
        &format!("{kernel}    persistent_nfs: {{address: 'nfs.lab/srv/root'}}\n"),
        "nfs",
        &root,
    );
    assert!(
        e.contains("Unrecognised NFS URL: 'nfs.lab/srv/root'"),
        "{e}"
    );
    let e = validate(
        &format!("{kernel}    persistent_nfs: {{address: 'nfs.lab:/srv/root'}}\n"),
        "nfs",
        &root,
    );
    assert_eq!(e, "");
}

fn tarball(path: &Path, files: &[(&str, &[u8])]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// `commands: nfs`: the NFS root is unpacked on the worker, the modules
/// go into it, and `{NFSROOTFS}`/`{NFS_SERVER_IP}` reach the bootargs.
#[test]
fn pretend_uboot_boots_an_nfs_root_with_modules() {
    let PretendBoard {
        dir,
        home,
        tftp,
        files,
        device,
    } = PretendBoard::new("");
    tarball(
        &files.join("rootfs.tar.gz"),
        &[("etc/hostname", b"board\n"), ("bin/sh", b"#!pretend\n")],
    );
    tarball(
        &files.join("modules.tar.gz"),
        &[("lib/modules/6.1.0/kernel/pretend.ko", b"module")],
    );
    let job = format!(
        r#"job_name: pretend u-boot nfs
timeouts: {{job: {{minutes: 1}}}}
visibility: public
actions:
- deploy:
    to: tftp
    os: oe
    kernel: {{url: 'file://{files}/Image', type: image}}
    dtb: {{url: 'file://{files}/virt.dtb'}}
    nfsrootfs: {{url: 'file://{files}/rootfs.tar.gz'}}
    modules: {{url: 'file://{files}/modules.tar.gz'}}
- boot:
    method: u-boot
    commands: nfs
    timeout: {{seconds: 30}}
    prompts: ['root@board:~# ']
"#,
        files = files.display()
    );
    run_pretend("56", &job, &device, dir.path(), &tftp);
    let commands = std::fs::read_to_string(home.join("commands")).unwrap();
    let bootargs = commands
        .lines()
        .find(|l| l.contains("nfsroot="))
        .unwrap_or_else(|| panic!("no nfsroot in {commands}"));
    let tmp = dir.path().join("tmp").display().to_string();
    assert!(
        bootargs.contains(&format!("nfsroot=192.0.2.10:{tmp}/")),
        "{bootargs}"
    );
    for placeholder in [
        "{NFSROOTFS}",
        "{NFS_SERVER_IP}",
        "{RAMDISK",
        "{KERNEL",
        "{DTB",
    ] {
        assert!(
            !commands.contains(placeholder),
            "{placeholder} left in {commands}"
        );
    }
    // what the board's NFS mount would have shown
    let seen = std::fs::read_to_string(home.join("nfsroot")).unwrap();
    for path in [
        "./etc/hostname",
        "./bin/sh",
        "./lib/modules/6.1.0/kernel/pretend.ko",
    ] {
        assert!(seen.lines().any(|l| l == path), "{path} not in {seen}");
    }
    assert!(
        commands.contains("booti 0x40400000 - 0x48000000"),
        "{commands}"
    );
}

/// The example dispatcher configuration of `share/dispatchers/` says what
/// its comments say.
#[test]
fn the_example_dispatcher_configuration_is_read_as_documented() {
    use lava_pipeline::unstable::actions::deploy::tftp::{tftp_root, tftp_server};
    let text =
        std::fs::read_to_string(workspace().join("share/dispatchers/bench-worker.yaml")).unwrap();
    let value = lava_proto::yaml::load(&text).unwrap();
    let config = value.as_mapping().unwrap();
    assert_eq!(
        tftp_root(config, None).unwrap(),
        PathBuf::from("/var/lib/lava/dispatcher/tmp")
    );
    assert_eq!(tftp_server(config).unwrap(), None);
    assert_eq!(
        lava_pipeline::unstable::actions::boot::bootloader::dispatcher_ip(config).unwrap(),
        "10.0.2.2"
    );
}

/// A pretend iPXE on a pty: it waits for power, offers Ctrl-B, and only a
/// Ctrl-B (not any key) gets its `iPXE> ` prompt; it logs each command and
/// "boots" on `boot`. With `FAIL_ONCE` its first `dhcp` fails as iPXE's
/// does, and it wedges until the next power cycle.
const PRETEND_IPXE: &str = r#"#!/bin/bash
cd "$BOARD_HOME" || exit 1
session() {
    echo "iPXE 1.0.0 (pretend PC)"
    printf 'Press Ctrl-B for the iPXE command line...'
    IFS= read -r -n 1 -t 20 key || { echo; echo "No bootable device."; return 1; }
    [ "$key" = $'\x02' ] || { echo; echo "not Ctrl-B: $(printf %q "$key")"; return 1; }
    echo
    while true; do
        printf 'iPXE> '
        IFS= read -r line || exit 0
        printf '%s\n' "$line"
        echo "$line" >> "$BOARD_HOME/commands"
        case $line in
            dhcp*)
                if [ -n "$FAIL_ONCE" ] && [ ! -e "$BOARD_HOME/failed" ]; then
                    : > "$BOARD_HOME/failed"
                    echo "Configuring (net0 52:54:00:12:34:56)...... No configuration methods succeeded (http://ipxe.org/040ee1)"
                    return 1
                fi
                echo "Configuring (net0 52:54:00:12:34:56)...... ok" ;;
            boot) return 0 ;;
        esac
    done
}
while true; do
    IFS= read -r _ < "$BOARD_HOME/power" || exit 0
    session && break
done
echo "[    0.000000] Linux version 6.1.0 (pretend) #1 SMP"
PS1='root@pc:~# ' exec sh -i
"#;

/// iPXE's interrupt is Ctrl-B; its `dhcp` failure is one of its error
/// messages, which fails the attempt, and the retry power-cycles the PC and
/// goes through; the commands it saw are the device's `ramdisk` set with
/// the job's TFTP paths.
#[test]
fn pretend_ipxe_is_interrupted_with_ctrl_b_and_an_error_is_retried() {
    let PretendBoard {
        dir,
        home,
        tftp,
        files,
        device,
    } = PretendBoard::with(
        PRETEND_IPXE,
        "{% extends 'qemu-pc-bench.jinja2' %}\n",
        "FAIL_ONCE=1 ",
    );
    std::fs::write(files.join("vmlinuz"), b"pretend kernel").unwrap();
    std::fs::write(files.join("initrd.img"), b"pretend ramdisk").unwrap();
    let job = format!(
        r#"job_name: pretend ipxe
timeouts: {{job: {{minutes: 2}}}}
visibility: public
actions:
- deploy:
    to: tftp
    kernel: {{url: 'file://{files}/vmlinuz'}}
    ramdisk: {{url: 'file://{files}/initrd.img'}}
- boot:
    method: ipxe
    commands: ramdisk
    failure_retry: 2
    timeout: {{seconds: 40}}
    prompts: ['root@pc:~# ']
"#,
        files = files.display()
    );
    let (log, tree) = run_pretend("57", &job, &device, dir.path(), &tftp);
    assert_tree(
        &tree,
        &[
            ("2", "bootloader-action"),
            ("2.1", "bootloader-overlay"),
            ("2.2", "connect-device"),
            ("2.3", "bootloader-retry"),
            ("2.3.2", "bootloader-interrupt"),
            ("2.3.3", "bootloader-commands"),
        ],
    );
    assert!(
        log.contains("matched a bootloader error message: 'No configuration methods succeeded'"),
        "the first attempt met iPXE's error: {log}"
    );
    let commands = std::fs::read_to_string(home.join("commands")).unwrap();
    let lines: Vec<&str> = commands.lines().collect();
    // the failed dhcp, then a whole second attempt
    assert_eq!(lines[0], "dhcp net0");
    assert_eq!(lines[1], "dhcp net0");
    assert!(
        lines[2].starts_with("kernel tftp://192.0.2.10/57/tftp-deploy-")
            && lines[2].ends_with(
                "/kernel/vmlinuz console=ttyS0,115200 ip=dhcp lava_mac=52:54:00:12:34:56"
            ),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("initrd tftp://192.0.2.10/57/tftp-deploy-"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4..], ["boot"]);
    assert!(log.contains("Linux version 6.1.0 (pretend)"));
}
