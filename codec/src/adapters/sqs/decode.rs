//! Snapshot records → `sqs/` (docs/format.md §3.3, §4.7).
//!
//! Message rows sort before the queue rows that say whether they are wanted (`!sqs|msg|`
//! < `!sqs|queue|`), so nothing can be written as it arrives: each message is
//! rendered to its final `messages.jsonl` line at once and parked in an external sort
//! keyed by (queue, send time, sequence number, message id, arrival), side records in
//! another keyed by (queue, arrival). Only one small state per queue stays in memory;
//! at finalize each queue's rows stream out of the sorts into its files, so a queue of
//! millions of messages decodes in bounded memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::adapter::{AdapterDecoder, DecoderSettings, Warnings};
use crate::container::EntryRef;
use crate::dispatch::{Adapter, Family, Prefix};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, SortOptions, SortedRecords};
use crate::tree::bsv::decode_base64url;
use crate::tree::segment::{encode_segment, names_own_directory};
use crate::tree::sink::TreeSink;

use super::docs::{render_message_line, render_queue_doc, render_side_record};
use super::error::{Result, SqsError};
use super::keys;
use super::values::{self, Dialect, QueueMeta};
use crate::adapters::redis::Escaped;

/// Knobs of the SQS decoder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqsDecodeOptions {
    /// `--preserve-sqs-visibility`: keep receive state instead of zeroing it.
    pub preserve_visibility: bool,
    /// `--include-sqs-side-records`: write the index rows to `_internals/`.
    pub include_side_records: bool,
    /// Where and how much the two sorts may buffer (split between them).
    pub sort: SortOptions,
}

/// What is known about one queue (by its stored base64url segment) until finalize.
#[derive(Debug, Default)]
struct QueueState {
    /// The decoded name and the configuration, once the meta row came.
    meta: Option<(Vec<u8>, QueueMeta)>,
    /// The generation row's value; 0 = none (no stale-generation filter).
    active_gen: u64,
    /// Messages parked for this queue.
    messages: u64,
    /// Side records parked for this queue.
    side_records: u64,
}

/// The SQS side of a decode: writes `sqs/` of the tree.
pub struct SqsDecoder {
    tree: Arc<dyn TreeSink>,
    options: SqsDecodeOptions,
    queues: BTreeMap<Vec<u8>, QueueState>,
    messages: Option<ExternalSorter>,
    side_records: Option<ExternalSorter>,
    arrival: u64,
}

impl std::fmt::Debug for SqsDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsDecoder")
            .field("queues", &self.queues.len())
            .field("arrival", &self.arrival)
            .finish_non_exhaustive()
    }
}

impl SqsDecoder {
    /// A decoder writing `sqs/` of `tree` (nothing is created until needed).
    pub fn new(tree: Arc<dyn TreeSink>, options: SqsDecodeOptions) -> Self {
        let half = SortOptions {
            memory_budget: (options.sort.memory_budget / 2).max(1),
            scratch_dir: options.sort.scratch_dir.clone(),
        };
        SqsDecoder {
            tree,
            messages: Some(ExternalSorter::new(half.clone())),
            side_records: Some(ExternalSorter::new(half)),
            options,
            queues: BTreeMap::new(),
            arrival: 0,
        }
    }

    /// A decoder as the registry builds it.
    pub fn from_settings(settings: &DecoderSettings) -> Self {
        let ex = &settings.flags.exclusions;
        SqsDecoder::new(
            Arc::clone(&settings.tree),
            SqsDecodeOptions {
                preserve_visibility: ex.preserve_sqs_visibility,
                include_side_records: ex.include_sqs_side_records,
                sort: SortOptions {
                    memory_budget: settings.memory_budget,
                    scratch_dir: settings.scratch_dir.clone(),
                },
            },
        )
    }

    fn route(&mut self, prefix: &'static Prefix, entry: &EntryRef<'_>) -> Result<()> {
        let rest = prefix.rest(entry.user_key);
        match prefix.family {
            Family::SqsQueueMeta => self.queue_meta(rest, entry),
            Family::SqsQueueGen => self.queue_gen(rest, entry),
            Family::SqsMsgData => self.message(rest, entry),
            Family::SqsQueueSeq
            | Family::SqsQueueTombstone
            | Family::SqsMsgVis
            | Family::SqsMsgByAge
            | Family::SqsMsgDedup
            | Family::SqsMsgGroup => self.side_record(prefix, rest, entry),
            _ => Ok(()),
        }
    }

    fn queue_meta(&mut self, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let key = entry.user_key;
        let name = std::str::from_utf8(rest)
            .map_err(|e| e.to_string())
            .and_then(|text| decode_base64url(text).map_err(|e| e.to_string()))
            .map_err(|detail| SqsError::malformed_key(key, detail))?;
        // The name becomes the queue's directory: one that names none (Go writes such a
        // queue into `sqs/` itself, or its parent) is refused.
        if !names_own_directory(&encode_segment(&name)) {
            return Err(SqsError::malformed_key(
                key,
                format!(
                    "queue name {:?} cannot name a directory",
                    String::from_utf8_lossy(&name)
                ),
            ));
        }
        let invalid = |detail: String| SqsError::InvalidQueueMeta {
            key: Escaped(key).to_string(),
            detail,
        };
        let json = values::strip_magic(entry.body, values::QUEUE_META_MAGIC).map_err(invalid)?;
        let (mut meta, _) = values::parse_queue_meta(json, Dialect::Live).map_err(invalid)?;
        if meta.name.is_empty() {
            meta.name = values::go_lossy(&name);
        }
        self.queues.entry(rest.to_vec()).or_default().meta = Some((name, meta));
        Ok(())
    }

    fn queue_gen(&mut self, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let generation = values::parse_decimal(entry.body)
            .map_err(|detail| SqsError::malformed_key(entry.user_key, detail))?;
        self.queues.entry(rest.to_vec()).or_default().active_gen = generation;
        Ok(())
    }

    fn message(&mut self, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let key = entry.user_key;
        let parsed = keys::parse_data_key(rest).map_err(|e| SqsError::malformed_key(key, e))?;
        let invalid = |detail: String| SqsError::InvalidMessage {
            key: Escaped(key).to_string(),
            detail,
        };
        let json = values::strip_magic(entry.body, values::MESSAGE_MAGIC).map_err(invalid)?;
        let mut message = values::parse_message(json, Dialect::Live).map_err(invalid)?;
        if !self.options.preserve_visibility {
            message.clear_visibility();
        }
        message.partition = parsed.partition;
        let line = render_message_line(&message);
        let mut sort_key = queue_sort_prefix(parsed.queue);
        push_sortable_i64(&mut sort_key, message.send_timestamp_millis);
        sort_key.extend_from_slice(&message.sequence_number.to_be_bytes());
        push_terminated(&mut sort_key, message.message_id.as_bytes());
        sort_key.extend_from_slice(&self.next_arrival().to_be_bytes());
        let generation = message.queue_generation.to_be_bytes();
        self.messages
            .as_mut()
            .ok_or_else(finished)?
            .push_parts(&sort_key, &[&generation, &line])
            .map_err(|e| SqsError::io("park a message in", &self.options.sort.scratch_dir, e))?;
        self.queues
            .entry(parsed.queue.to_vec())
            .or_default()
            .messages += 1;
        Ok(())
    }

    fn side_record(&mut self, prefix: &Prefix, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        if !self.options.include_side_records {
            return Ok(());
        }
        let key = entry.user_key;
        let queue = if prefix.family == Family::SqsQueueSeq {
            keys::parse_seq_key(rest)
        } else {
            keys::parse_side_key(rest)
        }
        .map_err(|e| SqsError::malformed_key(key, e))?;
        let prefix_text = std::str::from_utf8(prefix.bytes).unwrap_or_default();
        let line = render_side_record(prefix_text, key, entry.body);
        let mut sort_key = queue_sort_prefix(queue);
        sort_key.extend_from_slice(&self.next_arrival().to_be_bytes());
        self.side_records
            .as_mut()
            .ok_or_else(finished)?
            .push(&sort_key, &line)
            .map_err(|e| {
                SqsError::io("park a side record in", &self.options.sort.scratch_dir, e)
            })?;
        self.queues.entry(queue.to_vec()).or_default().side_records += 1;
        Ok(())
    }

    fn next_arrival(&mut self) -> u64 {
        self.arrival += 1;
        self.arrival
    }

    // --- finalize -----------------------------------------------------------------

    /// Writes every queue, in the order of their stored segments. Every queue is
    /// attempted even after a failure; the first error is returned.
    fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
        let scratch = self.options.sort.scratch_dir.clone();
        let sorted = |sorter: Option<ExternalSorter>| -> Result<Cursor> {
            let records = sorter
                .ok_or_else(finished)?
                .finish()
                .map_err(|e| SqsError::io("sort parked SQS rows in", &scratch, e))?;
            Cursor::new(records).map_err(|e| SqsError::io("read parked SQS rows in", &scratch, e))
        };
        let mut messages = sorted(self.messages.take())?;
        let mut side = sorted(self.side_records.take())?;
        let mut first_error = None;
        for (encoded, state) in &self.queues {
            let result = match &state.meta {
                None => self.orphan(encoded, state, &mut messages, &mut side, warnings),
                Some((name, meta)) => {
                    let queue = Queue {
                        encoded,
                        name,
                        meta,
                        active_gen: state.active_gen,
                    };
                    self.flush_queue(&queue, &mut messages, &mut side, warnings)
                }
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// A queue without its meta row: its messages are dropped, its side records (if
    /// wanted) go to `sqs/<segment>.orphan/`.
    fn orphan(
        &self,
        encoded: &[u8],
        state: &QueueState,
        messages: &mut Cursor,
        side: &mut Cursor,
        warnings: &mut Warnings,
    ) -> Result<()> {
        let prefix = queue_sort_prefix(encoded);
        messages.skip_group(&prefix, &self.options.sort.scratch_dir)?;
        warnings.push(
            "sqs_orphan_messages",
            vec![
                ("encoded_queue", String::from_utf8_lossy(encoded).into_owned()),
                ("buffered_messages", state.messages.to_string()),
                ("buffered_side_records", state.side_records.to_string()),
                (
                    "hint",
                    "no !sqs|queue|meta record matched this encoded prefix; messages dropped from the dump"
                        .to_owned(),
                ),
            ],
        );
        let mut dir = b"sqs/".to_vec();
        dir.extend_from_slice(encoded);
        dir.extend_from_slice(b".orphan");
        self.write_side_records(&dir, &prefix, side)
    }

    fn flush_queue(
        &self,
        queue: &Queue<'_>,
        messages: &mut Cursor,
        side: &mut Cursor,
        warnings: &mut Warnings,
    ) -> Result<()> {
        let mut dir = b"sqs/".to_vec();
        dir.extend_from_slice(encode_segment(queue.name).as_bytes());
        let mut doc_path = dir.clone();
        doc_path.extend_from_slice(b"/_queue.json");
        self.tree
            .write_file(&doc_path, render_queue_doc(queue.meta))
            .map_err(|e| SqsError::inner(Box::new(e)))?;
        let prefix = queue_sort_prefix(queue.encoded);
        let dropped = self.write_messages(&dir, &prefix, queue.active_gen, messages)?;
        if dropped > 0 {
            warnings.push(
                "sqs_stale_generation_messages_dropped",
                vec![
                    ("queue", queue.meta.name.clone()),
                    ("active_gen", queue.active_gen.to_string()),
                    ("dropped", dropped.to_string()),
                    (
                        "hint",
                        "messages with mismatched queue_generation suppressed; reaper had not finished cleanup at snapshot time"
                            .to_owned(),
                    ),
                ],
            );
        }
        self.write_side_records(&dir, &prefix, side)
    }

    /// Streams the queue's messages into `messages.jsonl` (created only for the first
    /// one that survives the generation filter); returns how many were dropped.
    fn write_messages(
        &self,
        dir: &[u8],
        prefix: &[u8],
        active_gen: u64,
        messages: &mut Cursor,
    ) -> Result<u64> {
        let scratch = &self.options.sort.scratch_dir;
        let mut path = dir.to_vec();
        path.extend_from_slice(b"/messages.jsonl");
        let mut file = None;
        let mut dropped = 0;
        while let Some(value) = messages.take_in_group(prefix, scratch)? {
            let (generation, line) = value.split_at(8);
            let generation = u64::from_be_bytes(generation.try_into().unwrap_or_default());
            if active_gen != 0 && generation != active_gen {
                dropped += 1;
                continue;
            }
            if file.is_none() {
                file = Some(
                    self.tree
                        .create_file(&path)
                        .map_err(|e| SqsError::inner(Box::new(e)))?,
                );
            }
            if let Some(f) = file.as_mut() {
                std::io::Write::write_all(f, line).map_err(|e| {
                    SqsError::io("write", String::from_utf8_lossy(&path).into_owned(), e)
                })?;
            }
        }
        if let Some(f) = file {
            f.finish().map_err(|e| SqsError::inner(Box::new(e)))?;
        }
        Ok(dropped)
    }

    /// Streams the queue's side records into `<dir>/_internals/side_records.jsonl`
    /// (only when there are any).
    fn write_side_records(&self, dir: &[u8], prefix: &[u8], side: &mut Cursor) -> Result<()> {
        let scratch = &self.options.sort.scratch_dir;
        let mut path = dir.to_vec();
        path.extend_from_slice(b"/_internals/side_records.jsonl");
        let mut file = None;
        while let Some(line) = side.take_in_group(prefix, scratch)? {
            if file.is_none() {
                file = Some(
                    self.tree
                        .create_file(&path)
                        .map_err(|e| SqsError::inner(Box::new(e)))?,
                );
            }
            if let Some(f) = file.as_mut() {
                std::io::Write::write_all(f, line).map_err(|e| {
                    SqsError::io("write", String::from_utf8_lossy(&path).into_owned(), e)
                })?;
            }
        }
        if let Some(f) = file {
            f.finish().map_err(|e| SqsError::inner(Box::new(e)))?;
        }
        Ok(())
    }
}

/// A queue with its meta, as finalize writes it.
struct Queue<'q> {
    encoded: &'q [u8],
    name: &'q [u8],
    meta: &'q QueueMeta,
    active_gen: u64,
}

fn finished() -> SqsError {
    SqsError::io(
        "use",
        "sqs decoder",
        std::io::Error::other("the decoder was already finalized"),
    )
}

/// `<segment> 00`: base64url never holds a zero byte, so a queue's rows are exactly
/// the keys starting with this, and queues sort as their segments do.
fn queue_sort_prefix(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len() + 48);
    out.extend_from_slice(encoded);
    out.push(0);
    out
}

/// An `i64` whose big-endian bytes sort as the numbers do.
fn push_sortable_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

/// Bytes that sort as themselves within any longer key: `00` is written `00 01` and
/// the end `00 00`, so a prefix sorts before its extensions.
fn push_terminated(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Sorted records read a queue at a time.
struct Cursor {
    records: SortedRecords,
    /// The value last taken (it must outlive the step past it).
    last: Vec<u8>,
}

impl Cursor {
    fn new(mut records: SortedRecords) -> std::io::Result<Self> {
        records.advance()?;
        Ok(Cursor {
            records,
            last: Vec::new(),
        })
    }

    /// The current record's value if its key starts with `prefix`, then moves on;
    /// `None` (staying put) at the first record of another queue.
    fn take_in_group(&mut self, prefix: &[u8], scratch: &std::path::Path) -> Result<Option<&[u8]>> {
        let in_group = self
            .records
            .current()
            .is_some_and(|(key, _)| key.starts_with(prefix));
        if !in_group {
            return Ok(None);
        }
        self.last.clear();
        if let Some((_, value)) = self.records.current() {
            self.last.extend_from_slice(value);
        }
        self.records
            .advance()
            .map_err(|e| SqsError::io("read parked SQS rows in", scratch, e))?;
        Ok(Some(&self.last))
    }

    fn skip_group(&mut self, prefix: &[u8], scratch: &std::path::Path) -> Result<()> {
        while self.take_in_group(prefix, scratch)?.is_some() {}
        Ok(())
    }
}

impl AdapterDecoder for SqsDecoder {
    fn adapter(&self) -> Adapter {
        Adapter::Sqs
    }

    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        _warnings: &mut Warnings,
    ) -> std::result::Result<(), BoxError> {
        self.route(prefix, entry).map_err(SqsError::boxed)
    }

    fn finalize(&mut self, warnings: &mut Warnings) -> std::result::Result<(), BoxError> {
        self.finish(warnings).map_err(SqsError::boxed)
    }
}
