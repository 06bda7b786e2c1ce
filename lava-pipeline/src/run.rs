//! lava-run: the program the worker starts for each job, as a library.
//!
//! [`main_with`] is a whole `lava-run` `main` over a [`Registry`]: a lab
//! that adds its own strategies builds a binary of a few lines, and gives
//! it to the worker as its lava-run (`lava-slave --lava-run PATH`, or
//! `SlaveConfig::lava_run` in the `slave` module):
//!
//! ```no_run
//! use lava_pipeline::Registry;
//!
//! fn main() -> std::process::ExitCode {
//!     let mut registry = Registry::with_builtins();
//!     // registry.register(MyFlasher);
//!     lava_pipeline::run::main_with(std::env::args_os(), &registry)
//! }
//! ```
//!
//! [`RunOptions`] is the command line, in one place: the worker writes it
//! with [`RunOptions::to_args`], lava-run reads it with
//! [`RunOptions::from_args`]. Options are LAVA's (`--job-id`,
//! `--output-dir`, `--device`, `--dispatcher`, `--env-dut`, `--validate`,
//! `--logging-url`, `--master-cert`, `--slave-cert`, `--socks-proxy`,
//! `--ipv6`, the job file) plus `--tmp-dir`, which the worker never writes,
//! so that LAVA's own lava-run accepts what our worker starts.
//!
//! The sequence [`lava_run`] runs (docs/pipeline.md, "lava-run"):
//!
//! 1. the logger (ZeroMQ PUSH with CURVE when certificates are given, else
//!    standard error);
//! 2. the output directory;
//! 3. parse, and compute `description.yaml` right away;
//! 4. validate (`start: 0 validate`, the `lava`/`validate` result);
//! 5. unless `--validate`, run under the job timeout, then always clean up;
//! 6. the final `lava`/`job` result, exactly once;
//! 7. close the logger (every line delivered), then write
//!    `description.yaml` (its absence tells the worker lava-run crashed);
//! 8. exit code 0 or 1 (2 for a command-line error).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use lava_proto::time::UtcTime;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};
pub use crate::job::DEFAULT_TMP_DIR;
use crate::job::{Job, JobInputs};
pub use crate::logger::JOURNAL;
use crate::logger::{result_map, Logger};
/// The environment variable that names the MultiNode coordinator's conf
/// file for lava-run (docs/pipeline.md §12.1); without it, LAVA's
/// `/etc/lava-coordinator/lava-coordinator.conf`.
pub use crate::protocols::multinode::CONF_ENV as COORDINATOR_CONF_ENV;
use crate::strategy::Registry;

/// lava-run's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// `--job-id`.
    pub job_id: String,
    /// `--output-dir`.
    pub output_dir: PathBuf,
    /// `--device`.
    pub device: PathBuf,
    /// `--dispatcher`.
    pub dispatcher: Option<PathBuf>,
    /// `--env-dut`.
    pub env_dut: Option<PathBuf>,
    /// `--validate`.
    pub validate_only: bool,
    /// `--logging-url`.
    pub logging_url: Option<String>,
    /// `--master-cert`.
    pub master_cert: Option<PathBuf>,
    /// `--slave-cert`.
    pub slave_cert: Option<PathBuf>,
    /// `--socks-proxy`.
    pub socks_proxy: Option<String>,
    /// `--ipv6`.
    pub ipv6: bool,
    /// The job definition file.
    pub definition: PathBuf,
    /// `--tmp-dir`: base of per-job temporary directories. Without it,
    /// `LAVA_DISPATCHER_TMP_DIR`, else [`DEFAULT_TMP_DIR`]
    /// (see [`RunOptions::tmp_dir`]).
    pub tmp_dir: Option<PathBuf>,
}

/// A command line lava-run cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// What the options `--help` and `--version` ask for instead of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
// made once per process: the size of the variants does not matter
#[allow(clippy::large_enum_variant)]
pub enum Invocation {
    /// Run this job.
    Run(RunOptions),
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

/// The usage text (`--help`).
pub const USAGE: &str =
    "usage: lava-run --job-id ID --output-dir DIR --device FILE [--dispatcher FILE]
                [--env-dut FILE] [--validate] [--logging-url URL]
                [--master-cert FILE --slave-cert FILE] [--socks-proxy HOST:PORT]
                [--ipv6] [--tmp-dir DIR] JOB_FILE

Run one LAVA job on this worker. Exit status: 0 the job passed, 1 it failed,
2 the command line is wrong. The first SIGTERM (or SIGINT, SIGHUP, SIGQUIT,
SIGUSR1, SIGUSR2) cancels the job through its cleanup; a second one stops
the cleanup.
";

impl RunOptions {
    /// Options with the required values.
    pub fn new(
        job_id: impl Into<String>,
        output_dir: impl Into<PathBuf>,
        device: impl Into<PathBuf>,
        definition: impl Into<PathBuf>,
    ) -> Self {
        RunOptions {
            job_id: job_id.into(),
            output_dir: output_dir.into(),
            device: device.into(),
            definition: definition.into(),
            ..RunOptions::default()
        }
    }

    /// The base of per-job temporary directories: `--tmp-dir`, else
    /// `LAVA_DISPATCHER_TMP_DIR`, else [`DEFAULT_TMP_DIR`].
    pub fn tmp_dir(&self) -> PathBuf {
        self.tmp_dir
            .clone()
            .or_else(|| std::env::var_os("LAVA_DISPATCHER_TMP_DIR").map(PathBuf::from))
            .unwrap_or_else(|| DEFAULT_TMP_DIR.into())
    }

    /// The command line (without the program name), as the worker starts
    /// lava-run. `--tmp-dir` is written only when set.
    ///
    /// ```
    /// use lava_pipeline::run::{Invocation, RunOptions};
    ///
    /// let mut options = RunOptions::new("12", "/srv/12", "/srv/12/device.yaml", "/srv/12/job.yaml");
    /// options.logging_url = Some("tcp://master:5555".into());
    /// let args = options.to_args();
    /// assert_eq!(args[0], "--job-id=12");
    /// assert_eq!(RunOptions::from_args(args).unwrap(), Invocation::Run(options));
    /// ```
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        let mut value = |name: &str, value: &std::ffi::OsStr| {
            let mut arg = OsString::from(format!("--{name}="));
            arg.push(value);
            args.push(arg);
        };
        value("job-id", self.job_id.as_ref());
        value("output-dir", self.output_dir.as_os_str());
        value("device", self.device.as_os_str());
        let optional = [
            (
                "dispatcher",
                self.dispatcher.as_deref().map(Path::as_os_str),
            ),
            ("env-dut", self.env_dut.as_deref().map(Path::as_os_str)),
            (
                "logging-url",
                self.logging_url.as_deref().map(AsRef::as_ref),
            ),
            (
                "master-cert",
                self.master_cert.as_deref().map(Path::as_os_str),
            ),
            (
                "slave-cert",
                self.slave_cert.as_deref().map(Path::as_os_str),
            ),
            (
                "socks-proxy",
                self.socks_proxy.as_deref().map(AsRef::as_ref),
            ),
            ("tmp-dir", self.tmp_dir.as_deref().map(Path::as_os_str)),
        ];
        for (name, given) in optional {
            if let Some(given) = given {
                value(name, given);
            }
        }
        if self.validate_only {
            args.push("--validate".into());
        }
        if self.ipv6 {
            args.push("--ipv6".into());
        }
        args.push(self.definition.clone().into_os_string());
        args
    }

    /// Read a command line (without the program name). Options take
    /// `--name=value` or `--name value`; the one positional argument is
    /// the job file.
    pub fn from_args<I, T>(args: I) -> Result<Invocation, UsageError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut options = RunOptions::default();
        let mut definition = None;
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy().into_owned();
            let Some(option) = text.strip_prefix("--") else {
                if definition.replace(PathBuf::from(arg)).is_some() {
                    return Err(UsageError(format!(
                        "unexpected argument '{text}': the job file is already given"
                    )));
                }
                continue;
            };
            match option {
                "help" => return Ok(Invocation::Help),
                "version" => return Ok(Invocation::Version),
                "validate" => options.validate_only = true,
                "ipv6" => options.ipv6 = true,
                _ => {
                    let (name, value) = match option.split_once('=') {
                        Some((name, _)) => {
                            let bytes = arg.as_encoded_bytes();
                            let at = bytes.iter().position(|b| *b == b'=').map_or(0, |i| i + 1);
                            (name.to_string(), os_from(&bytes[at..]))
                        }
                        None => {
                            let value = args
                                .next()
                                .ok_or_else(|| UsageError(format!("--{option} needs a value")))?;
                            (option.to_string(), value)
                        }
                    };
                    options.set(&name, value)?;
                }
            }
        }
        options.definition =
            definition.ok_or_else(|| UsageError("the job file is missing".into()))?;
        for (name, given) in [
            ("job-id", !options.job_id.is_empty()),
            ("output-dir", !options.output_dir.as_os_str().is_empty()),
            ("device", !options.device.as_os_str().is_empty()),
        ] {
            if !given {
                return Err(UsageError(format!("--{name} is required")));
            }
        }
        if options.master_cert.is_some() != options.slave_cert.is_some() {
            return Err(UsageError(
                "--master-cert and --slave-cert go together".into(),
            ));
        }
        Ok(Invocation::Run(options))
    }

    fn set(&mut self, name: &str, value: OsString) -> Result<(), UsageError> {
        let text = || {
            value
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| UsageError(format!("--{name} is not valid UTF-8")))
        };
        let path = || Some(PathBuf::from(&value));
        match name {
            "job-id" => self.job_id = text()?,
            "output-dir" => self.output_dir = value.clone().into(),
            "device" => self.device = value.clone().into(),
            "dispatcher" => self.dispatcher = path(),
            "env-dut" => self.env_dut = path(),
            "logging-url" => self.logging_url = Some(text()?),
            "master-cert" => self.master_cert = path(),
            "slave-cert" => self.slave_cert = path(),
            "socks-proxy" => self.socks_proxy = Some(text()?),
            "tmp-dir" => self.tmp_dir = path(),
            _ => return Err(UsageError(format!("unknown option --{name}"))),
        }
        Ok(())
    }
}

fn os_from(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_os_string()
}

/// Whether a command line is a lava-run one (it has `--job-id`): for a
/// program that is both something else and, when the worker starts it,
/// lava-run (as `lava-lab` is).
pub fn is_lava_run_command<I, T>(args: I) -> bool
where
    I: IntoIterator<Item = T>,
    T: AsRef<std::ffi::OsStr>,
{
    args.into_iter()
        .any(|a| a.as_ref().as_encoded_bytes().starts_with(b"--job-id"))
}

/// A whole lava-run `main` over `registry`: reads the command line
/// (`args` includes the program name), cancels the job on the first
/// SIGTERM, runs [`lava_run`]. Exit status 0, 1, or 2 for a command-line
/// error. The caller sets up `log` output (e.g. `env_logger`) first if it
/// wants the library's warnings.
pub fn main_with<I, T>(args: I, registry: &Registry) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let options = match RunOptions::from_args(args.into_iter().skip(1)) {
        Ok(Invocation::Run(options)) => options,
        Ok(Invocation::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Version) => {
            println!("lava-run {VERSION}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lava-run: error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for cert in [&options.master_cert, &options.slave_cert]
        .into_iter()
        .flatten()
    {
        if !cert.exists() {
            eprintln!(
                "lava-run failed to setup logging: {} does not exist",
                cert.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let cancel = match CancelToken::new().and_then(|c| c.cancel_on_signals().map(|()| c)) {
        Ok(cancel) => cancel,
        Err(e) => {
            eprintln!("lava-run: error: cannot watch for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lava_run(&options, registry, &cancel) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// The version logged at validation.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Set up the logger. Errors are printed by the caller as "lava-run
/// failed to setup logging".
pub fn logger(options: &RunOptions) -> Result<Logger, String> {
    let Some(url) = &options.logging_url else {
        return Ok(Logger::stderr(&options.job_id));
    };
    zmq_logger(options, url)
}

#[cfg(not(feature = "zmq-logger"))]
fn zmq_logger(_options: &RunOptions, url: &str) -> Result<Logger, String> {
    Err(format!(
        "cannot log to {url}: this lava-run is built without lava-pipeline's zmq-logger feature"
    ))
}

#[cfg(feature = "zmq-logger")]
fn zmq_logger(options: &RunOptions, url: &str) -> Result<Logger, String> {
    use lava_proto::cert;
    use lava_proto::socket::{ConnectOptions, Security};
    let security = match (&options.master_cert, &options.slave_cert) {
        (None, None) => Security::Null,
        (Some(master), Some(slave)) => {
            let server =
                cert::load_public(master).map_err(|e| format!("{}: {e}", master.display()))?;
            let own = cert::load_pair(slave).map_err(|e| format!("{}: {e}", slave.display()))?;
            Security::CurveClient { own, server }
        }
        _ => return Err("--master-cert and --slave-cert go together".into()),
    };
    let connect = ConnectOptions {
        ipv6: options.ipv6,
        socks_proxy: options.socks_proxy.clone(),
    };
    let logger =
        Logger::zmq(url, &options.job_id, &security, &connect).map_err(|e| e.to_string())?;
    // the journal the worker answers LOG_SYNC with; without it the job
    // still runs (as LAVA's would)
    let journal = options.output_dir.join(JOURNAL);
    Ok(match logger.clone().with_journal(&journal) {
        Ok(logger) => logger,
        Err(e) => {
            log::warn!("no log journal at {}: {e}", journal.display());
            logger
        }
    })
}

fn read(path: &Path, kind: ErrorKind) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::new(kind, format!("Unable to read {}: {e}", path.display())).with_source(e)
    })
}

/// Run the whole sequence with `logger`; returns the exit code.
pub fn run_with_logger(
    options: &RunOptions,
    registry: &Registry,
    cancel: &CancelToken,
    logger: &Logger,
) -> i32 {
    let mut description = String::new();
    let mut job: Option<Job> = None;
    let outcome = (|| -> Result<(), Error> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&options.output_dir)
            .map_err(|e| {
                Error::infrastructure(format!(
                    "Unable to create {}: {e}",
                    options.output_dir.display()
                ))
            })?;
        let inputs = JobInputs {
            job_id: options.job_id.clone(),
            definition: read(&options.definition, ErrorKind::Job)?,
            device: read(&options.device, ErrorKind::Configuration)?,
            dispatcher: options
                .dispatcher
                .as_ref()
                .filter(|p| p.exists())
                .map(|p| read(p, ErrorKind::Configuration))
                .transpose()?,
            env_dut: options
                .env_dut
                .as_ref()
                .map(|p| read(p, ErrorKind::Configuration))
                .transpose()?,
            tmp_dir: options.tmp_dir(),
        };
        let parsed = job.insert(Job::parse(&inputs, registry)?);
        for (name, secret) in parsed.info.secrets() {
            if secret.len() < 4 {
                logger.warning(format!(
                    "The secret {name} is too short to be hidden from the log"
                ));
            }
            logger.redact(&secret);
        }
        description = parsed.description_yaml();
        logger.info(format!("lava-dispatcher, installed at version: {VERSION}"));
        logger.info("start: 0 validate");
        let now = UtcTime::now().isoformat().replacen('T', " ", 1);
        logger.info(format!("Start time: {now}+00:00 (UTC)"));
        let started = Instant::now();
        let validated = parsed.validate(logger, cancel);
        logger.info(format!(
            "validate duration: {:.02}",
            started.elapsed().as_secs_f64()
        ));
        logger.results(result_map([
            ("definition", "lava".into()),
            ("case", "validate".into()),
            (
                "result",
                if validated.is_ok() { "pass" } else { "fail" }.into(),
            ),
        ]));
        validated?;
        if options.validate_only {
            print!("{}", parsed.pipeline_text());
            return Ok(());
        }
        parsed.run(logger, cancel)
    })();
    if let Some(job) = job.as_mut() {
        if !options.validate_only {
            job.cleanup(logger, cancel);
        }
    }
    let code = match &outcome {
        Ok(()) => {
            logger.info("Job finished correctly");
            logger.results(result_map([
                ("definition", "lava".into()),
                ("case", "job".into()),
                ("result", "pass".into()),
            ]));
            0
        }
        Err(e) => {
            logger.error(e.kind.help());
            logger.results(result_map([
                ("definition", "lava".into()),
                ("case", "job".into()),
                ("result", "fail".into()),
                ("error_msg", e.message.as_str().into()),
                ("error_type", e.kind.error_type().into()),
            ]));
            1
        }
    };
    logger.close();
    if let Err(e) = std::fs::write(options.output_dir.join("description.yaml"), description) {
        eprintln!("lava-run: unable to write description.yaml: {e}");
    }
    code
}

/// The whole sequence: logger, parse, validate, run, cleanup, final
/// result, description. Returns the exit code (0 or 1).
pub fn lava_run(options: &RunOptions, registry: &Registry, cancel: &CancelToken) -> i32 {
    match logger(options) {
        Ok(logger) => run_with_logger(options, registry, cancel, &logger),
        Err(e) => {
            eprintln!("lava-run failed to setup logging: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Invocation, UsageError> {
        RunOptions::from_args(args.iter().copied())
    }

    #[test]
    fn the_command_line_round_trips_with_every_option() {
        let mut options = RunOptions::new("7", "/out", "/out/device.yaml", "/out/job.yaml");
        options.dispatcher = Some("/out/dispatcher.yaml".into());
        options.env_dut = Some("/out/env.dut.yaml".into());
        options.validate_only = true;
        options.logging_url = Some("tcp://master:5555".into());
        options.master_cert = Some("/etc/master.key".into());
        options.slave_cert = Some("/etc/slave.key_secret".into());
        options.socks_proxy = Some("proxy:1080".into());
        options.ipv6 = true;
        options.tmp_dir = Some("/var/tmp/lava".into());
        let args = options.to_args();
        assert_eq!(args.last().unwrap(), "/out/job.yaml");
        assert_eq!(
            RunOptions::from_args(args).unwrap(),
            Invocation::Run(options)
        );
    }

    #[test]
    fn the_worker_never_writes_tmp_dir_unless_set() {
        // LAVA's own lava-run does not know --tmp-dir
        let options = RunOptions::new("7", "/out", "/out/device.yaml", "/out/job.yaml");
        assert!(!options
            .to_args()
            .iter()
            .any(|a| a.to_string_lossy().starts_with("--tmp-dir")));
    }

    #[test]
    fn both_option_forms_are_read() {
        let Invocation::Run(options) = parse(&[
            "--job-id",
            "12",
            "--output-dir=/o",
            "--device",
            "/o/d.yaml",
            "--logging-url=tcp://m:5555",
            "/o/job.yaml",
        ])
        .unwrap() else {
            panic!("not a run")
        };
        assert_eq!(options.job_id, "12");
        assert_eq!(options.device, PathBuf::from("/o/d.yaml"));
        assert_eq!(options.logging_url.as_deref(), Some("tcp://m:5555"));
        assert_eq!(options.definition, PathBuf::from("/o/job.yaml"));
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let error = |args: &[&str]| parse(args).unwrap_err().to_string();
        let base = ["--job-id=1", "--output-dir=/o", "--device=/d"];
        assert_eq!(error(&base), "the job file is missing");
        assert_eq!(
            error(&["--output-dir=/o", "--device=/d", "job.yaml"]),
            "--job-id is required"
        );
        assert_eq!(
            error(&[&base[..], &["--bogus=1", "job.yaml"]].concat()),
            "unknown option --bogus"
        );
        assert_eq!(
            error(&[&base[..], &["job.yaml", "other.yaml"]].concat()),
            "unexpected argument 'other.yaml': the job file is already given"
        );
        assert_eq!(
            error(&[&base[..], &["job.yaml", "--dispatcher"]].concat()),
            "--dispatcher needs a value"
        );
        assert_eq!(
            error(&[&base[..], &["--master-cert=/m", "job.yaml"]].concat()),
            "--master-cert and --slave-cert go together"
        );
        assert_eq!(parse(&["--help"]).unwrap(), Invocation::Help);
        assert_eq!(parse(&["--version"]).unwrap(), Invocation::Version);
    }

    #[test]
    fn a_lava_run_command_is_recognised_by_its_job_id() {
        assert!(is_lava_run_command(["lava-lab", "--job-id=3", "job.yaml"]));
        assert!(is_lava_run_command(["x", "--job-id", "3"]));
        assert!(!is_lava_run_command(["lava-lab", "--state", "/tmp"]));
    }
}
