//! `lava-server manage jobs ...`: validate, submit, cancel, fail, list, show.
//!
//! A multinode submission prints one sub_id a line (`12.0`, `12.1`), as
//! lavacli does; `show` lists the group, `list` shows sub_ids
//! (docs/multinode.md).
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
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use lava_proto::job::{self, Options, Report};
use lava_scheduler::model::{JobHealth, JobNumber, JobState};
use lava_scheduler::store::{CancelOutcome, JobFilter, SqlStore};

use lava_scheduler::results::{export, Format};

use crate::output::{actor, io_error, read_input, read_text, when, Db, Result};

/// The commands of this group.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check job definition files as a submission is checked: print
    /// `FILE: valid` or `FILE: invalid: PATH: REASON` for each, then the
    /// other errors and the warnings indented; exit 1 if any is invalid.
    Validate(Validate),
    /// Submit a job definition; prints the new job's id (a multinode
    /// submission: the sub_id of each of its jobs, one a line).
    Submit {
        /// The job definition (YAML); `-` reads standard input.
        file: OsString,
        /// Who submits (default: the login name).
        #[arg(long)]
        submitter: Option<String>,
        /// Then follow the job's log until it ends, and print its results.
        #[arg(long)]
        follow: bool,
        /// Where job output is (as lava-master's --jobs-dir).
        #[arg(long, default_value = JOBS_DIR)]
        jobs_dir: std::path::PathBuf,
        /// Accept methods our lava-run does not implement (the lab's
        /// workers run LAVA's own dispatcher).
        #[arg(long)]
        any_method: bool,
    },
    /// Print a job's log: levels coloured on a terminal, device output plain.
    Logs {
        /// The job id, or a multinode sub_id (`12.1`).
        id: JobNumber,
        /// Keep printing new lines until the job ends.
        #[arg(long)]
        follow: bool,
        /// Print output.yaml exactly as stored.
        #[arg(long)]
        raw: bool,
        /// Where job output is (as lava-master's --jobs-dir).
        #[arg(long, default_value = JOBS_DIR)]
        jobs_dir: std::path::PathBuf,
    },
    /// Print a job's test results.
    Results {
        /// The job id, or a multinode sub_id (`12.1`).
        id: JobNumber,
        /// table, yaml, csv (LAVA's columns) or junit.
        #[arg(long, default_value = "table", value_parser = parse_format)]
        format: Format,
    },
    /// Cancel a job (a queued job ends at once; a running one is stopped by its worker).
    Cancel {
        /// The job id, or a multinode sub_id (`12.1`).
        id: JobNumber,
    },
    /// Fail a job now, whatever its state (its device is released; a
    /// lava-run still running on the worker is not stopped).
    Fail {
        /// The job id, or a multinode sub_id (`12.1`).
        id: JobNumber,
    },
    /// Delete jobs and their output (at least one filter is required).
    Rm {
        /// Only jobs that ended more than this long ago: Nh or Nd.
        #[arg(long, value_parser = parse_age)]
        older_than: Option<i64>,
        /// Only jobs in this state.
        #[arg(long, value_parser = parse_state)]
        state: Option<JobState>,
        /// Only jobs of this submitter.
        #[arg(long)]
        submitter: Option<String>,
        /// Show what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where job output directories are (as lava-master's --jobs-dir).
        #[arg(long, default_value = "/var/lib/lava-server/default/media/job-output")]
        jobs_dir: std::path::PathBuf,
    },
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: SUBMITTED, SCHEDULING, SCHEDULED, RUNNING, CANCELING, FINISHED.
        #[arg(long, value_parser = parse_state)]
        state: Vec<JobState>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one job.
    Show {
        /// The job id, or a multinode sub_id (`12.1`).
        id: JobNumber,
    },
}

/// `12h` or `3d` as microseconds.
fn parse_age(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid age '{text}' (use Nh or Nd, e.g. 12h or 30d)");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let hours = match unit {
        "h" => n,
        "d" => n * 24,
        _ => return Err(bad()),
    };
    Ok(hours * 3_600_000_000)
}

/// lava-master's default --jobs-dir.
pub const JOBS_DIR: &str = "/var/lib/lava-server/default/media/job-output";

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text)
        .ok_or_else(|| format!("unknown format '{text}' (use table, yaml, csv or junit)"))
}

fn parse_state(text: &str) -> Result<JobState, String> {
    JobState::parse(text)
        .ok_or_else(|| format!("unknown job state '{text}' (use {})", JobState::labels()))
}

#[derive(clap::Args)]
pub struct Validate {
    /// Job definition files (YAML); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<OsString>,
    /// Also allow this context variable (as LAVA's
    /// EXTRA_CONTEXT_VARIABLES setting); may be repeated.
    #[arg(long = "extra-context-variable", value_name = "NAME")]
    extra_context_variables: Vec<String>,
}

/// Run a `jobs` command. `validate`'s status says whether every file is
/// valid; the others fail with an error.
pub fn run(command: Command, db: &Db) -> Result<ExitCode> {
    let store = match command {
        Command::Validate(validate) => return Ok(run_validate(validate)),
        _ => db.open()?,
    };
    match command {
        Command::Validate(_) => {}
        Command::Logs {
            id,
            follow,
            raw,
            jobs_dir,
        } => {
            let id = store.job_by_number(&id)?.id;
            lava_bins::follow::print_log(&store, id, follow, raw, &jobs_dir, None)?
        }
        Command::Results { id, format } => results(&store, store.job_by_number(&id)?.id, format)?,
        Command::Submit {
            file,
            submitter,
            follow,
            jobs_dir,
            any_method,
        } => submit(
            &store,
            &file,
            submitter,
            follow.then_some(jobs_dir.as_path()),
            &lava_bins::submit_options(any_method),
        )?,
        Command::Cancel { id } => cancel(&store, store.job_by_number(&id)?.id)?,
        Command::Fail { id } => fail(&store, store.job_by_number(&id)?.id)?,
        Command::List { state, limit } => list(&store, state, limit)?,
        Command::Show { id } => show(&store, &store.job_by_number(&id)?)?,
        Command::Rm {
            older_than,
            state,
            submitter,
            dry_run,
            jobs_dir,
        } => rm(&store, older_than, state, submitter, dry_run, &jobs_dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn results(store: &SqlStore, id: i64, format: Format) -> Result {
    store.job(id)?;
    print!("{}", export(&store.test_cases(id)?, format));
    Ok(())
}

/// Submit; with `follow` (the jobs directory), print the log until the
/// job ends, then its results.
fn submit(
    store: &SqlStore,
    file: &OsString,
    submitter: Option<String>,
    follow: Option<&Path>,
    options: &lava_scheduler::submit::SubmitOptions,
) -> Result {
    let text = read_text(Path::new(file))?;
    let who = submitter.unwrap_or_else(actor);
    let submitted = lava_scheduler::submit::submit_jobs(store, &text, &who, options)?;
    // As lavacli: the id, or one sub_id a line for a multinode group.
    for id in submitted.display_ids() {
        println!("{id}");
    }
    let Some(jobs_dir) = follow else {
        return Ok(());
    };
    // A group is followed through its first sub-job.
    let id = submitted.first();
    lava_bins::follow::print_log(store, id, true, false, jobs_dir, None)?;
    println!("Job {id} finished: {}", store.job(id)?.health);
    print!("{}", export(&store.test_cases(id)?, Format::Table));
    Ok(())
}

fn cancel(store: &SqlStore, id: i64) -> Result {
    match store.cancel_job(id, &actor())? {
        CancelOutcome::Canceled => println!("Job {id} canceled"),
        CancelOutcome::Canceling(ids) => {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            println!("Job {} canceling", ids.join(", "))
        }
        CancelOutcome::AlreadyEnding(state) => println!("Job {id} is already {state}"),
    }
    Ok(())
}

fn fail(store: &SqlStore, id: i64) -> Result {
    let job = store.finish_job(
        id,
        JobHealth::Incomplete,
        false,
        Some("failed by an admin"),
        &actor(),
    )?;
    println!("Job {id} finished: {}", job.health);
    Ok(())
}

fn list(store: &SqlStore, states: Vec<JobState>, limit: i64) -> Result {
    let filter = JobFilter {
        states,
        limit: Some(limit),
        ..Default::default()
    };
    for j in store.jobs(&filter)? {
        let health = if j.state == JobState::Finished {
            format!(" ({})", j.health)
        } else {
            String::new()
        };
        // a multinode sub-job shows its sub_id next to its id
        let sub_id = if j.sub_id.is_empty() {
            String::new()
        } else {
            format!(" ({})", j.sub_id)
        };
        println!(
            "* {}{sub_id} [{}{health}] {} on {} by {}: {}",
            j.id,
            j.state,
            j.requested_device_type.as_deref().unwrap_or("-"),
            j.actual_device.as_deref().unwrap_or("-"),
            j.submitter,
            j.description
        );
    }
    Ok(())
}

fn rm(
    store: &SqlStore,
    older_than: Option<i64>,
    state: Option<JobState>,
    submitter: Option<String>,
    dry_run: bool,
    jobs_dir: &Path,
) -> Result {
    if older_than.is_none() && state.is_none() && submitter.is_none() {
        return Err("give at least one of --older-than, --state, --submitter".into());
    }
    let filter = JobFilter {
        states: state.into_iter().collect(),
        ..Default::default()
    };
    let now = lava_scheduler::model::now_micros();
    let jobs: Vec<_> = store
        .jobs(&filter)?
        .into_iter()
        .filter(|j| submitter.as_ref().is_none_or(|s| *s == j.submitter))
        .filter(|j| older_than.is_none_or(|age| j.end_time.is_some_and(|end| now - end > age)))
        .collect();
    for job in jobs {
        if dry_run {
            println!(
                "would delete job {} ({}, {})",
                job.id, job.state, job.description
            );
            continue;
        }
        let dir = lava_scheduler::master::output_dir(jobs_dir, &job);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_error(dir.display()))?;
        }
        store.delete_job(job.id, &actor())?;
        println!("deleted job {}", job.id);
    }
    Ok(())
}

fn show(store: &SqlStore, j: &lava_scheduler::model::Job) -> Result {
    println!("id          : {}", j.id);
    println!("description : {}", j.description);
    println!("submitter   : {}", j.submitter);
    println!(
        "device type : {}",
        j.requested_device_type.as_deref().unwrap_or("-")
    );
    println!(
        "device      : {}",
        j.actual_device.as_deref().unwrap_or("-")
    );
    println!("state       : {}", j.state);
    println!("health      : {}", j.health);
    println!("priority    : {}", j.priority);
    println!("tags        : {}", j.tags.join(", "));
    println!("health check: {}", j.health_check);
    println!("submitted   : {}", when(Some(j.submit_time)));
    println!("started     : {}", when(j.start_time));
    println!("ended       : {}", when(j.end_time));
    if let Some(comment) = &j.failure_comment {
        println!("failure     : {comment}");
    }
    if let Some(group) = &j.target_group {
        // the group: every sub-job with its role, state and device
        println!(
            "multinode   : group {group}, sub_id {}, essential: {}",
            j.sub_id, j.essential
        );
        for other in store.group_jobs(group)? {
            let role = lava_scheduler::multinode::member(&other.definition)
                .map(|m| m.role)
                .unwrap_or_else(|| "-".into());
            let health = if other.state == JobState::Finished {
                format!(" ({})", other.health)
            } else {
                String::new()
            };
            let this = if other.id == j.id { " (this job)" } else { "" };
            println!(
                "  {} {} [{}{health}] role {role} on {}{this}",
                other.sub_id,
                other.id,
                other.state,
                other.actual_device.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}

fn run_validate(args: Validate) -> ExitCode {
    let options = Options {
        extra_context_variables: args.extra_context_variables,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut all_valid = true;
    for file in &args.files {
        let report = match read_input(Path::new(file)) {
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
