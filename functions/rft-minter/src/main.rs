//! rft-minter: mints links (one Bedrock call for the invite), retires codes and sends email
//! invites. Invoked synchronously by rft-edge.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_aws::invoke::{MinterCall, MinterReply, serve_minter};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let secrets = env.secrets().await?;
    let minter = Arc::new(rft_aws::wiring::minter(&env, &secrets).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<MinterCall>| {
        let minter = minter.clone();
        async move { Ok::<MinterReply, Error>(serve_minter(minter.as_ref(), event.payload).await) }
    }))
    .await
}
