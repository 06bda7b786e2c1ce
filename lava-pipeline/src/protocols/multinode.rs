//! `lava-multinode`: the coordinator client of a MultiNode sub-job
//! (docs/pipeline.md §12).
//!
//! - [`Multinode::from_definition`]: the protocol exists when the job's
//!   `protocols.lava-multinode` has a `target_group` (§12.1). The member
//!   token is taken out of the definition here, before anything can log,
//!   describe or copy it.
//! - [`Multinode::set_up`]: reads the coordinator configuration, then
//!   `group_data` until the whole group is there, then, for a delayed
//!   start, `lava_wait_all lava_start` (§12.2).
//! - [`Multinode::finalize`]: `clear_group`, exactly once per job, also
//!   after errors and cancel (§12.2).
//! - [`Multinode::call`]: one API call, polled until the coordinator
//!   answers something else than `wait`, under wall-clock deadlines
//!   (§12.3).
//! - [`Multinode::bridge`]: the test shell's side of the DUT helpers'
//!   markers (§12.4); [`Multinode::action_calls`]: the protocol calls of an
//!   action block (§12.5).

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use lava_proto::coordinator::{self as wire, CoordinatorConf, ExchangeError, FrameError};
use lava_proto::yaml::{Mapping, Value};
use serde_json::{Map, Value as Json};

use crate::action::RunContext;
use crate::cancel::{wait_readable, CancelToken};
use crate::connection::ShellSession;
use crate::error::{Error, ErrorKind};
use crate::job::scalar;
use crate::logger::Logger;
use crate::timeout::{parse_timeout, Deadline};

/// The protocol's name (its key under `protocols:`).
pub(crate) const NAME: &str = "lava-multinode";
/// The environment variable naming the coordinator configuration file.
pub const CONF_ENV: &str = "LAVA_COORDINATOR_CONF";
/// `group_data` and the other set-up calls (LAVA's
/// `LAVA_MULTINODE_SYSTEM_TIMEOUT`).
pub const SYSTEM_TIMEOUT: Duration = Duration::from_secs(90);
/// Test-shell calls when the protocol block has no `timeout`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the coordinator, per attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reading one reply, per attempt.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// `clear_group` at the end of the job.
const CLEAR_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest our coordinator may hold a `wait` (`block_ms`): below
/// [`READ_TIMEOUT`], and short enough that the loop sees the clock often.
const MAX_BLOCK: Duration = Duration::from_secs(20);

/// Our extension in the worker's dispatcher configuration
/// (`coordinator:`): where the conf file is, and values that override it.
#[derive(Debug, Clone, Default)]
struct Overrides {
    conf: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    poll_delay: Option<Duration>,
    system_timeout: Option<Duration>,
}

fn seconds(value: &Value, key: &str) -> Result<Duration, Error> {
    let invalid =
        || Error::configuration(format!("coordinator.{key} must be a number of seconds ≥ 0"));
    let n = match value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => return Err(invalid()),
    };
    if !(n.is_finite() && n >= 0.0) {
        return Err(invalid());
    }
    Ok(Duration::from_secs_f64(n))
}

impl Overrides {
    fn from_dispatcher(dispatcher: &Mapping) -> Result<Overrides, Error> {
        let Some(value) = dispatcher.get("coordinator") else {
            return Ok(Overrides::default());
        };
        let Some(map) = value.as_mapping() else {
            return Err(Error::configuration(
                "coordinator in the dispatcher configuration must be a mapping",
            ));
        };
        let mut o = Overrides::default();
        for (key, value) in map.iter() {
            let key = scalar(key);
            match key.as_str() {
                "conf" => o.conf = Some(PathBuf::from(scalar(value))),
                "host" => o.host = Some(scalar(value)),
                "port" => {
                    o.port = Some(
                        value
                            .as_i64()
                            .and_then(|p| u16::try_from(p).ok())
                            .ok_or_else(|| {
                                Error::configuration("coordinator.port must be a port number")
                            })?,
                    )
                }
                "poll_delay" => o.poll_delay = Some(seconds(value, "poll_delay")?),
                "system_timeout" => o.system_timeout = Some(seconds(value, "system_timeout")?),
                other => log::warn!(
                    "unknown key coordinator.{other} in the dispatcher configuration: ignored"
                ),
            }
        }
        Ok(o)
    }
}

/// How requests reach the coordinator.
enum Transport {
    /// LAVA's framing on TCP.
    Plain { address: String },
    /// Our encrypted transport (ZMQ CURVE).
    #[cfg(feature = "zmq-logger")]
    Curve {
        url: String,
        server: lava_proto::cert::PublicKey,
        own: lava_proto::cert::KeyPair,
    },
}

/// What set-up made: the transport and the fields every request starts
/// with.
struct Client {
    transport: Transport,
    /// For messages: `host:port` or the CURVE URL.
    address: String,
    /// `port, blocksize, poll_delay, host, hostname, client_name,
    /// group_name, role`, in that order (docs/pipeline.md §12.3).
    base: Map<String, Json>,
    poll_delay: Duration,
}

impl Client {
    /// Whether an exchange that failed after its connect still reached
    /// the coordinator: yes in plaintext (the connection was made), no
    /// over CURVE (ZeroMQ connects lazily, in the background: only a
    /// reply tells).
    fn delivers_on_connect(&self) -> bool {
        matches!(self.transport, Transport::Plain { .. })
    }

    fn exchange(&self, body: &Json, block: Duration) -> Result<Option<Json>, ExchangeError> {
        match &self.transport {
            Transport::Plain { address } => {
                let read = (block + Duration::from_secs(5)).min(READ_TIMEOUT);
                wire::exchange(address, body, CONNECT_TIMEOUT, read)
            }
            #[cfg(feature = "zmq-logger")]
            Transport::Curve { url, server, own } => {
                wire::exchange_curve(url, server, own, body, block + Duration::from_secs(5))
            }
        }
    }
}

#[derive(Default)]
struct State {
    client: Option<Arc<Client>>,
    /// `set_up` was entered: `finalize` has something to do.
    set_up: bool,
    /// A request reached the coordinator (we may be a registered member).
    reached: bool,
    /// `clear_group` was sent (or given up).
    cleared: bool,
}

/// Why a call ended without an answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The coordinator kept answering `wait` (or never answered) until
    /// the call's own timeout: `MultinodeTimeout`, or `Infrastructure`
    /// (`coordinator unreachable`) when no connection ever succeeded.
    Timeout(Error),
    /// Anything else (cancel, the action's deadline, a bad reply).
    Other(Error),
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Error {
        match e {
            CallError::Timeout(e) | CallError::Other(e) => e,
        }
    }
}

/// An answer other than `wait`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// `ack`, `nack`, `group_data`...
    pub response: String,
    /// The whole reply.
    pub body: Map<String, Json>,
}

impl Reply {
    fn is_nack(&self) -> bool {
        self.response == "nack"
    }
    /// `message` (an ack's payload).
    fn message(&self) -> Option<&Json> {
        self.body.get("message")
    }
}

/// The protocol of one sub-job. See the module documentation.
pub struct Multinode {
    group: String,
    role: String,
    group_size: u64,
    client_name: String,
    /// The protocol `timeout` (test-shell calls, delayed start).
    timeout: Option<Duration>,
    /// Delayed start: the role whose `lava_start` this sub-job waits for.
    expect_role: Option<String>,
    /// Every role with members (added by our master); unknown `waitrole`s
    /// are answered locally.
    role_names: Option<Vec<String>>,
    token: Option<String>,
    overrides: Overrides,
    state: Mutex<State>,
}

impl std::fmt::Debug for Multinode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multinode")
            .field("group", &self.group)
            .field("role", &self.role)
            .field("group_size", &self.group_size)
            .field("client_name", &self.client_name)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

fn text(block: &Mapping, key: &str) -> Result<String, Error> {
    match block.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Int(i)) => Ok(i.to_string()),
        Some(other) if !other.is_null() => Err(Error::job(format!(
            "protocols.{NAME}.{key} must be a string, not a {}",
            other.type_name()
        ))),
        _ => Err(Error::job(format!("protocols.{NAME}.{key} is missing"))),
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A JSON object from `(key, value)` pairs, in order.
fn object<const N: usize>(pairs: [(&str, Json); N]) -> Map<String, Json> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Pause until `until`, waking for a cancel.
fn pause(until: Instant, cancel: &CancelToken) -> Result<(), Error> {
    while Instant::now() < until {
        if wait_readable(cancel.fd(), Some(until), cancel)? {
            // readable but not stopped (a first cancel seen during
            // cleanup): nothing to wait on but the clock
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
        }
    }
    Ok(())
}

/// A value the DUT reads (`%s` of the Python dispatcher).
fn dut_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The longest reply line typed to a DUT helper, its line separator
/// included: a terminal in canonical mode keeps at most 4095 characters of
/// a line (Linux's N_TTY; the rest is dropped).
pub(crate) const MAX_TYPED_LINE: usize = 4095;

/// Whether `c` may be typed in a sender, key or value of a wait's answer
/// (docs/pipeline.md §12.4): letters, digits and `_ . - + , / : @ %`, so
/// that nothing is special to the terminal, to a shell that reads the line
/// instead of the helper (no blank, quote, backslash, `$`, backtick, `;`
/// `&` `|` `#` `*` `?` `[` `~` `!` `(`), or to the markers (`<`, `>`).
fn typable(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.-+,/:@%".contains(c)
}

/// Why a pair of a wait's answer is not typed to the DUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// Empty, or a character the DUT must not get (see [`typable`]; `:`
    /// and `=` in a sender, `=` in a key).
    Unsafe { sender: String, key: String },
    /// A value that is not a string, number, boolean or null.
    NotScalar { sender: String, key: String },
    /// The reply line would be longer than [`MAX_TYPED_LINE`].
    TooLong { sender: String, key: String },
}

impl Dropped {
    /// A job-log warning naming the sender and the key (quoted, escaped,
    /// cut), never the value.
    pub(crate) fn warning(&self) -> String {
        let name = |s: &str| {
            let cut: String = s.chars().take(64).collect();
            let more = if cut.len() < s.len() { "..." } else { "" };
            format!("{:?}{more}", cut)
        };
        let (sender, key, why) = match self {
            Dropped::Unsafe { sender, key } => (
                sender,
                key,
                "empty, or a blank, control, quote, shell or marker character in it",
            ),
            Dropped::NotScalar { sender, key } => (sender, key, "the value is a list or a map"),
            Dropped::TooLong { sender, key } => (
                sender,
                key,
                "the reply line would be longer than a terminal line (4095 bytes)",
            ),
        };
        format!(
            "MultiNode answer: not typed to the DUT: sender {} key {}: {why}",
            name(sender),
            name(key)
        )
    }
}

/// ` sender:key=value` for every sender and key of a wait's answer, in
/// the answer's order (docs/pipeline.md §12.4), with the pairs that are
/// not typed and why. `room`: bytes left on the line for the pairs. Only
/// pairs whose sender, key and value are non-empty and [`typable`] are
/// kept (`:` and `=` not in a sender, `=` not in a key: the helpers split
/// a word at its first `:` and then at its first `=`), and no more than
/// fit in `room` (the first that does not ends the line).
pub(crate) fn reply_pairs(message: Option<&Json>, room: usize) -> (String, Vec<Dropped>) {
    let mut out = String::new();
    let mut dropped = Vec::new();
    let mut full = false;
    let Some(Json::Object(senders)) = message else {
        return (out, dropped);
    };
    let word =
        |s: &str, also: &str| !s.is_empty() && s.chars().all(|c| typable(c) || also.contains(c));
    for (sender, data) in senders {
        let Json::Object(data) = data else { continue };
        for (key, value) in data {
            let (sender, key) = (sender.clone(), key.clone());
            if matches!(value, Json::Array(_) | Json::Object(_)) {
                dropped.push(Dropped::NotScalar { sender, key });
                continue;
            }
            let value = dut_text(value);
            if !word(&sender, "") || sender.contains(':') || !word(&key, ":") || !word(&value, "=")
            {
                dropped.push(Dropped::Unsafe { sender, key });
                continue;
            }
            let pair = format!(" {sender}:{key}={value}");
            if full || out.len() + pair.len() > room {
                // the typed pairs stay a prefix of the answer's
                full = true;
                dropped.push(Dropped::TooLong { sender, key });
                continue;
            }
            out.push_str(&pair);
        }
    }
    (out, dropped)
}

/// A marker printed by a DUT helper: `<LAVA_MULTI_NODE> <LAVA_NAME args>`.
pub(crate) fn parse_marker(line: &str) -> Option<(String, Vec<String>)> {
    static MARKER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = MARKER.get_or_init(|| {
        regex::Regex::new(r"<LAVA_MULTI_NODE> <LAVA_(\S+) ([^>]+)>").expect("constant regex")
    });
    let caps = re.captures(line)?;
    let name = caps.get(1)?.as_str().to_string();
    let args = caps
        .get(2)?
        .as_str()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Some((name, args))
}

/// `k=v` words split at `=`, kept only with exactly two parts (LAVA's
/// rule: `a=b=c` is dropped); values stay strings.
pub(crate) fn send_pairs(words: &[String]) -> Map<String, Json> {
    let mut data = Map::new();
    for word in words {
        let parts: Vec<&str> = word.split('=').collect();
        if let [key, value] = parts[..] {
            data.insert(key.to_string(), Json::String(value.to_string()));
        }
    }
    data
}

impl Multinode {
    /// The protocol of a job definition, when it has one. Takes the
    /// member token out of `definition` (it must never be logged,
    /// described or copied into the actions' parameters).
    pub(crate) fn from_definition(
        definition: &mut Mapping,
        job_id: &str,
        dispatcher: &Mapping,
    ) -> Result<Option<Multinode>, Error> {
        let Some(block) = definition
            .get_mut("protocols")
            .and_then(Value::as_mapping_mut)
            .and_then(|p| p.get_mut(NAME))
            .and_then(Value::as_mapping_mut)
        else {
            return Ok(None);
        };
        if !block.contains_key("target_group") {
            return Ok(None);
        }
        let token = block
            .remove("token")
            .map(|t| scalar(&t))
            .filter(|t| !t.is_empty());
        let block = block.clone();
        let group = text(&block, "target_group")?;
        let role = text(&block, "role")?;
        let group_size = match block.get("group_size") {
            Some(Value::Int(n)) if *n >= 1 => *n as u64,
            Some(Value::String(s)) if s.parse::<u64>().is_ok_and(|n| n >= 1) => {
                s.parse().unwrap_or(1)
            }
            _ => {
                return Err(Error::job(format!(
                    "protocols.{NAME}.group_size must be an integer ≥ 1"
                )))
            }
        };
        let timeout = block
            .get("timeout")
            .filter(|t| !t.is_null())
            .map(|t| {
                parse_timeout(t)
                    .map(|t| t.duration)
                    .map_err(|e| Error::job(format!("protocols.{NAME}.timeout: {e}")))
            })
            .transpose()?;
        let delayed = block.get("request").and_then(Value::as_str) == Some("lava-start");
        let expect_role = match (delayed, block.get("expect_role")) {
            (true, Some(expect)) => {
                let expect = scalar(expect);
                if expect == role {
                    return Err(Error::job(
                        "expect_role must not match the role declaring lava_start",
                    ));
                }
                Some(expect)
            }
            _ => None,
        };
        let role_names = block
            .get("role_names")
            .and_then(Value::as_sequence)
            .map(|names| names.iter().map(scalar).collect::<Vec<_>>());
        Ok(Some(Multinode {
            group,
            role,
            group_size,
            client_name: job_id.to_string(),
            timeout,
            expect_role,
            role_names,
            token,
            overrides: Overrides::from_dispatcher(dispatcher)?,
            state: Mutex::new(State::default()),
        }))
    }

    /// The timeout of test-shell calls: the protocol `timeout`, else 30 s.
    pub fn call_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_CALL_TIMEOUT)
    }

    fn system_timeout(&self) -> Duration {
        self.overrides.system_timeout.unwrap_or(SYSTEM_TIMEOUT)
    }

    /// The conf file: the dispatcher's `coordinator.conf`, else
    /// `$LAVA_COORDINATOR_CONF`, else LAVA's path.
    fn conf_path(&self) -> PathBuf {
        self.overrides
            .conf
            .clone()
            .or_else(|| std::env::var_os(CONF_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(CoordinatorConf::DEFAULT_PATH))
    }

    fn connect(&self) -> Result<Client, Error> {
        let path = self.conf_path();
        if !path.exists() {
            return Err(Error::infrastructure(format!(
                "Missing coordinator configuration: {} does not exist",
                path.display()
            )));
        }
        let mut conf = CoordinatorConf::load(&path).map_err(|e| {
            Error::configuration(format!(
                "Invalid coordinator configuration {}: {e}",
                path.display()
            ))
            .with_source(e)
        })?;
        if let Some(host) = &self.overrides.host {
            conf.coordinator_hostname = host.clone();
        }
        if let Some(port) = self.overrides.port {
            conf.port = port;
        }
        let poll_delay = self
            .overrides
            .poll_delay
            .unwrap_or(Duration::from_secs(conf.poll_delay));
        let base = object([
            ("port", Json::from(conf.port)),
            ("blocksize", Json::from(conf.blocksize)),
            ("poll_delay", Json::from(conf.poll_delay)),
            ("host", Json::from(conf.coordinator_hostname.clone())),
            ("hostname", Json::from(hostname())),
            ("client_name", Json::from(self.client_name.clone())),
            ("group_name", Json::from(self.group.clone())),
            ("role", Json::from(self.role.clone())),
        ]);
        let (transport, address) = match &conf.curve {
            None => {
                let address = conf.address();
                (
                    Transport::Plain {
                        address: address.clone(),
                    },
                    address,
                )
            }
            Some(curve) => self.curve(&conf, curve)?,
        };
        Ok(Client {
            transport,
            address,
            base,
            poll_delay,
        })
    }

    #[cfg(feature = "zmq-logger")]
    fn curve(
        &self,
        conf: &CoordinatorConf,
        curve: &wire::CurveConf,
    ) -> Result<(Transport, String), Error> {
        let server = lava_proto::cert::load_public(&curve.server_cert).map_err(|e| {
            Error::configuration(format!(
                "coordinator_cert {}: {e}",
                curve.server_cert.display()
            ))
        })?;
        let own = lava_proto::cert::load_pair(&curve.client_cert).map_err(|e| {
            Error::configuration(format!("client_cert {}: {e}", curve.client_cert.display()))
        })?;
        let url = conf
            .curve_url()
            .unwrap_or_else(|| format!("tcp://{}:{}", conf.coordinator_hostname, curve.port));
        Ok((
            Transport::Curve {
                url: url.clone(),
                server,
                own,
            },
            url,
        ))
    }

    #[cfg(not(feature = "zmq-logger"))]
    fn curve(
        &self,
        _conf: &CoordinatorConf,
        _curve: &wire::CurveConf,
    ) -> Result<(Transport, String), Error> {
        Err(Error::configuration(format!(
            "The coordinator configuration {} asks for encryption, but this lava-run is built without lava-pipeline's zmq-logger feature",
            self.conf_path().display()
        )))
    }

    fn client(&self) -> Result<Arc<Client>, Error> {
        lock(&self.state)
            .client
            .clone()
            .ok_or_else(|| Error::bug("lava-multinode: a call before the protocol was set up"))
    }

    /// Set up (docs/pipeline.md §12.2): read the conf, wait for the whole
    /// group (`group_data`), then for a delayed start wait for the
    /// expected role's `lava_start`. Under the job's deadline too.
    pub(crate) fn set_up(
        &self,
        logger: &Logger,
        cancel: &CancelToken,
        job: &Deadline,
    ) -> Result<(), Error> {
        if let Some(token) = &self.token {
            logger.redact(token);
        }
        lock(&self.state).set_up = true;
        let client = Arc::new(self.connect()?);
        logger.info(format!(
            "{NAME}: group {} of {} member{}, role {}, coordinator {}",
            self.group,
            self.group_size,
            if self.group_size == 1 { "" } else { "s" },
            self.role,
            client.address
        ));
        lock(&self.state).client = Some(client);
        // a delayed start waits as long as the job says (docs/pipeline.md §12.2)
        let system = match (&self.expect_role, self.timeout) {
            (Some(_), Some(t)) => t,
            _ => self.system_timeout(),
        };
        logger.debug(format!("Initialising group {}", self.group));
        let reply = self.call(
            logger,
            cancel,
            object([
                ("request", "group_data".into()),
                ("group_size", self.group_size.into()),
            ]),
            system,
            Some(job),
        )?;
        match reply.response.as_str() {
            "group_data" => {
                logger.debug(format!(
                    "{NAME}: the group is complete: {}",
                    reply
                        .body
                        .get("roles")
                        .map(Json::to_string)
                        .unwrap_or_default()
                ));
            }
            "nack" => {
                return Err(Error::job(format!(
                    "The coordinator refused this job in group {} (group_data: nack)",
                    self.group
                )))
            }
            other => {
                return Err(Error::job(format!(
                    "Unexpected answer '{other}' of the coordinator to group_data"
                )))
            }
        }
        if let Some(expect) = &self.expect_role {
            logger.info(format!(
                "{NAME} protocol initialised - start is delayed by up to {} seconds",
                system.as_secs()
            ));
            let reply = self.call(
                logger,
                cancel,
                object([
                    ("request", "lava_wait_all".into()),
                    ("waitrole", expect.as_str().into()),
                    ("messageID", "lava_start".into()),
                ]),
                system,
                Some(job),
            )?;
            if reply.is_nack() {
                return Err(Error::job(format!(
                    "The coordinator refused the delayed start (lava_wait_all lava_start {expect}: nack)"
                )));
            }
            logger.info(format!("{NAME}: role {expect} sent lava_start"));
        } else {
            logger.debug(format!("{NAME} protocol initialised"));
        }
        Ok(())
    }

    /// Finalise (docs/pipeline.md §12.2): `clear_group`, once, bounded to
    /// 30 s; failures are logged, never raised. Nothing is sent when
    /// set-up never ran or never reached the coordinator (this job is
    /// then no member of the group).
    pub(crate) fn finalize(&self, logger: &Logger, cancel: &CancelToken) {
        {
            let mut state = lock(&self.state);
            if !state.set_up || state.cleared {
                return;
            }
            state.cleared = true;
            if state.client.is_none() || !state.reached {
                logger.debug(format!(
                    "{NAME}: the coordinator was never reached: nothing to clear"
                ));
                return;
            }
        }
        let outcome = self.call(
            logger,
            cancel,
            object([
                ("request", "clear_group".into()),
                ("group_size", self.group_size.into()),
            ]),
            CLEAR_TIMEOUT,
            None,
        );
        match outcome {
            Ok(reply) if reply.response == "ack" => {
                logger.debug(format!("{NAME} protocol finalised."))
            }
            Ok(reply) => logger.warning(format!("{NAME}: clear_group answered {}", reply.response)),
            Err(e) => logger.warning(format!(
                "{NAME}: clear_group failed: {}",
                Error::from(e).message
            )),
        }
    }

    /// One API call (docs/pipeline.md §12.3): the base fields, then
    /// `request`'s, then `token` and `block_ms`; polled until the answer
    /// is not `wait`, for at most `timeout` and never past `parent`.
    pub(crate) fn call(
        &self,
        logger: &Logger,
        cancel: &CancelToken,
        request: Map<String, Json>,
        timeout: Duration,
        parent: Option<&Deadline>,
    ) -> Result<Reply, CallError> {
        let client = self.client().map_err(CallError::Other)?;
        let name = request.get("request").map(dut_text).unwrap_or_default();
        let id = request.get("messageID").map(dut_text);
        let what = match &id {
            Some(id) => format!("{name} '{id}'"),
            None => name.clone(),
        };
        let mut body = client.base.clone();
        body.extend(request);
        if let Some(token) = &self.token {
            body.insert("token".into(), token.as_str().into());
        }
        // our coordinator may hold a `wait` this long (LAVA's ignores it)
        body.insert("block_ms".into(), Json::from(MAX_BLOCK.as_millis() as u64));
        let length = wire::to_python_json(&Json::Object(body.clone())).len();
        if length > wire::MAX_REQUEST {
            return Err(CallError::Other(Error::job(format!(
                "Message was too long to send! ({what}: {length} bytes, at most {})",
                wire::MAX_REQUEST
            ))));
        }
        let started = Instant::now();
        let own = started + timeout;
        let (until, parent_first) = match parent.and_then(|p| p.at) {
            Some(at) if at < own => (at, true),
            _ => (own, false),
        };
        logger.debug(format!(
            "{NAME}: {what} to {} (timeout {}s)",
            client.address,
            timeout.as_secs()
        ));
        let mut reached = false;
        let mut last_error: Option<String> = None;
        let mut backoff = client.poll_delay.max(Duration::from_millis(100));
        let mut waits = 0u64;
        loop {
            cancel.check().map_err(CallError::Other)?;
            let now = Instant::now();
            if now >= until {
                if parent_first {
                    if let Some(parent) = parent {
                        return Err(CallError::Other(parent.error()));
                    }
                }
                // `reached`: the coordinator answered (wait or no frame)
                let message = if reached {
                    format!(
                        "{what} timed out after {} seconds: the coordinator at {} still answers wait",
                        timeout.as_secs(),
                        client.address
                    )
                } else {
                    format!(
                        "coordinator unreachable at {} ({what}, {} seconds): {}",
                        client.address,
                        timeout.as_secs(),
                        last_error.as_deref().unwrap_or("no answer")
                    )
                };
                let mut error = if reached {
                    Error::new(ErrorKind::MultinodeTimeout, message)
                } else {
                    Error::infrastructure(message)
                };
                if reached {
                    error.expired = Some(NAME.to_string());
                }
                return Err(CallError::Timeout(error));
            }
            let block = (until - now).min(MAX_BLOCK);
            body.insert("block_ms".into(), Json::from(block.as_millis() as u64));
            let attempt = Instant::now();
            let outcome = exchange_cancelable(&client, &body, block, cancel)?;
            let took = attempt.elapsed();
            let mut pause_for = client.poll_delay.saturating_sub(took);
            match outcome {
                Ok(Some(reply)) => {
                    reached = true;
                    self.reached();
                    let Json::Object(reply) = reply else {
                        return Err(CallError::Other(Error::infrastructure(format!(
                            "Invalid reply of the coordinator at {} to {what}: not a JSON object",
                            client.address
                        ))));
                    };
                    let Some(response) = reply.get("response").and_then(Json::as_str) else {
                        return Err(CallError::Other(Error::infrastructure(format!(
                            "Invalid reply of the coordinator at {} to {what}: no response",
                            client.address
                        ))));
                    };
                    if response != "wait" {
                        logger.debug(format!("{NAME}: {what}: {response}"));
                        return Ok(Reply {
                            response: response.to_string(),
                            body: reply.clone(),
                        });
                    }
                    waits += 1;
                    if waits % 10 == 1 {
                        logger.debug(format!(
                            "{NAME}: {what}: wait ({}s of {}s)",
                            started.elapsed().as_secs(),
                            timeout.as_secs()
                        ));
                    }
                }
                Ok(None) => {
                    reached = true;
                    self.reached();
                    logger.debug(format!(
                        "{NAME}: empty reply from {} to {what}: taken as wait",
                        client.address
                    ));
                }
                Err(ExchangeError::Connect { source, .. }) => {
                    if last_error.is_none() {
                        logger.warning(format!(
                            "{NAME}: cannot connect to the coordinator at {}: {source}; retrying",
                            client.address
                        ));
                    }
                    last_error = Some(source.to_string());
                    pause_for = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(ExchangeError::Frame {
                    source: source @ (FrameError::Json(_) | FrameError::Header(_)),
                    ..
                }) => {
                    self.reached();
                    return Err(CallError::Other(Error::infrastructure(format!(
                        "Invalid reply of the coordinator at {} to {what}: {source}",
                        client.address
                    ))));
                }
                Err(ExchangeError::TooLong { length }) => {
                    return Err(CallError::Other(Error::job(format!(
                        "Message was too long to send! ({what}: {length} bytes)"
                    ))));
                }
                Err(other) => {
                    // no answer: retried; unreachable if it never answers.
                    // In plaintext the connection was made, so the request
                    // may have registered this job (clear_group is due).
                    // Over CURVE a connect never fails and nothing says a
                    // coordinator is there: reached only by a reply.
                    if client.delivers_on_connect() {
                        self.reached();
                    }
                    logger.warning(format!(
                        "{NAME}: {what} to {}: {other}; retrying",
                        client.address
                    ));
                    last_error = Some(other.to_string());
                }
            }
            let wake = (Instant::now() + pause_for).min(until);
            pause(wake, cancel).map_err(CallError::Other)?;
        }
    }

    fn reached(&self) {
        lock(&self.state).reached = true;
    }

    /// The test shell's side of a DUT helper's marker (docs/pipeline.md
    /// §12.4): the call, the reply typed back, the test case. Returns the
    /// test case to record (`multinode-<api>-<id>`, `pass` or `fail`).
    pub(crate) fn bridge(
        &self,
        session: &mut ShellSession,
        ctx: &RunContext<'_>,
        api: &str,
        args: &[String],
    ) -> Result<Option<(String, &'static str)>, Error> {
        let logger = ctx.logger;
        if api.ends_with("_DEBUG") {
            return Ok(None);
        }
        let arity = match api {
            "SEND" => 1..=usize::MAX,
            "WAIT" | "SYNC" => 1..=1,
            "WAIT_ALL" => 1..=2,
            _ => {
                logger.warning(format!(
                    "Unknown MultiNode API <LAVA_{api}> ignored: {}",
                    args.join(" ")
                ));
                return Ok(None);
            }
        };
        if !arity.contains(&args.len()) {
            return Err(Error::test(format!(
                "Invalid MultiNode call <LAVA_{api} {}>: wrong number of arguments",
                args.join(" ")
            )));
        }
        logger.debug(format!("Received Multi_Node API <LAVA_{api}>"));
        let id = args[0].clone();
        let case = format!("multinode-{api}-{id}").to_lowercase();
        let request = match api {
            "SEND" => object([
                ("request", "lava_send".into()),
                ("messageID", id.as_str().into()),
                ("message", Json::Object(send_pairs(&args[1..]))),
            ]),
            "WAIT" => object([
                ("request", "lava_wait".into()),
                ("messageID", id.as_str().into()),
                ("nodeID", self.client_name.as_str().into()),
            ]),
            "WAIT_ALL" => {
                let mut request = object([
                    ("request", "lava_wait_all".into()),
                    ("messageID", id.as_str().into()),
                ]);
                if let Some(role) = args.get(1) {
                    if let Some(names) = &self.role_names {
                        if !names.contains(role) {
                            logger.warning(format!(
                                "lava-wait-all {id} {role}: no role {role} in this group ({}): answered nack",
                                names.join(", ")
                            ));
                            self.type_reply(session, ctx, api, " nack")?;
                            return Ok(Some((case, "pass")));
                        }
                    }
                    request.insert("waitrole".into(), role.as_str().into());
                }
                request
            }
            _ => object([
                ("request", "lava_sync".into()),
                ("messageID", id.as_str().into()),
            ]),
        };
        let reply = match self.call(
            logger,
            ctx.cancel,
            request,
            self.call_timeout(),
            Some(&ctx.deadline),
        ) {
            Ok(reply) => reply,
            Err(CallError::Timeout(e)) => {
                logger.warning(format!(
                    "Sync error in multinode signal: {} {api}",
                    e.message
                ));
                if api != "SEND" {
                    // our fix of LAVA's silence: the helper exits 1
                    self.type_reply(session, ctx, api, " nack")?;
                }
                return Ok(Some((case, "fail")));
            }
            Err(CallError::Other(e)) => return Err(e),
        };
        if api == "SEND" {
            if reply.is_nack() {
                return Err(Error::test("Coordinator was unable to accept LAVA_SEND"));
            }
            return Ok(Some((case, "pass")));
        }
        let body = if reply.is_nack() {
            " nack".to_string()
        } else if api == "SYNC" {
            String::new()
        } else {
            let frame = format!("<LAVA_{api}_COMPLETE>").len() + session.line_separator.len();
            let (body, dropped) =
                reply_pairs(reply.message(), MAX_TYPED_LINE.saturating_sub(frame));
            for d in &dropped {
                logger.warning(d.warning());
            }
            body
        };
        self.type_reply(session, ctx, api, &body)?;
        Ok(Some((case, "pass")))
    }

    fn type_reply(
        &self,
        session: &mut ShellSession,
        ctx: &RunContext<'_>,
        api: &str,
        body: &str,
    ) -> Result<(), Error> {
        let delay = ctx.node.character_delay;
        session.sendline(&format!("<LAVA_{api}_COMPLETE{body}>"), delay, ctx.cancel)?;
        session.sendline("\n", delay, ctx.cancel)
    }

    /// The protocol calls of the running action's block
    /// (docs/pipeline.md §12.5): `protocols: {lava-multinode: [{action,
    /// request, messageID, message, timeout, poll_delay}]}` entries whose
    /// `action` is this action's name.
    pub(crate) fn action_calls(&self, ctx: &mut RunContext<'_>) -> Result<(), Error> {
        let calls: Vec<Mapping> = match ctx.node.block.get("protocols").and_then(|p| p.get(NAME)) {
            Some(Value::Sequence(calls)) => calls
                .iter()
                .filter_map(Value::as_mapping)
                .filter(|c| c.get("action").map(scalar).as_deref() == Some(ctx.node.name.as_str()))
                .cloned()
                .collect(),
            _ => return Ok(()),
        };
        for call in calls {
            ctx.logger.info(format!(
                "Making protocol call for {} using {NAME}",
                ctx.node.name
            ));
            self.action_call(ctx, &call)?;
        }
        Ok(())
    }

    fn action_call(&self, ctx: &mut RunContext<'_>, call: &Mapping) -> Result<(), Error> {
        let request = call
            .get("request")
            .map(scalar)
            .ok_or_else(|| {
                Error::job(format!("{NAME} call of {}: missing request", ctx.node.name))
            })?
            .replace('-', "_");
        let id = call
            .get("messageID")
            .map(scalar)
            .ok_or_else(|| Error::job("Missing messageID"))?;
        let timeout = match call.get("timeout") {
            None | Some(Value::Null) => self.call_timeout(),
            Some(Value::Int(n)) if *n >= 0 => Duration::from_secs(*n as u64),
            Some(Value::Float(f)) if f.is_finite() && *f >= 0.0 => Duration::from_secs_f64(*f),
            Some(t) => parse_timeout(t)
                .map(|t| t.duration)
                .map_err(|e| Error::job(format!("Invalid timeout request: {e}")))?,
        };
        let message = call
            .get("message")
            .filter(|m| !m.is_null())
            .map(|m| {
                serde_json::to_value(m).map_err(|e| Error::job(format!("Invalid message: {e}")))
            })
            .transpose()?;
        let body = match request.as_str() {
            "lava_send" | "lava_start" => {
                let message = match message.clone() {
                    None => Json::Object(Map::new()),
                    Some(Json::Object(m)) => Json::Object(m),
                    Some(other) => {
                        let mut m = Map::new();
                        m.insert(dut_text(&other), Json::Null);
                        Json::Object(m)
                    }
                };
                let id = if request == "lava_start" {
                    "lava_start".to_string()
                } else {
                    id.clone()
                };
                object([
                    ("request", "lava_send".into()),
                    ("messageID", id.into()),
                    ("message", message),
                ])
            }
            "lava_wait" => object([
                ("request", "lava_wait".into()),
                ("messageID", id.as_str().into()),
                ("nodeID", self.client_name.as_str().into()),
            ]),
            "lava_wait_all" => {
                let mut body = object([
                    ("request", "lava_wait_all".into()),
                    ("messageID", id.as_str().into()),
                ]);
                if let Some(role) = call.get("role").filter(|r| !r.is_null()) {
                    body.insert("waitrole".into(), scalar(role).into());
                }
                body
            }
            "lava_sync" => object([
                ("request", "lava_sync".into()),
                ("messageID", id.as_str().into()),
            ]),
            other => return Err(Error::job(format!("Unsupported api call: {other}"))),
        };
        let reply = self.call(ctx.logger, ctx.cancel, body, timeout, Some(&ctx.deadline))?;
        if reply.is_nack() {
            return Err(Error::job(format!(
                "The coordinator refused {request} '{id}' (nack)"
            )));
        }
        // collate: every `$placeholder` key of the message, from the
        // first sender (others before this job) that sent it
        let placeholders: Vec<String> = match call.get("message") {
            Some(Value::Mapping(m)) => m
                .iter()
                .filter(|(_, v)| v.as_str().is_some_and(|s| s.starts_with('$')))
                .map(|(k, _)| scalar(k))
                .collect(),
            _ => Vec::new(),
        };
        if placeholders.is_empty() || !matches!(request.as_str(), "lava_wait" | "lava_wait_all") {
            return Ok(());
        }
        let Some(Json::Object(senders)) = reply.message() else {
            return Err(Error::job(format!(
                "Unable to identify replaceable values in the parameters: {}",
                placeholders.join(", ")
            )));
        };
        let mut ordered: Vec<(&String, &Json)> = senders
            .iter()
            .filter(|(s, _)| **s != self.client_name)
            .collect();
        ordered.extend(senders.iter().filter(|(s, _)| **s == self.client_name));
        let mut collated = Mapping::new();
        for key in &placeholders {
            let found = ordered
                .iter()
                .find_map(|(_, data)| data.as_object().and_then(|d| d.get(key)));
            match found {
                Some(value) => {
                    let value: Value = serde_json::from_value(value.clone())
                        .unwrap_or_else(|_| Value::from(dut_text(value)));
                    collated.insert(key.as_str(), value);
                }
                None => ctx
                    .logger
                    .warning(format!("Skipping {key} - not found in the reply")),
            }
        }
        if collated.is_empty() {
            return Err(Error::job(format!(
                "Unable to identify replaceable values in the parameters: {}",
                placeholders.join(", ")
            )));
        }
        ctx.logger.info(format!(
            "Setting namespace data key {id} to {}",
            lava_proto::yaml::to_flow_line(&Value::Mapping(collated.clone()))
        ));
        ctx.set(NAME, NAME, &id, Value::Mapping(collated));
        Ok(())
    }
}

/// One exchange on a helper thread, so that a cancel does not wait for a
/// held `wait` (the thread ends by itself within the read timeout).
fn exchange_cancelable(
    client: &Arc<Client>,
    body: &Map<String, Json>,
    block: Duration,
    cancel: &CancelToken,
) -> Result<Result<Option<Json>, ExchangeError>, CallError> {
    let (tx, rx) = mpsc::channel();
    let client = Arc::clone(client);
    let body = Json::Object(body.clone());
    std::thread::Builder::new()
        .name("lava-multinode".into())
        .spawn(move || {
            let _ = tx.send(client.exchange(&body, block));
        })
        .map_err(|e| {
            CallError::Other(Error::infrastructure(format!("cannot start a thread: {e}")))
        })?;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(outcome) => return Ok(outcome),
            Err(mpsc::RecvTimeoutError::Timeout) => cancel.check().map_err(CallError::Other)?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(CallError::Other(Error::bug(
                    "the coordinator exchange thread ended without an answer",
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_parsed_as_lava_does() {
        assert_eq!(
            parse_marker("<LAVA_MULTI_NODE> <LAVA_SEND ipv4 ip=10.0.0.5 a=b=c >"),
            Some((
                "SEND".into(),
                vec!["ipv4".into(), "ip=10.0.0.5".into(), "a=b=c".into()]
            ))
        );
        assert_eq!(
            parse_marker("noise <LAVA_MULTI_NODE> <LAVA_WAIT_ALL done server>\r"),
            Some(("WAIT_ALL".into(), vec!["done".into(), "server".into()]))
        );
        assert_eq!(
            parse_marker("<LAVA_SEND_DEBUG lava_send started Mon>"),
            None
        );
        assert_eq!(parse_marker("<LAVA_WAIT_COMPLETE 1:a=b>"), None);
        let pairs = send_pairs(&[
            "ip=10.0.0.5".into(),
            "a=b=c".into(),
            "x".into(),
            "k=".into(),
        ]);
        assert_eq!(
            Json::Object(pairs).to_string(),
            r#"{"ip":"10.0.0.5","k":""}"#
        );
    }

    #[test]
    fn wait_replies_are_typed_sender_by_sender() {
        let message: Json = serde_json::from_str(
            r#"{"1234": {"ip": "10.0.0.5", "n": 3}, "1235": {}, "1236": null}"#,
        )
        .unwrap();
        assert_eq!(
            reply_pairs(Some(&message), MAX_TYPED_LINE),
            (" 1234:ip=10.0.0.5 1234:n=3".to_string(), vec![])
        );
        assert_eq!(reply_pairs(None, MAX_TYPED_LINE), (String::new(), vec![]));
    }

    /// Peers' text is typed only when nothing in it is special to the
    /// terminal, a shell, the helpers' `sender:key=value` split or the
    /// markers; the rest is dropped, named by sender and key.
    #[test]
    fn only_harmless_pairs_are_typed() {
        let message = serde_json::json!({
            "12": {
                "ip": "10.0.0.5",
                "ipv6": "fe80::1",
                "mac": "52:54:00:12:34:56",
                "url": "http://host:80/a-b_c.d?x",
                "opts": "a=b=c",
                "n": -1.5,
                "ok": true,
                "none": null,
                "newline": "1\nreboot -f\n",
                "cr": "1\rreboot",
                "space": "a nack",
                "tab": "a\tb",
                "marker": "<LAVA_MULTI_NODE> <LAVA_SEND evil ip=6.6.6.6",
                "signal": "x><LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x RESULT=pass>",
                "dollar": "$(reboot)",
                "backtick": "`reboot`",
                "quote": "a'b",
                "dquote": "a\"b",
                "backslash": "a\\b",
                "semicolon": "a;reboot",
                "amp": "a&&reboot",
                "pipe": "a|reboot",
                "hash": "a#",
                "glob": "*",
                "tilde": "~root",
                "bang": "!!",
                "paren": "(a)",
                "esc": "a\u{1b}[2J",
                "ctrl-c": "\u{3}",
                "del": "a\u{7f}",
                "utf8": "caf\u{e9}",
                "empty": "",
                "list": [1, 2],
                "map": {"a": 1},
                "": "no key",
                "k=v": "key with =",
                "k y": "key with a blank",
                "a:b": "key-with-colon",
            },
            "1 3": {"ip": "1.2.3.4"},
            "13:x": {"ip": "1.2.3.4"},
            "14=": {"ip": "1.2.3.4"},
            "": {"ip": "1.2.3.4"},
            "15\n": {"ip": "1.2.3.4"},
            "16.1": {"ip": "1.2.3.4"},
        });
        let (typed, dropped) = reply_pairs(Some(&message), MAX_TYPED_LINE);
        assert_eq!(
            typed,
            " 12:ip=10.0.0.5 12:ipv6=fe80::1 12:mac=52:54:00:12:34:56 \
             12:opts=a=b=c 12:n=-1.5 12:ok=True 12:none=None \
             12:a:b=key-with-colon 16.1:ip=1.2.3.4"
        );
        let names: Vec<(&str, &str)> = dropped
            .iter()
            .map(|d| match d {
                Dropped::Unsafe { sender, key }
                | Dropped::NotScalar { sender, key }
                | Dropped::TooLong { sender, key } => (sender.as_str(), key.as_str()),
            })
            .collect();
        for key in [
            "url",
            "newline",
            "cr",
            "space",
            "tab",
            "marker",
            "signal",
            "dollar",
            "backtick",
            "quote",
            "dquote",
            "backslash",
            "semicolon",
            "amp",
            "pipe",
            "hash",
            "glob",
            "tilde",
            "bang",
            "paren",
            "esc",
            "ctrl-c",
            "del",
            "utf8",
            "empty",
            "list",
            "map",
            "",
            "k=v",
            "k y",
        ] {
            assert!(names.contains(&("12", key)), "{key}: {names:?}");
        }
        for sender in ["1 3", "13:x", "14=", "", "15\n"] {
            assert!(names.contains(&(sender, "ip")), "{sender:?}: {names:?}");
        }
        assert_eq!(names.len(), 35, "{names:?}");
        assert!(dropped.contains(&Dropped::NotScalar {
            sender: "12".into(),
            key: "list".into()
        }));
        // warnings name the sender and the key, escaped, never the value
        let warning = dropped
            .iter()
            .find(|d| matches!(d, Dropped::Unsafe { key, .. } if key == "newline"))
            .unwrap()
            .warning();
        assert!(
            warning.contains("sender \"12\" key \"newline\""),
            "{warning}"
        );
        assert!(!warning.contains("reboot"), "{warning}");
        let escaped = Dropped::Unsafe {
            sender: "15\n".into(),
            key: "k".repeat(100),
        }
        .warning();
        assert!(!escaped.contains('\n'), "{escaped}");
        assert!(
            escaped.contains(&format!("\"{}\"...", "k".repeat(64))),
            "{escaped}"
        );
    }

    /// The typed line stays within a terminal line: pairs that do not fit
    /// are dropped, from the first one that does not fit on.
    #[test]
    fn the_typed_line_fits_a_terminal_line() {
        let mut data = Map::new();
        for i in 0..300 {
            data.insert(format!("key{i:03}"), Json::from("v".repeat(20)));
        }
        data.insert("z".into(), Json::from("short"));
        let message = serde_json::json!({ "1234": data });
        let room = MAX_TYPED_LINE - "<LAVA_WAIT_ALL_COMPLETE>\n".len();
        let (typed, dropped) = reply_pairs(Some(&message), room);
        assert!(typed.len() <= room, "{}", typed.len());
        let pair = " 1234:key000=".len() + 20;
        assert_eq!(typed.len(), room / pair * pair);
        assert_eq!(dropped.len(), 301 - room / pair);
        assert!(dropped.iter().all(|d| matches!(d, Dropped::TooLong { .. })));
        assert!(dropped.contains(&Dropped::TooLong {
            sender: "1234".into(),
            key: "z".into()
        }));
        assert!(dropped[0].warning().contains("4095"));
    }

    #[test]
    fn the_token_is_taken_out_of_the_definition() {
        let text = "protocols:\n  lava-multinode:\n    target_group: g\n    role: server\n    group_size: 2\n    sub_id: 0\n    token: 'k1:abcdef'\n    timeout: {minutes: 2}\n    role_names: [server, client]\n";
        let Value::Mapping(mut definition) = lava_proto::yaml::load(text).unwrap() else {
            panic!()
        };
        let protocol = Multinode::from_definition(&mut definition, "12", &Mapping::new())
            .unwrap()
            .unwrap();
        assert_eq!(protocol.token.as_deref(), Some("k1:abcdef"));
        assert_eq!(protocol.call_timeout(), Duration::from_secs(120));
        assert!(!format!("{protocol:?}").contains("abcdef"));
        assert!(!lava_proto::yaml::to_flow_line(&Value::Mapping(definition)).contains("abcdef"));
    }

    #[test]
    fn the_conf_file_is_the_dispatchers_then_the_environments_then_lavas() {
        let text = "protocols:\n  lava-multinode:\n    target_group: g\n    role: server\n    group_size: 2\n";
        let Value::Mapping(mut definition) = lava_proto::yaml::load(text).unwrap() else {
            panic!()
        };
        let plain = Multinode::from_definition(&mut definition, "12", &Mapping::new())
            .unwrap()
            .unwrap();
        let Value::Mapping(dispatcher) =
            lava_proto::yaml::load("coordinator: {conf: /srv/c.conf, system_timeout: 5}").unwrap()
        else {
            panic!()
        };
        let configured = Multinode::from_definition(&mut definition, "12", &dispatcher)
            .unwrap()
            .unwrap();
        assert_eq!(configured.conf_path(), PathBuf::from("/srv/c.conf"));
        assert_eq!(configured.system_timeout(), Duration::from_secs(5));
        // no other test of the crate reads this variable
        std::env::set_var(CONF_ENV, "/etc/elsewhere.conf");
        assert_eq!(plain.conf_path(), PathBuf::from("/etc/elsewhere.conf"));
        std::env::remove_var(CONF_ENV);
        assert_eq!(
            plain.conf_path(),
            PathBuf::from(CoordinatorConf::DEFAULT_PATH)
        );
        assert_eq!(plain.system_timeout(), SYSTEM_TIMEOUT);
    }

    #[test]
    fn a_delayed_start_needs_another_role() {
        let text = "protocols:\n  lava-multinode:\n    target_group: g\n    role: host\n    group_size: 2\n    request: lava-start\n    expect_role: host\n";
        let Value::Mapping(mut definition) = lava_proto::yaml::load(text).unwrap() else {
            panic!()
        };
        let e = Multinode::from_definition(&mut definition, "12", &Mapping::new()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Job);
        // without target_group there is no protocol
        let Value::Mapping(mut other) =
            lava_proto::yaml::load("protocols: {lava-multinode: {role: x}}").unwrap()
        else {
            panic!()
        };
        assert!(Multinode::from_definition(&mut other, "1", &Mapping::new())
            .unwrap()
            .is_none());
    }
}
