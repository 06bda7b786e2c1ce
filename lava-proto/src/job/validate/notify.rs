//! `notify:` — e-mail/IRC recipients, callbacks, comparisons
//! (`docs/job-definition.md` §14 and the server checks of §12 that need no
//! database).

use crate::yaml::Value;

use super::{describe, opt, quote, req, Checker, Field, Rule, Shape, Unknown};

pub(crate) const STATUSES: &[&str] = &["running", "complete", "incomplete", "canceled", "finished"];

static CALLBACK: Shape = Shape {
    what: "a callback",
    fields: &[
        req("url", Rule::Str),
        opt("method", Rule::OneOf(&["GET", "POST"])),
        opt("token", Rule::Str),
        opt(
            "dataset",
            Rule::OneOf(&["minimal", "logs", "results", "all"]),
        ),
        opt("content-type", Rule::OneOf(&["json", "urlencoded"])),
    ],
    unknown: Unknown::Warn,
};

static RECIPIENT_TO: Shape = Shape {
    what: "a recipient",
    fields: &[
        req("method", Rule::OneOf(&["email", "irc"])),
        opt("user", Rule::Str),
        opt("email", Rule::Str),
        opt("handle", Rule::Str),
        opt("server", Rule::Str),
    ],
    unknown: Unknown::Error,
};

static RECIPIENT: Shape = Shape {
    what: "a recipient",
    fields: &[req("to", Rule::Custom(recipient_to))],
    unknown: Unknown::Error,
};

static NOTIFY: &[Field] = &[
    req("criteria", Rule::Custom(criteria)),
    opt(
        "verbosity",
        Rule::OneOf(&["verbose", "quiet", "status-only"]),
    ),
    opt("recipients", Rule::ListOf(&Rule::Struct(&RECIPIENT))),
    opt("callback", Rule::Struct(&CALLBACK)),
    opt("callbacks", Rule::ListOf(&Rule::Struct(&CALLBACK))),
    opt("compare", Rule::Custom(compare)),
];

/// A plausible e-mail address: `local@domain`, with a dotted domain or
/// `localhost`, no spaces.
pub(crate) fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    clean(local)
        && clean(domain)
        && !local.contains('@')
        && (domain == "localhost"
            || (domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')))
}

fn criteria(c: &mut Checker<'_>, value: &Value) {
    static CRITERIA: Shape = Shape {
        what: "criteria",
        fields: &[
            req("status", Rule::OneOf(STATUSES)),
            opt("type", Rule::OneOf(&["regression", "progression"])),
        ],
        unknown: Unknown::Warn,
    };
    let Some(map) = c.shape(value, &CRITERIA) else {
        return;
    };
    let status = map.get("status").and_then(Value::as_str);
    if map.contains_key("type")
        && status.is_some_and(|s| STATUSES.contains(&s) && s != "complete" && s != "incomplete")
    {
        c.at("type", |c| {
            c.warn(format!(
                "only applies when the status is complete or incomplete, not {}; LAVA's strict \
                 schema refuses it",
                status.unwrap_or_default()
            ))
        });
    }
}

fn recipient_to(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.shape(value, &RECIPIENT_TO) else {
        return;
    };
    let has = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
    match map.get("method").and_then(Value::as_str) {
        Some("email") if !has("email") && !has("user") => {
            c.error("an email recipient needs `email` (an address) or `user` (a LAVA user name)")
        }
        Some("irc") if !has("handle") && !has("user") => {
            c.error("an IRC recipient needs `handle` (a nick name) or `user` (a LAVA user name)")
        }
        _ => {}
    }
    if let Some(address) = map.get("email").and_then(Value::as_str) {
        if !is_email(address) {
            c.at("email", |c| {
                c.error(format!("{} is not a valid email address", quote(address)))
            });
        }
    }
}

fn conditions(c: &mut Checker<'_>, value: &Value) {
    let Some(map) = c.mapping(value) else {
        return;
    };
    for (key, condition) in map.iter() {
        c.at_key(key, |c| {
            if key.as_str().is_none() {
                c.error(format!(
                    "condition names must be strings, got {}",
                    describe(key)
                ));
            }
            c.string(condition);
        });
    }
}

fn query(c: &mut Checker<'_>, value: &Value) {
    static NAMED: Shape = Shape {
        what: "a named query",
        fields: &[req("username", Rule::Str), req("name", Rule::Str)],
        unknown: Unknown::Error,
    };
    static CUSTOM: Shape = Shape {
        what: "a custom query",
        fields: &[
            req("entity", Rule::Str),
            opt("conditions", Rule::Custom(conditions)),
        ],
        unknown: Unknown::Error,
    };
    let Some(map) = c.mapping(value) else {
        return;
    };
    if map.contains_key("entity") {
        c.shape(value, &CUSTOM);
        if let Some(entity) = map.get("entity").and_then(Value::as_str) {
            if entity != "testjob" {
                c.at("entity", |c| {
                    c.error(format!(
                        "only `testjob` queries can be compared, got {}",
                        quote(entity)
                    ))
                });
            }
        }
    } else {
        c.shape(value, &NAMED);
    }
}

fn compare(c: &mut Checker<'_>, value: &Value) {
    static COMPARE: Shape = Shape {
        what: "compare",
        fields: &[
            opt("blacklist", Rule::StrList),
            opt("query", Rule::Custom(query)),
        ],
        unknown: Unknown::Warn,
    };
    c.shape(value, &COMPARE);
}

impl Checker<'_> {
    /// `notify:`.
    pub(crate) fn notify(&mut self, value: &Value) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        self.fields(map, &[NOTIFY], &[], Unknown::Warn, "notify");
        if map.contains_key("callback") && map.contains_key("callbacks") {
            self.at("callbacks", |c| {
                c.error(
                    "cannot be used together with `callback`; put every callback in `callbacks`",
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn email_addresses() {
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "root@localhost",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@example",
            "a@.com",
            "a@b@c.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
