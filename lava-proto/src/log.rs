//! The log channel (TCP port 5555): log messages, log records in lava-run's
//! exact line format, and the test results they carry.
//!
//! A log message is two frames: the job id and one log line. The line is a
//! YAML flow mapping with the keys `dt`, `lvl` and `msg`, written the way
//! LAVA 2020.01's lava-run writes it (PyYAML with libyaml): every key and
//! scalar double-quoted, non-string scalars tagged with `!`, keys sorted,
//! pure ASCII.
//!
//! ```
//! use lava_proto::log::{LogLevel, LogRecord};
//! use lava_proto::time::UtcTime;
//! use lava_proto::yaml::Value;
//!
//! let record = LogRecord::at(UtcTime::from_unix(1_579_083_072, 345_678), LogLevel::Info, "start: 0 validate");
//! let line = record.to_line();
//! assert_eq!(line, r#"{"dt": "2020-01-15T10:11:12.345678", "lvl": "info", "msg": "start: 0 validate"}"#);
//! assert_eq!(LogRecord::parse(&line).unwrap(), record);
//!
//! // PyYAML reads `! "3"` as the integer 3; so do we.
//! let parsed = LogRecord::parse(r#"{"dt": "2020-01-15T10:11:12", "lvl": "debug", "msg": ! "3"}"#).unwrap();
//! assert_eq!(parsed.msg, Value::Int(3));
//! ```

use std::fmt;

use crate::control::{parse_decimal, printable, JobId};
use crate::error::ProtoError;
use crate::time::UtcTime;
use crate::yaml::{self, Mapping, Value};

/// Largest log message the master accepts (16 MiB): lava-run replaces lines
/// of a million characters or more.
pub const MAX_LOG_MESSAGE: i64 = 16 * 1024 * 1024;

/// Lines whose serialisation reaches this many characters have their `msg`
/// replaced (docs/protocol.md §11.2).
pub const MAX_LINE_CHARS: usize = 1_000_000;

/// The level of a log record (`lvl`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// An unexpected exception in lava-run.
    Exception,
    /// An error.
    Error,
    /// A warning.
    Warning,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Characters sent to the device.
    Input,
    /// Output of the device under test.
    Target,
    /// Output of a secondary connection.
    Feedback,
    /// An event republished by the master.
    Event,
    /// A marker: records a line number for a test case; not written to the log file.
    Marker,
    /// A test result.
    Results,
    /// A level this implementation does not know; treated like `info`.
    Other(String),
}

impl LogLevel {
    /// The known levels.
    pub const KNOWN: [LogLevel; 11] = [
        LogLevel::Exception,
        LogLevel::Error,
        LogLevel::Warning,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Input,
        LogLevel::Target,
        LogLevel::Feedback,
        LogLevel::Event,
        LogLevel::Marker,
        LogLevel::Results,
    ];

    /// The text of `lvl`.
    pub fn as_str(&self) -> &str {
        match self {
            LogLevel::Exception => "exception",
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Input => "input",
            LogLevel::Target => "target",
            LogLevel::Feedback => "feedback",
            LogLevel::Event => "event",
            LogLevel::Marker => "marker",
            LogLevel::Results => "results",
            LogLevel::Other(text) => text,
        }
    }

    /// Parse the text of `lvl`; unknown names become [`LogLevel::Other`].
    pub fn parse(text: &str) -> LogLevel {
        LogLevel::KNOWN
            .into_iter()
            .find(|level| level.as_str() == text)
            .unwrap_or_else(|| LogLevel::Other(text.to_string()))
    }

    /// Whether the master writes lines of this level to `output.yaml`
    /// (everything but markers).
    pub fn is_written(&self) -> bool {
        *self != LogLevel::Marker
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a log line or a result could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LogError {
    /// The line is not YAML.
    #[error("log line is not valid YAML: {0}")]
    Yaml(#[from] yaml::YamlError),
    /// The line is YAML but not a mapping.
    #[error("log line is a {0}, not a mapping")]
    NotMapping(&'static str),
    /// A required key is missing.
    #[error("log line has no '{0}' key")]
    MissingKey(&'static str),
    /// A key has the wrong type.
    #[error("log line key '{key}' must be a {expected}, not a {found}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// The expected type.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A result or marker whose `msg` is not a proper record.
    #[error("{0}")]
    BadRecord(String),
}

/// One log record: timestamp, level, message.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// UTC timestamp as lava-run writes it (`2020-01-15T10:11:12.345678`).
    pub dt: String,
    /// The level.
    pub lvl: LogLevel,
    /// The message: a string, or a mapping for results, markers and others.
    pub msg: Value,
}

/// Limits for reading one log line: lines are below 16 MiB (the socket
/// refuses bigger messages) and shallow.
fn line_limits() -> yaml::Limits {
    yaml::Limits {
        max_bytes: MAX_LOG_MESSAGE as usize,
        ..yaml::Limits::default()
    }
}

impl LogRecord {
    /// A record stamped now.
    pub fn new(lvl: LogLevel, msg: impl Into<Value>) -> Self {
        Self::at(UtcTime::now(), lvl, msg)
    }

    /// A record with the given time.
    pub fn at(time: UtcTime, lvl: LogLevel, msg: impl Into<Value>) -> Self {
        LogRecord {
            dt: time.isoformat(),
            lvl,
            msg: msg.into(),
        }
    }

    /// A record of device output (`target`) or secondary-connection output
    /// (`feedback`), cleaned as lava-run cleans it: ESC and CR removed and
    /// each `"` preceded by a backslash, so that logs are byte-identical.
    pub fn device_output(lvl: LogLevel, text: &str) -> Self {
        let mut clean = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '\u{1b}' | '\r' => {}
                '"' => clean.push_str("\\\""),
                c => clean.push(c),
            }
        }
        Self::new(lvl, clean)
    }

    /// The line in lava-run's exact format, without a newline. A line that
    /// would reach [`MAX_LINE_CHARS`] gets its message replaced, as lava-run
    /// does.
    pub fn to_line(&self) -> String {
        let line = self.render(&self.msg);
        if line.len() < MAX_LINE_CHARS {
            return line;
        }
        let replacement = match self.msg {
            Value::String(_) => Value::from("<line way too long ...>"),
            _ => Value::Mapping(Mapping::from_iter([(
                Value::from("skip"),
                Value::from("line way too long ..."),
            )])),
        };
        self.render(&replacement)
    }

    fn render(&self, msg: &Value) -> String {
        let record = Mapping::from_iter([
            (Value::from("dt"), Value::from(self.dt.as_str())),
            (Value::from("lvl"), Value::from(self.lvl.as_str())),
            (Value::from("msg"), msg.clone()),
        ]);
        yaml::to_flow_line(&Value::Mapping(record))
    }

    /// Read a line the way LAVA's log daemon does: any YAML that PyYAML
    /// reads, which must be a mapping with `lvl` and `msg` (`dt` may be
    /// missing). `!!python/...` tags are never executed: decimals and tuples
    /// are understood, other tags are kept opaque.
    pub fn parse(line: &str) -> Result<LogRecord, LogError> {
        let value = yaml::load_with(line, &line_limits())?.value;
        let Value::Mapping(mut map) = value else {
            return Err(LogError::NotMapping(value.type_name()));
        };
        let lvl = match map.remove("lvl") {
            None => return Err(LogError::MissingKey("lvl")),
            Some(Value::String(text)) => LogLevel::parse(&text),
            Some(other) => {
                return Err(LogError::WrongType {
                    key: "lvl",
                    expected: "string",
                    found: other.type_name(),
                })
            }
        };
        let msg = map.remove("msg").ok_or(LogError::MissingKey("msg"))?;
        let dt = match map.remove("dt") {
            Some(Value::String(text)) => text,
            Some(other) => yaml::to_flow_line(&other),
            None => String::new(),
        };
        Ok(LogRecord { dt, lvl, msg })
    }
}

/// One message of the log channel: a job id and one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// The job the line belongs to.
    pub job_id: JobId,
    /// The log line (normally produced by [`LogRecord::to_line`]).
    pub line: String,
}

impl LogMessage {
    /// The two wire frames.
    pub fn encode(&self) -> Vec<Vec<u8>> {
        vec![
            self.job_id.to_string().into_bytes(),
            self.line.as_bytes().to_vec(),
        ]
    }

    /// Decode wire frames: exactly two, a decimal job id and a UTF-8 line.
    pub fn decode<F: AsRef<[u8]>>(frames: &[F]) -> Result<LogMessage, ProtoError> {
        if frames.len() != 2 {
            return Err(ProtoError::LogFrameCount { got: frames.len() });
        }
        let raw_id = frames[0].as_ref();
        let job_id = parse_decimal(raw_id).ok_or_else(|| ProtoError::LogJobId {
            value: printable(raw_id),
        })?;
        let line = std::str::from_utf8(frames[1].as_ref())
            .map_err(|e| ProtoError::LogUtf8 {
                offset: e.valid_up_to(),
            })?
            .to_string();
        Ok(LogMessage { job_id, line })
    }
}

/// The outcome of a test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestResult {
    /// `pass`
    Pass,
    /// `fail`
    Fail,
    /// `skip`
    Skip,
    /// `unknown`
    Unknown,
}

impl TestResult {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            TestResult::Pass => "pass",
            TestResult::Fail => "fail",
            TestResult::Skip => "skip",
            TestResult::Unknown => "unknown",
        }
    }

    /// Parse the wire text (exact, lower case).
    pub fn parse(text: &str) -> Option<TestResult> {
        [
            TestResult::Pass,
            TestResult::Fail,
            TestResult::Skip,
            TestResult::Unknown,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

impl fmt::Display for TestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `msg` of a `results` line: one test case.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// The test suite (`definition`); `lava` for the dispatcher's own results.
    pub definition: String,
    /// The test case name (`case`), stripped of surrounding whitespace.
    pub case: String,
    /// The outcome.
    pub result: TestResult,
    /// The test set, if any.
    pub set: Option<String>,
    /// The measurement as decimal text (`duration` for the `lava` suite).
    pub measurement: Option<String>,
    /// Units of the measurement (`seconds` for the `lava` suite's duration).
    pub units: Option<String>,
    /// The whole mapping, for metadata.
    pub fields: Mapping,
}

impl ResultRecord {
    /// Whether this is the job's final result (`lava`/`job`), which decides
    /// the job's health.
    pub fn is_job_result(&self) -> bool {
        self.definition == "lava" && self.case == "job"
    }

    /// Read a `results` message. It must be a mapping with `definition`,
    /// `case` and a `result` among pass/fail/skip/unknown.
    pub fn from_msg(msg: &Value) -> Result<ResultRecord, LogError> {
        let map = msg.as_mapping().ok_or_else(|| {
            LogError::BadRecord(format!(
                "results message is a {}, not a mapping",
                msg.type_name()
            ))
        })?;
        let text = |key: &str| map.get(key).map(scalar_text);
        let required = |key: &'static str| {
            text(key).ok_or_else(|| LogError::BadRecord(format!("results message has no '{key}'")))
        };
        let definition = required("definition")?;
        let case = required("case")?.trim().to_string();
        let result_text = required("result")?;
        let result = TestResult::parse(&result_text).ok_or_else(|| {
            LogError::BadRecord(format!(
                "results message for '{definition}/{case}' has result '{result_text}' (expected pass, fail, skip or unknown)"
            ))
        })?;
        let (measurement, units) = if definition == "lava" {
            (
                text("duration"),
                text("duration").map(|_| "seconds".to_string()),
            )
        } else {
            (text("measurement"), text("units"))
        };
        Ok(ResultRecord {
            definition,
            case,
            result,
            set: text("set"),
            measurement,
            units,
            fields: map.clone(),
        })
    }
}

/// The `msg` of a `marker` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The test case the marker belongs to.
    pub case: String,
    /// The kind of marker.
    pub kind: MarkerKind,
}

/// Kinds of markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    /// `start_test_case`
    StartTestCase,
    /// `end_test_case`
    EndTestCase,
    /// `test_case`
    TestCase,
}

impl Marker {
    /// Read a `marker` message: a mapping with `case` and `type`.
    pub fn from_msg(msg: &Value) -> Result<Marker, LogError> {
        let bad = |why: String| LogError::BadRecord(format!("marker message {why}"));
        let map = msg
            .as_mapping()
            .ok_or_else(|| bad(format!("is a {}, not a mapping", msg.type_name())))?;
        let case = map
            .get("case")
            .map(scalar_text)
            .ok_or_else(|| bad("has no 'case'".into()))?;
        let kind = match map.get("type").and_then(Value::as_str) {
            Some("start_test_case") => MarkerKind::StartTestCase,
            Some("end_test_case") => MarkerKind::EndTestCase,
            Some("test_case") => MarkerKind::TestCase,
            Some(other) => return Err(bad(format!("has unknown type '{other}'"))),
            None => return Err(bad("has no 'type'".into())),
        };
        Ok(Marker { case, kind })
    }
}

/// A scalar as Python's `str()` would show it; other values in flow form.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) | Value::Decimal(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => yaml::to_flow_line(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_output_is_cleaned_like_lava_run() {
        let record = LogRecord::device_output(LogLevel::Target, "\u{1b}[0msay \"hi\"\r");
        assert_eq!(record.msg, Value::from("[0msay \\\"hi\\\""));
        assert!(record.to_line().ends_with(r#""msg": "[0msay \\\"hi\\\""}"#));
    }

    #[test]
    fn huge_lines_are_replaced() {
        let big = "x".repeat(MAX_LINE_CHARS);
        let record = LogRecord::new(LogLevel::Target, big.as_str());
        assert!(record
            .to_line()
            .ends_with(r#""msg": "<line way too long ...>"}"#));
        let map = Mapping::from_iter([(Value::from("data"), Value::from(big.as_str()))]);
        let record = LogRecord::new(LogLevel::Results, Value::Mapping(map));
        assert!(record
            .to_line()
            .ends_with(r#""msg": {"skip": "line way too long ..."}}"#));
    }

    #[test]
    fn unknown_levels_are_kept() {
        let parsed = LogRecord::parse(r#"{"dt": "x", "lvl": "shout", "msg": "hi"}"#).unwrap();
        assert_eq!(parsed.lvl, LogLevel::Other("shout".into()));
        assert!(parsed.to_line().contains(r#""lvl": "shout""#));
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert_eq!(
            LogRecord::parse("[1, 2]").unwrap_err(),
            LogError::NotMapping("sequence")
        );
        assert_eq!(
            LogRecord::parse(r#"{"lvl": "info"}"#).unwrap_err(),
            LogError::MissingKey("msg")
        );
        assert_eq!(
            LogRecord::parse(r#"{"msg": "x"}"#).unwrap_err(),
            LogError::MissingKey("lvl")
        );
        assert!(matches!(
            LogRecord::parse("{\"lvl\": [1], \"msg\": 2}"),
            Err(LogError::WrongType { key: "lvl", .. })
        ));
        assert!(matches!(
            LogRecord::parse("{unclosed"),
            Err(LogError::Yaml(_))
        ));
    }

    #[test]
    fn results_and_markers() {
        let line = r#"{"dt": "2020-01-15T10:20:01", "lvl": "results", "msg": {"case": " boot-ok ", "definition": "0_smoke", "measurement": !!python/object/apply:decimal.Decimal ["12.5"], "result": "pass", "units": "s"}}"#;
        let record = LogRecord::parse(line).unwrap();
        let result = ResultRecord::from_msg(&record.msg).unwrap();
        assert_eq!(result.case, "boot-ok");
        assert_eq!(result.result, TestResult::Pass);
        assert_eq!(result.measurement.as_deref(), Some("12.5"));
        assert_eq!(result.units.as_deref(), Some("s"));
        assert!(!result.is_job_result());

        let lava = LogRecord::parse(r#"{"dt": "x", "lvl": "results", "msg": {"case": "http-download", "definition": "lava", "duration": "3.14", "result": "pass"}}"#).unwrap();
        let lava = ResultRecord::from_msg(&lava.msg).unwrap();
        assert_eq!(
            (lava.measurement.as_deref(), lava.units.as_deref()),
            (Some("3.14"), Some("seconds"))
        );

        let maybe = LogRecord::parse(r#"{"dt": "x", "lvl": "results", "msg": {"case": "c", "definition": "d", "result": "maybe"}}"#).unwrap();
        assert!(ResultRecord::from_msg(&maybe.msg).is_err());
        assert!(ResultRecord::from_msg(&Value::from("text")).is_err());

        let marker = Marker::from_msg(
            &LogRecord::parse(
                r#"{"dt": "x", "lvl": "marker", "msg": {"case": "boot-ok", "type": "test_case"}}"#,
            )
            .unwrap()
            .msg,
        )
        .unwrap();
        assert_eq!(
            marker,
            Marker {
                case: "boot-ok".into(),
                kind: MarkerKind::TestCase
            }
        );
        assert!(Marker::from_msg(&Value::Int(3)).is_err());
    }

    #[test]
    fn log_message_frames() {
        let message = LogMessage {
            job_id: 42,
            line: "{}".into(),
        };
        assert_eq!(LogMessage::decode(&message.encode()).unwrap(), message);
        let one: Vec<&[u8]> = vec![b"42"];
        assert_eq!(
            LogMessage::decode(&one).unwrap_err(),
            ProtoError::LogFrameCount { got: 1 }
        );
        let three: Vec<&[u8]> = vec![b"42", b"x", b"y"];
        assert_eq!(
            LogMessage::decode(&three).unwrap_err(),
            ProtoError::LogFrameCount { got: 3 }
        );
        let bad_id: Vec<&[u8]> = vec![b"4x", b"{}"];
        assert!(matches!(
            LogMessage::decode(&bad_id),
            Err(ProtoError::LogJobId { .. })
        ));
        let bad_utf8: Vec<&[u8]> = vec![b"4", b"\xff"];
        assert_eq!(
            LogMessage::decode(&bad_utf8).unwrap_err(),
            ProtoError::LogUtf8 { offset: 0 }
        );
    }
}
