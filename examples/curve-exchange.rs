//! A master and a worker greet each other over CURVE on loopback, with
//! certificates written and read back in pyzmq's format.
//!
//! `cargo run -p lava-examples --example curve-exchange`

use lava_proto::cert::{self, KeyPair};
use lava_proto::control::{Message, PROTOCOL_VERSION};
use lava_proto::socket::{self, ConnectOptions, Security, MASTER_ID};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    cert::write_pair(dir.path(), "master", &KeyPair::generate()?, false)?;
    cert::write_pair(dir.path(), "worker1", &KeyPair::generate()?, false)?;

    // The master knows its own pair; the worker knows its pair and the
    // master's public certificate.
    let master_pair = cert::load_pair(&dir.path().join("master.key_secret"))?;
    let worker_pair = cert::load_pair(&dir.path().join("worker1.key_secret"))?;
    let master_public = cert::load_public(&dir.path().join("master.key"))?;

    let ctx = zmq::Context::new();
    let master = socket::master_control(
        &ctx,
        "tcp://127.0.0.1:*",
        &Security::CurveServer(master_pair),
        false,
    )?;
    let endpoint = master.get_last_endpoint()?.unwrap_or_default();
    let security = Security::CurveClient {
        own: worker_pair,
        server: master_public,
    };
    let worker = socket::worker_control(
        &ctx,
        &endpoint,
        "worker1",
        &security,
        &ConnectOptions::default(),
    )?;

    socket::send(
        &worker,
        MASTER_ID,
        &Message::Hello {
            version: PROTOCOL_VERSION,
        },
    )?;
    let hello = socket::recv(&master)?;
    println!("master <= {} from {}", hello.message()?, hello.peer());
    socket::send(&master, &hello.routing_id, &Message::HelloOk)?;
    let reply = socket::recv(&worker)?;
    println!("worker <= {} from {}", reply.message()?, reply.peer());
    Ok(())
}
