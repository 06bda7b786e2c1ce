//! `lava-server manage jobs ...`: job definition commands.
//!
//! `validate FILE...` checks job definitions as the master checks a
//! submission (`lava_proto::job::validate`). One line per file, with FILE
//! exactly as given:
//!
//! ```text
//! FILE: valid
//! FILE: invalid: PATH: REASON (line N)
//! ```
//!
//! followed, when there are more, by the other errors and the warnings on
//! lines indented by four spaces: `    error: PATH: REASON (line N)`,
//! `    warning: PATH: REASON (line N)` (PATH is left out for problems of
//! the whole document, such as YAML syntax; the line when unknown). A
//! file that cannot be read is invalid with the system's reason; `-`
//! reads standard input. Exit status: 0 when every file is valid, 1 when
//! any is invalid, 2 on a usage error.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use lava_proto::job::{self, Options, Report};

/// Arguments of `jobs`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check job definition files as a submission is checked: print
    /// `FILE: valid` or `FILE: invalid: PATH: REASON` for each, then the
    /// other errors and the warnings indented; exit 1 if any is invalid.
    Validate(Validate),
}

#[derive(clap::Args)]
struct Validate {
    /// Job definition files (YAML); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<OsString>,
    /// Also allow this context variable (as LAVA's
    /// EXTRA_CONTEXT_VARIABLES setting); may be repeated.
    #[arg(long = "extra-context-variable", value_name = "NAME")]
    extra_context_variables: Vec<String>,
}

/// Run a `jobs` command.
pub fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Validate(validate) => run_validate(validate),
    }
}

fn run_validate(args: Validate) -> ExitCode {
    let options = Options {
        extra_context_variables: args.extra_context_variables,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut all_valid = true;
    for file in &args.files {
        let report = match read(file) {
            Ok(bytes) => job::validate_bytes(&bytes, &options),
            Err(err) => Report {
                errors: vec![job::Issue::new("", format!("cannot read the file: {err}"))],
                warnings: Vec::new(),
            },
        };
        all_valid &= report.is_valid();
        if print(&mut out, &file.to_string_lossy(), &report).is_err() {
            // Standard output is gone (a closed pipe): stop quietly.
            break;
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read(file: &OsString) -> std::io::Result<Vec<u8>> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(Path::new(file))
    }
}

fn print(out: &mut impl Write, file: &str, report: &Report) -> std::io::Result<()> {
    match report.errors.split_first() {
        None => writeln!(out, "{file}: valid")?,
        Some((first, others)) => {
            writeln!(out, "{file}: invalid: {first}")?;
            for error in others {
                writeln!(out, "    error: {error}")?;
            }
        }
    }
    for warning in &report.warnings {
        writeln!(out, "    warning: {warning}")?;
    }
    Ok(())
}
