//! Conversions between the YAML values of `lava-proto` (job contexts,
//! device dictionary literals) and the template engine's values.

use lava_proto::yaml::{Mapping, Value};
use minijinja::value::{Value as JValue, ValueKind};
use minijinja::{Error, ErrorKind};

/// A YAML value as a template value. Mappings keep their key order (the
/// order of the job file), as Python dicts do.
pub(crate) fn to_template(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::from(()),
        Value::Bool(b) => JValue::from(*b),
        Value::Int(i) => JValue::from(*i),
        Value::Float(f) => JValue::from(*f),
        Value::String(s) => JValue::from(s.as_str()),
        // Python prints a Decimal as its exact text.
        Value::Decimal(text) => JValue::from(text.as_str()),
        Value::Sequence(items) => items.iter().map(to_template).collect(),
        Value::Mapping(map) => mapping_to_template(map),
        Value::Tagged(tagged) => to_template(&tagged.value),
    }
}

/// A YAML mapping as a template map value (order kept).
pub(crate) fn mapping_to_template(map: &Mapping) -> JValue {
    JValue::from_pairs(map.iter().map(|(k, v)| (to_template(k), to_template(v))))
}

/// A template value as a YAML value (for `yaml_quote`). Undefined values
/// and objects that are neither sequences nor maps cannot be converted.
pub(crate) fn to_yaml(value: &JValue) -> Result<Value, Error> {
    to_yaml_depth(value, 0)
}

fn to_yaml_depth(value: &JValue, depth: usize) -> Result<Value, Error> {
    if depth > 200 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "value nested too deeply",
        ));
    }
    Ok(match value.kind() {
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(value.is_true()),
        ValueKind::Number if value.is_integer() => match value.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(f64::try_from(value.clone())?),
        },
        ValueKind::Number => Value::Float(f64::try_from(value.clone())?),
        ValueKind::String => Value::String(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut items = Vec::new();
            for item in value.try_iter()? {
                items.push(to_yaml_depth(&item, depth + 1)?);
            }
            Value::Sequence(items)
        }
        ValueKind::Map => {
            let mut map = Mapping::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                map.insert(
                    to_yaml_depth(&key, depth + 1)?,
                    to_yaml_depth(&item, depth + 1)?,
                );
            }
            Value::Mapping(map)
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot represent a value of type {kind} as YAML"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_keep_their_order_both_ways() {
        let yaml = lava_proto::yaml::load("b: 1\na: [x, 2.5, null, true]\n").unwrap();
        let value = to_template(&yaml);
        assert_eq!(value.to_string(), "{'b': 1, 'a': ['x', 2.5, None, True]}");
        assert_eq!(to_yaml(&value).unwrap(), yaml);
        let keys: Vec<String> = to_yaml(&value)
            .unwrap()
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn undefined_cannot_be_converted() {
        assert!(to_yaml(&JValue::UNDEFINED).is_err());
    }
}
