//! The settings file (docs/settings.md): parsed once at start; an unknown, missing or bad key stops
//! start-up with a message naming it. Durations are humantime strings (`"30d"`, `"2s"`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use url::Url;

use crate::email::Email;
use crate::money::{Currency, MAX_AMOUNT_MINOR, Reward, RewardKind, Terms, Tier};

/// A settings problem, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("settings: `{key}`: {message}")]
pub struct SettingsError {
    /// Dotted key path, e.g. `attribution.window`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl SettingsError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        SettingsError { key: key.to_owned(), message: message.into() }
    }
}

/// The business whose programme this is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    /// Shown in messages and pages.
    pub name: String,
    /// Voice notes for the model.
    pub voice: String,
}

/// Where links point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// Links are `{base_url}/r/{code}`; no trailing slash.
    pub base_url: Url,
    /// Live codes redirect here (with the token and UTM parameters added).
    pub landing_url: Url,
    /// Unknown, retired or malformed codes redirect here.
    pub fallback_url: Url,
    /// `Domain=` on the `rft` cookie, if set.
    pub cookie_domain: Option<String>,
    /// Clicks per hashed IP per hour beyond which clicks are not logged (redirect still works).
    pub max_clicks_per_ip_per_hour: u32,
}

/// How sign-ups are attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// The last-touch window.
    pub window: Duration,
    /// Whether the IP and user-agent fallback is on (matches are always held).
    pub fingerprint_fallback: bool,
}

/// What each side gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewards {
    /// The referrer's base reward.
    pub referrer: Reward,
    /// The friend's reward.
    pub friend: Reward,
    /// The referrer's tiers, ascending.
    pub tiers: Vec<Tier>,
    /// A conversion pays only after this long without a refund of its order (`0s`: at once).
    pub confirm_after: Duration,
}

/// Fraud-screen thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// Hold when a code gets more clicks than this in an hour.
    pub max_clicks_per_code_per_hour: u32,
    /// Hold when a code gets more sign-ups than this in an hour.
    pub max_signups_per_code_per_hour: u32,
    /// Hold when one IP signs up more than this in a day.
    pub max_signups_per_ip_per_day: u32,
    /// Hold a conversion sooner than this after its touch.
    pub min_click_to_conversion: Duration,
    /// Hold when one referrer's friends convert more than this in a day.
    pub max_conversions_per_referrer_per_day: u32,
    /// Added to the built-in disposable-domain list.
    pub extra_disposable_domains: Vec<String>,
}

/// The people who decide held referrals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Where hold and refund reviews go.
    pub email: Email,
    /// Further people who may sign in to the owner's console (`team.email` always may).
    pub members: Vec<Email>,
    /// How long ops links work.
    pub ops_link_ttl: Duration,
}

impl Team {
    /// The team address matching `typed` (`team.email` or one of `team.members`), compared
    /// whole and case-insensitively: never by a provider's `+tag` or dot rules, which would let
    /// a look-alike address elsewhere pass. The console mails and names the address as the
    /// settings spell it.
    pub fn member(&self, typed: &str) -> Option<&Email> {
        let typed = typed.trim();
        std::iter::once(&self.email).chain(&self.members).find(|m| m.as_str().eq_ignore_ascii_case(typed))
    }
}

/// Messages and the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// Sender of every email.
    pub from_email: Email,
    /// Bedrock model or inference-profile id.
    pub model_id: String,
    /// Past this the template is used.
    pub model_timeout: Duration,
    /// Longest invite accepted from the model.
    pub max_invite_chars: usize,
}

/// How the store is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// The store signs our own webhooks and serves `reward_url` (it writes code).
    Webhooks,
    /// A Stripe account: its own webhooks in, rewards through the Stripe API.
    Stripe,
    /// A Shopify shop: its own webhooks in, rewards through the Admin GraphQL API.
    Shopify,
}

impl StoreKind {
    /// The settings spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Webhooks => "webhooks",
            StoreKind::Stripe => "stripe",
            StoreKind::Shopify => "shopify",
        }
    }
}

/// How a Stripe shop's referrer is rewarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeReferrerReward {
    /// A credit on the customer's balance, used on their next invoice.
    Balance,
    /// A single-use promotion code, emailed to them.
    PromotionCode,
}

/// How a Shopify shop's referrer is rewarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopifyReferrerReward {
    /// Store credit on the customer's account.
    StoreCredit,
    /// A single-use discount code, emailed to them.
    DiscountCode,
}

/// `[store.stripe]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSettings {
    /// The API's origin (tests point it at a stand-in); no trailing slash.
    pub api_base: Url,
    /// Balance credit or a promotion code.
    pub referrer_reward: StripeReferrerReward,
}

/// `[store.shopify]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifySettings {
    /// The shop's `*.myshopify.com` domain.
    pub shop: String,
    /// The Admin API version, `YYYY-MM`.
    pub api_version: String,
    /// The Admin API's origin, `https://<shop>` unless a test points it at a stand-in.
    pub api_base: Url,
    /// Store credit or a discount code.
    pub referrer_reward: ShopifyReferrerReward,
}

/// The Shopify Admin API version used when the settings name none.
pub const DEFAULT_SHOPIFY_API_VERSION: &str = "2025-10";

/// The Stripe API origin used when the settings name none.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

/// The store's side. Exactly the part for `kind` is present: `reward_url` for `webhooks`,
/// `stripe` for `stripe`, `shopify` for `shopify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// How the store is connected.
    pub kind: StoreKind,
    /// Where rewards are fulfilled (`webhooks` only).
    pub reward_url: Option<Url>,
    /// `[store.stripe]` (`stripe` only).
    pub stripe: Option<StripeSettings>,
    /// `[store.shopify]` (`shopify` only).
    pub shopify: Option<ShopifySettings>,
}

/// Links after a first order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Enrolment {
    /// A customer's first paid order mints their link and emails it to them.
    pub on_first_order: bool,
}

/// The expiry sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// How often it runs locally (EventBridge runs it hourly in AWS).
    pub every: Duration,
}

/// How the AWS stack sizes the functions (read by infra/ at deploy; rft-local ignores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aws {
    /// Concurrent executions reserved for `rft-edge`, so the queue consumers can never take
    /// the redirects' share of the account's Lambda quota; `0` reserves none.
    pub edge_reserved_concurrency: u32,
    /// The most concurrent invocations each SQS event source starts (Lambda allows 2 to 1000).
    pub queue_max_concurrency: u32,
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `[business]`.
    pub business: Business,
    /// `[links]`.
    pub links: Links,
    /// `[attribution]`.
    pub attribution: Attribution,
    /// `[rewards.*]`.
    pub rewards: Rewards,
    /// `[screen]`.
    pub screen: Screen,
    /// `[team]`.
    pub team: Team,
    /// `[messages]`.
    pub messages: Messages,
    /// `[store]`.
    pub store: StoreSettings,
    /// `[enrolment]`.
    pub enrolment: Enrolment,
    /// `[sweep]`.
    pub sweep: Sweep,
    /// `[aws]` (optional).
    pub aws: Aws,
}

// ---- the file as written -------------------------------------------------------------------

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim())
        .map_err(|e| serde::de::Error::custom(format!("expected a duration such as \"30d\" or \"2s\" ({e})")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    business: Business,
    links: RawLinks,
    attribution: RawAttribution,
    rewards: RawRewards,
    screen: RawScreen,
    team: RawTeam,
    messages: RawMessages,
    store: RawStore,
    #[serde(default)]
    enrolment: RawEnrolment,
    sweep: RawSweep,
    #[serde(default)]
    aws: RawAws,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    base_url: String,
    landing_url: String,
    fallback_url: String,
    cookie_domain: Option<String>,
    #[serde(default = "default_ip_clicks")]
    max_clicks_per_ip_per_hour: u32,
}

fn default_ip_clicks() -> u32 {
    100
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribution {
    #[serde(deserialize_with = "duration")]
    window: Duration,
    #[serde(default)]
    fingerprint_fallback: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRewards {
    referrer: RawReward,
    friend: RawReward,
    #[serde(default, deserialize_with = "duration")]
    confirm_after: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReward {
    kind: RewardKind,
    amount_minor: u64,
    currency: String,
    description: String,
    #[serde(default)]
    tiers: Option<Vec<Tier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScreen {
    max_clicks_per_code_per_hour: u32,
    max_signups_per_code_per_hour: u32,
    max_signups_per_ip_per_day: u32,
    #[serde(deserialize_with = "duration")]
    min_click_to_conversion: Duration,
    #[serde(default = "default_conversions_per_day")]
    max_conversions_per_referrer_per_day: u32,
    #[serde(default)]
    extra_disposable_domains: Vec<String>,
}

fn default_conversions_per_day() -> u32 {
    10
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    email: String,
    #[serde(default)]
    members: Vec<String>,
    #[serde(deserialize_with = "duration")]
    ops_link_ttl: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessages {
    from_email: String,
    model_id: String,
    #[serde(deserialize_with = "duration")]
    model_timeout: Duration,
    max_invite_chars: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default = "default_store_kind")]
    kind: StoreKind,
    reward_url: Option<String>,
    stripe: Option<RawStripe>,
    shopify: Option<RawShopify>,
}

fn default_store_kind() -> StoreKind {
    StoreKind::Webhooks
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStripe {
    api_base: Option<String>,
    #[serde(default = "default_stripe_reward")]
    referrer_reward: StripeReferrerReward,
}

fn default_stripe_reward() -> StripeReferrerReward {
    StripeReferrerReward::Balance
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShopify {
    shop: String,
    api_version: Option<String>,
    api_base: Option<String>,
    #[serde(default = "default_shopify_reward")]
    referrer_reward: ShopifyReferrerReward,
}

fn default_shopify_reward() -> ShopifyReferrerReward {
    ShopifyReferrerReward::StoreCredit
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnrolment {
    #[serde(default)]
    on_first_order: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    #[serde(deserialize_with = "duration")]
    every: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAws {
    edge_reserved_concurrency: u32,
    queue_max_concurrency: u32,
}

impl Default for RawAws {
    fn default() -> Self {
        RawAws { edge_reserved_concurrency: 20, queue_max_concurrency: 2 }
    }
}

// ---- validation ------------------------------------------------------------------------------

/// The model call must leave room for the 2.5 s mint reply.
pub const MAX_MODEL_TIMEOUT: Duration = Duration::from_secs(2);

fn http_url(key: &str, raw: &str) -> Result<Url, SettingsError> {
    let url = Url::parse(raw.trim()).map_err(|e| SettingsError::new(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::new(key, "must be an absolute http or https URL"));
    }
    if url.fragment().is_some() {
        return Err(SettingsError::new(key, "must not have a #fragment"));
    }
    Ok(url)
}

fn email(key: &str, raw: &str) -> Result<Email, SettingsError> {
    Email::parse(raw).map_err(|e| SettingsError::new(key, e.to_string()))
}

fn positive(key: &str, d: Duration) -> Result<Duration, SettingsError> {
    if d < Duration::from_secs(1) {
        return Err(SettingsError::new(key, "must be at least 1s"));
    }
    Ok(d)
}

fn at_least_one(key: &str, n: u32) -> Result<u32, SettingsError> {
    if n == 0 {
        return Err(SettingsError::new(key, "must be at least 1"));
    }
    Ok(n)
}

fn text(key: &str, s: &str, max: usize) -> Result<String, SettingsError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(SettingsError::new(key, format!("must be 1 to {max} characters")));
    }
    Ok(t.to_owned())
}

fn domain_name(key: &str, raw: &str, allow_leading_dot: bool) -> Result<String, SettingsError> {
    let d = raw.trim().to_ascii_lowercase();
    let body = if allow_leading_dot { d.strip_prefix('.').unwrap_or(&d) } else { &d };
    let ok = body.contains('.')
        && body.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    ok.then_some(d.clone()).ok_or_else(|| SettingsError::new(key, format!("{raw:?} is not a domain name")))
}

/// An API origin: http(s), no query or fragment, no trailing slash.
fn api_base(key: &str, raw: &str) -> Result<Url, SettingsError> {
    let mut u = http_url(key, raw)?;
    if u.query().is_some() {
        return Err(SettingsError::new(key, "must not have a query"));
    }
    let trimmed = u.path().trim_end_matches('/').to_owned();
    u.set_path(&trimmed);
    Ok(u)
}

fn store(raw: RawStore) -> Result<StoreSettings, SettingsError> {
    let reward_url = raw.reward_url.as_deref().map(|u| http_url("store.reward_url", u)).transpose()?;
    // A section for another kind is still checked, so a typo there is caught before a switch.
    let stripe = match (raw.stripe, raw.kind) {
        (Some(s), _) => Some(stripe(s)?),
        (None, StoreKind::Stripe) => Some(stripe(RawStripe::default_section())?),
        (None, _) => None,
    };
    let shopify = raw.shopify.map(shopify).transpose()?;
    let missing =
        |key: &str| SettingsError::new(key, format!("is required when store.kind is \"{}\"", raw.kind.as_str()));
    match raw.kind {
        StoreKind::Webhooks if reward_url.is_none() => return Err(missing("store.reward_url")),
        StoreKind::Shopify if shopify.is_none() => return Err(missing("store.shopify.shop")),
        _ => {}
    }
    Ok(StoreSettings {
        kind: raw.kind,
        reward_url: reward_url.filter(|_| raw.kind == StoreKind::Webhooks),
        stripe: stripe.filter(|_| raw.kind == StoreKind::Stripe),
        shopify: shopify.filter(|_| raw.kind == StoreKind::Shopify),
    })
}

impl RawStripe {
    fn default_section() -> Self {
        RawStripe { api_base: None, referrer_reward: default_stripe_reward() }
    }
}

fn stripe(raw: RawStripe) -> Result<StripeSettings, SettingsError> {
    Ok(StripeSettings {
        api_base: api_base("store.stripe.api_base", raw.api_base.as_deref().unwrap_or(DEFAULT_STRIPE_API_BASE))?,
        referrer_reward: raw.referrer_reward,
    })
}

fn shopify(raw: RawShopify) -> Result<ShopifySettings, SettingsError> {
    let shop = domain_name("store.shopify.shop", &raw.shop, false)?;
    if !shop.ends_with(".myshopify.com") {
        return Err(SettingsError::new(
            "store.shopify.shop",
            "must be the shop's myshopify.com domain (the Admin API is served only there), e.g. freshbox.myshopify.com",
        ));
    }
    let api_version = raw.api_version.as_deref().unwrap_or(DEFAULT_SHOPIFY_API_VERSION).trim().to_owned();
    let valid_version = api_version.len() == 7
        && api_version.as_bytes()[4] == b'-'
        && api_version[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(&api_version[5..], "01" | "04" | "07" | "10");
    if !valid_version {
        return Err(SettingsError::new(
            "store.shopify.api_version",
            "must be a Shopify API version such as \"2025-10\" (YYYY-01, -04, -07 or -10)",
        ));
    }
    let default_base = format!("https://{shop}");
    Ok(ShopifySettings {
        api_base: api_base("store.shopify.api_base", raw.api_base.as_deref().unwrap_or(&default_base))?,
        shop,
        api_version,
        referrer_reward: raw.referrer_reward,
    })
}

fn reward(side: &str, raw: RawReward) -> Result<(Reward, Vec<Tier>), SettingsError> {
    let key = |k: &str| format!("rewards.{side}.{k}");
    let currency = Currency::parse(&raw.currency).map_err(|e| SettingsError::new(&key("currency"), e.to_string()))?;
    if raw.amount_minor > MAX_AMOUNT_MINOR {
        return Err(SettingsError::new(&key("amount_minor"), format!("must be at most {MAX_AMOUNT_MINOR}")));
    }
    let description = text(&key("description"), &raw.description, 200)?;
    let tiers = raw.tiers.unwrap_or_default();
    if side == "friend" && !tiers.is_empty() {
        return Err(SettingsError::new(&key("tiers"), "tiers apply to the referrer's reward only"));
    }
    let mut previous = 0;
    let mut checked = Vec::with_capacity(tiers.len());
    for (i, t) in tiers.into_iter().enumerate() {
        let tkey = key(&format!("tiers[{i}]"));
        if t.from <= previous.max(1) {
            return Err(SettingsError::new(&tkey, "`from` must be at least 2 and strictly ascending"));
        }
        if t.amount_minor > MAX_AMOUNT_MINOR {
            return Err(SettingsError::new(&tkey, format!("amount_minor must be at most {MAX_AMOUNT_MINOR}")));
        }
        previous = t.from;
        checked.push(Tier { description: text(&format!("{tkey}.description"), &t.description, 200)?, ..t });
    }
    Ok((Reward { kind: raw.kind, amount_minor: raw.amount_minor, currency, description }, checked))
}

impl Settings {
    /// Parses and validates a settings file's text.
    pub fn parse(text_in: &str) -> Result<Self, SettingsError> {
        let de = toml::Deserializer::parse(text_in).map_err(|e| syntax_error(text_in, &e))?;
        let raw: RawFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().message().to_owned();
            SettingsError { key: key_of(&path, &message), message }
        })?;
        Self::validate(raw)
    }

    fn validate(raw: RawFile) -> Result<Self, SettingsError> {
        let links = Links {
            base_url: {
                let mut u = http_url("links.base_url", &raw.links.base_url)?;
                if u.query().is_some() {
                    return Err(SettingsError::new("links.base_url", "must not have a query"));
                }
                let trimmed = u.path().trim_end_matches('/').to_owned();
                u.set_path(&trimmed);
                u
            },
            landing_url: http_url("links.landing_url", &raw.links.landing_url)?,
            fallback_url: http_url("links.fallback_url", &raw.links.fallback_url)?,
            cookie_domain: raw
                .links
                .cookie_domain
                .as_deref()
                .map(|d| domain_name("links.cookie_domain", d, true))
                .transpose()?,
            max_clicks_per_ip_per_hour: at_least_one(
                "links.max_clicks_per_ip_per_hour",
                raw.links.max_clicks_per_ip_per_hour,
            )?,
        };
        let window = positive("attribution.window", raw.attribution.window)?;
        if window > Duration::from_secs(365 * 86_400) {
            return Err(SettingsError::new("attribution.window", "must be at most 365d"));
        }
        let (referrer, tiers) = reward("referrer", raw.rewards.referrer)?;
        let (friend, _) = reward("friend", raw.rewards.friend)?;
        let confirm_after = raw.rewards.confirm_after;
        if confirm_after > Duration::from_secs(365 * 86_400) {
            return Err(SettingsError::new("rewards.confirm_after", "must be at most 365d"));
        }
        let s = &raw.screen;
        let screen = Screen {
            max_clicks_per_code_per_hour: at_least_one(
                "screen.max_clicks_per_code_per_hour",
                s.max_clicks_per_code_per_hour,
            )?,
            max_signups_per_code_per_hour: at_least_one(
                "screen.max_signups_per_code_per_hour",
                s.max_signups_per_code_per_hour,
            )?,
            max_signups_per_ip_per_day: at_least_one(
                "screen.max_signups_per_ip_per_day",
                s.max_signups_per_ip_per_day,
            )?,
            min_click_to_conversion: s.min_click_to_conversion,
            max_conversions_per_referrer_per_day: at_least_one(
                "screen.max_conversions_per_referrer_per_day",
                s.max_conversions_per_referrer_per_day,
            )?,
            extra_disposable_domains: s
                .extra_disposable_domains
                .iter()
                .enumerate()
                .map(|(i, d)| domain_name(&format!("screen.extra_disposable_domains[{i}]"), d, false))
                .collect::<Result<_, _>>()?,
        };
        let messages = Messages {
            from_email: email("messages.from_email", &raw.messages.from_email)?,
            model_id: text("messages.model_id", &raw.messages.model_id, 200)?,
            model_timeout: {
                let t = raw.messages.model_timeout;
                if t.is_zero() || t > MAX_MODEL_TIMEOUT {
                    return Err(SettingsError::new(
                        "messages.model_timeout",
                        "must be more than 0s and at most 2s, so a mint still answers within 2.5s",
                    ));
                }
                t
            },
            max_invite_chars: {
                let n = raw.messages.max_invite_chars;
                if !(80..=2000).contains(&n) {
                    return Err(SettingsError::new("messages.max_invite_chars", "must be from 80 to 2000"));
                }
                n
            },
        };
        Ok(Settings {
            business: Business {
                name: text("business.name", &raw.business.name, 100)?,
                voice: text("business.voice", &raw.business.voice, 500)?,
            },
            links,
            attribution: Attribution { window, fingerprint_fallback: raw.attribution.fingerprint_fallback },
            rewards: Rewards { referrer, friend, tiers, confirm_after },
            screen,
            team: Team {
                email: email("team.email", &raw.team.email)?,
                members: raw
                    .team
                    .members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| email(&format!("team.members[{i}]"), m))
                    .collect::<Result<_, _>>()?,
                ops_link_ttl: positive("team.ops_link_ttl", raw.team.ops_link_ttl)?,
            },
            messages,
            store: store(raw.store)?,
            enrolment: Enrolment { on_first_order: raw.enrolment.on_first_order },
            sweep: Sweep { every: positive("sweep.every", raw.sweep.every)? },
            aws: Aws {
                edge_reserved_concurrency: {
                    let n = raw.aws.edge_reserved_concurrency;
                    if n > 1000 {
                        return Err(SettingsError::new("aws.edge_reserved_concurrency", "must be from 0 to 1000"));
                    }
                    n
                },
                queue_max_concurrency: {
                    let n = raw.aws.queue_max_concurrency;
                    if !(2..=1000).contains(&n) {
                        return Err(SettingsError::new(
                            "aws.queue_max_concurrency",
                            "must be from 2 to 1000 (Lambda's range for an SQS event source)",
                        ));
                    }
                    n
                },
            },
        })
    }

    /// The terms a code minted now would pin.
    pub fn terms(&self) -> Terms {
        Terms {
            referrer_reward: self.rewards.referrer.clone(),
            friend_reward: self.rewards.friend.clone(),
            window_secs: self.attribution.window.as_secs(),
            tiers: self.rewards.tiers.clone(),
        }
    }

    /// The public link for a code.
    pub fn link_for(&self, code: &crate::code::Code) -> String {
        format!("{}/r/{}", self.links.base_url.as_str().trim_end_matches('/'), code)
    }
}

/// Builds the dotted key an error is about from serde's path and message.
fn key_of(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(field)) => field.to_owned(),
        (p, Some(field)) if message.starts_with("missing") || !p.ends_with(field) => format!("{p}.{field}"),
        (p, _) => p.to_owned(),
    }
}

fn syntax_error(text_in: &str, e: &toml::de::Error) -> SettingsError {
    let line = e.span().map(|s| text_in[..s.start.min(text_in.len())].lines().count().max(1)).unwrap_or(0);
    SettingsError { key: format!("line {line}"), message: e.message().to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example settings file.
    pub const EXAMPLE: &str = include_str!("../../../settings.example.toml");

    fn err(replace: &str, with: &str) -> SettingsError {
        assert!(EXAMPLE.contains(replace), "{replace}");
        Settings::parse(&EXAMPLE.replacen(replace, with, 1)).unwrap_err()
    }

    #[test]
    fn the_example_parses() {
        let s = Settings::parse(EXAMPLE).unwrap();
        assert_eq!(s.attribution.window, Duration::from_secs(30 * 86_400));
        assert_eq!(s.terms().window_secs, 2_592_000);
        assert_eq!(s.rewards.tiers.len(), 1);
        assert_eq!(s.link_for(&crate::code::Code::parse("7QK2A9").unwrap()), "https://refer.freshbox.uk/r/7QK2A9");
        assert_eq!(s.messages.model_timeout, Duration::from_secs(2));
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(err("[sweep]", "[sweep]\nevery_other = \"1h\"").key, "sweep.every_other");
        assert_eq!(err("[business]", "[colour]\nx = 1\n[business]").key, "colour");
    }

    #[test]
    fn missing_keys_are_named() {
        assert_eq!(err("window = \"30d\"", "").key, "attribution.window");
        assert_eq!(err("reward_url = \"https://api.freshbox.uk/referral-rewards\"", "").key, "store.reward_url");
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(err("window = \"30d\"", "window = \"a month\"").key, "attribution.window");
        assert_eq!(err("window = \"30d\"", "window = 30").key, "attribution.window");
        assert_eq!(
            err("landing_url = \"https://freshbox.uk/signup\"", "landing_url = \"ftp://x\"").key,
            "links.landing_url"
        );
        assert_eq!(err("currency = \"GBP\"", "currency = \"POUNDS\"").key, "rewards.referrer.currency");
        assert_eq!(err("model_timeout = \"2s\"", "model_timeout = \"5s\"").key, "messages.model_timeout");
        assert_eq!(err("email = \"referrals@freshbox.uk\"", "email = \"nobody\"").key, "team.email");
        assert_eq!(err("kind = \"credit\"", "kind = \"cash\"").key, "rewards.referrer.kind");
        assert_eq!(err("from = 3", "from = 1").key, "rewards.referrer.tiers[0]");
        assert_eq!(
            err("max_signups_per_ip_per_day = 3", "max_signups_per_ip_per_day = -3").key,
            "screen.max_signups_per_ip_per_day"
        );
        assert!(err("[business]", "[business\n").key.starts_with("line "));
    }

    const REWARD_URL: &str = "reward_url = \"https://api.freshbox.uk/referral-rewards\"";

    /// The example's `[store]` table replaced by `store` (its `kind` line and its reward URL).
    fn with_store(store: &str) -> Result<Settings, SettingsError> {
        assert!(EXAMPLE.contains(REWARD_URL));
        Settings::parse(&without_kind(EXAMPLE).replacen(REWARD_URL, store, 1))
    }

    /// The example without its `store.kind` line (the default is the same).
    fn without_kind(text: &str) -> String {
        text.lines().filter(|l| !l.starts_with("kind = \"webhooks\"")).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_store_defaults_to_our_own_webhooks_and_the_new_sections_to_off() {
        let s = Settings::parse(EXAMPLE).unwrap();
        assert_eq!(s.store.kind, StoreKind::Webhooks);
        assert_eq!(s.store.reward_url.unwrap().as_str(), "https://api.freshbox.uk/referral-rewards");
        assert_eq!((s.store.stripe, s.store.shopify), (None, None));
        assert_eq!(s.rewards.confirm_after, Duration::ZERO);
        assert!(!s.enrolment.on_first_order);
    }

    #[test]
    fn a_stripe_store_needs_no_reward_url_and_has_defaults() {
        let s = with_store("kind = \"stripe\"").unwrap();
        let stripe = s.store.stripe.unwrap();
        assert_eq!(stripe.api_base.as_str(), "https://api.stripe.com/");
        assert_eq!(stripe.referrer_reward, StripeReferrerReward::Balance);
        assert_eq!(s.store.reward_url, None);
        let s = with_store(
            "kind = \"stripe\"\n[store.stripe]\napi_base = \"http://127.0.0.1:9000/\"\nreferrer_reward = \"promotion_code\"",
        )
        .unwrap();
        let stripe = s.store.stripe.unwrap();
        assert_eq!(stripe.api_base.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(stripe.referrer_reward, StripeReferrerReward::PromotionCode);
    }

    #[test]
    fn a_shopify_store_names_its_shop() {
        let s = with_store("kind = \"shopify\"\n[store.shopify]\nshop = \"FreshBox.myshopify.com\"").unwrap();
        let shop = s.store.shopify.unwrap();
        assert_eq!(shop.shop, "freshbox.myshopify.com");
        assert_eq!(shop.api_version, "2025-10");
        assert_eq!(shop.api_base.as_str(), "https://freshbox.myshopify.com/");
        assert_eq!(shop.referrer_reward, ShopifyReferrerReward::StoreCredit);
        let s = with_store(
            "kind = \"shopify\"\n[store.shopify]\nshop = \"freshbox.myshopify.com\"\napi_version = \"2026-01\"\n\
             api_base = \"http://127.0.0.1:9001\"\nreferrer_reward = \"discount_code\"",
        )
        .unwrap();
        let shop = s.store.shopify.unwrap();
        assert_eq!((shop.api_version.as_str(), shop.api_base.as_str()), ("2026-01", "http://127.0.0.1:9001/"));
        assert_eq!(shop.referrer_reward, ShopifyReferrerReward::DiscountCode);
    }

    #[test]
    fn store_mistakes_are_named() {
        let key = |store: &str| with_store(store).unwrap_err().key;
        assert_eq!(key("kind = \"woo\""), "store.kind");
        assert_eq!(key("kind = \"webhooks\""), "store.reward_url");
        assert_eq!(key("kind = \"shopify\""), "store.shopify.shop");
        assert_eq!(key("kind = \"shopify\"\n[store.shopify]\napi_version = \"2025-10\""), "store.shopify.shop");
        assert_eq!(key("kind = \"shopify\"\n[store.shopify]\nshop = \"freshbox.uk\""), "store.shopify.shop");
        assert_eq!(
            key("kind = \"shopify\"\n[store.shopify]\nshop = \"a.myshopify.com\"\napi_version = \"2025-11\""),
            "store.shopify.api_version"
        );
        assert_eq!(
            key("kind = \"stripe\"\n[store.stripe]\nreferrer_reward = \"cash\""),
            "store.stripe.referrer_reward"
        );
        assert_eq!(key("kind = \"stripe\"\n[store.stripe]\napi_base = \"ftp://x\""), "store.stripe.api_base");
        assert_eq!(key("kind = \"stripe\"\n[store.stripe]\napi_key = \"sk_live\""), "store.stripe.api_key");
        // Another kind's section is still checked.
        assert_eq!(
            key(&format!("{REWARD_URL}\n[store.stripe]\nreferer_reward = \"balance\"")),
            "store.stripe.referer_reward"
        );
    }

    #[test]
    fn confirm_after_and_enrolment_are_read() {
        let s = Settings::parse(&EXAMPLE.replacen("confirm_after = \"0s\"", "confirm_after = \"14d\"", 1).replacen(
            "on_first_order = false",
            "on_first_order = true",
            1,
        ))
        .unwrap();
        assert_eq!(s.rewards.confirm_after, Duration::from_secs(14 * 86_400));
        assert!(s.enrolment.on_first_order);
        assert_eq!(err("confirm_after = \"0s\"", "confirm_after = \"soon\"").key, "rewards.confirm_after");
        assert_eq!(err("confirm_after = \"0s\"", "confirm_after = \"400d\"").key, "rewards.confirm_after");
        assert_eq!(err("on_first_order = false", "on_first_order = \"yes\"").key, "enrolment.on_first_order");
        assert_eq!(err("on_first_order = false", "on_first = true").key, "enrolment.on_first");
    }

    #[test]
    fn the_aws_capacity_has_defaults_and_ranges() {
        let s = Settings::parse(EXAMPLE).unwrap();
        assert_eq!((s.aws.edge_reserved_concurrency, s.aws.queue_max_concurrency), (20, 2));
        let without = EXAMPLE.split("\n[aws]").next().unwrap();
        assert_eq!(Settings::parse(without).unwrap().aws, s.aws, "[aws] is optional");
        assert_eq!(err("queue_max_concurrency = 2", "queue_max_concurrency = 1").key, "aws.queue_max_concurrency");
        assert_eq!(
            err("edge_reserved_concurrency = 20", "edge_reserved_concurrency = 5000").key,
            "aws.edge_reserved_concurrency"
        );
        assert_eq!(err("[aws]", "[aws]\nprovisioned = 1").key, "aws.provisioned");
    }

    #[test]
    fn team_members_may_sign_in_by_their_whole_address() {
        let s = Settings::parse(EXAMPLE).unwrap();
        assert!(s.team.members.is_empty(), "team.members is optional");
        let with = EXAMPLE.replace("ops_link_ttl = \"7d\"", "members = [\"Owner@FreshBox.uk\"]\nops_link_ttl = \"7d\"");
        let s = Settings::parse(&with).unwrap();
        assert_eq!(
            s.team.member(" owner@freshbox.uk ").map(|e| e.as_str()),
            Some("Owner@freshbox.uk"),
            "spelled as the settings do"
        );
        assert_eq!(s.team.member("REFERRALS@freshbox.uk").map(|e| e.as_str()), Some("referrals@freshbox.uk"));
        assert_eq!(s.team.member("owner+x@freshbox.uk"), None, "no +tag folding: it could be someone else's box");
        assert_eq!(s.team.member("stranger@example.com"), None);
        assert_eq!(err("ops_link_ttl = \"7d\"", "members = [\"nope\"]\nops_link_ttl = \"7d\"").key, "team.members[0]");
    }

    #[test]
    fn the_message_reads_well() {
        let e = err("window = \"30d\"", "window = \"a month\"");
        assert!(e.to_string().starts_with("settings: `attribution.window`: expected a duration"), "{e}");
    }
}
