//! Time as the domain sees it: milliseconds since the Unix epoch, read from an injectable clock so
//! lifecycles (windows, expiry, leases) can be tested in seconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// Why an RFC 3339 timestamp was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected an RFC 3339 timestamp such as 2026-07-04T10:00:00Z")]
pub struct TimestampError;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Far enough ahead to mean "never" (year 148,000), yet still valid as DynamoDB TTL
    /// seconds and as milliseconds in every store.
    pub const NEVER: Timestamp = Timestamp(i64::MAX / 2000 * 1000);

    /// Builds a timestamp from milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Builds a timestamp from whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down), the unit DynamoDB TTL wants.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// This instant moved back by `d` (saturating).
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// The UTC day this instant falls on, as days since the epoch (for daily counters).
    pub const fn day(self) -> i64 {
        self.0.div_euclid(86_400_000)
    }

    /// The UTC calendar date, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0).map(|dt| dt.format("%Y-%m-%d").to_string()).unwrap_or_default()
    }

    /// Parses RFC 3339 with any offset (`2026-07-04T10:00:00+01:00`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimestampError> {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|dt| Timestamp(dt.timestamp_millis()))
            .map_err(|_| TimestampError)
    }

    /// Formats as RFC 3339 in UTC with milliseconds.
    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .map(|dt| dt.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Where "now" comes from. Adapters use the system clock; tests move a manual one.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock tests set and advance by hand.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn at(at: Timestamp) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(at.as_millis()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.as_millis(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_offset_is_normalised_to_utc() {
        let t = Timestamp::parse_rfc3339("2026-07-04T11:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-07-04T10:00:00.000Z");
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), Err(TimestampError));
    }

    #[test]
    fn arithmetic_saturates_and_since_is_never_negative() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t.plus(Duration::from_secs(5)).as_secs(), 15);
        assert_eq!(Timestamp::from_secs(1).since(t), Duration::ZERO);
        assert_eq!(Timestamp::from_millis(-1).as_secs(), -1);
    }
}
