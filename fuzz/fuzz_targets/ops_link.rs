//! The ops-link verifier over arbitrary ids, actions, expiries and signatures: never panics,
//! accepts only what the signer made for exactly that purpose, and refuses it for any other.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rft_core::ids::{CustomerId, ReferralId};
use rft_core::links::{Action, LinkPurpose, LinkSigner};
use rft_core::secrets::SecretBytes;
use rft_core::time::Timestamp;

const NOW: i64 = 1_900_000_000;

static LINKS: LazyLock<LinkSigner> = LazyLock::new(|| LinkSigner::new(SecretBytes::new(b"fuzzing ops key, 32 bytes long!!".to_vec())));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Fields separated by newlines: referral id, action, exp, sig, customer id.
    let mut parts = text.splitn(5, '\n');
    let (id, action, exp, sig, customer) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let now = Timestamp::from_secs(NOW);

    let mut purposes = vec![LinkPurpose::Queue];
    if let (Ok(id), Some(action)) = (ReferralId::parse(id), Action::parse(action)) {
        purposes.push(LinkPurpose::Decide(id, action));
    }
    if let Ok(customer) = CustomerId::parse(customer) {
        purposes.push(LinkPurpose::Portal(customer));
    }
    for purpose in &purposes {
        // An arbitrary signature is refused (the chance of forging HMAC-SHA256 is nil).
        let _ = LINKS.verify(purpose, exp, sig, now);
        // A real one for this purpose works until it expires, and for no other purpose.
        let exp_at = Timestamp::from_secs(NOW + i64::from(data.len() as u16) - 100);
        let link = LINKS.sign(purpose, exp_at);
        let verdict = LINKS.verify(purpose, &link.exp.to_string(), &link.sig, now);
        assert_eq!(verdict.is_ok(), link.exp >= NOW, "{purpose:?} at exp {}", link.exp);
        for other in purposes.iter().filter(|p| *p != purpose) {
            assert!(LINKS.verify(other, &link.exp.to_string(), &link.sig, now).is_err());
        }
    }
});
