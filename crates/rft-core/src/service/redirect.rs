//! The redirect (`GET /r/{code}`): the one hot path. It resolves the code (cached for up to a
//! minute), logs at most one click (one storage write), and always sends the friend somewhere:
//! the landing page for a live code, the fallback for anything else, even when storage fails.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::click::{Click, TouchKey, clip_user_agent, parse_channel};
use crate::code::{Code, CodeRecord};
use crate::connectors::redirect::destination;
use crate::identity::{Field, IdentityHasher};
use crate::ids::Token;
use crate::ports::{ClickStore, CodeStore};
use crate::settings::{Settings, StoreKind};
use crate::time::Clock;

/// How long a code lookup is trusted. Attribution re-reads the code, so a code retired within
/// this minute still cannot earn.
pub const CODE_CACHE_TTL: Duration = Duration::from_secs(60);

/// Past this many cached codes the cache starts afresh (bounds memory under random-code scans).
const CODE_CACHE_MAX: usize = 50_000;

/// How long the friend waits for the click write before being redirected anyway.
pub const CLICK_WRITE_BUDGET: Duration = Duration::from_secs(2);

/// User-agent fragments of link-preview bots and crawlers: they get the redirect, not a click.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebot",
    "whatsapp",
    "telegram",
    "slack",
    "discord",
    "linkedin",
    "skypeuripreview",
    "embedly",
    "pinterest",
    "redditbot",
    "vkshare",
    "bingpreview",
    "google-inspectiontool",
    "googleother",
    "headlesschrome",
    "preview",
    "curl/",
    "wget/",
    "python-requests",
];

/// Whether a user agent is a bot or a link preview.
pub fn is_bot(user_agent: &str) -> bool {
    // Lower-cased on the stack for the usual lengths (this runs on every click).
    let mut buf = [0u8; 512];
    let owned;
    let ua = match buf.get_mut(..user_agent.len()) {
        Some(low) => {
            low.copy_from_slice(user_agent.as_bytes());
            low.make_ascii_lowercase();
            std::str::from_utf8(low).unwrap_or_default()
        }
        None => {
            owned = user_agent.to_ascii_lowercase();
            owned.as_str()
        }
    };
    // Browsers' own "previews" never say "bot"; iMessage previews identify as facebookexternalhit.
    BOT_MARKERS.iter().any(|m| ua.contains(m))
}

/// One request for a link.
#[derive(Clone, Copy, Debug, Default)]
pub struct Visit<'a> {
    /// The code as it appeared in the path.
    pub code: &'a str,
    /// `HEAD` requests log nothing.
    pub head: bool,
    /// The `rft` cookie, if the browser sent one.
    pub cookie_token: Option<&'a str>,
    /// The browser's user agent.
    pub user_agent: Option<&'a str>,
    /// The client's IP.
    pub ip: Option<&'a str>,
    /// `?ch=` on the link.
    pub channel: Option<&'a str>,
}

/// Where to send the friend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The `Location` header.
    pub location: String,
    /// The `Set-Cookie` header, for live codes.
    pub set_cookie: Option<String>,
}

/// Counts for logs and metrics.
#[derive(Debug, Default)]
pub struct RedirectCounts {
    /// Redirects to the landing page.
    pub landed: AtomicU64,
    /// Redirects to the fallback.
    pub fallback: AtomicU64,
    /// Clicks logged.
    pub logged: AtomicU64,
    /// Clicks that could not be logged (the friend was redirected anyway).
    pub log_failed: AtomicU64,
    /// Bot and preview requests (not logged).
    pub bots: AtomicU64,
    /// Clicks over the per-IP hourly limit (redirected, not logged).
    pub rate_limited: AtomicU64,
}

/// Clicks per hashed IP in the current hour, in this process only. Per instance and best
/// effort by design: it keeps the hot path free of extra storage I/O, and a spray from one IP
/// mostly lands on one warm instance; the screen's per-code velocity rule catches the rest.
#[derive(Default)]
struct IpLimiter {
    hour: i64,
    /// By the first 64 bits of the IP's keyed hash (no copy of the hash per click).
    counts: HashMap<u64, u32>,
}

/// Past this many tracked IPs the limiter starts the hour afresh (bounds memory).
const IP_LIMITER_MAX: usize = 100_000;

impl IpLimiter {
    /// Counts a click; `false` once the IP is over `limit` this hour.
    fn admit(&mut self, ip: &crate::identity::IdentityHash, hour: i64, limit: u32) -> bool {
        if hour != self.hour || self.counts.len() >= IP_LIMITER_MAX {
            self.hour = hour;
            self.counts.clear();
        }
        let key = ip.as_str().get(..16).and_then(|h| u64::from_str_radix(h, 16).ok()).unwrap_or_else(|| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(ip.as_str())
        });
        let n = self.counts.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        *n <= limit
    }
}

struct Cached {
    record: Option<Arc<CodeRecord>>,
    fetched: Instant,
}

/// The landing URL cut where a visit's parameters go, so a redirect builds its `Location` by
/// concatenation (tokens and codes need no escaping). The same text as appending the pairs
/// to the URL's query, tested below.
struct Landing {
    head: String,
    tail: String,
}

impl Landing {
    fn of(url: &url::Url) -> Self {
        let mut bare = url.clone();
        let tail = bare.fragment().map(|f| format!("#{f}")).unwrap_or_default();
        bare.set_fragment(None);
        let head = match bare.query() {
            None => format!("{bare}?"),
            Some("") => bare.to_string(),
            Some(_) => format!("{bare}&"),
        };
        Landing { head, tail }
    }

    fn location(&self, token: &Token, code: &Code) -> String {
        let mut out = String::with_capacity(self.head.len() + self.tail.len() + 112);
        out.push_str(&self.head);
        out.push_str("rft=");
        out.push_str(token.as_str());
        out.push_str("&utm_source=referral&utm_medium=referral&utm_campaign=");
        out.push_str(code.as_str());
        out.push_str(&self.tail);
        out
    }
}

/// The redirect service.
pub struct Redirector {
    codes: Arc<dyn CodeStore>,
    clicks: Arc<dyn ClickStore>,
    settings: Arc<Settings>,
    hasher: IdentityHasher,
    clock: Arc<dyn Clock>,
    cache: RwLock<HashMap<Code, Cached>>,
    ip_limiter: std::sync::Mutex<IpLimiter>,
    landing: Landing,
    /// Counters, readable by the runtime for logs and metrics.
    pub counts: RedirectCounts,
}

impl Redirector {
    /// A redirector over the code and click stores.
    pub fn new(
        codes: Arc<dyn CodeStore>,
        clicks: Arc<dyn ClickStore>,
        settings: Arc<Settings>,
        hasher: IdentityHasher,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Redirector {
            landing: Landing::of(&settings.links.landing_url),
            codes,
            clicks,
            settings,
            hasher,
            clock,
            cache: RwLock::new(HashMap::new()),
            ip_limiter: std::sync::Mutex::new(IpLimiter::default()),
            counts: RedirectCounts::default(),
        }
    }

    fn fallback(&self) -> Redirect {
        self.counts.fallback.fetch_add(1, Ordering::Relaxed);
        Redirect { location: self.settings.links.fallback_url.to_string(), set_cookie: None }
    }

    /// The code's record, from the cache if fresh. `Err` when the store cannot be read.
    async fn lookup(&self, code: &Code) -> Result<Option<Arc<CodeRecord>>, crate::ports::StoreError> {
        if let Ok(cache) = self.cache.read()
            && let Some(hit) = cache.get(code)
            && hit.fetched.elapsed() < CODE_CACHE_TTL
        {
            return Ok(hit.record.clone());
        }
        let record = self.codes.get_public(code).await?.map(Arc::new);
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CODE_CACHE_MAX {
                cache.clear();
            }
            cache.insert(code.clone(), Cached { record: record.clone(), fetched: Instant::now() });
        }
        Ok(record)
    }

    /// Drops a code from this process's cache (after retiring it here, so this instance stops
    /// sending friends to the landing page at once; other instances follow within the TTL).
    pub fn forget(&self, code: &Code) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(code);
        }
    }

    /// Handles one visit. Never fails: the worst case is the fallback URL.
    pub async fn visit(&self, visit: Visit<'_>) -> Redirect {
        let Ok(code) = Code::parse(visit.code) else { return self.fallback() };
        let record = match self.lookup(&code).await {
            Ok(Some(r)) if r.is_active() => r,
            Ok(_) => return self.fallback(),
            Err(e) => {
                tracing::error!(code = %code, error = %e, "code lookup failed; sending the friend to the fallback");
                return self.fallback();
            }
        };
        let token = visit.cookie_token.and_then(|t| Token::parse(t).ok()).unwrap_or_else(Token::generate);
        let location = match self.settings.store.kind {
            StoreKind::Webhooks => self.landing.location(&token, &code),
            // A connected store's checkout takes the token and applies the code (docs/connect-stripe.md).
            StoreKind::Stripe | StoreKind::Shopify => destination(&self.settings, &token, &code).into(),
        };
        let window = record.terms.window();
        let domain = self.settings.links.cookie_domain.as_deref().map(|d| format!("; Domain={d}")).unwrap_or_default();
        let set_cookie =
            format!("rft={token}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Lax{domain}", window.as_secs());
        self.counts.landed.fetch_add(1, Ordering::Relaxed);
        let bot = visit.user_agent.is_some_and(is_bot);
        if bot {
            self.counts.bots.fetch_add(1, Ordering::Relaxed);
        }
        if !visit.head && !bot {
            let now = self.clock.now();
            let ip_hash = visit.ip.and_then(|ip| self.hasher.hash(Field::Ip, ip));
            if let Some(ip) = &ip_hash
                && !self.admit_ip(ip, now)
            {
                self.counts.rate_limited.fetch_add(1, Ordering::Relaxed);
                tracing::info!(code = %code, "rate_limited: over the per-IP click limit; redirected without logging");
                return Redirect { location, set_cookie: Some(set_cookie) };
            }
            let click = Click {
                key: TouchKey::Token(token.clone()),
                at: now,
                code: code.clone(),
                ip_hash,
                user_agent: visit.user_agent.map(clip_user_agent),
                channel: visit.channel.and_then(parse_channel),
                // Only the optional fingerprint fallback reads it: without it, no second keyed
                // hash per click and no browser index entry.
                browser: if self.settings.attribution.fingerprint_fallback {
                    self.hasher.browser(visit.ip, visit.user_agent)
                } else {
                    None
                },
                expires_at: now.plus(window),
            };
            self.log(click).await;
        }
        Redirect { location, set_cookie: Some(set_cookie) }
    }

    fn admit_ip(&self, ip: &crate::identity::IdentityHash, now: crate::time::Timestamp) -> bool {
        let limit = self.settings.links.max_clicks_per_ip_per_hour;
        let hour = now.as_millis().div_euclid(3_600_000);
        // A poisoned lock only means another request panicked mid-count: keep logging clicks.
        self.ip_limiter.lock().map(|mut l| l.admit(ip, hour, limit)).unwrap_or(true)
    }

    /// Writes the click, waiting at most [`CLICK_WRITE_BUDGET`]; a write still running then
    /// carries on in the background (the click store's promise when its caller stops waiting,
    /// so no task is spawned per click here).
    async fn log(&self, click: Click) {
        match tokio::time::timeout(CLICK_WRITE_BUDGET, self.clicks.record(&click)).await {
            Ok(Ok(())) => {
                self.counts.logged.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                self.counts.log_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "click not logged; redirecting anyway");
            }
            Err(_) => {
                self.counts.log_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("click write slower than {CLICK_WRITE_BUDGET:?}; redirecting while it finishes");
            }
        }
    }
}

#[cfg(test)]
#[path = "redirect_tests.rs"]
mod tests;
