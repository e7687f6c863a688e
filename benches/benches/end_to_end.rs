//! End-to-end decode and encode of a generated `redis-mixed` snapshot, through the
//! library entry points the `elastickv-snapshot decode` / `encode` subcommands are thin
//! shells over (`pipeline::decode_to_tree`, `pipeline::encode_to_file`), with the CLI's
//! defaults (`--adapter redis`, default sort memory):
//!
//! * `decode`: snapshot → complete tree (adapter files, `MANIFEST.json`, `CHECKSUMS`);
//! * `encode`: that tree → published `.fsm` (+ `.encode_info.json`);
//! * `encode_self_test`: the same with `--self-test` (the produced file is decoded back
//!   from disk and compared with the input tree).
//!
//! The workload is `RedisMix::redis_mixed` (`elastickv_synth::workload::redis`) scaled to
//! about 16 MiB of snapshot (`EKV_BENCH_E2E_MIB` overrides, fractions allowed; 0.5 MiB
//! under `cargo test --benches`). Each bench reports snapshot bytes per second and
//! snapshot records (entries) per second (`elem/s`): read for decode, written for
//! encode.
//!
//! Every iteration writes into a fresh directory made outside the measurement and
//! removed after it. All trees, outputs and scratch space live on tmpfs (`/dev/shm`)
//! when it exists, so the benches measure the code rather than the disk;
//! `EKV_BENCH_TMPDIR=/var/tmp` (any directory) measures a real file system instead.

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
use elastickv_synth::workload::redis::{RedisMix, write_redis_snapshot};

/// Snapshot bytes of `RedisMix::redis_mixed(1.0)`, for turning a size into a scale.
const MIXED_BYTES_AT_SCALE_1: f64 = 150e6;

/// Snapshot size of the workload in MiB: `EKV_BENCH_E2E_MIB`, else 16, or 0.5 in
/// quick mode.
fn workload_mib() -> f64 {
    std::env::var("EKV_BENCH_E2E_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|mib| *mib > 0.0)
        .unwrap_or(if quick_mode() { 0.5 } else { 16.0 })
}

fn decode(input: &Path, output: &Path) -> DecodeOutcome {
    let adapters = parse_decode_adapters("redis").expect("adapter list");
    let request = DecodeRequest::new(input, output, adapters);
    decode_to_tree(&request, &mut NoProgress).expect("decode")
}

fn encode(tree: &Path, output: &Path, scratch: &Path, self_test: bool) -> EncodeOutcome {
    let adapters = parse_encode_adapters("redis").expect("adapter list");
    let mut request = EncodeRequest::new(tree, output, adapters);
    request.self_test = self_test;
    // The CLI's default is the system temp dir; keep the scratch on the bench's
    // file system too.
    request.scratch_root = Some(scratch.to_path_buf());
    encode_to_file(&request, &mut NoProgress).expect("encode")
}

/// A fresh directory under `parent` for one iteration's output, and the output path
/// inside it (which does not exist yet).
fn fresh(parent: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(parent).expect("iteration dir");
    let path = dir.path().join(name);
    (dir, path)
}

fn end_to_end(c: &mut Criterion) {
    let mib = workload_mib();
    let scale = mib * f64::from(1u32 << 20) / MIXED_BYTES_AT_SCALE_1;
    let mix = RedisMix::redis_mixed(scale);
    let work = common::work_dir();
    let input = work.path().join("input.fsm");
    let file = BufWriter::with_capacity(1 << 20, File::create(&input).expect("create input"));
    let (file, generated) = write_redis_snapshot(file, &mix, SEED).expect("generate snapshot");
    file.into_inner()
        .expect("flush input")
        .flush()
        .expect("flush input");
    let scratch = work.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch dir");
    let runs = work.path().join("runs");
    std::fs::create_dir(&runs).expect("runs dir");

    // The encoders' input, and a sanity check of the workload.
    let tree = work.path().join("tree");
    let decoded = decode(&input, &tree);
    assert_eq!(decoded.scan.counters.entries, generated.entries);
    // Self-tested, so a broken round trip fails here rather than being measured. (The
    // encoder may write more entries than the generator: collection TTLs also get
    // their own `!redis|ttl|` rows.)
    let encoded = encode(&tree, &work.path().join("check.fsm"), &scratch, true);
    eprintln!(
        "redis-mixed workload (scale {scale:.4}): {} keys, {} entries, {} bytes; tree of {} files; encoded {} entries, {} bytes",
        generated.keys,
        generated.entries,
        generated.bytes,
        decoded.files,
        encoded.entries,
        encoded.bytes
    );

    let id = |name: &str| BenchmarkId::new(name, format!("redis_mixed_{mib}MiB"));
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);

    group.throughput(Throughput::ElementsAndBytes {
        elements: generated.entries,
        bytes: generated.bytes,
    });
    group.bench_function(id("decode"), |b| {
        b.iter_batched(
            || fresh(&runs, "tree"),
            |(dir, output)| {
                black_box(decode(&input, &output).files);
                // Dropped, and so removed, outside the measurement.
                dir
            },
            BatchSize::PerIteration,
        )
    });

    group.throughput(Throughput::ElementsAndBytes {
        elements: encoded.entries,
        bytes: encoded.bytes,
    });
    for (name, self_test) in [("encode", false), ("encode_self_test", true)] {
        group.bench_function(id(name), |b| {
            b.iter_batched(
                || fresh(&runs, "out.fsm"),
                |(dir, output)| {
                    black_box(encode(&tree, &output, &scratch, self_test).bytes);
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
