//! A lab adds its own boot method to the dispatcher without touching
//! `lava-pipeline`: the `local-shell` boot of `examples/local_shell.rs`,
//! whose "device" is a shell on this machine. The job runs an
//! interactive test against it, in this process, and the results are
//! printed.
//!
//! `cargo run -p lava-examples --example custom-strategy`
//!
//! `examples/custom-lava-run.rs` runs the same strategy on a real worker.

use lava_examples::local_shell;
use lava_pipeline::{scalar, CancelToken, Error, Job, JobInputs, Logger, MemoryLog};

/// The job: boot the shell, then an interactive test.
pub const JOB: &str = r#"job_name: custom boot method
timeouts: {job: {minutes: 2}}
actions:
- boot:
    method: local-shell
    ps1: 'example$ '
    prompt: 'example\$ '
    failure_retry: 2
- test:
    interactive:
    - name: shell-checks
      prompts: ['example\$ ']
      script:
      - command: echo hello from the device
        name: echo
        successes: [{message: hello from the device}]
      - command: ls /no/such/dir
        name: missing-dir
        successes: [{message: "never printed"}]
        failures: [{message: "No such file"}]
"#;

/// A device configuration with nothing but what the parser requires.
pub const DEVICE: &str = "actions:\n  deploy: {methods: {image: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
timeouts: {actions: {}, connections: {}}\n";

/// Run the example job; the log and the outcome.
pub fn run() -> (MemoryLog, Result<(), Error>, Vec<(String, String)>) {
    let registry = local_shell::registry();
    let tmp = std::env::temp_dir().join("lava-custom-strategy-example");
    let mut inputs = JobInputs::new("1", JOB, DEVICE);
    inputs.tmp_dir = tmp;
    let (logger, memory) = Logger::memory("1");
    let cancel = CancelToken::new().expect("a cancel token");
    let mut job = match Job::parse(&inputs, &registry) {
        Ok(job) => job,
        Err(e) => return (memory, Err(e), Vec::new()),
    };
    let tree = job.tree();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    (memory, outcome, tree)
}

fn main() {
    let (memory, outcome, tree) = run();
    println!("pipeline:");
    for (level, name) in &tree {
        println!(
            "  {}{level} {name}",
            "  ".repeat(level.matches('.').count())
        );
    }
    println!("results:");
    for result in memory.results() {
        let field = |k: &str| result.get(k).map(scalar).unwrap_or_default();
        println!(
            "  {}/{}: {}",
            field("definition"),
            field("case"),
            field("result")
        );
    }
    match outcome {
        Ok(()) => println!("job: pass"),
        Err(e) => {
            println!("job: fail ({}: {})", e.kind, e.message);
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_custom_boot_method_runs() {
        let (memory, outcome, tree) = run();
        outcome.unwrap();
        let names: Vec<String> = tree.iter().map(|(l, n)| format!("{l} {n}")).collect();
        assert_eq!(
            &names[..4],
            [
                "1 local-shell-boot",
                "1.1 start-local-shell",
                "2 lava-test-interactive-retry",
                "2.1 lava-test-interactive"
            ]
        );
        let results = memory.results();
        let result = |d: &str, c: &str| {
            results
                .iter()
                .find(|r| {
                    r.get("definition").map(scalar).as_deref() == Some(d)
                        && r.get("case").map(scalar).as_deref() == Some(c)
                })
                .and_then(|r| r.get("result").map(scalar))
        };
        assert_eq!(result("0_shell-checks", "echo").as_deref(), Some("pass"));
        assert_eq!(
            result("0_shell-checks", "missing-dir").as_deref(),
            Some("fail")
        );
        assert_eq!(result("lava", "0_shell-checks").as_deref(), Some("fail"));
        assert_eq!(result("lava", "start-local-shell").as_deref(), Some("pass"));
    }
}
