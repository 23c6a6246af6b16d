//! The conversions import (`POST /api/imports/conversions`): a validated file becomes one
//! queued order per row, for the attributor and then the rewarder, so a file of any size is
//! answered in the time it takes to queue it, never processed inline (docs/connect-csv.md).
//!
//! Idempotent by order id: an order some import already queued is a `duplicate`. The order is
//! marked only after its job is queued, so a crash in between makes the next import queue it
//! again, which the consumers absorb (they are idempotent per customer and per order); it never
//! leaves an order marked but not queued.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::connectors::csv::ConversionRow;
use crate::connectors::intake::import_job;
use crate::identity::IdentityHasher;
use crate::ports::{JobQueue, OrderStore, QueueError, StoreError};
use crate::time::Clock;

/// How many rows are in flight at once (each is a read, a queue send and a write).
const IN_FLIGHT: usize = 32;

/// What happened to one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Queued for attribution and payment.
    Queued,
    /// An earlier import queued this order already; nothing was done.
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
    /// Reading or marking an order failed.
    #[error("row {row}: {source}")]
    Store {
        /// The row being imported.
        row: usize,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The row names neither a customer nor an email (validation refuses such rows first).
    #[error("row {row}: neither customer_id nor email identifies the customer")]
    Unidentified {
        /// The row.
        row: usize,
    },
    /// Queueing a row failed.
    #[error("row {row}: {source}")]
    Queue {
        /// The row being imported.
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

    /// Queues every row of a validated file, in file order in the answer.
    pub async fn import(&self, rows: Vec<ConversionRow>) -> Result<Vec<RowOutcome>, ImportError> {
        let outcomes: Vec<Result<RowOutcome, ImportError>> =
            stream::iter(rows).map(|row| self.import_row(row)).buffered(IN_FLIGHT).collect().await;
        outcomes.into_iter().collect()
    }

    async fn import_row(&self, row: ConversionRow) -> Result<RowOutcome, ImportError> {
        let number = row.row;
        let order_id = row.order_id.to_string();
        let outcome = |status| RowOutcome { row: number, order_id: order_id.clone(), status };
        let store = |source| ImportError::Store { row: number, source };
        let seen = self.orders.order(&order_id).await.map_err(store)?;
        if seen.is_some_and(|o| o.imported_at.is_some()) {
            return Ok(outcome(RowStatus::Duplicate));
        }
        let now = self.clock.now();
        let job = import_job(row, &self.hasher, now).ok_or(ImportError::Unidentified { row: number })?;
        self.attribute_jobs.send(&job).await.map_err(|source| ImportError::Queue { row: number, source })?;
        self.orders.mark_imported(&order_id, now).await.map_err(store)?;
        Ok(outcome(RowStatus::Queued))
    }
}
