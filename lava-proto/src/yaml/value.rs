//! The loaded value: what PyYAML's constructor would have built, as a Rust enum.

use std::fmt;

use super::mapping::Mapping;

/// A YAML value as PyYAML's SafeLoader builds it.
///
/// Equality is structural, except inside a [`Mapping`], whose keys compare
/// like Python dict keys (`1`, `1.0` and `true` are the same key) and whose
/// order does not matter for equality (like two Python dicts).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `~`, `null`, an empty node (Python `None`).
    #[default]
    Null,
    /// `true`, `yes`, `on`, ... (YAML 1.1 booleans).
    Bool(bool),
    /// An integer that fits in 64 bits (bigger ones load as [`Value::Float`]).
    Int(i64),
    /// A float, including `.inf` and `.nan`.
    Float(f64),
    /// Text.
    String(String),
    /// Python `decimal.Decimal`, kept as its exact text (`"12.5"`), from
    /// `!!python/object/apply:decimal.Decimal ["12.5"]`.
    Decimal(String),
    /// A list (or a `!!python/tuple`).
    Sequence(Vec<Value>),
    /// A dict.
    Mapping(Mapping),
    /// A tag the loader does not interpret (e.g. `!!python/name:os.system`,
    /// `!custom`, `!!binary`, `!!set`): kept opaque, never acted upon.
    Tagged(Box<Tagged>),
}

/// A node with a tag the loader keeps opaque.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The full tag: `tag:yaml.org,2002:python/name:os.system` for
    /// `!!python/name:os.system`, `!custom` for a local tag.
    pub tag: String,
    /// The node: a [`Value::String`] (the scalar's text, unresolved), a
    /// [`Value::Sequence`] or a [`Value::Mapping`].
    pub value: Value,
}

impl Value {
    /// Python's truthiness of the value as PyYAML loads it: null, false,
    /// zero and empty strings, sequences and mappings are false; tagged
    /// nodes are true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) | Value::Decimal(s) => !s.is_empty(),
            Value::Sequence(s) => !s.is_empty(),
            Value::Mapping(m) => !m.is_empty(),
            Value::Tagged(_) => true,
        }
    }

    /// The text of a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a [`Value::Int`].
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The truth of a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number of a [`Value::Float`], or of a [`Value::Int`] converted
    /// to a float (as Python would in arithmetic).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The mapping of a [`Value::Mapping`].
    pub fn as_mapping(&self) -> Option<&Mapping> {
        match self {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping of a [`Value::Mapping`], to modify it.
    pub fn as_mapping_mut(&mut self) -> Option<&mut Mapping> {
        match self {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The items of a [`Value::Sequence`].
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a [`Value::Sequence`], to modify them.
    pub fn as_sequence_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The value under the string key `key`, if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_mapping().and_then(|m| m.get(key))
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short name of the variant for messages: `"null"`, `"bool"`,
    /// `"int"`, `"float"`, `"string"`, `"decimal"`, `"sequence"`,
    /// `"mapping"` or `"tagged"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Decimal(_) => "decimal",
            Value::Sequence(_) => "sequence",
            Value::Mapping(_) => "mapping",
            Value::Tagged(_) => "tagged",
        }
    }
}

/// Shows the value as [`to_flow_line`](super::to_flow_line) writes it.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::emit::to_flow_line(self))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Sequence(items)
    }
}

impl From<Mapping> for Value {
    fn from(map: Mapping) -> Self {
        Value::Mapping(map)
    }
}

impl From<Tagged> for Value {
    fn from(tagged: Tagged) -> Self {
        Value::Tagged(Box::new(tagged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_match_only_their_variant() {
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::Int(3).as_str(), None);
        assert_eq!(Value::Int(3).as_i64(), Some(3));
        assert_eq!(Value::Float(3.0).as_i64(), None);
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Float(0.5).as_f64(), Some(0.5));
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::Null.as_bool(), None);
        assert!(Value::Null.is_null());
        assert!(!Value::from("").is_null());
        let seq = Value::from(vec![Value::Int(1)]);
        assert_eq!(seq.as_sequence(), Some(&[Value::Int(1)][..]));
        assert_eq!(seq.get("a"), None);
        let map: Mapping = [(Value::from("a"), Value::Int(1))].into_iter().collect();
        let map = Value::from(map);
        assert_eq!(map.get("a"), Some(&Value::Int(1)));
        assert_eq!(map.as_mapping().map(Mapping::len), Some(1));
    }

    #[test]
    fn type_names() {
        let names: Vec<&str> = [
            Value::Null,
            Value::Bool(false),
            Value::Int(0),
            Value::Float(0.0),
            Value::from(""),
            Value::Decimal("1".into()),
            Value::Sequence(vec![]),
            Value::Mapping(Mapping::new()),
            Value::from(Tagged {
                tag: "!x".into(),
                value: Value::Null,
            }),
        ]
        .iter()
        .map(Value::type_name)
        .collect();
        assert_eq!(
            names,
            [
                "null", "bool", "int", "float", "string", "decimal", "sequence", "mapping",
                "tagged"
            ]
        );
    }

    #[test]
    fn display_is_the_flow_line() {
        assert_eq!(Value::Int(3).to_string(), "! \"3\"");
        assert_eq!(Value::from("a").to_string(), "\"a\"");
    }
}
