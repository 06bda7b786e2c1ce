//! The coordinator's state machine: pure (no I/O, no clock), one request at
//! a time, as LAVA 2020.01's single-threaded daemon applies them.
//!
//! [`Coordinator::handle`] takes one decoded request body and returns the
//! reply body (or none: close without reply); the daemon owns sockets,
//! framing, time and persistence. The state is a map of groups (keyed by
//! `group_name`), each with its size (`count`), its members in
//! registration order (client name, hostname, role), the messages each
//! member can read, the wait-all bookkeeping, sync barriers, the legacy
//! aggregate bundles and the set of members that sent `clear_group`.
//!
//! # Requests (LAVA 2020.01, `docs/coordinator.md`)
//!
//! Every request first *registers*: an unknown group is created when the
//! request carries `group_size` (else `nack`), an unknown member is added
//! with its `hostname` and `role`. Then:
//!
//! - `group_data`: `wait` until `group_size` members are registered, then
//!   `{"response": "group_data", "roles": {client: role, ...}}` (members
//!   grouped by role, roles in order of first registration);
//! - `lava_send` (`messageID`, `message`): the sender's message (`{}` when
//!   absent or null) is merged into every registered member's view of the
//!   id, the sender's included; `ack`;
//! - `lava_wait`: `ack` with the requester's view `{sender: message, ...}`
//!   once any member has sent the id, else `wait`; the view includes the
//!   requester's own data and everything sent so far (LAVA's B10, kept in
//!   both semantics);
//! - `lava_wait_all` (`waitrole` optional): `ack` with every sender's data
//!   once all members (or the role's members) have sent the id, else
//!   `wait`;
//! - `lava_sync`: a barrier over `group_size` members; `ack` with the
//!   message (or the id) once every member has arrived; the id can be
//!   reused afterwards;
//! - `clear_group`: `ack`; the group is deleted when every member has sent
//!   it;
//! - `aggregate` (legacy V1): bundles; `complete`: no reply; anything else:
//!   `nack`.
//!
//! # Semantics (`Semantics`)
//!
//! [`Semantics::Lava2020`] (the default) keeps what a test definition can
//! observe of LAVA 2020.01, so that transcripts are byte-identical:
//!
//! - `lava_wait_all` with a role is released as soon as the role's
//!   *first-registered* member has sent (B8), and answers with the
//!   requester's `lava_wait` view; before that it waits until every member
//!   of the requester's own role has sent, then answers with all data;
//! - `lava_wait_all` without a role answers `nack` while nobody has sent
//!   the id (B9);
//! - `lava_sync`: even the last member to arrive first gets `wait`; sync
//!   values share the message slots of `lava_send` (a `lava_wait` after a
//!   `lava_sync` on the same id answers the sync value).
//!
//! [`Semantics::Fixed`] follows LAVA's documentation instead: a role
//! wait-all waits for *every* member of the role; a wait-all before any
//! send, or while the group is still filling, answers `wait`; syncs and
//! sends use separate namespaces; the last member to reach a barrier gets
//! `ack` at once.
//!
//! # Fixed in both semantics (invisible to correct clients)
//!
//! - Nothing panics and nothing ends the daemon: every well-framed invalid
//!   request — a body that is not an object, a missing or mistyped field
//!   (`request`, `group_name`, `client_name`, `group_size`, `role`,
//!   `hostname`, `messageID`, `waitrole`, `bundle`/`sub_id`), an unknown
//!   `waitrole`, a member changing role, a `lava_send` on an id already
//!   used by `lava_sync` (Lava2020 only, where they share slots), a member
//!   named `data` — gets `nack` and a WARN log line naming the group,
//!   client, request and reason. Invalid requests change nothing (LAVA
//!   registered the member before refusing an unknown request name).
//! - Membership is capped at `group_size`: an extra member gets `nack`
//!   (LAVA registered it and `group_data` then waited for ever, B7). A
//!   `group_size` different from the group's is refused.
//! - `clear_group` counts distinct members, not calls (B6): a member
//!   clearing twice does not delete the group under its peers.
//! - Limits ([`Limits`]): number of groups, `group_size`, bytes held per
//!   group (payloads, counted once per member view) and by all groups
//!   together; a request that would exceed one gets `nack`. Groups idle for `group_ttl` are removed by
//!   [`Coordinator::expire`] (LAVA kept them for ever, B12).
//! - Payloads are logged at DEBUG only (B13); tokens are never logged.
//!
//! # Member tokens (`AuthMode`)
//!
//! A request may carry `"token"`, made by the master with
//! [`lava_proto::coordinator::Key::token`] for `(group_name, client_name,
//! role, group_size)`; a request without `role` or `group_size` is checked
//! with the member's registered role and the group's size. `Off` ignores
//! tokens; `Warn` logs a refusal and serves the request; `Require` (and
//! every request that came over CURVE, `secure = true`) answers `nack`.
//! Under `Require` a group is deleted only when all `group_size` members
//! have sent `clear_group`, or by expiry.
//!
//! # Persistence
//!
//! [`Coordinator::snapshot`] is the whole state as JSON and
//! [`Coordinator::restore`] rebuilds it. `Handled::mutated` tells whether a
//! request changed the state (registration, data, barriers); requests that
//! did not can be left out of a journal: replaying the others in order
//! rebuilds the same state. The idle clock of a group is refreshed by every
//! request but is not in itself a mutation.

use std::collections::BTreeMap;
use std::time::Duration;

use lava_proto::coordinator::{to_python_json, verify_token, Key};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::Error;

/// Which observable semantics the coordinator follows (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantics {
    /// LAVA 2020.01's observable behaviour (the default).
    #[default]
    Lava2020,
    /// LAVA's documented semantics.
    Fixed,
}

/// Whether member tokens are checked (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Tokens are ignored (LAVA-compatible).
    #[default]
    Off,
    /// A missing or bad token is logged; the request is served.
    Warn,
    /// A missing or bad token gets `nack`.
    Require,
}

/// Resource limits of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most groups held at once (default 10 000).
    pub max_groups: usize,
    /// Largest `group_size` accepted (default 1024).
    pub max_group_size: u64,
    /// Most bytes held per group, estimated as the compact JSON size of
    /// every stored value and name (default 1 MiB).
    pub max_group_bytes: usize,
    /// Most bytes held by all groups together, estimated like
    /// `max_group_bytes` (default 256 MiB): a new group, member or message
    /// beyond it gets `nack`.
    pub max_total_bytes: usize,
    /// A group without any request for this long is removed by
    /// [`Coordinator::expire`] (default 24 h).
    pub group_ttl: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_groups: 10_000,
            max_group_size: 1024,
            max_group_bytes: 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
            group_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Settings of a [`Coordinator`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Observable semantics.
    pub semantics: Semantics,
    /// Token checking for plaintext requests (CURVE requests always
    /// require a token).
    pub auth: AuthMode,
    /// Member-token keys.
    pub keys: Vec<Key>,
    /// Resource limits.
    pub limits: Limits,
}

/// What the state holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Groups held.
    pub groups: usize,
    /// Members over all groups.
    pub members: usize,
    /// Estimate of the bytes held (see [`Limits::max_group_bytes`]).
    pub bytes: usize,
}

/// The outcome of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The reply body; `None` = close the connection without a reply.
    pub reply: Option<Value>,
    /// Whether the request changed the state (see the module doc).
    pub mutated: bool,
    /// The group the request named (when `group_name` is a string), e.g.
    /// to wake requests waiting on that group.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    name: String,
    hostname: String,
    role: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Wait {
    /// Members that sent the id, in order.
    senders: Vec<String>,
    /// `{sender: message}`, in order of first send.
    data: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Group {
    name: String,
    count: u64,
    members: Vec<Member>,
    /// member → id → what `lava_wait` answers (Lava2020: sync values too).
    messages: BTreeMap<String, Map<String, Value>>,
    /// id → senders and data (wait-all).
    waits: BTreeMap<String, Wait>,
    /// id → member → pending (true) / released (false).
    syncs: BTreeMap<String, BTreeMap<String, bool>>,
    /// Fixed semantics: member → id → sync value.
    #[serde(default)]
    sync_values: BTreeMap<String, Map<String, Value>>,
    /// Members that sent `clear_group`.
    cleared: Vec<String>,
    /// Legacy aggregate: member → bundle.
    bundles: Map<String, Value>,
    rpc_delay: u32,
    /// Created under `AuthMode::Require`: deleted only when all `count`
    /// members have cleared it.
    strict: bool,
    /// Unix seconds of the last request.
    last_active: u64,
    #[serde(skip)]
    bytes: usize,
}

/// LAVA's aggregate pause ("rpc_delay") in polls.
const RPC_DELAY: u32 = 2;

/// Bytes a value takes (compact JSON).
fn size(value: &Value) -> usize {
    serde_json::to_string(value).map(|s| s.len()).unwrap_or(0)
}

impl Group {
    fn new(name: &str, count: u64, strict: bool, now: u64) -> Group {
        let mut group = Group {
            name: name.to_string(),
            count,
            members: Vec::new(),
            messages: BTreeMap::new(),
            waits: BTreeMap::new(),
            syncs: BTreeMap::new(),
            sync_values: BTreeMap::new(),
            cleared: Vec::new(),
            bundles: Map::new(),
            rpc_delay: RPC_DELAY,
            strict,
            last_active: now,
            bytes: 0,
        };
        group.bytes = group.recount();
        group
    }

    fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    fn full(&self) -> bool {
        self.members.len() as u64 >= self.count
    }

    /// Members of `role`, in registration order.
    fn role_members<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.members
            .iter()
            .filter(move |m| m.role == role)
            .map(|m| m.name.as_str())
    }

    /// `{client: role}` grouped by role, roles in order of first
    /// registration (LAVA builds it from its role lists).
    fn roles(&self) -> Map<String, Value> {
        let mut roles: Vec<&str> = Vec::new();
        for m in &self.members {
            if !roles.contains(&m.role.as_str()) {
                roles.push(&m.role);
            }
        }
        let mut map = Map::new();
        for role in roles {
            for name in self.role_members(role) {
                map.insert(name.to_string(), Value::String(role.to_string()));
            }
        }
        map
    }

    /// The estimate of bytes held, walking everything.
    fn recount(&self) -> usize {
        let mut total = self.name.len() + 64;
        for m in &self.members {
            total += m.name.len() + m.hostname.len() + m.role.len() + 16;
        }
        let views = |map: &BTreeMap<String, Map<String, Value>>| -> usize {
            map.iter()
                .map(|(member, ids)| {
                    member.len() + ids.iter().map(|(id, v)| id.len() + size(v)).sum::<usize>()
                })
                .sum()
        };
        total += views(&self.messages) + views(&self.sync_values);
        for (id, wait) in &self.waits {
            total += id.len();
            total += wait.senders.iter().map(|s| s.len()).sum::<usize>();
            total += wait
                .data
                .iter()
                .map(|(k, v)| k.len() + size(v))
                .sum::<usize>();
        }
        for (id, members) in &self.syncs {
            total += id.len() + members.keys().map(|k| k.len() + 1).sum::<usize>();
        }
        total += self.cleared.iter().map(|c| c.len()).sum::<usize>();
        total += self
            .bundles
            .iter()
            .map(|(k, v)| k.len() + size(v))
            .sum::<usize>();
        total
    }
}

/// A request whose common fields have been checked.
struct Request<'a> {
    body: &'a Map<String, Value>,
    request: &'a str,
    group: &'a str,
    client: &'a str,
    role: Option<&'a str>,
    hostname: Option<&'a str>,
    group_size: Option<u64>,
    message_id: Option<&'a str>,
}

/// A refusal: the reason, for the WARN line.
struct Refusal(String);

fn refuse<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(reason.into()))
}

const REQUESTS: [&str; 8] = [
    "group_data",
    "clear_group",
    "aggregate",
    "lava_sync",
    "lava_wait_all",
    "lava_wait",
    "lava_send",
    "complete",
];

fn reply(response: &str) -> Value {
    json!({ "response": response })
}

fn reply_with(response: &str, message: Value) -> Value {
    json!({ "response": response, "message": message })
}

/// Python truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The MultiNode coordinator's state (see the module doc).
#[derive(Debug)]
pub struct Coordinator {
    settings: Settings,
    groups: BTreeMap<String, Group>,
    /// The sum of the groups' `bytes`.
    total_bytes: usize,
}

/// The outcome of a request before logging.
struct Outcome {
    reply: Option<Value>,
    mutated: bool,
}

impl Outcome {
    fn reply(reply: Value, mutated: bool) -> Result<Outcome, Refusal> {
        Ok(Outcome {
            reply: Some(reply),
            mutated,
        })
    }
}

impl Coordinator {
    /// An empty coordinator.
    pub fn new(settings: Settings) -> Coordinator {
        Coordinator {
            settings,
            groups: BTreeMap::new(),
            total_bytes: 0,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Apply one request (an already-decoded JSON body). `secure`: it came
    /// over CURVE, so a valid token is required whatever the settings say.
    /// `now`: unix seconds, for idle expiry.
    pub fn handle(&mut self, body: &Value, secure: bool, now: u64) -> Handled {
        let group = body
            .get("group_name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let bytes_of = |c: &Coordinator| {
            group
                .as_deref()
                .and_then(|g| c.groups.get(g))
                .map_or(0, |g| g.bytes)
        };
        let before = bytes_of(self);
        let applied = self.apply(body, secure, now);
        // only the named group can have changed
        self.total_bytes = self.total_bytes - before + bytes_of(self);
        match applied {
            Ok(outcome) => Handled {
                reply: outcome.reply,
                mutated: outcome.mutated,
                group,
            },
            Err(Refusal(reason)) => {
                let field = |key: &str| match body.get(key) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => "-".to_string(),
                };
                log::warn!(
                    "refused request '{}' from client '{}' in group '{}': {}",
                    field("request"),
                    field("client_name"),
                    field("group_name"),
                    reason
                );
                Handled {
                    reply: Some(reply("nack")),
                    mutated: false,
                    group,
                }
            }
        }
    }

    fn parse<'a>(&self, body: &'a Value) -> Result<Request<'a>, Refusal> {
        let Value::Object(map) = body else {
            return refuse("the body is not a JSON object");
        };
        let string = |key: &str, required: bool| -> Result<Option<&'a str>, Refusal> {
            match map.get(key) {
                None if required => refuse(format!("no \"{key}\"")),
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => refuse(format!("\"{key}\" is not a string: {other}")),
            }
        };
        let request = string("request", true)?.unwrap_or_default();
        let group = string("group_name", true)?.unwrap_or_default();
        let client = string("client_name", true)?.unwrap_or_default();
        if group.is_empty() {
            return refuse("empty \"group_name\"");
        }
        if client.is_empty() {
            return refuse("empty \"client_name\"");
        }
        if client == "data" {
            return refuse("\"data\" cannot be a client name (it is the coordinator's own key)");
        }
        if !REQUESTS.contains(&request) {
            return refuse("unknown request");
        }
        let role = string("role", false)?;
        if role == Some("") {
            return refuse("empty \"role\"");
        }
        let hostname = string("hostname", false)?;
        // LAVA treats `group_size: 0` as absent.
        let group_size = match map.get("group_size") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(0) => None,
                Some(n) => Some(n),
                None => {
                    return refuse(format!("\"group_size\" is not a non-negative integer: {v}"))
                }
            },
        };
        if let Some(n) = group_size {
            if n > self.settings.limits.max_group_size {
                return refuse(format!(
                    "group_size {n} is over the limit of {}",
                    self.settings.limits.max_group_size
                ));
            }
        }
        let needs_id = matches!(
            request,
            "lava_send" | "lava_wait" | "lava_wait_all" | "lava_sync"
        );
        let message_id = string("messageID", needs_id)?;
        if request == "lava_wait_all" {
            string("waitrole", false)?;
        }
        if request == "aggregate" {
            if !map.contains_key("bundle") {
                return refuse("no \"bundle\"");
            }
            match map.get("sub_id") {
                Some(Value::String(_)) => {}
                Some(Value::Null) | None => return refuse("no \"sub_id\""),
                Some(other) => return refuse(format!("\"sub_id\" is not a string: {other}")),
            }
        }
        Ok(Request {
            body: map,
            request,
            group,
            client,
            role,
            hostname,
            group_size,
            message_id,
        })
    }

    fn apply(&mut self, body: &Value, secure: bool, now: u64) -> Result<Outcome, Refusal> {
        let req = self.parse(body)?;
        let limits = &self.settings.limits;
        let existing = self.groups.get(req.group);
        // The group.
        let count = match (existing, req.group_size) {
            (None, None) => return refuse("unknown group and no \"group_size\""),
            (None, Some(n)) => {
                if self.groups.len() >= limits.max_groups {
                    return refuse(format!(
                        "the coordinator holds the maximum of {} groups",
                        limits.max_groups
                    ));
                }
                n
            }
            (Some(g), Some(n)) if n != g.count => {
                return refuse(format!(
                    "group_size {n} differs from the group's {}",
                    g.count
                ))
            }
            (Some(g), _) => g.count,
        };
        // The member.
        let group_exists = existing.is_some();
        let known = existing.and_then(|g| g.member(req.client));
        let is_known = known.is_some();
        let role = match (known, req.role) {
            (Some(m), Some(r)) if m.role != r => {
                return refuse(format!("role change from '{}' to '{r}'", m.role))
            }
            (Some(m), _) => m.role.clone(),
            (None, None) => return refuse("a new member without \"role\""),
            (None, Some(r)) => {
                if req.hostname.is_none() {
                    return refuse("a new member without \"hostname\"");
                }
                if existing.is_some_and(Group::full) {
                    return refuse(format!("the group already has its {count} members"));
                }
                r.to_string()
            }
        };
        // The token.
        let mode = if secure {
            AuthMode::Require
        } else {
            self.settings.auth
        };
        if mode != AuthMode::Off {
            let valid = match req.body.get("token") {
                Some(Value::String(token)) => verify_token(
                    &self.settings.keys,
                    token,
                    req.group,
                    req.client,
                    &role,
                    count,
                ),
                _ => false,
            };
            if !valid {
                let why = if req.body.contains_key("token") {
                    "the token does not verify for this group, client, role and group_size"
                } else {
                    "no \"token\""
                };
                if mode == AuthMode::Require {
                    return refuse(why);
                }
                log::warn!(
                    "accepted request '{}' from client '{}' in group '{}' although {} (auth = warn)",
                    req.request,
                    req.client,
                    req.group,
                    why
                );
            }
        }
        // Register. The group may hold max_group_bytes, and no more than
        // what the other groups leave of max_total_bytes.
        let mut mutated = false;
        let others = self.total_bytes - existing.map_or(0, |g| g.bytes);
        let budget = limits.max_total_bytes.saturating_sub(others);
        let max_bytes = limits.max_group_bytes.min(budget);
        let over = if budget < limits.max_group_bytes {
            format!(
                "the coordinator's budget of max_total_bytes ({}) is nearly used up: {budget} bytes left for this group",
                limits.max_total_bytes
            )
        } else {
            format!("the group's limit of {max_bytes} bytes")
        };
        if !group_exists && Group::new(req.group, count, false, now).bytes > max_bytes {
            return refuse(format!("a new group would exceed {over}"));
        }
        if !group_exists {
            let strict = mode == AuthMode::Require;
            self.groups.insert(
                req.group.to_string(),
                Group::new(req.group, count, strict, now),
            );
            log::info!(
                "group '{}' created with {count} member(s) expected",
                req.group
            );
            mutated = true;
        }
        let created = mutated;
        let Some(group) = self.groups.get_mut(req.group) else {
            return refuse("internal: the group vanished");
        };
        group.last_active = now;
        if !is_known {
            let member = Member {
                name: req.client.to_string(),
                hostname: req.hostname.unwrap_or_default().to_string(),
                role: role.clone(),
            };
            let added = member.name.len() + member.hostname.len() + member.role.len() + 16;
            if group.bytes + added > max_bytes {
                if created {
                    self.groups.remove(req.group);
                }
                return refuse(format!("a new member would exceed {over}"));
            }
            group.members.push(member);
            group.bytes = group.recount();
            mutated = true;
            log::info!(
                "group '{}': client '{}' registered as '{role}' ({} of {})",
                group.name,
                req.client,
                group.members.len(),
                group.count
            );
        }
        let semantics = self.settings.semantics;
        let strict = group.strict || self.settings.auth == AuthMode::Require;
        let outcome = match req.request {
            "group_data" => group_data(group),
            "clear_group" => {
                if !group.cleared.iter().any(|c| c == req.client) {
                    group.cleared.push(req.client.to_string());
                    group.bytes = group.recount();
                    mutated = true;
                }
                let needed = if strict {
                    group.count as usize
                } else {
                    group.members.len()
                };
                log::debug!(
                    "group '{}': clear_group from '{}' ({} of {needed})",
                    group.name,
                    req.client,
                    group.cleared.len()
                );
                if group.cleared.len() >= needed {
                    log::info!("group '{}' cleared by all its members: deleted", req.group);
                    self.groups.remove(req.group);
                    mutated = true;
                }
                Outcome::reply(reply("ack"), false)
            }
            "complete" => {
                log::info!(
                    "group '{}': coordinator communication for '{}' is complete",
                    req.group,
                    req.client
                );
                Ok(Outcome {
                    reply: None,
                    mutated: false,
                })
            }
            "lava_wait" => lava_wait(group, &req),
            "lava_wait_all" => lava_wait_all(group, &req, &role, semantics),
            _ => {
                let upper = upper_bound(group, &req);
                transactional(group, max_bytes, &over, upper, |group| match req.request {
                    "lava_send" => lava_send(group, &req, semantics),
                    "lava_sync" => lava_sync(group, &req, semantics),
                    _ => aggregate(group, &req),
                })
            }
        };
        match outcome {
            Ok(mut outcome) => {
                outcome.mutated |= mutated;
                if let Some(reply) = &outcome.reply {
                    log::debug!(
                        "group '{}': {} from '{}' -> {}",
                        req.group,
                        req.request,
                        req.client,
                        to_python_json(reply)
                    );
                }
                Ok(outcome)
            }
            Err(refusal) => {
                // A refused request leaves no trace, not even a registration.
                if created {
                    self.groups.remove(req.group);
                } else if !is_known {
                    if let Some(group) = self.groups.get_mut(req.group) {
                        group.members.retain(|m| m.name != req.client);
                        group.bytes = group.recount();
                    }
                }
                Err(refusal)
            }
        }
    }

    /// Remove the groups idle for at least [`Limits::group_ttl`]; returns
    /// their names.
    pub fn expire(&mut self, now: u64) -> Vec<String> {
        let ttl = self.settings.limits.group_ttl.as_secs();
        let expired: Vec<String> = self
            .groups
            .values()
            .filter(|g| now.saturating_sub(g.last_active) >= ttl)
            .map(|g| g.name.clone())
            .collect();
        for name in &expired {
            if let Some(g) = self.groups.remove(name) {
                self.total_bytes = self.total_bytes.saturating_sub(g.bytes);
                log::info!(
                    "group '{name}' expired: no request for {} s ({} of {} member(s) registered)",
                    now.saturating_sub(g.last_active),
                    g.members.len(),
                    g.count
                );
            }
        }
        expired
    }

    /// Remove exactly the groups `names` (the replay of a journaled expiry
    /// pass: the clock alone would also remove groups that were kept alive
    /// by requests the journal does not hold).
    pub(crate) fn remove_expired(&mut self, names: &[String]) {
        for name in names {
            if let Some(g) = self.groups.remove(name) {
                self.total_bytes = self.total_bytes.saturating_sub(g.bytes);
            }
        }
    }

    /// Count every group as active at `now` at the latest: after a restart
    /// the idle clocks restart, since requests that only read (polls) are
    /// not journaled and the restored `last_active` can be too old.
    pub fn grace(&mut self, now: u64) {
        for group in self.groups.values_mut() {
            group.last_active = group.last_active.max(now);
        }
    }

    /// The whole state as JSON (for [`Coordinator::restore`]).
    pub fn snapshot(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .values()
            .map(|g| serde_json::to_value(g).unwrap_or(Value::Null))
            .collect();
        json!({ "format": "lava-coordinator-state", "version": 1, "groups": groups })
    }

    /// Rebuild a coordinator from [`Coordinator::snapshot`]'s output.
    pub fn restore(settings: Settings, snapshot: &Value) -> Result<Coordinator, Error> {
        if snapshot.get("version").and_then(Value::as_u64) != Some(1) {
            return Err(Error::Snapshot("expected \"version\": 1".to_string()));
        }
        let Some(list) = snapshot.get("groups").and_then(Value::as_array) else {
            return Err(Error::Snapshot("no \"groups\" list".to_string()));
        };
        let mut coordinator = Coordinator::new(settings);
        for item in list {
            let mut group: Group = serde_json::from_value(item.clone())?;
            if group.count == 0 || group.members.len() as u64 > group.count {
                return Err(Error::Snapshot(format!(
                    "group '{}' has {} members for a size of {}",
                    group.name,
                    group.members.len(),
                    group.count
                )));
            }
            group.bytes = group.recount();
            coordinator.total_bytes += group.bytes;
            coordinator.groups.insert(group.name.clone(), group);
        }
        Ok(coordinator)
    }

    /// What the state holds.
    pub fn stats(&self) -> Stats {
        Stats {
            groups: self.groups.len(),
            members: self.groups.values().map(|g| g.members.len()).sum(),
            bytes: self.total_bytes,
        }
    }
}

/// Apply `f` to the group and recount its bytes; when they would exceed
/// `max`, undo it and refuse. `upper` bounds the bytes `f` can add: when
/// they fit for sure, `f` runs in place, else on a copy. `f` must refuse
/// before changing anything.
fn transactional(
    group: &mut Group,
    max: usize,
    over: &str,
    upper: usize,
    f: impl FnOnce(&mut Group) -> Result<Outcome, Refusal>,
) -> Result<Outcome, Refusal> {
    if group.bytes.saturating_add(upper) <= max {
        let outcome = f(group)?;
        if outcome.mutated {
            group.bytes = group.recount();
        }
        return Ok(outcome);
    }
    let before = group.clone();
    let outcome = f(group);
    if outcome.as_ref().is_ok_and(|o| o.mutated) {
        let bytes = group.recount();
        if bytes > max {
            *group = before;
            return refuse(format!(
                "the group would hold about {bytes} bytes, which would exceed {over}"
            ));
        }
        group.bytes = bytes;
    } else if outcome.is_err() {
        *group = before;
    }
    outcome
}

/// An upper bound of the bytes a request adds to a group.
fn upper_bound(group: &Group, req: &Request) -> usize {
    let id = req.message_id.unwrap_or_default().len();
    let client = req.client.len();
    let names: usize = group.members.iter().map(|m| m.name.len()).sum();
    let slack = 16;
    match req.request {
        "lava_send" => {
            let message = req.body.get("message").map(size).unwrap_or(2).max(2);
            (group.members.len() + 2) * (id + 2 * client + message + slack) + names
        }
        "lava_sync" => {
            let message = req.body.get("message").map(size).unwrap_or(0);
            3 * (id + client + message.max(id + 2) + slack)
        }
        _ => {
            let bundle = req.body.get("bundle").map(size).unwrap_or(0);
            client + bundle + slack
        }
    }
}

fn group_data(group: &Group) -> Result<Outcome, Refusal> {
    if group.members.len() as u64 != group.count {
        log::debug!(
            "group '{}': waiting for {} more client(s)",
            group.name,
            group.count - group.members.len() as u64
        );
        return Outcome::reply(reply("wait"), false);
    }
    Outcome::reply(
        json!({ "response": "group_data", "roles": Value::Object(group.roles()) }),
        false,
    )
}

fn lava_send(group: &mut Group, req: &Request, semantics: Semantics) -> Result<Outcome, Refusal> {
    let id = req.message_id.unwrap_or_default();
    let message = match req.body.get("message") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v.clone(),
    };
    if semantics == Semantics::Lava2020
        && group
            .messages
            .values()
            .any(|ids| ids.get(id).is_some_and(|v| !v.is_object()))
    {
        return refuse(format!(
            "messageID '{id}' is already used by lava_sync in this group"
        ));
    }
    log::debug!(
        "group '{}': lava_send '{id}' from '{}': {}",
        group.name,
        req.client,
        to_python_json(&message)
    );
    let names: Vec<String> = group.members.iter().map(|m| m.name.clone()).collect();
    for name in names {
        let slot = group
            .messages
            .entry(name)
            .or_default()
            .entry(id.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(view) = slot {
            view.insert(req.client.to_string(), message.clone());
        }
    }
    let wait = group.waits.entry(id.to_string()).or_default();
    if !wait.senders.iter().any(|s| s == req.client) {
        wait.senders.push(req.client.to_string());
    }
    wait.data.insert(req.client.to_string(), message);
    Outcome::reply(reply("ack"), true)
}

/// LAVA's `_sendMessage`: the requester's view of the id, else `nack`.
fn send_view(group: &Group, client: &str, id: &str) -> Result<Outcome, Refusal> {
    match group.messages.get(client).and_then(|ids| ids.get(id)) {
        Some(view) => Outcome::reply(reply_with("ack", view.clone()), false),
        None => refuse(format!("no message '{id}' for this client")),
    }
}

fn lava_wait(group: &Group, req: &Request) -> Result<Outcome, Refusal> {
    let id = req.message_id.unwrap_or_default();
    match group.messages.get(req.client).and_then(|ids| ids.get(id)) {
        Some(_) => send_view(group, req.client, id),
        None => Outcome::reply(reply("wait"), false),
    }
}

fn lava_wait_all(
    group: &Group,
    req: &Request,
    role: &str,
    semantics: Semantics,
) -> Result<Outcome, Refusal> {
    let id = req.message_id.unwrap_or_default();
    let waitrole = req.body.get("waitrole").and_then(Value::as_str);
    let wait = group.waits.get(id);
    let sent = |name: &str| wait.is_some_and(|w| w.senders.iter().any(|s| s == name));
    let all_data = || match wait {
        Some(w) => Outcome::reply(reply_with("ack", Value::Object(w.data.clone())), false),
        None => refuse(format!("no message '{id}'")),
    };
    let waiting = || Outcome::reply(reply("wait"), false);
    match (semantics, waitrole) {
        (Semantics::Lava2020, None) => {
            if wait.is_none() {
                // LAVA's B9: nobody has sent the id yet.
                return Outcome::reply(reply("nack"), false);
            }
            if group.members.iter().all(|m| sent(&m.name)) {
                all_data()
            } else {
                waiting()
            }
        }
        (Semantics::Lava2020, Some(waitrole)) => {
            let Some(expected) = group.role_members(waitrole).next() else {
                return refuse(format!("unknown waitrole '{waitrole}'"));
            };
            if wait.is_none() {
                return waiting();
            }
            // LAVA's B8: the role's first member stands for the role.
            if sent(expected) {
                return send_view(group, req.client, id);
            }
            if group.role_members(role).all(sent) {
                all_data()
            } else {
                waiting()
            }
        }
        (Semantics::Fixed, None) => {
            if group.full() && wait.is_some() && group.members.iter().all(|m| sent(&m.name)) {
                all_data()
            } else {
                waiting()
            }
        }
        (Semantics::Fixed, Some(waitrole)) => {
            if !group.full() {
                return waiting();
            }
            if group.role_members(waitrole).next().is_none() {
                return refuse(format!("unknown waitrole '{waitrole}'"));
            }
            if wait.is_some() && group.role_members(waitrole).all(sent) {
                all_data()
            } else {
                waiting()
            }
        }
    }
}

fn lava_sync(group: &mut Group, req: &Request, semantics: Semantics) -> Result<Outcome, Refusal> {
    let id = req.message_id.unwrap_or_default();
    let value = match req.body.get("message") {
        Some(v) if truthy(v) => v.clone(),
        _ => Value::String(id.to_string()),
    };
    let count = group.count as usize;
    // Fixed: a member already released from this id's barrier while others
    // still wait to be released is at the *next* round: it waits until the
    // round is over (everyone released), then joins the new one.
    if semantics == Semantics::Fixed
        && group
            .syncs
            .get(id)
            .is_some_and(|barrier| barrier.get(req.client) == Some(&false))
    {
        log::debug!(
            "group '{}': lava_sync '{id}' from '{}': the previous round is still being released",
            group.name,
            req.client
        );
        return Outcome::reply(reply("wait"), false);
    }
    let slots = match semantics {
        Semantics::Lava2020 => &mut group.messages,
        Semantics::Fixed => &mut group.sync_values,
    };
    let old = slots
        .entry(req.client.to_string())
        .or_default()
        .insert(id.to_string(), value.clone());
    let mut mutated = old.as_ref() != Some(&value);
    let fresh = !group.syncs.contains_key(id);
    let barrier = group.syncs.entry(id.to_string()).or_default();
    mutated |= fresh;
    let arrived = match semantics {
        // LAVA counts the members seen *before* this request, so even the
        // last one to arrive first gets `wait`.
        Semantics::Lava2020 => barrier.len() >= count,
        Semantics::Fixed => {
            if !barrier.contains_key(req.client) {
                barrier.insert(req.client.to_string(), true);
                mutated = true;
            }
            barrier.len() >= count
        }
    };
    if !arrived {
        mutated |= barrier.insert(req.client.to_string(), true) != Some(true);
        log::debug!(
            "group '{}': lava_sync '{id}': {} of {count} member(s) arrived",
            group.name,
            barrier.len()
        );
        return Outcome::reply(reply("wait"), mutated);
    }
    mutated |= barrier.insert(req.client.to_string(), false) != Some(false);
    if barrier.values().all(|pending| !pending) {
        log::debug!(
            "group '{}': lava_sync '{id}': barrier passed by all",
            group.name
        );
        barrier.clear();
        mutated = true;
    }
    Outcome::reply(reply_with("ack", value), mutated)
}

fn aggregate(group: &mut Group, req: &Request) -> Result<Outcome, Refusal> {
    let bundle = req.body.get("bundle").cloned().unwrap_or(Value::Null);
    let sub_id = req
        .body
        .get("sub_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    group.bundles.insert(req.client.to_string(), bundle);
    if !sub_id.ends_with(".0") {
        return Outcome::reply(reply("ack"), true);
    }
    if (group.bundles.len() as u64) < group.count {
        group.rpc_delay = RPC_DELAY;
        return Outcome::reply(reply("wait"), true);
    }
    if group.rpc_delay > 0 {
        group.rpc_delay -= 1;
        return Outcome::reply(reply("wait"), true);
    }
    group.rpc_delay = RPC_DELAY;
    Outcome::reply(
        reply_with(
            "ack",
            json!({ "bundle": Value::Object(group.bundles.clone()) }),
        ),
        true,
    )
}
