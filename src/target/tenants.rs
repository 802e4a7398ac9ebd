//! The built-in firewall per tenant: each tenant's own thresholds and
//! system prompt, and fail-closed routing — a request naming an unknown
//! tenant, or none while anonymous access is off, is blocked.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::builtin::Firewall;
use super::{Outcome, ReplayProgress, Replayed, Target, TargetFingerprint};
use crate::corpus::{Case, Decision};
use crate::errors::Error;
use crate::hashing::Fingerprint;

pub struct TenantRouter {
    tenants: Vec<(String, Firewall)>,
    /// Serves requests without a tenant when anonymous access is on.
    anonymous: Option<Firewall>,
}

/// The tenant a case's context names, if any.
pub fn tenant_of(case: &Case) -> Option<&str> {
    case.context.as_ref()?.get("tenant")?.as_str()
}

impl TenantRouter {
    pub fn new(tenants: Vec<(String, Firewall)>, anonymous: Option<Firewall>) -> Self {
        TenantRouter { tenants, anonymous }
    }

    fn refuse(reason: &str, latency_us: u64) -> Outcome {
        Outcome {
            decision: Ok(Decision::Block),
            score: Some(1.0),
            reasons: vec![Arc::from(reason)],
            latency_us,
            target_latency_us: None,
            queue_us: None,
            attempts: 1,
            blocked_at_turn: None,
        }
    }
}

impl Target for TenantRouter {
    fn fingerprint(&self) -> TargetFingerprint {
        let mut f = Fingerprint::new();
        for (id, fw) in &self.tenants {
            f.part(id.as_bytes()).part(fw.fingerprint().hash.as_bytes());
        }
        f.part(self.anonymous.as_ref().map(|fw| fw.fingerprint().hash).unwrap_or_default().as_bytes());
        TargetFingerprint {
            kind: "builtin".into(),
            description: format!(
                "built-in firewall for tenants {}{}",
                self.tenants.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", "),
                if self.anonymous.is_some() { " (anonymous allowed)" } else { "" }
            ),
            version: Some(format!("gauntlet-builtin/{}", env!("CARGO_PKG_VERSION"))),
            hash: f.finish(),
            throttled_ms: None,
            latency_method: Some(crate::target::LatencyMethod::InProcess),
            latency_resolution_us: None,
            restarts: None,
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error> {
        let outcomes = cases
            .par_iter()
            .map(|case| {
                let start = Instant::now();
                let firewall = match tenant_of(case) {
                    Some(t) => self.tenants.iter().find(|(id, _)| id == t).map(|(_, fw)| fw),
                    None => self.anonymous.as_ref(),
                };
                let outcome = match firewall {
                    Some(fw) => fw.outcome(case),
                    None if tenant_of(case).is_some() => {
                        Self::refuse("tenant:unknown", start.elapsed().as_micros() as u64)
                    }
                    None => Self::refuse("tenant:missing", start.elapsed().as_micros() as u64),
                };
                progress.advance(1);
                outcome
            })
            .collect();
        Ok(Replayed { outcomes, aborted: None })
    }
}
