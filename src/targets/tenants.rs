//! The built-in firewall per tenant: each tenant's own thresholds and
//! system prompt, and fail-closed routing — a request naming an unknown
//! tenant, or none while anonymous access is off, is blocked.

use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::builtin::Firewall;
use super::{Outcome, ReplayProgress, Replayed, Target, TargetFingerprint, TargetSpec};
use crate::corpus::{Case, Decision};
use crate::errors::Error;
use crate::hashing::Fingerprint;

pub struct TenantRouter {
    tenants: Vec<(String, Firewall)>,
    /// Serves requests without a tenant when anonymous access is on.
    anonymous: Option<Firewall>,
}

/// Ids of the requests gauntlet makes up to probe a tenant-aware gate; its
/// own `tenant-fail-closed` gate judges them.
pub const PROBE_PREFIX: &str = "probe::";

/// With `[[target.tenant]]`, every case runs once per tenant (id
/// `<id>@<tenant>`, `context.tenant` set); cases naming a tenant already keep it.
pub fn expand(cases: Vec<Case>, spec: &TargetSpec) -> Vec<Case> {
    let tenants: Vec<&str> = spec.tenant.iter().flatten().map(|t| t.id.as_str()).collect();
    if tenants.is_empty() {
        return cases;
    }
    let mut out = Vec::with_capacity(cases.len() * tenants.len());
    for case in cases {
        if tenant_of(&case).is_some() {
            out.push(case);
            continue;
        }
        for t in &tenants {
            let mut c = case.clone();
            c.id = format!("{}@{t}", case.id);
            // A variant pairs with its original sent for the same tenant.
            if let Some(origin) = &mut c.variant_of {
                *origin = format!("{origin}@{t}");
            }
            c.context
                .get_or_insert_with(Default::default)
                .insert("tenant".into(), serde_json::Value::String(t.to_string()));
            out.push(c);
        }
    }
    out
}

/// Requests that a tenant-aware gate must refuse: one for a tenant that does
/// not exist and, when anonymous access is off, one without a tenant.
pub fn probes(spec: &TargetSpec, config_path: &std::path::Path) -> Vec<Case> {
    if spec.tenant.as_ref().is_none_or(|t| t.is_empty()) {
        return Vec::new();
    }
    let make = |id: &str, tenant: Option<&str>| Case {
        id: format!("{PROBE_PREFIX}{id}"),
        payload: crate::corpus::Payload::Text("Hello, what are your opening hours?".into()),
        label: crate::corpus::Label::Adversarial,
        category: Arc::from("tenant-probe"),
        source: Arc::from("gauntlet"),
        tags: Vec::new(),
        expected: Some(Decision::Block),
        direction: Default::default(),
        context: tenant.map(|t| {
            let mut m = serde_json::Map::new();
            m.insert("tenant".into(), serde_json::Value::String(t.into()));
            m
        }),
        dataset: Arc::from("probes"),
        expected_first_block: None,
        origin: crate::corpus::Origin { path: Arc::new(config_path.to_path_buf()), line: 0 },
        transform: None,
        variant_of: None,
    };
    let mut probes = vec![make("unknown-tenant", Some("gauntlet-probe-no-such-tenant"))];
    if !spec.anonymous.unwrap_or(true) {
        probes.push(make("no-tenant", None));
    }
    probes
}

/// The tenant a case's context names, if any.
pub fn tenant_of(case: &Case) -> Option<&str> {
    case.context.as_ref()?.get("tenant")?.as_str()
}

impl TenantRouter {
    pub fn new(tenants: Vec<(String, Firewall)>, anonymous: Option<Firewall>) -> Self {
        TenantRouter { tenants, anonymous }
    }

    /// The case judged by its tenant's firewall, or refused.
    fn route(&self, case: &Case) -> Outcome {
        let start = Instant::now();
        let firewall = match tenant_of(case) {
            Some(t) => self.tenants.iter().find(|(id, _)| id == t).map(|(_, fw)| fw),
            None => self.anonymous.as_ref(),
        };
        match firewall {
            Some(fw) => fw.outcome(case),
            None if tenant_of(case).is_some() => Self::refuse("tenant:unknown", start.elapsed().as_micros() as u64),
            None => Self::refuse("tenant:missing", start.elapsed().as_micros() as u64),
        }
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
            latency_method: Some(crate::targets::LatencyMethod::InProcess),
            latency_resolution_us: None,
            restarts: None,
        }
    }

    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error> {
        let outcomes = cases
            .par_iter()
            .map(|case| {
                let outcome = self.route(case);
                progress.advance(1);
                outcome
            })
            .collect();
        Ok(Replayed { outcomes, aborted: None })
    }

    fn send_once(&self, case: &Case) -> Option<Outcome> {
        Some(self.route(case))
    }
}
