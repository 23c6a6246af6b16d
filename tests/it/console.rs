//! The owner's console: its figures against the stats API and its actions on the embedded store
//! and DynamoDB Local; signing in, sessions, CSRF and privacy as security properties; the
//! referral's story, search, the referrer's friends and live updates.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use rft_core::ports::MessageKind;
use rft_tests::backends::{dynamo_harness, local_harness};
use rft_tests::console::{
    self as c, MEMBER, Member, OWNER, SECRETS, ask_link, console_settings, programme, raw, request, use_link,
};
use rft_tests::harness::Harness;

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { c::$name(local_harness(console_settings())).await })*
        }
        mod dynamo {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { c::$name(dynamo_harness(console_settings()).await).await })*
        }
    };
}

on_both_stores!(
    figures_agree_with_the_stats_api,
    a_sign_in_link_works_once_across_instances,
    actions_take_effect_and_are_audited,
    a_parked_reward_is_retried_from_the_console,
    the_ledger_is_exported_from_the_console,
    a_sign_up_is_credited_by_hand,
);

mod flagging {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_a_flag_is_cleared_from_the_console() {
        c::a_flag_is_cleared_from_the_console(local_harness(c::flagging_settings())).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamo_a_flag_is_cleared_from_the_console() {
        c::a_flag_is_cleared_from_the_console(dynamo_harness(c::flagging_settings()).await).await
    }
}

fn harness() -> Harness {
    local_harness(console_settings())
}

/// Every console API route, with a method and a body where it takes one.
const API: &[(&str, &str)] = &[
    ("GET", "/admin/api/session"),
    ("GET", "/admin/api/overview"),
    ("GET", "/admin/api/referrals"),
    ("GET", "/admin/api/referrals/rf_00000000000000000000000000"),
    ("POST", "/admin/api/referrals/rf_00000000000000000000000000/approve"),
    ("POST", "/admin/api/referrals/rf_00000000000000000000000000/reject"),
    ("POST", "/admin/api/codes/7QK2A9/retire"),
    ("GET", "/admin/api/referrers"),
    ("GET", "/admin/api/referrers/c_dan"),
    ("GET", "/admin/api/queues"),
    ("GET", "/admin/api/export/referrals.csv"),
    ("GET", "/admin/api/events"),
    ("POST", "/admin/api/logout"),
    ("POST", "/admin/api/credits"),
    ("GET", "/admin/api/customers/c_zed"),
    ("POST", "/admin/api/rewards/rf_00000000000000000000000000/referrer/retry"),
    ("POST", "/admin/api/codes/7QK2A9/clear-flag"),
    ("GET", "/admin/api/export/ledger.csv"),
];

#[tokio::test]
async fn no_page_or_action_without_a_session() {
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let forged = member.cookie.replacen('.', ".x", 1);
    let other_secret = {
        let stranger = local_harness(console_settings());
        Member::sign_in(&stranger, OWNER).await.cookie
    };
    for (method, path) in API {
        let method: Method = method.parse().unwrap();
        for cookie in [None, Some(forged.as_str()), Some(other_secret.as_str())] {
            let answer = raw(h.system.router(), request(method.clone(), path, cookie, Some(&member.csrf), None)).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path} with {cookie:?}: {}", answer.text);
            assert_eq!(answer.json()["error"], "unauthorized");
            for secret in SECRETS {
                assert!(!answer.text.contains(secret));
            }
        }
    }
    let page = raw(h.system.router(), request(Method::GET, "/admin", None, None, None)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("login-form") && !page.text.contains("view-overview"),
        "the sign-in page, not the console"
    );
    let console = raw(h.system.router(), request(Method::GET, "/admin", Some(&member.cookie), None, None)).await;
    assert!(console.text.contains("view-overview"), "a session gets the console");
    // Twelve hours later the session is over.
    h.clock.advance(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(member.get(&h, "/admin/api/overview").await.status, StatusCode::UNAUTHORIZED);
    let page = raw(h.system.router(), request(Method::GET, "/admin", Some(&member.cookie), None, None)).await;
    assert!(page.text.contains("login-form"));
}

#[tokio::test]
async fn a_session_ends_when_its_address_leaves_the_team() {
    let h = harness();
    let member = Member::sign_in(&h, MEMBER).await;
    assert_eq!(member.get(&h, "/admin/api/overview").await.status, StatusCode::OK);
    let without = rft_tests::harness::settings_with(&[("min_click_to_conversion", "\"0s\"")]);
    let system = rft_local::system::System::assemble_with(
        std::sync::Arc::new(without),
        &h.secrets,
        h.system.ports.clone(),
        rft_tests::harness::quick_policy(),
    );
    let answer =
        raw(system.router(), request(Method::GET, "/admin/api/overview", Some(&member.cookie), None, None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "removed from team.members: signed out");
}

#[tokio::test]
async fn forged_expired_and_reused_sign_in_links_are_refused() {
    let h = harness();
    let (_, token) = ask_link(&h, OWNER).await;
    let token = token.expect("a link for the team address");
    // The GET shows a button and changes nothing: a mail scanner opening it uses nothing up.
    let shown =
        raw(h.system.router(), request(Method::GET, &format!("/admin/auth?token={token}"), None, None, None)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text.contains("<form method=\"post\" action=\"/admin/auth\">"), "{}", shown.text);
    let shown_again =
        raw(h.system.router(), request(Method::GET, &format!("/admin/auth?token={token}"), None, None, None)).await;
    assert_eq!(shown_again.status, StatusCode::OK);
    // Forged: another signature, another address, another expiry, garbage.
    let parts: Vec<&str> = token.split('.').collect();
    let forged = [
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], "A".repeat(43)),
        format!("{}.{}.{}.{}", base64_of("owner@freshbox.uk"), parts[1], parts[2], parts[3]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2].parse::<i64>().unwrap() + 3600, parts[3]),
        format!("{}.{}.{}.{}", parts[0], "othernonce", parts[2], parts[3]),
        "not-a-token".to_owned(),
        String::new(),
    ];
    for f in &forged {
        let (answer, cookie) = use_link(h.system.router(), f).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{f}");
        assert!(answer.text.contains("not valid"), "{}", answer.text);
        assert!(cookie.is_none());
    }
    // Used once, then refused.
    let (first, cookie) = use_link(h.system.router(), &token).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let set_cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=43200", "Path=/admin"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(cookie.is_some());
    let (reused, cookie) = use_link(h.system.router(), &token).await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN);
    assert!(reused.text.contains("already been used") && cookie.is_none());
    // Expired: fifteen minutes and a second later.
    let (_, late) = ask_link(&h, OWNER).await;
    h.clock.advance(Duration::from_secs(15 * 60 + 1));
    let (expired, cookie) = use_link(h.system.router(), &late.unwrap()).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(expired.text.contains("expired") && cookie.is_none(), "{}", expired.text);
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn any_other_address_gets_the_same_answer_and_no_mail() {
    let h = harness();
    let (team, token) = ask_link(&h, "Referrals@FreshBox.uk").await;
    assert!(token.is_some(), "team addresses match whatever their case");
    let sent = h.messages.of_kind(MessageKind::ConsoleSignIn);
    assert_eq!(sent.last().unwrap().to, OWNER, "mailed to the address as the settings spell it");
    for other in ["stranger@example.com", "referrals+x@freshbox.uk", "referrals@freshbox.uk.evil.example"] {
        let (answer, token) = ask_link(&h, other).await;
        assert_eq!((answer.status, answer.text.clone()), (team.status, team.text.clone()), "{other}");
        assert!(token.is_none(), "{other}");
    }
    assert_eq!(h.messages.of_kind(MessageKind::ConsoleSignIn).len(), 1, "no mail to anyone else");
    let bad =
        raw(h.system.router(), request(Method::POST, "/admin/login", None, None, Some(json!({"email": "nope"})))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.json()["message"].as_str().unwrap().starts_with("email"), "{}", bad.text);
}

#[tokio::test]
async fn sign_in_requests_are_rate_limited() {
    let h = harness();
    for i in 0..5 {
        assert_eq!(ask_link(&h, OWNER).await.0.status, StatusCode::ACCEPTED, "request {i}");
    }
    let (sixth, token) = ask_link(&h, OWNER).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS, "{}", sixth.text);
    assert!(token.is_none(), "no mail past the limit");
    assert_eq!(ask_link(&h, MEMBER).await.0.status, StatusCode::ACCEPTED, "another address has its own count");
    h.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(ask_link(&h, OWNER).await.0.status, StatusCode::ACCEPTED, "a new window");
}

#[tokio::test]
async fn a_cross_site_post_without_the_csrf_token_is_refused() {
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let ann = h.referral("c_ann").await.json["referral_id"].as_str().unwrap().to_owned();
    let path = format!("/admin/api/referrals/{ann}/reject");
    let post = |csrf: Option<&str>, origin: Option<&str>, fetch_site: Option<&str>| {
        let mut r = request(Method::POST, &path, Some(&member.cookie), csrf, None);
        if let Some(o) = origin {
            r.headers_mut().insert("origin", o.parse().unwrap());
        }
        if let Some(s) = fetch_site {
            r.headers_mut().insert("sec-fetch-site", s.parse().unwrap());
        }
        r
    };
    let cases = [
        (None, Some("https://evil.example"), Some("cross-site"), "cross_site"),
        (None, None, None, "csrf"),
        (Some("forged-token"), None, None, "csrf"),
        (Some(member.csrf.as_str()), Some("https://evil.example"), None, "cross_site"),
        (Some(member.csrf.as_str()), None, Some("cross-site"), "cross_site"),
    ];
    for (csrf, origin, site, error) in cases {
        let answer = raw(h.system.router(), post(csrf, origin, site)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{csrf:?} {origin:?} {site:?}");
        assert_eq!(answer.json()["error"], error);
    }
    h.settle().await;
    assert_eq!(h.referral("c_ann").await.json["state"], "held", "nothing changed");
    let other = Member::sign_in(&h, MEMBER).await;
    let stolen = raw(h.system.router(), post(Some(&other.csrf), None, None)).await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN, "another session's token does not do");
    let ok =
        raw(h.system.router(), post(Some(&member.csrf), Some("https://refer.freshbox.uk"), Some("same-origin"))).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
}

#[tokio::test]
async fn the_console_never_shows_an_identity_value_or_an_ip() {
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let mut hashes = Vec::new();
    for who in ["c_mara", "c_ann", "c_lee", "c_pat", "c_kim"] {
        let r = h
            .system
            .ports
            .stores
            .referrals
            .find(&rft_core::IdentityKey::Customer(rft_core::CustomerId::parse(who).unwrap()))
            .await
            .unwrap()
            .unwrap();
        let identity = serde_json::to_value(&r.friend.identity).unwrap();
        hashes.extend(identity.as_object().unwrap().values().map(|v| v.as_str().unwrap().to_owned()));
    }
    assert!(hashes.len() >= 5);
    let mut pages = vec![
        "/admin".to_owned(),
        "/admin/api/overview".to_owned(),
        "/admin/api/referrals?limit=100".to_owned(),
        "/admin/api/referrers".to_owned(),
        "/admin/api/referrers/c_dan".to_owned(),
        "/admin/api/referrers/c_sam".to_owned(),
        "/admin/api/queues".to_owned(),
        "/admin/api/export/referrals.csv".to_owned(),
        "/admin/api/events".to_owned(),
        "/admin/api/referrals?customer=mara.secret%40example.com".to_owned(),
        "/admin/api/customers/c_zed".to_owned(),
        "/admin/api/customers/c_mara".to_owned(),
    ];
    let list = member.get(&h, "/admin/api/referrals?limit=100").await.json();
    let ids: Vec<String> =
        list["referrals"].as_array().unwrap().iter().map(|r| r["referral_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 5);
    pages.extend(ids.iter().map(|id| format!("/admin/api/referrals/{id}")));
    for page in pages {
        let answer = member.get(&h, &page).await;
        assert_eq!(answer.status, StatusCode::OK, "{page}: {}", answer.text);
        for value in SECRETS.iter().map(|s| s.to_string()).chain(hashes.iter().cloned()) {
            assert!(!answer.text.contains(&value), "{page} shows {value}");
        }
    }
}

#[tokio::test]
async fn a_referrals_story_tells_what_happened() {
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let story_of = |who: &'static str| {
        let h = &h;
        let member = &member;
        async move {
            let id = h.referral(who).await.json["referral_id"].as_str().unwrap().to_owned();
            member.get(h, &format!("/admin/api/referrals/{id}")).await.json()
        }
    };
    let all_text = |v: &serde_json::Value| v.to_string();
    let lee = story_of("c_lee").await;
    let text = all_text(&lee);
    assert!(text.contains("Won: a click on the link on code"), "{text}");
    assert!(text.contains("a newer touch won (the last touch counts)"), "the click on Sam's link lost: {text}");
    assert!(text.contains("The screen passed it: no rule fired."), "{text}");
    let ann = story_of("c_ann").await;
    let text = all_text(&ann);
    assert!(text.contains("disposable_email holds it: mailinator.com is a disposable email domain"), "{text}");
    assert!(text.contains("paid nothing: the referral was held"), "its order arrived while held: {text}");
    assert_eq!(ann["decidable"], true);
    let pat = story_of("c_pat").await;
    assert_eq!(pat["story"]["identity"], "The friend shares the referrer's device.");
    assert!(all_text(&pat).contains("identity_match holds it: same device as the referrer"));
    let mara = story_of("c_mara").await;
    let text = all_text(&mara);
    assert!(text.contains("converted: both sides credited"), "{text}");
    assert!(
        mara["story"]["refund"].as_str().unwrap().starts_with("Order o_mara was refunded on"),
        "beside the decision"
    );
    assert!(
        text.contains(
            "Identity fields received (kept only as keyed hashes): payment card, device, email and IP address."
        ),
        "{text}"
    );
    let ledger = mara["story"]["ledger"].as_array().unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger.iter().all(|l| l["status"] == "fulfilled" && l["sentence"].as_str().unwrap().starts_with("Delivered"))
    );
    let kim = story_of("c_kim").await;
    let ledger = kim["story"]["ledger"].as_array().unwrap();
    assert!(ledger.iter().all(|l| l["status"] == "parked"), "{ledger:?}");
    assert!(ledger[0]["sentence"].as_str().unwrap().contains("Parked after 1 attempt"));
    assert!(all_text(&kim).contains("could not be delivered: parked for a person"));
    assert_eq!(member.get(&h, "/admin/api/referrals/rf_nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn referrals_are_found_by_customer_code_state_method_and_date_a_page_at_a_time() {
    let h = harness();
    let p = programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let found = |q: String| {
        let h = &h;
        let member = &member;
        async move {
            let answer = member.get(h, &format!("/admin/api/referrals?{q}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{q}: {}", answer.text);
            let v = answer.json();
            let mut who: Vec<String> = v["referrals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["referred_id"].as_str().unwrap().to_owned())
                .collect();
            who.sort();
            (who, v["next_cursor"].as_str().map(str::to_owned))
        }
    };
    assert_eq!(found("state=held".into()).await.0, ["c_ann", "c_pat"]);
    assert_eq!(found("state=rewarded".into()).await.0, ["c_kim", "c_mara"]);
    assert_eq!(found(format!("code={}", p.sam)).await.0, ["c_kim"]);
    assert_eq!(found("method=code".into()).await.0, ["c_kim"]);
    assert_eq!(found("customer=c_mara".into()).await.0, ["c_mara"], "by the friend");
    assert_eq!(found("customer=c_sam".into()).await.0, ["c_kim"], "by the referrer");
    assert_eq!(found("customer=MARA.secret%40example.com".into()).await.0, ["c_mara"], "by the friend's email");
    assert_eq!(found("customer=c_dan&state=held".into()).await.0, ["c_ann", "c_pat"]);
    assert_eq!(found("from=2000-01-01&to=2001-01-01".into()).await.0, Vec::<String>::new());
    let today = c::now(&h).date();
    assert_eq!(found(format!("from={today}")).await.0.len(), 5);
    // Pages of two, following the cursor, cover all five once.
    let mut seen = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".into(),
        };
        let (page, next) = found(q).await;
        assert!(page.len() <= 2);
        seen.extend(page);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["c_ann", "c_kim", "c_lee", "c_mara", "c_pat"]);
    for bad in
        ["state=paid", "method=carrier-pigeon", "from=yesterday", "limit=0", "limit=101", "cursor=nope", "code=!!"]
    {
        let answer = member.get(&h, &format!("/admin/api/referrals?{bad}")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let field = bad.split('=').next().unwrap();
        assert!(answer.json()["message"].as_str().unwrap().starts_with(field), "{bad}: {}", answer.text);
    }
    let csv = member.get(&h, "/admin/api/export/referrals.csv?state=rewarded").await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two rows: {}", csv.text);
    assert!(lines[0].starts_with("referral_id,signed_up_at,state,method,code"));
}

#[tokio::test]
async fn the_queues_list_what_waits_for_a_person() {
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    let queues = member.get(&h, "/admin/api/queues").await.json();
    assert_eq!(queues["held"].as_array().unwrap().len(), 2);
    assert_eq!(queues["refund_review"][0]["referred_id"], "c_mara");
    assert_eq!(queues["parked"].as_array().unwrap().len(), 2, "Kim's two sides");
    let credit = member.post(&h, "/admin/api/credits", Some(json!({}))).await;
    assert_eq!(credit.status, StatusCode::UNPROCESSABLE_ENTITY, "a credit's body is checked first");
}

#[tokio::test]
async fn the_referrers_page_lists_their_friends_and_why() {
    let h = harness();
    programme(&h).await;
    let portal = h.mint("c_dan", json!({})).await.json["portal_url"].as_str().unwrap().to_owned();
    let path = portal.replacen("https://refer.freshbox.uk/me", "/me/data", 1);
    let data = h.call(axum::http::Request::builder().uri(&path).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(data.status, StatusCode::OK, "{:?}", data.json);
    let friends = data.json["friends"].as_array().unwrap();
    let by_name = |n: &str| friends.iter().find(|f| f["name"] == n).cloned().unwrap();
    assert_eq!(friends.len(), 4, "Mara, Ann, Lee, Pat");
    assert_eq!(by_name("Mara")["status"], "rewarded");
    assert_eq!(by_name("Mara")["why"], serde_json::Value::Null);
    assert_eq!(by_name("Ann")["status"], "checking");
    assert!(
        by_name("Lee")["why"].as_str().unwrap().starts_with("They've signed up: your reward comes when they place")
    );
    let text = data.json["friends"].to_string();
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret}");
    }
    let stats = h.call(h.signed(Method::GET, "/api/referrers/c_dan/stats", "")).await;
    assert!(stats.json.get("friends").is_none(), "the store's stats API is unchanged");
}

#[tokio::test]
async fn live_updates_arrive_as_server_sent_events() {
    use futures_util::StreamExt;
    let h = harness();
    programme(&h).await;
    let member = Member::sign_in(&h, OWNER).await;
    // Without asking for an event stream: one event and a reconnect interval.
    let once = member.get(&h, "/admin/api/events").await;
    assert_eq!(once.headers["content-type"], "text/event-stream");
    assert!(once.text.starts_with("retry: ") && once.text.contains("event: overview\ndata: {"), "{}", once.text);
    // An EventSource: the overview now, and again when it changes.
    let mut r = request(Method::GET, "/admin/api/events", Some(&member.cookie), None, None);
    r.headers_mut().insert("accept", "text/event-stream".parse().unwrap());
    let response = tower::ServiceExt::oneshot(h.system.router(), r).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("\"signups\":5"), "{first}");
    let eve = h.mint("c_eve", json!({})).await.json["code"].as_str().unwrap().to_owned();
    let eve = c::click(&h, &eve, None, None).await;
    h.signup(json!({"customer_id": "c_ivy", "email": "ivy@example.com", "attribution_token": eve})).await;
    let updated = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(chunk) = body.next().await {
            let text = String::from_utf8(chunk.unwrap().to_vec()).unwrap();
            if text.contains("\"signups\":6") {
                return text;
            }
        }
        panic!("the stream ended");
    })
    .await
    .expect("an update within 15 s");
    assert!(updated.starts_with("event: overview\ndata: {"), "{updated}");
}

#[tokio::test]
async fn codes_whose_velocity_held_referrals_are_listed_as_flagged() {
    let settings = rft_tests::harness::settings_with(&[
        ("ops_link_ttl", "\"7d\"\nmembers = [\"owner@freshbox.uk\"]"),
        ("max_signups_per_code_per_hour", "1"),
    ]);
    let h = local_harness(settings);
    let code = h.mint("c_dan", json!({})).await.json["code"].as_str().unwrap().to_owned();
    for who in ["c_amy", "c_bo"] {
        h.signup(json!({"customer_id": who, "email": format!("{who}@example.com"), "code": code})).await;
    }
    let member = Member::sign_in(&h, OWNER).await;
    let queues = member.get(&h, "/admin/api/queues").await.json();
    let flagged = queues["flagged_codes"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{queues}");
    assert_eq!(flagged[0]["code"], code.as_str());
    assert_eq!(flagged[0]["rules"], json!(["code_signup_velocity"]));
    assert_eq!(flagged[0]["held"], 2, "Bo tripped the rule and Amy, pending, is held for the flag");
    let referrer = member.get(&h, "/admin/api/referrers/c_dan").await.json();
    let history = referrer["codes"][0]["history"].to_string();
    assert!(
        history.contains("was flagged for its velocity")
            && history.contains("sign-ups through the code in the last hour, limit 1"),
        "{history}"
    );
}
