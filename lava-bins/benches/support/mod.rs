//! What the daemon benchmarks share: child processes killed on drop, free
//! ports, and running a measurement on SQLite and on PostgreSQL.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A memory figure of a process from `/proc/PID/status` (`VmRSS:`,
/// `VmHWM:`), in KiB; 0 when it cannot be read.
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `lava-server serve` on `url` with `jobs_dir`, allowed 8,192 open files
/// (for benchmarks with many clients), listening; it and its port.
pub fn serve(url: &str, jobs_dir: &Path) -> (Daemon, u16) {
    let port = free_port();
    let serve = Daemon(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n 8192 && exec {} serve --database '{url}' --bind 127.0.0.1:{port} --level WARN --jobs-dir '{}'",
                env!("CARGO_BIN_EXE_lava-server"),
                jobs_dir.display()
            ))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "lava-server serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (serve, port)
}

/// Run `measure(name, store URL, directory)` on a new SQLite store, then on
/// a schema of its own at `LAVA_TEST_DATABASE_URL` (dropped afterwards)
/// when that is set.
pub fn on_both_backends(bench: &str, mut measure: impl FnMut(&str, &str, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite).unwrap();
    measure(
        "sqlite",
        &format!("sqlite://{}/lava.db", sqlite.display()),
        &sqlite,
    );
    let Ok(base) = std::env::var("LAVA_TEST_DATABASE_URL") else {
        println!("postgres: skipped (LAVA_TEST_DATABASE_URL is not set)");
        return;
    };
    let schema = format!("lava_{bench}_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let postgres = dir.path().join("postgres");
    std::fs::create_dir_all(&postgres).unwrap();
    measure(
        "postgres",
        &format!("{base}{sep}schema={schema}"),
        &postgres,
    );
    if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    }
}
