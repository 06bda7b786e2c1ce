//! MultiNode through the real daemons (docs/multinode.md): `lava-server
//! manage jobs submit` of a group, the real `lava-master` (with
//! `--coordinator-key`) sending START with the `roles` map and each
//! member's token to a scripted worker, the connection sub-job started
//! exactly once; `jobs show`/`jobs list`; XML-RPC `scheduler.jobs.submit`
//! answering the list of sub_ids. SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use dxr::{FaultResponse, MethodCall, MethodResponse, Value as Xml};
use lava_proto::control::Message;
use lava_proto::coordinator::Key;
use lava_proto::socket::{self, Security, MASTER_ID};
use lava_proto::yaml::{self, Value};
use lava_scheduler::model::JobState;
use lava_scheduler::store::NewDevice;

const GROUP: &str = "job_name: pair\nvisibility: public\ntimeouts: {job: {minutes: 10}}\n\
protocols:\n  lava-multinode:\n    roles:\n      server: {device_type: fixture, count: 1, essential: true}\n      \
client: {device_type: fixture, count: 1}\n      guest: {connection: ssh, count: 1, host_role: server, expect_role: server}\n    timeout: {minutes: 5}\n\
actions:\n- boot: {method: minimal, role: [server, client]}\n- boot: {method: ssh, connection: ssh, role: [guest], prompts: ['#']}\n";

fn lab(postgres: bool) -> Option<(Lab, Key)> {
    let mut lab = Lab::new(postgres)?;
    let mut device = NewDevice::new("fixture-02", "fixture", "worker1");
    device.dictionary = Some("{% extends 'fixture.jinja2' %}\n".into());
    lab.store.add_device(&device, "admin").unwrap();
    let key = Key::generate("lab1").unwrap();
    std::fs::write(lab.path("coordinator.key"), key.to_line()).unwrap();
    lab.master_args = vec![
        "--coordinator-key".into(),
        lab.path("coordinator.key").display().to_string(),
    ];
    Some((lab, key))
}

fn block(definition: &str) -> Value {
    yaml::load(definition)
        .unwrap()
        .get("protocols")
        .and_then(|p| p.get("lava-multinode"))
        .cloned()
        .unwrap()
}

#[test]
fn group_start_carries_roles_and_tokens() {
    group_start_carries_roles_and_tokens_on(false);
}

#[test]
fn group_start_carries_roles_and_tokens_postgres() {
    group_start_carries_roles_and_tokens_on(true);
}

fn group_start_carries_roles_and_tokens_on(postgres: bool) {
    let Some((mut lab, key)) = lab(postgres) else {
        return;
    };
    std::fs::write(lab.path("group.yaml"), GROUP).unwrap();
    let out = lab.manage(&[
        "jobs",
        "submit",
        &lab.path("group.yaml").display().to_string(),
        "--submitter",
        "alice",
    ]);
    let sub_ids: Vec<&str> = out.lines().collect();
    assert_eq!(sub_ids.len(), 3, "{out}");
    let first: i64 = sub_ids[0].split('.').next().unwrap().parse().unwrap();
    let ids = [first, first + 1, first + 2];
    assert_eq!(
        sub_ids,
        [
            format!("{first}.0"),
            format!("{first}.1"),
            format!("{first}.2")
        ]
    );
    let group = lab.store.job(first).unwrap().target_group.unwrap();

    lab.start_master();
    let ctx = zmq::Context::new();
    let worker = socket::worker_control(
        &ctx,
        &lab.control,
        "worker1",
        &Security::Null,
        &Default::default(),
    )
    .unwrap();
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    // every START until the three jobs run: each job exactly once (the
    // connection sub-job on its host's worker), answered at once
    let mut starts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut definitions: BTreeMap<i64, String> = BTreeMap::new();
    let mut devices: BTreeMap<i64, String> = BTreeMap::new();
    let deadline = Instant::now() + DEADLINE;
    while !ids
        .iter()
        .all(|id| lab.store.job(*id).unwrap().state == JobState::Running)
    {
        assert!(
            Instant::now() < deadline,
            "group not running\n{}",
            lab.logs_of()
        );
        if worker.poll(zmq::POLLIN, 200).unwrap() == 0 {
            continue;
        }
        if let Ok(Message::Start(start)) = socket::recv(&worker).unwrap().message() {
            let id = start.job_id as i64;
            *starts.entry(id).or_default() += 1;
            definitions.insert(id, start.definition.clone());
            devices.insert(id, start.device.clone());
            socket::send(
                &worker,
                MASTER_ID,
                &Message::StartOk {
                    job_id: start.job_id,
                },
            )
            .unwrap();
        }
    }
    assert_eq!(
        starts,
        ids.iter().map(|id| (*id, 1)).collect(),
        "{}",
        lab.logs_of()
    );
    // the connection sub-job gets its host's configuration cut down as
    // LAVA's minimise_configuration: no commands (power, connect)
    let host = yaml::load(&devices[&ids[0]]).unwrap();
    assert!(host.get("commands").is_some(), "{}", devices[&ids[0]]);
    let guest = yaml::load(&devices[&ids[2]]).unwrap();
    assert_eq!(guest.get("commands"), None, "{}", devices[&ids[2]]);
    assert_eq!(
        guest
            .get("constants")
            .and_then(|c| c.get("kernel-start-message")),
        Some(&Value::from(""))
    );
    assert!(guest.get("actions").and_then(|a| a.get("boot")).is_some());
    assert!(!devices[&ids[2]].contains("echo off"));
    let stored = std::fs::read_to_string(lab.job_dir(ids[2]).join("device.yaml")).unwrap();
    assert_eq!(stored, devices[&ids[2]]);
    let mut roles = yaml::Mapping::new();
    roles.insert(ids[0].to_string(), "server");
    roles.insert(ids[1].to_string(), "client");
    for (id, role) in ids.iter().zip(["server", "client", "guest"]) {
        let sent = block(&definitions[id]);
        assert_eq!(
            sent.get("roles"),
            Some(&Value::Mapping(roles.clone())),
            "job {id}"
        );
        assert_eq!(sent.get("role"), Some(&Value::from(role)));
        assert_eq!(
            sent.get("role_names"),
            Some(&yaml::load("[server, client, guest]").unwrap())
        );
        let token = key.token(&group, &id.to_string(), role, 3);
        assert_eq!(
            sent.get("token"),
            Some(&Value::from(token.as_str())),
            "job {id}"
        );
        // the token is never stored: not in the database, not in job.yaml
        let job = lab.store.job(*id).unwrap();
        assert_eq!(
            block(&job.definition).get("roles"),
            Some(&Value::Mapping(roles.clone()))
        );
        assert!(!job.definition.contains(&token));
        let job_yaml = std::fs::read_to_string(lab.job_dir(*id).join("job.yaml")).unwrap();
        assert!(
            !job_yaml.contains(&token) && job_yaml.contains("roles"),
            "{job_yaml}"
        );
        assert!(!std::fs::read_to_string(lab.path("master.log"))
            .unwrap()
            .contains(&token));
    }

    // the CLI shows the group and the sub_ids
    let show = lab.manage(&["jobs", "show", &ids[1].to_string()]);
    assert_eq!(lab.manage(&["jobs", "show", &format!("{first}.1")]), show);
    assert!(
        show.contains(&format!(
            "multinode   : group {group}, sub_id {first}.1, essential: false"
        )),
        "{show}"
    );
    for (k, (id, role)) in ids.iter().zip(["server", "client", "guest"]).enumerate() {
        assert!(
            show.contains(&format!("  {first}.{k} {id} [Running] role {role} on ")),
            "{show}"
        );
    }
    assert!(show.contains("(this job)"));
    let list = lab.manage(&["jobs", "list"]);
    assert!(
        list.contains(&format!(
            "* {} ({first}.2) [Running] - on - by alice: pair",
            ids[2]
        )),
        "{list}"
    );

    // cancel one: CANCEL for all three, the connection sub-job through its
    // host's worker
    lab.manage(&["jobs", "cancel", &format!("{first}.2")]);
    let mut canceled: BTreeMap<i64, usize> = BTreeMap::new();
    let deadline = Instant::now() + DEADLINE;
    while canceled.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "CANCEL not sent to all: {canceled:?}\n{}",
            lab.logs_of()
        );
        if worker.poll(zmq::POLLIN, 200).unwrap() == 0 {
            continue;
        }
        if let Ok(Message::Cancel { job_id }) = socket::recv(&worker).unwrap().message() {
            *canceled.entry(job_id as i64).or_default() += 1;
        }
    }
    assert_eq!(canceled.keys().copied().collect::<Vec<_>>(), ids);
}

/// `scheduler.jobs.submit` of a multinode job answers LAVA's list of
/// sub_ids, and every method taking a job id takes a sub_id too (LAVA's
/// `get_by_job_number`).
#[test]
fn xml_rpc_submit_of_a_group_returns_the_sub_ids() {
    xml_rpc_sub_ids_on(false);
}

#[test]
fn xml_rpc_submit_of_a_group_returns_the_sub_ids_postgres() {
    xml_rpc_sub_ids_on(true);
}

/// An XML-RPC answer: a value, or a fault's code and text.
fn rpc(port: u16, auth: &str, method: &str, params: Vec<Xml>) -> Result<Xml, (i32, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let body = MethodCall {
        name: method.into(),
        params,
    }
    .to_xml()
    .unwrap();
    let mut response = agent
        .post(&format!("http://127.0.0.1:{port}/RPC2"))
        .header("Content-Type", "text/xml")
        .header("Authorization", auth)
        .send(body.as_bytes())
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    if let Ok(fault) = FaultResponse::from_xml(&text) {
        return Err((fault.fault.code(), fault.fault.string().to_string()));
    }
    Ok(MethodResponse::from_xml(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}"))
        .value)
}

fn xml_rpc_sub_ids_on(postgres: bool) {
    let Some((lab, _)) = lab(postgres) else {
        return;
    };
    lab.manage(&["users", "add", "alice", "--email", "alice@example.com"]);
    let token = lab
        .manage(&["tokens", "add", "--user", "alice", "--description", "tests"])
        .trim()
        .to_string();
    let port = free_port();
    let log = std::fs::File::create(lab.path("serve.log")).unwrap();
    let _serve = Daemon(
        Command::new(bin("lava-server"))
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
            .arg(lab.path("device-types"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for("the HTTP service to listen", DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{token}"))
    );
    let mut first = 0;
    for method in ["scheduler.jobs.submit", "scheduler.submit_job"] {
        let value = rpc(port, &auth, method, vec![Xml::String(GROUP.to_string())])
            .unwrap_or_else(|e| panic!("{method}: {e:?}"));
        let ids: Vec<String> = match value {
            Xml::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Xml::String(s) => s,
                    other => panic!("not a string: {other:?}"),
                })
                .collect(),
            other => panic!("{method}: not a list: {other:?}"),
        };
        first = ids[0].split('.').next().unwrap().parse().unwrap();
        assert_eq!(
            ids,
            [
                format!("{first}.0"),
                format!("{first}.1"),
                format!("{first}.2")
            ]
        );
        assert_eq!(lab.store.job(first + 2).unwrap().sub_id, ids[2]);
    }

    // the sub_id names the job in show, definition, logs, results, cancel
    let sub = format!("{first}.1");
    let show = rpc(
        port,
        &auth,
        "scheduler.jobs.show",
        vec![Xml::String(sub.clone())],
    )
    .unwrap_or_else(|e| panic!("show {sub}: {e:?}"));
    let Xml::Struct(fields) = show else {
        panic!("not a struct: {show:?}")
    };
    assert_eq!(fields.get("id"), Some(&Xml::String(sub.clone())));
    let definition = rpc(
        port,
        &auth,
        "scheduler.jobs.definition",
        vec![Xml::String(sub.clone())],
    )
    .unwrap();
    let Xml::String(definition) = definition else {
        panic!("not a string: {definition:?}")
    };
    assert_eq!(
        definition.trim_end(),
        lab.store
            .job(first + 1)
            .unwrap()
            .original_definition
            .trim_end()
    );
    for method in ["scheduler.jobs.logs", "results.get_testjob_results_yaml"] {
        rpc(port, &auth, method, vec![Xml::String(sub.clone())])
            .unwrap_or_else(|e| panic!("{method} {sub}: {e:?}"));
    }
    for missing in [format!("{first}.7"), format!("{first}.1.2"), "1.".into()] {
        let fault = rpc(
            port,
            &auth,
            "scheduler.jobs.show",
            vec![Xml::String(missing.clone())],
        )
        .unwrap_err();
        assert_eq!(fault.0, 404, "{missing}: {fault:?}");
    }
    assert_eq!(
        rpc(port, &auth, "scheduler.jobs.cancel", vec![Xml::String(sub)]),
        Ok(Xml::Boolean(true))
    );
    for id in first..first + 3 {
        assert_eq!(
            lab.store.job(id).unwrap().state,
            JobState::Finished,
            "job {id}: the whole group is canceled"
        );
    }
}
