//! One store test suite, run against both backends: SQLite in a temporary
//! directory (always) and PostgreSQL at `LAVA_TEST_DATABASE_URL` (each test
//! in its own schema, dropped afterwards).

use std::sync::{Arc, Barrier};

mod common;

use common::Fixture;
use lava_scheduler::db::{Database, SqlValue};
use lava_scheduler::model::*;
use lava_scheduler::store::*;
use lava_scheduler::StoreError;

both_backends!(
    workers_are_added_listed_and_refused_twice,
    devices_need_a_known_type_and_worker,
    worker_health_cascades_to_devices_and_is_logged,
    job_lifecycle_moves_device_states,
    job_transitions_allowed_and_refused,
    cancel_paths,
    health_check_results_set_device_health,
    infrastructure_errors_only_touch_good_devices,
    multinode_cancel_and_essential_roles,
    cancel_racing_the_scheduler_loses_no_update,
    migrations_are_idempotent_and_newer_schemas_refused,
    device_types_aliases_and_tags,
    test_cases_are_stored_by_suite_and_set,
    web_sessions_expire_end_and_follow_the_user,
);

fn setup(store: &SqlStore) {
    store
        .add_worker(&NewWorker::new("worker1"), "admin")
        .unwrap();
    store.add_device_type(&NewDeviceType::new("qemu")).unwrap();
    for n in 1..=2 {
        store
            .add_device(
                &NewDevice::new(format!("qemu-0{n}"), "qemu", "worker1"),
                "admin",
            )
            .unwrap();
    }
}

fn new_job(device_type: &str) -> NewJob {
    NewJob {
        submitter: "alice".into(),
        description: "smoke".into(),
        definition: "job_name: smoke\n".into(),
        original_definition: "job_name: smoke\n".into(),
        requested_device_type: Some(device_type.into()),
        priority: 50,
        ..Default::default()
    }
}

fn workers_are_added_listed_and_refused_twice(f: &Fixture) {
    let s = &f.store;
    let worker = s
        .add_worker(
            &NewWorker {
                hostname: "w1".into(),
                description: "rack 3".into(),
                health: WorkerHealth::Maintenance,
            },
            "admin",
        )
        .unwrap();
    assert_eq!(
        (worker.state, worker.health, worker.description.as_str()),
        (WorkerState::Offline, WorkerHealth::Maintenance, "rack 3")
    );
    assert_eq!(
        s.add_worker(&NewWorker::new("w1"), "admin").unwrap_err(),
        StoreError::Exists {
            kind: "worker",
            name: "w1".into()
        }
    );
    assert!(matches!(
        s.add_worker(&NewWorker::new("lava-logs"), "admin"),
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        s.worker("nope").unwrap_err().to_string(),
        "worker 'nope' does not exist"
    );

    s.add_worker(
        &NewWorker {
            health: WorkerHealth::Retired,
            ..NewWorker::new("old")
        },
        "admin",
    )
    .unwrap();
    let names = |all| {
        s.workers(all)
            .unwrap()
            .into_iter()
            .map(|w| w.hostname)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(false), ["w1"]);
    assert_eq!(names(true), ["old", "w1"]);

    assert!(s.set_worker_state("w1", WorkerState::Online).unwrap());
    assert!(!s.set_worker_state("w1", WorkerState::Online).unwrap());
    let w1 = s.worker("w1").unwrap();
    assert_eq!(w1.state, WorkerState::Online);
    assert!(w1.last_ping.is_some());
    assert_eq!(s.mark_all_workers_offline().unwrap(), 1);
    assert_eq!(s.worker("w1").unwrap().state, WorkerState::Offline);
    s.set_worker_description("w1", "rack 4").unwrap();
    assert_eq!(s.worker("w1").unwrap().description, "rack 4");
}

fn devices_need_a_known_type_and_worker(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let err = s
        .add_device(&NewDevice::new("x", "nosuchtype", "worker1"), "admin")
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            kind: "device type",
            name: "nosuchtype".into()
        }
    );
    let err = s
        .add_device(&NewDevice::new("x", "qemu", "nosuchworker"), "admin")
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::NotFound {
            kind: "worker",
            name: "nosuchworker".into()
        }
    );
    assert!(matches!(
        s.add_device(&NewDevice::new("qemu-01", "qemu", "worker1"), "admin"),
        Err(StoreError::Exists { .. })
    ));

    let mut tagged = NewDevice::new("qemu-03", "qemu", "worker1");
    tagged.tags = vec!["usb".into(), "big".into()];
    tagged.dictionary = Some("{% extends 'qemu.jinja2' %}\n".into());
    let device = s.add_device(&tagged, "admin").unwrap();
    assert_eq!(device.tags, ["big", "usb"]);
    assert_eq!(
        (device.state, device.health),
        (DeviceState::Idle, DeviceHealth::Good)
    );
    assert_eq!(
        device.dictionary.as_deref(),
        Some("{% extends 'qemu.jinja2' %}\n")
    );
    assert_eq!(
        s.tags().unwrap().len(),
        2,
        "tags given to devices add are created"
    );

    s.set_dictionary("qemu-03", None).unwrap();
    assert_eq!(s.device("qemu-03").unwrap().dictionary, None);
    let filter = DeviceFilter {
        worker: Some("worker1".into()),
        ..Default::default()
    };
    assert_eq!(s.devices(&filter).unwrap().len(), 3);
}

fn worker_health_cascades_to_devices_and_is_logged(f: &Fixture) {
    let s = &f.store;
    setup(s);
    s.add_device(&NewDevice::new("qemu-bad", "qemu", "worker1"), "admin")
        .unwrap();
    s.set_device_health("qemu-bad", DeviceHealth::Bad, "admin", "broken serial")
        .unwrap();

    let changes = s
        .set_worker_health("worker1", WorkerHealth::Maintenance, "admin", "rack move")
        .unwrap();
    assert_eq!(changes.len(), 2);
    let health = |h: &str| s.device(h).unwrap().health;
    assert_eq!(
        (health("qemu-01"), health("qemu-02"), health("qemu-bad")),
        (
            DeviceHealth::Maintenance,
            DeviceHealth::Maintenance,
            DeviceHealth::Bad
        )
    );

    s.set_worker_health("worker1", WorkerHealth::Active, "admin", "back")
        .unwrap();
    assert_eq!(
        health("qemu-01"),
        DeviceHealth::Unknown,
        "back to Active means a health check is due"
    );
    assert_eq!(health("qemu-bad"), DeviceHealth::Bad);

    s.set_worker_health("worker1", WorkerHealth::Retired, "admin", "end of life")
        .unwrap();
    assert_eq!(
        (health("qemu-01"), health("qemu-bad")),
        (DeviceHealth::Retired, DeviceHealth::Bad)
    );
    s.set_worker_health("worker1", WorkerHealth::Active, "admin", "oops")
        .unwrap();
    assert_eq!(
        health("qemu-01"),
        DeviceHealth::Retired,
        "leaving Retired does not cascade"
    );

    let log = s.transitions("device", "qemu-01").unwrap();
    let steps: Vec<_> = log
        .iter()
        .map(|t| (t.old.as_str(), t.new.as_str(), t.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("", "Good", "admin"),
            ("Good", "Maintenance", "admin"),
            ("Maintenance", "Unknown", "admin"),
            ("Unknown", "Retired", "admin")
        ]
    );
    assert!(log[1].reason.contains("rack move"));
    // A device added to a worker in Maintenance starts in Maintenance.
    s.add_worker(
        &NewWorker {
            health: WorkerHealth::Maintenance,
            ..NewWorker::new("worker2")
        },
        "admin",
    )
    .unwrap();
    let late = s
        .add_device(&NewDevice::new("qemu-late", "qemu", "worker2"), "admin")
        .unwrap();
    assert_eq!(late.health, DeviceHealth::Maintenance);
    let worker_log = s.transitions("worker", "worker1").unwrap();
    assert_eq!(worker_log.last().unwrap().new, "Active");
}

fn job_lifecycle_moves_device_states(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let id = s.insert_job(&new_job("qemu")).unwrap();
    let job = s.job(id).unwrap();
    assert_eq!(
        (job.state, job.health, job.actual_device.clone()),
        (JobState::Submitted, JobHealth::Unknown, None)
    );

    s.assign_job(id, "qemu-01").unwrap();
    let device = s.device("qemu-01").unwrap();
    assert_eq!(
        (device.state, device.current_job),
        (DeviceState::Reserved, Some(id))
    );
    assert_eq!(s.job(id).unwrap().state, JobState::Scheduled);

    assert!(s.job_started(id).unwrap());
    assert!(
        !s.job_started(id).unwrap(),
        "a duplicate START_OK changes nothing"
    );
    assert_eq!(s.device("qemu-01").unwrap().state, DeviceState::Running);
    assert!(s.job(id).unwrap().start_time.is_some());

    let job = s
        .finish_job(id, JobHealth::Complete, false, None, "lava-logs")
        .unwrap();
    assert_eq!(
        (job.state, job.health),
        (JobState::Finished, JobHealth::Complete)
    );
    assert!(job.end_time.is_some());
    let device = s.device("qemu-01").unwrap();
    assert_eq!(
        (device.state, device.current_job, device.health),
        (DeviceState::Idle, None, DeviceHealth::Good)
    );

    let err = s
        .insert_job(&NewJob {
            priority: 101,
            ..new_job("qemu")
        })
        .unwrap_err();
    assert!(err.to_string().contains("priority"));
    assert!(matches!(
        s.insert_job(&new_job("nosuchtype")),
        Err(StoreError::NotFound {
            kind: "device type",
            ..
        })
    ));
    let queued = s
        .jobs(&JobFilter {
            states: vec![JobState::Finished],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(queued.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
}

/// Bring a new job to `state` through the store's own transitions.
fn job_in_state(s: &SqlStore, state: JobState, device: &str) -> i64 {
    let id = s.insert_job(&new_job("qemu")).unwrap();
    if state == JobState::Submitted {
        return id;
    }
    if state == JobState::Finished {
        s.cancel_job(id, "admin").unwrap();
        return id;
    }
    s.assign_job(id, device).unwrap();
    if state >= JobState::Running {
        s.job_started(id).unwrap();
    }
    if state == JobState::Canceling {
        s.cancel_job(id, "admin").unwrap();
    }
    id
}

fn job_transitions_allowed_and_refused(f: &Fixture) {
    let s = &f.store;
    setup(s);
    use JobState::*;
    let reset = |device: &str| {
        // Free the device for the next case whatever happened.
        if let Some(job) = s.device(device).unwrap().current_job {
            let _ = s.finish_job(job, JobHealth::Incomplete, false, None, "test");
        }
    };
    for from in [Submitted, Scheduled, Running, Canceling, Finished] {
        // assign: only from Submitted.
        let id = job_in_state(s, from, "qemu-01");
        let result = s.assign_job(id, "qemu-02");
        assert_eq!(
            result.is_ok(),
            from == Submitted,
            "assign from {from}: {result:?}"
        );
        if from != Submitted {
            assert!(
                matches!(result, Err(StoreError::InvalidTransition { .. })),
                "{result:?}"
            );
        }
        reset("qemu-01");
        reset("qemu-02");

        // START_OK: Scheduled → Running; duplicates beyond are ignored; before Scheduled refused.
        let id = job_in_state(s, from, "qemu-01");
        let result = s.job_started(id);
        match from {
            Submitted => assert!(matches!(result, Err(StoreError::InvalidTransition { .. }))),
            Scheduled => assert!(result.unwrap()),
            _ => assert!(!result.unwrap()),
        }
        reset("qemu-01");

        // finish: from anything but Finished.
        let id = job_in_state(s, from, "qemu-01");
        let result = s.finish_job(id, JobHealth::Incomplete, false, None, "test");
        assert_eq!(result.is_ok(), from != Finished, "finish from {from}");
        if let Ok(job) = result {
            let expected = if from == Canceling {
                JobHealth::Canceled
            } else {
                JobHealth::Incomplete
            };
            assert_eq!(job.health, expected);
        }
        reset("qemu-01");
    }
    // Finishing with health Unknown is refused.
    let id = s.insert_job(&new_job("qemu")).unwrap();
    assert!(matches!(
        s.finish_job(id, JobHealth::Unknown, false, None, "t"),
        Err(StoreError::Refused(_))
    ));
    // A device that is not Idle cannot be reserved; Bad devices take no jobs.
    let a = job_in_state(s, Scheduled, "qemu-01");
    let b = s.insert_job(&new_job("qemu")).unwrap();
    assert!(matches!(
        s.assign_job(b, "qemu-01"),
        Err(StoreError::InvalidTransition { .. })
    ));
    s.set_device_health("qemu-02", DeviceHealth::Bad, "admin", "test")
        .unwrap();
    assert!(matches!(
        s.assign_job(b, "qemu-02"),
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        s.job(b).unwrap().state,
        Submitted,
        "a refused assignment leaves the job queued"
    );
    assert_eq!(s.job(a).unwrap().state, Scheduled);
}

fn cancel_paths(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let queued = s.insert_job(&new_job("qemu")).unwrap();
    assert_eq!(
        s.cancel_job(queued, "alice").unwrap(),
        CancelOutcome::Canceled
    );
    let job = s.job(queued).unwrap();
    assert_eq!(
        (job.state, job.health),
        (JobState::Finished, JobHealth::Canceled)
    );
    assert_eq!(
        s.cancel_job(queued, "alice").unwrap(),
        CancelOutcome::AlreadyEnding(JobState::Finished)
    );

    let running = job_in_state(s, JobState::Running, "qemu-01");
    assert_eq!(
        s.cancel_job(running, "alice").unwrap(),
        CancelOutcome::Canceling(vec![running])
    );
    assert_eq!(
        s.device("qemu-01").unwrap().state,
        DeviceState::Running,
        "Canceling leaves the device busy"
    );
    assert_eq!(
        s.cancel_job(running, "alice").unwrap(),
        CancelOutcome::AlreadyEnding(JobState::Canceling)
    );
    let job = s
        .finish_job(running, JobHealth::Complete, false, None, "lava-logs")
        .unwrap();
    assert_eq!(job.health, JobHealth::Canceled);
    assert_eq!(s.device("qemu-01").unwrap().state, DeviceState::Idle);
    assert!(matches!(
        s.cancel_job(999_999, "alice"),
        Err(StoreError::NotFound { kind: "job", .. })
    ));
}

fn health_check_results_set_device_health(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let check = |device: &str, result: JobHealth| {
        let id = s
            .insert_job(&NewJob {
                health_check: true,
                ..new_job("qemu")
            })
            .unwrap();
        s.assign_job(id, device).unwrap();
        s.job_started(id).unwrap();
        s.finish_job(id, result, false, None, "lava-logs").unwrap();
        id
    };
    s.set_device_health("qemu-01", DeviceHealth::Unknown, "admin", "new board")
        .unwrap();
    let id = check("qemu-01", JobHealth::Complete);
    let device = s.device("qemu-01").unwrap();
    assert_eq!(
        (device.health, device.last_health_report_job),
        (DeviceHealth::Good, Some(id))
    );
    check("qemu-01", JobHealth::Incomplete);
    assert_eq!(s.device("qemu-01").unwrap().health, DeviceHealth::Bad);
    let log = s.transitions("device", "qemu-01").unwrap();
    assert_eq!(log.last().unwrap().actor, "lava-health");
    assert!(log.last().unwrap().reason.contains("failed"));

    s.set_device_health("qemu-02", DeviceHealth::Looping, "admin", "burn-in")
        .unwrap();
    check("qemu-02", JobHealth::Incomplete);
    assert_eq!(
        s.device("qemu-02").unwrap().health,
        DeviceHealth::Looping,
        "Looping stays Looping"
    );
}

fn infrastructure_errors_only_touch_good_devices(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let run = |device: &str| {
        let id = job_in_state(s, JobState::Running, device);
        s.finish_job(
            id,
            JobHealth::Incomplete,
            true,
            Some("tftp server down"),
            "lava-logs",
        )
        .unwrap()
    };
    let job = run("qemu-01");
    assert!(job.infrastructure_error);
    assert_eq!(job.failure_comment.as_deref(), Some("tftp server down"));
    assert_eq!(s.device("qemu-01").unwrap().health, DeviceHealth::Unknown);

    // An admin takes a device out while its job runs: it stays out.
    let id = job_in_state(s, JobState::Running, "qemu-02");
    s.set_device_health(
        "qemu-02",
        DeviceHealth::Maintenance,
        "admin",
        "swap SD card",
    )
    .unwrap();
    s.finish_job(id, JobHealth::Incomplete, true, None, "lava-logs")
        .unwrap();
    assert_eq!(
        s.device("qemu-02").unwrap().health,
        DeviceHealth::Maintenance
    );
}

fn multinode_cancel_and_essential_roles(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let sub = |n: usize, essential: bool| NewJob {
        target_group: Some("group-1".into()),
        sub_id: format!("x.{n}"),
        essential,
        ..new_job("qemu")
    };
    let server = s.insert_job(&sub(0, true)).unwrap();
    let client = s.insert_job(&sub(1, false)).unwrap();
    s.assign_job(server, "qemu-01").unwrap();
    assert_eq!(s.job(server).unwrap().state, JobState::Scheduling);
    assert!(
        s.group_scheduled("group-1").unwrap().is_empty(),
        "not every sub-job holds a device yet"
    );
    s.assign_job(client, "qemu-02").unwrap();
    assert_eq!(s.group_scheduled("group-1").unwrap(), [server, client]);
    for id in [server, client] {
        s.job_started(id).unwrap();
    }
    // The essential role fails: the rest of the group is canceled.
    s.finish_job(server, JobHealth::Incomplete, false, None, "lava-logs")
        .unwrap();
    assert_eq!(s.job(client).unwrap().state, JobState::Canceling);

    // Canceling any sub-job cancels the whole group.
    let a = s
        .insert_job(&NewJob {
            target_group: Some("group-2".into()),
            ..new_job("qemu")
        })
        .unwrap();
    let b = s
        .insert_job(&NewJob {
            target_group: Some("group-2".into()),
            ..new_job("qemu")
        })
        .unwrap();
    s.cancel_job(b, "alice").unwrap();
    for id in [a, b] {
        assert_eq!(s.job(id).unwrap().health, JobHealth::Canceled);
    }
}

fn cancel_racing_the_scheduler_loses_no_update(f: &Fixture) {
    let s = &f.store;
    setup(s);
    for round in 0..20 {
        let id = s.insert_job(&new_job("qemu")).unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let (store_a, store_b) = (s.clone(), s.clone());
        let (barrier_a, barrier_b) = (barrier.clone(), barrier.clone());
        let scheduler = std::thread::spawn(move || {
            barrier_a.wait();
            store_a.assign_job(id, "qemu-01")
        });
        let canceler = std::thread::spawn(move || {
            barrier_b.wait();
            store_b.cancel_job(id, "alice")
        });
        let assigned = scheduler.join().unwrap();
        let canceled = canceler.join().unwrap().unwrap();
        let job = s.job(id).unwrap();
        let device = s.device("qemu-01").unwrap();
        match (&assigned, &canceled) {
            // The cancel came first: the job is over and never got the device.
            (Err(_), CancelOutcome::Canceled) => {
                assert_eq!(
                    (job.state, job.health),
                    (JobState::Finished, JobHealth::Canceled),
                    "round {round}"
                );
                assert_eq!(device.state, DeviceState::Idle);
            }
            // The scheduler came first: the cancel must not be lost.
            (Ok(()), CancelOutcome::Canceling(ids)) => {
                assert_eq!(ids, &vec![id]);
                assert_eq!(job.state, JobState::Canceling, "round {round}");
                assert_eq!(
                    (device.state, device.current_job),
                    (DeviceState::Reserved, Some(id))
                );
                s.finish_job(id, JobHealth::Canceled, false, None, "test")
                    .unwrap();
            }
            other => panic!("round {round}: impossible outcome {other:?}; job {job:?}"),
        }
        assert_eq!(s.device("qemu-01").unwrap().state, DeviceState::Idle);
    }
}

fn migrations_are_idempotent_and_newer_schemas_refused(f: &Fixture) {
    setup(&f.store);
    // Reopening applies nothing and keeps the data.
    let again = SqlStore::open(&f.url).unwrap();
    assert_eq!(again.devices(&DeviceFilter::default()).unwrap().len(), 2);
    // A schema from the future is refused.
    let db = Database::open(&f.url).unwrap();
    db.transaction(|conn| {
        conn.execute("UPDATE lava_schema SET version = $1", &[SqlValue::Int(999)])
    })
    .unwrap();
    match SqlStore::open(&f.url) {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

fn device_types_aliases_and_tags(f: &Fixture) {
    let s = &f.store;
    setup(s);
    s.add_alias("qemu", "qemu-x86").unwrap();
    assert_eq!(s.resolve_device_type("qemu-x86").unwrap().name, "qemu");
    assert_eq!(s.resolve_device_type("qemu").unwrap().aliases, ["qemu-x86"]);
    assert!(matches!(
        s.add_alias("qemu", "qemu"),
        Err(StoreError::Exists {
            kind: "device type",
            ..
        })
    ));
    assert!(matches!(
        s.add_device_type(&NewDeviceType::new("qemu-x86")),
        Err(StoreError::Exists { kind: "alias", .. })
    ));

    let update = DeviceTypeUpdate {
        health_frequency: Some(10),
        health_denominator: Some(HealthDenominator::Jobs),
        health_check_disabled: Some(true),
        ..Default::default()
    };
    let t = s.update_device_type("qemu", &update).unwrap();
    assert_eq!(
        (
            t.health_frequency,
            t.health_denominator,
            t.health_check_disabled
        ),
        (10, HealthDenominator::Jobs, true)
    );
    s.set_health_check("qemu", Some("job_name: health\n"))
        .unwrap();
    assert_eq!(
        s.device_type("qemu").unwrap().health_check.as_deref(),
        Some("job_name: health\n")
    );

    s.add_tag("usb", "has USB").unwrap();
    assert!(matches!(
        s.add_tag("usb", ""),
        Err(StoreError::Exists { .. })
    ));
    s.add_device_tags("qemu-01", &["usb".into()]).unwrap();
    assert!(matches!(
        s.add_device_tags("qemu-01", &["nope".into()]),
        Err(StoreError::NotFound { kind: "tag", .. })
    ));
    assert_eq!(s.device("qemu-01").unwrap().tags, ["usb"]);
    assert!(matches!(
        s.remove_device_tags("qemu-02", &["usb".into()]),
        Err(StoreError::Refused(_))
    ));
    s.remove_device_tags("qemu-01", &["usb".into()]).unwrap();
    assert!(s.device("qemu-01").unwrap().tags.is_empty());
    let err = s
        .insert_job(&NewJob {
            tags: vec!["ghost".into()],
            ..new_job("qemu")
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "tag 'ghost' does not exist");
}

fn test_cases_are_stored_by_suite_and_set(f: &Fixture) {
    let s = &f.store;
    setup(s);
    let id = s.insert_job(&new_job("qemu")).unwrap();
    let case = |suite: &str, set: Option<&str>, name: &str, result| NewTestCase {
        suite: suite.into(),
        set: set.map(Into::into),
        name: name.into(),
        result: Some(result),
        ..Default::default()
    };
    s.add_test_case(id, &case("lava", None, "job", TestResultCode::Pass))
        .unwrap();
    s.add_test_case(
        id,
        &NewTestCase {
            measurement: Some("12.5".into()),
            units: "s".into(),
            ..case("0_smoke", Some("boot"), "boot-time", TestResultCode::Pass)
        },
    )
    .unwrap();
    s.add_test_case(
        id,
        &case("0_smoke", Some("boot"), "login", TestResultCode::Fail),
    )
    .unwrap();
    let cases = s.test_cases(id).unwrap();
    let summary: Vec<_> = cases
        .iter()
        .map(|c| {
            (
                c.suite.as_str(),
                c.set.as_deref(),
                c.name.as_str(),
                c.result,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("lava", None, "job", TestResultCode::Pass),
            ("0_smoke", Some("boot"), "boot-time", TestResultCode::Pass),
            ("0_smoke", Some("boot"), "login", TestResultCode::Fail),
        ]
    );
    assert_eq!(cases[1].measurement.as_deref(), Some("12.5"));
    assert!(matches!(
        s.add_test_case(424242, &case("x", None, "y", TestResultCode::Pass)),
        Err(StoreError::NotFound { kind: "job", .. })
    ));
}

fn web_sessions_expire_end_and_follow_the_user(f: &Fixture) {
    use lava_scheduler::accounts::{Accounts, NewUser, UserUpdate};
    let s = &f.store;
    s.add_user(&NewUser::new("alice")).unwrap();
    let later = now_micros() + 60_000_000;
    s.add_session("alice", "digest-1", later).unwrap();
    assert_eq!(
        s.session_user("digest-1").unwrap().map(|u| u.username),
        Some("alice".to_string())
    );
    assert!(s.session_user("digest-2").unwrap().is_none());
    // an unknown user has no session
    assert!(matches!(
        s.add_session("nobody", "digest-3", later),
        Err(StoreError::NotFound { .. })
    ));
    // expired: not a session, and removed when the next one is made
    s.add_session("alice", "old", now_micros() - 1).unwrap();
    assert!(s.session_user("old").unwrap().is_none());
    s.add_session("alice", "digest-4", later).unwrap();
    // an inactive user's sessions do not log anyone in
    s.update_user(
        "alice",
        &UserUpdate {
            is_active: Some(false),
            ..UserUpdate::default()
        },
    )
    .unwrap();
    assert!(s.session_user("digest-1").unwrap().is_none());
    s.update_user(
        "alice",
        &UserUpdate {
            is_active: Some(true),
            ..UserUpdate::default()
        },
    )
    .unwrap();
    // logout ends one session only
    s.remove_session("digest-1").unwrap();
    assert!(s.session_user("digest-1").unwrap().is_none());
    assert!(s.session_user("digest-4").unwrap().is_some());
    s.remove_session("digest-1").unwrap();
}
