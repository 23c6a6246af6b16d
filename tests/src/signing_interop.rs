//! The providers' own signing code as the reference our verifiers are checked against: the
//! official Stripe Python library's `WebhookSignature.generate_signature_header` (the test
//! helper Stripe ships for signing payloads in unit tests), Python's `hmac` and `base64` for
//! Shopify's HMAC, and the Standard Webhooks reference libraries (the Rust `standardwebhooks`
//! crate in process, the Python package through `.venv`) for the signatures we send a store.
//!
//! `make test` installs the Python packages into the project's `.venv/` (pinned in the
//! Makefile). Helpers that need Python return `None` when `.venv/bin/python` is missing, so a
//! test can print why it skipped instead of failing on a machine that never ran `make test`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// `.venv/bin/python` at the repository root, if it exists.
pub fn venv_python() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    path.exists().then_some(path)
}

/// Why a Python-backed test is skipped, printed by the test.
pub const SKIP_REASON: &str =
    "skipped: .venv/bin/python is missing (run `make test`, which installs the providers' Python libraries)";

/// Runs a Python script with `stdin` as its standard input and `args` as `sys.argv[1:]`;
/// returns its standard output, or its standard error as the failure.
pub fn run_python(script: &str, args: &[&str], stdin: &[u8]) -> Option<Result<String, String>> {
    let python = venv_python()?;
    let child = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Some(Err(format!("could not start python: {e}"))),
    };
    if let Some(mut input) = child.stdin.take()
        && let Err(e) = input.write_all(stdin)
    {
        return Some(Err(format!("could not write to python: {e}")));
    }
    Some(match child.wait_with_output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Err(format!("python failed: {e}")),
    })
}

/// The `Stripe-Signature` header the official Stripe library computes for `payload` signed with
/// `secret` at `timestamp`.
pub fn stripe_signature_header(payload: &[u8], secret: &str, timestamp: i64) -> Option<Result<String, String>> {
    const SCRIPT: &str = "import sys, stripe\n\
        payload = sys.stdin.buffer.read().decode('utf-8')\n\
        print(stripe.WebhookSignature.generate_signature_header(payload, sys.argv[1], int(sys.argv[2])))";
    run_python(SCRIPT, &[secret, &timestamp.to_string()], payload)
}

/// The `X-Shopify-Hmac-Sha256` value computed as Shopify documents it: base64 of the HMAC-SHA256
/// of the raw body, keyed with the secret's text (Python's `hmac` and `base64`).
pub fn shopify_hmac(body: &[u8], secret: &str) -> Option<Result<String, String>> {
    const SCRIPT: &str = "import sys, hmac, hashlib, base64\n\
        digest = hmac.new(sys.argv[1].encode('utf-8'), sys.stdin.buffer.read(), hashlib.sha256).digest()\n\
        print(base64.b64encode(digest).decode())";
    run_python(SCRIPT, &[secret], body)
}

fn header_map(headers: &[(&str, &str)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header name {name}: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("header {name}: {e}"))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// Verifies a Standard Webhooks request (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature` among `headers`, and the raw body) with the reference Rust crate, as a
/// store would: the secret is the `whsec_...` the store was given, and the timestamp must be
/// within 5 minutes of the wall clock.
pub fn verify_standard_webhooks(secret_whsec: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(), String> {
    let webhook = standardwebhooks::Webhook::new(secret_whsec).map_err(|e| format!("secret: {e}"))?;
    webhook.verify(body, &header_map(headers)?).map_err(|e| e.to_string())
}

/// The same check with the Python reference library (`standardwebhooks` in `.venv`).
pub fn verify_standard_webhooks_python(
    secret_whsec: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Result<(), String>> {
    const SCRIPT: &str = "import sys, json, standardwebhooks\n\
        headers = json.loads(sys.argv[2])\n\
        standardwebhooks.Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), headers, json_parse=False)\n\
        print('ok')";
    let map: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
    let headers_json = serde_json::Value::Object(map).to_string();
    run_python(SCRIPT, &[secret_whsec, &headers_json], body).map(|r| r.map(|_| ()))
}
