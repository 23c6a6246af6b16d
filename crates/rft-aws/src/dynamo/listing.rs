//! The console's listings on DynamoDB: a GSI per table keyed `(group, created_at)` (referrals
//! by `state`, codes by `status`), queried newest first. The index orders only by time, so a
//! page boundary that falls inside one millisecond is made exact here: when a page stops
//! early, every item of its oldest millisecond is read and the page is cut by `(time, id)`.

use rft_core::Timestamp;
use rft_core::ports::{ListPosition, ListWindow, StoreError};

use super::{DynamoStore, unavailable};
use crate::item::{Item, get_n, get_s, n, s};

/// Which listing: the table, its index, the attribute grouping it and the item's id attribute.
pub(super) struct Listing<'a> {
    pub table: &'a str,
    pub index: &'static str,
    pub group_attr: &'static str,
    pub id_attr: &'static str,
}

impl Listing<'_> {
    fn position(&self, it: &Item) -> ListPosition {
        ListPosition::of(
            Timestamp::from_millis(get_n(it, "created_at").unwrap_or_default()),
            get_s(it, self.id_attr).unwrap_or_default(),
        )
    }
}

impl DynamoStore {
    /// One page of `group` in `listing`, newest first by `(created_at, id)`.
    pub(super) async fn newest_first(
        &self,
        op: &'static str,
        listing: &Listing<'_>,
        group: &str,
        window: &ListWindow,
    ) -> Result<Vec<Item>, StoreError> {
        if window.limit == 0 || window.since > window.before.at {
            return Ok(Vec::new());
        }
        let query = |condition: &str| {
            self.client
                .query()
                .table_name(listing.table)
                .index_name(listing.index)
                .key_condition_expression(condition)
                .expression_attribute_names("#g", listing.group_attr)
                .expression_attribute_values(":g", s(group))
                .scan_index_forward(false)
        };
        let between = query("#g = :g AND created_at BETWEEN :since AND :until")
            .expression_attribute_values(":since", n(window.since.as_millis()))
            .expression_attribute_values(":until", n(window.before.at.as_millis()));
        let page_size = i32::try_from(window.limit + 1).unwrap_or(i32::MAX);
        let mut found: Vec<Item> = Vec::new();
        let mut start = None;
        let mut stopped_early = false;
        loop {
            let page = between
                .clone()
                .limit(page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable(op))?;
            found.extend(page.items.unwrap_or_default().into_iter().filter(|it| window.holds(&listing.position(it))));
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => {
                    if found.len() >= window.limit {
                        stopped_early = true;
                        break;
                    }
                    start = Some(k);
                }
                _ => break,
            }
        }
        if stopped_early && let Some(edge) = found.iter().map(|it| listing.position(it).at).min() {
            // Items of the oldest millisecond read may continue past where the query stopped.
            let same_ms =
                query("#g = :g AND created_at = :edge").expression_attribute_values(":edge", n(edge.as_millis()));
            let ties = self.query_all(op, same_ms).await?;
            found.retain(|it| listing.position(it).at != edge);
            found.extend(ties.into_iter().filter(|it| window.holds(&listing.position(it))));
        }
        found.sort_by_key(|it| std::cmp::Reverse(listing.position(it)));
        found.truncate(window.limit);
        Ok(found)
    }
}
