//! AWS configuration for the adapters: the Lambda environment in production, a local emulator
//! endpoint with static test credentials in tests.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the SDK configuration from the environment (Lambda's role, region and endpoint).
/// `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how tests reach the emulators.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Configuration for a local emulator at `endpoint`, with fixed test credentials and region.
pub async fn for_emulator(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-2"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator"))
        .load()
        .await
}
