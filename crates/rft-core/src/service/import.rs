//! The conversions import (`POST /api/imports/conversions`): a validated file becomes queued
//! chunks of orders for the attributor (then the rewarder), so a file of any size is answered
//! in the time it takes to read which orders were imported before and to queue the rest, never
//! processed inline (docs/connect-csv.md).
//!
//! Idempotent by order id: an order an earlier import's chunk marked imported is a `duplicate`.
//! The attributor marks an order only after handling it, so a crash in between redelivers the
//! chunk and handles the order again, which changes nothing (attribution and payment are
//! idempotent per customer and per order); no order is ever marked but not handled. The same
//! file sent twice before its chunks are handled is queued twice, with the same result.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::connectors::csv::ConversionRow;
use crate::connectors::intake::import_job;
use crate::identity::IdentityHasher;
use crate::jobs::{ImportJob, Job};
use crate::ports::{JobQueue, OrderStore, QueueError, StoreError};
use crate::time::Clock;

/// Orders per queued chunk: a chunk's work (about ten store calls an order) stays well inside
/// the attributor's time, and its message well under a queue message's size.
pub const CHUNK: usize = 25;

/// How many chunks are being queued at once.
const SENDS_IN_FLIGHT: usize = 16;

/// What happened to one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Queued for attribution and payment.
    Queued,
    /// An earlier import's order, already handled; nothing was done.
    Duplicate,
}

/// One row's outcome, as the answer lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowOutcome {
    /// The row number in the file (the header is row 1).
    pub row: usize,
    /// The row's order.
    pub order_id: String,
    /// What happened.
    pub status: RowStatus,
}

/// Why an import stopped part-way (rows before the failure may be queued; importing the same
/// file again is safe and finishes the job).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading which orders were imported failed.
    #[error("reading which orders were imported before")]
    Store(#[source] StoreError),
    /// The row names neither a customer nor an email (validation refuses such rows first).
    #[error("row {row}: neither customer_id nor email identifies the customer")]
    Unidentified {
        /// The row.
        row: usize,
    },
    /// Queueing a chunk failed.
    #[error("the chunk from row {row}: {source}")]
    Queue {
        /// The chunk's first row.
        row: usize,
        /// The queue's error.
        #[source]
        source: QueueError,
    },
}

impl ImportError {
    /// Whether the row itself is at fault (so importing the file again fails the same way).
    pub fn is_the_rows_fault(&self) -> bool {
        matches!(self, ImportError::Unidentified { .. })
    }
}

/// Queues imported conversions.
pub struct Importer {
    orders: Arc<dyn OrderStore>,
    attribute_jobs: Arc<dyn JobQueue>,
    hasher: IdentityHasher,
    clock: Arc<dyn Clock>,
}

impl Importer {
    /// An importer that queues on `attribute_jobs` (the attributor's queue).
    pub fn new(
        orders: Arc<dyn OrderStore>,
        attribute_jobs: Arc<dyn JobQueue>,
        hasher: IdentityHasher,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Importer { orders, attribute_jobs, hasher, clock }
    }

    /// Queues every row of a validated file not imported before, in chunks; answers each
    /// row's outcome in file order.
    pub async fn import(&self, rows: Vec<ConversionRow>) -> Result<Vec<RowOutcome>, ImportError> {
        let order_ids: Vec<String> = rows.iter().map(|r| r.order_id.to_string()).collect();
        let imported = self.orders.imported(&order_ids).await.map_err(ImportError::Store)?;
        let now = self.clock.now();
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut fresh = Vec::new();
        for row in rows {
            let seen = imported.contains(row.order_id.as_str());
            let status = if seen { RowStatus::Duplicate } else { RowStatus::Queued };
            outcomes.push(RowOutcome { row: row.row, order_id: row.order_id.to_string(), status });
            if status == RowStatus::Queued {
                let number = row.row;
                fresh.push((
                    number,
                    import_job(row, &self.hasher, now).ok_or(ImportError::Unidentified { row: number })?,
                ));
            }
        }
        let chunks: Vec<(usize, Job)> = fresh
            .chunks(CHUNK)
            .map(|chunk| {
                (chunk[0].0, Job::Import(ImportJob { orders: chunk.iter().map(|(_, o)| o.clone()).collect() }))
            })
            .collect();
        let sent: Vec<Result<(), ImportError>> = stream::iter(chunks)
            .map(|(first_row, job)| self.send_chunk(first_row, job))
            .buffer_unordered(SENDS_IN_FLIGHT)
            .collect()
            .await;
        sent.into_iter().collect::<Result<(), _>>()?;
        Ok(outcomes)
    }

    async fn send_chunk(&self, first_row: usize, job: Job) -> Result<(), ImportError> {
        self.attribute_jobs.send(&job).await.map_err(|source| ImportError::Queue { row: first_row, source })
    }
}
