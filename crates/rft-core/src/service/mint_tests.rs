//! Minting, retiring and invites on fakes.

use std::time::Duration;

use crate::audit::AuditKind;
use crate::click::TouchKey;
use crate::code::{Code, CodeStatus};
use crate::email::Email;
use crate::identity::Field;
use crate::ports::{InviteRequest, MessageKind, MintError, MintRequest, Minter};
use crate::service::mint::INVITES_PER_DAY;
use crate::testing::{World, customer};

fn dan() -> MintRequest {
    MintRequest {
        customer_id: customer("c_dan"),
        first_name: Some("Dan".into()),
        email: Some(Email::parse("dan@example.com").unwrap()),
        phone: None,
        identity: Default::default(),
    }
}

fn invite_to(w: &World, friend: &str) -> InviteRequest {
    let email = Email::parse(friend).unwrap();
    InviteRequest {
        customer_id: customer("c_dan"),
        friend_email_hash: w.hasher().hash(Field::Email, &email.identity()).unwrap(),
        friend_email: email,
        friend_name: Some("Mara".into()),
    }
}

#[tokio::test]
async fn a_first_ask_mints_an_active_code_with_the_terms_of_the_day() {
    // GIVEN Dan has no code
    let w = World::new();
    // WHEN the store asks for his link
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN a new active code is his, with today's terms pinned, an invite with its real link, and an audit row
    assert!(minted.created);
    let record = &minted.record;
    assert_eq!((record.referrer_id.as_str(), record.status), ("c_dan", CodeStatus::Active));
    assert_eq!(record.terms, w.settings().terms());
    assert!(record.invite.contains(&format!("https://refer.freshbox.uk/r/{}", record.code)));
    assert_eq!(w.audit_kinds(record.code.as_str()), [AuditKind::Minted]);
}

#[tokio::test]
async fn asking_again_returns_the_same_code() {
    // GIVEN Dan's link was minted
    let w = World::new();
    let minter = w.minter();
    let first = minter.mint(&dan()).await.unwrap();
    // WHEN the store asks again
    let again = minter.mint(&dan()).await.unwrap();
    // THEN it gets the same code, not a new one
    assert!(!again.created);
    assert_eq!(again.record, first.record);
    assert_eq!(w.store.state().codes.len(), 1);
}

#[tokio::test]
async fn a_code_someone_else_holds_is_drawn_again() {
    // GIVEN another referrer holds the first code drawn
    let w = World::new();
    w.store.someone_holds_the_next_code_claimed();
    // WHEN Dan asks for his link
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN a second draw gives him a code of his own
    assert!(minted.created);
    assert_eq!(minted.record.referrer_id, customer("c_dan"));
    assert_eq!(w.store.calls("claim"), 2);
}

#[tokio::test]
async fn a_concurrent_ask_that_won_hands_back_its_code() {
    // GIVEN another request for Dan claims a code between this one's read and its claim
    let w = World::new();
    let winner = w.given_code().await;
    let won = winner.clone();
    w.store.state().codes.clear();
    w.store.state().active.clear();
    w.store.before_next("claim", move |s| {
        s.active.insert(won.referrer_id.clone(), won.code.clone());
        s.codes.insert(won.code.clone(), won);
    });
    // WHEN this request claims
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN it answers with the winner's code, as already existing
    assert!(!minted.created);
    assert_eq!(minted.record.code, winner.code);
}

#[tokio::test]
async fn a_model_invite_that_passes_the_checks_is_used_with_the_real_link() {
    // GIVEN the model drafts an invite in time
    let w = World::new();
    w.writer.answers("FreshBox has saved my weeknights. Try it: {{link}}", Duration::ZERO);
    // WHEN Dan's link is minted
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN the invite is the draft with the link put in by code
    let link = format!("https://refer.freshbox.uk/r/{}", minted.record.code);
    assert_eq!(minted.record.invite, format!("FreshBox has saved my weeknights. Try it: {link}"));
}

#[tokio::test]
async fn a_model_invite_with_a_link_of_its_own_is_replaced_by_the_template() {
    // GIVEN the model adds a URL of its own
    let w = World::new();
    w.writer.answers("Go to https://evil.example now: {{link}}", Duration::ZERO);
    // WHEN Dan's link is minted
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN the fixed template is used
    assert!(!minted.record.invite.contains("evil.example"));
    assert!(minted.record.invite.contains(&format!("/r/{}", minted.record.code)));
}

#[tokio::test]
async fn a_model_that_is_too_slow_is_not_waited_for() {
    // GIVEN a model timeout of 50 ms and a model that takes a second
    let w = World::with_settings(&[("model_timeout", "\"50ms\"")]);
    w.writer.answers("Lovely: {{link}}", Duration::from_secs(1));
    // WHEN Dan's link is minted
    let started = std::time::Instant::now();
    let minted = w.minter().mint(&dan()).await.unwrap();
    // THEN the answer comes with the template, well before the model would have
    assert!(started.elapsed() < Duration::from_millis(900));
    assert!(!minted.record.invite.starts_with("Lovely"));
}

#[tokio::test]
async fn retiring_a_code_stops_it_and_frees_the_customer_for_a_new_one() {
    // GIVEN Dan's active code
    let w = World::new();
    let minter = w.minter();
    let first = minter.mint(&dan()).await.unwrap().record;
    // WHEN it is retired and Dan asks again
    let retired = minter.retire(&first.code, None).await.unwrap().unwrap();
    let next = minter.mint(&dan()).await.unwrap();
    // THEN the old code is retired (and audited) and he gets a new code
    assert_eq!(retired.status, CodeStatus::Retired);
    assert_eq!(w.audit_kinds(first.code.as_str()), [AuditKind::Minted, AuditKind::Retired]);
    assert!(next.created && next.record.code != first.code);
}

#[tokio::test]
async fn retiring_an_unknown_code_finds_nothing() {
    let w = World::new();
    assert_eq!(w.minter().retire(&Code::parse("ZZZ999").unwrap(), None).await.unwrap(), None);
}

#[tokio::test]
async fn an_invite_files_an_email_touch_for_the_window_and_mails_friend_and_referrer() {
    // GIVEN Dan's active code
    let w = World::new();
    let minter = w.minter();
    let code = minter.mint(&dan()).await.unwrap().record;
    let invite = invite_to(&w, "Mara@Example.com");
    // WHEN he invites Mara
    minter.invite(&invite).await.unwrap();
    // THEN a touch for his code is filed under her email's hash until the window ends
    let clicks = w.store.state().clicks.clone();
    assert_eq!(clicks.len(), 1);
    assert_eq!(clicks[0].key, TouchKey::Email(invite.friend_email_hash.clone()));
    assert_eq!((clicks[0].code.clone(), clicks[0].expires_at), (code.code, w.clock_now().plus(code.terms.window())));
    // AND Mara gets the invite, Dan the confirmation
    assert_eq!(w.messenger.of_kind(MessageKind::Invite)[0].to, "Mara@example.com");
    assert_eq!(w.messenger.of_kind(MessageKind::InviteConfirmation)[0].to, "dan@example.com");
}

#[tokio::test]
async fn a_referrer_without_an_active_code_cannot_invite() {
    let w = World::new();
    let refused = w.minter().invite(&invite_to(&w, "mara@example.com")).await.unwrap_err();
    assert!(matches!(refused, MintError::NoActiveCode));
}

#[tokio::test]
async fn the_days_invites_stop_at_the_limit_and_start_again_the_next_day() {
    // GIVEN Dan sent the day's invites
    let w = World::new();
    let minter = w.minter();
    minter.mint(&dan()).await.unwrap();
    for n in 0..INVITES_PER_DAY {
        minter.invite(&invite_to(&w, &format!("friend{n}@example.com"))).await.unwrap();
    }
    // WHEN he sends one more today, and one tomorrow
    let over = minter.invite(&invite_to(&w, "late@example.com")).await.unwrap_err();
    w.advance(Duration::from_secs(86_400));
    let tomorrow = minter.invite(&invite_to(&w, "late@example.com")).await;
    // THEN today's is refused with the limit, tomorrow's goes
    assert!(matches!(over, MintError::InviteLimit { limit: INVITES_PER_DAY }));
    assert!(tomorrow.is_ok());
}
