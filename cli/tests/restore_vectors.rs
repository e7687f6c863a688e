//! The restore-path reference vectors (`shared/vectors/restore`, README there): every
//! prepare-restore case and every archive pack/unpack case, through the Go drop-ins
//! and the native subcommands. Checked: exit code, failure kind (`error[<code>]` for
//! the Go sentinel), produced files byte for byte (the WAL: its records, then zeros),
//! modes at umask 022, and that nothing is left behind. A fresh clone runs the copies
//! bundled under `codec/tests/fixtures/restore`.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

const PREPARE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-prepare-restore");
const ARCHIVE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-archive");
use support::MAIN;

/// The full restore vectors when present, else the bundled copies.
fn root() -> PathBuf {
    elastickv_testkit::vectors::shared()
        .map(|d| d.join("restore"))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../codec/tests/fixtures/restore")
        })
}

/// The two ways to run a tool: the drop-in, or `elastickv-snapshot <sub>`.
fn invocations(drop_in: &'static str, sub: &'static str) -> [(&'static str, Vec<&'static str>); 2] {
    [(drop_in, vec![]), (MAIN, vec![sub])]
}

/// Runs `bin prefix args` in `cwd` at umask 022 (the vectors' modes are at 022).
fn run_022(
    bin: &str,
    prefix: &[&str],
    args: &[String],
    cwd: &Path,
    stdin: Option<&Path>,
) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(bin)
        .args(prefix)
        .args(args)
        .current_dir(cwd);
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(fs::File::open(p).unwrap()),
        None => Stdio::null(),
    });
    cmd.output().unwrap()
}

fn args_of(case: &Path) -> Vec<String> {
    let text = fs::read_to_string(case.join("args.txt")).unwrap();
    let mut args: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if args.last().is_some_and(String::is_empty) {
        args.pop();
    }
    args
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn jsonl(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn mode(path: &Path) -> String {
    format!(
        "{:04o}",
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    )
}

/// Copies `src` into `dst` (files and dirs, made writable), skipping `skip` names.
fn copy_dir(src: &Path, dst: &Path, skip: &dyn Fn(&str) -> bool) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip(&name) {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to, &|_| false);
        } else {
            fs::copy(entry.path(), &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every entry below `dir` (relative paths), `.` included.
fn entries(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::from([".".to_owned()]);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                pending.push(p);
            }
        }
    }
    out
}

/// Our code for each Go sentinel the vectors name.
fn code_for_sentinel(sentinel: &str) -> &'static str {
    match sentinel {
        "errRestoreSHA256Mismatch" => "restore-sha256-mismatch",
        "errRestoreSHA256Missing" => "restore-sha256-missing",
        "errRestoreSelfTestMissing" => "restore-self-test-missing",
        "errRestoreClusterIDMismatch" => "restore-cluster-id-mismatch",
        "errRestoreClusterIDMissing" => "restore-cluster-id-missing",
        "errRestoreHLCCeilingOverflow" => "restore-hlc-ceiling-overflow",
        "errRestoreSnapshotTimestampCeiling" => "restore-snapshot-timestamp-ceiling",
        "errRestoreEncodeInfoMalformed" => "restore-encode-info-malformed",
        "errRestoreEncodeInfoTooLarge" => "restore-encode-info-too-large",
        "errRestoreKeyFormatMismatch" => "restore-key-format-mismatch",
        "etcd.ErrExternalSnapshotRestoreExists" => "external-snapshot-restore-exists",
        "etcd.ErrExternalSnapshotRestoreInvalid" => "external-snapshot-restore-invalid",
        "etcd.errPeerFormatInvalid" => "peer-format-invalid",
        "backup.ErrSnapshotTruncated" => "snapshot-truncated",
        "backup.ErrSnapshotBadMagic" => "snapshot-bad-magic",
        "backup.ErrUnsupportedEncodeInfoFormatVersion" => "unsupported-encode-info-format-version",
        other => panic!("no code mapped for sentinel {other}"),
    }
}

/// The setup steps git cannot hold (the others are applied to the stored inputs).
fn apply_setup(dir: &Path, setup: &Value) {
    for step in setup.as_array().into_iter().flatten() {
        let path = dir.join(step["path"].as_str().unwrap_or(""));
        match step["op"].as_str().unwrap() {
            "mkdir" => fs::create_dir_all(&path).unwrap(),
            "symlink" => symlink(step["target"].as_str().unwrap(), &path).unwrap(),
            "mkfifo" => {
                let status = Command::new("mkfifo").arg(&path).status().unwrap();
                assert!(status.success());
            }
            "pad_sidecar" => {
                let sidecar = dir.join("input.fsm.encode_info.json");
                let mut bytes = fs::read(&sidecar).unwrap();
                bytes.resize(step["size"].as_u64().unwrap() as usize, b' ');
                fs::write(&sidecar, bytes).unwrap();
            }
            _ => {}
        }
    }
}

/// One prepare-restore case through one invocation; the problems found.
fn check_prepare_case(case: &Path, bin: &str, prefix: &[&str]) -> Vec<String> {
    let result = json(&case.join("result.json"));
    let want_exit = result["exit_code"].as_i64().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case");
    copy_dir(case, &dir, &|n| {
        n == "data" || n.starts_with("data.") || n.starts_with("result") || n == "stderr.txt"
    });
    apply_setup(&dir, &result["setup"]);
    let before = entries(&dir);
    let out = run_022(bin, prefix, &args_of(case), &dir, None);
    let mut problems = Vec::new();
    let got_exit = i64::from(out.status.code().unwrap_or(-1));
    if got_exit != want_exit {
        problems.push(format!(
            "exit {got_exit}, want {want_exit}: {}",
            support::stderr(&out)
        ));
    }
    if let Some(sentinel) = result["sentinels"].as_array().and_then(|s| s.first()) {
        let want = code_for_sentinel(sentinel.as_str().unwrap());
        if support::error_code(&out).as_deref() != Some(want) {
            problems.push(format!("kind {:?}, want {want}", support::error_code(&out)));
        }
    }
    let after = entries(&dir);
    if want_exit == 0 {
        problems.extend(check_data_dir(case, &dir.join("data")));
        let new: Vec<_> = after
            .difference(&before)
            .filter(|p| !p.starts_with("data/") && p.as_str() != "data")
            .collect();
        if !new.is_empty() {
            problems.push(format!("left behind: {new:?}"));
        }
    } else if after != before {
        let diff: Vec<_> = after.symmetric_difference(&before).collect();
        problems.push(format!("files changed on failure: {diff:?}"));
    }
    problems
}

/// The data dir against `data.listing.jsonl` and the stored `data/` files.
fn check_data_dir(case: &Path, data: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let listing = jsonl(&case.join("data.listing.jsonl"));
    let want_paths: BTreeSet<String> = listing
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    if !data.is_dir() {
        return vec!["no data dir".into()];
    }
    if entries(data) != want_paths {
        problems.push(format!("entries {:?} want {want_paths:?}", entries(data)));
    }
    for e in &listing {
        let rel = e["path"].as_str().unwrap();
        let path = data.join(rel);
        if !path.exists() {
            continue;
        }
        if mode(&path) != e["mode"].as_str().unwrap() {
            problems.push(format!("{rel}: mode {} want {}", mode(&path), e["mode"]));
        }
        if e["type"] != "f" {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        if bytes.len() as u64 != e["size"].as_u64().unwrap() {
            problems.push(format!("{rel}: size {}", bytes.len()));
            continue;
        }
        if let Some(end) = e["records_end"].as_u64() {
            let end = end as usize;
            let records = fs::read(case.join("data").join(format!("{rel}.records"))).unwrap();
            if bytes[..end] != records[..] {
                problems.push(format!("{rel}: WAL records differ"));
            }
            if bytes[end..].iter().any(|&b| b != 0) {
                problems.push(format!("{rel}: WAL tail not zero"));
            }
        } else {
            if sha256_hex(&bytes) != e["sha256"].as_str().unwrap() {
                problems.push(format!("{rel}: bytes differ"));
            }
            let stored = case.join("data").join(rel);
            if stored.is_file() && fs::read(&stored).unwrap() != bytes {
                problems.push(format!("{rel}: differs from the stored file"));
            }
        }
    }
    problems
}

fn case_dirs(dir: &Path, prefixes: &[&str]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.retain(|p| {
        p.is_dir()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| prefixes.iter().any(|pre| n.starts_with(pre)))
    });
    dirs.sort();
    dirs
}

/// Runs `check` for every case and invocation, and fails listing every problem.
fn run_all(
    cases: &[PathBuf],
    drop_in: &'static str,
    sub: &'static str,
    check: impl Fn(&Path, &str, &[&str]) -> Vec<String>,
) -> usize {
    assert!(!cases.is_empty(), "no cases found");
    let mut failures = Vec::new();
    let mut passed = 0;
    for (bin, prefix) in invocations(drop_in, sub) {
        for case in cases {
            let problems = check(case, bin, &prefix);
            if problems.is_empty() {
                passed += 1;
            } else {
                failures.push(format!(
                    "{} via {bin} {prefix:?}: {problems:?}",
                    case.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    passed
}

#[test]
fn prepare_restore_cases() {
    let dir = root().join("prepare-restore");
    let cases = case_dirs(&dir, &["case-", "fail-"]);
    let passed = run_all(&cases, PREPARE, "prepare-restore", check_prepare_case);
    eprintln!("prepare-restore: {passed} case runs passed");
}

/// Restores modes, mtimes and empty directories from `<tree>.listing.jsonl`.
fn restore_tree(trees: &Path, name: &str, dst: &Path) {
    copy_dir(&trees.join(name), dst, &|_| false);
    let mut listing = jsonl(&trees.join(format!("{name}.listing.jsonl")));
    for e in &listing {
        if e["type"] == "d" {
            fs::create_dir_all(dst.join(e["path"].as_str().unwrap())).unwrap();
        }
    }
    listing.sort_by_key(|e| std::cmp::Reverse(e["path"].as_str().unwrap().len()));
    for e in &listing {
        let path = dst.join(e["path"].as_str().unwrap());
        let mode = u32::from_str_radix(e["mode"].as_str().unwrap(), 8).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(e["mtime"].as_u64().unwrap());
        fs::File::options()
            .read(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Headers with owner fields and checksum blanked, for runs that are not root.
fn without_owners(tar: &[u8]) -> Vec<u8> {
    let mut out = tar.to_vec();
    let mut at = 0;
    while at + 512 <= out.len() && out[at..at + 512].iter().any(|&b| b != 0) {
        let size_field = String::from_utf8_lossy(&out[at + 124..at + 135]).into_owned();
        let size = u64::from_str_radix(size_field.trim_matches(char::from(0)), 8).unwrap_or(0);
        for range in [108..124, 148..156, 265..329] {
            out[at + range.start..at + range.end].fill(0);
        }
        at += 512 + size.div_ceil(512) as usize * 512;
    }
    out
}

fn zstd_decompress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(bytes)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn archive_pack_matches_go_bytes() {
    let archive = root().join("archive");
    let names: Vec<String> = fs::read_dir(archive.join("pack"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".tar").map(str::to_owned)
        })
        .filter(|n| archive.join("trees").join(n).is_dir())
        .collect();
    assert!(!names.is_empty());
    let exact = is_root();
    let mut passed = 0;
    for (bin, prefix) in invocations(ARCHIVE, "archive") {
        for name in &names {
            let want = fs::read(archive.join("pack").join(format!("{name}.tar"))).unwrap();
            let tmp = tempfile::tempdir().unwrap();
            restore_tree(&archive.join("trees"), name, &tmp.path().join("tree"));
            for (out_name, extra) in [
                ("a.tar", vec!["--compression", "none"]),
                ("a.tar.zst", vec![]),
            ] {
                let mut args: Vec<String> = ["pack", "--input", "tree", "--output", out_name]
                    .map(String::from)
                    .to_vec();
                args.extend(extra.iter().map(|s| s.to_string()));
                let out = run_022(bin, &prefix, &args, tmp.path(), None);
                assert!(
                    out.status.success(),
                    "{name} {out_name}: {}",
                    support::stderr(&out)
                );
                let mut got = fs::read(tmp.path().join(out_name)).unwrap();
                if out_name.ends_with(".zst") {
                    got = zstd_decompress(&got);
                }
                if exact {
                    assert!(got == want, "{name} {out_name} via {bin}: tar bytes differ");
                } else {
                    assert!(
                        without_owners(&got) == without_owners(&want),
                        "{name} {out_name}"
                    );
                }
                assert_eq!(mode(&tmp.path().join(out_name)), "0600");
                passed += 1;
            }
            // `-` writes the same bytes to stdout.
            let args = [
                "pack",
                "--input",
                "tree",
                "--output",
                "-",
                "--compression",
                "none",
            ]
            .map(String::from);
            let out = run_022(bin, &prefix, &args, tmp.path(), None);
            assert!(out.status.success());
            assert!(
                out.stdout == fs::read(tmp.path().join("a.tar")).unwrap(),
                "{name}: stdout differs"
            );
        }
    }
    eprintln!("archive pack: {passed} archives identical to Go's");
}

/// The failure kind the Go error line stands for (exit 2 cases only; exit 1 cases
/// are I/O, usage or stream errors whose code is checked by exit code alone).
fn archive_kind(error: &str) -> Option<&'static str> {
    [
        ("backup archive: unsafe path", "archive-path-unsafe"),
        ("backup archive: non-regular file", "archive-non-regular"),
        ("not listed in CHECKSUMS", "archive-unchecksummed-file"),
        ("backup: checksum mismatch", "checksum-mismatch"),
        (
            "backup archive: destination exists",
            "archive-destination-exists",
        ),
        ("CHECKSUMS contains no checksum rows", "checksums-empty"),
        (
            "manifest format_version unsupported",
            "unsupported-format-version",
        ),
        (
            "output path is inside input tree",
            "archive-output-inside-input",
        ),
        ("unsupported compression", "archive-compression-unsupported"),
    ]
    .into_iter()
    .find(|(text, _)| error.contains(text))
    .map(|(_, code)| code)
}

fn check_unpack_case(case: &Path, bin: &str, prefix: &[&str]) -> Vec<String> {
    let result = json(&case.join("result.json"));
    let want_exit = result["exit_code"].as_i64().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case");
    copy_dir(case, &dir, &|n| !n.starts_with("archive"));
    if result["setup"].as_str() == Some("mkdir-out") {
        fs::create_dir(dir.join("out")).unwrap();
    }
    if let Some(setup) = result["setup"].as_array() {
        apply_setup(&dir, &Value::Array(setup.clone()));
    }
    let args = args_of(case);
    let stdin = args
        .windows(2)
        .any(|w| w[0] == "--input" && w[1] == "-")
        .then(|| {
            fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("archive")
                })
                .unwrap()
        });
    let out = run_022(bin, prefix, &args, &dir, stdin.as_deref());
    let mut problems = Vec::new();
    let got_exit = i64::from(out.status.code().unwrap_or(-1));
    if got_exit != want_exit {
        problems.push(format!(
            "exit {got_exit}, want {want_exit}: {}",
            support::stderr(&out)
        ));
    }
    if let Some(kind) = result["error"].as_str().and_then(archive_kind)
        && support::error_code(&out).as_deref() != Some(kind)
    {
        problems.push(format!("kind {:?}, want {kind}", support::error_code(&out)));
    }
    let output = dir.join(&args[args.iter().position(|a| a == "--output").unwrap() + 1]);
    let exists = output.symlink_metadata().is_ok();
    if exists != result["output_exists_after"].as_bool().unwrap_or(false) {
        problems.push(format!("output exists: {exists}"));
    }
    if want_exit == 0 {
        let listing = jsonl(&case.join("out.listing.jsonl"));
        let want: BTreeSet<String> = listing
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect();
        if entries(&output) != want {
            problems.push("unpacked entries differ".into());
        }
        for e in &listing {
            let path = output.join(e["path"].as_str().unwrap());
            if path.exists() && mode(&path) != e["mode"].as_str().unwrap() {
                problems.push(format!("{}: mode {}", e["path"], mode(&path)));
            }
            if e["type"] == "f"
                && path.is_file()
                && sha256_hex(&fs::read(&path).unwrap()) != e["sha256"].as_str().unwrap()
            {
                problems.push(format!("{}: content differs", e["path"]));
            }
        }
    }
    // Let the tempdir go even where an archived 0555 directory was applied.
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+rwx")
        .arg(&dir)
        .status();
    problems
}

#[test]
fn archive_unpack_cases() {
    let dir = root().join("archive").join("unpack");
    let cases = case_dirs(&dir, &["ok-", "fail-"]);
    let passed = run_all(&cases, ARCHIVE, "archive", check_unpack_case);
    eprintln!("archive unpack: {passed} case runs passed");
}

/// Replaces `rel`'s CHECKSUMS row digest (or appends a row) after a deliberate edit.
fn relist(tree: &Path, rel: &str) {
    let digest = sha256_hex(&fs::read(tree.join(rel)).unwrap());
    let text = fs::read_to_string(tree.join("CHECKSUMS")).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.ends_with(&format!("  {rel}")))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{digest}  {rel}"));
    lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
    fs::write(tree.join("CHECKSUMS"), lines.join("\n") + "\n").unwrap();
}

fn first_listed(tree: &Path) -> String {
    let text = fs::read_to_string(tree.join("CHECKSUMS")).unwrap();
    text.lines()
        .map(|l| &l[66..])
        .find(|rel| *rel != "MANIFEST.json")
        .unwrap()
        .to_owned()
}

/// The 14 pack failures of `archive/pack-fail/PACK_FAIL.jsonl`, made on the redis
/// tree: exit code, kind, and no output left (a pre-existing one untouched).
#[test]
fn archive_pack_failures() {
    type Mutation = fn(&Path);
    /// Name, mutation of the tree, argument overrides, exit code, kind.
    type PackFailure = (
        &'static str,
        Mutation,
        &'static [&'static str],
        i32,
        Option<&'static str>,
    );
    let cases: Vec<PackFailure> = vec![
        (
            "symlink",
            |t| symlink("../../MANIFEST.json", t.join("redis/db_0/link")).unwrap(),
            &[],
            2,
            Some("archive-non-regular"),
        ),
        (
            "unlisted",
            |t| fs::write(t.join("redis/db_0/extra.bin"), b"x").unwrap(),
            &[],
            2,
            Some("archive-unchecksummed-file"),
        ),
        (
            "changed",
            |t| {
                let path = t.join(first_listed(t));
                let mut bytes = fs::read(&path).unwrap();
                bytes[0] ^= 0xff;
                fs::write(&path, bytes).unwrap();
            },
            &[],
            2,
            Some("checksum-mismatch"),
        ),
        (
            "inside",
            |_| {},
            &["--output", "tree/out.tar.zst"],
            1,
            Some("archive-output-inside-input"),
        ),
        (
            "exists",
            |t| fs::write(t.parent().unwrap().join("out.tar.zst"), b"keep").unwrap(),
            &[],
            1,
            Some("io"),
        ),
        (
            "hardlink-listed",
            |t| {
                fs::hard_link(t.join(first_listed(t)), t.join("hardlink")).unwrap();
                relist(t, "hardlink");
            },
            &[],
            2,
            Some("archive-non-regular"),
        ),
        (
            "hardlink-unlisted",
            |t| fs::hard_link(t.join(first_listed(t)), t.join("hardlink")).unwrap(),
            &[],
            2,
            Some("archive-unchecksummed-file"),
        ),
        (
            "manifest-hardlink",
            |t| {
                fs::hard_link(t.join("MANIFEST.json"), t.parent().unwrap().join("outside")).unwrap()
            },
            &[],
            2,
            Some("archive-non-regular"),
        ),
        (
            "fifo",
            |t| {
                assert!(
                    Command::new("mkfifo")
                        .arg(t.join("fifo"))
                        .status()
                        .unwrap()
                        .success()
                )
            },
            &[],
            2,
            Some("archive-non-regular"),
        ),
        (
            "no-manifest",
            |t| fs::remove_file(t.join("MANIFEST.json")).unwrap(),
            &[],
            1,
            Some("io"),
        ),
        (
            "empty-checksums",
            |t| fs::write(t.join("CHECKSUMS"), b"").unwrap(),
            &[],
            2,
            Some("checksums-empty"),
        ),
        (
            "gzip",
            |_| {},
            &["--compression", "gzip"],
            1,
            Some("archive-compression-unsupported"),
        ),
        (
            "manifest-v2",
            |t| {
                let text = fs::read_to_string(t.join("MANIFEST.json")).unwrap();
                let text = text.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
                fs::write(t.join("MANIFEST.json"), text).unwrap();
                relist(t, "MANIFEST.json");
            },
            &[],
            2,
            Some("unsupported-format-version"),
        ),
    ];
    let trees = root().join("archive").join("trees");
    for (bin, prefix) in invocations(ARCHIVE, "archive") {
        for (name, mutate, extra, want_exit, want_kind) in &cases {
            let tmp = tempfile::tempdir().unwrap();
            let tree = tmp.path().join("tree");
            restore_tree(&trees, "redis", &tree);
            mutate(&tree);
            let before = entries(tmp.path());
            let mut args: Vec<String> = ["pack", "--input", "tree", "--output", "out.tar.zst"]
                .map(String::from)
                .to_vec();
            for pair in extra.chunks(2) {
                match args.iter().position(|a| a == pair[0]) {
                    Some(i) => args[i + 1] = pair[1].to_owned(),
                    None => args.extend(pair.iter().map(|s| s.to_string())),
                }
            }
            let out = run_022(bin, &prefix, &args, tmp.path(), None);
            assert_eq!(
                out.status.code(),
                Some(*want_exit),
                "{name} via {bin}: {}",
                support::stderr(&out)
            );
            if let Some(kind) = want_kind {
                assert_eq!(
                    support::error_code(&out).as_deref(),
                    Some(*kind),
                    "{name} via {bin}"
                );
            }
            assert_eq!(
                entries(tmp.path()),
                before,
                "{name} via {bin}: output left behind"
            );
            if *name == "exists" {
                assert_eq!(fs::read(tmp.path().join("out.tar.zst")).unwrap(), b"keep");
            }
        }
    }
    // Flags before the subcommand: Go reads `--input` as the subcommand and stops at
    // `tree`, so the error is a missing --input (exit 1).
    let tmp = tempfile::tempdir().unwrap();
    restore_tree(&trees, "redis", &tmp.path().join("tree"));
    let args = ["--input", "tree", "--output", "out.tar.zst"].map(String::from);
    let out = run_022(ARCHIVE, &[], &args, tmp.path(), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("--input is required"));
    assert!(!tmp.path().join("out.tar.zst").exists());
}

/// The failures the vectors' README describes beyond the stored cases (fail-21..30),
/// made from case-03's inputs: exit code, kind, and nothing written.
#[test]
fn prepare_restore_described_failures() {
    type Setup = fn(&Path);
    fn sidecar_set(dir: &Path, key: &str, value: Value) {
        let path = dir.join("input.fsm.encode_info.json");
        let mut sidecar = json(&path);
        sidecar[key] = value;
        fs::write(&path, serde_json::to_vec(&sidecar).unwrap()).unwrap();
    }
    let cases: Vec<(&str, Setup, &[&str], i32, &str)> = vec![
        (
            "key-format-2",
            |d| sidecar_set(d, "encoder_key_format_version", 2.into()),
            &[],
            2,
            "restore-key-format-mismatch",
        ),
        (
            "empty-sha",
            |d| sidecar_set(d, "output_fsm_sha256", "".into()),
            &[],
            2,
            "restore-sha256-missing",
        ),
        ("blank-peers", |_| {}, &["--peers", " , ,"], 1, "no-peers"),
        (
            "no-sidecar",
            |d| fs::remove_file(d.join("input.fsm.encode_info.json")).unwrap(),
            &[],
            1,
            "io",
        ),
        (
            "fifo-payload",
            |d| {
                fs::remove_file(d.join("input.fsm")).unwrap();
                assert!(
                    Command::new("mkfifo")
                        .arg(d.join("input.fsm"))
                        .status()
                        .unwrap()
                        .success()
                );
            },
            &[],
            1,
            "external-snapshot-restore-invalid",
        ),
        (
            "sidecar-over-1mib",
            |d| {
                let path = d.join("input.fsm.encode_info.json");
                let mut bytes = fs::read(&path).unwrap();
                bytes.resize((1 << 20) + 1, b' ');
                fs::write(&path, bytes).unwrap();
            },
            &[],
            2,
            "restore-encode-info-too-large",
        ),
        (
            "parent-missing",
            |_| {},
            &["--data-dir", "missing/data"],
            1,
            "io",
        ),
        (
            "empty-address",
            |_| {},
            &["--peers", "n1="],
            1,
            "peer-format-invalid",
        ),
        (
            "sidecar-beats-truncation",
            |d| {
                fs::write(d.join("input.fsm.encode_info.json"), b"{").unwrap();
                let payload = fs::read(d.join("input.fsm")).unwrap();
                fs::write(d.join("input.fsm"), &payload[..payload.len() - 5]).unwrap();
            },
            &[],
            2,
            "restore-encode-info-malformed",
        ),
        ("index-minus-one", |_| {}, &["--index", "-1"], 1, "usage"),
        (
            "truncated",
            |d| {
                let payload = fs::read(d.join("input.fsm")).unwrap();
                fs::write(d.join("input.fsm"), &payload[..payload.len() - 5]).unwrap();
            },
            &[],
            2,
            "snapshot-truncated",
        ),
    ];
    let case = root().join("prepare-restore").join("case-03");
    for (name, setup, overrides, want_exit, want_kind) in &cases {
        for (bin, prefix) in invocations(PREPARE, "prepare-restore") {
            if *name == "index-minus-one" && prefix.len() == 1 {
                continue; // clap rejects -1 as a u64 itself (exit 1, no Go code)
            }
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("case");
            copy_dir(&case, &dir, &|n| {
                n == "data"
                    || n.starts_with("data.")
                    || n.starts_with("result")
                    || n == "stderr.txt"
            });
            setup(&dir);
            let mut args = args_of(&case);
            for pair in overrides.chunks(2) {
                let i = args.iter().position(|a| a == pair[0]).unwrap();
                args[i + 1] = pair[1].to_owned();
            }
            let before = entries(&dir);
            let out = run_022(bin, &prefix, &args, &dir, None);
            assert_eq!(
                out.status.code(),
                Some(*want_exit),
                "{name} via {bin}: {}",
                support::stderr(&out)
            );
            assert_eq!(
                support::error_code(&out).as_deref(),
                Some(*want_kind),
                "{name} via {bin}"
            );
            assert_eq!(entries(&dir), before, "{name} via {bin}: files changed");
            if *name == "no-sidecar" {
                assert!(
                    support::stderr(&out).contains("input.fsm.encode_info.json"),
                    "the error names the sidecar"
                );
            }
        }
    }
}

/// The redis tree owned by uid/gid 4242 (no passwd/group entry): every header block
/// equals Go's (`redis.uid4242.tar.headers.jsonl`: empty uname/gname). Needs root.
#[test]
fn archive_pack_unknown_owner_matches_go_headers() {
    let archive = root().join("archive");
    let headers = archive.join("pack/redis.uid4242.tar.headers.jsonl");
    let known = |file: &str| {
        fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').nth(2) == Some("4242"))
    };
    if !is_root() || known("/etc/passwd") || known("/etc/group") {
        eprintln!("skipped: needs root and no passwd/group entry for 4242");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    restore_tree(&archive.join("trees"), "redis", &tree);
    for path in entries(&tree) {
        std::os::unix::fs::lchown(tree.join(&path), Some(4242), Some(4242)).unwrap();
    }
    for (bin, prefix) in invocations(ARCHIVE, "archive") {
        let args = [
            "pack",
            "--input",
            "tree",
            "--output",
            "-",
            "--compression",
            "none",
        ]
        .map(String::from);
        let out = run_022(bin, &prefix, &args, tmp.path(), None);
        assert!(out.status.success(), "{}", support::stderr(&out));
        let tar = out.stdout;
        for line in jsonl(&headers) {
            if let Some(total) = line["total_bytes"].as_u64() {
                assert_eq!(tar.len() as u64, total);
                continue;
            }
            let at = line["offset"].as_u64().unwrap() as usize;
            assert_eq!(
                sha256_hex(&tar[at..at + 512]),
                line["header_block_sha256"].as_str().unwrap(),
                "header of {} via {bin}",
                line["name"]
            );
        }
    }
}
