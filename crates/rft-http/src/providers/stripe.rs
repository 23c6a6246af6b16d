//! The Stripe API calls a connected Stripe shop needs, written against the HTTP API directly:
//! form-encoded bodies, `Authorization: Bearer <key>`, a pinned `Stripe-Version`, and an
//! `Idempotency-Key` on every POST, so a retried call returns the first call's object instead
//! of acting twice (Stripe keeps keys for at least 24 hours).
//!
//! Calls and what they return for the ledger:
//! - referrer credit: `POST /v1/customers/{id}/balance_transactions` (`amount` negative = a
//!   credit the next invoice uses) -> the balance transaction id (`cbtxn_...`);
//! - the friend's discount for code `CODE`: coupon `rft_<CODE>` (`amount_off`, `currency`,
//!   `duration=once`) and promotion code `CODE` restricted to first-time customers, after a
//!   lookup, so a second mint finds the first -> the promotion code id (`promo_...`);
//! - a referrer's single-use promotion code: a code derived from the idempotency key, limited
//!   to that customer and one redemption, on a shared coupon per amount and currency;
//! - retiring: `POST /v1/promotion_codes/{id}` with `active=false`;
//! - resolving: a promotion code by id (events name `promo_...`), and the invoice a payment
//!   intent paid (`GET /v1/invoice_payments`), for refunds on current API versions.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use rft_core::code::Code;
use rft_core::connectors::stripe::coupon_id;
use rft_core::money::Currency;
use rft_core::secrets::SecretString;

use super::{ProviderError, deterministic_code};
use crate::store_client::http_client;

/// The API version every call is pinned to (the shapes the published fixtures follow).
pub const STRIPE_VERSION: &str = "2025-09-30.clover";

const PROVIDER: &str = "stripe";

/// A customer balance credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceCredit {
    /// `cbtxn_...`: the ledger's reference.
    pub id: String,
    /// The signed amount Stripe recorded (negative: a credit).
    pub amount: i64,
    /// The customer's balance afterwards, when given.
    pub ending_balance: Option<i64>,
}

/// A coupon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coupon {
    /// The coupon id (`rft_<CODE>` for friend discounts).
    pub id: String,
    /// Whether it can still be redeemed.
    pub valid: bool,
}

/// A promotion code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromotionCode {
    /// `promo_...`: the ledger's reference.
    pub id: String,
    /// The text a customer types.
    pub code: String,
    /// Whether it can be redeemed.
    pub active: bool,
    /// The coupon behind it, when the answer names it.
    pub coupon: Option<String>,
}

/// What a new promotion code is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPromotionCode<'a> {
    /// The text customers type.
    pub code: &'a str,
    /// The coupon it redeems.
    pub coupon: &'a str,
    /// Only customers with no earlier payment may use it (the friend's discount).
    pub first_time_transaction: bool,
    /// At most this many redemptions (1 for a referrer's reward).
    pub max_redemptions: Option<u32>,
    /// Only this customer may use it.
    pub customer: Option<&'a str>,
}

/// A client for one Stripe account.
#[derive(Clone, Debug)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    key: SecretString,
}

impl StripeClient {
    /// A client for `api_base` (`https://api.stripe.com`, or a stand-in) with the account's
    /// secret or restricted key, giving up on a call after `timeout`.
    pub fn new(api_base: &Url, key: SecretString, timeout: Duration) -> Self {
        let http = http_client().timeout(timeout).build().expect("a client with a timeout builds");
        StripeClient { http, base: api_base.as_str().trim_end_matches('/').to_owned(), key }
    }

    /// Credits a customer's balance by `amount_minor` (recorded by Stripe as a negative amount).
    pub async fn credit_balance(
        &self,
        customer: &str,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
        idempotency_key: &str,
    ) -> Result<BalanceCredit, ProviderError> {
        let amount =
            i64::try_from(amount_minor).map_err(|_| ProviderError::unexpected(PROVIDER, "amount too large"))?;
        let form = [
            ("amount", format!("-{amount}")),
            ("currency", currency.as_str().to_ascii_lowercase()),
            ("description", description.to_owned()),
            ("metadata[rft_key]", idempotency_key.to_owned()),
        ];
        let path = format!("/v1/customers/{}/balance_transactions", segment(customer));
        let v = self.post(&path, &form, idempotency_key).await?;
        Ok(BalanceCredit {
            id: str_field(&v, "id")?,
            amount: v.get("amount").and_then(Value::as_i64).unwrap_or(-amount),
            ending_balance: v.get("ending_balance").and_then(Value::as_i64),
        })
    }

    /// Creates a fixed-amount, one-use-per-order coupon with a chosen id; an existing coupon
    /// with that id is fetched instead (ids are deterministic, so it is the same coupon).
    pub async fn create_coupon(
        &self,
        id: &str,
        amount_minor: u64,
        currency: &Currency,
        name: &str,
        idempotency_key: &str,
    ) -> Result<Coupon, ProviderError> {
        let form = [
            ("id", id.to_owned()),
            ("amount_off", amount_minor.to_string()),
            ("currency", currency.as_str().to_ascii_lowercase()),
            ("duration", "once".to_owned()),
            // Stripe shows the name on receipts and invoices; it holds at most 40 characters.
            ("name", name.chars().take(40).collect()),
        ];
        match self.post("/v1/coupons", &form, idempotency_key).await {
            Ok(v) => coupon(&v),
            Err(ProviderError::Status { status: 400, code: Some(code), .. }) if code == "resource_already_exists" => {
                self.get(&format!("/v1/coupons/{}", segment(id)), &[]).await.and_then(|v| coupon(&v))
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a promotion code.
    pub async fn create_promotion_code(
        &self,
        new: &NewPromotionCode<'_>,
        idempotency_key: &str,
    ) -> Result<PromotionCode, ProviderError> {
        let mut form = vec![
            ("code", new.code.to_owned()),
            ("promotion[type]", "coupon".to_owned()),
            ("promotion[coupon]", new.coupon.to_owned()),
        ];
        if new.first_time_transaction {
            form.push(("restrictions[first_time_transaction]", "true".to_owned()));
        }
        if let Some(n) = new.max_redemptions {
            form.push(("max_redemptions", n.to_string()));
        }
        if let Some(c) = new.customer {
            form.push(("customer", c.to_owned()));
        }
        let v = self.post("/v1/promotion_codes", &form, idempotency_key).await?;
        promotion_code(&v)
    }

    /// The promotion code with this text, if any (an active one first).
    pub async fn find_promotion_code(&self, code: &str) -> Result<Option<PromotionCode>, ProviderError> {
        let v = self.get("/v1/promotion_codes", &[("code", code), ("limit", "10")]).await?;
        let codes: Vec<PromotionCode> = list(&v)?.iter().map(promotion_code).collect::<Result<_, _>>()?;
        Ok(codes.iter().find(|p| p.active).or(codes.first()).cloned())
    }

    /// A promotion code by id (events name `promo_...` without its text).
    pub async fn retrieve_promotion_code(&self, id: &str) -> Result<PromotionCode, ProviderError> {
        promotion_code(&self.get(&format!("/v1/promotion_codes/{}", segment(id)), &[]).await?)
    }

    /// Deactivates a promotion code (retiring a referral code); repeating it is harmless.
    pub async fn deactivate_promotion_code(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<PromotionCode, ProviderError> {
        let form = [("active", "false".to_owned())];
        promotion_code(&self.post(&format!("/v1/promotion_codes/{}", segment(id)), &form, idempotency_key).await?)
    }

    /// The friend's discount for a referral code: coupon `rft_<CODE>` for the pinned friend
    /// terms and promotion code `CODE` for first-time customers. Looks the code up first, so a
    /// second mint (or a retry after a crash) finds the first one's code.
    pub async fn ensure_friend_discount(
        &self,
        code: &Code,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
    ) -> Result<PromotionCode, ProviderError> {
        if let Some(existing) = self.find_promotion_code(code.as_str()).await? {
            return Ok(existing);
        }
        let coupon = coupon_id(code);
        self.create_coupon(&coupon, amount_minor, currency, description, &format!("rft-mint:{code}:coupon")).await?;
        let new = NewPromotionCode {
            code: code.as_str(),
            coupon: &coupon,
            first_time_transaction: true,
            max_redemptions: None,
            customer: None,
        };
        match self.create_promotion_code(&new, &format!("rft-mint:{code}:promotion_code")).await {
            Ok(p) => Ok(p),
            // Another mint created it between our lookup and our create.
            Err(e @ ProviderError::Status { status: 400, .. }) => {
                self.find_promotion_code(code.as_str()).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// A referrer's reward as a single-use promotion code only `customer` can redeem. The code
    /// is derived from `idempotency_key` (`<referral_id>:<side>`), so a retry finds it.
    pub async fn referrer_promotion_code(
        &self,
        customer: &str,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
        idempotency_key: &str,
    ) -> Result<PromotionCode, ProviderError> {
        self.single_use_promotion_code(Some(customer), amount_minor, currency, description, idempotency_key).await
    }

    /// A reward as a single-use promotion code, limited to `customer` when they are a Stripe
    /// customer (a guest, known by email, gets a code anyone could redeem once, sent only to
    /// them). The code is derived from `idempotency_key`, so a retry finds it.
    pub async fn single_use_promotion_code(
        &self,
        customer: Option<&str>,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
        idempotency_key: &str,
    ) -> Result<PromotionCode, ProviderError> {
        let code = deterministic_code("RFT", idempotency_key);
        if let Some(existing) = self.find_promotion_code(&code).await? {
            return Ok(existing);
        }
        // One coupon per reward value, shared by every referrer's code of that value.
        let coupon = format!("rft_reward_{amount_minor}_{}", currency.as_str().to_ascii_lowercase());
        // The key names the coupon's whole form: a reward of the same value under another
        // description must not reuse a key Stripe saw with other parameters (idempotency_error).
        let key = format!("rft-coupon:{coupon}:{}", deterministic_code("", description));
        self.create_coupon(&coupon, amount_minor, currency, description, &key).await?;
        let new = NewPromotionCode {
            code: &code,
            coupon: &coupon,
            first_time_transaction: false,
            max_redemptions: Some(1),
            customer,
        };
        self.create_promotion_code(&new, &format!("{idempotency_key}:promotion_code")).await
    }

    /// The invoice a payment intent paid, if it paid one.
    pub async fn invoice_for_payment_intent(&self, payment_intent: &str) -> Result<Option<String>, ProviderError> {
        let query = [("payment[type]", "payment_intent"), ("payment[payment_intent]", payment_intent), ("limit", "1")];
        let v = self.get("/v1/invoice_payments", &query).await?;
        Ok(list(&v)?.first().and_then(|p| p.get("invoice")).and_then(id_of))
    }

    async fn post(&self, path: &str, form: &[(&str, String)], idempotency_key: &str) -> Result<Value, ProviderError> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", STRIPE_VERSION)
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ProviderError> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ProviderError::unexpected(PROVIDER, e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.http.get(url).bearer_auth(self.key.expose()).header("Stripe-Version", STRIPE_VERSION);
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let response = request.send().await.map_err(|e| ProviderError::from_reqwest(PROVIDER, e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ProviderError::from_reqwest(PROVIDER, e))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return if body.is_object() {
                Ok(body)
            } else {
                Err(ProviderError::unexpected(PROVIDER, "the answer is not a JSON object"))
            };
        }
        let error = body.get("error");
        let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str).map(str::to_owned);
        Err(ProviderError::Status {
            provider: PROVIDER,
            status: status.as_u16(),
            code: field("code"),
            message: field("message").unwrap_or_else(|| text.chars().take(200).collect()),
        })
    }
}

/// A path segment: ids from Stripe are `[A-Za-z0-9_]`, but a corrupted id must not become a
/// different path.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn str_field(v: &Value, name: &str) -> Result<String, ProviderError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::unexpected(PROVIDER, format!("the answer has no {name}")))
}

fn list(v: &Value) -> Result<&Vec<Value>, ProviderError> {
    v.get("data").and_then(Value::as_array).ok_or_else(|| ProviderError::unexpected(PROVIDER, "the list has no data"))
}

fn coupon(v: &Value) -> Result<Coupon, ProviderError> {
    Ok(Coupon { id: str_field(v, "id")?, valid: v.get("valid").and_then(Value::as_bool).unwrap_or(true) })
}

fn promotion_code(v: &Value) -> Result<PromotionCode, ProviderError> {
    let coupon = v.get("promotion").and_then(|p| p.get("coupon")).or_else(|| v.get("coupon")).and_then(id_of);
    Ok(PromotionCode {
        id: str_field(v, "id")?,
        code: str_field(v, "code")?,
        active: v.get("active").and_then(Value::as_bool).unwrap_or(false),
        coupon,
    })
}
