//! The crate's error types.

use std::fmt;
use std::path::PathBuf;

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No folder of the search path holds the template.
    #[error(
        "template '{name}' not found in the search path {}{}",
        SearchPathDisplay(search_path),
        referenced(referenced_from)
    )]
    NotFound {
        /// The name asked for, e.g. `beaglebone-black.jinja2`.
        name: String,
        /// The folders searched, in order.
        search_path: Vec<PathBuf>,
        /// The template and line that asked for it (`extends`, `include`,
        /// `import`), when it was not the template being rendered.
        referenced_from: Option<(String, usize)>,
    },
    /// The name is not acceptable (absolute, with a `..` component, ...)
    /// or the file it names resolves outside its search-path folder.
    #[error("refusing template '{name}': {reason}{}", referenced(referenced_from))]
    Refused {
        /// The name asked for.
        name: String,
        /// Why it is refused.
        reason: String,
        /// The template and line that asked for it, if another template.
        referenced_from: Option<(String, usize)>,
    },
    /// The template file exists but cannot be read (permissions, not
    /// UTF-8, too large).
    #[error("cannot read template {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A syntax error or an error while rendering (an undefined value used
    /// in arithmetic, a wrong filter argument, ...), with where it is.
    #[error("{}: {message}", Location { template, path, line: *line })]
    Template {
        /// The template's name, e.g. `base-uboot.jinja2` (`None` when the
        /// engine did not say).
        template: Option<String>,
        /// The file of that template, when it came from the search path.
        path: Option<PathBuf>,
        /// The 1-based line.
        line: Option<usize>,
        /// What went wrong, e.g. `syntax error: unexpected end of input`.
        message: String,
    },
    /// The job context cannot be passed to a template.
    #[error("invalid job context: {0}")]
    Context(String),
}

impl RenderError {
    /// The line the error is about, if known (for [`RenderError::Template`]
    /// the line in that template; for not-found and refused names the line
    /// of the referring template).
    pub fn line(&self) -> Option<usize> {
        match self {
            RenderError::Template { line, .. } => *line,
            RenderError::NotFound {
                referenced_from, ..
            }
            | RenderError::Refused {
                referenced_from, ..
            } => referenced_from.as_ref().map(|(_, line)| *line),
            _ => None,
        }
    }
}

struct SearchPathDisplay<'a>(&'a [PathBuf]);

impl fmt::Display for SearchPathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(empty)");
        }
        let parts: Vec<String> = self.0.iter().map(|p| p.display().to_string()).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

fn referenced(from: &Option<(String, usize)>) -> String {
    match from {
        Some((template, line)) => format!(" (used at {template}:{line})"),
        None => String::new(),
    }
}

struct Location<'a> {
    template: &'a Option<String>,
    path: &'a Option<PathBuf>,
    line: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path, self.template) {
            (Some(path), _) => write!(f, "{}", path.display())?,
            (None, Some(name)) => f.write_str(name)?,
            (None, None) => f.write_str("<template>")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        Ok(())
    }
}

/// Why a device dictionary could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DictionaryError {
    /// Something a device dictionary may not contain, at a 1-based line.
    #[error("line {line}: {message}")]
    Syntax {
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The dictionary has no `{% extends %}` tag.
    #[error("the dictionary does not extend a device-type template ({{% extends 'TYPE.jinja2' %}} is missing)")]
    NoExtends,
    /// A name that cannot be a Jinja2 variable.
    #[error("'{0}' is not a valid variable name")]
    BadName(String),
    /// A value that has no Jinja2 literal form (NaN, infinity, a tagged
    /// YAML value, a map key that is a list...).
    #[error("variable '{name}': {reason}")]
    Unrepresentable {
        /// The variable.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Why a rendered device configuration is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML (the loader's message has the line and column).
    #[error("device configuration is not valid YAML: {0}")]
    Yaml(String),
    /// The text is empty or not a mapping at the top.
    #[error("device configuration is {0}, not a mapping")]
    NotAMapping(&'static str),
    /// A key holds something of the wrong shape.
    #[error("{path}: {message}")]
    Invalid {
        /// Where, e.g. `actions.boot.methods.u-boot.ramdisk.commands[2]`.
        path: String,
        /// What is wrong, e.g. `expected a string, found a mapping`.
        message: String,
    },
}

/// Why a device cannot run jobs as configured: what
/// [`TemplateSet::render_device`](crate::TemplateSet::render_device) and
/// [`TemplateSet::check_device`](crate::TemplateSet::check_device) report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The device has no dictionary.
    #[error("device {hostname} has no device dictionary")]
    NoDictionary {
        /// The device.
        hostname: String,
    },
    /// Its dictionary does not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// What it renders is not a valid device configuration.
    #[error("device {hostname}: {source}")]
    Config {
        /// The device.
        hostname: String,
        /// Why.
        source: ConfigError,
    },
}
