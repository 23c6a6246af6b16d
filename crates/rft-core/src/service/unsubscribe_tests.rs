//! The unsubscribe decorator on fakes: programme email to an unsubscribed address (any
//! spelling of it) is not sent and is audited; the team's mail and other addresses pass.

use std::sync::Arc;

use crate::audit::AuditKind;
use crate::ports::{Channel, MessageKind, Messenger, OutboundMessage, Unsubscribes};
use crate::service::unsubscribe::{audit_subject, email_hash};
use crate::testing::World;

fn mail(to: &str, kind: MessageKind) -> OutboundMessage {
    OutboundMessage {
        channel: Channel::Email,
        to: to.into(),
        subject: "s".into(),
        body: "b".into(),
        html: None,
        kind,
        unsubscribe: None,
    }
}

async fn with_mara_unsubscribed() -> (World, Arc<dyn Messenger>) {
    let w = World::new();
    let hash = email_hash(&w.hasher(), "mara@example.com").unwrap();
    w.store.unsubscribe(&hash, w.clock_now()).await.unwrap();
    let mail = w.services.customer_mail(w.messenger.clone(), w.hasher());
    (w, mail)
}

#[tokio::test]
async fn programme_email_to_an_unsubscribed_address_is_not_sent_and_is_audited() {
    let (w, messenger) = with_mara_unsubscribed().await;
    for kind in [MessageKind::Invite, MessageKind::ThankYouFriend, MessageKind::Enrolment] {
        messenger.send(&mail("Mara+news@Example.com", kind)).await.unwrap();
    }
    assert!(w.messenger.sent().is_empty(), "{:?}", w.messenger.sent());
    let subject = audit_subject(&email_hash(&w.hasher(), "mara@example.com").unwrap());
    assert_eq!(w.audit_kinds(&subject), [AuditKind::MailSuppressed; 3]);
}

#[tokio::test]
async fn team_mail_and_other_addresses_pass() {
    let (w, messenger) = with_mara_unsubscribed().await;
    messenger.send(&mail("mara@example.com", MessageKind::HoldReview)).await.unwrap();
    messenger.send(&mail("kim@example.com", MessageKind::Invite)).await.unwrap();
    let sent: Vec<_> = w.messenger.sent().into_iter().map(|m| (m.to, m.kind)).collect();
    assert_eq!(
        sent,
        [("mara@example.com".into(), MessageKind::HoldReview), ("kim@example.com".into(), MessageKind::Invite)]
    );
}

#[tokio::test]
async fn an_unreadable_unsubscribe_list_fails_the_send_rather_than_mail_anyway() {
    let (w, messenger) = with_mara_unsubscribed().await;
    w.store.fail_next("is_unsubscribed");
    assert!(messenger.send(&mail("kim@example.com", MessageKind::Invite)).await.is_err());
    assert!(w.messenger.sent().is_empty());
}
