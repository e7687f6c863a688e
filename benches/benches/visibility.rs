//! MVCC visibility filtering: `EntryRef::parse` + `Visibility::observe` over many small
//! multi-version entries (extensions of keys interleave versions), and the same
//! through the reader. Reported in entries and snapshot bytes per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, encoded, quick_mode, snapshot_bytes, versioned_records};
use elastickv_codec::container::{EntryRef, SnapshotReader};
use elastickv_codec::mvcc::{Verdict, Visibility};

fn visibility(c: &mut Criterion) {
    let count = if quick_mode() { 20_000 } else { 1_000_000 };
    let records = versioned_records(count, SEED);
    let pairs = encoded(&records);
    let bytes = snapshot_bytes(&records);

    let mut group = c.benchmark_group("visibility");
    group.sample_size(20);
    group.throughput(Throughput::ElementsAndBytes {
        elements: pairs.len() as u64,
        bytes: bytes.len() as u64,
    });
    group.bench_function("observe", |b| {
        b.iter(|| {
            let mut visibility = Visibility::new();
            let mut visible = 0u64;
            for (offset, (key, value)) in pairs.iter().enumerate() {
                let entry = EntryRef::parse(offset as u64, key, value).expect("valid entry");
                if visibility.observe(&entry) == Ok(Verdict::Visible) {
                    visible += 1;
                }
            }
            black_box(visible)
        })
    });
    group.bench_function("read_and_observe", |b| {
        b.iter(|| {
            let mut reader = SnapshotReader::new(black_box(&bytes[..])).expect("valid");
            let mut visibility = Visibility::new();
            let mut visible = 0u64;
            while let Some(entry) = reader.next_entry().expect("valid") {
                if visibility.observe(&entry) == Ok(Verdict::Visible) {
                    visible += 1;
                }
            }
            black_box(visible)
        })
    });
    group.finish();
}

criterion_group!(benches, visibility);
criterion_main!(benches);
