//! From text to [`Value`]: saphyr-parser's events, PyYAML's composer and
//! constructor rules, and the limits that keep hostile input harmless.
//!
//! The walk over the events is iterative (an explicit stack of open
//! collections), so nothing here recurses on the depth of the input.
//!
//! Aliases are the only way a small text becomes a big value. Every alias
//! is charged the size of the node it copies (counting the aliases inside
//! that node as expanded), and the walk stops as soon as the total passes
//! [`Limits::max_alias_expansion`]; an alias also may not make the value
//! deeper than [`Limits::max_depth`]. When the text contains a `*` at all,
//! a first pass over the events does those checks and notes which anchors
//! are really used, so that the second pass (which builds the values)
//! copies only those: anchors that are never aliased cost nothing, and
//! everything copied has been paid for by the budget.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use super::error::{ErrorKind, YamlError};
use super::mapping::Mapping;
use super::resolve::{self, Scalar, TagKind};
use super::value::{Tagged, Value};
use super::{Document, Limits, Warning};

/// saphyr-parser refuses flow collections nested deeper than this.
const PARSER_FLOW_DEPTH: usize = 255;

/// A 1-based position, and the 0-based character index it is at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    line: usize,
    column: usize,
    index: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
            index: span.start.index(),
        }
    }

    fn error(self, kind: ErrorKind, message: impl Into<String>) -> YamlError {
        YamlError::at(kind, self.line, self.column, message)
    }
}

/// A finished node, before it is placed into its parent. `<<` and `=` are
/// only meaningful as mapping keys.
#[derive(Debug, Clone)]
enum Built {
    Value(Value),
    Merge,
    ValueKey(String),
}

/// A finished node with what the limits need to know about it.
struct Item {
    built: Built,
    pos: Pos,
    /// Nodes it holds, itself included, aliases expanded.
    size: usize,
    /// Nesting: 0 for a scalar, 1 + the deepest child for a collection.
    height: usize,
}

enum Key {
    Merge,
    Value(Value),
}

struct Pair {
    key: Key,
    key_pos: Pos,
    value: Value,
    value_pos: Pos,
}

#[derive(Default)]
struct MapFrame {
    pending_key: Option<(Built, Pos)>,
    pairs: Vec<Pair>,
}

enum FrameKind {
    Seq(Vec<Value>),
    Map(MapFrame),
}

/// A collection being read.
struct Frame {
    kind: FrameKind,
    tag: Option<String>,
    anchor: usize,
    pos: Pos,
    size: usize,
    child_height: usize,
}

enum Anchor {
    /// Its node is still being read: an alias to it would be recursive.
    Open,
    Done {
        size: usize,
        height: usize,
        /// Kept only for anchors that some alias uses.
        copy: Option<Built>,
    },
}

/// One pass over the events of `text`.
struct Walker<'t> {
    text: &'t str,
    limits: &'t Limits,
    /// Whether values are built (second pass) or only checked (first pass).
    build: bool,
    /// Build pass: the anchors whose node must be kept for aliases.
    aliased: HashSet<usize>,
    /// Check pass: the anchors aliases use.
    used: HashSet<usize>,
    anchors: HashMap<usize, Anchor>,
    /// Anchor names seen, with where: PyYAML refuses to redefine one.
    anchor_names: HashMap<String, Pos>,
    /// Character index → byte offset, moving forward with the events.
    cursor: (usize, usize),
    /// Whether character indexes are byte offsets.
    ascii: bool,
    frames: Vec<Frame>,
    expansion: usize,
    warnings: Vec<Warning>,
    root: Option<Item>,
}

/// Loads exactly one document (see [`super::load_with`]).
pub(crate) fn load_text(text: &str, limits: &Limits) -> Result<Document, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::whole(
            ErrorKind::TooLarge,
            format!(
                "document exceeds the {}-byte limit ({} bytes)",
                limits.max_bytes,
                text.len()
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_printable(text)?;
    // NEL is a line break in YAML 1.1 (and PyYAML reads it as "\n"
    // everywhere); the YAML 1.2 parser only knows "\n" and "\r".
    let normalized;
    let text = if text.contains('\u{85}') {
        normalized = text.replace('\u{85}', "\n");
        normalized.as_str()
    } else {
        text
    };
    let aliased = if text.contains('*') {
        let mut check = Walker::new(text, limits, false, HashSet::new());
        check.run()?;
        check.used
    } else {
        HashSet::new()
    };
    let mut walker = Walker::new(text, limits, true, aliased);
    walker.run()?;
    let value = match walker.root.take() {
        Some(item) => into_value(item)?,
        None => Value::Null,
    };
    let mut warnings = walker.warnings;
    warnings.sort_by_key(|w| w.line);
    Ok(Document { value, warnings })
}

/// PyYAML's reader accepts tab, line feed, carriage return, printable
/// ASCII, NEL and the printable Unicode ranges, and nothing else.
fn check_printable(text: &str) -> Result<(), YamlError> {
    if text
        .bytes()
        .all(|b| b == b'\t' || b == b'\n' || b == b'\r' || (b' '..=b'~').contains(&b))
    {
        return Ok(());
    }
    let (mut line, mut column) = (1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let printable = matches!(c,
            '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
        if !printable {
            return Err(YamlError::at(
                ErrorKind::InvalidCharacter,
                line,
                column,
                format!(
                    "unacceptable character #x{:04x}: special characters are not allowed",
                    u32::from(c)
                ),
            ));
        }
        // Line breaks as PyYAML counts them: LF, CR not before LF, NEL.
        if c == '\n' || c == '\u{85}' || (c == '\r' && chars.peek() != Some(&'\n')) {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Ok(())
}

/// The full tag: `!` + `foo`, `tag:yaml.org,2002:` + `int`, ...
fn tag_string(tag: Option<Cow<'_, Tag>>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

/// A character of an anchor or alias name (as the parser reads them).
fn is_anchor_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}' | '\u{feff}')
}

/// How PyYAML names the kind of node a value came from.
fn node_kind(value: &Value) -> &'static str {
    match value {
        Value::Sequence(_) | Value::Decimal(_) => "sequence",
        Value::Mapping(_) => "mapping",
        Value::Tagged(t) => node_kind(&t.value),
        _ => "scalar",
    }
}

/// A node placed anywhere but as a mapping key.
fn into_value(item: Item) -> Result<Value, YamlError> {
    match item.built {
        Built::Value(v) => Ok(v),
        Built::Merge => Err(item.pos.error(
            ErrorKind::Construct,
            "could not determine a constructor for the tag 'tag:yaml.org,2002:merge' (a '<<' merge key can only be a mapping key)",
        )),
        Built::ValueKey(_) => Err(item.pos.error(
            ErrorKind::Construct,
            "could not determine a constructor for the tag 'tag:yaml.org,2002:value' (quote '=' to use it as a string)",
        )),
    }
}

/// A short, readable form of a key for messages.
fn describe_key(key: &Value) -> String {
    let text = match key {
        Value::String(s) => format!("'{s}'"),
        other => super::emit::to_flow_line(other),
    };
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

impl<'t> Walker<'t> {
    fn new(text: &'t str, limits: &'t Limits, build: bool, aliased: HashSet<usize>) -> Self {
        Walker {
            text,
            limits,
            build,
            aliased,
            used: HashSet::new(),
            anchors: HashMap::new(),
            anchor_names: HashMap::new(),
            cursor: (0, 0),
            ascii: text.is_ascii(),
            frames: Vec::new(),
            expansion: 0,
            warnings: Vec::new(),
            root: None,
        }
    }

    fn run(&mut self) -> Result<(), YamlError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut documents = 0usize;
        // Every event consumes input or closes something opened by input; a
        // parser producing far more events than that is not making progress.
        let max_events = self.text.len().saturating_mul(8).saturating_add(64);
        let mut events = 0usize;
        let mut last = Pos {
            line: 1,
            column: 1,
            index: 0,
        };
        loop {
            let next = catch_unwind(AssertUnwindSafe(|| parser.next_event()));
            let (event, span) = match next {
                Err(_) => {
                    return Err(last.error(
                        ErrorKind::Internal,
                        "internal parser error (the parser panicked)",
                    ))
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => return Err(self.scan_error(&error)),
                Ok(Some(Ok(event))) => event,
            };
            events += 1;
            let pos = Pos::of(&span);
            if events > max_events {
                return Err(pos.error(ErrorKind::Internal, "internal parser error (no progress)"));
            }
            last = pos;
            if let Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _) = &event
            {
                if *anchor != 0 {
                    self.check_anchor_name(pos)?;
                }
            }
            match event {
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if documents > 0 {
                        return Err(pos.error(
                            ErrorKind::MultipleDocuments,
                            "expected a single document in the stream, but found another document",
                        ));
                    }
                    documents += 1;
                }
                Event::Scalar(text, style, anchor, tag) => {
                    self.scalar(text, style, anchor, tag, pos)?
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(FrameKind::Seq(Vec::new()), anchor, tag, pos)?
                }
                Event::MappingStart(anchor, tag) => {
                    self.open(FrameKind::Map(MapFrame::default()), anchor, tag, pos)?
                }
                Event::SequenceEnd | Event::MappingEnd => self.close(pos)?,
                Event::Alias(id) => self.alias(id, pos)?,
            }
        }
        if !self.frames.is_empty() {
            return Err(last.error(
                ErrorKind::Internal,
                "internal parser error (unclosed collection)",
            ));
        }
        Ok(())
    }

    fn scan_error(&mut self, error: &ScanError) -> YamlError {
        let mark = error.marker();
        let pos = Pos {
            line: mark.line(),
            column: mark.col() + 1,
            index: mark.index(),
        };
        if error.info().contains("unknown anchor") {
            let name = self.alias_name(pos);
            return pos.error(ErrorKind::UnknownAlias, format!("unknown alias *{name}"));
        }
        if error.info().contains("recursion limit exceeded") {
            // The parser looks ahead and refuses more than 255 nested flow
            // collections, possibly before the events reach our own check.
            let levels = self.limits.max_depth.min(PARSER_FLOW_DEPTH);
            return pos.error(
                ErrorKind::TooDeep,
                format!("nesting deeper than {levels} levels"),
            );
        }
        pos.error(ErrorKind::Syntax, error.info())
    }

    /// The byte offset of character `index` (amortised linear: events
    /// come in text order, the cursor only restarts when one does not).
    fn byte_offset(&mut self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        if index < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut chars, mut bytes) = self.cursor;
        for c in self.text[bytes..].chars() {
            if chars == index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor = (chars, bytes);
        bytes
    }

    /// The name of the alias that starts at `pos`.
    fn alias_name(&mut self, pos: Pos) -> String {
        let start = self.byte_offset(pos.index);
        let rest = &self.text[start..];
        let rest = rest.strip_prefix('*').unwrap_or(rest);
        rest.chars()
            .take_while(|c| is_anchor_char(*c))
            .take(100)
            .collect()
    }

    /// The anchor of the node whose properties start at `pos`: `&name`,
    /// possibly after a tag (`!t &name`).
    fn anchor_name(&mut self, pos: Pos) -> Option<String> {
        let start = self.byte_offset(pos.index);
        let mut rest = &self.text[start..];
        if rest.starts_with('!') {
            rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
            loop {
                rest = rest.trim_start();
                match rest.strip_prefix('#') {
                    Some(comment) => rest = comment.trim_start_matches(|c| c != '\n'),
                    None => break,
                }
            }
        }
        let name: String = rest
            .strip_prefix('&')?
            .chars()
            .take_while(|c| is_anchor_char(*c))
            .collect();
        (!name.is_empty()).then_some(name)
    }

    /// PyYAML: "found duplicate anchor".
    fn check_anchor_name(&mut self, pos: Pos) -> Result<(), YamlError> {
        let Some(name) = self.anchor_name(pos) else {
            return Ok(());
        };
        if let Some(first) = self.anchor_names.get(&name) {
            return Err(pos.error(
                ErrorKind::DuplicateAnchor,
                format!(
                    "found duplicate anchor &{name} (first occurrence at line {} column {})",
                    first.line, first.column
                ),
            ));
        }
        self.anchor_names.insert(name, pos);
        Ok(())
    }

    fn scalar(
        &mut self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
        pos: Pos,
    ) -> Result<(), YamlError> {
        let built = if self.build {
            let text = text.into_owned();
            let resolved = match tag_string(tag) {
                None if style == ScalarStyle::Plain => resolve::resolve_implicit(text),
                None => Ok(Scalar::Value(Value::String(text))),
                Some(tag) => resolve::construct_tagged_scalar(&tag, text),
            };
            match resolved.map_err(|message| pos.error(ErrorKind::Construct, message))? {
                Scalar::Value(v) => Built::Value(v),
                Scalar::Merge(_) => Built::Merge,
                Scalar::ValueKey(text) => Built::ValueKey(text),
            }
        } else {
            Built::Value(Value::Null)
        };
        let item = Item {
            built,
            pos,
            size: 1,
            height: 0,
        };
        self.finish(item, anchor)
    }

    fn open(
        &mut self,
        kind: FrameKind,
        anchor: usize,
        tag: Option<Cow<'_, Tag>>,
        pos: Pos,
    ) -> Result<(), YamlError> {
        if self.frames.len() >= self.limits.max_depth {
            return Err(self.too_deep(pos));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, Anchor::Open);
        }
        self.frames.push(Frame {
            kind,
            tag: tag_string(tag),
            anchor,
            pos,
            size: 1,
            child_height: 0,
        });
        Ok(())
    }

    fn too_deep(&self, pos: Pos) -> YamlError {
        pos.error(
            ErrorKind::TooDeep,
            format!("nesting deeper than {} levels", self.limits.max_depth),
        )
    }

    fn close(&mut self, pos: Pos) -> Result<(), YamlError> {
        let frame = self.frames.pop().ok_or_else(|| {
            pos.error(
                ErrorKind::Internal,
                "internal parser error (unbalanced collection end)",
            )
        })?;
        let built = if self.build {
            Built::Value(self.construct_collection(frame.kind, frame.tag, frame.pos)?)
        } else {
            Built::Value(Value::Null)
        };
        let item = Item {
            built,
            pos: frame.pos,
            size: frame.size,
            height: frame.child_height + 1,
        };
        self.finish(item, frame.anchor)
    }

    fn alias(&mut self, id: usize, pos: Pos) -> Result<(), YamlError> {
        let (size, height, copy) = match self.anchors.get(&id) {
            None => {
                let name = self.alias_name(pos);
                return Err(pos.error(ErrorKind::UnknownAlias, format!("unknown alias *{name}")));
            }
            Some(Anchor::Open) => {
                let name = self.alias_name(pos);
                return Err(pos.error(
                    ErrorKind::RecursiveAlias,
                    format!("alias *{name} is inside the node it refers to (recursive structures are not supported)"),
                ));
            }
            Some(Anchor::Done { size, height, copy }) => (*size, *height, copy),
        };
        if self.frames.len().saturating_add(height) > self.limits.max_depth {
            return Err(self.too_deep(pos));
        }
        self.expansion = self.expansion.saturating_add(size);
        if self.expansion > self.limits.max_alias_expansion {
            return Err(pos.error(
                ErrorKind::AliasBomb,
                format!(
                    "alias expansion exceeds {} nodes (alias bomb?)",
                    self.limits.max_alias_expansion
                ),
            ));
        }
        let built = if self.build {
            copy.clone().ok_or_else(|| {
                pos.error(
                    ErrorKind::Internal,
                    "internal error (alias target was not kept)",
                )
            })?
        } else {
            self.used.insert(id);
            Built::Value(Value::Null)
        };
        self.finish(
            Item {
                built,
                pos,
                size,
                height,
            },
            0,
        )
    }

    /// Records a finished node under its anchor and hands it to its parent.
    fn finish(&mut self, item: Item, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            let copy = (self.build && self.aliased.contains(&anchor)).then(|| item.built.clone());
            self.anchors.insert(
                anchor,
                Anchor::Done {
                    size: item.size,
                    height: item.height,
                    copy,
                },
            );
        }
        let Some(parent) = self.frames.last_mut() else {
            self.root = Some(item);
            return Ok(());
        };
        parent.size = parent.size.saturating_add(item.size);
        parent.child_height = parent.child_height.max(item.height);
        if !self.build {
            return Ok(());
        }
        match &mut parent.kind {
            FrameKind::Seq(items) => items.push(into_value(item)?),
            FrameKind::Map(map) => match map.pending_key.take() {
                None => map.pending_key = Some((item.built, item.pos)),
                Some((key, key_pos)) => {
                    let key = match key {
                        Built::Merge => Key::Merge,
                        Built::ValueKey(text) => Key::Value(Value::String(text)),
                        Built::Value(v) => Key::Value(v),
                    };
                    let value_pos = item.pos;
                    map.pairs.push(Pair {
                        key,
                        key_pos,
                        value: into_value(item)?,
                        value_pos,
                    });
                }
            },
        }
        Ok(())
    }

    fn construct_collection(
        &mut self,
        kind: FrameKind,
        tag: Option<String>,
        pos: Pos,
    ) -> Result<Value, YamlError> {
        let tag_kind = tag.as_deref().map(TagKind::of);
        let (value, found) = match kind {
            FrameKind::Seq(items) => {
                match tag_kind {
                    None | Some(TagKind::NonSpecific | TagKind::Seq | TagKind::Tuple) => {
                        return Ok(Value::Sequence(items));
                    }
                    Some(TagKind::Decimal) => {
                        return resolve::construct_decimal(items)
                            .map_err(|m| pos.error(ErrorKind::Construct, m));
                    }
                    _ => {}
                }
                (Value::Sequence(items), "sequence")
            }
            FrameKind::Map(map) => {
                let mapping = self.construct_mapping(map, pos)?;
                if matches!(tag_kind, None | Some(TagKind::NonSpecific | TagKind::Map)) {
                    return Ok(Value::Mapping(mapping));
                }
                (Value::Mapping(mapping), "mapping")
            }
        };
        let tag_kind = tag_kind.unwrap_or(TagKind::Other);
        if tag_kind == TagKind::Decimal {
            return Err(pos.error(ErrorKind::Construct, resolve::decimal_form_error()));
        }
        if let Some(required) = tag_kind.required_node() {
            return Err(pos.error(
                ErrorKind::Construct,
                format!("expected a {required} node, but found {found}"),
            ));
        }
        Ok(Value::Tagged(Box::new(Tagged {
            tag: tag.unwrap_or_default(),
            value,
        })))
    }

    /// PyYAML's `flatten_mapping` + `construct_mapping`: merged entries
    /// first (for `<<: [A, B]`, A wins over B; a later `<<` wins over an
    /// earlier one), then the explicit entries, which win over merged ones;
    /// a repeated explicit key keeps its first position and takes the last
    /// value, with a warning.
    fn construct_mapping(&mut self, map: MapFrame, pos: Pos) -> Result<Mapping, YamlError> {
        if map.pending_key.is_some() {
            return Err(pos.error(
                ErrorKind::Internal,
                "internal parser error (mapping key without value)",
            ));
        }
        let mut merged: Vec<(Value, Value)> = Vec::new();
        let mut explicit: Vec<(Value, Value, Pos)> = Vec::with_capacity(map.pairs.len());
        for pair in map.pairs {
            match pair.key {
                Key::Merge => merge_into(&mut merged, pair.value, pair.value_pos)?,
                Key::Value(key) => {
                    if let Value::Sequence(_) | Value::Mapping(_) = key {
                        return Err(pair.key_pos.error(
                            ErrorKind::Construct,
                            format!(
                                "found unhashable key (a {} cannot be a mapping key)",
                                key.type_name()
                            ),
                        ));
                    }
                    explicit.push((key, pair.value, pair.key_pos));
                }
            }
        }
        let mut result = Mapping::with_capacity(merged.len() + explicit.len());
        for (key, value) in merged {
            result.insert_full(key, value);
        }
        // Line of the first explicit occurrence, by entry position.
        let mut first_line: Vec<Option<usize>> = vec![None; result.len()];
        for (key, value, key_pos) in explicit {
            let (at, _) = result.insert_full(key, value);
            if at >= first_line.len() {
                first_line.resize(at + 1, None);
            }
            match first_line[at] {
                None => first_line[at] = Some(key_pos.line),
                Some(first) => {
                    let name = result.key_at(at).map(describe_key).unwrap_or_default();
                    self.warnings.push(Warning {
                        line: key_pos.line,
                        message: format!(
                            "duplicate key {name} (first at line {first}, again at line {}); the last value is used",
                            key_pos.line
                        ),
                    });
                }
            }
        }
        Ok(result)
    }
}

/// Adds the entries a `<<` value brings.
fn merge_into(merged: &mut Vec<(Value, Value)>, value: Value, pos: Pos) -> Result<(), YamlError> {
    fn as_mapping(value: Value) -> Result<Mapping, Value> {
        match value {
            Value::Mapping(m) => Ok(m),
            Value::Tagged(t) if matches!(t.value, Value::Mapping(_)) => match t.value {
                Value::Mapping(m) => Ok(m),
                other => Err(other),
            },
            other => Err(other),
        }
    }
    match value {
        Value::Sequence(items) => {
            let mut sources = Vec::with_capacity(items.len());
            for item in items {
                let source = as_mapping(item).map_err(|other| {
                    pos.error(
                        ErrorKind::Construct,
                        format!(
                            "expected a mapping for merging, but found {}",
                            node_kind(&other)
                        ),
                    )
                })?;
                sources.push(source);
            }
            for source in sources.into_iter().rev() {
                merged.extend(source);
            }
            Ok(())
        }
        other => {
            let source = as_mapping(other).map_err(|other| {
                pos.error(
                    ErrorKind::Construct,
                    format!(
                        "expected a mapping or list of mappings for merging, but found {}",
                        node_kind(&other)
                    ),
                )
            })?;
            merged.extend(source);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Document, YamlError> {
        load_text(text, &Limits::default())
    }

    fn value(text: &str) -> Value {
        load(text).unwrap().value
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn positions_are_one_based() {
        let err = load("a: 1\nb: [1, 2\n").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert!(err.line().is_some_and(|l| l >= 2), "{err}");
        let err = load("a: 1\n  b: 2\n").unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");
    }

    #[test]
    fn anchors_only_copied_when_used() {
        let text = "a: &x [1, 2]\nb: &y {k: v}\nc: *x\n";
        let limits = Limits::default();
        let mut check = Walker::new(text, &limits, false, HashSet::new());
        check.run().unwrap();
        assert_eq!(check.used.len(), 1);
        let v = value(text);
        assert_eq!(v.get("c"), v.get("a"));
    }

    #[test]
    fn sizes_count_expanded_aliases() {
        let limits = Limits {
            max_alias_expansion: 7,
            ..Limits::default()
        };
        // *a costs 3 (the sequence and two scalars); *b costs 1 + 3 + 3 = 7.
        let ok = "- &a [1, 2]\n- &b [*a, *a]\n";
        assert!(load_text(ok, &limits).is_ok());
        let too_much = "- &a [1, 2]\n- &b [*a, *a]\n- *b\n";
        let err = load_text(too_much, &limits).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AliasBomb);
        assert_eq!((err.line(), err.column()), (Some(3), Some(3)));
    }

    #[test]
    fn merge_order_matches_pyyaml() {
        let v = value("a: &A {x: 1, y: 2}\nb:\n  z: 0\n  <<: *A\n  x: 9\n");
        assert_eq!(keys(v.get("b").unwrap()), ["x", "y", "z"]);
        assert_eq!(v.get("b").unwrap().get("x"), Some(&Value::Int(9)));
        let v = value("A: &A {x: 1}\nB: &B {y: 2, x: 3}\nc:\n  <<: [*A, *B]\n  w: 0\n");
        assert_eq!(keys(v.get("c").unwrap()), ["y", "x", "w"]);
        assert_eq!(v.get("c").unwrap().get("x"), Some(&Value::Int(1)));
        let v = value("A: &A {x: 1}\nB: &B {y: 2, x: 3}\nc:\n  <<: *A\n  <<: *B\n");
        assert_eq!(keys(v.get("c").unwrap()), ["x", "y"]);
        assert_eq!(v.get("c").unwrap().get("x"), Some(&Value::Int(3)));
    }

    #[test]
    fn duplicate_keys_warn_and_last_wins() {
        let doc = load("name: a\nother: 1\nname: b\n").unwrap();
        assert_eq!(keys(&doc.value), ["name", "other"]);
        assert_eq!(doc.value.get("name"), Some(&Value::from("b")));
        assert_eq!(
            doc.warnings,
            [Warning {
                line: 3,
                message: "duplicate key 'name' (first at line 1, again at line 3); the last value is used".into()
            }]
        );
        // Merged keys overridden by explicit ones are not duplicates.
        let doc = load("a: &A {x: 1}\nb: {<<: *A, x: 2}\n").unwrap();
        assert!(doc.warnings.is_empty());
    }

    #[test]
    fn describe_keys() {
        assert_eq!(describe_key(&Value::from("k")), "'k'");
        assert_eq!(describe_key(&Value::Int(1)), "! \"1\"");
        assert!(describe_key(&Value::from("x".repeat(200))).ends_with("..."));
    }

    #[test]
    fn printable_check() {
        let err = load("a: b\nc: d\x07\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2 column 5: unacceptable character #x0007: special characters are not allowed"
        );
        let err = load("a: b\r\nc: d\re: \u{1}").unwrap_err();
        assert_eq!((err.line(), err.column()), (Some(3), Some(4)));
        for bad in [
            "\u{0}", "\u{7f}", "\u{80}", "\u{9f}", "\u{fffe}", "\u{ffff}",
        ] {
            assert_eq!(
                load(bad).unwrap_err().kind(),
                ErrorKind::InvalidCharacter,
                "{bad:?}"
            );
        }
        for good in ["\u{85}", "\u{a0}", "\u{e9}", "\u{feff}x", "\u{1F600}", "\t"] {
            assert!(load(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn duplicate_anchors_in_every_position() {
        for text in [
            "a: &x\n  b: 1\nc: &x [2]\n",
            "a: !!map &x\n  b: 1\nc: !t &x 2\n",
            "a: !t\n  # comment\n  &x [1]\nc: &x 2\n",
            "a: &x\n- 1\nc: &x 2\n",
            "- &x \u{e9}\u{e9}\n- &x 2\n",
            "- &x\n- &x\n",
        ] {
            let err = load(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::DuplicateAnchor, "{text:?}: {err}");
            assert!(
                err.message()
                    .starts_with("found duplicate anchor &x (first occurrence at line 1"),
                "{err}"
            );
        }
        // Different names are fine, also when one is a prefix of the other.
        assert!(load("a: &x 1\nb: &xy 2\nc: [*x, *xy]\n").is_ok());
    }

    #[test]
    fn non_ascii_positions() {
        let err = load("\u{e9}\u{e9}: [*nope]").unwrap_err();
        assert_eq!(err.to_string(), "line 1 column 6: unknown alias *nope");
        let v = value("\u{e9}: &a \u{4e2d}\n\u{fc}: *a\n");
        assert_eq!(v.get("\u{fc}"), Some(&Value::from("\u{4e2d}")));
    }

    #[test]
    fn alias_names_in_errors() {
        let err = load("a: 1\nb: *foo\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2 column 4: unknown alias *foo");
        assert_eq!(err.kind(), ErrorKind::UnknownAlias);
        let err = load("a: [*bar, 1]").unwrap_err();
        assert!(err.to_string().ends_with("unknown alias *bar"), "{err}");
        let err = load("&a [1, *a]").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RecursiveAlias, "{err}");
        assert!(err.to_string().contains("*a"), "{err}");
    }
}
