//! MultiNode on the server: the split of a submission into one job per
//! group member, the `roles` map written when a group is scheduled, and the
//! member token added to START. The rules, and where they differ from LAVA
//! 2020.01, are in docs/multinode.md.
//!
//! Everything here is pure (no store, no clock) except [`new_target_group`],
//! which draws a random UUID4.
//!
//! ```
//! use lava_scheduler::multinode::split_text;
//!
//! let job = "job_name: pair\nvisibility: public\ntimeouts: {job: {minutes: 10}}\n\
//!            protocols:\n  lava-multinode:\n    roles:\n      \
//!            server: {device_type: qemu, count: 1}\n      \
//!            client: {device_type: qemu, count: 2, essential: true}\n\
//!            actions:\n- boot: {method: qemu, media: tmpfs, role: [server, client]}\n";
//! let split = split_text(job, "5b0e3d9a-6f1c-4c43-9a55-0d1a2b3c4d5e").unwrap();
//! assert_eq!(split.group_size, 3);
//! let roles: Vec<_> = split.jobs.iter().map(|j| (j.role.as_str(), j.index)).collect();
//! assert_eq!(roles, [("server", 0), ("client", 1), ("client", 2)]);
//! assert!(split.jobs[2].essential);
//! assert!(split.jobs[0].text.contains("sub_id: 0"));
//! ```

use lava_proto::job::JobDefinition;
use lava_proto::yaml::{self, Mapping, Value};

/// The most jobs a group may have (Σ `count` over its roles): the
/// coordinator's default `max_group_size` (docs/coordinator.md). A larger
/// group is refused before it is split.
pub const MAX_GROUP_SIZE: u64 = 1024;

/// The top-level keys every sub-job gets from the submission.
const COPIED: [&str; 7] = [
    "job_name",
    "timeouts",
    "priority",
    "visibility",
    "notify",
    "metadata",
    "reboot_to_fastboot",
];

/// Role keys that become top-level keys of the sub-job.
const SCHEDULING: [&str; 4] = ["device_type", "connection", "host_role", "context"];

/// Keys of the protocol block that the server writes itself: a role or
/// block key of the same name is not copied over them.
const RESERVED: [&str; 7] = [
    "target_group",
    "role",
    "group_size",
    "sub_id",
    "roles",
    "role_names",
    "token",
];

/// Why a multinode submission cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// The text is not YAML.
    #[error("YAML: {0}")]
    Yaml(String),
    /// The submission lacks a part the split needs, or has it in a shape it
    /// cannot use (the validator normally refuses these first).
    #[error("{path}: {reason}")]
    Shape {
        /// Where, e.g. `protocols.lava-multinode.roles.client.count`.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The roles' counts add up to more than [`MAX_GROUP_SIZE`].
    #[error("protocols.lava-multinode.roles: a group may have at most {MAX_GROUP_SIZE} jobs, but the roles' counts ({counts}) add up to {total}")]
    TooLarge {
        /// `role: count` of every role, comma-separated.
        counts: String,
        /// Their sum (saturated at `i64::MAX`).
        total: i64,
    },
    /// A connection role's `host_role` does not have exactly one job.
    #[error("protocols.lava-multinode.roles.{role}.host_role: the host role '{host}' must have count 1, not {count}")]
    HostCount {
        /// The connection role.
        role: String,
        /// Its host role.
        host: String,
        /// The host role's count.
        count: i64,
    },
    /// A role that has jobs but no action.
    #[error("protocols.lava-multinode.roles.{role}: {count} job(s) of role '{role}' would have no action: no action lists the role")]
    NoAction {
        /// The role.
        role: String,
        /// Its count.
        count: i64,
    },
    /// `lava-vland` with a role of several jobs.
    #[error(
        "protocols.lava-vland: VLANs need one job per role, but role '{role}' has count {count}"
    )]
    VlandCount {
        /// The role.
        role: String,
        /// Its count.
        count: i64,
    },
    /// A sub-job the dispatcher could not read.
    #[error("the job of role '{role}' (sub_id {index}) is not a valid per-device job: {reason}")]
    SubJob {
        /// Its role.
        role: String,
        /// Its index in the group.
        index: u64,
        /// The reader's error.
        reason: String,
    },
}

/// One member of a group, as split from the submission.
#[derive(Debug, Clone, PartialEq)]
pub struct SubJob {
    /// The role.
    pub role: String,
    /// Its index in the group (the protocol's `sub_id`, 0..group_size-1).
    pub index: u64,
    /// The per-device job definition.
    pub definition: Value,
    /// [`SubJob::definition`] as block YAML (what is stored).
    pub text: String,
    /// The role's device type (`None` for a connection role).
    pub device_type: Option<String>,
    /// The role's connection (`ssh`), for a connection role.
    pub connection: Option<String>,
    /// A connection role's host role.
    pub host_role: Option<String>,
    /// The role's device tags.
    pub tags: Vec<String>,
    /// The role is essential: its failure cancels the group.
    pub essential: bool,
}

/// A submission split into its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The group's id (coordinator `group_name`).
    pub target_group: String,
    /// Σ count over the roles.
    pub group_size: u64,
    /// Role by role in definition order, `count` jobs each.
    pub jobs: Vec<SubJob>,
}

/// A fresh group id: a random UUID4 in its usual text form.
pub fn new_target_group() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Whether a definition (already loaded) is a multinode submission.
pub fn is_multinode(value: &Value) -> bool {
    value
        .get("protocols")
        .and_then(|p| p.get("lava-multinode"))
        .is_some()
}

/// [`split`] of a submitted text.
pub fn split_text(text: &str, target_group: &str) -> Result<Split, SplitError> {
    let value = yaml::load(text).map_err(|e| SplitError::Yaml(e.to_string()))?;
    split(&value, target_group)
}

fn shape(path: impl Into<String>, reason: impl Into<String>) -> SplitError {
    SplitError::Shape {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Whether an action's `role` names `role`: exact membership of a list,
/// equality of a string (LAVA's Python `in` also matches a substring of a
/// string `role:`; docs/multinode.md, S4).
fn action_has_role(roles: &Value, role: &str) -> bool {
    match roles {
        Value::Sequence(items) => items.iter().any(|r| r.as_str() == Some(role)),
        Value::String(s) => s == role,
        _ => false,
    }
}

/// Split a multinode submission into its group (docs/multinode.md §1):
/// deterministic for a given `target_group`. Each sub-job is checked with
/// the dispatcher's reader of server-produced jobs
/// ([`JobDefinition::parse`]); submission validation is the caller's.
pub fn split(submission: &Value, target_group: &str) -> Result<Split, SplitError> {
    let top = submission
        .as_mapping()
        .ok_or_else(|| shape("", "the job definition must be a mapping"))?;
    let protocols = top
        .get("protocols")
        .and_then(Value::as_mapping)
        .ok_or_else(|| shape("protocols", "a multinode job needs a protocols mapping"))?;
    let block = protocols
        .get("lava-multinode")
        .and_then(Value::as_mapping)
        .ok_or_else(|| shape("protocols.lava-multinode", "must be a mapping"))?;
    let roles = block
        .get("roles")
        .and_then(Value::as_mapping)
        .ok_or_else(|| shape("protocols.lava-multinode.roles", "required mapping"))?;
    // Roles in definition order, with their counts.
    let mut defined: Vec<(String, &Mapping, i64)> = Vec::new();
    for (name, spec) in roles.iter() {
        let name = name.as_str().ok_or_else(|| {
            shape(
                "protocols.lava-multinode.roles",
                "role names must be strings",
            )
        })?;
        let path = format!("protocols.lava-multinode.roles.{name}");
        let spec = spec
            .as_mapping()
            .ok_or_else(|| shape(&path, "must be a mapping"))?;
        let count = spec
            .get("count")
            .and_then(Value::as_i64)
            .filter(|c| *c >= 0)
            .ok_or_else(|| shape(format!("{path}.count"), "required integer ≥ 0"))?;
        defined.push((name.to_string(), spec, count));
    }
    // Refused before anything is built: a count is only bounded here.
    let group_size = defined
        .iter()
        .fold(0i64, |sum, (_, _, c)| sum.saturating_add(*c));
    if group_size as u64 > MAX_GROUP_SIZE {
        let counts: Vec<String> = defined
            .iter()
            .map(|(n, _, c)| format!("{n}: {c}"))
            .collect();
        return Err(SplitError::TooLarge {
            counts: counts.join(", "),
            total: group_size,
        });
    }
    // S7: every host_role is checked, not only the last one.
    for (name, spec, _) in &defined {
        if let Some(host) = spec.get("host_role") {
            let host = host.as_str().ok_or_else(|| {
                shape(
                    format!("protocols.lava-multinode.roles.{name}.host_role"),
                    "must be a role name",
                )
            })?;
            let count = defined
                .iter()
                .find(|(n, _, _)| n == host)
                .map(|(_, _, c)| *c)
                .ok_or_else(|| {
                    shape(
                        format!("protocols.lava-multinode.roles.{name}.host_role"),
                        format!("'{host}' is not a role of this job"),
                    )
                })?;
            if count != 1 {
                return Err(SplitError::HostCount {
                    role: name.clone(),
                    host: host.to_string(),
                    count,
                });
            }
        }
    }
    let actions = top
        .get("actions")
        .and_then(Value::as_sequence)
        .ok_or_else(|| shape("actions", "required list"))?;
    for (i, action) in actions.iter().enumerate() {
        let ok = action.as_mapping().is_some_and(|m| {
            m.values()
                .all(|v| v.as_mapping().is_some_and(|b| b.contains_key("role")))
        });
        if !ok {
            return Err(shape(
                format!("actions[{i}]"),
                "every action of a multinode job needs a role",
            ));
        }
    }
    let role_names: Vec<Value> = defined
        .iter()
        .filter(|(_, _, c)| *c > 0)
        .map(|(n, _, _)| Value::String(n.clone()))
        .collect();
    let vland = protocols.get("lava-vland").and_then(Value::as_mapping);
    if vland.is_some() {
        if let Some((role, _, count)) = defined.iter().find(|(_, _, c)| *c > 1) {
            return Err(SplitError::VlandCount {
                role: role.clone(),
                count: *count,
            });
        }
    }
    let lxc = protocols.get("lava-lxc").and_then(Value::as_mapping);
    let public = top.get("visibility").and_then(Value::as_str) == Some("public");

    let mut jobs = Vec::new();
    let mut index: u64 = 0;
    for (role, spec, count) in &defined {
        let own_actions: Vec<Value> = actions
            .iter()
            .filter_map(|action| {
                let map = action.as_mapping()?;
                let (key, body) = map.iter().next()?;
                let body = body.as_mapping()?;
                if !action_has_role(body.get("role")?, role) {
                    return None;
                }
                let mut body = body.clone();
                body.insert("role", role.as_str());
                let mut item = Mapping::new();
                item.insert(key.clone(), Value::Mapping(body));
                Some(Value::Mapping(item))
            })
            .collect();
        if *count > 0 && own_actions.is_empty() {
            return Err(SplitError::NoAction {
                role: role.clone(),
                count: *count,
            });
        }
        let tags: Vec<String> = spec
            .get("tags")
            .and_then(Value::as_sequence)
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let text_of = |key: &str| spec.get(key).and_then(Value::as_str).map(str::to_string);
        for _ in 0..*count {
            let mut doc = Mapping::new();
            for key in COPIED {
                if let Some(v) = top.get(key) {
                    doc.insert(key, v.clone());
                }
            }
            for key in SCHEDULING {
                if let Some(v) = spec.get(key) {
                    doc.insert(key, v.clone());
                }
            }
            // §5.6: secrets go with non-public jobs (the validator refuses
            // them in public ones).
            if !public {
                if let Some(v) = top.get("secrets") {
                    doc.insert("secrets", v.clone());
                }
            }
            let mut params = Mapping::new();
            params.insert("target_group", target_group);
            params.insert("role", role.as_str());
            params.insert("group_size", group_size);
            params.insert("sub_id", index as i64);
            for (key, value) in spec.iter() {
                let name = key.as_str().unwrap_or_default();
                if name == "count" || SCHEDULING.contains(&name) || RESERVED.contains(&name) {
                    continue;
                }
                params.insert(key.clone(), value.clone());
            }
            // Block keys last: a block `timeout` overrides a role's (S3).
            for (key, value) in block.iter() {
                if RESERVED.contains(&key.as_str().unwrap_or_default()) {
                    continue;
                }
                params.insert(key.clone(), value.clone());
            }
            params.insert("role_names", Value::Sequence(role_names.clone()));
            let mut protos = Mapping::new();
            protos.insert("lava-multinode", Value::Mapping(params));
            if let Some(v) = vland.and_then(|m| m.get(role)) {
                protos.insert("lava-vland", v.clone());
            }
            if let Some(v) = lxc.and_then(|m| m.get(role)) {
                protos.insert("lava-lxc", v.clone());
            }
            doc.insert("protocols", Value::Mapping(protos));
            doc.insert("actions", Value::Sequence(own_actions.clone()));
            let definition = Value::Mapping(doc);
            let text = to_block_yaml(&definition);
            JobDefinition::parse(&text).map_err(|e| SplitError::SubJob {
                role: role.clone(),
                index,
                reason: e.to_string(),
            })?;
            jobs.push(SubJob {
                role: role.clone(),
                index,
                definition,
                text,
                device_type: text_of("device_type"),
                connection: text_of("connection"),
                host_role: text_of("host_role"),
                tags: tags.clone(),
                essential: spec.get("essential").is_some_and(Value::is_truthy),
            });
            index += 1;
        }
    }
    Ok(Split {
        target_group: target_group.to_string(),
        group_size: group_size as u64,
        jobs,
    })
}

/// What a stored sub-job says about itself: its group, role, group size and
/// (connection roles) host role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `protocols.lava-multinode.target_group`.
    pub target_group: String,
    /// `protocols.lava-multinode.role`.
    pub role: String,
    /// `protocols.lava-multinode.group_size`.
    pub group_size: u64,
    /// The top-level `host_role` of a connection sub-job.
    pub host_role: Option<String>,
}

/// Read [`Member`] from a stored sub-job definition (`None`: not a sub-job
/// made by [`split`]).
pub fn member(definition: &str) -> Option<Member> {
    let value = yaml::load(definition).ok()?;
    let block = value.get("protocols")?.get("lava-multinode")?;
    Some(Member {
        target_group: block.get("target_group")?.as_str()?.to_string(),
        role: block.get("role")?.as_str()?.to_string(),
        group_size: u64::try_from(block.get("group_size")?.as_i64()?).ok()?,
        host_role: value
            .get("host_role")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Set `protocols.lava-multinode.<key>` of a definition to `value`; returns
/// the new text (block YAML).
pub fn with_protocol_key(definition: &str, key: &str, value: Value) -> Result<String, String> {
    let mut doc = yaml::load(definition).map_err(|e| format!("job definition: {e}"))?;
    let block = doc
        .as_mapping_mut()
        .and_then(|m| m.get_mut("protocols"))
        .and_then(Value::as_mapping_mut)
        .and_then(|p| p.get_mut("lava-multinode"))
        .and_then(Value::as_mapping_mut)
        .ok_or("job definition: no protocols.lava-multinode mapping")?;
    block.insert(key, value);
    Ok(to_block_yaml(&doc))
}

/// The `roles` map of a scheduled group: `{"<job id>": role}` over the
/// sub-jobs that have a device (connection sub-jobs are left out, as LAVA
/// does).
pub fn roles_map(device_jobs: &[(i64, String)]) -> Value {
    let mut map = Mapping::new();
    for (id, role) in device_jobs {
        map.insert(id.to_string(), role.as_str());
    }
    Value::Mapping(map)
}

/// A value as block-style YAML that the dispatcher (and LAVA's PyYAML)
/// loads back as the same value, ending with a newline. Strings are plain
/// when that reads back unchanged, double-quoted otherwise.
pub fn to_block_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => write_mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => write_sequence(&mut out, s, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn plain_ok(s: &str) -> bool {
    let simple = !s.is_empty()
        && s.len() <= 120
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | '+' | '=' | ',')
        })
        && !s.starts_with([' ', '-', '.'])
        && !s.ends_with(' ');
    simple
        && yaml::load(&format!("k: {s}\n"))
            .ok()
            .and_then(|v| v.get("k").cloned())
            == Some(Value::String(s.to_string()))
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::String(s) if plain_ok(s) => s.clone(),
        Value::Mapping(m) if m.is_empty() => "{}".into(),
        Value::Sequence(s) if s.is_empty() => "[]".into(),
        other => yaml::to_flow_line(other),
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        Value::Tagged(_) => false,
        _ => false,
    }
}

fn write_mapping(out: &mut String, map: &Mapping, indent: usize) {
    for (key, item) in map.iter() {
        out.push_str(&" ".repeat(indent));
        let key_text = match key {
            Value::String(_) | Value::Int(_) | Value::Bool(_) | Value::Null => scalar(key),
            other => format!("? {}\n{}", yaml::to_flow_line(other), " ".repeat(indent)),
        };
        out.push_str(&key_text);
        out.push(':');
        write_child(out, item, indent + 2);
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                // first key on the dash line, the rest aligned under it
                let mut text = String::new();
                write_mapping(&mut text, m, indent + 2);
                out.push(' ');
                out.push_str(&text[indent + 2..]);
            }
            Value::Sequence(s) if !s.is_empty() => {
                out.push('\n');
                write_sequence(out, s, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn write_child(out: &mut String, item: &Value, indent: usize) {
    if is_block(item) {
        out.push('\n');
        match item {
            Value::Mapping(m) => write_mapping(out, m, indent),
            Value::Sequence(s) => write_sequence(out, s, indent),
            _ => {}
        }
    } else {
        out.push(' ');
        out.push_str(&scalar(item));
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_yaml_reads_back_as_written() {
        for text in [
            "{a: 1, b: [x, {c: true, d: [1, [2, 3]]}], e: {}, f: [], g: 'yes', h: '12:30', i: 'a: b', j: \"multi\\nline\", k: null, l: 1.5, m: '', n: ' x', o: '#c', p: '-drive format=raw,file={rootfs}', q: 1.0e+16, r: .inf}",
            "[1, {a: {b: {c: [d]}}}]",
            "{'1234': server, 1: int key, true: bool key}",
        ] {
            let value = yaml::load(text).unwrap();
            let out = to_block_yaml(&value);
            assert_eq!(yaml::load(&out).unwrap(), value, "{out}");
        }
    }

    #[test]
    fn uuid4_has_its_version_and_variant() {
        let id = new_target_group().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!("89ab".contains(&id[19..20]));
        assert_ne!(id, new_target_group().unwrap());
    }
}
