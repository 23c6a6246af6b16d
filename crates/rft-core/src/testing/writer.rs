//! `TextWriter` that answers what the test scripted, late if asked, or fails.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{DraftRequest, TextWriter, WriterError};

/// A model with a scripted answer; with none it fails, so the templates are used.
#[derive(Default)]
pub(crate) struct ScriptedWriter {
    answer: Mutex<Option<(String, Duration)>>,
}

impl ScriptedWriter {
    /// Drafts are `text`, after `delay`.
    pub fn answers(&self, text: &str, delay: Duration) {
        *self.answer.lock().unwrap() = Some((text.to_owned(), delay));
    }
}

#[async_trait]
impl TextWriter for ScriptedWriter {
    async fn draft(&self, _request: &DraftRequest) -> Result<String, WriterError> {
        let answer = self.answer.lock().unwrap().clone();
        let Some((text, delay)) = answer else { return Err(WriterError("no model in this test".into())) };
        tokio::time::sleep(delay).await;
        Ok(text)
    }
}
