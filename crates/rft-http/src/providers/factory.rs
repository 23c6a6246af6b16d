//! The one place that picks the adapters for `store.kind`: both wirings (rft-local's system,
//! rft-aws's functions) build their reward client and their discounts here.

use std::sync::Arc;
use std::time::Duration;

use rft_core::ports::{Discounts, NoDiscounts, RewardClient};
use rft_core::secrets::{SecretError, SecretSet};
use rft_core::settings::{Settings, StoreKind};

use super::shopify_rewards::{ShopifyDiscounts, ShopifyRewards};
use super::stripe_rewards::{StripeDiscounts, StripeRewards};
use super::{ShopifyClient, StripeClient};
use crate::store_client::HttpRewardClient;

/// Why the adapters for the store could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// A secret the store's kind needs is missing.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The settings lack the section for the store's kind (validation prevents it).
    #[error("store.kind = \"{0}\" but its settings section is missing")]
    Section(&'static str),
}

/// How long one reward or discount call may take for a store of `kind`: the store's own
/// endpoint is one call; a provider's reward may take three (a lookup, a coupon, a code).
pub fn timeout_for(kind: StoreKind) -> Duration {
    match kind {
        StoreKind::Webhooks => crate::store_client::TIMEOUT,
        StoreKind::Stripe | StoreKind::Shopify => super::TIMEOUT,
    }
}

/// The Stripe API client for the store's `[store.stripe]` and keys.
pub fn stripe_api(settings: &Settings, secrets: &SecretSet, timeout: Duration) -> Result<StripeClient, FactoryError> {
    let stripe = settings.store.stripe.as_ref().ok_or(FactoryError::Section("stripe"))?;
    Ok(StripeClient::new(&stripe.api_base, secrets.stripe()?.api_key.clone(), timeout))
}

/// The Shopify Admin API client for the store's `[store.shopify]` and token.
pub fn shopify_api(settings: &Settings, secrets: &SecretSet, timeout: Duration) -> Result<ShopifyClient, FactoryError> {
    let shop = settings.store.shopify.as_ref().ok_or(FactoryError::Section("shopify"))?;
    Ok(ShopifyClient::new(&shop.api_base, &shop.api_version, secrets.shopify()?.admin_token.clone(), timeout))
}

/// The reward client for the store: the signed `reward_url` client (`webhooks`), or the
/// Stripe or Shopify API. Each call gives up after `timeout`.
pub fn reward_client(
    settings: &Settings,
    secrets: &SecretSet,
    timeout: Duration,
) -> Result<Arc<dyn RewardClient>, FactoryError> {
    let store = &settings.store;
    Ok(match store.kind {
        StoreKind::Webhooks => Arc::new(HttpRewardClient::new(
            store.reward_url.as_ref().map_or("", |u| u.as_str()),
            secrets.store_api_key.clone(),
            Some(secrets.store_signing()?),
            timeout,
        )),
        StoreKind::Stripe => {
            let reward = store.stripe.as_ref().ok_or(FactoryError::Section("stripe"))?.referrer_reward;
            Arc::new(StripeRewards::new(stripe_api(settings, secrets, timeout)?, reward))
        }
        StoreKind::Shopify => {
            let reward = store.shopify.as_ref().ok_or(FactoryError::Section("shopify"))?.referrer_reward;
            Arc::new(ShopifyRewards::new(shopify_api(settings, secrets, timeout)?, reward))
        }
    })
}

/// The friend's discounts for the store: none for `webhooks` (its checkout applies the friend's
/// reward itself), Stripe promotion codes or Shopify discount codes otherwise.
pub fn discounts(
    settings: &Settings,
    secrets: &SecretSet,
    timeout: Duration,
) -> Result<Arc<dyn Discounts>, FactoryError> {
    let store = &settings.store;
    Ok(match store.kind {
        StoreKind::Webhooks => Arc::new(NoDiscounts),
        StoreKind::Stripe => Arc::new(StripeDiscounts::new(stripe_api(settings, secrets, timeout)?)),
        StoreKind::Shopify => Arc::new(ShopifyDiscounts::new(shopify_api(settings, secrets, timeout)?)),
    })
}
