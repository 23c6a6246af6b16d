//! The CSV import on fakes: each row queued once as the order it is, a second import of the
//! same file queues nothing, and a guest row is filed under its email's hash.

use std::sync::Arc;

use crate::connectors::csv::parse_conversions;
use crate::connectors::intake::GUEST_PREFIX;
use crate::jobs::Job;
use crate::ports::OrderStore;
use crate::service::import::{Importer, RowStatus};
use crate::testing::{MemoryQueue, World};

const FILE: &str = "order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token\n\
    o_1,c_mara,mara@example.com,3999,GBP,2026-07-01T09:00:00Z,DAN234,\n\
    o_2,,kim@example.com,2500,GBP,,,\n";

fn importer(w: &World, queue: &Arc<MemoryQueue>) -> Importer {
    Importer::new(w.store.clone(), queue.clone(), w.hasher(), w.clock.clone())
}

#[tokio::test]
async fn every_row_is_queued_once_as_a_checkout_and_marked_imported() {
    let w = World::new();
    let queue = Arc::new(MemoryQueue::new(w.clock.clone()));
    let rows = parse_conversions(FILE.as_bytes()).unwrap();
    let outcomes = importer(&w, &queue).import(rows).await.unwrap();
    let statuses: Vec<_> = outcomes.iter().map(|o| (o.row, o.order_id.as_str(), o.status)).collect();
    assert_eq!(statuses, [(2, "o_1", RowStatus::Queued), (3, "o_2", RowStatus::Queued)]);
    let jobs: Vec<_> = queue.sent().into_iter().map(|(job, _)| job).collect();
    let [Job::Checkout(mara), Job::Checkout(kim)] = jobs.as_slice() else { panic!("two checkouts: {jobs:?}") };
    assert_eq!(mara.signup.code.as_ref().map(|c| c.as_str()), Some("DAN234"));
    assert_eq!(mara.conversion.discount_code, mara.signup.code);
    assert_eq!((mara.conversion.webhook_id.as_str(), mara.conversion.amount_minor), ("import:o_1", 3999));
    // A guest is filed under the hash of their email: no address in keys.
    assert!(kim.conversion.customer_id.as_str().starts_with(GUEST_PREFIX));
    assert!(!kim.conversion.customer_id.as_str().contains("kim"));
    // A row without a time is paid now.
    assert_eq!(kim.conversion.occurred_at, w.clock_now());
    let marked = w.store.order("o_1").await.unwrap().and_then(|o| o.imported_at);
    assert_eq!(marked, Some(w.clock_now()));
}

#[tokio::test]
async fn importing_the_same_file_again_queues_nothing() {
    let w = World::new();
    let queue = Arc::new(MemoryQueue::new(w.clock.clone()));
    importer(&w, &queue).import(parse_conversions(FILE.as_bytes()).unwrap()).await.unwrap();
    let again = importer(&w, &queue).import(parse_conversions(FILE.as_bytes()).unwrap()).await.unwrap();
    assert!(again.iter().all(|o| o.status == RowStatus::Duplicate), "{again:?}");
    assert_eq!(queue.sent().len(), 2);
}
