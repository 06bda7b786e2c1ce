//! The coordinator's wire vocabulary: Python-compatible JSON, frames,
//! one-request exchanges over real loopback TCP, member tokens and the
//! worker's conf file.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use lava_proto::coordinator::{
    encode_frame, exchange, read_frame, to_python_json, verify_token, ConfError, CoordinatorConf,
    CurveConf, ExchangeError, FrameError, Key, KeyError, BASE_KEYS, DEFAULT_CURVE_PORT,
    DEFAULT_PORT, MAX_FRAME, MAX_REQUEST,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Python JSON

#[test]
fn python_json_separators_and_key_order() {
    // Keys stay in insertion order (serde_json's preserve_order).
    let value: Value =
        serde_json::from_str(r#"{"z": 1, "a": [1, 2, {"y": null, "b": true}], "m": {}}"#).unwrap();
    assert_eq!(
        to_python_json(&value),
        r#"{"z": 1, "a": [1, 2, {"y": null, "b": true}], "m": {}}"#
    );
    assert_eq!(to_python_json(&json!([])), "[]");
    assert_eq!(to_python_json(&json!(-7)), "-7");
    assert_eq!(to_python_json(&json!(u64::MAX)), "18446744073709551615");
}

#[test]
fn python_json_ensure_ascii_escapes() {
    // json.dumps({"a": "é\x01\x7f😀\"\\\n\t/"}) in Python 3.
    let value = json!({"a": "\u{e9}\u{1}\u{7f}\u{1F600}\"\\\n\t/", "b": "\r\u{8}\u{c}"});
    assert_eq!(
        to_python_json(&value),
        r#"{"a": "\u00e9\u0001\u007f\ud83d\ude00\"\\\n\t/", "b": "\r\b\f"}"#
    );
    // Non-ASCII keys are escaped too, and the output is ASCII only.
    let text = to_python_json(&json!({"clé": "日本"}));
    assert_eq!(text, r#"{"cl\u00e9": "\u65e5\u672c"}"#);
    assert!(text.is_ascii());
    // And it decodes back to the same value.
    let back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, json!({"clé": "日本"}));
}

#[test]
fn python_json_floats_like_repr() {
    let value = json!([
        2.5,
        1e16,
        1e15,
        0.0001,
        0.00001,
        -1.5e-7,
        123456789.125,
        1e300,
        -0.0
    ]);
    // Python: json.dumps([2.5, 1e16, 1e15, 0.0001, 0.00001, -1.5e-7, 123456789.125, 1e300, -0.0])
    assert_eq!(
        to_python_json(&value),
        "[2.5, 1e+16, 1000000000000000.0, 0.0001, 1e-05, -1.5e-07, 123456789.125, 1e+300, -0.0]"
    );
    assert_eq!(to_python_json(&json!(5e-324)), "5e-324");
    assert_eq!(
        to_python_json(&json!(1.7976931348623157e308)),
        "1.7976931348623157e+308"
    );
}

// ---------------------------------------------------------------------------
// Frames

#[test]
fn frame_header_is_upper_case_hex_of_the_body_length() {
    let reply = json!({"response": "group_data", "roles": {"1234": "server", "1235": "client"}});
    let frame = encode_frame(&reply);
    assert_eq!(
        frame,
        b"00000049{\"response\": \"group_data\", \"roles\": {\"1234\": \"server\", \"1235\": \"client\"}}"
            .to_vec()
    );
    let long = json!({"message": "x".repeat(300)});
    let frame = encode_frame(&long);
    assert_eq!(&frame[..8], b"0000013B");
    // Non-ASCII is escaped, so the length in bytes is the length in characters.
    let frame = encode_frame(&json!({"k": "é"}));
    assert_eq!(frame, b"0000000F{\"k\": \"\\u00e9\"}".to_vec());
}

#[test]
fn frame_reader_accepts_either_case() {
    let body = br#"{"response": "ack", "message": {"a": "b"}}"#;
    for header in [format!("{:08X}", body.len()), format!("{:08x}", body.len())] {
        let mut bytes = header.into_bytes();
        bytes.extend_from_slice(body);
        let value = read_frame(&mut &bytes[..], MAX_FRAME).unwrap().unwrap();
        assert_eq!(value, json!({"response": "ack", "message": {"a": "b"}}));
    }
    // Lower-case hex digits in the header: length 0x2a.
    let mut bytes = b"0000002a".to_vec();
    bytes.extend_from_slice(br#"{"response": "ack", "message": "barrier1"}"#);
    assert_eq!(
        read_frame(&mut &bytes[..], MAX_FRAME).unwrap().unwrap(),
        json!({"response": "ack", "message": "barrier1"})
    );
}

/// A reader that yields one byte per read, then end of stream.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn frame_reader_loops_on_short_reads() {
    let message = json!({"request": "lava_send", "messageID": "big", "message": {"blob": "y".repeat(10_000)}});
    let frame = encode_frame(&message);
    let value = read_frame(&mut Trickle(&frame), MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(value, message);
    // Two frames back to back: the reader takes exactly one.
    let mut two = encode_frame(&json!({"response": "wait"}));
    two.extend(encode_frame(&json!({"response": "ack"})));
    let mut reader = Trickle(&two);
    assert_eq!(
        read_frame(&mut reader, MAX_FRAME).unwrap().unwrap()["response"],
        "wait"
    );
    assert_eq!(
        read_frame(&mut reader, MAX_FRAME).unwrap().unwrap()["response"],
        "ack"
    );
    assert!(read_frame(&mut reader, MAX_FRAME).unwrap().is_none());
}

#[test]
fn frame_reader_errors() {
    // Nothing at all: the empty reply.
    assert!(read_frame(&mut &b""[..], MAX_FRAME).unwrap().is_none());
    // A bad header.
    let err = read_frame(&mut &b"zzzzzzzz{}"[..], MAX_FRAME).unwrap_err();
    assert!(
        matches!(&err, FrameError::Header(h) if h == "zzzzzzzz"),
        "{err}"
    );
    // Python's int() would take " 0x0002", we do not.
    let err = read_frame(&mut &b" 0x0002{}"[..], MAX_FRAME).unwrap_err();
    assert!(matches!(err, FrameError::Header(_)));
    // A short header.
    let err = read_frame(&mut &b"0000"[..], MAX_FRAME).unwrap_err();
    assert!(matches!(
        err,
        FrameError::Truncated {
            expected: 8,
            got: 4
        }
    ));
    // Too long for the reader.
    let err = read_frame(&mut &b"00010001"[..], MAX_FRAME).unwrap_err();
    assert!(matches!(
        err,
        FrameError::TooLong {
            length: 0x10001,
            max: MAX_FRAME
        }
    ));
    let err = read_frame(&mut &b"FFFFFFFF"[..], MAX_FRAME).unwrap_err();
    assert!(matches!(err, FrameError::TooLong { .. }));
    // A truncated body.
    let err = read_frame(&mut &b"00000010{\"a\": 1}"[..], MAX_FRAME).unwrap_err();
    assert!(
        matches!(
            err,
            FrameError::Truncated {
                expected: 16,
                got: 8
            }
        ),
        "{err}"
    );
    // Not JSON, and not UTF-8.
    let err = read_frame(&mut &b"00000005hello"[..], MAX_FRAME).unwrap_err();
    assert!(matches!(err, FrameError::Json(_)));
    let err = read_frame(&mut &b"00000003\"\xff\""[..], MAX_FRAME).unwrap_err();
    assert!(matches!(err, FrameError::Json(_)));
    // Any JSON is a frame: the coordinator decides what a non-object means.
    assert_eq!(
        read_frame(&mut &b"000000015"[..], MAX_FRAME)
            .unwrap()
            .unwrap(),
        json!(5)
    );
}

// ---------------------------------------------------------------------------
// Exchange over real loopback TCP

const SECOND: Duration = Duration::from_secs(1);

/// A one-connection server: reads the request frame, then runs `answer`.
fn serve_once(
    answer: impl FnOnce(&mut TcpStream, Option<Value>) + Send + 'static,
) -> (String, thread::JoinHandle<Option<Value>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(10 * SECOND)).unwrap();
        let request = read_frame(&mut stream, MAX_FRAME).unwrap();
        answer(&mut stream, request.clone());
        request
    });
    (addr, handle)
}

#[test]
fn exchange_sends_one_frame_and_reads_the_reply_after_half_close() {
    let (addr, server) = serve_once(|stream, _| {
        // Our client has half-closed: a further read sees end of stream.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        stream
            .write_all(&encode_frame(
                &json!({"response": "group_data", "roles": {"1": "a"}}),
            ))
            .unwrap();
    });
    let body = json!({"port": 3079, "client_name": "1", "request": "group_data", "group_size": 1});
    let reply = exchange(&addr, &body, SECOND, 10 * SECOND)
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        json!({"response": "group_data", "roles": {"1": "a"}})
    );
    assert_eq!(server.join().unwrap(), Some(body));
}

#[test]
fn exchange_reply_in_pieces() {
    let (addr, server) = serve_once(|stream, _| {
        let frame =
            encode_frame(&json!({"response": "ack", "message": {"1": {"k": "v".repeat(5000)}}}));
        for chunk in frame.chunks(100) {
            stream.write_all(chunk).unwrap();
            stream.flush().unwrap();
        }
    });
    let reply = exchange(&addr, &json!({"request": "lava_wait"}), SECOND, 10 * SECOND)
        .unwrap()
        .unwrap();
    assert_eq!(reply["message"]["1"]["k"].as_str().unwrap().len(), 5000);
    server.join().unwrap();
}

#[test]
fn exchange_empty_reply_when_the_peer_closes() {
    let (addr, server) = serve_once(|stream, _| {
        stream.shutdown(Shutdown::Both).unwrap();
    });
    let reply = exchange(&addr, &json!({"request": "complete"}), SECOND, 10 * SECOND).unwrap();
    assert!(reply.is_none());
    server.join().unwrap();
}

#[test]
fn exchange_errors() {
    // A reply that is not a frame.
    let (addr, server) = serve_once(|stream, _| {
        stream.write_all(b"not a frame").unwrap();
    });
    let err = exchange(&addr, &json!({}), SECOND, 10 * SECOND).unwrap_err();
    assert!(
        matches!(
            err,
            ExchangeError::Frame {
                source: FrameError::Header(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&addr));
    server.join().unwrap();

    // A peer that never answers: the deadline ends the wait.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let holder = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Keep the connection open until the client has given up.
        held_rx.recv().unwrap();
        drop(stream);
    });
    let start = Instant::now();
    let err = exchange(&addr, &json!({}), SECOND, Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(&err, ExchangeError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)),
        "{err}"
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < 10 * SECOND);
    held_tx.send(()).unwrap();
    holder.join().unwrap();

    // Nobody listening.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = exchange(&format!("127.0.0.1:{port}"), &json!({}), SECOND, SECOND).unwrap_err();
    assert!(matches!(err, ExchangeError::Connect { .. }), "{err}");

    // Too long: refused before connecting.
    let body = json!({"message": "x".repeat(MAX_REQUEST)});
    let err = exchange("127.0.0.1:9", &body, SECOND, SECOND).unwrap_err();
    assert!(matches!(err, ExchangeError::TooLong { length } if length > MAX_REQUEST));
}

#[test]
fn exchange_over_ipv6_loopback() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let addr = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_frame(&mut stream, MAX_FRAME).unwrap().unwrap();
        stream
            .write_all(&encode_frame(&json!({"response": "ack"})))
            .unwrap();
        request
    });
    let reply = exchange(&addr, &json!({"request": "lava_send"}), SECOND, 10 * SECOND).unwrap();
    assert_eq!(reply, Some(json!({"response": "ack"})));
    assert_eq!(server.join().unwrap(), json!({"request": "lava_send"}));
}

#[cfg(feature = "zmq")]
#[test]
fn exchange_over_curve() {
    use lava_proto::cert::KeyPair;
    use lava_proto::coordinator::exchange_curve;
    if zmq::has("curve") != Some(true) {
        eprintln!("libzmq without CURVE; skipped");
        return;
    }
    let server_keys = KeyPair::generate().unwrap();
    let client_keys = KeyPair::generate().unwrap();
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_curve_server(true).unwrap();
    rep.set_curve_secretkey(&server_keys.secret.0).unwrap();
    rep.set_linger(0).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let url = rep.get_last_endpoint().unwrap().unwrap();
    let server = thread::spawn(move || {
        let request = rep.recv_bytes(0).unwrap();
        let value: Value = serde_json::from_slice(&request).unwrap();
        rep.send(to_python_json(&json!({"response": "ack"})).as_bytes(), 0)
            .unwrap();
        value
    });
    let body = json!({"request": "lava_send", "messageID": "x", "message": {"é": "1"}});
    let reply =
        exchange_curve(&url, &server_keys.public, &client_keys, &body, 10 * SECOND).unwrap();
    assert_eq!(reply, Some(json!({"response": "ack"})));
    assert_eq!(server.join().unwrap(), body);

    // A server with another key never completes the handshake: timeout.
    let other = KeyPair::generate().unwrap();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_curve_server(true).unwrap();
    rep.set_curve_secretkey(&other.secret.0).unwrap();
    rep.set_linger(0).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let url = rep.get_last_endpoint().unwrap().unwrap();
    let err = exchange_curve(
        &url,
        &server_keys.public,
        &client_keys,
        &body,
        Duration::from_millis(300),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ExchangeError::Io { source, .. } if source.kind() == io::ErrorKind::TimedOut),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Member tokens

#[test]
fn tokens_verify_only_for_their_member() {
    let key = Key::generate("lab1").unwrap();
    let token = key.token("g-1", "1234", "server", 2);
    let (kid, mac) = token.split_once(':').unwrap();
    assert_eq!(kid, "lab1");
    assert_eq!(mac.len(), 64);
    assert!(mac
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let keys = vec![Key::generate("other").unwrap(), key.clone()];
    assert!(verify_token(&keys, &token, "g-1", "1234", "server", 2));
    assert!(
        !verify_token(&keys, &token, "g-2", "1234", "server", 2),
        "group"
    );
    assert!(
        !verify_token(&keys, &token, "g-1", "1235", "server", 2),
        "client"
    );
    assert!(
        !verify_token(&keys, &token, "g-1", "1234", "client", 2),
        "role"
    );
    assert!(
        !verify_token(&keys, &token, "g-1", "1234", "server", 3),
        "size"
    );
    // Another key with the same id, a wrong id, mangled tokens.
    let impostor = Key::generate("lab1").unwrap();
    assert!(!verify_token(
        std::slice::from_ref(&impostor),
        &token,
        "g-1",
        "1234",
        "server",
        2
    ));
    assert!(!verify_token(
        &keys,
        &token.replacen("lab1", "other", 1),
        "g-1",
        "1234",
        "server",
        2
    ));
    assert!(!verify_token(&keys, mac, "g-1", "1234", "server", 2));
    assert!(!verify_token(
        &keys,
        &token[..token.len() - 2],
        "g-1",
        "1234",
        "server",
        2
    ));
    assert!(!verify_token(&keys, "lab1:zz", "g-1", "1234", "server", 2));
    assert!(!verify_token(&keys, "", "g-1", "1234", "server", 2));
    assert!(!verify_token(&[], &token, "g-1", "1234", "server", 2));
    // Upper-case hex is the same MAC.
    let upper = format!("lab1:{}", mac.to_ascii_uppercase());
    assert!(verify_token(&keys, &upper, "g-1", "1234", "server", 2));
    // Fields holding the separator never verify, so that a token cannot be
    // re-split into other fields.
    let token = key.token("a\nb", "c", "r", 1);
    assert_eq!(token, key.token("a", "b\nc", "r", 1));
    assert!(!verify_token(&keys, &token, "a\nb", "c", "r", 1));
    assert!(!verify_token(&keys, &token, "a", "b\nc", "r", 1));
    let token = key.token("g", "c", "r\n1", 1);
    assert!(!verify_token(&keys, &token, "g", "c", "r\n1", 1));
}

#[test]
fn token_is_hmac_sha256_of_the_documented_message() {
    // A 16-byte secret ("Jefe" four times) from a key file; the token is
    // checked against an HMAC computed from its definition below.
    let text = format!("t:{}\n", "4a656665".repeat(4));
    let keys = Key::parse(&text, Path::new("k")).unwrap();
    let token = keys[0].token("g", "1", "r", 2);
    let expected = hmac_sha256_hex(&[0x4a, 0x65, 0x66, 0x65].repeat(4), b"g\n1\nr\n2");
    assert_eq!(token, format!("t:{expected}"));
}

/// HMAC-SHA256 from its definition (RFC 2104) over a small SHA-256 (FIPS
/// 180-4), to check the library use independently.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let inner = sha256(&ipad);
    let opad: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(inner.iter().copied())
        .collect();
    sha256(&opad).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[test]
fn sha256_reference_is_right() {
    // FIPS 180-4 example "abc", and RFC 4231 case 2 for the HMAC.
    let digest: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        digest,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn key_files() {
    let key = Key::generate("lab-1").unwrap();
    let line = key.to_line();
    assert!(line.starts_with("lab-1:") && line.ends_with('\n'));
    assert_eq!(line.len(), "lab-1:".len() + 64 + 1);
    let text = format!(
        "# keys of the lab\n\n{line}  other : {}  \n",
        "ab".repeat(32)
    );
    let keys = Key::parse(&text, Path::new("/etc/k")).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], key);
    assert_eq!(keys[1].id, "other");
    // Debug never shows the secret.
    let debug = format!("{:?}", keys[0]);
    assert!(!debug.contains(&line[6..20]), "{debug}");

    let bad = |text: &str, line: usize| {
        let err = Key::parse(text, Path::new("/etc/k")).unwrap_err();
        assert!(
            matches!(&err, KeyError::Parse { path, line: l, .. } if path == Path::new("/etc/k") && *l == line),
            "{text:?}: {err}"
        );
        assert!(
            err.to_string().starts_with(&format!("/etc/k:{line}: ")),
            "{err}"
        );
    };
    bad("nocolon\n", 1);
    bad(&format!("# c\n:{}\n", "ab".repeat(32)), 2);
    bad("k:abc\n", 1);
    bad("k:zz\n", 1);
    bad("k:abcd\n", 1); // too short
    bad(&format!("k:{0}\nk:{0}\n", "ab".repeat(32)), 2);
    bad("# only comments\n", 0);
    assert!(matches!(Key::generate("a:b"), Err(KeyError::Id(_))));
    assert!(matches!(Key::generate(""), Err(KeyError::Id(_))));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.key");
    std::fs::write(&path, &line).unwrap();
    assert_eq!(Key::load(&path).unwrap(), vec![key]);
    let err = Key::load(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, KeyError::Io { .. }));
    assert!(err.to_string().contains("missing"));
}

// ---------------------------------------------------------------------------
// Conf file

#[test]
fn lava_shipped_conf() {
    let text = r#"{"port": 3079, "blocksize": 4096, "poll_delay": 3, "coordinator_hostname": "localhost"}"#;
    let conf = CoordinatorConf::parse(text, Path::new("c.conf")).unwrap();
    assert_eq!(
        conf,
        CoordinatorConf {
            port: 3079,
            blocksize: 4096,
            poll_delay: 3,
            coordinator_hostname: "localhost".into(),
            curve: None
        }
    );
    assert_eq!(conf.address(), "localhost:3079");
    assert_eq!(conf.curve_url(), None);
}

#[test]
fn conf_defaults_and_extensions() {
    let conf = CoordinatorConf::parse("{}", Path::new("c.conf")).unwrap();
    assert_eq!(conf.port, DEFAULT_PORT);
    assert_eq!(conf.blocksize, 4096);
    assert_eq!(conf.poll_delay, 1);
    assert_eq!(conf.coordinator_hostname, "localhost");
    assert_eq!(conf.curve, None);

    let conf = CoordinatorConf::parse(
        r#"{"coordinator_hostname": "::1", "encrypt": true, "coordinator_cert": "/etc/c.key",
            "client_cert": "/etc/w.key_secret", "unknown": [1]}"#,
        Path::new("c.conf"),
    )
    .unwrap();
    assert_eq!(conf.address(), "[::1]:3079");
    assert_eq!(
        conf.curve,
        Some(CurveConf {
            port: DEFAULT_CURVE_PORT,
            server_cert: PathBuf::from("/etc/c.key"),
            client_cert: PathBuf::from("/etc/w.key_secret")
        })
    );
    assert_eq!(conf.curve_url().unwrap(), "tcp://[::1]:3080");
    // Certificates without "encrypt": plaintext.
    let conf = CoordinatorConf::parse(
        r#"{"curve_port": 4000, "coordinator_cert": "a", "client_cert": "b"}"#,
        Path::new("c.conf"),
    )
    .unwrap();
    assert_eq!(conf.curve, None);
}

#[test]
fn conf_errors_name_file_and_key() {
    let key_err = |text: &str, key: &str| {
        let err =
            CoordinatorConf::parse(text, Path::new("/etc/lava-coordinator/x.conf")).unwrap_err();
        assert!(
            matches!(&err, ConfError::Key { key: k, .. } if k == key),
            "{text}: {err}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains("/etc/lava-coordinator/x.conf") && shown.contains(key),
            "{shown}"
        );
    };
    key_err(r#"{"port": "3079"}"#, "port");
    key_err(r#"{"port": 70000}"#, "port");
    key_err(r#"{"port": 0}"#, "port");
    key_err(r#"{"blocksize": -1}"#, "blocksize");
    key_err(r#"{"poll_delay": "3"}"#, "poll_delay");
    key_err(r#"{"coordinator_hostname": 5}"#, "coordinator_hostname");
    key_err(r#"{"coordinator_hostname": ""}"#, "coordinator_hostname");
    key_err(r#"{"encrypt": "yes"}"#, "encrypt");
    key_err(
        r#"{"encrypt": true, "client_cert": "b"}"#,
        "coordinator_cert",
    );
    key_err(
        r#"{"encrypt": true, "coordinator_cert": "a"}"#,
        "client_cert",
    );
    key_err(r#"{"curve_port": 1.5}"#, "curve_port");

    let err = CoordinatorConf::parse("[1]", Path::new("x.conf")).unwrap_err();
    assert!(matches!(err, ConfError::NotObject { .. }));
    let err = CoordinatorConf::parse("{port: 1}", Path::new("x.conf")).unwrap_err();
    assert!(matches!(err, ConfError::Json { .. }));
    assert!(err.to_string().starts_with("x.conf: "));

    let dir = tempfile::tempdir().unwrap();
    let err = CoordinatorConf::load(&dir.path().join("none.conf")).unwrap_err();
    assert!(matches!(err, ConfError::Io { .. }) && err.to_string().contains("none.conf"));
    let path = dir.path().join("lava-coordinator.conf");
    std::fs::write(
        &path,
        r#"{"port": 3179, "coordinator_hostname": "coord.example"}"#,
    )
    .unwrap();
    let conf = CoordinatorConf::load(&path).unwrap();
    assert_eq!(conf.address(), "coord.example:3179");
    assert_eq!(
        CoordinatorConf::DEFAULT_PATH,
        "/etc/lava-coordinator/lava-coordinator.conf"
    );
}

#[test]
fn constants() {
    assert_eq!(DEFAULT_PORT, 3079);
    assert_eq!(MAX_REQUEST, 0xFFFE);
    const { assert!(MAX_FRAME >= MAX_REQUEST) };
    assert_eq!(
        BASE_KEYS,
        [
            "port",
            "blocksize",
            "poll_delay",
            "host",
            "hostname",
            "client_name",
            "group_name",
            "role"
        ]
    );
}
