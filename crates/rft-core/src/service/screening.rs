//! The screen as a service (`rft-screen`): gathers the velocity facts for a case, runs the
//! rules, and emails the team about holds.

use std::sync::Arc;

use async_trait::async_trait;

use crate::links::LinkSigner;
use crate::ports::{Counters, Messenger, ScreenCase, ScreenError, Screener};
use crate::referral::Referral;
use crate::rollup;
use crate::screen::{Facts, Stage, Verdict, evaluate};
use crate::service::velocity::{self, CONVERSIONS_PER_REFERRER, DAY, HOUR, SIGNUPS_PER_CODE, SIGNUPS_PER_IP};
use crate::settings::Settings;
use crate::time::Clock;

/// The screen service.
pub struct ScreenService {
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
    /// A screen over its ports; `links` signs the ops links in hold emails. Velocity is read
    /// from counters only: a code's clicks in the last hour from its rollup rows (one read
    /// however many clicks it had), sign-ups and conversions from their buckets.
    pub fn new(
        counters: Arc<dyn Counters>,
        messenger: Arc<dyn Messenger>,
        settings: Arc<Settings>,
        links: LinkSigner,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ScreenService { counters, messenger, settings, links, clock }
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
            code_clicks_last_hour: rollup::code_clicks_last_hour(counters, &case.code, at).await.map_err(failed)?,
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
                // The rewarder counts a conversion once its outcome is written, so this one is
                // not among them yet.
                facts.referrer_conversions_last_day =
                    velocity::sliding(counters, CONVERSIONS_PER_REFERRER, case.referrer_id.as_str(), DAY, at)
                        .await
                        .map_err(failed)?
                        + 1;
            }
        }
        Ok(evaluate(case.stage, &facts, &self.settings.screen))
    }

    async fn notify_hold(&self, referral: &Referral) -> Result<(), ScreenError> {
        let message = crate::team_mail::hold_review(&self.settings, &self.links, referral, self.clock.now());
        self.messenger.send(&message).await.map_err(failed)
    }
}
