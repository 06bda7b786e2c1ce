//! Timeouts: LAVA's precedence at construction, deadlines at run time.
//!
//! Every action starts with a 30 s action timeout and a 30 s connection
//! timeout. When it is added to the pipeline (docs/job-definition.md §3.3):
//!
//! 1. `timeouts.action` — the device's, then the job's;
//! 2. `timeouts.actions.<name>` — the device's, then the job's;
//! 3. the enclosing block's `timeout:` (it wins over a named timeout, as in
//!    LAVA 2020.01).
//!
//! The connection timeout takes `timeouts.connection`, then
//! `timeouts.connections.<name>` (device's, then job's).
//!
//! At run time no signal is used: every action gets a [`Deadline`],
//! `min(parent deadline, start + duration)`, and every blocking wait races
//! against it. When it passes, the error names the scope that expired.
//!
//! ```
//! use std::time::Duration;
//! use lava_pipeline::unstable::TimeoutTable;
//! use lava_proto::yaml;
//!
//! let device = yaml::load("timeouts: {actions: {http-download: {minutes: 5}}, connections: {}}").unwrap();
//! let job = yaml::load("timeouts: {job: {hours: 1}, action: {minutes: 2}}").unwrap();
//! let table = TimeoutTable::from_values(device.get("timeouts"), job.get("timeouts")).unwrap();
//! // the named device timeout beats the job's default
//! assert_eq!(table.action("http-download", None).duration, Duration::from_secs(300));
//! assert_eq!(table.action("power-off", None).duration, Duration::from_secs(120));
//! // a block timeout beats both
//! let block = lava_pipeline::ActionTimeout::new(Duration::from_secs(7));
//! assert_eq!(table.action("http-download", Some(block)).duration, Duration::from_secs(7));
//! assert_eq!(table.connection("lava-test-shell"), Duration::from_secs(30));
//! assert_eq!(table.job().unwrap().as_secs(), 3600);
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lava_proto::yaml::Value;

use crate::error::{Error, ErrorKind};

/// LAVA's default action and connection timeout (`ACTION_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The timeout of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTimeout {
    /// How long the action may run.
    pub duration: Duration,
    /// `skip: true`: a test block that times out lets the job go on.
    pub skip: bool,
}

impl ActionTimeout {
    /// A timeout without `skip`.
    pub fn new(duration: Duration) -> Self {
        ActionTimeout {
            duration,
            skip: false,
        }
    }
}

impl Default for ActionTimeout {
    fn default() -> Self {
        ActionTimeout::new(DEFAULT_TIMEOUT)
    }
}

/// Reads a timeout mapping as the device schema allows it (sum of `days`,
/// `hours`, `minutes`, `seconds`, numbers ≥ 0, optional `skip`). A sum of
/// zero is LAVA's default, 30 s.
pub fn parse_timeout(value: &Value) -> Result<ActionTimeout, String> {
    let map = value
        .as_mapping()
        .ok_or_else(|| format!("a timeout must be a mapping, not a {}", value.type_name()))?;
    let mut seconds = 0.0f64;
    let mut skip = false;
    for (key, item) in map.iter() {
        let key = key.as_str().unwrap_or_default();
        let factor = match key {
            "days" => 86_400.0,
            "hours" => 3_600.0,
            "minutes" => 60.0,
            "seconds" => 1.0,
            "skip" => {
                skip = item
                    .as_bool()
                    .ok_or_else(|| "timeout skip must be true or false".to_string())?;
                continue;
            }
            other => return Err(format!("unknown timeout unit '{other}'")),
        };
        let n = match item {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Bool(b) => f64::from(u8::from(*b)),
            other => {
                return Err(format!(
                    "timeout {key} must be a number, not a {}",
                    other.type_name()
                ))
            }
        };
        if !n.is_finite() || n < 0.0 {
            return Err(format!("timeout {key} must be a positive number"));
        }
        seconds += n * factor;
    }
    let duration = if seconds <= 0.0 {
        DEFAULT_TIMEOUT
    } else {
        Duration::from_secs_f64(seconds.min(1e10))
    };
    Ok(ActionTimeout { duration, skip })
}

/// One layer of timeouts (the device's or the job's `timeouts:`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeoutLayer {
    /// `timeouts.job`.
    pub job: Option<ActionTimeout>,
    /// `timeouts.action`.
    pub action: Option<ActionTimeout>,
    /// `timeouts.actions`.
    pub actions: BTreeMap<String, ActionTimeout>,
    /// `timeouts.connection`.
    pub connection: Option<ActionTimeout>,
    /// `timeouts.connections`.
    pub connections: BTreeMap<String, ActionTimeout>,
}

impl TimeoutLayer {
    /// Reads a `timeouts:` mapping (absent → empty layer).
    pub fn from_value(value: Option<&Value>) -> Result<Self, String> {
        let mut layer = TimeoutLayer::default();
        let Some(map) = value.and_then(Value::as_mapping) else {
            return Ok(layer);
        };
        let one = |key: &str| -> Result<Option<ActionTimeout>, String> {
            map.get(key)
                .filter(|v| !v.is_null())
                .map(|v| parse_timeout(v).map_err(|e| format!("timeouts.{key}: {e}")))
                .transpose()
        };
        layer.job = one("job")?;
        layer.action = one("action")?;
        layer.connection = one("connection")?;
        let table = |key: &str| -> Result<BTreeMap<String, ActionTimeout>, String> {
            let mut out = BTreeMap::new();
            if let Some(entries) = map.get(key).and_then(Value::as_mapping) {
                for (name, v) in entries.iter() {
                    let name = name.as_str().unwrap_or_default().to_string();
                    let t = parse_timeout(v).map_err(|e| format!("timeouts.{key}.{name}: {e}"))?;
                    out.insert(name, t);
                }
            }
            Ok(out)
        };
        layer.actions = table("actions")?;
        layer.connections = table("connections")?;
        Ok(layer)
    }
}

/// The device's and the job's timeouts, applied in LAVA's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeoutTable {
    /// The device configuration's `timeouts`.
    pub device: TimeoutLayer,
    /// The job definition's `timeouts`.
    pub job: TimeoutLayer,
}

impl TimeoutTable {
    /// From the device's and the job's `timeouts:` values.
    pub fn from_values(device: Option<&Value>, job: Option<&Value>) -> Result<Self, Error> {
        Ok(TimeoutTable {
            device: TimeoutLayer::from_value(device).map_err(Error::configuration)?,
            job: TimeoutLayer::from_value(job).map_err(Error::job)?,
        })
    }

    /// The job timeout (`timeouts.job` of the job).
    pub fn job(&self) -> Option<Duration> {
        self.job.job.map(|t| t.duration)
    }

    /// The action timeout of an action named `name` inside a block whose
    /// `timeout:` is `block`.
    pub fn action(&self, name: &str, block: Option<ActionTimeout>) -> ActionTimeout {
        let mut out = ActionTimeout::default();
        for t in [self.device.action, self.job.action].into_iter().flatten() {
            out = t;
        }
        for t in [self.device.actions.get(name), self.job.actions.get(name)]
            .into_iter()
            .flatten()
        {
            out = *t;
        }
        if let Some(t) = block {
            out = t;
        }
        out
    }

    /// The connection timeout of the action `name`.
    pub fn connection(&self, name: &str) -> Duration {
        let mut out = DEFAULT_TIMEOUT;
        for t in [self.device.connection, self.job.connection]
            .into_iter()
            .flatten()
        {
            out = t.duration;
        }
        for t in [
            self.device.connections.get(name),
            self.job.connections.get(name),
        ]
        .into_iter()
        .flatten()
        {
            out = t.duration;
        }
        out
    }
}

/// A point in time a scope must finish by, the name of that scope and the
/// class of error its expiry raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// When it expires (`None`: never).
    pub at: Option<Instant>,
    /// The scope that set it: an action name or `job`.
    pub scope: String,
    /// The class of the timeout error.
    pub kind: ErrorKind,
    /// The scope's whole duration, in seconds (for the message).
    pub seconds: u64,
}

impl Deadline {
    /// No deadline.
    pub fn never() -> Self {
        Deadline {
            at: None,
            scope: String::new(),
            kind: ErrorKind::Job,
            seconds: 0,
        }
    }

    /// `duration` from now, for `scope`, raising `kind` when it passes.
    pub fn after(duration: Duration, scope: &str, kind: ErrorKind) -> Self {
        Deadline {
            at: Instant::now().checked_add(duration),
            scope: scope.to_string(),
            kind,
            seconds: duration.as_secs_f64().round() as u64,
        }
    }

    /// The error raised when this deadline passes:
    /// `<scope> timed out after <N> seconds`.
    pub fn error(&self) -> Error {
        Error::timeout(self.kind, &self.scope, self.seconds)
    }

    /// The earlier of two deadlines (the parent wins a tie).
    pub fn min(&self, other: &Deadline) -> Deadline {
        match (self.at, other.at) {
            (Some(a), Some(b)) if b < a => other.clone(),
            (None, Some(_)) => other.clone(),
            _ => self.clone(),
        }
    }

    /// Time left (zero when expired, `None` when there is no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether it has passed.
    pub fn expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// The earlier of this deadline and `duration` from now, as an instant.
    pub fn within(&self, duration: Duration) -> Instant {
        let own = Instant::now() + duration.min(Duration::from_secs(100 * 365 * 86_400));
        match self.at {
            Some(at) if at < own => at,
            _ => own,
        }
    }
}

/// `HH:MM:SS` of a number of seconds, rounded (docs/pipeline.md §4.4).
///
/// ```
/// assert_eq!(lava_pipeline::unstable::hms(3725.4), "01:02:05");
/// assert_eq!(lava_pipeline::unstable::hms(360000.0), "100:00:00");
/// ```
pub fn hms(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    format!(
        "{:02}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_proto::yaml;

    fn table(device: &str, job: &str) -> TimeoutTable {
        let d = yaml::load(device).unwrap();
        let j = yaml::load(job).unwrap();
        TimeoutTable::from_values(Some(&d), Some(&j)).unwrap()
    }

    #[test]
    fn precedence_defaults_device_job_block() {
        let t = table("{}", "{job: {minutes: 10}}");
        assert_eq!(t.action("x", None).duration, DEFAULT_TIMEOUT);
        assert_eq!(t.connection("x"), DEFAULT_TIMEOUT);

        let t = table(
            "{action: {seconds: 40}, actions: {a: {seconds: 50}}, connection: {seconds: 5}, connections: {a: {seconds: 6}}}",
            "{job: {minutes: 10}}",
        );
        assert_eq!(t.action("x", None).duration, Duration::from_secs(40));
        assert_eq!(t.action("a", None).duration, Duration::from_secs(50));
        assert_eq!(t.connection("x"), Duration::from_secs(5));
        assert_eq!(t.connection("a"), Duration::from_secs(6));

        // the job's default beats the device default, but not the device's named value
        let t = table(
            "{action: {seconds: 40}, actions: {a: {seconds: 50}}, connections: {a: {seconds: 6}}}",
            "{job: {minutes: 10}, action: {seconds: 70}, connection: {seconds: 8}}",
        );
        assert_eq!(t.action("x", None).duration, Duration::from_secs(70));
        assert_eq!(t.action("a", None).duration, Duration::from_secs(50));
        assert_eq!(t.connection("x"), Duration::from_secs(8));
        assert_eq!(t.connection("a"), Duration::from_secs(6));

        // the job's named value beats the device's
        let t = table(
            "{actions: {a: {seconds: 50}}, connections: {a: {seconds: 6}}}",
            "{job: {minutes: 10}, actions: {a: {minutes: 2}}, connections: {a: {seconds: 9}}}",
        );
        assert_eq!(t.action("a", None).duration, Duration::from_secs(120));
        assert_eq!(t.connection("a"), Duration::from_secs(9));

        // the block's timeout beats everything (LAVA 2020.01)
        let block = ActionTimeout {
            duration: Duration::from_secs(3),
            skip: true,
        };
        assert_eq!(t.action("a", Some(block)), block);
        assert_eq!(t.job(), Some(Duration::from_secs(600)));
    }

    #[test]
    fn zero_means_default_and_fields_are_summed() {
        let v = yaml::load("{minutes: 1, seconds: 30}").unwrap();
        assert_eq!(parse_timeout(&v).unwrap().duration, Duration::from_secs(90));
        let v = yaml::load("{seconds: 0}").unwrap();
        assert_eq!(parse_timeout(&v).unwrap().duration, DEFAULT_TIMEOUT);
        let v = yaml::load("{weeks: 1}").unwrap();
        assert!(parse_timeout(&v).is_err());
        let v = yaml::load("{seconds: -1}").unwrap();
        assert!(parse_timeout(&v).is_err());
    }

    #[test]
    fn deadlines_nest() {
        let job = ErrorKind::Job;
        let parent = Deadline::after(Duration::from_secs(10), "parent", job);
        let child = parent.min(&Deadline::after(Duration::from_secs(100), "child", job));
        assert_eq!(child.scope, "parent");
        let child = parent.min(&Deadline::after(
            Duration::from_secs(1),
            "child",
            ErrorKind::Infrastructure,
        ));
        assert_eq!(child.scope, "child");
        assert!(!child.expired());
        assert_eq!(Deadline::never().min(&child).scope, "child");
        let past = Deadline::after(Duration::ZERO, "past", job);
        assert!(past.expired());
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        assert_eq!(child.error().kind, ErrorKind::Infrastructure);
        assert_eq!(child.error().message, "child timed out after 1 seconds");
    }
}
