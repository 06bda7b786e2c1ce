//! End-to-end behaviour of the lab with real daemons and the fake-lava-run
//! example as lava-run: health checks, the admin workflow with a live
//! worker, and a chaos run where daemons and lava-run processes are killed
//! at random moments.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use lava_scheduler::model::{DeviceHealth, DeviceState, JobHealth, JobState, WorkerHealth};
use lava_scheduler::store::{DeviceTypeUpdate, NewDevice};

#[test]
fn failed_health_check_makes_the_device_bad_and_jobs_wait() {
    let mut lab = Lab::new(false).unwrap();
    // The health check is a fixture job that fails.
    lab.store
        .set_health_check(
            "fixture",
            Some("job_name: health check\nvisibility: public\nfixture: {result: fail}\n"),
        )
        .unwrap();
    lab.store
        .set_device_health("fixture-01", DeviceHealth::Unknown, "admin", "new board")
        .unwrap();
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{}");
    wait_for("the device to go Bad", DEADLINE, || {
        lab.store.device("fixture-01").unwrap().health == DeviceHealth::Bad
    });
    let log = lab.store.transitions("device", "fixture-01").unwrap();
    assert!(
        log.last().unwrap().reason.contains("health-check"),
        "{log:?}"
    );
    // The user job is not scheduled on a Bad device.
    let device = lab.store.device("fixture-01").unwrap();
    assert_eq!(device.state, DeviceState::Idle);
    assert_eq!(lab.store.job(job).unwrap().state, JobState::Submitted);
    // An admin fixes the board: the user job runs at once (no health check
    // due: the device is Good).
    lab.store
        .update_device_type(
            "fixture",
            &DeviceTypeUpdate {
                health_check_disabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    lab.store
        .set_device_health("fixture-01", DeviceHealth::Good, "admin", "fixed")
        .unwrap();
    lab.wait_state(job, JobState::Finished);
    assert_eq!(
        lab.store.job(job).unwrap().health,
        JobHealth::Complete,
        "{}",
        lab.logs_of()
    );
}

#[test]
fn admin_workflow_with_a_live_worker() {
    let mut lab = Lab::new(false).unwrap();
    // The worker is disabled: its device gets no job.
    lab.store
        .set_worker_health("worker1", WorkerHealth::Maintenance, "admin", "setting up")
        .unwrap();
    lab.start_master();
    lab.start_slave();
    let first = lab.submit("{lines: 2}");
    wait_for("the worker online", DEADLINE, || {
        lab.store.worker("worker1").unwrap().state == lava_scheduler::model::WorkerState::Online
    });
    assert_eq!(lab.store.job(first).unwrap().state, JobState::Submitted);
    assert_eq!(
        lab.store.device("fixture-01").unwrap().health,
        DeviceHealth::Maintenance
    );
    // Enabled: the device needs a health check (Unknown); the type has none,
    // so it takes the job.
    lab.store
        .set_worker_health("worker1", WorkerHealth::Active, "admin", "ready")
        .unwrap();
    lab.wait_state(first, JobState::Finished);
    assert_eq!(lab.store.job(first).unwrap().health, JobHealth::Complete);
    // A long job runs; the worker's devices are taken offline in one action:
    // the running job finishes, no new one starts.
    let running = lab.submit("{hold: true}");
    lab.wait_state(running, JobState::Running);
    let queued = lab.submit("{}");
    lab.store
        .set_worker_health("worker1", WorkerHealth::Maintenance, "admin", "rack move")
        .unwrap();
    lab.store
        .worker_devices_offline("worker1", "admin", "rack move")
        .unwrap();
    lab.release(running);
    lab.wait_state(running, JobState::Finished);
    assert_eq!(lab.store.job(running).unwrap().health, JobHealth::Complete);
    let device = lab.store.device("fixture-01").unwrap();
    assert_eq!(
        (device.state, device.health),
        (DeviceState::Idle, DeviceHealth::Maintenance)
    );
    assert_eq!(lab.store.job(queued).unwrap().state, JobState::Submitted);
}

/// A small deterministic generator, seeded from the clock (printed).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn chaos_kills_leave_no_device_stuck_and_no_line_twice() {
    let mut lab = Lab::new(false).unwrap();
    lab.master_args = vec!["--worker-timeout".into(), "3".into()];
    for n in 2..=3 {
        let mut device = NewDevice::new(format!("fixture-0{n}"), "fixture", "worker1");
        device.dictionary = Some("{% extends 'fixture.jinja2' %}\n".into());
        lab.store.add_device(&device, "admin").unwrap();
    }
    lab.start_master();
    lab.start_slave();
    let jobs: Vec<i64> = (0..20)
        .map(|_| lab.submit("{lines: 40, delay_ms: 25}"))
        .collect();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("chaos seed {seed}");
    let mut rng = Lcg(seed);
    let mut killed_runs: HashSet<i64> = HashSet::new();
    let chaos_until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < chaos_until {
        std::thread::sleep(Duration::from_millis(200 + rng.below(400)));
        match rng.below(3) {
            0 => {
                lab.master.take();
                std::thread::sleep(Duration::from_millis(rng.below(300)));
                lab.start_master();
            }
            1 => {
                lab.slave.take();
                std::thread::sleep(Duration::from_millis(rng.below(300)));
                lab.start_slave();
            }
            _ => {
                let running: Vec<i64> = jobs
                    .iter()
                    .copied()
                    .filter(|j| !lava_runs(&lab, *j).is_empty())
                    .collect();
                if let Some(&job) = running.get(rng.below(running.len().max(1) as u64) as usize) {
                    for pid in lava_runs(&lab, job) {
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                    }
                    killed_runs.insert(job);
                }
            }
        }
    }
    // Whatever happened, every job ends and nothing is left behind.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !jobs
        .iter()
        .all(|j| lab.store.job(*j).unwrap().state == JobState::Finished)
    {
        if Instant::now() > deadline {
            let open: Vec<String> = jobs
                .iter()
                .map(|j| lab.store.job(*j).unwrap())
                .filter(|j| j.state != JobState::Finished)
                .map(|j| format!("{} {:?} on {:?}", j.id, j.state, j.actual_device))
                .collect();
            panic!(
                "timed out waiting for every job to finish: {open:?}\n{}",
                lab.logs_of()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // and to be acknowledged (END_OK), which waits for complete logs
    wait_for("every END_OK", Duration::from_secs(120), || {
        jobs.iter().all(|j| !lab.slave_job_dir(*j).exists())
    });
    for device in ["fixture-01", "fixture-02", "fixture-03"] {
        let d = lab.store.device(device).unwrap();
        assert_eq!(
            (d.state, d.current_job),
            (DeviceState::Idle, None),
            "{device} stuck\n{}",
            lab.logs_of()
        );
    }
    let mut lost = 0;
    for &job in &jobs {
        let j = lab.store.job(job).unwrap();
        if !killed_runs.contains(&job) {
            // Not its lava-run that was killed: it completes, or it says
            // why not (e.g. the worker lost it while being killed).
            assert!(
                j.health == JobHealth::Complete || j.failure_comment.is_some(),
                "job {job} is {} without a reason\n{}",
                j.health,
                lab.logs_of()
            );
        }
        let dir = lab.job_dir(job);
        if dir.join("output.yaml").exists() {
            let lines = log_lines(&dir);
            let unique: HashSet<&String> = lines.iter().collect();
            assert_eq!(
                unique.len(),
                lines.len(),
                "job {job}: a log line was stored twice"
            );
            // In order, and none missing: lines a master killed with SIGKILL
            // had in flight came back from the worker's journal (LOG_SYNC)
            // before END_OK.
            let numbers: Vec<usize> = messages(&lines)
                .iter()
                .filter_map(|m| m.strip_prefix("\"line ")?.strip_suffix('"')?.parse().ok())
                .collect();
            assert!(
                numbers.windows(2).all(|w| w[0] < w[1]),
                "job {job}: device output out of order: {numbers:?}"
            );
            if let Some(&last) = numbers.last() {
                lost += last + 1 - numbers.len();
            }
        }
    }
    let complete = jobs
        .iter()
        .filter(|j| lab.store.job(**j).unwrap().health == JobHealth::Complete)
        .count();
    eprintln!(
        "chaos: {complete}/20 complete, {} lava-run processes killed, {} logs rebuilt from journals, {lost} log lines lost",
        killed_runs.len(),
        lab.logs_of().matches("log rebuilt from the worker's journal").count()
    );
    assert_eq!(lost, 0, "log lines lost\n{}", lab.logs_of());
}
