//! How fast job definitions are validated: every file of LAVA's job
//! corpus (`../shared/lava-corpus/jobs/`, or `$LAVA_CORPUS_DIR/jobs`), read
//! once, then loaded and validated `ROUNDS` times as the master validates
//! a submission (`lava_proto::job::validate_bytes`). Prints files/s and
//! MB/s, and the share of time spent loading the YAML.
//!
//! ```sh
//! cargo bench -p lava-proto --bench validate_jobs
//! LAVA_BENCH_ROUNDS=100 cargo bench -p lava-proto --bench validate_jobs
//! ```
//!
//! A plain binary (`harness = false`), so no benchmark framework is built.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lava_proto::job::{self, Options};
use lava_proto::yaml::{self, Limits};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let bytes = std::fs::read(&path)?;
            out.push((path, bytes));
        }
    }
    Ok(())
}

fn main() {
    let dir = corpus_dir();
    let mut files = Vec::new();
    if let Err(err) = yaml_files(&dir.join("jobs"), &mut files) {
        println!(
            "skipping: LAVA corpus not found at {} ({err})",
            dir.display()
        );
        return;
    }
    files.sort();
    let rounds: u32 = std::env::var("LAVA_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let options = Options::default();

    // Warm up (page cache, allocator), and count the verdicts once.
    let valid = files
        .iter()
        .filter(|(_, b)| job::validate_bytes(b, &options).is_valid())
        .count();

    let mut load = Duration::ZERO;
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let start = Instant::now();
        for (_, b) in &files {
            black_box(yaml::load_bytes(black_box(b), &Limits::default()).ok());
        }
        load += start.elapsed();
        let start = Instant::now();
        for (_, b) in &files {
            black_box(job::validate_bytes(black_box(b), &options));
        }
        total += start.elapsed();
    }
    let judged = files.len() as f64 * f64::from(rounds);
    let seconds = total.as_secs_f64();
    println!(
        "validate_jobs: {} files ({:.1} MB, {valid} valid), {rounds} rounds: \
         {:.0} files/s, {:.1} MB/s, {:.1} ms per round; YAML loading is {:.0}% of the time",
        files.len(),
        bytes as f64 / 1e6,
        judged / seconds,
        bytes as f64 * f64::from(rounds) / seconds / 1e6,
        seconds * 1e3 / f64::from(rounds),
        100.0 * load.as_secs_f64() / seconds,
    );
}
