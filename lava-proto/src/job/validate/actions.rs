//! `actions:` — the deploy, boot, test and command blocks
//! (`docs/job-definition.md` §15).

use crate::yaml::{Mapping, Value};

use super::names::{is_ascii_name, is_test_name, ACTION_TYPES};
use super::{describe, did_you_mean, opt, quote, req, Block, Checker, Field, Rule, Shape, Unknown};
use crate::job::timeout::Timeout;

/// A deploy or boot strategy: its name, its keys, and a check between
/// keys when it has one.
pub(crate) struct Method {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub check: Option<fn(&mut Checker<'_>, &Mapping)>,
}

const fn method(name: &'static str, fields: &'static [Field]) -> Method {
    Method {
        name,
        fields,
        check: None,
    }
}

impl Checker<'_> {
    /// The `actions:` list; returns what the cross-field rules need.
    pub(crate) fn actions(&mut self, value: &Value, roles: Option<&[String]>) -> Vec<Block> {
        let mut blocks = Vec::new();
        let Some(items) = self.list(value) else {
            return blocks;
        };
        for (i, item) in items.iter().enumerate() {
            self.at_index(i, |c| c.action_item(item, roles, &mut blocks));
        }
        blocks
    }

    fn action_item(&mut self, item: &Value, roles: Option<&[String]>, blocks: &mut Vec<Block>) {
        let Value::Mapping(map) = item else {
            self.error(format!(
                "must be a mapping with one key (deploy, boot, test or command), got {}",
                describe(item)
            ));
            return;
        };
        match map.len() {
            0 => self.error("is empty; an action needs one key: deploy, boot, test or command"),
            1 => {}
            n => {
                let keys: Vec<String> = map
                    .keys()
                    .map(|k| k.as_str().map_or_else(|| describe(k), str::to_owned))
                    .collect();
                self.error(format!(
                    "has {n} keys ({}); each list item holds exactly one action: start a new \
                     item (`- {}:`) for each",
                    keys.join(", "),
                    keys.get(1).map_or("boot", String::as_str)
                ));
            }
        }
        for (key, body) in map.iter() {
            match key.as_str() {
                Some(kind @ ("deploy" | "boot" | "test" | "command")) => {
                    let kind: &'static str = match kind {
                        "deploy" => "deploy",
                        "boot" => "boot",
                        "test" => "test",
                        _ => "command",
                    };
                    if let Some(block) = self.at(kind, |c| c.block(kind, body, roles)) {
                        blocks.push(block);
                    }
                }
                Some(other) => self.at(other, |c| {
                    c.error(format!(
                        "unknown action type `{other}`{}; choose from deploy, boot, test, command",
                        did_you_mean(other, ACTION_TYPES)
                    ))
                }),
                None => self.at_key(key, |c| {
                    c.error(format!(
                        "unknown action type {}; choose from deploy, boot, test, command",
                        describe(key)
                    ))
                }),
            }
        }
    }

    fn block(
        &mut self,
        kind: &'static str,
        body: &Value,
        roles: Option<&[String]>,
    ) -> Option<Block> {
        let Value::Mapping(map) = body else {
            self.error(format!(
                "must be a mapping of the {kind} action's keys, got {}",
                describe(body)
            ));
            return None;
        };
        match kind {
            "deploy" => self.deploy(map),
            "boot" => self.boot(map),
            "test" => self.test(map),
            _ => self.fields(map, &[COMMAND], &[], Unknown::Error, "a command action"),
        }
        if let (Some(roles), Some(Value::Sequence(named))) = (roles, map.get("role")) {
            for (i, role) in named.iter().enumerate() {
                if let Some(role) = role.as_str() {
                    if !roles.iter().any(|r| r == role) {
                        self.at("role", |c| {
                            c.at_index(i, |c| {
                                c.warn(format!(
                                    "no role `{role}` in protocols.lava-multinode.roles, so no \
                                     device runs this action{}",
                                    did_you_mean(
                                        role,
                                        &roles.iter().map(String::as_str).collect::<Vec<_>>()
                                    )
                                ))
                            })
                        });
                    }
                }
            }
        }
        if map.contains_key("failure_retry") && map.contains_key("repeat") {
            self.at("repeat", |c| {
                c.error(
                    "cannot be used together with `failure_retry` (the dispatcher refuses both)",
                )
            });
        }
        Some(Block {
            path: self.path().to_owned(),
            kind,
            timeout: map.get("timeout").and_then(|t| Timeout::from_value(t).ok()),
            has_role: map.contains_key("role"),
            has_namespace: map.get("namespace").is_some_and(|n| !n.is_null()),
        })
    }

    /// Reads the strategy key (`to`, `method`) and finds its [`Method`].
    fn strategy(
        &mut self,
        map: &Mapping,
        key: &str,
        kind: &str,
        methods: &'static [Method],
    ) -> Option<&'static Method> {
        let names: Vec<&str> = methods.iter().map(|m| m.name).collect();
        let Some(value) = map.get(key) else {
            self.error(format!(
                "missing required key `{key}` (the {kind} method: {})",
                names.join(", ")
            ));
            return None;
        };
        self.at(key, |c| {
            let name = c.string(value)?;
            let found = methods.iter().find(|m| m.name == name);
            if found.is_none() {
                c.error(format!(
                    "unknown {kind} method {}{}; choose from {}",
                    quote(name),
                    did_you_mean(name, &names),
                    names.join(", ")
                ));
            }
            found
        })
    }

    fn deploy(&mut self, map: &Mapping) {
        match self.strategy(map, "to", "deploy", DEPLOY_METHODS) {
            Some(m) => {
                let what = format!("a deploy to {}", m.name);
                self.fields(
                    map,
                    &[COMMON, DEPLOY_COMMON, m.fields],
                    &["to"],
                    Unknown::Warn,
                    &what,
                );
                if let Some(check) = m.check {
                    check(self, map);
                }
            }
            None => self.fields(map, &[COMMON, DEPLOY_COMMON], &[], Unknown::Ignore, ""),
        }
    }

    fn boot(&mut self, map: &Mapping) {
        let Some(m) = self.strategy(map, "method", "boot", BOOT_METHODS) else {
            self.fields(map, &[COMMON, BOOT_COMMON], &[], Unknown::Ignore, "");
            self.boot_submit_rules(map, &[]);
            return;
        };
        let what = format!("a boot with method {}", m.name);
        let common: &[Field] = if m.name == "ssh" {
            BOOT_COMMON_SSH
        } else {
            BOOT_COMMON
        };
        self.fields(
            map,
            &[COMMON, common, m.fields],
            &["method"],
            Unknown::Warn,
            &what,
        );
        self.boot_submit_rules(map, m.fields);
        if let Some(check) = m.check {
            check(self, map);
        }
    }

    /// LAVA's submit schema checks `auto_login` and `commands` of every
    /// boot action, whatever the method lists.
    fn boot_submit_rules(&mut self, map: &Mapping, listed: &[Field]) {
        let listed = |name: &str| listed.iter().any(|f| f.name == name);
        if let (Some(value), false) = (map.get("auto_login"), listed("auto_login")) {
            self.at("auto_login", |c| auto_login(c, value));
        }
        if let (Some(value), false) = (map.get("commands"), listed("commands")) {
            self.at("commands", |c| {
                if !matches!(value, Value::String(_) | Value::Sequence(_)) {
                    c.error(format!(
                        "must be the name of a command set or a list of commands, got {}",
                        describe(value)
                    ));
                }
            });
        }
    }

    fn test(&mut self, map: &Mapping) {
        const KINDS: &[&str] = &["definitions", "interactive", "monitors"];
        let present: Vec<&str> = KINDS
            .iter()
            .copied()
            .filter(|k| map.contains_key(k))
            .collect();
        self.fields(map, &[COMMON], KINDS, Unknown::Warn, "a test action");
        let Some(kind) = present.first() else {
            self.error("a test action needs one of `definitions`, `interactive` or `monitors`");
            return;
        };
        for other in &present[1..] {
            self.at(other, |c| {
                c.warn(format!(
                    "ignored by validation: this test action already has `{kind}`; put each \
                     kind of test in its own test action"
                ))
            });
        }
        let Some(value) = map.get(kind) else {
            return;
        };
        self.at(kind, |c| {
            let Some(items) = c.list(value) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                c.at_index(i, |c| match *kind {
                    "definitions" => test_definition(c, item),
                    "interactive" => {
                        c.shape(item, &INTERACTIVE);
                    }
                    _ => {
                        c.shape(item, &MONITOR);
                    }
                });
            }
        });
    }
}

// --------------------------------------------------------------------
// Keys shared by all blocks.

fn namespace(c: &mut Checker<'_>, value: &Value) {
    if c.string(value) == Some("common") {
        c.error("`common` is reserved; choose another namespace name");
    }
}

const COMMON: &[Field] = &[
    opt("namespace", Rule::Custom(namespace)),
    opt("connection-namespace", Rule::Str),
    opt("protocols", Rule::Any),
    opt("role", Rule::StrList),
    opt("timeout", Rule::Timeout),
    opt("repeat", Rule::IntMin(1)),
    opt("failure_retry", Rule::IntMin(1)),
];

const COMMAND: &[Field] = &[
    req("name", Rule::Str),
    opt("timeout", Rule::Timeout),
    opt("namespace", Rule::Custom(namespace)),
];

// --------------------------------------------------------------------
// Deploy.

const DEPLOY_COMMON: &[Field] = &[opt("os", Rule::Str), opt("authorize", Rule::Literal("ssh"))];

const KERNEL: &[Field] = &[opt("type", Rule::OneOf(&["image", "uimage", "zimage"]))];
const RAMDISK: &[Field] = &[
    opt("install_modules", Rule::Bool),
    opt("install_overlay", Rule::Bool),
    opt("header", Rule::Literal("u-boot")),
];
const NFSROOTFS: &[Field] = &[
    opt("install_modules", Rule::Bool),
    opt("install_overlay", Rule::Bool),
    opt("prefix", Rule::Str),
];
static PERSISTENT_NFS: Shape = Shape {
    what: "persistent_nfs",
    fields: &[
        req("address", Rule::Str),
        opt("install_overlay", Rule::Bool),
    ],
    unknown: Unknown::Warn,
};
const IMAGE_ARG: &[Field] = &[opt("image_arg", Rule::Str)];
const TMPFS_IMAGE: &[Field] = &[
    opt("format", Rule::Literal("qcow2")),
    opt("image_arg", Rule::Str),
];
const FASTBOOT_IMAGE: &[Field] = &[
    opt("apply-overlay", Rule::Bool),
    opt("sparse", Rule::Bool),
    opt(
        "reboot",
        Rule::OneOf(&[
            "hard-reset",
            "fastboot-reboot",
            "fastboot-reboot-bootloader",
        ]),
    ),
];
static DOCKER_IMAGE_ONLY: Shape = Shape {
    what: "docker",
    fields: &[req("image", Rule::Str)],
    unknown: Unknown::Warn,
};
static TOOL: Shape = Shape {
    what: "a media tool",
    fields: &[
        req("tool", Rule::Str),
        req("options", Rule::Str),
        req("prompt", Rule::Str),
    ],
    unknown: Unknown::Warn,
};
static ISO_IMAGES: Shape = Shape {
    what: "iso-installer images",
    fields: &[
        req("iso", Rule::Resource(IMAGE_ARG)),
        req("preseed", Rule::Resource(&[])),
    ],
    unknown: Unknown::Warn,
};
static ISO: Shape = Shape {
    what: "iso",
    fields: &[
        req("installation_size", Rule::Str),
        opt("kernel", Rule::Str),
        opt("initrd", Rule::Str),
    ],
    unknown: Unknown::Warn,
};

fn tftp_check(c: &mut Checker<'_>, map: &Mapping) {
    if map.contains_key("nfsrootfs") && map.contains_key("persistent_nfs") {
        c.at("persistent_nfs", |c| {
            c.error("cannot be used together with `nfsrootfs`; choose one root filesystem")
        });
    }
}

fn media_check(c: &mut Checker<'_>, map: &Mapping) {
    if map.contains_key("image") && map.contains_key("images") {
        c.at("images", |c| {
            c.error("cannot be used together with `image`; give one of them")
        });
    }
}

fn media_images(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    if !map.contains_key("image") {
        c.error("missing required key `image`");
    }
    for (label, image) in map.iter() {
        c.at_key(label, |c| c.resource(image, &[]));
    }
}

fn mps_images(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    if map.is_empty() {
        c.error("is empty; give `recovery_image` and/or `test_binary` images");
    }
    const RENAME: &[Field] = &[opt("rename", Rule::Str)];
    for (label, image) in map.iter() {
        let test_binary = label.as_str().is_some_and(|l| {
            l == "test_binary"
                || l.strip_prefix("test_binary_").is_some_and(|rest| {
                    !rest.is_empty() && rest.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
                })
        });
        c.at_key(label, |c| {
            if label.as_str() == Some("recovery_image") {
                c.resource(image, &[]);
            } else if test_binary {
                c.resource(image, RENAME);
            } else {
                c.warn(format!(
                    "unknown image {}: mps deploys use `recovery_image` and `test_binary[_NAME]`; \
                     ignored by validation",
                    describe(label)
                ));
            }
        });
    }
}

/// Docker image names as LAVA checks them: lower case, at least two
/// characters of letters, digits, `.`, `_`, `/`, `-`, starting and ending
/// with a letter or digit, then optionally `:tag`.
pub(crate) fn is_docker_image(name: &str) -> bool {
    let (repository, tag) = match name.split_once(':') {
        Some((r, t)) => (r, Some(t)),
        None => (name, None),
    };
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = repository.as_bytes();
    let repository_ok = bytes.len() >= 2
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes
            .iter()
            .all(|&b| edge(b) || matches!(b, b'.' | b'_' | b'/' | b'-'));
    let tag_ok = tag.is_none_or(|t| {
        let t = t.as_bytes();
        !t.is_empty()
            && (t[0].is_ascii_alphanumeric() || t[0] == b'_')
            && t.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    repository_ok && tag_ok
}

fn docker_name(c: &mut Checker<'_>, value: &Value) {
    if let Some(name) = c.string(value) {
        if !is_docker_image(name) {
            c.error(format!(
                "{} is not a valid docker image name (lower-case letters, digits, `.`, `_`, `/`, \
                 `-`, then an optional `:tag`)",
                quote(name)
            ));
        }
    }
}

static DOCKER_IMAGE: Shape = Shape {
    what: "a docker image",
    fields: &[
        req("name", Rule::Custom(docker_name)),
        opt("local", Rule::Bool),
    ],
    unknown: Unknown::Warn,
};

fn docker_image(c: &mut Checker<'_>, value: &Value) {
    match value {
        Value::Mapping(_) => {
            c.shape(value, &DOCKER_IMAGE);
        }
        other => docker_name(c, other),
    }
}

const MEDIA: &[Field] = &[
    req("device", Rule::Str),
    opt("image", Rule::Resource(&[])),
    opt("images", Rule::Custom(media_images)),
    opt("download", Rule::Struct(&TOOL)),
    opt("writer", Rule::Struct(&TOOL)),
    opt("uniquify", Rule::Bool),
];

/// Deploy methods (`to:`). `sd` has no module in LAVA 2020.01's strict
/// schema, but the dispatcher supports it (`docs/job-definition.md` §15.2).
static DEPLOY_METHODS: &[Method] = &[
    method("docker", &[req("image", Rule::Custom(docker_image))]),
    method("download", &[req("images", Rule::Images(&[], true))]),
    method(
        "fastboot",
        &[
            req("images", Rule::Images(FASTBOOT_IMAGE, true)),
            opt("docker", Rule::Struct(&DOCKER_IMAGE_ONLY)),
            opt("connection", Rule::Literal("lxc")),
        ],
    ),
    method("flasher", &[req("images", Rule::Images(&[], false))]),
    method(
        "iso-installer",
        &[
            req("images", Rule::Struct(&ISO_IMAGES)),
            req("iso", Rule::Struct(&ISO)),
        ],
    ),
    method("lxc", &[opt("packages", Rule::StrList)]),
    method("mps", &[req("images", Rule::Custom(mps_images))]),
    method(
        "nbd",
        &[
            req("kernel", Rule::Resource(KERNEL)),
            req("nbdroot", Rule::Resource(&[])),
            req("initrd", Rule::Resource(&[])),
            opt("dtb", Rule::Resource(&[])),
        ],
    ),
    method(
        "nfs",
        &[
            opt("nfsrootfs", Rule::Resource(&[])),
            opt("modules", Rule::Resource(&[])),
            opt("images", Rule::Images(IMAGE_ARG, true)),
        ],
    ),
    method("overlay", &[]),
    method("recovery", &[req("images", Rule::Images(&[], true))]),
    Method {
        name: "sata",
        fields: MEDIA,
        check: Some(media_check),
    },
    Method {
        name: "sd",
        fields: MEDIA,
        check: Some(media_check),
    },
    method(
        "ssh",
        &[
            opt("firmware", Rule::Resource(&[])),
            opt("kernel", Rule::Resource(&[])),
            opt("rootfs", Rule::Resource(&[])),
            opt("modules", Rule::Resource(&[])),
        ],
    ),
    Method {
        name: "tftp",
        fields: &[
            req("kernel", Rule::Resource(KERNEL)),
            opt("dtb", Rule::Resource(&[])),
            opt("modules", Rule::Resource(&[])),
            opt("preseed", Rule::Resource(&[])),
            opt("ramdisk", Rule::Resource(RAMDISK)),
            opt("nfsrootfs", Rule::Resource(NFSROOTFS)),
            opt("persistent_nfs", Rule::Struct(&PERSISTENT_NFS)),
        ],
        check: Some(tftp_check),
    },
    method(
        "tmpfs",
        &[
            req("images", Rule::Images(TMPFS_IMAGE, true)),
            opt("type", Rule::Literal("monitor")),
            opt("uefi", Rule::Resource(&[])),
        ],
    ),
    method(
        "u-boot-ums",
        &[req(
            "image",
            Rule::Resource(&[opt("root_partition", Rule::IntMin(0))]),
        )],
    ),
    Method {
        name: "usb",
        fields: MEDIA,
        check: Some(media_check),
    },
    method("vemsd", &[req("recovery_image", Rule::Resource(&[]))]),
];

// --------------------------------------------------------------------
// Boot.

fn boot_parameters(c: &mut Checker<'_>, value: &Value, known: &[&str]) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    for (key, item) in map.iter() {
        c.at_key(key, |c| {
            if !key.as_str().is_some_and(|k| known.contains(&k)) {
                c.warn(format!(
                    "unknown boot parameter {}{}; ignored by validation",
                    describe(key),
                    key.as_str()
                        .map(|k| did_you_mean(k, known))
                        .unwrap_or_default()
                ));
                if !matches!(item, Value::String(_) | Value::Bool(_)) {
                    c.error(format!(
                        "boot parameters must be strings or booleans, got {}",
                        describe(item)
                    ));
                }
            } else {
                c.string(item);
            }
        });
    }
}

fn parameters(c: &mut Checker<'_>, value: &Value) {
    boot_parameters(c, value, &["kernel-start-message", "shutdown-message"]);
}

fn ssh_parameters(c: &mut Checker<'_>, value: &Value) {
    boot_parameters(c, value, &["hostID", "host_key"]);
}

const BOOT_COMMON: &[Field] = &[
    opt("parameters", Rule::Custom(parameters)),
    opt("soft_reboot", Rule::Str),
];
const BOOT_COMMON_SSH: &[Field] = &[
    opt("parameters", Rule::Custom(ssh_parameters)),
    opt("soft_reboot", Rule::Str),
];

fn auto_login(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.shape(value, &AUTO_LOGIN) else {
        return;
    };
    let both = map.contains_key("password") && map.contains_key("password_prompt");
    if !both {
        for (given, missing) in [
            ("password", "password_prompt"),
            ("password_prompt", "password"),
        ] {
            if map.contains_key(given) {
                c.at(given, |c| {
                    c.warn(format!(
                        "given without `{missing}`: give both `password_prompt` and `password`, \
                         or neither (LAVA's strict schema refuses one alone)"
                    ))
                });
            }
        }
        if let Some(Value::Sequence(commands)) = map.get("login_commands") {
            for (i, command) in commands.iter().enumerate() {
                if command.as_str() == Some("") {
                    c.at("login_commands", |c| {
                        c.at_index(i, |c| c.error("must not be empty"))
                    });
                }
            }
        }
    }
}

static AUTO_LOGIN: Shape = Shape {
    what: "auto_login",
    fields: &[
        req("login_prompt", Rule::NonEmptyStr),
        req("username", Rule::Str),
        opt("password_prompt", Rule::Str),
        opt("password", Rule::Str),
        opt("login_commands", Rule::StrList),
    ],
    unknown: Unknown::Error,
};

static TRANSFER_OVERLAY: Shape = Shape {
    what: "transfer_overlay",
    fields: &[
        req("download_command", Rule::Str),
        req("unpack_command", Rule::Str),
    ],
    unknown: Unknown::Warn,
};

const PROMPTS: Field = opt("prompts", Rule::Prompts);
const AUTO: Field = opt("auto_login", Rule::Custom(auto_login));
const OVERLAY: Field = opt("transfer_overlay", Rule::Struct(&TRANSFER_OVERLAY));
const BOOTSCRIPT: Field = opt("use_bootscript", Rule::Bool);
const COMMANDS: Field = req("commands", Rule::StrOrStrList);

/// Boot methods (`method:`), spelled exactly (LAVA maps `u_boot` to the
/// u-boot module, then refuses it).
static BOOT_METHODS: &[Method] = &[
    method("barebox", &[COMMANDS, PROMPTS, AUTO, OVERLAY]),
    method(
        "bootloader",
        &[
            req("bootloader", Rule::Str),
            req("commands", Rule::StrList),
            BOOTSCRIPT,
            PROMPTS,
        ],
    ),
    method("cmsis-dap", &[]),
    method("depthcharge", &[COMMANDS, BOOTSCRIPT, OVERLAY]),
    method("dfu", &[]),
    method("docker", &[req("command", Rule::Str), PROMPTS]),
    method(
        "fastboot",
        &[
            opt("commands", Rule::StrList),
            BOOTSCRIPT,
            PROMPTS,
            AUTO,
            OVERLAY,
            opt("docker", Rule::Struct(&DOCKER_IMAGE_ONLY)),
        ],
    ),
    method(
        "gdb",
        &[req("commands", Rule::Str), opt("container", Rule::Str)],
    ),
    method("grub", GRUB),
    method("grub-efi", GRUB),
    method("ipxe", &[COMMANDS, PROMPTS, OVERLAY, AUTO, BOOTSCRIPT]),
    method("jlink", &[]),
    method(
        "kexec",
        &[
            req("boot_message", Rule::Str),
            PROMPTS,
            AUTO,
            opt("command", Rule::Str),
            opt("kernel", Rule::Str),
            opt("dtb", Rule::Str),
            opt("initrd", Rule::Str),
            opt("options", Rule::StrList),
            opt("kernel-config", Rule::Str),
            OVERLAY,
        ],
    ),
    method("lxc", &[req("prompts", Rule::Prompts)]),
    method(
        "minimal",
        &[PROMPTS, AUTO, opt("reset", Rule::Bool), OVERLAY],
    ),
    method("monitor", &[]),
    method(
        "new_connection",
        &[req("connection", Rule::Str), PROMPTS, AUTO, OVERLAY],
    ),
    method("openocd", &[]),
    method("pyocd", &[]),
    method(
        "qemu",
        &[
            opt("connection", Rule::Literal("serial")),
            opt("media", Rule::Literal("tmpfs")),
            PROMPTS,
            OVERLAY,
            AUTO,
        ],
    ),
    method(
        "qemu-iso",
        &[req("media", Rule::Literal("img")), PROMPTS, AUTO],
    ),
    method(
        "qemu-nfs",
        &[
            opt("connection", Rule::Literal("serial")),
            PROMPTS,
            OVERLAY,
            AUTO,
        ],
    ),
    method(
        "recovery",
        &[req("commands", Rule::OneOf(&["recovery", "exit"]))],
    ),
    method(
        "schroot",
        &[
            PROMPTS,
            req("connection", Rule::Literal("ssh")),
            req("schroot", Rule::Str),
        ],
    ),
    method("ssh", &[PROMPTS, req("connection", Rule::Literal("ssh"))]),
    method("u-boot", &[COMMANDS, PROMPTS, AUTO, BOOTSCRIPT, OVERLAY]),
    method(
        "uefi",
        &[COMMANDS, opt("shell_menu", Rule::Str), PROMPTS, AUTO],
    ),
    method(
        "uefi-menu",
        &[
            opt("commands", Rule::Str),
            opt("line_separator", Rule::Str),
            PROMPTS,
            AUTO,
        ],
    ),
];

const GRUB: &[Field] = &[
    COMMANDS,
    AUTO,
    opt("boot_finished", Rule::StrOrStrList),
    opt("expect_shell", Rule::Bool),
    PROMPTS,
    BOOTSCRIPT,
    OVERLAY,
];

// --------------------------------------------------------------------
// Test.

const DEFINITION_SOURCES: &[&str] = &["git", "inline", "url", "tar"];

fn test_name(c: &mut Checker<'_>, value: &Value) {
    if let Some(name) = c.string(value) {
        if !is_test_name(name) {
            c.error(format!(
                "{} is not a valid test name: use only letters, digits, `_` and `-` (the \
                 dispatcher refuses other characters)",
                quote(name)
            ));
        }
    }
}

fn ascii_name(c: &mut Checker<'_>, value: &Value) {
    if let Some(name) = c.string(value) {
        if !is_ascii_name(name) {
            c.error(format!(
                "{} is not a valid name: use only ASCII letters, digits, `_` and `-`",
                quote(name)
            ));
        }
    }
}

fn fixupdict(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    for (key, result) in map.iter() {
        c.at_key(key, |c| {
            if key.as_str().is_none() {
                c.error(format!("keys must be strings, got {}", describe(key)));
            }
            c.one_of(result, &["pass", "fail", "skip", "unknown"], "test result");
        });
    }
}

fn skip_install(c: &mut Checker<'_>, value: &Value) {
    let Some(items) = c.list(value) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        c.at_index(i, |c| {
            c.one_of(
                item,
                &["keys", "sources", "deps", "steps", "git-repos", "all"],
                "install step",
            )
        });
    }
}

const DEFINITION_COMMON: &[Field] = &[
    req("path", Rule::Str),
    req("name", Rule::Custom(test_name)),
    opt("skip_install", Rule::Custom(skip_install)),
    opt("lava-signal", Rule::OneOf(&["kmsg", "stdout"])),
    opt("timeout", Rule::Timeout),
    opt("parameters", Rule::Map),
];
const FROM_GIT: &[Field] = &[
    req("repository", Rule::Str),
    opt("branch", Rule::Str),
    opt("history", Rule::Bool),
    opt("revision", Rule::Str),
    opt("shallow", Rule::Bool),
    opt("params", Rule::Map),
];
const FROM_URL: &[Field] = &[
    req("repository", Rule::Str),
    opt("params", Rule::Map),
    opt("compression", Rule::Str),
    opt("strip-components", Rule::IntMin(0)),
    opt("headers", Rule::Map),
];
const FROM_TAR: &[Field] = &[req("repository", Rule::Str), opt("params", Rule::Map)];
const FROM_INLINE: &[Field] = &[req("repository", Rule::Custom(inline_definition))];

fn test_definition(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    let from = match map.get("from") {
        None => {
            c.error("missing required key `from` (git, inline, url or tar)");
            None
        }
        Some(from) => c.at("from", |c| {
            c.one_of(from, DEFINITION_SOURCES, "test definition source");
            from.as_str().filter(|f| DEFINITION_SOURCES.contains(f))
        }),
    };
    let specific = match from {
        Some("git") => FROM_GIT,
        Some("inline") => FROM_INLINE,
        Some("url") => FROM_URL,
        Some("tar") => FROM_TAR,
        _ => {
            c.fields(map, &[DEFINITION_COMMON], &[], Unknown::Ignore, "");
            if let Some(repository) = map.get("repository") {
                if !matches!(repository, Value::String(_) | Value::Mapping(_)) {
                    c.at("repository", |c| {
                        c.error(format!(
                            "must be a URL or an inline test definition, got {}",
                            describe(repository)
                        ))
                    });
                }
            } else {
                c.error("missing required key `repository`");
            }
            return;
        }
    };
    let what = format!("a test definition from {}", from.unwrap_or_default());
    c.fields(
        map,
        &[DEFINITION_COMMON, specific],
        &["from"],
        Unknown::Warn,
        &what,
    );
    if map.contains_key("revision") && map.get("shallow") == Some(&Value::Bool(true)) {
        c.at("shallow", |c| {
            c.error("`shallow: true` cannot be used with `revision` (a shallow clone may not hold that revision)")
        });
    }
}

fn deps_key(key: &str) -> bool {
    key.strip_prefix("deps-")
        .is_some_and(|rest| !rest.is_empty())
}

fn install(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    let known = ["deps", "git-repos", "keys", "steps", "sources"];
    for (key, item) in map.iter() {
        match key.as_str() {
            Some(k) if known.contains(&k) || deps_key(k) => {
                c.at(k, |c| c.check(item, Rule::StrList))
            }
            _ => c.unknown_key(key, &known, Unknown::Warn, "install"),
        }
    }
}

static TESTDEF_METADATA: Shape = Shape {
    what: "test definition metadata",
    fields: &[
        req("format", Rule::Literal("Lava-Test Test Definition 1.0")),
        req("name", Rule::Str),
        opt("description", Rule::Str),
        opt("environment", Rule::StrList),
        opt("devices", Rule::StrList),
        opt("maintainer", Rule::StrList),
        opt("scope", Rule::StrList),
        opt("os", Rule::StrList),
    ],
    unknown: Unknown::Warn,
};
static TESTDEF_RUN: Shape = Shape {
    what: "run",
    fields: &[req("steps", Rule::StrList)],
    unknown: Unknown::Warn,
};
static TESTDEF_PARSE: Shape = Shape {
    what: "parse",
    fields: &[opt("fixupdict", Rule::Custom(fixupdict))],
    unknown: Unknown::Warn,
};

fn inline_definition(c: &mut Checker<'_>, value: &Value) {
    static INLINE: Shape = Shape {
        what: "an inline test definition",
        fields: &[
            req("metadata", Rule::Struct(&TESTDEF_METADATA)),
            opt("install", Rule::Custom(install)),
            opt("run", Rule::Struct(&TESTDEF_RUN)),
            opt("parse", Rule::Struct(&TESTDEF_PARSE)),
        ],
        unknown: Unknown::Error,
    };
    match value {
        Value::Mapping(_) => {
            c.shape(value, &INLINE);
        }
        other => c.error(format!(
            "an inline test definition is a mapping (metadata, install, run, parse), got {}",
            describe(other)
        )),
    }
}

fn command_or_null(c: &mut Checker<'_>, value: &Value) {
    if !matches!(value, Value::String(_) | Value::Null) {
        c.error(format!(
            "must be a string, or empty to only wait for the prompt, got {}",
            describe(value)
        ));
    }
}

static SUCCESS: Shape = Shape {
    what: "a success",
    fields: &[req("message", Rule::NonEmptyStr)],
    unknown: Unknown::Error,
};
static FAILURE: Shape = Shape {
    what: "a failure",
    fields: &[
        req("message", Rule::NonEmptyStr),
        opt(
            "exception",
            Rule::OneOf(&["InfrastructureError", "JobError", "TestError"]),
        ),
        opt("error", Rule::NonEmptyStr),
    ],
    unknown: Unknown::Error,
};
static STEP: Shape = Shape {
    what: "an interactive step",
    fields: &[
        req("command", Rule::Custom(command_or_null)),
        opt("name", Rule::Custom(ascii_name)),
        opt("successes", Rule::ListOf(&Rule::Struct(&SUCCESS))),
        opt("failures", Rule::ListOf(&Rule::Struct(&FAILURE))),
    ],
    unknown: Unknown::Error,
};

fn prompt_list(c: &mut Checker<'_>, value: &Value) {
    let Some(items) = c.list(value) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        c.at_index(i, |c| c.check(item, Rule::NonEmptyStr));
    }
}

static INTERACTIVE: Shape = Shape {
    what: "an interactive test",
    fields: &[
        req("name", Rule::Custom(ascii_name)),
        req("prompts", Rule::Custom(prompt_list)),
        opt("echo", Rule::Literal("discard")),
        req("script", Rule::ListOf(&Rule::Struct(&STEP))),
    ],
    unknown: Unknown::Error,
};

static MONITOR: Shape = Shape {
    what: "a monitor",
    fields: &[
        req("name", Rule::Custom(ascii_name)),
        req("start", Rule::Str),
        req("end", Rule::Str),
        req("pattern", Rule::Str),
        opt("fixupdict", Rule::Custom(fixupdict)),
    ],
    unknown: Unknown::Error,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_image_names() {
        for good in [
            "debian",
            "debian:buster",
            "lava/lava-dispatcher:2020.01",
            "a1",
            "x.y_z-w/q:_T.1-2",
        ] {
            assert!(is_docker_image(good), "{good}");
        }
        for bad in [
            "Debian",
            "a",
            "-ab",
            "ab-",
            "ab:",
            "ab:-x",
            "ab:.x",
            "reg:5000/x:y",
            "a b",
        ] {
            assert!(!is_docker_image(bad), "{bad}");
        }
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [DEPLOY_METHODS, BOOT_METHODS] {
            let names: Vec<&str> = table.iter().map(|m| m.name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted);
        }
        // The typed model names the same methods.
        let deploy: Vec<&str> = crate::job::DeployMethod::ALL
            .iter()
            .map(|m| m.as_str())
            .collect();
        let boot: Vec<&str> = crate::job::BootMethod::ALL
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            deploy,
            DEPLOY_METHODS.iter().map(|m| m.name).collect::<Vec<_>>()
        );
        assert_eq!(
            boot,
            BOOT_METHODS.iter().map(|m| m.name).collect::<Vec<_>>()
        );
    }
}
