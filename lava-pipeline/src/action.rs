//! The [`Action`] trait and what an action sees at each stage of its life:
//! [`Populate`] (build children at parse time), [`Validate`] (check and
//! publish derived values), [`RunContext`] (do the work before a deadline),
//! [`CleanupContext`] (undo, always).
//!
//! An action only describes itself and does its own work; the framework
//! ([`crate::pipeline`]) numbers it, computes its timeouts, logs its
//! `start:`/`end:` lines, enforces its deadline, retries it and records
//! its `lava` result.
//!
//! ```
//! use lava_pipeline::{About, Action, Error, RunContext};
//!
//! /// Says hello in the log.
//! struct Hello;
//!
//! const ABOUT_HELLO: About = About::new("say-hello", "log a greeting", "hello");
//!
//! impl Action for Hello {
//!     fn about(&self) -> About { ABOUT_HELLO }
//!     fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
//!         ctx.logger.info("hello");
//!         ctx.results.insert("greeted", true);
//!         Ok(())
//!     }
//! }
//! ```

use std::sync::Arc;
use std::time::Duration;

use lava_proto::job;
use lava_proto::yaml::{Mapping, Value};

use crate::cancel::CancelToken;
use crate::connection::SessionHandle;
use crate::context::JobData;
use crate::error::{Error, ErrorKind};
use crate::job::JobInfo;
use crate::logger::Logger;
use crate::pipeline::{self, Node};
use crate::timeout::{ActionTimeout, Deadline};

/// The section of an action (from its block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `deploy`
    Deploy,
    /// `boot`
    Boot,
    /// `test`
    Test,
    /// `command`
    Command,
    /// `finalize`
    Finalize,
}

impl Section {
    /// The name in logs and `description.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Deploy => "deploy",
            Section::Boot => "boot",
            Section::Test => "test",
            Section::Command => "command",
            Section::Finalize => "finalize",
        }
    }
}

/// One action block of the job (`deploy:`, `boot:`, `test:`, `command:`),
/// with the values every action of the block shares.
#[derive(Debug, Clone)]
pub struct Block {
    /// Which kind of block.
    pub section: Section,
    /// Its position in `actions:` (0-based).
    pub index: usize,
    /// The block's mapping as the parser completed it (`namespace`,
    /// `stage`, `deployment_data`...).
    pub mapping: Mapping,
    /// The typed block (absent for `finalize`).
    pub typed: Option<job::Action>,
    /// The namespace (`common` by default).
    pub namespace: String,
    /// `connection-namespace`.
    pub connection_namespace: Option<String>,
    /// The block's `timeout:`.
    pub timeout: Option<ActionTimeout>,
    /// `failure_retry`.
    pub failure_retry: Option<u32>,
    /// `repeat`.
    pub repeat: Option<u32>,
    /// Test blocks: the stage (0-based count of overlay-needing test
    /// blocks of the namespace before this one).
    pub stage: Option<u32>,
}

impl Block {
    /// The block of the final `finalize` action.
    pub fn finalize() -> Self {
        Block {
            section: Section::Finalize,
            index: usize::MAX,
            mapping: Mapping::new(),
            typed: None,
            namespace: "common".into(),
            connection_namespace: None,
            timeout: None,
            failure_retry: None,
            repeat: None,
            stage: None,
        }
    }

    /// The block's parameters as a typed struct: an action declares what
    /// it reads with serde (unknown keys are ignored unless the struct
    /// says `deny_unknown_fields`). A parameter that does not fit is a
    /// `Job` error naming it.
    ///
    /// ```
    /// use lava_pipeline::{Block, Mapping};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Flash {
    ///     to: String,
    ///     #[serde(default)]
    ///     erase: bool,
    /// }
    ///
    /// let mut block = Block::finalize();
    /// block.mapping = Mapping::from_iter([("to".into(), "my-flasher".into()), ("erase".into(), true.into())]);
    /// let flash: Flash = block.params().unwrap();
    /// assert_eq!((flash.to.as_str(), flash.erase), ("my-flasher", true));
    ///
    /// block.mapping.insert("erase", "twice");
    /// let e = block.params::<Flash>().err().unwrap();
    /// assert!(e.message.starts_with("Invalid finalize parameter erase: "), "{e}");
    /// ```
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let value = Value::Mapping(self.mapping.clone());
        lava_proto::yaml::from_value::<T>(&value).map_err(|e| {
            let path = e.path();
            let what = if path.is_empty() {
                String::new()
            } else {
                format!(" {path}")
            };
            Error::job(format!(
                "Invalid {} parameter{what}: {}",
                self.section.as_str(),
                e.message()
            ))
            .with_source(e)
        })
    }

    /// A parameter of the block.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.mapping.get(key)
    }

    /// A string parameter of the block.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.mapping.get(key).and_then(Value::as_str)
    }

    /// The typed deploy block.
    pub fn deploy(&self) -> Option<&job::Deploy> {
        match &self.typed {
            Some(job::Action::Deploy(d)) => Some(d),
            _ => None,
        }
    }

    /// The typed boot block.
    pub fn boot(&self) -> Option<&job::Boot> {
        match &self.typed {
            Some(job::Action::Boot(b)) => Some(b),
            _ => None,
        }
    }

    /// The typed test block.
    pub fn test(&self) -> Option<&job::Test> {
        match &self.typed {
            Some(job::Action::Test(t)) => Some(t),
            _ => None,
        }
    }

    /// The namespace whose connection this block uses.
    pub fn connection_namespace(&self) -> &str {
        self.connection_namespace
            .as_deref()
            .unwrap_or(&self.namespace)
    }
}

/// What an action is called: one constant per action, returned by
/// [`Action::about`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct About {
    /// Kebab-case name: in logs, results, timeouts overrides.
    pub name: &'static str,
    /// One sentence for the UI.
    pub description: &'static str,
    /// A short label for the UI.
    pub summary: &'static str,
}

impl About {
    /// An action's name, description and summary.
    pub const fn new(name: &'static str, description: &'static str, summary: &'static str) -> Self {
        About {
            name,
            description,
            summary,
        }
    }
}

/// A step of a job. See the module documentation.
pub trait Action {
    /// The action's name, description and summary (a constant).
    fn about(&self) -> About;
    /// The class of the error raised when this action's deadline passes.
    fn timeout_error(&self) -> ErrorKind {
        ErrorKind::Job
    }
    /// The class of the error raised when a host command fails.
    fn command_error(&self) -> ErrorKind {
        ErrorKind::Job
    }
    /// `Some(n)`: this is a retry action (its run is attempted up to `n`
    /// times, or the block's `failure_retry`/`repeat` when it is the
    /// block's top action).
    fn retries(&self) -> Option<u32> {
        None
    }
    /// A URL shown in `description.yaml` (downloads).
    fn url(&self) -> Option<String> {
        None
    }
    /// Parse time: add children.
    fn populate(&mut self, _populate: &mut Populate<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// Validation: record problems with [`Validate::error`]; an `Err`
    /// of class `Job` is recorded the same way, other classes end the job.
    fn validate(&mut self, _validate: &mut Validate<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// Do the work. The default runs the children.
    fn run(&mut self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        ctx.run_children()
    }
    /// Undo, at the end of the job (also between retries).
    fn cleanup(&mut self, _ctx: &mut CleanupContext<'_>) {}
    /// Whether this is the `finalize` action (run again at cleanup when
    /// it did not run).
    fn is_finalize(&self) -> bool {
        false
    }
}

/// What `populate` sees: the job and block, and where to add children.
pub struct Populate<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// The block the action belongs to.
    pub block: &'a Arc<Block>,
    /// The level of the action being populated.
    pub level: &'a str,
    pub(crate) children: Vec<Box<dyn Action>>,
}

impl<'a> Populate<'a> {
    pub(crate) fn new(job: &'a JobInfo, block: &'a Arc<Block>, level: &'a str) -> Self {
        Populate {
            job,
            block,
            level,
            children: Vec::new(),
        }
    }

    /// The level the next child added will get.
    pub fn next_level(&self) -> String {
        format!("{}.{}", self.level, self.children.len() + 1)
    }

    /// Append a child action.
    pub fn add(&mut self, action: impl Action + 'static) {
        self.children.push(Box::new(action));
    }

    /// Append a boxed child action.
    pub fn add_boxed(&mut self, action: Box<dyn Action>) {
        self.children.push(action);
    }
}

/// Facts about the running action that the framework computed.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `1.2.3`.
    pub level: String,
    /// The action's name.
    pub name: String,
    /// The section.
    pub section: Section,
    /// The block.
    pub block: Arc<Block>,
    /// The action timeout.
    pub timeout: ActionTimeout,
    /// The per-wait connection timeout.
    pub connection_timeout: Duration,
    /// Delay between characters typed by this action.
    pub character_delay: Duration,
    /// The class of timeout errors of this action.
    pub timeout_error: ErrorKind,
    /// The class of host command errors of this action.
    pub command_error: ErrorKind,
}

impl NodeInfo {
    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.block.namespace
    }
}

/// What `validate` sees.
pub struct Validate<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// Shared state (publish derived values here).
    pub data: &'a mut JobData,
    /// This action.
    pub node: &'a NodeInfo,
    /// The job log.
    pub logger: &'a Logger,
    pub(crate) errors: &'a mut Vec<String>,
}

impl Validate<'_> {
    /// Record a validation error of this action.
    pub fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Store a value in this action's namespace.
    pub fn set(&mut self, action: &str, label: &str, key: &str, value: impl Into<Value>) {
        let ns = self.node.namespace().to_string();
        self.data.set(&ns, action, label, key, value.into());
    }

    /// A value of this action's namespace.
    pub fn get(&self, action: &str, label: &str, key: &str) -> Option<&Value> {
        self.data.get(self.node.namespace(), action, label, key)
    }
}

/// What `run` sees.
pub struct RunContext<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// The job log.
    pub logger: &'a Logger,
    /// Shared state.
    pub data: &'a mut JobData,
    /// The cancel token every wait must poll.
    pub cancel: &'a CancelToken,
    /// This action.
    pub node: &'a NodeInfo,
    /// This action's deadline.
    pub deadline: Deadline,
    /// This action's results (the `extra` of its `lava` result).
    pub results: &'a mut Mapping,
    pub(crate) errors: &'a mut Vec<String>,
    pub(crate) children: &'a mut [Node],
}

impl RunContext<'_> {
    /// Run the children in order under this action's deadline.
    pub fn run_children(&mut self) -> Result<(), Error> {
        let mut env = pipeline::Env {
            job: self.job,
            logger: self.logger,
            data: self.data,
            cancel: self.cancel,
        };
        pipeline::run_nodes(&mut env, self.children, &self.deadline, false)
    }

    /// Record an error of this action (it fails, but the run goes on).
    pub fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        self.node.namespace()
    }

    /// Store a value in this action's namespace.
    pub fn set(&mut self, action: &str, label: &str, key: &str, value: impl Into<Value>) {
        let ns = self.node.namespace().to_string();
        self.data.set(&ns, action, label, key, value.into());
    }

    /// A value of this action's namespace.
    pub fn get(&self, action: &str, label: &str, key: &str) -> Option<&Value> {
        self.data.get(self.node.namespace(), action, label, key)
    }

    /// A string of this action's namespace.
    pub fn get_str(&self, action: &str, label: &str, key: &str) -> Option<String> {
        self.data.get_str(self.node.namespace(), action, label, key)
    }

    /// The connection this block uses (its `connection-namespace` or its
    /// namespace).
    pub fn connection(&self) -> Option<SessionHandle> {
        self.data.connection(self.node.block.connection_namespace())
    }

    /// The error for this action's deadline having passed.
    pub fn timeout_error(&self) -> Error {
        self.deadline.error()
    }

    /// Fail with `Canceled` if the job was canceled, or with the
    /// deadline's timeout error if it passed.
    pub fn check(&self) -> Result<(), Error> {
        self.cancel.check()?;
        if self.deadline.expired() {
            return Err(self.deadline.error());
        }
        Ok(())
    }
}

/// What `cleanup` sees.
pub struct CleanupContext<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// The job log.
    pub logger: &'a Logger,
    /// Shared state.
    pub data: &'a mut JobData,
    /// The cancel token (in cleanup only a second cancel stops waits).
    pub cancel: &'a CancelToken,
    /// This action.
    pub node: &'a NodeInfo,
}
