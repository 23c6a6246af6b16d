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
    // Nearly every user agent is short printable ASCII: kept as it is, in one copy.
    if ua.len() <= MAX_USER_AGENT_CHARS && ua.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return ua.to_owned();
    }
    ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect()
}

/// Fragments most browsers' user agents are made of, each stored as one control character
/// (`\u{1}` for the first, ...): [`clip_user_agent`] removes control characters, so a packed
/// user agent reads back unambiguously. A typical one (a recent Chrome, Safari on an iPhone)
/// packs from 110-140 bytes to 25-40.
const USER_AGENT_FRAGMENTS: [&str; 31] = [
    "Mozilla/5.0 (",
    ") AppleWebKit/537.36 (KHTML, like Gecko) ",
    ") AppleWebKit/605.1.15 (KHTML, like Gecko) ",
    "Chrome/",
    " Safari/537.36",
    " Mobile Safari/537.36",
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    "iPhone; CPU iPhone OS ",
    " like Mac OS X",
    "Version/",
    " Mobile/15E148 Safari/604.1",
    " Mobile/15E148",
    "Linux; Android ",
    "X11; Linux x86_64",
    "; K",
    " Edg/",
    " Firefox/",
    "Gecko/20100101",
    "; rv:",
    ".0.0.0",
    "iPad; CPU OS ",
    "CriOS/",
    "FxiOS/",
    "SamsungBrowser/",
    " Safari/605.1.15",
    " Instagram ",
    "FBAN/",
    " OPR/",
    "Windows NT 10.0",
    ".0.0",
];

/// A user agent in its stored form (see [`USER_AGENT_FRAGMENTS`]); [`unpack_user_agent`] undoes
/// it exactly for any clipped user agent.
pub fn pack_user_agent(ua: &str) -> String {
    let mut out = Vec::with_capacity(ua.len() / 2);
    pack_user_agent_to(&mut out, ua);
    // Fragment numbers are ASCII control characters and the rest is copied whole: UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// [`pack_user_agent`], appending its UTF-8 bytes to `out`.
pub fn pack_user_agent_to(out: &mut Vec<u8>, ua: &str) {
    let bytes = ua.as_bytes();
    let mut i = 0;
    'next: while i < bytes.len() {
        // Longest match first: the list is short, and most positions fail on the first byte.
        let mut best: Option<(usize, usize)> = None;
        for (n, fragment) in USER_AGENT_FRAGMENTS.iter().enumerate() {
            if bytes[i..].starts_with(fragment.as_bytes()) && best.is_none_or(|(_, len)| fragment.len() > len) {
                best = Some((n, fragment.len()));
            }
        }
        if let Some((n, len)) = best {
            out.push(u8::try_from(n + 1).unwrap_or(0));
            i += len;
            continue 'next;
        }
        // Not a fragment: copy one character (whole, so the output stays UTF-8).
        let ch = ua[i..].chars().next().unwrap_or('\u{fffd}');
        out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
        i += ch.len_utf8();
    }
}

/// The user agent [`pack_user_agent`] packed.
pub fn unpack_user_agent(packed: &str) -> String {
    let mut out = String::with_capacity(packed.len() * 3);
    for ch in packed.chars() {
        match u32::from(ch) {
            n @ 1..=31 => out.push_str(USER_AGENT_FRAGMENTS[(n - 1) as usize]),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_pack_small_and_read_back_exactly() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1";
        for ua in [chrome, iphone, "curl/8.0", "", "Mozilla/5.0 (Linux; Android 10; K) ünïcode ✓", "Chrome/"] {
            let packed = pack_user_agent(ua);
            assert_eq!(unpack_user_agent(&packed), ua);
        }
        assert!(pack_user_agent(chrome).len() <= 12, "{:?}", pack_user_agent(chrome));
        assert!(pack_user_agent(iphone).len() <= 30, "{:?}", pack_user_agent(iphone));
    }

    #[test]
    fn channels_are_tidy_or_absent() {
        assert_eq!(parse_channel(" WhatsApp "), Some("whatsapp".into()));
        assert_eq!(parse_channel("a b"), None);
        assert_eq!(parse_channel(&"x".repeat(33)), None);
        assert_eq!(clip_user_agent("a\r\nb").as_str(), "ab");
    }
}
