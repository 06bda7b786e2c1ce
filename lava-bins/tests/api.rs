//! The HTTP service against a real lab: `lava-server serve`, `lava-master`,
//! `lava-slave` and `lava-run` as processes, a QEMU guest as the board, on
//! SQLite and PostgreSQL. Jobs go in through XML-RPC and REST, their logs
//! come out through `scheduler.jobs.logs` offsets, results as YAML, CSV and
//! JUnit; cancel, resubmit, visibility on every read path, and refusals
//! (bad token, no token, not an admin) with their codes. The real
//! `lavacli` drives the same service in `lavacli_against_the_service`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use dxr::{FaultResponse, MethodCall, MethodResponse, Value};
use lava_scheduler::model::{JobHealth, JobState};

/// A lab with the HTTP service and three accounts.
struct ApiLab {
    lab: Lab,
    /// Messages the SMTP sink received.
    mail: std::sync::mpsc::Receiver<String>,
    images: PathBuf,
    base: String,
    _serve: Daemon,
    admin: String,
    alice: String,
    bob: String,
}

fn token_for(lab: &Lab, user: &str, superuser: bool) -> String {
    let email = format!("{user}@example.com");
    let mut add = vec!["users", "add", user, "--email", &email];
    if superuser {
        add.push("--superuser");
    }
    lab.manage(&add);
    lab.manage(&["tokens", "add", "--user", user, "--description", "tests"])
        .trim()
        .to_string()
}

fn api_lab(postgres: bool) -> Option<ApiLab> {
    let (mut lab, images) = qemu_lab(postgres)?;
    lab.start_master();
    lab.start_slave();
    let admin = token_for(&lab, "admin", true);
    let alice = token_for(&lab, "alice", false);
    let bob = token_for(&lab, "bob", false);
    let port = free_port();
    let (smtp, mail) = smtp_sink();
    let log = std::fs::File::create(lab.path("serve.log")).unwrap();
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("../share/device-types");
    let serve = Command::new(bin("lava-server"))
        .args([
            "serve",
            "--database",
            &lab.url,
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--jobs-dir")
        .arg(lab.path("jobs"))
        .arg("--device-types")
        .arg(&share)
        .args(["--smtp", &format!("127.0.0.1:{smtp}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let serve = Daemon(serve);
    wait_for("the HTTP service to listen", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Some(ApiLab {
        lab,
        mail,
        images,
        base: format!("http://127.0.0.1:{port}"),
        _serve: serve,
        admin,
        alice,
        bob,
    })
}

/// An SMTP server on loopback that accepts every message and passes each
/// one on (envelope recipients, then the data).
fn smtp_sink() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = stream.write_all(b"220 sink\r\n");
            let mut message = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                let command = line.to_ascii_uppercase();
                let answer: &[u8] = if command.starts_with("DATA") {
                    let _ = stream.write_all(b"354 go on\r\n");
                    let mut data = String::new();
                    while reader.read_line(&mut data).unwrap_or(0) > 0
                        && !data.ends_with("\r\n.\r\n")
                    {}
                    message.push_str(&data);
                    let _ = tx.send(std::mem::take(&mut message));
                    b"250 queued\r\n"
                } else if command.starts_with("QUIT") {
                    let _ = stream.write_all(b"221 bye\r\n");
                    break;
                } else {
                    if command.starts_with("RCPT") {
                        message.push_str(&line);
                    }
                    b"250 ok\r\n"
                };
                let _ = stream.write_all(answer);
                line.clear();
            }
        }
    });
    (port, rx)
}

/// An HTTP receiver of callbacks on loopback: it answers 503 to the first
/// request (so the notifier must try again) and 200 to the others, and
/// passes each request on (head and body).
fn callback_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                head.push_str(&line);
                line.clear();
            }
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let status = if n == 0 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
        }
    });
    (url, rx)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// An XML-RPC answer: a value, a fault (code, text) or an HTTP status.
#[derive(Debug)]
enum Rpc {
    Value(Value),
    Fault(i32, String),
    Http(u16),
}

impl Rpc {
    fn value(self) -> Value {
        match self {
            Rpc::Value(v) => v,
            other => panic!("expected a value, got {other:?}"),
        }
    }
    fn fault(&self) -> i32 {
        match self {
            Rpc::Fault(code, _) => *code,
            other => panic!("expected a fault, got {other:?}"),
        }
    }
}

impl ApiLab {
    fn rpc(&self, user: Option<(&str, &str)>, method: &str, params: Vec<Value>) -> Rpc {
        let body = MethodCall {
            name: method.into(),
            params,
        }
        .to_xml()
        .unwrap();
        let mut request = agent()
            .post(&format!("{}/RPC2", self.base))
            .header("Content-Type", "text/xml");
        if let Some((name, token)) = user {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{token}"));
            request = request.header("Authorization", &format!("Basic {basic}"));
        }
        let mut response = request.send(body.as_bytes()).unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return Rpc::Http(status);
        }
        let text = response.body_mut().read_to_string().unwrap();
        if let Ok(fault) = FaultResponse::from_xml(&text) {
            return Rpc::Fault(fault.fault.code(), fault.fault.string().to_string());
        }
        Rpc::Value(MethodResponse::from_xml(&text).unwrap().value)
    }

    /// A REST GET: status and body.
    fn get(&self, token: Option<&str>, path: &str) -> (u16, String) {
        let mut request = agent().get(&format!("{}/api/v0.2/{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Token {token}"));
        }
        let mut response = request.call().unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    }

    fn get_json(&self, token: Option<&str>, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(token, path);
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    fn post_job(&self, token: Option<&str>, definition: &str) -> (u16, serde_json::Value) {
        let mut request = agent()
            .post(&format!("{}/api/v0.2/jobs/", self.base))
            .header("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Token {token}"));
        }
        let body = serde_json::json!({ "definition": definition }).to_string();
        let mut response = request.send(body.as_bytes()).unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap(),
        )
    }

    fn serve_log(&self) -> String {
        std::fs::read_to_string(self.lab.path("serve.log")).unwrap_or_default()
    }
}

fn id_of(value: &Value) -> i64 {
    match value {
        Value::Integer(i) => i64::from(*i),
        Value::Long(i) => *i,
        other => panic!("not an id: {other:?}"),
    }
}

fn field<'v>(value: &'v Value, key: &str) -> &'v Value {
    match value {
        Value::Struct(map) => map
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {value:?}")),
        other => panic!("not a struct: {other:?}"),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

/// Follow a job's log through `scheduler.jobs.logs` offsets, as lavacli
/// does, until `finished`; returns the text received.
fn follow_log(api: &ApiLab, user: (&str, &str), id: i64) -> String {
    let mut received = String::new();
    let mut line = 0i64;
    let mut calls = 0;
    wait_for(
        &format!("the log of job {id} to finish"),
        std::time::Duration::from_secs(240),
        || {
            calls += 1;
            let answer = api
                .rpc(
                    Some(user),
                    "scheduler.jobs.logs",
                    vec![s(&id.to_string()), Value::Integer(line as i32), Value::Nil],
                )
                .value();
            let Value::Array(parts) = answer else {
                panic!("logs: not an array")
            };
            let (Value::Boolean(finished), Value::Base64(data)) = (&parts[0], &parts[1]) else {
                panic!("logs: {parts:?}")
            };
            let chunk = String::from_utf8(data.clone()).unwrap();
            line += chunk.lines().count() as i64;
            received.push_str(&chunk);
            *finished
        },
    );
    assert!(calls > 1 || !received.is_empty());
    received
}

fn visibility_and_flows(postgres: bool) {
    let Some(api) = api_lab(postgres) else { return };
    let alice = ("alice", api.alice.as_str());
    let bob = ("bob", api.bob.as_str());
    let sample = lava_bins::lab::sample_job(&api.images);

    // alice submits through XML-RPC (the job id comes back as an int),
    // asking for a callback and an e-mail when it ends
    let (hook, hooks) = callback_receiver();
    let notified = format!(
        "{sample}notify:\n  criteria: {{status: finished}}\n  verbosity: verbose\n  recipients:\n  - to: {{method: email, user: alice}}\n  callbacks:\n  - url: {hook}\n    method: POST\n    token: callback-secret\n    dataset: results\n    content-type: json\n"
    );
    let a = id_of(
        &api.rpc(Some(alice), "scheduler.jobs.submit", vec![s(&notified)])
            .value(),
    );
    // bob submits a personal job through REST
    let private = sample.replace("visibility: public", "visibility: personal");
    let (status, body) = api.post_job(Some(&api.bob), &private);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"], "job(s) successfully submitted");
    let b = body["job_ids"][0].as_i64().unwrap();

    // the log, followed by offsets to the end, is the stored log exactly
    let log = follow_log(&api, alice, a);
    let stored = std::fs::read_to_string(api.lab.job_dir(a).join("output.yaml")).unwrap();
    assert_eq!(
        log, stored,
        "the log through the API differs from output.yaml"
    );
    assert!(
        log.contains("\"lvl\": \"results\""),
        "no results in the log"
    );
    let shown = api
        .rpc(Some(alice), "scheduler.jobs.show", vec![s(&a.to_string())])
        .value();
    assert_eq!(text(field(&shown, "state")), "Finished");
    assert_eq!(
        text(field(&shown, "health")),
        "Complete",
        "{}",
        api.lab.logs_of()
    );
    assert!(matches!(field(&shown, "submit_time"), Value::DateTime(_)));
    assert!(matches!(field(&shown, "end_time"), Value::DateTime(_)));

    // the job's end reached the callback receiver, through a refusal and
    // a retry, and the SMTP sink
    let wait = std::time::Duration::from_secs(30);
    let first = hooks.recv_timeout(wait).expect("no callback");
    let second = hooks
        .recv_timeout(wait)
        .expect("the refused callback was not tried again");
    assert_eq!(first, second, "the retry sends the same request");
    assert!(second.starts_with("POST /hook "), "{second}");
    assert!(
        second
            .to_ascii_lowercase()
            .contains("authorization: callback-secret"),
        "{second}"
    );
    let body: serde_json::Value =
        serde_json::from_str(second.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["id"], a);
    assert_eq!(
        (body["health_string"].as_str(), body["health"].as_i64()),
        (Some("Complete"), Some(1))
    );
    assert!(
        body["results"]["0_smoke"]
            .as_str()
            .unwrap()
            .contains("\"name\": \"uptime\""),
        "{body}"
    );
    let mail = api.mail.recv_timeout(wait).expect("no e-mail");
    assert!(mail.contains("RCPT TO:<alice@example.com>"), "{mail}");
    assert!(
        mail.contains(&format!(
            "Subject: LAVA job {a} (lava-lab sample job): Complete"
        )),
        "{mail}"
    );
    assert!(mail.contains("0_smoke.uptime: pass"), "{mail}");
    assert!(
        hooks
            .recv_timeout(std::time::Duration::from_millis(1500))
            .is_err(),
        "a delivered callback was sent again"
    );

    // results as YAML (XML-RPC), CSV, JUnit and the test list (REST)
    let yaml = text(
        &api.rpc(
            None,
            "results.get_testjob_results_yaml",
            vec![s(&a.to_string())],
        )
        .value(),
    );
    assert!(
        yaml.contains("\"name\": \"uptime\"") && yaml.contains("\"suite\": \"0_smoke\""),
        "{yaml}"
    );
    let (status, csv) = api.get(None, &format!("jobs/{a}/csv/"));
    assert_eq!(status, 200);
    assert!(
        csv.lines()
            .any(|l| l.contains("\"0_smoke\",\"pass\"") && l.contains("\"kernel-version\"")),
        "{csv}"
    );
    let (status, junit) = api.get(None, &format!("jobs/{a}/junit/"));
    assert_eq!(status, 200);
    assert!(
        junit.contains("<testsuite name=\"0_smoke\"") && junit.contains("name=\"overlay-mounted\""),
        "{junit}"
    );
    let (status, tests) = api.get_json(None, &format!("jobs/{a}/tests/?limit=100"));
    assert_eq!(status, 200);
    let names: Vec<&str> = tests["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"uptime") && names.contains(&"job"),
        "{names:?}"
    );
    let uptime = tests["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "uptime")
        .unwrap();
    assert_eq!(uptime["unit"], "seconds");
    assert!(uptime["measurement"].as_str().unwrap().contains('.'));
    // REST logs by line range, and 404 past the end
    let (status, first) = api.get(None, &format!("jobs/{a}/logs/?start=0&end=2"));
    assert_eq!(status, 200);
    assert_eq!(
        first,
        stored
            .lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    let total = stored.lines().count();
    assert_eq!(
        api.get(None, &format!("jobs/{a}/logs/?start={total}")).0,
        404
    );

    // bob's personal job: invisible to alice and to anonymous callers on
    // every read path, visible to bob and to the admin
    api.lab.wait_state(b, JobState::Finished);
    assert!(api.lab.job_dir(b).join("output.yaml").exists());
    for caller in [Some(alice), None] {
        for method in [
            "scheduler.jobs.show",
            "scheduler.jobs.definition",
            "scheduler.jobs.logs",
            "results.get_testjob_results_yaml",
        ] {
            let answer = api.rpc(caller, method, vec![s(&b.to_string())]);
            assert_eq!(answer.fault(), 404, "{method} as {caller:?}");
        }
        let listed = api
            .rpc(
                caller,
                "scheduler.jobs.list",
                vec![
                    Value::Nil,
                    Value::Nil,
                    Value::Integer(0),
                    Value::Integer(100),
                    Value::Integer(0),
                    Value::Boolean(false),
                ],
            )
            .value();
        let Value::Array(jobs) = listed else { panic!() };
        assert!(
            jobs.iter().all(|j| id_of(field(j, "id")) != b),
            "listed to {caller:?}"
        );
        assert!(jobs.iter().any(|j| id_of(field(j, "id")) == a));
        let token = caller.map(|c| c.1);
        for path in ["", "logs/", "tests/", "suites/", "junit/", "csv/", "yaml/"] {
            assert_eq!(
                api.get(token, &format!("jobs/{b}/{path}")).0,
                404,
                "REST {path} as {caller:?}"
            );
        }
        let (_, page) = api.get_json(token, &format!("jobs/?id={b}"));
        assert_eq!(page["count"], 0, "REST list as {caller:?}");
    }
    let (status, job_b) = api.get_json(Some(&api.bob), &format!("jobs/{b}/"));
    assert_eq!((status, job_b["submitter"].as_str()), (200, Some("bob")));
    assert_eq!(
        api.get_json(Some(&api.admin), &format!("jobs/?id={b}")).1["count"],
        1
    );
    let (_, page) = api.get_json(Some(&api.bob), &format!("jobs/?ordering=id&id={b}"));
    assert_eq!(page["results"][0]["id"], b);

    // cancel: not bob's to cancel; alice cancels her own
    let (status, body) = api.post_job(Some(&api.alice), &sample);
    assert_eq!(status, 201, "{body}");
    let c = body["job_ids"][0].as_i64().unwrap();
    let (status, body) = api.get_json(Some(&api.bob), &format!("jobs/{c}/cancel/"));
    assert_eq!(status, 403, "{body}");
    let (status, body) = api.get_json(Some(&api.alice), &format!("jobs/{c}/cancel/"));
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("Job cancel signal sent."))
    );
    api.lab.wait_state(c, JobState::Finished);
    assert_eq!(api.lab.store.job(c).unwrap().health, JobHealth::Canceled);

    // resubmit through XML-RPC: a new job with the same definition, then
    // canceled through XML-RPC
    let d = id_of(
        &api.rpc(
            Some(alice),
            "scheduler.jobs.resubmit",
            vec![s(&a.to_string())],
        )
        .value(),
    );
    assert!(d > c);
    assert_eq!(api.lab.store.job(d).unwrap().original_definition, notified);
    assert_eq!(
        api.rpc(Some(bob), "scheduler.jobs.cancel", vec![s(&d.to_string())])
            .fault(),
        403
    );
    assert!(matches!(
        api.rpc(
            Some(alice),
            "scheduler.jobs.cancel",
            vec![s(&d.to_string())]
        )
        .value(),
        Value::Boolean(true)
    ));
    api.lab.wait_state(d, JobState::Finished);

    // refusals and their codes
    assert!(matches!(
        api.rpc(Some(("alice", "not-a-token")), "system.version", vec![]),
        Rpc::Http(401)
    ));
    assert!(matches!(
        api.rpc(Some(("bob", &api.alice)), "system.version", vec![]),
        Rpc::Http(401)
    ));
    assert_eq!(
        api.rpc(None, "scheduler.jobs.submit", vec![s(&sample)])
            .fault(),
        401
    );
    match api.rpc(
        Some(alice),
        "scheduler.jobs.submit",
        vec![s("job_name: x\n")],
    ) {
        Rpc::Fault(400, text) => assert!(
            text.starts_with("Problem with submitted job data: "),
            "{text}"
        ),
        other => panic!("an invalid job: {other:?}"),
    }
    let update = vec![
        s("qemu-01"),
        Value::Nil,
        Value::Nil,
        Value::Nil,
        Value::Nil,
        s("MAINTENANCE"),
        Value::Nil,
    ];
    assert_eq!(
        api.rpc(Some(alice), "scheduler.devices.update", update)
            .fault(),
        403
    );
    assert_eq!(
        api.lab.store.device("qemu-01").unwrap().health,
        lava_scheduler::model::DeviceHealth::Good
    );
    let (status, body) = api.get_json(Some("bad-token"), "devices/");
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("Invalid token."))
    );
    let (status, body) = api.post_job(None, &sample);
    assert_eq!(
        (status, body["detail"].as_str()),
        (403, Some("Authentication credentials were not provided."))
    );
    let log = api.serve_log();
    assert!(
        log.contains("[HTTP] refused scheduler.devices.update for alice from 127.0.0.1"),
        "{log}"
    );
    assert!(
        log.contains("refused /api/v0.2/devices/ for unknown from 127.0.0.1"),
        "{log}"
    );
    assert!(
        !log.contains(&api.alice) && !log.contains(&api.bob),
        "a token was logged"
    );

    // a 1 GiB definition is refused with 413 from its headers, before a
    // byte of it is read
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&api.base["http://".len()..]).unwrap();
        write!(
            stream,
            "POST /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            api.alice,
            1u64 << 30
        )
        .unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut answer = [0u8; 64];
        let n = stream.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        const { assert!(lava_web::MAX_BODY_BYTES < 1 << 30) };
    }

    // accounts through XML-RPC (administrators only), and a job visible to
    // the members of a group
    let admin = ("admin", api.admin.as_str());
    assert_eq!(
        api.rpc(Some(alice), "auth.groups.add", vec![s("lkft")])
            .fault(),
        403
    );
    api.rpc(Some(admin), "auth.groups.add", vec![s("lkft")])
        .value();
    let no = Value::Boolean(false);
    let add = vec![
        s("carol"),
        s(""),
        s(""),
        s("carol@example.com"),
        Value::Boolean(true),
        no.clone(),
        no.clone(),
        no,
    ];
    api.rpc(Some(admin), "auth.users.add", add).value();
    api.rpc(
        Some(admin),
        "auth.users.groups.add",
        vec![s("carol"), s("lkft")],
    )
    .value();
    let group = api
        .rpc(Some(admin), "auth.groups.show", vec![s("lkft")])
        .value();
    assert_eq!(field(&group, "users"), &Value::Array(vec![s("carol")]));
    let carol = api
        .lab
        .manage(&["tokens", "add", "--user", "carol"])
        .trim()
        .to_string();
    let grouped = sample.replace("visibility: public", "visibility: {group: [lkft]}");
    let (status, body) = api.post_job(Some(&api.admin), &grouped);
    assert_eq!(status, 201, "{body}");
    let g = body["job_ids"][0].as_i64().unwrap();
    assert_eq!(
        api.get(Some(&carol), &format!("jobs/{g}/")).0,
        200,
        "a member sees it"
    );
    assert_eq!(
        api.get(Some(&api.alice), &format!("jobs/{g}/")).0,
        404,
        "a non-member does not"
    );
    assert_eq!(api.get(None, &format!("jobs/{g}/")).0, 404);
    assert_eq!(
        api.get(Some(&api.admin), &format!("jobs/{g}/cancel/")).0,
        200
    );
    api.lab.wait_state(g, JobState::Finished);

    // pagination as DRF: absolute next links until the end
    let (_, page) = api.get_json(Some(&api.admin), "jobs/?ordering=id&limit=2");
    assert_eq!(page["count"], 5);
    assert_eq!(page["results"][0]["id"], a);
    let next = page["next"].as_str().unwrap();
    assert!(
        next.starts_with(&api.base) && next.contains("offset=2"),
        "{next}"
    );
}

#[test]
fn api_on_sqlite() {
    visibility_and_flows(false);
}

#[test]
fn api_on_postgres() {
    visibility_and_flows(true);
}

fn lavacli() -> Option<PathBuf> {
    let from_env = std::env::var_os("LAVACLI").map(PathBuf::from);
    let found = from_env.or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v lavacli"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    if found.is_none() {
        assert!(
            std::env::var_os("LAVA_REQUIRE_LAVACLI").is_none(),
            "lavacli is required but not found"
        );
        eprintln!("skipping: lavacli not found (set LAVACLI, or pip install lavacli)");
    }
    found
}

#[test]
fn lavacli_against_the_service() {
    let Some(lavacli) = lavacli() else { return };
    let Some(api) = api_lab(false) else { return };
    let config = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> String {
        let out = Command::new(&lavacli)
            .env("XDG_CONFIG_HOME", config.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lavacli {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let uri = format!("{}/RPC2", api.base);
    run(&[
        "identities",
        "add",
        "--uri",
        &uri,
        "--username",
        "alice",
        "--token",
        &api.alice,
        "lab",
    ]);
    let job = api.lab.path("job.yaml");
    std::fs::write(&job, lava_bins::lab::sample_job(&api.images)).unwrap();
    let id = run(&["-i", "lab", "jobs", "submit", job.to_str().unwrap()])
        .trim()
        .to_string();
    let id_num: i64 = id
        .parse()
        .unwrap_or_else(|_| panic!("jobs submit printed {id:?}"));
    run(&["-i", "lab", "jobs", "wait", &id, "--polling", "1"]);
    assert_eq!(api.lab.store.job(id_num).unwrap().state, JobState::Finished);
    let logs = run(&["-i", "lab", "jobs", "logs", &id, "--polling", "1"]);
    assert!(logs.contains("Job finished correctly"), "{logs}");
    let raw = run(&["-i", "lab", "jobs", "logs", &id, "--raw", "--no-follow"]);
    let stored = std::fs::read_to_string(api.lab.job_dir(id_num).join("output.yaml")).unwrap();
    assert_eq!(raw.lines().count(), stored.lines().count());
    let show = run(&["-i", "lab", "jobs", "show", &id]);
    assert!(
        show.contains("state       : Finished") && show.contains("Health      : Complete"),
        "{show}"
    );
    assert!(show.contains("submitter   : alice"), "{show}");
    let json = run(&["-i", "lab", "jobs", "show", &id, "--json"]);
    assert!(json.contains("\"state\": \"Finished\""), "{json}");
    let results = run(&["-i", "lab", "results", &id]);
    for case in [
        "* 0_smoke.kernel-version [pass]",
        "* 0_smoke.uptime [pass]",
        "* lava.job [pass]",
    ] {
        assert!(results.contains(case), "{case} missing from\n{results}");
    }
    assert_eq!(
        run(&["-i", "lab", "results", &id, "0_smoke", "uptime"]).trim(),
        "pass"
    );
    let devices = run(&["-i", "lab", "devices", "list"]);
    assert!(devices.contains("* qemu-01 (qemu): Idle,Good"), "{devices}");
    let workers = run(&["-i", "lab", "workers", "list"]);
    assert!(workers.contains("* worker1"), "{workers}");
    let types = run(&["-i", "lab", "device-types", "list"]);
    assert!(types.contains("* qemu (1)"), "{types}");
    let listed = run(&["-i", "lab", "jobs", "list"]);
    assert!(
        listed.contains(&format!(
            "* {id}: Finished,Complete [alice] (lava-lab sample job) - qemu"
        )),
        "{listed}"
    );
    // a bad token: lavacli reports the 401 and fails
    let out = Command::new(&lavacli)
        .env("XDG_CONFIG_HOME", config.path())
        .args([
            "--uri",
            &format!("http://alice:wrong@{}/RPC2", &api.base["http://".len()..]),
            "devices",
            "list",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}
