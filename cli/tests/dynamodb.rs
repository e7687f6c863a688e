//! The binaries with the DynamoDB adapter on the Go reference vectors: `decode
//! --adapter dynamodb` reproduces Go's `dynamodb/` subtree, `verify --round-trip`
//! passes on it, and the JSONL cases Go could not decode decode, round-trip and
//! rotate parts at `--dynamodb-bundle-size`.

mod support;

use std::path::Path;

use elastickv_testkit::tree::{files, read_tree};
use elastickv_testkit::vectors::{Case, cases, shared};
use support::*;

fn decode(case: &Case, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        os("decode"),
        os("--adapter"),
        os("dynamodb"),
        os("--input"),
        os("input.fsm"),
        os("--output"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|f| os(f)));
    run(MAIN, &case.dir, &args)
}

fn verify_round_trip(root: &Path) {
    let out = run(MAIN, root, &[os("verify"), os("--round-trip"), os(".")]);
    assert!(out.status.success(), "{}: {}", root.display(), stderr(&out));
}

/// Default-flag cases with DynamoDB data: the same files as Go, and a tree that
/// verifies with a round trip (every few cases, to keep the test short).
#[test]
fn decode_matches_go_dynamodb_trees_and_round_trips() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in cases(&root) {
        if !case.decoded_ok() || !case.flags.is_empty() || case.counter("dynamodb") == Some(0) {
            continue;
        }
        let out = scratch.path().join(&case.name);
        let run = decode(&case, &out, &[]);
        assert!(run.status.success(), "{}: {}", case.name, stderr(&run));
        let want = read_tree(&case.expected_tree().join("dynamodb")).unwrap();
        let got = read_tree(&out.join("dynamodb")).unwrap();
        let want: Vec<_> = files(&want).collect();
        let got: Vec<_> = files(&got).collect();
        assert_eq!(got, want, "{}: dynamodb files", case.name);
        // Where Go's encoder could not encode the tree (key numbers like `1/3`), ours
        // refuses it too (the conformance tests check the error).
        if checked % 8 == 0 && case.dir.join("reencoded.fsm").exists() {
            verify_round_trip(&out);
        }
        checked += 1;
    }
    eprintln!("{checked} cases decoded to the Go dynamodb tree");
}

/// The three cases run with `--dynamodb-bundle-mode jsonl` (Go: "not implemented",
/// or DynamoDB not selected): bundles, a verified round trip, and small parts.
#[test]
fn jsonl_cases_decode_round_trip_and_rotate() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in cases(&root) {
        if !case.flags.iter().any(|f| f == "jsonl") {
            continue;
        }
        let out = scratch.path().join(&case.name);
        let run = decode(&case, &out, &["--dynamodb-bundle-mode", "jsonl"]);
        assert!(run.status.success(), "{}: {}", case.name, stderr(&run));
        let tree = read_tree(&out.join("dynamodb")).unwrap();
        let names: Vec<&str> = files(&tree).map(|(name, _)| name).collect();
        assert!(
            names
                .iter()
                .all(|n| n.ends_with("/_schema.json") || n.contains("/items/data-")),
            "{}: {names:?}",
            case.name
        );
        verify_round_trip(&out);
        // Small parts: more of them, none above the limit, same records.
        let small = scratch.path().join(format!("{}-small", case.name));
        let run = decode(
            &case,
            &small,
            &[
                "--dynamodb-bundle-mode",
                "jsonl",
                "--dynamodb-bundle-size",
                "1K",
            ],
        );
        if run.status.success() {
            let parts = read_tree(&small.join("dynamodb")).unwrap();
            for (name, bytes) in files(&parts) {
                if name.contains("/items/data-") {
                    assert!(bytes.len() <= 1024, "{}: {name}", case.name);
                }
            }
        } else {
            assert_eq!(
                error_code(&run).as_deref(),
                Some("ddb-bundle-item-too-large")
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3, "the vectors hold three JSONL cases");
}
