//! `Screener` with a scripted verdict (a pass unless told otherwise), keeping the cases it saw
//! and the holds it was asked to email about.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{ScreenCase, ScreenError, Screener};
use crate::referral::{Evidence, Outcome, Referral};
use crate::screen::Verdict;

/// The screen, scripted.
pub(crate) struct ScriptedScreener {
    verdict: Mutex<Verdict>,
    cases: Mutex<Vec<ScreenCase>>,
    holds: Mutex<Vec<Referral>>,
}

impl Default for ScriptedScreener {
    fn default() -> Self {
        ScriptedScreener { verdict: Mutex::new(Verdict::pass()), cases: Mutex::default(), holds: Mutex::default() }
    }
}

impl ScriptedScreener {
    /// From now on one rule fires with `outcome`.
    pub fn finds(&self, rule: &str, outcome: Outcome) {
        let evidence = Evidence { rule: rule.to_owned(), outcome, detail: format!("{rule} fired in the test") };
        *self.verdict.lock().unwrap() = Verdict { outcome, evidence: vec![evidence], flag_code: false };
    }

    /// From now on every case passes.
    pub fn passes(&self) {
        *self.verdict.lock().unwrap() = Verdict::pass();
    }

    /// The cases screened, in order.
    pub fn cases(&self) -> Vec<ScreenCase> {
        self.cases.lock().unwrap().clone()
    }

    /// The referrals the team was emailed about.
    pub fn holds(&self) -> Vec<Referral> {
        self.holds.lock().unwrap().clone()
    }
}

#[async_trait]
impl Screener for ScriptedScreener {
    async fn screen(&self, case: &ScreenCase) -> Result<Verdict, ScreenError> {
        self.cases.lock().unwrap().push(case.clone());
        Ok(self.verdict.lock().unwrap().clone())
    }

    async fn notify_hold(&self, referral: &Referral) -> Result<(), ScreenError> {
        self.holds.lock().unwrap().push(referral.clone());
        Ok(())
    }
}
