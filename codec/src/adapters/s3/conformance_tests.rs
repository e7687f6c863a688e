//! Conformance against the Go reference vectors.
//!
//! Decode: each case's visible S3 entries, with the case's own decoder flags, must
//! produce the case's `s3/` tree byte for byte (`mvcc/tree/` where the Go decoder got
//! versions wrong), with `KEYMAP.jsonl` compared as a set of lines (Go writes it in
//! map order), or fail with the sentinel of a malformed-S3 case; the S3 warnings
//! must be Go's (as a multiset: Go emits them in map order). Encode: each case's
//! `tree/s3` must yield exactly the `!s3|` records of `reencoded.fsm`, or fail where
//! the Go encoder's S3 side failed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, AdapterEncoder, DecodeFlags, EntrySink, Warnings};
use crate::dispatch::{Adapter, route};
use crate::error::BoxError;
use crate::mvcc::{Verdict, Visibility};
use crate::sort::SortOptions;
use crate::tree::writer::TreeWriter;
use elastickv_testkit::vectors;

use crate::adapters::conformance_kit::{Owned, owned_by, read_sorted};

use super::{S3DecodeOptions, S3Decoder, S3Encoder};

/// The decoder flags of a case, and whether S3 is selected at all.
fn case_flags(case: &Path) -> (DecodeFlags, bool) {
    let text = fs::read_to_string(case.join("flags.txt")).unwrap_or_default();
    let mut flags = DecodeFlags::default();
    let mut s3_selected = true;
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            "--include-orphans" => flags.exclusions.include_orphans = true,
            "--include-incomplete-uploads" => flags.exclusions.include_incomplete_uploads = true,
            "--rename-collisions" => flags.exclusions.rename_s3_collisions = true,
            "--adapter" => {
                let list = words.next().unwrap_or_default();
                s3_selected = list == "all" || list.split(',').any(|a| a == "s3");
            }
            _ => {}
        }
    }
    (flags, s3_selected)
}

/// The S3 sentinel a malformed case expects: `None` if the case decodes,
/// `Some(None)` if it fails for a non-S3 reason.
fn expected_s3_error(case: &Path) -> Option<Option<String>> {
    let text = fs::read_to_string(case.join("expected_error.txt")).ok()?;
    let sentinels = text
        .lines()
        .find_map(|l| l.strip_prefix("sentinels:"))?
        .trim()
        .to_owned();
    let first = sentinels.split_whitespace().next().unwrap_or("");
    Some(
        first
            .starts_with("ErrS3")
            .then(|| vectors::code_for_sentinel(first)),
    )
}

pub(super) fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: S3DecodeOptions,
) -> Result<Warnings, BoxError> {
    let tree = TreeWriter::serial(out).unwrap();
    let mut decoder = S3Decoder::new(tree as Arc<_>, options);
    let mut warnings = Warnings::default();
    let mut visibility = Visibility::new();
    for owned in entries {
        let entry = owned.entry();
        let verdict = visibility
            .observe(&entry)
            .map_err(|e| Box::new(e) as BoxError)?;
        if verdict != Verdict::Visible || !owned_by(Adapter::S3, entry.user_key) {
            continue;
        }
        let Some(prefix) = route(entry.user_key) else {
            continue;
        };
        if let Err(e) = decoder.handle(prefix, &entry, &mut warnings) {
            // Go finalizes even after a failed row; the row's error wins.
            let _ = decoder.finalize(&mut warnings);
            return Err(e);
        }
    }
    decoder.finalize(&mut warnings)?;
    Ok(warnings)
}

/// A warning without its free-text hint: `(event, [(field, value)])`.
type WarningLine = (String, Vec<(String, String)>);

fn s3_warnings(warnings: &Warnings) -> Vec<WarningLine> {
    let mut out: Vec<WarningLine> = warnings
        .0
        .iter()
        .filter(|w| w.event.starts_with("s3_"))
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

/// A `strconv.Quote`d string (after its opening quote) as bytes, and the length
/// consumed including the closing quote.
fn unquote_go(quoted: &str) -> (Vec<u8>, usize) {
    let b = quoted.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return (out, i + 1),
            b'\\' if i + 1 < b.len() => {
                let esc = b[i + 1];
                i += 2;
                let hex_digits = |n: usize, i: usize| {
                    quoted
                        .get(i..i + n)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                };
                match esc {
                    b'x' => {
                        out.push(hex_digits(2, i).unwrap_or(0) as u8);
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if esc == b'u' { 4 } else { 8 };
                        let c = hex_digits(n, i)
                            .and_then(char::from_u32)
                            .unwrap_or('\u{FFFD}');
                        out.extend_from_slice(c.to_string().as_bytes());
                        i += n;
                    }
                    b't' => out.push(b'\t'),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    other => out.push(other),
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    (out, b.len())
}

/// The S3 warnings of the Go decoder's log (`key=value` slog text lines), sorted.
fn go_s3_warnings(case: &Path) -> Vec<WarningLine> {
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
                Some(quoted) => {
                    let (bytes, used) = unquote_go(quoted);
                    (super::docs::go_string(&bytes), &quoted[used..])
                }
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
        if !event.starts_with("s3_") {
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

/// `path → Some(digest)` for files, `None` for directories; KEYMAP digests are of
/// their sorted lines.
type Listing = BTreeMap<String, Option<String>>;

fn digest_of(path: &str, bytes: &[u8]) -> String {
    if path.ends_with("/KEYMAP.jsonl") {
        let mut lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        lines.sort();
        return format!("lines:{}", hex::encode(Sha256::digest(lines.concat())));
    }
    hex::encode(Sha256::digest(bytes))
}

/// Adds `<root>/<rel>` and everything below it, keyed by the path bytes in hex
/// (object keys need not be UTF-8).
fn walk(root: &Path, rel: &[u8], out: &mut Listing) {
    use std::os::unix::ffi::OsStrExt;
    let path = root.join(std::ffi::OsStr::from_bytes(rel));
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return;
    };
    if meta.is_dir() {
        out.insert(hex::encode(rel), None);
        let Ok(entries) = fs::read_dir(&path) else {
            return;
        };
        for entry in entries.flatten() {
            let child = [rel, b"/", entry.file_name().as_bytes()].concat();
            walk(root, &child, out);
        }
    } else {
        let bytes = fs::read(&path).unwrap_or_default();
        let name = String::from_utf8_lossy(rel).into_owned();
        out.insert(hex::encode(rel), Some(digest_of(&name, &bytes)));
    }
}

/// The expected `s3/` listing: from `tree.listing` (which keeps empty directories;
/// KEYMAP files re-read from `tree/`), or by walking `mvcc/tree`.
fn expected_listing(case: &Path) -> (Listing, bool) {
    let mvcc = case.join("mvcc/tree");
    if mvcc.is_dir() {
        let mut listing = Listing::new();
        walk(&mvcc, b"s3", &mut listing);
        listing.retain(|_, sha| sha.is_some());
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
        if path != "s3" && !path.starts_with("s3/") {
            continue;
        }
        let sha = (v["type"] == "f").then(|| {
            if path.ends_with("/KEYMAP.jsonl") {
                let bytes = fs::read(case.join("tree").join(path)).unwrap_or_default();
                digest_of(path, &bytes)
            } else {
                v["sha256"].as_str().unwrap_or_default().to_owned()
            }
        });
        let path_hex = v["path_hex"].as_str().unwrap_or_default().to_owned();
        listing.insert(path_hex, sha);
    }
    (listing, true)
}

fn shown(path_hex: &str) -> String {
    String::from_utf8_lossy(&hex::decode(path_hex).unwrap_or_default()).into_owned()
}

fn input_sorted(case: &Path) -> bool {
    let summary = fs::read_to_string(case.join("summary.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&summary).is_ok_and(|v| v["input_sorted"] != false)
}

fn cases() -> Vec<PathBuf> {
    vectors::case_dirs(&vectors::dir())
}

#[test]
fn decode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let (flags, s3_selected) = case_flags(&case);
        if !s3_selected {
            continue;
        }
        let expected_error = expected_s3_error(&case);
        if matches!(expected_error, Some(None)) {
            continue; // fails for a non-S3 reason
        }
        let Some(entries) = read_sorted(&case.join("input.fsm")) else {
            continue;
        };
        if expected_error.is_none()
            && !entries
                .iter()
                .any(|e| owned_by(Adapter::S3, e.entry().user_key))
        {
            continue;
        }
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let scratch = tempfile::tempdir().unwrap();
        // In memory, and with every sort spilled to scratch.
        for (budget, label) in [(64 << 20, ""), (1, " (spilled)")] {
            let options = S3DecodeOptions::new(scratch.path().to_path_buf(), budget, &flags);
            let tmp = tempfile::tempdir().unwrap();
            let result = decode_entries(&entries, tmp.path(), options);
            let name = format!("{name}{label}");
            if let Some(Some(code)) = &expected_error {
                match result {
                    Err(e) if e.code() == code => errors_matched += 1,
                    Err(e) => failures.push(format!("{name}: want {code}, got {}: {e}", e.code())),
                    Ok(_) => failures.push(format!("{name}: want {code}, decode succeeded")),
                }
                continue;
            }
            let warnings = match result {
                Err(e) => {
                    failures.push(format!("{name}: decode failed: {}: {e}", e.code()));
                    continue;
                }
                Ok(w) => s3_warnings(&w),
            };
            let (expected, with_dirs) = expected_listing(&case);
            let mut got = Listing::new();
            walk(tmp.path(), b"s3", &mut got);
            if !with_dirs {
                got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
            }
            if with_dirs && input_sorted(&case) && warnings != go_s3_warnings(&case) {
                failures.push(format!(
                    "{name}: warnings differ: {warnings:?} vs {:?}",
                    go_s3_warnings(&case)
                ));
            } else if got == expected {
                passed += 1;
            } else {
                let diff: Vec<_> = got
                    .iter()
                    .filter(|(k, v)| expected.get(*k) != Some(v))
                    .map(|(k, _)| format!("+{}", shown(k)))
                    .chain(
                        expected
                            .iter()
                            .filter(|(k, v)| got.get(*k) != Some(v))
                            .map(|(k, _)| format!("-{}", shown(k))),
                    )
                    .take(8)
                    .collect();
                failures.push(format!("{name}: tree differs: {diff:?}"));
            }
        }
    }
    eprintln!(
        "s3 decode conformance: {passed} trees identical, {errors_matched} errors matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed > 0, "no S3 vector was decoded");
}

/// Collects records like the snapshot builder would.
#[derive(Default)]
pub(super) struct Collect {
    pub(super) records: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.records.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

/// What the Go encoder did with the case's S3 tree.
enum GoEncode {
    /// Its S3 side failed.
    S3Failed(String),
    /// It failed before or outside its S3 side: nothing to compare.
    Elsewhere,
    /// It succeeded.
    Ok,
}

fn go_encode(case: &Path) -> GoEncode {
    let text = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
    match text.lines().find(|l| l.starts_with("error:")) {
        Some(l) if l.contains("s3 encoder") => GoEncode::S3Failed(l.to_owned()),
        Some(_) => GoEncode::Elsewhere,
        None if text.contains("exit_code: 0") => GoEncode::Ok,
        None => GoEncode::Elsewhere,
    }
}

/// Our code for the Go S3 encoder error line.
fn go_encode_code(line: &str) -> &'static str {
    if line.contains("s3 encode invalid _bucket.json") {
        "s3-encode-invalid-bucket"
    } else if line.contains("s3 encode invalid object sidecar") {
        "s3-encode-invalid-manifest"
    } else if line.contains("reserved dump directory") {
        "s3-encode-reserved-prefix-collision"
    } else if line.contains("not a regular file") {
        "s3-encode-not-regular"
    } else {
        // `statat …: no such file or directory`: a missing file, an OS error.
        "io"
    }
}

#[test]
fn encode_matches_go_vectors() {
    let (mut passed, mut errors_matched, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tree = case.join("tree/s3");
        if !tree.is_dir() {
            continue;
        }
        let args = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
        if let Some(list) = args
            .split_whitespace()
            .skip_while(|w| *w != "--adapter")
            .nth(1)
            && list != "all"
            && !list.split(',').any(|a| a == "s3")
        {
            continue;
        }
        let mut sink = Collect::default();
        let result = S3Encoder::new().encode(&tree, &mut sink);
        // With every directory listing spilled, the same records or the same error.
        let scratch = tempfile::tempdir().unwrap();
        let spilled = SortOptions {
            memory_budget: 1,
            scratch_dir: scratch.path().to_path_buf(),
        };
        let mut spilled_sink = Collect::default();
        let spilled_result = S3Encoder::with_sort(&spilled).encode(&tree, &mut spilled_sink);
        if spilled_sink.records != sink.records
            || spilled_result.as_ref().err().map(|e| e.code())
                != result.as_ref().err().map(|e| e.code())
        {
            failures.push(format!("{name}: spilled listings change the encode"));
            continue;
        }
        match go_encode(&case) {
            GoEncode::Elsewhere => continue,
            GoEncode::S3Failed(line) => {
                let want = go_encode_code(&line);
                match result {
                    Err(e) if e.code() == want => errors_matched += 1,
                    Err(e) => failures.push(format!("{name}: want {want}, got {}: {e}", e.code())),
                    Ok(()) => failures.push(format!(
                        "{name}: Go's S3 encoder failed ({line}), ours succeeded"
                    )),
                }
                continue;
            }
            GoEncode::Ok => {}
        }
        let Some(reencoded) = read_sorted(&case.join("reencoded.fsm")) else {
            failures.push(format!("{name}: reencoded.fsm unreadable"));
            continue;
        };
        if let Err(e) = result {
            failures.push(format!("{name}: encode failed: {}: {e}", e.code()));
            continue;
        }
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = reencoded
            .iter()
            .filter(|o| o.encoded_key[..o.user_len].starts_with(b"!s3|"))
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
            let missing = want.iter().find(|r| !got.contains(r)).map(|r| {
                format!(
                    "{:?} = {:?}",
                    String::from_utf8_lossy(&r.0),
                    String::from_utf8_lossy(&r.1)
                )
            });
            let extra = got.iter().find(|r| !want.contains(r)).map(|r| {
                format!(
                    "{:?} = {:?}",
                    String::from_utf8_lossy(&r.0),
                    String::from_utf8_lossy(&r.1)
                )
            });
            failures.push(format!(
                "{name}: records differ ({} vs {}); first missing {missing:?}, first extra {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    eprintln!(
        "s3 encode conformance: {passed} record sets identical, {errors_matched} errors matched, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(passed > 0, "no S3 vector was encoded");
}
