//! SST-ingest (`EKVSSTI1`) against the native stream (`EKVPBBL1`) holding the same
//! rows: the SST-ingest snapshot a real node wrote, and its rows rewritten as a live
//! `EKVPBBL1` file (EKVTHLC1 header, same entries and `_meta_*` rows, CRC32C footer).
//! Each is read through its reader and the visibility filter, from a file on disk as
//! decode reads it, and decoded whole (Redis adapter) as the CLI does. Reported in
//! input bytes per second; the verification pass of `EKVSSTI1` (every table's SHA-256
//! and the outer CRC32C, before any row is used) is also measured alone.
//!
//! `scaled_*` do the same on larger twins of a generated workload
//! (`elastickv_synth::sst::twins`: redis-mixed at scale 0.2, about 34 MB as
//! EKVPBBL1 and 22 MB as EKVSSTI1, several index partitions and Snappy blocks as
//! pebble writes them). Both are reported in bytes of the EKVPBBL1 file, so their
//! throughputs compare the two containers on the same data directly;
//! `scaled_decode_*` decode them whole with the CLI's default writer threads (put
//! `TMPDIR` on a tmpfs: on a disk the file syncs of about 54,000 files dominate).

use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use elastickv_codec::container::sst::SstIngestReader;
use elastickv_codec::container::{SnapshotReader, SnapshotWriter};
use elastickv_codec::dispatch::Adapter;
use elastickv_codec::mvcc::{Verdict, Visibility};
use elastickv_codec::pipeline::{DecodeRequest, NoProgress, decode_to_tree, default_jobs};
use elastickv_synth::model::wrap_runtime_v1;
use elastickv_synth::sst::twins;
use elastickv_synth::workload::{Profile, Scale, Workload, write_snapshot};

const SST: &[u8] =
    include_bytes!("../../codec/tests/fixtures/real-node/sst-ingest-0000000000000259.fsm");

/// The same rows as a live native file.
fn native_twin() -> Vec<u8> {
    let mut reader = SstIngestReader::new(Cursor::new(SST)).expect("valid fixture");
    let mut writer = SnapshotWriter::new(Vec::new(), reader.header().last_commit_ts).expect("mem");
    while let Some(entry) = reader.next_entry().expect("valid fixture") {
        let mut value = vec![u8::from(entry.tombstone)];
        value.extend_from_slice(&entry.expire_at.to_le_bytes());
        value.extend_from_slice(entry.body);
        writer.write_entry(entry.encoded_key, &value).expect("mem");
    }
    let meta = reader.store_meta();
    for (key, v) in [
        (&b"_meta_applied_index"[..], meta.applied_index),
        (b"_meta_last_commit_ts", meta.last_commit_ts),
        (b"_meta_min_retained_ts", meta.min_retained_ts),
    ] {
        if let Some(v) = v {
            writer.write_entry(key, &v.to_le_bytes()).expect("mem");
        }
    }
    wrap_runtime_v1(&writer.finish().expect("mem"), 1)
}

/// Reads `path` through its reader and the visibility filter; the visible entries.
fn read_visible(path: &Path, sst: bool) -> u64 {
    let file = std::fs::File::open(path).expect("open");
    let mut visibility = Visibility::new();
    let mut visible = 0u64;
    let mut count = |verdict| visible += u64::from(verdict == Ok(Verdict::Visible));
    if sst {
        let mut reader = SstIngestReader::open_file(file).expect("valid");
        while let Some(entry) = reader.next_entry().expect("valid") {
            count(visibility.observe(&entry));
        }
    } else {
        let mut reader = SnapshotReader::new(file).expect("valid");
        while let Some(entry) = reader.next_entry().expect("valid") {
            count(visibility.observe(&entry));
        }
    }
    visible
}

/// The whole decode (Redis adapter, tree written with `jobs` writers, MANIFEST and
/// CHECKSUMS) of `path`, as the CLI runs it.
fn decode_whole(b: &mut criterion::Bencher<'_>, path: &Path, jobs: usize) {
    b.iter_batched(
        || tempfile::tempdir().expect("tempdir"),
        |out| {
            let adapters = [Adapter::Redis].into_iter().collect();
            let mut request = DecodeRequest::new(path, out.path().join("t"), adapters);
            request.jobs = jobs;
            let outcome = decode_to_tree(&request, &mut NoProgress).expect("decodes");
            black_box(outcome.files);
            out
        },
        BatchSize::PerIteration,
    )
}

/// The same generated rows as both containers.
fn scaled(c: &mut Criterion) {
    let profile: Profile = "redis-mixed".parse().expect("profile");
    let workload = Workload::new(profile, Scale::new(0.2).expect("scale"));
    let (snapshot, _) = write_snapshot(Vec::new(), &workload, 1).expect("mem");
    let twins = twins(&snapshot).expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    let sst_path = dir.path().join("sst.fsm");
    let native_path = dir.path().join("native.fsm");
    std::fs::write(&sst_path, &twins.sst).expect("write");
    std::fs::write(&native_path, &twins.native).expect("write");
    assert_eq!(
        read_visible(&sst_path, true),
        read_visible(&native_path, false)
    );
    let mut group = c.benchmark_group("live");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(twins.native.len() as u64));
    for (name, path, sst) in [
        ("scaled_ekvssti1", &sst_path, true),
        ("scaled_ekvpbbl1", &native_path, false),
    ] {
        group.bench_function(name, |b| b.iter(|| black_box(read_visible(path, sst))));
    }
    for (name, path) in [
        ("scaled_decode_ekvssti1", &sst_path),
        ("scaled_decode_ekvpbbl1", &native_path),
    ] {
        group.bench_function(name, |b| decode_whole(b, path, default_jobs()));
    }
    group.finish();
}

fn live(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sst_path = dir.path().join("sst.fsm");
    let native_path = dir.path().join("native.fsm");
    std::fs::write(&sst_path, SST).expect("write");
    std::fs::write(&native_path, native_twin()).expect("write");
    let mut group = c.benchmark_group("live");
    group.sample_size(20);
    for (name, path) in [("ekvssti1", &sst_path), ("ekvpbbl1", &native_path)] {
        let len = std::fs::metadata(path).expect("stat").len();
        group.throughput(Throughput::Bytes(len));
        group.bench_function(name, |b| {
            b.iter(|| black_box(read_visible(path, name == "ekvssti1")))
        });
    }
    // The whole decode (Redis adapter, tree written, MANIFEST and CHECKSUMS), as the
    // CLI runs it; throughput in input bytes.
    for (name, path) in [
        ("decode_ekvssti1", &sst_path),
        ("decode_ekvpbbl1", &native_path),
    ] {
        let len = std::fs::metadata(path).expect("stat").len();
        group.throughput(Throughput::Bytes(len));
        group.bench_function(name, |b| decode_whole(b, path, 1));
    }
    group.throughput(Throughput::Bytes(SST.len() as u64));
    group.bench_function("ekvssti1_verification_pass", |b| {
        b.iter(|| {
            let file = std::fs::File::open(&sst_path).expect("open");
            black_box(SstIngestReader::new(file).expect("valid").length())
        })
    });
    group.finish();
}

criterion_group!(benches, live, scaled);
criterion_main!(benches);
