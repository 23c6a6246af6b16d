//! Velocity counters: fixed buckets in the counter store, read as a sliding window (the current
//! bucket plus the previous one weighted by how much of it the window still covers), so a
//! burst straddling a bucket edge is still seen.

use std::time::Duration;

use crate::ports::{CountError, Counters, StoreError};
use crate::time::Timestamp;

/// One hour.
pub const HOUR: Duration = Duration::from_secs(3600);
/// One day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Sign-ups through a code (per hour).
pub const SIGNUPS_PER_CODE: &str = "signups_code";
/// Sign-ups from an IP hash (per day).
pub const SIGNUPS_PER_IP: &str = "signups_ip";
/// Conversions of a referrer's friends (per day).
pub const CONVERSIONS_PER_REFERRER: &str = "conversions_referrer";

fn width_ms(width: Duration) -> i64 {
    i64::try_from(width.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// Counter keys carry a digest of the subject, not the subject: an IP's keyed hash or a
/// customer id never appears in them as such (erasure cannot enumerate counters, which expire
/// within two buckets anyway).
fn key(kind: &str, subject: &str, width: Duration, bucket: i64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(subject.as_bytes());
    format!("v#{kind}#{}#{}#{bucket}", hex::encode(&digest[..12]), width.as_secs())
}

/// Counts one event now.
pub async fn record(
    counters: &dyn Counters,
    kind: &str,
    subject: &str,
    width: Duration,
    at: Timestamp,
) -> Result<(), StoreError> {
    let w = width_ms(width);
    let bucket = at.as_millis().div_euclid(w);
    let expires = Timestamp::from_millis((bucket + 2).saturating_mul(w));
    match counters.increment(&key(kind, subject, width, bucket), None, expires, at).await {
        Ok(_) => Ok(()),
        Err(CountError::Store(e)) => Err(e),
        // No limit was given, so none can be reached.
        Err(CountError::LimitReached { .. }) => Ok(()),
    }
}

/// Events in the window of `width` ending at `at` (sliding estimate, rounded up).
pub async fn sliding(
    counters: &dyn Counters,
    kind: &str,
    subject: &str,
    width: Duration,
    at: Timestamp,
) -> Result<u32, StoreError> {
    let w = width_ms(width);
    let bucket = at.as_millis().div_euclid(w);
    let keys = [key(kind, subject, width, bucket), key(kind, subject, width, bucket - 1)];
    let (current, previous) = match counters.counts(&keys, at).await?[..] {
        [current, previous] => (current, previous),
        _ => (0, 0),
    };
    let elapsed = at.as_millis().rem_euclid(w) as f64 / w as f64;
    Ok(current + (f64::from(previous) * (1.0 - elapsed)).ceil() as u32)
}
