//! The S3 profile: a streaming generator of S3 snapshots in the live layout
//! (docs/format.md §3.2), for workloads too large to build in memory.
//!
//! One bucket, generation 1, rows in ascending key order without sorting anything:
//! `!s3|blob|` (every object's 1 MiB chunks, objects in key order) <
//! `!s3|bucket|gen|` < `!s3|bucket|meta|` < `!s3|obj|head|`. Objects are stored as the
//! encoder restores them (one part of 1 MiB chunks under the restore upload id, the
//! codec's own manifest and bucket renderers, a millisecond `last_modified_hlc`), so
//! `encode(decode(snapshot))` reproduces the snapshot byte for byte. Object keys are
//! fixed-width within their group (`big/…` < `giant/…` < `small/…`) and an object's
//! size is a pure function of the seed and its index, so the manifests written after
//! all chunks agree with them. Memory stays one chunk whatever the size.
//!
//! `s3-large` at scale 1: 200 objects of 1–10 MiB and 20k objects of 256 B–4 KiB,
//! about 1.1 GiB. `--giant N` adds one object of N MiB (the case a decoder that
//! holds a body in memory would blow up on).

use std::io::{self, Write};

use elastickv_codec::adapters::s3::docs::{
    PublicBucket, RESTORE_UPLOAD_ID, Sidecar, hlc_to_rfc3339, render_live_bucket,
    render_live_manifest,
};
use elastickv_codec::adapters::s3::keys::{self, ChunkKey, ObjectId};
use elastickv_codec::container::{SnapshotWriter, encode_key};
use elastickv_codec::dispatch::Adapter;
use elastickv_splitmix::SplitMix64;

use super::{Profile, Summary, Workload};

/// `s3-large`.
pub const S3_LARGE: Profile = Profile {
    name: "s3-large",
    about: "S3, one bucket: per unit of scale 200 objects of 1-10 MiB and 20k objects of \
            256 B-4 KiB in 1 MiB chunks (about 1.1 GiB); --giant N adds one N MiB object",
    adapters: &[Adapter::S3],
    has_giant: true,
    write: write_s3_large,
};

/// The commit timestamp of every generated entry.
pub const S3_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 9;

const BUCKET: &[u8] = b"large";
const CHUNK: u64 = 1 << 20;

/// How many objects of which sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Mix {
    /// Large objects, each `1..=10` MiB.
    pub big: u64,
    /// Small objects, each 256 B–4 KiB.
    pub small: u64,
    /// MiB of the one giant object (0: none).
    pub giant_mib: u64,
}

impl S3Mix {
    /// `s3-large` at `scale`.
    pub fn s3_large(scale: f64) -> Self {
        let scaled = |n: u64| ((n as f64) * scale).round() as u64;
        S3Mix {
            big: scaled(200),
            small: scaled(20_000),
            giant_mib: 0,
        }
    }
}

fn write_s3_large(out: &mut dyn Write, workload: &Workload, seed: u64) -> io::Result<Summary> {
    write_s3_large_at(out, workload, seed, S3_COMMIT_TS)
}

/// `s3-large` with every entry (and the header) at `commit_ts`: the S3 part of the
/// `mixed` profile, whose adapters share one timestamp.
pub(super) fn write_s3_large_at(
    out: &mut dyn Write,
    workload: &Workload,
    seed: u64,
    commit_ts: u64,
) -> io::Result<Summary> {
    let mut mix = S3Mix::s3_large(workload.scale.get());
    mix.giant_mib = workload.giant;
    write_s3_at(out, &mix, seed, commit_ts).map(|(_, s)| s)
}

/// One object of the workload: key and size.
fn objects(mix: &S3Mix, seed: u64) -> impl Iterator<Item = (Vec<u8>, u64)> + '_ {
    let size_of = move |group: u64, i: u64, lo: u64, hi: u64| {
        SplitMix64(seed ^ (group << 56) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).range(lo, hi + 1)
    };
    let big = (0..mix.big).map(move |i| {
        (
            format!("big/obj-{i:08}").into_bytes(),
            size_of(1, i, CHUNK, 10 * CHUNK),
        )
    });
    let giant = (mix.giant_mib > 0).then(|| (b"giant/obj".to_vec(), mix.giant_mib * CHUNK));
    let small = (0..mix.small).map(move |i| {
        (
            format!("small/obj-{i:08}").into_bytes(),
            size_of(2, i, 256, 4096),
        )
    });
    big.chain(giant).chain(small)
}

/// Writes `mix` as a native snapshot into `out` (buffer it), sorted like a live node's.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_s3_snapshot<W: Write>(out: W, mix: &S3Mix, seed: u64) -> io::Result<(W, Summary)> {
    write_s3_at(out, mix, seed, S3_COMMIT_TS)
}

/// [`write_s3_snapshot`] with every entry (and the header) at `commit_ts`.
fn write_s3_at<W: Write>(
    out: W,
    mix: &S3Mix,
    seed: u64,
    commit_ts: u64,
) -> io::Result<(W, Summary)> {
    let mut writer = SnapshotWriter::new(out, commit_ts)?;
    let mut rng = SplitMix64(seed);
    let mut buf = vec![0u8; CHUNK as usize];
    let mut encoded = Vec::new();
    let mut put = |writer: &mut SnapshotWriter<W>, key: &[u8], value: &[u8]| {
        encoded.clear();
        encode_key(key, commit_ts, &mut encoded);
        writer.begin_entry(&encoded, 9 + value.len() as u64)?;
        writer.write_value(&[0; 9])?;
        writer.write_value(value)
    };
    let mut keys_written = 0;
    for (object, size) in objects(mix, seed) {
        keys_written += 1;
        let mut chunk = ChunkKey {
            id: ObjectId {
                bucket: BUCKET.to_vec(),
                generation: 1,
                object,
            },
            upload_id: RESTORE_UPLOAD_ID.as_bytes().to_vec(),
            part_no: 1,
            chunk_no: 0,
            part_version: 0,
        };
        let mut left = size;
        while left > 0 {
            let n = left.min(CHUNK) as usize;
            rng.fill(&mut buf[..n]);
            put(&mut writer, &keys::chunk_key(keys::BLOB, &chunk), &buf[..n])?;
            chunk.chunk_no += 1;
            left -= n as u64;
        }
    }
    put(
        &mut writer,
        &keys::bucket_gen_key(BUCKET),
        &1u64.to_be_bytes(),
    )?;
    let bucket = PublicBucket {
        format_version: 1,
        name: String::from_utf8_lossy(BUCKET).into_owned(),
        owner: "bench".into(),
        region: "r1".into(),
        acl: "private".into(),
    };
    put(
        &mut writer,
        &keys::bucket_meta_key(BUCKET),
        &render_live_bucket(&bucket),
    )?;
    for (object, size) in objects(mix, seed) {
        let mut sizes = vec![CHUNK; (size / CHUNK) as usize];
        if size % CHUNK > 0 {
            sizes.push(size % CHUNK);
        }
        let sidecar = Sidecar {
            format_version: 1,
            etag: "e".into(),
            size_bytes: size as i64,
            last_modified: hlc_to_rfc3339(commit_ts),
            content_type: "application/octet-stream".into(),
            ..Sidecar::default()
        };
        let manifest = render_live_manifest(&sidecar, &sizes);
        put(
            &mut writer,
            &keys::obj_head_key(BUCKET, 1, &object),
            &manifest,
        )?;
    }
    let entries = writer.entries();
    let bytes = writer.bytes_written();
    let out = writer.finish()?;
    Ok((
        out,
        Summary {
            entries,
            bytes,
            keys: keys_written,
            last_commit_ts: commit_ts,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::read_snapshot;

    #[test]
    fn rows_are_sorted_and_sizes_agree_with_manifests() {
        let mix = S3Mix {
            big: 2,
            small: 3,
            giant_mib: 3,
        };
        let (bytes, summary) = write_s3_snapshot(Vec::new(), &mix, 5).unwrap();
        let read = read_snapshot(&bytes).unwrap();
        assert_eq!(summary.entries, read.entries.len() as u64);
        assert_eq!(summary.keys, 6);
        assert!(
            read.entries
                .windows(2)
                .all(|w| w[0].encoded_key() < w[1].encoded_key())
        );
        let blob_bytes: usize = read
            .entries
            .iter()
            .filter(|e| e.user_key.starts_with(keys::BLOB))
            .map(|e| e.body.len())
            .sum();
        let declared: u64 = objects(&mix, 5).map(|(_, s)| s).sum();
        assert_eq!(blob_bytes as u64, declared);
        let (again, _) = write_s3_snapshot(Vec::new(), &mix, 5).unwrap();
        assert_eq!(bytes, again);
    }
}
