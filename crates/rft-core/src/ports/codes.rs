//! Codes and their owners (`rft-codes`).

use async_trait::async_trait;

use super::{ListWindow, StoreError};
use crate::code::{Code, CodeFlag, CodeRecord, CodeStatus};
use crate::ids::CustomerId;
use crate::time::Timestamp;

/// Why a code could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another referrer already owns this code: draw again.
    #[error("the code is already taken")]
    CodeTaken,
    /// The customer already has an active code (a concurrent mint won): use that one.
    #[error("the customer already has active code {0}")]
    CustomerHasActiveCode(Code),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Codes, their owners and pinned terms (`rft-codes`).
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Claims a fresh code, atomically with the rule "one active code per customer".
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError>;
    /// Reads a code.
    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError>;
    /// Reads a code without its referrer's personal fields (profile and invite may be blank):
    /// all a redirect needs, and a store that seals those fields skips opening them.
    async fn get_public(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        self.get(code).await
    }
    /// The customer's active code, read consistently.
    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError>;
    /// Every code the customer ever had, oldest first.
    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError>;
    /// Retires a code (idempotent); `None` if there is no such code.
    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError>;
    /// Flags a code (velocity); `false` if it was flagged already (the first flag stays).
    async fn flag(&self, code: &Code, flag: &CodeFlag) -> Result<bool, StoreError>;
    /// Clears a code's flag; returns the code as it now stands (`None` if there is no such code).
    async fn clear_flag(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError>;
    /// Active flagged codes, oldest flag first (the ops queue).
    async fn flagged(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError>;
    /// Erasure: the code is retired, its owner replaced by `opaque` and their profile cleared,
    /// and the owner's active-code guard removed.
    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError>;
    /// One page of the codes with `status`, newest first by creation time then code (the
    /// console's list of referrers; an index per status, never a scan).
    async fn in_status(&self, status: CodeStatus, window: &ListWindow) -> Result<Vec<CodeRecord>, StoreError>;
}
