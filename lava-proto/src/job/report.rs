//! What validation found: errors (the job is refused) and warnings (it is
//! accepted, but something looks wrong).

use std::fmt;

/// One finding, at one place of the job definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Where, in the job's own terms: `actions[2].deploy.timeout.minutes`,
    /// `protocols.lava-multinode.roles.server`, or empty for the whole
    /// document.
    pub path: String,
    /// The 1-based line of the submitted text this is about, when known.
    pub line: Option<usize>,
    /// What is wrong, in the job writer's vocabulary.
    pub message: String,
}

impl Issue {
    /// An issue at `path` with no line yet.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }
}

/// `PATH: MESSAGE (line N)`; the path and the line are left out when
/// unknown.
impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// The result of validating one job definition.
///
/// Errors and warnings are each in document order: issues about the whole
/// document first, then by line (from a text; a report on an already
/// loaded value is in the order of the walk, cross-field findings last).
/// The order is stable, so tests and users can compare reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Reasons to refuse the job. Empty when the job is valid.
    pub errors: Vec<Issue>,
    /// Findings that do not make the job invalid: unknown keys that LAVA's
    /// strict schema would flag, YAML duplicate keys, values LAVA accepts
    /// by accident (a boolean as a number).
    pub warnings: Vec<Issue>,
}

impl Report {
    /// Whether there is no error.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The first error, if any.
    pub fn first_error(&self) -> Option<&Issue> {
        self.errors.first()
    }
}

/// One issue per line: `error: ...` then `warning: ...`.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {issue}")?;
        }
        for (i, issue) in self.warnings.iter().enumerate() {
            if i > 0 || !self.errors.is_empty() {
                writeln!(f)?;
            }
            write!(f, "warning: {issue}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let mut issue = Issue::new("timeouts.job", "missing");
        assert_eq!(issue.to_string(), "timeouts.job: missing");
        issue.line = Some(4);
        assert_eq!(issue.to_string(), "timeouts.job: missing (line 4)");
        assert_eq!(Issue::new("", "empty").to_string(), "empty");
        let report = Report {
            errors: vec![Issue::new("a", "x"), Issue::new("b", "y")],
            warnings: vec![Issue::new("c", "z")],
        };
        assert!(!report.is_valid());
        assert_eq!(report.first_error().unwrap().path, "a");
        assert_eq!(
            report.to_string(),
            "error: a: x\nerror: b: y\nwarning: c: z"
        );
        assert!(Report::default().is_valid());
        assert_eq!(Report::default().to_string(), "");
    }
}
