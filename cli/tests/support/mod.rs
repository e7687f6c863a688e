//! Shared by the CLI integration tests: running the binaries, building and reading
//! snapshots and trees. The Go reference vectors and tree comparison are
//! `elastickv_testkit`'s.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const MAIN: &str = env!("CARGO_BIN_EXE_elastickv-snapshot");
pub const GO_DECODE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-decode");
pub const GO_ENCODE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-encode");

/// Runs a binary in `cwd`.
pub fn run(bin: &str, cwd: &Path, args: &[&OsStr]) -> Output {
    Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `generate --profile redis-mixed --scale <scale> <kind> <target>` run in `dir`
/// (`kind`: `--tree` or `--fsm`); it must succeed.
pub fn generate_redis_mixed(dir: &Path, scale: &str, kind: &str, target: impl AsRef<OsStr>) {
    let args = [
        os("generate"),
        os("--profile"),
        os("redis-mixed"),
        os("--scale"),
        os(scale),
        os(kind),
        target.as_ref(),
    ];
    let out = run(MAIN, dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `error[<code>]` in stderr.
pub fn error_code(out: &Output) -> Option<String> {
    let text = stderr(out);
    let start = text.find("error[")? + "error[".len();
    let end = text[start..].find(']')? + start;
    Some(text[start..end].to_owned())
}

pub fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// This process's umask, from /proc (no libc call needed).
pub fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Regular files below `root`, relative.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return out;
    }
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path().strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A `(user key, value)` pair.
pub type Record = (Vec<u8>, Vec<u8>);

/// `(user key, value)` of every entry of a native snapshot whose key is a Redis
/// record, sorted.
pub fn redis_entries(fsm: &Path) -> (u64, Vec<Record>) {
    use elastickv_codec::container::SnapshotReader;
    use elastickv_codec::dispatch::{self, Adapter, Owner};
    let file = fs::File::open(fsm).unwrap();
    let mut reader = SnapshotReader::new(std::io::BufReader::new(file)).unwrap();
    let ts = reader.header().last_commit_ts;
    let mut out = Vec::new();
    while let Some(entry) = reader.next_entry().unwrap() {
        let redis = dispatch::route(entry.user_key)
            .is_some_and(|p| p.owner == Owner::Adapter(Adapter::Redis));
        if redis {
            out.push((entry.user_key.to_vec(), entry.body.to_vec()));
        }
    }
    out.sort();
    (ts, out)
}

/// A small Redis dump tree, built without the reference vectors: two strings with
/// TTLs (the sidecar lines in the reverse of the order the decoder writes them, so a
/// byte comparison would fail where the semantic one must not) and one without.
pub fn make_redis_tree(root: &Path, last_commit_ts: u64) {
    use elastickv_codec::tree::manifest::{self, Adapters, Manifest, Source};
    use elastickv_codec::tree::walltime::WallTime;
    let db = root.join("redis/db_0");
    fs::create_dir_all(db.join("strings")).unwrap();
    fs::write(db.join("strings/a.bin"), b"alpha").unwrap();
    fs::write(db.join("strings/b.bin"), b"bravo").unwrap();
    fs::write(db.join("strings/c.bin"), b"").unwrap();
    fs::write(
        db.join("strings_ttl.jsonl"),
        b"{\"key\":\"b\",\"expire_at_ms\":4102444800000}\n{\"key\":\"a\",\"expire_at_ms\":4102444800001}\n",
    )
    .unwrap();
    let mut m = Manifest::new_phase0(WallTime::parse_rfc3339("2026-01-02T03:04:05Z").unwrap());
    m.elastickv_version = "dev".into();
    m.last_commit_ts = last_commit_ts;
    m.source = Some(Source {
        fsm_path: "x.fsm".into(),
        ..Source::default()
    });
    m.adapters = Some(Adapters {
        redis: Some(manifest::Adapter::default()),
        ..Adapters::default()
    });
    m.write_file(root).unwrap();
}

/// Names in `dir` that look like our temporary files.
pub fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(fs::read(path).unwrap()))
}

pub fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// [`make_redis_tree`] at `<dir>/tree`, encoded by the CLI to `<dir>/sorted.fsm`.
pub fn encode_sample_tree(dir: &Path, last_commit_ts: u64) {
    make_redis_tree(&dir.join("tree"), last_commit_ts);
    let args = [
        "encode",
        "--adapter=redis",
        "--input",
        "tree",
        "--output",
        "sorted.fsm",
    ];
    let args: Vec<&OsStr> = args.iter().map(|a| os(a)).collect();
    let out = run(MAIN, dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
}
