//! Integration tests: the real binary on real files. One test binary so the
//! suite links once.

mod helpers;

mod architecture;
mod attack;
mod bad_input_round_three;
mod calibration;
mod check;
mod corpus_errors;
mod datasets;
mod diff;
mod egress;
mod errors_catalogue;
mod examples;
mod exit_codes;
mod fault_table;
mod fixtures;
mod github;
mod honest_clock;
mod load;
mod policy;
mod presets;
mod public_datasets;
mod reference;
mod release;
mod renderers;
mod reports;
mod resume;
mod run_bundled;
mod scaffold;
mod schema;
mod sharding;
mod shell;
mod targets;
mod tenants;
mod tls;
mod transforms;
mod waivers;
