//! The coordinator server on real loopback sockets: framing scenarios 1–6
//! of the MultiNode spec §6 (`docs/coordinator.md`), connection limits,
//! long-poll, member tokens, isolation of groups and a 1,000-group load.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use lava_coordinator::{AuthMode, ServerConfig};
use serde_json::{json, Value};

fn group_data(addr: &str, group: &str, client: &str, role: &str, size: u64) -> Value {
    ask(
        addr,
        &body(
            group,
            client,
            role,
            "group_data",
            json!({"group_size": size}),
        ),
    )
}

/// Register two members of a group of 2 (server 1, client 2).
fn pair(addr: &str, group: &str) {
    assert_eq!(response(&group_data(addr, group, "1", "server", 2)), "wait");
    assert_eq!(
        response(&group_data(addr, group, "2", "client", 2)),
        "group_data"
    );
}

#[test]
fn scenario_1_reply_frame_is_lava_s_framing() {
    let server = start(loopback(), settings());
    let addr = server.address();
    let text = r#"{"port": 3079, "blocksize": 4096, "poll_delay": 3, "host": "localhost", "hostname": "w", "client_name": "1234", "group_name": "g1", "role": "server", "request": "group_data", "group_size": 1}"#;
    let reply = raw(&addr, &frame(text));
    assert!(reply.len() > 8, "reply: {reply:?}");
    let header = std::str::from_utf8(&reply[..8]).unwrap();
    assert!(header
        .chars()
        .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
    assert_eq!(usize::from_str_radix(header, 16).unwrap(), reply.len() - 8);
    let body = std::str::from_utf8(&reply[8..]).unwrap();
    assert_eq!(
        body,
        r#"{"response": "group_data", "roles": {"1234": "server"}}"#
    );
    // lower-case hex header accepted too
    let lower = format!("{:08x}", text.len()) + text;
    assert_eq!(raw(&addr, lower.as_bytes()), reply);
}

#[test]
fn scenario_2_malformed_frames_are_closed_without_reply_and_the_next_request_is_served() {
    let server = start(loopback(), settings());
    let addr = server.address();
    assert_eq!(raw(&addr, b"zzzzzzzz{}"), b"");
    assert_eq!(raw(&addr, &frame("{not json")), b"");
    assert_eq!(raw(&addr, b"0000"), b"", "truncated header");
    assert_eq!(raw(&addr, b"00000010{}"), b"", "truncated body");
    assert_eq!(raw(&addr, b"FFFFFFFF"), b"", "over the body limit");
    assert_eq!(server.stats().bad_frames, 5);
    assert_eq!(
        response(&group_data(&addr, "g2", "1", "a", 1)),
        "group_data"
    );
}

#[test]
fn scenario_3_non_ascii_is_accepted_escaped_and_answered_escaped() {
    let server = start(loopback(), settings());
    let addr = server.address();
    pair(&addr, "g3");
    let send = r#"{"port": 3079, "blocksize": 4096, "poll_delay": 3, "host": "h", "hostname": "w", "client_name": "1", "group_name": "g3", "role": "server", "request": "lava_send", "messageID": "m", "message": {"name": "caf\u00e9 \ud83d\ude00"}}"#;
    let reply = raw(&addr, &frame(send));
    assert_eq!(&reply[8..], br#"{"response": "ack"}"#);
    let wait = body(
        "g3",
        "2",
        "client",
        "lava_wait",
        json!({"messageID": "m", "nodeID": "2"}),
    );
    let reply = raw(
        &addr,
        &frame(&lava_proto::coordinator::to_python_json(&wait)),
    );
    assert!(reply.is_ascii(), "reply not ASCII: {reply:?}");
    let body = std::str::from_utf8(&reply[8..]).unwrap();
    assert!(
        body.contains(r#""name": "caf\u00e9 \ud83d\ude00""#),
        "{body}"
    );
    let value: Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["message"]["1"]["name"], "café 😀");
}

#[test]
fn scenario_4_a_half_closed_client_still_gets_its_reply() {
    let server = start(loopback(), settings());
    let mut stream = TcpStream::connect(server.address()).unwrap();
    let request = body("g4", "1", "a", "group_data", json!({"group_size": 2}));
    stream
        .write_all(&lava_proto::coordinator::encode_frame(&request))
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let value = lava_proto::coordinator::read_frame(&mut stream, 1 << 16)
        .unwrap()
        .unwrap();
    assert_eq!(value, json!({"response": "wait"}));
}

#[test]
fn scenario_5_ten_kib_send_in_one_write_and_in_100_byte_writes() {
    let server = start(loopback(), settings());
    let addr = server.address();
    pair(&addr, "g5");
    let big = "x".repeat(10 * 1024);
    let send = |id: &str| {
        body(
            "g5",
            "1",
            "server",
            "lava_send",
            json!({"messageID": id, "message": {"blob": big}}),
        )
    };
    let one = lava_proto::coordinator::encode_frame(&send("one"));
    assert!(one.len() > 10 * 1024);
    assert_eq!(&raw(&addr, &one)[8..], br#"{"response": "ack"}"#);

    let pieces = lava_proto::coordinator::encode_frame(&send("pieces"));
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_nodelay(true).unwrap();
    for chunk in pieces.chunks(100) {
        stream.write_all(chunk).unwrap();
        // pace the writes so that they travel as separate segments
        std::thread::sleep(Duration::from_micros(200));
    }
    stream.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.read_to_end(&mut reply).unwrap();
    assert_eq!(&reply[8..], br#"{"response": "ack"}"#);
    let wait = ask(
        &addr,
        &body(
            "g5",
            "2",
            "client",
            "lava_wait",
            json!({"messageID": "pieces"}),
        ),
    );
    assert_eq!(
        wait["message"]["1"]["blob"].as_str().unwrap().len(),
        10 * 1024
    );
}

#[test]
fn scenario_6_idle_connections_are_dropped_at_the_deadline_without_delaying_others() {
    let config = ServerConfig {
        request_timeout: Duration::from_millis(1500),
        ..loopback()
    };
    let server = start(config, settings());
    let addr = server.address();
    let started = Instant::now();
    // one idle connection, one that announces 100 bytes and sends 10
    let mut idle = TcpStream::connect(&addr).unwrap();
    let mut partial = TcpStream::connect(&addr).unwrap();
    partial.write_all(b"00000064{\"request\"").unwrap();
    wait_until("both connections accepted", Duration::from_secs(5), || {
        server.stats().connections == 2
    });
    // other clients are served at once
    for i in 0..20 {
        let before = Instant::now();
        let reply = group_data(&addr, &format!("g6-{i}"), "1", "a", 1);
        assert_eq!(response(&reply), "group_data");
        assert!(before.elapsed() < Duration::from_millis(500));
    }
    assert!(started.elapsed() < Duration::from_millis(1500));
    for stream in [&mut idle, &mut partial] {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        assert!(buf.is_empty(), "no reply to an incomplete request");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}"
    );
    wait_until("connections released", Duration::from_secs(5), || {
        server.stats().connections == 0
    });
    assert_eq!(server.stats().bad_frames, 2);
}

#[test]
fn connections_over_the_cap_are_closed_at_once() {
    let config = ServerConfig {
        max_connections: 3,
        request_timeout: Duration::from_secs(30),
        ..loopback()
    };
    let server = start(config, settings());
    let addr = server.address();
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    wait_until("3 connections open", Duration::from_secs(5), || {
        server.stats().connections == 3
    });
    let before = Instant::now();
    let request = lava_proto::coordinator::encode_frame(&body(
        "cap",
        "1",
        "a",
        "group_data",
        json!({"group_size": 1}),
    ));
    // the connection is accepted by the kernel, then closed by the server
    let mut over = TcpStream::connect(&addr).unwrap();
    let _ = over.write_all(&request);
    over.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = over.read_to_end(&mut buf);
    assert!(buf.is_empty());
    assert!(before.elapsed() < Duration::from_secs(5));
    assert_eq!(server.stats().refused, 1);
    drop(idle);
    wait_until("idle connections gone", Duration::from_secs(5), || {
        server.stats().connections == 0
    });
    assert_eq!(
        response(&ask(
            &addr,
            &body("cap", "1", "a", "group_data", json!({"group_size": 1}))
        )),
        "group_data"
    );
}

#[test]
fn a_held_lava_sync_is_answered_as_soon_as_the_last_member_arrives() {
    let server = start(loopback(), settings());
    let addr = server.address();
    pair(&addr, "lp");
    let sync = |client: &str, role: &str| {
        body(
            "lp",
            client,
            role,
            "lava_sync",
            json!({"messageID": "barrier", "block_ms": 20_000}),
        )
    };
    let first = {
        let addr = addr.clone();
        let request = sync("1", "server");
        std::thread::spawn(move || {
            let reply = ask(&addr, &request);
            (reply, Instant::now())
        })
    };
    wait_until("the first sync held", Duration::from_secs(5), || {
        server.stats().held == 1
    });
    let sent = Instant::now();
    let second = ask(&addr, &sync("2", "client"));
    let (first, answered) = first.join().unwrap();
    assert_eq!(second, json!({"response": "ack", "message": "barrier"}));
    assert_eq!(first, json!({"response": "ack", "message": "barrier"}));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert!(answered.duration_since(sent) < Duration::from_secs(2));
    assert_eq!(server.stats().held, 0);
}

#[test]
fn a_held_group_data_is_answered_when_the_group_fills_and_a_held_wait_times_out() {
    let server = start(loopback(), settings());
    let addr = server.address();
    let held = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            ask(
                &addr,
                &body(
                    "lp2",
                    "1",
                    "server",
                    "group_data",
                    json!({"group_size": 2, "block_ms": 20_000}),
                ),
            )
        })
    };
    wait_until("group_data held", Duration::from_secs(5), || {
        server.stats().held == 1
    });
    assert_eq!(
        response(&group_data(&addr, "lp2", "2", "client", 2)),
        "group_data"
    );
    let reply = held.join().unwrap();
    assert_eq!(reply["roles"], json!({"1": "server", "2": "client"}));

    // nobody sends: the hold ends with `wait` after block_ms
    let before = Instant::now();
    let reply = ask(
        &addr,
        &body(
            "lp2",
            "2",
            "client",
            "lava_wait",
            json!({"messageID": "never", "block_ms": 300}),
        ),
    );
    assert_eq!(reply, json!({"response": "wait"}));
    assert!(before.elapsed() >= Duration::from_millis(290));
    assert!(before.elapsed() < Duration::from_secs(5));
}

#[test]
fn held_requests_over_the_cap_get_wait_at_once() {
    let config = ServerConfig {
        max_held: 1,
        ..loopback()
    };
    let server = start(config, settings());
    let addr = server.address();
    let waiter = |client: &'static str| {
        body(
            "cap-held",
            client,
            "r",
            "group_data",
            json!({"group_size": 3, "block_ms": 20_000}),
        )
    };
    let first = {
        let addr = addr.clone();
        std::thread::spawn(move || ask(&addr, &waiter("1")))
    };
    wait_until("one request held", Duration::from_secs(5), || {
        server.stats().held == 1
    });
    let before = Instant::now();
    assert_eq!(response(&ask(&addr, &waiter("2"))), "wait");
    assert!(before.elapsed() < Duration::from_secs(5));
    assert_eq!(
        response(&group_data(&addr, "cap-held", "3", "r", 3)),
        "group_data"
    );
    assert_eq!(response(&first.join().unwrap()), "group_data");
}

#[test]
fn two_groups_never_see_each_other_s_messages() {
    let server = start(loopback(), settings());
    let addr = server.address();
    pair(&addr, "group-a");
    pair(&addr, "group-b");
    for (group, value) in [("group-a", "from-a"), ("group-b", "from-b")] {
        let reply = ask(
            &addr,
            &body(
                group,
                "1",
                "server",
                "lava_send",
                json!({"messageID": "ip", "message": {"v": value}}),
            ),
        );
        assert_eq!(response(&reply), "ack");
    }
    for (group, value) in [("group-a", "from-a"), ("group-b", "from-b")] {
        let reply = ask(
            &addr,
            &body(
                group,
                "2",
                "client",
                "lava_wait",
                json!({"messageID": "ip"}),
            ),
        );
        assert_eq!(reply["message"], json!({"1": {"v": value}}));
    }
    // clearing one group leaves the other
    for client in [("1", "server"), ("2", "client")] {
        let reply = ask(
            &addr,
            &body(
                "group-a",
                client.0,
                client.1,
                "clear_group",
                json!({"group_size": 2}),
            ),
        );
        assert_eq!(response(&reply), "ack");
    }
    let reply = ask(
        &addr,
        &body(
            "group-b",
            "2",
            "client",
            "lava_wait",
            json!({"messageID": "ip"}),
        ),
    );
    assert_eq!(reply["message"], json!({"1": {"v": "from-b"}}));
    assert_eq!(server.stats().coordinator.groups, 1);
}

#[test]
fn under_auth_require_requests_without_or_with_a_wrong_token_are_refused() {
    let key = key();
    let mut settings = settings();
    settings.auth = AuthMode::Require;
    settings.keys = vec![key.clone()];
    let server = start(loopback(), settings);
    let addr = server.address();
    let request = |client: &str, token: Option<String>| {
        let mut extra = json!({"group_size": 2});
        if let Some(token) = token {
            extra["token"] = json!(token);
        }
        body("secure", client, "server", "group_data", extra)
    };
    assert_eq!(response(&ask(&addr, &request("1", None))), "nack");
    let wrong = "lab1:".to_string() + &"0".repeat(64);
    assert_eq!(response(&ask(&addr, &request("1", Some(wrong)))), "nack");
    // a token for another client_name, or another group_size
    let other = key.token("secure", "2", "server", 2);
    assert_eq!(response(&ask(&addr, &request("1", Some(other)))), "nack");
    let size = key.token("secure", "1", "server", 3);
    assert_eq!(response(&ask(&addr, &request("1", Some(size)))), "nack");
    assert_eq!(
        server.stats().coordinator.groups,
        0,
        "refused requests create nothing"
    );
    let good = key.token("secure", "1", "server", 2);
    assert_eq!(response(&ask(&addr, &request("1", Some(good)))), "wait");
}

#[test]
fn a_group_over_max_group_bytes_gets_nack() {
    let mut settings = settings();
    settings.limits.max_group_bytes = 4096;
    let server = start(loopback(), settings);
    let addr = server.address();
    pair(&addr, "bytes");
    let send = |id: &str| {
        body(
            "bytes",
            "1",
            "server",
            "lava_send",
            json!({"messageID": id, "message": {"blob": "y".repeat(500)}}),
        )
    };
    assert_eq!(response(&ask(&addr, &send("a"))), "ack");
    let mut refused = false;
    for id in ["b", "c", "d", "e", "f", "g", "h"] {
        if response(&ask(&addr, &send(id))) == "nack" {
            refused = true;
            break;
        }
    }
    assert!(refused, "the group never hit its byte limit");
    assert!(server.stats().coordinator.bytes <= 4096);
    // other groups are unaffected
    assert_eq!(
        response(&group_data(&addr, "other", "1", "a", 1)),
        "group_data"
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One group of 4 played by one thread without long-poll (LAVA's way,
/// every `wait` answered by asking again): group_data, lava_send,
/// lava_wait_all, lava_wait, lava_sync. The group is left for clear_group.
fn play_group(addr: &str, group: &str) {
    let members = [
        ("1", "server"),
        ("2", "client"),
        ("3", "client"),
        ("4", "client"),
    ];
    let until_answered = |request: &Value| loop {
        let reply = ask(addr, request);
        if response(&reply) != "wait" {
            return reply;
        }
    };
    for (client, role) in members {
        ask(
            addr,
            &body(group, client, role, "group_data", json!({"group_size": 4})),
        );
    }
    for (client, role) in members {
        let reply = until_answered(&body(
            group,
            client,
            role,
            "group_data",
            json!({"group_size": 4}),
        ));
        assert_eq!(response(&reply), "group_data", "{group}");
    }
    for (client, role) in members {
        let message = json!({"messageID": "ip", "message": {"ipaddr": format!("10.0.0.{client}")}});
        assert_eq!(
            response(&ask(addr, &body(group, client, role, "lava_send", message))),
            "ack"
        );
    }
    for (client, role) in members {
        let reply = until_answered(&body(
            group,
            client,
            role,
            "lava_wait_all",
            json!({"messageID": "ip"}),
        ));
        assert_eq!(
            reply["message"].as_object().map(|m| m.len()),
            Some(4),
            "{group}: {reply}"
        );
        let reply = until_answered(&body(
            group,
            client,
            role,
            "lava_wait",
            json!({"messageID": "ip"}),
        ));
        assert_eq!(response(&reply), "ack");
    }
    for (client, role) in members {
        ask(
            addr,
            &body(
                group,
                client,
                role,
                "lava_sync",
                json!({"messageID": "done"}),
            ),
        );
    }
    for (client, role) in members {
        let reply = until_answered(&body(
            group,
            client,
            role,
            "lava_sync",
            json!({"messageID": "done"}),
        ));
        assert_eq!(
            reply,
            json!({"response": "ack", "message": "done"}),
            "{group}"
        );
    }
}

#[test]
fn a_thousand_groups_of_four_on_loopback_with_bounded_memory() {
    const GROUPS: usize = 1000;
    const THREADS: usize = 8;
    let server = start(loopback(), settings());
    let addr = server.address();
    let rss_before = rss_kib();
    let handle = server.handle();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let addr = addr.clone();
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                for g in (t..GROUPS).step_by(THREADS) {
                    play_group(&addr, &format!("load-{g}"));
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        })
        .collect();
    // sample the state while the groups run
    let mut max_bytes = 0;
    let mut max_groups = 0;
    while done.load(std::sync::atomic::Ordering::SeqCst) < THREADS {
        let stats = handle.stats();
        max_bytes = max_bytes.max(stats.coordinator.bytes);
        max_groups = max_groups.max(stats.coordinator.groups);
        std::thread::sleep(Duration::from_millis(20));
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let stats = handle.stats();
    assert_eq!(stats.coordinator.groups, GROUPS);
    assert_eq!(stats.coordinator.members, GROUPS * 4);
    // each group holds 4 small messages (and the sync values): well under 4 KiB
    assert!(
        stats.coordinator.bytes <= GROUPS * 4096,
        "{:?}",
        stats.coordinator
    );
    assert!(max_bytes <= GROUPS * 4096);
    assert!(max_groups <= GROUPS);
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < 200 * 1024, "RSS grew by {grown} KiB");

    // clear_group from every member empties the coordinator
    for g in 0..GROUPS {
        for (client, role) in [
            ("1", "server"),
            ("2", "client"),
            ("3", "client"),
            ("4", "client"),
        ] {
            let reply = ask(
                &addr,
                &body(
                    &format!("load-{g}"),
                    client,
                    role,
                    "clear_group",
                    json!({"group_size": 4}),
                ),
            );
            assert_eq!(response(&reply), "ack");
        }
    }
    let stats = handle.stats();
    assert_eq!(stats.coordinator.groups, 0);
    assert_eq!(stats.coordinator.members, 0);
    assert_eq!(stats.coordinator.bytes, 0);
    wait_until("connections closed", Duration::from_secs(5), || {
        let stats = handle.stats();
        (stats.connections, stats.held) == (0, 0)
    });
}

#[test]
fn held_long_polls_do_not_use_up_max_connections() {
    let config = ServerConfig {
        max_connections: 2,
        ..loopback()
    };
    let server = start(config, settings());
    let addr = server.address();
    pair(&addr, "held-conn");
    let waiter = |client: &'static str, role: &'static str| {
        let addr = addr.clone();
        let request = body(
            "held-conn",
            client,
            role,
            "lava_wait",
            json!({"messageID": "go", "block_ms": 10_000}),
        );
        std::thread::spawn(move || (ask(&addr, &request), Instant::now()))
    };
    let waiters = [waiter("1", "server"), waiter("2", "client")];
    wait_until("two requests held", Duration::from_secs(5), || {
        server.stats().held == 2
    });
    assert_eq!(server.stats().connections, 0, "held requests hold no slot");
    let sent = Instant::now();
    let send = body(
        "held-conn",
        "1",
        "server",
        "lava_send",
        json!({"messageID": "go", "message": {"k": "v"}}),
    );
    assert_eq!(response(&ask(&addr, &send)), "ack");
    for waiter in waiters {
        let (reply, answered) = waiter.join().unwrap();
        assert_eq!(
            reply,
            json!({"response": "ack", "message": {"1": {"k": "v"}}})
        );
        assert!(answered.duration_since(sent) < Duration::from_secs(3));
    }
    assert_eq!(server.stats().refused, 0);
}
