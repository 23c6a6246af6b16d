//! The whole programme read through its listings (referrals by state, codes by status), page
//! by page: what the console's overview and referrers are computed from until rollups replace
//! them. Reads are by index, never a table scan, and run a few at a time.

use std::future::Future;

use crate::code::{CodeRecord, CodeStatus};
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

/// Every referral, newest first.
pub async fn all_referrals(stores: &Stores) -> Result<Vec<Referral>, StoreError> {
    let mut out = Vec::new();
    for state in ALL_STATES {
        out.extend(referrals_in(stores, state).await?);
    }
    out.sort_by_key(|r| std::cmp::Reverse(ListPosition::of(r.created_at, r.referral_id.as_str())));
    Ok(out)
}

/// Every code with `status`, newest first.
pub async fn codes_in(stores: &Stores, status: CodeStatus) -> Result<Vec<CodeRecord>, StoreError> {
    let mut out: Vec<CodeRecord> = Vec::new();
    let mut before = ListPosition::before_time(Timestamp::NEVER);
    loop {
        let window = ListWindow { since: Timestamp::EPOCH, before: before.clone(), limit: PAGE };
        let page = stores.codes.in_status(status, &window).await?;
        let full = page.len() == PAGE;
        if let Some(last) = page.last() {
            before = ListPosition::of(last.created_at, last.code.as_str());
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Every code, active and retired, newest first.
pub async fn all_codes(stores: &Stores) -> Result<Vec<CodeRecord>, StoreError> {
    let mut out = codes_in(stores, CodeStatus::Active).await?;
    out.extend(codes_in(stores, CodeStatus::Retired).await?);
    out.sort_by_key(|c| std::cmp::Reverse(ListPosition::of(c.created_at, c.code.as_str())));
    Ok(out)
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
