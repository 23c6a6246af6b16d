//! Reading providers' JSON defensively: every lookup is by dotted path, `null` counts as absent,
//! and a required field that is missing or mistyped becomes an error naming its full path.
//! Providers add fields freely and move some between API versions, so nothing here rejects
//! what it does not know.

use serde_json::Value;

use super::ConnectorError;

/// The value at a dotted path below `v`, `None` if any step is absent or `null`.
pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = v;
    for step in path.split('.').filter(|s| !s.is_empty()) {
        at = at.get(step)?;
    }
    (!at.is_null()).then_some(at)
}

/// Whether the object at `path`'s parent has the key at all (even as `null`): tells an older
/// API version's explicit `null` from a field a newer version removed.
pub(crate) fn has_key(v: &Value, path: &str) -> bool {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    let parent = if parent.is_empty() { Some(v) } else { get(v, parent) };
    parent.and_then(Value::as_object).is_some_and(|o| o.contains_key(key))
}

/// A non-empty string at `path`.
pub(crate) fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// A required non-empty string; the error names `prefix.path`.
pub(crate) fn req_str<'a>(v: &'a Value, prefix: &str, path: &str) -> Result<&'a str, ConnectorError> {
    match get(v, path) {
        None => Err(ConnectorError::field(join(prefix, path), "is missing")),
        Some(x) => x
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConnectorError::field(join(prefix, path), "must be a non-empty string")),
    }
}

/// A required whole number that fits in `u64`; the error names `prefix.path`.
pub(crate) fn req_u64(v: &Value, prefix: &str, path: &str) -> Result<u64, ConnectorError> {
    match get(v, path) {
        None => Err(ConnectorError::field(join(prefix, path), "is missing")),
        Some(x) => x.as_u64().ok_or_else(|| ConnectorError::field(join(prefix, path), "must be a whole number from 0")),
    }
}

/// A required unix time in seconds; the error names `prefix.path`.
pub(crate) fn req_i64(v: &Value, prefix: &str, path: &str) -> Result<i64, ConnectorError> {
    match get(v, path) {
        None => Err(ConnectorError::field(join(prefix, path), "is missing")),
        Some(x) => x.as_i64().ok_or_else(|| ConnectorError::field(join(prefix, path), "must be a whole number")),
    }
}

/// The id of a reference that may be a bare id string or an expanded object with an `id`.
pub(crate) fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
    .map(str::trim)
    .filter(|s| !s.is_empty())
}

/// An id that may arrive as a JSON number or a string (Shopify's 64-bit ids), as text.
pub(crate) fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// Whole number that may arrive as a number or a numeric string (GraphQL's `UnsignedInt64`).
pub(crate) fn loose_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Elements of the array at `path` (none if absent or not an array).
pub(crate) fn array_at<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    get(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() { path.to_owned() } else { format!("{prefix}.{path}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_treat_null_as_absent_and_name_the_field() {
        let v = json!({"a": {"b": null, "c": "x", "n": 5, "neg": -1, "blank": " "}});
        assert_eq!(get(&v, "a.b"), None);
        assert!(has_key(&v, "a.b") && !has_key(&v, "a.z"));
        assert_eq!(str_at(&v, "a.c"), Some("x"));
        assert_eq!(str_at(&v, "a.blank"), None);
        assert_eq!(req_u64(&v, "data", "a.n"), Ok(5));
        assert_eq!(req_u64(&v, "data", "a.neg").unwrap_err().to_string(), "data.a.neg: must be a whole number from 0");
        assert_eq!(req_str(&v, "data", "a.b").unwrap_err().to_string(), "data.a.b: is missing");
        assert_eq!(id_of(&json!({"id": "cus_1"})), Some("cus_1"));
        assert_eq!(id_text(&json!(820982911946154508u64)).as_deref(), Some("820982911946154508"));
        assert_eq!(loose_u64(&json!("3")), Some(3));
        assert!(array_at(&v, "a.c").is_empty());
    }
}
