//! An insertion-ordered mapping with Python dict semantics.
//!
//! Keys compare as Python dict keys do: `1`, `1.0` and `true` are one key,
//! `0`, `-0.0` and `false` another; all `.nan` keys are one key (PyYAML
//! hands out a single NaN object). Replacing the value of a key keeps the
//! key's first position, as assigning to a Python dict does.
//!
//! Small mappings are searched linearly; from [`INDEX_FROM`] entries on a
//! hash index is kept, so building a mapping of `n` keys is `O(n)` and a
//! hostile document cannot make it quadratic (the hasher is seeded
//! randomly).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::value::Value;

/// From this many entries on, a mapping keeps a hash index.
const INDEX_FROM: usize = 9;

/// No successor in a hash chain.
const END: usize = usize::MAX;

/// An insertion-ordered mapping; keys are [`Value`]s (almost always strings).
#[derive(Clone, Default)]
pub struct Mapping {
    entries: Vec<(Value, Value)>,
    index: Option<Box<Index>>,
}

/// Hash index: key hash → first entry with that hash; `next` chains the
/// entries sharing a hash.
#[derive(Clone)]
struct Index {
    state: RandomState,
    heads: HashMap<u64, usize, BuildHasherDefault<U64Hasher>>,
    next: Vec<usize>,
}

/// The keys of `heads` are already hashes: pass them through.
#[derive(Default)]
struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A key reduced to what Python's `==` and `hash()` look at.
enum KeyForm<'a> {
    Null,
    Int(i64),
    /// A float that is not an integer (bits; all NaNs share one form).
    Float(u64),
    Str(&'a str),
    Decimal(&'a str),
    /// Anything else compares structurally.
    Other(&'a Value),
}

const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

fn key_form(key: &Value) -> KeyForm<'_> {
    match key {
        Value::Null => KeyForm::Null,
        Value::Bool(b) => KeyForm::Int(i64::from(*b)),
        Value::Int(i) => KeyForm::Int(*i),
        Value::Float(f) => float_form(*f),
        Value::String(s) => KeyForm::Str(s),
        Value::Decimal(d) => KeyForm::Decimal(d),
        other => KeyForm::Other(other),
    }
}

fn float_form<'a>(f: f64) -> KeyForm<'a> {
    if f.is_nan() {
        KeyForm::Float(CANONICAL_NAN)
    } else if f.fract() == 0.0 && f.abs() < super::resolve::TWO_POW_63 {
        // Integral and within i64: equal to that integer in Python.
        KeyForm::Int(f as i64)
    } else {
        KeyForm::Float(f.to_bits())
    }
}

/// Python dict-key equality.
pub(crate) fn key_eq(a: &Value, b: &Value) -> bool {
    match (key_form(a), key_form(b)) {
        (KeyForm::Null, KeyForm::Null) => true,
        (KeyForm::Int(x), KeyForm::Int(y)) => x == y,
        (KeyForm::Float(x), KeyForm::Float(y)) => x == y,
        (KeyForm::Str(x), KeyForm::Str(y)) => x == y,
        (KeyForm::Decimal(x), KeyForm::Decimal(y)) => x == y,
        (KeyForm::Other(x), KeyForm::Other(y)) => x == y,
        _ => false,
    }
}

fn hash_str(state: &RandomState, s: &str) -> u64 {
    let mut h = state.build_hasher();
    h.write_u8(3);
    s.hash(&mut h);
    h.finish()
}

fn hash_key(state: &RandomState, key: &Value) -> u64 {
    let mut h = state.build_hasher();
    match key_form(key) {
        KeyForm::Null => h.write_u8(0),
        KeyForm::Int(i) => {
            h.write_u8(1);
            h.write_i64(i);
        }
        KeyForm::Float(bits) => {
            h.write_u8(2);
            h.write_u64(bits);
        }
        KeyForm::Str(s) => return hash_str(state, s),
        KeyForm::Decimal(d) => {
            h.write_u8(4);
            d.hash(&mut h);
        }
        KeyForm::Other(v) => {
            h.write_u8(5);
            h.write_u64(hash_structural(state, v));
        }
    }
    h.finish()
}

/// A hash consistent with `Value`'s structural `==` (used for keys that
/// are sequences, mappings or tagged nodes; their depth is bounded by the
/// loader's depth limit).
fn hash_structural(state: &RandomState, value: &Value) -> u64 {
    let mut h = state.build_hasher();
    match value {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            h.write_u8(u8::from(*b));
        }
        Value::Int(i) => {
            h.write_u8(2);
            h.write_i64(*i);
        }
        Value::Float(f) => {
            h.write_u8(3);
            // 0.0 == -0.0 structurally: hash them alike.
            h.write_u64(if *f == 0.0 { 0 } else { f.to_bits() });
        }
        Value::String(s) => {
            h.write_u8(4);
            s.hash(&mut h);
        }
        Value::Decimal(d) => {
            h.write_u8(5);
            d.hash(&mut h);
        }
        Value::Sequence(items) => {
            h.write_u8(6);
            h.write_usize(items.len());
            for item in items {
                h.write_u64(hash_structural(state, item));
            }
        }
        Value::Mapping(map) => {
            // Mapping equality ignores order: combine entries commutatively.
            h.write_u8(7);
            h.write_usize(map.len());
            let mut sum = 0u64;
            for (k, v) in map.iter() {
                let pair = hash_key(state, k).rotate_left(17) ^ hash_structural(state, v);
                sum = sum.wrapping_add(pair);
            }
            h.write_u64(sum);
        }
        Value::Tagged(t) => {
            h.write_u8(8);
            t.tag.hash(&mut h);
            h.write_u64(hash_structural(state, &t.value));
        }
    }
    h.finish()
}

impl Index {
    fn build(entries: &[(Value, Value)]) -> Box<Index> {
        let mut index = Box::new(Index {
            state: RandomState::new(),
            heads: HashMap::with_capacity_and_hasher(entries.len(), Default::default()),
            next: Vec::with_capacity(entries.len()),
        });
        for (i, (k, _)) in entries.iter().enumerate() {
            index.add(hash_key(&index.state, k), i);
        }
        index
    }

    fn add(&mut self, hash: u64, position: usize) {
        let previous = self.heads.insert(hash, position).unwrap_or(END);
        self.next.push(previous);
    }
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Self {
        Mapping::default()
    }

    /// An empty mapping with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Mapping {
            entries: Vec::with_capacity(capacity),
            index: None,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The position of the entry whose key is the string `key`.
    fn position_str(&self, key: &str) -> Option<usize> {
        match &self.index {
            None => self
                .entries
                .iter()
                .position(|(k, _)| matches!(k, Value::String(s) if s == key)),
            Some(index) => {
                let mut at = *index.heads.get(&hash_str(&index.state, key))?;
                while at != END {
                    if matches!(&self.entries[at].0, Value::String(s) if s == key) {
                        return Some(at);
                    }
                    at = index.next[at];
                }
                None
            }
        }
    }

    /// The position of the entry whose key equals `key` (Python semantics).
    fn position(&self, key: &Value) -> Option<usize> {
        if let Value::String(s) = key {
            return self.position_str(s);
        }
        match &self.index {
            None => self.entries.iter().position(|(k, _)| key_eq(k, key)),
            Some(index) => {
                let mut at = *index.heads.get(&hash_key(&index.state, key))?;
                while at != END {
                    if key_eq(&self.entries[at].0, key) {
                        return Some(at);
                    }
                    at = index.next[at];
                }
                None
            }
        }
    }

    /// The value under the string key `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position_str(key).map(|i| &self.entries[i].1)
    }

    /// The value under the string key `key`, to modify it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position_str(key).map(move |i| &mut self.entries[i].1)
    }

    /// The value under any key (`1`, `1.0` and `true` find the same entry).
    pub fn get_value(&self, key: &Value) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The value under any key, to modify it.
    pub fn get_value_mut(&mut self, key: &Value) -> Option<&mut Value> {
        self.position(key).map(move |i| &mut self.entries[i].1)
    }

    /// Whether the string key `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position_str(key).is_some()
    }

    /// Sets `key` to `value` like a Python dict assignment: a new key goes
    /// last, an existing key keeps its position (and its original key
    /// value) and gets the new value; the old value is returned.
    pub fn insert(&mut self, key: impl Into<Value>, value: impl Into<Value>) -> Option<Value> {
        self.insert_full(key.into(), value.into()).1
    }

    /// [`Mapping::insert`] that also tells the position of the entry.
    pub(crate) fn insert_full(&mut self, key: Value, value: Value) -> (usize, Option<Value>) {
        if let Some(i) = self.position(&key) {
            let old = std::mem::replace(&mut self.entries[i].1, value);
            return (i, Some(old));
        }
        let at = self.entries.len();
        match &mut self.index {
            Some(index) => {
                let hash = hash_key(&index.state, &key);
                index.add(hash, at);
                self.entries.push((key, value));
            }
            None => {
                self.entries.push((key, value));
                if self.entries.len() >= INDEX_FROM {
                    self.index = Some(Index::build(&self.entries));
                }
            }
        }
        (at, None)
    }

    /// The key of the entry at `position`.
    pub(crate) fn key_at(&self, position: usize) -> Option<&Value> {
        self.entries.get(position).map(|(k, _)| k)
    }

    /// Removes the string key `key`; later entries keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position_str(key)?;
        Some(self.remove_at(i))
    }

    /// Removes any key; later entries keep their order.
    pub fn remove_value(&mut self, key: &Value) -> Option<Value> {
        let i = self.position(key)?;
        Some(self.remove_at(i))
    }

    fn remove_at(&mut self, i: usize) -> Value {
        let (_, value) = self.entries.remove(i);
        self.index = if self.entries.len() >= INDEX_FROM {
            Some(Index::build(&self.entries))
        } else {
            None
        };
        value
    }

    /// The entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Value, &Value)> + DoubleEndedIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries in order, values modifiable.
    pub fn iter_mut(
        &mut self,
    ) -> impl ExactSizeIterator<Item = (&Value, &mut Value)> + DoubleEndedIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Value> + DoubleEndedIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> + DoubleEndedIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// Like Python dicts: equal when they hold the same keys with equal values,
/// whatever the order.
impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .entries
                .iter()
                .all(|(k, v)| other.get_value(k).is_some_and(|w| w == v))
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(Value, Value)> for Mapping {
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(iter: I) -> Self {
        let mut map = Mapping::new();
        map.extend(iter);
        map
    }
}

impl Extend<(Value, Value)> for Mapping {
    fn extend<I: IntoIterator<Item = (Value, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert_full(k, v);
        }
    }
}

impl IntoIterator for Mapping {
    type Item = (Value, Value);
    type IntoIter = std::vec::IntoIter<(Value, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Mapping {
    type Item = (&'a Value, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Value, Value)>,
        fn(&'a (Value, Value)) -> (&'a Value, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        fn split(entry: &(Value, Value)) -> (&Value, &Value) {
            (&entry.0, &entry.1)
        }
        self.entries
            .iter()
            .map(split as fn(&'a (Value, Value)) -> (&'a Value, &'a Value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    #[test]
    fn insert_replaces_in_place_like_a_dict() {
        let mut m = Mapping::new();
        assert_eq!(m.insert("a", 1), None);
        assert_eq!(m.insert("b", 2), None);
        assert_eq!(m.insert("a", 3), Some(Value::Int(1)));
        let keys: Vec<&Value> = m.keys().collect();
        assert_eq!(keys, [&s("a"), &s("b")]);
        assert_eq!(m.get("a"), Some(&Value::Int(3)));
    }

    #[test]
    fn python_key_equality() {
        let mut m = Mapping::new();
        m.insert(Value::Int(1), "int");
        m.insert(Value::Float(1.0), "float");
        m.insert(Value::Bool(true), "bool");
        assert_eq!(m.len(), 1);
        assert_eq!(m.keys().next(), Some(&Value::Int(1)));
        assert_eq!(m.get_value(&Value::Bool(true)), Some(&s("bool")));
        m.insert(Value::Float(-0.0), "zero");
        assert_eq!(m.get_value(&Value::Bool(false)), Some(&s("zero")));
        m.insert(Value::Float(f64::NAN), "nan");
        m.insert(Value::Float(f64::NAN), "nan2");
        assert_eq!(m.len(), 3);
        assert_eq!(m.get_value(&Value::Float(f64::NAN)), Some(&s("nan2")));
        // "1" is not 1.
        assert_eq!(m.get("1"), None);
        m.insert(Value::Float(1.5), "x");
        assert_eq!(m.get_value(&Value::Float(1.5)), Some(&s("x")));
        assert_eq!(m.get_value(&Value::Int(2)), None);
    }

    #[test]
    fn big_mappings_use_the_index_consistently() {
        let mut m = Mapping::new();
        for i in 0..1000 {
            m.insert(format!("k{i}"), i);
            m.insert(Value::Int(i64::from(i)), "int");
        }
        assert_eq!(m.len(), 2000);
        assert!(m.index.is_some());
        for i in (0..1000).rev() {
            assert_eq!(m.get(&format!("k{i}")), Some(&Value::Int(i64::from(i))));
            assert_eq!(m.get_value(&Value::Float(f64::from(i))), Some(&s("int")));
        }
        // Replacing keeps positions.
        m.insert("k0", "new");
        assert_eq!(m.keys().next(), Some(&s("k0")));
        assert_eq!(m.get("k0"), Some(&s("new")));
        // Removing keeps the order of the others and the index valid.
        assert_eq!(m.remove("k0"), Some(s("new")));
        assert_eq!(m.remove("k0"), None);
        assert_eq!(m.keys().next(), Some(&Value::Int(0)));
        assert_eq!(m.get("k999"), Some(&Value::Int(999)));
        assert_eq!(m.remove_value(&Value::Int(999)), Some(s("int")));
        assert_eq!(m.len(), 1998);
        for i in 1..999 {
            assert!(m.contains_key(&format!("k{i}")));
        }
    }

    #[test]
    fn structural_keys() {
        let mut m = Mapping::new();
        let inner: Mapping = [(s("a"), Value::Int(1)), (s("b"), Value::Int(2))]
            .into_iter()
            .collect();
        let swapped: Mapping = [(s("b"), Value::Int(2)), (s("a"), Value::Int(1))]
            .into_iter()
            .collect();
        for i in 0..20 {
            m.insert(Value::Sequence(vec![Value::Int(i)]), i);
        }
        m.insert(Value::Mapping(inner), "first");
        m.insert(Value::Mapping(swapped.clone()), "second");
        assert_eq!(m.len(), 21);
        assert_eq!(m.get_value(&Value::Mapping(swapped)), Some(&s("second")));
        assert_eq!(
            m.get_value(&Value::Sequence(vec![Value::Int(7)])),
            Some(&Value::Int(7))
        );
    }

    #[test]
    fn equality_ignores_order() {
        let a: Mapping = [(s("x"), Value::Int(1)), (s("y"), Value::Int(2))]
            .into_iter()
            .collect();
        let b: Mapping = [(s("y"), Value::Int(2)), (s("x"), Value::Int(1))]
            .into_iter()
            .collect();
        let c: Mapping = [(s("y"), Value::Int(2)), (s("x"), Value::Int(3))]
            .into_iter()
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, Mapping::new());
        assert_eq!(
            format!("{a:?}"),
            r#"{String("x"): Int(1), String("y"): Int(2)}"#
        );
    }

    #[test]
    fn iterators() {
        let mut m: Mapping = [(s("x"), Value::Int(1)), (s("y"), Value::Int(2))]
            .into_iter()
            .collect();
        for (_, v) in m.iter_mut() {
            *v = Value::Int(0);
        }
        if let Some(v) = m.get_mut("y") {
            *v = Value::Int(5);
        }
        let values: Vec<&Value> = m.values().collect();
        assert_eq!(values, [&Value::Int(0), &Value::Int(5)]);
        let pairs: Vec<(&Value, &Value)> = (&m).into_iter().collect();
        assert_eq!(pairs.len(), 2);
        let owned: Vec<(Value, Value)> = m.into_iter().collect();
        assert_eq!(owned[1], (s("y"), Value::Int(5)));
    }
}
