//! The one `ProptestConfig` every property uses: deterministic in CI, deeper on demand.
//!
//! | variable | effect |
//! |---|---|
//! | `PROPTEST_CASES` | cases per property (default [`DEFAULT_CASES`]) |
//! | `HARNESS_DEPTH=deep` | at least [`DEEP_CASES`] cases |
//! | `PROPTEST_RNG_SEED` | seed (default [`DEFAULT_SEED`]: every run explores the same cases) |
//!
//! Failures are persisted to `proptests/proptest-regressions/<file>` and replayed
//! first on every later run; that directory is committed on purpose.

use proptest::test_runner::{
    Config as ProptestConfig, FileFailurePersistence, RngAlgorithm, RngSeed,
};

/// Cases per property when nothing is configured.
pub const DEFAULT_CASES: u32 = 64;
/// Cases per property under `HARNESS_DEPTH=deep`.
pub const DEEP_CASES: u32 = 4096;
/// The fixed seed (ASCII "EKVPBBL1").
pub const DEFAULT_SEED: u64 = 0x454B_5650_4242_4C31;

/// Cases per property from `PROPTEST_CASES` and `HARNESS_DEPTH`.
pub fn cases() -> u32 {
    let explicit = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok());
    let cases = explicit.unwrap_or(DEFAULT_CASES);
    if std::env::var("HARNESS_DEPTH").is_ok_and(|v| v.eq_ignore_ascii_case("deep")) {
        cases.max(DEEP_CASES)
    } else {
        cases
    }
}

/// The RNG seed: `PROPTEST_RNG_SEED` when set, else [`DEFAULT_SEED`].
pub fn seed() -> u64 {
    std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// The configuration of the properties in one test file. `regressions` names the
/// file (e.g. `"container.txt"`) under `proptests/proptest-regressions/`.
pub fn config(regressions: &str) -> ProptestConfig {
    let path = format!(
        "{}/proptest-regressions/{regressions}",
        env!("CARGO_MANIFEST_DIR")
    );
    // The persistence API wants a 'static path; one small leak per test is fine.
    let path: &'static str = Box::leak(path.into_boxed_str());
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed()),
        ..ProptestConfig::default()
    }
}

/// [`config`] with the case count divided by `divisor` (but not below 8, unless fewer
/// were asked for), for properties that cost much more per case than the others.
pub fn config_scaled(regressions: &str, divisor: u32) -> ProptestConfig {
    let mut config = config(regressions);
    config.cases = (config.cases / divisor.max(1)).max(config.cases.min(8));
    config
}
