//! What the commands refuse before trusting their input: a runtime snapshot without
//! its CRC32C footer (`snapshot-footer-missing`, unless `--allow-missing-footer`), an
//! input that is not a regular file (a FIFO must not hang the process), a missing
//! input (nothing is created), and a `--scratch-root` that does not exist. Real
//! server-written snapshots still decode by default.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use elastickv_codec::container::SnapshotReader;
use elastickv_synth::model::wrap_runtime_v1;
use elastickv_testkit::tree::{files, read_tree};
use elastickv_testkit::vectors::shared;
use support::*;

const T: u64 = 116114217163165220;

/// A three-string tree, its snapshot `sorted.fsm`, and that snapshot as a live node
/// writes it (`live.fsm`: EKVTHLC1 header, CRC32C footer). `cut.fsm` is `live.fsm` cut
/// at the last entry boundary: footer and last entry gone, every remaining byte valid.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    encode_sample_tree(d, T);
    let native = fs::read(d.join("sorted.fsm")).unwrap();
    let mut reader = SnapshotReader::new(&native[..]).unwrap();
    let mut last = 0;
    while let Some(entry) = reader.next_entry().unwrap() {
        last = entry.offset;
    }
    let last = usize::try_from(last).unwrap();
    fs::write(d.join("live.fsm"), wrap_runtime_v1(&native, 7)).unwrap();
    let mut cut = wrap_runtime_v1(&native[..last], 7);
    cut.truncate(cut.len() - 4);
    fs::write(d.join("cut.fsm"), cut).unwrap();
    dir
}

fn main_cli(dir: &Path, args: &[&str]) -> Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    run(MAIN, dir, &args)
}

fn decode(dir: &Path, input: &str, output: &str, extra: &[&str]) -> Output {
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
    main_cli(dir, &args)
}

fn code_and_exit(out: &Output) -> (Option<i32>, Option<String>) {
    (out.status.code(), error_code(out))
}

/// Runs a binary that might hang; kills it after `limit` and returns `None` then.
fn run_bounded(bin: &str, cwd: &Path, args: &[&str], limit: Duration) -> Option<Output> {
    let mut child = Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    None
}

#[test]
fn runtime_file_without_footer_is_refused() {
    let dir = setup();
    let d = dir.path();
    // Control: the file as a live node writes it decodes.
    let out = decode(d, "live.fsm", "live", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files_below(&d.join("live/redis/db_0/strings")).len(),
        3,
        "{:?}",
        files_below(&d.join("live"))
    );

    // Footer and last entry gone: a data error, and no MANIFEST or CHECKSUMS.
    let out = decode(d, "cut.fsm", "cut", &[]);
    assert_eq!(
        code_and_exit(&out),
        (Some(2), Some("snapshot-footer-missing".into())),
        "{}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("--allow-missing-footer"), "{err}");
    assert!(err.contains("cut is incomplete"), "{err}");
    assert!(!d.join("cut/MANIFEST.json").exists() && !d.join("cut/CHECKSUMS").exists());

    // The same file with its entries out of order goes through the sorted copy; the
    // verdict is the same.
    let native = fs::read(d.join("sorted.fsm")).unwrap();
    let mut reader = SnapshotReader::new(&native[..]).unwrap();
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        let mut value = Vec::new();
        elastickv_codec::container::encode_live_value(e.body, &mut value);
        entries.push((e.encoded_key.to_vec(), value));
    }
    entries.reverse();
    let mut stream = Vec::new();
    let mut w = elastickv_codec::container::SnapshotWriter::new(&mut stream, T).unwrap();
    for (k, v) in &entries {
        w.write_entry(k, v).unwrap();
    }
    w.finish().unwrap();
    let mut unsorted = wrap_runtime_v1(&stream, 7);
    unsorted.truncate(unsorted.len() - 4);
    fs::write(d.join("unsorted-cut.fsm"), unsorted).unwrap();
    let out = decode(d, "unsorted-cut.fsm", "unsorted", &[]);
    assert_eq!(
        code_and_exit(&out),
        (Some(2), Some("snapshot-footer-missing".into())),
        "{}",
        stderr(&out)
    );

    // The Go-compatible binary refuses it too (exit 1, as for every error there).
    let go = run(
        GO_DECODE,
        d,
        &[
            os("-adapter=redis"),
            os("-input"),
            os("cut.fsm"),
            os("-output"),
            os("go"),
        ],
    );
    assert_eq!(
        code_and_exit(&go),
        (Some(1), Some("snapshot-footer-missing".into())),
        "{}",
        stderr(&go)
    );
    assert!(!d.join("go/MANIFEST.json").exists());
}

#[test]
fn allow_missing_footer_salvages_loudly() {
    let dir = setup();
    let d = dir.path();
    let out = decode(d, "cut.fsm", "salvage", &["--allow-missing-footer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning[snapshot_footer_missing] container=EKVTHLC1 ")),
        "{err}"
    );
    assert!(
        stdout(&out).contains("CRC32C footer missing"),
        "{}",
        stdout(&out)
    );
    // What was there is decoded: two of the three strings.
    assert_eq!(files_below(&d.join("salvage/redis/db_0/strings")).len(), 2);
    assert!(d.join("salvage/CHECKSUMS").is_file());

    let out = decode(
        d,
        "cut.fsm",
        "salvage-json",
        &["--allow-missing-footer", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["scan"]["footer_missing"], true, "{summary:#}");
    assert_eq!(
        summary["warnings"][0]["event"], "snapshot_footer_missing",
        "{summary:#}"
    );

    // A complete file is not affected by the flag, and a native file never has a
    // footer to miss.
    let out = decode(
        d,
        "live.fsm",
        "flagged",
        &["--allow-missing-footer", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning["), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["scan"]["footer_missing"], false);
    let out = decode(d, "sorted.fsm", "native", &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["scan"]["footer_missing"], false);
}

#[test]
fn inspect_reports_a_missing_footer_without_refusing() {
    let dir = setup();
    let d = dir.path();
    let out = main_cli(d, &["inspect", "cut.fsm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("footer          MISSING"), "{text}");
    assert!(
        stderr(&out).contains("warning[snapshot_footer_missing]"),
        "{}",
        stderr(&out)
    );
    let out = main_cli(d, &["inspect", "--json", "cut.fsm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["footer"], serde_json::Value::Null);
    assert_eq!(report["footer_missing"], true);
    let out = main_cli(d, &["inspect", "--json", "live.fsm"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["footer"]["verified"], true);
    assert_eq!(report["footer_missing"], false);
    assert!(!stderr(&out).contains("warning["), "{}", stderr(&out));
}

/// Every `EKVPBBL1`-in-`EKVTHLC1` file a real server wrote decodes by default to the
/// reference tree of its visible state (README of `real-node/`).
#[test]
fn real_node_snapshots_decode_by_default() {
    let Some(root) = shared() else { return };
    let real = root.join("real-node/run1");
    if !real.is_dir() {
        eprintln!("no real-node snapshots at {}", real.display());
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for sub in [real.clone(), real.join("during")] {
        let mut names: Vec<String> = fs::read_dir(&sub)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".fsm") && !n.ends_with(".visible.fsm"))
            .collect();
        names.sort();
        for name in names {
            let stem = name.strip_suffix(".fsm").unwrap();
            let out = scratch.path().join(stem);
            let run = run(
                MAIN,
                &sub,
                &[
                    os("decode"),
                    os("--adapter"),
                    os("redis"),
                    os("--input"),
                    os(&name),
                    os("--output"),
                    out.as_os_str(),
                ],
            );
            assert!(run.status.success(), "{name}: {}", stderr(&run));
            assert!(!stderr(&run).contains("warning[snapshot_footer_missing]"));
            let want = read_tree(&sub.join(format!("expected-visible-{stem}/redis"))).unwrap();
            let got = read_tree(&out.join("redis")).unwrap();
            let want: Vec<_> = files(&want).collect();
            let got: Vec<_> = files(&got).collect();
            assert!(got == want, "{name}: redis tree differs");
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} real snapshots checked");
}

#[test]
fn non_regular_inputs_are_refused_without_blocking() {
    let dir = setup();
    let d = dir.path();
    mkfifo(&d.join("fifo.fsm"));
    let limit = Duration::from_secs(20);
    let cases: [(&str, &[&str], i32); 3] = [
        (
            MAIN,
            &[
                "decode",
                "--adapter",
                "redis",
                "--input",
                "fifo.fsm",
                "--output",
                "o",
            ],
            1,
        ),
        (MAIN, &["inspect", "fifo.fsm"], 1),
        (
            GO_DECODE,
            &["-adapter=redis", "-input", "fifo.fsm", "-output", "o"],
            1,
        ),
    ];
    for (bin, args, exit) in cases {
        let out = run_bounded(bin, d, args, limit)
            .unwrap_or_else(|| panic!("{args:?}: still blocked after {limit:?}"));
        assert_eq!(
            code_and_exit(&out),
            (Some(exit), Some("refusing-fifo".into())),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("fifo.fsm"), "{}", stderr(&out));
        assert!(!d.join("o").exists(), "{args:?}: output created");
    }
    // A directory is not a snapshot either.
    fs::create_dir(d.join("dir.fsm")).unwrap();
    let out = decode(d, "dir.fsm", "o", &[]);
    assert_eq!(
        code_and_exit(&out),
        (Some(1), Some("not-regular".into())),
        "{}",
        stderr(&out)
    );
    assert!(!d.join("o").exists());
    // A symlink to a regular file is the operator's choice and is followed.
    std::os::unix::fs::symlink(d.join("sorted.fsm"), d.join("link.fsm")).unwrap();
    let out = decode(d, "link.fsm", "linked", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn missing_input_creates_nothing() {
    let dir = setup();
    let d = dir.path();
    let out = decode(d, "missing.fsm", "o", &[]);
    assert_eq!(
        code_and_exit(&out),
        (Some(1), Some("io".into())),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("missing.fsm"), "{}", stderr(&out));
    assert!(!d.join("o").exists(), "output created for a missing input");
    let go = run(
        GO_DECODE,
        d,
        &[
            os("-adapter=redis"),
            os("-input"),
            os("missing.fsm"),
            os("-output"),
            os("o"),
        ],
    );
    assert_eq!(go.status.code(), Some(1), "{}", stderr(&go));
    assert!(!d.join("o").exists(), "output created for a missing input");
}

#[test]
fn missing_scratch_root_is_refused() {
    let dir = setup();
    let d = dir.path();
    fs::write(d.join("plain"), b"x").unwrap();
    let absent = d.join("no/such/scratch");
    let absent_s = absent.to_str().unwrap();
    for root in [absent_s, "plain"] {
        let runs = [
            decode(d, "sorted.fsm", "o", &["--scratch-root", root]),
            main_cli(
                d,
                &[
                    "encode",
                    "--adapter",
                    "redis",
                    "--input",
                    "tree",
                    "--output",
                    "e.fsm",
                    "--self-test",
                    "--scratch-root",
                    root,
                ],
            ),
            main_cli(
                d,
                &["verify", "tree", "--round-trip", "--scratch-root", root],
            ),
        ];
        for out in runs {
            assert_eq!(
                code_and_exit(&out),
                (Some(1), Some("invalid-scratch-root".into())),
                "{root}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains(root), "{}", stderr(&out));
        }
        assert!(!d.join("no").exists(), "scratch root created");
        assert!(!d.join("o").exists(), "decode output created");
        assert!(!d.join("e.fsm").exists(), "encode output created");
    }
    let go = run(
        GO_ENCODE,
        d,
        &[
            os("-adapter=redis"),
            os("-input"),
            os("tree"),
            os("-output"),
            os("e.fsm"),
            os("-self-test"),
            os("-scratch-root"),
            absent.as_os_str(),
        ],
    );
    assert_eq!(
        code_and_exit(&go),
        (Some(1), Some("invalid-scratch-root".into())),
        "{}",
        stderr(&go)
    );
    assert!(!d.join("no").exists(), "scratch root created");
    // An existing scratch root is used and left as it was.
    fs::create_dir(d.join("scratch")).unwrap();
    let out = decode(d, "sorted.fsm", "ok", &["--scratch-root", "scratch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.join("scratch").is_dir());
}
