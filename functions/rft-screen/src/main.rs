//! rft-screen: the fraud screen, invoked synchronously by the attributor and the rewarder; it
//! emails the team about holds (SES only).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rft_aws::env::Environment;
use rft_aws::invoke::{ScreenCall, ScreenReply, serve_screen};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rft_aws::init_tracing();
    let env = Environment::from_env().await?;
    let secrets = env.secrets().await?;
    let screen = Arc::new(rft_aws::wiring::screen(&env, &secrets).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ScreenCall>| {
        let screen = screen.clone();
        async move { Ok::<ScreenReply, Error>(serve_screen(screen.as_ref(), event.payload).await) }
    }))
    .await
}
