//! Conformance against the Go reference vectors.
//!
//! Decode: each default-flag case's visible Redis entries must produce the case's
//! `redis/` tree byte for byte (`mvcc/tree/` where the Go decoder got versions
//! wrong), or fail with the sentinel of a malformed-Redis case. Encode: each case's
//! `tree/redis` must yield exactly the Redis records of `reencoded.fsm`, or fail where
//! the Go encoder's Redis side failed. The full set is `$ELASTICKV_VECTORS` or
//! `../shared/vectors` beside the checkout; without it, the few cases bundled under
//! `codec/tests/fixtures/vectors` are used.

use std::fs;
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterEncoder, Warnings};
use crate::adapters::conformance_kit::{
    Collect, DecodeSuite, EncodeSuite, GoDecode, GoEncode, Owned, WithoutEntries, decode_visible,
    expected_error, expected_listing, go_warnings, got_listing, input_sorted, listing_diff,
    our_warnings, owned_by, run_decode, run_encode, unquote_plain,
};
use crate::dispatch::Adapter;
use crate::error::BoxError;
use crate::tree::writer::TreeWriter;

use super::{RedisDecodeOptions, RedisDecoder, RedisEncoder};

fn decode_case(
    entries: &[Owned],
    out: &Path,
    options: RedisDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = RedisDecoder::new(TreeWriter::serial(out).unwrap(), options);
    decode_visible(&mut decoder, entries, false)
}

/// What Go's decoder did: only default-flag cases are compared.
fn go_decode(case: &Path) -> Option<GoDecode> {
    let flags = fs::read_to_string(case.join("flags.txt")).unwrap_or_default();
    if !flags.trim().is_empty() {
        return None;
    }
    match expected_error(case, &["ErrRedis", "ErrPendingTTL"]) {
        None => Some(GoDecode::Tree),
        Some(Some(code)) => Some(GoDecode::Error(code)),
        Some(None) => None, // fails for a non-Redis reason
    }
}

/// The decoded `redis/` tree and warnings against the case's.
fn check_tree(case: &Path, out: &Path, warnings: &Warnings) -> Result<(), String> {
    let (expected, with_dirs) = expected_listing(case, "redis");
    let mut got = got_listing(out, "redis");
    if !with_dirs {
        got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
    }
    let warnings = our_warnings(warnings, "redis_", false);
    // Go's warnings depend on entry order; ours are those of the sorted input.
    if with_dirs
        && input_sorted(case)
        && warnings != go_warnings(case, "redis_", unquote_plain, false)
    {
        return Err(format!("warnings differ: {warnings:?}"));
    }
    if got != expected {
        return Err(format!(
            "tree differs: {:?}",
            listing_diff(&got, &expected, str::to_owned)
        ));
    }
    Ok(())
}

#[test]
fn decode_matches_go_vectors() {
    let counts = run_decode(
        &DecodeSuite {
            memory: usize::MAX,
            without_entries: WithoutEntries::Decode,
            go: &go_decode,
            options: &|_, budget, scratch| RedisDecodeOptions {
                memory_budget: budget,
                scratch_dir: scratch.to_path_buf(),
                ..RedisDecodeOptions::default()
            },
            decode: &decode_case,
            check: &check_tree,
            special: &|_, _, _, _| false,
        },
        Adapter::Redis,
    );
    eprintln!(
        "redis decode conformance: {} trees identical, {} errors matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
}

/// Whether the Go encoder failed inside its Redis side.
fn go_redis_encode_failed(case: &Path) -> bool {
    fs::read_to_string(case.join("reencode_result.txt")).is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("error:") && l.contains("redis encoder"))
    })
}

/// The first entry of a type directory of `redis/db_0` that is not a regular file.
/// Go skips such entries (losing the key); we refuse them (docs/format.md §9.1).
fn non_regular_key_entry(redis: &Path) -> Option<PathBuf> {
    let db = redis.join("db_0");
    for ty in [
        "strings", "hll", "hashes", "sets", "lists", "zsets", "streams",
    ] {
        let Ok(entries) = fs::read_dir(db.join(ty)) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                return Some(entry.path());
            }
        }
    }
    None
}

/// What Go's encoder did with a case's Redis tree.
fn go_encode(case: &Path, tree: &Path) -> GoEncode {
    if non_regular_key_entry(tree).is_some() {
        // A deliberate difference: Go skips the entry and encodes the rest, we
        // refuse the tree. None of the Go vectors has one today.
        return GoEncode::Failed {
            codes: vec!["redis-encode-not-regular"],
            deliberate: true,
        };
    }
    if go_redis_encode_failed(case) {
        return GoEncode::Failed {
            codes: vec!["redis-encode-invalid-json"],
            deliberate: false,
        };
    }
    GoEncode::Records
}

#[test]
fn encode_matches_go_vectors() {
    let counts = run_encode(
        &EncodeSuite {
            select: &|_, _| true,
            encode: &|tree| {
                let mut sink = Collect::default();
                Ok(RedisEncoder::new()
                    .encode(tree, &mut sink)
                    .map(|()| sink.records))
            },
            go: &go_encode,
            wanted: &|key| owned_by(Adapter::Redis, key),
            require_reencoded: false,
            show: |r| super::Escaped(&r.0).to_string(),
        },
        Adapter::Redis,
    );
    eprintln!(
        "redis encode conformance: {} record sets identical, {} errors matched, \
         {} trees with non-regular key entries refused (deliberate difference), {} failed",
        counts.passed,
        counts.errors_matched,
        counts.other,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
}
