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
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterEncoder, DecodeFlags, Warnings};
pub(super) use crate::adapters::conformance_kit::Collect;
use crate::adapters::conformance_kit::{
    DecodeSuite, EncodeSuite, GoDecode, GoEncode, Owned, Records, WithoutEntries, decode_visible,
    expected_error, go_warnings, input_sorted, listing_diff, our_warnings, run_decode, run_encode,
};
use crate::dispatch::Adapter;
use crate::error::BoxError;
use crate::sort::SortOptions;
use crate::tree::writer::TreeWriter;

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

pub(super) fn decode_entries(
    entries: &[Owned],
    out: &Path,
    options: S3DecodeOptions,
) -> Result<Warnings, BoxError> {
    let tree = TreeWriter::serial(out).unwrap();
    let mut decoder = S3Decoder::new(tree as Arc<_>, options);
    // Go finalizes even after a failed row; the row's error wins.
    decode_visible(&mut decoder, entries, true)
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

/// A `strconv.Quote`d slog value, rendered as the S3 adapter renders strings.
fn unquote_s3(quoted: &str) -> (String, &str) {
    let (bytes, used) = unquote_go(quoted);
    (super::docs::go_string(&bytes), &quoted[used..])
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

/// What Go's decoder did, when it ran with S3 selected.
fn go_decode(case: &Path) -> Option<GoDecode> {
    if !case_flags(case).1 {
        return None;
    }
    match expected_error(case, &["ErrS3"]) {
        None => Some(GoDecode::Tree),
        Some(Some(code)) => Some(GoDecode::Error(code)),
        Some(None) => None, // fails for a non-S3 reason
    }
}

/// The decoded `s3/` tree and warnings (a multiset) against the case's.
fn check_tree(case: &Path, out: &Path, warnings: &Warnings) -> Result<(), String> {
    let warnings = our_warnings(warnings, "s3_", true);
    let (expected, with_dirs) = expected_listing(case);
    let mut got = Listing::new();
    walk(out, b"s3", &mut got);
    if !with_dirs {
        got.retain(|path, sha| sha.is_some() || expected.contains_key(path));
    }
    let go = go_warnings(case, "s3_", unquote_s3, true);
    if with_dirs && input_sorted(case) && warnings != go {
        return Err(format!("warnings differ: {warnings:?} vs {go:?}"));
    }
    if got != expected {
        return Err(format!(
            "tree differs: {:?}",
            listing_diff(&got, &expected, shown)
        ));
    }
    Ok(())
}

#[test]
fn decode_matches_go_vectors() {
    let counts = run_decode(
        &DecodeSuite {
            memory: 64 << 20,
            without_entries: WithoutEntries::DecodeErrors,
            go: &go_decode,
            options: &|case, budget, scratch| {
                S3DecodeOptions::new(scratch.to_path_buf(), budget, &case_flags(case).0)
            },
            decode: &decode_entries,
            check: &check_tree,
            special: &|_, _, _, _| false,
        },
        Adapter::S3,
    );
    eprintln!(
        "s3 decode conformance: {} trees identical, {} errors matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
    assert!(counts.passed > 0, "no S3 vector was decoded");
}

/// What the Go encoder did with the case's S3 tree.
enum GoS3Encode {
    /// Its S3 side failed.
    S3Failed(String),
    /// It failed before or outside its S3 side: nothing to compare.
    Elsewhere,
    /// It succeeded.
    Ok,
}

fn go_encode(case: &Path) -> GoS3Encode {
    let text = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
    match text.lines().find(|l| l.starts_with("error:")) {
        Some(l) if l.contains("s3 encoder") => GoS3Encode::S3Failed(l.to_owned()),
        Some(_) => GoS3Encode::Elsewhere,
        None if text.contains("exit_code: 0") => GoS3Encode::Ok,
        None => GoS3Encode::Elsewhere,
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

/// Whether the Go encoder ran with S3 selected (its command line is in
/// `reencode_result.txt`).
fn s3_encoded(case: &Path, tree: &Path) -> bool {
    let args = fs::read_to_string(case.join("reencode_result.txt")).unwrap_or_default();
    let list = args
        .split_whitespace()
        .skip_while(|w| *w != "--adapter")
        .nth(1);
    tree.is_dir() && list.is_none_or(|list| list == "all" || list.split(',').any(|a| a == "s3"))
}

/// The records of a tree; with every directory listing spilled, the same records or
/// the same error.
fn encode_both_ways(tree: &Path) -> Result<Result<Records, BoxError>, String> {
    let mut sink = Collect::default();
    let result = S3Encoder::new().encode(tree, &mut sink);
    let scratch = tempfile::tempdir().unwrap();
    let spilled = SortOptions {
        memory_budget: 1,
        scratch_dir: scratch.path().to_path_buf(),
    };
    let mut spilled_sink = Collect::default();
    let spilled_result = S3Encoder::with_sort(&spilled).encode(tree, &mut spilled_sink);
    if spilled_sink.records != sink.records
        || spilled_result.as_ref().err().map(|e| e.code())
            != result.as_ref().err().map(|e| e.code())
    {
        return Err("spilled listings change the encode".into());
    }
    Ok(result.map(|()| sink.records))
}

fn show_record(r: &(Vec<u8>, Vec<u8>)) -> String {
    format!(
        "{:?} = {:?}",
        String::from_utf8_lossy(&r.0),
        String::from_utf8_lossy(&r.1)
    )
}

#[test]
fn encode_matches_go_vectors() {
    let counts = run_encode(
        &EncodeSuite {
            select: &s3_encoded,
            encode: &encode_both_ways,
            go: &|case, _| match go_encode(case) {
                GoS3Encode::Elsewhere => GoEncode::Elsewhere,
                GoS3Encode::S3Failed(line) => GoEncode::Failed {
                    codes: vec![go_encode_code(&line)],
                    deliberate: false,
                },
                GoS3Encode::Ok => GoEncode::Records,
            },
            wanted: &|key| key.starts_with(b"!s3|"),
            require_reencoded: true,
            show: show_record,
        },
        Adapter::S3,
    );
    eprintln!(
        "s3 encode conformance: {} record sets identical, {} errors matched, {} failed",
        counts.passed,
        counts.errors_matched,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{:#?}", counts.failures);
    assert!(counts.passed > 0, "no S3 vector was encoded");
}
