//! PyYAML's leniency for quoted scalars whose continuation lines are
//! indented less than their block.
//!
//! Every LAVA device template renders `interrupt-character: '` + newline +
//! `'`: a quoted scalar whose second line starts in column 0. PyYAML (and
//! libyaml) read it as `' '`; the YAML 1.2 parser refuses it. The leading
//! spaces of a quoted scalar's continuation lines are not part of its value,
//! so the loader indents such lines and parses again: the value is the one
//! PyYAML gives, and line numbers do not change.

/// The parser's message for such a scalar.
pub(super) const QUOTED_INDENT: &str = "invalid indentation in quoted scalar";

/// `text` with the continuation lines of the quoted scalar that starts at
/// `line`:`column` (1-based, in characters) indented one space deeper
/// than the line the scalar starts on. `None` if no quote is there.
pub(super) fn reindent_quoted(text: &str, line: usize, column: usize) -> Option<String> {
    let line_start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let start_line = &text[line_start..];
    let quote_at = line_start + start_line.char_indices().nth(column - 1)?.0;
    let quote = text[quote_at..].chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let indent = start_line.len() - start_line.trim_start_matches(' ').len();
    let needed = indent + 1;
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..=quote_at]);
    let mut chars = text[quote_at + 1..].char_indices().peekable();
    let base = quote_at + 1;
    let mut end = text.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if quote == '\'' => {
                if let Some(&(_, '\'')) = chars.peek() {
                    out.push_str("''");
                    chars.next();
                    continue;
                }
                out.push(c);
                end = base + i + 1;
                break;
            }
            '"' if quote == '"' => {
                out.push(c);
                end = base + i + 1;
                break;
            }
            '\\' if quote == '"' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                    if next == '\n' {
                        pad(&mut out, &text[base + i + 2..], needed);
                    }
                }
            }
            '\n' => {
                out.push(c);
                pad(&mut out, &text[base + i + 1..], needed);
            }
            _ => out.push(c),
        }
    }
    out.push_str(&text[end..]);
    Some(out)
}

/// Adds the spaces that bring `rest` (a line's text) to `needed` columns.
fn pad(out: &mut String, rest: &str, needed: usize) {
    let have = rest.len() - rest.trim_start_matches(' ').len();
    if have < needed {
        out.extend(std::iter::repeat_n(' ', needed - have));
    }
}

#[cfg(test)]
mod tests {
    use crate::yaml::{load, Value};

    #[test]
    fn quoted_scalars_may_continue_at_column_zero_as_in_pyyaml() {
        // Values PyYAML 6 gives for these documents.
        let doc = load("interrupt-character: '\n'\nb: \"x\ny\"\nc:\n  d: 'p\nq'\n").unwrap();
        assert_eq!(doc.get("interrupt-character"), Some(&Value::from(" ")));
        assert_eq!(doc.get("b"), Some(&Value::from("x y")));
        assert_eq!(
            doc.get("c").and_then(|c| c.get("d")),
            Some(&Value::from("p q"))
        );
        // Line numbers of later errors are unchanged.
        let err = load("a: '\n'\nb: [\n").unwrap_err();
        assert_eq!(err.line(), Some(4), "{err}");
    }
}
