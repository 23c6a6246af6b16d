//! Lambda glue shared by the functions: the edge's HTTP app (with the caller's IP from the
//! Function URL's request context) and SQS batches with partial failures.

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::request::RequestContext;

use rft_http::{ClientIp, Edge};

use crate::sqs::parse_job;

/// Copies the Function URL's `sourceIp` into [`ClientIp`] (never a forwarded header).
async fn client_ip(mut request: Request, next: Next) -> Response {
    let ip = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        _ => None,
    };
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

/// The edge's router as Lambda serves it.
pub fn edge_app(edge: Arc<Edge>) -> axum::Router {
    rft_http::router(edge).layer(axum::middleware::from_fn(client_ip))
}

/// Handles an SQS batch, reporting each failed message so only those are redelivered (and
/// dead-lettered after five receives). A body that is not a job fails too: it must reach the
/// DLQ, not vanish.
pub async fn handle_batch<F, Fut, E>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(rft_core::Job) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let outcome = match record.body.as_deref().and_then(parse_job) {
            Some(job) => {
                let kind = job.kind();
                handle(job).await.map_err(|e| format!("{kind} job failed: {}", rft_core::ports::error_chain(&e)))
            }
            None => Err("not a job".to_owned()),
        };
        if let Err(reason) = outcome {
            tracing::warn!(message_id = %id, %reason, "job failed; SQS will redeliver it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
