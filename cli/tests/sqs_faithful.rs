//! The SQS faithful restore through the CLI: trees decoded with
//! `--include-sqs-side-records` and/or `--preserve-sqs-visibility`, which Go's encoder
//! refuses (and, for FIFO queues, Go's decoder cannot even write), pass
//! `verify --round-trip`: encoded and decoded back with the same flags, every file of
//! every adapter is the same, byte for byte.

mod support;

use std::collections::BTreeMap;
use std::fs;

use elastickv_testkit::vectors::{Case, cases, shared};
use support::*;

/// The Go decoder aborts on these (the `!sqs|queue|seq|` row with side records).
const GO_DECODE_FAILS: [&str; 3] = ["case-0055", "case-0117", "case-0195"];
/// Go decodes these, then its encoder refuses the producer mode (0114 also has S3
/// modes, which stay refused: its SQS part is checked alone).
const GO_ENCODE_REFUSES: [&str; 5] = [
    "case-0014",
    "case-0114",
    "case-0134",
    "case-0135",
    "case-0154",
];

fn sqs_mode(case: &Case) -> bool {
    case.flags
        .iter()
        .any(|f| f == "--include-sqs-side-records" || f == "--preserve-sqs-visibility")
}

/// Decodes `case` with its own flags into scratch, then `verify --round-trip`s it
/// (every adapter the manifest enables, or only `adapter`).
fn round_trip(
    case: &Case,
    scratch: &std::path::Path,
    adapter: Option<&str>,
) -> Result<String, String> {
    let out = scratch.join(&case.name);
    let mut args = vec![os("decode"), os("--input"), os("input.fsm"), os("--output")];
    args.push(out.as_os_str());
    args.extend(case.flags.iter().map(|f| os(f)));
    let decoded = run(MAIN, &case.dir, &args);
    if !decoded.status.success() {
        return Err(format!("decode: {}", stderr(&decoded)));
    }
    let mut args = vec![os("verify"), os("--round-trip"), out.as_os_str()];
    if let Some(adapter) = adapter {
        args.extend([os("--adapter"), os(adapter)]);
    }
    let verify = run(MAIN, scratch, &args);
    fs::remove_dir_all(&out).unwrap();
    if verify.status.success() {
        Ok(stdout(&verify))
    } else {
        Err(format!("verify: {}", stderr(&verify)))
    }
}

#[test]
fn go_failing_side_record_cases_round_trip() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    for case in cases(&root) {
        if !GO_DECODE_FAILS.contains(&case.name.as_str()) {
            continue;
        }
        assert!(
            case.flags.iter().any(|f| f == "--include-sqs-side-records"),
            "{}: expected a side-records case",
            case.name
        );
        let report = round_trip(&case, scratch.path(), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!(
            report.contains("round trip matched"),
            "{}: {report}",
            case.name
        );
    }
}

/// The SQS part of every vector decoded with an SQS producer mode round-trips, and
/// the set is the one expected: three cases Go cannot decode, five whose tree Go's
/// encoder refuses.
#[test]
fn every_sqs_mode_vector_round_trips() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for case in cases(&root).iter().filter(|c| sqs_mode(c)) {
        round_trip(case, scratch.path(), Some("sqs"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        seen.push(case.name.clone());
    }
    let mut want: Vec<String> = GO_DECODE_FAILS
        .iter()
        .chain(GO_ENCODE_REFUSES.iter())
        .map(|s| (*s).to_owned())
        .collect();
    want.sort();
    assert_eq!(seen, want);
}

/// The visible `(key, value)` rows of a snapshot whose key starts with `!sqs|` and
/// routes to a side family (vis, byage, dedup, group, tombstone, seq): for every key
/// the newest version, tombstones dropped.
fn side_rows(fsm: &std::path::Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    use elastickv_codec::container::SnapshotReader;
    use elastickv_codec::dispatch::{self, Family};
    let file = fs::File::open(fsm).unwrap();
    let mut reader = SnapshotReader::new(std::io::BufReader::new(file)).unwrap();
    let mut newest: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> = BTreeMap::new();
    while let Some(entry) = reader.next_entry().unwrap() {
        let side = dispatch::route(entry.user_key).is_some_and(|p| {
            matches!(
                p.family,
                Family::SqsMsgVis
                    | Family::SqsMsgByAge
                    | Family::SqsMsgDedup
                    | Family::SqsMsgGroup
                    | Family::SqsQueueTombstone
                    | Family::SqsQueueSeq
            )
        });
        if !side {
            continue;
        }
        let value = (!entry.tombstone).then(|| entry.body.to_vec());
        let slot = newest
            .entry(entry.user_key.to_vec())
            .or_insert((entry.commit_ts, value.clone()));
        if entry.commit_ts >= slot.0 {
            *slot = (entry.commit_ts, value);
        }
    }
    newest
        .into_iter()
        .filter_map(|(k, (_, v))| v.map(|v| (k, v)))
        .collect()
}

/// The restore is not only self-consistent: the snapshot of a side-records tree holds
/// the very index rows of the source snapshot (vis, byage, dedup, group, tombstone,
/// seq), key and value, and nothing else of those families.
#[test]
fn side_record_snapshots_keep_the_source_index_rows() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    for name in GO_DECODE_FAILS {
        let case = Case::load(&root.join(name));
        let tree = scratch.path().join(name);
        let fsm = scratch.path().join(format!("{name}.fsm"));
        let mut args = vec![os("decode"), os("--input"), os("input.fsm"), os("--output")];
        args.push(tree.as_os_str());
        args.extend(case.flags.iter().map(|f| os(f)));
        assert!(run(MAIN, &case.dir, &args).status.success());
        let encoded = run(
            MAIN,
            scratch.path(),
            &[
                os("encode"),
                os("--adapter"),
                os("sqs"),
                os("--input"),
                tree.as_os_str(),
                os("--output"),
                fsm.as_os_str(),
            ],
        );
        assert!(encoded.status.success(), "{name}: {}", stderr(&encoded));
        let source = side_rows(&case.dir.join("input.fsm"));
        assert!(!source.is_empty(), "{name}: no side rows in the source");
        assert_eq!(side_rows(&fsm), source, "{name}");
    }
}
