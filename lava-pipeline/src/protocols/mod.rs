//! Protocols: services a job talks to while it runs, beside its device
//! (docs/pipeline.md §12). One so far: `lava-multinode`, the coordinator
//! client of a MultiNode sub-job ([`multinode`]).
//!
//! A protocol exists when the job definition asks for it; the job sets it
//! up before the first action ([`crate::Job::run`]) and finalises it in
//! its cleanup ([`crate::Job::cleanup`]), whatever happened in between.
//! Actions reach it through [`crate::JobInfo`]: the test shell's MultiNode
//! bridge, and the protocol calls an action block lists under its own
//! `protocols:` key ([`call_protocols`]).

pub(crate) mod multinode;

use crate::action::RunContext;
use crate::error::Error;

/// The protocol calls an action block asks for when the action named in
/// them runs (docs/pipeline.md §12.5): made at the start of the action's
/// run, before its own work.
pub(crate) fn call_protocols(ctx: &mut RunContext<'_>) -> Result<(), Error> {
    let Some(protocol) = ctx.job.multinode() else {
        return Ok(());
    };
    protocol.action_calls(ctx)
}
