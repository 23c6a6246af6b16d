//! Listings read whole, page by page (the ledger export's rewarded referrals), and reads run a
//! few at a time. Reads are by index, never a table scan.

use std::future::Future;

use crate::ports::{ListPosition, ListWindow, StoreError, Stores};
use crate::referral::{Referral, ReferralState};
use crate::time::Timestamp;

/// Every state a referral can be in, in the order the console shows them.
pub const ALL_STATES: [ReferralState; 6] = [
    ReferralState::Pending,
    ReferralState::Held,
    ReferralState::Rewarded,
    ReferralState::Blocked,
    ReferralState::Rejected,
    ReferralState::Expired,
];

/// How many items one listing call asks for when reading a whole listing.
const PAGE: usize = 500;

/// How many reads run at once when the console reads item by item.
pub const WIDTH: usize = 8;

/// Every referral in `state`, newest first.
pub async fn referrals_in(stores: &Stores, state: ReferralState) -> Result<Vec<Referral>, StoreError> {
    let mut out: Vec<Referral> = Vec::new();
    let mut before = ListPosition::before_time(Timestamp::NEVER);
    loop {
        let window = ListWindow { since: Timestamp::EPOCH, before: before.clone(), limit: PAGE };
        let page = stores.referrals.in_state(state, &window).await?;
        let full = page.len() == PAGE;
        if let Some(last) = page.last() {
            before = ListPosition::of(last.created_at, last.referral_id.as_str());
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Runs `read` on every item, [`WIDTH`] at a time, and returns the answers in the items' order.
pub async fn each<I, T, F, Fut>(items: Vec<I>, read: F) -> Result<Vec<T>, StoreError>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    let mut out = Vec::with_capacity(items.len());
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut set = tokio::task::JoinSet::new();
        for (i, item) in items.by_ref().take(WIDTH).enumerate() {
            let fut = read(item);
            set.spawn(async move { (i, fut.await) });
        }
        let mut chunk: Vec<(usize, T)> = Vec::with_capacity(WIDTH);
        while let Some(joined) = set.join_next().await {
            let (i, answer) = joined.map_err(|e| StoreError::unavailable("read the programme", e))?;
            chunk.push((i, answer?));
        }
        chunk.sort_by_key(|(i, _)| *i);
        out.extend(chunk.into_iter().map(|(_, t)| t));
    }
    Ok(out)
}
