//! The state directory (`docs/coordinator.md`, "Persistence"): journal
//! compaction, restarts of an in-process server, replay of expiries and
//! lines a crash left behind a snapshot.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use lava_coordinator::journal::{Journal, JOURNAL_FILE, SNAPSHOT_FILE};
use lava_coordinator::ServerConfig;
use serde_json::json;

fn with_state(dir: &Path, compact_bytes: u64) -> ServerConfig {
    ServerConfig {
        state_dir: Some(dir.to_path_buf()),
        compact_bytes,
        ..loopback()
    }
}

#[test]
fn the_journal_is_compacted_and_a_restart_keeps_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server = start(with_state(&state, 2048), settings());
    let addr = server.address();
    for (client, role) in [("1", "server"), ("2", "client")] {
        ask(
            &addr,
            &body("c", client, role, "group_data", json!({"group_size": 2})),
        );
    }
    for i in 0..60 {
        let send = body(
            "c",
            "1",
            "server",
            "lava_send",
            json!({"messageID": format!("m{i}"), "message": {"i": i.to_string()}}),
        );
        assert_eq!(response(&ask(&addr, &send)), "ack");
    }
    let journal = std::fs::metadata(state.join(JOURNAL_FILE)).unwrap().len();
    assert!(
        journal <= 2048 + 1024,
        "journal of {journal} bytes not compacted"
    );
    assert!(state.join(SNAPSHOT_FILE).exists());
    server.stop().unwrap();

    let server = start(with_state(&state, 2048), settings());
    let addr = server.address();
    for i in 0..60 {
        let wait = body(
            "c",
            "2",
            "client",
            "lava_wait",
            json!({"messageID": format!("m{i}")}),
        );
        assert_eq!(
            ask(&addr, &wait),
            json!({"response": "ack", "message": {"1": {"i": i.to_string()}}})
        );
    }
    assert_eq!(server.stats().coordinator.members, 2);
}

#[test]
fn lines_already_in_the_snapshot_are_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let server = start(with_state(&state, 1 << 20), settings());
    let addr = server.address();
    for (client, role) in [("1", "a"), ("2", "a"), ("3", "a")] {
        ask(
            &addr,
            &body("s", client, role, "group_data", json!({"group_size": 3})),
        );
    }
    // a barrier half-way: two of three arrived (not idempotent if replayed twice)
    for client in ["1", "2"] {
        let sync = body("s", client, "a", "lava_sync", json!({"messageID": "b"}));
        assert_eq!(response(&ask(&addr, &sync)), "wait");
    }
    server.stop().unwrap();
    let lines = std::fs::read_to_string(state.join(JOURNAL_FILE)).unwrap();
    assert!(lines.lines().count() >= 5);

    // Start: the journal is folded into a new snapshot and emptied. Then put
    // the old lines back, as a crash between the snapshot's rename and the
    // journal's truncation would leave them.
    let (_, _, loaded) = Journal::open(&state, settings(), 1 << 20).unwrap();
    assert_eq!(loaded.replayed, lines.lines().count());
    assert_eq!(
        std::fs::read_to_string(state.join(JOURNAL_FILE)).unwrap(),
        ""
    );
    std::fs::write(state.join(JOURNAL_FILE), &lines).unwrap();
    let (_, mut coordinator, loaded) = Journal::open(&state, settings(), 1 << 20).unwrap();
    assert!(loaded.snapshot);
    assert_eq!(loaded.replayed, 0, "every line is older than the snapshot");
    let stats = coordinator.stats();
    assert_eq!((stats.groups, stats.members), (1, 3));
    // the barrier still waits for the third member only
    let last = body("s", "3", "a", "lava_sync", json!({"messageID": "b"}));
    let now = 2_000_000_000;
    let mut reply = coordinator.handle(&last, false, now).reply.unwrap();
    if response(&reply) == "wait" {
        reply = coordinator.handle(&last, false, now).reply.unwrap();
    }
    assert_eq!(reply, json!({"response": "ack", "message": "b"}));
}

#[test]
fn expiries_are_replayed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let join =
        |client: &str, size: u64| body("e", client, "r", "group_data", json!({"group_size": size}));
    // group "e" of 2 created at t=100, expired at t=1000 (TTL 60 s), created
    // again with 3 members at t=1100
    let text = [
        json!({"seq": 1, "now": 100, "secure": false, "body": join("1", 2)}),
        json!({"seq": 2, "now": 1000, "expire": true}),
        json!({"seq": 3, "now": 1100, "secure": false, "body": join("1", 3)}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    std::fs::write(state.join(JOURNAL_FILE), text).unwrap();
    let mut settings = settings();
    settings.limits.group_ttl = Duration::from_secs(60);
    let (_, mut coordinator, loaded) = Journal::open(state, settings, 1 << 20).unwrap();
    assert_eq!(loaded.replayed, 3);
    let reply = coordinator
        .handle(&join("2", 3), false, 1110)
        .reply
        .unwrap();
    assert_eq!(
        response(&reply),
        "wait",
        "the second group has size 3: {reply}"
    );
}

#[test]
fn a_damaged_snapshot_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(SNAPSHOT_FILE), "{\"version\": 1, \"seq\"").unwrap();
    let err = Journal::open(dir.path(), settings(), 1 << 20)
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("snapshot.json") && text.contains("not JSON"),
        "{text}"
    );
}

#[test]
fn a_replayed_expiry_removes_exactly_the_groups_it_removed() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let join = |group: &str| body(group, "1", "r", "group_data", json!({"group_size": 2}));
    // both groups created at t=100; "live" was then kept alive by polls (not
    // journaled), so the expiry pass at t=1000 removed "gone" only
    let text = [
        json!({"seq": 1, "now": 100, "secure": false, "body": join("live")}),
        json!({"seq": 2, "now": 100, "secure": false, "body": join("gone")}),
        json!({"seq": 3, "now": 1000, "expire": true, "groups": ["gone"]}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    std::fs::write(state.join(JOURNAL_FILE), text).unwrap();
    let mut settings = settings();
    settings.limits.group_ttl = Duration::from_secs(60);
    let (_, mut coordinator, loaded) = Journal::open(state, settings, 1 << 20).unwrap();
    assert_eq!(loaded.replayed, 3);
    assert_eq!(coordinator.stats().groups, 1);
    let second = body("live", "2", "r", "group_data", json!({"group_size": 2}));
    let reply = coordinator.handle(&second, false, 1010).reply.unwrap();
    assert_eq!(response(&reply), "group_data", "{reply}");
}

#[test]
fn a_restart_gives_restored_groups_a_full_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    // a group last journaled long ago (its later polls are not journaled)
    let join = body("old", "1", "r", "group_data", json!({"group_size": 2}));
    let line = json!({"seq": 1, "now": 100, "secure": false, "body": join});
    std::fs::write(state.join(JOURNAL_FILE), format!("{line}\n")).unwrap();
    let mut settings = settings();
    settings.limits.group_ttl = Duration::from_secs(3600);
    let server = start(with_state(state, 1 << 20), settings);
    assert_eq!(server.stats().coordinator.groups, 1, "kept at start");
    let second = body("old", "2", "r", "group_data", json!({"group_size": 2}));
    assert_eq!(response(&ask(&server.address(), &second)), "group_data");
}

#[cfg(unix)]
#[test]
fn an_existing_state_directory_and_its_files_are_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (journal, coordinator, _) = Journal::open(&state, settings(), 1 << 20).unwrap();
    let mut journal = journal;
    journal.compact(&coordinator).unwrap();
    drop(journal);
    let join = body("p", "1", "r", "group_data", json!({"group_size": 2}));
    let line = json!({"seq": 1, "now": 100, "secure": false, "body": join});
    std::fs::write(state.join(JOURNAL_FILE), format!("{line}\n")).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(&state, 0o755);
    set(&state.join(JOURNAL_FILE), 0o644);
    set(&state.join(SNAPSHOT_FILE), 0o644);
    let (_, coordinator, loaded) = Journal::open(&state, settings(), 1 << 20).unwrap();
    assert_eq!((loaded.replayed, coordinator.stats().groups), (1, 1));
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(JOURNAL_FILE)), 0o600);
    assert_eq!(mode(&state.join(SNAPSHOT_FILE)), 0o600);
}
