//! The wrapper live nodes put around the native stream (docs/format.md §1.2–§1.3).
//!
//! Live `fsm-snap/<index>.fsm` files are `EKVTHLC1|2 header ‖ EKVPBBL1 stream ‖ CRC32C`,
//! and the stream also carries raw (non-MVCC) store rows. The Go backup decoder reads
//! none of that; this module holds the pure byte-level rules so the reader stays a
//! plain state machine.

use super::{ContainerError, ContainerErrorKind, MAGIC};

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

    /// Whether the stream came from a live node (and so may carry raw store rows and
    /// must carry a valid footer if it has one).
    pub fn is_runtime(&self) -> bool {
        !matches!(self, Wrapper::Native)
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

/// Magic of the v1 HLC wrapper.
pub const HLC_V1_MAGIC: [u8; 8] = *b"EKVTHLC1";
/// Magic of the v2 HLC wrapper.
pub const HLC_V2_MAGIC: [u8; 8] = *b"EKVTHLC2";
/// Size of the whole v1 wrapper.
pub const HLC_V1_LEN: usize = 16;
/// Size of the v2 wrapper's fixed part: magic and the BE16 payload length.
pub const HLC_V2_PREFIX_LEN: usize = 10;
/// Smallest v2 payload (ceiling + cutover index) a live node accepts.
pub const HLC_V2_MIN_PAYLOAD: usize = 16;
/// Largest v2 payload a live node accepts; bounds what a header can make us skip.
pub const HLC_V2_MAX_PAYLOAD: usize = 1024;
/// Size of the CRC32C footer of runtime files.
pub const FOOTER_LEN: usize = 4;
/// Inner format of SST-ingest snapshots (`store/lsm_store.go`), read by [`super::sst`].
pub const SST_INGEST_MAGIC: [u8; 8] = *b"EKVSSTI1";
/// Inner format of streaming MVCC snapshots (own IEEE CRC), never written by a node.
pub const MVCC_STREAM_MAGIC: [u8; 8] = *b"EKVMVCC2";

/// Raw store rows holding 8-byte LE counters (`_meta_last_commit_ts`, …).
const META_ROW_PREFIX: &[u8] = b"_meta_";
/// The 8-byte counter size of `_meta_*` rows.
const META_ROW_VALUE_LEN: usize = 8;
/// Raw encryption writer-registry rows of live stores.
const WRITER_REGISTRY_PREFIX: &[u8] = b"!encryption|writers|";
/// What all HLC wrapper magics share; the 8th byte is the version.
const HLC_FAMILY: &[u8] = b"EKVTHLC";

/// Which header the first eight bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sniffed {
    /// Not a wrapper: the bytes belong to the inner stream.
    Bare,
    /// `EKVTHLC1`.
    HlcV1,
    /// `EKVTHLC2`.
    HlcV2,
}

/// Classifies the first eight bytes the way `kv.ReadSnapshotHeader` does, except that a
/// short file is the caller's problem.
pub(super) fn sniff(magic: &[u8; 8]) -> Result<Sniffed, ContainerError> {
    match *magic {
        HLC_V1_MAGIC => Ok(Sniffed::HlcV1),
        HLC_V2_MAGIC => Ok(Sniffed::HlcV2),
        _ if magic.starts_with(HLC_FAMILY) => Err(ContainerError::new(
            ContainerErrorKind::HeaderUnknownMagic,
            0,
            format!(
                "unknown snapshot header version {}",
                quote_bytes(&magic[HLC_FAMILY.len()..])
            ),
        )),
        _ => Ok(Sniffed::Bare),
    }
}

/// Decodes a complete v1 wrapper.
pub(super) fn parse_hlc_v1(header: &[u8; HLC_V1_LEN]) -> Wrapper {
    let (_magic, ceiling) = split_be64(header);
    Wrapper::HlcV1 {
        ceiling_ms: ceiling,
    }
}

/// The v2 payload length, rejected outside the range live nodes accept so a corrupt
/// header cannot make us skip an arbitrary amount.
pub(super) fn hlc_v2_payload_len(
    prefix: &[u8; HLC_V2_PREFIX_LEN],
) -> Result<usize, ContainerError> {
    let len = usize::from(u16::from_be_bytes([prefix[8], prefix[9]]));
    if (HLC_V2_MIN_PAYLOAD..=HLC_V2_MAX_PAYLOAD).contains(&len) {
        return Ok(len);
    }
    Err(ContainerError::new(
        ContainerErrorKind::HeaderInvalidLength,
        8,
        format!("EKVTHLC2 header length {len} outside {HLC_V2_MIN_PAYLOAD}..={HLC_V2_MAX_PAYLOAD}"),
    ))
}

/// Decodes a v2 payload; bytes past the two known fields are a newer writer's
/// extensions and are ignored, as live nodes do.
pub(super) fn parse_hlc_v2(known_fields: &[u8; HLC_V2_MIN_PAYLOAD]) -> Wrapper {
    let (ceiling, cutover) = split_be64(known_fields);
    Wrapper::HlcV2 {
        ceiling_ms: u64::from_be_bytes(ceiling),
        cutover_index: cutover,
    }
}

/// Checks the magic of the native stream at `offset`. Inside a wrapper, the other store
/// formats get their own kind because the file is genuine, just not readable here.
pub(super) fn check_inner_magic(
    magic: &[u8; 8],
    offset: u64,
    wrapper: Wrapper,
) -> Result<(), ContainerError> {
    if *magic == MAGIC {
        return Ok(());
    }
    let wrapped_other_store =
        wrapper.is_runtime() && (*magic == SST_INGEST_MAGIC || *magic == MVCC_STREAM_MAGIC);
    if wrapped_other_store {
        return Err(ContainerError::new(
            ContainerErrorKind::UnsupportedInnerFormat,
            offset,
            format!(
                "{} wraps a {} store snapshot; this stream reader reads EKVPBBL1 (EKVSSTI1 goes through container::sst)",
                wrapper.magic(),
                quote_bytes(magic)
            ),
        ));
    }
    Err(ContainerError::new(
        ContainerErrorKind::BadMagic,
        offset,
        format!(
            "got {}: snapshot magic header does not match \"EKVPBBL1\"",
            quote_bytes(magic)
        ),
    ))
}

/// Whether an entry is a raw store row rather than an MVCC-framed one.
///
/// `_meta_*` counters are recognised in bare streams too, where the Go decoder fails
/// with `ErrSnapshotShortValue` on them. That is a deliberate improvement: an 8-byte
/// value can never be a valid MVCC value (the header alone is 9 bytes), so skipping it
/// cannot hide data, and it lets a live payload stripped of its wrapper be read.
/// Writer-registry rows are only raw inside a wrapper: bare streams carry MVCC-framed
/// `!encryption|` rows, which the Go decoder counts as internal.
pub(super) fn is_raw_store_row(wrapper: Wrapper, key: &[u8], value: &[u8]) -> bool {
    if wrapper.is_runtime() {
        return is_live_raw_row(key, value);
    }
    key.starts_with(META_ROW_PREFIX) && value.len() == META_ROW_VALUE_LEN
}

/// [`is_raw_store_row`] for rows known to come from a live store (SST-ingest tables
/// always do, wrapped or not).
#[inline]
pub(super) fn is_live_raw_row(key: &[u8], value: &[u8]) -> bool {
    let meta_counter = key.starts_with(META_ROW_PREFIX) && value.len() == META_ROW_VALUE_LEN;
    meta_counter || key.starts_with(WRITER_REGISTRY_PREFIX)
}

/// Judges the 4 bytes left at an entry boundary. `crc` covers every byte before them.
///
/// A bare stream has no footer by definition, so there a mismatch means what Go says it
/// means: a partial keyLen field.
pub(super) fn judge_footer(
    footer: &[u8; FOOTER_LEN],
    crc: u32,
    offset: u64,
    wrapper: Wrapper,
) -> Result<Footer, ContainerError> {
    let stored = u32::from_be_bytes(*footer);
    if stored == crc {
        return Ok(Footer::Verified { crc32c: stored });
    }
    if wrapper.is_runtime() {
        return Err(ContainerError::new(
            ContainerErrorKind::FooterMismatch,
            offset,
            format!("CRC32C footer {stored:#010x} does not match computed {crc:#010x}"),
        ));
    }
    Err(ContainerError::new(
        ContainerErrorKind::Truncated,
        offset,
        format!("truncated key length: {FOOTER_LEN} of 8 bytes"),
    ))
}

/// `bytes` as a double-quoted string with non-printable bytes escaped, for messages
/// (close to Go's `%q`, which the Go tool prints).
pub(super) fn quote_bytes(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// Splits 16 bytes into the first 8 (raw) and the last 8 read as BE64.
fn split_be64(bytes: &[u8; 16]) -> ([u8; 8], u64) {
    let mut head = [0u8; 8];
    let mut tail = [0u8; 8];
    head.copy_from_slice(&bytes[..8]);
    tail.copy_from_slice(&bytes[8..]);
    (head, u64::from_be_bytes(tail))
}
