//! Counting API calls per operation, through an SDK interceptor on every client.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Requests sent to AWS so far, per (service, operation). Retries count: each is a request.
#[derive(Clone, Debug, Default)]
pub struct ApiStats {
    counts: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

/// One row of [`ApiStats::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallCount {
    /// The service, as the SDK names it (e.g. `CloudWatch Logs`).
    pub service: String,
    /// The operation, e.g. `PutMetricFilter`.
    pub operation: String,
    /// How many times it was called (retries each count).
    pub calls: u64,
}

impl CallCount {
    /// Whether the operation can change AWS state. Reads are Get/List/Describe/Head/Lookup
    /// calls; `GetSecretValue` is a read that matters on its own (it fires the alarm).
    pub fn is_mutating(&self) -> bool {
        !["Get", "List", "Describe", "Head", "Lookup", "Test"].iter().any(|p| self.operation.starts_with(p))
    }
}

impl ApiStats {
    pub(crate) fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(Counter { stats: self.clone() })
    }

    /// Counts one call of `operation` of `service`.
    pub fn record(&self, service: &str, operation: &str) {
        *self.counts.lock().expect("stats lock").entry((service.to_string(), operation.to_string())).or_default() += 1;
    }

    /// Every operation called so far, with its count, sorted by service and operation.
    pub fn snapshot(&self) -> Vec<CallCount> {
        self.counts
            .lock()
            .expect("stats lock")
            .iter()
            .map(|((s, o), n)| CallCount { service: s.clone(), operation: o.clone(), calls: *n })
            .collect()
    }

    /// How many calls in all.
    pub fn total(&self) -> u64 {
        self.snapshot().iter().map(|c| c.calls).sum()
    }

    /// How many calls could change AWS state ([`CallCount::is_mutating`]).
    pub fn mutating(&self) -> u64 {
        self.snapshot().iter().filter(|c| c.is_mutating()).map(|c| c.calls).sum()
    }

    /// How many calls of `operation`, in any service.
    pub fn calls_to(&self, operation: &str) -> u64 {
        self.snapshot().iter().filter(|c| c.operation == operation).map(|c| c.calls).sum()
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.counts.lock().expect("stats lock").clear();
    }
}

#[derive(Debug)]
struct Counter {
    stats: ApiStats,
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "secmon-api-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.stats.record(m.service(), m.name());
        }
        Ok(())
    }
}
