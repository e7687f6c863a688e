//! `CHECKSUMS` hashing (`tree::checksums`): `write_checksums` (walk, SHA-256 every
//! file, render and publish `CHECKSUMS`) and `verify_checksums` (parse it, check every
//! path, re-hash every file) over three trees:
//!
//! * `small`: many small files (64 B – 4 KiB, 20k, or 500 under `cargo test --benches`)
//!   spread over 64 directories, like a decoded Redis tree: per-file cost dominates;
//! * `large`: four large files of `EKV_BENCH_MIB / 4` each (64 MiB in all by default,
//!   2 MiB quick): SHA-256 speed dominates;
//! * `mixed`: both (hard links to the same files).
//!
//! Each bench reports bytes hashed per second and files per second (`elem/s`).
//! The trees live on tmpfs (`/dev/shm`) when it exists, so the bench measures the
//! hashing and file handling rather than the disk; `EKV_BENCH_TMPDIR` overrides.

mod common;

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, quick_mode, workload_bytes};
use elastickv_codec::tree::checksums::{verify_checksums, write_checksums};
use elastickv_splitmix::SplitMix64;

/// Writes the small files under `root`; returns (files, bytes).
fn small_tree(root: &Path, files: u64, rng: &mut SplitMix64) -> (u64, u64) {
    let mut bytes = 0;
    for i in 0..files {
        let dir = root.join(format!("redis/db_0/d{:02}", i % 64));
        fs::create_dir_all(&dir).expect("create dir");
        let len = rng.range(64, 4097) as usize;
        let body = rng.bytes(len);
        bytes += body.len() as u64;
        fs::write(dir.join(format!("key-{i:08}.json")), body).expect("write file");
    }
    (files, bytes)
}

/// Writes `count` files of `size` bytes under `root/s3`; returns (files, bytes).
fn large_tree(root: &Path, count: u64, size: usize, rng: &mut SplitMix64) -> (u64, u64) {
    let dir = root.join("s3/bucket");
    fs::create_dir_all(&dir).expect("create dir");
    for i in 0..count {
        fs::write(dir.join(format!("object-{i}.bin")), rng.bytes(size)).expect("write file");
    }
    (count, count * size as u64)
}

/// Hard-links every regular file of `from` into `to` at the same relative path.
fn link_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("read dir");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            fs::create_dir_all(&target).expect("create dir");
            link_tree(&entry.path(), &target);
        } else {
            fs::hard_link(entry.path(), target).expect("hard link");
        }
    }
}

fn checksums(c: &mut Criterion) {
    let small_files = if quick_mode() { 500 } else { 20_000 };
    let large_size = workload_bytes() / 4;
    let work = common::work_dir();
    let mut rng = SplitMix64(SEED);
    let small = work.path().join("small");
    let large = work.path().join("large");
    let mixed = work.path().join("mixed");
    let small_stats = small_tree(&small, small_files, &mut rng);
    let large_stats = large_tree(&large, 4, large_size, &mut rng);
    fs::create_dir_all(&mixed).expect("create dir");
    link_tree(&small, &mixed);
    link_tree(&large, &mixed);
    let mixed_stats = (small_stats.0 + large_stats.0, small_stats.1 + large_stats.1);

    let mut group = c.benchmark_group("checksums");
    group.sample_size(10);
    for (name, root, (files, bytes)) in [
        ("small", &small, small_stats),
        ("large", &large, large_stats),
        ("mixed", &mixed, mixed_stats),
    ] {
        write_checksums(root).expect("write CHECKSUMS");
        let verified = verify_checksums(root).expect("verify CHECKSUMS");
        assert_eq!((verified.files, verified.bytes), (files, bytes), "{name}");
        eprintln!("checksums tree {name}: {files} files, {bytes} bytes");
        group.throughput(Throughput::ElementsAndBytes {
            elements: files,
            bytes,
        });
        group.bench_function(BenchmarkId::new("write", name), |b| {
            b.iter(|| write_checksums(black_box(root)).expect("write CHECKSUMS"))
        });
        group.bench_function(BenchmarkId::new("verify", name), |b| {
            b.iter(|| black_box(verify_checksums(black_box(root)).expect("verify CHECKSUMS")))
        });
    }
    group.finish();
}

criterion_group!(benches, checksums);
criterion_main!(benches);
