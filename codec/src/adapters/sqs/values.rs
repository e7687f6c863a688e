//! SQS record values and the JSON records inside them, read the way Go's
//! `encoding/json` reads them (docs/format.md §3.3, §4.7, §6.5).
//!
//! The live store wraps queue metas and messages in 4-byte magic envelopes around
//! JSON; generations and FIFO sequence counters are decimal ASCII. The tree's
//! `messages.jsonl` lines carry the same message fields (plus `partition`) with a
//! different body encoding, so one parser reads both [`Dialect`]s. Message attribute
//! values are kept as their raw JSON text, as Go's `json.RawMessage` keeps them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::value::RawValue;

use crate::tree::bsv::decode_base64url;
use crate::tree::gojson::{
    GoTypeError, GoValue, match_field, set_bool, set_string, set_u32, set_u64,
};
use crate::tree::gojson_reader::{Event, JsonReader, SliceSource};

/// `00 'S' 'Q' 01`: a stored queue meta.
pub const QUEUE_META_MAGIC: &[u8] = &[0x00, b'S', b'Q', 0x01];
/// `00 'S' 'M' 01`: a stored message.
pub const MESSAGE_MAGIC: &[u8] = &[0x00, b'S', b'M', 0x01];

/// Go's `base64.StdEncoding` as `encoding/json` decodes `[]byte` with it: padding
/// required, CR/LF skipped, non-zero trailing bits accepted.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// `[]byte` as Go's `encoding/json` writes it.
pub fn encode_base64_std(raw: &[u8]) -> String {
    GO_STD.encode(raw)
}

fn decode_base64_std(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.bytes().any(|b| b == b'\r' || b == b'\n') {
        let cleaned: Vec<u8> = text.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
        GO_STD.decode(cleaned)
    } else {
        GO_STD.decode(text)
    }
}

/// A generation or sequence value: decimal ASCII, surrounding white space ignored
/// (Go's `strconv.ParseUint(strings.TrimSpace(v), 10, 64)`).
pub fn parse_decimal(value: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(value).map_err(|e| e.to_string())?;
    let trimmed = text.trim_matches(|c: char| c.is_whitespace());
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("parsing {trimmed:?}: invalid syntax"));
    }
    trimmed
        .parse::<u64>()
        .map_err(|_| format!("parsing {trimmed:?}: value out of range"))
}

/// The body after `magic`, or why it is not there.
pub fn strip_magic<'v>(value: &'v [u8], magic: &[u8]) -> Result<&'v [u8], String> {
    value
        .strip_prefix(magic)
        .ok_or_else(|| "missing magic prefix".to_owned())
}

/// A queue's configuration: the live meta's fields, under the tree's names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMeta {
    /// `name`.
    pub name: String,
    /// `fifo` (live `is_fifo`).
    pub fifo: bool,
    /// `content_based_deduplication` (live `content_based_dedup`).
    pub content_based_deduplication: bool,
    /// `visibility_timeout_seconds`.
    pub visibility_timeout_seconds: i64,
    /// `message_retention_seconds`.
    pub message_retention_seconds: i64,
    /// `delay_seconds`.
    pub delay_seconds: i64,
    /// `receive_message_wait_seconds`.
    pub receive_message_wait_seconds: i64,
    /// `maximum_message_size`.
    pub maximum_message_size: i64,
    /// `redrive_policy`.
    pub redrive_policy: String,
    /// `redrive_allow_policy`.
    pub redrive_allow_policy: String,
    /// `partition_count` (HT-FIFO partitions; 0 or 1 means classic).
    pub partition_count: u32,
    /// `fifo_throughput_limit`.
    pub fifo_throughput_limit: String,
    /// `deduplication_scope`.
    pub deduplication_scope: String,
}

/// Which JSON a record is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The live store's JSON (`is_fifo`, body as standard base64).
    Live,
    /// The tree's (`fifo`, body as a string or `{"base64": …}`, `partition`).
    Tree,
}

const LIVE_META_FIELDS: &[&str] = &[
    "name",
    "is_fifo",
    "content_based_dedup",
    "visibility_timeout_seconds",
    "message_retention_seconds",
    "delay_seconds",
    "receive_message_wait_seconds",
    "maximum_message_size",
    "redrive_policy",
    "redrive_allow_policy",
    "partition_count",
    "fifo_throughput_limit",
    "deduplication_scope",
];

const TREE_META_FIELDS: &[&str] = &[
    "format_version",
    "name",
    "fifo",
    "content_based_deduplication",
    "visibility_timeout_seconds",
    "message_retention_seconds",
    "delay_seconds",
    "receive_message_wait_seconds",
    "maximum_message_size",
    "redrive_policy",
    "redrive_allow_policy",
    "partition_count",
    "fifo_throughput_limit",
    "deduplication_scope",
];

/// Go's `strconv.ParseInt(literal, 10, 64)` as `encoding/json` applies it.
fn set_i64(slot: &mut i64, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(n) => {
            let digits = n.strip_prefix('-').unwrap_or(n);
            let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                n.parse::<i64>().ok()
            } else {
                None
            };
            match parsed {
                Some(v) => {
                    *slot = v;
                    Ok(())
                }
                None => Err(GoTypeError {
                    field: field.to_owned(),
                    message: format!("cannot unmarshal number {n} into int64"),
                }),
            }
        }
        other => Err(GoTypeError {
            field: field.to_owned(),
            message: format!("cannot unmarshal {} into int64", other.type_name()),
        }),
    }
}

/// A queue meta record in `dialect`; `format_version` (tree only) comes back beside.
pub fn parse_queue_meta(json: &[u8], dialect: Dialect) -> Result<(QueueMeta, u32), String> {
    let value = crate::tree::gojson_reader::parse(json).map_err(|e| e.to_string())?;
    let GoValue::Object(members) = value else {
        if value == GoValue::Null {
            return Ok((QueueMeta::default(), 0));
        }
        return Err(format!(
            "cannot unmarshal {} into a queue meta object",
            value.type_name()
        ));
    };
    let fields = match dialect {
        Dialect::Live => LIVE_META_FIELDS,
        Dialect::Tree => TREE_META_FIELDS,
    };
    let mut m = QueueMeta::default();
    let mut format_version = 0u32;
    let mut first_error = None;
    for (key, v) in &members {
        let Some(field) = match_field(key, fields) else {
            continue;
        };
        let result = match field {
            "format_version" => set_u32(&mut format_version, v, field),
            "name" => set_string(&mut m.name, v, field),
            "is_fifo" | "fifo" => set_bool(&mut m.fifo, v, field),
            "content_based_dedup" | "content_based_deduplication" => {
                set_bool(&mut m.content_based_deduplication, v, field)
            }
            "visibility_timeout_seconds" => set_i64(&mut m.visibility_timeout_seconds, v, field),
            "message_retention_seconds" => set_i64(&mut m.message_retention_seconds, v, field),
            "delay_seconds" => set_i64(&mut m.delay_seconds, v, field),
            "receive_message_wait_seconds" => {
                set_i64(&mut m.receive_message_wait_seconds, v, field)
            }
            "maximum_message_size" => set_i64(&mut m.maximum_message_size, v, field),
            "redrive_policy" => set_string(&mut m.redrive_policy, v, field),
            "redrive_allow_policy" => set_string(&mut m.redrive_allow_policy, v, field),
            "partition_count" => set_u32(&mut m.partition_count, v, field),
            "fifo_throughput_limit" => set_string(&mut m.fifo_throughput_limit, v, field),
            "deduplication_scope" => set_string(&mut m.deduplication_scope, v, field),
            _ => Ok(()),
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e.to_string()),
        None => Ok((m, format_version)),
    }
}

/// One message, in either dialect.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// `message_id`.
    pub message_id: String,
    /// The body bytes.
    pub body: Vec<u8>,
    /// `md5_of_body`.
    pub md5_of_body: String,
    /// `md5_of_message_attributes`.
    pub md5_of_message_attributes: String,
    /// `message_attributes`: name → the attribute's JSON, as written (Go's
    /// `map[string]json.RawMessage`; a repeated name keeps its last value).
    pub message_attributes: BTreeMap<String, Box<RawValue>>,
    /// `sender_id`.
    pub sender_id: String,
    /// `send_timestamp_millis`.
    pub send_timestamp_millis: i64,
    /// `available_at_millis`.
    pub available_at_millis: i64,
    /// `visible_at_millis`.
    pub visible_at_millis: i64,
    /// `receive_count`.
    pub receive_count: i64,
    /// `first_receive_millis`.
    pub first_receive_millis: i64,
    /// `current_receipt_token`.
    pub current_receipt_token: Vec<u8>,
    /// `queue_generation`.
    pub queue_generation: u64,
    /// `message_group_id`.
    pub message_group_id: String,
    /// `message_deduplication_id`.
    pub message_deduplication_id: String,
    /// `sequence_number`.
    pub sequence_number: u64,
    /// `dead_letter_source_arn`.
    pub dead_letter_source_arn: String,
    /// `partition` (tree only): `Some` when the line names one.
    pub partition: Option<u32>,
}

impl Message {
    /// Zeroes what a live receive changed (the decoder's default): the message comes
    /// back as never received.
    pub fn clear_visibility(&mut self) {
        self.visible_at_millis = 0;
        self.current_receipt_token.clear();
        self.receive_count = 0;
        self.first_receive_millis = 0;
    }
}

const MESSAGE_FIELDS: &[&str] = &[
    "message_id",
    "body",
    "md5_of_body",
    "md5_of_message_attributes",
    "message_attributes",
    "sender_id",
    "send_timestamp_millis",
    "available_at_millis",
    "visible_at_millis",
    "receive_count",
    "first_receive_millis",
    "current_receipt_token",
    "queue_generation",
    "message_group_id",
    "message_deduplication_id",
    "sequence_number",
    "dead_letter_source_arn",
    "partition",
];

/// Go's `[]byte` decoding: a standard-base64 string, `null` (nil), or an array of
/// byte-sized numbers.
fn set_bytes(slot: &mut Vec<u8>, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    let err = |message: String| GoTypeError {
        field: field.to_owned(),
        message,
    };
    match value {
        GoValue::Null => {
            slot.clear();
            Ok(())
        }
        GoValue::String(s) => {
            *slot = decode_base64_std(s).map_err(|e| err(e.to_string()))?;
            Ok(())
        }
        GoValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let mut b = 0u32;
                set_u32(&mut b, item, field)?;
                out.push(u8::try_from(b).map_err(|_| err(format!("number {b} overflows uint8")))?);
            }
            *slot = out;
            Ok(())
        }
        other => Err(err(format!(
            "cannot unmarshal {} into []uint8",
            other.type_name()
        ))),
    }
}

/// The tree's body: a string, or exactly `{"base64": "<base64url>"}`.
fn set_tree_body(slot: &mut Vec<u8>, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    let err = |message: &str| GoTypeError {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    match value {
        GoValue::Null => {
            slot.clear();
            Ok(())
        }
        GoValue::String(s) => {
            *slot = s.as_bytes().to_vec();
            Ok(())
        }
        GoValue::Object(members) => {
            let mut b64: Option<&str> = None;
            for (k, v) in members {
                if match_field(k, &["base64"]).is_none() {
                    return Err(err(&format!("unknown field {k:?}")));
                }
                match v {
                    GoValue::Null => b64 = None,
                    GoValue::String(s) => b64 = Some(s),
                    other => {
                        return Err(err(&format!(
                            "cannot unmarshal {} into string",
                            other.type_name()
                        )));
                    }
                }
            }
            let b64 = b64.ok_or_else(|| err("sqs message body object missing base64 field"))?;
            *slot = decode_base64url(b64).map_err(|e| err(&e.to_string()))?;
            Ok(())
        }
        other => Err(err(&format!(
            "cannot unmarshal {} into a message body",
            other.type_name()
        ))),
    }
}

/// A message record in `dialect`, from its JSON text (`json` holds exactly the
/// value, maybe with surrounding white space).
pub fn parse_message(json: &[u8], dialect: Dialect) -> Result<Message, String> {
    let mut reader = JsonReader::new(SliceSource::new(json));
    let mut m = Message::default();
    let mut first_error: Option<GoTypeError> = None;
    match reader.next_event().map_err(|e| e.to_string())? {
        Event::ObjectStart => {}
        Event::Scalar(GoValue::Null) => {
            reader.finish().map_err(|e| e.to_string())?;
            return finish_top(&mut reader).map(|()| m);
        }
        Event::Scalar(v) => {
            return Err(format!("cannot unmarshal {} into a message", v.type_name()));
        }
        _ => return Err("cannot unmarshal array into a message".to_owned()),
    }
    while let Some(key) = reader.next_member().map_err(|e| e.to_string())? {
        let field = match_field(&key, MESSAGE_FIELDS)
            .filter(|f| *f != "partition" || dialect == Dialect::Tree);
        let Some(field) = field else {
            reader.skip_value().map_err(|e| e.to_string())?;
            continue;
        };
        if field == "message_attributes" {
            if let Err(e) = read_attributes(&mut reader, json, &mut m.message_attributes) {
                match e {
                    AttrError::Syntax(s) => return Err(s),
                    AttrError::Type(t) => {
                        first_error.get_or_insert(t);
                    }
                }
            }
            continue;
        }
        let v = reader.read_value().map_err(|e| e.to_string())?;
        let result = match field {
            "message_id" => set_string(&mut m.message_id, &v, field),
            "body" => match dialect {
                Dialect::Live => set_bytes(&mut m.body, &v, field),
                Dialect::Tree => set_tree_body(&mut m.body, &v, field),
            },
            "md5_of_body" => set_string(&mut m.md5_of_body, &v, field),
            "md5_of_message_attributes" => set_string(&mut m.md5_of_message_attributes, &v, field),
            "sender_id" => set_string(&mut m.sender_id, &v, field),
            "send_timestamp_millis" => set_i64(&mut m.send_timestamp_millis, &v, field),
            "available_at_millis" => set_i64(&mut m.available_at_millis, &v, field),
            "visible_at_millis" => set_i64(&mut m.visible_at_millis, &v, field),
            "receive_count" => set_i64(&mut m.receive_count, &v, field),
            "first_receive_millis" => set_i64(&mut m.first_receive_millis, &v, field),
            "current_receipt_token" => set_bytes(&mut m.current_receipt_token, &v, field),
            "queue_generation" => set_u64(&mut m.queue_generation, &v, field),
            "message_group_id" => set_string(&mut m.message_group_id, &v, field),
            "message_deduplication_id" => set_string(&mut m.message_deduplication_id, &v, field),
            "sequence_number" => set_u64(&mut m.sequence_number, &v, field),
            "dead_letter_source_arn" => set_string(&mut m.dead_letter_source_arn, &v, field),
            "partition" => set_partition(&mut m.partition, &v, field),
            _ => Ok(()),
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    finish_top(&mut reader)?;
    match first_error {
        Some(e) => Err(e.to_string()),
        None => Ok(m),
    }
}

/// After the top-level value only white space may follow.
fn finish_top(reader: &mut JsonReader<SliceSource<'_>>) -> Result<(), String> {
    match reader.peek_after_whitespace().map_err(|e| e.to_string())? {
        None => Ok(()),
        Some(c) => Err(format!(
            "invalid character {:?} after top-level value",
            c as char
        )),
    }
}

fn set_partition(slot: &mut Option<u32>, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    if *value == GoValue::Null {
        *slot = None;
        return Ok(());
    }
    let mut p = 0u32;
    set_u32(&mut p, value, field)?;
    *slot = Some(p);
    Ok(())
}

enum AttrError {
    Syntax(String),
    Type(GoTypeError),
}

/// `message_attributes`: an object whose member values are kept as raw JSON, `null`
/// (no attributes), or a type error.
fn read_attributes(
    reader: &mut JsonReader<SliceSource<'_>>,
    json: &[u8],
    out: &mut BTreeMap<String, Box<RawValue>>,
) -> Result<(), AttrError> {
    let syntax = |e: crate::tree::gojson_reader::JsonReadError| AttrError::Syntax(e.to_string());
    let start = reader.offset();
    match reader.next_event().map_err(syntax)? {
        Event::ObjectStart => {}
        Event::Scalar(GoValue::Null) => {
            out.clear();
            return Ok(());
        }
        Event::Scalar(v) => {
            return Err(AttrError::Type(GoTypeError {
                field: "message_attributes".to_owned(),
                message: format!("cannot unmarshal {} into map", v.type_name()),
            }));
        }
        Event::ArrayStart | Event::ObjectEnd | Event::ArrayEnd | Event::Key(_) => {
            reader.skip_container_rest().map_err(syntax)?;
            let _ = start;
            return Err(AttrError::Type(GoTypeError {
                field: "message_attributes".to_owned(),
                message: "cannot unmarshal array into map".to_owned(),
            }));
        }
    }
    while let Some(name) = reader.next_member().map_err(syntax)? {
        let from = reader.offset();
        reader.skip_value().map_err(syntax)?;
        let to = reader.offset();
        let raw = trim_raw(json.get(from..to).unwrap_or_default());
        let text = String::from_utf8_lossy(raw).into_owned();
        let value = RawValue::from_string(text).map_err(|e| AttrError::Syntax(e.to_string()))?;
        out.insert(name, value);
    }
    Ok(())
}

/// The value's own bytes: without the `:` and white space before it.
fn trim_raw(raw: &[u8]) -> &[u8] {
    let is_pad = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b':');
    let start = raw.iter().position(|c| !is_pad(c)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|c| !is_pad(c))
        .map_or(start, |e| e + 1);
    &raw[start..end.max(start)]
}

/// Text with Go's replacement of every invalid UTF-8 byte by U+FFFD (what Go's
/// JSON encoder writes for a string holding arbitrary bytes).
pub fn go_lossy(bytes: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        let w = crate::tree::gojson::utf8_char_width(&bytes[i..]);
        if w == 0 {
            out.push('\u{FFFD}');
            i += 1;
        } else {
            out.push_str(std::str::from_utf8(&bytes[i..i + w]).unwrap_or("\u{FFFD}"));
            i += w;
        }
    }
    out
}
