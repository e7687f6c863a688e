//! The bounded-memory decoder against itself: how much it spills must not change what
//! it produces. Generated snapshots with every rule the decoder implements (TTL
//! routing and its pending budget, shared keys, legacy vs wide zsets, stream meta,
//! length warnings, SHA-fallback names, binary and prefix keys) must give the same
//! tree, warnings and error at a memory budget of 1 byte (every sort spills at once),
//! 300 bytes (a few rows per run) and unlimited (nothing spills); and a pending-TTL cap
//! may only make a decode fail with `pending-ttl-buffer-full`, never change what a
//! decode that does not fail produces.
//!
//! No second decoder is needed: what the tree should *be* is checked elsewhere, by
//! the Go reference vectors (`conformance`, byte-identical trees and warnings), the
//! model-based properties of `proptests/tests/redis.rs` and the hand-written rules of
//! `scenarios`. This file checks the one thing those cannot pin down cheaply: that
//! the external sorts, their merge levels and the TTL joins (`spill`, `ttl`,
//! `collections`) are invisible in the output.

use std::collections::BTreeMap;

use prost::Message as _;

use crate::adapter::{AdapterDecoder, Warnings};
use crate::container::EntryRef;
use crate::dispatch::route;

use super::keys::{self, StreamId};
use super::proto::{self, RedisZSetEntry, RedisZSetValue};
use super::values;
use super::{RedisDecodeOptions, RedisDecoder};
use elastickv_splitmix::SplitMix64 as Rng;
use elastickv_testkit::tree::read_tree;

use crate::tree::writer::TreeWriter;

/// Short bytes over a small alphabet: collisions, shared prefixes, zero bytes,
/// invalid UTF-8 and HTML characters are all common.
const BYTES: &[u8] = b"ab\0\xff<|d";

/// The generators only this file needs, on top of the shared [`Rng`].
trait RngExt {
    fn text(&mut self, max_len: u64) -> String;
    fn ms(&mut self) -> u64;
    fn score(&mut self) -> f64;
}

impl RngExt for Rng {
    fn text(&mut self, max_len: u64) -> String {
        self.word(max_len, b"xy<&z")
            .into_iter()
            .map(char::from)
            .collect()
    }

    fn ms(&mut self) -> u64 {
        match self.below(10) {
            0 => 0,
            1 => u64::MAX,
            _ => 1_700_000_000_000 + self.below(1_000_000),
        }
    }

    fn score(&mut self) -> f64 {
        match self.below(8) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => -0.0,
            3 => 1e-7,
            _ => (self.below(2000) as f64 - 1000.0) / 8.0,
        }
    }
}

type Records = BTreeMap<Vec<u8>, Vec<u8>>;

fn legacy_blob(entries: Vec<(String, f64)>) -> Vec<u8> {
    let msg = RedisZSetValue {
        entries: entries
            .into_iter()
            .map(|(member, score)| RedisZSetEntry { member, score })
            .collect(),
    };
    [proto::ZSET_BLOB_MAGIC, &msg.encode_to_vec()].concat()
}

fn inline(rng: &mut Rng) -> Option<u64> {
    rng.chance(30).then(|| rng.ms())
}

fn count_meta(rng: &mut Rng, observed: usize) -> Vec<u8> {
    let declared = if rng.chance(80) {
        observed as u64
    } else {
        rng.below(9)
    };
    let mut meta = declared.to_be_bytes().to_vec();
    if let Some(ms) = inline(rng) {
        meta.extend_from_slice(&ms.to_be_bytes());
    }
    meta
}

/// Rows of one collection-typed key; `n` bounds the element count.
fn collection_rows(rng: &mut Rng, out: &mut Records, key: &[u8], n: u64) {
    match rng.below(5) {
        0 => {
            let fields = rng.below(n + 1);
            for _ in 0..fields {
                let (name, value) = (rng.word(3, BYTES), rng.word(4, BYTES));
                out.insert(keys::wide_key(keys::HASH_FIELD, key, &name), value);
            }
            if rng.chance(70) {
                let meta = count_meta(rng, fields as usize);
                out.insert(keys::wide_key(keys::HASH_META, key, b""), meta);
            }
            if rng.chance(10) {
                // A second meta row (key with a tail) and a delta.
                let meta = count_meta(rng, 0);
                out.insert(keys::wide_key(keys::HASH_META, key, b"junk"), meta);
                out.insert(keys::wide_key(b"!hs|meta|d|", key, &[0; 12]), vec![0; 8]);
            }
        }
        1 => {
            let items = rng.below(n + 1);
            for _ in 0..items {
                let seq = rng.below(64) as i64 - 32;
                out.insert(keys::list_item_key(key, seq), rng.word(4, BYTES));
            }
            if rng.chance(70) {
                let meta = values::build_list_meta(rng.below(6), inline(rng).filter(|&m| m != 0));
                out.insert(keys::raw_key(keys::LIST_META, key), meta);
            }
        }
        2 => {
            for _ in 0..rng.below(n + 1) {
                out.insert(
                    keys::wide_key(keys::SET_MEMBER, key, &rng.word(3, BYTES)),
                    Vec::new(),
                );
            }
            if rng.chance(70) {
                let meta = count_meta(rng, 2);
                out.insert(keys::wide_key(keys::SET_META, key, b""), meta);
            }
        }
        3 => {
            if rng.chance(40) {
                let entries = (0..rng.below(5))
                    .map(|_| (rng.text(2), rng.score()))
                    .collect();
                out.insert(keys::raw_key(b"!redis|zset|", key), legacy_blob(entries));
            }
            if rng.chance(60) {
                for _ in 0..rng.below(n + 1) {
                    let member = rng.word(3, BYTES);
                    let score = values::build_zset_score(rng.score()).to_vec();
                    out.insert(keys::wide_key(keys::ZSET_MEMBER, key, &member), score);
                }
            }
            if rng.chance(60) {
                let meta = count_meta(rng, 2);
                out.insert(keys::wide_key(keys::ZSET_META, key, b""), meta);
            }
            if rng.chance(10) {
                out.insert(keys::zset_score_key(key, 1.0, b"m"), Vec::new());
            }
        }
        _ => {
            for _ in 0..rng.below(n + 1) {
                let id = StreamId {
                    ms: rng.below(5),
                    seq: rng.below(3),
                };
                let fields = (0..2 * rng.below(3)).map(|_| rng.text(3)).collect();
                let entry = proto::build_stream_entry("ignored", fields);
                out.insert(keys::stream_entry_key(key, id), entry);
            }
            if rng.chance(75) {
                let last = StreamId {
                    ms: rng.below(9),
                    seq: rng.below(9),
                };
                let mut meta = values::build_stream_meta(rng.below(5), last, None);
                match rng.below(3) {
                    0 => {}
                    1 => meta.extend_from_slice(&rng.ms().to_be_bytes()),
                    _ => {
                        meta.extend_from_slice(&rng.ms().to_be_bytes());
                        meta.extend_from_slice(&[7; 16]);
                    }
                }
                out.insert(keys::wide_key(keys::STREAM_META, key, b""), meta);
            }
        }
    }
}

/// Rows of a string or HLL key: legacy, or the envelope with or without a TTL.
fn simple_rows(rng: &mut Rng, out: &mut Records, key: &[u8]) {
    let hll = rng.chance(30);
    let body = rng.word(5, BYTES);
    let value = match rng.below(3) {
        // A legacy value must not look like an envelope.
        0 if body.first() != Some(&0xFF) => body,
        0 => b"legacy".to_vec(),
        1 if hll => values::build_hll(&body, rng.ms()),
        1 => values::build_string(&body, rng.ms()),
        _ if hll => values::build_hll(&body, 0),
        _ => values::build_string(&body, 0),
    };
    let prefix = if hll { keys::HLL } else { keys::STRING };
    out.insert(keys::raw_key(prefix, key), value);
}

/// A small snapshot where keys are shared between types, prefixes of each other,
/// binary, empty or too long for a plain file name.
fn random_snapshot(seed: u64, keys_count: u64) -> Records {
    let mut rng = Rng(seed);
    let mut out = Records::new();
    for i in 0..keys_count {
        let key = match rng.below(12) {
            0 => vec![b'L'; 250 + rng.below(3) as usize],
            1 => format!("k{i}").into_bytes(),
            _ => rng.word(3, BYTES),
        };
        for _ in 0..1 + rng.below(2) {
            if rng.chance(40) {
                simple_rows(&mut rng, &mut out, &key);
            } else {
                collection_rows(&mut rng, &mut out, &key, 4);
            }
        }
        if rng.chance(50) {
            out.insert(
                keys::raw_key(keys::TTL, &key),
                values::build_ttl(rng.ms()).to_vec(),
            );
        }
    }
    if rng.chance(5) {
        // A malformed TTL row: its error competes with the pending budget's.
        let key = rng.word(2, BYTES);
        out.insert(keys::raw_key(keys::TTL, &key), vec![1, 2, 3]);
    }
    out
}

/// What a decode produced: every file and directory under `redis/` (contents
/// included), the warnings, and the error code and message if it failed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    tree: BTreeMap<String, Option<Vec<u8>>>,
    warnings: Warnings,
    error: Option<(String, String)>,
}

/// Feeds `records` in the order of encoded keys `store key ‖ BE64(^ts)` with a
/// random commit timestamp per row, so a key that is a prefix of another can come
/// after it, as in a real snapshot; on an error finalizes anyway (as Go does).
fn run(records: &Records, seed: u64, decoder: &mut dyn AdapterDecoder) -> Outcome {
    let mut rng = Rng(seed ^ 0x5EED);
    let mut order: Vec<(Vec<u8>, &Vec<u8>, &Vec<u8>)> = records
        .iter()
        .map(|(k, v)| {
            let ts = !(1u64 << 56 | rng.below(1 << 40));
            ([k.as_slice(), &ts.to_be_bytes()].concat(), k, v)
        })
        .collect();
    order.sort();
    let mut warnings = Warnings::default();
    let mut error = None;
    for (encoded, key, value) in &order {
        let prefix = route(key).expect("generated records are Redis records");
        let entry = EntryRef {
            offset: 0,
            encoded_key: encoded,
            user_key: key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: value,
        };
        if let Err(e) = decoder.handle(prefix, &entry, &mut warnings) {
            error = Some((e.code().to_owned(), e.to_string()));
            break;
        }
    }
    if let Err(e) = decoder.finalize(&mut warnings) {
        error.get_or_insert((e.code().to_owned(), e.to_string()));
    }
    Outcome {
        tree: BTreeMap::new(),
        warnings,
        error,
    }
}

/// Decodes `records` with a pending-TTL cap of `cap` bytes and a memory budget of
/// `budget` bytes; returns the outcome and how many sorted runs went to disk.
fn decode(records: &Records, seed: u64, cap: usize, budget: usize) -> (Outcome, u64) {
    let out = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut decoder = RedisDecoder::new(
        TreeWriter::serial(out.path()).unwrap(),
        RedisDecodeOptions {
            pending_ttl_bytes_cap: cap,
            memory_budget: budget,
            scratch_dir: scratch.path().join("runs"),
        },
    );
    let mut outcome = run(records, seed, &mut decoder);
    outcome.tree = read_tree(out.path()).unwrap();
    (outcome, decoder.runs_spilled())
}

fn first_difference(a: &Outcome, b: &Outcome) -> String {
    if a.error != b.error {
        return format!("error {:?} vs {:?}", a.error, b.error);
    }
    if a.warnings != b.warnings {
        return format!("warnings {:#?}\nvs {:#?}", a.warnings, b.warnings);
    }
    let keys: std::collections::BTreeSet<_> = a.tree.keys().chain(b.tree.keys()).collect();
    for key in keys {
        let (x, y) = (a.tree.get(key), b.tree.get(key));
        if x != y {
            let show = |v: Option<&Option<Vec<u8>>>| {
                v.map(|v| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
            };
            return format!("{key}: {:?}\nvs {:?}", show(x), show(y));
        }
    }
    "no difference".to_owned()
}

/// Pending-TTL caps the generated snapshots run under: unlimited, buffering off, a
/// few that overflow on some snapshots and not on others, and the default.
const CAPS: [usize; 6] = [
    usize::MAX,
    0,
    9,
    60,
    400,
    super::DEFAULT_PENDING_TTL_BYTES_CAP,
];

/// Memory budgets compared with an unlimited one: every sort spills at once, or a
/// few rows per run.
const SPILLING_BUDGETS: [usize; 2] = [1, 300];

/// 200 generated snapshots, each under one of [`CAPS`], decoded with an unlimited
/// budget and with each of [`SPILLING_BUDGETS`]: the outcomes must be identical, and
/// the cap may only add an overflow (see [`check_cap_only_adds_overflow`]).
#[test]
fn generated_snapshots_decode_the_same_at_every_memory_budget() {
    let mut failed_with = BTreeMap::<String, usize>::new();
    let mut spilled = 0;
    let mut capped_but_not_failed = 0;
    for seed in 0..200u64 {
        let records = random_snapshot(seed, 1 + seed % 40);
        let cap = CAPS[(seed % CAPS.len() as u64) as usize];
        let (unlimited, runs) = decode(&records, seed, cap, usize::MAX);
        assert_eq!(runs, 0, "seed {seed}: an unlimited budget spilled");
        if let Some((code, _)) = &unlimited.error {
            *failed_with.entry(code.clone()).or_default() += 1;
        }
        for budget in SPILLING_BUDGETS {
            let (got, runs) = decode(&records, seed, cap, budget);
            spilled += runs;
            assert!(
                got == unlimited,
                "seed {seed}, cap {cap}, budget {budget}: {}",
                first_difference(&got, &unlimited)
            );
        }
        if check_cap_only_adds_overflow(&records, seed, cap, &unlimited) {
            capped_but_not_failed += 1;
        }
    }
    // The tiny budgets did spill, and the generator reaches both failure modes (so
    // errors are compared too, not only trees).
    assert!(spilled > 1_000, "only {spilled} runs spilled");
    assert!(capped_but_not_failed > 80, "{capped_but_not_failed}");
    assert!(
        failed_with.contains_key("pending-ttl-buffer-full"),
        "{failed_with:?}"
    );
    assert!(
        failed_with.contains_key("redis-invalid-ttl-value"),
        "{failed_with:?}"
    );
}

/// A positive pending-TTL cap either makes the decode fail with
/// `pending-ttl-buffer-full`, or changes nothing: the same tree, warnings and error as
/// with no cap at all (compared at a 1-byte budget, so the spilled TTL joins are
/// what is compared). A cap of 0 turns parking off, which changes the tree by design.
/// Returns whether the comparison applied.
fn check_cap_only_adds_overflow(
    records: &Records,
    seed: u64,
    cap: usize,
    capped: &Outcome,
) -> bool {
    if cap == 0 || cap == usize::MAX {
        return false;
    }
    let overflowed = capped
        .error
        .as_ref()
        .is_some_and(|(code, _)| code == "pending-ttl-buffer-full");
    if overflowed {
        return false;
    }
    let (uncapped, _) = decode(records, seed, usize::MAX, 1);
    assert!(
        *capped == uncapped,
        "seed {seed}: cap {cap} changed a decode it did not fail: {}",
        first_difference(capped, &uncapped)
    );
    true
}

/// A snapshot of realistic shape and size: `ttls` scan-index TTL rows (an eighth of
/// them for legacy strings and HLLs, which get sidecar lines; the rest for keys no
/// typed row introduces, which wait for a claim until the end) and `elements`
/// collection elements over a few thousand keys, some of them large, half of the keys
/// with a TTL (parked for sets, zsets and streams).
fn large_snapshot(ttls: u64, elements: u64) -> Records {
    let mut rng = Rng(42);
    let mut out = Records::new();
    for i in 0..ttls {
        let key = format!("user:{i:07}").into_bytes();
        match i % 16 {
            0 => out.insert(
                keys::raw_key(keys::STRING, &key),
                format!("v{i}").into_bytes(),
            ),
            1 => out.insert(keys::raw_key(keys::HLL, &key), format!("h{i}").into_bytes()),
            _ => None,
        };
        let ms = values::build_ttl(1_700_000_000_000 + i).to_vec();
        out.insert(keys::raw_key(keys::TTL, &key), ms);
    }
    let mut emitted = 0;
    let mut collection = 0u64;
    while emitted < elements {
        let key = format!("coll:{collection:05}").into_bytes();
        // Mostly small collections, some with thousands of elements.
        let n = if collection.is_multiple_of(50) {
            5_000
        } else {
            1 + rng.below(60)
        };
        let before = out.len();
        collection_rows(&mut rng, &mut out, &key, n);
        emitted += (out.len() - before) as u64;
        if rng.chance(50) {
            out.insert(
                keys::raw_key(keys::TTL, &key),
                values::build_ttl(rng.ms()).to_vec(),
            );
        }
        collection += 1;
    }
    out
}

/// The generated snapshots are small; this one spills thousands of runs and merges
/// them in several levels, with most TTLs parked until the end.
#[test]
fn a_large_snapshot_decodes_the_same_spilled_and_in_memory() {
    let records = large_snapshot(200_000, 200_000);
    let cap = super::DEFAULT_PENDING_TTL_BYTES_CAP;
    let (in_memory, in_memory_runs) = decode(&records, 7, cap, usize::MAX);
    assert_eq!(
        in_memory_runs, 0,
        "a huge budget keeps everything in memory"
    );
    assert_eq!(in_memory.error, None);
    assert!(in_memory.tree.len() > 25_000, "{}", in_memory.tree.len());
    let orphans = in_memory
        .warnings
        .0
        .iter()
        .find(|w| w.event == "redis_orphan_ttl");
    assert!(orphans.is_some_and(|w| w.fields[0].1.parse::<u64>().unwrap() > 100_000));
    // 64 KiB for everything: thousands of runs, merged in several levels.
    let (spilled, spilled_runs) = decode(&records, 7, cap, 64 << 10);
    assert!(spilled_runs > 1_000, "only {spilled_runs} runs spilled");
    assert!(
        spilled == in_memory,
        "{}",
        first_difference(&spilled, &in_memory)
    );
}
