use std::io::Read;

use super::{ContainerError, Footer, Header};

/// One MVCC entry, borrowed from the reader's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Byte offset of the entry's keyLen field in the input file.
    pub offset: u64,
    /// `user_key ‖ BE64(!commit_ts)`, as stored.
    pub encoded_key: &'a [u8],
    /// The MVCC-stripped key.
    pub user_key: &'a [u8],
    /// Commit timestamp (HLC).
    pub commit_ts: u64,
    /// Value-header tombstone flag.
    pub tombstone: bool,
    /// MVCC-level expiry from the value header (read, never used by any adapter).
    pub expire_at: u64,
    /// The value after the 9-byte header; may be empty.
    pub body: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// Validates and splits one entry, in the Go decoder's check order: short key,
    /// short value, reserved flag bits, encryption state.
    pub fn parse(
        offset: u64,
        encoded_key: &'a [u8],
        encoded_value: &'a [u8],
    ) -> Result<Self, ContainerError> {
        let _ = (offset, encoded_key, encoded_value);
        todo!("container helper")
    }
}

/// Streaming reader over a snapshot file: native `EKVPBBL1` or runtime-wrapped.
pub struct SnapshotReader<R> {
    input: R,
    header: Header,
}

impl<R: Read> SnapshotReader<R> {
    /// Reads and validates the header(s).
    pub fn new(input: R) -> Result<Self, ContainerError> {
        let _ = input;
        todo!("container helper")
    }

    /// The header read by [`SnapshotReader::new`].
    pub fn header(&self) -> Header {
        self.header
    }

    /// The next MVCC entry, or `None` after a clean end (footer verified if present).
    /// Raw store rows of runtime snapshots are skipped and counted.
    pub fn next_entry(&mut self) -> Result<Option<EntryRef<'_>>, ContainerError> {
        let _ = &mut self.input;
        todo!("container helper")
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        todo!("container helper")
    }

    /// How the stream ended; `None` until `next_entry` has returned `Ok(None)`.
    pub fn footer(&self) -> Option<Footer> {
        todo!("container helper")
    }

    /// Raw (non-MVCC) store rows skipped so far.
    pub fn raw_rows_skipped(&self) -> u64 {
        todo!("container helper")
    }
}
