//! lava-run's main sequence (docs/pipeline.md §1.2), for the thin binary and
//! for anyone embedding the dispatcher:
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
//! 8. exit code 0 or 1.
//!
//! ```no_run
//! use lava_pipeline::cancel::CancelToken;
//! use lava_pipeline::run::{lava_run, RunOptions};
//! use lava_pipeline::strategy::Registry;
//!
//! let options = RunOptions::new("12", "/tmp/out", "device.yaml", "job.yaml");
//! let code = lava_run(&options, &Registry::with_builtins(), &CancelToken::new().unwrap());
//! std::process::exit(code);
//! ```

use std::path::PathBuf;
use std::time::Instant;

use lava_proto::cert;
use lava_proto::socket::{ConnectOptions, Security};
use lava_proto::time::UtcTime;

use crate::cancel::CancelToken;
use crate::error::{ErrorKind, PipelineError};
use crate::job::{Job, JobInputs, DEFAULT_TMP_DIR};
use crate::logger::{result_map, Logger};
use crate::strategy::Registry;

/// lava-run's options.
#[derive(Debug, Clone, Default)]
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
    /// Base of per-job temporary directories.
    pub tmp_dir: PathBuf,
}

impl RunOptions {
    /// Options with the required values.
    pub fn new(job_id: &str, output_dir: &str, device: &str, definition: &str) -> Self {
        RunOptions {
            job_id: job_id.to_string(),
            output_dir: output_dir.into(),
            device: device.into(),
            definition: definition.into(),
            tmp_dir: DEFAULT_TMP_DIR.into(),
            ..RunOptions::default()
        }
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
    let journal = options.output_dir.join(crate::logger::JOURNAL);
    Ok(match logger.clone().with_journal(&journal) {
        Ok(logger) => logger,
        Err(e) => {
            log::warn!("no log journal at {}: {e}", journal.display());
            logger
        }
    })
}

fn read(path: &PathBuf, kind: ErrorKind) -> Result<String, PipelineError> {
    std::fs::read_to_string(path)
        .map_err(|e| PipelineError::new(kind, format!("Unable to read {}: {e}", path.display())))
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
    let outcome = (|| -> Result<(), PipelineError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&options.output_dir)
            .map_err(|e| {
                PipelineError::infrastructure(format!(
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
            tmp_dir: options.tmp_dir.clone(),
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
