//! rft-edge: the Function URL behind every link, API call and webhook. Init builds and warms
//! everything once; each request runs the shared router.

use std::sync::Arc;

use rft_aws::env::Environment;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let edge = rft_aws::wiring::edge_at_start(&env).await?;
    lambda_http::run(rft_aws::lambda::edge_app(Arc::new(edge))).await
}
