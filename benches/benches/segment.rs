//! File-name encoding: `encode_segment` on short, escaped and over-long (SHA fallback)
//! keys, `encode_binary_segment` on 32-byte binary keys, and `decode_segment` of the
//! short, escaped and binary (`b64.`) names (SHA-fallback names do not decode: they
//! need KEYMAP). Reported in names per second and input bytes (keys for encoding,
//! names for decoding) per second.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_benches::{SEED, segment_inputs};
use elastickv_codec::tree::segment::{decode_segment, encode_binary_segment, encode_segment};

/// One element per key or name, and their total length.
fn elements_and_bytes<T: AsRef<[u8]>>(items: &[T]) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: items.len() as u64,
        bytes: items.iter().map(|i| i.as_ref().len() as u64).sum(),
    }
}

fn segment(c: &mut Criterion) {
    let inputs = segment_inputs(SEED);
    let mut group = c.benchmark_group("segment");
    for (name, keys) in &inputs {
        group.throughput(elements_and_bytes(keys));
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                keys.iter()
                    .map(|k| encode_segment(black_box(k)).len())
                    .sum::<usize>()
            })
        });
    }
    let pick = |wanted: &str| {
        inputs
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, keys)| keys)
            .expect("segment inputs")
    };
    let binary = pick("binary");
    group.throughput(elements_and_bytes(binary));
    group.bench_function(BenchmarkId::new("encode_binary", "binary"), |b| {
        b.iter(|| {
            binary
                .iter()
                .map(|k| encode_binary_segment(black_box(k)).len())
                .sum::<usize>()
        })
    });
    let names =
        |wanted: &str| -> Vec<String> { pick(wanted).iter().map(|k| encode_segment(k)).collect() };
    let decode_inputs: [(&str, Vec<String>); 3] = [
        ("short", names("short")),
        ("escaped", names("escaped")),
        (
            "binary",
            binary.iter().map(|k| encode_binary_segment(k)).collect(),
        ),
    ];
    for (name, names) in &decode_inputs {
        assert!(names.iter().all(|n| decode_segment(n).is_ok()), "{name}");
        group.throughput(elements_and_bytes(names));
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| {
                names
                    .iter()
                    .map(|n| decode_segment(black_box(n)).map_or(0, |v| v.len()))
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
