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
//! The actions are [`BootloaderBoot`]'s, shared with iPXE; the three
//! bootloader actions also with GRUB ([`super::bootloader`]).

use std::sync::Arc;

use lava_devices::DeviceConfig;

use crate::action::{About, Action, Block};
use crate::actions::boot::bootloader::{Bootloader, BootloaderBoot};
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
        Ok(Box::new(BootloaderBoot::new(
            ABOUT_UBOOT_ACTION,
            ABOUT_UBOOT_RETRY,
            Bootloader::UBOOT,
        )))
    }
}

const ABOUT_UBOOT_ACTION: About = About::new(
    "uboot-action",
    "interactive uboot action",
    "pass uboot commands",
);

const ABOUT_UBOOT_RETRY: About = About::new(
    "uboot-retry",
    "interactive uboot retry action",
    "uboot commands with retry",
);
