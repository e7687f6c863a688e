//! The two protobuf payloads of the Redis layout (`proto/redis_internal.proto`):
//! stream entries (`\0RXE\x01` + `RedisStreamEntry`) and legacy single-blob zsets
//! (`\0RZ\x01` + `RedisZSetValue`).
//!
//! Encoding uses prost: for these messages (no maps) its bytes equal protobuf-go's.
//! Decoding is a small reader that follows protobuf-go's rules instead of prost's,
//! because the two disagree on damaged input and a restore must accept exactly what
//! the Go tool accepts: protobuf-go treats a known field with an unexpected wire type
//! as an unknown field and skips it (prost fails), and refuses field numbers above
//! 2^29-1 (prost accepts them). Both validate UTF-8 in proto3 `string` fields.

use prost::Message;

use crate::adapters::protowire::{self, Field, WireError};

/// Magic in front of a stored stream entry.
pub const STREAM_ENTRY_MAGIC: &[u8] = b"\0RXE\x01";
/// Magic in front of a legacy zset blob.
pub const ZSET_BLOB_MAGIC: &[u8] = b"\0RZ\x01";

/// `RedisStreamEntry { string id = 1; repeated string fields = 2; }`.
#[derive(Clone, PartialEq, Message)]
pub struct RedisStreamEntry {
    /// The entry ID as text; the snapshot key is authoritative, this copy is for
    /// the live read path.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Interleaved field names and values.
    #[prost(string, repeated, tag = "2")]
    pub fields: Vec<String>,
}

/// `RedisZSetEntry { string member = 1; double score = 2; }`.
#[derive(Clone, PartialEq, Message)]
pub struct RedisZSetEntry {
    /// Member.
    #[prost(string, tag = "1")]
    pub member: String,
    /// Score.
    #[prost(double, tag = "2")]
    pub score: f64,
}

/// `RedisZSetValue { repeated RedisZSetEntry entries = 1; }`.
#[derive(Clone, PartialEq, Message)]
pub struct RedisZSetValue {
    /// Members with scores.
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<RedisZSetEntry>,
}

/// Builds a stored stream entry value: magic + `RedisStreamEntry`.
pub fn build_stream_entry(id: &str, fields: Vec<String>) -> Vec<u8> {
    let msg = RedisStreamEntry {
        id: id.to_owned(),
        fields,
    };
    let mut out = Vec::with_capacity(STREAM_ENTRY_MAGIC.len() + msg.encoded_len());
    out.extend_from_slice(STREAM_ENTRY_MAGIC);
    msg.encode_raw(&mut out);
    out
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    /// The magic prefix is missing.
    Magic {
        /// Length of the whole value.
        len: usize,
    },
    /// The protobuf bytes are malformed.
    Wire(&'static str),
    /// A `string` field holds invalid UTF-8.
    Utf8,
    /// A stream entry with an odd number of field strings.
    OddFieldCount(usize),
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtoError::Magic { len } => {
                write!(f, "missing or corrupt magic prefix (value is {len} bytes)")
            }
            ProtoError::Wire(what) => write!(f, "unmarshal: {what}"),
            ProtoError::Utf8 => f.write_str("unmarshal: string field contains invalid UTF-8"),
            ProtoError::OddFieldCount(n) => {
                write!(f, "{n} field strings; XADD always stores name/value pairs")
            }
        }
    }
}

impl From<WireError> for ProtoError {
    fn from(WireError(what): WireError) -> Self {
        ProtoError::Wire(what)
    }
}

/// Decodes a stored stream entry into its interleaved field strings.
pub fn parse_stream_entry(value: &[u8]) -> Result<Vec<String>, ProtoError> {
    let body = strip_magic(value, STREAM_ENTRY_MAGIC)?;
    let mut fields = Vec::new();
    for_each_field(body, |num, field| {
        match (num, field) {
            // The ID is validated like every string but the key is authoritative.
            (1, Field::Bytes(b)) => {
                std::str::from_utf8(b).map_err(|_| ProtoError::Utf8)?;
            }
            (2, Field::Bytes(b)) => fields.push(utf8(b)?),
            _ => {}
        }
        Ok(())
    })?;
    if fields.len() % 2 != 0 {
        return Err(ProtoError::OddFieldCount(fields.len()));
    }
    Ok(fields)
}

/// One member of a legacy zset blob.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyMember {
    /// Member.
    pub member: String,
    /// Score (never NaN once [`parse_zset_blob`] accepted it).
    pub score: f64,
}

/// Decodes a legacy zset blob into its entries, in blob order.
pub fn parse_zset_blob(value: &[u8]) -> Result<Vec<LegacyMember>, ProtoError> {
    let body = strip_magic(value, ZSET_BLOB_MAGIC)?;
    let mut entries = Vec::new();
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(b)) = (num, field) {
            entries.push(parse_zset_entry(b)?);
        }
        Ok(())
    })?;
    Ok(entries)
}

fn parse_zset_entry(body: &[u8]) -> Result<LegacyMember, ProtoError> {
    let mut entry = LegacyMember {
        member: String::new(),
        score: 0.0,
    };
    for_each_field(body, |num, field| {
        match (num, field) {
            (1, Field::Bytes(b)) => entry.member = utf8(b)?,
            (2, Field::Fixed64(bits)) => entry.score = f64::from_bits(bits),
            _ => {}
        }
        Ok(())
    })?;
    Ok(entry)
}

fn strip_magic<'a>(value: &'a [u8], magic: &[u8]) -> Result<&'a [u8], ProtoError> {
    value
        .strip_prefix(magic)
        .ok_or(ProtoError::Magic { len: value.len() })
}

fn utf8(bytes: &[u8]) -> Result<String, ProtoError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtoError::Utf8)
}

/// [`protowire::for_each_field`] with this module's error type.
fn for_each_field<'a>(
    msg: &'a [u8],
    visit: impl FnMut(u64, Field<'a>) -> Result<(), ProtoError>,
) -> Result<(), ProtoError> {
    protowire::for_each_field(msg, visit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_value(msg: &RedisStreamEntry) -> Vec<u8> {
        [STREAM_ENTRY_MAGIC, &msg.encode_to_vec()].concat()
    }

    #[test]
    fn stream_entries_round_trip() {
        let fields = vec![
            "event".to_owned(),
            "login".to_owned(),
            String::new(),
            "".to_owned(),
        ];
        let value = build_stream_entry("1-2", fields.clone());
        assert_eq!(&value[..5], STREAM_ENTRY_MAGIC);
        // id (tag 1) first, then every field string including empty ones.
        assert_eq!(&value[5..10], b"\x0a\x031-2");
        assert_eq!(parse_stream_entry(&value), Ok(fields));
        assert_eq!(parse_stream_entry(STREAM_ENTRY_MAGIC), Ok(vec![]));
    }

    #[test]
    fn stream_entry_failures() {
        assert_eq!(
            parse_stream_entry(b"\0RXE"),
            Err(ProtoError::Magic { len: 4 })
        );
        let odd = RedisStreamEntry {
            id: "1-1".into(),
            fields: vec!["a".into()],
        };
        assert_eq!(
            parse_stream_entry(&stream_value(&odd)),
            Err(ProtoError::OddFieldCount(1))
        );
        // Invalid UTF-8 in the ignored id still fails, as in protobuf-go.
        let bad_id = [STREAM_ENTRY_MAGIC, b"\x0a\x01\xff"].concat();
        assert_eq!(parse_stream_entry(&bad_id), Err(ProtoError::Utf8));
        let truncated = [STREAM_ENTRY_MAGIC, b"\x12\x05ab"].concat();
        assert!(matches!(
            parse_stream_entry(&truncated),
            Err(ProtoError::Wire(_))
        ));
        let field_zero = [STREAM_ENTRY_MAGIC, b"\x02\x00"].concat();
        assert!(matches!(
            parse_stream_entry(&field_zero),
            Err(ProtoError::Wire(_))
        ));
        let end_group = [STREAM_ENTRY_MAGIC, b"\x0c"].concat();
        assert!(matches!(
            parse_stream_entry(&end_group),
            Err(ProtoError::Wire(_))
        ));
        let reserved = [STREAM_ENTRY_MAGIC, b"\x0e"].concat();
        assert!(matches!(
            parse_stream_entry(&reserved),
            Err(ProtoError::Wire(_))
        ));
    }

    #[test]
    fn unknown_fields_and_wire_type_mismatches_are_skipped() {
        // field 2 as a varint (wrong wire type), field 9 fixed32, a group 5 holding a
        // nested group, then a real field pair.
        let body = b"\x10\x01\x4d\x01\x02\x03\x04\x2b\x33\x08\x01\x34\x2c\x12\x01a\x12\x01b";
        let value = [STREAM_ENTRY_MAGIC, &body[..]].concat();
        assert_eq!(
            parse_stream_entry(&value),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        let mismatched_group = [STREAM_ENTRY_MAGIC, b"\x2b\x34"].concat();
        assert!(matches!(
            parse_stream_entry(&mismatched_group),
            Err(ProtoError::Wire(_))
        ));
        let huge_number = [STREAM_ENTRY_MAGIC, b"\x80\x80\x80\x80\x10\x00"].concat();
        assert!(matches!(
            parse_stream_entry(&huge_number),
            Err(ProtoError::Wire(_))
        ));
    }

    #[test]
    fn legacy_zset_blobs() {
        let msg = RedisZSetValue {
            entries: vec![
                RedisZSetEntry {
                    member: "a".into(),
                    score: 1.5,
                },
                RedisZSetEntry {
                    member: String::new(),
                    score: 0.0,
                },
                RedisZSetEntry {
                    member: "c".into(),
                    score: f64::NEG_INFINITY,
                },
            ],
        };
        let value = [ZSET_BLOB_MAGIC, &msg.encode_to_vec()].concat();
        let parsed = parse_zset_blob(&value).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(
            parsed[0],
            LegacyMember {
                member: "a".into(),
                score: 1.5
            }
        );
        assert_eq!(
            parsed[1],
            LegacyMember {
                member: String::new(),
                score: 0.0
            }
        );
        assert_eq!(parsed[2].score, f64::NEG_INFINITY);
        assert_eq!(
            parse_zset_blob(b"\0RZ\x02"),
            Err(ProtoError::Magic { len: 4 })
        );
        assert_eq!(parse_zset_blob(ZSET_BLOB_MAGIC), Ok(vec![]));
        let bad_member = [ZSET_BLOB_MAGIC, b"\x0a\x03\x0a\x01\xfe"].concat();
        assert_eq!(parse_zset_blob(&bad_member), Err(ProtoError::Utf8));
    }
}
