//! The real `lava-run` under the real `lava-slave` and `lava-master`: a
//! job on a console-only device goes from the store to the worker, runs,
//! and its log, results and description come back. Then the same with a
//! lava-run of the lab's own: a binary built on
//! `lava_pipeline::run::main_with` with a strategy of its own.

mod common;

use common::*;
use lava_scheduler::model::{JobHealth, JobState, WorkerState};
use lava_scheduler::store::NewJob;

const TEMPLATE: &str = "device_type: fixture
commands:
  connect: sh -c 'PS1=\"dut# \" exec sh -i'
actions:
  deploy:
    methods:
      image:
  boot:
    connections:
      serial:
    methods:
      minimal:
timeouts:
  actions:
    power-off:
      seconds: 5
  connections: {}
";

const JOB: &str = "job_name: real lava-run
visibility: public
device_type: fixture
timeouts: {job: {minutes: 2}}
actions:
- boot: {method: minimal, reset: false, prompts: ['dut# ']}
";

/// Run `definition` on the fixture device with `lava_run` as the
/// worker's lava-run, under the real daemons; the lab and the finished
/// job (Complete, or the daemons' logs are shown).
fn run_job(lava_run: std::path::PathBuf, definition: &str) -> (Lab, i64) {
    let mut lab = Lab::new(false).unwrap();
    std::fs::write(lab.path("device-types/fixture.jinja2"), TEMPLATE).unwrap();
    lab.lava_run = Some(lava_run);
    lab.start_master();
    lab.start_slave();
    wait_for("the worker to come online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    let job = lab
        .store
        .insert_job(&NewJob {
            submitter: "alice".into(),
            description: "a lava-run job".into(),
            definition: definition.into(),
            original_definition: definition.into(),
            requested_device_type: Some("fixture".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap();
    wait_for("the job to finish", DEADLINE, || {
        lab.store.job(job).unwrap().state == JobState::Finished
    });
    let finished = lab.store.job(job).unwrap();
    assert_eq!(finished.health, JobHealth::Complete, "{}", lab.logs_of());
    (lab, job)
}

#[test]
fn the_real_lava_run_under_the_real_daemons() {
    let (lab, job) = run_job(bin("lava-run"), JOB);
    let dir = lab.job_dir(job);
    let messages = messages(&log_lines(&dir));
    assert!(
        messages.iter().any(|m| m.contains("start: 1 minimal-boot")),
        "{messages:?}"
    );
    assert!(messages
        .iter()
        .any(|m| m.contains("Job finished correctly")));
    let cases: Vec<(String, String)> = lab
        .store
        .test_cases(job)
        .unwrap()
        .into_iter()
        .map(|c| (c.suite, c.name))
        .collect();
    assert!(
        cases.contains(&("lava".into(), "validate".into())),
        "{cases:?}"
    );
    assert_eq!(cases.last(), Some(&("lava".into(), "job".into())));
    wait_for("description.yaml", DEADLINE, || {
        dir.join("description.yaml").exists()
    });
    let description = std::fs::read_to_string(dir.join("description.yaml")).unwrap();
    assert!(
        description.contains("\"name\": \"minimal-boot\""),
        "{description}"
    );
}

const LOCAL_SHELL_JOB: &str = r#"job_name: a strategy of the lab's own
visibility: public
device_type: fixture
timeouts: {job: {minutes: 2}}
actions:
- boot:
    method: local-shell
    ps1: 'lab$ '
    prompt: 'lab\$ '
- test:
    interactive:
    - name: shell-checks
      prompts: ['lab\$ ']
      script:
      - command: echo hello from the device
        name: echo
        successes: [{message: hello from the device}]
"#;

/// `examples/custom-lava-run.rs` is the worker's lava-run: a job using its
/// `local-shell` boot method completes through the master, with the
/// strategy's actions in the log and the results in the store.
#[test]
fn a_lava_run_of_the_labs_own_runs_its_strategy_through_the_daemons() {
    let custom = bin("custom-lava-run");
    assert!(
        custom.exists(),
        "{} is not built: `cargo build -p lava-examples --examples` (cargo test --workspace does)",
        custom.display()
    );
    let (lab, job) = run_job(custom, LOCAL_SHELL_JOB);
    let messages = messages(&log_lines(&lab.job_dir(job)));
    for expected in [
        "start: 1 local-shell-boot",
        "start: 1.1 start-local-shell",
        "Starting the local shell",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected}: {messages:?}"
        );
    }
    let cases: Vec<(String, String, String)> = lab
        .store
        .test_cases(job)
        .unwrap()
        .into_iter()
        .map(|c| (c.suite, c.name, c.result.to_string()))
        .collect();
    for (suite, name) in [
        ("lava", "start-local-shell"),
        ("0_shell-checks", "echo"),
        ("lava", "job"),
    ] {
        assert!(
            cases.contains(&(suite.into(), name.into(), "pass".into())),
            "{suite}/{name}: {cases:?}"
        );
    }
}
