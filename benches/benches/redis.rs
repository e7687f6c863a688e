//! Redis throughput on a generated database of mixed types (100k keys by default,
//! `EKV_BENCH_REDIS_KEYS` overrides; 2k under `cargo test --benches`):
//!
//! * decode: the live-layout snapshot → `redis/db_0/` in a fresh directory (the file
//!   writes included, the removal of the tree not);
//! * encode: that tree → a snapshot into `io::sink()` (external sort in memory).
//!
//! Each reports records per second (`elem/s`: snapshot entries read, or written) and
//! bytes per second (snapshot bytes read, or written) from one measurement
//! (`Throughput::ElementsAndBytes`).
//!
//! Decode writes one file per key, so on a disk it measures file creation and
//! writeback more than the codec (an order of magnitude slower on a VM disk): the
//! trees and scratch space live on tmpfs (`/dev/shm`) when it exists;
//! `EKV_BENCH_TMPDIR=/var/tmp` (any directory) measures a real file system instead.

mod common;

use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, redis_keys, redis_workload};
use elastickv_codec::adapters::redis::DEFAULT_MEMORY_BUDGET;
use elastickv_codec::assemble::encode_tree_to;
use elastickv_codec::container::BuildSummary;
use elastickv_codec::sort::SortOptions;
use elastickv_synth::redis::decode_snapshot;

fn encode(root: &Path, ts: u64, scratch: &Path) -> BuildSummary {
    let sort = SortOptions {
        memory_budget: DEFAULT_MEMORY_BUDGET,
        scratch_dir: scratch.to_path_buf(),
    };
    encode_tree_to(
        root,
        &[&elastickv_codec::adapters::redis::SPEC],
        ts,
        sort,
        io::sink(),
    )
    .expect("encode")
}

fn redis(c: &mut Criterion) {
    let keys = redis_keys();
    let workload = redis_workload(keys, SEED);
    let work = common::work_dir();
    let input = work.path().join("input.fsm");
    std::fs::write(&input, &workload.snapshot).expect("write snapshot");
    let scratch = work.path().join("scratch");
    let tree = work.path().join("tree");
    decode_snapshot(&input, &tree, &scratch, DEFAULT_MEMORY_BUDGET).expect("decode");
    let encoded = encode(&tree, workload.last_commit_ts, &scratch);
    eprintln!(
        "redis workload: {keys} keys {:?}; snapshot {} records, {} bytes; encoded {} records, {} bytes",
        workload.kinds,
        workload.records,
        workload.snapshot.len(),
        encoded.entries,
        encoded.bytes
    );

    let decode_once = || {
        let out = tempfile::tempdir_in(work.path()).expect("output dir");
        let decoded =
            decode_snapshot(&input, out.path(), &scratch, DEFAULT_MEMORY_BUDGET).expect("decode");
        black_box(decoded.scan.counters.entries);
        // Returned so that removing the tree happens outside the measurement.
        out
    };
    let mut group = c.benchmark_group("redis");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: workload.records,
        bytes: workload.snapshot.len() as u64,
    });
    group.bench_function(BenchmarkId::new("decode", format!("{keys}_keys")), |b| {
        b.iter_batched(|| (), |()| decode_once(), BatchSize::PerIteration)
    });
    group.throughput(Throughput::ElementsAndBytes {
        elements: encoded.entries,
        bytes: encoded.bytes,
    });
    group.bench_function(BenchmarkId::new("encode", format!("{keys}_keys")), |b| {
        b.iter(|| black_box(encode(&tree, workload.last_commit_ts, &scratch)))
    });
    group.finish();
}

criterion_group!(benches, redis);
criterion_main!(benches);
