//! The seed's admin workflow, run through the real `lava-server manage`
//! binary on both store backends: add a worker disabled, add devices to it,
//! enable it, take all its devices offline in one command, retire it.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Lab {
    url: String,
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(String, String)>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.cleanup.take() {
            if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

impl Lab {
    fn sqlite() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/lava.db", dir.path().display());
        Lab {
            url,
            _dir: Some(dir),
            cleanup: None,
        }
    }

    fn postgres() -> Option<Lab> {
        let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") else {
            eprintln!("skipping PostgreSQL: LAVA_TEST_DATABASE_URL is not set");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!(
            "lava_cli_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Lab {
            url: format!("{base}{sep}schema={schema}"),
            _dir: None,
            cleanup: Some((base, schema)),
        })
    }

    /// Run `lava-server manage ARGS` and return (exit code, stdout, stderr).
    fn manage(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_lava-server"))
            .arg("manage")
            .args(args)
            .env("LAVA_DATABASE_URL", &self.url)
            .env("USER", "admin")
            .output()
            .expect("run lava-server");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Run and require success; return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = self.manage(args);
        assert_eq!(code, 0, "lava-server manage {args:?} failed: {stderr}");
        stdout
    }
}

fn seed_workflow(lab: &Lab) {
    lab.ok(&[
        "workers",
        "add",
        "bench01",
        "--description",
        "bench in lab 2",
        "--disabled",
    ]);
    assert!(lab
        .ok(&["workers", "list"])
        .contains("* bench01 (0 devices) Offline, Maintenance"));
    lab.ok(&["device-types", "add", "qemu"]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-01",
        "--device-type",
        "qemu",
        "--worker",
        "bench01",
    ]);
    lab.ok(&[
        "devices",
        "add",
        "qemu-02",
        "--device-type",
        "qemu",
        "--worker",
        "bench01",
        "--tags",
        "usb",
    ]);
    // Devices joining a disabled worker are not schedulable.
    let list = lab.ok(&["devices", "list", "--csv"]);
    assert_eq!(list, "hostname,device-type,state,health\nqemu-01,qemu,Idle,Maintenance\nqemu-02,qemu,Idle,Maintenance\n");

    // Enable the worker: its devices need a health check first.
    let out = lab.ok(&["workers", "update", "bench01", "--health", "ACTIVE"]);
    assert!(
        out.contains("device qemu-01: Maintenance -> Unknown"),
        "{out}"
    );
    assert!(lab
        .ok(&["devices", "details", "qemu-02"])
        .contains("health     : Unknown"));
    lab.ok(&[
        "devices",
        "update",
        "qemu-01",
        "--health",
        "GOOD",
        "--reason",
        "checked by hand",
    ]);
    lab.ok(&["devices", "update", "qemu-02", "--health", "BAD"]);

    // All its devices offline in one command (the Bad one too).
    let out = lab.ok(&[
        "workers",
        "update",
        "bench01",
        "--health",
        "MAINTENANCE",
        "--devices-offline",
    ]);
    assert!(out.contains("device qemu-01: Good -> Maintenance"), "{out}");
    assert!(out.contains("device qemu-02: Bad -> Maintenance"), "{out}");
    let details = lab.ok(&["workers", "details", "bench01", "--devices"]);
    assert!(details.contains("health     : Maintenance"), "{details}");
    assert!(
        details.contains("* qemu-01 (qemu) Idle, Maintenance"),
        "{details}"
    );
    assert!(
        details.contains("* qemu-02 (qemu) Idle, Maintenance"),
        "{details}"
    );

    // Retire it.
    lab.ok(&["workers", "update", "bench01", "--health", "RETIRED"]);
    assert!(
        !lab.ok(&["workers", "list"]).contains("bench01"),
        "retired workers are hidden"
    );
    assert!(lab
        .ok(&["workers", "list", "--all"])
        .contains("* bench01 (2 devices) Offline, Retired"));
    assert_eq!(lab.ok(&["devices", "list"]), "Devices:\n");
    assert!(lab
        .ok(&["devices", "list", "--all"])
        .contains("* qemu-01 (qemu) Idle, Retired"));
    assert!(lab
        .ok(&["workers", "details", "bench01"])
        .contains("devices    : 2 (2 retired)"));
}

fn errors_are_one_line_with_exit_code_1(lab: &Lab) {
    lab.ok(&["workers", "add", "w1"]);
    for (args, message) in [
        (&["workers", "add", "w1"][..], "worker 'w1' already exists"),
        (
            &["workers", "details", "ghost"][..],
            "worker 'ghost' does not exist",
        ),
        (
            &[
                "devices",
                "add",
                "d1",
                "--device-type",
                "nope",
                "--worker",
                "w1",
            ][..],
            "device type 'nope' does not exist",
        ),
        (
            &["device-tags", "add", "ghost", "--tags", "x"][..],
            "device 'ghost' does not exist",
        ),
    ] {
        let (code, _, stderr) = lab.manage(args);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(
            stderr,
            format!("lava-server: error: {message}\n"),
            "{args:?}"
        );
    }
    // A bad health name is a usage error (exit 2) that lists the valid ones.
    let (code, _, stderr) = lab.manage(&["workers", "update", "w1", "--health", "SLEEPING"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown worker health 'SLEEPING' (use ACTIVE, MAINTENANCE, RETIRED)"),
        "{stderr}"
    );
}

#[test]
fn seed_workflow_on_sqlite() {
    seed_workflow(&Lab::sqlite());
}

#[test]
fn seed_workflow_on_postgres() {
    if let Some(lab) = Lab::postgres() {
        seed_workflow(&lab);
    }
}

#[test]
fn errors_on_sqlite() {
    errors_are_one_line_with_exit_code_1(&Lab::sqlite());
}

#[test]
fn errors_on_postgres() {
    if let Some(lab) = Lab::postgres() {
        errors_are_one_line_with_exit_code_1(&lab);
    }
}
