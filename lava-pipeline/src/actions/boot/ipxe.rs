//! `boot: {method: ipxe}` (docs/pipeline.md §10.5): a PC (or any board)
//! whose network firmware is iPXE, reached over its serial console. The
//! kernel and ramdisk come from the TFTP root of a `to: tftp` deploy.
//!
//! ```text
//! bootloader-action             retry action
//! ├─ bootloader-overlay         the device's command set, substituted
//! │                             (or an iPXE script, with use_bootscript)
//! ├─ connect-device             the console, opened before the reset
//! └─ bootloader-retry           retry action
//!    ├─ reset-device
//!    ├─ bootloader-interrupt    Ctrl-B at "Press Ctrl-B for the iPXE command line"
//!    ├─ bootloader-commands     dhcp, kernel, initrd, boot at "iPXE>"
//!    └─ login tail
//! ```
//!
//! Firmware that reads the serial line through the BIOS (iPXE under
//! SeaBIOS) drops characters typed too quickly: the device's
//! `boot_character_delay` spaces them.

use std::sync::Arc;

use lava_devices::DeviceConfig;

use crate::action::{About, Action, Block};
use crate::actions::boot::bootloader::{Bootloader, BootloaderBoot};
use crate::error::Error;
use crate::job::JobInfo;
use crate::strategy::{Family, Strategy};

/// `boot: {method: ipxe, commands: ...}` on a device with an `ipxe` boot
/// method.
#[derive(Debug, Default)]
pub struct IpxeStrategy;

impl Strategy for IpxeStrategy {
    fn name(&self) -> &str {
        "ipxe"
    }
    fn family(&self) -> Family {
        Family::Boot
    }
    fn handles(&self) -> &'static [&'static str] {
        &["ipxe"]
    }
    fn accepts(&self, device: &DeviceConfig, block: &Block) -> Result<(), String> {
        Family::Boot.require(block, "ipxe")?;
        Family::Boot.require_device(device, "ipxe")
    }
    fn action(&self, _job: &JobInfo, _block: &Arc<Block>) -> Result<Box<dyn Action>, Error> {
        Ok(Box::new(BootloaderBoot::new(
            ABOUT_BOOTLOADER_ACTION,
            ABOUT_BOOTLOADER_RETRY,
            Bootloader::IPXE,
        )))
    }
}

const ABOUT_BOOTLOADER_ACTION: About = About::new(
    "bootloader-action",
    "interactive bootloader action",
    "pass boot commands",
);

const ABOUT_BOOTLOADER_RETRY: About = About::new(
    "bootloader-retry",
    "interactive uboot retry action",
    "uboot commands with retry",
);
