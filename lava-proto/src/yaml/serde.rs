//! serde support for [`Value`] and [`Mapping`].
//!
//! - [`from_value`] reads any `Deserialize` type out of a loaded [`Value`]
//!   (without going through text again), so typed models can be derived:
//!   `#[derive(Deserialize)] struct Job { job_name: String, ... }`.
//!   Errors name the place: `actions[2].deploy.to: unknown variant ...`.
//! - `Value` and `Mapping` implement `Serialize` and `Deserialize`, so they
//!   can be fields of derived types (e.g. a `#[serde(flatten)]` mapping
//!   that keeps the keys a type does not name) and can be converted to and
//!   from other serde formats.
//!
//! How values are presented to a `Deserialize` type:
//!
//! | `Value`          | serde data model                                    |
//! |------------------|-----------------------------------------------------|
//! | `Null`           | unit; `None` for an `Option`                        |
//! | `Bool`, `Int`, `Float`, `String` | bool, i64, f64, borrowed str          |
//! | `Decimal`        | its text, as a str                                  |
//! | `Sequence`       | a sequence                                          |
//! | `Mapping`        | a map (keys are values too), or a struct            |
//! | `Tagged`         | the tagged node; the tag is not visible              |
//!
//! An enum reads a string as a unit variant (`to: tftp`) and a mapping with
//! exactly one key as the variant named by the key (`- deploy: {...}`).
//! Integers convert to any integer type they fit in, and to floats.
//!
//! ```
//! use lava_proto::yaml::{self, from_value};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Timeout {
//!     minutes: u32,
//! }
//!
//! #[derive(Deserialize)]
//! struct Job {
//!     job_name: String,
//!     timeouts: std::collections::BTreeMap<String, Timeout>,
//! }
//!
//! let value = yaml::load("job_name: demo\ntimeouts: {job: {minutes: 010}}").unwrap();
//! let job: Job = from_value(&value).unwrap();
//! assert_eq!(job.job_name, "demo");
//! assert_eq!(job.timeouts["job"].minutes, 8); // YAML 1.1 octal
//!
//! let bad = yaml::load("job_name: demo\ntimeouts: {job: {minutes: soon}}").unwrap();
//! let err = from_value::<Job>(&bad).err().unwrap();
//! assert_eq!(
//!     err.to_string(),
//!     "timeouts.job.minutes: invalid type: string \"soon\", expected u32"
//! );
//! ```

use std::fmt;

use ::serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use ::serde::ser::{SerializeMap, SerializeSeq};
use ::serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::mapping::Mapping;
use super::value::Value;

/// Reads a `T` out of `value`.
///
/// Strings are borrowed from `value` when `T` asks for `&str`.
pub fn from_value<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, FromValueError> {
    T::deserialize(value)
}

/// Why [`from_value`] failed: where, and serde's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromValueError {
    /// Path segments, innermost first (they are added while the error
    /// travels out of nested values).
    segments: Vec<String>,
    message: String,
}

impl FromValueError {
    /// The place in the value, e.g. `actions[2].deploy.to`; empty for the
    /// value itself.
    pub fn path(&self) -> String {
        let mut path = String::new();
        for segment in self.segments.iter().rev() {
            if !segment.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
        path
    }

    /// The reason, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn within(mut self, segment: String) -> Self {
        self.segments.push(segment);
        self
    }
}

impl fmt::Display for FromValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{path}: {}", self.message)
        }
    }
}

impl std::error::Error for FromValueError {}

impl de::Error for FromValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        FromValueError {
            segments: Vec::new(),
            message: msg.to_string(),
        }
    }
}

/// The path segment of a mapping key: `name`, or `["odd key"]` / `[3]`
/// when the key is not a plain word.
fn key_segment(key: &Value) -> String {
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
        Value::Float(f) => format!("[{f}]"),
        Value::Bool(b) => format!("[{b}]"),
        Value::Null => "[null]".to_owned(),
        other => format!("[<{}>]", other.type_name()),
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => de::Unexpected::Signed(*i),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::String(s) | Value::Decimal(s) => de::Unexpected::Str(s),
        Value::Sequence(_) => de::Unexpected::Seq,
        Value::Mapping(_) => de::Unexpected::Map,
        Value::Tagged(t) => unexpected(&t.value),
    }
}

impl<'de> Deserializer<'de> for &'de Value {
    type Error = FromValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::String(s) | Value::Decimal(s) => visitor.visit_borrowed_str(s),
            Value::Sequence(items) => visitor.visit_seq(Items {
                iter: items.iter().enumerate(),
            }),
            Value::Mapping(map) => visitor.visit_map(Entries {
                iter: map.iter(),
                pending: None,
            }),
            Value::Tagged(tagged) => tagged.value.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Value::String(_) => visitor.visit_enum(Variant {
                name: self,
                content: None,
            }),
            Value::Mapping(map) if map.len() == 1 => {
                let (name, content) = map.iter().next().expect("one entry");
                let segment = key_segment(name);
                visitor
                    .visit_enum(Variant {
                        name,
                        content: Some(content),
                    })
                    .map_err(|e| e.within(segment))
            }
            Value::Tagged(tagged) => tagged.value.deserialize_enum(_name, _variants, visitor),
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"a string or a mapping with one key",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier
    }
}

impl<'de> IntoDeserializer<'de, FromValueError> for &'de Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// The items of a sequence, for a visitor.
struct Items<'de> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = FromValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.iter.next() {
            None => Ok(None),
            Some((index, item)) => seed
                .deserialize(item)
                .map(Some)
                .map_err(|e| e.within(format!("[{index}]"))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of a mapping, for a visitor. Errors in a key or a value
/// get the key's path segment.
struct Entries<'de, I> {
    iter: I,
    /// The value (and path segment) of the entry whose key was just read.
    pending: Option<(&'de Value, String)>,
}

impl<'de, I> MapAccess<'de> for Entries<'de, I>
where
    I: ExactSizeIterator<Item = (&'de Value, &'de Value)>,
{
    type Error = FromValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            None => Ok(None),
            Some((key, value)) => {
                let segment = key_segment(key);
                let result = seed.deserialize(key);
                match result {
                    Ok(k) => {
                        self.pending = Some((value, segment));
                        Ok(Some(k))
                    }
                    Err(e) => Err(e.within(segment)),
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (value, segment) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a map value was asked for before its key"))?;
        seed.deserialize(value).map_err(|e| e.within(segment))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum variant: its name and, for a one-key mapping, its content.
struct Variant<'de> {
    name: &'de Value,
    content: Option<&'de Value>,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = FromValueError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Self::Error> {
        let name = seed.deserialize(self.name)?;
        Ok((name, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'de> {
    type Error = FromValueError;

    fn unit_variant(self) -> Result<(), Self::Error> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        match self.content {
            Some(content) => seed.deserialize(content),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.content {
            Some(content) => content.deserialize_any(visitor),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.content {
            Some(content) => content.deserialize_any(visitor),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) | Value::Decimal(s) => serializer.serialize_str(s),
            Value::Sequence(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Mapping(map) => map.serialize(serializer),
            Value::Tagged(tagged) => tagged.value.serialize(serializer),
        }
    }
}

impl Serialize for Mapping {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

/// Builds a [`Value`] from any serde input.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        // Like the loader: integers beyond 64 signed bits become floats.
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        MappingVisitor.visit_map(map).map(Value::Mapping)
    }
}

/// Builds a [`Mapping`] from a serde map.
struct MappingVisitor;

impl<'de> Visitor<'de> for MappingVisitor {
    type Value = Mapping;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_unit<E>(self) -> Result<Mapping, E> {
        // An empty node where a mapping is expected (`context:`) reads as
        // an empty mapping.
        Ok(Mapping::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Mapping, A::Error> {
        let mut out = Mapping::new();
        while let Some((key, value)) = map.next_entry::<Value, Value>()? {
            out.insert(key, value);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Mapping {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MappingVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "kebab-case")]
    enum Method {
        Tftp,
        UBoot,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Action {
        #[serde(rename = "deploy")]
        Deploy {
            to: Method,
            #[serde(flatten)]
            rest: Mapping,
        },
        #[serde(rename = "boot")]
        Boot(BTreeMap<String, Value>),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Job<'a> {
        name: &'a str,
        count: Option<u8>,
        ratio: f64,
        actions: Vec<Action>,
    }

    #[test]
    fn derives_read_values() {
        let value = yaml::load(
            "name: x\ncount: 7\nratio: 2\nactions:\n- deploy: {to: tftp, kernel: {url: k}}\n- boot: {method: u-boot}\n",
        )
        .unwrap();
        let job: Job = from_value(&value).unwrap();
        assert_eq!(job.name, "x");
        assert_eq!(job.count, Some(7));
        assert_eq!(job.ratio, 2.0);
        let Action::Deploy { to, rest } = &job.actions[0] else {
            panic!("{:?}", job.actions[0])
        };
        assert_eq!(*to, Method::Tftp);
        assert_eq!(rest.len(), 1);
        assert_eq!(
            rest.get("kernel").and_then(|k| k.get("url")),
            Some(&Value::from("k"))
        );
        let Action::Boot(boot) = &job.actions[1] else {
            panic!()
        };
        assert_eq!(boot["method"], Value::from("u-boot"));
    }

    #[test]
    fn errors_name_the_path() {
        let value = yaml::load("name: x\nratio: 1\nactions:\n- deploy: {to: floppy}\n").unwrap();
        let err = from_value::<Job>(&value).unwrap_err();
        assert_eq!(err.path(), "actions[0].deploy.to");
        assert!(err.message().contains("unknown variant `floppy`"), "{err}");

        let value = yaml::load("name: x\nratio: 1\ncount: 300\nactions: []").unwrap();
        let err = from_value::<Job>(&value).unwrap_err();
        assert_eq!(err.path(), "count");
        assert_eq!(
            err.to_string(),
            "count: invalid value: integer `300`, expected u8"
        );

        let value = yaml::load("{name: x, ratio: 1, actions: [{deploy: 3, boot: 4}]}").unwrap();
        let err = from_value::<Job>(&value).unwrap_err();
        assert_eq!(err.path(), "actions[0]");

        let value = yaml::load("ratio: 1\nactions: []").unwrap();
        let err = from_value::<Job>(&value).unwrap_err();
        assert_eq!(err.to_string(), "missing field `name`");
    }

    #[test]
    fn odd_keys_are_quoted_in_paths() {
        let value = yaml::load("{\"a b\": {1: {x: y}}}").unwrap();
        let err = from_value::<BTreeMap<String, BTreeMap<String, Value>>>(&value).unwrap_err();
        assert_eq!(err.path(), "[\"a b\"][1]");
    }

    #[test]
    fn values_round_trip_through_serde() {
        let text = "a: [1, 2.5, 'x', ~, true]\nb: {c: d}\n7: e\n";
        let value = yaml::load(text).unwrap();
        let back: Value = from_value(&value).unwrap();
        assert_eq!(back, value);
        let mapping: Mapping = from_value(&value).unwrap();
        assert_eq!(Value::Mapping(mapping), value);
        assert_eq!(from_value::<Mapping>(&Value::Null).unwrap(), Mapping::new());
    }

    /// A serializer that writes a compact text, enough to see what
    /// `Serialize for Value` produces.
    struct Text(String);

    #[derive(Debug)]
    struct TextError;

    impl fmt::Display for TextError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("unsupported")
        }
    }

    impl std::error::Error for TextError {}

    impl ::serde::ser::Error for TextError {
        fn custom<T: fmt::Display>(_: T) -> Self {
            TextError
        }
    }

    impl<'a> Serializer for &'a mut Text {
        type Ok = ();
        type Error = TextError;
        type SerializeSeq = &'a mut Text;
        type SerializeTuple = ::serde::ser::Impossible<(), TextError>;
        type SerializeTupleStruct = ::serde::ser::Impossible<(), TextError>;
        type SerializeTupleVariant = ::serde::ser::Impossible<(), TextError>;
        type SerializeMap = &'a mut Text;
        type SerializeStruct = ::serde::ser::Impossible<(), TextError>;
        type SerializeStructVariant = ::serde::ser::Impossible<(), TextError>;

        fn serialize_bool(self, v: bool) -> Result<(), TextError> {
            self.0 += &v.to_string();
            Ok(())
        }
        fn serialize_i8(self, v: i8) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_i16(self, v: i16) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_i32(self, v: i32) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_i64(self, v: i64) -> Result<(), TextError> {
            self.0 += &v.to_string();
            Ok(())
        }
        fn serialize_u8(self, v: u8) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_u16(self, v: u16) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_u32(self, v: u32) -> Result<(), TextError> {
            self.serialize_i64(v.into())
        }
        fn serialize_u64(self, _: u64) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_f32(self, v: f32) -> Result<(), TextError> {
            self.serialize_f64(v.into())
        }
        fn serialize_f64(self, v: f64) -> Result<(), TextError> {
            self.0 += &format!("{v:?}");
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<(), TextError> {
            self.serialize_str(&v.to_string())
        }
        fn serialize_str(self, v: &str) -> Result<(), TextError> {
            self.0 += &format!("{v:?}");
            Ok(())
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_none(self) -> Result<(), TextError> {
            self.serialize_unit()
        }
        fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), TextError> {
            v.serialize(self)
        }
        fn serialize_unit(self) -> Result<(), TextError> {
            self.0 += "null";
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), TextError> {
            Err(TextError)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self, TextError> {
            self.0 += "[";
            Ok(self)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, TextError> {
            Err(TextError)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, TextError> {
            Err(TextError)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, TextError> {
            Err(TextError)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self, TextError> {
            self.0 += "{";
            Ok(self)
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, TextError> {
            Err(TextError)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, TextError> {
            Err(TextError)
        }
    }

    impl SerializeSeq for &mut Text {
        type Ok = ();
        type Error = TextError;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TextError> {
            if !self.0.ends_with('[') {
                self.0 += ", ";
            }
            v.serialize(&mut **self)
        }
        fn end(self) -> Result<(), TextError> {
            self.0 += "]";
            Ok(())
        }
    }

    impl SerializeMap for &mut Text {
        type Ok = ();
        type Error = TextError;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), TextError> {
            if !self.0.ends_with('{') {
                self.0 += ", ";
            }
            k.serialize(&mut **self)
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), TextError> {
            self.0 += ": ";
            v.serialize(&mut **self)
        }
        fn end(self) -> Result<(), TextError> {
            self.0 += "}";
            Ok(())
        }
    }

    #[test]
    fn values_serialize_in_order_with_their_types() {
        let value =
            yaml::load("b: [1, 2.5, 'x', ~, yes]\na: {c: !!python/name:os.system d}\n7: \"e\"\n")
                .unwrap();
        let mut text = Text(String::new());
        value.serialize(&mut text).unwrap();
        assert_eq!(
            text.0,
            r#"{"b": [1, 2.5, "x", null, true], "a": {"c": "d"}, 7: "e"}"#
        );
    }

    #[test]
    fn enums_from_strings_and_single_key_mappings() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Either {
            Plain,
            Wrapped(u32),
        }
        let v = yaml::load("[plain, {wrapped: 3}]").unwrap();
        let items: Vec<Either> = from_value(&v).unwrap();
        assert_eq!(items, [Either::Plain, Either::Wrapped(3)]);
        let v = yaml::load("[{plain: 1, wrapped: 2}]").unwrap();
        let err = from_value::<Vec<Either>>(&v).unwrap_err();
        assert_eq!(err.path(), "[0]");
        assert!(err.message().contains("a string or a mapping with one key"));
    }
}
