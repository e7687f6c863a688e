//! The JSON documents of `dynamodb/<table>/` (docs/format.md §4.4), both directions:
//! `_schema.json` and the public item JSON (one per item file, or one per line of a
//! JSONL bundle).
//!
//! Rendering matches Go's `encoding/json` byte for byte (keys sorted, HTML escaping,
//! `[]byte` as standard base64). Reading follows Go's `Unmarshal` into the Go types:
//! member names match case-insensitively for the schema's struct fields, exactly for
//! item maps; the last duplicate wins; `null` leaves a field unchanged.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};

use crate::tree::gojson::{
    GoTypeError, GoValue, child_field, match_field, set_string, set_u32, set_vec,
};
use crate::tree::gojson_reader::parse_prefix;
use crate::tree::json::{self, Style};

use super::proto::{AttributeValue, Gsi, Item, KeySchema, MAX_NESTING, Projection, TableSchema};

/// Go's `base64.StdEncoding`: padded, ignores CR/LF, tolerates non-zero trailing bits.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

fn decode_std(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b == b'\r' || b == b'\n') {
        let cleaned: Vec<u8> = text.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
        GO_STD.decode(cleaned)
    } else {
        GO_STD.decode(text)
    }
}

// --- _schema.json ---------------------------------------------------------------

#[derive(Serialize)]
struct PublicSchema<'a> {
    format_version: u32,
    table_name: &'a str,
    primary_key: PublicKeySchema<'a>,
    attribute_definitions: Vec<PublicAttribute<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    global_secondary_indexes: Vec<PublicGsi<'a>>,
}

#[derive(Serialize)]
struct PublicKeySchema<'a> {
    hash_key: PublicKeyAttribute<'a>,
    range_key: PublicKeyAttribute<'a>,
}

#[derive(Serialize, Default)]
struct PublicKeyAttribute<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    ty: &'a str,
}

#[derive(Serialize)]
struct PublicAttribute<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
}

#[derive(Serialize)]
struct PublicGsi<'a> {
    name: &'a str,
    key_schema: PublicKeySchema<'a>,
    projection: PublicProjection<'a>,
}

#[derive(Serialize)]
struct PublicProjection<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    non_key_attributes: &'a [String],
}

/// `_schema.json` of a stored schema, as Go renders it: attribute definitions and
/// indexes sorted by name, key types looked up in the definitions, `range_key: {}`
/// for hash-only keys, projections in stored order.
pub fn render_schema(schema: &TableSchema) -> Vec<u8> {
    let defs = &schema.attribute_definitions;
    let lookup = |name: &str| defs.get(name).map_or("", String::as_str);
    fn key_schema<'s>(
        k: Option<&'s KeySchema>,
        lookup: &impl Fn(&str) -> &'s str,
    ) -> PublicKeySchema<'s> {
        let (hash, range) = k.map_or(("", ""), |k| (k.hash_key.as_str(), k.range_key.as_str()));
        PublicKeySchema {
            hash_key: PublicKeyAttribute {
                name: hash,
                ty: lookup(hash),
            },
            range_key: if range.is_empty() {
                PublicKeyAttribute::default()
            } else {
                PublicKeyAttribute {
                    name: range,
                    ty: lookup(range),
                }
            },
        }
    }
    let public = PublicSchema {
        format_version: 1,
        table_name: &schema.table_name,
        primary_key: key_schema(schema.primary_key.as_ref(), &lookup),
        attribute_definitions: defs
            .iter()
            .map(|(name, ty)| PublicAttribute { name, ty })
            .collect(),
        global_secondary_indexes: schema
            .global_secondary_indexes
            .iter()
            .map(|(name, gsi)| PublicGsi {
                name,
                key_schema: key_schema(gsi.key_schema.as_ref(), &lookup),
                projection: PublicProjection {
                    ty: gsi
                        .projection
                        .as_ref()
                        .map_or("", |p| p.projection_type.as_str()),
                    non_key_attributes: gsi
                        .projection
                        .as_ref()
                        .map_or(&[], |p| p.non_key_attributes.as_slice()),
                },
            })
            .collect(),
    };
    json::to_vec(&public, Style::MARSHAL_INDENT)
}

/// What the encoder reads out of `_schema.json` (Go's `ddbPublicSchema`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDoc {
    /// `format_version`.
    pub format_version: u32,
    /// `table_name`.
    pub table_name: String,
    /// `primary_key` names (types are ignored: the definitions are authoritative).
    pub primary_key: KeySchema,
    /// `attribute_definitions` in file order.
    pub attribute_definitions: Vec<(String, String)>,
    /// `global_secondary_indexes` in file order.
    pub global_secondary_indexes: Vec<(String, Gsi)>,
}

impl SchemaDoc {
    /// The schema the encoder stores: generation 1, ordered key encoding, indexes only
    /// when there are any (a later duplicate name would win, but duplicates are
    /// refused before this).
    pub fn to_schema(&self) -> TableSchema {
        TableSchema {
            table_name: self.table_name.clone(),
            attribute_definitions: self.attribute_definitions.iter().cloned().collect(),
            primary_key: Some(self.primary_key.clone()),
            global_secondary_indexes: self.global_secondary_indexes.iter().cloned().collect(),
            key_encoding_version: super::keys::ORDERED_KEY_ENCODING,
            migrating_from_generation: 0,
            generation: super::keys::RESTORE_GENERATION,
        }
    }
}

/// One JSON value, then nothing but whitespace — or a closing bracket, which Go's
/// `Decoder.More` does not count as more data (`decodeOneJSON`).
pub fn parse_one_value(bytes: &[u8]) -> Result<GoValue, String> {
    let (value, end) = parse_prefix(bytes).map_err(|e| e.to_string())?;
    let rest = &bytes[end..];
    match rest
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        None | Some(b']' | b'}') => Ok(value),
        Some(_) => Err(format!("trailing data after JSON value (at byte {end})")),
    }
}

/// Decodes `_schema.json` like `json.Decoder.Decode(&ddbPublicSchema{})`.
pub fn parse_schema_doc(bytes: &[u8]) -> Result<SchemaDoc, String> {
    let value = parse_one_value(bytes)?;
    let mut doc = SchemaDoc::default();
    match &value {
        GoValue::Null => {}
        GoValue::Object(members) => apply_schema(&mut doc, members).map_err(|e| e.to_string())?,
        other => return Err(type_error("", other, "backup.ddbPublicSchema").to_string()),
    }
    Ok(doc)
}

fn type_error(field: &str, value: &GoValue, want: &str) -> GoTypeError {
    GoTypeError {
        field: field.to_owned(),
        message: format!("cannot unmarshal {} into {want}", value.type_name()),
    }
}

fn apply_schema(doc: &mut SchemaDoc, members: &[(String, GoValue)]) -> Result<(), GoTypeError> {
    const FIELDS: &[&str] = &[
        "format_version",
        "table_name",
        "primary_key",
        "attribute_definitions",
        "global_secondary_indexes",
    ];
    for (key, value) in members {
        let Some(field) = match_field(key, FIELDS) else {
            continue;
        };
        match field {
            "format_version" => set_u32(&mut doc.format_version, value, field)?,
            "table_name" => set_string(&mut doc.table_name, value, field)?,
            "primary_key" => set_key_schema(&mut doc.primary_key, value, field)?,
            "attribute_definitions" => {
                set_vec(
                    &mut doc.attribute_definitions,
                    value,
                    field,
                    |slot, v, f| {
                        set_object(
                            v,
                            f,
                            |name, v, f| match name {
                                "name" => set_string(&mut slot.0, v, f),
                                _ => set_string(&mut slot.1, v, f),
                            },
                            &["name", "type"],
                        )
                    },
                )?;
            }
            _ => {
                let mut gsis: Vec<(String, Gsi)> = Vec::new();
                set_vec(&mut gsis, value, field, |slot, v, f| {
                    set_object(
                        v,
                        f,
                        |name, v, f| match name {
                            "name" => set_string(&mut slot.0, v, f),
                            "key_schema" => {
                                set_key_schema(slot.1.key_schema.get_or_insert_default(), v, f)
                            }
                            _ => set_projection(slot.1.projection.get_or_insert_default(), v, f),
                        },
                        &["name", "key_schema", "projection"],
                    )
                })?;
                // Go's encoder always sets both parts of every index.
                for (_, gsi) in &mut gsis {
                    gsi.key_schema.get_or_insert_default();
                    gsi.projection.get_or_insert_default();
                }
                doc.global_secondary_indexes = gsis;
            }
        }
    }
    Ok(())
}

/// Decodes a JSON object into a Go struct value with `fields`: `null` leaves it
/// unchanged, members are matched like Go's struct fields.
fn set_object(
    value: &GoValue,
    field: &str,
    mut set: impl FnMut(&str, &GoValue, &str) -> Result<(), GoTypeError>,
    fields: &[&str],
) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Object(members) => {
            for (key, v) in members {
                if let Some(name) = match_field(key, fields) {
                    set(name, v, &child_field(field, name))?;
                }
            }
            Ok(())
        }
        other => Err(type_error(field, other, "struct")),
    }
}

fn set_key_schema(k: &mut KeySchema, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    set_object(
        value,
        field,
        |name, v, f| {
            let slot = if name == "hash_key" {
                &mut k.hash_key
            } else {
                &mut k.range_key
            };
            // `publicKeyAttribute{name, type}`: only the name is kept.
            let mut ty = String::new();
            set_object(
                v,
                f,
                |n, v, f| match n {
                    "name" => set_string(slot, v, f),
                    _ => set_string(&mut ty, v, f),
                },
                &["name", "type"],
            )
        },
        &["hash_key", "range_key"],
    )
}

fn set_projection(p: &mut Projection, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    set_object(
        value,
        field,
        |name, v, f| match name {
            "type" => set_string(&mut p.projection_type, v, f),
            _ => set_vec(&mut p.non_key_attributes, v, f, |slot, v, f| {
                set_string(slot, v, f)
            }),
        },
        &["type", "non_key_attributes"],
    )
}

// --- item JSON ------------------------------------------------------------------

/// Serializes an item's attributes as Go's `itemToPublic` map renders.
struct PublicItem<'a>(&'a BTreeMap<String, AttributeValue>);

impl Serialize for PublicItem<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, &PublicValue(v))?;
        }
        map.end()
    }
}

struct PublicValue<'a>(&'a AttributeValue);

struct Base64Std<'a>(&'a [u8]);

impl Serialize for Base64Std<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&GO_STD.encode(self.0))
    }
}

struct Seq<'a, T>(&'a [T], fn(&'a T) -> PublicAny<'a>);

enum PublicAny<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
    Value(&'a AttributeValue),
}

impl Serialize for PublicAny<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PublicAny::Str(v) => s.serialize_str(v),
            PublicAny::Bytes(b) => Base64Std(b).serialize(s),
            PublicAny::Value(v) => PublicValue(v).serialize(s),
        }
    }
}

impl<T> Serialize for Seq<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

impl Serialize for PublicValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::Unset => map.serialize_entry("NULL", &true)?,
            AttributeValue::S(v) => map.serialize_entry("S", v)?,
            AttributeValue::N(v) => map.serialize_entry("N", v)?,
            AttributeValue::B(v) => map.serialize_entry("B", &Base64Std(v))?,
            AttributeValue::Bool(v) => map.serialize_entry("BOOL", v)?,
            AttributeValue::Null(v) => map.serialize_entry("NULL", v)?,
            AttributeValue::Ss(v) => {
                map.serialize_entry("SS", &Seq(v, |x: &String| PublicAny::Str(x)))?;
            }
            AttributeValue::Ns(v) => {
                map.serialize_entry("NS", &Seq(v, |x: &String| PublicAny::Str(x)))?;
            }
            AttributeValue::Bs(v) => {
                map.serialize_entry("BS", &Seq(v, |x: &Vec<u8>| PublicAny::Bytes(x)))?;
            }
            AttributeValue::L(v) => {
                map.serialize_entry("L", &Seq(v, PublicAny::Value))?;
            }
            AttributeValue::M(v) => map.serialize_entry("M", &PublicItem(v))?,
        }
        map.end()
    }
}

/// An item file's body: `json.MarshalIndent(itemToPublic(item), "", "  ")`.
pub fn render_item(item: &Item) -> Vec<u8> {
    json::to_vec(&PublicItem(&item.attributes), Style::MARSHAL_INDENT)
}

/// A JSONL bundle line: `json.Marshal(itemToPublic(item))` and a newline.
pub fn render_item_line(item: &Item) -> Vec<u8> {
    let mut line = json::to_vec(&PublicItem(&item.attributes), Style::MARSHAL);
    line.push(b'\n');
    line
}

/// Why an item document does not describe an item (`ErrDDBEncodeInvalidItem`).
pub type ItemDocError = String;

/// An item from its public JSON (Go's `map[string]any` then `publicToItem`).
///
/// Takes the document by value so its names and strings move into the item
/// instead of being copied.
pub fn item_from_public(value: GoValue) -> Result<Item, ItemDocError> {
    let mut item = Item::default();
    match value {
        GoValue::Null => {}
        GoValue::Object(members) => {
            for (name, raw) in last_wins(members) {
                let av = attribute_from_public(raw, 0)
                    .map_err(|e| format!("attribute {name:?}: {e}"))?;
                item.attributes.insert(name, av);
            }
        }
        other => {
            return Err(format!(
                "cannot unmarshal {} into Go value of type map[string]interface {{}}",
                other.type_name()
            ));
        }
    }
    Ok(item)
}

/// An item from one JSONL bundle line: the public item JSON this tool writes, or
/// a line of a DynamoDB export (`{"Item": {...}}`).
pub fn item_from_line(value: GoValue) -> Result<Item, ItemDocError> {
    // Only a line shaped like an export needs a second reading when the first fails,
    // so only such a line is kept aside.
    let export = export_item(&value).cloned();
    match item_from_public(value) {
        Ok(item) => Ok(item),
        Err(public_err) => match export {
            Some(inner) => item_from_public(inner).map_err(|_| public_err),
            None => Err(public_err),
        },
    }
}

/// The inner object of an export line `{"Item": {...}}` (its only member once
/// duplicates are dropped).
fn export_item(value: &GoValue) -> Option<&GoValue> {
    let GoValue::Object(members) = value else {
        return None;
    };
    let last = members.last()?;
    let only = members.iter().all(|(name, _)| *name == last.0);
    match last {
        (name, inner @ GoValue::Object(_)) if only && name.as_str() == "Item" => Some(inner),
        _ => None,
    }
}

/// Object members with duplicates removed, the last one winning (a Go map decode),
/// in name order.
fn last_wins(members: Vec<(String, GoValue)>) -> Vec<(String, GoValue)> {
    // Documents this tool writes have their names sorted and unique already (Go's
    // map order): then they are the answer as they stand, without a map to sort them.
    if members.windows(2).all(|w| w[0].0 < w[1].0) {
        return members;
    }
    let mut map = BTreeMap::new();
    for (k, v) in members {
        map.insert(k, v);
    }
    map.into_iter().collect()
}

fn array(v: GoValue, what: &str) -> Result<Vec<GoValue>, String> {
    match v {
        GoValue::Array(items) => Ok(items),
        _ => Err(format!("{what} value is not an array")),
    }
}

fn attribute_from_public(value: GoValue, depth: usize) -> Result<AttributeValue, String> {
    if depth >= MAX_NESTING {
        return Err(format!(
            "attribute values nested deeper than {MAX_NESTING} levels"
        ));
    }
    let GoValue::Object(members) = value else {
        return Err("attribute is not an object".to_owned());
    };
    let members = last_wins(members);
    let count = members.len();
    let Ok([(ty, v)]) = <[(String, GoValue); 1]>::try_from(members) else {
        return Err(format!(
            "attribute object must have exactly one type key, got {count}"
        ));
    };
    let string = |v: GoValue, what: &str| match v {
        GoValue::String(s) => Ok(s),
        _ => Err(format!("{what} value is not a string")),
    };
    let boolean = |v: GoValue, what: &str| match v {
        GoValue::Bool(b) => Ok(b),
        _ => Err(format!("{what} value is not a boolean")),
    };
    let binary = |v: GoValue| match v {
        GoValue::String(s) => {
            decode_std(&s).map_err(|e| format!("binary value is not valid base64: {e}"))
        }
        _ => Err("binary value is not a base64 string".to_owned()),
    };
    let strings = |v: GoValue| -> Result<Vec<String>, String> {
        let GoValue::Array(items) = v else {
            return Err("set value is not an array".to_owned());
        };
        items
            .into_iter()
            .map(|e| match e {
                GoValue::String(s) => Ok(s),
                _ => Err("set element is not a string".to_owned()),
            })
            .collect()
    };
    Ok(match ty.as_str() {
        "S" => AttributeValue::S(string(v, "S")?),
        "N" => AttributeValue::N(string(v, "N")?),
        "B" => AttributeValue::B(binary(v)?),
        "BOOL" => AttributeValue::Bool(boolean(v, "BOOL")?),
        "NULL" => AttributeValue::Null(boolean(v, "NULL")?),
        "SS" => AttributeValue::Ss(strings(v)?),
        "NS" => AttributeValue::Ns(strings(v)?),
        "BS" => AttributeValue::Bs(
            array(v, "BS")?
                .into_iter()
                .map(binary)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            array(v, "L")?
                .into_iter()
                .map(|e| match e {
                    GoValue::Object(_) => attribute_from_public(e, depth + 1),
                    _ => Err("L element is not an object".to_owned()),
                })
                .collect::<Result<_, _>>()?,
        ),
        "M" => {
            let GoValue::Object(children) = v else {
                return Err("M value is not an object".to_owned());
            };
            let mut map = BTreeMap::new();
            for (name, child) in last_wins(children) {
                if !matches!(child, GoValue::Object(_)) {
                    return Err(format!("M[{name:?}] is not an object"));
                }
                let av = attribute_from_public(child, depth + 1)
                    .map_err(|e| format!("M[{name:?}]: {e}"))?;
                map.insert(name, av);
            }
            AttributeValue::M(map)
        }
        other => return Err(format!("unknown attribute type {other:?}")),
    })
}

#[cfg(test)]
#[path = "docs_tests.rs"]
mod tests;
