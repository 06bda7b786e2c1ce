//! The worker's file server (`lava-slave --http-bind`) under abuse, through
//! the real daemons: 200 idle connections held open (some silent, some with
//! half a request line) do not keep a device from its download, they are
//! cut off at the header deadline, and the offenders' addresses are logged
//! at WARN, a limited number of lines (docs/operations.md, "The worker's
//! file server").

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{free_port, wait_for, Lab};
use lava_scheduler::model::JobState;

const DEADLINE: Duration = Duration::from_secs(30);

/// A device's download: one plain GET, as U-Boot's or a shell's wget sends.
fn download(addr: &str, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: worker\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no response headers");
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        response[end + 4..].to_vec(),
    )
}

#[test]
fn devices_download_while_200_idle_connections_are_held_and_the_idle_are_cut_off() {
    let mut lab = Lab::new(false).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    lab.slave_args = vec!["--http-bind".into(), addr.clone()];
    lab.start_master();
    lab.start_slave();
    let job = lab.submit("{hold: true}");
    lab.wait_state(job, JobState::Running);
    let dir = lab.path("dispatcher-tmp").join(job.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let content: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("kernel"), &content).unwrap();
    wait_for("the file server", DEADLINE, || {
        TcpStream::connect(&addr).is_ok()
    });

    // a slow or hostile client on the lab network
    let idle: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            if i % 2 == 0 {
                stream.write_all(b"GET /tmp/").unwrap();
            }
            stream
        })
        .collect();
    // the demand: the device gets its whole file within a second
    let started = Instant::now();
    let (head, body) = download(&addr, &format!("/tmp/{job}/kernel"));
    let took = started.elapsed();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(body == content, "the file arrived damaged");
    assert!(
        took < Duration::from_secs(1),
        "the download took {took:?} with 200 idle connections held"
    );

    // the idle ones are cut off at the header deadline (5 s), told 408
    for mut stream in idle {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut response = Vec::new();
        match stream.read_to_end(&mut response) {
            Ok(_) => assert!(
                response.starts_with(b"HTTP/1.1 408 "),
                "{}",
                String::from_utf8_lossy(&response)
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("an idle connection was kept: {e}"),
        }
    }
    // their address is logged at WARN, at most 10 lines a minute
    let warned = |log: &str| {
        log.lines()
            .filter(|l| l.contains("WARN") && l.contains("no complete request"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    wait_for("the WARN lines", DEADLINE, || {
        !warned(&std::fs::read_to_string(lab.path("slave.log")).unwrap()).is_empty()
    });
    let log = std::fs::read_to_string(lab.path("slave.log")).unwrap();
    let lines = warned(&log);
    assert!(
        lines.iter().all(|l| l.contains("[HTTP] 127.0.0.1:")),
        "{lines:#?}"
    );
    // 200 offenders; 10 lines a minute (the test spans two minutes at most)
    assert!(lines.len() <= 20, "the log is flooded: {}", lines.len());

    // and devices are still served
    let (head, body) = download(&addr, &format!("/tmp/{job}/kernel"));
    assert!(
        head.starts_with("HTTP/1.1 200 ") && body == content,
        "{head}"
    );
    lab.release(job);
    lab.wait_state(job, JobState::Finished);
}
