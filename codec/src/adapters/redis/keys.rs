//! Store-key layouts of the live Redis adapter (docs/format.md §3.4), parsed and built.
//!
//! Three shapes exist: the key appended raw (`!redis|str|`, `!redis|hll|`,
//! `!redis|ttl|`, `!redis|zset|`, `!lst|meta|`), the key appended raw followed by a
//! fixed 8-byte list sequence (`!lst|itm|`), and the "wide-column" shape
//! `L4(key) ‖ suffix` with a big-endian u32 length (hashes, sets, zsets, streams).
//! Parsers take the key *after* its prefix; the dispatch table already matched it.

/// `!redis|str|` + key.
pub const STRING: &[u8] = b"!redis|str|";
/// `!redis|hll|` + key.
pub const HLL: &[u8] = b"!redis|hll|";
/// `!redis|ttl|` + key.
pub const TTL: &[u8] = b"!redis|ttl|";
/// `!hs|meta|` + L4(key).
pub const HASH_META: &[u8] = b"!hs|meta|";
/// `!hs|fld|` + L4(key) + field name.
pub const HASH_FIELD: &[u8] = b"!hs|fld|";
/// `!lst|meta|` + key (no length prefix).
pub const LIST_META: &[u8] = b"!lst|meta|";
/// `!lst|itm|` + key + sortable seq.
pub const LIST_ITEM: &[u8] = b"!lst|itm|";
/// `!st|meta|` + L4(key).
pub const SET_META: &[u8] = b"!st|meta|";
/// `!st|mem|` + L4(key) + member.
pub const SET_MEMBER: &[u8] = b"!st|mem|";
/// `!zs|meta|` + L4(key).
pub const ZSET_META: &[u8] = b"!zs|meta|";
/// `!zs|mem|` + L4(key) + member.
pub const ZSET_MEMBER: &[u8] = b"!zs|mem|";
/// `!zs|scr|` + L4(key) + sortable score + member.
pub const ZSET_SCORE: &[u8] = b"!zs|scr|";
/// `!stream|meta|` + L4(key).
pub const STREAM_META: &[u8] = b"!stream|meta|";
/// `!stream|entry|` + L4(key) + BE64 ms + BE64 seq.
pub const STREAM_ENTRY: &[u8] = b"!stream|entry|";

/// Width of the wide-column user-key length prefix.
const LEN_PREFIX: usize = 4;
/// Width of a list sequence number or of each half of a stream ID.
const U64: usize = 8;
/// The bit that makes two's-complement sequence numbers sort as unsigned bytes.
const SIGN_BIT: u64 = 1 << 63;

/// A stream entry ID: milliseconds and a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Why a key could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer than four bytes where the length prefix should be.
    NoLengthPrefix,
    /// The length prefix claims more bytes than the key has.
    LengthBeyondKey {
        /// The declared length.
        declared: u32,
        /// Bytes available after the prefix.
        available: usize,
    },
    /// A list item key shorter than its 8-byte sequence.
    NoListSeq,
    /// A stream entry key whose tail is not exactly 16 bytes.
    BadStreamIdLen(usize),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::NoLengthPrefix => f.write_str("shorter than the 4-byte key length"),
            KeyError::LengthBeyondKey {
                declared,
                available,
            } => write!(
                f,
                "key length {declared} exceeds the {available} bytes that follow it"
            ),
            KeyError::NoListSeq => f.write_str("shorter than the 8-byte item sequence"),
            KeyError::BadStreamIdLen(n) => {
                write!(
                    f,
                    "{n} bytes follow the key where a 16-byte entry ID belongs"
                )
            }
        }
    }
}

/// Splits `L4(key) ‖ tail` into `(key, tail)`.
pub fn split_len_prefixed(rest: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let (len, after) = rest
        .split_first_chunk::<LEN_PREFIX>()
        .ok_or(KeyError::NoLengthPrefix)?;
    let declared = u32::from_be_bytes(*len);
    // Compare in u64: a u32 length never wraps there, on any platform.
    if u64::from(declared) > after.len() as u64 {
        return Err(KeyError::LengthBeyondKey {
            declared,
            available: after.len(),
        });
    }
    Ok(after.split_at(declared as usize))
}

/// Splits a list item key's rest into the user key and its signed sequence.
pub fn split_list_item(rest: &[u8]) -> Result<(&[u8], i64), KeyError> {
    let (key, seq) = rest.split_last_chunk::<U64>().ok_or(KeyError::NoListSeq)?;
    Ok((key, seq_from_sortable(*seq)))
}

/// Splits a stream entry key's rest into the user key and the entry ID.
pub fn split_stream_entry(rest: &[u8]) -> Result<(&[u8], StreamId), KeyError> {
    let (key, tail) = split_len_prefixed(rest)?;
    let id: [u8; 2 * U64] = tail
        .try_into()
        .map_err(|_| KeyError::BadStreamIdLen(tail.len()))?;
    let id = u128::from_be_bytes(id);
    Ok((
        key,
        StreamId {
            ms: (id >> 64) as u64,
            seq: id as u64,
        },
    ))
}

/// The order-preserving byte form of a list sequence (sign bit flipped).
pub fn sortable_seq(seq: i64) -> [u8; 8] {
    ((seq as u64) ^ SIGN_BIT).to_be_bytes()
}

/// Inverse of [`sortable_seq`].
pub fn seq_from_sortable(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ SIGN_BIT) as i64
}

/// The order-preserving byte form of a zset score used by the `!zs|scr|` index:
/// `-0` becomes `+0`, then non-negative numbers flip the sign bit and negative ones
/// flip every bit, so unsigned byte order equals numeric order.
pub fn sortable_score(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let flipped = if bits & SIGN_BIT == 0 {
        bits ^ SIGN_BIT
    } else {
        !bits
    };
    flipped.to_be_bytes()
}

/// `prefix ‖ key`.
pub fn raw_key(prefix: &[u8], user_key: &[u8]) -> Vec<u8> {
    [prefix, user_key].concat()
}

/// `prefix ‖ BE32(len(key)) ‖ key ‖ suffix`.
///
/// Keys longer than `u32::MAX` cannot exist (the store caps keys at 1 MiB and the
/// snapshot builder refuses longer ones), so the length saturates rather than fail.
pub fn wide_key(prefix: &[u8], user_key: &[u8], suffix: &[u8]) -> Vec<u8> {
    let len = u32::try_from(user_key.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(prefix.len() + LEN_PREFIX + user_key.len() + suffix.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(user_key);
    out.extend_from_slice(suffix);
    out
}

/// `!lst|itm|` ‖ key ‖ sortable(seq).
pub fn list_item_key(user_key: &[u8], seq: i64) -> Vec<u8> {
    [LIST_ITEM, user_key, &sortable_seq(seq)].concat()
}

/// `!stream|entry|` ‖ L4(key) ‖ BE64 ms ‖ BE64 seq.
pub fn stream_entry_key(user_key: &[u8], id: StreamId) -> Vec<u8> {
    let mut suffix = [0u8; 2 * U64];
    suffix[..U64].copy_from_slice(&id.ms.to_be_bytes());
    suffix[U64..].copy_from_slice(&id.seq.to_be_bytes());
    wide_key(STREAM_ENTRY, user_key, &suffix)
}

/// `!zs|scr|` ‖ L4(key) ‖ sortable(score) ‖ member.
pub fn zset_score_key(user_key: &[u8], score: f64, member: &[u8]) -> Vec<u8> {
    wide_key(
        ZSET_SCORE,
        user_key,
        &[&sortable_score(score)[..], member].concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_prefixed_keys_split_and_build() {
        let key = wide_key(HASH_FIELD, b"ab", b"field");
        assert_eq!(&key[..HASH_FIELD.len()], HASH_FIELD);
        assert_eq!(
            split_len_prefixed(&key[HASH_FIELD.len()..]),
            Ok((&b"ab"[..], &b"field"[..]))
        );
        assert_eq!(split_len_prefixed(b"\0\0\0"), Err(KeyError::NoLengthPrefix));
        // The malformed vector case-0036: length 0x63 with two bytes after it.
        assert_eq!(
            split_len_prefixed(b"\0\0\0ca"),
            Err(KeyError::LengthBeyondKey {
                declared: 0x63,
                available: 1
            })
        );
        assert_eq!(
            split_len_prefixed(b"\xff\xff\xff\xff"),
            Err(KeyError::LengthBeyondKey {
                declared: u32::MAX,
                available: 0
            })
        );
        // An empty member/field is legal.
        assert_eq!(split_len_prefixed(b"\0\0\0\0"), Ok((&b""[..], &b""[..])));
    }

    #[test]
    fn list_sequences_sort_as_bytes() {
        assert_eq!(sortable_seq(0), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            sortable_seq(-1),
            [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        for seq in [i64::MIN, -5, -1, 0, 1, 7, i64::MAX] {
            assert_eq!(seq_from_sortable(sortable_seq(seq)), seq);
        }
        assert!(sortable_seq(-1) < sortable_seq(0));
        let key = list_item_key(b"L", -2);
        assert_eq!(
            split_list_item(&key[LIST_ITEM.len()..]),
            Ok((&b"L"[..], -2))
        );
        assert_eq!(split_list_item(b"1234567"), Err(KeyError::NoListSeq));
        // A user key may itself be empty: exactly eight bytes is legal.
        assert_eq!(split_list_item(&sortable_seq(3)), Ok((&b""[..], 3)));
    }

    #[test]
    fn stream_entry_keys_need_exactly_sixteen_id_bytes() {
        let id = StreamId {
            ms: 1_714_400_000_000,
            seq: 3,
        };
        let key = stream_entry_key(b"s", id);
        assert_eq!(
            split_stream_entry(&key[STREAM_ENTRY.len()..]),
            Ok((&b"s"[..], id))
        );
        let mut long = key[STREAM_ENTRY.len()..].to_vec();
        long.push(0);
        assert_eq!(split_stream_entry(&long), Err(KeyError::BadStreamIdLen(17)));
        assert_eq!(id.to_string(), "1714400000000-3");
    }

    #[test]
    fn score_index_orders_numerically() {
        let scores = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
        ];
        for pair in scores.windows(2) {
            assert!(
                sortable_score(pair[0]) <= sortable_score(pair[1]),
                "{pair:?}"
            );
        }
        assert_eq!(sortable_score(-0.0), sortable_score(0.0));
        assert_eq!(sortable_score(1.0), [0xbf, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            sortable_score(-1.0),
            [0x40, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let key = zset_score_key(b"z", 1.0, b"m");
        assert_eq!(
            key,
            [ZSET_SCORE, b"\0\0\0\x01z\xbf\xf0\0\0\0\0\0\0m"].concat()
        );
    }
}
