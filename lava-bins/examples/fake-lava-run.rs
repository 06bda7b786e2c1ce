//! A stand-in for `lava-run`, used by the daemon tests (and a small example
//! of a lava-run-compatible log producer): it takes lava-run's
//! command line, streams log lines to the master exactly as lava-run does
//! (lava-pipeline's `Logger`: PUSH, lossless, with the journal the worker
//! answers LOG_SYNC with), writes `description.yaml` and exits.
//!
//! What it does is read from the job definition's `fixture` mapping:
//! `lines` (log lines to send, default 5), `delay_ms` (pause after each
//! line), `result` (`pass` or `fail`),
//! `crash` (exit without description or final result), `hold` (wait for the
//! file `release` in the output directory, or a signal), `ignore_sigterm`,
//! `stderr` (text written to standard error).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lava_pipeline::run::{Invocation, RunOptions, JOURNAL};
use lava_pipeline::Logger;
use lava_proto::cert;
use lava_proto::log::{LogLevel, LogRecord};
use lava_proto::socket::{ConnectOptions, Security};
use lava_proto::yaml::{self, Mapping, Value};

fn main() {
    // lava-run's own command line (the worker writes it with
    // RunOptions::to_args)
    let options = match RunOptions::from_args(std::env::args_os().skip(1)) {
        Ok(Invocation::Run(options)) => options,
        other => panic!("not a lava-run command line: {other:?}"),
    };
    let job_id = options.job_id.clone();
    let out = options.output_dir.clone();
    let url = options.logging_url.clone().expect("--logging-url");
    let job_file = &options.definition;
    let definition = yaml::load(&std::fs::read_to_string(job_file).unwrap()).unwrap();
    let fixture = definition
        .get("fixture")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let int = |key: &str, default: i64| fixture.get(key).and_then(Value::as_i64).unwrap_or(default);
    let flag = |key: &str| fixture.get(key).and_then(Value::as_bool).unwrap_or(false);

    let canceled = Arc::new(AtomicBool::new(false));
    if !flag("ignore_sigterm") {
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&canceled)).unwrap();
    } else {
        // Registering a flag nobody reads keeps the default action away.
        signal_hook::flag::register(
            signal_hook::consts::SIGTERM,
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
    }
    if let Some(text) = fixture.get("stderr").and_then(Value::as_str) {
        eprint!("{text}");
    }
    let security = match (&options.master_cert, &options.slave_cert) {
        (Some(master), Some(slave)) => Security::CurveClient {
            own: cert::load_pair(slave).unwrap(),
            server: cert::load_public(master).unwrap(),
        },
        _ => Security::Null,
    };
    let logger = Logger::zmq(&url, &job_id, &security, &ConnectOptions::default())
        .unwrap()
        .with_journal(&out.join(JOURNAL))
        .unwrap();
    let send = |lvl: LogLevel, msg: Value| logger.record(LogRecord::new(lvl, msg));
    let map = |pairs: &[(&str, Value)]| {
        Value::Mapping(
            pairs
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect::<Mapping>(),
        )
    };

    send(LogLevel::Info, "start: 0 validate".into());
    let delay = Duration::from_millis(int("delay_ms", 0).max(0) as u64);
    for i in 0..int("lines", 5) {
        send(LogLevel::Target, format!("line {i}").into());
        if !delay.is_zero() {
            // A slow board: output trickles in.
            std::thread::sleep(delay);
        }
    }
    send(
        LogLevel::Marker,
        map(&[("case", "smoke".into()), ("type", "test_case".into())]),
    );
    send(
        LogLevel::Results,
        map(&[
            ("case", "smoke".into()),
            ("definition", "0_fixture".into()),
            ("result", "pass".into()),
        ]),
    );
    if flag("hold") {
        while !canceled.load(Ordering::SeqCst) && !out.join("release").exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if flag("crash") {
        eprintln!("fake-lava-run: crashing on purpose");
        std::process::exit(3);
    }
    let result = if canceled.load(Ordering::SeqCst) {
        map(&[
            ("case", "job".into()),
            ("definition", "lava".into()),
            ("error_msg", "job canceled".into()),
            ("error_type", "Canceled".into()),
            ("result", "fail".into()),
        ])
    } else {
        let result = fixture
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or("pass")
            .to_string();
        map(&[
            ("case", "job".into()),
            ("definition", "lava".into()),
            ("result", result.into()),
        ])
    };
    send(LogLevel::Results, result);
    logger.close(); // infinite linger: every line is delivered first
    std::fs::write(
        out.join("description.yaml"),
        format!("job:\n  id: {job_id}\n"),
    )
    .unwrap();
}
