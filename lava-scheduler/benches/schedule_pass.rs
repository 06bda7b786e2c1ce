//! How long one scheduling pass takes on a big lab: 10,000 queued jobs over
//! 200 device types and 2,000 devices (10 workers), with tags and priorities.
//!
//! `cargo bench -p lava-scheduler --bench schedule_pass` runs it on SQLite,
//! and on PostgreSQL too when `LAVA_TEST_DATABASE_URL` is set (in a schema of
//! its own, dropped afterwards). Three passes are timed:
//! - **cold**: every device idle, 2,000 jobs get a device in one pass;
//! - **steady**: every device busy, 8,000 jobs queued, nothing to do — the
//!   pass that runs after every unrelated change;
//! - **refill**: 200 devices freed (one per type), 200 jobs placed.

use std::time::{Duration, Instant};

use lava_scheduler::model::{JobHealth, WorkerState};
use lava_scheduler::scheduler::{schedule, AcceptAll};
use lava_scheduler::store::{NewDevice, NewDeviceType, NewJob, NewWorker};
use lava_scheduler::SqlStore;

const TYPES: usize = 200;
const DEVICES_PER_TYPE: usize = 10;
const JOBS: usize = 10_000;
const WORKERS: usize = 10;
const TAGS: usize = 20;

/// A small deterministic generator (no randomness crate needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn fill(store: &SqlStore) {
    let mut rng = Lcg(42);
    for w in 0..WORKERS {
        let name = format!("worker{w:02}");
        store
            .add_worker(&NewWorker::new(name.clone()), "bench")
            .unwrap();
        store.set_worker_state(&name, WorkerState::Online).unwrap();
    }
    for t in 0..TAGS {
        store.add_tag(&format!("tag{t:02}"), "").unwrap();
    }
    for t in 0..TYPES {
        store
            .add_device_type(&NewDeviceType::new(format!("type{t:03}")))
            .unwrap();
        for d in 0..DEVICES_PER_TYPE {
            let mut device = NewDevice::new(
                format!("type{t:03}-{d:02}"),
                format!("type{t:03}"),
                format!("worker{:02}", (t * DEVICES_PER_TYPE + d) % WORKERS),
            );
            device.tags = (0..rng.next() % 3)
                .map(|_| format!("tag{:02}", rng.next() % TAGS as u64))
                .collect();
            device.tags.sort();
            device.tags.dedup();
            store.add_device(&device, "bench").unwrap();
        }
    }
    for j in 0..JOBS {
        let tags = if rng.next() % 10 < 3 {
            vec![format!("tag{:02}", rng.next() % TAGS as u64)]
        } else {
            vec![]
        };
        store
            .insert_job(&NewJob {
                submitter: "bench".into(),
                description: format!("job {j}"),
                definition: "job_name: bench\n".into(),
                requested_device_type: Some(format!("type{:03}", rng.next() % TYPES as u64)),
                priority: (rng.next() % 101) as i64,
                tags,
                ..Default::default()
            })
            .unwrap();
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn run(name: &str, store: &SqlStore) {
    let (_, fill_time) = timed(|| fill(store));
    println!(
        "{name}: filled {TYPES} types, {} devices, {JOBS} jobs in {fill_time:.1?}",
        TYPES * DEVICES_PER_TYPE
    );
    let (cold, cold_time) = timed(|| schedule(store, &AcceptAll).unwrap());
    println!(
        "{name}: cold pass   {:>9.2?}  ({} jobs placed)",
        cold_time,
        cold.jobs.len()
    );
    let mut steady = Vec::new();
    for _ in 0..5 {
        let (report, t) = timed(|| schedule(store, &AcceptAll).unwrap());
        assert!(report.jobs.is_empty());
        steady.push(t);
    }
    steady.sort();
    println!(
        "{name}: steady pass {:>9.2?}  (median of 5; every device busy, {} queued)",
        steady[2],
        JOBS - cold.jobs.len()
    );
    // Free one device per type, then place 200 jobs.
    let mut freed = std::collections::HashSet::new();
    for a in &cold.jobs {
        let device_type = a.device.split('-').next().unwrap().to_string();
        if freed.insert(device_type) {
            store.job_started(a.job).unwrap();
            store
                .finish_job(a.job, JobHealth::Complete, false, None, "bench")
                .unwrap();
        }
    }
    let (refill, refill_time) = timed(|| schedule(store, &AcceptAll).unwrap());
    println!(
        "{name}: refill pass {:>9.2?}  ({} freed devices, {} jobs placed)",
        refill_time,
        freed.len(),
        refill.jobs.len()
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_url(&format!("sqlite://{}/bench.db", dir.path().display())).unwrap();
    run("sqlite", &store);
    if let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") {
        let schema = format!("lava_bench_{}", std::process::id());
        let sep = if base.contains('?') { '&' } else { '?' };
        let store = SqlStore::open_url(&format!("{base}{sep}schema={schema}")).unwrap();
        run("postgres", &store);
        if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    } else {
        println!("postgres: skipped (LAVA_TEST_DATABASE_URL is not set)");
    }
}
