//! YAML 1.1 scalar resolution and explicit tags, as PyYAML 6 does them.
//!
//! PyYAML's `Resolver` picks a tag for a plain scalar (or one tagged with
//! the non-specific `!`) by matching regular expressions; its
//! `SafeConstructor` then converts the text. Both steps are reproduced here
//! by hand-written matchers of the same languages:
//!
//! | tag   | PyYAML 6 expression (anchored with `^...$`) |
//! |-------|---------------------------------------------|
//! | null  | `~ \| null \| Null \| NULL \|` (empty)      |
//! | bool  | `yes\|Yes\|YES\|no\|No\|NO\|true\|True\|TRUE\|false\|False\|FALSE\|on\|On\|ON\|off\|Off\|OFF` |
//! | int   | `[-+]?0b[0-1_]+ \| [-+]?0[0-7_]+ \| [-+]?(0\|[1-9][0-9_]*) \| [-+]?0x[0-9a-fA-F_]+ \| [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+` |
//! | float | `[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)? \| \.[0-9][0-9_]*([eE][-+][0-9]+)? \| [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* \| [-+]?\.(inf\|Inf\|INF) \| \.(nan\|NaN\|NAN)` |
//! | timestamp | `YYYY-MM-DD` or a date and time |
//! | merge | `<<` |
//! | value | `=` |
//! | yaml  | `!`, `&` or `*` |
//!
//! Consequences worth knowing: `010` is 8, `1:30` is 90, `1e3` and `-.5`
//! are strings but `1.0e+3` is a float, `y`/`n` are strings, `1.2.3` is a
//! string. As in Python, `$` also matches before one final newline, so
//! `! "3\n"` is the integer 3.
//!
//! Differences from PyYAML, by design:
//! - timestamps (implicit or `!!timestamp`) stay [`Value::String`]s with
//!   their text;
//! - integers beyond 64 bits become [`Value::Float`]s (Python keeps exact
//!   big integers);
//! - `!!binary` is kept as a [`Value::Tagged`] holding the base64 text
//!   (unchecked, not decoded);
//! - only ASCII digits are digits (Python's `int()` also takes other
//!   scripts' digits).

use super::value::{Tagged, Value};

/// The prefix of the tags of the YAML type repository (`!!` by default).
pub(crate) const CORE: &str = "tag:yaml.org,2002:";

/// 2⁶³ as a float: the first float beyond `i64`.
pub(crate) const TWO_POW_63: f64 = (1u64 << 63) as f64;

/// The tag that marks a decimal.
pub(crate) const DECIMAL_TAG: &str = "tag:yaml.org,2002:python/object/apply:decimal.Decimal";

/// A resolved scalar, before it is placed into its parent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// An ordinary value.
    Value(Value),
    /// `<<`: a merge key when used as a mapping key, an error elsewhere.
    Merge(String),
    /// `=` (the YAML 1.1 "value" type): a string key when used as a mapping
    /// key (as PyYAML does), an error elsewhere.
    ValueKey(String),
}

/// What a (normalised) tag asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `!`: resolve as if untagged and plain.
    NonSpecific,
    Str,
    Int,
    Float,
    Bool,
    Null,
    Binary,
    Timestamp,
    Merge,
    ValueType,
    YamlType,
    Seq,
    Map,
    /// `!!python/tuple`: a sequence.
    Tuple,
    /// `!!python/object/apply:decimal.Decimal`.
    Decimal,
    /// Anything else: kept opaque in a [`Value::Tagged`].
    Other,
}

impl TagKind {
    pub(crate) fn of(tag: &str) -> TagKind {
        if tag == "!" {
            return TagKind::NonSpecific;
        }
        if tag == DECIMAL_TAG {
            return TagKind::Decimal;
        }
        match tag.strip_prefix(CORE) {
            Some("str") => TagKind::Str,
            Some("int") => TagKind::Int,
            Some("float") => TagKind::Float,
            Some("bool") => TagKind::Bool,
            Some("null") => TagKind::Null,
            Some("binary") => TagKind::Binary,
            Some("timestamp") => TagKind::Timestamp,
            Some("merge") => TagKind::Merge,
            Some("value") => TagKind::ValueType,
            Some("yaml") => TagKind::YamlType,
            Some("seq") => TagKind::Seq,
            Some("map") => TagKind::Map,
            Some("python/tuple") => TagKind::Tuple,
            _ => TagKind::Other,
        }
    }

    /// The kind of node this tag requires, if it is one PyYAML checks.
    pub(crate) fn required_node(self) -> Option<&'static str> {
        match self {
            TagKind::Str
            | TagKind::Int
            | TagKind::Float
            | TagKind::Bool
            | TagKind::Null
            | TagKind::Binary
            | TagKind::Timestamp
            | TagKind::Merge
            | TagKind::ValueType
            | TagKind::YamlType => Some("scalar"),
            TagKind::Seq | TagKind::Tuple => Some("sequence"),
            TagKind::Map => Some("mapping"),
            TagKind::NonSpecific | TagKind::Decimal | TagKind::Other => None,
        }
    }
}

/// The error for a tag PyYAML's SafeLoader has no constructor for.
fn no_constructor(tag: &str) -> String {
    format!("could not determine a constructor for the tag '{CORE}{tag}'")
}

// ---------------------------------------------------------------------------
// Implicit resolution

/// What PyYAML's resolver decides for a plain scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Implicit {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Merge,
    ValueType,
    YamlType,
    Str,
}

fn classify(text: &str) -> Implicit {
    if text.is_empty() {
        return Implicit::Null;
    }
    // Python's `$` also matches before a final newline. PyYAML looks up its
    // resolvers by the first character of the full text, so "\n" alone is a
    // string, not the empty null.
    let core = text.strip_suffix('\n').unwrap_or(text);
    if core.is_empty() {
        return Implicit::Str;
    }
    if is_bool(core) {
        Implicit::Bool
    } else if is_null(core) {
        Implicit::Null
    } else if is_float(core) {
        Implicit::Float
    } else if is_int(core) {
        Implicit::Int
    } else if is_timestamp(core) {
        Implicit::Timestamp
    } else if core == "<<" {
        Implicit::Merge
    } else if core == "=" {
        Implicit::ValueType
    } else if matches!(core, "!" | "&" | "*") {
        Implicit::YamlType
    } else {
        Implicit::Str
    }
}

fn is_bool(s: &str) -> bool {
    matches!(
        s,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_null(s: &str) -> bool {
    matches!(s, "~" | "null" | "Null" | "NULL")
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

/// `[0-9_]*`: the length of the leading run.
fn digits_us(s: &[u8]) -> usize {
    s.iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count()
}

/// `(:[0-5]?[0-9])+` followed by one of `end`: returns the rest after the
/// groups, or `None` if there is not at least one valid group.
fn sexagesimal_groups(mut s: &[u8]) -> Option<&[u8]> {
    let mut groups = 0;
    while let Some(rest) = s.strip_prefix(b":") {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let ok = match n {
            1 => true,
            2 => rest[0] <= b'5',
            _ => false,
        };
        if !ok {
            return None;
        }
        s = &rest[n..];
        groups += 1;
    }
    (groups > 0).then_some(s)
}

/// `[eE][-+][0-9]+` exactly.
fn is_exponent(s: &[u8]) -> bool {
    matches!(s, [b'e' | b'E', b'-' | b'+', digits @ ..] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
}

fn is_int(s: &str) -> bool {
    let body = strip_sign(s).as_bytes();
    if let Some(rest) = body.strip_prefix(b"0b") {
        return !rest.is_empty() && rest.iter().all(|c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(rest) = body.strip_prefix(b"0x") {
        return !rest.is_empty() && rest.iter().all(|c| c.is_ascii_hexdigit() || *c == b'_');
    }
    match body {
        [b'0'] => true,
        [b'0', rest @ ..] => rest.iter().all(|c| matches!(c, b'0'..=b'7' | b'_')),
        [b'1'..=b'9', rest @ ..] => {
            let n = digits_us(rest);
            let rest = &rest[n..];
            rest.is_empty() || sexagesimal_groups(rest).is_some_and(<[u8]>::is_empty)
        }
        _ => false,
    }
}

fn is_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let bytes = s.as_bytes();
    // `\.[0-9][0-9_]*([eE][-+][0-9]+)?` (no sign allowed).
    if let [b'.', first, rest @ ..] = bytes {
        if first.is_ascii_digit() {
            let n = digits_us(rest);
            let rest = &rest[n..];
            if rest.is_empty() || is_exponent(rest) {
                return true;
            }
        }
    }
    let body = strip_sign(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let body = body.as_bytes();
    let [first, rest @ ..] = body else {
        return false;
    };
    if !first.is_ascii_digit() {
        return false;
    }
    let rest = &rest[digits_us(rest)..];
    // `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`
    if let Some(frac) = rest.strip_prefix(b".") {
        let tail = &frac[digits_us(frac)..];
        return tail.is_empty() || is_exponent(tail);
    }
    // `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`
    match sexagesimal_groups(rest).and_then(|r| r.strip_prefix(b".")) {
        Some(frac) => digits_us(frac) == frac.len(),
        None => false,
    }
}

/// `n` ASCII digits.
fn digits_exact(s: &[u8], n: usize) -> bool {
    s.len() >= n && s[..n].iter().all(u8::is_ascii_digit)
}

/// 1 or 2 digits; returns how many (the regex `[0-9][0-9]?` is greedy, but
/// what follows is never a digit, so greediness cannot hurt).
fn one_or_two_digits(s: &[u8]) -> Option<usize> {
    match s {
        [a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => Some(2),
        [a, ..] if a.is_ascii_digit() => Some(1),
        _ => None,
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    // YYYY-MM-DD
    if b.len() == 10
        && digits_exact(b, 4)
        && b[4] == b'-'
        && digits_exact(&b[5..], 2)
        && b[7] == b'-'
        && digits_exact(&b[8..], 2)
    {
        return true;
    }
    // YYYY-M?M-D?D([Tt]|[ \t]+)H?H:MM:SS(\.[0-9]*)?([ \t]*(Z|[-+]H?H(:MM)?))?
    let mut i = 0;
    if !digits_exact(b, 4) || b.get(4) != Some(&b'-') {
        return false;
    }
    i += 5;
    let Some(n) = one_or_two_digits(&b[i..]) else {
        return false;
    };
    i += n;
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(n) = one_or_two_digits(&b[i..]) else {
        return false;
    };
    i += n;
    match b.get(i) {
        Some(b'T' | b't') => i += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        _ => return false,
    }
    let Some(n) = one_or_two_digits(&b[i..]) else {
        return false;
    };
    i += n;
    for _ in 0..2 {
        if b.get(i) != Some(&b':') || !digits_exact(&b[i + 1..], 2) {
            return false;
        }
        i += 3;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if i == b.len() {
        return true;
    }
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'-' | b'+') => {
            i += 1;
            let Some(n) = one_or_two_digits(&b[i..]) else {
                return false;
            };
            i += n;
            if i == b.len() {
                return true;
            }
            b[i] == b':' && b.len() == i + 3 && digits_exact(&b[i + 1..], 2)
        }
        _ => false,
    }
}

/// Resolves a plain scalar (or one tagged `!`) as PyYAML's resolver and
/// SafeConstructor do. Errors are PyYAML's construction errors.
pub(crate) fn resolve_implicit(text: String) -> Result<Scalar, String> {
    let value = match classify(&text) {
        Implicit::Null => Value::Null,
        Implicit::Bool => Value::Bool(construct_bool(&text)?),
        Implicit::Int => construct_int(&text)?,
        Implicit::Float => Value::Float(construct_float(&text)?),
        Implicit::Timestamp | Implicit::Str => Value::String(text),
        Implicit::Merge => return Ok(Scalar::Merge(text)),
        Implicit::ValueType => return Ok(Scalar::ValueKey(text)),
        Implicit::YamlType => return Err(no_constructor("yaml")),
    };
    Ok(Scalar::Value(value))
}

/// Constructs a scalar node that carries an explicit tag (already
/// normalised to its full form, e.g. `tag:yaml.org,2002:int`).
pub(crate) fn construct_tagged_scalar(tag: &str, text: String) -> Result<Scalar, String> {
    let value = match TagKind::of(tag) {
        TagKind::NonSpecific => return resolve_implicit(text),
        TagKind::Str | TagKind::Timestamp => Value::String(text),
        TagKind::Int => construct_int(&text)?,
        TagKind::Float => Value::Float(construct_float(&text)?),
        TagKind::Bool => Value::Bool(construct_bool(&text)?),
        TagKind::Null => Value::Null,
        TagKind::Merge => return Ok(Scalar::Merge(text)),
        TagKind::ValueType => return Ok(Scalar::ValueKey(text)),
        TagKind::YamlType => return Err(no_constructor("yaml")),
        TagKind::Seq | TagKind::Tuple => {
            return Err("expected a sequence node, but found scalar".into())
        }
        TagKind::Map => return Err("expected a mapping node, but found scalar".into()),
        TagKind::Decimal => return Err(decimal_form_error()),
        TagKind::Binary | TagKind::Other => Value::Tagged(Box::new(Tagged {
            tag: tag.to_owned(),
            value: Value::String(text),
        })),
    };
    Ok(Scalar::Value(value))
}

pub(crate) fn decimal_form_error() -> String {
    "cannot construct decimal.Decimal: expected a sequence holding one string (e.g. [\"12.5\"])"
        .into()
}

/// `Decimal(...)` from the items of `!!python/object/apply:decimal.Decimal`.
pub(crate) fn construct_decimal(items: Vec<Value>) -> Result<Value, String> {
    match <[Value; 1]>::try_from(items) {
        Ok([Value::String(text)]) => {
            if is_py_decimal(&text) {
                Ok(Value::Decimal(text))
            } else {
                Err(format!("invalid literal for decimal.Decimal: {text:?}"))
            }
        }
        _ => Err(decimal_form_error()),
    }
}

// ---------------------------------------------------------------------------
// Construction (SafeConstructor.construct_yaml_*)

fn construct_bool(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!("cannot construct a bool from {text:?}")),
    }
}

/// A Python integer that may not fit in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PyInt {
    Exact(i128),
    Approx(f64),
}

impl PyInt {
    fn negate(self) -> PyInt {
        match self {
            PyInt::Exact(i) => PyInt::Exact(-i),
            PyInt::Approx(f) => PyInt::Approx(-f),
        }
    }

    fn to_f64(self) -> f64 {
        match self {
            PyInt::Exact(i) => i as f64,
            PyInt::Approx(f) => f,
        }
    }

    fn into_value(self) -> Value {
        match self {
            PyInt::Exact(i) => match i64::try_from(i) {
                Ok(small) => Value::Int(small),
                Err(_) => Value::Float(i as f64),
            },
            PyInt::Approx(f) => Value::Float(f),
        }
    }
}

/// Python's `int(text, base)`: surrounding whitespace, one sign, for bases
/// 2/8/16 an optional `0b`/`0o`/`0x` prefix, then at least one digit.
/// (Underscores were removed by the caller, as PyYAML does.)
fn py_int(text: &str, base: u32) -> Result<PyInt, String> {
    let invalid = || format!("invalid literal for int() with base {base}: {text:?}");
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let prefix = match base {
        2 => Some("0b"),
        8 => Some("0o"),
        16 => Some("0x"),
        _ => None,
    };
    let digits = match prefix {
        Some(p) if s.len() >= 2 && s[..2].eq_ignore_ascii_case(p) => &s[2..],
        _ => s,
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut exact: Option<i128> = Some(0);
    let mut approx = 0f64;
    for c in digits.chars() {
        let d = c.to_digit(base).ok_or_else(invalid)?;
        exact = exact
            .and_then(|v| v.checked_mul(i128::from(base)))
            .and_then(|v| v.checked_add(i128::from(d)));
        approx = approx * f64::from(base) + f64::from(d);
    }
    let magnitude = match exact {
        Some(v) => PyInt::Exact(v),
        // Correctly rounded for decimal digits; close enough otherwise.
        None if base == 10 => PyInt::Approx(digits.parse::<f64>().unwrap_or(approx)),
        None => PyInt::Approx(approx),
    };
    Ok(if negative {
        magnitude.negate()
    } else {
        magnitude
    })
}

/// `SafeConstructor.construct_yaml_int`.
fn construct_int(text: &str) -> Result<Value, String> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let empty = || format!("cannot construct an int from {text:?}");
    let first = cleaned.chars().next().ok_or_else(empty)?;
    let negative = first == '-';
    let s = if first == '-' || first == '+' {
        &cleaned[1..]
    } else {
        cleaned.as_str()
    };
    let magnitude = if s == "0" {
        PyInt::Exact(0)
    } else if let Some(rest) = s.strip_prefix("0b") {
        py_int(rest, 2)?
    } else if let Some(rest) = s.strip_prefix("0x") {
        py_int(rest, 16)?
    } else if s.is_empty() {
        return Err(empty());
    } else if s.starts_with('0') {
        py_int(s, 8)?
    } else if s.contains(':') {
        let mut total = PyInt::Exact(0);
        let mut base = PyInt::Exact(1);
        for part in s.rsplit(':') {
            let digit = py_int(part, 10)?;
            total = match (total, digit, base) {
                (PyInt::Exact(t), PyInt::Exact(d), PyInt::Exact(b)) => {
                    match d.checked_mul(b).and_then(|x| x.checked_add(t)) {
                        Some(v) => PyInt::Exact(v),
                        None => PyInt::Approx(t as f64 + d as f64 * b as f64),
                    }
                }
                (t, d, b) => PyInt::Approx(t.to_f64() + d.to_f64() * b.to_f64()),
            };
            base = match base {
                PyInt::Exact(b) => b
                    .checked_mul(60)
                    .map_or(PyInt::Approx(b as f64 * 60.0), PyInt::Exact),
                PyInt::Approx(b) => PyInt::Approx(b * 60.0),
            };
        }
        total
    } else {
        py_int(s, 10)?
    };
    Ok(if negative {
        magnitude.negate()
    } else {
        magnitude
    }
    .into_value())
}

/// Python's `float(text)`: surrounding whitespace, a sign, decimal digits
/// with an optional fraction and exponent, or `inf`/`infinity`/`nan`.
fn py_float(text: &str) -> Result<f64, String> {
    let s = text.trim();
    let valid_chars = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
    match s.parse::<f64>() {
        Ok(f) if valid_chars => Ok(f),
        _ => Err(format!("could not convert string to float: {text:?}")),
    }
}

/// `SafeConstructor.construct_yaml_float`.
fn construct_float(text: &str) -> Result<f64, String> {
    let cleaned: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_lowercase();
    let first = cleaned
        .chars()
        .next()
        .ok_or_else(|| format!("cannot construct a float from {text:?}"))?;
    let sign = if first == '-' { -1.0 } else { 1.0 };
    let s = if first == '-' || first == '+' {
        &cleaned[1..]
    } else {
        cleaned.as_str()
    };
    if s == ".inf" {
        Ok(sign * f64::INFINITY)
    } else if s == ".nan" {
        Ok(f64::NAN)
    } else if s.contains(':') {
        let mut total = 0.0;
        let mut base = 1.0;
        for part in s.rsplit(':') {
            total += py_float(part)? * base;
            base *= 60.0;
        }
        Ok(sign * total)
    } else {
        Ok(sign * py_float(s)?)
    }
}

/// Whether `decimal.Decimal(text)` accepts `text`.
fn is_py_decimal(text: &str) -> bool {
    let s = text.trim().to_ascii_lowercase();
    let s = strip_sign(&s);
    // digits with single underscores between digits
    fn digits(s: &[u8]) -> usize {
        let mut i = 0;
        while i < s.len() {
            let underscore_between_digits = s[i] == b'_'
                && i > 0
                && s[i - 1].is_ascii_digit()
                && s.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !(s[i].is_ascii_digit() || underscore_between_digits) {
                break;
            }
            i += 1;
        }
        i
    }
    if matches!(s, "inf" | "infinity") {
        return true;
    }
    for nan in ["snan", "nan"] {
        if let Some(rest) = s.strip_prefix(nan) {
            return digits(rest.as_bytes()) == rest.len();
        }
    }
    let b = s.as_bytes();
    let int_len = digits(b);
    let mut i = int_len;
    let mut frac_len = 0;
    if b.get(i) == Some(&b'.') {
        frac_len = digits(&b[i + 1..]);
        i += 1 + frac_len;
    }
    if int_len == 0 && frac_len == 0 {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if b[i] != b'e' {
        return false;
    }
    let exp = strip_sign(&s[i + 1..]).as_bytes();
    !exp.is_empty() && digits(exp) == exp.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Result<Scalar, String> {
        resolve_implicit(text.to_owned())
    }

    fn v(text: &str) -> Value {
        match plain(text) {
            Ok(Scalar::Value(v)) => v,
            other => panic!("{text:?} resolved to {other:?}"),
        }
    }

    #[test]
    fn ints() {
        assert_eq!(v("010"), Value::Int(8));
        assert_eq!(v("0b101"), Value::Int(5));
        assert_eq!(v("-0x1F"), Value::Int(-31));
        assert_eq!(v("1_000"), Value::Int(1000));
        assert_eq!(v("1:30"), Value::Int(90));
        assert_eq!(v("-1:30"), Value::Int(-90));
        assert_eq!(v("190:20:30"), Value::Int(685_230));
        assert_eq!(v("0_7"), Value::Int(7));
        assert_eq!(v("+0"), Value::Int(0));
        assert_eq!(v("1_"), Value::Int(1));
        assert_eq!(v("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(v("9223372036854775808"), Value::Float(TWO_POW_63));
        assert_eq!(v("0x8000000000000000"), Value::Float(TWO_POW_63));
        assert_eq!(
            v("99999999999999999999999999999999999999999"),
            Value::Float(1e41)
        );
    }

    #[test]
    fn not_ints() {
        for s in [
            "0o10", "09", "1:60", "0b", "0x", "- 1", "_1", "1:2:3x", "0b2", "+", "-",
        ] {
            assert!(matches!(v(s), Value::String(_)), "{s}");
        }
        assert_eq!(v("1__"), Value::Int(1));
    }

    #[test]
    fn int_constructor_errors() {
        assert!(plain("0x_").unwrap_err().contains("base 16"));
        assert!(plain("0b_").unwrap_err().contains("base 2"));
    }

    #[test]
    fn floats() {
        assert_eq!(v("1.0e+3"), Value::Float(1000.0));
        assert_eq!(v("1.e+3"), Value::Float(1000.0));
        assert_eq!(v(".5"), Value::Float(0.5));
        assert_eq!(v("0."), Value::Float(0.0));
        assert_eq!(v("1:30.5"), Value::Float(90.5));
        assert_eq!(v("1_000.5"), Value::Float(1000.5));
        assert_eq!(v(".1_0"), Value::Float(0.1));
        assert_eq!(v("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert_eq!(v("+.INF"), Value::Float(f64::INFINITY));
        assert!(matches!(v(".NaN"), Value::Float(f) if f.is_nan()));
        for s in [
            "1e3",
            "1.0e3",
            "-.5",
            "+.5",
            "-.nan",
            ".",
            "._",
            "1.2.3",
            "1:2:3.5e+1",
            ".inF",
        ] {
            assert!(matches!(v(s), Value::String(_)), "{s}");
        }
    }

    #[test]
    fn bools_and_nulls() {
        for s in [
            "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(v(s), Value::Bool(true), "{s}");
        }
        for s in [
            "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(v(s), Value::Bool(false), "{s}");
        }
        for s in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(v(s), Value::Null, "{s}");
        }
        for s in ["y", "n", "Y", "oN", "nUll", "\n"] {
            assert!(matches!(v(s), Value::String(_)), "{s:?}");
        }
    }

    #[test]
    fn trailing_newline_like_python_dollar() {
        assert_eq!(v("3\n"), Value::Int(3));
        assert_eq!(v("1.5\n"), Value::Float(1.5));
        assert_eq!(v("~\n"), Value::Null);
        // PyYAML raises a KeyError looking up "true\n".
        assert!(plain("true\n").is_err());
        assert_eq!(v("3\n\n"), Value::from("3\n\n"));
    }

    #[test]
    fn timestamps_stay_strings() {
        assert!(is_timestamp("2020-01-15"));
        assert!(is_timestamp("2001-12-14t21:59:43.10-05:00"));
        assert!(is_timestamp("2001-12-14 21:59:43.10 -5"));
        assert!(is_timestamp("2001-1-4 1:59:43Z"));
        assert!(!is_timestamp("2001-1-4"));
        assert!(!is_timestamp("2001-12-14 21:59:43.10 -05:0"));
        assert_eq!(v("2020-01-15"), Value::from("2020-01-15"));
    }

    #[test]
    fn special_plain_scalars() {
        assert_eq!(plain("<<"), Ok(Scalar::Merge("<<".into())));
        assert_eq!(plain("="), Ok(Scalar::ValueKey("=".into())));
        assert!(plain("*").unwrap_err().contains("tag:yaml.org,2002:yaml"));
    }

    #[test]
    fn explicit_tags() {
        let int = |t: &str| construct_tagged_scalar("tag:yaml.org,2002:int", t.into());
        assert_eq!(int("3"), Ok(Scalar::Value(Value::Int(3))));
        assert_eq!(int(" 7"), Ok(Scalar::Value(Value::Int(7))));
        assert_eq!(int("--5"), Ok(Scalar::Value(Value::Int(5))));
        assert_eq!(int("0o17"), Ok(Scalar::Value(Value::Int(15))));
        assert_eq!(int("1:-30"), Ok(Scalar::Value(Value::Int(30))));
        assert_eq!(int("0b0b1"), Ok(Scalar::Value(Value::Int(1))));
        for bad in ["abc", "", "1.5", "-", "09"] {
            assert!(int(bad).is_err(), "{bad:?}");
        }
        let float = |t: &str| construct_tagged_scalar("tag:yaml.org,2002:float", t.into());
        assert_eq!(float("1e3"), Ok(Scalar::Value(Value::Float(1000.0))));
        assert_eq!(float("inf"), Ok(Scalar::Value(Value::Float(f64::INFINITY))));
        assert_eq!(float("1_000"), Ok(Scalar::Value(Value::Float(1000.0))));
        assert_eq!(float(" 2.5 "), Ok(Scalar::Value(Value::Float(2.5))));
        assert_eq!(float("3"), Ok(Scalar::Value(Value::Float(3.0))));
        assert_eq!(float("1:30"), Ok(Scalar::Value(Value::Float(90.0))));
        for bad in ["abc", "", "0x10", "-", "1::2"] {
            assert!(float(bad).is_err(), "{bad:?}");
        }
        let boolean = |t: &str| construct_tagged_scalar("tag:yaml.org,2002:bool", t.into());
        assert_eq!(boolean("oN"), Ok(Scalar::Value(Value::Bool(true))));
        assert!(boolean("y").is_err());
        let null = construct_tagged_scalar("tag:yaml.org,2002:null", "abc".into());
        assert_eq!(null, Ok(Scalar::Value(Value::Null)));
        let s = construct_tagged_scalar("tag:yaml.org,2002:str", "3".into());
        assert_eq!(s, Ok(Scalar::Value(Value::from("3"))));
        let custom = construct_tagged_scalar("!custom", "3".into()).unwrap();
        assert_eq!(
            custom,
            Scalar::Value(Value::from(Tagged {
                tag: "!custom".into(),
                value: Value::from("3")
            }))
        );
        assert!(construct_tagged_scalar("tag:yaml.org,2002:seq", "a".into()).is_err());
        assert!(construct_tagged_scalar(DECIMAL_TAG, "1".into()).is_err());
    }

    #[test]
    fn decimals() {
        for ok in [
            "1.5", "-1", "+.5", "5.", "1e10", "1.5E-3", "Infinity", "-inf", "NaN", "snan12",
            " 1.5 ", "1_000",
        ] {
            assert!(is_py_decimal(ok), "{ok}");
        }
        for bad in [
            "", ".", "abc", "1e", "1.5.5", "1__0", "_1", "e5", "0x10", "nan1.5",
        ] {
            assert!(!is_py_decimal(bad), "{bad}");
        }
        assert_eq!(
            construct_decimal(vec![Value::from("12.5")]),
            Ok(Value::Decimal("12.5".into()))
        );
        assert!(construct_decimal(vec![Value::from("x")]).is_err());
        assert!(construct_decimal(vec![Value::Float(1.5)]).is_err());
        assert!(construct_decimal(vec![]).is_err());
    }

    #[test]
    fn tag_kinds() {
        assert_eq!(TagKind::of("!"), TagKind::NonSpecific);
        assert_eq!(
            TagKind::of("tag:yaml.org,2002:python/tuple"),
            TagKind::Tuple
        );
        assert_eq!(
            TagKind::of("tag:yaml.org,2002:python/name:os.system"),
            TagKind::Other
        );
        assert_eq!(TagKind::of("!int"), TagKind::Other);
        assert_eq!(TagKind::Int.required_node(), Some("scalar"));
        assert_eq!(TagKind::Other.required_node(), None);
    }
}
