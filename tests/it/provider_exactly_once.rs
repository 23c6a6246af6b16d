//! Invariant 4 through a connected store's provider: duplicate and concurrent conversions, and
//! a crash at every step of the job chain, never credit a side twice at Stripe or Shopify.
//! Stripe (its `Idempotency-Key`) and Shopify discount codes (a deterministic code looked up
//! before it is created) end paid exactly once; Shopify store credit, which nothing makes
//! idempotent, ends paid once or, where a call's outcome was lost, parked for a person, and
//! never twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;

use rft_core::jobs::ConversionJob;
use rft_core::ports::MessageKind;
use rft_core::service::reward::CUT_OFF;
use rft_core::{Currency, CustomerId, Fulfilment, Job, LedgerRow};
use rft_tests::connected::{
    Backend, SHOPIFY_DAN, SHOPIFY_MARA, STRIPE_DAN, STRIPE_MARA, harness, refer, rows, shopify_settings,
    stripe_settings,
};
use rft_tests::faults::{Faults, Strike, faulty_rewarder, run_until_the_fault};
use rft_tests::harness::{Harness, token_of};
use rft_tests::provider_standins::{ShopifyStandin, StripeStandin};

const REFERRERS: usize = 3;
const FRIENDS_EACH: usize = 2;
const DUPLICATES: usize = 10;

/// The reward setups under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    StripeBalance,
    ShopifyDiscountCode,
    ShopifyStoreCredit,
}

enum Standin {
    Stripe(StripeStandin),
    Shopify(ShopifyStandin),
}

impl Standin {
    /// Effects per customer: Stripe balance credits, or Shopify credits and reward discounts.
    fn effects(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        match self {
            Standin::Stripe(s) => {
                for t in s.balance_transactions() {
                    *out.entry(t["customer"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
                }
            }
            Standin::Shopify(s) => {
                for t in s.credits() {
                    let owner = t["owner"].as_str().unwrap_or_default();
                    *out.entry(owner.rsplit('/').next().unwrap_or_default().to_owned()).or_default() += 1;
                }
                for (code, (_, input, _)) in s.discounts() {
                    if let Some(customer) = input["context"]["customers"]["add"][0].as_str() {
                        assert!(code.starts_with("RFT"), "{code}");
                        *out.entry(customer.rsplit('/').next().unwrap_or_default().to_owned()).or_default() += 1;
                    }
                }
            }
        }
        out
    }
}

async fn start(setup: Setup, backend: Backend) -> (Harness, Standin) {
    match setup {
        Setup::StripeBalance => {
            let s = StripeStandin::start().await;
            (harness(backend, stripe_settings(&s, "balance", &[])).await, Standin::Stripe(s))
        }
        Setup::ShopifyDiscountCode => {
            let s = ShopifyStandin::start().await;
            (harness(backend, shopify_settings(&s, "discount_code", &[])).await, Standin::Shopify(s))
        }
        Setup::ShopifyStoreCredit => {
            let s = ShopifyStandin::start().await;
            (harness(backend, shopify_settings(&s, "store_credit", &[])).await, Standin::Shopify(s))
        }
    }
}

/// The provider's customer id for referrer `r` or friend `f` of referrer `r`.
fn customer(setup: Setup, r: usize, f: Option<usize>) -> String {
    match (setup, f) {
        (Setup::StripeBalance, None) => format!("cus_ref{r}"),
        (Setup::StripeBalance, Some(f)) => format!("cus_friend{r}x{f}"),
        (_, None) => format!("{}", 9_000 + r),
        (_, Some(f)) => format!("{}", 80_000 + r * 100 + f),
    }
}

fn conversion(h: &Harness, friend: &str) -> ConversionJob {
    ConversionJob {
        webhook_id: format!("msg_{friend}"),
        customer_id: CustomerId::parse(friend).unwrap(),
        order_id: format!("o_{friend}"),
        amount_minor: 3999,
        currency: Currency::parse("GBP").unwrap(),
        identity: Default::default(),
        discount_code: None,
        occurred_at: h.clock_now(),
    }
}

/// Six referrals, each conversion delivered ten times at once, then the chain run by four
/// consumers at once: every side credited exactly once at the provider, every row fulfilled
/// with its own reference, one thank-you per side.
async fn duplicate_and_concurrent_conversions_credit_each_side_once(setup: Setup, backend: Backend) {
    let (h, standin) = start(setup, backend).await;
    let h = Arc::new(h);
    let mut friends = Vec::new();
    for r in 0..REFERRERS {
        let referrer = customer(setup, r, None);
        let minted = h.mint(&referrer, json!({"email": format!("ref{r}@example.com")})).await;
        let code = minted.json["code"].as_str().unwrap().to_owned();
        for f in 0..FRIENDS_EACH {
            let friend = customer(setup, r, Some(f));
            let token = token_of(&h.click(&code, None).await);
            let body =
                json!({"customer_id": friend, "email": format!("f{r}x{f}@example.com"), "attribution_token": token});
            h.call(h.signed(axum::http::Method::POST, "/webhooks/signup", &body.to_string())).await;
            friends.push(friend);
        }
    }
    h.system.drain_signups().await;
    h.clock.advance(Duration::from_secs(120));
    let mut set = JoinSet::new();
    for friend in &friends {
        for _ in 0..DUPLICATES {
            let h = h.clone();
            let job = conversion(&h, friend);
            set.spawn(async move {
                for _ in 0..200 {
                    if h.system.rewarder.handle(Job::Conversion(job.clone())).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("a delivery never succeeded");
            });
        }
    }
    while let Some(joined) = set.join_next().await {
        joined.expect("delivery task");
    }
    h.settle_concurrently(4).await;
    let mut references = HashSet::new();
    for friend in &friends {
        let key = rft_core::IdentityKey::Customer(CustomerId::parse(friend).unwrap());
        let referral = h.system.ports.stores.referrals.find(&key).await.unwrap().unwrap();
        for row in rows(&h, &referral.referral_id).await {
            assert!(row.is_fulfilled(), "{setup:?}: {row:?}");
            assert!(
                references.insert(row.fulfilment.reference().unwrap().to_owned()),
                "{setup:?}: one reference per side"
            );
        }
    }
    let effects = standin.effects();
    for r in 0..REFERRERS {
        assert_eq!(effects.get(&customer(setup, r, None)), Some(&FRIENDS_EACH), "{setup:?}: {effects:?}");
        for f in 0..FRIENDS_EACH {
            assert_eq!(effects.get(&customer(setup, r, Some(f))), Some(&1), "{setup:?}: {effects:?}");
        }
    }
    assert_eq!(effects.values().sum::<usize>(), 2 * REFERRERS * FRIENDS_EACH, "{setup:?}: nothing else");
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouReferrer).len(), REFERRERS * FRIENDS_EACH);
    assert_eq!(h.messages.of_kind(MessageKind::ThankYouFriend).len(), REFERRERS * FRIENDS_EACH);
}

macro_rules! duplicates {
    ($($name:ident: $setup:expr),* $(,)?) => {
        mod duplicates {
            use super::*;
            $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                duplicate_and_concurrent_conversions_credit_each_side_once($setup, Backend::Local).await;
                duplicate_and_concurrent_conversions_credit_each_side_once($setup, Backend::Dynamo).await;
            })*
        }
    };
}

duplicates!(
    stripe_balance: Setup::StripeBalance,
    shopify_discount_code: Setup::ShopifyDiscountCode,
    shopify_store_credit: Setup::ShopifyStoreCredit,
);

/// The two sides' customers in the crash scenario.
fn pair(setup: Setup) -> (&'static str, &'static str) {
    match setup {
        Setup::StripeBalance => (STRIPE_DAN, STRIPE_MARA),
        _ => (SHOPIFY_DAN, SHOPIFY_MARA),
    }
}

/// For every call N along the whole chain, and a crash before or after it: a healthy consumer
/// takes over and no side is ever credited twice. With an idempotent provider every side ends
/// credited exactly once and fulfilled; with Shopify store credit a side whose call was cut off
/// with its outcome unknown ends parked (credited at most once), and every other ends fulfilled.
async fn a_crash_at_any_step_never_pays_twice(setup: Setup) {
    let mut covered = HashSet::new();
    let (referrer, friend) = pair(setup);
    for strike in [Strike::Before, Strike::After] {
        for n in 1.. {
            let (h, standin) = start(setup, Backend::Local).await;
            let (_, id) = refer(&h, referrer, friend).await;
            let faults = Faults::new(n, strike);
            h.system.ports.reward_jobs.send(&Job::Conversion(conversion(&h, friend))).await.unwrap();
            run_until_the_fault(&h, &faulty_rewarder(&h, faults.clone()), &faults).await;
            if !faults.fired() {
                break;
            }
            let step = faults.steps()[n - 1].clone();
            covered.insert(step.clone());
            h.settle().await;
            let what = format!("{setup:?}, {strike:?} at call {n} ({step})");
            let rows: Vec<LedgerRow> = rows(&h, &id).await;
            assert_eq!(rows.len(), 2, "{what}");
            let effects = standin.effects();
            for row in &rows {
                let paid = effects.get(row.customer_id.as_str()).copied().unwrap_or(0);
                match &row.fulfilment {
                    Fulfilment::Fulfilled { .. } => assert_eq!(paid, 1, "{what}: {row:?} {effects:?}"),
                    Fulfilment::Parked { reason, .. } => {
                        // Between the claim landing and the outcome landing, nobody knows
                        // whether the credit landed.
                        let cut_off = setup == Setup::ShopifyStoreCredit
                            && match strike {
                                Strike::After => step == "store.fulfil" || step == "ledger.save_row(call claimed)",
                                Strike::Before => step == "ledger.save_row(fulfilled)",
                            };
                        assert!(cut_off, "{what}: only a store credit call cut off mid-way parks: {row:?}");
                        assert!(reason == CUT_OFF || reason.contains("may have been applied"), "{what}: {reason}");
                        assert!(paid <= 1, "{what}: never twice");
                    }
                    other => panic!("{what}: {other:?}"),
                }
            }
        }
    }
    for step in
        ["ledger.commit_reward", "queue.send(fulfil)", "ledger.row", "store.fulfil", "ledger.save_row(fulfilled)"]
    {
        assert!(covered.contains(step), "{setup:?}: a crash at {step} was tested: {covered:?}");
    }
    if setup == Setup::ShopifyStoreCredit {
        assert!(covered.contains("ledger.save_row(call claimed)"), "{covered:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_never_credits_a_stripe_balance_twice() {
    a_crash_at_any_step_never_pays_twice(Setup::StripeBalance).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_never_makes_a_second_shopify_discount_code() {
    a_crash_at_any_step_never_pays_twice(Setup::ShopifyDiscountCode).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_never_gives_shopify_store_credit_twice() {
    a_crash_at_any_step_never_pays_twice(Setup::ShopifyStoreCredit).await
}
