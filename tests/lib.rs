//! Helpers shared by the cross-crate tests: waiting on ZeroMQ socket events
//! with a deadline instead of sleeping.

use std::time::{Duration, Instant};

/// A monitor on a socket: reports connection and handshake events.
pub struct Monitor {
    pair: zmq::Socket,
}

impl Monitor {
    /// Start monitoring every event of `socket`. Call before bind/connect.
    pub fn new(ctx: &zmq::Context, socket: &zmq::Socket) -> Monitor {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let endpoint = format!("inproc://monitor-{}-{n}", std::process::id());
        socket
            .monitor(&endpoint, zmq::SocketEvent::ALL as i32)
            .expect("start monitor");
        let pair = ctx.socket(zmq::PAIR).expect("PAIR socket");
        pair.connect(&endpoint).expect("connect monitor");
        Monitor { pair }
    }

    /// Wait until one of `wanted` happens, or `timeout` passes. Returns the
    /// event seen, or `None` at the deadline.
    pub fn wait_for(
        &self,
        wanted: &[zmq::SocketEvent],
        timeout: Duration,
    ) -> Option<zmq::SocketEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if self
                .pair
                .poll(zmq::POLLIN, left.as_millis().max(1) as i64)
                .ok()?
                == 0
            {
                continue;
            }
            let frames = self.pair.recv_multipart(0).ok()?;
            let raw = frames.first()?;
            if raw.len() < 2 {
                continue;
            }
            let event = zmq::SocketEvent::from_raw(u16::from_le_bytes([raw[0], raw[1]]));
            if wanted.contains(&event) {
                return Some(event);
            }
        }
    }
}

/// Wait until `socket` has a message to read, up to `timeout`.
pub fn readable(socket: &zmq::Socket, timeout: Duration) -> bool {
    socket
        .poll(zmq::POLLIN, timeout.as_millis() as i64)
        .map(|n| n > 0)
        .unwrap_or(false)
}

/// Deadline used by tests for things that take milliseconds on loopback.
pub const PROMPT: Duration = Duration::from_secs(10);
