//! The coordinator's state machine: the conformance scenarios 7–21 of
//! `docs/coordinator.md` (both semantics where they differ), isolation,
//! member tokens, limits, expiry, snapshots, and the exact reply frames of
//! LAVA 2020.01.

use std::time::Duration;

use lava_coordinator::{AuthMode, Coordinator, Handled, Limits, Semantics, Settings};
use lava_proto::coordinator::{encode_frame, to_python_json, Key};
use serde_json::{json, Map, Value};

const G: &str = "5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e";
const NOW: u64 = 1_700_000_000;

/// A request as LAVA 2020.01's lava-run builds it: the base keys in wire
/// order, then `request`, then the request's own keys.
fn request(group: &str, client: &str, role: &str, name: &str, extra: Value) -> Value {
    let mut map = Map::new();
    map.insert("port".into(), json!(3079));
    map.insert("blocksize".into(), json!(4096));
    map.insert("poll_delay".into(), json!(3));
    map.insert("host".into(), json!("coord.example"));
    map.insert("hostname".into(), json!(format!("worker-{client}")));
    map.insert("client_name".into(), json!(client));
    map.insert("group_name".into(), json!(group));
    map.insert("role".into(), json!(role));
    map.insert("request".into(), json!(name));
    if let Value::Object(extra) = extra {
        map.extend(extra);
    }
    Value::Object(map)
}

struct Lab {
    coordinator: Coordinator,
    now: u64,
}

impl Lab {
    fn new(semantics: Semantics) -> Lab {
        Lab::with(Settings {
            semantics,
            ..Settings::default()
        })
    }

    fn with(settings: Settings) -> Lab {
        Lab {
            coordinator: Coordinator::new(settings),
            now: NOW,
        }
    }

    fn raw(&mut self, body: &Value) -> Handled {
        self.coordinator.handle(body, false, self.now)
    }

    /// The reply as LAVA would write it, or "<none>".
    fn text(&mut self, body: &Value) -> String {
        match self.raw(body).reply {
            Some(reply) => to_python_json(&reply),
            None => "<none>".to_string(),
        }
    }

    fn response(&mut self, body: &Value) -> String {
        let reply = self.raw(body).reply.expect("a reply");
        reply["response"].as_str().expect("a response").to_string()
    }

    fn group_data(&mut self, client: &str, role: &str, size: u64) -> String {
        self.text(&request(
            G,
            client,
            role,
            "group_data",
            json!({"group_size": size}),
        ))
    }

    fn send(&mut self, client: &str, role: &str, id: &str, message: Value) -> String {
        self.text(&request(
            G,
            client,
            role,
            "lava_send",
            json!({"messageID": id, "message": message}),
        ))
    }

    fn wait(&mut self, client: &str, role: &str, id: &str) -> String {
        self.text(&request(
            G,
            client,
            role,
            "lava_wait",
            json!({"messageID": id, "nodeID": client}),
        ))
    }

    fn wait_all(&mut self, client: &str, role: &str, id: &str, waitrole: Option<&str>) -> String {
        let extra = match waitrole {
            Some(r) => json!({"messageID": id, "waitrole": r}),
            None => json!({"messageID": id}),
        };
        self.text(&request(G, client, role, "lava_wait_all", extra))
    }

    fn sync(&mut self, client: &str, role: &str, id: &str) -> String {
        self.text(&request(
            G,
            client,
            role,
            "lava_sync",
            json!({"messageID": id}),
        ))
    }

    fn clear(&mut self, client: &str, role: &str, size: u64) -> String {
        self.text(&request(
            G,
            client,
            role,
            "clear_group",
            json!({"group_size": size}),
        ))
    }
}

const WAIT: &str = r#"{"response": "wait"}"#;
const ACK: &str = r#"{"response": "ack"}"#;
const NACK: &str = r#"{"response": "nack"}"#;

fn both() -> [Semantics; 2] {
    [Semantics::Lava2020, Semantics::Fixed]
}

/// Two members registered and past the start barrier.
fn pair(semantics: Semantics) -> Lab {
    let mut lab = Lab::new(semantics);
    assert_eq!(lab.group_data("1234", "server", 2), WAIT);
    assert_eq!(
        lab.group_data("1235", "client", 2),
        r#"{"response": "group_data", "roles": {"1234": "server", "1235": "client"}}"#
    );
    lab
}

// ---------------------------------------------------------------------------
// Exact frames (the worked exchange of docs/coordinator.md)

#[test]
fn worked_exchange_frames_are_lavas() {
    let mut lab = Lab::new(Semantics::Lava2020);
    let mut first = request(G, "1234", "server", "group_data", json!({"group_size": 2}));
    first["hostname"] = json!("worker1");
    assert_eq!(&encode_frame(&first)[..8], b"000000EB");
    let reply = lab.raw(&first).reply.unwrap();
    assert_eq!(
        encode_frame(&reply),
        b"00000014{\"response\": \"wait\"}".to_vec()
    );
    lab.group_data("1235", "client", 2);
    let reply = lab.raw(&first).reply.unwrap();
    assert_eq!(
        encode_frame(&reply),
        b"00000049{\"response\": \"group_data\", \"roles\": {\"1234\": \"server\", \"1235\": \"client\"}}".to_vec()
    );
    let mut send = request(
        G,
        "1234",
        "server",
        "lava_send",
        json!({"messageID": "ipv4", "message": {"ipaddr": "10.0.0.5"}}),
    );
    send["hostname"] = json!("worker1");
    assert_eq!(&encode_frame(&send)[..8], b"00000111");
    let reply = lab.raw(&send).reply.unwrap();
    assert_eq!(
        encode_frame(&reply),
        b"00000013{\"response\": \"ack\"}".to_vec()
    );
    let wait = request(
        G,
        "1235",
        "client",
        "lava_wait",
        json!({"messageID": "ipv4", "nodeID": "1235"}),
    );
    let reply = lab.raw(&wait).reply.unwrap();
    assert_eq!(
        encode_frame(&reply),
        b"00000040{\"response\": \"ack\", \"message\": {\"1234\": {\"ipaddr\": \"10.0.0.5\"}}}"
            .to_vec()
    );
    assert_eq!(lab.sync("1234", "server", "barrier1"), WAIT);
    assert_eq!(lab.sync("1235", "client", "barrier1"), WAIT);
    let sync = request(
        G,
        "1234",
        "server",
        "lava_sync",
        json!({"messageID": "barrier1"}),
    );
    let reply = lab.raw(&sync).reply.unwrap();
    assert_eq!(
        encode_frame(&reply),
        b"0000002A{\"response\": \"ack\", \"message\": \"barrier1\"}".to_vec()
    );
}

// ---------------------------------------------------------------------------
// Scenarios 7–21

#[test]
fn s07_group_data_barrier() {
    for semantics in both() {
        let mut lab = pair(semantics);
        assert_eq!(
            lab.group_data("1234", "server", 2),
            r#"{"response": "group_data", "roles": {"1234": "server", "1235": "client"}}"#
        );
        // Roles are grouped by role, in order of first registration.
        let mut lab = Lab::new(semantics);
        lab.group_data("3", "server", 3);
        lab.group_data("1", "client", 3);
        assert_eq!(
            lab.group_data("2", "server", 3),
            r#"{"response": "group_data", "roles": {"3": "server", "2": "server", "1": "client"}}"#
        );
    }
}

#[test]
fn s08_registration_refusals() {
    for semantics in both() {
        let mut lab = Lab::new(semantics);
        let mut no_client = request(G, "1", "a", "group_data", json!({"group_size": 2}));
        no_client.as_object_mut().unwrap().remove("client_name");
        assert_eq!(lab.text(&no_client), NACK);
        assert_eq!(
            lab.wait("1", "a", "x"),
            NACK,
            "unknown group without group_size"
        );
        assert_eq!(lab.group_data("1", "a", 0), NACK, "group_size 0");
        assert_eq!(
            lab.text(&request(
                G,
                "1",
                "a",
                "lava-send",
                json!({"group_size": 2, "messageID": "x"})
            )),
            NACK
        );
        let mut no_request = request(G, "1", "a", "x", json!({"group_size": 2}));
        no_request.as_object_mut().unwrap().remove("request");
        assert_eq!(lab.text(&no_request), NACK);
        assert_eq!(
            lab.text(&request(G, "", "a", "group_data", json!({"group_size": 2}))),
            NACK
        );
        // Refusals leave nothing behind.
        assert_eq!(lab.coordinator.stats().groups, 0);
        // Any request registers, not only group_data.
        assert_eq!(
            lab.text(&request(
                G,
                "1",
                "a",
                "lava_wait",
                json!({"messageID": "x", "group_size": 2})
            )),
            WAIT
        );
        assert_eq!(lab.coordinator.stats().members, 1);
    }
}

#[test]
fn s09_null_message() {
    for semantics in both() {
        let mut lab = pair(semantics);
        assert_eq!(lab.send("1234", "server", "x", Value::Null), ACK);
        assert_eq!(
            lab.wait("1235", "client", "x"),
            r#"{"response": "ack", "message": {"1234": {}}}"#
        );
        // No "message" key at all is the same.
        let body = request(G, "1234", "server", "lava_send", json!({"messageID": "y"}));
        assert_eq!(lab.text(&body), ACK);
        assert_eq!(
            lab.wait("1235", "client", "y"),
            r#"{"response": "ack", "message": {"1234": {}}}"#
        );
    }
}

#[test]
fn s10_wait_sees_own_and_old_data() {
    for semantics in both() {
        let mut lab = pair(semantics);
        assert_eq!(lab.wait("1235", "client", "ipv4"), WAIT);
        assert_eq!(lab.send("1234", "server", "ipv4", json!({"k": "v"})), ACK);
        let expected = r#"{"response": "ack", "message": {"1234": {"k": "v"}}}"#;
        assert_eq!(lab.wait("1235", "client", "ipv4"), expected);
        assert_eq!(
            lab.wait("1235", "client", "ipv4"),
            expected,
            "repeat waits return at once"
        );
        assert_eq!(
            lab.wait("1234", "server", "ipv4"),
            expected,
            "B10: the sender sees its own data"
        );
    }
}

#[test]
fn s11_senders_accumulate_and_resend_overwrites() {
    for semantics in both() {
        let mut lab = pair(semantics);
        lab.send("1235", "client", "id", json!({"b": "2"}));
        lab.send("1234", "server", "id", json!({"a": "1", "z": "0"}));
        assert_eq!(
            lab.wait("1234", "server", "id"),
            r#"{"response": "ack", "message": {"1235": {"b": "2"}, "1234": {"a": "1", "z": "0"}}}"#
        );
        lab.send("1235", "client", "id", json!({"c": "3"}));
        assert_eq!(
            lab.wait("1234", "server", "id"),
            r#"{"response": "ack", "message": {"1235": {"c": "3"}, "1234": {"a": "1", "z": "0"}}}"#
        );
        // Action-level calls may send any JSON.
        lab.send("1234", "server", "any", json!([1, "é", {"n": null}]));
        assert_eq!(
            lab.wait("1235", "client", "any"),
            r#"{"response": "ack", "message": {"1234": [1, "\u00e9", {"n": null}]}}"#
        );
    }
}

#[test]
fn s12_wait_all_without_role() {
    for semantics in both() {
        let mut lab = pair(semantics);
        let before = lab.wait_all("1234", "server", "ready", None);
        match semantics {
            Semantics::Lava2020 => assert_eq!(before, NACK, "B9"),
            Semantics::Fixed => assert_eq!(before, WAIT),
        }
        lab.send("1235", "client", "ready", json!({"c": "1"}));
        assert_eq!(lab.wait_all("1234", "server", "ready", None), WAIT);
        lab.send("1234", "server", "ready", json!({"s": "1"}));
        let all = r#"{"response": "ack", "message": {"1235": {"c": "1"}, "1234": {"s": "1"}}}"#;
        assert_eq!(lab.wait_all("1234", "server", "ready", None), all);
        assert_eq!(lab.wait_all("1235", "client", "ready", None), all);
    }
}

#[test]
fn s12_fixed_wait_all_waits_for_a_full_group() {
    let mut lab = Lab::new(Semantics::Fixed);
    lab.group_data("1", "a", 2);
    assert_eq!(lab.send("1", "a", "x", json!({})), ACK);
    // Only one of two members has registered: not "all" yet.
    assert_eq!(lab.wait_all("1", "a", "x", None), WAIT);
    let mut lab = Lab::new(Semantics::Lava2020);
    lab.group_data("1", "a", 2);
    lab.send("1", "a", "x", json!({}));
    assert_eq!(
        lab.wait_all("1", "a", "x", None),
        r#"{"response": "ack", "message": {"1": {}}}"#
    );
}

/// {server×1, client×2}.
fn trio(semantics: Semantics) -> Lab {
    let mut lab = Lab::new(semantics);
    lab.group_data("10", "server", 3);
    lab.group_data("11", "client", 3);
    assert!(lab.group_data("12", "client", 3).contains("group_data"));
    lab
}

#[test]
fn s13_wait_all_for_a_role() {
    for semantics in both() {
        let mut lab = trio(semantics);
        assert_eq!(lab.wait_all("11", "client", "srv", Some("server")), WAIT);
        lab.send("12", "client", "srv", json!({"c": "12"}));
        assert_eq!(lab.wait_all("11", "client", "srv", Some("server")), WAIT);
        lab.send("10", "server", "srv", json!({"ip": "10.0.0.1"}));
        let reply = lab.wait_all("11", "client", "srv", Some("server"));
        assert_eq!(
            reply,
            r#"{"response": "ack", "message": {"12": {"c": "12"}, "10": {"ip": "10.0.0.1"}}}"#,
            "{semantics:?}"
        );
    }
}

#[test]
fn s14_role_wait_all_with_two_members() {
    // {server×2, client×1}: the client waits for role server.
    for semantics in both() {
        let mut lab = Lab::new(semantics);
        lab.group_data("S1", "server", 3);
        lab.group_data("S2", "server", 3);
        lab.group_data("C", "client", 3);
        // The second server sending first releases nobody.
        lab.send("S2", "server", "up", json!({"n": "2"}));
        assert_eq!(lab.wait_all("C", "client", "up", Some("server")), WAIT);
        lab.send("S1", "server", "up", json!({"n": "1"}));
        let both_sent = r#"{"response": "ack", "message": {"S2": {"n": "2"}, "S1": {"n": "1"}}}"#;
        assert_eq!(lab.wait_all("C", "client", "up", Some("server")), both_sent);

        let mut lab = Lab::new(semantics);
        lab.group_data("S1", "server", 3);
        lab.group_data("S2", "server", 3);
        lab.group_data("C", "client", 3);
        lab.send("S1", "server", "up", json!({"n": "1"}));
        let reply = lab.wait_all("C", "client", "up", Some("server"));
        match semantics {
            // B8: the first-registered server stands for the role.
            Semantics::Lava2020 => {
                assert_eq!(
                    reply,
                    r#"{"response": "ack", "message": {"S1": {"n": "1"}}}"#
                )
            }
            Semantics::Fixed => {
                assert_eq!(reply, WAIT);
                lab.send("S2", "server", "up", json!({"n": "2"}));
                assert_eq!(
                    lab.wait_all("C", "client", "up", Some("server")),
                    r#"{"response": "ack", "message": {"S1": {"n": "1"}, "S2": {"n": "2"}}}"#
                );
            }
        }
    }
}

#[test]
fn s14_lava2020_role_wait_all_released_by_own_role() {
    // LAVA's rule 4/5: once every member of the requester's own role has
    // sent, the answer is all data, whoever of the waited role has sent.
    let mut lab = trio(Semantics::Lava2020);
    lab.send("11", "client", "x", json!({"a": "1"}));
    lab.send("12", "client", "x", json!({"b": "2"}));
    assert_eq!(
        lab.wait_all("11", "client", "x", Some("server")),
        r#"{"response": "ack", "message": {"11": {"a": "1"}, "12": {"b": "2"}}}"#
    );
    let mut lab = trio(Semantics::Fixed);
    lab.send("11", "client", "x", json!({"a": "1"}));
    lab.send("12", "client", "x", json!({"b": "2"}));
    assert_eq!(lab.wait_all("11", "client", "x", Some("server")), WAIT);
}

#[test]
fn s15_sync_barrier() {
    let ack = r#"{"response": "ack", "message": "b1"}"#;
    let mut lab = pair(Semantics::Lava2020);
    for _round in 0..2 {
        assert_eq!(lab.sync("1234", "server", "b1"), WAIT);
        assert_eq!(
            lab.sync("1235", "client", "b1"),
            WAIT,
            "the last arriver first gets wait"
        );
        assert_eq!(lab.sync("1234", "server", "b1"), ack);
        assert_eq!(lab.sync("1235", "client", "b1"), ack);
    }
    // Fixed: the last arriver passes at once.
    let mut lab = pair(Semantics::Fixed);
    for _round in 0..2 {
        assert_eq!(lab.sync("1234", "server", "b1"), WAIT);
        assert_eq!(lab.sync("1234", "server", "b1"), WAIT);
        assert_eq!(lab.sync("1235", "client", "b1"), ack);
        assert_eq!(lab.sync("1234", "server", "b1"), ack);
    }
    // Fixed: the last arriver, syncing the same id again before the others
    // were released, waits for a new round instead of passing through.
    let mut lab = pair(Semantics::Fixed);
    assert_eq!(lab.sync("1234", "server", "b1"), WAIT);
    assert_eq!(lab.sync("1235", "client", "b1"), ack);
    assert_eq!(lab.sync("1235", "client", "b1"), WAIT, "next round");
    assert_eq!(lab.sync("1235", "client", "b1"), WAIT);
    assert_eq!(lab.sync("1234", "server", "b1"), ack, "round 1 released");
    assert_eq!(lab.sync("1235", "client", "b1"), WAIT, "round 2: 1 of 2");
    assert_eq!(lab.sync("1234", "server", "b1"), ack, "round 2 complete");
    assert_eq!(lab.sync("1235", "client", "b1"), ack);
    // A message replaces the id in the answer.
    for semantics in both() {
        let mut lab = pair(semantics);
        let body = |c: &str, r: &str| {
            request(
                G,
                c,
                r,
                "lava_sync",
                json!({"messageID": "b2", "message": {"x": "1"}}),
            )
        };
        lab.text(&body("1234", "server"));
        lab.text(&body("1235", "client"));
        assert_eq!(
            lab.text(&body("1234", "server")),
            r#"{"response": "ack", "message": {"x": "1"}}"#
        );
    }
}

#[test]
fn s16_sync_with_an_absent_member() {
    for semantics in both() {
        let mut lab = Lab::new(semantics);
        lab.group_data("1", "a", 3);
        lab.group_data("2", "a", 3);
        for _ in 0..5 {
            assert_eq!(lab.sync("1", "a", "s"), WAIT);
            assert_eq!(lab.sync("2", "a", "s"), WAIT);
        }
    }
}

#[test]
fn s17_clear_group_by_all() {
    for semantics in both() {
        let mut lab = pair(semantics);
        lab.send("1234", "server", "x", json!({}));
        assert_eq!(lab.clear("1234", "server", 2), ACK);
        assert_eq!(lab.coordinator.stats().groups, 1);
        assert_eq!(lab.clear("1235", "client", 2), ACK);
        assert_eq!(lab.coordinator.stats().groups, 0);
        assert_eq!(lab.wait("1234", "server", "x"), NACK);
        // A late clear_group recreates the group for a moment (LAVA too).
        assert_eq!(lab.clear("1234", "server", 2), ACK);
        assert_eq!(lab.coordinator.stats().groups, 0);
    }
}

#[test]
fn s18_clear_group_counts_members_not_calls() {
    for semantics in both() {
        let mut lab = pair(semantics);
        assert_eq!(lab.clear("1234", "server", 2), ACK);
        assert_eq!(lab.clear("1234", "server", 2), ACK);
        // LAVA would have deleted the group here (B6); ours keeps it.
        assert_eq!(lab.coordinator.stats().groups, 1);
        assert_eq!(lab.send("1235", "client", "late", json!({"k": "v"})), ACK);
        assert_eq!(
            lab.wait("1235", "client", "late"),
            r#"{"response": "ack", "message": {"1235": {"k": "v"}}}"#
        );
        assert_eq!(lab.clear("1235", "client", 2), ACK);
        assert_eq!(lab.coordinator.stats().groups, 0);
    }
}

#[test]
fn s19_membership_capped() {
    for semantics in both() {
        let mut lab = pair(semantics);
        assert_eq!(lab.group_data("9999", "client", 2), NACK);
        assert_eq!(lab.wait("9999", "client", "x"), NACK);
        assert_eq!(lab.coordinator.stats().members, 2);
        assert_eq!(
            lab.group_data("1234", "server", 2),
            r#"{"response": "group_data", "roles": {"1234": "server", "1235": "client"}}"#
        );
    }
}

#[test]
fn s20_invalid_requests_get_nack_and_change_nothing() {
    for semantics in both() {
        let mut lab = pair(semantics);
        lab.send("1234", "server", "x", json!({"k": "v"}));
        let before = lab.coordinator.snapshot();
        let bodies = vec![
            request(
                G,
                "1235",
                "client",
                "lava_wait_all",
                json!({"messageID": "x", "waitrole": "nosuchrole"}),
            ),
            {
                let mut b = request(G, "1235", "client", "lava_wait", json!({"messageID": "x"}));
                b.as_object_mut().unwrap().remove("group_name");
                b
            },
            json!(5),
            json!(["request", "group_data"]),
            json!(null),
            json!("lava_send"),
            request(G, "1235", "server", "lava_wait", json!({"messageID": "x"})), // role change
            request(G, "1235", "client", "lava_wait", json!({"messageID": 7})),
            request(G, "1235", "client", "lava_wait", json!({})),
            request(
                G,
                "1235",
                "client",
                "lava_wait_all",
                json!({"messageID": "x", "waitrole": 1}),
            ),
            request(
                G,
                "1235",
                "client",
                "group_data",
                json!({"group_size": "2"}),
            ),
            request(G, "1235", "client", "group_data", json!({"group_size": -2})),
            request(
                G,
                "1235",
                "client",
                "group_data",
                json!({"group_size": 2.5}),
            ),
            request(G, "1235", "client", "group_data", json!({"group_size": 3})), // mismatch
            request(G, "data", "client", "group_data", json!({"group_size": 2})),
            request(G, "1235", "client", "no_such_request", json!({})),
            request(G, "1235", "client", "aggregate", json!({"sub_id": "1.0"})),
            request(
                G,
                "1235",
                "client",
                "aggregate",
                json!({"bundle": {}, "sub_id": null}),
            ),
            request(
                G,
                "1235",
                "client",
                "aggregate",
                json!({"bundle": {}, "sub_id": 0}),
            ),
            json!({"request": "group_data", "client_name": 1235, "group_name": G, "role": "client", "hostname": "h"}),
            json!({"request": "group_data", "client_name": "1235", "group_name": ["x"], "role": "client"}),
            json!({"request": "group_data", "client_name": "n", "group_name": "new", "role": "r", "group_size": 2}), // no hostname
            json!({"request": "group_data", "client_name": "n", "group_name": "new", "hostname": "h", "group_size": 2}), // no role
            json!({"request": "group_data", "client_name": "n", "group_name": "new", "hostname": "h", "role": 5, "group_size": 2}),
            json!({"request": "group_data", "client_name": "n", "group_name": "new", "hostname": ["h"], "role": "r", "group_size": 2}),
        ];
        for body in &bodies {
            let handled = lab.raw(body);
            assert_eq!(handled.reply, Some(json!({"response": "nack"})), "{body}");
            assert!(!handled.mutated, "{body}");
        }
        assert_eq!(lab.coordinator.snapshot(), before, "{semantics:?}");
        // Still alive and serving.
        assert_eq!(
            lab.wait("1235", "client", "x"),
            r#"{"response": "ack", "message": {"1234": {"k": "v"}}}"#
        );
    }
}

#[test]
fn s20_mistyped_request_name() {
    let mut lab = pair(Semantics::Lava2020);
    let mut body = request(G, "1234", "server", "x", json!({}));
    body["request"] = json!(7);
    assert_eq!(lab.text(&body), NACK);
}

#[test]
fn s20_send_after_sync() {
    // Lava2020: sync and send share slots; a send after a sync on the same
    // id (which crashed LAVA) is refused, a wait sees the sync value.
    let mut lab = pair(Semantics::Lava2020);
    assert_eq!(lab.sync("1234", "server", "both"), WAIT);
    assert_eq!(lab.send("1235", "client", "both", json!({"k": "v"})), NACK);
    assert_eq!(lab.send("1234", "server", "both", json!({"k": "v"})), NACK);
    assert_eq!(
        lab.wait("1234", "server", "both"),
        r#"{"response": "ack", "message": "both"}"#
    );
    // Fixed: separate namespaces.
    let mut lab = pair(Semantics::Fixed);
    assert_eq!(lab.sync("1234", "server", "both"), WAIT);
    assert_eq!(lab.wait("1234", "server", "both"), WAIT);
    assert_eq!(lab.send("1235", "client", "both", json!({"k": "v"})), ACK);
    assert_eq!(
        lab.wait("1234", "server", "both"),
        r#"{"response": "ack", "message": {"1235": {"k": "v"}}}"#
    );
    assert_eq!(
        lab.sync("1235", "client", "both"),
        r#"{"response": "ack", "message": "both"}"#
    );
}

#[test]
fn s21_aggregate_and_complete() {
    for semantics in both() {
        let mut lab = pair(semantics);
        let agg = |client: &str, role: &str, sub_id: &str, bundle: Value| {
            request(
                G,
                client,
                role,
                "aggregate",
                json!({"bundle": bundle, "sub_id": sub_id}),
            )
        };
        assert_eq!(
            lab.text(&agg("1234", "server", "100.0", json!({"a": 1}))),
            WAIT
        );
        assert_eq!(lab.text(&agg("1235", "client", "100.1", json!("b"))), ACK);
        assert_eq!(
            lab.text(&agg("1234", "server", "100.0", json!({"a": 1}))),
            WAIT
        );
        assert_eq!(
            lab.text(&agg("1234", "server", "100.0", json!({"a": 1}))),
            WAIT
        );
        assert_eq!(
            lab.text(&agg("1234", "server", "100.0", json!({"a": 1}))),
            r#"{"response": "ack", "message": {"bundle": {"1234": {"a": 1}, "1235": "b"}}}"#
        );
        let complete = request(G, "1234", "server", "complete", json!({}));
        let handled = lab.raw(&complete);
        assert_eq!(handled.reply, None);
        assert_eq!(handled.group.as_deref(), Some(G));
    }
}

// ---------------------------------------------------------------------------
// Isolation, auth, limits, expiry, persistence

#[test]
fn groups_are_isolated() {
    let mut lab = Lab::new(Semantics::Lava2020);
    let other = "other-group";
    for group in [G, other] {
        lab.text(&request(
            group,
            "1",
            "a",
            "group_data",
            json!({"group_size": 2}),
        ));
        lab.text(&request(
            group,
            "2",
            "b",
            "group_data",
            json!({"group_size": 2}),
        ));
    }
    lab.text(&request(
        G,
        "1",
        "a",
        "lava_send",
        json!({"messageID": "x", "message": {"secret": "G"}}),
    ));
    let wait = |group: &str| request(group, "2", "b", "lava_wait", json!({"messageID": "x"}));
    assert_eq!(lab.text(&wait(other)), WAIT);
    assert_eq!(
        lab.text(&wait(G)),
        r#"{"response": "ack", "message": {"1": {"secret": "G"}}}"#
    );
    // Clearing one group leaves the other.
    for c in ["1", "2"] {
        lab.text(&request(
            other,
            c,
            if c == "1" { "a" } else { "b" },
            "clear_group",
            json!({"group_size": 2}),
        ));
    }
    assert_eq!(lab.coordinator.stats().groups, 1);
    assert_eq!(
        lab.text(&wait(G)),
        r#"{"response": "ack", "message": {"1": {"secret": "G"}}}"#
    );
}

fn with_token(mut body: Value, token: &str) -> Value {
    body.as_object_mut()
        .unwrap()
        .insert("token".into(), json!(token));
    body
}

fn auth_lab(auth: AuthMode) -> (Lab, Key) {
    let key = Key::generate("lab").unwrap();
    let lab = Lab::with(Settings {
        auth,
        keys: vec![Key::generate("old").unwrap(), key.clone()],
        ..Settings::default()
    });
    (lab, key)
}

#[test]
fn auth_require() {
    let (mut lab, key) = auth_lab(AuthMode::Require);
    let gd =
        |c: &str, r: &str, size: u64| request(G, c, r, "group_data", json!({"group_size": size}));
    let t_server = key.token(G, "1234", "server", 2);
    let t_client = key.token(G, "1235", "client", 2);
    assert_eq!(lab.text(&gd("1234", "server", 2)), NACK, "no token");
    assert_eq!(
        lab.text(&with_token(gd("1234", "server", 2), "lab:00")),
        NACK,
        "bad token"
    );
    assert_eq!(
        lab.text(&with_token(gd("1234", "server", 2), &t_client)),
        NACK,
        "another client's"
    );
    assert_eq!(
        lab.text(&with_token(gd("1234", "server", 3), &t_server)),
        NACK,
        "another size"
    );
    assert_eq!(
        lab.text(&with_token(gd("1234", "client", 2), &t_server)),
        NACK,
        "another role"
    );
    assert_eq!(
        lab.text(&with_token(
            request(
                "g2",
                "1234",
                "server",
                "group_data",
                json!({"group_size": 2})
            ),
            &t_server
        )),
        NACK,
        "another group"
    );
    assert_eq!(lab.coordinator.stats().groups, 0);
    assert_eq!(
        lab.text(&with_token(gd("1234", "server", 2), &t_server)),
        WAIT
    );
    assert!(lab
        .text(&with_token(gd("1235", "client", 2), &t_client))
        .contains("group_data"));
    // Without group_size the group's size is used; without role the
    // registered role.
    let send = request(
        G,
        "1234",
        "server",
        "lava_send",
        json!({"messageID": "x", "message": {"a": "b"}}),
    );
    assert_eq!(lab.text(&send), NACK);
    assert_eq!(lab.text(&with_token(send.clone(), &t_server)), ACK);
    let mut wait = request(G, "1235", "client", "lava_wait", json!({"messageID": "x"}));
    wait.as_object_mut().unwrap().remove("role");
    assert_eq!(
        lab.text(&with_token(wait.clone(), &t_server)),
        NACK,
        "impersonation"
    );
    assert_eq!(
        lab.text(&with_token(wait, &t_client)),
        r#"{"response": "ack", "message": {"1234": {"a": "b"}}}"#
    );
    // A forged clear_group cannot delete; under Require the group goes
    // only when every member of group_size cleared it.
    let clear = |c: &str, r: &str| request(G, c, r, "clear_group", json!({"group_size": 2}));
    assert_eq!(lab.text(&clear("1234", "server")), NACK);
    assert_eq!(
        lab.text(&with_token(clear("1234", "server"), &t_server)),
        ACK
    );
    assert_eq!(
        lab.text(&with_token(clear("1234", "server"), &t_server)),
        ACK
    );
    assert_eq!(lab.coordinator.stats().groups, 1);
    assert_eq!(
        lab.text(&with_token(clear("1235", "client"), &t_client)),
        ACK
    );
    assert_eq!(lab.coordinator.stats().groups, 0);

    // A group with one registered member of two is not deleted by its
    // clear_group (LAVA's rule would delete it: all registered cleared).
    let t = key.token("g3", "1", "a", 2);
    let body = with_token(
        request("g3", "1", "a", "clear_group", json!({"group_size": 2})),
        &t,
    );
    assert_eq!(lab.text(&body), ACK);
    assert_eq!(lab.coordinator.stats().groups, 1);
}

#[test]
fn auth_secure_requests_need_tokens_whatever_the_mode() {
    let (mut lab, key) = auth_lab(AuthMode::Off);
    let body = request(G, "1", "a", "group_data", json!({"group_size": 1}));
    let handled = lab.coordinator.handle(&body, true, NOW);
    assert_eq!(handled.reply, Some(json!({"response": "nack"})));
    let body = with_token(body, &key.token(G, "1", "a", 1));
    let handled = lab.coordinator.handle(&body, true, NOW);
    assert_eq!(
        to_python_json(&handled.reply.unwrap()),
        r#"{"response": "group_data", "roles": {"1": "a"}}"#
    );
    // Plaintext requests in mode Off need none.
    assert_eq!(
        lab.text(&request(
            "g2",
            "1",
            "a",
            "group_data",
            json!({"group_size": 1})
        )),
        r#"{"response": "group_data", "roles": {"1": "a"}}"#
    );
}

#[test]
fn auth_warn_and_off_serve_everyone() {
    for mode in [AuthMode::Warn, AuthMode::Off] {
        let (mut lab, key) = auth_lab(mode);
        assert_eq!(lab.group_data("1234", "server", 2), WAIT);
        let wrong = key.token(G, "1234", "server", 2);
        let body = with_token(
            request(G, "1235", "client", "group_data", json!({"group_size": 2})),
            &wrong,
        );
        assert!(lab.text(&body).contains("group_data"));
        // LAVA's rule: all registered members cleared → deleted.
        assert_eq!(lab.clear("1234", "server", 2), ACK);
        assert_eq!(lab.clear("1235", "client", 2), ACK);
        assert_eq!(lab.coordinator.stats().groups, 0);
    }
}

#[test]
fn limits_are_enforced() {
    let mut lab = Lab::with(Settings {
        limits: Limits {
            max_groups: 2,
            max_group_size: 4,
            max_group_bytes: 4096,
            group_ttl: Duration::from_secs(60),
            ..Limits::default()
        },
        ..Settings::default()
    });
    let gd = |g: &str, size: u64| request(g, "1", "a", "group_data", json!({"group_size": size}));
    assert_eq!(
        lab.response(&gd("g1", 5)),
        "nack",
        "group_size over the limit"
    );
    assert_eq!(lab.response(&gd("g1", 4)), "wait");
    assert_eq!(lab.response(&gd("g2", 2)), "wait");
    assert_eq!(lab.response(&gd("g3", 2)), "nack", "too many groups");
    assert_eq!(lab.coordinator.stats().groups, 2);
    // Bytes: a payload that fits, one that does not.
    let send = |id: &str, blob: String| {
        request(
            "g1",
            "1",
            "a",
            "lava_send",
            json!({"messageID": id, "message": {"blob": blob}}),
        )
    };
    assert_eq!(lab.response(&send("small", "x".repeat(1000))), "ack");
    let before = lab.coordinator.snapshot();
    assert_eq!(lab.response(&send("big", "x".repeat(3000))), "nack");
    assert_eq!(
        lab.coordinator.snapshot(),
        before,
        "a refused send leaves nothing"
    );
    let wait = request("g1", "1", "a", "lava_wait", json!({"messageID": "big"}));
    assert_eq!(lab.response(&wait), "wait");
    // Overwriting the small one with an equal size is fine.
    assert_eq!(lab.response(&send("small", "y".repeat(1000))), "ack");
    // Every member holds a copy: the same payload fails once more members joined.
    for c in ["2", "3"] {
        lab.text(&request(
            "g1",
            c,
            "a",
            "group_data",
            json!({"group_size": 4}),
        ));
    }
    assert_eq!(lab.response(&send("third", "z".repeat(1000))), "nack");
    let stats = lab.coordinator.stats();
    assert!(stats.bytes <= 2 * 4096, "{stats:?}");
    assert!(stats.bytes >= 1000, "{stats:?}");
    assert_eq!(stats.members, 4);
    // Lots of sync polls do not grow the state.
    let sync = request("g1", "1", "a", "lava_sync", json!({"messageID": "s"}));
    lab.text(&sync);
    let bytes = lab.coordinator.stats().bytes;
    for _ in 0..100 {
        assert_eq!(lab.response(&sync), "wait");
    }
    assert_eq!(lab.coordinator.stats().bytes, bytes);
}

#[test]
fn the_total_byte_budget_refuses_new_groups_and_sends_beyond_it() {
    let mut lab = Lab::with(Settings {
        limits: Limits {
            max_group_bytes: 8192,
            max_total_bytes: 10_000,
            ..Limits::default()
        },
        ..Settings::default()
    });
    let gd = |g: &str| request(g, "1", "a", "group_data", json!({"group_size": 2}));
    let send = |g: &str, id: &str, size: usize| {
        request(
            g,
            "1",
            "a",
            "lava_send",
            json!({"messageID": id, "message": {"blob": "x".repeat(size)}}),
        )
    };
    assert_eq!(lab.response(&gd("b1")), "wait");
    assert_eq!(lab.response(&gd("b2")), "wait");
    // each group alone is under max_group_bytes, together over the budget
    // (a payload is held twice here: the member's view and the wait-all data)
    assert_eq!(lab.response(&send("b1", "m", 3000)), "ack");
    let before = lab.coordinator.snapshot();
    assert_eq!(lab.response(&send("b2", "m", 3000)), "nack");
    assert_eq!(lab.coordinator.snapshot(), before, "nothing stored");
    assert_eq!(lab.response(&send("b2", "m", 500)), "ack");
    let bytes = lab.coordinator.stats().bytes;
    assert!((7000..=10_000).contains(&bytes), "{bytes}");
    // fill up to within about 50 bytes: no room left for a new group
    let left = 10_000 - bytes;
    let fill = (left - 50 - 33) / 2;
    assert_eq!(lab.response(&send("b2", "n", fill)), "ack");
    let bytes = lab.coordinator.stats().bytes;
    assert!((9_900..=10_000).contains(&bytes), "{bytes}");
    assert_eq!(lab.response(&gd("b3")), "nack");
    assert_eq!(lab.coordinator.stats().groups, 2);
    // clearing a group gives its bytes back
    let clear = request("b1", "1", "a", "clear_group", json!({"group_size": 2}));
    assert_eq!(lab.response(&clear), "ack");
    assert_eq!(lab.coordinator.stats().groups, 1);
    let bytes = lab.coordinator.stats().bytes;
    assert!(bytes < 4000, "{bytes}");
    assert_eq!(lab.response(&gd("b3")), "wait");
    assert_eq!(lab.response(&send("b3", "m", 2000)), "ack");
}

#[test]
fn idle_groups_expire() {
    let mut lab = Lab::with(Settings {
        limits: Limits {
            group_ttl: Duration::from_secs(100),
            ..Limits::default()
        },
        ..Settings::default()
    });
    lab.text(&request(
        "idle",
        "1",
        "a",
        "group_data",
        json!({"group_size": 2}),
    ));
    lab.now += 60;
    lab.text(&request(
        "busy",
        "1",
        "a",
        "group_data",
        json!({"group_size": 2}),
    ));
    lab.now += 39;
    assert!(lab.coordinator.expire(lab.now).is_empty());
    lab.text(&request(
        "busy",
        "1",
        "a",
        "lava_wait",
        json!({"messageID": "x"}),
    ));
    lab.now += 1;
    assert_eq!(lab.coordinator.expire(lab.now), vec!["idle".to_string()]);
    assert_eq!(lab.coordinator.stats().groups, 1);
    // "busy" was last active at +99: it expires at +199.
    lab.now += 98;
    assert!(lab.coordinator.expire(lab.now).is_empty());
    lab.now += 1;
    assert_eq!(lab.coordinator.expire(lab.now), vec!["busy".to_string()]);
    assert_eq!(lab.coordinator.stats(), Default::default());
}

#[test]
fn snapshot_restore_keeps_pending_state() {
    for semantics in both() {
        let mut lab = pair(semantics);
        lab.send(
            "1234",
            "server",
            "ipv4",
            json!({"ip": "10.0.0.5", "é": "ü"}),
        );
        assert_eq!(lab.sync("1234", "server", "b"), WAIT);
        lab.clear("1234", "server", 2);
        let snapshot = lab.coordinator.snapshot();
        let stats = lab.coordinator.stats();
        // Through text, as the daemon stores it.
        let text = serde_json::to_string(&snapshot).unwrap();
        let settings = Settings {
            semantics,
            ..Settings::default()
        };
        let mut restored = Lab {
            coordinator: Coordinator::restore(settings, &serde_json::from_str(&text).unwrap())
                .unwrap(),
            now: NOW,
        };
        assert_eq!(restored.coordinator.snapshot(), snapshot);
        assert_eq!(restored.coordinator.stats(), stats);
        assert_eq!(
            restored.wait("1235", "client", "ipv4"),
            r#"{"response": "ack", "message": {"1234": {"ip": "10.0.0.5", "\u00e9": "\u00fc"}}}"#
        );
        let expected = match semantics {
            Semantics::Lava2020 => WAIT,
            Semantics::Fixed => r#"{"response": "ack", "message": "b"}"#,
        };
        assert_eq!(restored.sync("1235", "client", "b"), expected);
        // The earlier clear_group from 1234 still counts.
        assert_eq!(restored.clear("1235", "client", 2), ACK);
        assert_eq!(restored.coordinator.stats().groups, 0);
    }
}

#[test]
fn restore_refuses_bad_snapshots() {
    for bad in [
        json!({}),
        json!({"version": 2, "groups": []}),
        json!({"version": 1}),
        json!({"version": 1, "groups": [{"name": 5}]}),
    ] {
        assert!(
            Coordinator::restore(Settings::default(), &bad).is_err(),
            "{bad}"
        );
    }
    let empty = Coordinator::new(Settings::default()).snapshot();
    assert!(Coordinator::restore(Settings::default(), &empty).is_ok());
}

/// A journal of the mutating requests only, replayed, gives the same state.
#[test]
fn replaying_mutating_requests_rebuilds_the_state() {
    for semantics in both() {
        let mut lab = Lab::new(semantics);
        let mut journal = Vec::new();
        let mut script: Vec<Value> = Vec::new();
        for (c, r) in [("1", "a"), ("2", "b"), ("3", "b")] {
            script.push(request(G, c, r, "group_data", json!({"group_size": 3})));
        }
        for (c, r) in [("1", "a"), ("2", "b"), ("3", "b"), ("1", "a"), ("2", "b")] {
            script.push(request(G, c, r, "lava_sync", json!({"messageID": "s"})));
            script.push(request(G, c, r, "lava_wait", json!({"messageID": "m"})));
            script.push(request(
                G,
                c,
                r,
                "lava_send",
                json!({"messageID": "m", "message": {"c": c}}),
            ));
            script.push(request(
                G,
                c,
                r,
                "lava_wait_all",
                json!({"messageID": "m", "waitrole": "b"}),
            ));
            script.push(request(G, c, r, "group_data", json!({"group_size": 3})));
        }
        script.push(request(G, "3", "b", "lava_sync", json!({"messageID": "s"})));
        script.push(request(
            G,
            "1",
            "a",
            "clear_group",
            json!({"group_size": 3}),
        ));
        script.push(request(
            G,
            "1",
            "a",
            "clear_group",
            json!({"group_size": 3}),
        ));
        let mut quiet = 0;
        for body in &script {
            let handled = lab.raw(body);
            if handled.mutated {
                journal.push(body.clone());
            } else {
                quiet += 1;
            }
        }
        assert!(quiet > 10, "polls are not mutations ({quiet})");
        let mut replay = Lab::new(semantics);
        for body in &journal {
            replay.raw(body);
        }
        assert_eq!(
            replay.coordinator.snapshot(),
            lab.coordinator.snapshot(),
            "{semantics:?}"
        );
    }
}

#[test]
fn garbage_never_panics() {
    let mut lab = pair(Semantics::Lava2020);
    let values = [
        json!(null),
        json!(true),
        json!(1),
        json!(-1),
        json!(1.5),
        json!("s"),
        json!([]),
        json!({}),
        json!({"a": [1]}),
    ];
    let keys = [
        "request",
        "client_name",
        "group_name",
        "role",
        "hostname",
        "group_size",
        "messageID",
        "message",
        "waitrole",
        "bundle",
        "sub_id",
        "token",
    ];
    let requests = [
        "group_data",
        "clear_group",
        "aggregate",
        "lava_sync",
        "lava_wait_all",
        "lava_wait",
        "lava_send",
        "complete",
    ];
    for name in requests {
        for key in keys {
            for value in &values {
                let mut body = request(
                    G,
                    "1234",
                    "server",
                    name,
                    json!({"messageID": "x", "group_size": 2}),
                );
                body[key] = value.clone();
                let handled = lab.raw(&body);
                if let Some(reply) = handled.reply {
                    assert!(reply.get("response").is_some(), "{body} -> {reply}");
                }
            }
        }
    }
    // Still consistent: G kept its two members (a group named "s" may
    // have been made by a string group_name).
    assert_eq!(
        lab.group_data("1234", "server", 2),
        r#"{"response": "group_data", "roles": {"1234": "server", "1235": "client"}}"#
    );
    assert!(lab.coordinator.stats().groups <= 2);
}
