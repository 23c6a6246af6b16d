//! The job queues on SQS: one queue per consumer (SQS hands each message to one poller, so a
//! shared queue would give jobs to the wrong function), each with its own DLQ after five
//! receives. Lambda's event source does the receiving in production; `receive`, `ack` and
//! `dead_letters` serve the conformance suite and operators.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use rft_core::jobs::MAX_RECEIVES;
use rft_core::ports::{JobQueue, MAX_DELAY, QueueError};
use rft_core::{Delivery, Job};

use crate::env::LazyClient;

/// One SQS queue and its dead-letter queue.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: LazyClient<Client>,
    url: String,
    dlq_url: Option<String>,
}

impl SqsQueue {
    /// A queue at `url`, with its DLQ at `dlq_url` if known.
    pub fn new(client: LazyClient<Client>, url: impl Into<String>, dlq_url: Option<String>) -> Self {
        SqsQueue { client, url: url.into(), dlq_url }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Creates `name` and `name-dlq` with the redrive policy (for the emulator in tests; the CDK
    /// stack creates them in AWS) and returns the queue.
    pub async fn create(client: Client, name: &str) -> Result<Self, QueueError> {
        let dlq = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .map_err(|e| QueueError::new("create a dead-letter queue", e))?;
        let dlq_url = dlq.queue_url.unwrap_or_default();
        let attrs = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| QueueError::new("read a dead-letter queue's ARN", e))?;
        let dlq_arn = attrs.attributes.and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned()).unwrap_or_default();
        let redrive =
            serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.to_string() });
        let queue = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .map_err(|e| QueueError::new("create a queue", e))?;
        Ok(SqsQueue::new(LazyClient::built(client), queue.queue_url.unwrap_or_default(), Some(dlq_url)))
    }
}

/// Parses a message body into a job. A body that is not a job is left on the queue, so SQS
/// dead-letters it after five receives rather than it being silently dropped.
pub fn parse_job(body: &str) -> Option<Job> {
    match serde_json::from_str(body) {
        Ok(job) => Some(job),
        Err(e) => {
            tracing::error!(error = %e, "a queued message is not a job; leaving it for the dead-letter queue");
            None
        }
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_after(job, Duration::ZERO).await
    }

    async fn send_after(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError::new("encode a job", e))?;
        let mut send = self.client.send_message().queue_url(&self.url).message_body(body);
        if !delay.is_zero() {
            // Whole seconds, rounded up so a retry is never early.
            let secs = delay.min(MAX_DELAY).as_secs_f64().ceil() as i32;
            send = send.delay_seconds(secs);
        }
        send.send().await.map_err(|e| QueueError::new("send a job", e))?;
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .visibility_timeout(i32::try_from(visibility.as_secs_f64().ceil() as u64).unwrap_or(i32::MAX))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| QueueError::new("receive jobs", e))?;
        let mut deliveries = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let Some(job) = m.body().and_then(parse_job) else { continue };
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                job,
                receive_count,
            });
        }
        Ok(deliveries)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| QueueError::new("acknowledge a job", e))?;
        Ok(())
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError> {
        let Some(dlq) = &self.dlq_url else { return Ok(Vec::new()) };
        let dead = SqsQueue::new(self.client.clone(), dlq.clone(), None);
        let mut jobs = Vec::new();
        for d in dead.receive(max, Duration::from_secs(30)).await? {
            dead.ack(&d.receipt).await?;
            jobs.push(d.job);
        }
        Ok(jobs)
    }
}
