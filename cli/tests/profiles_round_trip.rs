//! Every `generate` profile is stored the way the encoder stores the same data: with the
//! default adapters (no `--adapter`), `encode(decode(generate --fsm))` — and
//! `encode --self-test` — is byte for byte `generate --fsm`, and `generate --tree` is
//! that decoded tree. The profiles come from the registry, so a new one is covered
//! without touching this file. No profile is an exception: the S3 generator writes the
//! layout the encoder restores (one part of 1 MiB chunks under the restore upload id),
//! giant objects included.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use elastickv_synth::workload::Profile;
use elastickv_testkit::tree::{Tree, diff_trees, read_tree};
use support::*;

/// Small enough for `cargo test`, large enough for one multi-chunk S3 object, a few
/// messages per SQS partition and every Redis type with a TTL.
const SCALE: &str = "0.003";

fn ok(out: &std::process::Output, what: &str) {
    assert!(out.status.success(), "{what}: {}", stderr(out));
}

fn cli(d: &Path, args: &[&str]) -> std::process::Output {
    let args: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
    run(MAIN, d, &args)
}

/// A tree without what legitimately differs between two decodes of the same data:
/// MANIFEST's wall time and source path, and so CHECKSUMS' MANIFEST line.
fn comparable(root: &Path) -> Tree {
    let mut tree = read_tree(root).unwrap();
    if let Some(Some(text)) = tree.get_mut("MANIFEST.json") {
        let mut manifest: serde_json::Value = serde_json::from_slice(text).unwrap();
        manifest["wall_time_iso"].take();
        manifest["source"]["fsm_path"].take();
        *text = serde_json::to_vec_pretty(&manifest).unwrap();
    }
    if let Some(Some(checksums)) = tree.get_mut("CHECKSUMS") {
        let kept: String = String::from_utf8(checksums.clone())
            .unwrap()
            .lines()
            .filter(|l| !l.ends_with("  MANIFEST.json"))
            .map(|l| format!("{l}\n"))
            .collect();
        *checksums = kept.into_bytes();
    }
    tree
}

fn assert_same_tree(left: &Path, right: &Path, what: &str) {
    let (l, r) = (comparable(left), comparable(right));
    if let Some(diff) = diff_trees(&l, &r) {
        panic!("{what}: {diff}");
    }
}

/// `generate --fsm`, `decode`, `encode`, `encode --self-test`, `generate --tree` of one
/// profile, all with the default adapters.
fn round_trip(d: &Path, profile: &str, extra: &[&str]) {
    let what = format!("{profile} {extra:?}");
    let args = [
        &["generate", "--profile", profile, "--scale", SCALE][..],
        extra,
    ]
    .concat();
    ok(&cli(d, &[&args[..], &["--fsm", "g.fsm"]].concat()), &what);
    ok(
        &cli(d, &["decode", "--input", "g.fsm", "--output", "decoded"]),
        &what,
    );
    ok(
        &cli(d, &["encode", "--input", "decoded", "--output", "e.fsm"]),
        &what,
    );
    let generated = fs::read(d.join("g.fsm")).unwrap();
    assert!(
        generated == fs::read(d.join("e.fsm")).unwrap(),
        "{what}: encode(decode(generate --fsm)) differs from generate --fsm"
    );
    let self_test = [
        "encode",
        "--self-test",
        "--input",
        "decoded",
        "--output",
        "s.fsm",
    ];
    let out = cli(d, &self_test);
    ok(&out, &what);
    assert!(stdout(&out).contains("self-test matched"), "{what}");
    assert!(generated == fs::read(d.join("s.fsm")).unwrap(), "{what}");
    ok(
        &cli(d, &[&args[..], &["--tree", "generated"]].concat()),
        &what,
    );
    assert_same_tree(&d.join("generated"), &d.join("decoded"), &what);
}

#[test]
fn every_profile_round_trips_byte_for_byte() {
    for profile in Profile::ALL {
        let dir = tempfile::tempdir().unwrap();
        round_trip(dir.path(), profile.name(), &[]);
    }
}

/// Giant collections and objects are canonical too (`mixed` passes `--giant` to its
/// Redis part only).
#[test]
fn giant_collections_round_trip_byte_for_byte() {
    for (profile, giant) in [("redis-mixed", "60"), ("s3-large", "2"), ("mixed", "60")] {
        let dir = tempfile::tempdir().unwrap();
        round_trip(dir.path(), profile, &["--giant", giant]);
    }
}
