//! The Redis profiles: a streaming generator of Redis snapshots in the live layout
//! (docs/format.md §3.4), for workloads too large to build in memory (the peak-RSS runs of
//! `benches/peak-rss.sh`, ≥ 1 GiB) and the benches' small Redis workloads.
//!
//! Entries are written in ascending encoded-key order without sorting anything: the
//! key families are emitted in their byte order (`!hs|fld|` < `!hs|meta|` < `!lst|itm|`
//! < `!lst|meta|` < `!redis|str|` < `!redis|ttl|` < `!stream|entry|` < `!stream|meta|` < `!st|mem|` <
//! `!st|meta|` < `!zs|mem|` < `!zs|meta|` < `!zs|scr|`), user keys and element names
//! are fixed-width within a family, and every entry carries the same commit timestamp,
//! so the order within a family is the order of the counters. Memory stays constant
//! whatever the size.
//!
//! [`RedisMix::redis_mixed`] at scale 1 is the `redis-mixed` profile: 200k strings of
//! 16–512 bytes (10% with a TTL), 20k hashes, lists and sets of 10 elements, 10k zsets
//! of 10, 2k streams of 20 entries. [`RedisMix::giant`] adds one very large collection
//! of each type (the case a decoder that buffers per key would blow up on).
//!
//! The bytes are part of the contract: the Redis rows of `samples/mixed-sample.fsm` are
//! this generator's output (a CLI test regenerates it), so a change to any draw changes
//! the sample.

use std::io::{self, Write};

use elastickv_codec::adapters::redis::keys::{
    self, StreamId, list_item_key, raw_key, stream_entry_key, wide_key, zset_score_key,
};
use elastickv_codec::adapters::redis::proto::build_stream_entry;
use elastickv_codec::adapters::redis::values::{
    build_count_meta, build_list_meta, build_stream_meta, build_string, build_ttl, build_zset_score,
};
use elastickv_codec::container::{SnapshotWriter, encode_key};
use elastickv_codec::dispatch::Adapter;
use elastickv_splitmix::SplitMix64;

use super::{Profile, Summary, Workload};

/// `redis-mixed`: every Redis type, in the proportions of [`RedisMix::redis_mixed`].
pub const REDIS_MIXED: Profile = Profile {
    name: "redis-mixed",
    about: "Redis, all types: per unit of scale 200k strings of 16-512 bytes (10% with a \
            TTL), 20k hashes, lists and sets of 10, 10k zsets of 10, 2k streams of 20 \
            (about 175 MB)",
    adapters: &[Adapter::Redis],
    has_giant: true,
    write: write_redis_mixed,
};

/// `redis-mixed`'s writer: the profile's `--scale` and `--giant` as a [`RedisMix`].
fn write_redis_mixed(out: &mut dyn Write, workload: &Workload, seed: u64) -> io::Result<Summary> {
    write_redis_mixed_at(out, workload, seed, REDIS_COMMIT_TS)
}

/// `redis-mixed` with every entry (and the header) at `commit_ts`: the Redis part of the
/// `mixed` profile, whose adapters share one timestamp.
pub(super) fn write_redis_mixed_at(
    out: &mut dyn Write,
    workload: &Workload,
    seed: u64,
    commit_ts: u64,
) -> io::Result<Summary> {
    let mix = RedisMix::redis_mixed(workload.scale.get()).giant(workload.giant);
    write_redis_at(out, &mix, seed, commit_ts).map(|(_, summary)| summary)
}

/// The commit timestamp of every generated entry (and the header's `lastCommitTS`).
pub const REDIS_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 7;

/// Expiry times are drawn after this (2026-ish, milliseconds).
const EXPIRE_BASE_MS: u64 = 1_790_000_000_000;

/// How many keys of each type, and how large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisMix {
    /// String keys.
    pub strings: u64,
    /// String body sizes, `lo..hi` bytes.
    pub string_body: (u64, u64),
    /// Percentage of keys (of every type) with a TTL.
    pub ttl_percent: u64,
    /// Hash keys, and fields per hash.
    pub hashes: (u64, u64),
    /// List keys, and items per list.
    pub lists: (u64, u64),
    /// Set keys, and members per set.
    pub sets: (u64, u64),
    /// Zset keys, and members per zset.
    pub zsets: (u64, u64),
    /// Stream keys, and entries per stream.
    pub streams: (u64, u64),
    /// Elements of the one giant hash, list and set (0: none); the giant zset gets half
    /// as many, the giant stream a fifth.
    pub giant: u64,
}

fn scaled(n: u64, scale: f64) -> u64 {
    ((n as f64) * scale).round() as u64
}

impl RedisMix {
    /// The `redis-mixed` profile at `scale` (1.0: 200k strings, 20k hashes/lists/sets,
    /// 10k zsets, 2k streams; about 175 MB of snapshot).
    pub fn redis_mixed(scale: f64) -> Self {
        RedisMix {
            strings: scaled(200_000, scale),
            string_body: (16, 513),
            ttl_percent: 10,
            hashes: (scaled(20_000, scale), 10),
            lists: (scaled(20_000, scale), 10),
            sets: (scaled(20_000, scale), 10),
            zsets: (scaled(10_000, scale), 10),
            streams: (scaled(2_000, scale), 20),
            giant: 0,
        }
    }

    /// Adds one giant collection of each type with `elements` elements.
    #[must_use]
    pub fn giant(mut self, elements: u64) -> Self {
        self.giant = elements;
        self
    }
}

/// Writes `mix` as a native snapshot into `out` (buffer it), sorted like a live node's.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_redis_snapshot<W: Write>(
    out: W,
    mix: &RedisMix,
    seed: u64,
) -> io::Result<(W, Summary)> {
    write_redis_at(out, mix, seed, REDIS_COMMIT_TS)
}

/// [`write_redis_snapshot`] with every entry (and the header) at `commit_ts`.
fn write_redis_at<W: Write>(
    out: W,
    mix: &RedisMix,
    seed: u64,
    commit_ts: u64,
) -> io::Result<(W, Summary)> {
    let mut g = Gen {
        writer: SnapshotWriter::new(out, commit_ts)?,
        commit_ts,
        rng: SplitMix64(seed),
        seed,
        key: Vec::with_capacity(256),
        value: Vec::with_capacity(1024),
    };
    let giant = mix.giant;
    let hashes = Family::new("hash", mix.hashes, giant);
    let lists = Family::new("list", mix.lists, giant);
    let sets = Family::new("set", mix.sets, giant);
    let zsets = Family::new("zset", mix.zsets, giant / 2);
    let streams = Family::new("stream", mix.streams, giant / 5);

    // !hs|fld|, !hs|meta|
    for (k, n) in hashes.iter() {
        for j in 0..n {
            let field = format!("field:{j:08}");
            let value = g.text(16, 129);
            g.put(&wide_key(keys::HASH_FIELD, &k, field.as_bytes()), &value)?;
        }
    }
    for (k, n) in hashes.iter() {
        let meta = build_count_meta(n, g.ttl("hash", &k, mix.ttl_percent));
        g.put(&wide_key(keys::HASH_META, &k, b""), &meta)?;
    }
    // !lst|itm|, !lst|meta|
    for (k, n) in lists.iter() {
        for j in 0..n {
            let item = g.text(16, 129);
            g.put(&list_item_key(&k, j as i64), &item)?;
        }
    }
    for (k, n) in lists.iter() {
        let meta = build_list_meta(n, g.ttl("list", &k, mix.ttl_percent));
        g.put(&raw_key(keys::LIST_META, &k), &meta)?;
    }
    // !redis|str|
    let (lo, hi) = mix.string_body;
    for i in 0..mix.strings {
        let k = format!("string:{i:010}").into_bytes();
        let len = g.rng.range(lo, hi) as usize;
        let body = g.rng.bytes(len);
        let expire = g.ttl("string", &k, mix.ttl_percent).unwrap_or(0);
        g.put(&raw_key(keys::STRING, &k), &build_string(&body, expire))?;
    }
    // !redis|ttl|: the scan-index row a live node keeps for every expiring collection
    // (strings carry their TTL inline only). User keys sort by type name, and the
    // families are visited in that order.
    for family in [&hashes, &lists, &sets, &streams, &zsets] {
        for (k, _) in family.iter() {
            if let Some(ms) = g.ttl(family.kind, &k, mix.ttl_percent) {
                g.put(&raw_key(keys::TTL, &k), &build_ttl(ms))?;
            }
        }
    }
    // !stream|entry|, !stream|meta|
    for (k, n) in streams.iter() {
        for j in 0..n {
            let id = stream_id(j);
            let mut fields = Vec::new();
            for f in 0..g.rng.range(1, 4) {
                fields.push(format!("f{f}"));
                fields.push(String::from_utf8(g.text(8, 65)).unwrap_or_default());
            }
            g.put(
                &stream_entry_key(&k, id),
                &build_stream_entry(&id.to_string(), fields),
            )?;
        }
    }
    for (k, n) in streams.iter() {
        let last = stream_id(n.saturating_sub(1));
        let meta = build_stream_meta(n, last, g.ttl("stream", &k, mix.ttl_percent));
        g.put(&wide_key(keys::STREAM_META, &k, b""), &meta)?;
    }
    // !st|mem|, !st|meta|
    for (k, n) in sets.iter() {
        for j in 0..n {
            let member = g.member(j);
            g.put(&wide_key(keys::SET_MEMBER, &k, &member), b"")?;
        }
    }
    for (k, n) in sets.iter() {
        let meta = build_count_meta(n, g.ttl("set", &k, mix.ttl_percent));
        g.put(&wide_key(keys::SET_META, &k, b""), &meta)?;
    }
    // !zs|mem|, !zs|meta|, !zs|scr|: the member (and score) sequences are replayed from
    // a per-key seed so that both indexes agree.
    for (k, n) in zsets.iter() {
        let mut z = ZsetMembers::new(seed, &k);
        for _ in 0..n {
            let (member, score) = z.next();
            g.put(
                &wide_key(keys::ZSET_MEMBER, &k, &member),
                &build_zset_score(score),
            )?;
        }
    }
    for (k, n) in zsets.iter() {
        let meta = build_count_meta(n, g.ttl("zset", &k, mix.ttl_percent));
        g.put(&wide_key(keys::ZSET_META, &k, b""), &meta)?;
    }
    for (k, n) in zsets.iter() {
        let mut z = ZsetMembers::new(seed, &k);
        for _ in 0..n {
            let (member, score) = z.next();
            g.put(&zset_score_key(&k, score, &member), b"")?;
        }
    }

    let keys = mix.strings
        + [&hashes, &lists, &sets, &zsets, &streams]
            .iter()
            .map(|f| f.keys())
            .sum::<u64>();
    let entries = g.writer.entries();
    let bytes = g.writer.bytes_written();
    let out = g.writer.finish()?;
    Ok((
        out,
        Summary {
            entries,
            bytes,
            keys,
            last_commit_ts: commit_ts,
        },
    ))
}

/// The `j`-th ID of a generated stream (strictly increasing).
fn stream_id(j: u64) -> StreamId {
    StreamId {
        ms: 1_780_000_000_000 + j / 3,
        seq: j % 3,
    }
}

/// Keys of one collection type: `count` regular keys of `elements` elements, then
/// the giant one (same key width, so it sorts last).
struct Family {
    kind: &'static str,
    count: u64,
    elements: u64,
    giant: u64,
}

impl Family {
    fn new(kind: &'static str, (count, elements): (u64, u64), giant: u64) -> Self {
        Family {
            kind,
            count,
            elements,
            giant,
        }
    }

    fn keys(&self) -> u64 {
        self.count + u64::from(self.giant > 0)
    }

    fn iter(&self) -> impl Iterator<Item = (Vec<u8>, u64)> + '_ {
        (0..self.keys()).map(|i| {
            let n = if i < self.count {
                self.elements
            } else {
                self.giant
            };
            (format!("{}:{i:010}", self.kind).into_bytes(), n)
        })
    }
}

/// Zset members in member order with strictly increasing scores, so the `!zs|mem|`
/// and `!zs|scr|` passes see the same sequence in their own key order.
struct ZsetMembers {
    rng: SplitMix64,
    j: u64,
    score: f64,
}

impl ZsetMembers {
    fn new(seed: u64, key: &[u8]) -> Self {
        let mut rng = SplitMix64(seed ^ fnv(key));
        let start = -((rng.range(0, 1_000_000) as f64) / 1000.0);
        ZsetMembers {
            rng,
            j: 0,
            score: start,
        }
    }

    fn next(&mut self) -> (Vec<u8>, f64) {
        let mut member = format!("member:{:08}:", self.j).into_bytes();
        let tail = self.rng.range(0, 24) as usize;
        member.extend((0..tail).map(|_| b'a' + (self.rng.next_u64() % 26) as u8));
        self.j += 1;
        // Scores with many significant digits: exercises the float rendering.
        self.score += 0.125 + (self.rng.range(0, 1 << 20) as f64) / 3_000_000.0;
        (member, self.score)
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

struct Gen<W: Write> {
    writer: SnapshotWriter<W>,
    /// Every entry's commit timestamp.
    commit_ts: u64,
    rng: SplitMix64,
    seed: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl<W: Write> Gen<W> {
    /// Writes one live entry: `user_key ‖ ^ts`, `flags(0) ‖ LE64 expireAt(0) ‖ value`.
    fn put(&mut self, user_key: &[u8], value: &[u8]) -> io::Result<()> {
        self.key.clear();
        encode_key(user_key, self.commit_ts, &mut self.key);
        self.value.clear();
        self.value.push(0);
        self.value.extend_from_slice(&0u64.to_le_bytes());
        self.value.extend_from_slice(value);
        self.writer.write_entry(&self.key, &self.value)
    }

    /// The TTL of a key, decided by its name alone (the meta row of a collection is
    /// written in a later pass than its elements).
    fn ttl(&self, kind: &str, key: &[u8], percent: u64) -> Option<u64> {
        let mut rng = SplitMix64(self.seed ^ fnv(kind.as_bytes()) ^ fnv(key));
        rng.chance(percent)
            .then(|| EXPIRE_BASE_MS + rng.range(0, 1 << 36))
    }

    /// Printable ASCII of `lo..hi` bytes.
    fn text(&mut self, lo: u64, hi: u64) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -";
        let len = self.rng.range(lo, hi) as usize;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            let mut bits = self.rng.next_u64();
            for _ in 0..10 {
                out.push(ALPHABET[(bits & 63) as usize]);
                bits >>= 6;
            }
        }
        out.truncate(len);
        out
    }

    /// A set member: fixed-width index, then a random tail (order decided by the index).
    fn member(&mut self, j: u64) -> Vec<u8> {
        let mut member = format!("member:{j:08}:").into_bytes();
        let tail = self.text(0, 24);
        member.extend_from_slice(&tail);
        member
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_codec::container::SnapshotReader;

    #[test]
    fn sorted_unique_deterministic() {
        let mix = RedisMix::redis_mixed(0.005).giant(300);
        let (a, summary) = write_redis_snapshot(Vec::new(), &mix, 7).unwrap();
        let (b, _) = write_redis_snapshot(Vec::new(), &mix, 7).unwrap();
        assert_eq!(a, b, "deterministic");
        assert_eq!(summary.bytes, a.len() as u64);
        assert_eq!(summary.keys, 1000 + 100 * 3 + 50 + 10 + 5);
        let mut reader = SnapshotReader::new(&a[..]).unwrap();
        let mut previous: Option<Vec<u8>> = None;
        let mut n = 0;
        while let Some(entry) = reader.next_entry().unwrap() {
            if let Some(p) = &previous {
                assert!(p.as_slice() < entry.encoded_key, "sorted and unique");
            }
            previous = Some(entry.encoded_key.to_vec());
            n += 1;
        }
        assert_eq!(n, summary.entries);
    }
}
