//! From kernel start to a shell: `auto-login-action` as an explicit state
//! machine (docs/pipeline.md §7.6–7.7, §14.7, §14.11–12), then
//! `expect-shell-connection` and `export-device-env`.
//!
//! The login wait takes one list of `(pattern, meaning)` pairs and acts on
//! the meaning, never on an index into a list that changes:
//!
//! | meaning | action |
//! |---|---|
//! | kernel start message | state `kernel`; go on |
//! | `Kernel panic - not syncing` (first line) | fatal `Job` error |
//! | warning/oops/fault/`cut here` line | recorded in `kernel-messages`; go on |
//! | the job's `failure_message` | fatal `Job` error |
//! | login prompt (`auto_login`) | send the user name once, then expect the password prompt |
//! | password prompt (after the user name) | send the password once |
//! | `Login incorrect` / `Login timed out` | `Job` error |
//! | a bootloader error message of the boot method (`constants.<method>.error-messages`) | `Infrastructure` error |
//! | one of the job's prompts | done |
//!
//! A quiet console after the kernel started gets an empty line (not `#`)
//! every connection timeout, which re-prints a login or shell prompt
//! without typing a bogus user name.

use std::time::Duration;

use lava_proto::yaml::{Mapping, Value};

use crate::action::{About, Action, RunContext, Validate};
use crate::actions::boot::{block_prompts, patterns};
use crate::connection::expect::Pattern;
use crate::connection::{lock, WaitOutcome};
use crate::error::Error;
use crate::logger::result_map;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    KernelStart,
    Panic,
    Warning,
    FailureMessage,
    Login,
    Password,
    LoginIncorrect,
    LoginTimedOut,
    BootloaderError,
    Prompt,
}

/// The kernel messages that are recorded but do not stop the boot.
pub const KERNEL_WARNINGS: [&str; 4] = [
    r"------------\[ cut here \]------------",
    r"Unhandled fault",
    r"Internal error: Oops",
    r"BUG: (unable to handle|kernel NULL pointer)",
];

/// The first line of a kernel panic.
pub const KERNEL_PANIC: &str = r"Kernel panic - not syncing";

/// `auto-login-action`.
#[derive(Debug, Default)]
pub struct AutoLogin {
    prompts: Vec<String>,
    params: LoginParams,
}

/// What `auto-login-action` reads from its boot block.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
struct LoginParams {
    auto_login: Option<AutoLoginParams>,
    failure_message: Option<String>,
}

/// `auto_login:` of a boot block.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
struct AutoLoginParams {
    login_prompt: Option<String>,
    username: Option<String>,
    password_prompt: Option<String>,
    password: Option<String>,
    login_commands: Vec<String>,
}

const ABOUT_AUTO_LOGIN_ACTION: About = About::new(
    "auto-login-action",
    "automatically login after boot using job parameters and checking for messages.",
    "Auto-login after boot with support for kernel messages.",
);

impl Action for AutoLogin {
    fn about(&self) -> About {
        ABOUT_AUTO_LOGIN_ACTION
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        self.prompts = block_prompts(&v.node.block);
        if self.prompts.is_empty() {
            v.error("'prompts' is mandatory for AutoLoginAction");
        }
        for prompt in &self.prompts {
            if prompt.is_empty() {
                v.error("Value for 'prompts' cannot be empty.");
            } else if let Err(e) = Pattern::new(prompt) {
                v.error(format!("Invalid prompt '{prompt}': {e}"));
            } else if !prompt.contains(':')
                && !prompt.contains('\\')
                && !prompt.contains('#')
                && !prompt.contains('$')
            {
                v.logger.warning(format!(
                    "Prompt '{prompt}' does not look like a typical prompt"
                ));
            }
        }
        self.params = v.node.block.params()?;
        if let Some(login) = &self.params.auto_login {
            if login.login_prompt.as_deref().is_none_or(str::is_empty) {
                v.error("'login_prompt' is mandatory for auto_login");
            }
            if login.username.is_none() {
                v.error("'username' is mandatory for auto_login");
            }
            if login.password_prompt.is_some() != login.password.is_some() {
                v.error("'password_prompt' and 'password' go together in auto_login");
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(session) = ctx.connection() else {
            return Err(Error::job("No connection to log in on"));
        };
        let block = ctx.node.block.clone();
        let started = std::time::Instant::now();
        let kernel_start = block
            .get("parameters")
            .and_then(|p| p.get("kernel-start-message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                ctx.job
                    .device
                    .constant(None, "kernel-start-message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "Linux version [0-9]".into());
        let login = self.params.auto_login.clone();
        let mut table: Vec<(String, Meaning)> = vec![
            (kernel_start, Meaning::KernelStart),
            (KERNEL_PANIC.into(), Meaning::Panic),
        ];
        table.extend(
            KERNEL_WARNINGS
                .iter()
                .map(|p| (p.to_string(), Meaning::Warning)),
        );
        // the boot method's bootloader error messages (constants.<method>.error-messages)
        if let Some(Value::Sequence(errors)) = block
            .get_str("method")
            .and_then(|m| ctx.job.device.constant(Some(m), "error-messages"))
        {
            for e in errors.iter().filter_map(Value::as_str) {
                table.push((regex::escape(e), Meaning::BootloaderError));
            }
        }
        if let Some(failure) = &self.params.failure_message {
            table.push((failure.clone(), Meaning::FailureMessage));
        }
        table.push(("Login incorrect".into(), Meaning::LoginIncorrect));
        table.push(("Login timed out".into(), Meaning::LoginTimedOut));
        if let Some(login) = &login {
            if let Some(p) = &login.login_prompt {
                table.push((p.clone(), Meaning::Login));
            }
            if let Some(p) = &login.password_prompt {
                table.push((p.clone(), Meaning::Password));
            }
        }
        for prompt in &self.prompts {
            table.push((prompt.clone(), Meaning::Prompt));
        }
        let sources: Vec<String> = table.iter().map(|(p, _)| p.clone()).collect();
        let compiled = patterns(&sources)?;
        let line_sep = ctx
            .get_str("deploy-device-env", "environment", "line_separator")
            .unwrap_or_else(|| "\n".into());
        let delay = ctx.node.character_delay;
        let mut s = lock(&session);
        s.line_separator = line_sep;
        let mut kernel_messages: Vec<Value> = Vec::new();
        let mut sent_user = false;
        let mut sent_password = false;
        let mut kernel_seen = false;
        let quiet = ctx.node.connection_timeout.max(Duration::from_secs(1));
        let outcome: Result<String, Error> = loop {
            let until = ctx.deadline.within(quiet);
            match s.expect(&compiled, until, ctx.cancel)? {
                WaitOutcome::Eof => break Err(Error::infrastructure("Connection closed")),
                WaitOutcome::Timeout => {
                    if ctx.deadline.expired() {
                        kernel_messages.push(Value::from(
                            "Failed to match - connection timed out handling messages.",
                        ));
                        break Err(ctx.deadline.error());
                    }
                    if kernel_seen {
                        // provoke a prompt with an empty line
                        s.sendline("", std::time::Duration::ZERO, ctx.cancel)?;
                    }
                }
                WaitOutcome::Matched(m) => match table[m.index].1 {
                    Meaning::KernelStart => {
                        kernel_seen = true;
                        ctx.logger.debug(format!("kernel started: {}", m.matched));
                    }
                    Meaning::Panic => {
                        kernel_messages.push(Value::Mapping(result_map([
                            ("message", m.matched.as_str().into()),
                            ("panic", KERNEL_PANIC.into()),
                        ])));
                        break Err(Error::job("Kernel panic detected"));
                    }
                    Meaning::Warning => {
                        ctx.logger.warning("Kernel warnings or errors detected.");
                        kernel_messages.push(Value::Mapping(result_map([
                            ("message", m.matched.as_str().into()),
                            ("warning", sources[m.index].as_str().into()),
                        ])));
                    }
                    Meaning::FailureMessage => {
                        break Err(Error::job(format!(
                            "Matched job-specific failure message: '{}'",
                            sources[m.index]
                        )));
                    }
                    Meaning::LoginIncorrect => break Err(Error::job("Login incorrect")),
                    Meaning::BootloaderError => {
                        break Err(Error::infrastructure(format!(
                            "matched a bootloader error message: '{}' ({})",
                            m.matched, m.index
                        )))
                    }
                    Meaning::LoginTimedOut => {
                        break Err(Error::job(if login.is_some() {
                            "Login timed out"
                        } else {
                            "auto_login not enabled but image requested login details."
                        }))
                    }
                    Meaning::Login => {
                        let login = login.as_ref();
                        if sent_user
                            && !sent_password
                            && login.is_some_and(|l| l.password_prompt.is_some())
                        {
                            ctx.logger
                                .warning("Login prompt seen again before the password prompt");
                        }
                        let user = login
                            .and_then(|l| l.username.as_deref())
                            .unwrap_or_default();
                        s.sendline(user, delay, ctx.cancel)?;
                        sent_user = true;
                        sent_password = false;
                    }
                    Meaning::Password => {
                        if !sent_user {
                            ctx.logger
                                .warning("Password prompt before the login prompt: ignored");
                            continue;
                        }
                        if !sent_password {
                            let password = login
                                .as_ref()
                                .and_then(|l| l.password.as_deref())
                                .unwrap_or_default();
                            s.sendline_secret(password, delay, ctx.cancel)?;
                            sent_password = true;
                        }
                    }
                    Meaning::Prompt => {
                        if login.is_some() && !sent_user {
                            ctx.logger.debug("Shell prompt reached without a login");
                        }
                        break Ok(m.matched);
                    }
                },
            }
        };
        // login commands
        if outcome.is_ok() {
            s.prompts = self.prompts.clone();
            for command in login.iter().flat_map(|l| &l.login_commands) {
                s.sendline(command, Duration::ZERO, ctx.cancel)?;
                s.wait_prompt(&ctx.deadline, ctx.cancel)?;
            }
        }
        drop(s);
        let failed = outcome.is_err() || kernel_messages.iter().any(|m| m.get("panic").is_some());
        let mut extra = Mapping::new();
        extra.insert("extra", Value::Sequence(kernel_messages));
        ctx.logger.results(result_map([
            ("definition", "lava".into()),
            ("namespace", ctx.namespace().into()),
            ("case", "kernel-messages".into()),
            ("level", ctx.node.level.as_str().into()),
            (
                "duration",
                format!("{:.02}", started.elapsed().as_secs_f64()).into(),
            ),
            ("result", if failed { "fail" } else { "pass" }.into()),
            ("extra", Value::Mapping(extra)),
        ]));
        match outcome {
            Ok(matched) => {
                ctx.results.insert("success", matched);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// `expect-shell-connection`: make sure the shell answers.
#[derive(Debug, Default)]
pub struct ExpectShellConnection;

const ABOUT_EXPECT_SHELL_CONNECTION: About = About::new(
    "expect-shell-connection",
    "Wait for a shell",
    "Expect a shell prompt",
);

impl Action for ExpectShellConnection {
    fn about(&self) -> About {
        ABOUT_EXPECT_SHELL_CONNECTION
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(session) = ctx.connection() else {
            return Err(Error::job(
                "No connection available for expect-shell-connection",
            ));
        };
        let prompts = block_prompts(&ctx.node.block);
        let mut s = lock(&session);
        if !prompts.is_empty() {
            s.prompts = prompts;
        }
        s.connection_timeout = ctx.node.connection_timeout;
        let compiled = s.prompt_patterns()?;
        s.sendline("", Duration::ZERO, ctx.cancel)?;
        s.force_prompt_wait(&compiled, &ctx.deadline, ctx.cancel)?;
        Ok(())
    }
}

/// `export-device-env`: export the DUT environment (`env-dut`
/// overrides) and the device's dynamic data in the shell.
#[derive(Debug, Default)]
pub struct ExportDeviceEnv {
    commands: Vec<String>,
}

const ABOUT_EXPORT_DEVICE_ENV: About = About::new(
    "export-device-env",
    "Exports environment variables to the device",
    "Exports environment variables action",
);

impl Action for ExportDeviceEnv {
    fn about(&self) -> About {
        ABOUT_EXPORT_DEVICE_ENV
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let shell_file = v
            .get("deploy-device-env", "environment", "shell_file")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Some(Value::Mapping(env)), Some(file)) = (
            v.get("deploy-device-env", "environment", "env_dict")
                .cloned(),
            shell_file,
        ) {
            for (k, val) in env.iter() {
                let key = crate::job::scalar(k);
                let value = crate::job::scalar(val).replace('\'', "");
                self.commands
                    .push(format!("echo export {key}=\\'{value}\\' >> {file}"));
            }
            if !self.commands.is_empty() {
                self.commands.push(format!(". {file}"));
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(session) = ctx.connection() else {
            return Ok(());
        };
        let mut s = lock(&session);
        for command in &self.commands {
            s.sendline(command, ctx.node.character_delay, ctx.cancel)?;
            s.wait_prompt(&ctx.deadline, ctx.cancel)?;
        }
        Ok(())
    }
}
