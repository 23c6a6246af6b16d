//! The referrers as the console lists them: each with their codes, numbers and earnings. Every
//! number is the stats API's own ([`referrer_stats`]), so the two agree to the unit.

use serde::Serialize;

use crate::code::{Code, CodeRecord, CodeStatus};
use crate::ids::CustomerId;
use crate::ports::{ListPosition, ListWindow, StoreError, Stores};
use crate::service::console::programme;
use crate::service::stats::{Earned, ReferrerStats, referrer_stats};
use crate::time::Timestamp;

/// One of a referrer's codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeLine {
    /// The code.
    pub code: Code,
    /// Active or retired.
    pub status: CodeStatus,
    /// When it was minted.
    pub created_at: String,
    /// When it was retired, if it was.
    pub retired_at: Option<String>,
    /// Its history from the audit: minted, flagged, retired and by whom.
    pub history: Vec<crate::service::console::story::StoryLine>,
}

impl From<&CodeRecord> for CodeLine {
    fn from(c: &CodeRecord) -> Self {
        CodeLine {
            code: c.code.clone(),
            status: c.status,
            created_at: c.created_at.to_rfc3339(),
            retired_at: c.retired_at.map(Timestamp::to_rfc3339),
            history: Vec::new(),
        }
    }
}

/// A referrer's numbers, as the stats API computes them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferrerFigures {
    /// The referrer.
    pub customer_id: CustomerId,
    /// Their first name, if the store gave one.
    pub first_name: Option<String>,
    /// Their active code, else their newest.
    pub code: Code,
    /// That code's status.
    pub code_status: CodeStatus,
    /// Clicks on any of their codes in the last 30 days.
    pub clicks: u64,
    /// Friends who signed up through them.
    pub signups: u64,
    /// Friends who converted.
    pub conversions: u64,
    /// Waiting for a first order.
    pub pending: u64,
    /// Waiting for a person.
    pub held: u64,
    /// Paid.
    pub rewarded: u64,
    /// What they have earned, per currency.
    pub earned: Vec<Earned>,
    /// Rewarded over sign-ups.
    pub conversion_rate: Option<f64>,
}

impl ReferrerFigures {
    /// The row for a referrer from their current code and their stats.
    pub fn new(code: &CodeRecord, stats: &ReferrerStats) -> Self {
        ReferrerFigures {
            customer_id: code.referrer_id.clone(),
            first_name: code.referrer.first_name.clone(),
            code: code.code.clone(),
            code_status: code.status,
            clicks: stats.clicks,
            signups: stats.signups,
            conversions: stats.conversions,
            pending: stats.pending,
            held: stats.held,
            rewarded: stats.rewarded,
            earned: stats.earned.clone(),
            conversion_rate: stats.conversion_rate,
        }
    }
}

/// One page of referrers by the status of a code of theirs, newest code first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferrersPage {
    /// The referrers on this page.
    pub referrers: Vec<ReferrerFigures>,
    /// Where the next page starts, if there may be one.
    pub next: Option<ListPosition>,
}

/// A page of referrers: the owners of codes with `status`, newest code first.
pub async fn page(
    stores: &Stores,
    status: CodeStatus,
    before: Option<ListPosition>,
    limit: usize,
    now: Timestamp,
) -> Result<ReferrersPage, StoreError> {
    let window = ListWindow {
        since: Timestamp::EPOCH,
        before: before.unwrap_or_else(|| ListPosition::before_time(Timestamp::NEVER)),
        limit,
    };
    let codes = stores.codes.in_status(status, &window).await?;
    let next =
        (codes.len() == limit).then(|| codes.last().map(|c| ListPosition::of(c.created_at, c.code.as_str()))).flatten();
    let owners: Vec<CustomerId> = codes.into_iter().map(|c| c.referrer_id).collect();
    let found = programme::each(owners, |customer| {
        let stores = stores.clone();
        async move { referrer_stats(&stores, &customer, now).await }
    })
    .await?;
    let referrers = found.iter().flatten().map(|(code, stats)| ReferrerFigures::new(code, stats)).collect();
    Ok(ReferrersPage { referrers, next })
}

/// One referrer in full: their codes, figures and stats.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferrerDetail {
    /// Their figures.
    pub figures: ReferrerFigures,
    /// Every code they have had, oldest first.
    pub codes: Vec<CodeLine>,
    /// The stats API's numbers (daily series, channels).
    pub stats: ReferrerStats,
}

/// A referrer in full; `None` if they never had a code.
pub async fn detail(
    stores: &Stores,
    customer: &CustomerId,
    now: Timestamp,
) -> Result<Option<ReferrerDetail>, StoreError> {
    let Some((code, stats)) = referrer_stats(stores, customer, now).await? else { return Ok(None) };
    let mut codes = Vec::new();
    for code in stores.codes.codes_of(customer).await? {
        let mut line = CodeLine::from(&code);
        line.history = crate::service::console::story::code_history(stores.audit.events_for(code.code.as_str()).await?);
        codes.push(line);
    }
    Ok(Some(ReferrerDetail { figures: ReferrerFigures::new(&code, &stats), codes, stats }))
}
