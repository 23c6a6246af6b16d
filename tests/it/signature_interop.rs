//! Our webhook verifiers against the providers' own signing code: events signed by the official
//! Stripe library's test helper and HMACs computed as Shopify documents are accepted, and a
//! tampered body, a stale timestamp or a wrong secret is refused; the Standard Webhooks
//! signatures we put on calls to a store verify with the reference libraries.

use rft_core::connectors::{SignatureError, shopify, stripe};
use rft_core::secrets::{SecretString, SigningSecret};
use rft_core::signature::Signer;
use rft_core::time::Timestamp;
use rft_tests::signing_interop::{
    SKIP_REASON, shopify_hmac, stripe_signature_header, verify_standard_webhooks, verify_standard_webhooks_python,
};

const STRIPE_EVENT: &str =
    include_str!("../../crates/rft-core/fixtures/stripe/checkout_session_completed_payment.json");
const SHOPIFY_ORDER: &str = include_str!("../../crates/rft-core/fixtures/shopify/orders_paid.json");
const STRIPE_SECRET: &str = "whsec_test_interop_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH";
const SHOPIFY_SECRET: &str = "shpss_interop_0123456789abcdef0123456789";
const T: i64 = 1_767_225_600;

#[test]
fn stripe_events_signed_by_the_official_library_verify() {
    let Some(header) = stripe_signature_header(STRIPE_EVENT.as_bytes(), STRIPE_SECRET, T) else {
        eprintln!("{SKIP_REASON}");
        return;
    };
    let header = header.expect("the Stripe library signs");
    assert!(header.starts_with(&format!("t={T},v1=")), "{header}");
    let secret = SecretString::new(STRIPE_SECRET.into());
    let body = STRIPE_EVENT.as_bytes();
    assert_eq!(stripe::verify(&secret, &header, body, Timestamp::from_secs(T + 60)), Ok(()));
    let event = stripe::parse_event(body).unwrap();
    assert_eq!(event.kind(), "conversion");

    let tampered = STRIPE_EVENT.replacen("\"amount_total\": 4500", "\"amount_total\": 450", 1);
    assert_ne!(tampered, STRIPE_EVENT);
    assert_eq!(
        stripe::verify(&secret, &header, tampered.as_bytes(), Timestamp::from_secs(T)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(stripe::verify(&secret, &header, body, Timestamp::from_secs(T + 301)), Err(SignatureError::Stale));
    assert_eq!(stripe::verify(&secret, &header, body, Timestamp::from_secs(T - 301)), Err(SignatureError::Future));
    let wrong = SecretString::new("whsec_test_someone_elses_endpoint".into());
    assert_eq!(stripe::verify(&wrong, &header, body, Timestamp::from_secs(T)), Err(SignatureError::Mismatch));
}

#[test]
fn a_rolled_stripe_secret_sends_two_signatures_and_either_verifies() {
    let old = "whsec_test_interop_the_old_secret_abc";
    let (Some(new_header), Some(old_header)) = (
        stripe_signature_header(STRIPE_EVENT.as_bytes(), STRIPE_SECRET, T),
        stripe_signature_header(STRIPE_EVENT.as_bytes(), old, T),
    ) else {
        eprintln!("{SKIP_REASON}");
        return;
    };
    let (new_header, old_header) = (new_header.unwrap(), old_header.unwrap());
    let old_v1 = old_header.split_once(",v1=").unwrap().1;
    let both = format!("{new_header},v1={old_v1}");
    for secret in [STRIPE_SECRET, old] {
        let secret = SecretString::new(secret.into());
        assert_eq!(stripe::verify(&secret, &both, STRIPE_EVENT.as_bytes(), Timestamp::from_secs(T)), Ok(()));
    }
}

#[test]
fn shopify_hmacs_computed_as_documented_verify() {
    let Some(hmac) = shopify_hmac(SHOPIFY_ORDER.as_bytes(), SHOPIFY_SECRET) else {
        eprintln!("{SKIP_REASON}");
        return;
    };
    let hmac = hmac.expect("python computes the HMAC");
    let secret = SecretString::new(SHOPIFY_SECRET.into());
    assert_eq!(shopify::verify(&secret, &hmac, SHOPIFY_ORDER.as_bytes()), Ok(()));
    let tampered = SHOPIFY_ORDER.replacen("\"total_price\": \"39.95\"", "\"total_price\": \"3.95\"", 1);
    assert_ne!(tampered, SHOPIFY_ORDER);
    assert_eq!(shopify::verify(&secret, &hmac, tampered.as_bytes()), Err(SignatureError::Mismatch));
    let wrong = SecretString::new("shpss_someone_elses_secret_0000".into());
    assert_eq!(shopify::verify(&wrong, &hmac, SHOPIFY_ORDER.as_bytes()), Err(SignatureError::Mismatch));
}

#[test]
fn our_standard_webhooks_signatures_verify_with_the_reference_libraries() {
    let secret = SigningSecret::generate();
    let whsec = secret.to_whsec();
    let signer = Signer::new(&[secret]);
    let body = br#"{"referral_id":"rf_0123456789abcdefghjkmnpqrs","side":"referrer","customer_id":"c_dan","reward":{"kind":"credit","amount_minor":1000,"currency":"GBP","description":"\xc2\xa310 off"}}"#;
    let now = Timestamp::from_secs(chrono_now());
    let headers = signer.headers("rf_0123456789abcdefghjkmnpqrs:referrer", now, body).unwrap();
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(verify_standard_webhooks(&whsec, &pairs, body), Ok(()));
    let mut tampered = body.to_vec();
    tampered[20] ^= 1;
    assert!(verify_standard_webhooks(&whsec, &pairs, &tampered).is_err());
    assert!(verify_standard_webhooks(&SigningSecret::generate().to_whsec(), &pairs, body).is_err());
    match verify_standard_webhooks_python(&whsec, &pairs, body) {
        None => eprintln!("{SKIP_REASON}"),
        Some(result) => {
            assert_eq!(result, Ok(()));
            let bad = verify_standard_webhooks_python(&whsec, &pairs, &tampered).unwrap();
            assert!(bad.is_err());
        }
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
