//! `rft-local import conversions FILE`: uploads a CSV of orders to a running server's
//! `POST /api/imports/conversions`, signed as the store signs (docs/connect-csv.md). The
//! delivery id is derived from the file's bytes, so uploading the same file twice is answered
//! from the server's replay log, and an edited file is a new upload (its rows still idempotent
//! by `order_id`).

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

use rft_core::Clock;
use rft_core::signature::Signer;
use rft_core::time::SystemClock;

/// Uploads `file` to the server at `base_url`, signing with the secret from `data`; returns
/// the server's answer (JSON) or an error carrying it.
pub async fn conversions(file: &Path, data: &Path, base_url: &str) -> anyhow::Result<String> {
    let body = std::fs::read(file).with_context(|| format!("could not read {}", file.display()))?;
    let secret = crate::secrets::client_signing_secret(data)
        .with_context(|| format!("no signing secret in RFT_SIGNING_SECRET or {}", data.display()))?;
    let signer = Signer::new(std::slice::from_ref(&secret));
    let id = format!("import_{}", hex::encode(&Sha256::digest(&body)[..16]));
    let headers = signer.headers(&id, SystemClock.now(), &body)?;
    let url = format!("{}/api/imports/conversions", base_url.trim_end_matches('/'));
    let mut request =
        rft_http::store_client::http_client().build()?.post(&url).header("content-type", "text/csv").body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = request.send().await.with_context(|| format!("could not reach {url}"))?;
    let status = answer.status();
    let text = answer.text().await.context("could not read the server's answer")?;
    anyhow::ensure!(status.is_success(), "the server refused the import ({status}): {text}");
    Ok(text)
}
