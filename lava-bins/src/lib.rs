//! Thin binaries of LAVA in Rust. Each binary only parses its arguments,
//! sets up logging and calls the libraries; this library holds the little
//! they share.
//!
//! Binaries:
//! - `lava-create-certificate NAME [--directory DIR] [--force]`: a CURVE key
//!   pair in pyzmq's certificate format;
//! - `lava-server manage ...`: the admin commands;
//! - `lava-master`: the master daemon (control, logs, scheduling);
//! - `lava-slave`: the worker daemon;
//! - `lava-run`: one job's pipeline, with the built-in strategies
//!   ([`lava_run_main`]);
//! - `lava-coordinator`: the MultiNode coordinator (`lava_coordinator`);
//! - `lava-lab`: a whole lab on one machine ([`lab`]).

pub mod follow;
pub mod import_lava;
pub mod lab;
pub mod log_file;
pub mod service_config;

use std::fmt::Display;
use std::process::ExitCode;

/// `lava-run`'s `main` with the built-in strategies, for any binary that
/// acts as lava-run (`lava-run` itself, and `lava-lab`, which runs its
/// jobs with itself). `args` includes the program name; the command line
/// is [`lava_pipeline::run::RunOptions`]'s.
pub fn lava_run_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
    lava_pipeline::run::main_with(args, &lava_pipeline::Registry::with_builtins())
}

/// How this lab checks submissions: jobs must use methods our lava-run
/// implements (its built-in strategies), unless `any_method` says the
/// lab's workers may run other dispatchers (LAVA's own lava-slave and
/// lava-run), which implement methods ours does not.
pub fn submit_options(any_method: bool) -> lava_scheduler::submit::SubmitOptions {
    use lava_pipeline::Family;
    if any_method {
        return Default::default();
    }
    let registry = lava_pipeline::Registry::with_builtins();
    let list = |family| {
        registry
            .supported(family)
            .map(|methods| methods.into_iter().map(str::to_string).collect())
    };
    // a strategy that does not list what it handles: no complete list, no
    // check (lava-run still refuses what it cannot run)
    let (Some(deploy), Some(boot), Some(test)) =
        (list(Family::Deploy), list(Family::Boot), list(Family::Test))
    else {
        return Default::default();
    };
    lava_scheduler::submit::SubmitOptions {
        dispatchers: Some(lava_scheduler::submit::Dispatchers { deploy, boot, test }),
    }
}

/// Set up `env_logger` with `default_level` unless `RUST_LOG` says otherwise.
pub fn init_logging(default_level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .format_timestamp_millis()
        .init();
}

/// Logging for daemons, with LAVA's options: `level` is one of `DEBUG`,
/// `INFO`, `WARN` (or `WARNING`), `ERROR`; `log_file` is a path, or `-`
/// for standard error. `DEBUG` is for the workspace's crates (`lava*`); the
/// libraries they use log at `INFO` at most. `RUST_LOG` still overrides the
/// level. With a path, SIGHUP reopens the file
/// ([`log_file::ReopenableFile`], for logrotate).
pub fn init_daemon_logging(level: &str, log_file: &str) -> Result<(), String> {
    let filter = match level.to_ascii_uppercase().as_str() {
        // our crates' debug lines, not every SQL statement of the drivers
        "DEBUG" => "info,lava=debug",
        "INFO" => "info",
        "WARN" | "WARNING" => "warn",
        "ERROR" => "error",
        other => {
            return Err(format!(
                "unknown log level '{other}' (use DEBUG, INFO, WARN or ERROR)"
            ))
        }
    };
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter));
    builder.format_timestamp_millis();
    let mut reopenable = None;
    if log_file != "-" {
        let file =
            log_file::ReopenableFile::open(log_file).map_err(|e| format!("{log_file}: {e}"))?;
        builder.target(env_logger::Target::Pipe(Box::new(file.writer())));
        reopenable = Some(file);
    }
    builder.init();
    if let Some(file) = reopenable {
        file.reopen_on_sighup()
            .map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
    }
    Ok(())
}

/// Set `flag` when SIGINT or SIGTERM arrives (a daemon then stops after the
/// message in hand). SIGHUP sets it too unless it reopens the daemon's log
/// file ([`init_daemon_logging`] with a file): logging to standard error,
/// a hang-up means the terminal has gone.
pub fn stop_on_signals(flag: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<(), String> {
    let mut signals = vec![signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
    if !log_file::SIGHUP_REOPENS.load(std::sync::atomic::Ordering::SeqCst) {
        signals.push(signal_hook::consts::SIGHUP);
    }
    for signal in signals {
        signal_hook::flag::register(signal, std::sync::Arc::clone(flag))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(())
}

/// Let a closed standard output (`lava-server ... | head`) end the process
/// quietly, as it does for other Unix tools, instead of making `println!`
/// panic. Rust ignores SIGPIPE by default; this restores the default action.
pub fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler
    // and touches no memory; it is done once at start-up.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Report a fatal error as one readable line on stderr and return the exit
/// code 1. `program` is the binary's name.
pub fn fail(program: &str, error: impl Display) -> ExitCode {
    eprintln!("{program}: error: {error}");
    ExitCode::FAILURE
}
