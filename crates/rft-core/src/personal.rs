//! Which fields of a stored record or an audit fact are personal. Erasure removes them
//! ([`crate::service::erase`]); a store whose copies outlive an erasure (DynamoDB's backups)
//! takes them out of the record with [`split`], seals them under a key it can destroy, and puts
//! them back with [`restore`] (docs/reliability.md, "What a backup holds").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Object keys whose values are personal, at any depth of a record or an audit fact.
pub const PERSONAL_KEYS: &[&str] = &[
    "identity",
    "email",
    "first_name",
    "phone",
    "ip_hash",
    "browser",
    "friend",
    "referrer",
    "token",
    "attribution_token",
    "invite",
    "body_start",
    "portal_url",
];

/// One step from a record's root to a personal value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// An object's key.
    Key(String),
    /// An array's element.
    Index(usize),
}

/// A personal value taken out of a record, and where it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalPart {
    /// From the root; always ends with a [`Step::Key`] from [`PERSONAL_KEYS`].
    pub path: Vec<Step>,
    /// The value that was there.
    pub value: Value,
}

/// Takes every non-blank personal value out of `value` (blank ones, such as an erased
/// profile's nulls, stay: there is nothing to seal).
pub fn split(value: &mut Value) -> Vec<PersonalPart> {
    let mut parts = Vec::new();
    take(value, &mut Vec::new(), &mut parts);
    parts
}

fn take(value: &mut Value, path: &mut Vec<Step>, out: &mut Vec<PersonalPart>) {
    match value {
        Value::Object(map) => {
            let personal: Vec<String> = map
                .iter()
                .filter(|(k, v)| PERSONAL_KEYS.contains(&k.as_str()) && !is_blank(v))
                .map(|(k, _)| k.clone())
                .collect();
            for key in personal {
                if let Some(v) = map.remove(&key) {
                    let mut at = path.clone();
                    at.push(Step::Key(key));
                    out.push(PersonalPart { path: at, value: v });
                }
            }
            for (k, v) in map.iter_mut() {
                path.push(Step::Key(k.clone()));
                take(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(Step::Index(i));
                take(v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Null, empty, or made only of such values.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(is_blank),
        Value::Object(map) => map.values().all(is_blank),
        _ => false,
    }
}

/// Puts [`split`]'s parts back where they were.
pub fn restore(value: &mut Value, parts: Vec<PersonalPart>) {
    for part in parts {
        let Some((Step::Key(last), parents)) = part.path.split_last() else { continue };
        if let Some(Value::Object(map)) = walk(value, parents) {
            map.insert(last.clone(), part.value);
        }
    }
}

fn walk<'a>(value: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    steps.iter().try_fold(value, |at, step| match (step, at) {
        (Step::Key(k), Value::Object(map)) => map.get_mut(k),
        (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn personal_values_come_out_at_any_depth_and_go_back_exactly() {
        let original = json!({
            "reason": "no_touch",
            "friend": { "first_name": "Mara", "email": "mara@example.com" },
            "signup": { "customer_id": "c_mara", "email": "mara@example.com", "identity": { "card": "ab12" } },
            "touches": [{ "code": "K7M2QX", "token": "t0k3n" }, { "code": "K7M2QX" }],
            "referrer": { "first_name": null, "email": null },
        });
        let mut public = original.clone();
        let parts = split(&mut public);
        let text = public.to_string();
        for personal in ["Mara", "mara@example.com", "ab12", "t0k3n"] {
            assert!(!text.contains(personal), "{personal} left in {text}");
        }
        assert_eq!(public["reason"], "no_touch");
        assert_eq!(public["signup"]["customer_id"], "c_mara");
        assert_eq!(public["touches"][0]["code"], "K7M2QX");
        assert_eq!(public["referrer"], json!({ "first_name": null, "email": null }), "blank stays");
        assert_eq!(parts.len(), 4);
        let stored: Vec<PersonalPart> = serde_json::from_str(&serde_json::to_string(&parts).unwrap()).unwrap();
        restore(&mut public, stored);
        assert_eq!(public, original);
    }

    #[test]
    fn a_record_without_personal_values_splits_into_nothing() {
        let mut v = json!({ "reason": "paid", "amount_minor": 1000, "friend": { "email": null } });
        assert!(split(&mut v).is_empty());
    }
}
