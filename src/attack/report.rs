//! attack.json: the searches summed up. Rates carry the run's interval
//! (`[counting]`), as every rate gauntlet reports does.

use serde::{Deserialize, Serialize};

use crate::metrics::{CountingPolicy, Rate};

pub const ATTACK_SCHEMA: &str = "gauntlet.attack.v1";

/// Budgets the curve reports, as far as the run's budget.
const CURVE_BUDGETS: [usize; 6] = [1, 2, 5, 10, 20, 50];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct AttackReport {
    /// `gauntlet.attack.v1`.
    pub schema: String,
    pub generated_at: String,
    pub target: crate::targets::TargetFingerprint,
    pub lane: String,
    pub seed: u64,
    /// Variants per original, at most.
    pub budget: usize,
    /// What `--strategy` asked: auto, guided or random.
    pub strategy: String,
    pub max_edit_share: f64,
    /// The transform steps the search composed.
    pub transforms: Vec<String>,
    pub originals: Originals,
    pub queries: Queries,
    /// Originals with a confirmed evasion.
    pub evaded: u64,
    /// Evasions allowed once and blocked when re-sent: the target is not
    /// deterministic there; not counted as evaded.
    pub flipped: u64,
    /// Evasion rate when the attacker may send at most `budget` variants.
    pub curve: Vec<BudgetPoint>,
    /// At the run's budget, per category.
    pub by_category: Vec<CategoryRow>,
    /// Median queries an evaded original took.
    pub median_queries: Option<f64>,
    /// How often each edit kind and transform step appears in an evasion, most first.
    pub edits: Vec<EditCount>,
    /// One row per searched original, in corpus order.
    pub cases: Vec<CaseRecord>,
    /// The lane's `adaptive-evasion-rate` gates.
    pub gates: Vec<crate::load::CommandGateVerdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Originals {
    /// Adversarial originals in the lane's corpora.
    pub adversarial: u64,
    /// Blocked at rest: the ones searched.
    pub searched: u64,
    /// Already allowed at rest (nothing to search: the gate misses them as they are).
    pub allowed_at_rest: u64,
    /// A target error at rest (not searched).
    pub errored_at_rest: u64,
    /// Structured requests, which the edits and transforms do not change.
    pub not_searchable: u64,
    /// Searches ranked by score (guided) and at random.
    pub guided: u64,
    pub random: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Queries {
    /// The originals sent once as they are.
    pub at_rest: u64,
    /// Variants sent by the searches (at most `budget` per original).
    pub search: u64,
    /// Evasions re-sent once to confirm them.
    pub confirmations: u64,
    /// Answers taken from a resumed run's journal instead of sent.
    pub recorded: u64,
    /// Search answers that were target errors (never an evasion).
    pub errors: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BudgetPoint {
    pub budget: usize,
    pub evaded: u64,
    pub searched: u64,
    pub rate: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CategoryRow {
    pub category: String,
    pub searched: u64,
    pub evaded: u64,
    pub rate: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EditCount {
    pub edit: String,
    pub evasions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CaseRecord {
    pub id: String,
    pub category: String,
    /// guided or random.
    pub strategy: String,
    pub evaded: bool,
    pub flipped: bool,
    /// Queries to the evasion (as an attacker sending one at a time), else all sent.
    pub queries: usize,
    /// Variants actually sent (a batch may go past the evasion).
    pub sent: usize,
    pub errors: usize,
    /// The evasion's edit chain (`homoglyph@3+leet@5+base64`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score_at_rest: Option<f64>,
    /// Each variant's score, in the order sent (guided search).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub score_path: Vec<Option<f64>>,
}

/// The curve, the categories, the median and the edit counts from the
/// case rows.
pub fn summarise(cases: &[CaseRecord], budget: usize, policy: &CountingPolicy) -> Summary {
    let searched = cases.len() as u64;
    let evaded_within = |b: usize| cases.iter().filter(|c| c.evaded && c.queries <= b).count() as u64;
    let mut budgets: Vec<usize> = CURVE_BUDGETS.iter().copied().filter(|&b| b < budget).collect();
    budgets.push(budget);
    let curve = budgets
        .into_iter()
        .map(|b| {
            let r = Rate::new(evaded_within(b), searched, policy);
            BudgetPoint { budget: b, evaded: r.numerator, searched, rate: r.value, low: r.low, high: r.high }
        })
        .collect();
    let mut categories: Vec<String> = cases.iter().map(|c| c.category.clone()).collect();
    categories.sort();
    categories.dedup();
    let by_category = categories
        .into_iter()
        .map(|category| {
            let rows: Vec<&CaseRecord> = cases.iter().filter(|c| c.category == category).collect();
            let r = Rate::new(rows.iter().filter(|c| c.evaded).count() as u64, rows.len() as u64, policy);
            CategoryRow {
                category,
                searched: r.denominator,
                evaded: r.numerator,
                rate: r.value,
                low: r.low,
                high: r.high,
            }
        })
        .collect();
    let mut queries: Vec<usize> = cases.iter().filter(|c| c.evaded).map(|c| c.queries).collect();
    queries.sort_unstable();
    let median_queries = match queries.len() {
        0 => None,
        n if n % 2 == 1 => Some(queries[n / 2] as f64),
        n => Some((queries[n / 2 - 1] + queries[n / 2]) as f64 / 2.0),
    };
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for chain in cases.iter().filter(|c| c.evaded).filter_map(|c| c.chain.as_deref()) {
        let mut kinds: Vec<&str> = chain.split('+').map(|part| part.split('@').next().unwrap_or(part)).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for k in kinds {
            *counts.entry(k.to_string()).or_default() += 1;
        }
    }
    let mut edits: Vec<EditCount> = counts.into_iter().map(|(edit, evasions)| EditCount { edit, evasions }).collect();
    edits.sort_by(|a, b| b.evasions.cmp(&a.evasions).then(a.edit.cmp(&b.edit)));
    Summary { curve, by_category, median_queries, edits }
}

/// What [`summarise`] computes.
pub struct Summary {
    pub curve: Vec<BudgetPoint>,
    pub by_category: Vec<CategoryRow>,
    pub median_queries: Option<f64>,
    pub edits: Vec<EditCount>,
}

impl AttackReport {
    /// A blocking `adaptive-evasion-rate` gate that failed fails the run;
    /// the evasions alone are findings, not a failure.
    pub fn outcome(&self) -> crate::exit_code::Outcome {
        crate::exit_code::Outcome::failed_if(self.gates.iter().any(|g| g.blocking && g.status == "fail"))
    }

    /// (evaded within `budget` queries, searched); `None` when the run's
    /// own budget was smaller, so it cannot say.
    pub fn evaded_within(&self, budget: usize) -> Option<(u64, u64)> {
        (budget <= self.budget).then(|| {
            let evaded = self.cases.iter().filter(|c| c.evaded && c.queries <= budget).count() as u64;
            (evaded, self.cases.len() as u64)
        })
    }
}
