//! rft-sweep: run hourly by EventBridge Scheduler; hands conversions that waited out their
//! confirmation period to the rewarder, and expires pending referrals whose window has passed,
//! reading review-queue indexes (never a table scan). Fed batches of `rft-clicks`' stream, it
//! counts their clicks into the rollups (`rft_aws::follower`).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_core::Clock;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let sweeper = Arc::new(rft_aws::wiring::sweeper(&env).await?);
    let follower = Arc::new(rft_aws::wiring::follower(&env).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (sweeper, follower) = (sweeper.clone(), follower.clone());
        async move {
            if rft_aws::follower::is_stream_event(&event.payload) {
                // An error makes Lambda retry the whole batch, which the follower counts once.
                let done = follower.handle(&event.payload, rft_core::time::SystemClock.now()).await?;
                tracing::info!(
                    clicks = done.clicks,
                    skipped = done.skipped,
                    repeated = done.repeated,
                    "clicks counted"
                );
                return Ok::<Value, Error>(json!({ "clicks": done.clicks }));
            }
            let expired = sweeper.run().await?;
            tracing::info!(expired, "sweep done");
            Ok::<Value, Error>(json!({ "expired": expired }))
        }
    }))
    .await
}
