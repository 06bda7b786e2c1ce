//! `lava-lab`: a one-machine LAVA lab in one command (see `lava_bins::lab`).
//! The worker runs each job with this same program as its lava-run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;

/// A LAVA lab on this machine: master, worker and a QEMU device.
#[derive(Parser)]
#[command(name = "lava-lab", version)]
struct Args {
    /// Where the lab keeps its store, certificates, images and job output
    /// (default: $XDG_DATA_HOME/lava-lab or ~/.local/share/lava-lab).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Submit this job instead of the sample job.
    #[arg(long)]
    job: Option<PathBuf>,
    /// Stop after the first job.
    #[arg(long)]
    once: bool,
    /// Submit the sample MultiNode job (a server and a client QEMU guest)
    /// instead of the sample job.
    #[arg(long, conflicts_with = "job")]
    multinode: bool,
    /// Where the HTTP service (XML-RPC at /RPC2, REST at /api/v0.2/) listens.
    #[arg(long, default_value = "127.0.0.1:8000")]
    http_bind: String,
}

fn default_state_dir() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("lava-lab");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/lava-lab")
}

fn main() -> ExitCode {
    // The worker starts lava-run with LAVA's options: act as lava-run.
    if lava_pipeline::run::is_lava_run_command(std::env::args_os()) {
        // and ends with the lab, however the lab ends
        if !lava_bins::lab::end_with_the_lab() {
            return lava_bins::fail("lava-run", "the lab that started this job has ended");
        }
        return lava_bins::lava_run_main(std::env::args_os());
    }
    // first, while no other thread runs
    lava_bins::lab::mark_the_lab();
    lava_bins::restore_sigpipe();
    let args = Args::parse();
    if let Err(e) = lava_bins::init_daemon_logging("WARN", "-") {
        return lava_bins::fail("lava-lab", e);
    }
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = lava_bins::stop_on_signals(&stop) {
        return lava_bins::fail("lava-lab", e);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let options = lava_bins::lab::LabOptions {
        state_dir: args.state_dir.unwrap_or_else(default_state_dir),
        share_dir: repo.join("share"),
        scripts_dir: repo.join("scripts"),
        job: args.job,
        once: args.once,
        multinode: args.multinode,
        http_bind: args.http_bind,
    };
    match lava_bins::lab::run(&options, stop) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => lava_bins::fail("lava-lab", e),
    }
}
