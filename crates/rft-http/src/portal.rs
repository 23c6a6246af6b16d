//! People's pages behind signed links: the referrer's page (`/me`, with its data and the
//! invite-by-email form) and the ops queue (`/ops`). The HTML and scripts are static files;
//! everything personal comes from the JSON routes, which check the same link.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use rft_core::ids::FirstName;
use rft_core::links::{Action, CodeAction, LinkPurpose, code_action_url, decision_url, queue_url};
use rft_core::ports::InviteRequest;
use rft_core::referral::ReviewQueue;
use rft_core::service::stats::{PORTAL_TTL, referrer_stats};
use rft_core::{CustomerId, Email, Referral, Timestamp, identity::Field};

use crate::Edge;
use crate::api::{link_json, mint_error};
use crate::body::{parse_json, read_limited};
use crate::error::ApiError;

/// The query parameters of a signed page link.
#[derive(Default)]
struct LinkQuery {
    customer: String,
    exp: String,
    sig: String,
}

fn link_query(query: Option<&str>) -> LinkQuery {
    let mut q = LinkQuery::default();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "customer" => q.customer = v.into_owned(),
            "exp" => q.exp = v.into_owned(),
            "sig" => q.sig = v.into_owned(),
            _ => {}
        }
    }
    q
}

fn forbidden_json() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this link is not valid or has expired")
}

fn page(html: &'static str) -> Response {
    let mut response = Html(html).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

fn forbidden_page() -> Response {
    crate::ops::page(
        StatusCode::FORBIDDEN,
        "Link not valid",
        "<p>This link is not valid or has expired. Ask for a fresh one.</p>",
    )
}

/// The referrer a portal link is for, if the link is genuine.
fn portal_customer(edge: &Edge, query: Option<&str>) -> Option<CustomerId> {
    let q = link_query(query);
    let customer = CustomerId::parse(&q.customer).ok()?;
    edge.links.verify(&LinkPurpose::Portal(customer.clone()), &q.exp, &q.sig, edge.clock.now()).ok()?;
    Some(customer)
}

/// The relative URL of a referrer's page, valid for [`PORTAL_TTL`].
pub fn portal_path(edge: &Edge, customer: &CustomerId) -> String {
    let query = edge.links.query(&LinkPurpose::Portal(customer.clone()), edge.clock.now().plus(PORTAL_TTL));
    let id: String = url::form_urlencoded::byte_serialize(customer.as_str().as_bytes()).collect();
    format!("/me?customer={id}&{query}")
}

/// The absolute URL of a referrer's page (`portal_url` in `POST /api/links`).
pub fn portal_url(edge: &Edge, customer: &CustomerId) -> String {
    format!("{}{}", edge.settings.links.base_url.as_str().trim_end_matches('/'), portal_path(edge, customer))
}

/// `GET /me`: the referrer's page.
pub async fn me(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Response {
    match portal_customer(&edge, query.as_deref()) {
        Some(_) => page(include_str!("../assets/me.html")),
        None => forbidden_page(),
    }
}

/// The referrer's code, terms, place on the ladder and numbers.
pub async fn referrer_json(edge: &Edge, customer: &CustomerId) -> Result<Value, ApiError> {
    let found = referrer_stats(&edge.stores, customer, edge.clock.now())
        .await
        .map_err(|e| ApiError::internal("reading the referrer's numbers", &e))?;
    let (code, stats) =
        found.ok_or_else(|| ApiError::not_found(format!("customer {customer} has no referral code")))?;
    let mut body = link_json(edge, &code).await;
    body["customer_id"] = json!(customer);
    body["first_name"] = json!(code.referrer.first_name);
    body["business"] = json!(edge.settings.business.name);
    body["stats"] = json!(stats);
    Ok(body)
}

/// `GET /me/data`: what the referrer's page shows (with their friends), refreshed by polling.
pub async fn me_data(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let customer = portal_customer(&edge, query.as_deref()).ok_or_else(forbidden_json)?;
    let mut body = referrer_json(&edge, &customer).await?;
    // Their friends, a first name and one sentence each (the page only, not the stats API).
    let referrals = edge
        .stores
        .referrals
        .referrals_of(&customer)
        .await
        .map_err(|e| ApiError::internal("reading the referrer's friends", &e))?;
    body["friends"] = json!(rft_core::service::console::friends::friend_lines(&referrals));
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /me/invites` body.
#[derive(Deserialize)]
struct PortalInvite {
    friend_email: Email,
    friend_name: Option<FirstName>,
}

/// `POST /me/invites`: the referrer's page's invite-by-email form.
pub async fn me_invite(
    State(edge): State<Arc<Edge>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    // The same 64 KiB limit and JSON 413 as the signed routes, not axum's 2 MiB plain text.
    let body = read_limited(body).await?;
    let customer = portal_customer(&edge, query.as_deref()).ok_or_else(forbidden_json)?;
    let body: PortalInvite = parse_json(&body)?;
    let hash = edge
        .hasher
        .hash(Field::Email, &body.friend_email.identity())
        .ok_or_else(|| ApiError::invalid_field("friend_email: expected an email address like name@example.com"))?;
    let request = InviteRequest {
        customer_id: customer,
        friend_email: body.friend_email,
        friend_email_hash: hash,
        friend_name: body.friend_name.map(String::from),
    };
    edge.minter.invite(&request).await.map_err(mint_error)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "sent" }))).into_response())
}

/// `GET /api/referrers/{customer_id}/stats` (signed).
pub async fn stats(
    State(edge): State<Arc<Edge>>,
    crate::params::ApiPath(customer): crate::params::ApiPath<String>,
) -> Result<Response, ApiError> {
    let customer = CustomerId::parse(&customer).map_err(|_| ApiError::not_found("no referrer by that id"))?;
    Ok(Json(referrer_json(&edge, &customer).await?).into_response())
}

fn queue_link_ok(edge: &Edge, query: Option<&str>) -> bool {
    let q = link_query(query);
    edge.links.verify(&LinkPurpose::Queue, &q.exp, &q.sig, edge.clock.now()).is_ok()
}

/// The relative URL of the ops queue, valid for the configured ops-link lifetime.
pub fn ops_queue_path(edge: &Edge) -> String {
    queue_url("", &edge.links, edge.clock.now().plus(edge.settings.team.ops_link_ttl))
}

/// `GET /ops`: the queue of held and flagged referrals.
pub async fn ops_queue(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Response {
    if queue_link_ok(&edge, query.as_deref()) { page(include_str!("../assets/ops.html")) } else { forbidden_page() }
}

fn case_json(edge: &Edge, r: &Referral, exp: Timestamp) -> Value {
    // A relative link: the page is served from the same origin.
    let link = |action| decision_url("", &edge.links, &r.referral_id, action, exp);
    json!({
        "referral_id": r.referral_id,
        "referrer_id": r.referrer_id,
        "referred_id": r.referred_id,
        "code": r.code,
        "state": r.state.as_str(),
        "method": r.method,
        "reasons": r.reasons(),
        "evidence": r.evidence,
        "conversion": r.conversion.as_ref().map(|c| json!({
            "order_id": c.order_id,
            "amount": c.currency.format(c.amount_minor),
            "occurred_at": c.occurred_at.to_rfc3339(),
        })),
        "refund": r.refunded.as_ref().map(|f| json!({ "order_id": f.order_id, "at": f.at.to_rfc3339() })),
        "created_at": r.created_at.to_rfc3339(),
        "updated_at": r.updated_at.to_rfc3339(),
        "approve_url": link(Action::Approve),
        "reject_url": link(Action::Reject),
    })
}

fn flagged_code_json(edge: &Edge, c: &rft_core::CodeRecord, exp: Timestamp) -> Value {
    let link = |action| code_action_url("", &edge.links, &c.code, action, exp);
    json!({
        "code": c.code,
        "referrer_id": c.referrer_id,
        "flagged_at": c.flag.as_ref().map(|f| f.at.to_rfc3339()),
        "evidence": c.flag.as_ref().map(|f| f.evidence.clone()).unwrap_or_default(),
        "clear_url": link(CodeAction::Clear),
        "retire_url": link(CodeAction::Retire),
    })
}

/// `GET /ops/data`: the queue's cases with their two-step decision links.
pub async fn ops_data(State(edge): State<Arc<Edge>>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    if !queue_link_ok(&edge, query.as_deref()) {
        return Err(forbidden_json());
    }
    let now = edge.clock.now();
    let exp = now.plus(edge.settings.team.ops_link_ttl);
    let mut lists = Vec::new();
    for queue in [ReviewQueue::Held, ReviewQueue::RefundReview] {
        let cases = edge
            .stores
            .referrals
            .queue(queue, now, 200)
            .await
            .map_err(|e| ApiError::internal("reading the ops queue", &e))?;
        lists.push(cases.iter().map(|r| case_json(&edge, r, exp)).collect::<Vec<_>>());
    }
    let refund_review = lists.pop().unwrap_or_default();
    let held = lists.pop().unwrap_or_default();
    let flagged = edge.stores.codes.flagged(200).await.map_err(|e| ApiError::internal("reading flagged codes", &e))?;
    let flagged_codes: Vec<Value> = flagged.iter().map(|c| flagged_code_json(&edge, c, exp)).collect();
    let mut response = Json(json!({
        "business": edge.settings.business.name,
        "held": held,
        "refund_review": refund_review,
        "flagged_codes": flagged_codes,
    }))
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
