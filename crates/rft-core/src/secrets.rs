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
    /// A provider credential is not in the provider's format.
    #[error("{name} {expected}")]
    BadProviderSecret {
        /// Which secret.
        name: &'static str,
        /// What it should look like.
        expected: &'static str,
    },
    /// The store's kind needs a secret that was not given.
    #[error(
        "store.kind = \"{kind}\" needs the secret {name}: set {env} locally, or the {name} key of the Secrets Manager secret in AWS"
    )]
    Missing {
        /// The secret's name (its Secrets Manager JSON key).
        name: &'static str,
        /// Its environment variable locally.
        env: &'static str,
        /// The store kind that needs it.
        kind: &'static str,
    },
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

/// A signing key that is neither an example nor predictable.
fn strong_signing_secret(value: &str, name: &'static str) -> Result<SigningSecret, SecretError> {
    not_an_example(value, name)?;
    let key = SigningSecret::parse(value, name)?;
    strong(value.trim().trim_start_matches("whsec_"), name)?;
    Ok(key)
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

/// Credentials a connected store hands over: each present only if given. Which ones a store
/// needs depends on `store.kind` ([`SecretSet::require_for`]); none is ever generated, they come
/// from the provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderSecrets {
    /// Stripe secret or restricted API key (`sk_...`, `rk_...`).
    pub stripe_api_key: Option<SecretString>,
    /// Stripe webhook endpoint signing secret (`whsec_...`), used as text.
    pub stripe_webhook_secret: Option<SecretString>,
    /// Shopify Admin API access token (`shpat_...`).
    pub shopify_admin_token: Option<SecretString>,
    /// Shopify webhook signing secret (the app's client secret).
    pub shopify_webhook_secret: Option<SecretString>,
}

/// One provider secret's name, environment variable and check.
struct ProviderSecretSpec {
    name: &'static str,
    env: &'static str,
    prefixes: &'static [&'static str],
    expected: &'static str,
}

const STRIPE_API_KEY: ProviderSecretSpec = ProviderSecretSpec {
    name: "stripe_api_key",
    env: "RFT_STRIPE_API_KEY",
    prefixes: &["sk_", "rk_"],
    expected: "must be a Stripe secret or restricted key (sk_... or rk_..., not the publishable pk_...)",
};
const STRIPE_WEBHOOK_SECRET: ProviderSecretSpec = ProviderSecretSpec {
    name: "stripe_webhook_secret",
    env: "RFT_STRIPE_WEBHOOK_SECRET",
    prefixes: &["whsec_"],
    expected: "must be the webhook endpoint's signing secret, whsec_...",
};
const SHOPIFY_ADMIN_TOKEN: ProviderSecretSpec = ProviderSecretSpec {
    name: "shopify_admin_token",
    env: "RFT_SHOPIFY_ADMIN_TOKEN",
    prefixes: &[],
    expected: "must be the custom app's Admin API access token (shpat_..., at least 16 characters)",
};
const SHOPIFY_WEBHOOK_SECRET: ProviderSecretSpec = ProviderSecretSpec {
    name: "shopify_webhook_secret",
    env: "RFT_SHOPIFY_WEBHOOK_SECRET",
    prefixes: &[],
    expected: "must be the webhook signing secret shown by Shopify (at least 16 characters)",
};

impl ProviderSecretSpec {
    fn parse(&self, raw: Option<&str>) -> Result<Option<SecretString>, SecretError> {
        let Some(v) = raw.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
        not_an_example(v, self.name)?;
        let prefix_ok = self.prefixes.is_empty() || self.prefixes.iter().any(|p| v.starts_with(p));
        if !prefix_ok || v.len() < 16 || v.chars().any(char::is_whitespace) {
            return Err(SecretError::BadProviderSecret { name: self.name, expected: self.expected });
        }
        Ok(Some(SecretString(v.to_owned())))
    }
}

/// The names and environment variables of the provider secrets, for loaders:
/// `(stripe_api_key, RFT_STRIPE_API_KEY)`, ...
pub const PROVIDER_SECRETS: [(&str, &str); 4] = [
    (STRIPE_API_KEY.name, STRIPE_API_KEY.env),
    (STRIPE_WEBHOOK_SECRET.name, STRIPE_WEBHOOK_SECRET.env),
    (SHOPIFY_ADMIN_TOKEN.name, SHOPIFY_ADMIN_TOKEN.env),
    (SHOPIFY_WEBHOOK_SECRET.name, SHOPIFY_WEBHOOK_SECRET.env),
];

impl ProviderSecrets {
    /// Checks the given values (absent or blank ones stay absent).
    pub fn parse(
        stripe_api_key: Option<&str>,
        stripe_webhook_secret: Option<&str>,
        shopify_admin_token: Option<&str>,
        shopify_webhook_secret: Option<&str>,
    ) -> Result<Self, SecretError> {
        Ok(ProviderSecrets {
            stripe_api_key: STRIPE_API_KEY.parse(stripe_api_key)?,
            stripe_webhook_secret: STRIPE_WEBHOOK_SECRET.parse(stripe_webhook_secret)?,
            shopify_admin_token: SHOPIFY_ADMIN_TOKEN.parse(shopify_admin_token)?,
            shopify_webhook_secret: SHOPIFY_WEBHOOK_SECRET.parse(shopify_webhook_secret)?,
        })
    }
}

/// A Stripe store's two credentials.
#[derive(Clone, Copy, Debug)]
pub struct StripeKeys<'a> {
    /// For API calls.
    pub api_key: &'a SecretString,
    /// For `Stripe-Signature`.
    pub webhook_secret: &'a SecretString,
}

/// A Shopify shop's two credentials.
#[derive(Clone, Copy, Debug)]
pub struct ShopifyKeys<'a> {
    /// For Admin API calls.
    pub admin_token: &'a SecretString,
    /// For `X-Shopify-Hmac-Sha256`.
    pub webhook_secret: &'a SecretString,
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
    /// Signs our calls to the store's `reward_url` (Standard Webhooks), so the store can check
    /// them. Required for `store.kind = "webhooks"` ([`SecretSet::require_for`]).
    pub store_signing: Option<SigningSecret>,
    /// A connected store's credentials.
    pub providers: ProviderSecrets,
}

/// The JSON shape of the one Secrets Manager secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretJson {
    signing_secret: String,
    ops_secret: String,
    store_api_key: String,
    identity_key: String,
    store_signing_secret: Option<String>,
    stripe_api_key: Option<String>,
    stripe_webhook_secret: Option<String>,
    shopify_admin_token: Option<String>,
    shopify_webhook_secret: Option<String>,
}

impl SecretSet {
    /// Builds the set from raw values; `signing` may hold several space-separated secrets.
    /// The store signing secret is freshly generated and no provider secret is set: loaders
    /// replace them with [`SecretSet::with_store_signing`] and [`SecretSet::with_providers`];
    /// tests read the generated one from the set.
    pub fn from_parts(signing: &str, ops: &str, store_api_key: &str, identity: &str) -> Result<Self, SecretError> {
        let signing = signing
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| strong_signing_secret(s, "signing_secret"))
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
            store_signing: Some(SigningSecret::generate()),
            providers: ProviderSecrets::default(),
        })
    }

    /// Sets the store signing secret (`whsec_` + base64); `None` leaves it unset.
    pub fn with_store_signing(mut self, whsec: Option<&str>) -> Result<Self, SecretError> {
        self.store_signing = whsec
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| strong_signing_secret(s, "store_signing_secret"))
            .transpose()?;
        Ok(self)
    }

    /// Sets the connected store's credentials.
    pub fn with_providers(mut self, providers: ProviderSecrets) -> Self {
        self.providers = providers;
        self
    }

    /// Parses the Secrets Manager JSON: `{"signing_secret","ops_secret","store_api_key",
    /// "identity_key"}` and, as the store's kind needs them, `"store_signing_secret"`,
    /// `"stripe_api_key"`, `"stripe_webhook_secret"`, `"shopify_admin_token"`,
    /// `"shopify_webhook_secret"`. Check them against the settings with
    /// [`SecretSet::require_for`].
    pub fn from_json(json: &str) -> Result<Self, SecretError> {
        let s: SecretJson = serde_json::from_str(json)?;
        let providers = ProviderSecrets::parse(
            s.stripe_api_key.as_deref(),
            s.stripe_webhook_secret.as_deref(),
            s.shopify_admin_token.as_deref(),
            s.shopify_webhook_secret.as_deref(),
        )?;
        Ok(Self::from_parts(&s.signing_secret, &s.ops_secret, &s.store_api_key, &s.identity_key)?
            .with_store_signing(s.store_signing_secret.as_deref())?
            .with_providers(providers))
    }

    /// Checks that every secret the store's kind needs is present, naming the first missing:
    /// `webhooks` needs `store_signing_secret`; `stripe` its API key and webhook secret;
    /// `shopify` its admin token and webhook secret.
    pub fn require_for(&self, kind: crate::settings::StoreKind) -> Result<(), SecretError> {
        use crate::settings::StoreKind;
        let missing = |name, env| SecretError::Missing { name, env, kind: kind.as_str() };
        let need = |present: bool, spec: &ProviderSecretSpec| {
            if present { Ok(()) } else { Err(missing(spec.name, spec.env)) }
        };
        let p = &self.providers;
        match kind {
            StoreKind::Webhooks => {
                if self.store_signing.is_none() {
                    return Err(missing("store_signing_secret", "RFT_STORE_SIGNING_SECRET"));
                }
            }
            StoreKind::Stripe => {
                need(p.stripe_api_key.is_some(), &STRIPE_API_KEY)?;
                need(p.stripe_webhook_secret.is_some(), &STRIPE_WEBHOOK_SECRET)?;
            }
            StoreKind::Shopify => {
                need(p.shopify_admin_token.is_some(), &SHOPIFY_ADMIN_TOKEN)?;
                need(p.shopify_webhook_secret.is_some(), &SHOPIFY_WEBHOOK_SECRET)?;
            }
        }
        Ok(())
    }

    /// The store signing secret, or the error naming it.
    pub fn store_signing(&self) -> Result<&SigningSecret, SecretError> {
        self.store_signing.as_ref().ok_or(SecretError::Missing {
            name: "store_signing_secret",
            env: "RFT_STORE_SIGNING_SECRET",
            kind: "webhooks",
        })
    }

    /// The Stripe credentials, or the error naming the first missing one.
    pub fn stripe(&self) -> Result<StripeKeys<'_>, SecretError> {
        self.require_for(crate::settings::StoreKind::Stripe)?;
        match (&self.providers.stripe_api_key, &self.providers.stripe_webhook_secret) {
            (Some(api_key), Some(webhook_secret)) => Ok(StripeKeys { api_key, webhook_secret }),
            _ => Err(SecretError::Missing { name: STRIPE_API_KEY.name, env: STRIPE_API_KEY.env, kind: "stripe" }),
        }
    }

    /// The Shopify credentials, or the error naming the first missing one.
    pub fn shopify(&self) -> Result<ShopifyKeys<'_>, SecretError> {
        self.require_for(crate::settings::StoreKind::Shopify)?;
        match (&self.providers.shopify_admin_token, &self.providers.shopify_webhook_secret) {
            (Some(admin_token), Some(webhook_secret)) => Ok(ShopifyKeys { admin_token, webhook_secret }),
            _ => Err(SecretError::Missing {
                name: SHOPIFY_ADMIN_TOKEN.name,
                env: SHOPIFY_ADMIN_TOKEN.env,
                kind: "shopify",
            }),
        }
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

    fn base_json(extra: &str) -> String {
        let [s, o, k, i] = SecretSet::generate_parts();
        format!(r#"{{"signing_secret":"{s}","ops_secret":"{o}","store_api_key":"{k}","identity_key":"{i}"{extra}}}"#)
    }

    #[test]
    fn the_json_may_carry_the_store_signing_and_provider_secrets() {
        use crate::settings::StoreKind;
        let store = SigningSecret::generate().to_whsec();
        let set = SecretSet::from_json(&base_json(&format!(
            r#","store_signing_secret":"{store}","stripe_api_key":"rk_test_abcdefghijklmnop","stripe_webhook_secret":"whsec_abcdefghijklmnop""#
        )))
        .unwrap();
        assert_eq!(set.store_signing().unwrap().to_whsec(), store);
        assert_eq!(set.require_for(StoreKind::Webhooks).map_err(|e| e.to_string()), Ok(()));
        let stripe = set.stripe().unwrap();
        assert_eq!(stripe.api_key.expose(), "rk_test_abcdefghijklmnop");
        assert_eq!(stripe.webhook_secret.expose(), "whsec_abcdefghijklmnop");
        let e = set.require_for(StoreKind::Shopify).unwrap_err().to_string();
        assert!(e.contains("shopify_admin_token") && e.contains("RFT_SHOPIFY_ADMIN_TOKEN"), "{e}");
        assert!(!format!("{set:?}").contains("abcdefghijklmnop"));
    }

    #[test]
    fn a_kind_without_its_secrets_is_named() {
        use crate::settings::StoreKind;
        let bare = SecretSet::from_json(&base_json("")).unwrap();
        let e = bare.require_for(StoreKind::Webhooks).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "store.kind = \"webhooks\" needs the secret store_signing_secret: set RFT_STORE_SIGNING_SECRET"
            ),
            "{e}"
        );
        let e = bare.require_for(StoreKind::Stripe).unwrap_err().to_string();
        assert!(e.contains("needs the secret stripe_api_key"), "{e}");
        let half = bare
            .clone()
            .with_providers(ProviderSecrets::parse(Some("sk_test_0123456789abcdef"), None, None, None).unwrap());
        assert!(half.require_for(StoreKind::Stripe).unwrap_err().to_string().contains("stripe_webhook_secret"));
        let shop = bare.with_providers(
            ProviderSecrets::parse(None, None, Some("shpat_0123456789abcdef"), Some("0123456789abcdef0123")).unwrap(),
        );
        assert!(shop.shopify().is_ok());
        let [s, o, k, i] = SecretSet::generate_parts();
        assert!(
            SecretSet::from_parts(&s, &o, &k, &i).unwrap().require_for(StoreKind::Webhooks).is_ok(),
            "from_parts generates a store signing secret"
        );
    }

    #[test]
    fn provider_secrets_in_the_wrong_format_are_named() {
        let e = |r: Result<ProviderSecrets, SecretError>| r.unwrap_err().to_string();
        assert!(
            e(ProviderSecrets::parse(Some("pk_live_0123456789abcdef"), None, None, None))
                .starts_with("stripe_api_key ")
        );
        assert!(
            e(ProviderSecrets::parse(None, Some("0123456789abcdef0123"), None, None))
                .starts_with("stripe_webhook_secret ")
        );
        assert!(e(ProviderSecrets::parse(None, None, Some("short"), None)).starts_with("shopify_admin_token "));
        assert!(
            e(ProviderSecrets::parse(None, None, None, Some("has spaces in it ok")))
                .starts_with("shopify_webhook_secret ")
        );
        assert_eq!(ProviderSecrets::parse(Some("  "), None, None, None).unwrap(), ProviderSecrets::default());
        assert!(SecretSet::from_json(&base_json(r#","store_signing_secret":"nope""#)).is_err());
        assert!(SecretSet::from_json(&base_json(r#","stripe_key":"x""#)).is_err(), "unknown keys are refused");
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
