//! The in-memory decoder this module replaced (git history: the first Redis
//! adapter commit), kept as a test oracle: the bounded-memory decoder must produce
//! the same tree, warnings and errors on every sorted input.
#![allow(dead_code, clippy::all, missing_docs)]

pub use decode::{RedisDecodeOptions as OracleOptions, RedisDecoder as OracleDecoder};

mod ttl {

    use std::collections::HashMap;

    use crate::adapters::redis::error::RedisError;

    /// The Redis type that introduced a user key.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// `!redis|str|`.
        String,
        /// `!redis|hll|`.
        Hll,
        /// `!hs|`.
        Hash,
        /// `!lst|`.
        List,
        /// `!st|`.
        Set,
        /// `!zs|` or `!redis|zset|`.
        ZSet,
        /// `!stream|`.
        Stream,
    }

    #[derive(Debug, Clone, Copy)]
    struct KeyInfo {
        kind: Kind,
        /// A string or HLL of this key used the magic envelope, whose header is the
        /// authority on TTL: scan-index rows for the key are redundant. Kept across kind
        /// changes, as Go keeps it in a separate set.
        simple_ttl_inline: bool,
    }

    /// The latest type registered for every user key.
    ///
    /// Strings and HLLs register on every row, collections when their state is first
    /// created; a key used by several types (corrupt, but possible) ends up with the one
    /// registered last, exactly as in Go.
    #[derive(Debug, Default)]
    pub struct KeyIndex {
        keys: HashMap<Vec<u8>, KeyInfo>,
    }

    impl KeyIndex {
        /// Registers `kind` for `user_key`.
        pub fn register(&mut self, user_key: &[u8], kind: Kind) {
            match self.keys.get_mut(user_key) {
                Some(info) => info.kind = kind,
                None => {
                    self.keys.insert(
                        user_key.to_vec(),
                        KeyInfo {
                            kind,
                            simple_ttl_inline: false,
                        },
                    );
                }
            }
        }

        /// Marks a registered key as owning its TTL through a string/HLL envelope.
        pub fn mark_simple_ttl_inline(&mut self, user_key: &[u8]) {
            if let Some(info) = self.keys.get_mut(user_key) {
                info.simple_ttl_inline = true;
            }
        }

        /// The kind of `user_key` and whether a string/HLL envelope owns its TTL.
        pub fn lookup(&self, user_key: &[u8]) -> Option<(Kind, bool)> {
            self.keys
                .get(user_key)
                .map(|info| (info.kind, info.simple_ttl_inline))
        }
    }

    /// Bytes charged per parked TTL on top of the key: the 8-byte expiry.
    const ENTRY_OVERHEAD: usize = 8;

    /// Default byte budget of the pending buffer (1 GiB, as in Go).
    pub const DEFAULT_PENDING_TTL_BYTES_CAP: usize = 1 << 30;

    /// TTL rows waiting for their key's first typed row.
    ///
    /// The budget is in bytes (key length + 8 per entry) because keys can be 1 MiB each;
    /// exceeding it is fatal rather than silently dropping an expiry. A budget of 0 turns
    /// buffering off: every such TTL is counted as an orphan.
    #[derive(Debug)]
    pub struct PendingTtls {
        parked: HashMap<Vec<u8>, u64>,
        bytes: usize,
        cap: usize,
        /// TTLs counted as orphans immediately (buffering off).
        orphaned: usize,
        /// TTLs refused because the budget was exhausted.
        overflow: usize,
    }

    /// What is left at the end, for the `redis_orphan_ttl` warning.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OrphanReport {
        /// TTLs whose key never appeared as a typed row.
        pub count: usize,
        /// TTLs refused by the budget.
        pub overflow: usize,
        /// The budget.
        pub cap: usize,
    }

    impl PendingTtls {
        /// An empty buffer with a budget of `cap` bytes.
        pub fn new(cap: usize) -> Self {
            PendingTtls {
                parked: HashMap::new(),
                bytes: 0,
                cap,
                orphaned: 0,
                overflow: 0,
            }
        }

        /// Parks the TTL of a key not seen yet. A repeated key overwrites in place
        /// without being charged again.
        pub fn park(&mut self, user_key: &[u8], ms: u64) -> Result<(), RedisError> {
            if self.cap == 0 {
                self.orphaned += 1;
                return Ok(());
            }
            if let Some(slot) = self.parked.get_mut(user_key) {
                *slot = ms;
                return Ok(());
            }
            let cost = user_key.len().saturating_add(ENTRY_OVERHEAD);
            if self.bytes.saturating_add(cost) > self.cap {
                self.overflow += 1;
                return Err(RedisError::PendingTtlBufferFull {
                    cap: self.cap,
                    in_flight: self.bytes,
                    user_key_len: user_key.len(),
                });
            }
            self.parked.insert(user_key.to_vec(), ms);
            self.bytes += cost;
            Ok(())
        }

        /// Takes the parked TTL of `user_key`, freeing its budget.
        pub fn claim(&mut self, user_key: &[u8]) -> Option<u64> {
            let ms = self.parked.remove(user_key)?;
            self.bytes -= user_key.len() + ENTRY_OVERHEAD;
            Some(ms)
        }

        /// The orphan report, or `None` when there is nothing to warn about.
        pub fn report(&self) -> Option<OrphanReport> {
            let count = self.orphaned + self.parked.len();
            (count > 0 || self.overflow > 0).then_some(OrphanReport {
                count,
                overflow: self.overflow,
                cap: self.cap,
            })
        }
    }
}

mod collections {

    use std::collections::{BTreeMap, BTreeSet};

    use crate::adapter::Warnings;
    use crate::tree::bsv::Bsv;
    use crate::tree::json::{Style, to_vec};

    use crate::adapters::redis::docs::{
        FORMAT_VERSION, HashDoc, ListDoc, NameValue, Score, SetDoc, StreamEntryLine,
        StreamMetaLine, ZSetDoc, ZSetMember,
    };
    use crate::adapters::redis::keys::StreamId;

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
            let doc: HashDoc<Vec<_>> = HashDoc {
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
            let doc: ListDoc<Vec<_>> = ListDoc {
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
            let doc: SetDoc<Vec<_>> = SetDoc {
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
            let doc: ZSetDoc<Vec<_>> = ZSetDoc {
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
}

mod decode {

    use std::path::Path;

    use crate::adapter::{AdapterDecoder, Warnings};
    use crate::container::EntryRef;
    use crate::dispatch::{Adapter, Family, Prefix};
    use crate::error::BoxError;

    use super::collections::{
        Buffered, Collection, Expiry, HashState, ListState, SetState, StreamHead, StreamState,
        ZSetState,
    };
    use super::ttl::{DEFAULT_PENDING_TTL_BYTES_CAP, KeyIndex, Kind, PendingTtls};
    use crate::adapters::redis::error::{Fault, RedisError, Result, escape_key};
    use crate::adapters::redis::keys::{self, KeyError};
    use crate::adapters::redis::output::{DbWriter, TtlSidecar};
    use crate::adapters::redis::proto;
    use crate::adapters::redis::values::{self, SimpleType};

    /// Knobs of the Redis decoder.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RedisDecodeOptions {
        /// Byte budget for TTL rows parked until their key shows up (key length + 8 per
        /// row). Exceeding it fails the decode; 0 counts such rows as orphans instead.
        pub pending_ttl_bytes_cap: usize,
    }

    impl Default for RedisDecodeOptions {
        fn default() -> Self {
            RedisDecodeOptions {
                pending_ttl_bytes_cap: DEFAULT_PENDING_TTL_BYTES_CAP,
            }
        }
    }

    /// The Redis side of a decode: writes `<out_root>/redis/db_0/`.
    #[derive(Debug)]
    pub struct RedisDecoder {
        out: DbWriter,
        keys: KeyIndex,
        pending: PendingTtls,
        hashes: Buffered<HashState>,
        lists: Buffered<ListState>,
        sets: Buffered<SetState>,
        zsets: Buffered<ZSetState>,
        streams: Buffered<StreamState>,
    }

    impl RedisDecoder {
        /// A decoder writing under `out_root` (nothing is created until needed).
        pub fn new(out_root: &Path, options: RedisDecodeOptions) -> Self {
            RedisDecoder {
                out: DbWriter::new(out_root, 0),
                keys: KeyIndex::default(),
                pending: PendingTtls::new(options.pending_ttl_bytes_cap),
                hashes: Buffered::default(),
                lists: Buffered::default(),
                sets: Buffered::default(),
                zsets: Buffered::default(),
                streams: Buffered::default(),
            }
        }

        fn route(&mut self, family: Family, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
            let key = entry.user_key;
            let value = entry.body;
            match family {
                Family::RedisString => self.simple(rest, key, value, SimpleType::String),
                Family::RedisHll => self.simple(rest, key, value, SimpleType::Hll),
                Family::RedisTtl => self.ttl(rest, key, value),
                Family::HashMeta => self.hash_meta(rest, key, value),
                Family::HashField => self.hash_field(rest, key, value),
                Family::ListMeta => self.list_meta(rest, key, value),
                Family::ListItem => self.list_item(rest, key, value),
                Family::SetMeta => self.set_meta(rest, key, value),
                Family::SetMember => self.set_member(rest, key),
                Family::ZSetMeta => self.zset_meta(rest, key, value),
                Family::ZSetMember => self.zset_member(rest, key, value),
                Family::RedisZSetLegacy => self.zset_legacy(rest, key, value),
                Family::StreamMeta => self.stream_meta(rest, key, value),
                Family::StreamEntry => self.stream_entry(rest, key, value),
                // Deltas, list claims and the score index are derived data: the element
                // rows are the source of truth.
                Family::HashMetaDelta
                | Family::ListMetaDelta
                | Family::ListClaim
                | Family::SetMetaDelta
                | Family::ZSetMetaDelta
                | Family::ZSetScore => Ok(()),
                // Not a Redis family; the driver never routes one here.
                _ => Ok(()),
            }
        }

        // --- strings, HLLs, TTL rows -------------------------------------------------

        /// Writes a string/HLL blob now, with its inline TTL (if any) as a sidecar line.
        fn simple(
            &mut self,
            user_key: &[u8],
            key: &[u8],
            value: &[u8],
            ty: SimpleType,
        ) -> Result<()> {
            let (kind, fault, dir, sidecar) = match ty {
                SimpleType::String => (
                    Kind::String,
                    Fault::StringValue,
                    "strings",
                    TtlSidecar::Strings,
                ),
                SimpleType::Hll => (Kind::Hll, Fault::HllValue, "hll", TtlSidecar::Hll),
            };
            self.keys.register(user_key, kind);
            let parsed =
                values::parse_simple(value, ty).map_err(|d| RedisError::decode(fault, key, d))?;
            self.out.write_blob(dir, user_key, parsed.body)?;
            if parsed.new_format {
                self.keys.mark_simple_ttl_inline(user_key);
            }
            if parsed.expire_at_ms != 0 {
                self.out
                    .append_ttl(sidecar, user_key, parsed.expire_at_ms)?;
            }
            Ok(())
        }

        /// Routes a scan-index TTL by the kind of its key (see [`super::ttl`]).
        fn ttl(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let ms = values::parse_ttl(value)
                .map_err(|d| RedisError::decode(Fault::TtlValue, key, d))?;
            let Some((kind, simple_inline)) = self.keys.lookup(user_key) else {
                return self.pending.park(user_key, ms);
            };
            let expiry = match kind {
                Kind::String | Kind::Hll if simple_inline => return Ok(()),
                Kind::String => return self.out.append_ttl(TtlSidecar::Strings, user_key, ms),
                Kind::Hll => return self.out.append_ttl(TtlSidecar::Hll, user_key, ms),
                Kind::Hash => self.hashes.get_mut(user_key).map(|s| &mut s.expiry),
                Kind::List => self.lists.get_mut(user_key).map(|s| &mut s.expiry),
                Kind::Set => self.sets.get_mut(user_key).map(|s| &mut s.expiry),
                Kind::ZSet => self.zsets.get_mut(user_key).map(|s| &mut s.expiry),
                Kind::Stream => self.streams.get_mut(user_key).map(|s| &mut s.expiry),
            };
            // A collection kind is only registered together with its state.
            if let Some(expiry) = expiry {
                expiry.apply_scan_index(ms);
            }
            Ok(())
        }

        // --- per-key state creation ---------------------------------------------------
        //
        // Creating a state registers the key's kind; sets, zsets and streams (whose rows
        // sort after `!redis|ttl|`) also claim a parked TTL. Hashes and lists sort before
        // it, so they never have one.

        fn with_hash<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut HashState) -> R) -> R {
            let keys = &mut self.keys;
            let create = || {
                keys.register(user_key, Kind::Hash);
                HashState::default()
            };
            self.hashes.upsert(user_key, create, apply)
        }

        fn with_list<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut ListState) -> R) -> R {
            let keys = &mut self.keys;
            let create = || {
                keys.register(user_key, Kind::List);
                ListState::default()
            };
            self.lists.upsert(user_key, create, apply)
        }

        fn with_set<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut SetState) -> R) -> R {
            let (keys, pending) = (&mut self.keys, &mut self.pending);
            let create = || {
                keys.register(user_key, Kind::Set);
                let expiry = Expiry::claimed(pending.claim(user_key));
                SetState {
                    expiry,
                    ..SetState::default()
                }
            };
            self.sets.upsert(user_key, create, apply)
        }

        fn with_zset<R>(&mut self, user_key: &[u8], apply: impl FnOnce(&mut ZSetState) -> R) -> R {
            let (keys, pending) = (&mut self.keys, &mut self.pending);
            let create = || {
                keys.register(user_key, Kind::ZSet);
                let expiry = Expiry::claimed(pending.claim(user_key));
                ZSetState {
                    expiry,
                    ..ZSetState::default()
                }
            };
            self.zsets.upsert(user_key, create, apply)
        }

        fn with_stream<R>(
            &mut self,
            user_key: &[u8],
            apply: impl FnOnce(&mut StreamState) -> R,
        ) -> R {
            let (keys, pending) = (&mut self.keys, &mut self.pending);
            let create = || {
                keys.register(user_key, Kind::Stream);
                let expiry = Expiry::claimed(pending.claim(user_key));
                StreamState {
                    expiry,
                    ..StreamState::default()
                }
            };
            self.streams.upsert(user_key, create, apply)
        }

        // --- hashes, lists, sets ------------------------------------------------------

        fn hash_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, _) = split_wide(rest, key, Fault::HashKey)?;
            let meta = values::parse_count_meta(value)
                .map_err(|d| RedisError::decode(Fault::HashMeta, key, d))?;
            self.with_hash(user_key, |state| {
                state.declared = Some(meta.len);
                state.expiry.apply_meta(meta.inline_ttl);
            });
            Ok(())
        }

        fn hash_field(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, field) = split_wide(rest, key, Fault::HashKey)?;
            self.with_hash(user_key, |state| {
                state.fields.insert(field.to_vec(), value.to_vec())
            });
            Ok(())
        }

        fn list_meta(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let meta = values::parse_list_meta(value)
                .map_err(|d| RedisError::decode(Fault::ListMeta, key, d))?;
            self.with_list(user_key, |state| {
                state.declared = Some(meta.len);
                state.expiry.apply_meta(meta.inline_ttl);
            });
            Ok(())
        }

        fn list_item(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, seq) =
                keys::split_list_item(rest).map_err(|e| key_error(Fault::ListKey, key, e))?;
            self.with_list(user_key, |state| state.items.insert(seq, value.to_vec()));
            Ok(())
        }

        fn set_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, _) = split_wide(rest, key, Fault::SetKey)?;
            let meta = values::parse_count_meta(value)
                .map_err(|d| RedisError::decode(Fault::SetMeta, key, d))?;
            self.with_set(user_key, |state| {
                state.declared = Some(meta.len);
                state.expiry.apply_meta(meta.inline_ttl);
            });
            Ok(())
        }

        /// The value of a set member row is empty by design and ignored.
        fn set_member(&mut self, rest: &[u8], key: &[u8]) -> Result<()> {
            let (user_key, member) = split_wide(rest, key, Fault::SetKey)?;
            self.with_set(user_key, |state| state.members.insert(member.to_vec()));
            Ok(())
        }

        // --- zsets --------------------------------------------------------------------

        fn zset_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, _) = split_wide(rest, key, Fault::ZSetKey)?;
            let meta = values::parse_count_meta(value)
                .map_err(|d| RedisError::decode(Fault::ZSetMeta, key, d))?;
            // A meta row alone does not make the zset "wide": the live read path still
            // serves the legacy blob until a member row exists.
            self.with_zset(user_key, |state| {
                state.declared = Some(meta.len);
                state.expiry.apply_meta(meta.inline_ttl);
            });
            Ok(())
        }

        fn zset_member(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, member) = split_wide(rest, key, Fault::ZSetKey)?;
            let score = values::parse_zset_score(value)
                .map_err(|d| RedisError::decode(Fault::ZSetMember, key, d))?;
            self.with_zset(user_key, |state| state.add_wide_member(member, score));
            Ok(())
        }

        fn zset_legacy(&mut self, user_key: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let blob = proto::parse_zset_blob(value)
                .map_err(|e| RedisError::decode(Fault::ZSetLegacyBlob, key, e.to_string()))?;
            if let Some(nan) = blob.iter().find(|m| m.score.is_nan()) {
                let detail = format!("NaN score for member {}", escape_key(nan.member.as_bytes()));
                return Err(RedisError::decode(Fault::ZSetLegacyBlob, key, detail));
            }
            let members = blob.into_iter().map(|m| (m.member.into_bytes(), m.score));
            self.with_zset(user_key, |state| state.add_legacy_members(members));
            Ok(())
        }

        // --- streams ------------------------------------------------------------------

        fn stream_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, _) = split_wide(rest, key, Fault::StreamKey)?;
            let meta = values::parse_stream_meta(value)
                .map_err(|d| RedisError::decode(Fault::StreamMeta, key, d))?;
            self.with_stream(user_key, |state| {
                state.head = Some(StreamHead {
                    length: meta.meta.len,
                    last: meta.last,
                });
                state.expiry.apply_meta(meta.meta.inline_ttl);
            });
            Ok(())
        }

        fn stream_entry(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
            let (user_key, id) =
                keys::split_stream_entry(rest).map_err(|e| key_error(Fault::StreamKey, key, e))?;
            let fields = proto::parse_stream_entry(value)
                .map_err(|e| RedisError::decode(Fault::StreamEntry, key, e.to_string()))?;
            self.with_stream(user_key, |state| state.entries.push((id, fields)));
            Ok(())
        }

        // --- finalize -----------------------------------------------------------------

        /// Writes every buffered collection, closes the sidecars and reports orphan TTLs.
        /// Every step runs even after a failure; the first error is returned.
        fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
            let results = [
                flush(&mut self.hashes, &mut self.out, warnings),
                flush(&mut self.lists, &mut self.out, warnings),
                flush(&mut self.sets, &mut self.out, warnings),
                flush(&mut self.zsets, &mut self.out, warnings),
                flush(&mut self.streams, &mut self.out, warnings),
                self.out.close(),
            ];
            self.warn_orphan_ttls(warnings);
            results.into_iter().collect()
        }

        fn warn_orphan_ttls(&self, warnings: &mut Warnings) {
            let Some(report) = self.pending.report() else {
                return;
            };
            let mut fields = vec![
                ("count", report.count.to_string()),
                (
                    "hint",
                    "TTL rows name keys that no typed row introduced; the store may be damaged \
                     or hold a type this tool does not know"
                        .to_owned(),
                ),
            ];
            if report.overflow > 0 {
                fields.push(("pending_ttl_buffer_overflow", report.overflow.to_string()));
                fields.push(("pending_ttl_buffer_bytes_cap", report.cap.to_string()));
            }
            warnings.push("redis_orphan_ttl", fields);
        }
    }

    impl AdapterDecoder for RedisDecoder {
        fn adapter(&self) -> Adapter {
            Adapter::Redis
        }

        fn handle(
            &mut self,
            prefix: &'static Prefix,
            entry: &EntryRef<'_>,
            _warnings: &mut Warnings,
        ) -> std::result::Result<(), BoxError> {
            let rest = prefix.rest(entry.user_key);
            self.route(prefix.family, rest, entry)
                .map_err(RedisError::boxed)
        }

        fn finalize(&mut self, warnings: &mut Warnings) -> std::result::Result<(), BoxError> {
            self.finish(warnings).map_err(RedisError::boxed)
        }
    }

    /// Writes one type's buffered collections: the directory only if there is at least
    /// one, then each key in byte order. Stops at the first failure of the type.
    fn flush<C: Collection>(
        buffer: &mut Buffered<C>,
        out: &mut DbWriter,
        warnings: &mut Warnings,
    ) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        out.ensure_type_dir(C::DIR)?;
        for (user_key, state) in buffer.drain_sorted() {
            if let Some(body) = state.finish(user_key.len(), warnings) {
                let path = out.collection_path(C::DIR, C::EXT, &user_key)?;
                crate::tree::publish::write_file_atomic(&path, &body)
                    .map_err(|e| crate::adapters::redis::output::tree_error(&path, e))?;
            }
        }
        Ok(())
    }

    fn key_error(fault: Fault, key: &[u8], err: KeyError) -> RedisError {
        RedisError::decode(fault, key, err.to_string())
    }

    /// `L4(user_key) ‖ tail` of a wide-column row. Meta rows ignore the tail, as Go does.
    fn split_wide<'k>(rest: &'k [u8], key: &[u8], fault: Fault) -> Result<(&'k [u8], &'k [u8])> {
        keys::split_len_prefixed(rest).map_err(|e| key_error(fault, key, e))
    }
}
