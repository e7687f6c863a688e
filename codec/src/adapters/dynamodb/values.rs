//! Value envelopes of the DynamoDB layout (docs/format.md §3): a 4-byte magic in
//! front of each protobuf payload, and the generation counter's decimal text.

use super::keys::RESTORE_GENERATION;
use super::proto::{self, Item, ProtoError, TableSchema};

/// `00 'D' 'S' 01`: in front of a stored `DynamoTableSchema`.
pub const SCHEMA_MAGIC: &[u8] = b"\0DS\x01";
/// `00 'D' 'I' 01`: in front of a stored `DynamoItem`.
pub const ITEM_MAGIC: &[u8] = b"\0DI\x01";

/// Why a stored value is not what its key says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The magic prefix is missing.
    #[error("missing magic prefix (value is {len} bytes)")]
    Magic {
        /// Length of the whole value.
        len: usize,
    },
    /// The protobuf body does not decode.
    #[error(transparent)]
    Proto(#[from] ProtoError),
}

/// The protobuf body of a stored schema, checked to decode.
pub fn parse_schema(value: &[u8]) -> Result<TableSchema, ValueError> {
    let body = strip(value, SCHEMA_MAGIC)?;
    Ok(proto::decode_schema(body)?)
}

/// The protobuf body of a stored item (after the magic), without decoding it.
pub fn item_body(value: &[u8]) -> Result<&[u8], ValueError> {
    strip(value, ITEM_MAGIC)
}

/// A stored item.
pub fn parse_item(value: &[u8]) -> Result<Item, ValueError> {
    Ok(proto::decode_item(item_body(value)?)?)
}

fn strip<'a>(value: &'a [u8], magic: &[u8]) -> Result<&'a [u8], ValueError> {
    value
        .strip_prefix(magic)
        .ok_or(ValueError::Magic { len: value.len() })
}

/// The stored schema value: magic + deterministic protobuf.
pub fn schema_value(schema: &TableSchema) -> Vec<u8> {
    let mut out = SCHEMA_MAGIC.to_vec();
    proto::encode_schema(schema, &mut out);
    out
}

/// The stored item value: magic + deterministic protobuf.
pub fn item_value(item: &Item) -> Vec<u8> {
    let mut out = ITEM_MAGIC.to_vec();
    proto::encode_item(item, &mut out);
    out
}

/// The `!ddb|meta|gen|` value of a restored table: the generation in decimal.
pub fn generation_value() -> Vec<u8> {
    RESTORE_GENERATION.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let mut item = Item::default();
        item.attributes
            .insert("pk".into(), proto::AttributeValue::S("a".into()));
        let value = item_value(&item);
        assert_eq!(&value[..4], ITEM_MAGIC);
        assert_eq!(parse_item(&value), Ok(item));
        assert_eq!(parse_item(b"\0DS\x01"), Err(ValueError::Magic { len: 4 }));
        assert_eq!(parse_schema(b"\0DI"), Err(ValueError::Magic { len: 3 }));
        assert_eq!(generation_value(), b"1");
    }
}
