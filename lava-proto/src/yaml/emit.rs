//! The log-line emitter (see [`to_flow_line`]), PyYAML's float `repr`,
//! and libyaml's quoting, tag and simple-key rules.

use std::cmp::Ordering;
use std::fmt::Write;

use super::resolve::{CORE, TWO_POW_63};
use super::value::Value;
use super::Mapping;

/// Writes `value` as one line of flow YAML, byte for byte as lava-run
/// writes it with `yaml.dump(v, default_flow_style=True,
/// default_style='"', width=10**6, Dumper=CDumper)` (minus the final
/// newline).
///
/// What PyYAML + libyaml do, and so what this does:
/// - every string is double-quoted; the output is pure ASCII: printable
///   ASCII stays, `"` and `\` and control characters get libyaml's short
///   escapes (`\0 \a \b \t \n \v \f \r \e \" \\`, `\N` for U+0085, `\_`
///   for U+00A0, `\L` U+2028, `\P` U+2029), anything else `\xXX`,
///   `\uXXXX` or `\UXXXXXXXX` (uppercase hex);
/// - other scalars are their text quoted, with the non-specific tag:
///   `! "3"`, `! "true"`, `! "null"`, `! "1.5"`; floats are Python's
///   `repr` lowercased (`.inf`, `-.inf`, `.nan`, `1.0e+16`, `1.0e-05`);
/// - mappings are `{"k": v, ...}` with keys sorted as Python's `sorted()`
///   sorts them: strings by code point, numbers (ints, bools, floats,
///   decimals) by value. When Python could not compare the keys (strings
///   mixed with numbers, `None`, tagged or collection keys) PyYAML keeps
///   the insertion order, and so does this (NaN keys: deterministic, but
///   unspecified, order);
/// - a key that libyaml does not consider "simple" (longer than 128 bytes
///   including its tag, containing a line break, or a non-empty
///   collection) is written `? key : value`;
/// - decimals are `!!python/object/apply:decimal.Decimal ["12.5"]`; tagged
///   values get their tag in short form (`!!x` for `tag:yaml.org,2002:x`,
///   `!x` for local tags, `!<...>` otherwise) with libyaml's `%XX`
///   escaping.
///
/// One deliberate difference: past column 10⁶ (`width`) libyaml starts
/// folding the line at spaces; this never folds. Lines shorter than that,
/// which all LAVA log lines are, are identical.
///
/// A [`Value::Tagged`] is written as its tag, a space and its node, a
/// scalar node as its quoted text (`!foo "3"`); a tagged value directly
/// inside another keeps only the outer tag.
///
/// ```
/// use lava_proto::yaml::{to_flow_line, Mapping, Value};
///
/// let mut msg = Mapping::new();
/// msg.insert("result", "pass");
/// msg.insert("case", "boot");
/// msg.insert("size", 1024);
/// assert_eq!(
///     to_flow_line(&Value::Mapping(msg)),
///     r#"{"case": "boot", "result": "pass", "size": ! "1024"}"#
/// );
/// ```
pub fn to_flow_line(value: &Value) -> String {
    let mut out = String::new();
    emit(&mut out, value);
    out
}

fn emit(out: &mut String, value: &Value) {
    match value {
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
            out.push_str("! ");
            quoted(out, &scalar_text(value));
        }
        Value::String(s) => quoted(out, s),
        Value::Decimal(text) => {
            out.push_str("!!python/object/apply:decimal.Decimal [");
            quoted(out, text);
            out.push(']');
        }
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                emit(out, item);
            }
            out.push(']');
        }
        Value::Mapping(map) => emit_mapping(out, map),
        Value::Tagged(tagged) => {
            write_tag(out, &tagged.tag);
            out.push(' ');
            emit_untagged(out, &tagged.value);
        }
    }
}

/// The node under an explicit tag: scalars are their bare quoted text. A
/// tagged value directly inside another is written with the outer tag only.
fn emit_untagged(out: &mut String, value: &Value) {
    match value {
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
            quoted(out, &scalar_text(value))
        }
        Value::Decimal(text) => {
            out.push('[');
            quoted(out, text);
            out.push(']');
        }
        Value::Tagged(inner) => emit_untagged(out, &inner.value),
        other => emit(out, other),
    }
}

fn emit_mapping(out: &mut String, map: &Mapping) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (key, value)) in sorted_entries(map).into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_simple_key(key) {
            emit(out, key);
            out.push_str(": ");
        } else {
            out.push_str("? ");
            emit(out, key);
            out.push_str(" : ");
        }
        emit(out, value);
    }
    out.push('}');
}

/// The text PyYAML's representer gives a non-string scalar.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(true) => "true".into(),
        Value::Bool(false) => "false".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => pyyaml_float(*f),
        Value::String(s) | Value::Decimal(s) => s.clone(),
        _ => String::new(),
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `yaml_emitter_check_simple_key`: at most 128 bytes of tag and
/// text, no line break, no non-empty collection.
fn is_simple_key(key: &Value) -> bool {
    fn length(value: &Value) -> Option<usize> {
        match value {
            Value::String(s) => (!s.contains(is_break)).then_some(s.len()),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                Some(scalar_text(value).len())
            }
            Value::Sequence(items) => items.is_empty().then_some(0),
            Value::Mapping(map) => map.is_empty().then_some(0),
            Value::Decimal(_) => None,
            Value::Tagged(t) => {
                let inner = match &t.value {
                    Value::Tagged(nested) => length(&nested.value)?,
                    Value::Decimal(_) => return None,
                    other => length(other)?,
                };
                Some(tag_length(&t.tag) + inner)
            }
        }
    }
    length(key).is_some_and(|n| n <= 128)
}

/// The length libyaml counts for a tag: handle plus unescaped suffix.
fn tag_length(tag: &str) -> usize {
    if tag.len() > 1 && tag.starts_with('!') {
        tag.len()
    } else if tag.len() > CORE.len() && tag.starts_with(CORE) {
        2 + tag.len() - CORE.len()
    } else {
        tag.len()
    }
}

/// A tag in libyaml's short form with its URI escaping.
fn write_tag(out: &mut String, tag: &str) {
    if tag.len() > 1 && tag.starts_with('!') {
        out.push('!');
        escape_tag(out, &tag[1..]);
    } else if tag.len() > CORE.len() && tag.starts_with(CORE) {
        out.push_str("!!");
        escape_tag(out, &tag[CORE.len()..]);
    } else {
        out.push_str("!<");
        escape_tag(out, tag);
        out.push('>');
    }
}

/// libyaml's `yaml_emitter_write_tag_content`.
fn escape_tag(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_;/?:@&=+$,.~*'()[]".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// libyaml's double-quoted writer with `allow_unicode` off.
fn quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        let short = match c {
            '\0' => "\\0",
            '\x07' => "\\a",
            '\x08' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\x0b' => "\\v",
            '\x0c' => "\\f",
            '\r' => "\\r",
            '\x1b' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{85}' => "\\N",
            '\u{a0}' => "\\_",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            ' '..='~' => {
                out.push(c);
                continue;
            }
            _ => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xFF => write!(out, "\\x{code:02X}"),
                    0x100..=0xFFFF => write!(out, "\\u{code:04X}"),
                    _ => write!(out, "\\U{code:08X}"),
                };
                continue;
            }
        };
        out.push_str(short);
    }
    out.push('"');
}

// ---------------------------------------------------------------------------
// Key order

/// How Python's `sorted()` sees a key.
enum SortKey {
    Str,
    Num(Num),
    /// `None`, tagged values, collections: not orderable.
    Unorderable,
}

/// A number for ordering: exact for integers, NaN last.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn sort_key(key: &Value) -> SortKey {
    match key {
        Value::String(_) => SortKey::Str,
        Value::Int(i) => SortKey::Num(Num::Int(*i)),
        Value::Bool(b) => SortKey::Num(Num::Int(i64::from(*b))),
        Value::Float(f) => SortKey::Num(Num::Float(*f)),
        // Compared through its float value (Python compares exactly).
        Value::Decimal(text) => match text.trim().replace('_', "").parse::<f64>() {
            Ok(f) if !f.is_nan() => SortKey::Num(Num::Float(f)),
            _ => SortKey::Unorderable,
        },
        _ => SortKey::Unorderable,
    }
}

/// Exact comparison of an integer and a float (as Python does).
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= TWO_POW_63 {
        return Ordering::Less;
    }
    if f < -TWO_POW_63 {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0.partial_cmp(&(f - whole)).unwrap_or(Ordering::Equal),
        other => other,
    }
}

/// A total order on numbers: by value, NaN after everything.
fn cmp_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).reverse(),
        (Num::Float(x), Num::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
    }
}

/// The entries in the order PyYAML writes them.
fn sorted_entries(map: &Mapping) -> Vec<(&Value, &Value)> {
    let mut entries: Vec<(&Value, &Value)> = map.iter().collect();
    if entries.len() < 2 {
        return entries;
    }
    let keys: Vec<SortKey> = entries.iter().map(|(k, _)| sort_key(k)).collect();
    if keys.iter().all(|k| matches!(k, SortKey::Str)) {
        entries.sort_by(|a, b| match (a.0, b.0) {
            (Value::String(x), Value::String(y)) => x.cmp(y),
            _ => Ordering::Equal,
        });
    } else if keys.iter().all(|k| matches!(k, SortKey::Num(_))) {
        let mut indexed: Vec<(Num, (&Value, &Value))> = keys
            .into_iter()
            .zip(entries)
            .map(|(k, e)| match k {
                SortKey::Num(n) => (n, e),
                _ => (Num::Int(0), e),
            })
            .collect();
        indexed.sort_by(|a, b| cmp_num(a.0, b.0));
        return indexed.into_iter().map(|(_, e)| e).collect();
    }
    entries
}

// ---------------------------------------------------------------------------
// Floats

/// The text PyYAML's `represent_float` gives `f`.
pub(crate) fn pyyaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let repr = python_repr(f);
    if !repr.contains('.') && repr.contains('e') {
        repr.replacen('e', ".0e", 1)
    } else {
        repr
    }
}

/// Python's `repr(float)` for a finite `f`: the shortest digits that read
/// back as `f` (ties between two shortest candidates go to the even one,
/// as in David Gay's algorithm), positional when the exponent is in
/// `-4..16`, else `d.ddde±XX`.
pub(crate) fn python_repr(f: f64) -> String {
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        out.push_str("0.0");
        return out;
    }
    let (digits, exp) = shortest_digits(f.abs());
    let n = digits.len() as i32;
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point >= n {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// Shortest round-trip digits of a positive finite `f` and the decimal
/// exponent of the first digit.
fn shortest_digits(f: f64) -> (String, i32) {
    let formatted = format!("{f:e}");
    let (mantissa, exp) = formatted
        .split_once('e')
        .unwrap_or((formatted.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    let Ok(d) = digits.parse::<u128>() else {
        return (digits, exp);
    };
    // Rust and Python agree on the shortest length; when `f` lies exactly
    // halfway between two candidates of that length Python keeps the even
    // one, Rust may not.
    if d % 2 == 1 && n <= 17 {
        let k = exp - n;
        for (midpoint, other) in [(d * 10 + 5, d + 1), (d * 10 - 5, d - 1)] {
            if equals_decimal(f, midpoint, k) {
                let mut other_digits = other.to_string();
                let exp = exp + (other_digits.len() as i32 - n);
                while other_digits.len() > 1 && other_digits.ends_with('0') {
                    other_digits.pop();
                }
                return (other_digits, exp);
            }
        }
    }
    (digits, exp)
}

/// Whether the positive finite `f` equals `t × 10^k` exactly. Values whose
/// check would overflow 128 bits have long exact expansions and cannot be
/// equal to a number of at most 18 significant digits.
fn equals_decimal(f: f64, t: u128, k: i32) -> bool {
    let bits = f.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = u128::from(bits & ((1u64 << 52) - 1));
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u128 << 52), biased - 1075)
    };
    // m × 2^e == t × 2^k × 5^k  ⇔  m × 2^(e-k) × 5^(-k) == t
    let shift = |x: u128, by: i32| -> Option<u128> {
        if by >= 128 {
            None
        } else {
            x.checked_mul(1u128 << by)
        }
    };
    let pow5 = |n: i32| -> Option<u128> { (0..n).try_fold(1u128, |acc, _| acc.checked_mul(5)) };
    let (mut left, mut right) = (Some(m), Some(t));
    let p2 = e - k;
    if p2 >= 0 {
        left = left.and_then(|x| shift(x, p2));
    } else {
        right = right.and_then(|x| shift(x, -p2));
    }
    if k <= 0 {
        left = left.and_then(|x| x.checked_mul(pow5(-k)?));
    } else {
        right = right.and_then(|x| x.checked_mul(pow5(k)?));
    }
    matches!((left, right), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Tagged;

    fn map(entries: Vec<(Value, Value)>) -> Value {
        Value::Mapping(entries.into_iter().collect())
    }

    #[test]
    fn python_float_repr() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.1, "0.1"),
            (123456789.123, "123456789.123"),
            (1e22, "1e+22"),
            // Ties (exactly x.25, x.625, x.8125): Python keeps the even
            // last digit.
            (2_514_647_832_895_305.0 / 4.0, "628661958223826.2"),
            (-1_869_917_209_987_861.0 / 8.0, "-233739651248482.62"),
            (154_793_292_576_941.0 / 16.0, "9674580786058.812"),
        ];
        for (f, want) in cases {
            assert_eq!(python_repr(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn pyyaml_float_text() {
        assert_eq!(pyyaml_float(1e16), "1.0e+16");
        assert_eq!(pyyaml_float(1e-5), "1.0e-05");
        assert_eq!(pyyaml_float(1.5e16), "1.5e+16");
        assert_eq!(pyyaml_float(f64::NAN), ".nan");
        assert_eq!(pyyaml_float(f64::INFINITY), ".inf");
        assert_eq!(pyyaml_float(f64::NEG_INFINITY), "-.inf");
        assert_eq!(pyyaml_float(5e-324), "5.0e-324");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            to_flow_line(&Value::from(
                "tab\tdel\x7fbom\u{feff}e\u{e9}zh\u{4e2d}emoji\u{1F600}"
            )),
            r#""tab\tdel\x7Fbom\uFEFFe\xE9zh\u4E2Demoji\U0001F600""#
        );
        assert_eq!(
            to_flow_line(&Value::from(
                "\0\x07\x08\t\n\x0b\x0c\r\x1b\"\\\u{85}\u{a0}\u{2028}\u{2029}\x01\x1f"
            )),
            r#""\0\a\b\t\n\v\f\r\e\"\\\N\_\L\P\x01\x1F""#
        );
        assert_eq!(
            to_flow_line(&Value::from("  a  b ' # : - ")),
            r#""  a  b ' # : - ""#
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(to_flow_line(&Value::Int(-3)), r#"! "-3""#);
        assert_eq!(to_flow_line(&Value::Bool(false)), r#"! "false""#);
        assert_eq!(to_flow_line(&Value::Null), r#"! "null""#);
        assert_eq!(to_flow_line(&Value::Float(0.00001)), r#"! "1.0e-05""#);
        assert_eq!(
            to_flow_line(&Value::Decimal("12.5".into())),
            r#"!!python/object/apply:decimal.Decimal ["12.5"]"#
        );
        assert_eq!(to_flow_line(&Value::from("3")), r#""3""#);
    }

    #[test]
    fn collections() {
        assert_eq!(to_flow_line(&Value::Sequence(vec![])), "[]");
        assert_eq!(to_flow_line(&map(vec![])), "{}");
        let v = Value::Sequence(vec![
            Value::Int(1),
            Value::from("a"),
            Value::Null,
            Value::Sequence(vec![]),
            map(vec![]),
        ]);
        assert_eq!(to_flow_line(&v), r#"[! "1", "a", ! "null", [], {}]"#);
    }

    #[test]
    fn key_order() {
        let m = map(vec![
            (Value::from("b"), Value::Int(1)),
            (Value::from("a"), Value::Sequence(vec![Value::Float(1.5)])),
        ]);
        assert_eq!(to_flow_line(&m), r#"{"a": [! "1.5"], "b": ! "1"}"#);
        // Mixed types: insertion order, like PyYAML after its TypeError.
        let m = map(vec![
            (Value::Int(1), Value::from("a")),
            (Value::from("b"), Value::Int(2)),
        ]);
        assert_eq!(to_flow_line(&m), r#"{! "1": "a", "b": ! "2"}"#);
        let m = map(vec![
            (Value::from("b"), Value::Int(2)),
            (Value::Int(1), Value::from("a")),
        ]);
        assert_eq!(to_flow_line(&m), r#"{"b": ! "2", ! "1": "a"}"#);
        // Numbers sort by value across int, float and bool.
        let m = map(vec![
            (Value::Int(2), Value::from("a")),
            (Value::Float(1.5), Value::from("b")),
            (Value::Bool(true), Value::from("c")),
            (Value::Float(-0.5), Value::from("d")),
        ]);
        assert_eq!(
            to_flow_line(&m),
            r#"{! "-0.5": "d", ! "true": "c", ! "1.5": "b", ! "2": "a"}"#
        );
        // Code point order, not UTF-16 or locale.
        let m = map(vec![
            (Value::from("\u{1F600}"), Value::Int(1)),
            (Value::from("\u{FFFD}"), Value::Int(2)),
            (Value::from("Z"), Value::Int(3)),
        ]);
        assert_eq!(
            to_flow_line(&m),
            r#"{"Z": ! "3", "\uFFFD": ! "2", "\U0001F600": ! "1"}"#
        );
    }

    #[test]
    fn int_float_comparison_is_exact() {
        assert_eq!(cmp_int_float(1, 1.5), Ordering::Less);
        assert_eq!(cmp_int_float(2, 1.5), Ordering::Greater);
        assert_eq!(cmp_int_float(-1, -1.5), Ordering::Greater);
        assert_eq!(cmp_int_float(3, 3.0), Ordering::Equal);
        assert_eq!(cmp_int_float(i64::MAX, 9.3e18), Ordering::Less);
        assert_eq!(cmp_int_float(i64::MAX, TWO_POW_63), Ordering::Less);
        assert_eq!(cmp_int_float(i64::MIN, -9.3e18), Ordering::Greater);
        assert_eq!(
            cmp_int_float(9_007_199_254_740_993, 9_007_199_254_740_992.0),
            Ordering::Greater
        );
    }

    #[test]
    fn long_and_multiline_keys() {
        let k128 = "a".repeat(128);
        let k129 = "a".repeat(129);
        assert_eq!(
            to_flow_line(&map(vec![(Value::from(k128.as_str()), Value::Int(1))])),
            format!("{{\"{k128}\": ! \"1\"}}")
        );
        assert_eq!(
            to_flow_line(&map(vec![(Value::from(k129.as_str()), Value::Int(1))])),
            format!("{{? \"{k129}\" : ! \"1\"}}")
        );
        // 64 × é is 128 bytes: simple; 65 is not.
        let e64 = "\u{e9}".repeat(64);
        assert!(
            to_flow_line(&map(vec![(Value::from(e64.as_str()), Value::Int(1))]))
                .starts_with("{\"\\xE9")
        );
        let e65 = "\u{e9}".repeat(65);
        assert!(
            to_flow_line(&map(vec![(Value::from(e65.as_str()), Value::Int(1))]))
                .starts_with("{? \"\\xE9")
        );
        for key in ["a\rb", "a\u{85}b", "a\u{2028}b"] {
            let line = to_flow_line(&map(vec![(Value::from(key), Value::Int(1))]));
            assert!(line.starts_with("{? \""), "{line}");
            assert!(line.ends_with("\" : ! \"1\"}"), "{line}");
        }
        assert_eq!(
            to_flow_line(&map(vec![(Value::from("a\tb"), Value::Int(1))])),
            r#"{"a\tb": ! "1"}"#
        );
        let two = map(vec![
            (Value::from(k129.as_str()), Value::Int(1)),
            (Value::from("b".repeat(200)), Value::Int(2)),
        ]);
        assert_eq!(
            to_flow_line(&two),
            format!(
                "{{? \"{k129}\" : ! \"1\", ? \"{}\" : ! \"2\"}}",
                "b".repeat(200)
            )
        );
    }

    #[test]
    fn tags() {
        let tagged = |tag: &str, value: Value| {
            Value::from(Tagged {
                tag: tag.into(),
                value,
            })
        };
        let cases = [
            (tagged("!foo", Value::from("x")), r#"!foo "x""#),
            (
                tagged("tag:example.com,2000:a", Value::from("x")),
                r#"!<tag:example.com,2000:a> "x""#,
            ),
            (
                tagged("tag:yaml.org,2002:python/name:os.system", Value::from("x")),
                r#"!!python/name:os.system "x""#,
            ),
            (
                tagged("tag:yaml.org,2002:a!b c", Value::from("x")),
                r#"!!a%21b%20c "x""#,
            ),
            (tagged("!a\u{e9}b", Value::from("x")), r#"!a%C3%A9b "x""#),
            (
                tagged("tag:x,2000:a'()[]*~$=&@?;,+{}#%", Value::from("x")),
                r#"!<tag:x,2000:a'()[]*~$=&@?;,+%7B%7D%23%25> "x""#,
            ),
            (
                tagged("tag:yaml.org,2002:", Value::from("x")),
                r#"!<tag:yaml.org,2002:> "x""#,
            ),
            (tagged("!", Value::from("x")), r#"!<%21> "x""#),
            (tagged("!!", Value::from("x")), r#"!%21 "x""#),
            (
                tagged("!foo", map(vec![(Value::from("a"), Value::from("b"))])),
                r#"!foo {"a": "b"}"#,
            ),
            (
                tagged("!foo", Value::Sequence(vec![Value::from("a")])),
                r#"!foo ["a"]"#,
            ),
            (tagged("!foo", Value::Int(3)), r#"!foo "3""#),
        ];
        for (value, want) in cases {
            assert_eq!(to_flow_line(&value), want);
        }
        // Tag length counts towards the 128 bytes of a simple key.
        let key = |n: usize| tagged("!foo", Value::from("k".repeat(n)));
        assert!(to_flow_line(&map(vec![(key(124), Value::from("v"))])).starts_with("{!foo \"k"));
        assert!(to_flow_line(&map(vec![(key(125), Value::from("v"))])).starts_with("{? !foo \"k"));
        let empty_keys = map(vec![(
            tagged("!foo", Value::Sequence(vec![])),
            Value::Int(1),
        )]);
        assert_eq!(to_flow_line(&empty_keys), r#"{!foo []: ! "1"}"#);
    }

    #[test]
    fn lava_result_line() {
        let extra = map(vec![(Value::from("size"), Value::Int(1024))]);
        let msg = map(vec![
            (Value::from("result"), Value::from("pass")),
            (Value::from("namespace"), Value::from("common")),
            (Value::from("level"), Value::from("1.1.1")),
            (Value::from("extra"), extra),
            (Value::from("duration"), Value::from("3.14")),
            (Value::from("definition"), Value::from("lava")),
            (Value::from("case"), Value::from("http-download")),
        ]);
        let line = map(vec![
            (Value::from("msg"), msg),
            (Value::from("lvl"), Value::from("results")),
            (Value::from("dt"), Value::from("2020-01-15T10:20:03.250000")),
        ]);
        assert_eq!(
            to_flow_line(&line),
            r#"{"dt": "2020-01-15T10:20:03.250000", "lvl": "results", "msg": {"case": "http-download", "definition": "lava", "duration": "3.14", "extra": {"size": ! "1024"}, "level": "1.1.1", "namespace": "common", "result": "pass"}}"#
        );
    }
}
