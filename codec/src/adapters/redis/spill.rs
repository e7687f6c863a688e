//! Scratch-space plumbing of the Redis decoder: external sorts keyed by user key.
//!
//! Everything the decoder cannot write the moment a record arrives (collection
//! elements, TTL rows waiting for their key's type) goes through an
//! [`ExternalSorter`], so memory stays bounded by the sort budgets however large the
//! snapshot is. Sort keys start with the user key in an order-preserving,
//! prefix-free form ([`push_key`]), so a sorted stream visits user keys in raw byte
//! order, as Go's `sort.Strings`-ordered flush does, and all records of one key are
//! adjacent.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sort::{ExternalSorter, SortOptions, SortedRecords};

use super::error::{RedisError, Result};

/// Appends the sortable form of `key`: every `00` becomes `00 FF` and the key ends
/// with `00 00`.
///
/// Comparing two encoded keys (followed by anything) compares the raw keys: the
/// terminator sorts below any continuation, an escaped zero sorts below every other
/// byte but above the terminator. No encoded key is a prefix of another.
pub fn push_key(out: &mut Vec<u8>, key: &[u8]) {
    let mut parts = key.split(|&b| b == 0);
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(&[0, 0xFF]);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&[0, 0]);
}

/// Reads a key written by [`push_key`] at the start of `encoded` into `out`
/// (replacing its contents); returns the number of encoded bytes, or `None` when
/// `encoded` does not start with a well-formed key.
pub fn read_key(encoded: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    out.clear();
    let mut at = 0;
    loop {
        let zero = encoded.get(at..)?.iter().position(|&b| b == 0)?;
        out.extend_from_slice(&encoded[at..at + zero]);
        at += zero;
        match *encoded.get(at + 1)? {
            0 => return Some(at + 2),
            0xFF => {
                out.push(0);
                at += 2;
            }
            _ => return None,
        }
    }
}

/// A big-endian `u64` at `at`, if the bytes are there.
pub fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(chunk.try_into().ok()?))
}

/// Scratch records that do not have the shape this module wrote: the scratch disk
/// changed under us. Reported as an I/O error, never a panic.
pub fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis scratch record is damaged: {what}"),
    )
}

/// Where and with how much memory the decoder's sorts run, and how many runs they
/// spilled so far (counted when a sort finishes).
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    dir: PathBuf,
    runs: Arc<AtomicU64>,
}

impl Scratch {
    /// Sorts spilling into `dir`.
    pub fn new(dir: &Path) -> Self {
        Scratch {
            dir: dir.to_path_buf(),
            runs: Arc::default(),
        }
    }

    /// Runs spilled by the sorts finished so far.
    pub fn runs_spilled(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }
}

/// An external sorter whose errors name the scratch directory.
pub struct Spill {
    sorter: ExternalSorter,
    scratch: Scratch,
    memory_budget: usize,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("records", &self.sorter.len())
            .field("runs_spilled", &self.sorter.runs_spilled())
            .field("scratch_dir", &self.scratch.dir)
            .finish()
    }
}

impl Spill {
    /// A sorter buffering up to `memory_budget` bytes before it spills to `scratch_dir`.
    pub fn new(scratch: &Scratch, memory_budget: usize) -> Self {
        Spill {
            sorter: ExternalSorter::new(SortOptions {
                memory_budget: memory_budget.max(1),
                scratch_dir: scratch.dir.clone(),
            }),
            scratch: scratch.clone(),
            memory_budget,
        }
    }

    /// Takes the records pushed so far, leaving an empty sorter configured alike.
    pub fn take(&mut self) -> Spill {
        let empty = Spill::new(&self.scratch, self.memory_budget);
        std::mem::replace(self, empty)
    }

    /// Adds a record.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.sorter
            .push(key, value)
            .map_err(|e| RedisError::io("spill to scratch in", &self.scratch.dir, e))
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.sorter.is_empty()
    }

    /// Sorts and positions a cursor on the first record.
    pub fn finish(self) -> Result<Cursor> {
        let Spill {
            sorter, scratch, ..
        } = self;
        scratch
            .runs
            .fetch_add(sorter.runs_spilled(), Ordering::Relaxed);
        let scratch_dir = scratch.dir;
        let records = sorter
            .finish()
            .map_err(|e| RedisError::io("sort in scratch", &scratch_dir, e))?;
        let mut cursor = Cursor {
            records,
            scratch_dir,
        };
        cursor.advance()?;
        Ok(cursor)
    }
}

/// Sorted records, read one at a time: [`Cursor::current`] stays valid until
/// [`Cursor::advance`], so a reader can look at a record before deciding whether it
/// belongs to the group it is reading.
pub struct Cursor {
    records: SortedRecords,
    scratch_dir: PathBuf,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("scratch_dir", &self.scratch_dir)
            .finish_non_exhaustive()
    }
}

impl Cursor {
    /// The record under the cursor; `None` after the last.
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        self.records.current()
    }

    /// Moves to the next record.
    pub fn advance(&mut self) -> Result<()> {
        self.records.advance().map(drop).map_err(|e| self.error(e))
    }

    /// An error reading back from scratch.
    pub fn error(&self, err: io::Error) -> RedisError {
        RedisError::io("read back from scratch in", &self.scratch_dir, err)
    }

    /// Positions on the first record of the next user key and reads that key:
    /// `skip` bytes of the sort key precede it. Returns the length of the sort-key
    /// prefix that identifies the group (`skip` plus the encoded key), or `None` at
    /// the end.
    pub fn group(&self, skip: usize, user_key: &mut Vec<u8>) -> Result<Option<usize>> {
        let Some((key, _)) = self.current() else {
            return Ok(None);
        };
        let len = key
            .get(skip..)
            .and_then(|rest| read_key(rest, user_key))
            .ok_or_else(|| self.error(corrupt("sort key without a user key")))?;
        Ok(Some(skip + len))
    }
}

/// At most this many of the encoder's sorts hold memory at once: a type directory's
/// listing, its TTL sidecar and its view of the KEYMAP.
const LIVE_SORTS: usize = 3;

/// Where the encoder's sorts spill and how much each may buffer.
#[derive(Debug, Clone)]
pub struct SortSpace {
    scratch: Scratch,
    dir: PathBuf,
    budget: usize,
}

impl SortSpace {
    /// Sorts spilling under `options.scratch_dir`, sharing `options.memory_budget`.
    pub fn new(options: &SortOptions) -> Self {
        SortSpace {
            scratch: Scratch::new(&options.scratch_dir),
            dir: options.scratch_dir.clone(),
            budget: (options.memory_budget / LIVE_SORTS).max(1),
        }
    }

    /// A new, empty sort.
    pub fn sorter(&self) -> Spill {
        Spill::new(&self.scratch, self.budget)
    }

    /// The scratch directory, for naming it in errors.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the finished sorts spilled so far.
    pub fn runs_spilled(&self) -> u64 {
        self.scratch.runs_spilled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(key: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_key(&mut out, key);
        out
    }

    #[test]
    fn encoded_keys_sort_like_raw_keys_and_round_trip() {
        let keys: [&[u8]; 9] = [
            b"", b"\0", b"\0\0", b"\0\x01", b"\x01", b"a", b"a\0", b"a\0b", b"ab",
        ];
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1]);
            // Whatever follows the key, the order is that of the raw keys.
            let lo = [enc(pair[0]), vec![0xFF; 3]].concat();
            let hi = [enc(pair[1]), vec![0x00; 3]].concat();
            assert!(lo < hi, "{pair:?}");
        }
        let mut out = Vec::new();
        for key in keys {
            let encoded = [enc(key), b"tail".to_vec()].concat();
            assert_eq!(read_key(&encoded, &mut out), Some(enc(key).len()));
            assert_eq!(out, key);
        }
        assert_eq!(read_key(b"abc", &mut out), None, "no terminator");
        assert_eq!(read_key(b"a\0\x05", &mut out), None, "bad escape");
        assert_eq!(read_key(b"a\0", &mut out), None, "truncated");
    }

    #[test]
    fn be64_is_bounds_checked() {
        assert_eq!(be64(&[0, 0, 0, 0, 0, 0, 0, 7], 0), Some(7));
        assert_eq!(be64(&[0; 8], 1), None);
        assert_eq!(be64(&[0; 8], usize::MAX), None);
    }
}
