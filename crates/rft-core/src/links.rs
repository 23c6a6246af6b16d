//! Signed, expiring links for people: ops decisions, the ops queue and the referrer's page.
//! Each signature covers what the link is for, whom it is about and when it expires, so a
//! link for one referral or action is worthless for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::{CustomerId, ReferralId};
use crate::secrets::SecretBytes;
use crate::time::Timestamp;

/// An ops decision on a held or flagged referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Release: pay if converted, else back to pending.
    Approve,
    /// Final: never pays.
    Reject,
}

impl Action {
    /// The URL and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
        }
    }

    /// Parses the URL segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Action::Approve),
            "reject" => Some(Action::Reject),
            _ => None,
        }
    }
}

/// A person's action on a flagged code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeAction {
    /// The flag was a false alarm: its referrals go back to pending (or pay, if converted).
    Clear,
    /// The code stops attributing; its held referrals wait for their own decisions.
    Retire,
}

impl CodeAction {
    /// The URL and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeAction::Clear => "clear",
            CodeAction::Retire => "retire",
        }
    }

    /// Parses the URL segment.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "clear" => Some(CodeAction::Clear),
            "retire" => Some(CodeAction::Retire),
            _ => None,
        }
    }
}

/// What a link grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Decide one referral one way.
    Decide(ReferralId, Action),
    /// See the ops queue.
    Queue,
    /// A referrer's own page.
    Portal(CustomerId),
    /// Act on one flagged code one way.
    Code(crate::code::Code, CodeAction),
    /// A single-use sign-in link to the owner's console for a team address; `nonce` is what
    /// the store remembers once it is used.
    ConsoleSignIn {
        /// The team address, as the settings spell it.
        email: String,
        /// Random, unique per link.
        nonce: String,
    },
    /// A console session (the cookie).
    ConsoleSession {
        /// Who is signed in.
        email: String,
        /// Random, unique per sign-in.
        session: String,
    },
    /// The CSRF token of a console session: only a page of that session knows it.
    ConsoleCsrf {
        /// The session's id.
        session: String,
    },
}

impl LinkPurpose {
    fn signed_content(&self, exp: i64) -> String {
        match self {
            LinkPurpose::Decide(id, action) => format!("rft-link.v1\ndecide\n{id}\n{}\n{exp}", action.as_str()),
            LinkPurpose::Queue => format!("rft-link.v1\nqueue\n\n\n{exp}"),
            LinkPurpose::Portal(c) => format!("rft-link.v1\nportal\n{}\n\n{exp}", c.as_str()),
            LinkPurpose::Code(code, action) => format!("rft-link.v1\ncode\n{code}\n{}\n{exp}", action.as_str()),
            // Email addresses and the base32 nonces never hold a newline, so the lines cannot
            // be shifted into one another.
            LinkPurpose::ConsoleSignIn { email, nonce } => {
                format!("rft-link.v1\nconsole-sign-in\n{email}\n{nonce}\n{exp}")
            }
            LinkPurpose::ConsoleSession { email, session } => {
                format!("rft-link.v1\nconsole-session\n{email}\n{session}\n{exp}")
            }
            LinkPurpose::ConsoleCsrf { session } => format!("rft-link.v1\nconsole-csrf\n{session}\n\n{exp}"),
        }
    }
}

/// Why a link was refused: both are a 403 page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Past its expiry.
    #[error("this link has expired")]
    Expired,
    /// The signature does not match what the link claims.
    #[error("this link is not valid")]
    Forged,
}

/// The query parameters of a signed link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedLink {
    /// Unix seconds after which the link is dead.
    pub exp: i64,
    /// URL-safe base64 HMAC.
    pub sig: String,
}

/// Signs and verifies people's links with the ops secret.
#[derive(Clone, Debug)]
pub struct LinkSigner {
    key: SecretBytes,
}

impl LinkSigner {
    /// A signer over the ops secret.
    pub fn new(key: SecretBytes) -> Self {
        LinkSigner { key }
    }

    fn mac(&self, purpose: &LinkPurpose, exp: i64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose()).expect("hmac takes any key length");
        mac.update(purpose.signed_content(exp).as_bytes());
        mac
    }

    /// Signs a link that expires at `exp`.
    pub fn sign(&self, purpose: &LinkPurpose, exp: Timestamp) -> SignedLink {
        let exp = exp.as_secs();
        let sig = URL_SAFE_NO_PAD.encode(self.mac(purpose, exp).finalize().into_bytes());
        SignedLink { exp, sig }
    }

    /// Checks a link's `exp` and `sig` (as they arrived in the query) for `purpose` at `now`.
    pub fn verify(&self, purpose: &LinkPurpose, exp: &str, sig: &str, now: Timestamp) -> Result<(), LinkError> {
        let exp: i64 = exp.trim().parse().map_err(|_| LinkError::Forged)?;
        let sig = URL_SAFE_NO_PAD.decode(sig.trim()).map_err(|_| LinkError::Forged)?;
        // Check the signature first so an attacker cannot learn anything from "expired".
        self.mac(purpose, exp).verify_slice(&sig).map_err(|_| LinkError::Forged)?;
        if now.as_secs() > exp {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// The query string `exp=..&sig=..` for a link.
    pub fn query(&self, purpose: &LinkPurpose, exp: Timestamp) -> String {
        let l = self.sign(purpose, exp);
        format!("exp={}&sig={}", l.exp, l.sig)
    }
}

/// The landing URL a live code's visitor is sent to: the programme's landing URL with its own
/// query kept and `rft=<token>&utm_source=referral&utm_medium=referral&utm_campaign=<CODE>`
/// added. Built only from settings, never from the request, so it cannot be an open redirect.
pub fn landing_url(landing: &url::Url, token: &crate::ids::Token, code: &crate::code::Code) -> url::Url {
    let mut location = landing.clone();
    location
        .query_pairs_mut()
        .append_pair("rft", token.as_str())
        .append_pair("utm_source", "referral")
        .append_pair("utm_medium", "referral")
        .append_pair("utm_campaign", code.as_str());
    location
}

/// The full URL of an ops decision link, valid until `exp`.
pub fn decision_url(
    base_url: &str,
    signer: &LinkSigner,
    referral: &ReferralId,
    action: Action,
    exp: Timestamp,
) -> String {
    let query = signer.query(&LinkPurpose::Decide(referral.clone(), action), exp);
    format!("{}/ops/referrals/{referral}/{}?{query}", base_url.trim_end_matches('/'), action.as_str())
}

/// The full URL of an action on a flagged code, valid until `exp`.
pub fn code_action_url(
    base_url: &str,
    signer: &LinkSigner,
    code: &crate::code::Code,
    action: CodeAction,
    exp: Timestamp,
) -> String {
    let query = signer.query(&LinkPurpose::Code(code.clone(), action), exp);
    format!("{}/ops/codes/{code}/{}?{query}", base_url.trim_end_matches('/'), action.as_str())
}

/// The full URL of the ops queue page, valid until `exp`: in every email to the team, so the
/// queue is one click away wherever the programme runs.
pub fn queue_url(base_url: &str, signer: &LinkSigner, exp: Timestamp) -> String {
    format!("{}/ops?{}", base_url.trim_end_matches('/'), signer.query(&LinkPurpose::Queue, exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LinkSigner {
        LinkSigner::new(SecretBytes::new(b"ops-secret-for-tests".to_vec()))
    }

    #[test]
    fn a_link_works_only_for_its_referral_action_and_time() {
        let s = signer();
        let id = ReferralId::generate();
        let approve = LinkPurpose::Decide(id.clone(), Action::Approve);
        let exp = Timestamp::from_secs(1_000);
        let link = s.sign(&approve, exp);
        let exp_s = link.exp.to_string();
        let now = Timestamp::from_secs(999);
        assert_eq!(s.verify(&approve, &exp_s, &link.sig, now), Ok(()));
        assert_eq!(s.verify(&approve, &exp_s, &link.sig, Timestamp::from_secs(1_001)), Err(LinkError::Expired));
        let reject = LinkPurpose::Decide(id, Action::Reject);
        assert_eq!(s.verify(&reject, &exp_s, &link.sig, now), Err(LinkError::Forged));
        let other = LinkPurpose::Decide(ReferralId::generate(), Action::Approve);
        assert_eq!(s.verify(&other, &exp_s, &link.sig, now), Err(LinkError::Forged));
        assert_eq!(s.verify(&approve, "2000", &link.sig, now), Err(LinkError::Forged));
        assert_eq!(s.verify(&approve, &exp_s, &link.sig[..10], now), Err(LinkError::Forged));
        assert_eq!(s.verify(&LinkPurpose::Queue, &exp_s, &link.sig, now), Err(LinkError::Forged));
        let stranger = LinkSigner::new(SecretBytes::new(b"someone-else".to_vec()));
        assert_eq!(stranger.verify(&approve, &exp_s, &link.sig, now), Err(LinkError::Forged));
    }
}
