//! `boot: {method: u-boot}` (docs/pipeline.md §10.1): a board whose
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
//! The three bootloader actions are shared with iPXE and GRUB
//! ([`super::bootloader`]).

use std::sync::Arc;

use lava_devices::DeviceConfig;

use crate::action::{About, Action, Block, Populate};
use crate::actions::boot::bootloader::{
    Bootloader, BootloaderCommands, BootloaderInterrupt, BootloaderOverlay,
};
use crate::actions::boot::{add_login_tail, ConnectDevice};
use crate::actions::power::ResetDevice;
use crate::error::Error;
use crate::job::JobInfo;
use crate::strategy::{Family, Strategy};

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
    fn handles(&self) -> &'static [&'static str] {
        &["u-boot"]
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
        p.add(BootloaderOverlay::new(Bootloader::UBOOT));
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
        p.add(BootloaderInterrupt::new(Bootloader::UBOOT));
        p.add(BootloaderCommands::new(Bootloader::UBOOT));
        add_login_tail(p);
        Ok(())
    }
}
