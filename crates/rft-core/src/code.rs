//! Referral codes: short, unambiguous, claimed once, owned by exactly one referrer.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::identity::HashedIdentity;
use crate::ids::CustomerId;
use crate::money::Terms;
use crate::time::Timestamp;

/// The code alphabet: digits and capitals without the look-alikes 0/O and 1/I/L.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// How many characters a code has.
pub const CODE_LEN: usize = 6;

/// A referral code: six characters from [`ALPHABET`], stored upper-case.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

/// Why a string is not a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not exactly six characters after trimming.
    #[error("a code has exactly 6 characters")]
    Length,
    /// A character outside the alphabet (0, O, 1, I, L, punctuation, ...).
    #[error("a code uses only the characters 23456789ABCDEFGHJKMNPQRSTUVWXYZ")]
    Alphabet,
}

impl Code {
    /// Parses user input: trimmed, case-insensitive.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let trimmed = input.trim();
        // Count chars, not bytes, so multi-byte input gets the right message.
        if trimmed.chars().count() != CODE_LEN {
            return Err(CodeError::Length);
        }
        let upper = trimmed.to_ascii_uppercase();
        if !upper.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(CodeError::Alphabet);
        }
        Ok(Code(upper))
    }

    /// Draws a random code; uniqueness is the store's job (a conditional claim).
    pub fn generate(rng: &mut impl Rng) -> Self {
        let s = (0..CODE_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
        Code(s)
    }

    /// The code as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Code::parse(&s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a code still attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    /// Live: clicks are logged and sign-ups attributed.
    Active,
    /// Kept for the record, never attributes again.
    Retired,
}

impl CodeStatus {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Active => "active",
            CodeStatus::Retired => "retired",
        }
    }
}

/// What the programme knows about a referrer, captured at mint for the screen and the notes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferrerProfile {
    /// For thank-you notes.
    pub first_name: Option<String>,
    /// Where thank-you notes go (the email as given, not its identity form).
    pub email: Option<crate::email::Email>,
    /// For an SMS thank-you when there is no email.
    #[serde(default)]
    pub phone: Option<crate::ids::Phone>,
    /// Keyed hashes of the referrer's identity fields, compared by the screen.
    pub identity: HashedIdentity,
}

/// A claimed code with its owner and the terms pinned at mint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The code itself.
    pub code: Code,
    /// The one customer this code credits.
    pub referrer_id: CustomerId,
    /// Active or retired.
    pub status: CodeStatus,
    /// The terms in force when the code was minted; later settings never change them.
    pub terms: Terms,
    /// The referrer's contact and hashed identity (absent, read as erased, in a stored copy
    /// whose sealing key erasure destroyed).
    #[serde(default)]
    pub referrer: ReferrerProfile,
    /// The invite text written at mint (it names the referrer: absent like the profile).
    #[serde(default)]
    pub invite: String,
    /// When it was claimed.
    pub created_at: Timestamp,
    /// When it was retired, if it was.
    pub retired_at: Option<Timestamp>,
    /// Set when a velocity rule tripped on this code: its referrals wait for a person until
    /// the flag is cleared or the code retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<CodeFlag>,
}

/// Why a code is flagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFlag {
    /// The velocity rules that tripped, with their numbers.
    pub evidence: Vec<crate::referral::Evidence>,
    /// When it was flagged.
    pub at: Timestamp,
}

impl CodeRecord {
    /// Whether this code may still attribute.
    pub fn is_active(&self) -> bool {
        self.status == CodeStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_is_trimmed_and_case_insensitive() {
        assert_eq!(Code::parse(" 7qk2a9 ").unwrap().as_str(), "7QK2A9");
    }

    #[test]
    fn look_alikes_and_wrong_lengths_are_refused() {
        for bad in ["7QK2A0", "7QK2AO", "7QK2A1", "7QK2AI", "7QK2AL", "7QK2A/", "Ü7QK2A"] {
            assert_eq!(Code::parse(bad), Err(CodeError::Alphabet), "{bad}");
        }
        for bad in ["", "7QK2A", "7QK2A9X", "7QK 2A9"] {
            assert!(Code::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Code::parse("7QK2A"), Err(CodeError::Length));
    }

    proptest! {
        #[test]
        fn generated_codes_parse_back(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = Code::generate(&mut rng);
            prop_assert_eq!(Code::parse(&code.as_str().to_lowercase()).unwrap(), code);
        }

        #[test]
        fn parse_never_panics_and_accepts_only_the_alphabet(s in "\\PC{0,10}") {
            if let Ok(code) = Code::parse(&s) {
                prop_assert_eq!(code.as_str().len(), CODE_LEN);
                prop_assert!(code.as_str().bytes().all(|b| ALPHABET.contains(&b)));
            }
        }
    }
}
