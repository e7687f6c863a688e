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
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, AdapterEncoder, EntrySink, Warnings};
use crate::dispatch::{Adapter, route};
use crate::error::BoxError;
use crate::mvcc::{Verdict, Visibility};
use crate::sort::SortOptions;
use crate::tree::writer::TreeWriter;
use elastickv_testkit::tree::read_tree;
use elastickv_testkit::vectors;

use crate::adapters::conformance_kit::{Owned, owned_by, read_sorted};

use super::{SqsDecodeOptions, SqsDecoder, SqsEncoder};

fn cases() -> Vec<PathBuf> {
    vectors::case_dirs(&vectors::dir())
}

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

/// What the Go decoder did with a case, as far as SQS is concerned.
enum GoOutcome {
    /// Decoded; the tree is the expectation.
    Tree,
    /// Failed with this SQS code.
    SqsError(String),
    /// Failed on the `!sqs|queue|seq|` row: the Go defect fixed here.
    SeqRowDefect,
    /// Failed for a reason outside SQS.
    Other,
}

fn go_outcome(case: &Path) -> GoOutcome {
    let Ok(text) = fs::read_to_string(case.join("expected_error.txt")) else {
        return GoOutcome::Tree;
    };
    let sentinel = text
        .lines()
        .find_map(|l| l.strip_prefix("sentinels:"))
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("")
        .to_owned();
    if !sentinel.starts_with("ErrSQS") {
        return GoOutcome::Other;
    }
    if text.contains("after prefix \"!sqs|queue|seq|\"") {
        return GoOutcome::SeqRowDefect;
    }
    GoOutcome::SqsError(vectors::code_for_sentinel(&sentinel))
}

pub(super) fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: SqsDecodeOptions,
) -> Result<Warnings, BoxError> {
    let mut decoder = SqsDecoder::new(TreeWriter::serial(out).unwrap(), options);
    let mut warnings = Warnings::default();
    let mut visibility = Visibility::new();
    for owned in entries {
        let entry = owned.entry();
        let verdict = visibility
            .observe(&entry)
            .map_err(|e| Box::new(e) as BoxError)?;
        if verdict != Verdict::Visible || !owned_by(Adapter::Sqs, entry.user_key) {
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

fn sqs_warnings(warnings: &Warnings) -> Vec<WarningLine> {
    let mut out: Vec<WarningLine> = warnings
        .0
        .iter()
        .filter(|w| w.event.starts_with("sqs_"))
        .map(|w| {
            let fields = w.fields.iter().filter(|(k, _)| *k != "hint");
            (
                w.event.to_owned(),
                fields.map(|(k, v)| (k.to_string(), v.clone())).collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The SQS warnings of the Go decoder's log (slog text), sorted: Go raises them in
/// map order.
fn go_sqs_warnings(case: &Path) -> Vec<WarningLine> {
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
        if !event.starts_with("sqs_") {
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

/// A `strconv.Quote`d slog value (after its opening quote): the text, and what
/// follows the closing quote.
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
                    u32::from_str_radix(&digits, 16)
                        .ok()
                        .and_then(char::from_u32)
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'v' => out.push('\u{b}'),
                    'x' => out.extend(hex(&mut chars, 2)),
                    'u' => out.extend(hex(&mut chars, 4)),
                    'U' => out.extend(hex(&mut chars, 8)),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    (out, "")
}

fn input_sorted(case: &Path) -> bool {
    let summary = fs::read_to_string(case.join("summary.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&summary).is_ok_and(|v| v["input_sorted"] != false)
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

/// The expected `sqs/` listing: from `tree.listing` (which keeps empty directories),
/// or by walking `mvcc/tree` (where git dropped them, so only files are compared).
fn expected_listing(case: &Path) -> (Listing, bool) {
    let mvcc = case.join("mvcc/tree");
    if mvcc.is_dir() {
        let mut listing = Listing::new();
        walk(&mvcc, "sqs", &mut listing);
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
        if path != "sqs" && !path.starts_with("sqs/") {
            continue;
        }
        let sha = (v["type"] == "f").then(|| v["sha256"].as_str().unwrap_or_default().to_owned());
        listing.insert(path.to_owned(), sha);
    }
    (listing, true)
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

#[test]
fn decode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut fixed, mut failures) = (0, 0, 0, Vec::new());
    for case in cases() {
        let flags = case_flags(&case);
        if !flags.sqs_selected {
            continue;
        }
        let outcome = go_outcome(&case);
        if matches!(outcome, GoOutcome::Other) {
            continue;
        }
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        if !entries.iter().any(|o| owned_by(Adapter::Sqs, o.user_key())) {
            continue;
        }
        let scratch = tempfile::tempdir().unwrap();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        // In memory, and with every record spilled to scratch.
        for (budget, label) in [(usize::MAX, ""), (1, " (spilled)")] {
            let options = SqsDecodeOptions {
                preserve_visibility: flags.preserve_visibility,
                include_side_records: flags.include_side_records,
                sort: SortOptions {
                    memory_budget: budget,
                    scratch_dir: scratch.path().to_path_buf(),
                },
            };
            let name = format!("{name}{label}");
            match &outcome {
                GoOutcome::SeqRowDefect => {
                    if check_seq_row_case(&name, &entries, &options, &mut failures) {
                        fixed += 1;
                    }
                    continue;
                }
                GoOutcome::SqsError(code) => {
                    let tmp = tempfile::tempdir().unwrap();
                    match decode_entries(&entries, tmp.path(), options) {
                        Err(e) if e.code() == code => errors_matched += 1,
                        Err(e) => {
                            failures.push(format!("{name}: want {code}, got {}: {e}", e.code()))
                        }
                        Ok(_) => failures.push(format!("{name}: want {code}, decode succeeded")),
                    }
                    continue;
                }
                GoOutcome::Tree | GoOutcome::Other => {}
            }
            let tmp = tempfile::tempdir().unwrap();
            let warnings = match decode_entries(&entries, tmp.path(), options) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(format!("{name}: decode failed: {}: {e}", e.code()));
                    continue;
                }
            };
            let (expected, with_dirs) = expected_listing(&case);
            let got = decoded_listing(tmp.path(), &expected, with_dirs);
            if with_dirs && input_sorted(&case) && sqs_warnings(&warnings) != go_sqs_warnings(&case)
            {
                failures.push(format!(
                    "{name}: warnings differ: {:?} vs Go {:?}",
                    sqs_warnings(&warnings),
                    go_sqs_warnings(&case)
                ));
            } else if got == expected {
                passed += 1;
            } else {
                failures.push(format!("{name}: tree differs: {:?}", diff(&got, &expected)));
            }
        }
    }
    eprintln!(
        "sqs decode conformance: {passed} trees identical, {errors_matched} errors matched, \
         {fixed} seq-row cases decoded and round-tripped (Go defect fixed), {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed > 0 || vectors::shared().is_none());
}

/// Collects records like the snapshot builder would.
#[derive(Default)]
pub(super) struct Collect {
    pub(super) records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Collect {
    /// The records as sorted single-version entries at commit ts 1.
    pub(super) fn as_entries(&self) -> Vec<Owned> {
        let mut records = self.records.clone();
        records.sort();
        records
            .into_iter()
            .enumerate()
            .map(|(i, (key, body))| {
                let user_len = key.len();
                let mut encoded_key = key;
                encoded_key.extend_from_slice(&(!1u64).to_be_bytes());
                Owned {
                    offset: i as u64,
                    encoded_key,
                    user_len,
                    commit_ts: 1,
                    tombstone: false,
                    expire_at: 0,
                    body,
                }
            })
            .collect()
    }
}

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.records.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

/// How the Go encoder ended, as far as SQS is concerned.
enum GoEncode {
    /// Encoded: `reencoded.fsm` holds the expected records.
    Records,
    /// Its SQS side emitted a key twice (a multi-version tree).
    DuplicateKey,
    /// Failed elsewhere (another adapter, a refused producer mode): nothing to compare.
    Elsewhere,
}

fn go_encode(case: &Path) -> GoEncode {
    let text = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
    match text.lines().find(|l| l.starts_with("error:")) {
        None => GoEncode::Records,
        Some(l) if l.contains("sqs encoder") && l.contains("duplicate encoded key") => {
            GoEncode::DuplicateKey
        }
        Some(_) => GoEncode::Elsewhere,
    }
}

#[test]
fn encode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tree = case.join("tree/sqs");
        if !tree.is_dir() {
            continue;
        }
        let expectation = go_encode(&case);
        if matches!(expectation, GoEncode::Elsewhere) {
            continue;
        }
        let scratch = tempfile::tempdir().unwrap();
        let sort = SortOptions {
            memory_budget: 1,
            scratch_dir: scratch.path().to_path_buf(),
        };
        let mut sink = Collect::default();
        let result = SqsEncoder::with_sort(&sort).encode(&tree, &mut sink);
        if let Err(e) = result {
            failures.push(format!("{name}: encode failed: {}: {e}", e.code()));
            continue;
        }
        let mut got = sink.records;
        got.sort();
        let duplicate = got.windows(2).any(|w| w[0].0 == w[1].0);
        if matches!(expectation, GoEncode::DuplicateKey) {
            if duplicate {
                errors_matched += 1;
            } else {
                failures.push(format!("{name}: Go emitted a duplicate key, we did not"));
            }
            continue;
        }
        let Some(reencoded) = read_sorted(&case.join("reencoded.fsm")) else {
            failures.push(format!("{name}: reencoded.fsm unreadable"));
            continue;
        };
        let want: Vec<(Vec<u8>, Vec<u8>)> = reencoded
            .iter()
            .filter(|o| owned_by(Adapter::Sqs, o.user_key()))
            .map(|o| (o.user_key().to_vec(), o.body.clone()))
            .collect();
        if duplicate {
            failures.push(format!("{name}: duplicate keys emitted"));
        } else if got == want {
            passed += 1;
        } else {
            let missing = want
                .iter()
                .find(|r| !got.contains(r))
                .map(|r| crate::adapters::redis::Escaped(&r.0).to_string());
            let extra = got
                .iter()
                .find(|r| !want.contains(r))
                .map(|r| crate::adapters::redis::Escaped(&r.0).to_string());
            failures.push(format!(
                "{name}: records differ ({} vs {}); first missing {missing:?}, first extra {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    eprintln!(
        "sqs encode conformance: {passed} record sets identical, {errors_matched} duplicate-key \
         failures matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
