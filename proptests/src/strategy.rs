//! Proptest strategies for snapshots.
//!
//! Entry sets are built so that the cases that break naive code are common:
//!
//! * keys under every routed prefix of `dispatch::TABLE`, plus `!`-keys no prefix
//!   matches, raw-looking keys (`_meta_…`) and arbitrary bytes (empty key included);
//! * keys that strictly extend other keys by bytes such as `0x00`, `0xFE`, `0xFF`, so
//!   a key's versions can sort around its extensions (docs/format.md §2);
//! * several versions per key with distinct timestamps drawn from the extremes
//!   (`0`, `u64::MAX`, …) as well as realistic HLC values;
//! * tombstones, expiries, and bodies from empty to larger than the reader's buffer.

use std::collections::BTreeSet;

use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;

use elastickv_codec::dispatch::TABLE;

use elastickv_synth::model::{Entry, EntrySet};

/// Size knobs of [`entry_set_with`].
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Most distinct base keys.
    pub max_base_keys: usize,
    /// Most keys derived by extending a base key.
    pub max_extensions: usize,
    /// Most versions per user key.
    pub max_versions: usize,
    /// Longest ordinary body.
    pub max_body: usize,
    /// Whether now and then a body crosses the reader's 64 KiB buffer.
    pub large_bodies: bool,
}

impl Shape {
    /// The default shape: up to ~60 versions, bodies mostly small.
    pub const DEFAULT: Shape = Shape {
        max_base_keys: 12,
        max_extensions: 8,
        max_versions: 3,
        max_body: 64,
        large_bodies: true,
    };

    /// Small files, for properties that are quadratic in the file size.
    pub const SMALL: Shape = Shape {
        max_base_keys: 5,
        max_extensions: 3,
        max_versions: 3,
        max_body: 24,
        large_bodies: false,
    };
}

/// Bytes that make extensions interesting: they compare low/high against the
/// inverted-timestamp suffix of the shorter key.
const EXTENSION_BYTES: &[u8] = &[0x00, 0x01, b'a', b'|', 0x7F, 0xFE, 0xFF];

/// Heads of keys that no prefix routes.
const UNROUTED_HEADS: &[&[u8]] = &[b"!redis|hash|", b"!unknown|", b"!", b"_meta_", b"zzz", b""];

/// Heads of segment inputs: none (twice as likely), SHA-looking, `b64.`, reserved.
const SEGMENT_HEADS: &[&[u8]] = &[
    b"",
    b"",
    b"b64.",
    b"0123456789abcdef0123456789ABCDEF__",
    b"~",
];

/// A key routed by the table: a prefix and a short tail.
pub fn routed_key() -> impl Strategy<Value = Vec<u8>> {
    (select(TABLE), vec(any::<u8>(), 0..12)).prop_map(|(prefix, tail)| {
        let mut key = prefix.bytes.to_vec();
        key.extend_from_slice(&tail);
        key
    })
}

/// Keys no prefix routes: `!`-keys of unknown families, raw-store-looking keys and
/// arbitrary bytes (including the empty key).
pub fn unrouted_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        select(UNROUTED_HEADS).prop_flat_map(|head| vec(any::<u8>(), 0..8).prop_map(move |tail| {
            let mut key = head.to_vec();
            key.extend_from_slice(&tail);
            key
        })),
        vec(any::<u8>(), 0..24),
    ]
}

/// Any user key, mostly routed.
pub fn user_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![4 => routed_key(), 1 => unrouted_key()]
}

/// Commit timestamps: extremes (whose inverted bytes are `0xFF…` or `0x00…`),
/// realistic HLCs (48-bit milliseconds ‖ 16-bit counter) and anything.
pub fn commit_ts() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0u64..8,
        2 => (u64::MAX - 8)..=u64::MAX,
        1 => select(&[1u64 << 56, (1 << 56) - 1, 0xFF, 0x100][..]),
        3 => (1_600_000_000_000u64..1_900_000_000_000, 0u64..4)
            .prop_map(|(ms, logical)| (ms << 16) | logical),
        2 => any::<u64>(),
    ]
}

/// A value body.
pub fn body(max: usize, large: bool) -> impl Strategy<Value = Vec<u8>> {
    // Large bodies are a repeated pattern: cheap to generate, and the point is their
    // length (the reader reads fields past its buffer size directly).
    let (lo, hi) = if large {
        (65_000, 140_000)
    } else {
        (0, max + 1)
    };
    prop_oneof![
        20 => vec(any::<u8>(), 0..=max),
        1 => (lo..hi, any::<u8>())
            .prop_map(|(len, seed)| (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()),
    ]
}

/// Base keys plus extensions of them; distinct.
pub fn key_family(shape: Shape) -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(user_key(), 1..=shape.max_base_keys).prop_flat_map(move |bases| {
        let n = bases.len();
        let extensions = vec(
            (0..n, vec(select(EXTENSION_BYTES), 1..4)),
            0..=shape.max_extensions,
        );
        (Just(bases), extensions).prop_map(|(bases, extensions)| {
            let mut keys: BTreeSet<Vec<u8>> = bases.iter().cloned().collect();
            for (base, tail) in extensions {
                let mut key = bases[base].clone();
                key.extend_from_slice(&tail);
                keys.insert(key);
            }
            keys.into_iter().collect()
        })
    })
}

/// All versions of one key: distinct timestamps, each with its own tombstone flag,
/// expiry and body.
pub fn versions_of(key: Vec<u8>, shape: Shape) -> impl Strategy<Value = Vec<Entry>> {
    btree_set(commit_ts(), 1..=shape.max_versions).prop_flat_map(move |stamps| {
        let key = key.clone();
        let per_version: Vec<_> = stamps
            .into_iter()
            .map(|ts| {
                let key = key.clone();
                (
                    prop::bool::weighted(0.25),
                    prop_oneof![4 => Just(0u64), 1 => any::<u64>()],
                    body(shape.max_body, shape.large_bodies),
                )
                    .prop_map(move |(tombstone, expire_at, body)| Entry {
                        user_key: key.clone(),
                        commit_ts: ts,
                        tombstone,
                        expire_at,
                        body,
                    })
            })
            .collect();
        per_version
    })
}

/// An entry set of the given shape, in a generation order that is not sorted.
pub fn entry_set_with(shape: Shape) -> impl Strategy<Value = EntrySet> {
    key_family(shape)
        .prop_flat_map(move |keys| {
            let per_key: Vec<_> = keys.into_iter().map(|k| versions_of(k, shape)).collect();
            (
                per_key,
                prop_oneof![Just(None), any::<u64>().prop_map(Some)],
            )
        })
        .prop_map(|(per_key, last)| {
            let entries: Vec<Entry> = per_key.into_iter().flatten().collect();
            let newest = entries.iter().map(|e| e.commit_ts).max().unwrap_or(0);
            EntrySet {
                last_commit_ts: last.unwrap_or(newest),
                entries,
            }
        })
}

/// An entry set of the default shape.
pub fn entry_set() -> impl Strategy<Value = EntrySet> {
    entry_set_with(Shape::DEFAULT)
}

/// A small entry set (for quadratic properties such as "every truncation").
pub fn small_entry_set() -> impl Strategy<Value = EntrySet> {
    entry_set_with(Shape::SMALL)
}

/// An entry set and a random permutation of its entries.
pub fn shuffled_entry_set_with(shape: Shape) -> impl Strategy<Value = (EntrySet, Vec<usize>)> {
    entry_set_with(shape).prop_flat_map(|set| {
        let order: Vec<usize> = (0..set.entries.len()).collect();
        (Just(set), Just(order).prop_shuffle())
    })
}

/// An entry set of the default shape and a permutation of it.
pub fn shuffled_entry_set() -> impl Strategy<Value = (EntrySet, Vec<usize>)> {
    shuffled_entry_set_with(Shape::DEFAULT)
}

/// Raw bytes for file-name segments: SHA-looking and `b64.` heads, lengths around the
/// 240-byte bound (and around 80, where percent-encoding crosses it), mostly
/// unreserved or mostly escaped contents.
pub fn segment_bytes() -> impl Strategy<Value = Vec<u8>> {
    let unreserved: Vec<u8> =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._".to_vec();
    let content = prop_oneof![
        vec(select(unreserved.clone()), 0..=16),
        vec(select(unreserved.clone()), 230..=250),
        vec(select(unreserved), 0..=300),
        vec(any::<u8>(), 0..=16),
        vec(any::<u8>(), 75..=85),
        vec(any::<u8>(), 0..=300),
    ];
    let head = select(SEGMENT_HEADS);
    (head, content).prop_map(|(head, content)| {
        let mut raw = head.to_vec();
        raw.extend_from_slice(&content);
        raw
    })
}
