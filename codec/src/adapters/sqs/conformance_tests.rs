//! Conformance against the Go reference vectors.
//!
//! Decode: each case's visible SQS entries, under the case's own decoder flags, must
//! produce the case's `sqs/` tree byte for byte (`mvcc/tree/` where the Go decoder got
//! versions wrong), or fail with the sentinel of a malformed-SQS case. One Go defect
//! is fixed on purpose: with `--include-sqs-side-records` Go aborts on every
//! `!sqs|queue|seq|` row (it parses it as if it had a binary trailer); those cases
//! must decode here, record the row, and re-encode to the same queues and messages.
//! Encode: each case's `tree/sqs` must yield exactly the SQS records of
//! `reencoded.fsm`, or fail where the Go encoder's SQS side failed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::adapter::{AdapterEncoder, Warnings};
pub(super) use crate::adapters::conformance_kit::Collect;
use crate::adapters::conformance_kit::{
    DecodeSuite, EncodeSuite, GoDecode, GoEncode, Listing, Owned, WithoutEntries, decode_visible,
    expected_listing, go_warnings, input_sorted, listing_diff, our_warnings, owned_by, run_decode,
    run_encode, sentinels, unquote_go, walk,
};
use crate::dispatch::Adapter;
use crate::error::BoxError;
use crate::sort::SortOptions;
use crate::tree::writer::TreeWriter;
use elastickv_testkit::tree::read_tree;
use elastickv_testkit::vectors;

use super::{SqsDecodeOptions, SqsDecoder, SqsEncoder};

/// The decoder flags of a case that matter to SQS, and whether SQS is selected.
struct Flags {
    preserve_visibility: bool,
    include_side_records: bool,
    sqs_selected: bool,
}

fn case_flags(case: &Path) -> Flags {
    let text = fs::read_to_string(case.join("flags.txt")).unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    let adapters = words
        .iter()
        .position(|w| *w == "--adapter")
        .and_then(|i| words.get(i + 1));
    Flags {
        preserve_visibility: words.contains(&"--preserve-sqs-visibility"),
        include_side_records: words.contains(&"--include-sqs-side-records"),
        sqs_selected: adapters
            .is_none_or(|a| *a == "all" || a.split(',').any(|x| x.trim() == "sqs")),
    }
}

/// What the Go decoder did with a case, as far as SQS is concerned: a tree, an SQS
/// error, or the `!sqs|queue|seq|` row defect fixed here ([`GoDecode::Special`]).
fn go_decode(case: &Path) -> Option<GoDecode> {
    if !case_flags(case).sqs_selected {
        return None;
    }
    let Some(sentinels) = sentinels(case) else {
        return Some(GoDecode::Tree);
    };
    let sentinel = sentinels.split_whitespace().next().unwrap_or("");
    if !sentinel.starts_with("ErrSQS") {
        return None; // fails for a reason outside SQS
    }
    let text = fs::read_to_string(case.join("expected_error.txt")).unwrap_or_default();
    if text.contains("after prefix \"!sqs|queue|seq|\"") {
        return Some(GoDecode::Special);
    }
    Some(GoDecode::Error(vectors::code_for_sentinel(sentinel)))
}

pub(super) fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: SqsDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = SqsDecoder::new(TreeWriter::serial(out).unwrap(), options);
    decode_visible(&mut decoder, entries, false)
}

fn decoded_listing(out: &Path, expected: &Listing, with_dirs: bool) -> Listing {
    let mut got = Listing::new();
    if out.join("sqs").is_dir() {
        got.insert("sqs".into(), None);
        walk(out, "sqs", &mut got);
    }
    if !with_dirs {
        got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
    } else {
        // Go creates a queue directory only with a file in it; so do we (through the
        // sink), but `sqs/` itself exists only when some queue does.
        got.retain(|path, sha| sha.is_some() || expected.contains_key(path) || path != "sqs");
    }
    got
}

/// Cases where Go aborts on the seq row: ours must decode, write the row to the
/// queue's side records, and re-encode to the queues and messages it decoded.
fn check_seq_row_case(
    name: &str,
    entries: &[Owned],
    options: &SqsDecodeOptions,
    failures: &mut Vec<String>,
) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    if let Err(e) = decode_entries(entries, tmp.path(), options.clone()) {
        failures.push(format!(
            "{name}: seq-row case failed to decode: {}: {e}",
            e.code()
        ));
        return false;
    }
    let tree = read_tree(&tmp.path().join("sqs")).unwrap_or_default();
    let seq_rows: usize = tree
        .iter()
        .filter(|(path, _)| path.ends_with("_internals/side_records.jsonl"))
        .filter_map(|(_, bytes)| bytes.as_ref())
        .map(|b| {
            String::from_utf8_lossy(b)
                .matches("\"prefix\":\"!sqs|queue|seq|\"")
                .count()
        })
        .sum();
    let stored_seq_rows = entries
        .iter()
        .filter(|o| o.user_key().starts_with(b"!sqs|queue|seq|") && !o.tombstone)
        .count();
    if seq_rows == 0 || seq_rows > stored_seq_rows {
        failures.push(format!(
            "{name}: {seq_rows} seq rows in side_records.jsonl, {stored_seq_rows} stored"
        ));
        return false;
    }
    // Round trip: encode the queues and decode them again (visibility and side
    // records are the producer modes the encoder cannot restore, so the comparison
    // is of `_queue.json` and `messages.jsonl` decoded without them).
    let mut plain = options.clone();
    plain.preserve_visibility = false;
    plain.include_side_records = false;
    let first = tempfile::tempdir().unwrap();
    decode_entries(entries, first.path(), plain.clone()).unwrap();
    let mut sink = Collect::default();
    if let Err(e) = SqsEncoder::default().encode(&first.path().join("sqs"), &mut sink) {
        failures.push(format!(
            "{name}: seq-row case failed to re-encode: {}: {e}",
            e.code()
        ));
        return false;
    }
    let reencoded = sink.as_entries();
    let second = tempfile::tempdir().unwrap();
    decode_entries(&reencoded, second.path(), plain).unwrap();
    // Generations are not restored (docs/format.md §6.7): every message comes back
    // in generation 1.
    let restored = |tree: BTreeMap<String, Option<Vec<u8>>>| -> Vec<(String, Option<String>)> {
        let generation = regex_lite_generation();
        tree.into_iter()
            .map(|(path, bytes)| {
                let text = bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
                (path, text.map(|t| generation(&t)))
            })
            .collect()
    };
    let a = restored(read_tree(&first.path().join("sqs")).unwrap_or_default());
    let b = restored(read_tree(&second.path().join("sqs")).unwrap_or_default());
    if a != b {
        for (x, y) in a.iter().zip(&b) {
            if x != y {
                eprintln!("{name}: {} differs:\n{:?}\n{:?}", x.0, x.1, y.1);
                break;
            }
        }
    }
    if a != b {
        failures.push(format!("{name}: seq-row case does not round-trip"));
        return false;
    }
    true
}

/// Rewrites every `"queue_generation":N` of a `messages.jsonl` text to 1.
fn regex_lite_generation() -> impl Fn(&str) -> String {
    |text: &str| {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        const FIELD: &str = "\"queue_generation\":";
        while let Some(at) = rest.find(FIELD) {
            out.push_str(&rest[..at + FIELD.len()]);
            rest = &rest[at + FIELD.len()..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            out.push('1');
            rest = &rest[digits..];
        }
        out.push_str(rest);
        out
    }
}

/// The decoded `sqs/` tree and warnings (sorted: Go raises them in map order)
/// against the case's.
fn check_tree(case: &Path, out: &Path, warnings: &Warnings) -> Result<(), String> {
    let (expected, with_dirs) = expected_listing(case, "sqs");
    let got = decoded_listing(out, &expected, with_dirs);
    let warnings = our_warnings(warnings, "sqs_", true);
    let go = go_warnings(case, "sqs_", unquote_go, true);
    if with_dirs && input_sorted(case) && warnings != go {
        return Err(format!("warnings differ: {warnings:?} vs Go {go:?}"));
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
            without_entries: WithoutEntries::Skip,
            go: &go_decode,
            options: &|case, budget, scratch| {
                let flags = case_flags(case);
                SqsDecodeOptions {
                    preserve_visibility: flags.preserve_visibility,
                    include_side_records: flags.include_side_records,
                    sort: SortOptions {
                        memory_budget: budget,
                        scratch_dir: scratch.to_path_buf(),
                    },
                }
            },
            decode: &decode_entries,
            check: &check_tree,
            special: &|name, entries, options, failures| {
                check_seq_row_case(name, entries, &options, failures)
            },
        },
        Adapter::Sqs,
    );
    eprintln!(
        "sqs decode conformance: {} trees identical, {} errors matched, \
         {} seq-row cases decoded and round-tripped (Go defect fixed), {} failed",
        counts.passed,
        counts.errors_matched,
        counts.other,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
    assert!(counts.passed > 0 || vectors::shared().is_none());
}

/// How the Go encoder ended, as far as SQS is concerned.
enum GoSqsEncode {
    /// Encoded: `reencoded.fsm` holds the expected records.
    Records,
    /// Its SQS side emitted a key twice (a multi-version tree).
    DuplicateKey,
    /// Failed elsewhere (another adapter, a refused producer mode): nothing to compare.
    Elsewhere,
}

fn go_encode(case: &Path) -> GoSqsEncode {
    let text = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
    match text.lines().find(|l| l.starts_with("error:")) {
        None => GoSqsEncode::Records,
        Some(l) if l.contains("sqs encoder") && l.contains("duplicate encoded key") => {
            GoSqsEncode::DuplicateKey
        }
        Some(_) => GoSqsEncode::Elsewhere,
    }
}

#[test]
fn encode_matches_go_vectors() {
    let counts = run_encode(
        &EncodeSuite {
            select: &|_, tree| tree.is_dir(),
            encode: &|tree| {
                let scratch = tempfile::tempdir().unwrap();
                let sort = SortOptions {
                    memory_budget: 1,
                    scratch_dir: scratch.path().to_path_buf(),
                };
                let mut sink = Collect::default();
                Ok(SqsEncoder::with_sort(&sort)
                    .encode(tree, &mut sink)
                    .map(|()| sink.records))
            },
            go: &|case, _| match go_encode(case) {
                GoSqsEncode::Records => GoEncode::Records,
                GoSqsEncode::DuplicateKey => GoEncode::DuplicateKey,
                GoSqsEncode::Elsewhere => GoEncode::Elsewhere,
            },
            wanted: &|key| owned_by(Adapter::Sqs, key),
            require_reencoded: true,
            show: |r| crate::adapters::redis::Escaped(&r.0).to_string(),
        },
        Adapter::Sqs,
    );
    eprintln!(
        "sqs encode conformance: {} record sets identical, {} duplicate-key \
         failures matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
}
