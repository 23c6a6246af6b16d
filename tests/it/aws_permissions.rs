//! What each function's code calls in AWS, recorded on the emulators and kept in
//! `infra/test/aws-calls.json`, which `infra/test/permissions.test.ts` holds the permissions
//! matrix (`infra/lib/permissions.ts`) to: a grant nobody calls, or a call nobody granted,
//! fails there and names the grant to remove or add.
//!
//! Every function is wired as its `main` wires it, on its own copy of the environment, and
//! driven down every path that reaches AWS: each route of the edge, each kind of job, holds,
//! decisions, refunds, erasure, the webhook log's replay and release, the sweep. The SDK
//! interceptor of `rft_aws::calls` records, per function, each IAM action a call needed, on
//! which resource, and for DynamoDB items which kind of partition key (`claim#`, `active#`).
//!
//! When the code's calls change, this test fails and shows the difference. Run it with
//! `RFT_RECORD_CALLS=1` to rewrite the file, then `make infra-test` says which grants to change.
//! A new call on a path this scenario does not drive is invisible to it: drive it here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use rft_aws::calls::Access;
use rft_core::links::{Action, LinkSigner, decision_url, queue_url, unsubscribe_url};
use rft_core::{ReferralId, Settings, Timestamp};
use rft_tests::aws::{AwsStack, call, sqs_event};
use rft_tests::backends::{dynamodb_endpoint, moto_endpoint};
use rft_tests::connected::stripe_settings;
use rft_tests::harness::settings_with;
use rft_tests::provider_standins::StripeStandin;
use rft_tests::switch::{Mode, Switch};

/// The recorded calls, relative to the workspace root.
const CALLS_FILE: &str = "infra/test/aws-calls.json";
const VISIBILITY: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recorded_aws_calls_are_what_the_functions_make() {
    let mut recorded = drive_every_path().await;
    let more =
        drive_the_sweep().await.into_iter().chain(drive_a_flagged_code().await).chain(drive_a_stripe_shop().await);
    for (function, lines) in more {
        recorded.entry(function).or_default().extend(lines);
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(CALLS_FILE);
    if std::env::var_os("RFT_RECORD_CALLS").is_some() {
        std::fs::write(&path, render(&recorded)).expect("writes the calls file");
        return;
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("the calls file exists"))
        .expect("the calls file is JSON");
    let committed: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_value(file["functions"].clone()).expect("per function, a list of lines");
    let mut problems = Vec::new();
    for function in recorded.keys().chain(committed.keys()).collect::<BTreeSet<_>>() {
        let (now, before) =
            (recorded.get(function).cloned().unwrap_or_default(), committed.get(function).cloned().unwrap_or_default());
        problems.extend(now.difference(&before).map(|l| format!("{function}: now calls   {l}")));
        problems.extend(before.difference(&now).map(|l| format!("{function}: no longer   {l}")));
    }
    assert!(
        problems.is_empty(),
        "the functions' AWS calls differ from {CALLS_FILE}:\n  {}\nIf the code changed on purpose, rerun this test \
         with RFT_RECORD_CALLS=1 to rewrite the file, then `make infra-test` names each grant of \
         infra/lib/permissions.ts to add or remove.",
        problems.join("\n  ")
    );
}

/// The file's text: per function, its sorted lines.
fn render(recorded: &BTreeMap<String, BTreeSet<String>>) -> String {
    let file = json!({
        "about": "What each function's code calls in AWS: `action resource [keys <partition key class>*]`. \
                  Recorded by tests/it/aws_permissions.rs (RFT_RECORD_CALLS=1); test/permissions.test.ts \
                  holds lib/permissions.ts to it.",
        "functions": recorded,
    });
    serde_json::to_string_pretty(&file).expect("serialises") + "\n"
}

/// One access as a line of the file, its resource named as the stack names it.
fn line(stack: &AwsStack, prefix: &str, access: &Access) -> String {
    let r = access.resource.as_str();
    let resource = match access.action.split(':').next().unwrap_or_default() {
        "dynamodb" => format!("table/{}", r.strip_prefix(prefix).unwrap_or(r)),
        "sqs" => {
            let name = r.rsplit('/').next().unwrap_or(r);
            format!("queue/{}", name.strip_prefix(prefix).unwrap_or(name))
        }
        "lambda" => format!("function/{r}"),
        "secretsmanager" => "secret".to_owned(),
        "ses" => {
            assert_eq!(
                r,
                stack.env.settings.messages.from_email.as_str(),
                "every email is sent from messages.from_email"
            );
            "ses-identity".to_owned()
        }
        "sns" => {
            assert_eq!(r, "phone-number", "SMS go straight to a phone number");
            "sms".to_owned()
        }
        "bedrock" => {
            assert_eq!(r, stack.env.settings.messages.model_id, "the model is messages.model_id");
            "model".to_owned()
        }
        _ => r.to_owned(),
    };
    match &access.key_class {
        Some(class) => format!("{} {resource} keys {class}*", access.action),
        None => format!("{} {resource}", access.action),
    }
}

fn lines(stack: &AwsStack) -> BTreeMap<String, BTreeSet<String>> {
    let prefix = table_prefix(stack);
    stack
        .calls
        .accesses()
        .into_iter()
        .map(|(function, accesses)| {
            assert!(!function.is_empty(), "a call was made through an environment no function owns");
            (function, accesses.iter().map(|a| line(stack, &prefix, a)).collect())
        })
        .collect()
}

/// The unique prefix of this stack's tables and queues (`t…-`).
fn table_prefix(stack: &AwsStack) -> String {
    let url = stack.signup_queue.url();
    let name = url.rsplit('/').next().unwrap_or(url);
    name.strip_suffix("rft-signup-jobs").expect("the queue's name ends with its design name").to_owned()
}

fn settings() -> Settings {
    settings_with(&[
        ("min_click_to_conversion", "\"0s\""),
        ("fingerprint_fallback", "true"),
        ("on_first_order", "true"),
    ])
}

/// A signed request with a chosen webhook id (a replay sends the same id twice).
fn signed_as(stack: &AwsStack, id: &str, path: &str, body: &Value) -> Request<Body> {
    let body = body.to_string();
    let at: Timestamp = rft_core::Clock::now(&rft_core::time::SystemClock);
    let mut builder = Request::builder().method(Method::POST).uri(path).header("content-type", "application/json");
    for (name, value) in stack.signer.headers(id, at, body.as_bytes()).expect("signs") {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).expect("a request")
}

fn get(path: &str) -> Request<Body> {
    Request::builder().uri(path).header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)").body(Body::empty()).unwrap()
}

/// A browser's click from `ip`, carrying `cookie` if it has one; returns the token.
async fn click(edge: &axum::Router, code: &str, ip: &str, cookie: Option<&str>) -> String {
    let mut request = get(&format!("/r/{code}?ch=whatsapp"));
    request.extensions_mut().insert(rft_http::ClientIp(ip.parse().unwrap()));
    if let Some(token) = cookie {
        request.headers_mut().insert("cookie", format!("rft={token}").parse().unwrap());
    }
    let (status, headers, _) = call(edge, request).await;
    assert_eq!(status, StatusCode::FOUND);
    let cookie = headers["set-cookie"].to_str().unwrap();
    cookie.trim_start_matches("rft=").split(';').next().unwrap().to_owned()
}

async fn post(stack: &AwsStack, edge: &axum::Router, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, json) = call(edge, stack.signed(Method::POST, path, &body.to_string())).await;
    (status, json)
}

/// What Lambda's event source mapping does with `function`'s handler: batches of what is on
/// `queue` until it is empty (each job the handler queues runs too), successes deleted.
/// Returns how many times a job failed and was left for redelivery.
async fn deliver(stack: &AwsStack, queue: &rft_aws::SqsQueue, function: &str) -> usize {
    use rft_core::ports::JobQueue;
    let env = stack.env_of(function);
    let dead_ends = rft_aws::wiring::dead_ends(&env).await;
    let mut failures = 0;
    loop {
        let event = sqs_event(queue, VISIBILITY).await;
        if event.records.is_empty() {
            return failures;
        }
        let receipts: Vec<String> = event.records.iter().filter_map(|m| m.receipt_handle.clone()).collect();
        let failed = if function == "rft-attributor" {
            let secrets = env.secrets().await.expect("the attributor reads the secret");
            let attributor = rft_aws::wiring::attributor(&env, &secrets).await.expect("wires");
            rft_aws::lambda::handle_batch(event, &dead_ends, |job| attributor.handle(job)).await.batch_item_failures
        } else {
            let secrets = env.secrets().await.expect("the secret");
            let rewarder = rft_aws::wiring::rewarder_with(
                &env,
                &secrets,
                Duration::from_millis(500),
                rft_tests::harness::quick_policy(),
            )
            .await
            .expect("wires");
            rft_aws::lambda::handle_batch(event, &dead_ends, |job| rewarder.handle(job)).await.batch_item_failures
        };
        failures += failed.len();
        for receipt in receipts.iter().filter(|r| !failed.iter().any(|f| &f.item_identifier == *r)) {
            queue.ack(receipt).await.expect("ack");
        }
        if !failed.is_empty() {
            // What is left fails until something else happens: leave it to its redelivery.
            return failures;
        }
    }
}

async fn drive_every_path() -> BTreeMap<String, BTreeSet<String>> {
    let moto = Switch::start(&moto_endpoint()).await;
    let stack = AwsStack::start_with_moto(settings(), &dynamodb_endpoint(), &moto.endpoint()).await;
    stack.bedrock_says("Thanks! {{reward}} is yours. {{link}}", Duration::ZERO).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).mount(&stack.store).await;
    let edge = stack.edge().await;
    let ops = LinkSigner::new(stack.secrets.ops.clone());
    let base = stack.env.settings.links.base_url.as_str().trim_end_matches('/').to_owned();
    let in_a_day = rft_core::Clock::now(&rft_core::time::SystemClock).plus(Duration::from_secs(86_400));
    let (signups, rewards) = (&stack.signup_queue, &stack.reward_queue);

    // Links: minted (Bedrock, the codes), read again, and a referrer with only a phone.
    let (status, dan) = post(
        &stack,
        &edge,
        "/api/links",
        json!({"customer_id": "c_dan", "phone": "+447700900123",
        "identity": {"device_id": "dev_dan", "ip": "203.0.113.9"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{dan}");
    let code = dan["code"].as_str().unwrap().to_owned();
    assert_eq!(post(&stack, &edge, "/api/links", json!({"customer_id": "c_dan"})).await.0, StatusCode::OK);
    let (_, eve) = post(&stack, &edge, "/api/links", json!({"customer_id": "c_eve", "email": "eve@example.com"})).await;
    let eve_code = eve["code"].as_str().unwrap().to_owned();

    // Clicks: a new browser, the same browser again, an unknown code.
    let token = click(&edge, &code, "198.51.100.1", None).await;
    click(&edge, &code, "198.51.100.1", Some(&token)).await;
    assert_eq!(call(&edge, get("/r/ZZZZZZ")).await.0, StatusCode::FOUND);
    let browser_token = click(&edge, &eve_code, "198.51.100.7", None).await;
    drop(browser_token);

    // Sign-ups: by token (with a replayed webhook), by email invite, by typed code, by the
    // fingerprint fallback, a held one (disposable email), one that credits nobody.
    let mara = json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token,
        "identity": {"payment_fingerprint": "card_mara", "device_id": "dev_mara", "ip": "198.51.100.1"}});
    assert_eq!(call(&edge, signed_as(&stack, "msg_mara", "/webhooks/signup", &mara)).await.0, StatusCode::ACCEPTED);
    assert_eq!(call(&edge, signed_as(&stack, "msg_mara", "/webhooks/signup", &mara)).await.0, StatusCode::ACCEPTED);
    let (status, _) =
        post(&stack, &edge, "/api/invites", json!({"customer_id": "c_eve", "friend_email": "kim@example.com"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    post(&stack, &edge, "/webhooks/signup", json!({"customer_id": "c_kim", "email": "kim@example.com"})).await;
    post(
        &stack,
        &edge,
        "/webhooks/signup",
        json!({"customer_id": "c_sam", "email": "sam@example.com", "code": eve_code}),
    )
    .await;
    post(
        &stack,
        &edge,
        "/webhooks/signup",
        json!({"customer_id": "c_ola", "email": "ola@example.com",
        "identity": {"ip": "198.51.100.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}}),
    )
    .await;
    let ann_token = click(&edge, &code, "198.51.100.2", None).await;
    post(
        &stack,
        &edge,
        "/webhooks/signup",
        json!({"customer_id": "c_ann", "email": "ann@mailinator.com", "attribution_token": ann_token}),
    )
    .await;
    post(&stack, &edge, "/webhooks/signup", json!({"customer_id": "c_zed", "email": "zed@example.com"})).await;
    // A CSV import (orders marked imported), attributed at checkout (first orders noted, the
    // conversion handed to the rewarder): a new customer with Dan's code, and a repeat customer.
    let file = format!(
        "order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token\n\
         o_ivy_1,c_ivy,ivy@example.com,2500,GBP,,{code},\no_ivy_2,c_ivy,ivy@example.com,2500,GBP,,{code},\n"
    );
    let (status, _, imported) = call(&edge, stack.signed(Method::POST, "/api/imports/conversions", &file)).await;
    assert_eq!((status, imported["queued"].as_u64()), (StatusCode::OK, Some(2)), "{imported}");
    // Ivy's first order also enrols her (minted through rft-minter, mailed once under the
    // webhook log's claim); her enrolment delivered again finds the claim answered.
    assert_eq!(deliver(&stack, signups, "rft-attributor").await, 0);
    let again = rft_core::jobs::EnrolJob {
        customer_id: rft_core::CustomerId::parse("c_ivy").unwrap(),
        email: rft_core::Email::parse("ivy@example.com").unwrap(),
        first_name: None,
        identity: Default::default(),
        order_id: "o_ivy_1".into(),
        webhook_id: "csv:o_ivy_1".into(),
    };
    rft_core::ports::JobQueue::send(signups, &rft_core::Job::Enrol(again)).await.unwrap();
    assert_eq!(deliver(&stack, signups, "rft-attributor").await, 0);
    // Ivy unsubscribes through the edge (the page, then the button); an invite to her is then
    // not sent, and the suppression audited.
    let hasher = rft_core::identity::IdentityHasher::new(stack.secrets.identity.clone());
    let ivy = rft_core::service::unsubscribe::email_hash(&hasher, "ivy@example.com").unwrap();
    let unsubscribe = unsubscribe_url(&base, &ops, &ivy).strip_prefix(&base).unwrap().to_owned();
    assert_eq!(call(&edge, get(&unsubscribe)).await.0, StatusCode::OK);
    let confirm = Request::builder().method(Method::POST).uri(&unsubscribe).body(Body::empty()).unwrap();
    assert_eq!(call(&edge, confirm).await.0, StatusCode::OK);
    let (status, _) =
        post(&stack, &edge, "/api/invites", json!({"customer_id": "c_eve", "friend_email": "ivy@example.com"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The store's reads, the referrer's page and its invite form.
    let (status, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!((status, referral["state"].as_str()), (StatusCode::OK, Some("pending")), "{referral}");
    let (status, _, stats) = call(&edge, stack.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let portal = eve["portal_url"].as_str().unwrap().strip_prefix(&base).unwrap().to_owned();
    assert_eq!(call(&edge, get(&portal)).await.0, StatusCode::OK);
    assert_eq!(call(&edge, get(&portal.replacen("/me", "/me/data", 1))).await.0, StatusCode::OK);
    let invite = Request::builder()
        .method(Method::POST)
        .uri(portal.replacen("/me", "/me/invites", 1))
        .header("content-type", "application/json")
        .body(Body::from(json!({"friend_email": "lee@example.com"}).to_string()))
        .unwrap();
    assert_eq!(call(&edge, invite).await.0, StatusCode::ACCEPTED);

    // The team's queue and a decision on the held referral: approve, then (its conversion
    // held again) reject.
    let queue_page = queue_url(&base, &ops, in_a_day).strip_prefix(&base).unwrap().to_owned();
    assert_eq!(call(&edge, get(&queue_page)).await.0, StatusCode::OK);
    let (_, _, data) = call(&edge, get(&queue_page.replacen("/ops", "/ops/data", 1))).await;
    let held = data.to_string();
    let (_, _, ann) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_ann", "")).await;
    assert_eq!(ann["state"], "held", "{ann} {held}");
    let ann_id = ReferralId::parse(ann["referral_id"].as_str().unwrap()).unwrap();
    for action in [Action::Approve, Action::Reject] {
        let link = decision_url(&base, &ops, &ann_id, action, in_a_day).strip_prefix(&base).unwrap().to_owned();
        assert_eq!(call(&edge, get(&link)).await.0, StatusCode::OK);
        let decide = Request::builder().method(Method::POST).uri(&link).body(Body::empty()).unwrap();
        call(&edge, decide).await;
        deliver(&stack, rewards, "rft-rewarder").await;
    }

    // Conversions: paid (store, thank-yous by email and SMS), one for a customer nobody
    // credited, one whose sign-up has not arrived (retried); then a refund.
    for (customer, order) in [("c_mara", "o_1"), ("c_zed", "o_2"), ("c_late", "o_3"), ("c_sam", "o_4")] {
        let body = json!({"customer_id": customer, "order_id": order, "amount_minor": 3999, "currency": "GBP"});
        assert_eq!(post(&stack, &edge, "/webhooks/conversion", body).await.0, StatusCode::ACCEPTED);
    }
    assert!(deliver(&stack, rewards, "rft-rewarder").await >= 1, "c_late's conversion waits for its sign-up");
    let (_, _, paid) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_mara", "")).await;
    assert_eq!(paid["state"], "rewarded", "{paid}");
    // The store sends the paid conversion again: the rewarder looks for unfinished steps.
    let again = json!({"customer_id": "c_mara", "order_id": "o_1", "amount_minor": 3999, "currency": "GBP"});
    assert_eq!(post(&stack, &edge, "/webhooks/conversion", again).await.0, StatusCode::ACCEPTED);
    deliver(&stack, rewards, "rft-rewarder").await;
    post(&stack, &edge, "/webhooks/refund", json!({"customer_id": "c_mara", "order_id": "o_1"})).await;
    post(&stack, &edge, "/webhooks/refund", json!({"customer_id": "c_zed", "order_id": "o_2"})).await;
    deliver(&stack, rewards, "rft-rewarder").await;
    assert!(!stack.sent_sms().await.is_empty(), "Dan, who gave only a phone, was thanked by SMS");

    // The ledger export, a page of the ledger at a time.
    let (status, headers, _) = call(&edge, stack.signed(Method::GET, "/api/exports/ledger.csv", "")).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "text/csv; charset=utf-8"));

    // The owner's console: a sign-in link asked for (mailed through SES), used once (the webhook
    // log) and refused the second time, then every page's reads, a decision there is nothing to
    // take, and retiring a code (through the minter).
    let team = stack.env.settings.team.email.clone();
    let login = Request::builder()
        .method(Method::POST)
        .uri("/admin/login")
        .header("content-type", "application/json")
        .body(Body::from(json!({"email": team.as_str()}).to_string()))
        .unwrap();
    assert_eq!(call(&edge, login).await.0, StatusCode::ACCEPTED);
    let token =
        rft_http::admin::session::sign_in_token(&ops, &team, rft_core::Clock::now(&rft_core::time::SystemClock));
    let use_link = || {
        Request::builder()
            .method(Method::POST)
            .uri("/admin/auth")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let (status, headers, _) = call(&edge, use_link()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(call(&edge, use_link()).await.0, StatusCode::FORBIDDEN, "used once");
    let cookie = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let console = |method: Method, path: &str, csrf: Option<&str>| {
        let mut b = Request::builder().method(method).uri(path).header("cookie", cookie.as_str());
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        b.body(Body::empty()).unwrap()
    };
    let (_, _, session) = call(&edge, console(Method::GET, "/admin/api/session", None)).await;
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let mara_id = paid["referral_id"].as_str().unwrap().to_owned();
    for path in [
        "/admin/api/overview".to_owned(),
        "/admin/api/referrals".to_owned(),
        "/admin/api/referrals?state=held".to_owned(),
        format!("/admin/api/referrals?code={eve_code}"),
        "/admin/api/referrals?customer=mara%40example.com".to_owned(),
        "/admin/api/referrals?customer=c_mara".to_owned(),
        format!("/admin/api/referrals/{mara_id}"),
        "/admin/api/referrers".to_owned(),
        "/admin/api/referrers/c_eve".to_owned(),
        "/admin/api/queues".to_owned(),
        "/admin/api/customers/c_zed".to_owned(),
        "/admin/api/export/referrals.csv".to_owned(),
        "/admin/api/export/ledger.csv".to_owned(),
        "/admin/api/events".to_owned(),
    ] {
        assert_eq!(call(&edge, console(Method::GET, &path, None)).await.0, StatusCode::OK, "{path}");
    }
    let decide = format!("/admin/api/referrals/{}/approve", ann_id.as_str());
    assert_eq!(
        call(&edge, console(Method::POST, &decide, Some(&csrf))).await.0,
        StatusCode::CONFLICT,
        "Ann is decided"
    );
    // Zed, who credited nobody, credited to Dan by hand: checked by the edge (Zed's audit,
    // Dan's live code), opened by the attributor.
    let credit = json!({"customer_id": "c_zed", "referrer_id": "c_dan", "reason": "told us in the shop"});
    let mut request = console(Method::POST, "/admin/api/credits", Some(&csrf));
    *request.body_mut() = Body::from(credit.to_string());
    request.headers_mut().insert("content-type", "application/json".parse().unwrap());
    let (status, _, queued) = call(&edge, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(deliver(&stack, signups, "rft-attributor").await, 0);
    let (_, _, zed) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_zed", "")).await;
    assert_eq!(zed["method"], "manual", "{zed}");
    let retire = format!("/admin/api/codes/{code}/retire");
    assert_eq!(call(&edge, console(Method::POST, &retire, Some(&csrf))).await.0, StatusCode::OK);
    // A retry reads the reward's row and a flag clearing the code before queueing anything:
    // Mara's reward is paid and Eve's code is not flagged, so both are refused after the read.
    let retry = format!("/admin/api/rewards/{mara_id}/referrer/retry");
    assert_eq!(call(&edge, console(Method::POST, &retry, Some(&csrf))).await.0, StatusCode::CONFLICT);
    let clear = format!("/admin/api/codes/{eve_code}/clear-flag");
    assert_eq!(call(&edge, console(Method::POST, &clear, Some(&csrf))).await.0, StatusCode::CONFLICT);

    // Jobs that can never succeed are set aside for a person by either consumer: a job on the
    // wrong queue, a message that is not a job.
    rft_core::ports::JobQueue::send(rewards, &rft_tests::fixtures::signup_job(9)).await.unwrap();
    deliver(&stack, rewards, "rft-rewarder").await;
    let mut unreadable = aws_lambda_events::event::sqs::SqsMessage::default();
    unreadable.message_id = Some("m-unreadable".into());
    unreadable.body = Some("{\"not\": \"a job\"}".into());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![unreadable];
    let env = stack.env_of("rft-attributor");
    let secrets = env.secrets().await.expect("the attributor reads the secret");
    let attributor = rft_aws::wiring::attributor(&env, &secrets).await.expect("wires");
    let dead_ends = rft_aws::wiring::dead_ends(&env).await;
    assert!(
        rft_aws::lambda::handle_batch(event, &dead_ends, |job| attributor.handle(job))
            .await
            .batch_item_failures
            .is_empty()
    );

    // An enrolment whose email cannot go out (SES down) gives its claim back at once, so the
    // queue's next delivery sends it without waiting out the claim's lease.
    moto.set(Mode::Down).await;
    let noa = rft_core::jobs::EnrolJob {
        customer_id: rft_core::CustomerId::parse("c_noa").unwrap(),
        email: rft_core::Email::parse("noa@example.com").unwrap(),
        first_name: None,
        identity: Default::default(),
        order_id: "o_noa_1".into(),
        webhook_id: "csv:o_noa_1".into(),
    };
    assert!(attributor.handle(rft_core::Job::Enrol(noa)).await.is_err(), "the email could not be sent");
    moto.set(Mode::Up).await;

    // A webhook whose job cannot be queued releases its id for the store's retry.
    moto.set(Mode::Down).await;
    let (status, _) =
        post(&stack, &edge, "/webhooks/signup", json!({"customer_id": "c_amy", "email": "amy@example.com"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    moto.set(Mode::Up).await;

    // Retiring a code, and erasing a referrer and a referred customer.
    assert_eq!(post(&stack, &edge, &format!("/api/codes/{eve_code}/retire"), json!({})).await.0, StatusCode::OK);
    for customer in ["c_dan", "c_mara"] {
        let (status, body) = post(&stack, &edge, &format!("/api/customers/{customer}/erase"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    drive_the_operators_calls(&stack).await;
    lines(&stack)
}

/// The rewarder's direct calls an operator makes: sealing a code, a referral and an audit event
/// written before sealing (unsealed here, outside the functions' clients), and erasing again
/// after a restore.
async fn drive_the_operators_calls(stack: &AwsStack) {
    use rft_aws::invoke::{RewarderCall, RewarderReply, serve_rewarder};
    let client = rft_tests::backends::dynamodb_client().await;
    let tables = stack.env.store().tables().clone();
    for table in [&tables.codes, &tables.referrals, &tables.audit] {
        let items = client.scan().table_name(table).send().await.unwrap().items.unwrap_or_default();
        let sealed =
            items.into_iter().find(|it| it.contains_key("p") && it.contains_key("doc")).expect("a sealed record");
        rft_tests::backends::write_as_before_sealing(&client, &tables, table, &sealed).await;
    }
    let ops = rft_aws::wiring::rewarder_ops(&stack.env_of("rft-rewarder"), &stack.secrets).await;
    let sealed = serve_rewarder(&ops, RewarderCall::SealExisting).await;
    assert!(matches!(sealed, RewarderReply::Sealed { records: 3 }), "{sealed:?}");
    let reapplied = serve_rewarder(&ops, RewarderCall::ReapplyErasures).await;
    assert!(matches!(reapplied, RewarderReply::Reapplied { erased: 0 }), "{reapplied:?}");
}

/// A code caught spraying: flagged by the attributor (its pending referral held), listed on
/// the ops queue, cleared by a person (the rewarder releases its referrals), then retired.
async fn drive_a_flagged_code() -> BTreeMap<String, BTreeSet<String>> {
    let stack = AwsStack::start(settings_with(&[("max_signups_per_code_per_hour", "1")])).await;
    stack.bedrock_says("{{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    let (_, dan) = post(&stack, &edge, "/api/links", json!({"customer_id": "c_dan"})).await;
    let code = dan["code"].as_str().unwrap().to_owned();
    for friend in ["c_ann", "c_bob"] {
        let body = json!({"customer_id": friend, "email": format!("{friend}@example.com"), "code": code});
        post(&stack, &edge, "/webhooks/signup", body).await;
        deliver(&stack, &stack.signup_queue, "rft-attributor").await;
    }
    let (_, _, ann) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_ann", "")).await;
    assert_eq!(ann["state"], "held", "the flag holds the code's pending referral: {ann}");
    let base = stack.env.settings.links.base_url.as_str().trim_end_matches('/').to_owned();
    let ops = LinkSigner::new(stack.secrets.ops.clone());
    let in_a_day = rft_core::Clock::now(&rft_core::time::SystemClock).plus(Duration::from_secs(86_400));
    let queue = queue_url(&base, &ops, in_a_day).strip_prefix(&base).unwrap().replacen("/ops", "/ops/data", 1);
    let (_, _, data) = call(&edge, get(&queue)).await;
    let clear = data["flagged_codes"][0]["clear_url"].as_str().expect("the code is listed").to_owned();
    let retire = data["flagged_codes"][0]["retire_url"].as_str().unwrap().to_owned();
    call(&edge, Request::builder().method(Method::POST).uri(&clear).body(Body::empty()).unwrap()).await;
    assert_eq!(deliver(&stack, &stack.reward_queue, "rft-rewarder").await, 0);
    let (_, _, ann) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_ann", "")).await;
    assert_eq!(ann["state"], "pending", "clearing the flag releases it: {ann}");
    let flag_again = json!({"customer_id": "c_cat", "email": "cat@example.com", "code": code});
    post(&stack, &edge, "/webhooks/signup", flag_again).await;
    deliver(&stack, &stack.signup_queue, "rft-attributor").await;
    call(&edge, Request::builder().method(Method::POST).uri(&retire).body(Body::empty()).unwrap()).await;
    lines(&stack)
}

/// The hourly sweep, on a stack whose window is short enough to expire a referral and whose
/// confirmation period short enough for a conversion to come due.
async fn drive_the_sweep() -> BTreeMap<String, BTreeSet<String>> {
    let stack = AwsStack::start(settings_with(&[
        ("window", "\"4s\""),
        ("confirm_after", "\"1s\""),
        ("min_click_to_conversion", "\"0s\""),
    ]))
    .await;
    stack.bedrock_says("{{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    let (_, dan) = post(&stack, &edge, "/api/links", json!({"customer_id": "c_dan"})).await;
    let token = click(&edge, dan["code"].as_str().unwrap(), "198.51.100.1", None).await;
    post(
        &stack,
        &edge,
        "/webhooks/signup",
        json!({"customer_id": "c_mara", "email": "mara@example.com", "attribution_token": token}),
    )
    .await;
    let token = click(&edge, dan["code"].as_str().unwrap(), "198.51.100.2", None).await;
    post(
        &stack,
        &edge,
        "/webhooks/signup",
        json!({"customer_id": "c_kim", "email": "kim@example.com", "attribution_token": token}),
    )
    .await;
    deliver(&stack, &stack.signup_queue, "rft-attributor").await;
    let conversion = json!({"customer_id": "c_kim", "order_id": "o_1", "amount_minor": 3999, "currency": "GBP"});
    post(&stack, &edge, "/webhooks/conversion", conversion).await;
    deliver(&stack, &stack.reward_queue, "rft-rewarder").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Mara's referral as a version before sealing wrote it, her key not yet made: the sweep
    // that expires it seals it, making her key.
    let client = rft_tests::backends::dynamodb_client().await;
    let tables = stack.env.store().tables().clone();
    let items = client.scan().table_name(&tables.referrals).send().await.unwrap().items.unwrap_or_default();
    let is_maras = |it: &&rft_aws::item::Item| rft_aws::item::get_s(it, "ko") == Some("c_mara");
    let maras = items.iter().find(is_maras).expect("Mara's referral is sealed");
    rft_tests::backends::write_as_before_sealing(&client, &tables, &tables.referrals, maras).await;
    client.delete_item().table_name(&tables.keys).key("owner", rft_aws::item::s("c_mara")).send().await.unwrap();
    let sweeper = rft_aws::wiring::sweeper(&stack.env_of("rft-sweep")).await.expect("wires");
    assert_eq!(sweeper.run().await.expect("the sweep runs"), 1, "Mara's referral expired");
    assert_eq!(deliver(&stack, &stack.reward_queue, "rft-rewarder").await, 0, "Kim's conversion came due and paid");
    let (_, _, kim) = call(&edge, stack.signed(Method::GET, "/api/referrals/c_kim", "")).await;
    assert_eq!(kim["state"], "rewarded", "{kim}");
    // Its other job: counting the clicks table's stream (Mara's and Kim's clicks), a batch
    // delivered twice among them.
    let env = stack.env_of("rft-sweep");
    let follower = rft_aws::wiring::follower(&env).await;
    let stream = rft_tests::streams::StreamPump::new(&env.store().tables().clicks);
    let now = rft_core::Clock::now(&rft_core::time::SystemClock);
    assert_eq!(stream.follow(&follower, now).await.clicks, 2);
    stream.redeliver(&follower, now).await;
    let tables = env.store().tables().clone();
    let unwatched = rft_aws::DynamoStore::new(rft_tests::backends::dynamodb_client().await, tables);
    let series = rft_core::rollup::code_series(&rft_core::Code::parse(dan["code"].as_str().unwrap()).unwrap());
    let rows = rft_core::ports::Counters::rows(&unwatched, &series, now.day() - 1, now.day()).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.get("clicks")).sum::<i64>(), 2, "counted once: {rows:?}");
    lines(&stack).into_iter().filter(|(f, _)| f == "rft-sweep").collect()
}

/// A Stripe shop (its API a stand-in): the minter reads the secret for the API key, makes the
/// friend's discount or, when Stripe fails, queues it for the rewarder; a reward parked by an
/// outage is retried at a person's request; retiring and erasure deactivate discounts.
async fn drive_a_stripe_shop() -> BTreeMap<String, BTreeSet<String>> {
    use rft_core::ports::JobQueue;
    let stripe = StripeStandin::start().await;
    let stack = AwsStack::start(stripe_settings(&stripe, "balance", &[("min_click_to_conversion", "\"0s\"")])).await;
    stack.bedrock_says("{{link}}", Duration::ZERO).await;
    let edge = stack.edge().await;
    // Stripe fails at Dan's mint: his discount is queued for the rewarder, which makes it.
    stripe.faults.fail_next(1, 503);
    let (status, dan) =
        post(&stack, &edge, "/api/links", json!({"customer_id": "cus_dan", "email": "dan@example.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{dan}");
    assert_eq!(deliver(&stack, &stack.reward_queue, "rft-rewarder").await, 0);
    assert_eq!(stripe.promotion_codes().len(), 1, "the rewarder made the queued discount");
    let (_, eve) =
        post(&stack, &edge, "/api/links", json!({"customer_id": "cus_eve", "email": "eve@example.com"})).await;
    // Mara converts while Stripe is down: both sides park; a person retries them.
    let token = click(&edge, dan["code"].as_str().unwrap(), "198.51.100.1", None).await;
    let mara = json!({"customer_id": "cus_mara", "email": "mara@example.com", "attribution_token": token});
    post(&stack, &edge, "/webhooks/signup", mara).await;
    deliver(&stack, &stack.signup_queue, "rft-attributor").await;
    stripe.faults.fail_next(1_000, 503);
    let conversion = json!({"customer_id": "cus_mara", "order_id": "pi_1", "amount_minor": 3999, "currency": "GBP"});
    post(&stack, &edge, "/webhooks/conversion", conversion).await;
    deliver(&stack, &stack.reward_queue, "rft-rewarder").await;
    stripe.faults.clear();
    let (_, _, referral) = call(&edge, stack.signed(Method::GET, "/api/referrals/cus_mara", "")).await;
    let referral_id = ReferralId::parse(referral["referral_id"].as_str().unwrap()).unwrap();
    for side in [rft_core::Side::Referrer, rft_core::Side::Friend] {
        let retry = rft_core::jobs::RetryJob {
            referral_id: referral_id.clone(),
            side,
            requested_by: "ops".into(),
            requested_at: rft_core::Clock::now(&rft_core::time::SystemClock),
        };
        stack.reward_queue.send(&rft_core::Job::Retry(retry)).await.unwrap();
    }
    assert_eq!(deliver(&stack, &stack.reward_queue, "rft-rewarder").await, 0);
    assert_eq!(stripe.balance_transactions().len(), 2, "the retries credited each side");
    // Retiring deactivates Eve's discount; erasing Dan retires his code, and the rewarder
    // deactivates its discount.
    let eve_code = eve["code"].as_str().unwrap();
    assert_eq!(post(&stack, &edge, &format!("/api/codes/{eve_code}/retire"), json!({})).await.0, StatusCode::OK);
    assert_eq!(post(&stack, &edge, "/api/customers/cus_dan/erase", json!({})).await.0, StatusCode::OK);
    assert_eq!(deliver(&stack, &stack.reward_queue, "rft-rewarder").await, 0);
    assert!(stripe.promotion_codes().iter().all(|p| p["active"] == false), "both discounts deactivated");
    lines(&stack)
}
