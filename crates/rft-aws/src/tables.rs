//! The five tables of the design (Part 7), their key and index names, and how to create them
//! (for the emulator in tests; the CDK stack in `infra/` creates the same in AWS).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

/// Physical table names, from configuration so several stacks (or tests) can share an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableNames {
    /// `rft-codes`: PK `code`; GSI `by_referrer` (`referrer_id`, `created_at`).
    pub codes: String,
    /// `rft-clicks`: PK `attribution_id`, SK `click_ts`, TTL `expires_at`; sparse GSI
    /// `by_browser`; a stream of new images (the rollups' follower reads it).
    pub clicks: String,
    /// `rft-referrals`: PK `referred_id` (referrals and identity claims); GSI `by_queue`.
    pub referrals: String,
    /// `rft-rewards`: PK `referral_id`, SK `side` (ledger rows and referrer tallies).
    pub rewards: String,
    /// `rft-audit`: PK `event_id`, SK `ts`, TTL `expires_at` (webhook ids only); GSI `by_subject`.
    pub audit: String,
}

/// GSI on `rft-codes` listing a customer's codes.
pub const CODES_BY_REFERRER: &str = "by_referrer";
/// Sparse GSI on `rft-clicks`: clicks by browser hash (the optional fingerprint fallback).
pub const CLICKS_BY_BROWSER: &str = "by_browser";
/// Sparse GSI on `rft-referrals`: only referrals in a review queue carry `queue`.
pub const REFERRALS_BY_QUEUE: &str = "by_queue";
/// GSI on `rft-referrals`: a referrer's referrals (claim items carry no `referrer_id`).
pub const REFERRALS_BY_REFERRER: &str = "by_referrer";
/// Sparse GSI on `rft-referrals`: identity claims by the customer whose sign-up made them
/// (erasure).
pub const REFERRALS_BY_CLAIMANT: &str = "by_claimant";
/// GSI on `rft-rewards`: a customer's ledger rows (tallies carry no `customer_id`).
pub const REWARDS_BY_CUSTOMER: &str = "by_customer";
/// GSI on `rft-audit`: a subject's history.
pub const AUDIT_BY_SUBJECT: &str = "by_subject";

impl TableNames {
    /// The design's names with a prefix (`""` in production, a random one per test).
    pub fn with_prefix(prefix: &str) -> Self {
        TableNames {
            codes: format!("{prefix}rft-codes"),
            clicks: format!("{prefix}rft-clicks"),
            referrals: format!("{prefix}rft-referrals"),
            rewards: format!("{prefix}rft-rewards"),
            audit: format!("{prefix}rft-audit"),
        }
    }

    /// From `RFT_TABLE_CODES`, `RFT_TABLE_CLICKS`, `RFT_TABLE_REFERRALS`, `RFT_TABLE_REWARDS`,
    /// `RFT_TABLE_AUDIT`, defaulting to the design's names.
    pub fn from_env() -> Self {
        let d = Self::with_prefix("");
        let var = |k: &str, default: String| std::env::var(k).unwrap_or(default);
        TableNames {
            codes: var("RFT_TABLE_CODES", d.codes),
            clicks: var("RFT_TABLE_CLICKS", d.clicks),
            referrals: var("RFT_TABLE_REFERRALS", d.referrals),
            rewards: var("RFT_TABLE_REWARDS", d.rewards),
            audit: var("RFT_TABLE_AUDIT", d.audit),
        }
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

fn attr(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(t).build().expect("name and type are set")
}

fn key(name: &str, t: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(t).build().expect("name and type are set")
}

fn gsi(name: &str, pk: &str, sk: &str, projection: Projection) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key(sk, KeyType::Range))
        .projection(projection)
        .build()
        .expect("name, keys and projection are set")
}

fn all() -> Projection {
    Projection::builder().projection_type(ProjectionType::All).build()
}

struct Spec {
    name: String,
    pk: (&'static str, ScalarAttributeType),
    sk: Option<(&'static str, ScalarAttributeType)>,
    extra_attrs: Vec<(&'static str, ScalarAttributeType)>,
    gsis: Vec<GlobalSecondaryIndex>,
    ttl: Option<&'static str>,
    stream: bool,
}

/// Creates the five tables (on-demand, with keys, GSIs and TTL) and waits until they exist.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), ProvisionError> {
    use ScalarAttributeType::{N, S};
    let specs = [
        Spec {
            name: names.codes.clone(),
            pk: ("code", S),
            sk: None,
            extra_attrs: vec![("referrer_id", S), ("created_at", N)],
            gsis: vec![gsi(CODES_BY_REFERRER, "referrer_id", "created_at", all())],
            ttl: None,
            stream: false,
        },
        Spec {
            name: names.clicks.clone(),
            pk: ("attribution_id", S),
            sk: Some(("click_ts", N)),
            extra_attrs: vec![("browser", S)],
            gsis: vec![gsi(CLICKS_BY_BROWSER, "browser", "click_ts", all())],
            ttl: Some("expires_at"),
            stream: true,
        },
        Spec {
            name: names.referrals.clone(),
            pk: ("referred_id", S),
            sk: None,
            extra_attrs: vec![("queue", S), ("queue_ts", N), ("referrer_id", S), ("created_at", N), ("claimant", S)],
            gsis: vec![
                gsi(REFERRALS_BY_QUEUE, "queue", "queue_ts", all()),
                gsi(REFERRALS_BY_REFERRER, "referrer_id", "created_at", all()),
                gsi(
                    REFERRALS_BY_CLAIMANT,
                    "claimant",
                    "referred_id",
                    Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
                ),
            ],
            ttl: None,
            stream: false,
        },
        Spec {
            name: names.rewards.clone(),
            pk: ("referral_id", S),
            sk: Some(("side", S)),
            extra_attrs: vec![("customer_id", S), ("created_at", N)],
            gsis: vec![gsi(REWARDS_BY_CUSTOMER, "customer_id", "created_at", all())],
            ttl: None,
            stream: false,
        },
        Spec {
            name: names.audit.clone(),
            pk: ("event_id", S),
            sk: Some(("ts", N)),
            extra_attrs: vec![("subject", S)],
            gsis: vec![gsi(AUDIT_BY_SUBJECT, "subject", "ts", all())],
            ttl: Some("expires_at"),
            stream: false,
        },
    ];
    for spec in specs {
        let fail = |e: Box<dyn std::error::Error + Send + Sync>| ProvisionError { table: spec.name.clone(), source: e };
        let mut req = client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(spec.pk.0, spec.pk.1.clone()))
            .key_schema(key(spec.pk.0, KeyType::Hash));
        if let Some((name, t)) = &spec.sk {
            req = req.attribute_definitions(attr(name, t.clone())).key_schema(key(name, KeyType::Range));
        }
        for (name, t) in &spec.extra_attrs {
            req = req.attribute_definitions(attr(name, t.clone()));
        }
        for g in &spec.gsis {
            req = req.global_secondary_indexes(g.clone());
        }
        if spec.stream {
            req = req.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .expect("the flag is set"),
            );
        }
        req.send().await.map_err(|e| fail(e.into()))?;
        if let Some(ttl) = spec.ttl {
            let spec_ttl = TimeToLiveSpecification::builder()
                .attribute_name(ttl)
                .enabled(true)
                .build()
                .expect("name and flag are set");
            client
                .update_time_to_live()
                .table_name(&spec.name)
                .time_to_live_specification(spec_ttl)
                .send()
                .await
                .map_err(|e| fail(e.into()))?;
        }
    }
    Ok(())
}
