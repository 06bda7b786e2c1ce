//! docs/protocol.md §17: the conformance scenarios that need no board, against
//! the real daemons. A scripted peer built from lava-proto's sockets plays
//! the other side where a scenario needs a message lost, duplicated or
//! malformed: a scripted worker against the real lava-master, a scripted
//! master against the real lava-slave.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lava_proto::control::{JobEnd, Message, StartJob};
use lava_proto::socket::{self, Security, MASTER_ID};
use lava_scheduler::model::{JobHealth, JobState, WorkerState};
use lava_scheduler::store::NewWorker;

/// Receive the next message within `timeout` (None when nothing came).
fn next(socket: &zmq::Socket, timeout: Duration) -> Option<Message> {
    if socket.poll(zmq::POLLIN, timeout.as_millis() as i64).ok()? == 0 {
        return None;
    }
    socket::recv(socket).ok()?.message().ok()
}

/// Wait for a message matching `want`, skipping others (PONGs...).
fn expect(socket: &zmq::Socket, what: &str, mut want: impl FnMut(&Message) -> bool) -> Message {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        if let Some(message) = next(socket, left) {
            if want(&message) {
                return message;
            }
        }
    }
}

/// Assert that nothing but PONG arrives within `quiet`.
fn silence(socket: &zmq::Socket, quiet: Duration) {
    let deadline = std::time::Instant::now() + quiet;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match next(socket, left) {
            None | Some(Message::Pong { .. }) => {}
            Some(other) => panic!("unexpected {other}"),
        }
    }
}

/// A scripted worker `worker1` that has greeted the real master.
fn scripted_worker(lab: &Lab) -> (zmq::Context, zmq::Socket) {
    let ctx = zmq::Context::new();
    let worker = socket::worker_control(
        &ctx,
        &lab.control,
        "worker1",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    expect(&worker, "HELLO_OK", |m| *m == Message::HelloOk);
    (ctx, worker)
}

/// A running job on the scripted worker: START received and acknowledged.
fn running_job(lab: &Lab, worker: &zmq::Socket) -> i64 {
    let job = lab.submit("{}");
    let start = expect(worker, "START", |m| matches!(m, Message::Start(_)));
    assert_eq!(start.job_id(), Some(job as u64));
    socket::send(worker, MASTER_ID, &Message::StartOk { job_id: job as u64 }).unwrap();
    lab.wait_state(job, JobState::Running);
    job
}

#[test]
fn handshake_version_check_and_retry() {
    handshake_version_check_and_retry_on(false);
}

#[test]
fn handshake_version_check_and_retry_postgres() {
    handshake_version_check_and_retry_on(true);
}

fn handshake_version_check_and_retry_on(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    let ctx = zmq::Context::new();
    let worker = socket::worker_control(
        &ctx,
        &lab.control,
        "worker1",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    // Scenario 1: a v2 worker gets no answer at all.
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 2 }).unwrap();
    wait_for("the version complaint", DEADLINE, || {
        master_log_contains(&lab, "worker1 using protocol v2")
    });
    silence(&worker, Duration::from_millis(300));
    assert_eq!(
        lab.store.worker("worker1").unwrap().state,
        WorkerState::Offline
    );
    // HELLO_RETRY with the right version is answered.
    socket::send(&worker, MASTER_ID, &Message::HelloRetry { version: 3 }).unwrap();
    expect(&worker, "HELLO_OK", |m| *m == Message::HelloOk);
    wait_for("the worker online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Online
    });
}

#[test]
fn lava_logs_may_only_ping_and_unknown_workers_get_nothing() {
    let mut lab = Lab::new(false).unwrap();
    lab.start_master();
    let ctx = zmq::Context::new();
    // Scenario 2: LAVA's log daemon identifies as "lava-logs" and only pings.
    let logs = ctx.socket(zmq::DEALER).unwrap();
    logs.set_identity(b"lava-logs").unwrap();
    logs.connect(&lab.control).unwrap();
    logs.send("PING", 0).unwrap();
    assert!(logs.poll(zmq::POLLIN, 10_000).unwrap() > 0);
    assert_eq!(
        logs.recv_multipart(0).unwrap(),
        [b"PONG".to_vec(), b"20".to_vec()]
    );
    logs.send_multipart(["START_OK", "1"], 0).unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "lava-logs => START_OK(1): ignored")
    });
    assert!(
        lab.store.worker("lava-logs").is_err(),
        "no worker row for lava-logs"
    );
    // D12: an unregistered worker gets no answer and no row.
    let stranger = socket::worker_control(
        &ctx,
        &lab.control,
        "stranger",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    socket::send(&stranger, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "unknown worker stranger")
    });
    silence(&stranger, Duration::from_millis(300));
    assert!(lab.store.worker("stranger").is_err());
}

#[test]
fn start_is_resent_until_start_ok() {
    start_is_resent_until_start_ok_on(false);
}

#[test]
fn start_is_resent_until_start_ok_postgres() {
    start_is_resent_until_start_ok_on(true);
}

fn start_is_resent_until_start_ok_on(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    let (_ctx, worker) = scripted_worker(&lab);
    let job = lab.submit("{}");
    // Scenario 8: the first START is "lost".
    expect(&worker, "START", |m| matches!(m, Message::Start(_)));
    let again = expect(&worker, "START again", |m| matches!(m, Message::Start(_)));
    let Message::Start(start) = again else {
        unreachable!()
    };
    assert_eq!(start.job_id, job as u64);
    assert!(start.definition.contains("compatibility: 0"));
    assert!(start.device.contains("device_type: fixture"));
    socket::send(&worker, MASTER_ID, &Message::StartOk { job_id: job as u64 }).unwrap();
    lab.wait_state(job, JobState::Running);
    // A duplicate START_OK changes nothing.
    socket::send(&worker, MASTER_ID, &Message::StartOk { job_id: job as u64 }).unwrap();
    silence(&worker, Duration::from_millis(1500));
    assert_eq!(lab.store.job(job).unwrap().state, JobState::Running);
}

#[test]
fn end_frames_duplicates_and_crashes() {
    end_frames_duplicates_and_crashes_on(false);
}

#[test]
fn end_frames_duplicates_and_crashes_postgres() {
    end_frames_duplicates_and_crashes_on(true);
}

fn end_frames_duplicates_and_crashes_on(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    let (_ctx, worker) = scripted_worker(&lab);
    let job = running_job(&lab, &worker);
    // Scenario 6: END with 3 frames is ignored (no END_OK).
    worker.send(MASTER_ID, zmq::SNDMORE).unwrap();
    worker
        .send_multipart(["END", &job.to_string(), "errors"], 0)
        .unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "END needs at least 4 frames, got 3")
    });
    silence(&worker, Duration::from_millis(300));
    // A crash (empty description): Incomplete, stderr kept as the failure comment.
    let end = JobEnd::new(job as u64, "Traceback: boom\n", None);
    socket::send(&worker, MASTER_ID, &Message::End(end.clone())).unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        (finished.state, finished.health),
        (JobState::Finished, JobHealth::Incomplete)
    );
    assert_eq!(
        finished.failure_comment.as_deref(),
        Some("Traceback: boom\n")
    );
    // Scenario 9: END_OK lost → the END comes again: acknowledged, nothing rewritten.
    let description = lab.job_dir(job).join("description.yaml");
    assert_eq!(
        std::fs::read(&description).unwrap(),
        b"",
        "D5: a crash leaves an empty description.yaml"
    );
    let other = JobEnd::new(job as u64, "", Some(b"late: true\n"));
    socket::send(&worker, MASTER_ID, &Message::End(other)).unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    assert!(master_log_contains(
        &lab,
        &format!("[{job}] END (duplicated), skipping")
    ));
    assert_eq!(std::fs::read(&description).unwrap(), b"");
    // END for a job the master never heard of is acknowledged too.
    socket::send(
        &worker,
        MASTER_ID,
        &Message::End(JobEnd::new(999_999, "", None)),
    )
    .unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: 999_999 }
    });
}

/// The LOG_SYNC extension seen from a scripted worker: an END counting
/// more lines than the master stored is not acknowledged; when it comes
/// again the master asks for the journal, rebuilds the log from it, and
/// acknowledges the END after. A journal nobody asked for changes nothing.
#[test]
fn end_with_more_lines_than_stored_brings_the_journal() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    let (_ctx, worker) = scripted_worker(&lab);
    let job = running_job(&lab, &worker);
    let lines = [
        r#"{"dt": "2026-11-26T05:00:00.000001", "lvl": "info", "msg": "start: 0 validate"}"#,
        r#"{"dt": "2026-11-26T05:00:00.000002", "lvl": "target", "msg": "line 0"}"#,
        r#"{"dt": "2026-11-26T05:00:00.000003", "lvl": "results", "msg": {"case": "job", "definition": "lava", "result": "pass"}}"#,
    ];
    let journal_xz = lava_proto::xz::compress_fast((lines.join("\n") + "\n").as_bytes());
    // unasked: ignored
    socket::send(
        &worker,
        MASTER_ID,
        &Message::LogSyncData {
            job_id: job as u64,
            journal_xz: journal_xz.clone(),
        },
    )
    .unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "not asked for: ignored")
    });
    assert!(!lab.job_dir(job).join("output.yaml").exists());
    let end = Message::End(JobEnd::new(job as u64, "", Some(b"job: {}\n")).with_log_lines(3));
    socket::send(&worker, MASTER_ID, &end).unwrap();
    silence(&worker, Duration::from_millis(300));
    socket::send(&worker, MASTER_ID, &end).unwrap();
    expect(&worker, "LOG_SYNC", |m| {
        *m == Message::LogSync { job_id: job as u64 }
    });
    socket::send(
        &worker,
        MASTER_ID,
        &Message::LogSyncData {
            job_id: job as u64,
            journal_xz,
        },
    )
    .unwrap();
    socket::send(&worker, MASTER_ID, &end).unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    assert_eq!(log_lines(&lab.job_dir(job)), lines);
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        (finished.state, finished.health),
        (JobState::Finished, JobHealth::Complete)
    );
    // once accepted, an END never reopens the log, whatever it counts
    let inflated = Message::End(JobEnd::new(job as u64, "", Some(b"job: {}\n")).with_log_lines(99));
    socket::send(&worker, MASTER_ID, &inflated).unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    assert_eq!(log_lines(&lab.job_dir(job)), lines);
}

/// A journal the master cannot use does not hold the job: the next END is
/// acknowledged with the log as stored, and the job still ends.
#[test]
fn an_unusable_journal_leaves_the_log_as_stored() {
    let Some(mut lab) = Lab::new(false) else {
        return;
    };
    lab.start_master();
    let (_ctx, worker) = scripted_worker(&lab);
    let job = running_job(&lab, &worker);
    let end = Message::End(JobEnd::new(job as u64, "", Some(b"job: {}\n")).with_log_lines(3));
    socket::send(&worker, MASTER_ID, &end).unwrap();
    silence(&worker, Duration::from_millis(300));
    socket::send(&worker, MASTER_ID, &end).unwrap();
    expect(&worker, "LOG_SYNC", |m| {
        *m == Message::LogSync { job_id: job as u64 }
    });
    socket::send(
        &worker,
        MASTER_ID,
        &Message::LogSyncData {
            job_id: job as u64,
            journal_xz: b"not xz".to_vec(),
        },
    )
    .unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, "journal from worker1 not applied")
    });
    socket::send(&worker, MASTER_ID, &end).unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    // no final result ever came: Incomplete after the grace period
    wait_for("the job to end", DEADLINE, || {
        lab.store.job(job).unwrap().state == JobState::Finished
    });
}

#[test]
fn cancel_of_a_job_the_worker_lost_and_status_after_restart() {
    cancel_of_a_job_the_worker_lost_and_status_after_restart_on(false);
}

#[test]
fn cancel_of_a_job_the_worker_lost_and_status_after_restart_postgres() {
    cancel_of_a_job_the_worker_lost_and_status_after_restart_on(true);
}

fn cancel_of_a_job_the_worker_lost_and_status_after_restart_on(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    lab.start_master();
    let (_ctx, worker) = scripted_worker(&lab);
    // Scenario 13: CANCEL; the worker never heard of the job and answers END.
    let job = running_job(&lab, &worker);
    lab.store.cancel_job(job, "alice").unwrap();
    expect(&worker, "CANCEL", |m| {
        *m == Message::Cancel { job_id: job as u64 }
    });
    socket::send(
        &worker,
        MASTER_ID,
        &Message::End(JobEnd::new(job as u64, "", None)),
    )
    .unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    assert_eq!(lab.store.job(job).unwrap().health, JobHealth::Canceled);
    // Scenario 17 / D3: the worker restarts (HELLO again): STATUS for its running job.
    let job = running_job(&lab, &worker);
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    expect(&worker, "STATUS", |m| {
        *m == Message::Status { job_id: job as u64 }
    });
    assert!(master_log_contains(
        &lab,
        "Dispatcher worker1 has RESTARTED"
    ));
    socket::send(
        &worker,
        MASTER_ID,
        &Message::End(JobEnd::new(job as u64, "", None)),
    )
    .unwrap();
    expect(&worker, "END_OK", |m| {
        *m == Message::EndOk { job_id: job as u64 }
    });
    assert_eq!(lab.store.job(job).unwrap().health, JobHealth::Incomplete);
}

#[test]
fn messages_about_another_workers_jobs_are_ignored() {
    let mut lab = Lab::new(false).unwrap();
    lab.store
        .add_worker(&NewWorker::new("worker2"), "admin")
        .unwrap();
    lab.start_master();
    let (ctx, worker) = scripted_worker(&lab);
    let job = lab.submit("{}");
    expect(&worker, "START", |m| matches!(m, Message::Start(_)));
    // D13: worker2 claims worker1's job.
    let other = socket::worker_control(
        &ctx,
        &lab.control,
        "worker2",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    socket::send(&other, MASTER_ID, &Message::StartOk { job_id: job as u64 }).unwrap();
    socket::send(
        &other,
        MASTER_ID,
        &Message::End(JobEnd::new(job as u64, "", None)),
    )
    .unwrap();
    wait_for("the refusal", DEADLINE, || {
        master_log_contains(&lab, &format!("[{job}] message from worker2 ignored"))
    });
    silence(&other, Duration::from_millis(300));
    assert_eq!(lab.store.job(job).unwrap().state, JobState::Scheduled);
}

/// A scripted master on the lab's control endpoint, greeted by the real
/// slave, with a log sink that swallows lava-run's lines (without one,
/// lava-run waits for ever to deliver them: logs are never dropped).
fn scripted_master(lab: &mut Lab) -> (zmq::Context, zmq::Socket, zmq::Socket) {
    let ctx = zmq::Context::new();
    let master = socket::master_control(&ctx, &lab.control, &Security::Null, false).unwrap();
    let logs = socket::log_sink(&ctx, &lab.logs, &Security::Null, false).unwrap();
    lab.start_slave();
    assert!(master.poll(zmq::POLLIN, 10_000).unwrap() > 0, "no HELLO");
    let hello = socket::recv(&master).unwrap();
    assert_eq!(hello.message().unwrap(), Message::Hello { version: 3 });
    socket::send(&master, b"worker1", &Message::HelloOk).unwrap();
    (ctx, master, logs)
}

fn start_message(lab: &Lab, id: u64, fixture: &str) -> Message {
    let template = std::fs::read_to_string(lab.path("device-types/fixture.jinja2")).unwrap();
    Message::Start(Box::new(StartJob {
        job_id: id,
        definition: format!("job_name: scripted\nfixture: {fixture}\n"),
        device: template,
        ..Default::default()
    }))
}

#[test]
fn slave_answers_duplicates_and_resends_end_until_acknowledged() {
    let mut lab = Lab::new(false).unwrap();
    let (_ctx, master, _logs) = scripted_master(&mut lab);
    let (end_ok, end, start_ok) = (
        Message::EndOk { job_id: 7 },
        |m: &Message| matches!(m, Message::End(e) if e.job_id == 7),
        Message::StartOk { job_id: 7 },
    );
    // Scenario 7: a duplicate START for a running job: START_OK, one lava-run.
    socket::send(&master, b"worker1", &start_message(&lab, 7, "{hold: true}")).unwrap();
    expect(&master, "START_OK", |m| *m == start_ok);
    socket::send(&master, b"worker1", &start_message(&lab, 7, "{hold: true}")).unwrap();
    expect(&master, "START_OK again", |m| *m == start_ok);
    assert_eq!(lava_runs(&lab, 7).len(), 1, "exactly one lava-run");
    // STATUS of a running job: START_OK.
    socket::send(&master, b"worker1", &Message::Status { job_id: 7 }).unwrap();
    expect(&master, "START_OK for STATUS", |m| *m == start_ok);
    lab.release(7);
    let first = expect(&master, "END", end);
    let Message::End(first) = first else {
        unreachable!()
    };
    assert_eq!(first.description().unwrap().unwrap(), b"job:\n  id: 7\n");
    // START for a finished, unacknowledged job: END. Without END_OK the END comes back by itself.
    socket::send(&master, b"worker1", &start_message(&lab, 7, "{}")).unwrap();
    expect(&master, "END for START", end);
    expect(&master, "END resent", end);
    let job_dir = lab.slave_job_dir(7);
    assert!(job_dir.exists());
    socket::send(&master, b"worker1", &end_ok).unwrap();
    wait_for("the cleanup", DEADLINE, || !job_dir.exists());
    // D4: the job never runs twice, even if START comes after END_OK.
    socket::send(&master, b"worker1", &start_message(&lab, 7, "{}")).unwrap();
    let tomb = expect(&master, "END for an acknowledged job", end);
    let Message::End(tomb) = tomb else {
        unreachable!()
    };
    assert!(tomb.is_crash());
    assert!(lava_runs(&lab, 7).is_empty());
    // Scenario 13 on the worker side: CANCEL of a job it never saw → END.
    socket::send(&master, b"worker1", &Message::Cancel { job_id: 8 }).unwrap();
    expect(
        &master,
        "END for an unknown job",
        |m| matches!(m, Message::End(e) if e.job_id == 8 && e.is_crash()),
    );
}

#[test]
fn spawn_failure_is_reported_as_incomplete() {
    let mut lab = Lab::new(false).unwrap();
    lab.lava_run = Some(Path::new("/nonexistent/lava-run").to_path_buf());
    lab.start_master();
    lab.start_slave();
    // Scenario 11.
    let job = lab.submit("{}");
    lab.wait_state(job, JobState::Finished);
    let job = lab.store.job(job).unwrap();
    assert_eq!(job.health, JobHealth::Incomplete, "{}", lab.logs_of());
    assert!(job
        .failure_comment
        .unwrap_or_default()
        .contains("could not start lava-run"));
}

#[test]
fn cancel_escalates_to_sigkill() {
    let mut lab = Lab::new(false).unwrap();
    lab.slave_args = vec!["--cancel-grace".into(), "1".into()];
    lab.start_master();
    lab.start_slave();
    // Scenario 12 with a 1 s grace instead of 60 s: SIGTERM, SIGTERM, SIGKILL.
    let job = lab.submit("{hold: true, ignore_sigterm: true}");
    lab.wait_state(job, JobState::Running);
    // Running means the worker started lava-run, not that it has set up its
    // signal handling yet: its first log line comes after that.
    wait_for("the job's first log line", DEADLINE, || {
        !log_lines_so_far(&lab.job_dir(job)).is_empty()
    });
    lab.store.cancel_job(job, "alice").unwrap();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Canceled,
        "{}",
        lab.logs_of()
    );
    let slave_log = std::fs::read_to_string(lab.path("slave.log")).unwrap();
    assert!(
        slave_log.contains("after CANCEL: SIGTERM again"),
        "{slave_log}"
    );
    assert!(slave_log.contains("after CANCEL: SIGKILL"), "{slave_log}");
    assert!(lava_runs(&lab, job).is_empty());
}

#[test]
fn offline_worker_gets_its_cancel_when_it_returns() {
    let mut lab = Lab::new(false).unwrap();
    lab.master_args = vec!["--worker-timeout".into(), "1".into()];
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    // Scenario 4: silence → Offline; the job is untouched.
    lab.slave.take();
    wait_for("the worker offline", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == WorkerState::Offline
    });
    assert_eq!(lab.store.job(job).unwrap().state, JobState::Running);
    // Scenario 14: no CANCEL while it is away; sent when it is back.
    lab.store.cancel_job(job, "alice").unwrap();
    assert_eq!(
        lava_runs(&lab, job).len(),
        1,
        "lava-run survives the worker daemon"
    );
    lab.start_slave();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Canceled,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn reinstalled_worker_reports_its_lost_job() {
    let mut lab = Lab::new(false).unwrap();
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    // Scenario 17: lava-run killed and the worker's database wiped.
    lab.slave.take();
    for pid in lava_runs(&lab, job) {
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    }
    wait_for("lava-run gone", DEADLINE, || {
        lava_runs(&lab, job).is_empty()
    });
    std::fs::remove_dir_all(lab.path("slave")).unwrap();
    lab.start_slave();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Incomplete,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn slave_checks_pong_and_start_frames() {
    let mut lab = Lab::new(false).unwrap();
    let (_ctx, master, _logs) = scripted_master(&mut lab);
    // Scenario 3: the first PING comes about 5 s after HELLO_OK; PONG 3 is refused.
    expect(&master, "PING", |m| *m == Message::Ping);
    socket::send(&master, b"worker1", &Message::Pong { interval: 3 }).unwrap();
    wait_for("the refusal", DEADLINE, || {
        std::fs::read_to_string(lab.path("slave.log"))
            .unwrap_or_default()
            .contains("invalid ping interval (3)")
    });
    // Scenario 6: a START with 6 frames is ignored (no START_OK).
    master.send("worker1", zmq::SNDMORE).unwrap();
    master
        .send_multipart(["START", "9", "job", "device", "", ""], 0)
        .unwrap();
    wait_for("the refusal", DEADLINE, || {
        std::fs::read_to_string(lab.path("slave.log"))
            .unwrap_or_default()
            .contains("Invalid message from the master: START needs exactly 7 frames, got 6")
    });
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        if let Some(message) = next(&master, left) {
            assert!(
                !matches!(message, Message::StartOk { .. }),
                "START_OK for a malformed START"
            );
        }
    }
}

#[test]
fn log_sink_drops_bad_frames_and_stores_results() {
    let mut lab = Lab::new(false).unwrap();
    lab.start_master();
    let (ctx, worker) = scripted_worker(&lab);
    let job = running_job(&lab, &worker);
    let push = socket::log_source(&ctx, &lab.logs, &Security::Null, &Default::default()).unwrap();
    let id = job.to_string();
    // Scenario 6: log messages with 1 or 3 frames are dropped.
    push.send_multipart([id.as_str()], 0).unwrap();
    push.send_multipart([id.as_str(), "{}", "extra"], 0)
        .unwrap();
    // Scenario 19/20: results, as lava-run sends them.
    let lines = [
        r#"{"dt": "2020-01-15T10:20:01", "lvl": "results", "msg": {"case": "boot", "definition": "0_smoke", "measurement": !!python/object/apply:decimal.Decimal ["12.5"], "result": "pass", "units": "s"}}"#,
        r#"{"dt": "2020-01-15T10:20:02", "lvl": "results", "msg": {"case": "odd", "definition": "0_smoke", "result": "maybe"}}"#,
        r#"{"dt": "2020-01-15T10:20:03", "lvl": "results", "msg": {"case": "http-download", "definition": "lava", "duration": "3.14", "extra": {"size": ! "1024"}, "level": "1.1.1", "namespace": "common", "result": "pass"}}"#,
        r#"{"dt": "2020-01-15T10:20:04", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "tftp server down", "error_type": "Infrastructure", "result": "fail"}}"#,
    ];
    for line in lines {
        socket::send_log(
            &push,
            &lava_proto::log::LogMessage {
                job_id: job as u64,
                line: line.to_string(),
            },
        )
        .unwrap();
    }
    lab.wait_state(job, JobState::Finished);
    assert!(master_log_contains(&lab, "dropping a malformed log message: log message needs exactly 2 frames (job id, line), got 1"));
    assert!(master_log_contains(&lab, "got 3"));
    let finished = lab.store.job(job).unwrap();
    assert_eq!(finished.health, JobHealth::Incomplete);
    assert!(finished.infrastructure_error);
    assert_eq!(
        lab.store.device("fixture-01").unwrap().health,
        lava_scheduler::model::DeviceHealth::Unknown,
        "an infrastructure error sends the device to a health check"
    );
    let cases = lab.store.test_cases(job).unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["boot", "http-download", "job"],
        "the `maybe` result is not stored"
    );
    assert_eq!(
        (cases[0].measurement.as_deref(), cases[0].units.as_str()),
        (Some("12.5"), "s")
    );
    assert_eq!(
        (cases[1].measurement.as_deref(), cases[1].units.as_str()),
        (Some("3.14"), "seconds")
    );
    let metadata = lab
        .job_dir(job)
        .join("metadata/lava-http-download-1.1.1.yaml");
    assert_eq!(
        std::fs::read_to_string(&metadata).unwrap(),
        "{\"size\": ! \"1024\"}\n"
    );
    assert!(cases[1]
        .metadata
        .as_deref()
        .unwrap()
        .contains("metadata/lava-http-download-1.1.1.yaml"));
    let stored = log_lines(&lab.job_dir(job));
    assert_eq!(
        stored,
        lines.map(str::to_string),
        "lines are stored exactly as sent"
    );
}
