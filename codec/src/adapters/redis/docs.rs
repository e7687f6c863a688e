//! The JSON documents of `redis/db_0/` (docs/format.md §4.6): how the decoder renders
//! them and how the encoder reads them back.
//!
//! Rendering goes through serde structs whose field order is the Go struct order.
//! Reading goes through [`GoValue`] and follows Go's `encoding/json` rules for the Go
//! encoder's structs rather than serde's derive rules, so a hand-edited tree is
//! accepted exactly when the Go tool accepts it. The strictness on top (one value
//! per collection file, `format_version == 1`, the binary envelope's shape, the
//! score spelling, stream ID syntax) is the Go encoder's too.

use serde::ser::{Serialize, Serializer};

use crate::tree::bsv::{BsvInline, decode_base64url, decode_base64url_owned};
use crate::tree::gojson::{
    GoTypeError, GoValue, match_field, set_bool, set_string, set_u32, set_u64,
};

use super::keys::StreamId;

/// The only collection `format_version` there is.
pub const FORMAT_VERSION: u32 = 1;

// ---------------------------------------------------------------------------------
// Rendering (decode side)
// ---------------------------------------------------------------------------------

/// A `{"name":…,"value":…}` pair (hash fields, stream entry fields). Rendered only
/// in HTML-escaping styles, so the values go straight into the output.
#[derive(serde::Serialize)]
pub struct NameValue<'a> {
    /// Field name.
    pub name: BsvInline<'a>,
    /// Field value.
    pub value: BsvInline<'a>,
}

/// `hashes/<key>.json`. The element list is generic so that it can be streamed
/// (any `Serialize` sequence of [`NameValue`]).
#[derive(serde::Serialize)]
pub struct HashDoc<F> {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Fields sorted by name bytes.
    pub fields: F,
    /// Expiry, `null` when none.
    pub expire_at_ms: Option<u64>,
}

/// `lists/<key>.json` (items: a sequence of [`BsvInline`]).
#[derive(serde::Serialize)]
pub struct ListDoc<F> {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Items, left to right.
    pub items: F,
    /// Expiry, `null` when none.
    pub expire_at_ms: Option<u64>,
}

/// `sets/<key>.json` (members: a sequence of [`BsvInline`]).
#[derive(serde::Serialize)]
pub struct SetDoc<F> {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Members sorted by bytes.
    pub members: F,
    /// Expiry, `null` when none.
    pub expire_at_ms: Option<u64>,
}

/// `zsets/<key>.json` (members: a sequence of [`ZSetMember`]).
#[derive(serde::Serialize)]
pub struct ZSetDoc<F> {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Members sorted by member bytes (not by score, so score changes diff as one line).
    pub members: F,
    /// Expiry, `null` when none.
    pub expire_at_ms: Option<u64>,
}

/// One zset member.
#[derive(serde::Serialize)]
pub struct ZSetMember<'a> {
    /// Member bytes.
    pub member: BsvInline<'a>,
    /// Score.
    pub score: Score,
}

/// A zset score: a JSON number, or `"+inf"`/`"-inf"` (JSON has no infinities; the
/// strings are how ZADD spells them). Never NaN: the decoder refuses NaN scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            f64::INFINITY => serializer.serialize_str("+inf"),
            f64::NEG_INFINITY => serializer.serialize_str("-inf"),
            finite => serializer.serialize_f64(finite),
        }
    }
}

/// One entry line of `streams/<key>.jsonl`.
#[derive(serde::Serialize)]
pub struct StreamEntryLine<'a> {
    /// `<ms>-<seq>`.
    pub id: String,
    /// Name/value pairs in XADD order, duplicates kept.
    pub fields: Vec<NameValue<'a>>,
}

/// The `_meta` terminator line of `streams/<key>.jsonl`.
#[derive(serde::Serialize)]
pub struct StreamMetaLine {
    /// Always `true`; tells the line apart from entries.
    #[serde(rename = "_meta")]
    pub meta: bool,
    /// Declared length.
    pub length: i64,
    /// Last issued ID, milliseconds.
    pub last_ms: u64,
    /// Last issued ID, sequence.
    pub last_seq: u64,
    /// Expiry, `null` when none.
    pub expire_at_ms: Option<u64>,
}

/// One line of `strings_ttl.jsonl` / `hll_ttl.jsonl`.
#[derive(serde::Serialize)]
pub struct TtlLine<'a> {
    /// The key's file-name segment.
    pub key: &'a str,
    /// Expiry.
    pub expire_at_ms: u64,
}

// ---------------------------------------------------------------------------------
// Reading (encode side)
// ---------------------------------------------------------------------------------
//
// Each reader decodes a [`GoValue`] the way Go's `encoding/json` decodes it into the
// Go encoder's struct: members in document order, matched exactly or else
// case-insensitively, unknown members ignored, `null` leaving a scalar unchanged, a
// later duplicate overriding an earlier one. `json.RawMessage` members (binary
// values, scores) are kept as the value itself, `None` when absent.

/// A parsed hash, set, list or zset document: elements plus expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection<T> {
    /// Elements in document order.
    pub elements: Vec<T>,
    /// `expire_at_ms`, `None` when absent or `null`.
    pub expire_at_ms: Option<u64>,
}

/// A parsed hash document.
pub type HashIn = Collection<(Vec<u8>, Vec<u8>)>;
/// A parsed set or list document.
pub type BytesIn = Collection<Vec<u8>>;
/// A parsed zset document.
pub type ZSetIn = Collection<(Vec<u8>, f64)>;

/// A JSON member kept raw (Go `json.RawMessage`): `None` when absent.
type Raw<'v> = Option<&'v GoValue>;

/// Parses `hashes/<key>.json`.
pub fn read_hash(doc: &GoValue) -> Result<HashIn, String> {
    read_document::<HashFields>(doc)
}

/// Parses `sets/<key>.json`.
pub fn read_set(doc: &GoValue) -> Result<BytesIn, String> {
    read_document::<SetMembers>(doc)
}

/// Parses `lists/<key>.json`.
pub fn read_list(doc: &GoValue) -> Result<BytesIn, String> {
    read_document::<ListItems>(doc)
}

/// Parses `zsets/<key>.json`.
pub fn read_zset(doc: &GoValue) -> Result<ZSetIn, String> {
    read_document::<ZSetMembers>(doc)
}

/// One element of a collection document's array, decoded in Go's two steps: its
/// shape while the document is unmarshalled (an error there is reported in document
/// order, and in every duplicate of the array member), its content (binary values,
/// scores) only for the array Go kept, after the `format_version` check.
///
/// The encoder streams documents element by element with these same two functions
/// (`super::elements`), so both readers apply one set of rules.
pub(crate) trait ElementKind {
    /// A decoded element.
    type Item;
    /// The array member's name.
    const ARRAY: &'static str;
    /// Go's unmarshal step for element `index`: `Err` when its type cannot hold it.
    fn check_shape(element: &GoValue, index: usize) -> Result<(), String>;
    /// The content of an element whose shape passed.
    fn decode(element: &GoValue, index: usize) -> Result<Self::Item, String>;
    /// [`ElementKind::decode`] of an element the caller gives up: large contents are
    /// moved out of it rather than copied, so they are never held twice. Same
    /// results.
    fn decode_owned(element: GoValue, index: usize) -> Result<Self::Item, String> {
        Self::decode(&element, index)
    }
    /// Heap bytes a decoded element holds (for buffering budgets).
    fn weight(item: &Self::Item) -> usize;
}

/// `hashes/*.json` `fields`: `{name, value}` structs.
pub(crate) struct HashFields;

impl ElementKind for HashFields {
    type Item = (Vec<u8>, Vec<u8>);
    const ARRAY: &'static str = "fields";

    fn check_shape(element: &GoValue, index: usize) -> Result<(), String> {
        check_struct(element, Self::ARRAY, index)
    }

    fn decode(element: &GoValue, i: usize) -> Result<Self::Item, String> {
        let (name, value) = pair_slots(element, "name", "value");
        let name = read_bsv(name).map_err(|e| format!("fields[{i}].name: {e}"))?;
        let value = read_bsv(value).map_err(|e| format!("fields[{i}].value: {e}"))?;
        Ok((name, value))
    }

    fn decode_owned(element: GoValue, i: usize) -> Result<Self::Item, String> {
        let (name, value) = take_pair(element, "name", "value");
        let name = read_bsv_owned(name).map_err(|e| format!("fields[{i}].name: {e}"))?;
        let value = read_bsv_owned(value).map_err(|e| format!("fields[{i}].value: {e}"))?;
        Ok((name, value))
    }

    fn weight((name, value): &Self::Item) -> usize {
        name.len() + value.len() + std::mem::size_of::<Self::Item>()
    }
}

/// An array of plain binary values (any JSON value; only the content is checked).
macro_rules! binary_values {
    ($(#[$doc:meta])* $kind:ident, $array:literal) => {
        $(#[$doc])*
        pub(crate) struct $kind;

        impl ElementKind for $kind {
            type Item = Vec<u8>;
            const ARRAY: &'static str = $array;

            fn check_shape(_: &GoValue, _: usize) -> Result<(), String> {
                Ok(())
            }

            fn decode(element: &GoValue, i: usize) -> Result<Self::Item, String> {
                read_bsv(Some(element)).map_err(|e| format!("{}[{i}]: {e}", Self::ARRAY))
            }

            fn decode_owned(element: GoValue, i: usize) -> Result<Self::Item, String> {
                read_bsv_owned(Some(element)).map_err(|e| format!("{}[{i}]: {e}", Self::ARRAY))
            }

            fn weight(item: &Self::Item) -> usize {
                item.len() + std::mem::size_of::<Self::Item>()
            }
        }
    };
}

binary_values!(
    /// `sets/*.json` `members`: binary values.
    SetMembers,
    "members"
);
binary_values!(
    /// `lists/*.json` `items`: binary values.
    ListItems,
    "items"
);

/// `zsets/*.json` `members`: `{member, score}` structs.
pub(crate) struct ZSetMembers;

impl ElementKind for ZSetMembers {
    type Item = (Vec<u8>, f64);
    const ARRAY: &'static str = "members";

    fn check_shape(element: &GoValue, index: usize) -> Result<(), String> {
        check_struct(element, Self::ARRAY, index)
    }

    fn decode(element: &GoValue, i: usize) -> Result<Self::Item, String> {
        let (member, score) = pair_slots(element, "member", "score");
        let member = read_bsv(member).map_err(|e| format!("members[{i}].member: {e}"))?;
        let score = read_score(score).map_err(|e| format!("members[{i}].score: {e}"))?;
        Ok((member, score))
    }

    fn decode_owned(element: GoValue, i: usize) -> Result<Self::Item, String> {
        let (member, score) = take_pair(element, "member", "score");
        let member = read_bsv_owned(member).map_err(|e| format!("members[{i}].member: {e}"))?;
        let score = read_score(score.as_ref()).map_err(|e| format!("members[{i}].score: {e}"))?;
        Ok((member, score))
    }

    fn weight((member, _): &Self::Item) -> usize {
        member.len() + std::mem::size_of::<Self::Item>()
    }
}

/// A whole collection document: Go's decode steps in Go's order.
fn read_document<K: ElementKind>(doc: &GoValue) -> Result<Collection<K::Item>, String> {
    let (raw, expire_at_ms) =
        read_collection(doc, K::ARRAY, |v, i| K::check_shape(v, i).map(|()| v))?;
    let elements = raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| K::decode(v, i))
        .collect::<Result<_, String>>()?;
    Ok(Collection {
        elements,
        expire_at_ms,
    })
}

/// The members a collection document's top-level struct has, besides its array.
pub(crate) const FORMAT_VERSION_FIELD: &str = "format_version";
/// See [`FORMAT_VERSION_FIELD`].
pub(crate) const EXPIRE_FIELD: &str = "expire_at_ms";

/// Decodes `{format_version, <array>, expire_at_ms}` and checks the version. The
/// array's elements are decoded by `element` (given the value and its index).
fn read_collection<'v, T>(
    doc: &'v GoValue,
    array: &'static str,
    mut element: impl FnMut(&'v GoValue, usize) -> Result<T, String>,
) -> Result<(Vec<T>, Option<u64>), String> {
    let mut version = 0u32;
    let mut elements = Vec::new();
    let mut expire_at_ms = None;
    for (name, value) in struct_members(doc, "document")? {
        match match_field(name, &[FORMAT_VERSION_FIELD, array, EXPIRE_FIELD]) {
            Some(FORMAT_VERSION_FIELD) => {
                set_u32(&mut version, value, name).map_err(|e| e.to_string())?
            }
            Some(EXPIRE_FIELD) => set_opt_u64(&mut expire_at_ms, value, name)?,
            Some(_) => elements = read_slice(value, array, &mut element)?,
            None => {}
        }
    }
    check_format_version(version)?;
    Ok((elements, expire_at_ms))
}

/// The only version there is; Go checks it after decoding the whole document.
pub(crate) fn check_format_version(version: u32) -> Result<(), String> {
    if version != FORMAT_VERSION {
        return Err(format!("unsupported format_version {version}"));
    }
    Ok(())
}

/// Decodes a Go slice: `null` is empty, an array is decoded element by element.
fn read_slice<'v, T>(
    value: &'v GoValue,
    field: &str,
    element: &mut impl FnMut(&'v GoValue, usize) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match value {
        GoValue::Null => Ok(Vec::new()),
        GoValue::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| element(item, i))
            .collect(),
        other => Err(not_a_slice(field, other)),
    }
}

/// Go's error for a slice member holding something else.
pub(crate) fn not_a_slice(field: &str, value: &GoValue) -> String {
    format!(
        "{field}: cannot unmarshal {} into a slice",
        value.type_name()
    )
}

/// Go's unmarshal step for a struct element: an object or `null` (the zero struct).
fn check_struct(element: &GoValue, field: &str, index: usize) -> Result<(), String> {
    match element {
        GoValue::Object(_) | GoValue::Null => Ok(()),
        other => Err(format!(
            "{field}[{index}]: cannot unmarshal {} into a struct",
            other.type_name()
        )),
    }
}

/// The two raw members of a `{name, value}` / `{member, score}` struct (the last
/// of each name wins; `None` when absent).
fn pair_slots<'v>(
    element: &'v GoValue,
    first: &'static str,
    second: &'static str,
) -> (Raw<'v>, Raw<'v>) {
    let (mut a, mut b) = (None, None);
    if let GoValue::Object(members) = element {
        for (name, member) in members {
            match match_field(name, &[first, second]) {
                Some(f) if f == first => a = Some(member),
                Some(_) => b = Some(member),
                None => {}
            }
        }
    }
    (a, b)
}

/// [`pair_slots`] of an element the caller gives up: the members are moved out.
fn take_pair(
    element: GoValue,
    first: &'static str,
    second: &'static str,
) -> (Option<GoValue>, Option<GoValue>) {
    let (mut a, mut b) = (None, None);
    if let GoValue::Object(members) = element {
        for (name, member) in members {
            match match_field(&name, &[first, second]) {
                Some(f) if f == first => a = Some(member),
                Some(_) => b = Some(member),
                None => {}
            }
        }
    }
    (a, b)
}

/// A zset score: `"+inf"` / `"-inf"`, or a JSON number parsed correctly rounded
/// (Go's `strconv.ParseFloat`; out of range is an error). `null` is 0, as
/// `json.Unmarshal("null", &f)` leaves `f` alone.
fn read_score(raw: Raw<'_>) -> Result<f64, String> {
    match raw {
        None => Err("missing".into()),
        Some(GoValue::String(s)) if s == "+inf" => Ok(f64::INFINITY),
        Some(GoValue::String(s)) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Some(GoValue::Null) => Ok(0.0),
        Some(GoValue::Number(literal)) => literal
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("number {literal} is not a float64")),
        Some(other) => Err(format!(
            "{} is neither a number nor \"+inf\"/\"-inf\"",
            other.type_name()
        )),
    }
}

/// Reads a binary-safe value: a JSON string (its UTF-8 bytes) or an object whose
/// `base64` member holds base64url. Anything else, `null` included, is refused so a
/// typo can never turn into an empty value.
pub fn read_bsv(raw: Raw<'_>) -> Result<Vec<u8>, String> {
    let neither = neither_string_nor_envelope;
    match raw {
        None => Err("missing".into()),
        Some(GoValue::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(GoValue::Null) => Err(neither()),
        Some(GoValue::Object(members)) => {
            let mut b64: Option<&str> = None;
            for (name, value) in members {
                if match_field(name, &["base64"]).is_some() {
                    b64 = match value {
                        GoValue::Null => None,
                        GoValue::String(s) => Some(s),
                        other => {
                            return Err(format!(
                                "base64 member is {}, not a string",
                                other.type_name()
                            ));
                        }
                    };
                }
            }
            let b64 = b64.ok_or_else(neither)?;
            decode_base64url(b64).map_err(|e| format!("base64: {e}"))
        }
        Some(other) => Err(format!("{} is {}", neither(), other.type_name())),
    }
}

fn neither_string_nor_envelope() -> String {
    "neither a string nor a {\"base64\":…} envelope".to_owned()
}

/// [`read_bsv`] of a value the caller gives up: a string's bytes are taken, not
/// copied, and a base64 envelope is decoded in its own buffer.
fn read_bsv_owned(raw: Option<GoValue>) -> Result<Vec<u8>, String> {
    match raw {
        Some(GoValue::String(s)) => Ok(s.into_bytes()),
        Some(GoValue::Object(members)) => {
            let mut b64 = None;
            for (name, value) in members {
                if match_field(&name, &["base64"]).is_some() {
                    b64 = match value {
                        GoValue::Null => None,
                        GoValue::String(s) => Some(s),
                        other => {
                            return Err(format!(
                                "base64 member is {}, not a string",
                                other.type_name()
                            ));
                        }
                    };
                }
            }
            let b64 = b64.ok_or_else(neither_string_nor_envelope)?;
            decode_base64url_owned(b64).map_err(|e| format!("base64: {e}"))
        }
        other => read_bsv(other.as_ref()),
    }
}

/// One parsed line of `streams/<key>.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamLine {
    /// An entry.
    Entry {
        /// The `id` text as written (kept for the stored protobuf).
        id_text: String,
        /// Parsed ID.
        id: StreamId,
        /// Interleaved names and values.
        fields: Vec<Vec<u8>>,
    },
    /// The `_meta` terminator.
    Meta {
        /// Declared length.
        length: i64,
        /// Last issued ID.
        last: StreamId,
        /// Expiry.
        expire_at_ms: Option<u64>,
    },
}

/// Every member of the Go stream-line struct; each line is decoded with all of them,
/// so a type error anywhere fails the file, as in Go.
const STREAM_LINE_FIELDS: &[&str] = &[
    "_meta",
    "id",
    "fields",
    "length",
    "last_ms",
    "last_seq",
    "expire_at_ms",
];

/// Parses one stream line.
pub fn read_stream_line(line: &GoValue) -> Result<StreamLine, String> {
    let mut is_meta = false;
    let mut id_text = String::new();
    let mut raw_fields = Vec::new();
    let mut length = 0i64;
    let mut last = StreamId::default();
    let mut expire_at_ms = None;
    for (name, value) in struct_members(line, "line")? {
        let typed = |e: GoTypeError| e.to_string();
        match match_field(name, STREAM_LINE_FIELDS) {
            Some("_meta") => set_bool(&mut is_meta, value, name).map_err(typed)?,
            Some("id") => set_string(&mut id_text, value, name).map_err(typed)?,
            Some("fields") => {
                raw_fields = read_slice(value, name, &mut |v, i| {
                    check_struct(v, name, i).map(|()| pair_slots(v, "name", "value"))
                })?
            }
            Some("length") => set_i64(&mut length, value, name)?,
            Some("last_ms") => set_u64(&mut last.ms, value, name).map_err(typed)?,
            Some("last_seq") => set_u64(&mut last.seq, value, name).map_err(typed)?,
            Some("expire_at_ms") => set_opt_u64(&mut expire_at_ms, value, name)?,
            _ => {}
        }
    }
    if is_meta {
        return Ok(StreamLine::Meta {
            length,
            last,
            expire_at_ms,
        });
    }
    let id = parse_stream_id(&id_text)?;
    let mut fields = Vec::with_capacity(raw_fields.len().saturating_mul(2));
    for (i, (name, value)) in raw_fields.into_iter().enumerate() {
        let context = |e: String| format!("entry {id_text:?} fields[{i}]: {e}");
        fields.push(read_bsv(name).map_err(context)?);
        fields.push(read_bsv(value).map_err(context)?);
    }
    Ok(StreamLine::Entry {
        id_text,
        id,
        fields,
    })
}

/// Parses `<ms>-<seq>`: two unsigned decimals split at the first `-`.
pub fn parse_stream_id(text: &str) -> Result<StreamId, String> {
    let (ms, seq) = text
        .split_once('-')
        .ok_or_else(|| format!("stream id {text:?} has no '-'"))?;
    let number = |part: &str, what: &str| {
        parse_go_uint(part)
            .ok_or_else(|| format!("stream id {text:?}: {what} {part:?} is not a uint64"))
    };
    Ok(StreamId {
        ms: number(ms, "ms")?,
        seq: number(seq, "seq")?,
    })
}

/// Go's `strconv.ParseUint(s, 10, 64)`: ASCII digits only, no overflow.
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One parsed line of a TTL sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlIn {
    /// The file-name segment.
    pub key: String,
    /// The expiry; 0 means none.
    pub expire_at_ms: u64,
}

/// Parses one TTL sidecar value.
pub fn read_ttl_line(line: &GoValue) -> Result<TtlIn, String> {
    let mut out = TtlIn {
        key: String::new(),
        expire_at_ms: 0,
    };
    for (name, value) in struct_members(line, "line")? {
        match match_field(name, &["key", "expire_at_ms"]) {
            Some("key") => set_string(&mut out.key, value, name),
            Some(_) => set_u64(&mut out.expire_at_ms, value, name),
            None => Ok(()),
        }
        .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Go `encoding/json` struct-decoding rules over a GoValue
// ---------------------------------------------------------------------------------

/// The members of a value decoded into a Go struct: an object's members in order;
/// `null` leaves the struct at its zero value; anything else is a type error.
fn struct_members<'v>(
    v: &'v GoValue,
    path: &str,
) -> Result<impl Iterator<Item = (&'v str, &'v GoValue)>, String> {
    let members: &[(String, GoValue)] = match v {
        GoValue::Object(members) => members,
        GoValue::Null => &[],
        other => {
            return Err(format!(
                "{path}: cannot unmarshal {} into a struct",
                other.type_name()
            ));
        }
    };
    Ok(members.iter().map(|(k, v)| (k.as_str(), v)))
}

/// A Go `*uint64` member: `null` is nil, a number must be a uint64 literal.
pub(crate) fn set_opt_u64(
    slot: &mut Option<u64>,
    value: &GoValue,
    field: &str,
) -> Result<(), String> {
    if let GoValue::Null = value {
        *slot = None;
        return Ok(());
    }
    let mut v = 0;
    set_u64(&mut v, value, field).map_err(|e| e.to_string())?;
    *slot = Some(v);
    Ok(())
}

/// A Go `int64` member: `null` leaves it, a number must be an int64 literal
/// (`strconv.ParseInt`: optional `-`, digits, no overflow; `-0` is 0).
fn set_i64(slot: &mut i64, value: &GoValue, field: &str) -> Result<(), String> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(literal) => {
            let digits = literal.strip_prefix('-').unwrap_or(literal);
            let parsed = parse_go_uint(digits).and_then(|_| literal.parse::<i64>().ok());
            *slot = parsed.ok_or_else(|| {
                format!("field {field}: cannot unmarshal number {literal} into int64")
            })?;
            Ok(())
        }
        other => Err(format!(
            "field {field}: cannot unmarshal {} into int64",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::gojson_reader::parse;

    /// Elements decoded by value give exactly what decoding by reference gives,
    /// errors included, for every element kind.
    #[test]
    fn decoding_owned_elements_changes_nothing() {
        let large = crate::tree::bsv::encode_base64url(&[0xFE; (1 << 20) + 3]);
        let elements = [
            r#""text""#.to_owned(),
            r#"{"base64":"AAEC"}"#.to_owned(),
            r#"{"BASE64":null,"base64":"_-8"}"#.to_owned(),
            r#"{"base64":"AAEC","base64":null}"#.to_owned(),
            r#"{"base64":"A"}"#.to_owned(),
            r#"{"base64":7,"base64":"AA"}"#.to_owned(),
            r#"{"other":1}"#.to_owned(),
            "null".to_owned(),
            "12".to_owned(),
            "[1]".to_owned(),
            r#"{"name":"n","value":"v"}"#.to_owned(),
            r#"{"Name":"n","VALUE":{"base64":"AAEC"},"value":"last"}"#.to_owned(),
            r#"{"name":{"base64":"*"},"value":"v"}"#.to_owned(),
            r#"{"name":"n"}"#.to_owned(),
            r#"{"value":"v","name":[]}"#.to_owned(),
            r#"{"member":"m","score":1.5}"#.to_owned(),
            r#"{"member":"m","score":"+inf","Score":"-inf"}"#.to_owned(),
            r#"{"member":{"base64":"AA"},"score":null}"#.to_owned(),
            r#"{"member":"m","score":"x"}"#.to_owned(),
            r#"{"member":"m"}"#.to_owned(),
            format!(r#"{{"base64":"{large}"}}"#),
            format!(r#"{{"name":"n","value":{{"base64":"{large}"}}}}"#),
            format!(r#"{{"member":{{"base64":"{large}*"}},"score":1}}"#),
        ];
        fn check<K: ElementKind>(element: &GoValue)
        where
            K::Item: PartialEq + std::fmt::Debug,
        {
            assert_eq!(
                K::decode_owned(element.clone(), 3),
                K::decode(element, 3),
                "{}",
                K::ARRAY
            );
        }
        for text in &elements {
            let element = parse(text.as_bytes()).unwrap();
            check::<HashFields>(&element);
            check::<SetMembers>(&element);
            check::<ListItems>(&element);
            check::<ZSetMembers>(&element);
        }
    }

    fn doc(text: &str) -> GoValue {
        parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn hash_documents() {
        let hash = read_hash(&doc(
            r#"{"format_version":1,"fields":[{"name":"f","value":{"base64":"_w"}},{"name":"","value":""}],"expire_at_ms":null}"#,
        ))
        .unwrap();
        assert_eq!(
            hash.elements,
            vec![(b"f".to_vec(), vec![0xff]), (vec![], vec![])]
        );
        assert_eq!(hash.expire_at_ms, None);
        let hash = read_hash(&doc(
            r#"{"format_version":1,"fields":null,"expire_at_ms":5}"#,
        ))
        .unwrap();
        assert!(hash.elements.is_empty());
        assert_eq!(hash.expire_at_ms, Some(5));
        // A field without a value, or a null element, has nothing to restore.
        assert!(read_hash(&doc(r#"{"format_version":1,"fields":[{"name":"f"}]}"#)).is_err());
        assert!(read_hash(&doc(r#"{"format_version":1,"fields":[null]}"#)).is_err());
    }

    #[test]
    fn go_struct_rules() {
        for bad in [
            "{}",
            "null",
            r#"{"format_version":2}"#,
            r#"{"format_version":1.0}"#,
            "[]",
            r#"{"format_version":"1"}"#,
        ] {
            assert!(read_set(&doc(bad)).is_err(), "{bad}");
        }
        // Case-insensitive names, unknown members ignored, last duplicate wins, null
        // leaves a scalar alone.
        let set = read_set(&doc(
            r#"{"Format_Version":1,"MEMBERS":["a"],"extra":true,"members":["b","c"],"format_version":null}"#,
        ))
        .unwrap();
        assert_eq!(set.elements, vec![b"b".to_vec(), b"c".to_vec()]);
        let list = read_list(&doc(r#"{"format_version":1,"items":["x"],"items":null,"expire_at_ms":1,"expire_at_ms":null}"#)).unwrap();
        assert!(list.elements.is_empty());
        assert_eq!(list.expire_at_ms, None);
        for bad in [
            r#"{"format_version":1,"expire_at_ms":-1}"#,
            r#"{"format_version":1,"expire_at_ms":1e3}"#,
            r#"{"format_version":1,"items":{}}"#,
        ] {
            assert!(read_list(&doc(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn binary_values() {
        let bsv = |text: &str| read_bsv(Some(&doc(text)));
        assert_eq!(bsv(r#""é""#), Ok("é".as_bytes().to_vec()));
        assert_eq!(bsv(r#"{"base64":"AAH_","x":1}"#), Ok(vec![0, 1, 0xff]));
        assert_eq!(bsv(r#"{"Base64":"AA\r\nH_"}"#), Ok(vec![0, 1, 0xff]));
        assert_eq!(bsv(r#"{"base64":"_x"}"#), Ok(vec![0xff]));
        for bad in [
            "null",
            "{}",
            r#"{"base64":null}"#,
            r#"{"base64":"AA","base64":null}"#,
            r#"{"base64":1}"#,
            "5",
            "[]",
            r#"{"base64":"AA=="}"#,
        ] {
            assert!(bsv(bad).is_err(), "{bad}");
        }
        assert!(read_bsv(None).is_err());
    }

    #[test]
    fn zset_scores() {
        let zset = read_zset(&doc(r#"{"format_version":1,"members":[
                {"member":"a","score":"+inf"},{"member":"b","score":"-inf"},
                {"member":"c","score":1.5},{"member":"d","score":null},
                {"member":"e","score":9007199254740993},{"member":"f","score":-0},
                {"member":"g","score":1e-400}]}"#))
        .unwrap();
        let scores: Vec<f64> = zset.elements.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            &scores[..5],
            &[
                f64::INFINITY,
                f64::NEG_INFINITY,
                1.5,
                0.0,
                9007199254740992.0
            ]
        );
        assert!(scores[5] == 0.0 && scores[5].is_sign_negative());
        assert_eq!(scores[6], 0.0);
        for bad in [r#""inf""#, r#""1.5""#, "true", "1e400"] {
            let text =
                format!(r#"{{"format_version":1,"members":[{{"member":"a","score":{bad}}}]}}"#);
            assert!(read_zset(&doc(&text)).is_err(), "{bad}");
        }
        assert!(read_zset(&doc(r#"{"format_version":1,"members":[{"member":"a"}]}"#)).is_err());
    }

    #[test]
    fn stream_lines() {
        assert_eq!(
            read_stream_line(&doc(r#"{"id":"5-1","fields":[{"name":"a","value":"b"}]}"#)),
            Ok(StreamLine::Entry {
                id_text: "5-1".into(),
                id: StreamId { ms: 5, seq: 1 },
                fields: vec![b"a".to_vec(), b"b".to_vec()],
            })
        );
        assert_eq!(
            read_stream_line(&doc(
                r#"{"_meta":true,"length":-0,"last_ms":5,"last_seq":1,"expire_at_ms":null}"#
            )),
            Ok(StreamLine::Meta {
                length: 0,
                last: StreamId { ms: 5, seq: 1 },
                expire_at_ms: None
            })
        );
        for bad in [
            r#"{"id":"5"}"#,
            r#"{"id":"+5-1"}"#,
            r#"{"id":"5-1","length":"x"}"#,
            r#"{"id":"5-1","length":1.0}"#,
            r#"{"_meta":1}"#,
            r#""x""#,
            "null",
            r#"{"id":"5-1","fields":[{"name":"a"}]}"#,
        ] {
            assert!(read_stream_line(&doc(bad)).is_err(), "{bad}");
        }
        // The meta line's fields are never decoded as binary values.
        assert!(read_stream_line(&doc(r#"{"_meta":true,"fields":[{"name":5}]}"#)).is_ok());
    }

    #[test]
    fn stream_ids() {
        assert_eq!(
            parse_stream_id("18446744073709551615-0"),
            Ok(StreamId {
                ms: u64::MAX,
                seq: 0
            })
        );
        assert_eq!(parse_stream_id("007-1"), Ok(StreamId { ms: 7, seq: 1 }));
        for bad in ["18446744073709551616-0", "1-2-3", "-1", "1-", "1_0-1"] {
            assert!(parse_stream_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ttl_lines() {
        assert_eq!(
            read_ttl_line(&doc(r#"{"key":"k","expire_at_ms":3}"#)),
            Ok(TtlIn {
                key: "k".into(),
                expire_at_ms: 3
            })
        );
        assert_eq!(
            read_ttl_line(&doc("null")),
            Ok(TtlIn {
                key: String::new(),
                expire_at_ms: 0
            })
        );
        assert!(read_ttl_line(&doc(r#"{"key":"k","expire_at_ms":-1}"#)).is_err());
        assert!(read_ttl_line(&doc("[]")).is_err());
        assert_eq!(
            read_ttl_line(&doc("{\"\u{212A}EY\":\"k\"}")).unwrap().key,
            "k"
        );
    }
}
