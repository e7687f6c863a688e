//! The wrapper live nodes put around the native stream (FORMAT.md §1.2–§1.3).

/// The header in front of the native `EKVPBBL1` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// A bare `EKVPBBL1` stream, as the Go encoder writes it.
    Native,
    /// `EKVTHLC1` + BE64 ceiling (16 bytes).
    HlcV1 {
        /// HLC physical ceiling in milliseconds.
        ceiling_ms: u64,
    },
    /// `EKVTHLC2` + BE16 len + BE64 ceiling + BE64 cutover index (+ skipped extra bytes).
    HlcV2 {
        /// HLC physical ceiling in milliseconds.
        ceiling_ms: u64,
        /// Raft envelope cutover index.
        cutover_index: u64,
    },
}

impl Wrapper {
    /// Name shown by `inspect`: the magic of the outermost header.
    pub fn magic(&self) -> &'static str {
        match self {
            Wrapper::Native => "EKVPBBL1",
            Wrapper::HlcV1 { .. } => "EKVTHLC1",
            Wrapper::HlcV2 { .. } => "EKVTHLC2",
        }
    }
}

/// What followed the last entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Footer {
    /// The stream ended cleanly at an entry boundary.
    Absent,
    /// A 4-byte CRC32C footer matched every byte before it.
    Verified {
        /// The footer value.
        crc32c: u32,
    },
}
