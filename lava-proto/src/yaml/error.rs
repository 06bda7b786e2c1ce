//! The error type of the YAML loader.

use std::fmt;

/// What went wrong, for callers that want to react to a class of errors
/// (for example "the document is too big") rather than to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is bigger than [`Limits::max_bytes`](super::Limits::max_bytes).
    TooLarge,
    /// The bytes given to [`load_bytes`](super::load_bytes) are not UTF-8.
    InvalidUtf8,
    /// A control character that PyYAML's reader refuses (`#x0007`, ...).
    InvalidCharacter,
    /// The text is not well-formed YAML (reported by the parser).
    Syntax,
    /// Collections nested deeper than [`Limits::max_depth`](super::Limits::max_depth).
    TooDeep,
    /// Aliases expand to more than [`Limits::max_alias_expansion`](super::Limits::max_alias_expansion) nodes.
    AliasBomb,
    /// An anchor name is defined twice (PyYAML refuses this).
    DuplicateAnchor,
    /// An alias names an anchor that was never defined.
    UnknownAlias,
    /// An alias refers to the node that contains it (PyYAML builds a
    /// self-referencing object; a tree of values cannot).
    RecursiveAlias,
    /// The stream holds more than one document.
    MultipleDocuments,
    /// A node is well-formed but cannot be turned into a value
    /// (`!!int "abc"`, a mapping used as a key, `<<: 3`, ...).
    Construct,
    /// The parser failed in an unexpected way (a panic or no progress);
    /// the input is rejected rather than trusted.
    Internal,
}

/// Why a YAML text could not be loaded.
///
/// Its `Display` is one line: `line L column C: reason` when the position is
/// known (1-based, columns counted in characters), else just the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", Position(.line, .column))]
pub struct YamlError {
    kind: ErrorKind,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

/// Renders the `line L column C: ` prefix of an error.
struct Position<'a>(&'a Option<usize>, &'a Option<usize>);

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, "line {line} column {column}: "),
            (Some(line), None) => write!(f, "line {line}: "),
            _ => Ok(()),
        }
    }
}

impl YamlError {
    /// An error at a known position (1-based line and column).
    pub(crate) fn at(
        kind: ErrorKind,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        YamlError {
            kind,
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// An error about the whole input.
    pub(crate) fn whole(kind: ErrorKind, message: impl Into<String>) -> Self {
        YamlError {
            kind,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// The class of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The 1-based column (in characters) of the problem, when known.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The reason, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_position_then_reason() {
        let err = YamlError::at(
            ErrorKind::Syntax,
            3,
            5,
            "mapping values are not allowed here",
        );
        assert_eq!(
            err.to_string(),
            "line 3 column 5: mapping values are not allowed here"
        );
        assert_eq!((err.line(), err.column()), (Some(3), Some(5)));
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert_eq!(err.message(), "mapping values are not allowed here");
    }

    #[test]
    fn display_without_position() {
        let err = YamlError::whole(
            ErrorKind::TooLarge,
            "document exceeds the 10-byte limit (12 bytes)",
        );
        assert_eq!(
            err.to_string(),
            "document exceeds the 10-byte limit (12 bytes)"
        );
        assert_eq!(err.line(), None);
        assert_eq!(err.column(), None);
    }
}
