//! `archive pack` throughput (`archive::pack_stream`: list and sort the paths and the
//! CHECKSUMS rows, read and hash every file on a pool of workers, write Go's tar bytes,
//! optionally zstd) into a sink, both with every file verified while it is packed
//! (`pack/…`, what `--output FILE` does) and verified first (`pack-verify-first/…`,
//! `--output -`, two reads once the tar exceeds 32 MiB), over a decoded-tree-like mix:
//! many small files (64 B – 4 KiB, 20k, or 500 under `cargo test --benches`) in 64
//! directories plus four large files (`EKV_BENCH_MIB / 4` each). Reports bytes per
//! second of file content and files per second. `benches/archive-vs-tar.sh` compares
//! the whole command with `tar -c | zstd` on a real tree.

mod common;

use std::fs;
use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, quick_mode, workload_bytes};
use elastickv_codec::archive::{Compression, Verification, pack_stream};
use elastickv_codec::pipeline::NoProgress;
use elastickv_codec::tree::checksums::write_checksums;
use elastickv_codec::tree::manifest::Manifest;
use elastickv_codec::tree::walltime::WallTime;
use elastickv_splitmix::SplitMix64;

/// Writes the tree and its MANIFEST/CHECKSUMS; returns (files, bytes).
fn build_tree(root: &Path, small: u64, large_size: usize, rng: &mut SplitMix64) -> (u64, u64) {
    let mut bytes = 0;
    for i in 0..small {
        let dir = root.join(format!("redis/db_0/d{:02}", i % 64));
        fs::create_dir_all(&dir).expect("create dir");
        let len = rng.range(64, 4097) as usize;
        bytes += len as u64;
        fs::write(dir.join(format!("key-{i:08}.json")), rng.bytes(len)).expect("write file");
    }
    let dir = root.join("s3/bucket");
    fs::create_dir_all(&dir).expect("create dir");
    for i in 0..4 {
        fs::write(dir.join(format!("object-{i}.bin")), rng.bytes(large_size)).expect("write");
        bytes += large_size as u64;
    }
    Manifest::new_phase0(WallTime::from_unix(1_700_000_000, 0).expect("time"))
        .write_file(root)
        .expect("manifest");
    write_checksums(root).expect("checksums");
    (small + 4, bytes)
}

fn archive(c: &mut Criterion) {
    let small = if quick_mode() { 500 } else { 20_000 };
    let work = common::work_dir();
    let root = work.path().join("tree");
    let (files, bytes) = build_tree(&root, small, workload_bytes() / 4, &mut SplitMix64(SEED));
    eprintln!("archive tree: {files} files, {bytes} bytes");
    let mut group = c.benchmark_group("archive_pack");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: files,
        bytes,
    });
    for (name, verification) in [
        ("pack", Verification::WhilePacking),
        ("pack-verify-first", Verification::First),
    ] {
        for compression in [Compression::None, Compression::Zstd] {
            group.bench_function(BenchmarkId::new(name, compression.name()), |b| {
                b.iter(|| {
                    let summary = pack_stream(
                        black_box(&root),
                        io::sink(),
                        compression,
                        verification,
                        &mut NoProgress,
                    )
                    .expect("pack");
                    assert_eq!(summary.files, files + 2);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, archive);
criterion_main!(benches);
