//! Erasure on fakes: personal data goes, amounts and decisions stay under an opaque id.

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::click::{Click, TouchKey};
use crate::code::CodeStatus;
use crate::identity::IdentityKey;
use crate::ids::Token;
use crate::jobs::Job;
use crate::referral::{Referral, ReferralState};
use crate::testing::{World, customer};

/// Dan referred Mara, who clicked (token), converted and was paid; the audit holds her details.
async fn dan_paid_for_mara(w: &World) -> Referral {
    let code = w.given_code().await;
    let referral = w.given_referral(&code).await;
    let token = Token::generate();
    let now = w.clock_now();
    {
        let mut s = w.store.state();
        s.referrals.get_mut(&referral.referral_id).unwrap().attribution_token = Some(token.clone());
        s.clicks.push(Click {
            key: TouchKey::Token(token),
            at: now,
            code: code.code.clone(),
            ip_hash: None,
            user_agent: Some("Mozilla/5.0".into()),
            channel: None,
            browser: None,
            expires_at: now.plus(code.terms.window()),
        });
        let facts = json!({ "email": "mara@example.com", "first_name": "Mara", "customer_id": "c_mara" });
        s.audit.push(AuditEvent::new(AuditKind::Attributed, "c_mara", now, facts));
    }
    w.rewarder().handle(Job::Conversion(w.conversion())).await.unwrap();
    referral
}

/// Everything stored, as text.
fn everything(w: &World) -> String {
    let s = w.store.state();
    let claims: Vec<String> = s.claims.keys().cloned().collect();
    format!(
        "{}{}{}{}{}{claims:?}",
        serde_json::to_string(&s.codes.values().collect::<Vec<_>>()).unwrap(),
        serde_json::to_string(&s.clicks).unwrap(),
        serde_json::to_string(&s.referrals.values().collect::<Vec<_>>()).unwrap(),
        serde_json::to_string(&s.ledger.values().collect::<Vec<_>>()).unwrap(),
        serde_json::to_string(&s.audit).unwrap(),
    )
}

#[tokio::test]
async fn an_erased_friend_leaves_no_personal_data_behind() {
    // GIVEN Mara was referred, clicked, converted and was paid
    let w = World::new();
    dan_paid_for_mara(&w).await;
    // WHEN she is erased
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    // THEN nothing stored carries her id, email or name, and her clicks are gone
    let stored = everything(&w);
    for personal in ["c_mara", "mara@example.com", "Mara"] {
        assert!(!stored.contains(personal), "{personal} is still stored");
    }
    assert!(w.store.state().clicks.is_empty());
}

#[tokio::test]
async fn an_erased_friend_is_no_longer_found_by_their_customer_id() {
    let w = World::new();
    dan_paid_for_mara(&w).await;
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    let found = crate::ports::ReferralStore::find(&*w.store, &IdentityKey::Customer(customer("c_mara"))).await.unwrap();
    assert_eq!(found, None);
}

#[tokio::test]
async fn amounts_and_decisions_stay_under_a_stable_opaque_id() {
    // GIVEN Mara's paid referral
    let w = World::new();
    let referral = dan_paid_for_mara(&w).await;
    let amounts: Vec<u64> = w.rows(&referral.referral_id).iter().map(|r| r.reward.amount_minor).collect();
    let eraser = w.eraser();
    // WHEN she is erased
    eraser.erase_customer(&customer("c_mara")).await.unwrap();
    // THEN her ledger row keeps its amount under the opaque id, the referral keeps its state, and the audit says so
    let opaque = eraser.opaque_id(&customer("c_mara"));
    assert!(opaque.as_str().starts_with("erased_") && !opaque.as_str().contains("mara"));
    let rows = w.rows(&referral.referral_id);
    assert_eq!(rows.iter().map(|r| r.reward.amount_minor).collect::<Vec<_>>(), amounts);
    assert_eq!(rows[1].customer_id, opaque);
    let kept = w.referral(&referral.referral_id);
    assert_eq!((kept.referred_id.clone(), kept.state), (opaque.clone(), ReferralState::Rewarded));
    assert!(w.audit_kinds(opaque.as_str()).contains(&AuditKind::Erased));
}

#[tokio::test]
async fn an_erased_referrer_loses_their_code_and_their_name_on_referrals() {
    // GIVEN Dan referred Mara
    let w = World::new();
    let referral = dan_paid_for_mara(&w).await;
    let eraser = w.eraser();
    // WHEN Dan is erased
    eraser.erase_customer(&customer("c_dan")).await.unwrap();
    // THEN his code is retired and no longer names him, and the referral credits the opaque id
    let opaque = eraser.opaque_id(&customer("c_dan"));
    let code = w.store.state().codes.values().next().cloned().unwrap();
    assert_eq!(
        (code.status, code.referrer_id.clone(), code.referrer.email.clone(), code.invite.as_str()),
        (CodeStatus::Retired, opaque.clone(), None, ""),
        "the invite names him too"
    );
    assert_eq!(w.referral(&referral.referral_id).referrer_id, opaque);
    assert!(!everything(&w).contains("dan@example.com"));
}

#[tokio::test]
async fn erasing_twice_is_the_same_as_once() {
    // GIVEN Mara was erased
    let w = World::new();
    dan_paid_for_mara(&w).await;
    let eraser = w.eraser();
    eraser.erase_customer(&customer("c_mara")).await.unwrap();
    let once = everything(&w);
    // WHEN she is erased again
    eraser.erase_customer(&customer("c_mara")).await.unwrap();
    // THEN only a second "erased" audit row was added
    let twice = everything(&w);
    assert_eq!(twice.matches("\"erased\"").count(), once.matches("\"erased\"").count() + 1);
    assert_eq!(w.store.state().referrals.len(), 1);
}

#[tokio::test]
async fn erasure_destroys_the_keys_of_everything_it_rewrote() {
    // GIVEN Dan referred Mara, who was paid
    let w = World::new();
    let referral = dan_paid_for_mara(&w).await;
    // WHEN Mara is erased
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    // THEN the keys of her customer id and her referral are destroyed, after the rewrites
    let destroyed = w.store.state().destroyed_keys.clone();
    assert!(destroyed.contains(&"c_mara".to_owned()), "{destroyed:?}");
    assert!(destroyed.contains(&referral.referral_id.to_string()), "{destroyed:?}");
    assert!(!destroyed.contains(&"c_dan".to_owned()), "Dan keeps his: {destroyed:?}");
}

#[tokio::test]
async fn erasures_are_applied_again_to_records_restored_from_before_them() {
    // GIVEN Mara was paid, a copy of the records was taken, and then she was erased
    let w = World::new();
    dan_paid_for_mara(&w).await;
    let copy = w.store.state().snapshot();
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    // WHEN the records are restored from the copy (the record of erasures is not)
    w.store.state().restore(copy);
    assert!(everything(&w).contains("mara@example.com"), "the copy holds her");
    // THEN erasures applied again forget her, and nobody else
    let again = w.eraser().reapply(&[customer("c_mara"), customer("c_dan")]).await.unwrap();
    assert_eq!(again, 1);
    assert!(!everything(&w).contains("mara@example.com"));
    assert!(everything(&w).contains("c_dan"), "Dan was not erased");
}

#[tokio::test]
async fn the_answers_kept_for_replays_about_an_erased_customer_are_forgotten() {
    use crate::ports::{ANSWER_ERASED, Begin, StoredResponse};
    // GIVEN answers kept about Mara and about Dan (a link's answer holds its portal link)
    let w = World::new();
    dan_paid_for_mara(&w).await;
    let opaque = |who: &str| w.eraser().opaque_id(&customer(who));
    let about = |who: &str| StoredResponse {
        about: Some(opaque(who)),
        ..StoredResponse::new(201, format!(r#"{{"portal_url":"https://shop.example/p/{who}"}}"#))
    };
    let now = w.clock_now();
    let log: &dyn crate::ports::WebhookLog = w.store.as_ref();
    for who in ["c_mara", "c_dan"] {
        log.begin(who, now, std::time::Duration::from_secs(30)).await.unwrap();
        log.finish(who, &about(who), now).await.unwrap();
    }
    // WHEN Mara is erased
    w.eraser().erase_customer(&customer("c_mara")).await.unwrap();
    // THEN a replay of hers gets the same status and no body; Dan's is untouched
    let replay =
        |who: &'static str| async move { log.begin(who, now, std::time::Duration::from_secs(30)).await.unwrap() };
    let Begin::Done(hers) = replay("c_mara").await else { panic!("answered") };
    assert_eq!((hers.status, hers.body.as_str()), (201, ANSWER_ERASED));
    assert_eq!(replay("c_dan").await, Begin::Done(about("c_dan")));
}
