//! CURVE on real loopback sockets: the vendored libzmq has it, an exchange
//! works, and wrong keys cannot talk.

use std::time::Duration;

use lava_proto::cert::KeyPair;
use lava_proto::control::Message;
use lava_proto::socket::{self, Security, MASTER_ID};
use lava_tests::{readable, Monitor, PROMPT};
use zmq::SocketEvent;

const HANDSHAKE_FAILED: [SocketEvent; 3] = [
    SocketEvent::HANDSHAKE_FAILED_NO_DETAIL,
    SocketEvent::HANDSHAKE_FAILED_PROTOCOL,
    SocketEvent::HANDSHAKE_FAILED_AUTH,
];

#[test]
fn libzmq_is_built_with_curve() {
    assert_eq!(
        zmq::has("curve"),
        Some(true),
        "libzmq lacks CURVE: is the zeromq-src patch applied?"
    );
    assert_eq!(zmq::version(), (4, 3, 5));
}

fn master(ctx: &zmq::Context, pair: &KeyPair) -> (zmq::Socket, Monitor, String) {
    let security = Security::CurveServer(pair.clone());
    let master = socket::master_control(ctx, "tcp://127.0.0.1:*", &security, false).unwrap();
    // Workers connect only after this returns, so no handshake is missed.
    let monitor = Monitor::new(ctx, &master);
    let endpoint = master.get_last_endpoint().unwrap().unwrap();
    (master, monitor, endpoint)
}

#[test]
fn curve_exchange_between_master_and_worker() {
    let ctx = zmq::Context::new();
    let master_keys = KeyPair::generate().unwrap();
    let worker_keys = KeyPair::generate().unwrap();
    let (master, monitor, endpoint) = master(&ctx, &master_keys);
    let client = Security::CurveClient {
        own: worker_keys.clone(),
        server: master_keys.public,
    };
    let worker = socket::worker_control(
        &ctx,
        &endpoint,
        "curve-worker",
        &client,
        &Default::default(),
    )
    .unwrap();

    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
    assert!(readable(&master, PROMPT), "HELLO did not arrive over CURVE");
    let hello = socket::recv(&master).unwrap();
    assert_eq!(hello.routing_id, b"curve-worker");
    assert_eq!(hello.message().unwrap(), Message::Hello { version: 3 });
    assert!(monitor
        .wait_for(&[SocketEvent::HANDSHAKE_SUCCEEDED], PROMPT)
        .is_some());

    socket::send(&master, &hello.routing_id, &Message::HelloOk).unwrap();
    assert!(readable(&worker, PROMPT), "HELLO_OK did not come back");
    let reply = socket::recv(&worker).unwrap();
    assert_eq!(reply.routing_id, MASTER_ID);
    assert_eq!(reply.message().unwrap(), Message::HelloOk);
}

fn assert_refused(client: Security) {
    let ctx = zmq::Context::new();
    let master_keys = KeyPair::generate().unwrap();
    let (master, monitor, endpoint) = master(&ctx, &master_keys);
    let worker =
        socket::worker_control(&ctx, &endpoint, "intruder", &client, &Default::default()).unwrap();
    socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();

    let event = monitor.wait_for(&HANDSHAKE_FAILED, PROMPT);
    assert!(event.is_some(), "the master never refused the handshake");
    // The refused peer's HELLO never reaches the application.
    assert!(!readable(&master, Duration::from_millis(0)));
    assert!(socket::try_recv(&master).unwrap().is_none());
}

#[test]
fn client_with_the_wrong_server_key_cannot_talk() {
    let impostor = KeyPair::generate().unwrap();
    assert_refused(Security::CurveClient {
        own: KeyPair::generate().unwrap(),
        server: impostor.public,
    });
}

#[test]
fn client_without_curve_cannot_talk_to_a_curve_master() {
    assert_refused(Security::Null);
}

mod authorisation {
    use super::*;
    use lava_proto::auth::{Authenticator, KeySet};

    fn setup(
        allowed: KeySet,
    ) -> (
        zmq::Context,
        Authenticator,
        KeyPair,
        zmq::Socket,
        Monitor,
        String,
    ) {
        let ctx = zmq::Context::new();
        let auth = Authenticator::start(&ctx, allowed).unwrap();
        let master_keys = KeyPair::generate().unwrap();
        let (master, monitor, endpoint) = master(&ctx, &master_keys);
        (ctx, auth, master_keys, master, monitor, endpoint)
    }

    fn curve_worker(
        ctx: &zmq::Context,
        endpoint: &str,
        own: &KeyPair,
        server: &KeyPair,
    ) -> zmq::Socket {
        let security = Security::CurveClient {
            own: own.clone(),
            server: server.public,
        };
        socket::worker_control(ctx, endpoint, "w", &security, &Default::default()).unwrap()
    }

    #[test]
    fn listed_key_talks_and_carries_its_user_id() {
        let worker_keys = KeyPair::generate().unwrap();
        let (ctx, auth, master_keys, master, _monitor, endpoint) =
            setup(KeySet::from_iter([worker_keys.public]));
        let worker = curve_worker(&ctx, &endpoint, &worker_keys, &master_keys);
        socket::send(&worker, MASTER_ID, &Message::Ping).unwrap();
        assert!(readable(&master, PROMPT));
        let received = socket::recv(&master).unwrap();
        let user_id = received
            .user_id
            .expect("authenticated messages carry User-Id");
        assert_eq!(user_id, worker_keys.public.to_z85());
        assert!(auth.is_authorized(&user_id));
    }

    #[test]
    fn unlisted_key_is_refused_then_admitted_once_added() {
        let worker_keys = KeyPair::generate().unwrap();
        let (ctx, auth, master_keys, master, monitor, endpoint) = setup(KeySet::new());
        let worker = curve_worker(&ctx, &endpoint, &worker_keys, &master_keys);
        socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
        assert_eq!(
            monitor.wait_for(&HANDSHAKE_FAILED, PROMPT),
            Some(SocketEvent::HANDSHAKE_FAILED_AUTH)
        );
        assert!(socket::try_recv(&master).unwrap().is_none());

        // libzmq 4.3 does not reconnect after a refused handshake (the ZAP
        // error is a protocol error that ends the connecting session), so a
        // refused worker must open a new socket. Once its key is authorised
        // that new connection is admitted without restarting the master.
        drop(worker);
        auth.set_keys(KeySet::from_iter([worker_keys.public]));
        let worker = curve_worker(&ctx, &endpoint, &worker_keys, &master_keys);
        socket::send(&worker, MASTER_ID, &Message::Hello { version: 3 }).unwrap();
        assert!(
            readable(&master, PROMPT),
            "the worker was not admitted after its key was added"
        );
        assert_eq!(
            socket::recv(&master).unwrap().message().unwrap(),
            Message::Hello { version: 3 }
        );
    }
}
