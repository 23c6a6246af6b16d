//! What a function reads at start: the settings file, the SDK configuration, table names, queue
//! URLs, function names and the secret id. The clients every request needs (DynamoDB, Secrets
//! Manager) are built in init; the others once, on first use, shared by every adapter.

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

use rft_core::Settings;
use rft_core::ports::Stores;
use rft_core::secrets::SecretSet;

use crate::bedrock::BedrockWriter;
use crate::dynamo::DynamoStore;
use crate::invoke::{LambdaMinter, LambdaScreener};
use crate::messaging::AwsMessenger;
use crate::sqs::SqsQueue;
use crate::tables::TableNames;

/// A function could not start.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// An environment variable is missing.
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    /// The settings file could not be read.
    #[error("could not read the settings file {path}")]
    SettingsFile {
        /// Its path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The settings are invalid (the message names the key).
    #[error(transparent)]
    Settings(#[from] rft_core::settings::SettingsError),
    /// The secret could not be loaded.
    #[error(transparent)]
    Secret(#[from] crate::secrets::LoadSecretError),
}

/// Names the functions find each other and their queues by.
#[derive(Clone, Debug, Default)]
pub struct Wiring {
    /// `RFT_SIGNUP_QUEUE_URL`.
    pub signup_queue_url: Option<String>,
    /// `RFT_REWARD_QUEUE_URL`.
    pub reward_queue_url: Option<String>,
    /// `RFT_MINTER_FUNCTION`.
    pub minter_function: Option<String>,
    /// `RFT_SCREEN_FUNCTION`.
    pub screen_function: Option<String>,
    /// `RFT_REWARDER_FUNCTION` (the edge invokes it for erasure).
    pub rewarder_function: Option<String>,
    /// `RFT_SECRET_ID`.
    pub secret_id: Option<String>,
}

impl Wiring {
    /// From the process environment.
    pub fn from_env() -> Self {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        Wiring {
            signup_queue_url: var("RFT_SIGNUP_QUEUE_URL"),
            reward_queue_url: var("RFT_REWARD_QUEUE_URL"),
            minter_function: var("RFT_MINTER_FUNCTION"),
            screen_function: var("RFT_SCREEN_FUNCTION"),
            rewarder_function: var("RFT_REWARDER_FUNCTION"),
            secret_id: var("RFT_SECRET_ID"),
        }
    }
}

/// Per-service endpoint overrides, for emulators (tests point DynamoDB at DynamoDB Local, SQS
/// at moto, Bedrock and Lambda at stubs). All `None` in AWS.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    /// DynamoDB.
    pub dynamodb: Option<String>,
    /// SQS.
    pub sqs: Option<String>,
    /// SES (v2).
    pub ses: Option<String>,
    /// SNS.
    pub sns: Option<String>,
    /// Bedrock runtime.
    pub bedrock: Option<String>,
    /// Lambda (invokes).
    pub lambda: Option<String>,
    /// Secrets Manager.
    pub secrets: Option<String>,
    /// Counts every call of every client (tests and benchmarks).
    pub calls: Option<crate::calls::CallCounter>,
}

/// Builds one service's client from the shared configuration and an optional endpoint.
macro_rules! client {
    ($sdk:ident, $config:expr, $endpoints:expr, $field:ident) => {{
        let mut config = $sdk::config::Builder::from($config);
        if let Some(url) = &$endpoints.$field {
            config.set_endpoint_url(Some(url.clone()));
        }
        if let Some(counter) = &$endpoints.calls {
            config.push_interceptor($sdk::config::SharedInterceptor::new(counter.clone()));
        }
        $sdk::Client::from_conf(config.build())
    }};
}

/// An SDK client built the first time a call needs it, then shared by every clone. Building
/// one (its connector and TLS configuration) is a tenth of a millisecond of a cold start, and
/// most requests to the edge never invoke a function or send a job.
pub struct LazyClient<C>(Arc<Cell<C>>);

struct Cell<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client `build` makes when it is first used.
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        LazyClient(Arc::new(Cell { client: OnceLock::new(), build: Box::new(build) }))
    }

    /// A client that is already built.
    pub fn built(client: C) -> Self {
        LazyClient(Arc::new(Cell {
            client: OnceLock::from(client),
            build: Box::new(|| unreachable!("the client was built before it was wrapped")),
        }))
    }

    /// Whether the client has been built yet.
    pub fn is_built(&self) -> bool {
        self.0.client.get().is_some()
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.0.client.get_or_init(&self.0.build)
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        LazyClient(self.0.clone())
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_built() { "LazyClient(built)" } else { "LazyClient(not yet built)" })
    }
}

/// The lazily built clients, one per service for the whole function.
#[derive(Clone, Debug)]
struct Shared {
    sqs: LazyClient<aws_sdk_sqs::Client>,
    lambda: LazyClient<aws_sdk_lambda::Client>,
}

impl Shared {
    fn new(sdk: &SdkConfig, endpoints: &Endpoints) -> Self {
        let (config, overrides) = (sdk.clone(), endpoints.clone());
        let sqs = LazyClient::new(move || client!(aws_sdk_sqs, &config, overrides, sqs));
        let (config, overrides) = (sdk.clone(), endpoints.clone());
        let lambda = LazyClient::new(move || client!(aws_sdk_lambda, &config, overrides, lambda));
        Shared { sqs, lambda }
    }
}

/// Everything a function is configured with. Only the settings are public: the clients shared
/// between adapters are built from the configuration as it was at construction.
#[derive(Clone, Debug)]
pub struct Environment {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// SDK configuration (region, credentials, endpoint).
    sdk: SdkConfig,
    /// Table names.
    tables: TableNames,
    /// Queue URLs, function names, the secret id.
    wiring: Wiring,
    /// Endpoint overrides (tests only).
    endpoints: Endpoints,
    shared: Shared,
}

impl Environment {
    /// Reads `RFT_SETTINGS` (a file path), the SDK configuration, `RFT_TABLE_*` and the wiring.
    pub async fn from_env() -> Result<Self, EnvError> {
        let path = std::env::var("RFT_SETTINGS").map_err(|_| EnvError::Missing("RFT_SETTINGS"))?;
        let text =
            std::fs::read_to_string(&path).map_err(|source| EnvError::SettingsFile { path: path.clone(), source })?;
        Ok(Environment::new(
            Settings::parse(&text)?,
            crate::config::from_env().await,
            TableNames::from_env(),
            Wiring::from_env(),
            Endpoints::default(),
        ))
    }

    /// An environment from its parts (tests point `endpoints` at the emulators).
    pub fn new(settings: Settings, sdk: SdkConfig, tables: TableNames, wiring: Wiring, endpoints: Endpoints) -> Self {
        let shared = Shared::new(&sdk, &endpoints);
        Environment { settings: Arc::new(settings), sdk, tables, wiring, endpoints, shared }
    }

    /// This environment as `function`'s: the same configuration, with its calls recorded under
    /// that function's name when a call counter is attached (tests run each function's wiring
    /// on its own copy, so each one's AWS calls can be told apart).
    pub fn as_function(&self, function: &str) -> Environment {
        let mut endpoints = self.endpoints.clone();
        endpoints.calls = endpoints.calls.map(|c| c.for_function(function));
        Environment::new(
            (*self.settings).clone(),
            self.sdk.clone(),
            self.tables.clone(),
            self.wiring.clone(),
            endpoints,
        )
    }

    fn need(value: &Option<String>, name: &'static str) -> Result<String, EnvError> {
        value.clone().ok_or(EnvError::Missing(name))
    }

    /// The DynamoDB store.
    pub fn store(&self) -> Arc<DynamoStore> {
        Arc::new(DynamoStore::new(client!(aws_sdk_dynamodb, &self.sdk, self.endpoints, dynamodb), self.tables.clone()))
    }

    /// The seven stores, all on one DynamoDB client.
    pub fn stores(&self) -> Stores {
        Stores::from_backend(self.store())
    }

    /// The secrets, from Secrets Manager.
    pub async fn secrets(&self) -> Result<SecretSet, EnvError> {
        let id = Self::need(&self.wiring.secret_id, "RFT_SECRET_ID")?;
        let client = client!(aws_sdk_secretsmanager, &self.sdk, self.endpoints, secrets);
        Ok(crate::secrets::load(&client, &id, self.settings.store.kind).await?)
    }

    fn queue(&self, url: &Option<String>, name: &'static str) -> Result<SqsQueue, EnvError> {
        Ok(SqsQueue::new(self.shared.sqs.clone(), Self::need(url, name)?, None))
    }

    /// `rft-signup-jobs`.
    pub fn signup_queue(&self) -> Result<SqsQueue, EnvError> {
        self.queue(&self.wiring.signup_queue_url, "RFT_SIGNUP_QUEUE_URL")
    }

    /// `rft-reward-jobs`.
    pub fn reward_queue(&self) -> Result<SqsQueue, EnvError> {
        self.queue(&self.wiring.reward_queue_url, "RFT_REWARD_QUEUE_URL")
    }

    /// The minter, over a Lambda invoke.
    pub fn minter(&self) -> Result<LambdaMinter, EnvError> {
        let f = Self::need(&self.wiring.minter_function, "RFT_MINTER_FUNCTION")?;
        Ok(LambdaMinter::new(self.shared.lambda.clone(), f))
    }

    /// The screen, over a Lambda invoke.
    pub fn screener(&self) -> Result<LambdaScreener, EnvError> {
        let f = Self::need(&self.wiring.screen_function, "RFT_SCREEN_FUNCTION")?;
        Ok(LambdaScreener::new(self.shared.lambda.clone(), f))
    }

    /// Erasure, over a Lambda invoke of the rewarder.
    pub fn eraser(&self) -> Result<crate::invoke::LambdaEraser, EnvError> {
        let f = Self::need(&self.wiring.rewarder_function, "RFT_REWARDER_FUNCTION")?;
        Ok(crate::invoke::LambdaEraser::new(self.shared.lambda.clone(), f))
    }

    /// The model, on Bedrock.
    pub fn writer(&self) -> BedrockWriter {
        BedrockWriter::new(
            client!(aws_sdk_bedrockruntime, &self.sdk, self.endpoints, bedrock),
            self.settings.messages.model_id.clone(),
        )
    }

    /// Email through SES, and SMS through SNS when `sms`.
    pub fn messenger(&self, sms: bool) -> AwsMessenger {
        AwsMessenger::new(
            client!(aws_sdk_sesv2, &self.sdk, self.endpoints, ses),
            sms.then(|| client!(aws_sdk_sns, &self.sdk, self.endpoints, sns)),
            self.settings.messages.from_email.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rft_core::ports::{Erasure, JobQueue};

    use super::*;

    /// Wiring the edge builds neither its SQS nor its Lambda client: each waits for the first
    /// call that needs it, and every adapter of a service uses the one shared client.
    #[tokio::test]
    async fn clients_a_request_may_not_need_are_built_on_first_use_and_shared() {
        let nothing_listens = "http://127.0.0.1:9";
        let env = Environment::new(
            Settings::parse(include_str!("../../../settings.example.toml")).unwrap(),
            crate::config::for_emulator(nothing_listens).await,
            TableNames::with_prefix("lazy-"),
            Wiring {
                signup_queue_url: Some(format!("{nothing_listens}/1/signup")),
                reward_queue_url: Some(format!("{nothing_listens}/1/reward")),
                minter_function: Some("rft-minter".into()),
                rewarder_function: Some("rft-rewarder".into()),
                ..Wiring::default()
            },
            Endpoints::default(),
        );
        let (signups, rewards) = (env.signup_queue().unwrap(), env.reward_queue().unwrap());
        let (_minter, eraser) = (env.minter().unwrap(), env.eraser().unwrap());
        let (sqs, lambda) = (&env.shared.sqs, &env.shared.lambda);
        assert!(!sqs.is_built() && !lambda.is_built(), "nothing built while wiring");

        assert!(rewards.receive(1, Duration::from_secs(1)).await.is_err(), "nothing listens");
        assert!(sqs.is_built(), "the reward queue's first call built the shared SQS client");
        assert!(!lambda.is_built(), "a queue call builds no Lambda client");
        assert!(signups.ack("receipt").await.is_err());

        let customer = rft_core::CustomerId::parse("c_lazy").unwrap();
        assert!(eraser.erase(&customer).await.is_err(), "nothing listens");
        assert!(lambda.is_built(), "the first invoke built the shared Lambda client");
    }
}
