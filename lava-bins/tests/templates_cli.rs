//! `lava-server manage templates render|check`, run as a real process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lava_server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lava-server"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run lava-server")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn render_writes_the_exact_text_from_the_search_path_in_order() {
    let devices = tempfile::tempdir().unwrap();
    let types = tempfile::tempdir().unwrap();
    // No final newline is added: the template's last line end is dropped
    // (Jinja2's keep_trailing_newline=False) and nothing else is written.
    fs::write(
        types.path().join("bench.jinja2"),
        "commands:\n  connect: {{ connection_command }}\n  power_on: {{ power_on_command|default(['on', 'sleep 1']) }}\nboot: {{ boot_character_delay|default(5) }}\n",
    )
    .unwrap();
    fs::write(
        devices.path().join("bench-01.jinja2"),
        "{% extends 'bench.jinja2' %}\n{% set connection_command = 'telnet 127.0.0.1 5560' %}\n",
    )
    .unwrap();
    let context = devices.path().join("ctx.yaml");
    fs::write(&context, "boot_character_delay: 20\n").unwrap();
    let out = lava_server(&[
        "manage",
        "templates",
        "render",
        "--path",
        path_str(devices.path()),
        "--path",
        path_str(types.path()),
        "bench-01.jinja2",
        "--context",
        path_str(&context),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        "commands:\n  connect: telnet 127.0.0.1 5560\n  power_on: ['on', 'sleep 1']\nboot: 20"
    );
    assert!(out.stderr.is_empty(), "{}", stderr(&out));

    // `check` validates the configuration.
    let out = lava_server(&[
        "manage",
        "templates",
        "check",
        "--path",
        path_str(devices.path()),
        "--path",
        path_str(types.path()),
        "bench-01.jinja2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        "bench-01.jinja2: valid device configuration\n"
    );
}

#[test]
fn errors_are_one_line_on_stderr_with_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("broken.jinja2"), "a: 1\n{% if x %}\nb: 2\n").unwrap();
    fs::write(
        dir.path().join("invalid.jinja2"),
        "commands: {power_on: [1]}\n",
    )
    .unwrap();
    fs::write(dir.path().join("list.yaml"), "- a\n").unwrap();
    let p = path_str(dir.path());
    let cases: [(&[&str], String); 5] = [
        (
            &["manage", "templates", "render", "--path", p, "missing.jinja2"],
            format!("lava-server: error: template 'missing.jinja2' not found in the search path [{p}]\n"),
        ),
        (
            &["manage", "templates", "render", "--path", p, "broken.jinja2"],
            format!(
                "lava-server: error: {}:3: syntax error: unexpected end of input, expected end of block\n",
                dir.path().join("broken.jinja2").canonicalize().unwrap().display()
            ),
        ),
        (
            &["manage", "templates", "render", "--path", p, "../etc/passwd"],
            "lava-server: error: refusing template '../etc/passwd': '..' components are not allowed\n".to_string(),
        ),
        (
            &["manage", "templates", "check", "--path", p, "invalid.jinja2"],
            "lava-server: error: invalid.jinja2: commands.power_on[0]: expected a string, found an int\n".to_string(),
        ),
        (
            &["manage", "templates", "render", "--path", p, "invalid.jinja2", "--context", &format!("{p}/list.yaml")],
            format!("lava-server: error: {p}/list.yaml: the context must be a mapping of variables, not a sequence\n"),
        ),
    ];
    for (args, expected) in cases {
        let out = lava_server(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(stderr(&out), expected, "{args:?}");
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    for args in [
        &["manage", "templates", "render"][..],
        &["manage", "templates", "render", "a.jinja2", "b.jinja2"][..],
        &["manage", "templates", "render", "--bogus", "a.jinja2"][..],
        &["manage", "templates"][..],
    ] {
        let out = lava_server(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    if dir.join("expected").is_dir() {
        Some(dir)
    } else {
        println!("skipping: LAVA corpus not found at {}", dir.display());
        None
    }
}

/// LAVA's own dictionaries, device types and job contexts, rendered by the
/// binary, are byte-identical to Jinja2's output.
#[test]
fn corpus_renders_through_the_binary_are_byte_identical() {
    let Some(corpus) = corpus_dir() else { return };
    let devices = corpus.join("devices");
    let types = corpus.join("device-types");
    let tmp = tempfile::tempdir().unwrap();
    let context = tmp.path().join("context.yaml");
    // (expected file, search path, template, context YAML)
    let cases: [(&str, Vec<&Path>, &str, Option<&str>); 5] = [
        ("devices/bbb-01.yaml", vec![&devices, &types], "bbb-01.jinja2", None),
        ("devices/kvm01.yaml", vec![&devices, &types], "kvm01.jinja2", None),
        ("device-types/d03.yaml", vec![&types], "d03.jinja2", None),
        (
            "contexts/qemu-cortex-a57-nfs.yaml",
            vec![&devices, &types],
            "inline-qemu_templates-test_qemu_cortex_a57_nfs.jinja2",
            Some("{arch: amd64, qemu_method: qemu-nfs, netdevice: tap, extra_options: ['-smp', 1]}\n"),
        ),
        (
            "contexts/x86-boot-character-delay.yaml",
            vec![&devices, &types],
            "inline-templates-test_x86_template.jinja2",
            Some("{boot_character_delay: 150}\n"),
        ),
    ];
    for (expected, search, name, ctx) in cases {
        let mut args: Vec<String> = vec!["manage".into(), "templates".into(), "render".into()];
        for dir in search {
            args.push("--path".into());
            args.push(dir.to_str().unwrap().into());
        }
        args.push(name.into());
        if let Some(ctx) = ctx {
            fs::write(&context, ctx).unwrap();
            args.push("--context".into());
            args.push(context.to_str().unwrap().into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lava_server(&args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let want = fs::read(corpus.join("expected").join(expected)).unwrap();
        assert!(
            out.stdout == want,
            "{name}: output differs from expected/{expected}"
        );
    }
}
