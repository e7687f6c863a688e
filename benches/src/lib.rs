//! Deterministic bench workloads, shared by the criterion benches (and reusable by
//! anything else that needs a realistic snapshot without a live cluster).
//!
//! A workload is a list of [`Entry`]s — user keys under the real adapter prefixes,
//! with a realistic mix of body sizes (many small Redis/hash rows, medium DynamoDB
//! items and SQS messages, a few large S3 chunks), a few keys with several versions
//! and some tombstones — sorted by encoded key like a real snapshot. Generation is
//! seeded (`elastickv_splitmix::SplitMix64`) so every run measures the same bytes.
//!
//! The Redis workload ([`redis_workload`]) is a generated logical database
//! (`elastickv_synth::redis`) stored the way live nodes store it; the streaming
//! `redis-mixed` generator is `elastickv_synth::workload::redis`.

use elastickv_splitmix::SplitMix64;
use elastickv_synth::model::{Entry, wrap_runtime_v1, write_snapshot};

/// Default snapshot size of the throughput benches.
pub const DEFAULT_MIB: usize = 64;
/// Snapshot size when the benches only run once as tests.
pub const QUICK_MIB: usize = 2;
/// The default seed.
pub const SEED: u64 = 0x454B_5650_4242_4C31;

/// Whether the bench binary runs in criterion's test mode (`cargo test --benches`, or
/// `cargo bench -- --test`): each bench runs once, so workloads should be small.
pub fn quick_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let test = args.iter().any(|a| a == "--test");
    test || !bench
}

/// Workload size in bytes: `EKV_BENCH_MIB` if set, else [`DEFAULT_MIB`], or
/// [`QUICK_MIB`] in [`quick_mode`].
pub fn workload_bytes() -> usize {
    let mib = std::env::var("EKV_BENCH_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(if quick_mode() { QUICK_MIB } else { DEFAULT_MIB });
    mib << 20
}

/// Base of the generated HLC timestamps (2026-ish milliseconds, shifted past the
/// 16-bit logical counter).
const HLC_BASE: u64 = 1_780_000_000_000 << 16;

/// One key family of the mix: weight (per mille of keys), key head, body size range.
struct Family {
    weight: u64,
    head: &'static str,
    body: (u64, u64),
}

const MIX: &[Family] = &[
    Family {
        weight: 400,
        head: "!redis|str|user:",
        body: (16, 256),
    },
    Family {
        weight: 250,
        head: "!hs|fld|session:",
        body: (8, 64),
    },
    Family {
        weight: 180,
        head: "!ddb|item|orders|1|",
        body: (200, 2_000),
    },
    Family {
        weight: 148,
        head: "!sqs|msg|data|jobs|",
        body: (256, 4_096),
    },
    Family {
        weight: 20,
        head: "!txn|lock|",
        body: (9, 32),
    },
    Family {
        weight: 2,
        head: "!s3|blob|media|",
        body: (64 << 10, 256 << 10),
    },
];

/// Records totalling about `target_bytes` of snapshot, sorted by encoded key (unique).
/// About 10% of keys have 2–3 versions, about 5% end in a tombstone.
pub fn records(target_bytes: usize, seed: u64) -> Vec<Entry> {
    let mut rng = SplitMix64(seed);
    let total_weight: u64 = MIX.iter().map(|f| f.weight).sum();
    let mut out = Vec::new();
    let mut bytes = 16;
    let mut serial = 0u64;
    while bytes < target_bytes {
        let mut pick = rng.range(0, total_weight);
        let family = MIX
            .iter()
            .find(|f| {
                if pick < f.weight {
                    true
                } else {
                    pick -= f.weight;
                    false
                }
            })
            .unwrap_or(&MIX[0]);
        serial += 1;
        let user_key = format!(
            "{}{:016x}",
            family.head,
            serial.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
        .into_bytes();
        let versions = if rng.chance(10) { rng.range(2, 4) } else { 1 };
        let mut ts = HLC_BASE + rng.range(0, 1 << 40);
        for v in 0..versions {
            let body_len = rng.range(family.body.0, family.body.1) as usize;
            let record = Entry {
                user_key: user_key.clone(),
                commit_ts: ts,
                tombstone: v == 0 && rng.chance(5),
                expire_at: 0,
                body: rng.bytes(body_len),
            };
            bytes += record.stream_len();
            out.push(record);
            ts -= rng.range(1, 1 << 20);
        }
    }
    sort_records(&mut out);
    out
}

/// Sorts records ascending by encoded key.
pub fn sort_records(records: &mut [Entry]) {
    records.sort_by_cached_key(Entry::encoded_key);
}

/// Many small records with many versions per key and keys that extend each other:
/// the worst case for visibility bookkeeping. Sorted by encoded key.
pub fn versioned_records(count: usize, seed: u64) -> Vec<Entry> {
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(count);
    let mut serial = 0u64;
    while out.len() < count {
        serial += 1;
        let mut user_key = format!("!redis|str|k{serial:012}").into_bytes();
        if rng.chance(20) {
            // An extension of the previous key: versions interleave (docs/format.md §2).
            user_key = format!("!redis|str|k{:012}", serial - 1).into_bytes();
            user_key.push(0xFF);
        }
        let versions = rng.range(1, 6);
        let mut ts = HLC_BASE + rng.range(0, 1 << 40);
        for v in 0..versions {
            let body_len = rng.range(8, 64) as usize;
            out.push(Entry {
                user_key: user_key.clone(),
                commit_ts: ts,
                tombstone: v == 0 && rng.chance(10),
                expire_at: 0,
                body: rng.bytes(body_len),
            });
            ts -= rng.range(1, 1 << 20);
        }
    }
    out.truncate(count);
    sort_records(&mut out);
    out.dedup_by(|a, b| a.user_key == b.user_key && a.commit_ts == b.commit_ts);
    out
}

/// Writes `records` in the given order as a native snapshot.
pub fn snapshot_bytes<'a>(records: impl IntoIterator<Item = &'a Entry>) -> Vec<u8> {
    write_snapshot(HLC_BASE + (1 << 41), records)
}

/// `(encoded key, encoded value)` pairs, precomputed so a bench measures only what it
/// is about.
pub fn encoded(records: &[Entry]) -> Vec<(Vec<u8>, Vec<u8>)> {
    records
        .iter()
        .map(|r| (r.encoded_key(), r.encoded_value()))
        .collect()
}

/// Wraps a native stream like a live node: `EKVTHLC1 ‖ BE64 ceiling ‖ stream ‖ CRC32C`.
pub fn wrap_runtime(native: &[u8]) -> Vec<u8> {
    wrap_runtime_v1(native, 1_780_000_000_001)
}

/// Key sets for the file-name encoding benches: `(name, keys)`.
pub fn segment_inputs(seed: u64) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let mut rng = SplitMix64(seed);
    let short: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("user:{i:06}:profile").into_bytes())
        .collect();
    let escaped: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("orders/2026-05-{:02} #{i} (copy).json", i % 28 + 1).into_bytes())
        .collect();
    let long: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            let mut key = format!("{i:08}/").into_bytes();
            key.extend(std::iter::repeat_n(b'k', 300));
            key
        })
        .collect();
    let binary: Vec<Vec<u8>> = (0..1000).map(|_| rng.bytes(32)).collect();
    vec![
        ("short", short),
        ("escaped", escaped),
        ("long_sha", long),
        ("binary", binary),
    ]
}

/// Keys of the Redis benches' database by default (mixed types, `Mix::BENCH`).
pub const DEFAULT_REDIS_KEYS: usize = 100_000;
/// Keys when the benches only run once as tests.
pub const QUICK_REDIS_KEYS: usize = 2_000;

/// Keys of the Redis benches' database: `EKV_BENCH_REDIS_KEYS` if set, else
/// [`DEFAULT_REDIS_KEYS`], or [`QUICK_REDIS_KEYS`] in [`quick_mode`].
pub fn redis_keys() -> usize {
    std::env::var("EKV_BENCH_REDIS_KEYS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(if quick_mode() {
            QUICK_REDIS_KEYS
        } else {
            DEFAULT_REDIS_KEYS
        })
}

/// A generated Redis database stored in the live layout.
#[derive(Debug, Clone)]
pub struct RedisWorkload {
    /// The snapshot, sorted like a live node's.
    pub snapshot: Vec<u8>,
    /// Entries in it.
    pub records: u64,
    /// Its header's `lastCommitTS` (also the stamp the encoder benches use).
    pub last_commit_ts: u64,
    /// Keys per type, for the report.
    pub kinds: Vec<(&'static str, usize)>,
}

/// `keys` keys of mixed types (`elastickv_synth::redis::Mix::BENCH`: mostly
/// strings and hashes, small collections, a few unusual live forms), seeded.
pub fn redis_workload(keys: usize, seed: u64) -> RedisWorkload {
    use elastickv_synth::redis::{Mix, generate};
    let db = generate(keys, &Mix::BENCH, seed);
    let set = db.live_set();
    RedisWorkload {
        snapshot: elastickv_synth::model::write_sorted(&set),
        records: set.entries.len() as u64,
        last_commit_ts: set.last_commit_ts,
        kinds: db
            .kind_counts()
            .into_iter()
            .map(|(kind, n)| (kind.dir(), n))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_sorted_unique_and_sized() {
        let records = records(1 << 20, SEED);
        let keys: Vec<Vec<u8>> = records.iter().map(Entry::encoded_key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let bytes = snapshot_bytes(&records);
        assert!(bytes.len() >= 1 << 20);
        assert!(bytes.len() < 3 << 20, "{} bytes", bytes.len());
        assert_eq!(records, super::records(1 << 20, SEED), "deterministic");
    }

    #[test]
    fn redis_workload_is_deterministic_and_sorted() {
        let a = redis_workload(500, SEED);
        assert_eq!(a.snapshot, redis_workload(500, SEED).snapshot);
        assert!(a.records >= 500);
        assert_eq!(a.kinds.iter().map(|(_, n)| n).sum::<usize>(), 500);
        let mut reader = elastickv_codec::container::SnapshotReader::new(&a.snapshot[..]).unwrap();
        let mut previous: Option<Vec<u8>> = None;
        while let Some(entry) = reader.next_entry().unwrap() {
            if let Some(p) = &previous {
                assert!(p.as_slice() < entry.encoded_key);
            }
            previous = Some(entry.encoded_key.to_vec());
        }
    }

    #[test]
    fn versioned_records_are_sorted() {
        let records = versioned_records(5000, SEED);
        let keys: Vec<Vec<u8>> = records.iter().map(Entry::encoded_key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
