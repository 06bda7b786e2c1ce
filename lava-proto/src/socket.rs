//! ZeroMQ sockets configured exactly as LAVA 2020.01 configures them, with
//! optional CURVE, and framing helpers for both channels.
//!
//! | Function          | Who                 | Type   | bind/connect | Routing id  |
//! |-------------------|---------------------|--------|--------------|-------------|
//! | [`master_control`]| master, port 5556   | ROUTER | bind         | `master`    |
//! | [`worker_control`]| worker, to the master | ROUTER | connect    | its hostname, `CONNECT_ROUTING_ID=master`, `SNDHWM=10` |
//! | [`log_sink`]      | master, port 5555   | PULL   | bind         | –           |
//! | [`log_source`]    | lava-run            | PUSH   | connect      | –           |
//!
//! Control sockets close with linger 0 (every control message is re-sent
//! until answered); the log source closes with infinite linger and blocks
//! when its queue is full, so log lines are never dropped.
//!
//! ```
//! use lava_proto::control::Message;
//! use lava_proto::socket::{self, Security};
//!
//! let ctx = zmq::Context::new();
//! let master = socket::master_control(&ctx, "tcp://127.0.0.1:*", &Security::Null, false).unwrap();
//! let endpoint = master.get_last_endpoint().unwrap().unwrap();
//! let worker = socket::worker_control(&ctx, &endpoint, "worker1", &Security::Null, &Default::default()).unwrap();
//!
//! // Thanks to CONNECT_ROUTING_ID the worker can address "master" at once.
//! socket::send(&worker, socket::MASTER_ID, &Message::Hello { version: 3 }).unwrap();
//! let received = socket::recv(&master).unwrap();
//! assert_eq!(received.routing_id, b"worker1");
//! assert_eq!(received.message().unwrap(), Message::Hello { version: 3 });
//! ```

use crate::cert::{KeyPair, PublicKey};
use crate::control::Message;
use crate::error::ProtoError;
use crate::ffi;
use crate::log::LogMessage;

/// Routing id of the master on the control channel.
pub const MASTER_ID: &[u8] = b"master";

/// Routing id reserved for LAVA's log daemon; no worker may use it.
pub const LOGS_ID: &[u8] = b"lava-logs";

/// High-water mark of the worker's control socket (LAVA's SEND_QUEUE).
pub const WORKER_SNDHWM: i32 = 10;

/// Largest control message the master accepts (64 MiB): END carries
/// lava-run's stderr and the compressed description.
pub const MAX_CONTROL_MESSAGE: i64 = 64 * 1024 * 1024;

pub use crate::log::MAX_LOG_MESSAGE;

/// Errors of socket set-up and I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// A ZeroMQ call failed.
    #[error("{action} {endpoint}: {source}")]
    Zmq {
        /// What was being done (`bind`, `connect`, `set CURVE keys on`...).
        action: &'static str,
        /// The endpoint concerned.
        endpoint: String,
        /// The ZeroMQ (or system) error; its type is not part of this API.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A worker hostname that LAVA would refuse.
    #[error("invalid worker hostname '{0}': {1}")]
    Hostname(String, &'static str),
    /// This libzmq has no CURVE (built without libsodium).
    #[error("this libzmq was built without CURVE support")]
    NoCurve,
}

/// The security mechanism of one socket.
#[derive(Debug, Clone, Default)]
pub enum Security {
    /// No authentication, no encryption (ZMTP NULL).
    #[default]
    Null,
    /// CURVE server: the master's key pair.
    CurveServer(KeyPair),
    /// CURVE client: our key pair and the server's public key.
    CurveClient {
        /// Our own key pair.
        own: KeyPair,
        /// The public key of the server we connect to.
        server: PublicKey,
    },
}

impl Security {
    /// Whether CURVE is on.
    pub fn is_curve(&self) -> bool {
        !matches!(self, Security::Null)
    }

    fn apply(&self, socket: &zmq::Socket, endpoint: &str) -> Result<(), SocketError> {
        if self.is_curve() && zmq::has("curve") != Some(true) {
            return Err(SocketError::NoCurve);
        }
        let err = |source: zmq::Error| SocketError::Zmq {
            action: "set CURVE keys for",
            endpoint: endpoint.to_string(),
            source: Box::new(source),
        };
        match self {
            Security::Null => Ok(()),
            Security::CurveServer(pair) => {
                socket.set_curve_server(true).map_err(err)?;
                socket.set_curve_secretkey(&pair.secret.0).map_err(err)
            }
            Security::CurveClient { own, server } => {
                socket.set_curve_serverkey(&server.0).map_err(err)?;
                socket.set_curve_publickey(&own.public.0).map_err(err)?;
                socket.set_curve_secretkey(&own.secret.0).map_err(err)
            }
        }
    }
}

/// Options a worker (and lava-run) may set on outgoing connections.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Enable IPv6.
    pub ipv6: bool,
    /// A SOCKS5 proxy, `host:port`.
    pub socks_proxy: Option<String>,
}

/// Check a worker hostname as LAVA's worker does: `[-_a-zA-Z0-9.]+`, and
/// not one of the reserved routing ids.
pub fn validate_hostname(hostname: &str) -> Result<(), SocketError> {
    let fail = |why| Err(SocketError::Hostname(hostname.to_string(), why));
    if hostname.is_empty() {
        return fail("it is empty");
    }
    if !hostname
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return fail("only letters, digits, '-', '_' and '.' are allowed");
    }
    if hostname.as_bytes() == LOGS_ID || hostname.as_bytes() == MASTER_ID {
        return fail("this name is reserved on the control channel");
    }
    Ok(())
}

fn zmq_err<'a>(action: &'static str, endpoint: &'a str) -> impl Fn(zmq::Error) -> SocketError + 'a {
    move |source| SocketError::Zmq {
        action,
        endpoint: endpoint.to_string(),
        source: Box::new(source),
    }
}

/// The master's control socket: ROUTER, identity `master`, handover on,
/// linger 0, bound to `endpoint` (LAVA's default `tcp://*:5556`).
pub fn master_control(
    ctx: &zmq::Context,
    endpoint: &str,
    security: &Security,
    ipv6: bool,
) -> Result<zmq::Socket, SocketError> {
    let socket = ctx
        .socket(zmq::ROUTER)
        .map_err(zmq_err("create a ROUTER socket for", endpoint))?;
    let set = zmq_err("set options on", endpoint);
    socket.set_identity(MASTER_ID).map_err(&set)?;
    socket.set_router_handover(true).map_err(&set)?;
    socket.set_linger(0).map_err(&set)?;
    socket.set_ipv6(ipv6).map_err(&set)?;
    socket.set_maxmsgsize(MAX_CONTROL_MESSAGE).map_err(&set)?;
    security.apply(&socket, endpoint)?;
    socket.bind(endpoint).map_err(zmq_err("bind", endpoint))?;
    Ok(socket)
}

/// A worker's control socket: ROUTER with the worker's hostname as
/// identity, `SNDHWM=10`, `CONNECT_ROUTING_ID=master`, linger 0, connected
/// to the master's `endpoint`.
pub fn worker_control(
    ctx: &zmq::Context,
    endpoint: &str,
    hostname: &str,
    security: &Security,
    options: &ConnectOptions,
) -> Result<zmq::Socket, SocketError> {
    validate_hostname(hostname)?;
    let mut socket = ctx
        .socket(zmq::ROUTER)
        .map_err(zmq_err("create a ROUTER socket for", endpoint))?;
    let set = zmq_err("set options on", endpoint);
    socket.set_identity(hostname.as_bytes()).map_err(&set)?;
    socket.set_sndhwm(WORKER_SNDHWM).map_err(&set)?;
    socket.set_linger(0).map_err(&set)?;
    apply_connect_options(&socket, options, endpoint)?;
    ffi::set_connect_routing_id(&mut socket, MASTER_ID).map_err(&set)?;
    security.apply(&socket, endpoint)?;
    socket
        .connect(endpoint)
        .map_err(zmq_err("connect to", endpoint))?;
    Ok(socket)
}

/// The master's log sink: PULL bound to `endpoint` (LAVA's default
/// `tcp://*:5555`).
pub fn log_sink(
    ctx: &zmq::Context,
    endpoint: &str,
    security: &Security,
    ipv6: bool,
) -> Result<zmq::Socket, SocketError> {
    let socket = ctx
        .socket(zmq::PULL)
        .map_err(zmq_err("create a PULL socket for", endpoint))?;
    let set = zmq_err("set options on", endpoint);
    socket.set_ipv6(ipv6).map_err(&set)?;
    socket.set_maxmsgsize(MAX_LOG_MESSAGE).map_err(&set)?;
    socket.set_linger(0).map_err(&set)?;
    security.apply(&socket, endpoint)?;
    socket.bind(endpoint).map_err(zmq_err("bind", endpoint))?;
    Ok(socket)
}

/// lava-run's log source: PUSH connected to `endpoint`, default high-water
/// mark (sends block when 1000 lines are queued) and infinite linger, so no
/// line is ever dropped.
pub fn log_source(
    ctx: &zmq::Context,
    endpoint: &str,
    security: &Security,
    options: &ConnectOptions,
) -> Result<zmq::Socket, SocketError> {
    let socket = ctx
        .socket(zmq::PUSH)
        .map_err(zmq_err("create a PUSH socket for", endpoint))?;
    let set = zmq_err("set options on", endpoint);
    socket.set_linger(-1).map_err(&set)?;
    apply_connect_options(&socket, options, endpoint)?;
    security.apply(&socket, endpoint)?;
    socket
        .connect(endpoint)
        .map_err(zmq_err("connect to", endpoint))?;
    Ok(socket)
}

fn apply_connect_options(
    socket: &zmq::Socket,
    options: &ConnectOptions,
    endpoint: &str,
) -> Result<(), SocketError> {
    let set = zmq_err("set options on", endpoint);
    socket.set_ipv6(options.ipv6).map_err(&set)?;
    if let Some(proxy) = &options.socks_proxy {
        socket.set_socks_proxy(Some(proxy)).map_err(&set)?;
    }
    Ok(())
}

/// Send a control message to the peer `routing_id` through a ROUTER socket.
pub fn send(socket: &zmq::Socket, routing_id: &[u8], message: &Message) -> zmq::Result<()> {
    let frames = message.encode();
    socket.send(routing_id, zmq::SNDMORE)?;
    socket.send_multipart(frames, 0)
}

/// A multipart message received on a ROUTER socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The sender's routing id.
    pub routing_id: Vec<u8>,
    /// The protocol frames (routing frame removed).
    pub frames: Vec<Vec<u8>>,
    /// The sender's CURVE public key (Z85) when the connection is
    /// authenticated by a ZAP handler (libzmq's `User-Id` property).
    pub user_id: Option<String>,
}

impl Received {
    /// Decode the frames into a [`Message`].
    pub fn message(&self) -> Result<Message, ProtoError> {
        Message::decode(&self.frames)
    }

    /// The routing id, made printable for logs.
    pub fn peer(&self) -> String {
        crate::control::printable(&self.routing_id)
    }
}

/// Receive one multipart message from a ROUTER socket (blocking unless
/// `zmq::DONTWAIT` is wanted: use [`try_recv`]).
pub fn recv(socket: &zmq::Socket) -> zmq::Result<Received> {
    recv_flags(socket, 0)
}

/// Receive without blocking; `Ok(None)` when nothing is queued.
pub fn try_recv(socket: &zmq::Socket) -> zmq::Result<Option<Received>> {
    match recv_flags(socket, zmq::DONTWAIT) {
        Ok(received) => Ok(Some(received)),
        Err(zmq::Error::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

fn recv_flags(socket: &zmq::Socket, flags: i32) -> zmq::Result<Received> {
    let mut first = zmq::Message::new();
    socket.recv(&mut first, flags)?;
    let user_id = first.gets("User-Id").map(str::to_string);
    let routing_id = first.to_vec();
    let mut frames = Vec::new();
    while socket.get_rcvmore()? {
        frames.push(socket.recv_bytes(0)?);
    }
    Ok(Received {
        routing_id,
        frames,
        user_id,
    })
}

/// Send one log message (2 frames) on a PUSH socket. Blocks while the
/// queue is full.
pub fn send_log(socket: &zmq::Socket, message: &LogMessage) -> zmq::Result<()> {
    socket.send_multipart(message.encode(), 0)
}

/// Receive the raw frames of one log message from a PULL socket.
pub fn recv_log(socket: &zmq::Socket, flags: i32) -> zmq::Result<Vec<Vec<u8>>> {
    socket.recv_multipart(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_odd_hostnames_are_refused() {
        for bad in ["", "lava-logs", "master", "host name", "héte", "a/b"] {
            assert!(validate_hostname(bad).is_err(), "{bad:?}");
        }
        for good in ["worker1", "lab-a.example.org", "w_2"] {
            validate_hostname(good).unwrap();
        }
    }
}
