//! `lava-test-interactive-retry` → `lava-test-interactive` (docs/pipeline.md
//! §11.5): scripted dialogues with a console that has no test shell
//! (bootloaders, minimal shells). Each command is sent, then the console
//! is watched for the script's prompts, failures and successes.

use std::time::Instant;

use lava_proto::job::{FailureKind, InteractiveTest};
use lava_proto::yaml;

use crate::action::{About, Action, Populate, RunContext, Validate};
use crate::connection::expect::Pattern;
use crate::connection::{lock, WaitOutcome};
use crate::error::{Error, ErrorKind};
use crate::logger::result_map;

/// `lava-test-interactive-retry`.
#[derive(Debug, Default)]
pub struct InteractiveRetry;

const ABOUT_LAVA_TEST_INTERACTIVE_RETRY: About = About::new(
    "lava-test-interactive-retry",
    "Retry wrapper for lava-test-interactive",
    "Retry support for Lava Test Interactive",
);

impl Action for InteractiveRetry {
    fn about(&self) -> About {
        ABOUT_LAVA_TEST_INTERACTIVE_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(Interactive::default());
        Ok(())
    }
}

/// `lava-test-interactive`.
#[derive(Debug, Default)]
pub struct Interactive {
    scripts: Vec<InteractiveTest>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Prompt,
    Failure(usize),
    Success,
}

const ABOUT_LAVA_TEST_INTERACTIVE: About = About::new(
    "lava-test-interactive",
    "Executing lava-test-interactive",
    "Lava Test Interactive",
);

impl Action for Interactive {
    fn about(&self) -> About {
        ABOUT_LAVA_TEST_INTERACTIVE
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::LavaTimeout
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let Some(list) = v.node.block.get("interactive").cloned() else {
            return Err(Error::job("Missing 'interactive' in the test block"));
        };
        match yaml::from_value::<Vec<InteractiveTest>>(&list) {
            Ok(scripts) => {
                for script in &scripts {
                    if script.prompts.is_empty() {
                        v.error(format!(
                            "Interactive script '{}' has no prompts",
                            script.name
                        ));
                    }
                    let all = script
                        .prompts
                        .iter()
                        .chain(script.script.iter().flat_map(|s| {
                            s.successes
                                .iter()
                                .map(|x| &x.message)
                                .chain(s.failures.iter().map(|x| &x.message))
                        }));
                    for p in all {
                        if let Err(e) = Pattern::new(p) {
                            v.error(format!("Invalid pattern '{p}': {e}"));
                        }
                    }
                }
                self.scripts = scripts;
            }
            Err(e) => v.error(format!("Invalid interactive test: {e}")),
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(session) = ctx.connection() else {
            return Err(Error::bug("No connection retrieved from namespace data"));
        };
        let stage = ctx.node.block.stage.unwrap_or(0);
        let mut s = lock(&session);
        for script in &self.scripts {
            let started = Instant::now();
            let suite = format!("{stage}_{}", script.name);
            let outcome = (|| -> Result<bool, Error> {
                let mut all_passed = true;
                for step in &script.script {
                    let step_start = Instant::now();
                    let mut table: Vec<(String, Meaning)> = script
                        .prompts
                        .iter()
                        .map(|p| (p.clone(), Meaning::Prompt))
                        .collect();
                    table.extend(
                        step.failures
                            .iter()
                            .enumerate()
                            .map(|(i, f)| (f.message.clone(), Meaning::Failure(i))),
                    );
                    table.extend(
                        step.successes
                            .iter()
                            .map(|x| (x.message.clone(), Meaning::Success)),
                    );
                    let sources: Vec<String> = table.iter().map(|(p, _)| p.clone()).collect();
                    let patterns = crate::connection::compile(&sources)?;
                    if let Some(command) = &step.command {
                        s.sendline(command, ctx.node.character_delay, ctx.cancel)?;
                        if script.echo.is_some() {
                            let _ = s.read_line(
                                ctx.deadline.within(ctx.node.connection_timeout),
                                ctx.cancel,
                            )?;
                        }
                    }
                    let until = ctx.deadline.within(ctx.node.timeout.duration);
                    let passed = match s.expect(&patterns, until, ctx.cancel)? {
                        WaitOutcome::Eof => {
                            return Err(Error::infrastructure("interactive connection dropped"))
                        }
                        WaitOutcome::Timeout => {
                            return Err(Error::new(
                                ErrorKind::LavaTimeout,
                                "interactive connection timed out",
                            ))
                        }
                        WaitOutcome::Matched(m) => match table[m.index].1 {
                            Meaning::Prompt if !step.successes.is_empty() => {
                                ctx.logger
                                    .error("Matched a prompt (was expecting a success)");
                                false
                            }
                            Meaning::Prompt => true,
                            Meaning::Success => {
                                s.wait_prompt_list(&script.prompts, &ctx.deadline, ctx.cancel)?;
                                true
                            }
                            Meaning::Failure(i) => {
                                let failure = &step.failures[i];
                                if let Some(kind) = failure.exception {
                                    let kind = match kind {
                                        FailureKind::InfrastructureError => {
                                            ErrorKind::Infrastructure
                                        }
                                        FailureKind::JobError => ErrorKind::Job,
                                        FailureKind::TestError => ErrorKind::Test,
                                    };
                                    return Err(Error::new(
                                        kind,
                                        failure.error.clone().unwrap_or(m.matched),
                                    ));
                                }
                                s.wait_prompt_list(&script.prompts, &ctx.deadline, ctx.cancel)?;
                                false
                            }
                        },
                    };
                    if let Some(name) = &step.name {
                        ctx.logger.results(result_map([
                            ("definition", suite.as_str().into()),
                            ("case", name.as_str().into()),
                            ("result", if passed { "pass" } else { "fail" }.into()),
                            (
                                "duration",
                                format!("{:.02}", step_start.elapsed().as_secs_f64()).into(),
                            ),
                        ]));
                    } else if !passed {
                        return Err(Error::test(format!(
                            "Failed to run command '{}'",
                            step.command.clone().unwrap_or_default()
                        )));
                    }
                    all_passed &= passed;
                }
                Ok(all_passed)
            })();
            ctx.logger.results(result_map([
                ("definition", "lava".into()),
                ("case", suite.as_str().into()),
                (
                    "result",
                    if matches!(outcome, Ok(true)) {
                        "pass"
                    } else {
                        "fail"
                    }
                    .into(),
                ),
                (
                    "duration",
                    format!("{:.02}", started.elapsed().as_secs_f64()).into(),
                ),
            ]));
            s.prompts = script.prompts.clone();
            outcome?;
        }
        Ok(())
    }
}
