//! Jinja2's (Python's) behaviour where minijinja's differs: how values
//! print, the Python methods templates call, and the filters whose results
//! differ (`indent`, `int`), plus the two helper filters that the source
//! rewrites of [`compat`](crate::compat) call.
//!
//! Everything here was checked against Jinja2 2.10 and 3.1 (the corpus
//! probes pin the behaviours real templates use).

use std::fmt::Write as _;

use minijinja::formatting::{format as py_format, FormatStyle};
use minijinja::value::{Kwargs, Tuple, Value, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};

/// Deepest container nesting the formatter walks before giving up.
const MAX_REPR_DEPTH: usize = 200;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

// ---------------------------------------------------------------------------
// Printing

/// The formatter: prints a value as Jinja2 does (`str()` of the value).
///
/// minijinja already prints Python's way, except for three things fixed
/// here: an undefined value *inside* a list or dict is `Undefined` (not
/// `undefined`), floats use Python's `repr` (`1e+16`, `inf`, `nan`), and
/// the same float rules apply inside containers.
pub(crate) fn format_value(
    out: &mut Output,
    _state: &mut State,
    value: &Value,
) -> Result<(), Error> {
    let text;
    let s: &str = match value.kind() {
        ValueKind::Undefined => return Ok(()),
        ValueKind::String => value.as_str().unwrap_or_default(),
        ValueKind::Number if !value.is_integer() => {
            text = python_float(f64::try_from(value.clone()).unwrap_or(f64::NAN));
            &text
        }
        ValueKind::Seq | ValueKind::Map => {
            let mut buf = String::new();
            repr(&mut buf, value, 0)?;
            text = buf;
            &text
        }
        _ => {
            text = value.to_string();
            &text
        }
    };
    out.write_str(s).map_err(Error::from)
}

/// Python's `repr()` of a value, as Jinja2 prints values inside containers.
pub(crate) fn repr(out: &mut String, value: &Value, depth: usize) -> Result<(), Error> {
    if depth > MAX_REPR_DEPTH {
        return Err(invalid("value nested too deeply to print"));
    }
    match value.kind() {
        ValueKind::Undefined => out.push_str("Undefined"),
        ValueKind::Number if !value.is_integer() => out.push_str(&python_float(
            f64::try_from(value.clone()).unwrap_or(f64::NAN),
        )),
        ValueKind::Seq => {
            let tuple = value.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut count = 0;
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(out, &item, depth + 1)?;
                count += 1;
            }
            if tuple && count == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let item = value.get_item(&key)?;
                repr(out, &key, depth + 1)?;
                out.push_str(": ");
                repr(out, &item, depth + 1)?;
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value:?}");
        }
    }
    Ok(())
}

/// Python's `repr(float)`: the shortest digits that read back the same
/// number, in fixed notation for exponents -4..16 and in scientific
/// notation (`1e+16`, `1.5e-05`) otherwise.
pub(crate) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let point = exp as usize + 1;
            if digits.len() > point {
                format!("{}.{}", &digits[..point], &digits[point..])
            } else {
                format!("{}{}.0", digits, "0".repeat(point - digits.len()))
            }
        } else {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

// ---------------------------------------------------------------------------
// Filters

/// Jinja2's `indent(width=4, first=False, blank=False)`.
///
/// Unlike minijinja's, a trailing newline of the input is kept
/// (`'a\nb\n'|indent(2)` is `'a\n  b\n'`), lines are split as Python's
/// `str.splitlines` splits them, and `width` may also be a string to
/// indent with (Jinja2 3). Jinja2 2.10's `indentfirst` is accepted for
/// `first`.
pub(crate) fn indent(
    value: &Value,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("indent expects a string, got {}", value.kind())))?;
    let mut width = width;
    let mut first = first.unwrap_or(false);
    let mut blank = blank.unwrap_or(false);
    if let Some(w) = kwargs.get::<Option<Value>>("width")? {
        width = Some(w);
    }
    if let Some(f) = kwargs.get::<Option<bool>>("first")? {
        first = f;
    }
    if let Some(f) = kwargs.get::<Option<bool>>("indentfirst")? {
        first = f;
    }
    if let Some(b) = kwargs.get::<Option<bool>>("blank")? {
        blank = b;
    }
    kwargs.assert_all_used()?;
    let indentation = match width {
        None => "    ".to_string(),
        Some(w) => match w.as_str() {
            Some(s) => s.to_string(),
            None => {
                let n = w
                    .as_usize()
                    .or_else(|| w.as_i64().map(|_| 0))
                    .ok_or_else(|| invalid("indent width must be an integer or a string"))?;
                if n > 4096 {
                    return Err(invalid("indent width too large"));
                }
                " ".repeat(n)
            }
        },
    };
    let with_newline = format!("{text}\n");
    let lines = python_splitlines(&with_newline);
    let mut out = String::with_capacity(text.len() + lines.len() * indentation.len());
    if blank {
        out.push_str(&lines.join(&format!("\n{indentation}")));
    } else {
        let mut it = lines.iter();
        if let Some(head) = it.next() {
            out.push_str(head);
        }
        let mut rest = it.peekable();
        if rest.peek().is_some() {
            out.push('\n');
            let joined: Vec<String> = rest
                .map(|line| {
                    if line.is_empty() {
                        String::new()
                    } else {
                        format!("{indentation}{line}")
                    }
                })
                .collect();
            out.push_str(&joined.join("\n"));
        }
    }
    if first {
        out.insert_str(0, &indentation);
    }
    Ok(if value.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    })
}

/// Python's `str.splitlines()` (line ends are not kept).
pub(crate) fn python_splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            lines.push(&text[start..i]);
            let mut next = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(j, '\n')) = chars.peek() {
                    chars.next();
                    next = j + 1;
                }
            }
            start = next;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Jinja2's `int(default=0, base=10)`: a string that is not a number in
/// `base` is read as a float and truncated, and anything that still fails
/// gives `default` instead of an error (`'0x10'|int` is 0,
/// `'0x10'|int(base=16)` is 16, `'3.9'|int` is 3).
pub(crate) fn int(
    value: &Value,
    default: Option<Value>,
    base: Option<i64>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let mut default = default.unwrap_or(Value::from(0));
    let mut base = base.unwrap_or(10);
    if let Some(d) = kwargs.get::<Option<Value>>("default")? {
        default = d;
    }
    if let Some(b) = kwargs.get::<Option<i64>>("base")? {
        base = b;
    }
    kwargs.assert_all_used()?;
    if base != 0 && !(2..=36).contains(&base) {
        return Err(invalid("int() base must be >= 2 and <= 36, or 0"));
    }
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(i64::from(value.is_true()))),
        ValueKind::Number if value.is_integer() => Ok(value.clone()),
        ValueKind::Number => float_to_int(f64::try_from(value.clone())?, default),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            if let Some(i) = parse_python_int(s, base as u32) {
                return Ok(Value::from(i));
            }
            match parse_python_float(s) {
                Some(f) => float_to_int(f, default),
                None => Ok(default),
            }
        }
        _ => Ok(default),
    }
}

fn float_to_int(f: f64, default: Value) -> Result<Value, Error> {
    if f.is_nan() {
        Ok(default)
    } else if f.is_infinite() {
        Err(invalid("cannot convert float infinity to integer"))
    } else if f.abs() < 1.7e38 {
        Ok(Value::from(f.trunc() as i128))
    } else {
        Err(invalid("integer too large"))
    }
}

/// Python's `int(text, base)` (whitespace around, a sign, `0x`/`0o`/`0b`
/// prefixes for their base or base 0, single underscores between digits).
fn parse_python_int(text: &str, base: u32) -> Option<i128> {
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = s.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (0 | 16, Some("0x")) => (16, &s[2..]),
        (0 | 8, Some("0o")) => (8, &s[2..]),
        (0 | 2, Some("0b")) => (2, &s[2..]),
        (0, _) => {
            // Base 0 reads decimals without leading zeros (but "000" is 0).
            let digits = s.replace('_', "");
            if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
                return None;
            }
            (10, s)
        }
        (b, _) => (b, s),
    };
    // An underscore may follow a prefix, and otherwise only sits between
    // two digits.
    let digits = digits
        .strip_prefix('_')
        .filter(|_| s.len() != digits.len())
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(36).filter(|&d| d < base)?;
        value = value
            .checked_mul(i128::from(base))?
            .checked_add(i128::from(d))?;
    }
    Some(if negative { -value } else { value })
}

/// Python's `float(text)` for the forms that matter here.
fn parse_python_float(text: &str) -> Option<f64> {
    let s = text.trim();
    if s.is_empty() || s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    s.replace('_', "").parse::<f64>().ok()
}

/// `A % B` as Jinja2 evaluates it: Python's printf-style formatting when
/// `A` is a string (a tuple `B` gives the arguments, anything else is the
/// one argument or, for `%(name)s`, the mapping), minijinja's own `%`
/// otherwise.
pub(crate) fn percent(state: &State, left: &Value, right: &Value) -> Result<Value, Error> {
    if let Some(format) = left.as_str() {
        let mut args: Vec<Value> = if right.is_tuple() {
            right.try_iter()?.collect()
        } else {
            vec![right.clone()]
        };
        let format = repr_conversions(format, &mut args)?;
        let text = py_format(FormatStyle::Printf, &format, &args)?;
        return Ok(if left.is_safe() {
            Value::from_safe_string(text)
        } else {
            Value::from(text)
        });
    }
    let expr = state.env().compile_expression("a % b")?;
    expr.eval(minijinja::context! { a => left.clone(), b => right.clone() })
}

/// Python's `%r` (and `%a`): the conversion becomes `%s` and its
/// positional argument is replaced by its `repr()`.
fn repr_conversions(format: &str, args: &mut [Value]) -> Result<String, Error> {
    if !format.contains(['r', 'a']) {
        return Ok(format.to_string());
    }
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    let mut index = 0;
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '%' {
            continue;
        }
        let mut mapping_key = false;
        let mut spec = String::new();
        while let Some(&next) = chars.peek() {
            chars.next();
            if next == '(' && spec.is_empty() {
                mapping_key = true;
                spec.push(next);
                for k in chars.by_ref() {
                    spec.push(k);
                    if k == ')' {
                        break;
                    }
                }
                continue;
            }
            if next == '*' {
                index += 1;
                spec.push(next);
                continue;
            }
            if "-+ #0123456789.hlL".contains(next) {
                spec.push(next);
                continue;
            }
            if next == '%' && spec.is_empty() {
                spec.push(next);
                break;
            }
            if (next == 'r' || next == 'a') && !mapping_key {
                if let Some(arg) = args.get_mut(index) {
                    let mut text = String::new();
                    repr(&mut text, arg, 0)?;
                    *arg = Value::from(text);
                }
                spec.push('s');
            } else {
                spec.push(next);
            }
            if !mapping_key {
                index += 1;
            }
            break;
        }
        out.push_str(&spec);
    }
    Ok(out)
}

/// A string iterates as the list of its characters (so that `loop.last`
/// and `loop.length` work); anything else is returned as it is.
pub(crate) fn iterable(value: Value) -> Value {
    match value.as_str() {
        Some(s) if value.kind() == ValueKind::String => {
            s.chars().map(|c| Value::from(c.to_string())).collect()
        }
        _ => value,
    }
}

// ---------------------------------------------------------------------------
// Python methods

/// The unknown-method callback: the Python methods of `dict`, `str` and
/// `list` that Jinja2 templates can call (`d.get('k', 'x')`,
/// `d.items()`, `'a,b'.split(',')`, `'{}'.format(x)`, ...).
pub(crate) fn call_method(
    _state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Map => map_method(value, method, args),
        ValueKind::String => string_method(value, method, args),
        ValueKind::Seq => seq_method(value, method, args),
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn arity(method: &str, args: &[Value], min: usize, max: usize) -> Result<(), Error> {
    if args.iter().any(Value::is_kwargs) {
        return Err(invalid(format!("{method}() takes no keyword arguments")));
    }
    if args.len() < min {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            format!("{method}() takes at least {min} argument(s)"),
        ));
    }
    if args.len() > max {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{method}() takes at most {max} argument(s)"),
        ));
    }
    Ok(())
}

fn map_method(map: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "get" => {
            arity(method, args, 1, 2)?;
            let found = map.get_item(&args[0])?;
            Ok(if found.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                found
            })
        }
        "items" => {
            arity(method, args, 0, 0)?;
            let mut items = Vec::new();
            for key in map.try_iter()? {
                let item = map.get_item(&key)?;
                items.push(Value::from(Tuple::from(vec![key, item])));
            }
            Ok(Value::from(items))
        }
        "keys" => {
            arity(method, args, 0, 0)?;
            Ok(map.try_iter()?.collect())
        }
        "values" => {
            arity(method, args, 0, 0)?;
            let mut values = Vec::new();
            for key in map.try_iter()? {
                values.push(map.get_item(&key)?);
            }
            Ok(Value::from(values))
        }
        "copy" => {
            arity(method, args, 0, 0)?;
            Ok(map.clone())
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn seq_method(seq: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "count" => {
            arity(method, args, 1, 1)?;
            Ok(Value::from(
                seq.try_iter()?.filter(|v| v == &args[0]).count(),
            ))
        }
        "index" => {
            arity(method, args, 1, 1)?;
            seq.try_iter()?
                .position(|v| v == args[0])
                .map(Value::from)
                .ok_or_else(|| invalid(format!("{:?} is not in list", args[0])))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn str_arg<'a>(method: &str, args: &'a [Value], index: usize) -> Result<Option<&'a str>, Error> {
    match args.get(index) {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v.as_str().map(Some).ok_or_else(|| {
            invalid(format!(
                "{method}() argument {} must be a string",
                index + 1
            ))
        }),
    }
}

fn int_arg(method: &str, args: &[Value], index: usize) -> Result<Option<i64>, Error> {
    match args.get(index) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            invalid(format!(
                "{method}() argument {} must be an integer",
                index + 1
            ))
        }),
    }
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    items.into_iter().map(Value::from).collect()
}

fn string_method(value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let s = value.as_str().unwrap_or_default();
    let text = |t: String| Ok(Value::from(t));
    match method {
        "upper" => {
            arity(method, args, 0, 0)?;
            text(s.to_uppercase())
        }
        "lower" | "casefold" => {
            arity(method, args, 0, 0)?;
            text(s.to_lowercase())
        }
        "title" => {
            arity(method, args, 0, 0)?;
            text(python_title(s))
        }
        "capitalize" => {
            arity(method, args, 0, 0)?;
            let mut chars = s.chars();
            text(match chars.next() {
                Some(c) => c
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            })
        }
        "strip" | "lstrip" | "rstrip" => {
            arity(method, args, 0, 1)?;
            let chars = str_arg(method, args, 0)?;
            let matcher = |c: char| match chars {
                Some(set) => set.contains(c),
                None => c.is_whitespace(),
            };
            text(
                match method {
                    "strip" => s.trim_matches(matcher),
                    "lstrip" => s.trim_start_matches(matcher),
                    _ => s.trim_end_matches(matcher),
                }
                .to_string(),
            )
        }
        "split" | "rsplit" => {
            arity(method, args, 0, 2)?;
            let sep = str_arg(method, args, 0)?;
            let max = int_arg(method, args, 1)?.unwrap_or(-1);
            Ok(strings(python_split(s, sep, max, method == "rsplit")?))
        }
        "splitlines" => {
            arity(method, args, 0, 0)?;
            Ok(strings(python_splitlines(s).into_iter().map(String::from)))
        }
        "startswith" | "endswith" => {
            arity(method, args, 1, 1)?;
            let candidates: Vec<Value> = if args[0].is_tuple() {
                args[0].try_iter()?.collect()
            } else {
                vec![args[0].clone()]
            };
            let mut hit = false;
            for candidate in &candidates {
                let c = candidate.as_str().ok_or_else(|| {
                    invalid(format!(
                        "{method}() argument must be a string or a tuple of strings"
                    ))
                })?;
                hit |= if method == "startswith" {
                    s.starts_with(c)
                } else {
                    s.ends_with(c)
                };
            }
            Ok(Value::from(hit))
        }
        "replace" => {
            arity(method, args, 2, 3)?;
            let old = str_arg(method, args, 0)?.unwrap_or_default();
            let new = str_arg(method, args, 1)?.unwrap_or_default();
            let count = int_arg(method, args, 2)?.unwrap_or(-1);
            text(if count < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, count as usize)
            })
        }
        "count" => {
            arity(method, args, 1, 1)?;
            let sub = str_arg(method, args, 0)?.unwrap_or_default();
            Ok(Value::from(if sub.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(sub).count()
            }))
        }
        "find" | "rfind" | "index" | "rindex" => {
            arity(method, args, 1, 1)?;
            let sub = str_arg(method, args, 0)?.unwrap_or_default();
            let found = if method.starts_with('r') {
                s.rfind(sub)
            } else {
                s.find(sub)
            };
            match found {
                Some(byte) => Ok(Value::from(s[..byte].chars().count())),
                None if method.ends_with("find") => Ok(Value::from(-1)),
                None => Err(invalid("substring not found")),
            }
        }
        "join" => {
            arity(method, args, 1, 1)?;
            let mut parts = Vec::new();
            for item in args[0].try_iter()? {
                parts.push(
                    item.as_str()
                        .ok_or_else(|| invalid("join() expects an iterable of strings"))?
                        .to_string(),
                );
            }
            text(parts.join(s))
        }
        "format" => text(py_format(FormatStyle::StrFormat, s, args)?),
        "zfill" => {
            arity(method, args, 1, 1)?;
            let width = int_arg(method, args, 0)?.unwrap_or(0).max(0) as usize;
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let pad = "0".repeat(width - len);
            text(match s.strip_prefix(['+', '-']) {
                Some(rest) => format!("{}{pad}{rest}", &s[..1]),
                None => format!("{pad}{s}"),
            })
        }
        "ljust" | "rjust" | "center" => {
            arity(method, args, 1, 2)?;
            let width = int_arg(method, args, 0)?.unwrap_or(0).max(0) as usize;
            let fill = str_arg(method, args, 1)?.unwrap_or(" ");
            let mut fill_chars = fill.chars();
            let (Some(fill), None) = (fill_chars.next(), fill_chars.next()) else {
                return Err(invalid(
                    "the fill character must be exactly one character long",
                ));
            };
            let len = s.chars().count();
            if len >= width {
                return text(s.to_string());
            }
            let total = width - len;
            let (left, right) = match method {
                "ljust" => (0, total),
                "rjust" => (total, 0),
                // Python puts the odd extra character on the left when
                // the width is odd.
                _ => {
                    let left = total / 2 + (total & width & 1);
                    (left, total - left)
                }
            };
            let pad = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
            text(format!("{}{s}{}", pad(left), pad(right)))
        }
        "isdigit" | "isalpha" | "isalnum" | "isspace" | "islower" | "isupper" => {
            arity(method, args, 0, 0)?;
            let non_empty = !s.is_empty();
            let result = match method {
                "isdigit" => non_empty && s.chars().all(|c| c.is_ascii_digit() || c.is_numeric()),
                "isalpha" => non_empty && s.chars().all(char::is_alphabetic),
                "isalnum" => non_empty && s.chars().all(char::is_alphanumeric),
                "isspace" => non_empty && s.chars().all(char::is_whitespace),
                "islower" => {
                    s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase)
                }
                _ => s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase),
            };
            Ok(Value::from(result))
        }
        "partition" | "rpartition" => {
            arity(method, args, 1, 1)?;
            let sep = str_arg(method, args, 0)?.unwrap_or_default();
            if sep.is_empty() {
                return Err(invalid("empty separator"));
            }
            let found = if method == "partition" {
                s.find(sep)
            } else {
                s.rfind(sep)
            };
            let parts = match found {
                Some(i) => vec![
                    s[..i].to_string(),
                    sep.to_string(),
                    s[i + sep.len()..].to_string(),
                ],
                None if method == "partition" => vec![s.to_string(), String::new(), String::new()],
                None => vec![String::new(), String::new(), s.to_string()],
            };
            Ok(Value::from(Tuple::from(
                parts.into_iter().map(Value::from).collect::<Vec<_>>(),
            )))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn python_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = c.is_alphabetic();
    }
    out
}

/// Python's `str.split(sep=None, maxsplit=-1)` and `str.rsplit`.
fn python_split(
    s: &str,
    sep: Option<&str>,
    max: i64,
    from_right: bool,
) -> Result<Vec<String>, Error> {
    let limit = if max < 0 { usize::MAX } else { max as usize };
    match sep {
        Some("") => Err(invalid("empty separator")),
        Some(sep) => {
            let parts: Vec<String> = if from_right {
                let mut v: Vec<String> = s
                    .rsplitn(limit.saturating_add(1), sep)
                    .map(String::from)
                    .collect();
                v.reverse();
                v
            } else {
                s.splitn(limit.saturating_add(1), sep)
                    .map(String::from)
                    .collect()
            };
            Ok(parts)
        }
        None => {
            // Runs of whitespace separate; leading and trailing whitespace
            // is ignored; the last part keeps its inner whitespace.
            let mut parts = Vec::new();
            if from_right {
                let mut rest = s.trim_end();
                while !rest.is_empty() {
                    if parts.len() == limit {
                        parts.push(rest.trim_start().to_string());
                        break;
                    }
                    match rest.rfind(char::is_whitespace) {
                        Some(i) => {
                            let ws_len = rest[i..].chars().next().map_or(1, char::len_utf8);
                            parts.push(rest[i + ws_len..].to_string());
                            rest = rest[..i].trim_end();
                        }
                        None => {
                            parts.push(rest.to_string());
                            break;
                        }
                    }
                }
                parts.reverse();
            } else {
                let mut rest = s.trim_start();
                while !rest.is_empty() {
                    if parts.len() == limit {
                        parts.push(rest.trim_end().to_string());
                        break;
                    }
                    match rest.find(char::is_whitespace) {
                        Some(i) => {
                            parts.push(rest[..i].to_string());
                            rest = rest[i..].trim_start();
                        }
                        None => {
                            parts.push(rest.to_string());
                            break;
                        }
                    }
                }
            }
            Ok(parts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        for (f, text) in [
            (2.1, "2.1"),
            (2.0, "2.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(python_float(f), text, "{f}");
        }
    }

    #[test]
    fn splitlines_is_pythons() {
        assert_eq!(python_splitlines("a\r\nb\rc\n"), vec!["a", "b", "c"]);
        assert_eq!(python_splitlines("a\n\n"), vec!["a", ""]);
        assert_eq!(python_splitlines(""), Vec::<&str>::new());
    }

    #[test]
    fn python_int_parsing() {
        assert_eq!(parse_python_int(" 12 ", 10), Some(12));
        assert_eq!(parse_python_int("1_000", 10), Some(1000));
        assert_eq!(parse_python_int("0x10", 10), None);
        assert_eq!(parse_python_int("0x10", 16), Some(16));
        assert_eq!(parse_python_int("0x_10", 0), Some(16));
        assert_eq!(parse_python_int("010", 0), None);
        assert_eq!(parse_python_int("-ff", 16), Some(-255));
        assert_eq!(parse_python_int("1__0", 10), None);
    }

    #[test]
    fn python_split_matches_python() {
        assert_eq!(
            python_split("  a  b c ", None, -1, false).unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(python_split("a b c", None, 1, false).unwrap(), ["a", "b c"]);
        assert_eq!(python_split("a b c", None, 1, true).unwrap(), ["a b", "c"]);
        assert_eq!(
            python_split("a,,b", Some(","), -1, false).unwrap(),
            ["a", "", "b"]
        );
        assert_eq!(
            python_split("a,b,c", Some(","), 1, true).unwrap(),
            ["a,b", "c"]
        );
    }
}
