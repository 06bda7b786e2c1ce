//! The CURVE listener on loopback: only clients whose certificate is in the
//! authorised directory can talk, and every request must carry a valid
//! member token (`docs/coordinator.md`, "Secure mode").

#![cfg(feature = "curve")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use lava_coordinator::config::CurveOptions;
use lava_coordinator::{RunningServer, ServerConfig};
use lava_proto::cert::{self, KeyPair, PublicKey};
use lava_proto::coordinator::{exchange_curve, Key};
use serde_json::{json, Value};

struct Lab {
    server: RunningServer,
    endpoint: String,
    server_public: PublicKey,
    client: KeyPair,
    key: Key,
    _dir: tempfile::TempDir,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("server");
    let clients = dir.path().join("clients");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::create_dir_all(&clients).unwrap();
    let server_pair = KeyPair::generate().unwrap();
    cert::write_pair(&certs, "coordinator", &server_pair, false).unwrap();
    let client = KeyPair::generate().unwrap();
    cert::write_pair(&clients, "worker1", &client, false).unwrap();
    let key = key();
    let mut settings = settings();
    settings.keys = vec![key.clone()];
    let config = ServerConfig {
        curve: Some(CurveOptions {
            bind: "tcp://127.0.0.1:*".into(),
            cert: certs.join("coordinator.key_secret"),
            clients_certs: clients,
        }),
        ..loopback()
    };
    let server = start(config, settings);
    let endpoint = server.curve_endpoint().unwrap().to_string();
    Lab {
        server,
        endpoint,
        server_public: server_pair.public,
        client,
        key,
        _dir: dir,
    }
}

fn curve(lab: &Lab, client: &KeyPair, body: &Value) -> Value {
    exchange_curve(
        &lab.endpoint,
        &lab.server_public,
        client,
        body,
        Duration::from_secs(30),
    )
    .unwrap()
    .unwrap()
}

fn with_token(lab: &Lab, mut body: Value, size: u64) -> Value {
    let token = lab.key.token(
        body["group_name"].as_str().unwrap(),
        body["client_name"].as_str().unwrap(),
        body["role"].as_str().unwrap(),
        size,
    );
    body["token"] = json!(token);
    body
}

#[test]
fn requests_without_or_with_a_wrong_token_are_refused_over_curve() {
    let lab = lab();
    let request = body("cg", "1", "server", "group_data", json!({"group_size": 2}));
    assert_eq!(response(&curve(&lab, &lab.client, &request)), "nack");
    let mut wrong = request.clone();
    wrong["token"] = json!(lab.key.token("cg", "1", "server", 3));
    assert_eq!(response(&curve(&lab, &lab.client, &wrong)), "nack");
    let good = with_token(&lab, request, 2);
    assert_eq!(response(&curve(&lab, &lab.client, &good)), "wait");
    let second = with_token(
        &lab,
        body("cg", "2", "client", "group_data", json!({"group_size": 2})),
        2,
    );
    let reply = curve(&lab, &lab.client, &second);
    assert_eq!(reply["roles"], json!({"1": "server", "2": "client"}));
    // the same group is visible to the plaintext side, which is LAVA's
    assert_eq!(lab.server.stats().coordinator.groups, 1);
}

#[test]
fn a_client_whose_key_is_not_authorised_cannot_talk_at_all() {
    let lab = lab();
    let stranger = KeyPair::generate().unwrap();
    let request = with_token(
        &lab,
        body("cg2", "1", "server", "group_data", json!({"group_size": 2})),
        2,
    );
    let before = Instant::now();
    let result = exchange_curve(
        &lab.endpoint,
        &lab.server_public,
        &stranger,
        &request,
        Duration::from_millis(1500),
    );
    assert!(result.is_err(), "{result:?}");
    assert!(before.elapsed() >= Duration::from_millis(1400));
    assert_eq!(lab.server.stats().coordinator.groups, 0);
    // an authorised client still gets through
    assert_eq!(response(&curve(&lab, &lab.client, &request)), "wait");
}

#[test]
fn a_malformed_body_over_curve_gets_an_empty_reply() {
    let lab = lab();
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REQ).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_curve_serverkey(&lab.server_public.0).unwrap();
    socket.set_curve_publickey(&lab.client.public.0).unwrap();
    socket.set_curve_secretkey(&lab.client.secret.0).unwrap();
    socket.set_rcvtimeo(10_000).unwrap();
    socket.connect(&lab.endpoint).unwrap();
    socket.send("{not json", 0).unwrap();
    assert_eq!(socket.recv_bytes(0).unwrap(), b"");
    assert_eq!(lab.server.stats().bad_frames, 1);
}

#[test]
fn long_poll_over_curve() {
    let lab = std::sync::Arc::new(lab());
    for (client, role) in [("1", "server"), ("2", "client")] {
        let request = with_token(
            &lab,
            body("cg3", client, role, "group_data", json!({"group_size": 2})),
            2,
        );
        curve(&lab, &lab.client, &request);
    }
    let sync = |client: &str, role: &str| {
        with_token(
            &lab,
            body(
                "cg3",
                client,
                role,
                "lava_sync",
                json!({"messageID": "b", "block_ms": 20_000}),
            ),
            2,
        )
    };
    let first = {
        let lab = std::sync::Arc::clone(&lab);
        let request = sync("1", "server");
        std::thread::spawn(move || curve(&lab, &lab.client, &request))
    };
    wait_until("the first sync held", Duration::from_secs(5), || {
        lab.server.stats().held == 1
    });
    let before = Instant::now();
    let second = curve(&lab, &lab.client, &sync("2", "client"));
    assert_eq!(second, json!({"response": "ack", "message": "b"}));
    assert_eq!(
        first.join().unwrap(),
        json!({"response": "ack", "message": "b"})
    );
    assert!(before.elapsed() < Duration::from_secs(2));
}
