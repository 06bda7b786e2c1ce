//! SSH devices for real: Debian's dropbear on a loopback port
//! (`scripts/ssh-host.sh`, see `support/ssh_host.rs`). lava-run's pipeline
//! deploys the test overlay `to: ssh`, logs in with `method: ssh` and runs
//! a lava-test-shell definition with a passing case, a failing one and a
//! measurement; once with this project's `ssh.jinja2`, once with LAVA's
//! own from the corpus.

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/ssh_host.rs"]
mod ssh_host;

use std::path::{Path, PathBuf};

use lava_devices::TemplateSet;
use lava_pipeline::{scalar, CancelToken, Job, JobInputs, Logger, Registry};
use lava_proto::yaml::Mapping;
use ssh_host::SshHost;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run the job on the device rendered from `templates`; returns the log
/// lines and the results.
fn run_on(host: &SshHost, templates: PathBuf, id: &str) -> (Vec<String>, Vec<Mapping>) {
    let device = TemplateSet::new([templates].iter())
        .render_str("ssh-test.jinja2", &host.dictionary("ssh"), &Mapping::new())
        .unwrap();
    let definition = ssh_host::job("ssh device", "ssh");
    let tmp = tempfile::tempdir().unwrap();
    let mut inputs = JobInputs::new(id, &definition, &device);
    inputs.tmp_dir = tmp.path().to_path_buf();
    let (logger, memory) = Logger::memory(id);
    let cancel = CancelToken::new().unwrap();
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
    let tree = job.tree();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    let log: Vec<String> = memory.records().iter().map(|r| r.to_line()).collect();
    if let Err(e) = outcome {
        panic!(
            "the job failed: {e:?}\n{}\ndevice:\n{device}",
            log.join("\n")
        );
    }
    for (level, name) in [
        ("1", "scp-overlay"),
        ("1.2", "prepare-scp-overlay"),
        ("2", "login-ssh"),
        ("2.1", "scp-deploy"),
        ("2.3", "ssh-connection"),
        ("2.7", "scp-overlay-unpack"),
    ] {
        assert!(
            tree.iter().any(|(l, n)| l == level && n == name),
            "{level} {name} not in {tree:?}"
        );
    }
    (log, memory.results())
}

fn check(host: &SshHost, log: &[String], results: &[Mapping], id: &str) {
    let get = |definition: &str, case: &str| {
        results
            .iter()
            .find(|r| {
                r.get("definition").map(scalar).as_deref() == Some(definition)
                    && r.get("case").map(scalar).as_deref() == Some(case)
            })
            .unwrap_or_else(|| panic!("no result {definition}/{case} in {results:#?}"))
    };
    assert_eq!(
        scalar(get("0_over-ssh", "home").get("result").unwrap()),
        "pass"
    );
    assert_eq!(
        scalar(get("0_over-ssh", "must-fail").get("result").unwrap()),
        "fail"
    );
    let speed = get("0_over-ssh", "speed");
    assert_eq!(scalar(speed.get("result").unwrap()), "pass");
    assert_eq!(scalar(speed.get("measurement").unwrap()), "42.5");
    assert_eq!(scalar(speed.get("units").unwrap()), "MB/s");
    assert_eq!(
        scalar(get("lava", "scp-deploy").get("result").unwrap()),
        "pass"
    );
    // the overlay was copied over ssh and unpacked on the device
    let results_dir = host.results().join(format!("lava-{id}"));
    assert!(
        results_dir.join("bin/lava-test-runner").exists(),
        "no overlay in {}:\n{}",
        results_dir.display(),
        log.join("\n")
    );
    assert!(log
        .iter()
        .any(|l| l.contains("Copying overlay to root@127.0.0.1:")));
}

#[test]
fn a_job_on_an_ssh_device_deploys_logs_in_and_tests() {
    let Some(host) = SshHost::start() else { return };
    let (log, results) = run_on(&host, workspace().join("share/device-types"), "881");
    check(&host, &log, &results, "881");
}

#[test]
fn an_ssh_job_with_lavas_ssh_device_type() {
    let Some(types) = corpus::device_types("ssh.jinja2") else {
        return;
    };
    let Some(host) = SshHost::start() else { return };
    let (log, results) = run_on(&host, types, "882");
    check(&host, &log, &results, "882");
}
