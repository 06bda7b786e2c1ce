//! `boot: {method: grub}` and `grub-efi` (docs/pipeline.md §10.5): a
//! machine whose bootloader is GRUB with a network-capable build (PXE or
//! EFI), reached over its serial console.
//!
//! ```text
//! grub-main-action              retry action
//! ├─ bootloader-overlay         the device's command set, substituted
//! ├─ connect-device             the console, opened before the reset
//! ├─ reset-device               (grub-efi: unless the device says reset_device: false)
//! ├─ bootloader-interrupt       'c' at the menu's "for a command-line"
//! ├─ bootloader-commands        net_bootp, linux, initrd, boot at "grub>"
//! └─ login tail
//! ```
//!
//! A device whose `grub` method lists a `sequence`, and the UEFI menu
//! selection of `grub-efi` devices with `menu_options`, are not
//! implemented: such jobs are refused when the pipeline is built.

use std::sync::Arc;

use lava_devices::DeviceConfig;
use lava_proto::yaml::Value;

use crate::action::{About, Action, Block, Populate};
use crate::actions::boot::bootloader::{
    Bootloader, BootloaderCommands, BootloaderInterrupt, BootloaderOverlay,
};
use crate::actions::boot::{add_login_tail, ConnectDevice};
use crate::actions::power::ResetDevice;
use crate::error::Error;
use crate::job::JobInfo;
use crate::strategy::{Family, Strategy};

/// `boot: {method: grub|grub-efi, commands: ...}` on a device with a
/// `grub` or `grub-efi` boot method.
#[derive(Debug, Default)]
pub struct GrubStrategy;

/// The device's GRUB for a block of `method`: its `grub-efi` method for a
/// `grub-efi` block when it has one, else its `grub` one.
fn bootloader(device: &DeviceConfig, method: &str) -> Bootloader {
    if method == "grub-efi" && device.boot_method("grub-efi").is_some() {
        Bootloader::GRUB_EFI
    } else if device.boot_method("grub").is_some() {
        Bootloader::GRUB
    } else {
        Bootloader::GRUB_EFI
    }
}

impl Strategy for GrubStrategy {
    fn name(&self) -> &str {
        "grub"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn compatibility(&self) -> u32 {
        3
    }
    fn handles(&self) -> &'static [&'static str] {
        &["grub", "grub-efi"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        let method = block.get_str("method").unwrap_or_default();
        if method != "grub" && method != "grub-efi" {
            return Err("'method' was not 'grub' or 'grub-efi'".into());
        }
        let grub = device.boot_method("grub");
        if grub.is_none() && device.boot_method("grub-efi").is_none() {
            return Err("'grub' or 'grub-efi' not in the device configuration boot methods".into());
        }
        if grub.is_some_and(|m| m.settings.get("sequence").is_some()) {
            return Err("a grub 'sequence' in the device configuration is not supported".into());
        }
        let used = bootloader(device, method);
        let menu = device
            .boot_method(used.method)
            .is_some_and(|m| m.settings.get("menu_options").is_some());
        if method == "grub-efi" && menu {
            return Err(
                "the UEFI menu selection of grub-efi (menu_options) is not supported".into(),
            );
        }
        Ok(())
    }
    fn action(&self, job: &JobInfo, block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        let method = block.get_str("method").unwrap_or_default();
        Ok(Box::new(GrubMainAction {
            bootloader: bootloader(&job.device, method),
        }))
    }
}

/// `grub-main-action`.
#[derive(Debug)]
pub struct GrubMainAction {
    bootloader: Bootloader,
}

const ABOUT_GRUB_MAIN_ACTION: About = About::new(
    "grub-main-action",
    "main grub boot action",
    "run grub boot from power to system",
);

impl Action for GrubMainAction {
    fn about(&self) -> About {
        ABOUT_GRUB_MAIN_ACTION
    }
    fn retries(&self) -> Option<u32> {
        Some(1)
    }
    fn populate(&mut self, p: &mut Populate<'_>) -> Result<(), Error> {
        let grub = self.bootloader;
        p.add(BootloaderOverlay::new(grub));
        p.add(ConnectDevice::default());
        // LAVA resets for `method: grub` always, for grub-efi unless the
        // device says not to
        let reset = p.block.get_str("method") == Some("grub")
            || p.job
                .device
                .boot_method("grub-efi")
                .and_then(|m| m.settings.get("reset_device"))
                .is_none_or(|v| !matches!(v, Value::Bool(false)));
        if reset {
            p.add(ResetDevice);
        }
        p.add(BootloaderInterrupt::new(grub));
        p.add(BootloaderCommands::new(grub));
        add_login_tail(p);
        Ok(())
    }
}
