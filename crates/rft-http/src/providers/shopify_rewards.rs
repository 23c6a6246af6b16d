//! The reward port and the discount port for a Shopify shop (Admin GraphQL API).
//!
//! A side's reward (the referrer's, and the friend's when their order did not already use the
//! code) is, per `store.shopify.referrer_reward`:
//! - `store_credit`: `storeCreditAccountCredit` on the customer's account, referenced by the
//!   transaction's id. Shopify takes no idempotency key for it and a credit cannot be looked up
//!   by anything of ours, so this client says it is not idempotent: the `fulfil` job claims the
//!   row before each call and parks it, rather than calling again, when a call's outcome is
//!   unknown. A customer id that is not a Shopify customer's (a guest, known by email) has no
//!   account to credit, so they get a code instead;
//! - `discount_code`: a single-use code derived from `<referral_id>:<side>` (`RFT` + 12
//!   characters), looked up before it is created, limited to the customer, referenced by its
//!   discount node id; its text reaches them in their thank-you.

use async_trait::async_trait;

use rft_core::Clock;
use rft_core::code::Code;
use rft_core::money::Terms;
use rft_core::ports::{DiscountError, Discounts, FulfilError, FulfilOutcome, FulfilmentRequest, Issued, RewardClient};
use rft_core::settings::ShopifyReferrerReward;
use rft_core::time::SystemClock;

use super::ShopifyClient;
use super::shopify::Eligibility;

/// Whether `id` is a Shopify customer's (numeric, or already a customer gid).
fn shopify_customer(id: &str) -> Option<&str> {
    let numeric = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    (numeric || id.starts_with("gid://shopify/Customer/")).then_some(id)
}

/// A discount's `startsAt`: now.
fn starts_now() -> String {
    SystemClock.now().to_rfc3339()
}

/// Rewards through the Shopify Admin API.
#[derive(Clone, Debug)]
pub struct ShopifyRewards {
    client: ShopifyClient,
    method: ShopifyReferrerReward,
}

impl ShopifyRewards {
    /// Rewards paid by `method` through `client`.
    pub fn new(client: ShopifyClient, method: ShopifyReferrerReward) -> Self {
        ShopifyRewards { client, method }
    }
}

#[async_trait]
impl RewardClient for ShopifyRewards {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        let reward = &request.reward;
        let customer = shopify_customer(request.customer_id.as_str());
        let issued = match (self.method, customer) {
            (ShopifyReferrerReward::StoreCredit, Some(customer)) => {
                let credit = self
                    .client
                    .credit_store_credit(customer, reward.amount_minor, &reward.currency)
                    .await
                    .map_err(|e| e.into_fulfil_error())?;
                Issued { reference: credit.transaction_id, code: None }
            }
            _ => {
                let eligibility = customer.map_or(Eligibility::Once, Eligibility::Customer);
                let discount = self
                    .client
                    .single_use_discount(
                        &eligibility,
                        reward.amount_minor,
                        &reward.currency,
                        &reward.description,
                        &request.idempotency_key(),
                        &starts_now(),
                    )
                    .await
                    .map_err(|e| e.into_fulfil_error())?;
                Issued { reference: discount.id, code: Some(discount.code) }
            }
        };
        Ok(FulfilOutcome::Issued(issued))
    }

    fn idempotent(&self) -> bool {
        self.method != ShopifyReferrerReward::StoreCredit
    }
}

/// The friend's discount: a fixed-amount code discount whose code is the referral code, on the
/// whole order, once per customer; retiring deactivates it.
#[derive(Clone, Debug)]
pub struct ShopifyDiscounts {
    client: ShopifyClient,
}

impl ShopifyDiscounts {
    /// Discounts through `client`.
    pub fn new(client: ShopifyClient) -> Self {
        ShopifyDiscounts { client }
    }
}

#[async_trait]
impl Discounts for ShopifyDiscounts {
    fn connected(&self) -> bool {
        true
    }

    async fn ensure_for(&self, code: &Code, terms: &Terms) -> Result<Option<String>, DiscountError> {
        let friend = &terms.friend_reward;
        let title = format!("Referral {code}: {}", friend.description);
        let discount = self
            .client
            .ensure_discount(
                code.as_str(),
                &title,
                friend.amount_minor,
                &friend.currency,
                &Eligibility::Everyone,
                &starts_now(),
            )
            .await
            .map_err(|e| e.into_discount_error(code, "created"))?;
        Ok(Some(discount.id))
    }

    async fn deactivate(&self, code: &Code) -> Result<(), DiscountError> {
        let found = self.client.find_discount(code.as_str()).await;
        match found.map_err(|e| e.into_discount_error(code, "deactivated"))? {
            Some(d) if d.status.as_deref() != Some("EXPIRED") => {
                self.client.deactivate_discount(&d.id).await.map_err(|e| e.into_discount_error(code, "deactivated"))?;
                Ok(())
            }
            // Never made, or expired already.
            _ => Ok(()),
        }
    }
}
