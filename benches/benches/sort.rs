//! External sort of a shuffled snapshot's entries: with a small memory budget (runs
//! spill to scratch and are merged) and with everything in memory. Reported in
//! entries and bytes (key + value + 16 per entry, as in a snapshot) per second.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, encoded, quick_mode, records};
use elastickv_codec::sort::{ExternalSorter, SortOptions};
use elastickv_splitmix::SplitMix64;

fn sort(c: &mut Criterion) {
    let size = if quick_mode() { 1 << 20 } else { 16 << 20 };
    let mut pairs = encoded(&records(size, SEED));
    SplitMix64(SEED ^ 1).shuffle(&mut pairs);
    let bytes: u64 = pairs
        .iter()
        .map(|(k, v)| (k.len() + v.len() + 16) as u64)
        .sum();
    let scratch = tempfile::tempdir().expect("scratch dir");

    let mut group = c.benchmark_group("external_sort");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: pairs.len() as u64,
        bytes,
    });
    // 256 KiB forces dozens of runs (and, with fan-in 8, multi-level merges).
    for (name, budget, fan_in) in [
        ("spill_256KiB_fanin8", 256 << 10, 8),
        ("spill_1MiB", 1 << 20, 64),
        ("in_memory", 1 << 30, 64),
    ] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut sorter = ExternalSorter::new(SortOptions {
                    memory_budget: budget,
                    scratch_dir: scratch.path().to_path_buf(),
                })
                .with_max_fan_in(fan_in);
                for (key, value) in &pairs {
                    sorter.push(key, value).expect("scratch I/O");
                }
                let mut sorted = sorter.finish().expect("scratch I/O");
                let mut n = 0u64;
                while let Some((key, _)) = sorted.next().expect("scratch I/O") {
                    n += key.len() as u64;
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sort);
criterion_main!(benches);
