//! Fuzz oracles for the snapshot codec.
//!
//! The layout follows wasm-tools: every oracle lives in this library
//! as `pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()>`, one multiplexed
//! libFuzzer binary (`fuzz_targets/run.rs`) picks the oracle from the first input byte,
//! and every oracle ends in a `#[test] fn smoke()` so plain `cargo test` runs each one
//! 200 times from a fixed seed — no cargo-fuzz, no nightly.
//!
//! Oracles panic when the codec misbehaves; returning `Err` only means "the input ran
//! out before the oracle could build its case" and is not a failure.

use arbitrary::Unstructured;
use elastickv_splitmix::SplitMix64;

pub mod dynamodb;
pub mod envelope;
pub mod json_reader;
pub mod live;
pub mod redis_values;
pub mod restore;
pub mod s3;
pub mod segment;
pub mod snapshot_body;
pub mod snapshot_raw;
pub mod sqs;
pub mod stream;
pub mod visibility;
pub mod whole_snapshot;

/// The signature every oracle has.
pub type Oracle = fn(&mut Unstructured<'_>) -> arbitrary::Result<()>;

/// Every oracle with its name. The index is the selector byte: an input whose first
/// byte is `i` (modulo the table length) runs `ORACLES[i]` on the remaining bytes.
///
/// Append only: an adapter's oracle is one line at the end. The committed seeds in
/// `corpus/run/` begin with their oracle's index itself (below the table length, so
/// the modulo never moves them) and `regressions/<oracle>/` replay with the oracle
/// pinned by name; reordering or removing a line would re-route them.
pub const ORACLES: &[(&str, Oracle)] = &[
    ("snapshot_raw", snapshot_raw::run),
    ("snapshot_body", snapshot_body::run),
    ("envelope", envelope::run),
    ("segment", segment::run),
    ("visibility", visibility::run),
    ("redis_values", redis_values::run),
    ("json_reader", json_reader::run),
    ("dynamodb", dynamodb::run),
    ("s3", s3::run),
    ("sqs", sqs::run),
    ("restore", restore::run),
    ("live", live::run),
    ("whole_snapshot", whole_snapshot::run),
];

/// The selector byte of the oracle called `name`.
pub fn selector(name: &str) -> Option<u8> {
    ORACLES
        .iter()
        .position(|(n, _)| *n == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// The oracle an input selects: the first byte modulo the table length, unless
/// `forced` names one (then the first byte is still skipped, so corpus files stay
/// valid whichever way they are replayed). `None` for an empty input.
pub fn select(data: &[u8], forced: Option<usize>) -> Option<(&'static str, Oracle, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let index = forced.unwrap_or(usize::from(first) % ORACLES.len());
    let (name, oracle) = ORACLES[index];
    Some((name, oracle, rest))
}

/// Runs the oracle `data` selects. Panics (with the oracle's message) on a finding.
pub fn run_input(data: &[u8], forced: Option<usize>) {
    if let Some((_, oracle, rest)) = select(data, forced) {
        let _ = oracle(&mut Unstructured::new(rest));
    }
}

/// The oracle index named by the `FUZZER` environment variable, if set.
///
/// # Panics
/// When `FUZZER` names no oracle: a typo should stop the run, not fuzz everything.
pub fn forced_from_env() -> Option<usize> {
    let name = std::env::var("FUZZER").ok()?;
    match ORACLES.iter().position(|(n, _)| *n == name) {
        Some(i) => Some(i),
        None => panic!(
            "FUZZER={name} names no oracle; known: {}",
            ORACLES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs `oracle` `iters` times (100× as many under `HARNESS_DEPTH=deep`, the long
/// campaign) on buffers of random length (up to 4 KiB) drawn from a fixed seed. Used
/// by every oracle's `smoke` test.
pub fn test_n_times(iters: u32, oracle: Oracle) {
    let deep = std::env::var("HARNESS_DEPTH").is_ok_and(|v| v.eq_ignore_ascii_case("deep"));
    let iters = if deep {
        iters.saturating_mul(100)
    } else {
        iters
    };
    let mut rng = SplitMix64(0x454B_5650_4242_4C31); // "EKVPBBL1"
    let mut buf = vec![0u8; 4096];
    for _ in 0..iters {
        let len = 1 + rng.below(4096) as usize;
        rng.fill(&mut buf[..len]);
        let _ = oracle(&mut Unstructured::new(&buf[..len]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_byte_routes_and_forcing_overrides_it() {
        for (i, (name, _)) in ORACLES.iter().enumerate() {
            let byte = selector(name).expect("known oracle");
            assert_eq!(usize::from(byte), i);
            let data = [byte, 1, 2, 3];
            assert_eq!(
                select(&data, None).map(|(n, _, rest)| (n, rest.len())),
                Some((*name, 3))
            );
            let wrapped = [byte + ORACLES.len() as u8, 9];
            assert_eq!(select(&wrapped, None).map(|(n, ..)| n), Some(*name));
            assert_eq!(select(&[200, 0], Some(i)).map(|(n, ..)| n), Some(*name));
        }
        assert!(select(&[], None).is_none());
        assert_eq!(selector("nope"), None);
    }
}
