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
    /// The JSON secret is malformed.
    #[error("the secret JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
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
    pub fn from_parts(signing: &str, ops: &str, store_api_key: &str, identity: &str) -> Result<Self, SecretError> {
        let signing = signing
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| SigningSecret::parse(s, "signing_secret"))
            .collect::<Result<Vec<_>, _>>()?;
        if signing.is_empty() {
            return Err(SecretError::BadSigningSecret { name: "signing_secret" });
        }
        let long_enough = |s: &str, name| if s.len() >= 16 { Ok(()) } else { Err(SecretError::TooShort { name }) };
        long_enough(ops, "ops_secret")?;
        long_enough(store_api_key, "store_api_key")?;
        long_enough(identity, "identity_key")?;
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
        let token = || base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(24));
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
        let set =
            SecretSet::from_parts(&format!("{a} {b}"), &"o".repeat(16), &"k".repeat(16), &"i".repeat(16)).unwrap();
        assert_eq!(set.signing.len(), 2);
        assert!(SecretSet::from_parts("whsec_short", &"o".repeat(16), &"k".repeat(16), &"i".repeat(16)).is_err());
        assert!(SecretSet::from_json(r#"{"signing_secret":"x"}"#).is_err());
    }
}
