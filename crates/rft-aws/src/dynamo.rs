//! Every store port on DynamoDB, on the five tables of [`crate::tables`]. Conditions do the
//! work: a code is claimed with `attribute_not_exists`, a referral changes only at the version
//! it was read, and a payout (flip, both ledger rows, tally, audit) is one TransactWriteItems.
//! Condition failures and cancellation reasons come back as typed domain errors.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, Select, TransactWriteItem, Update};

use rft_core::ports::{
    AppendError, AuditStore, Begin, ClaimError, ClickStore, CodeStore, CommitError, CountError, Counters, LedgerStore,
    Opened, ReferralStore, StoreError, StoredResponse, WEBHOOK_MEMORY, WebhookLog, WriteError,
};
use rft_core::{
    AuditEvent, Click, Code, CodeRecord, CodeStatus, CustomerId, IdentityKey, LedgerRow, Referral, ReferralId,
    ReviewQueue, RewardCommit, Timestamp, click::TouchKey, identity::IdentityHash,
};

use crate::item::{Item, doc, from_doc, get_n, get_s, item, n, s};
use crate::tables::{
    AUDIT_BY_SUBJECT, CLICKS_BY_BROWSER, CLICKS_BY_CODE, CODES_BY_REFERRER, REFERRALS_BY_CLAIMANT, REFERRALS_BY_QUEUE,
    REFERRALS_BY_REFERRER, REWARDS_BY_CUSTOMER, TableNames,
};

/// The DynamoDB store.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    /// A store over `tables` using `client`.
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore { client, tables }
    }

    /// Opens the connection (DNS, TLS) during init, so the first request does not pay for it.
    /// Failure is only logged: the first real call will report it properly.
    pub async fn warm(&self) {
        let probe = self.client.get_item().table_name(&self.tables.codes).key("code", s("warmup#")).send().await;
        if let Err(e) = probe {
            tracing::warn!(error = %e, "warm-up read failed");
        }
    }

    /// The table names in use.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }
}

fn unavailable<E>(op: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::unavailable(op, e)
}

/// Which transaction items failed their condition (by position); any other failure is a
/// storage error.
fn cancelled_items<R>(op: &'static str, err: SdkError<TransactWriteItemsError, R>) -> Result<Vec<usize>, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => Ok(e
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect()),
            _ => Err(StoreError::unavailable(op, SdkError::ServiceError(service))),
        },
        other => Err(StoreError::unavailable(op, other)),
    }
}

fn is_condition_failure<R>(err: &SdkError<PutItemError, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)))
}

fn put(table: &str, item: Item, condition: Option<&str>) -> Put {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    p.build().expect("table and item are set")
}

fn tx_put(p: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(p).build()
}

const NOT_EXISTS: &str = "attribute_not_exists(#pk)";

// ---- item layouts ----------------------------------------------------------------------------

fn code_item(r: &CodeRecord) -> Item {
    item([
        ("code", s(r.code.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("status", s(r.status.as_str())),
        ("created_at", n(r.created_at.as_millis())),
        ("doc", doc(r)),
    ])
}

/// The "one active code per customer" guard lives in `rft-codes` beside the codes; its key
/// cannot collide with a code (codes are six alphabet characters).
fn guard_key(customer: &CustomerId) -> String {
    format!("active#{}", customer.as_str())
}

fn click_item(c: &Click) -> Item {
    let mut it = item([
        ("attribution_id", s(c.key.attribution_id())),
        ("click_ts", n(c.at.as_millis())),
        ("code", s(c.code.as_str())),
        ("expires_at", n(c.expires_at.as_secs() + 1)),
        ("expires_at_ms", n(c.expires_at.as_millis())),
        ("doc", doc(c)),
    ]);
    if let Some(browser) = &c.browser {
        it.insert("browser".into(), s(browser.as_str()));
    }
    if let Some(channel) = &c.channel {
        it.insert("channel".into(), s(channel.as_str()));
    }
    it
}

fn referral_key(id: &ReferralId) -> String {
    format!("referral#{}", id.as_str())
}

fn claim_key(key: &IdentityKey) -> String {
    format!("claim#{}", key.storage_key())
}

fn referral_item(r: &Referral) -> Item {
    let mut it = item([
        ("referred_id", s(referral_key(&r.referral_id))),
        ("referral_id", s(r.referral_id.as_str())),
        ("referrer_id", s(r.referrer_id.as_str())),
        ("code", s(r.code.as_str())),
        ("state", s(r.state.as_str())),
        ("version", n(r.version)),
        ("created_at", n(r.created_at.as_millis())),
        ("doc", doc(r)),
    ]);
    if let Some((queue, at)) = r.queue() {
        it.insert("queue".into(), s(queue.as_str()));
        it.insert("queue_ts".into(), n(at.as_millis()));
    }
    it
}

fn ledger_item(row: &LedgerRow) -> Item {
    item([
        ("referral_id", s(row.referral_id.as_str())),
        ("side", s(row.side.as_str())),
        ("customer_id", s(row.customer_id.as_str())),
        ("version", n(row.version)),
        ("created_at", n(row.created_at.as_millis())),
        ("doc", doc(row)),
    ])
}

fn tally_key(referrer: &CustomerId) -> String {
    format!("tally#{}", referrer.as_str())
}

fn audit_item(e: &AuditEvent) -> Item {
    item([
        ("event_id", s(e.event_id.as_str())),
        ("ts", n(e.ts.as_millis())),
        ("subject", s(e.subject.as_str())),
        ("kind", s(serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())),
        ("doc", doc(e)),
    ])
}

fn webhook_key(id: &str) -> String {
    format!("webhook#{id}")
}

impl DynamoStore {
    async fn get_item(&self, op: &'static str, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable(op))?;
        Ok(out.item)
    }

    async fn referral_by_id(&self, id: &str) -> Result<Option<Referral>, StoreError> {
        let key = item([("referred_id", s(format!("referral#{id}")))]);
        let found = self.get_item("read a referral", &self.tables.referrals, key).await?;
        found.map(|it| from_doc(&it, id)).transpose()
    }

    async fn referral_id_for_claim(&self, claim: &str) -> Result<Option<String>, StoreError> {
        let found =
            self.get_item("read an identity claim", &self.tables.referrals, item([("referred_id", s(claim))])).await?;
        Ok(found.and_then(|it| get_s(&it, "referral_id").map(str::to_owned)))
    }

    /// Runs a query to the end, following pagination.
    async fn query_all(
        &self,
        op: &'static str,
        q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = q.clone().set_exclusive_start_key(start).send().await.map_err(unavailable(op))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

// ---- codes ----------------------------------------------------------------------------------

#[async_trait]
impl CodeStore for DynamoStore {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        let mut req = self.client.transact_write_items().transact_items(tx_put(
            Put::builder()
                .table_name(&self.tables.codes)
                .set_item(Some(code_item(record)))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "code")
                .build()
                .expect("table and item are set"),
        ));
        if record.is_active() {
            req = req.transact_items(tx_put(
                Put::builder()
                    .table_name(&self.tables.codes)
                    .set_item(Some(item([
                        ("code", s(guard_key(&record.referrer_id))),
                        ("active_code", s(record.code.as_str())),
                    ])))
                    .condition_expression(NOT_EXISTS)
                    .expression_attribute_names("#pk", "code")
                    .build()
                    .expect("table and item are set"),
            ));
        }
        let Err(err) = req.send().await else { return Ok(()) };
        let failed = cancelled_items("claim a code", err)?;
        if failed.contains(&0) {
            return Err(ClaimError::CodeTaken);
        }
        let guard = self
            .get_item(
                "read the active-code guard",
                &self.tables.codes,
                item([("code", s(guard_key(&record.referrer_id)))]),
            )
            .await?;
        match guard.as_ref().and_then(|g| get_s(g, "active_code")).map(Code::parse) {
            Some(Ok(code)) => Err(ClaimError::CustomerHasActiveCode(code)),
            // The guard vanished between the two calls (a concurrent retire): let the caller retry.
            _ => Err(ClaimError::CodeTaken),
        }
    }

    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        let Some(mut record) = CodeStore::get(self, code).await? else { return Ok(()) };
        let owner = record.referrer_id.clone();
        if record.status == CodeStatus::Active {
            record.status = CodeStatus::Retired;
            record.retired_at = Some(at);
        }
        record.referrer_id = opaque.clone();
        record.referrer = Default::default();
        let release = Delete::builder()
            .table_name(&self.tables.codes)
            .key("code", s(guard_key(&owner)))
            .condition_expression("attribute_not_exists(code) OR active_code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .expect("table and key are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(tx_put(put(&self.tables.codes, code_item(&record), None)))
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // The guard names another code: rewrite this one alone.
                cancelled_items("forget a code's owner", err)?;
                self.client
                    .put_item()
                    .table_name(&self.tables.codes)
                    .set_item(Some(code_item(&record)))
                    .send()
                    .await
                    .map_err(unavailable("forget a code's owner"))?;
                Ok(())
            }
        }
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let found = self.get_item("read a code", &self.tables.codes, item([("code", s(code.as_str()))])).await?;
        found.map(|it| from_doc(&it, code.as_str())).transpose()
    }

    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        let guard = self
            .get_item("read the active-code guard", &self.tables.codes, item([("code", s(guard_key(customer)))]))
            .await?;
        let Some(code) = guard.as_ref().and_then(|g| get_s(g, "active_code")) else { return Ok(None) };
        let code = Code::parse(code).map_err(|e| StoreError::corrupt(guard_key(customer), e))?;
        CodeStore::get(self, &code).await
    }

    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.codes)
            .index_name(CODES_BY_REFERRER)
            .key_condition_expression("referrer_id = :c")
            .expression_attribute_values(":c", s(customer.as_str()));
        let items = self.query_all("list a customer's codes", q).await?;
        items.iter().map(|it| from_doc(it, customer.as_str())).collect()
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let Some(mut record) = CodeStore::get(self, code).await? else { return Ok(None) };
        if record.status == CodeStatus::Retired {
            return Ok(Some(record));
        }
        record.status = CodeStatus::Retired;
        record.retired_at = Some(at);
        let flip = Update::builder()
            .table_name(&self.tables.codes)
            .key("code", s(code.as_str()))
            .update_expression("SET #status = :retired, #doc = :doc")
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#doc", "doc")
            .expression_attribute_values(":retired", s(CodeStatus::Retired.as_str()))
            .expression_attribute_values(":active", s(CodeStatus::Active.as_str()))
            .expression_attribute_values(":doc", doc(&record))
            .build()
            .expect("table, key and expression are set");
        let release = Delete::builder()
            .table_name(&self.tables.codes)
            .key("code", s(guard_key(&record.referrer_id)))
            .condition_expression("attribute_not_exists(code) OR active_code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .expect("table and key are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(flip.clone()).build())
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(record)),
            Err(err) => {
                let failed = cancelled_items("retire a code", err)?;
                if failed.contains(&0) {
                    // Retired concurrently: report what is stored.
                    return CodeStore::get(self, code).await;
                }
                // The guard names another code: retire this one alone.
                self.client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(flip).build())
                    .send()
                    .await
                    .map_err(unavailable("retire a code"))?;
                Ok(Some(record))
            }
        }
    }
}

// ---- clicks ---------------------------------------------------------------------------------

#[async_trait]
impl ClickStore for DynamoStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.clicks)
            .set_item(Some(click_item(click)))
            .send()
            .await
            .map_err(unavailable("log a click"))?;
        Ok(())
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let id = key.attribution_id();
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .key_condition_expression("attribution_id = :t")
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_values(":t", s(id.as_str()))
            .expression_attribute_values(":now", n(now.as_millis()))
            .scan_index_forward(false)
            .consistent_read(true);
        let items = self.query_all("read a token's clicks", q).await?;
        items.iter().map(|it| from_doc(it, &id)).collect()
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let id = key.attribution_id();
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .key_condition_expression("attribution_id = :t")
            .expression_attribute_values(":t", s(id.as_str()))
            .consistent_read(true);
        let items = self.query_all("list touches to forget", q).await?;
        for it in &items {
            let ts = get_n(it, "click_ts").unwrap_or_default();
            self.client
                .delete_item()
                .table_name(&self.tables.clicks)
                .key("attribution_id", s(id.as_str()))
                .key("click_ts", n(ts))
                .send()
                .await
                .map_err(unavailable("forget a touch"))?;
        }
        Ok(items.len())
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.clicks)
                .index_name(CLICKS_BY_BROWSER)
                .key_condition_expression("browser = :b AND click_ts BETWEEN :since AND :now")
                .filter_expression("expires_at_ms > :now")
                .expression_attribute_values(":b", s(browser.as_str()))
                .expression_attribute_values(":since", n(since.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("find a browser's latest click"))?;
            if let Some(first) = page.items.unwrap_or_default().first() {
                return from_doc(first, browser.as_str()).map(Some);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(None),
            }
        }
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .index_name(CLICKS_BY_CODE)
            .key_condition_expression("code = :c AND click_ts BETWEEN :since AND :now")
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_values(":c", s(code.as_str()))
            .expression_attribute_values(":since", n(since.as_millis()))
            .expression_attribute_values(":now", n(now.as_millis()));
        let items = self.query_all("list a code's clicks", q).await?;
        Ok(items
            .iter()
            .filter_map(|it| {
                Some((Timestamp::from_millis(get_n(it, "click_ts")?), get_s(it, "channel").map(str::to_owned)))
            })
            .collect())
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.clicks)
                .index_name(CLICKS_BY_CODE)
                .key_condition_expression("code = :c AND click_ts >= :since")
                .filter_expression("expires_at_ms > :now")
                .expression_attribute_values(":c", s(code.as_str()))
                .expression_attribute_values(":since", n(since.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("count a code's clicks"))?;
            total += u64::try_from(page.count).unwrap_or(0);
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}

// ---- referrals ------------------------------------------------------------------------------

#[async_trait]
impl ReferralStore for DynamoStore {
    async fn open(
        &self,
        referral: &Referral,
        claims: &[IdentityKey],
        audit: &AuditEvent,
    ) -> Result<Opened, StoreError> {
        let claim_keys: Vec<String> = claims.iter().map(claim_key).collect();
        // Whose sign-up these claims are: erasure finds them by it.
        let claimant = claims
            .iter()
            .find_map(|k| match k {
                IdentityKey::Customer(c) => Some(c.clone()),
                _ => None,
            })
            .unwrap_or_else(|| referral.referred_id.clone());
        let referral_put = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(referral_item(referral)))
            .condition_expression(NOT_EXISTS)
            .expression_attribute_names("#pk", "referred_id")
            .build()
            .expect("table and item are set");
        let mut req = self.client.transact_write_items().transact_items(tx_put(referral_put));
        for key in &claim_keys {
            let claim = Put::builder()
                .table_name(&self.tables.referrals)
                .set_item(Some(item([
                    ("referred_id", s(key.as_str())),
                    ("referral_id", s(referral.referral_id.as_str())),
                    ("claimant", s(claimant.as_str())),
                ])))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "referred_id")
                .build()
                .expect("table and item are set");
            req = req.transact_items(tx_put(claim));
        }
        req = req.transact_items(tx_put(put(&self.tables.audit, audit_item(audit), None)));
        let Err(err) = req.send().await else { return Ok(Opened::Created) };
        let failed = cancelled_items("open a referral", err)?;
        // Positions 1..=claims are the claims; the first one held names the person's referral.
        let mut holder = None;
        for i in failed.iter().filter(|i| (1..=claim_keys.len()).contains(*i)) {
            if let Some(id) = self.referral_id_for_claim(&claim_keys[i - 1]).await? {
                holder = Some(id);
                break;
            }
        }
        let Some(id) = holder else {
            return Err(StoreError::unavailable(
                "open a referral",
                format!("transaction cancelled without a held claim (failed items {failed:?})"),
            ));
        };
        for key in &claim_keys {
            let added = self
                .client
                .put_item()
                .table_name(&self.tables.referrals)
                .set_item(Some(item([
                    ("referred_id", s(key.as_str())),
                    ("referral_id", s(id.as_str())),
                    ("claimant", s(claimant.as_str())),
                ])))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "referred_id")
                .send()
                .await;
            if let Err(e) = added
                && !is_condition_failure(&e)
            {
                return Err(StoreError::unavailable("extend an identity claim", e));
            }
        }
        let existing = self
            .referral_by_id(&id)
            .await?
            .ok_or_else(|| StoreError::corrupt(id.clone(), "a claim points at a missing referral"))?;
        Ok(Opened::Existing(Box::new(existing)))
    }

    async fn get(&self, id: &ReferralId) -> Result<Option<Referral>, StoreError> {
        self.referral_by_id(id.as_str()).await
    }

    async fn find(&self, key: &IdentityKey) -> Result<Option<Referral>, StoreError> {
        match self.referral_id_for_claim(&claim_key(key)).await? {
            Some(id) => self.referral_by_id(&id).await,
            None => Ok(None),
        }
    }

    async fn save(
        &self,
        referral: &Referral,
        expected_version: u64,
        audit: Option<&AuditEvent>,
    ) -> Result<(), WriteError> {
        let guarded = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(referral_item(referral)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .build()
            .expect("table and item are set");
        let mut req = self.client.transact_write_items().transact_items(tx_put(guarded));
        if let Some(event) = audit {
            req = req.transact_items(tx_put(put(&self.tables.audit, audit_item(event), None)));
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let failed = cancelled_items("update a referral", err)?;
                if failed.contains(&0) {
                    Err(WriteError::Conflict)
                } else {
                    Err(StoreError::unavailable("update a referral", format!("cancelled items {failed:?}")).into())
                }
            }
        }
    }

    async fn forget_claims(&self, claimant: &CustomerId) -> Result<usize, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.referrals)
            .index_name(REFERRALS_BY_CLAIMANT)
            .key_condition_expression("claimant = :c")
            .expression_attribute_values(":c", s(claimant.as_str()));
        let items = self.query_all("list claims to forget", q).await?;
        for it in &items {
            let key = get_s(it, "referred_id").unwrap_or_default();
            self.client
                .delete_item()
                .table_name(&self.tables.referrals)
                .key("referred_id", s(key))
                .condition_expression("claimant = :c")
                .expression_attribute_values(":c", s(claimant.as_str()))
                .send()
                .await
                .map_err(unavailable("forget an identity claim"))?;
        }
        Ok(items.len())
    }

    async fn referrals_of(&self, referrer: &CustomerId) -> Result<Vec<Referral>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.referrals)
            .index_name(REFERRALS_BY_REFERRER)
            .key_condition_expression("referrer_id = :r")
            .expression_attribute_values(":r", s(referrer.as_str()));
        let items = self.query_all("list a referrer's referrals", q).await?;
        items.iter().map(|it| from_doc(it, get_s(it, "referral_id").unwrap_or_default())).collect()
    }

    async fn queue(&self, queue: ReviewQueue, until: Timestamp, limit: usize) -> Result<Vec<Referral>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.tables.referrals)
                .index_name(REFERRALS_BY_QUEUE)
                .key_condition_expression("#q = :q AND queue_ts <= :until")
                .expression_attribute_names("#q", "queue")
                .expression_attribute_values(":q", s(queue.as_str()))
                .expression_attribute_values(":until", n(until.as_millis()))
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("list a review queue"))?;
            for it in page.items.unwrap_or_default() {
                let id = get_s(&it, "referral_id").unwrap_or_default().to_owned();
                out.push(from_doc(&it, &id)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

// ---- ledger ---------------------------------------------------------------------------------

#[async_trait]
impl LedgerStore for DynamoStore {
    async fn commit_reward(&self, commit: &RewardCommit) -> Result<(), CommitError> {
        let flip = Put::builder()
            .table_name(&self.tables.referrals)
            .set_item(Some(referral_item(&commit.referral)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(commit.expected_version))
            .build()
            .expect("table and item are set");
        let row = |r: &LedgerRow| {
            Put::builder()
                .table_name(&self.tables.rewards)
                .set_item(Some(ledger_item(r)))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "referral_id")
                .build()
                .expect("table and item are set")
        };
        let expected = commit.tally.expected;
        let tally_condition = if expected == 0 {
            "attribute_not_exists(referral_id) OR #count = :expected"
        } else {
            "#count = :expected"
        };
        let tally = Update::builder()
            .table_name(&self.tables.rewards)
            .key("referral_id", s(tally_key(&commit.tally.referrer_id)))
            .key("side", s("tally"))
            .update_expression("SET #count = :next")
            .condition_expression(tally_condition)
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":expected", n(expected))
            .expression_attribute_values(":next", n(expected + 1))
            .build()
            .expect("table, key and expression are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(tx_put(flip))
            .transact_items(tx_put(row(&commit.rows[0])))
            .transact_items(tx_put(row(&commit.rows[1])))
            .transact_items(TransactWriteItem::builder().update(tally).build())
            .transact_items(tx_put(put(&self.tables.audit, audit_item(&commit.audit), None)))
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let failed = cancelled_items("commit a payout", err)?;
        Err(if failed.contains(&0) {
            CommitError::Stale
        } else if failed.contains(&1) || failed.contains(&2) {
            CommitError::AlreadyPaid
        } else if failed.contains(&3) {
            CommitError::TallyMoved
        } else {
            CommitError::Store(StoreError::unavailable("commit a payout", format!("cancelled items {failed:?}")))
        })
    }

    async fn rows(&self, referral: &ReferralId) -> Result<Vec<LedgerRow>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.rewards)
            .key_condition_expression("referral_id = :r")
            .expression_attribute_values(":r", s(referral.as_str()))
            .consistent_read(true);
        let items = self.query_all("read ledger rows", q).await?;
        let mut rows: Vec<LedgerRow> =
            items.iter().map(|it| from_doc(it, referral.as_str())).collect::<Result<_, _>>()?;
        rows.sort_by_key(|r| r.side);
        Ok(rows)
    }

    async fn save_row(&self, row: &LedgerRow, expected_version: u64) -> Result<(), WriteError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.rewards)
            .set_item(Some(ledger_item(row)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(WriteError::Conflict),
            Err(e) => Err(StoreError::unavailable("update a ledger row", e).into()),
        }
    }

    async fn rows_of(&self, customer: &CustomerId) -> Result<Vec<LedgerRow>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.rewards)
            .index_name(REWARDS_BY_CUSTOMER)
            .key_condition_expression("customer_id = :c")
            .expression_attribute_values(":c", s(customer.as_str()));
        let items = self.query_all("list a customer's ledger rows", q).await?;
        items.iter().map(|it| from_doc(it, customer.as_str())).collect()
    }

    async fn tally(&self, referrer: &CustomerId) -> Result<u32, StoreError> {
        let found = self
            .get_item(
                "read a referrer's tally",
                &self.tables.rewards,
                item([("referral_id", s(tally_key(referrer))), ("side", s("tally"))]),
            )
            .await?;
        Ok(found.and_then(|it| get_n(&it, "count")).and_then(|c| u32::try_from(c).ok()).unwrap_or(0))
    }
}

// ---- audit ----------------------------------------------------------------------------------

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), AppendError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(audit_item(event)))
            .condition_expression(NOT_EXISTS)
            .expression_attribute_names("#pk", "event_id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(AppendError::Duplicate),
            Err(e) => Err(StoreError::unavailable("append to the audit", e).into()),
        }
    }

    async fn redact(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(audit_item(event)))
            .condition_expression("attribute_exists(event_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::unavailable("redact an audit event", e)),
        }
    }

    async fn events_for(&self, subject: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .index_name(AUDIT_BY_SUBJECT)
            .key_condition_expression("subject = :s")
            .expression_attribute_values(":s", s(subject));
        let items = self.query_all("read the audit", q).await?;
        items.iter().map(|it| from_doc(it, subject)).collect()
    }
}

// ---- processed webhook ids ------------------------------------------------------------------

#[async_trait]
impl WebhookLog for DynamoStore {
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError> {
        let expires = now.plus(WEBHOOK_MEMORY);
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item([
                ("event_id", s(webhook_key(id))),
                ("ts", n(0)),
                ("lease_until", n(now.plus(lease).as_millis())),
                ("expires_at", n(expires.as_secs() + 1)),
                ("expires_at_ms", n(expires.as_millis())),
            ])))
            .condition_expression(
                "attribute_not_exists(event_id) OR expires_at_ms <= :now \
                 OR (attribute_not_exists(#resp) AND lease_until <= :now)",
            )
            .expression_attribute_names("#resp", "response")
            .expression_attribute_values(":now", n(now.as_millis()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Begin::Fresh),
            Err(e) if is_condition_failure(&e) => {
                let key = item([("event_id", s(webhook_key(id))), ("ts", n(0))]);
                let found = self.get_item("read a webhook id", &self.tables.audit, key).await?;
                match found.as_ref().and_then(|it| get_s(it, "response")) {
                    Some(text) => {
                        let response =
                            serde_json::from_str(text).map_err(|e| StoreError::corrupt(webhook_key(id), e))?;
                        Ok(Begin::Done(response))
                    }
                    None => Ok(Begin::InFlight),
                }
            }
            Err(e) => Err(StoreError::unavailable("claim a webhook id", e)),
        }
    }

    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError> {
        let expires = now.plus(WEBHOOK_MEMORY);
        self.client
            .put_item()
            .table_name(&self.tables.audit)
            .set_item(Some(item([
                ("event_id", s(webhook_key(id))),
                ("ts", n(0)),
                ("lease_until", n(now.as_millis())),
                ("response", doc(response)),
                ("expires_at", n(expires.as_secs() + 1)),
                ("expires_at_ms", n(expires.as_millis())),
            ])))
            .send()
            .await
            .map_err(unavailable("record a webhook answer"))?;
        Ok(())
    }

    async fn abandon(&self, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.audit)
            .key("event_id", s(webhook_key(id)))
            .key("ts", n(0))
            .condition_expression("attribute_not_exists(#resp)")
            .expression_attribute_names("#resp", "response")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::unavailable("release a webhook id", e)),
        }
    }
}

// ---- counters -------------------------------------------------------------------------------

/// Counters live in `rft-clicks` (a TTL'd table) under `counter#<key>`, sort key 0.
fn counter_key(key: &str) -> Item {
    item([("attribution_id", s(format!("counter#{key}"))), ("click_ts", n(0))])
}

#[async_trait]
impl Counters for DynamoStore {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        // Two conditional writes cover every case without a read: add one to a live counter
        // under its limit, or start a fresh one where there is none (or it expired). A race
        // between them just goes round again.
        for _ in 0..4 {
            let mut bump = self
                .client
                .update_item()
                .table_name(&self.tables.clicks)
                .set_key(Some(counter_key(key)))
                .update_expression("SET #count = #count + :one")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now.as_millis()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew);
            bump = match limit {
                Some(l) => bump
                    .condition_expression("attribute_exists(#count) AND expires_at_ms > :now AND #count < :limit")
                    .expression_attribute_values(":limit", n(l)),
                None => bump.condition_expression("attribute_exists(#count) AND expires_at_ms > :now"),
            };
            match bump.send().await {
                Ok(out) => {
                    let count = out.attributes.as_ref().and_then(|a| get_n(a, "count")).unwrap_or(1);
                    return Ok(u32::try_from(count).unwrap_or(u32::MAX));
                }
                Err(SdkError::ServiceError(e))
                    if matches!(
                        e.err(),
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_)
                    ) => {}
                Err(e) => return Err(StoreError::unavailable("increment a counter", e).into()),
            }
            let mut fresh = counter_key(key);
            fresh.insert("count".into(), n(1));
            fresh.insert("expires_at".into(), n(expires_at.as_secs() + 1));
            fresh.insert("expires_at_ms".into(), n(expires_at.as_millis()));
            let start = self
                .client
                .put_item()
                .table_name(&self.tables.clicks)
                .set_item(Some(fresh))
                .condition_expression("attribute_not_exists(#count) OR expires_at_ms <= :now")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":now", n(now.as_millis()))
                .send()
                .await;
            match start {
                Ok(_) => return Ok(1),
                Err(e) if is_condition_failure(&e) => {
                    // Live and present: the bump failed on the limit, unless it raced a restart.
                    if let Some(l) = limit
                        && Counters::count(self, key, now).await? >= l
                    {
                        return Err(CountError::LimitReached { limit: l });
                    }
                }
                Err(e) => return Err(StoreError::unavailable("start a counter", e).into()),
            }
        }
        Err(StoreError::unavailable("increment a counter", "too much contention on one counter").into())
    }

    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        let found = self.get_item("read a counter", &self.tables.clicks, counter_key(key)).await?;
        let live = found.filter(|it| get_n(it, "expires_at_ms").is_some_and(|exp| exp > now.as_millis()));
        Ok(live.and_then(|it| get_n(&it, "count")).and_then(|c| u32::try_from(c).ok()).unwrap_or(0))
    }
}
