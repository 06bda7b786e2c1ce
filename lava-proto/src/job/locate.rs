//! Lines for issue paths: a second, cheap pass over the parser's events
//! that notes where each key and list item of the text starts.
//!
//! Only run when a report has findings. Paths are built like the
//! validator builds them; a path with no exact entry (a key that came
//! from a `<<` merge or an alias, a key that is not a string) gets the
//! line of its nearest ancestor that has one.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use saphyr_parser::{Event, Parser};

use super::report::Report;
use crate::yaml::Value;

enum Frame {
    Seq { path: String, next: usize },
    Map { path: String, key: Option<String> },
}

/// Fills in `line` of every issue of `report` that has none.
pub(crate) fn add_lines(text: &str, report: &mut Report) {
    let issues = report.errors.iter().chain(report.warnings.iter());
    if issues
        .clone()
        .all(|i| i.line.is_some() || i.path.is_empty())
    {
        return;
    }
    let lines = index(text);
    for issue in report.errors.iter_mut().chain(report.warnings.iter_mut()) {
        if issue.line.is_none() && !issue.path.is_empty() {
            issue.line = find(&lines, &issue.path);
        }
    }
}

fn find(lines: &HashMap<String, usize>, path: &str) -> Option<usize> {
    let mut end = path.len();
    loop {
        if let Some(line) = lines.get(&path[..end]) {
            return Some(*line);
        }
        end = parent_end(&path[..end])?;
    }
}

/// Where the parent of `path` ends: before its last `.key` or `[...]`.
fn parent_end(path: &str) -> Option<usize> {
    let mut last = None;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '.' | '[' if i > 0 => last = Some(i),
            _ => {}
        }
    }
    last
}

/// Path → line of every key and list item of the text.
fn index(text: &str) -> HashMap<String, usize> {
    catch_unwind(AssertUnwindSafe(|| walk(text))).unwrap_or_default()
}

fn walk(text: &str) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut budget = text.len().saturating_mul(8).saturating_add(64);
    while let Some(Ok((event, span))) = parser.next_event() {
        budget = match budget.checked_sub(1) {
            Some(b) => b,
            None => break,
        };
        let line = span.start.line();
        // The path of the node this event starts, if it starts one.
        let starts_node = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(_)
        );
        let mut node_path = None;
        if starts_node {
            match stack.last_mut() {
                None => node_path = Some(String::new()),
                Some(Frame::Seq { path, next }) => {
                    let item = format!("{path}[{next}]");
                    *next += 1;
                    lines.insert(item.clone(), line);
                    node_path = Some(item);
                }
                Some(Frame::Map { path, key }) => match key.take() {
                    Some(child) => node_path = Some(child),
                    None => {
                        // This node is a key.
                        if let Event::Scalar(name, ..) = &event {
                            let child = join(path, name);
                            lines.insert(child.clone(), line);
                            *key = Some(child);
                        } else {
                            // A complex key: its value gets a path nobody asks for.
                            *key = Some(format!("{path}[?]"));
                        }
                        if !matches!(event, Event::Scalar(..) | Event::Alias(_)) {
                            // Enter the key's own collection with a throwaway path.
                            node_path = Some(format!("{path}[?key]"));
                        } else {
                            continue;
                        }
                    }
                },
            }
        }
        match event {
            Event::SequenceStart(..) => stack.push(Frame::Seq {
                path: node_path.unwrap_or_default(),
                next: 0,
            }),
            Event::MappingStart(..) => stack.push(Frame::Map {
                path: node_path.unwrap_or_default(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    lines
}

fn join(parent: &str, key: &str) -> String {
    let segment = super::validate::key_segment(&Value::String(key.to_owned()));
    if parent.is_empty() || segment.starts_with('[') {
        format!("{parent}{segment}")
    } else {
        format!("{parent}.{segment}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_items_have_lines() {
        let text = "job_name: x\nactions:\n- deploy:\n    to: tftp\n    kernel: {url: k}\n- boot:\n    method: u-boot\n\"odd key\": 1\n";
        let lines = index(text);
        assert_eq!(lines["job_name"], 1);
        assert_eq!(lines["actions"], 2);
        assert_eq!(lines["actions[0]"], 3);
        assert_eq!(lines["actions[0].deploy"], 3);
        assert_eq!(lines["actions[0].deploy.kernel.url"], 5);
        assert_eq!(lines["actions[1].boot.method"], 7);
        assert_eq!(lines["[\"odd key\"]"], 8);
        assert_eq!(find(&lines, "actions[1].boot.method.deeper[3]"), Some(7));
        assert_eq!(find(&lines, "nowhere"), None);
    }

    #[test]
    fn parents_of_paths() {
        assert_eq!(parent_end("a.b[2].c"), Some(6));
        assert_eq!(parent_end("a.b[2]"), Some(3));
        assert_eq!(parent_end("a[\"x.y\"]"), Some(1));
        assert_eq!(parent_end("a"), None);
    }
}
