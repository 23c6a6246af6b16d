//! The screen as a service (`rft-screen`): gathers the velocity facts for a case, runs the
//! rules, and emails the team about holds.

use std::sync::Arc;

use async_trait::async_trait;

use crate::links::{Action, LinkSigner, decision_url, queue_url};
use crate::messages::email_html;
use crate::ports::{
    Channel, ClickStore, Counters, MessageKind, Messenger, OutboundMessage, ScreenCase, ScreenError, Screener,
};
use crate::referral::Referral;
use crate::screen::{Facts, Stage, Verdict, evaluate};
use crate::service::velocity::{self, CONVERSIONS_PER_REFERRER, DAY, HOUR, SIGNUPS_PER_CODE, SIGNUPS_PER_IP};
use crate::settings::Settings;
use crate::time::Clock;

/// The screen service.
pub struct ScreenService {
    clicks: Arc<dyn ClickStore>,
    counters: Arc<dyn Counters>,
    messenger: Arc<dyn Messenger>,
    settings: Arc<Settings>,
    links: LinkSigner,
    clock: Arc<dyn Clock>,
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> ScreenError {
    ScreenError(Box::new(e))
}

impl ScreenService {
    /// A screen over its ports; `links` signs the ops links in hold emails.
    pub fn new(
        clicks: Arc<dyn ClickStore>,
        counters: Arc<dyn Counters>,
        messenger: Arc<dyn Messenger>,
        settings: Arc<Settings>,
        links: LinkSigner,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ScreenService { clicks, counters, messenger, settings, links, clock }
    }

    /// An ops link for one decision on one referral, valid for the configured lifetime.
    pub fn ops_link(&self, referral: &Referral, action: Action) -> String {
        let exp = self.clock.now().plus(self.settings.team.ops_link_ttl);
        decision_url(self.settings.links.base_url.as_str(), &self.links, &referral.referral_id, action, exp)
    }
}

#[async_trait]
impl Screener for ScreenService {
    async fn screen(&self, case: &ScreenCase) -> Result<Verdict, ScreenError> {
        let counters = self.counters.as_ref();
        let at = case.at;
        let mut facts = Facts {
            friend_id: Some(case.friend_id.clone()),
            referrer_id: Some(case.referrer_id.clone()),
            friend: case.friend.clone(),
            referrer: case.referrer.clone(),
            email_domain: case.email_domain.clone(),
            method: Some(case.method),
            code_clicks_last_hour: self.clicks.count_for_code(&case.code, at.minus(HOUR), at).await.map_err(failed)?,
            ..Facts::default()
        };
        match case.stage {
            Stage::Signup => {
                facts.code_signups_last_hour =
                    velocity::sliding(counters, SIGNUPS_PER_CODE, case.code.as_str(), HOUR, at)
                        .await
                        .map_err(failed)?;
                if let Some(ip) = &case.friend.ip {
                    facts.ip_signups_last_day =
                        velocity::sliding(counters, SIGNUPS_PER_IP, ip.as_str(), DAY, at).await.map_err(failed)?;
                }
            }
            Stage::Conversion => {
                facts.touch_to_conversion = Some(at.since(case.touched_at));
                facts.referrer_conversions_last_day =
                    velocity::sliding(counters, CONVERSIONS_PER_REFERRER, case.referrer_id.as_str(), DAY, at)
                        .await
                        .map_err(failed)?;
            }
        }
        Ok(evaluate(case.stage, &facts, &self.settings.screen))
    }

    async fn notify_hold(&self, referral: &Referral) -> Result<(), ScreenError> {
        let business = &self.settings.business.name;
        let approve = self.ops_link(referral, Action::Approve);
        let reject = self.ops_link(referral, Action::Reject);
        let reasons: Vec<String> = referral.evidence.iter().map(|e| format!("{}: {}", e.rule, e.detail)).collect();
        let subject = format!("Referral held for review: {}", referral.reasons().join(", "));
        let mut lines = vec![
            format!("Referrer: {} (code {})", referral.referrer_id, referral.code),
            format!("Referred customer: {}", referral.referred_id),
            format!("Attributed by: {:?}, at {}", referral.method, referral.touched_at),
            "Why it was held:".to_owned(),
        ];
        lines.extend(reasons.iter().map(|r| format!("- {r}")));
        let exp = self.clock.now().plus(self.settings.team.ops_link_ttl);
        let queue = queue_url(self.settings.links.base_url.as_str(), &self.links, exp);
        let text = format!(
            "{}\n\nApprove (pays if the friend has converted, else returns it to pending):\n{approve}\n\nReject (final):\n{reject}\n\nEach link opens a page with a confirm button; nothing changes until you press it.\n\nEverything waiting for a person:\n{queue}\n",
            lines.join("\n")
        );
        let html_lines = lines.clone();
        let message = OutboundMessage {
            channel: Channel::Email,
            to: self.settings.team.email.to_string(),
            subject: subject.clone(),
            body: text,
            html: Some(email_html(
                business,
                &subject,
                &html_lines,
                &[
                    ("Review and approve", &approve, false),
                    ("Review and reject", &reject, true),
                    ("See the review queue", &queue, true),
                ],
            )),
            kind: MessageKind::HoldReview,
        };
        self.messenger.send(&message).await.map_err(failed)
    }
}
