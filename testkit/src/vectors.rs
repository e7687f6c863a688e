//! The Go reference vectors: where they are, what a case holds, and how a Go sentinel
//! reads as one of our error codes.
//!
//! The full set (200 cases, `INDEX.json` at its top) is `$ELASTICKV_VECTORS`, else
//! `../shared/vectors` beside the checkout. A fresh clone without it still has the few
//! cases bundled under `codec/tests/fixtures/vectors/`: tests that can run on those
//! fall back to them ([`all_cases`], [`dir`]), tests that need the full set skip
//! ([`shared`]). In CI (`$CI` set) a missing full set is a failure, never a skip.

use std::fs;
use std::path::{Path, PathBuf};

/// The environment variable that points at the full set.
pub const ENV: &str = "ELASTICKV_VECTORS";

/// Where the full set should be: `$ELASTICKV_VECTORS`, else `../shared/vectors` beside
/// the checkout (this crate sits at the workspace root, like `codec/` and `cli/`).
fn shared_location() -> PathBuf {
    std::env::var_os(ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

fn is_set(dir: &Path) -> bool {
    dir.join("INDEX.json").is_file()
}

/// The full set, if present. When it is absent this fails under CI and otherwise
/// warns on stderr and returns `None`.
///
/// # Panics
/// When `$CI` is set and the set is missing.
pub fn shared() -> Option<PathBuf> {
    let dir = shared_location();
    if is_set(&dir) {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "reference vectors not found at {} (CI must have ../shared beside the checkout)",
        dir.display()
    );
    eprintln!(
        "warning: reference vectors not found at {} (set {ENV} or put ../shared beside the \
         checkout); tests that need the full set skip it, the others use the bundled cases",
        dir.display()
    );
    None
}

/// The cases bundled in the repository: copies of a few shared cases.
pub fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../codec/tests/fixtures/vectors")
}

/// The full set when present, else the bundled cases; no CI check, no warning.
pub fn dir() -> PathBuf {
    let shared = shared_location();
    if is_set(&shared) { shared } else { bundled() }
}

/// The case directories under `root` (those holding an `input.fsm`), sorted; none when
/// `root` cannot be read.
pub fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.fsm").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Every case under `root`, sorted by name.
pub fn cases(root: &Path) -> Vec<Case> {
    case_dirs(root).iter().map(|d| Case::load(d)).collect()
}

/// Every case of the full set when present, else the bundled ones (which are copies of
/// shared cases, so they are not added on top: counts stay honest).
///
/// # Panics
/// As [`shared`] does, and when no case is found at all.
pub fn all_cases() -> Vec<Case> {
    let mut cases = shared().map(|dir| self::cases(&dir)).unwrap_or_default();
    if cases.is_empty() {
        cases = self::cases(&bundled());
    }
    assert!(!cases.is_empty(), "no reference cases found at all");
    cases
}

/// One reference case: a directory `case-NNNN/` of the set.
#[derive(Debug, Clone)]
pub struct Case {
    /// The directory name (`case-0001`).
    pub name: String,
    /// The directory.
    pub dir: PathBuf,
    /// `summary.json` (`Null` when absent).
    pub summary: serde_json::Value,
    /// The decoder flags of `flags.txt`, one per line.
    pub flags: Vec<String>,
    /// Go sentinel names the decode error matched (`None` when decoding succeeded;
    /// `Some(vec![])` when Go failed with a bare EOF).
    pub sentinels: Option<Vec<String>>,
    /// The Go library error text, for failures without a sentinel.
    pub library_error: Option<String>,
}

impl Case {
    /// Reads the case in `dir`.
    ///
    /// # Panics
    /// When its `summary.json` does not parse.
    pub fn load(dir: &Path) -> Case {
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
        let expected_error = read("expected_error.txt");
        let sentinels = expected_error.as_deref().map(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("sentinels:"))
                .unwrap_or("")
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        let library_error = expected_error.as_deref().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("library_error:"))
                .map(|l| l.trim().to_owned())
        });
        Case {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir: dir.to_path_buf(),
            summary,
            flags,
            sentinels,
            library_error,
        }
    }

    /// The snapshot the Go decoder read.
    pub fn input(&self) -> PathBuf {
        self.dir.join("input.fsm")
    }

    /// A decoder counter of `summary.json` (they are strings there).
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.summary["counters"][name].as_str()?.parse().ok()
    }

    /// Whether the Go decode succeeded and left its tree.
    pub fn decoded_ok(&self) -> bool {
        self.sentinels.is_none() && self.dir.join("tree").is_dir()
    }

    /// The tree our decoder must produce: `mvcc/tree` where Go got versions wrong,
    /// else `tree`.
    pub fn expected_tree(&self) -> PathBuf {
        let mvcc = self.dir.join("mvcc/tree");
        if mvcc.is_dir() {
            mvcc
        } else {
            self.dir.join("tree")
        }
    }

    /// The adapters `--adapter` enabled, by name; `None` when all were (no flag, an
    /// empty list, or `all`).
    pub fn adapters(&self) -> Option<Vec<&str>> {
        let at = self.flags.iter().position(|f| f == "--adapter")?;
        let list = self.flags.get(at + 1).map(String::as_str).unwrap_or("");
        if list.is_empty() || list == "all" {
            return None;
        }
        Some(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }

    /// Whether the Go decode had the adapter called `name` enabled.
    pub fn adapter_enabled(&self, name: &str) -> bool {
        self.adapters().is_none_or(|list| list.contains(&name))
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

    /// The directories `tree.listing` names below `prefix/`, relative to it and
    /// sorted: the expected tree's empty directories live only there (git drops them).
    pub fn listed_dirs(&self, prefix: &str) -> Vec<String> {
        let Ok(text) = fs::read_to_string(self.dir.join("tree.listing")) else {
            return Vec::new();
        };
        let prefix = format!("{prefix}/");
        let mut dirs: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "d")
            .filter_map(|v| hex::decode(v["path_hex"].as_str()?).ok())
            .filter_map(|p| p.strip_prefix(prefix.as_bytes()).map(<[u8]>::to_vec))
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .collect();
        dirs.sort();
        dirs
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_codes_are_kebab_case() {
        for (sentinel, code) in [
            ("ErrSnapshotTruncated", "snapshot-truncated"),
            (
                "ErrRedisInvalidZSetLegacyBlob",
                "redis-invalid-zset-legacy-blob",
            ),
            ("ErrDDBMalformedKey", "ddb-malformed-key"),
            ("ErrS3MalformedKey", "s3-malformed-key"),
            ("ErrSQSInvalidQueueMeta", "sqs-invalid-queue-meta"),
            ("ErrRedisInvalidHLLValue", "redis-invalid-hll-value"),
            ("ErrRedisInvalidHashKey", "redis-invalid-hash-key"),
            ("ErrRedisInvalidTTLValue", "redis-invalid-ttl-value"),
            ("ErrPendingTTLBufferFull", "pending-ttl-buffer-full"),
            (
                "ErrRedisEncodeMultiDBUnsupported",
                "redis-encode-multi-db-unsupported",
            ),
        ] {
            assert_eq!(code_for_sentinel(sentinel), code, "{sentinel}");
        }
    }

    /// The bundled cases are always there, and load.
    #[test]
    fn bundled_cases_load() {
        let cases = cases(&bundled());
        assert!(cases.len() >= 8, "{} bundled cases", cases.len());
        assert!(cases.iter().all(|c| c.name.starts_with("case-")));
        let failed = cases
            .iter()
            .find(|c| c.sentinels.is_some())
            .expect("a failure");
        assert!(!failed.decoded_ok());
        assert!(cases.iter().any(|c| c.counter("entries").is_some()));
        assert!(case_dirs(Path::new("/nonexistent")).is_empty());
    }

    #[test]
    fn adapter_flags() {
        let mut case = Case::load(Path::new("/nonexistent/case-9"));
        assert_eq!(case.name, "case-9");
        assert_eq!(case.adapters(), None);
        case.flags = vec!["--adapter".into(), "redis, s3".into(), "--x".into()];
        assert_eq!(case.adapters(), Some(vec!["redis", "s3"]));
        assert!(case.adapter_enabled("s3") && !case.adapter_enabled("sqs"));
        assert_eq!(case.flags_without_adapter(), ["--x"]);
        case.flags = vec!["--adapter".into(), "all".into()];
        assert!(case.adapter_enabled("sqs"));
    }
}
