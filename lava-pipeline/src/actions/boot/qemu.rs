//! `boot: {method: qemu}` (docs/pipeline.md §10.3): QEMU started by lava-run
//! itself, its first serial port on stdio (`-nographic`) as the console.
//!
//! ```text
//! boot-image-retry
//! ├─ boot-qemu-image
//! │  └─ execute-qemu
//! ├─ auto-login-action          (if the block has prompts)
//! ├─ expect-shell-connection    (if a test needs a shell)
//! └─ export-device-env
//! ```
//!
//! The command line is the device's `command` + `options` + `extra`, then
//! each deployed image's `image_arg` with `{label}` replaced by its file,
//! then the overlay disk (`apply-overlay-guest`) as a raw drive. The test
//! shell later mounts that disk at `/lava-<job id>`.
//!
//! `method: qemu-nfs` boots the kernel of a `to: nfs` deploy with its root
//! over NFS: the device's `qemu-nfs` parameters give the kernel command
//! line, `console=<console> root=/dev/nfs <nfsrootargs> rw <ipargs>`, with
//! `{NFS_SERVER_IP}` the dispatcher's IP and `{NFSROOTFS}` the unpacked
//! root (docs/pipeline.md §10.3); the overlay is already in that root.

use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate, RunContext, Validate};
use crate::actions::boot::add_login_tail;
use crate::actions::boot::bootloader::dispatcher_ip;
use crate::connection::{SessionKind, ShellSession};
use crate::error::{Error, ErrorKind};
use crate::host;
use crate::job::{scalar, JobInfo};
use crate::strategy::{Family, Strategy};

/// `boot: {method: qemu}` on a device with a `qemu` boot method.
#[derive(Debug, Default)]
pub struct QemuStrategy;

impl Strategy for QemuStrategy {
    fn name(&self) -> &str {
        "qemu"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn handles(&self) -> &'static [&'static str] {
        &["qemu", "qemu-nfs", "monitor"]
    }
    fn compatibility(&self) -> u32 {
        4
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        if device.boot_method("qemu").is_none() && device.boot_method("qemu-nfs").is_none() {
            return Err("qemu or qemu-nfs not in the device configuration boot methods".into());
        }
        match block.get_str("method") {
            Some("qemu" | "qemu-nfs" | "monitor") => Ok(()),
            _ => Err("'method' was not one of qemu, qemu-nfs, monitor".into()),
        }
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(BootImageRetry))
    }
}

/// `boot-image-retry`.
#[derive(Debug, Default)]
pub struct BootImageRetry;

const ABOUT_BOOT_IMAGE_RETRY: About = About::new(
    "boot-image-retry",
    "boot image with retry",
    "boot with retry",
);

impl Action for BootImageRetry {
    fn about(&self) -> About {
        ABOUT_BOOT_IMAGE_RETRY
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(BootQemuImage);
        add_login_tail(p);
        Ok(())
    }
}

/// `boot-qemu-image`.
#[derive(Debug, Default)]
pub struct BootQemuImage;

const ABOUT_BOOT_QEMU_IMAGE: About = About::new(
    "boot-qemu-image",
    "boot image using QEMU command line",
    "boot QEMU image",
);

impl Action for BootQemuImage {
    fn about(&self) -> About {
        ABOUT_BOOT_QEMU_IMAGE
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        p.add(ExecuteQemu::default());
        Ok(())
    }
}

/// `execute-qemu`: build the command line and start QEMU.
#[derive(Debug, Default)]
pub struct ExecuteQemu {
    base: Vec<String>,
    interface: String,
    driveid: String,
    /// `method: qemu-nfs`: the device's `append` (console, nfsrootargs,
    /// ipargs) for the kernel command line.
    nfs_append: Option<[String; 3]>,
}

const ABOUT_EXECUTE_QEMU: About = About::new(
    "execute-qemu",
    "call qemu to boot the image",
    "execute qemu to boot the image",
);

impl Action for ExecuteQemu {
    fn about(&self) -> About {
        ABOUT_EXECUTE_QEMU
    }
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Infrastructure
    }
    fn validate(&mut self, v: &mut Validate<'_>) -> Result<(), Error> {
        let context = v.job.job_context();
        let Some(arch) = context.get("arch").map(scalar) else {
            return Err(Error::job("Missing 'arch' in job context"));
        };
        if let Some(Value::Sequence(archs)) = v.job.device.data.get("available_architectures") {
            if !archs.iter().any(|a| scalar(a) == arch) {
                v.error(format!(
                    "Non existing architecture specified in context arch parameter: {arch}"
                ));
            }
        }
        let method = v
            .job
            .device
            .boot_method("qemu")
            .or_else(|| v.job.device.boot_method("qemu-nfs"));
        let Some(method) = method else {
            v.error("The device has no qemu boot method");
            return Ok(());
        };
        let Some(command) = method.parameters.get("command").map(scalar) else {
            return Err(Error::configuration("The qemu boot method has no command"));
        };
        let command = command.trim().to_string();
        let program = host::which(&command)?;
        self.base = vec![program.display().to_string()];
        for key in ["options", "extra"] {
            match method.parameters.get(key) {
                Some(Value::Sequence(items)) => {
                    for item in items {
                        let words =
                            host::split_command(&scalar(item)).map_err(Error::configuration)?;
                        self.base.extend(words);
                    }
                }
                Some(Value::String(s)) => self
                    .base
                    .extend(host::split_command(s).map_err(Error::configuration)?),
                _ => {}
            }
        }
        if self.base.iter().any(|a| a == "-enable-kvm")
            && !std::path::Path::new("/sys/class/misc/kvm").exists()
        {
            v.error("Device misconfiguration: -enable-kvm is set but this machine has no KVM");
        }
        let guest = v
            .job
            .device
            .data
            .get("actions")
            .and_then(|a| a.get("deploy"))
            .and_then(|d| d.get("methods"))
            .and_then(|m| m.get("image"))
            .and_then(|i| i.get("parameters"))
            .and_then(|p| p.get("guest"));
        self.interface = guest
            .and_then(|g| g.get("interface"))
            .map(scalar)
            .unwrap_or_else(|| "ide".into());
        self.driveid = guest
            .and_then(|g| g.get("driveid"))
            .map(scalar)
            .unwrap_or_else(|| "lavatest".into());
        if v.node.block.get_str("method") == Some("qemu-nfs") {
            let append = v
                .job
                .device
                .boot_method("qemu-nfs")
                .and_then(|m| m.parameters.get("append"));
            let part = |key: &str| append.and_then(|a| a.get(key)).map(scalar);
            match (part("console"), part("nfsrootargs"), part("ipargs")) {
                (Some(console), Some(nfsrootargs), Some(ipargs)) => {
                    self.nfs_append = Some([console, nfsrootargs, ipargs])
                }
                _ => v.error(
                    "The device's qemu-nfs boot method needs parameters.append with console, nfsrootargs and ipargs",
                ),
            }
            let restricted = self.base.iter().any(|arg| {
                arg.split(',').any(|option| {
                    matches!(option.strip_prefix("restrict="), Some("on" | "yes" | "y"))
                })
            });
            if restricted {
                v.error(
                    "method qemu-nfs: the device's QEMU network is restricted (restrict=on), so the guest cannot reach the NFS server",
                );
            }
        }
        let needs_shell = v.job.needs_shell(v.node.namespace());
        if needs_shell && crate::actions::boot::block_prompts(&v.node.block).is_empty() {
            v.error("Unable to identify boot prompts from job definition.");
        }
        let labels = v.get("deployimages", "images", "labels").cloned();
        if let Some(Value::Sequence(labels)) = labels {
            for label in labels.iter().map(scalar) {
                if v.get("download-action", &label, "image_arg").is_none() {
                    v.error(format!("Missing image_arg for {label}. "));
                }
            }
        }
        Ok(())
    }
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let ns = ctx.namespace().to_string();
        if let Some(old) = ctx.data.take_connection(&ns) {
            crate::connection::lock(&old).finalise(ctx.logger);
        }
        let mut argv = self.base.clone();
        let labels: Vec<String> = match ctx.get("deployimages", "images", "labels") {
            Some(Value::Sequence(labels)) => labels.iter().map(scalar).collect(),
            _ => Vec::new(),
        };
        for label in &labels {
            let (Some(arg), Some(file)) = (
                ctx.get_str("download-action", label, "image_arg"),
                ctx.get_str("download-action", label, "file"),
            ) else {
                continue;
            };
            let mut arg = arg.replace(&format!("{{{label}}}"), &file);
            if arg.contains("{NFS_SERVER_IP}") {
                arg = arg.replace("{NFS_SERVER_IP}", &dispatcher_ip(&ctx.job.dispatcher)?);
            }
            argv.extend(host::split_command(&arg).map_err(Error::job)?);
        }
        if let Some([console, nfsrootargs, ipargs]) = &self.nfs_append {
            let root = ctx
                .get_str("extract-rootfs", "file", "nfsroot")
                .ok_or_else(|| {
                    Error::job("method qemu-nfs needs an NFS root: deploy it with to: nfs first")
                })?;
            let nfsroot = nfsrootargs
                .replace("{NFS_SERVER_IP}", &dispatcher_ip(&ctx.job.dispatcher)?)
                .replace("{NFSROOTFS}", &root);
            ctx.logger
                .debug("Adding NFS arguments to kernel command line.");
            argv.push("--append".into());
            argv.push(format!(
                "console={console} root=/dev/nfs {nfsroot} rw {ipargs}"
            ));
        }
        if let (Some(file), Some(uuid)) = (
            ctx.get_str("apply-overlay-guest", "guest", "filename"),
            ctx.get_str("apply-overlay-guest", "guest", "UUID"),
        ) {
            argv.push("-drive".into());
            argv.push(format!(
                "format=raw,file={file},media=disk,if={},id={}",
                self.interface, self.driveid
            ));
            let dir = ctx.job.results_dir(&ns);
            let commands = vec![
                Value::from(format!("mkdir -p {dir}")),
                Value::from(format!(
                    "mount -t ext2 \"$(findfs UUID={uuid} 2>/dev/null || echo /dev/disk/by-uuid/{uuid})\" {dir}"
                )),
                Value::from(format!("ls -la {dir}/bin/lava-test-runner")),
            ];
            ctx.set(
                "test",
                "lava-test-shell",
                "pre-command-list",
                Value::Sequence(commands),
            );
        }
        let shown: Vec<String> = argv.iter().map(|a| host::shell_quote(a)).collect();
        ctx.logger
            .info(format!("Boot command: {}", shown.join(" ")));
        let mut session = ShellSession::spawn(&argv, ctx.logger.clone(), SessionKind::Qemu)?;
        session.connection_timeout = ctx.node.connection_timeout;
        session.prompts = vec![crate::actions::boot::default_prompt(&ctx.job.device)];
        ctx.results.insert("host_arch", std::env::consts::ARCH);
        if let Some(arch) = ctx.job.job_context().get("arch") {
            ctx.results.insert("job_arch", scalar(arch));
        }
        ctx.data.set_connection(&ns, session.into_handle());
        Ok(())
    }
}
