//! Links by email after a first order (`enrolment.on_first_order`), through the router and the
//! workers, written once and run on every store: an imported first order mails the customer
//! their link once, with an unsubscribe link that works (GET changes nothing, POST records), and
//! an unsubscribed address gets no later invite or thank-you while others still do.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use rft_core::identity::Field;
use rft_core::ports::{MessageKind, OutboundMessage};

use crate::harness::{Answer, Harness};

const HEADER: &str = "order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token";

async fn import(h: &Harness, rows: &[&str]) {
    let file = format!("{HEADER}\n{}\n", rows.join("\n"));
    let answer = h.call(h.signed(Method::POST, "/api/imports/conversions", &file)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    h.settle().await;
}

fn enrolments_to(h: &Harness, to: &str) -> Vec<OutboundMessage> {
    h.messages.of_kind(MessageKind::Enrolment).into_iter().filter(|m| m.to == to).collect()
}

fn sent_to(h: &Harness, to: &str, kind: MessageKind) -> usize {
    h.messages.of_kind(kind).iter().filter(|m| m.to == to).count()
}

/// The path (and query) of the first link in `text` that starts with `{base_url}{prefix}`.
fn link_path(h: &Harness, text: &str, prefix: &str) -> String {
    let base = h.system.edge.settings.links.base_url.as_str().trim_end_matches('/').to_owned();
    let start = text.find(&format!("{base}{prefix}")).unwrap_or_else(|| panic!("no {prefix} link in {text}"));
    text[start + base.len()..].split_whitespace().next().expect("a link").to_owned()
}

async fn page(h: &Harness, method: Method, path: &str, body: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("valid request");
    h.call(request).await
}

async fn is_unsubscribed(h: &Harness, address: &str) -> bool {
    let hash = h.system.edge.hasher.hash(Field::Email, address).expect("an address hashes");
    h.system.ports.stores.unsubscribes.is_unsubscribed(&hash).await.expect("the store reads")
}

/// Kim's first order, imported, mails her link once; her second order and the same file again
/// mail nothing more. Her link is a live code.
pub async fn a_first_imported_order_mails_the_customers_link_once(h: Harness) {
    import(&h, &["o_1,c_kim,kim@example.com,3999,GBP,,,"]).await;
    import(&h, &["o_1,c_kim,kim@example.com,3999,GBP,,,", "o_2,c_kim,kim@example.com,1999,GBP,,,"]).await;
    let mails = enrolments_to(&h, "kim@example.com");
    assert_eq!(mails.len(), 1, "{:?}", h.messages.sent());
    let code = link_path(&h, &mails[0].body, "/r/").trim_start_matches("/r/").to_owned();
    let redirect = h.click(&code, None).await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    assert!(redirect.header("location").unwrap_or_default().contains(&format!("utm_campaign={code}")));
    assert_eq!(h.messages.sent().len(), 1, "nothing else was mailed: {:?}", h.messages.sent());
}

/// With enrolment off (the default), an imported first order mails nothing.
pub async fn without_enrolment_a_first_order_mails_nothing(h: Harness) {
    import(&h, &["o_1,c_kim,kim@example.com,3999,GBP,,,"]).await;
    assert!(h.messages.sent().is_empty(), "{:?}", h.messages.sent());
}

/// Kim follows the unsubscribe link in her enrolment: the page changes nothing until she
/// presses the button (or her mail client posts the one-click body). After it, Dan's invite to
/// her and her own thank-you as a referrer are not sent, while Lee's invite and the thank-you
/// of Sam, whom she referred, still go. Forged and malformed links get the 403 page.
pub async fn an_unsubscribed_address_gets_no_later_programme_email(h: Harness) {
    import(&h, &["o_1,c_kim,kim@example.com,3999,GBP,,,"]).await;
    let mail = &enrolments_to(&h, "kim@example.com")[0];
    let unsubscribe = link_path(&h, &mail.body, "/unsubscribe?");
    assert!(mail.html.as_deref().unwrap_or_default().contains("/unsubscribe?e="));

    let shown = page(&h, Method::GET, &unsubscribe, "").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(!is_unsubscribed(&h, "kim@example.com").await, "a GET changes nothing");
    for forged in [
        unsubscribe.replace("sig=", "sig=x"),
        unsubscribe.replace("e=", "e=0"),
        "/unsubscribe?e=zz&sig=abc".to_owned(),
        "/unsubscribe".to_owned(),
        "/unsubscribe?e=%ff%fe&sig=%00".to_owned(),
    ] {
        assert_eq!(page(&h, Method::GET, &forged, "").await.status, StatusCode::FORBIDDEN, "{forged}");
        assert_eq!(page(&h, Method::POST, &forged, "").await.status, StatusCode::FORBIDDEN, "{forged}");
    }
    assert!(!is_unsubscribed(&h, "kim@example.com").await);
    let done = page(&h, Method::POST, &unsubscribe, "List-Unsubscribe=One-Click").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(is_unsubscribed(&h, "kim@example.com").await);
    assert_eq!(page(&h, Method::POST, &unsubscribe, "").await.status, StatusCode::OK, "again is harmless");

    // Dan invites Kim (not sent) and Lee (sent).
    assert_eq!(
        h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await.status,
        StatusCode::CREATED
    );
    for friend in ["kim@example.com", "lee@example.com"] {
        let body = json!({"customer_id": "c_dan", "friend_email": friend}).to_string();
        let answer = h.call(h.signed(Method::POST, "/api/invites", &body)).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.json);
    }
    assert_eq!(sent_to(&h, "kim@example.com", MessageKind::Invite), 0);
    assert_eq!(sent_to(&h, "lee@example.com", MessageKind::Invite), 1);

    // Sam's first order uses Kim's code: both sides are paid, only Sam is thanked by email.
    let kims_code = link_path(&h, &mail.body, "/r/").trim_start_matches("/r/").to_owned();
    import(&h, &[&format!("o_9,c_sam,sam@example.com,3999,GBP,,{kims_code},")]).await;
    let sam = h.referral("c_sam").await;
    assert_eq!(sam.json["state"], "rewarded", "{sam:?}");
    assert_eq!(h.store.applied().len(), 2, "both sides were paid");
    assert_eq!(sent_to(&h, "sam@example.com", MessageKind::ThankYouFriend), 1);
    assert_eq!(sent_to(&h, "kim@example.com", MessageKind::ThankYouReferrer), 0);
    assert_eq!(enrolments_to(&h, "sam@example.com").len(), 1);
    assert_eq!(enrolments_to(&h, "kim@example.com").len(), 1);
}
