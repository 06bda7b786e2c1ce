//! The `lava-coordinator` binary as a child process: restart safety with
//! `--state-dir` (SIGKILL, torn and corrupt journals), SIGTERM, key
//! generation and configuration errors (`docs/coordinator.md`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use lava_proto::coordinator::Key;
use serde_json::json;

struct Daemon {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Start the binary on an ephemeral loopback port with `args`, and
    /// wait for its "listening on" log line.
    fn start(conf: &Path, args: &[&str]) -> Daemon {
        Daemon::start_under(&[], conf, args)
    }

    /// Like `start`, the binary run by the command `wrapper` (which ends
    /// by exec'ing its arguments).
    fn start_under(wrapper: &[&str], conf: &Path, args: &[&str]) -> Daemon {
        let (mut child, lines, log) = spawn_under(wrapper, conf, args);
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.split_whitespace().next().unwrap().to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "lava-coordinator did not start:\n{}",
                        log.lock().unwrap().join("\n")
                    );
                }
            }
        };
        Daemon { child, addr, log }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn sigkill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("lava-coordinator did not exit:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_under(
    wrapper: &[&str],
    conf: &Path,
    args: &[&str],
) -> (Child, Receiver<String>, Arc<Mutex<Vec<String>>>) {
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(coordinator_bin());
            command
        }
        None => Command::new(coordinator_bin()),
    };
    let mut child = command
        .args(["--config".as_ref(), conf.as_os_str()])
        .args([
            "--logfile",
            "-",
            "--loglevel",
            "DEBUG",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            keep.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    (child, rx, log)
}

/// Run the binary to completion; (status, stderr).
fn run_to_end(conf: &Path, args: &[&str]) -> (ExitStatus, String) {
    let output = Command::new(coordinator_bin())
        .args(["--config".as_ref(), conf.as_os_str()])
        .args(["--logfile", "-"])
        .args(args)
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn conf(dir: &Path) -> PathBuf {
    let path = dir.join("lava-coordinator.conf");
    std::fs::write(
        &path,
        r#"{"port": 3079, "blocksize": 4096, "poll_delay": 3, "coordinator_hostname": "localhost"}"#,
    )
    .unwrap();
    path
}

fn join_and_send(addr: &str, group: &str) {
    let join = |client: &str, role: &str| {
        ask(
            addr,
            &body(group, client, role, "group_data", json!({"group_size": 2})),
        )
    };
    assert_eq!(response(&join("1", "server")), "wait");
    assert_eq!(response(&join("2", "client")), "group_data");
    let send = body(
        group,
        "1",
        "server",
        "lava_send",
        json!({"messageID": "ipv4", "message": {"ipaddr": "10.0.0.5"}}),
    );
    assert_eq!(response(&ask(addr, &send)), "ack");
}

fn peer_wait(addr: &str, group: &str) -> serde_json::Value {
    ask(
        addr,
        &body(
            group,
            "2",
            "client",
            "lava_wait",
            json!({"messageID": "ipv4", "nodeID": "2"}),
        ),
    )
}

#[test]
fn a_sigkilled_coordinator_restarted_on_its_state_dir_keeps_the_groups() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    join_and_send(&daemon.addr, "restart-1");
    daemon.sigkill();

    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    let reply = peer_wait(&daemon.addr, "restart-1");
    assert_eq!(
        reply,
        json!({"response": "ack", "message": {"1": {"ipaddr": "10.0.0.5"}}}),
        "{}",
        daemon.log_text()
    );
    // the membership survived too: no new partial group
    let again = ask(
        &daemon.addr,
        &body(
            "restart-1",
            "1",
            "server",
            "group_data",
            json!({"group_size": 2}),
        ),
    );
    assert_eq!(again["roles"], json!({"1": "server", "2": "client"}));
    assert!(daemon.log_text().contains("state loaded from"));

    // and once more, now from the snapshot written at the previous start
    daemon.sigkill();
    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    assert_eq!(response(&peer_wait(&daemon.addr, "restart-1")), "ack");
}

#[test]
fn a_torn_last_journal_line_is_dropped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    join_and_send(&daemon.addr, "torn");
    daemon.sigkill();
    let journal = state.join("journal.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(lines >= 3, "journal has {lines} lines");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(b"{\"seq\": 1000, \"now\": 1, \"secure\": fa")
        .unwrap();
    drop(file);

    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    let expected = format!(
        "journal.jsonl, line {}: dropping an incomplete last entry",
        lines + 1
    );
    assert!(
        daemon.log_text().contains(&expected),
        "{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("WARN"));
    assert_eq!(response(&peer_wait(&daemon.addr, "torn")), "ack");
}

#[test]
fn a_corrupt_journal_line_in_the_middle_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("journal.jsonl"),
        "garbage\n{\"seq\": 2, \"now\": 1, \"secure\": false, \"body\": {}}\n",
    )
    .unwrap();
    let (status, stderr) = run_to_end(&conf, &["--state-dir", state.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("lava-coordinator: error: state directory: "),
        "{stderr}"
    );
    assert!(last.contains("journal.jsonl, line 1: not JSON"), "{stderr}");
}

#[test]
fn sigterm_and_sigint_stop_the_daemon_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    for signal in ["TERM", "INT"] {
        let mut daemon = Daemon::start(&conf, &[]);
        // a held request is answered `wait` when the daemon stops
        let held = {
            let addr = daemon.addr.clone();
            std::thread::spawn(move || {
                ask(
                    &addr,
                    &body(
                        "sig",
                        "1",
                        "a",
                        "group_data",
                        json!({"group_size": 2, "block_ms": 30_000}),
                    ),
                )
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !daemon.log_text().contains("holding request from") {
            assert!(
                Instant::now() < deadline,
                "request not seen:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        daemon.signal(signal);
        let status = daemon.wait_exit(Duration::from_secs(10));
        assert!(
            status.success(),
            "{signal}: {status:?}\n{}",
            daemon.log_text()
        );
        assert_eq!(response(&held.join().unwrap()), "wait");
    }
}

#[test]
fn new_key_writes_a_private_key_that_auth_require_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let key_path = dir.path().join("coordinator.key");
    let key_arg = key_path.to_str().unwrap();
    let (status, stderr) = run_to_end(&conf, &["--new-key", key_arg, "--key-id", "lab1"]);
    assert!(status.success(), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, stderr) = run_to_end(&conf, &["--new-key", key_arg, "--key-id", "lab1"]);
    assert_eq!(
        status.code(),
        Some(1),
        "an existing key file is never overwritten"
    );
    assert!(stderr.contains(key_arg), "{stderr}");

    let key: Key = Key::load(&key_path).unwrap().remove(0);
    let daemon = Daemon::start(&conf, &["--auth", "require", "--auth-keys", key_arg]);
    let mut request = body(
        "keyed",
        "1",
        "server",
        "group_data",
        json!({"group_size": 1}),
    );
    assert_eq!(response(&ask(&daemon.addr, &request)), "nack");
    request["token"] = json!(key.token("keyed", "1", "server", 1));
    assert_eq!(response(&ask(&daemon.addr, &request)), "group_data");
}

#[test]
fn configuration_errors_are_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.conf");
    let (status, stderr) = run_to_end(&missing, &[]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.starts_with("lava-coordinator: error: ") && stderr.contains("absent.conf"),
        "{stderr}"
    );
    let conf = conf(dir.path());
    let (status, stderr) = run_to_end(&conf, &["--auth", "require", "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("--auth-keys"), "{stderr}");
    let (status, stderr) = run_to_end(&conf, &["--semantics", "2019", "--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("unknown semantics '2019'"), "{stderr}");
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, r#"{"port": "x"}"#).unwrap();
    let (status, stderr) = run_to_end(&bad, &["--listen", "127.0.0.1:0"]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("bad.conf") && stderr.contains("port"),
        "{stderr}"
    );
}

#[test]
fn a_failed_journal_write_does_not_stop_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let conf = conf(dir.path());
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    // Files of at most 6000 bytes (a full disk), SIGXFSZ ignored: a write
    // crossing the limit is partial, the next one fails with EFBIG.
    let limited = [
        "sh",
        "-c",
        "trap '' XFSZ; exec \"$@\"",
        "sh",
        "prlimit",
        "--fsize=6000:unlimited",
    ];
    let daemon = Daemon::start_under(&limited, &conf, &["--state-dir", state_arg]);
    let addr = daemon.addr.clone();
    join_and_send(&addr, "full");
    let send = |id: &str, size: usize| {
        let request = body(
            "full",
            "1",
            "server",
            "lava_send",
            json!({"messageID": id, "message": {"blob": "x".repeat(size)}}),
        );
        assert_eq!(response(&ask(&addr, &request)), "ack", "{id}");
    };
    send("big1", 2500);
    send("big2", 2500); // crosses the limit: half a line written
    let journal = state.join(lava_coordinator::journal::JOURNAL_FILE);
    assert!(std::fs::metadata(&journal).unwrap().len() < 6000);
    // space is freed
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &daemon.child.id().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    send("after1", 10);
    send("after2", 10);
    let log = daemon.log_text();
    assert!(log.contains("state change not saved yet"), "{log}");
    daemon.sigkill();

    let daemon = Daemon::start(&conf, &["--state-dir", state_arg]);
    for (id, size) in [
        ("big1", 2500),
        ("big2", 2500),
        ("after1", 10),
        ("after2", 10),
    ] {
        let wait = body("full", "2", "client", "lava_wait", json!({"messageID": id}));
        assert_eq!(
            ask(&daemon.addr, &wait),
            json!({"response": "ack", "message": {"1": {"blob": "x".repeat(size)}}}),
            "{id}"
        );
    }
}
