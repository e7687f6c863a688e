//! Owned entries, the reference model of the visible state, and snapshot writers.
//!
//! [`Entry`] is the workspace's one owned copy of a container entry: the generators
//! write it, the property tests and fuzz oracles read snapshots back into it, the
//! benches build their workloads from it.

use std::collections::BTreeMap;

use elastickv_codec::container::{
    ContainerError, EntryRef, FLAG_TOMBSTONE, Footer, Header, SnapshotReader, SnapshotWriter,
    encode_key,
};
use elastickv_codec::dispatch::{self, AdapterSet, Counters};
use elastickv_codec::mvcc::MvccStats;

/// One MVCC version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The MVCC-stripped key.
    pub user_key: Vec<u8>,
    /// Commit timestamp.
    pub commit_ts: u64,
    /// Tombstone flag.
    pub tombstone: bool,
    /// The value header's expiry (read and ignored by every adapter).
    pub expire_at: u64,
    /// The value after the 9-byte header.
    pub body: Vec<u8>,
}

impl Entry {
    /// `user_key ‖ BE64(!commit_ts)`.
    pub fn encoded_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.user_key.len() + 8);
        encode_key(&self.user_key, self.commit_ts, &mut key);
        key
    }

    /// `flags ‖ LE64(expire_at) ‖ body`.
    pub fn encoded_value(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(9 + self.body.len());
        encode_value(self.tombstone, self.expire_at, &self.body, &mut value);
        value
    }

    /// Bytes this entry takes in a stream (both length fields included).
    pub fn stream_len(&self) -> usize {
        16 + self.user_key.len() + 8 + 9 + self.body.len()
    }
}

/// Appends a value as a container stores it, `flags ‖ LE64(expire_at) ‖ body`: what
/// a reader's entry came from, so a stream can be copied entry by entry.
pub fn encode_value(tombstone: bool, expire_at: u64, body: &[u8], out: &mut Vec<u8>) {
    out.push(if tombstone { FLAG_TOMBSTONE } else { 0 });
    out.extend_from_slice(&expire_at.to_le_bytes());
    out.extend_from_slice(body);
}

impl From<&EntryRef<'_>> for Entry {
    /// Copies what the reader yielded (the encoded key is derived, so it is not kept).
    fn from(entry: &EntryRef<'_>) -> Self {
        Entry {
            user_key: entry.user_key.to_vec(),
            commit_ts: entry.commit_ts,
            tombstone: entry.tombstone,
            expire_at: entry.expire_at,
            body: entry.body.to_vec(),
        }
    }
}

/// A snapshot's worth of versions: `(user_key, commit_ts)` pairs are distinct (so
/// encoded keys are too), in generation order — not sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySet {
    /// The header's `lastCommitTS`.
    pub last_commit_ts: u64,
    /// The versions.
    pub entries: Vec<Entry>,
}

impl EntrySet {
    /// The entries ascending by encoded key: the order a snapshot must have.
    pub fn sorted(&self) -> Vec<&Entry> {
        let mut keyed: Vec<(Vec<u8>, &Entry)> =
            self.entries.iter().map(|e| (e.encoded_key(), e)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.into_iter().map(|(_, e)| e).collect()
    }

    /// The entries in the order `permutation` gives (indices into `entries`).
    pub fn permuted(&self, permutation: &[usize]) -> Vec<&Entry> {
        permutation.iter().map(|&i| &self.entries[i]).collect()
    }

    /// The reference visible state: per user key the version with the highest commit
    /// timestamp, absent when that version is a tombstone.
    pub fn visible(&self) -> BTreeMap<Vec<u8>, &Entry> {
        self.newest()
            .into_iter()
            .filter(|(_, e)| !e.tombstone)
            .collect()
    }

    /// Per user key its newest version, tombstones included.
    pub fn newest(&self) -> BTreeMap<Vec<u8>, &Entry> {
        let mut newest: BTreeMap<Vec<u8>, &Entry> = BTreeMap::new();
        for entry in &self.entries {
            let slot = newest.entry(entry.user_key.clone()).or_insert(entry);
            if entry.commit_ts > slot.commit_ts {
                *slot = entry;
            }
        }
        newest
    }

    /// What `mvcc::Visibility` must count over this set.
    pub fn mvcc_stats(&self) -> MvccStats {
        let newest = self.newest();
        let deleted = newest.values().filter(|e| e.tombstone).count() as u64;
        let keys = newest.len() as u64;
        let versions = self.entries.len() as u64;
        MvccStats {
            versions,
            visible: keys - deleted,
            shadowed: versions - keys,
            deleted,
        }
    }

    /// The Go decoder's counters over every version (computed with the codec's own
    /// routing table, so this checks counting, not routing).
    pub fn counters(&self, enabled: AdapterSet) -> Counters {
        let mut counters = Counters::default();
        for entry in &self.entries {
            counters.count(dispatch::classify(
                &entry.user_key,
                entry.tombstone,
                enabled,
            ));
        }
        counters
    }

    /// Whether `order` is strictly ascending by encoded key.
    pub fn is_sorted(order: &[&Entry]) -> bool {
        order
            .windows(2)
            .all(|w| w[0].encoded_key() < w[1].encoded_key())
    }
}

/// Writes `entries`, in the given order, as a native snapshot with `SnapshotWriter`.
///
/// # Panics
/// When writing to memory fails (it cannot).
pub fn write_snapshot<'a>(
    last_commit_ts: u64,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Vec<u8> {
    let mut writer = SnapshotWriter::new(Vec::new(), last_commit_ts).expect("in-memory write");
    for entry in entries {
        writer
            .write_entry(&entry.encoded_key(), &entry.encoded_value())
            .expect("in-memory write");
    }
    writer.finish().expect("in-memory write")
}

/// The set as a sorted snapshot (ascending encoded key).
pub fn write_sorted(set: &EntrySet) -> Vec<u8> {
    write_snapshot(set.last_commit_ts, set.sorted())
}

/// The set as a snapshot in `permutation` order.
pub fn write_shuffled(set: &EntrySet, permutation: &[usize]) -> Vec<u8> {
    write_snapshot(set.last_commit_ts, set.permuted(permutation))
}

/// The snapshot a specification-level encoder would write, byte by byte, without the
/// codec: used to check `SnapshotWriter` itself.
pub fn reference_bytes<'a>(
    last_commit_ts: u64,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Vec<u8> {
    let mut out = b"EKVPBBL1".to_vec();
    out.extend_from_slice(&last_commit_ts.to_le_bytes());
    for entry in entries {
        let key = entry.encoded_key();
        let value = entry.encoded_value();
        out.extend_from_slice(&(key.len() as u64).to_le_bytes());
        out.extend_from_slice(&key);
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        out.extend_from_slice(&value);
    }
    out
}

/// Wraps a native stream the way a live node writes `fsm-snap/<index>.fsm`:
/// `EKVTHLC1 ‖ BE64 ceiling ‖ stream ‖ BE32 CRC32C(everything before)`.
pub fn wrap_runtime_v1(native: &[u8], ceiling_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(native.len() + 20);
    out.extend_from_slice(b"EKVTHLC1");
    out.extend_from_slice(&ceiling_ms.to_be_bytes());
    out.extend_from_slice(native);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Offsets at which the entries of `entries` end in a native stream, header first
/// (`[16, 16 + len(e0), …]`): the only prefix lengths that are themselves valid.
pub fn boundaries<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<usize> {
    let mut at = 16;
    let mut out = vec![at];
    for entry in entries {
        at += entry.stream_len();
        out.push(at);
    }
    out
}

/// What reading a snapshot gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The header.
    pub header: Header,
    /// Entries in stream order.
    pub entries: Vec<Entry>,
    /// How the stream ended.
    pub footer: Option<Footer>,
    /// Bytes consumed.
    pub consumed: u64,
}

/// Reads a whole snapshot into owned entries.
pub fn read_snapshot(bytes: &[u8]) -> Result<Read, ContainerError> {
    let mut reader = SnapshotReader::new(bytes)?;
    let header = reader.header();
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        entries.push(Entry::from(&entry));
    }
    Ok(Read {
        header,
        entries,
        footer: reader.footer(),
        consumed: reader.offset(),
    })
}
