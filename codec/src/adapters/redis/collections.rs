//! Hashes, lists, sets, zsets and streams: spilled while the snapshot is read,
//! written one user key at a time at finalize.
//!
//! A collection's rows are spread over the snapshot (hash fields sort before their
//! meta row, TTL rows before sets), so nothing can be written before the end. Instead
//! of buffering, every row becomes one record of an external sort keyed
//!
//! ```text
//! type ‖ key(user key) ‖ section ‖ rest
//! ```
//!
//! with `key()` the order-preserving form of [`super::spill::push_key`]. The sorted
//! stream then visits the types in flush order (hashes, lists, sets, zsets, streams),
//! each type's user keys in raw byte order, and for one key first its *head* (meta
//! rows and TTLs, by arrival) and then its elements in the order of the file:
//!
//! | type   | element `rest`                        | value          |
//! |--------|---------------------------------------|----------------|
//! | hash   | field name                            | field value    |
//! | list   | sortable sequence number (8 bytes)    | item           |
//! | set    | member                                | empty          |
//! | zset   | member (section 1: wide, 2: legacy)   | BE64 score bits|
//! | stream | BE64 ms ‖ BE64 seq                    | entry protobuf |
//!
//! Finalize replays one key's head into a small state (declared length, expiry,
//! stream meta), then streams the elements straight into the published file, so
//! memory does not grow with the size of a collection either.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Error as _, Serialize, SerializeSeq, Serializer};

use crate::adapter::Warnings;
use crate::tree::bsv::BsvInline;
use crate::tree::fs::FsError;
use crate::tree::json::{Style, to_writer};
use crate::tree::writer::TreeFile;

use super::docs::{
    FORMAT_VERSION, HashDoc, ListDoc, NameValue, Score, SetDoc, StreamEntryLine, StreamMetaLine,
    ZSetDoc, ZSetMember,
};
use super::error::{RedisError, Result};
use super::keys::StreamId;
use super::output::{DbWriter, tree_error};
use super::proto;
use super::spill::{Cursor, Scratch, Spill, be64, corrupt, push_key};
use super::values::{Meta, StreamMeta};

/// The five collection types, in flush order (their tag is the first sort-key byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `hashes/<key>.json`.
    Hash,
    /// `lists/<key>.json`.
    List,
    /// `sets/<key>.json`.
    Set,
    /// `zsets/<key>.json`.
    ZSet,
    /// `streams/<key>.jsonl`.
    Stream,
}

impl Type {
    const ALL: [Type; 5] = [Type::Hash, Type::List, Type::Set, Type::ZSet, Type::Stream];

    /// The sort-key tag; ascending in flush order.
    pub fn tag(self) -> u8 {
        match self {
            Type::Hash => 1,
            Type::List => 2,
            Type::Set => 3,
            Type::ZSet => 4,
            Type::Stream => 5,
        }
    }

    /// The type of a tag.
    pub fn from_tag(tag: u8) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.tag() == tag)
    }

    fn index(self) -> usize {
        usize::from(self.tag() - 1)
    }

    fn dir(self) -> &'static str {
        match self {
            Type::Hash => "hashes",
            Type::List => "lists",
            Type::Set => "sets",
            Type::ZSet => "zsets",
            Type::Stream => "streams",
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Type::Stream => ".jsonl",
            _ => ".json",
        }
    }

    /// `(event, observed field, hint)` of the length-mismatch warning.
    fn mismatch(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Type::Hash => (
                "redis_hash_length_mismatch",
                "observed_fields",
                "the hash meta row declares a different field count than the !hs|fld| rows found",
            ),
            Type::List => (
                "redis_list_length_mismatch",
                "observed_items",
                "the list meta row declares a different length than the !lst|itm| rows found",
            ),
            Type::Set => (
                "redis_set_length_mismatch",
                "observed_members",
                "the set meta row declares a different member count than the !st|mem| rows found",
            ),
            Type::ZSet => (
                "redis_zset_length_mismatch",
                "observed_members",
                "the zset meta row declares a different member count than the !zs|mem| rows found",
            ),
            Type::Stream => (
                "redis_stream_length_mismatch",
                "observed_entries",
                "the stream meta row declares a different length than the !stream|entry| rows found",
            ),
        }
    }
}

/// Section of a key's records: meta rows and TTLs first, then the elements.
const HEAD: u8 = 0;
/// Elements (for zsets: `!zs|mem|` rows).
const ELEMENT: u8 = 1;
/// Members of a legacy `!redis|zset|` blob, used only when no `!zs|mem|` row exists.
const LEGACY: u8 = 2;

/// Head records, applied in arrival order (the sort key carries the arrival number).
const HEAD_META: u8 = 1;
const HEAD_STREAM_META: u8 = 2;
const HEAD_SCAN_TTL: u8 = 3;
const HEAD_CLAIMED_TTL: u8 = 4;
/// The key exists (a legacy zset blob, possibly empty); changes nothing else.
const HEAD_EXISTS: u8 = 5;

/// What a collection knows about its expiry.
///
/// A TTL can come from three places: inline in the meta row (authoritative: the meta
/// then "owns" the TTL, even when it says 0 = none), a `!redis|ttl|` scan-index row
/// (ignored for owned keys), or a scan-index row parked before the key's first row
/// was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiry {
    ms: u64,
    set: bool,
    owned_by_meta: bool,
}

impl Expiry {
    /// A TTL claimed from the pending buffer when the state was created.
    pub fn claimed(ms: Option<u64>) -> Self {
        Expiry {
            ms: ms.unwrap_or(0),
            set: ms.is_some(),
            owned_by_meta: false,
        }
    }

    /// Applies a meta row's inline TTL, if the row has one.
    pub fn apply_meta(&mut self, inline_ttl: Option<u64>) {
        if let Some(ms) = inline_ttl {
            *self = Expiry {
                ms,
                set: ms != 0,
                owned_by_meta: true,
            };
        }
    }

    /// Applies a `!redis|ttl|` row unless the meta row owns the TTL.
    pub fn apply_scan_index(&mut self, ms: u64) {
        if !self.owned_by_meta {
            self.ms = ms;
            self.set = true;
        }
    }

    /// The `expire_at_ms` value to write (`null` when unset; may be `0`).
    pub fn rendered(&self) -> Option<u64> {
        self.set.then_some(self.ms)
    }
}

/// What a stream meta row declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHead {
    /// Declared length.
    pub length: i64,
    /// Last issued ID.
    pub last: StreamId,
}

/// Every collection row of the snapshot, in scratch until [`Collections::flush`].
#[derive(Debug)]
pub struct Collections {
    spill: Spill,
    key: Vec<u8>,
    value: Vec<u8>,
}

fn push_inline(out: &mut Vec<u8>, inline_ttl: Option<u64>) {
    out.push(u8::from(inline_ttl.is_some()));
    out.extend_from_slice(&inline_ttl.unwrap_or(0).to_be_bytes());
}

impl Collections {
    /// Nothing buffered yet; spills to `scratch_dir` beyond `memory_budget` bytes.
    pub fn new(scratch: &Scratch, memory_budget: usize) -> Self {
        Collections {
            spill: Spill::new(scratch, memory_budget),
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    fn begin(&mut self, ty: Type, user_key: &[u8], section: u8) {
        self.key.clear();
        self.key.push(ty.tag());
        push_key(&mut self.key, user_key);
        self.key.push(section);
    }

    /// Pushes the head record in `self.value`, ordered by `seq`.
    fn push_head(&mut self, ty: Type, user_key: &[u8], seq: u64) -> Result<()> {
        self.begin(ty, user_key, HEAD);
        self.key.extend_from_slice(&seq.to_be_bytes());
        self.spill.push(&self.key, &self.value)
    }

    /// A hash/list/set/zset meta row (the `seq`-th Redis row of the snapshot).
    pub fn meta(&mut self, ty: Type, user_key: &[u8], seq: u64, meta: Meta) -> Result<()> {
        self.value.clear();
        self.value.push(HEAD_META);
        self.value
            .extend_from_slice(&(meta.len as u64).to_be_bytes());
        push_inline(&mut self.value, meta.inline_ttl);
        self.push_head(ty, user_key, seq)
    }

    /// A stream meta row.
    pub fn stream_meta(&mut self, user_key: &[u8], seq: u64, meta: StreamMeta) -> Result<()> {
        self.value.clear();
        self.value.push(HEAD_STREAM_META);
        for field in [meta.meta.len as u64, meta.last.ms, meta.last.seq] {
            self.value.extend_from_slice(&field.to_be_bytes());
        }
        push_inline(&mut self.value, meta.meta.inline_ttl);
        self.push_head(Type::Stream, user_key, seq)
    }

    /// A `!redis|ttl|` row routed to an existing hash or list.
    pub fn scan_ttl(&mut self, ty: Type, user_key: &[u8], seq: u64, ms: u64) -> Result<()> {
        self.value.clear();
        self.value.push(HEAD_SCAN_TTL);
        self.value.extend_from_slice(&ms.to_be_bytes());
        self.push_head(ty, user_key, seq)
    }

    /// A parked TTL claimed by the set, zset or stream created first for the key:
    /// it applies before every row of the key (arrival number 0).
    pub fn claimed_ttl(&mut self, ty: Type, user_key: &[u8], ms: u64) -> Result<()> {
        self.value.clear();
        self.value.push(HEAD_CLAIMED_TTL);
        self.value.extend_from_slice(&ms.to_be_bytes());
        self.push_head(ty, user_key, 0)
    }

    /// Makes `user_key` exist as a `ty` even if no element or meta row follows.
    pub fn touch(&mut self, ty: Type, user_key: &[u8], seq: u64) -> Result<()> {
        self.value.clear();
        self.value.push(HEAD_EXISTS);
        self.push_head(ty, user_key, seq)
    }

    /// An element (see the module table for `rest` and `value`).
    pub fn element(&mut self, ty: Type, user_key: &[u8], rest: &[u8], value: &[u8]) -> Result<()> {
        self.begin(ty, user_key, ELEMENT);
        self.key.extend_from_slice(rest);
        self.spill.push(&self.key, value)
    }

    /// A member of a legacy zset blob (distinct members per key: the caller keeps
    /// the blob's last score of a repeated member).
    pub fn legacy_member(&mut self, user_key: &[u8], member: &[u8], score: f64) -> Result<()> {
        self.begin(Type::ZSet, user_key, LEGACY);
        self.key.extend_from_slice(member);
        self.spill.push(&self.key, &score.to_be_bytes())
    }

    /// Writes every collection: per type (in flush order) the directory if the type
    /// has at least one key, then each key's file in key order. A failure stops its
    /// type only; the first failure is returned. Scratch read errors stop everything.
    /// Runs once: what is pushed afterwards is never written.
    pub fn flush(&mut self, out: &mut DbWriter, warnings: &mut Warnings) -> Result<()> {
        let spill = self.spill.take();
        if spill.is_empty() {
            return Ok(());
        }
        let mut cursor = spill.finish()?;
        let mut failed: [Option<RedisError>; 5] = Default::default();
        let mut current_type = None;
        let mut user_key = Vec::new();
        let mut prefix = Vec::new();
        loop {
            let Some(len) = cursor.group(1, &mut user_key)? else {
                break;
            };
            let Some((key, _)) = cursor.current() else {
                break;
            };
            let ty = key
                .first()
                .and_then(|&tag| Type::from_tag(tag))
                .ok_or_else(|| cursor.error(corrupt("unknown collection type")))?;
            prefix.clear();
            prefix.extend_from_slice(&key[..len]);
            let slot = &mut failed[ty.index()];
            if current_type != Some(ty) {
                current_type = Some(ty);
                if slot.is_none()
                    && let Err(e) = out.ensure_type_dir(ty.dir())
                {
                    *slot = Some(e);
                }
            }
            if slot.is_some() {
                skip_group(&mut cursor, &prefix)?;
                continue;
            }
            let head = read_head(&mut cursor, &prefix)?;
            let elements = RefCell::new(Elements::new(&mut cursor, &prefix));
            match write_key(ty, &user_key, &head, &elements, out, warnings) {
                Ok(()) => {}
                Err(Failure::Output(e)) => *slot = Some(e),
                Err(Failure::Scratch(e)) => return Err(e),
            }
        }
        failed.into_iter().flatten().next().map_or(Ok(()), Err)
    }
}

/// Advances past every record of the group `prefix`.
fn skip_group(cursor: &mut Cursor, prefix: &[u8]) -> Result<()> {
    while cursor
        .current()
        .is_some_and(|(key, _)| key.starts_with(prefix))
    {
        cursor.advance()?;
    }
    Ok(())
}

/// A key's meta rows and TTLs, replayed in arrival order.
#[derive(Debug, Default)]
struct Head {
    declared: Option<i64>,
    stream: Option<StreamHead>,
    expiry: Expiry,
}

fn inline_at(body: &[u8], at: usize) -> Option<Option<u64>> {
    let flag = *body.get(at)?;
    let ms = be64(body, at + 1)?;
    Some((flag != 0).then_some(ms))
}

impl Head {
    fn apply(&mut self, value: &[u8]) -> Option<()> {
        let (&kind, body) = value.split_first()?;
        match kind {
            HEAD_META => {
                self.declared = Some(be64(body, 0)? as i64);
                self.expiry.apply_meta(inline_at(body, 8)?);
            }
            HEAD_STREAM_META => {
                self.stream = Some(StreamHead {
                    length: be64(body, 0)? as i64,
                    last: StreamId {
                        ms: be64(body, 8)?,
                        seq: be64(body, 16)?,
                    },
                });
                self.expiry.apply_meta(inline_at(body, 24)?);
            }
            HEAD_SCAN_TTL => self.expiry.apply_scan_index(be64(body, 0)?),
            HEAD_CLAIMED_TTL => self.expiry = Expiry::claimed(Some(be64(body, 0)?)),
            HEAD_EXISTS => {}
            _ => return None,
        }
        Some(())
    }
}

fn read_head(cursor: &mut Cursor, prefix: &[u8]) -> Result<Head> {
    let mut head = Head::default();
    while let Some((key, value)) = cursor.current() {
        if !key.starts_with(prefix) || key.get(prefix.len()) != Some(&HEAD) {
            break;
        }
        head.apply(value)
            .ok_or_else(|| cursor.error(corrupt("malformed meta/TTL record")))?;
        cursor.advance()?;
    }
    Ok(head)
}

/// The elements of one key, pulled from the sorted stream in file order.
struct Elements<'c> {
    cursor: &'c mut Cursor,
    prefix: &'c [u8],
    /// The cursor is on a record already handed out (advance before the next).
    started: bool,
    done: bool,
    /// A `!zs|mem|` element was handed out: legacy blob members no longer count.
    wide: bool,
    /// Elements handed out.
    count: u64,
    /// A scratch error met while a serializer pulled elements.
    scratch_error: Option<RedisError>,
}

enum Step {
    Take,
    Skip,
    End,
    Corrupt,
}

impl<'c> Elements<'c> {
    fn new(cursor: &'c mut Cursor, prefix: &'c [u8]) -> Self {
        Elements {
            cursor,
            prefix,
            started: false,
            done: false,
            wide: false,
            count: 0,
            scratch_error: None,
        }
    }

    /// The next element as `(rest of sort key, value)`.
    fn next(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        if self.done {
            return Ok(None);
        }
        if self.started {
            self.cursor.advance()?;
        }
        self.started = true;
        loop {
            let step = match self.cursor.current() {
                Some((key, _)) if key.starts_with(self.prefix) => {
                    match key.get(self.prefix.len()) {
                        Some(&ELEMENT) => Step::Take,
                        Some(&LEGACY) if !self.wide => Step::Take,
                        Some(&LEGACY) | Some(&HEAD) => Step::Skip,
                        _ => Step::Corrupt,
                    }
                }
                _ => Step::End,
            };
            match step {
                Step::Take => break,
                Step::Skip => self.cursor.advance()?,
                Step::End => {
                    self.done = true;
                    return Ok(None);
                }
                Step::Corrupt => {
                    return Err(self.cursor.error(corrupt("unknown record section")));
                }
            }
        }
        self.count += 1;
        let Some((key, value)) = self.cursor.current() else {
            return Ok(None);
        };
        let section = self.prefix.len();
        if key.get(section) == Some(&ELEMENT) {
            self.wide = true;
        }
        Ok(Some((&key[section + 1..], value)))
    }

    /// Reads the remaining elements (counting them).
    fn drain(&mut self) -> Result<()> {
        while self.next()?.is_some() {}
        Ok(())
    }
}

/// Why one key's file was not written.
enum Failure {
    /// Writing the tree failed: the key's type stops, the others go on.
    Output(RedisError),
    /// Reading scratch failed: nothing more can be trusted.
    Scratch(RedisError),
}

/// Errors while a collection document is written.
enum WriteError {
    /// Creating or publishing the file.
    Fs(FsError),
    /// Writing its bytes.
    Io(io::Error),
    /// Reading the elements back.
    Scratch(RedisError),
}

impl From<FsError> for WriteError {
    fn from(err: FsError) -> Self {
        WriteError::Fs(err)
    }
}

impl From<io::Error> for WriteError {
    fn from(err: io::Error) -> Self {
        WriteError::Io(err)
    }
}

impl From<serde_json::Error> for WriteError {
    fn from(err: serde_json::Error) -> Self {
        WriteError::Io(io::Error::from(err))
    }
}

/// A JSON array whose elements are pulled from scratch while it is serialized.
struct Pulled<'e, 'c> {
    elements: &'e RefCell<Elements<'c>>,
    ty: Type,
}

impl Serialize for Pulled<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut elements = self.elements.try_borrow_mut().map_err(S::Error::custom)?;
        let mut seq = serializer.serialize_seq(None)?;
        loop {
            let (rest, value) = match elements.next() {
                Ok(Some(element)) => element,
                Ok(None) => break,
                Err(e) => {
                    let message = e.to_string();
                    elements.scratch_error = Some(e);
                    return Err(S::Error::custom(message));
                }
            };
            match self.ty {
                Type::Hash => seq.serialize_element(&NameValue {
                    name: BsvInline(rest),
                    value: BsvInline(value),
                })?,
                Type::List => seq.serialize_element(&BsvInline(value))?,
                Type::Set => seq.serialize_element(&BsvInline(rest))?,
                Type::ZSet => {
                    let bits: [u8; 8] = value
                        .try_into()
                        .map_err(|_| S::Error::custom("zset score record is not 8 bytes"))?;
                    seq.serialize_element(&ZSetMember {
                        member: BsvInline(rest),
                        score: Score(f64::from_be_bytes(bits)),
                    })?;
                }
                Type::Stream => return Err(S::Error::custom("streams are not JSON arrays")),
            }
        }
        seq.end()
    }
}

fn borrow<'a, 'c>(
    elements: &'a RefCell<Elements<'c>>,
) -> std::result::Result<std::cell::RefMut<'a, Elements<'c>>, Failure> {
    elements.try_borrow_mut().map_err(|e| {
        Failure::Scratch(RedisError::io(
            "read",
            Path::new("scratch"),
            io::Error::other(e),
        ))
    })
}

/// Renders one key's file (or, for a stream without meta, nothing), then raises the
/// key's warnings: counts are only known once the elements went by.
fn write_key(
    ty: Type,
    user_key: &[u8],
    head: &Head,
    elements: &RefCell<Elements<'_>>,
    out: &mut DbWriter,
    warnings: &mut Warnings,
) -> std::result::Result<(), Failure> {
    let declared = match (ty, head.stream) {
        (Type::Stream, None) => {
            let mut elements = borrow(elements)?;
            elements.drain().map_err(Failure::Scratch)?;
            warn_orphan_stream(user_key.len(), elements.count, warnings);
            return Ok(());
        }
        (Type::Stream, Some(stream)) => Some(stream.length),
        _ => head.declared,
    };
    let written = publish(ty, user_key, head, elements, out);
    if let Err(Failure::Scratch(e)) = written {
        return Err(Failure::Scratch(e));
    }
    // Go raises the warning before it writes: after a failed write, count the rest.
    let mut elements = borrow(elements)?;
    elements.drain().map_err(Failure::Scratch)?;
    if let Some(declared) = declared.filter(|&d| i64::try_from(elements.count) != Ok(d)) {
        warn_length_mismatch(ty, user_key.len(), declared, elements.count, warnings);
    }
    written
}

fn publish(
    ty: Type,
    user_key: &[u8],
    head: &Head,
    elements: &RefCell<Elements<'_>>,
    out: &mut DbWriter,
) -> std::result::Result<(), Failure> {
    let mut file = out
        .create_collection(ty.dir(), ty.ext(), user_key)
        .map_err(Failure::Output)?;
    let path = file.path();
    let result = render(ty, head, elements, &mut file).and_then(|()| Ok(file.finish()?));
    let stashed = borrow(elements)?.scratch_error.take();
    match (result, stashed) {
        (Ok(()), _) => Ok(()),
        (Err(WriteError::Scratch(e)), _) | (Err(_), Some(e)) => Err(Failure::Scratch(e)),
        (Err(WriteError::Fs(e)), None) => Err(Failure::Output(tree_error(&path, e))),
        (Err(WriteError::Io(e)), None) => {
            Err(Failure::Output(tree_error(&path, FsError::io(&path, e))))
        }
    }
}

fn render(
    ty: Type,
    head: &Head,
    elements: &RefCell<Elements<'_>>,
    w: &mut TreeFile,
) -> std::result::Result<(), WriteError> {
    let expire_at_ms = head.expiry.rendered();
    let items = Pulled { elements, ty };
    // The elements are `BsvInline`s, which need an HTML-escaping style.
    let style = Style::MARSHAL_INDENT;
    match (ty, head.stream) {
        (Type::Hash, _) => to_writer(
            w,
            &HashDoc {
                format_version: FORMAT_VERSION,
                fields: items,
                expire_at_ms,
            },
            style,
        )?,
        (Type::List, _) => to_writer(
            w,
            &ListDoc {
                format_version: FORMAT_VERSION,
                items,
                expire_at_ms,
            },
            style,
        )?,
        (Type::Set, _) => to_writer(
            w,
            &SetDoc {
                format_version: FORMAT_VERSION,
                members: items,
                expire_at_ms,
            },
            style,
        )?,
        (Type::ZSet, _) => to_writer(
            w,
            &ZSetDoc {
                format_version: FORMAT_VERSION,
                members: items,
                expire_at_ms,
            },
            style,
        )?,
        (Type::Stream, Some(stream)) => render_stream(stream, expire_at_ms, elements, w)?,
        // `write_key` never publishes a stream without meta.
        (Type::Stream, None) => {}
    }
    Ok(())
}

fn render_stream(
    stream: StreamHead,
    expire_at_ms: Option<u64>,
    elements: &RefCell<Elements<'_>>,
    w: &mut TreeFile,
) -> std::result::Result<(), WriteError> {
    let mut elements = elements
        .try_borrow_mut()
        .map_err(|e| WriteError::Io(io::Error::other(e)))?;
    loop {
        let next = elements.next().map_err(WriteError::Scratch)?;
        let Some((rest, value)) = next else {
            break;
        };
        let id = match (be64(rest, 0), be64(rest, 8)) {
            (Some(ms), Some(seq)) if rest.len() == 16 => StreamId { ms, seq },
            _ => return Err(scratch_corrupt(elements.cursor, "stream entry ID")),
        };
        let Ok(fields) = proto::parse_stream_entry(value) else {
            return Err(scratch_corrupt(elements.cursor, "stream entry"));
        };
        let line = StreamEntryLine {
            id: id.to_string(),
            fields: fields
                .chunks_exact(2)
                .map(|pair| NameValue {
                    name: BsvInline(pair[0].as_bytes()),
                    value: BsvInline(pair[1].as_bytes()),
                })
                .collect(),
        };
        write_line(w, &line)?;
    }
    let meta = StreamMetaLine {
        meta: true,
        length: stream.length,
        last_ms: stream.last.ms,
        last_seq: stream.last.seq,
        expire_at_ms,
    };
    write_line(w, &meta)?;
    Ok(())
}

fn scratch_corrupt(cursor: &Cursor, what: &str) -> WriteError {
    WriteError::Scratch(cursor.error(corrupt(what)))
}

/// A compact `json.Marshal` line and its newline.
fn write_line<T: Serialize>(w: &mut TreeFile, value: &T) -> io::Result<()> {
    to_writer(&mut *w, value, Style::MARSHAL).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

fn warn_length_mismatch(
    ty: Type,
    user_key_len: usize,
    declared: i64,
    observed: u64,
    warnings: &mut Warnings,
) {
    let (event, observed_name, hint) = ty.mismatch();
    warnings.push(
        event,
        vec![
            ("user_key_len", user_key_len.to_string()),
            ("declared_len", declared.to_string()),
            (observed_name, observed.to_string()),
            ("hint", hint.to_owned()),
        ],
    );
}

fn warn_orphan_stream(user_key_len: usize, observed: u64, warnings: &mut Warnings) {
    warnings.push(
        "redis_stream_orphan_entries_without_meta",
        vec![
            ("user_key_len", user_key_len.to_string()),
            ("observed_entries", observed.to_string()),
            (
                "hint",
                "stream entries have no !stream|meta| row; a live node would not \
                 serve this stream, so no file is written for it"
                    .to_owned(),
            ),
        ],
    );
}
