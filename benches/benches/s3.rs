//! End-to-end S3 decode and encode of a generated `s3-large` snapshot, through the
//! library entry points of `elastickv-snapshot decode` / `encode` (`--adapter s3`,
//! default sort memory):
//!
//! * `decode`: snapshot → complete tree (object bodies streamed out of the scratch
//!   data log, sidecars, `MANIFEST.json`, `CHECKSUMS`);
//! * `encode`: that tree → published `.fsm` (bodies re-chunked at 1 MiB).
//!
//! The workload is `S3Mix::s3_large` scaled to about 32 MiB of snapshot
//! (`EKV_BENCH_S3_MIB` overrides; 1 MiB under `cargo test --benches`). Throughput is
//! reported in snapshot bytes and objects per second. Trees and scratch live on tmpfs
//! when it exists (`EKV_BENCH_TMPDIR` picks another directory).

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, quick_mode};
use elastickv_codec::pipeline::adapters::{parse_decode_adapters, parse_encode_adapters};
use elastickv_codec::pipeline::{
    DecodeOutcome, DecodeRequest, EncodeOutcome, EncodeRequest, NoProgress, decode_to_tree,
    encode_to_file,
};
use elastickv_synth::workload::s3::{S3Mix, write_s3_snapshot};

/// Snapshot bytes of `S3Mix::s3_large(1.0)`.
const LARGE_BYTES_AT_SCALE_1: f64 = 1.15e9;

fn workload_mib() -> f64 {
    std::env::var("EKV_BENCH_S3_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|mib| *mib > 0.0)
        .unwrap_or(if quick_mode() { 1.0 } else { 32.0 })
}

fn decode(input: &Path, output: &Path) -> DecodeOutcome {
    let adapters = parse_decode_adapters("s3").expect("adapter list");
    let request = DecodeRequest::new(input, output, adapters);
    decode_to_tree(&request, &mut NoProgress).expect("decode")
}

fn encode(tree: &Path, output: &Path, scratch: &Path) -> EncodeOutcome {
    let adapters = parse_encode_adapters("s3").expect("adapter list");
    let mut request = EncodeRequest::new(tree, output, adapters);
    request.scratch_root = Some(scratch.to_path_buf());
    encode_to_file(&request, &mut NoProgress).expect("encode")
}

fn fresh(parent: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(parent).expect("iteration dir");
    let path = dir.path().join(name);
    (dir, path)
}

fn s3_end_to_end(c: &mut Criterion) {
    let mib = workload_mib();
    let mut mix = S3Mix::s3_large(mib * f64::from(1u32 << 20) / LARGE_BYTES_AT_SCALE_1);
    // At least one large and a few small objects, whatever the scale.
    mix.big = mix.big.max(1);
    mix.small = mix.small.max(16);
    let work = common::work_dir();
    let input = work.path().join("input.fsm");
    let file = BufWriter::with_capacity(1 << 20, File::create(&input).expect("create input"));
    let (file, generated) = write_s3_snapshot(file, &mix, SEED).expect("generate snapshot");
    file.into_inner()
        .expect("flush input")
        .flush()
        .expect("flush input");
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch dir");
    let runs = work.path().join("runs");
    std::fs::create_dir(&runs).expect("runs dir");
    let tree = work.path().join("tree");
    let decoded = decode(&input, &tree);
    assert_eq!(decoded.scan.counters.entries, generated.entries);
    let encoded = encode(&tree, &work.path().join("check.fsm"), &scratch);
    eprintln!(
        "s3-large workload ({} big, {} small objects): {} entries, {} bytes; tree of {} files; encoded {} entries, {} bytes",
        mix.big,
        mix.small,
        generated.entries,
        generated.bytes,
        decoded.files,
        encoded.entries,
        encoded.bytes
    );

    let id = |name: &str| BenchmarkId::new(name, format!("s3_large_{mib}MiB"));
    let mut group = c.benchmark_group("s3");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: generated.keys,
        bytes: generated.bytes,
    });
    group.bench_function(id("decode"), |b| {
        b.iter_batched(
            || fresh(&runs, "tree"),
            |(dir, output)| {
                black_box(decode(&input, &output).files);
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function(id("encode"), |b| {
        b.iter_batched(
            || fresh(&runs, "out.fsm"),
            |(dir, output)| {
                black_box(encode(&tree, &output, &scratch).bytes);
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, s3_end_to_end);
criterion_main!(benches);
