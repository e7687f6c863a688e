//! What every adapter's conformance tests share: the entries of a vector's snapshot,
//! copied out of the reader and sorted as the scan driver hands them over, and which
//! adapter owns a key.

use std::fs;
use std::path::Path;

use crate::container::{EntryRef, SnapshotReader};
use crate::dispatch::{Adapter, Owner, route};

/// An entry copied out of the reader.
pub(crate) struct Owned {
    pub(crate) offset: u64,
    pub(crate) encoded_key: Vec<u8>,
    pub(crate) user_len: usize,
    pub(crate) commit_ts: u64,
    pub(crate) tombstone: bool,
    pub(crate) expire_at: u64,
    pub(crate) body: Vec<u8>,
}

impl Owned {
    pub(crate) fn entry(&self) -> EntryRef<'_> {
        EntryRef {
            offset: self.offset,
            encoded_key: &self.encoded_key,
            user_key: self.user_key(),
            commit_ts: self.commit_ts,
            tombstone: self.tombstone,
            expire_at: self.expire_at,
            body: &self.body,
        }
    }

    pub(crate) fn user_key(&self) -> &[u8] {
        &self.encoded_key[..self.user_len]
    }
}

/// Every entry of `path`, sorted by encoded key (the driver sorts unsorted input too).
pub(crate) fn read_sorted(path: &Path) -> Option<Vec<Owned>> {
    let file = fs::File::open(path).ok()?;
    let mut reader = SnapshotReader::new(std::io::BufReader::new(file)).ok()?;
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry().ok()? {
        entries.push(Owned {
            offset: e.offset,
            encoded_key: e.encoded_key.to_vec(),
            user_len: e.user_key.len(),
            commit_ts: e.commit_ts,
            tombstone: e.tombstone,
            expire_at: e.expire_at,
            body: e.body.to_vec(),
        });
    }
    entries.sort_by(|a, b| a.encoded_key.cmp(&b.encoded_key));
    Some(entries)
}

/// Whether `adapter` owns `user_key`.
pub(crate) fn owned_by(adapter: Adapter, user_key: &[u8]) -> bool {
    route(user_key).is_some_and(|p| p.owner == Owner::Adapter(adapter))
}
