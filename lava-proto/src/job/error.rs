//! The error of reading a job definition.

use crate::yaml::{FromValueError, YamlError};

use super::report::Report;

/// Why a job definition could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The text is not YAML, or breaks a [`Limits`](crate::yaml::Limits) bound.
    #[error("YAML: {0}")]
    Yaml(#[from] YamlError),
    /// The document breaks validation rules; the report has every error
    /// (and the warnings).
    #[error("invalid job definition: {}", summary(.0))]
    Invalid(Report),
    /// The document does not have the structure of a job (only when
    /// reading without validation, e.g. a per-device multinode job).
    #[error("job definition: {0}")]
    Structure(#[from] FromValueError),
}

fn summary(report: &Report) -> String {
    match (report.first_error(), report.errors.len()) {
        (None, _) => "no error".to_owned(),
        (Some(first), 1) => first.to_string(),
        (Some(first), n) => format!("{first} (and {} more)", n - 1),
    }
}
