//! The owner's console through its HTTP surface: signing in through the emailed link, a
//! scripted programme, and what each page and action answers. Used by `tests/console.rs` on
//! the embedded store and DynamoDB Local.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use rft_core::ports::MessageKind;
use rft_core::time::Clock;

use crate::harness::{Harness, StoreMode, settings_with};

/// The team address of the example settings, and a further member.
pub const OWNER: &str = "referrals@freshbox.uk";
/// A member listed in `team.members`.
pub const MEMBER: &str = "owner@freshbox.uk";

/// The example settings with a second team member and conversions that may come at once.
pub fn console_settings() -> rft_core::Settings {
    settings_with(&CONSOLE)
}

/// The console's settings, and a code flagged at its third sign-up in an hour.
pub fn flagging_settings() -> rft_core::Settings {
    settings_with(&[CONSOLE[0], CONSOLE[1], ("max_signups_per_code_per_hour", "2")])
}

const CONSOLE: [(&str, &str); 2] =
    [("ops_link_ttl", "\"7d\"\nmembers = [\"owner@freshbox.uk\"]"), ("min_click_to_conversion", "\"0s\"")];

/// A response read whole, as text.
#[derive(Debug)]
pub struct Raw {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub text: String,
}

impl Raw {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Sends a request through a router and reads the whole answer.
pub async fn raw(router: axum::Router, request: Request<Body>) -> Raw {
    let response = router.oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body reads");
    Raw { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

/// A plain request to the console (Host set, as browsers do).
pub fn request(
    method: Method,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path).header(header::HOST, "refer.freshbox.uk");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, format!("rft_console={c}"));
    }
    if let Some(t) = csrf {
        b = b.header("x-csrf-token", t);
    }
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    b.body(body).expect("a request")
}

/// Asks for a sign-in link for `email`; the token of the newest link mailed to it, if any.
pub async fn ask_link(h: &Harness, email: &str) -> (Raw, Option<String>) {
    let before = h.messages.of_kind(MessageKind::ConsoleSignIn).len();
    let answer =
        raw(h.system.router(), request(Method::POST, "/admin/login", None, None, Some(json!({ "email": email }))))
            .await;
    let sent = h.messages.of_kind(MessageKind::ConsoleSignIn);
    let token = sent[before..].iter().rev().find(|m| m.to.eq_ignore_ascii_case(email)).map(|m| token_in(&m.body));
    (answer, token)
}

/// The token of the sign-in link in an email's text.
pub fn token_in(body: &str) -> String {
    let start = body.find("token=").expect("the email holds a sign-in link") + "token=".len();
    body[start..].split_whitespace().next().unwrap_or_default().to_owned()
}

/// Uses a sign-in token (the link's button); the answer and the session cookie it set.
pub async fn use_link(router: axum::Router, token: &str) -> (Raw, Option<String>) {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("token", token).finish();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/admin/auth")
        .header(header::HOST, "refer.freshbox.uk")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a request");
    let answer = raw(router, request).await;
    let cookie = answer
        .headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.strip_prefix("rft_console="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned());
    (answer, cookie)
}

/// A signed-in team member: their cookie and CSRF token.
pub struct Member {
    /// The session cookie's value.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Member {
    /// Signs `email` in through the emailed link.
    pub async fn sign_in(h: &Harness, email: &str) -> Member {
        let (_, token) = ask_link(h, email).await;
        let (answer, cookie) = use_link(h.system.router(), &token.expect("a link was mailed")).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
        let cookie = cookie.expect("a session cookie");
        let session =
            raw(h.system.router(), request(Method::GET, "/admin/api/session", Some(&cookie), None, None)).await;
        assert_eq!(session.status, StatusCode::OK, "{}", session.text);
        Member { cookie, csrf: session.json()["csrf_token"].as_str().unwrap_or_default().to_owned() }
    }

    /// `GET` a console route.
    pub async fn get(&self, h: &Harness, path: &str) -> Raw {
        raw(h.system.router(), request(Method::GET, path, Some(&self.cookie), None, None)).await
    }

    /// `POST` to a console route with the CSRF token.
    pub async fn post(&self, h: &Harness, path: &str, body: Option<Value>) -> Raw {
        raw(h.system.router(), request(Method::POST, path, Some(&self.cookie), Some(&self.csrf), body)).await
    }
}

/// A browser's click on a code, shared on `channel`, carrying `token` if it has one; the token.
pub async fn click(h: &Harness, code: &str, channel: Option<&str>, token: Option<&str>) -> String {
    let path = match channel {
        Some(ch) => format!("/r/{code}?ch={ch}"),
        None => format!("/r/{code}"),
    };
    let mut b =
        Request::builder().uri(path).header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)");
    if let Some(t) = token {
        b = b.header(header::COOKIE, format!("rft={t}"));
    }
    let mut request = b.body(Body::empty()).expect("a request");
    request.extensions_mut().insert(rft_http::ClientIp("203.0.113.7".parse().expect("an IP")));
    let answer = h.call(request).await;
    crate::harness::token_of(&answer)
}

/// Identity values the scripted programme sends, none of which the console may show.
pub const SECRETS: &[&str] = &[
    "dan.secret@example.com",
    "dev_dan_secret",
    "203.0.113.50",
    "mara.secret@example.com",
    "card_mara_secret",
    "dev_mara_secret",
    "198.51.100.77",
    "ann.secret@mailinator.com",
    "pat.secret@example.com",
    "lee.secret@example.com",
    "kim.secret@example.com",
    "zed.secret@example.com",
    "+447700900999",
    "203.0.113.7",
];

/// What the scripted programme made.
pub struct Programme {
    /// Dan's code.
    pub dan: String,
    /// Sam's code.
    pub sam: String,
}

/// A small programme: Dan (two clicks on WhatsApp, one by text) and Sam; Mara paid then
/// refunded, Kim's rewards parked (the store refused them), Ann held (a disposable address,
/// converted while held), Pat held (shares Dan's device), Lee pending (clicked Sam's link, then
/// Dan's), Zed credited nobody.
pub async fn programme(h: &Harness) -> Programme {
    let dan = h
        .mint(
            "c_dan",
            json!({"first_name": "Dan", "email": "dan.secret@example.com", "phone": "+447700900999",
            "identity": {"device_id": "dev_dan_secret", "ip": "203.0.113.50"}}),
        )
        .await;
    assert!(dan.status.is_success(), "{:?}", dan.json);
    let dan = dan.json["code"].as_str().expect("a code").to_owned();
    let sam = h.mint("c_sam", json!({"first_name": "Sam"})).await.json["code"].as_str().expect("a code").to_owned();
    let mara = click(h, &dan, Some("whatsapp"), None).await;
    let ann = click(h, &dan, Some("whatsapp"), None).await;
    let lee = click(h, &sam, Some("sms"), None).await;
    let lee = {
        h.clock.advance(std::time::Duration::from_secs(60));
        click(h, &dan, Some("sms"), Some(&lee)).await
    };
    let pat = click(h, &dan, None, None).await;
    h.signup(json!({"customer_id": "c_mara", "email": "mara.secret@example.com", "first_name": "Mara",
        "attribution_token": mara,
        "identity": {"payment_fingerprint": "card_mara_secret", "device_id": "dev_mara_secret", "ip": "198.51.100.77"}}))
        .await;
    h.signup(json!({"customer_id": "c_ann", "email": "ann.secret@mailinator.com", "first_name": "Ann", "attribution_token": ann}))
        .await;
    h.signup(json!({"customer_id": "c_lee", "email": "lee.secret@example.com", "first_name": "Lee", "attribution_token": lee}))
        .await;
    h.signup(
        json!({"customer_id": "c_pat", "email": "pat.secret@example.com", "first_name": "Pat", "attribution_token": pat,
        "identity": {"device_id": "dev_dan_secret"}}),
    )
    .await;
    h.signup(json!({"customer_id": "c_kim", "email": "kim.secret@example.com", "first_name": "Kim", "code": sam}))
        .await;
    h.signup(json!({"customer_id": "c_zed", "email": "zed.secret@example.com"})).await;
    for (who, state) in
        [("c_mara", "pending"), ("c_ann", "held"), ("c_lee", "pending"), ("c_pat", "held"), ("c_kim", "pending")]
    {
        assert_eq!(h.referral(who).await.json["state"], state, "{who}");
    }
    h.convert("c_mara", "o_mara").await;
    h.store.set(StoreMode::Refuses(422));
    h.convert("c_kim", "o_kim").await;
    h.store.set(StoreMode::Normal);
    h.convert("c_ann", "o_ann").await;
    let refund = json!({"customer_id": "c_mara", "order_id": "o_mara"});
    h.call(h.signed(Method::POST, "/webhooks/refund", &refund.to_string())).await;
    h.settle().await;
    assert_eq!(h.referral("c_mara").await.json["state"], "rewarded");
    assert_eq!(h.referral("c_kim").await.json["state"], "rewarded");
    Programme { dan, sam }
}

/// The stats API's numbers for a referrer.
pub async fn stats(h: &Harness, customer: &str) -> Value {
    let answer = h.call(h.signed(Method::GET, &format!("/api/referrers/{customer}/stats"), "")).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    answer.json
}

/// The overview's and the referrers' figures agree with the stats API to the unit.
pub async fn figures_agree_with_the_stats_api(h: Harness) {
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let overview = member.get(&h, "/admin/api/overview").await.json();
    let totals = &overview["totals"];
    let (dan, sam) = (stats(&h, "c_dan").await, stats(&h, "c_sam").await);
    for key in ["clicks", "signups", "conversions", "pending", "held", "rewarded"] {
        let sum = dan["stats"][key].as_u64().unwrap() + sam["stats"][key].as_u64().unwrap();
        assert_eq!(totals[key].as_u64(), Some(sum), "{key}: {totals}");
    }
    assert_eq!(totals["conversion_rate"], dan["stats"]["programme_conversion_rate"], "the programme's rate");
    assert_eq!(
        (totals["clicks"].as_u64(), totals["signups"].as_u64(), totals["conversions"].as_u64()),
        (Some(5), Some(5), Some(3))
    );
    assert_eq!((totals["held"].as_u64(), totals["rewarded"].as_u64()), (Some(2), Some(2)));
    let money = |v: &Value| {
        v.as_array().unwrap().iter().map(|a| a["formatted"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(money(&totals["revenue"]), ["£119.97"], "three first orders of £39.99");
    assert_eq!(money(&totals["rewards_paid"]), ["£20.00"], "Mara's two sides");
    assert_eq!(money(&totals["rewards_parked"]), ["£20.00"], "Kim's two sides, refused by the store");
    assert_eq!(totals["refunded"][0]["count"], 1, "Mara's order");
    let today = &overview["daily"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["clicks"].as_u64(), Some(5));
    let daily_sum: u64 = overview["daily"].as_array().unwrap().iter().map(|d| d["clicks"].as_u64().unwrap()).sum();
    let stats_daily: u64 = [&dan, &sam]
        .iter()
        .flat_map(|s| s["stats"]["daily"].as_array().unwrap().iter().map(|d| d["clicks"].as_u64().unwrap()))
        .sum();
    assert_eq!(daily_sum, stats_daily);
    for row in overview["top_referrers"].as_array().unwrap() {
        let s = if row["customer_id"] == "c_dan" { &dan } else { &sam };
        for key in ["clicks", "signups", "conversions", "rewarded"] {
            assert_eq!(row[key], s["stats"][key], "{key} of {}", row["customer_id"]);
        }
        assert_eq!(row["earned"], s["stats"]["earned"]);
    }
    let channel = |name: &str| overview["channels"].as_array().unwrap().iter().find(|c| c["channel"] == name).cloned();
    assert_eq!(channel("whatsapp").unwrap()["clicks"], 2);
    assert_eq!(channel("sms").unwrap()["clicks"], 2);
    let page = member.get(&h, "/admin/api/referrers?status=active").await.json();
    let rows = page["referrers"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let s = if row["customer_id"] == "c_dan" { &dan } else { &sam };
        for key in ["clicks", "signups", "conversions", "pending", "held", "rewarded"] {
            assert_eq!(row[key], s["stats"][key], "{key} of {}", row["customer_id"]);
        }
    }
    let detail = member.get(&h, "/admin/api/referrers/c_dan").await.json();
    assert_eq!(detail["stats"], dan["stats"], "the referrer's page shows the stats API's numbers");
}

/// A sign-in link works once, whichever instance it reaches: a second system over the same
/// stores and secrets refuses it once the first used it.
pub async fn a_sign_in_link_works_once_across_instances(h: Harness) {
    let other = twin_router(&h);
    let (_, token) = ask_link(&h, OWNER).await;
    let token = token.expect("a link");
    let (first, cookie) = use_link(other, &token).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text);
    assert!(cookie.is_some());
    let (again, cookie) = use_link(h.system.router(), &token).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.text);
    assert!(again.text.contains("already been used"), "{}", again.text);
    assert!(cookie.is_none());
}

/// Approving, rejecting and retiring take effect and are audited with the member's address.
pub async fn actions_take_effect_and_are_audited(h: Harness) {
    let p = programme(&h).await;
    let member = Member::sign_in(&h, MEMBER).await;
    let id_of = |v: Value| v["referral_id"].as_str().unwrap().to_owned();
    let ann = id_of(h.referral("c_ann").await.json);
    let pat = id_of(h.referral("c_pat").await.json);
    let approved = member.post(&h, &format!("/admin/api/referrals/{ann}/approve"), None).await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.text);
    assert_eq!(approved.json()["by"], MEMBER);
    let rejected = member.post(&h, &format!("/admin/api/referrals/{pat}/reject"), None).await;
    assert_eq!(rejected.status, StatusCode::ACCEPTED, "{}", rejected.text);
    h.settle().await;
    assert_eq!(h.referral("c_ann").await.json["state"], "rewarded", "approved after its order: paid");
    assert_eq!(h.referral("c_pat").await.json["state"], "rejected");
    let again = member.post(&h, &format!("/admin/api/referrals/{pat}/approve"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing left to decide: {}", again.text);
    let audit = |id: String| {
        let audit = h.system.ports.stores.audit.clone();
        async move { audit.events_for(&id).await.unwrap() }
    };
    let by = |events: &[rft_core::AuditEvent], kind| {
        events.iter().find(|e| e.kind == kind).map(|e| e.facts["by"].clone()).unwrap_or(Value::Null)
    };
    assert_eq!(by(&audit(ann.clone()).await, rft_core::AuditKind::Approved), MEMBER);
    assert_eq!(by(&audit(pat.clone()).await, rft_core::AuditKind::Rejected), MEMBER);
    let story = member.get(&h, &format!("/admin/api/referrals/{ann}")).await.json();
    let titles: Vec<&str> =
        story["story"]["lines"].as_array().unwrap().iter().filter_map(|l| l["title"].as_str()).collect();
    assert!(titles.iter().any(|t| *t == format!("Approved by {MEMBER}")), "{titles:?}");
    let retired = member.post(&h, &format!("/admin/api/codes/{}/retire", p.sam), None).await;
    assert_eq!(retired.status, StatusCode::OK, "{}", retired.text);
    assert_eq!((retired.json()["status"].clone(), retired.json()["by"].clone()), (json!("retired"), json!(MEMBER)));
    assert_eq!(by(&audit(p.sam.clone()).await, rft_core::AuditKind::Retired), MEMBER);
    let landing = h.click(&p.sam, None).await;
    assert_eq!(landing.header("location"), Some("https://freshbox.uk/"), "a retired code lands on the fallback");
    let page = member.get(&h, "/admin/api/referrers?status=retired").await.json();
    assert_eq!(page["referrers"][0]["customer_id"], "c_sam");
    assert_eq!(member.post(&h, "/admin/api/codes/ZZZZZZ/retire", None).await.status, StatusCode::NOT_FOUND);
}

/// Crediting a sign-up by hand: Zed signed up with no touch and then ordered, so nobody was
/// paid. A member credits Zed to Dan with a reason: the referral opens through Dan's code,
/// audited with the member and the reason, the story says so, and Zed's earlier order converts
/// it (both sides paid once). What cannot be credited is refused with the reason, queueing
/// nothing.
pub async fn a_sign_up_is_credited_by_hand(h: Harness) {
    let p = programme(&h).await;
    h.clock.advance(std::time::Duration::from_secs(60));
    h.convert("c_zed", "o_zed").await;
    assert_eq!(h.referral("c_zed").await.status, StatusCode::NOT_FOUND, "Zed credits nobody yet");
    let member = Member::sign_in(&h, MEMBER).await;
    // Searching for Zed finds no referral; the customer's own page says why, and that a
    // person may credit the sign-up with the order that paid nothing.
    let zed = member.get(&h, "/admin/api/customers/c_zed").await.json();
    assert_eq!(
        (&zed["creditable"], &zed["first_order"], &zed["referral_id"]),
        (&json!(true), &json!("o_zed"), &Value::Null)
    );
    let titles: Vec<&str> = zed["history"].as_array().unwrap().iter().filter_map(|l| l["title"].as_str()).collect();
    assert_eq!(
        titles,
        [
            "Signed up but credited nobody: no click, invite or typed code inside the window",
            "Order o_zed paid nothing: the sign-up credited nobody"
        ]
    );
    let mara = member.get(&h, "/admin/api/customers/c_mara").await.json();
    assert_eq!(mara["creditable"], false);
    assert!(mara["not_creditable"].as_str().unwrap().contains("already referred"), "{mara}");
    assert_eq!(member.get(&h, "/admin/api/customers/c_nobody").await.status, StatusCode::NOT_FOUND);
    let reason = "Zed told us at the counter that Dan sent him";
    let body = json!({"customer_id": "c_zed", "referrer_id": "c_dan", "reason": reason});
    let answer = member.post(&h, "/admin/api/credits", Some(body.clone())).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    let queued = answer.json();
    assert_eq!(
        (&queued["code"], &queued["first_order"], &queued["by"]),
        (&json!(p.dan), &json!("o_zed"), &json!(MEMBER))
    );
    h.settle().await;
    let zed = h.referral("c_zed").await.json;
    assert_eq!((&zed["state"], &zed["method"], &zed["code"]), (&json!("rewarded"), &json!("manual"), &json!(p.dan)));
    let id = zed["referral_id"].as_str().unwrap().to_owned();
    let rows = h.system.ports.stores.ledger.rows(&rft_core::ReferralId::parse(&id).unwrap()).await.unwrap();
    assert_eq!(rows.len(), 2, "both sides, once: {rows:?}");
    let events = h.system.ports.stores.audit.events_for(&id).await.unwrap();
    let opened = events.iter().find(|e| e.kind == rft_core::AuditKind::Attributed).expect("the credit is audited");
    assert_eq!((&opened.facts["credit"]["by"], &opened.facts["credit"]["reason"]), (&json!(MEMBER), &json!(reason)));
    let story = member.get(&h, &format!("/admin/api/referrals/{id}")).await.json();
    let titles: Vec<&str> =
        story["story"]["lines"].as_array().unwrap().iter().filter_map(|l| l["title"].as_str()).collect();
    let credited = format!("Credited by hand to c_dan through code {} by {MEMBER}", p.dan);
    assert!(titles.contains(&credited.as_str()), "{titles:?}");

    let refused = |body: Value| {
        let member = &member;
        let h = &h;
        async move {
            let answer = member.post(h, "/admin/api/credits", Some(body)).await;
            (answer.status, answer.json()["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let again = refused(body).await;
    assert_eq!(again, (StatusCode::CONFLICT, "already_referred".to_owned()));
    let referred = refused(json!({"customer_id": "c_mara", "referrer_id": "c_sam", "reason": "x"})).await;
    assert_eq!(referred, (StatusCode::CONFLICT, "already_referred".to_owned()));
    let unknown = refused(json!({"customer_id": "c_nobody", "referrer_id": "c_dan", "reason": "x"})).await;
    assert_eq!(unknown, (StatusCode::NOT_FOUND, "not_found".to_owned()));
    let no_code = refused(json!({"customer_id": "c_zed", "referrer_id": "c_zed", "reason": "x"})).await;
    assert_eq!(no_code, (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field".to_owned()));
    let no_reason = refused(json!({"customer_id": "c_zed", "referrer_id": "c_dan", "reason": " "})).await;
    assert_eq!(no_reason.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.settle().await, 0, "refusals queue nothing");
}

/// The jobs waiting on the reward queue, taken off it: what a console action queued.
pub async fn take_reward_jobs(h: &Harness) -> Vec<rft_core::Job> {
    let queue = &h.system.ports.reward_jobs;
    let deliveries = queue.receive(10, std::time::Duration::from_secs(30)).await.expect("the reward queue answers");
    for d in &deliveries {
        queue.ack(&d.receipt).await.expect("acknowledged");
    }
    deliveries.into_iter().map(|d| d.job).collect()
}

/// Retrying a parked reward from the console queues `Job::Retry` under the member's name; the
/// rewarder sends the reward again and it lands once; the row is no longer parked, so a second
/// press is refused, as is a row that does not exist.
pub async fn a_parked_reward_is_retried_from_the_console(h: Harness) {
    programme(&h).await;
    let member = Member::sign_in(&h, MEMBER).await;
    let kim = h.referral("c_kim").await.json["referral_id"].as_str().unwrap().to_owned();
    let retry = format!("/admin/api/rewards/{kim}/referrer/retry");
    let answer = member.post(&h, &retry, None).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!((answer.json()["side"].clone(), answer.json()["by"].clone()), (json!("referrer"), json!(MEMBER)));
    let jobs = take_reward_jobs(&h).await;
    let [rft_core::Job::Retry(job)] = jobs.as_slice() else { panic!("one retry job: {jobs:?}") };
    assert_eq!(
        (job.referral_id.as_str(), job.side, job.requested_by.as_str()),
        (kim.as_str(), rft_core::Side::Referrer, MEMBER)
    );
    let applied = h.store.applied().len();
    h.system.rewarder.handle(rft_core::Job::Retry(job.clone())).await.expect("the retry is handled");
    h.settle().await;
    assert_eq!(h.store.applied().len(), applied + 1, "the referrer's reward landed, once");
    let row = h.system.ports.stores.ledger.row(&job.referral_id, rft_core::Side::Referrer).await.unwrap().unwrap();
    assert_eq!(row.fulfilment.state(), "fulfilled");
    let events = h.system.ports.stores.audit.events_for(&kim).await.unwrap();
    let retried = events.iter().find(|e| e.kind == rft_core::AuditKind::FulfilmentRetried).expect("audited");
    assert_eq!(retried.facts["requested_by"], MEMBER);
    let again = member.post(&h, &retry, None).await;
    assert_eq!((again.status, again.json()["error"].clone()), (StatusCode::CONFLICT, json!("not_parked")));
    let missing = member.post(&h, "/admin/api/rewards/rf_00000000000000000000000000/friend/retry", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(take_reward_jobs(&h).await.is_empty(), "refusals queue nothing");
}

/// The console's ledger export is the signed API's, behind the session: the same CSV, one line
/// per ledger row with its fulfilment state (Mara's two sides paid, Kim's two parked).
pub async fn the_ledger_is_exported_from_the_console(h: Harness) {
    programme(&h).await;
    let member = Member::sign_in(&h, MEMBER).await;
    let csv = member.get(&h, "/admin/api/export/ledger.csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let signed = raw(h.system.router(), h.signed(Method::GET, "/api/exports/ledger.csv", "")).await;
    assert_eq!(csv.text, signed.text, "the same export as the signed API's");
    let id = |who: &str| {
        let h = &h;
        let who = who.to_owned();
        async move { h.referral(&who).await.json["referral_id"].as_str().unwrap().to_owned() }
    };
    let (mara, kim) = (id("c_mara").await, id("c_kim").await);
    let mut rows: Vec<(String, String, String)> = csv::Reader::from_reader(csv.text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record"))
        .map(|r| (r[0].to_owned(), r[1].to_owned(), r[8].to_owned()))
        .collect();
    rows.sort();
    let mut expected: Vec<(String, String, String)> = [
        (&mara, "referrer", "fulfilled"),
        (&mara, "friend", "fulfilled"),
        (&kim, "referrer", "parked"),
        (&kim, "friend", "parked"),
    ]
    .iter()
    .map(|(id, side, state)| ((*id).clone(), (*side).to_owned(), (*state).to_owned()))
    .collect();
    expected.sort();
    assert_eq!(rows, expected);
}

/// Clearing a code's velocity flag from the console (with [`flagging_settings`]): the queue
/// lists the code, the clearing is queued under the member's name, the rewarder releases its
/// referrals (approved by the member), and the code is flagged no more: gone from the queue,
/// and a second press is refused.
pub async fn a_flag_is_cleared_from_the_console(h: Harness) {
    let member = Member::sign_in(&h, MEMBER).await;
    let code = h.mint("c_dan", json!({"email": "dan@example.com"})).await.json["code"].as_str().unwrap().to_owned();
    let friends = ["c_ann", "c_bob", "c_cat"];
    for friend in friends {
        h.signup(json!({"customer_id": friend, "email": format!("{friend}@example.com"), "code": code})).await;
    }
    assert_eq!(h.referral("c_cat").await.json["state"], "held", "the third sign-up flags the code");
    let queues = member.get(&h, "/admin/api/queues").await.json();
    assert_eq!(queues["flagged_codes"][0]["code"], code.as_str(), "{queues}");
    assert_eq!(
        (queues["flagged_codes"][0]["held"].clone(), queues["flagged_codes"][0]["referrer_id"].clone()),
        (json!(3), json!("c_dan"))
    );
    let clear = format!("/admin/api/codes/{code}/clear-flag");
    let answer = member.post(&h, &clear, None).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!(answer.json()["by"], MEMBER);
    let jobs = take_reward_jobs(&h).await;
    let [rft_core::Job::ClearFlag(job)] = jobs.as_slice() else { panic!("one clear-flag job: {jobs:?}") };
    assert_eq!((job.code.as_str(), job.by.as_ref().map(|e| e.as_str())), (code.as_str(), Some(MEMBER)));
    h.system.rewarder.handle(rft_core::Job::ClearFlag(job.clone())).await.expect("the clearing is handled");
    h.settle().await;
    for friend in friends {
        let back = h.referral(friend).await.json;
        assert_eq!((back["state"].clone(), back["reasons"].clone()), (json!("pending"), json!([])), "{friend}");
        let id = back["referral_id"].as_str().unwrap().to_owned();
        let events = h.system.ports.stores.audit.events_for(&id).await.unwrap();
        let approved = events.iter().find(|e| e.kind == rft_core::AuditKind::Approved).expect("released");
        assert_eq!(approved.facts["by"], MEMBER, "{friend}");
    }
    let record = h.system.ports.stores.codes.get(&rft_core::Code::parse(&code).unwrap()).await.unwrap().unwrap();
    assert!(record.flag.is_none(), "the flag is cleared");
    assert_eq!(member.get(&h, "/admin/api/queues").await.json()["flagged_codes"], json!([]));
    let again = member.post(&h, &clear, None).await;
    assert_eq!((again.status, again.json()["error"].clone()), (StatusCode::CONFLICT, json!("not_flagged")));
    assert_eq!(member.post(&h, "/admin/api/codes/ZZZZZZ/clear-flag", None).await.status, StatusCode::NOT_FOUND);
    assert!(take_reward_jobs(&h).await.is_empty(), "refusals queue nothing");
}

/// Now, in the harness's clock (for tests that move it).
pub fn now(h: &Harness) -> rft_core::Timestamp {
    h.clock.now()
}

/// Another instance of the same system: the same stores, queues, secrets and clock, its own
/// process state (as a second Lambda instance has).
pub fn twin_router(h: &Harness) -> axum::Router {
    let system = rft_local::system::System::assemble_with(
        h.system.edge.settings.clone(),
        &h.secrets,
        h.system.ports.clone(),
        crate::harness::quick_policy(),
    );
    system.router()
}
