//! Metrics and events (docs/metrics.md) with the real daemons: `/metrics`
//! of `lava-server serve` and of `lava-master --metrics-bind` scraped
//! before, during and after a real QEMU job; the master's event socket
//! read by a real ZeroMQ SUB socket while jobs are submitted and canceled
//! by other processes (`lava-server manage`).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lava_scheduler::model::{DeviceHealth, JobHealth, JobState};

/// One scrape: every sample by its series as written (`name{labels}`).
#[derive(Debug)]
struct Scrape(HashMap<String, f64>);

impl Scrape {
    /// The value of `series`, 0 when absent.
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// The sum over the series of `name` whose labels include all of
    /// `labels` (each `k="v"`).
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (n, rest) = series.split_once('{').unwrap_or((series, ""));
                n == name && labels.iter().all(|l| rest.contains(l))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

/// GET /metrics from `addr` over plain HTTP/1.1; checks the status, the
/// content type and the exposition's shape (families typed before their
/// samples, `# EOF` last), and returns the samples.
fn scrape(addr: &str) -> Scrape {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.lines().any(|l| l.eq_ignore_ascii_case(
            "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"
        )),
        "{head}"
    );
    // axum may send the body chunked; the exposition is what lies between
    // the chunk sizes
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    assert!(body.ends_with("# EOF\n"), "{body}");
    let mut typed = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            typed.iter().any(|family| name == family
                || ["_bucket", "_count", "_sum", "_total", "_created"]
                    .iter()
                    .any(|s| name == format!("{family}{s}"))),
            "sample {name} before its family's TYPE"
        );
        assert!(name.starts_with("lava_"), "{name}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        samples.insert(series.to_string(), value);
    }
    Scrape(samples)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, tail) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
}

/// The QEMU lab, or `None` when its images are missing (outside CI).
fn qemu_lab_or_skip() -> Option<(Lab, std::path::PathBuf)> {
    let lab = qemu_lab(false);
    if lab.is_none() && std::env::var_os("CI").is_some() {
        panic!("CI is set but the QEMU images are missing (scripts/qemu-images.sh)");
    }
    lab
}

/// `lava-server serve` on the lab's store; its address.
fn serve(lab: &Lab) -> (Daemon, String) {
    let port = free_port();
    let log = std::fs::File::create(lab.path("serve.log")).unwrap();
    let child = Command::new(bin("lava-server"))
        .args([
            "serve",
            "--database",
            &lab.url,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--jobs-dir")
        .arg(lab.path("jobs"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for("the HTTP service to listen", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (daemon, format!("127.0.0.1:{port}"))
}

/// Scrape `addr` until `ready` holds (both endpoints reuse a rendering of
/// the store's numbers for up to 5 s: docs/metrics.md, "Cost").
fn scrape_until(addr: &str, what: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let mut last = None;
    wait_for(what, DEADLINE, || {
        let now = scrape(addr);
        let done = ready(&now);
        last = Some(now);
        done
    });
    last.unwrap()
}

const WAIT: &str = "lava_queue_wait_seconds_count{device_type=\"qemu\"}";
const DURATION: &str = "lava_job_duration_seconds_count{device_type=\"qemu\",health=\"Complete\"}";
const START: &str = "lava_start_latency_seconds_count";
const LINES: &str = "lava_log_lines_total";

#[test]
fn metrics_move_with_a_qemu_job() {
    let Some((mut lab, images)) = qemu_lab_or_skip() else {
        return;
    };
    let metrics_port = free_port();
    let master_metrics = format!("127.0.0.1:{metrics_port}");
    lab.master_args
        .extend(["--metrics-bind".to_string(), master_metrics.clone()]);
    lab.start_master();
    let (_serve, http) = serve(&lab);
    wait_for("the metrics listener", DEADLINE, || {
        std::net::TcpStream::connect(&master_metrics).is_ok()
    });
    let before = scrape(&master_metrics);
    assert_eq!(before.get("lava_workers_online"), 0.0);
    lab.start_slave();
    wait_for("the worker online in the metrics", DEADLINE, || {
        scrape(&master_metrics).get("lava_workers_online") == 1.0
    });
    let before_http = scrape_until(&http, "the worker online on the HTTP service", |s| {
        s.get("lava_workers_online") == 1.0
    });
    assert_eq!(
        before_http.get("lava_workers{state=\"Online\",health=\"Active\"}"),
        1.0
    );
    assert_eq!(
        before_http.sum("lava_devices", &["device_type=\"qemu\"", "state=\"Idle\""]),
        1.0,
        "{before_http:?}"
    );

    let job =
        lava_scheduler::submit::submit(&lab.store, &lava_bins::lab::sample_job(&images), "alice")
            .unwrap();
    lab.wait_state(job, JobState::Running);
    // during the job: the device shows Running on both endpoints, and the
    // log lines counter grows as the guest boots
    for addr in [&master_metrics, &http] {
        let during = scrape_until(addr, "the device Running in the metrics", |s| {
            s.sum("lava_devices", &["state=\"Running\""]) == 1.0
        });
        assert_eq!(
            during.sum(
                "lava_devices",
                &["device_type=\"qemu\"", "state=\"Running\""]
            ),
            1.0,
            "{addr}: {during:?}"
        );
        assert_eq!(during.get("lava_workers_online"), 1.0);
        assert_eq!(during.get(WAIT), before.get(WAIT) + 1.0, "{addr}");
    }
    wait_for("log lines counted during the job", DEADLINE, || {
        scrape(&master_metrics).get(LINES) > before.get(LINES)
    });
    wait_for(
        &format!("job {job} to finish"),
        Duration::from_secs(600),
        || lab.store.job(job).unwrap().state == JobState::Finished,
    );
    let finished = lab.store.job(job).unwrap();
    assert_eq!(
        finished.health,
        JobHealth::Complete,
        "{:?}\n{}",
        finished.failure_comment,
        lab.logs_of()
    );
    let after = scrape_until(&master_metrics, "the job's duration counted", |s| {
        s.get(DURATION) == before.get(DURATION) + 1.0
    });
    assert_eq!(after.get(WAIT), before.get(WAIT) + 1.0);
    assert_eq!(after.get(DURATION), before.get(DURATION) + 1.0);
    assert_eq!(after.get(START), before.get(START) + 1.0);
    let stored = log_lines(&lab.job_dir(job)).len() as f64;
    assert!(
        after.get(LINES) >= before.get(LINES) + stored,
        "{} lines counted, {stored} stored",
        after.get(LINES)
    );
    // the duration's sum is the job's run time as stored
    let run = (finished.end_time.unwrap() - finished.start_time.unwrap()) as f64 / 1e6;
    let sum = "lava_job_duration_seconds_sum{device_type=\"qemu\",health=\"Complete\"}";
    assert!((after.get(sum) - before.get(sum) - run).abs() < 0.01);
    assert_eq!(
        after.sum("lava_devices", &["device_type=\"qemu\"", "state=\"Idle\""]),
        1.0
    );
    // the HTTP service reports the same, the master's own numbers as the
    // master last stored them (every 2 s when they changed)
    let after_http = scrape_until(&http, "the master's metrics in the store", |http| {
        // the master's own numbers are live on its listener
        let now = scrape(&master_metrics);
        http.get(START) == now.get(START)
            && http.get(LINES) == now.get(LINES)
            && http.get(DURATION) == before_http.get(DURATION) + 1.0
    });
    assert_eq!(after_http.get(WAIT), before_http.get(WAIT) + 1.0);
    assert_eq!(after_http.get(DURATION), before_http.get(DURATION) + 1.0);
    assert_eq!(after_http.get(START), before_http.get(START) + 1.0);
    assert!(after_http.get(LINES) > before_http.get(LINES));
    assert!(after_http.get("lava_master_metrics_updated_timestamp_seconds") > 0.0);
    // only aggregates: no job, submitter or device name
    let mut stream = std::net::TcpStream::connect(&http).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(
        !text.contains("alice") && !text.contains("qemu-01"),
        "{text}"
    );
    // anything else on the master's listener is refused, without harm
    let mut stream = std::net::TcpStream::connect(&master_metrics).unwrap();
    write!(stream, "POST /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    scrape(&master_metrics);
}

/// Read one message (all its frames) within `timeout`.
fn receive(sub: &zmq::Socket, timeout: Duration) -> Option<Vec<Vec<u8>>> {
    if sub.poll(zmq::POLLIN, timeout.as_millis() as i64).unwrap() == 0 {
        return None;
    }
    Some(sub.recv_multipart(0).unwrap())
}

/// An event's topic and JSON, after checking LAVA's five frames.
fn decode(frames: &[Vec<u8>]) -> (String, serde_json::Value) {
    assert_eq!(frames.len(), 5, "{frames:?}");
    let text: Vec<String> = frames
        .iter()
        .map(|f| String::from_utf8(f.clone()).unwrap())
        .collect();
    assert!(text[0].starts_with("org.lavasoftware."), "{}", text[0]);
    // uuid1: 8-4-4-4-12 hex, version 1
    let parts: Vec<&str> = text[1].split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{}",
        text[1]
    );
    assert!(parts[2].starts_with('1'), "{}", text[1]);
    // datetime: utcnow().isoformat()
    assert_eq!(&text[2][4..5], "-", "{}", text[2]);
    assert_eq!(&text[2][10..11], "T", "{}", text[2]);
    assert!(!text[3].is_empty());
    let data: serde_json::Value = serde_json::from_str(&text[4]).unwrap();
    if text[0].ends_with(".testjob") {
        assert_eq!(
            text[3],
            data["submitter"].as_str().unwrap(),
            "username frame"
        );
    } else {
        assert_eq!(text[3], "lavaserver");
    }
    (text[0].clone(), data)
}

fn events_arrive_in_order(postgres: bool) {
    let Some(mut lab) = Lab::new(postgres) else {
        return;
    };
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    lab.master_args
        .extend(["--event-socket".to_string(), endpoint.clone()]);
    lab.start_master();
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_subscribe(b"org.lavasoftware.").unwrap();
    sub.connect(&endpoint).unwrap();
    // A subscription takes effect some time after the connection: change
    // the device until its events come through, then once more to a
    // health used only as the end mark.
    let deadline = Instant::now() + DEADLINE;
    let mut toggle = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "no event came\n{}",
            lab.logs_of()
        );
        toggle = !toggle;
        let health = if toggle {
            DeviceHealth::Maintenance
        } else {
            DeviceHealth::Unknown
        };
        lab.store
            .set_device_health("fixture-01", health, "admin", "test")
            .unwrap();
        if receive(&sub, Duration::from_millis(300)).is_some() {
            break;
        }
    }
    lab.store
        .set_device_health("fixture-01", DeviceHealth::Good, "admin", "test")
        .unwrap();
    loop {
        let frames = receive(&sub, DEADLINE).expect("the Good device event");
        let (topic, data) = decode(&frames);
        if topic.ends_with(".device") && data["health"] == "Good" {
            break;
        }
    }

    lab.start_slave();
    let job_file = lab.path("job.yaml");
    std::fs::write(
        &job_file,
        "job_name: events\ndevice_type: fixture\nvisibility: public\ntimeouts:\n  job:\n    minutes: 5\nactions: []\n",
    )
    .unwrap();
    let submit = |file: &std::path::Path| -> i64 {
        lab.manage(&[
            "jobs",
            "submit",
            file.to_str().unwrap(),
            "--submitter",
            "bob",
        ])
        .trim()
        .parse()
        .unwrap()
    };
    let done = submit(&job_file);
    lab.wait_state(done, JobState::Finished);
    // a job held on its device (the fake lava-run waits), stored by this
    // process and canceled by another one
    let definition = "job_name: held\nvisibility: public\nfixture:\n  hold: true\n";
    let held = lab
        .store
        .insert_job(&lava_scheduler::store::NewJob {
            submitter: "bob".into(),
            description: "held".into(),
            definition: definition.into(),
            original_definition: definition.into(),
            requested_device_type: Some("fixture".into()),
            priority: 50,
            ..Default::default()
        })
        .unwrap();
    lab.wait_state(held, JobState::Running);
    // a lava-test-event line of the running job, as lava-run sends it
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&lab.logs).unwrap();
    push.send_multipart(
        [
            held.to_string().into_bytes(),
            br#"{"dt": "2026-01-01T00:00:00", "lvl": "event", "msg": "board booted"}"#.to_vec(),
        ],
        0,
    )
    .unwrap();
    lab.manage(&["jobs", "cancel", &held.to_string()]);
    lab.wait_state(held, JobState::Finished);

    let mut jobs: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let mut devices = Vec::new();
    let mut workers = Vec::new();
    let mut test_events = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while test_events.is_empty()
        || jobs
            .get(&held)
            .is_none_or(|s| s.last().unwrap().0 != "Finished")
    {
        assert!(
            Instant::now() < deadline,
            "events so far: {jobs:?} {devices:?}\n{}",
            lab.logs_of()
        );
        let Some(frames) = receive(&sub, Duration::from_secs(1)) else {
            continue;
        };
        let (topic, data) = decode(&frames);
        match topic.rsplit('.').next().unwrap() {
            "testjob" => {
                let id = data["job"].as_i64().unwrap();
                assert_eq!(data["device_type"], "fixture");
                assert_eq!(data["submitter"], "bob");
                assert!(data["submit_time"].as_str().unwrap().ends_with("+00:00"));
                jobs.entry(id).or_default().push((
                    data["state"].as_str().unwrap().to_string(),
                    data["health"].as_str().unwrap().to_string(),
                ));
            }
            "device" => devices.push(data),
            "worker" => workers.push(data),
            "event" => test_events.push(data),
            other => panic!("unexpected topic {other}"),
        }
    }
    let expect = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(s, h)| (s.to_string(), h.to_string()))
            .collect()
    };
    // The quick job may send its whole log, final result included, before
    // the master reads START_OK: then it never was Running (the store goes
    // Scheduled → Finished, no start time), and no event may say otherwise.
    let mut quick = expect(&[("Submitted", "Unknown"), ("Scheduled", "Unknown")]);
    if lab.store.job(done).unwrap().start_time.is_some() {
        quick.push(("Running".into(), "Unknown".into()));
    }
    quick.push(("Finished".into(), "Complete".into()));
    assert_eq!(jobs[&done], quick, "{}", lab.logs_of());
    assert_eq!(
        jobs[&held],
        expect(&[
            ("Submitted", "Unknown"),
            ("Scheduled", "Unknown"),
            ("Running", "Unknown"),
            ("Canceling", "Unknown"),
            ("Finished", "Canceled"),
        ])
    );
    assert!(
        devices.iter().any(|d| d["device"] == "fixture-01"
            && d["device_type"] == "fixture"
            && d["state"] == "Running"
            && d["health"] == "Good"
            && d["job"] == serde_json::json!(held)),
        "{devices:?}"
    );
    assert_eq!(
        test_events,
        [serde_json::json!({"message": "board booted", "job": held.to_string()})]
    );
    assert!(
        workers.iter().any(|w| w["hostname"] == "worker1"
            && w["state"] == "Online"
            && w["health"] == "Active"),
        "{workers:?}"
    );
}

#[test]
fn events_arrive_in_order_on_sqlite() {
    events_arrive_in_order(false);
}

#[test]
fn events_arrive_in_order_on_postgres() {
    events_arrive_in_order(true);
}
