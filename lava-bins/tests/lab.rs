//! `lava-lab`, the one-command lab, as a user runs it: a real QEMU job from
//! submission to printed results, then a second run reusing the state with
//! the sample MultiNode job (two QEMU guests through the lab's secure
//! coordinator).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lab(state: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-lab"))
        .args(["--once", "--http-bind", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args(extra)
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

    let first = lab(state.path(), &[]);
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

    let second = lab(state.path(), &["--multinode"]);
    assert_eq!(token_of(&second), token, "the admin's token is kept");
    assert_eq!(
        field(&second, "password:"),
        password,
        "the password is kept"
    );
    // the MultiNode group: jobs 2 and 3, shown as LAVA shows them
    assert!(
        second.contains("submitted MultiNode group 2.0 2.1"),
        "{second}"
    );
    assert!(second.contains("Job 2.0 finished: Complete"), "{second}");
    assert!(second.contains("Job 2.1 finished: Complete"), "{second}");
    for case in ["multinode-sync-done", "got-answer", "multinode-wait-ready"] {
        assert!(second.contains(case), "{case} in {second}");
    }
    // the member tokens went to the coordinator, never into the store or
    // the jobs' output
    let key = lava_proto::coordinator::Key::load(&state.path().join("coordinator.key")).unwrap();
    for id in [2, 3] {
        let job = store.job(id).unwrap();
        let group = job.target_group.clone().unwrap();
        let role = if id == 2 { "server" } else { "client" };
        let token = key[0].token(&group, &id.to_string(), role, 2);
        assert!(!job.definition.contains(&token));
        assert!(!second.contains(&token));
        for entry in walk(&state.path().join("jobs")) {
            let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
            assert!(!text.contains(&token), "{} holds a token", entry.display());
        }
    }
    assert!(
        !second.contains("created the CURVE certificate"),
        "certificates are kept: {second}"
    );
    assert!(
        !second.contains("registered worker"),
        "the store is kept: {second}"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
