//! Reading the embedded store's secondary indexes. Each is a table keyed
//! `(prefix, time in ms, id)`: a customer's codes, a subject's audit, a code's clicks. Reading
//! one is a range under one prefix, written here once; `"\u{10FFFF}"` sorts after every id.

use std::ops::RangeInclusive;

use redb::{Range, ReadableTable, StorageError, Value};
use serde::de::DeserializeOwned;

use super::{Bytes, ReadFailure, decode};

/// An index key: the prefix, a time in milliseconds, and the id it points at.
pub(crate) type IndexKey = (&'static str, i64, &'static str);

/// The entries under `prefix` whose time is in `times`, oldest first (`.rev()` for newest).
pub(crate) fn span<'t, V: Value + 'static>(
    index: &'t impl ReadableTable<IndexKey, V>,
    prefix: &str,
    times: RangeInclusive<i64>,
) -> Result<Range<'t, IndexKey, V>, StorageError> {
    index.range((prefix, *times.start(), "")..=(prefix, *times.end(), "\u{10FFFF}"))
}

/// Every entry under `prefix`, oldest first.
pub(crate) fn under<'t, V: Value + 'static>(
    index: &'t impl ReadableTable<IndexKey, V>,
    prefix: &str,
) -> Result<Range<'t, IndexKey, V>, StorageError> {
    span(index, prefix, i64::MIN..=i64::MAX)
}

/// The records (keyed by id in `records`) that an index lists under `prefix` with a time in
/// `times`, oldest first, at most `limit`.
pub(crate) fn listed<T: DeserializeOwned>(
    index: &impl ReadableTable<IndexKey, ()>,
    records: &impl ReadableTable<&'static str, Bytes>,
    prefix: &str,
    times: RangeInclusive<i64>,
    limit: usize,
) -> Result<Vec<T>, ReadFailure> {
    let mut out = Vec::new();
    for entry in span(index, prefix, times)? {
        if out.len() >= limit {
            break;
        }
        let (key, _) = entry?;
        let id = key.value().2;
        if let Some(v) = records.get(id)? {
            out.push(decode(id, v.value())?);
        }
    }
    Ok(out)
}
