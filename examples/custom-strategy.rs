//! A lab adds its own boot method to the dispatcher without touching
//! `lava-pipeline`: a `local-shell` boot whose "device" is a shell on this
//! machine, started on a pseudo-terminal. The job then runs an
//! interactive test against it, and the results are printed.
//!
//! `cargo run -p lava-examples --example custom-strategy`
//!
//! The strategy decides which blocks it takes (`accepts`), the action does
//! the work; the framework numbers the action (`1`, `1.1`), gives it its
//! timeout and deadline, logs its start and end, retries it
//! (`failure_retry`) and records its `lava` result.

use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_pipeline::action::{Action, Block, Populate, RunContext, Validate};
use lava_pipeline::cancel::CancelToken;
use lava_pipeline::connection::{SessionKind, ShellSession};
use lava_pipeline::error::{ErrorKind, PipelineError};
use lava_pipeline::job::{scalar, Job, JobInfo, JobInputs};
use lava_pipeline::logger::{Logger, MemoryLog};
use lava_pipeline::strategy::{Family, Registry, Strategy};

/// `boot: {method: local-shell, shell: ..., prompt: ...}`.
struct LocalShellStrategy;

impl Strategy for LocalShellStrategy {
    fn name(&self) -> &str {
        "local-shell"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        match block.get_str("method") {
            Some("local-shell") => Ok(()),
            _ => Err("'method' was not 'local-shell'".into()),
        }
    }
    fn action(
        &self,
        _job: &JobInfo,
        _block: &Arc<Block>,
    ) -> Result<Box<dyn Action>, PipelineError> {
        Ok(Box::new(LocalShellBoot))
    }
}

/// The top action: a retry action with one child.
struct LocalShellBoot;

impl Action for LocalShellBoot {
    fn name(&self) -> &str {
        "local-shell-boot"
    }
    fn description(&self) -> &str {
        "start a shell on the worker as the device"
    }
    fn summary(&self) -> &str {
        "local shell boot"
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), PipelineError> {
        p.add(StartShell::default());
        Ok(())
    }
}

/// Spawns the shell and waits for its prompt.
#[derive(Default)]
struct StartShell {
    prompt: String,
}

impl Action for StartShell {
    fn name(&self) -> &str {
        "start-local-shell"
    }
    fn description(&self) -> &str {
        "spawn the shell and wait for its prompt"
    }
    fn summary(&self) -> &str {
        "start the shell"
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), PipelineError> {
        self.prompt = v
            .node
            .block
            .get_str("prompt")
            .unwrap_or("example\\$ ")
            .to_string();
        if lava_pipeline::connection::expect::Pattern::new(&self.prompt).is_err() {
            v.error(format!("invalid prompt '{}'", self.prompt));
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let ps1 = ctx
            .node
            .block
            .get("ps1")
            .map(scalar)
            .unwrap_or_else(|| "example$ ".into());
        let argv = vec![
            "sh".to_string(),
            "-c".into(),
            format!("PS1='{ps1}' exec sh -i"),
        ];
        ctx.logger
            .info(format!("Starting the local shell: {}", argv.join(" ")));
        let mut session = ShellSession::spawn(&argv, ctx.logger.clone(), SessionKind::Plain)?;
        session.prompts = vec![self.prompt.clone()];
        session.connection_timeout = ctx.node.connection_timeout;
        session.wait_prompt(&ctx.deadline, ctx.cancel)?;
        ctx.results.insert("pid", i64::from(session.pid()));
        let namespace = ctx.namespace().to_string();
        ctx.data.set_connection(&namespace, session.into_handle());
        Ok(())
    }
}

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
pub fn run() -> (MemoryLog, Result<(), PipelineError>, Vec<(String, String)>) {
    let mut registry = Registry::with_builtins();
    registry.register(LocalShellStrategy);
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
