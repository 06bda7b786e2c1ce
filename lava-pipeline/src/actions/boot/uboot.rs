//! `boot: {method: u-boot}` (docs/pipeline.md §10.1, §10.2): a board whose
//! firmware is U-Boot, reached over its serial console.
//!
//! ```text
//! uboot-action                  retry action
//! ├─ bootloader-overlay         the device's command set, substituted
//! ├─ connect-device             the console, opened before the reset
//! └─ uboot-retry                retry action
//!    ├─ reset-device            pdu-reboot (hard_reset), else soft reboot
//!    ├─ bootloader-interrupt    wait for the autoboot prompt, interrupt it
//!    ├─ bootloader-commands     each command, checked for U-Boot errors
//!    ├─ auto-login-action       (if the block has prompts)
//!    ├─ expect-shell-connection (if a test needs a shell)
//!    └─ export-device-env
//! ```
//!
//! Substitution ([`substitute`]): every placeholder of the table whose
//! value is known is replaced; a line holding a placeholder of the table
//! without a value is dropped (so one command set serves jobs with and
//! without a device tree or ramdisk); placeholders outside the table and
//! U-Boot's own `${var}` are left alone.

use std::sync::Arc;
use std::time::Duration;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::actions::boot::{add_login_tail, ConnectDevice};
use crate::actions::power::ResetDevice;
use crate::connection::{self, WaitOutcome};
use crate::error::{Error, ErrorKind};
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Strategy};

/// U-Boot's messages that mean the boot went wrong (the `u-boot`
/// `error-messages` constants of LAVA's base template).
pub const UBOOT_ERRORS: [&str; 12] = [
    "Resetting CPU",
    "Must RESET board to recover",
    "TIMEOUT",
    "Retry count exceeded",
    "Retry time exceeded; starting again",
    "ERROR: The remote end did not respond in time.",
    "File not found",
    "Bad Linux ARM64 Image magic!",
    "Wrong Ramdisk Image Format",
    "Ramdisk image is corrupt or invalid",
    "ERROR: Failed to allocate",
    "TFTP error: trying to overwrite reserved memory",
];

/// `boot: {method: u-boot, commands: ...}` on a device with a `u-boot`
/// boot method.
#[derive(Debug, Default)]
pub struct UBootStrategy;

impl Strategy for UBootStrategy {
    fn name(&self) -> &str {
        "u-boot"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Boot.require(block, "u-boot")?;
        if block.get("commands").is_none() {
            return Err("'commands' not in the boot parameters".into());
        }
        Family::Boot.require_device(device, "u-boot")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(UBootAction))
    }
}

/// Apply the substitution table to `commands` (drop mode, §10.2).
pub fn substitute(commands: &[String], table: &[(String, Option<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    'line: for command in commands {
        let mut line = command.clone();
        for (key, value) in table {
            if !line.contains(key.as_str()) {
                continue;
            }
            match value {
                Some(v) if !v.is_empty() => line = line.replace(key.as_str(), v),
                _ => continue 'line,
            }
        }
        out.push(line);
    }
    out
}

/// What the substitution table is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployed {
    /// `dispatcher_ip`.
    pub server_ip: Option<String>,
    /// TFTP-relative kernel.
    pub kernel: Option<String>,
    /// TFTP-relative device tree.
    pub dtb: Option<String>,
    /// TFTP-relative ramdisk.
    pub ramdisk: Option<String>,
    /// The boot command (`booti`, `bootz`, `bootm`) with the device's
    /// load addresses for it.
    pub boot: Option<(String, lava_devices::LoadAddresses)>,
    /// Whether the ramdisk carries a U-Boot header (`add_header`).
    pub ramdisk_header: bool,
    /// The method's `lava_mac`.
    pub lava_mac: Option<String>,
    /// The NFS root: the unpacked `nfsrootfs` (absolute path on the
    /// worker) or the path of `persistent_nfs` on its server.
    pub nfsrootfs: Option<String>,
    /// The server of a `persistent_nfs` root (an unpacked `nfsrootfs` is
    /// served by the worker: `server_ip`).
    pub nfs_server: Option<String>,
}

impl Deployed {
    /// The substitution table.
    pub fn table(&self) -> Vec<(String, Option<String>)> {
        let mut table = vec![
            ("{SERVER_IP}".to_string(), self.server_ip.clone()),
            ("{KERNEL}".to_string(), self.kernel.clone()),
            ("{DTB}".to_string(), self.dtb.clone()),
            ("{RAMDISK}".to_string(), self.ramdisk.clone()),
            ("{INITRD}".to_string(), self.ramdisk.clone()),
            ("{LAVA_MAC}".to_string(), self.lava_mac.clone()),
            ("{NFSROOTFS}".to_string(), self.nfsrootfs.clone()),
            (
                "{NFS_SERVER_IP}".to_string(),
                self.nfsrootfs
                    .as_ref()
                    .and(self.nfs_server.clone().or_else(|| self.server_ip.clone())),
            ),
        ];
        if let Some((command, addresses)) = &self.boot {
            let ramdisk_addr = if self.ramdisk.is_some() {
                addresses.ramdisk.clone()
            } else {
                "-".to_string()
            };
            // a ramdisk without a U-Boot header needs its size
            let bootx_ramdisk = if self.ramdisk.is_some() && !self.ramdisk_header {
                format!("{ramdisk_addr}:${{initrd_size}}")
            } else {
                ramdisk_addr.clone()
            };
            let dtb_addr = if self.dtb.is_some() {
                addresses.dtb.clone()
            } else {
                String::new()
            };
            let bootx = format!("{command} {} {bootx_ramdisk} {dtb_addr}", addresses.kernel);
            table.push(("{KERNEL_ADDR}".into(), Some(addresses.kernel.clone())));
            table.push(("{DTB_ADDR}".into(), Some(addresses.dtb.clone())));
            table.push(("{RAMDISK_ADDR}".into(), Some(ramdisk_addr)));
            table.push(("{BOOTX}".into(), Some(bootx.trim_end().to_string())));
        }
        table
    }
}

/// The dispatcher's address for the board: `dispatcher_ip` of the
/// dispatcher configuration, else the address the host would use for
/// outside traffic (no packet is sent).
pub fn dispatcher_ip(dispatcher: &lava_proto::yaml::Mapping) -> Result<String, Error> {
    if let Some(ip) = dispatcher.get("dispatcher_ip").map(scalar) {
        if !ip.is_empty() {
            return Ok(ip);
        }
    }
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map_err(|e| {
            Error::infrastructure(format!(
                "Unable to find the dispatcher's IP address (set dispatcher_ip): {e}"
            ))
        })?;
    Ok(socket.ip().to_string())
}

/// `uboot-action`.
#[derive(Debug, Default)]
pub struct UBootAction;

const ABOUT_UBOOT_ACTION: About = About::new(
    "uboot-action",
    "interactive uboot action",
    "pass uboot commands",
);

impl Action for UBootAction {
    fn about(&self) -> About {
        ABOUT_UBOOT_ACTION
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(BootloaderOverlay::default());
        p.add(ConnectDevice::default());
        p.add(UBootRetry);
        Ok(())
    }
}

/// `uboot-retry`.
#[derive(Debug, Default)]
pub struct UBootRetry;

const ABOUT_UBOOT_RETRY: About = About::new(
    "uboot-retry",
    "interactive uboot retry action",
    "uboot commands with retry",
);

impl Action for UBootRetry {
    fn about(&self) -> About {
        ABOUT_UBOOT_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(ResetDevice);
        p.add(BootloaderInterrupt::default());
        p.add(BootloaderCommands::default());
        add_login_tail(p);
        Ok(())
    }
}

/// `bootloader-overlay`: the command list for the job.
#[derive(Debug, Default)]
pub struct BootloaderOverlay {
    commands: Vec<String>,
}

const ABOUT_BOOTLOADER_OVERLAY: About = About::new(
    "bootloader-overlay",
    "substitute job data into bootloader command list",
    "replace placeholders with job data",
);

impl Action for BootloaderOverlay {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_OVERLAY
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let block = v.node.block.clone();
        match block.get("commands") {
            Some(Value::Sequence(items)) => {
                v.job.device.boot_method("u-boot");
                self.commands = items.iter().map(scalar).collect();
            }
            Some(Value::String(name)) => {
                match v
                    .job
                    .device
                    .boot_method("u-boot")
                    .and_then(|m| m.commands(name))
                {
                    Some(list) if !list.is_empty() => self.commands = list.to_vec(),
                    Some(_) => v.error("No commands found in parameters"),
                    None => v.error(format!("Command '{name}' not found in supported methods")),
                }
            }
            _ => v.error("missing commands"),
        }
        if let Some(mac) = v
            .job
            .device
            .boot_method("u-boot")
            .and_then(|m| m.parameters.get("lava_mac"))
            .map(scalar)
        {
            let ok = mac.split(':').count() == 6
                && mac
                    .split(':')
                    .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
            if !ok {
                v.error("lava_mac is not a valid mac address");
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        if ctx
            .node
            .block
            .get("commands")
            .is_some_and(|v| v.as_sequence().is_some())
        {
            ctx.logger
                .warning("Using the boot commands of the job: they replace the device's");
        }
        let device = &ctx.job.device;
        let boot = ctx
            .get_str("uboot-prepare-kernel", "bootcommand", "bootcommand")
            .and_then(|c| device.load_addresses(&c).map(|a| (c, a)));
        let add_header = device
            .actions
            .as_ref()
            .and_then(|a| a.deploy_parameters.get("add_header"))
            .map(scalar)
            .as_deref()
            == Some("u-boot");
        let deployed = Deployed {
            server_ip: Some(dispatcher_ip(&ctx.job.dispatcher)?),
            kernel: ctx.get_str("download-action", "file", "kernel"),
            dtb: ctx.get_str("download-action", "file", "dtb"),
            ramdisk: ctx.get_str("compress-ramdisk", "file", "ramdisk"),
            boot,
            ramdisk_header: add_header,
            lava_mac: device
                .boot_method("u-boot")
                .and_then(|m| m.parameters.get("lava_mac"))
                .map(scalar),
            nfsrootfs: ctx
                .get_str("extract-rootfs", "file", "nfsroot")
                .or_else(|| ctx.get_str("persistent-nfs-overlay", "nfs_address", "nfsroot")),
            nfs_server: ctx.get_str("persistent-nfs-overlay", "nfs_address", "serverip"),
        };
        let table = deployed.table();
        ctx.logger.debug("substitutions:");
        for (key, value) in &table {
            ctx.logger
                .debug(format!("- {key}: {}", value.as_deref().unwrap_or("None")));
        }
        let commands = substitute(&self.commands, &table);
        ctx.logger.info("Parsed boot commands:");
        for command in &commands {
            ctx.logger.info(format!("- {command}"));
        }
        if let Some((_, addresses)) = &deployed.boot {
            ctx.results.insert("kernel_addr", addresses.kernel.as_str());
            ctx.results.insert("dtb_addr", addresses.dtb.as_str());
            ctx.results
                .insert("ramdisk_addr", addresses.ramdisk.as_str());
        }
        let list: Vec<Value> = commands.iter().map(|c| Value::from(c.as_str())).collect();
        ctx.set(
            "bootloader-overlay",
            "u-boot",
            "commands",
            Value::Sequence(list),
        );
        Ok(())
    }
}

fn bootloader_prompt(device: &DeviceConfig) -> Option<String> {
    device
        .boot_method("u-boot")
        .and_then(|m| m.bootloader().bootloader_prompt)
}

fn constant_text(device: &DeviceConfig, name: &str) -> Option<String> {
    device.constant(Some("u-boot"), name).and_then(|v| match v {
        Value::Null => None,
        other => Some(scalar(other)),
    })
}

/// `bootloader-interrupt`.
#[derive(Debug, Default)]
pub struct BootloaderInterrupt {
    prompt: String,
    interrupt: String,
    character: String,
    newline: bool,
    ctrl: Vec<String>,
    needs_interrupt: bool,
}

const ABOUT_BOOTLOADER_INTERRUPT: About = About::new(
    "bootloader-interrupt",
    "interrupt bootloader",
    "interrupt bootloader to get an interactive shell",
);

impl Action for BootloaderInterrupt {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_INTERRUPT
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let device = &v.job.device;
        let Some(method) = device.boot_method("u-boot") else {
            v.error("The device has no u-boot boot method");
            return Ok(());
        };
        let params = method.bootloader();
        match params.bootloader_prompt {
            Some(p) => self.prompt = p,
            None => v.error("Missing bootloader prompt for device"),
        }
        self.interrupt = params
            .interrupt_prompt
            .or_else(|| constant_text(device, "interrupt-prompt"))
            .unwrap_or_else(|| "Hit any key to stop autoboot".into());
        self.character = params
            .interrupt_char
            .or_else(|| constant_text(device, "interrupt-character"))
            .unwrap_or_else(|| " ".into());
        self.newline = device
            .constant(Some("u-boot"), "interrupt-newline")
            .map(|v| !matches!(v, Value::Bool(false)) && scalar(v).to_lowercase() != "false")
            .unwrap_or(true);
        self.ctrl = if params.interrupt_ctrl_list.is_empty() {
            device
                .constant(Some("u-boot"), "interrupt_ctrl_list")
                .and_then(Value::as_sequence)
                .map(|s| s.iter().map(scalar).collect())
                .unwrap_or_default()
        } else {
            params.interrupt_ctrl_list
        };
        self.needs_interrupt = params.needs_interrupt.unwrap_or(true);
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let session = ctx
            .connection()
            .ok_or_else(|| Error::bug("bootloader-interrupt: no connection"))?;
        let mut s = connection::lock(&session);
        let until = ctx.deadline.within(Duration::from_secs(86_400));
        if !self.needs_interrupt {
            ctx.logger.info("Not interrupting the bootloader");
            let prompt = crate::connection::compile(std::slice::from_ref(&self.prompt))?;
            return match s.expect(&prompt, until, ctx.cancel)? {
                WaitOutcome::Matched(_) => {
                    drop(s);
                    ctx.set("interrupt", "interrupt", "at_bootloader_prompt", true);
                    Ok(())
                }
                WaitOutcome::Timeout => Err(ctx.timeout_error()),
                WaitOutcome::Eof => Err(Error::infrastructure(
                    "Connection closed while waiting for the bootloader prompt",
                )),
            };
        }
        let patterns = crate::connection::compile(&[regex::escape(&self.interrupt)])?;
        match s.expect(&patterns, until, ctx.cancel)? {
            WaitOutcome::Matched(_) => {}
            WaitOutcome::Timeout => {
                return Err(Error::new(
                    ErrorKind::Infrastructure,
                    format!(
                        "{} timed out waiting for '{}'",
                        ctx.node.name, self.interrupt
                    ),
                ))
            }
            WaitOutcome::Eof => {
                return Err(Error::infrastructure(
                    "Connection closed while waiting for the autoboot prompt",
                ))
            }
        }
        if !self.ctrl.is_empty() {
            for c in &self.ctrl {
                let ch = c.chars().next().unwrap_or('c');
                s.sendcontrol(ch)?;
            }
        } else if self.newline {
            s.sendline(&self.character, Duration::ZERO, ctx.cancel)?;
        } else {
            s.send(&self.character, Duration::ZERO, ctx.cancel)?;
        }
        Ok(())
    }
}

/// `bootloader-commands`.
#[derive(Debug, Default)]
pub struct BootloaderCommands {
    prompt: String,
    final_message: Option<String>,
    errors: Vec<String>,
}

const ABOUT_BOOTLOADER_COMMANDS: About = About::new(
    "bootloader-commands",
    "send commands to bootloader",
    "interactive bootloader",
);

impl Action for BootloaderCommands {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_COMMANDS
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let device = &v.job.device;
        match bootloader_prompt(device) {
            Some(p) => self.prompt = p,
            None => v.error("Missing bootloader prompt for device"),
        }
        self.final_message = Some(
            constant_text(device, "final-message").unwrap_or_else(|| "Starting kernel".into()),
        );
        self.errors = match device
            .constant(Some("u-boot"), "error-messages")
            .and_then(Value::as_sequence)
        {
            Some(list) => list.iter().map(scalar).collect(),
            None => UBOOT_ERRORS.iter().map(|s| s.to_string()).collect(),
        };
        v.set(
            "uboot-retry",
            "bootloader_prompt",
            "prompt",
            self.prompt.as_str(),
        );
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let session = ctx
            .connection()
            .ok_or_else(|| Error::bug("bootloader-commands: no connection"))?;
        let commands: Vec<String> = match ctx.get("bootloader-overlay", "u-boot", "commands") {
            Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
            _ => {
                return Err(Error::bug(
                    "bootloader-commands: no commands from bootloader-overlay",
                ))
            }
        };
        let at_prompt = ctx
            .get("interrupt", "interrupt", "at_bootloader_prompt")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut list = vec![self.prompt.clone()];
        list.extend(self.errors.iter().map(|e| regex::escape(e)));
        let patterns = crate::connection::compile(&list)?;
        let prompt_only = crate::connection::compile(std::slice::from_ref(&self.prompt))?;
        let until = ctx.deadline.within(Duration::from_secs(86_400));
        let delay = ctx.node.character_delay;
        let mut s = connection::lock(&session);
        s.line_separator = "\n".into();
        if !at_prompt {
            wait(&mut s, &prompt_only, until, ctx)?;
        }
        let last = commands.len().saturating_sub(1);
        for (i, command) in commands.iter().enumerate() {
            // whatever came before (a second prompt after the interrupt's
            // newline) is not the answer to this command
            s.discard_buffer();
            s.sendline(command, delay, ctx.cancel)?;
            if i == last {
                break;
            }
            // the echo first, so that a stale prompt is not taken for the
            // end of this command
            let echo = crate::connection::compile(&[regex::escape(command)])?;
            wait(&mut s, &echo, until, ctx)?;
            let m = wait(&mut s, &patterns, until, ctx)?;
            if m.index != 0 {
                return Err(Error::infrastructure(format!(
                    "matched a bootloader error message: '{}' ({})",
                    m.matched, m.index
                )));
            }
        }
        if let Some(message) = &self.final_message {
            let mut list = vec![regex::escape(message)];
            list.extend(self.errors.iter().map(|e| regex::escape(e)));
            let finals = crate::connection::compile(&list)?;
            let m = wait(&mut s, &finals, until, ctx)?;
            if m.index != 0 {
                return Err(Error::infrastructure(format!(
                    "matched a bootloader error message: '{}' ({})",
                    m.matched, m.index
                )));
            }
        }
        Ok(())
    }
}

fn wait(
    s: &mut crate::connection::ShellSession,
    patterns: &[crate::connection::expect::Pattern],
    until: std::time::Instant,
    ctx: &RunContext<'_>,
) -> Result<crate::connection::expect::Match, Error> {
    match s.expect(patterns, until, ctx.cancel)? {
        WaitOutcome::Matched(m) => Ok(m),
        WaitOutcome::Timeout => Err(Error::new(
            ErrorKind::Infrastructure,
            format!(
                "{} timed out waiting for '{}'",
                ctx.node.name,
                patterns
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join("' or '")
            ),
        )),
        WaitOutcome::Eof => Err(Error::infrastructure(
            "Connection closed while talking to the bootloader",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn addresses() -> lava_devices::LoadAddresses {
        lava_devices::LoadAddresses {
            kernel: "0x40400000".into(),
            ramdisk: "0x44000000".into(),
            dtb: "0x48000000".into(),
        }
    }

    #[test]
    fn known_placeholders_are_replaced_everywhere_and_uboot_variables_kept() {
        let table = vec![
            ("{SERVER_IP}".to_string(), Some("10.0.2.2".to_string())),
            (
                "{KERNEL}".to_string(),
                Some("7/tftp-deploy-1/kernel/Image".to_string()),
            ),
        ];
        let out = substitute(
            &lines(&[
                "setenv serverip {SERVER_IP}; ping {SERVER_IP}",
                "tftp ${kernel_addr_r} {KERNEL}",
                "setenv initrd_size ${filesize}",
                "echo {UNKNOWN}",
            ]),
            &table,
        );
        assert_eq!(
            out,
            [
                "setenv serverip 10.0.2.2; ping 10.0.2.2",
                "tftp ${kernel_addr_r} 7/tftp-deploy-1/kernel/Image",
                "setenv initrd_size ${filesize}",
                "echo {UNKNOWN}",
            ]
        );
    }

    #[test]
    fn a_line_whose_placeholder_has_no_value_is_dropped() {
        let deployed = Deployed {
            server_ip: Some("10.0.2.2".into()),
            kernel: Some("1/t/kernel/Image".into()),
            dtb: None,
            ramdisk: None,
            boot: Some(("booti".into(), addresses())),
            ramdisk_header: true,
            lava_mac: None,
            nfsrootfs: None,
            nfs_server: None,
        };
        let out = substitute(
            &lines(&[
                "setenv serverip {SERVER_IP}",
                "tftp {KERNEL_ADDR} {KERNEL}",
                "tftp {RAMDISK_ADDR} {RAMDISK}",
                "setenv initrd_size ${filesize}",
                "tftp {DTB_ADDR} {DTB}",
                "setenv ethaddr {LAVA_MAC}",
                "{BOOTX}",
            ]),
            &deployed.table(),
        );
        assert_eq!(
            out,
            [
                "setenv serverip 10.0.2.2",
                "tftp 0x40400000 1/t/kernel/Image",
                "setenv initrd_size ${filesize}",
                "booti 0x40400000 -",
            ]
        );
    }

    #[test]
    fn bootx_carries_the_size_of_a_ramdisk_without_header() {
        let mut deployed = Deployed {
            server_ip: Some("10.0.2.2".into()),
            kernel: Some("k".into()),
            dtb: Some("d".into()),
            ramdisk: Some("r".into()),
            boot: Some(("booti".into(), addresses())),
            ramdisk_header: true,
            lava_mac: None,
            nfsrootfs: None,
            nfs_server: None,
        };
        let bootx = |d: &Deployed| {
            d.table()
                .into_iter()
                .find(|(k, _)| k == "{BOOTX}")
                .and_then(|(_, v)| v)
                .unwrap()
        };
        assert_eq!(bootx(&deployed), "booti 0x40400000 0x44000000 0x48000000");
        deployed.ramdisk_header = false;
        assert_eq!(
            bootx(&deployed),
            "booti 0x40400000 0x44000000:${initrd_size} 0x48000000"
        );
    }

    #[test]
    fn nfs_roots_name_their_server() {
        let nfs =
            lines(&["setenv bootargs root=/dev/nfs nfsroot={NFS_SERVER_IP}:{NFSROOTFS},tcp,hard"]);
        // an unpacked nfsrootfs is served by the worker
        let unpacked = Deployed {
            server_ip: Some("192.0.2.10".into()),
            nfsrootfs: Some("/var/lib/lava/dispatcher/tmp/7/extract-nfsrootfs-x".into()),
            ..Deployed::default()
        };
        assert_eq!(
            substitute(&nfs, &unpacked.table()),
            ["setenv bootargs root=/dev/nfs nfsroot=192.0.2.10:/var/lib/lava/dispatcher/tmp/7/extract-nfsrootfs-x,tcp,hard"]
        );
        // a persistent root by its own server
        let persistent = Deployed {
            server_ip: Some("192.0.2.10".into()),
            nfsrootfs: Some("/srv/rootfs/debian".into()),
            nfs_server: Some("nfs.lab".into()),
            ..Deployed::default()
        };
        assert_eq!(
            substitute(&nfs, &persistent.table()),
            ["setenv bootargs root=/dev/nfs nfsroot=nfs.lab:/srv/rootfs/debian,tcp,hard"]
        );
        // no NFS root: the line goes
        let none = Deployed {
            server_ip: Some("192.0.2.10".into()),
            ..Deployed::default()
        };
        assert!(substitute(&nfs, &none.table()).is_empty());
    }

    #[test]
    fn without_a_boot_command_addresses_are_left_verbatim() {
        let deployed = Deployed {
            server_ip: Some("10.0.2.2".into()),
            kernel: Some("k".into()),
            ..Deployed::default()
        };
        let out = substitute(
            &lines(&["tftp {KERNEL_ADDR} {KERNEL}", "{BOOTX}"]),
            &deployed.table(),
        );
        assert_eq!(out, ["tftp {KERNEL_ADDR} k", "{BOOTX}"]);
    }

    #[test]
    fn the_dispatcher_ip_comes_from_the_configuration() {
        let conf = lava_proto::yaml::load("{dispatcher_ip: 10.0.2.2}").unwrap();
        assert_eq!(
            dispatcher_ip(conf.as_mapping().unwrap()).unwrap(),
            "10.0.2.2"
        );
    }
}
