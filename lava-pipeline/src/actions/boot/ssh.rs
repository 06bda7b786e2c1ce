//! `deploy: {to: ssh}` and `boot: {method: ssh}` (docs/pipeline.md §10.5):
//! a device that is already running and reached over SSH — a VM, a cloud
//! instance, a board booted by other means. The device's `ssh` deploy
//! method names the host, port, user, identity file and ssh options (LAVA's
//! `ssh.jinja2`).
//!
//! ```text
//! scp-overlay                   deploy: the test overlay, packed
//! ├─ lava-overlay
//! ├─ prepare-scp-overlay        publishes the packed overlay for the boot
//! └─ deploy-device-env
//!
//! login-ssh                     boot, retry action
//! ├─ scp-deploy                 the overlay copied to <results dir>-<file>
//! ├─ prepare-ssh                the host (MultiNode's secondary hosts: refused)
//! ├─ ssh-connection             ssh on a pty: the connection
//! ├─ auto-login-action          (no kernel to wait for)
//! ├─ expect-shell-connection
//! ├─ export-device-env
//! └─ scp-overlay-unpack         tar -C / -xzf <copied overlay>
//! ```
//!
//! LAVA copies the overlay with `scp`. Since OpenSSH 9 `scp` needs an SFTP
//! server on the device, which small sshds (dropbear) lack; this
//! dispatcher copies it through `ssh <host> "cat > <file>"` instead, which
//! any SSH server runs. The action keeps LAVA's name.

use std::path::Path;
use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::actions::boot::default_prompt;
use crate::actions::boot::login::{AutoLogin, ExpectShellConnection, ExportDeviceEnv};
use crate::actions::deploy::overlay::{DeployDeviceEnv, LavaOverlay};
use crate::connection::{SessionKind, ShellSession};
use crate::error::{Error, ErrorKind};
use crate::host::{self, shell_quote};
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Strategy};

/// The device's `actions.deploy.methods.ssh`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshTarget {
    /// `host` (empty: not set).
    pub host: String,
    /// `port` (22).
    pub port: u16,
    /// `user` (`root`).
    pub user: String,
    /// `identity_file`, if any.
    pub identity_file: Option<String>,
    /// `options`: arguments given to every ssh command.
    pub options: Vec<String>,
}

impl SshTarget {
    /// Read the device's ssh deploy method, or say what is wrong with it.
    pub fn of(device: &DeviceConfig) -> Result<SshTarget, String> {
        let settings = device
            .actions
            .as_ref()
            .and_then(|a| a.deploy_methods.get("ssh"))
            .ok_or("The device has no ssh deploy method")?;
        let text = |key: &str| {
            settings
                .get(key)
                .filter(|v| !v.is_null())
                .map(scalar)
                .filter(|s| !s.is_empty())
        };
        let port = match text("port") {
            None => 22,
            Some(p) => p
                .parse()
                .map_err(|_| format!("Port was set but was not a number: '{p}'"))?,
        };
        let options = match settings.get("options") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
            Some(_) => return Err("The ssh 'options' must be a list".into()),
        };
        Ok(SshTarget {
            host: text("host").unwrap_or_default(),
            port,
            user: text("user").unwrap_or_else(|| "root".into()),
            identity_file: text("identity_file"),
            options,
        })
    }

    /// `ssh <options> -o UserKnownHostsFile=/dev/null -o
    /// StrictHostKeyChecking=no [-i key] -p <port> <user>@<host>`, then
    /// `remote` (a command run there instead of a login shell).
    pub fn command(&self, remote: &[&str]) -> Vec<String> {
        let mut argv = vec!["ssh".to_string()];
        argv.extend(self.options.iter().cloned());
        for option in ["UserKnownHostsFile=/dev/null", "StrictHostKeyChecking=no"] {
            argv.extend(["-o".to_string(), option.to_string()]);
        }
        if let Some(key) = &self.identity_file {
            argv.extend(["-i".to_string(), key.clone()]);
        }
        argv.extend(["-p".to_string(), self.port.to_string()]);
        argv.push(format!("{}@{}", self.user, self.host));
        argv.extend(remote.iter().map(|s| s.to_string()));
        argv
    }
}

/// `deploy: {to: ssh}` on a device with an `ssh` deploy method.
#[derive(Debug, Default)]
pub struct SshDeployStrategy;

impl Strategy for SshDeployStrategy {
    fn name(&self) -> &str {
        "ssh"
    }
    fn family(&self) -> Family {
        Family::Deploy
    }
    fn handles(&self) -> &'static [&'static str] {
        &["ssh"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Deploy.require(block, "ssh")?;
        Family::Deploy.require_device(device, "ssh")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(ScpOverlay))
    }
}

/// `scp-overlay`.
#[derive(Debug, Default)]
pub struct ScpOverlay;

const ABOUT_SCP_OVERLAY: About = About::new(
    "scp-overlay",
    "prepare overlay and scp to device",
    "copy overlay to device",
);

impl Action for ScpOverlay {
    fn about(&self) -> About {
        ABOUT_SCP_OVERLAY
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let ns = p.block.namespace.clone();
        if p.job.needs_overlay(&ns) {
            p.add(LavaOverlay::default());
        }
        p.add(PrepareScpOverlay);
        if p.job.needs_deployment_data(&ns) {
            p.add(DeployDeviceEnv);
        }
        Ok(())
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let ns = v.node.block.namespace.clone();
        if !v.job.needs_shell(&ns) {
            v.error("Scp overlay needs a test action.");
        }
        Ok(())
    }
}

/// `prepare-scp-overlay`: the packed overlay, published for `scp-deploy`.
#[derive(Debug, Default)]
pub struct PrepareScpOverlay;

const ABOUT_PREPARE_SCP_OVERLAY: About = About::new(
    "prepare-scp-overlay",
    "copy the overlay over an existing ssh connection",
    "scp the overlay to the remote device",
);

impl Action for PrepareScpOverlay {
    fn about(&self) -> About {
        ABOUT_PREPARE_SCP_OVERLAY
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let overlay = ctx
            .get_str("compress-overlay", "output", "file")
            .ok_or_else(|| Error::job("No overlay was packed for the ssh deployment"))?;
        ctx.logger.info(format!(
            "Preparing to copy: {}",
            Path::new(&overlay)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        ));
        ctx.set(
            "prepare-scp-overlay",
            "scp-deploy",
            "overlay",
            overlay.as_str(),
        );
        Ok(())
    }
}

/// `boot: {method: ssh}` on a device with an `ssh` boot method.
#[derive(Debug, Default)]
pub struct SshBootStrategy;

impl Strategy for SshBootStrategy {
    fn name(&self) -> &str {
        "ssh"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn handles(&self) -> &'static [&'static str] {
        &["ssh"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Boot.require(block, "ssh")?;
        Family::Boot.require_device(device, "ssh")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(LoginSsh))
    }
}

/// `login-ssh`.
#[derive(Debug, Default)]
pub struct LoginSsh;

const ABOUT_LOGIN_SSH: About = About::new(
    "login-ssh",
    "connect over ssh and ensure a shell is found",
    "login over ssh",
);

impl Action for LoginSsh {
    fn about(&self) -> About {
        ABOUT_LOGIN_SSH
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(ScpDeploy::default());
        p.add(PrepareSsh);
        p.add(SshConnection::default());
        p.add(AutoLogin::default());
        p.add(ExpectShellConnection);
        p.add(ExportDeviceEnv::default());
        p.add(ScpOverlayUnpack);
        Ok(())
    }
}

/// `scp-deploy`: the overlay copied to `<results dir>-<file name>` on the
/// device.
#[derive(Debug, Default)]
pub struct ScpDeploy {
    target: SshTarget,
}

const ABOUT_SCP_DEPLOY: About = About::new(
    "scp-deploy",
    "copy a file to a known device using scp",
    "scp over the ssh connection",
);

impl Action for ScpDeploy {
    fn about(&self) -> About {
        ABOUT_SCP_DEPLOY
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if !v.job.device.has_deploy_method("ssh") {
            v.error("Unable to use scp-deploy without ssh deployment");
        }
        match SshTarget::of(&v.job.device) {
            Ok(target) => {
                if target.host.is_empty() {
                    v.error("Unable to retrieve ssh_host address for primary connection.");
                }
                self.target = target;
            }
            Err(e) => v.error(e),
        }
        host::which("ssh")?;
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let Some(overlay) = ctx.get_str("prepare-scp-overlay", "scp-deploy", "overlay") else {
            return Err(Error::job(
                "scp-deploy: could not find details of 'overlay' (is the ssh deploy missing?)",
            ));
        };
        let name = Path::new(&overlay)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let destination = format!("{}-{name}", ctx.job.results_dir(ctx.namespace()));
        let remote = format!("cat > {}", shell_quote(&destination));
        let argv = self.target.command(&[remote.as_str()]);
        ctx.logger.info(format!(
            "Copying overlay to {}@{}:{destination}",
            self.target.user, self.target.host
        ));
        host::run_with_input(
            &argv,
            Path::new(&overlay),
            &ctx.deadline,
            ctx.cancel,
            ctx.logger,
            ErrorKind::Infrastructure,
        )
        .map_err(|e| Error::new(e.kind, format!("Unable to copy overlay: {}", e.message)))?;
        ctx.results.insert("success", "ssh deployment");
        ctx.set(
            "scp-deploy",
            "scp-overlay-unpack",
            "overlay",
            destination.as_str(),
        );
        Ok(())
    }
}

/// `prepare-ssh`: the device's own host; a host published by MultiNode
/// (`parameters.hostID`) is not supported.
#[derive(Debug, Default)]
pub struct PrepareSsh;

const ABOUT_PREPARE_SSH: About = About::new(
    "prepare-ssh",
    "determine which address to use for primary or secondary connections",
    "set the host address of the ssh connection",
);

impl Action for PrepareSsh {
    fn about(&self) -> About {
        ABOUT_PREPARE_SSH
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        if v.node
            .block
            .get("parameters")
            .is_some_and(|p| p.get("hostID").is_some())
        {
            v.error(
                "Secondary ssh connections (parameters.hostID, from MultiNode) are not supported",
            );
        }
        Ok(())
    }
}

/// `ssh-connection`: `ssh` to the device on a pty, as the namespace's
/// connection.
#[derive(Debug, Default)]
pub struct SshConnection {
    command: Vec<String>,
}

const ABOUT_SSH_CONNECTION: About = About::new(
    "ssh-connection",
    "login to a known device using ssh",
    "make an ssh connection to a device",
);

impl Action for SshConnection {
    fn about(&self) -> About {
        ABOUT_SSH_CONNECTION
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        match SshTarget::of(&v.job.device) {
            Ok(target) => {
                self.command = target.command(&[]);
                // a terminal on the device: the test shell is interactive
                self.command.insert(1, "-tt".into());
            }
            Err(e) => v.error(e),
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let ns = ctx.namespace().to_string();
        ctx.logger.info(format!(
            "Connecting to the device using '{}'",
            self.command.join(" ")
        ));
        let mut session =
            ShellSession::spawn(&self.command, ctx.logger.clone(), SessionKind::Plain)?;
        session.tags = vec!["ssh".into()];
        session.connection_timeout = ctx.node.connection_timeout;
        session.prompts = vec![default_prompt(&ctx.job.device)];
        ctx.data.set_connection(&ns, session.into_handle());
        Ok(())
    }
}

/// `scp-overlay-unpack`: unpack the copied overlay at `/` over the
/// connection.
#[derive(Debug, Default)]
pub struct ScpOverlayUnpack;

const ABOUT_SCP_OVERLAY_UNPACK: About = About::new(
    "scp-overlay-unpack",
    "unpack the overlay over an existing ssh connection",
    "unpack the overlay on the remote device",
);

impl Action for ScpOverlayUnpack {
    fn about(&self) -> About {
        ABOUT_SCP_OVERLAY_UNPACK
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let session = ctx
            .connection()
            .ok_or_else(|| Error::bug("Cannot unpack, no connection available."))?;
        let file = ctx
            .get_str("scp-deploy", "scp-overlay-unpack", "overlay")
            .ok_or_else(|| Error::bug("scp-overlay-unpack: no overlay was copied"))?;
        let mut s = crate::connection::lock(&session);
        s.sendline(
            &format!("tar -C / -xzf {}", shell_quote(&file)),
            ctx.node.character_delay,
            ctx.cancel,
        )?;
        s.wait_prompt(&ctx.deadline, ctx.cancel)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(deploy_ssh: &str) -> DeviceConfig {
        DeviceConfig::from_yaml(&format!(
            "actions:\n  deploy:\n    methods:\n      ssh: {deploy_ssh}\n  boot:\n    connections: {{serial: null}}\n    methods: {{ssh: null}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn the_target_comes_from_the_ssh_deploy_method_with_lavas_defaults() {
        let target = SshTarget::of(&device(
            "{host: board.lab, options: ['-o', 'Compression=yes'], identity_file: /etc/lava/id}",
        ))
        .unwrap();
        assert_eq!(
            target.command(&["cat > '/lava-7-overlay.tar.gz'"]),
            [
                "ssh",
                "-o",
                "Compression=yes",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-i",
                "/etc/lava/id",
                "-p",
                "22",
                "root@board.lab",
                "cat > '/lava-7-overlay.tar.gz'"
            ]
        );
        let other = SshTarget::of(&device("{host: 10.0.0.5, port: 2222, user: lava}")).unwrap();
        assert_eq!(other.command(&[])[5..], ["-p", "2222", "lava@10.0.0.5"]);
    }

    #[test]
    fn a_bad_port_or_options_is_named() {
        assert_eq!(
            SshTarget::of(&device("{host: h, port: twenty}")).unwrap_err(),
            "Port was set but was not a number: 'twenty'"
        );
        assert_eq!(
            SshTarget::of(&device("{host: h, options: '-o X=y'}")).unwrap_err(),
            "The ssh 'options' must be a list"
        );
        // LAVA's template leaves the host empty until the dictionary sets it
        assert_eq!(SshTarget::of(&device("{host: ''}")).unwrap().host, "");
    }
}
