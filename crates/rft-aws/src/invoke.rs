//! Synchronous Lambda invokes between functions: the edge calls the minter (the customer is
//! waiting for their link) and the attributor and rewarder call the screen. Each has a small
//! JSON protocol; the caller's side implements the port, the callee's side serves it.

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use rft_core::ports::{InviteRequest, MintError, MintRequest, Minted, Minter, ScreenCase, ScreenError, Screener};
use rft_core::screen::Verdict;
use rft_core::{Code, CodeRecord, Referral};

use crate::env::LazyClient;

/// An invoke failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The Lambda API call failed.
    #[error("invoking {function} failed")]
    Call {
        /// The function.
        function: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The function ran and failed (it panicked, timed out or returned an error).
    #[error("{function} failed: {detail}")]
    Function {
        /// The function.
        function: String,
        /// Lambda's `FunctionError` and the payload.
        detail: String,
    },
    /// The reply is not what the protocol says.
    #[error("{function} replied with something unreadable")]
    Reply {
        /// The function.
        function: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Invokes `function` with `request` as JSON and parses the JSON reply.
pub async fn invoke<Req: Serialize + Sync, Resp: DeserializeOwned>(
    client: &aws_sdk_lambda::Client,
    function: &str,
    request: &Req,
) -> Result<Resp, InvokeError> {
    let payload =
        serde_json::to_vec(request).map_err(|e| InvokeError::Reply { function: function.to_owned(), source: e })?;
    let out = client
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| InvokeError::Call { function: function.to_owned(), source: Box::new(e) })?;
    let body = out.payload.map(|b| b.into_inner()).unwrap_or_default();
    if let Some(kind) = out.function_error {
        return Err(InvokeError::Function {
            function: function.to_owned(),
            detail: format!("{kind}: {}", String::from_utf8_lossy(&body)),
        });
    }
    serde_json::from_slice(&body).map_err(|e| InvokeError::Reply { function: function.to_owned(), source: e })
}

/// A call to the minter.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MinterCall {
    /// Get or mint a link.
    Mint(MintRequest),
    /// Retire a code.
    Retire {
        /// The code.
        code: Code,
        /// Who retired it from the console (absent from the store's API and older callers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<rft_core::Email>,
    },
    /// Send an email invite.
    Invite(InviteRequest),
}

/// The minter's reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum MinterReply {
    /// The customer's link.
    Minted(Box<Minted>),
    /// The code after retiring (none if unknown).
    Retired {
        /// The record.
        record: Option<Box<CodeRecord>>,
    },
    /// The invite went.
    Invited,
    /// No active code to invite with.
    NoActiveCode,
    /// The day's invites are used.
    InviteLimit {
        /// The limit.
        limit: u32,
    },
    /// Something failed inside the minter.
    Failed {
        /// What, for the caller's log.
        message: String,
    },
}

fn reply_error(e: MintError) -> MinterReply {
    match e {
        MintError::NoActiveCode => MinterReply::NoActiveCode,
        MintError::InviteLimit { limit } => MinterReply::InviteLimit { limit },
        other => {
            let message = rft_core::ports::error_chain(&other);
            tracing::error!(error = %message, "minter call failed");
            MinterReply::Failed { message }
        }
    }
}

/// The minter's side: runs a call against the service.
pub async fn serve_minter(minter: &dyn Minter, call: MinterCall) -> MinterReply {
    match call {
        MinterCall::Mint(request) => {
            minter.mint(&request).await.map(|m| MinterReply::Minted(Box::new(m))).unwrap_or_else(reply_error)
        }
        MinterCall::Retire { code, by } => minter
            .retire(&code, by.as_ref())
            .await
            .map(|record| MinterReply::Retired { record: record.map(Box::new) })
            .unwrap_or_else(reply_error),
        MinterCall::Invite(request) => {
            minter.invite(&request).await.map(|()| MinterReply::Invited).unwrap_or_else(reply_error)
        }
    }
}

/// The edge's side: the minter port over a Lambda invoke.
#[derive(Clone, Debug)]
pub struct LambdaMinter {
    client: LazyClient<aws_sdk_lambda::Client>,
    function: String,
}

impl LambdaMinter {
    /// Invokes `function` (name or ARN).
    pub fn new(client: LazyClient<aws_sdk_lambda::Client>, function: impl Into<String>) -> Self {
        LambdaMinter { client, function: function.into() }
    }

    async fn call(&self, call: MinterCall) -> Result<MinterReply, MintError> {
        let reply = invoke(&self.client, &self.function, &call)
            .await
            .map_err(|e| MintError::Unavailable { op: "invoke the minter", source: Box::new(e) })?;
        match reply {
            MinterReply::NoActiveCode => Err(MintError::NoActiveCode),
            MinterReply::InviteLimit { limit } => Err(MintError::InviteLimit { limit }),
            MinterReply::Failed { message } => Err(MintError::Unavailable { op: "mint", source: message.into() }),
            ok => Ok(ok),
        }
    }
}

fn unexpected(reply: MinterReply) -> MintError {
    MintError::Unavailable { op: "read the minter's reply", source: format!("unexpected reply {reply:?}").into() }
}

#[async_trait]
impl Minter for LambdaMinter {
    async fn mint(&self, request: &MintRequest) -> Result<Minted, MintError> {
        match self.call(MinterCall::Mint(request.clone())).await? {
            MinterReply::Minted(m) => Ok(*m),
            other => Err(unexpected(other)),
        }
    }

    async fn retire(&self, code: &Code, by: Option<&rft_core::Email>) -> Result<Option<CodeRecord>, MintError> {
        match self.call(MinterCall::Retire { code: code.clone(), by: by.cloned() }).await? {
            MinterReply::Retired { record } => Ok(record.map(|r| *r)),
            other => Err(unexpected(other)),
        }
    }

    async fn invite(&self, request: &InviteRequest) -> Result<(), MintError> {
        match self.call(MinterCall::Invite(request.clone())).await? {
            MinterReply::Invited => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}

/// A call to the screen.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ScreenCall {
    /// Run the rules.
    Screen(Box<ScreenCase>),
    /// Email the team about a hold.
    NotifyHold(Box<Referral>),
}

/// The screen's reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ScreenReply {
    /// The rules' verdict.
    Verdict(Verdict),
    /// The team was emailed.
    Notified,
    /// Something failed inside the screen.
    Failed {
        /// What, for the caller's log.
        message: String,
    },
}

/// The screen's side: runs a call against the service.
pub async fn serve_screen(screen: &dyn Screener, call: ScreenCall) -> ScreenReply {
    let failed = |e: ScreenError| {
        let message = rft_core::ports::error_chain(&e);
        tracing::error!(error = %message, "screen call failed");
        ScreenReply::Failed { message }
    };
    match call {
        ScreenCall::Screen(case) => screen.screen(&case).await.map(ScreenReply::Verdict).unwrap_or_else(failed),
        ScreenCall::NotifyHold(referral) => {
            screen.notify_hold(&referral).await.map(|()| ScreenReply::Notified).unwrap_or_else(failed)
        }
    }
}

/// The attributor's and rewarder's side: the screen port over a Lambda invoke.
#[derive(Clone, Debug)]
pub struct LambdaScreener {
    client: LazyClient<aws_sdk_lambda::Client>,
    function: String,
}

impl LambdaScreener {
    /// Invokes `function` (name or ARN).
    pub fn new(client: LazyClient<aws_sdk_lambda::Client>, function: impl Into<String>) -> Self {
        LambdaScreener { client, function: function.into() }
    }

    async fn call(&self, call: ScreenCall) -> Result<ScreenReply, ScreenError> {
        match invoke(&self.client, &self.function, &call).await.map_err(|e| ScreenError(Box::new(e)))? {
            ScreenReply::Failed { message } => Err(ScreenError(message.into())),
            ok => Ok(ok),
        }
    }
}

#[async_trait]
impl Screener for LambdaScreener {
    async fn screen(&self, case: &ScreenCase) -> Result<Verdict, ScreenError> {
        match self.call(ScreenCall::Screen(Box::new(case.clone()))).await? {
            ScreenReply::Verdict(v) => Ok(v),
            other => Err(ScreenError(format!("unexpected reply {other:?}").into())),
        }
    }

    async fn notify_hold(&self, referral: &Referral) -> Result<(), ScreenError> {
        match self.call(ScreenCall::NotifyHold(Box::new(referral.clone()))).await? {
            ScreenReply::Notified => Ok(()),
            other => Err(ScreenError(format!("unexpected reply {other:?}").into())),
        }
    }
}

/// A direct call to the rewarder (besides its SQS batches): from the edge, or from an operator
/// (`aws lambda invoke`, docs/operations.md).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RewarderCall {
    /// Forget a customer.
    Erase {
        /// The customer to forget.
        customer_id: rft_core::CustomerId,
    },
    /// Seal the personal fields of records written before they were sealed (after an upgrade).
    SealExisting,
    /// Erase again everyone erased since the copy the tables were restored from.
    ReapplyErasures,
}

/// What the rewarder's direct calls act on.
pub struct RewarderOps {
    /// The eraser (the rewarder alone may rewrite the ledger).
    pub eraser: rft_core::service::erase::Eraser,
    /// The store, for the operators' calls.
    pub store: std::sync::Arc<crate::DynamoStore>,
}

/// What the rewarder's Lambda receives: its queue's batches, or a direct call. The call is
/// tried first: it needs its `op` tag, while a batch would accept almost any object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RewarderEvent {
    /// `{"op": ...}` from the edge.
    Call(RewarderCall),
    /// A batch from `rft-reward-jobs`.
    Batch(aws_lambda_events::event::sqs::SqsEvent),
}

/// The rewarder's reply to a direct call.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum RewarderReply {
    /// The customer is forgotten.
    Erased,
    /// Records sealed by `seal_existing`.
    Sealed {
        /// How many.
        records: usize,
    },
    /// Customers erased again by `reapply_erasures`.
    Reapplied {
        /// How many.
        erased: usize,
    },
    /// Something failed.
    Failed {
        /// What failed, for the edge's log.
        message: String,
    },
}

/// The rewarder's side of a direct call.
pub async fn serve_rewarder(ops: &RewarderOps, call: RewarderCall) -> RewarderReply {
    let done = match call {
        RewarderCall::Erase { customer_id } => {
            ops.eraser.erase_customer(&customer_id).await.map(|()| RewarderReply::Erased)
        }
        RewarderCall::SealExisting => ops.store.seal_existing().await.map(|records| RewarderReply::Sealed { records }),
        RewarderCall::ReapplyErasures => match ops.store.customers_named().await {
            Ok(customers) => ops.eraser.reapply(&customers).await.map(|erased| RewarderReply::Reapplied { erased }),
            Err(e) => Err(e),
        },
    };
    done.unwrap_or_else(|e| {
        let message = rft_core::ports::error_chain(&e);
        tracing::error!(error = %message, "a direct call failed");
        RewarderReply::Failed { message }
    })
}

/// The edge's side: erasure over a Lambda invoke of the rewarder (the function allowed to
/// rewrite the ledger).
#[derive(Clone, Debug)]
pub struct LambdaEraser {
    client: LazyClient<aws_sdk_lambda::Client>,
    function: String,
}

impl LambdaEraser {
    /// Invokes `function` (name or ARN).
    pub fn new(client: LazyClient<aws_sdk_lambda::Client>, function: impl Into<String>) -> Self {
        LambdaEraser { client, function: function.into() }
    }
}

#[async_trait]
impl rft_core::ports::Erasure for LambdaEraser {
    async fn erase(&self, customer: &rft_core::CustomerId) -> Result<(), rft_core::ports::BoxError> {
        match invoke(&self.client, &self.function, &RewarderCall::Erase { customer_id: customer.clone() }).await? {
            RewarderReply::Erased => Ok(()),
            RewarderReply::Failed { message } => Err(message.into()),
            other => Err(format!("unexpected reply {other:?}").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_calls_parse_as_documented_and_a_batch_stays_a_batch() {
        for (payload, op) in
            [(r#"{"op":"seal_existing"}"#, "seal_existing"), (r#"{"op":"reapply_erasures"}"#, "reapply_erasures")]
        {
            let event: RewarderEvent = serde_json::from_str(payload).unwrap();
            let RewarderEvent::Call(call) = event else { panic!("{payload} is a call") };
            assert_eq!(serde_json::to_value(&call).unwrap()["op"], op);
        }
        let batch: RewarderEvent = serde_json::from_str(r#"{"Records":[]}"#).unwrap();
        assert!(matches!(batch, RewarderEvent::Batch(_)));
        let reply = serde_json::to_value(RewarderReply::Reapplied { erased: 2 }).unwrap();
        assert_eq!(reply, serde_json::json!({"reply": "reapplied", "erased": 2}));
    }
}
