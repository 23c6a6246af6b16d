//! The AWS endpoint of the cold-start benchmark: answers the two calls rft-edge makes at init
//! (GetSecretValue, the warm-up GetItem) at once, so a cold start is timed without an
//! emulator's own latency in it.
//! `instant-aws <listen address>`; the secret's JSON is read from `RFT_BENCH_SECRET`.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

fn answer(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3998".into());
    let secret = std::env::var("RFT_BENCH_SECRET").unwrap_or_default();
    let secret_answer = serde_json::json!({
        "ARN": "arn:aws:secretsmanager:eu-west-2:123456789012:secret:rft/secrets",
        "Name": "rft/secrets",
        "SecretString": secret,
        "VersionId": "v1",
    })
    .to_string();
    let app = Router::new().route(
        "/",
        post(move |headers: HeaderMap| async move {
            match headers.get("x-amz-target").and_then(|t| t.to_str().ok()) {
                Some("secretsmanager.GetSecretValue") => answer("application/x-amz-json-1.1", secret_answer),
                Some("DynamoDB_20120810.GetItem") => answer("application/x-amz-json-1.0", "{}".into()),
                _ => StatusCode::BAD_REQUEST.into_response(),
            }
        })
        .get(|| async { "instant-aws" }),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await
}
