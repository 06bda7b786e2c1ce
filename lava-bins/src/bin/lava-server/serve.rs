//! `lava-server serve`: the HTTP service (XML-RPC at /RPC2, REST API at
//! /api/v0.2/) and the sender of job notifications. SIGINT or SIGTERM stop
//! it with status 0; SIGHUP reopens its `--log-file`. `--config-file`
//! reads `/etc/lava-server/lava-server-http` (docs/operations.md).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use lava_bins::service_config::{self, CommandLine, ConfigOptions};

use lava_web::{Notifier, NotifyConfig, Service, ServiceConfig};

use crate::output::{Db, Result};

/// Arguments of `serve`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigOptions,
    /// HOST:PORT to listen on.
    #[arg(long, env = "LAVA_HTTP_BIND", default_value = "127.0.0.1:8000")]
    bind: String,
    /// Where job output is (as lava-master's --jobs-dir).
    #[arg(long, default_value = crate::jobs::JOBS_DIR)]
    jobs_dir: PathBuf,
    /// Device-type template directories (as lava-master's --device-types).
    #[arg(long, num_args = 1.., default_value = "/etc/lava-server/dispatcher-config/device-types")]
    device_types: Vec<PathBuf>,
    /// SMTP server for job e-mail notifications (plain SMTP, a local relay).
    #[arg(long, value_name = "HOST:PORT")]
    smtp: Option<String>,
    /// Sender address of notification e-mail.
    #[arg(long, default_value = "lava@localhost")]
    email_from: String,
    /// The lab's address for links in notifications (default: the bind
    /// address).
    #[arg(long)]
    instance_url: Option<String>,
    /// Accept jobs whose methods our lava-run does not implement (for
    /// labs whose workers run LAVA's own dispatcher).
    #[arg(long)]
    any_method: bool,
    /// Log level: DEBUG, INFO, WARN, ERROR.
    #[arg(long, default_value = "INFO")]
    level: String,
    /// Log file, or - for standard error.
    #[arg(long, default_value = "-")]
    log_file: String,
}

/// The command line of `lava-server serve` with its configuration files
/// applied (set by [`with_config_files`]).
static COMMAND_LINE: OnceLock<CommandLine> = OnceLock::new();

/// `args` (the whole command line) with the settings of `serve`'s
/// `--config-file`s put first; other commands' lines are returned as they
/// are.
pub fn with_config_files(args: Vec<OsString>) -> Result<Vec<OsString>> {
    if args.get(1).and_then(|a| a.to_str()) != Some("serve") {
        return Ok(args);
    }
    let command_line = service_config::command_line(service_config::Service::Http, args, 2)
        .map_err(|e| e.to_string())?;
    let args = command_line.args.clone();
    let _ = COMMAND_LINE.set(command_line);
    Ok(args)
}

/// Run the service until a signal.
pub fn run(args: Args, db: &Db) -> Result<ExitCode> {
    if args.config.print_args {
        if let Some(command_line) = COMMAND_LINE.get() {
            println!("{}", command_line.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    lava_bins::init_daemon_logging(&args.level, &args.log_file)?;
    if let Some(command_line) = COMMAND_LINE.get() {
        command_line.log_ignored("lava-server serve");
    }
    let store = db.open()?;
    let mut notify = NotifyConfig::new(
        args.instance_url
            .unwrap_or_else(|| format!("http://{}", args.bind)),
        &args.jobs_dir,
    );
    notify.smtp = args.smtp;
    notify.from = args.email_from;
    let _notifier = Notifier::spawn(store.clone(), notify)?;
    let mut config = ServiceConfig::new(args.bind, args.jobs_dir);
    config.device_types = args.device_types;
    config.submit = lava_bins::submit_options(args.any_method);
    let service = Service::bind(store, config)?;
    log::info!("web UI and API: http://{}/", service.local_addr());
    service.run_until_signal()?;
    Ok(ExitCode::SUCCESS)
}
