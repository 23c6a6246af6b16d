//! The rewarder's two operator calls on the tables as a whole (docs/operations.md, section 11):
//! sealing the records written before personal fields were sealed, and listing every customer
//! restored records name, for erasure to forget again whoever it forgot since. Both scan.

use serde_json::Value;

use rft_core::CustomerId;
use rft_core::ports::StoreError;

use super::DynamoStore;
use super::requests::conditional;
use crate::item::{Item, get_s};

impl DynamoStore {
    /// Every customer the records name (referrers of codes and referrals, referred friends,
    /// ledger rows), erased ones' opaque ids aside: after a restore, whom erasure may have to
    /// forget again ([`rft_core::service::erase::Eraser::reapply`]). A scan of three tables.
    pub async fn customers_named(&self) -> Result<Vec<CustomerId>, StoreError> {
        let mut named = std::collections::BTreeSet::new();
        for (table, fields) in [
            (&self.tables.codes, "referrer_id"),
            (&self.tables.referrals, "referrer_id, doc"),
            (&self.tables.rewards, "customer_id"),
        ] {
            let scan = self.client.scan().table_name(table).projection_expression(fields);
            for it in self.scan_all("list the customers named", scan).await? {
                let friend = get_s(&it, "doc")
                    .and_then(|doc| serde_json::from_str::<Value>(doc).ok())
                    .and_then(|doc| doc["referred_id"].as_str().map(str::to_owned));
                let ids = [get_s(&it, "referrer_id"), get_s(&it, "customer_id"), friend.as_deref()];
                named.extend(ids.into_iter().flatten().filter_map(|id| CustomerId::parse(id).ok()));
            }
        }
        Ok(named.into_iter().filter(|c| !c.as_str().starts_with("erased_")).collect())
    }
}

/// The tables with records (items with a `doc`; claims, guards, tallies and webhook ids have
/// none): their key attributes, and the field of a record that names its personal fields' owner.
const RECORD_TABLES: [(&str, &[&str], &str); 3] = [
    ("rft-codes", &["code"], "referrer_id"),
    ("rft-referrals", &["referred_id"], "referred_id"),
    ("rft-audit", &["event_id", "ts"], "subject"),
];

impl DynamoStore {
    /// Seals the personal fields of every record written before they were sealed (a
    /// deployment upgraded from an earlier version): each is rewritten on the condition that it
    /// did not change meanwhile. Safe to repeat and to interrupt; returns how many it sealed.
    /// `rft-rewarder` runs it when invoked with `{"op": "seal_existing"}` (docs/operations.md).
    pub async fn seal_existing(&self) -> Result<usize, StoreError> {
        let mut sealed = 0;
        for (table, keys, owner_field) in RECORD_TABLES {
            let name = self.tables.physical(table).expect("record tables are in the schema");
            let scan = self
                .client
                .scan()
                .table_name(name)
                .filter_expression("attribute_exists(#doc) AND attribute_not_exists(p)")
                .expression_attribute_names("#doc", "doc");
            for it in self.scan_all("scan for records to seal", scan).await? {
                sealed += usize::from(self.seal_in_place(name, keys, &it, owner_field).await?);
            }
        }
        Ok(sealed)
    }

    /// Rewrites one unsealed record sealed; `false` if it has nothing personal or changed.
    async fn seal_in_place(
        &self,
        table: &str,
        keys: &[&str],
        it: &Item,
        owner_field: &str,
    ) -> Result<bool, StoreError> {
        let Some(old) = it.get("doc") else { return Ok(false) };
        let record: Value = serde_json::from_str(get_s(it, "doc").unwrap_or_default())
            .map_err(|e| StoreError::corrupt("a record to seal", e))?;
        let Some(owner) = record.get(owner_field).and_then(Value::as_str) else { return Ok(false) };
        let sealed = self.seal(&record, owner).await?;
        if !sealed.is_sealed() {
            return Ok(false);
        }
        let stored = sealed.update();
        let key: Item =
            it.iter().filter(|(name, _)| keys.contains(&name.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let update = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(stored.expression(&[], &[]))
            .condition_expression("#doc = :old AND attribute_not_exists(p)")
            .expression_attribute_names("#doc", "doc")
            .set_expression_attribute_values(Some(stored.values.into_iter().collect()))
            .expression_attribute_values(":old", old.clone());
        Ok(conditional("seal a record", update.send()).await?.is_some())
    }
}
