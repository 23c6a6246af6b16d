//! Standard Webhooks verification over arbitrary headers and bodies: never panics, and a
//! message signed with the key always verifies while any change to its body does not.
#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rft_core::secrets::SigningSecret;
use rft_core::signature::Signer;
use rft_core::time::Timestamp;

const NOW: i64 = 1_900_000_000;

static SIGNER: LazyLock<Signer> = LazyLock::new(|| {
    let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "signing").expect("reference secret");
    Signer::new(&[secret])
});

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xFF, which never occurs in UTF-8: id, timestamp, signature, body.
    let mut parts = data.splitn(4, |b| *b == 0xFF);
    let (id, ts, sig, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let now = Timestamp::from_secs(NOW);

    let mut headers = HeaderMap::new();
    for (name, value) in [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    let _ = SIGNER.verify(&headers, body, now);

    // Round trip: whatever the signer signs, the verifier accepts, and only for that body.
    let Ok(id) = std::str::from_utf8(id) else { return };
    let Ok(header_id) = HeaderValue::from_str(id) else { return };
    let Ok(signature) = SIGNER.sign(id, NOW, body) else { return };
    let mut signed = HeaderMap::new();
    signed.insert("webhook-id", header_id);
    signed.insert("webhook-timestamp", HeaderValue::from(NOW));
    signed.insert("webhook-signature", HeaderValue::from_str(&signature).expect("base64 is a header value"));
    let id_is_valid = !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.');
    if id_is_valid {
        let verified = SIGNER.verify(&signed, body, now).expect("a message we signed verifies");
        assert_eq!(verified.as_str(), id);
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(SIGNER.verify(&signed, &tampered, now).is_err(), "a changed body must not verify");
    } else {
        assert!(SIGNER.verify(&signed, body, now).is_err(), "a malformed id must not verify");
    }
});
