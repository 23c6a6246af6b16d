//! One click as the log stores it: a binary record of about 80 bytes.
//!
//! ```text
//! crc32 (4, over the rest) | body length (2) | flags (1) | key (17 for a token, 17 for an
//! email hash) | code (4, its number) | time (zigzag varint, ms) | window (zigzag varint, ms) |
//! [ip hash (17)] [user agent (2 length + packed)] [channel (1 length + bytes)]
//! [browser hash (17)] | previous record of the same key (varint, bytes back; 0 = none) |
//! [previous record of the same browser (varint)]
//! ```
//!
//! The body up to the back pointers is encoded on the request's thread ([`body`]); the writer
//! adds the pointers and the header ([`seal_into`]).
//!
//! Identity hashes take 17 bytes: a tag 0 and the 16 bytes of the usual 32 hex characters, or
//! a tag `n + 1` and `n` bytes of any other spelling. Each record points back at the previous
//! record of its key (and of its browser), so the in-memory index keeps only the newest
//! record of each and reads walk back from it. Erasure rewrites a record in place with its key,
//! IP hash, user agent and browser hash zeroed (the same length, so nothing moves); the code,
//! time, window, channel and back pointers stay, so counts and other keys' chains survive.

use rft_core::click::{TouchKey, pack_user_agent_to, unpack_user_agent};
use rft_core::identity::IdentityHash;
use rft_core::rollup::{code_from_slot, code_slot};
use rft_core::{Click, Timestamp, Token};

/// Bytes before the body: the CRC and the body's length.
pub(crate) const HEADER: usize = 6;

const EMAIL: u8 = 1;
const IP: u8 = 1 << 1;
const USER_AGENT: u8 = 1 << 2;
const CHANNEL: u8 = 1 << 3;
const BROWSER: u8 = 1 << 4;
const ERASED: u8 = 1 << 5;

const BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A decoded record.
#[derive(Debug)]
pub(crate) struct Record {
    /// The click (for an erased record, with a blank key and no personal fields).
    pub click: Click,
    /// Bytes back to the previous record of this key (0: none).
    pub prev_key: u64,
    /// Bytes back to the previous record of this browser (0: none).
    pub prev_browser: u64,
    pub erased: bool,
}

fn pack_token(t: &Token) -> [u8; 17] {
    let mut n: u128 = 0;
    let s = t.as_str().as_bytes();
    for b in &s[1..] {
        n = (n << 5) | BASE32.iter().position(|c| c == b).unwrap_or(0) as u128;
    }
    let mut out = [0u8; 17];
    out[0] = BASE32.iter().position(|c| *c == s[0]).unwrap_or(0) as u8;
    out[1..].copy_from_slice(&n.to_be_bytes());
    out
}

fn unpack_token(b: &[u8]) -> Option<Token> {
    let mut n = u128::from_be_bytes(b[1..17].try_into().ok()?);
    let mut s = [0u8; 26];
    for slot in s[1..].iter_mut().rev() {
        *slot = BASE32[(n & 31) as usize];
        n >>= 5;
    }
    s[0] = *BASE32.get(usize::from(b[0]))?;
    Token::parse(std::str::from_utf8(&s).ok()?).ok()
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_hash(out: &mut Vec<u8>, h: &IdentityHash) {
    let s = h.as_str();
    let canonical = s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match hex::decode(s) {
        Ok(bytes) if canonical => {
            out.push(0);
            out.extend_from_slice(&bytes);
        }
        _ => {
            let bytes = &s.as_bytes()[..s.len().min(254)];
            out.push(bytes.len() as u8 + 1);
            out.extend_from_slice(bytes);
        }
    }
}

/// A click encoded where it arrives (on the request's thread), waiting to be written: the
/// record's body before its back pointers, which only the writer knows.
pub(crate) struct Body {
    pub bytes: Vec<u8>,
    pub has_browser: bool,
    /// Where the channel's bytes are in `bytes`, if it has one (the counts need it).
    pub channel: Option<(usize, usize)>,
}

impl Body {
    /// The channel, as the counts read it.
    pub(crate) fn channel(&self) -> Option<&str> {
        let (at, len) = self.channel?;
        std::str::from_utf8(&self.bytes[at..at + len]).ok()
    }
}

/// Encodes `click`'s body.
pub(crate) fn body(click: &Click) -> Body {
    let mut out = Vec::with_capacity(96);
    let mut flags = 0;
    if matches!(click.key, TouchKey::Email(_)) {
        flags |= EMAIL;
    }
    for (present, flag) in [
        (click.ip_hash.is_some(), IP),
        (click.user_agent.is_some(), USER_AGENT),
        (click.channel.is_some(), CHANNEL),
        (click.browser.is_some(), BROWSER),
    ] {
        if present {
            flags |= flag;
        }
    }
    out.push(flags);
    match &click.key {
        TouchKey::Token(t) => out.extend_from_slice(&pack_token(t)),
        TouchKey::Email(h) => put_hash(&mut out, h),
    }
    out.extend_from_slice(&(code_slot(&click.code) as u32).to_le_bytes());
    put_varint(&mut out, zigzag(click.at.as_millis()));
    put_varint(&mut out, zigzag(click.expires_at.as_millis() - click.at.as_millis()));
    if let Some(ip) = &click.ip_hash {
        put_hash(&mut out, ip);
    }
    if let Some(ua) = &click.user_agent {
        // Packed straight into the record after a two-byte length, then the length set.
        let at = out.len();
        out.extend_from_slice(&[0, 0]);
        pack_user_agent_to(&mut out, ua);
        let len = u16::try_from(out.len() - at - 2).unwrap_or(u16::MAX);
        out.truncate(at + 2 + usize::from(len));
        out[at..at + 2].copy_from_slice(&len.to_le_bytes());
    }
    let mut channel = None;
    if let Some(ch) = &click.channel {
        let bytes = &ch.as_bytes()[..ch.len().min(255)];
        out.push(bytes.len() as u8);
        channel = Some((out.len(), bytes.len()));
        out.extend_from_slice(bytes);
    }
    if let Some(b) = &click.browser {
        put_hash(&mut out, b);
    }
    Body { bytes: out, has_browser: click.browser.is_some(), channel }
}

/// Appends the record of `body` to `out` with its back pointers; returns its length.
pub(crate) fn seal_into(out: &mut Vec<u8>, body: &Body, prev_key: u64, prev_browser: u64) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&body.bytes);
    put_varint(out, prev_key);
    if body.has_browser {
        put_varint(out, prev_browser);
    }
    seal(&mut out[start..]);
    out.len() - start
}

/// Appends `click`'s record to `out`; returns its length.
#[cfg(test)]
pub(crate) fn encode(out: &mut Vec<u8>, click: &Click, prev_key: u64, prev_browser: u64) -> usize {
    seal_into(out, &body(click), prev_key, prev_browser)
}

/// Writes the body's length and CRC into a record's header.
fn seal(record: &mut [u8]) {
    let body = (record.len() - HEADER) as u16;
    record[4..6].copy_from_slice(&body.to_le_bytes());
    let crc = crc32fast::hash(&record[4..]);
    record[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// The whole length of the record whose header is `header`, if the header is plausible.
pub(crate) fn length(header: &[u8]) -> Option<usize> {
    let body = u16::from_le_bytes(header.get(4..6)?.try_into().ok()?) as usize;
    (body > 0).then_some(HEADER + body)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(out)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// An identity hash; `None` inside the `Some` when erased (all zero).
    fn hash(&mut self) -> Option<Option<IdentityHash>> {
        let tag = self.byte()?;
        let bytes = if tag == 0 { self.take(16)? } else { self.take(usize::from(tag) - 1)? };
        if bytes.iter().all(|b| *b == 0) {
            return Some(None);
        }
        Some(Some(IdentityHash::from_stored(if tag == 0 {
            hex::encode(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        })))
    }

    /// Where the previous field ended.
    fn position(&self) -> usize {
        self.at
    }
}

/// Offsets of a record's personal fields, for erasure: (start, end) byte ranges to zero.
struct Layout {
    personal: Vec<(usize, usize)>,
}

fn parse(record: &[u8]) -> Option<(Record, Layout)> {
    let length = length(record)?;
    let record = record.get(..length)?;
    if u32::from_le_bytes(record[0..4].try_into().ok()?) != crc32fast::hash(&record[4..]) {
        return None;
    }
    let mut r = Reader { bytes: record, at: HEADER };
    let mut personal = Vec::new();
    let flags = r.byte()?;
    let erased = flags & ERASED != 0;
    let key_start = r.position();
    let key = if flags & EMAIL != 0 {
        let key = r.hash()?.map(TouchKey::Email);
        // The hash's tag byte stays, so an erased record still parses to the same length.
        personal.push((key_start + 1, r.position()));
        key
    } else {
        let key = unpack_token(r.take(17)?).map(TouchKey::Token);
        personal.push((key_start, r.position()));
        key
    };
    let code = code_from_slot(i64::from(u32::from_le_bytes(r.take(4)?.try_into().ok()?)))?;
    let at = Timestamp::from_millis(unzigzag(r.varint()?));
    let expires_at = Timestamp::from_millis(at.as_millis() + unzigzag(r.varint()?));
    let mut ip_hash = None;
    if flags & IP != 0 {
        let start = r.position();
        ip_hash = r.hash()?;
        personal.push((start + 1, r.position()));
    }
    let mut user_agent = None;
    if flags & USER_AGENT != 0 {
        let len = usize::from(u16::from_le_bytes(r.take(2)?.try_into().ok()?));
        let start = r.position();
        let bytes = r.take(len)?;
        personal.push((start, r.position()));
        if !erased {
            user_agent = Some(unpack_user_agent(std::str::from_utf8(bytes).ok()?));
        }
    }
    let mut channel = None;
    if flags & CHANNEL != 0 {
        let len = usize::from(r.byte()?);
        channel = Some(String::from_utf8(r.take(len)?.to_vec()).ok()?);
    }
    let mut browser = None;
    if flags & BROWSER != 0 {
        let start = r.position();
        browser = r.hash()?;
        personal.push((start + 1, r.position()));
    }
    let prev_key = r.varint()?;
    let prev_browser = if flags & BROWSER != 0 { r.varint()? } else { 0 };
    let key = match key {
        Some(k) if !erased => k,
        // An erased record keeps no key; this placeholder never matches a real one.
        _ => TouchKey::Email(IdentityHash::from_stored(String::new())),
    };
    let click = Click { key, at, code, ip_hash, user_agent, channel, browser, expires_at };
    Some((Record { click, prev_key, prev_browser, erased }, Layout { personal }))
}

/// Decodes a record (`None` if torn or damaged: its CRC fails).
pub(crate) fn decode(record: &[u8]) -> Option<Record> {
    parse(record).map(|(r, _)| r)
}

/// The record with its key and personal fields zeroed and marked erased, the same length.
pub(crate) fn erased(record: &[u8]) -> Option<Vec<u8>> {
    let (_, layout) = parse(record)?;
    let mut out = record[..length(record)?].to_vec();
    out[HEADER] |= ERASED;
    for (start, end) in layout.personal {
        out[start..end].iter_mut().for_each(|b| *b = 0);
    }
    seal(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rft_core::Code;

    fn click(key: TouchKey) -> Click {
        let at = Timestamp::from_millis(1_900_000_000_123);
        Click {
            key,
            at,
            code: Code::parse("7QK2A9").unwrap(),
            ip_hash: Some(IdentityHash::from_stored("0123456789abcdef0123456789abcdef".into())),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
                    .into(),
            ),
            channel: Some("whatsapp".into()),
            browser: Some(IdentityHash::from_stored("browser-kim".into())),
            expires_at: at.plus(std::time::Duration::from_secs(30 * 86_400)),
        }
    }

    #[test]
    fn a_click_reads_back_as_written_in_under_a_hundred_bytes() {
        for key in [TouchKey::Token(Token::generate()), TouchKey::Email(IdentityHash::from_stored("f".repeat(32)))] {
            let c = click(key);
            let mut out = Vec::new();
            let n = encode(&mut out, &c, 1234, 5);
            assert!(n < 100, "{n} bytes");
            let r = decode(&out).unwrap();
            assert_eq!((r.click, r.prev_key, r.prev_browser, r.erased), (c, 1234, 5, false));
        }
        let mut bare = click(TouchKey::Token(Token::generate()));
        (bare.ip_hash, bare.user_agent, bare.channel, bare.browser) = (None, None, None, None);
        let mut out = Vec::new();
        encode(&mut out, &bare, 0, 0);
        assert_eq!(decode(&out).unwrap().click, bare);
    }

    #[test]
    fn erasure_zeroes_the_personal_fields_and_keeps_the_rest() {
        let c = click(TouchKey::Token(Token::generate()));
        let mut out = Vec::new();
        encode(&mut out, &c, 77, 9);
        let wiped = erased(&out).unwrap();
        assert_eq!(wiped.len(), out.len());
        let r = decode(&wiped).unwrap();
        assert!(r.erased);
        assert_eq!((r.click.ip_hash, r.click.user_agent, r.click.browser), (None, None, None));
        assert_eq!((r.click.code, r.click.at, r.click.channel.as_deref()), (c.code, c.at, Some("whatsapp")));
        assert_eq!((r.prev_key, r.prev_browser), (77, 9));
        let TouchKey::Token(t) = &c.key else { unreachable!() };
        assert!(!wiped.windows(17).any(|w| w == pack_token(t)), "the token's bytes are gone");
    }

    #[test]
    fn a_damaged_record_fails_its_check() {
        let mut out = Vec::new();
        encode(&mut out, &click(TouchKey::Token(Token::generate())), 0, 0);
        out[20] ^= 1;
        assert!(decode(&out).is_none());
        assert!(decode(&out[..10]).is_none());
    }
}
