//! MultiNode in lava-run (docs/pipeline.md §12): the coordinator client
//! against a recording fake coordinator on a real socket (the fields of
//! docs/pipeline.md §12.3 in order, the member token kept out of logs and
//! descriptions, timeouts, an unreachable coordinator, a body too long),
//! then whole sub-jobs against the real coordinator (`lava-coordinator`
//! in-process): two pretend boards on ptys whose test shells talk through
//! the DUT helpers (send, wait, wait-all, sync).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use lava_pipeline::{CancelToken, Error, ErrorKind, Job, JobInputs, Logger, MemoryLog, Registry};
use lava_proto::coordinator::encode_frame;
use lava_proto::yaml::Mapping;
use serde_json::{json, Value as Json};

type Answer = dyn Fn(&Json, usize) -> Option<Json> + Send + Sync;

/// A coordinator that records every request (raw text) and answers with
/// `answer(request, index)`; `None` closes without a reply.
struct FakeCoordinator {
    port: u16,
    requests: Arc<(Mutex<Vec<String>>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCoordinator {
    fn start(answer: impl Fn(&Json, usize) -> Option<Json> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<(Mutex<Vec<String>>, Condvar)> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let answer: Arc<Answer> = Arc::new(answer);
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let mut header = [0u8; 8];
                    if stream.read_exact(&mut header).is_err() {
                        continue;
                    }
                    let length =
                        usize::from_str_radix(std::str::from_utf8(&header).unwrap(), 16).unwrap();
                    let mut body = vec![0u8; length];
                    stream.read_exact(&mut body).unwrap();
                    let text = String::from_utf8(body).unwrap();
                    let request: Json = serde_json::from_str(&text).unwrap();
                    let index = {
                        let mut list = requests.0.lock().unwrap();
                        list.push(text);
                        requests.1.notify_all();
                        list.len() - 1
                    };
                    if let Some(reply) = answer(&request, index) {
                        let _ = stream.write_all(&encode_frame(&reply));
                    }
                }
            })
        };
        FakeCoordinator {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<Json> {
        self.raw()
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect()
    }

    fn raw(&self) -> Vec<String> {
        self.requests.0.lock().unwrap().clone()
    }
}

impl Drop for FakeCoordinator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn request_name(request: &Json) -> &str {
    request["request"].as_str().unwrap_or_default()
}

/// The usual answers: the group is complete, everything else acked.
fn complete(request: &Json, _: usize) -> Option<Json> {
    Some(match request_name(request) {
        "group_data" => {
            json!({"response": "group_data", "roles": {"12": "server", "13": "client"}})
        }
        _ => json!({"response": "ack"}),
    })
}

const DEVICE: &str = "commands:\n  users:\n    noop: {do: 'true'}\n\
                      actions:\n  deploy: {methods: {image: }}\n  boot: {connections: {serial: }, methods: {minimal: }}\n\
                      timeouts: {actions: {}, connections: {}}\n";

const GROUP: &str = "5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e";
const TOKEN: &str = "k1:8d3c0e4b7a69f1d25e8b0c4a3f6e9d1278b5a0c3e6f9d2147a8b5c0e3f6a9d21";

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A coordinator conf file for `port` (LAVA's JSON).
    fn conf(&self, port: u16) -> PathBuf {
        let path = self.path(&format!("coordinator-{port}.conf"));
        std::fs::write(
            &path,
            format!(
                "{{\"port\": {port}, \"blocksize\": 4096, \"poll_delay\": 1, \"coordinator_hostname\": \"127.0.0.1\"}}\n"
            ),
        )
        .unwrap();
        path
    }

    fn inputs(
        &self,
        id: &str,
        definition: &str,
        device: &str,
        conf: &Path,
        system: u64,
    ) -> JobInputs {
        let mut inputs = JobInputs::new(id, definition, device);
        inputs.tmp_dir = self.path("tmp");
        inputs.dispatcher = Some(format!(
            "tmp_url: {}\ncoordinator: {{conf: '{}', system_timeout: {system}}}\n",
            self.path("tmp").display(),
            conf.display()
        ));
        inputs
    }
}

/// A sub-job definition without a device to drive.
fn definition(role: &str, extra_protocol: &str, actions: &str) -> String {
    format!(
        "job_name: multinode {role}\ntimeouts: {{job: {{minutes: 2}}}}\nprotocols:\n  lava-multinode:\n    \
         target_group: {GROUP}\n    role: {role}\n    group_size: 2\n    sub_id: 0\n    \
         roles: {{'12': server, '13': client}}\n    role_names: [server, client]\n{extra_protocol}\
         actions:{actions}\n"
    )
}

struct Ran {
    outcome: Result<(), Error>,
    memory: MemoryLog,
    description: String,
    elapsed: Duration,
}

impl Ran {
    fn lines(&self) -> Vec<String> {
        self.memory.records().iter().map(|r| r.to_line()).collect()
    }

    fn dump(&self) {
        for line in self.lines() {
            eprintln!("{line}");
        }
    }
}

fn run_job(inputs: &JobInputs) -> Ran {
    let (logger, memory) = Logger::memory(&inputs.job_id);
    let cancel = CancelToken::new().unwrap();
    let started = Instant::now();
    let mut job = Job::parse(inputs, &Registry::with_builtins()).unwrap();
    let description = job.description_yaml();
    let outcome = job
        .validate(&logger, &cancel)
        .and_then(|()| job.run(&logger, &cancel));
    job.cleanup(&logger, &cancel);
    Ran {
        outcome,
        memory,
        description,
        elapsed: started.elapsed(),
    }
}

fn keys(request: &Json) -> Vec<&str> {
    request
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

const BASE: [&str; 8] = [
    "port",
    "blocksize",
    "poll_delay",
    "host",
    "hostname",
    "client_name",
    "group_name",
    "role",
];

fn expect_keys(request: &Json, own: &[&str]) {
    let mut expected: Vec<&str> = BASE.to_vec();
    expected.extend_from_slice(own);
    expected.extend_from_slice(&["token", "block_ms"]);
    assert_eq!(keys(request), expected, "{request}");
}

/// Scenario 25: every request carries LAVA's fields in LAVA's order, then
/// the request's own, then `token` and `block_ms`; the token never reaches
/// the log, the description or the results.
#[test]
fn requests_carry_lavas_fields_in_order_and_the_token_stays_secret() {
    let lab = Lab::new();
    let fake = FakeCoordinator::start(|request, index| match (request_name(request), index) {
        // the group fills on the second poll
        ("group_data", 0) => Some(json!({"response": "wait"})),
        (_, 2) => Some(
            json!({"response": "ack", "message": {"13": {"ipaddr": "10.0.0.9", "port": "22"}, "12": {}}}),
        ),
        _ => complete(request, index),
    });
    let conf = lab.conf(fake.port);
    let actions = "\n- command:\n    name: noop\n    protocols:\n      lava-multinode:\n      \
                   - {action: user-command, request: lava-wait, messageID: ssh-ready, message: {ipaddr: $ipaddr}, timeout: {seconds: 20}}\n      \
                   - {action: user-command, request: lava-send, messageID: booted, message: {state: up, n: 3}}\n      \
                   - {action: user-command, request: lava-start, messageID: ignored}\n      \
                   - {action: other-action, request: lava-sync, messageID: never}\n";
    let protocol = format!("    token: '{TOKEN}'\n");
    let inputs = lab.inputs(
        "12",
        &definition("server", &protocol, actions),
        DEVICE,
        &conf,
        30,
    );
    let ran = run_job(&inputs);
    if ran.outcome.is_err() {
        ran.dump();
    }
    ran.outcome.as_ref().unwrap();
    let requests = fake.requests();
    let names: Vec<&str> = requests.iter().map(request_name).collect();
    assert_eq!(
        names,
        [
            "group_data",
            "group_data",
            "lava_wait",
            "lava_send",
            "lava_send",
            "clear_group"
        ]
    );
    let raw = fake.raw();
    let prefix = format!(
        "{{\"port\": {}, \"blocksize\": 4096, \"poll_delay\": 1, \"host\": \"127.0.0.1\", \"hostname\": \"",
        fake.port
    );
    assert!(raw[0].starts_with(&prefix), "{}", raw[0]);
    assert!(
        raw[0].contains(&format!(
            "\"client_name\": \"12\", \"group_name\": \"{GROUP}\", \"role\": \"server\", \"request\": \"group_data\", \"group_size\": 2, \"token\": \"{TOKEN}\", \"block_ms\": "
        )),
        "{}",
        raw[0]
    );
    expect_keys(&requests[0], &["request", "group_size"]);
    expect_keys(&requests[2], &["request", "messageID", "nodeID"]);
    assert_eq!(requests[2]["nodeID"], "12");
    expect_keys(&requests[3], &["request", "messageID", "message"]);
    assert_eq!(requests[3]["message"], json!({"state": "up", "n": 3}));
    assert_eq!(requests[4]["messageID"], "lava_start");
    assert_eq!(requests[4]["message"], json!({}));
    expect_keys(&requests[5], &["request", "group_size"]);
    for request in &requests {
        assert_eq!(request["token"], TOKEN);
        assert_eq!(request["client_name"], "12");
        assert!(request["block_ms"].as_u64().unwrap() <= 20_000);
    }
    // the placeholder was collated from the peer's data
    assert!(
        ran.lines()
            .iter()
            .any(|l| l.contains("Setting namespace data key ssh-ready to")
                && l.contains("ipaddr")
                && l.contains("10.0.0.9")),
        "collation not logged: {:#?}",
        ran.lines()
    );
    // the token: not in the log, the description or the results
    for line in ran.lines() {
        assert!(!line.contains(&TOKEN[3..]), "{line}");
    }
    assert!(!ran.description.contains(&TOKEN[3..]));
    assert!(ran.description.contains(GROUP));
    for result in ran.memory.results() {
        assert!(
            !lava_proto::yaml::to_flow_line(&lava_proto::yaml::Value::Mapping(result))
                .contains(&TOKEN[3..])
        );
    }
}

/// Scenario 23: a coordinator that keeps answering `wait` fails the job
/// with MultinodeTimeout after the timeout (± one poll), polling every
/// `poll_delay` (LAVA's coordinator answers at once), and the job sends
/// exactly one `clear_group`.
#[test]
fn waiting_beyond_the_timeout_is_a_multinode_timeout_with_one_clear_group() {
    let lab = Lab::new();
    let fake = FakeCoordinator::start(|request, _| {
        Some(match request_name(request) {
            "clear_group" => json!({"response": "ack"}),
            _ => json!({"response": "wait"}),
        })
    });
    let conf = lab.conf(fake.port);
    let inputs = lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 3);
    let ran = run_job(&inputs);
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::MultinodeTimeout, "{e:?}");
    assert!(e.message.contains("group_data"), "{e}");
    let requests = fake.requests();
    let names: Vec<&str> = requests.iter().map(request_name).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "clear_group").count(),
        1,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"clear_group"));
    let polls = names.iter().filter(|n| **n == "group_data").count();
    assert!(
        (3..=5).contains(&polls),
        "{polls} polls in 3 s with poll_delay 1"
    );
    assert!(ran.elapsed >= Duration::from_secs(3), "{:?}", ran.elapsed);
    assert!(ran.elapsed < Duration::from_secs(10), "{:?}", ran.elapsed);
}

/// Scenario 22: a coordinator that is not there fails the job with an
/// InfrastructureError naming it, within the system timeout; nothing to
/// clear.
#[test]
fn an_unreachable_coordinator_is_an_infrastructure_error() {
    let lab = Lab::new();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let conf = lab.conf(port);
    let inputs = lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 2);
    let ran = run_job(&inputs);
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure, "{e:?}");
    assert!(e.message.contains("coordinator unreachable"), "{e}");
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(ran.elapsed < Duration::from_secs(10), "{:?}", ran.elapsed);
    assert!(ran.lines().iter().any(|l| l.contains("never reached")));
}

/// Over CURVE a connect never fails (ZeroMQ connects in the background):
/// a coordinator nobody runs shows up as replies that never come. Still
/// an InfrastructureError `coordinator unreachable`, not a
/// MultinodeTimeout, within the system timeout (and one exchange's grace),
/// and no `clear_group` (finalize does not spend its 30 s on it).
#[test]
fn an_unreachable_curve_coordinator_is_an_infrastructure_error() {
    use lava_proto::cert::{public_text, secret_text, KeyPair};
    use lava_proto::time::UtcTime;
    let lab = Lab::new();
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = KeyPair::generate().unwrap();
    let client = KeyPair::generate().unwrap();
    let server_cert = lab.path("coordinator.key");
    let client_cert = lab.path("worker.key_secret");
    std::fs::write(&server_cert, public_text(&server.public, &UtcTime::now())).unwrap();
    std::fs::write(&client_cert, secret_text(&client, &UtcTime::now())).unwrap();
    let conf = lab.path("coordinator-curve.conf");
    std::fs::write(
        &conf,
        json!({
            "port": 1, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1",
            "encrypt": true, "curve_port": port, "coordinator_cert": server_cert, "client_cert": client_cert,
        })
        .to_string(),
    )
    .unwrap();
    let inputs = lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 2);
    let ran = run_job(&inputs);
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure, "{e:?}");
    assert!(e.message.contains("coordinator unreachable"), "{e}");
    assert!(
        e.message.contains(&format!("tcp://127.0.0.1:{port}")),
        "{e}"
    );
    // 2 s of system timeout, at most one exchange's 5 s of grace
    assert!(ran.elapsed < Duration::from_secs(10), "{:?}", ran.elapsed);
    let lines = ran.lines();
    assert!(
        lines.iter().any(|l| l.contains("never reached")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("clear_group")),
        "{lines:#?}"
    );
}

/// A conf file that is not there is an InfrastructureError naming it.
#[test]
fn a_missing_conf_file_is_named() {
    let lab = Lab::new();
    let conf = lab.path("nowhere/lava-coordinator.conf");
    let inputs = lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 2);
    let ran = run_job(&inputs);
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure);
    assert!(
        e.message.starts_with("Missing coordinator configuration"),
        "{e}"
    );
    assert!(e.message.contains(&conf.display().to_string()), "{e}");
}

/// Scenario 24: a request over 0xFFFE bytes is a JobError and nothing is
/// sent (nor cleared).
#[test]
fn a_body_too_long_is_refused_before_sending() {
    let lab = Lab::new();
    let fake = FakeCoordinator::start(complete);
    let conf = lab.conf(fake.port);
    let long = "x".repeat(0x10000);
    let text = definition("server", "", " []").replace(GROUP, &long);
    let ran = run_job(&lab.inputs("12", &text, DEVICE, &conf, 5));
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job, "{e:?}");
    assert!(
        e.message.starts_with("Message was too long to send!"),
        "{e}"
    );
    assert!(fake.requests().is_empty());
}

/// `nack` to group_data is a JobError; an empty reply is a `wait`; a
/// non-JSON reply is an error (and the group is still cleared once).
#[test]
fn nack_empty_and_invalid_replies() {
    let lab = Lab::new();
    let fake = FakeCoordinator::start(|request, index| match (request_name(request), index) {
        ("group_data", 0) => None,
        ("group_data", _) => Some(json!({"response": "nack"})),
        _ => complete(request, index),
    });
    let conf = lab.conf(fake.port);
    let ran = run_job(&lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 10));
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Job, "{e:?}");
    assert!(e.message.contains("nack"), "{e}");
    assert!(ran.lines().iter().any(|l| l.contains("empty reply")));
    let names: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| request_name(r).to_string())
        .collect();
    assert_eq!(names, ["group_data", "group_data", "clear_group"]);

    // a reply that is not JSON
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut header = [0u8; 8];
            stream.read_exact(&mut header).unwrap();
            let length = usize::from_str_radix(std::str::from_utf8(&header).unwrap(), 16).unwrap();
            let mut body = vec![0u8; length];
            stream.read_exact(&mut body).unwrap();
            stream.write_all(b"00000005hello").unwrap();
        }
    });
    let conf = lab.conf(port);
    let ran = run_job(&lab.inputs("12", &definition("server", "", " []"), DEVICE, &conf, 10));
    let e = ran.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Infrastructure, "{e:?}");
    assert!(e.message.contains("Invalid reply"), "{e}");
    server.join().unwrap();
}

/// Delayed start (`request: lava-start`, `expect_role`): after group_data
/// the sub-job waits for the expected role's `lava_start` with LAVA's
/// request (`request, waitrole, messageID`).
#[test]
fn a_delayed_start_waits_for_lava_start() {
    let lab = Lab::new();
    let fake = FakeCoordinator::start(|request, index| match (request_name(request), index) {
        ("lava_wait_all", 1) => Some(json!({"response": "wait"})),
        ("lava_wait_all", _) => Some(json!({"response": "ack", "message": {"12": {}}})),
        _ => complete(request, index),
    });
    let conf = lab.conf(fake.port);
    let protocol = "    request: lava-start\n    expect_role: server\n    timeout: {seconds: 20}\n";
    let ran = run_job(&lab.inputs(
        "13",
        &definition("client", protocol, " []"),
        DEVICE,
        &conf,
        90,
    ));
    if ran.outcome.is_err() {
        ran.dump();
    }
    ran.outcome.as_ref().unwrap();
    let requests = fake.requests();
    let names: Vec<&str> = requests.iter().map(request_name).collect();
    assert_eq!(
        names,
        [
            "group_data",
            "lava_wait_all",
            "lava_wait_all",
            "clear_group"
        ]
    );
    let mut own = BASE.to_vec();
    own.extend_from_slice(&["request", "waitrole", "messageID", "block_ms"]);
    assert_eq!(keys(&requests[1]), own);
    assert_eq!(requests[1]["waitrole"], "server");
    assert_eq!(requests[1]["messageID"], "lava_start");
    assert!(requests[1].get("token").is_none());
    assert!(ran
        .lines()
        .iter()
        .any(|l| l.contains("start is delayed by up to 20 seconds")));
}

// ---------------------------------------------------------------------------
// Whole sub-jobs against the real coordinator, on pretend boards

fn board() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/board.sh")
}

/// The pretend board of tests/board.rs: a POSIX shell on a pty.
fn board_device(lab: &Lab, id: &str) -> String {
    let home = lab.path(&format!("home-{id}"));
    std::fs::create_dir_all(&home).unwrap();
    format!(
        "commands:\n  connect: env BOARD_HOME={home} bash {board}\n\
         constants:\n  posix:\n    lava_test_sh_cmd: /bin/sh\n    lava_test_results_dir: {results}/lava-%s\n    lava_test_shell_file: ~/.bashrc\n  \
         kernel-start-message: 'Linux version [0-9]'\n  default-shell-prompt: 'lava-test: # '\n\
         actions:\n  deploy:\n    methods:\n      overlay:\n  boot:\n    connections:\n      serial:\n    methods:\n      minimal:\n\
         timeouts:\n  actions:\n    power-off: {{seconds: 5}}\n  connections:\n    lava-test-shell: {{seconds: 2}}\n",
        home = home.display(),
        board = board().display(),
        results = lab.path("root").display(),
    )
}

fn board_job(role: &str, steps: &[&str]) -> String {
    let steps: String = steps.iter().map(|s| format!("          - {s}\n")).collect();
    let actions = format!(
        "\n- deploy: {{to: overlay}}\n\
         - boot:\n    method: minimal\n    reset: false\n    prompts: ['root@board:~# ']\n    \
         transfer_overlay:\n      download_command: cp -t .\n      unpack_command: tar -C / -xzf\n\
         - test:\n    timeout: {{minutes: 2}}\n    definitions:\n    - from: inline\n      name: {role}\n      path: inline/{role}.yaml\n      \
         repository:\n        metadata: {{format: Lava-Test Test Definition 1.0, name: {role}, description: {role}}}\n        \
         run:\n          steps:\n{steps}"
    );
    definition(role, "    timeout: {seconds: 15}\n", &actions).replace(
        "timeouts: {job: {minutes: 2}}",
        "timeouts: {job: {minutes: 3}, action: {seconds: 60}}",
    )
}

fn result_of(results: &[Mapping], definition: &str, case: &str) -> Option<String> {
    results
        .iter()
        .find(|r| {
            r.get("definition").and_then(|v| v.as_str()) == Some(definition)
                && r.get("case").and_then(|v| v.as_str()) == Some(case)
        })
        .and_then(|r| r.get("result"))
        .map(lava_pipeline::scalar)
}

/// Two sub-jobs, a server and a client, each on its pretend board, with
/// the real coordinator in this process: the client waits for the
/// server's `lava-send` value, both `lava-sync`; `lava-wait-all` with a
/// role; an unknown role is answered `nack` without the coordinator; a
/// wait nobody answers times out: `fail`, and the helper still gets `nack`
/// (exit 1).
#[test]
fn two_boards_send_wait_and_sync_through_the_real_coordinator() {
    use lava_coordinator::{Server, ServerConfig, Settings};
    let lab = Lab::new();
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = Server::bind(config, Settings::default())
        .unwrap()
        .spawn()
        .unwrap();
    let port = server.local_addrs()[0].port();
    let conf = lab.conf(port);
    two_boards(&lab, &conf, GROUP);
    // both cleared: the coordinator holds no group any more
    assert_eq!(server.stats().coordinator.groups, 0);
}

/// The same two boards against a coordinator started outside the test,
/// e.g. LAVA 2020.01's own daemon (scenario 38; how to run it:
/// scripts/interop/README.md): `LAVA_INTEROP_COORDINATOR_CONF` names its
/// JSON conf file (LAVA's format). Each run uses a fresh group.
#[test]
#[ignore = "needs an external coordinator: LAVA_INTEROP_COORDINATOR_CONF"]
fn two_boards_through_an_external_coordinator() {
    let Some(conf) = std::env::var_os("LAVA_INTEROP_COORDINATOR_CONF") else {
        eprintln!("LAVA_INTEROP_COORDINATOR_CONF is not set: nothing to do");
        return;
    };
    let lab = Lab::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let group = format!("interop-{}-{nanos}", std::process::id());
    two_boards(&lab, Path::new(&conf), &group);
}

/// Runs the server and client sub-jobs of the pretend-board group through
/// the coordinator of `conf`, in group `group`, and checks their results.
fn two_boards(lab: &Lab, conf: &Path, group: &str) {
    let server_job = board_job(
        "server",
        &["lava-send ready ip=10.0.0.5 port=22", "lava-sync done"],
    );
    let client_job = board_job(
        "client",
        &[
            "lava-wait ready",
            "lava-test-case got-ip --shell grep -q 12:ip=10.0.0.5 /tmp/lava_multi_node_cache.txt",
            "lava-wait-all ready server",
            "lava-test-case unknown-role-nacks --shell ! lava-wait-all ready nosuchrole",
            "lava-sync done",
            "lava-test-case timeout-nacks --shell ! lava-wait never",
        ],
    );
    let server_job = server_job.replace(GROUP, group);
    let client_job = client_job.replace(GROUP, group);
    let server_inputs = lab.inputs("12", &server_job, &board_device(lab, "12"), conf, 60);
    let client_inputs = lab.inputs("13", &client_job, &board_device(lab, "13"), conf, 60);
    let server_thread = std::thread::spawn(move || run_job(&server_inputs));
    let client = run_job(&client_inputs);
    let server_ran = server_thread.join().unwrap();
    for (name, ran) in [("server", &server_ran), ("client", &client)] {
        if ran.outcome.is_err() {
            eprintln!("--- {name}");
            ran.dump();
        }
    }
    server_ran.outcome.as_ref().unwrap();
    client.outcome.as_ref().unwrap();
    let results = server_ran.memory.results();
    assert_eq!(
        result_of(&results, "0_server", "multinode-send-ready").as_deref(),
        Some("pass")
    );
    assert_eq!(
        result_of(&results, "0_server", "multinode-sync-done").as_deref(),
        Some("pass")
    );
    let results = client.memory.results();
    for (case, expected) in [
        ("multinode-wait-ready", "pass"),
        ("got-ip", "pass"),
        ("multinode-wait_all-ready", "pass"),
        ("unknown-role-nacks", "pass"),
        ("multinode-sync-done", "pass"),
        ("multinode-wait-never", "fail"),
        ("timeout-nacks", "pass"),
    ] {
        assert_eq!(
            result_of(&results, "0_client", case).as_deref(),
            Some(expected),
            "{case}: {results:#?}"
        );
    }
    // the reply typed to the client's helper
    let typed = client.memory.messages(lava_proto::log::LogLevel::Input);
    assert!(
        typed
            .iter()
            .any(|t| t.starts_with("<LAVA_WAIT_COMPLETE 12:ip=10.0.0.5 12:port=22>")),
        "{typed:?}"
    );
    assert!(typed
        .iter()
        .any(|t| t.starts_with("<LAVA_WAIT_ALL_COMPLETE nack>")));
    assert!(typed
        .iter()
        .any(|t| t.starts_with("<LAVA_WAIT_COMPLETE nack>")));
    // the test action of a sub-job is LAVA's multinode-test, at the top
    assert!(client
        .lines()
        .iter()
        .any(|l| l.contains("start: 3 multinode-test")));
}

/// A wait's answer is peers' text typed into the device's console: a
/// coordinator (or a peer's action-level call, or any client when tokens
/// are off) may hand back values with newlines, blanks, markers or shell
/// syntax. Only harmless `sender:key=value` pairs are typed, on one line;
/// the others are dropped with a warning naming sender and key.
#[test]
fn hostile_wait_answers_are_not_typed_to_the_device() {
    let lab = Lab::new();
    let home = lab.path("home-13");
    let pwned = home.join("pwned");
    let message = json!({
        "12": {
            "ip": "10.0.0.5",
            "evil": format!("1\ntouch {}\n", pwned.display()),
            "marker": "<LAVA_MULTI_NODE> <LAVA_SEND evil ip=6.6.6.6",
            "signal": "x> <LAVA_SIGNAL_TESTCASE TEST_CASE_ID=forged RESULT=pass>",
            "space": "a nack",
            "dollar": format!("$(touch {})", pwned.display()),
            "port": "22",
        },
        "12\ntouch": {"ip": "10.0.0.6"},
    });
    let fake = FakeCoordinator::start(move |request, index| match request_name(request) {
        "lava_wait" => Some(json!({"response": "ack", "message": message.clone()})),
        _ => complete(request, index),
    });
    let conf = lab.conf(fake.port);
    let job = board_job(
        "client",
        &[
            "lava-test-case wait-ok --shell lava-wait ready",
            "lava-test-case after --shell true",
        ],
    );
    let ran = run_job(&lab.inputs("13", &job, &board_device(&lab, "13"), &conf, 30));
    if ran.outcome.is_err() {
        ran.dump();
    }
    ran.outcome.as_ref().unwrap();
    let typed = ran.memory.messages(lava_proto::log::LogLevel::Input);
    let replies: Vec<&String> = typed
        .iter()
        .filter(|t| t.contains("LAVA_WAIT_COMPLETE"))
        .collect();
    assert_eq!(
        replies,
        ["<LAVA_WAIT_COMPLETE 12:ip=10.0.0.5 12:port=22>\n"],
        "{typed:?}"
    );
    for t in &typed {
        assert!(
            !t.contains("touch") && !t.contains("6.6.6.6") && !t.contains("forged"),
            "{t:?}"
        );
    }
    let results = ran.memory.results();
    for (case, expected) in [
        ("multinode-wait-ready", Some("pass")),
        ("wait-ok", Some("pass")),
        ("after", Some("pass")),
        ("forged", None),
    ] {
        assert_eq!(
            result_of(&results, "0_client", case).as_deref(),
            expected,
            "{case}: {results:#?}"
        );
    }
    assert!(!pwned.exists());
    let names: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| request_name(r).to_string())
        .collect();
    assert_eq!(names, ["group_data", "lava_wait", "clear_group"]);
    // each dropped pair is named by sender and key, its value never logged
    let warnings = ran.memory.messages(lava_proto::log::LogLevel::Warning);
    for key in ["evil", "marker", "signal", "space", "dollar"] {
        let named = format!("sender \"12\" key \"{key}\"");
        assert!(
            warnings.iter().any(|w| w.contains(&named)),
            "{named}: {warnings:#?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("sender \"12\\ntouch\" key \"ip\"")),
        "{warnings:#?}"
    );
    for line in ran.lines() {
        assert!(
            !line.contains("pwned") && !line.contains("6.6.6.6"),
            "{line}"
        );
    }
}
