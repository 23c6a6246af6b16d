//! Job queues.

use std::time::Duration;

use async_trait::async_trait;

use super::BoxError;
use crate::jobs::{Delivery, Job};

/// A queue could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("queue failed while trying to {op}")]
pub struct QueueError {
    /// What was being attempted.
    pub op: &'static str,
    /// The backend's error.
    #[source]
    pub source: BoxError,
}

impl QueueError {
    /// Wraps a backend failure.
    pub fn new(op: &'static str, source: impl Into<BoxError>) -> Self {
        QueueError { op, source: source.into() }
    }
}

/// The longest delay a queued job can be given (SQS's `DelaySeconds` limit).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A durable job queue with visibility timeouts and a dead-letter queue after
/// [`crate::jobs::MAX_RECEIVES`] receives (SQS in AWS, redb locally).
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job durably.
    async fn send(&self, job: &Job) -> Result<(), QueueError>;
    /// Enqueues a job durably, invisible to consumers until `delay` has passed (at most
    /// [`MAX_DELAY`], SQS's limit; longer delays are cut to it). Retries use it instead of
    /// sleeping inside a handler.
    async fn send_after(&self, job: &Job, delay: Duration) -> Result<(), QueueError>;
    /// Takes up to `max` visible jobs, hiding each for `visibility`.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError>;
    /// Acknowledges (deletes) a delivered job.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
    /// Takes up to `max` dead-lettered jobs off the DLQ (for inspection and redrive).
    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError>;
}
