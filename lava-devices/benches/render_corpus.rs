//! Renders the 362 cases of LAVA's corpus (131 device dictionaries, 212
//! bare device types, 19 job-context cases) and prints renders per second.
//!
//! `cargo bench -p lava-devices --bench render_corpus [-- ROUNDS]`
//!
//! Two figures: **warm**, one `TemplateSet` per search path kept across
//! rounds (compiled templates cached, each use checks the file's mtime as
//! LAVA's Jinja2 `auto_reload` does: how a running master renders), and
//! **cold**, new `TemplateSet`s every round (every template read, rewritten
//! and compiled again). `benches/jinja2_render_corpus.py` measures Jinja2
//! the same way on the same machine. The corpus is read from
//! `$LAVA_CORPUS_DIR` or `../../shared/lava-corpus`.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lava_devices::TemplateSet;
use lava_proto::yaml::{self, Mapping};

struct Case {
    devices: bool,
    template: String,
    context: Mapping,
}

fn stems(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".jinja2").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn cases(corpus: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for name in stems(&corpus.join("devices")) {
        cases.push(Case {
            devices: true,
            template: format!("{name}.jinja2"),
            context: Mapping::new(),
        });
    }
    for name in stems(&corpus.join("device-types")) {
        cases.push(Case {
            devices: false,
            template: format!("{name}.jinja2"),
            context: Mapping::new(),
        });
    }
    let contexts =
        yaml::load(&fs::read_to_string(corpus.join("device-contexts.yaml")).unwrap()).unwrap();
    for (_, spec) in contexts.get("cases").unwrap().as_mapping().unwrap().iter() {
        cases.push(Case {
            devices: true,
            template: format!("{}.jinja2", spec.get("device").unwrap().as_str().unwrap()),
            context: spec.get("context").unwrap().as_mapping().unwrap().clone(),
        });
    }
    cases
}

fn round(devices: &TemplateSet, types: &TemplateSet, cases: &[Case]) -> usize {
    let mut bytes = 0;
    for case in cases {
        let set = if case.devices { devices } else { types };
        bytes += black_box(set.render(&case.template, &case.context).expect("render")).len();
    }
    bytes
}

fn report(label: &str, renders: usize, elapsed: Duration) {
    let per_second = renders as f64 / elapsed.as_secs_f64();
    println!(
        "{label}: {renders} renders in {:.3} s = {per_second:.0} renders/s ({:.1} µs per render)",
        elapsed.as_secs_f64(),
        1e6 / per_second
    );
}

fn main() {
    let corpus = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    if !corpus.join("expected").is_dir() {
        println!("skipping: LAVA corpus not found at {}", corpus.display());
        return;
    }
    // `cargo bench` passes `--bench`; a number is the round count.
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let cases = cases(&corpus);
    let search = |devices: bool| {
        if devices {
            TemplateSet::new([corpus.join("devices"), corpus.join("device-types")])
        } else {
            TemplateSet::new([corpus.join("device-types")])
        }
    };

    let (devices, types) = (search(true), search(false));
    let bytes = round(&devices, &types, &cases); // warm-up: load and compile
    let start = Instant::now();
    for _ in 0..rounds {
        round(&devices, &types, &cases);
    }
    report(
        &format!(
            "warm ({} cases x {rounds} rounds, {bytes} bytes per round)",
            cases.len()
        ),
        cases.len() * rounds,
        start.elapsed(),
    );

    let cold_rounds = rounds.div_ceil(4).max(1);
    let start = Instant::now();
    for _ in 0..cold_rounds {
        round(&search(true), &search(false), &cases);
    }
    report(
        &format!("cold (new TemplateSets each round, {cold_rounds} rounds)"),
        cases.len() * cold_rounds,
        start.elapsed(),
    );
}
