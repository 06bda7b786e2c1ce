//! Error classes of the dispatcher (docs/pipeline.md §1.5).
//!
//! Every failure is a [`Error`] with an [`ErrorKind`]. The kind of
//! the error that ends a job decides the job's final `lava`/`job` result
//! (`error_type`) and, on the server, whether the device is taken out of
//! service: `Infrastructure`, `Configuration` and `Bug` reset the device's
//! health; `Job`, `Test`, `Canceled` and the timeout kinds blame the job.
//!
//! ```
//! use std::error::Error as _;
//! use lava_pipeline::{Error, ErrorKind};
//!
//! let e = Error::infrastructure("Connection closed");
//! assert_eq!(e.kind.error_type(), "Infrastructure");
//! assert!(e.kind.is_retryable());
//! assert!(!ErrorKind::Canceled.is_retryable());
//! assert_eq!(e.to_string(), "Connection closed");
//!
//! // A cause is kept, not flattened into the message.
//! let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
//! let e = Error::infrastructure("Unable to read the kernel").with_source(io);
//! assert_eq!(e.source().unwrap().to_string(), "no such file");
//! ```

use std::fmt;
use std::sync::Arc;

/// The class of an error: LAVA's exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The lab or the worker failed (serial line, power, network, tools).
    Infrastructure,
    /// The device or dispatcher configuration is wrong.
    Configuration,
    /// What the job asked for cannot be done.
    Job,
    /// A test failed to run.
    Test,
    /// A test-family action timed out (converted to `Test` unless the
    /// block's timeout has `skip: true`).
    LavaTimeout,
    /// A multinode protocol wait timed out.
    MultinodeTimeout,
    /// The job was canceled (signal).
    Canceled,
    /// An internal error of the dispatcher.
    Bug,
}

impl ErrorKind {
    /// The `error_type` of the final result.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::Infrastructure => "Infrastructure",
            ErrorKind::Configuration => "Configuration",
            ErrorKind::Job => "Job",
            ErrorKind::Test => "Test",
            ErrorKind::LavaTimeout => "LAVATimeout",
            ErrorKind::MultinodeTimeout => "MultinodeTimeout",
            ErrorKind::Canceled => "Canceled",
            ErrorKind::Bug => "Bug",
        }
    }

    /// The help text logged at `error` level before the final result.
    pub fn help(self) -> &'static str {
        match self {
            ErrorKind::Infrastructure => {
                "InfrastructureError: The Infrastructure is not working correctly. Please report this error to LAVA admins."
            }
            ErrorKind::Configuration => {
                "ConfigurationError: The LAVA instance is not configured correctly. Please report this error to LAVA admins."
            }
            ErrorKind::Job => "JobError: Your job cannot terminate cleanly.",
            ErrorKind::Test => "TestError: A test failed to run, look at the error message.",
            ErrorKind::LavaTimeout => "LAVATimeoutError: The test shell timed out.",
            ErrorKind::MultinodeTimeout => {
                "MultinodeProtocolTimeoutError: A multinode protocol call timed out."
            }
            ErrorKind::Canceled => "JobCanceled: The job was canceled",
            ErrorKind::Bug => {
                "LAVABug: This is probably a bug in LAVA, please report it."
            }
        }
    }

    /// Whether a retry action tries again after this error (docs/pipeline.md
    /// §4.6): infrastructure, job and test errors; not bugs, cancels or
    /// timeouts that were kept as such.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Infrastructure | ErrorKind::Job | ErrorKind::Test
        )
    }

    /// Whether this kind takes the device out of service on the server
    /// (`Bug`, `Configuration`, `Infrastructure`).
    pub fn blames_infrastructure(self) -> bool {
        matches!(
            self,
            ErrorKind::Infrastructure | ErrorKind::Configuration | ErrorKind::Bug
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type())
    }
}

/// An error with its class, its message and, where there is one, its
/// cause ([`std::error::Error::source`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Error {
    /// The class.
    pub kind: ErrorKind,
    /// The message (the final result's `error_msg`).
    pub message: String,
    /// For timeouts: the action (or `job`) whose deadline expired.
    pub expired: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Two errors are equal when their class, message and timeout scope are;
/// causes are not compared.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message && self.expired == other.expired
    }
}

impl Eq for Error {}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            expired: None,
            source: None,
        }
    }

    /// An `Infrastructure` error about an I/O operation on `what` (a path,
    /// a device node...): "WHAT: REASON", with the I/O error as its cause.
    pub fn io(what: impl fmt::Display, source: std::io::Error) -> Self {
        Self::infrastructure(format!("{what}: {source}")).with_source(source)
    }

    /// The same error, caused by `source`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// [`ErrorKind::Infrastructure`].
    pub fn infrastructure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Infrastructure, message)
    }

    /// [`ErrorKind::Configuration`].
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, message)
    }

    /// [`ErrorKind::Job`].
    pub fn job(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Job, message)
    }

    /// [`ErrorKind::Test`].
    pub fn test(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Test, message)
    }

    /// [`ErrorKind::Bug`].
    pub fn bug(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Bug, message)
    }

    /// [`ErrorKind::Canceled`].
    pub fn canceled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Canceled, message)
    }

    /// A timeout of `scope` (an action name or `job`), of class `kind`.
    pub fn timeout(kind: ErrorKind, scope: &str, seconds: u64) -> Self {
        Error {
            kind,
            message: format!("{scope} timed out after {seconds} seconds"),
            expired: Some(scope.to_string()),
            source: None,
        }
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        self.expired.is_some()
    }

    /// The same error with another class (keeps `expired`).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// An I/O error on the worker is the lab's problem: `Infrastructure`, with
/// the I/O error as its cause (see also [`Error::io`], which names what
/// was being read or written).
impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::infrastructure(source.to_string()).with_source(source)
    }
}

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
