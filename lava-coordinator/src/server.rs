//! The coordinator daemon's network side (`docs/coordinator.md`): LAVA's
//! plaintext protocol on TCP (one request per connection, 8 hex digits of
//! length + JSON body), and optionally our encrypted transport, a ZeroMQ
//! ROUTER socket with CURVE whose clients are authorised by their public
//! certificates.
//!
//! Every request is applied to one [`Coordinator`] under one lock, in the
//! order the lock is taken (LAVA's daemon is single-threaded, so that is
//! the order its clients can observe). Reading and writing sockets happens
//! outside the lock, one thread per connection, each with its own deadline:
//! a client that connects and sends nothing delays nobody (LAVA's B3).
//!
//! Long-poll: a request carrying `"block_ms": N` whose answer is `wait` is
//! held (up to N ms, capped by [`ServerConfig::max_block`]) and applied
//! again each time its group changes, so the answer goes out as soon as it
//! exists instead of after the client's next poll. LAVA's clients never
//! send `block_ms` and get LAVA's behaviour.
//!
//! With a state directory, each state change is appended to the journal
//! (`crate::journal`) before its reply is sent; compactions write and
//! fsync the snapshot outside the lock.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lava_proto::coordinator::{encode_frame, read_frame, DeadlineReader, FrameError, MAX_FRAME};
use serde_json::Value;

use crate::journal::{Journal, JournalError, Loaded, DEFAULT_COMPACT_BYTES};
use crate::state::{Coordinator, Settings, Stats};

/// Stack size of connection threads (they parse at most [`MAX_FRAME`]
/// bytes of JSON, whose nesting serde_json limits to 128 levels).
const THREAD_STACK: usize = 256 * 1024;

/// How often the main loop checks for a stop request.
const TICK: Duration = Duration::from_millis(100);

/// How long a stopping server waits for requests in hand.
const DRAIN: Duration = Duration::from_secs(5);

/// The server's settings. [`Default`] gives the documented defaults,
/// listening on `0.0.0.0:3079` like LAVA.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Plaintext addresses to bind (IPv4 or IPv6; `[::]` is dual-stack on
    /// Linux).
    pub listen: Vec<SocketAddr>,
    /// Connections being read or answered at once; more are closed at once
    /// with a warning. Held long-polls do not count (see `max_held`).
    pub max_connections: usize,
    /// Time allowed for a complete request frame, from accept.
    pub request_timeout: Duration,
    /// Cap on a request's `block_ms`.
    pub max_block: Duration,
    /// Requests held at once (long-poll); beyond, `wait` is answered at once.
    pub max_held: usize,
    /// How often idle groups are expired.
    pub expire_interval: Duration,
    /// Persistence directory.
    pub state_dir: Option<PathBuf>,
    /// Journal size that triggers a compaction.
    pub compact_bytes: u64,
    /// The CURVE listener.
    #[cfg(feature = "curve")]
    pub curve: Option<crate::config::CurveOptions>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: vec![SocketAddr::from((
                [0, 0, 0, 0],
                lava_proto::coordinator::DEFAULT_PORT,
            ))],
            max_connections: 256,
            request_timeout: Duration::from_secs(10),
            max_block: Duration::from_secs(30),
            max_held: 1024,
            expire_interval: Duration::from_secs(60),
            state_dir: None,
            compact_bytes: DEFAULT_COMPACT_BYTES,
            #[cfg(feature = "curve")]
            curve: None,
        }
    }
}

/// Errors of starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system error.
        source: io::Error,
    },
    /// No listen address at all.
    #[error("no address to listen on")]
    NoListener,
    /// The state directory could not be loaded.
    #[error("state directory: {0}")]
    State(#[from] JournalError),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(io::Error),
    /// The CURVE listener could not be set up.
    #[cfg(feature = "curve")]
    #[error("CURVE listener: {0}")]
    Curve(String),
}

/// What the server is doing, for tests, benchmarks and admins.
#[derive(Debug, Clone)]
pub struct ServerStats {
    /// The state machine's counters.
    pub coordinator: Stats,
    /// Connections being read or answered.
    pub connections: usize,
    /// Requests held (long-poll).
    pub held: usize,
    /// Connections refused because of `max_connections`.
    pub refused: u64,
    /// Frames refused (bad header, too long, not JSON, deadline).
    pub bad_frames: u64,
}

/// Waiters of one group: a change counter and the condition variable held
/// requests of the group sleep on (with the state's mutex).
struct GroupWaiters {
    generation: u64,
    condvar: Arc<Condvar>,
    count: usize,
}

struct State {
    coordinator: Coordinator,
    journal: Option<Journal>,
    waiters: HashMap<String, GroupWaiters>,
}

impl State {
    /// Apply one request: journal it if it changed the state, wake the
    /// group's held requests if `notify`.
    fn apply(
        &mut self,
        body: &Value,
        secure: bool,
        notify: bool,
    ) -> (Option<Value>, bool, Option<String>) {
        let now = unix_now();
        let handled = self.coordinator.handle(body, secure, now);
        if handled.mutated {
            if let Some(journal) = &mut self.journal {
                // A failed append is saved by the next compaction
                // (`Shared::compact_if_due`, after the lock is released).
                if let Err(e) = journal.append_request(now, secure, body) {
                    log::error!("state change not saved yet: {e}");
                }
            }
            if notify {
                if let Some(group) = &handled.group {
                    self.wake(group);
                }
            }
        }
        (handled.reply, handled.mutated, handled.group)
    }

    fn wake(&mut self, group: &str) {
        if let Some(waiters) = self.waiters.get_mut(group) {
            waiters.generation += 1;
            waiters.condvar.notify_all();
        }
    }

    fn expire(&mut self, now: u64) {
        let removed = self.coordinator.expire(now);
        if removed.is_empty() {
            return;
        }
        log::info!(
            "expired {} idle group(s): {}",
            removed.len(),
            removed.join(", ")
        );
        if let Some(journal) = &mut self.journal {
            if let Err(e) = journal.append_expire(now, &removed) {
                log::error!("state change not saved yet: {e}");
            }
        }
        for group in &removed {
            self.wake(group);
        }
    }
}

struct Shared {
    state: Mutex<State>,
    stop: Arc<AtomicBool>,
    connections: AtomicUsize,
    held: AtomicUsize,
    refused: AtomicU64,
    bad_frames: AtomicU64,
    last_refusal_warning: AtomicU64,
    /// Open plaintext connections (to cut their reads when stopping).
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    config: ServerConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves a usable state: requests are
        // applied one at a time and each either finished or did not start.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Apply a request, holding it while the answer is `wait` if it asks
    /// for that (`block_ms`) and `slot` allows it. Returns the reply (None:
    /// close without one).
    fn serve_request(
        &self,
        body: &Value,
        secure: bool,
        peer: &str,
        slot: Slot<'_, '_>,
    ) -> Option<Value> {
        // A slot reserved by the caller is given back however this ends.
        let mut held_slot = matches!(slot, Slot::Reserved).then(|| HeldSlot(&self.held));
        let block = body
            .get("block_ms")
            .and_then(Value::as_u64)
            .map(|ms| Duration::from_millis(ms).min(self.config.max_block))
            .filter(|d| !d.is_zero());
        let mut state = self.lock();
        let (mut reply, mutated, group) = state.apply(body, secure, true);
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("request from {peer}: {} -> {reply:?}", redacted(body));
        }
        let (Some(block), Some(group)) = (block, group) else {
            return reply;
        };
        if !is_wait(&reply) || self.stopping() {
            return reply;
        }
        match slot {
            Slot::Reserved => {}
            Slot::Never => return reply,
            Slot::Connection(connection) => {
                let Some(reserved) = self.reserve_held(peer) else {
                    return reply;
                };
                held_slot = Some(reserved);
                // A held request counts against max_held only: its
                // connection no longer uses a max_connections slot.
                connection.release();
            }
        }
        let deadline = Instant::now() + block;
        log::debug!(
            "holding request from {peer} (group {group}, up to {} ms)",
            block.as_millis()
        );
        let waiters = state
            .waiters
            .entry(group.clone())
            .or_insert_with(|| GroupWaiters {
                generation: 0,
                condvar: Arc::new(Condvar::new()),
                count: 0,
            });
        waiters.count += 1;
        let condvar = Arc::clone(&waiters.condvar);
        let mut seen = waiters.generation;
        // A request that changed the state and still waits (the last member
        // arriving at a LAVA-style barrier) is applied once more at once:
        // that is what the client's next poll would have done.
        let mut again = mutated;
        loop {
            if !again {
                loop {
                    let generation = state.waiters.get(&group).map_or(seen, |w| w.generation);
                    if generation != seen || self.stopping() {
                        break;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = condvar
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                let generation = state.waiters.get(&group).map_or(seen, |w| w.generation);
                if generation == seen {
                    break; // deadline or stop: answer the current wait
                }
                seen = generation;
            }
            again = false;
            // Re-applications that still answer `wait` wake nobody: two held
            // requests that each "change" the state without progress must
            // not wake each other for ever.
            let (next, _, _) = state.apply(body, secure, false);
            if !is_wait(&next) {
                if let Some(w) = state.waiters.get_mut(&group) {
                    // what this answer changed may release the others
                    w.generation += 1;
                    w.condvar.notify_all();
                }
                reply = next;
                log::debug!("held request from {peer} answered: {reply:?}");
                break;
            }
            reply = next;
        }
        if let Some(w) = state.waiters.get_mut(&group) {
            w.count -= 1;
            if w.count == 0 {
                state.waiters.remove(&group);
            }
        }
        drop(state);
        drop(held_slot);
        reply
    }

    /// Take one of the `max_held` slots, or warn and say no.
    fn reserve_held(&self, peer: &str) -> Option<HeldSlot<'_>> {
        if self.held.fetch_add(1, Ordering::SeqCst) >= self.config.max_held {
            self.held.fetch_sub(1, Ordering::SeqCst);
            log::warn!(
                "{peer}: {} requests already held, answering wait at once",
                self.config.max_held
            );
            return None;
        }
        Some(HeldSlot(&self.held))
    }

    /// Compact the journal when it is due: the state is taken under the
    /// lock, written and fsynced without it, and the journal lines it
    /// covers are dropped under the lock again (lines appended meanwhile
    /// have higher sequence numbers and stay).
    fn compact_if_due(&self) {
        let compaction = {
            let mut state = self.lock();
            let State {
                coordinator,
                journal,
                ..
            } = &mut *state;
            match journal {
                Some(journal) if journal.needs_compaction() => {
                    journal.begin_compaction(coordinator)
                }
                _ => None,
            }
        };
        let Some(compaction) = compaction else {
            return;
        };
        let written = compaction.write();
        let mut state = self.lock();
        if let Some(journal) = &mut state.journal {
            let unsaved = journal.unsaved();
            match journal.finish_compaction(compaction, written) {
                Ok(()) if unsaved > 0 && journal.unsaved() == 0 => {
                    log::info!("state saved in a snapshot after failed journal writes")
                }
                Ok(()) => {}
                Err(e) => log::error!("state snapshot not written: {e}"),
            }
        }
    }

    fn stats(&self) -> ServerStats {
        let coordinator = self.lock().coordinator.stats();
        ServerStats {
            coordinator,
            connections: self.connections.load(Ordering::SeqCst),
            held: self.held.load(Ordering::SeqCst),
            refused: self.refused.load(Ordering::SeqCst),
            bad_frames: self.bad_frames.load(Ordering::SeqCst),
        }
    }

    fn wake_everyone(&self) {
        let state = self.lock();
        for waiters in state.waiters.values() {
            waiters.condvar.notify_all();
        }
    }
}

/// Whether and how a request may be held (long-poll).
enum Slot<'a, 'b> {
    /// A plaintext connection: holding takes a `max_held` slot and gives
    /// back the connection's `max_connections` slot.
    Connection(&'a mut ConnectionSlot<'b>),
    /// The caller already took a `max_held` slot (a CURVE long-poll
    /// thread); it is given back when the request ends.
    Reserved,
    /// Never held (the CURVE loop itself).
    Never,
}

/// One `max_held` slot, given back on drop.
struct HeldSlot<'a>(&'a AtomicUsize);

impl Drop for HeldSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One `max_connections` slot, given back once: when the request becomes
/// held, or when the connection ends.
struct ConnectionSlot<'a> {
    counter: &'a AtomicUsize,
    taken: bool,
}

impl ConnectionSlot<'_> {
    fn release(&mut self) {
        if std::mem::take(&mut self.taken) {
            self.counter.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// The body for a log line: the member token replaced (secrets are never
/// logged).
fn redacted(body: &Value) -> Value {
    let mut copy = body.clone();
    if let Some(token) = copy.get_mut("token") {
        *token = Value::String("<redacted>".into());
    }
    copy
}

fn is_wait(reply: &Option<Value>) -> bool {
    reply
        .as_ref()
        .and_then(|r| r.get("response"))
        .and_then(Value::as_str)
        == Some("wait")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A bound, not yet running coordinator.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    #[cfg(feature = "curve")]
    curve: Option<curve::Listener>,
}

/// A cloneable handle on a server: stop it, read its counters.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Ask the server to stop (its `run` returns after the requests in hand).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }

    /// Counters of the state machine and of the server.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats()
    }
}

impl Server {
    /// Load the state directory (if configured), bind every listen address
    /// and the CURVE endpoint. Nothing is served until [`Server::run`].
    pub fn bind(config: ServerConfig, settings: Settings) -> Result<Server, ServerError> {
        if config.listen.is_empty() {
            #[cfg(feature = "curve")]
            let curve = config.curve.is_some();
            #[cfg(not(feature = "curve"))]
            let curve = false;
            if !curve {
                return Err(ServerError::NoListener);
            }
        }
        let (coordinator, journal) = match &config.state_dir {
            Some(dir) => {
                let (journal, mut coordinator, loaded) =
                    Journal::open(dir, settings, config.compact_bytes)?;
                let Loaded {
                    snapshot,
                    replayed,
                    torn,
                } = loaded;
                let stats = coordinator.stats();
                // Polls are not journaled: the restored idle clocks may be
                // too old, so every group gets a full group_ttl from now.
                coordinator.grace(unix_now());
                log::info!(
                    "state loaded from {} (snapshot: {}, journal entries replayed: {replayed}{}): {} group(s)",
                    dir.display(),
                    if snapshot { "yes" } else { "no" },
                    if torn { ", torn last entry dropped" } else { "" },
                    stats.groups,
                );
                (coordinator, Some(journal))
            }
            None => (Coordinator::new(settings), None),
        };
        let mut journal = journal;
        if let Some(j) = &mut journal {
            // the grace above, and a clean start for the journal
            j.compact(&coordinator)?;
        }
        let mut listeners = Vec::new();
        for addr in &config.listen {
            let listener = TcpListener::bind(addr).map_err(|source| ServerError::Bind {
                addr: *addr,
                source,
            })?;
            log::info!(
                "listening on {} (LAVA's plaintext protocol)",
                listener.local_addr().map_or(*addr, |a| a)
            );
            listeners.push(listener);
        }
        #[cfg(feature = "curve")]
        let curve = match &config.curve {
            Some(options) => Some(curve::Listener::bind(options)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                coordinator,
                journal,
                waiters: HashMap::new(),
            }),
            stop: Arc::new(AtomicBool::new(false)),
            connections: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            last_refusal_warning: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            config,
        });
        Ok(Server {
            shared,
            listeners,
            #[cfg(feature = "curve")]
            curve,
        })
    }

    /// The bound plaintext addresses (with the real port when 0 was asked).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// The bound CURVE endpoint (`tcp://IP:PORT`), if any.
    pub fn curve_endpoint(&self) -> Option<String> {
        #[cfg(feature = "curve")]
        {
            self.curve.as_ref().map(|c| c.endpoint.clone())
        }
        #[cfg(not(feature = "curve"))]
        {
            None
        }
    }

    /// The flag that stops [`Server::run`] when set (give it to a signal
    /// handler; the server notices within 100 ms).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shared.stop)
    }

    /// A handle to stop the server and read its counters.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serve until the stop flag is set, then stop accepting, cut
    /// connections that have not sent a full request, answer held requests
    /// `wait`, let requests in hand finish (up to 5 s) and return.
    pub fn run(self) -> Result<(), ServerError> {
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        let mut wake_addrs = Vec::new();
        for listener in self.listeners {
            let local = listener.local_addr().ok();
            wake_addrs.extend(local.map(wake_address));
            let shared = Arc::clone(&self.shared);
            let thread = std::thread::Builder::new()
                .name("coordinator-accept".into())
                .spawn(move || accept_loop(&shared, listener))
                .map_err(ServerError::Thread)?;
            threads.push(thread);
        }
        #[cfg(feature = "curve")]
        if let Some(curve) = self.curve {
            let shared = Arc::clone(&self.shared);
            let thread = std::thread::Builder::new()
                .name("coordinator-curve".into())
                .spawn(move || curve.run(&shared))
                .map_err(ServerError::Thread)?;
            threads.push(thread);
        }
        let shared = self.shared;
        let mut next_expiry = Instant::now() + shared.config.expire_interval;
        while !shared.stopping() {
            std::thread::sleep(TICK);
            if Instant::now() >= next_expiry {
                shared.lock().expire(unix_now());
                shared.compact_if_due();
                next_expiry = Instant::now() + shared.config.expire_interval;
            }
        }
        log::info!("stopping");
        // unblock accept() calls
        for addr in wake_addrs {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        for (_, stream) in shared
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            let _ = stream.shutdown(Shutdown::Read);
        }
        shared.wake_everyone();
        for thread in threads {
            let _ = thread.join();
        }
        let drained = Instant::now() + DRAIN;
        while (shared.connections.load(Ordering::SeqCst) > 0
            || shared.held.load(Ordering::SeqCst) > 0)
            && Instant::now() < drained
        {
            shared.wake_everyone();
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Run in a background thread (tests, benchmarks, embedding). The
    /// server stops when the returned value is dropped.
    pub fn spawn(self) -> Result<RunningServer, ServerError> {
        let handle = self.handle();
        let addrs = self.local_addrs();
        let curve = self.curve_endpoint();
        let thread = std::thread::Builder::new()
            .name("coordinator".into())
            .spawn(move || self.run())
            .map_err(ServerError::Thread)?;
        Ok(RunningServer {
            handle,
            addrs,
            curve,
            thread: Some(thread),
        })
    }
}

/// A server running in a background thread; dropping it stops it.
pub struct RunningServer {
    handle: ServerHandle,
    addrs: Vec<SocketAddr>,
    curve: Option<String>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// The bound plaintext addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The first plaintext address as `host:port` (for
    /// [`lava_proto::coordinator::exchange`]); `0.0.0.0`/`::` become loopback.
    pub fn address(&self) -> String {
        self.addrs
            .first()
            .map(|a| wake_address(*a).to_string())
            .unwrap_or_default()
    }

    /// The bound CURVE endpoint.
    pub fn curve_endpoint(&self) -> Option<&str> {
        self.curve.as_deref()
    }

    /// Counters of the state machine and of the server.
    pub fn stats(&self) -> ServerStats {
        self.handle.stats()
    }

    /// A handle on the server.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stop the server and wait for it.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ServerError> {
        self.handle.stop();
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Where to connect to reach a listener bound to `addr`.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.stopping() {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin
                log::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if shared.connections.fetch_add(1, Ordering::SeqCst) >= shared.config.max_connections {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            shared.refused.fetch_add(1, Ordering::SeqCst);
            warn_refusal(shared, peer);
            drop(stream);
            continue;
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        let thread_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("coordinator-conn".into())
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let mut slot = ConnectionSlot {
                    counter: &thread_shared.connections,
                    taken: true,
                };
                serve_connection(&thread_shared, stream, peer, &mut slot);
                thread_shared
                    .open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                drop(slot);
            });
        if let Err(e) = spawned {
            log::error!("cannot start a thread for {peer}: {e}");
            shared
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            shared.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Warn about refused connections at most once a second (with the count),
/// so a flood cannot fill the log.
fn warn_refusal(shared: &Shared, peer: SocketAddr) {
    let now = unix_now();
    let last = shared.last_refusal_warning.load(Ordering::SeqCst);
    if now != last
        && shared
            .last_refusal_warning
            .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        log::warn!(
            "connection from {peer} closed: {} connections already open (max_connections); {} refused so far",
            shared.config.max_connections,
            shared.refused.load(Ordering::SeqCst)
        );
    }
}

fn serve_connection(
    shared: &Shared,
    stream: TcpStream,
    peer: SocketAddr,
    slot: &mut ConnectionSlot<'_>,
) {
    let _ = stream.set_nodelay(true);
    let peer_text = peer.to_string();
    let mut reader = DeadlineReader::new(&stream, Instant::now() + shared.config.request_timeout);
    let body = match read_frame(&mut reader, MAX_FRAME) {
        Ok(Some(body)) => body,
        Ok(None) => {
            log::debug!("{peer}: closed without a request");
            return;
        }
        Err(e) => {
            if !shared.stopping() {
                shared.bad_frames.fetch_add(1, Ordering::SeqCst);
                match &e {
                    FrameError::Io(io) if io.kind() == io::ErrorKind::TimedOut => log::warn!(
                        "{peer}: no complete request within {:?}, connection closed",
                        shared.config.request_timeout
                    ),
                    _ => log::warn!(
                        "{peer}: malformed request, connection closed without reply: {e}"
                    ),
                }
            }
            return;
        }
    };
    // The request is read: a stopping server only shuts down the read
    // side, so the reply still goes out.
    let reply = shared.serve_request(&body, false, &peer_text, Slot::Connection(slot));
    // Before the reply: a client whose request made the journal due waits
    // for the snapshot (back-pressure); the others are not blocked.
    shared.compact_if_due();
    let Some(reply) = reply else {
        return;
    };
    let frame = encode_frame(&reply);
    let _ = stream.set_write_timeout(Some(shared.config.request_timeout));
    if let Err(e) = (&stream).write_all(&frame) {
        log::warn!("{peer}: reply not sent: {e}");
    }
}

#[cfg(feature = "curve")]
mod curve {
    //! The CURVE listener: a ZeroMQ ROUTER socket; one JSON body per
    //! message (REQ envelope), the reply likewise. Only clients whose
    //! public certificate is in the authorised directory get through the
    //! handshake (ZAP); every request is then `secure` (member tokens
    //! required whatever `auth` says).

    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};

    use lava_proto::auth::{self, Authenticator};
    use lava_proto::cert;
    use lava_proto::coordinator::{to_python_json, MAX_FRAME};
    use serde_json::Value;

    use super::{ServerError, Shared, Slot, THREAD_STACK};
    use crate::config::CurveOptions;

    pub(super) struct Listener {
        ctx: zmq::Context,
        router: zmq::Socket,
        pull: zmq::Socket,
        push: Arc<Mutex<zmq::Socket>>,
        auth: Authenticator,
        pub(super) endpoint: String,
    }

    impl Listener {
        pub(super) fn bind(options: &CurveOptions) -> Result<Listener, ServerError> {
            let fail = |what: String| ServerError::Curve(what);
            if zmq::has("curve") != Some(true) {
                return Err(fail("this libzmq was built without CURVE support".into()));
            }
            let pair = cert::load_pair(&options.cert).map_err(|e| fail(e.to_string()))?;
            let (keys, errors) = auth::load_authorized_dir(&options.clients_certs)
                .map_err(|e| fail(e.to_string()))?;
            for error in errors {
                log::warn!("[AUTH] certificate skipped: {error}");
            }
            if keys.is_empty() {
                log::warn!(
                    "[AUTH] no client certificate in {}: no CURVE client can connect",
                    options.clients_certs.display()
                );
            }
            let ctx = zmq::Context::new();
            let auth = Authenticator::start(&ctx, keys).map_err(|e| fail(e.to_string()))?;
            let zerr = |action: &'static str| {
                let bind = options.bind.clone();
                move |e: zmq::Error| ServerError::Curve(format!("{action} {bind}: {e}"))
            };
            let router = ctx
                .socket(zmq::ROUTER)
                .map_err(zerr("create a socket for"))?;
            router.set_linger(0).map_err(zerr("set options on"))?;
            router
                .set_maxmsgsize(MAX_FRAME as i64)
                .map_err(zerr("set options on"))?;
            router
                .set_ipv6(options.bind.contains('['))
                .map_err(zerr("set options on"))?;
            router
                .set_curve_server(true)
                .map_err(zerr("set CURVE keys on"))?;
            router
                .set_curve_secretkey(&pair.secret.0)
                .map_err(zerr("set CURVE keys on"))?;
            router.bind(&options.bind).map_err(zerr("bind"))?;
            let endpoint = router
                .get_last_endpoint()
                .ok()
                .and_then(Result::ok)
                .unwrap_or_else(|| options.bind.clone());
            let inproc = format!("inproc://lava-coordinator-replies-{:p}", &router);
            let pull = ctx.socket(zmq::PULL).map_err(zerr("create a socket for"))?;
            pull.bind(&inproc).map_err(zerr("bind"))?;
            let push = ctx.socket(zmq::PUSH).map_err(zerr("create a socket for"))?;
            push.connect(&inproc).map_err(zerr("connect"))?;
            log::info!(
                "listening on {endpoint} (CURVE, {} authorised client certificate(s))",
                auth.len()
            );
            Ok(Listener {
                ctx,
                router,
                pull,
                push: Arc::new(Mutex::new(push)),
                auth,
                endpoint,
            })
        }

        pub(super) fn run(self, shared: &Arc<Shared>) {
            let _keep = (&self.ctx, &self.auth);
            while !shared.stopping() {
                let mut items = [
                    self.router.as_poll_item(zmq::POLLIN),
                    self.pull.as_poll_item(zmq::POLLIN),
                ];
                if zmq::poll(&mut items, 100).is_err() {
                    continue;
                }
                let (request, reply) = (items[0].is_readable(), items[1].is_readable());
                if reply {
                    while let Ok(frames) = self.pull.recv_multipart(zmq::DONTWAIT) {
                        let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
                    }
                }
                if request {
                    while let Ok(Some(received)) = lava_proto::socket::try_recv(&self.router) {
                        self.request(shared, received);
                    }
                }
            }
            // Answer what held threads still send while stopping.
            while shared.held.load(Ordering::SeqCst) > 0 {
                if let Ok(frames) = self.pull.recv_multipart(zmq::DONTWAIT) {
                    let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
                } else {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            while let Ok(frames) = self.pull.recv_multipart(zmq::DONTWAIT) {
                let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
            }
        }

        fn request(&self, shared: &Arc<Shared>, received: lava_proto::socket::Received) {
            let peer = match &received.user_id {
                Some(key) => format!("CURVE client {key}"),
                None => format!("CURVE peer {}", received.peer()),
            };
            // REQ envelope: an empty delimiter, then the body
            let (envelope, body) = match received.frames.as_slice() {
                [delimiter, body] if delimiter.is_empty() => (vec![Vec::new()], body.clone()),
                [body] => (Vec::new(), body.clone()),
                _ => {
                    log::warn!(
                        "{peer}: malformed message ({} frames), ignored",
                        received.frames.len()
                    );
                    return;
                }
            };
            let mut head = vec![received.routing_id.clone()];
            head.extend(envelope);
            let authorised = received
                .user_id
                .as_deref()
                .is_some_and(|key| self.auth.is_authorized(key));
            if !authorised {
                log::warn!("{peer}: not an authorised CURVE client, ignored");
                return;
            }
            let value: Value = match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(e) => {
                    shared.bad_frames.fetch_add(1, Ordering::SeqCst);
                    log::warn!("{peer}: malformed request, answered with an empty reply: {e}");
                    let mut frames = head;
                    frames.push(Vec::new());
                    let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
                    return;
                }
            };
            let blocks = value.get("block_ms").and_then(Value::as_u64).unwrap_or(0) > 0;
            // A long-poll takes its max_held slot here, before any thread
            // is started; over the cap it is answered at once, inline.
            let reserved = blocks.then(|| shared.reserve_held(&peer)).flatten();
            if reserved.is_none() {
                let reply = shared.serve_request(&value, true, &peer, Slot::Never);
                shared.compact_if_due();
                let mut frames = head;
                frames.push(
                    reply
                        .map(|r| to_python_json(&r).into_bytes())
                        .unwrap_or_default(),
                );
                let _ = self.router.send_multipart(frames, zmq::DONTWAIT);
                return;
            }
            // Long-poll in a thread of its own; the reply comes back
            // through the inproc PUSH/PULL pair to this thread.
            // The slot now belongs to the thread (its serve_request gives
            // it back).
            std::mem::forget(reserved);
            let thread_shared = Arc::clone(shared);
            let push = Arc::clone(&self.push);
            let spawned = std::thread::Builder::new()
                .name("coordinator-curve-held".into())
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    let reply = thread_shared.serve_request(&value, true, &peer, Slot::Reserved);
                    thread_shared.compact_if_due();
                    let mut frames = head;
                    frames.push(
                        reply
                            .map(|r| to_python_json(&r).into_bytes())
                            .unwrap_or_default(),
                    );
                    let socket = push.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = socket.send_multipart(frames, 0);
                });
            if let Err(e) = spawned {
                shared.held.fetch_sub(1, Ordering::SeqCst);
                log::error!("cannot start a thread for a CURVE request: {e}");
            }
        }
    }
}
