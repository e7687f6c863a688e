//! Conformance against the Go reference vectors.
//!
//! Decode: each case whose decoder ran with the DynamoDB adapter in per-item mode must
//! produce its `dynamodb/` tree byte for byte (`mvcc/tree/` where the Go decoder got
//! versions wrong) with the same warnings, or fail with the sentinel of a
//! malformed-DynamoDB case — in memory and with every record spilled. Encode: each
//! case's `tree/dynamodb` must yield exactly the DynamoDB records of `reencoded.fsm`,
//! or fail where the Go encoder's DynamoDB side failed. JSONL: the cases Go could not
//! decode (`--dynamodb-bundle-mode jsonl`) must decode, encode to the same records as
//! their per-item tree, and decode again to the same bundles.

use std::fs;
use std::path::Path;

use crate::adapter::{AdapterEncoder, Warnings};
use crate::adapters::conformance_kit::{
    Collect, DecodeSuite, EncodeSuite, GoDecode, GoEncode, Owned, Records, WithoutEntries, cases,
    decode_visible, expected_error, expected_listing, go_warnings, got_listing, listing_diff,
    our_warnings, owned_by, read_sorted, run_decode, run_encode, unquote_go,
};
use crate::dispatch::Adapter;
use crate::error::BoxError;
use crate::tree::writer::TreeWriter;

use super::{DynamoDecodeOptions, DynamoDecoder, DynamoEncoder};

fn flags(case: &Path) -> Vec<String> {
    fs::read_to_string(case.join("flags.txt"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Whether the case's decoder ran the DynamoDB adapter, and in JSONL mode.
fn ddb_mode(case: &Path) -> Option<bool> {
    let flags = flags(case);
    if let Some(i) = flags.iter().position(|f| f == "--adapter") {
        let list = flags.get(i + 1).map(String::as_str).unwrap_or_default();
        if list != "all" && !list.split(',').any(|a| a == "dynamodb") {
            return None;
        }
    }
    Some(flags.iter().any(|f| f == "jsonl"))
}

fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: DynamoDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = DynamoDecoder::new(TreeWriter::serial(out).unwrap(), options);
    decode_visible(&mut decoder, entries, false)
}

fn options(budget: usize, scratch: &Path, bundle: Option<u64>) -> DynamoDecodeOptions {
    DynamoDecodeOptions {
        bundle_bytes: bundle,
        memory_budget: budget,
        scratch_dir: scratch.to_path_buf(),
    }
}

/// What Go's decoder did: only per-item cases with the adapter selected compare.
fn go_decode(case: &Path) -> Option<GoDecode> {
    if ddb_mode(case) != Some(false) {
        return None;
    }
    match expected_error(case, &["ErrDDB"]) {
        None => Some(GoDecode::Tree),
        Some(Some(code)) => Some(GoDecode::Error(code)),
        Some(None) => None, // fails for a non-DynamoDB reason
    }
}

/// The decoded `dynamodb/` tree and warnings (sorted: Go raises them in map order)
/// against the case's.
fn check_tree(case: &Path, out: &Path, warnings: &Warnings) -> Result<(), String> {
    let warnings = our_warnings(warnings, "ddb_", true);
    let (expected, with_dirs) = expected_listing(case, "dynamodb");
    let mut got = got_listing(out, "dynamodb");
    if !with_dirs {
        got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
    }
    let go = go_warnings(case, "ddb_", unquote_go, true);
    if with_dirs && warnings != go {
        return Err(format!("warnings differ: {warnings:?} vs {go:?}"));
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
            options: &|_, budget, scratch| options(budget, scratch, None),
            decode: &decode_entries,
            check: &check_tree,
            special: &|_, _, _, _| false,
        },
        Adapter::DynamoDb,
    );
    eprintln!(
        "dynamodb decode conformance: {} trees identical, {} errors matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
    assert!(counts.passed + counts.errors_matched > 0 || cases().is_empty());
}

/// The Go encoder's DynamoDB failure, if its DynamoDB side failed.
fn go_ddb_encode_failed(case: &Path) -> bool {
    fs::read_to_string(case.join("reencode_result.txt")).is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("error:") && l.contains("dynamodb encoder"))
    })
}

fn encode_tree(tree: &Path) -> Result<Records, BoxError> {
    let mut sink = Collect::default();
    DynamoEncoder::default().encode(tree, &mut sink)?;
    let mut got = sink.records;
    got.sort();
    Ok(got)
}

#[test]
fn encode_matches_go_vectors() {
    let counts = run_encode(
        &EncodeSuite {
            select: &|_, tree| tree.is_dir(),
            encode: &|tree| Ok(encode_tree(tree)),
            go: &|case, _| {
                if go_ddb_encode_failed(case) {
                    GoEncode::Failed {
                        codes: vec!["ddb-encode-invalid-item", "ddb-encode-invalid-schema"],
                        deliberate: false,
                    }
                } else {
                    GoEncode::Records
                }
            },
            wanted: &|key| owned_by(Adapter::DynamoDb, key),
            require_reencoded: false,
            show: |r| super::error::escape_key(&r.0),
        },
        Adapter::DynamoDb,
    );
    eprintln!(
        "dynamodb encode conformance: {} record sets identical, {} errors matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
}

/// The JSONL cases: Go fails them ("not implemented"); ours decode them, and the
/// bundles encode to the same records as the per-item tree of the same snapshot,
/// and decode again to the same bundles.
#[test]
fn jsonl_cases_decode_and_round_trip() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases() {
        if ddb_mode(&case) != Some(true) {
            continue;
        }
        let name = crate::adapters::conformance_kit::case_name(&case);
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        let scratch = tempfile::tempdir().unwrap();
        let bundles = tempfile::tempdir().unwrap();
        let per_item = tempfile::tempdir().unwrap();
        let small = tempfile::tempdir().unwrap();
        let default = Some(crate::adapter::DEFAULT_DYNAMODB_BUNDLE_BYTES);
        let decoded = [
            decode_entries(
                &entries,
                bundles.path(),
                options(usize::MAX, scratch.path(), default),
            ),
            decode_entries(&entries, per_item.path(), options(1, scratch.path(), None)),
            // Small parts: every few items start a new bundle.
            decode_entries(
                &entries,
                small.path(),
                options(1, scratch.path(), Some(600)),
            ),
        ];
        if let Some(e) = decoded.iter().find_map(|r| r.as_ref().err()) {
            failures.push(format!("{name}: decode failed: {}: {e}", e.code()));
            continue;
        }
        let records: Vec<_> = [&bundles, &per_item, &small]
            .iter()
            .map(|dir| encode_tree(&dir.path().join("dynamodb")).map_err(|e| e.to_string()))
            .collect();
        if records[0] != records[1] || records[2] != records[1] {
            failures.push(format!(
                "{name}: bundles and per-item trees encode differently"
            ));
            continue;
        }
        let Ok(records) = &records[0] else {
            failures.push(format!("{name}: encode failed: {:?}", records[0]));
            continue;
        };
        // Re-decode the encoded records: the same bundles.
        let again = tempfile::tempdir().unwrap();
        let owned = Collect {
            records: records.clone(),
        }
        .as_entries();
        if let Err(e) = decode_entries(
            &owned,
            again.path(),
            options(usize::MAX, scratch.path(), default),
        ) {
            failures.push(format!("{name}: re-decode failed: {e}"));
            continue;
        }
        let first = got_listing(bundles.path(), "dynamodb");
        if first
            .keys()
            .any(|k| k.ends_with(".json") && !k.ends_with("_schema.json"))
        {
            failures.push(format!("{name}: JSONL mode wrote item files"));
        }
        if got_listing(again.path(), "dynamodb") != first {
            failures.push(format!("{name}: bundles differ after a round trip"));
        }
        checked += 1;
    }
    eprintln!(
        "dynamodb jsonl cases: {checked} round-tripped, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
