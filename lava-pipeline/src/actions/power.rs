//! Power control (docs/pipeline.md §8): the device's `power_on`, `power_off`,
//! `hard_reset`, `pre_power_command` and `pre_os_command` run on the
//! worker, each with its action's timeout, output logged. A failure is an
//! infrastructure error: the device, not the job, is at fault.

use std::time::Duration;

use crate::action::{Action, Populate, RunContext};
use crate::error::{ErrorKind, PipelineError};
use crate::host;

fn run_all(ctx: &mut RunContext<'_>, commands: &[String], what: &str) -> Result<(), PipelineError> {
    for command in commands {
        let argv = host::split_command(command).map_err(PipelineError::configuration)?;
        let out = host::run_allow_fail(&argv, &ctx.deadline, ctx.cancel, ctx.logger)?;
        if out.code != 0 {
            return Err(PipelineError::new(
                ctx.node.command_error,
                format!("Unable to {what}: '{command}' failed"),
            ));
        }
    }
    Ok(())
}

macro_rules! power_action {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $summary:literal, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub struct $ty;
        impl $ty {
            const NAME: &'static str = $name;
        }
    };
}

power_action!(
    /// `power-off`: the device's `power_off` commands, if any.
    PowerOff, "power-off", "send power_off command", "discontinue power to device"
);
power_action!(
    /// `power-on`: `pre_power_command` then `power_on` (a warning when
    /// the device has none).
    PowerOn, "power-on", "send power_on command", "supply power to device"
);
power_action!(
    /// `pdu-reboot`: the device's `hard_reset` commands.
    PduReboot, "pdu-reboot", "hard reset the device", "issue commands to a PDU to power cycle a board"
);

impl Action for PowerOff {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn description(&self) -> &str {
        "discontinue power to device"
    }
    fn summary(&self) -> &str {
        "send power_off command"
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let Some(commands) = ctx.job.device.commands.power_off.clone() else {
            return Ok(());
        };
        run_all(ctx, &commands, "power-off")?;
        ctx.results.insert("status", "success");
        Ok(())
    }
}

impl Action for PowerOn {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn description(&self) -> &str {
        "supply power to device"
    }
    fn summary(&self) -> &str {
        "send power_on command"
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let Some(commands) = ctx.job.device.commands.power_on.clone() else {
            ctx.logger
                .warning("Unable to power on the device: no power_on command");
            return Ok(());
        };
        if let Some(pre) = ctx.job.device.commands.pre_power_command.clone() {
            run_all(ctx, &pre, "run the pre-power command")?;
        }
        run_all(ctx, &commands, "power-on")?;
        ctx.results.insert("status", "success");
        Ok(())
    }
}

impl Action for PduReboot {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn description(&self) -> &str {
        "issue commands to a PDU to power cycle a board"
    }
    fn summary(&self) -> &str {
        "hard reset the device"
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let Some(commands) = ctx.job.device.commands.hard_reset.clone() else {
            return Err(PipelineError::infrastructure(
                "Hard reset required but not defined.",
            ));
        };
        run_all(ctx, &commands, "reboot")?;
        ctx.results.insert("status", "success");
        Ok(())
    }
}

/// `reset-device`: `pdu-reboot` when the device has a `hard_reset`,
/// else a soft reboot over the console.
#[derive(Debug, Default)]
pub struct ResetDevice;

impl Action for ResetDevice {
    fn name(&self) -> &str {
        "reset-device"
    }
    fn description(&self) -> &str {
        "reboot or power-cycle the device"
    }
    fn summary(&self) -> &str {
        "reboot the device"
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), PipelineError> {
        if p.job.device.commands.hard_reset.is_some() {
            p.add(PduReboot);
        } else {
            p.add(SendRebootCommands);
        }
        Ok(())
    }
}

/// `send-reboot-commands`: a soft reboot over the console, waiting for
/// the shutdown message after each command (not all sent blindly).
#[derive(Debug, Default)]
pub struct SendRebootCommands;

impl Action for SendRebootCommands {
    fn name(&self) -> &str {
        "send-reboot-commands"
    }
    fn description(&self) -> &str {
        "Send reboot commands to the device"
    }
    fn summary(&self) -> &str {
        "Send reboot commands"
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), PipelineError> {
        let Some(session) = ctx.connection() else {
            ctx.logger
                .warning("No connection to send reboot commands to");
            return Ok(());
        };
        let block = ctx.node.block.clone();
        let commands: Vec<String> = match block.get("soft_reboot") {
            Some(lava_proto::yaml::Value::String(s)) => vec![s.clone()],
            Some(lava_proto::yaml::Value::Sequence(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => {
                ctx.logger
                    .warning("No soft reboot command defined in the test job. Using defaults.");
                vec!["reboot".into(), "reboot -n".into(), "reboot -nf".into()]
            }
        };
        let message = block
            .get("parameters")
            .and_then(|p| p.get("shutdown-message"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| {
                ctx.job
                    .device
                    .constant(None, "shutdown-message")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "The system is going down for reboot NOW".into());
        let patterns = crate::connection::session::compile(&[regex::escape(&message)])?;
        let mut s = crate::connection::lock(&session);
        for command in &commands {
            s.sendline(command, ctx.node.character_delay, ctx.cancel)?;
            let until = ctx.deadline.within(
                Duration::from_secs(10)
                    .min(ctx.node.connection_timeout.max(Duration::from_secs(1))),
            );
            if let crate::connection::WaitOutcome::Matched(_) =
                s.expect(&patterns, until, ctx.cancel)?
            {
                ctx.results.insert("status", "success");
                return Ok(());
            }
        }
        Err(PipelineError::job("Soft reboot failed."))
    }
}
