//! Access to the Go reference vectors (`../shared/vectors`, beside the checkout) and to
//! the few cases copied into the repo so a fresh clone tests something real.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// One reference case.
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub summary: serde_json::Value,
    pub flags: Vec<String>,
    /// Go sentinel names the decode error matched (`None` when decoding succeeded;
    /// `Some(vec![])` when Go failed with a bare EOF).
    pub sentinels: Option<Vec<String>>,
    /// The Go library error text, for failures without a sentinel.
    pub library_error: Option<String>,
}

impl Case {
    pub fn input(&self) -> PathBuf {
        self.dir.join("input.fsm")
    }

    pub fn counter(&self, name: &str) -> Option<u64> {
        self.summary["counters"][name].as_str()?.parse().ok()
    }

    /// The adapters the Go decoder had enabled (`--adapter`, default all).
    pub fn enabled_adapters(&self) -> elastickv_codec::dispatch::AdapterSet {
        use elastickv_codec::dispatch::{Adapter, AdapterSet};
        let Some(at) = self.flags.iter().position(|f| f == "--adapter") else {
            return AdapterSet::ALL;
        };
        let list = self.flags.get(at + 1).map(String::as_str).unwrap_or("");
        if list.is_empty() || list == "all" {
            return AdapterSet::ALL;
        }
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<Adapter>()
                    .expect("vector flags name known adapters")
            })
            .collect()
    }

    pub fn category(&self) -> &str {
        self.summary["category"].as_str().unwrap_or("")
    }
}

fn bundled_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vectors")
}

/// The full vector set: `$ELASTICKV_VECTORS`, else `../shared/vectors` beside the
/// checkout. `None` when absent, which is only acceptable outside CI.
pub fn shared_vectors() -> Option<PathBuf> {
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
    eprintln!(
        "warning: reference vectors not found at {}; testing the bundled fixtures only",
        dir.display()
    );
    None
}

/// Every case of the shared set if present, plus the bundled fixtures.
pub fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    if let Some(dir) = shared_vectors() {
        cases.extend(load_dir(&dir));
    }
    // Bundled fixtures are copies of shared cases: test them only when the shared set
    // is absent, so counts stay honest.
    if cases.is_empty() {
        cases.extend(load_dir(&bundled_vectors()));
    }
    assert!(!cases.is_empty(), "no reference cases found at all");
    cases
}

fn load_dir(dir: &Path) -> Vec<Case> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.fsm").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|d| load_case(&d)).collect()
}

fn load_case(dir: &Path) -> Case {
    let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
    let summary = read("summary.json")
        .map(|s| serde_json::from_str(&s).expect("summary.json parses"))
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
    let library_error = read("expected_error.txt").and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("library_error:"))
            .map(|l| l.trim().to_owned())
    });
    Case {
        library_error,
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        summary,
        flags,
        sentinels,
    }
}

/// The error code our tools print for a Go sentinel: the name without `Err`, in
/// kebab-case, with `ZSet` and acronyms kept as one word (`ErrRedisInvalidZSetMember`
/// → `redis-invalid-zset-member`, `ErrDDBMalformedKey` → `ddb-malformed-key`).
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

#[test]
fn sentinel_codes_are_kebab_case() {
    assert_eq!(
        code_for_sentinel("ErrSnapshotTruncated"),
        "snapshot-truncated"
    );
    assert_eq!(
        code_for_sentinel("ErrRedisInvalidZSetLegacyBlob"),
        "redis-invalid-zset-legacy-blob"
    );
    assert_eq!(code_for_sentinel("ErrDDBMalformedKey"), "ddb-malformed-key");
    assert_eq!(code_for_sentinel("ErrS3MalformedKey"), "s3-malformed-key");
    assert_eq!(
        code_for_sentinel("ErrSQSInvalidQueueMeta"),
        "sqs-invalid-queue-meta"
    );
    assert_eq!(
        code_for_sentinel("ErrRedisInvalidHLLValue"),
        "redis-invalid-hll-value"
    );
}
