//! lava-run processes: spawning one per job in its own process group,
//! telling whether it still runs, and signalling it.
//!
//! A process is identified by its pid **and** its start time (field 22 of
//! `/proc/<pid>/stat`), so a recycled pid is never mistaken for the job's
//! lava-run (LAVA 2020.01 looked for "lava-run" in the command line).

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running (or finished) lava-run, identified by pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    /// The process id.
    pub pid: u32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

/// Read the start time and state of a process from `/proc`.
fn stat(pid: u32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); field 22 is at index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

impl ProcessId {
    /// The identity of a live process.
    pub fn of(pid: u32) -> Option<ProcessId> {
        stat(pid).map(|(start_time, _)| ProcessId { pid, start_time })
    }

    /// A running process that has `argument` (exactly) on its command line.
    pub fn find_by_argument(argument: &str) -> Option<ProcessId> {
        let entries = std::fs::read_dir("/proc").ok()?;
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|a| a == argument.as_bytes()))
                    .unwrap_or(false)
            })
            .and_then(ProcessId::of)
            .filter(ProcessId::is_running)
    }

    /// Whether this very process still runs (not a zombie, pid not reused).
    pub fn is_running(&self) -> bool {
        matches!(stat(self.pid), Some((start, state)) if start == self.start_time && state != 'Z' && state != 'X')
    }

    /// Send `signal` to the process group it leads (lava-run and what it
    /// started: QEMU, telnet, ...).
    pub fn signal_group(&self, signal: i32) -> bool {
        if !self.is_running() {
            return false;
        }
        let Ok(pgid) = i32::try_from(self.pid) else {
            return false;
        };
        // SAFETY: kill(2) takes plain integers and has no memory effects; a
        // negative pid addresses the process group, which lava-run leads.
        unsafe { libc::kill(-pgid, signal) == 0 }
    }
}

/// Spawn `program` with `args` in a new process group, its stdout and
/// stderr going to the given files, with the environment `env` (exactly).
pub fn spawn(
    program: &Path,
    args: &[std::ffi::OsString],
    env: &[(String, String)],
    stdout: &Path,
    stderr: &Path,
) -> std::io::Result<(Child, ProcessId)> {
    use std::os::unix::process::CommandExt;
    let child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(stderr)?)
        .process_group(0)
        .spawn()?;
    let id = ProcessId::of(child.id()).ok_or_else(|| {
        std::io::Error::other(format!(
            "process {} vanished right after it started",
            child.id()
        ))
    })?;
    Ok((child, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_survives_until_the_process_is_reaped() {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("60.{}", std::process::id());
        let (mut child, id) = spawn(
            Path::new("/bin/sh"),
            &["-c".into(), format!("exec sleep {marker}").into()],
            &[],
            &dir.path().join("out"),
            &dir.path().join("err"),
        )
        .unwrap();
        assert!(id.is_running());
        assert_eq!(ProcessId::of(id.pid), Some(id));
        // Found again by its command line, as a restarted worker does.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ProcessId::find_by_argument(&marker) != Some(id) {
            assert!(
                std::time::Instant::now() < deadline,
                "not found by its argument"
            );
            std::thread::yield_now();
        }
        assert!(id.signal_group(libc::SIGTERM));
        child.wait().unwrap();
        assert!(!id.is_running());
        let recycled = ProcessId {
            start_time: id.start_time + 1,
            ..id
        };
        assert!(!recycled.is_running());
    }
}
