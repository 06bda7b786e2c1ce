//! Clients that connect and never finish a request cannot stall the
//! service: while hundreds of them hold connections, other requests are
//! answered, and each of them is closed once its header time is up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lava_scheduler::SqlStore;
use lava_web::{Service, ServiceConfig};

const SLOW: usize = 300;

fn answer(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /api/v0.2/devices/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn slow_clients_are_closed_and_do_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_url(&format!("sqlite://{}/lava.db", dir.path().display())).unwrap();
    let mut config = ServiceConfig::new("127.0.0.1:0", dir.path().join("jobs"));
    config.header_timeout = Duration::from_secs(1);
    let service = Service::bind(store, config).unwrap();
    let address = service.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || service.run_until(stop))
    };

    // connections that start a request and never end its headers
    let slow: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    let text = answer(address);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"count\":0"), "{text}");

    // each slow connection is closed by the service (EOF or reset)
    let deadline = Instant::now() + Duration::from_secs(20);
    for mut stream in slow {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "slow connections were not closed in time");
        stream.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 512];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) if Instant::now() < deadline => break,
                Ok(0) => break,
                Ok(_) => continue, // an error answer before the close
                Err(e) => panic!("not closed: {e}"),
            }
        }
    }
    // and the service still answers
    assert!(answer(address).starts_with("HTTP/1.1 200"));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap().unwrap();
}
