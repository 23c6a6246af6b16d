//! Words: the briefs the model gets, the checks its drafts must pass, the templates used when it
//! is slow or wrong, and email-safe HTML. The model writes words only; links and amounts are
//! put in by code (docs/invariants.md, invariant 8).

use crate::settings::Settings;

/// The placeholder the model writes where the link goes.
pub const LINK_PLACEHOLDER: &str = "{{link}}";

/// Why a draft was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftRejected {
    /// The placeholder is missing or repeated.
    #[error("the draft must contain {LINK_PLACEHOLDER} exactly once, found {0}")]
    Placeholder(usize),
    /// The draft carries a URL or domain of its own.
    #[error("the draft contains a URL of its own")]
    ForeignUrl,
    /// Too long once the real link is in.
    #[error("the draft is {0} characters, over the limit")]
    TooLong(usize),
    /// Empty, or control characters.
    #[error("the draft is empty or has control characters")]
    Malformed,
}

/// Whether `text` contains something a reader would take for a link or a domain.
fn has_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.contains("://") || lower.contains("www.") || lower.contains("mailto:") {
        return true;
    }
    // A word with a dot between letters and at least two letters after it: "freshbox.uk/x".
    lower.split(|c: char| c.is_whitespace()).any(|word| {
        let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        w.split_once('.').is_some_and(|(head, tail)| {
            !head.is_empty()
                && head.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
                && tail.chars().take_while(|c| c.is_ascii_alphabetic()).count() >= 2
        })
    })
}

/// Checks a model draft and puts the real link in. The length limit applies to what the
/// customer will actually send.
pub fn accept_draft(draft: &str, link: &str, max_chars: usize) -> Result<String, DraftRejected> {
    let draft = draft.trim().trim_matches(|c| c == '"' || c == '\u{201c}' || c == '\u{201d}').trim();
    if draft.is_empty() || draft.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DraftRejected::Malformed);
    }
    let placeholders = draft.matches(LINK_PLACEHOLDER).count();
    if placeholders != 1 {
        return Err(DraftRejected::Placeholder(placeholders));
    }
    if has_url(&draft.replace(LINK_PLACEHOLDER, " ")) {
        return Err(DraftRejected::ForeignUrl);
    }
    let text = draft.replace(LINK_PLACEHOLDER, link);
    let n = text.chars().count();
    if n > max_chars {
        return Err(DraftRejected::TooLong(n));
    }
    Ok(text)
}

/// The brief for an invite: the voice, the friend's reward, the placeholder.
pub fn invite_brief(settings: &Settings) -> crate::ports::DraftRequest {
    crate::ports::DraftRequest {
        system: format!(
            "You write short messages for {business}, in this voice: {voice}. \
             You never invent offers, prices, codes or links.",
            business = settings.business.name,
            voice = settings.business.voice,
        ),
        prompt: format!(
            "Write one short message (one or two sentences, under {max} characters) that a happy \
             customer of {business} can send to a friend. It offers the friend this: {reward}. \
             Write {placeholder} exactly once where the link goes, and no other link or web address. \
             Reply with the message only.",
            max = settings.messages.max_invite_chars.saturating_sub(60),
            business = settings.business.name,
            reward = settings.rewards.friend.description,
            placeholder = LINK_PLACEHOLDER,
        ),
        max_tokens: 200,
    }
}

/// The invite used when the model is slow or its draft fails a check.
pub fn invite_template(settings: &Settings, link: &str) -> String {
    format!(
        "I've been using {business} and I think you'd like it too. Here's {reward}: {link}",
        business = settings.business.name,
        reward = settings.rewards.friend.description,
    )
}

/// Escapes text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A button in an email: label, URL, and whether it is the quiet (secondary) one.
pub type EmailButton<'a> = (&'a str, &'a str, bool);

/// An email-safe HTML message: one centred 600px table, inline styles, text-only branding, a
/// colour scheme that reads in light and dark clients, and its buttons (the first filled, a
/// secondary one outlined).
pub fn email_html(business: &str, heading: &str, paragraphs: &[String], buttons: &[EmailButton<'_>]) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| {
            format!(
                "<p style=\"margin:0 0 16px 0;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:24px;color:#1f2937;\">{}</p>",
                escape_html(p)
            )
        })
        .collect();
    let buttons: String = buttons
        .iter()
        .map(|(label, url, secondary)| {
            let (bg, fg, border) = if *secondary { ("#ffffff", "#991b1b", "#991b1b") } else { ("#166534", "#ffffff", "#166534") };
            format!(
                "<td style=\"padding:0 12px 12px 0;\"><table role=\"presentation\" cellspacing=\"0\" cellpadding=\"0\" border=\"0\"><tr>\
                 <td bgcolor=\"{bg}\" style=\"border-radius:6px;border:2px solid {border};\">\
                 <a href=\"{url}\" style=\"display:inline-block;padding:12px 24px;font-family:Arial,Helvetica,sans-serif;\
                 font-size:16px;font-weight:bold;color:{fg};text-decoration:none;border-radius:6px;\">{label}</a>\
                 </td></tr></table></td>",
                url = escape_html(url),
                label = escape_html(label)
            )
        })
        .collect();
    let buttons = if buttons.is_empty() {
        String::new()
    } else {
        format!(
            "<table role=\"presentation\" cellspacing=\"0\" cellpadding=\"0\" border=\"0\"><tr>{buttons}</tr></table>"
        )
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><meta name=\"supported-color-schemes\" content=\"light dark\">\
         <title>{title}</title></head>\
         <body style=\"margin:0;padding:0;background-color:#f3f4f6;\">\
         <table role=\"presentation\" width=\"100%\" cellspacing=\"0\" cellpadding=\"0\" border=\"0\" bgcolor=\"#f3f4f6\"><tr><td align=\"center\" style=\"padding:24px 12px;\">\
         <table role=\"presentation\" width=\"600\" cellspacing=\"0\" cellpadding=\"0\" border=\"0\" style=\"max-width:600px;width:100%;\">\
         <tr><td bgcolor=\"#14532d\" style=\"padding:20px 24px;font-family:Arial,Helvetica,sans-serif;font-size:22px;font-weight:bold;color:#ffffff;\">{brand}</td></tr>\
         <tr><td bgcolor=\"#ffffff\" style=\"padding:28px 24px;\">\
         <h1 style=\"margin:0 0 16px 0;font-family:Arial,Helvetica,sans-serif;font-size:22px;line-height:28px;color:#111827;\">{heading}</h1>\
         {body}{buttons}</td></tr>\
         <tr><td bgcolor=\"#14532d\" style=\"padding:16px 24px;font-family:Arial,Helvetica,sans-serif;font-size:12px;line-height:18px;color:#d1fae5;\">{brand} referrals</td></tr>\
         </table></td></tr></table></body></html>",
        title = escape_html(heading),
        brand = escape_html(business),
        heading = escape_html(heading),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://refer.freshbox.uk/r/7QK2A9";

    #[test]
    fn a_good_draft_gets_the_real_link() {
        let text =
            accept_draft("\"FreshBox saved my weeknights. £10 off your first box: {{link}}\"", LINK, 320).unwrap();
        assert_eq!(text, format!("FreshBox saved my weeknights. £10 off your first box: {LINK}"));
    }

    #[test]
    fn bad_drafts_are_refused() {
        assert_eq!(accept_draft("No link here", LINK, 320), Err(DraftRejected::Placeholder(0)));
        assert_eq!(accept_draft("{{link}} and {{link}}", LINK, 320), Err(DraftRejected::Placeholder(2)));
        for foreign in [
            "Go to https://evil.example {{link}}",
            "See www.freshbox.uk or {{link}}",
            "Visit freshbox.uk/deal {{link}}",
            "Mail me at dan@freshbox.co.uk {{link}}",
        ] {
            assert_eq!(accept_draft(foreign, LINK, 320), Err(DraftRejected::ForeignUrl), "{foreign}");
        }
        let long = format!("{} {{{{link}}}}", "word ".repeat(80));
        assert!(matches!(accept_draft(&long, LINK, 320), Err(DraftRejected::TooLong(_))));
        assert_eq!(accept_draft("  ", LINK, 320), Err(DraftRejected::Malformed));
        assert_eq!(accept_draft("a\u{7}b {{link}}", LINK, 320), Err(DraftRejected::Malformed));
    }

    #[test]
    fn prose_with_full_stops_is_not_a_url() {
        assert!(accept_draft("It's great. Honestly. Try it: {{link}}", LINK, 320).is_ok());
        assert!(accept_draft("Saved me £10.50 a week! {{link}}", LINK, 320).is_ok());
    }

    #[test]
    fn html_escapes_everything_it_is_given() {
        let html = email_html(
            "Fresh<Box>",
            "Hi \"you\"",
            &["<script>x</script>".into()],
            &[("Go", "https://x/?a=1&b=2", false)],
        );
        assert!(html.contains("Fresh&lt;Box&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("a=1&amp;b=2"));
    }
}

/// The placeholder a thank-you note carries where the reward's description goes.
pub const REWARD_PLACEHOLDER: &str = "{{reward}}";

/// The two thank-you notes, as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thanks {
    /// To the referrer.
    pub referrer: String,
    /// To the friend.
    pub friend: String,
}

/// What the notes may mention: first names and the rewards as the ledger holds them.
#[derive(Clone, Debug)]
pub struct ThanksFacts<'a> {
    /// The referrer's first name, if known.
    pub referrer_name: Option<&'a str>,
    /// The friend's first name, if known.
    pub friend_name: Option<&'a str>,
    /// The referrer's reward, from the ledger row.
    pub referrer_reward: &'a str,
    /// The friend's reward, from the ledger row.
    pub friend_reward: &'a str,
}

/// One brief for both notes. The model writes `{{reward}}` where each amount goes; the code
/// puts in the ledger's wording, so the model never states an amount.
pub fn thanks_brief(settings: &Settings, facts: &ThanksFacts<'_>) -> crate::ports::DraftRequest {
    let referrer = facts.referrer_name.unwrap_or("the customer who recommended us");
    let friend = facts.friend_name.unwrap_or("their friend");
    crate::ports::DraftRequest {
        system: format!(
            "You write short messages for {business}, in this voice: {voice}. \
             You never state amounts, prices, codes or links yourself.",
            business = settings.business.name,
            voice = settings.business.voice,
        ),
        prompt: format!(
            "Write two short thank-you notes (one or two sentences each). The first is to {referrer}, \
             whose friend {friend} has just become a customer; thank them for the recommendation. \
             The second is to {friend}, welcoming them. In each note write {placeholder} exactly once \
             where their reward goes. No links. Reply with exactly two lines, the first starting \
             \"Referrer:\" and the second starting \"Friend:\".",
            placeholder = REWARD_PLACEHOLDER,
        ),
        max_tokens: 300,
    }
}

fn accept_note(line: &str, reward: &str, max_chars: usize) -> Option<String> {
    let note = line.trim().trim_matches('"').trim();
    let ok = !note.is_empty()
        && note.matches(REWARD_PLACEHOLDER).count() == 1
        && !note.contains("{{link}}")
        && !has_url(&note.replace(REWARD_PLACEHOLDER, " "))
        && !note.chars().any(|c| c.is_control() || c.is_ascii_digit() || "£$€¥".contains(c));
    let text = note.replace(REWARD_PLACEHOLDER, reward);
    (ok && text.chars().count() <= max_chars).then_some(text)
}

/// Checks the model's two notes and puts the rewards in; `None` if either fails a check (the
/// templates are then used for both, so the two always read as a pair).
pub fn accept_thanks(draft: &str, facts: &ThanksFacts<'_>, max_chars: usize) -> Option<Thanks> {
    let mut referrer = None;
    let mut friend = None;
    for line in draft.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Referrer:") {
            referrer = accept_note(rest, facts.referrer_reward, max_chars);
        } else if let Some(rest) = line.strip_prefix("Friend:") {
            friend = accept_note(rest, facts.friend_reward, max_chars);
        }
    }
    Some(Thanks { referrer: referrer?, friend: friend? })
}

/// The notes used when the model is slow or wrong.
pub fn thanks_template(settings: &Settings, facts: &ThanksFacts<'_>) -> Thanks {
    let business = &settings.business.name;
    let hi = |name: Option<&str>| name.map(|n| format!("Hi {n}, ")).unwrap_or_else(|| "Hi, ".into());
    let friend = facts.friend_name.map(str::to_owned).unwrap_or_else(|| "your friend".into());
    Thanks {
        referrer: format!(
            "{}thank you for recommending {business}: {friend} has placed their first order, so {} is yours.",
            hi(facts.referrer_name),
            facts.referrer_reward
        ),
        friend: format!(
            "{}welcome to {business}! {} has been applied to your account.",
            hi(facts.friend_name),
            facts.friend_reward
        ),
    }
}

#[cfg(test)]
mod thanks_tests {
    use super::*;

    const FACTS: ThanksFacts<'static> = ThanksFacts {
        referrer_name: Some("Dan"),
        friend_name: Some("Mara"),
        referrer_reward: "£10 off your next box",
        friend_reward: "£10 off your first box",
    };

    #[test]
    fn good_notes_get_the_ledgers_rewards() {
        let draft =
            "Referrer: Thanks Dan, Mara's in! {{reward}} is yours.\nFriend: Welcome Mara, {{reward}} is applied.";
        let t = accept_thanks(draft, &FACTS, 320).unwrap();
        assert_eq!(t.referrer, "Thanks Dan, Mara's in! £10 off your next box is yours.");
        assert_eq!(t.friend, "Welcome Mara, £10 off your first box is applied.");
    }

    #[test]
    fn notes_with_amounts_of_their_own_urls_or_missing_parts_are_refused() {
        for bad in [
            "Referrer: Thanks! {{reward}}\n",
            "Referrer: Thanks!\nFriend: Welcome {{reward}}",
            "Referrer: Thanks {{reward}} {{reward}}\nFriend: Welcome {{reward}}",
            "Referrer: See freshbox.uk {{reward}}\nFriend: Welcome {{reward}}",
            "Just some text",
            "Referrer: Thanks, here's £20: {{reward}}\nFriend: Welcome {{reward}}",
        ] {
            assert_eq!(accept_thanks(bad, &FACTS, 320), None, "{bad}");
        }
    }
}
