//! SQS store-key layouts, both directions (docs/format.md §3.3).
//!
//! Queue names, message ids, group ids and dedup ids are stored base64url (no
//! padding), so they can never contain `|`. Two layouts share each message family:
//! the classic one (`<prefix><b64 queue><BE64 gen>…`) and the partitioned HT-FIFO one
//! (`<prefix>p|<b64 queue>|<BE32 partition><BE64 gen>…`). In the classic layout the
//! queue segment ends where the first byte outside the base64url alphabet starts,
//! which is the generation's first byte for every generation below 2^56.

use crate::tree::bsv::{decode_base64url, encode_base64url};

/// `!sqs|queue|meta|`.
pub const QUEUE_META: &[u8] = b"!sqs|queue|meta|";
/// `!sqs|queue|gen|`.
pub const QUEUE_GEN: &[u8] = b"!sqs|queue|gen|";
/// `!sqs|queue|seq|`.
pub const QUEUE_SEQ: &[u8] = b"!sqs|queue|seq|";
/// `!sqs|msg|data|`.
pub const MSG_DATA: &[u8] = b"!sqs|msg|data|";
/// `!sqs|msg|vis|`.
pub const MSG_VIS: &[u8] = b"!sqs|msg|vis|";
/// `!sqs|msg|byage|`.
pub const MSG_BYAGE: &[u8] = b"!sqs|msg|byage|";
/// `!sqs|msg|dedup|`.
pub const MSG_DEDUP: &[u8] = b"!sqs|msg|dedup|";
/// `!sqs|msg|group|`.
pub const MSG_GROUP: &[u8] = b"!sqs|msg|group|";
/// `!sqs|queue|tombstone|`.
pub const QUEUE_TOMBSTONE: &[u8] = b"!sqs|queue|tombstone|";

/// The discriminator of the partitioned layout, right after the family prefix.
pub const PARTITIONED: &[u8] = b"p|";
/// Ends the queue segment (and the group segment of a dedup key) in the partitioned
/// layout.
const TERMINATOR: u8 = b'|';
const GEN_BYTES: usize = 8;
const PARTITION_BYTES: usize = 4;

/// Why a key does not parse; the decoder reports it as `ErrSQSMalformedKey`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No queue segment, or nothing after it where something must follow.
    #[error("queue segment not found after the prefix")]
    NoQueueSegment,
    /// A classic message-data key without message-id bytes after the generation.
    #[error("queue segment or message-id segment not found")]
    NoMessageId,
    /// A partitioned key without the `|` that ends the queue segment.
    #[error("partitioned key missing queue terminator")]
    NoTerminator,
    /// A partitioned key whose trailer is shorter than partition + generation (+ id).
    #[error("partitioned key trailer truncated")]
    ShortTrailer,
    /// A segment that should be base64url is not.
    #[error("{segment} segment is not base64url: {detail}")]
    NotBase64 {
        /// `queue` or `message-id`.
        segment: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
}

/// What a `!sqs|msg|data|` key says: the queue's stored segment and, for the
/// partitioned layout, the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey<'k> {
    /// The queue segment as stored (base64url text).
    pub queue: &'k [u8],
    /// `Some` exactly when the key is in the partitioned layout.
    pub partition: Option<u32>,
}

/// Whether `c` belongs to the base64url alphabet.
pub fn is_base64url_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Length of the longest base64url run at the start of `s` (the classic layout's
/// queue segment).
pub fn base64url_boundary(s: &[u8]) -> usize {
    s.iter()
        .position(|&c| !is_base64url_byte(c))
        .unwrap_or(s.len())
}

fn check_base64(segment: &'static str, text: &[u8]) -> Result<(), KeyError> {
    let text = std::str::from_utf8(text).map_err(|e| KeyError::NotBase64 {
        segment,
        detail: e.to_string(),
    })?;
    decode_base64url(text)
        .map(drop)
        .map_err(|e| KeyError::NotBase64 {
            segment,
            detail: e.to_string(),
        })
}

/// Parses the rest of a message-data key (after `!sqs|msg|data|`).
pub fn parse_data_key(rest: &[u8]) -> Result<DataKey<'_>, KeyError> {
    if let Some(body) = rest.strip_prefix(PARTITIONED) {
        let (queue, partition) = partitioned_queue_and_trailer(body, true)?;
        return Ok(DataKey {
            queue,
            partition: Some(partition),
        });
    }
    let idx = base64url_boundary(rest);
    if idx == 0 || idx + GEN_BYTES >= rest.len() {
        return Err(KeyError::NoMessageId);
    }
    check_base64("queue", &rest[..idx])?;
    check_base64("message-id", &rest[idx + GEN_BYTES..])?;
    Ok(DataKey {
        queue: &rest[..idx],
        partition: None,
    })
}

/// The queue segment of a side-record key (vis, byage, dedup, group, tombstone),
/// given the rest after its prefix. Only the queue is needed: the row is kept as is.
pub fn parse_side_key(rest: &[u8]) -> Result<&[u8], KeyError> {
    if let Some(body) = rest.strip_prefix(PARTITIONED) {
        return partitioned_queue_and_trailer(body, false).map(|(queue, _)| queue);
    }
    let idx = base64url_boundary(rest);
    if idx == 0 || idx == rest.len() {
        return Err(KeyError::NoQueueSegment);
    }
    Ok(&rest[..idx])
}

/// The queue segment of a `!sqs|queue|seq|` key: the whole rest, which must be
/// non-empty base64url. The live layout has no trailer here; Go's decoder parses
/// it like the other side keys and fails on every FIFO queue (upstream PR #1128
/// parses it like this; docs/format.md §3.3).
pub fn parse_seq_key(rest: &[u8]) -> Result<&[u8], KeyError> {
    if rest.is_empty() || !rest.iter().all(|&c| is_base64url_byte(c)) {
        return Err(KeyError::NoQueueSegment);
    }
    check_base64("queue", rest)?;
    Ok(rest)
}

/// `<b64 queue>|<BE32 partition><BE64 gen>[<b64 id>]` → (queue, partition).
fn partitioned_queue_and_trailer(body: &[u8], has_id: bool) -> Result<(&[u8], u32), KeyError> {
    let terminator = body.iter().position(|&c| c == TERMINATOR);
    let terminator = match terminator {
        Some(0) | None => return Err(KeyError::NoTerminator),
        Some(t) => t,
    };
    let queue = &body[..terminator];
    check_base64("queue", queue)?;
    let trailer = &body[terminator + 1..];
    let fixed = PARTITION_BYTES + GEN_BYTES;
    if has_id {
        if trailer.len() <= fixed {
            return Err(KeyError::ShortTrailer);
        }
        check_base64("message-id", &trailer[fixed..])?;
    } else if trailer.len() < fixed {
        return Err(KeyError::ShortTrailer);
    }
    let partition = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    Ok((queue, partition))
}

// --- encode side -------------------------------------------------------------------

/// The generation every restored queue gets.
pub const RESTORE_GENERATION: u64 = 1;

/// `<prefix><b64 name>`: queue meta, gen and seq keys.
pub fn queue_key(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(encode_base64url(name).as_bytes());
    out
}

/// Where a message row of one queue lives: the classic layout, or the partitioned one
/// at `partition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `<prefix><b64 queue><BE64 gen>…`.
    Classic,
    /// `<prefix>p|<b64 queue>|<BE32 partition><BE64 gen>…`.
    Partitioned(u32),
}

/// `<prefix>[p|]<b64 queue>[|<BE32 p>]<BE64 gen>`: the head every message row shares.
fn message_head(prefix: &[u8], queue_b64: &str, layout: Layout, generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + queue_b64.len() + 64);
    out.extend_from_slice(prefix);
    match layout {
        Layout::Classic => out.extend_from_slice(queue_b64.as_bytes()),
        Layout::Partitioned(p) => {
            out.extend_from_slice(PARTITIONED);
            out.extend_from_slice(queue_b64.as_bytes());
            out.push(TERMINATOR);
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
    out.extend_from_slice(&generation.to_be_bytes());
    out
}

/// A message-data key at the restore generation.
pub fn data_key(queue_b64: &str, layout: Layout, message_id: &[u8]) -> Vec<u8> {
    data_key_at(queue_b64, layout, RESTORE_GENERATION, message_id)
}

/// A message-data key at `generation`.
pub fn data_key_at(queue_b64: &str, layout: Layout, generation: u64, message_id: &[u8]) -> Vec<u8> {
    let mut out = message_head(MSG_DATA, queue_b64, layout, generation);
    out.extend_from_slice(encode_base64url(message_id).as_bytes());
    out
}

/// A vis or byage key at the restore generation: `…<BE64 max(0, millis)><b64 id>`.
pub fn timed_key(
    prefix: &[u8],
    queue_b64: &str,
    layout: Layout,
    millis: i64,
    id: &[u8],
) -> Vec<u8> {
    timed_key_at(prefix, queue_b64, layout, RESTORE_GENERATION, millis, id)
}

/// A vis or byage key at `generation`.
pub fn timed_key_at(
    prefix: &[u8],
    queue_b64: &str,
    layout: Layout,
    generation: u64,
    millis: i64,
    id: &[u8],
) -> Vec<u8> {
    let mut out = message_head(prefix, queue_b64, layout, generation);
    out.extend_from_slice(&u64::try_from(millis).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(encode_base64url(id).as_bytes());
    out
}

/// A dedup key at the restore generation: classic `…<b64 dedup>`, partitioned
/// `…<b64 group>|<b64 dedup>`.
pub fn dedup_key(queue_b64: &str, layout: Layout, group: &[u8], dedup_id: &[u8]) -> Vec<u8> {
    dedup_key_at(queue_b64, layout, RESTORE_GENERATION, group, dedup_id)
}

/// A dedup key at `generation`.
pub fn dedup_key_at(
    queue_b64: &str,
    layout: Layout,
    generation: u64,
    group: &[u8],
    dedup_id: &[u8],
) -> Vec<u8> {
    let mut out = message_head(MSG_DEDUP, queue_b64, layout, generation);
    if let Layout::Partitioned(_) = layout {
        out.extend_from_slice(encode_base64url(group).as_bytes());
        out.push(TERMINATOR);
    }
    out.extend_from_slice(encode_base64url(dedup_id).as_bytes());
    out
}

/// A group-lock key at `generation` (the live layout; the encoder writes none).
pub fn group_key_at(queue_b64: &str, layout: Layout, generation: u64, group: &[u8]) -> Vec<u8> {
    let mut out = message_head(MSG_GROUP, queue_b64, layout, generation);
    out.extend_from_slice(encode_base64url(group).as_bytes());
    out
}

/// A queue tombstone key: `b64(queue) BE64(gen)` (the live layout; never encoded).
pub fn tombstone_key(queue: &[u8], generation: u64) -> Vec<u8> {
    let mut out = queue_key(QUEUE_TOMBSTONE, queue);
    out.extend_from_slice(&generation.to_be_bytes());
    out
}

/// The generation a side-record key names (vis, byage, dedup, group, tombstone),
/// given the rest after its prefix: the BE64 after the queue segment (classic) or
/// after the partition (partitioned). `None` when the key is too short to hold one;
/// the seq key has none.
pub fn side_key_generation(rest: &[u8]) -> Option<u64> {
    let trailer = match rest.strip_prefix(PARTITIONED) {
        Some(body) => {
            let terminator = body.iter().position(|&c| c == TERMINATOR)?;
            body.get(terminator + 1 + PARTITION_BYTES..)?
        }
        None => &rest[base64url_boundary(rest)..],
    };
    let generation: [u8; GEN_BYTES] = trailer.get(..GEN_BYTES)?.try_into().ok()?;
    Some(u64::from_be_bytes(generation))
}
