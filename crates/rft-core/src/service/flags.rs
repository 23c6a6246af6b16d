//! A code caught spraying is flagged (docs/invariants.md, invariant 14): when a code-velocity
//! rule trips, the code is flagged, its pending referrals are held with the rule that fired, and
//! every new referral through it is held too, until a person clears the flag (its referrals go
//! back to pending, the rule cleared) or retires the code.

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};
use crate::code::{CodeFlag, CodeRecord};
use crate::ports::{AuditStore, CodeStore, Counters, ReferralStore, StoreError, WriteError};
use crate::referral::{Evidence, Outcome, Referral, ReferralState, StateEvent};
use crate::time::Timestamp;

/// The rule that holds a referral because its code is flagged.
pub const CODE_FLAGGED: &str = "code_flagged";

/// Whether a rule is one a code's flag stands for (clearing the flag clears these).
pub fn is_code_rule(rule: &str) -> bool {
    matches!(rule, "code_click_velocity" | "code_signup_velocity" | CODE_FLAGGED)
}

/// The evidence that holds a referral through a flagged code.
pub fn flagged_evidence(flag: &CodeFlag) -> Evidence {
    let rules: Vec<&str> = flag.evidence.iter().map(|e| e.rule.as_str()).collect();
    Evidence {
        rule: CODE_FLAGGED.to_owned(),
        outcome: Outcome::Hold,
        detail: format!("the code was flagged at {} ({}); a person must clear it", flag.at, rules.join(", ")),
    }
}

/// Flags codes and holds their referrals.
pub struct CodeFlags {
    codes: Arc<dyn CodeStore>,
    referrals: Arc<dyn ReferralStore>,
    audit: Arc<dyn AuditStore>,
    counters: Arc<dyn Counters>,
}

impl CodeFlags {
    /// Over the stores it changes.
    pub fn new(
        codes: Arc<dyn CodeStore>,
        referrals: Arc<dyn ReferralStore>,
        audit: Arc<dyn AuditStore>,
        counters: Arc<dyn Counters>,
    ) -> Self {
        CodeFlags { codes, referrals, audit, counters }
    }

    /// Flags `code` for the code rules among `evidence` and holds its pending referrals. Safe to
    /// repeat: a code already flagged keeps its first flag, and held referrals stay held.
    pub async fn flag(&self, code: &CodeRecord, evidence: &[Evidence], now: Timestamp) -> Result<(), StoreError> {
        let rules: Vec<Evidence> = evidence.iter().filter(|e| is_code_rule(&e.rule)).cloned().collect();
        if rules.is_empty() {
            return Ok(());
        }
        let flag = CodeFlag { evidence: rules, at: now };
        if self.codes.flag(&code.code, &flag).await? {
            let facts = json!({ "evidence": flag.evidence });
            self.append(AuditEvent::new(AuditKind::CodeFlagged, code.code.as_str(), now, facts)).await;
        }
        for referral in self.referrals.referrals_of(&code.referrer_id).await? {
            if referral.code == code.code && referral.state == ReferralState::Pending {
                self.hold(referral, &flag, now).await?;
            }
        }
        Ok(())
    }

    async fn hold(&self, mut referral: Referral, flag: &CodeFlag, now: Timestamp) -> Result<(), StoreError> {
        for _ in 0..6 {
            if referral.state != ReferralState::Pending || referral.cleared_rules.iter().any(|r| r == CODE_FLAGGED) {
                return Ok(());
            }
            let mut held = referral.successor(now);
            if held.apply(StateEvent::Hold, now).is_err() {
                return Ok(());
            }
            held.evidence.push(flagged_evidence(flag));
            let facts = json!({ "stage": "code flagged", "evidence": held.evidence });
            let event = AuditEvent::new(AuditKind::Held, referral.referral_id.as_str(), now, facts);
            let (referrals, counters) = (self.referrals.as_ref(), self.counters.as_ref());
            match crate::rollup::save_counted(referrals, counters, &referral, &held, Some(&event)).await {
                Ok(()) => return Ok(()),
                Err(WriteError::Conflict) => match self.referrals.get(&referral.referral_id).await? {
                    Some(current) => referral = current,
                    None => return Ok(()),
                },
                Err(WriteError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::unavailable("hold a flagged code's referral", "the referral kept changing"))
    }

    /// Clears `code`'s flag; returns its referrals held by code rules, for the caller to release
    /// (an approval of the code rules: paid if converted, else back to pending).
    pub async fn clear(&self, code: &crate::code::Code, now: Timestamp) -> Result<Vec<Referral>, StoreError> {
        let Some(record) = self.codes.clear_flag(code).await? else { return Ok(Vec::new()) };
        let facts = json!({ "what": "flag cleared by a person" });
        self.append(AuditEvent::new(AuditKind::Approved, code.as_str(), now, facts)).await;
        let held = self.referrals.referrals_of(&record.referrer_id).await?;
        Ok(held
            .into_iter()
            .filter(|r| {
                r.code == *code && r.state == ReferralState::Held && r.reasons().iter().any(|x| is_code_rule(x))
            })
            .collect())
    }

    async fn append(&self, event: AuditEvent) {
        if let Err(e) = self.audit.append(&event).await {
            tracing::error!(error = %e, kind = ?event.kind, subject = %event.subject, "audit row failed");
        }
    }
}
