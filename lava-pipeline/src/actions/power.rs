//! Power control (docs/pipeline.md §8): the device's `power_on`, `power_off`,
//! `hard_reset`, `pre_power_command` and `pre_os_command` run on the
//! worker, each with its action's timeout, output logged. A failure is an
//! infrastructure error: the device, not the job, is at fault.

use std::time::Duration;

use crate::action::{About, Action, Populate, RunContext};
use crate::error::{Error, ErrorKind};
use crate::host;

fn run_all(ctx: &mut RunContext<'_>, commands: &[String], what: &str) -> Result<(), Error> {
    for command in commands {
        let argv = host::split_command(command).map_err(Error::configuration)?;
        let out = host::run_allow_fail(&argv, &ctx.deadline, ctx.cancel, ctx.logger)?;
        if out.code != 0 {
            return Err(Error::new(
                ctx.node.command_error,
                format!("Unable to {what}: '{command}' failed"),
            ));
        }
    }
    Ok(())
}

/// `power-off`: the device's `power_off` commands, if any.
#[derive(Debug, Default)]
pub struct PowerOff;

const ABOUT_POWER_OFF: About = About::new(
    "power-off",
    "discontinue power to device",
    "send power_off command",
);

/// `pdu-reboot`: the device's `hard_reset` commands.
#[derive(Debug, Default)]
pub struct PduReboot;

const ABOUT_PDU_REBOOT: About = About::new(
    "pdu-reboot",
    "issue commands to a PDU to power cycle a board",
    "hard reset the device",
);

impl Action for PowerOff {
    fn about(&self) -> About {
        ABOUT_POWER_OFF
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(commands) = ctx.job.device.commands.power_off.clone() else {
            return Ok(());
        };
        run_all(ctx, &commands, "power-off")?;
        ctx.results.insert("status", "success");
        Ok(())
    }
}

impl Action for PduReboot {
    fn about(&self) -> About {
        ABOUT_PDU_REBOOT
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(commands) = ctx.job.device.commands.hard_reset.clone() else {
            return Err(Error::infrastructure(
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

const ABOUT_RESET_DEVICE: About = About::new(
    "reset-device",
    "reboot or power-cycle the device",
    "reboot the device",
);

impl Action for ResetDevice {
    fn about(&self) -> About {
        ABOUT_RESET_DEVICE
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
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

const ABOUT_SEND_REBOOT_COMMANDS: About = About::new(
    "send-reboot-commands",
    "Send reboot commands to the device",
    "Send reboot commands",
);

impl Action for SendRebootCommands {
    fn about(&self) -> About {
        ABOUT_SEND_REBOOT_COMMANDS
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
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
        let patterns = crate::connection::compile(&[regex::escape(&message)])?;
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
        Err(Error::job("Soft reboot failed."))
    }
}
