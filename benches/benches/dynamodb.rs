//! DynamoDB throughput on the `ddb-items` workload (scale 0.1 by default, 20k items;
//! `EKV_BENCH_DDB_SCALE` overrides; 0.005 under `cargo test --benches`):
//!
//! * decode: the snapshot → `dynamodb/` in a fresh directory, per-item files and
//!   JSONL bundles (the file writes included, the removal of the tree not);
//! * encode: the per-item tree → a snapshot into `io::sink()`.
//!
//! Each reports records per second (`elem/s`: snapshot entries read, or written) and
//! bytes per second. The trees and scratch space live on tmpfs (`/dev/shm`) when it
//! exists; `EKV_BENCH_TMPDIR` overrides.

mod common;

use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, quick_mode};
use elastickv_codec::adapter::DEFAULT_DYNAMODB_BUNDLE_BYTES;
use elastickv_codec::adapters::dynamodb::DEFAULT_MEMORY_BUDGET;
use elastickv_codec::assemble::encode_tree_to;
use elastickv_codec::container::BuildSummary;
use elastickv_codec::sort::SortOptions;
use elastickv_synth::dynamodb::decode_snapshot;
use elastickv_synth::workload::{Profile, Scale, Workload, write_snapshot};

fn scale() -> f64 {
    if quick_mode() {
        return 0.005;
    }
    std::env::var("EKV_BENCH_DDB_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1)
}

fn encode(root: &Path, ts: u64, scratch: &Path) -> BuildSummary {
    let sort = SortOptions {
        memory_budget: DEFAULT_MEMORY_BUDGET,
        scratch_dir: scratch.to_path_buf(),
    };
    encode_tree_to(
        root,
        &[&elastickv_codec::adapters::dynamodb::SPEC],
        ts,
        sort,
        io::sink(),
    )
    .expect("encode")
}

fn dynamodb(c: &mut Criterion) {
    let profile: Profile = "ddb-items".parse().expect("profile");
    let scale = scale();
    let workload = Workload::new(profile, Scale::new(scale).expect("scale"));
    let (snapshot, summary) = write_snapshot(Vec::new(), &workload, SEED).expect("generate");
    let work = common::work_dir();
    let input = work.path().join("input.fsm");
    std::fs::write(&input, &snapshot).expect("write snapshot");
    let scratch = work.path().join("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let tree = work.path().join("tree");
    decode_snapshot(&input, &tree, &scratch, DEFAULT_MEMORY_BUDGET, None).expect("decode");
    let encoded = encode(&tree, summary.last_commit_ts, &scratch);
    eprintln!(
        "ddb-items at scale {scale}: {} items, {} entries, {} bytes; encoded {} entries",
        summary.keys, summary.entries, summary.bytes, encoded.entries
    );

    let mut group = c.benchmark_group("dynamodb");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: summary.entries,
        bytes: summary.bytes,
    });
    for (layout, bundle) in [
        ("per_item", None),
        ("jsonl", Some(DEFAULT_DYNAMODB_BUNDLE_BYTES)),
    ] {
        let decode_once = || {
            let out = tempfile::tempdir_in(work.path()).expect("output dir");
            let tree = out.path().join("t");
            let decoded = decode_snapshot(&input, &tree, &scratch, DEFAULT_MEMORY_BUDGET, bundle)
                .expect("decode");
            black_box(decoded.0.counters.entries);
            out
        };
        group.bench_function(BenchmarkId::new(format!("decode_{layout}"), scale), |b| {
            b.iter_batched(|| (), |()| decode_once(), BatchSize::PerIteration)
        });
    }
    group.throughput(Throughput::ElementsAndBytes {
        elements: encoded.entries,
        bytes: encoded.bytes,
    });
    group.bench_function(BenchmarkId::new("encode", scale), |b| {
        b.iter(|| black_box(encode(&tree, summary.last_commit_ts, &scratch)))
    });
    group.finish();
}

criterion_group!(benches, dynamodb);
criterion_main!(benches);
