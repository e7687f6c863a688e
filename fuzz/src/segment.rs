//! File-name segments (docs/format.md §5): `encode_segment` / `encode_binary_segment` /
//! `decode_segment` on arbitrary bytes and strings, against a reference model.

use arbitrary::Unstructured;
use elastickv_codec::tree::segment::{
    KEY_SEGMENT_MAX_BYTES, SegmentError, decode_segment, encode_binary_segment, encode_segment,
    is_sha_fallback,
};

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw = raw_bytes(u)?;
    check_encode(&raw);
    check_binary(&raw);
    let text: &str = u.arbitrary()?;
    check_decode(text);
    Ok(())
}

/// Bytes shaped to hit the interesting cases: SHA-looking and `b64.` heads, lengths
/// around the 240-byte bound, mostly-unreserved and mostly-escaped contents.
fn raw_bytes(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut raw = Vec::new();
    match u.int_in_range(0u8..=5)? {
        0 => raw.extend_from_slice(b"0123456789abcdef0123456789ABCDEF__"),
        1 => raw.extend_from_slice(b"b64."),
        _ => {}
    }
    let len = match u.int_in_range(0u8..=3)? {
        0 => u.int_in_range(0usize..=16)?,
        1 => u.int_in_range(70usize..=90)?,
        2 => u.int_in_range(230usize..=250)?,
        _ => u.int_in_range(0usize..=300)?,
    };
    let unreserved = u.ratio(1u8, 2)?;
    for _ in 0..len {
        let b: u8 = u.arbitrary()?;
        raw.push(if unreserved {
            UNRESERVED[usize::from(b) % UNRESERVED.len()]
        } else {
            b
        });
    }
    Ok(raw)
}

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._";

/// `%HH` for every byte outside `A-Z a-z 0-9 - . _`, uppercase hex.
pub fn percent_encode(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if UNRESERVED.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// 32 hex digits (either case) then `__`.
pub fn looks_sha(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 34 && b[..32].iter().all(u8::is_ascii_hexdigit) && &b[32..34] == b"__"
}

/// `encode_segment` against the model of docs/format.md §5.1 (SHA digest not recomputed).
///
/// # Panics
/// On any disagreement.
pub fn check_encode(raw: &[u8]) {
    let got = encode_segment(raw);
    assert!(
        got.len() <= KEY_SEGMENT_MAX_BYTES,
        "segment of {} bytes",
        got.len()
    );
    let pct = percent_encode(raw);
    let fallback = raw.len() > KEY_SEGMENT_MAX_BYTES
        || pct.len() > KEY_SEGMENT_MAX_BYTES
        || looks_sha(&pct)
        || pct.starts_with("b64.");
    if !fallback {
        assert_eq!(got, pct, "plain segment of {raw:?}");
        assert!(!is_sha_fallback(&got));
        assert_eq!(
            decode_segment(&got).as_deref(),
            Ok(raw),
            "decode of {got:?}"
        );
        return;
    }
    assert!(is_sha_fallback(&got), "{got:?} should be a SHA fallback");
    let (digest, tail) = got.split_at(34);
    assert!(
        digest[..32]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "digest of {got:?} is not lowercase hex"
    );
    assert_eq!(&digest[32..], "__");
    assert_eq!(
        tail,
        percent_encode(&raw[..raw.len().min(64)]),
        "fallback tail"
    );
    assert!(
        matches!(
            decode_segment(&got),
            Err(SegmentError::ShaFallbackNeedsKeymap { .. })
        ),
        "SHA fallback {got:?} must be refused"
    );
}

/// `encode_binary_segment` (docs/format.md §5.2).
///
/// # Panics
/// On any disagreement.
pub fn check_binary(raw: &[u8]) {
    let got = encode_binary_segment(raw);
    assert!(got.len() <= KEY_SEGMENT_MAX_BYTES);
    if raw.len() < 178 {
        assert!(got.starts_with("b64."), "binary segment {got:?}");
        assert_eq!(
            got.len(),
            4 + (raw.len() * 4).div_ceil(3),
            "unpadded base64url length"
        );
        assert!(
            got[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "base64url alphabet"
        );
        assert_eq!(decode_segment(&got).as_deref(), Ok(raw));
    } else {
        assert!(
            is_sha_fallback(&got),
            "binary segment of {} bytes",
            raw.len()
        );
        assert!(matches!(
            decode_segment(&got),
            Err(SegmentError::ShaFallbackNeedsKeymap { .. })
        ));
    }
}

/// `decode_segment` on any string: never panics; over-long names and SHA shapes are
/// refused; what decodes re-encodes to an equivalent name (the canonical one when the
/// input was canonical).
///
/// # Panics
/// On any disagreement.
pub fn check_decode(text: &str) {
    let decoded = decode_segment(text);
    if text.len() > KEY_SEGMENT_MAX_BYTES {
        assert!(
            matches!(decoded, Err(SegmentError::Invalid { .. })),
            "{text:?}"
        );
        return;
    }
    if looks_sha(text) {
        assert!(
            matches!(decoded, Err(SegmentError::ShaFallbackNeedsKeymap { .. })),
            "{text:?}"
        );
        return;
    }
    let Ok(raw) = decoded else {
        return;
    };
    if text.starts_with("b64.") {
        assert_eq!(
            decode_segment(&encode_binary_segment(&raw)).as_deref(),
            Ok(&raw[..])
        );
        return;
    }
    let again = encode_segment(&raw);
    if !is_sha_fallback(&again) {
        assert_eq!(decode_segment(&again).as_deref(), Ok(&raw[..]));
    }
    if percent_encode(&raw) == text {
        assert_eq!(again, text, "canonical name must encode to itself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    #[test]
    fn spec_examples() {
        assert_eq!(encode_segment(b""), "");
        assert_eq!(
            encode_segment(b"b64.x"),
            "261e3e281e06e9789437999358e26046__b64.x"
        );
        assert_eq!(
            encode_segment(&[b'K'; 300]),
            format!("61e1921fd2d8dd4cbc277fab8715cc0d__{}", "K".repeat(64))
        );
        assert_eq!(encode_binary_segment(&[0x00, 0x01, 0xFF]), "b64.AAH_");
        for raw in [
            &b""[..],
            b"a b/c",
            b"~",
            &[0xFF; 80],
            &[b'x'; 240],
            &[b'x'; 241],
        ] {
            check_encode(raw);
            check_binary(raw);
        }
    }
}
