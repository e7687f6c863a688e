//! File-name segments (FORMAT.md §5): percent-encoding, `b64.` binary segments,
//! the SHA-256 fallback and its promotion rules, and strict decoding.

/// Longest segment ever produced (`KeySegmentMaxBytes`).
pub const KEY_SEGMENT_MAX_BYTES: usize = 240;

/// Why a segment could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// `ErrShaFallbackNeedsKeymap`: the name is a SHA fallback; only KEYMAP can resolve it.
    #[error("{segment:?}: filename uses SHA fallback; consult KEYMAP.jsonl")]
    ShaFallbackNeedsKeymap {
        /// The segment.
        segment: String,
    },
    /// `ErrInvalidEncodedSegment`.
    #[error("{segment:?}: invalid encoded filename segment: {reason}")]
    Invalid {
        /// The segment.
        segment: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// `EncodeSegment`: the file name for arbitrary key bytes.
pub fn encode_segment(raw: &[u8]) -> String {
    let _ = raw;
    todo!("tree helper")
}

/// `EncodeBinarySegment`: `b64.` + base64url for DynamoDB `B` key attributes.
pub fn encode_binary_segment(raw: &[u8]) -> String {
    let _ = raw;
    todo!("tree helper")
}

/// Whether `segment` has the SHA-fallback shape (32 hex digits then `__`).
pub fn is_sha_fallback(segment: &str) -> bool {
    let _ = segment;
    todo!("tree helper")
}

/// `DecodeSegment`: the inverse of [`encode_segment`] / [`encode_binary_segment`].
pub fn decode_segment(segment: &str) -> Result<Vec<u8>, SegmentError> {
    let _ = segment;
    todo!("tree helper")
}
