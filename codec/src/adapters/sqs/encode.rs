//! `sqs/` → snapshot records (docs/format.md §6.5).
//!
//! Each queue directory holds `_queue.json` (validated against the HT-FIFO rules)
//! and optionally `messages.jsonl`, read one record at a time: every record yields
//! its data, vis and byage rows at once, so memory does not grow with the number of
//! messages. The one rule that needs all of a queue's messages, "the latest send per
//! dedup tuple wins", goes through an external sort keyed by the dedup row's key.
//! Go's error precedence is kept: a record that does not parse fails the queue
//! before any partition gate, and a gate before a missing message id.
//!
//! A tree decoded with `--preserve-sqs-visibility` or `--include-sqs-side-records`
//! (as its manifest says) is restored faithfully instead of refused ([`super::faithful`]):
//! generations and receive state kept, side records written back verbatim.

use std::cell::RefCell;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, SortOptions};
use crate::tree::bsv::encode_base64url;
use crate::tree::fs::{FsError, FsErrorKind, open_regular_for_read};
use crate::tree::gojson_reader::{JsonReader, JsonSource, ReaderSource};

use super::docs::{
    ReceiveState, render_dedup_record, render_stored_message, render_stored_queue_meta,
};
use super::error::{PartitionGate, Result, SqsError};
use super::faithful::{Generations, SideRecordsOf, SqsEncodeModes};
use super::keys::{self, Layout, RESTORE_GENERATION};
use super::values::{self, Dialect, Message, QueueMeta};

/// The most partitions an HT-FIFO queue may have.
pub const MAX_PARTITIONS: u32 = 32;
const PER_QUEUE: &str = "perQueue";
const PER_MESSAGE_GROUP_ID: &str = "perMessageGroupId";
const SCOPE_MESSAGE_GROUP: &str = "messageGroup";
const SCOPE_QUEUE: &str = "queue";

/// The SQS side of an encode.
#[derive(Debug, Clone, Default)]
pub struct SqsEncoder {
    sort: SortOptions,
    /// `None`: as the tree's `MANIFEST.json` says (Go's path without one).
    modes: Option<SqsEncodeModes>,
}

impl SqsEncoder {
    /// An encoder whose dedup sort uses `sort`, restoring as the tree's manifest says.
    pub fn with_sort(sort: &SortOptions) -> Self {
        SqsEncoder {
            sort: sort.clone(),
            modes: None,
        }
    }

    /// An encoder with the given restore modes, whatever the manifest says.
    pub fn with_modes(sort: &SortOptions, modes: SqsEncodeModes) -> Self {
        SqsEncoder {
            sort: sort.clone(),
            modes: Some(modes),
        }
    }

    fn encode_tree(&self, root: &Path, sink: &mut dyn EntrySink) -> Result<()> {
        if !dump_dir_exists(root)? {
            return Ok(());
        }
        let modes = match self.modes {
            Some(modes) => modes,
            None => SqsEncodeModes::read_beside(root)?,
        };
        let mut queues = Vec::new();
        for entry in fs::read_dir(root).map_err(|e| SqsError::io("list", root, e))? {
            let entry = entry.map_err(|e| SqsError::io("list", root, e))?;
            let ty = entry
                .file_type()
                .map_err(|e| SqsError::io("stat", entry.path(), e))?;
            if ty.is_dir() {
                queues.push(entry.file_name());
            }
        }
        // Go lists a directory sorted by name.
        queues.sort();
        for queue in queues {
            let label = queue.to_string_lossy().into_owned();
            let dir = root.join(&queue);
            match orphan_segment(&dir, &label, modes)? {
                Some(segment) => restore_orphan(&dir, &label, segment, sink)?,
                None => self.encode_queue(&dir, &label, modes, sink)?,
            }
        }
        Ok(())
    }

    fn encode_queue(
        &self,
        dir: &Path,
        label: &str,
        modes: SqsEncodeModes,
        sink: &mut dyn EntrySink,
    ) -> Result<()> {
        let meta = read_queue_meta(dir, label)?;
        let mut queue = QueueEncoder::new(&meta, label, &self.sort, modes);
        let path = dir.join("messages.jsonl");
        if let Some(file) = open_optional(&path)? {
            queue.read_messages(file, &path, sink)?;
        }
        if modes.side_records {
            let queue_b64 = queue.queue_b64.clone();
            SideRecordsOf {
                label,
                queue_b64: queue_b64.as_bytes(),
            }
            .restore(dir, sink, &mut queue.generations)?;
        }
        let generations = queue.finish(sink)?;
        queue_rows(&meta, generations, modes, sink)
    }
}

/// The queue's meta and gen rows: at generation 1 on Go's path, else at the generation
/// its rows name (docs/format.md §6.5, "Faithful restore").
fn queue_rows(
    meta: &QueueMeta,
    generations: Generations,
    modes: SqsEncodeModes,
    sink: &mut dyn EntrySink,
) -> Result<()> {
    let (meta_generation, gen_row) = if modes.faithful() {
        let restored = generations.restored();
        (restored.meta, restored.row)
    } else {
        (RESTORE_GENERATION, Some(RESTORE_GENERATION))
    };
    let name = meta.name.as_bytes();
    add(
        sink,
        &keys::queue_key(keys::QUEUE_META, name),
        &[
            values::QUEUE_META_MAGIC,
            &render_stored_queue_meta(meta, meta_generation),
        ]
        .concat(),
    )?;
    match gen_row {
        Some(generation) => add(
            sink,
            &keys::queue_key(keys::QUEUE_GEN, name),
            generation.to_string().as_bytes(),
        ),
        None => Ok(()),
    }
}

/// The stored queue segment of `sqs/<segment>.orphan/`: the directory the decoder
/// writes the side records of a queue without a meta row to. Only with side records
/// restored, and only without `_queue.json` (a real queue may end in `.orphan`).
fn orphan_segment<'l>(
    dir: &Path,
    label: &'l str,
    modes: SqsEncodeModes,
) -> Result<Option<&'l str>> {
    if !modes.side_records {
        return Ok(None);
    }
    let Some(segment) = label.strip_suffix(".orphan") else {
        return Ok(None);
    };
    let doc = dir.join("_queue.json");
    match fs::symlink_metadata(&doc) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(segment)),
        Err(e) => Err(SqsError::io("stat", doc, e)),
        Ok(_) => Ok(None),
    }
}

/// An orphan directory: its side records go back verbatim (the re-decode finds no
/// meta row for them and writes the same directory); it can hold nothing else the
/// decoder writes.
fn restore_orphan(dir: &Path, label: &str, segment: &str, sink: &mut dyn EntrySink) -> Result<()> {
    let messages = dir.join("messages.jsonl");
    if fs::symlink_metadata(&messages).is_ok() {
        return Err(SqsError::EncodeInvalidQueue {
            queue: label.to_owned(),
            detail: "an orphan directory (no _queue.json) cannot hold messages.jsonl".to_owned(),
        });
    }
    SideRecordsOf {
        label,
        queue_b64: segment.as_bytes(),
    }
    .restore(dir, sink, &mut Generations::default())
}

/// Where the rows of one queue's messages come from while its file is read.
struct QueueEncoder<'q> {
    meta: &'q QueueMeta,
    label: &'q str,
    queue_b64: String,
    partitioned: bool,
    modes: SqsEncodeModes,
    /// Index rows (vis, byage, dedup, seq) are derived from the messages: always but
    /// when the tree's side records are restored instead.
    derive_index: bool,
    dedup: Option<ExternalSorter>,
    max_sequence: u64,
    generations: Generations,
    gate_error: Option<SqsError>,
    missing_id: Option<SqsError>,
    scratch: &'q Path,
}

impl<'q> QueueEncoder<'q> {
    fn new(
        meta: &'q QueueMeta,
        label: &'q str,
        sort: &'q SortOptions,
        modes: SqsEncodeModes,
    ) -> Self {
        let derive_index = !modes.side_records;
        QueueEncoder {
            meta,
            label,
            queue_b64: encode_base64url(meta.name.as_bytes()),
            partitioned: meta.partition_count > 1,
            modes,
            derive_index,
            dedup: (meta.fifo && derive_index).then(|| ExternalSorter::new(sort.clone())),
            max_sequence: 0,
            generations: Generations::default(),
            gate_error: None,
            missing_id: None,
            scratch: &sort.scratch_dir,
        }
    }

    /// Reads the records of `messages.jsonl` (JSON values, as a Go `json.Decoder`
    /// reads them: one after another, until the input ends or a `]`/`}` comes),
    /// each held in memory only while it is turned into rows.
    fn read_messages(
        &mut self,
        file: fs::File,
        path: &Path,
        sink: &mut dyn EntrySink,
    ) -> Result<()> {
        let kept = Kept::default();
        let source = Recording {
            inner: ReaderSource::new(io::BufReader::new(file)),
            kept: Rc::clone(&kept),
        };
        let mut reader = JsonReader::new(source);
        let mut record = 0u64;
        loop {
            let more = match reader.peek_after_whitespace() {
                Ok(next) => !matches!(next, None | Some(b']' | b'}')),
                Err(e) => return Err(self.read_error(record + 1, path, e)),
            };
            if !more {
                return Ok(());
            }
            record += 1;
            let started = reader
                .begin_next_value()
                .map_err(|e| self.read_error(record, path, e))?;
            if !started {
                return Ok(());
            }
            // The source keeps the value's bytes while it is checked, for the
            // parser that keeps attribute values as written.
            *kept.borrow_mut() = Some(Vec::new());
            reader
                .skip_value()
                .map_err(|e| self.read_error(record, path, e))?;
            let text = kept.borrow_mut().take().unwrap_or_default();
            let message = values::parse_message(&text, Dialect::Tree).map_err(|detail| {
                SqsError::EncodeInvalidMessage {
                    queue: self.label.to_owned(),
                    record,
                    detail,
                }
            })?;
            self.message(record, &message, sink)?;
        }
    }

    fn read_error(
        &self,
        record: u64,
        path: &Path,
        e: crate::tree::gojson_reader::JsonReadError,
    ) -> SqsError {
        match e {
            crate::tree::gojson_reader::JsonReadError::Io(io) => SqsError::io("read", path, io),
            other => SqsError::EncodeInvalidMessage {
                queue: self.label.to_owned(),
                record,
                detail: other.to_string(),
            },
        }
    }

    fn message(&mut self, record: u64, m: &Message, sink: &mut dyn EntrySink) -> Result<()> {
        if let Err(e) = self.check_partition(record, m) {
            self.gate_error.get_or_insert(e);
        }
        if m.message_id.is_empty() {
            self.missing_id
                .get_or_insert(SqsError::EncodeInvalidMessage {
                    queue: self.label.to_owned(),
                    record,
                    detail: "message missing message_id".to_owned(),
                });
            return Ok(());
        }
        let faithful = self.modes.faithful();
        let layout = match m.partition {
            _ if self.partitioned => Layout::Partitioned(m.partition.unwrap_or(0)),
            // The decoder writes `partition` exactly when the row had a `p|` key.
            Some(p) if faithful => Layout::Partitioned(p),
            _ => Layout::Classic,
        };
        let generation = if faithful {
            m.queue_generation
        } else {
            RESTORE_GENERATION
        };
        let state = if self.modes.preserve_visibility {
            ReceiveState::Kept
        } else {
            ReceiveState::Reset
        };
        self.generations.message(generation);
        let id = m.message_id.as_bytes();
        let q = &self.queue_b64;
        add(
            sink,
            &keys::data_key_at(q, layout, generation, id),
            &[
                values::MESSAGE_MAGIC,
                &render_stored_message(m, generation, state),
            ]
            .concat(),
        )?;
        if !self.derive_index {
            return Ok(());
        }
        // A received message is next visible at `visible_at_millis` (the live vis
        // row's time); a reset one when it became available.
        let visible = match state {
            ReceiveState::Kept if m.visible_at_millis > 0 => m.visible_at_millis,
            _ => m.available_at_millis,
        };
        add(
            sink,
            &keys::timed_key_at(keys::MSG_VIS, q, layout, generation, visible, id),
            id,
        )?;
        add(
            sink,
            &keys::timed_key_at(
                keys::MSG_BYAGE,
                q,
                layout,
                generation,
                m.send_timestamp_millis,
                id,
            ),
            id,
        )?;
        self.max_sequence = self.max_sequence.max(m.sequence_number);
        self.dedup_candidate(layout, generation, m)
    }

    /// The partition gates of a partitioned queue; a classic queue only refuses a
    /// non-zero partition.
    fn check_partition(&self, record: u64, m: &Message) -> Result<()> {
        let count = self.meta.partition_count;
        let fail = |gate, detail: String| SqsError::Partition {
            gate,
            queue: self.label.to_owned(),
            record,
            detail,
        };
        if count <= 1 {
            return match m.partition {
                Some(p) if p != 0 => Err(SqsError::EncodeInvalidMessage {
                    queue: self.label.to_owned(),
                    record,
                    detail: format!(
                        "field partition: classic queue (partition_count={count}) message {:?} has partition={p}",
                        m.message_id
                    ),
                }),
                _ => Ok(()),
            };
        }
        let Some(p) = m.partition else {
            return Err(fail(
                PartitionGate::Missing,
                format!(
                    "message {:?}: field partition missing (partition_count={count})",
                    m.message_id
                ),
            ));
        };
        if p >= count {
            return Err(fail(
                PartitionGate::OutOfRange,
                format!(
                    "message {:?}: field partition={p} (partition_count={count})",
                    m.message_id
                ),
            ));
        }
        if self.meta.fifo_throughput_limit == PER_QUEUE {
            if p != 0 {
                return Err(fail(
                    PartitionGate::RoutingMismatch,
                    format!("message {:?}: field partition={p}, want 0", m.message_id),
                ));
            }
            return Ok(());
        }
        let want = partition_for_group(self.meta, m.message_group_id.as_bytes());
        if p != want {
            return Err(fail(
                PartitionGate::HashMismatch,
                format!(
                    "message {:?}: field partition={p}, partitionFor({:?})={want}",
                    m.message_id, m.message_group_id
                ),
            ));
        }
        Ok(())
    }

    /// Parks the message's dedup row, sorted so that the winner of its tuple comes
    /// first: latest send, then (classic) the earliest record or (partitioned, where
    /// Go sorts the records first) the lowest (sequence, message id, record).
    fn dedup_candidate(&mut self, layout: Layout, generation: u64, m: &Message) -> Result<()> {
        let Some(sorter) = self.dedup.as_mut() else {
            return Ok(());
        };
        let Some(dedup_id) = dedup_id(self.meta, m) else {
            return Ok(());
        };
        let row_key = keys::dedup_key_at(
            &self.queue_b64,
            layout,
            generation,
            m.message_group_id.as_bytes(),
            &dedup_id,
        );
        let mut sort_key = Vec::with_capacity(row_key.len() + 48);
        push_terminated(&mut sort_key, &row_key);
        // Latest first.
        sort_key
            .extend_from_slice(&(!((m.send_timestamp_millis as u64) ^ (1 << 63))).to_be_bytes());
        if self.partitioned {
            sort_key.extend_from_slice(&m.sequence_number.to_be_bytes());
            push_terminated(&mut sort_key, m.message_id.as_bytes());
        }
        // The arrival number is implied by the record order: append a counter.
        sort_key.extend_from_slice(&sorter.len().to_be_bytes());
        let len = u32::try_from(row_key.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        sorter
            .push_parts(&sort_key, &[&len, &row_key, &render_dedup_record(m)])
            .map_err(|e| SqsError::io("park a dedup row in", self.scratch, e))
    }

    /// Emits the dedup winners and the FIFO sequence row, or the first error held
    /// back for Go's precedence; returns the generations the queue's rows named.
    fn finish(mut self, sink: &mut dyn EntrySink) -> Result<Generations> {
        if let Some(e) = self.gate_error.take().or(self.missing_id.take()) {
            return Err(e);
        }
        if let Some(sorter) = self.dedup.take() {
            let mut records = sorter
                .finish()
                .map_err(|e| SqsError::io("sort dedup rows in", self.scratch, e))?;
            let mut previous: Vec<u8> = Vec::new();
            while let Some((_, value)) = records
                .next()
                .map_err(|e| SqsError::io("read dedup rows in", self.scratch, e))?
            {
                let (len, rest) = value.split_at(4.min(value.len()));
                let len = u32::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
                let (row_key, row) = rest.split_at(len.min(rest.len()));
                if row_key == previous.as_slice() {
                    continue;
                }
                previous.clear();
                previous.extend_from_slice(row_key);
                add(sink, row_key, row)?;
            }
        }
        if self.derive_index && self.meta.fifo && self.max_sequence > 0 {
            add(
                sink,
                &keys::queue_key(keys::QUEUE_SEQ, self.meta.name.as_bytes()),
                self.max_sequence.to_string().as_bytes(),
            )?;
        }
        Ok(self.generations)
    }
}

/// The dedup id of a FIFO message: its own, else (content-based dedup) the hex
/// SHA-256 of its body, else none.
fn dedup_id(meta: &QueueMeta, m: &Message) -> Option<Vec<u8>> {
    if !m.message_deduplication_id.is_empty() {
        return Some(m.message_deduplication_id.as_bytes().to_vec());
    }
    meta.content_based_deduplication
        .then(|| hex::encode(Sha256::digest(&m.body)).into_bytes())
}

/// The partition a message group routes to: FNV-1a-32 of the group id masked by
/// `partition_count - 1` (0 for a classic or perQueue queue and the empty group).
pub fn partition_for_group(meta: &QueueMeta, group: &[u8]) -> u32 {
    if meta.partition_count <= 1 || meta.fifo_throughput_limit == PER_QUEUE || group.is_empty() {
        return 0;
    }
    fnv1a32(group) & (meta.partition_count - 1)
}

/// FNV-1a, 32 bits.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(2_166_136_261u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

/// `_queue.json`: one JSON value, `format_version` 1, a name, and the HT-FIFO rules.
fn read_queue_meta(dir: &Path, label: &str) -> Result<QueueMeta> {
    let path = dir.join("_queue.json");
    let mut file = open_dump_file(&path)?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| SqsError::io("read", &path, e))?;
    let invalid = |detail: String| SqsError::EncodeInvalidQueue {
        queue: label.to_owned(),
        detail,
    };
    let (meta, version) = parse_one_queue_doc(&text).map_err(invalid)?;
    validate_queue_meta(&meta, version).map_err(invalid)?;
    if meta.name.is_empty() {
        return Err(invalid("empty queue name".to_owned()));
    }
    Ok(meta)
}

/// One JSON value and nothing after it but white space (or a closing bracket, which
/// Go's `Decoder.More` does not see as more data).
fn parse_one_queue_doc(text: &[u8]) -> std::result::Result<(QueueMeta, u32), String> {
    let (_, end) = crate::tree::gojson_reader::parse_prefix(text).map_err(|e| e.to_string())?;
    let rest = &text[end..];
    let next = rest
        .iter()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
    if !matches!(next, None | Some(b']' | b'}')) {
        return Err("trailing data after JSON value".to_owned());
    }
    values::parse_queue_meta(&text[..end], Dialect::Tree)
}

/// The `_queue.json` rules of §6.5, with Go's messages.
pub fn validate_queue_meta(m: &QueueMeta, format_version: u32) -> std::result::Result<(), String> {
    if format_version != 1 {
        return Err(format!("unsupported format_version {format_version}"));
    }
    if !matches!(
        m.fifo_throughput_limit.as_str(),
        "" | PER_MESSAGE_GROUP_ID | PER_QUEUE
    ) {
        return Err(format!(
            "field fifo_throughput_limit: unsupported {:?}",
            m.fifo_throughput_limit
        ));
    }
    if !matches!(
        m.deduplication_scope.as_str(),
        "" | SCOPE_MESSAGE_GROUP | SCOPE_QUEUE
    ) {
        return Err(format!(
            "field deduplication_scope: unsupported {:?}",
            m.deduplication_scope
        ));
    }
    let count = m.partition_count;
    if count != 0 && !count.is_power_of_two() {
        return Err(format!(
            "field partition_count: {count} must be a power of two"
        ));
    }
    if count > MAX_PARTITIONS {
        return Err(format!(
            "field partition_count: {count} exceeds max {MAX_PARTITIONS}"
        ));
    }
    if !m.fifo {
        if count > 1 {
            return Err(format!(
                "field partition_count: {count} is only valid on FIFO queues"
            ));
        }
        if !m.fifo_throughput_limit.is_empty() {
            return Err(format!(
                "field fifo_throughput_limit: {:?} is only valid on FIFO queues",
                m.fifo_throughput_limit
            ));
        }
        if !m.deduplication_scope.is_empty() {
            return Err(format!(
                "field deduplication_scope: {:?} is only valid on FIFO queues",
                m.deduplication_scope
            ));
        }
        return Ok(());
    }
    if count > 1 && m.deduplication_scope == SCOPE_QUEUE {
        return Err(format!(
            "field deduplication_scope: {SCOPE_QUEUE:?} is incompatible with partition_count {count}"
        ));
    }
    if m.fifo_throughput_limit == PER_MESSAGE_GROUP_ID && count <= 1 {
        return Err(format!(
            "field fifo_throughput_limit: {PER_MESSAGE_GROUP_ID:?} requires partition_count > 1"
        ));
    }
    Ok(())
}

fn add(sink: &mut dyn EntrySink, key: &[u8], value: &[u8]) -> Result<()> {
    sink.add(key, value).map_err(SqsError::inner)
}

/// `Ok(false)` when the directory (`sqs`, a queue's `_internals`) does not exist;
/// refused when it is a symlink or not a directory.
pub(super) fn dump_dir_exists(path: &Path) -> Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(SqsError::io("stat", path, e)),
    };
    let ty = meta.file_type();
    if !ty.is_dir() {
        return Err(SqsError::EncodeNotDir {
            path: path.to_path_buf(),
            kind: if ty.is_symlink() {
                "a symlink"
            } else {
                "not a directory"
            },
        });
    }
    Ok(true)
}

/// Opens a dump file: a regular file with one link, opened without following links.
fn open_dump_file(path: &Path) -> Result<fs::File> {
    open_regular_for_read(path).map_err(|e| refusal(path, e))
}

/// Like [`open_dump_file`], `None` when the file does not exist.
pub(super) fn open_optional(path: &Path) -> Result<Option<fs::File>> {
    match fs::symlink_metadata(path) {
        Ok(_) => open_dump_file(path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SqsError::io("stat", path, e)),
    }
}

fn refusal(path: &Path, err: FsError) -> SqsError {
    match err.kind() {
        FsErrorKind::Symlink
        | FsErrorKind::Fifo
        | FsErrorKind::NotRegular
        | FsErrorKind::Replaced => SqsError::EncodeNotRegular {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        FsErrorKind::HardLink => SqsError::EncodeHardLink {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        _ => SqsError::inner(Box::new(err)),
    }
}

/// Bytes that sort as themselves within a longer key (see the decoder's twin).
fn push_terminated(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Where [`Recording`] copies what is consumed while it is `Some`: one record of
/// `messages.jsonl` (shared with the reader's owner, which sets and takes it).
type Kept = Rc<RefCell<Option<Vec<u8>>>>;

/// A source that keeps a copy of the bytes consumed while its [`Kept`] is `Some`.
struct Recording<S> {
    inner: S,
    kept: Kept,
}

impl<S: JsonSource> JsonSource for Recording<S> {
    fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        self.inner.fill(want)
    }

    fn consume(&mut self, n: usize) {
        if let Some(kept) = self.kept.borrow_mut().as_mut() {
            // `fill(0)` never reads: it returns what the last fill buffered.
            if let Ok(buffered) = self.inner.fill(0) {
                kept.extend_from_slice(&buffered[..n.min(buffered.len())]);
            }
        }
        self.inner.consume(n);
    }

    fn offset(&self) -> usize {
        self.inner.offset()
    }
}

impl AdapterEncoder for SqsEncoder {
    fn encode(
        &mut self,
        adapter_root: &Path,
        sink: &mut dyn EntrySink,
    ) -> std::result::Result<(), BoxError> {
        self.encode_tree(adapter_root, sink)
            .map_err(SqsError::boxed)
    }
}
