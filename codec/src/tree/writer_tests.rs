//! Tests of [`super`], kept beside it so the module reads as the format does.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;

fn sort(dir: &Path) -> SortOptions {
    SortOptions {
        memory_budget: 1 << 10,
        scratch_dir: dir.to_path_buf(),
    }
}

fn digests(records: SortedRecords) -> Vec<(String, String)> {
    let mut records = records;
    let mut out = Vec::new();
    while let Some((rel, digest)) = records.next().unwrap() {
        out.push((
            String::from_utf8(rel.to_vec()).unwrap(),
            hex::encode(digest),
        ));
    }
    out
}

/// A scratch file of `len` bytes, each its offset mod 251, for [`FileRanges`].
fn source(scratch: &Path, len: usize) -> Arc<File> {
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let path = scratch.join(format!("source-{len}"));
    fs::write(&path, bytes).unwrap();
    Arc::new(File::open(path).unwrap())
}

/// Ranges of [`source`] for file `i`: several, one longer than [`RANGE_BUFFER`].
fn ranges_of(i: u32) -> Vec<(u64, u64)> {
    let i = u64::from(i);
    vec![
        (i, 3),
        (1000 + i, RANGE_BUFFER as u64 + i + 5),
        (7, 0),
        (i * 2, 1),
    ]
}

/// Writes 300 files over a few directories: some whole, some streamed, some copied
/// from ranges of a scratch file.
fn write_tree(root: &Path, scratch: &Path, jobs: usize) -> Vec<(String, String)> {
    let writer = TreeWriter::new(root, jobs, sort(scratch)).unwrap();
    let from = source(scratch, 2 * RANGE_BUFFER);
    for i in 0..300u32 {
        let rel = format!(
            "redis/db_0/{}/{i:03}.bin",
            ["strings", "hll", "x/y"][i as usize % 3]
        );
        if i % 11 == 0 {
            let ranges = FileRanges {
                file: Arc::clone(&from),
                ranges: ranges_of(i),
            };
            writer.write_ranges(rel.as_bytes(), ranges).unwrap();
        } else if i % 7 == 0 {
            let mut file = writer.create_file(rel.as_bytes()).unwrap();
            for piece in 0..i {
                write!(file, "{piece},").unwrap();
            }
            file.finish().unwrap();
        } else {
            writer
                .write_file(rel.as_bytes(), format!("value {i}").into_bytes())
                .unwrap();
        }
    }
    writer
        .write_file_with_mode(b"MANIFEST.json", b"{}".to_vec(), 0o644)
        .unwrap();
    digests(writer.finish().unwrap())
}

#[test]
fn digests_are_those_of_the_files_sorted_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let (root, scratch) = (dir.path().join("out"), dir.path().join("scratch"));
    fs::create_dir(&root).unwrap();
    fs::create_dir(&scratch).unwrap();
    let listed = write_tree(&root, &scratch, 1);
    assert_eq!(listed.len(), 301);
    let mut paths: Vec<&String> = listed.iter().map(|(p, _)| p).collect();
    let unsorted = paths.clone();
    paths.sort();
    assert_eq!(paths, unsorted);
    for (rel, digest) in &listed {
        let bytes = fs::read(root.join(rel)).unwrap();
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), digest, "{rel}");
    }
    let mode = |rel: &str| fs::metadata(root.join(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("redis/db_0/strings/000.bin"), 0o600);
    assert_eq!(mode("redis/db_0/hll/001.bin"), 0o600);
}

#[test]
fn files_from_ranges_hold_the_ranges_in_order() {
    for jobs in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let (root, scratch) = (dir.path().join("out"), dir.path().join("scratch"));
        fs::create_dir(&root).unwrap();
        fs::create_dir(&scratch).unwrap();
        write_tree(&root, &scratch, jobs);
        let all = fs::read(scratch.join(format!("source-{}", 2 * RANGE_BUFFER))).unwrap();
        for i in (0..300u32).step_by(11) {
            let rel = format!(
                "redis/db_0/{}/{i:03}.bin",
                ["strings", "hll", "x/y"][i as usize % 3]
            );
            let want: Vec<u8> = ranges_of(i)
                .into_iter()
                .flat_map(|(at, len)| all[at as usize..(at + len) as usize].to_vec())
                .collect();
            assert_eq!(
                fs::read(root.join(&rel)).unwrap(),
                want,
                "{rel}, jobs {jobs}"
            );
        }
    }
}

#[test]
fn a_range_past_the_end_of_its_file_fails_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let (root, scratch) = (dir.path().join("out"), dir.path().join("scratch"));
    fs::create_dir(&root).unwrap();
    fs::create_dir(&scratch).unwrap();
    for jobs in [1, 2] {
        let out = root.join(format!("jobs-{jobs}"));
        fs::create_dir(&out).unwrap();
        let writer = TreeWriter::new(&out, jobs, sort(&scratch)).unwrap();
        let ranges = FileRanges {
            file: source(&scratch, 100),
            ranges: vec![(0, 50), (90, 20)],
        };
        // With writer threads the failure may surface only when they are joined.
        let failed = writer.write_ranges(b"short.bin", ranges).is_err();
        assert!(failed || writer.finish().is_err(), "jobs {jobs}");
    }
}

#[test]
fn the_tree_does_not_depend_on_the_number_of_writers() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let mut trees = Vec::new();
    for jobs in [1, 2, 8] {
        let root = dir.path().join(format!("out{jobs}"));
        fs::create_dir(&root).unwrap();
        let listed = write_tree(&root, &scratch, jobs);
        let contents: Vec<Vec<u8>> = listed
            .iter()
            .map(|(rel, _)| fs::read(root.join(rel)).unwrap())
            .collect();
        trees.push((listed, contents));
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
}

#[test]
fn an_existing_name_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let (root, scratch) = (dir.path().join("out"), dir.path().join("scratch"));
    fs::create_dir_all(root.join("redis")).unwrap();
    fs::create_dir(&scratch).unwrap();
    let outside = dir.path().join("outside");
    fs::write(&outside, b"keep").unwrap();
    symlink(&outside, root.join("redis/planted.bin")).unwrap();
    symlink(dir.path(), root.join("linked")).unwrap();
    let writer = TreeWriter::new(&root, 1, sort(&scratch)).unwrap();
    assert!(
        writer
            .write_file(b"redis/planted.bin", b"x".to_vec())
            .is_err()
    );
    let err = writer.create_file(b"linked/file").unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::SymlinkAncestor, "{err}");
    // With writer threads the failure surfaces in a later call or in finish.
    let writer = TreeWriter::new(&root, 3, sort(&scratch)).unwrap();
    let queued = writer.write_file(b"redis/planted.bin", b"x".to_vec());
    let finished = writer.finish();
    assert!(queued.is_err() || finished.is_err());
    assert_eq!(fs::read(&outside).unwrap(), b"keep");
}

#[test]
fn a_symlinked_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    symlink(dir.path(), dir.path().join("link")).unwrap();
    let err = TreeWriter::new(&dir.path().join("link"), 1, sort(dir.path())).unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::Symlink, "{err}");
}
