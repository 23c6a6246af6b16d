//! The fraud screen: deterministic rules over facts, each giving pass, hold or block with the
//! numbers behind it (docs/invariants.md, invariant 5). No rule is left to a model, and nothing held pays without a
//! person.

use std::time::Duration;

use crate::identity::{Field, HashedIdentity};
use crate::ids::CustomerId;
use crate::referral::{Evidence, Method, Outcome};
use crate::settings;

/// Where in the lifecycle the screen runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// A sign-up about to open a referral.
    Signup,
    /// A conversion about to pay.
    Conversion,
}

/// Everything the rules look at, gathered by the screen service.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    /// The referred customer.
    pub friend_id: Option<CustomerId>,
    /// The referrer.
    pub referrer_id: Option<CustomerId>,
    /// The friend's hashed identity (email, card, device, address, IP).
    pub friend: HashedIdentity,
    /// The referrer's hashed identity, captured at mint.
    pub referrer: HashedIdentity,
    /// The friend's email domain.
    pub email_domain: Option<String>,
    /// How the referral was attributed.
    pub method: Option<Method>,
    /// Clicks on the code in the last hour.
    pub code_clicks_last_hour: u64,
    /// Sign-ups through the code in the last hour (this one included).
    pub code_signups_last_hour: u32,
    /// Sign-ups from the friend's IP in the last day (this one included).
    pub ip_signups_last_day: u32,
    /// Time from the credited touch to the conversion, at conversion.
    pub touch_to_conversion: Option<Duration>,
    /// The referrer's friends' conversions in the last day (this one included), at conversion.
    pub referrer_conversions_last_day: u32,
}

/// The screen's answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// The strictest outcome of any rule.
    pub outcome: Outcome,
    /// Every rule that fired.
    pub evidence: Vec<Evidence>,
    /// Whether a code-velocity rule fired (the code is flagged for a person).
    pub flag_code: bool,
}

impl Verdict {
    /// A clean verdict.
    pub fn pass() -> Self {
        Verdict { outcome: Outcome::Pass, evidence: Vec::new(), flag_code: false }
    }
}

/// Disposable-mail domains known at build time; settings add more.
pub const DISPOSABLE_DOMAINS: &[&str] = &[
    "10minutemail.com",
    "20minutemail.com",
    "33mail.com",
    "anonbox.net",
    "burnermail.io",
    "byom.de",
    "mailnesia.com",
    "discard.email",
    "dispostable.com",
    "dropmail.me",
    "emailondeck.com",
    "fakeinbox.com",
    "getairmail.com",
    "getnada.com",
    "grr.la",
    "guerrillamail.biz",
    "guerrillamail.com",
    "guerrillamail.de",
    "guerrillamail.info",
    "guerrillamail.net",
    "guerrillamail.org",
    "guerrillamailblock.com",
    "harakirimail.com",
    "incognitomail.org",
    "jetable.org",
    "mail-temp.com",
    "mail.tm",
    "mailcatch.com",
    "maildrop.cc",
    "mailinator.com",
    "mailinator.net",
    "mailpoof.com",
    "mailsac.com",
    "mintemail.com",
    "mohmal.com",
    "moakt.com",
    "mytemp.email",
    "nada.email",
    "pokemail.net",
    "sharklasers.com",
    "spam4.me",
    "spamgourmet.com",
    "spambox.us",
    "temp-mail.io",
    "temp-mail.org",
    "tempail.com",
    "tempinbox.com",
    "tempmail.com",
    "tempmail.dev",
    "tempmail.net",
    "tempmailo.com",
    "tempr.email",
    "throwawaymail.com",
    "trash-mail.com",
    "trashmail.com",
    "trashmail.de",
    "trashmail.net",
    "yopmail.com",
    "yopmail.fr",
    "yopmail.net",
    "emailfake.com",
    "fakemail.net",
    "mvrht.net",
    "spamdecoy.net",
    "inboxkitten.com",
    "tmail.ws",
    "tmpmail.org",
    "tmpmail.net",
    "linshiyouxiang.net",
    "1secmail.com",
];

/// Whether `domain` (or a parent of it) is a disposable-mail domain.
pub fn is_disposable(domain: &str, extra: &[String]) -> bool {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let listed = |known: &str| d == known || d.ends_with(&format!(".{known}"));
    DISPOSABLE_DOMAINS.iter().any(|k| listed(k)) || extra.iter().any(|k| listed(k))
}

fn field_names(fields: &[Field]) -> String {
    let names: Vec<&str> = fields
        .iter()
        .map(|f| match f {
            Field::Payment => "payment fingerprint",
            Field::Device => "device",
            Field::Address => "address",
            Field::Email => "email",
            Field::Ip => "IP",
            Field::Browser => "browser",
        })
        .collect();
    names.join(" and ")
}

/// Runs every rule. Thresholds are "more than": at the limit passes, one over holds.
pub fn evaluate(stage: Stage, facts: &Facts, rules: &settings::Screen) -> Verdict {
    let mut evidence = Vec::new();
    let mut fire = |rule: &str, outcome: Outcome, detail: String| {
        evidence.push(Evidence { rule: rule.to_owned(), outcome, detail });
    };
    if let (Some(friend), Some(referrer)) = (&facts.friend_id, &facts.referrer_id)
        && friend == referrer
    {
        fire("self_referral", Outcome::Block, format!("the referred customer {friend} is the referrer"));
    }
    // A shared IP or browser alone is a household or an office, not a person.
    let matched: Vec<Field> = facts
        .referrer
        .matches(&facts.friend)
        .into_iter()
        .filter(|f| !matches!(f, Field::Ip | Field::Browser))
        .collect();
    let card_and_device = matched.contains(&Field::Payment) && matched.contains(&Field::Device);
    if card_and_device {
        fire("same_payment_and_device", Outcome::Block, "same payment fingerprint and device as the referrer".into());
    } else if !matched.is_empty() {
        fire("identity_match", Outcome::Hold, format!("same {} as the referrer", field_names(&matched)));
    }
    let mut flag_code = false;
    if facts.code_clicks_last_hour > u64::from(rules.max_clicks_per_code_per_hour) {
        flag_code = true;
        fire(
            "code_click_velocity",
            Outcome::Hold,
            format!(
                "{} clicks on the code in the last hour, limit {}",
                facts.code_clicks_last_hour, rules.max_clicks_per_code_per_hour
            ),
        );
    }
    if stage == Stage::Signup && facts.code_signups_last_hour > rules.max_signups_per_code_per_hour {
        flag_code = true;
        fire(
            "code_signup_velocity",
            Outcome::Hold,
            format!(
                "{} sign-ups through the code in the last hour, limit {}",
                facts.code_signups_last_hour, rules.max_signups_per_code_per_hour
            ),
        );
    }
    if stage == Stage::Signup && facts.ip_signups_last_day > rules.max_signups_per_ip_per_day {
        fire(
            "ip_signup_velocity",
            Outcome::Hold,
            format!(
                "{} sign-ups from one IP in the last day, limit {}",
                facts.ip_signups_last_day, rules.max_signups_per_ip_per_day
            ),
        );
    }
    if let Some(domain) = &facts.email_domain
        && is_disposable(domain, &rules.extra_disposable_domains)
    {
        fire("disposable_email", Outcome::Hold, format!("{domain} is a disposable email domain"));
    }
    if facts.method == Some(Method::Fingerprint) {
        fire("fingerprint_match", Outcome::Hold, "attributed by IP and user agent only".into());
    }
    if stage == Stage::Conversion {
        // A typed code has no click to measure from: at a connected store's checkout the code
        // is typed in the same moment the order is paid. A credit by hand is a person's word,
        // usually given after the order it is about.
        if let Some(gap) = facts.touch_to_conversion
            && gap < rules.min_click_to_conversion
            && !matches!(facts.method, Some(Method::Code | Method::Manual))
        {
            fire(
                "quick_conversion",
                Outcome::Hold,
                format!(
                    "converted {}s after the touch, minimum {}s",
                    gap.as_secs(),
                    rules.min_click_to_conversion.as_secs()
                ),
            );
        }
        if facts.referrer_conversions_last_day > rules.max_conversions_per_referrer_per_day {
            fire(
                "referrer_conversion_velocity",
                Outcome::Hold,
                format!(
                    "{} conversions for the referrer in the last day, limit {}",
                    facts.referrer_conversions_last_day, rules.max_conversions_per_referrer_per_day
                ),
            );
        }
    }
    let outcome = evidence.iter().map(|e| e.outcome).max().unwrap_or(Outcome::Pass);
    Verdict { outcome, evidence, flag_code }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityHash;

    fn rules() -> settings::Screen {
        settings::Screen {
            max_clicks_per_code_per_hour: 50,
            max_signups_per_code_per_hour: 5,
            max_signups_per_ip_per_day: 3,
            min_click_to_conversion: Duration::from_secs(30),
            max_conversions_per_referrer_per_day: 10,
            extra_disposable_domains: vec!["spam.example".into()],
        }
    }

    fn h(s: &str) -> Option<IdentityHash> {
        Some(IdentityHash::from_stored(s.into()))
    }

    fn rules_fired(stage: Stage, facts: &Facts) -> (Outcome, Vec<String>) {
        let v = evaluate(stage, facts, &rules());
        (v.outcome, v.evidence.into_iter().map(|e| e.rule).collect())
    }

    #[test]
    fn a_clean_referral_passes() {
        assert_eq!(rules_fired(Stage::Signup, &Facts::default()), (Outcome::Pass, vec![]));
    }

    #[test]
    fn the_referrer_themselves_is_blocked() {
        let id = CustomerId::parse("c_dan").ok();
        let facts = Facts { friend_id: id.clone(), referrer_id: id, ..Default::default() };
        assert_eq!(rules_fired(Stage::Signup, &facts), (Outcome::Block, vec!["self_referral".into()]));
    }

    #[test]
    fn same_card_and_device_blocks_one_match_holds() {
        let referrer = HashedIdentity { payment: h("card"), device: h("phone"), ..Default::default() };
        let both = Facts { referrer: referrer.clone(), friend: referrer.clone(), ..Default::default() };
        assert_eq!(rules_fired(Stage::Signup, &both), (Outcome::Block, vec!["same_payment_and_device".into()]));
        for friend in [
            HashedIdentity { payment: h("card"), ..Default::default() },
            HashedIdentity { device: h("phone"), ..Default::default() },
            HashedIdentity { address: h("home"), ..Default::default() },
            HashedIdentity { email: h("mail"), ..Default::default() },
        ] {
            let referrer = HashedIdentity { address: h("home"), email: h("mail"), ..referrer.clone() };
            let facts = Facts { referrer, friend, ..Default::default() };
            assert_eq!(rules_fired(Stage::Signup, &facts), (Outcome::Hold, vec!["identity_match".into()]));
        }
        let shared_ip = HashedIdentity { ip: h("wifi"), ..Default::default() };
        let facts = Facts { referrer: shared_ip.clone(), friend: shared_ip, ..Default::default() };
        assert_eq!(rules_fired(Stage::Signup, &facts).0, Outcome::Pass, "a shared IP alone is a household, not fraud");
    }

    #[test]
    fn velocity_rules_fire_one_over_the_limit() {
        let at = |clicks, signups, ip| Facts {
            code_clicks_last_hour: clicks,
            code_signups_last_hour: signups,
            ip_signups_last_day: ip,
            ..Default::default()
        };
        assert_eq!(rules_fired(Stage::Signup, &at(50, 5, 3)).0, Outcome::Pass);
        assert_eq!(rules_fired(Stage::Signup, &at(51, 5, 3)).1, ["code_click_velocity"]);
        assert_eq!(rules_fired(Stage::Signup, &at(50, 6, 3)).1, ["code_signup_velocity"]);
        assert_eq!(rules_fired(Stage::Signup, &at(50, 5, 4)).1, ["ip_signup_velocity"]);
        assert!(evaluate(Stage::Signup, &at(51, 5, 3), &rules()).flag_code);
        assert!(!evaluate(Stage::Signup, &at(50, 5, 4), &rules()).flag_code);
    }

    #[test]
    fn disposable_domains_hold_including_subdomains_and_extras() {
        let facts = |d: &str| Facts { email_domain: Some(d.into()), ..Default::default() };
        assert_eq!(rules_fired(Stage::Signup, &facts("mailinator.com")).1, ["disposable_email"]);
        assert_eq!(rules_fired(Stage::Signup, &facts("eu.mailinator.com")).1, ["disposable_email"]);
        assert_eq!(rules_fired(Stage::Signup, &facts("spam.example")).1, ["disposable_email"]);
        assert_eq!(rules_fired(Stage::Signup, &facts("notmailinator.com")).0, Outcome::Pass);
    }

    #[test]
    fn conversion_rules_apply_at_conversion_only() {
        let quick = Facts { touch_to_conversion: Some(Duration::from_secs(29)), ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &quick).1, ["quick_conversion"]);
        assert_eq!(rules_fired(Stage::Signup, &quick).0, Outcome::Pass);
        let ok = Facts { touch_to_conversion: Some(Duration::from_secs(30)), ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &ok).0, Outcome::Pass);
        let typed_at_checkout =
            Facts { touch_to_conversion: Some(Duration::ZERO), method: Some(Method::Code), ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &typed_at_checkout).0, Outcome::Pass);
        // Credited by hand after the order it is about: there is no touch to measure from.
        let by_hand =
            Facts { touch_to_conversion: Some(Duration::ZERO), method: Some(Method::Manual), ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &by_hand).0, Outcome::Pass);
        let busy = Facts { referrer_conversions_last_day: 11, ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &busy).1, ["referrer_conversion_velocity"]);
        let ten = Facts { referrer_conversions_last_day: 10, ..Default::default() };
        assert_eq!(rules_fired(Stage::Conversion, &ten).0, Outcome::Pass);
    }

    #[test]
    fn fingerprint_attributions_are_always_held() {
        let facts = Facts { method: Some(Method::Fingerprint), ..Default::default() };
        assert_eq!(rules_fired(Stage::Signup, &facts).1, ["fingerprint_match"]);
    }
}
