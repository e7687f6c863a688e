//! The operator walkthrough, end to end on the bundled sample (all four adapters), every command
//! ours: decode → archive pack → archive unpack → encode --self-test →
//! prepare-restore → decode of the prepared `.fsm`, which must give the first tree
//! back (MANIFEST.json aside: it records when and from what it was decoded).

mod support;

use std::fs;
use std::path::Path;

use elastickv_testkit::tree::{diff_trees, read_tree};
use support::*;

fn step(dir: &Path, args: &[&str]) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    let out = run(MAIN, dir, &args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// The tree without MANIFEST.json and its CHECKSUMS row.
fn comparable(root: &Path) -> elastickv_testkit::tree::Tree {
    let mut tree = read_tree(root).unwrap();
    tree.remove("MANIFEST.json");
    if let Some(Some(checksums)) = tree.get_mut("CHECKSUMS") {
        let text = String::from_utf8(checksums.clone()).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.ends_with("  MANIFEST.json"))
            .map(|l| format!("{l}\n"))
            .collect();
        *checksums = kept.into_bytes();
    }
    tree
}

#[test]
fn walkthrough_restores_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/mixed-sample.fsm");
    fs::copy(&sample, d.join("node.fsm")).unwrap();
    step(
        d,
        &[
            "decode",
            "--cluster-id",
            "prod-1",
            "--input",
            "node.fsm",
            "--output",
            "dump",
        ],
    );
    step(
        d,
        &[
            "archive",
            "pack",
            "--input",
            "dump",
            "--output",
            "dump.tar.zst",
        ],
    );
    step(
        d,
        &[
            "archive",
            "unpack",
            "--input",
            "dump.tar.zst",
            "--output",
            "restore-host/dump",
        ],
    );
    step(
        d,
        &[
            "encode",
            "--self-test",
            "--input",
            "restore-host/dump",
            "--output",
            "restore.fsm",
        ],
    );
    step(
        d,
        &[
            "prepare-restore",
            "--dry-run",
            "--input",
            "restore.fsm",
            "--data-dir",
            "n1",
            "--index",
            "1",
            "--term",
            "1",
            "--peers",
            "n1=127.0.0.1:50051",
            "--target-cluster-id",
            "prod-1",
        ],
    );
    assert!(
        !d.join("n1").exists() && !d.join("n1.restore-prep").exists(),
        "--dry-run wrote"
    );
    step(
        d,
        &[
            "prepare-restore",
            "--input",
            "restore.fsm",
            "--data-dir",
            "n1",
            "--index",
            "1",
            "--term",
            "1",
            "--peers",
            "n1=127.0.0.1:50051",
            "--target-cluster-id",
            "prod-1",
        ],
    );
    for file in [
        "fsm-snap/0000000000000001.fsm",
        "snap/0000000000000001-0000000000000001.snap",
        "wal/0000000000000000-0000000000000000.wal",
        "etcd-raft-peers.bin",
    ] {
        assert!(d.join("n1").join(file).is_file(), "{file} missing");
    }
    step(
        d,
        &[
            "decode",
            "--cluster-id",
            "prod-1",
            "--input",
            "n1/fsm-snap/0000000000000001.fsm",
            "--output",
            "check",
        ],
    );
    let (first, last) = (comparable(&d.join("dump")), comparable(&d.join("check")));
    assert!(first.len() > 100, "the sample holds a real tree");
    if let Some(diff) = diff_trees(&first, &last) {
        panic!("restored tree differs from the first:\n{diff}");
    }
}
