//! Conformance with LAVA 2020.01's own rendering: every device dictionary,
//! bare device-type template and job-context case of the LAVA corpus is
//! rendered and compared **byte for byte** with what Jinja2 produced
//! (`expected/`), and the Jinja2 behaviour probes are checked.
//!
//! The corpus is LAVA's data (GPL) and is not part of this repository: it
//! is read from `$LAVA_CORPUS_DIR`, else from `../../shared/lava-corpus`
//! next to the workspace. Without it the tests print a note and pass.
//!
//! Cases that are known to differ are listed, with the reason, in
//! `corpus-differences.md` next to this file; any other difference fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use lava_devices::{DeviceConfig, DeviceDictionary, DictionaryValue, TemplateSet};
use lava_proto::yaml::{self, Mapping, Value};

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    if dir.join("expected").is_dir() && dir.join("device-types").is_dir() {
        Some(dir)
    } else {
        println!("skipping: LAVA corpus not found at {}", dir.display());
        None
    }
}

/// The case names listed in corpus-differences.md (lines `- `kind/name`: why`).
fn allowed_differences() -> BTreeSet<String> {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-differences.md"),
    )
    .expect("tests/corpus-differences.md");
    text.lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(case, _)| case.to_string())
        .collect()
}

fn stems(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".jinja2").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn load_yaml(path: &Path) -> Value {
    yaml::load(&fs::read_to_string(path).unwrap()).unwrap()
}

/// One render case: (case id, template set, template name, context).
struct Case {
    id: String,
    devices: bool,
    template: String,
    context: Mapping,
}

fn cases(corpus: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for name in stems(&corpus.join("devices")) {
        cases.push(Case {
            id: format!("devices/{name}"),
            devices: true,
            template: format!("{name}.jinja2"),
            context: Mapping::new(),
        });
    }
    for name in stems(&corpus.join("device-types")) {
        cases.push(Case {
            id: format!("device-types/{name}"),
            devices: false,
            template: format!("{name}.jinja2"),
            context: Mapping::new(),
        });
    }
    let contexts = load_yaml(&corpus.join("device-contexts.yaml"));
    for (name, spec) in contexts.get("cases").unwrap().as_mapping().unwrap().iter() {
        cases.push(Case {
            id: format!("contexts/{}", name.as_str().unwrap()),
            devices: true,
            template: format!("{}.jinja2", spec.get("device").unwrap().as_str().unwrap()),
            context: spec.get("context").unwrap().as_mapping().unwrap().clone(),
        });
    }
    cases
}

#[test]
fn corpus_renders_are_byte_identical_to_jinja2() {
    let Some(corpus) = corpus_dir() else { return };
    let allowed = allowed_differences();
    let devices = TemplateSet::new([corpus.join("devices"), corpus.join("device-types")]);
    let types = TemplateSet::new([corpus.join("device-types")]);
    let cases = cases(&corpus);
    assert_eq!(
        cases.len(),
        362,
        "131 dictionaries + 212 device types + 19 contexts"
    );
    let mut identical = 0;
    let mut listed = Vec::new();
    let mut failures = Vec::new();
    let mut configs = 0;
    for case in &cases {
        let set = if case.devices { &devices } else { &types };
        let expected =
            fs::read_to_string(corpus.join("expected").join(format!("{}.yaml", case.id))).unwrap();
        let rendered = match set.render(&case.template, &case.context) {
            Ok(text) => text,
            Err(err) => {
                failures.push(format!("{}: render error: {err}", case.id));
                continue;
            }
        };
        if rendered == expected {
            identical += 1;
        } else if allowed.contains(&format!("renders/{}", case.id)) {
            listed.push(case.id.clone());
        } else {
            failures.push(format!(
                "{}: differs from expected/{}.yaml{}",
                case.id,
                case.id,
                first_difference(&expected, &rendered)
            ));
        }
        // The rendered text is a device configuration for the dispatcher.
        match DeviceConfig::from_yaml(&rendered) {
            Ok(_) => configs += 1,
            Err(err) if allowed.contains(&format!("config/{}", case.id)) => {
                println!("{}: known invalid configuration: {err}", case.id)
            }
            Err(err) => failures.push(format!("{}: device configuration: {err}", case.id)),
        }
    }
    println!("renders: {identical}/{} identical; listed differences: {listed:?}; typed configurations: {configs}/{}", cases.len(), cases.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(identical >= 360, "only {identical} of 362 identical");
}

fn first_difference(expected: &str, got: &str) -> String {
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        if e != g {
            return format!(" at line {}:\n  expected: {e:?}\n  got:      {g:?}", i + 1);
        }
    }
    format!(
        " (lengths {} and {}; one is a prefix of the other)",
        expected.len(),
        got.len()
    )
}

#[test]
fn corpus_probes_agree_with_jinja2() {
    let Some(corpus) = corpus_dir() else { return };
    let allowed = allowed_differences();
    let probes = load_yaml(&corpus.join("jinja-probes.yaml"));
    let expected = load_yaml(&corpus.join("expected/probes.json"));
    let mut agree = 0;
    let mut total = 0;
    let mut listed = Vec::new();
    let mut failures = Vec::new();
    for (name, spec) in probes.as_mapping().unwrap().iter() {
        let name = name.as_str().unwrap();
        total += 1;
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in spec.get("templates").unwrap().as_mapping().unwrap().iter() {
            fs::write(
                dir.path().join(file.as_str().unwrap()),
                text.as_str().unwrap(),
            )
            .unwrap();
        }
        let context = match spec.get("context") {
            Some(Value::Mapping(m)) => m.clone(),
            _ => Mapping::new(),
        };
        let set = TemplateSet::new([dir.path()]);
        let got = set.render(spec.get("render").unwrap().as_str().unwrap(), &context);
        let want = expected
            .get(name)
            .unwrap_or_else(|| panic!("no expected result for {name}"));
        let ok = match (want.get("output").and_then(Value::as_str), &got) {
            (Some(output), Ok(text)) => output == text,
            (Some(_), Err(_)) => false,
            (None, result) => result.is_err(),
        };
        if ok {
            agree += 1;
        } else if allowed.contains(&format!("probes/{name}")) {
            listed.push(name.to_string());
        } else {
            failures.push(format!("{name}: Jinja2 gives {want}, we give {got:?}"));
        }
    }
    println!("probes: {agree}/{total} agree with Jinja2; listed differences: {listed:?}");
    assert_eq!(total, 77);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(agree >= 75, "only {agree} of 77 probes agree");
}

/// Every corpus dictionary parses into a variable map, writes back
/// byte for byte, and still renders LAVA's bytes when every literal
/// variable is written again from its parsed value.
#[test]
fn corpus_dictionaries_round_trip() {
    let Some(corpus) = corpus_dir() else { return };
    let types = TemplateSet::new([corpus.join("device-types")]);
    let mut count = 0;
    let mut rewritten = 0;
    for name in stems(&corpus.join("devices")) {
        let text =
            fs::read_to_string(corpus.join("devices").join(format!("{name}.jinja2"))).unwrap();
        let expected =
            fs::read_to_string(corpus.join("expected/devices").join(format!("{name}.yaml")))
                .unwrap();
        let dict = DeviceDictionary::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            dict.to_text(),
            text,
            "{name}: unchanged dictionary text differs"
        );
        assert!(
            types.search_path()[0].join(dict.extends()).is_file(),
            "{name}: extends {}",
            dict.extends()
        );

        // Adding and removing a variable gives the original text back.
        let mut probe = dict.clone();
        probe
            .set("lava_rs_round_trip", lava_proto::yaml::Value::Int(1))
            .unwrap();
        assert_eq!(
            probe
                .get("lava_rs_round_trip")
                .and_then(|v| v.as_literal())
                .and_then(|v| v.as_i64()),
            Some(1)
        );
        probe.remove("lava_rs_round_trip");
        assert_eq!(
            probe.to_text(),
            text,
            "{name}: set + remove changed the text"
        );

        // Every literal written again by us renders the same bytes.
        let mut canonical = dict.clone();
        let literals: Vec<(String, DictionaryValue)> = dict
            .variables()
            .filter(|(_, v)| matches!(v, DictionaryValue::Literal(_)))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        for (var, value) in literals {
            canonical.set(&var, value).unwrap();
            rewritten += 1;
        }
        let reparsed = DeviceDictionary::parse(&canonical.to_text()).unwrap();
        assert_eq!(
            reparsed.variables().collect::<Vec<_>>(),
            dict.variables().collect::<Vec<_>>(),
            "{name}: variables changed through to_text"
        );
        let rendered = types
            .render_str(
                &format!("{name}.jinja2"),
                &canonical.to_text(),
                &Mapping::new(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            rendered == expected,
            "{name}: rewritten dictionary renders differently{}",
            first_difference(&expected, &rendered)
        );
        count += 1;
    }
    println!("dictionaries: {count}/131 round-trip byte for byte; {rewritten} literals rewritten without changing a render");
    assert_eq!(count, 131);
}
