//! `command:` blocks: the admin-defined `commands.users.<name>` of the
//! device, run on the worker (`do`), undone at cleanup (`undo`).

use std::sync::Arc;

use crate::action::{About, Action, Block, CleanupContext, RunContext, Validate};
use crate::error::{Error, ErrorKind};
use crate::host;
use crate::timeout::Deadline;

/// `user-command`.
#[derive(Debug)]
pub struct UserCommand {
    name: String,
    undo: Option<String>,
    ran: bool,
}

/// What a `command:` block holds.
#[derive(Debug, serde::Deserialize)]
struct CommandParams {
    name: Option<String>,
}

impl UserCommand {
    /// The action of a `command:` block.
    pub fn new(block: &Arc<Block>) -> Result<Self, Error> {
        let params: CommandParams = block.params()?;
        let name = params
            .name
            .ok_or_else(|| Error::job("A command block needs a 'name'"))?;
        Ok(UserCommand {
            name,
            undo: None,
            ran: false,
        })
    }
}

const ABOUT_USER_COMMAND: About = About::new(
    "user-command",
    "execute one of the commands listed by the admin",
    "execute commands",
);

impl Action for UserCommand {
    fn about(&self) -> About {
        ABOUT_USER_COMMAND
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if v.job.device.commands.users.is_empty() {
            return Err(Error::configuration("Device command 'users' is missing"));
        }
        match v
            .job
            .device
            .commands
            .users
            .iter()
            .find(|u| u.name == self.name)
        {
            Some(user) => self.undo = user.undo.clone(),
            None => v.error(format!("Unknown user command '{}'", self.name)),
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(user) = ctx
            .job
            .device
            .commands
            .users
            .iter()
            .find(|u| u.name == self.name)
        else {
            return Err(Error::job(format!("Unknown user command '{}'", self.name)));
        };
        let argv = host::split_command(&user.run).map_err(Error::configuration)?;
        ctx.logger
            .info(format!("Running user command '{}'", self.name));
        self.ran = true;
        host::run(
            &argv,
            &ctx.deadline,
            ctx.cancel,
            ctx.logger,
            ctx.node.command_error,
        )?;
        Ok(())
    }
    fn cleanup(&mut self, ctx: &mut CleanupContext<'_>) {
        if !self.ran {
            return;
        }
        self.ran = false;
        let Some(undo) = &self.undo else { return };
        ctx.logger
            .info(format!("Running cleanup for user command '{}'", self.name));
        let deadline = Deadline::after(
            ctx.node.timeout.duration,
            "user-command",
            ErrorKind::Infrastructure,
        );
        match host::split_command(undo) {
            Ok(argv) => {
                if let Err(e) = host::run(
                    &argv,
                    &deadline,
                    ctx.cancel,
                    ctx.logger,
                    ErrorKind::Infrastructure,
                ) {
                    ctx.logger
                        .error(format!("Failed to clean after action user-command: {e}"));
                }
            }
            Err(e) => ctx.logger.error(e),
        }
    }
}
