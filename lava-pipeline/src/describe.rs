//! A small block-style YAML writer for `description.yaml`: every scalar is
//! written in flow form by lava-proto's emitter (strings double-quoted),
//! so the file has no language-specific tags and loads back as written.
//!
//! ```
//! use lava_pipeline::unstable::describe::to_block_yaml;
//! use lava_proto::yaml::{self, Value};
//!
//! let value = yaml::load("{a: 1, b: [x, {c: true}], d: {}, e: []}").unwrap();
//! let text = to_block_yaml(&value);
//! assert_eq!(yaml::load(&text).unwrap(), value);
//! ```

use lava_proto::yaml::{to_flow_line, Value};

/// The value as block YAML, ending with a newline.
pub fn to_block_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => write_mapping(&mut out, value, 0),
        Value::Sequence(s) if !s.is_empty() => write_sequence(&mut out, value, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

/// A scalar: numbers, booleans and null plain, the rest by the flow
/// emitter (strings double-quoted).
fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        other => to_flow_line(other),
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Mapping(m) => !m.is_empty(),
        Value::Sequence(s) => !s.is_empty(),
        _ => false,
    }
}

fn write_mapping(out: &mut String, value: &Value, indent: usize) {
    let Value::Mapping(map) = value else { return };
    for (key, item) in map.iter() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&to_flow_line(key));
        out.push(':');
        write_child(out, item, indent);
    }
}

fn write_sequence(out: &mut String, value: &Value, indent: usize) {
    let Value::Sequence(items) = value else {
        return;
    };
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        write_child(out, item, indent);
    }
}

fn write_child(out: &mut String, item: &Value, indent: usize) {
    if is_block(item) {
        out.push('\n');
        match item {
            Value::Mapping(_) => write_mapping(out, item, indent + 2),
            _ => write_sequence(out, item, indent + 2),
        }
    } else {
        out.push(' ');
        out.push_str(&scalar(item));
        out.push('\n');
    }
}
