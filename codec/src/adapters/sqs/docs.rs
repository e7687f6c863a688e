//! The JSON the SQS adapter writes: the tree's `_queue.json`, `messages.jsonl` lines
//! and side-record lines, and the store's compact queue-meta, message and dedup
//! records (docs/format.md §4.7, §6.5). Member order and omission rules are Go's
//! struct tags; every document goes through [`crate::tree::json`] for Go's escaping.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::tree::bsv::{Bsv, encode_base64url};
use crate::tree::json::{self, Style};

use super::values::{Message, QueueMeta};

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// `[]byte` as Go writes it: standard base64 (the formatter's byte-array rule).
struct GoBytes<'a>(&'a [u8]);

impl Serialize for GoBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// `_queue.json` (Go's `sqsQueueMetaPublic`).
#[derive(Serialize)]
struct QueueDoc<'a> {
    format_version: u32,
    name: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    fifo: bool,
    #[serde(skip_serializing_if = "is_false")]
    content_based_deduplication: bool,
    visibility_timeout_seconds: i64,
    message_retention_seconds: i64,
    delay_seconds: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    receive_message_wait_seconds: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    maximum_message_size: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    redrive_policy: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    redrive_allow_policy: &'a str,
    #[serde(skip_serializing_if = "is_zero_u32")]
    partition_count: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    fifo_throughput_limit: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    deduplication_scope: &'a str,
}

/// The bytes of `_queue.json` (indented, HTML-escaped, no trailing newline).
pub fn render_queue_doc(m: &QueueMeta) -> Vec<u8> {
    let doc = QueueDoc {
        format_version: 1,
        name: &m.name,
        fifo: m.fifo,
        content_based_deduplication: m.content_based_deduplication,
        visibility_timeout_seconds: m.visibility_timeout_seconds,
        message_retention_seconds: m.message_retention_seconds,
        delay_seconds: m.delay_seconds,
        receive_message_wait_seconds: m.receive_message_wait_seconds,
        maximum_message_size: m.maximum_message_size,
        redrive_policy: &m.redrive_policy,
        redrive_allow_policy: &m.redrive_allow_policy,
        partition_count: m.partition_count,
        fifo_throughput_limit: &m.fifo_throughput_limit,
        deduplication_scope: &m.deduplication_scope,
    };
    json::to_vec(&doc, Style::MARSHAL_INDENT)
}

fn no_attributes(m: &&BTreeMap<String, Box<RawValue>>) -> bool {
    m.is_empty()
}

/// A `messages.jsonl` line (Go's `sqsMessageRecord`).
#[derive(Serialize)]
struct MessageLine<'a> {
    message_id: &'a str,
    body: Bsv<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    md5_of_body: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    md5_of_message_attributes: &'a str,
    #[serde(skip_serializing_if = "no_attributes")]
    message_attributes: &'a BTreeMap<String, Box<RawValue>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    sender_id: &'a str,
    send_timestamp_millis: i64,
    available_at_millis: i64,
    visible_at_millis: i64,
    receive_count: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    first_receive_millis: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_receipt_token: Option<GoBytes<'a>>,
    queue_generation: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    message_group_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message_deduplication_id: &'a str,
    #[serde(skip_serializing_if = "is_zero_u64")]
    sequence_number: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    dead_letter_source_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<u32>,
}

/// One `messages.jsonl` line, with its newline. The body is rendered by a nested
/// Go `json.Marshal`, so it is HTML-escaped although the line is not.
pub fn render_message_line(m: &Message) -> Vec<u8> {
    let line = MessageLine {
        message_id: &m.message_id,
        body: Bsv(&m.body),
        md5_of_body: &m.md5_of_body,
        md5_of_message_attributes: &m.md5_of_message_attributes,
        message_attributes: &m.message_attributes,
        sender_id: &m.sender_id,
        send_timestamp_millis: m.send_timestamp_millis,
        available_at_millis: m.available_at_millis,
        visible_at_millis: m.visible_at_millis,
        receive_count: m.receive_count,
        first_receive_millis: m.first_receive_millis,
        current_receipt_token: (!m.current_receipt_token.is_empty())
            .then_some(GoBytes(&m.current_receipt_token)),
        queue_generation: m.queue_generation,
        message_group_id: &m.message_group_id,
        message_deduplication_id: &m.message_deduplication_id,
        sequence_number: m.sequence_number,
        dead_letter_source_arn: &m.dead_letter_source_arn,
        partition: m.partition,
    };
    json::to_vec(&line, Style::JSONL)
}

/// A `side_records.jsonl` line: a store row kept verbatim.
#[derive(Serialize)]
struct SideRecordLine<'a> {
    prefix: &'a str,
    key_hex: String,
    value_b64: String,
}

/// One `_internals/side_records.jsonl` line, with its newline.
pub fn render_side_record(prefix: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
    let line = SideRecordLine {
        prefix,
        key_hex: hex::encode(key),
        value_b64: encode_base64url(value),
    };
    json::to_vec(&line, Style::JSONL)
}

// --- store records (encode) ----------------------------------------------------------

/// The stored queue meta (Go's `sqsStoredQueueMeta`), compact.
#[derive(Serialize)]
struct StoredQueueMeta<'a> {
    name: &'a str,
    generation: u64,
    #[serde(skip_serializing_if = "is_false")]
    is_fifo: bool,
    #[serde(skip_serializing_if = "is_false")]
    content_based_dedup: bool,
    visibility_timeout_seconds: i64,
    message_retention_seconds: i64,
    delay_seconds: i64,
    receive_message_wait_seconds: i64,
    maximum_message_size: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    redrive_policy: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    redrive_allow_policy: &'a str,
    #[serde(skip_serializing_if = "is_zero_u32")]
    partition_count: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    fifo_throughput_limit: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    deduplication_scope: &'a str,
}

/// The stored queue meta JSON (without its magic) at `generation`.
pub fn render_stored_queue_meta(m: &QueueMeta, generation: u64) -> Vec<u8> {
    let doc = StoredQueueMeta {
        name: &m.name,
        generation,
        is_fifo: m.fifo,
        content_based_dedup: m.content_based_deduplication,
        visibility_timeout_seconds: m.visibility_timeout_seconds,
        message_retention_seconds: m.message_retention_seconds,
        delay_seconds: m.delay_seconds,
        receive_message_wait_seconds: m.receive_message_wait_seconds,
        maximum_message_size: m.maximum_message_size,
        redrive_policy: &m.redrive_policy,
        redrive_allow_policy: &m.redrive_allow_policy,
        partition_count: m.partition_count,
        fifo_throughput_limit: &m.fifo_throughput_limit,
        deduplication_scope: &m.deduplication_scope,
    };
    json::to_vec(&doc, Style::MARSHAL)
}

/// What the stored message keeps of a message's receive state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiveState {
    /// Reset: never received (what the encoder restores, as Go's does).
    Reset,
    /// As the message says (what a live node stores; for generators and tests).
    Kept,
}

/// The stored message (Go's `sqsStoredMessage`; the live `sqsMessageRecord` has the
/// same members), compact.
#[derive(Serialize)]
struct StoredMessage<'a> {
    message_id: &'a str,
    body: GoBytes<'a>,
    md5_of_body: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    md5_of_message_attributes: &'a str,
    #[serde(skip_serializing_if = "no_attributes")]
    message_attributes: &'a BTreeMap<String, Box<RawValue>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    sender_id: &'a str,
    send_timestamp_millis: i64,
    available_at_millis: i64,
    visible_at_millis: i64,
    receive_count: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    first_receive_millis: i64,
    current_receipt_token: Option<GoBytes<'a>>,
    queue_generation: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    message_group_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message_deduplication_id: &'a str,
    #[serde(skip_serializing_if = "is_zero_u64")]
    sequence_number: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    dead_letter_source_arn: &'a str,
}

/// The stored message JSON (without its magic) at `generation`. With
/// [`ReceiveState::Reset`] visibility and receive count are 0,
/// `first_receive_millis` is omitted and the receipt token is `null`.
pub fn render_stored_message(m: &Message, generation: u64, state: ReceiveState) -> Vec<u8> {
    let kept = state == ReceiveState::Kept;
    let doc = StoredMessage {
        message_id: &m.message_id,
        body: GoBytes(&m.body),
        md5_of_body: &m.md5_of_body,
        md5_of_message_attributes: &m.md5_of_message_attributes,
        message_attributes: &m.message_attributes,
        sender_id: &m.sender_id,
        send_timestamp_millis: m.send_timestamp_millis,
        available_at_millis: m.available_at_millis,
        visible_at_millis: if kept { m.visible_at_millis } else { 0 },
        receive_count: if kept { m.receive_count } else { 0 },
        first_receive_millis: if kept { m.first_receive_millis } else { 0 },
        current_receipt_token: (kept && !m.current_receipt_token.is_empty())
            .then_some(GoBytes(&m.current_receipt_token)),
        queue_generation: generation,
        message_group_id: &m.message_group_id,
        message_deduplication_id: &m.message_deduplication_id,
        sequence_number: m.sequence_number,
        dead_letter_source_arn: &m.dead_letter_source_arn,
    };
    json::to_vec(&doc, Style::MARSHAL)
}

/// How long a FIFO dedup entry lives: five minutes after the send.
pub const DEDUP_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// A FIFO dedup row's value (Go's `sqsFifoDedupRecord`).
#[derive(Serialize)]
struct DedupRecord<'a> {
    message_id: &'a str,
    send_timestamp_ms: i64,
    expires_at_millis: i64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    original_sequence: u64,
}

/// The dedup row value for message `m`.
pub fn render_dedup_record(m: &Message) -> Vec<u8> {
    let doc = DedupRecord {
        message_id: &m.message_id,
        send_timestamp_ms: m.send_timestamp_millis,
        expires_at_millis: m.send_timestamp_millis.wrapping_add(DEDUP_WINDOW_MILLIS),
        original_sequence: m.sequence_number,
    };
    json::to_vec(&doc, Style::MARSHAL)
}
