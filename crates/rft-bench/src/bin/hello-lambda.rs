//! The cold-start baseline: a hello-world lambda_http function, built with the same profile as
//! the six functions, so the benchmark can report rft-edge's cold start as a ratio to it.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_request: Request| async { Ok::<_, Error>(Response::new(Body::from("hello"))) })).await
}
