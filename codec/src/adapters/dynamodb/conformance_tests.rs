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

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, AdapterEncoder, EntrySink, Warnings};
use crate::dispatch::{Adapter, route};
use crate::error::BoxError;
use crate::mvcc::{Verdict, Visibility};
use crate::tree::writer::TreeWriter;
use elastickv_testkit::tree::read_tree;
use elastickv_testkit::vectors;

use crate::adapters::conformance_kit::{Owned, owned_by, read_sorted};

use super::{DynamoDecodeOptions, DynamoDecoder, DynamoEncoder};

fn cases() -> Vec<PathBuf> {
    vectors::case_dirs(&vectors::dir())
}

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

/// The DynamoDB sentinel a malformed case expects, if it is a DynamoDB failure.
fn expected_ddb_error(case: &Path) -> Option<Option<String>> {
    let text = fs::read_to_string(case.join("expected_error.txt")).ok()?;
    let sentinels = text
        .lines()
        .find_map(|l| l.strip_prefix("sentinels:"))?
        .trim()
        .to_owned();
    Some(
        sentinels
            .starts_with("ErrDDB")
            .then(|| vectors::code_for_sentinel(sentinels.split_whitespace().next().unwrap_or(""))),
    )
}

fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: DynamoDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = DynamoDecoder::new(TreeWriter::serial(out).unwrap(), options);
    let mut warnings = Warnings::default();
    let mut visibility = Visibility::new();
    for owned in entries {
        let entry = owned.entry();
        let verdict = visibility
            .observe(&entry)
            .map_err(|e| Box::new(e) as BoxError)?;
        if verdict != Verdict::Visible || !owned_by(Adapter::DynamoDb, entry.user_key) {
            continue;
        }
        let Some(prefix) = route(entry.user_key) else {
            continue;
        };
        decoder.handle(prefix, &entry, &mut warnings)?;
    }
    decoder.finalize(&mut warnings)?;
    Ok(warnings)
}

/// A warning without its free-text hint: `(event, [(field, value)])`.
type WarningLine = (String, Vec<(String, String)>);

fn ddb_warnings(warnings: &Warnings) -> Vec<WarningLine> {
    let mut out: Vec<WarningLine> = warnings
        .0
        .iter()
        .filter(|w| w.event.starts_with("ddb_"))
        .map(|w| {
            let fields = w.fields.iter().filter(|(k, _)| *k != "hint");
            (
                w.event.to_owned(),
                fields.map(|(k, v)| (k.to_string(), v.clone())).collect(),
            )
        })
        .collect();
    // Go raises them in map order.
    out.sort();
    out
}

/// The DynamoDB warnings of the Go decoder's log (`key=value` slog text lines).
fn go_ddb_warnings(case: &Path) -> Vec<WarningLine> {
    let log = fs::read_to_string(case.join("decode_stderr.txt")).unwrap_or_default();
    let mut out = Vec::new();
    for line in log
        .lines()
        .filter(|l| l.contains("msg=\"encoder warning\""))
    {
        let mut pairs = Vec::new();
        let mut rest = line;
        while let Some((key, after)) = rest.trim_start().split_once('=') {
            let (value, tail) = match after.strip_prefix('"') {
                Some(quoted) => go_unquote(quoted),
                None => {
                    let (v, t) = after.split_once(' ').unwrap_or((after, ""));
                    (v.to_owned(), t)
                }
            };
            pairs.push((key.to_owned(), value));
            rest = tail;
        }
        let Some((_, event)) = pairs.iter().find(|(k, _)| k == "event").cloned() else {
            continue;
        };
        if !event.starts_with("ddb_") {
            continue;
        }
        let skip = ["time", "level", "msg", "event", "hint"];
        let fields = pairs
            .into_iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .collect();
        out.push((event, fields));
    }
    out.sort();
    out
}

/// A Go `strconv.Quote` body (after the opening quote): the text and what follows
/// the closing quote.
fn go_unquote(quoted: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &quoted[i + 1..]),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16).unwrap_or(0xFFFD)
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' => out.push(char::from_u32(hex(&mut chars, 2)).unwrap_or('\u{FFFD}')),
                    'u' => out.push(char::from_u32(hex(&mut chars, 4)).unwrap_or('\u{FFFD}')),
                    'U' => out.push(char::from_u32(hex(&mut chars, 8)).unwrap_or('\u{FFFD}')),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

/// `path → Some(sha256)` for files, `None` for directories, relative to `root`.
type Listing = BTreeMap<String, Option<String>>;

fn walk(root: &Path, rel: &str, out: &mut Listing) {
    let tree = read_tree(&root.join(rel)).unwrap_or_default();
    out.extend(tree.into_iter().map(|(path, bytes)| {
        let sha = bytes.map(|bytes| hex::encode(Sha256::digest(&bytes)));
        (format!("{rel}/{path}"), sha)
    }));
}

/// The expected `dynamodb/` listing: from `tree.listing` (which keeps empty
/// directories), or by walking `mvcc/tree` (files only).
fn expected_listing(case: &Path) -> (Listing, bool) {
    let mvcc = case.join("mvcc/tree");
    if mvcc.is_dir() {
        let mut listing = Listing::new();
        walk(&mvcc, "dynamodb", &mut listing);
        return (listing, false);
    }
    let mut listing = Listing::new();
    for line in fs::read_to_string(case.join("tree.listing"))
        .unwrap_or_default()
        .lines()
    {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let path = v["path"].as_str().unwrap_or_default();
        if path != "dynamodb" && !path.starts_with("dynamodb/") {
            continue;
        }
        let sha = (v["type"] == "f").then(|| v["sha256"].as_str().unwrap_or_default().to_owned());
        listing.insert(path.to_owned(), sha);
    }
    (listing, true)
}

fn got_listing(root: &Path) -> Listing {
    let mut got = Listing::new();
    if root.join("dynamodb").is_dir() {
        got.insert("dynamodb".into(), None);
        walk(root, "dynamodb", &mut got);
    }
    got
}

fn diff(got: &Listing, expected: &Listing) -> Vec<String> {
    got.iter()
        .filter(|(k, v)| expected.get(*k) != Some(v))
        .map(|(k, _)| format!("+{k}"))
        .chain(
            expected
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(v))
                .map(|(k, _)| format!("-{k}")),
        )
        .take(8)
        .collect()
}

fn options(budget: usize, scratch: &Path, bundle: Option<u64>) -> DynamoDecodeOptions {
    DynamoDecodeOptions {
        bundle_bytes: bundle,
        memory_budget: budget,
        scratch_dir: scratch.to_path_buf(),
    }
}

#[test]
fn decode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        if ddb_mode(&case) != Some(false) {
            continue;
        }
        let expected_error = expected_ddb_error(&case);
        if matches!(expected_error, Some(None)) {
            continue; // fails for a non-DynamoDB reason
        }
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        let scratch = tempfile::tempdir().unwrap();
        for (budget, label) in [(usize::MAX, ""), (1, " (spilled)")] {
            let tmp = tempfile::tempdir().unwrap();
            let result =
                decode_entries(&entries, tmp.path(), options(budget, scratch.path(), None));
            let name = format!("{}{label}", case.file_name().unwrap().to_string_lossy());
            if let Some(Some(code)) = &expected_error {
                match result {
                    Err(e) if e.code() == code => errors_matched += 1,
                    Err(e) => failures.push(format!("{name}: want {code}, got {}: {e}", e.code())),
                    Ok(_) => failures.push(format!("{name}: want {code}, decode succeeded")),
                }
                continue;
            }
            let warnings = match result {
                Ok(w) => ddb_warnings(&w),
                Err(e) => {
                    failures.push(format!("{name}: decode failed: {}: {e}", e.code()));
                    continue;
                }
            };
            let (expected, with_dirs) = expected_listing(&case);
            let mut got = got_listing(tmp.path());
            if !with_dirs {
                got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
            }
            if with_dirs && warnings != go_ddb_warnings(&case) {
                failures.push(format!(
                    "{name}: warnings differ: {warnings:?} vs {:?}",
                    go_ddb_warnings(&case)
                ));
            } else if got == expected {
                passed += 1;
            } else {
                failures.push(format!("{name}: tree differs: {:?}", diff(&got, &expected)));
            }
        }
    }
    eprintln!(
        "dynamodb decode conformance: {passed} trees identical, {errors_matched} errors matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed + errors_matched > 0 || cases().is_empty());
}

/// Collects records like the snapshot builder would.
#[derive(Default)]
struct Collect {
    records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.records.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

/// The Go encoder's DynamoDB failure, if its DynamoDB side failed.
fn go_ddb_encode_failed(case: &Path) -> bool {
    fs::read_to_string(case.join("reencode_result.txt")).is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("error:") && l.contains("dynamodb encoder"))
    })
}

/// Records as `(user key, value)`, sorted.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

fn encode_tree(tree: &Path) -> Result<Records, BoxError> {
    let mut sink = Collect::default();
    DynamoEncoder::default().encode(tree, &mut sink)?;
    let mut got = sink.records;
    got.sort();
    Ok(got)
}

#[test]
fn encode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tree = case.join("tree/dynamodb");
        if !tree.is_dir() {
            continue;
        }
        let result = encode_tree(&tree);
        if go_ddb_encode_failed(&case) {
            match result {
                Err(e)
                    if e.code() == "ddb-encode-invalid-item"
                        || e.code() == "ddb-encode-invalid-schema" =>
                {
                    errors_matched += 1;
                }
                Err(e) => failures.push(format!(
                    "{name}: want a ddb-encode error, got {}: {e}",
                    e.code()
                )),
                Ok(_) => failures.push(format!(
                    "{name}: Go's DynamoDB encoder failed, ours succeeded"
                )),
            }
            continue;
        }
        let Some(reencoded) = read_sorted(&case.join("reencoded.fsm")) else {
            continue;
        };
        let got = match result {
            Ok(got) => got,
            Err(e) => {
                failures.push(format!("{name}: encode failed: {}: {e}", e.code()));
                continue;
            }
        };
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = reencoded
            .iter()
            .filter(|o| owned_by(Adapter::DynamoDb, &o.encoded_key[..o.user_len]))
            .map(|o| (o.encoded_key[..o.user_len].to_vec(), o.body.clone()))
            .collect();
        want.sort();
        if got == want {
            passed += 1;
        } else {
            let missing = want
                .iter()
                .find(|r| !got.contains(r))
                .map(|r| super::error::escape_key(&r.0));
            let extra = got
                .iter()
                .find(|r| !want.contains(r))
                .map(|r| super::error::escape_key(&r.0));
            failures.push(format!(
                "{name}: records differ ({} vs {}); first missing {missing:?}, first extra {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    eprintln!(
        "dynamodb encode conformance: {passed} record sets identical, {errors_matched} errors matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
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
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
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
        let owned: Vec<Owned> = records
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let mut encoded_key = k.clone();
                encoded_key.extend_from_slice(&(!1u64).to_be_bytes());
                Owned {
                    offset: i as u64,
                    encoded_key,
                    user_len: k.len(),
                    commit_ts: 1,
                    tombstone: false,
                    expire_at: 0,
                    body: v.clone(),
                }
            })
            .collect();
        if let Err(e) = decode_entries(
            &owned,
            again.path(),
            options(usize::MAX, scratch.path(), default),
        ) {
            failures.push(format!("{name}: re-decode failed: {e}"));
            continue;
        }
        let first = got_listing(bundles.path());
        if first
            .keys()
            .any(|k| k.ends_with(".json") && !k.ends_with("_schema.json"))
        {
            failures.push(format!("{name}: JSONL mode wrote item files"));
        }
        if got_listing(again.path()) != first {
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
