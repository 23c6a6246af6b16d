//! Who is signed in to the console, and proof that a change comes from their own page.
//!
//! Three tokens, each an HMAC with the ops secret over what it is for (`rft_core::links`), so
//! none can stand in for another:
//!
//! - the sign-in link: `<email>.<nonce>.<exp>.<sig>`, 15 minutes; the nonce is remembered in the
//!   store when the link is used, so it works once across every Lambda instance;
//! - the session cookie, the same shape with a session id, 12 hours. It is stateless: each
//!   request checks the signature, the expiry and that the address is still in the team's
//!   settings, with no store read, so a console page costs the edge nothing extra and needs
//!   no session table. The price is that a session cannot be ended early one by one: removing
//!   the address from `team.email`/`team.members` ends it at once, and rotating the ops secret
//!   ends every session (docs/operations.md);
//! - the CSRF token: an HMAC over the session id, sent by the page in `x-csrf-token` (or a
//!   `csrf` form field) with every change. A cross-site page cannot read it, and the cookie is
//!   `SameSite=Strict` besides.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use rft_core::links::{LinkError, LinkPurpose, LinkSigner};
use rft_core::{Email, Settings, Timestamp};

/// The session cookie's name.
pub const COOKIE: &str = "rft_console";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a sign-in link works.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);
/// The header a page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in team member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Their address, as the settings spell it.
    pub email: Email,
    /// This sign-in's id.
    pub id: String,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this system signed, or not for this.
    #[error("not valid")]
    Forged,
    /// Past its time.
    #[error("expired")]
    Expired,
    /// Genuine, but the address is no longer on the team.
    #[error("not on the team")]
    NotOnTeam,
}

impl From<LinkError> for TokenError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Expired => TokenError::Expired,
            LinkError::Forged => TokenError::Forged,
        }
    }
}

/// The four parts of a token: the address, an id, the expiry and the signature.
struct Parts {
    email: String,
    id: String,
    exp: String,
    sig: String,
}

fn seal(signer: &LinkSigner, purpose: LinkPurpose, email: &str, id: &str, exp: Timestamp) -> String {
    let signed = signer.sign(&purpose, exp);
    format!("{}.{id}.{}.{}", URL_SAFE_NO_PAD.encode(email), signed.exp, signed.sig)
}

fn split(token: &str) -> Option<Parts> {
    let mut it = token.trim().split('.');
    let (email, id, exp, sig) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let email = String::from_utf8(URL_SAFE_NO_PAD.decode(email).ok()?).ok()?;
    Some(Parts { email, id: id.to_owned(), exp: exp.to_owned(), sig: sig.to_owned() })
}

/// The team member a genuine token's address names.
fn member(settings: &Settings, email: &str) -> Result<Email, TokenError> {
    settings.team.member(email).cloned().ok_or(TokenError::NotOnTeam)
}

/// A sign-in link's token for `email`, with a fresh nonce.
pub fn sign_in_token(signer: &LinkSigner, email: &Email, now: Timestamp) -> String {
    let nonce = rft_core::ids::random_base32();
    let purpose = LinkPurpose::ConsoleSignIn { email: email.to_string(), nonce: nonce.clone() };
    seal(signer, purpose, email.as_str(), &nonce, now.plus(LINK_TTL))
}

/// Checks a sign-in token: the member it is for and its nonce (not yet checked for reuse).
pub fn open_sign_in(
    signer: &LinkSigner,
    settings: &Settings,
    token: &str,
    now: Timestamp,
) -> Result<(Email, String, Timestamp), TokenError> {
    let p = split(token).ok_or(TokenError::Forged)?;
    let purpose = LinkPurpose::ConsoleSignIn { email: p.email.clone(), nonce: p.id.clone() };
    signer.verify(&purpose, &p.exp, &p.sig, now)?;
    let exp = Timestamp::from_secs(p.exp.trim().parse().map_err(|_| TokenError::Forged)?);
    Ok((member(settings, &p.email)?, p.id, exp))
}

/// A new session for `email`: the cookie's value and the session.
pub fn new_session(signer: &LinkSigner, email: &Email, now: Timestamp) -> (String, Session) {
    let id = rft_core::ids::random_base32();
    let expires_at = now.plus(SESSION_TTL);
    let purpose = LinkPurpose::ConsoleSession { email: email.to_string(), session: id.clone() };
    let value = seal(signer, purpose, email.as_str(), &id, expires_at);
    (value, Session { email: email.clone(), id, expires_at: Timestamp::from_secs(expires_at.as_secs()) })
}

/// The session a request's cookie proves, if any.
pub fn session_of(signer: &LinkSigner, settings: &Settings, headers: &HeaderMap, now: Timestamp) -> Option<Session> {
    let value = cookie(headers, COOKIE)?;
    let p = split(&value)?;
    let purpose = LinkPurpose::ConsoleSession { email: p.email.clone(), session: p.id.clone() };
    signer.verify(&purpose, &p.exp, &p.sig, now).ok()?;
    let expires_at = Timestamp::from_secs(p.exp.trim().parse().ok()?);
    Some(Session { email: member(settings, &p.email).ok()?, id: p.id, expires_at })
}

/// The CSRF token of a session.
pub fn csrf_token(signer: &LinkSigner, session: &Session) -> String {
    signer.sign(&LinkPurpose::ConsoleCsrf { session: session.id.clone() }, session.expires_at).sig
}

/// Whether `token` is the session's CSRF token (compared in constant time, by the HMAC).
pub fn csrf_ok(signer: &LinkSigner, session: &Session, token: &str, now: Timestamp) -> bool {
    let exp = session.expires_at.as_secs().to_string();
    signer.verify(&LinkPurpose::ConsoleCsrf { session: session.id.clone() }, &exp, token, now).is_ok()
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for a new session: `HttpOnly; Secure; SameSite=Strict`, 12 hours, the console
/// only.
pub fn set_cookie(value: &str) -> HeaderValue {
    let text =
        format!("{COOKIE}={value}; Path=/admin; Max-Age={}; HttpOnly; Secure; SameSite=Strict", SESSION_TTL.as_secs());
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("rft_console=; Path=/admin"))
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("rft_console=; Path=/admin; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// Whether a request comes from anywhere but the console's own pages. Browsers say where a
/// request comes from in `Sec-Fetch-Site`: only `same-origin` (and `none`, typed or bookmarked)
/// pass. Without it (older browsers), `Origin` must name the host the request was sent to.
/// (`Origin` alone cannot decide: pages served with `Referrer-Policy: no-referrer` make the
/// browser send `Origin: null` with their own forms.)
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => url::Url::parse(origin).ok().is_none_or(|u| {
            let authority = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => String::new(),
            };
            !authority.eq_ignore_ascii_case(host)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rft_core::secrets::SecretBytes;

    fn signer() -> LinkSigner {
        LinkSigner::new(SecretBytes::new(b"ops-secret-for-tests".to_vec()))
    }

    fn settings() -> Settings {
        Settings::parse(include_str!("../../../../settings.example.toml")).unwrap()
    }

    #[test]
    fn a_sign_in_token_opens_only_for_its_member_and_time() {
        let (s, set) = (signer(), settings());
        let now = Timestamp::from_secs(1_000_000);
        let email = set.team.email.clone();
        let token = sign_in_token(&s, &email, now);
        let (who, nonce, _) = open_sign_in(&s, &set, &token, now).unwrap();
        assert_eq!((who, nonce.len()), (email.clone(), 26));
        assert_eq!(
            open_sign_in(&s, &set, &token, now.plus(LINK_TTL).plus(Duration::from_secs(1))),
            Err(TokenError::Expired)
        );
        let stranger = LinkSigner::new(SecretBytes::new(b"another".to_vec()));
        assert_eq!(open_sign_in(&stranger, &set, &token, now), Err(TokenError::Forged));
        let swapped = token.replacen(&URL_SAFE_NO_PAD.encode(email.as_str()), &URL_SAFE_NO_PAD.encode("a@b.co"), 1);
        assert_eq!(open_sign_in(&s, &set, &swapped, now), Err(TokenError::Forged));
        assert_eq!(open_sign_in(&s, &set, "garbage", now), Err(TokenError::Forged));
        let (cookie, _) = new_session(&s, &email, now);
        assert_eq!(open_sign_in(&s, &set, &cookie, now), Err(TokenError::Forged), "a session is not a sign-in link");
        let outsider = Email::parse("someone@example.com").unwrap();
        assert_eq!(open_sign_in(&s, &set, &sign_in_token(&s, &outsider, now), now), Err(TokenError::NotOnTeam));
    }

    #[test]
    fn a_session_cookie_and_its_csrf_token() {
        let (s, set) = (signer(), settings());
        let now = Timestamp::from_secs(1_000_000);
        let (value, session) = new_session(&s, &set.team.email, now);
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {COOKIE}={value}").parse().unwrap());
        assert_eq!(session_of(&s, &set, &headers, now), Some(session.clone()));
        assert_eq!(session_of(&s, &set, &headers, now.plus(SESSION_TTL).plus(Duration::from_secs(1))), None);
        let token = csrf_token(&s, &session);
        assert!(csrf_ok(&s, &session, &token, now));
        let (_, other) = new_session(&s, &set.team.email, now);
        assert!(!csrf_ok(&s, &other, &token, now), "a token is for its own session");
        assert!(!csrf_ok(&s, &session, "", now));
        let link = sign_in_token(&s, &set.team.email, now);
        headers.insert(header::COOKIE, format!("{COOKIE}={link}").parse().unwrap());
        assert_eq!(session_of(&s, &set, &headers, now), None, "a sign-in link is not a session");
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "refer.freshbox.uk".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "https://refer.freshbox.uk".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(cross_site(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(cross_site(&h));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(cross_site(&h), "another subdomain is another site's page");
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!cross_site(&h), "a no-referrer page's own form");
    }
}
