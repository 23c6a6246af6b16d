//! rft-sweep: run hourly by EventBridge Scheduler; hands conversions that waited out their
//! confirmation period to the rewarder, and expires pending referrals whose window has passed,
//! reading review-queue indexes (never a table scan).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let sweeper = Arc::new(rft_aws::wiring::sweeper(&env).await?);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let sweeper = sweeper.clone();
        async move {
            let expired = sweeper.run().await?;
            tracing::info!(expired, "sweep done");
            Ok::<Value, Error>(json!({ "expired": expired }))
        }
    }))
    .await
}
