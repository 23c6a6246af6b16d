//! A whole system in one process for tests: the real router and services over any stores, with
//! a hand-moved clock, a recording messenger, a scripted model, and signed-request helpers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use rft_core::ports::{
    Discounts, DraftRequest, FulfilError, FulfilOutcome, FulfilmentRequest, JobQueue, MessageError, MessageKind,
    Messenger, OutboundMessage, QueueError, RewardClient, Stores, TextWriter, WriterError,
};
use rft_core::secrets::SecretSet;
use rft_core::signature::Signer;
use rft_core::time::ManualClock;
use rft_core::{Clock, Delivery, Job, Settings, Timestamp};
use rft_http::ClientIp;
use rft_local::system::{Ports, System};

/// The example settings file.
pub const EXAMPLE_SETTINGS: &str = include_str!("../../settings.example.toml");

/// The example settings with some `key = value` lines replaced (by key, first occurrence).
pub fn settings_with(overrides: &[(&str, &str)]) -> Settings {
    Settings::parse(&settings_text(overrides)).expect("test settings are valid")
}

/// The example settings file's text with some `key = value` lines replaced (by key, first
/// occurrence).
pub fn settings_text(overrides: &[(&str, &str)]) -> String {
    let mut text = EXAMPLE_SETTINGS.to_owned();
    for (key, value) in overrides {
        let start = text.find(&format!("\n{key} = ")).unwrap_or_else(|| panic!("no key {key} in the example")) + 1;
        let end = text[start..].find('\n').map(|e| start + e).unwrap_or(text.len());
        text.replace_range(start..end, &format!("{key} = {value}"));
    }
    text
}

/// Records every message instead of sending it.
#[derive(Default)]
pub struct RecordingMessenger {
    sent: Mutex<Vec<OutboundMessage>>,
}

impl RecordingMessenger {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.sent.lock().expect("not poisoned").clone()
    }

    /// Messages of one kind.
    pub fn of_kind(&self, kind: MessageKind) -> Vec<OutboundMessage> {
        self.sent().into_iter().filter(|m| m.kind == kind).collect()
    }
}

#[async_trait]
impl Messenger for RecordingMessenger {
    async fn send(&self, message: &OutboundMessage) -> Result<(), MessageError> {
        self.sent.lock().expect("not poisoned").push(message.clone());
        Ok(())
    }
}

/// A model that answers what the test says (or fails, or stalls).
#[derive(Default)]
pub struct ScriptedWriter {
    reply: Mutex<Option<String>>,
    stall: Mutex<Option<Duration>>,
    /// Briefs received.
    pub briefs: Mutex<Vec<DraftRequest>>,
}

impl ScriptedWriter {
    /// The next drafts are `text`.
    pub fn answer(&self, text: &str) {
        *self.reply.lock().expect("not poisoned") = Some(text.to_owned());
    }

    /// The next drafts take `d` before answering.
    pub fn stall(&self, d: Duration) {
        *self.stall.lock().expect("not poisoned") = Some(d);
    }
}

#[async_trait]
impl TextWriter for ScriptedWriter {
    async fn draft(&self, request: &DraftRequest) -> Result<String, WriterError> {
        self.briefs.lock().expect("not poisoned").push(request.clone());
        let stall = *self.stall.lock().expect("not poisoned");
        if let Some(d) = stall {
            tokio::time::sleep(d).await;
        }
        self.reply.lock().expect("not poisoned").clone().ok_or_else(|| WriterError("no scripted reply".into()))
    }
}

/// How the fake store's reward endpoint behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Applies each key once, answers 409 after.
    Normal,
    /// Answers 500 to the next `n` calls, then behaves.
    FailNext(usize),
    /// Answers 500 to everything.
    Down,
    /// Applies, then pretends it never answered (a timeout after the store did the work).
    AppliesButTimesOut,
    /// Refuses everything with this status (a 4xx no retry can cure).
    Refuses(u16),
}

/// The store's reward endpoint, in memory: it applies each idempotency key once.
pub struct FakeStore {
    mode: Mutex<StoreMode>,
    /// Idempotency keys applied, in order.
    pub applied: Mutex<Vec<String>>,
    /// Every call, in order.
    pub calls: Mutex<Vec<String>>,
}

impl Default for FakeStore {
    fn default() -> Self {
        FakeStore { mode: Mutex::new(StoreMode::Normal), applied: Mutex::default(), calls: Mutex::default() }
    }
}

impl FakeStore {
    /// Changes how it behaves.
    pub fn set(&self, mode: StoreMode) {
        *self.mode.lock().expect("not poisoned") = mode;
    }

    /// Keys applied (each key at most once by construction; count them).
    pub fn applied(&self) -> Vec<String> {
        self.applied.lock().expect("not poisoned").clone()
    }

    /// Keys applied, sorted (jobs for the two sides may run in either order).
    pub fn applied_sorted(&self) -> Vec<String> {
        let mut keys = self.applied();
        keys.sort();
        keys
    }

    /// How many calls were made.
    pub fn calls(&self) -> usize {
        self.calls.lock().expect("not poisoned").len()
    }
}

#[async_trait]
impl RewardClient for FakeStore {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        let key = request.idempotency_key();
        self.calls.lock().expect("not poisoned").push(key.clone());
        let mode = *self.mode.lock().expect("not poisoned");
        let fail = |status| Err(FulfilError::status(status));
        match mode {
            StoreMode::Down => return fail(500),
            StoreMode::Refuses(status) => return fail(status),
            StoreMode::FailNext(n) if n > 0 => {
                *self.mode.lock().expect("not poisoned") = StoreMode::FailNext(n - 1);
                return fail(500);
            }
            _ => {}
        }
        let mut applied = self.applied.lock().expect("not poisoned");
        let fresh = !applied.contains(&key);
        if fresh {
            applied.push(key);
        }
        match (mode, fresh) {
            (StoreMode::AppliesButTimesOut, _) => Err(FulfilError::no_answer("timed out")),
            (_, true) => Ok(FulfilOutcome::Applied),
            (_, false) => Ok(FulfilOutcome::AlreadyApplied),
        }
    }
}

/// A queue that refuses every send (the webhooks' 5xx path).
pub struct BrokenQueue;

#[async_trait]
impl JobQueue for BrokenQueue {
    async fn send(&self, _job: &Job) -> Result<(), QueueError> {
        Err(QueueError::new("send", "the queue is down"))
    }
    async fn send_after(&self, _job: &Job, _delay: Duration) -> Result<(), QueueError> {
        Err(QueueError::new("send", "the queue is down"))
    }
    async fn receive(&self, _max: usize, _visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        Err(QueueError::new("receive", "the queue is down"))
    }
    async fn ack(&self, _receipt: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn dead_letters(&self, _max: usize) -> Result<Vec<Job>, QueueError> {
        Ok(vec![])
    }
}

/// Logs to the test's output (`RUST_LOG` filters, default `warn`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: axum::http::HeaderMap,
    /// The body as JSON (`Null` if empty or not JSON).
    pub json: Value,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A system under test.
pub struct Harness {
    /// The system.
    pub system: System,
    /// The clock everything reads.
    pub clock: Arc<ManualClock>,
    /// Sent messages.
    pub messages: Arc<RecordingMessenger>,
    /// The model.
    pub writer: Arc<ScriptedWriter>,
    /// The store's reward endpoint.
    pub store: Arc<FakeStore>,
    /// The secrets in use.
    pub secrets: SecretSet,
    /// Signs as the store does.
    pub signer: Signer,
    /// The queues, when they are the harness's own (sign-ups, rewards).
    pub queues: Option<(rft_local::LocalQueue, rft_local::LocalQueue)>,
    /// On DynamoDB, `rft-clicks`' stream and its follower: [`Harness::settle`] counts the
    /// clicks written so far into the rollups, as `rft-sweep` does within seconds in AWS.
    pub clicks_stream: Option<(crate::streams::StreamPump, rft_aws::follower::ClickFollower)>,
}

/// The fulfilment policy with millisecond backoffs, so retries are quick in tests.
pub fn quick_policy() -> rft_core::service::FulfilPolicy {
    rft_core::service::FulfilPolicy {
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..Default::default()
    }
}

/// A realistic "now" for tests (signatures carry unix seconds).
pub fn test_now() -> Timestamp {
    // Years ahead of the wall clock: DynamoDB Local's TTL sweeper deletes items whose
    // `expires_at` is in the real past, which would make test data vanish mid-test.
    crate::conformance::T0
}

impl Harness {
    /// A system over `stores` with `settings`, its queues on a fresh embedded store that runs
    /// on the harness's clock (so [`Harness::settle`] can move time to a delayed job).
    pub fn new(stores: Stores, settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::at(test_now()));
        let store = rft_local::LocalStore::in_memory();
        let queue = |name| rft_local::LocalQueue::new(store.clone(), name, clock.clone());
        let queues = (queue("rft-signup-jobs"), queue("rft-reward-jobs"));
        let mut h = Self::assemble(stores, Arc::new(queues.0.clone()), Arc::new(queues.1.clone()), settings, clock);
        h.queues = Some(queues);
        h
    }

    /// A system over `stores` and the given queues (a test that breaks one), with `settings`.
    pub fn with_queues(
        stores: Stores,
        signup_jobs: Arc<dyn JobQueue>,
        reward_jobs: Arc<dyn JobQueue>,
        settings: Settings,
    ) -> Self {
        Self::assemble(stores, signup_jobs, reward_jobs, settings, Arc::new(ManualClock::at(test_now())))
    }

    fn assemble(
        stores: Stores,
        signup_jobs: Arc<dyn JobQueue>,
        reward_jobs: Arc<dyn JobQueue>,
        settings: Settings,
        clock: Arc<ManualClock>,
    ) -> Self {
        init_tracing();
        let [s, o, k, i] = SecretSet::generate_parts();
        let mut secrets = SecretSet::from_parts(&s, &o, &k, &i).expect("generated secrets are valid");
        let messages = Arc::new(RecordingMessenger::default());
        let writer = Arc::new(ScriptedWriter::default());
        let store = Arc::new(FakeStore::default());
        // A store on our own webhooks gets the fake reward endpoint; a connected one the real
        // provider adapters, pointed (by its settings) at a stand-in and holding its keys.
        let (rewards, discounts): (Arc<dyn RewardClient>, Arc<dyn Discounts>) = match settings.store.kind {
            rft_core::settings::StoreKind::Webhooks => (store.clone(), Arc::new(rft_core::ports::NoDiscounts)),
            _ => {
                secrets = secrets.with_providers(crate::provider_standins::secrets());
                let timeout = crate::provider_standins::CLIENT_TIMEOUT;
                (
                    rft_http::providers::reward_client(&settings, &secrets, timeout)
                        .expect("the provider's keys are set"),
                    rft_http::providers::discounts(&settings, &secrets, timeout).expect("the provider's keys are set"),
                )
            }
        };
        let ports = Ports {
            stores,
            signup_jobs,
            reward_jobs,
            messenger: messages.clone(),
            writer: writer.clone(),
            rewards,
            discounts,
            clock: clock.clone(),
        };
        let system = System::assemble_with(Arc::new(settings), &secrets, ports, quick_policy());
        let signer = Signer::new(&secrets.signing);
        Harness { system, clock, messages, writer, store, secrets, signer, queues: None, clicks_stream: None }
    }

    /// A system on a fresh in-memory embedded store with the example settings.
    pub fn local() -> Self {
        Self::local_with(settings_with(&[]))
    }

    /// A system on a fresh in-memory embedded store.
    pub fn local_with(settings: Settings) -> Self {
        Self::new(Stores::from_backend(Arc::new(rft_local::LocalStore::in_memory())), settings)
    }

    /// Runs the reward queue with `workers` consumers at once until nothing is left, moving the
    /// clock to delayed jobs as [`Harness::settle`] does.
    pub async fn settle_concurrently(self: &Arc<Self>, workers: usize) {
        let (_, rewards) = self.queues.clone().expect("the harness's own queues");
        for _ in 0..1000 {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..workers {
                let h = self.clone();
                set.spawn(async move { h.system.drain_rewards().await });
            }
            let mut handled = 0;
            while let Some(n) = set.join_next().await {
                handled += n.expect("worker");
            }
            if handled > 0 {
                continue;
            }
            match rewards.next_visible_at().await.expect("reads") {
                Some(at) => self.clock.set(at.max(self.clock_now())),
                None => return,
            }
        }
        panic!("the reward queue never settled");
    }

    /// Runs every queued job, and every job they queue, to the end: when only hidden jobs are
    /// left (a delayed retry, a failed job waiting for its redelivery), the clock moves to the
    /// first of them. Returns how many jobs succeeded. On DynamoDB it first counts the clicks
    /// written so far, as the stream's follower would have.
    pub async fn settle(&self) -> usize {
        if let Some((pump, follower)) = &self.clicks_stream {
            pump.follow(follower, self.clock.now()).await;
        }
        let Some((signups, rewards)) = &self.queues else {
            return self.system.drain_signups().await + self.system.drain_rewards().await;
        };
        let mut handled = 0;
        for _ in 0..10_000 {
            let n = self.system.drain_signups().await + self.system.drain_rewards().await;
            handled += n;
            if n > 0 {
                continue;
            }
            let next = [signups.next_visible_at().await, rewards.next_visible_at().await]
                .into_iter()
                .filter_map(|t| t.expect("the test queue reads"))
                .min();
            match next {
                Some(at) if at > self.clock.now() => self.clock.set(at),
                Some(_) => {}
                None => return handled,
            }
        }
        panic!("the queues never settled");
    }

    /// Sends a request through the router (no socket).
    pub async fn call(&self, request: Request<Body>) -> Answer {
        let response = self.system.router().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body reads");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, headers, json }
    }

    /// A request signed as the store signs, with a fresh webhook id.
    pub fn signed(&self, method: Method, path: &str, body: &str) -> Request<Body> {
        self.signed_as(&format!("msg_{}", rft_core::ids::random_base32()), method, path, body)
    }

    /// A request signed with a given webhook id.
    pub fn signed_as(&self, id: &str, method: Method, path: &str, body: &str) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (name, value) in self.signer.headers(id, self.clock.now(), body.as_bytes()).expect("UTF-8 bodies sign") {
            builder = builder.header(name, value);
        }
        builder.body(Body::from(body.to_owned())).expect("valid request")
    }

    /// `POST /api/links` for a customer; returns the JSON.
    pub async fn mint(&self, customer: &str, extra: Value) -> Answer {
        let mut body = serde_json::json!({ "customer_id": customer });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.call(self.signed(Method::POST, "/api/links", &body.to_string())).await
    }

    /// A browser click on `/r/{code}`, optionally carrying an `rft` cookie; returns the answer.
    pub async fn click(&self, code: &str, cookie: Option<&str>) -> Answer {
        let mut builder = Request::builder()
            .uri(format!("/r/{code}"))
            .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)");
        if let Some(token) = cookie {
            builder = builder.header("cookie", format!("rft={token}"));
        }
        let mut request = builder.body(Body::empty()).expect("valid request");
        request.extensions_mut().insert(ClientIp("203.0.113.7".parse().expect("an IP")));
        self.call(request).await
    }

    /// Posts a sign-up webhook and runs the queues to the end.
    pub async fn signup(&self, body: Value) -> Answer {
        let answer = self.call(self.signed(Method::POST, "/webhooks/signup", &body.to_string())).await;
        self.settle().await;
        answer
    }

    /// The harness clock's now.
    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Posts a conversion webhook and runs the queues to the end (the payout, each side's
    /// fulfilment and thank-you).
    pub async fn convert(&self, customer: &str, order: &str) -> Answer {
        let body =
            serde_json::json!({"customer_id": customer, "order_id": order, "amount_minor": 3999, "currency": "GBP"});
        let answer = self.call(self.signed(Method::POST, "/webhooks/conversion", &body.to_string())).await;
        self.settle().await;
        answer
    }

    /// `GET /api/referrals/{customer}`.
    pub async fn referral(&self, customer: &str) -> Answer {
        self.call(self.signed(Method::GET, &format!("/api/referrals/{customer}"), "")).await
    }
}

/// The ops queue page's path with a fresh signed link.
pub fn ops_queue_path(h: &Harness) -> String {
    rft_http::portal::ops_queue_path(&h.system.edge)
}

/// The `rft` token in a redirect's `Set-Cookie`.
pub fn token_of(answer: &Answer) -> String {
    let cookie = answer.header("set-cookie").expect("a live code sets the cookie");
    cookie.trim_start_matches("rft=").split(';').next().expect("a value").to_owned()
}
