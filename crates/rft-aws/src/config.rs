//! AWS configuration for the adapters: the Lambda environment in production, a local emulator
//! endpoint with static test credentials in tests.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// The roots AWS service endpoints chain to: Amazon Root CA 1 to 4 and Starfield Services Root
/// CA G2, as published at <https://www.amazontrust.com/repository/>.
const AWS_ROOTS: &str = include_str!("aws_roots.pem");

/// Set (to anything) to trust the platform's root certificates instead, e.g. behind a proxy
/// that re-signs TLS.
pub const NATIVE_ROOTS_VAR: &str = "RFT_AWS_NATIVE_ROOTS";

/// Every AWS endpoint chains to Amazon Trust Services, so the SDK clients trust those five roots
/// only. Loading the platform's store instead (a bundle and ~150 files, each PEM parsed) was
/// most of a function's cold start (docs/benchmarks.md).
fn trust_store() -> TrustStore {
    match std::env::var_os(NATIVE_ROOTS_VAR) {
        Some(_) => TrustStore::default(),
        None => TrustStore::empty().with_pem_certificate(AWS_ROOTS),
    }
}

/// The one HTTP client of every AWS SDK client: hyper with rustls on ring (plain HTTP too, for
/// the emulators).
fn http_client() -> SharedHttpClient {
    let tls =
        TlsContext::builder().with_trust_store(trust_store()).build().expect("a trust store is a valid TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// Loads the SDK configuration from the environment (Lambda's role, region and endpoint).
/// `AWS_ENDPOINT_URL` is honoured by the SDK itself, which is how tests reach the emulators.
pub async fn from_env() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    // In Lambda the role's credentials and the region are environment variables, the first link
    // of the SDK's default chains. Naming them directly skips building the rest of those chains
    // (an STS client for web identity among them) at every cold start; elsewhere the chains run.
    if let Ok(region) = std::env::var("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
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

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    /// The bundle is exactly the five published Amazon Trust Services roots (SHA-256 of each
    /// certificate, from amazontrust.com/repository), and rustls accepts each as an anchor.
    #[test]
    fn the_aws_roots_are_the_five_amazon_trust_services_roots() {
        let certs: Vec<CertificateDer> =
            CertificateDer::pem_slice_iter(super::AWS_ROOTS.as_bytes()).collect::<Result<_, _>>().unwrap();
        let fingerprints: Vec<String> = certs.iter().map(|c| hex::encode(Sha256::digest(c.as_ref()))).collect();
        assert_eq!(
            fingerprints,
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
        let mut store = rustls::RootCertStore::empty();
        assert_eq!(store.add_parsable_certificates(certs), (5, 0));
    }
}
