//! Job validation never panics, whatever the document: random YAML-ish
//! texts built from fragments of real job syntax, and random mutations of
//! a valid job's values (bounded case counts, so CI stays fast).

use lava_proto::job::{self, JobDefinition, Options};
use lava_proto::yaml::{self, Mapping, Value};
use proptest::prelude::*;

/// Fragments of job definitions, glued at random: keys the validator
/// knows, values of every type, flow and block syntax, anchors, tags.
fn yamlish() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(vec![
        "job_name: ",
        "device_type: ",
        "timeouts:",
        "job:",
        "minutes: ",
        "visibility: ",
        "priority: ",
        "actions:",
        "- deploy:",
        "- boot:",
        "- test:",
        "- command:",
        "to: ",
        "method: ",
        "definitions:",
        "interactive:",
        "monitors:",
        "protocols:",
        "lava-multinode:",
        "roles:",
        "count: ",
        "role: ",
        "context:",
        "metadata:",
        "notify:",
        "criteria:",
        "status: ",
        "images:",
        "url: ",
        "kernel:",
        "namespace: ",
        "timeout:",
        "secrets:",
        "host_role: ",
        "auto_login:",
        "tftp",
        "qemu",
        "u-boot",
        "public",
        "high",
        "0",
        "-1",
        "1.5",
        "yes",
        "~",
        "''",
        "\"x\"",
        "[",
        "]",
        "{",
        "}",
        ", ",
        ": ",
        "\n",
        "\n  ",
        "\n    ",
        "\n- ",
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "! ",
        "#",
        "\t",
        "ü",
    ]);
    proptest::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

/// Random values of every type, nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "[a-z_-]{0,8}".prop_map(Value::from),
        proptest::sample::select(vec![
            "tftp", "tmpfs", "qemu", "u-boot", "git", "inline", "public", "common", "medium",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
            proptest::collection::vec(("[a-z_-]{1,10}", inner), 0..5).prop_map(|pairs| {
                Value::Mapping(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (Value::from(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

const BASE: &str = "\
job_name: base
device_type: qemu
visibility: public
priority: medium
timeouts: {job: {minutes: 30}, action: {minutes: 5}}
protocols: {lava-xnbd: {port: auto}, lava-lxc: {name: c, distribution: debian, release: buster}}
notify: {criteria: {status: complete}, callbacks: [{url: u}]}
actions:
- deploy: {to: tftp, kernel: {url: k}, timeout: {minutes: 1}, role: [a]}
- boot: {method: u-boot, commands: ramdisk, auto_login: {login_prompt: 'l:', username: r}}
- test: {definitions: [{from: git, repository: r, path: p, name: n}]}
- test: {interactive: [{name: i, prompts: [p], script: [{command: c}]}]}
- command: {name: c}
";

/// Every place (as a list of keys and indexes) in `value`.
fn places(value: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match value {
        Value::Mapping(map) => {
            for (key, item) in map.iter() {
                here.push(key.clone());
                places(item, here, out);
                here.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                here.push(Value::Int(i as i64));
                places(item, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn replace(value: &mut Value, place: &[Value], new: Value) {
    let Some((first, rest)) = place.split_first() else {
        *value = new;
        return;
    };
    match (value, first) {
        (Value::Mapping(map), key) => {
            if let Some(item) = map.get_value_mut(key) {
                replace(item, rest, new);
            }
        }
        (Value::Sequence(items), Value::Int(i)) => {
            if let Some(item) = items.get_mut(*i as usize) {
                replace(item, rest, new);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_texts_never_panic(text in yamlish()) {
        let report = job::validate(&text);
        // Whatever happens, an invalid job says why.
        prop_assert!(report.is_valid() || !report.errors.is_empty());
        let _ = JobDefinition::from_yaml(&text);
        let _ = JobDefinition::parse(&text);
    }

    #[test]
    fn random_values_anywhere_never_panic(choice in any::<prop::sample::Index>(), new in value()) {
        let mut document = yaml::load(BASE).unwrap();
        let mut all = Vec::new();
        places(&document, &mut Vec::new(), &mut all);
        let place = choice.get(&all).clone();
        replace(&mut document, &place, new);
        let report = job::validate_value(&document, &Options::default());
        prop_assert!(report.is_valid() || !report.errors.is_empty());
        let _ = JobDefinition::from_value(&document);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = job::validate_bytes(&bytes, &Options::default());
    }
}

#[test]
fn the_base_document_is_valid() {
    let report = job::validate(BASE);
    assert!(report.is_valid(), "{report}");
    let _: Mapping = yaml::from_value(&yaml::load(BASE).unwrap()).unwrap();
}

/// Found by the property test: a key suggestion sliced a word in the middle
/// of a multi-byte character.
#[test]
fn non_ascii_unknown_keys_get_suggestions_without_panicking() {
    for text in [
        "-1üjob_name: ",
        "jöb_name: x\n",
        "üüü: 1\n",
        "tïmeouts: {}\n",
    ] {
        let _ = lava_proto::job::validate(text);
    }
}
