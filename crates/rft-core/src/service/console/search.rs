//! Finding referrals: by customer (the friend or the referrer, by id or by the friend's email
//! through its keyed hash), by code, by state, by method and by sign-up date, newest first, a
//! page at a time. Each filter is answered from the most selective index: a customer's claim
//! and their referrals as a referrer, a code's owner's referrals, one state's listing, or every
//! state's listings merged. Filters no index answers (method, dates on a customer's list) are
//! applied to what was read, and a page stops after reading [`EXAMINED`] items, so a rare
//! filter answers in bounded time with a short page and the place to go on from.

use std::collections::VecDeque;

use serde::Serialize;

use crate::code::Code;
use crate::identity::{Field, IdentityHasher, IdentityKey};
use crate::ids::CustomerId;
use crate::ports::{ListPosition, ListWindow, StoreError, Stores};
use crate::referral::{Method, Referral, ReferralState};
use crate::service::console::programme::ALL_STATES;
use crate::time::Timestamp;

/// The most referrals a page reads before it stops, full or not.
pub const EXAMINED: usize = 1000;

/// What to look for; every field set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReferralFilter {
    /// A customer: the referred friend or the referrer, as a customer id or (for the friend)
    /// an email address.
    pub customer: Option<String>,
    /// The code credited.
    pub code: Option<Code>,
    /// Where it stands.
    pub state: Option<ReferralState>,
    /// How it was attributed.
    pub method: Option<Method>,
    /// Signed up at or after.
    pub from: Option<Timestamp>,
    /// Signed up before.
    pub to: Option<Timestamp>,
}

impl ReferralFilter {
    /// Whether a referral matches the filters other than `customer` (found by index).
    fn admits(&self, r: &Referral) -> bool {
        self.code.as_ref().is_none_or(|c| *c == r.code)
            && self.state.is_none_or(|s| s == r.state)
            && self.method.is_none_or(|m| m == r.method)
            && self.from.is_none_or(|t| r.created_at >= t)
            && self.to.is_none_or(|t| r.created_at < t)
    }
}

/// One page of referrals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferralPage {
    /// The referrals, newest first.
    pub referrals: Vec<Referral>,
    /// Where the next page starts, if more may match.
    pub next: Option<ListPosition>,
}

fn position(r: &Referral) -> ListPosition {
    ListPosition::of(r.created_at, r.referral_id.as_str())
}

/// One page of the referrals matching `filter`, starting after `after`.
pub async fn search(
    stores: &Stores,
    hasher: &IdentityHasher,
    filter: &ReferralFilter,
    after: Option<ListPosition>,
    limit: usize,
) -> Result<ReferralPage, StoreError> {
    let limit = limit.max(1);
    let mut before = ListPosition::before_time(filter.to.unwrap_or(Timestamp::NEVER));
    if let Some(after) = after
        && after < before
    {
        before = after;
    }
    let since = filter.from.unwrap_or(Timestamp::EPOCH);
    let window = ListWindow { since, before, limit };
    if let Some(customer) = &filter.customer {
        let found = by_customer(stores, hasher, customer.trim()).await?;
        return Ok(cut(found, filter, &window));
    }
    if let Some(code) = &filter.code {
        let found = match stores.codes.get(code).await? {
            Some(record) => stores.referrals.referrals_of(&record.referrer_id).await?,
            None => Vec::new(),
        };
        return Ok(cut(found, filter, &window));
    }
    let states: Vec<ReferralState> = match filter.state {
        Some(s) => vec![s],
        None => ALL_STATES.to_vec(),
    };
    merged(stores, &states, filter, window).await
}

/// The friend's referral (by customer id, or by email hash) and the customer's referrals as a
/// referrer.
async fn by_customer(stores: &Stores, hasher: &IdentityHasher, customer: &str) -> Result<Vec<Referral>, StoreError> {
    if customer.contains('@') {
        let email = crate::email::Email::parse(customer).ok();
        let key = email.and_then(|e| hasher.hash(Field::Email, &e.identity())).map(IdentityKey::Email);
        return Ok(match key {
            Some(k) => stores.referrals.find(&k).await?.into_iter().collect(),
            None => Vec::new(),
        });
    }
    let Ok(id) = CustomerId::parse(customer) else { return Ok(Vec::new()) };
    let mut found = stores.referrals.referrals_of(&id).await?;
    if let Some(own) = stores.referrals.find(&IdentityKey::Customer(id)).await?
        && !found.iter().any(|r| r.referral_id == own.referral_id)
    {
        found.push(own);
    }
    Ok(found)
}

/// A page cut from a list read whole (a customer's or a code owner's referrals).
fn cut(mut found: Vec<Referral>, filter: &ReferralFilter, window: &ListWindow) -> ReferralPage {
    found.retain(|r| filter.admits(r) && window.holds(&position(r)));
    found.sort_by_key(|r| std::cmp::Reverse(position(r)));
    let more = found.len() > window.limit;
    found.truncate(window.limit);
    let next = if more { found.last().map(position) } else { None };
    ReferralPage { referrals: found, next }
}

/// One state's listing, read a page at a time.
struct Stream {
    state: ReferralState,
    buffer: VecDeque<Referral>,
    before: ListPosition,
    exhausted: bool,
}

impl Stream {
    async fn fill(&mut self, stores: &Stores, since: Timestamp, batch: usize) -> Result<(), StoreError> {
        if self.exhausted || !self.buffer.is_empty() {
            return Ok(());
        }
        let window = ListWindow { since, before: self.before.clone(), limit: batch };
        let page = stores.referrals.in_state(self.state, &window).await?;
        self.exhausted = page.len() < batch;
        if let Some(last) = page.last() {
            self.before = position(last);
        }
        self.buffer.extend(page);
        Ok(())
    }
}

/// The listings of `states` merged newest first, filtered, up to a page or [`EXAMINED`] reads.
async fn merged(
    stores: &Stores,
    states: &[ReferralState],
    filter: &ReferralFilter,
    window: ListWindow,
) -> Result<ReferralPage, StoreError> {
    let batch = (window.limit + 1).min(EXAMINED);
    let mut streams: Vec<Stream> = states
        .iter()
        .map(|&state| Stream { state, buffer: VecDeque::new(), before: window.before.clone(), exhausted: false })
        .collect();
    let mut out = Vec::new();
    let mut examined = 0;
    loop {
        for s in streams.iter_mut() {
            s.fill(stores, window.since, batch).await?;
        }
        let newest = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.buffer.front().map(|r| (i, position(r))))
            .max_by(|a, b| a.1.cmp(&b.1));
        let Some((i, _)) = newest else {
            return Ok(ReferralPage { referrals: out, next: None });
        };
        let Some(referral) = streams[i].buffer.pop_front() else { continue };
        examined += 1;
        let last = position(&referral);
        if filter.admits(&referral) {
            out.push(referral);
        }
        let more = streams.iter().any(|s| !s.exhausted || !s.buffer.is_empty());
        if out.len() >= window.limit || examined >= EXAMINED {
            return Ok(ReferralPage { referrals: out, next: more.then_some(last) });
        }
    }
}
