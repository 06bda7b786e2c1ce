//! The seed's admin workflow, run through the real `lava-server manage`
//! binary on both store backends: add a worker disabled, add devices to it,
//! enable it, take all its devices offline in one command, retire it.

use std::process::Command;

mod common;

use common::cli::CliStore as Lab;

fn seed_workflow(lab: &Lab) {
    lab.ok(&[
        "workers",
        "add",
        "bench01",
        "--description",
        "bench in lab 2",
        "--disabled",
    ]);
    assert!(lab
        .ok(&["workers", "list"])
        .contains("* bench01 (0 devices) Offline, Maintenance"));
    lab.ok(&["device-types", "add", "qemu"]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-01",
        "--device-type",
        "qemu",
        "--worker",
        "bench01",
    ]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-02",
        "--device-type",
        "qemu",
        "--worker",
        "bench01",
        "--tags",
        "usb",
    ]);
    // Devices joining a disabled worker are not schedulable.
    let list = lab.ok(&["devices", "list", "--csv"]);
    assert_eq!(list, "hostname,device-type,state,health\nqemu-01,qemu,Idle,Maintenance\nqemu-02,qemu,Idle,Maintenance\n");

    // Enable the worker: its devices need a health check first.
    let out = lab.ok(&["workers", "update", "bench01", "--health", "ACTIVE"]);
    assert!(
        out.contains("device qemu-01: Maintenance -> Unknown"),
        "{out}"
    );
    assert!(lab
        .ok(&["devices", "details", "qemu-02"])
        .contains("health     : Unknown"));
    lab.ok(&[
        "devices",
        "update",
        "qemu-01",
        "--health",
        "GOOD",
        "--reason",
        "checked by hand",
    ]);
    lab.ok(&["devices", "update", "qemu-02", "--health", "BAD"]);

    // All its devices offline in one command (the Bad one too).
    let out = lab.ok(&[
        "workers",
        "update",
        "bench01",
        "--health",
        "MAINTENANCE",
        "--devices-offline",
    ]);
    assert!(out.contains("device qemu-01: Good -> Maintenance"), "{out}");
    assert!(out.contains("device qemu-02: Bad -> Maintenance"), "{out}");
    let details = lab.ok(&["workers", "details", "bench01", "--devices"]);
    assert!(details.contains("health     : Maintenance"), "{details}");
    assert!(
        details.contains("* qemu-01 (qemu) Idle, Maintenance"),
        "{details}"
    );
    assert!(
        details.contains("* qemu-02 (qemu) Idle, Maintenance"),
        "{details}"
    );

    // Retire it.
    lab.ok(&["workers", "update", "bench01", "--health", "RETIRED"]);
    assert!(
        !lab.ok(&["workers", "list"]).contains("bench01"),
        "retired workers are hidden"
    );
    assert!(lab
        .ok(&["workers", "list", "--all"])
        .contains("* bench01 (2 devices) Offline, Retired"));
    assert_eq!(lab.ok(&["devices", "list"]), "Devices:\n");
    assert!(lab
        .ok(&["devices", "list", "--all"])
        .contains("* qemu-01 (qemu) Idle, Retired"));
    assert!(lab
        .ok(&["workers", "details", "bench01"])
        .contains("devices    : 2 (2 retired)"));
}

fn errors_are_one_line_with_exit_code_1(lab: &Lab) {
    lab.ok(&["workers", "add", "w1"]);
    for (args, message) in [
        (&["workers", "add", "w1"][..], "worker 'w1' already exists"),
        (
            &["workers", "details", "ghost"][..],
            "worker 'ghost' does not exist",
        ),
        (
            &[
                "devices",
                "add",
                "d1",
                "--device-type",
                "nope",
                "--worker",
                "w1",
            ][..],
            "device type 'nope' does not exist",
        ),
        (
            &["device-tags", "add", "ghost", "--tags", "x"][..],
            "device 'ghost' does not exist",
        ),
    ] {
        let (code, _, stderr) = lab.manage(args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(
            stderr,
            format!("lava-server: error: {message}\n"),
            "{args:?}"
        );
    }
    // A bad health name is a usage error (exit 2) that lists the valid ones.
    let (code, _, stderr) = lab.manage(&["workers", "update", "w1", "--health", "SLEEPING"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown worker health 'SLEEPING' (use ACTIVE, MAINTENANCE, RETIRED)"),
        "{stderr}"
    );
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let lab = Lab::sqlite();
    lab.ok(&["workers", "add", "w1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-server"))
        .args(["manage", "workers", "list"])
        .env("LAVA_DATABASE_URL", &lab.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // as `| head` does when it has read enough
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn seed_workflow_on_sqlite() {
    seed_workflow(&Lab::sqlite());
}

#[test]
fn seed_workflow_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        seed_workflow(&lab);
    }
}

#[test]
fn errors_on_sqlite() {
    errors_are_one_line_with_exit_code_1(&Lab::sqlite());
}

#[test]
fn errors_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        errors_are_one_line_with_exit_code_1(&lab);
    }
}

/// The repository's own device types (`share/device-types`).
fn share_device_types() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../share/device-types")
        .display()
        .to_string()
}

fn corpus_job(name: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var("LAVA_CORPUS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus")
        });
    let path = dir.join("jobs").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: LAVA corpus not found at {}", dir.display());
        None
    }
}

fn submission_and_dictionaries(lab: &Lab) {
    lab.ok(&["workers", "add", "w1"]);
    lab.ok(&["device-types", "add", "qemu"]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-01",
        "--device-type",
        "qemu",
        "--worker",
        "w1",
    ]);
    let dir = tempfile::tempdir().unwrap();

    // Dictionaries are validated by rendering before they are stored.
    let broken = dir.path().join("broken.jinja2");
    std::fs::write(&broken, "{% extends 'no-such-type.jinja2' %}\n").unwrap();
    let types = share_device_types();
    let (code, _, stderr) = lab.manage(&[
        "devices",
        "dictionary",
        "set",
        "qemu-01",
        broken.to_str().unwrap(),
        "--device-types",
        &types,
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("dictionary refused") && stderr.contains("no-such-type.jinja2"),
        "{stderr}"
    );
    let (code, _, stderr) = lab.manage(&["devices", "dictionary", "get", "qemu-01"]);
    assert_eq!(
        (code, stderr.as_str()),
        (1, "lava-server: error: device qemu-01 has no dictionary\n")
    );
    let good = dir.path().join("qemu-01.jinja2");
    let text = "{% extends 'qemu.jinja2' %}\n{% set mac_addr = '52:54:00:12:34:59' %}\n{% set memory = 1024 %}\n";
    std::fs::write(&good, text).unwrap();
    lab.ok(&[
        "devices",
        "dictionary",
        "set",
        "qemu-01",
        good.to_str().unwrap(),
        "--device-types",
        &types,
    ]);
    assert_eq!(lab.ok(&["devices", "dictionary", "get", "qemu-01"]), text);
    assert_eq!(
        lab.ok(&["devices", "check", "--all", "--device-types", &types]),
        "* qemu-01: valid\n"
    );

    // A corpus job for an existing type is stored; its id is printed.
    if let Some(job) = corpus_job("doc-examples/qemu-pipeline-first-job.yaml") {
        let id = lab.ok(&["jobs", "submit", job.to_str().unwrap()]);
        let id = id.trim();
        assert!(id.parse::<i64>().is_ok(), "{id}");
        let show = lab.ok(&["jobs", "show", id]);
        assert!(show.contains("state       : Submitted"), "{show}");
        assert!(show.contains("device type : qemu"), "{show}");
        assert!(lab
            .ok(&["jobs", "list"])
            .contains(&format!("* {id} [Submitted] qemu on - by admin")));
        assert_eq!(
            lab.ok(&["jobs", "cancel", id]),
            format!("Job {id} canceled\n")
        );
        assert!(lab
            .ok(&["jobs", "show", id])
            .contains("health      : Canceled"));

        // A method our lava-run does not implement: refused at submission,
        // unless the lab says its workers run another dispatcher.
        let text = std::fs::read_to_string(&job).unwrap();
        let fastboot = dir.path().join("fastboot.yaml");
        std::fs::write(
            &fastboot,
            text.replace("method: qemu\n", "method: fastboot\n"),
        )
        .unwrap();
        let (code, _, stderr) = lab.manage(&["jobs", "submit", fastboot.to_str().unwrap()]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("boot method 'fastboot' is not implemented by this lab's dispatchers (they implement grub, grub-efi, ipxe, minimal, monitor, qemu, qemu-nfs, ssh, u-boot)"),
            "{stderr}"
        );
        let id = lab.ok(&["jobs", "submit", "--any-method", fastboot.to_str().unwrap()]);
        lab.ok(&["jobs", "cancel", id.trim()]);

        // Unknown type, and a type whose only device is retired: refused with the reason.
        let other = dir.path().join("other.yaml");
        std::fs::write(
            &other,
            text.replace("device_type: qemu", "device_type: beaglebone-black"),
        )
        .unwrap();
        let (code, _, stderr) = lab.manage(&["jobs", "submit", other.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(
            stderr.contains("Device type 'beaglebone-black' is unavailable"),
            "{stderr}"
        );
        lab.ok(&["devices", "update", "qemu-01", "--health", "RETIRED"]);
        let (code, _, stderr) = lab.manage(&["jobs", "submit", job.to_str().unwrap()]);
        assert_eq!(code, 1);
        assert!(
            stderr.contains("No devices of type qemu are available"),
            "{stderr}"
        );
    }
    // An invalid definition names the path.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "job_name: x\ndevice_type: qemu\nvisibility: public\ntimeouts: {job: {weeks: 1}}\nactions: []\n").unwrap();
    let (code, _, stderr) = lab.manage(&["jobs", "submit", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("invalid job definition: timeouts.job"),
        "{stderr}"
    );
}

#[test]
fn submission_and_dictionaries_on_sqlite() {
    submission_and_dictionaries(&Lab::sqlite());
}

#[test]
fn submission_and_dictionaries_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        submission_and_dictionaries(&lab);
    }
}

fn health_checks_and_job_removal(lab: &Lab) {
    lab.ok(&["workers", "add", "w1"]);
    lab.ok(&["device-types", "add", "qemu"]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-01",
        "--device-type",
        "qemu",
        "--worker",
        "w1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let check = dir.path().join("health.yaml");
    let good = "job_name: qemu health check\ndevice_type: qemu\nvisibility: public\ntimeouts: {job: {minutes: 5}}\nactions: []\n";
    std::fs::write(&check, good.replace("minutes: 5", "weeks: 5")).unwrap();
    let (code, _, stderr) = lab.manage(&[
        "device-types",
        "health-check",
        "set",
        "qemu",
        check.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("invalid health check: timeouts.job"),
        "{stderr}"
    );
    std::fs::write(&check, good).unwrap();
    lab.ok(&[
        "device-types",
        "health-check",
        "set",
        "qemu",
        check.to_str().unwrap(),
    ]);
    assert_eq!(
        lab.ok(&["device-types", "health-check", "get", "qemu"]),
        good
    );
    assert!(lab
        .ok(&["device-types", "details", "qemu"])
        .contains("definition  : set"));

    let job = dir.path().join("job.yaml");
    std::fs::write(&job, good.replace("qemu health check", "user job")).unwrap();
    let id = lab
        .ok(&["jobs", "submit", job.to_str().unwrap()])
        .trim()
        .to_string();
    let (code, _, stderr) = lab.manage(&["jobs", "rm"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("give at least one of"), "{stderr}");
    assert_eq!(
        lab.ok(&["jobs", "rm", "--state", "SUBMITTED", "--dry-run"]),
        format!("would delete job {id} (Submitted, user job)\n")
    );
    assert!(lab
        .ok(&["jobs", "show", &id])
        .contains("state       : Submitted"));
    let jobs_dir = dir.path().join("jobs");
    assert_eq!(
        lab.ok(&[
            "jobs",
            "rm",
            "--submitter",
            "admin",
            "--jobs-dir",
            jobs_dir.to_str().unwrap()
        ]),
        format!("deleted job {id}\n")
    );
    let (code, _, stderr) = lab.manage(&["jobs", "show", &id]);
    assert_eq!(
        (code, stderr),
        (
            1,
            format!("lava-server: error: job '{id}' does not exist\n")
        )
    );
}

#[test]
fn health_checks_and_job_removal_on_sqlite() {
    health_checks_and_job_removal(&Lab::sqlite());
}

#[test]
fn health_checks_and_job_removal_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        health_checks_and_job_removal(&lab);
    }
}

/// The store behind `lab`, to set up and observe what the CLI cannot (a
/// worker online, a running job, a scheduling pass).
fn store_of(lab: &Lab) -> lava_scheduler::SqlStore {
    lava_scheduler::SqlStore::open_url(&lab.url).unwrap()
}

fn queue_job(store: &lava_scheduler::SqlStore) -> i64 {
    store
        .insert_job(&lava_scheduler::store::NewJob {
            submitter: "admin".into(),
            definition: "job_name: x\n".into(),
            requested_device_type: Some("qemu".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap()
}

fn health(store: &lava_scheduler::SqlStore, device: &str) -> String {
    store.device(device).unwrap().health.to_string()
}

/// `maintenance`: every device that can run jobs goes to Maintenance in
/// one command (`--dry-run` changes nothing, `--force` cancels the jobs
/// that hold devices), and `--end` brings back exactly those devices.
fn instance_maintenance(lab: &Lab) {
    use lava_scheduler::model::{JobState, WorkerState};
    lab.ok(&["workers", "add", "w1"]);
    lab.ok(&["device-types", "add", "qemu"]);
    for d in ["d1", "d2", "d3", "d4"] {
        lab.ok(&[
            "devices",
            "add",
            d,
            "--device-type",
            "qemu",
            "--worker",
            "w1",
        ]);
    }
    lab.ok(&["devices", "update", "d2", "--health", "BAD"]);
    lab.ok(&[
        "devices",
        "update",
        "d3",
        "--health",
        "MAINTENANCE",
        "--reason",
        "new cable",
    ]);
    lab.ok(&["devices", "update", "d4", "--health", "RETIRED"]);
    let store = store_of(lab);
    store.set_worker_state("w1", WorkerState::Online).unwrap();
    let job = queue_job(&store);
    let pass =
        lava_scheduler::scheduler::schedule(&store, &lava_scheduler::scheduler::AcceptAll).unwrap();
    assert_eq!(pass.jobs.len(), 1);
    assert!(store.job_started(job).unwrap());
    let healths = |s: &lava_scheduler::SqlStore| ["d1", "d2", "d3", "d4"].map(|d| health(s, d));

    let out = lab.ok(&["maintenance", "--dry-run"]);
    assert!(
        out.contains("* d1: Good -> Maintenance") && out.contains("* d2: Bad -> Maintenance"),
        "{out}"
    );
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(healths(&store), ["Good", "Bad", "Maintenance", "Retired"]);

    let out = lab.ok(&["maintenance", "--user", "alice"]);
    assert!(
        out.contains("2 devices in maintenance, 0 jobs canceled"),
        "{out}"
    );
    assert_eq!(
        healths(&store),
        ["Maintenance", "Maintenance", "Maintenance", "Retired"]
    );
    assert_eq!(
        store.job(job).unwrap().state,
        JobState::Running,
        "running jobs finish"
    );
    let last = store.transitions("device", "d1").unwrap().pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.new.as_str()),
        ("alice", "Maintenance")
    );
    // No new job starts anywhere.
    queue_job(&store);
    let pass =
        lava_scheduler::scheduler::schedule(&store, &lava_scheduler::scheduler::AcceptAll).unwrap();
    assert!(pass.jobs.is_empty() && pass.health_checks.is_empty());

    let out = lab.ok(&["maintenance", "--force"]);
    assert!(out.contains(&format!("* {job}\n")), "{out}");
    assert!(
        out.contains("0 devices in maintenance, 1 jobs canceled"),
        "{out}"
    );
    assert_eq!(store.job(job).unwrap().state, JobState::Canceling);

    let out = lab.ok(&["maintenance", "--end", "--dry-run"]);
    assert!(out.contains("* d1: Maintenance -> Unknown"), "{out}");
    assert_eq!(
        healths(&store),
        ["Maintenance", "Maintenance", "Maintenance", "Retired"]
    );
    let out = lab.ok(&["maintenance", "--end"]);
    assert!(out.contains("2 devices back"), "{out}");
    // Good ones need a health check first, the Bad one stays Bad, the one
    // an admin took offline for their own reason stays offline.
    assert_eq!(
        healths(&store),
        ["Unknown", "Bad", "Maintenance", "Retired"]
    );
    assert!(lab.ok(&["maintenance", "--end"]).contains("0 devices back"));
}

#[test]
fn instance_maintenance_on_sqlite() {
    instance_maintenance(&Lab::sqlite());
}

#[test]
fn instance_maintenance_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        instance_maintenance(&lab);
    }
}

/// `workers update --job-limit N`: a worker with limit 1 and two idle
/// devices runs one job at a time; 0 lifts the limit.
fn worker_job_limit(lab: &Lab) {
    use lava_scheduler::model::{JobHealth, WorkerState};
    use lava_scheduler::scheduler::{schedule, AcceptAll};
    lab.ok(&["workers", "add", "w1"]);
    lab.ok(&["device-types", "add", "qemu"]);
    for d in ["q1", "q2"] {
        lab.ok(&[
            "devices",
            "add",
            d,
            "--device-type",
            "qemu",
            "--worker",
            "w1",
        ]);
    }
    assert_eq!(
        lab.ok(&["workers", "update", "w1", "--job-limit", "1"]),
        "Worker w1: job limit 1\n"
    );
    assert!(lab
        .ok(&["workers", "details", "w1"])
        .contains("job limit  : 1\n"));
    assert!(lab
        .ok(&["workers", "list"])
        .contains("* w1 (2 devices, at most 1 jobs)"));
    assert!(lab
        .ok(&["workers", "list", "--csv"])
        .contains("\nw1,,Offline,Active,2,1\n"));
    let (code, _, stderr) = lab.manage(&["workers", "update", "w1", "--job-limit=-1"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("job limit must be 0 (no limit) or more, not -1"),
        "{stderr}"
    );

    let store = store_of(lab);
    store.set_worker_state("w1", WorkerState::Online).unwrap();
    let (first, second) = (queue_job(&store), queue_job(&store));
    let pass = schedule(&store, &AcceptAll).unwrap();
    assert_eq!(pass.jobs.iter().map(|a| a.job).collect::<Vec<_>>(), [first]);
    assert!(
        schedule(&store, &AcceptAll).unwrap().jobs.is_empty(),
        "one at a time"
    );
    store.job_started(first).unwrap();
    store
        .finish_job(first, JobHealth::Complete, false, None, "test")
        .unwrap();
    let pass = schedule(&store, &AcceptAll).unwrap();
    assert_eq!(
        pass.jobs.iter().map(|a| a.job).collect::<Vec<_>>(),
        [second]
    );

    lab.ok(&["workers", "update", "w1", "--job-limit", "0"]);
    assert!(lab
        .ok(&["workers", "details", "w1"])
        .contains("job limit  : none\n"));
    queue_job(&store);
    assert_eq!(
        schedule(&store, &AcceptAll).unwrap().jobs.len(),
        1,
        "the other device"
    );
}

#[test]
fn worker_job_limit_on_sqlite() {
    worker_job_limit(&Lab::sqlite());
}

#[test]
fn worker_job_limit_on_postgres() {
    if let Some(lab) = Lab::postgres("lava_cli") {
        worker_job_limit(&lab);
    }
}
