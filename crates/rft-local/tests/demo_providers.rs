//! The demo shop connected to Stripe and to Shopify, as `make run-stripe` and `make run-shopify`
//! start it: `rft-local serve` with settings.stripe-demo.toml or settings.shopify-demo.toml and
//! the stand-ins' credentials. Dan's link is minted through the demo, a friend opens it and pays
//! at the demo's checkout, which sends the provider's signed webhook through the real router;
//! the referral ends rewarded, the ledger holds both sides, and the stand-in served by the same
//! process recorded both rewards as the provider documents them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rft_core::secrets::SecretSet;
use rft_core::signature::Signer;
use rft_core::time::{Clock, SystemClock};
use serde_json::{Value, json};

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36";

mod common;

/// A running `rft-local serve` in connected demo mode, stopped (and its files removed) on drop.
struct Demo {
    child: Child,
    dir: PathBuf,
    base: String,
    client: reqwest::Client,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        if std::thread::panicking() {
            eprintln!(
                "rft-local's log:\n{}",
                std::fs::read_to_string(self.dir.join("rft-local.log")).unwrap_or_default()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the demo with `settings_file` (from the repository root) on a free port, with the
/// stand-ins' credentials in the environment as the Makefile sets them.
async fn start(settings_file: &str, env: &[(&str, &str)]) -> Demo {
    let dir = std::env::temp_dir().join(format!("rft-demo-providers-{}", rft_core::ids::random_base32()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join(settings_file)).unwrap().replace("http://127.0.0.1:3000", &base);
    std::fs::write(dir.join("settings.toml"), text).unwrap();
    let mut command = common::serve(&dir, port, &dir.join("settings.toml"));
    for var in
        ["RFT_STRIPE_API_KEY", "RFT_STRIPE_WEBHOOK_SECRET", "RFT_SHOPIFY_ADMIN_TOKEN", "RFT_SHOPIFY_WEBHOOK_SECRET"]
    {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("rft-local starts");
    let client = rft_http::store_client::http_client().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    common::wait_healthy(&client, &base).await;
    Demo { child, dir, base, client }
}

impl Demo {
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// Where following `path` once sends a browser.
    async fn location(&self, path: &str) -> String {
        let response = self.client.get(format!("{}{path}", self.base)).header("user-agent", UA).send().await.unwrap();
        assert_eq!(response.status(), 302, "{path}");
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Dan's code, minted through the demo as the shop's backend would.
    async fn mint(&self, customer: &str) -> String {
        let (status, link) = self
            .post("/demo/api/link", json!({"customer_id": customer, "first_name": "Dan", "email": "dan@example.com"}))
            .await;
        assert_eq!(status, 201, "{link}");
        link["code"].as_str().unwrap().to_owned()
    }

    async fn standin_calls(&self) -> Vec<Value> {
        let (status, view) = self.get("/demo/api/standin").await;
        assert_eq!(status, 200);
        view["calls"].as_array().cloned().unwrap_or_default()
    }

    async fn wait_rewarded(&self, customer: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, referral) = self.get(&format!("/demo/api/referral/{customer}")).await;
            if status == 200 && referral["state"] == "rewarded" {
                return referral;
            }
            assert!(Instant::now() < deadline, "{customer} was not rewarded: {status} {referral}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The ledger export's rows of `referral`, as (side, customer_id, amount_minor, fulfilment,
    /// attempts, reference), read with the store's signed API.
    async fn ledger(&self, referral: &str) -> Vec<[String; 6]> {
        let saved: Value = serde_json::from_slice(&std::fs::read(self.dir.join("data/secrets.json")).unwrap()).unwrap();
        let s = |k: &str| saved[k].as_str().unwrap().to_owned();
        let secrets =
            SecretSet::from_parts(&s("signing_secret"), &s("ops_secret"), &s("store_api_key"), &s("identity_key"))
                .unwrap();
        let id = format!("msg_{}", rft_core::ids::random_base32());
        let mut request = self.client.get(format!("{}/api/exports/ledger.csv", self.base));
        for (name, value) in Signer::new(&secrets.signing).headers(&id, SystemClock.now(), b"").unwrap() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let csv = response.text().await.unwrap();
        let mut rows: Vec<[String; 6]> = csv
            .lines()
            .skip(1)
            .map(|line| line.split(',').map(str::to_owned).collect::<Vec<_>>())
            .filter(|cols| cols[0] == referral)
            .map(|c| [c[1].clone(), c[2].clone(), c[3].clone(), c[8].clone(), c[9].clone(), c[10].clone()])
            .collect();
        rows.sort();
        rows
    }
}

fn calls_of<'a>(calls: &'a [Value], what: &str) -> Vec<&'a Value> {
    calls.iter().filter(|c| c["what"] == what).collect()
}

/// The screen holds a first order within `min_click_to_conversion` (5 s) of its click; the
/// providers stamp an event in whole seconds, which can lose one.
async fn wait_past_the_quick_conversion_hold() {
    tokio::time::sleep(Duration::from_millis(6_500)).await;
}

#[tokio::test]
async fn the_stripe_demo_checkout_rewards_both_sides_at_the_stand_in() {
    let demo = start(
        "settings.stripe-demo.toml",
        &[
            ("RFT_STRIPE_API_KEY", "sk_test_standin_0123456789abcdef"),
            ("RFT_STRIPE_WEBHOOK_SECRET", "whsec_standin_0123456789abcdef"),
        ],
    )
    .await;
    let page = demo.client.get(format!("{}/demo", demo.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-store-kind=\"stripe\""), "the page knows the store is Stripe");

    let dan = "cus_DemoDan0001";
    let code = demo.mint(dan).await;
    // Minting made the friend's coupon and promotion code at the stand-in, each POST keyed.
    let calls = demo.standin_calls().await;
    let promo = calls_of(&calls, "promotion code");
    assert_eq!(promo.len(), 1, "{calls:?}");
    assert_eq!((promo[0]["method"].as_str(), promo[0]["path"].as_str()), (Some("POST"), Some("/v1/promotion_codes")));
    assert_eq!(promo[0]["idempotency_key"], format!("rft-mint:{code}:promotion_code"));
    assert_eq!(promo[0]["form"]["code"], code.as_str());
    assert_eq!(promo[0]["form"]["promotion[coupon]"], format!("rft_{code}"));
    let coupon = calls_of(&calls, "coupon");
    assert_eq!((coupon.len(), coupon[0]["form"]["amount_off"].as_str()), (1, Some("1000")), "{calls:?}");

    // The link lands on the demo's Payment Link with the token and the code.
    let location = demo.location(&format!("/r/{code}")).await;
    let landing = url::Url::parse(&location).unwrap();
    assert_eq!(landing.path(), "/demo/checkout");
    let param = |k: &str| landing.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    let token = param("client_reference_id").expect("the token rides on the Checkout Session");
    assert_eq!(param("prefilled_promo_code").as_deref(), Some(code.as_str()));
    assert_eq!(demo.client.get(&location).send().await.unwrap().status(), 200, "the demo serves the checkout");

    wait_past_the_quick_conversion_hold().await;
    let (status, paid) = demo
        .post("/demo/api/stripe/checkout", json!({"email": "mara@example.com", "token": token, "code": code}))
        .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(
        (paid["status"].as_u64(), &paid["answer"]),
        (Some(200), &json!({"status": "queued", "job": "checkout"}))
    );
    assert_eq!(paid["event"]["type"], "checkout.session.completed");
    assert_eq!(paid["event"]["data"]["object"]["client_reference_id"], token.as_str());
    let promotion_id = paid["promotion_code"].as_str().expect("the checkout used Dan's promotion code").to_owned();
    assert_eq!(paid["event"]["data"]["object"]["discounts"][0]["promotion_code"], promotion_id.as_str());
    let mara = paid["customer_id"].as_str().unwrap().to_owned();
    let payment_intent = paid["payment_intent"].as_str().unwrap().to_owned();

    let referral = demo.wait_rewarded(&mara).await;
    // The checkout carried both the click's token and Dan's promotion code (applied by the
    // link): the click is the touch, so the screen measured from it.
    assert_eq!((referral["referrer_id"].as_str(), referral["method"].as_str()), (Some(dan), Some("token")));
    let id = referral["referral_id"].as_str().unwrap();

    // Dan's side: one balance credit at the stand-in, keyed by the referral.
    let calls = demo.standin_calls().await;
    let credits = calls_of(&calls, "balance credit");
    assert_eq!(credits.len(), 1, "{calls:?}");
    assert_eq!(credits[0]["path"], format!("/v1/customers/{dan}/balance_transactions"));
    assert_eq!(credits[0]["idempotency_key"], format!("{id}:referrer"));
    assert_eq!(credits[0]["form"]["amount"], "-1000");
    assert!(credits[0]["form"]["currency"].as_str().is_some_and(|c| c.eq_ignore_ascii_case("gbp")), "{calls:?}");
    // Mara's side was the promotion code at the checkout: no second promotion code.
    assert_eq!(calls_of(&calls, "promotion code").len(), 1, "{calls:?}");

    let rows = demo.ledger(id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let friend = &rows[0];
    assert_eq!(
        [&friend[0], &friend[1], &friend[2], &friend[3], &friend[4], &friend[5]],
        ["friend", &mara, "1000", "fulfilled", "0", &format!("discount {code} on order {payment_intent}")]
    );
    let referrer = &rows[1];
    assert_eq!([&referrer[0], &referrer[1], &referrer[2], &referrer[3]], ["referrer", dan, "1000", "fulfilled"]);
    assert!(referrer[5].starts_with("cbtxn_"), "the ledger keeps Stripe's id: {rows:?}");
}

#[tokio::test]
async fn the_shopify_demo_order_rewards_both_sides_at_the_stand_in() {
    let demo = start(
        "settings.shopify-demo.toml",
        &[
            ("RFT_SHOPIFY_ADMIN_TOKEN", "shpat_standin_0123456789abcdef"),
            ("RFT_SHOPIFY_WEBHOOK_SECRET", "shopify_standin_webhook_secret"),
        ],
    )
    .await;
    let dan = "7100000000001";
    let code = demo.mint(dan).await;
    let calls = demo.standin_calls().await;
    let discount = calls_of(&calls, "discount code");
    assert_eq!(discount.len(), 1, "{calls:?}");
    assert_eq!(discount[0]["path"], "/admin/api/2025-10/graphql.json");
    assert_eq!(discount[0]["variables"]["basicCodeDiscount"]["code"], code.as_str());

    // The link goes through the storefront's discount path to the demo's checkout.
    let location = demo.location(&format!("/r/{code}")).await;
    let discount_path = url::Url::parse(&location).unwrap();
    assert_eq!(discount_path.path(), format!("/discount/{code}"));
    let query = discount_path.query().unwrap();
    let landing_site = demo.location(&format!("/discount/{code}?{query}")).await;
    assert!(landing_site.starts_with("/demo/checkout?"), "{landing_site}");
    let landing = url::Url::parse(&format!("{}{landing_site}", demo.base)).unwrap();
    let token = landing.query_pairs().find(|(k, _)| k == "rft").map(|(_, v)| v.into_owned()).expect("a token");
    // Elsewhere, the discount path follows no other origin.
    assert_eq!(demo.location(&format!("/discount/{code}?redirect=//evil.example/")).await, "/demo/checkout");

    wait_past_the_quick_conversion_hold().await;
    let mara = "7200000000002";
    let (status, paid) = demo
        .post(
            "/demo/api/shopify/order",
            json!({"customer_id": mara, "email": "mara@example.com", "landing_site": landing_site, "code": code}),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!((paid["status"].as_u64(), paid["answer"]["status"].as_str()), (Some(200), Some("queued")), "{paid}");
    assert_eq!(paid["order"]["landing_site"], landing_site.as_str());
    assert!(landing_site.contains(&format!("rft={token}")), "{landing_site}");
    let order_id = paid["order_id"].as_str().unwrap().to_owned();

    let referral = demo.wait_rewarded(mara).await;
    // The order carried both the click's token (landing_site) and Dan's code (applied by the
    // link): the click is the touch.
    assert_eq!((referral["referrer_id"].as_str(), referral["method"].as_str()), (Some(dan), Some("token")));
    let id = referral["referral_id"].as_str().unwrap();

    // Dan's side: store credit on his account at the stand-in (Shopify takes no key for it).
    let calls = demo.standin_calls().await;
    let credits = calls_of(&calls, "store credit");
    assert_eq!(credits.len(), 1, "{calls:?}");
    assert_eq!(credits[0]["variables"]["id"], format!("gid://shopify/Customer/{dan}"));
    assert_eq!(
        credits[0]["variables"]["creditInput"]["creditAmount"],
        json!({"amount": "10.00", "currencyCode": "GBP"})
    );
    assert_eq!(calls_of(&calls, "discount code").len(), 1, "Mara's side was the code in her cart: {calls:?}");

    let rows = demo.ledger(id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        [&rows[0][0], &rows[0][1], &rows[0][3], &rows[0][4], &rows[0][5]],
        ["friend", mara, "fulfilled", "0", &format!("discount {code} on order {order_id}")]
    );
    assert_eq!([&rows[1][0], &rows[1][1], &rows[1][3]], ["referrer", dan, "fulfilled"]);
    assert!(rows[1][5].starts_with("gid://shopify/StoreCreditAccountCreditTransaction/"), "{rows:?}");
}
