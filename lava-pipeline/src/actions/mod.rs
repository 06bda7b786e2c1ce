//! The built-in actions and strategies.
//!
//! | family | strategy | top action |
//! |---|---|---|
//! | deploy | `tmpfs` | `deployimages` |
//! | deploy | `download` | `download-deploy` |
//! | deploy | `overlay` | `lava-overlay` |
//! | deploy | `tftp` | `tftp-deploy` |
//! | deploy | `ssh` | `scp-overlay` |
//! | boot | `minimal` | `minimal-boot` |
//! | boot | `qemu` | `boot-image-retry` |
//! | boot | `u-boot` | `uboot-action` |
//! | boot | `ipxe` | `bootloader-action` |
//! | boot | `grub` (`grub`, `grub-efi`) | `grub-main-action` |
//! | boot | `ssh` | `login-ssh` |
//! | test | `lava-test-shell` | `lava-test-retry` |
//! | test | `interactive` | `lava-test-interactive-retry` |
//!
//! `command:` blocks become `user-command`; every job ends with
//! `finalize`.

pub mod boot;
pub mod command;
pub mod deploy;
pub mod finalize;
pub mod power;
pub mod test;

use crate::strategy::Registry;

/// Register the built-in strategies.
pub fn register_builtins(registry: &mut Registry) {
    deploy::register(registry);
    registry.register(boot::ssh::SshDeployStrategy);
    registry.register(boot::MinimalStrategy);
    registry.register(boot::qemu::QemuStrategy);
    registry.register(boot::uboot::UBootStrategy);
    registry.register(boot::ipxe::IpxeStrategy);
    registry.register(boot::grub::GrubStrategy);
    registry.register(boot::ssh::SshBootStrategy);
    test::register(registry);
}
