//! The model on Bedrock (Converse). It writes words only; the caller validates every draft and
//! falls back to a template, and bounds the wait with the configured timeout.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message, SystemContentBlock,
};

use rft_core::ports::{DraftRequest, TextWriter, WriterError};

/// A Converse client for one model (or inference profile) id.
#[derive(Clone, Debug)]
pub struct BedrockWriter {
    client: Client,
    model_id: String,
}

impl BedrockWriter {
    /// A writer for `model_id`.
    pub fn new(client: Client, model_id: impl Into<String>) -> Self {
        BedrockWriter { client, model_id: model_id.into() }
    }
}

#[async_trait]
impl TextWriter for BedrockWriter {
    async fn draft(&self, request: &DraftRequest) -> Result<String, WriterError> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(request.prompt.clone()))
            .build()
            .map_err(|e| WriterError(Box::new(e)))?;
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(request.system.clone()))
            .messages(message)
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(i32::try_from(request.max_tokens).unwrap_or(200))
                    .temperature(0.7)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| WriterError(Box::new(e)))?;
        let text: String = match output.output {
            Some(ConverseOutput::Message(m)) => m
                .content
                .into_iter()
                .filter_map(|block| match block {
                    ContentBlock::Text(t) => Some(t),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        if text.trim().is_empty() {
            return Err(WriterError("the model returned no text".into()));
        }
        Ok(text)
    }
}
