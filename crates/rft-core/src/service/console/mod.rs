//! The owner's console, read side: the programme at a glance ([`overview`]), every referral
//! found by customer, code, state, method and date ([`search`]) and told as a story from the
//! audit ([`story`]), the referrers with their numbers ([`referrers`]), the CSV export
//! ([`export`]) and, for the referrer's own page, their friends in one plain sentence each
//! ([`friends`]). Everything here reads the stores by key or index; nothing scans a table.
//!
//! The overview is computed behind one trait, [`ConsoleOverview`]: today from what the stores
//! already hold ([`StoreOverview`]: the programme counters, each referrer's numbers as the
//! stats API computes them, the listings by state, the ledger rows of rewarded referrals).
//! Rollups that do not grow with the programme replace it in that one place.

pub mod export;
pub mod friends;
pub mod overview;
pub mod programme;
pub mod referrers;
pub mod search;
pub mod story;
pub mod sums;

pub use overview::{ConsoleOverview, Overview, StoreOverview};
pub use search::{ReferralFilter, ReferralPage, search};
