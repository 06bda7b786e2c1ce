//! The typed job definition: what the master stores and the dispatcher
//! runs, read with serde from a loaded [`Value`].
//!
//! Every action block keeps the keys its type does not name in a
//! `parameters` [`Mapping`] (deploy images, boot commands, ...), so a
//! strategy reads what it needs without this model knowing every method.
//! The model also reads the per-device jobs the server writes when it
//! splits a multinode submission (`role` as one string, assigned `roles`,
//! top-level `connection`/`host_role`), which submission validation
//! refuses. Top-level keys it does not name are ignored (validation
//! reports them).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::timeout::Timeout;
use crate::yaml::{Mapping, Value};

/// A whole job definition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobDefinition {
    /// The job's description (1–200 characters).
    pub job_name: String,
    /// The device type to run on; `None` in a multinode submission (each
    /// role names its own).
    #[serde(default)]
    pub device_type: Option<String>,
    /// Job, action and connection timeouts.
    pub timeouts: Timeouts,
    /// Who may see the job.
    #[serde(default)]
    pub visibility: Visibility,
    /// Scheduling priority; medium (50) unless given.
    #[serde(default)]
    pub priority: Priority,
    /// Device tags the device must all carry.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Variables for the device-type template.
    #[serde(default)]
    pub context: Mapping,
    /// Free key/value data stored with the job.
    #[serde(default)]
    pub metadata: Mapping,
    /// Values written into the test overlay (never shown in `Debug`).
    #[serde(default)]
    pub secrets: Secrets,
    /// Variables exported into the test shell.
    #[serde(default)]
    pub environment: Mapping,
    /// Multinode, LXC, VLAN and xnbd protocols.
    #[serde(default)]
    pub protocols: Protocols,
    /// Notifications and callbacks.
    #[serde(default)]
    pub notify: Option<Notify>,
    /// Whether adb devices are rebooted to their bootloader at the end
    /// (`lava-lxc`); default true.
    #[serde(default = "yes")]
    pub reboot_to_fastboot: bool,
    /// The ordered action blocks.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Set by the server: the dispatcher compatibility level.
    #[serde(default)]
    pub compatibility: Option<i64>,
    /// Set by the server in a connection role's sub-job: the connection
    /// type (e.g. `ssh`).
    #[serde(default)]
    pub connection: Option<String>,
    /// Set by the server in a connection role's sub-job: the role whose
    /// device it connects to.
    #[serde(default)]
    pub host_role: Option<String>,
}

fn yes() -> bool {
    true
}

/// `timeouts:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Timeouts {
    /// The whole job.
    pub job: Timeout,
    /// Default of every action.
    #[serde(default)]
    pub action: Option<Timeout>,
    /// Per action name (`http-download`, `lava-test-shell`, ...).
    #[serde(default)]
    pub actions: BTreeMap<String, Timeout>,
    /// Default of each wait on a connection.
    #[serde(default)]
    pub connection: Option<Timeout>,
    /// Per action name, for its connection waits.
    #[serde(default)]
    pub connections: BTreeMap<String, Timeout>,
}

/// Who may see a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "Value")]
pub enum Visibility {
    /// Anyone who may see the device type.
    #[default]
    Public,
    /// The submitter (and administrators).
    Personal,
    /// Members of all these groups.
    Group(Vec<String>),
}

impl TryFrom<Value> for Visibility {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        match &value {
            Value::String(s) if s == "public" => Ok(Visibility::Public),
            Value::String(s) if s == "personal" => Ok(Visibility::Personal),
            Value::Mapping(m) => match m.get("group") {
                Some(Value::Sequence(groups)) => groups
                    .iter()
                    .map(|g| {
                        g.as_str()
                            .map(str::to_owned)
                            .ok_or("group names must be strings")
                    })
                    .collect::<Result<_, _>>()
                    .map(Visibility::Group)
                    .map_err(str::to_owned),
                _ => Err("a visibility mapping needs `group: [names]`".to_owned()),
            },
            _ => Err("visibility must be public, personal or {group: [names]}".to_owned()),
        }
    }
}

/// Scheduling priority: higher runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "Value")]
pub enum Priority {
    /// `low` (0).
    Low,
    /// `medium` (50), the default.
    #[default]
    Medium,
    /// `high` (100).
    High,
    /// A number from 0 to 100.
    Number(u8),
}

impl Priority {
    /// The number the scheduler sorts by, 0–100.
    pub fn value(self) -> u8 {
        match self {
            Priority::Low => 0,
            Priority::Medium => 50,
            Priority::High => 100,
            Priority::Number(n) => n,
        }
    }
}

impl TryFrom<Value> for Priority {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        let number = match &value {
            Value::String(s) => {
                return match s.as_str() {
                    "low" => Ok(Priority::Low),
                    "medium" => Ok(Priority::Medium),
                    "high" => Ok(Priority::High),
                    _ => Err(format!("unknown priority {s:?}")),
                }
            }
            Value::Int(n) => *n,
            Value::Bool(b) => i64::from(*b),
            _ => return Err("priority must be low, medium, high or 0-100".to_owned()),
        };
        u8::try_from(number)
            .ok()
            .filter(|n| *n <= 100)
            .map(Priority::Number)
            .ok_or_else(|| format!("priority {number} is not within 0-100"))
    }
}

/// `secrets:` — kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secrets(Mapping);

impl Secrets {
    /// The value of secret `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The secrets, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.0.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Shows the names only.
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// A mapping from names to `T`, in the order of the text.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedMap<T>(pub Vec<(String, T)>);

impl<T> Default for NamedMap<T> {
    fn default() -> Self {
        NamedMap(Vec::new())
    }
}

impl<T> NamedMap<T> {
    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamedVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedVisitor<T> {
            type Value = NamedMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping with string keys")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(NamedMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, T>()? {
                    match out.iter_mut().find(|(n, _)| *n == name) {
                        Some(entry) => entry.1 = value,
                        None => out.push((name, value)),
                    }
                }
                Ok(NamedMap(out))
            }
        }

        deserializer.deserialize_map(NamedVisitor(std::marker::PhantomData))
    }
}

/// `protocols:`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct Protocols {
    /// `lava-multinode`: the roles of a group of devices.
    #[serde(rename = "lava-multinode", default)]
    pub multinode: Option<Multinode>,
    /// `lava-lxc`: a container on the worker next to the device.
    #[serde(rename = "lava-lxc", default)]
    pub lxc: Option<LxcProtocol>,
    /// `lava-vland`: VLANs per role (role → VLAN name → `{tags}`), or per
    /// VLAN after the split.
    #[serde(rename = "lava-vland", default)]
    pub vland: Option<Mapping>,
    /// `lava-xnbd`: a network block device server.
    #[serde(rename = "lava-xnbd", default)]
    pub xnbd: Option<Xnbd>,
    /// Other protocols.
    #[serde(flatten)]
    pub other: Mapping,
}

/// `protocols.lava-multinode`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Multinode {
    /// The roles (a submission) or the device of each role (a sub-job).
    #[serde(default)]
    pub roles: Roles,
    /// How long protocol calls wait.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// Sub-job: this job's role.
    #[serde(default)]
    pub role: Option<String>,
    /// Sub-job: the number of jobs in the group.
    #[serde(default)]
    pub group_size: Option<u32>,
    /// Sub-job: its id within the group (`"12.0"`).
    #[serde(default)]
    pub sub_id: Option<Value>,
    /// Sub-job: the group's id.
    #[serde(default)]
    pub target_group: Option<String>,
    /// Other keys (a sub-job carries its role's keys here: `expect_role`,
    /// `request`, ...).
    #[serde(flatten)]
    pub extra: Mapping,
}

/// `lava-multinode.roles`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub enum Roles {
    /// In a submission: role name → what the role needs.
    Defined(NamedMap<Role>),
    /// In a sub-job: device name → role name.
    Assigned(NamedMap<String>),
}

impl Default for Roles {
    fn default() -> Self {
        Roles::Defined(NamedMap::default())
    }
}

impl TryFrom<Value> for Roles {
    type Error = crate::yaml::FromValueError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        let assigned = value
            .as_mapping()
            .is_some_and(|m| !m.is_empty() && m.values().all(|v| v.as_str().is_some()));
        if assigned {
            crate::yaml::from_value(&value).map(Roles::Assigned)
        } else {
            crate::yaml::from_value(&value).map(Roles::Defined)
        }
    }
}

/// One role of a multinode submission.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Role {
    /// A role of devices: their type.
    #[serde(default)]
    pub device_type: Option<String>,
    /// A role that connects to another role's device: the connection.
    #[serde(default)]
    pub connection: Option<String>,
    /// How many devices (or connections).
    pub count: u32,
    /// Template variables for this role's devices.
    #[serde(default)]
    pub context: Mapping,
    /// Device tags for this role.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Test shell environment for this role.
    #[serde(default)]
    pub environment: Option<Mapping>,
    /// Protocol wait for this role.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// Connection role: the role whose device it connects to.
    #[serde(default)]
    pub host_role: Option<String>,
    /// Connection role: the role to wait for.
    #[serde(default)]
    pub expect_role: Option<String>,
    /// Connection role: the protocol request it waits with.
    #[serde(default)]
    pub request: Option<String>,
    /// Whether the group fails when this role's job fails.
    #[serde(default)]
    pub essential: bool,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Mapping,
}

/// `protocols.lava-lxc`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub enum LxcProtocol {
    /// One container.
    Container(LxcContainer),
    /// One container per multinode role.
    PerRole(NamedMap<LxcContainer>),
}

impl TryFrom<Value> for LxcProtocol {
    type Error = crate::yaml::FromValueError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        if value.get("name").is_some() {
            crate::yaml::from_value(&value).map(LxcProtocol::Container)
        } else {
            crate::yaml::from_value(&value).map(LxcProtocol::PerRole)
        }
    }
}

/// An LXC container.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LxcContainer {
    /// Container name.
    pub name: String,
    /// Distribution (`debian`).
    pub distribution: String,
    /// Release (`buster`).
    pub release: String,
    /// Architecture.
    #[serde(default)]
    pub arch: Option<String>,
    /// Package mirror.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Security updates mirror.
    #[serde(default)]
    pub security_mirror: Option<String>,
    /// LXC template.
    #[serde(default)]
    pub template: Option<String>,
    /// Keep the container after the job.
    #[serde(default)]
    pub persist: bool,
    /// Verbose creation.
    #[serde(default)]
    pub verbose: bool,
    /// Protocol timeout.
    #[serde(default)]
    pub timeout: Option<Timeout>,
}

/// `protocols.lava-xnbd`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Xnbd {
    /// `auto` or a port number.
    pub port: XnbdPort,
    /// Protocol timeout.
    #[serde(default)]
    pub timeout: Option<Timeout>,
}

/// `lava-xnbd.port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub enum XnbdPort {
    /// Let the worker choose.
    Auto,
    /// This port.
    Number(u16),
}

impl TryFrom<Value> for XnbdPort {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) if s == "auto" => Ok(XnbdPort::Auto),
            Value::Int(n) => u16::try_from(n)
                .map(XnbdPort::Number)
                .map_err(|_| format!("port {n} is not within 0-65535")),
            other => Err(format!(
                "expected `auto` or a port number, got {}",
                other.type_name()
            )),
        }
    }
}

/// `notify:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Notify {
    /// When to notify.
    pub criteria: Criteria,
    /// How much to say.
    #[serde(default)]
    pub verbosity: Verbosity,
    /// E-mail and IRC recipients.
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    /// One callback (older form).
    #[serde(default)]
    pub callback: Option<Callback>,
    /// Callbacks.
    #[serde(default)]
    pub callbacks: Vec<Callback>,
    /// Comparison with earlier jobs.
    #[serde(default)]
    pub compare: Option<Compare>,
}

impl Notify {
    /// `callback` and `callbacks` together.
    pub fn all_callbacks(&self) -> impl Iterator<Item = &Callback> {
        self.callback.iter().chain(self.callbacks.iter())
    }
}

/// `notify.criteria`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Criteria {
    /// The job state or health that triggers.
    pub status: NotifyStatus,
    /// Only on a change from the previous similar job.
    #[serde(rename = "type", default)]
    pub kind: Option<NotifyType>,
}

/// `criteria.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyStatus {
    /// The job started.
    Running,
    /// The job ended, whatever its health.
    Finished,
    /// The job completed.
    Complete,
    /// The job was incomplete.
    Incomplete,
    /// The job was canceled.
    Canceled,
}

/// `criteria.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyType {
    /// The previous similar job completed, this one did not.
    Regression,
    /// The reverse.
    Progression,
}

/// `notify.verbosity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verbosity {
    /// Everything.
    Verbose,
    /// A summary (the default).
    #[default]
    Quiet,
    /// The status only.
    StatusOnly,
}

/// One `notify.recipients` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recipient {
    /// Where to send.
    pub to: RecipientTo,
}

/// `recipients[].to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecipientTo {
    /// E-mail or IRC.
    pub method: RecipientMethod,
    /// A LAVA user (their address or nick is looked up).
    #[serde(default)]
    pub user: Option<String>,
    /// An e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// An IRC nick.
    #[serde(default)]
    pub handle: Option<String>,
    /// An IRC server.
    #[serde(default)]
    pub server: Option<String>,
}

/// `to.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientMethod {
    /// E-mail.
    Email,
    /// IRC.
    Irc,
}

/// A callback: an HTTP request made when the criteria match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Callback {
    /// Where.
    pub url: String,
    /// GET (default) or POST.
    #[serde(default)]
    pub method: HttpMethod,
    /// The description of one of the submitter's API tokens.
    #[serde(default)]
    pub token: Option<String>,
    /// What to send.
    #[serde(default)]
    pub dataset: Dataset,
    /// How to encode it.
    #[serde(rename = "content-type", default)]
    pub content_type: ContentType,
}

/// `callback.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum HttpMethod {
    /// GET (the default).
    #[default]
    #[serde(rename = "GET")]
    Get,
    /// POST.
    #[serde(rename = "POST")]
    Post,
}

/// `callback.dataset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Job id and status (the default).
    #[default]
    Minimal,
    /// With the logs.
    Logs,
    /// With the results.
    Results,
    /// Everything.
    All,
}

/// `callback.content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentType {
    /// Form encoding (the default).
    #[default]
    Urlencoded,
    /// JSON.
    Json,
}

/// `notify.compare`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Compare {
    /// Test suites left out of the comparison.
    #[serde(default)]
    pub blacklist: Vec<String>,
    /// The query that selects the jobs to compare with.
    #[serde(default)]
    pub query: Option<Mapping>,
}

// --------------------------------------------------------------------
// Actions.

/// One item of `actions:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Put software where the device can use it.
    Deploy(Deploy),
    /// Start the device.
    Boot(Boot),
    /// Run tests.
    Test(Test),
    /// Run a command pair of the device configuration.
    Command(Command),
}

impl Action {
    /// The keys every block has.
    pub fn common(&self) -> &ActionCommon {
        match self {
            Action::Deploy(d) => &d.common,
            Action::Boot(b) => &b.common,
            Action::Test(t) => &t.common,
            Action::Command(c) => &c.common,
        }
    }

    /// `deploy`, `boot`, `test` or `command`.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Deploy(_) => "deploy",
            Action::Boot(_) => "boot",
            Action::Test(_) => "test",
            Action::Command(_) => "command",
        }
    }
}

/// Keys every action block may have.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ActionCommon {
    /// Timeout of the block's actions.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// The namespace (`None` means `common`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Use the connection of another namespace.
    #[serde(rename = "connection-namespace", default)]
    pub connection_namespace: Option<String>,
    /// Multinode: the roles that run this block (one string in a sub-job).
    #[serde(default, deserialize_with = "one_or_many")]
    pub role: Vec<String>,
    /// Protocol calls around named actions.
    #[serde(default)]
    pub protocols: Option<Value>,
    /// Retry the block this many times on failure.
    #[serde(default)]
    pub failure_retry: Option<u32>,
    /// Run the block this many times.
    #[serde(default)]
    pub repeat: Option<u32>,
}

impl ActionCommon {
    /// The namespace, `common` when none is given.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("common")
    }
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s]),
        Value::Sequence(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(de::Error::custom(format!(
                    "expected a string, got {}",
                    other.type_name()
                ))),
            })
            .collect(),
        other => Err(de::Error::custom(format!(
            "expected a string or a list of strings, got {}",
            other.type_name()
        ))),
    }
}

macro_rules! methods {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every method, in alphabetical order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name as written in a job.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

methods! {
    /// How a deploy block deploys (`to:`).
    DeployMethod {
        /// A container as the test target.
        Docker = "docker",
        /// Download only.
        Download = "download",
        /// Flash partitions with fastboot.
        Fastboot = "fastboot",
        /// Flash with the device's own flasher command.
        Flasher = "flasher",
        /// QEMU installer from an ISO.
        IsoInstaller = "iso-installer",
        /// The `lava-lxc` container.
        Lxc = "lxc",
        /// ARM MPS boards.
        Mps = "mps",
        /// Network block device root.
        Nbd = "nbd",
        /// NFS root served by the worker.
        Nfs = "nfs",
        /// Only the test overlay.
        Overlay = "overlay",
        /// Files for recovery-mode flashing.
        Recovery = "recovery",
        /// Write to SATA media.
        Sata = "sata",
        /// Write to an SD card.
        Sd = "sd",
        /// A target reached over ssh.
        Ssh = "ssh",
        /// Files served over TFTP.
        Tftp = "tftp",
        /// QEMU images.
        Tmpfs = "tmpfs",
        /// U-Boot USB mass storage.
        UBootUms = "u-boot-ums",
        /// Write to USB media.
        Usb = "usb",
        /// ARM Versatile Express MCC storage.
        Vemsd = "vemsd",
    }
}

methods! {
    /// How a boot block boots (`method:`).
    BootMethod {
        /// Barebox bootloader.
        Barebox = "barebox",
        /// A named bootloader's commands.
        Bootloader = "bootloader",
        /// CMSIS-DAP microcontroller flashing.
        CmsisDap = "cmsis-dap",
        /// Chromebook depthcharge.
        Depthcharge = "depthcharge",
        /// DFU microcontroller flashing.
        Dfu = "dfu",
        /// A docker container.
        Docker = "docker",
        /// fastboot.
        Fastboot = "fastboot",
        /// GDB.
        Gdb = "gdb",
        /// GRUB.
        Grub = "grub",
        /// GRUB on EFI.
        GrubEfi = "grub-efi",
        /// iPXE.
        Ipxe = "ipxe",
        /// J-Link.
        Jlink = "jlink",
        /// kexec into a new kernel.
        Kexec = "kexec",
        /// The `lava-lxc` container.
        Lxc = "lxc",
        /// Power on and wait.
        Minimal = "minimal",
        /// A device that runs its tests by itself.
        Monitor = "monitor",
        /// An extra device connection.
        NewConnection = "new_connection",
        /// OpenOCD.
        Openocd = "openocd",
        /// pyOCD.
        Pyocd = "pyocd",
        /// QEMU.
        Qemu = "qemu",
        /// QEMU from an installer image.
        QemuIso = "qemu-iso",
        /// QEMU with an NFS root.
        QemuNfs = "qemu-nfs",
        /// Recovery mode.
        Recovery = "recovery",
        /// A schroot over ssh.
        Schroot = "schroot",
        /// ssh.
        Ssh = "ssh",
        /// U-Boot.
        UBoot = "u-boot",
        /// UEFI shell.
        Uefi = "uefi",
        /// UEFI menu.
        UefiMenu = "uefi-menu",
    }
}

/// A `deploy:` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Deploy {
    /// The method.
    pub to: DeployMethod,
    /// The target's operating system (how the overlay is installed).
    #[serde(default)]
    pub os: Option<String>,
    /// The keys every block has.
    #[serde(flatten)]
    pub common: ActionCommon,
    /// Everything else: `kernel`, `images`, `authorize`, ...
    #[serde(flatten)]
    pub parameters: Mapping,
}

/// A `boot:` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Boot {
    /// The method.
    pub method: BootMethod,
    /// Shell prompts that mean "booted".
    #[serde(default, deserialize_with = "one_or_many")]
    pub prompts: Vec<String>,
    /// Log in after boot.
    #[serde(default)]
    pub auto_login: Option<AutoLogin>,
    /// Fetch the overlay over the network.
    #[serde(default)]
    pub transfer_overlay: Option<TransferOverlay>,
    /// Bootloader commands.
    #[serde(default)]
    pub commands: Option<BootCommands>,
    /// The keys every block has.
    #[serde(flatten)]
    pub common: ActionCommon,
    /// Everything else: `media`, `connection`, `parameters`, ...
    #[serde(flatten)]
    pub parameters: Mapping,
}

/// `auto_login:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AutoLogin {
    /// The login prompt to wait for.
    pub login_prompt: String,
    /// The user name.
    pub username: String,
    /// The password prompt.
    #[serde(default)]
    pub password_prompt: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// Commands to run right after login.
    #[serde(default)]
    pub login_commands: Vec<String>,
}

/// `transfer_overlay:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TransferOverlay {
    /// How the device downloads the overlay.
    pub download_command: String,
    /// How it unpacks it.
    pub unpack_command: String,
}

/// `commands:` of a boot block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum BootCommands {
    /// The name of a command set of the device configuration (`ramdisk`).
    Named(String),
    /// Literal commands.
    List(Vec<String>),
}

/// A `test:` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawTest")]
pub struct Test {
    /// What kind of test.
    pub kind: TestKind,
    /// The keys every block has.
    pub common: ActionCommon,
    /// Everything else.
    pub parameters: Mapping,
}

/// The three forms of a test block.
#[derive(Debug, Clone, PartialEq)]
pub enum TestKind {
    /// Lava-Test test definitions run by the test shell.
    Definitions(Vec<TestDefinition>),
    /// Scripted dialogues with a non-POSIX shell.
    Interactive(Vec<InteractiveTest>),
    /// Console patterns of a device that tests itself.
    Monitors(Vec<Monitor>),
}

#[derive(Deserialize)]
struct RawTest {
    #[serde(default)]
    definitions: Option<Vec<TestDefinition>>,
    #[serde(default)]
    interactive: Option<Vec<InteractiveTest>>,
    #[serde(default)]
    monitors: Option<Vec<Monitor>>,
    #[serde(flatten)]
    common: ActionCommon,
    #[serde(flatten)]
    parameters: Mapping,
}

impl TryFrom<RawTest> for Test {
    type Error = &'static str;

    fn try_from(raw: RawTest) -> Result<Self, Self::Error> {
        let kind = if let Some(d) = raw.definitions {
            TestKind::Definitions(d)
        } else if let Some(i) = raw.interactive {
            TestKind::Interactive(i)
        } else if let Some(m) = raw.monitors {
            TestKind::Monitors(m)
        } else {
            return Err("a test block needs definitions, interactive or monitors");
        };
        Ok(Test {
            kind,
            common: raw.common,
            parameters: raw.parameters,
        })
    }
}

/// Where a test definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefinitionSource {
    /// A git repository.
    Git,
    /// Written in the job.
    Inline,
    /// One file downloaded from a URL.
    Url,
    /// A base64 tar archive.
    Tar,
}

/// One entry of `definitions:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TestDefinition {
    /// Where it comes from.
    pub from: DefinitionSource,
    /// The test suite name in results.
    pub name: String,
    /// The definition file inside the repository.
    pub path: String,
    /// A URL, or the inline definition.
    pub repository: Repository,
    /// Git branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Git revision.
    #[serde(default)]
    pub revision: Option<String>,
    /// Keep the git history.
    #[serde(default)]
    pub history: Option<bool>,
    /// Shallow clone (default true unless `revision` is given).
    #[serde(default)]
    pub shallow: Option<bool>,
    /// Values exported to the test.
    #[serde(default)]
    pub parameters: Mapping,
    /// The older spelling of `parameters`.
    #[serde(default)]
    pub params: Mapping,
    /// Install steps to skip.
    #[serde(default)]
    pub skip_install: Vec<String>,
    /// Where test case signals go.
    #[serde(rename = "lava-signal", default)]
    pub lava_signal: Option<LavaSignal>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Mapping,
}

impl TestDefinition {
    /// Whether git clones shallowly: `shallow` (default true), never with
    /// a `revision`.
    pub fn is_shallow(&self) -> bool {
        self.revision.is_none() && self.shallow.unwrap_or(true)
    }
}

/// `lava-signal:` of a test definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LavaSignal {
    /// The kernel log.
    Kmsg,
    /// The test's standard output (the default).
    Stdout,
}

/// `repository:` of a test definition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Repository {
    /// A URL (git, url, tar).
    Url(String),
    /// An inline Lava-Test definition (metadata, install, run, parse).
    Inline(Mapping),
}

/// One entry of `interactive:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InteractiveTest {
    /// Test suite name.
    pub name: String,
    /// Prompts of the shell.
    pub prompts: Vec<String>,
    /// `echo: discard` drops the echoed command from the output.
    #[serde(default)]
    pub echo: Option<Echo>,
    /// The steps.
    pub script: Vec<InteractiveStep>,
}

/// `echo:` of an interactive test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Echo {
    /// Drop the echoed command.
    Discard,
}

/// One step of an interactive script.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InteractiveStep {
    /// The command; `None` only waits for the prompt.
    #[serde(default)]
    pub command: Option<String>,
    /// Makes the step a test case.
    #[serde(default)]
    pub name: Option<String>,
    /// Messages that mean success.
    #[serde(default)]
    pub successes: Vec<Success>,
    /// Messages that mean failure.
    #[serde(default)]
    pub failures: Vec<Failure>,
}

/// `successes[]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Success {
    /// The text to look for.
    pub message: String,
}

/// `failures[]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Failure {
    /// The text to look for.
    pub message: String,
    /// The error to raise.
    #[serde(default)]
    pub exception: Option<FailureKind>,
    /// The error text.
    #[serde(default)]
    pub error: Option<String>,
}

/// `failures[].exception`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FailureKind {
    /// The lab's fault.
    InfrastructureError,
    /// The job's fault.
    JobError,
    /// The test's fault.
    TestError,
}

/// One entry of `monitors:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Monitor {
    /// Test suite name.
    pub name: String,
    /// Text that starts the monitored output.
    pub start: String,
    /// Text that ends it.
    pub end: String,
    /// Regular expression with named groups (`result`, `test_case_id`).
    pub pattern: String,
    /// Result words → LAVA results.
    #[serde(default)]
    pub fixupdict: BTreeMap<String, FixupResult>,
}

/// A result a fixupdict maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixupResult {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Skipped.
    Skip,
    /// Unknown.
    Unknown,
}

/// A `command:` block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Command {
    /// The name of a command pair of the device configuration.
    pub name: String,
    /// The keys every block has.
    #[serde(flatten)]
    pub common: ActionCommon,
}
