//! YAML as LAVA's Python code reads and writes it.
//!
//! LAVA loads job definitions, device configurations and log lines with
//! PyYAML (`yaml.safe_load`, i.e. YAML **1.1** as PyYAML's resolver sees
//! it) and writes log lines with PyYAML's libyaml emitter. This module
//! gives the same answers from Rust, so that a job definition means the
//! same thing to both implementations and log files are byte-identical.
//!
//! # Loading: what "PyYAML compatible" means
//!
//! The syntax is parsed by [`saphyr_parser`]; everything after that
//! follows PyYAML 6 (checked against PyYAML 6.0.3):
//!
//! - **Plain scalars use the YAML 1.1 rules**: `yes`/`no`/`on`/`off` are
//!   booleans (but `y` and `n` are strings), `010` is octal 8, `0b101` is
//!   5, `1:30` is 90 (sexagesimal), `1_000` is 1000, `~` and the empty
//!   node are null, `1.0e+3` is a float but `1e3` and `-.5` are strings.
//!   Quoted scalars are strings. PyYAML's expressions, reproduced exactly:
//!
//!   | type  | plain scalars (the whole text must match)  |
//!   |-------|---------------------------------------------|
//!   | null  | `~`, `null`, `Null`, `NULL`, empty          |
//!   | bool  | `yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF` |
//!   | int   | `[-+]?0b[0-1_]+`, `[-+]?0[0-7_]+` (octal), `[-+]?(0\|[1-9][0-9_]*)`, `[-+]?0x[0-9a-fA-F_]+`, `[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+` (base 60) |
//!   | float | `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`, `\.[0-9][0-9_]*([eE][-+][0-9]+)?`, `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, `[-+]?\.(inf\|Inf\|INF)`, `\.(nan\|NaN\|NAN)` |
//!   | timestamp | `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ... (kept as strings) |
//!   | merge | `<<` (a merge key; an error anywhere else) |
//!   | value | `=` (a string as a key; an error anywhere else) |
//!
//!   Underscores are ignored (`1_000`); integers that do not fit in 64
//!   bits load as floats. Like Python's `$`, the expressions also match
//!   before one final newline, so `! "3\n"` is 3.
//! - **Tags**: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`,
//!   `!!map` force the type (and fail, naming the line, when the text does
//!   not convert: `!!int "abc"`). The non-specific tag `!` means "resolve
//!   as if plain": `! "3"` is the integer 3 (this is how the log emitter
//!   marks numbers). `!!python/object/apply:decimal.Decimal ["1.5"]` is a
//!   [`Value::Decimal`], `!!python/tuple [..]` a sequence. Every other tag
//!   (`!!python/name:...`, `!custom`, `!!binary`, `!!set`, ...) is kept as
//!   an opaque [`Value::Tagged`]: nothing is ever imported or executed.
//! - **Anchors and aliases** copy the anchored value. A recursive alias
//!   (inside its own anchored node) is an error.
//! - **Merge keys** (`<<: *base`, `<<: [*a, *b]`) work as in PyYAML,
//!   including its key order: merged keys come first, explicit keys win,
//!   and within a list the earlier mapping wins.
//! - **Duplicate keys**: the last value wins and the key keeps its first
//!   position (Python dict semantics); each duplicate also produces a
//!   [`Warning`].
//! - **One document**: [`load`] wants exactly one; an empty stream is
//!   [`Value::Null`]; a second document is an error naming its line.
//! - Control characters that PyYAML's reader refuses (`\x00`, `\x1b`,
//!   `\x7f`, ...) are refused in the text, with their position; so is an
//!   anchor name defined twice.
//!
//! Deliberate differences: timestamps stay strings (PyYAML builds
//! `datetime`s); integers beyond 64 bits become floats; `!!binary` stays a
//! tagged base64 string; unknown tags are opaque values (PyYAML's
//! SafeLoader refuses them); keys that are sequences or mappings are
//! refused (Python: "unhashable key"), also for `!!python/tuple`.
//!
//! Where the YAML 1.2 parser is more lenient than PyYAML's scanner, this
//! loader accepts what PyYAML refuses: tabs as separators (PyYAML allows
//! tabs only inside quoted and block scalars), empty keys in flow
//! collections (`{: a}`), anchor names with punctuation, a stream that
//! starts with `...`. U+2028/U+2029 are not line breaks here (they are in
//! YAML 1.1); NEL (U+0085) is, as in PyYAML.
//!
//! # Limits
//!
//! The loader is meant for hostile input: it never panics and never
//! hangs, and its work is linear in the input. [`Limits`] bounds what a
//! document may cost; the defaults are 10 MiB of text, 128 levels of
//! nesting, and 100 000 nodes produced by alias expansion (a "billion
//! laughs" document fails on its first few aliases). The nesting limit
//! also keeps the recursive `Drop`, `Clone` and `==` of [`Value`] safe:
//! raise it only to values your stack can afford (thousands are fine on a
//! main thread). Whatever the limit, the parser itself refuses flow
//! collections (`[`, `{`) nested more than 255 deep.
//!
//! # Emitting
//!
//! [`to_flow_line`] writes a value on one line exactly like lava-run's
//! `yaml.dump(..., default_flow_style=True, default_style='"',
//! width=10**6, Dumper=CDumper)`; [`load`] reads such lines back to the
//! same value.
//!
//! # Example
//!
//! ```
//! use lava_proto::yaml::{self, Value};
//!
//! let job = yaml::load(
//!     "timeouts: &t {minutes: 010}\n\
//!      actions:\n\
//!      - deploy: {<<: *t, to: tftp, verify: yes}\n\
//!      - boot: {method: u-boot, count: 1:30, retry: n}\n",
//! )
//! .unwrap();
//! let deploy = job.get("actions").unwrap().as_sequence().unwrap()[0].get("deploy").unwrap();
//! assert_eq!(deploy.get("minutes"), Some(&Value::Int(8)));
//! assert_eq!(deploy.get("verify"), Some(&Value::Bool(true)));
//! let boot = job.get("actions").unwrap().as_sequence().unwrap()[1].get("boot").unwrap();
//! assert_eq!(boot.get("count").and_then(Value::as_i64), Some(90));
//! assert_eq!(boot.get("retry").and_then(Value::as_str), Some("n"));
//!
//! assert_eq!(yaml::to_flow_line(&boot.clone()), r#"{"count": ! "90", "method": "u-boot", "retry": "n"}"#);
//!
//! let err = yaml::load("a: 1\nb: *nowhere\n").unwrap_err();
//! assert_eq!(err.to_string(), "line 2 column 4: unknown alias *nowhere");
//! ```

mod emit;
mod error;
mod load;
mod mapping;
mod quoted;
mod resolve;
mod serde;
mod value;

pub use self::serde::{from_value, FromValueError};
pub use emit::to_flow_line;
pub use error::{ErrorKind, YamlError};
pub use mapping::Mapping;
pub use value::{Tagged, Value};

/// Bounds on what one document may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted text, in bytes (checked before parsing).
    pub max_bytes: usize,
    /// Deepest accepted nesting of sequences and mappings (aliases
    /// included: an alias may not make the value deeper than this).
    pub max_depth: usize,
    /// Most nodes that aliases may produce in total (each alias counts the
    /// nodes of the value it copies, aliases inside it expanded).
    pub max_alias_expansion: usize,
}

impl Default for Limits {
    /// 10 MiB, 128 levels, 100 000 nodes from aliases.
    fn default() -> Self {
        Limits {
            max_bytes: 10 * 1024 * 1024,
            max_depth: 128,
            max_alias_expansion: 100_000,
        }
    }
}

/// Something PyYAML accepts silently but that is probably a mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The 1-based line it is about.
    pub line: usize,
    /// What it is, e.g. `duplicate key 'name' (first at line 3, again at
    /// line 7); the last value is used`.
    pub message: String,
}

/// A loaded document and the warnings it produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The value.
    pub value: Value,
    /// Warnings, in line order.
    pub warnings: Vec<Warning>,
}

/// Loads one document with the default [`Limits`]. Warnings (duplicate
/// keys) are logged at `warn` level; use [`load_with`] to get them.
pub fn load(text: &str) -> Result<Value, YamlError> {
    let document = load_with(text, &Limits::default())?;
    for warning in &document.warnings {
        log::warn!("YAML line {}: {}", warning.line, warning.message);
    }
    Ok(document.value)
}

/// Loads one document within `limits`, returning its warnings too.
///
/// Like PyYAML, a quoted scalar may continue on lines indented less than
/// its block (`key: '` + newline + `'`, which every LAVA device template
/// renders); see `quoted.rs`.
pub fn load_with(text: &str, limits: &Limits) -> Result<Document, YamlError> {
    let mut current = std::borrow::Cow::Borrowed(text);
    // Each round fixes one scalar; the rounds are bounded by the line count.
    let mut rounds = text.lines().count().min(10_000);
    loop {
        let err = match load::load_text(&current, limits) {
            Ok(document) => return Ok(document),
            Err(err) => err,
        };
        let fixed = match (
            err.message() == quoted::QUOTED_INDENT,
            err.line(),
            err.column(),
        ) {
            (true, Some(line), Some(column)) => quoted::reindent_quoted(&current, line, column),
            _ => None,
        };
        match fixed {
            // The fix adds spaces only: the error's line numbers are the text's.
            Some(fixed) if rounds > 0 && fixed != *current => {
                rounds -= 1;
                current = std::borrow::Cow::Owned(fixed);
            }
            _ => return Err(err),
        }
    }
}

/// Loads one document from bytes: they must be UTF-8 (an error names the
/// byte offset of the first invalid sequence); a UTF-8 byte order mark is
/// skipped.
pub fn load_bytes(bytes: &[u8], limits: &Limits) -> Result<Document, YamlError> {
    if bytes.len() > limits.max_bytes {
        return Err(YamlError::whole(
            ErrorKind::TooLarge,
            format!(
                "document exceeds the {}-byte limit ({} bytes)",
                limits.max_bytes,
                bytes.len()
            ),
        ));
    }
    let (offset, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    let text = std::str::from_utf8(body).map_err(|e| {
        YamlError::whole(
            ErrorKind::InvalidUtf8,
            format!("invalid UTF-8 at byte offset {}", offset + e.valid_up_to()),
        )
    })?;
    load_with(text, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits() {
        let limits = Limits::default();
        assert_eq!(limits.max_bytes, 10_485_760);
        assert_eq!(limits.max_depth, 128);
        assert_eq!(limits.max_alias_expansion, 100_000);
    }

    #[test]
    fn bytes_are_checked_and_bom_skipped() {
        let limits = Limits::default();
        let doc = load_bytes(b"\xEF\xBB\xBFa: 1", &limits).unwrap();
        assert_eq!(doc.value.get("a"), Some(&Value::Int(1)));
        let err = load_bytes(b"a: \xff\xfe", &limits).unwrap_err();
        assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 3");
        assert_eq!(err.kind(), ErrorKind::InvalidUtf8);
        let err = load_bytes(b"\xEF\xBB\xBFab\xc3", &limits).unwrap_err();
        assert_eq!(err.to_string(), "invalid UTF-8 at byte offset 5");
        let small = Limits {
            max_bytes: 4,
            ..Limits::default()
        };
        let err = load_bytes(b"a: 12", &small).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document exceeds the 4-byte limit (5 bytes)"
        );
    }

    #[test]
    fn load_returns_the_value_only() {
        assert_eq!(load("a: 1\na: 2").unwrap().get("a"), Some(&Value::Int(2)));
        assert_eq!(load("").unwrap(), Value::Null);
    }
}
