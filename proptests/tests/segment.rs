//! (b) File-name segments (docs/format.md §5): `encode_segment` equals a reference model
//! (SHA-256 included), its output is never longer than 240 bytes, it decodes back
//! whenever it is not a SHA fallback, SHA fallbacks are refused by `decode_segment`,
//! and binary segments round-trip.

use elastickv_codec::tree::segment::{
    KEY_SEGMENT_MAX_BYTES, SegmentError, decode_segment, encode_binary_segment, encode_segment,
    is_sha_fallback,
};
use elastickv_proptests::config::config;
use elastickv_proptests::strategy::segment_bytes;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._";

fn percent_encode(raw: &[u8]) -> String {
    raw.iter()
        .map(|&b| {
            if UNRESERVED.contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn looks_sha(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 34 && b[..32].iter().all(u8::is_ascii_hexdigit) && &b[32..34] == b"__"
}

fn sha_fallback(raw: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(raw));
    format!(
        "{}__{}",
        &digest[..32],
        percent_encode(&raw[..raw.len().min(64)])
    )
}

/// `EncodeSegment` as docs/format.md §5.1 describes it.
fn reference_encode(raw: &[u8]) -> String {
    if raw.len() > KEY_SEGMENT_MAX_BYTES {
        return sha_fallback(raw);
    }
    let pct = percent_encode(raw);
    if pct.len() > KEY_SEGMENT_MAX_BYTES || looks_sha(&pct) || pct.starts_with("b64.") {
        return sha_fallback(raw);
    }
    pct
}

fn base64url(raw: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

proptest! {
    #![proptest_config(config("segment.txt"))]

    #[test]
    fn encode_segment_matches_reference(raw in segment_bytes()) {
        let got = encode_segment(&raw);
        prop_assert!(got.len() <= KEY_SEGMENT_MAX_BYTES, "{} bytes", got.len());
        prop_assert_eq!(&got, &reference_encode(&raw));
        if is_sha_fallback(&got) {
            let refused = matches!(decode_segment(&got), Err(SegmentError::ShaFallbackNeedsKeymap { .. }));
            prop_assert!(refused, "SHA fallback {:?} not refused", got);
        } else {
            prop_assert_eq!(decode_segment(&got), Ok(raw));
        }
    }

    #[test]
    fn binary_segments_round_trip(raw in segment_bytes()) {
        let got = encode_binary_segment(&raw);
        prop_assert!(got.len() <= KEY_SEGMENT_MAX_BYTES);
        if 4 + base64url(&raw).len() > KEY_SEGMENT_MAX_BYTES {
            prop_assert_eq!(&got, &sha_fallback(&raw));
            prop_assert!(is_sha_fallback(&got));
        } else {
            prop_assert_eq!(&got, &format!("b64.{}", base64url(&raw)));
            prop_assert_eq!(decode_segment(&got), Ok(raw));
        }
    }

    /// Arbitrary names never panic the decoder; what decodes re-encodes to a name that
    /// decodes to the same bytes, and canonical names encode to themselves.
    #[test]
    fn decode_any_name(name in prop_oneof![
        "[A-Za-z0-9._%-]{0,40}",
        "(%[0-9A-Fa-f]{2}|[a-z]){0,90}",
        "b64\\.[A-Za-z0-9_=+/-]{0,40}",
        "[0-9a-f]{32}__.{0,10}",
        any::<String>(),
    ]) {
        match decode_segment(&name) {
            Ok(raw) if !name.starts_with("b64.") => {
                let again = encode_segment(&raw);
                if !is_sha_fallback(&again) {
                    prop_assert_eq!(decode_segment(&again), Ok(raw.clone()));
                }
                if percent_encode(&raw) == name {
                    prop_assert_eq!(again, name);
                }
            }
            Ok(raw) => prop_assert_eq!(decode_segment(&encode_binary_segment(&raw)), Ok(raw)),
            Err(SegmentError::ShaFallbackNeedsKeymap { .. }) => prop_assert!(looks_sha(&name)),
            Err(SegmentError::Invalid { .. }) => {}
        }
    }
}

#[test]
fn spec_examples() {
    assert_eq!(encode_segment(b""), "");
    assert_eq!(decode_segment(""), Ok(Vec::new()));
    assert_eq!(
        encode_segment(b"b64.x"),
        "261e3e281e06e9789437999358e26046__b64.x"
    );
    assert_eq!(
        encode_segment(&[b'K'; 300]),
        format!("61e1921fd2d8dd4cbc277fab8715cc0d__{}", "K".repeat(64))
    );
    assert_eq!(encode_binary_segment(&[0x00, 0x01, 0xFF]), "b64.AAH_");
    assert_eq!(base64url(&[0x00, 0x01, 0xFF]), "AAH_");
    assert_eq!(
        reference_encode(b"b64.x"),
        "261e3e281e06e9789437999358e26046__b64.x"
    );
    // 177 bytes is the last length that fits "b64." + 236 characters.
    assert!(encode_binary_segment(&[7; 177]).starts_with("b64."));
    assert!(is_sha_fallback(&encode_binary_segment(&[7; 178])));
    assert!(matches!(
        decode_segment(&"a".repeat(241)),
        Err(SegmentError::Invalid { .. })
    ));
    assert_eq!(decode_segment("%41%2f"), Ok(b"A/".to_vec()));
}
