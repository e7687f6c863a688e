//! What an operator does with the files a running node writes: point `--data-dir` at a
//! node's group directory, decode an `offload publish` payload with its manifest, and
//! decode the state as of an earlier time (`--as-of`). Synthetic live files make every
//! case run from a fresh clone; the real server-written files (shared vectors) are used
//! too when present.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use elastickv_codec::container::{SnapshotWriter, encode_key};
use elastickv_synth::model::wrap_runtime_v1;
use elastickv_testkit::tree::{files, read_tree};
use elastickv_testkit::vectors::shared;
use support::*;

/// `(user key, commit ts, Some(string value) | None for a tombstone)`, in key order.
type Version<'a> = (&'a [u8], u64, Option<&'a [u8]>);

/// A live file (EKVTHLC1, CRC32C footer) holding `versions` and the raw
/// `_meta_min_retained_ts` row a node writes.
fn live_file(last_commit_ts: u64, min_retained_ts: u64, versions: &[Version<'_>]) -> Vec<u8> {
    let mut writer = SnapshotWriter::new(Vec::new(), last_commit_ts).unwrap();
    for (user_key, ts, value) in versions {
        let mut key = Vec::new();
        encode_key(user_key, *ts, &mut key);
        let mut encoded = vec![u8::from(value.is_none())];
        encoded.extend_from_slice(&0u64.to_le_bytes());
        if let Some(value) = value {
            // Redis string, new format: FF 01, flags 0, the bytes.
            encoded.extend_from_slice(&[0xff, 0x01, 0x00]);
            encoded.extend_from_slice(value);
        }
        writer.write_entry(&key, &encoded).unwrap();
    }
    writer
        .write_entry(b"_meta_min_retained_ts", &min_retained_ts.to_le_bytes())
        .unwrap();
    wrap_runtime_v1(&writer.finish().unwrap(), 1)
}

/// `a` = old@100, new@300; `b` = bee@50, deleted@200; history kept down to 40.
fn history() -> Vec<u8> {
    live_file(
        300,
        40,
        &[
            (b"!redis|str|a", 300, Some(b"new")),
            (b"!redis|str|a", 100, Some(b"old")),
            (b"!redis|str|b", 200, None),
            (b"!redis|str|b", 50, Some(b"bee")),
        ],
    )
}

fn cli(dir: &Path, args: &[&str]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    run(MAIN, dir, &args)
}

fn decode(dir: &Path, output: &str, extra: &[&str]) -> Output {
    let mut args = vec!["decode", "--adapter", "redis", "--output", output];
    args.extend_from_slice(extra);
    cli(dir, &args)
}

/// The Redis strings of a decoded tree: `(name, content)`.
fn strings(root: &Path) -> Vec<(String, String)> {
    let dir = root.join("redis/db_0/strings");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                String::from_utf8(fs::read(e.path()).unwrap()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[test]
fn as_of_decodes_the_state_at_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("live.fsm"), history()).unwrap();
    let cases: [(&str, Vec<(String, String)>); 4] = [
        ("300", vec![pair("a.bin", "new")]),
        ("250", vec![pair("a.bin", "old")]),
        ("150", vec![pair("a.bin", "old"), pair("b.bin", "bee")]),
        ("40", vec![]),
    ];
    for (i, (cut, want)) in cases.iter().enumerate() {
        let out = format!("o{i}");
        let run = decode(d, &out, &["--input", "live.fsm", "--as-of", cut]);
        assert!(run.status.success(), "{cut}: {}", stderr(&run));
        assert_eq!(&strings(&d.join(&out)), want, "--as-of {cut}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join(&out).join("MANIFEST.json")).unwrap()).unwrap();
        assert_eq!(manifest["last_commit_ts"].to_string(), *cut);
        assert_eq!(manifest["source"]["as_of"]["requested"], *cut);
    }
    // Without --as-of: the newest state, MANIFEST without the request.
    let run = decode(d, "now", &["--input", "live.fsm"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(strings(&d.join("now")), vec![pair("a.bin", "new")]);
    let manifest = fs::read_to_string(d.join("now/MANIFEST.json")).unwrap();
    assert!(!manifest.contains("as_of"), "{manifest}");
}

#[test]
fn as_of_outside_the_history_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("live.fsm"), history()).unwrap();
    let run = decode(d, "late", &["--input", "live.fsm", "--as-of", "301"]);
    assert_eq!(error_code(&run).as_deref(), Some("as-of-after-last-commit"));
    assert_eq!(run.status.code(), Some(2));
    assert!(!d.join("late").exists(), "refused before writing anything");
    let run = decode(d, "early", &["--input", "live.fsm", "--as-of", "39"]);
    assert_eq!(
        error_code(&run).as_deref(),
        Some("as-of-before-retained-history"),
        "{}",
        stderr(&run)
    );
    assert!(stderr(&run).contains("_meta_min_retained_ts 40"));
    assert!(!d.join("early/MANIFEST.json").exists());
    let run = decode(d, "bad", &["--input", "live.fsm", "--as-of", "noon"]);
    assert_eq!(error_code(&run).as_deref(), Some("as-of-invalid"));
    assert_eq!(run.status.code(), Some(1));
}

/// A group directory with snapshots at the given indexes, a raft record for `recorded`.
fn group_dir(root: &Path, files: &[(u64, Vec<u8>)], recorded: &[u64]) {
    fs::create_dir_all(root.join("fsm-snap")).unwrap();
    fs::create_dir_all(root.join("snap")).unwrap();
    for (index, bytes) in files {
        fs::write(root.join(format!("fsm-snap/{index:016x}.fsm")), bytes).unwrap();
    }
    for index in recorded {
        fs::write(
            root.join(format!("snap/0000000000000003-{index:016x}.snap")),
            b"",
        )
        .unwrap();
    }
}

#[test]
fn data_dir_decodes_the_newest_recorded_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = live_file(10, 0, &[(b"!redis|str|k", 10, Some(b"ten"))]);
    let new = live_file(20, 0, &[(b"!redis|str|k", 20, Some(b"twenty"))]);
    let unrecorded = live_file(30, 0, &[(b"!redis|str|k", 30, Some(b"thirty"))]);
    group_dir(
        &d.join("node/group-1"),
        &[(100, old), (200, new), (300, unrecorded)],
        &[100, 200],
    );
    let run = decode(d, "o", &["--data-dir", "node/group-1"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("00000000000000c8.fsm: index 200 is the newest of 3"),
        "{}",
        stderr(&run)
    );
    assert_eq!(strings(&d.join("o")), vec![pair("k.bin", "twenty")]);
    let manifest = fs::read_to_string(d.join("o/MANIFEST.json")).unwrap();
    assert!(manifest.contains("\"snapshot_index\": 200"), "{manifest}");
    // A sole group folder is descended into; two are refused, naming them.
    let run = decode(d, "o2", &["--data-dir", "node"]);
    assert!(run.status.success(), "{}", stderr(&run));
    group_dir(&d.join("node/group-2"), &[], &[]);
    let run = decode(d, "o3", &["--data-dir", "node"]);
    assert_eq!(error_code(&run).as_deref(), Some("data-dir-several-groups"));
    assert!(
        stderr(&run).contains("(group-1, group-2)"),
        "{}",
        stderr(&run)
    );
    assert!(!d.join("o3").exists());
    // inspect lists every file, marks the choice and checks each footer.
    let out = cli(d, &["inspect", "--json", "--data-dir", "node/group-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = report["snapshots"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["decode_picks"], true);
    assert_eq!(rows[2]["snap_term"], serde_json::Value::Null);
    assert!(rows.iter().all(|r| r["footer_verified"] == true));
    assert!(rows.iter().all(|r| r["container"] == "EKVTHLC1/EKVPBBL1"));
}

/// An offload payload (the live file without its footer) and its manifest.
fn offload(dir: &Path, live: &[u8], tweak: impl Fn(&mut serde_json::Value)) -> (PathBuf, PathBuf) {
    let (payload, footer) = live.split_at(live.len() - 4);
    let path = dir.join("payload.fsm");
    fs::write(&path, payload).unwrap();
    let mut manifest = serde_json::json!({
        "schema_version": 1,
        "created_at": "2026-12-06T10:40:00Z",
        "source_cluster": "c",
        "group_id": 1,
        "snapshot_index": 101,
        "snapshot_term": 2,
        "conf_state": {"voters": [1]},
        "payload": {
            "key": "v1/payloads/sha256/xx/x.fsm",
            "bytes": payload.len(),
            "sha256": sha256_hex(&path),
            "source_crc32c": u32::from_be_bytes(footer.try_into().unwrap()),
        },
        "manifest_key": "v1/groups/1/snapshots/x.json",
    });
    tweak(&mut manifest);
    let manifest_path = dir.join("manifest.json");
    fs::write(&manifest_path, manifest.to_string()).unwrap();
    (path, manifest_path)
}

#[test]
fn offload_payloads_decode_with_their_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    offload(d, &history(), |_| {});
    let alone = decode(d, "alone", &["--input", "payload.fsm"]);
    assert_eq!(
        error_code(&alone).as_deref(),
        Some("snapshot-footer-missing")
    );
    let run = decode(
        d,
        "o",
        &[
            "--input",
            "payload.fsm",
            "--offload-manifest",
            "manifest.json",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(!stderr(&run).contains("footer"), "{}", stderr(&run));
    assert_eq!(strings(&d.join("o")), vec![pair("a.bin", "new")]);
    let manifest = fs::read_to_string(d.join("o/MANIFEST.json")).unwrap();
    assert!(manifest.contains("\"snapshot_index\": 101"), "{manifest}");
    let out = cli(
        d,
        &[
            "inspect",
            "payload.fsm",
            "--offload-manifest",
            "manifest.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("payload verified"),
        "{}",
        stdout(&out)
    );
    assert!(!stderr(&out).contains("footer_missing"), "{}", stderr(&out));
}

#[test]
fn offload_manifests_that_disagree_are_refused() {
    type Tweak = fn(&mut serde_json::Value);
    let cases: [(Tweak, &str, &str); 4] = [
        (
            |m| m["payload"]["bytes"] = 5.into(),
            "offload-payload-mismatch",
            "length is",
        ),
        (
            |m| m["payload"]["sha256"] = "0".repeat(64).into(),
            "offload-payload-mismatch",
            "SHA-256 is",
        ),
        (
            |m| {
                let crc = m["payload"]["source_crc32c"].as_u64().unwrap();
                m["payload"]["source_crc32c"] = (crc ^ 1).into();
            },
            "offload-payload-mismatch",
            "CRC32C is",
        ),
        (
            |m| m["schema_version"] = 2.into(),
            "offload-manifest-invalid",
            "schema version 2",
        ),
    ];
    for (tweak, code, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        offload(d, &history(), tweak);
        for args in [
            vec![
                "decode",
                "--adapter",
                "redis",
                "--output",
                "o",
                "--input",
                "payload.fsm",
                "--offload-manifest",
                "manifest.json",
            ],
            vec![
                "inspect",
                "payload.fsm",
                "--offload-manifest",
                "manifest.json",
            ],
        ] {
            let run = cli(d, &args);
            assert_eq!(error_code(&run).as_deref(), Some(code), "{}", stderr(&run));
            assert_eq!(run.status.code(), Some(2));
            assert!(stderr(&run).contains(text), "{}", stderr(&run));
            assert!(!d.join("o").exists(), "refused before writing");
        }
    }
}

/// Real server files: the index-101 snapshot cut at the index-61 snapshot's last
/// commit has exactly the index-61 snapshot's visible state (the Redis subtree here;
/// the other adapters land on their own branches).
#[test]
fn real_node_history_cut_matches_the_earlier_snapshot() {
    let Some(root) = shared() else { return };
    let run1 = root.join("real-node/run1");
    if !run1.is_dir() {
        eprintln!("no real-node snapshots at {}", run1.display());
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let out = cli(
        &run1,
        &[
            "inspect",
            "--json",
            "--unknown",
            "during/000000000000003d.fsm",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let early: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cut = early["last_commit_ts"].to_string();
    let output = scratch.path().join("cut");
    let run = decode(
        &run1,
        output.to_str().unwrap(),
        &["--input", "0000000000000065.fsm", "--as-of", &cut],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let want = read_tree(&run1.join("during/expected-visible-000000000000003d/redis")).unwrap();
    let got = read_tree(&output.join("redis")).unwrap();
    let (want, got): (Vec<_>, Vec<_>) = (files(&want).collect(), files(&got).collect());
    assert!(got == want, "redis tree at the cut differs");
    // Every row of every real file is classified.
    for name in [
        "during/000000000000003d.fsm",
        "0000000000000051.fsm",
        "0000000000000065.fsm",
    ] {
        let out = cli(&run1, &["inspect", "--json", "--unknown", name]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["counters"]["unknown"], 0, "{name}");
        assert_eq!(report["unknown_rows"], serde_json::json!([]), "{name}");
    }
}

/// The SST-ingest snapshot a real node wrote, kept in the repository.
fn sst_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../codec/tests/fixtures/real-node/sst-ingest-0000000000000259.fsm")
}

#[test]
fn sst_ingest_snapshots_decode_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(sst_fixture(), d.join("0000000000000259.fsm")).unwrap();
    let out = cli(d, &["inspect", "--json", "0000000000000259.fsm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["store_format"], "EKVSSTI1");
    assert_eq!(report["sst_ingest"]["entry_count"], 2894);
    let file = &report["sst_ingest"]["files"][0];
    assert_eq!(file["table_format"], "Pebblev4");
    assert_eq!(file["data_blocks"], 110);
    assert_eq!(file["index_partitions"], 9);
    assert_eq!(report["mvcc"]["visible"], 602);
    assert_eq!(report["counters"]["unknown"], 0);
    assert_eq!(report["store_meta"]["applied_index"], 601);
    let run = decode(d, "tree", &["--input", "0000000000000259.fsm"]);
    assert!(run.status.success(), "{}", stderr(&run));
    // Cut at its own last commit: the same tree.
    let last = report["last_commit_ts"].to_string();
    let run = decode(
        d,
        "cut",
        &["--input", "0000000000000259.fsm", "--as-of", &last],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let tree = |name: &str| read_tree(&d.join(name).join("redis")).unwrap();
    assert!(tree("tree") == tree("cut"));
    // As an offload payload with its manifest.
    let live = fs::read(d.join("0000000000000259.fsm")).unwrap();
    offload(d, &live, |_| {});
    let run = decode(
        d,
        "offload",
        &[
            "--input",
            "payload.fsm",
            "--offload-manifest",
            "manifest.json",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(tree("tree") == tree("offload"));
    // Damaged: refused with a typed error, nothing decoded.
    let mut broken = live.clone();
    broken[300_000] ^= 1;
    fs::write(d.join("broken.fsm"), broken).unwrap();
    let run = decode(d, "broken", &["--input", "broken.fsm"]);
    assert_eq!(error_code(&run).as_deref(), Some("sst-integrity-mismatch"));
    assert!(stderr(&run).contains("000000.sst"), "{}", stderr(&run));
    assert_eq!(run.status.code(), Some(2));
}

/// `run2-sst/`: the SST-ingest file decodes like its EKVPBBL1 twin, and its Redis
/// subtree is the reference's.
#[test]
fn real_sst_ingest_snapshot_decodes_like_its_twin() {
    let Some(root) = shared() else { return };
    let run2 = root.join("real-node/run2-sst");
    if !run2.is_dir() {
        eprintln!("no SST-ingest sample at {}", run2.display());
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let out = |name: &str| scratch.path().join(name);
    for (input, output) in [
        ("0000000000000259.fsm", "sst"),
        ("0000000000000259.visible.fsm", "twin"),
    ] {
        let run = decode(
            &run2,
            out(output).to_str().unwrap(),
            &["--input", input, "--rename-collisions"],
        );
        assert!(run.status.success(), "{input}: {}", stderr(&run));
    }
    let tree = |path: PathBuf| read_tree(&path).unwrap();
    let (sst, twin) = (tree(out("sst")), tree(out("twin")));
    let manifest_free = |t: &elastickv_testkit::tree::Tree| {
        files(t)
            .filter(|(name, _)| !matches!(*name, "MANIFEST.json" | "CHECKSUMS"))
            .map(|(n, b)| (n.to_owned(), b.to_vec()))
            .collect::<Vec<_>>()
    };
    assert!(
        manifest_free(&sst) == manifest_free(&twin),
        "SST and twin trees differ"
    );
    let want = tree(run2.join("expected-visible-0000000000000259-rename-collisions/redis"));
    let got = tree(out("sst").join("redis"));
    assert!(files(&got).eq(files(&want)), "redis subtree differs");
}

/// `!fs|` rows are counted apart and warned about (stderr and `--json`); rows nothing
/// routes are listed by `inspect --unknown`; transaction fences are internal.
#[test]
fn every_row_is_classified_or_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = live_file(
        9,
        0,
        &[
            (b"!fs|ino|\x01", 3, Some(b"i")),
            (b"!redis|str|a", 4, Some(b"x")),
            (b"!redis|txn-wide-hash|h", 5, Some(b"")),
            (b"zzz\xff", 6, Some(b"?")),
        ],
    );
    fs::write(d.join("live.fsm"), file).unwrap();
    let run = decode(d, "o", &["--input", "live.fsm", "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("warning[filesystem_data_not_dumped]"),
        "{}",
        stderr(&run)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(
        summary["warnings"][0]["event"],
        "filesystem_data_not_dumped"
    );
    assert_eq!(summary["warnings"][0]["fields"]["rows"], "1");
    let counters = &summary["scan"]["counters"];
    assert_eq!(
        (
            &counters["filesystem"],
            &counters["internal"],
            &counters["unknown"]
        ),
        (&1.into(), &1.into(), &1.into())
    );
    let out = cli(d, &["inspect", "--unknown", "live.fsm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("unknown rows    first 1 of 1"), "{text}");
    assert!(text.contains("7a7a7aff zzz\\xff"), "{text}");
}
