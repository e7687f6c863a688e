//! Conformance against the Go reference vectors.
//!
//! Decode: each default-flag case's visible Redis entries must produce the case's
//! `redis/` tree byte for byte (`mvcc/tree/` where the Go decoder got versions
//! wrong), or fail with the sentinel of a malformed-Redis case. Encode: each case's
//! `tree/redis` must yield exactly the Redis records of `reencoded.fsm`, or fail where
//! the Go encoder's Redis side failed. The full set is `$ELASTICKV_VECTORS` or
//! `../shared/vectors` beside the checkout; without it, the few cases bundled under
//! `codec/tests/fixtures/vectors` are used.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, Warnings};
use crate::adapter::{AdapterEncoder, EntrySink};
use crate::dispatch::{Adapter, route};
use crate::error::BoxError;
use crate::mvcc::{Verdict, Visibility};
use crate::tree::writer::TreeWriter;
use elastickv_testkit::tree::read_tree;
use elastickv_testkit::vectors;

use crate::adapters::conformance_kit::{Owned, owned_by, read_sorted};

use super::{RedisDecodeOptions, RedisDecoder, RedisEncoder};

fn cases() -> Vec<PathBuf> {
    vectors::case_dirs(&vectors::dir())
}

/// The Redis sentinel a malformed case expects, if it is a Redis failure.
fn expected_redis_error(case: &Path) -> Option<Option<String>> {
    let text = fs::read_to_string(case.join("expected_error.txt")).ok()?;
    let sentinels = text
        .lines()
        .find_map(|l| l.strip_prefix("sentinels:"))?
        .trim()
        .to_owned();
    let redis = sentinels.starts_with("ErrRedis") || sentinels.starts_with("ErrPendingTTL");
    Some(
        redis
            .then(|| vectors::code_for_sentinel(sentinels.split_whitespace().next().unwrap_or(""))),
    )
}

fn decode_case(
    entries: &[Owned],
    out: &Path,
    options: RedisDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = RedisDecoder::new(TreeWriter::serial(out).unwrap(), options);
    let mut warnings = Warnings::default();
    let mut visibility = Visibility::new();
    for owned in entries {
        let entry = owned.entry();
        let verdict = visibility
            .observe(&entry)
            .map_err(|e| Box::new(e) as BoxError)?;
        if verdict != Verdict::Visible || !owned_by(Adapter::Redis, entry.user_key) {
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

fn redis_warnings(warnings: &Warnings) -> Vec<WarningLine> {
    warnings
        .0
        .iter()
        .filter(|w| w.event.starts_with("redis_"))
        .map(|w| {
            let fields = w.fields.iter().filter(|(k, _)| *k != "hint");
            (
                w.event.to_owned(),
                fields.map(|(k, v)| (k.to_string(), v.clone())).collect(),
            )
        })
        .collect()
}

fn input_sorted(case: &Path) -> bool {
    let summary = fs::read_to_string(case.join("summary.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&summary).is_ok_and(|v| v["input_sorted"] != false)
}

/// The Redis warnings of the Go decoder's log (`key=value` slog text lines).
fn go_redis_warnings(case: &Path) -> Vec<WarningLine> {
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
                Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
                None => after.split_once(' ').unwrap_or((after, "")),
            };
            pairs.push((key.to_owned(), value.to_owned()));
            rest = tail;
        }
        let Some((_, event)) = pairs.iter().find(|(k, _)| k == "event").cloned() else {
            continue;
        };
        if !event.starts_with("redis_") {
            continue;
        }
        let skip = ["time", "level", "msg", "event", "hint"];
        let fields = pairs
            .into_iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .collect();
        out.push((event, fields));
    }
    out
}

/// `path → Some(sha256)` for files, `None` for directories, relative to `root`.
type Listing = BTreeMap<String, Option<String>>;

/// `<root>/<rel>`'s files and directories below it, as a [`Listing`].
fn walk(root: &Path, rel: &str, out: &mut Listing) {
    let tree = read_tree(&root.join(rel)).unwrap_or_default();
    out.extend(tree.into_iter().map(|(path, bytes)| {
        let sha = bytes.map(|bytes| hex::encode(Sha256::digest(&bytes)));
        (format!("{rel}/{path}"), sha)
    }));
}

/// The expected `redis/` listing: from `tree.listing` (which keeps empty directories),
/// or by walking `mvcc/tree` (where git dropped them, so only files are compared).
fn expected_listing(case: &Path) -> (Listing, bool) {
    let mvcc = case.join("mvcc/tree");
    if mvcc.is_dir() {
        let mut listing = Listing::new();
        walk(&mvcc, "redis", &mut listing);
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
        if path != "redis" && !path.starts_with("redis/") {
            continue;
        }
        let sha = (v["type"] == "f").then(|| v["sha256"].as_str().unwrap_or_default().to_owned());
        listing.insert(path.to_owned(), sha);
    }
    (listing, true)
}

#[test]
fn decode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let flags = fs::read_to_string(case.join("flags.txt")).unwrap_or_default();
        if !flags.trim().is_empty() {
            continue;
        }
        let expected_error = expected_redis_error(&case);
        if matches!(expected_error, Some(None)) {
            continue; // fails for a non-Redis reason
        }
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        // In memory, and with every record spilled to scratch.
        let scratch = tempfile::tempdir().unwrap();
        for (budget, label) in [(usize::MAX, ""), (1, " (spilled)")] {
            let options = RedisDecodeOptions {
                memory_budget: budget,
                scratch_dir: scratch.path().to_path_buf(),
                ..RedisDecodeOptions::default()
            };
            let tmp = tempfile::tempdir().unwrap();
            let result = decode_case(&entries, tmp.path(), options);
            let name = format!("{}{label}", case.file_name().unwrap().to_string_lossy());
            if let Some(Some(code)) = &expected_error {
                match result {
                    Err(e) if e.code() == code => errors_matched += 1,
                    Err(e) => failures.push(format!("{name}: want {code}, got {}: {e}", e.code())),
                    Ok(_) => failures.push(format!("{name}: want {code}, decode succeeded")),
                }
                continue;
            }
            if let Err(e) = &result {
                failures.push(format!("{name}: decode failed: {}: {e}", e.code()));
                continue;
            }
            let (expected, with_dirs) = expected_listing(&case);
            let mut got = Listing::new();
            if tmp.path().join("redis").is_dir() {
                got.insert("redis".into(), None);
                walk(tmp.path(), "redis", &mut got);
            }
            if !with_dirs {
                got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
            }
            let warnings = result.map(|w| redis_warnings(&w)).unwrap_or_default();
            // Go's warnings depend on entry order; ours are those of the sorted input.
            if with_dirs && input_sorted(&case) && warnings != go_redis_warnings(&case) {
                failures.push(format!("{name}: warnings differ: {warnings:?}"));
            } else if got == expected {
                passed += 1;
            } else {
                let diff: Vec<_> = got
                    .iter()
                    .filter(|(k, v)| expected.get(*k) != Some(v))
                    .map(|(k, _)| format!("+{k}"))
                    .chain(
                        expected
                            .iter()
                            .filter(|(k, v)| got.get(*k) != Some(v))
                            .map(|(k, _)| format!("-{k}")),
                    )
                    .take(8)
                    .collect();
                failures.push(format!("{name}: tree differs: {diff:?}"));
            }
        }
    }
    eprintln!(
        "redis decode conformance: {passed} trees identical, {errors_matched} errors matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Collects records like the snapshot builder would, flagging duplicates.
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

#[test]
fn encode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    let mut deliberate = 0;
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tree = case.join("tree/redis");
        let mut sink = Collect::default();
        let result = RedisEncoder::new().encode(&tree, &mut sink);
        if let Some(entry) = non_regular_key_entry(&tree) {
            // A deliberate difference: Go skips the entry and encodes the rest, we
            // refuse the tree. None of the Go vectors has one today.
            match result {
                Err(e) if e.code() == "redis-encode-not-regular" => deliberate += 1,
                other => failures.push(format!(
                    "{name}: {} is not a regular file: want redis-encode-not-regular \
                     (deliberate difference from Go), got {:?}",
                    entry.display(),
                    other.map_err(|e| e.code())
                )),
            }
            continue;
        }
        if go_redis_encode_failed(&case) {
            match result {
                Err(e) if e.code() == "redis-encode-invalid-json" => errors_matched += 1,
                Err(e) => failures.push(format!(
                    "{name}: want redis-encode-invalid-json, got {}: {e}",
                    e.code()
                )),
                Ok(()) => {
                    failures.push(format!("{name}: Go's Redis encoder failed, ours succeeded"))
                }
            }
            continue;
        }
        let Some(reencoded) = read_sorted(&case.join("reencoded.fsm")) else {
            continue;
        };
        if let Err(e) = result {
            failures.push(format!("{name}: encode failed: {}: {e}", e.code()));
            continue;
        }
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = reencoded
            .iter()
            .filter(|o| owned_by(Adapter::Redis, &o.encoded_key[..o.user_len]))
            .map(|o| (o.encoded_key[..o.user_len].to_vec(), o.body.clone()))
            .collect();
        want.sort();
        let mut got = sink.records;
        got.sort();
        if got.windows(2).any(|w| w[0].0 == w[1].0) {
            failures.push(format!("{name}: duplicate keys emitted"));
        } else if got == want {
            passed += 1;
        } else {
            let missing = want
                .iter()
                .find(|r| !got.contains(r))
                .map(|r| super::Escaped(&r.0).to_string());
            let extra = got
                .iter()
                .find(|r| !want.contains(r))
                .map(|r| super::Escaped(&r.0).to_string());
            failures.push(format!("{name}: records differ ({} vs {}); first missing {missing:?}, first extra {extra:?}", got.len(), want.len()));
        }
    }
    eprintln!(
        "redis encode conformance: {passed} record sets identical, {errors_matched} errors matched, \
         {deliberate} trees with non-regular key entries refused (deliberate difference), {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
