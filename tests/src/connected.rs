//! Rewards through a connected store's provider, written once and run on every store: the
//! Stripe and Shopify adapters against their stand-ins (`provider_standins`), through the whole
//! system (mint, click, sign-up, conversion, the job chain), asserting each call's method,
//! path, form fields or GraphQL variables and idempotency key as the providers document them.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use rft_core::jobs::{DiscountJob, Job, RetryJob};
use rft_core::ports::MessageKind;
use rft_core::{AuditKind, Code, CustomerId, Fulfilment, LedgerRow, ReferralId, Settings, Side};
use rft_http::providers::deterministic_code;

use crate::backends::{dynamo_harness, local_harness};
use crate::harness::{Harness, settings_text, token_of};
use crate::provider_standins::{Recorded, SHOPIFY_TOKEN, STRIPE_KEY, ShopifyStandin, StripeStandin};

/// Which store the system runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store.
    Local,
    /// DynamoDB Local.
    Dynamo,
}

/// A harness on `backend` with `settings` (a connected store's settings get the real provider
/// adapters, see `Harness::new`).
pub async fn harness(backend: Backend, settings: Settings) -> Harness {
    match backend {
        Backend::Local => local_harness(settings),
        Backend::Dynamo => dynamo_harness(settings).await,
    }
}

/// The example settings (with `overrides`) with their `[store]` replaced by `section`.
fn with_store(section: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut text = settings_text(overrides);
    let start = text.find("[store]\n").expect("the example has a [store]");
    let end = text.find("[enrolment]").expect("the example has an [enrolment]");
    text.replace_range(start..end, &format!("{section}\n\n"));
    Settings::parse(&text).expect("test settings are valid")
}

/// A Stripe shop on `standin`, its referrers paid by `referrer_reward`.
pub fn stripe_settings(standin: &StripeStandin, referrer_reward: &str, overrides: &[(&str, &str)]) -> Settings {
    let section = format!(
        "[store]\nkind = \"stripe\"\n\n[store.stripe]\napi_base = \"{}\"\nreferrer_reward = \"{referrer_reward}\"",
        standin.url()
    );
    with_store(&section, overrides)
}

/// A Shopify shop on `standin`, its referrers paid by `referrer_reward`.
pub fn shopify_settings(standin: &ShopifyStandin, referrer_reward: &str, overrides: &[(&str, &str)]) -> Settings {
    let section = format!(
        "[store]\nkind = \"shopify\"\n\n[store.shopify]\nshop = \"freshbox.myshopify.com\"\napi_base = \"{}\"\n\
         referrer_reward = \"{referrer_reward}\"",
        standin.url()
    );
    with_store(&section, overrides)
}

/// Stripe customers (balances need `cus_...`).
pub const STRIPE_DAN: &str = "cus_QXg1o8vcGmoR32";
/// Stripe customers.
pub const STRIPE_MARA: &str = "cus_RHk2p9wdHnpS43";
/// Shopify customers (numeric ids).
pub const SHOPIFY_DAN: &str = "115310627314723954";
/// Shopify customers.
pub const SHOPIFY_MARA: &str = "207119551";

fn email_of(customer: &str) -> String {
    if customer.contains('@') { customer.to_owned() } else { format!("{customer}@example.com") }
}

/// `referrer` mints (if they have no code yet), `friend` clicks the link and signs up, a minute
/// apart. Returns the code and the referral's id.
pub async fn refer(h: &Harness, referrer: &str, friend: &str) -> (String, ReferralId) {
    let owner = CustomerId::parse(referrer).unwrap();
    let code = match h.system.ports.stores.codes.active_code_of(&owner).await.unwrap() {
        Some(record) => record.code.to_string(),
        None => {
            let minted = h.mint(referrer, json!({"first_name": "Dan", "email": email_of(referrer)})).await;
            assert_eq!(minted.status, StatusCode::CREATED, "{:?}", minted.json);
            minted.json["code"].as_str().unwrap().to_owned()
        }
    };
    let token = token_of(&h.click(&code, None).await);
    h.clock.advance(Duration::from_secs(60));
    h.signup(
        json!({"customer_id": friend, "email": email_of(friend), "first_name": "Mara", "attribution_token": token}),
    )
    .await;
    h.clock.advance(Duration::from_secs(60));
    let referral = h.referral(friend).await;
    let id =
        referral.json["referral_id"].as_str().unwrap_or_else(|| panic!("{friend} was referred: {:?}", referral.json));
    (code, ReferralId::parse(id).unwrap())
}

/// The ledger rows of a referral, referrer first.
pub async fn rows(h: &Harness, id: &ReferralId) -> Vec<LedgerRow> {
    h.system.ports.stores.ledger.rows(id).await.unwrap()
}

fn shape(requests: &[Recorded]) -> Vec<(String, String)> {
    requests.iter().map(|r| (r.method.clone(), r.path.clone())).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn form(fields: &[(&str, String)]) -> Vec<(String, String)> {
    fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// Every request since the first `from`.
fn since(requests: Vec<Recorded>, from: usize) -> Vec<Recorded> {
    requests.into_iter().skip(from).collect()
}

/// Asserts the three calls that make a code's friend discount at Stripe, as Stripe documents
/// them: a lookup of the code, coupon `rft_<CODE>`, promotion code `<CODE>` for first-time
/// customers, each POST under its own key.
fn assert_stripe_friend_discount(requests: &[Recorded], code: &str) {
    let paths = [("GET", "/v1/promotion_codes"), ("POST", "/v1/coupons"), ("POST", "/v1/promotion_codes")];
    let expected: Vec<(String, String)> = pairs(&paths);
    assert_eq!(shape(requests), expected, "{requests:?}");
    assert_eq!(requests[0].query, pairs(&[("code", code), ("limit", "10")]));
    for r in requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {STRIPE_KEY}").as_str()));
        assert_eq!(r.header("stripe-version"), Some(rft_http::providers::stripe::STRIPE_VERSION));
    }
    assert_eq!(requests[1].idempotency_key(), Some(format!("rft-mint:{code}:coupon").as_str()));
    assert_eq!(
        requests[1].form,
        form(&[
            ("id", format!("rft_{code}")),
            ("amount_off", "1000".into()),
            ("currency", "gbp".into()),
            ("duration", "once".into()),
            ("name", "£10 off your first box".into()),
        ])
    );
    assert_eq!(requests[2].idempotency_key(), Some(format!("rft-mint:{code}:promotion_code").as_str()));
    assert_eq!(
        requests[2].form,
        form(&[
            ("code", code.to_owned()),
            ("promotion[type]", "coupon".into()),
            ("promotion[coupon]", format!("rft_{code}")),
            ("restrictions[first_time_transaction]", "true".into()),
        ])
    );
}

/// A Stripe shop paying balances: minting made the friend's discount; the conversion credits
/// each side's balance once, each a form POST under `<referral_id>:<side>`, the ledger keeping
/// Stripe's `cbtxn_...`; a repeated conversion calls Stripe no more.
pub async fn stripe_balances_are_credited_once_each(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let (code, id) = refer(&h, STRIPE_DAN, STRIPE_MARA).await;
    assert_stripe_friend_discount(&s.requests(), &code);
    let minted = h.system.ports.stores.audit.events_for(&code).await.unwrap();
    let minted = minted.iter().find(|e| e.kind == AuditKind::Minted).expect("a minted row");
    assert_eq!(minted.facts["discount"]["status"], "created", "{}", minted.facts);
    let before = s.requests().len();
    assert_eq!(h.convert(STRIPE_MARA, "pi_1").await.status, StatusCode::ACCEPTED);
    let calls = since(s.requests(), before);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let stored = s.balance_transactions();
    for (side, customer, description) in
        [(Side::Referrer, STRIPE_DAN, "£10 off your next box"), (Side::Friend, STRIPE_MARA, "£10 off your first box")]
    {
        let key = format!("{id}:{}", side.as_str());
        let call = calls.iter().find(|r| r.idempotency_key() == Some(key.as_str())).expect("a call per side");
        assert_eq!(
            (call.method.as_str(), call.path.clone()),
            ("POST", format!("/v1/customers/{customer}/balance_transactions"))
        );
        assert_eq!(call.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            call.form,
            form(&[
                ("amount", "-1000".into()),
                ("currency", "gbp".into()),
                ("description", description.into()),
                ("metadata[rft_key]", key.clone()),
            ])
        );
        let row = h.system.ports.stores.ledger.row(&id, side).await.unwrap().unwrap();
        let credit = stored.iter().find(|t| t["customer"] == customer).expect("Stripe holds the credit");
        assert_eq!(credit["amount"], -1000);
        assert_eq!(row.fulfilment.reference(), credit["id"].as_str(), "the ledger keeps Stripe's id");
        assert_eq!(row.fulfilment.code(), None);
    }
    assert_eq!(stored.len(), 2);
    let thanks = h.messages.of_kind(MessageKind::ThankYouReferrer);
    assert_eq!(thanks.len(), 1);
    assert!(!thanks[0].body.contains("Your code"), "a balance needs no code: {}", thanks[0].body);
    h.convert(STRIPE_MARA, "pi_1").await;
    assert_eq!(s.requests().len(), before + 2, "a repeated conversion calls Stripe no more");
}

/// A Stripe shop paying codes: each side gets a single-use promotion code derived from its key
/// (a Stripe customer's only theirs; a guest's usable once by anyone), on a shared coupon for
/// the value; the code reaches each side in their thank-you and stays on the ledger row.
pub async fn stripe_promotion_codes_reach_each_side(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "promotion_code", &[])).await;
    let guest = "mara@example.com";
    let (_, id) = refer(&h, STRIPE_DAN, guest).await;
    h.convert(guest, "pi_2").await;
    let codes = s.promotion_codes();
    for (side, customer, description) in
        [(Side::Referrer, Some(STRIPE_DAN), "£10 off your next box"), (Side::Friend, None, "£10 off your first box")]
    {
        let key = format!("{id}:{}", side.as_str());
        let text = deterministic_code("RFT", &key);
        let promo = codes.iter().find(|p| p["code"] == text.as_str()).expect("the side's code");
        assert_eq!(promo["max_redemptions"], 1);
        assert_eq!(promo["customer"], customer.map_or(Value::Null, Value::from));
        assert_eq!(promo["promotion"]["coupon"], "rft_reward_1000_gbp");
        let create = s
            .requests()
            .into_iter()
            .find(|r| r.method == "POST" && r.path == "/v1/promotion_codes" && r.field("code") == Some(text.as_str()))
            .unwrap();
        assert_eq!(create.idempotency_key(), Some(format!("{key}:promotion_code").as_str()));
        assert_eq!(create.field("customer"), customer);
        let row = h.system.ports.stores.ledger.row(&id, side).await.unwrap().unwrap();
        assert_eq!(row.fulfilment.reference(), promo["id"].as_str());
        assert_eq!(row.fulfilment.code(), Some(text.as_str()));
        let kind = if side == Side::Referrer { MessageKind::ThankYouReferrer } else { MessageKind::ThankYouFriend };
        let notes = h.messages.of_kind(kind);
        assert_eq!(notes.len(), 1);
        let line = format!("Your code for {description}: {text}.");
        assert!(notes[0].body.contains(&line), "{}", notes[0].body);
        assert!(notes[0].html.as_deref().unwrap_or_default().contains(&text));
    }
    assert_eq!(s.coupons().keys().filter(|k| k.starts_with("rft_reward_")).count(), 1, "one coupon per value");
}

/// A Shopify shop paying store credit: minting made the friend's discount code (looked up,
/// then created with the documented input); each side's credit is one
/// `storeCreditAccountCredit` with the amount in major units, its transaction id on the ledger.
pub async fn shopify_store_credit_is_given_once_each(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", &[])).await;
    let (code, id) = refer(&h, SHOPIFY_DAN, SHOPIFY_MARA).await;
    let mint = s.requests();
    assert_eq!(mint.len(), 2, "{mint:?}");
    for r in &mint {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/admin/api/2025-10/graphql.json"));
        assert_eq!(r.header("x-shopify-access-token"), Some(SHOPIFY_TOKEN));
    }
    assert!(mint[0].graphql().contains("codeDiscountNodeByCode(code: $code)"));
    assert_eq!(mint[0].variables(), json!({ "code": code }));
    let mut input = mint[1].variables()["basicCodeDiscount"].clone();
    let starts = input["startsAt"].take();
    assert!(rft_core::Timestamp::parse_rfc3339(starts.as_str().unwrap()).is_ok(), "{starts}");
    assert_eq!(
        input,
        json!({
            "title": format!("Referral {code}: £10 off your first box"),
            "code": code,
            "startsAt": null,
            "context": { "all": "ALL" },
            "customerGets": { "value": { "discountAmount": { "amount": "10.00", "appliesOnEachItem": false } }, "items": { "all": true } },
            "appliesOncePerCustomer": true,
            "usageLimit": null,
        })
    );
    h.convert(SHOPIFY_MARA, "5001").await;
    let credits = since(s.requests(), 2);
    assert_eq!(credits.len(), 2, "{credits:?}");
    let stored = s.credits();
    for (side, customer) in [(Side::Referrer, SHOPIFY_DAN), (Side::Friend, SHOPIFY_MARA)] {
        let gid = format!("gid://shopify/Customer/{customer}");
        let call = credits.iter().find(|r| r.variables()["id"] == gid.as_str()).expect("a credit per side");
        assert!(call.graphql().contains("storeCreditAccountCredit(id: $id, creditInput: $creditInput)"));
        assert_eq!(
            call.variables(),
            json!({ "id": gid, "creditInput": { "creditAmount": { "amount": "10.00", "currencyCode": "GBP" } } })
        );
        let row = h.system.ports.stores.ledger.row(&id, side).await.unwrap().unwrap();
        let tx = stored.iter().find(|t| t["owner"] == gid.as_str()).unwrap();
        assert_eq!(row.fulfilment.reference(), tx["id"].as_str());
        assert_eq!(row.call_claim, None, "the call's claim is cleared with its outcome");
    }
    h.convert(SHOPIFY_MARA, "5001").await;
    assert_eq!(s.credits().len(), 2, "a repeated conversion credits nobody again");
}

/// A Shopify shop paying store credit, and a friend who bought as a guest (known by email, no
/// Shopify customer): Dan gets store credit, the guest a single-use code anyone could use once
/// (`context: all`, `usageLimit: 1`), sent to them in their thank-you.
pub async fn a_shopify_guest_gets_a_single_use_code(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", &[])).await;
    let guest = "ann@example.com";
    let (_, id) = refer(&h, SHOPIFY_DAN, guest).await;
    h.convert(guest, "5009").await;
    assert_eq!(s.credits().len(), 1, "only Dan, a Shopify customer, gets store credit");
    let text = deterministic_code("RFT", &format!("{id}:friend"));
    let (node, input, _) = s.discounts().get(&text).cloned().expect("the guest's code");
    assert_eq!((input["context"].clone(), input["usageLimit"].clone()), (json!({ "all": "ALL" }), json!(1)));
    let row = h.system.ports.stores.ledger.row(&id, Side::Friend).await.unwrap().unwrap();
    assert_eq!((row.fulfilment.reference(), row.fulfilment.code()), (Some(node.as_str()), Some(text.as_str())));
    assert!(h.messages.of_kind(MessageKind::ThankYouFriend)[0].body.contains(&text));
}

/// A Shopify shop paying discount codes: each side's code is derived from its key, looked up
/// before it is created, limited to the customer, single-use, and sent in the thank-you.
pub async fn shopify_discount_codes_reach_each_side(b: Backend) {
    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "discount_code", &[])).await;
    let (_, id) = refer(&h, SHOPIFY_DAN, SHOPIFY_MARA).await;
    // The first side's code is created but its answer lost: the retry's lookup finds it.
    s.faults.pass_next(1);
    s.faults.lose_next_answer(Duration::from_secs(2));
    h.convert(SHOPIFY_MARA, "5002").await;
    let discounts = s.discounts();
    for (side, customer, kind) in [
        (Side::Referrer, SHOPIFY_DAN, MessageKind::ThankYouReferrer),
        (Side::Friend, SHOPIFY_MARA, MessageKind::ThankYouFriend),
    ] {
        let text = deterministic_code("RFT", &format!("{id}:{}", side.as_str()));
        let (node, input, _) = discounts.get(&text).expect("the side's discount");
        assert_eq!(input["context"], json!({ "customers": { "add": [format!("gid://shopify/Customer/{customer}")] } }));
        assert_eq!((input["usageLimit"].clone(), input["appliesOncePerCustomer"].clone()), (json!(1), json!(true)));
        assert!(input["title"].as_str().unwrap().starts_with(&format!("Referral reward {text}: ")));
        let row = h.system.ports.stores.ledger.row(&id, side).await.unwrap().unwrap();
        assert_eq!((row.fulfilment.reference(), row.fulfilment.code()), (Some(node.as_str()), Some(text.as_str())));
        let notes = h.messages.of_kind(kind);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].body.contains(&text), "{}", notes[0].body);
    }
    assert_eq!(discounts.len(), 3, "the friend's discount and one code per side, none twice");
}

/// A Stripe outage: each side is retried with backoff, then parked for a person (the team
/// is emailed, the row stays owed); a person's retry (`Job::Retry`) then credits each side
/// exactly once, and a second retry does nothing.
pub async fn a_provider_outage_parks_and_a_retry_delivers_once(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let (_, id) = refer(&h, STRIPE_DAN, STRIPE_MARA).await;
    s.faults.fail_next(1_000, 503);
    h.convert(STRIPE_MARA, "pi_3").await;
    for row in rows(&h, &id).await {
        assert!(
            matches!(&row.fulfilment, Fulfilment::Parked { attempts: 9, reason } if reason.contains("503")),
            "{row:?}"
        );
    }
    assert_eq!(h.messages.of_kind(MessageKind::FulfilmentParked).len(), 2);
    assert!(s.balance_transactions().is_empty());
    s.faults.clear();
    for _ in 0..2 {
        for side in [Side::Referrer, Side::Friend] {
            let retry = RetryJob {
                referral_id: id.clone(),
                side,
                requested_by: "ops@freshbox.uk".into(),
                requested_at: h.clock_now(),
            };
            h.system.ports.reward_jobs.send(&Job::Retry(retry)).await.unwrap();
        }
        h.settle().await;
    }
    for row in rows(&h, &id).await {
        assert!(row.is_fulfilled(), "{row:?}");
    }
    assert_eq!(s.balance_transactions().len(), 2, "each side credited once");
    let audit = h.system.ports.stores.audit.events_for(id.as_str()).await.unwrap();
    let retried: Vec<_> = audit.iter().filter(|e| e.kind == AuditKind::FulfilmentRetried).collect();
    assert_eq!(retried.len(), 2, "each side's retry audited once");
    assert_eq!(retried[0].facts["requested_by"], "ops@freshbox.uk");
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouReferrer).len(), 1);
}

/// A lost answer: Stripe applied a credit but the client timed out; the retry under the same
/// key gets the first credit back. Shopify store credit, which no key protects, is parked
/// instead of sent again, saying it may have landed.
pub async fn a_lost_answer_never_pays_twice(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let (_, id) = refer(&h, STRIPE_DAN, STRIPE_MARA).await;
    s.faults.lose_next_answer(Duration::from_secs(2));
    h.convert(STRIPE_MARA, "pi_4").await;
    assert_eq!(s.balance_transactions().len(), 2);
    assert!(rows(&h, &id).await.iter().all(LedgerRow::is_fulfilled));

    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", &[])).await;
    let (_, id) = refer(&h, SHOPIFY_DAN, SHOPIFY_MARA).await;
    s.faults.lose_next_answer(Duration::from_secs(2));
    h.convert(SHOPIFY_MARA, "5003").await;
    assert_eq!(s.credits().len(), 2, "both credits landed, each once");
    let rows = rows(&h, &id).await;
    let parked: Vec<_> = rows.iter().filter(|r| matches!(r.fulfilment, Fulfilment::Parked { .. })).collect();
    assert_eq!(parked.len(), 1, "{rows:?}");
    let Fulfilment::Parked { reason, .. } = &parked[0].fulfilment else { unreachable!() };
    assert!(reason.contains("may have been applied"), "{reason}");
    assert_eq!(h.messages.of_kind(MessageKind::FulfilmentParked).len(), 1);
}

/// Concurrent mints for one customer make one code and one discount; discount jobs for it run
/// at once make no second; retiring deactivates it, and retiring again calls nothing more.
pub async fn a_mint_makes_the_discount_once_and_retire_deactivates_it(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let mints = futures_util::future::join_all((0..5).map(|_| h.mint(STRIPE_DAN, json!({})))).await;
    let codes: std::collections::BTreeSet<String> =
        mints.iter().map(|m| m.json["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert_eq!(mints.iter().filter(|m| m.status == StatusCode::CREATED).count(), 1);
    let code = codes.into_iter().next().unwrap();
    let job = Job::Discount(DiscountJob { code: Code::parse(&code).unwrap() });
    let runs = futures_util::future::join_all((0..4).map(|_| h.system.rewarder.handle(job.clone()))).await;
    assert!(runs.iter().all(Result::is_ok), "{runs:?}");
    assert_eq!((s.coupons().len(), s.promotion_codes().len()), (1, 1), "one coupon, one promotion code");
    let retire = h.call(h.signed(Method::POST, &format!("/api/codes/{code}/retire"), "")).await;
    assert_eq!(retire.status, StatusCode::OK, "{:?}", retire.json);
    let last = s.requests().pop().unwrap();
    let promo = &s.promotion_codes()[0];
    assert_eq!(
        (last.method.as_str(), last.path.clone()),
        ("POST", format!("/v1/promotion_codes/{}", promo["id"].as_str().unwrap()))
    );
    assert_eq!(
        (last.field("active"), last.idempotency_key()),
        (Some("false"), Some(format!("rft-retire:{code}").as_str()))
    );
    assert_eq!(promo["active"], false);
    let before = s.requests().len();
    h.system.rewarder.handle(job).await.unwrap();
    assert_eq!(s.requests().len(), before + 1, "a late discount job for a retired code only looks");
    assert_eq!(s.promotion_codes().len(), 1, "and never brings the discount back");

    let s = ShopifyStandin::start().await;
    let h = harness(b, shopify_settings(&s, "store_credit", &[])).await;
    let minted = futures_util::future::join_all((0..5).map(|_| h.mint(SHOPIFY_DAN, json!({})))).await;
    let code = minted[0].json["code"].as_str().unwrap().to_owned();
    assert_eq!(s.discounts().len(), 1);
    h.call(h.signed(Method::POST, &format!("/api/codes/{code}/retire"), "")).await;
    let (node, _, status) = s.discounts().get(&code).cloned().unwrap();
    assert_eq!(status, "EXPIRED");
    assert_eq!(s.requests().pop().unwrap().variables(), json!({ "id": node }));
}

/// The provider is down (or too slow) at mint: the link still answers within the 2.5 s the
/// contract allows, the discount is queued for the rewarder (the `minted` audit row says so),
/// and made once the provider is back.
pub async fn a_provider_down_at_mint_queues_the_discount(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    s.faults.stall_next(1, Duration::from_secs(3));
    let started = std::time::Instant::now();
    let minted = h.mint(STRIPE_DAN, json!({})).await;
    let took = started.elapsed();
    assert_eq!(minted.status, StatusCode::CREATED);
    assert!(took < Duration::from_millis(2_500), "the link answered in {took:?}");
    let code = minted.json["code"].as_str().unwrap().to_owned();
    let audit = h.system.ports.stores.audit.events_for(&code).await.unwrap();
    assert_eq!(audit[0].facts["discount"]["status"], "queued", "{}", audit[0].facts);
    assert!(s.promotion_codes().is_empty());
    s.faults.fail_next(2, 503);
    h.settle().await;
    assert_eq!((s.coupons().len(), s.promotion_codes().len()), (1, 1), "made once the provider answers");
    assert_eq!(s.promotion_codes()[0]["code"], code.as_str());
}

/// The ledger export, signed, through the router: one CSV line per ledger row with the
/// provider's reference and the formatted amount.
pub async fn the_export_shows_each_row_with_its_reference(b: Backend) {
    let s = StripeStandin::start().await;
    let h = harness(b, stripe_settings(&s, "balance", &[])).await;
    let (_, id) = refer(&h, STRIPE_DAN, STRIPE_MARA).await;
    h.convert(STRIPE_MARA, "pi_5").await;
    let unsigned =
        h.call(axum::http::Request::get("/api/exports/ledger.csv").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let (status, headers, text) = export(&h).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), rft_http::exports::COLUMNS);
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(lines.len(), 2);
    for row in rows(&h, &id).await {
        let line = lines.iter().find(|l| &l[1] == row.side.as_str()).unwrap();
        assert_eq!(&line[0], id.as_str());
        assert_eq!(&line[2], row.customer_id.as_str());
        assert_eq!((&line[3], &line[4], &line[5]), ("1000", "£10.00", "GBP"));
        assert_eq!((&line[8], &line[9]), ("fulfilled", "1"));
        assert_eq!(&line[10], row.fulfilment.reference().unwrap());
        assert!(line[10].starts_with("cbtxn_"));
        assert_eq!(&line[13], row.created_at.to_rfc3339());
        assert!(!line[14].is_empty(), "fulfilled_at");
    }
}

/// `GET /api/exports/ledger.csv`, read chunk by chunk: (status, headers, the body as text).
pub async fn export(h: &Harness) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, chunks) = export_chunks(h).await;
    (status, headers, chunks.concat())
}

/// The export's body as the chunks it was sent in.
pub async fn export_chunks(h: &Harness) -> (StatusCode, axum::http::HeaderMap, Vec<String>) {
    use futures_util::StreamExt;
    use tower::ServiceExt;
    let request = h.signed(Method::GET, "/api/exports/ledger.csv", "");
    let response = h.system.router().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let mut stream = response.into_body().into_data_stream();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        chunks.push(String::from_utf8(chunk.unwrap().to_vec()).unwrap());
    }
    (status, headers, chunks)
}

/// A ledger longer than a page is streamed a page at a time, every row once.
pub async fn a_long_ledger_is_streamed_a_page_at_a_time(h: Harness) {
    let ids = crate::conformance::paid_referrals(&h.system.ports.stores, 130).await;
    let (status, _, chunks) = export_chunks(&h).await;
    assert_eq!(status, StatusCode::OK);
    assert!(chunks.len() >= 2, "one chunk per page at least: {}", chunks.len());
    let text = chunks.concat();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut keys: Vec<(String, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_owned(), r[1].to_owned())).collect();
    assert_eq!(keys.len(), 260);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 260, "every row once");
    assert!(ids.iter().all(|id| keys.iter().any(|(k, _)| k == id.as_str())));
}
