//! The project's own device types (`share/device-types/`) and example
//! dictionaries (`share/devices/`): they render, load as valid device
//! configurations, and say what the dispatcher needs.

use std::fs;
use std::path::{Path, PathBuf};

use lava_devices::{DeviceConfig, DeviceDictionary, TemplateSet};
use lava_proto::yaml::{self, Mapping, Value};

fn share() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../share")
}

fn context(text: &str) -> Mapping {
    yaml::load(text)
        .unwrap()
        .as_mapping()
        .cloned()
        .unwrap_or_default()
}

/// Renders dictionary text against our device types.
fn render_dictionary(text: &str, ctx: &str) -> DeviceConfig {
    let set = TemplateSet::new([share().join("device-types")]);
    let rendered = set
        .render_str("test-01.jinja2", text, &context(ctx))
        .unwrap_or_else(|e| panic!("{e}"));
    DeviceConfig::from_yaml(&rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"))
}

fn example(name: &str, ctx: &str) -> DeviceConfig {
    let set = TemplateSet::new([share().join("devices"), share().join("device-types")]);
    let rendered = set.render(name, &context(ctx)).unwrap();
    DeviceConfig::from_yaml(&rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"))
}

#[test]
fn every_device_type_renders_bare_into_a_valid_configuration() {
    let set = TemplateSet::new([share().join("device-types")]);
    let mut names: Vec<String> = fs::read_dir(share().join("device-types"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "base-uboot.jinja2",
            "base.jinja2",
            "qemu-pc-bench.jinja2",
            "qemu-uboot-bench.jinja2",
            "qemu.jinja2",
            "ssh.jinja2"
        ]
    );
    for name in names {
        let text = set
            .render(&name, &Mapping::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let config =
            DeviceConfig::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
        assert!(config.actions.is_some(), "{name}");
        assert!(
            config.timeouts.action("lava-test-shell").is_some(),
            "{name}"
        );
    }
}

#[test]
fn example_dictionaries_round_trip() {
    for entry in fs::read_dir(share().join("devices")).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let dict =
            DeviceDictionary::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(dict.to_text(), text);
        assert!(dict.warnings().is_empty());
        assert!(share().join("device-types").join(dict.extends()).is_file());
    }
}

#[test]
fn the_example_board_is_driven_by_the_repositorys_script() {
    let config = example("qemu-uboot-bench-01.jinja2", "");
    assert_eq!(
        config.commands.primary_connection(),
        Some("telnet 127.0.0.1 5550")
    );
    for command in [
        &config.commands.power_on,
        &config.commands.power_off,
        &config.commands.hard_reset,
    ] {
        assert!(command.as_ref().unwrap()[0]
            .contains("scripts/bench-board.sh /opt/lava-rs/qemu-lab x86_64 "));
    }
    let ramdisk = config
        .boot_method("u-boot")
        .unwrap()
        .commands("ramdisk")
        .unwrap()
        .to_vec();
    assert_eq!(
        ramdisk.last().unwrap(),
        "zboot {KERNEL_ADDR} 0 {RAMDISK_ADDR} ${initrd_size}"
    );
}

#[test]
fn the_arm64_bench_board_boots_with_booti_over_tftp() {
    let config = example("qemu-uboot-bench-arm64-01.jinja2", "");
    assert_eq!(
        config.commands.primary_connection(),
        Some("telnet 127.0.0.1 5560")
    );
    for command in [
        &config.commands.power_on,
        &config.commands.power_off,
        &config.commands.hard_reset,
    ] {
        assert!(command.as_ref().unwrap()[0]
            .contains("scripts/bench-board.sh /opt/lava-rs/qemu-lab arm64 "));
    }
    let addresses = config.load_addresses("booti").unwrap();
    assert_eq!(
        (
            addresses.kernel.as_str(),
            addresses.ramdisk.as_str(),
            addresses.dtb.as_str()
        ),
        ("0x40400000", "0x44000000", "0x48000000")
    );
    assert!(config.has_deploy_method("tftp"));
    let uboot = config.boot_method("u-boot").unwrap();
    let bootloader = uboot.bootloader();
    assert_eq!(bootloader.bootloader_prompt.as_deref(), Some("=> "));
    assert_eq!(
        bootloader.interrupt_prompt.as_deref(),
        Some("Hit any key to stop autoboot")
    );
    assert_eq!(bootloader.interrupt_char.as_deref(), Some(" "));
    assert_eq!(bootloader.needs_interrupt, Some(true));
    let ramdisk = uboot.commands("ramdisk").unwrap();
    assert_eq!(
        ramdisk,
        [
            "setenv autoload no",
            "dhcp",
            "setenv serverip {SERVER_IP}",
            "tftp {KERNEL_ADDR} {KERNEL}",
            "tftp {RAMDISK_ADDR} {RAMDISK}",
            "setenv initrd_size ${filesize}",
            "tftp {DTB_ADDR} {DTB}",
            "setenv bootargs 'console=ttyAMA0,115200 root=/dev/ram0 ip=dhcp'",
            "{BOOTX}",
        ]
    );
    assert_eq!(
        config
            .actions
            .as_ref()
            .unwrap()
            .deploy_parameters
            .get("add_header"),
        Some(&Value::from("u-boot"))
    );
    assert_eq!(
        config.constant(Some("u-boot"), "interrupt-prompt"),
        Some(&Value::from("Hit any key to stop autoboot"))
    );
}

#[test]
fn the_x86_and_armhf_bench_boards_differ_where_the_hardware_does() {
    let x86 = render_dictionary(
        "{% extends 'qemu-uboot-bench.jinja2' %}\n{% set bench_arch = 'x86_64' %}\n{% set extra_kernel_args = 'quiet' %}\n",
        "",
    );
    let commands = x86
        .boot_method("u-boot")
        .unwrap()
        .commands("ramdisk")
        .unwrap()
        .to_vec();
    assert_eq!(
        commands[..2],
        ["virtio scan", "setenv ramdisk_addr_r 0x8000000"]
    );
    assert_eq!(
        commands.last().unwrap(),
        "zboot {KERNEL_ADDR} 0 {RAMDISK_ADDR} ${initrd_size}"
    );
    assert!(!commands.iter().any(|c| c.contains("{DTB}")));
    assert!(commands.contains(
        &"setenv bootargs 'console=ttyS0,115200 root=/dev/ram0 quiet ip=dhcp'".to_string()
    ));
    assert_eq!(x86.load_addresses("bootz").unwrap().ramdisk, "0x8000000");
    assert!(x86
        .actions
        .as_ref()
        .unwrap()
        .deploy_parameters
        .get("add_header")
        .is_none());

    let armhf = render_dictionary(
        "{% extends 'qemu-uboot-bench.jinja2' %}\n{% set bench_arch = 'armhf' %}\n",
        "",
    );
    assert_eq!(armhf.load_addresses("bootz").unwrap().kernel, "0x40400000");
    assert!(armhf.load_addresses("booti").is_none());
    assert_eq!(
        armhf
            .actions
            .as_ref()
            .unwrap()
            .deploy_parameters
            .get("mkimage_arch"),
        Some(&Value::from("arm"))
    );
}

#[test]
fn qemu_follows_the_architecture_and_the_job_context() {
    let x86 = example("qemu-01.jinja2", "");
    let qemu = x86.boot_method("qemu").unwrap();
    assert_eq!(
        qemu.parameters.get("command"),
        Some(&Value::from("qemu-system-x86_64"))
    );
    let options: Vec<&str> = qemu
        .parameters
        .get("options")
        .unwrap()
        .as_sequence()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(options.contains(&"-accel tcg"));
    assert!(options.contains(&"-m 256"));
    assert!(!options.contains(&"-enable-kvm"));
    let guest = x86
        .actions
        .as_ref()
        .unwrap()
        .deploy_methods
        .get("image")
        .unwrap()
        .get("parameters")
        .unwrap()
        .get("guest")
        .unwrap();
    assert_eq!(guest.get("interface"), Some(&Value::from("ide")));

    // The job context changes what the dictionary leaves open.
    let arm = example(
        "qemu-01.jinja2",
        "{extra_options: ['-smp', 2], memory: 4096}",
    );
    let options = arm
        .boot_method("qemu")
        .unwrap()
        .parameters
        .get("options")
        .unwrap()
        .clone();
    let options: Vec<&str> = options
        .as_sequence()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert_eq!(options[options.len() - 2..], ["-smp", "2"]);
    assert!(
        options.contains(&"-m 256"),
        "the dictionary's memory wins over the context"
    );

    let arm64 = render_dictionary(
        "{% extends 'qemu.jinja2' %}\n{% set no_kvm = true %}\n",
        "{arch: arm64}",
    );
    let qemu = arm64.boot_method("qemu").unwrap();
    assert_eq!(
        qemu.parameters.get("command"),
        Some(&Value::from("qemu-system-aarch64"))
    );
    let options = qemu
        .parameters
        .get("options")
        .unwrap()
        .as_sequence()
        .unwrap();
    assert!(
        options.contains(&Value::from("-machine virt"))
            && options.contains(&Value::from("-cpu cortex-a57"))
    );
    let guest = arm64
        .actions
        .as_ref()
        .unwrap()
        .deploy_methods
        .get("image")
        .unwrap()
        .get("parameters")
        .unwrap()
        .get("guest")
        .unwrap();
    assert_eq!(guest.get("interface"), Some(&Value::from("virtio")));
}

#[test]
fn commands_with_yaml_special_characters_stay_the_same_strings() {
    let tricky = "pdu --host 'a b' \"c\" # not a comment: really";
    let mut dict = DeviceDictionary::new("base-uboot.jinja2");
    dict.set("connection_command", "telnet ser2net 7001")
        .unwrap();
    dict.set(
        "power_on_command",
        Value::Sequence(vec![tricky.into(), "sleep 1".into()]),
    )
    .unwrap();
    dict.set("hard_reset_command", tricky).unwrap();
    dict.set(
        "user_commands",
        yaml::load("{usb: {do: 'hub on: 3', undo: 'hub off'}}").unwrap(),
    )
    .unwrap();
    dict.set("boot_character_delay", Value::Int(30)).unwrap();
    let config = render_dictionary(&dict.to_text(), "");
    assert_eq!(
        config.commands.power_on.as_deref(),
        Some(&[tricky.to_string(), "sleep 1".to_string()][..])
    );
    assert_eq!(
        config.commands.hard_reset.as_deref(),
        Some(&[tricky.to_string()][..])
    );
    assert_eq!(config.commands.users[0].run, "hub on: 3");
    assert_eq!(config.commands.users[0].undo.as_deref(), Some("hub off"));
    assert_eq!(
        config.character_delays.boot,
        Some(std::time::Duration::from_millis(30))
    );
}

#[test]
fn the_example_pcs_boot_through_ipxe_and_grub() {
    let ipxe = example("qemu-pc-ipxe-01.jinja2", "");
    assert_eq!(
        ipxe.commands.primary_connection(),
        Some("telnet 127.0.0.1 5570")
    );
    assert!(ipxe.commands.hard_reset.as_ref().unwrap()[0]
        .contains("scripts/bench-board.sh /opt/lava-rs/qemu-lab ipxe reset"));
    // iPXE under SeaBIOS reads the serial line through the BIOS: slowly
    assert_eq!(
        ipxe.character_delays.boot,
        Some(std::time::Duration::from_millis(50))
    );
    let commands = ipxe
        .boot_method("ipxe")
        .unwrap()
        .commands("ramdisk")
        .unwrap()
        .to_vec();
    assert_eq!(
        commands,
        [
            "dhcp net0",
            "kernel tftp://{SERVER_IP}/{KERNEL} console=ttyS0,115200 ip=dhcp lava_mac={LAVA_MAC}",
            "initrd tftp://{SERVER_IP}/{RAMDISK}",
            "boot"
        ]
    );
    let grub = example("qemu-pc-grub-01.jinja2", "");
    assert_eq!(grub.character_delays.boot, None);
    let commands = grub
        .boot_method("grub")
        .unwrap()
        .commands("nfs")
        .unwrap()
        .to_vec();
    assert_eq!(commands[0], "net_bootp");
    assert!(commands[1].contains("root=/dev/nfs rw nfsroot={NFS_SERVER_IP}:{NFSROOTFS},tcp,hard"));
    assert_eq!(
        grub.boot_method("grub")
            .unwrap()
            .bootloader()
            .bootloader_prompt
            .as_deref(),
        Some("grub>")
    );
}
