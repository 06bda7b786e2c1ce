//! MultiNode on the server (docs/multinode.md): the split, compared with
//! LAVA's corpus where it has post-split jobs; submission of a group in one
//! transaction, the group transition writing `roles`, cancel and the
//! essential-role cascade, on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};

use common::Fixture;
use lava_proto::job::JobDefinition;
use lava_proto::yaml::{self, Mapping, Value};
use lava_scheduler::model::*;
use lava_scheduler::multinode::{split, split_text, SplitError, MAX_GROUP_SIZE};
use lava_scheduler::scheduler::{schedule, AcceptAll};
use lava_scheduler::store::*;
use lava_scheduler::submit::{submit_jobs, SubmitError, SubmitOptions, Submitted};

fn corpus() -> Option<PathBuf> {
    let dir = match std::env::var_os("LAVA_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus"),
    };
    if dir.join("jobs").is_dir() {
        Some(dir)
    } else {
        println!("skipping: LAVA corpus not found at {}", dir.display());
        None
    }
}

fn load(path: &Path) -> Value {
    yaml::load(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn block(job: &Value) -> &Mapping {
    job.get("protocols")
        .and_then(|p| p.get("lava-multinode"))
        .and_then(Value::as_mapping)
        .unwrap()
}

/// LAVA's post-split fixtures (`kvm-multinode-{client,server}.yaml`, the
/// sub-jobs its unit tests expect from `kvm-multinode.yaml`) against our
/// split, key by key; `sub_id` and our `role_names` aside (the fixtures
/// predate the first, the second is ours).
#[test]
fn kvm_multinode_split_matches_lavas_post_split_jobs() {
    let Some(dir) = corpus() else { return };
    let jobs = dir.join("jobs/scheduler");
    let submission = load(&jobs.join("kvm-multinode.yaml"));
    let split = split(&submission, "arbitrary-group-id").unwrap();
    assert_eq!(split.group_size, 2);
    let roles: Vec<_> = split
        .jobs
        .iter()
        .map(|j| (j.role.as_str(), j.index))
        .collect();
    assert_eq!(roles, [("client", 0), ("server", 1)]);
    for sub in &split.jobs {
        let expected = load(&jobs.join(format!("kvm-multinode-{}.yaml", sub.role)));
        let ours = sub.definition.as_mapping().unwrap();
        let theirs = expected.as_mapping().unwrap();
        let keys = |m: &Mapping| {
            let mut k: Vec<String> = m.keys().map(|k| k.as_str().unwrap().to_string()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(ours), keys(theirs), "top-level keys of {}", sub.role);
        for key in keys(theirs) {
            if key == "protocols" {
                continue;
            }
            assert_eq!(ours.get(&key), theirs.get(&key), "{key} of {}", sub.role);
        }
        let mut ours_block = block(&sub.definition).clone();
        assert_eq!(
            ours_block.remove("sub_id"),
            Some(Value::Int(sub.index as i64))
        );
        assert_eq!(
            ours_block.remove("role_names"),
            Some(yaml::load("[client, server]").unwrap())
        );
        assert_eq!(
            &ours_block,
            block(&expected),
            "protocol block of {}",
            sub.role
        );
        // what is stored reads back as the same job, and the dispatcher's
        // reader of server-produced jobs takes it
        assert_eq!(yaml::load(&sub.text).unwrap(), sub.definition);
        JobDefinition::parse(&sub.text).unwrap();
    }
    assert_eq!(split.jobs[0].tags, ["usb-flash", "usb-eth"]);
    assert_eq!(split.jobs[1].tags, ["testtag"]);
}

/// The documentation's first multinode job: the rules of §1.2 one by one.
#[test]
fn first_multinode_job_split_follows_the_rules() {
    let Some(dir) = corpus() else { return };
    let text =
        std::fs::read_to_string(dir.join("jobs/doc-examples/first-multinode-job.yaml")).unwrap();
    let submission = yaml::load(&text).unwrap();
    let split = split_text(&text, "5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e").unwrap();
    assert_eq!(split.group_size, 2);
    for (k, (sub, role)) in split.jobs.iter().zip(["foo", "bar"]).enumerate() {
        assert_eq!(sub.role, role);
        assert_eq!(sub.index, k as u64);
        let job = &sub.definition;
        for key in ["job_name", "timeouts", "priority", "visibility", "metadata"] {
            assert_eq!(job.get(key), submission.get(key), "{key}");
        }
        assert_eq!(job.get("device_type"), Some(&Value::from("qemu")));
        assert_eq!(
            job.get("context"),
            Some(&yaml::load("{arch: amd64}").unwrap())
        );
        let expected_block = yaml::load(&format!(
            "{{target_group: 5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e, role: {role}, group_size: 2, \
             sub_id: {k}, timeout: {{minutes: 6}}, role_names: [foo, bar]}}"
        ))
        .unwrap();
        assert_eq!(block(job), expected_block.as_mapping().unwrap());
        let actions = job.get("actions").and_then(Value::as_sequence).unwrap();
        let original = submission
            .get("actions")
            .and_then(Value::as_sequence)
            .unwrap();
        assert_eq!(actions.len(), 3);
        for (ours, theirs) in actions.iter().zip(original) {
            let mut theirs = theirs.clone();
            let body = theirs
                .as_mapping_mut()
                .unwrap()
                .iter_mut()
                .next()
                .unwrap()
                .1
                .as_mapping_mut()
                .unwrap();
            body.insert("role", role);
            assert_eq!(ours, &theirs);
        }
        JobDefinition::parse(&sub.text).unwrap();
    }
}

/// Connection roles: in the group, without device type, with the host role.
#[test]
fn connection_roles_are_members_without_a_device_type() {
    let Some(dir) = corpus() else { return };
    let submission = load(&dir.join("jobs/scheduler/qemu-ssh-guest.yaml"));
    let split = split(&submission, "g").unwrap();
    assert_eq!(split.group_size, 3);
    let guests: Vec<_> = split.jobs.iter().filter(|j| j.role == "guest").collect();
    assert_eq!(guests.len(), 2);
    for guest in guests {
        assert_eq!(guest.device_type, None);
        assert_eq!(guest.connection.as_deref(), Some("ssh"));
        assert_eq!(guest.host_role.as_deref(), Some("host"));
        assert_eq!(
            guest.definition.get("host_role"),
            Some(&Value::from("host"))
        );
        assert_eq!(
            block(&guest.definition).get("expect_role"),
            Some(&Value::from("host"))
        );
    }
}

const BASE: &str = "job_name: t\nvisibility: personal\ntimeouts: {job: {minutes: 10}}\n";

fn roles_job(roles: &str, actions: &str, extra: &str) -> Value {
    yaml::load(&format!(
        "{BASE}{extra}protocols:\n  lava-multinode:\n    roles:\n{roles}    timeout: {{minutes: 3}}\nactions:\n{actions}"
    ))
    .unwrap()
}

#[test]
fn block_keys_win_over_role_keys_as_in_lava() {
    // S3: the block's timeout is written last
    let job = roles_job(
        "      a: {device_type: qemu, count: 1, timeout: {minutes: 9}, essential: true}\n",
        "- boot: {method: qemu, media: tmpfs, role: [a]}\n",
        "",
    );
    let sub = &split(&job, "g").unwrap().jobs[0];
    assert_eq!(
        block(&sub.definition).get("timeout"),
        Some(&yaml::load("{minutes: 3}").unwrap())
    );
    assert_eq!(
        block(&sub.definition).get("essential"),
        Some(&Value::Bool(true))
    );
    assert!(sub.essential);
}

#[test]
fn a_string_role_matches_exactly_not_as_a_substring() {
    // S4: LAVA's `role in "server-a"` also matched role "server"
    let job = roles_job(
        "      server: {device_type: qemu, count: 1}\n      server-a: {device_type: qemu, count: 1}\n",
        "- boot: {method: qemu, media: tmpfs, role: server-a}\n- boot: {method: qemu, media: tmpfs, role: server}\n",
        "",
    );
    let split = split(&job, "g").unwrap();
    for sub in &split.jobs {
        let actions = sub
            .definition
            .get("actions")
            .and_then(Value::as_sequence)
            .unwrap();
        assert_eq!(actions.len(), 1, "{}", sub.role);
    }
}

#[test]
fn every_host_role_is_checked_and_roles_need_actions() {
    // S7: LAVA checked only the last role declaring a host_role
    let job = roles_job(
        "      h1: {device_type: qemu, count: 2}\n      h2: {device_type: qemu, count: 1}\n      \
         c1: {connection: ssh, count: 1, host_role: h1}\n      c2: {connection: ssh, count: 1, host_role: h2}\n",
        "- boot: {method: qemu, media: tmpfs, role: [h1, h2, c1, c2]}\n",
        "",
    );
    assert_eq!(
        split(&job, "g").unwrap_err(),
        SplitError::HostCount {
            role: "c1".into(),
            host: "h1".into(),
            count: 2
        }
    );
    // S8: LAVA crashed with a KeyError
    let job = roles_job(
        "      a: {device_type: qemu, count: 1}\n      b: {device_type: qemu, count: 2}\n      c: {device_type: qemu, count: 0}\n",
        "- boot: {method: qemu, media: tmpfs, role: [a]}\n",
        "",
    );
    let err = split(&job, "g").unwrap_err();
    assert_eq!(
        err,
        SplitError::NoAction {
            role: "b".into(),
            count: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "protocols.lava-multinode.roles.b: 2 job(s) of role 'b' would have no action: no action lists the role"
    );
}

#[test]
fn secrets_lxc_and_vland_go_to_their_sub_jobs() {
    let job = roles_job(
        "      a: {device_type: qemu, count: 1}\n      b: {device_type: qemu, count: 1}\n",
        "- boot: {method: qemu, media: tmpfs, role: [a, b]}\n",
        "secrets: {key: value}\n",
    );
    let mut job = job;
    let protocols = job
        .as_mapping_mut()
        .unwrap()
        .get_mut("protocols")
        .unwrap()
        .as_mapping_mut()
        .unwrap();
    protocols.insert(
        "lava-lxc",
        yaml::load("{a: {name: lxc-a, distribution: debian, release: sid}}").unwrap(),
    );
    protocols.insert(
        "lava-vland",
        yaml::load("{b: {vlan_one: {tags: [10G]}}}").unwrap(),
    );
    let split = split(&job, "g").unwrap();
    let (a, b) = (&split.jobs[0].definition, &split.jobs[1].definition);
    assert_eq!(a.get("secrets"), Some(&yaml::load("{key: value}").unwrap()));
    let protos = |j: &Value| j.get("protocols").unwrap().clone();
    assert_eq!(
        protos(a).get("lava-lxc").and_then(|l| l.get("name")),
        Some(&Value::from("lxc-a"))
    );
    assert!(protos(a).get("lava-vland").is_none());
    assert!(protos(b).get("lava-lxc").is_none());
    assert!(protos(b).get("lava-vland").is_some());
}

#[test]
fn a_group_larger_than_the_limit_is_refused_before_the_split() {
    let roles = |b: &str| {
        roles_job(
            &format!("      a: {{device_type: qemu, count: 1000}}\n      b: {{device_type: qemu, count: {b}}}\n"),
            "- boot: {method: qemu, media: tmpfs, role: [a, b]}\n",
            "",
        )
    };
    assert_eq!(MAX_GROUP_SIZE, 1024);
    let err = split(&roles("25"), "g").unwrap_err();
    assert_eq!(
        err,
        SplitError::TooLarge {
            counts: "a: 1000, b: 25".into(),
            total: 1025
        }
    );
    assert_eq!(
        err.to_string(),
        "protocols.lava-multinode.roles: a group may have at most 1024 jobs, but the roles' counts (a: 1000, b: 25) add up to 1025"
    );
    // billions, and a sum past i64::MAX: refused at once, no overflow
    let err = split(&roles("9223372036854775807"), "g").unwrap_err();
    assert!(
        matches!(
            err,
            SplitError::TooLarge {
                total: i64::MAX,
                ..
            }
        ),
        "{err}"
    );
    // the limit itself is a group
    assert_eq!(split(&roles("24"), "g").unwrap().jobs.len(), 1024);
}

both_backends!(
    a_group_is_created_in_one_transaction,
    an_unplaceable_group_creates_nothing,
    roles_sharing_a_device_type_are_counted_together,
    the_group_transition_writes_the_roles,
    cancel_and_essential_cascade,
);

const GROUP: &str = "job_name: pair\nvisibility: public\npriority: high\ntimeouts: {job: {minutes: 10}}\n\
protocols:\n  lava-multinode:\n    roles:\n      server: {device_type: qemu, count: 1, essential: true, tags: [fast]}\n      \
client: {device_type: qemu, count: 2}\n      guest: {connection: ssh, count: 1, host_role: server, expect_role: server}\n    timeout: {minutes: 5}\n\
actions:\n- boot: {method: qemu, media: tmpfs, role: [server, client]}\n- boot: {method: ssh, connection: ssh, role: [guest], prompts: ['#']}\n";

fn lab(f: &Fixture, boards: usize) {
    let s = &f.store;
    s.add_worker(&NewWorker::new("worker1"), "admin").unwrap();
    s.set_worker_state("worker1", WorkerState::Online).unwrap();
    s.add_device_type(&NewDeviceType::new("qemu")).unwrap();
    for n in 0..boards {
        let mut device = NewDevice::new(format!("qemu-0{n}"), "qemu", "worker1");
        if n == 0 {
            device.tags = vec!["fast".into()];
        }
        s.add_device(&device, "admin").unwrap();
    }
}

fn group(f: &Fixture) -> Vec<(i64, String)> {
    match submit_jobs(&f.store, GROUP, "alice", &SubmitOptions::default()).unwrap() {
        Submitted::Group { jobs, .. } => jobs,
        other => panic!("not a group: {other:?}"),
    }
}

fn a_group_is_created_in_one_transaction(f: &Fixture) {
    lab(f, 3);
    let jobs = group(f);
    let first = jobs[0].0;
    let sub_ids: Vec<&str> = jobs.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        sub_ids,
        [
            format!("{first}.0"),
            format!("{first}.1"),
            format!("{first}.2"),
            format!("{first}.3")
        ]
    );
    let stored: Vec<Job> = jobs
        .iter()
        .map(|(id, _)| f.store.job(*id).unwrap())
        .collect();
    let group = stored[0].target_group.clone().unwrap();
    assert_eq!(group.len(), 36);
    let types: Vec<Option<&str>> = stored
        .iter()
        .map(|j| j.requested_device_type.as_deref())
        .collect();
    assert_eq!(types, [Some("qemu"), Some("qemu"), Some("qemu"), None]);
    let essential: Vec<bool> = stored.iter().map(|j| j.essential).collect();
    assert_eq!(essential, [true, false, false, false]);
    assert_eq!(stored[0].tags, ["fast"]);
    for (k, job) in stored.iter().enumerate() {
        assert_eq!(job.target_group.as_deref(), Some(group.as_str()));
        assert_eq!(job.multinode_definition, GROUP);
        assert_eq!(job.submission(), GROUP);
        assert_eq!(job.priority, 100);
        assert_eq!(job.state, JobState::Submitted);
        let member = lava_scheduler::multinode::member(&job.definition).unwrap();
        assert_eq!(member.group_size, 4);
        assert_eq!(member.target_group, group);
        let parsed = JobDefinition::parse(&job.definition).unwrap();
        let block = parsed.protocols.multinode.unwrap();
        assert_eq!(block.sub_id, Some(Value::Int(k as i64)));
    }
    assert_eq!(f.store.group_jobs(&group).unwrap().len(), 4);
    // single-node submissions are unchanged
    let single = "job_name: one\ndevice_type: qemu\nvisibility: public\ntimeouts: {job: {minutes: 10}}\nactions: []\n";
    let submitted = submit_jobs(&f.store, single, "alice", &SubmitOptions::default()).unwrap();
    assert!(matches!(submitted, Submitted::Job(_)));
    assert_eq!(f.store.job(submitted.first()).unwrap().sub_id, "");
}

fn an_unplaceable_group_creates_nothing(f: &Fixture) {
    // one board for a role of two (each role is checked against its type,
    // as LAVA does)
    lab(f, 1);
    let err = submit_jobs(&f.store, GROUP, "alice", &SubmitOptions::default()).unwrap_err();
    assert!(matches!(err, SubmitError::Unavailable(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "Not enough devices of type qemu: 2 needed, 1 not retired"
    );
    assert!(f.store.jobs(&JobFilter::default()).unwrap().is_empty());
    // a role with count > 0 and no action: refused with the role named
    let bad = GROUP.replace("role: [guest]", "role: [nobody]");
    let err = submit_jobs(&f.store, &bad, "alice", &SubmitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("role 'guest'"), "{err}");
    assert!(f.store.jobs(&JobFilter::default()).unwrap().is_empty());
}

fn roles_sharing_a_device_type_are_counted_together(f: &Fixture) {
    // qemu-00 (tags: fast), qemu-01
    lab(f, 2);
    let group = |roles: &str| {
        format!(
            "{BASE}protocols:\n  lava-multinode:\n    roles:\n{roles}\
             actions:\n- boot: {{method: qemu, media: tmpfs, role: [a, b, c]}}\n"
        )
    };
    let refused = |roles: &str| {
        let err =
            submit_jobs(&f.store, &group(roles), "alice", &SubmitOptions::default()).unwrap_err();
        assert!(matches!(err, SubmitError::Unavailable(_)), "{err}");
        err.to_string()
    };
    // each role alone fits, the three together do not
    assert_eq!(
        refused(
            "      a: {device_type: qemu, count: 1}\n      b: {device_type: qemu, count: 1}\n      \
             c: {device_type: qemu, count: 1}\n"
        ),
        "Not enough devices of type qemu for the group: roles a (1), b (1), c (1) need 3 together, 2 not retired"
    );
    // two roles asking for the one fast board
    assert_eq!(
        refused(
            "      a: {device_type: qemu, count: 1, tags: [fast]}\n      b: {device_type: qemu, count: 1}\n      \
             c: {device_type: qemu, count: 1, tags: [fast]}\n"
        ),
        "Not enough devices of type qemu for the group: roles a (1), b (1), c (1) need 3 together, 2 not retired"
    );
    assert_eq!(
        refused(
            "      a: {device_type: qemu, count: 1, tags: [fast]}\n      b: {device_type: qemu, count: 0}\n      \
             c: {device_type: qemu, count: 1, tags: [fast]}\n"
        ),
        "Not enough devices of type qemu with all the tags fast for the group: roles a (1), c (1) need 2 together, 1 not retired"
    );
    // a group too large for any lab is refused before its split
    let err = submit_jobs(
        &f.store,
        &group(
            "      a: {device_type: qemu, count: 1}\n      b: {device_type: qemu, count: 4000000000}\n      \
             c: {device_type: qemu, count: 0}\n",
        ),
        "alice",
        &SubmitOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("at most 1024 jobs")
            && err.to_string().contains("a: 1, b: 4000000000, c: 0"),
        "{err}"
    );
    assert!(f.store.jobs(&JobFilter::default()).unwrap().is_empty());
    // retired boards do not count; two roles on two boards fit
    let fits = group(
        "      a: {device_type: qemu, count: 1, tags: [fast]}\n      b: {device_type: qemu, count: 1}\n      \
         c: {device_type: qemu, count: 0}\n",
    );
    submit_jobs(&f.store, &fits, "alice", &SubmitOptions::default()).unwrap();
    f.store
        .set_device_health("qemu-01", DeviceHealth::Retired, "admin", "test")
        .unwrap();
    assert!(
        submit_jobs(&f.store, &fits, "alice", &SubmitOptions::default())
            .unwrap_err()
            .to_string()
            .contains("need 2 together, 1 not retired")
    );
}

fn the_group_transition_writes_the_roles(f: &Fixture) {
    lab(f, 3);
    let jobs = group(f);
    let report = schedule(&f.store, &AcceptAll).unwrap();
    assert_eq!(report.multinode.len(), 3);
    let stored: Vec<Job> = jobs
        .iter()
        .map(|(id, _)| f.store.job(*id).unwrap())
        .collect();
    let mut expected = Mapping::new();
    for (job, role) in stored.iter().zip(["server", "client", "client"]) {
        expected.insert(job.id.to_string(), role);
    }
    for job in &stored {
        assert_eq!(job.state, JobState::Scheduled, "job {}", job.id);
        let value = yaml::load(&job.definition).unwrap();
        assert_eq!(
            value
                .get("protocols")
                .unwrap()
                .get("lava-multinode")
                .unwrap()
                .get("roles"),
            Some(&Value::Mapping(expected.clone())),
            "job {}",
            job.id
        );
        JobDefinition::parse(&job.definition).unwrap();
    }
    assert_eq!(stored[0].actual_device.as_deref(), Some("qemu-00"));
    assert_eq!(stored[3].actual_device, None);
}

fn cancel_and_essential_cascade(f: &Fixture) {
    lab(f, 3);
    // cancel one sub-job: the whole group
    let jobs = group(f);
    schedule(&f.store, &AcceptAll).unwrap();
    let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        f.store.cancel_job(ids[2], "alice").unwrap(),
        CancelOutcome::Canceling(ids.clone())
    );
    for id in &ids {
        f.store
            .finish_job(*id, JobHealth::Complete, false, None, "test")
            .unwrap();
        assert_eq!(f.store.job(*id).unwrap().health, JobHealth::Canceled);
    }
    // a non-essential failure does not spread
    let jobs = group(f);
    schedule(&f.store, &AcceptAll).unwrap();
    let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id).collect();
    for id in &ids {
        f.store.job_started(*id).unwrap();
    }
    f.store
        .finish_job(ids[1], JobHealth::Incomplete, false, None, "test")
        .unwrap();
    assert_eq!(f.store.job(ids[0]).unwrap().state, JobState::Running);
    // the essential one does, with a comment naming it
    f.store
        .finish_job(ids[0], JobHealth::Incomplete, false, None, "test")
        .unwrap();
    for id in &ids[2..] {
        let job = f.store.job(*id).unwrap();
        assert_eq!(job.state, JobState::Canceling);
        assert_eq!(
            job.failure_comment.as_deref(),
            Some(
                format!(
                    "canceled: the essential multinode job {} ({}.0) ended Incomplete",
                    ids[0], ids[0]
                )
                .as_str()
            )
        );
    }
    assert_eq!(f.store.job(ids[1]).unwrap().health, JobHealth::Incomplete);
}
