//! Generation: a key is a pure function of its [`KeySpec`], so the proptest
//! strategies (in `elastickv-proptests`) shrink by editing specs, and the seeded
//! [`generate`] draws specs from a [`Mix`] with the same code.

use std::collections::{BTreeMap, BTreeSet};

use elastickv_codec::adapters::redis::keys::StreamId;
use elastickv_codec::tree::segment::{encode_segment, is_sha_fallback};
use elastickv_splitmix::SplitMix64;

use super::model::{
    CountForm, HllForm, Kind, Layout, ListForm, MetaForm, RedisDb, RedisKey, Stream, StreamEntry,
    StreamForm, StreamMetaForm, StringForm, Value, ZSetForm,
};

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

    fn kind(&self, rng: &mut SplitMix64) -> Kind {
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
        let mut rng = SplitMix64(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
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
pub(super) const TRICKY_SCORES: &[f64] = &[
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

fn utf8_string(rng: &mut SplitMix64, max_chars: u64) -> String {
    let n = rng.below(max_chars + 1);
    (0..n).map(|_| rng.pick(PALETTE)).collect()
}

fn word(rng: &mut SplitMix64) -> String {
    format!("{}:{}", rng.pick(WORDS), rng.below(100_000))
}

/// A user key: mostly ordinary, sometimes UTF-8 with escapes, binary, empty, long
/// enough for the SHA fallback, right at the 240-byte bound, or shaped like the
/// names the segment encoder promotes to SHA (`b64.…`, 32 hex + `__`).
fn key_name(rng: &mut SplitMix64) -> Vec<u8> {
    match rng.below(20) {
        0..=7 => word(rng).into_bytes(),
        8..=9 => utf8_string(rng, 8).into_bytes(),
        10..=11 => {
            let n = rng.range_inclusive(1, 16) as usize;
            rng.bytes(n)
        }
        12 => Vec::new(),
        13 => {
            // Over 240 raw bytes: SHA fallback.
            let n = rng.range_inclusive(241, 320);
            (0..n).map(|_| rng.pick(UNRESERVED)).collect()
        }
        14 => {
            // 81..=240 bytes that all need escaping: > 240 once percent-encoded.
            let n = rng.range_inclusive(81, 240) as usize;
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
fn blob(rng: &mut SplitMix64, size: u8) -> Vec<u8> {
    let scale = u64::from(size) + 1;
    match rng.below(10) {
        0 => Vec::new(),
        1..=3 => {
            let n = rng.range_inclusive(1, 4 * scale);
            (0..n).map(|_| rng.pick(UNRESERVED)).collect()
        }
        4..=5 => utf8_string(rng, 3 * scale).into_bytes(),
        6..=8 => {
            let n = rng.below(4 * scale + 1) as usize;
            rng.bytes(n)
        }
        _ => {
            let n = rng.range_inclusive(64, 64 + 48 * scale) as usize;
            rng.bytes(n)
        }
    }
}

fn score(rng: &mut SplitMix64) -> f64 {
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

fn stream_id(rng: &mut SplitMix64) -> StreamId {
    match rng.below(4) {
        0 => StreamId { ms: 0, seq: 0 },
        1 => StreamId {
            ms: rng.range_inclusive(1_700_000_000_000, 1_800_000_000_000),
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

fn gen_stream(rng: &mut SplitMix64, n: u64, size: u8) -> Stream {
    let mut entries: Vec<StreamEntry> = Vec::new();
    let mut id = stream_id(rng);
    for i in 0..n {
        if i > 0 {
            // Gaps: a later millisecond, or a later sequence in the same one.
            let next = if rng.chance(50) {
                id.ms
                    .checked_add(rng.range_inclusive(1, 1 << 20))
                    .map(|ms| StreamId {
                        ms,
                        seq: rng.below(3),
                    })
            } else {
                id.seq
                    .checked_add(rng.range_inclusive(1, 1000))
                    .map(|seq| StreamId { ms: id.ms, seq })
            };
            match next {
                Some(next) => id = next,
                None => break,
            }
        }
        let pairs = if rng.chance(10) {
            0
        } else {
            rng.range_inclusive(1, 3)
        };
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
                    .checked_add(rng.range_inclusive(1, 50))
                    .map(|seq| StreamId { ms: e.id.ms, seq })
            } else {
                e.id.ms
                    .checked_add(rng.range_inclusive(1, 1 << 30))
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
fn gen_ttl(rng: &mut SplitMix64, clamps: bool) -> (Option<u64>, Option<u64>) {
    if rng.chance(45) {
        return (None, None);
    }
    let stored = match rng.below(10) {
        0..=5 => rng.range_inclusive(1_700_000_000_000, 2_100_000_000_000),
        6 => rng.range_inclusive(1, 1000),
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

fn stale_row(rng: &mut SplitMix64) -> Option<u64> {
    rng.chance(50)
        .then(|| rng.range_inclusive(1, 2_100_000_000_000))
}

fn meta_form(rng: &mut SplitMix64, allow_absent: bool) -> MetaForm {
    match rng.below(if allow_absent { 3 } else { 2 }) {
        0 => MetaForm::Plain,
        1 => MetaForm::Inline {
            stale_ttl_row: stale_row(rng),
        },
        _ => MetaForm::Absent,
    }
}

fn count_form(rng: &mut SplitMix64, allow_absent: bool) -> CountForm {
    CountForm {
        meta: meta_form(rng, allow_absent),
        deltas: if rng.chance(25) {
            rng.range_inclusive(1, 3) as u8
        } else {
            0
        },
    }
}

fn noise(rng: &mut SplitMix64) -> u8 {
    if rng.chance(50) {
        0
    } else {
        (rng.next_u64() as u8) & !1
    }
}

impl KeySpec {
    /// The key this spec stands for.
    pub fn materialize(&self) -> RedisKey {
        let mut rng = SplitMix64(self.seed);
        let mut name = key_name(&mut rng);
        if self.kind == Kind::List && name.starts_with(b"d|") {
            // `!lst|meta|d|…` is the delta family: such a list cannot be restored.
            name.insert(0, b'L');
        }
        let commit_ts =
            (rng.range_inclusive(1_700_000_000_000, 1_800_000_000_000) << 16) | rng.below(1 << 16);
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

    fn exotic_layout(&self, rng: &mut SplitMix64, n: u64) -> Layout {
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
                    let stale = (0..rng.range_inclusive(0, 3))
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
    pub(super) fn needs_elements(&self) -> bool {
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
        let mut rng = SplitMix64(seed ^ 0x6F72_7068_616E);
        for i in 0..orphans {
            let mut name = b"\xFE\xFForphan:".to_vec();
            name.extend_from_slice(format!("{i}:{}", rng.below(1000)).as_bytes());
            if !db.keys.contains_key(&name) {
                let ms = rng.range_inclusive(1, 2_100_000_000_000);
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
}
