//! Store-key layouts of the DynamoDB adapter (docs/format.md §3.1, §6.3), both
//! directions: parsing what the decoder needs out of `!ddb|…` keys, and building the
//! keys the encoder restores (generation 1, ordered key encoding v2).

use crate::tree::bsv::{decode_base64url, encode_base64url};
use crate::tree::segment::{encode_segment, names_own_directory};

/// `!ddb|meta|table|<b64url table>`.
pub const TABLE_META_PREFIX: &[u8] = b"!ddb|meta|table|";
/// `!ddb|meta|gen|<b64url table>`.
pub const TABLE_GEN_PREFIX: &[u8] = b"!ddb|meta|gen|";
/// `!ddb|item|<b64url table>|<gen>|<primary key>`.
pub const ITEM_PREFIX: &[u8] = b"!ddb|item|";
/// `!ddb|gsi|<b64url table>|<gen>|<b64url index>|<index key><primary key>`.
pub const GSI_PREFIX: &[u8] = b"!ddb|gsi|";

/// The generation every restored table gets (docs/format.md §6.1, "Option B").
pub const RESTORE_GENERATION: u64 = 1;
/// `key_encoding_version` of the ordered key encoding the encoder writes.
pub const ORDERED_KEY_ENCODING: u64 = 2;

/// Why a key does not parse (`ErrDDBMalformedKey`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Nothing after the prefix.
    #[error("empty table segment")]
    EmptyTable,
    /// A table name that cannot name the table's directory (empty, `.`, `..`): Go
    /// writes such a table into `dynamodb/` itself, or its parent.
    #[error("table name {0:?} cannot name a directory")]
    NotADirectoryName(String),
    /// The table segment is not base64url.
    #[error("table segment is not base64url: {0}")]
    Base64(String),
    /// The table segment is not valid UTF-8 text (it cannot be base64url then).
    #[error("table segment is not text")]
    NotText,
    /// No `|` after a non-empty table segment.
    #[error("item key missing table/gen separator")]
    NoTableSeparator,
    /// No `|` after a non-empty generation.
    #[error("item key missing gen/rest separator")]
    NoGenSeparator,
    /// The generation is not a decimal `u64`.
    #[error("generation {0:?} is not a decimal uint64")]
    Generation(String),
    /// Nothing after the generation.
    #[error("item key missing primary-key payload")]
    NoPrimaryKey,
}

/// A table meta key's rest: `(encoded table, raw table name)`.
pub fn parse_table_meta(rest: &[u8]) -> Result<(&str, Vec<u8>), KeyError> {
    if rest.is_empty() {
        return Err(KeyError::EmptyTable);
    }
    // Go works on the key as a string; bytes that are not base64url fail decoding
    // either way, so non-UTF-8 is just one more way to be malformed.
    let encoded = std::str::from_utf8(rest).map_err(|_| KeyError::NotText)?;
    let raw = decode_base64url(encoded).map_err(|e| KeyError::Base64(e.to_string()))?;
    if !names_own_directory(&encode_segment(&raw)) {
        return Err(KeyError::NotADirectoryName(
            String::from_utf8_lossy(&raw).into_owned(),
        ));
    }
    Ok((encoded, raw))
}

/// An item key's rest: `(encoded table, generation)`. The primary-key payload is
/// only checked to be non-empty: the item's identity comes from its attributes.
pub fn parse_item(rest: &[u8]) -> Result<(&[u8], u64), KeyError> {
    let table_end = match rest.iter().position(|&b| b == b'|') {
        Some(0) | None => return Err(KeyError::NoTableSeparator),
        Some(i) => i,
    };
    let table = &rest[..table_end];
    let text = std::str::from_utf8(table).map_err(|_| KeyError::NotText)?;
    decode_base64url(text).map_err(|e| KeyError::Base64(e.to_string()))?;
    let after = &rest[table_end + 1..];
    let gen_end = match after.iter().position(|&b| b == b'|') {
        Some(0) | None => return Err(KeyError::NoGenSeparator),
        Some(i) => i,
    };
    let gen_text = &after[..gen_end];
    let generation = parse_go_uint(gen_text)
        .ok_or_else(|| KeyError::Generation(String::from_utf8_lossy(gen_text).into_owned()))?;
    if gen_end + 1 == after.len() {
        return Err(KeyError::NoPrimaryKey);
    }
    Ok((table, generation))
}

/// `strconv.ParseUint(s, 10, 64)`: decimal digits only, no sign, in range.
fn parse_go_uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `!ddb|meta|table|<b64url table>`.
pub fn table_meta_key(table: &str) -> Vec<u8> {
    [
        TABLE_META_PREFIX,
        encode_base64url(table.as_bytes()).as_bytes(),
    ]
    .concat()
}

/// `!ddb|meta|gen|<b64url table>`.
pub fn table_gen_key(table: &str) -> Vec<u8> {
    [
        TABLE_GEN_PREFIX,
        encode_base64url(table.as_bytes()).as_bytes(),
    ]
    .concat()
}

/// `!ddb|item|<b64url table>|1|` + the ordered primary-key segments.
pub fn item_key(table: &str, hash_seg: &[u8], range_seg: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ITEM_PREFIX.len() + table.len() * 2 + hash_seg.len() + 16);
    key.extend_from_slice(ITEM_PREFIX);
    key.extend_from_slice(encode_base64url(table.as_bytes()).as_bytes());
    key.extend_from_slice(format!("|{RESTORE_GENERATION}|").as_bytes());
    key.extend_from_slice(hash_seg);
    key.extend_from_slice(range_seg);
    key
}

/// `!ddb|gsi|<b64url table>|1|<b64url index>|` (the caller appends the segments).
pub fn gsi_key_prefix(table: &str, index: &str) -> Vec<u8> {
    let mut key = Vec::new();
    key.extend_from_slice(GSI_PREFIX);
    key.extend_from_slice(encode_base64url(table.as_bytes()).as_bytes());
    key.extend_from_slice(format!("|{RESTORE_GENERATION}|").as_bytes());
    key.extend_from_slice(encode_base64url(index.as_bytes()).as_bytes());
    key.push(b'|');
    key
}

/// A key attribute's raw bytes as one self-delimiting key segment: every `00` becomes
/// `00 FF`, then `00 01` terminates it, so segments concatenate unambiguously and
/// compare like their raw bytes.
pub fn ordered_segment(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 2);
    for &b in raw {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_keys_parse_like_go() {
        assert_eq!(parse_item(b"dA|7|pk"), Ok((&b"dA"[..], 7)));
        assert_eq!(parse_item(b"|7|pk"), Err(KeyError::NoTableSeparator));
        assert_eq!(parse_item(b"dA"), Err(KeyError::NoTableSeparator));
        assert_eq!(parse_item(b"dA||pk"), Err(KeyError::NoGenSeparator));
        assert_eq!(parse_item(b"dA|7"), Err(KeyError::NoGenSeparator));
        assert_eq!(parse_item(b"dA|7|"), Err(KeyError::NoPrimaryKey));
        assert!(matches!(
            parse_item(b"dA|+7|x"),
            Err(KeyError::Generation(_))
        ));
        assert!(matches!(
            parse_item(b"dA|18446744073709551616|x"),
            Err(KeyError::Generation(_))
        ));
        assert!(matches!(parse_item(b"d*|1|x"), Err(KeyError::Base64(_))));
    }

    #[test]
    fn table_meta_keys() {
        assert_eq!(parse_table_meta(b"dA").unwrap(), ("dA", b"t".to_vec()));
        assert_eq!(parse_table_meta(b""), Err(KeyError::EmptyTable));
        assert!(parse_table_meta(b"!!").is_err());
        // "." and "..": their directory would be dynamodb/ itself or the tree root.
        for (encoded, name) in [(&b"Lg"[..], "."), (b"Li4", "..")] {
            assert_eq!(
                parse_table_meta(encoded),
                Err(KeyError::NotADirectoryName(name.to_owned()))
            );
        }
        assert!(
            parse_table_meta(b"Li4u").is_ok(),
            "\"...\" is a name like any other"
        );
        assert_eq!(table_meta_key("t"), b"!ddb|meta|table|dA");
        assert_eq!(table_gen_key("t"), b"!ddb|meta|gen|dA");
    }

    #[test]
    fn segments_escape_zero_bytes() {
        assert_eq!(ordered_segment(b"a\0b"), b"a\0\xffb\0\x01");
        assert_eq!(ordered_segment(b""), b"\0\x01");
        assert_eq!(item_key("t", b"h", b"r"), b"!ddb|item|dA|1|hr");
        assert_eq!(gsi_key_prefix("t", "i"), b"!ddb|gsi|dA|1|aQ|");
    }
}
