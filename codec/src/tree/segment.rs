//! File-name segments (docs/format.md §5): percent-encoding, `b64.` binary segments,
//! the SHA-256 fallback and its promotion rules, and strict decoding.

use sha2::{Digest, Sha256};

use super::bsv::{decode_base64url, encode_base64url};
use crate::error::{ErrorCode, ExitClass};

/// Longest segment ever produced (`KeySegmentMaxBytes`).
pub const KEY_SEGMENT_MAX_BYTES: usize = 240;

/// Hex digits of SHA-256 kept in a fallback name: 128 bits, ample within one scope.
const SHA_PREFIX_HEX: usize = 32;
/// Raw bytes echoed after the hash, for humans only (≤ 192 bytes once escaped).
const SHA_TAIL_BYTES: usize = 64;
/// Doubled because single underscores are common in real keys.
const SHA_SEPARATOR: &[u8; 2] = b"__";
/// Marks DynamoDB `B` attributes so they never collide with string keys.
const BINARY_PREFIX: &str = "b64.";

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

impl ErrorCode for SegmentError {
    fn code(&self) -> &'static str {
        match self {
            SegmentError::ShaFallbackNeedsKeymap { .. } => "sha-fallback-needs-keymap",
            SegmentError::Invalid { .. } => "invalid-encoded-segment",
        }
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Data
    }
}

/// RFC 3986 unreserved minus `~`, which older shells mangle.
fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')
}

fn push_escaped(out: &mut String, c: u8) {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(UPPER[(c >> 4) as usize] as char);
    out.push(UPPER[(c & 0xF) as usize] as char);
}

/// Percent-encodes `raw`, giving up as soon as the output would pass `max` bytes so
/// a huge key never costs a 3×-sized allocation.
fn percent_encode_bounded(raw: &[u8], max: usize) -> Option<String> {
    let mut out = String::with_capacity((raw.len() * 3).min(max.saturating_add(3)));
    for &c in raw {
        let width = if is_unreserved(c) { 1 } else { 3 };
        if out.len() + width > max {
            return None;
        }
        if width == 1 {
            out.push(c as char);
        } else {
            push_escaped(&mut out, c);
        }
    }
    Some(out)
}

fn sha_fallback(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let mut out = hex::encode(digest);
    out.truncate(SHA_PREFIX_HEX);
    out.push_str("__");
    let tail = &raw[..raw.len().min(SHA_TAIL_BYTES)];
    // The tail is at most 64 bytes, so the bound can never trip.
    out.push_str(&percent_encode_bounded(tail, usize::MAX).unwrap_or_default());
    out
}

/// `EncodeSegment`: the file name for arbitrary key bytes.
///
/// Names that would be mistaken for a SHA fallback or a `b64.` binary segment are
/// promoted to a real SHA fallback, so decoding can never fabricate a wrong key.
pub fn encode_segment(raw: &[u8]) -> String {
    if raw.len() > KEY_SEGMENT_MAX_BYTES {
        return sha_fallback(raw);
    }
    match percent_encode_bounded(raw, KEY_SEGMENT_MAX_BYTES) {
        Some(enc) if !is_sha_fallback(&enc) && !enc.starts_with(BINARY_PREFIX) => enc,
        _ => sha_fallback(raw),
    }
}

/// Whether the encoded segment `segment` names a directory of its own: an empty one,
/// `.` or `..` would put a table's or queue's files into its parent, or beside it.
pub fn names_own_directory(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

/// `EncodeBinarySegment`: `b64.` + base64url for DynamoDB `B` key attributes.
pub fn encode_binary_segment(raw: &[u8]) -> String {
    // RawURLEncoding.EncodedLen, computed before encoding so huge keys stay cheap.
    let encoded_len = raw.len() / 3 * 4 + (raw.len() % 3 * 8).div_ceil(6);
    if encoded_len + BINARY_PREFIX.len() > KEY_SEGMENT_MAX_BYTES {
        return sha_fallback(raw);
    }
    let mut out = String::with_capacity(BINARY_PREFIX.len() + encoded_len);
    out.push_str(BINARY_PREFIX);
    out.push_str(&encode_base64url(raw));
    out
}

/// Whether `segment` has the SHA-fallback shape (32 hex digits then `__`).
pub fn is_sha_fallback(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() >= SHA_PREFIX_HEX + SHA_SEPARATOR.len()
        && b[..SHA_PREFIX_HEX].iter().all(u8::is_ascii_hexdigit)
        && &b[SHA_PREFIX_HEX..SHA_PREFIX_HEX + SHA_SEPARATOR.len()] == SHA_SEPARATOR
}

/// Whether `segment` is a `b64.` binary segment.
pub fn is_binary_segment(segment: &str) -> bool {
    segment.starts_with(BINARY_PREFIX)
}

/// `DecodeSegment`: the inverse of [`encode_segment`] / [`encode_binary_segment`].
pub fn decode_segment(segment: &str) -> Result<Vec<u8>, SegmentError> {
    let invalid = |reason| SegmentError::Invalid {
        segment: segment.to_owned(),
        reason,
    };
    if segment.len() > KEY_SEGMENT_MAX_BYTES {
        return Err(invalid("longer than 240 bytes"));
    }
    if is_sha_fallback(segment) {
        return Err(SegmentError::ShaFallbackNeedsKeymap {
            segment: segment.to_owned(),
        });
    }
    if let Some(b64) = segment.strip_prefix(BINARY_PREFIX) {
        return decode_base64url(b64).map_err(|_| invalid("invalid base64url after b64. prefix"));
    }
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c != b'%' {
            if !is_unreserved(c) {
                return Err(invalid("byte outside the unreserved set"));
            }
            out.push(c);
            i += 1;
            continue;
        }
        if i + 2 >= b.len() {
            return Err(invalid("truncated percent escape"));
        }
        match (unhex(b[i + 1]), unhex(b[i + 2])) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err(invalid("non-hex digit in percent escape")),
        }
        i += 3;
    }
    Ok(out)
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_examples() {
        assert_eq!(
            encode_segment(b"b64.x"),
            "261e3e281e06e9789437999358e26046__b64.x"
        );
        assert_eq!(
            encode_segment(&[b'K'; 300]),
            format!("61e1921fd2d8dd4cbc277fab8715cc0d__{}", "K".repeat(64))
        );
        assert_eq!(encode_binary_segment(&[0x00, 0x01, 0xFF]), "b64.AAH_");
        assert_eq!(encode_segment(b""), "");
    }

    #[test]
    fn vector_names() {
        // Names from the case-0001 reference tree.
        assert_eq!(encode_segment(b"]"), "%5D");
        assert_eq!(encode_segment(b"x:33354"), "x%3A33354");
        assert_eq!(
            encode_segment("doc/doc \u{a0}%2F".as_bytes()),
            "doc%2Fdoc%20%C2%A0%252F"
        );
        assert_eq!(encode_segment(b"user.40235"), "user.40235");
        assert_eq!(encode_segment(b"~"), "%7E");
        assert_eq!(
            decode_segment("doc%2Fdoc%20%C2%A0%252F").unwrap(),
            "doc/doc \u{a0}%2F".as_bytes()
        );
    }

    #[test]
    fn length_bound() {
        let exactly = vec![b'a'; 240];
        assert_eq!(encode_segment(&exactly), "a".repeat(240));
        let fallback = encode_segment(&[b'a'; 241]);
        assert!(is_sha_fallback(&fallback));
        // 80 escaped bytes = 240 output bytes fit; 81 do not.
        assert_eq!(encode_segment(&[b' '; 80]).len(), 240);
        assert!(is_sha_fallback(&encode_segment(&[b' '; 81])));
        let worst = encode_segment(&[0xFF; 1000]);
        assert_eq!(worst.len(), 32 + 2 + 192);
        for n in [0usize, 1, 100, 177, 178, 179, 500] {
            let raw = vec![0xAB; n];
            assert!(encode_segment(&raw).len() <= KEY_SEGMENT_MAX_BYTES);
            assert!(encode_binary_segment(&raw).len() <= KEY_SEGMENT_MAX_BYTES);
        }
        assert!(encode_binary_segment(&[7; 177]).starts_with("b64."));
        assert!(is_sha_fallback(&encode_binary_segment(&[7; 178])));
    }

    #[test]
    fn promotion() {
        let lookalike = b"0123456789abcdef0123456789ABCDEF__x";
        assert!(is_sha_fallback(&encode_segment(lookalike)));
        assert_ne!(encode_segment(lookalike).as_bytes(), &lookalike[..]);
        // One short of the shape is left alone.
        assert_eq!(
            encode_segment(b"0123456789abcdef0123456789abcde__x"),
            "0123456789abcdef0123456789abcde__x"
        );
        assert!(is_sha_fallback(&encode_segment(b"b64.")));
        assert_eq!(encode_segment(b"b64"), "b64");
        assert_eq!(encode_segment(b"B64.x"), "B64.x");
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_segment("b64.AAH_").unwrap(), [0, 1, 0xFF]);
        assert_eq!(decode_segment("b64.").unwrap(), b"");
        assert_eq!(decode_segment("%c3%A9").unwrap(), "é".as_bytes());
        assert_eq!(decode_segment("").unwrap(), b"");
        assert!(matches!(
            decode_segment("261e3e281e06e9789437999358e26046__b64.x"),
            Err(SegmentError::ShaFallbackNeedsKeymap { .. })
        ));
        for bad in [
            "a b", "a~", "%4", "%", "%G0", "%0G", "a%2", "b64.A", "b64.AA==", "é",
        ] {
            let err = decode_segment(bad).unwrap_err();
            assert_eq!(err.code(), "invalid-encoded-segment", "{bad}");
            assert_eq!(err.exit_class(), ExitClass::Data);
        }
        assert!(decode_segment(&"a".repeat(241)).is_err());
        assert_eq!(decode_segment(&"a".repeat(240)).unwrap(), vec![b'a'; 240]);
    }

    #[test]
    fn round_trip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(80) {
            let enc = encode_segment(chunk);
            if !is_sha_fallback(&enc) {
                assert_eq!(decode_segment(&enc).unwrap(), chunk);
            }
        }
        for b in 0..=255u8 {
            assert_eq!(decode_segment(&encode_segment(&[b])).unwrap(), [b]);
            assert_eq!(
                decode_segment(&encode_binary_segment(&[b, b, b])).unwrap(),
                [b, b, b]
            );
        }
    }
}
