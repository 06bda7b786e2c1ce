//! Clean shutdown and log rotation of the daemons (docs/operations.md,
//! "Signals and logs"): SIGTERM or SIGINT stop lava-master, lava-slave,
//! `lava-server serve` and lava-coordinator with exit status 0 and no
//! error line; SIGHUP makes each reopen its log file, as logrotate needs.

mod common;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{bin, free_port, wait_for, Daemon, Lab, DEADLINE};

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal})", child.id());
}

/// Wait for `child` to exit, within the tests' deadline.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn contains(path: &Path, text: &str) -> bool {
    read(path).contains(text)
}

/// Lines with the word "error" in any case (an ERROR level, `error:`),
/// not inside a name such as a column's `infrastructure_error`.
fn error_lines(text: &str) -> Vec<&str> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.match_indices("error").any(|(at, _)| {
                !word(lower[..at].chars().next_back()) && !word(lower[at + 5..].chars().next())
            })
        })
        .collect()
}

#[test]
fn error_lines_finds_words_not_names() {
    let text = "a\nlava-master: error: ZeroMQ: Interrupted system call\n\
                [.. ERROR x] boom\nSELECT infrastructure_error FROM jobs\nerrors=0\nError";
    assert_eq!(
        error_lines(text),
        [
            "lava-master: error: ZeroMQ: Interrupted system call",
            "[.. ERROR x] boom",
            "Error"
        ]
    );
}

/// Stop `daemon` with `sig`; it must exit 0 and none of `logs` may hold an
/// error line.
fn stop_cleanly(daemon: &mut Daemon, sig: i32, what: &str, logs: &[&Path]) {
    signal(&daemon.0, sig);
    let status = wait_exit(&mut daemon.0, what);
    let text: String = logs.iter().map(|p| read(p)).collect::<Vec<_>>().join("\n");
    assert!(status.success(), "{what} exited with {status}:\n{text}");
    let errors = error_lines(&text);
    assert!(errors.is_empty(), "{what} logged errors: {errors:#?}");
}

/// lava-master and a lava-slave connected to it: SIGTERM stops each with
/// status 0 (the worker first, as a host shutdown might, then the master).
fn master_and_slave_stop_on_sigterm(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    let master_log = lab.path("lava-master.log");
    let slave_log = lab.path("lava-slave.log");
    lab.master_args = vec!["--log-file".into(), master_log.display().to_string()];
    lab.slave_args = vec!["--log-file".into(), slave_log.display().to_string()];
    lab.start_master();
    wait_for("the master's main loop", DEADLINE, || {
        contains(&master_log, "Starting main loop")
    });
    lab.start_slave();
    wait_for("the worker to connect", DEADLINE, || {
        contains(&slave_log, "established")
    });
    let stderr_master = lab.path("master.log");
    let stderr_slave = lab.path("slave.log");
    stop_cleanly(
        lab.slave.as_mut().unwrap(),
        libc::SIGTERM,
        "lava-slave",
        &[&slave_log, &stderr_slave],
    );
    stop_cleanly(
        lab.master.as_mut().unwrap(),
        libc::SIGTERM,
        "lava-master",
        &[&master_log, &stderr_master],
    );
    assert!(contains(&master_log, "lava-master stopped"));
}

#[test]
fn master_and_slave_stop_on_sigterm_sqlite() {
    master_and_slave_stop_on_sigterm(false);
}

#[test]
fn master_and_slave_stop_on_sigterm_postgres() {
    master_and_slave_stop_on_sigterm(true);
}

#[test]
fn master_stops_on_sigint() {
    let mut lab = Lab::new(false).unwrap();
    let master_log = lab.path("lava-master.log");
    lab.master_args = vec!["--log-file".into(), master_log.display().to_string()];
    lab.start_master();
    wait_for("the master's main loop", DEADLINE, || {
        contains(&master_log, "Starting main loop")
    });
    let stderr = lab.path("master.log");
    stop_cleanly(
        lab.master.as_mut().unwrap(),
        libc::SIGINT,
        "lava-master",
        &[&master_log, &stderr],
    );
}

/// Rename `log` as logrotate does, send SIGHUP, and wait for the daemon to
/// write its "reopened" line in a new file at the old name.
fn rotate(daemon: &Daemon, log: &Path) -> std::path::PathBuf {
    let old = log.with_extension("log.1");
    std::fs::rename(log, &old).unwrap();
    signal(&daemon.0, libc::SIGHUP);
    wait_for("the daemon to reopen its log file", DEADLINE, || {
        contains(log, "reopened the log file")
    });
    old
}

#[test]
fn master_reopens_its_log_file_on_sighup() {
    let mut lab = Lab::new(false).unwrap();
    let log = lab.path("lava-master.log");
    lab.master_args = vec!["--log-file".into(), log.display().to_string()];
    lab.start_master();
    wait_for("the master's main loop", DEADLINE, || {
        contains(&log, "Starting main loop")
    });
    let old = rotate(lab.master.as_ref().unwrap(), &log);
    // the master is still running and writes what follows to the new file
    lab.start_slave();
    wait_for("the worker's HELLO in the new log file", DEADLINE, || {
        contains(&log, "New dispatcher worker1")
    });
    let old_text = read(&old);
    assert!(old_text.contains("Starting main loop"), "{old_text}");
    assert!(!old_text.contains("New dispatcher worker1"), "{old_text}");
    assert!(!old_text.contains("reopened"), "{old_text}");
    let stderr = lab.path("master.log");
    stop_cleanly(
        lab.master.as_mut().unwrap(),
        libc::SIGTERM,
        "lava-master",
        &[&log, &old, &stderr],
    );
}

#[test]
fn slave_reopens_its_log_file_on_sighup() {
    let mut lab = Lab::new(false).unwrap();
    let log = lab.path("lava-slave.log");
    lab.slave_args = vec!["--log-file".into(), log.display().to_string()];
    lab.start_slave();
    wait_for("the worker to greet the master", DEADLINE, || {
        contains(&log, "Greeting the master")
    });
    let old = rotate(lab.slave.as_ref().unwrap(), &log);
    // the master comes up: the worker's connection is logged in the new file
    lab.start_master();
    wait_for("the connection in the new log file", DEADLINE, || {
        contains(&log, "established")
    });
    assert!(!read(&old).contains("established"));
    let stderr = lab.path("slave.log");
    stop_cleanly(
        lab.slave.as_mut().unwrap(),
        libc::SIGTERM,
        "lava-slave",
        &[&log, &old, &stderr],
    );
}

/// `lava-server serve` on a free port with a SQLite database and a log file.
fn start_http(dir: &Path, log: &Path) -> (Daemon, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let stderr = std::fs::File::create(dir.join("http.stderr")).unwrap();
    let child = Command::new(bin("lava-server"))
        .arg("serve")
        .arg("--database")
        .arg(format!("sqlite://{}/lava.db", dir.display()))
        .args(["--bind", &addr, "--level", "DEBUG"])
        .arg("--jobs-dir")
        .arg(dir.join("jobs"))
        .arg("--device-types")
        .arg(dir.join("device-types"))
        .arg("--log-file")
        .arg(log)
        .env_remove("LAVA_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    (Daemon(child), addr)
}

fn http_get(addr: &str, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(&format!("http://{addr}{path}")).call().unwrap();
    response.status().as_u16()
}

#[test]
fn http_service_stops_on_sigterm_and_reopens_its_log_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lava-server-http.log");
    let (mut http, addr) = start_http(dir.path(), &log);
    // logged once its signal handlers are in place
    wait_for("the HTTP service", DEADLINE, || {
        contains(&log, "[HTTP] serving on")
    });
    assert_eq!(http_get(&addr, "/api/v0.2/jobs/"), 200);
    let old = rotate(&http, &log);
    // still serving after the signal
    assert_eq!(http_get(&addr, "/api/v0.2/jobs/"), 200);
    assert!(read(&old).contains("web UI and API"));
    assert!(!read(&old).contains("reopened"));
    let stderr = dir.path().join("http.stderr");
    stop_cleanly(
        &mut http,
        libc::SIGTERM,
        "lava-server serve",
        &[&log, &old, &stderr],
    );
    // logged after the rotation: in the new file only
    assert!(contains(&log, "SIGTERM: stopping"));
    assert!(!contains(&old, "SIGTERM"));
}

#[test]
fn http_service_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lava-server-http.log");
    let (mut http, _addr) = start_http(dir.path(), &log);
    // logged once its signal handlers are in place
    wait_for("the HTTP service", DEADLINE, || {
        contains(&log, "[HTTP] serving on")
    });
    let stderr = dir.path().join("http.stderr");
    stop_cleanly(
        &mut http,
        libc::SIGINT,
        "lava-server serve",
        &[&log, &stderr],
    );
}

#[test]
fn coordinator_stops_on_sigterm_and_reopens_its_log_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lava-coordinator.log");
    let conf = dir.path().join("lava-coordinator.conf");
    let port = free_port();
    std::fs::write(&conf, format!("{{\"port\": {port}}}\n")).unwrap();
    let stderr = dir.path().join("coordinator.stderr");
    let child = Command::new(bin("lava-coordinator"))
        .arg("--config")
        .arg(&conf)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--logfile")
        .arg(&log)
        .args(["--loglevel", "DEBUG"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut coordinator = Daemon(child);
    wait_for("the coordinator", DEADLINE, || contains(&log, "started"));
    let old = rotate(&coordinator, &log);
    assert!(read(&old).contains("started"));
    // a client connects: the coordinator keeps serving after the signal
    wait_for("the coordinator's port", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    stop_cleanly(
        &mut coordinator,
        libc::SIGTERM,
        "lava-coordinator",
        &[&log, &old, &stderr],
    );
    assert!(contains(&log, "lava-coordinator stopped"));
}
