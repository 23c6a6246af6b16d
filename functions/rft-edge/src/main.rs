//! rft-edge: the Function URL behind every link, API call and webhook. Init builds and warms
//! everything once; each request runs the shared router.
//!
//! Responses are streamed (the Function URL's `RESPONSE_STREAM` invoke mode, set by the stack):
//! the ledger export is written a page at a time and must never be held whole in memory, nor be
//! capped at a buffered response's 6 MB. Every other answer is one small chunk, as before.

use std::sync::Arc;

use rft_aws::env::Environment;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let edge = rft_aws::wiring::edge_at_start(&env).await?;
    lambda_http::run_with_streaming_response(rft_aws::lambda::edge_app(Arc::new(edge))).await
}
