//! SQS properties over random queues (`elastickv_synth::sqs`), stored the way live
//! nodes store them.
//!
//! (i)   tree → encode → decode reproduces the tree, whether the second decode
//!       preserves visibility or not (the encoder restores messages as never
//!       received), up to `queue_generation` (queues restart at generation 1,
//!       docs/format.md §6.7); preserving visibility changes nothing but the receive
//!       state of the lines;
//! (ii)  decoding does not depend on the order rows arrive in, nor on the memory
//!       budget (side records, written in arrival order, compare as line sets);
//! (iii) every partitioned message sits where FNV-1a routes its group, and the encoder
//!       accepts the tree;
//! (iv)  the encoder's dedup rows are unique per tuple and each holds the latest send
//!       of its tuple (ties: the first);
//! (v)   trees decoded with preserved visibility and/or side records round-trip byte
//!       for byte through the faithful restore (below).

use std::collections::BTreeMap;
use std::path::Path;

use elastickv_codec::adapters::sqs::docs::render_dedup_record;
use elastickv_codec::adapters::sqs::keys::{self, Layout};
use elastickv_codec::adapters::sqs::values::{self, Dialect, Message, QueueMeta};
use elastickv_codec::adapters::sqs::{
    SqsDecodeOptions, SqsEncodeModes, SqsEncoder, partition_for_group,
};
use elastickv_codec::sort::SortOptions;
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_proptests::config::config;
use elastickv_splitmix::SplitMix64;
use elastickv_synth::sqs::drive::{decode_rows, encode_tree};
use elastickv_synth::sqs::{SqsData, SqsOptions, generate, routing_agrees};
use elastickv_testkit::tree::{Tree, read_tree};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn options() -> impl Strategy<Value = SqsOptions> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(stale_generations, receive_state, side_records, orphans)| SqsOptions {
            max_queues: 4,
            max_messages: 10,
            stale_generations,
            receive_state,
            side_records,
            orphans,
        },
    )
}

fn sort(budget: usize, scratch: &Path) -> SortOptions {
    SortOptions {
        memory_budget: budget,
        scratch_dir: scratch.to_path_buf(),
    }
}

fn decode_opts(preserve: bool, side: bool, budget: usize, scratch: &Path) -> SqsDecodeOptions {
    SqsDecodeOptions {
        preserve_visibility: preserve,
        include_side_records: side,
        sort: sort(budget, scratch),
    }
}

/// Decodes rows (in the order given) and reads the `sqs/` tree back.
fn decode(rows: &[(&[u8], &[u8])], options: SqsDecodeOptions) -> Tree {
    let out = tempfile::tempdir().unwrap();
    decode_rows(rows.iter().copied(), out.path(), options).expect("decode");
    read_tree(&out.path().join("sqs")).unwrap_or_default()
}

fn sorted_rows(data: &SqsData) -> Vec<(&[u8], &[u8])> {
    data.rows
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect()
}

/// Every `"queue_generation":N` set to 1.
fn restart_generations(tree: &Tree) -> Tree {
    const FIELD: &str = "\"queue_generation\":";
    tree.iter()
        .map(|(path, bytes)| {
            let bytes = bytes.as_ref().map(|b| {
                let text = String::from_utf8_lossy(b);
                let mut out = String::new();
                let mut rest: &str = &text;
                while let Some(at) = rest.find(FIELD) {
                    out.push_str(&rest[..at + FIELD.len()]);
                    rest = &rest[at + FIELD.len()..];
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    out.push('1');
                    rest = &rest[digits..];
                }
                out.push_str(rest);
                out.into_bytes()
            });
            (path.clone(), bytes)
        })
        .collect()
}

/// The messages of every `messages.jsonl` in `tree`, by queue directory.
fn messages_of(tree: &Tree) -> BTreeMap<String, Vec<Message>> {
    let mut out = BTreeMap::new();
    for (path, bytes) in tree {
        let (Some(dir), Some(bytes)) = (path.strip_suffix("/messages.jsonl"), bytes) else {
            continue;
        };
        let lines = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let messages = lines
            .map(|l| values::parse_message(l, Dialect::Tree).expect("a decoded line parses"))
            .collect();
        out.insert(dir.to_owned(), messages);
    }
    out
}

fn meta_of(tree: &Tree, dir: &str) -> QueueMeta {
    let doc = tree[&format!("{dir}/_queue.json")].as_ref().unwrap();
    values::parse_queue_meta(doc, Dialect::Tree).unwrap().0
}

fn case(seed: u64, opts: &SqsOptions) -> SqsData {
    generate(&mut SplitMix64(seed), opts)
}

proptest! {
    #![proptest_config(config("sqs.txt"))]

    #[test]
    fn trees_round_trip(seed in any::<u64>(), opts in options(), budget in prop::sample::select(vec![1usize, 4096, 64 << 20])) {
        let data = case(seed, &opts);
        let scratch = tempfile::tempdir().unwrap();
        let rows = sorted_rows(&data);
        let first_dir = tempfile::tempdir().unwrap();
        decode_rows(rows.iter().copied(), first_dir.path(), decode_opts(false, false, budget, scratch.path())).unwrap();
        let first = read_tree(&first_dir.path().join("sqs")).unwrap_or_default();
        let encoded = encode_tree(&first_dir.path().join("sqs"), &sort(budget, scratch.path())).expect("encode");
        let mut reencoded = encoded.clone();
        reencoded.sort();
        let n = reencoded.len();
        reencoded.dedup_by(|a, b| a.0 == b.0);
        prop_assert_eq!(reencoded.len(), n, "duplicate keys");
        let rows2: Vec<(&[u8], &[u8])> = reencoded.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        for preserve in [false, true] {
            let second = decode(&rows2, decode_opts(preserve, false, budget, scratch.path()));
            prop_assert_eq!(&second, &restart_generations(&first), "preserve={}", preserve);
        }
        // Preserving visibility changes only the receive state.
        let preserved = decode(&rows, decode_opts(true, false, budget, scratch.path()));
        let mut zeroed = messages_of(&preserved);
        for messages in zeroed.values_mut() {
            for m in messages {
                m.clear_visibility();
            }
        }
        let plain = messages_of(&first);
        prop_assert_eq!(zeroed.len(), plain.len());
        for (dir, messages) in &plain {
            let lines: Vec<Vec<u8>> = messages.iter().map(elastickv_codec::adapters::sqs::docs::render_message_line).collect();
            let zl: Vec<Vec<u8>> = zeroed[dir].iter().map(elastickv_codec::adapters::sqs::docs::render_message_line).collect();
            prop_assert_eq!(lines, zl);
        }
    }

    #[test]
    fn decode_is_order_independent(seed in any::<u64>(), opts in options(), shuffle in any::<u64>(), side in any::<bool>()) {
        let data = case(seed, &opts);
        let scratch = tempfile::tempdir().unwrap();
        let rows = sorted_rows(&data);
        let mut shuffled = rows.clone();
        SplitMix64(shuffle).shuffle(&mut shuffled);
        let a = decode(&rows, decode_opts(true, side, 64 << 20, scratch.path()));
        let b = decode(&shuffled, decode_opts(true, side, 1, scratch.path()));
        let as_sets = |t: &Tree| -> Tree {
            t.iter().map(|(p, bytes)| {
                let bytes = bytes.as_ref().map(|b| {
                    if p.ends_with("side_records.jsonl") {
                        let mut lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
                        lines.sort();
                        lines.join(&b'\n')
                    } else {
                        b.clone()
                    }
                });
                (p.clone(), bytes)
            }).collect()
        };
        prop_assert_eq!(as_sets(&a), as_sets(&b));
    }

    #[test]
    fn partitions_follow_fnv1a(seed in any::<u64>(), opts in options()) {
        let data = case(seed, &opts);
        for queue in &data.queues {
            prop_assert!(routing_agrees(queue), "{}", queue.meta.name);
        }
        let scratch = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        decode_rows(sorted_rows(&data), out.path(), decode_opts(false, false, 4096, scratch.path())).unwrap();
        let tree = read_tree(&out.path().join("sqs")).unwrap_or_default();
        for (dir, messages) in messages_of(&tree) {
            let meta = meta_of(&tree, &dir);
            for m in &messages {
                let want = (meta.partition_count > 1).then(|| partition_for_group(&meta, m.message_group_id.as_bytes()));
                prop_assert_eq!(m.partition, want);
            }
        }
        prop_assert!(encode_tree(&out.path().join("sqs"), &sort(4096, scratch.path())).is_ok());
    }

    #[test]
    fn dedup_rows_are_unique_and_latest(seed in any::<u64>(), opts in options()) {
        let data = case(seed, &opts);
        let scratch = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        decode_rows(sorted_rows(&data), out.path(), decode_opts(false, false, 4096, scratch.path())).unwrap();
        let tree = read_tree(&out.path().join("sqs")).unwrap_or_default();
        let rows = encode_tree(&out.path().join("sqs"), &sort(1, scratch.path())).unwrap();
        let dedup: Vec<&(Vec<u8>, Vec<u8>)> = rows.iter().filter(|(k, _)| k.starts_with(keys::MSG_DEDUP)).collect();
        let mut keys_seen: Vec<&Vec<u8>> = dedup.iter().map(|(k, _)| k).collect();
        keys_seen.sort();
        let n = keys_seen.len();
        keys_seen.dedup();
        prop_assert_eq!(keys_seen.len(), n, "one dedup row per tuple");
        let mut want: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (dir, messages) in messages_of(&tree) {
            let meta = meta_of(&tree, &dir);
            if !meta.fifo {
                continue;
            }
            let q = encode_base64url(meta.name.as_bytes());
            let partitioned = meta.partition_count > 1;
            // Go's record order: partitioned queues sorted by (partition, send, seq, id).
            let mut order: Vec<&Message> = messages.iter().collect();
            if partitioned {
                order.sort_by(|a, b| (a.partition, a.send_timestamp_millis, a.sequence_number, &a.message_id)
                    .cmp(&(b.partition, b.send_timestamp_millis, b.sequence_number, &b.message_id)));
            }
            let mut winners: BTreeMap<Vec<u8>, &Message> = BTreeMap::new();
            for m in order {
                let id = if !m.message_deduplication_id.is_empty() {
                    m.message_deduplication_id.as_bytes().to_vec()
                } else if meta.content_based_deduplication {
                    hex::encode(Sha256::digest(&m.body)).into_bytes()
                } else {
                    continue;
                };
                let layout = if partitioned { Layout::Partitioned(m.partition.unwrap_or(0)) } else { Layout::Classic };
                let key = keys::dedup_key(&q, layout, m.message_group_id.as_bytes(), &id);
                let replace = winners.get(&key).is_none_or(|w| m.send_timestamp_millis > w.send_timestamp_millis);
                if replace {
                    winners.insert(key, m);
                }
            }
            want.extend(winners.into_iter().map(|(k, m)| (k, render_dedup_record(m))));
        }
        let got: BTreeMap<Vec<u8>, Vec<u8>> = dedup.into_iter().cloned().collect();
        prop_assert_eq!(got, want);
    }
}

// --- the faithful restore ------------------------------------------------------------
//
// (v) A tree decoded with preserved visibility and/or side records encodes (with those
//     modes) to rows that decode, with the same flags, to the same tree byte for byte:
//     generations, receive state, index rows and orphan side records included. The
//     re-encoded rows are unique, and with side records they are exactly the source's
//     index rows.

/// Store rows: (user key, value).
type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// The rows an encoder with `modes` makes of `sqs_root`, sorted as a snapshot holds them.
fn encode_with_modes(
    sqs_root: &Path,
    sort: &SortOptions,
    modes: SqsEncodeModes,
) -> Result<Rows, String> {
    use elastickv_codec::adapter::{AdapterEncoder, EntrySink};
    use elastickv_codec::error::BoxError;
    struct Collect(Rows);
    impl EntrySink for Collect {
        fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
            self.0.push((user_key.to_vec(), value.to_vec()));
            Ok(())
        }
    }
    let mut sink = Collect(Vec::new());
    SqsEncoder::with_modes(sort, modes)
        .encode(sqs_root, &mut sink)
        .map_err(|e| e.to_string())?;
    sink.0.sort();
    Ok(sink.0)
}

/// Index rows (every SQS family but queue meta, gen and message data).
fn index_rows(rows: &[(&[u8], &[u8])]) -> Rows {
    let derived_elsewhere = [keys::QUEUE_META, keys::QUEUE_GEN, keys::MSG_DATA];
    rows.iter()
        .filter(|(k, _)| {
            k.starts_with(b"!sqs|") && !derived_elsewhere.iter().any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

fn modes() -> impl Strategy<Value = SqsEncodeModes> {
    prop::sample::select(vec![(true, false), (false, true), (true, true)]).prop_map(
        |(preserve_visibility, side_records)| SqsEncodeModes {
            preserve_visibility,
            side_records,
        },
    )
}

proptest! {
    #![proptest_config(config("sqs.txt"))]

    #[test]
    fn faithful_trees_round_trip_byte_for_byte(
        seed in any::<u64>(),
        opts in options(),
        modes in modes(),
        budget in prop::sample::select(vec![1usize, 4096, 64 << 20]),
    ) {
        let data = case(seed, &opts);
        let scratch = tempfile::tempdir().unwrap();
        let rows = sorted_rows(&data);
        let flags = |m: SqsEncodeModes| decode_opts(m.preserve_visibility, m.side_records, budget, scratch.path());
        let first_dir = tempfile::tempdir().unwrap();
        decode_rows(rows.iter().copied(), first_dir.path(), flags(modes)).unwrap();
        let first = read_tree(&first_dir.path().join("sqs")).unwrap_or_default();
        let encoded = encode_with_modes(&first_dir.path().join("sqs"), &sort(budget, scratch.path()), modes)
            .map_err(TestCaseError::fail)?;
        prop_assert!(encoded.windows(2).all(|w| w[0].0 != w[1].0), "duplicate keys");
        let rows2: Vec<(&[u8], &[u8])> = encoded.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        let second = decode(&rows2, flags(modes));
        prop_assert_eq!(&second, &first);
        if modes.side_records {
            prop_assert_eq!(index_rows(&rows2), index_rows(&rows));
        }
    }
}

/// Fixed seeds that exercise every generator option at once, each mode: generated
/// queues with stale generations, receive state, side records and orphans round-trip.
#[test]
fn faithful_fixed_seeds_round_trip() {
    let opts = SqsOptions {
        max_queues: 6,
        max_messages: 40,
        stale_generations: true,
        receive_state: true,
        side_records: true,
        orphans: true,
    };
    let mut orphan_dirs = 0;
    let mut side_files = 0;
    // 5 and 8 generate an orphan queue.
    for seed in [1u64, 5, 8, 0x454B_5650_4242_4C31] {
        let data = case(seed, &opts);
        let rows = sorted_rows(&data);
        for (preserve_visibility, side_records) in [(true, false), (false, true), (true, true)] {
            let modes = SqsEncodeModes {
                preserve_visibility,
                side_records,
            };
            let scratch = tempfile::tempdir().unwrap();
            let first_dir = tempfile::tempdir().unwrap();
            let flags = decode_opts(preserve_visibility, side_records, 4096, scratch.path());
            decode_rows(rows.iter().copied(), first_dir.path(), flags.clone()).unwrap();
            let first = read_tree(&first_dir.path().join("sqs")).unwrap_or_default();
            let encoded = encode_with_modes(
                &first_dir.path().join("sqs"),
                &sort(4096, scratch.path()),
                modes,
            )
            .unwrap();
            let rows2: Vec<(&[u8], &[u8])> = encoded
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            assert_eq!(decode(&rows2, flags), first, "seed {seed} {modes:?}");
            orphan_dirs += first.keys().filter(|p| p.contains(".orphan/")).count();
            side_files += first
                .keys()
                .filter(|p| p.ends_with("side_records.jsonl"))
                .count();
        }
    }
    assert!(orphan_dirs > 0, "no orphan side records generated");
    assert!(side_files > 0, "no side records generated");
}
