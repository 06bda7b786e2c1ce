//! `lava-lab`, the one-command lab, as a user runs it: a real QEMU job from
//! submission to printed results, then a second run reusing the state.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The QEMU images `.ci/run` builds (`scripts/qemu-images.sh`).
fn images() -> Option<PathBuf> {
    let dir = std::env::var_os("LAVA_QEMU_LAB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-lab"));
    if ["vmlinuz", "initramfs.cpio.gz", "bin/qemu-system-x86_64"]
        .iter()
        .all(|f| dir.join(f).exists())
    {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no QEMU images in {} (scripts/qemu-images.sh builds them)",
            dir.display()
        );
        None
    }
}

fn lab(state: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-lab"))
        .args(["--once", "--state-dir"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "lava-lab did not finish its job in 300 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "lava-lab failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_lab_runs_its_sample_job_and_keeps_its_state() {
    let Some(images) = images() else { return };
    let state = tempfile::tempdir().unwrap();
    // Reuse the images instead of downloading them again.
    std::os::unix::fs::symlink(&images, state.path().join("qemu-lab")).unwrap();

    let first = lab(state.path());
    assert!(first.contains("Job 1 finished: Complete"), "{first}");
    assert!(
        first.contains("0_smoke  kernel-version"),
        "the results table: {first}"
    );
    assert!(
        first.contains("created the CURVE certificate master"),
        "{first}"
    );
    assert!(
        first.contains("Linux version"),
        "the boot log is followed: {first}"
    );

    let second = lab(state.path());
    assert!(second.contains("Job 2 finished: Complete"), "{second}");
    assert!(
        !second.contains("created the CURVE certificate"),
        "certificates are kept: {second}"
    );
    assert!(
        !second.contains("registered worker"),
        "the store is kept: {second}"
    );
}
