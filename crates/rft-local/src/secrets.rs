//! Local secrets: from `RFT_SIGNING_SECRET`, `RFT_OPS_SECRET`, `RFT_STORE_API_KEY` and
//! `RFT_IDENTITY_KEY`; any that are missing are generated once, saved in the data directory
//! (mode 0600) and reused on the next start, so links and signatures survive restarts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use rft_core::secrets::{SecretError, SecretSet};

/// The file in the data directory holding generated secrets.
pub const FILE: &str = "secrets.json";

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    signing_secret: Option<String>,
    ops_secret: Option<String>,
    store_api_key: Option<String>,
    identity_key: Option<String>,
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

/// Loads secrets from the environment, falling back to (and filling) `dir/secrets.json`.
pub fn load(dir: &Path) -> Result<Loaded, LocalSecretsError> {
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
    let set = SecretSet::from_parts(&signing, &ops, &store, &identity)?;
    if changed {
        write_private(&path, &serde_json::to_vec_pretty(&saved).expect("strings serialise"))
            .map_err(|source| LocalSecretsError::Io { path: path_s, source })?;
    }
    Ok(Loaded { set, shown })
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
