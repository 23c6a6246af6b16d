//! The six tables' names, the index names the adapters query, and how to create the tables
//! (on DynamoDB Local in tests). Their keys, indexes, projections and TTL are defined once, in
//! `infra/tables.json`, which the CDK stack builds from too; the tests below hold the names here
//! to that file.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde::Deserialize;

/// The schema file, shared with `infra/lib/specs.ts`.
pub const SCHEMA_JSON: &str = include_str!("../../../infra/tables.json");

/// Physical table names, from configuration so several stacks (or tests) can share an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableNames {
    /// `rft-codes`: codes and the active-code guards.
    pub codes: String,
    /// `rft-clicks`: clicks, email touches, counters and rollups; a stream of new images (the
    /// rollups' follower reads it).
    pub clicks: String,
    /// `rft-referrals`: referrals and identity claims.
    pub referrals: String,
    /// `rft-rewards`: ledger rows and referrer tallies.
    pub rewards: String,
    /// `rft-audit`: the audit and processed webhook ids.
    pub audit: String,
    /// `rft-keys`: the keys sealing personal fields (never backed up; see `dynamo/seal.rs`).
    pub keys: String,
}

/// GSI on `rft-codes` listing a customer's codes.
pub const CODES_BY_REFERRER: &str = "by_referrer";
/// Sparse GSI on `rft-codes`: only flagged codes carry `flag_queue` (the ops queue).
pub const CODES_BY_FLAG: &str = "by_flag";
/// Sparse GSI on `rft-clicks`: clicks by browser hash (the optional fingerprint fallback).
pub const CLICKS_BY_BROWSER: &str = "by_browser";
/// Sparse GSI on `rft-referrals`: only referrals in a review queue carry `queue`.
pub const REFERRALS_BY_QUEUE: &str = "by_queue";
/// GSI on `rft-referrals`: a referrer's referrals (claim items carry no `referrer_id`).
pub const REFERRALS_BY_REFERRER: &str = "by_referrer";
/// Sparse GSI on `rft-referrals`: identity claims by the customer whose sign-up made them
/// (erasure).
pub const REFERRALS_BY_CLAIMANT: &str = "by_claimant";
/// GSI on `rft-referrals`: referrals by `state`, newest first (the console's listing; claim
/// items carry no `state`).
pub const REFERRALS_BY_STATE: &str = "by_state";
/// GSI on `rft-codes`: codes by `status`, newest first (the console's referrers; the
/// active-code guards carry no `status`).
pub const CODES_BY_STATUS: &str = "by_status";
/// GSI on `rft-rewards`: a customer's ledger rows (tallies carry no `customer_id`).
pub const REWARDS_BY_CUSTOMER: &str = "by_customer";
/// GSI on `rft-audit`: a subject's history.
pub const AUDIT_BY_SUBJECT: &str = "by_subject";

/// Each table (by its own name) and the variable its physical name is read from: the `env` of
/// each table in the schema.
pub const TABLE_VARIABLES: [(&str, &str); 6] = [
    ("rft-codes", "RFT_TABLE_CODES"),
    ("rft-clicks", "RFT_TABLE_CLICKS"),
    ("rft-referrals", "RFT_TABLE_REFERRALS"),
    ("rft-rewards", "RFT_TABLE_REWARDS"),
    ("rft-audit", "RFT_TABLE_AUDIT"),
    ("rft-keys", "RFT_TABLE_KEYS"),
];

impl TableNames {
    /// Each table's physical name from `name_of` its own name.
    fn each(name_of: impl Fn(&str) -> String) -> Self {
        TableNames {
            codes: name_of("rft-codes"),
            clicks: name_of("rft-clicks"),
            referrals: name_of("rft-referrals"),
            rewards: name_of("rft-rewards"),
            audit: name_of("rft-audit"),
            keys: name_of("rft-keys"),
        }
    }

    /// The tables' own names with a prefix (`""` in production, a random one per test).
    pub fn with_prefix(prefix: &str) -> Self {
        Self::each(|table| format!("{prefix}{table}"))
    }

    /// From the [`TABLE_VARIABLES`], each defaulting to the table's own name.
    pub fn from_env() -> Self {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::each(|table| {
            let var = TABLE_VARIABLES.iter().find(|(t, _)| *t == table).map(|(_, v)| *v);
            var.and_then(&lookup).unwrap_or_else(|| table.to_owned())
        })
    }

    /// The physical name of the table the schema calls `table` (`rft-codes`, ...).
    pub fn physical(&self, table: &str) -> Option<&str> {
        Some(match table {
            "rft-codes" => &self.codes,
            "rft-clicks" => &self.clicks,
            "rft-referrals" => &self.referrals,
            "rft-rewards" => &self.rewards,
            "rft-audit" => &self.audit,
            "rft-keys" => &self.keys,
            _ => return None,
        })
    }
}

/// `infra/tables.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    #[serde(rename = "about")]
    _about: String,
    /// The tables by their own names.
    pub tables: BTreeMap<String, TableSpec>,
}

/// One table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    #[serde(rename = "about")]
    _about: String,
    /// The variable its physical name is read from.
    pub env: String,
    /// The partition key.
    pub pk: KeyAttr,
    /// The sort key, if the table has one.
    pub sk: Option<KeyAttr>,
    /// The TTL attribute, if items expire.
    pub ttl: Option<String>,
    /// Point-in-time recovery (the stack's concern; DynamoDB Local ignores it).
    pub pitr: bool,
    /// A stream of each new item's image (`rft-clicks`: the rollups' follower reads it).
    #[serde(default, rename = "streamNewImages")]
    pub stream_new_images: bool,
    /// Its global secondary indexes.
    pub gsis: Vec<GsiSpec>,
}

/// A key attribute.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttr {
    /// The attribute.
    pub name: String,
    /// `S` or `N`.
    #[serde(rename = "type")]
    pub kind: KeyKind,
}

/// A key attribute's scalar type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum KeyKind {
    /// A string.
    S,
    /// A number.
    N,
}

/// A global secondary index. Projects every attribute unless `include` or `keys_only` says less.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GsiSpec {
    /// The index's name.
    pub name: String,
    #[serde(rename = "about")]
    _about: String,
    /// Its partition key.
    pub pk: KeyAttr,
    /// Its sort key.
    pub sk: Option<KeyAttr>,
    /// The non-key attributes projected, when not all.
    pub include: Option<Vec<String>>,
    /// Projects the keys only.
    #[serde(default)]
    pub keys_only: bool,
}

impl Schema {
    /// The schema file, parsed (tests and table creation only: the functions never read it).
    pub fn load() -> Schema {
        serde_json::from_str(SCHEMA_JSON).expect("infra/tables.json is valid (its tests say so)")
    }
}

/// Creating a table failed.
#[derive(Debug, thiserror::Error)]
#[error("could not create table {table}")]
pub struct ProvisionError {
    table: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn attr(a: &KeyAttr) -> AttributeDefinition {
    let kind = match a.kind {
        KeyKind::S => ScalarAttributeType::S,
        KeyKind::N => ScalarAttributeType::N,
    };
    AttributeDefinition::builder().attribute_name(&a.name).attribute_type(kind).build().expect("name and type are set")
}

fn key(a: &KeyAttr, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(&a.name).key_type(kind).build().expect("name and type are set")
}

fn gsi(spec: &GsiSpec) -> GlobalSecondaryIndex {
    let projection = match (&spec.include, spec.keys_only) {
        (_, true) => Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
        (Some(include), false) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(include.clone()))
            .build(),
        (None, false) => Projection::builder().projection_type(ProjectionType::All).build(),
    };
    GlobalSecondaryIndex::builder()
        .index_name(&spec.name)
        .set_key_schema(Some(
            std::iter::once(key(&spec.pk, KeyType::Hash))
                .chain(spec.sk.iter().map(|sk| key(sk, KeyType::Range)))
                .collect(),
        ))
        .projection(projection)
        .build()
        .expect("name, keys and projection are set")
}

/// Every attribute a table's keys and indexes use, once each.
fn attribute_definitions(spec: &TableSpec) -> Vec<AttributeDefinition> {
    let mut seen = BTreeMap::new();
    let keys = [Some(&spec.pk), spec.sk.as_ref()].into_iter().flatten();
    for a in keys.chain(spec.gsis.iter().flat_map(|g| [Some(&g.pk), g.sk.as_ref()].into_iter().flatten())) {
        seen.entry(a.name.clone()).or_insert_with(|| attr(a));
    }
    seen.into_values().collect()
}

/// Creates the six tables as the schema defines them (on demand) and sets their TTL.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), ProvisionError> {
    for (table, spec) in &Schema::load().tables {
        let name = names.physical(table).expect("every table in the schema has a name (a test says so)");
        let fail = |e: Box<dyn std::error::Error + Send + Sync>| ProvisionError { table: name.to_owned(), source: e };
        let keys =
            std::iter::once(key(&spec.pk, KeyType::Hash)).chain(spec.sk.iter().map(|sk| key(sk, KeyType::Range)));
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attribute_definitions(spec)))
            .set_key_schema(Some(keys.collect()))
            .set_global_secondary_indexes(Some(spec.gsis.iter().map(gsi).collect()).filter(|g: &Vec<_>| !g.is_empty()))
            .set_stream_specification(spec.stream_new_images.then(|| {
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .expect("the flag is set")
            }))
            .send()
            .await
            .map_err(|e| fail(e.into()))?;
        if let Some(ttl) = &spec.ttl {
            let enabled = TimeToLiveSpecification::builder()
                .attribute_name(ttl)
                .enabled(true)
                .build()
                .expect("name and flag are set");
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(enabled)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
