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

use rft_core::jobs::JobFailure;
use rft_core::ports::error_chain;
use rft_core::service::DeadEnds;

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
/// dead-lettered after five receives). A job that can never succeed, and a message that is not
/// a job at all, are set aside for a person ([`DeadEnds`]) instead of being redelivered.
pub async fn handle_batch<F, Fut, E>(event: SqsEvent, dead_ends: &DeadEnds, handle: F) -> SqsBatchResponse
where
    F: Fn(rft_core::Job) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: JobFailure,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let Some(job) = parse_job(body) else {
            dead_ends.not_a_job(&id, body).await;
            continue;
        };
        match handle(job.clone()).await {
            Ok(()) => {}
            Err(e) if e.is_retryable() => {
                tracing::warn!(message_id = %id, kind = job.kind(), reason = %error_chain(&e), "job failed; SQS will redeliver it");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            Err(e) => dead_ends.job(&job, &error_chain(&e)).await,
        }
    }
    response
}
