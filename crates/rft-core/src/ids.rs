//! Identifiers: the store's customer ids, our referral ids and attribution tokens.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Longest customer id the store may send.
pub const MAX_CUSTOMER_ID_CHARS: usize = 128;

/// The store's id for a customer: 1 to 128 printable characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CustomerId(String);

/// Why a string is not a customer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerIdError {
    /// Empty, or more than 128 characters.
    #[error("must be 1 to 128 characters")]
    Length,
    /// Control characters or surrounding whitespace.
    #[error("must be printable characters without surrounding spaces")]
    Unprintable,
}

impl CustomerId {
    /// Parses the store's id; it is kept exactly as sent.
    pub fn parse(s: &str) -> Result<Self, CustomerIdError> {
        let n = s.chars().count();
        if n == 0 || n > MAX_CUSTOMER_ID_CHARS {
            return Err(CustomerIdError::Length);
        }
        if s.chars().any(char::is_control) || s.trim() != s {
            return Err(CustomerIdError::Unprintable);
        }
        Ok(CustomerId(s.to_owned()))
    }

    /// The id as the store sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CustomerId {
    type Error = CustomerIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CustomerId::parse(&s)
    }
}

impl From<CustomerId> for String {
    fn from(c: CustomerId) -> String {
        c.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Crockford's base32, lower-case: no i, l, o, u, so ids survive being read aloud.
const BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 128 random bits as 26 base32 characters.
pub fn random_base32() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base32(bytes)
}

/// 128 bits as 26 base32 characters.
fn base32(bytes: [u8; 16]) -> String {
    let mut n = u128::from_be_bytes(bytes);
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = BASE32[(n & 31) as usize];
        n >>= 5;
    }
    // All bytes come from BASE32, which is ASCII.
    String::from_utf8_lossy(&out).into_owned()
}

/// Our id for a referral (one per referred person): `rf_` and 26 base32 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReferralId(String);

/// Why a string is not a referral id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a referral id looks like rf_ followed by 26 letters and digits")]
pub struct ReferralIdError;

impl ReferralId {
    /// A fresh random id.
    pub fn generate() -> Self {
        ReferralId(format!("rf_{}", random_base32()))
    }

    /// Parses an id from a URL or a stored item.
    pub fn parse(s: &str) -> Result<Self, ReferralIdError> {
        let body = s.strip_prefix("rf_").ok_or(ReferralIdError)?;
        if body.len() == 26 && body.bytes().all(|b| BASE32.contains(&b)) {
            Ok(ReferralId(s.to_owned()))
        } else {
            Err(ReferralIdError)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReferralId {
    type Error = ReferralIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ReferralId::parse(&s)
    }
}

impl From<ReferralId> for String {
    fn from(c: ReferralId) -> String {
        c.0
    }
}

impl fmt::Display for ReferralId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The attribution token set in the `rft` cookie and URL: 26 base32 characters.
/// Parsed strictly because it arrives from browsers and is echoed into headers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Token(String);

/// Why a string is not an attribution token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 26 letters and digits, as set by the rft cookie")]
pub struct TokenError;

impl Token {
    /// A fresh random token.
    pub fn generate() -> Self {
        Token(random_base32())
    }

    /// Parses a token from a cookie, a URL or a webhook (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, TokenError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.len() == 26 && lower.bytes().all(|b| BASE32.contains(&b)) { Ok(Token(lower)) } else { Err(TokenError) }
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A one-way digest of the token, shaped like one: the key a store files a token's clicks
    /// under, so that a copy of them (a backup) cannot be joined to a visitor or a referral by
    /// anyone who does not hold the token itself.
    pub fn digest(&self) -> Token {
        use sha2::{Digest, Sha256};
        let hash = Sha256::new().chain_update(b"rft-token-rows\0").chain_update(self.0.as_bytes()).finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        Token(base32(bytes))
    }
}

impl TryFrom<String> for Token {
    type Error = TokenError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Token::parse(&s)
    }
}

impl From<Token> for String {
    fn from(c: Token) -> String {
        c.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_bounded_and_printable() {
        assert!(CustomerId::parse("c_123").is_ok());
        assert!(CustomerId::parse(&"x".repeat(128)).is_ok());
        assert_eq!(CustomerId::parse(""), Err(CustomerIdError::Length));
        assert_eq!(CustomerId::parse(&"x".repeat(129)), Err(CustomerIdError::Length));
        assert_eq!(CustomerId::parse("a\nb"), Err(CustomerIdError::Unprintable));
        assert_eq!(CustomerId::parse(" a"), Err(CustomerIdError::Unprintable));
    }

    #[test]
    fn generated_ids_round_trip_and_differ() {
        let a = ReferralId::generate();
        assert_eq!(ReferralId::parse(a.as_str()).unwrap(), a);
        assert_ne!(a, ReferralId::generate());
        let t = Token::generate();
        assert_eq!(Token::parse(&t.as_str().to_uppercase()).unwrap(), t);
        assert!(Token::parse("abc\r\nSet-Cookie: x=1").is_err());
        assert!(ReferralId::parse("rf_../../etc").is_err());
    }
}

/// A short human string from the store: a first name, an order id. Printable, trimmed,
/// 1 to `MAX` characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortText<const MAX: usize>(String);

/// Why a string is not acceptable short text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to {max} printable characters")]
pub struct ShortTextError {
    /// The limit.
    pub max: usize,
}

impl<const MAX: usize> ShortText<MAX> {
    /// Parses, trimming surrounding spaces.
    pub fn parse(s: &str) -> Result<Self, ShortTextError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > MAX || t.chars().any(char::is_control) {
            return Err(ShortTextError { max: MAX });
        }
        Ok(ShortText(t.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<String> for ShortText<MAX> {
    type Error = ShortTextError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ShortText::parse(&s)
    }
}

impl<const MAX: usize> From<ShortText<MAX>> for String {
    fn from(t: ShortText<MAX>) -> String {
        t.0
    }
}

impl<const MAX: usize> fmt::Display for ShortText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's first name (at most 100 characters).
pub type FirstName = ShortText<100>;

/// The store's order id (at most 128 characters).
pub type OrderId = ShortText<128>;

/// A mobile number in E.164 form (`+447700900123`), for SMS when no email is known.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a string is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a phone number in E.164 form such as +447700900123")]
pub struct PhoneError;

impl Phone {
    /// Parses `+` and 8 to 15 digits (spaces and dashes ignored).
    pub fn parse(s: &str) -> Result<Self, PhoneError> {
        let compact: String = s.trim().chars().filter(|c| *c != ' ' && *c != '-').collect();
        let digits = compact.strip_prefix('+').ok_or(PhoneError)?;
        let ok =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        ok.then(|| Phone(compact.clone())).ok_or(PhoneError)
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

#[cfg(test)]
mod phone_tests {
    use super::*;

    #[test]
    fn e164_only() {
        assert_eq!(Phone::parse("+44 7700 900123").unwrap().as_str(), "+447700900123");
        for bad in ["07700900123", "+44", "+44abc12345", "+0123456789"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
