//! The device configuration: the rendered YAML, loaded as LAVA loads it
//! and checked as LAVA's device schema checks it, with a typed view of
//! what the dispatcher uses.

use std::time::Duration;

use lava_proto::yaml::{self, Limits, Mapping, Value, Warning};

use crate::error::ConfigError;

/// A device configuration (LAVA's `device.yaml`).
///
/// [`DeviceConfig::from_yaml`] loads the rendered text with the
/// PyYAML-compatible loader (YAML 1.1 scalars; a duplicate key keeps its
/// last value, as 47 of LAVA's own renders need, and is reported in
/// [`warnings`](Self::warnings)), then checks it against the rules of
/// LAVA 2020.01's device schema (`lava_common/schemas/device.py`):
/// power and reset commands are a string or a list of strings, `actions`
/// has `deploy.methods`, `boot.connections` and `boot.methods`, timeouts
/// are `{days|hours|minutes|seconds: N}` with N ≥ 1, media and load
/// addresses have their required keys, USB ids have four characters,
/// and a device whose primary connection is ssh (`actions.deploy.methods.ssh.host`)
/// has no power commands. Unknown keys are allowed everywhere, as in
/// LAVA. A violation is a [`ConfigError::Invalid`] naming the key path.
///
/// ```
/// use lava_devices::DeviceConfig;
/// use std::time::Duration;
///
/// let config = DeviceConfig::from_yaml(
///     "commands:\n  connect: telnet localhost 7000\n  power_on: ['pdu on 3', 'sleep 2']\n\
///      actions:\n  deploy: {methods: {tftp: }}\n  boot:\n    connections: {serial: }\n    methods:\n      u-boot:\n        parameters: {bootloader_prompt: '=>', interrupt_prompt: 'Hit any key to stop autoboot', interrupt_char: ' '}\n        ramdisk:\n          commands: ['dhcp', '{BOOTX}']\n\
///      timeouts:\n  actions: {power-off: {seconds: 10}}\n  connections: {}\n",
/// )
/// .unwrap();
/// assert_eq!(config.commands.primary_connection(), Some("telnet localhost 7000"));
/// assert_eq!(config.commands.power_on.as_deref(), Some(&["pdu on 3".to_string(), "sleep 2".to_string()][..]));
/// let uboot = config.boot_method("u-boot").unwrap();
/// assert_eq!(uboot.bootloader().bootloader_prompt.as_deref(), Some("=>"));
/// assert_eq!(uboot.commands("ramdisk").unwrap(), ["dhcp", "{BOOTX}"]);
/// assert_eq!(config.timeouts.action("power-off").unwrap().duration, Duration::from_secs(10));
///
/// let err = DeviceConfig::from_yaml("commands: {power_on: [1]}\n").unwrap_err();
/// assert_eq!(err.to_string(), "commands.power_on[0]: expected a string, found an int");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Shell commands: console connection, power, resets.
    pub commands: Commands,
    /// Milliseconds between characters sent at boot and in tests.
    pub character_delays: CharacterDelays,
    /// Timeouts of named actions and connections.
    pub timeouts: Timeouts,
    /// Deploy and boot capabilities (`None` only for a bare `base.jinja2`).
    pub actions: Option<Actions>,
    /// `parameters` (load addresses, interfaces, media, ...), as loaded.
    pub parameters: Mapping,
    /// `constants` (dispatcher constants: prompts, messages), as loaded.
    pub constants: Mapping,
    /// The whole configuration, as loaded.
    pub data: Mapping,
    /// Duplicate keys found while loading (the last value was used).
    pub warnings: Vec<Warning>,
}

/// `commands`: what the dispatcher runs on the worker for this device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commands {
    /// `connect`: the command that gives the serial console.
    pub connect: Option<String>,
    /// `connections`: named consoles (used when `connect` is absent).
    pub connections: Vec<NamedConnection>,
    /// `hard_reset`.
    pub hard_reset: Option<Vec<String>>,
    /// `soft_reset`.
    pub soft_reset: Option<Vec<String>>,
    /// `soft_reboot`.
    pub soft_reboot: Option<Vec<String>>,
    /// `power_on`.
    pub power_on: Option<Vec<String>>,
    /// `power_off`.
    pub power_off: Option<Vec<String>>,
    /// `pre_power_command`: run before powering on.
    pub pre_power_command: Option<Vec<String>>,
    /// `pre_os_command`: run before booting the OS.
    pub pre_os_command: Option<Vec<String>>,
    /// `users`: named commands a job may run (`do`, optional `undo`).
    pub users: Vec<UserCommand>,
}

impl Commands {
    /// The console command, as LAVA's dispatcher picks it: `connect`, else
    /// the first of `connections` tagged `primary`.
    pub fn primary_connection(&self) -> Option<&str> {
        if let Some(connect) = &self.connect {
            return Some(connect);
        }
        self.connections
            .iter()
            .find(|c| c.tags.iter().any(|t| t == "primary"))
            .map(|c| c.connect.as_str())
    }
}

/// One entry of `commands.connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedConnection {
    /// The name (e.g. `uart0`).
    pub name: String,
    /// The command.
    pub connect: String,
    /// Its tags (`primary`, `telnet`, ...).
    pub tags: Vec<String>,
}

/// One entry of `commands.users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCommand {
    /// The name a job uses.
    pub name: String,
    /// The command to run.
    pub run: String,
    /// The command that undoes it.
    pub undo: Option<String>,
}

/// `character_delays`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CharacterDelays {
    /// Delay between characters sent to the bootloader.
    pub boot: Option<Duration>,
    /// Delay between characters sent in test shells.
    pub test: Option<Duration>,
}

/// `timeouts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeouts {
    /// `timeouts.actions`: per action name, in file order.
    pub actions: Vec<(String, Timeout)>,
    /// `timeouts.connections`: per action name, in file order.
    pub connections: Vec<(String, Timeout)>,
}

impl Timeouts {
    /// The timeout of the action `name`.
    pub fn action(&self, name: &str) -> Option<Timeout> {
        self.actions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }

    /// The connection timeout of the action `name`.
    pub fn connection(&self, name: &str) -> Option<Timeout> {
        self.connections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }
}

/// One timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// How long.
    pub duration: Duration,
    /// `skip: true`: on timeout, carry on with the next action.
    pub skip: bool,
}

/// `actions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Actions {
    /// `actions.deploy.methods`: method name -> its settings (often null).
    pub deploy_methods: Mapping,
    /// `actions.deploy.connections`, the names.
    pub deploy_connections: Vec<String>,
    /// `actions.deploy.parameters`.
    pub deploy_parameters: Mapping,
    /// `actions.boot.connections`, the names.
    pub boot_connections: Vec<String>,
    /// `actions.boot.methods`, in file order.
    pub boot_methods: Vec<BootMethod>,
}

/// One boot method of `actions.boot.methods` (`u-boot`, `qemu`, `grub`...).
#[derive(Debug, Clone, PartialEq)]
pub struct BootMethod {
    /// The method name.
    pub name: String,
    /// Its `parameters` mapping (empty when absent).
    pub parameters: Mapping,
    /// The command lists per boot style (`ramdisk`, `nfs`, `usb`, ...): every
    /// entry other than `parameters` that has a `commands` list. LAVA's
    /// schema does not check the items; one that is not a string is kept
    /// as Python prints it (`['boot']`: one 2020.01 template has that bug).
    pub command_sets: Vec<(String, Vec<String>)>,
    /// The method's settings as loaded (null for methods without any).
    pub settings: Value,
}

impl BootMethod {
    /// The commands of boot style `style` (e.g. `ramdisk`).
    pub fn commands(&self, style: &str) -> Option<&[String]> {
        self.command_sets
            .iter()
            .find(|(s, _)| s == style)
            .map(|(_, c)| c.as_slice())
    }

    /// The bootloader settings in `parameters` (u-boot, barebox, grub,
    /// ipxe...).
    pub fn bootloader(&self) -> BootloaderParameters {
        let text = |key: &str| self.parameters.get(key).and_then(scalar_text);
        BootloaderParameters {
            bootloader_prompt: text("bootloader_prompt"),
            interrupt_prompt: text("interrupt_prompt"),
            interrupt_char: text("interrupt_char"),
            interrupt_ctrl_list: self
                .parameters
                .get("interrupt_ctrl_list")
                .and_then(Value::as_sequence)
                .map(|items| items.iter().filter_map(scalar_text).collect())
                .unwrap_or_default(),
            needs_interrupt: self
                .parameters
                .get("needs_interrupt")
                .and_then(Value::as_bool),
        }
    }
}

/// The interrupt and prompt settings of a bootloader boot method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootloaderParameters {
    /// The bootloader's prompt (`=>` for U-Boot).
    pub bootloader_prompt: Option<String>,
    /// The text after which autoboot is interrupted.
    pub interrupt_prompt: Option<String>,
    /// What is sent to interrupt it.
    pub interrupt_char: Option<String>,
    /// Control characters sent instead (`['c']` is Ctrl-C).
    pub interrupt_ctrl_list: Vec<String>,
    /// Whether autoboot must be interrupted.
    pub needs_interrupt: Option<bool>,
}

/// Kernel, ramdisk and device-tree load addresses of one boot command
/// (`parameters.bootz`, `parameters.booti`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadAddresses {
    /// Kernel address, e.g. `0x82000000`.
    pub kernel: String,
    /// Ramdisk address.
    pub ramdisk: String,
    /// Device-tree address.
    pub dtb: String,
}

/// Python's `str()` of a loaded value (a list prints as `['a', 'b']`).
fn python_str(value: &Value) -> String {
    scalar_text(value).unwrap_or_else(|| {
        let mut out = String::new();
        match crate::jinja2::repr(&mut out, &crate::context::to_template(value), 0) {
            Ok(()) => out,
            Err(_) => value.to_string(),
        }
    })
}

/// The text of a scalar as Python's `str()` gives it (`None` for null
/// and collections).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(crate::jinja2::python_float(*f)),
        Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
        Value::Decimal(d) => Some(d.clone()),
        _ => None,
    }
}

impl DeviceConfig {
    /// Loads and checks a rendered device configuration (see the type's
    /// documentation).
    pub fn from_yaml(text: &str) -> Result<DeviceConfig, ConfigError> {
        let document = load(text)?;
        let mut config = DeviceConfig::from_value(document.value)?;
        config.warnings = document.warnings;
        Ok(config)
    }

    /// Checks an already loaded configuration.
    pub fn from_value(value: Value) -> Result<DeviceConfig, ConfigError> {
        let data = match value {
            Value::Mapping(map) => map,
            Value::Null => return Err(ConfigError::NotAMapping("empty")),
            other => return Err(ConfigError::NotAMapping(article(other.type_name()))),
        };
        check_top_level(&data)?;
        let commands = match data.get("commands") {
            Some(v) => commands(v)?,
            None => Commands::default(),
        };
        let character_delays = match data.get("character_delays") {
            Some(v) => character_delays(v)?,
            None => CharacterDelays::default(),
        };
        let timeouts = match data.get("timeouts") {
            Some(v) => timeouts(v)?,
            None => Timeouts::default(),
        };
        let actions = data.get("actions").map(actions).transpose()?;
        let parameters = match data.get("parameters") {
            Some(v) => parameters(v)?,
            None => Mapping::new(),
        };
        let constants = match data.get("constants") {
            Some(v) => mapping(v, "constants")?.clone(),
            None => Mapping::new(),
        };
        let config = DeviceConfig {
            commands,
            character_delays,
            timeouts,
            actions,
            parameters,
            constants,
            data,
            warnings: Vec::new(),
        };
        config.check_primary_ssh()?;
        Ok(config)
    }

    /// A constant, as LAVA's `get_constant`: `constants.PREFIX.NAME` (e.g.
    /// `("u-boot", "interrupt-prompt")`) or `constants.NAME`.
    pub fn constant(&self, prefix: Option<&str>, name: &str) -> Option<&Value> {
        match prefix {
            Some(prefix) => self.constants.get(prefix)?.get(name),
            None => self.constants.get(name),
        }
    }

    /// The boot method `name` of `actions.boot.methods`.
    pub fn boot_method(&self, name: &str) -> Option<&BootMethod> {
        self.actions
            .as_ref()?
            .boot_methods
            .iter()
            .find(|m| m.name == name)
    }

    /// Whether `actions.deploy.methods` has `name`.
    pub fn has_deploy_method(&self, name: &str) -> bool {
        self.actions
            .as_ref()
            .is_some_and(|a| a.deploy_methods.contains_key(name))
    }

    /// The load addresses `parameters.STYLE` (`bootz`, `booti`, `bootm`,
    /// `zimage`, `uimage`, `image`).
    pub fn load_addresses(&self, style: &str) -> Option<LoadAddresses> {
        let entry = self.parameters.get(style)?;
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
        Some(LoadAddresses {
            kernel: text("kernel")?,
            ramdisk: text("ramdisk")?,
            dtb: text("dtb")?,
        })
    }

    /// LAVA's extra rule: with ssh as the primary connection there must be
    /// no power commands.
    fn check_primary_ssh(&self) -> Result<(), ConfigError> {
        let ssh_host = self
            .data
            .get("actions")
            .and_then(|a| a.get("deploy"))
            .and_then(|d| d.get("methods"))
            .and_then(|m| m.get("ssh"))
            .and_then(|s| s.get("host"));
        let has_host = ssh_host.is_some_and(Value::is_truthy);
        if has_host && self.data.contains_key("commands") {
            let c = &self.commands;
            for (name, set) in [
                ("power_off", &c.power_off),
                ("power_on", &c.power_on),
                ("hard_reset", &c.hard_reset),
            ] {
                if set.is_some() {
                    return Err(invalid(
                        &format!("commands.{name}"),
                        "power control commands (power_off, power_on, hard_reset) must not be set when the primary connection is ssh (actions.deploy.methods.ssh.host)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Loads the text as PyYAML does (see `lava_proto::yaml`).
fn load(text: &str) -> Result<yaml::Document, ConfigError> {
    yaml::load_with(text, &Limits::default()).map_err(|e| ConfigError::Yaml(e.to_string()))
}

fn article(type_name: &'static str) -> &'static str {
    match type_name {
        "int" => "an int",
        "float" => "a float",
        "string" => "a string",
        "bool" => "a bool",
        "sequence" => "a sequence",
        "mapping" => "a mapping",
        "decimal" => "a decimal",
        "tagged" => "a tagged value",
        _ => "null",
    }
}

fn invalid(path: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_string(),
        message: message.to_string(),
    }
}

fn wrong_type(path: &str, expected: &str, found: &Value) -> ConfigError {
    invalid(
        path,
        &format!("expected {expected}, found {}", article(found.type_name())),
    )
}

fn mapping<'a>(value: &'a Value, path: &str) -> Result<&'a Mapping, ConfigError> {
    value
        .as_mapping()
        .ok_or_else(|| wrong_type(path, "a mapping", value))
}

fn string(value: &Value, path: &str) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| wrong_type(path, "a string", value))
}

fn int(value: &Value, path: &str) -> Result<i64, ConfigError> {
    value
        .as_i64()
        .ok_or_else(|| wrong_type(path, "an integer", value))
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    let items = value
        .as_sequence()
        .ok_or_else(|| wrong_type(path, "a list of strings", value))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")))
        .collect()
}

/// A string or a list of strings.
fn command(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Sequence(_) => strings(value, path),
        other => Err(wrong_type(path, "a string or a list of strings", other)),
    }
}

fn key_name(key: &Value, path: &str) -> Result<String, ConfigError> {
    match key {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            path,
            &format!("keys must be strings, found {}", article(other.type_name())),
        )),
    }
}

fn mappings(value: &Value, path: &str) -> Result<(), ConfigError> {
    let items = value
        .as_sequence()
        .ok_or_else(|| wrong_type(path, "a list of mappings", value))?;
    for (i, item) in items.iter().enumerate() {
        mapping(item, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

/// The simple top-level keys of the schema.
fn check_top_level(data: &Mapping) -> Result<(), ConfigError> {
    for key in [
        "adb_serial_number",
        "fastboot_serial_number",
        "board_id",
        "usb_filesystem_label",
        "usb_serial_driver",
    ] {
        if let Some(v) = data.get(key) {
            string(v, key)?;
        }
    }
    for key in [
        "fastboot_options",
        "flash_cmds_order",
        "available_architectures",
    ] {
        if let Some(v) = data.get(key) {
            strings(v, key)?;
        }
    }
    for key in ["device_info", "static_info", "storage_info"] {
        if let Some(v) = data.get(key) {
            mappings(v, key)?;
        }
    }
    if let Some(v) = data.get("environment") {
        mapping(v, "environment")?;
    }
    if let Some(v) = data.get("fastboot_via_uboot") {
        if v.as_bool().is_none() {
            return Err(wrong_type("fastboot_via_uboot", "a boolean", v));
        }
    }
    if let Some(v) = data.get("usb_sleep") {
        int(v, "usb_sleep")?;
    }
    for key in ["usb_vendor_id", "usb_product_id"] {
        if let Some(v) = data.get(key) {
            let s = string(v, key)?;
            if s.chars().count() != 4 {
                return Err(invalid(key, &format!("expected 4 characters, found {s:?}")));
            }
        }
    }
    Ok(())
}

fn commands(value: &Value) -> Result<Commands, ConfigError> {
    let map = mapping(value, "commands")?;
    let mut out = Commands::default();
    if let Some(v) = map.get("connect") {
        out.connect = Some(string(v, "commands.connect")?);
    }
    if let Some(v) = map.get("connections") {
        for (key, item) in mapping(v, "commands.connections")?.iter() {
            let name = key_name(key, "commands.connections")?;
            let path = format!("commands.connections.{name}");
            let entry = mapping(item, &path)?;
            let connect = match entry.get("connect") {
                Some(c) => string(c, &format!("{path}.connect"))?,
                None => return Err(invalid(&path, "required key 'connect' is missing")),
            };
            let tags = match entry.get("tags") {
                Some(t) => strings(t, &format!("{path}.tags"))?,
                None => Vec::new(),
            };
            out.connections.push(NamedConnection {
                name,
                connect,
                tags,
            });
        }
    }
    let slots: [(&str, &mut Option<Vec<String>>); 7] = [
        ("hard_reset", &mut out.hard_reset),
        ("soft_reset", &mut out.soft_reset),
        ("soft_reboot", &mut out.soft_reboot),
        ("power_off", &mut out.power_off),
        ("power_on", &mut out.power_on),
        ("pre_power_command", &mut out.pre_power_command),
        ("pre_os_command", &mut out.pre_os_command),
    ];
    for (key, slot) in slots {
        if let Some(v) = map.get(key) {
            *slot = Some(command(v, &format!("commands.{key}"))?);
        }
    }
    if let Some(v) = map.get("users") {
        for (key, item) in mapping(v, "commands.users")?.iter() {
            let name = key_name(key, "commands.users")?;
            let path = format!("commands.users.{name}");
            let entry = mapping(item, &path)?;
            let run = match entry.get("do") {
                Some(c) => string(c, &format!("{path}.do"))?,
                None => return Err(invalid(&path, "required key 'do' is missing")),
            };
            let undo = entry
                .get("undo")
                .map(|u| string(u, &format!("{path}.undo")))
                .transpose()?;
            out.users.push(UserCommand { name, run, undo });
        }
    }
    Ok(out)
}

fn character_delays(value: &Value) -> Result<CharacterDelays, ConfigError> {
    let map = mapping(value, "character_delays")?;
    let delay = |key: &str| -> Result<Option<Duration>, ConfigError> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => {
                let path = format!("character_delays.{key}");
                let ms = int(v, &path)?;
                u64::try_from(ms)
                    .map(|ms| Some(Duration::from_millis(ms)))
                    .map_err(|_| invalid(&path, "a delay cannot be negative"))
            }
        }
    };
    Ok(CharacterDelays {
        boot: delay("boot")?,
        test: delay("test")?,
    })
}

fn timeouts(value: &Value) -> Result<Timeouts, ConfigError> {
    let map = mapping(value, "timeouts")?;
    let table = |key: &str| -> Result<Vec<(String, Timeout)>, ConfigError> {
        let path = format!("timeouts.{key}");
        let Some(v) = map.get(key) else {
            return Err(invalid(
                "timeouts",
                &format!("required key '{key}' is missing"),
            ));
        };
        let mut out = Vec::new();
        for (name, item) in mapping(v, &path)?.iter() {
            let name = key_name(name, &path)?;
            let item_path = format!("{path}.{name}");
            out.push((name, timeout(item, &item_path)?));
        }
        Ok(out)
    };
    Ok(Timeouts {
        actions: table("actions")?,
        connections: table("connections")?,
    })
}

/// `{days|hours|minutes|seconds: N, skip: bool}`, N ≥ 1.
pub(crate) fn timeout(value: &Value, path: &str) -> Result<Timeout, ConfigError> {
    let map = mapping(value, path)?;
    let units = [
        ("days", 86400.0),
        ("hours", 3600.0),
        ("minutes", 60.0),
        ("seconds", 1.0),
    ];
    let mut duration = None;
    for (unit, factor) in units {
        if let Some(v) = map.get(unit) {
            let n = match v {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                other => return Err(wrong_type(&format!("{path}.{unit}"), "a number", other)),
            };
            if !(n >= 1.0 && n.is_finite()) {
                return Err(invalid(&format!("{path}.{unit}"), "must be at least 1"));
            }
            duration = Some(Duration::from_secs_f64((n * factor).min(1e12)));
            break;
        }
    }
    let Some(duration) = duration else {
        return Err(invalid(
            path,
            "expected one of days, hours, minutes or seconds",
        ));
    };
    let skip = match map.get("skip") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| wrong_type(&format!("{path}.skip"), "a boolean", v))?,
    };
    Ok(Timeout { duration, skip })
}

fn names(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    mapping(value, path)?
        .keys()
        .map(|k| key_name(k, path))
        .collect()
}

fn actions(value: &Value) -> Result<Actions, ConfigError> {
    let map = mapping(value, "actions")?;
    let required = |m: &Mapping, key: &str, path: &str| -> Result<Value, ConfigError> {
        m.get(key)
            .cloned()
            .ok_or_else(|| invalid(path, &format!("required key '{key}' is missing")))
    };
    let deploy = required(map, "deploy", "actions")?;
    let deploy = mapping(&deploy, "actions.deploy")?;
    let deploy_methods = mapping(
        &required(deploy, "methods", "actions.deploy")?,
        "actions.deploy.methods",
    )?
    .clone();
    let deploy_connections = match deploy.get("connections") {
        Some(v) => names(v, "actions.deploy.connections")?,
        None => Vec::new(),
    };
    let deploy_parameters = match deploy.get("parameters") {
        Some(v) => mapping(v, "actions.deploy.parameters")?.clone(),
        None => Mapping::new(),
    };
    let boot = required(map, "boot", "actions")?;
    let boot = mapping(&boot, "actions.boot")?;
    let boot_connections = names(
        &required(boot, "connections", "actions.boot")?,
        "actions.boot.connections",
    )?;
    let methods = required(boot, "methods", "actions.boot")?;
    let mut boot_methods = Vec::new();
    for (key, settings) in mapping(&methods, "actions.boot.methods")?.iter() {
        let name = key_name(key, "actions.boot.methods")?;
        boot_methods.push(boot_method(name, settings)?);
    }
    Ok(Actions {
        deploy_methods,
        deploy_connections,
        deploy_parameters,
        boot_connections,
        boot_methods,
    })
}

fn boot_method(name: String, settings: &Value) -> Result<BootMethod, ConfigError> {
    let path = format!("actions.boot.methods.{name}");
    let mut parameters = Mapping::new();
    let mut command_sets = Vec::new();
    if let Value::Mapping(map) = settings {
        for (key, value) in map.iter() {
            let Value::String(key) = key else { continue };
            if key == "parameters" {
                if !value.is_null() {
                    parameters = mapping(value, &format!("{path}.parameters"))?.clone();
                }
            } else if let Some(commands) = value.get("commands") {
                let style_path = format!("{path}.{key}.commands");
                let items = commands
                    .as_sequence()
                    .ok_or_else(|| wrong_type(&style_path, "a list of commands", commands))?;
                command_sets.push((key.clone(), items.iter().map(python_str).collect()));
            }
        }
    }
    Ok(BootMethod {
        name,
        parameters,
        command_sets,
        settings: settings.clone(),
    })
}

fn parameters(value: &Value) -> Result<Mapping, ConfigError> {
    let map = mapping(value, "parameters")?;
    if let Some(v) = map.get("interfaces") {
        mapping(v, "parameters.interfaces")?;
    }
    if let Some(v) = map.get("media") {
        let media = mapping(v, "parameters.media")?;
        for kind in ["sata", "sd", "usb"] {
            if let Some(v) = media.get(kind) {
                check_media(kind, v)?;
            }
        }
    }
    for style in ["image", "booti", "uimage", "bootm", "zimage", "bootz"] {
        if let Some(v) = map.get(style) {
            let path = format!("parameters.{style}");
            let entry = mapping(v, &path)?;
            for key in ["kernel", "ramdisk", "dtb"] {
                match entry.get(key) {
                    Some(v) => {
                        string(v, &format!("{path}.{key}"))?;
                    }
                    None => {
                        return Err(invalid(&path, &format!("required key '{key}' is missing")))
                    }
                }
            }
        }
    }
    if let Some(v) = map.get("pass") {
        if !v.is_null() {
            return Err(wrong_type("parameters.pass", "null", v));
        }
    }
    Ok(map.clone())
}

fn check_media(kind: &str, value: &Value) -> Result<(), ConfigError> {
    let path = format!("parameters.media.{kind}");
    let map = mapping(value, &path)?;
    match map.get("UUID-required") {
        Some(v) if v.as_bool().is_none() => {
            return Err(wrong_type(&format!("{path}.UUID-required"), "a boolean", v))
        }
        None if kind == "sata" => {
            return Err(invalid(&path, "required key 'UUID-required' is missing"))
        }
        _ => {}
    }
    let mut labels = 0;
    for (key, entry) in map.iter() {
        let Value::String(label) = key else { continue };
        if label == "UUID-required" {
            continue;
        }
        labels += 1;
        let entry_path = format!("{path}.{label}");
        let entry = mapping(entry, &entry_path)?;
        let mut required: Vec<(&str, bool)> = vec![("uuid", true), ("device_id", false)];
        if kind == "sata" {
            required.extend([
                ("uboot_interface", true),
                ("grub_interface", true),
                ("boot_part", false),
            ]);
        }
        for (key, is_string) in required {
            let key_path = format!("{entry_path}.{key}");
            match entry.get(key) {
                Some(v) if is_string => {
                    string(v, &key_path)?;
                }
                Some(v) => {
                    int(v, &key_path)?;
                }
                None => {
                    return Err(invalid(
                        &entry_path,
                        &format!("required key '{key}' is missing"),
                    ))
                }
            }
        }
    }
    if labels == 0 {
        return Err(invalid(&path, "at least one labelled device is required"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        DeviceConfig::from_yaml(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key_path() {
        assert_eq!(
            err("commands: {connections: {uart0: {tags: [primary]}}}"),
            "commands.connections.uart0: required key 'connect' is missing"
        );
        assert_eq!(
            err("timeouts: {actions: {x: {minutes: 0}}, connections: {}}"),
            "timeouts.actions.x.minutes: must be at least 1"
        );
        assert_eq!(
            err("usb_vendor_id: '12345'"),
            "usb_vendor_id: expected 4 characters, found \"12345\""
        );
        assert_eq!(
            err("parameters: {bootz: {kernel: '0x1', ramdisk: '0x2'}}"),
            "parameters.bootz: required key 'dtb' is missing"
        );
        assert_eq!(
            err("actions: {deploy: {methods: {}}, boot: {methods: {}}}"),
            "actions.boot: required key 'connections' is missing"
        );
        assert_eq!(
            err("actions: {deploy: {methods: {}}, boot: {connections: {}, methods: {u-boot: {nfs: {commands: a}}}}}"),
            "actions.boot.methods.u-boot.nfs.commands: expected a list of commands, found a string"
        );
        assert_eq!(err(""), "device configuration is empty, not a mapping");
        assert_eq!(
            err("- a"),
            "device configuration is a sequence, not a mapping"
        );
        assert!(err("a: [").starts_with("device configuration is not valid YAML: line"));
    }

    #[test]
    fn quoted_scalars_continued_in_column_zero_load_as_in_pyyaml() {
        // PyYAML 6: {'constants': {'barebox': {'interrupt-character': ' ', 'final': 'x y'}}}
        let text = "constants:\n  barebox:\n    interrupt-character: '\n'\n    final: \"x\n y\"\n";
        let config = DeviceConfig::from_yaml(text).unwrap();
        assert_eq!(
            config.constant(Some("barebox"), "interrupt-character"),
            Some(&Value::from(" "))
        );
        assert_eq!(
            config.constant(Some("barebox"), "final"),
            Some(&Value::from("x y"))
        );
    }

    #[test]
    fn ssh_primary_connection_forbids_power_commands() {
        let text = "commands: {power_on: 'pdu on'}\nactions: {deploy: {methods: {ssh: {host: '10.0.0.1'}}}, boot: {connections: {}, methods: {}}}\n";
        assert!(err(text).contains("commands.power_on: power control commands"));
        let ok = "commands: {power_on: 'pdu on'}\nactions: {deploy: {methods: {ssh: {host: ''}}}, boot: {connections: {}, methods: {}}}\n";
        assert!(DeviceConfig::from_yaml(ok).is_ok());
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_with_a_warning() {
        let config =
            DeviceConfig::from_yaml("commands: {connect: a}\ncommands: {connect: b}\n").unwrap();
        assert_eq!(config.commands.connect.as_deref(), Some("b"));
        assert_eq!(config.warnings.len(), 1);
    }

    #[test]
    fn primary_connection_falls_back_to_tagged_connections() {
        let config = DeviceConfig::from_yaml(
            "commands: {connections: {uart1: {connect: telnet a 1, tags: [telnet]}, uart0: {connect: telnet a 0, tags: [primary]}}}",
        )
        .unwrap();
        assert_eq!(config.commands.primary_connection(), Some("telnet a 0"));
    }
}
