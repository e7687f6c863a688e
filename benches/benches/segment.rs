//! File-name encoding: `encode_segment` on short, escaped and over-long (SHA fallback)
//! keys, `encode_binary_segment` on 32-byte binary keys, and `decode_segment`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, segment_inputs};
use elastickv_codec::tree::segment::{decode_segment, encode_binary_segment, encode_segment};

fn segment(c: &mut Criterion) {
    let inputs = segment_inputs(SEED);
    let mut group = c.benchmark_group("segment");
    for (name, keys) in &inputs {
        group.throughput(Throughput::Elements(keys.len() as u64));
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                keys.iter()
                    .map(|k| encode_segment(black_box(k)).len())
                    .sum::<usize>()
            })
        });
    }
    let (_, binary) = inputs
        .iter()
        .find(|(name, _)| *name == "binary")
        .expect("binary inputs");
    group.throughput(Throughput::Elements(binary.len() as u64));
    group.bench_function(BenchmarkId::new("encode_binary", "binary"), |b| {
        b.iter(|| {
            binary
                .iter()
                .map(|k| encode_binary_segment(black_box(k)).len())
                .sum::<usize>()
        })
    });
    let (_, escaped) = inputs
        .iter()
        .find(|(name, _)| *name == "escaped")
        .expect("escaped inputs");
    let names: Vec<String> = escaped.iter().map(|k| encode_segment(k)).collect();
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function(BenchmarkId::new("decode", "escaped"), |b| {
        b.iter(|| {
            names
                .iter()
                .map(|n| decode_segment(black_box(n)).map_or(0, |v| v.len()))
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
