//! The examples run and do what they say. (`cargo test` builds the
//! examples before running this.)

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-HASH → target/<profile>/examples/NAME
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn run(name: &str, args: &[&str]) -> String {
    let path = example(name);
    assert!(path.exists(), "{} was not built", path.display());
    let out = Command::new(&path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curve_exchange_greets_over_curve() {
    let out = run("curve-exchange", &[]);
    assert!(out.contains("master <= HELLO(v3) from worker1"), "{out}");
    assert!(out.contains("worker <= HELLO_OK from master"), "{out}");
}

#[test]
fn embedded_lab_runs_a_job_to_completion() {
    let out = run("embedded-lab", &[]);
    assert!(out.contains("finished: Complete"), "{out}");
    assert!(out.contains("0_demo/boot: pass"), "{out}");
}
