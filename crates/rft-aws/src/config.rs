//! AWS configuration for the adapters: the Lambda environment in production, a local emulator
//! endpoint with static test credentials in tests.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The one HTTP client of every AWS SDK client: hyper with rustls on ring (plain HTTP too, for
/// the emulators).
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Loads the SDK configuration from the environment (Lambda's role, region and endpoint).
/// `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how tests reach the emulators.
pub async fn from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()).load().await
}

/// Configuration for a local emulator at `endpoint`, with fixed test credentials and region.
pub async fn for_emulator(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-2"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator"))
        .load()
        .await
}
