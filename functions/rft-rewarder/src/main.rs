//! rft-rewarder: consumes rft-reward-jobs (conversions, refunds, ops decisions); the only
//! function that writes the ledger and calls the store. Partial batch failures retry only the
//! failed jobs; after five receives they wait in the DLQ for a person. The edge also invokes
//! it directly to forget a customer, and an operator to seal records written before sealing
//! or to erase again after a restore (docs/operations.md).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_aws::invoke::{RewarderEvent, serve_rewarder};
use rft_aws::lambda::handle_batch;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let secrets = env.secrets().await?;
    let rewarder = Arc::new(rft_aws::wiring::rewarder(&env, &secrets).await?);
    let ops = Arc::new(rft_aws::wiring::rewarder_ops(&env, &secrets).await);
    let dead_ends = Arc::new(rft_aws::wiring::dead_ends(&env).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<RewarderEvent>| {
        let (rewarder, ops, dead_ends) = (rewarder.clone(), ops.clone(), dead_ends.clone());
        async move {
            let reply: Value = match event.payload {
                RewarderEvent::Batch(batch) => json!(handle_batch(batch, &dead_ends, |job| rewarder.handle(job)).await),
                RewarderEvent::Call(call) => json!(serve_rewarder(ops.as_ref(), call).await),
            };
            Ok::<Value, Error>(reply)
        }
    }))
    .await
}
