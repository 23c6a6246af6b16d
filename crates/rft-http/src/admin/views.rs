//! What the console's pages read: the session, the overview, referrals (a filtered page, or
//! one with its story), referrers, and the queues that wait for a person.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use rft_core::code::{CodeRecord, CodeStatus};
use rft_core::ledger::{Fulfilment, Side};
use rft_core::referral::Flag;
use rft_core::service::console::referrers::{self, ReferrerDetail, ReferrerFigures};
use rft_core::service::console::story::{Story, tell};
use rft_core::service::console::{Overview, ReferralFilter, programme, search};
use rft_core::service::flags;
use rft_core::{Code, CustomerId, ReferralId, ReferralState, ReviewQueue, Timestamp};

use super::rows::{
    ReferralRow, cursor_text, parse_cursor, parse_limit, parse_method, parse_state, parse_time, query_pairs,
};
use super::{Live, Session, session};
use crate::Edge;
use crate::error::ApiError;

/// Console JSON is personal: never cached.
pub(super) fn private<T: Serialize>(body: &T) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /admin/api/session`.
#[derive(Serialize)]
pub struct SessionView {
    /// Who is signed in.
    pub email: String,
    /// Sent back in `x-csrf-token` with every change.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: String,
    /// The business's name.
    pub business: String,
    /// `stream` or `snapshot` (how live updates arrive).
    pub live: &'static str,
}

/// `GET /admin/api/session`: who is signed in and the page's CSRF token.
pub async fn session(State(edge): State<Arc<Edge>>, Extension(s): Extension<Session>) -> Response {
    private(&SessionView {
        email: s.email.to_string(),
        csrf_token: session::csrf_token(&edge.links, &s),
        expires_at: s.expires_at.to_rfc3339(),
        business: edge.settings.business.name.clone(),
        live: match edge.console.live {
            Live::Stream { .. } => "stream",
            Live::Snapshot { .. } => "snapshot",
        },
    })
}

/// The overview, or a 503 naming what failed.
pub async fn overview_of(edge: &Edge) -> Result<Overview, ApiError> {
    edge.console.overview.overview(edge.clock.now()).await.map_err(|e| ApiError::internal("reading the overview", &e))
}

/// `GET /admin/api/overview`.
pub async fn overview(State(edge): State<Arc<Edge>>) -> Result<Response, ApiError> {
    Ok(private(&overview_of(&edge).await?))
}

/// The filter and cursor of a referrals query (`customer`, `code`, `state`, `method`, `from`,
/// `to`, `cursor`, `limit`).
pub fn referral_query(
    query: Option<&str>,
) -> Result<(ReferralFilter, Option<rft_core::ports::ListPosition>, usize), ApiError> {
    let q = query_pairs(query);
    // A parameter given empty is a mistake (the page never sends one), except `customer`.
    for key in ["code", "state", "method", "from", "to", "cursor", "limit"] {
        if q.get(key).is_some_and(|v| v.trim().is_empty()) {
            return Err(ApiError::invalid_field(format!("{key}: must not be empty (leave it out instead)")));
        }
    }
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let filter = ReferralFilter {
        customer: text("customer").map(str::to_owned),
        code: text("code")
            .map(|c| Code::parse(c).map_err(|e| ApiError::invalid_field(format!("code: {e}"))))
            .transpose()?,
        state: text("state").map(parse_state).transpose()?,
        method: text("method").map(parse_method).transpose()?,
        from: text("from").map(|t| parse_time("from", t)).transpose()?,
        to: text("to").map(|t| parse_time("to", t)).transpose()?,
    };
    if filter.customer.as_ref().is_some_and(|c| c.chars().count() > 254) {
        return Err(ApiError::invalid_field("customer: at most 254 characters"));
    }
    let cursor = text("cursor").map(parse_cursor).transpose()?;
    Ok((filter, cursor, parse_limit(text("limit"), 25)?))
}

/// A page of referrals.
#[derive(Serialize)]
pub struct ReferralsView {
    /// The referrals, newest first.
    pub referrals: Vec<ReferralRow>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /admin/api/referrals`: a page of the referrals matching the query.
pub async fn referrals(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let (filter, cursor, limit) = referral_query(query.as_deref())?;
    let page = search(&edge.stores, &edge.hasher, &filter, cursor, limit)
        .await
        .map_err(|e| ApiError::internal("searching referrals", &e))?;
    Ok(private(&ReferralsView {
        referrals: page.referrals.iter().map(ReferralRow::from).collect(),
        next_cursor: page.next.as_ref().map(cursor_text),
    }))
}

/// One referral and its story.
#[derive(Serialize)]
pub struct ReferralView {
    /// The referral.
    pub referral: ReferralRow,
    /// Its story.
    pub story: Story,
    /// What the referrer and the friend get, as the code's terms say.
    pub referrer_reward: String,
    /// What the friend gets.
    pub friend_reward: String,
    /// Whether a person can approve or reject it now (held, or a refund after the reward).
    pub decidable: bool,
}

/// `GET /admin/api/referrals/{id}`.
pub async fn referral(State(edge): State<Arc<Edge>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = ReferralId::parse(&id).map_err(|_| ApiError::not_found("no referral by that id"))?;
    let failed = |e: rft_core::ports::StoreError| ApiError::internal("reading the referral", &e);
    let r = edge
        .stores
        .referrals
        .get(&id)
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found("no referral by that id"))?;
    let mut events = edge.stores.audit.events_for(r.referral_id.as_str()).await.map_err(failed)?;
    events.extend(edge.stores.audit.events_for(r.referred_id.as_str()).await.map_err(failed)?);
    let rows = edge.stores.ledger.rows(&r.referral_id).await.map_err(failed)?;
    let code = edge.stores.codes.get(&r.code).await.map_err(failed)?;
    let story = tell(&r, events, &rows, code.as_ref().map(|c| &c.referrer.identity));
    let decidable =
        r.state == ReferralState::Held || (r.state == ReferralState::Rewarded && r.flags.contains(&Flag::RefundReview));
    Ok(private(&ReferralView {
        referral: ReferralRow::from(&r),
        story,
        referrer_reward: r.terms.referrer_reward.description.clone(),
        friend_reward: r.terms.friend_reward.description.clone(),
        decidable,
    }))
}

/// A page of referrers.
#[derive(Serialize)]
pub struct ReferrersView {
    /// The referrers, newest code first.
    pub referrers: Vec<ReferrerFigures>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `GET /admin/api/referrers?status=active|retired`.
pub async fn referrers(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let q = query_pairs(query.as_deref());
    for key in ["cursor", "limit"] {
        if q.get(key).is_some_and(|v| v.trim().is_empty()) {
            return Err(ApiError::invalid_field(format!("{key}: must not be empty (leave it out instead)")));
        }
    }
    let status = match q.get("status").map(String::as_str) {
        None | Some("active") => CodeStatus::Active,
        Some("retired") => CodeStatus::Retired,
        Some(_) => return Err(ApiError::invalid_field("status: expected active or retired")),
    };
    let cursor = q.get("cursor").filter(|c| !c.is_empty()).map(|c| parse_cursor(c)).transpose()?;
    let limit = parse_limit(q.get("limit").map(String::as_str), 25)?;
    let page = referrers::page(&edge.stores, status, cursor, limit, edge.clock.now())
        .await
        .map_err(|e| ApiError::internal("listing referrers", &e))?;
    Ok(private(&ReferrersView { referrers: page.referrers, next_cursor: page.next.as_ref().map(cursor_text) }))
}

/// One referrer in full, with their referrals.
#[derive(Serialize)]
pub struct ReferrerView {
    /// Codes, figures and stats.
    #[serde(flatten)]
    pub detail: ReferrerDetail,
    /// Their referrals, newest first.
    pub referrals: Vec<ReferralRow>,
}

/// `GET /admin/api/referrers/{customer_id}`.
pub async fn referrer(State(edge): State<Arc<Edge>>, Path(customer): Path<String>) -> Result<Response, ApiError> {
    let customer = CustomerId::parse(&customer).map_err(|_| ApiError::not_found("no referrer by that id"))?;
    let failed = |e: rft_core::ports::StoreError| ApiError::internal("reading the referrer", &e);
    let detail = referrers::detail(&edge.stores, &customer, edge.clock.now())
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found(format!("customer {customer} has no referral code")))?;
    let mut referrals = edge.stores.referrals.referrals_of(&customer).await.map_err(failed)?;
    referrals.reverse();
    Ok(private(&ReferrerView { detail, referrals: referrals.iter().map(ReferralRow::from).collect() }))
}

/// A reward the store would not take.
#[derive(Serialize)]
pub struct ParkedRow {
    /// The referral.
    pub referral_id: String,
    /// Which side.
    pub side: Side,
    /// Who is owed it.
    pub customer_id: String,
    /// What it is.
    pub reward: String,
    /// Its value.
    pub amount: String,
    /// Store calls made.
    pub attempts: u32,
    /// The last failure.
    pub reason: String,
}

/// A code whose velocity held referrals.
#[derive(Serialize)]
pub struct FlaggedCode {
    /// The code.
    pub code: String,
    /// Its referrer.
    pub referrer_id: String,
    /// The velocity rules that fired.
    pub rules: Vec<String>,
    /// How many held referrals its flag holds (clearing it releases them).
    pub held: u64,
}

/// Flagged codes as the codes store lists them (the flag and its rules are kept on the code,
/// as the ops page reads them), each with how many held referrals its flag holds: the one that
/// tripped a rule and those held for the flag since, all of which clearing it releases.
fn flagged_codes(flagged: &[CodeRecord], held: &[rft_core::Referral]) -> Vec<FlaggedCode> {
    flagged
        .iter()
        .filter_map(|c| {
            let flag = c.flag.as_ref()?;
            let mut rules: Vec<String> = Vec::new();
            for e in &flag.evidence {
                if !rules.contains(&e.rule) {
                    rules.push(e.rule.clone());
                }
            }
            let held =
                held.iter().filter(|r| r.code == c.code && r.reasons().iter().any(|x| flags::is_code_rule(x))).count();
            Some(FlaggedCode {
                code: c.code.to_string(),
                referrer_id: c.referrer_id.to_string(),
                rules,
                held: u64::try_from(held).unwrap_or(u64::MAX),
            })
        })
        .collect()
}

/// What waits for a person.
#[derive(Serialize)]
pub struct QueuesView {
    /// Held referrals, oldest first.
    pub held: Vec<ReferralRow>,
    /// Rewarded referrals whose order was refunded, oldest first.
    pub refund_review: Vec<ReferralRow>,
    /// Rewards parked after the store refused them or the retries ran out.
    pub parked: Vec<ParkedRow>,
    /// Codes whose velocity held referrals.
    pub flagged_codes: Vec<FlaggedCode>,
}

/// How many of each queue the console shows.
const QUEUE_LIMIT: usize = 200;

/// `GET /admin/api/queues`.
pub async fn queues(State(edge): State<Arc<Edge>>) -> Result<Response, ApiError> {
    let failed = |e: rft_core::ports::StoreError| ApiError::internal("reading the queues", &e);
    let s = &edge.stores;
    let held = s.referrals.queue(ReviewQueue::Held, Timestamp::NEVER, QUEUE_LIMIT).await.map_err(failed)?;
    let refund_review =
        s.referrals.queue(ReviewQueue::RefundReview, Timestamp::NEVER, QUEUE_LIMIT).await.map_err(failed)?;
    let flagged = s.codes.flagged(QUEUE_LIMIT).await.map_err(failed)?;
    // Today the parked rows are found among the rewarded referrals' rows; a rollup of parked
    // rows replaces this with the overview's.
    let rewarded = programme::referrals_in(s, ReferralState::Rewarded).await.map_err(failed)?;
    let ids: Vec<ReferralId> = rewarded.into_iter().map(|r| r.referral_id).collect();
    let rows = programme::each(ids, |id| {
        let s = s.clone();
        async move { s.ledger.rows(&id).await }
    })
    .await
    .map_err(failed)?;
    let parked = rows
        .iter()
        .flatten()
        .filter_map(|row| match &row.fulfilment {
            Fulfilment::Parked { attempts, reason } => Some(ParkedRow {
                referral_id: row.referral_id.to_string(),
                side: row.side,
                customer_id: row.customer_id.to_string(),
                reward: row.reward.description.clone(),
                amount: row.reward.currency.format(row.reward.amount_minor),
                attempts: *attempts,
                reason: reason.clone(),
            }),
            _ => None,
        })
        .collect();
    Ok(private(&QueuesView {
        flagged_codes: flagged_codes(&flagged, &held),
        held: held.iter().map(ReferralRow::from).collect(),
        refund_review: refund_review.iter().map(ReferralRow::from).collect(),
        parked,
    }))
}
