//! rft-edge: the Function URL behind every link, API call and webhook.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt().json().without_time().init();
    lambda_http::run(rft_http::router()).await
}
