//! rft-rewarder: consumes rft-reward-jobs (conversions, refunds, ops decisions); the only
//! function that writes the ledger and calls the store. Partial batch failures retry only the
//! failed jobs; after five receives they wait in the DLQ for a person.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_aws::lambda::handle_batch;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_current_span(false).without_time().init();
    let env = Environment::from_env().await?;
    let secrets = env.secrets().await?;
    let rewarder = Arc::new(rft_aws::wiring::rewarder(&env, &secrets).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let rewarder = rewarder.clone();
        async move { Ok::<_, Error>(handle_batch(event.payload, |job| rewarder.handle(job)).await) }
    }))
    .await
}
