//! `encode` and `elastickv-snapshot-encode`: publish, ENCODE_INFO, self-test,
//! sidecar refusals, exit codes.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use elastickv_testkit::work::names;
use support::*;

const T: u64 = 116114217163165220;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_redis_tree(&dir.path().join("tree"), T);
    dir
}

fn encode(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "encode",
        "--adapter",
        "redis",
        "--input",
        "tree",
        "--output",
        "out.fsm",
    ];
    args.extend_from_slice(extra);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    run(MAIN, dir, &args)
}

fn go_encode(dir: &Path, args: &[&str]) -> std::process::Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    run(GO_ENCODE, dir, &args)
}

fn info(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("out.fsm.encode_info.json")).unwrap()).unwrap()
}

#[test]
fn publishes_fsm_and_encode_info() {
    let dir = setup();
    let d = dir.path();
    let out = encode(d, &["--self-test", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["self_test"]["matched"], true);
    assert_eq!(summary["entries"], 3);
    let fsm = d.join("out.fsm");
    assert_eq!(mode(&fsm), 0o600);
    assert_eq!(mode(&d.join("out.fsm.encode_info.json")), 0o600);
    assert!(temp_files(d).is_empty());
    assert!(!d.join("out.fsm.mismatch.txt").exists());

    let text = fs::read_to_string(d.join("out.fsm.encode_info.json")).unwrap();
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.trim_start().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "encoder_version",
            "encoder_key_format_version",
            "wall_time_iso",
            "input_root",
            "output_fsm_path",
            "output_fsm_sha256",
            "last_commit_ts",
            "last_commit_ts_overridden",
            "manifest_last_commit_ts",
            "adapters_enabled",
            "self_test"
        ]
    );
    assert!(text.ends_with("}\n"));
    let i = info(d);
    assert_eq!(i["format_version"], 1);
    assert_eq!(i["encoder_version"], "dev");
    assert_eq!(i["encoder_key_format_version"], 1);
    assert_eq!(i["input_root"], "tree");
    assert_eq!(i["output_fsm_path"], "out.fsm");
    assert_eq!(i["output_fsm_sha256"], sha256_hex(&fsm));
    assert_eq!(i["last_commit_ts"], T);
    assert_eq!(i["last_commit_ts_overridden"], false);
    assert_eq!(i["manifest_last_commit_ts"], T);
    assert_eq!(i["adapters_enabled"], serde_json::json!(["redis"]));
    assert_eq!(
        i["self_test"],
        serde_json::json!({"ran": true, "matched": true})
    );
    let (ts, entries) = redis_entries(&fsm);
    assert_eq!(ts, T);
    assert_eq!(entries.len(), 3);

    // Without the self-test; a higher timestamp; a stale mismatch list goes away.
    fs::write(d.join("out.fsm.mismatch.txt"), b"old").unwrap();
    let out = encode(d, &["--last-commit-ts", " 0x1AC8B6B2A7F60000 "]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(overridden)"));
    assert!(!d.join("out.fsm.mismatch.txt").exists());
    let i = info(d);
    assert_eq!(i["last_commit_ts"], 0x1AC8B6B2A7F60000u64);
    assert_eq!(i["last_commit_ts_overridden"], true);
    assert_eq!(
        i["self_test"],
        serde_json::json!({"ran": false, "matched": false})
    );
    assert_eq!(redis_entries(&fsm).0, 0x1AC8B6B2A7F60000);
}

#[test]
fn exit_codes_and_error_codes() {
    let dir = setup();
    let d = dir.path();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--last-commit-ts", "5"],
            2,
            "self-test-lower-last-commit-ts",
        ),
        (&["--last-commit-ts", "+5"], 1, "invalid-last-commit-ts"),
        (&["--last-commit-ts", " "], 1, "invalid-last-commit-ts"),
        (&["--adapter", "bogus"], 1, "unknown-adapter"),
        (&["--adapter", " , "], 1, "no-adapters"),
        (&["--adapter", "all"], 2, "adapter-not-in-manifest"),
        (&["--adapter", "redis,s3"], 2, "adapter-not-in-manifest"),
    ];
    for (extra, exit, code) in cases {
        let out = encode(d, extra);
        assert_eq!(
            out.status.code(),
            Some(*exit),
            "{extra:?}: {}",
            stderr(&out)
        );
        assert_eq!(error_code(&out).as_deref(), Some(*code), "{extra:?}");
        assert!(!d.join("out.fsm").exists());
        assert!(temp_files(d).is_empty());
    }

    // Manifest problems: missing (I/O, 1), invalid or newer (data, 2), redis absent (2).
    let manifest = d.join("tree/MANIFEST.json");
    let good = fs::read_to_string(&manifest).unwrap();
    fs::remove_file(&manifest).unwrap();
    let out = encode(d, &[]);
    assert_eq!(
        (out.status.code(), error_code(&out).as_deref()),
        (Some(1), Some("io"))
    );
    for (text, code) in [
        (
            good.replace("\"format_version\": 1", "\"format_version\": 2"),
            "unsupported-format-version",
        ),
        (
            good.replace("\"phase0-snapshot-decode\"", "\"phase9\""),
            "invalid-manifest",
        ),
        (
            good.replace("\"redis\": {}", "\"sqs\": {}"),
            "adapter-not-in-manifest",
        ),
    ] {
        fs::write(&manifest, text).unwrap();
        let out = encode(d, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(error_code(&out).as_deref(), Some(code));
        let go = go_encode(
            d,
            &["-input", "tree", "-output=out.fsm", "-adapter", "redis"],
        );
        assert_eq!(go.status.code(), Some(2), "{}", stderr(&go));
        assert!(
            stderr(&go).contains(&format!("err=\"error[{code}]: ")),
            "{}",
            stderr(&go)
        );
    }
    fs::write(&manifest, &good).unwrap();

    // An adapter rejecting the tree is a data error; so is a hard-linked input file.
    fs::write(d.join("tree/redis/db_0/strings/bad%zz.bin"), b"x").unwrap();
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let go = go_encode(
        d,
        &["-input", "tree", "-output", "out.fsm", "-adapter=redis"],
    );
    assert_eq!(go.status.code(), Some(2), "{}", stderr(&go));
    fs::remove_file(d.join("tree/redis/db_0/strings/bad%zz.bin")).unwrap();
    fs::hard_link(d.join("tree/redis/db_0/strings/a.bin"), d.join("a-link")).unwrap();
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    fs::remove_file(d.join("a-link")).unwrap();
    assert!(!d.join("out.fsm").exists());
    assert!(temp_files(d).is_empty());
}

#[test]
fn go_compatible_command_lines() {
    let dir = setup();
    let d = dir.path();
    let out = go_encode(
        d,
        &[
            "--input=tree",
            "-output",
            "out.fsm",
            "-adapter",
            "REDIS",
            "-self-test=true",
            "ignored",
            "-bogus",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("level=INFO msg=\"encode complete\" output=out.fsm bytes="),
        "{err}"
    );
    assert!(err.contains(" self_test=true adapters=redis"), "{err}");
    assert_eq!(info(d)["self_test"]["matched"], true);

    for (args, exit, needle) in [
        (vec!["-h"], 1, "flag: help requested"),
        (
            vec!["-input", "tree", "-nope"],
            1,
            "flag provided but not defined: -nope",
        ),
        (vec!["-input"], 1, "flag needs an argument: -input"),
        (vec!["-self-test=maybe"], 1, "invalid boolean value"),
        (vec!["-output", "x.fsm"], 1, "--input is required"),
        (vec!["-input", "tree"], 1, "--output is required"),
        (
            vec!["-input", "tree", "-output", "x.fsm", "-adapter", "ALL"],
            1,
            "unknown adapter \\\"all\\\"",
        ),
        (
            vec!["-input", "tree", "-output", "x.fsm"],
            2,
            "adapter \\\"dynamodb\\\" selected but MANIFEST.json has no scope for it",
        ),
        (
            vec![
                "-input",
                "tree",
                "-output",
                "x.fsm",
                "-adapter=redis",
                "-last-commit-ts",
                "0xZZ",
            ],
            1,
            "--last-commit-ts hex parse",
        ),
        (
            vec![
                "-input",
                "tree",
                "-output",
                "x.fsm",
                "-adapter=redis",
                "-last-commit-ts=1",
            ],
            2,
            "HLC ceiling regression",
        ),
        (
            vec!["-input", "nowhere", "-output", "x.fsm", "-adapter=redis"],
            1,
            "MANIFEST.json",
        ),
    ] {
        let out = go_encode(d, &args);
        assert_eq!(out.status.code(), Some(exit), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("level=ERROR msg=elastickv-snapshot-encode err=\"error["),
            "{err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!d.join("x.fsm").exists());
    }
    // `-last-commit-ts ""` is no override, as in Go.
    let out = go_encode(
        d,
        &[
            "-input",
            "tree",
            "-output",
            "y.fsm",
            "-adapter=redis",
            "-last-commit-ts",
            "",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A real round-trip mismatch outside Redis: the SQS encoder writes no delivery
/// state (docs/format.md §6.5), so a message that was received comes back with its
/// counters zeroed; the report names the message and the fields.
#[test]
fn self_test_report_names_the_sqs_message_that_differs() {
    let dir = setup();
    let d = dir.path();
    let manifest = d.join("tree/MANIFEST.json");
    let text = fs::read_to_string(&manifest).unwrap();
    let text = text.replace("\"redis\": {}", "\"redis\": {},\n    \"sqs\": {}");
    assert!(text.contains("\"sqs\": {}"), "{text}");
    fs::write(&manifest, text).unwrap();
    let queue = d.join("tree/sqs/orders");
    fs::create_dir_all(&queue).unwrap();
    fs::write(
        queue.join("_queue.json"),
        "{\n  \"format_version\": 1,\n  \"name\": \"orders\",\n  \"visibility_timeout_seconds\": 30,\n  \"message_retention_seconds\": 345600,\n  \"delay_seconds\": 0\n}",
    )
    .unwrap();
    let message = |id: &str, sent: u64, state: &str| {
        format!(
            "{{\"message_id\":\"{id}\",\"body\":\"hello\",\"md5_of_body\":\"5d41402abc4b2a76b9719d911017c592\",\"send_timestamp_millis\":{sent},\"available_at_millis\":{sent},{state},\"queue_generation\":1}}\n"
        )
    };
    fs::write(
        queue.join("messages.jsonl"),
        message(
            "m-1",
            1_700_000_000_000,
            "\"visible_at_millis\":0,\"receive_count\":0",
        ) + &message(
            "m-2",
            1_700_000_000_001,
            "\"visible_at_millis\":1700000000500,\"receive_count\":3",
        ),
    )
    .unwrap();
    let args = [
        "encode",
        "--adapter",
        "sqs",
        "--input",
        "tree",
        "--output",
        "out.fsm",
        "--self-test",
        "--report",
        "report.txt",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    let out = run(MAIN, d, &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("self-test-mismatch"));
    assert!(!d.join("out.fsm").exists());
    assert_eq!(
        fs::read_to_string(d.join("out.fsm.mismatch.txt")).unwrap(),
        "sqs/orders/messages.jsonl (bytes differ)\n"
    );
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("cli_self_test_sqs_report", fs::read_to_string(d.join("report.txt")).unwrap());
    });
}

#[test]
fn self_test_mismatch_publishes_nothing() {
    let dir = setup();
    let d = dir.path();
    // A file no decoder produces: the round trip cannot reproduce it.
    fs::write(d.join("tree/redis/db_0/notes.txt"), b"hand-written").unwrap();
    // A stale snapshot from an earlier run must not survive a failed self-test.
    fs::write(d.join("out.fsm"), b"stale").unwrap();
    let out = encode(d, &["--self-test", "--report", "report.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("self-test-mismatch"));
    assert!(stderr(&out).contains("out.fsm.mismatch.txt"));
    assert!(!d.join("out.fsm").exists());
    assert!(temp_files(d).is_empty());
    let mismatch = d.join("out.fsm.mismatch.txt");
    assert_eq!(
        fs::read_to_string(&mismatch).unwrap(),
        "redis/db_0/notes.txt (missing in scratch)\n"
    );
    assert_eq!(mode(&mismatch), 0o600);
    assert_eq!(
        info(d)["self_test"],
        serde_json::json!({"ran": true, "matched": false})
    );
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("cli_self_test_mismatch_report", fs::read_to_string(d.join("report.txt")).unwrap());
    });

    // The Go-compatible binary: same outcome, exit 2.
    let out = go_encode(
        d,
        &[
            "-input",
            "tree",
            "-output",
            "out.fsm",
            "-adapter",
            "redis",
            "-self-test",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(
        "self-test diff (see out.fsm.mismatch.txt): backup: --self-test diff against --input"
    ));
    assert!(!d.join("out.fsm").exists());
}

/// The self-test compares what the decoder produces as it is produced: it writes no
/// decoded tree. With the scratch root and the system temp dir empty before, both
/// are empty after (sort runs are anonymous), whether the sorts spill or not, whether
/// the round trip matches or not, and for `verify --round-trip` too; next to the
/// output only the snapshot (or mismatch list) and its sidecar appear.
#[test]
fn self_test_writes_nothing_but_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let generated = run(
        MAIN,
        d,
        &[
            "generate",
            "--profile",
            "redis-mixed",
            "--scale",
            "0.002",
            "--tree",
            "tree",
        ]
        .map(os),
    );
    assert!(generated.status.success(), "{}", stderr(&generated));
    fs::create_dir(d.join("scratch")).unwrap();
    fs::create_dir(d.join("tmp")).unwrap();
    let run_in = |args: &[&str]| {
        std::process::Command::new(MAIN)
            .current_dir(d)
            .env("TMPDIR", d.join("tmp"))
            .args(args)
            .output()
            .unwrap()
    };
    let encode = |extra: &[&str]| {
        let mut args = vec![
            "encode",
            "--adapter",
            "redis",
            "--input",
            "tree",
            "--output",
            "out.fsm",
            "--self-test",
            "--scratch-root",
            "scratch",
        ];
        args.extend_from_slice(extra);
        run_in(&args)
    };
    let nothing: Vec<String> = Vec::new();
    // In memory, then with every sort spilling.
    for extra in [&[][..], &["--sort-memory", "64KiB"][..]] {
        let out = encode(extra);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("self-test matched"),
            "{}",
            stdout(&out)
        );
        assert_eq!(names(&d.join("scratch")), nothing, "{extra:?}");
        assert_eq!(names(&d.join("tmp")), nothing, "{extra:?}");
        assert_eq!(
            names(d),
            [
                ".out.fsm.lock",
                "out.fsm",
                "out.fsm.encode_info.json",
                "scratch",
                "tmp",
                "tree"
            ],
            "{extra:?}"
        );
    }
    let out = run_in(&[
        "verify",
        "tree",
        "--round-trip",
        "--scratch-root",
        "scratch",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(&d.join("scratch")), nothing);
    // A mismatch with a full report: still nothing written but the mismatch list.
    fs::remove_file(d.join("out.fsm")).unwrap();
    fs::write(d.join("tree/redis/db_0/notes.txt"), b"x").unwrap();
    let out = encode(&["--report", "-"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("redis/db_0/notes.txt: only in input (1 bytes)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(names(&d.join("scratch")), nothing);
    assert_eq!(names(&d.join("tmp")), nothing);
    assert_eq!(
        names(d),
        [
            ".out.fsm.lock",
            "out.fsm.encode_info.json",
            "out.fsm.mismatch.txt",
            "scratch",
            "tmp",
            "tree"
        ]
    );
}

#[test]
fn sidecar_refuses_links_and_fifos() {
    let dir = setup();
    let d = dir.path();
    let victim = d.join("victim");
    fs::write(&victim, b"keep").unwrap();
    let sidecar = d.join("out.fsm.encode_info.json");

    symlink(&victim, &sidecar).unwrap();
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("refusing-symlink"));
    assert!(
        fs::symlink_metadata(&sidecar)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    fs::remove_file(&sidecar).unwrap();

    fs::hard_link(&victim, &sidecar).unwrap();
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("hard-linked"));
    assert!(sidecar.exists(), "an operator's file is never removed");
    fs::remove_file(&sidecar).unwrap();

    mkfifo(&sidecar);
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("refusing-fifo"));
    fs::remove_file(&sidecar).unwrap();

    // Each refusal rolled the published snapshot back and touched nothing else.
    assert_eq!(fs::read(&victim).unwrap(), b"keep");
    assert!(!d.join("out.fsm").exists());
    assert!(temp_files(d).is_empty());

    // A link planted at the mismatch path is removed (never followed) at the start.
    let mismatch = d.join("out.fsm.mismatch.txt");
    symlink(&victim, &mismatch).unwrap();
    fs::write(d.join("tree/redis/db_0/notes.txt"), b"x").unwrap();
    let out = encode(d, &["--self-test"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        fs::symlink_metadata(&mismatch)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(fs::read(&victim).unwrap(), b"keep");
}

#[test]
fn output_paths_that_cannot_be_published() {
    let dir = setup();
    let d = dir.path();
    fs::create_dir(d.join("out.fsm")).unwrap();
    let out = encode(d, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(d.join("out.fsm").is_dir());
    assert!(temp_files(d).is_empty());
    let out = run(
        MAIN,
        d,
        &[
            os("encode"),
            os("--adapter"),
            os("redis"),
            os("--input"),
            os("tree"),
            os("--output"),
            os("missing-dir/out.fsm"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("io"));
}
