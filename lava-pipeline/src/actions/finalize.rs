//! `finalize`: the last root action (docs/pipeline.md §4.9): power the device
//! off and close every namespace's connection. It never fails the job.

use std::time::Duration;

use crate::action::{Action, Populate, RunContext};
use crate::actions::power::PowerOff;
use crate::connection::lock;
use crate::error::PipelineError;

/// `finalize`.
#[derive(Debug, Default)]
pub struct Finalize;

impl Action for Finalize {
    fn name(&self) -> &str {
        "finalize"
    }
    fn description(&self) -> &str {
        "finish the process and cleanup"
    }
    fn summary(&self) -> &str {
        "finalize the job"
    }
    fn is_finalize(&self) -> bool {
        true
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), PipelineError> {
        p.add(PowerOff);
        p.add(ReadFeedback);
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        if let Err(e) = ctx.run_children() {
            ctx.logger.error(format!("Failed to finalize: {e}"));
        }
        Ok(())
    }
}

/// `read-feedback`: drain and close every stored connection.
#[derive(Debug, Default)]
pub struct ReadFeedback;

impl Action for ReadFeedback {
    fn name(&self) -> &str {
        "read-feedback"
    }
    fn description(&self) -> &str {
        "Check for messages on all other namespaces"
    }
    fn summary(&self) -> &str {
        "Read from other namespaces"
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let mut closed = Vec::new();
        for ns in ctx.data.connection_namespaces() {
            let Some(session) = ctx.data.take_connection(&ns) else {
                continue;
            };
            let ptr = std::sync::Arc::as_ptr(&session) as usize;
            let mut s = lock(&session);
            if closed.contains(&ptr) {
                continue;
            }
            closed.push(ptr);
            let read = s.listen_feedback(Duration::from_millis(200), ctx.cancel);
            if read > 0 {
                ctx.logger
                    .debug(format!("Listened to connection for namespace '{ns}' done"));
            }
            s.finalise(ctx.logger);
        }
        Ok(())
    }
}
