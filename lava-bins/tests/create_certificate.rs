//! `lava-create-certificate` as an admin runs it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use lava_proto::cert;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lava-create-certificate"))
        .args(args)
        .arg("--directory")
        .arg(dir)
        .output()
        .expect("run lava-create-certificate")
}

#[test]
fn writes_a_loadable_pair_with_a_private_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["worker1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let public_path = dir.path().join("worker1.key");
    let secret_path = dir.path().join("worker1.key_secret");
    let mode = std::fs::metadata(&secret_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "secret certificate must be private");

    let pair = cert::load_pair(&secret_path).unwrap();
    assert_eq!(cert::load_public(&public_path).unwrap(), pair.public);
    let public_text = std::fs::read_to_string(&public_path).unwrap();
    assert!(!public_text.contains("secret-key"));
    assert!(public_text.ends_with(&format!(
        "metadata\ncurve\n    public-key = \"{}\"\n",
        pair.public
    )));
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), &["master"]).status.success());
    let secret_path = dir.path().join("master.key_secret");
    let before = std::fs::read(&secret_path).unwrap();

    let out = run(dir.path(), &["master"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already exists (use --force to overwrite)"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one readable line: {stderr}");
    assert_eq!(
        std::fs::read(&secret_path).unwrap(),
        before,
        "the key was replaced"
    );

    assert!(run(dir.path(), &["master", "--force"]).status.success());
    assert_ne!(std::fs::read(&secret_path).unwrap(), before);
}

#[test]
fn rejects_names_that_escape_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["../evil"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid certificate name"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
