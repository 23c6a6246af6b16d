//! `POST /webhooks/stripe` and `POST /webhooks/shopify`: a connected store's own events,
//! verified as each provider signs them, answered once per event id, and queued as the work
//! they mean (docs/connect-stripe.md, docs/connect-shopify.md). Events of no interest are
//! answered 200 so the provider does not retry them; only a failure to queue (or to ask Stripe
//! what a promotion code says) is a 5xx, which the provider retries.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use rft_core::connectors::intake::{Intake, delivery_id, intake};
use rft_core::connectors::{
    ConnectorError, Provider, ProviderConversion, ProviderEvent, ProviderRefund, shopify, stripe,
};
use rft_core::ids::OrderId;
use rft_core::secrets::{SecretSet, SecretString};
use rft_core::settings::{Settings, StoreKind};

use crate::Edge;
use crate::body::{MAX_PROVIDER_BODY, read_up_to};
use crate::error::ApiError;
use crate::providers::{ProviderError, ShopifyClient, StripeClient, TIMEOUT, shopify_api, stripe_api};
use crate::signed::answer_once;

/// The store's provider as the edge meets it: the secret its webhooks are signed with and, for
/// Stripe, the API the events' references are resolved through.
#[derive(Clone)]
pub enum Connector {
    /// `store.kind = "stripe"`.
    Stripe {
        /// The endpoint's signing secret (`whsec_...`).
        webhook_secret: SecretString,
        /// Promotion codes by id, invoices by payment intent.
        api: StripeClient,
    },
    /// `store.kind = "shopify"`.
    Shopify {
        /// The webhook signing secret.
        webhook_secret: SecretString,
        /// A customer's order count, when the order itself does not say.
        api: ShopifyClient,
    },
}

impl Connector {
    /// The connector `settings` name, if its secrets are given (start-up refuses a connected
    /// store whose secrets are missing, so `None` means `store.kind = "webhooks"`).
    pub fn from_settings(settings: &Settings, secrets: &SecretSet) -> Option<Connector> {
        match settings.store.kind {
            StoreKind::Webhooks => None,
            StoreKind::Stripe => Some(Connector::Stripe {
                webhook_secret: secrets.stripe().ok()?.webhook_secret.clone(),
                api: stripe_api(settings, secrets, TIMEOUT).ok()?,
            }),
            StoreKind::Shopify => Some(Connector::Shopify {
                webhook_secret: secrets.shopify().ok()?.webhook_secret.clone(),
                api: shopify_api(settings, secrets, TIMEOUT).ok()?,
            }),
        }
    }

    fn provider(&self) -> Provider {
        match self {
            Connector::Stripe { .. } => Provider::Stripe,
            Connector::Shopify { .. } => Provider::Shopify,
        }
    }
}

/// `POST /webhooks/stripe`.
pub async fn stripe(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Body) -> Response {
    receive(&edge, Provider::Stripe, &headers, body).await
}

/// `POST /webhooks/shopify`.
pub async fn shopify(State(edge): State<Arc<Edge>>, headers: HeaderMap, body: Body) -> Response {
    receive(&edge, Provider::Shopify, &headers, body).await
}

/// The headers a provider's delivery cannot be without: one missing is refused as the
/// signature check would refuse it, whether or not this programme is connected.
fn missing_header(provider: Provider, headers: &HeaderMap) -> Option<&'static str> {
    let required: &[&'static str] = match provider {
        Provider::Stripe => &[stripe::SIGNATURE_HEADER],
        Provider::Shopify => &[shopify::HMAC_HEADER, shopify::TOPIC_HEADER, shopify::WEBHOOK_ID_HEADER],
    };
    required.iter().copied().find(|name| !headers.contains_key(*name))
}

async fn receive(edge: &Edge, provider: Provider, headers: &HeaderMap, body: Body) -> Response {
    if let Some(name) = missing_header(provider, headers) {
        let message = format!("the {name} header is missing");
        return ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message).into_response();
    }
    let Some(connector) = edge.connector.as_ref().filter(|c| c.provider() == provider) else {
        let kind = edge.settings.store.kind.as_str();
        let message = format!("this programme is not connected to {} (store.kind = \"{kind}\")", provider.as_str());
        return ApiError::new(StatusCode::NOT_FOUND, "not_connected", message).into_response();
    };
    let body = match read_up_to(body, MAX_PROVIDER_BODY).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let body = &body[..];
    let verified = match connector {
        Connector::Stripe { webhook_secret, .. } => {
            stripe::verify_and_parse(webhook_secret, headers, body, edge.clock.now())
        }
        Connector::Shopify { webhook_secret, .. } => shopify::verify_and_parse(webhook_secret, headers, body),
    };
    let event = match verified {
        Ok(event) => event,
        Err(e) => return refused(provider, &e),
    };
    let id = delivery_id(provider, event.event_id());
    let span =
        tracing::info_span!("provider_webhook", provider = provider.as_str(), delivery_id = %id, kind = event.kind());
    let handle = async move {
        match handle(edge, connector, event).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        }
    };
    tracing::Instrument::instrument(answer_once(edge, &id, true, None, handle), span).await
}

fn refused(provider: Provider, e: &ConnectorError) -> Response {
    tracing::warn!(provider = provider.as_str(), error = %e, "refused a provider webhook: {}", e.code());
    ApiError::new(e.status(), e.code(), e.to_string()).into_response()
}

async fn handle(edge: &Edge, connector: &Connector, event: ProviderEvent) -> Result<Response, ApiError> {
    let event = match (connector, event) {
        (Connector::Stripe { api, .. }, ProviderEvent::Conversion(order)) => {
            ProviderEvent::Conversion(Box::new(with_promotion_codes(api, *order).await?))
        }
        (Connector::Stripe { api, .. }, ProviderEvent::Refund(refund)) => {
            ProviderEvent::Refund(with_invoice(api, refund).await?)
        }
        (Connector::Shopify { api, .. }, ProviderEvent::Conversion(order)) => {
            ProviderEvent::Conversion(Box::new(with_order_count(api, *order).await?))
        }
        (_, event) => event,
    };
    let (queue, job) = match intake(connector.provider(), event, &edge.hasher) {
        Intake::Attribute(job) => (edge.signup_jobs.as_ref(), job),
        Intake::Reward(job) => (edge.reward_jobs.as_ref(), job),
        Intake::Ignored(reason) => {
            tracing::info!(reason, "provider event ignored");
            return Ok((StatusCode::OK, Json(json!({ "status": "ignored", "reason": reason }))).into_response());
        }
    };
    queue.send(&job).await.map_err(|e| ApiError::internal("queueing the event", &e))?;
    Ok((StatusCode::OK, Json(json!({ "status": "queued", "job": job.kind() }))).into_response())
}

/// A Stripe event names a promotion code by id; the referral code is its text.
async fn with_promotion_codes(
    api: &StripeClient,
    mut order: ProviderConversion,
) -> Result<ProviderConversion, ApiError> {
    for id in std::mem::take(&mut order.promotion_code_ids) {
        match api.retrieve_promotion_code(&id).await {
            Ok(code) => order.discount_codes.push(code.code),
            Err(e) if e.is_retryable() => return Err(unavailable(Provider::Stripe, "a promotion code", &e)),
            // Gone or refused for good: the order is attributed by its other touches.
            Err(e) => tracing::warn!(error = %e, promotion_code = id, "a promotion code could not be read"),
        }
    }
    Ok(order)
}

/// Current Shopify API versions send no order count with an order: the customer's
/// `numberOfOrders` (which counts this order) says whether they ordered before.
async fn with_order_count(api: &ShopifyClient, mut order: ProviderConversion) -> Result<ProviderConversion, ApiError> {
    let Some(customer) = order.customer_id.as_ref().filter(|_| order.earlier_orders.is_none()) else {
        return Ok(order);
    };
    match api.customer_number_of_orders(customer.as_str()).await {
        Ok(count) => order.earlier_orders = count.map(|n| n > 1),
        Err(e) if e.is_retryable() => return Err(unavailable(Provider::Shopify, "the customer's order count", &e)),
        // Refused for good (a token without read_customers): the orders the tracker has seen decide.
        Err(e) => tracing::warn!(error = %e, "the customer's order count could not be read"),
    }
    Ok(order)
}

/// A refund that names only a payment intent: its subscription's conversion is keyed by the
/// invoice it paid, which Stripe is asked for.
async fn with_invoice(api: &StripeClient, mut refund: ProviderRefund) -> Result<ProviderRefund, ApiError> {
    if !refund.needs_invoice_lookup {
        return Ok(refund);
    }
    let invoice = match api.invoice_for_payment_intent(refund.order_id.as_str()).await {
        Ok(invoice) => invoice,
        Err(e) if e.is_retryable() => return Err(unavailable(Provider::Stripe, "an invoice", &e)),
        // The refund still names its payment intent, which a one-off order is keyed by.
        Err(e) => {
            tracing::warn!(error = %e, payment_intent = refund.order_id.as_str(), "the refunded invoice could not be read");
            None
        }
    };
    if let Some(invoice) = invoice.and_then(|i| OrderId::try_from(i).ok()) {
        refund.order_aliases.push(std::mem::replace(&mut refund.order_id, invoice));
    }
    refund.needs_invoice_lookup = false;
    Ok(refund)
}

fn unavailable(provider: Provider, what: &str, e: &ProviderError) -> ApiError {
    let provider = match provider {
        Provider::Stripe => "Stripe",
        Provider::Shopify => "Shopify",
    };
    tracing::warn!(error = %e, "asking {provider} for {what}");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        format!("{provider} did not tell us {what} ({e}); the event will be retried"),
    )
}
