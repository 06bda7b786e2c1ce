//! The MultiNode coordinator's wire vocabulary (LAVA 2020.01's protocol on
//! TCP 3079, described in `docs/coordinator.md`).
//!
//! - JSON as Python's `json.dumps` writes it ([`to_python_json`]): ASCII
//!   only, `\uXXXX` escapes (surrogate pairs beyond the BMP), separators
//!   `", "` and `": "`, keys in insertion order — so our frames are
//!   byte-identical to LAVA's;
//! - frames: 8 upper-case hex digits (body length) + body ([`encode_frame`],
//!   [`read_frame`]);
//! - [`exchange`]: one request per connection, as `lava-run` does it;
//!   `exchange_curve` (feature `zmq`): the same over ZMQ CURVE;
//! - member tokens ([`Key`], [`verify_token`]): HMAC-SHA256 over
//!   `group "\n" client "\n" role "\n" group_size`;
//! - [`CoordinatorConf`]: the worker's JSON conf file with LAVA's defaults.
//!
//! ```
//! use lava_proto::coordinator::{encode_frame, read_frame, MAX_FRAME};
//! use serde_json::json;
//!
//! let frame = encode_frame(&json!({"response": "wait"}));
//! assert_eq!(frame, b"00000014{\"response\": \"wait\"}");
//! let back = read_frame(&mut &frame[..], MAX_FRAME).unwrap().unwrap();
//! assert_eq!(back["response"], "wait");
//! ```

use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// LAVA's plaintext port.
pub const DEFAULT_PORT: u16 = 3079;
/// Our encrypted transport (ZMQ CURVE).
pub const DEFAULT_CURVE_PORT: u16 = 3080;
/// The longest body `lava-run` sends (LAVA's client limit, 0xFFFE characters).
pub const MAX_REQUEST: usize = 0xFFFE;
/// Our readers' body limit.
pub const MAX_FRAME: usize = 64 * 1024;
/// The keys `lava-run` puts first in every request, in wire order.
pub const BASE_KEYS: [&str; 8] = [
    "port",
    "blocksize",
    "poll_delay",
    "host",
    "hostname",
    "client_name",
    "group_name",
    "role",
];

// ---------------------------------------------------------------------------
// Python-compatible JSON

/// `value` as Python's `json.dumps(value)` writes it: separators `", "` and
/// `": "`, `ensure_ascii` (every character outside space..`~` as `\uXXXX`,
/// lower-case hex, surrogate pairs beyond the BMP), keys in map order,
/// floats as Python's `repr`.
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                write_float(out, f);
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `float.__repr__`: shortest round-trip digits; scientific
/// notation when the decimal exponent is below -4 or at least 16, with a
/// signed exponent of at least two digits; otherwise fixed with `.0`.
fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if !(-4..16).contains(&exponent) {
        out.push_str(mantissa);
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
        return;
    }
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
}

// ---------------------------------------------------------------------------
// Frames

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream failed (including a read timeout).
    #[error("frame I/O: {0}")]
    Io(#[from] io::Error),
    /// The 8 header bytes are not hexadecimal digits.
    #[error("bad frame header {0:?} (expected 8 hexadecimal digits)")]
    Header(String),
    /// The header announces a body above the reader's limit.
    #[error("frame body of {length} bytes is over the limit of {max}")]
    TooLong {
        /// The announced length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The peer closed before the whole header or body arrived.
    #[error("frame truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes expected (8 for the header, else the body length).
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// The body is not JSON (or not UTF-8).
    #[error("frame body is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The frame of `value`: 8 upper-case hex digits (`%08X`, body length in
/// bytes) followed by the Python-compatible JSON body, in one buffer (write
/// it with one write).
pub fn encode_frame(value: &Value) -> Vec<u8> {
    frame_text(&to_python_json(value))
}

fn frame_text(body: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + body.len());
    frame.extend_from_slice(format!("{:08X}", body.len()).as_bytes());
    frame.extend_from_slice(body.as_bytes());
    frame
}

/// Read as many bytes as fit in `buf`, looping on short reads; returns the
/// number read (less than `buf.len()` only at end of stream).
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read one frame: exactly 8 header bytes (hex digits, either case), then
/// exactly that many body bytes (looping on short reads), parsed as JSON.
/// `Ok(None)`: the peer closed before sending any header byte (LAVA's
/// "empty reply").
pub fn read_frame<R: Read>(reader: &mut R, max: usize) -> Result<Option<Value>, FrameError> {
    let mut header = [0u8; 8];
    let got = read_full(reader, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < header.len() {
        return Err(FrameError::Truncated { expected: 8, got });
    }
    if !header.iter().all(u8::is_ascii_hexdigit) {
        return Err(FrameError::Header(
            String::from_utf8_lossy(&header).into_owned(),
        ));
    }
    // Eight hex digits always fit in a u64.
    let text = std::str::from_utf8(&header).unwrap_or_default();
    let length = u64::from_str_radix(text, 16).unwrap_or(u64::MAX);
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length > max {
        return Err(FrameError::TooLong { length, max });
    }
    let mut body = vec![0u8; length];
    let got = read_full(reader, &mut body)?;
    if got < length {
        return Err(FrameError::Truncated {
            expected: length,
            got,
        });
    }
    Ok(Some(serde_json::from_slice(&body)?))
}

// ---------------------------------------------------------------------------
// Exchange

/// Why a request/reply exchange with a coordinator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// No connection could be made.
    #[error("connect to coordinator {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// The last error.
        source: io::Error,
    },
    /// Sending the request or receiving the reply failed (timeouts too).
    #[error("coordinator {addr}: {source}")]
    Io {
        /// The coordinator.
        addr: String,
        /// The error.
        source: io::Error,
    },
    /// The reply is not a valid frame.
    #[error("coordinator {addr}: {source}")]
    Frame {
        /// The coordinator.
        addr: String,
        /// What is wrong with the frame.
        source: FrameError,
    },
    /// The request is longer than [`MAX_REQUEST`]; nothing was sent.
    #[error("message was too long to send: {length} bytes > {}", MAX_REQUEST)]
    TooLong {
        /// The body length.
        length: usize,
    },
    /// The ZeroMQ CURVE transport failed.
    #[error("coordinator {url}: {action}: {reason}")]
    Curve {
        /// The endpoint.
        url: String,
        /// What was being done.
        action: &'static str,
        /// The ZeroMQ error text.
        reason: String,
    },
}

/// A reader that gives every read of a TCP stream the time left until a
/// deadline (for [`read_frame`]: the whole frame must arrive in time); a
/// read past it fails with [`io::ErrorKind::TimedOut`].
#[derive(Debug)]
pub struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl<'a> DeadlineReader<'a> {
    /// Read `stream` until `deadline`.
    pub fn new(stream: &'a TcpStream, deadline: Instant) -> DeadlineReader<'a> {
        DeadlineReader { stream, deadline }
    }
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        match stream.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
            }
            other => other,
        }
    }
}

/// One request, LAVA's way: connect (every address `addr` resolves to,
/// IPv4 or IPv6, each with `connect_timeout`), write the frame in one write,
/// shut down the write side, read one frame within `io_timeout` (a deadline
/// for the whole send and reply), close. `Ok(None)`: the coordinator closed
/// without replying.
pub fn exchange(
    addr: &str,
    body: &Value,
    connect_timeout: Duration,
    io_timeout: Duration,
) -> Result<Option<Value>, ExchangeError> {
    let text = to_python_json(body);
    if text.len() > MAX_REQUEST {
        return Err(ExchangeError::TooLong { length: text.len() });
    }
    let connect_err = |source| ExchangeError::Connect {
        addr: addr.to_string(),
        source,
    };
    let addrs = addr.to_socket_addrs().map_err(connect_err)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolves to nothing");
    let mut stream = None;
    for candidate in addrs {
        match TcpStream::connect_timeout(&candidate, connect_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let stream = stream.ok_or_else(|| connect_err(last))?;
    let deadline = Instant::now() + io_timeout;
    let io_err = |source| ExchangeError::Io {
        addr: addr.to_string(),
        source,
    };
    stream
        .set_write_timeout(Some(io_timeout.max(Duration::from_millis(1))))
        .map_err(io_err)?;
    let _ = stream.set_nodelay(true);
    (&stream).write_all(&frame_text(&text)).map_err(io_err)?;
    // A peer that already closed makes shutdown fail with ENOTCONN: the
    // reply (or its absence) is still to be read.
    if let Err(e) = stream.shutdown(Shutdown::Write) {
        if e.kind() != io::ErrorKind::NotConnected {
            return Err(io_err(e));
        }
    }
    let mut reader = DeadlineReader {
        stream: &stream,
        deadline,
    };
    match read_frame(&mut reader, MAX_FRAME) {
        Ok(reply) => Ok(reply),
        Err(FrameError::Io(source)) => Err(io_err(source)),
        Err(source) => Err(ExchangeError::Frame {
            addr: addr.to_string(),
            source,
        }),
    }
}

/// One request over ZMQ CURVE (our encrypted transport): a REQ socket with
/// `client`'s keys connected to `url` (`tcp://host:3080`) that trusts only
/// `server_public`; the body is the JSON text alone (no hex header) in one
/// ZMQ frame, and so is the reply. `timeout` bounds the whole exchange; an
/// empty reply frame is `Ok(None)`.
#[cfg(feature = "zmq")]
pub fn exchange_curve(
    url: &str,
    server_public: &crate::cert::PublicKey,
    client: &crate::cert::KeyPair,
    body: &Value,
    timeout: Duration,
) -> Result<Option<Value>, ExchangeError> {
    let text = to_python_json(body);
    if text.len() > MAX_REQUEST {
        return Err(ExchangeError::TooLong { length: text.len() });
    }
    let err = |action: &'static str| {
        move |e: zmq::Error| ExchangeError::Curve {
            url: url.to_string(),
            action,
            reason: e.to_string(),
        }
    };
    if zmq::has("curve") != Some(true) {
        return Err(ExchangeError::Curve {
            url: url.to_string(),
            action: "set up CURVE",
            reason: "this libzmq was built without CURVE support".to_string(),
        });
    }
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::REQ).map_err(err("create a REQ socket"))?;
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    socket.set_linger(0).map_err(err("set options"))?;
    socket.set_ipv6(true).map_err(err("set options"))?;
    socket
        .set_maxmsgsize(MAX_FRAME as i64)
        .map_err(err("set options"))?;
    socket.set_sndtimeo(millis).map_err(err("set options"))?;
    socket
        .set_curve_serverkey(&server_public.0)
        .map_err(err("set CURVE keys"))?;
    socket
        .set_curve_publickey(&client.public.0)
        .map_err(err("set CURVE keys"))?;
    socket
        .set_curve_secretkey(&client.secret.0)
        .map_err(err("set CURVE keys"))?;
    socket.connect(url).map_err(err("connect"))?;
    let deadline = Instant::now() + timeout;
    socket.send(text.as_bytes(), 0).map_err(err("send"))?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
        let ready = socket
            .poll(zmq::POLLIN, millis)
            .map_err(err("wait for the reply"))?;
        if ready > 0 {
            break;
        }
        if left.is_zero() || Instant::now() >= deadline {
            return Err(ExchangeError::Io {
                addr: url.to_string(),
                source: io::Error::new(io::ErrorKind::TimedOut, "no reply before the deadline"),
            });
        }
    }
    let reply = socket
        .recv_bytes(zmq::DONTWAIT)
        .map_err(err("receive the reply"))?;
    if reply.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&reply)
        .map(Some)
        .map_err(|e| ExchangeError::Frame {
            addr: url.to_string(),
            source: FrameError::Json(e),
        })
}

// ---------------------------------------------------------------------------
// Member tokens

/// Why a member-token key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line of the key file is malformed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the secret).
        reason: String,
    },
    /// A key id that cannot be used (empty, or with ':' or whitespace).
    #[error("invalid key id {0:?}: it must be non-empty, without ':' or whitespace")]
    Id(String),
    /// The system random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// A shared key of member tokens: an id (several keys may be in use, e.g.
/// one per LAVA instance sharing a coordinator) and a secret. `Debug`
/// never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key id, the part of a token before ':'.
    pub id: String,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}:<redacted>)", self.id)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(':') && !id.chars().any(char::is_whitespace)
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl Key {
    /// A new key with 32 random bytes from the system's random source.
    pub fn generate(id: &str) -> Result<Key, KeyError> {
        if !valid_id(id) {
            return Err(KeyError::Id(id.to_string()));
        }
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Key {
            id: id.to_string(),
            secret,
        })
    }

    /// Parse a key file: lines `<kid>:<hex secret>`, `#` comments and blank
    /// lines ignored; at least one key. `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Vec<Key>, KeyError> {
        let fail = |line: usize, reason: &str| KeyError::Parse {
            path: path.to_path_buf(),
            line,
            reason: reason.to_string(),
        };
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((id, hex)) = line.split_once(':') else {
                return Err(fail(number, "expected '<key id>:<hex secret>'"));
            };
            let id = id.trim();
            if !valid_id(id) {
                return Err(fail(
                    number,
                    "the key id must be non-empty, without ':' or whitespace",
                ));
            }
            let Some(secret) = from_hex(hex.trim()) else {
                return Err(fail(
                    number,
                    "the secret is not an even number of hex digits",
                ));
            };
            if secret.len() < 16 {
                return Err(fail(number, "the secret is shorter than 16 bytes"));
            }
            if keys.iter().any(|k: &Key| k.id == id) {
                return Err(fail(number, &format!("key id '{id}' appears twice")));
            }
            keys.push(Key {
                id: id.to_string(),
                secret,
            });
        }
        if keys.is_empty() {
            return Err(fail(0, "no key in the file"));
        }
        Ok(keys)
    }

    /// Read a key file (see [`Key::parse`]). A file readable by group or
    /// others is accepted with a warning.
    pub fn load(path: &Path) -> Result<Vec<Key>, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    log::warn!(
                        "coordinator key file {} is accessible by group or others (mode {:o}); make it 0600",
                        path.display(),
                        meta.permissions().mode() & 0o777
                    );
                }
            }
        }
        Key::parse(&text, path)
    }

    /// The key file line: `<kid>:<hex secret>\n`.
    pub fn to_line(&self) -> String {
        format!("{}:{}\n", self.id, to_hex(&self.secret))
    }

    fn mac(&self, group: &str, client: &str, role: &str, group_size: u64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        mac.update(format!("{group}\n{client}\n{role}\n{group_size}").as_bytes());
        mac
    }

    /// The member token: `"<kid>:"` + lower-case hex HMAC-SHA256(secret,
    /// `group "\n" client "\n" role "\n" group_size`).
    pub fn token(&self, group: &str, client: &str, role: &str, group_size: u64) -> String {
        let tag = self
            .mac(group, client, role, group_size)
            .finalize()
            .into_bytes();
        format!("{}:{}", self.id, to_hex(&tag))
    }
}

/// Whether `token` was made by one of `keys` for exactly this member
/// (group, client, role and group size); the MAC is compared in constant
/// time. A group, client or role holding a newline never verifies (the
/// fields could otherwise be split differently).
pub fn verify_token(
    keys: &[Key],
    token: &str,
    group: &str,
    client: &str,
    role: &str,
    group_size: u64,
) -> bool {
    if [group, client, role]
        .iter()
        .any(|field| field.contains('\n'))
    {
        return false;
    }
    let Some((id, hex)) = token.split_once(':') else {
        return false;
    };
    let Some(tag) = from_hex(hex) else {
        return false;
    };
    keys.iter().filter(|k| k.id == id).any(|k| {
        k.mac(group, client, role, group_size)
            .verify_slice(&tag)
            .is_ok()
    })
}

// ---------------------------------------------------------------------------
// Worker-side configuration

/// Why the coordinator conf file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file is not JSON.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The JSON is not an object.
    #[error("{path}: expected a JSON object")]
    NotObject {
        /// The file.
        path: PathBuf,
    },
    /// A key has the wrong type or value.
    #[error("{path}: key \"{key}\": {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The worker-side conf file: LAVA's JSON
/// (`/etc/lava-coordinator/lava-coordinator.conf`) plus our CURVE keys.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinatorConf {
    /// `port`, default 3079.
    pub port: u16,
    /// `blocksize`, default 4096 (sent in requests, otherwise unused).
    pub blocksize: u64,
    /// `poll_delay` in seconds, default 1 (LAVA's code default).
    pub poll_delay: u64,
    /// `coordinator_hostname`, default `localhost`.
    pub coordinator_hostname: String,
    /// Our extension (`"encrypt": true`): use the CURVE transport.
    pub curve: Option<CurveConf>,
}

/// The CURVE transport settings of [`CoordinatorConf`].
#[derive(Debug, Clone, PartialEq)]
pub struct CurveConf {
    /// `curve_port`, default 3080.
    pub port: u16,
    /// `coordinator_cert`: the coordinator's public certificate file.
    pub server_cert: PathBuf,
    /// `client_cert`: this worker's secret certificate file.
    pub client_cert: PathBuf,
}

impl Default for CoordinatorConf {
    fn default() -> Self {
        CoordinatorConf {
            port: DEFAULT_PORT,
            blocksize: 4096,
            poll_delay: 1,
            coordinator_hostname: "localhost".to_string(),
            curve: None,
        }
    }
}

impl CoordinatorConf {
    /// Where LAVA's packages install the file.
    pub const DEFAULT_PATH: &'static str = "/etc/lava-coordinator/lava-coordinator.conf";

    /// Parse the JSON conf; absent keys take LAVA's defaults, unknown keys
    /// are ignored, `"encrypt": true` turns on CURVE (and then needs
    /// `coordinator_cert` and `client_cert`). `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<CoordinatorConf, ConfError> {
        let value: Value = serde_json::from_str(text).map_err(|source| ConfError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let Value::Object(map) = value else {
            return Err(ConfError::NotObject {
                path: path.to_path_buf(),
            });
        };
        let bad = |key: &str, reason: &str| ConfError::Key {
            path: path.to_path_buf(),
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let uint = |key: &str| -> Result<Option<u64>, ConfError> {
            match map.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| bad(key, &format!("expected a non-negative integer, got {v}"))),
            }
        };
        let port = |key: &str, default: u16| -> Result<u16, ConfError> {
            match uint(key)? {
                None => Ok(default),
                Some(p) => match u16::try_from(p) {
                    Ok(p) if p > 0 => Ok(p),
                    _ => Err(bad(key, &format!("{p} is not a TCP port (1-65535)"))),
                },
            }
        };
        let string = |key: &str| -> Result<Option<String>, ConfError> {
            match map.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(bad(key, &format!("expected a string, got {v}"))),
            }
        };
        let defaults = CoordinatorConf::default();
        let coordinator_hostname = match string("coordinator_hostname")? {
            Some(h) if h.trim().is_empty() => {
                return Err(bad("coordinator_hostname", "the host name is empty"))
            }
            Some(h) => h,
            None => defaults.coordinator_hostname,
        };
        let encrypt = match map.get("encrypt") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(bad("encrypt", &format!("expected true or false, got {v}"))),
        };
        let curve_port = port("curve_port", DEFAULT_CURVE_PORT)?;
        let server_cert = string("coordinator_cert")?;
        let client_cert = string("client_cert")?;
        let curve = if encrypt {
            let need = |key: &str, v: Option<String>| {
                v.filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .ok_or_else(|| bad(key, "required when \"encrypt\" is true"))
            };
            Some(CurveConf {
                port: curve_port,
                server_cert: need("coordinator_cert", server_cert)?,
                client_cert: need("client_cert", client_cert)?,
            })
        } else {
            None
        };
        Ok(CoordinatorConf {
            port: port("port", defaults.port)?,
            blocksize: uint("blocksize")?.unwrap_or(defaults.blocksize),
            poll_delay: uint("poll_delay")?.unwrap_or(defaults.poll_delay),
            coordinator_hostname,
            curve,
        })
    }

    /// Read and parse the conf file.
    pub fn load(path: &Path) -> Result<CoordinatorConf, ConfError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CoordinatorConf::parse(&text, path)
    }

    /// `host:port` of the plaintext coordinator (an IPv6 literal bracketed).
    pub fn address(&self) -> String {
        join_host_port(&self.coordinator_hostname, self.port)
    }

    /// `tcp://host:curve_port` of the CURVE transport, when configured.
    pub fn curve_url(&self) -> Option<String> {
        self.curve.as_ref().map(|c| {
            format!(
                "tcp://{}",
                join_host_port(&self.coordinator_hostname, c.port)
            )
        })
    }
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
