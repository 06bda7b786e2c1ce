//! `lava-lab` stopped the ways it is stopped in practice, while a job runs:
//! Ctrl-C at a terminal (SIGINT to its whole process group), systemd's
//! stop (SIGTERM to the group), SIGTERM and SIGKILL to the lab alone. The
//! lab's stopping path runs where it can (the job cancelled, the bench
//! boards stopped) and nothing it started is left: no QEMU (bench board or
//! the job's), no lava-run (docs/operations.md, "Stopping lava-lab").

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

/// One process as `/proc` shows it.
struct Process {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    /// Its start time: with its pid, what tells it from a later process
    /// given the same pid.
    start: u64,
    cmdline: Vec<String>,
}

fn processes() -> Vec<Process> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(at) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[at + 2..].split_whitespace().collect();
        // state, ppid, pgrp, ..., starttime; zombies hold nothing any more
        if fields.len() < 20 || fields[0] == "Z" || fields[0] == "X" {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        out.push(Process {
            pid,
            ppid: fields[1].parse().unwrap_or(0),
            pgrp: fields[2].parse().unwrap_or(0),
            start: fields[19].parse().unwrap_or(0),
            cmdline: cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        });
    }
    out
}

/// A lab run by the test, in its own process group as a terminal starts
/// it. Dropping it kills whatever is left of it, so a failing test leaks
/// nothing.
struct Lab {
    child: Child,
    state: PathBuf,
    lines: Receiver<String>,
    seen: String,
    /// Whether the lab has been reaped: from then on its pid, and its
    /// process group's id, may name other processes.
    reaped: bool,
    /// The processes seen as the lab's (pid, start time): the lab's
    /// descendants and its process group's members while it was not
    /// reaped, and the descendants of those that still run.
    known: Vec<(i32, u64)>,
}

impl Lab {
    fn start(state: &Path) -> Lab {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lava-lab"))
            .args(["--http-bind", "127.0.0.1:0", "--state-dir"])
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Lab {
            child,
            state: state.to_path_buf(),
            lines,
            seen: String::new(),
            reaped: false,
            known: Vec::new(),
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait for a line of the lab's output containing `text`.
    fn wait_line(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no '{text}' from lava-lab within {within:?}:\n{}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("lava-lab ended without '{text}':\n{}", self.seen)
                }
            }
        }
    }

    /// Add the lab's processes running now to those known: while the lab
    /// is not reaped, its descendants and its process group's members;
    /// always, the descendants of the known processes still running (a
    /// lava-run that outlives a killed lab, and what it starts).
    fn sample(&mut self) {
        let all = processes();
        let mut family: Vec<i32> = all
            .iter()
            .filter(|p| self.known.contains(&(p.pid, p.start)))
            .map(|p| p.pid)
            .collect();
        if !self.reaped {
            family.push(self.pid());
            family.extend(
                all.iter()
                    .filter(|p| p.pgrp == self.pid() && p.pid != self.pid())
                    .map(|p| p.pid),
            );
        }
        loop {
            let more: Vec<i32> = all
                .iter()
                .filter(|p| family.contains(&p.ppid) && !family.contains(&p.pid))
                .map(|p| p.pid)
                .collect();
            if more.is_empty() {
                break;
            }
            family.extend(more);
        }
        for p in all.iter().filter(|p| family.contains(&p.pid)) {
            if p.pid != self.pid() && !self.known.contains(&(p.pid, p.start)) {
                self.known.push((p.pid, p.start));
            }
        }
    }

    /// Whether `process` is one the lab started: one seen as the lab's
    /// (the very process: pid and start time), or one that mentions the
    /// lab's state directory or its bench boards' names.
    fn owns(&self, process: &Process) -> bool {
        let state = self.state.to_string_lossy();
        let boards = format!("-{}.pid", self.pid());
        self.known.contains(&(process.pid, process.start))
            || process
                .cmdline
                .iter()
                .any(|a| a.contains(&*state) || (a.contains("/lava-lab-") && a.ends_with(&boards)))
    }

    fn leftovers(&mut self) -> Vec<String> {
        self.sample();
        processes()
            .into_iter()
            .filter(|p| self.owns(p))
            .map(|p| format!("{} {}", p.pid, p.cmdline.join(" ")))
            .collect()
    }

    /// Wait until the job runs: its lava-run (the lab's child) and the
    /// QEMU it started, besides the lab's bench boards.
    fn wait_for_the_job(&mut self) {
        self.wait_line("submitted job", Duration::from_secs(300));
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let all = processes();
            let runs: Vec<i32> = all
                .iter()
                .filter(|p| {
                    p.ppid == self.pid() && p.cmdline.iter().any(|a| a.starts_with("--job-id"))
                })
                .map(|p| p.pid)
                .collect();
            // the job's QEMU runs on a pseudo-terminal, in a session of its
            // own: found as a descendant of lava-run
            let mut family = runs.clone();
            loop {
                let more: Vec<i32> = all
                    .iter()
                    .filter(|p| family.contains(&p.ppid) && !family.contains(&p.pid))
                    .map(|p| p.pid)
                    .collect();
                if more.is_empty() {
                    break;
                }
                family.extend(more);
            }
            let job_qemu: Vec<i32> = all
                .iter()
                .filter(|p| {
                    family.contains(&p.pid)
                        && p.cmdline.first().is_some_and(|a| a.contains("qemu-system"))
                })
                .map(|p| p.pid)
                .collect();
            let board = all.iter().any(|p| {
                p.ppid == self.pid() && p.cmdline.first().is_some_and(|a| a.contains("qemu-system"))
            });
            if !job_qemu.is_empty() {
                assert!(
                    board || self.seen.contains("no U-Boot bench board this time"),
                    "the bench board is not the lab's child:\n{}",
                    self.seen
                );
                self.sample();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the lab's job did not start its QEMU within 300 s:\n{}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait for the lab to end; its exit status.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            self.sample();
            if let Some(status) = self.child.try_wait().unwrap() {
                self.reaped = true;
                // the rest of its output
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "lava-lab did not stop within {within:?}:\n{}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Assert that nothing the lab started is left (waiting a little for
    /// killed processes to go).
    fn assert_nothing_left(&mut self, how: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {how}, the lab left:\n{}\nits output:\n{}",
                left.join("\n"),
                self.seen
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.reaped && matches!(self.child.try_wait(), Ok(None)) {
            self.sample();
            // SAFETY: kill(2) takes plain integers; the lab leads its group
            // and is not reaped, so the group's id is still its own.
            unsafe {
                libc::kill(-self.pid(), libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
        self.sample();
        for process in processes() {
            if self.owns(&process) {
                // SAFETY: as above.
                unsafe {
                    libc::kill(process.pid, libc::SIGKILL);
                }
            }
        }
        // the pid files of boards whose lab was killed (the next lab would
        // clear them)
        let run = self.state.join("qemu-lab/run");
        for entry in std::fs::read_dir(run).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = self.pid();
            if name.starts_with("lava-lab-")
                && (name.ends_with(&format!("-{pid}.pid"))
                    || name.ends_with(&format!("-{pid}.log")))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Run the lab until its job runs, stop it with `signal` sent to its group
/// (or to the lab alone), and check what is left.
fn stop_while_a_job_runs(images: &Path, signal: i32, to_group: bool, how: &str) {
    let state = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(images, state.path().join("qemu-lab")).unwrap();
    let mut lab = Lab::start(state.path());
    lab.wait_for_the_job();
    let target = if to_group { -lab.pid() } else { lab.pid() };
    // SAFETY: kill(2) takes plain integers.
    assert_eq!(unsafe { libc::kill(target, signal) }, 0);
    let status = lab.wait_exit(Duration::from_secs(240));
    if signal == libc::SIGKILL {
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    } else {
        assert!(status.success(), "after {how}: {status}\n{}", lab.seen);
        assert!(lab.seen.contains("stopping"), "{}", lab.seen);
        assert!(
            lab.seen.contains("cancelling 1 running job(s)"),
            "the running job is cancelled: {}",
            lab.seen
        );
    }
    lab.assert_nothing_left(how);
}

#[test]
fn ctrl_c_systemd_stop_and_sigkill_leave_nothing_running() {
    let Some(images) = common::images() else {
        return;
    };
    // one lab at a time: each runs QEMU guests
    stop_while_a_job_runs(&images, libc::SIGINT, true, "SIGINT to its group");
    stop_while_a_job_runs(&images, libc::SIGTERM, true, "SIGTERM to its group");
    stop_while_a_job_runs(&images, libc::SIGTERM, false, "SIGTERM to the lab alone");
    stop_while_a_job_runs(&images, libc::SIGKILL, false, "SIGKILL to the lab");
}
