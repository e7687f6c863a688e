//! The `mixed` profile: a whole cluster's snapshot, all four adapters in one file, as an
//! operator's real snapshot is (a node serves every API at once).
//!
//! It is the four per-adapter profiles at the same scale and seed — `redis-mixed`,
//! `ddb-items`, `s3-large`, `sqs-messages`, so every feature their generators know — with
//! one commit timestamp for every entry (the encoder writes the header's
//! `lastCommitTS` on each entry, so only a single timestamp round-trips byte for byte).
//! `--giant N` adds the Redis giant collections; the S3 giant object is left out (its
//! N is MiB, not elements, and one flag cannot mean both).
//!
//! Each adapter's generator already writes its rows in key order, but the adapters'
//! key ranges interleave (`!ddb|` < `!hs|` … `!redis|` < `!s3|` < `!sqs|` < `!stream|`
//! … `!zs|`), so the four streams are merged: each generator runs on its own thread
//! into a pipe, and a k-way merge by encoded key writes the snapshot. Memory is the
//! pipes' buffers and one entry per stream (at most an S3 chunk, 1 MiB), whatever
//! the scale.

use std::io::{self, Read, Write};
use std::thread;

use elastickv_codec::container::{
    ContainerError, ContainerErrorKind, SnapshotReader, SnapshotWriter, Wrapper,
};
use elastickv_codec::dispatch::Adapter;

use super::{Profile, Summary, Workload};
use super::{dynamodb, redis, s3, sqs};
use crate::model::encode_value;

/// `mixed`: all four adapters in one snapshot.
pub const MIXED: Profile = Profile {
    name: "mixed",
    about: "All four adapters in one snapshot: redis-mixed, ddb-items, s3-large and \
            sqs-messages at the same scale and seed, one commit timestamp (about 1.7 GB \
            per unit of scale); --giant N adds the Redis giant collections",
    adapters: &[Adapter::Redis, Adapter::DynamoDb, Adapter::S3, Adapter::Sqs],
    has_giant: true,
    write: write_mixed,
};

/// The commit timestamp of every entry (and the header's `lastCommitTS`).
pub const MIXED_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 21;

/// A per-adapter generator with an explicit commit timestamp.
type WriteAtFn = fn(&mut dyn Write, &Workload, u64, u64) -> io::Result<Summary>;

/// The parts of `mixed`, in Go's adapter order: each generator and its workload.
fn parts(workload: &Workload) -> [(WriteAtFn, Workload); 4] {
    let at = |profile, giant| Workload {
        profile,
        scale: workload.scale,
        giant,
    };
    [
        (
            redis::write_redis_mixed_at as WriteAtFn,
            at(redis::REDIS_MIXED, workload.giant),
        ),
        (dynamodb::write_ddb_items_at, at(dynamodb::DDB_ITEMS, 0)),
        (s3::write_s3_large_at, at(s3::S3_LARGE, 0)),
        (sqs::write_sqs_messages_at, at(sqs::SQS_MESSAGES, 0)),
    ]
}

/// `mixed`'s writer: the four generators on their own threads, merged by key.
fn write_mixed(out: &mut dyn Write, workload: &Workload, seed: u64) -> io::Result<Summary> {
    thread::scope(|scope| {
        let mut producers = Vec::with_capacity(4);
        let mut streams = Vec::with_capacity(4);
        for (write, part) in parts(workload) {
            let (reader, mut writer) = io::pipe()?;
            producers.push(scope.spawn(move || {
                let written = write(&mut writer, &part, seed, MIXED_COMMIT_TS);
                drop(writer);
                written
            }));
            streams.push(reader);
        }
        // The merge drops the pipes' read ends when it returns, so a producer blocked on
        // a full pipe after a failed merge sees EPIPE instead of waiting forever.
        let merged = merge(out, streams, MIXED_COMMIT_TS);
        let mut keys = 0;
        let (mut cause, mut broken_pipe) = (None, None);
        for producer in producers {
            match producer.join() {
                Ok(Ok(summary)) => keys += summary.keys,
                Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    broken_pipe.get_or_insert(e);
                }
                Ok(Err(e)) => {
                    cause.get_or_insert(e);
                }
                Err(_) => {
                    cause.get_or_insert(io::Error::other("a mixed-profile generator panicked"));
                }
            }
        }
        // A producer's own failure is the cause: the merge only saw its pipe end early
        // (possibly at an entry boundary, which would look like a short, valid stream).
        // A broken pipe is the other way round: the merge failed (the output is full,
        // say) and dropped the read ends, so the merge's error is the one to report.
        if let Some(e) = cause {
            return Err(e);
        }
        let (entries, bytes) = merged?;
        if let Some(e) = broken_pipe {
            return Err(e);
        }
        Ok(Summary {
            entries,
            bytes,
            keys,
            last_commit_ts: MIXED_COMMIT_TS,
        })
    })
}

/// Merges native snapshot streams, each sorted by encoded key, into one snapshot at
/// `commit_ts` written to `out`; returns its entries and bytes.
///
/// # Errors
/// `out`'s errors; `InvalidData` for a stream that is not a native snapshot at
/// `commit_ts`, or a key that two streams both hold or that one holds out of order.
pub fn merge<R: Read>(
    out: &mut dyn Write,
    streams: Vec<R>,
    commit_ts: u64,
) -> io::Result<(u64, u64)> {
    let mut heads = Vec::with_capacity(streams.len());
    for stream in streams {
        let mut head = Head::open(stream, commit_ts)?;
        if head.advance()? {
            heads.push(head);
        }
    }
    let mut writer = SnapshotWriter::new(out, commit_ts)?;
    while let Some(i) = smallest(&heads) {
        let head = &mut heads[i];
        writer.write_entry(&head.key, &head.value)?;
        let previous = std::mem::take(&mut head.key);
        if !head.advance()? {
            heads.swap_remove(i);
        } else if head.key <= previous {
            return Err(invalid(format!(
                "a merged stream's keys are not strictly ascending at {:?}",
                head.key.escape_ascii().to_string()
            )));
        }
        if let Some(dup) = heads.iter().position(|h| h.key == previous) {
            return Err(invalid(format!(
                "two merged streams hold the key {:?} (stream {dup})",
                previous.escape_ascii().to_string()
            )));
        }
    }
    let (entries, bytes) = (writer.entries(), writer.bytes_written());
    writer.finish()?;
    Ok((entries, bytes))
}

/// The index of the head with the smallest key, if any is left.
fn smallest<R>(heads: &[Head<R>]) -> Option<usize> {
    (0..heads.len()).min_by(|&a, &b| heads[a].key.cmp(&heads[b].key))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// One input stream, read by the codec's own container reader, and its current entry
/// (re-encoded as stored, so that every stream's head can be compared at once).
struct Head<R> {
    input: SnapshotReader<R>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl<R: Read> Head<R> {
    /// Reads and checks the header: a native stream at `commit_ts`.
    fn open(input: R, commit_ts: u64) -> io::Result<Self> {
        let input = SnapshotReader::new(input).map_err(unreadable)?;
        let header = input.header();
        if header.wrapper != Wrapper::Native || header.last_commit_ts != commit_ts {
            return Err(invalid(format!(
                "a merged stream is not a native snapshot at {commit_ts} ({header:?})"
            )));
        }
        Ok(Head {
            input,
            key: Vec::new(),
            value: Vec::new(),
        })
    }

    /// Reads the next entry; `false` at a clean end of stream.
    fn advance(&mut self) -> io::Result<bool> {
        let Some(entry) = self.input.next_entry().map_err(unreadable)? else {
            return Ok(false);
        };
        self.key.clear();
        self.key.extend_from_slice(entry.encoded_key);
        self.value.clear();
        encode_value(
            entry.tombstone,
            entry.expire_at,
            entry.body,
            &mut self.value,
        );
        Ok(true)
    }
}

/// A stream the container reader refused; its read errors keep their own kind.
fn unreadable(error: ContainerError) -> io::Error {
    match error.kind() {
        ContainerErrorKind::Io => io::Error::other(error),
        _ => io::Error::new(io::ErrorKind::InvalidData, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::read_snapshot;
    use crate::workload::{Scale, write_snapshot};

    #[test]
    fn every_adapter_sorted_one_timestamp_deterministic() {
        let w = Workload::new(MIXED, Scale::new(0.002).unwrap());
        let (bytes, summary) = write_snapshot(Vec::new(), &w, 3).unwrap();
        assert_eq!(summary.bytes, bytes.len() as u64);
        let read = read_snapshot(&bytes).unwrap();
        assert_eq!(summary.entries, read.entries.len() as u64);
        let keys: Vec<Vec<u8>> = read.entries.iter().map(|e| e.encoded_key()).collect();
        assert!(keys.windows(2).all(|k| k[0] < k[1]), "strictly ascending");
        assert!(read.entries.iter().all(|e| e.commit_ts == MIXED_COMMIT_TS));
        for prefix in [&b"!ddb|"[..], b"!hs|", b"!s3|", b"!sqs|", b"!zs|"] {
            assert!(
                read.entries.iter().any(|e| e.user_key.starts_with(prefix)),
                "{}",
                prefix.escape_ascii()
            );
        }
        assert_eq!(write_snapshot(Vec::new(), &w, 3).unwrap().0, bytes);
    }

    /// The merge is exactly the union of the parts: same rows, same keys counted.
    #[test]
    fn the_parts_are_the_per_adapter_profiles() {
        let mut w = Workload::new(MIXED, Scale::new(0.001).unwrap());
        w.giant = 20;
        let (bytes, summary) = write_snapshot(Vec::new(), &w, 9).unwrap();
        let mut rows = read_snapshot(&bytes).unwrap().entries;
        let mut expected = Vec::new();
        let mut keys = 0;
        for (write, part) in parts(&w) {
            let mut out = Vec::new();
            keys += write(&mut out, &part, 9, MIXED_COMMIT_TS).unwrap().keys;
            expected.extend(read_snapshot(&out).unwrap().entries);
        }
        expected.sort_by_key(|e| e.encoded_key());
        rows.sort_by_key(|e| e.encoded_key());
        assert_eq!(rows, expected);
        assert_eq!(summary.keys, keys);
    }

    /// An output that fills up after `0` bytes.
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The output's error is reported, not the broken pipes it leaves the generators.
    #[test]
    fn a_full_output_is_the_reported_error() {
        let w = Workload::new(MIXED, Scale::new(0.01).unwrap());
        let e = write_mixed(&mut Full(1 << 20), &w, 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    }

    #[test]
    fn merge_refuses_duplicates_disorder_and_other_timestamps() {
        let stream = |ts: u64, keys: &[&[u8]]| {
            let mut w = SnapshotWriter::new(Vec::new(), ts).unwrap();
            for k in keys {
                w.write_entry(k, &[0; 9]).unwrap();
            }
            w.finish().unwrap()
        };
        let merged = |streams: Vec<Vec<u8>>| {
            let readers = streams.iter().map(|s| &s[..]).collect();
            merge(&mut Vec::new(), readers, 5)
        };
        let ok = merged(vec![
            stream(5, &[b"a0000000000", b"c0000000000"]),
            stream(5, &[b"b0000000000"]),
            stream(5, &[]),
        ]);
        assert_eq!(ok.unwrap().0, 3);
        for bad in [
            vec![stream(5, &[b"a0000000000"]), stream(5, &[b"a0000000000"])],
            vec![stream(5, &[b"b0000000000", b"a0000000000"])],
            vec![stream(6, &[b"a0000000000"])],
            vec![stream(5, &[b"a0000000000"])[..20].to_vec()],
        ] {
            let e = merged(bad).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ),
                "{e}"
            );
        }
    }
}
