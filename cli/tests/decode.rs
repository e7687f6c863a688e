//! `decode`, `verify` and `elastickv-snapshot-decode` on generated snapshots: output
//! policy, unsorted input, summaries, Go command lines.

mod support;

use std::fs;
use std::path::Path;

use elastickv_codec::container::{SnapshotReader, SnapshotWriter, encode_live_value};
use elastickv_testkit::tree::read_tree;
use support::*;

const T: u64 = 116114217163165220;

/// A tree, its snapshot (`sorted.fsm`) and the same entries in reverse order
/// (`unsorted.fsm`).
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    encode_sample_tree(d, T);
    let mut reader = SnapshotReader::new(fs::File::open(d.join("sorted.fsm")).unwrap()).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        let mut value = Vec::new();
        encode_live_value(e.body, &mut value);
        entries.push((e.encoded_key.to_vec(), value));
    }
    assert!(entries.len() >= 3);
    entries.reverse();
    let mut w = SnapshotWriter::new(fs::File::create(d.join("unsorted.fsm")).unwrap(), T).unwrap();
    for (k, v) in &entries {
        w.write_entry(k, v).unwrap();
    }
    w.finish().unwrap();
    dir
}

fn decode(dir: &Path, input: &str, output: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "decode",
        "--adapter",
        "redis",
        "--input",
        input,
        "--output",
        output,
    ];
    args.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    run(MAIN, dir, &args)
}

#[test]
fn decode_round_trips_and_sorts_unsorted_input() {
    let dir = setup();
    let d = dir.path();
    let out = decode(d, "sorted.fsm", "a", &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["scan"]["sorted_in_scratch"], false);
    assert_eq!(summary["scan"]["counters"]["redis"], 3);
    assert_eq!(summary["files"], 5);
    // Unsorted input restarts from the external sort; the tree is the same.
    let out = decode(d, "unsorted.fsm", "b", &["--json", "--sort-memory", "1K"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["scan"]["sorted_in_scratch"], true);
    assert_eq!(
        read_tree(&d.join("a/redis")).unwrap(),
        read_tree(&d.join("b/redis")).unwrap()
    );
    assert!(!d.join("b/.scratch").exists());
    let files_a = files_below(&d.join("a"));
    assert_eq!(files_a, files_below(&d.join("b")));
    // The decoded TTL sidecar is in key order; the hand-written one was not.
    assert_eq!(
        fs::read_to_string(d.join("a/redis/db_0/strings_ttl.jsonl")).unwrap(),
        "{\"key\":\"a\",\"expire_at_ms\":4102444800001}\n{\"key\":\"b\",\"expire_at_ms\":4102444800000}\n"
    );
    // The text summary is one line.
    let out = decode(d, "unsorted.fsm", "c", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("decoded unsorted.fsm -> c: "), "{text}");
    assert!(
        text.contains("(input unsorted; sorted in scratch)"),
        "{text}"
    );
}

#[test]
fn output_must_be_new_or_empty() {
    let dir = setup();
    let d = dir.path();
    fs::create_dir(d.join("empty")).unwrap();
    let out = decode(d, "sorted.fsm", "empty", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Now non-empty: refused, nothing touched.
    let before = read_tree(&d.join("empty")).unwrap();
    let out = decode(d, "sorted.fsm", "empty", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("output-not-empty"));
    assert_eq!(read_tree(&d.join("empty")).unwrap(), before);
    fs::write(d.join("file"), b"x").unwrap();
    let out = decode(d, "sorted.fsm", "file", &[]);
    assert_eq!(error_code(&out).as_deref(), Some("output-not-empty"));
    std::os::unix::fs::symlink(d.join("nowhere"), d.join("link")).unwrap();
    let out = decode(d, "sorted.fsm", "link", &[]);
    assert_eq!(error_code(&out).as_deref(), Some("output-not-empty"));
    assert!(!d.join("nowhere").exists());
    // Nested output paths are created.
    let out = decode(d, "sorted.fsm", "x/y/z", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&d.join("x/y/z")) & 0o777, 0o755 & !umask());
}

#[test]
fn decode_errors_and_flags() {
    let dir = setup();
    let d = dir.path();
    for (extra, exit, code) in [
        (&["--adapter", "Redis"][..], 1, "unknown-adapter"),
        (&["--adapter", ","][..], 1, "no-adapters"),
        (
            &["--dynamodb-bundle-mode", "bundle"][..],
            1,
            "bundle-mode-invalid",
        ),
    ] {
        let out = decode(d, "sorted.fsm", "o", extra);
        assert_eq!(out.status.code(), Some(exit), "{extra:?}: {}", stderr(&out));
        assert_eq!(error_code(&out).as_deref(), Some(code), "{extra:?}");
        assert!(!d.join("o").exists(), "{extra:?}: nothing created");
    }
    // A missing input is an I/O error; a truncated one a data error; both leave an
    // incomplete tree without MANIFEST/CHECKSUMS.
    let out = decode(d, "missing.fsm", "o1", &[]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(1), Some("io"))
    );
    let bytes = fs::read(d.join("sorted.fsm")).unwrap();
    fs::write(d.join("cut.fsm"), &bytes[..bytes.len() - 3]).unwrap();
    let out = decode(d, "cut.fsm", "o2", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("snapshot-truncated"));
    assert!(stderr(&out).contains("o2 is incomplete: no MANIFEST.json or CHECKSUMS was written"));
    assert!(!d.join("o2/MANIFEST.json").exists() && !d.join("o2/CHECKSUMS").exists());

    // Producer flags land in MANIFEST.json as Go writes them.
    let out = decode(
        d,
        "sorted.fsm",
        "flags",
        &[
            "--cluster-id",
            "c-1",
            "--include-orphans",
            "--rename-collisions",
            "--dynamodb-bundle-mode",
            "jsonl",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let m = fs::read_to_string(d.join("flags/MANIFEST.json")).unwrap();
    assert!(m.contains("\"cluster_id\": \"c-1\",\n"), "{m}");
    assert!(m.contains("\"include_orphans\": true,"), "{m}");
    assert!(m.contains("\"rename_s3_collisions\": true\n"), "{m}");
    assert!(m.contains("\"dynamodb_layout\": \"jsonl\"\n"), "{m}");
    assert!(m.contains("\"last_commit_ts\": 116114217163165220,"), "{m}");
}

#[test]
fn snapshot_index_from_live_file_names() {
    let dir = setup();
    let d = dir.path();
    fs::copy(d.join("sorted.fsm"), d.join("0000000000000064.fsm")).unwrap();
    let out = decode(d, "0000000000000064.fsm", "o", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = fs::read_to_string(d.join("o/MANIFEST.json")).unwrap();
    assert!(m.contains("\"snapshot_index\": 100,\n"), "{m}");
    assert!(
        m.contains("\"fsm_path\": \"0000000000000064.fsm\"\n"),
        "{m}"
    );
}

#[test]
fn go_compatible_decode() {
    let dir = setup();
    let d = dir.path();
    let go = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
        run(GO_DECODE, d, &args)
    };
    let out = go(&[
        "--input=sorted.fsm",
        "-output",
        "g",
        "-adapter",
        " redis ,",
        "-include-orphans=false",
        "x",
        "-nope",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("level=INFO msg=\"snapshot decoded\" input=sorted.fsm output=g entries=3 dynamodb=0 s3=0 redis=3 sqs=0 tombstone=0 internal=0 unknown=0 last_commit_ts=116114217163165220"),
        "{err}"
    );
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "CHECKSUMS"])
        .current_dir(d.join("g"))
        .status()
        .unwrap();
    assert!(check.success());
    for (args, needle) in [
        (vec!["-help"], "flag: help requested"),
        (vec!["-input", "sorted.fsm"], "--output is required"),
        (vec!["-output", "o"], "--input is required"),
        (
            vec!["-input", "sorted.fsm", "-output", "o", "-adapter", "REDIS"],
            "REDIS: unknown adapter name",
        ),
        (
            vec![
                "-input",
                "sorted.fsm",
                "-output",
                "o",
                "-adapter",
                "redis",
                "-dynamodb-bundle-mode",
                "x",
            ],
            "x: invalid --dynamodb-bundle-mode",
        ),
        (
            vec!["-input", "sorted.fsm", "-output", "g", "-adapter", "redis"],
            "output-not-empty",
        ),
        (
            vec!["-input", "missing.fsm", "-output", "o", "-adapter", "redis"],
            "decode missing.fsm: ",
        ),
    ] {
        let out = go(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("elastickv-snapshot-decode: error["),
            "{err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn verify_checks_a_dump() {
    let dir = setup();
    let d = dir.path();
    let out = decode(d, "sorted.fsm", "t", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "t"];
        args.extend_from_slice(extra);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
        run(MAIN, d, &args)
    };
    let out = verify(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("5 files"), "{}", stdout(&out));
    let out = verify(&["--round-trip", "--json", "--report", "rt.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["round_trip"]["matched"], true);
    assert!(
        fs::read_to_string(d.join("rt.txt"))
            .unwrap()
            .starts_with("self-test: matched (4 files compared; adapters: redis)")
    );

    // Tampering, extra files and broken manifests are data errors.
    let a = d.join("t/redis/db_0/strings/a.bin");
    let good = fs::read(&a).unwrap();
    fs::write(&a, b"tampered").unwrap();
    let out = verify(&[]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(2), Some("checksum-mismatch"))
    );
    fs::write(&a, &good).unwrap();
    fs::write(d.join("t/redis/db_0/extra"), b"x").unwrap();
    let out = verify(&[]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(2), Some("unchecksummed-file"))
    );
    fs::remove_file(d.join("t/redis/db_0/extra")).unwrap();
    let m = d.join("t/MANIFEST.json");
    let text = fs::read_to_string(&m).unwrap();
    fs::write(
        &m,
        text.replace("\"format_version\": 1", "\"format_version\": 7"),
    )
    .unwrap();
    let out = verify(&[]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(2), Some("unsupported-format-version"))
    );
    fs::write(&m, &text).unwrap();

    // A round trip that cannot reproduce the tree: the listed file is one no decoder
    // writes. Rewrite CHECKSUMS so only the round trip can notice.
    fs::write(d.join("t/redis/db_0/notes.txt"), b"x").unwrap();
    elastickv_codec::tree::checksums::write_checksums(&d.join("t")).unwrap();
    let out = verify(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = verify(&["--round-trip", "--report", "-"]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(2), Some("self-test-mismatch"))
    );
    assert!(
        stdout(&out).contains("[1] redis/db_0/notes.txt: only in input (1 bytes)"),
        "{}",
        stdout(&out)
    );
}

/// A malformed command line is a usage error: exit 1 and `error[usage]`, like the
/// library's usage errors (clap's own exit code would be 2, which means bad data here).
#[test]
fn malformed_command_lines_are_usage_errors() {
    for args in [
        &["decode", "--no-such-flag"][..],
        &["decode", "--input"][..],
        &["generate", "--profile", "no-such-profile", "--fsm", "x.fsm"][..],
        &["no-such-command"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
        let out = run(MAIN, dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(error_code(&out).as_deref(), Some("usage"), "{args:?}");
    }
    let help = run(MAIN, Path::new("."), &[os("decode"), os("--help")]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--output"));
}
