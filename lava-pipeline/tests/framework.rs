//! The framework with actions and strategies registered from outside the
//! crate: level numbering (against docs/pipeline.md §13.2's tree), retries and
//! repeats, deadlines and the class of timeout errors, error classes of
//! the final result, description.yaml.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_devices::{DeviceConfig, TemplateSet};
use lava_pipeline::CancelToken;
use lava_pipeline::{About, Action, Block, Populate, RunContext};
use lava_pipeline::{Error, ErrorKind};
use lava_pipeline::{Family, Registry, Strategy};
use lava_pipeline::{Job, JobInfo, JobInputs};
use lava_pipeline::{Logger, MemoryLog};
use lava_proto::log::LogLevel;
use lava_proto::yaml::{self, Value};

const DEVICE: &str = "actions:\n  deploy: {methods: {image: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
                      timeouts: {actions: {}, connections: {}}\n";

/// Fails its first `failures` runs with `kind`, then sleeps `sleep`.
struct Flaky {
    runs: Arc<AtomicU32>,
    failures: u32,
    kind: ErrorKind,
    sleep: Duration,
}

const ABOUT_FLAKY_STEP: About = About::new("flaky-step", "fails a few times", "flaky");

impl Action for Flaky {
    fn about(&self) -> About {
        ABOUT_FLAKY_STEP
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            return Err(Error::new(self.kind, format!("attempt {n} broke")));
        }
        // a blocking wait that honours the deadline, as every action must
        let until = ctx.deadline.within(self.sleep);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        ctx.check()?;
        ctx.results.insert("runs", i64::from(n));
        Ok(())
    }
}

/// A retry action around one flaky step, with a nested container.
struct FlakyRetry {
    runs: Arc<AtomicU32>,
    failures: u32,
    kind: ErrorKind,
    sleep: Duration,
}

const ABOUT_FLAKY_RETRY: About = About::new("flaky-retry", "retry the flaky step", "flaky retry");

impl Action for FlakyRetry {
    fn about(&self) -> About {
        ABOUT_FLAKY_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(Container);
        p.add(Flaky {
            runs: self.runs.clone(),
            failures: self.failures,
            kind: self.kind,
            sleep: self.sleep,
        });
        Ok(())
    }
}

struct Container;

const ABOUT_CONTAINER: About = About::new("container", "holds a leaf", "container");

impl Action for Container {
    fn about(&self) -> About {
        ABOUT_CONTAINER
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(Leaf);
        Ok(())
    }
}

struct Leaf;

const ABOUT_LEAF: About = About::new("leaf", "does nothing", "leaf");

impl Action for Leaf {
    fn about(&self) -> About {
        ABOUT_LEAF
    }
}

struct FlakyStrategy {
    runs: Arc<AtomicU32>,
    failures: u32,
    kind: ErrorKind,
    sleep: Duration,
}

impl Strategy for FlakyStrategy {
    fn name(&self) -> &str {
        "flaky"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        match block.get_str("method") {
            Some("flaky") => Ok(()),
            _ => Err("'method' was not 'flaky'".into()),
        }
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(FlakyRetry {
            runs: self.runs.clone(),
            failures: self.failures,
            kind: self.kind,
            sleep: self.sleep,
        }))
    }
}

struct Outcome {
    result: Result<(), Error>,
    memory: MemoryLog,
    runs: u32,
    tree: Vec<(String, String)>,
}

fn run_flaky(block: &str, failures: u32, kind: ErrorKind, sleep: Duration) -> Outcome {
    run_flaky_with("", block, failures, kind, sleep)
}

fn run_flaky_with(
    timeouts: &str,
    block: &str,
    failures: u32,
    kind: ErrorKind,
    sleep: Duration,
) -> Outcome {
    let runs = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::with_builtins();
    registry.register(FlakyStrategy {
        runs: runs.clone(),
        failures,
        kind,
        sleep,
    });
    let job = format!("job_name: flaky\ntimeouts: {{job: {{seconds: 20}}{timeouts}}}\nactions:\n- boot: {{method: flaky{block}}}\n");
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new("5", &job, DEVICE);
    inputs.tmp_dir = tmp.path().to_path_buf();
    let mut job = Job::parse(&inputs, &registry).unwrap();
    let tree = job.tree();
    let (logger, memory) = Logger::memory("5");
    let cancel = CancelToken::new().unwrap();
    let result = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    Outcome {
        result,
        memory,
        runs: runs.load(Ordering::SeqCst),
        tree,
    }
}

#[test]
fn levels_number_nested_actions() {
    let o = run_flaky("", 0, ErrorKind::Job, Duration::ZERO);
    let tree: Vec<String> = o.tree.iter().map(|(l, n)| format!("{l} {n}")).collect();
    assert_eq!(
        tree,
        [
            "1 flaky-retry",
            "1.1 container",
            "1.1.1 leaf",
            "1.2 flaky-step",
            "2 finalize",
            "2.1 power-off",
            "2.2 read-feedback"
        ]
    );
    o.result.unwrap();
    // root start lines at info, nested at debug
    assert!(o
        .memory
        .messages(LogLevel::Info)
        .iter()
        .any(|m| m.starts_with("start: 1 flaky-retry (timeout 00:00:20) [common]")));
    assert!(o
        .memory
        .messages(LogLevel::Debug)
        .iter()
        .any(|m| m.starts_with("start: 1.1.1 leaf ")));
    let result = o
        .memory
        .results()
        .into_iter()
        .find(|r| r.get("case").and_then(Value::as_str) == Some("flaky-step"))
        .unwrap();
    assert_eq!(result.get("level").and_then(Value::as_str), Some("1.2"));
    assert_eq!(
        result.get("namespace").and_then(Value::as_str),
        Some("common")
    );
    let duration = result.get("duration").and_then(Value::as_str).unwrap();
    assert!(
        duration.split_once('.').is_some_and(|(_, d)| d.len() == 2),
        "{duration}"
    );
}

#[test]
fn failure_retry_retries_the_block_then_succeeds_or_gives_up() {
    let o = run_flaky(
        ", failure_retry: 3",
        2,
        ErrorKind::Infrastructure,
        Duration::ZERO,
    );
    o.result.unwrap();
    assert_eq!(o.runs, 3);
    let errors = o.memory.messages(LogLevel::Error);
    assert_eq!(
        errors[0],
        "flaky-retry failed: 1 of 3 attempts. 'attempt 1 broke'"
    );
    assert!(o
        .memory
        .messages(LogLevel::Warning)
        .iter()
        .any(|w| w.starts_with("Retrying: 1 flaky-retry (")));

    let o = run_flaky(", failure_retry: 2", 5, ErrorKind::Test, Duration::ZERO);
    let e = o.result.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Test, "attempt 2 broke")
    );
    assert_eq!(o.runs, 2);

    // bugs and cancels are never retried
    let o = run_flaky(", failure_retry: 4", 5, ErrorKind::Bug, Duration::ZERO);
    assert_eq!(o.result.unwrap_err().kind, ErrorKind::Bug);
    assert_eq!(o.runs, 1);
}

#[test]
fn repeat_runs_every_time_and_fails_if_any_failed() {
    let o = run_flaky(", repeat: 3", 0, ErrorKind::Job, Duration::ZERO);
    o.result.unwrap();
    assert_eq!(o.runs, 3);
    let o = run_flaky(", repeat: 3", 1, ErrorKind::Job, Duration::ZERO);
    let e = o.result.unwrap_err();
    assert_eq!(o.runs, 3);
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Job, "1 retries failed for flaky-retry")
    );
}

#[test]
fn deadlines_nest_and_name_the_scope_that_expired() {
    // the step's own timeout passes first: its scope and class are reported
    let o = run_flaky_with(
        ", actions: {flaky-step: {seconds: 1}}",
        "",
        0,
        ErrorKind::Job,
        Duration::from_secs(5),
    );
    let e = o.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure);
    assert_eq!(e.message, "flaky-step timed out after 1 seconds");
    assert_eq!(e.expired.as_deref(), Some("flaky-step"));
    // the block's timeout (1 s) applies to every action of the block: the
    // outer action's deadline started first and passes first
    let o = run_flaky(
        ", timeout: {seconds: 1}",
        0,
        ErrorKind::Job,
        Duration::from_secs(5),
    );
    let e = o.result.unwrap_err();
    assert_eq!(
        (e.kind, e.expired.as_deref()),
        (ErrorKind::Job, Some("flaky-retry"))
    );
    assert_eq!(e.message, "flaky-retry timed out after 1 seconds");
    // a job timeout shorter than the action's: the job scope expires
    let runs = Arc::new(AtomicU32::new(0));
    let mut registry = Registry::with_builtins();
    registry.register(FlakyStrategy {
        runs,
        failures: 0,
        kind: ErrorKind::Job,
        sleep: Duration::from_secs(5),
    });
    let job = "job_name: short\ntimeouts: {job: {seconds: 1}, action: {minutes: 1}}\nactions:\n- boot: {method: flaky}\n";
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new("6", job, DEVICE);
    inputs.tmp_dir = tmp.path().to_path_buf();
    let mut job = Job::parse(&inputs, &registry).unwrap();
    let (logger, _memory) = Logger::memory("6");
    let cancel = CancelToken::new().unwrap();
    job.validate(&logger, &cancel).unwrap();
    let e = job.run(&logger, &cancel).unwrap_err();
    assert_eq!(
        (e.kind, e.expired.as_deref()),
        (ErrorKind::Job, Some("job"))
    );
    assert_eq!(e.message, "job timed out after 1 seconds");
}

#[test]
fn unsupported_methods_are_named_with_the_supported_ones() {
    let parse = |actions: &str, registry: &Registry| {
        let job = format!("job_name: x\ntimeouts: {{job: {{minutes: 1}}}}\nactions:\n{actions}");
        Job::parse(&JobInputs::new("7", &job, DEVICE), registry).unwrap_err()
    };
    let builtins = Registry::with_builtins();
    let e = parse("- boot: {method: fastboot}\n", &builtins);
    assert_eq!(e.kind, ErrorKind::Job);
    assert_eq!(
        e.message,
        "Unsupported boot method 'fastboot': this dispatcher implements grub, grub-efi, ipxe, minimal, monitor, qemu, qemu-nfs, ssh, u-boot"
    );
    let e = parse("- deploy: {to: fastboot, images: {}}\n", &builtins);
    assert_eq!(
        e.message,
        "Unsupported deploy to 'fastboot': this dispatcher implements download, nfs, overlay, ssh, tftp, tmpfs"
    );
    let e = parse("- test: {monitors: []}\n", &builtins);
    assert_eq!(
        e.message,
        "Unsupported test action: this dispatcher implements test actions with definitions, interactive"
    );
    // a method this dispatcher knows, refused by the device: every
    // strategy's reason
    let e = parse("- boot: {method: u-boot, commands: ramdisk}\n", &builtins);
    assert!(
        e.message.starts_with(
            "None of the boot strategies accepted your boot parameters, reasons given: "
        ),
        "{}",
        e.message
    );
    assert!(e.message.contains("minimal: 'method' was not 'minimal'"));
    assert!(e
        .message
        .contains("u-boot: 'u-boot' not in the device configuration boot methods"));
    // a strategy that does not list what it handles: the reasons again
    let mut registry = Registry::with_builtins();
    registry.register(FlakyStrategy {
        runs: Arc::new(AtomicU32::new(0)),
        failures: 0,
        kind: ErrorKind::Job,
        sleep: Duration::ZERO,
    });
    let e = parse("- boot: {method: nonsense}\n", &registry);
    assert!(
        e.message.starts_with("None of the boot strategies"),
        "{}",
        e.message
    );
    let no_timeout = "job_name: x\nactions: []\n";
    assert_eq!(
        Job::parse(&JobInputs::new("7", no_timeout, DEVICE), &Registry::new())
            .unwrap_err()
            .kind,
        ErrorKind::Job
    );
    let job = "job_name: x\ntimeouts: {job: {minutes: 1}}\nactions:\n- boot: {method: nonsense}\n";
    let bad_device = JobInputs::new("7", job, "commands: {power_on: [1]}");
    assert_eq!(
        Job::parse(&bad_device, &Registry::new()).unwrap_err().kind,
        ErrorKind::Configuration
    );
    let both = "job_name: x\ntimeouts: {job: {minutes: 1}}\nactions:\n- boot: {method: minimal, repeat: 2, failure_retry: 2}\n";
    assert!(Job::parse(
        &JobInputs::new("7", both, DEVICE),
        &Registry::with_builtins()
    )
    .is_err());
}

fn qemu_device() -> String {
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("../share/device-types");
    let templates = TemplateSet::new([share]);
    templates
        .render_str(
            "qemu-01.jinja2",
            "{% extends 'qemu.jinja2' %}\n{% set no_kvm = true %}\n",
            yaml::load("{arch: amd64}").unwrap().as_mapping().unwrap(),
        )
        .unwrap()
}

/// docs/pipeline.md §13.2: QEMU + tmpfs + lava-test-shell, level for level.
#[test]
fn the_qemu_tmpfs_tree_matches_lavas() {
    let job = "job_name: kvm\ntimeouts: {job: {minutes: 10}}\ncontext: {arch: amd64}\nactions:\n\
- deploy: {to: tmpfs, os: debian, images: {rootfs: {url: 'https://example.com/stretch.img.gz', compression: gz, image_arg: '-drive format=raw,file={rootfs}'}}}\n\
- boot: {method: qemu, media: tmpfs, prompts: ['root@debian:'], auto_login: {login_prompt: 'login:', username: root}}\n\
- test:\n    definitions:\n    - {from: git, repository: 'https://example.com/tests.git', path: smoke.yaml, name: smoke-tests}\n";
    let inputs = JobInputs::new("123", job, &qemu_device());
    let job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let tree: Vec<String> = job.tree().iter().map(|(l, n)| format!("{l} {n}")).collect();
    assert_eq!(
        tree,
        [
            "1 deployimages",
            "1.1 download-retry",
            "1.1.1 http-download",
            "1.2 lava-overlay",
            "1.2.1 lava-vland-overlay",
            "1.2.2 lava-multinode-overlay",
            "1.2.3 test-definition",
            "1.2.3.1 git-repo-action",
            "1.2.3.2 test-overlay",
            "1.2.3.3 test-install-overlay",
            "1.2.3.4 test-runscript-overlay",
            "1.2.4 compress-overlay",
            "1.2.5 persistent-nfs-overlay",
            "1.3 apply-overlay-guest",
            "1.4 deploy-device-env",
            "2 boot-image-retry",
            "2.1 boot-qemu-image",
            "2.1.1 execute-qemu",
            "2.2 auto-login-action",
            "2.3 expect-shell-connection",
            "2.4 export-device-env",
            "3 lava-test-retry",
            "3.1 lava-test-shell",
            "4 finalize",
            "4.1 power-off",
            "4.2 read-feedback",
        ]
    );
    assert_eq!(job.compatibility, 4);
    // description.yaml: the keys the server reads, the parser's additions
    let description = job.description();
    let pipeline = description
        .get("pipeline")
        .and_then(Value::as_sequence)
        .unwrap();
    let first = pipeline[0].as_mapping().unwrap();
    let keys: Vec<String> = first
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "level",
            "section",
            "summary",
            "description",
            "max_retries",
            "timeout",
            "pipeline"
        ]
    );
    let download = &pipeline[0]
        .get("pipeline")
        .and_then(Value::as_sequence)
        .unwrap()[0];
    assert_eq!(download.get("max_retries").and_then(Value::as_i64), Some(3));
    let http = &download
        .get("pipeline")
        .and_then(Value::as_sequence)
        .unwrap()[0];
    assert_eq!(
        http.get("url").and_then(Value::as_str),
        Some("https://example.com/stretch.img.gz")
    );
    let actions = description
        .get("job")
        .and_then(|j| j.get("actions"))
        .and_then(Value::as_sequence)
        .unwrap();
    let deploy = actions[0].get("deploy").unwrap();
    assert_eq!(
        deploy.get("namespace").and_then(Value::as_str),
        Some("common")
    );
    assert_eq!(
        deploy
            .get("deployment_data")
            .and_then(|d| d.get("lava_test_sh_cmd"))
            .and_then(Value::as_str),
        Some("/bin/bash")
    );
    assert_eq!(
        actions[2]
            .get("test")
            .and_then(|t| t.get("stage"))
            .and_then(Value::as_i64),
        Some(0)
    );
    assert_eq!(
        description
            .get("device")
            .and_then(|d| d.get("power_state"))
            .and_then(Value::as_str),
        Some("off")
    );
    // the text form loads back to the same value
    assert_eq!(yaml::load(&job.description_yaml()).unwrap(), description);
}

#[test]
fn timeouts_of_the_tree_follow_lavas_precedence() {
    let job = "job_name: t\ntimeouts: {job: {minutes: 10}, actions: {http-download: {minutes: 4}}, connections: {lava-test-shell: {seconds: 7}}}\ncontext: {arch: amd64}\nactions:\n\
- deploy: {to: tmpfs, images: {rootfs: {url: 'file:///x.img', image_arg: '-hda {rootfs}'}}}\n\
- boot: {method: qemu, timeout: {minutes: 2}, prompts: ['# ']}\n";
    let inputs = JobInputs::new("1", job, &qemu_device());
    let job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let find = |name: &str| {
        let mut all = Vec::new();
        for node in &job.root {
            node.walk(&mut all);
        }
        let node = all.into_iter().find(|n| n.info.name == name).unwrap();
        (
            node.info.timeout.duration.as_secs(),
            node.info.connection_timeout.as_secs(),
        )
    };
    // job's named action timeout beats the device's named value (300 s)
    assert_eq!(find("file-download"), (30, 30));
    assert_eq!(find("download-retry"), (300, 30));
    // the block's timeout beats the device's boot-qemu-image (120 s)
    assert_eq!(find("boot-qemu-image"), (120, 30));
    assert_eq!(find("execute-qemu"), (120, 30));
    assert_eq!(find("auto-login-action"), (120, 120));
    assert_eq!(find("power-off").0, 10);
}

#[test]
fn secrets_stay_out_of_debug_output_and_the_description() {
    let job = "job_name: s\ntimeouts: {job: {minutes: 1}}\nsecrets: {API_KEY: very-secret-value}\nactions:\n- boot: {method: minimal, reset: false}\n";
    let inputs = JobInputs::new("2", job, &format!("commands: {{connect: cat}}\n{DEVICE}"));
    let job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    assert_eq!(
        job.info.secrets(),
        [("API_KEY".to_string(), "very-secret-value".to_string())]
    );
    for text in [
        format!("{job:?}"),
        format!("{:?}", job.info),
        job.description_yaml(),
    ] {
        assert!(!text.contains("very-secret-value"), "{text}");
    }
    assert!(job
        .description_yaml()
        .contains("\"API_KEY\": \"[redacted]\""));
}

/// `command:` blocks run the admin's named command on the worker and undo
/// it at cleanup; the block is read as typed parameters, so a name of the
/// wrong type is refused at parse time.
#[test]
fn user_commands_run_and_are_undone() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("mark");
    let device = format!(
        "commands:\n  users:\n    mark:\n      do: touch {m}\n      undo: rm {m}\n{DEVICE}",
        m = mark.display()
    );
    let job = "job_name: c\ntimeouts: {job: {minutes: 1}}\nactions:\n- command: {name: mark}\n";
    let inputs = JobInputs::new("3", job, &device);
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let (logger, memory) = Logger::memory("3");
    let cancel = CancelToken::new().unwrap();
    job.validate(&logger, &cancel).unwrap();
    job.run(&logger, &cancel).unwrap();
    assert!(mark.exists(), "the command ran");
    job.cleanup(&logger, &cancel);
    assert!(!mark.exists(), "the command was undone");
    let lines: Vec<String> = memory.records().iter().map(|r| r.to_line()).collect();
    assert!(
        lines.iter().any(|l| l.contains("start: 1 user-command")),
        "{lines:?}"
    );

    let bad = "job_name: c\ntimeouts: {job: {minutes: 1}}\nactions:\n- command: {name: [mark]}\n";
    let e = Job::parse(
        &JobInputs::new("4", bad, &device),
        &Registry::with_builtins(),
    )
    .expect_err("a list is not a command name");
    assert_eq!(e.kind, ErrorKind::Job);
    assert_eq!(
        e.message,
        "Invalid command parameter name: invalid type: sequence, expected a string"
    );
}
