//! SQS throughput on the `sqs-messages` workload (scale 0.05 by default, about 15k
//! messages; `EKV_BENCH_SQS_SCALE` overrides; 0.002 under `cargo test --benches`):
//!
//! * decode: the workload's store rows → `sqs/` in a fresh directory (the adapter
//!   alone: external sorts, line rendering, file writes);
//! * encode: that tree → a snapshot into `io::sink()`.
//!
//! Each reports messages per second (`elem/s`) and snapshot bytes per second from
//! one measurement. Trees and scratch live where `common::work_dir` says.

mod common;

use std::hint::black_box;
use std::io;
use std::path::Path;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::quick_mode;
use elastickv_codec::adapters::sqs::{SPEC, SqsDecodeOptions};
use elastickv_codec::assemble::encode_tree_to;
use elastickv_codec::container::{BuildSummary, SnapshotReader};
use elastickv_codec::sort::SortOptions;
use elastickv_synth::sqs::drive::decode_rows;
use elastickv_synth::workload::{Scale, Workload, sqs::SQS_MESSAGES, write_snapshot};

const SORT_BUDGET: usize = 64 << 20;

fn scale() -> f64 {
    std::env::var("EKV_BENCH_SQS_SCALE")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(if quick_mode() { 0.002 } else { 0.05 })
}

fn sort(scratch: &Path) -> SortOptions {
    SortOptions {
        memory_budget: SORT_BUDGET,
        scratch_dir: scratch.to_path_buf(),
    }
}

fn encode(root: &Path, ts: u64, scratch: &Path) -> BuildSummary {
    encode_tree_to(root, &[&SPEC], ts, sort(scratch), io::sink()).expect("encode")
}

fn sqs(c: &mut Criterion) {
    let scale = scale();
    let workload = Workload::new(SQS_MESSAGES, Scale::new(scale).expect("scale"));
    let (snapshot, summary) = write_snapshot(Vec::new(), &workload, 7).expect("generate");
    let mut reader = SnapshotReader::new(&snapshot[..]).expect("snapshot");
    let mut rows = Vec::new();
    while let Some(entry) = reader.next_entry().expect("entry") {
        rows.push((entry.user_key.to_vec(), entry.body.to_vec()));
    }
    let messages = rows
        .iter()
        .filter(|(k, _)| k.starts_with(b"!sqs|msg|data|"))
        .count() as u64;
    let work = common::work_dir();
    let scratch = work.path().join("scratch");
    let options = || SqsDecodeOptions {
        sort: sort(&scratch),
        ..SqsDecodeOptions::default()
    };
    let tree = work.path().join("tree");
    decode_rows(rows.iter().map(|(k, v)| (&k[..], &v[..])), &tree, options()).expect("decode");
    let encoded = encode(&tree, summary.last_commit_ts, &scratch);
    eprintln!(
        "sqs workload: scale {scale}, {messages} messages; snapshot {} records, {} bytes; \
         encoded {} records, {} bytes",
        summary.entries,
        snapshot.len(),
        encoded.entries,
        encoded.bytes
    );

    let mut group = c.benchmark_group("sqs");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: messages,
        bytes: snapshot.len() as u64,
    });
    group.bench_function(
        BenchmarkId::new("decode", format!("{messages}_messages")),
        |b| {
            b.iter_batched(
                || (),
                |()| {
                    let out = tempfile::tempdir_in(work.path()).expect("output dir");
                    let rows = rows.iter().map(|(k, v)| (&k[..], &v[..]));
                    black_box(decode_rows(rows, out.path(), options()).expect("decode"));
                    // Returned so that removing the tree happens outside the measurement.
                    out
                },
                BatchSize::PerIteration,
            )
        },
    );
    group.throughput(Throughput::ElementsAndBytes {
        elements: messages,
        bytes: encoded.bytes,
    });
    group.bench_function(
        BenchmarkId::new("encode", format!("{messages}_messages")),
        |b| b.iter(|| black_box(encode(&tree, summary.last_commit_ts, &scratch))),
    );
    group.finish();
}

criterion_group!(benches, sqs);
criterion_main!(benches);
