//! `lava-server manage jobs validate FILE...` as an admin runs it: the real
//! binary on files written to a temporary directory, and on LAVA's corpus
//! when `../shared/lava-corpus` (or `$LAVA_CORPUS_DIR`) is there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const VALID: &str = "\
job_name: smoke
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 30}
actions:
- deploy:
    to: tmpfs
    images: {rootfs: {url: 'https://example.com/rootfs.img'}}
- boot: {method: qemu, media: tmpfs, prompts: ['root@debian:']}
";

/// Two errors (lines 4 and 6) and a warning (line 7).
const INVALID: &str = "\
job_name: broken
device_type: qemu
visibility: public
timeouts: {job: {minutes: 0}}
actions:
- deploy: {to: floppy}
- boot: {method: qemu, conection: serial}
";

fn validate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lava-server"))
        .args(["manage", "jobs", "validate"])
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run lava-server")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_valid_file_prints_valid_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "smoke.yaml", VALID);
    let out = validate(dir.path(), &["smoke.yaml"]);
    assert_eq!(stdout(&out), "smoke.yaml: valid\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_invalid_file_prints_the_first_error_then_the_rest_indented() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.yaml", INVALID);
    let out = validate(dir.path(), &["broken.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "broken.yaml: invalid: timeouts.job.minutes: must be an integer ≥ 1, got 0 (line 4)\n\
         \x20   error: actions[0].deploy.to: unknown deploy method \"floppy\"; choose from docker, \
         download, fastboot, flasher, iso-installer, lxc, mps, nbd, nfs, overlay, recovery, sata, \
         sd, ssh, tftp, tmpfs, u-boot-ums, usb, vemsd (line 6)\n\
         \x20   warning: actions[1].boot.conection: unknown key `conection` in a boot with method \
         qemu (did you mean `connection`?); ignored by validation (line 7)\n"
    );
}

#[test]
fn files_are_named_exactly_as_given_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub dir")).unwrap();
    write(dir.path(), "sub dir/a job.yaml", VALID);
    write(dir.path(), "broken.yaml", INVALID);
    let out = validate(
        dir.path(),
        &[
            "./sub dir/a job.yaml",
            "broken.yaml",
            "sub dir/../sub dir/a job.yaml",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "one invalid file makes the exit status 1"
    );
    let firsts: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.starts_with("    "))
        .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        firsts,
        [
            "./sub dir/a job.yaml: valid",
            "broken.yaml: invalid",
            "sub dir/../sub dir/a job.yaml: valid"
        ]
    );
}

#[test]
fn an_unreadable_file_is_invalid_with_the_system_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "smoke.yaml", VALID);
    let out = validate(dir.path(), &["missing.yaml", "smoke.yaml", "."]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "missing.yaml: invalid: cannot read the file: No such file or directory (os error 2)"
    );
    assert_eq!(lines[1], "smoke.yaml: valid");
    assert!(
        lines[2].starts_with(".: invalid: cannot read the file: Is a directory"),
        "{}",
        lines[2]
    );
}

#[test]
fn yaml_and_encoding_problems_are_ordinary_invalid_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tabs.yaml",
        "job_name: x\nactions:\n\t- boot: {}\n",
    );
    std::fs::write(dir.path().join("binary.yaml"), b"job_name: \xff\xfe\n").unwrap();
    write(dir.path(), "empty.yaml", "");
    let out = validate(dir.path(), &["tabs.yaml", "binary.yaml", "empty.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("tabs.yaml: invalid: YAML: line 3"),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "binary.yaml: invalid: YAML: invalid UTF-8 at byte offset 10"
    );
    assert_eq!(
        lines[2],
        "empty.yaml: invalid: a job definition must be a mapping (job_name: ..., actions: ...), \
         got null (an empty value)"
    );
}

#[test]
fn warnings_of_a_valid_file_follow_it_indented() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace(
        "job_name: smoke\n",
        "job_name: smoke\njob_name: smoke-again\n",
    );
    let text = text.replace(
        "media: tmpfs,",
        "media: tmpfs, connection: serial, bogus: 1,",
    );
    write(dir.path(), "warn.yaml", &text);
    let out = validate(dir.path(), &["warn.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "warn.yaml: valid");
    assert!(
        lines[1].starts_with("    warning: YAML: duplicate key 'job_name'"),
        "{text}"
    );
    assert_eq!(
        lines[2],
        "    warning: actions[1].boot.bogus: unknown key `bogus` in a boot with method qemu; \
         ignored by validation (line 11)"
    );
    assert_eq!(lines.len(), 3, "{text}");
}

#[test]
fn standard_input_is_read_for_a_dash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lava-server"))
        .args(["manage", "jobs", "validate", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(VALID.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "-: valid\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn extra_context_variables_can_be_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{VALID}context: {{flavour: vanilla}}\n");
    write(dir.path(), "ctx.yaml", &text);
    let out = validate(dir.path(), &["ctx.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("ctx.yaml: invalid: context.flavour: unknown context variable")
    );
    let out = validate(
        dir.path(),
        &["--extra-context-variable", "flavour", "ctx.yaml"],
    );
    assert_eq!(stdout(&out), "ctx.yaml: valid\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<FILE>"));
    let out = validate(dir.path(), &["--no-such-option", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

fn corpus_jobs() -> Option<PathBuf> {
    let dir = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    let jobs = dir.join("jobs");
    if jobs.join("expected.tsv").is_file() {
        Some(jobs)
    } else {
        println!("skipping: LAVA corpus not found at {}", dir.display());
        None
    }
}

/// All 324 corpus files in one run: one first line per file, in order,
/// and the verdicts of a few well-known files.
#[test]
fn the_whole_corpus_in_one_run() {
    let Some(jobs) = corpus_jobs() else {
        return;
    };
    let tsv = std::fs::read_to_string(jobs.join("expected.tsv")).unwrap();
    let files: Vec<&str> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(files.len(), 324);
    let out = validate(&jobs, &files);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let firsts: Vec<&str> = text.lines().filter(|l| !l.starts_with("    ")).collect();
    assert_eq!(firsts.len(), files.len());
    for (line, file) in firsts.iter().zip(&files) {
        assert!(
            line.starts_with(&format!("{file}: ")),
            "{line} is not about {file}"
        );
    }
    let verdict = |file: &str| {
        let line = firsts
            .iter()
            .find(|l| l.starts_with(&format!("{file}: ")))
            .unwrap();
        line[file.len() + 2..].split(':').next().unwrap().to_owned()
    };
    assert_eq!(verdict("synthetic/base-singlenode.yaml"), "valid");
    assert_eq!(verdict("dispatcher/hi6220-hikey.yaml"), "valid");
    assert_eq!(verdict("synthetic/invalid-timeout-zero.yaml"), "invalid");
    assert_eq!(
        verdict("synthetic/invalid-deeply-nested-crash.yaml"),
        "invalid"
    );
    assert_eq!(verdict("scheduler/qemu-ssh-guest-1.yaml"), "invalid");
    let valid = firsts.iter().filter(|l| l.ends_with(": valid")).count();
    println!(
        "lava-server manage jobs validate: {valid} of {} corpus files valid",
        files.len()
    );
}
