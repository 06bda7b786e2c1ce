//! The validator's toolkit: a walker that knows its path, and the small
//! rule language the tables of the other modules are written in.

use crate::yaml::{Mapping, Value};

use super::super::report::Issue;
use super::super::timeout::Timeout;
use super::super::Options;

/// How a value is named in messages: `the string "x"`, `the integer 3`,
/// `a list`, ...
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null (an empty value)".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {}", float_text(*f)),
        Value::Decimal(d) => format!("the number {d}"),
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// Like [`describe`], but numbers are shown bare: `0`, `1.5`.
pub(crate) fn describe_short(value: &Value) -> String {
    match value {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        other => describe(other),
    }
}

fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A string in double quotes, shortened to 60 characters.
pub(crate) fn quote(s: &str) -> String {
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{:?}", head + "...")
    } else {
        format!("{s:?}")
    }
}

/// ` (did you mean `x`?)` when `word` is close to one of `choices`
/// (same letters in another case, `_` for `-`, or one or two typos), else
/// the empty string.
pub(crate) fn did_you_mean(word: &str, choices: &[&str]) -> String {
    suggest(word, choices)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn suggest<'c>(word: &str, choices: &[&'c str]) -> Option<&'c str> {
    if word.is_empty() || word.len() > 64 {
        return None;
    }
    let folded = |s: &str| s.to_lowercase().replace('_', "-");
    let word_folded = folded(word);
    if let Some(c) = choices.iter().find(|c| folded(c) == word_folded) {
        return Some(c);
    }
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    choices
        .iter()
        .map(|c| (levenshtein(&word_folded, &folded(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or_else(|| {
            // An abbreviation: `mins` for `minutes`.
            choices
                .iter()
                .find(|c| {
                    word.len() >= 3
                        && c.len() > word.len() + 2
                        && c.len() < 2 * word.len()
                        && word.get(..3).is_some_and(|prefix| c.starts_with(prefix))
                        && is_subsequence(word, c)
                })
                .copied()
        })
}

/// Whether the characters of `short` appear in `long` in order.
fn is_subsequence(short: &str, long: &str) -> bool {
    let mut rest = long.chars();
    short.chars().all(|c| rest.any(|l| l == c))
}

/// Edit distance counting a swap of two neighbours as one edit
/// (`hots` → `host`).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j - 1] + cost)
                .min(previous[j] + 1)
                .min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The path segment of a key: `name`, or `["odd key"]`, `[3]`.
pub(crate) fn key_segment(key: &Value) -> String {
    match key {
        Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            s.clone()
        }
        Value::String(s) => format!("[{s:?}]"),
        Value::Int(i) => format!("[{i}]"),
        Value::Bool(b) => format!("[{b}]"),
        Value::Null => "[null]".to_owned(),
        Value::Float(f) => format!("[{}]", float_text(*f)),
        other => format!("[<{}>]", other.type_name()),
    }
}

/// What to do with keys a [`Shape`] does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// LAVA's submit schema refuses them: an error.
    Error,
    /// Only LAVA's strict mode refuses them: a warning.
    Warn,
    /// Not reported (the caller does not know what the mapping is).
    Ignore,
}

/// How to check one value.
#[derive(Clone, Copy)]
pub(crate) enum Rule {
    /// Anything.
    Any,
    /// A string.
    Str,
    /// A string of at least one character.
    NonEmptyStr,
    /// `true` or `false`.
    Bool,
    /// Any mapping.
    Map,
    /// A list of strings.
    StrList,
    /// A string or a list of strings.
    StrOrStrList,
    /// A non-empty string or a list of non-empty strings.
    Prompts,
    /// Exactly this string.
    Literal(&'static str),
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// An integer ≥ this.
    IntMin(i64),
    /// A timeout value.
    Timeout,
    /// A mapping of this shape.
    Struct(&'static Shape),
    /// A downloadable resource (`url`, `compression`, ...) with these
    /// extra fields.
    Resource(&'static [Field]),
    /// A mapping of labels to resources with these extra fields; `true`
    /// when at least one label is required.
    Images(&'static [Field], bool),
    /// A list whose items follow the rule.
    ListOf(&'static Rule),
    /// Checked by code.
    Custom(fn(&mut Checker<'_>, &Value)),
}

/// One key of a mapping.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub required: bool,
    pub rule: Rule,
}

/// A required key.
pub(crate) const fn req(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: true,
        rule,
    }
}

/// An optional key.
pub(crate) const fn opt(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: false,
        rule,
    }
}

/// A mapping with known keys.
pub(crate) struct Shape {
    /// How the mapping is named in warnings: "a test definition".
    pub what: &'static str,
    pub fields: &'static [Field],
    pub unknown: Unknown,
}

/// Walks a document, keeping the current path and the findings.
pub(crate) struct Checker<'o> {
    pub(crate) options: &'o Options,
    path: String,
    marks: Vec<usize>,
    pub(crate) errors: Vec<Issue>,
    pub(crate) warnings: Vec<Issue>,
}

impl<'o> Checker<'o> {
    pub(crate) fn new(options: &'o Options) -> Self {
        Checker {
            options,
            path: String::new(),
            marks: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The current path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Runs `f` one key deeper.
    pub(crate) fn at<R>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.push(&Value::String(key.to_owned()));
        let result = f(self);
        self.pop();
        result
    }

    /// Runs `f` one key deeper, for a key of any type.
    pub(crate) fn at_key<R>(&mut self, key: &Value, f: impl FnOnce(&mut Self) -> R) -> R {
        self.push(key);
        let result = f(self);
        self.pop();
        result
    }

    /// Runs `f` at item `index` of a list.
    pub(crate) fn at_index<R>(&mut self, index: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.marks.push(self.path.len());
        self.path.push_str(&format!("[{index}]"));
        let result = f(self);
        self.pop();
        result
    }

    fn push(&mut self, key: &Value) {
        self.marks.push(self.path.len());
        let segment = key_segment(key);
        if !segment.starts_with('[') && !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(&segment);
    }

    fn pop(&mut self) {
        if let Some(mark) = self.marks.pop() {
            self.path.truncate(mark);
        }
    }

    /// An error at the current path.
    pub(crate) fn error(&mut self, message: impl Into<String>) {
        self.errors.push(Issue::new(self.path.clone(), message));
    }

    /// A warning at the current path.
    pub(crate) fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(Issue::new(self.path.clone(), message));
    }

    /// The mapping in `value`, or an error.
    pub(crate) fn mapping<'v>(&mut self, value: &'v Value) -> Option<&'v Mapping> {
        match value {
            Value::Mapping(map) => Some(map),
            other => {
                self.error(format!("must be a mapping, got {}", describe(other)));
                None
            }
        }
    }

    /// The list in `value`, or an error.
    pub(crate) fn list<'v>(&mut self, value: &'v Value) -> Option<&'v [Value]> {
        match value {
            Value::Sequence(items) => Some(items),
            other => {
                self.error(format!("must be a list, got {}", describe(other)));
                None
            }
        }
    }

    /// The string in `value`, or an error.
    pub(crate) fn string<'v>(&mut self, value: &'v Value) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.error(format!("must be a string, got {}", describe(other)));
                None
            }
        }
    }

    /// An integer ≥ `min`; `true`/`false` count as 1/0 (as in Python),
    /// with a warning.
    pub(crate) fn int_min(&mut self, value: &Value, min: i64) -> Option<i64> {
        let n = match value {
            Value::Int(n) => *n,
            Value::Bool(b) => {
                let n = i64::from(*b);
                if n >= min {
                    self.warn(format!(
                        "the boolean `{b}` is read as the number {n}; write the number"
                    ));
                }
                n
            }
            other => {
                self.error(format!(
                    "must be an integer ≥ {min}, got {}",
                    describe_short(other)
                ));
                return None;
            }
        };
        if n < min {
            self.error(format!("must be an integer ≥ {min}, got {n}"));
            return None;
        }
        Some(n)
    }

    /// A timeout value; errors name the key inside the timeout at fault.
    pub(crate) fn timeout(&mut self, value: &Value) -> Option<Timeout> {
        match Timeout::from_value(value) {
            Ok(timeout) => {
                if let Some(map) = value.as_mapping() {
                    for (key, item) in map.iter() {
                        if let (Some(key), Value::Bool(true)) = (key.as_str(), item) {
                            if key != "skip" {
                                self.at(key, |c| {
                                    c.warn("the boolean `true` is read as 1; write the number")
                                });
                            }
                        }
                    }
                }
                Some(timeout)
            }
            Err(err) => {
                match &err.key {
                    Some(key) => self.at(key, |c| c.error(err.message.clone())),
                    None => self.error(err.message.clone()),
                }
                None
            }
        }
    }

    /// Checks `value` with `rule`.
    pub(crate) fn check(&mut self, value: &Value, rule: Rule) {
        match rule {
            Rule::Any => {}
            Rule::Str => {
                self.string(value);
            }
            Rule::NonEmptyStr => {
                if self.string(value) == Some("") {
                    self.error("must not be empty");
                }
            }
            Rule::Bool => {
                if !matches!(value, Value::Bool(_)) {
                    self.error(format!("must be true or false, got {}", describe(value)));
                }
            }
            Rule::Map => {
                self.mapping(value);
            }
            Rule::StrList => self.string_list(value, false),
            Rule::StrOrStrList => {
                if !matches!(value, Value::String(_)) {
                    self.string_list_or("must be a string or a list of strings", value, false);
                }
            }
            Rule::Prompts => match value {
                Value::String(s) if s.is_empty() => self.error("must not be empty"),
                Value::String(_) => {}
                other => self.string_list_or("must be a string or a list of strings", other, true),
            },
            Rule::Literal(expected) => {
                if value.as_str() != Some(expected) {
                    self.error(format!(
                        "must be `{expected}`, got {}{}",
                        describe(value),
                        value
                            .as_str()
                            .map(|s| did_you_mean(s, &[expected]))
                            .unwrap_or_default()
                    ));
                }
            }
            Rule::OneOf(choices) => self.one_of(value, choices, "value"),
            Rule::IntMin(min) => {
                self.int_min(value, min);
            }
            Rule::Timeout => {
                self.timeout(value);
            }
            Rule::Struct(shape) => {
                self.shape(value, shape);
            }
            Rule::Resource(extra) => self.resource(value, extra),
            Rule::Images(extra, required) => self.images(value, extra, required),
            Rule::ListOf(rule) => {
                if let Some(items) = self.list(value) {
                    for (i, item) in items.iter().enumerate() {
                        self.at_index(i, |c| c.check(item, *rule));
                    }
                }
            }
            Rule::Custom(f) => f(self, value),
        }
    }

    /// A string among `choices`.
    pub(crate) fn one_of(&mut self, value: &Value, choices: &[&str], what: &str) {
        match value.as_str() {
            Some(s) if choices.contains(&s) => {}
            Some(s) => self.error(format!(
                "unknown {what} `{s}`{}; choose from {}",
                did_you_mean(s, choices),
                choices.join(", ")
            )),
            None => self.error(format!(
                "must be one of {}, got {}",
                choices.join(", "),
                describe(value)
            )),
        }
    }

    pub(crate) fn string_list(&mut self, value: &Value, non_empty: bool) {
        self.string_list_or("must be a list of strings", value, non_empty);
    }

    fn string_list_or(&mut self, message: &str, value: &Value, non_empty: bool) {
        let Value::Sequence(items) = value else {
            self.error(format!("{message}, got {}", describe(value)));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if non_empty && s.is_empty() => {
                    self.at_index(i, |c| c.error("must not be empty"))
                }
                Value::String(_) => {}
                other => self.at_index(i, |c| {
                    c.error(format!("must be a string, got {}", describe(other)))
                }),
            }
        }
    }

    /// Checks a mapping against `shape`; returns it when it is a mapping.
    pub(crate) fn shape<'v>(&mut self, value: &'v Value, shape: &Shape) -> Option<&'v Mapping> {
        let map = self.mapping(value)?;
        self.fields(map, &[shape.fields], &[], shape.unknown, shape.what);
        Some(map)
    }

    /// Checks the keys of `map`: the fields of `groups` are checked with
    /// their rules, `also` are known but checked by the caller; other keys
    /// are unknown.
    pub(crate) fn fields(
        &mut self,
        map: &Mapping,
        groups: &[&[Field]],
        also: &[&str],
        unknown: Unknown,
        what: &str,
    ) {
        let all = || groups.iter().flat_map(|g| g.iter());
        for field in all().filter(|f| f.required) {
            if !map.contains_key(field.name) {
                self.error(format!("missing required key `{}`", field.name));
            }
        }
        for (key, value) in map.iter() {
            let field = key.as_str().and_then(|k| all().find(|f| f.name == k));
            match field {
                Some(field) => self.at(field.name, |c| match field.rule {
                    Rule::OneOf(choices) => c.one_of(value, choices, field.name),
                    rule => c.check(value, rule),
                }),
                None if key.as_str().is_some_and(|k| also.contains(&k)) => {}
                None => {
                    let mut names: Vec<&str> = all().map(|f| f.name).collect();
                    names.extend_from_slice(also);
                    self.unknown_key(key, &names, unknown, what);
                }
            }
        }
    }

    /// Reports `key` as unknown among `known`.
    pub(crate) fn unknown_key(
        &mut self,
        key: &Value,
        known: &[&str],
        unknown: Unknown,
        what: &str,
    ) {
        let shown = match key.as_str() {
            Some(k) => format!("`{k}`"),
            None => describe(key),
        };
        let hint = key
            .as_str()
            .map(|k| did_you_mean(k, known))
            .unwrap_or_default();
        self.at_key(key, |c| match unknown {
            Unknown::Error => {
                let allowed = if known.is_empty() {
                    "no keys are allowed here".to_owned()
                } else {
                    format!("allowed here: {}", known.join(", "))
                };
                c.error(format!("unknown key {shown} in {what}{hint}; {allowed}"))
            }
            Unknown::Warn => c.warn(format!(
                "unknown key {shown} in {what}{hint}; ignored by validation"
            )),
            Unknown::Ignore => {}
        });
    }

    /// A downloadable file: `{url: ..., compression: ..., ...}`.
    pub(crate) fn resource(&mut self, value: &Value, extra: &[Field]) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        self.fields(map, &[RESOURCE, extra], &[], Unknown::Warn, "a resource");
    }

    /// `images:` — label → resource.
    pub(crate) fn images(&mut self, value: &Value, extra: &'static [Field], required: bool) {
        let Some(map) = self.mapping(value) else {
            return;
        };
        if required && !map.keys().any(|k| k.as_str().is_some()) {
            self.error("is empty; list at least one image as `label: {url: ...}`");
        }
        for (label, image) in map.iter() {
            self.at_key(label, |c| {
                if label.as_str().is_some() {
                    c.resource(image, extra);
                } else {
                    c.warn(format!(
                        "image labels should be strings, got {}; ignored by validation",
                        describe(label)
                    ));
                }
            });
        }
    }
}

const COMPRESSIONS: &[&str] = &["bz2", "gz", "xz", "zip"];

fn compression(checker: &mut Checker<'_>, value: &Value) {
    if !value.is_null() {
        checker.one_of(value, COMPRESSIONS, "compression");
    }
}

const RESOURCE: &[Field] = &[
    req("url", Rule::Str),
    opt("compression", Rule::Custom(compression)),
    opt("archive", Rule::Literal("tar")),
    opt("md5sum", Rule::Str),
    opt("sha256sum", Rule::Str),
    opt("sha512sum", Rule::Str),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("mins", &["days", "minutes"]), Some("minutes"));
        assert_eq!(suggest("High", &["low", "high"]), Some("high"));
        assert_eq!(suggest("u_boot", &["u-boot", "uefi"]), Some("u-boot"));
        assert_eq!(suggest("jobb", &["job", "action"]), Some("job"));
        assert_eq!(suggest("floppy", &["tftp", "tmpfs", "nfs"]), None);
        assert_eq!(suggest("", &["a"]), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("hots", "host"), 1);
        assert_eq!(levenshtein("", "ab"), 2);
        assert_eq!(suggest("hots", &["host", "guest"]), Some("host"));
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(&Value::Null), "null (an empty value)");
        assert_eq!(describe(&Value::Float(2.0)), "the number 2.0");
        assert_eq!(describe_short(&Value::Float(1.5)), "1.5");
        assert_eq!(describe(&Value::from("x".repeat(80))).len(), 73);
    }
}
