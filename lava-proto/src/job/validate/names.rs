//! Closed lists of names that job definitions may use (LAVA 2020.01).

/// Variables a job's `context:` may set: the names LAVA's device-type
/// templates read (`docs/job-definition.md` §7). A server may allow more
/// ([`Options::extra_context_variables`](crate::job::Options)).
pub const CONTEXT_VARIABLES: &[&str] = &[
    // QEMU
    "arch",
    "boot_console",
    "boot_root",
    "cpu",
    "extra_options",
    "guestfs_driveid",
    "guestfs_interface",
    "guestfs_size",
    "machine",
    "memory",
    "model",
    "monitor",
    "netdevice",
    "no_kvm",
    "serial",
    "vga",
    // U-Boot load addresses
    "booti_dtb_addr",
    "booti_kernel_addr",
    "booti_ramdisk_addr",
    "bootm_dtb_addr",
    "bootm_kernel_addr",
    "bootm_ramdisk_addr",
    "bootz_dtb_addr",
    "bootz_kernel_addr",
    "bootz_ramdisk_addr",
    // others
    "boot_character_delay",
    "bootloader_prompt",
    "console_device",
    "custom_kernel_args",
    "extra_kernel_args",
    "extra_nfsroot_args",
    "kernel_loglevel",
    "kernel_start_message",
    "lava_test_results_dir",
    "menu_interrupt_prompt",
    "mustang_menu_list",
    "test_character_delay",
    "tftp_mac_address",
    "uboot_extra_error_message",
    "uboot_needs_interrupt",
];

/// The four action types.
pub const ACTION_TYPES: &[&str] = &["deploy", "boot", "test", "command"];

/// What a test definition's name may contain (the dispatcher's rule:
/// Unicode letters and digits, `_`, `-`).
pub fn is_test_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// What monitor, interactive and interactive step names may contain (the
/// 2020.01 submit schema's rule: ASCII letters, digits, `_`, `-`).
pub fn is_ascii_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
