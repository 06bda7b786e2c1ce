//! lava-master and lava-slave as real processes on loopback, with the
//! `fake-lava-run` example standing in for lava-run: a job goes from the
//! store to the worker and back, survives restarts of either daemon, and
//! every log line is stored exactly once, in order.

mod common;

use common::*;
use lava_scheduler::model::{JobHealth, JobState, WorkerState};
use std::time::{Duration, Instant};

fn normal_job(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    wait_for("the worker to come online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    let job = lab.submit("{lines: 20}");
    wait_for("the job to finish", DEADLINE, || {
        lab.store.job(job).unwrap().state == JobState::Finished
    });
    let finished = lab.store.job(job).unwrap();
    assert_eq!(finished.health, JobHealth::Complete, "{}", lab.logs_of());
    let dir = lab.job_dir(job);
    let lines = log_lines(&dir);
    let msgs = messages(&lines);
    assert_eq!(
        lines.len(),
        23,
        "validate + 20 lines + 2 results (the marker is not written)"
    );
    for i in 0..20 {
        assert_eq!(msgs[1 + i], format!("\"line {i}\""));
    }
    let cases: Vec<(String, String)> = lab
        .store
        .test_cases(job)
        .unwrap()
        .into_iter()
        .map(|c| (c.suite, c.name))
        .collect();
    assert_eq!(
        cases,
        [
            ("0_fixture".into(), "smoke".into()),
            ("lava".into(), "job".into())
        ]
    );
    let smoke = &lab.store.test_cases(job).unwrap()[0];
    assert_eq!(
        (smoke.start_log_line, smoke.end_log_line),
        (Some(20), Some(20)),
        "the marker points at the line before it"
    );
    wait_for("description.yaml", DEADLINE, || {
        dir.join("description.yaml").exists()
    });
    assert_eq!(
        std::fs::read_to_string(dir.join("description.yaml")).unwrap(),
        format!("job:\n  id: {job}\n")
    );
    for name in ["job.yaml", "device.yaml"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    assert!(std::fs::read_to_string(dir.join("job.yaml"))
        .unwrap()
        .ends_with("compatibility: 0\n"));
    wait_for("the worker to clean up after END_OK", DEADLINE, || {
        !lab.slave_job_dir(job).exists()
    });
}

#[test]
fn normal_job_on_sqlite() {
    normal_job(false);
}

#[test]
fn normal_job_on_postgres() {
    normal_job(true);
}

#[test]
fn lava_run_crash_is_incomplete_with_its_stderr() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{crash: true, stderr: 'segfault in the fixture'}");
    lab.wait_state(job, JobState::Finished);
    let job = lab.store.job(job).unwrap();
    assert_eq!(job.health, JobHealth::Incomplete, "{}", lab.logs_of());
    let comment = job.failure_comment.unwrap_or_default();
    assert!(comment.contains("segfault in the fixture"), "{comment}");
}

#[test]
fn cancel_of_a_running_job() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    lab.store.cancel_job(job, "alice").unwrap();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Canceled,
        "{}",
        lab.logs_of()
    );
    let msgs = messages(&log_lines(&lab.job_dir(job)));
    assert!(msgs.last().unwrap().contains("Canceled"), "{msgs:?}");
}

fn restart_mid_job(restart_master: bool, postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true, lines: 3}");
    lab.wait_state(job, JobState::Running);
    wait_for("the first log lines", DEADLINE, || {
        log_lines_so_far(&lab.job_dir(job)).len() >= 5
    });
    if restart_master {
        // Scenario 21 too: the job ends while the master (its log sink) is
        // down; lava-run holds its last lines until the master is back.
        lab.master.take(); // SIGKILL
        lab.release(job);
        lab.start_master();
    } else {
        lab.slave.take(); // SIGKILL: lava-run keeps running in its own group
        lab.start_slave();
        lab.release(job);
    }
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Complete,
        "{}",
        lab.logs_of()
    );
    // END_OK comes once the log is whole
    wait_for("the worker to clean up after END_OK", DEADLINE, || {
        !lab.slave_job_dir(job).exists()
    });
    let msgs = messages(&log_lines(&lab.job_dir(job)));
    assert_eq!(msgs.len(), 6, "every line exactly once: {msgs:?}");
    assert_eq!(msgs[1..4], ["\"line 0\"", "\"line 1\"", "\"line 2\""]);
}

/// Keep the first `n` lines of a stored log (`output.yaml` and its index).
fn truncate_log(dir: &std::path::Path, n: usize) {
    let offsets = log_offsets(dir);
    let output = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("output.yaml"))
        .unwrap();
    output.set_len(offsets[n]).unwrap();
    let index: Vec<u8> = offsets[..n].iter().flat_map(|o| o.to_le_bytes()).collect();
    std::fs::write(dir.join("output.idx"), index).unwrap();
}

/// Lines a master had received but not written when it was killed (ZeroMQ
/// acknowledges nothing, so lava-run counts them as delivered) come back
/// from the worker's journal before END_OK: the log has every line once
/// and in order, and the lost result is stored with its log lines.
fn lines_lost_by_a_killed_master_come_back(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true, lines: 3}");
    lab.wait_state(job, JobState::Running);
    wait_for("the smoke result", DEADLINE, || {
        lab.store
            .test_cases(job)
            .unwrap()
            .iter()
            .any(|c| c.name == "smoke")
    });
    lab.master.take(); // SIGKILL
                       // What such a master leaves behind: of the five lines sent so far it
                       // wrote two; the smoke result went with the rest.
    assert_eq!(log_lines(&lab.job_dir(job)).len(), 5);
    truncate_log(&lab.job_dir(job), 2);
    assert_eq!(lab.store.delete_test_cases(job).unwrap(), 1);
    lab.start_master();
    lab.release(job);
    wait_for("END_OK", DEADLINE, || !lab.slave_job_dir(job).exists());
    let job_row = lab.store.job(job).unwrap();
    assert_eq!(job_row.health, JobHealth::Complete, "{}", lab.logs_of());
    let msgs = messages(&log_lines(&lab.job_dir(job)));
    assert_eq!(
        msgs.len(),
        6,
        "every line exactly once: {msgs:#?}\n{}",
        lab.logs_of()
    );
    assert_eq!(msgs[1..4], ["\"line 0\"", "\"line 1\"", "\"line 2\""]);
    assert!(msgs[4].contains("smoke"), "{}", msgs[4]);
    let cases = lab.store.test_cases(job).unwrap();
    let smoke = cases
        .iter()
        .find(|c| c.name == "smoke")
        .unwrap_or_else(|| panic!("no smoke result in {cases:#?}"));
    // its marker came after "line 2", line 3 of the log
    assert_eq!(
        (smoke.start_log_line, smoke.end_log_line),
        (Some(3), Some(3))
    );
    assert_eq!(
        cases.iter().filter(|c| c.name == "smoke").count(),
        1,
        "{cases:#?}"
    );
    assert!(
        lab.logs_of().contains("LOG_SYNC"),
        "the master asked for the journal:\n{}",
        lab.logs_of()
    );
}

#[test]
fn lines_lost_by_a_killed_master_come_back_from_the_journal() {
    lines_lost_by_a_killed_master_come_back(false);
}

#[test]
fn lines_lost_by_a_killed_master_come_back_from_the_journal_postgres() {
    lines_lost_by_a_killed_master_come_back(true);
}

#[test]
fn master_restarted_mid_job() {
    restart_mid_job(true, false);
}

#[test]
fn master_restarted_mid_job_postgres() {
    restart_mid_job(true, true);
}

#[test]
fn slave_restarted_mid_job() {
    restart_mid_job(false, false);
}

#[test]
fn slave_restarted_mid_job_postgres() {
    restart_mid_job(false, true);
}

#[test]
fn curve_job_runs_with_lava_create_certificate_keys() {
    let mut lab = curve_lab();
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{lines: 3}");
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Complete,
        "{}",
        lab.logs_of()
    );
    assert_eq!(
        log_lines(&lab.job_dir(job)).len(),
        6,
        "lava-run's log lines went through CURVE too"
    );
}

#[test]
fn curve_unknown_key_is_refused_and_logged() {
    let mut lab = curve_lab();
    certificate(&lab.path("elsewhere"), "intruder");
    lab.curve = Some(lab.path("elsewhere/intruder.key_secret"));
    lab.start_master();
    lab.start_slave();
    wait_for("the refusal in the master's log", DEADLINE, || {
        master_log_contains(&lab, "refused CURVE client from 127.0.0.1")
    });
    assert_eq!(
        lab.store.worker("worker1").unwrap().state,
        WorkerState::Offline,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn curve_plaintext_worker_is_refused_and_logged() {
    let mut lab = curve_lab();
    lab.plaintext_slave = true;
    lab.start_master();
    lab.start_slave();
    wait_for("the refusal in the master's log", DEADLINE, || {
        master_log_contains(
            &lab,
            "[AUTH] protocol error (encryption mismatch?) on the control socket",
        )
    });
    assert_eq!(
        lab.store.worker("worker1").unwrap().state,
        WorkerState::Offline,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn curve_revoked_key_cuts_a_connected_worker_off() {
    let mut lab = curve_lab();
    lab.start_master();
    lab.start_slave();
    wait_for("the worker to come online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    std::fs::remove_file(lab.path("certs/worker1.key")).unwrap();
    let revoked = Instant::now();
    // The directory is re-read twice a second; the worker is cut off at once
    // even though its connection stays up.
    wait_for(
        "the revoked worker to be cut off",
        Duration::from_secs(2),
        || lab.store.worker("worker1").unwrap().state == WorkerState::Offline,
    );
    eprintln!("revoked worker cut off after {:?}", revoked.elapsed());
    assert!(master_log_contains(&lab, "[AUTH] worker worker1 cut off"));
}

#[test]
fn curve_worker_cannot_take_over_another_hostname() {
    let mut lab = curve_lab();
    certificate(&lab.path("certs"), "worker2");
    lab.start_master();
    lab.start_slave();
    wait_for("worker1 online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
    // worker2's key is authorised, but not for the name worker1.
    let ctx = zmq::Context::new();
    let security = lava_proto::socket::Security::CurveClient {
        own: lava_proto::cert::load_pair(&lab.path("certs/worker2.key_secret")).unwrap(),
        server: lava_proto::cert::load_public(&lab.path("certs/master.key")).unwrap(),
    };
    let impostor = lava_proto::socket::worker_control(
        &ctx,
        &lab.control,
        "worker1",
        &security,
        &Default::default(),
    )
    .unwrap();
    lava_proto::socket::send(
        &impostor,
        lava_proto::socket::MASTER_ID,
        &lava_proto::control::Message::Hello { version: 3 },
    )
    .unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "[AUTH] refusing worker1 with key")
    });
    assert_eq!(
        impostor.poll(zmq::POLLIN, 300).unwrap(),
        0,
        "the impostor got an answer"
    );
}

#[test]
fn submit_follow_prints_the_log_and_results() {
    let mut lab = Lab::new(false).unwrap();
    lab.start_master();
    lab.start_slave();
    let job_file = lab.path("job.yaml");
    std::fs::write(
        &job_file,
        "job_name: followed\ndevice_type: fixture\nvisibility: public\ntimeouts:\n  job:\n    minutes: 5\nactions: []\n",
    )
    .unwrap();
    let manage = |args: &[&str]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lava-server"))
            .arg("manage")
            .args(["--database", &lab.url])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + DEADLINE;
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "lava-server {args:?} did not finish"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let jobs_dir = lab.path("jobs").display().to_string();
    let out = manage(&[
        "jobs",
        "submit",
        job_file.to_str().unwrap(),
        "--follow",
        "--jobs-dir",
        &jobs_dir,
    ]);
    let id: i64 = out.lines().next().unwrap().parse().unwrap();
    assert!(
        out.contains("\nline 0\nline 1\n"),
        "device output is printed plain: {out}"
    );
    assert!(
        out.contains(&format!("Job {id} finished: Complete\n")),
        "{out}"
    );
    assert!(out.contains("0_fixture  smoke      pass"), "{out}");
    let raw = manage(&[
        "jobs",
        "logs",
        &id.to_string(),
        "--raw",
        "--jobs-dir",
        &jobs_dir,
    ]);
    assert_eq!(
        raw,
        std::fs::read_to_string(lab.job_dir(id).join("output.yaml")).unwrap()
    );
    let junit = manage(&["jobs", "results", &id.to_string(), "--format", "junit"]);
    assert!(
        junit.contains(r#"<testcase name="smoke" classname="0_fixture"/>"#),
        "{junit}"
    );
    let csv = manage(&["jobs", "results", &id.to_string(), "--format", "csv"]);
    assert_eq!(csv.lines().count(), 3, "header + 2 test cases: {csv}");
}

/// GET `path` from `addr`; the status code and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn slave_serves_the_running_jobs_files_over_http() {
    let mut lab = Lab::new(false).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    lab.slave_args = vec!["--http-bind".into(), addr.clone()];
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    // lava-run would download images here; the device fetches them over HTTP.
    let dir = lab.path("dispatcher-tmp").join(job.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("overlay.tar.gz"), "overlay bytes").unwrap();
    wait_for("the file server", DEADLINE, || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    assert_eq!(
        http_get(&addr, &format!("/tmp/{job}/overlay.tar.gz")),
        (200, "overlay bytes".into())
    );
    assert_eq!(
        http_get(&addr, &format!("/tmp/{job}/../{job}/overlay.tar.gz")).0,
        403
    );
    assert_eq!(
        http_get(&addr, "/tmp/999/overlay.tar.gz").0,
        404,
        "another job's files"
    );
    lab.release(job);
    lab.wait_state(job, JobState::Finished);
    // After END_OK the files are neither served nor kept.
    wait_for("the cleanup", DEADLINE, || !dir.exists());
    assert_eq!(
        http_get(&addr, &format!("/tmp/{job}/overlay.tar.gz")).0,
        404
    );
}
