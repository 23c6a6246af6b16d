//! Small helpers for DynamoDB items: attribute constructors, typed reads, and the JSON `doc`
//! attribute that carries a domain record beside its key and index attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};

use rft_core::ports::StoreError;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The record as a JSON string attribute.
pub fn doc<T: Serialize>(record: &T) -> AttributeValue {
    // Domain records always serialise to JSON (string keys, infallible impls).
    AttributeValue::S(serde_json::to_string(record).expect("domain records serialise to JSON"))
}

/// Reads the record back from its `doc` attribute.
pub fn from_doc<T: DeserializeOwned>(item: &Item, key: &str) -> Result<T, StoreError> {
    let text = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::corrupt(key, "item has no doc attribute"))?;
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(key, e))
}

/// A string attribute's value.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A number attribute's value.
pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|t| t.parse().ok())
}

/// Builds an item from pairs.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
