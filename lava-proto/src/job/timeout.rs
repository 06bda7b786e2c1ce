//! Timeout values: `{minutes: 5}`, `{hours: 1, skip: true}`.
//!
//! A timeout is written as a mapping with exactly one unit key — `days`,
//! `hours`, `minutes` or `seconds` — holding an integer ≥ 1, and an
//! optional `skip` flag (on a top-level action block: when the block times
//! out, carry on with the next block instead of failing the job).
//!
//! LAVA 2020.01's two schemas disagree on the edges (`docs/job-definition.md`
//! §3.1): the submit schema refuses floats, the strict schema refuses 0 and
//! negative numbers; both read `true` as 1 (a Python bool is an int). The
//! intersection is what is accepted here, `true` included (validation warns
//! about it).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::yaml::Value;

/// The unit a timeout is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeUnit {
    /// `days` (86 400 s).
    Days,
    /// `hours` (3 600 s).
    Hours,
    /// `minutes` (60 s).
    Minutes,
    /// `seconds`.
    Seconds,
}

impl TimeUnit {
    /// All units, largest first.
    pub const ALL: [TimeUnit; 4] = [
        TimeUnit::Days,
        TimeUnit::Hours,
        TimeUnit::Minutes,
        TimeUnit::Seconds,
    ];

    /// The key that names the unit in a job: `days`, `hours`, ...
    pub fn key(self) -> &'static str {
        match self {
            TimeUnit::Days => "days",
            TimeUnit::Hours => "hours",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Seconds => "seconds",
        }
    }

    /// The unit named by `key`, if it is one of the four.
    pub fn from_key(key: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.key() == key)
    }

    /// Seconds in one of this unit.
    pub fn seconds(self) -> u64 {
        match self {
            TimeUnit::Days => 86_400,
            TimeUnit::Hours => 3_600,
            TimeUnit::Minutes => 60,
            TimeUnit::Seconds => 1,
        }
    }

    fn suffix(self) -> char {
        match self {
            TimeUnit::Days => 'd',
            TimeUnit::Hours => 'h',
            TimeUnit::Minutes => 'm',
            TimeUnit::Seconds => 's',
        }
    }
}

/// One timeout value of a job definition.
///
/// ```
/// use lava_proto::job::{TimeUnit, Timeout};
/// use lava_proto::yaml;
///
/// let t = Timeout::from_value(&yaml::load("{hours: 2, skip: true}").unwrap()).unwrap();
/// assert_eq!((t.unit(), t.amount(), t.skip()), (TimeUnit::Hours, 2, true));
/// assert_eq!(t.seconds(), 7200);
/// assert_eq!(t.to_string(), "2h");
///
/// let err = Timeout::from_value(&yaml::load("{minutes: 0}").unwrap()).unwrap_err();
/// assert_eq!(err.to_string(), "minutes: must be an integer ≥ 1, got 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    unit: TimeUnit,
    amount: u64,
    skip: bool,
}

/// Why a value is not a [`Timeout`]. `key` is the key inside the timeout
/// mapping that is wrong, if the fault is in one key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct TimeoutError {
    /// The key at fault (`minutes`, `skip`, `weeks`), if any.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl TimeoutError {
    fn whole(message: impl Into<String>) -> Self {
        TimeoutError {
            key: None,
            message: message.into(),
        }
    }

    fn at(key: &str, message: impl Into<String>) -> Self {
        TimeoutError {
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }
}

/// The largest accepted duration: 100 years. Anything longer is a typo,
/// and the bound keeps every sum of durations far from overflowing.
const MAX_SECONDS: u64 = 100 * 366 * 86_400;

impl Timeout {
    /// A timeout of `amount` `unit`s, without `skip`. `amount` is raised
    /// to 1 and capped at 100 years.
    pub fn new(unit: TimeUnit, amount: u64) -> Timeout {
        Timeout {
            unit,
            amount: amount.clamp(1, MAX_SECONDS / unit.seconds()),
            skip: false,
        }
    }

    /// The same timeout with `skip` set.
    pub fn with_skip(self, skip: bool) -> Timeout {
        Timeout { skip, ..self }
    }

    /// Reads a timeout mapping (see the module documentation).
    pub fn from_value(value: &Value) -> Result<Timeout, TimeoutError> {
        let Some(map) = value.as_mapping() else {
            return Err(TimeoutError::whole(format!(
                "must be a mapping with one unit, e.g. `{{minutes: 5}}`, got {}",
                super::validate::describe(value)
            )));
        };
        let mut found: Option<(TimeUnit, u64)> = None;
        let mut skip = false;
        for (key, item) in map.iter() {
            let Some(key) = key.as_str() else {
                return Err(TimeoutError::whole(format!(
                    "keys must be days, hours, minutes, seconds or skip, got {}",
                    super::validate::describe(key)
                )));
            };
            if key == "skip" {
                skip = item.as_bool().ok_or_else(|| {
                    TimeoutError::at(
                        "skip",
                        format!(
                            "must be true or false, got {}",
                            super::validate::describe(item)
                        ),
                    )
                })?;
                continue;
            }
            let Some(unit) = TimeUnit::from_key(key) else {
                let hint = super::validate::did_you_mean(
                    key,
                    &["days", "hours", "minutes", "seconds", "skip"],
                );
                return Err(TimeoutError::at(
                    key,
                    format!("unknown timeout unit; use days, hours, minutes or seconds{hint}"),
                ));
            };
            if let Some((first, _)) = found {
                return Err(TimeoutError::whole(format!(
                    "has both `{}` and `{}`; give exactly one unit",
                    first.key(),
                    unit.key()
                )));
            }
            let amount = match item {
                Value::Int(n) if *n >= 1 => *n as u64,
                Value::Bool(true) => 1,
                _ => {
                    return Err(TimeoutError::at(
                        key,
                        format!(
                            "must be an integer ≥ 1, got {}",
                            super::validate::describe_short(item)
                        ),
                    ))
                }
            };
            if amount > MAX_SECONDS / unit.seconds() {
                return Err(TimeoutError::at(
                    key,
                    format!("{amount} {} is longer than 100 years", unit.key()),
                ));
            }
            found = Some((unit, amount));
        }
        match found {
            Some((unit, amount)) => Ok(Timeout { unit, amount, skip }),
            None => Err(TimeoutError::whole(
                "needs one of days, hours, minutes or seconds, e.g. `{minutes: 5}`",
            )),
        }
    }

    /// The unit it was written in.
    pub fn unit(&self) -> TimeUnit {
        self.unit
    }

    /// The number of units (≥ 1).
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// Whether `skip: true` was given.
    pub fn skip(&self) -> bool {
        self.skip
    }

    /// The duration in seconds.
    pub fn seconds(&self) -> u64 {
        self.amount * self.unit.seconds()
    }

    /// The duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds())
    }
}

/// Compact form for messages: `30m`, `2h`, `1d`, `45s`.
impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Timeout::from_value(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn parse(text: &str) -> Result<Timeout, String> {
        Timeout::from_value(&yaml::load(text).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn units_and_seconds() {
        assert_eq!(parse("{days: 1}").unwrap().seconds(), 86_400);
        assert_eq!(parse("{hours: 2}").unwrap().seconds(), 7_200);
        assert_eq!(parse("{minutes: 010}").unwrap().seconds(), 480);
        assert_eq!(parse("{seconds: 1:30}").unwrap().seconds(), 90);
        assert_eq!(
            parse("{seconds: 5}").unwrap().duration(),
            Duration::from_secs(5)
        );
        assert!(!parse("{seconds: 5}").unwrap().skip());
        assert!(parse("{seconds: 5, skip: yes}").unwrap().skip());
        // A Python bool is an int: LAVA reads `true` as 1.
        assert_eq!(parse("{minutes: true}").unwrap().seconds(), 60);
    }

    #[test]
    fn what_is_refused_and_why() {
        let cases = [
            ("{minutes: 0}", "minutes: must be an integer ≥ 1, got 0"),
            ("{minutes: -3}", "minutes: must be an integer ≥ 1, got -3"),
            ("{hours: 1.5}", "hours: must be an integer ≥ 1, got 1.5"),
            ("{minutes: '30'}", "minutes: must be an integer ≥ 1, got the string \"30\""),
            ("{minutes: false}", "minutes: must be an integer ≥ 1, got false"),
            ("{minutes: 1, seconds: 2}", "has both `minutes` and `seconds`; give exactly one unit"),
            ("{weeks: 1}", "weeks: unknown timeout unit; use days, hours, minutes or seconds"),
            ("{mins: 1}", "mins: unknown timeout unit; use days, hours, minutes or seconds (did you mean `minutes`?)"),
            ("{skip: true}", "needs one of days, hours, minutes or seconds, e.g. `{minutes: 5}`"),
            ("{}", "needs one of days, hours, minutes or seconds, e.g. `{minutes: 5}`"),
            ("{minutes: 5, skip: 1}", "skip: must be true or false, got the integer 1"),
            ("30m", "must be a mapping with one unit, e.g. `{minutes: 5}`, got the string \"30m\""),
            ("{days: 40000}", "days: 40000 days is longer than 100 years"),
        ];
        for (text, message) in cases {
            assert_eq!(parse(text).unwrap_err(), message, "{text}");
        }
    }

    #[test]
    fn display_is_compact() {
        assert_eq!(Timeout::new(TimeUnit::Minutes, 30).to_string(), "30m");
        assert_eq!(Timeout::new(TimeUnit::Days, 0).to_string(), "1d");
        assert_eq!(
            Timeout::new(TimeUnit::Seconds, 45)
                .with_skip(true)
                .to_string(),
            "45s"
        );
    }
}
