//! The snapshot container: a header followed by length-prefixed MVCC entries.
//!
//! ```text
//! "EKVPBBL1" | LE64 lastCommitTS | { LE64 keyLen | userKey ‖ BE64(!commitTS) | LE64 valLen | flags ‖ LE64 expireAt ‖ body }*
//! ```
//!
//! Live nodes wrap that stream in an `EKVTHLC1`/`EKVTHLC2` header and append a CRC32C
//! footer, and iterate raw (non-MVCC) store rows into it; [`SnapshotReader`] accepts all
//! of that, where the Go decoder accepts only the bare stream (docs/format.md §1.2).
//! With `ELASTICKV_PEBBLE_SST_INGEST_SNAPSHOT` a node writes `EKVSSTI1` instead: a
//! manifest and Pebble sstables, read by [`sst`] (§1.6). [`datadir`] finds the snapshot
//! in a node's directory and [`offload`] checks footer-less offload payloads (§1.5).

mod builder;
pub mod datadir;
mod error;
pub mod offload;
mod reader;
mod runtime;
pub mod sst;
mod writer;

pub use builder::{BuildError, BuildSummary, SnapshotBuilder};
pub use error::{ContainerError, ContainerErrorKind};
pub use reader::{EntryRef, SnapshotReader, StoreMeta};
pub use runtime::{
    FOOTER_LEN, Footer, HLC_V1_MAGIC, HLC_V2_MAGIC, MVCC_STREAM_MAGIC, SST_INGEST_MAGIC, Wrapper,
};
pub use writer::SnapshotWriter;

/// Magic of the native Pebble entry stream.
pub const MAGIC: [u8; 8] = *b"EKVPBBL1";
/// Size of the inverted commit-timestamp suffix of every encoded key.
pub const TS_SIZE: usize = 8;
/// `flags(1) ‖ LE64 expireAt`.
pub const VALUE_HEADER_SIZE: usize = 9;
/// Largest user key the store accepts.
pub const MAX_USER_KEY: usize = 1 << 20;
/// Largest user value the store accepts.
pub const MAX_USER_VALUE: usize = 256 << 20;
/// Encryption envelope overhead (12 nonce + 16 tag + 6 AAD header) the value cap allows for.
pub const ENVELOPE_MAX: usize = 34;
/// Largest encoded key length the reader accepts (inclusive).
pub const MAX_ENCODED_KEY: u64 = (MAX_USER_KEY + TS_SIZE) as u64;
/// Largest encoded value length the reader accepts (inclusive).
pub const MAX_ENCODED_VALUE: u64 = (MAX_USER_VALUE + VALUE_HEADER_SIZE + ENVELOPE_MAX) as u64;

/// Value-header flag: the entry is a tombstone.
pub const FLAG_TOMBSTONE: u8 = 0x01;
/// Value-header bits holding the encryption state.
pub const FLAG_ENCRYPTION_MASK: u8 = 0x06;
/// Value-header bits that must be zero.
pub const FLAG_RESERVED_MASK: u8 = 0xF8;

/// What the reader learned before the first entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The runtime wrapper in front of the native stream, if any.
    pub wrapper: Wrapper,
    /// The native stream's `lastCommitTS` (an HLC: 48 bits of milliseconds, 16 logical).
    pub last_commit_ts: u64,
}

/// Appends `user_key ‖ BE64(!commit_ts)` to `out`.
pub fn encode_key(user_key: &[u8], commit_ts: u64, out: &mut Vec<u8>) {
    out.reserve(user_key.len() + TS_SIZE);
    out.extend_from_slice(user_key);
    out.extend_from_slice(&(!commit_ts).to_be_bytes());
}

/// Splits an encoded key into the user key and its commit timestamp.
/// `None` when the key is shorter than the timestamp suffix.
pub fn split_key(encoded_key: &[u8]) -> Option<(&[u8], u64)> {
    let split = encoded_key.len().checked_sub(TS_SIZE)?;
    let (user_key, suffix) = encoded_key.split_at(split);
    let suffix: [u8; TS_SIZE] = suffix.try_into().ok()?;
    Some((user_key, !u64::from_be_bytes(suffix)))
}

/// Appends the value header the encoder always writes (cleartext, no expiry) and `body`.
pub fn encode_live_value(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(VALUE_HEADER_SIZE + body.len());
    out.push(0);
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// docs/format.md §1.1: Redis string `a` = `x` at T = 5.
    pub(crate) const WORKED_EXAMPLE: [u8; 65] = [
        0x45, 0x4b, 0x56, 0x50, 0x42, 0x42, 0x4c, 0x31, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, // header
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // keyLen 20
        0x21, 0x72, 0x65, 0x64, 0x69, 0x73, 0x7c, 0x73, 0x74, 0x72, 0x7c, 0x61, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xfa, // "!redis|str|a" ‖ BE(^5)
        0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // valLen 13
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x78,
    ];

    #[test]
    fn key_suffix_is_inverted_big_endian() {
        let mut key = Vec::new();
        encode_key(b"!redis|str|a", 5, &mut key);
        assert_eq!(
            &key[12..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa]
        );
        assert_eq!(split_key(&key), Some((&b"!redis|str|a"[..], 5)));
        assert_eq!(split_key(b"short"), None);
    }
}
