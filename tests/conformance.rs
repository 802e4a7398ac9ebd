//! This project's own gauntlet config as `cargo test` trials — and the
//! README's example of the library entry point, verbatim.
fn main() {
    gauntlet::conformance::main()
}
