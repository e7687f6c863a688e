//! Redis throughput on a generated database of mixed types (100k keys by default,
//! `EKV_BENCH_REDIS_KEYS` overrides; 2k under `cargo test --benches`):
//!
//! * decode: the live-layout snapshot → `redis/db_0/` in a fresh directory (the file
//!   writes included, the removal of the tree not);
//! * encode: that tree → a snapshot into `io::sink()` (external sort in memory).
//!
//! Each is measured twice: records per second (`Throughput::Elements`: snapshot
//! entries read, or written) and bytes per second (`Throughput::Bytes`: snapshot bytes
//! read, or written).
//!
//! Decode writes one file per key, so on a slow disk it measures file creation more
//! than the codec: `TMPDIR=/dev/shm cargo bench -p elastickv-benches --bench redis`
//! puts the trees on tmpfs.

use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, redis_keys, redis_workload};
use elastickv_codec::container::BuildSummary;
use elastickv_codec::encode::encode_tree_to;
use elastickv_codec::redis::DEFAULT_MEMORY_BUDGET;
use elastickv_codec::sort::SortOptions;
use elastickv_proptests::redis::{decode_snapshot, redis_only};

fn encode(root: &Path, ts: u64, scratch: &Path) -> BuildSummary {
    let sort = SortOptions {
        memory_budget: DEFAULT_MEMORY_BUDGET,
        scratch_dir: scratch.to_path_buf(),
    };
    encode_tree_to(root, redis_only(), ts, sort, io::sink()).expect("encode")
}

fn redis(c: &mut Criterion) {
    let keys = redis_keys();
    let workload = redis_workload(keys, SEED);
    let work = tempfile::tempdir().expect("work dir");
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
    for (group, throughput) in [
        (
            "redis_decode_records",
            Throughput::Elements(workload.records),
        ),
        (
            "redis_decode_bytes",
            Throughput::Bytes(workload.snapshot.len() as u64),
        ),
    ] {
        let mut group = c.benchmark_group(group);
        group.sample_size(10);
        group.throughput(throughput);
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter_batched(|| (), |()| decode_once(), BatchSize::PerIteration)
        });
        group.finish();
    }

    for (group, throughput) in [
        (
            "redis_encode_records",
            Throughput::Elements(encoded.entries),
        ),
        ("redis_encode_bytes", Throughput::Bytes(encoded.bytes)),
    ] {
        let mut group = c.benchmark_group(group);
        group.sample_size(10);
        group.throughput(throughput);
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter(|| black_box(encode(&tree, workload.last_commit_ts, &scratch)))
        });
        group.finish();
    }
}

criterion_group!(benches, redis);
criterion_main!(benches);
