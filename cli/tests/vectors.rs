//! The binaries on the Go reference vectors: decode trees, MANIFEST and CHECKSUMS,
//! file modes, error codes and exit codes, and encode conformance.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use elastickv_testkit::tree::{dirs, files, read_tree};
use elastickv_testkit::vectors::{cases, code_for_sentinel, shared};
use support::*;

fn manifest_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// `decode --adapter redis` reproduces the Go `redis/` subtree byte for byte (the
/// MVCC-correct one where the Go decoder is wrong), with the Go MANIFEST fields and a
/// CHECKSUMS that `sha256sum -c` accepts.
#[test]
fn decode_matches_go_redis_trees() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let umask = umask();
    let mut checked = 0;
    for case in cases(&root) {
        if !case.decoded_ok() || !case.adapter_enabled("redis") {
            continue;
        }
        let out = scratch.path().join(&case.name);
        let mut args = vec![
            os("decode"),
            os("--adapter"),
            os("redis"),
            os("--input"),
            os("input.fsm"),
            os("--output"),
            out.as_os_str(),
        ];
        let extra = case.flags_without_adapter();
        args.extend(extra.iter().map(|f| os(f)));
        let run = run(MAIN, &case.dir, &args);
        assert!(
            run.status.success(),
            "{}: decode failed: {}",
            case.name,
            stderr(&run)
        );
        let expected = case.expected_tree();
        let want = read_tree(&expected.join("redis")).unwrap();
        let got = read_tree(&out.join("redis")).unwrap();
        let want_names: Vec<&str> = files(&want).map(|(name, _)| name).collect();
        let got_names: Vec<&str> = files(&got).map(|(name, _)| name).collect();
        assert_eq!(got_names, want_names, "{}: redis file set", case.name);
        for (rel, bytes) in files(&want) {
            assert!(
                got.get(rel).and_then(Option::as_deref) == Some(bytes),
                "{}: redis/{rel} differs",
                case.name,
            );
        }
        if expected.ends_with("tree") && !case.dir.join("mvcc").exists() {
            // Empty directories only show in the listing (git drops them).
            let want_dirs = case.listed_dirs("redis");
            let got_dirs: Vec<&str> = dirs(&got).collect();
            assert_eq!(got_dirs, want_dirs, "{}: redis directories", case.name);
        }

        // MANIFEST.json: Go's fields, except the clock and the adapter list.
        let mut want_m = manifest_json(&expected.join("MANIFEST.json"));
        let mut got_m = manifest_json(&out.join("MANIFEST.json"));
        for m in [&mut want_m, &mut got_m] {
            let obj = m.as_object_mut().unwrap();
            assert!(obj.remove("wall_time_iso").is_some());
            obj.remove("adapters");
        }
        assert_eq!(got_m, want_m, "{}: MANIFEST.json", case.name);
        let got_text = fs::read_to_string(out.join("MANIFEST.json")).unwrap();
        assert!(got_text.contains("\"adapters\": {\n    \"redis\": {}\n  },"));
        assert!(got_text.ends_with("}\n"));

        let check = Command::new("sha256sum")
            .args(["-c", "--quiet", "--strict", "CHECKSUMS"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}: sha256sum -c: {}",
            case.name,
            stderr(&check)
        );

        // Modes: adapter files 0600, MANIFEST/CHECKSUMS as os.Create (0666 & ~umask).
        for rel in files_below(&out.join("redis")) {
            assert_eq!(
                mode(&out.join("redis").join(&rel)),
                0o600,
                "{}: {rel:?}",
                case.name
            );
        }
        for name in ["MANIFEST.json", "CHECKSUMS"] {
            assert_eq!(
                mode(&out.join(name)),
                0o666 & !umask,
                "{}: {name}",
                case.name
            );
        }
        assert!(
            !out.join(".scratch").exists(),
            "{}: scratch left behind",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} cases checked");
    eprintln!("{checked} cases decoded to the Go redis tree");
}

/// A decode the Go tool refused fails here too, with the Go sentinel's code, exit 2
/// (exit 1 from the Go-compatible binary), and leaves no MANIFEST or CHECKSUMS.
#[test]
fn decode_failures_carry_go_codes() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in cases(&root) {
        let Some(sentinels) = &case.sentinels else {
            continue;
        };
        let Some(sentinel) = sentinels
            .iter()
            .find(|s| s.starts_with("ErrSnapshot") || s.starts_with("ErrRedis"))
        else {
            continue;
        };
        let want = code_for_sentinel(sentinel);
        for (bin, exit) in [(MAIN, 2), (GO_DECODE, 1)] {
            let out = scratch.path().join(format!("{}-{exit}", case.name));
            let args: Vec<&std::ffi::OsStr> = if bin == MAIN {
                vec![
                    os("decode"),
                    os("--adapter"),
                    os("redis"),
                    os("--input"),
                    os("input.fsm"),
                    os("--output"),
                    out.as_os_str(),
                ]
            } else {
                vec![
                    os("-adapter=redis"),
                    os("-input"),
                    os("input.fsm"),
                    os("-output"),
                    out.as_os_str(),
                ]
            };
            let run = run(bin, &case.dir, &args);
            assert_eq!(
                run.status.code(),
                Some(exit),
                "{} {bin}: {}",
                case.name,
                stderr(&run)
            );
            assert_eq!(
                error_code(&run).as_deref(),
                Some(want.as_str()),
                "{}: {}",
                case.name,
                stderr(&run)
            );
            assert!(stderr(&run).contains("is incomplete"), "{}", stderr(&run));
            assert!(!out.join("MANIFEST.json").exists());
            assert!(!out.join("CHECKSUMS").exists());
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} failing cases checked");
}

/// `encode --adapter redis` of a Go tree reproduces exactly the Redis entries of the
/// Go encoder's `reencoded.fsm`; where the Go round trip reproduced the whole tree,
/// the self-test matches too.
#[test]
fn encode_matches_go_redis_entries() {
    let Some(root) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut self_tested = 0;
    for case in cases(&root) {
        let reencoded = case.dir.join("reencoded.fsm");
        if !reencoded.is_file() || !case.dir.join("tree/MANIFEST.json").is_file() {
            continue;
        }
        let out = scratch.path().join(format!("{}.fsm", case.name));
        let tree_equal = case.summary["roundtrip_tree_equal"] == true;
        let mut args = vec![
            os("encode"),
            os("--adapter"),
            os("redis"),
            os("--input"),
            os("tree"),
            os("--output"),
            out.as_os_str(),
        ];
        if tree_equal {
            args.push(os("--self-test"));
        }
        let run = run(MAIN, &case.dir, &args);
        let manifest = manifest_json(&case.dir.join("tree/MANIFEST.json"));
        if manifest["adapters"].get("redis").is_none() {
            // The producer did not dump Redis: refusing is the data error Go reports.
            assert_eq!(
                run.status.code(),
                Some(2),
                "{}: {}",
                case.name,
                stderr(&run)
            );
            assert_eq!(error_code(&run).as_deref(), Some("adapter-not-in-manifest"));
            assert!(!out.exists());
            continue;
        }
        assert!(run.status.success(), "{}: {}", case.name, stderr(&run));
        let (want_ts, want) = redis_entries(&reencoded);
        let (got_ts, got) = redis_entries(&out);
        assert_eq!(got_ts, want_ts, "{}: header", case.name);
        assert_eq!(got.len(), want.len(), "{}: entry count", case.name);
        assert!(got == want, "{}: redis entries differ", case.name);
        if tree_equal {
            self_tested += 1;
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} cases checked");
    assert!(self_tested >= 50, "only {self_tested} self-tests");
}
