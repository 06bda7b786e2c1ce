//! Boot actions (docs/pipeline.md §10): `minimal`, `qemu`, the
//! bootloaders (`u-boot`, `ipxe`, `grub`), `ssh`, and the actions they share — `connect-device`, the login state machine
//! (`auto-login-action`), `expect-shell-connection` and
//! `export-device-env`.

pub mod bootloader;
pub mod grub;
pub mod ipxe;
pub mod login;
pub mod qemu;
pub mod ssh;
pub mod uboot;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::actions::power::ResetDevice;
use crate::connection::expect::Pattern;
use crate::connection::{SessionKind, ShellSession};
use crate::error::{Error, ErrorKind};
use crate::host;
use crate::job::JobInfo;
use crate::strategy::{Family, Strategy};

pub use login::{AutoLogin, ExpectShellConnection, ExportDeviceEnv};

/// Add the login tail of a boot (docs/pipeline.md §10): `auto-login-action`
/// when the block has prompts, then `expect-shell-connection` and
/// `export-device-env` when a test of the namespace needs a shell.
pub fn add_login_tail(p: &mut Populate<'_>) {
    let has_prompts = p.block.get("prompts").is_some_and(|v| !v.is_null());
    if !has_prompts {
        return;
    }
    p.add(AutoLogin::default());
    if p.job.needs_shell(&p.block.namespace) {
        p.add(ExpectShellConnection);
        if p.block.get("transfer_overlay").is_some() {
            p.add(crate::actions::deploy::overlay::OverlayUnpack);
        }
        p.add(ExportDeviceEnv::default());
    }
}

/// The console command of the device (the deprecated `connect`, else the
/// connection tagged `primary`), with its tags.
pub fn primary_connection(device: &DeviceConfig) -> Result<(String, Vec<String>), Error> {
    if let Some(connect) = &device.commands.connect {
        return Ok((connect.clone(), Vec::new()));
    }
    if device.commands.connections.is_empty() {
        return Err(Error::job(
            "Unable to connect to device: no connection command",
        ));
    }
    device
        .commands
        .connections
        .iter()
        .find(|c| c.tags.iter().any(|t| t == "primary"))
        .map(|c| (c.connect.clone(), c.tags.clone()))
        .ok_or_else(|| Error::job("Unable to identify primary connection command."))
}

/// `connect-device`: start the device's console command on a pty (or
/// reuse the session of the block's connection namespace).
#[derive(Debug, Default)]
pub struct ConnectDevice {
    command: Vec<String>,
    tags: Vec<String>,
}

const ABOUT_CONNECT_DEVICE: About = About::new(
    "connect-device",
    "use the configured command to connect serial to the device",
    "run connection command",
);

impl Action for ConnectDevice {
    fn about(&self) -> About {
        ABOUT_CONNECT_DEVICE
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let serial = v
            .job
            .device
            .actions
            .as_ref()
            .is_some_and(|a| a.boot_connections.iter().any(|c| c == "serial"));
        if !serial {
            v.error("Device not configured to support serial connection.");
            return Ok(());
        }
        match primary_connection(&v.job.device) {
            Ok((command, tags)) => {
                self.command = host::split_command(&command).map_err(Error::configuration)?;
                self.tags = tags;
                if let Some(program) = self.command.first() {
                    host::which(program)?;
                } else {
                    v.error("The connection command is empty");
                }
            }
            Err(e) => v.error(e.message),
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let ns = ctx.namespace().to_string();
        let cns = ctx.node.block.connection_namespace().to_string();
        if let Some(existing) = ctx.data.connection(&cns) {
            ctx.logger.debug("Already connected");
            ctx.data.set_connection(&ns, existing);
            return Ok(());
        }
        if cns != ns {
            return Err(Error::job(format!(
                "Unable to reuse the connection of namespace '{cns}': it has none"
            )));
        }
        ctx.logger.info(format!(
            "[{ns}] connect-device Connecting to device using '{}'",
            self.command.join(" ")
        ));
        let mut session =
            ShellSession::spawn(&self.command, ctx.logger.clone(), SessionKind::Plain)?;
        session.tags = self.tags.clone();
        session.connection_timeout = ctx.node.connection_timeout;
        session.prompts = vec![default_prompt(&ctx.job.device)];
        check_connected(&mut session, ctx)?;
        ctx.data.set_connection(&ns, session.into_handle());
        Ok(())
    }
}

/// The device's `default-shell-prompt` constant (`lava-test: # `).
pub fn default_prompt(device: &DeviceConfig) -> String {
    device
        .constant(None, "default-shell-prompt")
        .and_then(Value::as_str)
        .map(regex::escape)
        .unwrap_or_else(|| "lava-test: # ".into())
}

/// Watch a new console for up to a second: an immediate end of file or a
/// known refusal ("Connection refused", "Port already in use") is an
/// infrastructure error now, not a prompt timeout minutes later.
fn check_connected(session: &mut ShellSession, ctx: &RunContext<'_>) -> Result<(), Error> {
    let errors = [
        "Connection refused",
        "Port already in use",
        "Unable to connect to remote host",
        "No route to host",
        "Connection closed by foreign host",
    ];
    let until = ctx.deadline.within(Duration::from_secs(1));
    while Instant::now() < until {
        let got = session.fill(Some(until), ctx.cancel)?;
        if let Some(e) = errors.iter().find(|e| session.buffered().contains(**e)) {
            return Err(Error::infrastructure(format!(
                "Connection to the device failed: {e}"
            )));
        }
        if session.is_eof() {
            return Err(Error::infrastructure(
                "Connection closed: the connection command exited",
            ));
        }
        if !got || session.buffered().contains('\n') {
            break;
        }
    }
    Ok(())
}

/// `minimal-boot`: connect, reset (unless `reset: false`), log in.
#[derive(Debug, Default)]
pub struct MinimalBoot;

const ABOUT_MINIMAL_BOOT: About = About::new(
    "minimal-boot",
    "connect and reset device",
    "connect and reset device",
);

impl Action for MinimalBoot {
    fn about(&self) -> About {
        ABOUT_MINIMAL_BOOT
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        /// What `minimal` reads from its block.
        #[derive(serde::Deserialize)]
        struct MinimalParams {
            /// `false`: connect without resetting the device.
            reset: Option<bool>,
        }
        p.add(ConnectDevice::default());
        let params: MinimalParams = p.block.params()?;
        if params.reset.unwrap_or(true) {
            p.add(ResetDevice);
        }
        add_login_tail(p);
        Ok(())
    }
}

/// `boot: {method: minimal}`.
#[derive(Debug, Default)]
pub struct MinimalStrategy;

impl Strategy for MinimalStrategy {
    fn name(&self) -> &str {
        "minimal"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn handles(&self) -> &'static [&'static str] {
        &["minimal"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Boot.require(block, "minimal")?;
        Family::Boot.require_device(device, "minimal")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(MinimalBoot))
    }
}

/// The block's prompts (a single string is accepted as a list of one).
pub fn block_prompts(block: &Block) -> Vec<String> {
    match block.get("prompts") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(crate::job::scalar(other)),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Compile patterns, with a `Job` error naming a bad one.
pub fn patterns(list: &[String]) -> Result<Vec<Pattern>, Error> {
    crate::connection::compile(list)
}
