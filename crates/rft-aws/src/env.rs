//! What a function reads at start: the settings file, the SDK configuration, table names, queue
//! URLs, function names and the secret id. Each builder makes one client, once, in init.

use std::sync::Arc;

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
    ($sdk:ident, $env:expr, $field:ident) => {{
        let mut config = $sdk::config::Builder::from(&$env.sdk);
        if let Some(url) = &$env.endpoints.$field {
            config.set_endpoint_url(Some(url.clone()));
        }
        if let Some(counter) = &$env.endpoints.calls {
            config.push_interceptor($sdk::config::SharedInterceptor::new(counter.clone()));
        }
        $sdk::Client::from_conf(config.build())
    }};
}

/// Everything a function is configured with.
#[derive(Clone, Debug)]
pub struct Environment {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// SDK configuration (region, credentials, endpoint).
    pub sdk: SdkConfig,
    /// Table names.
    pub tables: TableNames,
    /// Queue URLs, function names, the secret id.
    pub wiring: Wiring,
    /// Endpoint overrides (tests only).
    pub endpoints: Endpoints,
}

impl Environment {
    /// Reads `RFT_SETTINGS` (a file path), the SDK configuration, `RFT_TABLE_*` and the wiring.
    pub async fn from_env() -> Result<Self, EnvError> {
        let path = std::env::var("RFT_SETTINGS").map_err(|_| EnvError::Missing("RFT_SETTINGS"))?;
        let text =
            std::fs::read_to_string(&path).map_err(|source| EnvError::SettingsFile { path: path.clone(), source })?;
        Ok(Environment {
            settings: Arc::new(Settings::parse(&text)?),
            sdk: crate::config::from_env().await,
            tables: TableNames::from_env(),
            wiring: Wiring::from_env(),
            endpoints: Endpoints::default(),
        })
    }

    fn need(value: &Option<String>, name: &'static str) -> Result<String, EnvError> {
        value.clone().ok_or(EnvError::Missing(name))
    }

    /// The DynamoDB store.
    pub fn store(&self) -> Arc<DynamoStore> {
        Arc::new(DynamoStore::new(client!(aws_sdk_dynamodb, self, dynamodb), self.tables.clone()))
    }

    /// The six stores on DynamoDB.
    pub fn stores(&self) -> Stores {
        Stores::from_backend(self.store())
    }

    /// The secrets, from Secrets Manager.
    pub async fn secrets(&self) -> Result<SecretSet, EnvError> {
        let id = Self::need(&self.wiring.secret_id, "RFT_SECRET_ID")?;
        Ok(crate::secrets::load(&client!(aws_sdk_secretsmanager, self, secrets), &id).await?)
    }

    fn queue(&self, url: &Option<String>, name: &'static str) -> Result<SqsQueue, EnvError> {
        Ok(SqsQueue::new(client!(aws_sdk_sqs, self, sqs), Self::need(url, name)?, None))
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
        Ok(LambdaMinter::new(client!(aws_sdk_lambda, self, lambda), f))
    }

    /// The screen, over a Lambda invoke.
    pub fn screener(&self) -> Result<LambdaScreener, EnvError> {
        let f = Self::need(&self.wiring.screen_function, "RFT_SCREEN_FUNCTION")?;
        Ok(LambdaScreener::new(client!(aws_sdk_lambda, self, lambda), f))
    }

    /// Erasure, over a Lambda invoke of the rewarder.
    pub fn eraser(&self) -> Result<crate::invoke::LambdaEraser, EnvError> {
        let f = Self::need(&self.wiring.rewarder_function, "RFT_REWARDER_FUNCTION")?;
        Ok(crate::invoke::LambdaEraser::new(client!(aws_sdk_lambda, self, lambda), f))
    }

    /// The model, on Bedrock.
    pub fn writer(&self) -> BedrockWriter {
        BedrockWriter::new(client!(aws_sdk_bedrockruntime, self, bedrock), self.settings.messages.model_id.clone())
    }

    /// Email through SES, and SMS through SNS when `sms`.
    pub fn messenger(&self, sms: bool) -> AwsMessenger {
        AwsMessenger::new(
            client!(aws_sdk_sesv2, self, ses),
            sms.then(|| client!(aws_sdk_sns, self, sns)),
            self.settings.messages.from_email.to_string(),
        )
    }
}
