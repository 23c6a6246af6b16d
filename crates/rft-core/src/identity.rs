//! Identity fields (payment fingerprint, device, address, IP, email) are compared, never kept:
//! each is normalised and stored only as a keyed hash (docs/invariants.md, invariant 10).

use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::email::Email;
use crate::ids::CustomerId;
use crate::secrets::SecretBytes;

/// Longest identity field accepted from the store.
pub const MAX_IDENTITY_FIELD_CHARS: usize = 512;

/// A keyed hash of one normalised identity field (32 hex characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityHash(String);

impl IdentityHash {
    /// The hash as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a hash read back from storage.
    pub fn from_stored(s: String) -> Self {
        IdentityHash(s)
    }
}

impl fmt::Display for IdentityHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which identity field a hash came from; part of the hashed input, so equal values in
/// different fields never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Card or wallet fingerprint from the payment provider.
    Payment,
    /// The store's device id.
    Device,
    /// Delivery address.
    Address,
    /// Network address of a browser or a sign-up.
    Ip,
    /// Email in its identity form.
    Email,
    /// A browser: its IP and user agent together (the optional fingerprint fallback).
    Browser,
}

impl Field {
    fn label(self) -> &'static str {
        match self {
            Field::Payment => "payment",
            Field::Device => "device",
            Field::Address => "address",
            Field::Ip => "ip",
            Field::Email => "email",
            Field::Browser => "browser",
        }
    }
}

/// Identity fields as the store sent them. Never stored or logged: hash them first.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IdentityFacts {
    /// Card or wallet fingerprint.
    pub payment_fingerprint: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
    /// Delivery address.
    pub address: Option<String>,
    /// IP address of the customer at sign-up or mint.
    pub ip: Option<String>,
    /// The browser's user agent at sign-up (with `ip`, it can match a click when the
    /// fingerprint fallback is on).
    pub user_agent: Option<String>,
}

impl fmt::Debug for IdentityFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately shows only which fields are present.
        f.debug_struct("IdentityFacts")
            .field("payment_fingerprint", &self.payment_fingerprint.is_some())
            .field("device_id", &self.device_id.is_some())
            .field("address", &self.address.is_some())
            .field("ip", &self.ip.is_some())
            .field("user_agent", &self.user_agent.is_some())
            .finish()
    }
}

/// Why identity facts were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identity.{field} must be at most {MAX_IDENTITY_FIELD_CHARS} characters")]
pub struct IdentityFieldError {
    /// The offending field's JSON name.
    pub field: &'static str,
}

impl IdentityFacts {
    /// Checks the size limits, naming the first field over them.
    pub fn validate(&self) -> Result<(), IdentityFieldError> {
        for (field, value) in [
            ("payment_fingerprint", &self.payment_fingerprint),
            ("device_id", &self.device_id),
            ("address", &self.address),
            ("ip", &self.ip),
            ("user_agent", &self.user_agent),
        ] {
            if value.as_deref().is_some_and(|v| v.chars().count() > MAX_IDENTITY_FIELD_CHARS) {
                return Err(IdentityFieldError { field });
            }
        }
        Ok(())
    }
}

/// A person's identity fields as keyed hashes: what the stores and the screen see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedIdentity {
    /// Hash of the payment fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<IdentityHash>,
    /// Hash of the device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<IdentityHash>,
    /// Hash of the normalised address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IdentityHash>,
    /// Hash of the IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IdentityHash>,
    /// Hash of the email's identity form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<IdentityHash>,
    /// Hash of IP and user agent together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<IdentityHash>,
}

impl HashedIdentity {
    /// Fields present on both sides with equal hashes.
    pub fn matches(&self, other: &HashedIdentity) -> Vec<Field> {
        let same = |a: &Option<IdentityHash>, b: &Option<IdentityHash>| matches!((a, b), (Some(x), Some(y)) if x == y);
        [
            (Field::Payment, same(&self.payment, &other.payment)),
            (Field::Device, same(&self.device, &other.device)),
            (Field::Address, same(&self.address, &other.address)),
            (Field::Email, same(&self.email, &other.email)),
            (Field::Ip, same(&self.ip, &other.ip)),
            (Field::Browser, same(&self.browser, &other.browser)),
        ]
        .into_iter()
        .filter_map(|(f, hit)| hit.then_some(f))
        .collect()
    }

    /// Fills fields this identity lacks from `newer` (a conversion may bring a card).
    pub fn merge(&mut self, newer: &HashedIdentity) {
        for (mine, theirs) in [
            (&mut self.payment, &newer.payment),
            (&mut self.device, &newer.device),
            (&mut self.address, &newer.address),
            (&mut self.ip, &newer.ip),
            (&mut self.email, &newer.email),
            (&mut self.browser, &newer.browser),
        ] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// One key under which a referred person is claimed: whoever holds any of these keys first
/// owns the referral, so a second sign-up sharing one collapses into it (docs/invariants.md, invariant 3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKey {
    /// The store's customer id.
    Customer(CustomerId),
    /// Hash of the normalised email.
    Email(IdentityHash),
    /// Hash of the payment fingerprint.
    Payment(IdentityHash),
    /// Hash of the device id.
    Device(IdentityHash),
}

impl IdentityKey {
    /// The storage key: a kind prefix and the value.
    pub fn storage_key(&self) -> String {
        match self {
            IdentityKey::Customer(c) => format!("customer#{}", c.as_str()),
            IdentityKey::Email(h) => format!("email#{}", h.as_str()),
            IdentityKey::Payment(h) => format!("payment#{}", h.as_str()),
            IdentityKey::Device(h) => format!("device#{}", h.as_str()),
        }
    }

    /// Whose sign-up a set of claims comes from: the customer id among them (stores file claims
    /// under it, so erasure finds them).
    pub fn claimant(claims: &[IdentityKey]) -> Option<&CustomerId> {
        claims.iter().find_map(|k| match k {
            IdentityKey::Customer(c) => Some(c),
            _ => None,
        })
    }

    /// Every claim key for a person: their customer id and each hashed durable field.
    pub fn all_for(customer: &CustomerId, identity: &HashedIdentity) -> Vec<IdentityKey> {
        let mut keys = vec![IdentityKey::Customer(customer.clone())];
        keys.extend(identity.email.clone().map(IdentityKey::Email));
        keys.extend(identity.payment.clone().map(IdentityKey::Payment));
        keys.extend(identity.device.clone().map(IdentityKey::Device));
        keys
    }
}

/// Hashes identity fields with the programme's identity key (HMAC-SHA256, truncated to 128
/// bits): stable across runs so claims match, useless to anyone without the key.
#[derive(Clone)]
pub struct IdentityHasher {
    /// HMAC keyed once: each hash clones this state instead of re-deriving the key's pads
    /// (a redirect hashes the IP on every click).
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for IdentityHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityHasher(..)")
    }
}

impl IdentityHasher {
    /// A hasher over the given key.
    pub fn new(key: SecretBytes) -> Self {
        IdentityHasher { keyed: Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes keys of any length") }
    }

    /// Hashes one field after normalising it; `None` for blank input.
    pub fn hash(&self, field: Field, raw: &str) -> Option<IdentityHash> {
        let normalised = normalise(field, raw)?;
        let mut mac = self.keyed.clone();
        mac.update(field.label().as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(IdentityHash(hex::encode(&digest[..16])))
    }

    /// Hashes everything known about a person.
    pub fn hash_all(&self, facts: &IdentityFacts, email: Option<&Email>) -> HashedIdentity {
        let h = |field, v: &Option<String>| v.as_deref().and_then(|v| self.hash(field, v));
        HashedIdentity {
            payment: h(Field::Payment, &facts.payment_fingerprint),
            device: h(Field::Device, &facts.device_id),
            address: h(Field::Address, &facts.address),
            ip: h(Field::Ip, &facts.ip),
            email: email.and_then(|e| self.hash(Field::Email, &e.identity())),
            browser: self.browser(facts.ip.as_deref(), facts.user_agent.as_deref()),
        }
    }

    /// The hash of a browser: its IP and user agent, both needed.
    pub fn browser(&self, ip: Option<&str>, user_agent: Option<&str>) -> Option<IdentityHash> {
        let ip = normalise(Field::Ip, ip?)?;
        let ua = crate::click::clip_user_agent(user_agent?.trim());
        if ua.is_empty() {
            return None;
        }
        self.hash(Field::Browser, &format!("{ip}\n{ua}"))
    }
}

/// Puts a field in the form two spellings of the same value share.
fn normalise(field: Field, raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match field {
        Field::Payment => trimmed.to_owned(),
        Field::Device => trimmed.to_ascii_lowercase(),
        Field::Email => trimmed.to_ascii_lowercase(),
        Field::Browser => trimmed.to_owned(),
        Field::Ip => match trimmed.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)).to_string(),
            Ok(ip) => ip.to_string(),
            Err(_) => trimmed.to_ascii_lowercase(),
        },
        Field::Address => {
            let lower = trimmed.to_lowercase();
            let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
            words.join(" ")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> IdentityHasher {
        IdentityHasher::new(SecretBytes::new(b"test-identity-key".to_vec()))
    }

    #[test]
    fn equal_after_normalising_means_equal_hash() {
        let h = hasher();
        assert_eq!(h.hash(Field::Address, "Flat 2, 10 Acacia Ave"), h.hash(Field::Address, " flat 2 10  ACACIA ave."));
        assert_eq!(h.hash(Field::Ip, "::ffff:192.0.2.1"), h.hash(Field::Ip, "192.0.2.1"));
        assert_eq!(h.hash(Field::Device, "ABC-1"), h.hash(Field::Device, "abc-1"));
        assert_eq!(h.hash(Field::Payment, "  "), None);
    }

    #[test]
    fn fields_and_keys_separate_hashes() {
        let h = hasher();
        assert_ne!(h.hash(Field::Payment, "x"), h.hash(Field::Device, "x"));
        let other = IdentityHasher::new(SecretBytes::new(b"another-key".to_vec()));
        assert_ne!(h.hash(Field::Payment, "x"), other.hash(Field::Payment, "x"));
        let hash = h.hash(Field::Payment, "card_123").unwrap();
        assert_eq!(hash.as_str().len(), 32);
        assert!(!hash.as_str().contains("card"));
    }

    #[test]
    fn matches_lists_shared_fields_only() {
        let h = hasher();
        let email = Email::parse("Dan+x@example.com").unwrap();
        let a = h.hash_all(
            &IdentityFacts {
                payment_fingerprint: Some("card".into()),
                device_id: Some("d1".into()),
                ..Default::default()
            },
            Some(&email),
        );
        let b = h.hash_all(
            &IdentityFacts {
                payment_fingerprint: Some("card".into()),
                device_id: Some("d2".into()),
                ..Default::default()
            },
            Some(&Email::parse("dan@example.com").unwrap()),
        );
        assert_eq!(a.matches(&b), vec![Field::Payment, Field::Email]);
    }

    #[test]
    fn debug_never_shows_raw_values() {
        let facts = IdentityFacts { payment_fingerprint: Some("card_secret".into()), ..Default::default() };
        assert!(!format!("{facts:?}").contains("card_secret"));
    }
}
