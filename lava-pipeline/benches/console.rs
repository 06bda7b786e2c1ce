//! Console benchmarks.
//!
//! 1. The expect engine and the test-shell signal handling over a 100 MB
//!    console stream (80-byte lines, one `TESTCASE` signal every 50 lines),
//!    fed in 4 KiB chunks: MB/s for the line path used by lava-test-shell
//!    and for prompt waits (three patterns searched while a boot log
//!    scrolls). `LAVA_BENCH_MB=N` changes the size.
//! 2. lava-run's own CPU while a test prints at 115200 baud (11,520
//!    bytes/s) on the pretend board for `LAVA_BENCH_SECONDS` (default 10)
//!    seconds: the job runs on this thread, whose CPU time is measured.
//!
//! `cargo bench -p lava-pipeline --bench console`

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use lava_pipeline::unstable::actions::test::shell::SignalHandler;
use lava_pipeline::unstable::actions::test::signals::SignalParser;
use lava_pipeline::CancelToken;
use lava_pipeline::Logger;
use lava_pipeline::Registry;
use lava_pipeline::{
    connection::Pattern,
    unstable::{Cursor, Expect},
};
use lava_pipeline::{Job, JobInputs};

/// Console output of `total` bytes; with `start`, a STARTRUN first (the
/// stream is then a whole test run on its own).
fn stream(total: usize, start: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(total + 200);
    if start {
        out.extend_from_slice(b"<LAVA_SIGNAL_STARTRUN 0_bench 1_1.1>\n");
    }
    let mut i = 0u64;
    while out.len() < total {
        if i % 50 == 49 {
            writeln!(out, "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=case{i} RESULT=pass MEASUREMENT={i}.5 UNITS=ms>").ok();
        } else {
            writeln!(
                out,
                "[{:5}.{:06}] some console output line number {i:>10} of the test run",
                i / 1000,
                i % 1000
            )
            .ok();
        }
        i += 1;
    }
    out
}

fn cpu_thread() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn engine_throughput(mb: usize) {
    let data = stream(mb * 1024 * 1024, true);
    let size_mb = data.len() as f64 / (1024.0 * 1024.0);

    // the test-shell path: lines → signal parser → results
    let logger = Logger::writer("1", Box::new(std::io::sink()));
    let mut engine = Expect::new();
    let mut parser = SignalParser::new();
    let mut handler = SignalHandler::new(&logger, "common", 0);
    let started = Instant::now();
    for chunk in data.chunks(4096) {
        engine.feed(chunk);
        while let Some(line) = engine.next_line() {
            handler.line(&mut parser, &line).expect("signals");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "expect engine, test-shell lines + signals: {size_mb:.0} MB in {elapsed:.2} s = {:.0} MB/s ({} test cases)",
        size_mb / elapsed,
        handler.cases
    );

    // the prompt-wait path: three patterns searched as the output arrives
    let patterns = [
        Pattern::new(r"root@\w+:[^#]*# ").unwrap(),
        Pattern::new("Kernel panic - not syncing").unwrap(),
        Pattern::new("login:").unwrap(),
    ];
    let mut engine = Expect::new();
    let mut cursor = Cursor::default();
    let started = Instant::now();
    let mut matches = 0;
    for chunk in data.chunks(4096) {
        engine.feed(chunk);
        while engine.search(&patterns, &mut cursor).is_some() {
            matches += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "expect engine, prompt search (3 patterns, no match): {size_mb:.0} MB in {elapsed:.2} s = {:.0} MB/s ({matches} matches, {} MB dropped from the bounded buffer)",
        size_mb / elapsed,
        engine.dropped() >> 20
    );
}

fn cpu_at_115200(seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("console-fifo");
    let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/board.sh");
    let device = format!(
        "commands:\n  connect: env BOARD_HOME={home} bash {board}\n\
         constants:\n  posix: {{lava_test_sh_cmd: /bin/sh, lava_test_results_dir: '{home}/lava-%s', lava_test_shell_file: ~/.bashrc}}\n\
         actions:\n  deploy: {{methods: {{overlay: }}}}\n  boot: {{connections: {{serial: }}, methods: {{minimal: }}}}\n\
         timeouts: {{actions: {{}}, connections: {{lava-test-shell: {{seconds: 5}}}}}}\n",
        home = dir.path().display(),
        board = board.display()
    );
    let job = format!(
        "job_name: baud\ntimeouts: {{job: {{minutes: 10}}}}\nactions:\n- deploy: {{to: overlay}}\n\
         - boot: {{method: minimal, reset: false, prompts: ['root@board:~# '], transfer_overlay: {{download_command: cp -t ., unpack_command: tar -C / -xzf}}}}\n\
         - test:\n    definitions:\n    - from: inline\n      name: baud\n      path: baud.yaml\n      repository:\n        metadata: {{format: Lava-Test Test Definition 1.0, name: baud}}\n        run: {{steps: ['cat {fifo}']}}\n",
        fifo = fifo.display()
    );
    let mut inputs = JobInputs::new("1", &job, &device);
    inputs.tmp_dir = dir.path().join("tmp");
    inputs.dispatcher = Some(format!("tmp_url: {}\n", dir.path().join("tmp").display()));
    // the writer: 115200 baud = 11,520 bytes/s, 10 ms slices
    let writer_fifo = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_fifo)
            .expect("fifo");
        let data = stream(11_520 * seconds as usize, false);
        let started = Instant::now();
        for (i, slice) in data.chunks(115).enumerate() {
            let due = started + Duration::from_millis(10 * i as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if out.write_all(slice).is_err() {
                break;
            }
        }
        data.len()
    });
    let (logger, memory) = Logger::memory("1");
    let cancel = CancelToken::new().expect("cancel token");
    let mut job = Job::parse(&inputs, &Registry::with_builtins()).expect("job");
    job.validate(&logger, &cancel).expect("valid");
    let wall = Instant::now();
    let cpu = cpu_thread();
    let outcome = job.run(&logger, &cancel);
    let cpu = cpu_thread() - cpu;
    let wall = wall.elapsed();
    job.cleanup(&logger, &cancel);
    let bytes = writer.join().expect("writer");
    outcome.expect("the job passes");
    println!(
        "lava-run at 115200 baud: {bytes} bytes in {:.1} s, {} log records, CPU {:.3} s = {:.2}% of one core",
        wall.as_secs_f64(),
        memory.records().len(),
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );
}

fn main() {
    let mb = std::env::var("LAVA_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seconds = std::env::var("LAVA_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    engine_throughput(mb);
    cpu_at_115200(seconds);
}
