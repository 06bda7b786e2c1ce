//! `lava-lab`, the one-command lab, as a user runs it: a real QEMU job from
//! submission to printed results, then a second run reusing the state.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lab(state: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-lab"))
        .args(["--once", "--http-bind", "127.0.0.1:0", "--state-dir"])
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
    let Some(images) = common::images() else {
        return;
    };
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

    // the HTTP service's line, with the admin's password and token, both
    // kept across runs
    let field = |out: &str, name: &str| -> String {
        let line = out
            .lines()
            .find(|l| l.starts_with("web UI and API: http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no web UI line in {out}"));
        assert!(line.contains("  user: admin  password: "), "{line}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == name).unwrap();
        words[at + 1].to_string()
    };
    let token_of = |out: &str| field(out, "token:");
    let token = token_of(&first);
    let password = field(&first, "password:");
    assert_eq!(token.len(), lava_web::TOKEN_LENGTH);
    // the token printed is the admin's in the lab's store
    let store = lava_scheduler::SqlStore::open_url(&format!(
        "sqlite://{}",
        state.path().join("lava.db").display()
    ))
    .unwrap();
    let (user, _) = lava_scheduler::accounts::Accounts::user_by_token_digest(
        &store,
        &lava_web::token_digest(&token),
    )
    .unwrap()
    .expect("the printed token is not in the store");
    assert!(user.is_superuser && user.username == "admin");
    // the printed password is the admin's too (the web UI's login)
    assert!(lava_web::verify_password(
        &password,
        user.password_hash.as_deref().unwrap()
    ));

    let second = lab(state.path());
    assert_eq!(token_of(&second), token, "the admin's token is kept");
    assert_eq!(
        field(&second, "password:"),
        password,
        "the password is kept"
    );
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
