//! [`ComparingSink`] against [`compare_trees`]: a decoded tree fed through the sink
//! (whole files or in pieces, on the caller's thread or a pool, in directory order)
//! gives the same Go text, counts and report as comparing it on disk.

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::super::{CompareOptions, TreeComparison, compare_trees};
use super::ComparingSink;
use crate::adapter::AdapterSpec;
use crate::pipeline::NoProgress;
use crate::pipeline::report::Report;
use crate::tree::sink::TreeSink;

/// How the decoded files reach the sink.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// `write_file`, on `jobs` threads.
    Whole { jobs: usize },
    /// `create_file`, written `chunk` bytes at a time, with `jobs` threads (which
    /// compare a file produced in pieces whole while it is small).
    Pieces { chunk: usize, jobs: usize },
}

/// Every regular file below `decoded` (its directories too), fed to a sink on
/// `input`, in the order `read_dir` lists them.
fn via_sink(
    input: &Path,
    decoded: &Path,
    adapters: &[&AdapterSpec],
    options: &CompareOptions,
    feed: Feed,
) -> TreeComparison {
    let (Feed::Whole { jobs } | Feed::Pieces { jobs, .. }) = feed;
    let sink = ComparingSink::new(input, adapters, options, jobs).unwrap();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(decoded.join(&dir)).unwrap() {
            let entry = entry.unwrap();
            let rel = dir.join(entry.file_name());
            let rel_bytes = rel.as_os_str().as_bytes();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                sink.create_dir(rel_bytes).unwrap();
                pending.push(rel);
            } else if kind.is_file() {
                let bytes = fs::read(entry.path()).unwrap();
                match feed {
                    Feed::Whole { .. } => sink.write_file(rel_bytes, bytes).unwrap(),
                    Feed::Pieces { chunk, .. } => {
                        let mut file = sink.create_file(rel_bytes).unwrap();
                        for piece in bytes.chunks(chunk) {
                            file.write_all(piece).unwrap();
                        }
                        file.finish().unwrap();
                    }
                }
            }
        }
    }
    sink.finish(&mut NoProgress).unwrap()
}

/// [`compare_trees`], checked against the sink fed every way.
pub(crate) fn compare_both(
    input: &Path,
    decoded: &Path,
    adapters: &[&AdapterSpec],
    options: &CompareOptions,
) -> TreeComparison {
    let on_disk = compare_trees(input, decoded, adapters, options, &mut NoProgress).unwrap();
    let report = Report::from_comparison(&on_disk, options.keep).unwrap();
    for feed in [
        Feed::Whole { jobs: 1 },
        Feed::Whole { jobs: 3 },
        Feed::Pieces { chunk: 1, jobs: 1 },
        Feed::Pieces {
            chunk: 4093,
            jobs: 1,
        },
        Feed::Pieces {
            chunk: 1 << 20,
            jobs: 1,
        },
        Feed::Pieces {
            chunk: 4093,
            jobs: 2,
        },
        Feed::Pieces {
            chunk: 1 << 20,
            jobs: 3,
        },
    ] {
        let sunk = via_sink(input, decoded, adapters, options, feed);
        assert_eq!(
            String::from_utf8_lossy(&sunk.go_mismatch_text()),
            String::from_utf8_lossy(&on_disk.go_mismatch_text()),
            "{feed:?}"
        );
        assert_eq!(
            (sunk.files_compared, sunk.differing),
            (on_disk.files_compared, on_disk.differing),
            "{feed:?}"
        );
        let sunk_report = Report::from_comparison(&sunk, options.keep).unwrap();
        assert_eq!(sunk_report.render(), report.render(), "{feed:?}");
        assert_eq!(sunk_report, report, "{feed:?}");
    }
    on_disk
}

pub(crate) fn options(dir: &Path) -> CompareOptions {
    CompareOptions {
        sort_memory_bytes: 1 << 20,
        scratch_dir: dir.to_path_buf(),
        keep: 64,
    }
}

pub(crate) fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

pub(crate) fn redis() -> Vec<&'static AdapterSpec> {
    vec![&crate::adapters::redis::SPEC]
}

/// Differences on either side of the 64 KiB buffer, in files too large for a text
/// diff, a decoded file shorter or longer than the input's, and a multiset file
/// whose bytes differ only after many lines.
#[test]
fn differences_anywhere_in_large_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for (name, offset) in [("x0", 0), ("x1", 65_535), ("x2", 65_536), ("x3", 299_999)] {
        let mut other = big.clone();
        other[offset] ^= 1;
        write(&a, &format!("redis/db_0/strings/{name}.bin"), &big);
        write(&b, &format!("redis/db_0/strings/{name}.bin"), &other);
    }
    write(&a, "redis/db_0/strings/short.bin", &big);
    write(&b, "redis/db_0/strings/short.bin", &big[..70_000]);
    write(&a, "redis/db_0/strings/long.bin", &big[..70_000]);
    write(&b, "redis/db_0/strings/long.bin", &big);
    write(&a, "redis/db_0/strings/same.bin", &big);
    write(&b, "redis/db_0/strings/same.bin", &big);
    let lines: Vec<String> = (0..20_000)
        .map(|i| format!("{{\"key\":\"k{i}\",\"expire_at_ms\":{i}}}"))
        .collect();
    let mut changed = lines.clone();
    changed.swap(10, 19_990);
    changed[15_000] = "{\"key\":\"other\",\"expire_at_ms\":1}".into();
    write(
        &a,
        "redis/db_0/strings_ttl.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    write(
        &b,
        "redis/db_0/strings_ttl.jsonl",
        (changed.join("\n") + "\n").as_bytes(),
    );
    // Reordered only, after 100 KiB of equal bytes: equal as a multiset.
    let mut reordered = lines.clone();
    reordered.swap(5_000, 5_001);
    write(
        &a,
        "redis/db_0/hll_ttl.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    write(
        &b,
        "redis/db_0/hll_ttl.jsonl",
        (reordered.join("\n") + "\n").as_bytes(),
    );
    let c = compare_both(&a, &b, &redis(), &options(dir.path()));
    assert_eq!(c.differing, 7);
    let report = Report::from_comparison(&c, 64).unwrap().render();
    assert!(report.contains("x2.bin: contents differ: first difference at byte 65536; input 300000 bytes, decoded 300000 bytes"), "{report}");
    assert!(report.contains("short.bin: contents differ: first difference at byte 70000; input 300000 bytes, decoded 70000 bytes"), "{report}");
    assert!(
        report.contains("1 only in input, 1 only in decoded output"),
        "{report}"
    );
}

/// A JSON file differing far from its start still gets its unified diff: the
/// decoded bytes before the difference are the input's.
#[test]
fn text_diffs_of_late_differences() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let items: Vec<String> = (0..20_000).map(|i| format!("    \"{i}\"")).collect();
    let doc = format!("[\n{}\n]", items.join(",\n"));
    write(&a, "redis/db_0/lists/l.json", doc.as_bytes());
    write(
        &b,
        "redis/db_0/lists/l.json",
        doc.replace("\"19990\"", "\"x\"").as_bytes(),
    );
    // Only in the decoded tree, and a multiset file that differs from its first byte.
    write(&b, "redis/db_0/zsets/z.json", b"{}");
    write(&a, "redis/db_0/strings_ttl.jsonl", b"a\nb\n");
    write(&b, "redis/db_0/strings_ttl.jsonl", b"c\nb\na\n");
    let c = compare_both(&a, &b, &redis(), &options(dir.path()));
    let report = Report::from_comparison(&c, 64).unwrap().render();
    assert!(
        report.contains("-    \"19990\",\n+    \"x\",\n"),
        "{report}"
    );
    assert!(report.contains("redis/db_0/zsets/z.json: only in decoded output (2 bytes)"));
}

/// What stands where the decoder writes a file decides: a directory, a link to one,
/// a link to a file, a FIFO (never opened), or a file where the decoder makes a
/// directory.
#[test]
fn input_entries_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, "real/x.bin", b"1");
    write(&b, "redis/db_0/strings/x.bin", b"1");
    fs::create_dir_all(a.join("redis/db_0")).unwrap();
    std::os::unix::fs::symlink(a.join("real"), a.join("redis/db_0/strings")).unwrap();
    write(&a, "redis/db_0/hashes/h.json/inner", b"{}");
    write(&b, "redis/db_0/hashes/h.json", b"{}");
    write(&a, "redis/db_0/sets", b"a file");
    write(&b, "redis/db_0/sets/s.json", b"{}");
    write(&a, "redis/db_0/lists/target.json", b"[]");
    write(&b, "redis/db_0/lists/target.json", b"[]");
    std::os::unix::fs::symlink(
        a.join("redis/db_0/lists/target.json"),
        a.join("redis/db_0/lists/l.json"),
    )
    .unwrap();
    write(&b, "redis/db_0/lists/l.json", b"[]");
    write(&b, "redis/db_0/zsets/z.json", b"{}");
    fs::create_dir_all(a.join("redis/db_0/zsets")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(a.join("redis/db_0/zsets/z.json"))
            .status()
            .unwrap()
            .success()
    );
    let c = compare_both(&a, &b, &redis(), &options(dir.path()));
    assert_eq!(
        String::from_utf8(c.go_mismatch_text()).unwrap(),
        "redis/db_0/hashes/h.json (missing in input)\n\
         redis/db_0/hashes/h.json/inner (missing in scratch)\n\
         redis/db_0/lists/l.json (missing in input)\n\
         redis/db_0/lists/l.json (missing in scratch)\n\
         redis/db_0/sets (missing in scratch)\n\
         redis/db_0/sets/s.json (missing in input)\n\
         redis/db_0/strings (missing in scratch)\n\
         redis/db_0/strings/x.bin (missing in input)\n\
         redis/db_0/zsets/z.json (missing in input)\n\
         redis/db_0/zsets/z.json (missing in scratch)\n"
    );
}

/// No input adapter directory at all: every decoded file is missing in the input.
#[test]
fn missing_input_adapter_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    write(&b, "redis/db_0/strings/x.bin", b"1");
    write(&b, "redis/db_0/KEYMAP.jsonl", b"not a record\n");
    let c = compare_both(&a, &b, &redis(), &options(dir.path()));
    assert_eq!(c.differing, 2);
}

/// A decoder that produces one path twice is a bug, not a verdict on the snapshot
/// (the tree writer refuses the second file).
#[test]
fn a_path_produced_twice_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    write(&a, "redis/db_0/strings/x.bin", b"1");
    let sink = ComparingSink::new(&a, &redis(), &options(dir.path()), 1).unwrap();
    sink.write_file(b"redis/db_0/strings/x.bin", b"1".to_vec())
        .unwrap();
    sink.write_file(b"redis/db_0/strings/x.bin", b"1".to_vec())
        .unwrap();
    let err = sink.finish(&mut NoProgress).unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
}
