//! A boot method written outside `lava-pipeline`, with its public API
//! only: `boot: {method: local-shell}` starts a shell on the worker, on a
//! pseudo-terminal, and uses it as the device's console. Later test
//! blocks of the namespace talk to that shell.
//!
//! ```yaml
//! - boot:
//!     method: local-shell
//!     ps1: 'example$ '          # the prompt the shell is given
//!     prompt: 'example\$ '      # the pattern that recognises it
//!     failure_retry: 2
//! ```
//!
//! The strategy decides which blocks it takes ([`Strategy::accepts`]);
//! the actions do the work. The framework numbers them (`1`, `1.1`),
//! gives each its timeout and deadline, logs their start and end, retries
//! the top one (`failure_retry`) and records their `lava` results.

use std::sync::Arc;

use lava_pipeline::{
    About, Action, Block, DeviceConfig, Error, ErrorKind, Family, JobInfo, Pattern, Populate,
    Registry, RunContext, SessionKind, ShellSession, Strategy, Validate,
};

/// The block's parameters, as the actions read them.
#[derive(Debug, serde::Deserialize)]
struct Params {
    /// The prompt the shell prints (`PS1`).
    #[serde(default = "default_ps1")]
    ps1: String,
    /// The pattern that recognises the prompt.
    #[serde(default = "default_prompt")]
    prompt: String,
}

fn default_ps1() -> String {
    "example$ ".into()
}

fn default_prompt() -> String {
    "example\\$ ".into()
}

/// `boot: {method: local-shell}`.
pub struct LocalShellStrategy;

impl Strategy for LocalShellStrategy {
    fn name(&self) -> &str {
        "local-shell"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn handles(&self) -> &'static [&'static str] {
        &["local-shell"]
    }
    fn accepts(&self, _device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Boot.require(block, "local-shell")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(LocalShellBoot))
    }
}

/// The built-in strategies and `local-shell`.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtins();
    registry.register(LocalShellStrategy);
    registry
}

const ABOUT_LOCAL_SHELL_BOOT: About = About::new(
    "local-shell-boot",
    "start a shell on the worker as the device",
    "local shell boot",
);

/// The top action: a retry action with one child.
struct LocalShellBoot;

impl Action for LocalShellBoot {
    fn about(&self) -> About {
        ABOUT_LOCAL_SHELL_BOOT
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(StartShell { params: None });
        Ok(())
    }
}

const ABOUT_START_LOCAL_SHELL: About = About::new(
    "start-local-shell",
    "spawn the shell and wait for its prompt",
    "start the shell",
);

/// Spawns the shell and waits for its prompt.
struct StartShell {
    params: Option<Params>,
}

impl Action for StartShell {
    fn about(&self) -> About {
        ABOUT_START_LOCAL_SHELL
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let params: Params = v.node.block.params()?;
        if let Err(e) = Pattern::new(&params.prompt) {
            v.error(format!("invalid prompt '{}': {e}", params.prompt));
        }
        self.params = Some(params);
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let params = self
            .params
            .as_ref()
            .ok_or_else(|| Error::bug("start-local-shell ran without validation"))?;
        let argv = vec![
            "sh".to_string(),
            "-c".into(),
            format!("PS1='{}' exec sh -i", params.ps1),
        ];
        ctx.logger
            .info(format!("Starting the local shell: {}", argv.join(" ")));
        let mut session = ShellSession::spawn(&argv, ctx.logger.clone(), SessionKind::Plain)?;
        session.prompts = vec![params.prompt.clone()];
        session.connection_timeout = ctx.node.connection_timeout;
        session.wait_prompt(&ctx.deadline, ctx.cancel)?;
        ctx.results.insert("pid", i64::from(session.pid()));
        let namespace = ctx.namespace().to_string();
        ctx.data.set_connection(&namespace, session.into_handle());
        Ok(())
    }
}
