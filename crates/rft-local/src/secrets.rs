//! Local secrets: from `RFT_SIGNING_SECRET`, `RFT_OPS_SECRET`, `RFT_STORE_API_KEY`,
//! `RFT_IDENTITY_KEY` and `RFT_STORE_SIGNING_SECRET`; any that are missing are generated once,
//! saved in the data directory (mode 0600) and reused on the next start, so links and
//! signatures survive restarts. A connected store's credentials (`RFT_STRIPE_API_KEY`,
//! `RFT_STRIPE_WEBHOOK_SECRET`, `RFT_SHOPIFY_ADMIN_TOKEN`, `RFT_SHOPIFY_WEBHOOK_SECRET`) come
//! from the provider, so they are never generated: from the environment, or from the same file
//! if put there by hand; a store kind whose credentials are missing stops start-up naming them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use rft_core::secrets::{PROVIDER_SECRETS, ProviderSecrets, SecretError, SecretSet, SigningSecret};
use rft_core::settings::StoreKind;

/// The file in the data directory holding generated secrets.
pub const FILE: &str = "secrets.json";

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    signing_secret: Option<String>,
    ops_secret: Option<String>,
    store_api_key: Option<String>,
    identity_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_signing_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stripe_api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stripe_webhook_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shopify_admin_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shopify_webhook_secret: Option<String>,
}

/// Why local secrets could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LocalSecretsError {
    /// Reading or writing the secrets file failed.
    #[error("could not read or write {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The secrets file is not valid JSON.
    #[error("{path} is not valid JSON")]
    Json {
        /// The file.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A value is unusable.
    #[error(transparent)]
    Invalid(#[from] SecretError),
}

/// The loaded secrets, and which of them were generated on this start (to print).
pub struct Loaded {
    /// The secrets.
    pub set: SecretSet,
    /// Every value as text, for printing at start: (environment variable, value, generated).
    pub shown: Vec<(&'static str, String, bool)>,
}

/// Loads secrets from the environment, falling back to (and filling) `dir/secrets.json`, and
/// checks a store of `kind` has what it needs.
pub fn load(dir: &Path, kind: StoreKind) -> Result<Loaded, LocalSecretsError> {
    let path = dir.join(FILE);
    let path_s = path.display().to_string();
    let mut saved: Saved = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| LocalSecretsError::Json { path: path_s.clone(), source })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
        Err(source) => return Err(LocalSecretsError::Io { path: path_s, source }),
    };
    let generated = SecretSet::generate_parts();
    let mut shown = Vec::new();
    let mut changed = false;
    let mut pick = |var: &'static str, slot: &mut Option<String>, fresh: &str| -> String {
        if let Ok(v) = std::env::var(var) {
            shown.push((var, v.clone(), false));
            return v;
        }
        let was_missing = slot.is_none();
        let v = slot.get_or_insert_with(|| fresh.to_owned()).clone();
        changed |= was_missing;
        shown.push((var, v.clone(), was_missing));
        v
    };
    let signing = pick("RFT_SIGNING_SECRET", &mut saved.signing_secret, &generated[0]);
    let ops = pick("RFT_OPS_SECRET", &mut saved.ops_secret, &generated[1]);
    let store = pick("RFT_STORE_API_KEY", &mut saved.store_api_key, &generated[2]);
    let identity = pick("RFT_IDENTITY_KEY", &mut saved.identity_key, &generated[3]);
    let store_signing =
        pick("RFT_STORE_SIGNING_SECRET", &mut saved.store_signing_secret, &SigningSecret::generate().to_whsec());
    let provider = |env: &str, slot: &Option<String>| std::env::var(env).ok().or_else(|| slot.clone());
    let given = [
        provider(PROVIDER_SECRETS[0].1, &saved.stripe_api_key),
        provider(PROVIDER_SECRETS[1].1, &saved.stripe_webhook_secret),
        provider(PROVIDER_SECRETS[2].1, &saved.shopify_admin_token),
        provider(PROVIDER_SECRETS[3].1, &saved.shopify_webhook_secret),
    ];
    for ((_, env), value) in PROVIDER_SECRETS.iter().zip(&given) {
        // Never printed: these unlock the shop's own account.
        if value.is_some() {
            shown.push((*env, "(set)".to_owned(), false));
        }
    }
    let providers =
        ProviderSecrets::parse(given[0].as_deref(), given[1].as_deref(), given[2].as_deref(), given[3].as_deref())?;
    let set = SecretSet::from_parts(&signing, &ops, &store, &identity)?
        .with_store_signing(Some(&store_signing))?
        .with_providers(providers);
    set.require_for(kind)?;
    if changed {
        write_private(&path, &serde_json::to_vec_pretty(&saved).expect("strings serialise"))
            .map_err(|source| LocalSecretsError::Io { path: path_s, source })?;
    }
    Ok(Loaded { set, shown })
}

/// The secret a client of the running server signs with (the first of `RFT_SIGNING_SECRET`, or
/// the one `serve` generated into `dir`), for commands such as `rft-local import`.
pub fn client_signing_secret(dir: &Path) -> Result<SigningSecret, LocalSecretsError> {
    let path = dir.join(FILE);
    let path_s = path.display().to_string();
    let configured = match std::env::var("RFT_SIGNING_SECRET") {
        Ok(v) => Some(v),
        Err(_) => match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<Saved>(&bytes)
                    .map_err(|source| LocalSecretsError::Json { path: path_s.clone(), source })?
                    .signing_secret
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(LocalSecretsError::Io { path: path_s, source }),
        },
    };
    let first = configured.as_deref().and_then(|v| v.split([' ', ',']).find(|s| !s.is_empty()));
    let first = first.ok_or(SecretError::BadSigningSecret { name: "signing_secret" })?;
    Ok(SigningSecret::parse(first, "signing_secret")?)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
