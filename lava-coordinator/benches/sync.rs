//! `lava_sync` barrier round trips through the coordinator on loopback.
//!
//! `cargo bench -p lava-coordinator --bench sync` prints a markdown table:
//! for groups of 2, 8 and 64 nodes (one thread per node, each a
//! lava-run-like client: one TCP connection per request, LAVA's framing),
//! the time from a node's first `lava_sync` request of a round to its
//! `ack`, over every node and round:
//!
//! - **long-poll**: our clients' way, `block_ms` in the request; the
//!   coordinator holds a `wait` and answers as soon as the last member
//!   arrives;
//! - **polling 1 s**: LAVA 2020.01's client (`poll_delay` 1 s, its code
//!   default; the shipped conf says 3 s): on `wait` it sleeps `poll_delay`
//!   and asks again. Under LAVA's semantics even the last member to arrive
//!   is first answered `wait`, so every barrier costs at least one poll
//!   interval. Only two rounds, to keep the run short.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use lava_coordinator::{Server, ServerConfig, Settings};
use lava_proto::coordinator::exchange;
use serde_json::{json, Value};

fn body(group: &str, client: usize, request: &str, extra: Value) -> Value {
    let mut value = json!({
        "port": 3079, "blocksize": 4096, "poll_delay": 1, "host": "localhost",
        "hostname": "bench", "client_name": client.to_string(), "group_name": group,
        "role": if client == 0 { "server" } else { "client" }, "request": request,
    });
    if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
        map.extend(extra);
    }
    value
}

fn ask(addr: &str, body: &Value) -> Value {
    exchange(addr, body, Duration::from_secs(5), Duration::from_secs(60))
        .expect("exchange")
        .unwrap_or_else(|| json!({"response": "wait"}))
}

/// Ask until the answer is not `wait`, sleeping `poll` between tries.
fn until_answered(addr: &str, body: &Value, poll: Duration) -> Value {
    loop {
        let reply = ask(addr, body);
        if reply["response"] != "wait" {
            return reply;
        }
        std::thread::sleep(poll);
    }
}

#[derive(Clone, Copy)]
enum Mode {
    LongPoll,
    Polling(Duration),
}

/// Round-trip times of every node in every round.
fn run(addr: &str, group: &str, nodes: usize, rounds: usize, mode: Mode) -> Vec<Duration> {
    let start = Arc::new(Barrier::new(nodes));
    let threads: Vec<_> = (0..nodes)
        .map(|node| {
            let addr = addr.to_string();
            let group = group.to_string();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let join = body(
                    &group,
                    node,
                    "group_data",
                    json!({"group_size": nodes, "block_ms": 30_000}),
                );
                let reply = until_answered(&addr, &join, Duration::from_millis(50));
                assert_eq!(reply["response"], "group_data");
                start.wait();
                let mut times = Vec::with_capacity(rounds);
                for round in 0..rounds {
                    let extra = match mode {
                        Mode::LongPoll => {
                            json!({"messageID": format!("r{round}"), "block_ms": 30_000})
                        }
                        Mode::Polling(_) => json!({"messageID": format!("r{round}")}),
                    };
                    let sync = body(&group, node, "lava_sync", extra);
                    let poll = match mode {
                        Mode::LongPoll => Duration::ZERO,
                        Mode::Polling(delay) => delay,
                    };
                    let before = Instant::now();
                    let reply = until_answered(&addr, &sync, poll);
                    assert_eq!(reply["response"], "ack", "{reply}");
                    times.push(before.elapsed());
                }
                let clear = body(&group, node, "clear_group", json!({"group_size": nodes}));
                ask(&addr, &clear);
                times
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("node thread"))
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = Server::bind(config, Settings::default())
        .expect("bind")
        .spawn()
        .expect("spawn");
    let addr = server.address();
    let began = Instant::now();
    println!("| nodes | client | rounds | p50 ms | p99 ms | max ms |");
    println!("|---:|---|---:|---:|---:|---:|");
    let cases: [(usize, usize, Mode, &str); 6] = [
        (2, 300, Mode::LongPoll, "long-poll (block_ms)"),
        (8, 150, Mode::LongPoll, "long-poll (block_ms)"),
        (64, 25, Mode::LongPoll, "long-poll (block_ms)"),
        (
            2,
            2,
            Mode::Polling(Duration::from_secs(1)),
            "polling, poll_delay 1 s (LAVA)",
        ),
        (
            8,
            2,
            Mode::Polling(Duration::from_secs(1)),
            "polling, poll_delay 1 s (LAVA)",
        ),
        (
            64,
            2,
            Mode::Polling(Duration::from_secs(1)),
            "polling, poll_delay 1 s (LAVA)",
        ),
    ];
    for (i, (nodes, rounds, mode, label)) in cases.into_iter().enumerate() {
        let mut times = run(&addr, &format!("bench-{i}"), nodes, rounds, mode);
        times.sort();
        println!(
            "| {nodes} | {label} | {rounds} | {} | {} | {} |",
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.99)),
            ms(*times.last().unwrap()),
        );
    }
    let stats = server.stats();
    assert_eq!(stats.coordinator.groups, 0, "every group cleared");
    println!();
    println!(
        "(one in-process coordinator on loopback; total {:.1} s)",
        began.elapsed().as_secs_f64()
    );
}
