//! The Shopify Admin GraphQL calls a connected shop needs: `POST {api_base}/admin/api/
//! {version}/graphql.json` with `X-Shopify-Access-Token`. Shopify takes no idempotency key for
//! these mutations, so every discount is created under a deterministic code that is looked up
//! first: a retry, or a second concurrent call, finds the first one's discount. Store credit
//! cannot be looked up that way (a credit carries no reference of ours), so a credit whose
//! answer was lost may have landed: [`super::ProviderError::outcome_unknown`] says so, and the
//! ledger's lease is what keeps a retry from running while the first call might still land.
//!
//! Access scopes: `write_discounts` (and `read_discounts`) for the discount calls,
//! `write_store_credit_account_transactions` (and `read_store_credit_account_transactions`) for
//! store credit, `read_customers` for a customer's order count.

use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

use rft_core::money::Currency;
use rft_core::secrets::SecretString;

use super::{ProviderError, deterministic_code, major_units};
use crate::store_client::http_client;

const PROVIDER: &str = "shopify";

/// A store credit transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreCredit {
    /// `gid://shopify/StoreCreditAccountCreditTransaction/...`: the ledger's reference.
    pub transaction_id: String,
    /// The store credit account credited.
    pub account_id: Option<String>,
}

/// A code discount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discount {
    /// `gid://shopify/DiscountCodeNode/...`: the ledger's reference.
    pub id: String,
    /// The code customers type.
    pub code: String,
    /// `ACTIVE`, `EXPIRED` or `SCHEDULED`, when the answer says.
    pub status: Option<String>,
}

/// Who may use a new discount code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eligibility<'a> {
    /// Anyone, once each (the friend's discount: the referral code itself).
    Everyone,
    /// Only this customer (numeric id), once (a referrer's reward).
    Customer(&'a str),
    /// Anyone, once in all (a reward for a guest, known by email: the code is sent only to them).
    Once,
}

/// A client for one shop.
#[derive(Clone, Debug)]
pub struct ShopifyClient {
    http: reqwest::Client,
    endpoint: String,
    token: SecretString,
}

const FIND_DISCOUNT: &str = "query FindDiscount($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount { ... on DiscountCodeBasic { status codes(first: 1) { nodes { code } } } }
  }
}";

const CREATE_DISCOUNT: &str = "mutation CreateDiscount($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { status } } }
    userErrors { field code message }
  }
}";

const DEACTIVATE_DISCOUNT: &str = "mutation DeactivateDiscount($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode { id codeDiscount { ... on DiscountCodeBasic { status } } }
    userErrors { field code message }
  }
}";

const CREDIT_STORE_CREDIT: &str = "mutation CreditStoreCredit($id: ID!, $creditInput: StoreCreditAccountCreditInput!) {
  storeCreditAccountCredit(id: $id, creditInput: $creditInput) {
    storeCreditAccountTransaction { id account { id } }
    userErrors { field code message }
  }
}";

const CUSTOMER_ORDERS: &str = "query CustomerOrders($id: ID!) {
  customer(id: $id) { numberOfOrders }
}";

impl ShopifyClient {
    /// A client for the shop's Admin API at `api_base` and `api_version`, with the custom
    /// app's access token, giving up on a call after `timeout`.
    pub fn new(api_base: &Url, api_version: &str, token: SecretString, timeout: Duration) -> Self {
        let http = http_client().timeout(timeout).build().expect("a client with a timeout builds");
        let endpoint = format!("{}/admin/api/{api_version}/graphql.json", api_base.as_str().trim_end_matches('/'));
        ShopifyClient { http, endpoint, token }
    }

    /// The discount with this code, if any.
    pub async fn find_discount(&self, code: &str) -> Result<Option<Discount>, ProviderError> {
        let data = self.call(FIND_DISCOUNT, json!({ "code": code })).await?;
        let Some(node) = data.get("codeDiscountNodeByCode").filter(|n| !n.is_null()) else { return Ok(None) };
        Ok(Some(discount(node, code)?))
    }

    /// Creates a fixed-amount code discount for the whole order, usable once per customer.
    pub async fn create_discount(
        &self,
        code: &str,
        title: &str,
        amount_minor: u64,
        currency: &Currency,
        eligibility: &Eligibility<'_>,
        starts_at: &str,
    ) -> Result<Discount, ProviderError> {
        let context = match eligibility {
            Eligibility::Everyone | Eligibility::Once => json!({ "all": "ALL" }),
            Eligibility::Customer(id) => json!({ "customers": { "add": [customer_gid(id)] } }),
        };
        let input = json!({
            "title": title,
            "code": code,
            "startsAt": starts_at,
            "context": context,
            "customerGets": {
                "value": { "discountAmount": { "amount": major_units(amount_minor, currency), "appliesOnEachItem": false } },
                "items": { "all": true },
            },
            "appliesOncePerCustomer": true,
            "usageLimit": match eligibility { Eligibility::Everyone => Value::Null, Eligibility::Customer(_) | Eligibility::Once => json!(1) },
        });
        let data = self.call(CREATE_DISCOUNT, json!({ "basicCodeDiscount": input })).await?;
        let payload = field(&data, "discountCodeBasicCreate")?;
        user_errors(payload)?;
        discount(field(payload, "codeDiscountNode")?, code)
    }

    /// The discount under `code`, created if there is none. A create that loses a race (the
    /// code is taken) looks the code up again, so two concurrent calls end with one discount.
    pub async fn ensure_discount(
        &self,
        code: &str,
        title: &str,
        amount_minor: u64,
        currency: &Currency,
        eligibility: &Eligibility<'_>,
        starts_at: &str,
    ) -> Result<Discount, ProviderError> {
        if let Some(existing) = self.find_discount(code).await? {
            return Ok(existing);
        }
        match self.create_discount(code, title, amount_minor, currency, eligibility, starts_at).await {
            Ok(d) => Ok(d),
            Err(e @ ProviderError::Rejected { .. }) => self.find_discount(code).await?.ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// A referrer's single-use discount code, derived from `idempotency_key`
    /// (`<referral_id>:<side>`), created once.
    pub async fn referrer_discount(
        &self,
        customer_id: &str,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
        idempotency_key: &str,
        starts_at: &str,
    ) -> Result<Discount, ProviderError> {
        self.single_use_discount(
            &Eligibility::Customer(customer_id),
            amount_minor,
            currency,
            description,
            idempotency_key,
            starts_at,
        )
        .await
    }

    /// A reward as a single-use discount code for `eligibility` (a customer, or anyone once),
    /// derived from `idempotency_key` (`<referral_id>:<side>`), created once.
    pub async fn single_use_discount(
        &self,
        eligibility: &Eligibility<'_>,
        amount_minor: u64,
        currency: &Currency,
        description: &str,
        idempotency_key: &str,
        starts_at: &str,
    ) -> Result<Discount, ProviderError> {
        let code = deterministic_code("RFT", idempotency_key);
        let title = format!("Referral reward {code}: {description}");
        self.ensure_discount(&code, &title, amount_minor, currency, eligibility, starts_at).await
    }

    /// Deactivates a discount (retiring a referral code); repeating it is harmless.
    pub async fn deactivate_discount(&self, id: &str) -> Result<Discount, ProviderError> {
        let data = self.call(DEACTIVATE_DISCOUNT, json!({ "id": id })).await?;
        let payload = field(&data, "discountCodeDeactivate")?;
        user_errors(payload)?;
        let node = field(payload, "codeDiscountNode")?;
        discount(node, "")
    }

    /// Adds store credit to a customer (numeric id). Not idempotent at Shopify's side: see the
    /// module notes.
    pub async fn credit_store_credit(
        &self,
        customer_id: &str,
        amount_minor: u64,
        currency: &Currency,
    ) -> Result<StoreCredit, ProviderError> {
        let variables = json!({
            "id": customer_gid(customer_id),
            "creditInput": { "creditAmount": { "amount": major_units(amount_minor, currency), "currencyCode": currency.as_str() } },
        });
        let data = self.call(CREDIT_STORE_CREDIT, variables).await?;
        let payload = field(&data, "storeCreditAccountCredit")?;
        user_errors(payload)?;
        let tx = field(payload, "storeCreditAccountTransaction")?;
        Ok(StoreCredit {
            transaction_id: str_at(tx, "id")?,
            account_id: tx.get("account").and_then(|a| a.get("id")).and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// How many orders the customer has (this one included), for "not a new customer".
    pub async fn customer_number_of_orders(&self, customer_id: &str) -> Result<Option<u64>, ProviderError> {
        let data = self.call(CUSTOMER_ORDERS, json!({ "id": customer_gid(customer_id) })).await?;
        let Some(customer) = data.get("customer").filter(|c| !c.is_null()) else { return Ok(None) };
        // `numberOfOrders` is an UnsignedInt64, which GraphQL sends as a string.
        let n = match customer.get("numberOfOrders") {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| ProviderError::unexpected(PROVIDER, "the customer has no numberOfOrders"))
    }

    async fn call(&self, query: &str, variables: Value) -> Result<Value, ProviderError> {
        let response = self
            .http
            .post(&self.endpoint)
            .header("X-Shopify-Access-Token", self.token.expose())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| ProviderError::from_reqwest(PROVIDER, e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ProviderError::from_reqwest(PROVIDER, e))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let first_error = body.get("errors").and_then(|e| match e {
            Value::Array(list) => list.first().cloned(),
            Value::String(s) => Some(json!({ "message": s })),
            _ => None,
        });
        let code = first_error
            .as_ref()
            .and_then(|e| e.get("extensions"))
            .and_then(|x| x.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = first_error
            .as_ref()
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| text.chars().take(200).collect());
        if !status.is_success() {
            return Err(ProviderError::Status { provider: PROVIDER, status: status.as_u16(), code, message });
        }
        if first_error.is_some() {
            return Err(ProviderError::Rejected { provider: PROVIDER, code, message });
        }
        body.get("data")
            .filter(|d| d.is_object())
            .cloned()
            .ok_or_else(|| ProviderError::unexpected(PROVIDER, "the answer has no data"))
    }
}

/// The GraphQL id of a customer given its numeric id (ids already in gid form pass through).
pub fn customer_gid(id: &str) -> String {
    if id.starts_with("gid://") { id.to_owned() } else { format!("gid://shopify/Customer/{id}") }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, ProviderError> {
    v.get(name)
        .filter(|x| !x.is_null())
        .ok_or_else(|| ProviderError::unexpected(PROVIDER, format!("the answer has no {name}")))
}

fn str_at(v: &Value, name: &str) -> Result<String, ProviderError> {
    field(v, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ProviderError::unexpected(PROVIDER, format!("{name} is not text")))
}

fn user_errors(payload: &Value) -> Result<(), ProviderError> {
    let Some(first) = payload.get("userErrors").and_then(Value::as_array).and_then(|e| e.first()) else {
        return Ok(());
    };
    let message = first.get("message").and_then(Value::as_str).unwrap_or("refused").to_owned();
    let path = first
        .get("field")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."))
        .filter(|p| !p.is_empty());
    Err(ProviderError::Rejected {
        provider: PROVIDER,
        code: first.get("code").and_then(Value::as_str).map(str::to_owned),
        message: match path {
            Some(p) => format!("{p}: {message}"),
            None => message,
        },
    })
}

fn discount(node: &Value, code: &str) -> Result<Discount, ProviderError> {
    let inner = node.get("codeDiscount");
    let listed = inner
        .and_then(|d| d.get("codes"))
        .and_then(|c| c.get("nodes"))
        .and_then(Value::as_array)
        .and_then(|n| n.first())
        .and_then(|n| n.get("code"))
        .and_then(Value::as_str);
    Ok(Discount {
        id: str_at(node, "id")?,
        code: listed.unwrap_or(code).to_owned(),
        status: inner.and_then(|d| d.get("status")).and_then(Value::as_str).map(str::to_owned),
    })
}
