//! Container read and write throughput on a ~64 MiB snapshot of mixed entry sizes
//! (`EKV_BENCH_MIB` overrides the size), in snapshot bytes and entries per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, encoded, records, snapshot_bytes, workload_bytes, wrap_runtime};
use elastickv_codec::container::{SnapshotReader, SnapshotWriter};

/// Reads every entry and touches its fields so nothing is optimised away.
fn read_all(bytes: &[u8]) -> u64 {
    let mut reader = SnapshotReader::new(bytes).expect("valid snapshot");
    let mut sum = 0u64;
    while let Some(entry) = reader.next_entry().expect("valid snapshot") {
        sum = sum
            .wrapping_add(entry.commit_ts)
            .wrapping_add(entry.body.len() as u64)
            .wrapping_add(entry.user_key.len() as u64);
    }
    sum
}

fn container(c: &mut Criterion) {
    let records = records(workload_bytes(), SEED);
    let pairs = encoded(&records);
    let native = snapshot_bytes(&records);
    drop(records);
    let runtime = wrap_runtime(&native);

    let mut group = c.benchmark_group("container");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: pairs.len() as u64,
        bytes: native.len() as u64,
    });
    group.bench_function("read_native", |b| b.iter(|| read_all(black_box(&native))));
    group.bench_function("read_runtime_crc32c", |b| {
        b.iter(|| read_all(black_box(&runtime)))
    });
    group.bench_function("write", |b| {
        b.iter(|| {
            let mut writer =
                SnapshotWriter::new(Vec::with_capacity(native.len()), 1).expect("memory");
            for (key, value) in &pairs {
                writer.write_entry(key, value).expect("memory");
            }
            black_box(writer.finish().expect("memory").len())
        })
    });
    group.finish();
}

criterion_group!(benches, container);
criterion_main!(benches);
