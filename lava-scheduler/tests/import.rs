//! `SqlStore::import_lab` on both backends: what each item becomes against
//! what the database holds, refusals that create nothing, a dry run that
//! writes nothing, and a database error that leaves nothing half-imported.

mod common;

use common::Fixture;
use lava_scheduler::db::Dialect;
use lava_scheduler::model::*;
use lava_scheduler::store::*;

both_backends!(
    outcomes_against_what_the_database_holds,
    a_database_error_writes_nothing
);

fn device(hostname: &str, device_type: &str, worker: &str) -> ImportDevice {
    ImportDevice {
        hostname: hostname.into(),
        device_type: device_type.into(),
        worker: worker.into(),
        dictionary: format!("{{% extends '{device_type}.jinja2' %}}\n"),
    }
}

fn check(device_type: &str) -> ImportHealthCheck {
    ImportHealthCheck {
        device_type: device_type.into(),
        definition: format!("job_name: {device_type} health check\n"),
    }
}

fn outcomes_against_what_the_database_holds(f: &Fixture) {
    let s = &f.store;
    s.add_worker(&NewWorker::new("w-active"), "admin").unwrap();
    s.add_device_type(&NewDeviceType::new("qemu")).unwrap();
    s.add_alias("qemu", "kvm").unwrap();
    s.add_device(&NewDevice::new("taken", "qemu", "w-active"), "admin")
        .unwrap();
    let plan = ImportPlan {
        devices: vec![
            device("bbb-01", "beaglebone-black", "w-new"),
            device("bbb-02", "beaglebone-black", "w-active"),
            device("taken", "juno", "w-only-refused"),
            device("kvm-01", "kvm", "w-active"),
            device("bad/name", "qemu", "w-active"),
        ],
        health_checks: vec![check("beaglebone-black"), check("nothing-uses-it")],
    };

    let dry = s
        .import_lab(&plan, WorkerHealth::Maintenance, "admin", true)
        .unwrap();
    assert_eq!(dry.devices[0], ImportOutcome::Created);
    assert!(s.device("bbb-01").is_err(), "a dry run writes nothing");
    assert!(s.worker("w-new").is_err());

    let report = s
        .import_lab(&plan, WorkerHealth::Maintenance, "admin", false)
        .unwrap();
    assert_eq!(report.devices[0], ImportOutcome::Created);
    assert_eq!(report.devices[1], ImportOutcome::Created);
    assert!(
        matches!(&report.devices[2], ImportOutcome::Refused(why) if why.contains("device type qemu, not juno"))
    );
    assert!(
        matches!(&report.devices[3], ImportOutcome::Refused(why) if why.contains("alias of device type qemu"))
    );
    assert!(
        matches!(&report.devices[4], ImportOutcome::Refused(why) if why.contains("invalid device hostname"))
    );
    assert_eq!(
        report.workers,
        [
            ("w-new".to_string(), ImportOutcome::Created),
            ("w-active".to_string(), ImportOutcome::Unchanged),
        ],
        "no worker for a device refused before"
    );
    assert!(s.worker("w-only-refused").is_err());
    assert!(
        s.device_type("juno").is_err(),
        "no type for a refused device"
    );
    assert_eq!(report.health_checks[0], ImportOutcome::Created);
    assert!(matches!(report.health_checks[1], ImportOutcome::Skipped(_)));
    assert!(s.device_type("nothing-uses-it").is_err());

    // New workers are disabled and their devices follow; on an Active
    // worker a new device needs a health check first.
    assert_eq!(s.worker("w-new").unwrap().health, WorkerHealth::Maintenance);
    assert_eq!(
        s.device("bbb-01").unwrap().health,
        DeviceHealth::Maintenance
    );
    assert_eq!(s.device("bbb-02").unwrap().health, DeviceHealth::Unknown);
    assert_eq!(
        s.device_type("beaglebone-black").unwrap().health_check,
        Some(check("beaglebone-black").definition)
    );
    assert_eq!(s.device("taken").unwrap().device_type, "qemu");

    // Again: unchanged; then a moved device and a new dictionary.
    let again = s
        .import_lab(&plan, WorkerHealth::Maintenance, "admin", false)
        .unwrap();
    assert_eq!(
        again.devices[..2],
        [ImportOutcome::Unchanged, ImportOutcome::Unchanged]
    );
    assert_eq!(again.health_checks[0], ImportOutcome::Unchanged);
    let mut moved = plan.clone();
    moved.devices[0].worker = "w-active".into();
    moved.devices[0].dictionary.push_str("{% set x = 1 %}\n");
    moved.health_checks[0]
        .definition
        .push_str("priority: high\n");
    let third = s
        .import_lab(&moved, WorkerHealth::Maintenance, "admin", false)
        .unwrap();
    assert_eq!(
        third.devices[0],
        ImportOutcome::Updated(vec!["dictionary", "worker"])
    );
    assert_eq!(
        third.health_checks[0],
        ImportOutcome::Updated(vec!["health check"])
    );
    let bbb = s.device("bbb-01").unwrap();
    assert_eq!(bbb.worker.as_deref(), Some("w-active"));
    assert_eq!(bbb.dictionary, Some(moved.devices[0].dictionary.clone()));
}

/// PostgreSQL refuses a NUL character in text: the error comes after the
/// first device was written, and the whole import is rolled back. (SQLite
/// stores it, so there the import simply succeeds.)
fn a_database_error_writes_nothing(f: &Fixture) {
    let s = &f.store;
    let mut broken = device("bbb-02", "beaglebone-black", "w1");
    broken.dictionary.push('\0');
    let plan = ImportPlan {
        devices: vec![device("bbb-01", "beaglebone-black", "w1"), broken],
        health_checks: vec![check("beaglebone-black")],
    };
    let result = s.import_lab(&plan, WorkerHealth::Active, "admin", false);
    if s.dialect() == Dialect::Postgres {
        assert!(result.is_err(), "{result:?}");
        assert!(s.device("bbb-01").is_err(), "nothing half-imported");
        assert!(s.worker("w1").is_err());
        assert!(s.device_type("beaglebone-black").is_err());
    } else {
        assert_eq!(result.unwrap().devices.len(), 2);
    }
}
