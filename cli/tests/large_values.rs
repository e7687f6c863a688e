//! Peak memory with one large value: the release promise is that a value is held at
//! most once (docs/format.md §8.2), so a run peaks at its budgets plus about one copy
//! of the largest value, never several.
//!
//! Runs the CLI in child processes on a small generated tree plus one large string
//! (and, separately, one large hash field) and reads each child's peak RSS (`VmHWM`)
//! while it runs: encode, encode --self-test, decode of the sorted snapshot and decode
//! of the same entries out of order (which goes through the external sort). The
//! default size keeps `cargo test` quick; `benches/large-value-rss.sh` runs the same
//! test at full size (256 MiB) with the release binary:
//!
//! * `EKV_LARGE_VALUE_MIB` — size of the large value (default 64);
//! * `EKV_LARGE_VALUE_SORT_MEMORY` — `--sort-memory` of every step (default 16MiB);
//! * `EKV_LARGE_VALUE_BASE_MIB` — what a step may hold besides the value (default 32:
//!   the sort budget, the process and its buffers);
//! * `EKV_LARGE_VALUE_DIR` — where the files go (default: the system temp dir).
//!
//! A step fails when its peak exceeds `base + 1.25 × value`.

mod support;

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use elastickv_codec::container::{SnapshotReader, SnapshotWriter, encode_live_value};
use support::*;

const MIB: u64 = 1 << 20;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

struct Config {
    value_bytes: u64,
    sort_memory: String,
    base_bytes: u64,
}

impl Config {
    fn from_env() -> Self {
        Config {
            value_bytes: env_u64("EKV_LARGE_VALUE_MIB", 64) * MIB,
            sort_memory: std::env::var("EKV_LARGE_VALUE_SORT_MEMORY")
                .unwrap_or_else(|_| "16MiB".to_owned()),
            base_bytes: env_u64("EKV_LARGE_VALUE_BASE_MIB", 32) * MIB,
        }
    }

    /// `base + (copies + 0.25) × value`, in KiB.
    fn bound_kib(&self, copies: u64) -> u64 {
        (self.base_bytes + copies * self.value_bytes + self.value_bytes / 4) / 1024
    }

    fn scratch(&self) -> tempfile::TempDir {
        match std::env::var_os("EKV_LARGE_VALUE_DIR") {
            Some(dir) => {
                fs::create_dir_all(&dir).unwrap();
                tempfile::tempdir_in(dir).unwrap()
            }
            None => tempfile::tempdir().unwrap(),
        }
    }
}

/// Byte `i` of the large value: every byte value, no long runs.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9) >> 13) as u8
}

/// Writes `len` bytes of [`pattern`] (mapped to lowercase letters when `letters`,
/// so they can sit in a JSON string unescaped) between `prefix` and `suffix`.
fn write_large(path: &Path, prefix: &[u8], len: u64, letters: bool, suffix: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path).unwrap());
    out.write_all(prefix).unwrap();
    let mut chunk = Vec::with_capacity(1 << 20);
    let mut i = 0;
    while i < len {
        chunk.clear();
        while chunk.len() < 1 << 20 && i < len {
            let b = pattern(i);
            chunk.push(if letters { b'a' + b % 26 } else { b });
            i += 1;
        }
        out.write_all(&chunk).unwrap();
    }
    out.write_all(suffix).unwrap();
    out.into_inner().unwrap().sync_all().unwrap();
}

/// Whether the file at `path` holds exactly `len` bytes of [`pattern`].
fn holds_pattern(path: &Path, len: u64) -> bool {
    let mut file = fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut i = 0u64;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            return i == len;
        }
        if buf[..n]
            .iter()
            .enumerate()
            .any(|(j, &b)| b != pattern(i + j as u64))
        {
            return false;
        }
        i += n as u64;
    }
}

/// `VmHWM` of a running process, in KiB; `None` once it has exited.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Runs the CLI with `args` in `dir` and returns its peak RSS in KiB, polling
/// `VmHWM` (a high-water mark, so polling only misses growth in the last moments).
fn peak_rss_kib(dir: &Path, name: &str, args: &[&str]) -> u64 {
    let log = dir.join(format!("{name}.log"));
    let mut child = Command::new(MAIN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(dir.join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let err = fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
    assert!(status.success(), "{name}: {args:?} failed: {err}");
    peak
}

/// A generated tree with one large file added by `add`.
fn tree_with(dir: &Path, add: impl FnOnce(&Path)) -> PathBuf {
    let tree = dir.join("tree");
    generate_redis_mixed(dir, "0.001", "--tree", &tree);
    add(&tree.join("redis/db_0"));
    tree
}

/// The snapshot at `sorted` with its entries in another order: the one with the
/// largest value first, then the rest from the last to the first.
fn write_unsorted(sorted: &Path, unsorted: &Path) {
    let mut reader = SnapshotReader::new(fs::File::open(sorted).unwrap()).unwrap();
    let ts = reader.header().last_commit_ts;
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().unwrap() {
        let mut value = Vec::new();
        encode_live_value(e.body, &mut value);
        entries.push((e.encoded_key.to_vec(), value));
    }
    let largest = (0..entries.len())
        .max_by_key(|&i| entries[i].1.len())
        .unwrap();
    let big = entries.remove(largest);
    entries.reverse();
    entries.insert(0, big);
    let mut w = SnapshotWriter::new(fs::File::create(unsorted).unwrap(), ts).unwrap();
    for (k, v) in &entries {
        w.write_entry(k, v).unwrap();
    }
    w.finish().unwrap().sync_all().unwrap();
}

struct Report {
    config: Config,
    /// `(step, peak KiB, bound KiB)`.
    rows: Vec<(String, u64, u64)>,
}

impl Report {
    /// Runs one step, allowed `copies` copies of the value (plus a quarter) besides
    /// the base.
    fn measure(&mut self, dir: &Path, name: &str, args: &[&str], copies: u64) {
        let kib = peak_rss_kib(dir, name, args);
        let bound = self.config.bound_kib(copies);
        eprintln!(
            "large-value: {name:<28} peak RSS {:>7.1} MiB (value {} MiB, bound {:.1} MiB)",
            kib as f64 / 1024.0,
            self.config.value_bytes / MIB,
            bound as f64 / 1024.0
        );
        self.rows.push((name.to_owned(), kib, bound));
    }

    fn check(self) {
        let over: Vec<_> = self
            .rows
            .iter()
            .filter(|(_, kib, bound)| kib > bound)
            .collect();
        assert!(
            over.is_empty(),
            "peak RSS over its bound (base {} MiB + copies × the {}-byte value), \
             (step, KiB, bound KiB): {over:?}",
            self.config.base_bytes / MIB,
            self.config.value_bytes
        );
    }
}

fn encode_args<'a>(sort_memory: &'a str, output: &'a str, self_test: bool) -> Vec<&'a str> {
    let mut args = vec![
        "encode",
        "--adapter",
        "redis",
        "--input",
        "tree",
        "--output",
        output,
        "--scratch-root",
        "scratch",
        "--sort-memory",
        sort_memory,
    ];
    if self_test {
        args.push("--self-test");
    }
    args
}

fn decode_args<'a>(sort_memory: &'a str, input: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "decode",
        "--adapter",
        "redis",
        "--input",
        input,
        "--output",
        output,
        "--scratch-root",
        "scratch",
        "--sort-memory",
        sort_memory,
    ]
}

/// One large string: encode, encode --self-test, decode sorted and unsorted input,
/// each holding the value once, and the value comes back intact every time.
#[test]
fn one_large_string_is_held_at_most_once() {
    let config = Config::from_env();
    let scratch = config.scratch();
    let d = scratch.path();
    fs::create_dir_all(d.join("scratch")).unwrap();
    let len = config.value_bytes;
    tree_with(d, |db| {
        write_large(&db.join("strings/zz-large.bin"), b"", len, false, b"");
    });
    let sort = config.sort_memory.clone();
    let mut report = Report {
        config,
        rows: Vec::new(),
    };
    report.measure(
        d,
        "string encode",
        &encode_args(&sort, "large.fsm", false),
        1,
    );
    report.measure(
        d,
        "string encode --self-test",
        &encode_args(&sort, "self-tested.fsm", true),
        1,
    );
    fs::remove_file(d.join("self-tested.fsm")).unwrap();
    report.measure(
        d,
        "string decode sorted",
        &decode_args(&sort, "large.fsm", "sorted-tree"),
        1,
    );
    let decoded = |tree: &str| d.join(tree).join("redis/db_0/strings/zz-large.bin");
    assert!(holds_pattern(&decoded("sorted-tree"), len));
    fs::remove_dir_all(d.join("sorted-tree")).unwrap();
    write_unsorted(&d.join("large.fsm"), &d.join("unsorted.fsm"));
    fs::remove_file(d.join("large.fsm")).unwrap();
    report.measure(
        d,
        "string decode unsorted",
        &decode_args(&sort, "unsorted.fsm", "unsorted-tree"),
        1,
    );
    assert!(holds_pattern(&decoded("unsorted-tree"), len));
    report.check();
}

/// One large hash field, as text and as a base64 envelope of the same length: encode
/// reads the document an element at a time and holds the field once (a base64 text
/// is decoded in place). Decode writes the field straight into the document (escaped
/// or base64url-encoded as it goes), so it holds the value once too, text or binary.
#[test]
fn one_large_hash_field_is_held_at_most_once() {
    let config = Config::from_env();
    let scratch = config.scratch();
    let d = scratch.path();
    fs::create_dir_all(d.join("scratch")).unwrap();
    let len = config.value_bytes;
    let hash = |db: &Path, open: &[u8], close: &[u8]| {
        let mut prefix = br#"{"format_version":1,"fields":[{"name":"small","value":"v"},{"name":"large","value":"#.to_vec();
        prefix.extend_from_slice(open);
        let mut suffix = close.to_vec();
        suffix.extend_from_slice(br#"}],"expire_at_ms":null}"#);
        write_large(
            &db.join("hashes/zz-large.json"),
            &prefix,
            len,
            true,
            &suffix,
        );
    };
    let tree = tree_with(d, |db| hash(db, b"\"", b"\""));
    let sort = config.sort_memory.clone();
    let mut report = Report {
        config,
        rows: Vec::new(),
    };
    report.measure(d, "hash encode", &encode_args(&sort, "large.fsm", false), 1);
    report.measure(
        d,
        "hash decode sorted",
        &decode_args(&sort, "large.fsm", "sorted-tree"),
        1,
    );
    let decoded = d.join("sorted-tree/redis/db_0/hashes/zz-large.json");
    let size = fs::metadata(&decoded).unwrap().len();
    assert!(size > len, "{size} bytes decoded");
    fs::remove_dir_all(d.join("sorted-tree")).unwrap();
    // Letters are base64url digits: the same text as an envelope, 3/4 as many bytes.
    hash(&tree.join("redis/db_0"), br#"{"base64":""#, br#""}"#);
    report.measure(
        d,
        "hash (base64) encode",
        &encode_args(&sort, "base64.fsm", false),
        1,
    );
    report.measure(
        d,
        "hash (base64) decode sorted",
        &decode_args(&sort, "base64.fsm", "base64-tree"),
        1,
    );
    let decoded = d.join("base64-tree/redis/db_0/hashes/zz-large.json");
    let size = fs::metadata(&decoded).unwrap().len();
    assert!(size > len / 4 * 3, "{size} bytes decoded");
    report.check();
}
