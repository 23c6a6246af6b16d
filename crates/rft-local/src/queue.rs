//! A durable job queue on the embedded store with SQS's semantics: a received job is hidden
//! for its visibility timeout and comes back unless acknowledged; the receive after the fifth
//! moves it to the dead-letter table instead. Jobs survive a crash because every step is a
//! committed transaction.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use rft_core::jobs::MAX_RECEIVES;
use rft_core::ports::{JobQueue, MAX_DELAY, QueueError};
use rft_core::{Clock, Delivery, Job, Timestamp, ids::random_base32};

use crate::store::index::{span, under};
use crate::store::{Bytes, LocalStore, decode_w, encode};

const JOBS: TableDefinition<(&str, &str), Bytes> = TableDefinition::new("jobs");
const JOBS_BY_VISIBILITY: TableDefinition<(&str, i64, &str), ()> = TableDefinition::new("jobs_by_visibility");
const DEAD_LETTERS: TableDefinition<(&str, i64, &str), Bytes> = TableDefinition::new("dead_letters");

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(JOBS)?;
    txn.open_table(JOBS_BY_VISIBILITY)?;
    txn.open_table(DEAD_LETTERS)?;
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct JobRecord {
    job: Job,
    receive_count: u32,
    visible_at: Timestamp,
    receipt: Option<String>,
}

/// One named queue on the embedded store.
#[derive(Clone)]
pub struct LocalQueue {
    store: LocalStore,
    name: &'static str,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl LocalQueue {
    /// The queue called `name` (e.g. `rft-signup-jobs`) on `store`.
    pub fn new(store: LocalStore, name: &'static str, clock: Arc<dyn Clock>) -> Self {
        LocalQueue { store, name, clock, wake: Arc::new(Notify::new()) }
    }

    /// When the next job now hidden (delayed, or received and not acknowledged) becomes
    /// visible; `None` if the queue is empty. Tests use it to move their clock to that moment.
    pub async fn next_visible_at(&self) -> Result<Option<Timestamp>, QueueError> {
        let name = self.name;
        self.store
            .write_ok("peek at a queue", move |txn| {
                let by_visibility = txn.open_table(JOBS_BY_VISIBILITY)?;
                let first = under(&by_visibility, name)?.next();
                Ok(first.transpose()?.map(|(k, _)| Timestamp::from_millis(k.value().1)))
            })
            .await
            .map_err(queue_error("peek"))
    }

    /// Resolves when a job may have been sent since the last wake-up, so consumers need not
    /// poll fast.
    pub async fn sent(&self) {
        self.wake.notified().await;
    }
}

fn queue_error(op: &'static str) -> impl Fn(rft_core::ports::StoreError) -> QueueError {
    move |e| QueueError::new(op, e)
}

#[async_trait]
impl JobQueue for LocalQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_after(job, Duration::ZERO).await
    }

    async fn send_after(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let name = self.name;
        let now = self.clock.now();
        let visible_at = now.plus(delay.min(MAX_DELAY));
        let record = JobRecord { job: job.clone(), receive_count: 0, visible_at, receipt: None };
        let id = format!("{:020}-{}", now.as_millis().max(0), random_base32());
        self.store
            .write_ok("enqueue a job", move |txn| {
                txn.open_table(JOBS)?.insert((name, id.as_str()), encode(&record).as_slice())?;
                txn.open_table(JOBS_BY_VISIBILITY)?.insert((name, visible_at.as_millis(), id.as_str()), ())?;
                Ok(())
            })
            .await
            .map_err(queue_error("send"))?;
        self.wake.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        let name = self.name;
        let now = self.clock.now();
        self.store
            .write_ok("receive jobs", move |txn| {
                let mut jobs = txn.open_table(JOBS)?;
                let mut by_visibility = txn.open_table(JOBS_BY_VISIBILITY)?;
                let due: Vec<(i64, String)> = span(&by_visibility, name, i64::MIN..=now.as_millis())?
                    .take(max.saturating_mul(2).max(1))
                    .map(|e| e.map(|(k, _)| (k.value().1, k.value().2.to_owned())))
                    .collect::<Result<_, _>>()?;
                let mut out = Vec::new();
                for (visible_at, id) in due {
                    if out.len() >= max {
                        break;
                    }
                    by_visibility.remove((name, visible_at, id.as_str()))?;
                    let Some(mut record) =
                        jobs.get((name, id.as_str()))?.map(|v| decode_w::<JobRecord>(&id, v.value())).transpose()?
                    else {
                        continue;
                    };
                    if record.receive_count >= MAX_RECEIVES {
                        jobs.remove((name, id.as_str()))?;
                        txn.open_table(DEAD_LETTERS)?
                            .insert((name, now.as_millis(), id.as_str()), encode(&record.job).as_slice())?;
                        continue;
                    }
                    record.receive_count += 1;
                    record.visible_at = now.plus(visibility);
                    let receipt = format!("{id}/{}", random_base32());
                    record.receipt = Some(receipt.clone());
                    jobs.insert((name, id.as_str()), encode(&record).as_slice())?;
                    by_visibility.insert((name, record.visible_at.as_millis(), id.as_str()), ())?;
                    out.push(Delivery { receipt, job: record.job, receive_count: record.receive_count });
                }
                Ok(out)
            })
            .await
            .map_err(queue_error("receive"))
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let name = self.name;
        let receipt = receipt.to_owned();
        self.store
            .write_ok("acknowledge a job", move |txn| {
                let Some((id, _)) = receipt.split_once('/') else { return Ok(()) };
                let mut jobs = txn.open_table(JOBS)?;
                let Some(record) = jobs.get((name, id))?.map(|v| decode_w::<JobRecord>(id, v.value())).transpose()?
                else {
                    return Ok(());
                };
                // A stale receipt (the job was handed out again since) does not delete it.
                if record.receipt.as_deref() == Some(receipt.as_str()) {
                    jobs.remove((name, id))?;
                    txn.open_table(JOBS_BY_VISIBILITY)?.remove((name, record.visible_at.as_millis(), id))?;
                }
                Ok(())
            })
            .await
            .map_err(queue_error("ack"))?;
        Ok(())
    }

    async fn dead_letters(&self, max: usize) -> Result<Vec<Job>, QueueError> {
        let name = self.name;
        self.store
            .write_ok("take dead letters", move |txn| {
                let mut dead = txn.open_table(DEAD_LETTERS)?;
                let mut out = Vec::new();
                let keys: Vec<(i64, String)> = under(&dead, name)?
                    .take(max)
                    .map(|e| e.map(|(k, _)| (k.value().1, k.value().2.to_owned())))
                    .collect::<Result<_, _>>()?;
                for (at, id) in keys {
                    if let Some(v) = dead.remove((name, at, id.as_str()))? {
                        out.push(decode_w(&id, v.value())?);
                    }
                }
                Ok(out)
            })
            .await
            .map_err(queue_error("read dead letters"))
    }
}
