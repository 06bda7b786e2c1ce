//! The control and log channels on real loopback sockets, framed by
//! lava-proto's helpers: what goes on the wire is exactly docs/protocol.md §4.

use lava_proto::control::{Command, JobEnd, Message, StartJob};
use lava_proto::log::{LogLevel, LogMessage, LogRecord};
use lava_proto::socket::{self, ConnectOptions, Security, MASTER_ID};
use lava_proto::ProtoError;
use lava_tests::{readable, PROMPT};

fn pair(ctx: &zmq::Context, hostname: &str) -> (zmq::Socket, zmq::Socket) {
    let master = socket::master_control(ctx, "tcp://127.0.0.1:*", &Security::Null, false).unwrap();
    let endpoint = master.get_last_endpoint().unwrap().unwrap();
    let worker = socket::worker_control(
        ctx,
        &endpoint,
        hostname,
        &Security::Null,
        &ConnectOptions::default(),
    )
    .unwrap();
    (master, worker)
}

fn sample_start() -> Message {
    Message::Start(Box::new(StartJob {
        job_id: 1234,
        definition: "job_name: smoke\ncompatibility: 6\n".into(),
        device: "commands: {connect: telnet localhost 7000}\n".into(),
        dispatcher: "prefix: lab-\n".into(),
        env: String::new(),
        env_dut: "overrides: {LC_ALL: C.UTF-8}\n".into(),
    }))
}

#[test]
fn every_message_crosses_the_wire_unchanged() {
    let ctx = zmq::Context::new();
    let (master, worker) = pair(&ctx, "worker-a");
    let to_master = [
        Message::Hello { version: 3 },
        Message::HelloRetry { version: 3 },
        Message::Ping,
        Message::StartOk { job_id: 1234 },
        Message::End(JobEnd::new(
            1234,
            "warning: slow\n",
            Some("job: ok\n".as_bytes()),
        )),
        Message::End(JobEnd::new(1235, "Traceback ...\n", None)),
    ];
    for message in &to_master {
        socket::send(&worker, MASTER_ID, message).unwrap();
        assert!(readable(&master, PROMPT));
        let got = socket::recv(&master).unwrap();
        assert_eq!(got.routing_id, b"worker-a");
        assert_eq!(got.frames, message.encode(), "{message}");
        assert_eq!(&got.message().unwrap(), message);
    }
    let to_worker = [
        Message::HelloOk,
        Message::Pong { interval: 20 },
        sample_start(),
        Message::Cancel { job_id: 7 },
        Message::Status { job_id: 8 },
        Message::EndOk { job_id: 9 },
    ];
    for message in &to_worker {
        socket::send(&master, b"worker-a", message).unwrap();
        assert!(readable(&worker, PROMPT));
        let got = socket::recv(&worker).unwrap();
        assert_eq!(got.routing_id, MASTER_ID);
        assert_eq!(&got.message().unwrap(), message);
    }
}

#[test]
fn start_has_seven_frames_on_the_wire() {
    let ctx = zmq::Context::new();
    let (master, worker) = pair(&ctx, "worker-b");
    socket::send(&worker, MASTER_ID, &Message::Ping).unwrap();
    assert!(readable(&master, PROMPT));
    socket::recv(&master).unwrap();

    socket::send(&master, b"worker-b", &sample_start()).unwrap();
    assert!(readable(&worker, PROMPT));
    // Read raw: routing frame + exactly 7 protocol frames, no delimiter.
    let raw = worker.recv_multipart(0).unwrap();
    assert_eq!(raw.len(), 8);
    assert_eq!(raw[0], b"master");
    assert_eq!(raw[1], b"START");
    assert_eq!(raw[2], b"1234");
    assert_eq!(raw[6], b"");
    assert_eq!(raw[7], b"overrides: {LC_ALL: C.UTF-8}\n");
}

#[test]
fn worker_can_greet_before_the_master_is_up() {
    // CONNECT_ROUTING_ID makes "master" addressable before the connection
    // exists; the HELLO is queued and delivered once the master binds.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let ctx = zmq::Context::new();
    let worker = socket::worker_control(
        &ctx,
        &endpoint,
        "early-bird",
        &Security::Null,
        &ConnectOptions::default(),
    )
    .unwrap();
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    let master = socket::master_control(&ctx, &endpoint, &Security::Null, false).unwrap();
    assert!(readable(&master, PROMPT), "queued HELLO never arrived");
    let got = socket::recv(&master).unwrap();
    assert_eq!(
        (got.routing_id.as_slice(), got.message().unwrap()),
        (&b"early-bird"[..], Message::Hello { version: 3 })
    );
}

#[test]
fn malformed_frames_from_a_raw_peer_are_typed_errors() {
    let ctx = zmq::Context::new();
    let (master, worker) = pair(&ctx, "raw-peer");
    type Check = fn(&ProtoError) -> bool;
    let cases: Vec<(Vec<&[u8]>, Check)> = vec![
        (vec![b"START", b"1", b"d", b"d", b"d", b"d"], |e| {
            matches!(
                e,
                ProtoError::FrameCount {
                    command: Command::Start,
                    got: 6,
                    ..
                }
            )
        }),
        (vec![b"END", b"1", b"errors"], |e| {
            matches!(
                e,
                ProtoError::FrameCount {
                    command: Command::End,
                    got: 3,
                    ..
                }
            )
        }),
        (vec![b"START_OK", b"twelve"], |e| {
            matches!(e, ProtoError::InvalidInteger { frame: 1, .. })
        }),
        (vec![b"END", b"1", b"\xff\xfe", b""], |e| {
            matches!(e, ProtoError::InvalidUtf8 { frame: 2, .. })
        }),
        (vec![b"BONJOUR"], |e| {
            matches!(e, ProtoError::UnknownCommand { .. })
        }),
    ];
    for (frames, check) in cases {
        worker.send(MASTER_ID, zmq::SNDMORE).unwrap();
        worker.send_multipart(frames.iter().copied(), 0).unwrap();
        assert!(readable(&master, PROMPT));
        let err = socket::recv(&master).unwrap().message().unwrap_err();
        assert!(check(&err), "unexpected error {err:?}");
    }
    // A truncated xz description decodes as END but its description is an error.
    let mut end = JobEnd::new(5, "", Some(b"job: done\n"));
    end.description_xz.truncate(end.description_xz.len() / 2);
    socket::send(&worker, MASTER_ID, &Message::End(end)).unwrap();
    assert!(readable(&master, PROMPT));
    let Message::End(end) = socket::recv(&master).unwrap().message().unwrap() else {
        panic!("not END")
    };
    assert!(matches!(
        end.description(),
        Err(ProtoError::Description { .. })
    ));
}

#[test]
fn a_second_connection_with_the_same_hostname_takes_over() {
    let ctx = zmq::Context::new();
    let (master, old) = pair(&ctx, "twin");
    socket::send(&old, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    assert!(readable(&master, PROMPT));
    socket::recv(&master).unwrap();

    let endpoint = master.get_last_endpoint().unwrap().unwrap();
    let new = socket::worker_control(
        &ctx,
        &endpoint,
        "twin",
        &Security::Null,
        &ConnectOptions::default(),
    )
    .unwrap();
    socket::send(&new, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    assert!(readable(&master, PROMPT));
    socket::recv(&master).unwrap();

    socket::send(&master, b"twin", &Message::HelloOk).unwrap();
    assert!(
        readable(&new, PROMPT),
        "the newest connection did not get the reply"
    );
    assert!(!readable(&old, std::time::Duration::from_millis(0)));
}

#[test]
fn log_lines_travel_push_to_pull_in_order() {
    let ctx = zmq::Context::new();
    let sink = socket::log_sink(&ctx, "tcp://127.0.0.1:*", &Security::Null, false).unwrap();
    let endpoint = sink.get_last_endpoint().unwrap().unwrap();
    let source =
        socket::log_source(&ctx, &endpoint, &Security::Null, &ConnectOptions::default()).unwrap();
    let records: Vec<LogRecord> = (0..100)
        .map(|i| LogRecord::new(LogLevel::Target, format!("line {i} \u{e9}\t\"q\"")))
        .collect();
    for record in &records {
        socket::send_log(
            &source,
            &LogMessage {
                job_id: 77,
                line: record.to_line(),
            },
        )
        .unwrap();
    }
    for record in &records {
        assert!(readable(&sink, PROMPT));
        let message = LogMessage::decode(&socket::recv_log(&sink, 0).unwrap()).unwrap();
        assert_eq!(message.job_id, 77);
        assert!(message.line.is_ascii());
        assert_eq!(&LogRecord::parse(&message.line).unwrap(), record);
    }
}
