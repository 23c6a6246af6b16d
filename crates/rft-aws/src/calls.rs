//! Counts the AWS calls the functions make, by service and operation: an SDK interceptor that
//! tests and benchmarks attach through [`crate::env::Endpoints`]. Every attempt counts (a retry
//! is a second billed request).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Calls so far, keyed `Service.Operation` (`DynamoDB.PutItem`). Clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// The counts since the last [`CallCounter::take`], and starts again from zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call =
            cfg.load::<Metadata>().map_or_else(|| "unknown".to_owned(), |m| format!("{}.{}", m.service(), m.name()));
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(call).or_default() += 1;
        }
        Ok(())
    }
}
