//! MultiNode end to end on QEMU (docs/multinode.md, docs/coordinator.md,
//! docs/pipeline.md §12): a group submitted with `submit_jobs`, split and
//! placed by the real `lava-master`, each sub-job run by the real
//! `lava-run` under the real `lava-slave` on its own QEMU guest, the guests
//! talking through the on-device helpers (`lava-send`, `lava-wait`,
//! `lava-wait-all`, `lava-sync`, `lava-role`, `lava-group`, `lava-self`)
//! and the real `lava-coordinator` daemon. The coordinator runs in our
//! secure mode (member tokens required, CURVE transport from the worker) or
//! in LAVA's plaintext mode, so both transports run through the daemons.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lava_proto::coordinator::Key;
use lava_proto::yaml;
use lava_scheduler::model::{JobHealth, JobState, TestResultCode};
use lava_scheduler::store::NewDevice;
use lava_scheduler::submit::Submitted;

/// A whole group runs on the loaded 2-core machine in well under this; the
/// jobs' own timeouts (minutes) end them first.
const GROUP_DEADLINE: Duration = Duration::from_secs(600);

/// How the coordinator is reached.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// Our secure mode: `--auth require` with the master's key, and the
    /// worker on the CURVE listener with its own certificate.
    Curve,
    /// Plaintext (LAVA's protocol) with tokens required (`--auth require`).
    PlainTokens,
    /// LAVA's compatible mode: plaintext, `--auth off`, no key at all.
    PlainOpen,
}

/// A QEMU lab with three QEMU devices and a coordinator. Fields drop in
/// order: the lab (slave, master, every lava-run group and so QEMU) first.
struct MultiLab {
    lab: Lab,
    images: PathBuf,
    key: Option<Key>,
    _coordinator: Daemon,
}

fn multinode_lab(postgres: bool, transport: Transport, semantics: &str) -> Option<MultiLab> {
    let (mut lab, images) = qemu_lab(postgres)?;
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("../share");
    let dictionary = std::fs::read_to_string(share.join("devices/qemu-01.jinja2")).unwrap();
    for name in ["qemu-02", "qemu-03"] {
        let mut device = NewDevice::new(name, "qemu", "worker1");
        device.dictionary = Some(dictionary.clone());
        lab.store.add_device(&device, "admin").unwrap();
    }
    let plain_port = free_port();
    let curve_port = free_port();
    let mut conf = serde_json::json!({
        "port": plain_port,
        "poll_delay": 1,
        "coordinator_hostname": "127.0.0.1",
    });
    let mut args: Vec<String> = vec![
        "--listen".into(),
        format!("127.0.0.1:{plain_port}"),
        "--semantics".into(),
        semantics.into(),
        "--logfile".into(),
        lab.path("coordinator.log").display().to_string(),
        "--loglevel".into(),
        "DEBUG".into(),
    ];
    let key = match transport {
        Transport::PlainOpen => {
            args.extend(["--auth".into(), "off".into()]);
            None
        }
        Transport::Curve | Transport::PlainTokens => {
            let key = Key::generate("lab1").unwrap();
            let key_file = lab.path("coordinator.key");
            std::fs::write(&key_file, key.to_line()).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            args.extend([
                "--auth".into(),
                "require".into(),
                "--auth-keys".into(),
                key_file.display().to_string(),
            ]);
            lab.master_args
                .extend(["--coordinator-key".into(), key_file.display().to_string()]);
            Some(key)
        }
    };
    if transport == Transport::Curve {
        let certs = lab.path("coordinator-certs");
        certificate(&certs, "coordinator");
        certificate(&certs, "worker1");
        // only the worker's public certificate is authorised
        let clients = lab.path("coordinator-clients");
        std::fs::create_dir_all(&clients).unwrap();
        std::fs::copy(certs.join("worker1.key"), clients.join("worker1.key")).unwrap();
        args.extend([
            "--curve-bind".into(),
            format!("tcp://127.0.0.1:{curve_port}"),
            "--curve-cert".into(),
            certs.join("coordinator.key_secret").display().to_string(),
            "--clients-certs".into(),
            clients.display().to_string(),
        ]);
        let map = conf.as_object_mut().unwrap();
        map.insert("encrypt".into(), true.into());
        map.insert("curve_port".into(), curve_port.into());
        map.insert(
            "coordinator_cert".into(),
            certs.join("coordinator.key").display().to_string().into(),
        );
        map.insert(
            "client_cert".into(),
            certs
                .join("worker1.key_secret")
                .display()
                .to_string()
                .into(),
        );
    }
    // one conf file for the daemon (it uses `port` only and ignores the
    // client keys) and for lava-run through lava-slave's environment
    let conf_file = lab.path("lava-coordinator.conf");
    std::fs::write(&conf_file, conf.to_string()).unwrap();
    lab.slave_env.push((
        "LAVA_COORDINATOR_CONF".into(),
        conf_file.display().to_string(),
    ));
    let coordinator = Daemon(
        Command::new(env!("CARGO_BIN_EXE_lava-coordinator"))
            .arg("--config")
            .arg(&conf_file)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(lab.path("coordinator.stderr")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut mlab = MultiLab {
        lab,
        images,
        key,
        _coordinator: coordinator,
    };
    let ready = if transport == Transport::Curve {
        "(CURVE"
    } else {
        "listening on"
    };
    wait_for("the coordinator to listen", DEADLINE, || {
        std::fs::read_to_string(mlab.lab.path("coordinator.log"))
            .unwrap_or_default()
            .contains(ready)
    });
    mlab.lab.start_master();
    mlab.lab.start_slave();
    Some(mlab)
}

impl MultiLab {
    fn logs(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.lab.path(n)).unwrap_or_default();
        format!(
            "{}\n--- coordinator.log\n{}\n--- coordinator.stderr\n{}",
            self.lab.logs_of(),
            read("coordinator.log"),
            read("coordinator.stderr")
        )
    }

    /// Submit a group; its sub-jobs by role name (`role` → ids in order).
    fn submit(&self, definition: &str) -> (String, BTreeMap<String, Vec<i64>>) {
        let submitted = lava_scheduler::submit::submit_jobs(
            &self.lab.store,
            definition,
            "alice",
            &Default::default(),
        )
        .unwrap();
        let Submitted::Group { target_group, jobs } = submitted else {
            panic!("not a group: {submitted:?}");
        };
        let mut roles: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (id, _) in jobs {
            roles.entry(self.role(id)).or_default().push(id);
        }
        (target_group, roles)
    }

    fn role(&self, id: i64) -> String {
        yaml::load(&self.lab.store.job(id).unwrap().definition)
            .unwrap()
            .get("protocols")
            .and_then(|p| p.get("lava-multinode"))
            .and_then(|m| m.get("role"))
            .and_then(|r| r.as_str().map(str::to_string))
            .unwrap()
    }

    fn wait_finished(&self, ids: &[i64]) {
        let deadline = Instant::now() + GROUP_DEADLINE;
        while !ids
            .iter()
            .all(|id| self.lab.store.job(*id).unwrap().state == JobState::Finished)
        {
            assert!(
                Instant::now() < deadline,
                "group {ids:?} not finished\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_complete(&self, id: i64) {
        let job = self.lab.store.job(id).unwrap();
        assert_eq!(
            (job.state, job.health),
            (JobState::Finished, JobHealth::Complete),
            "job {id} ({}): {:?}\n{}",
            self.role(id),
            job.failure_comment,
            self.logs()
        );
    }

    /// The (name, result) of every test case outside the `lava` suite.
    fn cases(&self, id: i64) -> Vec<(String, TestResultCode)> {
        let mut cases: Vec<_> = self
            .lab
            .store
            .test_cases(id)
            .unwrap()
            .into_iter()
            .filter(|c| c.suite != "lava")
            .map(|c| (c.name, c.result))
            .collect();
        cases.sort();
        cases
    }

    /// The console and log messages of a job so far.
    fn log_so_far(&self, id: i64) -> String {
        messages(&log_lines_so_far(&self.lab.job_dir(id))).join("\n")
    }
}

fn passes(names: &[&str]) -> Vec<(String, TestResultCode)> {
    let mut cases: Vec<_> = names
        .iter()
        .map(|n| (n.to_string(), TestResultCode::Pass))
        .collect();
    cases.sort();
    cases
}

/// A role of the group: a QEMU guest like `share/devices/qemu-01.jinja2`.
fn role(name: &str, count: u32, essential: bool) -> String {
    format!(
        "      {name}: {{device_type: qemu, count: {count}, essential: {essential}, \
         context: {{arch: amd64, guestfs_interface: virtio, extra_options: ['-no-reboot']}}}}\n"
    )
}

/// A test action of `role`: one inline definition running `steps`.
fn test_block(role: &str, name: &str, steps: &[&str]) -> String {
    let mut block = format!(
        "- test:\n    role: [{role}]\n    timeout: {{minutes: 5}}\n    definitions:\n    \
         - from: inline\n      name: {name}\n      path: inline/{name}.yaml\n      repository:\n        \
         metadata: {{format: Lava-Test Test Definition 1.0, name: {name}, description: multinode {name}}}\n        \
         run:\n          steps:\n"
    );
    for step in steps {
        block.push_str(&format!("          - '{}'\n", step.replace('\'', "''")));
    }
    block
}

/// A group whose roles (from [`role`]) all deploy and boot the lab's
/// guest (as `lava_bins::lab::sample_job`), then run `tests`.
fn group_job(images: &Path, name: &str, roles: &[String], tests: &[String]) -> String {
    let names: Vec<&str> = roles
        .iter()
        .map(|r| r.trim_start().split(':').next().unwrap())
        .collect();
    let all = names.join(", ");
    format!(
        r#"job_name: {name}
visibility: public
timeouts: {{job: {{minutes: 10}}}}
protocols:
  lava-multinode:
    roles:
{roles}    timeout: {{minutes: 5}}
actions:
{deploy_boot}{tests}"#,
        roles = roles.concat(),
        deploy_boot = lava_bins::lab::qemu_deploy_boot(images, Some(&all)),
        tests = tests.concat(),
    )
}

/// The real lava-run processes of this lab running job `id`.
fn lava_run_processes(lab: &Lab, id: i64) -> Vec<u32> {
    let needle = format!("--job-id={id}");
    let dir = lab.path("slave").display().to_string();
    processes(|args| {
        args.iter().any(|a| a.ends_with("lava-run"))
            && args.iter().any(|a| a.contains(&dir))
            && args.contains(&needle)
    })
}

/// The QEMU processes started for this lab (their images are in its
/// download directory).
fn qemu_processes(lab: &Lab) -> Vec<u32> {
    let dir = lab.dir.path().display().to_string();
    processes(|args| {
        args.first().is_some_and(|a| a.contains("qemu-system"))
            && args.iter().any(|a| a.contains(&dir))
    })
}

fn processes(matches: impl Fn(&[String]) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<String> = String::from_utf8_lossy(&c)
                    .split('\0')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                matches(&args)
            })
        })
        .collect()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn server_and_client(postgres: bool, transport: Transport) {
    let Some(mlab) = multinode_lab(postgres, transport, "lava2020") else {
        return;
    };
    let started = Instant::now();
    let definition = group_job(
        &mlab.images,
        "multinode server and client",
        &[role("server", 1, false), role("client", 1, false)],
        &[
            test_block(
                "server",
                "serve",
                &["lava-send ready value=42", "lava-sync done"],
            ),
            test_block(
                "client",
                "consume",
                &[
                    "lava-wait ready",
                    "lava-test-case got-value --shell grep -q '^[0-9]*:value=42$' /tmp/lava_multi_node_cache.txt",
                    "lava-sync done",
                ],
            ),
        ],
    );
    let (group, roles) = mlab.submit(&definition);
    let (server, client) = (roles["server"][0], roles["client"][0]);
    mlab.wait_finished(&[server, client]);
    mlab.assert_complete(server);
    mlab.assert_complete(client);
    assert_eq!(
        mlab.cases(server),
        passes(&["multinode-send-ready", "multinode-sync-done"]),
        "{}",
        mlab.logs()
    );
    assert_eq!(
        mlab.cases(client),
        passes(&["got-value", "multinode-wait-ready", "multinode-sync-done"]),
        "{}",
        mlab.logs()
    );
    // the value went through the coordinator: the client's guest was
    // answered with the server's job id as sender
    let client_log = messages(&log_lines(&mlab.lab.job_dir(client))).join("\n");
    assert!(
        client_log.contains(&format!("<LAVA_WAIT_COMPLETE {server}:value=42>")),
        "{client_log}"
    );
    let coordinator_log = std::fs::read_to_string(mlab.lab.path("coordinator.log")).unwrap();
    // every request came over the transport the worker's conf names
    let curve_requests = coordinator_log.matches("request from CURVE client").count();
    let plain_requests = coordinator_log.matches("request from 127.0.0.1:").count();
    if transport == Transport::Curve {
        assert!(
            curve_requests >= 6 && plain_requests == 0,
            "{coordinator_log}"
        );
    } else {
        assert!(
            plain_requests >= 6 && curve_requests == 0,
            "{coordinator_log}"
        );
    }
    assert!(!coordinator_log.contains("nack"), "{coordinator_log}");
    // the worker's working copy of each job (its job.yaml holds the token
    // lava-run needs) is removed once the master acknowledged the end
    for id in [server, client] {
        wait_for(
            &format!("the worker to remove its copy of job {id}"),
            DEADLINE,
            || !mlab.lab.slave_job_dir(id).exists(),
        );
    }
    if let Some(key) = &mlab.key {
        for (id, role) in [(server, "server"), (client, "client")] {
            let token = key.token(&group, &id.to_string(), role, 2);
            let secret = token.split_once(':').unwrap().1.to_string();
            let job = mlab.lab.store.job(id).unwrap();
            assert!(!job.definition.contains(&secret), "job {id} definition");
            for file in files_under(&mlab.lab.job_dir(id))
                .into_iter()
                .chain(files_under(&mlab.lab.path("slave")))
                .chain(
                    ["master.log", "slave.log", "coordinator.log"]
                        .iter()
                        .map(|n| mlab.lab.path(n)),
                )
            {
                let text =
                    String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
                assert!(
                    !text.contains(&secret),
                    "the token of job {id} is in {}",
                    file.display()
                );
            }
        }
    }
    eprintln!(
        "server_and_client ({}): {:.1}s",
        if postgres { "postgres" } else { "sqlite" },
        started.elapsed().as_secs_f64()
    );
}

/// CURVE and required tokens, on SQLite.
#[test]
fn server_and_client_on_sqlite() {
    server_and_client(false, Transport::Curve);
}

/// LAVA's plaintext compatible mode (no key, `--auth off`), on PostgreSQL.
#[test]
fn server_and_client_on_postgres() {
    server_and_client(true, Transport::PlainOpen);
}

/// A server and two clients: `lava-wait-all` for a role, `lava-sync` of
/// three, `lava-role`, `lava-group`, `lava-self`. The coordinator's
/// documented semantics (`--semantics fixed`): a role wait-all waits for
/// every member of the role, so the server sees both clients' messages.
#[test]
fn three_nodes_wait_all() {
    let Some(mlab) = multinode_lab(false, Transport::Curve, "fixed") else {
        return;
    };
    let started = Instant::now();
    let definition = group_job(
        &mlab.images,
        "multinode three nodes",
        &[role("server", 1, false), role("client", 2, false)],
        &[
            test_block(
                "server",
                "gather",
                &[
                    r#"lava-test-case role-is-server --shell test "$(lava-role)" = server"#,
                    r#"lava-test-case group-of-three --shell test "$(lava-group | wc -l)" = 3"#,
                    r#"lava-test-case two-clients --shell test "$(lava-group client | wc -w)" = 2"#,
                    "lava-wait-all hello client",
                    // every line "<sender>:from=<sender>", one per client
                    // (LAVA escapes $N in --shell steps: count first)
                    r#"senders=$(awk -F '[:=]' '$2 == "from" && $1 == $3' /tmp/lava_multi_node_cache.txt | wc -l)"#,
                    r#"lava-test-case two-senders --shell test "$senders" = 2"#,
                    "lava-sync all-done",
                ],
            ),
            test_block(
                "client",
                "greet",
                &[
                    r#"lava-test-case role-is-client --shell test "$(lava-role)" = client"#,
                    "lava-send hello from=$(lava-self)",
                    "lava-sync all-done",
                ],
            ),
        ],
    );
    let (_, roles) = mlab.submit(&definition);
    let server = roles["server"][0];
    let clients = roles["client"].clone();
    assert_eq!(clients.len(), 2);
    let all = [server, clients[0], clients[1]];
    mlab.wait_finished(&all);
    for id in all {
        mlab.assert_complete(id);
    }
    assert_eq!(
        mlab.cases(server),
        passes(&[
            "group-of-three",
            "multinode-sync-all-done",
            "multinode-wait_all-hello",
            "role-is-server",
            "two-clients",
            "two-senders",
        ]),
        "{}",
        mlab.logs()
    );
    for client in &clients {
        assert_eq!(
            mlab.cases(*client),
            passes(&[
                "multinode-send-hello",
                "multinode-sync-all-done",
                "role-is-client"
            ]),
            "job {client}\n{}",
            mlab.logs()
        );
    }
    // the server's guest got both clients' job ids, each sent by itself
    let server_log = messages(&log_lines(&mlab.lab.job_dir(server))).join("\n");
    for client in &clients {
        assert!(
            server_log.contains(&format!("{client}:from={client}")),
            "{server_log}"
        );
    }
    eprintln!(
        "three_nodes_wait_all: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// The essential server's guest dies (powered off in the middle of its
/// test: the test shell's connection drops, the job ends Incomplete) while
/// the client sits in `lava-wait never-sent`: the master cancels the
/// client, which ends with the master's failure comment, long before its
/// own wait would time out.
#[test]
fn an_essential_role_failing_ends_the_group() {
    let Some(mlab) = multinode_lab(false, Transport::PlainTokens, "lava2020") else {
        return;
    };
    let started = Instant::now();
    let definition = group_job(
        &mlab.images,
        "multinode essential failure",
        &[role("server", 1, true), role("client", 1, false)],
        &[
            test_block(
                "server",
                "crash",
                &["lava-wait client-waiting", "poweroff -f"],
            ),
            test_block(
                "client",
                "wait-for-ever",
                &["lava-send client-waiting", "lava-wait never-sent"],
            ),
        ],
    );
    let (_, roles) = mlab.submit(&definition);
    let (server, client) = (roles["server"][0], roles["client"][0]);
    assert!(mlab.lab.store.job(server).unwrap().essential);
    mlab.wait_finished(&[server, client]);
    let ended = started.elapsed();
    let server_job = mlab.lab.store.job(server).unwrap();
    assert_eq!(
        server_job.health,
        JobHealth::Incomplete,
        "{:?}\n{}",
        server_job.failure_comment,
        mlab.logs()
    );
    let client_job = mlab.lab.store.job(client).unwrap();
    assert_eq!(
        client_job.health,
        JobHealth::Canceled,
        "{:?}\n{}",
        client_job.failure_comment,
        mlab.logs()
    );
    let why = format!(
        "canceled: the essential multinode job {server} ({}) ended Incomplete",
        server_job.sub_id
    );
    assert!(
        client_job
            .failure_comment
            .as_deref()
            .is_some_and(|c| c.contains(&why)),
        "{:?}\n{}",
        client_job.failure_comment,
        mlab.logs()
    );
    // the client was inside its wait, which never completed
    let client_log = mlab.log_so_far(client);
    assert!(
        client_log.contains("<LAVA_WAIT never-sent>"),
        "{client_log}"
    );
    assert!(!client_log.contains("<LAVA_WAIT_COMPLETE"), "{client_log}");
    // well before the protocol timeout (5 minutes) of the wait
    assert!(ended < Duration::from_secs(240), "{ended:?}");
    wait_for("no lava-run and no QEMU left", DEADLINE, || {
        lava_run_processes(&mlab.lab, server).is_empty()
            && lava_run_processes(&mlab.lab, client).is_empty()
            && qemu_processes(&mlab.lab).is_empty()
    });
    eprintln!(
        "an_essential_role_failing_ends_the_group: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// Both members inside coordinator calls (the client in `lava-wait`, the
/// server in `lava-sync`); cancelling one sub-job cancels the group: both
/// end Canceled, their lava-run and QEMU gone.
#[test]
fn cancelling_a_group_while_one_waits_ends_both() {
    let Some(mlab) = multinode_lab(true, Transport::PlainTokens, "lava2020") else {
        return;
    };
    let started = Instant::now();
    let definition = group_job(
        &mlab.images,
        "multinode cancel",
        &[role("server", 1, false), role("client", 1, false)],
        &[
            test_block("server", "sync-never", &["lava-sync never"]),
            test_block("client", "wait-never", &["lava-wait never-sent"]),
        ],
    );
    let (_, roles) = mlab.submit(&definition);
    let (server, client) = (roles["server"][0], roles["client"][0]);
    let deadline = Instant::now() + GROUP_DEADLINE;
    for (id, marker) in [
        (client, "<LAVA_WAIT never-sent>"),
        (server, "<LAVA_SYNC never>"),
    ] {
        while !(mlab.lab.store.job(id).unwrap().state == JobState::Running
            && mlab.log_so_far(id).contains(marker))
        {
            assert!(
                Instant::now() < deadline,
                "job {id} never reached {marker}\n{}",
                mlab.logs()
            );
            assert_ne!(
                mlab.lab.store.job(id).unwrap().state,
                JobState::Finished,
                "{}",
                mlab.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // what must be gone afterwards is there now: both lava-run, both guests
    assert!(!lava_run_processes(&mlab.lab, client).is_empty());
    assert!(!lava_run_processes(&mlab.lab, server).is_empty());
    assert_eq!(qemu_processes(&mlab.lab).len(), 2, "{}", mlab.logs());
    // the worker's copy of the definition (it holds the member token) is
    // readable by the worker only
    for id in [server, client] {
        use std::os::unix::fs::PermissionsExt;
        let job_yaml = mlab.lab.slave_job_dir(id).join("job.yaml");
        let mode = std::fs::metadata(&job_yaml).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", job_yaml.display());
    }
    let waiting = Instant::now();
    mlab.lab.store.cancel_job(client, "alice").unwrap();
    mlab.wait_finished(&[server, client]);
    let to_end = waiting.elapsed();
    for id in [server, client] {
        let job = mlab.lab.store.job(id).unwrap();
        assert_eq!(
            job.health,
            JobHealth::Canceled,
            "job {id}: {:?}\n{}",
            job.failure_comment,
            mlab.logs()
        );
    }
    for (id, complete) in [
        (client, "<LAVA_WAIT_COMPLETE"),
        (server, "<LAVA_SYNC_COMPLETE"),
    ] {
        let log = mlab.log_so_far(id);
        assert!(!log.contains(complete), "job {id}: {log}");
    }
    wait_for("no lava-run and no QEMU left", DEADLINE, || {
        lava_run_processes(&mlab.lab, server).is_empty()
            && lava_run_processes(&mlab.lab, client).is_empty()
            && qemu_processes(&mlab.lab).is_empty()
    });
    eprintln!(
        "cancelling_a_group_while_one_waits_ends_both: {:.1}s ({:.1}s from cancel to end)",
        started.elapsed().as_secs_f64(),
        to_end.as_secs_f64()
    );
}
