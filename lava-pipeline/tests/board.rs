//! Whole jobs against a pretend board (tests/fixtures/board.sh) on a real
//! pty: minimal boot, login, overlay transfer, lava-test-shell with
//! passing and failing cases and a measurement, kernel panic detection,
//! timeouts, cancellation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lava_pipeline::CancelToken;
use lava_pipeline::ErrorKind;
use lava_pipeline::Registry;
use lava_pipeline::{Job, JobInputs};
use lava_pipeline::{Logger, MemoryLog};
use lava_proto::log::LogLevel;
use lava_proto::yaml::Mapping;

fn board() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/board.sh")
}

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn device(&self, env: &str, extra_commands: &str) -> String {
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        format!(
            "commands:\n  connect: env BOARD_HOME={home} {env} bash {board}\n{extra_commands}\
             constants:\n  posix:\n    lava_test_sh_cmd: /bin/sh\n    lava_test_results_dir: {results}/lava-%s\n    lava_test_shell_file: ~/.bashrc\n  \
             kernel-start-message: 'Linux version [0-9]'\n  default-shell-prompt: 'lava-test: # '\n\
             actions:\n  deploy:\n    methods:\n      overlay:\n  boot:\n    connections:\n      serial:\n    methods:\n      minimal:\n\
             timeouts:\n  actions:\n    power-off: {{seconds: 5}}\n  connections:\n    lava-test-shell: {{seconds: 2}}\n",
            home = home.display(),
            board = board().display(),
            results = self.path("root").display(),
        )
    }

    fn inputs(&self, job: &str, device: &str) -> JobInputs {
        let mut inputs = JobInputs::new("77", job, device);
        inputs.tmp_dir = self.path("tmp");
        inputs.dispatcher = Some(format!("tmp_url: {}\n", self.path("tmp").display()));
        inputs
    }
}

const TEST_BLOCK: &str = "- test:
    timeout: {minutes: 1}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: smoke, description: smoke}
        params: {GREETING: hello}
        run:
          steps:
          - lava-test-case echo-ok --shell echo $GREETING
          - lava-test-case false-fails --shell false
          - lava-test-case speed --result pass --measurement 12.5 --units MB/s
          - lava-test-set start extra
          - lava-test-case in-set --result skip
          - lava-test-set stop
";

fn job(boot_extra: &str, tests: &str) -> String {
    format!(
        "job_name: board\ntimeouts: {{job: {{minutes: 2}}, action: {{seconds: 30}}}}\nvisibility: personal\n\
         secrets: {{API_TOKEN: s3cr3t-t0ken}}\n\
         actions:\n\
         - deploy: {{to: overlay}}\n\
         - boot:\n    method: minimal\n    reset: false\n    prompts: ['root@board:~# ']\n{boot_extra}    transfer_overlay:\n      download_command: cp -t .\n      unpack_command: tar -C / -xzf\n\
         {tests}"
    )
}

fn run(
    inputs: &JobInputs,
) -> (
    Result<(), lava_pipeline::Error>,
    MemoryLog,
    Vec<(String, String)>,
) {
    let (logger, memory) = Logger::memory("77");
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(inputs, &Registry::with_builtins()).unwrap();
    let tree = job.tree();
    for (_, secret) in job.info.secrets() {
        logger.redact(&secret);
    }
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    (outcome, memory, tree)
}

fn result<'a>(results: &'a [Mapping], definition: &str, case: &str) -> Option<&'a Mapping> {
    results.iter().find(|r| {
        r.get("definition").and_then(|v| v.as_str()) == Some(definition)
            && r.get("case").and_then(|v| v.as_str()) == Some(case)
    })
}

fn text(m: &Mapping, key: &str) -> String {
    m.get(key).map(lava_pipeline::scalar).unwrap_or_default()
}

#[test]
fn minimal_boot_login_and_test_shell() {
    let lab = Lab::new();
    let device = lab.device("BOARD_LOGIN=1 BOARD_PASSWORD=pw0rd BOARD_NOISE=50", "");
    let boot_extra = "    auto_login: {login_prompt: 'login:', username: root, password_prompt: 'Password:', password: pw0rd}\n";
    let inputs = lab.inputs(&job(boot_extra, TEST_BLOCK), &device);
    let (outcome, memory, tree) = run(&inputs);
    let results = memory.results();
    if let Err(e) = &outcome {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
        panic!("job failed: {e:?}");
    }
    let names: Vec<String> = tree.iter().map(|(l, n)| format!("{l} {n}")).collect();
    assert_eq!(
        names,
        [
            "1 lava-overlay",
            "1.1 lava-vland-overlay",
            "1.2 lava-multinode-overlay",
            "1.3 test-definition",
            "1.3.1 inline-repo-action",
            "1.3.2 test-overlay",
            "1.3.3 test-install-overlay",
            "1.3.4 test-runscript-overlay",
            "1.4 compress-overlay",
            "1.5 persistent-nfs-overlay",
            "2 minimal-boot",
            "2.1 connect-device",
            "2.2 auto-login-action",
            "2.3 expect-shell-connection",
            "2.4 overlay-unpack",
            "2.5 export-device-env",
            "3 lava-test-retry",
            "3.1 lava-test-shell",
            "4 finalize",
            "4.1 power-off",
            "4.2 read-feedback",
        ]
    );
    let ok = result(&results, "0_smoke", "echo-ok").expect("echo-ok");
    assert_eq!(text(ok, "result"), "pass");
    assert_eq!(
        text(
            result(&results, "0_smoke", "false-fails").unwrap(),
            "result"
        ),
        "fail"
    );
    let speed = result(&results, "0_smoke", "speed").unwrap();
    assert_eq!(
        (
            text(speed, "measurement").as_str(),
            text(speed, "units").as_str()
        ),
        ("12.5", "MB/s")
    );
    assert_eq!(
        text(result(&results, "0_smoke", "in-set").unwrap(), "set"),
        "extra"
    );
    let run = result(&results, "lava", "0_smoke").expect("the run's lava result");
    assert_eq!(text(run, "result"), "pass");
    assert_eq!(
        text(
            result(&results, "lava", "kernel-messages").unwrap(),
            "result"
        ),
        "pass"
    );
    let login = result(&results, "lava", "auto-login-action").unwrap();
    assert_eq!(text(login, "level"), "2.2");
    assert!(text(login, "duration").contains('.'));
    // markers for the --shell cases
    let markers = memory
        .records()
        .into_iter()
        .filter(|r| r.lvl == LogLevel::Marker)
        .count();
    assert!(markers >= 6, "{markers} markers");
    // secrets never reach the log; the password typed is not shown
    for record in memory.records() {
        let line = record.to_line();
        assert!(!line.contains("s3cr3t-t0ken"), "{line}");
    }
    let inputs = memory.messages(LogLevel::Input);
    assert!(inputs.contains(&"********\n".to_string()), "{inputs:?}");
    assert!(!inputs.iter().any(|i| i.contains("pw0rd")));
    // cleanup removed the job's temporary directory
    assert!(!lab.path("tmp").join("77").exists());
}

#[test]
fn kernel_panic_is_a_job_error_at_once() {
    let lab = Lab::new();
    let device = lab.device("BOARD_PANIC=1", "");
    let inputs = lab.inputs(&job("", TEST_BLOCK), &device);
    let started = Instant::now();
    let (outcome, memory, _) = run(&inputs);
    let e = outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job, "{e:?}");
    assert_eq!(e.message, "Kernel panic detected");
    assert!(started.elapsed() < Duration::from_secs(20));
    let results = memory.results();
    assert_eq!(
        text(
            result(&results, "lava", "kernel-messages").unwrap(),
            "result"
        ),
        "fail"
    );
}

#[test]
fn power_commands_run_with_timeouts_and_output_logged() {
    let lab = Lab::new();
    let marker = lab.path("powered-off");
    let extra = format!(
        "  power_off: ['sh -c \"echo switching off; touch {}\"']\n  hard_reset: 'sh -c \"echo resetting\"'\n",
        marker.display()
    );
    let device = lab.device("", &extra);
    let job = "job_name: power\ntimeouts: {job: {minutes: 1}}\nactions:\n- boot: {method: minimal, prompts: ['root@board:~# ']}\n";
    let inputs = lab.inputs(job, &device);
    let (outcome, memory, tree) = run(&inputs);
    outcome.unwrap();
    assert!(
        tree.iter().any(|(l, n)| l == "1.2.1" && n == "pdu-reboot"),
        "{tree:?}"
    );
    assert!(marker.exists(), "power-off ran in finalize");
    let debug = memory.messages(LogLevel::Debug);
    assert!(debug.contains(&">> resetting".to_string()), "{debug:?}");
    assert!(debug.contains(&">> switching off".to_string()));
}

#[test]
fn a_failing_power_command_is_an_infrastructure_error() {
    let lab = Lab::new();
    let device = lab.device("", "  hard_reset: 'false'\n");
    let job = "job_name: power\ntimeouts: {job: {minutes: 1}}\nactions:\n- boot: {method: minimal, prompts: ['root@board:~# '], failure_retry: 2}\n";
    let inputs = lab.inputs(job, &device);
    let (outcome, memory, _) = run(&inputs);
    let e = outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure);
    assert_eq!(e.message, "Unable to reboot: 'false' failed");
    let errors = memory.messages(LogLevel::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("minimal-boot failed: 1 of 2 attempts.")),
        "{errors:?}"
    );
}

#[test]
fn a_test_block_timeout_is_a_test_error_or_skipped() {
    let lab = Lab::new();
    let device = lab.device("", "");
    let hang = "- test:
    timeout: {seconds: 4}
    definitions:
    - from: inline
      name: hang
      path: hang.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: hang}
        run: {steps: ['sleep 60']}
";
    let inputs = lab.inputs(&job("", hang), &device);
    let (outcome, memory, _) = run(&inputs);
    let e = outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Test, "{e:?}");
    assert_eq!(e.message, "lava-test-retry timed out after 4 seconds");
    let results = memory.results();
    assert_eq!(
        text(result(&results, "lava", "0_hang").unwrap(), "result"),
        "fail"
    );

    let skip = hang.replace("{seconds: 4}", "{seconds: 4, skip: true}");
    let inputs = lab.inputs(&job("", &skip), &device);
    let (outcome, memory, _) = run(&inputs);
    outcome.unwrap();
    assert!(
        memory
            .messages(LogLevel::Warning)
            .iter()
            .any(|w| w
                == "skip_timeout is set for lava-test-retry - continuing to next action block.")
    );
}

#[test]
fn cancel_stops_the_job_through_cleanup() {
    let lab = Lab::new();
    let device = lab.device("", "");
    let hang = "- test:
    definitions:
    - from: inline
      name: hang
      path: hang.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: hang}
        run: {steps: ['sleep 60']}
";
    let inputs = lab.inputs(&job("", hang), &device);
    let (logger, memory) = Logger::memory("77");
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    job.validate(&logger, &cancel).unwrap();
    let canceller = cancel.clone();
    let watcher = memory.clone();
    let thread = std::thread::spawn(move || {
        // cancel once the test shell started
        let started = watcher.wait_for(Duration::from_secs(30), |r| {
            r.msg
                .as_str()
                .is_some_and(|m| m.starts_with("Starting test lava.0_hang"))
        });
        canceller.cancel();
        started
    });
    let started = Instant::now();
    let e = job.run(&logger, &cancel).unwrap_err();
    assert!(thread.join().unwrap(), "the test run started");
    assert_eq!(e.kind, ErrorKind::Canceled);
    job.cleanup(&logger, &cancel);
    assert!(started.elapsed() < Duration::from_secs(25));
    assert!(memory
        .messages(LogLevel::Info)
        .contains(&"Cleaning after the job".to_string()));
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=tests",
            "-c",
            "user.email=tests@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn git_definitions_parse_patterns_and_split_signals() {
    let lab = Lab::new();
    let repo = lab.path("repo");
    std::fs::create_dir_all(repo.join("defs")).unwrap();
    std::fs::write(
        repo.join("defs/smoke.yaml"),
        "metadata: {format: Lava-Test Test Definition 1.0, name: gitty}\n\
         params: {WHO: world}\n\
         install: {steps: ['echo installing for $WHO']}\n\
         parse:\n  pattern: '^(?P<test_case_id>\\w+): (?P<result>PASS|FAIL|WEIRD)$'\n  fixupdict: {PASS: pass, FAIL: fail}\n\
         run:\n  steps:\n  - 'echo \"alpha: PASS\"'\n  - 'echo \"beta: FAIL\"'\n  - 'echo \"gamma: WEIRD\"'\n\
         \x20 - S=LAVA_SIGNAL_TESTCASE; printf '<%s TEST_CASE_ID=split RES[    7.123456] usb 1-1 new device\\nULT=pass>\\n' $S\n\
         \x20 - lava-test-case who --shell test $WHO = lava\n",
    )
    .unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "smoke"]);
    let device = lab.device("", "");
    let tests = format!(
        "- test:\n    timeout: {{minutes: 1}}\n    definitions:\n    - {{from: git, repository: '{}', path: defs/smoke.yaml, name: gitty, parameters: {{WHO: lava}}}}\n",
        repo.display()
    );
    let inputs = lab.inputs(&job("", &tests), &device);
    let (outcome, memory, tree) = run(&inputs);
    if let Err(e) = &outcome {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
        panic!("{e:?}");
    }
    if std::env::var_os("SHOW_LOG").is_some() {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
    }
    assert!(tree
        .iter()
        .any(|(l, n)| l == "1.3.1" && n == "git-repo-action"));
    let results = memory.results();
    assert_eq!(
        text(result(&results, "0_gitty", "alpha").unwrap(), "result"),
        "pass"
    );
    assert_eq!(
        text(result(&results, "0_gitty", "beta").unwrap(), "result"),
        "fail"
    );
    assert!(
        result(&results, "0_gitty", "gamma").is_none(),
        "an unknown result is dropped"
    );
    assert_eq!(
        text(result(&results, "0_gitty", "split").unwrap(), "result"),
        "pass",
        "recovered"
    );
    assert_eq!(
        text(result(&results, "0_gitty", "who").unwrap(), "result"),
        "pass",
        "job parameters win"
    );
    let run = result(&results, "lava", "0_gitty").unwrap();
    assert_eq!(text(run, "commit_id").len(), 40);
    let repo_result = result(&results, "lava", "git-repo-action").unwrap();
    assert_eq!(
        text(
            repo_result.get("extra").unwrap().as_mapping().unwrap(),
            "path"
        ),
        "defs/smoke.yaml"
    );
}

#[test]
fn a_definition_timeout_fails_that_test_only() {
    let lab = Lab::new();
    let device = lab.device("", "");
    let tests = "- test:
    timeout: {minutes: 1}
    definitions:
    - from: inline
      name: slow
      path: slow.yaml
      timeout: {seconds: 2}
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: slow}
        run: {steps: ['sleep 30']}
";
    let inputs = lab.inputs(&job("", tests), &device);
    let started = Instant::now();
    let (outcome, memory, _) = run(&inputs);
    let e = outcome.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Test, "test 0_slow timed out after 2 seconds")
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let results = memory.results();
    let slow = result(&results, "lava", "0_slow").unwrap();
    assert_eq!(text(slow, "result"), "fail");
    assert_eq!(
        text(slow, "error_msg"),
        "test 0_slow timed out after 2 seconds"
    );
}

#[test]
fn a_bootloader_error_message_is_an_infrastructure_error() {
    let lab = Lab::new();
    let device = lab
        .device("BOARD_ERROR='Wrong Ramdisk Image Format'", "")
        .replace("  default-shell-prompt:", "  minimal:\n    error-messages: ['Wrong Ramdisk Image Format', 'TIMEOUT']\n  default-shell-prompt:");
    let inputs = lab.inputs(&job("", TEST_BLOCK), &device);
    let (outcome, _memory, _) = run(&inputs);
    let e = outcome.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure);
    assert!(
        e.message
            .starts_with("matched a bootloader error message: 'Wrong Ramdisk Image Format'"),
        "{}",
        e.message
    );
}

/// `auto-login-action` reads its block as typed parameters: a value of the
/// wrong type fails validation, naming the key, before the board is
/// touched.
#[test]
fn a_mistyped_auto_login_fails_validation_naming_the_key() {
    let lab = Lab::new();
    let device = lab.device("BOARD_LOGIN=1", "");
    let boot_extra = "    auto_login: {login_prompt: 'login:', username: [root, admin]}\n";
    let inputs = lab.inputs(&job(boot_extra, TEST_BLOCK), &device);
    let (outcome, memory, _) = run(&inputs);
    let error = outcome.expect_err("a list is not a user name");
    assert_eq!(error.kind, ErrorKind::Job, "{error}");
    assert!(
        error.message.contains(
            "2.2 auto-login-action: Invalid boot parameter auto_login.username: \
             invalid type: sequence, expected a string"
        ),
        "{error}"
    );
    // nothing ran: the board was never connected to
    assert!(result(&memory.results(), "lava", "connect-device").is_none());
}

/// A gzipped tar archive of `files` (name, content), written as given: a
/// name with `..` is kept, to test that it is refused.
fn targz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, data.as_bytes()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &builder.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn definition(name: &str, case: &str) -> String {
    format!(
        "metadata: {{format: Lava-Test Test Definition 1.0, name: {name}}}\nrun:\n  steps:\n  - lava-test-case {case} --shell true\n"
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    <sha2::Sha256 as sha2::Digest>::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `from: url` (a single file, checked against its sha256sum, and a
/// gzipped tar archive with `path`) and `from: tar` (an archive in the job,
/// base64): each lands in the overlay and runs on the board.
#[test]
fn url_and_tar_definitions_are_fetched_checked_and_unpacked() {
    use base64::Engine as _;
    let lab = Lab::new();
    let served = lab.path("served");
    std::fs::create_dir_all(&served).unwrap();
    let single = definition("single", "from-url-file");
    std::fs::write(served.join("single.yaml"), &single).unwrap();
    std::fs::write(
        served.join("suite.tar.gz"),
        targz(&[(
            "suite/defs/net.yaml",
            &definition("net", "from-url-archive"),
        )]),
    )
    .unwrap();
    let inline_tar = base64::engine::general_purpose::STANDARD
        .encode(targz(&[("t/def.yaml", &definition("tarred", "from-tar"))]));
    let tests = format!(
        "- test:\n    timeout: {{minutes: 1}}\n    definitions:\n\
         \x20   - {{from: url, name: single, repository: 'file://{dir}/single.yaml', sha256sum: '{sum}'}}\n\
         \x20   - {{from: url, name: suite, repository: 'file://{dir}/suite.tar.gz', path: suite/defs/net.yaml}}\n\
         \x20   - {{from: tar, name: tarred, path: t/def.yaml, repository: '{inline_tar}'}}\n",
        dir = served.display(),
        sum = sha256_hex(single.as_bytes()),
    );
    let device = lab.device("", "");
    let inputs = lab.inputs(&job("", &tests), &device);
    let (outcome, memory, tree) = run(&inputs);
    if let Err(e) = &outcome {
        for r in memory.records() {
            eprintln!("{}", r.to_line());
        }
        panic!("{e:?}");
    }
    for (level, name) in [
        ("1.3.1", "url-repo-action"),
        ("1.3.5", "url-repo-action"),
        ("1.3.9", "tar-repo-action"),
    ] {
        assert!(
            tree.iter().any(|(l, n)| l == level && n == name),
            "{level} {name} not in {tree:?}"
        );
    }
    let results = memory.results();
    for (definition, case) in [
        ("0_single", "from-url-file"),
        ("1_suite", "from-url-archive"),
        ("2_tarred", "from-tar"),
    ] {
        let found = result(&results, definition, case)
            .unwrap_or_else(|| panic!("no {definition}/{case} in {results:#?}"));
        assert_eq!(text(found, "result"), "pass");
    }
}

/// What goes wrong is said before the board is touched, or at the deploy,
/// naming the definition: a wrong checksum, an archive member escaping
/// its directory, a repository that is not base64, an archive without
/// `path`.
#[test]
fn url_and_tar_definitions_refuse_bad_input() {
    use base64::Engine as _;
    let lab = Lab::new();
    let served = lab.path("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("single.yaml"), definition("single", "x")).unwrap();
    std::fs::write(
        served.join("evil.tar.gz"),
        targz(&[("../../escaped.yaml", &definition("evil", "x"))]),
    )
    .unwrap();
    let device = lab.device("", "");
    let attempt = |entry: String| {
        let tests =
            format!("- test:\n    timeout: {{minutes: 1}}\n    definitions:\n    - {entry}\n");
        let inputs = lab.inputs(&job("", &tests), &device);
        let (outcome, _memory, _tree) = run(&inputs);
        outcome.unwrap_err()
    };
    let dir = served.display();
    let e = attempt(format!(
        "{{from: url, name: single, repository: 'file://{dir}/single.yaml', sha256sum: '{}'}}",
        "0".repeat(64)
    ));
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(
        e.message.starts_with(&format!(
            "sha256sum for 'file://{dir}/single.yaml' does not match: expected 0000"
        )),
        "{}",
        e.message
    );
    let e = attempt(format!(
        "{{from: url, name: evil, repository: 'file://{dir}/evil.tar.gz', path: escaped.yaml}}"
    ));
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(
        e.message
            .contains(&format!("Unable to unpack 'file://{dir}/evil.tar.gz'")),
        "{}",
        e.message
    );
    assert!(e.message.contains("'..' in the path"), "{}", e.message);
    assert!(!lab.path("escaped.yaml").exists());
    let e = attempt(format!(
        "{{from: url, name: suite, repository: 'file://{dir}/evil.tar.gz'}}"
    ));
    assert!(
        e.message
            .contains("is an archive: 'path' must name the definition inside it"),
        "{}",
        e.message
    );
    let e = attempt("{from: tar, name: tarred, path: t.yaml, repository: 'not base64!'}".into());
    assert_eq!(e.kind, ErrorKind::Job);
    assert!(
        e.message
            .contains("Test definition 0_tarred: 'repository' is not base64"),
        "{}",
        e.message
    );
    let escaping = base64::engine::general_purpose::STANDARD.encode(targz(&[(
        "t/../../../escaped.yaml",
        &definition("evil", "x"),
    )]));
    let e = attempt(format!(
        "{{from: tar, name: tarred, path: escaped.yaml, repository: '{escaping}'}}"
    ));
    assert!(
        e.message
            .contains("Unable to unpack the archive of test definition 0_tarred")
            && e.message.contains("'..' in the path"),
        "{}",
        e.message
    );
    assert!(!lab.path("escaped.yaml").exists());
    let not_tar = base64::engine::general_purpose::STANDARD.encode(b"plain text, no archive");
    let e = attempt(format!(
        "{{from: tar, name: tarred, path: t.yaml, repository: '{not_tar}'}}"
    ));
    assert!(
        e.message.contains("'repository' is not a tar archive"),
        "{}",
        e.message
    );
    let e = attempt("{from: url, name: single, repository: 'ftp://example.org/x.yaml'}".into());
    assert!(
        e.message.contains("an http://, https:// or file:// URL"),
        "{}",
        e.message
    );
}
