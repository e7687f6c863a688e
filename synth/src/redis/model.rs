//! The logical model: what a Redis database holds ([`RedisDb`], [`RedisKey`],
//! [`Value`]) and how each key is stored in the live keyspace ([`Layout`] and its
//! forms). Debug forms are compact, since proptest prints a database per failure.

use std::collections::{BTreeMap, BTreeSet};

use elastickv_codec::adapters::redis::keys::StreamId;

/// The seven Redis types of a dump tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `strings/<seg>.bin` (+ `strings_ttl.jsonl`).
    String,
    /// `hll/<seg>.bin` (+ `hll_ttl.jsonl`).
    Hll,
    /// `hashes/<seg>.json`.
    Hash,
    /// `lists/<seg>.json`.
    List,
    /// `sets/<seg>.json`.
    Set,
    /// `zsets/<seg>.json`.
    ZSet,
    /// `streams/<seg>.jsonl`.
    Stream,
}

impl Kind {
    /// Every kind, in [`Mix::weights`](super::Mix::weights) order.
    pub const ALL: [Kind; 7] = [
        Kind::String,
        Kind::Hll,
        Kind::Hash,
        Kind::List,
        Kind::Set,
        Kind::ZSet,
        Kind::Stream,
    ];

    /// The type directory under `redis/db_0/`.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::String => "strings",
            Kind::Hll => "hll",
            Kind::Hash => "hashes",
            Kind::List => "lists",
            Kind::Set => "sets",
            Kind::ZSet => "zsets",
            Kind::Stream => "streams",
        }
    }

    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Kind::String | Kind::Hll => ".bin",
            Kind::Stream => ".jsonl",
            _ => ".json",
        }
    }
}

/// One stream entry: its ID and its name/value pairs in XADD order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// The entry ID (from the store key; the protobuf copy is ignored).
    pub id: StreamId,
    /// Name/value pairs, duplicates allowed (proto3 strings: UTF-8 only).
    pub fields: Vec<(String, String)>,
}

/// A stream: entries ascending by ID, and the last ID ever issued (≥ every entry's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Entries, strictly ascending by ID.
    pub entries: Vec<StreamEntry>,
    /// The meta's last ID.
    pub last: StreamId,
}

/// The logical value of a key: what the dump tree holds.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// String body.
    String(Vec<u8>),
    /// HLL sketch.
    Hll(Vec<u8>),
    /// Field → value.
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Items, left to right.
    List(Vec<Vec<u8>>),
    /// Members.
    Set(BTreeSet<Vec<u8>>),
    /// Member → score (never NaN; ±inf and -0 allowed).
    ZSet(BTreeMap<Vec<u8>, f64>),
    /// Entries and last ID.
    Stream(Stream),
}

impl Value {
    /// The key's type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::String(_) => Kind::String,
            Value::Hll(_) => Kind::Hll,
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
        }
    }

    /// Elements of a collection (1 for strings and HLLs).
    pub fn len(&self) -> usize {
        match self {
            Value::String(_) | Value::Hll(_) => 1,
            Value::Hash(m) => m.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.entries.len(),
        }
    }

    /// Whether a collection has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a hash/set/zset/list meta row is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaForm {
    /// No meta row (the collection still exists through its element rows); the TTL,
    /// if any, is a `!redis|ttl|` row.
    Absent,
    /// 8-byte count (24-byte list meta); the TTL, if any, is a `!redis|ttl|` row.
    Plain,
    /// 16-byte count ‖ expiry (32-byte list meta), expiry 0 when the key has none:
    /// the meta owns the TTL, so `stale_ttl_row` (a `!redis|ttl|` row with its own
    /// value) must be ignored.
    Inline {
        /// A redundant or stale scan-index row.
        stale_ttl_row: Option<u64>,
    },
}

/// Storage of a hash, set or wide zset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountForm {
    /// The meta row.
    pub meta: MetaForm,
    /// `!…|meta|d|` delta rows; the meta then declares `len - deltas` (a length
    /// mismatch is only a warning).
    pub deltas: u8,
}

/// How a key is stored in the live keyspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// Exactly the records the encoder writes for the key (docs/format.md §6.2).
    Canonical,
    /// A string value.
    String(StringForm),
    /// An HLL value.
    Hll(HllForm),
    /// A hash.
    Hash(CountForm),
    /// A set.
    Set(CountForm),
    /// A list.
    List(ListForm),
    /// A zset.
    ZSet(ZSetForm),
    /// A stream.
    Stream(StreamForm),
}

/// Live forms of a string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringForm {
    /// `FF 01 flags [BE64 ms] body` with extra (ignored) flag bits.
    Envelope {
        /// Flag bits other than bit 0.
        noise: u8,
        /// A `!redis|ttl|` row the envelope makes redundant.
        stale_ttl_row: Option<u64>,
    },
    /// `FF 01 (flags|1) 00×8 body`: TTL flag with a zero expiry means "no TTL".
    ZeroExpiry {
        /// Flag bits other than bit 0.
        noise: u8,
        /// A `!redis|ttl|` row the envelope makes redundant.
        stale_ttl_row: Option<u64>,
    },
    /// The raw body (never beginning `FF 01`); the TTL is a `!redis|ttl|` row.
    Legacy,
}

/// Live forms of an HLL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HllForm {
    /// The raw sketch; the TTL is a `!redis|ttl|` row.
    Raw,
    /// `FF 02 flags [BE64 ms] sketch`.
    Envelope {
        /// Flag bits other than bit 0.
        noise: u8,
        /// A `!redis|ttl|` row the envelope makes redundant.
        stale_ttl_row: Option<u64>,
    },
}

/// Live form of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListForm {
    /// The meta row (Head, Tail, Len [, expiry]).
    pub meta: MetaForm,
    /// Sequence number of the first item (LPUSH makes it negative).
    pub head: i64,
    /// `!lst|meta|d|` delta rows.
    pub deltas: u8,
    /// `!lst|claim|` rows.
    pub claims: u8,
}

/// Live forms of a zset.
#[derive(Debug, Clone, PartialEq)]
pub enum ZSetForm {
    /// `!zs|mem|` + `!zs|scr|` rows and a meta.
    Wide(CountForm),
    /// The `\0RZ\x01` blob (UTF-8 members only), optionally with a count meta.
    Legacy {
        /// The meta row (`Absent`: the blob alone; it exists even when empty).
        meta: MetaForm,
        /// Each member is preceded in the blob by an earlier copy with another
        /// score (the last copy wins).
        duplicates: bool,
        /// Zero scores and empty members are written explicitly.
        explicit_defaults: bool,
    },
    /// A stale legacy blob (other members) plus wide rows, which win.
    LegacyThenWide {
        /// The wide layout.
        wide: CountForm,
        /// The stale blob's members.
        stale: Vec<(String, f64)>,
    },
}

/// Live form of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamForm {
    /// The meta row.
    pub meta: StreamMetaForm,
    /// The entries' protobuf `id` strings disagree with their keys (ignored).
    pub wrong_proto_ids: bool,
}

/// The three stream meta widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMetaForm {
    /// 24 bytes; the TTL, if any, is a `!redis|ttl|` row.
    Plain,
    /// 32 bytes (expiry 0 when none).
    Inline {
        /// A `!redis|ttl|` row the inline expiry makes redundant.
        stale_ttl_row: Option<u64>,
    },
    /// 48 bytes: inline expiry and a trim cursor (dropped by the decoder).
    Trim {
        /// A `!redis|ttl|` row the inline expiry makes redundant.
        stale_ttl_row: Option<u64>,
        /// The trim cursor.
        trimmed: StreamId,
    },
}

/// One key of the database.
#[derive(Clone, PartialEq)]
pub struct RedisKey {
    /// The user key.
    pub name: Vec<u8>,
    /// Its value.
    pub value: Value,
    /// The expiry the dump tree shows (`None`: `null` / no sidecar line). Never 0.
    pub ttl: Option<u64>,
    /// The expiry the store holds: differs from `ttl` only where the decoder clamps
    /// to `i64::MAX` (`!redis|ttl|` rows, string/HLL envelopes).
    pub stored_ttl: Option<u64>,
    /// How the key is stored.
    pub layout: Layout,
    /// Commit timestamp of the key's rows (each row a little older or equal).
    pub commit_ts: u64,
    /// Seed of the row-level choices of the live layout.
    pub seed: u64,
}

/// A logical Redis database (db 0). Its `Debug` form is compact (bytes as escaped
/// `b"…"` strings), since proptest prints it for every failure.
#[derive(Clone, PartialEq, Default)]
pub struct RedisDb {
    /// Keys by name; each name has exactly one type.
    pub keys: BTreeMap<Vec<u8>, RedisKey>,
    /// `!redis|ttl|` rows whose key does not exist (expired, deleted): warnings only.
    pub orphan_ttls: Vec<(Vec<u8>, u64)>,
}

/// Bytes shown as an escaped `b"…"` literal.
struct B<'a>(&'a [u8]);

impl std::fmt::Debug for B<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.len() > 96 {
            write!(
                f,
                "b\"{}\"…({} bytes)",
                self.0[..96].escape_ascii(),
                self.0.len()
            )
        } else {
            write!(f, "b\"{}\"", self.0.escape_ascii())
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::String(b) | Value::Hll(b) => write!(f, "{:?}", B(b)),
            Value::Hash(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (B(k), B(v))))
                .finish(),
            Value::List(l) => f.debug_list().entries(l.iter().map(|b| B(b))).finish(),
            Value::Set(s) => f.debug_set().entries(s.iter().map(|b| B(b))).finish(),
            Value::ZSet(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (B(k), v)))
                .finish(),
            Value::Stream(s) => {
                write!(f, "last {} ", s.last)?;
                f.debug_map()
                    .entries(s.entries.iter().map(|e| (e.id.to_string(), &e.fields)))
                    .finish()
            }
        }
    }
}

impl std::fmt::Debug for RedisKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {:?} ttl={:?} stored={:?} ts={} seed={} {:?} = {:?}",
            B(&self.name),
            self.value.kind(),
            self.ttl,
            self.stored_ttl,
            self.commit_ts,
            self.seed,
            self.layout,
            self.value
        )
    }
}

impl std::fmt::Debug for RedisDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "RedisDb {{")?;
        for key in self.keys.values() {
            writeln!(f, "  {key:?}")?;
        }
        for (name, ms) in &self.orphan_ttls {
            writeln!(f, "  orphan TTL row {:?} = {ms}", B(name))?;
        }
        write!(f, "}}")
    }
}
