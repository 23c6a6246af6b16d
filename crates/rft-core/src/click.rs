//! Clicks and the other touches a sign-up can be attributed to.

use serde::{Deserialize, Serialize};

use crate::code::Code;
use crate::identity::IdentityHash;
use crate::ids::Token;
use crate::time::Timestamp;

/// What a stored touch is filed under: the browser's attribution token (a click), or the
/// hashed identity form of an email a referrer invited (the email bridge).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKey {
    /// Clicks by one browser.
    Token(Token),
    /// Email invites to one address.
    Email(IdentityHash),
}

impl TouchKey {
    /// The `rft-clicks` partition key: the token itself, or `email#<hash>`.
    pub fn attribution_id(&self) -> String {
        match self {
            TouchKey::Token(t) => t.as_str().to_owned(),
            TouchKey::Email(h) => format!("email#{}", h.as_str()),
        }
    }
}

/// Longest user agent kept on a click.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Longest channel name kept (`?ch=whatsapp`).
pub const MAX_CHANNEL_CHARS: usize = 32;

/// One logged touch: a click on a referral link, or an email invite. Lives for the code's
/// window, then is invisible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    /// The visitor's token (the `rft` cookie), or the invited email's hash.
    pub key: TouchKey,
    /// When the click happened.
    pub at: Timestamp,
    /// The code clicked.
    pub code: Code,
    /// Keyed hash of the visitor's IP.
    pub ip_hash: Option<IdentityHash>,
    /// The browser's user agent, truncated.
    pub user_agent: Option<String>,
    /// Where the link was shared (`?ch=`), normalised.
    pub channel: Option<String>,
    /// Keyed hash of IP and user agent together, for the optional fingerprint fallback.
    #[serde(default)]
    pub browser: Option<IdentityHash>,
    /// After this the click no longer attributes.
    pub expires_at: Timestamp,
}

/// Normalises a `?ch=` value: lower-case letters, digits, `-` and `_`, at most 32; else none.
pub fn parse_channel(raw: &str) -> Option<String> {
    let c = raw.trim().to_ascii_lowercase();
    let ok = !c.is_empty()
        && c.len() <= MAX_CHANNEL_CHARS
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(c)
}

/// Truncates a user agent to what is worth keeping.
pub fn clip_user_agent(ua: &str) -> String {
    ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_tidy_or_absent() {
        assert_eq!(parse_channel(" WhatsApp "), Some("whatsapp".into()));
        assert_eq!(parse_channel("a b"), None);
        assert_eq!(parse_channel(&"x".repeat(33)), None);
        assert_eq!(clip_user_agent("a\r\nb").as_str(), "ab");
    }
}
