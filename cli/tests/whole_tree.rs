//! Whole-cluster conformance: every public vector, decoded and encoded with the case's
//! own command line (all four adapters unless the case narrows them), through the
//! native binary and the Go drop-ins.
//!
//! Decode: every file of the Go tree byte for byte (`mvcc/tree` where the Go decoder
//! got versions wrong), S3 `KEYMAP.jsonl` compared as a set of lines (Go writes it in
//! map order), MANIFEST.json equal but for `wall_time_iso`, CHECKSUMS listing the same
//! paths in the same order with the same digests but for those two files. Encode: the
//! Go encoder's `reencoded.fsm`, whole file, byte for byte.

mod support;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use elastickv_testkit::tree::{Tree, diff_trees, read_tree};
use elastickv_testkit::vectors::{Case, cases, shared};
use support::*;

/// Files whose bytes vary run to run in Go, so that only their meaning is compared.
fn varies_in_go(path: &str) -> bool {
    path == "MANIFEST.json" || (path.starts_with("s3/") && path.ends_with("/KEYMAP.jsonl"))
}

/// The tree's files, KEYMAP lines sorted, MANIFEST and CHECKSUMS left out (compared
/// on their own), and no directories (git drops the empty ones of the Go trees).
fn comparable(tree: &Tree) -> BTreeMap<String, Option<Vec<u8>>> {
    tree.iter()
        .filter(|(path, bytes)| {
            bytes.is_some() && path.as_str() != "MANIFEST.json" && path.as_str() != "CHECKSUMS"
        })
        .map(|(path, bytes)| {
            let bytes = bytes.as_ref().map(|b| {
                if varies_in_go(path) {
                    let mut lines: Vec<&[u8]> = b.split_inclusive(|&c| c == b'\n').collect();
                    lines.sort();
                    lines.concat()
                } else {
                    b.clone()
                }
            });
            (path.clone(), bytes)
        })
        .collect()
}

fn manifest_without_clock(path: &Path) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("wall_time_iso");
    m
}

/// CHECKSUMS rows as (path, digest), the digest blanked where the file varies in Go
/// (paths are bytes: names need not be UTF-8).
fn checksum_rows(path: &Path) -> Vec<(String, String)> {
    fs::read(path)
        .unwrap()
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let line = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
            let (digest, file) = line.split_once("  ").unwrap();
            let digest = if varies_in_go(file) { "" } else { digest };
            (file.to_owned(), digest.to_owned())
        })
        .collect()
}

fn assert_same_tree(case: &Case, out: &Path, label: &str) {
    let expected = case.expected_tree();
    let want = comparable(&read_tree(&expected).unwrap());
    let got = comparable(&read_tree(out).unwrap());
    if let Some(diff) = diff_trees(&want, &got) {
        panic!(
            "{} {label}: trees differ (left Go, right ours):\n{diff}",
            case.name
        );
    }
    assert_eq!(
        manifest_without_clock(&out.join("MANIFEST.json")),
        manifest_without_clock(&expected.join("MANIFEST.json")),
        "{} {label}: MANIFEST.json",
        case.name
    );
    assert_eq!(
        checksum_rows(&out.join("CHECKSUMS")),
        checksum_rows(&expected.join("CHECKSUMS")),
        "{} {label}: CHECKSUMS",
        case.name
    );
}

/// `decode` and `elastickv-snapshot-decode` with the case's own flags give the Go tree.
#[test]
fn decode_matches_go_whole_trees() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in cases(&root).into_iter().filter(Case::decoded_ok) {
        for (bin, label) in [(MAIN, "decode"), (GO_DECODE, "drop-in")] {
            let out = scratch.path().join(format!("{}-{label}", case.name));
            let mut args: Vec<&OsStr> = Vec::new();
            if bin == MAIN {
                args.push(os("decode"));
            }
            args.extend([
                os("--input"),
                os("input.fsm"),
                os("--output"),
                out.as_os_str(),
            ]);
            args.extend(case.flags.iter().map(|f| os(f)));
            let run = run(bin, &case.dir, &args);
            assert!(
                run.status.success(),
                "{} {label}: {}",
                case.name,
                stderr(&run)
            );
            assert_same_tree(&case, &out, label);
            fs::remove_dir_all(&out).unwrap();
        }
        checked += 1;
    }
    assert!(checked >= 150, "only {checked} cases decoded");
    eprintln!("{checked} cases decoded to the whole Go tree, twice");
}

/// The encoder arguments the Go run used (`reencode_result.txt`), and whether it
/// succeeded.
fn go_encode_args(case: &Case) -> Option<(Vec<String>, bool)> {
    let text = fs::read_to_string(case.dir.join("reencode_result.txt")).ok()?;
    let args = text.lines().find_map(|l| l.strip_prefix("args: "))?;
    let ok = text.lines().any(|l| l == "exit_code: 0");
    Some((args.split(' ').map(str::to_owned).collect(), ok))
}

/// `encode` and `elastickv-snapshot-encode` of every Go tree, with the Go run's own
/// arguments, write the Go encoder's snapshot byte for byte; where the Go round trip
/// reproduced the whole tree, `--self-test` passes too.
#[test]
fn encode_matches_go_snapshots_byte_for_byte() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let (mut checked, mut self_tested) = (0, 0);
    for case in cases(&root) {
        let Some((go_args, true)) = go_encode_args(&case) else {
            continue;
        };
        let want = fs::read(case.dir.join("reencoded.fsm")).unwrap();
        let self_test = case.summary["roundtrip_tree_equal"] == true;
        for (bin, label) in [(MAIN, "encode"), (GO_ENCODE, "drop-in")] {
            let out = scratch.path().join(format!("{}-{label}.fsm", case.name));
            let mut args: Vec<&OsStr> = Vec::new();
            if bin == MAIN {
                args.push(os("encode"));
            }
            let mut it = go_args.iter();
            while let Some(arg) = it.next() {
                args.push(os(arg));
                if arg == "--output" {
                    it.next();
                    args.push(out.as_os_str());
                }
            }
            if self_test {
                args.push(os("--self-test"));
            }
            let run = run(bin, &case.dir, &args);
            assert!(
                run.status.success(),
                "{} {label}: {}",
                case.name,
                stderr(&run)
            );
            assert!(
                fs::read(&out).unwrap() == want,
                "{} {label}: snapshot differs from reencoded.fsm",
                case.name
            );
        }
        checked += 1;
        self_tested += usize::from(self_test);
    }
    assert!(checked >= 130, "only {checked} cases encoded");
    assert!(self_tested >= 70, "only {self_tested} self-tests");
    eprintln!("{checked} snapshots identical to Go's ({self_tested} self-tested), twice");
}

/// The live files in `../shared/vectors/real-node/` with the tree each must give:
/// `(snapshot, expected tree, whether it was made with --rename-collisions)`.
fn real_node_files(root: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf, bool)> {
    let mut found = Vec::new();
    let mut dirs = vec![root.join("real-node")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !name.starts_with("expected-") {
                dirs.push(path);
                continue;
            }
            let Some(stem) = name.strip_suffix(".fsm") else {
                continue;
            };
            if stem.ends_with(".visible") {
                continue;
            }
            for (suffix, rename) in [("", false), ("-rename-collisions", true)] {
                let expected = dir.join(format!("expected-visible-{stem}{suffix}"));
                if expected.is_dir() {
                    found.push((path.clone(), expected, rename));
                }
            }
        }
    }
    found.sort();
    found
}

/// Every file a real node wrote decodes, exactly as written and with the default
/// adapters, to its expected visible tree: all four adapters' files byte for byte.
/// MANIFEST differs from it only in the clock, the input path and `snapshot_index`,
/// which we read from the hexadecimal live file name (Go reads it as decimal and drops
/// names with letters).
#[test]
fn real_node_files_decode_to_their_whole_visible_tree() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let files = real_node_files(&root);
    for (i, (fsm, expected, rename)) in files.iter().enumerate() {
        let out = scratch.path().join(i.to_string());
        let mut args = vec![
            os("decode"),
            os("--input"),
            fsm.as_os_str(),
            os("--output"),
            out.as_os_str(),
        ];
        if *rename {
            args.push(os("--rename-collisions"));
        }
        let run = run(MAIN, scratch.path(), &args);
        assert!(run.status.success(), "{}: {}", fsm.display(), stderr(&run));
        let want = comparable(&read_tree(expected).unwrap());
        let got = comparable(&read_tree(&out).unwrap());
        if let Some(diff) = diff_trees(&want, &got) {
            panic!("{}: trees differ (left expected):\n{diff}", fsm.display());
        }
        let manifest = |dir: &Path| {
            let mut m = manifest_without_clock(&dir.join("MANIFEST.json"));
            let obj = m.as_object_mut().unwrap();
            obj.remove("snapshot_index");
            obj["source"].as_object_mut().unwrap().remove("fsm_path");
            m
        };
        assert_eq!(manifest(&out), manifest(expected), "{}", fsm.display());
    }
    assert!(files.len() >= 4, "only {} real-node files", files.len());
}
