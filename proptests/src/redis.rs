//! A model of a logical Redis database, its generators, and the snapshot writers
//! that store it the way a live node does (docs/format.md §3.4) or the way the encoder
//! writes it (§6.2).
//!
//! * [`RedisDb`] — keys of seven types ([`Value`]), each with an optional expiry and
//!   a storage [`Layout`]: the same logical key can be stored in many live forms
//!   (legacy raw strings and their `!redis|ttl|` rows, `FF 01`/`FF 02` envelopes with
//!   odd flag bits or a zero expiry, count metas with and without inline TTL or
//!   missing, deltas and list claims, the legacy zset blob alone or shadowed by wide
//!   rows, 24/32/48-byte stream metas, arbitrary list sequence bases …).
//! * [`KeySpec`] — the seed of one key. A key is a pure function of its spec, so the
//!   proptest [`redis_db`] strategy shrinks by dropping keys, lowering their size and
//!   turning their exotic storage off, and the seeded [`generate`] (benches, a
//!   `generate` command) draws specs from a [`Mix`] with the same code.
//! * Writers: [`RedisDb::live_set`] (the live layout, every row a visible version),
//!   [`RedisDb::shadowed_set`] (plus older versions, older tombstones and fully
//!   deleted "ghost" rows, none of which may change the decoded tree) and
//!   [`RedisDb::canonical_set`] (exactly the encoder's records, one commit ts).
//! * Checks and plumbing: [`RedisDb::check_tree`] compares a decoded tree with the
//!   model; [`decode_snapshot`], [`encode_tree`], [`read_tree`] drive the codec.
//!
//! What the model deliberately leaves out, because the live format cannot round-trip
//! it (docs/format.md §3.4, §6.7): a legacy string body beginning `FF 01` or an HLL sketch
//! beginning `FF 02` (misread as an envelope), `!redis|ttl|` rows holding 0 (decode
//! as `expire_at_ms: 0`, re-encode as "no TTL"), list keys beginning `d|` (their meta
//! row routes to the delta family), invalid UTF-8 in stream fields and legacy zset
//! members (proto3 strings), NaN scores, and stream metas whose length differs from
//! the entry count.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use elastickv_codec::adapter::{AdapterDecoder, Warnings};
use elastickv_codec::adapters::redis::docs::{self, StreamLine};
use elastickv_codec::adapters::redis::keys::{self, StreamId};
use elastickv_codec::adapters::redis::{RedisDecodeOptions, RedisDecoder, proto, values};
use elastickv_codec::assemble::{self, EncodeError};
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::scan::{self, DecodeError, Scan, ScanOptions};
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_codec::tree::keymap::{KIND_SHA_FALLBACK, read_keymap};
use elastickv_codec::tree::segment::{encode_segment, is_sha_fallback};
use elastickv_codec::tree::{gojson, gojson_reader};
#[cfg(feature = "strategies")]
use proptest::collection::vec;
#[cfg(feature = "strategies")]
use proptest::prelude::*;

use crate::model::{Entry, EntrySet};

// =====================================================================================
// Randomness
// =====================================================================================

/// A tiny seeded generator (SplitMix64): every key is a pure function of its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below((hi - lo).saturating_add(1))
    }

    /// `true` with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (non-empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

// =====================================================================================
// The logical model
// =====================================================================================

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
    /// Every kind, in [`Mix::weights`] order.
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

// =====================================================================================
// Generation
// =====================================================================================

/// The seed of one key: everything about the key is a function of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Seed of the name, value, TTL and layout choices.
    pub seed: u64,
    /// The type.
    pub kind: Kind,
    /// Size knob: most elements of a collection, scale of body lengths.
    pub size: u8,
    /// Stored in a non-canonical live form (else exactly as the encoder writes it).
    pub exotic: bool,
}

/// A distribution of keys for [`generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Relative weight of each kind, in [`Kind::ALL`] order.
    pub weights: [u32; 7],
    /// Largest [`KeySpec::size`].
    pub max_size: u8,
    /// Percent of keys stored in a non-canonical live form.
    pub exotic_percent: u8,
}

impl Mix {
    /// Every type about equally, half the keys exotic: the property-test mix.
    pub const DEFAULT: Mix = Mix {
        weights: [3, 1, 2, 2, 2, 2, 2],
        max_size: 6,
        exotic_percent: 50,
    };

    /// A cache-like database: mostly strings and hashes, small collections, few
    /// unusual forms.
    pub const BENCH: Mix = Mix {
        weights: [40, 4, 20, 10, 10, 10, 6],
        max_size: 8,
        exotic_percent: 10,
    };

    fn kind(&self, rng: &mut Rng) -> Kind {
        let total: u64 = self.weights.iter().map(|&w| u64::from(w)).sum();
        let mut pick = rng.below(total.max(1));
        for (kind, &w) in Kind::ALL.iter().zip(&self.weights) {
            if pick < u64::from(w) {
                return *kind;
            }
            pick -= u64::from(w);
        }
        Kind::String
    }

    /// The spec of the `index`-th key of a database drawn with `seed`.
    pub fn spec(&self, seed: u64, index: u64) -> KeySpec {
        let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let kind = self.kind(&mut rng);
        KeySpec {
            seed: rng.next_u64(),
            kind,
            size: rng.below(u64::from(self.max_size) + 1) as u8,
            exotic: rng.chance(u64::from(self.exotic_percent)),
        }
    }
}

/// A database of exactly `keys` keys drawn from `mix` with `seed`: deterministic,
/// for benches and the `generate` command. Roughly one key in 20 gets an orphan TTL
/// row next to it.
pub fn generate(keys: usize, mix: &Mix, seed: u64) -> RedisDb {
    let mut specs = Vec::with_capacity(keys);
    let mut names = BTreeSet::new();
    let mut index = 0u64;
    while specs.len() < keys {
        let spec = mix.spec(seed, index);
        index += 1;
        // Names are random; the rare repeat (short or empty names) is skipped so the
        // database has exactly `keys` keys.
        if names.insert(spec.materialize().name) {
            specs.push(spec);
        }
    }
    RedisDb::from_specs(&specs, (keys / 20).min(255) as u8, seed)
}

/// A proptest strategy for one key spec.
#[cfg(feature = "strategies")]
pub fn key_spec() -> impl Strategy<Value = KeySpec> {
    let kind = prop_oneof![
        Just(Kind::String),
        Just(Kind::Hll),
        Just(Kind::Hash),
        Just(Kind::List),
        Just(Kind::Set),
        Just(Kind::ZSet),
        Just(Kind::Stream),
    ];
    (
        any::<u64>(),
        kind,
        0u8..=Mix::DEFAULT.max_size,
        any::<bool>(),
    )
        .prop_map(|(seed, kind, size, exotic)| KeySpec {
            seed,
            kind,
            size,
            exotic,
        })
}

/// A proptest strategy for databases of up to `max_keys` keys. Shrinks by dropping
/// keys, then making each one smaller and canonical.
#[cfg(feature = "strategies")]
pub fn redis_db(max_keys: usize) -> impl Strategy<Value = RedisDb> {
    (vec(key_spec(), 0..=max_keys), 0u8..3, any::<u64>())
        .prop_map(|(specs, orphans, seed)| RedisDb::from_specs(&specs, orphans, seed))
}

/// Bytes that make JSON and file names interesting.
const PALETTE: &[char] = &[
    'a', 'Z', '0', ' ', '/', '%', '<', '>', '&', '"', '\\', '\n', '\t', '\u{1}', '\u{7f}', 'é',
    '日', '\u{2028}', '\u{2029}', '\u{fffd}', '😀', '.', '-', '_', '~', '|', ':',
];

const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._";

const WORDS: &[&str] = &[
    "user", "session", "cart", "rate", "feed", "idx", "q", "lock", "k", "Key",
];

/// Scores whose Go formatting (or parsing) is easy to get wrong.
const TRICKY_SCORES: &[f64] = &[
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1.0,
    -1.5,
    0.1,
    0.30000000000000004,
    1.0 / 3.0,
    1e20,
    1e21,
    123456789012345680000.0,
    1e-6,
    1e-7,
    0.000001234,
    5e-324,
    2.2250738585072014e-308,
    f64::MAX,
    f64::MIN,
    9007199254740993.0,
    4503599627370497.5,
    1e300,
    -1e-300,
    100.0,
    123456789.0,
    1.7976931348623157e308,
];

fn utf8_string(rng: &mut Rng, max_chars: u64) -> String {
    let n = rng.below(max_chars + 1);
    (0..n).map(|_| rng.pick(PALETTE)).collect()
}

fn word(rng: &mut Rng) -> String {
    format!("{}:{}", rng.pick(WORDS), rng.below(100_000))
}

/// A user key: mostly ordinary, sometimes UTF-8 with escapes, binary, empty, long
/// enough for the SHA fallback, right at the 240-byte bound, or shaped like the
/// names the segment encoder promotes to SHA (`b64.…`, 32 hex + `__`).
fn key_name(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0..=7 => word(rng).into_bytes(),
        8..=9 => utf8_string(rng, 8).into_bytes(),
        10..=11 => {
            let n = rng.range(1, 16) as usize;
            rng.bytes(n)
        }
        12 => Vec::new(),
        13 => {
            // Over 240 raw bytes: SHA fallback.
            let n = rng.range(241, 320);
            (0..n).map(|_| rng.pick(UNRESERVED)).collect()
        }
        14 => {
            // 81..=240 bytes that all need escaping: > 240 once percent-encoded.
            let n = rng.range(81, 240) as usize;
            rng.bytes(n).into_iter().map(|b| b | 0x80).collect()
        }
        15 => {
            // Right at the bound: 240 unreserved bytes, or 80 escaped ones (= 240).
            if rng.chance(50) {
                (0..240).map(|_| rng.pick(UNRESERVED)).collect()
            } else {
                vec![b':'; 80]
            }
        }
        16 => format!("b64.{}", word(rng)).into_bytes(),
        17 => {
            let hex: String = (0..32)
                .map(|_| rng.pick(b"0123456789abcdefABCDEF".as_slice()) as char)
                .collect();
            format!("{hex}__{}", word(rng)).into_bytes()
        }
        18 => rng
            .pick(&[&b"."[..], b"..", b"~", b"d|x", b"%41", b"a/b", b"-", b"CON"])
            .to_vec(),
        _ => {
            let mut name = word(rng).into_bytes();
            name.push(rng.pick(&[0x00, 0xFF, 0xFE, b'|']));
            name
        }
    }
}

/// An element or body: empty, text, UTF-8 with escapes, binary, or longer binary.
fn blob(rng: &mut Rng, size: u8) -> Vec<u8> {
    let scale = u64::from(size) + 1;
    match rng.below(10) {
        0 => Vec::new(),
        1..=3 => {
            let n = rng.range(1, 4 * scale);
            (0..n).map(|_| rng.pick(UNRESERVED)).collect()
        }
        4..=5 => utf8_string(rng, 3 * scale).into_bytes(),
        6..=8 => {
            let n = rng.below(4 * scale + 1) as usize;
            rng.bytes(n)
        }
        _ => {
            let n = rng.range(64, 64 + 48 * scale) as usize;
            rng.bytes(n)
        }
    }
}

fn score(rng: &mut Rng) -> f64 {
    if rng.chance(60) {
        return rng.pick(TRICKY_SCORES);
    }
    loop {
        let f = f64::from_bits(rng.next_u64());
        if !f.is_nan() {
            return f;
        }
    }
}

fn stream_id(rng: &mut Rng) -> StreamId {
    match rng.below(4) {
        0 => StreamId { ms: 0, seq: 0 },
        1 => StreamId {
            ms: rng.range(1_700_000_000_000, 1_800_000_000_000),
            seq: 0,
        },
        2 => StreamId {
            ms: u64::MAX - rng.below(8),
            seq: rng.below(4),
        },
        _ => StreamId {
            ms: rng.below(1000),
            seq: rng.below(u64::MAX),
        },
    }
}

fn gen_stream(rng: &mut Rng, n: u64, size: u8) -> Stream {
    let mut entries: Vec<StreamEntry> = Vec::new();
    let mut id = stream_id(rng);
    for i in 0..n {
        if i > 0 {
            // Gaps: a later millisecond, or a later sequence in the same one.
            let next = if rng.chance(50) {
                id.ms.checked_add(rng.range(1, 1 << 20)).map(|ms| StreamId {
                    ms,
                    seq: rng.below(3),
                })
            } else {
                id.seq
                    .checked_add(rng.range(1, 1000))
                    .map(|seq| StreamId { ms: id.ms, seq })
            };
            match next {
                Some(next) => id = next,
                None => break,
            }
        }
        let pairs = if rng.chance(10) { 0 } else { rng.range(1, 3) };
        let mut fields: Vec<(String, String)> = Vec::new();
        for _ in 0..pairs {
            let name = if !fields.is_empty() && rng.chance(15) {
                fields[0].0.clone()
            } else {
                utf8_string(rng, 2 + u64::from(size))
            };
            fields.push((name, utf8_string(rng, 4 + 2 * u64::from(size))));
        }
        entries.push(StreamEntry { id, fields });
    }
    let last = match entries.last() {
        None => stream_id(rng),
        Some(e) if rng.chance(50) => e.id,
        Some(e) => {
            let later = if rng.chance(50) {
                e.id.seq
                    .checked_add(rng.range(1, 50))
                    .map(|seq| StreamId { ms: e.id.ms, seq })
            } else {
                e.id.ms
                    .checked_add(rng.range(1, 1 << 30))
                    .map(|ms| StreamId {
                        ms,
                        seq: rng.below(1 << 40),
                    })
            };
            later.unwrap_or(e.id)
        }
    };
    Stream { entries, last }
}

/// A realistic or extreme expiry, never 0: `(what the tree shows, what is stored)`.
/// `clamps`: whether the TTL's carrier is clamped to `i64::MAX` by the decoder.
fn gen_ttl(rng: &mut Rng, clamps: bool) -> (Option<u64>, Option<u64>) {
    if rng.chance(45) {
        return (None, None);
    }
    let stored = match rng.below(10) {
        0..=5 => rng.range(1_700_000_000_000, 2_100_000_000_000),
        6 => rng.range(1, 1000),
        7 => i64::MAX as u64,
        8 => rng.pick(&[u64::MAX, i64::MAX as u64 + 1]),
        _ => rng.next_u64().max(1),
    };
    let shown = if clamps {
        stored.min(i64::MAX as u64)
    } else {
        stored
    };
    (Some(shown), Some(stored))
}

fn stale_row(rng: &mut Rng) -> Option<u64> {
    rng.chance(50).then(|| rng.range(1, 2_100_000_000_000))
}

fn meta_form(rng: &mut Rng, allow_absent: bool) -> MetaForm {
    match rng.below(if allow_absent { 3 } else { 2 }) {
        0 => MetaForm::Plain,
        1 => MetaForm::Inline {
            stale_ttl_row: stale_row(rng),
        },
        _ => MetaForm::Absent,
    }
}

fn count_form(rng: &mut Rng, allow_absent: bool) -> CountForm {
    CountForm {
        meta: meta_form(rng, allow_absent),
        deltas: if rng.chance(25) {
            rng.range(1, 3) as u8
        } else {
            0
        },
    }
}

fn noise(rng: &mut Rng) -> u8 {
    if rng.chance(50) {
        0
    } else {
        (rng.next_u64() as u8) & !1
    }
}

impl KeySpec {
    /// The key this spec stands for.
    pub fn materialize(&self) -> RedisKey {
        let mut rng = Rng::new(self.seed);
        let mut name = key_name(&mut rng);
        if self.kind == Kind::List && name.starts_with(b"d|") {
            // `!lst|meta|d|…` is the delta family: such a list cannot be restored.
            name.insert(0, b'L');
        }
        let commit_ts =
            (rng.range(1_700_000_000_000, 1_800_000_000_000) << 16) | rng.below(1 << 16);
        let size = self.size;
        let n = rng.below(u64::from(size) + 1);
        let exotic = self.exotic;
        // Layout first (it decides UTF-8-only members and whether the TTL clamps).
        let layout = if exotic {
            self.exotic_layout(&mut rng, n)
        } else {
            Layout::Canonical
        };
        let legacy_zset = matches!(layout, Layout::ZSet(ZSetForm::Legacy { .. }));
        let value = match self.kind {
            Kind::String => {
                let mut body = blob(&mut rng, size);
                if layout == Layout::String(StringForm::Legacy) && body.starts_with(&[0xFF, 0x01]) {
                    body[0] = 0xFE;
                }
                Value::String(body)
            }
            Kind::Hll => {
                let mut sketch = if rng.chance(50) {
                    let mut s = b"HYLL".to_vec();
                    s.extend(rng.bytes(12 + 4 * usize::from(size)));
                    s
                } else {
                    blob(&mut rng, size)
                };
                if sketch.starts_with(&[0xFF, 0x02]) {
                    sketch[0] = 0xFE;
                }
                Value::Hll(sketch)
            }
            Kind::Hash => Value::Hash(
                (0..n)
                    .map(|_| (blob(&mut rng, size), blob(&mut rng, size)))
                    .collect(),
            ),
            Kind::List => Value::List((0..n).map(|_| blob(&mut rng, size)).collect()),
            Kind::Set => Value::Set((0..n).map(|_| blob(&mut rng, size)).collect()),
            Kind::ZSet => Value::ZSet(
                (0..n)
                    .map(|_| {
                        let member = if legacy_zset {
                            utf8_string(&mut rng, 2 + u64::from(size)).into_bytes()
                        } else {
                            blob(&mut rng, size)
                        };
                        (member, score(&mut rng))
                    })
                    .collect(),
            ),
            Kind::Stream => Value::Stream(gen_stream(&mut rng, n, size)),
        };
        let mut key = RedisKey {
            name,
            value,
            ttl: None,
            stored_ttl: None,
            layout,
            commit_ts,
            seed: rng.next_u64(),
        };
        // Collections stored without any meta row exist only through their elements,
        // and a stale legacy blob is only overridden by wide member rows.
        let stale_blob = matches!(&key.layout, Layout::ZSet(ZSetForm::LegacyThenWide { stale, .. }) if !stale.is_empty());
        if key.value.is_empty() && (key.needs_elements() || stale_blob) {
            key.layout = Layout::Canonical;
        }
        if key.ttl_allowed() {
            let (shown, stored) = gen_ttl(&mut rng, key.ttl_clamps());
            key.ttl = shown;
            key.stored_ttl = stored;
        }
        key
    }

    fn exotic_layout(&self, rng: &mut Rng, n: u64) -> Layout {
        match self.kind {
            Kind::String => Layout::String(match rng.below(3) {
                0 => StringForm::Envelope {
                    noise: noise(rng),
                    stale_ttl_row: stale_row(rng),
                },
                1 => StringForm::ZeroExpiry {
                    noise: noise(rng),
                    stale_ttl_row: stale_row(rng),
                },
                _ => StringForm::Legacy,
            }),
            Kind::Hll => Layout::Hll(if rng.chance(50) {
                HllForm::Raw
            } else {
                HllForm::Envelope {
                    noise: noise(rng),
                    stale_ttl_row: stale_row(rng),
                }
            }),
            Kind::Hash => Layout::Hash(count_form(rng, true)),
            Kind::Set => Layout::Set(count_form(rng, true)),
            Kind::List => {
                let n = n as i64;
                let head = match rng.below(5) {
                    0 => 0,
                    1 => -n,
                    2 => rng.below(1 << 32) as i64 - (1 << 31),
                    3 => i64::MIN,
                    _ => (i64::MAX - n).saturating_add(1),
                };
                Layout::List(ListForm {
                    meta: meta_form(rng, true),
                    head,
                    deltas: if rng.chance(25) { 1 } else { 0 },
                    claims: if rng.chance(25) { 2 } else { 0 },
                })
            }
            Kind::ZSet => Layout::ZSet(match rng.below(3) {
                0 => ZSetForm::Wide(count_form(rng, true)),
                1 => ZSetForm::Legacy {
                    meta: meta_form(rng, true),
                    duplicates: rng.chance(30),
                    explicit_defaults: rng.chance(50),
                },
                _ => {
                    let stale = (0..rng.range(0, 3))
                        .map(|_| (utf8_string(rng, 4), score(rng)))
                        .collect();
                    ZSetForm::LegacyThenWide {
                        wide: count_form(rng, true),
                        stale,
                    }
                }
            }),
            Kind::Stream => Layout::Stream(StreamForm {
                meta: match rng.below(3) {
                    0 => StreamMetaForm::Plain,
                    1 => StreamMetaForm::Inline {
                        stale_ttl_row: stale_row(rng),
                    },
                    _ => StreamMetaForm::Trim {
                        stale_ttl_row: stale_row(rng),
                        trimmed: stream_id(rng),
                    },
                },
                wrong_proto_ids: rng.chance(30),
            }),
        }
    }
}

impl RedisKey {
    /// Whether the layout needs at least one element row for the key to exist (no
    /// meta row at all).
    fn needs_elements(&self) -> bool {
        match &self.layout {
            Layout::Hash(f) | Layout::Set(f) => f.meta == MetaForm::Absent,
            Layout::List(f) => f.meta == MetaForm::Absent,
            Layout::ZSet(ZSetForm::Wide(f))
            | Layout::ZSet(ZSetForm::LegacyThenWide { wide: f, .. }) => f.meta == MetaForm::Absent,
            _ => false,
        }
    }

    /// Whether this layout can carry a TTL (`FF 01 01 00…` means "none").
    fn ttl_allowed(&self) -> bool {
        !matches!(self.layout, Layout::String(StringForm::ZeroExpiry { .. }))
    }

    /// Whether the decoder clamps this key's expiry to `i64::MAX`: it does for
    /// `!redis|ttl|` rows and string/HLL envelopes, not for inline meta expiries.
    pub fn ttl_clamps(&self) -> bool {
        let meta_inline = |m: MetaForm| matches!(m, MetaForm::Inline { .. });
        match (&self.layout, self.value.kind()) {
            (Layout::Canonical, kind) => matches!(kind, Kind::String | Kind::Hll),
            (Layout::String(_) | Layout::Hll(_), _) => true,
            (Layout::Hash(f) | Layout::Set(f), _) => !meta_inline(f.meta),
            (Layout::List(f), _) => !meta_inline(f.meta),
            (Layout::ZSet(ZSetForm::Wide(f)), _)
            | (Layout::ZSet(ZSetForm::LegacyThenWide { wide: f, .. }), _) => !meta_inline(f.meta),
            (Layout::ZSet(ZSetForm::Legacy { meta, .. }), _) => !meta_inline(*meta),
            (Layout::Stream(f), _) => f.meta == StreamMetaForm::Plain,
        }
    }

    /// `redis/db_0/<dir>/<segment><ext>`.
    pub fn tree_path(&self) -> String {
        let kind = self.value.kind();
        format!(
            "redis/db_0/{}/{}{}",
            kind.dir(),
            encode_segment(&self.name),
            kind.ext()
        )
    }

    /// Whether the tree names this key by a SHA fallback (KEYMAP record).
    pub fn sha_named(&self) -> bool {
        is_sha_fallback(&encode_segment(&self.name))
    }

    /// Whether the decoder writes this key's TTL line after the lines of
    /// envelope-stored keys (a `!redis|ttl|` row for a legacy string or raw HLL),
    /// which reorders the append-order sidecars after a round trip.
    pub fn ttl_line_from_scan_index(&self) -> bool {
        self.ttl.is_some()
            && matches!(
                self.layout,
                Layout::String(StringForm::Legacy) | Layout::Hll(HllForm::Raw)
            )
    }
}

impl RedisDb {
    /// The database of `specs` (a later spec whose name is taken is dropped), with
    /// `orphans` `!redis|ttl|` rows for keys that do not exist.
    pub fn from_specs(specs: &[KeySpec], orphans: u8, seed: u64) -> RedisDb {
        let mut db = RedisDb::default();
        for spec in specs {
            let key = spec.materialize();
            db.keys.entry(key.name.clone()).or_insert(key);
        }
        let mut rng = Rng::new(seed ^ 0x6F72_7068_616E);
        for i in 0..orphans {
            let mut name = b"\xFE\xFForphan:".to_vec();
            name.extend_from_slice(format!("{i}:{}", rng.below(1000)).as_bytes());
            if !db.keys.contains_key(&name) {
                let ms = rng.range(1, 2_100_000_000_000);
                db.orphan_ttls.push((name, ms));
            }
        }
        db
    }

    /// Whether a round trip keeps the order of `strings_ttl.jsonl`, `hll_ttl.jsonl`
    /// and `KEYMAP.jsonl`: their lines are in record order (docs/format.md §4.6), and a
    /// TTL coming from a `!redis|ttl|` row is written after every envelope's, while
    /// the encoder always writes envelopes.
    pub fn append_order_is_canonical(&self) -> bool {
        !self.keys.values().any(RedisKey::ttl_line_from_scan_index)
    }

    /// Number of rows per kind in the live layout, for reports.
    pub fn kind_counts(&self) -> BTreeMap<Kind, usize> {
        let mut out = BTreeMap::new();
        for key in self.keys.values() {
            *out.entry(key.value.kind()).or_insert(0) += 1;
        }
        out
    }
}

// =====================================================================================
// Live layout (docs/format.md §3.4), written from the spec, not with the codec's builders
// =====================================================================================

const SIGN: u64 = 1 << 63;

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// `prefix ‖ BE32(len) ‖ key ‖ suffix`.
fn l4(prefix: &[u8], key: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(suffix);
    out
}

fn raw(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

fn sortable_seq(seq: i64) -> [u8; 8] {
    be((seq as u64) ^ SIGN)
}

fn sortable_score(score: f64) -> [u8; 8] {
    let bits = if score == 0.0 { 0 } else { score.to_bits() };
    be(if bits & SIGN == 0 { bits ^ SIGN } else { !bits })
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn proto_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `\0RXE\x01` + `RedisStreamEntry{1 id, 2 fields…}`.
fn stream_entry_value(id: &str, fields: &[(String, String)]) -> Vec<u8> {
    let mut out = b"\0RXE\x01".to_vec();
    if !id.is_empty() {
        proto_bytes(1, id.as_bytes(), &mut out);
    }
    for (name, value) in fields {
        proto_bytes(2, name.as_bytes(), &mut out);
        proto_bytes(2, value.as_bytes(), &mut out);
    }
    out
}

/// `\0RZ\x01` + `RedisZSetValue{1 entries {1 member, 2 score}}`.
fn zset_blob(members: &[(&[u8], f64)], explicit_defaults: bool) -> Vec<u8> {
    let mut out = b"\0RZ\x01".to_vec();
    for (member, score) in members {
        let mut entry = Vec::new();
        if explicit_defaults || !member.is_empty() {
            proto_bytes(1, member, &mut entry);
        }
        if explicit_defaults || score.to_bits() != 0 {
            varint(2 << 3 | 1, &mut entry);
            entry.extend_from_slice(&score.to_le_bytes());
        }
        proto_bytes(1, &entry, &mut out);
    }
    out
}

/// Collects one key's rows, each stamped a little older than (or as old as) the key.
struct Rows<'a> {
    out: &'a mut Vec<Entry>,
    ts: u64,
    rng: Rng,
}

impl Rows<'_> {
    fn push(&mut self, user_key: Vec<u8>, body: Vec<u8>) {
        let commit_ts = self.ts - self.rng.below(64);
        let expire_at = if self.rng.chance(10) {
            self.rng.next_u64()
        } else {
            0
        };
        self.out.push(Entry {
            user_key,
            commit_ts,
            tombstone: false,
            expire_at,
            body,
        });
    }

    fn ttl_row(&mut self, name: &[u8], ms: Option<u64>) {
        if let Some(ms) = ms {
            self.push(raw(b"!redis|ttl|", name), be(ms).to_vec());
        }
    }
}

/// The count a meta row declares when `deltas` delta rows hold the rest.
fn declared(n: usize, deltas: u8) -> u64 {
    (n as u64).saturating_sub(u64::from(deltas))
}

impl RedisKey {
    /// The key's rows as a live node stores them.
    fn live_rows(&self, out: &mut Vec<Entry>) {
        if self.layout == Layout::Canonical {
            let mut rows = Rows {
                out,
                ts: self.commit_ts,
                rng: Rng::new(self.seed),
            };
            for (user_key, body) in self.canonical_rows(self.stored_ttl) {
                rows.push(user_key, body);
            }
            return;
        }
        let mut rows = Rows {
            out,
            ts: self.commit_ts,
            rng: Rng::new(self.seed),
        };
        let k = self.name.as_slice();
        let ttl = self.stored_ttl;
        let ms = ttl.unwrap_or(0);
        match (&self.layout, &self.value) {
            (Layout::String(form), Value::String(body)) => match *form {
                StringForm::Envelope {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x01];
                    match ttl {
                        Some(ms) => {
                            v.push(noise | 1);
                            v.extend_from_slice(&be(ms));
                        }
                        None => v.push(noise),
                    }
                    v.extend_from_slice(body);
                    rows.push(raw(b"!redis|str|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
                StringForm::ZeroExpiry {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x01, noise | 1];
                    v.extend_from_slice(&[0; 8]);
                    v.extend_from_slice(body);
                    rows.push(raw(b"!redis|str|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
                StringForm::Legacy => {
                    rows.push(raw(b"!redis|str|", k), body.clone());
                    rows.ttl_row(k, ttl);
                }
            },
            (Layout::Hll(form), Value::Hll(sketch)) => match *form {
                HllForm::Raw => {
                    rows.push(raw(b"!redis|hll|", k), sketch.clone());
                    rows.ttl_row(k, ttl);
                }
                HllForm::Envelope {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x02];
                    match ttl {
                        Some(ms) => {
                            v.push(noise | 1);
                            v.extend_from_slice(&be(ms));
                        }
                        None => v.push(noise),
                    }
                    v.extend_from_slice(sketch);
                    rows.push(raw(b"!redis|hll|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
            },
            (Layout::Hash(form), Value::Hash(fields)) => {
                for (f, v) in fields {
                    rows.push(l4(b"!hs|fld|", k, f), v.clone());
                }
                count_meta(&mut rows, b"!hs|meta|", k, *form, fields.len(), ttl);
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    rows.push(l4(b"!hs|meta|d|", k, &suffix), be(1).to_vec());
                }
            }
            (Layout::Set(form), Value::Set(members)) => {
                for m in members {
                    rows.push(l4(b"!st|mem|", k, m), Vec::new());
                }
                count_meta(&mut rows, b"!st|meta|", k, *form, members.len(), ttl);
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    rows.push(l4(b"!st|meta|d|", k, &suffix), be(1).to_vec());
                }
            }
            (Layout::List(form), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let seq = form.head.wrapping_add(i as i64);
                    rows.push([b"!lst|itm|", k, &sortable_seq(seq)].concat(), item.clone());
                }
                let n = items.len() as u64;
                let mut meta = Vec::new();
                meta.extend_from_slice(&be(form.head as u64));
                meta.extend_from_slice(&be((form.head as u64).wrapping_add(n)));
                meta.extend_from_slice(&be(declared(items.len(), form.deltas)));
                match form.meta {
                    MetaForm::Absent => rows.ttl_row(k, ttl),
                    MetaForm::Plain => {
                        rows.push(raw(b"!lst|meta|", k), meta);
                        rows.ttl_row(k, ttl);
                    }
                    MetaForm::Inline { stale_ttl_row } => {
                        meta.extend_from_slice(&be(ms));
                        rows.push(raw(b"!lst|meta|", k), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                }
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    let delta = [be(0), be(1)].concat();
                    rows.push(l4(b"!lst|meta|d|", k, &suffix), delta);
                }
                for i in 0..form.claims {
                    let seq = form.head.wrapping_sub(1 + i64::from(i));
                    rows.push(l4(b"!lst|claim|", k, &sortable_seq(seq)), Vec::new());
                }
            }
            (Layout::ZSet(form), Value::ZSet(members)) => match form {
                ZSetForm::Wide(wide) => {
                    wide_zset(&mut rows, k, *wide, members, ttl, self.commit_ts);
                }
                ZSetForm::Legacy {
                    meta,
                    duplicates,
                    explicit_defaults,
                } => {
                    let mut blob: Vec<(&[u8], f64)> = Vec::new();
                    for (m, s) in members {
                        if *duplicates {
                            blob.push((m, -s + 1.0));
                        }
                        blob.push((m, *s));
                    }
                    // Blob order is not member order.
                    let mut order = Rng::new(self.seed ^ 7);
                    if !*duplicates {
                        order.shuffle(&mut blob);
                    }
                    rows.push(
                        raw(b"!redis|zset|", k),
                        zset_blob(&blob, *explicit_defaults),
                    );
                    let form = CountForm {
                        meta: *meta,
                        deltas: 0,
                    };
                    count_meta(&mut rows, b"!zs|meta|", k, form, members.len(), ttl);
                }
                ZSetForm::LegacyThenWide { wide, stale } => {
                    let blob: Vec<(&[u8], f64)> =
                        stale.iter().map(|(m, s)| (m.as_bytes(), *s)).collect();
                    rows.push(raw(b"!redis|zset|", k), zset_blob(&blob, false));
                    wide_zset(&mut rows, k, *wide, members, ttl, self.commit_ts);
                }
            },
            (Layout::Stream(form), Value::Stream(stream)) => {
                for entry in &stream.entries {
                    let id_text = if form.wrong_proto_ids {
                        format!("{}-{}", entry.id.seq, entry.id.ms)
                    } else {
                        entry.id.to_string()
                    };
                    let suffix = [be(entry.id.ms), be(entry.id.seq)].concat();
                    rows.push(
                        l4(b"!stream|entry|", k, &suffix),
                        stream_entry_value(&id_text, &entry.fields),
                    );
                }
                let mut meta = Vec::new();
                meta.extend_from_slice(&be(stream.entries.len() as u64));
                meta.extend_from_slice(&be(stream.last.ms));
                meta.extend_from_slice(&be(stream.last.seq));
                match form.meta {
                    StreamMetaForm::Plain => {
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, ttl);
                    }
                    StreamMetaForm::Inline { stale_ttl_row } => {
                        meta.extend_from_slice(&be(ms));
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                    StreamMetaForm::Trim {
                        stale_ttl_row,
                        trimmed,
                    } => {
                        meta.extend_from_slice(&be(ms));
                        meta.extend_from_slice(&be(trimmed.ms));
                        meta.extend_from_slice(&be(trimmed.seq));
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                }
            }
            (layout, value) => unreachable!("layout {layout:?} for {:?}", value.kind()),
        }
    }

    /// The records the encoder writes for this key (docs/format.md §6.2), built with the
    /// codec's builders; `ttl` is the expiry to store.
    pub fn canonical_rows(&self, ttl: Option<u64>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let k = self.name.as_slice();
        let ms = ttl.unwrap_or(0);
        let mut out = Vec::new();
        let ttl_row = |out: &mut Vec<(Vec<u8>, Vec<u8>)>| {
            if ms != 0 {
                out.push((keys::raw_key(keys::TTL, k), values::build_ttl(ms).to_vec()));
            }
        };
        match &self.value {
            Value::String(body) => {
                out.push((
                    keys::raw_key(keys::STRING, k),
                    values::build_string(body, ms),
                ));
            }
            Value::Hll(sketch) => {
                out.push((keys::raw_key(keys::HLL, k), values::build_hll(sketch, ms)));
                ttl_row(&mut out);
            }
            Value::Hash(fields) => {
                out.push((
                    keys::wide_key(keys::HASH_META, k, b""),
                    values::build_count_meta(fields.len() as u64, ttl),
                ));
                for (f, v) in fields {
                    out.push((keys::wide_key(keys::HASH_FIELD, k, f), v.clone()));
                }
                ttl_row(&mut out);
            }
            Value::Set(members) => {
                out.push((
                    keys::wide_key(keys::SET_META, k, b""),
                    values::build_count_meta(members.len() as u64, ttl),
                ));
                for m in members {
                    out.push((keys::wide_key(keys::SET_MEMBER, k, m), Vec::new()));
                }
                ttl_row(&mut out);
            }
            Value::List(items) => {
                out.push((
                    keys::raw_key(keys::LIST_META, k),
                    values::build_list_meta(items.len() as u64, ttl),
                ));
                for (i, item) in items.iter().enumerate() {
                    out.push((keys::list_item_key(k, i as i64), item.clone()));
                }
                ttl_row(&mut out);
            }
            Value::ZSet(members) => {
                out.push((
                    keys::wide_key(keys::ZSET_META, k, b""),
                    values::build_count_meta(members.len() as u64, ttl),
                ));
                for (m, s) in members {
                    out.push((
                        keys::wide_key(keys::ZSET_MEMBER, k, m),
                        values::build_zset_score(*s).to_vec(),
                    ));
                    out.push((keys::zset_score_key(k, *s, m), Vec::new()));
                }
                ttl_row(&mut out);
            }
            Value::Stream(stream) => {
                for entry in &stream.entries {
                    let fields = entry
                        .fields
                        .iter()
                        .flat_map(|(n, v)| [n.clone(), v.clone()])
                        .collect();
                    out.push((
                        keys::stream_entry_key(k, entry.id),
                        proto::build_stream_entry(&entry.id.to_string(), fields),
                    ));
                }
                out.push((
                    keys::wide_key(keys::STREAM_META, k, b""),
                    values::build_stream_meta(stream.entries.len() as u64, stream.last, ttl),
                ));
                ttl_row(&mut out);
            }
        }
        out
    }
}

fn count_meta(
    rows: &mut Rows<'_>,
    prefix: &[u8],
    k: &[u8],
    form: CountForm,
    n: usize,
    ttl: Option<u64>,
) {
    let count = be(declared(n, form.deltas));
    match form.meta {
        MetaForm::Absent => rows.ttl_row(k, ttl),
        MetaForm::Plain => {
            rows.push(l4(prefix, k, b""), count.to_vec());
            rows.ttl_row(k, ttl);
        }
        MetaForm::Inline { stale_ttl_row } => {
            rows.push(l4(prefix, k, b""), [count, be(ttl.unwrap_or(0))].concat());
            rows.ttl_row(k, stale_ttl_row);
        }
    }
}

fn wide_zset(
    rows: &mut Rows<'_>,
    k: &[u8],
    form: CountForm,
    members: &BTreeMap<Vec<u8>, f64>,
    ttl: Option<u64>,
    ts: u64,
) {
    for (m, s) in members {
        rows.push(l4(b"!zs|mem|", k, m), be(s.to_bits()).to_vec());
        rows.push(
            l4(b"!zs|scr|", k, &[&sortable_score(*s)[..], m].concat()),
            Vec::new(),
        );
    }
    count_meta(rows, b"!zs|meta|", k, form, members.len(), ttl);
    for i in 0..form.deltas {
        let suffix = [&be(ts)[..], &u32::from(i).to_be_bytes()].concat();
        rows.push(l4(b"!zs|meta|d|", k, &suffix), be(1).to_vec());
    }
}

/// Older versions are at least this much older than any live row.
const SHADOW_GAP: u64 = 1 << 20;

impl RedisDb {
    /// Every row of the live layout, each a visible version, in generation order.
    pub fn live_entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for key in self.keys.values() {
            key.live_rows(&mut out);
        }
        for (i, (name, ms)) in self.orphan_ttls.iter().enumerate() {
            out.push(Entry {
                user_key: raw(b"!redis|ttl|", name),
                commit_ts: 1 << 40 | i as u64,
                tombstone: false,
                expire_at: 0,
                body: be(*ms).to_vec(),
            });
        }
        out
    }

    /// The live layout as an entry set (header ts = newest row).
    pub fn live_set(&self) -> EntrySet {
        with_header(self.live_entries())
    }

    /// The live layout plus versions that must not change the decoded tree: older
    /// versions of live rows (with `garbage`, often undecodable: a truncated meta, a
    /// short score, a broken protobuf; else a well-formed but different value), older
    /// tombstones under live rows, and "ghost" keys and elements whose newest version
    /// is a tombstone over a once-live row.
    pub fn shadowed_set(&self, seed: u64, garbage: bool) -> EntrySet {
        let mut rng = Rng::new(seed);
        let live = self.live_entries();
        let mut out = live.clone();
        for entry in &live {
            if rng.chance(25) {
                for v in 0..rng.range(1, 2) {
                    let body = if garbage && rng.chance(50) {
                        let n = rng.below(12) as usize;
                        rng.bytes(n)
                    } else {
                        older_value(&entry.user_key, &entry.body)
                    };
                    out.push(Entry {
                        user_key: entry.user_key.clone(),
                        commit_ts: entry.commit_ts - SHADOW_GAP - v,
                        tombstone: false,
                        expire_at: 0,
                        body,
                    });
                }
            }
            if rng.chance(10) {
                out.push(Entry {
                    user_key: entry.user_key.clone(),
                    commit_ts: entry.commit_ts - 2 * SHADOW_GAP,
                    tombstone: true,
                    expire_at: 0,
                    body: Vec::new(),
                });
            }
        }
        // Ghost keys: whole keys that were deleted.
        let ghosts = rng.range(0, 3);
        for i in 0..ghosts {
            let mut spec = Mix::DEFAULT.spec(rng.next_u64(), i);
            spec.size = spec.size.min(3);
            let mut ghost = spec.materialize();
            ghost.name.splice(0..0, *b"\xFE\xFEghost:");
            if self.keys.contains_key(&ghost.name) {
                continue;
            }
            if ghost.value.is_empty() && ghost.needs_elements() {
                continue;
            }
            let mut rows = Vec::new();
            ghost.live_rows(&mut rows);
            bury(&mut out, rows, &mut rng);
        }
        // Ghost elements of live keys: deleted fields, members and entries.
        for key in self.keys.values() {
            if !rng.chance(20) {
                continue;
            }
            let k = key.name.as_slice();
            let mut ghost_member = b"\xFE\xFEghost-member".to_vec();
            ghost_member.extend_from_slice(&rng.bytes(2));
            let rows: Vec<(Vec<u8>, Vec<u8>)> = match &key.value {
                Value::Hash(f) if !f.contains_key(&ghost_member) => {
                    vec![(l4(b"!hs|fld|", k, &ghost_member), b"deleted".to_vec())]
                }
                Value::Set(m) if !m.contains(&ghost_member) => {
                    vec![(l4(b"!st|mem|", k, &ghost_member), Vec::new())]
                }
                Value::ZSet(m) if !m.contains_key(&ghost_member) => vec![
                    (
                        l4(b"!zs|mem|", k, &ghost_member),
                        be(1f64.to_bits()).to_vec(),
                    ),
                    (
                        l4(
                            b"!zs|scr|",
                            k,
                            &[&sortable_score(1.0)[..], &ghost_member].concat(),
                        ),
                        Vec::new(),
                    ),
                ],
                Value::Stream(s) => {
                    let id = StreamId {
                        ms: s.last.ms.wrapping_add(1),
                        seq: 0,
                    };
                    if s.entries.iter().any(|e| e.id == id) {
                        continue;
                    }
                    let suffix = [be(id.ms), be(id.seq)].concat();
                    vec![(
                        l4(b"!stream|entry|", k, &suffix),
                        stream_entry_value("0-0", &[("gone".into(), "x".into())]),
                    )]
                }
                _ => continue,
            };
            let rows = rows
                .into_iter()
                .map(|(user_key, body)| Entry {
                    user_key,
                    commit_ts: key.commit_ts,
                    tombstone: false,
                    expire_at: 0,
                    body,
                })
                .collect();
            bury(&mut out, rows, &mut rng);
        }
        with_header(out)
    }

    /// Exactly what the encoder writes for this database, every key stamped `ts`.
    pub fn canonical_set(&self, ts: u64) -> EntrySet {
        let mut entries = Vec::new();
        for key in self.keys.values() {
            for (user_key, body) in key.canonical_rows(key.ttl) {
                entries.push(Entry {
                    user_key,
                    commit_ts: ts,
                    tombstone: false,
                    expire_at: 0,
                    body,
                });
            }
        }
        EntrySet {
            last_commit_ts: ts,
            entries,
        }
    }
}

/// A well-formed older value for a live row: another body where any body is valid,
/// another score or expiry, else the same bytes.
fn older_value(user_key: &[u8], body: &[u8]) -> Vec<u8> {
    let family = |prefix: &[u8]| user_key.starts_with(prefix);
    if family(b"!redis|str|")
        || family(b"!redis|hll|")
        || family(b"!hs|fld|")
        || family(b"!lst|itm|")
    {
        b"older".to_vec()
    } else if family(b"!zs|mem|") {
        be(42f64.to_bits()).to_vec()
    } else if family(b"!redis|ttl|") {
        be(12_345).to_vec()
    } else {
        body.to_vec()
    }
}

/// Appends `rows` as once-live versions with a newer tombstone on top of each.
fn bury(out: &mut Vec<Entry>, rows: Vec<Entry>, rng: &mut Rng) {
    for mut row in rows {
        let deleted_at = row.commit_ts + 1 + rng.below(SHADOW_GAP);
        row.commit_ts -= SHADOW_GAP;
        out.push(Entry {
            user_key: row.user_key.clone(),
            commit_ts: deleted_at,
            tombstone: true,
            expire_at: 0,
            body: Vec::new(),
        });
        out.push(row);
    }
}

fn with_header(entries: Vec<Entry>) -> EntrySet {
    let newest = entries.iter().map(|e| e.commit_ts).max().unwrap_or(0);
    EntrySet {
        last_commit_ts: newest,
        entries,
    }
}

// =====================================================================================
// The decoded tree against the model
// =====================================================================================

/// A directory tree: relative path (`/`-separated) → file bytes, `None` for a directory.
pub type Tree = BTreeMap<String, Option<Vec<u8>>>;

/// Reads every file and directory below `root` (not following symlinks).
pub fn read_tree(root: &Path) -> io::Result<Tree> {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .into_owned();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                out.insert(rel, None);
                walk(root, &path, out)?;
            } else {
                out.insert(rel, Some(fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Tree::new();
    if root.exists() {
        walk(root, root, &mut out)?;
    }
    Ok(out)
}

/// The files whose line order is record order: `*_ttl.jsonl` and `KEYMAP.jsonl`.
pub fn is_append_order_file(path: &str) -> bool {
    path.ends_with("strings_ttl.jsonl")
        || path.ends_with("hll_ttl.jsonl")
        || path.ends_with("KEYMAP.jsonl")
}

/// `tree` with the lines of every append-order file sorted (and KEYMAP's deduplicated:
/// a name is recorded each time it is used).
pub fn normalize_append_order(tree: &Tree) -> Tree {
    tree.iter()
        .map(|(path, bytes)| {
            let bytes = match bytes {
                Some(b) if is_append_order_file(path) => {
                    let mut lines: Vec<&[u8]> = b.split_inclusive(|&c| c == b'\n').collect();
                    lines.sort();
                    if path.ends_with("KEYMAP.jsonl") {
                        lines.dedup();
                    }
                    Some(lines.concat())
                }
                other => other.clone(),
            };
            (path.clone(), bytes)
        })
        .collect()
}

/// A readable difference between two trees, `None` when equal.
pub fn diff_trees(left: &Tree, right: &Tree) -> Option<String> {
    let mut out = Vec::new();
    for (path, l) in left {
        match right.get(path) {
            None => out.push(format!("only left:  {path}")),
            Some(r) if r != l => {
                let show = |b: &Option<Vec<u8>>| {
                    b.as_ref().map_or("<dir>".to_owned(), |b| {
                        String::from_utf8_lossy(b).into_owned()
                    })
                };
                out.push(format!(
                    "differs:    {path}\n  left:  {:?}\n  right: {:?}",
                    show(l),
                    show(r)
                ));
            }
            Some(_) => {}
        }
    }
    for path in right.keys() {
        if !left.contains_key(path) {
            out.push(format!("only right: {path}"));
        }
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

fn parse_json(bytes: &[u8], path: &str) -> Result<gojson::GoValue, String> {
    gojson_reader::parse(bytes).map_err(|e| format!("{path}: {e}"))
}

/// Parses a TTL sidecar into segment → expiry (later lines win, as the encoder reads).
fn sidecar(tree: &Tree, path: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let Some(Some(bytes)) = tree.get(path) else {
        return Ok(out);
    };
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = docs::read_ttl_line(&parse_json(line, path)?)?;
        out.insert(line.key, line.expire_at_ms);
    }
    Ok(out)
}

impl RedisDb {
    /// Checks a decoded tree (read with [`read_tree`] from the output root) against
    /// the model: exactly the expected files, each key's file at its segment name
    /// (SHA-fallback names with their KEYMAP record), bodies, elements, scores (bit
    /// for bit), stream entries and metas, and expiries.
    pub fn check_tree(&self, tree: &Tree, keymap_path: &Path) -> Result<(), String> {
        let strings_ttl = sidecar(tree, "redis/db_0/strings_ttl.jsonl")?;
        let hll_ttl = sidecar(tree, "redis/db_0/hll_ttl.jsonl")?;
        let keymap: BTreeMap<String, Vec<u8>> = if keymap_path.exists() {
            read_keymap(keymap_path)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| {
                    assert_eq!(
                        r.kind, KIND_SHA_FALLBACK,
                        "only SHA fallbacks in Redis KEYMAP"
                    );
                    let original = r.original_bytes().map_err(|e| e.to_string());
                    original.map(|o| (r.encoded, o))
                })
                .collect::<Result<_, _>>()?
        } else {
            BTreeMap::new()
        };
        let mut expected_files: BTreeSet<String> = BTreeSet::new();
        let mut sha_names = 0;
        for key in self.keys.values() {
            let path = key.tree_path();
            let fail = |what: String| Err(format!("{path} (key {:?}): {what}", key.name));
            let Some(Some(bytes)) = tree.get(&path) else {
                return fail("missing".into());
            };
            expected_files.insert(path.clone());
            let segment = encode_segment(&key.name);
            if key.sha_named() {
                sha_names += 1;
                if keymap.get(&segment) != Some(&key.name) {
                    return fail(format!("no KEYMAP record for {segment}"));
                }
            }
            let check = |got: Option<u64>| -> Result<(), String> {
                if got != key.ttl {
                    return fail(format!("expiry {got:?}, want {:?}", key.ttl));
                }
                Ok(())
            };
            match &key.value {
                Value::String(body) | Value::Hll(body) => {
                    if bytes != body {
                        return fail(format!("body {bytes:?}, want {body:?}"));
                    }
                    let ttls = if key.value.kind() == Kind::String {
                        &strings_ttl
                    } else {
                        &hll_ttl
                    };
                    check(ttls.get(&segment).copied())?;
                }
                Value::Hash(fields) => {
                    let doc = docs::read_hash(&parse_json(bytes, &path)?)?;
                    let want: Vec<(Vec<u8>, Vec<u8>)> =
                        fields.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
                    if doc.elements != want {
                        return fail(format!("fields {:?}, want {want:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::List(items) => {
                    let doc = docs::read_list(&parse_json(bytes, &path)?)?;
                    if &doc.elements != items {
                        return fail(format!("items {:?}, want {items:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::Set(members) => {
                    let doc = docs::read_set(&parse_json(bytes, &path)?)?;
                    let want: Vec<Vec<u8>> = members.iter().cloned().collect();
                    if doc.elements != want {
                        return fail(format!("members {:?}, want {want:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::ZSet(members) => {
                    let doc = docs::read_zset(&parse_json(bytes, &path)?)?;
                    let got: Vec<(Vec<u8>, u64)> = doc
                        .elements
                        .iter()
                        .map(|(m, s)| (m.clone(), s.to_bits()))
                        .collect();
                    let want: Vec<(Vec<u8>, u64)> = members
                        .iter()
                        .map(|(m, s)| (m.clone(), s.to_bits()))
                        .collect();
                    if got != want {
                        return fail(format!("members {:?}, want {members:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::Stream(stream) => {
                    let mut lines = Vec::new();
                    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        lines.push(docs::read_stream_line(&parse_json(line, &path)?)?);
                    }
                    let Some(StreamLine::Meta {
                        length,
                        last,
                        expire_at_ms,
                    }) = lines.pop()
                    else {
                        return fail("no _meta line last".into());
                    };
                    if length != stream.entries.len() as i64 || last != stream.last {
                        return fail(format!("meta length {length} last {last}"));
                    }
                    check(expire_at_ms)?;
                    if lines.len() != stream.entries.len() {
                        return fail(format!("{} entry lines", lines.len()));
                    }
                    for (line, entry) in lines.iter().zip(&stream.entries) {
                        let want: Vec<Vec<u8>> = entry
                            .fields
                            .iter()
                            .flat_map(|(n, v)| [n.clone().into_bytes(), v.clone().into_bytes()])
                            .collect();
                        match line {
                            StreamLine::Entry {
                                id,
                                fields,
                                id_text,
                            } if *id == entry.id
                                && *fields == want
                                && *id_text == entry.id.to_string() => {}
                            other => return fail(format!("entry {other:?}, want {entry:?}")),
                        }
                    }
                }
            }
        }
        if !strings_ttl.is_empty() {
            expected_files.insert("redis/db_0/strings_ttl.jsonl".into());
        }
        if !hll_ttl.is_empty() {
            expected_files.insert("redis/db_0/hll_ttl.jsonl".into());
        }
        if sha_names > 0 {
            expected_files.insert("redis/db_0/KEYMAP.jsonl".into());
        }
        let extra_ttls = |map: &BTreeMap<String, u64>, kind: Kind| {
            map.keys()
                .filter(|seg| {
                    !self.keys.values().any(|k| {
                        k.value.kind() == kind
                            && k.ttl.is_some()
                            && encode_segment(&k.name) == **seg
                    })
                })
                .cloned()
                .collect::<Vec<_>>()
        };
        let stray = [
            extra_ttls(&strings_ttl, Kind::String),
            extra_ttls(&hll_ttl, Kind::Hll),
        ]
        .concat();
        if !stray.is_empty() {
            return Err(format!("TTL lines for keys without a TTL: {stray:?}"));
        }
        let files: BTreeSet<String> = tree
            .iter()
            .filter(|(_, b)| b.is_some())
            .map(|(p, _)| p.clone())
            .collect();
        if files != expected_files {
            let extra: Vec<_> = files.difference(&expected_files).collect();
            let missing: Vec<_> = expected_files.difference(&files).collect();
            return Err(format!("unexpected files {extra:?}, missing {missing:?}"));
        }
        Ok(())
    }
}

// =====================================================================================
// Driving the codec
// =====================================================================================

/// The Redis adapter alone.
pub fn redis_only() -> AdapterSet {
    [Adapter::Redis].into_iter().collect()
}

/// What a decode reported.
#[derive(Debug)]
pub struct Decoded {
    /// Counters and visibility statistics.
    pub scan: Scan,
    /// Warnings raised.
    pub warnings: Warnings,
}

/// Decodes `snapshot` with the Redis adapter into `out_root` (which must be empty),
/// spilling in `scratch` (outside `out_root`) with `memory_budget` bytes for every
/// sort — small budgets make the decoder's sorts spill.
pub fn decode_snapshot(
    snapshot: &Path,
    out_root: &Path,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Decoded, DecodeError> {
    let options = || RedisDecodeOptions {
        memory_budget,
        scratch_dir: scratch.to_path_buf(),
        ..RedisDecodeOptions::default()
    };
    let mut adapters: Vec<Box<dyn AdapterDecoder>> =
        vec![Box::new(RedisDecoder::new(out_root, options()))];
    let mut reset = |adapters: &mut Vec<Box<dyn AdapterDecoder>>| -> Result<(), DecodeError> {
        adapters.clear();
        if out_root.exists() {
            for entry in fs::read_dir(out_root).map_err(|e| io_error("list output", e))? {
                let path = entry.map_err(|e| io_error("list output", e))?.path();
                let removed = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                removed.map_err(|e| io_error("empty output", e))?;
            }
        }
        adapters.push(Box::new(RedisDecoder::new(out_root, options())));
        Ok(())
    };
    let scan_options = ScanOptions {
        enabled: redis_only(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: memory_budget,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        snapshot,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut reset,
        &mut |_, _| {},
    )?;
    Ok(Decoded { scan, warnings })
}

fn io_error(context: &str, source: io::Error) -> DecodeError {
    DecodeError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Encodes the `redis/` subtree of `root`, every key stamped `commit_ts`, into memory.
pub fn encode_tree(
    root: &Path,
    commit_ts: u64,
    scratch: &Path,
    memory_budget: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    assemble::encode_tree_to(
        root,
        &[&elastickv_codec::adapters::redis::SPEC],
        commit_ts,
        SortOptions {
            memory_budget,
            scratch_dir: scratch.to_path_buf(),
        },
        &mut out,
    )?;
    Ok(out)
}

/// The base64url a KEYMAP record holds for `name` (for error messages and checks).
pub fn keymap_original(name: &[u8]) -> String {
    encode_base64url(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_pure_and_generation_is_deterministic() {
        let mix = Mix::DEFAULT;
        let a = generate(200, &mix, 7);
        let b = generate(200, &mix, 7);
        assert_eq!(a, b);
        assert_eq!(a.keys.len(), 200);
        assert_ne!(a, generate(200, &mix, 8));
        let kinds = a.kind_counts();
        assert_eq!(kinds.len(), 7, "every kind appears: {kinds:?}");
        assert_eq!(a.live_entries(), b.live_entries());
    }

    #[test]
    fn live_rows_are_distinct_versions() {
        let db = generate(500, &Mix::DEFAULT, 3);
        for set in [db.live_set(), db.shadowed_set(9, true), db.canonical_set(5)] {
            let mut seen = BTreeSet::new();
            for e in &set.entries {
                assert!(
                    seen.insert((e.user_key.clone(), e.commit_ts)),
                    "duplicate version of {:?}",
                    e.user_key
                );
            }
        }
    }

    #[test]
    fn the_generator_reaches_every_edge() {
        let db = generate(2000, &Mix::DEFAULT, 11);
        let keys: Vec<&RedisKey> = db.keys.values().collect();
        assert!(keys.iter().any(|k| k.name.is_empty()));
        assert!(keys.iter().any(|k| k.sha_named()));
        assert!(
            keys.iter()
                .any(|k| k.ttl == Some(i64::MAX as u64) && k.stored_ttl != k.ttl)
        );
        assert!(
            keys.iter()
                .any(|k| k.ttl.is_some_and(|t| t > i64::MAX as u64))
        );
        assert!(keys.iter().any(|k| std::str::from_utf8(&k.name).is_err()));
        assert!(keys.iter().any(|k| matches!(&k.value, Value::ZSet(m)
            if m.values().any(|s| s.to_bits() == (-0.0f64).to_bits()))));
        assert!(keys.iter().any(|k| matches!(&k.value, Value::ZSet(m)
            if m.values().any(|s| s.is_infinite()))));
        assert!(keys.iter().any(|k| matches!(&k.value, Value::Stream(s)
            if s.entries.last().is_some_and(|e| e.id < s.last))));
        assert!(keys.iter().any(|k| matches!(&k.value, Value::Hash(f)
            if f.contains_key(&Vec::new()))));
        assert!(keys.iter().any(|k| k.ttl_line_from_scan_index()));
        for layout in [
            |l: &Layout| matches!(l, Layout::ZSet(ZSetForm::LegacyThenWide { .. })),
            |l: &Layout| {
                matches!(
                    l,
                    Layout::Stream(StreamForm {
                        meta: StreamMetaForm::Trim { .. },
                        ..
                    })
                )
            },
            |l: &Layout| matches!(l, Layout::String(StringForm::ZeroExpiry { .. })),
            |l: &Layout| matches!(l, Layout::List(ListForm { head: i64::MIN, .. })),
        ] {
            assert!(keys.iter().any(|k| layout(&k.layout)));
        }
    }

    #[test]
    fn hand_written_layouts_match_the_codec_builders() {
        assert_eq!(sortable_seq(-2), keys::sortable_seq(-2));
        for s in TRICKY_SCORES {
            assert_eq!(sortable_score(*s), keys::sortable_score(*s), "{s}");
        }
        let fields = vec![
            ("a".to_owned(), "b".to_owned()),
            (String::new(), "é".into()),
        ];
        let flat = fields
            .iter()
            .flat_map(|(n, v)| [n.clone(), v.clone()])
            .collect();
        assert_eq!(
            stream_entry_value("5-6", &fields),
            proto::build_stream_entry("5-6", flat)
        );
        let blob = zset_blob(&[(b"m", -0.0), (b"", 2.5)], false);
        let parsed = proto::parse_zset_blob(&blob).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].score.to_bits(), (-0.0f64).to_bits());
        assert_eq!((parsed[1].member.as_str(), parsed[1].score), ("", 2.5));
        assert_eq!(
            l4(b"!hs|fld|", b"k", b"f"),
            keys::wide_key(keys::HASH_FIELD, b"k", b"f")
        );
    }
}
