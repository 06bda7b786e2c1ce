//! What the bootloader boots share (docs/pipeline.md §10.1, §10.2): the
//! device's command set substituted with the job's files
//! (`bootloader-overlay`), the autoboot interrupt (`bootloader-interrupt`)
//! and the commands typed at the bootloader's prompt
//! (`bootloader-commands`). U-Boot, iPXE and GRUB differ only in their
//! constants ([`Bootloader`]) and in the actions around these three.
//!
//! Substitution ([`substitute`]): every placeholder of the table whose
//! value is known is replaced; a line holding a placeholder of the table
//! without a value is dropped (so one command set serves jobs with and
//! without a device tree or ramdisk); placeholders outside the table and
//! the bootloaders' own `${var}` are left alone.

use std::path::Path;
use std::time::Duration;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Populate, RunContext, Validate};
use crate::actions::boot::{add_login_tail, ConnectDevice};
use crate::actions::power::ResetDevice;
use crate::connection::{self, WaitOutcome};
use crate::error::{Error, ErrorKind};
use crate::job::scalar;

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

/// iPXE's messages that mean the boot went wrong.
pub const IPXE_ERRORS: [&str; 2] = ["No configuration methods succeeded", "Connection timed out"];

/// GRUB's messages that mean the boot went wrong (regular expressions).
pub const GRUB_ERRORS: [&str; 1] = ["error: missing (.*) symbol."];

/// GRUB EFI's messages that mean the boot went wrong (regular
/// expressions).
pub const GRUB_EFI_ERRORS: [&str; 3] = [
    "Undefined OpCode Exception PC at",
    "Synchronous Exception at",
    "error: missing (.*) symbol.",
];

/// A bootloader's constants: what the device's `constants.<method>`
/// falls back to when the device type does not set them (the values of
/// LAVA's base template, docs/pipeline.md §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootloader {
    /// The boot method (`u-boot`, `ipxe`, `grub`, `grub-efi`): the key of
    /// the device's `actions.boot.methods` and of its `constants`.
    pub method: &'static str,
    /// The text after which the autoboot is interrupted.
    pub interrupt_prompt: &'static str,
    /// What is sent to interrupt it.
    pub interrupt_character: &'static str,
    /// Whether that character is followed by a newline.
    pub interrupt_newline: bool,
    /// Control characters sent instead (`b` for iPXE's Ctrl-B).
    pub interrupt_ctrl_list: &'static [&'static str],
    /// What the bootloader prints once the kernel is started, waited for
    /// after the last command (U-Boot only).
    pub final_message: Option<&'static str>,
    /// Messages that mean the boot failed (regular expressions).
    pub errors: &'static [&'static str],
}

impl Bootloader {
    /// U-Boot.
    pub const UBOOT: Bootloader = Bootloader {
        method: "u-boot",
        interrupt_prompt: "Hit any key to stop autoboot",
        interrupt_character: " ",
        interrupt_newline: true,
        interrupt_ctrl_list: &[],
        final_message: Some("Starting kernel"),
        errors: &UBOOT_ERRORS,
    };
    /// iPXE: Ctrl-B at `Press Ctrl-B for the iPXE command line`.
    pub const IPXE: Bootloader = Bootloader {
        method: "ipxe",
        interrupt_prompt: "Press Ctrl-B for the iPXE command line",
        interrupt_character: " ",
        interrupt_newline: true,
        interrupt_ctrl_list: &["b"],
        final_message: None,
        errors: &IPXE_ERRORS,
    };
    /// GRUB: `c` (no newline) at its menu's `for a command-line`.
    pub const GRUB: Bootloader = Bootloader {
        method: "grub",
        interrupt_prompt: "for a command-line",
        interrupt_character: "c",
        interrupt_newline: false,
        interrupt_ctrl_list: &[],
        final_message: None,
        errors: &GRUB_ERRORS,
    };
    /// GRUB on UEFI firmware.
    pub const GRUB_EFI: Bootloader = Bootloader {
        method: "grub-efi",
        interrupt_prompt: "for a command-line",
        interrupt_character: "c",
        interrupt_newline: true,
        interrupt_ctrl_list: &[],
        final_message: None,
        errors: &GRUB_EFI_ERRORS,
    };

    /// The device's constant `name` for this bootloader, if set (null
    /// counts as unset).
    fn constant<'a>(&self, device: &'a DeviceConfig, name: &str) -> Option<&'a Value> {
        device
            .constant(Some(self.method), name)
            .filter(|v| !v.is_null())
    }

    fn constant_text(&self, device: &DeviceConfig, name: &str) -> Option<String> {
        self.constant(device, name).map(scalar)
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

/// `bootloader-overlay`: the command list for the job.
/// The top action of a bootloader boot and its retry (U-Boot's
/// `uboot-action`/`uboot-retry`, iPXE's `bootloader-action`/
/// `bootloader-retry`): the command set substituted and the console opened
/// once, then reset, interrupt, commands and the login tail retried.
#[derive(Debug)]
pub struct BootloaderBoot {
    about: About,
    retry: About,
    bootloader: Bootloader,
}

impl BootloaderBoot {
    /// The action `about`, whose retry is `retry`, for `bootloader`.
    pub fn new(about: About, retry: About, bootloader: Bootloader) -> Self {
        BootloaderBoot {
            about,
            retry,
            bootloader,
        }
    }
}

impl Action for BootloaderBoot {
    fn about(&self) -> About {
        self.about
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(BootloaderOverlay::new(self.bootloader));
        p.add(ConnectDevice::default());
        p.add(BootloaderRetry {
            about: self.retry,
            bootloader: self.bootloader,
        });
        Ok(())
    }
}

/// The retried part of [`BootloaderBoot`].
#[derive(Debug)]
pub struct BootloaderRetry {
    about: About,
    bootloader: Bootloader,
}

impl Action for BootloaderRetry {
    fn about(&self) -> About {
        self.about
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(ResetDevice);
        p.add(BootloaderInterrupt::new(self.bootloader));
        p.add(BootloaderCommands::new(self.bootloader));
        add_login_tail(p);
        Ok(())
    }
}

/// `bootloader-overlay`: the command list for the job, published as
/// `bootloader-overlay/<method>/commands`.
#[derive(Debug)]
pub struct BootloaderOverlay {
    bootloader: Bootloader,
    commands: Vec<String>,
    use_bootscript: bool,
}

impl BootloaderOverlay {
    /// For the boot method of `bootloader`.
    pub fn new(bootloader: Bootloader) -> Self {
        BootloaderOverlay {
            bootloader,
            commands: Vec::new(),
            use_bootscript: false,
        }
    }
}

const ABOUT_BOOTLOADER_OVERLAY: About = About::new(
    "bootloader-overlay",
    "substitute job data into bootloader command list",
    "replace placeholders with job data",
);

/// Whether `mac` looks like a MAC address (six pairs of hex digits).
fn is_mac(mac: &str) -> bool {
    mac.split(':').count() == 6
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Action for BootloaderOverlay {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_OVERLAY
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let block = v.node.block.clone();
        let method = v.job.device.boot_method(self.bootloader.method);
        match block.get("commands") {
            Some(Value::Sequence(items)) => {
                self.commands = items.iter().map(scalar).collect();
            }
            Some(Value::String(name)) => match method.and_then(|m| m.commands(name)) {
                Some(list) if !list.is_empty() => self.commands = list.to_vec(),
                Some(_) => v.error("No commands found in parameters"),
                None => v.error(format!("Command '{name}' not found in supported methods")),
            },
            _ => v.error("missing commands"),
        }
        let parameter = |key: &str| {
            method
                .and_then(|m| m.parameters.get(key))
                .filter(|v| !v.is_null())
                .map(scalar)
        };
        if let Some(mac) = parameter("lava_mac") {
            if !is_mac(&mac) {
                v.error("lava_mac is not a valid mac address");
            }
        }
        self.use_bootscript = self.bootloader.method == "ipxe"
            && parameter("use_bootscript").is_some_and(|s| s.eq_ignore_ascii_case("true"));
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let method = self.bootloader.method;
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
        let server_ip = dispatcher_ip(&ctx.job.dispatcher)?;
        let deployed = Deployed {
            server_ip: Some(server_ip.clone()),
            kernel: ctx.get_str("download-action", "file", "kernel"),
            dtb: ctx.get_str("download-action", "file", "dtb"),
            ramdisk: ctx.get_str("compress-ramdisk", "file", "ramdisk"),
            boot,
            ramdisk_header: add_header,
            lava_mac: device
                .boot_method(method)
                .and_then(|m| m.parameters.get("lava_mac"))
                .filter(|v| !v.is_null())
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
        let mut commands = substitute(&self.commands, &table);
        if self.use_bootscript {
            commands = self.write_bootscript(ctx, &commands, &server_ip)?;
        }
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
            method,
            "commands",
            Value::Sequence(list),
        );
        Ok(())
    }
}

impl BootloaderOverlay {
    /// iPXE's `use_bootscript`: the commands go into `script.ipxe` beside
    /// the kernel in the TFTP root; the bootloader is told to fetch and run
    /// it.
    fn write_bootscript(
        &self,
        ctx: &RunContext<'_>,
        commands: &[String],
        server_ip: &str,
    ) -> Result<Vec<String>, Error> {
        let (Some(absolute), Some(relative)) = (
            ctx.get_str("download-action", "kernel", "file"),
            ctx.get_str("download-action", "file", "kernel"),
        ) else {
            return Err(Error::job(
                "use_bootscript needs a kernel deployed to the TFTP root",
            ));
        };
        let script = Path::new(&absolute)
            .parent()
            .unwrap_or(Path::new("/"))
            .join("script.ipxe");
        let mut text = String::from("#!ipxe\n\n");
        for command in commands {
            text.push_str(command);
            text.push('\n');
        }
        std::fs::write(&script, text).map_err(|e| Error::io(script.display(), e))?;
        let dir = Path::new(&relative)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        ctx.logger
            .debug(format!("iPXE boot script written to {}", script.display()));
        Ok(vec![
            "dhcp net0".to_string(),
            format!("chain tftp://{server_ip}/{dir}/script.ipxe"),
        ])
    }
}

/// `bootloader-interrupt`.
#[derive(Debug)]
pub struct BootloaderInterrupt {
    bootloader: Bootloader,
    prompt: String,
    interrupt: String,
    character: String,
    newline: bool,
    ctrl: Vec<String>,
    needs_interrupt: bool,
}

impl BootloaderInterrupt {
    /// For the boot method of `bootloader`.
    pub fn new(bootloader: Bootloader) -> Self {
        BootloaderInterrupt {
            bootloader,
            prompt: String::new(),
            interrupt: String::new(),
            character: String::new(),
            newline: true,
            ctrl: Vec::new(),
            needs_interrupt: true,
        }
    }
}

const ABOUT_BOOTLOADER_INTERRUPT: About = About::new(
    "bootloader-interrupt",
    "interrupt bootloader",
    "interrupt bootloader to get an interactive shell",
);

/// How a bootloader is interrupted, resolved from the device's method
/// parameters, then its constants, then [`Bootloader`]'s defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupt {
    /// The text waited for.
    pub prompt: String,
    /// Sent after it (when `ctrl` is empty).
    pub character: String,
    /// Whether `character` is sent with a newline.
    pub newline: bool,
    /// Control characters sent instead.
    pub ctrl: Vec<String>,
    /// `needs_interrupt` (else the prompt is only waited for).
    pub needs_interrupt: bool,
}

impl Interrupt {
    /// The interrupt of `bootloader` on `device`.
    pub fn resolve(bootloader: &Bootloader, device: &DeviceConfig) -> Interrupt {
        let params = device
            .boot_method(bootloader.method)
            .map(|m| m.bootloader())
            .unwrap_or_default();
        let prompt = params
            .interrupt_prompt
            .or_else(|| bootloader.constant_text(device, "interrupt-prompt"))
            .unwrap_or_else(|| bootloader.interrupt_prompt.into());
        let character = params
            .interrupt_char
            .or_else(|| bootloader.constant_text(device, "interrupt-character"))
            .unwrap_or_else(|| bootloader.interrupt_character.into());
        let newline = bootloader
            .constant(device, "interrupt-newline")
            .map(|v| !matches!(v, Value::Bool(false)) && scalar(v).to_lowercase() != "false")
            .unwrap_or(bootloader.interrupt_newline);
        let ctrl = if params.interrupt_ctrl_list.is_empty() {
            match bootloader
                .constant(device, "interrupt_ctrl_list")
                .and_then(Value::as_sequence)
            {
                Some(list) => list.iter().map(scalar).collect(),
                None => bootloader
                    .interrupt_ctrl_list
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            }
        } else {
            params.interrupt_ctrl_list
        };
        Interrupt {
            prompt,
            character,
            newline,
            ctrl,
            needs_interrupt: params.needs_interrupt.unwrap_or(true),
        }
    }
}

impl Action for BootloaderInterrupt {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_INTERRUPT
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let device = &v.job.device;
        let Some(method) = device.boot_method(self.bootloader.method) else {
            v.error(format!(
                "The device has no {} boot method",
                self.bootloader.method
            ));
            return Ok(());
        };
        match method.bootloader().bootloader_prompt {
            Some(p) => self.prompt = p,
            None => v.error("Missing bootloader prompt for device"),
        }
        let interrupt = Interrupt::resolve(&self.bootloader, device);
        self.interrupt = interrupt.prompt;
        self.character = interrupt.character;
        self.newline = interrupt.newline;
        self.ctrl = interrupt.ctrl;
        self.needs_interrupt = interrupt.needs_interrupt;
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
#[derive(Debug)]
pub struct BootloaderCommands {
    bootloader: Bootloader,
    prompt: String,
    final_message: Option<String>,
    errors: Vec<String>,
}

impl BootloaderCommands {
    /// For the boot method of `bootloader`.
    pub fn new(bootloader: Bootloader) -> Self {
        BootloaderCommands {
            bootloader,
            prompt: String::new(),
            final_message: None,
            errors: Vec::new(),
        }
    }
}

const ABOUT_BOOTLOADER_COMMANDS: About = About::new(
    "bootloader-commands",
    "send commands to bootloader",
    "interactive bootloader",
);

/// How much of a command's echo is waited for: the start of the line
/// after the prompt, which no terminal wraps (iPXE wraps long lines at 80
/// columns, and the expect engine matches within one line).
const ECHO_PREFIX: usize = 40;

/// A pattern for the echo of `command` on a console: its first
/// [`ECHO_PREFIX`] characters; the bootloader may move the cursor between
/// the characters it echoes (GRUB draws each one after a cursor-position
/// sequence), so terminal escape sequences are allowed between them.
pub fn echo_pattern(command: &str) -> String {
    const ESCAPES: &str = r"(?:\x1b\[[0-9;?]*[A-Za-z])*";
    let mut pattern = String::new();
    for (i, c) in command.chars().take(ECHO_PREFIX).enumerate() {
        if i > 0 {
            pattern.push_str(ESCAPES);
        }
        pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    }
    pattern
}

/// The device's error messages as patterns: LAVA's are regular
/// expressions; one that does not compile is taken literally.
fn error_patterns(errors: &[String]) -> Vec<String> {
    errors
        .iter()
        .map(|e| match regex::Regex::new(e) {
            Ok(_) => e.clone(),
            Err(_) => regex::escape(e),
        })
        .collect()
}

impl Action for BootloaderCommands {
    fn about(&self) -> About {
        ABOUT_BOOTLOADER_COMMANDS
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let device = &v.job.device;
        let bootloader = self.bootloader;
        match device
            .boot_method(bootloader.method)
            .and_then(|m| m.bootloader().bootloader_prompt)
        {
            Some(p) => self.prompt = p,
            None => v.error("Missing bootloader prompt for device"),
        }
        self.final_message = bootloader
            .constant_text(device, "final-message")
            .or_else(|| bootloader.final_message.map(str::to_string));
        self.errors = match bootloader
            .constant(device, "error-messages")
            .and_then(Value::as_sequence)
        {
            Some(list) => list.iter().map(scalar).collect(),
            None => bootloader.errors.iter().map(|s| s.to_string()).collect(),
        };
        let retry = if bootloader.method == "u-boot" {
            "uboot-retry"
        } else {
            "bootloader-retry"
        };
        v.set(retry, "bootloader_prompt", "prompt", self.prompt.as_str());
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let session = ctx
            .connection()
            .ok_or_else(|| Error::bug("bootloader-commands: no connection"))?;
        let commands: Vec<String> =
            match ctx.get("bootloader-overlay", self.bootloader.method, "commands") {
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
        let errors = error_patterns(&self.errors);
        let mut list = vec![self.prompt.clone()];
        list.extend(errors.iter().cloned());
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
            let echo = crate::connection::compile(&[echo_pattern(command)])?;
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
            list.extend(errors.iter().cloned());
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

    fn device(yaml: &str) -> DeviceConfig {
        DeviceConfig::from_yaml(yaml).unwrap()
    }

    #[test]
    fn each_bootloader_is_interrupted_its_own_way() {
        let plain = device(
            "actions:\n  deploy: {methods: {tftp: null}}\n  boot:\n    connections: {serial: null}\n    methods:\n      u-boot: {parameters: {bootloader_prompt: '=>'}}\n      ipxe: {parameters: {bootloader_prompt: 'iPXE>'}}\n      grub: {parameters: {bootloader_prompt: 'grub>'}}\n",
        );
        let uboot = Interrupt::resolve(&Bootloader::UBOOT, &plain);
        assert_eq!(
            (
                uboot.prompt.as_str(),
                uboot.character.as_str(),
                uboot.newline
            ),
            ("Hit any key to stop autoboot", " ", true)
        );
        assert!(uboot.ctrl.is_empty());
        let ipxe = Interrupt::resolve(&Bootloader::IPXE, &plain);
        assert_eq!(ipxe.prompt, "Press Ctrl-B for the iPXE command line");
        assert_eq!(ipxe.ctrl, ["b"]);
        let grub = Interrupt::resolve(&Bootloader::GRUB, &plain);
        assert_eq!(
            (grub.prompt.as_str(), grub.character.as_str(), grub.newline),
            ("for a command-line", "c", false)
        );
        assert!(grub.needs_interrupt);
    }

    #[test]
    fn the_device_overrides_the_defaults_parameters_first() {
        let custom = device(
            "constants:\n  grub:\n    interrupt-prompt: 'Press c'\n    interrupt-newline: true\n  ipxe:\n    interrupt_ctrl_list: ['c']\nactions:\n  deploy: {methods: {tftp: null}}\n  boot:\n    connections: {serial: null}\n    methods:\n      ipxe: {parameters: {bootloader_prompt: 'iPXE>', interrupt_prompt: 'Hit Ctrl-C', needs_interrupt: false}}\n      grub: {parameters: {bootloader_prompt: 'grub>'}}\n",
        );
        let grub = Interrupt::resolve(&Bootloader::GRUB, &custom);
        assert_eq!((grub.prompt.as_str(), grub.newline), ("Press c", true));
        let ipxe = Interrupt::resolve(&Bootloader::IPXE, &custom);
        assert_eq!(ipxe.prompt, "Hit Ctrl-C");
        assert_eq!(ipxe.ctrl, ["c"]);
        assert!(!ipxe.needs_interrupt);
    }

    #[test]
    fn an_echo_drawn_with_cursor_moves_is_still_the_echo() {
        let pattern = regex::Regex::new(&echo_pattern("boot (tftp)")).unwrap();
        // GRUB's serial terminal draws each character after a cursor move
        assert!(pattern.is_match(
            "grub> \x1b[9;7Hb\x1b[9;8H\x1b[9;8Ho\x1b[9;9Ho\x1b[9;10Ht\x1b[9;11H \x1b[9;12H(tftp)"
        ));
        assert!(pattern.is_match("iPXE> boot (tftp)\r\n"));
        // a long line is known by its start (iPXE wraps at 80 columns)
        let long = format!("kernel tftp://10.0.2.2/{}", "x".repeat(100));
        let pattern = regex::Regex::new(&echo_pattern(&long)).unwrap();
        assert!(pattern.is_match(&format!("iPXE> {}", &long[..74])));
        assert!(!pattern.is_match("boot (tftp"));
        assert!(!pattern.is_match("bXoot (tftp)"));
    }

    #[test]
    fn error_messages_are_patterns_unless_they_do_not_compile() {
        let errors = error_patterns(&lines(&["error: missing (.*) symbol.", "bad (regex"]));
        let grub = regex::Regex::new(&errors[0]).unwrap();
        assert!(grub.is_match("error: missing `grub_xen_hypercall' symbol."));
        assert_eq!(errors[1], r"bad \(regex");
    }

    #[test]
    fn lava_macs_are_checked() {
        assert!(is_mac("00:90:05:af:00:7d"));
        assert!(!is_mac("00:90:05:af:00"));
        assert!(!is_mac("00:90:05:af:00:7g"));
    }

    #[test]
    fn ipxe_and_grub_command_sets_are_substituted_alike() {
        let ramdisk = Deployed {
            server_ip: Some("10.0.2.2".into()),
            kernel: Some("7/tftp-deploy-x/kernel/vmlinuz".into()),
            ramdisk: Some("7/tftp-deploy-x/ramdisk/ramdisk.cpio.gz".into()),
            lava_mac: Some("00:90:05:af:00:7d".into()),
            ..Deployed::default()
        };
        // x86.jinja2's iPXE set: iPXE's own ${var} stays
        let ipxe = lines(&[
            "dhcp net0",
            "set console console=ttyS0,115200n8 lava_mac={LAVA_MAC}",
            "set extraargs root=/dev/nfs rw nfsroot={NFS_SERVER_IP}:{NFSROOTFS},tcp,hard",
            "kernel tftp://{SERVER_IP}/{KERNEL} ${extraargs} ${console}",
            "initrd tftp://{SERVER_IP}/{RAMDISK}",
            "boot",
        ]);
        assert_eq!(
            substitute(&ipxe, &ramdisk.table()),
            [
                "dhcp net0",
                "set console console=ttyS0,115200n8 lava_mac=00:90:05:af:00:7d",
                "kernel tftp://10.0.2.2/7/tftp-deploy-x/kernel/vmlinuz ${extraargs} ${console}",
                "initrd tftp://10.0.2.2/7/tftp-deploy-x/ramdisk/ramdisk.cpio.gz",
                "boot",
            ]
        );
        // base-grub.jinja2's set: no device tree deployed, its line goes
        let grub = lines(&[
            "net_bootp",
            "linux (tftp,{SERVER_IP})/{KERNEL} console=ttyS0,115200 ip=dhcp",
            "initrd (tftp,{SERVER_IP})/{RAMDISK}",
            "devicetree (tftp,{SERVER_IP})/{DTB}",
            "boot",
        ]);
        assert_eq!(
            substitute(&grub, &ramdisk.table()),
            [
                "net_bootp",
                "linux (tftp,10.0.2.2)/7/tftp-deploy-x/kernel/vmlinuz console=ttyS0,115200 ip=dhcp",
                "initrd (tftp,10.0.2.2)/7/tftp-deploy-x/ramdisk/ramdisk.cpio.gz",
                "boot",
            ]
        );
        // an NFS root keeps the nfsroot line
        let nfs = Deployed {
            nfsrootfs: Some("/var/lib/lava/dispatcher/tmp/7/extract-nfsrootfs-y".into()),
            ..ramdisk
        };
        assert_eq!(
            substitute(&ipxe, &nfs.table())[2],
            "set extraargs root=/dev/nfs rw nfsroot=10.0.2.2:/var/lib/lava/dispatcher/tmp/7/extract-nfsrootfs-y,tcp,hard"
        );
    }
}
