//! YAML loading as LAVA's server loads jobs (PyYAML's safe loader), shown
//! on the corpus's `edge-*` files, and the limits that keep hostile
//! documents harmless.
//!
//! The expected lines below were printed once by Python (PyYAML 6.0.3 with
//! libyaml) with
//! `yaml.dump(yaml.load(text, Loader=yaml.CSafeLoader), default_flow_style=True,
//! default_style='"', width=10**6, Dumper=NoAliasCDumper)`, which is what
//! `lava_proto::yaml::to_flow_line` writes for the same value; the two big
//! files are compared by length and FNV-1a 64 hash of that line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lava_proto::job;
use lava_proto::yaml::{self, ErrorKind, Limits, Value};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    }
}

fn synthetic(name: &str) -> Option<String> {
    let dir = corpus_dir();
    let path = dir.join("jobs/synthetic").join(format!("{name}.yaml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            println!("skipping: LAVA corpus not found at {}", dir.display());
            None
        }
    }
}

enum Expected {
    /// The whole flow line.
    Line(&'static str),
    /// Length and FNV-1a 64 hash of the flow line.
    Digest(usize, u64),
}
use Expected::{Digest, Line};

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const PYYAML: &[(&str, Expected)] = &[
    (
        "edge-deploy-to-sd",
        Line(
            r##"{"actions": [{"deploy": {"device": "sd-card", "image": {"compression": "xz", "url": "https://example.com/sdcard.img.xz"}, "os": "debian", "to": "sd"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-duplicate-keys",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "low", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-empty-actions",
        Line(
            r##"{"actions": [], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    ("edge-huge-metadata", Digest(679743, 0xcda4b4e3d636306e)),
    (
        "edge-json-syntax",
        Line(
            r##"{"actions": [{"boot": {"media": "tmpfs", "method": "qemu", "prompts": ["# "]}}], "device_type": "qemu", "job_name": "json-job", "timeouts": {"job": {"minutes": ! "10"}}, "visibility": "public"}"##,
        ),
    ),
    ("edge-many-actions", Digest(185250, 0x8bd5ec980d889a71)),
    (
        "edge-priority-integers",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": ! "0", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-test-empty-definitions",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-timeout-bool",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"job": {"hours": ! "true"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-timeout-float",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"job": {"hours": ! "1.5"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-two-actions-in-one-item",
        Line(
            r##"{"actions": [{"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}, "deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-two-actions-second-unvalidated",
        Line(
            r##"{"actions": [{"boot": {"bogus": [! "1", ! "2", ! "3"], "method": "magic-smoke"}, "deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-visibility-group",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "secrets": {"API_TOKEN": "s3cr3t"}, "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": {"group": ["qa-team", "kernel-team"]}}"##,
        ),
    ),
    (
        "edge-yaml-anchors-merge",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "url": "https://example.com/debian-rootfs.img.gz"}}, "timeout": {"minutes": ! "5"}, "to": "tmpfs"}}, {"boot": {"media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}], "device_type": "qemu", "job_name": "anchors", "metadata": {"shared": {"timeout": {"minutes": ! "5"}}}, "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "5"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-yaml11-booleans",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "reboot_to_fastboot": ! "false", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-yaml11-octal",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "8"}, "connection": {"minutes": ! "2"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
    (
        "edge-yaml11-sexagesimal",
        Line(
            r##"{"actions": [{"deploy": {"images": {"rootfs": {"compression": "gz", "image_arg": "-drive format=raw,file={rootfs}", "url": "https://example.com/images/debian-rootfs.img.gz"}}, "os": "debian", "timeout": {"minutes": ! "10"}, "to": "tmpfs"}}, {"boot": {"auto_login": {"login_prompt": "login:", "username": "root"}, "media": "tmpfs", "method": "qemu", "prompts": ["root@debian:"], "timeout": {"minutes": ! "5"}}}, {"test": {"definitions": [{"from": "git", "name": "smoke-tests", "path": "smoke/smoke.yaml", "repository": "https://git.example.com/test-definitions.git"}], "timeout": {"minutes": ! "10"}}}], "context": {"arch": "amd64"}, "device_type": "qemu", "job_name": "corpus-base-qemu", "priority": "medium", "timeouts": {"action": {"minutes": ! "5"}, "connection": {"seconds": ! "90"}, "job": {"minutes": ! "30"}}, "visibility": "public"}"##,
        ),
    ),
];

#[test]
fn edge_files_load_to_what_pyyaml_loads() {
    for (name, expected) in PYYAML {
        let Some(text) = synthetic(name) else {
            return;
        };
        let value = yaml::load(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let line = yaml::to_flow_line(&value);
        match expected {
            Line(expected) => assert_eq!(line, *expected, "{name}"),
            Digest(length, hash) => {
                assert_eq!(line.len(), *length, "{name}");
                assert_eq!(fnv1a(&line), *hash, "{name}");
            }
        }
    }
}

fn get<'v>(value: &'v Value, path: &[&str]) -> &'v Value {
    path.iter()
        .fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => &v.as_sequence().expect("a list")[i],
            Err(_) => v.get(key).unwrap_or_else(|| panic!("no {key}")),
        })
}

/// The YAML 1.1 rules spelled out, on the values that matter to LAVA.
#[test]
fn yaml_1_1_scalars_merge_keys_and_duplicates() {
    let Some(octal) = synthetic("edge-yaml11-octal") else {
        return;
    };
    let value = yaml::load(&octal).unwrap();
    assert_eq!(
        get(&value, &["timeouts", "action", "minutes"]),
        &Value::Int(8)
    );

    let value = yaml::load(&synthetic("edge-yaml11-sexagesimal").unwrap()).unwrap();
    assert_eq!(
        get(&value, &["timeouts", "connection", "seconds"]),
        &Value::Int(90)
    );

    let value = yaml::load(&synthetic("edge-yaml11-booleans").unwrap()).unwrap();
    assert_eq!(get(&value, &["reboot_to_fastboot"]), &Value::Bool(false));
    let (job, _) =
        job::JobDefinition::from_yaml(&synthetic("edge-yaml11-booleans").unwrap()).unwrap();
    assert!(!job.reboot_to_fastboot);

    let text = synthetic("edge-duplicate-keys").unwrap();
    let document = yaml::load_with(&text, &Limits::default()).unwrap();
    assert_eq!(get(&document.value, &["priority"]), &Value::from("low"));
    assert_eq!(document.warnings.len(), 1);
    assert!(
        document.warnings[0].message.contains("'priority'"),
        "{:?}",
        document.warnings
    );
    assert!(
        document.warnings[0].message.contains("line 10"),
        "{:?}",
        document.warnings
    );
    assert_eq!(document.warnings[0].line, 11);

    let value = yaml::load(&synthetic("edge-yaml-anchors-merge").unwrap()).unwrap();
    let deploy = get(&value, &["actions", "0", "deploy"]);
    let boot = get(&value, &["actions", "1", "boot"]);
    assert_eq!(deploy.get("timeout"), boot.get("timeout"));
    assert_eq!(
        get(&value, &["timeouts", "connection"]),
        get(&value, &["timeouts", "action"])
    );

    let value = yaml::load(&synthetic("edge-json-syntax").unwrap()).unwrap();
    assert_eq!(get(&value, &["job_name"]), &Value::from("json-job"));
}

/// 50 000 levels of nesting: LAVA's C loader overflows its stack and the
/// validating process dies. Here: an error, at the first level too many.
#[test]
fn deep_nesting_is_an_error() {
    let block = format!("metadata:\n  x:\n  {}leaf\n", "- ".repeat(50_000));
    let flow = format!(
        "metadata: {{x: {}1{}}}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let mut texts = vec![block, flow];
    texts.extend(synthetic("invalid-deeply-nested-crash"));
    for text in texts {
        let start = Instant::now();
        let err = yaml::load_with(&text, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooDeep, "{err}");
        let report = job::validate(&text);
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].message.starts_with("YAML: "), "{report}");
        assert!(
            report.errors[0]
                .message
                .contains("nesting deeper than 128 levels"),
            "{report}"
        );
        println!("{} bytes refused in {:?}", text.len(), start.elapsed());
    }
}

/// "Billion laughs": nine lists of nine aliases to the previous list. The
/// loader charges each alias the size of what it copies and stops at the
/// budget, long before building anything big.
#[test]
fn alias_bombs_are_an_error() {
    let mut bomb = String::from(
        "job_name: x\nmetadata:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..=9 {
        let items = vec![format!("*l{}", level - 1); 9].join(", ");
        bomb.push_str(&format!("  l{level}: &l{level} [{items}]\n"));
    }
    let mut texts = vec![bomb];
    texts.extend(synthetic("invalid-alias-bomb"));
    for text in texts {
        let start = Instant::now();
        let err = yaml::load_with(&text, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AliasBomb, "{err}");
        let report = job::validate(&text);
        assert!(
            report.errors[0]
                .message
                .contains("alias expansion exceeds 100000 nodes"),
            "{report}"
        );
        println!("alias bomb refused in {:?}", start.elapsed());
    }
}

/// A 100 MB document is refused before parsing starts.
#[test]
fn huge_documents_are_an_error() {
    let mut text = String::with_capacity(100_000_020);
    text.push_str("job_name: x\nmetadata: {a: '");
    while text.len() < 100_000_000 {
        text.push_str("0123456789abcdef");
    }
    text.push_str("'}\n");
    let start = Instant::now();
    let err = yaml::load_with(&text, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let err = yaml::load_bytes(text.as_bytes(), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let report = job::validate_bytes(text.as_bytes(), &job::Options::default());
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0]
            .message
            .contains("exceeds the 10485760-byte limit"),
        "{report}"
    );
    println!("{} bytes refused in {:?}", text.len(), start.elapsed());
}

/// LAVA's own jobs are shallow and small: the default limits never get in
/// the way (the biggest corpus files are 650 kB and 5000 actions).
#[test]
fn real_jobs_fit_the_default_limits() {
    for name in ["edge-huge-metadata", "edge-many-actions"] {
        let Some(text) = synthetic(name) else {
            return;
        };
        assert!(job::validate(&text).is_valid(), "{name}");
    }
}
