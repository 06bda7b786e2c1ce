//! The rendering engine on self-written templates in temporary folders:
//! search path, file access limits, error locations, reloading, and the
//! Jinja2 behaviours templates depend on. Expected texts marked "Jinja2"
//! were produced by Jinja2 3.1.6 with LAVA's settings (trim_blocks, no
//! autoescape).

use std::fs;
use std::path::Path;

use lava_devices::{RenderError, TemplateSet};
use lava_proto::yaml::{self, Mapping};
use proptest::prelude::*;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn context(text: &str) -> Mapping {
    match yaml::load(text).unwrap() {
        yaml::Value::Mapping(m) => m,
        yaml::Value::Null => Mapping::new(),
        other => panic!("not a mapping: {other}"),
    }
}

/// Renders one template `t` from a fresh folder.
fn render(template: &str, ctx: &str) -> Result<String, RenderError> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "t", template);
    TemplateSet::new([dir.path()]).render("t", &context(ctx))
}

fn ok(template: &str, ctx: &str) -> String {
    render(template, ctx).unwrap_or_else(|e| panic!("{template}: {e}"))
}

#[test]
fn first_folder_of_the_search_path_wins() {
    let devices = tempfile::tempdir().unwrap();
    let types = tempfile::tempdir().unwrap();
    write(
        types.path(),
        "board.jinja2",
        "type {{ x|default('unset') }}",
    );
    write(types.path(), "shadowed.jinja2", "from types");
    write(devices.path(), "shadowed.jinja2", "from devices");
    write(
        devices.path(),
        "dev-01.jinja2",
        "{% extends 'board.jinja2' %}\n{% set x = 'dict' %}\n",
    );
    let set = TemplateSet::new([devices.path(), types.path()]);
    assert_eq!(
        set.render("shadowed.jinja2", &Mapping::new()).unwrap(),
        "from devices"
    );
    assert_eq!(
        set.render("dev-01.jinja2", &Mapping::new()).unwrap(),
        "type dict"
    );
    // The dictionary beats the job context; the context fills the rest.
    assert_eq!(
        set.render("dev-01.jinja2", &context("x: ctx")).unwrap(),
        "type dict"
    );
    assert_eq!(
        set.render("board.jinja2", &context("x: ctx")).unwrap(),
        "type ctx"
    );
    // Templates in sub-folders are found with '/' names.
    write(types.path(), "sub/part.jinja2", "part");
    assert_eq!(
        set.render("./sub//part.jinja2", &Mapping::new()).unwrap(),
        "part"
    );
}

#[test]
fn templates_outside_the_search_path_cannot_be_read() {
    let root = tempfile::tempdir().unwrap();
    let types = root.path().join("types");
    write(root.path(), "secret.jinja2", "SECRET");
    write(&types, "ok.jinja2", "ok");
    write(&types, "up.jinja2", "{% include '../secret.jinja2' %}");
    write(
        &types,
        "abs.jinja2",
        &format!(
            "{{% extends '{}' %}}",
            root.path().join("secret.jinja2").display()
        ),
    );
    let set = TemplateSet::new([&types]);
    for name in ["up.jinja2", "abs.jinja2"] {
        let err = set.render(name, &Mapping::new()).unwrap_err();
        assert!(
            matches!(err, RenderError::Refused { .. }),
            "{name}: {err:?}"
        );
        assert!(!err.to_string().contains("SECRET"));
        assert_eq!(err.line(), Some(1), "{err}");
    }
    assert!(matches!(
        set.render("../secret.jinja2", &Mapping::new()),
        Err(RenderError::Refused { .. })
    ));

    // A symbolic link that leads out of the folder is refused; one that
    // stays inside is followed.
    std::os::unix::fs::symlink(
        root.path().join("secret.jinja2"),
        types.join("link-out.jinja2"),
    )
    .unwrap();
    std::os::unix::fs::symlink(types.join("ok.jinja2"), types.join("link-in.jinja2")).unwrap();
    std::os::unix::fs::symlink(root.path(), types.join("dir-out")).unwrap();
    let err = set.render("link-out.jinja2", &Mapping::new()).unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    assert!(matches!(
        set.render("dir-out/secret.jinja2", &Mapping::new()),
        Err(RenderError::Refused { .. })
    ));
    assert_eq!(set.render("link-in.jinja2", &Mapping::new()).unwrap(), "ok");
}

#[test]
fn a_broken_template_error_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.jinja2", "a: 1\nb: 2\n{% if x %}\nc: 3\n");
    write(dir.path(), "child.jinja2", "{% extends 'base.jinja2' %}\n");
    write(dir.path(), "runtime.jinja2", "a: 1\n\nb: {{ nope.attr }}\n");
    let set = TemplateSet::new([dir.path()]);
    let err = set.render("child.jinja2", &Mapping::new()).unwrap_err();
    let RenderError::Template {
        template,
        path,
        line,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(template.as_deref(), Some("base.jinja2"));
    assert_eq!(
        path.as_deref(),
        Some(
            dir.path()
                .join("base.jinja2")
                .canonicalize()
                .unwrap()
                .as_path()
        )
    );
    assert_eq!(*line, Some(4), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:4: syntax error",
            dir.path()
                .join("base.jinja2")
                .canonicalize()
                .unwrap()
                .display()
        )),
        "{text}"
    );

    // An undefined value used as an object fails, as in Jinja2.
    let err = set.render("runtime.jinja2", &Mapping::new()).unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("runtime.jinja2:3: "), "{err}");
}

#[test]
fn a_missing_template_names_the_search_path() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write(b.path(), "dev.jinja2", "\n{% extends 'nowhere.jinja2' %}\n");
    let set = TemplateSet::new([a.path(), b.path()]);
    let err = set.render("missing.jinja2", &Mapping::new()).unwrap_err();
    let expected = format!(
        "template 'missing.jinja2' not found in the search path [{}, {}]",
        a.path().display(),
        b.path().display()
    );
    assert_eq!(err.to_string(), expected);
    let err = set.render("dev.jinja2", &Mapping::new()).unwrap_err();
    assert!(matches!(&err, RenderError::NotFound { name, .. } if name == "nowhere.jinja2"));
    assert!(err.to_string().ends_with("(used at dev.jinja2:2)"), "{err}");
    // A dictionary held as text finds its template on the search path or
    // says where it looked.
    let err = set
        .render_str(
            "db-01.jinja2",
            "{% extends 'gone.jinja2' %}",
            &Mapping::new(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("'gone.jinja2' not found in the search path"),
        "{err}"
    );
}

#[test]
fn changed_files_are_read_again() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "t.jinja2", "one");
    let set = TemplateSet::new([dir.path()]);
    assert_eq!(set.render("t.jinja2", &Mapping::new()).unwrap(), "one");
    write(dir.path(), "t.jinja2", "second");
    assert_eq!(set.render("t.jinja2", &Mapping::new()).unwrap(), "second");
}

#[test]
fn context_values_arrive_as_yaml_loaded_them() {
    assert_eq!(
        ok(
            "{{ arch }} {{ no_kvm }} {{ extra_options }} {{ n + 1 }} {{ d }}",
            "arch: amd64\nno_kvm: yes\nextra_options: ['-smp', 1]\nn: 010\nd: {b: 1, a: 2}"
        ),
        "amd64 True ['-smp', 1] 9 {'b': 1, 'a': 2}"
    );
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "t", "x");
    let err = TemplateSet::new([dir.path()])
        .render("t", &context("1: a"))
        .unwrap_err();
    assert!(matches!(err, RenderError::Context(_)), "{err:?}");
}

#[test]
fn block_scoping_is_jinja2s() {
    // Jinja2: '[0][1]', '[1]<0>', '<0>', '<0>', '1<0>', '2', '21', '3<0>1'.
    let cases = [
        ("{% block b %}[{{ v }}]{% set v = 1 %}[{{ v }}]{% endblock %}", "[0][1]"),
        (
            "{% block b %}{% if c %}{% set v = 1 %}{% endif %}[{{ v }}]{% block i %}<{{ v }}>{% endblock %}{% endblock %}",
            "[1]<0>",
        ),
        ("{% block b %}{% for v in [5] %}{% block i %}<{{ v }}>{% endblock %}{% endfor %}{% endblock %}", "<0>"),
        ("{% for v in [5] %}{% block i %}<{{ v }}>{% endblock %}{% endfor %}", "<0>"),
        (
            "{% block b %}{% set v = 1 %}{% macro m() %}{{ v }}{% endmacro %}{{ m() }}{% block i %}<{{ v }}>{% endblock %}{% endblock %}",
            "1<0>",
        ),
        ("{% block b %}{% set ns = namespace(a=1) %}{% set ns.a = 2 %}{{ ns.a }}{% endblock %}", "2"),
        ("{% block b %}{% set v = 1 %}{% for x in [1] %}{% set v = 2 %}{{ v }}{% endfor %}{{ v }}{% endblock %}", "21"),
        (
            "{% block b %}{% set v = 1 %}{% with v = 3 %}{{ v }}{% block i %}<{{ v }}>{% endblock %}{% endwith %}{{ v }}{% endblock %}",
            "3<0>1",
        ),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, "{v: 0, c: true}"), expected, "{template}");
    }
    // The same through extends: a child's block override does not see the
    // parent's enclosing-block variables either (LAVA's d03 pattern).
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d03.jinja2", "{% block body %}\n{% set console_device = console_device|default('ttyS0') %}\ncmd: {{ console_device }}\n{% block inner %}\nboot: console={{ console_device }}\n{% endblock inner %}\n{% endblock body %}\n");
    write(dir.path(), "dev.jinja2", "{% extends 'd03.jinja2' %}\n");
    let set = TemplateSet::new([dir.path()]);
    assert_eq!(
        set.render("dev.jinja2", &Mapping::new()).unwrap(),
        "cmd: ttyS0\nboot: console=\n"
    );
    assert_eq!(
        set.render("dev.jinja2", &context("console_device: ttyAMA0"))
            .unwrap(),
        "cmd: ttyAMA0\nboot: console=ttyAMA0\n"
    );
}

#[test]
fn python_operators_methods_and_printing() {
    // Jinja2: "003.1|ff|ab  |'q'"
    assert_eq!(
        ok("{{ '%05.1f|%x|%-4s|%r' % (3.14159, 255, 'ab', 'q') }}", ""),
        "003.1|ff|ab  |'q'"
    );
    // Jinja2: 'a-3 1 2 1.5 1 [1, 2] x'
    assert_eq!(
        ok("{{ '%s-%d' % ('a', 3) }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ '%(a)s' % {'a': 1} }} {{ '%s' % [1,2] }} {{ '%s' % 'x' }}", ""),
        "a-3 1 2 1.5 1 [1, 2] x"
    );
    // Jinja2: '3False33False23True1'
    assert_eq!(
        ok(
            "{% for c in 'abc' %}{{ loop.length }}{{ loop.last }}{{ loop.revindex }}{% endfor %}",
            ""
        ),
        "3False33False23True1"
    );
    // Jinja2: '1e+16 [1e+16, 1e-05] 2.5'
    assert_eq!(
        ok("{{ 1e16 }} {{ [1e16, 0.00001] }} {{ 2.5 }}", ""),
        "1e+16 [1e+16, 1e-05] 2.5"
    );
    // Jinja2: "['a', 'b', 'c'] ['a', 'b'] x **ab* 00x Hello World"
    assert_eq!(
        ok("{{ 'a b  c'.split() }} {{ 'a,b'.split(',', 1) }} {{ ' x '.strip() }} {{ 'ab'.center(5, '*') }} {{ 'x'.zfill(3) }} {{ 'Hello World'.title() }}", ""),
        "['a', 'b', 'c'] ['a', 'b'] x **ab* 00x Hello World"
    );
    // Jinja2: "[('a', 1)] ['a'] 2"
    assert_eq!(
        ok(
            "{{ {'a': 1}.items() | list }} {{ {'a': 1}.keys() | list }} {{ [1,2,1].count(1) }}",
            ""
        ),
        "[('a', 1)] ['a'] 2"
    );
    // Jinja2: "{'k': [1, None, 'x']} (1,) ()"
    assert_eq!(
        ok(
            "{% set d = {'k': [1, none, 'x']} %}{{ d }} {{ (1,) }} {{ () }}",
            ""
        ),
        "{'k': [1, None, 'x']} (1,) ()"
    );
    // An unknown method is still an error.
    assert!(render("{{ 'a'.nosuchmethod() }}", "").is_err());
}

#[test]
fn indent_and_int_filters_are_jinja2s() {
    // Jinja2: '  a\n\n  b|a\n\n> b|a\n  \n  b'
    assert_eq!(
        ok(
            "{{ x|indent(2, true) }}|{{ x|indent(width='> ') }}|{{ x|indent(2, blank=true) }}",
            "x: \"a\\n\\nb\""
        ),
        "  a\n\n  b|a\n\n> b|a\n  \n  b"
    );
    // Jinja2: '42 7 3 10 0 1'
    assert_eq!(
        ok("{{ '42'|int }} {{ 'x'|int(7) }} {{ '0b11'|int(base=0) }} {{ ' 1_0 '|int }} {{ none|int }} {{ true|int }}", ""),
        "42 7 3 10 0 1"
    );
}

#[test]
fn line_ends_are_normalised_as_jinja2s_lexer_does() {
    // Jinja2: 'a\nb\nc\n'
    assert_eq!(
        ok("a\r\nb\r\n{% if true %}\r\nc\r\n{% endif %}\r\n", ""),
        "a\nb\nc\n"
    );
    assert_eq!(ok("a\n\n", ""), "a\n");
    assert_eq!(ok("a", ""), "a");
}

#[test]
fn later_lava_filters_are_available() {
    assert_eq!(
        ok("{{ arch|qemu_guest_fs_interface(guestfs_interface) }} {{ 'arm64'|qemu_guest_fs_interface(none) }} {{ 'a b'|shlex_quote }} {{ [1, 'x']|yaml_quote }}", "arch: amd64"),
        "ide virtio 'a b' [! \"1\", \"x\"]"
    );
}

#[test]
fn no_debug_global_and_jinja2_globals_exist() {
    assert_eq!(ok("{{ debug|default('debug') }}", ""), "debug");
    assert_eq!(
        ok(
            "{% set ns = namespace(a=1) %}{{ ns.a }} {{ range(3)|list }} {{ dict(a=1) }}",
            ""
        ),
        "1 [0, 1, 2] {'a': 1}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arbitrary arrangements of template fragments render or fail, but
    /// never panic.
    #[test]
    fn broken_templates_never_panic(parts in prop::collection::vec(prop::sample::select(vec![
        "{% block a %}", "{% endblock %}", "{% set x = 1 %}", "{{ x % 2 }}", "{% for c in 'ab' %}",
        "{% endfor %}", "{{ '%s' % }}", "{% if x %}", "{% endif %}", "{{ x.y }}", "{{ [x, nope] }}",
        "{% macro m(v) %}{{ v }}{% endmacro %}", "{{ m(1) }}", "text\n", "{%", "}}", "'", "{% with y = 2 %}",
        "{% endwith %}", "{{ y|indent(2) }}", "{{ '0x1'|int }}", "{% extends 't' %}", "{% include 't' %}",
    ]), 0..12)) {
        let template: String = parts.concat();
        let _ = render(&template, "x: 3");
    }
}

#[test]
fn one_template_set_serves_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TemplateSet>();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.jinja2",
        "{% block b %}base{% endblock %} {{ n }}",
    );
    write(
        dir.path(),
        "child.jinja2",
        "{% extends 'base.jinja2' %}{% block b %}child{% endblock %}",
    );
    let set = std::sync::Arc::new(TemplateSet::new([dir.path()]));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let set = std::sync::Arc::clone(&set);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let text = set
                        .render("child.jinja2", &context(&format!("n: {i}")))
                        .unwrap();
                    assert_eq!(text, format!("child {i}"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
