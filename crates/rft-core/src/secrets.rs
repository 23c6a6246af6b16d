//! Secrets: wrapped so they cannot be logged, loaded once at start from Secrets Manager in AWS
//! or the environment locally.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::Deserialize;

/// Secret bytes whose `Debug` prints nothing useful.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps key material.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The key material, for the one call that needs it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// A secret string (the store's API key) whose `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    /// The secret, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// Why a secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A signing secret is not `whsec_` followed by base64.
    #[error("{name} must be whsec_ followed by base64 key bytes (at least 24 bytes)")]
    BadSigningSecret {
        /// Which setting or field.
        name: &'static str,
    },
    /// A key is too short to be safe.
    #[error("{name} must be at least 16 characters")]
    TooShort {
        /// Which setting or field.
        name: &'static str,
    },
    /// A key still holds the stack's placeholder or a value published as an example.
    #[error(
        "{name} still holds a placeholder or a published example value: set a real one (docs/deploy.md, section 4)"
    )]
    Placeholder {
        /// Which setting or field.
        name: &'static str,
    },
    /// A key that signs or keys hashes looks typed or repeated rather than random.
    #[error(
        "{name} is too predictable to sign with (about {bits} bits by its characters, at least {MIN_KEY_BITS} needed): \
         use 32 random bytes, e.g. `openssl rand -hex 32` (docs/deploy.md, section 4)"
    )]
    Predictable {
        /// Which setting or field.
        name: &'static str,
        /// The estimate.
        bits: u32,
    },
    /// The JSON secret is malformed.
    #[error("the secret JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}

/// The floor for a key that signs or keys hashes, in bits as [`estimated_bits`] counts them.
/// Random keys clear it with room (32 random bytes as hex: about 240; a Standard Webhooks key
/// of 24 bytes, as base64: about 145); words, repeats and short values do not.
pub const MIN_KEY_BITS: u32 = 120;

/// Values that must never reach a deployment: the stack's placeholder (`REPLACE_ME (see
/// docs/deploy.md)`) and the Standard Webhooks reference key that docs/openapi.yaml signs its
/// example with.
const KNOWN_EXAMPLES: [&str; 2] = ["REPLACE_ME", "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"];

/// A rough strength estimate: the Shannon entropy of the value's own characters times its
/// length. It cannot prove a key random; it catches the typed, repeated and copied-in ones.
pub fn estimated_bits(value: &str) -> u32 {
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
    }
    let n = value.chars().count() as f64;
    let per_char: f64 = counts.values().map(|&k| -(f64::from(k) / n) * (f64::from(k) / n).log2()).sum();
    (per_char * n) as u32
}

/// Refuses a placeholder or a published example, whatever the key.
fn not_an_example(value: &str, name: &'static str) -> Result<(), SecretError> {
    let upper = value.to_ascii_uppercase();
    if KNOWN_EXAMPLES.iter().any(|e| upper.contains(&e.to_ascii_uppercase())) {
        return Err(SecretError::Placeholder { name });
    }
    Ok(())
}

/// Refuses a key that signs or keys hashes if it is an example or looks predictable.
fn strong(value: &str, name: &'static str) -> Result<(), SecretError> {
    not_an_example(value, name)?;
    let bits = estimated_bits(value);
    if bits < MIN_KEY_BITS {
        return Err(SecretError::Predictable { name, bits });
    }
    Ok(())
}

/// One Standard Webhooks signing key (`whsec_` + base64).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: SecretBytes,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(s: &str, name: &'static str) -> Result<Self, SecretError> {
        let b64 = s.trim().strip_prefix("whsec_").ok_or(SecretError::BadSigningSecret { name })?;
        let key = STANDARD.decode(b64).map_err(|_| SecretError::BadSigningSecret { name })?;
        if key.len() < 24 {
            return Err(SecretError::BadSigningSecret { name });
        }
        Ok(SigningSecret { key: SecretBytes(key) })
    }

    /// A fresh random 32-byte key.
    pub fn generate() -> Self {
        SigningSecret { key: SecretBytes(random_bytes(32)) }
    }

    /// The raw key bytes.
    pub fn key(&self) -> &SecretBytes {
        &self.key
    }

    /// The `whsec_` form to hand to the store.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", STANDARD.encode(self.key.expose()))
    }
}

/// Every secret the programme uses.
#[derive(Clone, Debug)]
pub struct SecretSet {
    /// Keys accepted on incoming signatures (rotation: add the new key, switch the store to
    /// it, then remove the old one).
    pub signing: Vec<SigningSecret>,
    /// Signs ops links, portal links and the ops queue link.
    pub ops: SecretBytes,
    /// Bearer key for the store's reward endpoint.
    pub store_api_key: SecretString,
    /// Keys identity hashes. Never rotate it casually: claims are matched by these hashes.
    pub identity: SecretBytes,
}

/// The JSON shape of the one Secrets Manager secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretJson {
    signing_secret: String,
    ops_secret: String,
    store_api_key: String,
    identity_key: String,
}

impl SecretSet {
    /// Builds the set from raw values; `signing` may hold several space-separated secrets.
    /// Every key must be a real one (no placeholder, no published example), at least 16
    /// characters; the keys that sign or key hashes (each signing secret, `ops_secret`,
    /// `identity_key`) must also look random ([`MIN_KEY_BITS`]).
    pub fn from_parts(signing: &str, ops: &str, store_api_key: &str, identity: &str) -> Result<Self, SecretError> {
        let signing = signing
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| {
                let name = "signing_secret";
                not_an_example(s, name)?;
                let key = SigningSecret::parse(s, name)?;
                strong(s.trim().trim_start_matches("whsec_"), name)?;
                Ok(key)
            })
            .collect::<Result<Vec<_>, SecretError>>()?;
        if signing.is_empty() {
            return Err(SecretError::BadSigningSecret { name: "signing_secret" });
        }
        let long_enough = |s: &str, name| if s.len() >= 16 { Ok(()) } else { Err(SecretError::TooShort { name }) };
        long_enough(ops, "ops_secret")?;
        long_enough(store_api_key, "store_api_key")?;
        long_enough(identity, "identity_key")?;
        strong(ops, "ops_secret")?;
        not_an_example(store_api_key, "store_api_key")?;
        strong(identity, "identity_key")?;
        Ok(SecretSet {
            signing,
            ops: SecretBytes(ops.as_bytes().to_vec()),
            store_api_key: SecretString(store_api_key.to_owned()),
            identity: SecretBytes(identity.as_bytes().to_vec()),
        })
    }

    /// Parses the Secrets Manager JSON:
    /// `{"signing_secret","ops_secret","store_api_key","identity_key"}`.
    pub fn from_json(json: &str) -> Result<Self, SecretError> {
        let s: SecretJson = serde_json::from_str(json)?;
        Self::from_parts(&s.signing_secret, &s.ops_secret, &s.store_api_key, &s.identity_key)
    }

    /// Random values for a first local start: (signing, ops, store key, identity key).
    pub fn generate_parts() -> [String; 4] {
        let token = || base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32));
        [SigningSecret::generate().to_whsec(), token(), token(), token()]
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_parts_parse_and_never_print() {
        let [s, o, k, i] = SecretSet::generate_parts();
        let set = SecretSet::from_parts(&s, &o, &k, &i).unwrap();
        let shown = format!("{set:?}");
        assert!(!shown.contains(&o) && !shown.contains(&k) && !shown.contains(&s[6..]));
    }

    #[test]
    fn rotation_accepts_several_signing_secrets() {
        let a = SigningSecret::generate().to_whsec();
        let b = SigningSecret::generate().to_whsec();
        let [_, o, k, i] = SecretSet::generate_parts();
        let set = SecretSet::from_parts(&format!("{a} {b}"), &o, &k, &i).unwrap();
        assert_eq!(set.signing.len(), 2);
        assert!(SecretSet::from_parts("whsec_short", &o, &k, &i).is_err());
        assert!(SecretSet::from_json(r#"{"signing_secret":"x"}"#).is_err());
    }

    /// The stack creates the secret with this in every key (infra/lib/stack.ts); a deployment
    /// that replaced only some keys must not start with the others public.
    const STACK_PLACEHOLDER: &str = "REPLACE_ME (see docs/deploy.md)";

    fn json_with(key: &str, value: &str) -> String {
        let [s, o, k, i] = SecretSet::generate_parts();
        let mut json = serde_json::json!({"signing_secret": s, "ops_secret": o, "store_api_key": k, "identity_key": i});
        json[key] = value.into();
        json.to_string()
    }

    fn refused(key: &str, value: &str) -> String {
        match SecretSet::from_json(&json_with(key, value)) {
            Ok(_) => panic!("{key} = {value:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_placeholder_is_refused_in_every_key_naming_it() {
        for key in ["signing_secret", "ops_secret", "store_api_key", "identity_key"] {
            let e = refused(key, STACK_PLACEHOLDER);
            assert!(e.starts_with(key), "{e}");
        }
        assert!(refused("ops_secret", "replace_me-with-something-long").contains("placeholder"));
    }

    #[test]
    fn the_published_example_signing_key_is_refused() {
        // Standard Webhooks' reference key, which docs/openapi.yaml signs its example with.
        let e = refused("signing_secret", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        assert!(e.contains("example"), "{e}");
    }

    #[test]
    fn keys_that_sign_must_look_random() {
        let zeros = format!("whsec_{}", STANDARD.encode([0u8; 32]));
        for (key, value) in [
            ("signing_secret", zeros.as_str()),
            ("ops_secret", "oooooooooooooooooooooooooooooooo"),
            ("identity_key", "correct horse battery staple"),
            ("ops_secret", "my-super-secret-ops-key-2024"),
        ] {
            let e = refused(key, value);
            assert!(e.starts_with(key) && e.contains("predictable"), "{e}");
        }
        // A bearer key need not be random, only real: the store may issue its own format.
        assert!(SecretSet::from_json(&json_with("store_api_key", "shop-issued-key-0001")).is_ok());
        // What docs/deploy.md tells people to generate passes.
        let hex = "3f9c1a7be04d2c58a1e6f0b3d79c25e48a0f6b1d3c7e92a5f04b8d1c6e3a7f90";
        assert!(SecretSet::from_json(&json_with("ops_secret", hex)).is_ok());
        assert!(estimated_bits(hex) > 200);
    }
}
