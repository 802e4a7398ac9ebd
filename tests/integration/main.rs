//! Integration tests: the real binary on real files. One test binary so the
//! suite links once.

mod helpers;

mod calibration;
mod corpus_errors;
mod egress;
mod fixtures;
mod policy;
mod release;
mod reports;
mod run_bundled;
mod schema;
mod sharding;
mod shared_corpora;
mod targets;
mod tenants;
mod waivers;
