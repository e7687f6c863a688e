//! The two protobuf payloads of the DynamoDB layout (`proto/dynamodb_internal.proto`):
//! table schemas (`DynamoTableSchema`) and items (`DynamoItem`).
//!
//! Both directions are written by hand rather than with prost, for byte parity with
//! protobuf-go in both directions (docs/format.md §3.1, §6.3):
//!
//! * Encoding follows `MarshalOptions{Deterministic: true}`: fields by number, map
//!   entries sorted by key, and — where prost differs — every map entry carries its
//!   key *and* its value even when they are empty, and a oneof member is written even
//!   when it holds its zero value.
//! * Decoding follows protobuf-go's rules on damaged input: a known field number with
//!   an unexpected wire type is an unknown field and skipped, field numbers above
//!   2^29-1 are refused, proto3 strings must be UTF-8, a repeated message field
//!   merges into the value already there, a repeated map key replaces it.

use std::collections::BTreeMap;

use crate::adapters::protowire::{self, BYTES, Field, VARINT, WireError};

/// `DynamoKeySchema`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySchema {
    /// Hash (partition) key attribute name.
    pub hash_key: String,
    /// Range (sort) key attribute name; empty for a hash-only key.
    pub range_key: String,
}

/// `DynamoGSIProjection`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE` (not checked).
    pub projection_type: String,
    /// Extra attributes of an `INCLUDE` projection, in stored order.
    pub non_key_attributes: Vec<String>,
}

/// `DynamoGlobalSecondaryIndex`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gsi {
    /// The index key; `None` when absent from the message.
    pub key_schema: Option<KeySchema>,
    /// The projection; `None` when absent.
    pub projection: Option<Projection>,
}

/// `DynamoTableSchema`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    /// Table name as stored (the tree names the directory after the key instead).
    pub table_name: String,
    /// Attribute name → `S` / `N` / `B`.
    pub attribute_definitions: BTreeMap<String, String>,
    /// The primary key; `None` when absent.
    pub primary_key: Option<KeySchema>,
    /// Index name → index.
    pub global_secondary_indexes: BTreeMap<String, Gsi>,
    /// 2 for the ordered key encoding.
    pub key_encoding_version: u64,
    /// The generation a migration copies from (0: none).
    pub migrating_from_generation: u64,
    /// The active generation.
    pub generation: u64,
}

impl TableSchema {
    /// The hash key name (empty when the schema has none).
    pub fn hash_key(&self) -> &str {
        self.primary_key
            .as_ref()
            .map_or("", |k| k.hash_key.as_str())
    }

    /// The range key name (empty for hash-only tables).
    pub fn range_key(&self) -> &str {
        self.primary_key
            .as_ref()
            .map_or("", |k| k.range_key.as_str())
    }
}

/// `DynamoAttributeValue`: one of its oneof members, or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AttributeValue {
    /// No member set (rendered as `{"NULL": true}`, as Go does).
    #[default]
    Unset,
    /// `S`.
    S(String),
    /// `N`, verbatim.
    N(String),
    /// `B`.
    B(Vec<u8>),
    /// `BOOL`.
    Bool(bool),
    /// `NULL` with its stored flag.
    Null(bool),
    /// `SS`.
    Ss(Vec<String>),
    /// `NS`.
    Ns(Vec<String>),
    /// `BS`.
    Bs(Vec<Vec<u8>>),
    /// `L`.
    L(Vec<AttributeValue>),
    /// `M`.
    M(BTreeMap<String, AttributeValue>),
}

/// `DynamoItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    /// Attribute name → value.
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// Nested attribute values accepted. DynamoDB itself allows 32 levels; protobuf-go
/// allows 10 000 message levels (about 5 000 nested lists), which recursion here
/// could not survive on a thread's stack, so a deeper item is refused — a deliberate
/// difference from Go (docs/format.md §4.4).
pub const MAX_NESTING: usize = 100;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The protobuf bytes are malformed.
    #[error("proto: {0}")]
    Wire(&'static str),
    /// A `string` field holds invalid UTF-8.
    #[error("proto: string field contains invalid UTF-8")]
    Utf8,
    /// Attribute values nested deeper than [`MAX_NESTING`].
    #[error("attribute values nested deeper than {MAX_NESTING} levels")]
    TooDeep,
}

impl From<WireError> for ProtoError {
    fn from(WireError(what): WireError) -> Self {
        ProtoError::Wire(what)
    }
}

type Result<T> = std::result::Result<T, ProtoError>;

// --- decoding ------------------------------------------------------------------

/// Decodes a `DynamoTableSchema` body (after the magic).
pub fn decode_schema(body: &[u8]) -> Result<TableSchema> {
    let mut s = TableSchema::default();
    for_each_field(body, |num, field| {
        match (num, field) {
            (1, Field::Bytes(b)) => s.table_name = utf8(b)?,
            (2, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, |slot: &mut String, v| {
                    *slot = utf8(v)?;
                    Ok(())
                })?;
                s.attribute_definitions.insert(k, v);
            }
            (3, Field::Bytes(b)) => merge_key_schema(s.primary_key.get_or_insert_default(), b)?,
            (4, Field::Bytes(b)) => {
                let (k, v) = map_entry(b, merge_gsi)?;
                s.global_secondary_indexes.insert(k, v);
            }
            (5, Field::Varint(v)) => s.key_encoding_version = v,
            (6, Field::Varint(v)) => s.migrating_from_generation = v,
            (7, Field::Varint(v)) => s.generation = v,
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

fn merge_key_schema(k: &mut KeySchema, body: &[u8]) -> Result<()> {
    for_each_field(body, |num, field| {
        match (num, field) {
            (1, Field::Bytes(b)) => k.hash_key = utf8(b)?,
            (2, Field::Bytes(b)) => k.range_key = utf8(b)?,
            _ => {}
        }
        Ok(())
    })
}

fn merge_gsi(g: &mut Gsi, body: &[u8]) -> Result<()> {
    for_each_field(body, |num, field| {
        match (num, field) {
            (1, Field::Bytes(b)) => merge_key_schema(g.key_schema.get_or_insert_default(), b)?,
            (2, Field::Bytes(b)) => {
                let p = g.projection.get_or_insert_default();
                for_each_field(b, |num, field| {
                    match (num, field) {
                        (1, Field::Bytes(b)) => p.projection_type = utf8(b)?,
                        (2, Field::Bytes(b)) => p.non_key_attributes.push(utf8(b)?),
                        _ => {}
                    }
                    Ok(())
                })?;
            }
            _ => {}
        }
        Ok(())
    })
}

/// Decodes a `DynamoItem` body (after the magic).
pub fn decode_item(body: &[u8]) -> Result<Item> {
    let mut item = Item::default();
    merge_attribute_map(&mut item.attributes, body, 0)?;
    Ok(item)
}

/// Checks a `DynamoItem` body exactly as [`decode_item`] does — the same walk, the
/// same first error — without building anything. The decoder checks every item when
/// it arrives but needs the whole item only when it writes its file, so arrival costs
/// a scan instead of a tree of strings built and dropped.
pub fn validate_item(body: &[u8]) -> Result<()> {
    check_attribute_map(body, 0)
}

/// The attributes of an item body whose names are in `names` (its key attributes),
/// as [`decode_item`] would give them; the values of the others are not parsed. Only
/// for a body [`validate_item`] accepted: on a damaged one it may miss the error
/// [`decode_item`] reports.
pub fn decode_item_attributes(body: &[u8], names: &[&str]) -> Result<Item> {
    let mut item = Item::default();
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(b)) = (num, field)
            && names.contains(&entry_key(b)?)
        {
            let (k, v) = map_entry(b, |av, v| merge_attribute(av, v, 1))?;
            item.attributes.insert(k, v);
        }
        Ok(())
    })?;
    Ok(item)
}

/// The key of a map entry: its last field 1, empty when absent.
fn entry_key(body: &[u8]) -> Result<&str> {
    let mut key: &[u8] = &[];
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(b)) = (num, field) {
            key = b;
        }
        Ok(())
    })?;
    std::str::from_utf8(key).map_err(|_| ProtoError::Utf8)
}

/// [`merge_attribute_map`]'s checks without the map.
fn check_attribute_map(body: &[u8], depth: usize) -> Result<()> {
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(b)) = (num, field) {
            check_map_entry(b, |v| check_attribute(v, depth + 1))?;
        }
        Ok(())
    })
}

/// [`merge_attribute`]'s and [`merge_member`]'s checks without the value.
fn check_attribute(body: &[u8], depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(ProtoError::TooDeep);
    }
    for_each_field(body, |num, field| {
        let Field::Bytes(b) = field else {
            return Ok(());
        };
        match num {
            1 | 2 => check_utf8(b),
            6 | 7 => for_each_field(b, |num, field| match (num, field) {
                (1, Field::Bytes(v)) => check_utf8(v),
                _ => Ok(()),
            }),
            8 => for_each_field(b, |_, _| Ok(())),
            9 => for_each_field(b, |num, field| match (num, field) {
                (1, Field::Bytes(v)) => check_attribute(v, depth + 1),
                _ => Ok(()),
            }),
            10 => check_attribute_map(b, depth + 1),
            _ => Ok(()),
        }
    })
}

/// [`map_entry`]'s checks: a UTF-8 key, each value field checked by `check`.
fn check_map_entry(body: &[u8], mut check: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    for_each_field(body, |num, field| match (num, field) {
        (1, Field::Bytes(b)) => check_utf8(b),
        (2, Field::Bytes(b)) => check(b),
        _ => Ok(()),
    })
}

fn check_utf8(bytes: &[u8]) -> Result<()> {
    std::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|_| ProtoError::Utf8)
}

/// Merges the map entries (field 1) of `body` into `map`.
fn merge_attribute_map(
    map: &mut BTreeMap<String, AttributeValue>,
    body: &[u8],
    depth: usize,
) -> Result<()> {
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(b)) = (num, field) {
            let (k, v) = map_entry(b, |av, v| merge_attribute(av, v, depth + 1))?;
            map.insert(k, v);
        }
        Ok(())
    })
}

fn merge_attribute(av: &mut AttributeValue, body: &[u8], depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(ProtoError::TooDeep);
    }
    for_each_field(body, |num, field| {
        let Field::Bytes(b) = field else {
            match (num, field) {
                (4, Field::Varint(v)) => *av = AttributeValue::Bool(v != 0),
                (5, Field::Varint(v)) => *av = AttributeValue::Null(v != 0),
                _ => {}
            }
            return Ok(());
        };
        match num {
            1 => *av = AttributeValue::S(utf8(b)?),
            2 => *av = AttributeValue::N(utf8(b)?),
            3 => *av = AttributeValue::B(b.to_vec()),
            6..=10 => merge_member(av, num, b, depth)?,
            _ => {}
        }
        Ok(())
    })
}

/// Merges message member `num` of the oneof: into the value when that member is
/// the one set, else into a fresh one replacing it (protobuf-go's oneof merge).
fn merge_member(av: &mut AttributeValue, num: u64, body: &[u8], depth: usize) -> Result<()> {
    let same = matches!(
        (num, &*av),
        (6, AttributeValue::Ss(_))
            | (7, AttributeValue::Ns(_))
            | (8, AttributeValue::Bs(_))
            | (9, AttributeValue::L(_))
            | (10, AttributeValue::M(_))
    );
    if !same {
        *av = match num {
            6 => AttributeValue::Ss(Vec::new()),
            7 => AttributeValue::Ns(Vec::new()),
            8 => AttributeValue::Bs(Vec::new()),
            9 => AttributeValue::L(Vec::new()),
            _ => AttributeValue::M(BTreeMap::new()),
        };
    }
    match av {
        AttributeValue::Ss(values) | AttributeValue::Ns(values) => repeated_strings(values, body),
        AttributeValue::Bs(values) => for_each_field(body, |num, field| {
            if let (1, Field::Bytes(v)) = (num, field) {
                values.push(v.to_vec());
            }
            Ok(())
        }),
        AttributeValue::L(values) => for_each_field(body, |num, field| {
            if let (1, Field::Bytes(v)) = (num, field) {
                let mut child = AttributeValue::Unset;
                merge_attribute(&mut child, v, depth + 1)?;
                values.push(child);
            }
            Ok(())
        }),
        AttributeValue::M(values) => merge_attribute_map(values, body, depth + 1),
        _ => Ok(()),
    }
}

fn repeated_strings(values: &mut Vec<String>, body: &[u8]) -> Result<()> {
    for_each_field(body, |num, field| {
        if let (1, Field::Bytes(v)) = (num, field) {
            values.push(utf8(v)?);
        }
        Ok(())
    })
}

/// A map entry: key (field 1, a string) and value (field 2), each defaulting when
/// absent; a repeated value field is merged into the value (`merge`), as
/// protobuf-go does (last one wins for strings, fields merge for messages).
fn map_entry<V: Default>(
    body: &[u8],
    mut merge: impl FnMut(&mut V, &[u8]) -> Result<()>,
) -> Result<(String, V)> {
    let mut key = String::new();
    let mut val = V::default();
    for_each_field(body, |num, field| {
        match (num, field) {
            (1, Field::Bytes(b)) => key = utf8(b)?,
            (2, Field::Bytes(b)) => merge(&mut val, b)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((key, val))
}

fn utf8(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtoError::Utf8)
}

/// [`protowire::for_each_field`] with this module's error type.
fn for_each_field<'a>(
    msg: &'a [u8],
    visit: impl FnMut(u64, Field<'a>) -> Result<()>,
) -> Result<()> {
    protowire::for_each_field(msg, visit)
}

// --- encoding ------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, num: u64, bytes: &[u8]) {
    put_varint(out, num << 3 | u64::from(BYTES));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint_field(out: &mut Vec<u8>, num: u64, v: u64) {
    put_varint(out, num << 3 | u64::from(VARINT));
    put_varint(out, v);
}

/// A proto3 singular string: omitted when empty.
fn put_string_nonempty(out: &mut Vec<u8>, num: u64, s: &str) {
    if !s.is_empty() {
        put_bytes(out, num, s.as_bytes());
    }
}

/// A nested message built by `body`, written with its length.
///
/// The body is built in place behind a one-byte length, which fits every body
/// under 128 bytes (most attribute entries); a longer body is shifted to make room
/// for its longer length. That is the same bytes as building it in a buffer of its
/// own and copying it, without an allocation per nested message.
fn put_message(out: &mut Vec<u8>, num: u64, body: impl FnOnce(&mut Vec<u8>)) {
    put_varint(out, num << 3 | u64::from(BYTES));
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let (mut prefix, mut n, mut v) = ([0u8; 10], 0, len as u64);
    while v >= 0x80 {
        prefix[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    n += 1;
    out.resize(out.len() + n - 1, 0);
    out.copy_within(at + 1..at + 1 + len, at + n);
    out[at..at + n].copy_from_slice(&prefix[..n]);
}

fn put_key_schema(out: &mut Vec<u8>, k: &KeySchema) {
    put_string_nonempty(out, 1, &k.hash_key);
    put_string_nonempty(out, 2, &k.range_key);
}

/// Appends the deterministic encoding of `s` to `out`.
pub fn encode_schema(s: &TableSchema, out: &mut Vec<u8>) {
    put_string_nonempty(out, 1, &s.table_name);
    for (k, v) in &s.attribute_definitions {
        put_message(out, 2, |e| {
            put_bytes(e, 1, k.as_bytes());
            put_bytes(e, 2, v.as_bytes());
        });
    }
    if let Some(pk) = &s.primary_key {
        put_message(out, 3, |m| put_key_schema(m, pk));
    }
    for (name, gsi) in &s.global_secondary_indexes {
        put_message(out, 4, |e| {
            put_bytes(e, 1, name.as_bytes());
            put_message(e, 2, |g| {
                if let Some(ks) = &gsi.key_schema {
                    put_message(g, 1, |m| put_key_schema(m, ks));
                }
                if let Some(p) = &gsi.projection {
                    put_message(g, 2, |m| {
                        put_string_nonempty(m, 1, &p.projection_type);
                        for a in &p.non_key_attributes {
                            put_bytes(m, 2, a.as_bytes());
                        }
                    });
                }
            });
        });
    }
    for (num, v) in [
        (5, s.key_encoding_version),
        (6, s.migrating_from_generation),
        (7, s.generation),
    ] {
        if v != 0 {
            put_varint_field(out, num, v);
        }
    }
}

/// Appends the deterministic encoding of `item` to `out`.
pub fn encode_item(item: &Item, out: &mut Vec<u8>) {
    put_attribute_map(out, &item.attributes);
}

fn put_attribute_map(out: &mut Vec<u8>, map: &BTreeMap<String, AttributeValue>) {
    for (k, v) in map {
        put_message(out, 1, |e| {
            put_bytes(e, 1, k.as_bytes());
            put_message(e, 2, |m| put_attribute(m, v));
        });
    }
}

fn put_attribute(out: &mut Vec<u8>, av: &AttributeValue) {
    match av {
        AttributeValue::Unset => {}
        AttributeValue::S(s) => put_bytes(out, 1, s.as_bytes()),
        AttributeValue::N(n) => put_bytes(out, 2, n.as_bytes()),
        AttributeValue::B(b) => put_bytes(out, 3, b),
        AttributeValue::Bool(b) => put_varint_field(out, 4, u64::from(*b)),
        AttributeValue::Null(b) => put_varint_field(out, 5, u64::from(*b)),
        AttributeValue::Ss(values) | AttributeValue::Ns(values) => {
            let num = if matches!(av, AttributeValue::Ss(_)) {
                6
            } else {
                7
            };
            put_message(out, num, |m| {
                for v in values {
                    put_bytes(m, 1, v.as_bytes());
                }
            });
        }
        AttributeValue::Bs(values) => put_message(out, 8, |m| {
            for v in values {
                put_bytes(m, 1, v);
            }
        }),
        AttributeValue::L(values) => put_message(out, 9, |m| {
            for v in values {
                put_message(m, 1, |c| put_attribute(c, v));
            }
        }),
        AttributeValue::M(map) => put_message(out, 10, |m| put_attribute_map(m, map)),
    }
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
