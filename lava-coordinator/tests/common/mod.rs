//! Helpers shared by the coordinator's socket-level tests: an in-process
//! server on loopback, request bodies as LAVA's lava-run builds them, raw
//! frames, and the `lava-coordinator` binary for process-level tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lava_coordinator::{
    AuthMode, Limits, RunningServer, Semantics, Server, ServerConfig, Settings,
};
use lava_proto::coordinator::{exchange, Key};
use serde_json::{json, Value};

/// Settings: LAVA 2020.01 semantics, no tokens, documented limits.
pub fn settings() -> Settings {
    Settings {
        semantics: Semantics::Lava2020,
        auth: AuthMode::Off,
        keys: Vec::new(),
        limits: Limits::default(),
    }
}

/// A server config listening on an ephemeral loopback port.
pub fn loopback() -> ServerConfig {
    ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..ServerConfig::default()
    }
}

/// Start an in-process server.
pub fn start(config: ServerConfig, settings: Settings) -> RunningServer {
    Server::bind(config, settings).unwrap().spawn().unwrap()
}

/// A request as LAVA's lava-run builds it (§2.2): base keys, then the
/// request's own keys from `extra` (an object).
pub fn body(group: &str, client: &str, role: &str, request: &str, extra: Value) -> Value {
    let mut value = json!({
        "port": 3079, "blocksize": 4096, "poll_delay": 1, "host": "localhost",
        "hostname": "worker1", "client_name": client, "group_name": group, "role": role,
        "request": request,
    });
    if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
        map.extend(extra);
    }
    value
}

/// One request over the plaintext protocol; panics on transport errors.
pub fn ask(addr: &str, body: &Value) -> Value {
    exchange(addr, body, Duration::from_secs(5), Duration::from_secs(40))
        .unwrap_or_else(|e| panic!("request {body} to {addr}: {e}"))
        .unwrap_or_else(|| panic!("no reply to {body}"))
}

/// The `response` of a reply.
pub fn response(reply: &Value) -> &str {
    reply["response"].as_str().unwrap_or("<none>")
}

/// Send raw bytes, half-close, read everything the server sends back.
pub fn raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

/// Frame a JSON text by hand: `%08X` + body.
pub fn frame(text: &str) -> Vec<u8> {
    let mut out = format!("{:08X}", text.len()).into_bytes();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Wait for `check` to hold, failing after `limit`. Polls every 5 ms: the
/// events it waits for (a thread held, a connection accepted) have no
/// notification of their own outside the server.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A member-token key for tests.
pub fn key() -> Key {
    Key::parse(
        "lab1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        std::path::Path::new("test.key"),
    )
    .unwrap()
    .remove(0)
}

/// The `lava-coordinator` binary: `$LAVA_COORDINATOR_BIN`, else built
/// (once per test process; a no-op when up to date) next to this test
/// executable with `cargo build -p lava-bins --bin lava-coordinator`.
pub fn coordinator_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("LAVA_COORDINATOR_BIN") {
            return PathBuf::from(path);
        }
        // <target>/<profile>/deps/<this test>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command
            .args(["build", "-p", "lava-bins", "--bin", "lava-coordinator"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "cargo build of lava-coordinator failed");
        let bin = profile_dir.join("lava-coordinator");
        assert!(bin.exists(), "{} not built", bin.display());
        bin
    })
    .clone()
}
