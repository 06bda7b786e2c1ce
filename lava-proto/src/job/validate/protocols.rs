//! `protocols:` — multinode roles, LXC containers, VLANs, xnbd
//! (`docs/job-definition.md` §13).

use crate::yaml::{Mapping, Value};

use super::{describe, did_you_mean, opt, req, Checker, Field, Rule, Shape, Unknown};

const PROTOCOLS: &[&str] = &["lava-multinode", "lava-lxc", "lava-vland", "lava-xnbd"];

/// Keys the server adds to `lava-multinode` when it splits a submission.
const POST_SPLIT: &[&str] = &["role", "group_size", "sub_id", "target_group"];

fn role_context(c: &mut Checker<'_>, value: &Value) {
    c.context(value);
}

const DEVICE_ROLE: &[Field] = &[
    req("device_type", Rule::Str),
    req("count", Rule::IntMin(0)),
    opt("context", Rule::Custom(role_context)),
    opt("tags", Rule::StrList),
    opt("environment", Rule::Map),
    opt("timeout", Rule::Timeout),
    opt("essential", Rule::Bool),
];

const CONNECTION_ROLE: &[Field] = &[
    req("connection", Rule::Str),
    req("count", Rule::IntMin(0)),
    req("expect_role", Rule::Str),
    req("host_role", Rule::Str),
    opt("request", Rule::Str),
    opt("tags", Rule::StrList),
    opt("timeout", Rule::Timeout),
    opt("context", Rule::Custom(role_context)),
    opt("essential", Rule::Bool),
];

const LXC: &[Field] = &[
    req("name", Rule::Str),
    req("distribution", Rule::Str),
    req("release", Rule::Str),
    opt("arch", Rule::Str),
    opt("mirror", Rule::Str),
    opt("persist", Rule::Bool),
    opt("security_mirror", Rule::Str),
    opt("template", Rule::Str),
    opt("timeout", Rule::Timeout),
    opt("verbose", Rule::Bool),
];

fn xnbd_port(c: &mut Checker<'_>, value: &Value) {
    if !matches!(value, Value::Int(_)) && value.as_str() != Some("auto") {
        c.error(format!(
            "must be `auto` or a port number, got {}",
            describe(value)
        ));
    }
}

static XNBD: Shape = Shape {
    what: "lava-xnbd",
    fields: &[
        req("port", Rule::Custom(xnbd_port)),
        opt("timeout", Rule::Timeout),
    ],
    unknown: Unknown::Warn,
};

impl Checker<'_> {
    /// `protocols:`; returns the multinode role names when there are any.
    pub(crate) fn protocols(&mut self, value: &Value) -> Option<Vec<String>> {
        let map = self.mapping(value)?;
        let mut roles = None;
        for (key, value) in map.iter() {
            match key.as_str() {
                Some("lava-multinode") => roles = self.at("lava-multinode", |c| c.multinode(value)),
                Some("lava-lxc") => self.at("lava-lxc", |c| c.lxc(value)),
                Some("lava-vland") => self.at("lava-vland", |c| c.vland(value)),
                Some("lava-xnbd") => self.at("lava-xnbd", |c| {
                    c.shape(value, &XNBD);
                }),
                _ => self.unknown_key(key, PROTOCOLS, Unknown::Error, "protocols"),
            }
        }
        roles
    }

    fn multinode(&mut self, value: &Value) -> Option<Vec<String>> {
        let map = self.mapping(value)?;
        let mut names = None;
        for (key, value) in map.iter() {
            match key.as_str() {
                Some("roles") => names = self.at("roles", |c| c.roles(value)),
                Some("timeout") => self.at("timeout", |c| {
                    c.timeout(value);
                }),
                Some(k) if POST_SPLIT.contains(&k) => self.at(k, |c| {
                    c.error(format!(
                        "`{k}` is written by the server into the per-device jobs of a \
                         multinode submission; it cannot be submitted"
                    ))
                }),
                _ => self.unknown_key(key, &["roles", "timeout"], Unknown::Error, "lava-multinode"),
            }
        }
        if !map.contains_key("roles") {
            self.error(
                "missing required key `roles` (the roles of the group, e.g. `server: \
                 {device_type: qemu, count: 1}`)",
            );
        }
        names
    }

    fn roles(&mut self, value: &Value) -> Option<Vec<String>> {
        let map = self.mapping(value)?;
        let names: Vec<String> = map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        for (key, role) in map.iter() {
            self.at_key(key, |c| {
                if key.as_str().is_none() {
                    c.error(format!("role names must be strings, got {}", describe(key)));
                }
                c.role(role, &names, map);
            });
        }
        Some(names)
    }

    fn role(&mut self, value: &Value, names: &[String], roles: &Mapping) {
        let Value::Mapping(role) = value else {
            self.error(format!(
                "must be a mapping (device_type, count, ...), got {}",
                describe(value)
            ));
            return;
        };
        match (
            role.contains_key("device_type"),
            role.contains_key("connection"),
        ) {
            (true, true) => {
                self.error(
                    "has both `device_type` and `connection`; a role is either a role of devices \
                     or a role that connects to another role's device",
                );
                self.fields(
                    role,
                    &[DEVICE_ROLE, CONNECTION_ROLE],
                    &[],
                    Unknown::Warn,
                    "a role",
                );
            }
            (true, false) => self.fields(role, &[DEVICE_ROLE], &[], Unknown::Warn, "a device role"),
            (false, true) => self.fields(
                role,
                &[CONNECTION_ROLE],
                &[],
                Unknown::Warn,
                "a connection role",
            ),
            (false, false) => {
                self.error(
                    "needs `device_type` (a role of devices) or `connection` (a role that \
                     connects to another role's device)",
                );
                let known = &DEVICE_ROLE[1..];
                self.fields(role, &[known], &[], Unknown::Ignore, "");
            }
        }
        // Connection roles get "missing" and type errors from their fields.
        let is_connection = role.contains_key("connection");
        let name_list: Vec<&str> = names.iter().map(String::as_str).collect();
        let refer = |c: &mut Self, key: &str| -> Option<String> {
            let value = role.get(key)?;
            let Some(target) = value.as_str() else {
                if !is_connection {
                    c.at(key, |c| {
                        c.error(format!("must be a role name, got {}", describe(value)))
                    });
                }
                return None;
            };
            if !names.iter().any(|n| n == target) {
                c.at(key, |c| {
                    c.error(format!(
                        "no role `{target}` in protocols.lava-multinode.roles{}",
                        did_you_mean(target, &name_list)
                    ))
                });
                return None;
            }
            Some(target.to_owned())
        };
        let host = refer(self, "host_role");
        refer(self, "expect_role");
        match (
            role.contains_key("host_role"),
            role.contains_key("expect_role"),
        ) {
            (true, false) if !is_connection => {
                self.error("`host_role` needs `expect_role` (the role whose device to wait for)")
            }
            (false, true) if !is_connection => self.error("`expect_role` needs `host_role`"),
            _ => {}
        }
        if let Some(host) = host {
            let count = roles
                .get(host.as_str())
                .and_then(|r| r.get("count"))
                .and_then(Value::as_i64);
            if count.is_some_and(|n| n != 1) {
                self.at("host_role", |c| {
                    c.error(format!(
                        "role `{host}` hosts this role's connections, so its `count` must be 1"
                    ))
                });
            }
        }
    }

    fn lxc(&mut self, value: &Value) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        let per_role = !map.is_empty()
            && map.iter().all(|(k, v)| {
                v.as_mapping().is_some()
                    && !k.as_str().is_some_and(|k| LXC.iter().any(|f| f.name == k))
            });
        if per_role {
            for (role, container) in map.iter() {
                self.at_key(role, |c| {
                    if let Some(container) = c.mapping(container) {
                        c.fields(container, &[LXC], &[], Unknown::Warn, "an LXC container");
                    }
                });
            }
        } else {
            self.fields(map, &[LXC], &[], Unknown::Warn, "an LXC container");
        }
    }

    fn vland(&mut self, value: &Value) {
        let Some(roles) = self.mapping(value) else {
            return;
        };
        for (role, vlans) in roles.iter() {
            self.at_key(role, |c| {
                if role.as_str().is_none() {
                    c.error(format!(
                        "role names must be strings, got {}",
                        describe(role)
                    ));
                }
                let Some(vlans) = c.mapping(vlans) else {
                    return;
                };
                for (name, vlan) in vlans.iter() {
                    c.at_key(name, |c| {
                        let good = match name {
                            Value::String(s) => {
                                !s.is_empty()
                                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                            }
                            Value::Int(_) => true,
                            _ => false,
                        };
                        if !good {
                            c.error(format!(
                                "VLAN names may only contain letters, digits and `_`, got {}",
                                describe(name)
                            ));
                        }
                        if let Some(vlan) = c.mapping(vlan) {
                            c.fields(
                                vlan,
                                &[&[req("tags", Rule::StrList)]],
                                &[],
                                Unknown::Error,
                                "a VLAN",
                            );
                        }
                    });
                }
            });
        }
    }
}
