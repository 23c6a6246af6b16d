//! The redirect on fakes: where the friend goes, and which visits are logged.

use std::sync::atomic::Ordering;

use super::{Landing, Redirect, Visit, is_bot};
use crate::click::TouchKey;
use crate::code::Code;
use crate::ids::Token;
use crate::ports::CodeStore;
use crate::testing::World;

const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X)";

fn visit(code: &str) -> Visit<'_> {
    Visit { code, user_agent: Some(PHONE), ip: Some("192.0.2.1"), ..Visit::default() }
}

fn is_fallback(r: &Redirect) -> bool {
    r.location == "https://freshbox.uk/" && r.set_cookie.is_none()
}

#[tokio::test]
async fn a_live_code_lands_with_a_token_cookie_and_one_click_logged_for_the_window() {
    // GIVEN Dan's live code
    let w = World::new();
    let code = w.given_code().await;
    // WHEN a friend's phone opens the link, shared on WhatsApp, typed in lower case
    let r = w.redirector().visit(Visit { channel: Some("whatsapp"), ..visit(" dan234 ") }).await;
    // THEN they land with the token and UTM tags, the cookie lives for the window, and one click is logged under the token
    let clicks = w.store.state().clicks.clone();
    assert_eq!(clicks.len(), 1);
    let TouchKey::Token(token) = &clicks[0].key else { panic!("a click is filed under its token") };
    assert_eq!(
        r.location,
        format!("https://freshbox.uk/signup?rft={token}&utm_source=referral&utm_medium=referral&utm_campaign=DAN234")
    );
    assert_eq!(
        r.set_cookie.as_deref(),
        Some(
            format!("rft={token}; Max-Age=2592000; Path=/; Secure; HttpOnly; SameSite=Lax; Domain=.freshbox.uk")
                .as_str()
        )
    );
    assert_eq!((clicks[0].code.clone(), clicks[0].channel.as_deref()), (code.code, Some("whatsapp")));
    assert_eq!(clicks[0].expires_at, w.clock_now().plus(code.terms.window()));
    assert!(clicks[0].ip_hash.is_some(), "the IP is kept only as a hash");
    assert!(clicks[0].browser.is_none(), "no browser hash unless the fingerprint fallback is on");
}

#[tokio::test]
async fn a_browser_that_already_has_a_token_keeps_it() {
    // GIVEN a browser whose cookie holds a token from an earlier click
    let w = World::new();
    w.given_code().await;
    let token = Token::generate();
    // WHEN it opens the link
    let r = w.redirector().visit(Visit { cookie_token: Some(token.as_str()), ..visit("DAN234") }).await;
    // THEN the same token is used, so this click is the newest touch of the same visitor
    assert!(r.location.contains(&format!("rft={token}")));
    assert_eq!(w.store.state().clicks[0].key, TouchKey::Token(token));
}

#[tokio::test]
async fn unknown_malformed_and_retired_codes_go_to_the_fallback_and_log_nothing() {
    // GIVEN Dan's code, retired
    let w = World::new();
    let code = w.given_code().await;
    w.store.retire(&code.code, w.clock_now()).await.unwrap();
    let redirector = w.redirector();
    // WHEN friends open it, an unknown code and a malformed one
    for asked in ["DAN234", "ZZZ999", "not a code", ""] {
        // THEN each goes to the fallback without a cookie
        assert!(is_fallback(&redirector.visit(visit(asked)).await), "{asked:?}");
    }
    assert!(w.store.state().clicks.is_empty());
}

#[tokio::test]
async fn head_requests_and_link_previews_are_redirected_but_not_logged() {
    // GIVEN Dan's live code
    let w = World::new();
    w.given_code().await;
    let redirector = w.redirector();
    // WHEN a HEAD request and a chat app's preview bot open it
    let head = redirector.visit(Visit { head: true, ..visit("DAN234") }).await;
    let bot = redirector.visit(Visit { user_agent: Some("WhatsApp/2.23.20.0 A"), ..visit("DAN234") }).await;
    // THEN both get the landing page, and no click is logged
    assert!(
        head.location.starts_with("https://freshbox.uk/signup")
            && bot.location.starts_with("https://freshbox.uk/signup")
    );
    assert!(w.store.state().clicks.is_empty());
}

#[tokio::test]
async fn a_click_that_cannot_be_logged_still_lands() {
    // GIVEN the click log is down
    let w = World::new();
    w.given_code().await;
    w.store.fail_next("record");
    let redirector = w.redirector();
    // WHEN a friend opens the link
    let r = redirector.visit(visit("DAN234")).await;
    // THEN they land anyway, and the failure is counted
    assert!(r.location.starts_with("https://freshbox.uk/signup") && r.set_cookie.is_some());
    assert_eq!(redirector.counts.log_failed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_code_that_cannot_be_read_sends_the_friend_to_the_fallback() {
    // GIVEN the code store is down
    let w = World::new();
    w.given_code().await;
    w.store.fail_next("get_code");
    // WHEN a friend opens the link
    let r = w.redirector().visit(visit("DAN234")).await;
    // THEN they are sent to the fallback, never an error
    assert!(is_fallback(&r));
}

#[tokio::test]
async fn a_code_is_read_once_a_minute_however_many_clicks_it_gets() {
    // GIVEN Dan's live code
    let w = World::new();
    w.given_code().await;
    let redirector = w.redirector();
    // WHEN it is clicked ten times
    for _ in 0..10 {
        redirector.visit(visit("DAN234")).await;
    }
    // THEN the store was asked for it once, and every click was logged
    assert_eq!(w.store.calls("get_code"), 1);
    assert_eq!(w.store.state().clicks.len(), 10);
}

#[tokio::test]
async fn clicks_from_one_ip_past_the_hourly_limit_land_without_being_logged() {
    // GIVEN Dan's live code and the default limit of 100 clicks an hour per IP
    let w = World::new();
    w.given_code().await;
    let redirector = w.redirector();
    // WHEN one IP clicks 101 times within the hour
    let mut last = None;
    for _ in 0..101 {
        last = Some(redirector.visit(visit("DAN234")).await);
    }
    // THEN the 101st lands but is not logged
    assert!(last.unwrap().location.starts_with("https://freshbox.uk/signup"));
    assert_eq!(w.store.state().clicks.len(), 100);
    assert_eq!(redirector.counts.rate_limited.load(Ordering::Relaxed), 1);
}

#[test]
fn the_location_is_what_appending_the_pairs_to_the_query_gives() {
    let token = Token::generate();
    let code = Code::parse("7QK2A9").unwrap();
    for landing in [
        "https://freshbox.uk/signup",
        "https://freshbox.uk/",
        "https://freshbox.uk/signup?",
        "https://freshbox.uk/signup?plan=family&x=a%20b",
        "https://freshbox.uk/signup?plan=family#top",
        "https://freshbox.uk/signup#top",
        "http://127.0.0.1:3000/demo/signup",
    ] {
        let url = url::Url::parse(landing).unwrap();
        let mut expected = url.clone();
        expected
            .query_pairs_mut()
            .append_pair("rft", token.as_str())
            .append_pair("utm_source", "referral")
            .append_pair("utm_medium", "referral")
            .append_pair("utm_campaign", code.as_str());
        assert_eq!(Landing::of(&url).location(&token, &code), expected.as_str(), "{landing}");
    }
}

#[test]
fn bots_are_told_apart_whatever_the_case_and_length() {
    assert!(is_bot("Mozilla/5.0 (compatible; Googlebot/2.1)"));
    assert!(is_bot("WhatsApp/2.23"));
    assert!(is_bot(&format!("{}Slackbot", "x".repeat(600))));
    assert!(!is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) Safari/604.1"));
    assert!(!is_bot(&"é".repeat(300)));
}
