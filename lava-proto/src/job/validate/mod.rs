//! The validator: walks a loaded job definition once and reports every
//! independent problem with its path.
//!
//! The rules are the union of LAVA 2020.01's submit schema and its strict
//! schema in non-strict mode (`docs/job-definition.md` §0), written as small
//! declarative tables ([`Field`], [`Rule`], [`Shape`]) where the format is
//! regular and as code where it is not. Keys LAVA's strict schema does not list
//! become warnings. Nothing here recurses on the depth of the input: the walk
//! follows the schema, which is a few levels deep.
//!
//! This module checks the top level and the rules between keys
//! (`docs/job-definition.md` §10); `checker` is the toolkit (the walker,
//! [`Rule`], [`Field`], [`Shape`], messages and "did you mean"), `actions` the
//! deploy, boot, test and command blocks, `protocols` multinode, LXC, VLANs and
//! xnbd, `notify` notifications, `names` the closed lists of names.

mod actions;
mod checker;
pub(crate) mod names;
mod notify;
mod protocols;

use crate::yaml::{Mapping, Value};

use super::report::{Issue, Report};
use super::timeout::Timeout;
use super::Options;

pub(crate) use checker::{
    describe, describe_short, did_you_mean, key_segment, opt, quote, req, Checker, Field, Rule,
    Shape, Unknown,
};

pub use names::CONTEXT_VARIABLES;

/// Validates a loaded document into `report`.
pub(crate) fn check_document(value: &Value, options: &Options, report: &mut Report) {
    let mut checker = Checker::new(options);
    checker.job(value);
    report.errors.append(&mut checker.errors);
    report.warnings.append(&mut checker.warnings);
}

impl Checker<'_> {
    fn job(&mut self, value: &Value) {
        let Some(job) = value.as_mapping() else {
            self.error(format!(
                "a job definition must be a mapping (job_name: ..., actions: ...), got {}",
                describe(value)
            ));
            return;
        };
        for key in ["job_name", "timeouts", "visibility", "actions"] {
            if !job.contains_key(key) {
                self.error(format!("missing required key `{key}`"));
            }
        }
        let mut timeouts = Timeouts::default();
        let mut roles: Option<Vec<String>> = None;
        for (key, value) in job.iter() {
            let Some(name) = key.as_str() else {
                self.unknown_key(key, TOP_LEVEL_KEYS, Unknown::Error, "the job definition");
                continue;
            };
            self.at(name, |c| match name {
                "job_name" => c.length_1_200(value),
                "device_type" => c.length_1_200(value),
                "timeouts" => timeouts = c.job_timeouts(value),
                "visibility" => c.visibility(value),
                "priority" => c.priority(value),
                "tags" => c.string_list(value, false),
                "context" => c.context(value),
                "metadata" => c.metadata(value),
                // Never echo a secret in a message: name the type only.
                "secrets" if !matches!(value, Value::Mapping(_)) => c.error(format!(
                    "must be a mapping of names to values, got {}",
                    value.type_name()
                )),
                "environment" => {
                    c.mapping(value);
                }
                "protocols" => roles = c.protocols(value),
                "notify" => c.notify(value),
                "reboot_to_fastboot" => c.check(value, Rule::Bool),
                "actions" => {}
                _ => {}
            });
            if !TOP_LEVEL_KEYS.contains(&name) {
                self.top_level_unknown(key, name);
            }
        }
        let blocks = match job.get("actions") {
            Some(actions) => self.at("actions", |c| c.actions(actions, roles.as_deref())),
            None => Vec::new(),
        };
        self.cross_checks(job, &timeouts, &blocks);
    }

    fn top_level_unknown(&mut self, key: &Value, name: &str) {
        if ["connection", "host_role", "target", "compatibility"].contains(&name) {
            self.at(name, |c| {
                c.error(format!(
                    "`{name}` is written by the server into the per-device jobs of a multinode \
                     submission; it cannot be submitted"
                ))
            });
        } else {
            self.unknown_key(key, TOP_LEVEL_KEYS, Unknown::Error, "the job definition");
        }
    }

    fn length_1_200(&mut self, value: &Value) {
        if let Some(s) = self.string(value) {
            let length = s.chars().count();
            if length == 0 {
                self.error("must not be empty");
            } else if length > 200 {
                self.error(format!(
                    "is {length} characters long; at most 200 are allowed"
                ));
            }
        }
    }

    fn job_timeouts(&mut self, value: &Value) -> Timeouts {
        let mut out = Timeouts::default();
        let Some(map) = self.mapping(value) else {
            return out;
        };
        if !map.contains_key("job") {
            self.error("missing required key `job` (the timeout of the whole job)");
        }
        for (key, value) in map.iter() {
            match key.as_str() {
                Some("job") => out.job = self.at("job", |c| c.timeout(value)),
                Some(name @ ("action" | "connection")) => {
                    if let Some(t) = self.at(name, |c| c.timeout(value)) {
                        out.others.push((format!("timeouts.{name}"), t));
                    }
                }
                Some(name @ ("actions" | "connections")) => self.at(name, |c| {
                    let Some(named) = c.mapping(value) else {
                        return;
                    };
                    for (action, value) in named.iter() {
                        c.at_key(action, |c| {
                            let good_name = action.as_str().is_some_and(|a| {
                                !a.is_empty()
                                    && a.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                            });
                            if !good_name {
                                c.error(format!(
                                    "action names may only contain lower-case letters and `-` \
                                     (like `http-download`), got {}",
                                    describe(action)
                                ));
                            }
                            if let Some(t) = c.timeout(value) {
                                out.others.push((c.path().to_owned(), t));
                            }
                        });
                    }
                }),
                _ => self.unknown_key(key, TIMEOUTS_KEYS, Unknown::Error, "timeouts"),
            }
        }
        out
    }

    fn visibility(&mut self, value: &Value) {
        match value {
            Value::String(s) if s == "public" || s == "personal" => {}
            Value::Mapping(map) => {
                match map.get("group") {
                    None => self.error(
                        "a visibility mapping needs `group`: a list of group names, e.g. \
                         `{group: [team]}`",
                    ),
                    Some(groups) => self.at("group", |c| {
                        c.string_list(groups, false);
                        if groups.as_sequence().is_some_and(<[Value]>::is_empty) {
                            c.error("lists no group; name at least one");
                        }
                    }),
                }
                for key in map.keys() {
                    if key.as_str() != Some("group") {
                        self.unknown_key(key, &["group"], Unknown::Error, "visibility");
                    }
                }
            }
            other => self.error(format!(
                "must be `public`, `personal` or `{{group: [names]}}`, got {}{}",
                describe(other),
                other
                    .as_str()
                    .map(|s| did_you_mean(s, &["public", "personal"]))
                    .unwrap_or_default()
            )),
        }
    }

    fn priority(&mut self, value: &Value) {
        let number = match value {
            Value::String(s) if ["low", "medium", "high"].contains(&s.as_str()) => return,
            Value::Int(n) => Some(*n),
            Value::Bool(b) => {
                self.warn(format!(
                    "the boolean `{b}` is read as the number {}; write the number",
                    i64::from(*b)
                ));
                return;
            }
            _ => None,
        };
        if number.is_some_and(|n| (0..=100).contains(&n)) {
            return;
        }
        self.error(format!(
            "must be low, medium, high or an integer from 0 to 100, got {}{}",
            describe_short(value),
            value
                .as_str()
                .map(|s| did_you_mean(s, &["low", "medium", "high"]))
                .unwrap_or_default()
        ));
    }

    /// `context:` of the job or of a multinode role.
    pub(crate) fn context(&mut self, value: &Value) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        for (key, value) in map.iter() {
            let known = key.as_str().is_some_and(|k| {
                CONTEXT_VARIABLES.contains(&k)
                    || self.options.extra_context_variables.iter().any(|e| e == k)
            });
            if !known {
                let hint = key
                    .as_str()
                    .map(|k| did_you_mean(k, CONTEXT_VARIABLES))
                    .unwrap_or_default();
                let shown = match key.as_str() {
                    Some(k) => format!("`{k}`"),
                    None => describe(key),
                };
                let mut allowed: Vec<&str> = CONTEXT_VARIABLES.to_vec();
                allowed.extend(
                    self.options
                        .extra_context_variables
                        .iter()
                        .map(String::as_str),
                );
                self.at_key(key, |c| {
                    c.error(format!(
                        "unknown context variable {shown}{hint}; the device templates only \
                         read: {}",
                        allowed.join(", ")
                    ))
                });
                continue;
            }
            self.at_key(key, |c| match value {
                Value::Int(_) | Value::Bool(_) | Value::String(_) => {}
                Value::Sequence(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !matches!(item, Value::Int(_) | Value::Bool(_) | Value::String(_)) {
                            c.at_index(i, |c| {
                                c.error(format!(
                                    "must be a string or an integer, got {}",
                                    describe(item)
                                ))
                            });
                        }
                    }
                }
                other => c.error(format!(
                    "must be a string, an integer or a list of them, got {}",
                    describe(other)
                )),
            });
        }
    }

    fn metadata(&mut self, value: &Value) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        for (key, value) in map.iter() {
            let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Int(_) | Value::Bool(_));
            self.at_key(key, |c| {
                if !scalar(key) {
                    c.error(format!(
                        "metadata keys must be strings or integers, got {}",
                        describe(key)
                    ));
                }
                if !scalar(value) {
                    c.error(format!(
                        "metadata values must be strings or integers, got {}",
                        describe(value)
                    ));
                }
            });
        }
    }

    // Rules between keys (`docs/job-definition.md` §10).

    fn cross_checks(&mut self, job: &Mapping, timeouts: &Timeouts, blocks: &[Block]) {
        if let Some(limit) = timeouts.job {
            let from_blocks = blocks
                .iter()
                .filter_map(|b| b.timeout.map(|t| (format!("{}.timeout", b.path), t)));
            for (path, timeout) in timeouts.others.iter().cloned().chain(from_blocks) {
                if timeout.seconds() > limit.seconds() {
                    self.errors.push(Issue::new(
                        path,
                        format!(
                            "{timeout} is longer than the job timeout (timeouts.job: {limit}); \
                             nothing may run longer than the job"
                        ),
                    ));
                }
            }
        }

        let truthy = |v: Option<&Value>| match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Int(n)) => *n != 0,
            Some(Value::Mapping(m)) => !m.is_empty(),
            Some(Value::Sequence(s)) => !s.is_empty(),
            Some(_) => true,
        };
        let multinode = truthy(job.get("protocols").and_then(|p| p.get("lava-multinode")));
        let device_type = truthy(job.get("device_type"));
        if multinode && device_type {
            self.at("device_type", |c| {
                c.error(
                    "must not be set in a multinode job; give each role its `device_type` in \
                     protocols.lava-multinode.roles",
                )
            });
        }
        if !multinode && !device_type && !job.contains_key("device_type") {
            self.error(
                "missing required key `device_type` (or protocols.lava-multinode for a \
                 multinode job)",
            );
        }
        if multinode && truthy(job.get("environment")) {
            self.at("environment", |c| {
                c.error(
                    "must not be set in a multinode job; give each role its `environment` in \
                     protocols.lava-multinode.roles",
                )
            });
        }
        if multinode {
            for block in blocks.iter().filter(|b| !b.has_role) {
                let hint = if block.kind == "command" {
                    " (LAVA 2020.01 accepts no `role` in command actions, so they cannot be \
                     used in multinode jobs)"
                } else {
                    ""
                };
                self.errors.push(Issue::new(
                    block.path.clone(),
                    format!(
                        "missing `role`: in a multinode job every action must list the roles \
                         that run it{hint}"
                    ),
                ));
            }
        }
        let with_namespace = blocks.iter().filter(|b| b.has_namespace).count();
        if with_namespace > 0 && with_namespace < blocks.len() {
            for block in blocks.iter().filter(|b| !b.has_namespace) {
                self.errors.push(Issue::new(
                    block.path.clone(),
                    "missing `namespace`: when one action has a namespace, every action needs \
                     one",
                ));
            }
        }
        if job.contains_key("secrets")
            && job.get("visibility").and_then(Value::as_str) == Some("public")
        {
            self.at("secrets", |c| {
                c.error(
                    "cannot be used with `visibility: public`; use `personal` or `{group: \
                     [...]}`",
                )
            });
        }
    }
}

/// The timeouts of `timeouts:` that must not exceed the job's.
#[derive(Default)]
struct Timeouts {
    job: Option<Timeout>,
    /// (path, value) of `action`, `connection`, `actions.*`, `connections.*`.
    others: Vec<(String, Timeout)>,
}

/// What the cross-field rules need to know about one action block.
pub(crate) struct Block {
    /// `actions[3].boot`.
    pub path: String,
    /// `deploy`, `boot`, `test` or `command`.
    pub kind: &'static str,
    pub timeout: Option<Timeout>,
    pub has_role: bool,
    pub has_namespace: bool,
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "job_name",
    "device_type",
    "timeouts",
    "visibility",
    "priority",
    "tags",
    "context",
    "metadata",
    "secrets",
    "environment",
    "protocols",
    "notify",
    "reboot_to_fastboot",
    "actions",
];

const TIMEOUTS_KEYS: &[&str] = &["job", "action", "actions", "connection", "connections"];
