//! Pages of a listing ordered newest first, for the owner's console: referrals by state, codes
//! by status. Every store orders by creation time, then by id, so a page boundary is exact even
//! when two items share a millisecond.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A place in a newest-first listing: an item's creation time and id. Items order by
/// `(at, id)`; a page holds the items strictly before its [`ListWindow::before`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ListPosition {
    /// The item's creation time.
    pub at: Timestamp,
    /// The item's id (a referral id, a code); `""` stands before every id at that time.
    pub id: String,
}

impl ListPosition {
    /// Just before everything created at `at` or later: the first page of a listing up to `at`.
    pub fn before_time(at: Timestamp) -> Self {
        ListPosition { at, id: String::new() }
    }

    /// The position of an item.
    pub fn of(at: Timestamp, id: impl Into<String>) -> Self {
        ListPosition { at, id: id.into() }
    }
}

/// One page of a newest-first listing: items created at or after `since` whose position is
/// strictly before `before`, at most `limit` of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListWindow {
    /// The oldest creation time wanted (inclusive).
    pub since: Timestamp,
    /// Where the page starts (exclusive): the last item of the previous page, or a time.
    pub before: ListPosition,
    /// The most items wanted.
    pub limit: usize,
}

impl ListWindow {
    /// Whether an item at `position` belongs in this window (ignoring the limit).
    pub fn holds(&self, position: &ListPosition) -> bool {
        position.at >= self.since && *position < self.before
    }
}
