//! Job definitions: the YAML document a user submits to a LAVA server,
//! validated as LAVA 2020.01 would and read into a typed model.
//!
//! # Validating a submission
//!
//! [`validate`] loads the text with PyYAML's rules ([`crate::yaml`]) and
//! returns a [`Report`] of **errors** (the job is refused) and
//! **warnings** (it is accepted). LAVA 2020.01 has two schemas that
//! disagree; the policy here (`docs/job-definition.md` §0) is:
//!
//! 1. refuse what LAVA's **submit** schema refuses, with the server checks
//!    that need no database (notify recipients, multinode role links,
//!    priority range);
//! 2. also refuse what LAVA's **strict schema in non-strict mode**
//!    refuses: value ranges, required keys per deploy/boot/test method,
//!    unknown methods, and the rules between keys (job timeout longer than
//!    every other, `device_type` xor multinode, roles on every multinode
//!    action, namespaces all-or-none, no secrets in public jobs);
//! 3. **warn** about keys the strict schema does not know (LAVA's web UI
//!    shows these as warnings; real jobs use some of them, such as
//!    `connection` in a boot block), about YAML duplicate keys, and about
//!    values LAVA only accepts by accident (`minutes: true`);
//! 4. never panic: whatever the input, the answer is a report.
//!
//! Deliberate differences from LAVA, each chosen because the job could
//! not run as written or because the dispatcher supports more than the
//! 2020.01 schema lists:
//!
//! - documents over 10 MiB, nested deeper than 128 levels, or whose
//!   aliases expand to more than 100 000 nodes are refused
//!   ([`crate::yaml::Limits`]); LAVA has no limits and crashes on 50 000
//!   levels;
//! - an action item must have exactly one key (LAVA validates only the
//!   first and the dispatcher runs all of them);
//! - `deploy: {to: sd}` and test definitions `from: url` or `from: tar`
//!   are accepted (the dispatcher implements them, the 2020.01 strict
//!   schema forgot them);
//! - test definition names must match the dispatcher's `[\w-]+`, and
//!   `repeat` with `failure_retry` is refused: the dispatcher would fail
//!   the job on the worker;
//! - a timeout has exactly one unit with an integer ≥ 1 everywhere
//!   (LAVA checks some places with only one of its schemas).
//!
//! Each error names the place in the user's terms,
//! `actions[2].test.definitions[0].path`, the line when it can be found,
//! and the reason in the job writer's vocabulary, listing the choices when
//! the value comes from a closed set:
//!
//! ```
//! use lava_proto::job;
//!
//! let report = job::validate(
//!     "job_name: demo\n\
//!      device_type: qemu\n\
//!      visibility: public\n\
//!      timeouts: {job: {minutes: 10}}\n\
//!      actions:\n\
//!      - deploy: {to: tmpfs, images: {rootfs: {url: 'https://example.com/r.img'}}}\n\
//!      - boot: {method: qemu, media: tmpfs, timeout: {hours: 1}, conection: serial}\n",
//! );
//! assert!(!report.is_valid());
//! assert_eq!(
//!     report.errors[0].to_string(),
//!     "actions[1].boot.timeout: 1h is longer than the job timeout (timeouts.job: \
//!      10m); nothing may run longer than the job (line 7)"
//! );
//! assert_eq!(
//!     report.warnings[0].to_string(),
//!     "actions[1].boot.conection: unknown key `conection` in a boot with method qemu \
//!      (did you mean `connection`?); ignored by validation (line 7)"
//! );
//! ```
//!
//! # Reading a job
//!
//! [`JobDefinition`] is the typed model (serde, derived over
//! [`crate::yaml::from_value`]). [`JobDefinition::from_yaml`] validates a
//! submission first; [`JobDefinition::parse`] only reads, for documents the
//! server itself produced (the per-device jobs of a multinode submission
//! carry keys a submission may not have).
//!
//! ```
//! use lava_proto::job::{Action, JobDefinition, Priority};
//!
//! let (job, warnings) = JobDefinition::from_yaml(
//!     "job_name: demo\n\
//!      device_type: qemu\n\
//!      visibility: personal\n\
//!      priority: 70\n\
//!      timeouts: {job: {minutes: 10}}\n\
//!      actions:\n\
//!      - boot: {method: qemu, prompts: 'root@debian:', media: tmpfs}\n",
//! )
//! .unwrap();
//! assert!(warnings.is_empty());
//! assert_eq!(job.priority, Priority::Number(70));
//! assert_eq!(job.timeouts.job.seconds(), 600);
//! let Action::Boot(boot) = &job.actions[0] else { unreachable!() };
//! assert_eq!(boot.prompts, ["root@debian:"]);
//! assert_eq!(boot.parameters.get("media").and_then(|m| m.as_str()), Some("tmpfs"));
//! ```

mod error;
mod locate;
mod model;
mod report;
mod timeout;
mod validate;

pub use error::JobError;
pub use model::{
    Action, ActionCommon, AutoLogin, Boot, BootCommands, BootMethod, Callback, Command, Compare,
    ContentType, Criteria, Dataset, DefinitionSource, Deploy, DeployMethod, Echo, Failure,
    FailureKind, FixupResult, HttpMethod, InteractiveStep, InteractiveTest, JobDefinition,
    LavaSignal, LxcContainer, LxcProtocol, Monitor, Multinode, NamedMap, Notify, NotifyStatus,
    NotifyType, Priority, Protocols, Recipient, RecipientMethod, RecipientTo, Repository, Role,
    Roles, Secrets, Success, Test, TestDefinition, TestKind, Timeouts, TransferOverlay, Verbosity,
    Visibility, Xnbd, XnbdPort,
};
pub use report::{Issue, Report};
pub use timeout::{TimeUnit, Timeout, TimeoutError};
pub use validate::names::CONTEXT_VARIABLES;

use crate::yaml::{self, Limits, Value, YamlError};

/// Server settings that change what validation accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Context variable names allowed on top of [`CONTEXT_VARIABLES`]
    /// (LAVA's `EXTRA_CONTEXT_VARIABLES` setting).
    pub extra_context_variables: Vec<String>,
}

/// Validates a job definition text with the default [`Options`].
pub fn validate(text: &str) -> Report {
    validate_with(text, &Options::default())
}

/// Validates a job definition text.
pub fn validate_with(text: &str, options: &Options) -> Report {
    finish(yaml::load_with(text, &Limits::default()), text, options)
}

/// Validates a job definition given as bytes: they must be UTF-8 (a byte
/// order mark is skipped). Files are best read this way: invalid UTF-8 is
/// then an ordinary error naming its offset.
pub fn validate_bytes(bytes: &[u8], options: &Options) -> Report {
    let loaded = yaml::load_bytes(bytes, &Limits::default());
    let text = match &loaded {
        Ok(_) => std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).ok(),
        Err(_) => None,
    };
    finish(loaded, text.unwrap_or(""), options)
}

/// Validates an already loaded document (no lines in the report).
pub fn validate_value(value: &Value, options: &Options) -> Report {
    let mut report = Report::default();
    validate::check_document(value, options, &mut report);
    report
}

fn finish(loaded: Result<yaml::Document, YamlError>, text: &str, options: &Options) -> Report {
    match loaded {
        Err(err) => Report {
            errors: vec![Issue::new("", format!("YAML: {err}"))],
            warnings: Vec::new(),
        },
        Ok(document) => check_loaded(&document, text, options),
    }
}

fn check_loaded(document: &yaml::Document, text: &str, options: &Options) -> Report {
    let mut report = Report {
        errors: Vec::new(),
        warnings: document
            .warnings
            .iter()
            .map(|w| Issue {
                path: String::new(),
                line: Some(w.line),
                message: format!("YAML: {}", w.message),
            })
            .collect(),
    };
    validate::check_document(&document.value, options, &mut report);
    locate::add_lines(text, &mut report);
    // Document order: issues about the whole document first, then by line
    // (the sort is stable, so issues on one line keep the walk's order).
    report.errors.sort_by_key(|i| i.line.unwrap_or(0));
    report.warnings.sort_by_key(|i| i.line.unwrap_or(0));
    report
}

impl JobDefinition {
    /// Validates a submission (see [`validate`]) and reads it. Returns the
    /// job and the warnings, or [`JobError::Invalid`] with the report.
    pub fn from_yaml(text: &str) -> Result<(JobDefinition, Vec<Issue>), JobError> {
        JobDefinition::from_yaml_with(text, &Options::default())
    }

    /// [`JobDefinition::from_yaml`] with server options.
    pub fn from_yaml_with(
        text: &str,
        options: &Options,
    ) -> Result<(JobDefinition, Vec<Issue>), JobError> {
        let document = yaml::load_with(text, &Limits::default())?;
        let report = check_loaded(&document, text, options);
        if !report.is_valid() {
            return Err(JobError::Invalid(report));
        }
        let job = yaml::from_value(&document.value)?;
        Ok((job, report.warnings))
    }

    /// Reads a job without submission validation, as the dispatcher
    /// receives it from the server (per-device multinode jobs included).
    /// YAML duplicate keys are logged at `warn` level.
    pub fn parse(text: &str) -> Result<JobDefinition, JobError> {
        let value = yaml::load(text)?;
        JobDefinition::from_value(&value)
    }

    /// Reads a loaded job without submission validation.
    pub fn from_value(value: &Value) -> Result<JobDefinition, JobError> {
        Ok(yaml::from_value(value)?)
    }
}
