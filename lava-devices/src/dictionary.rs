//! Device dictionaries as data: parse the file into an ordered map of
//! variables, change it, and write it back.

use std::fmt;

use lava_proto::yaml::{Mapping, Value};
use minijinja::machinery::ast::{Expr, UnaryOpKind};
use minijinja::machinery::parse_expr;

use crate::context::to_yaml;
use crate::error::DictionaryError;
use crate::jinja2::python_float;

/// The value of one dictionary variable.
#[derive(Debug, Clone, PartialEq)]
pub enum DictionaryValue {
    /// A Jinja2 literal: a string, number, boolean, `none`, a list (or
    /// tuple) or a dict of literals. `{% set power_on_command = ['a', 'b'] %}`
    /// is `Literal(Sequence[a, b])`.
    Literal(Value),
    /// Any other expression, kept as its text:
    /// `'adb -s ' + fastboot_serial_number` (it is evaluated when the
    /// dictionary is rendered, against the job context and earlier
    /// variables).
    Expression(String),
}

impl DictionaryValue {
    /// The literal, if this is one.
    pub fn as_literal(&self) -> Option<&Value> {
        match self {
            DictionaryValue::Literal(v) => Some(v),
            DictionaryValue::Expression(_) => None,
        }
    }

    /// The literal string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        self.as_literal().and_then(Value::as_str)
    }
}

impl From<Value> for DictionaryValue {
    fn from(value: Value) -> Self {
        DictionaryValue::Literal(value)
    }
}

impl From<&str> for DictionaryValue {
    fn from(value: &str) -> Self {
        DictionaryValue::Literal(Value::from(value))
    }
}

impl From<String> for DictionaryValue {
    fn from(value: String) -> Self {
        DictionaryValue::Literal(Value::from(value))
    }
}

/// A device dictionary: one `{% extends 'TYPE.jinja2' %}` and
/// `{% set NAME = VALUE %}` lines, as LAVA admins write them.
///
/// [`parse`](Self::parse) keeps the text of everything it reads, so
/// [`to_text`](Self::to_text) of an unchanged dictionary gives back the very
/// same bytes (comments, blank lines, multi-line lists, `True` or `true`
/// included); a variable that is [`set`](Self::set) is written again as
/// `{% set NAME = LITERAL %}` in place, a new one is appended. The text
/// renders exactly as the original would.
///
/// What a dictionary may hold: whitespace, `{# comments #}`, exactly one
/// `{% extends %}` naming a template with a string literal, and `set`
/// tags assigning one name (values are Jinja2 expressions; whitespace
/// control such as `{%- ... -%}` is kept). Plain text outside the tags is
/// kept as it is and reported in [`warnings`](Self::warnings) (Jinja2
/// ignores it after the extends tag). Anything else (`{% block %}`,
/// `{% if %}`, `{{ ... }}`, `set` of several names or an attribute,
/// `{% set x %}...{% endset %}`) is refused with an error naming its
/// line, rather than dropped: such a file is still a valid template and
/// can be rendered with
/// [`TemplateSet::render_str`](crate::TemplateSet::render_str), but it is not
/// a plain variable map.
///
/// A name set twice keeps both lines; [`get`](Self::get) gives the last
/// value (the one a render uses), [`set`](Self::set) replaces the last,
/// [`remove`](Self::remove) removes all.
///
/// ```
/// use lava_devices::{DeviceDictionary, DictionaryValue};
/// use lava_proto::yaml::Value;
///
/// let text = "{% extends 'beaglebone-black.jinja2' %}\n\
///             {# ser2net on the lab's serial server #}\n\
///             {% set connection_command = 'telnet serial4 7001' %}\n\
///             {% set power_on_command = ['pdu on 8',\n  'sleep 2'] %}\n\
///             {% set adb_command = 'adb -s ' + serial %}\n";
/// let mut dict = DeviceDictionary::parse(text).unwrap();
/// assert_eq!(dict.device_type(), "beaglebone-black");
/// assert_eq!(dict.to_text(), text); // unchanged: byte for byte
/// assert_eq!(dict.get("connection_command").unwrap().as_str(), Some("telnet serial4 7001"));
/// assert_eq!(
///     dict.get("power_on_command"),
///     Some(&DictionaryValue::Literal(Value::Sequence(vec!["pdu on 8".into(), "sleep 2".into()])))
/// );
/// assert_eq!(
///     dict.get("adb_command"),
///     Some(&DictionaryValue::Expression("'adb -s ' + serial".into()))
/// );
///
/// dict.set("connection_command", "telnet serial4 7002").unwrap();
/// dict.set("boot_character_delay", Value::Int(10)).unwrap();
/// assert_eq!(
///     dict.to_text(),
///     "{% extends 'beaglebone-black.jinja2' %}\n\
///      {# ser2net on the lab's serial server #}\n\
///      {% set connection_command = 'telnet serial4 7002' %}\n\
///      {% set power_on_command = ['pdu on 8',\n  'sleep 2'] %}\n\
///      {% set adb_command = 'adb -s ' + serial %}\n\
///      {% set boot_character_delay = 10 %}\n"
/// );
///
/// let err = DeviceDictionary::parse("{% extends 'x.jinja2' %}\n{% if a %}{% endif %}\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 2: unsupported tag 'if' (a device dictionary holds only extends, set and comments)");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceDictionary {
    items: Vec<Item>,
    warnings: Vec<DictionaryWarning>,
}

/// Something a dictionary holds that is kept but probably a mistake: plain
/// text outside the tags (one of LAVA's own test dictionaries has a stray
/// `"` after some `set` lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictionaryWarning {
    /// The 1-based line.
    pub line: usize,
    /// What it is.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// Whitespace and comments, verbatim.
    Text(String),
    /// The extends tag: its text and the template name.
    Extends { source: String, template: String },
    /// A set tag: its text (`None` once changed) and name and value;
    /// `prefix` is the line break added before an appended tag when the
    /// text did not end with one (removed with it).
    Set {
        source: Option<String>,
        prefix: &'static str,
        name: String,
        value: DictionaryValue,
    },
}

impl DeviceDictionary {
    /// An empty dictionary extending `template` (e.g. `qemu.jinja2`).
    pub fn new(template: &str) -> Self {
        DeviceDictionary {
            items: vec![
                Item::Extends {
                    source: extends_tag(template),
                    template: template.to_string(),
                },
                Item::Text("\n".into()),
            ],
            warnings: Vec::new(),
        }
    }

    /// What [`parse`](Self::parse) kept but found suspicious (plain text
    /// outside the tags), in line order.
    pub fn warnings(&self) -> &[DictionaryWarning] {
        &self.warnings
    }

    /// Parses a dictionary file (see the type's documentation for what it
    /// may hold).
    pub fn parse(text: &str) -> Result<Self, DictionaryError> {
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        let mut pending = String::new();
        let mut pos = 0;
        let bytes = text.as_bytes();
        while pos < text.len() {
            let rest = &text[pos..];
            if rest.starts_with("{#") {
                let end = rest.find("#}").ok_or_else(|| {
                    syntax(text, pos, "the comment is not closed ('#}' is missing)")
                })?;
                pending.push_str(&rest[..end + 2]);
                pos += end + 2;
            } else if rest.starts_with("{%") {
                let end = tag_end(rest)
                    .ok_or_else(|| syntax(text, pos, "the tag is not closed ('%}' is missing)"))?;
                let source = &rest[..end];
                if !pending.is_empty() {
                    items.push(Item::Text(std::mem::take(&mut pending)));
                }
                items.push(parse_tag(text, pos, source)?);
                pos += end;
            } else if rest.starts_with("{{") {
                return Err(syntax(
                    text,
                    pos,
                    "unexpected '{{ ... }}' (a device dictionary holds only extends, set and comments)",
                ));
            } else if bytes[pos].is_ascii_whitespace() {
                let len = rest
                    .find(|c: char| !c.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                pending.push_str(&rest[..len]);
                pos += len;
            } else {
                // Plain text: kept, but it is not a variable. Jinja2 drops it
                // after the extends tag and copies it into the rendered
                // configuration before it.
                let len = ["{%", "{#", "{{"]
                    .iter()
                    .filter_map(|open| rest.find(open))
                    .min()
                    .unwrap_or(rest.len());
                let chunk = &rest[..len];
                let shown: String = chunk.trim().chars().take(30).collect();
                let seen_extends = items.iter().any(|i| matches!(i, Item::Extends { .. }));
                let line = text[..pos].matches('\n').count() + 1;
                warnings.push(DictionaryWarning {
                    line,
                    message: if seen_extends {
                        format!("text {shown:?} outside a tag is ignored when the dictionary is rendered")
                    } else {
                        format!("text {shown:?} before the extends tag is copied into the rendered configuration")
                    },
                });
                pending.push_str(chunk);
                pos += len;
            }
        }
        if !pending.is_empty() {
            items.push(Item::Text(pending));
        }
        let extends: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| matches!(item, Item::Extends { .. }))
            .map(|(i, _)| i)
            .collect();
        match extends.len() {
            0 => Err(DictionaryError::NoExtends),
            1 => Ok(DeviceDictionary { items, warnings }),
            _ => {
                let second = extends[1];
                let offset: usize = items[..second].iter().map(|i| item_text(i).len()).sum();
                Err(syntax(
                    text,
                    offset,
                    "a second extends tag (a dictionary extends exactly one template)",
                ))
            }
        }
    }

    /// The dictionary as file text (byte-identical to the parsed text for
    /// everything that was not changed).
    pub fn to_text(&self) -> String {
        self.items.iter().map(item_text).collect()
    }

    /// The template it extends, e.g. `beaglebone-black.jinja2`.
    pub fn extends(&self) -> &str {
        self.items
            .iter()
            .find_map(|item| match item {
                Item::Extends { template, .. } => Some(template.as_str()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The device type as LAVA derives it (`Device.get_extends()`): the
    /// extended template without `.jinja2`. It also names the health check
    /// (`health-checks/<type>.yaml`).
    pub fn device_type(&self) -> &str {
        let template = self.extends();
        template.strip_suffix(".jinja2").unwrap_or(template)
    }

    /// Makes the dictionary extend `template`.
    pub fn set_extends(&mut self, template: &str) {
        for item in &mut self.items {
            if let Item::Extends {
                source,
                template: t,
            } = item
            {
                *source = extends_tag(template);
                *t = template.to_string();
            }
        }
    }

    /// The value of `name` as a render sees it (the last `set` of it).
    pub fn get(&self, name: &str) -> Option<&DictionaryValue> {
        self.items.iter().rev().find_map(|item| match item {
            Item::Set { name: n, value, .. } if n == name => Some(value),
            _ => None,
        })
    }

    /// Sets `name`: replaces the value of its last `set` in place, or
    /// appends a new `set` at the end. A [`DictionaryValue::Expression`]
    /// must parse as a Jinja2 expression; a literal must have a Jinja2 form
    /// (no NaN or infinity, no tagged values, scalar dict keys).
    pub fn set(
        &mut self,
        name: &str,
        value: impl Into<DictionaryValue>,
    ) -> Result<(), DictionaryError> {
        let value = value.into();
        if !is_identifier(name) {
            return Err(DictionaryError::BadName(name.to_string()));
        }
        match &value {
            DictionaryValue::Literal(v) => {
                literal_text(v).map_err(|reason| DictionaryError::Unrepresentable {
                    name: name.to_string(),
                    reason,
                })?;
            }
            DictionaryValue::Expression(e) => {
                if e.contains("%}") || parse_expr(e).is_err() {
                    return Err(DictionaryError::Unrepresentable {
                        name: name.to_string(),
                        reason: format!("{e:?} is not a Jinja2 expression"),
                    });
                }
            }
        }
        let last = self.items.iter_mut().rev().find_map(|item| match item {
            Item::Set {
                name: n,
                value,
                source,
                ..
            } if n == name => Some((value, source)),
            _ => None,
        });
        match last {
            Some((slot, source)) => {
                *slot = value;
                *source = None;
            }
            None => {
                let prefix = if self.to_text().ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                self.items.push(Item::Set {
                    source: None,
                    prefix,
                    name: name.to_string(),
                    value,
                });
                self.items.push(Item::Text("\n".into()));
            }
        }
        Ok(())
    }

    /// Removes every `set` of `name` (with the line break after each),
    /// returning the value a render would have used.
    pub fn remove(&mut self, name: &str) -> Option<DictionaryValue> {
        let found = self.get(name).cloned();
        let mut i = 0;
        while i < self.items.len() {
            if matches!(&self.items[i], Item::Set { name: n, .. } if n == name) {
                self.items.remove(i);
                if let Some(Item::Text(text)) = self.items.get_mut(i) {
                    if let Some(rest) = text.strip_prefix('\n') {
                        *text = rest.to_string();
                    }
                    if text.is_empty() {
                        self.items.remove(i);
                    }
                }
            } else {
                i += 1;
            }
        }
        found
    }

    /// The variables in order, each with the value a render uses (a name
    /// set twice appears once, at its last `set`).
    pub fn variables(&self) -> impl Iterator<Item = (&str, &DictionaryValue)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(move |(i, item)| match item {
                Item::Set { name, value, .. } => {
                    let later = self.items[i + 1..]
                        .iter()
                        .any(|later| matches!(later, Item::Set { name: n, .. } if n == name));
                    (!later).then_some((name.as_str(), value))
                }
                _ => None,
            })
    }

    /// The number of distinct variables.
    pub fn len(&self) -> usize {
        self.variables().count()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The literal variables as a mapping (expressions left out), e.g. to
    /// show a dictionary in an API.
    pub fn literals(&self) -> Mapping {
        self.variables()
            .filter_map(|(name, value)| value.as_literal().map(|v| (Value::from(name), v.clone())))
            .collect()
    }
}

impl fmt::Display for DeviceDictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::str::FromStr for DeviceDictionary {
    type Err = DictionaryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DeviceDictionary::parse(text)
    }
}

fn item_text(item: &Item) -> String {
    match item {
        Item::Text(text) => text.clone(),
        Item::Extends { source, .. } => source.clone(),
        Item::Set {
            source: Some(source),
            prefix,
            ..
        } => format!("{prefix}{source}"),
        Item::Set {
            source: None,
            prefix,
            name,
            value,
        } => {
            let value = match value {
                // Checked by `set`.
                DictionaryValue::Literal(v) => literal_text(v).unwrap_or_else(|_| "none".into()),
                DictionaryValue::Expression(e) => e.trim().to_string(),
            };
            format!("{prefix}{{% set {name} = {value} %}}")
        }
    }
}

fn extends_tag(template: &str) -> String {
    format!("{{% extends {} %}}", string_literal(template))
}

fn syntax(text: &str, offset: usize, message: &str) -> DictionaryError {
    DictionaryError::Syntax {
        line: text[..offset.min(text.len())].matches('\n').count() + 1,
        message: message.to_string(),
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !matches!(
            name,
            "true" | "false" | "none" | "True" | "False" | "None" | "loop" | "self"
        )
}

/// The length of the tag that `rest` starts with (through its `%}`),
/// skipping string literals inside it.
fn tag_end(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut i = 2;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                } else if b == b'%' && bytes.get(i + 1) == Some(&b'}') {
                    return Some(i + 2);
                }
            }
        }
        i += 1;
    }
    None
}

/// One `{% ... %}` tag of a dictionary at `offset` in `text`.
fn parse_tag(text: &str, offset: usize, source: &str) -> Result<Item, DictionaryError> {
    let inner = &source[2..source.len() - 2];
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    let inner = inner.trim();
    let keyword_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (keyword, args) = inner.split_at(keyword_len);
    let args = args.trim();
    // Lines inside the tag count for errors about its expression.
    let at = |message: String| syntax(text, offset, &message);
    match keyword {
        "extends" => {
            let expr =
                parse_expr(args).map_err(|e| at(format!("invalid extends: {}", detail(&e))))?;
            match literal(&expr).map(|v| to_yaml(&v)) {
                Some(Ok(Value::String(template))) => Ok(Item::Extends {
                    source: source.to_string(),
                    template,
                }),
                _ => Err(at(
                    "extends must name the template with a string literal".into()
                )),
            }
        }
        "set" => {
            let (name, expr) = args.split_once('=').ok_or_else(|| {
                at(
                    "a set with no '=' (block sets are not supported in a device dictionary)"
                        .into(),
                )
            })?;
            let name = name.trim();
            if !is_identifier(name) {
                return Err(at(format!(
                    "set {name:?}: a dictionary variable is one name (no tuples or attributes)"
                )));
            }
            let expr_text = expr.trim();
            let value = expression_value(expr_text)
                .map_err(|e| at(format!("set {name}: invalid value: {}", detail(&e))))?;
            Ok(Item::Set {
                source: Some(source.to_string()),
                prefix: "",
                name: name.to_string(),
                value,
            })
        }
        "" => Err(at("an empty tag".into())),
        other => Err(at(format!(
            "unsupported tag '{other}' (a device dictionary holds only extends, set and comments)"
        ))),
    }
}

fn detail(err: &minijinja::Error) -> String {
    err.detail().unwrap_or("syntax error").to_string()
}

/// The value of a `set` expression: a literal when it is one.
fn expression_value(text: &str) -> Result<DictionaryValue, minijinja::Error> {
    let classify = |expr: &Expr<'_>| match literal(expr).map(|v| to_yaml(&v)) {
        Some(Ok(value)) => DictionaryValue::Literal(value),
        _ => DictionaryValue::Expression(text.to_string()),
    };
    match parse_expr(text) {
        Ok(expr) => Ok(classify(&expr)),
        // `{% set x = 1, 2 %}` is a tuple in Jinja2.
        Err(err) => {
            let wrapped = format!("({text})");
            let expr = parse_expr(&wrapped).map_err(|_| err)?;
            Ok(classify(&expr))
        }
    }
}

/// The value of an expression made only of literals.
fn literal(expr: &Expr<'_>) -> Option<minijinja::Value> {
    match expr {
        Expr::Const(c) => Some(c.value.clone()),
        Expr::List(l) => l
            .items
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(minijinja::Value::from),
        Expr::Tuple(t) => t
            .items
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(minijinja::Value::from),
        Expr::Map(m) => {
            let keys = m.keys.iter().map(literal).collect::<Option<Vec<_>>>()?;
            let values = m.values.iter().map(literal).collect::<Option<Vec<_>>>()?;
            Some(minijinja::Value::from_pairs(keys.into_iter().zip(values)))
        }
        Expr::UnaryOp(u) if matches!(u.op, UnaryOpKind::Neg) => {
            let v = literal(&u.expr)?;
            if let Some(i) = v.as_i64() {
                Some(minijinja::Value::from(-i))
            } else if v.is_number() {
                Some(minijinja::Value::from(-f64::try_from(v).ok()?))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A value written as a Jinja2 literal.
fn literal_text(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_literal(&mut out, value, 0)?;
    Ok(out)
}

fn write_literal(out: &mut String, value: &Value, depth: usize) -> Result<(), String> {
    if depth > 100 {
        return Err("nested too deeply".into());
    }
    match value {
        Value::Null => out.push_str("none"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_literal(*f)?),
        Value::Decimal(text) => match text.parse::<f64>() {
            Ok(f) => out.push_str(&float_literal(f)?),
            Err(_) => return Err(format!("decimal {text:?} is not a number")),
        },
        Value::String(s) => out.push_str(&string_literal(s)),
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_literal(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Mapping(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if matches!(
                    key,
                    Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_)
                ) {
                    return Err(format!("a dict key cannot be a {}", key.type_name()));
                }
                write_literal(out, key, depth + 1)?;
                out.push_str(": ");
                write_literal(out, item, depth + 1)?;
            }
            out.push('}');
        }
        Value::Tagged(tagged) => {
            return Err(format!(
                "the tagged value {} has no Jinja2 form",
                tagged.tag
            ))
        }
    }
    Ok(())
}

/// A float literal without an exponent (Jinja2 2.10 refuses `1e3`).
fn float_literal(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!("{} has no Jinja2 literal", python_float(f)));
    }
    let mut text = format!("{f}");
    if !text.contains('.') {
        text.push_str(".0");
    }
    Ok(text)
}

/// A string literal as Python's `repr` quotes it: single quotes unless the
/// text has a single quote and no double quote; backslash escapes for the
/// quote, the backslash and control characters.
fn string_literal(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_to_the_same_value() {
        let mapping = lava_proto::yaml::load(
            "{a: 'it''s', b: [1, -2.5, true, null], c: {d: \"q\\\"\\\\\\n\"}}",
        )
        .unwrap();
        let mut dict = DeviceDictionary::new("x.jinja2");
        for (key, value) in mapping.as_mapping().unwrap().iter() {
            dict.set(key.as_str().unwrap(), value.clone()).unwrap();
        }
        let text = dict.to_text();
        let back = DeviceDictionary::parse(&text).unwrap();
        assert_eq!(
            back.literals(),
            mapping.as_mapping().unwrap().clone(),
            "{text}"
        );
    }

    #[test]
    fn unrepresentable_values_are_refused() {
        let mut dict = DeviceDictionary::new("x.jinja2");
        assert!(dict.set("x", Value::Float(f64::NAN)).is_err());
        assert!(dict.set("not a name", Value::Int(1)).is_err());
        assert!(dict
            .set("x", DictionaryValue::Expression("1 +".into()))
            .is_err());
        assert!(dict
            .set("x", DictionaryValue::Expression("1 %} {% x".into()))
            .is_err());
    }

    #[test]
    fn errors_name_the_line() {
        let err = |t: &str| DeviceDictionary::parse(t).unwrap_err().to_string();
        assert_eq!(
            err("{% extends 'a.jinja2' %}\n\n{% set x = [1, %}\n"),
            "line 3: set x: invalid value: unexpected end of input, expected expression"
        );
        assert_eq!(
            err("{% extends 'a.jinja2' %}\n{{ x }}\n"),
            "line 2: unexpected '{{ ... }}' (a device dictionary holds only extends, set and comments)"
        );
        let stray =
            DeviceDictionary::parse("{% extends 'a.jinja2' %}\nconnection_command: x\n").unwrap();
        assert_eq!(
            stray.warnings(),
            [DictionaryWarning {
                line: 2,
                message: "text \"connection_command: x\" outside a tag is ignored when the dictionary is rendered".into()
            }]
        );
        assert!(stray.is_empty());
        assert_eq!(
            err("{% set x = 1 %}\n"),
            DictionaryError::NoExtends.to_string()
        );
        assert_eq!(
            err("{% extends 'a.jinja2' %}\n{% extends 'b.jinja2' %}\n"),
            "line 2: a second extends tag (a dictionary extends exactly one template)"
        );
        assert_eq!(
            err("{% extends 'a.jinja2' %}\n{# open\n"),
            "line 2: the comment is not closed ('#}' is missing)"
        );
        assert_eq!(
            err("{% extends 'a.jinja2' %}\n{% set a, b = 1, 2 %}\n"),
            "line 2: set \"a, b\": a dictionary variable is one name (no tuples or attributes)"
        );
    }

    #[test]
    fn duplicates_keep_both_lines_and_the_last_value_counts() {
        let mut dict = DeviceDictionary::parse(
            "{% extends 'a.jinja2' %}\n{% set x = 1 %}\n{% set y = 2 %}\n{% set x = 3 %}\n",
        )
        .unwrap();
        assert_eq!(
            dict.get("x"),
            Some(&DictionaryValue::Literal(Value::Int(3)))
        );
        let names: Vec<&str> = dict.variables().map(|(n, _)| n).collect();
        assert_eq!(names, ["y", "x"]);
        assert_eq!(
            dict.remove("x"),
            Some(DictionaryValue::Literal(Value::Int(3)))
        );
        assert_eq!(
            dict.to_text(),
            "{% extends 'a.jinja2' %}\n{% set y = 2 %}\n"
        );
    }

    #[test]
    fn strings_with_tag_ends_and_quotes_survive() {
        let text = "{% extends \"a.jinja2\" %}\n{% set x = '%} \\' \"' %}\n";
        let dict = DeviceDictionary::parse(text).unwrap();
        assert_eq!(dict.get("x").unwrap().as_str(), Some("%} ' \""));
        assert_eq!(dict.to_text(), text);
        let mut changed = dict.clone();
        changed.set("x", "%} ' \"").unwrap();
        assert_eq!(
            DeviceDictionary::parse(&changed.to_text())
                .unwrap()
                .get("x"),
            dict.get("x")
        );
    }
}
