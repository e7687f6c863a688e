//! Value envelopes of the live Redis adapter (docs/format.md §3.4), parsed and built.
//!
//! Everything here is fixed-width big-endian except the two protobuf payloads, which
//! live in [`super::proto`]. Parsers return a short reason on failure; the caller
//! knows which record it was and picks the Go sentinel.

use super::keys::StreamId;

/// First byte of the new string/HLL envelope.
const ENVELOPE_MAGIC: u8 = 0xFF;
/// Second byte of a new-format string value.
const STRING_VERSION: u8 = 0x01;
/// Second byte of a new-format HLL value.
const HLL_VERSION: u8 = 0x02;
/// Flag bit: an 8-byte expiry follows the flags byte.
const HAS_TTL: u8 = 0x01;
/// Magic + version + flags.
const ENVELOPE_HEADER: usize = 3;
const U64: usize = 8;
/// Count meta without / with inline TTL.
const COUNT_META: usize = U64;
const COUNT_META_TTL: usize = 2 * U64;
/// List meta (Head, Tail, Len) without / with inline TTL.
const LIST_META: usize = 3 * U64;
const LIST_META_TTL: usize = 4 * U64;
/// Stream meta (Length, LastMs, LastSeq), + inline TTL, + trim cursor.
const STREAM_META: usize = 3 * U64;
const STREAM_META_TTL: usize = 4 * U64;
const STREAM_META_TRIM: usize = 6 * U64;

/// Which of the two magic-prefixed simple types a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleType {
    /// `!redis|str|`: `FF 01`.
    String,
    /// `!redis|hll|`: `FF 02`.
    Hll,
}

impl SimpleType {
    fn version(self) -> u8 {
        match self {
            SimpleType::String => STRING_VERSION,
            SimpleType::Hll => HLL_VERSION,
        }
    }
}

/// A decoded string or HLL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleValue<'a> {
    /// The user-visible bytes (header stripped).
    pub body: &'a [u8],
    /// Inline expiry, clamped to `i64::MAX`; 0 means none.
    pub expire_at_ms: u64,
    /// Whether the value used the magic envelope. Such a key owns its TTL: later
    /// `!redis|ttl|` scan-index rows for it are redundant.
    pub new_format: bool,
}

/// Clamps an expiry the way the live decoder does.
fn clamp_ms(ms: u64) -> u64 {
    ms.min(i64::MAX as u64)
}

/// Reads the BE u64 at `at` (callers have checked the length).
fn be64(value: &[u8], at: usize) -> u64 {
    value
        .get(at..at + U64)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// Parses a string or HLL value: `FF ver flags [BE64 ms] body`, anything else raw.
///
/// A legacy raw value that happens to begin with the magic is misread; the live
/// format has the same ambiguity.
pub fn parse_simple(value: &[u8], ty: SimpleType) -> Result<SimpleValue<'_>, String> {
    let legacy = SimpleValue {
        body: value,
        expire_at_ms: 0,
        new_format: false,
    };
    if value.len() < 2 || value[0] != ENVELOPE_MAGIC || value[1] != ty.version() {
        return Ok(legacy);
    }
    let Some((&flags, rest)) = value[2..].split_first() else {
        return Err("header truncated: magic and version but no flags byte".into());
    };
    if flags & HAS_TTL == 0 {
        return Ok(SimpleValue {
            body: rest,
            expire_at_ms: 0,
            new_format: true,
        });
    }
    let Some((ms, body)) = rest.split_first_chunk::<U64>() else {
        return Err(format!(
            "ttl section truncated: TTL flag set but only {} bytes follow the header",
            rest.len()
        ));
    };
    Ok(SimpleValue {
        body,
        expire_at_ms: clamp_ms(u64::from_be_bytes(*ms)),
        new_format: true,
    })
}

/// Builds the value the live adapter writes for a string: always the envelope, with
/// the TTL inline when `expire_at_ms != 0`.
pub fn build_string(body: &[u8], expire_at_ms: u64) -> Vec<u8> {
    build_envelope(STRING_VERSION, body, expire_at_ms)
}

/// Builds an HLL value: the raw sketch without TTL (the legacy form stays readable
/// by older nodes), the envelope with the TTL inline otherwise.
pub fn build_hll(body: &[u8], expire_at_ms: u64) -> Vec<u8> {
    if expire_at_ms == 0 {
        return body.to_vec();
    }
    build_envelope(HLL_VERSION, body, expire_at_ms)
}

/// Room for the longest string/HLL envelope header (magic, version, flags, expiry):
/// what [`string_in_place`] and [`hll_in_place`] need free in front of the body.
pub const ENVELOPE_ROOM: usize = ENVELOPE_HEADER + U64;

/// [`build_string`] without copying the body: `buf` is [`ENVELOPE_ROOM`] bytes of
/// room followed by the body; the envelope is written into the room and the value is
/// the returned suffix of `buf`.
///
/// # Panics
/// If `buf` is shorter than [`ENVELOPE_ROOM`].
pub fn string_in_place(buf: &mut [u8], expire_at_ms: u64) -> &[u8] {
    envelope_in_place(buf, STRING_VERSION, expire_at_ms)
}

/// [`build_hll`] without copying the body, as [`string_in_place`].
///
/// # Panics
/// If `buf` is shorter than [`ENVELOPE_ROOM`].
pub fn hll_in_place(buf: &mut [u8], expire_at_ms: u64) -> &[u8] {
    if expire_at_ms == 0 {
        return &buf[ENVELOPE_ROOM..];
    }
    envelope_in_place(buf, HLL_VERSION, expire_at_ms)
}

fn envelope_in_place(buf: &mut [u8], version: u8, expire_at_ms: u64) -> &[u8] {
    let mut header = [0u8; ENVELOPE_ROOM];
    header[..2].copy_from_slice(&[ENVELOPE_MAGIC, version]);
    let len = if expire_at_ms == 0 {
        ENVELOPE_HEADER
    } else {
        header[2] = HAS_TTL;
        header[ENVELOPE_HEADER..].copy_from_slice(&expire_at_ms.to_be_bytes());
        ENVELOPE_ROOM
    };
    let start = ENVELOPE_ROOM - len;
    buf[start..ENVELOPE_ROOM].copy_from_slice(&header[..len]);
    &buf[start..]
}

fn build_envelope(version: u8, body: &[u8], expire_at_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + U64 + body.len());
    out.extend_from_slice(&[ENVELOPE_MAGIC, version]);
    if expire_at_ms == 0 {
        out.push(0);
    } else {
        out.push(HAS_TTL);
        out.extend_from_slice(&expire_at_ms.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// Parses a `!redis|ttl|` value: exactly eight bytes, clamped to `i64::MAX`.
pub fn parse_ttl(value: &[u8]) -> Result<u64, String> {
    let ms: [u8; U64] = value
        .try_into()
        .map_err(|_| format!("length {} != 8", value.len()))?;
    Ok(clamp_ms(u64::from_be_bytes(ms)))
}

/// Builds a `!redis|ttl|` value.
pub fn build_ttl(expire_at_ms: u64) -> [u8; 8] {
    expire_at_ms.to_be_bytes()
}

/// A declared element count and an optional inline TTL, common to every meta row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Declared length (≤ `i64::MAX`).
    pub len: i64,
    /// `Some(ms)` when the meta carries the TTL inline (then it owns the key's TTL;
    /// `ms == 0` means "no TTL"). Not clamped, as in the live decoder.
    pub inline_ttl: Option<u64>,
}

/// Narrows a declared length, refusing values a signed count cannot hold.
fn declared_len(raw: u64, noun: &str) -> Result<i64, String> {
    i64::try_from(raw).map_err(|_| format!("declared {noun} {raw} overflows int64"))
}

/// Parses a hash/set/zset meta: BE64 count, optionally followed by BE64 expiry.
pub fn parse_count_meta(value: &[u8]) -> Result<Meta, String> {
    let inline_ttl = match value.len() {
        COUNT_META => None,
        COUNT_META_TTL => Some(be64(value, U64)),
        n => return Err(format!("length {n} not in {{8,16}}")),
    };
    Ok(Meta {
        len: declared_len(be64(value, 0), "len")?,
        inline_ttl,
    })
}

/// Builds a hash/set/zset meta; the expiry is inline only when non-zero.
pub fn build_count_meta(count: u64, expire_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = count.to_be_bytes().to_vec();
    push_inline_ttl(&mut out, expire_at_ms);
    out
}

fn push_inline_ttl(out: &mut Vec<u8>, expire_at_ms: Option<u64>) {
    if let Some(ms) = expire_at_ms.filter(|&ms| ms != 0) {
        out.extend_from_slice(&ms.to_be_bytes());
    }
}

/// Parses a list meta: Head, Tail, Len (only Len matters), optionally + expiry.
pub fn parse_list_meta(value: &[u8]) -> Result<Meta, String> {
    let inline_ttl = match value.len() {
        LIST_META => None,
        LIST_META_TTL => Some(be64(value, 3 * U64)),
        n => return Err(format!("length {n} not in {{24,32}}")),
    };
    Ok(Meta {
        len: declared_len(be64(value, 2 * U64), "len")?,
        inline_ttl,
    })
}

/// Builds the canonical list meta of `count` items numbered `0..count`:
/// Head 0, Tail = Len = count.
pub fn build_list_meta(count: u64, expire_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(LIST_META_TTL);
    for field in [0, count, count] {
        out.extend_from_slice(&u64::to_be_bytes(field));
    }
    push_inline_ttl(&mut out, expire_at_ms);
    out
}

/// A parsed stream meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamMeta {
    /// Declared length and inline TTL.
    pub meta: Meta,
    /// The last ID ever issued (the XADD `*` high-water mark).
    pub last: StreamId,
}

/// Parses a stream meta of 24, 32 or 48 bytes. The 48-byte trim cursor is dropped:
/// a logical dump only carries live entries.
pub fn parse_stream_meta(value: &[u8]) -> Result<StreamMeta, String> {
    let inline_ttl = match value.len() {
        STREAM_META => None,
        STREAM_META_TTL | STREAM_META_TRIM => Some(be64(value, 3 * U64)),
        n => return Err(format!("length {n} not in {{24,32,48}}")),
    };
    Ok(StreamMeta {
        meta: Meta {
            len: declared_len(be64(value, 0), "length")?,
            inline_ttl,
        },
        last: StreamId {
            ms: be64(value, U64),
            seq: be64(value, 2 * U64),
        },
    })
}

/// Builds a stream meta (never the trim form).
pub fn build_stream_meta(length: u64, last: StreamId, expire_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(STREAM_META_TTL);
    for field in [length, last.ms, last.seq] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    push_inline_ttl(&mut out, expire_at_ms);
    out
}

/// Parses a `!zs|mem|` value: an 8-byte BE IEEE-754 score, never NaN (ZADD refuses
/// NaN, so one here means corruption).
pub fn parse_zset_score(value: &[u8]) -> Result<f64, String> {
    let bits: [u8; U64] = value
        .try_into()
        .map_err(|_| format!("length {} != 8", value.len()))?;
    let score = f64::from_be_bytes(bits);
    if score.is_nan() {
        return Err("NaN score".into());
    }
    Ok(score)
}

/// Builds a `!zs|mem|` value.
pub fn build_zset_score(score: f64) -> [u8; 8] {
    score.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_built_in_place_match_built_ones() {
        for body in [&b""[..], b"x", b"a longer body"] {
            for ms in [0, 1, 1_700_000_000_000, u64::MAX] {
                let mut buf = vec![0xAA; ENVELOPE_ROOM];
                buf.extend_from_slice(body);
                assert_eq!(
                    string_in_place(&mut buf.clone(), ms),
                    build_string(body, ms)
                );
                assert_eq!(hll_in_place(&mut buf, ms), build_hll(body, ms));
            }
        }
    }

    #[test]
    fn new_format_string_with_and_without_ttl() {
        let v = parse_simple(b"\xff\x01\x00hello", SimpleType::String).unwrap();
        assert_eq!(
            (v.body, v.expire_at_ms, v.new_format),
            (&b"hello"[..], 0, true)
        );
        let with = build_string(b"hi", 1_700_000_000_000);
        assert_eq!(&with[..3], b"\xff\x01\x01");
        let v = parse_simple(&with, SimpleType::String).unwrap();
        assert_eq!((v.body, v.expire_at_ms), (&b"hi"[..], 1_700_000_000_000));
        assert_eq!(build_string(b"hi", 0), b"\xff\x01\x00hi");
        // Unknown flag bits are ignored; flag 1 with expiry 0 means "no TTL line".
        let v = parse_simple(b"\xff\x01\xfe\0\0\0\0\0\0\0\0x", SimpleType::String).unwrap();
        assert_eq!(v.body, b"\0\0\0\0\0\0\0\0x");
        let v = parse_simple(b"\xff\x01\x01\0\0\0\0\0\0\0\0x", SimpleType::String).unwrap();
        assert_eq!((v.body, v.expire_at_ms), (&b"x"[..], 0));
    }

    #[test]
    fn legacy_and_foreign_magic_stay_raw() {
        for raw in [&b""[..], b"\xff", b"plain", b"\xff\x02\x00x"] {
            let v = parse_simple(raw, SimpleType::String).unwrap();
            assert_eq!((v.body, v.new_format), (raw, false));
        }
        let v = parse_simple(b"\xff\x01\x00x", SimpleType::Hll).unwrap();
        assert!(!v.new_format);
    }

    #[test]
    fn truncated_envelopes_are_errors() {
        let err = parse_simple(b"\xff\x01", SimpleType::String).unwrap_err();
        assert!(err.starts_with("header truncated"));
        let err = parse_simple(b"\xff\x02\x01\0\0\0", SimpleType::Hll).unwrap_err();
        assert!(err.starts_with("ttl section truncated"));
    }

    #[test]
    fn expiries_clamp_to_int64() {
        let v = parse_simple(
            b"\xff\x02\x01\xff\xff\xff\xff\xff\xff\xff\xffs",
            SimpleType::Hll,
        )
        .unwrap();
        assert_eq!(v.expire_at_ms, i64::MAX as u64);
        assert_eq!(parse_ttl(&[0xff; 8]), Ok(i64::MAX as u64));
        assert_eq!(parse_ttl(&build_ttl(42)), Ok(42));
        assert!(parse_ttl(b"1234567").is_err());
    }

    #[test]
    fn hll_without_ttl_is_the_raw_sketch() {
        assert_eq!(build_hll(b"sketch", 0), b"sketch");
        assert_eq!(build_hll(b"s", 1), b"\xff\x02\x01\0\0\0\0\0\0\0\x01s");
    }

    #[test]
    fn count_meta_forms() {
        assert_eq!(
            parse_count_meta(&build_count_meta(3, None)),
            Ok(Meta {
                len: 3,
                inline_ttl: None
            })
        );
        assert_eq!(build_count_meta(3, Some(0)).len(), 8);
        let m = parse_count_meta(&build_count_meta(3, Some(9))).unwrap();
        assert_eq!(m.inline_ttl, Some(9));
        // A 16-byte meta with expiry 0 still owns the TTL (explicit "no TTL").
        let m = parse_count_meta(&[0u8; 16]).unwrap();
        assert_eq!(m.inline_ttl, Some(0));
        assert!(parse_count_meta(&[0u8; 9]).is_err());
        assert!(
            parse_count_meta(&u64::MAX.to_be_bytes())
                .unwrap_err()
                .contains("overflows")
        );
    }

    #[test]
    fn list_meta_forms() {
        let meta = build_list_meta(2, Some(7));
        assert_eq!(meta.len(), 32);
        assert_eq!(
            &meta[..24],
            [[0u8; 8], 2u64.to_be_bytes(), 2u64.to_be_bytes()].concat()
        );
        assert_eq!(
            parse_list_meta(&meta),
            Ok(Meta {
                len: 2,
                inline_ttl: Some(7)
            })
        );
        assert_eq!(build_list_meta(2, None).len(), 24);
        assert!(parse_list_meta(&[0u8; 16]).is_err());
    }

    #[test]
    fn stream_meta_forms() {
        let last = StreamId { ms: 5, seq: 6 };
        let m = parse_stream_meta(&build_stream_meta(2, last, None)).unwrap();
        assert_eq!(
            (m.meta, m.last),
            (
                Meta {
                    len: 2,
                    inline_ttl: None
                },
                last
            )
        );
        let mut trimmed = build_stream_meta(2, last, Some(99));
        trimmed.extend_from_slice(&[1u8; 16]);
        assert_eq!(
            parse_stream_meta(&trimmed).unwrap().meta.inline_ttl,
            Some(99)
        );
        assert!(parse_stream_meta(&[0u8; 40]).is_err());
        let mut neg = [0u8; 24];
        neg[0] = 0x80;
        assert!(
            parse_stream_meta(&neg)
                .unwrap_err()
                .contains("declared length")
        );
    }

    #[test]
    fn zset_scores() {
        assert_eq!(parse_zset_score(&build_zset_score(-1.5)), Ok(-1.5));
        assert_eq!(
            parse_zset_score(&build_zset_score(f64::INFINITY)),
            Ok(f64::INFINITY)
        );
        assert!(parse_zset_score(&f64::NAN.to_be_bytes()).is_err());
        assert!(parse_zset_score(b"1234").is_err());
        assert!(
            parse_zset_score(&build_zset_score(-0.0))
                .unwrap()
                .is_sign_negative()
        );
    }
}
