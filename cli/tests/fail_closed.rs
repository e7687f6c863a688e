//! Failing closed: what the tools refuse or report instead of producing something
//! that looks fine and is not. Key files that are not regular files, a self-test or
//! a decode that runs out of space, a duplicate key in the Go drop-in, duplicate
//! CHECKSUMS rows.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

const T: u64 = 116114217163165220;

/// A tmpfs of a fixed size mounted on a fresh directory, unmounted when dropped.
/// `None` (with the reason printed) where mounting is not possible.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            Ok(out) => {
                eprintln!(
                    "skipping: cannot mount a tmpfs here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipping: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn args<'a>(list: &'a [&'a str]) -> Vec<&'a std::ffi::OsStr> {
    list.iter().map(|a| os(a)).collect()
}

fn encode(dir: &Path, extra: &[&str]) -> Output {
    let mut list = vec![
        "encode",
        "--adapter",
        "redis",
        "--input",
        "tree",
        "--output",
        "out.fsm",
    ];
    list.extend_from_slice(extra);
    run(MAIN, dir, &args(&list))
}

fn go_encode(dir: &Path, extra: &[&str]) -> Output {
    let mut list = vec!["-input", "tree", "-output", "out.fsm", "-adapter", "redis"];
    list.extend_from_slice(extra);
    run(GO_ENCODE, dir, &args(&list))
}

/// A Redis tree with `n` string keys `k0000`… of `size` bytes each.
fn strings_tree(root: &Path, n: usize, size: usize) {
    make_redis_tree(root, T);
    for i in 0..n {
        fs::write(
            root.join(format!("redis/db_0/strings/k{i:04}.bin")),
            vec![b'v'; size],
        )
        .unwrap();
    }
}

/// Encodes `tree` (under `dir`) into `dir/<name>`.
fn encode_to(dir: &Path, name: &str) {
    let out = run(
        MAIN,
        dir,
        &args(&[
            "encode",
            "--adapter",
            "redis",
            "--input",
            "tree",
            "--output",
            name,
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Every entry of a Redis type directory that is not a regular file is refused
/// (exit 2, naming it) by both encoders, with or without the self-test, and nothing
/// is published. Go skips such entries, so the key silently disappears from the
/// snapshot while its self-test still matches (docs/format.md §9.1).
#[test]
fn non_regular_key_files_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, b"outside the tree").unwrap();
    type Plant = Box<dyn Fn(&Path, &Path)>;
    let cases: Vec<(&str, Plant)> = vec![
        (
            "strings/inside.bin",
            Box::new(|db, at| symlink(db.join("strings/a.bin"), at).unwrap()),
        ),
        (
            "strings/outside.bin",
            Box::new(move |_, at| symlink(&secret, at).unwrap()),
        ),
        ("hll/fifo.bin", Box::new(|_, at| mkfifo(at))),
        (
            "sets/sock.json",
            Box::new(|_, at| drop(std::os::unix::net::UnixListener::bind(at).unwrap())),
        ),
        (
            "hashes/dir.json",
            Box::new(|_, at| fs::create_dir(at).unwrap()),
        ),
    ];
    for (rel, plant) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_redis_tree(&d.join("tree"), T);
        let db = d.join("tree/redis/db_0");
        let at = db.join(rel);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        plant(&db, &at);
        for (bin, out) in [
            ("elastickv-snapshot", encode(d, &["--self-test"])),
            ("elastickv-snapshot", encode(d, &[])),
            ("elastickv-snapshot-encode", go_encode(d, &["-self-test"])),
        ] {
            assert_eq!(out.status.code(), Some(2), "{bin} {rel}: {}", stderr(&out));
            assert_eq!(
                error_code(&out).as_deref(),
                Some("redis-encode-not-regular"),
                "{bin} {rel}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains(&format!("redis/db_0/{rel}")),
                "{bin} {rel}: {}",
                stderr(&out)
            );
            assert!(!d.join("out.fsm").exists(), "{bin} {rel}");
            assert!(!d.join("out.fsm.mismatch.txt").exists(), "{bin} {rel}");
            assert!(temp_files(d).is_empty(), "{bin} {rel}");
        }
    }
}

/// A Redis tree whose one hash has `fields` fields of `size`-byte values, as the
/// decoder writes it.
fn hash_tree(root: &Path, fields: usize, size: usize) {
    make_redis_tree(root, T);
    let value = "v".repeat(size);
    let items: Vec<String> = (0..fields)
        .map(|i| {
            format!("    {{\n      \"name\": \"f{i:05}\",\n      \"value\": \"{value}\"\n    }}")
        })
        .collect();
    let doc = format!(
        "{{\n  \"format_version\": 1,\n  \"fields\": [\n{}\n  ],\n  \"expire_at_ms\": null\n}}",
        items.join(",\n")
    );
    let hashes = root.join("redis/db_0/hashes");
    fs::create_dir_all(&hashes).unwrap();
    fs::write(hashes.join("h.json"), doc).unwrap();
}

/// The self-test's scratch space filling up is an I/O error (exit 1): the produced
/// snapshot was never judged, so it is not a mismatch, no mismatch.txt is written
/// and an earlier output stays as it was. The self-test writes no decoded tree, so
/// what fills the scratch space is the decoder's sort: a 1 MB hash under a budget
/// that the encoder's sort fits in (3/4 of it) and the decoder's collection sort
/// (3/8) does not. The Go drop-in has no `--sort-memory`, so this is the main
/// binary's test; both map the error the same way.
#[test]
fn self_test_out_of_scratch_space_is_an_io_error() {
    let Some(scratch) = Tmpfs::mount(64 << 10) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    hash_tree(&d.join("tree"), 4000, 200);
    let scratch_root = scratch.path().to_str().unwrap().to_owned();
    let budget = ["--scratch-root", &scratch_root, "--sort-memory", "1792KiB"];
    let self_test = [&["--self-test"][..], &budget[..]].concat();
    let out = encode_with_earlier_output(d, |d| encode(d, &self_test));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(error_code(&out).as_deref(), Some("io"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("self-test could not run"), "{err}");
    assert!(!d.join("out.fsm.mismatch.txt").exists());
    assert_eq!(fs::read(d.join("out.fsm")).unwrap(), b"earlier");
    assert!(temp_files(d).is_empty());
    assert_eq!(
        fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "the self-test leaves nothing in its scratch space"
    );
    // The encode alone fits in the same budget: the failure was the self-test's.
    let out = encode(d, &budget);
    assert!(out.status.success(), "{}", stderr(&out));
    // With room to run, the same tree self-tests fine.
    let out = encode(d, &["--self-test"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The self-test writes no decoded tree: with its scratch root and the temp dir on a
/// read-only file system it runs all the same (nothing spills with the default sort
/// budget), where a scratch tree of 512 KiB used to be written. Both binaries.
#[test]
fn self_test_needs_no_scratch_space() {
    let Some(scratch) = Tmpfs::mount(64 << 10) else {
        return;
    };
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(scratch.path())
        .status();
    if !remounted.is_ok_and(|status| status.success()) {
        eprintln!("skipping: cannot remount the tmpfs read-only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    strings_tree(&d.join("tree"), 64, 8 << 10);
    let root = scratch.path().to_str().unwrap();
    for (bin, args) in [
        (
            MAIN,
            vec![
                "encode",
                "--adapter",
                "redis",
                "--self-test",
                "--scratch-root",
            ],
        ),
        (
            GO_ENCODE,
            vec!["-adapter", "redis", "-self-test", "-scratch-root"],
        ),
    ] {
        let out = Command::new(bin)
            .current_dir(d)
            .env("TMPDIR", scratch.path())
            .args(&args)
            .args([root, "--input", "tree", "--output", "out.fsm"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin}: {}", stderr(&out));
        assert!(
            fs::read(d.join("out.fsm"))
                .unwrap()
                .starts_with(b"EKVPBBL1"),
            "{bin}"
        );
        assert!(!d.join("out.fsm.mismatch.txt").exists(), "{bin}");
        assert_eq!(fs::read_dir(scratch.path()).unwrap().count(), 0, "{bin}");
        fs::remove_file(d.join("out.fsm")).unwrap();
    }
}

fn encode_with_earlier_output(d: &Path, run: impl FnOnce(&Path) -> Output) -> Output {
    fs::write(d.join("out.fsm"), b"earlier").unwrap();
    run(d)
}

/// `A.bin` and `%41.bin` are the same key: Go's encoder reports the duplicate from
/// inside the adapter (exit 2, `ErrEncodeAdapterData`), and so do both of ours.
#[test]
fn duplicate_key_is_a_data_error_in_both_encoders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_redis_tree(&d.join("tree"), T);
    fs::write(d.join("tree/redis/db_0/strings/A.bin"), b"1").unwrap();
    fs::write(d.join("tree/redis/db_0/strings/%41.bin"), b"2").unwrap();
    for (bin, out) in [
        ("elastickv-snapshot", encode(d, &[])),
        ("elastickv-snapshot-encode", go_encode(d, &[])),
    ] {
        assert_eq!(out.status.code(), Some(2), "{bin}: {}", stderr(&out));
        assert_eq!(
            error_code(&out).as_deref(),
            Some("encode-duplicate-key"),
            "{bin}: {}",
            stderr(&out)
        );
        assert!(!d.join("out.fsm").exists(), "{bin}");
        assert!(temp_files(d).is_empty(), "{bin}");
    }
}

/// The page size: what a tmpfs counts in.
fn page_size() -> u64 {
    Command::new("getconf")
        .arg("PAGESIZE")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(4096)
}

/// Pages a file of `len` bytes takes on a tmpfs.
fn pages(len: u64) -> u64 {
    len.div_ceil(page_size())
}

/// Regular files below `root` with their sizes.
fn sizes_below(root: &Path) -> Vec<(PathBuf, u64)> {
    files_below(root)
        .into_iter()
        .map(|rel| {
            let len = fs::metadata(root.join(&rel)).unwrap().len();
            (rel, len)
        })
        .collect()
}

/// A decode that runs out of space while writing CHECKSUMS (the adapter files and
/// MANIFEST.json fit) fails with an I/O error saying the tree is incomplete, and
/// leaves neither MANIFEST.json nor CHECKSUMS: only a tree with both is complete.
#[test]
fn checksums_write_failure_leaves_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    strings_tree(&d.join("tree"), 300, 1);
    encode_to(d, "in.fsm");
    // A full decode on roomy disk tells how much the tree takes.
    let out = run(
        MAIN,
        d,
        &args(&[
            "decode",
            "--adapter",
            "redis",
            "--input",
            "in.fsm",
            "--output",
            "full",
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (mut needed, mut checksums) = (0, 0);
    for (rel, len) in sizes_below(&d.join("full")) {
        if rel == Path::new("CHECKSUMS") {
            checksums = pages(len);
        } else {
            needed += pages(len);
        }
    }
    if checksums < 2 {
        eprintln!("skipping: CHECKSUMS fits one page of {} bytes", page_size());
        return;
    }
    // Room for everything but CHECKSUMS, plus a page of slack.
    for (bin, exit) in [(MAIN, 1), (GO_DECODE, 1)] {
        let Some(fs_) = Tmpfs::mount((needed + 1) * page_size()) else {
            return;
        };
        let output = fs_.path().join("out");
        let out = run(
            bin,
            d,
            &[
                os("decode"),
                os("--adapter"),
                os("redis"),
                os("--input"),
                os("in.fsm"),
                os("--output"),
                output.as_os_str(),
            ][usize::from(bin != MAIN)..],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(exit), "{bin}: {err}");
        assert_eq!(error_code(&out).as_deref(), Some("io"), "{bin}: {err}");
        assert!(err.contains("CHECKSUMS"), "{bin}: {err}");
        assert!(err.contains("incomplete"), "{bin}: {err}");
        assert!(!output.join("MANIFEST.json").exists(), "{bin}");
        assert!(!output.join("CHECKSUMS").exists(), "{bin}");
        assert!(
            output.join("redis/db_0/strings/k0299.bin").is_file(),
            "{bin}: the adapter files are left for inspection"
        );
        let leftovers: Vec<_> = sizes_below(&output)
            .into_iter()
            .filter(|(rel, _)| !rel.starts_with("redis"))
            .collect();
        assert!(leftovers.is_empty(), "{bin}: {leftovers:?}");
    }
}

/// `verify` refuses a CHECKSUMS that lists a path twice (exit 2, naming the line):
/// GNU `sha256sum -c` and Go count such a file twice.
#[test]
fn verify_refuses_duplicate_checksums_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    strings_tree(&d.join("tree"), 2, 3);
    encode_to(d, "in.fsm");
    let out = run(
        MAIN,
        d,
        &args(&[
            "decode",
            "--adapter",
            "redis",
            "--input",
            "in.fsm",
            "--output",
            "t",
        ]),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let checksums = d.join("t/CHECKSUMS");
    let text = fs::read_to_string(&checksums).unwrap();
    let rows = text.lines().count();
    let first = text.lines().next().unwrap().to_owned();
    fs::write(&checksums, format!("{text}{first}\n")).unwrap();
    let out = run(MAIN, d, &args(&["verify", "t"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        error_code(&out).as_deref(),
        Some("checksums-duplicate-path"),
        "{err}"
    );
    assert!(err.contains(&format!("line {}", rows + 1)), "{err}");
}
