//! A real QEMU job (TCG): Debian's cloud kernel and a busybox initramfs
//! built by `scripts/qemu-images.sh`, booted by the `qemu` boot method,
//! logged in, and an inline lava-test-shell definition with passing and
//! failing cases and a measurement — once with the device configuration
//! rendered from our `share/device-types/qemu.jinja2`, once with LAVA's
//! own `qemu.jinja2` (an admin keeps their templates).
//!
//! The images are looked for in `$LAVA_QEMU_LAB`, else
//! `<workspace>/target/qemu-lab`; `.ci/run` builds them. Without them the
//! tests say so and skip.

#[path = "support/corpus.rs"]
mod corpus;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lava_devices::TemplateSet;
use lava_pipeline::CancelToken;
use lava_pipeline::Registry;
use lava_pipeline::{scalar, Job, JobInputs};
use lava_pipeline::{Logger, MemoryLog};
use lava_proto::yaml::{self, Mapping};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lab() -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/qemu-lab"));
    let ready = ["vmlinuz", "initramfs.cpio.gz", "bin/qemu-system-x86_64"]
        .iter()
        .all(|f| dir.join(f).exists());
    if ready {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no QEMU images in {} (build them with scripts/qemu-images.sh {})",
            dir.display(),
            dir.display()
        );
        None
    }
}

/// The device configuration, with the lab's QEMU in place of the
/// `qemu-system-x86_64` the template names.
fn render(search: &[PathBuf], dictionary: &str, context: &str, lab: &Path) -> String {
    let templates = TemplateSet::new(search.iter());
    let context = yaml::load(context).unwrap();
    let text = templates
        .render_str(
            "qemu-test.jinja2",
            dictionary,
            context.as_mapping().unwrap(),
        )
        .unwrap();
    let qemu = lab.join("bin/qemu-system-x86_64");
    text.replace("qemu-system-x86_64", &qemu.display().to_string())
}

fn job(lab: &Path) -> String {
    format!(
        r#"job_name: qemu smoke
timeouts: {{job: {{minutes: 6}}}}
visibility: public
context: {{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}}
actions:
- deploy:
    to: tmpfs
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
    method: qemu
    media: tmpfs
    timeout: {{minutes: 3}}
    prompts: ['root@lava:']
    auto_login: {{login_prompt: 'login:', username: root, password_prompt: 'Password:', password: lava}}
- test:
    timeout: {{minutes: 3}}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata: {{format: Lava-Test Test Definition 1.0, name: smoke, description: QEMU smoke}}
        run:
          steps:
          - lava-test-case kernel --shell uname -r
          - lava-test-case mounted --shell 'grep -q /lava- /proc/mounts'
          - lava-test-case must-fail --shell test -e /no/such/file
          - lava-test-case boot-speed --result pass --measurement 5.25 --units seconds
"#,
        lab = lab.display()
    )
}

fn run(device: &str, lab: &Path) -> (MemoryLog, Result<(), lava_pipeline::Error>, Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new("4242", &job(lab), device);
    inputs.tmp_dir = tmp.path().to_path_buf();
    let (logger, memory) = Logger::memory("4242");
    let cancel = CancelToken::new().unwrap();
    let started = Instant::now();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    (memory, outcome, started.elapsed())
}

fn find<'a>(results: &'a [Mapping], definition: &str, case: &str) -> &'a Mapping {
    results
        .iter()
        .find(|r| {
            r.get("definition").map(scalar).as_deref() == Some(definition)
                && r.get("case").map(scalar).as_deref() == Some(case)
        })
        .unwrap_or_else(|| panic!("no result {definition}/{case} in {results:#?}"))
}

fn check(
    memory: &MemoryLog,
    outcome: Result<(), lava_pipeline::Error>,
    elapsed: Duration,
    label: &str,
) {
    if let Err(e) = outcome {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
        panic!("{label}: the QEMU job failed: {e:?}");
    }
    let results = memory.results();
    let get =
        |d: &str, c: &str, k: &str| find(&results, d, c).get(k).map(scalar).unwrap_or_default();
    assert_eq!(get("0_smoke", "kernel", "result"), "pass");
    assert_eq!(
        get("0_smoke", "mounted", "result"),
        "pass",
        "the overlay disk is mounted at /lava-4242"
    );
    assert_eq!(get("0_smoke", "must-fail", "result"), "fail");
    assert_eq!(get("0_smoke", "boot-speed", "measurement"), "5.25");
    assert_eq!(get("0_smoke", "boot-speed", "units"), "seconds");
    assert_eq!(get("lava", "0_smoke", "result"), "pass");
    assert_eq!(get("lava", "auto-login-action", "result"), "pass");
    assert_eq!(get("lava", "execute-qemu", "level"), "2.1.1");
    println!("{label}: QEMU job passed in {:.1} s", elapsed.as_secs_f64());
}

const DICTIONARY: &str = "{% extends 'qemu.jinja2' %}\n{% set no_kvm = true %}\n{% set netdevice = 'user' %}\n{% set memory = 256 %}\n{% set guestfs_size = 16 %}\n";

#[test]
fn qemu_job_with_our_template() {
    let Some(lab) = lab() else { return };
    let device = render(
        &[workspace().join("share/device-types")],
        DICTIONARY,
        "{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot'], net_restrict: true}",
        &lab,
    );
    let (memory, outcome, elapsed) = run(&device, &lab);
    check(&memory, outcome, elapsed, "share/device-types/qemu.jinja2");
}

#[test]
fn qemu_job_with_lavas_own_template() {
    let Some(lab) = lab() else { return };
    let Some(types) = corpus::device_types("qemu.jinja2") else {
        return;
    };
    let device = render(
        &[types],
        DICTIONARY,
        "{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}",
        &lab,
    );
    assert!(
        !device.contains("-enable-kvm"),
        "no_kvm must keep KVM off:\n{device}"
    );
    let (memory, outcome, elapsed) = run(&device, &lab);
    check(&memory, outcome, elapsed, "LAVA's qemu.jinja2");
}
