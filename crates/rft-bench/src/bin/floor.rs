//! The floor for the redirect benchmark: a bare axum server that answers every GET with a 302
//! and bumps an in-memory counter, built with the same profile and runtime as rft-local.
//! `floor <listen address>`; GET /count answers the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3999".into());
    let count = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/count", get(|State(n): State<Arc<AtomicU64>>| async move { n.load(Ordering::Relaxed).to_string() }))
        .fallback(get(|State(n): State<Arc<AtomicU64>>| async move {
            n.fetch_add(1, Ordering::Relaxed);
            (StatusCode::FOUND, [(header::LOCATION, "https://example.com/")]).into_response()
        }))
        .with_state(count);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await
}
