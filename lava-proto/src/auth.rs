//! Who may connect: a ZAP handler (ZeroMQ RFC 27) that accepts CURVE clients
//! whose public key is in an authorised set, the way LAVA's master accepts
//! the `*.key` files of its certificates directory.
//!
//! Unlike LAVA 2020.01, a bad certificate file never blocks the others
//! ([`load_authorized_dir`] validates file by file), refusals are logged at
//! WARNING with the peer's address and key, and the set can be replaced at
//! any time ([`Authenticator::set_keys`]); a daemon can also re-check the
//! `User-Id` of every message against [`Authenticator::is_authorized`] so a
//! revoked worker is cut off at once.
//!
//! ```
//! use lava_proto::auth::{Authenticator, KeySet};
//! use lava_proto::cert::KeyPair;
//!
//! let ctx = zmq::Context::new();
//! let worker = KeyPair::generate().unwrap();
//! let auth = Authenticator::start(&ctx, KeySet::from_iter([worker.public])).unwrap();
//! assert!(auth.is_authorized(&worker.public.to_z85()));
//! auth.set_keys(KeySet::new());
//! assert!(!auth.is_authorized(&worker.public.to_z85()));
//! ```

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use crate::cert::{self, CertError, PublicKey};
use crate::socket::SocketError;

/// The endpoint libzmq sends authentication requests to.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// A set of authorised client public keys.
pub type KeySet = HashSet<PublicKey>;

/// Load the public key of every `*.key` file directly in `dir` (not
/// recursive; `*.key_secret` files are not public certificates). Files that
/// cannot be read are reported and skipped; the rest are still loaded.
pub fn load_authorized_dir(dir: &Path) -> Result<(KeySet, Vec<CertError>), CertError> {
    let entries = fs::read_dir(dir).map_err(|source| CertError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut keys = KeySet::new();
    let mut errors = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "key") && path.is_file())
        .collect();
    paths.sort();
    for path in paths {
        match cert::load_public(&path) {
            Ok(key) => {
                keys.insert(key);
            }
            Err(e) => errors.push(e),
        }
    }
    Ok((keys, errors))
}

/// A running ZAP handler for one ZeroMQ context.
pub struct Authenticator {
    keys: Arc<RwLock<KeySet>>,
    stop: Option<zmq::Socket>,
    thread: Option<JoinHandle<()>>,
}

impl Authenticator {
    /// Start handling authentication for every CURVE server socket of
    /// `ctx`. Must be started before those sockets accept connections.
    pub fn start(ctx: &zmq::Context, keys: KeySet) -> Result<Authenticator, SocketError> {
        let err = |action| {
            move |source: zmq::Error| SocketError::Zmq {
                action,
                endpoint: ZAP_ENDPOINT.to_string(),
                source: Box::new(source),
            }
        };
        let handler = ctx.socket(zmq::REP).map_err(err("create"))?;
        handler.set_linger(0).map_err(err("set options on"))?;
        handler.bind(ZAP_ENDPOINT).map_err(err("bind"))?;
        let stop_endpoint = format!("inproc://lava-zap-stop-{:p}", &handler);
        let stop_rx = ctx.socket(zmq::PAIR).map_err(err("create"))?;
        stop_rx.bind(&stop_endpoint).map_err(err("bind"))?;
        let stop_tx = ctx.socket(zmq::PAIR).map_err(err("create"))?;
        stop_tx.connect(&stop_endpoint).map_err(err("connect to"))?;

        let keys = Arc::new(RwLock::new(keys));
        let shared = Arc::clone(&keys);
        let thread = std::thread::Builder::new()
            .name("zap-handler".into())
            .spawn(move || serve(handler, stop_rx, shared))
            .map_err(|e| SocketError::Zmq {
                action: "start a thread for",
                endpoint: ZAP_ENDPOINT.to_string(),
                source: Box::new(e),
            })?;
        Ok(Authenticator {
            keys,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Replace the authorised set; new handshakes use it at once.
    pub fn set_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// Whether the Z85 public key (a message's `User-Id`) is authorised now.
    pub fn is_authorized(&self, z85: &str) -> bool {
        PublicKey::from_z85(z85).is_some_and(|key| {
            self.keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key)
        })
    }

    /// How many keys are authorised.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is authorised.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Authenticator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send("", 0);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(handler: zmq::Socket, stop: zmq::Socket, keys: Arc<RwLock<KeySet>>) {
    loop {
        let mut items = [
            handler.as_poll_item(zmq::POLLIN),
            stop.as_poll_item(zmq::POLLIN),
        ];
        if zmq::poll(&mut items, -1).is_err() {
            // EINTR or the context is terminating.
            if items[1].is_readable() {
                return;
            }
            continue;
        }
        if items[1].is_readable() {
            return;
        }
        if !items[0].is_readable() {
            continue;
        }
        let request = match handler.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::ETERM) => return,
            Err(_) => continue,
        };
        let reply = answer(&request, &keys);
        if handler.send_multipart(reply, 0).is_err() {
            return;
        }
    }
}

/// Build the ZAP reply for one request.
fn answer(request: &[Vec<u8>], keys: &RwLock<KeySet>) -> Vec<Vec<u8>> {
    let reply = |id: &[u8], code: &str, text: &str, user: &str| {
        vec![
            b"1.0".to_vec(),
            id.to_vec(),
            code.as_bytes().to_vec(),
            text.as_bytes().to_vec(),
            user.as_bytes().to_vec(),
            Vec::new(),
        ]
    };
    let id = request.get(1).map(Vec::as_slice).unwrap_or_default();
    if request.len() < 6 || request[0] != b"1.0" {
        log::warn!("[AUTH] malformed ZAP request ({} frames)", request.len());
        return reply(id, "500", "Malformed request", "");
    }
    let address = String::from_utf8_lossy(&request[3]);
    match request[5].as_slice() {
        b"CURVE" => {
            let Some(key) = request
                .get(6)
                .and_then(|raw| <[u8; 32]>::try_from(raw.as_slice()).ok())
                .map(PublicKey)
            else {
                log::warn!("[AUTH] refused CURVE client from {address}: no key in the request");
                return reply(id, "400", "No key", "");
            };
            let known = keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key);
            if known {
                log::debug!("[AUTH] accepted {key} from {address}");
                reply(id, "200", "OK", &key.to_z85())
            } else {
                log::warn!("[AUTH] refused CURVE client from {address}: unknown key {key}");
                reply(id, "400", "Unknown key", "")
            }
        }
        b"NULL" => reply(id, "200", "OK", ""),
        other => {
            log::warn!(
                "[AUTH] refused {} client from {address}: mechanism not allowed",
                String::from_utf8_lossy(other)
            );
            reply(id, "400", "Mechanism not allowed", "")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::KeyPair;

    #[test]
    fn directory_loading_skips_bad_files_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        cert::write_pair(dir.path(), "good", &good, false).unwrap();
        cert::write_pair(dir.path(), "other", &other, false).unwrap();
        fs::remove_file(dir.path().join("other.key")).unwrap();
        fs::write(dir.path().join("broken.key"), "curve\n").unwrap();
        fs::create_dir(dir.path().join("sub.key")).unwrap();

        let (keys, errors) = load_authorized_dir(dir.path()).unwrap();
        assert_eq!(keys, KeySet::from_iter([good.public]));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("broken.key"));
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let err = load_authorized_dir(Path::new("/nonexistent/certs.d"))
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("/nonexistent/certs.d: "));
    }

    #[test]
    fn replies_follow_rfc_27() {
        let key = KeyPair::generate().unwrap().public;
        let keys = RwLock::new(KeySet::from_iter([key]));
        let request = |k: &[u8]| {
            vec![
                b"1.0".to_vec(),
                b"7".to_vec(),
                b"".to_vec(),
                b"127.0.0.1".to_vec(),
                b"worker1".to_vec(),
                b"CURVE".to_vec(),
                k.to_vec(),
            ]
        };
        let ok = answer(&request(&key.0), &keys);
        assert_eq!(ok[1], b"7");
        assert_eq!(ok[2], b"200");
        assert_eq!(ok[4], key.to_z85().as_bytes());
        let refused = answer(&request(&[1u8; 32]), &keys);
        assert_eq!(
            (refused[2].as_slice(), refused[3].as_slice()),
            (&b"400"[..], &b"Unknown key"[..])
        );
        assert_eq!(answer(&[b"2.0".to_vec()], &keys)[2], b"500");
    }
}
