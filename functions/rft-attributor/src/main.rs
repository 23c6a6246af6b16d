//! rft-attributor: consumes rft-signup-jobs, credits the last touch inside the window and opens
//! referrals; reports partial batch failures so only failed jobs are retried.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_aws::lambda::handle_batch;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let secrets = env.secrets().await?;
    let attributor = Arc::new(rft_aws::wiring::attributor(&env, &secrets).await?);
    let dead_ends = Arc::new(rft_aws::wiring::dead_ends(&env).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (attributor, dead_ends) = (attributor.clone(), dead_ends.clone());
        async move { Ok::<_, Error>(handle_batch(event.payload, &dead_ends, |job| attributor.handle(job)).await) }
    }))
    .await
}
