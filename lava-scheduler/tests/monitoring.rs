//! Metrics from the store and the events table (docs/metrics.md), on
//! SQLite and PostgreSQL: the grouped queries behind `/metrics`, and the
//! event reader's order through concurrent and rolled-back transactions.

mod common;

use std::sync::mpsc;

use common::Fixture;
use lava_scheduler::events::EventReader;
use lava_scheduler::metrics::{render_from_store, MasterMetrics};
use lava_scheduler::model::*;
use lava_scheduler::store::*;
use lava_scheduler::StoreError;

fn lab(f: &Fixture) {
    f.store.add_worker(&NewWorker::new("w"), "t").unwrap();
    f.store
        .add_device_type(&NewDeviceType::new("qemu"))
        .unwrap();
    f.store
        .add_device(&NewDevice::new("d", "qemu", "w"), "t")
        .unwrap();
}

fn job(f: &Fixture) -> i64 {
    f.store
        .insert_job(&NewJob {
            submitter: "alice".into(),
            requested_device_type: Some("qemu".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap()
}

fn job_histograms_and_gauges_come_from_the_store(f: &Fixture) {
    let empty = render_from_store(&f.store).unwrap();
    assert!(empty.ends_with("# EOF\n"), "{empty}");
    assert!(!empty.contains("lava_start_latency"), "no master row yet");
    lab(f);
    let id = job(f);
    f.store.assign_job(id, "d").unwrap();
    f.store.job_started(id).unwrap();
    f.store
        .finish_job(id, JobHealth::Incomplete, false, None, "t")
        .unwrap();
    job(f); // queued: no wait measured yet
    let mut master = MasterMetrics::default();
    master.log_lines(7);
    assert!(master.persist(&f.store).unwrap());
    assert!(!master.persist(&f.store).unwrap(), "unchanged: not written");
    let text = render_from_store(&f.store).unwrap();
    for line in [
        "lava_queue_wait_seconds_count{device_type=\"qemu\"} 1.0",
        "lava_queue_wait_seconds_bucket{device_type=\"qemu\",le=\"1.0\"} 1.0",
        "lava_queue_wait_seconds_bucket{device_type=\"qemu\",le=\"+Inf\"} 1.0",
        "lava_job_duration_seconds_count{device_type=\"qemu\",health=\"Incomplete\"} 1.0",
        "lava_workers_online 0.0",
        "lava_workers{state=\"Offline\",health=\"Active\"} 1.0",
        "lava_devices{device_type=\"qemu\",health=\"Good\",state=\"Idle\"} 1.0",
        "lava_log_lines_total 7.0",
        "lava_start_latency_seconds_count 0.0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(!text.contains("alice"), "no submitter in the metrics");
}

fn states(events: &[lava_scheduler::events::Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("{}:{}", e.suffix, e.data["state"].as_str().unwrap()))
        .collect()
}

/// A change held in an open transaction while a later one commits: the
/// reader waits for it instead of passing over it; a rolled-back one is
/// passed once its transaction has ended.
fn events_wait_for_transactions_in_progress(f: &Fixture) {
    lab(f);
    let (a, b) = (job(f), job(f));
    let mut reader = EventReader::from_now(&f.store).unwrap();
    for commit in [true, false] {
        let (held_tx, held_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let store = f.store.clone();
        let target = if commit { a } else { b };
        let holder = std::thread::spawn(move || {
            store.database().transaction(|conn| {
                conn.execute(
                    "UPDATE jobs SET state = $1 WHERE id = $2",
                    &[JobState::Canceling.code().into(), target.into()],
                )?;
                held_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                if commit {
                    Ok(())
                } else {
                    Err(StoreError::Refused("rolled back on purpose".into()))
                }
            })
        });
        held_rx.recv().unwrap();
        if f.store.dialect() == lava_scheduler::db::Dialect::Sqlite {
            // one writer at a time: nothing else can commit meanwhile
            go_tx.send(()).unwrap();
            let _ = holder.join().unwrap();
            let events = reader.next(&f.store, 100).unwrap();
            assert_eq!(states(&events).len(), usize::from(commit));
            continue;
        }
        // a later change commits first
        f.store
            .set_worker_health("w", WorkerHealth::Maintenance, "t", "t")
            .unwrap();
        assert!(
            reader.next(&f.store, 100).unwrap().is_empty(),
            "nothing is passed while an earlier event may still come"
        );
        go_tx.send(()).unwrap();
        let outcome = holder.join().unwrap();
        assert_eq!(outcome.is_ok(), commit);
        // passed once the transactions running when the gap was seen have
        // ended (other tests' too: poll)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let events = loop {
            let events = reader.next(&f.store, 100).unwrap();
            if !events.is_empty() {
                break events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the gap was never passed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut expected = Vec::new();
        if commit {
            expected.push(".testjob:Canceling".to_string());
        }
        // the worker's maintenance cascades to its device (written first)
        expected.extend([".device:Idle".to_string(), ".worker:Offline".to_string()]);
        assert_eq!(states(&events), expected);
        f.store
            .set_worker_health("w", WorkerHealth::Active, "t", "t")
            .unwrap();
        let events = reader.next(&f.store, 100).unwrap();
        assert!(!events.is_empty());
    }
}

/// The transaction holding a missing id commits after the reader read
/// the rows and before it listed the transactions in progress: both come
/// from one snapshot, so the reader still waits for that row (it is not
/// passed as rolled back) and returns it next.
fn events_commit_between_rows_and_snapshot(f: &Fixture) {
    lab(f);
    let a = job(f);
    let mut reader = EventReader::from_now(&f.store).unwrap();
    let (held_tx, held_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let store = f.store.clone();
    let holder = std::thread::spawn(move || {
        store.database().transaction(|conn| {
            conn.execute(
                "UPDATE jobs SET state = $1 WHERE id = $2",
                &[JobState::Canceling.code().into(), a.into()],
            )?;
            held_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Ok(())
        })
    });
    held_rx.recv().unwrap();
    if f.store.dialect() == lava_scheduler::db::Dialect::Sqlite {
        // one writer at a time: no gap can be seen
        go_tx.send(()).unwrap();
        holder.join().unwrap().unwrap();
        assert_eq!(
            states(&reader.next(&f.store, 100).unwrap()),
            [".testjob:Canceling"]
        );
        return;
    }
    f.store
        .set_worker_health("w", WorkerHealth::Maintenance, "t", "t")
        .unwrap();
    // the gap is seen while the holder runs
    assert!(reader.next(&f.store, 100).unwrap().is_empty());
    let mut holder = Some(holder);
    let second = reader
        .next_pausing(&f.store, 100, || {
            // commits after the reader's rows, before its list of
            // transactions in progress
            go_tx.send(()).unwrap();
            holder.take().unwrap().join().unwrap().unwrap();
        })
        .unwrap();
    assert!(
        second.is_empty(),
        "the gap was passed over the committed event: {:?}",
        states(&second)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let events = loop {
        let events = reader.next(&f.store, 100).unwrap();
        if !events.is_empty() {
            break events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gap was never passed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(
        states(&events),
        [".testjob:Canceling", ".device:Idle", ".worker:Offline"],
        "the event committed in between is not lost"
    );
}

/// A device's `job` is LAVA's display id: the job's id as a number, or a
/// MultiNode sub-job's sub_id as a string.
fn device_events_show_the_display_id(f: &Fixture) {
    lab(f);
    f.store
        .add_device(&NewDevice::new("d2", "qemu", "w"), "t")
        .unwrap();
    let mut reader = EventReader::from_now(&f.store).unwrap();
    let single = job(f);
    let group = f
        .store
        .insert_group(&[NewJob {
            submitter: "alice".into(),
            requested_device_type: Some("qemu".into()),
            priority: 50,
            target_group: Some("g".into()),
            ..Default::default()
        }])
        .unwrap();
    let (sub, sub_id) = group[0].clone();
    f.store.assign_job(single, "d").unwrap();
    f.store.assign_job(sub, "d2").unwrap();
    let events = reader.next(&f.store, 100).unwrap();
    let reserved = |name: &str| {
        events
            .iter()
            .find(|e| e.suffix == ".device" && e.data["device"] == name)
            .unwrap_or_else(|| panic!("no event of {name}: {:?}", states(&events)))
            .data["job"]
            .clone()
    };
    assert_eq!(reserved("d"), serde_json::json!(single));
    assert_eq!(reserved("d2"), serde_json::json!(sub_id));
    assert!(sub_id.contains('.'), "{sub_id}");
}

/// Every job, device and worker change made through the store is one
/// event, in order, with LAVA's fields.
fn every_change_is_an_event(f: &Fixture) {
    lab(f);
    let mut reader = EventReader::from_now(&f.store).unwrap();
    let id = job(f);
    f.store.assign_job(id, "d").unwrap();
    f.store.job_started(id).unwrap();
    f.store.cancel_job(id, "bob").unwrap();
    f.store
        .finish_job(id, JobHealth::Incomplete, false, None, "lava-master")
        .unwrap();
    f.store
        .set_worker_health("w", WorkerHealth::Maintenance, "admin", "rack")
        .unwrap();
    let events = reader.next(&f.store, 100).unwrap();
    assert_eq!(
        states(&events),
        [
            ".testjob:Submitted",
            ".device:Reserved",
            ".testjob:Scheduled",
            ".testjob:Running",
            ".device:Running",
            ".testjob:Canceling",
            ".testjob:Finished",
            ".device:Idle",
            ".device:Idle",
            ".worker:Offline",
        ]
    );
    let finished = &events[6];
    assert_eq!(finished.data["health"], "Canceled");
    assert_eq!(finished.data["job"], id);
    assert_eq!(finished.data["device"], "d");
    assert!(finished.data["end_time"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));
    assert_eq!(events[8].data["health"], "Maintenance");
    assert_eq!(events[9].data["health"], "Maintenance");
    assert_eq!(events[4].data["job"], id, "a number, as LAVA's display_id");
    // pruning keeps the recent rows
    assert_eq!(
        lava_scheduler::events::prune(&f.store, reader.last()).unwrap(),
        0
    );
}

both_backends!(
    job_histograms_and_gauges_come_from_the_store,
    events_wait_for_transactions_in_progress,
    events_commit_between_rows_and_snapshot,
    device_events_show_the_display_id,
    every_change_is_an_event,
);
