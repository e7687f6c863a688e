//! One output, two runs; and what a killed run leaves behind (docs/format.md §8.6).
//!
//! Real processes, started together: exactly one run may write an output at a time,
//! the other fails with `output-busy` (exit 1) before touching anything, and what
//! survives is consistent (a decoded tree verifies; a sidecar describes the `.fsm`
//! next to it). A rerun after `kill -9` removes the temporary files of its own output
//! and says so, and nothing else.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn spawn(bin: &str, cwd: &Path, args: &[&str]) -> Child {
    Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"))
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// `generate --profile redis-mixed --scale <scale>` into `--fsm`/`--tree <target>`.
fn generate(dir: &Path, scale: &str, kind: &str, target: &str) {
    let args = [
        "generate",
        "--profile",
        "redis-mixed",
        "--scale",
        scale,
        "--seed",
        "3",
        kind,
        target,
    ];
    let args: Vec<_> = args.iter().map(|a| os(a)).collect();
    ok(&run(MAIN, dir, &args));
}

/// The binary a loop iteration runs second: every other pair mixes in the
/// Go-compatible drop-in, which must honour the same lock.
fn second_binary(i: usize, ours: &'static str, go: &'static str) -> &'static str {
    if i % 2 == 1 { go } else { ours }
}

/// `args` for `bin`: our CLI takes the subcommand first, the drop-ins do not.
fn with_subcommand<'a>(bin: &str, sub: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::new();
    if bin == MAIN {
        all.push(sub);
    }
    all.extend_from_slice(args);
    all
}

/// A loser's exit: 1, with one of `codes`.
fn lost(out: &Output, codes: &[&str]) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let code = error_code(out).unwrap_or_default();
    assert!(codes.contains(&code.as_str()), "{code}: {}", stderr(out));
    code
}

#[test]
fn concurrent_decodes_into_one_output_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "0.0005", "--fsm", "in.fsm");
    let iterations = 8;
    let mut busy = 0;
    for i in 0..iterations {
        let out = format!("out{i}");
        // A fresh name (created by whichever run gets there first) or an empty directory.
        if i % 4 >= 2 {
            fs::create_dir(d.join(&out)).unwrap();
        }
        let args = ["--adapter", "redis", "--input", "in.fsm", "--output", &out];
        let second = second_binary(i, MAIN, GO_DECODE);
        let a = spawn(MAIN, d, &with_subcommand(MAIN, "decode", &args));
        let b = spawn(second, d, &with_subcommand(second, "decode", &args));
        let a = a.wait_with_output().unwrap();
        let b = b.wait_with_output().unwrap();
        let winners = [&a, &b].iter().filter(|o| o.status.success()).count();
        assert_eq!(
            winners,
            1,
            "iteration {i}: exactly one decode may write {out}\nA: {}\nB: {}",
            stderr(&a),
            stderr(&b)
        );
        let loser = if a.status.success() { &b } else { &a };
        // Started while the winner held the output, or after it had finished.
        if lost(loser, &["output-busy", "output-not-empty"]) == "output-busy" {
            busy += 1;
        }
        let verified = run(MAIN, d, &[os("verify"), os(&out)]);
        assert!(
            verified.status.success(),
            "iteration {i}: {}",
            stderr(&verified)
        );
        let stray: Vec<_> = files_below(&d.join(&out))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(stray.is_empty(), "iteration {i}: {stray:?}");
    }
    eprintln!("{busy} of {iterations} pairs overlapped");
    assert!(busy > 0, "no pair overlapped in {iterations} iterations");
}

fn manifest_ts(tree: &Path) -> u64 {
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(tree.join("MANIFEST.json")).unwrap()).unwrap();
    m["last_commit_ts"].as_u64().unwrap()
}

fn header_ts(fsm: &Path) -> u64 {
    let file = fs::File::open(fsm).unwrap();
    elastickv_codec::container::SnapshotReader::new(std::io::BufReader::new(file))
        .unwrap()
        .header()
        .last_commit_ts
}

#[test]
fn concurrent_encodes_to_one_output_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "0.001", "--tree", "tree");
    let base = manifest_ts(&d.join("tree"));
    let iterations = 8;
    let mut busy = 0;
    for i in 0..iterations {
        // Different timestamps, so the two runs' bytes (and hashes) differ.
        let ts: Vec<String> = (1..=2)
            .map(|k| (base + 2 * i as u64 + k).to_string())
            .collect();
        let second = second_binary(i, MAIN, GO_ENCODE);
        let mut args: Vec<Vec<&str>> = ts
            .iter()
            .map(|t| {
                vec![
                    "--adapter",
                    "redis",
                    "--input",
                    "tree",
                    "--output",
                    "out.fsm",
                    "--last-commit-ts",
                    t,
                ]
            })
            .collect();
        if i % 4 >= 2 {
            // Longer runs: the self-test decodes and compares before publishing.
            args.iter_mut().for_each(|a| a.push("--self-test"));
        }
        let a = spawn(MAIN, d, &with_subcommand(MAIN, "encode", &args[0]));
        let b = spawn(second, d, &with_subcommand(second, "encode", &args[1]));
        let a = a.wait_with_output().unwrap();
        let b = b.wait_with_output().unwrap();
        let winners: Vec<usize> = [&a, &b]
            .iter()
            .enumerate()
            .filter(|(_, o)| o.status.success())
            .map(|(k, _)| k)
            .collect();
        assert!(
            !winners.is_empty(),
            "iteration {i}\nA: {}\nB: {}",
            stderr(&a),
            stderr(&b)
        );
        for out in [&a, &b].into_iter().filter(|o| !o.status.success()) {
            lost(out, &["output-busy"]);
        }
        // Whatever happened, the sidecar describes the published snapshot.
        let fsm = d.join("out.fsm");
        let sidecar = fs::read(d.join("out.fsm.encode_info.json")).unwrap();
        let info: serde_json::Value = serde_json::from_slice(&sidecar)
            .unwrap_or_else(|e| panic!("iteration {i}: sidecar is not JSON ({e})"));
        assert_eq!(
            info["output_fsm_sha256"].as_str().unwrap(),
            sha256_hex(&fsm),
            "iteration {i}: sidecar and .fsm come from different runs"
        );
        assert_eq!(info["last_commit_ts"].as_u64().unwrap(), header_ts(&fsm));
        if let [winner] = winners[..] {
            busy += 1;
            assert_eq!(header_ts(&fsm).to_string(), ts[winner], "iteration {i}");
        }
        assert!(
            temp_files(d).is_empty(),
            "iteration {i}: {:?}",
            temp_files(d)
        );
        assert!(!d.join("out.fsm.mismatch.txt").exists());
    }
    eprintln!("{busy} of {iterations} pairs overlapped");
    assert!(busy > 0, "no pair overlapped in {iterations} iterations");
}

/// Names in `dir` starting with `prefix`.
fn named(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Starts a self-tested encode and kills it (SIGKILL) once its temporary snapshot
/// exists (being written or self-tested): the state a crash or an OOM kill leaves.
fn encode_and_kill(d: &Path) {
    let args = [
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
    for _attempt in 0..5 {
        let mut child = spawn(MAIN, d, &args);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let caught = !named(d, "out.fsm.tmp-").is_empty();
            if caught {
                child.kill().unwrap();
                child.wait().unwrap();
                return;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Finished before it could be caught: start over from a clean slate.
        let _ = child.kill();
        let _ = child.wait();
        for name in named(d, "out.fsm") {
            fs::remove_file(d.join(name)).unwrap();
        }
    }
    panic!("could not catch the encode mid-self-test");
}

#[test]
fn rerun_after_kill_removes_its_own_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "0.001", "--tree", "tree");
    let scratch = d.join("scratch");
    fs::create_dir(&scratch).unwrap();
    encode_and_kill(d);
    let stale_temps = named(d, "out.fsm.tmp-");
    assert_eq!(stale_temps.len(), 1, "{stale_temps:?}");
    assert!(!d.join("out.fsm").exists());
    // The self-test writes nothing but anonymous sort runs, which die with it.
    assert_eq!(named(&scratch, ""), Vec::<String>::new());
    // A killed self-test of an earlier build left its decoded tree in a directory
    // named with the output lock's tag: still removed.
    let tag = {
        use elastickv_codec::tree::lock::OutputLock;
        OutputLock::beside(&d.join("out.fsm")).unwrap().tag()
    };
    let stale_dirs = vec![format!("encode-self-test-{tag}-Ab3xYz")];
    fs::create_dir_all(scratch.join(&stale_dirs[0]).join("redis/db_0")).unwrap();

    // Look-alikes that are not this output's leftovers stay.
    let decoys = [
        "out.fsm.tmp-0123456789ABCDEF",
        "out.fsm.tmp-0123456789abcde",
        "out.fsm.tmp-0123456789abcdef0",
        "out.fsm.tmp-0123456789abcdef.keep",
        "out.fsm.tmp-0123456789abcdeg",
        "xout.fsm.tmp-0123456789abcdef",
        "other.fsm.tmp-0123456789abcdef",
    ];
    for name in decoys {
        fs::write(d.join(name), b"not mine").unwrap();
    }
    fs::create_dir(d.join("out.fsm.tmp-fedcba9876543210")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("out.fsm.tmp-00000000000000aa")).unwrap();
    // Another output's self-test scratch, and a `verify --round-trip`'s.
    let foreign_dirs = [
        "encode-self-test-0000000000000000-abcdef",
        "encode-self-test-abcdef",
    ];
    for name in foreign_dirs {
        fs::create_dir(scratch.join(name)).unwrap();
    }

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
            os("out.fsm"),
            os("--self-test"),
            os("--scratch-root"),
            os("scratch"),
        ],
    );
    ok(&out);
    let err = stderr(&out);
    for name in &stale_temps {
        assert!(!d.join(name).exists(), "{name} survived the rerun");
        assert!(
            err.contains(&format!("warning[stale_temp_removed] path={name}")),
            "{err}"
        );
    }
    for name in &stale_dirs {
        assert!(!scratch.join(name).exists(), "{name} survived the rerun");
        assert!(
            err.contains("warning[stale_self_test_removed] path=") && err.contains(name.as_str()),
            "{err}"
        );
    }
    for name in decoys {
        assert_eq!(fs::read(d.join(name)).unwrap(), b"not mine", "{name}");
    }
    assert!(d.join("out.fsm.tmp-fedcba9876543210").is_dir());
    assert!(
        fs::symlink_metadata(d.join("out.fsm.tmp-00000000000000aa"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    for name in foreign_dirs {
        assert!(scratch.join(name).is_dir(), "{name}");
    }
    assert_eq!(
        named(&scratch, "encode-self-test-").len(),
        foreign_dirs.len(),
        "the rerun's own scratch is gone too"
    );

    // The Go-compatible encoder cleans up the same way and logs it.
    let leftover = d.join("out.fsm.tmp-00112233445566ff");
    fs::write(&leftover, b"complete but unverified").unwrap();
    let out = run(
        GO_ENCODE,
        d,
        &[
            os("-input"),
            os("tree"),
            os("-output"),
            os("out.fsm"),
            os("-adapter"),
            os("redis"),
        ],
    );
    ok(&out);
    assert!(!leftover.exists());
    let err = stderr(&out);
    assert!(
        err.contains("level=WARN") && err.contains("event=stale_temp_removed"),
        "{err}"
    );
}

/// Whatever these hold, as bytes.
fn contents(d: &Path, names: &[&str]) -> Vec<Option<Vec<u8>>> {
    names.iter().map(|n| fs::read(d.join(n)).ok()).collect()
}

#[test]
fn a_held_output_is_busy_and_left_untouched() {
    use elastickv_codec::tree::lock::OutputLock;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    generate(d, "0.0005", "--fsm", "in.fsm");
    make_redis_tree(&d.join("tree"), 116114217163165220);

    // A decode holds `held/`: neither decoder writes into it.
    fs::create_dir(d.join("held")).unwrap();
    let lock = OutputLock::directory(&d.join("held")).unwrap();
    let args = [
        "--adapter",
        "redis",
        "--input",
        "in.fsm",
        "--output",
        "held",
    ];
    for bin in [MAIN, GO_DECODE] {
        let args: Vec<_> = with_subcommand(bin, "decode", &args)
            .into_iter()
            .map(os)
            .collect();
        let out = run(bin, d, &args);
        lost(&out, &["output-busy"]);
        assert!(stderr(&out).contains("another run is writing this output"));
        assert_eq!(fs::read_dir(d.join("held")).unwrap().count(), 0);
    }
    drop(lock);
    let args: Vec<_> = with_subcommand(MAIN, "decode", &args)
        .into_iter()
        .map(os)
        .collect();
    ok(&run(MAIN, d, &args));

    // An encode holds out.fsm: no other run replaces, removes or rewrites anything
    // next to it, not even what it would clean up itself.
    let names = [
        "out.fsm",
        "out.fsm.encode_info.json",
        "out.fsm.mismatch.txt",
        "out.fsm.tmp-0123456789abcdef",
    ];
    for name in names {
        fs::write(d.join(name), format!("earlier {name}")).unwrap();
    }
    let before = contents(d, &names);
    let lock = OutputLock::beside(&d.join("out.fsm")).unwrap();
    let encode = [
        "--adapter",
        "redis",
        "--input",
        "tree",
        "--output",
        "out.fsm",
        "--self-test",
    ];
    let runs = [
        (MAIN, with_subcommand(MAIN, "encode", &encode)),
        (GO_ENCODE, with_subcommand(GO_ENCODE, "encode", &encode)),
        (
            MAIN,
            vec![
                "generate",
                "--profile",
                "redis-mixed",
                "--scale",
                "0.0005",
                "--fsm",
                "out.fsm",
                "--force",
            ],
        ),
    ];
    for (bin, args) in &runs {
        let args: Vec<_> = args.iter().map(|a| os(a)).collect();
        let out = run(bin, d, &args);
        lost(&out, &["output-busy"]);
        assert!(stderr(&out).contains(".out.fsm.lock"), "{}", stderr(&out));
        assert_eq!(contents(d, &names), before, "{bin} {args:?}");
        assert_eq!(temp_files(d), ["out.fsm.tmp-0123456789abcdef"]);
    }
    drop(lock);
    let (bin, args) = &runs[0];
    let args: Vec<_> = args.iter().map(|a| os(a)).collect();
    ok(&run(bin, d, &args));
    assert!(temp_files(d).is_empty());
    assert!(!d.join("out.fsm.mismatch.txt").exists());
    // The lock file stays (mode 0600, empty): deleting it would race.
    assert_eq!(mode(&d.join(".out.fsm.lock")), 0o600);
    assert_eq!(fs::read(d.join(".out.fsm.lock")).unwrap(), b"");
}
