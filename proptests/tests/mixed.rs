//! Whole-cluster properties: random snapshots holding all four adapters at once, each
//! part drawn by its adapter's own model (`elastickv_synth::{redis, dynamodb, s3, sqs}`),
//! decoded and encoded with every adapter enabled, as an operator runs the tools.
//!
//! (i)  Visibility across adapters: the visible state, buried under random older
//!      versions (garbage bodies, older tombstones) and deleted ghost keys, written
//!      in a random order, decodes to exactly the tree of the visible state alone
//!      (the reference model's `EntrySet::visible`, written sorted);
//! (ii) Canonical form: encoding that tree gives a snapshot that is sorted, unique,
//!      tombstone-free and stamped with the header's timestamp throughout, whose
//!      Redis rows are the Redis model's `canonical_set`, and which is a fixed
//!      point: `encode(decode(canonical)) == canonical`, byte for byte.
//!
//! Each case writes and decodes three snapshots and encodes two trees, so the case
//! count is a quarter of `PROPTEST_CASES` (at least 8).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use elastickv_codec::dispatch::AdapterSet;
use elastickv_codec::pipeline::{
    DecodeOutcome, DecodeRequest, EncodeRequest, NoProgress, decode_to_tree, encode_to_file,
};
use elastickv_proptests::config::config_scaled;
use elastickv_proptests::redis::redis_db;
use elastickv_splitmix::SplitMix64;
use elastickv_synth::model::{Entry, EntrySet, read_snapshot, write_shuffled, write_snapshot};
use elastickv_synth::redis::RedisDb;
use elastickv_synth::sqs::SqsOptions;
use elastickv_synth::{dynamodb, s3, sqs};
use elastickv_testkit::tree::{Tree, diff_trees, read_tree};
use elastickv_testkit::work::Work;
use proptest::prelude::*;

/// The commit timestamp of the SQS rows (their model stores rows without versions).
const SQS_TS: u64 = (1_780_000_000_000 << 16) | 5;

/// What one case draws: each adapter's part and how to bury it.
#[derive(Debug, Clone)]
struct Case {
    redis: RedisDb,
    ddb_seed: u64,
    s3_seed: u64,
    s3_extras: bool,
    sqs_seed: u64,
    sqs_options: SqsOptions,
    noise_seed: u64,
    shuffle_seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        redis_db(8),
        any::<[u64; 5]>(),
        any::<[bool; 4]>(),
        any::<bool>(),
    )
        .prop_map(|(redis, seeds, sqs_flags, s3_extras)| Case {
            redis,
            ddb_seed: seeds[0],
            s3_seed: seeds[1],
            s3_extras,
            sqs_seed: seeds[2],
            sqs_options: SqsOptions {
                max_queues: 3,
                max_messages: 6,
                stale_generations: sqs_flags[0],
                receive_state: sqs_flags[1],
                side_records: sqs_flags[2],
                orphans: sqs_flags[3],
            },
            noise_seed: seeds[3],
            shuffle_seed: seeds[4],
        })
}

/// The four parts' live layouts as one set: header timestamp the newest of theirs.
fn visible_state(case: &Case) -> EntrySet {
    let ddb = dynamodb::generate(
        case.ddb_seed,
        dynamodb::Mix {
            tables: 2,
            items: 6,
        },
    );
    let s3 = s3::generate(
        case.s3_seed,
        &s3::Mix {
            buckets: 1,
            objects: 4,
            max_body: 1500,
            max_chunk: 600,
            extras: case.s3_extras,
            odd_keys: true,
        },
    );
    let sqs = sqs::generate(&mut SplitMix64(case.sqs_seed), &case.sqs_options);
    let sqs = EntrySet {
        last_commit_ts: SQS_TS,
        entries: sqs
            .rows
            .into_iter()
            .map(|(user_key, body)| Entry {
                user_key,
                commit_ts: SQS_TS,
                tombstone: false,
                expire_at: 0,
                body,
            })
            .collect(),
    };
    let mut all = EntrySet {
        last_commit_ts: 0,
        entries: Vec::new(),
    };
    for part in [case.redis.live_set(), ddb.live_set(), s3.live_set(), sqs] {
        all.last_commit_ts = all.last_commit_ts.max(part.last_commit_ts);
        all.entries.extend(part.entries);
    }
    all
}

/// `visible` plus versions that must change nothing: under every key up to two older
/// versions (garbage bodies or tombstones), and now and then a ghost key next to it
/// whose newest version is a tombstone over a copy of the live row.
fn bury(visible: &EntrySet, seed: u64) -> EntrySet {
    let mut g = SplitMix64(seed);
    let live: BTreeSet<&[u8]> = visible.entries.iter().map(|e| &e.user_key[..]).collect();
    let mut entries = visible.entries.clone();
    for e in &visible.entries {
        for _ in 0..g.below(3) {
            let len = g.below(24) as usize;
            entries.push(Entry {
                user_key: e.user_key.clone(),
                commit_ts: e.commit_ts - 1 - g.below(1000),
                tombstone: g.chance(40),
                expire_at: g.below(2) * g.next_u64(),
                body: g.bytes(len),
            });
        }
        let ghost = [&e.user_key[..], b"~ghost"].concat();
        if g.chance(20) && !live.contains(&ghost[..]) {
            let deleted_at = e.commit_ts - g.below(1000);
            entries.push(Entry {
                user_key: ghost.clone(),
                commit_ts: deleted_at - 1 - g.below(100),
                tombstone: false,
                expire_at: 0,
                body: e.body.clone(),
            });
            entries.push(Entry {
                user_key: ghost,
                commit_ts: deleted_at,
                tombstone: true,
                expire_at: 0,
                body: Vec::new(),
            });
        }
    }
    // One version per (key, timestamp): the live one (first) wins a collision.
    let mut seen = BTreeSet::new();
    entries.retain(|e| seen.insert((e.user_key.clone(), e.commit_ts)));
    EntrySet {
        last_commit_ts: visible.last_commit_ts,
        entries,
    }
}

/// Decodes snapshot bytes with every adapter (S3 collisions renamed, as the S3
/// model's directory-prefix objects need); returns the root and the outcome.
fn decode(work: &mut Work, bytes: &[u8]) -> Result<(PathBuf, DecodeOutcome), TestCaseError> {
    let input = work.snapshot(bytes);
    let output = work.path("tree");
    let mut request = DecodeRequest::new(&input, &output, AdapterSet::ALL);
    request.flags.exclusions.rename_s3_collisions = true;
    request.source_fsm_path = Some("snapshot.fsm".into());
    request.sort_memory_bytes = 4096;
    let outcome = decode_to_tree(&request, &mut NoProgress)
        .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    Ok((output, outcome))
}

/// Encodes a tree with every adapter; returns the snapshot bytes.
fn encode(work: &mut Work, root: &Path) -> Result<Vec<u8>, TestCaseError> {
    let output = work.path("encoded.fsm");
    let mut request = EncodeRequest::new(root, &output, AdapterSet::ALL);
    request.sort_memory_bytes = 4096;
    encode_to_file(&request, &mut NoProgress)
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    std::fs::read(&output).map_err(fail)
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// A tree without MANIFEST.json's wall time, and so without CHECKSUMS' MANIFEST line.
fn comparable(root: &Path) -> Result<Tree, TestCaseError> {
    let mut tree = read_tree(root).map_err(fail)?;
    if let Some(Some(text)) = tree.get_mut("MANIFEST.json") {
        let kept: String = String::from_utf8_lossy(text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("\"wall_time_iso\""))
            .map(|l| format!("{l}\n"))
            .collect();
        *text = kept.into_bytes();
    }
    if let Some(Some(checksums)) = tree.get_mut("CHECKSUMS") {
        let kept: String = String::from_utf8_lossy(checksums)
            .lines()
            .filter(|l| !l.ends_with("  MANIFEST.json"))
            .map(|l| format!("{l}\n"))
            .collect();
        *checksums = kept.into_bytes();
    }
    Ok(tree)
}

fn same_trees(left: &Path, right: &Path, what: &str) -> Result<(), TestCaseError> {
    match diff_trees(&comparable(left)?, &comparable(right)?) {
        None => Ok(()),
        Some(diff) => Err(TestCaseError::fail(format!("{what}: {diff}"))),
    }
}

/// The rows of `entries` whose key belongs to Redis, sorted.
fn redis_rows<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Vec<(Vec<u8>, Vec<u8>)> {
    use elastickv_codec::dispatch::{Adapter, Owner, route};
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = entries
        .into_iter()
        .filter(|e| route(&e.user_key).is_some_and(|p| p.owner == Owner::Adapter(Adapter::Redis)))
        .map(|e| (e.user_key.clone(), e.body.clone()))
        .collect();
    rows.sort();
    rows
}

proptest! {
    #![proptest_config(config_scaled("mixed.txt", 4))]

    #[test]
    fn buried_shuffled_snapshots_decode_to_their_visible_state_and_encode_canonically(case in case()) {
        let mut work = Work::new();
        let noisy = bury(&visible_state(&case), case.noise_seed);

        // (i) The reference model's visible state, written alone and sorted …
        let visible: Vec<&Entry> = noisy.visible().into_values().collect();
        let mut sorted = visible.clone();
        sorted.sort_by_key(|e| e.encoded_key());
        let (plain, _) = decode(&mut work, &write_snapshot(noisy.last_commit_ts, sorted))?;
        // … is what the buried, shuffled snapshot decodes to.
        let mut order: Vec<usize> = (0..noisy.entries.len()).collect();
        SplitMix64(case.shuffle_seed).shuffle(&mut order);
        let (decoded, outcome) = decode(&mut work, &write_shuffled(&noisy, &order))?;
        same_trees(&plain, &decoded, "buried and shuffled vs visible state")?;
        prop_assert!(outcome.scan.sorted_in_scratch || order.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(outcome.scan.mvcc, noisy.mvcc_stats());

        // (ii) The canonical snapshot: sorted, unique, one timestamp, no tombstones …
        let canonical = encode(&mut work, &decoded)?;
        let read = read_snapshot(&canonical).map_err(fail)?;
        prop_assert_eq!(read.header.last_commit_ts, noisy.last_commit_ts);
        let keys: Vec<Vec<u8>> = read.entries.iter().map(Entry::encoded_key).collect();
        prop_assert!(keys.windows(2).all(|k| k[0] < k[1]), "sorted and unique");
        prop_assert!(read.entries.iter().all(|e| e.commit_ts == noisy.last_commit_ts && !e.tombstone));
        // … whose Redis part is the Redis model's canonical form …
        let want = case.redis.canonical_set(noisy.last_commit_ts);
        prop_assert_eq!(redis_rows(&read.entries), redis_rows(&want.entries));
        // … and which encode(decode(·)) reproduces byte for byte. (Its tree is the first
        // one up to what the encoder restarts: SQS queue generations begin again at 1,
        // docs/format.md §6.7, which the SQS properties check.)
        let (again, _) = decode(&mut work, &canonical)?;
        let reencoded = encode(&mut work, &again)?;
        prop_assert!(reencoded == canonical, "encode(decode(canonical)) != canonical");
    }
}
