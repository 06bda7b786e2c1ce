//! UTC timestamps in the two text forms LAVA uses, without a calendar crate.
//!
//! ```
//! use lava_proto::time::UtcTime;
//!
//! let t = UtcTime::from_unix(1_579_083_072, 345_678);
//! assert_eq!(t.isoformat(), "2020-01-15T10:11:12.345678");
//! assert_eq!(t.to_string(), "2020-01-15 10:11:12.345678");
//! // Python's isoformat() leaves out a zero fraction.
//! assert_eq!(UtcTime::from_unix(1_579_083_072, 0).isoformat(), "2020-01-15T10:11:12");
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    secs: i64,
    micros: u32,
}

impl UtcTime {
    /// The current time.
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Self::from_unix(d.as_secs() as i64, d.subsec_micros()),
            Err(e) => {
                let d = e.duration();
                let mut secs = -(d.as_secs() as i64);
                let mut micros = d.subsec_micros();
                if micros > 0 {
                    secs -= 1;
                    micros = 1_000_000 - micros;
                }
                Self::from_unix(secs, micros)
            }
        }
    }

    /// From seconds since the Unix epoch and microseconds (clamped to 999999).
    pub fn from_unix(secs: i64, micros: u32) -> Self {
        UtcTime {
            secs,
            micros: micros.min(999_999),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// Microseconds within the second.
    pub fn subsec_micros(&self) -> u32 {
        self.micros
    }

    /// (year, month, day, hour, minute, second)
    fn fields(&self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
    }

    /// Python's `datetime.utcnow().isoformat()`: `YYYY-MM-DDTHH:MM:SS[.ffffff]`,
    /// the fraction omitted when it is zero. This is the `dt` of log lines.
    pub fn isoformat(&self) -> String {
        let (y, mo, d, h, mi, s) = self.fields();
        let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        if self.micros != 0 {
            out.push_str(&format!(".{:06}", self.micros));
        }
        out
    }
}

impl fmt::Display for UtcTime {
    /// `YYYY-MM-DD HH:MM:SS.ffffff` (always with the fraction).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.fields();
        write!(
            f,
            "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:06}",
            self.micros
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm, written out here).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(UtcTime::from_unix(0, 0).isoformat(), "1970-01-01T00:00:00");
        assert_eq!(
            UtcTime::from_unix(951_782_400, 1).isoformat(),
            "2000-02-29T00:00:00.000001"
        );
        assert_eq!(UtcTime::from_unix(-1, 0).isoformat(), "1969-12-31T23:59:59");
        assert_eq!(
            UtcTime::from_unix(4_102_444_799, 999_999).to_string(),
            "2099-12-31 23:59:59.999999"
        );
    }
}
