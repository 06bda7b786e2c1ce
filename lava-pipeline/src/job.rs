//! A job: the parser that turns a job definition and a device
//! configuration into a pipeline (docs/pipeline.md §3.2), and the validate /
//! run / cleanup phases over it.
//!
//! ```
//! use lava_pipeline::{Job, JobInputs};
//! use lava_pipeline::Registry;
//!
//! let device = "commands: {connect: 'cat'}\n\
//!               actions:\n  deploy: {methods: {image: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
//!               timeouts: {actions: {}, connections: {}}\n";
//! let definition = "job_name: doc\ntimeouts: {job: {minutes: 5}}\nactions:\n- boot: {method: minimal, reset: false}\n";
//! let inputs = JobInputs::new("12", definition, device);
//! let job = Job::parse(&inputs, &Registry::with_builtins()).unwrap();
//! let tree: Vec<String> = job.tree().iter().map(|(level, name)| format!("{level} {name}")).collect();
//! assert_eq!(tree, ["1 minimal-boot", "1.1 connect-device", "2 finalize", "2.1 power-off", "2.2 read-feedback"]);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lava_devices::DeviceConfig;
use lava_proto::job;
use lava_proto::yaml::{self, Mapping, Value};

use crate::action::{Block, Section};
use crate::cancel::CancelToken;
use crate::context::JobData;
use crate::error::{Error, ErrorKind};
use crate::logger::Logger;
use crate::pipeline::{self, Env, Node};
use crate::strategy::{Family, Registry, TestNeeds};
use crate::timeout::{parse_timeout, ActionTimeout, Deadline, TimeoutTable};

/// Where lava-run keeps per-job files by default.
pub const DEFAULT_TMP_DIR: &str = "/var/lib/lava/dispatcher/tmp";

/// The inputs of a job, as lava-run receives them.
#[derive(Debug, Clone)]
pub struct JobInputs {
    /// The job id (for a MultiNode sub-job, its TestJob id: the
    /// coordinator's `client_name`).
    pub job_id: String,
    /// The job definition (YAML text).
    pub definition: String,
    /// The rendered device configuration (YAML text).
    pub device: String,
    /// The dispatcher configuration (YAML text), if any.
    pub dispatcher: Option<String>,
    /// The DUT environment (`env-dut`, YAML text), if any.
    pub env_dut: Option<String>,
    /// The base of per-job temporary directories.
    pub tmp_dir: PathBuf,
}

impl JobInputs {
    /// Inputs without dispatcher configuration or DUT environment,
    /// temporary files under the system's temporary directory.
    pub fn new(job_id: &str, definition: &str, device: &str) -> Self {
        JobInputs {
            job_id: job_id.to_string(),
            definition: definition.to_string(),
            device: device.to_string(),
            dispatcher: None,
            env_dut: None,
            tmp_dir: std::env::temp_dir().join("lava-dispatcher"),
        }
    }
}

/// One test block seen by the parser's pre-scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestInfo {
    /// Index of the block in `actions`.
    pub index: usize,
    /// What its strategy needs.
    pub needs: TestNeeds,
}

/// What every action may read about the job (immutable once parsed).
/// Its `Debug` output leaves out the definition (it holds the secrets).
pub struct JobInfo {
    /// The job id.
    pub id: String,
    /// The job definition as the parser completed it (each block has its
    /// `namespace`, tests their `stage`...).
    pub definition: Mapping,
    /// The device configuration.
    pub device: DeviceConfig,
    /// The dispatcher configuration (`{}` when absent).
    pub dispatcher: Mapping,
    /// The DUT environment text.
    pub env_dut: Option<String>,
    /// Action and connection timeouts.
    pub timeouts: TimeoutTable,
    /// Test blocks per namespace.
    pub test_info: BTreeMap<String, Vec<TestInfo>>,
    /// Base of per-job temporary directories.
    pub tmp_dir: PathBuf,
    /// Every block, in job order.
    pub blocks: Vec<Arc<Block>>,
    /// The `lava-multinode` protocol (docs/pipeline.md §12), when the job
    /// is a MultiNode sub-job.
    multinode: Option<crate::protocols::multinode::Multinode>,
}

impl std::fmt::Debug for JobInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobInfo")
            .field("id", &self.id)
            .field("blocks", &self.blocks.len())
            .field("test_info", &self.test_info)
            .field("tmp_dir", &self.tmp_dir)
            .finish_non_exhaustive()
    }
}

impl JobInfo {
    /// The `lava-multinode` protocol, when the job is a MultiNode sub-job.
    pub(crate) fn multinode(&self) -> Option<&crate::protocols::multinode::Multinode> {
        self.multinode.as_ref()
    }

    /// The job timeout.
    pub fn job_timeout(&self) -> Duration {
        self.timeouts
            .job()
            .unwrap_or(Duration::from_secs(24 * 3600))
    }

    /// The dispatcher's `prefix` (prepended to the job id in directory
    /// names).
    pub fn prefix(&self) -> &str {
        self.dispatcher
            .get("prefix")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn needs(&self, namespace: &str, pick: fn(&TestNeeds) -> bool) -> bool {
        self.test_info
            .get(namespace)
            .is_some_and(|tests| tests.iter().any(|t| pick(&t.needs)))
    }

    /// Whether a test of `namespace` needs the overlay.
    pub fn needs_overlay(&self, namespace: &str) -> bool {
        self.needs(namespace, |n| n.overlay)
    }

    /// Whether a test of `namespace` needs a shell.
    pub fn needs_shell(&self, namespace: &str) -> bool {
        self.needs(namespace, |n| n.shell)
    }

    /// Whether a test of `namespace` needs deployment data.
    pub fn needs_deployment_data(&self, namespace: &str) -> bool {
        self.needs(namespace, |n| n.deployment_data)
    }

    /// The test blocks of `namespace` in job order.
    pub fn test_blocks(&self, namespace: &str) -> Vec<Arc<Block>> {
        self.blocks
            .iter()
            .filter(|b| b.section == Section::Test && b.namespace == namespace)
            .cloned()
            .collect()
    }

    /// A POSIX constant (`lava_test_sh_cmd`, `lava_test_results_dir`,
    /// `lava_test_shell_file`): from the deploy block's deployment data
    /// when it has one, else from the device's `constants.posix`.
    pub fn posix_constant(&self, namespace: &str, name: &str) -> Option<String> {
        for block in self
            .blocks
            .iter()
            .filter(|b| b.section == Section::Deploy && b.namespace == namespace)
        {
            if let Some(v) = block
                .get("deployment_data")
                .and_then(|d| d.get(name))
                .and_then(Value::as_str)
            {
                return Some(v.to_string());
            }
        }
        self.device
            .constant(Some("posix"), name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The results directory on the device (`/lava-<id>`).
    pub fn results_dir(&self, namespace: &str) -> String {
        let pattern = self
            .posix_constant(namespace, "lava_test_results_dir")
            .unwrap_or_else(|| "/lava-%s".into());
        pattern.replace("%s", &self.id)
    }

    /// The job's `secrets` as `(name, value)` text pairs.
    pub fn secrets(&self) -> Vec<(String, String)> {
        self.definition
            .get("secrets")
            .and_then(Value::as_mapping)
            .map(|m| m.iter().map(|(k, v)| (scalar(k), scalar(v))).collect())
            .unwrap_or_default()
    }

    /// The job's `context:`.
    pub fn job_context(&self) -> Mapping {
        self.definition
            .get("context")
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default()
    }
}

/// A scalar as text (Python's `str`).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) | Value::Decimal(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        other => yaml::to_flow_line(other),
    }
}

/// The OS deployment data of `os` (docs/pipeline.md §3.6); empty for unknown.
pub fn deployment_data(os: Option<&str>) -> Mapping {
    let (distro, sh, results, shell_file) = match os {
        Some(os @ ("debian" | "fedora" | "centos" | "archlinux" | "slackware")) => {
            (os, "/bin/bash", "/lava-%s", Some("~/.bashrc"))
        }
        Some("debian_installer") => ("debian", "/bin/bash", "/lava-%s", Some("~/.bashrc")),
        Some("centos_installer") => ("centos", "/bin/bash", "/lava-%s", Some("~/.bashrc")),
        Some("ubuntu") => ("ubuntu", "/bin/sh", "/lava-%s", Some("~/.bashrc")),
        Some("oe") => ("oe", "/bin/sh", "/lava-%s", Some("~/.bashrc")),
        Some("lede") => ("lede", "/bin/sh", "/tmp/lava-results-%s", None),
        Some("android") => ("android", "/system/bin/sh", "/data/local/tmp/lava-%s", None),
        _ => return Mapping::new(),
    };
    let mut m = Mapping::new();
    m.insert("distro", distro);
    m.insert("lava_test_sh_cmd", sh);
    m.insert("lava_test_results_dir", results);
    m.insert(
        "lava_test_shell_file",
        shell_file.map(Value::from).unwrap_or(Value::Null),
    );
    m.insert("line_separator", "\n");
    m
}

/// A parsed job: its facts and its pipeline.
pub struct Job {
    /// What actions read.
    pub info: JobInfo,
    /// The root pipeline (one node per block, then `finalize`).
    pub root: Vec<Node>,
    /// The compatibility level (docs/pipeline.md §3.8).
    pub compatibility: u32,
    data: Option<JobData>,
    ran: bool,
    cleaned: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.info.id)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn block_timeout(value: Option<&Value>) -> Result<Option<ActionTimeout>, Error> {
    value
        .filter(|v| !v.is_null())
        .map(|v| parse_timeout(v).map_err(|e| Error::job(format!("timeout: {e}"))))
        .transpose()
}

fn uint(value: Option<&Value>, key: &str) -> Result<Option<u32>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(n)) if *n >= 1 => u32::try_from(*n)
            .map(Some)
            .map_err(|_| Error::job(format!("{key} is too large"))),
        Some(other) => Err(Error::job(format!(
            "{key} must be an integer ≥ 1, not {}",
            yaml::to_flow_line(other)
        ))),
    }
}

impl Job {
    /// Parse a job (docs/pipeline.md §3.2). Errors are `Job` errors for the job
    /// definition and `Configuration` errors for the device configuration.
    pub fn parse(inputs: &JobInputs, registry: &Registry) -> Result<Job, Error> {
        let device = DeviceConfig::from_yaml(&inputs.device)
            .map_err(|e| Error::configuration(format!("Invalid device configuration: {e}")))?;
        let dispatcher = match &inputs.dispatcher {
            Some(text) => match yaml::load(text) {
                Ok(Value::Mapping(m)) => m,
                Ok(_) => Mapping::new(),
                Err(e) => {
                    return Err(Error::configuration(format!(
                        "Invalid dispatcher configuration: {e}"
                    )))
                }
            },
            None => Mapping::new(),
        };
        let mut definition = match yaml::load(&inputs.definition) {
            Ok(Value::Mapping(m)) => m,
            Ok(other) => {
                return Err(Error::job(format!(
                    "The job definition is a {}, not a mapping",
                    other.type_name()
                )))
            }
            Err(e) => return Err(Error::job(format!("Invalid job definition: {e}"))),
        };
        // before anything copies the definition: the member token is taken out
        let multinode = crate::protocols::multinode::Multinode::from_definition(
            &mut definition,
            &inputs.job_id,
            &dispatcher,
        )?;
        let timeouts =
            TimeoutTable::from_values(device.data.get("timeouts"), definition.get("timeouts"))?;
        if timeouts.job().is_none() {
            return Err(Error::job("The job definition has no timeouts.job"));
        }
        let raw_actions = match definition.get("actions") {
            Some(Value::Sequence(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(Error::job(format!(
                    "'actions' must be a list, not a {}",
                    other.type_name()
                )))
            }
        };

        // Blocks: namespace defaults, typed view, shared keys.
        let mut blocks = Vec::new();
        let mut new_actions = Vec::new();
        for (index, item) in raw_actions.iter().enumerate() {
            let Some(map) = item.as_mapping().filter(|m| m.len() == 1) else {
                return Err(Error::job(format!(
                    "actions[{index}] must be a mapping with one key (deploy, boot, test or command)"
                )));
            };
            let (key, value) = map
                .iter()
                .next()
                .map(|(k, v)| (scalar(k), v.clone()))
                .unwrap_or_default();
            let section = match key.as_str() {
                "deploy" => Section::Deploy,
                "boot" => Section::Boot,
                "test" => Section::Test,
                "command" => Section::Command,
                other => return Err(Error::job(format!("Unknown action name '{other}'"))),
            };
            let mut params = match value {
                Value::Mapping(m) => m,
                other => {
                    return Err(Error::job(format!(
                        "actions[{index}].{key} must be a mapping, not a {}",
                        other.type_name()
                    )))
                }
            };
            if !params.contains_key("namespace") {
                params.insert("namespace", "common");
            }
            if let Some(protocols) = definition.get("protocols").and_then(Value::as_mapping) {
                for (k, v) in protocols.iter() {
                    params.insert(k.clone(), v.clone());
                }
            }
            let namespace = params
                .get("namespace")
                .map(scalar)
                .unwrap_or_else(|| "common".into());
            let typed_value = Value::Mapping(Mapping::from_iter([(
                Value::from(key.as_str()),
                Value::Mapping(params.clone()),
            )]));
            let typed = yaml::from_value::<job::Action>(&typed_value).ok();
            let failure_retry = uint(params.get("failure_retry"), "failure_retry")?;
            let repeat = uint(params.get("repeat"), "repeat")?;
            if failure_retry.is_some() && repeat.is_some() {
                return Err(Error::job(
                    "Unable to use repeat and failure_retry, use a repeat block",
                ));
            }
            blocks.push(Block {
                section,
                index,
                timeout: block_timeout(params.get("timeout"))?,
                connection_namespace: params
                    .get("connection-namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                mapping: params,
                typed,
                namespace,
                failure_retry,
                repeat,
                stage: None,
            });
        }

        // Pre-scan the test blocks (test_info).
        let mut test_info: BTreeMap<String, Vec<TestInfo>> = BTreeMap::new();
        for block in blocks.iter().filter(|b| b.section == Section::Test) {
            let strategy = registry.select(Family::Test, &device, block)?;
            let info = TestInfo {
                index: block.index,
                needs: strategy.needs(),
            };
            test_info
                .entry(block.namespace.clone())
                .or_default()
                .push(info);
            if let Some(cns) = &block.connection_namespace {
                if *cns != block.namespace {
                    test_info.insert(cns.clone(), vec![info]);
                }
            }
        }

        // Stages and deployment data.
        let mut counters: BTreeMap<String, u32> = BTreeMap::new();
        for block in blocks.iter_mut() {
            match block.section {
                Section::Test => {
                    let counter = counters.entry(block.namespace.clone()).or_insert(0);
                    block.stage = Some(*counter);
                    block.mapping.insert("stage", i64::from(*counter));
                    let needs_overlay = test_info
                        .get(&block.namespace)
                        .and_then(|t| t.iter().find(|t| t.index == block.index))
                        .is_some_and(|t| t.needs.overlay);
                    if needs_overlay {
                        *counter += 1;
                    }
                }
                Section::Deploy => {
                    let needs_data = test_info
                        .get(&block.namespace)
                        .is_some_and(|t| t.iter().any(|t| t.needs.deployment_data));
                    if needs_data || block.mapping.contains_key("preseed") {
                        let os = block
                            .mapping
                            .get("os")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        block.mapping.insert(
                            "deployment_data",
                            Value::Mapping(deployment_data(os.as_deref())),
                        );
                    }
                }
                _ => {}
            }
            new_actions.push(Value::Mapping(Mapping::from_iter([(
                Value::from(block.section.as_str()),
                Value::Mapping(block.mapping.clone()),
            )])));
        }
        definition.insert("actions", Value::Sequence(new_actions));
        definition.insert("dispatcher", Value::Mapping(dispatcher.clone()));
        definition.insert(
            "env_dut",
            inputs
                .env_dut
                .clone()
                .map(Value::from)
                .unwrap_or(Value::Null),
        );

        let blocks: Vec<Arc<Block>> = blocks.into_iter().map(Arc::new).collect();
        let info = JobInfo {
            id: inputs.job_id.clone(),
            definition,
            device,
            dispatcher,
            env_dut: inputs.env_dut.clone(),
            timeouts,
            test_info,
            tmp_dir: inputs.tmp_dir.clone(),
            blocks: blocks.clone(),
            multinode,
        };

        // Build the tree.
        let mut root = Vec::new();
        let mut compatibility = 2u32;
        for block in &blocks {
            let level = (root.len() + 1).to_string();
            let action = match block.section {
                Section::Command => Box::new(crate::actions::command::UserCommand::new(block)?)
                    as Box<dyn crate::action::Action>,
                section => {
                    let family = match section {
                        Section::Deploy => Family::Deploy,
                        Section::Boot => Family::Boot,
                        _ => Family::Test,
                    };
                    let strategy = registry.select(family, &info.device, block)?;
                    compatibility = compatibility.max(strategy.compatibility());
                    strategy.action(&info, block)?
                }
            };
            root.push(Node::build(&info, block, action, level, true)?);
        }
        let finalize = Arc::new(Block::finalize());
        root.push(Node::build(
            &info,
            &finalize,
            Box::new(crate::actions::finalize::Finalize),
            (root.len() + 1).to_string(),
            true,
        )?);
        if let Some(wanted) = info.definition.get("compatibility").and_then(Value::as_i64) {
            if wanted > i64::from(compatibility) {
                return Err(Error::job(format!(
                    "Dispatcher unable to meet job compatibility requirement. {compatibility} < {wanted}"
                )));
            }
        }
        let data = JobData::new(&info.tmp_dir, &format!("{}{}", info.prefix(), info.id));
        Ok(Job {
            info,
            root,
            compatibility,
            data: Some(data),
            ran: false,
            cleaned: false,
        })
    }

    /// `(level, name)` of every action, in tree order.
    pub fn tree(&self) -> Vec<(String, String)> {
        let mut nodes = Vec::new();
        for node in &self.root {
            node.walk(&mut nodes);
        }
        nodes
            .into_iter()
            .map(|n| (n.info.level.clone(), n.info.name.clone()))
            .collect()
    }

    /// The pipeline as an indented text listing (for `--validate`).
    pub fn pipeline_text(&self) -> String {
        let mut nodes = Vec::new();
        for node in &self.root {
            node.walk(&mut nodes);
        }
        let mut out = String::new();
        for node in nodes {
            let depth = node.info.level.matches('.').count();
            out.push_str(&format!(
                "{}{} {} ({}s, {} attempt{}) [{}]\n",
                "  ".repeat(depth),
                node.info.level,
                node.info.name,
                node.info.timeout.duration.as_secs(),
                node.max_retries,
                if node.max_retries == 1 { "" } else { "s" },
                node.info.block.namespace,
            ));
        }
        out
    }

    /// The content of `description.yaml` (docs/pipeline.md §1.6): the device
    /// configuration, the job as parsed (secrets redacted), the
    /// compatibility and the pipeline.
    pub fn description(&self) -> Value {
        let mut device = self.info.device.data.clone();
        if !device.contains_key("power_state") {
            device.insert("power_state", "off");
        }
        if !device.contains_key("dynamic_data") {
            device.insert("dynamic_data", Value::Mapping(Mapping::new()));
        }
        let mut definition = self.info.definition.clone();
        if let Some(Value::Mapping(secrets)) = definition.get_mut("secrets") {
            for (_, v) in secrets.iter_mut() {
                *v = Value::from("[redacted]");
            }
        }
        let mut out = Mapping::new();
        out.insert("compatibility", i64::from(self.compatibility));
        out.insert("device", Value::Mapping(device));
        out.insert("job", Value::Mapping(definition));
        out.insert(
            "pipeline",
            Value::Sequence(
                self.root
                    .iter()
                    .map(|n| Value::Mapping(n.describe()))
                    .collect(),
            ),
        );
        Value::Mapping(out)
    }

    /// `description.yaml` as text.
    pub fn description_yaml(&self) -> String {
        crate::describe::to_block_yaml(&self.description())
    }

    fn env<'a>(
        &'a mut self,
        logger: &'a Logger,
        cancel: &'a CancelToken,
    ) -> (Env<'a>, &'a mut Vec<Node>) {
        let data = self.data.get_or_insert_with(JobData::default);
        (
            Env {
                job: &self.info,
                logger,
                data,
                cancel,
            },
            &mut self.root,
        )
    }

    /// The validation phase (docs/pipeline.md §3.7): every action validates,
    /// every error is collected; `Err` when any was found.
    pub fn validate(&mut self, logger: &Logger, cancel: &CancelToken) -> Result<(), Error> {
        let namespaces: std::collections::BTreeSet<&str> = self
            .info
            .blocks
            .iter()
            .map(|b| b.namespace.as_str())
            .collect();
        let mut fatal = Vec::new();
        if namespaces.len() > 1 && namespaces.contains("common") {
            return Err(Error::job(
                "'common' is a reserved namespace that should not be present with other namespaces.",
            ));
        }
        let (mut env, root) = self.env(logger, cancel);
        pipeline::validate_nodes(&mut env, root, &mut fatal);
        if let Some(first) = fatal.first() {
            let messages: Vec<String> = fatal.iter().map(|e| e.message.clone()).collect();
            return Err(Error::new(first.kind, messages.join("; ")));
        }
        let mut errors = Vec::new();
        pipeline::collect_errors(root, &mut errors);
        if !errors.is_empty() {
            return Err(Error::job(format!("Invalid job data: {errors:?}")));
        }
        Ok(())
    }

    /// The run phase, under the job timeout: the protocols are set up
    /// first (docs/pipeline.md §12.2), then the actions run.
    pub fn run(&mut self, logger: &Logger, cancel: &CancelToken) -> Result<(), Error> {
        self.ran = true;
        let deadline = Deadline::after(self.info.job_timeout(), "job", ErrorKind::Job);
        if let Some(protocol) = &self.info.multinode {
            if let Err(e) = protocol.set_up(logger, cancel, &deadline) {
                logger.error(format!("lava-multinode set-up failed: {}", e.message));
                return Err(e);
            }
        }
        let (mut env, root) = self.env(logger, cancel);
        pipeline::run_nodes(&mut env, root, &deadline, true)
    }

    /// The cleanup phase: every action's cleanup, `finalize` if it did not
    /// run, then the temporary directories. Idempotent.
    pub fn cleanup(&mut self, logger: &Logger, cancel: &CancelToken) {
        if self.cleaned {
            logger.debug("Cleanup already called, skipping");
            return;
        }
        self.cleaned = true;
        cancel.enter_cleanup();
        logger.info("Cleaning after the job");
        let ran = self.ran;
        let (mut env, root) = self.env(logger, cancel);
        pipeline::cleanup_nodes(&mut env, root);
        if ran {
            if let Some(finalize) = root.iter_mut().find(|n| n.action.is_finalize() && !n.ran) {
                let deadline =
                    Deadline::after(finalize.info.timeout.duration, "finalize", ErrorKind::Job);
                let _ =
                    pipeline::run_nodes(&mut env, std::slice::from_mut(finalize), &deadline, true);
            }
        }
        // sessions left open (e.g. finalize never ran): close them
        for ns in env.data.connection_namespaces() {
            if let Some(session) = env.data.take_connection(&ns) {
                crate::connection::lock(&session).finalise(logger);
            }
        }
        for dir in env.data.remove_tmp() {
            logger.info(format!("Root tmp directory removed at {}", dir.display()));
        }
        // the protocols last, also after errors and cancel (docs/pipeline.md §12.2)
        if let Some(protocol) = &self.info.multinode {
            protocol.finalize(logger, cancel);
        }
    }

    /// The job's shared state (after or during a run).
    pub fn data(&self) -> Option<&JobData> {
        self.data.as_ref()
    }
}
