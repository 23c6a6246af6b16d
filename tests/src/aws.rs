//! The AWS wiring of the functions, run against the emulators: DynamoDB Local, moto (SQS, SES,
//! SNS, Secrets Manager), wiremock for Bedrock, and a small stand-in for the Lambda Invoke API
//! that runs the minter's and screen's real handlers.

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

use crate::backends::{dynamodb_client, dynamodb_endpoint, moto_endpoint, unique_prefix};

/// The deployed functions' handlers, reachable over a fake Lambda Invoke API.
#[derive(Default, Clone)]
pub struct Functions {
    minter: Arc<OnceLock<MintService>>,
    screen: Arc<OnceLock<ScreenService>>,
    eraser: Arc<OnceLock<rft_core::service::erase::Eraser>>,
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
                rft_aws::invoke::serve_rewarder(functions.eraser.get().expect("eraser wired"), call).await,
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
    /// The secrets stored in (moto's) Secrets Manager.
    pub secrets: SecretSet,
    /// Signs as the store does.
    pub signer: Signer,
    /// Bedrock's stand-in.
    pub bedrock: MockServer,
    /// The sign-up queue.
    pub signup_queue: SqsQueue,
    /// The reward queue.
    pub reward_queue: SqsQueue,
    /// moto's endpoint (for its inspection API).
    pub moto: String,
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

    /// The same, with the functions reaching DynamoDB and moto at the given endpoints (a
    /// [`crate::switch::Switch`] in front of each, for the fault tests).
    pub async fn start_with(mut settings: Settings, dynamodb: &str, moto: &str) -> Self {
        crate::harness::init_tracing();
        let store = MockServer::start().await;
        settings.store.reward_url = Some(format!("{}/referral-rewards", store.uri()).parse().expect("a URL"));
        let moto = moto.to_owned();
        let sdk = rft_aws::config::for_emulator(&moto).await;
        let prefix = unique_prefix();
        let tables = TableNames::with_prefix(&prefix);
        rft_aws::tables::create_tables(&dynamodb_client().await, &tables).await.expect("tables");
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let signup_queue = SqsQueue::create(sqs.clone(), &format!("{prefix}rft-signup-jobs")).await.expect("queue");
        let reward_queue = SqsQueue::create(sqs, &format!("{prefix}rft-reward-jobs")).await.expect("queue");
        let [s, o, k, i] = SecretSet::generate_parts();
        let store_signing = rft_core::secrets::SigningSecret::generate().to_whsec();
        let secret_json = json!({ "signing_secret": s, "ops_secret": o, "store_api_key": k, "identity_key": i,
            "store_signing_secret": store_signing })
        .to_string();
        let secret = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("{prefix}rft/secrets"))
            .secret_string(secret_json)
            .send()
            .await
            .expect("secret");
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        ses.create_email_identity()
            .email_identity(settings.messages.from_email.as_str())
            .send()
            .await
            .expect("SES identity");
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
                bedrock: Some(bedrock.uri()),
                lambda: Some(invoke_api),
                calls: Some(calls.clone()),
                ..Endpoints::default()
            },
        );
        let secrets = env.secrets().await.expect("the functions read the secret");
        let _ = functions.minter.set(rft_aws::wiring::minter(&env).await);
        let _ = functions.screen.set(rft_aws::wiring::screen(&env, &secrets).await);
        let _ = functions.eraser.set(rft_aws::wiring::eraser(&env, &secrets).await);
        let signer = Signer::new(&secrets.signing);
        AwsStack { env, secrets, signer, bedrock, signup_queue, reward_queue, moto, store, calls }
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

    /// Emails moto has "sent": (to, subject, body) for each (moto keeps the HTML part when
    /// there is one).
    pub async fn sent_emails(&self) -> Vec<(String, String, String)> {
        let data: Value = fetch_json(&format!("{}/moto-api/data.json", self.moto)).await;
        let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                let to = m["destinations"]["ToAddresses"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                    .unwrap_or_default();
                (
                    to,
                    m["subject"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// SMS moto has "sent": (phone, message) for each.
    pub async fn sent_sms(&self) -> Vec<(String, String)> {
        let data: Value = fetch_json(&format!("{}/moto-api/data.json", self.moto)).await;
        let messages = data["sns"]["SMS"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .map(|m| {
                (
                    m["phone_number"].as_str().unwrap_or_default().to_owned(),
                    m["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// A fresh `rft-edge` instance (cold: nothing cached), as its Lambda handler serves it.
    pub async fn edge(&self) -> Router {
        let edge = rft_aws::wiring::edge(&self.env, &self.secrets).await.expect("the edge wires up");
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

/// GETs JSON from a local emulator's inspection API.
async fn fetch_json(url: &str) -> Value {
    let body = tokio::task::spawn_blocking({
        let url = url.to_owned();
        move || {
            let out = std::process::Command::new("curl").args(["-s", &url]).output().expect("curl runs");
            out.stdout
        }
    })
    .await
    .expect("joined");
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}
