//! The tree of actions and the rules that run it.
//!
//! A [`Node`] is an action with what the framework computed when it was
//! added: its level (`1`, `1.2`, `1.2.3`: fixed at construction, retries
//! re-run the same levels), section, timeouts, retries and character
//! delay. [`run_nodes`] runs a list of siblings as LAVA does
//! (docs/pipeline.md §4.4):
//!
//! 1. the deadline is `min(parent deadline, start + action timeout)`;
//! 2. `start: <level> <name> (timeout HH:MM:SS) [<namespace>]` (info at the
//!    root, debug below);
//! 3. the action runs; a retry action is attempted up to its retries,
//!    with the subtree's cleanup between attempts and a fresh budget for
//!    each attempt that never goes past the parent's deadline;
//! 4. a test-family timeout becomes a `Test` error unless the block's
//!    timeout has `skip: true` (then the job goes on with the next block);
//! 5. `end: <level> <name> (duration HH:MM:SS) [<namespace>]` and, if the
//!    action recorded results or failed, a `lava` result with `level`,
//!    `duration` (`%.02f`), `namespace` and `extra`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_proto::yaml::{Mapping, Value};

use crate::action::{
    Action, Block, CleanupContext, NodeInfo, Populate, RunContext, Section, Validate,
};
use crate::cancel::CancelToken;
use crate::context::JobData;
use crate::error::{Error, ErrorKind};
use crate::job::JobInfo;
use crate::logger::{result_map, Logger};
use crate::timeout::{hms, Deadline};

/// An action in the tree.
pub struct Node {
    /// The action.
    pub action: Box<dyn Action>,
    /// What the framework computed for it.
    pub info: NodeInfo,
    /// How many attempts (1 unless a retry action).
    pub max_retries: u32,
    /// `repeat`: always run `max_retries` times.
    pub repeat: bool,
    /// Children, in order.
    pub children: Vec<Node>,
    /// Validation and run errors.
    pub errors: Vec<String>,
    /// The action's results (`extra` of its `lava` result).
    pub results: Mapping,
    /// Whether it ran (finalize runs at cleanup if not).
    pub ran: bool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("level", &self.info.level)
            .field("name", &self.info.name)
            .field("children", &self.children)
            .finish()
    }
}

impl Node {
    /// Build the node of `action` at `level`, populate it and its
    /// children recursively. `top` is true for the top action of a block.
    pub fn build(
        job: &JobInfo,
        block: &Arc<Block>,
        mut action: Box<dyn Action>,
        level: String,
        top: bool,
    ) -> Result<Node, Error> {
        let mut populate = Populate::new(job, block, &level);
        action.populate(&mut populate)?;
        let children = populate
            .children
            .into_iter()
            .enumerate()
            .map(|(i, child)| Node::build(job, block, child, format!("{level}.{}", i + 1), false))
            .collect::<Result<Vec<_>, _>>()?;
        let name = action.about().name.to_string();
        let timeout = job.timeouts.action(&name, block.timeout);
        let connection_timeout = job.timeouts.connection(&name);
        let character_delay = match block.section {
            Section::Boot => job.device.character_delays.boot,
            Section::Test => job.device.character_delays.test,
            _ => None,
        }
        .unwrap_or(Duration::ZERO);
        let default_retries = action.retries();
        let (max_retries, repeat) = match default_retries {
            Some(n) if top => match (block.failure_retry, block.repeat) {
                (_, Some(r)) => (r.max(1), true),
                (Some(f), None) => (f.max(1), false),
                (None, None) => (n.max(1), false),
            },
            Some(n) => (n.max(1), false),
            None => (1, false),
        };
        let info = NodeInfo {
            level,
            name,
            section: block.section,
            block: Arc::clone(block),
            timeout,
            connection_timeout,
            character_delay,
            timeout_error: action.timeout_error(),
            command_error: action.command_error(),
        };
        Ok(Node {
            action,
            info,
            max_retries,
            repeat,
            children,
            errors: Vec::new(),
            results: Mapping::new(),
            ran: false,
        })
    }

    /// Whether it and every descendant have no errors.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && self.children.iter().all(Node::is_valid)
    }

    /// Every node, depth first, parent before children.
    pub fn walk<'n>(&'n self, out: &mut Vec<&'n Node>) {
        out.push(self);
        for child in &self.children {
            child.walk(out);
        }
    }

    /// The element of `description.yaml`'s `pipeline` for this node.
    pub fn describe(&self) -> Mapping {
        let mut m = Mapping::new();
        m.insert("name", self.info.name.as_str());
        m.insert("level", self.info.level.as_str());
        m.insert("section", self.info.section.as_str());
        m.insert("summary", self.action.about().summary);
        m.insert("description", self.action.about().description);
        m.insert("max_retries", i64::from(self.max_retries));
        let mut timeout = Mapping::new();
        timeout.insert(
            "duration",
            Value::Int(self.info.timeout.duration.as_secs() as i64),
        );
        timeout.insert("name", self.info.name.as_str());
        m.insert("timeout", Value::Mapping(timeout));
        if let Some(url) = self.action.url() {
            m.insert("url", url);
        }
        if !self.children.is_empty() {
            m.insert(
                "pipeline",
                Value::Sequence(
                    self.children
                        .iter()
                        .map(|c| Value::Mapping(c.describe()))
                        .collect(),
                ),
            );
        }
        m
    }
}

/// The job-wide pieces every run needs.
pub struct Env<'a> {
    /// The job.
    pub job: &'a JobInfo,
    /// The log.
    pub logger: &'a Logger,
    /// Shared state.
    pub data: &'a mut JobData,
    /// The cancel token.
    pub cancel: &'a CancelToken,
}

/// Validate nodes (each action, then its children); errors are recorded
/// on the nodes. Errors other than `Job` are returned at the end, the
/// first of them, after the whole tree was walked.
pub fn validate_nodes(env: &mut Env<'_>, nodes: &mut [Node], fatal: &mut Vec<Error>) {
    for node in nodes.iter_mut() {
        let name = node.info.name.clone();
        if name.is_empty() || name.contains(' ') || name.contains('_') {
            node.errors.push(format!(
                "Invalid action name '{name}': use lower case and '-'"
            ));
        }
        if node.action.about().summary.is_empty() || node.action.about().description.is_empty() {
            node.errors.push(format!(
                "{name}: an action needs a summary and a description"
            ));
        }
        let mut validate = Validate {
            job: env.job,
            data: env.data,
            node: &node.info,
            logger: env.logger,
            errors: &mut node.errors,
        };
        if let Err(e) = node.action.validate(&mut validate) {
            if e.kind == ErrorKind::Job {
                node.errors
                    .push(format!("{} {}: {}", node.info.level, name, e.message));
            } else {
                fatal.push(e);
            }
        }
        if node.info.timeout.duration > env.job.job_timeout() {
            env.logger.warning(format!(
                "Action timeout for {name} ({}s) is longer than the job timeout ({}s)",
                node.info.timeout.duration.as_secs(),
                env.job.job_timeout().as_secs()
            ));
        }
        validate_nodes(env, &mut node.children, fatal);
    }
}

/// Every error string of the tree, in tree order.
pub fn collect_errors(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        out.extend(node.errors.iter().cloned());
        collect_errors(&node.children, out);
    }
}

fn is_root(level: &str) -> bool {
    !level.contains('.')
}

/// Run `nodes` in order under `parent`'s deadline. `root` is true for the
/// root pipeline (where a `skip` timeout moves on to the next block).
pub fn run_nodes(
    env: &mut Env<'_>,
    nodes: &mut [Node],
    parent: &Deadline,
    root: bool,
) -> Result<(), Error> {
    for node in nodes.iter_mut() {
        match run_node(env, node, parent) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::LavaTimeout && node.info.timeout.skip && root => {
                env.logger.warning(format!(
                    "skip_timeout is set for {} - continuing to next action block.",
                    node.info.name
                ));
                // the block's connection is not trusted any more
                let ns = node.info.block.connection_namespace().to_string();
                if let Some(session) = env.data.take_connection(&ns) {
                    crate::connection::lock(&session).finalise(env.logger);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn run_node(env: &mut Env<'_>, node: &mut Node, parent: &Deadline) -> Result<(), Error> {
    let level = node.info.level.clone();
    let name = node.info.name.clone();
    let namespace = node.info.block.namespace.clone();
    let (duration, kind) = (node.info.timeout.duration, node.info.timeout_error);
    let own = || Deadline::after(duration, &name, kind);
    let mut deadline = parent.min(&own());
    let started = Instant::now();
    let left = deadline
        .remaining()
        .map(|d| d.as_secs_f64())
        .unwrap_or(f64::INFINITY);
    let start_line = format!(
        "start: {level} {name} (timeout {}) [{namespace}]",
        hms(left)
    );
    if is_root(&level) {
        env.logger.info(start_line);
    } else {
        env.logger.debug(start_line);
    }
    node.ran = true;
    let mut outcome = Ok(());
    let mut failed_attempts = 0u32;
    for attempt in 1..=node.max_retries {
        if attempt > 1 {
            deadline = parent.min(&own());
        }
        let result = if deadline.expired() {
            Err(deadline.error())
        } else {
            env.cancel.check().and_then(|()| {
                let mut ctx = RunContext {
                    job: env.job,
                    logger: env.logger,
                    data: env.data,
                    cancel: env.cancel,
                    node: &node.info,
                    deadline: deadline.clone(),
                    results: &mut node.results,
                    errors: &mut node.errors,
                    children: &mut node.children,
                };
                // the block's protocol calls for this action (docs/pipeline.md §12.5)
                crate::protocols::call_protocols(&mut ctx)?;
                node.action.run(&mut ctx)
            })
        };
        match result {
            Ok(()) => {
                outcome = Ok(());
                if !node.repeat {
                    break;
                }
            }
            Err(e) if node.max_retries > 1 && e.kind.is_retryable() && !parent.expired() => {
                failed_attempts += 1;
                env.logger.error(format!(
                    "{name} failed: {attempt} of {} attempts. '{}'",
                    node.max_retries, e.message
                ));
                cleanup_subtree(env, node);
                if attempt == node.max_retries {
                    node.errors
                        .push(format!("{attempt} retries failed for {name}"));
                    outcome = Err(e);
                    break;
                }
                let left = parent
                    .min(&own())
                    .remaining()
                    .map(|d| d.as_secs())
                    .unwrap_or(u64::MAX);
                env.logger
                    .warning(format!("Retrying: {level} {name} ({left} sec)"));
                outcome = Err(e);
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if node.repeat && outcome.is_ok() && failed_attempts > 0 {
        outcome = Err(Error::job(format!(
            "{failed_attempts} retries failed for {name}"
        )));
    }
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            env.logger.exception(e.message.clone());
            node.results.insert("fail", e.message.as_str());
            if e.kind == ErrorKind::LavaTimeout && !node.info.timeout.skip {
                Err(e.with_kind(ErrorKind::Test))
            } else {
                Err(e)
            }
        }
    };
    let duration = started.elapsed().as_secs_f64();
    let end_line = format!(
        "end: {level} {name} (duration {}) [{namespace}]",
        hms(duration)
    );
    if is_root(&level) {
        env.logger.info(end_line);
    } else {
        env.logger.debug(end_line);
    }
    let failed = outcome.is_err() || !node.errors.is_empty();
    if !node.results.is_empty() || failed {
        let mut result = result_map([
            ("definition", "lava".into()),
            ("namespace", namespace.as_str().into()),
            ("case", name.as_str().into()),
            ("level", level.as_str().into()),
            ("duration", format!("{duration:.02}").into()),
            ("result", if failed { "fail" } else { "pass" }.into()),
        ]);
        if !node.results.is_empty() {
            result.insert("extra", Value::Mapping(node.results.clone()));
        }
        env.logger.results(result);
    }
    outcome
}

/// Clean a node's subtree (children first, then the node), logging and
/// ignoring errors.
pub fn cleanup_subtree(env: &mut Env<'_>, node: &mut Node) {
    for child in node.children.iter_mut() {
        cleanup_subtree(env, child);
    }
    let mut ctx = CleanupContext {
        job: env.job,
        logger: env.logger,
        data: env.data,
        cancel: env.cancel,
        node: &node.info,
    };
    node.action.cleanup(&mut ctx);
}

/// Clean every node of a pipeline, in tree order.
pub fn cleanup_nodes(env: &mut Env<'_>, nodes: &mut [Node]) {
    for node in nodes.iter_mut() {
        cleanup_subtree(env, node);
    }
}
