//! The Stripe and Shopify clients against their stand-ins: the exact method, path, headers,
//! form fields or GraphQL variables of every call, idempotency under retries and races, and
//! which failures say a retry can help.

use std::time::Duration;

use rft_core::code::Code;
use rft_core::money::Currency;
use rft_core::secrets::SecretString;
use rft_http::providers::shopify::{Eligibility, ShopifyClient};
use rft_http::providers::stripe::{NewPromotionCode, STRIPE_VERSION, StripeClient};
use rft_http::providers::{ProviderError, deterministic_code};
use rft_tests::provider_standins::{SHOPIFY_TOKEN, STRIPE_KEY, ShopifyStandin, StripeStandin};
use serde_json::json;

fn gbp() -> Currency {
    Currency::parse("GBP").unwrap()
}

fn stripe(standin: &StripeStandin) -> StripeClient {
    StripeClient::new(&standin.url(), SecretString::new(STRIPE_KEY.into()), Duration::from_millis(800))
}

fn shopify(standin: &ShopifyStandin) -> ShopifyClient {
    ShopifyClient::new(&standin.url(), "2025-10", SecretString::new(SHOPIFY_TOKEN.into()), Duration::from_millis(800))
}

const STARTS: &str = "2026-01-01T00:00:00Z";

// ---- Stripe ------------------------------------------------------------------------------

#[tokio::test]
async fn a_balance_credit_is_one_form_post_with_the_key_version_and_idempotency_key() {
    let s = StripeStandin::start().await;
    let credit = stripe(&s)
        .credit_balance("cus_QXg1o8vcGmoR32", 1000, &gbp(), "£10 off your next box", "rf_1:referrer")
        .await
        .unwrap();
    assert!(credit.id.starts_with("cbtxn_"));
    assert_eq!((credit.amount, credit.ending_balance), (-1000, Some(-1000)));
    let requests = s.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/customers/cus_QXg1o8vcGmoR32/balance_transactions"));
    assert_eq!(r.header("authorization"), Some(format!("Bearer {STRIPE_KEY}").as_str()));
    assert_eq!(r.header("stripe-version"), Some(STRIPE_VERSION));
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(r.idempotency_key(), Some("rf_1:referrer"));
    assert_eq!(
        r.form,
        [
            ("amount".to_owned(), "-1000".to_owned()),
            ("currency".to_owned(), "gbp".to_owned()),
            ("description".to_owned(), "£10 off your next box".to_owned()),
            ("metadata[rft_key]".to_owned(), "rf_1:referrer".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_retried_credit_under_its_key_credits_once() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    // The first call lands but its answer is lost: the client times out.
    s.faults.lose_next_answer(Duration::from_secs(2));
    let lost = client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_2:referrer").await.unwrap_err();
    assert!(lost.is_retryable() && lost.outcome_unknown(), "{lost:?}");
    let again = client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_2:referrer").await.unwrap();
    let third = client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_2:referrer").await.unwrap();
    assert_eq!(again, third);
    assert_eq!(s.balance_transactions().len(), 1, "one credit for three calls");
    assert!(s.requests().iter().all(|r| r.idempotency_key() == Some("rf_2:referrer")));
}

#[tokio::test]
async fn outages_and_throttling_are_retryable_and_validation_is_not() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    for status in [500, 503, 429] {
        s.faults.fail_next(1, status);
        let e = client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_3:referrer").await.unwrap_err();
        assert!(e.is_retryable(), "{status}: {e:?}");
        assert!(!e.outcome_unknown());
    }
    s.faults.stall_next(1, Duration::from_secs(2));
    let e = client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_3:referrer").await.unwrap_err();
    assert!(matches!(e, ProviderError::Timeout { .. }), "{e:?}");
    assert!(client.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_3:referrer").await.is_ok());
    // The same key with other parameters is Stripe's idempotency_error: a bug, not an outage.
    let e = client.credit_balance("cus_1", 2500, &gbp(), "£25", "rf_3:referrer").await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Status { status: 400, code: Some(c), .. } if c == "idempotency_error"),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let bad_key =
        StripeClient::new(&s.url(), SecretString::new("sk_test_wrong_wrong_wrong".into()), Duration::from_secs(1));
    let e = bad_key.credit_balance("cus_1", 1000, &gbp(), "£10", "rf_4:referrer").await.unwrap_err();
    assert!(matches!(e, ProviderError::Status { status: 401, .. }) && !e.is_retryable());
    assert_eq!(s.balance_transactions().len(), 1);
}

#[tokio::test]
async fn the_friend_discount_is_coupon_rft_code_and_promotion_code_code_once() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    let code = Code::parse("7QK2A9").unwrap();
    let promo = client.ensure_friend_discount(&code, 1000, &gbp(), "£10 off your first box").await.unwrap();
    assert_eq!((promo.code.as_str(), promo.active, promo.coupon.as_deref()), ("7QK2A9", true, Some("rft_7QK2A9")));
    let requests = s.requests();
    let shape: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(shape, [("GET", "/v1/promotion_codes"), ("POST", "/v1/coupons"), ("POST", "/v1/promotion_codes")]);
    assert_eq!(requests[0].query, [("code".to_owned(), "7QK2A9".to_owned()), ("limit".to_owned(), "10".to_owned())]);
    let coupon = &requests[1];
    assert_eq!(coupon.idempotency_key(), Some("rft-mint:7QK2A9:coupon"));
    for (k, v) in [
        ("id", "rft_7QK2A9"),
        ("amount_off", "1000"),
        ("currency", "gbp"),
        ("duration", "once"),
        ("name", "£10 off your first box"),
    ] {
        assert_eq!(coupon.field(k), Some(v), "{k}");
    }
    let p = &requests[2];
    assert_eq!(p.idempotency_key(), Some("rft-mint:7QK2A9:promotion_code"));
    for (k, v) in [
        ("code", "7QK2A9"),
        ("promotion[type]", "coupon"),
        ("promotion[coupon]", "rft_7QK2A9"),
        ("restrictions[first_time_transaction]", "true"),
    ] {
        assert_eq!(p.field(k), Some(v), "{k}");
    }
    assert_eq!(p.field("max_redemptions"), None);
    // A second mint finds it and creates nothing.
    let again = client.ensure_friend_discount(&code, 1000, &gbp(), "£10 off your first box").await.unwrap();
    assert_eq!(again, promo);
    assert_eq!((s.coupons().len(), s.promotion_codes().len()), (1, 1));
}

#[tokio::test]
async fn concurrent_mints_make_one_discount() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    let code = Code::parse("ABC234").unwrap();
    let results = futures_join(&client, &code).await;
    let ids: Vec<String> = results.into_iter().map(|r| r.unwrap().id).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!((s.coupons().len(), s.promotion_codes().len()), (1, 1));
}

async fn futures_join(
    client: &StripeClient,
    code: &Code,
) -> Vec<Result<rft_http::providers::stripe::PromotionCode, ProviderError>> {
    let gbp = gbp();
    let a = client.ensure_friend_discount(code, 500, &gbp, "£5 off");
    let b = client.ensure_friend_discount(code, 500, &gbp, "£5 off");
    let c = client.ensure_friend_discount(code, 500, &gbp, "£5 off");
    let (a, b, c) = tokio::join!(a, b, c);
    vec![a, b, c]
}

#[tokio::test]
async fn retiring_deactivates_the_promotion_code() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    let promo = client.ensure_friend_discount(&Code::parse("7QK2A9").unwrap(), 1000, &gbp(), "£10").await.unwrap();
    let off = client.deactivate_promotion_code(&promo.id, "rft-retire:7QK2A9").await.unwrap();
    assert!(!off.active);
    let r = s.requests().pop().unwrap();
    assert_eq!((r.method.as_str(), r.path.clone()), ("POST", format!("/v1/promotion_codes/{}", promo.id)));
    assert_eq!((r.field("active"), r.idempotency_key()), (Some("false"), Some("rft-retire:7QK2A9")));
    assert!(!client.find_promotion_code("7QK2A9").await.unwrap().unwrap().active);
    assert_eq!(client.retrieve_promotion_code(&promo.id).await.unwrap().code, "7QK2A9");
}

#[tokio::test]
async fn a_referrers_promotion_code_is_single_use_theirs_and_found_on_retry() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    let p = client.referrer_promotion_code("cus_dan", 1000, &gbp(), "£10 off", "rf_5:referrer").await.unwrap();
    assert_eq!(p.code, deterministic_code("RFT", "rf_5:referrer"));
    let create = s.requests().into_iter().rfind(|r| r.method == "POST" && r.path == "/v1/promotion_codes").unwrap();
    for (k, v) in [("max_redemptions", "1"), ("customer", "cus_dan"), ("promotion[coupon]", "rft_reward_1000_gbp")] {
        assert_eq!(create.field(k), Some(v), "{k}");
    }
    assert_eq!(create.field("restrictions[first_time_transaction]"), None);
    assert_eq!(create.idempotency_key(), Some("rf_5:referrer:promotion_code"));
    let again = client.referrer_promotion_code("cus_dan", 1000, &gbp(), "£10 off", "rf_5:referrer").await.unwrap();
    assert_eq!(again, p);
    // Another referral of the same value shares the coupon.
    client.referrer_promotion_code("cus_ann", 1000, &gbp(), "£10 off", "rf_6:referrer").await.unwrap();
    assert_eq!((s.coupons().len(), s.promotion_codes().len()), (1, 2));
}

#[tokio::test]
async fn a_coupon_that_exists_is_fetched_not_duplicated() {
    let s = StripeStandin::start().await;
    let client = stripe(&s);
    client.create_coupon("rft_XYZ789", 1000, &gbp(), "£10", "k1").await.unwrap();
    let again = client.create_coupon("rft_XYZ789", 1000, &gbp(), "£10", "k2").await.unwrap();
    assert_eq!(again.id, "rft_XYZ789");
    let last = s.requests().pop().unwrap();
    assert_eq!((last.method.as_str(), last.path.as_str()), ("GET", "/v1/coupons/rft_XYZ789"));
    let taken = client
        .create_promotion_code(
            &NewPromotionCode {
                code: "XYZ789",
                coupon: "rft_nope",
                first_time_transaction: true,
                max_redemptions: None,
                customer: None,
            },
            "k3",
        )
        .await
        .unwrap_err();
    assert!(!taken.is_retryable(), "{taken:?}");
}

#[tokio::test]
async fn a_payment_intent_resolves_to_the_invoice_it_paid() {
    let s = StripeStandin::start().await;
    s.add_invoice_payment("pi_sub", "in_1Pgc6tB7WZ01zgkWu9fdqL6I");
    let client = stripe(&s);
    assert_eq!(
        client.invoice_for_payment_intent("pi_sub").await.unwrap().as_deref(),
        Some("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
    );
    assert_eq!(client.invoice_for_payment_intent("pi_one_off").await.unwrap(), None);
    let r = s.requests().pop().unwrap();
    assert_eq!(r.path, "/v1/invoice_payments");
    assert!(r.query.contains(&("payment[type]".to_owned(), "payment_intent".to_owned())));
    assert!(r.query.contains(&("payment[payment_intent]".to_owned(), "pi_one_off".to_owned())));
}

// ---- Shopify -----------------------------------------------------------------------------

#[tokio::test]
async fn the_friend_discount_is_looked_up_then_created_with_the_documented_input() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    let d = client
        .ensure_discount(
            "7QK2A9",
            "Referral 7QK2A9: £10 off your first box",
            1000,
            &gbp(),
            &Eligibility::Everyone,
            STARTS,
        )
        .await
        .unwrap();
    assert!(d.id.starts_with("gid://shopify/DiscountCodeNode/"));
    let requests = s.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/admin/api/2025-10/graphql.json"));
        assert_eq!(r.header("x-shopify-access-token"), Some(SHOPIFY_TOKEN));
    }
    assert!(requests[0].graphql().contains("codeDiscountNodeByCode(code: $code)"));
    assert_eq!(requests[0].variables(), json!({ "code": "7QK2A9" }));
    assert!(requests[1].graphql().contains("discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount)"));
    assert_eq!(
        requests[1].variables(),
        json!({ "basicCodeDiscount": {
            "title": "Referral 7QK2A9: £10 off your first box",
            "code": "7QK2A9",
            "startsAt": STARTS,
            "context": { "all": "ALL" },
            "customerGets": { "value": { "discountAmount": { "amount": "10.00", "appliesOnEachItem": false } }, "items": { "all": true } },
            "appliesOncePerCustomer": true,
            "usageLimit": null,
        }})
    );
    let again = client.ensure_discount("7qk2a9", "x", 1000, &gbp(), &Eligibility::Everyone, STARTS).await.unwrap();
    assert_eq!(again.id, d.id);
    assert_eq!(s.discounts().len(), 1);
}

#[tokio::test]
async fn a_create_that_loses_a_race_finds_the_winner() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    let gbp = gbp();
    let (a, b) = tokio::join!(
        client.ensure_discount("ABC234", "t", 500, &gbp, &Eligibility::Everyone, STARTS),
        client.ensure_discount("ABC234", "t", 500, &gbp, &Eligibility::Everyone, STARTS),
    );
    assert_eq!(a.unwrap().id, b.unwrap().id);
    assert_eq!(s.discounts().len(), 1);
}

#[tokio::test]
async fn a_referrers_discount_is_theirs_alone_and_single_use() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    let d =
        client.referrer_discount("115310627314723954", 1000, &gbp(), "£10 off", "rf_7:referrer", STARTS).await.unwrap();
    assert_eq!(d.code, deterministic_code("RFT", "rf_7:referrer"));
    let create = s.requests().into_iter().find(|r| r.graphql().contains("discountCodeBasicCreate")).unwrap();
    let input = &create.variables()["basicCodeDiscount"];
    assert_eq!(input["context"], json!({ "customers": { "add": ["gid://shopify/Customer/115310627314723954"] } }));
    assert_eq!((input["usageLimit"].clone(), input["appliesOncePerCustomer"].clone()), (json!(1), json!(true)));
    // A retry after a lost answer finds the code instead of creating a second one.
    let again =
        client.referrer_discount("115310627314723954", 1000, &gbp(), "£10 off", "rf_7:referrer", STARTS).await.unwrap();
    assert_eq!(again.id, d.id);
    assert_eq!(s.discounts().len(), 1);
}

#[tokio::test]
async fn deactivating_a_discount_expires_it() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    let d = client.ensure_discount("7QK2A9", "t", 1000, &gbp(), &Eligibility::Everyone, STARTS).await.unwrap();
    let off = client.deactivate_discount(&d.id).await.unwrap();
    assert_eq!(off.status.as_deref(), Some("EXPIRED"));
    assert_eq!(s.requests().pop().unwrap().variables(), json!({ "id": d.id }));
    let e = client.deactivate_discount("gid://shopify/DiscountCodeNode/404").await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Rejected { code: Some(c), .. } if c == "INVALID") && !e.is_retryable(),
        "{e:?}"
    );
}

#[tokio::test]
async fn store_credit_carries_the_amount_in_major_units_and_returns_the_transaction() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    let credit = client.credit_store_credit("115310627314723954", 1050, &gbp()).await.unwrap();
    assert!(credit.transaction_id.starts_with("gid://shopify/StoreCreditAccountCreditTransaction/"));
    let r = s.requests().pop().unwrap();
    assert!(r.graphql().contains("storeCreditAccountCredit(id: $id, creditInput: $creditInput)"));
    assert_eq!(
        r.variables(),
        json!({ "id": "gid://shopify/Customer/115310627314723954",
                "creditInput": { "creditAmount": { "amount": "10.50", "currencyCode": "GBP" } } })
    );
    // Shopify takes no idempotency key here: a lost answer is reported as possibly applied.
    s.faults.lose_next_answer(Duration::from_secs(2));
    let e = client.credit_store_credit("115310627314723954", 1050, &gbp()).await.unwrap_err();
    assert!(e.outcome_unknown());
    assert_eq!(s.credits().len(), 2, "it did land");
}

#[tokio::test]
async fn shopify_failures_say_whether_to_retry() {
    let s = ShopifyStandin::start().await;
    let client = shopify(&s);
    s.faults.fail_next(1, 503);
    assert!(client.find_discount("X").await.unwrap_err().is_retryable());
    s.faults.fail_next(1, 429);
    assert!(client.find_discount("X").await.unwrap_err().is_retryable());
    s.faults.stall_next(1, Duration::from_secs(2));
    assert!(matches!(client.find_discount("X").await.unwrap_err(), ProviderError::Timeout { .. }));
    let wrong = ShopifyClient::new(
        &s.url(),
        "2025-10",
        SecretString::new("shpat_wrong_wrong_wrong".into()),
        Duration::from_secs(1),
    );
    let e = wrong.find_discount("X").await.unwrap_err();
    assert!(matches!(e, ProviderError::Status { status: 401, .. }) && !e.is_retryable());
    assert_eq!(client.find_discount("X").await.unwrap(), None);
}

#[tokio::test]
async fn a_customers_order_count_comes_from_number_of_orders() {
    let s = ShopifyStandin::start().await;
    s.set_orders("115310627314723954", 3);
    let client = shopify(&s);
    assert_eq!(client.customer_number_of_orders("115310627314723954").await.unwrap(), Some(3));
    assert_eq!(client.customer_number_of_orders("1").await.unwrap(), None);
    assert_eq!(s.requests().pop().unwrap().variables(), json!({ "id": "gid://shopify/Customer/1" }));
}
