//! `RewardClient`: the store's reward endpoint, answering as scripted (applied by default) and
//! keeping every request.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{FulfilError, FulfilOutcome, FulfilmentRequest, RewardClient};

/// The store's endpoint, in memory.
#[derive(Default)]
pub(crate) struct ScriptedStore {
    answers: Mutex<VecDeque<Option<u16>>>,
    requests: Mutex<Vec<FulfilmentRequest>>,
}

impl ScriptedStore {
    /// The next call answers `status` (409 means "applied before"; `None` means no answer).
    pub fn answers_next(&self, status: Option<u16>) {
        self.answers.lock().unwrap().push_back(status);
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<FulfilmentRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl RewardClient for ScriptedStore {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        self.requests.lock().unwrap().push(request.clone());
        match self.answers.lock().unwrap().pop_front().unwrap_or(Some(201)) {
            Some(409) => Ok(FulfilOutcome::AlreadyApplied),
            Some(status) if (200..300).contains(&status) => Ok(FulfilOutcome::Applied),
            Some(status) => Err(FulfilError { status: Some(status), source: None }),
            None => Err(FulfilError { status: None, source: Some("no answer".into()) }),
        }
    }
}
