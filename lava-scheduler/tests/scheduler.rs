//! The scheduling pass on both backends: health checks first, priority then
//! age, tags, worker health and limits, multinode all-or-nothing.

mod common;

use common::Fixture;
use lava_scheduler::model::*;
use lava_scheduler::scheduler::{schedule, AcceptAll, Assignment, DeviceCheck};
use lava_scheduler::store::*;

both_backends!(
    health_checks_go_before_jobs,
    priority_then_age,
    tags_are_respected_and_plain_boards_used_first,
    devices_of_unavailable_workers_get_nothing,
    job_limit_is_respected,
    health_check_due_by_jobs_and_hours,
    invalid_configurations_make_devices_bad,
    multinode_groups_all_or_nothing_without_deadlock,
);

const HEALTH_CHECK: &str = "job_name: qemu health check\npriority: high\nvisibility: public\n";

fn lab(f: &Fixture, devices: &[(&str, &[&str])]) {
    let s = &f.store;
    s.add_worker(&NewWorker::new("worker1"), "admin").unwrap();
    s.set_worker_state("worker1", WorkerState::Online).unwrap();
    s.add_device_type(&NewDeviceType::new("qemu")).unwrap();
    for (name, tags) in devices {
        let mut device = NewDevice::new(*name, "qemu", "worker1");
        device.tags = tags.iter().map(|t| t.to_string()).collect();
        s.add_device(&device, "admin").unwrap();
    }
}

fn submit(s: &SqlStore, priority: i64, tags: &[&str]) -> i64 {
    s.insert_job(&NewJob {
        submitter: "alice".into(),
        definition: "job_name: x\n".into(),
        requested_device_type: Some("qemu".into()),
        priority,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    })
    .unwrap()
}

fn done(s: &SqlStore, job: i64) {
    s.job_started(job).unwrap();
    s.finish_job(job, JobHealth::Complete, false, None, "test")
        .unwrap();
}

fn assigned(report: &[Assignment]) -> Vec<(i64, &str)> {
    report.iter().map(|a| (a.job, a.device.as_str())).collect()
}

fn health_checks_go_before_jobs(f: &Fixture) {
    lab(f, &[("qemu-01", &[])]);
    let s = &f.store;
    s.set_health_check("qemu", Some(HEALTH_CHECK)).unwrap();
    s.set_device_health("qemu-01", DeviceHealth::Unknown, "admin", "new")
        .unwrap();
    let job = submit(s, 100, &[]);
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(report.health_checks.len(), 1);
    assert!(
        report.jobs.is_empty(),
        "the user job waits for the health check"
    );
    let check = s.job(report.health_checks[0].job).unwrap();
    assert!(check.health_check);
    assert_eq!(
        (check.state, check.submitter.as_str(), check.priority),
        (JobState::Scheduled, "lava-health", 100)
    );
    assert_eq!(check.description, "qemu health check");
    // The check passes: the device is Good and takes the job.
    done(s, check.id);
    assert_eq!(s.device("qemu-01").unwrap().health, DeviceHealth::Good);
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(assigned(&report.jobs), [(job, "qemu-01")]);
    assert!(report.health_checks.is_empty());
}

fn priority_then_age(f: &Fixture) {
    lab(f, &[("qemu-01", &[])]);
    let s = &f.store;
    let old_low = submit(s, 0, &[]);
    let old_medium = submit(s, 50, &[]);
    let new_high = submit(s, 100, &[]);
    let new_medium = submit(s, 50, &[]);
    let mut order = Vec::new();
    for _ in 0..4 {
        let report = schedule(s, &AcceptAll).unwrap();
        assert_eq!(report.jobs.len(), 1, "one device, one job per pass");
        order.push(report.jobs[0].job);
        done(s, report.jobs[0].job);
    }
    assert_eq!(order, [new_high, old_medium, new_medium, old_low]);
    assert!(schedule(s, &AcceptAll).unwrap().jobs.is_empty());
}

fn tags_are_respected_and_plain_boards_used_first(f: &Fixture) {
    lab(
        f,
        &[
            ("qemu-01", &["usb"]),
            ("qemu-02", &[]),
            ("qemu-03", &["usb", "hdmi"]),
        ],
    );
    let s = &f.store;
    let plain = submit(s, 50, &[]);
    let usb = submit(s, 50, &["usb"]);
    let both = submit(s, 50, &["usb", "hdmi"]);
    s.add_tag("wifi", "").unwrap();
    let impossible = submit(s, 100, &["wifi"]);
    let report = schedule(s, &AcceptAll).unwrap();
    let mut got = assigned(&report.jobs);
    got.sort();
    assert_eq!(
        got,
        [(plain, "qemu-02"), (usb, "qemu-01"), (both, "qemu-03")]
    );
    assert_eq!(s.job(impossible).unwrap().state, JobState::Submitted);
}

fn devices_of_unavailable_workers_get_nothing(f: &Fixture) {
    lab(f, &[("qemu-01", &[])]);
    let s = &f.store;
    let job = submit(s, 50, &[]);
    // Offline worker.
    s.set_worker_state("worker1", WorkerState::Offline).unwrap();
    assert!(schedule(s, &AcceptAll).unwrap().jobs.is_empty());
    s.set_worker_state("worker1", WorkerState::Online).unwrap();
    // Worker in Maintenance, even with the device forced back to Good.
    s.set_worker_health("worker1", WorkerHealth::Maintenance, "admin", "test")
        .unwrap();
    s.set_device_health("qemu-01", DeviceHealth::Good, "admin", "by hand")
        .unwrap();
    assert!(schedule(s, &AcceptAll).unwrap().jobs.is_empty());
    s.set_worker_health("worker1", WorkerHealth::Active, "admin", "back")
        .unwrap();
    // Device in Maintenance or Bad.
    for health in [
        DeviceHealth::Maintenance,
        DeviceHealth::Bad,
        DeviceHealth::Retired,
    ] {
        s.set_device_health("qemu-01", health, "admin", "test")
            .unwrap();
        assert!(schedule(s, &AcceptAll).unwrap().jobs.is_empty(), "{health}");
    }
    s.set_device_health("qemu-01", DeviceHealth::Good, "admin", "fixed")
        .unwrap();
    assert_eq!(
        assigned(&schedule(s, &AcceptAll).unwrap().jobs),
        [(job, "qemu-01")]
    );
}

fn job_limit_is_respected(f: &Fixture) {
    lab(f, &[("qemu-01", &[]), ("qemu-02", &[]), ("qemu-03", &[])]);
    let s = &f.store;
    s.database()
        .transaction(|c| c.execute("UPDATE workers SET job_limit = 2", &[]))
        .unwrap();
    for _ in 0..3 {
        submit(s, 50, &[]);
    }
    assert_eq!(schedule(s, &AcceptAll).unwrap().jobs.len(), 2);
    assert!(
        schedule(s, &AcceptAll).unwrap().jobs.is_empty(),
        "the worker is at its limit"
    );
}

fn health_check_due_by_jobs_and_hours(f: &Fixture) {
    lab(f, &[("qemu-01", &[])]);
    let s = &f.store;
    s.set_health_check("qemu", Some(HEALTH_CHECK)).unwrap();
    s.update_device_type(
        "qemu",
        &DeviceTypeUpdate {
            health_frequency: Some(2),
            health_denominator: Some(HealthDenominator::Jobs),
            ..Default::default()
        },
    )
    .unwrap();
    // Never checked: due.
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(report.health_checks.len(), 1);
    done(s, report.health_checks[0].job);
    // Two jobs, then the next check.
    for _ in 0..2 {
        submit(s, 50, &[]);
        let report = schedule(s, &AcceptAll).unwrap();
        assert_eq!((report.jobs.len(), report.health_checks.len()), (1, 0));
        done(s, report.jobs[0].job);
    }
    submit(s, 50, &[]);
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(
        (report.jobs.len(), report.health_checks.len()),
        (0, 1),
        "2 jobs since the last check"
    );
    done(s, report.health_checks[0].job);
    // Hours: 0 hours means due as soon as any time passed since the last one.
    s.update_device_type(
        "qemu",
        &DeviceTypeUpdate {
            health_frequency: Some(24),
            health_denominator: Some(HealthDenominator::Hours),
            ..Default::default()
        },
    )
    .unwrap();
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(
        (report.jobs.len(), report.health_checks.len()),
        (1, 0),
        "checked less than 24 h ago"
    );
    done(s, report.jobs[0].job);
    // Disabled: never.
    s.update_device_type(
        "qemu",
        &DeviceTypeUpdate {
            health_check_disabled: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    s.set_device_health("qemu-01", DeviceHealth::Unknown, "admin", "test")
        .unwrap();
    submit(s, 50, &[]);
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!((report.jobs.len(), report.health_checks.len()), (1, 0));
}

struct RejectDevice(&'static str);

impl DeviceCheck for RejectDevice {
    fn check(&self, hostname: &str, _: &str, _: Option<&str>) -> Result<(), String> {
        if hostname == self.0 {
            Err("template qemu.jinja2 line 3: unexpected end of template".into())
        } else {
            Ok(())
        }
    }
}

fn invalid_configurations_make_devices_bad(f: &Fixture) {
    lab(f, &[("qemu-01", &[]), ("qemu-02", &[])]);
    let s = &f.store;
    let job = submit(s, 50, &[]);
    let report = schedule(s, &RejectDevice("qemu-01")).unwrap();
    assert_eq!(assigned(&report.jobs), [(job, "qemu-02")]);
    assert_eq!(report.bad_devices.len(), 1);
    assert_eq!(s.device("qemu-01").unwrap().health, DeviceHealth::Bad);
    let log = s.transitions("device", "qemu-01").unwrap();
    assert!(log
        .last()
        .unwrap()
        .reason
        .contains("Invalid device configuration: template qemu.jinja2 line 3"));
}

fn multinode_groups_all_or_nothing_without_deadlock(f: &Fixture) {
    lab(f, &[("qemu-01", &[]), ("qemu-02", &[]), ("qemu-03", &[])]);
    let s = &f.store;
    let sub = |group: &str, priority| {
        s.insert_job(&NewJob {
            submitter: "alice".into(),
            requested_device_type: Some("qemu".into()),
            priority,
            target_group: Some(group.into()),
            ..Default::default()
        })
        .unwrap()
    };
    // Two groups of two compete for three boards; a single job too.
    let a = [sub("group-a", 50), sub("group-a", 50)];
    let b = [sub("group-b", 50), sub("group-b", 50)];
    let single = submit(s, 10, &[]);
    let report = schedule(s, &AcceptAll).unwrap();
    let placed: Vec<i64> = report.multinode.iter().map(|x| x.job).collect();
    assert_eq!(placed, a, "the first group gets both its boards at once");
    for id in a {
        assert_eq!(s.job(id).unwrap().state, JobState::Scheduled);
    }
    // The second group holds nothing while it waits: the free board goes
    // to the single job instead of sitting Reserved.
    assert_eq!(assigned(&report.jobs), [(single, "qemu-03")]);
    for id in b {
        let job = s.job(id).unwrap();
        assert_eq!((job.state, job.actual_device), (JobState::Submitted, None));
    }
    for id in a {
        done(s, id);
    }
    let report = schedule(s, &AcceptAll).unwrap();
    assert_eq!(
        report.multinode.iter().map(|x| x.job).collect::<Vec<_>>(),
        b
    );
}
