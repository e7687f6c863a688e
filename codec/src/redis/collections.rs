//! Per-key state of the five collection types while a snapshot is decoded, and how
//! each one is rendered at the end.
//!
//! A collection's rows are spread over the snapshot (hash fields sort before their
//! meta row, TTL rows before sets), so every type is buffered until finalize, as in
//! Go. All buffering goes through [`Buffered`], whose small interface (look up,
//! insert, drain in key order) is what a later spill-to-disk version has to provide.

use std::collections::{BTreeMap, BTreeSet};

use crate::decode::Warnings;
use crate::tree::bsv::Bsv;
use crate::tree::json::{Style, to_vec};

use super::docs::{
    FORMAT_VERSION, HashDoc, ListDoc, NameValue, Score, SetDoc, StreamEntryLine, StreamMetaLine,
    ZSetDoc, ZSetMember,
};
use super::keys::StreamId;

/// Collections of one type, keyed by user key, drained in byte order of the key.
#[derive(Debug)]
pub struct Buffered<S> {
    states: BTreeMap<Vec<u8>, S>,
}

impl<S> Default for Buffered<S> {
    fn default() -> Self {
        Buffered {
            states: BTreeMap::new(),
        }
    }
}

impl<S> Buffered<S> {
    /// The state of `user_key`, if it has one.
    pub fn get_mut(&mut self, user_key: &[u8]) -> Option<&mut S> {
        self.states.get_mut(user_key)
    }

    /// Applies `apply` to the state of `user_key`, creating it with `create` first
    /// if the key has none yet.
    pub fn upsert<R>(
        &mut self,
        user_key: &[u8],
        create: impl FnOnce() -> S,
        apply: impl FnOnce(&mut S) -> R,
    ) -> R {
        if let Some(state) = self.states.get_mut(user_key) {
            return apply(state);
        }
        let mut state = create();
        let result = apply(&mut state);
        self.states.insert(user_key.to_vec(), state);
        result
    }

    /// Whether nothing was buffered (then not even the type directory is created).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Every state in ascending user-key byte order.
    pub fn drain_sorted(&mut self) -> impl Iterator<Item = (Vec<u8>, S)> {
        std::mem::take(&mut self.states).into_iter()
    }
}

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

/// A collection type: its directory, file extension and rendering.
pub trait Collection {
    /// Directory under `db_0/`.
    const DIR: &'static str;
    /// File-name extension.
    const EXT: &'static str;

    /// Raises the type's consistency warnings, then renders the file body; `None`
    /// means no file is written for this key.
    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>>;
}

/// Declared length from a meta row, if one was seen.
pub type Declared = Option<i64>;

fn warn_length_mismatch(
    warnings: &mut Warnings,
    event: &'static str,
    observed_name: &'static str,
    (user_key_len, declared, observed): (usize, i64, usize),
    hint: &str,
) {
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

/// Warns when a meta row was seen and its count differs from the rows observed.
fn check_declared(
    declared: Declared,
    observed: usize,
    user_key_len: usize,
    warnings: &mut Warnings,
    (event, observed_name, hint): (&'static str, &'static str, &str),
) {
    if let Some(declared) = declared.filter(|&d| i64::try_from(observed) != Ok(d)) {
        warn_length_mismatch(
            warnings,
            event,
            observed_name,
            (user_key_len, declared, observed),
            hint,
        );
    }
}

/// A hash: fields by name.
#[derive(Debug, Default)]
pub struct HashState {
    /// Count from the meta row.
    pub declared: Declared,
    /// Field name → value.
    pub fields: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Expiry.
    pub expiry: Expiry,
}

impl Collection for HashState {
    const DIR: &'static str = "hashes";
    const EXT: &'static str = ".json";

    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>> {
        check_declared(
            self.declared,
            self.fields.len(),
            user_key_len,
            warnings,
            (
                "redis_hash_length_mismatch",
                "observed_fields",
                "the hash meta row declares a different field count than the !hs|fld| rows found",
            ),
        );
        let doc = HashDoc {
            format_version: FORMAT_VERSION,
            fields: self
                .fields
                .iter()
                .map(|(name, value)| NameValue {
                    name: Bsv(name),
                    value: Bsv(value),
                })
                .collect(),
            expire_at_ms: self.expiry.rendered(),
        };
        Some(to_vec(&doc, Style::MARSHAL_INDENT))
    }
}

/// A list: items by signed sequence number (left to right).
#[derive(Debug, Default)]
pub struct ListState {
    /// Len from the meta row.
    pub declared: Declared,
    /// Sequence → item.
    pub items: BTreeMap<i64, Vec<u8>>,
    /// Expiry.
    pub expiry: Expiry,
}

impl Collection for ListState {
    const DIR: &'static str = "lists";
    const EXT: &'static str = ".json";

    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>> {
        check_declared(
            self.declared,
            self.items.len(),
            user_key_len,
            warnings,
            (
                "redis_list_length_mismatch",
                "observed_items",
                "the list meta row declares a different length than the !lst|itm| rows found",
            ),
        );
        let doc = ListDoc {
            format_version: FORMAT_VERSION,
            items: self.items.values().map(|item| Bsv(item)).collect(),
            expire_at_ms: self.expiry.rendered(),
        };
        Some(to_vec(&doc, Style::MARSHAL_INDENT))
    }
}

/// A set: distinct members.
#[derive(Debug, Default)]
pub struct SetState {
    /// Count from the meta row.
    pub declared: Declared,
    /// Members.
    pub members: BTreeSet<Vec<u8>>,
    /// Expiry.
    pub expiry: Expiry,
}

impl Collection for SetState {
    const DIR: &'static str = "sets";
    const EXT: &'static str = ".json";

    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>> {
        check_declared(
            self.declared,
            self.members.len(),
            user_key_len,
            warnings,
            (
                "redis_set_length_mismatch",
                "observed_members",
                "the set meta row declares a different member count than the !st|mem| rows found",
            ),
        );
        let doc = SetDoc {
            format_version: FORMAT_VERSION,
            members: self.members.iter().map(|m| Bsv(m)).collect(),
            expire_at_ms: self.expiry.rendered(),
        };
        Some(to_vec(&doc, Style::MARSHAL_INDENT))
    }
}

/// A sorted set: member → score, from wide rows or a legacy blob.
#[derive(Debug, Default)]
pub struct ZSetState {
    /// Count from the meta row.
    pub declared: Declared,
    /// Member → score.
    pub members: BTreeMap<Vec<u8>, f64>,
    /// Whether a `!zs|mem|` row was seen. Wide rows are authoritative: the first one
    /// discards members taken from a legacy blob, and later blobs are ignored, which
    /// is how the live read path chooses between the two layouts.
    pub wide: bool,
    /// Expiry.
    pub expiry: Expiry,
}

impl ZSetState {
    /// Records a wide member row.
    pub fn add_wide_member(&mut self, member: &[u8], score: f64) {
        if !self.wide {
            self.wide = true;
            self.members.clear();
        }
        self.members.insert(member.to_vec(), score);
    }

    /// Merges a legacy blob unless wide rows already won.
    pub fn add_legacy_members(&mut self, members: impl IntoIterator<Item = (Vec<u8>, f64)>) {
        if !self.wide {
            self.members.extend(members);
        }
    }
}

impl Collection for ZSetState {
    const DIR: &'static str = "zsets";
    const EXT: &'static str = ".json";

    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>> {
        check_declared(
            self.declared,
            self.members.len(),
            user_key_len,
            warnings,
            (
                "redis_zset_length_mismatch",
                "observed_members",
                "the zset meta row declares a different member count than the !zs|mem| rows found",
            ),
        );
        let doc = ZSetDoc {
            format_version: FORMAT_VERSION,
            members: self
                .members
                .iter()
                .map(|(member, &score)| ZSetMember {
                    member: Bsv(member),
                    score: Score(score),
                })
                .collect(),
            expire_at_ms: self.expiry.rendered(),
        };
        Some(to_vec(&doc, Style::MARSHAL_INDENT))
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

/// A stream: meta plus entries.
#[derive(Debug, Default)]
pub struct StreamState {
    /// The meta row, if seen. Without one the live read path treats the stream as
    /// absent, so no file is written.
    pub head: Option<StreamHead>,
    /// Entries with their interleaved field strings.
    pub entries: Vec<(StreamId, Vec<String>)>,
    /// Expiry.
    pub expiry: Expiry,
}

impl Collection for StreamState {
    const DIR: &'static str = "streams";
    const EXT: &'static str = ".jsonl";

    fn finish(&self, user_key_len: usize, warnings: &mut Warnings) -> Option<Vec<u8>> {
        let Some(head) = self.head else {
            warnings.push(
                "redis_stream_orphan_entries_without_meta",
                vec![
                    ("user_key_len", user_key_len.to_string()),
                    ("observed_entries", self.entries.len().to_string()),
                    (
                        "hint",
                        "stream entries have no !stream|meta| row; a live node would not \
                         serve this stream, so no file is written for it"
                            .to_owned(),
                    ),
                ],
            );
            return None;
        };
        check_declared(
            Some(head.length),
            self.entries.len(),
            user_key_len,
            warnings,
            (
                "redis_stream_length_mismatch",
                "observed_entries",
                "the stream meta row declares a different length than the !stream|entry| rows found",
            ),
        );
        Some(self.render(head))
    }
}

impl StreamState {
    fn render(&self, head: StreamHead) -> Vec<u8> {
        let mut order: Vec<&(StreamId, Vec<String>)> = self.entries.iter().collect();
        order.sort_by_key(|(id, _)| *id);
        let mut out = Vec::new();
        for (id, fields) in order {
            let line = StreamEntryLine {
                id: id.to_string(),
                fields: fields
                    .chunks_exact(2)
                    .map(|pair| NameValue {
                        name: Bsv(pair[0].as_bytes()),
                        value: Bsv(pair[1].as_bytes()),
                    })
                    .collect(),
            };
            out.extend_from_slice(&to_vec(&line, Style::MARSHAL));
            out.push(b'\n');
        }
        let meta = StreamMetaLine {
            meta: true,
            length: head.length,
            last_ms: head.last.ms,
            last_seq: head.last.seq,
            expire_at_ms: self.expiry.rendered(),
        };
        out.extend_from_slice(&to_vec(&meta, Style::MARSHAL));
        out.push(b'\n');
        out
    }
}
