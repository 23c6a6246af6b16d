//! rft-screen: a stub until its issue lands; it answers every event with an error so nothing is
//! silently dropped.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn handle(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Err("rft-screen is not implemented yet".into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    lambda_runtime::run(service_fn(handle)).await
}
