//! Shared by the CLI integration tests: the Go reference vectors, running the
//! binaries, comparing trees.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const MAIN: &str = env!("CARGO_BIN_EXE_elastickv-snapshot");
pub const GO_DECODE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-decode");
pub const GO_ENCODE: &str = env!("CARGO_BIN_EXE_elastickv-snapshot-encode");

/// The full vector set: `$ELASTICKV_VECTORS`, else `../shared/vectors` beside the
/// checkout. Absent outside CI: `None` (tests skip); absent in CI: a failure.
pub fn vectors() -> Option<PathBuf> {
    let dir = std::env::var_os("ELASTICKV_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"));
    if dir.join("INDEX.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "reference vectors not found at {} (CI must have ../shared beside the checkout)",
        dir.display()
    );
    eprintln!("skipping: reference vectors not found at {}", dir.display());
    None
}

/// One reference case.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub summary: serde_json::Value,
    pub flags: Vec<String>,
    /// Go sentinels of a failed decode (`None` when it succeeded).
    pub sentinels: Option<Vec<String>>,
}

impl Case {
    pub fn decoded_ok(&self) -> bool {
        self.sentinels.is_none() && self.dir.join("tree").is_dir()
    }

    /// The tree our decoder must produce: `mvcc/tree` where present.
    pub fn expected_tree(&self) -> PathBuf {
        let mvcc = self.dir.join("mvcc/tree");
        if mvcc.is_dir() {
            mvcc
        } else {
            self.dir.join("tree")
        }
    }

    /// Whether the Go decode had the Redis adapter enabled.
    pub fn redis_enabled(&self) -> bool {
        match self.flags.iter().position(|f| f == "--adapter") {
            None => true,
            Some(i) => {
                let list = self.flags.get(i + 1).map(String::as_str).unwrap_or("");
                list.is_empty() || list == "all" || list.split(',').any(|s| s.trim() == "redis")
            }
        }
    }

    /// The decoder flags other than `--adapter` (they shape MANIFEST.json).
    pub fn flags_without_adapter(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = self.flags.iter();
        while let Some(f) = it.next() {
            if f == "--adapter" {
                it.next();
                continue;
            }
            out.push(f.clone());
        }
        out
    }
}

pub fn cases(root: &Path) -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.fsm").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load(d)).collect()
}

fn load(dir: &Path) -> Case {
    let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
    let summary = read("summary.json")
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(serde_json::Value::Null);
    let flags = read("flags.txt")
        .map(|s| {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let sentinels = read("expected_error.txt").map(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("sentinels:"))
            .unwrap_or("")
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        summary,
        flags,
        sentinels,
    }
}

/// `ErrRedisInvalidZSetMember` → `redis-invalid-zset-member`.
pub fn code_for_sentinel(sentinel: &str) -> String {
    let name = sentinel
        .strip_prefix("Err")
        .unwrap_or(sentinel)
        .replace("ZSet", "Zset");
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()));
        if boundary {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

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

/// Every file (relative path → bytes) and directory below `root`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TreeContents {
    pub files: BTreeMap<Vec<u8>, Vec<u8>>,
    pub dirs: Vec<Vec<u8>>,
}

pub fn read_tree(root: &Path) -> TreeContents {
    let mut out = TreeContents::default();
    if !root.is_dir() {
        return out;
    }
    let mut pending = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let mut rel: Vec<u8> = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(entry.file_name().as_bytes());
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                out.dirs.push(rel.clone());
                pending.push((entry.path(), rel));
            } else {
                out.files.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    out.dirs.sort();
    out
}

/// Directories `tree.listing` names below `prefix/` (git drops empty ones).
pub fn listed_dirs(case: &Case, prefix: &str) -> Vec<Vec<u8>> {
    let Ok(text) = fs::read_to_string(case.dir.join("tree.listing")) else {
        return Vec::new();
    };
    let mut dirs: Vec<Vec<u8>> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "d")
        .filter_map(|v| hex::decode(v["path_hex"].as_str()?).ok())
        .filter_map(|p| {
            p.strip_prefix(format!("{prefix}/").as_bytes())
                .map(<[u8]>::to_vec)
        })
        .collect();
    dirs.sort();
    dirs
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
