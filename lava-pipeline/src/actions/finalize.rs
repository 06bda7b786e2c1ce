//! `finalize`: the last root action (docs/pipeline.md §4.9): power the device
//! off and close every namespace's connection. It never fails the job.

use std::time::Duration;

use crate::action::{About, Action, Populate, RunContext};
use crate::actions::power::PowerOff;
use crate::connection::lock;
use crate::error::Error;

/// `finalize`.
#[derive(Debug, Default)]
pub struct Finalize;

const ABOUT_FINALIZE: About = About::new(
    "finalize",
    "finish the process and cleanup",
    "finalize the job",
);

impl Action for Finalize {
    fn about(&self) -> About {
        ABOUT_FINALIZE
    }
    fn is_finalize(&self) -> bool {
        true
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(PowerOff);
        p.add(ReadFeedback);
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        if let Err(e) = ctx.run_children() {
            ctx.logger.error(format!("Failed to finalize: {e}"));
        }
        Ok(())
    }
}

/// `read-feedback`: drain and close every stored connection.
#[derive(Debug, Default)]
pub struct ReadFeedback;

const ABOUT_READ_FEEDBACK: About = About::new(
    "read-feedback",
    "Check for messages on all other namespaces",
    "Read from other namespaces",
);

impl Action for ReadFeedback {
    fn about(&self) -> About {
        ABOUT_READ_FEEDBACK
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
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
