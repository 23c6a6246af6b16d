//! The AWS wiring of the functions, run against the emulators: DynamoDB Local, moto (SQS, SES,
//! SNS, Secrets Manager) or whatever `AWS_ENDPOINT_URL_<SERVICE>` names per service, wiremock for
//! Bedrock, and a small stand-in for the Lambda Invoke API that runs the minter's and screen's
//! real handlers.

use std::sync::{Arc, OnceLock};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use rft_aws::env::{Endpoints, Environment, Wiring};
use rft_aws::invoke::{serve_minter, serve_screen};
use rft_aws::{SqsQueue, TableNames};
use rft_core::secrets::SecretSet;
use rft_core::service::{MintService, ScreenService};
use rft_core::signature::Signer;
use rft_core::{Settings, Timestamp};

use crate::backends::{Service, dynamodb_client, dynamodb_endpoint, endpoint, moto_endpoint, unique_prefix};
use crate::sent::{Email, Sent, Sms, since};

/// The deployed functions' handlers, reachable over a fake Lambda Invoke API.
#[derive(Default, Clone)]
pub struct Functions {
    minter: Arc<OnceLock<MintService>>,
    screen: Arc<OnceLock<ScreenService>>,
    rewarder: Arc<OnceLock<rft_aws::invoke::RewarderOps>>,
}

async fn invoke(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let reply = match name.as_str() {
        "rft-minter" => {
            let call = serde_json::from_slice(&body).expect("a minter call");
            serde_json::to_value(serve_minter(functions.minter.get().expect("minter wired"), call).await)
        }
        "rft-screen" => {
            let call = serde_json::from_slice(&body).expect("a screen call");
            serde_json::to_value(serve_screen(functions.screen.get().expect("screen wired"), call).await)
        }
        "rft-rewarder" => {
            let call = serde_json::from_slice(&body).expect("a rewarder call");
            serde_json::to_value(
                rft_aws::invoke::serve_rewarder(functions.rewarder.get().expect("rewarder wired"), call).await,
            )
        }
        other => panic!("no function {other}"),
    };
    axum::Json(reply.expect("replies serialise"))
}

/// Starts the fake Lambda Invoke API; returns its URL.
async fn start_invoke_api(functions: Functions) -> String {
    let app = Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke)).with_state(functions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("invoke api serves") });
    format!("http://{addr}")
}

/// A Converse reply with `text`.
pub fn converse_reply(text: &str) -> Value {
    json!({
        "output": { "message": { "role": "assistant", "content": [{ "text": text }] } },
        "stopReason": "end_turn",
        "usage": { "inputTokens": 10, "outputTokens": 20, "totalTokens": 30 },
        "metrics": { "latencyMs": 5 }
    })
}

/// One isolated deployment on the emulators.
pub struct AwsStack {
    /// The functions' environment (what `Environment::from_env` would give in AWS).
    pub env: Environment,
    /// The secrets stored in the emulator's Secrets Manager.
    pub secrets: SecretSet,
    /// Signs as the store does.
    pub signer: Signer,
    /// Bedrock's stand-in.
    pub bedrock: MockServer,
    /// The sign-up queue.
    pub signup_queue: SqsQueue,
    /// The reward queue.
    pub reward_queue: SqsQueue,
    /// Reads what the SES v2 emulator sent, with what it had sent before this stack started; or
    /// why that emulator cannot send SES v2 mail or show what it sent.
    mail: Result<(Sent, Vec<Email>), String>,
    /// The same for SMS through SNS.
    sms: Result<(Sent, Vec<Sms>), String>,
    /// The store's reward endpoint's stand-in.
    pub store: MockServer,
    /// Every AWS call the functions' clients make.
    pub calls: rft_aws::calls::CallCounter,
}

impl AwsStack {
    /// Tables, queues, the secret, the SES identity, Bedrock's stub and the invoke API, all new.
    pub async fn start(settings: Settings) -> Self {
        Self::start_with(settings, &dynamodb_endpoint(), &moto_endpoint()).await
    }

    /// The same, with the functions reaching DynamoDB and SQS at the given endpoints (a
    /// [`crate::switch::Switch`] in front of either, for the fault tests); SES v2, SNS and
    /// Secrets Manager at their own ([`endpoint`]).
    pub async fn start_with(settings: Settings, dynamodb: &str, sqs: &str) -> Self {
        let [ses, sns, secrets] = [Service::SesV2, Service::Sns, Service::SecretsManager].map(endpoint);
        Self::start_at(settings, dynamodb, [sqs.to_owned(), ses, sns, secrets]).await
    }

    /// The same, with SQS, SES v2, SNS and Secrets Manager all at `moto` (a
    /// [`crate::switch::Switch`] in front of moto takes them all down at once).
    pub async fn start_with_moto(settings: Settings, dynamodb: &str, moto: &str) -> Self {
        Self::start_at(settings, dynamodb, [moto.to_owned(), moto.to_owned(), moto.to_owned(), moto.to_owned()]).await
    }

    async fn start_at(mut settings: Settings, dynamodb: &str, services: [String; 4]) -> Self {
        crate::harness::init_tracing();
        let store = MockServer::start().await;
        settings.store.reward_url = Some(format!("{}/referral-rewards", store.uri()).parse().expect("a URL"));
        let [sqs, ses, sns, secrets] = services;
        // Secrets Manager's: the harness stores the secret with it. The functions get each
        // service's own endpoint below, so for them it is only a default.
        let sdk = rft_aws::config::for_emulator(&secrets).await;
        let prefix = unique_prefix();
        let tables = TableNames::with_prefix(&prefix);
        rft_aws::tables::create_tables(&dynamodb_client().await, &tables).await.expect("tables");
        let queues = aws_sdk_sqs::Client::new(&rft_aws::config::for_emulator(&sqs).await);
        let signup_queue = SqsQueue::create(queues.clone(), &format!("{prefix}rft-signup-jobs")).await.expect("queue");
        let reward_queue = SqsQueue::create(queues, &format!("{prefix}rft-reward-jobs")).await.expect("queue");
        let [s, o, k, i] = SecretSet::generate_parts();
        let store_signing = rft_core::secrets::SigningSecret::generate().to_whsec();
        // The provider stand-ins' keys too, so a stack whose settings connect a Stripe or
        // Shopify store (pointed at a stand-in) starts like a real one.
        let p = crate::provider_standins::secrets();
        let key = |s: &Option<rft_core::secrets::SecretString>| s.as_ref().map(|s| s.expose().to_owned());
        let secret_json = json!({ "signing_secret": s, "ops_secret": o, "store_api_key": k, "identity_key": i,
            "store_signing_secret": store_signing,
            "stripe_api_key": key(&p.stripe_api_key), "stripe_webhook_secret": key(&p.stripe_webhook_secret),
            "shopify_admin_token": key(&p.shopify_admin_token), "shopify_webhook_secret": key(&p.shopify_webhook_secret) })
        .to_string();
        let secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("{prefix}rft/secrets"))
            .secret_string(secret_json)
            .send()
            .await
            .expect("secret");
        let mail = match crate::sent::mail(&ses, settings.messages.from_email.as_str()).await {
            Ok(sent) => {
                let before = sent.emails().await;
                Ok((sent, before))
            }
            Err(reason) => Err(reason),
        };
        let sms = match Sent::at(&sns).await {
            Ok(sent) => {
                let before = sent.sms().await;
                Ok((sent, before))
            }
            Err(reason) => Err(reason),
        };
        let bedrock = MockServer::start().await;
        let functions = Functions::default();
        let calls = rft_aws::calls::CallCounter::default();
        let invoke_api = start_invoke_api(functions.clone()).await;
        let env = Environment::new(
            settings,
            sdk,
            tables,
            Wiring {
                signup_queue_url: Some(signup_queue.url().to_owned()),
                reward_queue_url: Some(reward_queue.url().to_owned()),
                minter_function: Some("rft-minter".into()),
                screen_function: Some("rft-screen".into()),
                rewarder_function: Some("rft-rewarder".into()),
                secret_id: secret.arn,
            },
            Endpoints {
                dynamodb: Some(dynamodb.to_owned()),
                sqs: Some(sqs),
                ses: Some(ses),
                sns: Some(sns),
                secrets: Some(secrets),
                bedrock: Some(bedrock.uri()),
                lambda: Some(invoke_api),
                calls: Some(calls.clone()),
            },
        );
        // Each invoked function is wired as its main does, on its own copy of the environment,
        // so the calls it makes are recorded under its name.
        let secrets_of = |function: &str| {
            let env = env.as_function(function);
            async move { (env.secrets().await.expect("the functions read the secret"), env) }
        };
        let _ = functions.minter.set(rft_aws::wiring::minter(&env.as_function("rft-minter")).await.expect("wires"));
        let (secrets, screen) = secrets_of("rft-screen").await;
        let _ = functions.screen.set(rft_aws::wiring::screen(&screen, &secrets).await);
        let (secrets, rewarder) = secrets_of("rft-rewarder").await;
        let _ = functions.rewarder.set(rft_aws::wiring::rewarder_ops(&rewarder, &secrets).await);
        let signer = Signer::new(&secrets.signing);
        AwsStack { env, secrets, signer, bedrock, signup_queue, reward_queue, mail, sms, store, calls }
    }

    /// Makes Bedrock answer `text` (after `delay`).
    pub async fn bedrock_says(&self, text: &str, delay: std::time::Duration) {
        self.bedrock.reset().await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/model/.+/converse$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(converse_reply(text)).set_delay(delay))
            .mount(&self.bedrock)
            .await;
    }

    /// Skips the running test ([`crate::skip`]) when this emulator cannot send SES v2 mail or
    /// show what it sent; true then, and the test returns. A test that needs email calls it
    /// first: `if stack.skip_without_email() { return; }`.
    pub fn skip_without_email(&self) -> bool {
        match &self.mail {
            Ok(_) => false,
            Err(reason) => {
                crate::skip::skip(reason);
                true
            }
        }
    }

    /// Emails sent since this stack started (by any test sharing the emulator): (to, subject,
    /// body) for each, the body's HTML part when there is one.
    pub async fn sent_emails(&self) -> Vec<Email> {
        match &self.mail {
            Ok((sent, before)) => since(sent.emails().await, before),
            Err(reason) => panic!("this test reads email; call skip_without_email first: {reason}"),
        }
    }

    /// SMS sent since this stack started (by any test sharing the emulator): (phone, message)
    /// for each.
    pub async fn sent_sms(&self) -> Vec<Sms> {
        match &self.sms {
            Ok((sent, before)) => since(sent.sms().await, before),
            Err(reason) => panic!("read the SMS SNS sent: {reason}"),
        }
    }

    /// Where the consumers set aside jobs that can never succeed.
    pub async fn dead_ends(&self) -> rft_core::service::DeadEnds {
        rft_aws::wiring::dead_ends(&self.env).await
    }

    /// The environment as `function` sees it: its AWS calls are recorded under its name.
    pub fn env_of(&self, function: &str) -> Environment {
        self.env.as_function(function)
    }

    /// A fresh `rft-edge` instance (cold: nothing cached), started and served as its Lambda
    /// handler is.
    pub async fn edge(&self) -> Router {
        let edge = rft_aws::wiring::edge_at_start(&self.env_of("rft-edge")).await.expect("the edge wires up");
        rft_aws::lambda::edge_app(Arc::new(edge))
    }

    /// A signed request at the real time (the functions use the system clock).
    pub fn signed(&self, method: axum::http::Method, path: &str, body: &str) -> axum::http::Request<axum::body::Body> {
        let now = rft_core::time::SystemClock;
        let at: Timestamp = rft_core::Clock::now(&now);
        let mut builder =
            axum::http::Request::builder().method(method).uri(path).header("content-type", "application/json");
        let id = format!("msg_{}", rft_core::ids::random_base32());
        for (name, value) in self.signer.headers(&id, at, body.as_bytes()).expect("signs") {
            builder = builder.header(name, value);
        }
        builder.body(axum::body::Body::from(body.to_owned())).expect("valid request")
    }
}

/// A phone browser's `GET /r/{code}`, as rft-edge receives it.
pub fn click(code: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .uri(format!("/r/{code}"))
        .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X)")
        .body(axum::body::Body::empty())
        .expect("request")
}

/// Sends a request through a router; returns the status, headers and JSON body (`Null` if the
/// body is not JSON).
pub async fn call(
    router: &Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Value) {
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Takes what is on a queue as one SQS event, as Lambda would deliver it. The messages stay
/// invisible for `visibility`: one that a handler fails comes back after that, as in AWS.
pub async fn sqs_event(queue: &SqsQueue, visibility: std::time::Duration) -> SqsEvent {
    use rft_core::ports::JobQueue;
    let mut event = SqsEvent::default();
    for _ in 0..20 {
        let got = queue.receive(10, visibility).await.expect("receive");
        if got.is_empty() && !event.records.is_empty() {
            break;
        }
        for d in got {
            let mut m = SqsMessage::default();
            m.message_id = Some(d.receipt.clone());
            m.receipt_handle = Some(d.receipt.clone());
            m.body = Some(serde_json::to_string(&d.job).expect("jobs serialise"));
            event.records.push(m);
        }
        if event.records.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    event
}

/// How long a failed message stays invisible in the queue tests (SQS's shortest useful).
pub const VISIBILITY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a queue's batches through `handle` as Lambda's event source mapping would (deleting
/// what a batch did not report failed, redelivering the rest after their visibility timeout),
/// until the queue stays empty: every job the handlers queue (delayed retries included) runs
/// too. Returns how many batches reported a failure.
pub async fn run_queue<F, Fut, E>(queue: &SqsQueue, dead_ends: &rft_core::service::DeadEnds, handle: F) -> usize
where
    F: Fn(rft_core::Job) -> Fut + Copy,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: rft_core::jobs::JobFailure,
{
    use rft_core::ports::JobQueue;
    let mut failing_batches = 0;
    let mut empty_rounds = 0;
    for _ in 0..60 {
        let event = sqs_event(queue, VISIBILITY).await;
        if event.records.is_empty() {
            // Failed and delayed messages are invisible for a while: only two empty looks a
            // second apart mean the queue is drained.
            empty_rounds += 1;
            if empty_rounds == 2 {
                return failing_batches;
            }
            tokio::time::sleep(VISIBILITY).await;
            continue;
        }
        empty_rounds = 0;
        let receipts: Vec<String> = event.records.iter().filter_map(|m| m.receipt_handle.clone()).collect();
        let failed = rft_aws::lambda::handle_batch(event, dead_ends, handle).await.batch_item_failures;
        if !failed.is_empty() {
            failing_batches += 1;
        }
        for receipt in receipts.iter().filter(|r| !failed.iter().any(|f| &f.item_identifier == *r)) {
            queue.ack(receipt).await.expect("ack");
        }
    }
    panic!("the queue did not drain");
}
