//! The one Secrets Manager secret (JSON: signing, ops, store and identity keys; the store
//! signing secret and a connected store's credentials as its kind needs), read once at start.

use rft_core::secrets::{SecretError, SecretSet};
use rft_core::settings::StoreKind;

/// Loading the secret failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadSecretError {
    /// Secrets Manager refused or failed.
    #[error("could not read secret {id}")]
    Fetch {
        /// The secret's id or ARN.
        id: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The secret has no string value.
    #[error("secret {0} has no string value")]
    Empty(String),
    /// The value is not the expected JSON.
    #[error(transparent)]
    Invalid(#[from] SecretError),
}

/// Reads and parses the secret `id`, and checks it holds what a store of `kind` needs (a
/// missing one stops start-up with its name).
pub async fn load(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    kind: StoreKind,
) -> Result<SecretSet, LoadSecretError> {
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| LoadSecretError::Fetch { id: id.to_owned(), source: Box::new(e) })?;
    let text = out.secret_string.ok_or_else(|| LoadSecretError::Empty(id.to_owned()))?;
    let set = SecretSet::from_json(&text)?;
    set.require_for(kind)?;
    Ok(set)
}
