//! Email addresses, and the identity form that makes `Mara.Jones+box@googlemail.com` and
//! `marajones@gmail.com` one person.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid address, trimmed, with its domain lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not a usable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an email address like name@example.com")]
pub struct EmailError;

/// Longest address SMTP allows.
const MAX_LEN: usize = 254;

impl Email {
    /// Parses an address. Deliberately strict (ASCII, one `@`, a dotted domain): a referral
    /// programme would rather refuse an odd address than mail the wrong one.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.len() > MAX_LEN || !s.is_ascii() {
            return Err(EmailError);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if local_ok && domain_ok { Ok(Email(format!("{local}@{domain}"))) } else { Err(EmailError) }
    }

    /// The address to send mail to.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased domain, for disposable-domain checks.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The form used to recognise one person behind many spellings: lower-case, `+tag`
    /// removed, and for Gmail (which ignores dots and has two domains) dots removed and the
    /// domain unified.
    pub fn identity(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let mut local = local.to_ascii_lowercase();
        if let Some(plus) = local.find('+') {
            local.truncate(plus);
        }
        let domain = match domain {
            "googlemail.com" | "gmail.com" => {
                local.retain(|c| c != '.');
                "gmail.com"
            }
            other => other,
        };
        format!("{local}@{domain}")
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> String {
        Email::parse(s).unwrap().identity()
    }

    #[test]
    fn identity_folds_case_tags_and_gmail_dots() {
        assert_eq!(id("Mara.Jones+box@GoogleMail.com"), "marajones@gmail.com");
        assert_eq!(id("marajones@gmail.com"), "marajones@gmail.com");
        assert_eq!(id("Mara.Jones+box@Example.co.uk"), "mara.jones@example.co.uk");
        assert_eq!(id("  dan@example.com "), "dan@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "dan",
            "dan@",
            "@example.com",
            "dan@example",
            "dan@@example.com",
            "dan@exa mple.com",
            "dan..x@example.com",
            "dän@example.com",
            "dan@-example.com",
            "dan\r\n@example.com",
            "a\"b@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn identity_is_idempotent(local in "[a-zA-Z0-9.+_-]{1,20}", gmail in any::<bool>()) {
            let domain = if gmail { "googlemail.com" } else { "example.org" };
            if let Ok(e) = Email::parse(&format!("{local}@{domain}")) {
                let once = e.identity();
                if let Ok(again) = Email::parse(&once) {
                    prop_assert_eq!(again.identity(), once);
                }
            }
        }
    }
}
