//! S3 keys the Go decoder cannot write as paths (docs/format.md §4.5): folder objects
//! (`P/`) and segments too long for a file name decode through KEYMAP, and the CLI's
//! decode → encode → decode gives the same tree, so the same keys.

mod support;

use std::fs;
use std::path::Path;

use elastickv_synth::model::write_sorted;
use elastickv_synth::s3::{Mix, generate};
use elastickv_testkit::tree::read_tree;
use support::*;

fn cli(dir: &Path, args: &[&str]) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    let out = run(MAIN, dir, &args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// Relative paths of every file below `root`, as text.
fn names(root: &Path) -> Vec<String> {
    files_below(root)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn folder_objects_and_long_names_survive_decode_and_encode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = generate(
        7,
        &Mix {
            objects: 12,
            odd_keys: true,
            ..Mix::default()
        },
    );
    let keys: Vec<&[u8]> = db
        .buckets
        .iter()
        .flat_map(|b| b.objects.iter().map(|o| o.key.as_slice()))
        .collect();
    assert!(
        keys.iter().any(|k| k.ends_with(b"/")),
        "no folder object drawn"
    );
    assert!(
        keys.iter()
            .any(|k| k.split(|b| *b == b'/').any(|s| s.len() > 255)),
        "no long segment drawn"
    );
    fs::write(d.join("s.fsm"), write_sorted(&db.live_set())).unwrap();
    // The generator also draws keys ending in the sidecar suffix.
    let decode = |input: &str, output: &str| {
        cli(
            d,
            &[
                "decode",
                "--adapter",
                "s3",
                "--rename-collisions",
                "--input",
                input,
                "--output",
                output,
            ],
        );
    };
    decode("s.fsm", "t1");
    db.check_tree(&d.join("t1")).unwrap();
    let t1 = names(&d.join("t1/s3"));
    assert!(
        t1.iter().any(|n| n.ends_with("/.elastickv-folder")),
        "{t1:?}"
    );
    assert!(t1.iter().any(|n| n.contains(".elastickv-long-")), "{t1:?}");
    cli(
        d,
        &[
            "encode",
            "--adapter",
            "s3",
            "--input",
            "t1",
            "--output",
            "s2.fsm",
        ],
    );
    decode("s2.fsm", "t2");
    assert_eq!(
        read_tree(&d.join("t1/s3")).unwrap(),
        read_tree(&d.join("t2/s3")).unwrap()
    );
}
