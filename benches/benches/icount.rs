//! Instruction-count benches (gungraun/callgrind) of the hot paths: the release gate
//! (`benches/gate`) compares their `Ir` against `benches/icount-baseline.csv` and
//! fails on more than 5% more instructions.
//!
//! Built only with `--features icount` (they need valgrind and a `gungraun-runner` of
//! the library's exact version; `benches/gate` sees to both). Inputs are built by the
//! `#[bench]` argument expressions, which gungraun runs outside the measurement; only
//! the benchmark function body is counted. Everything is seeded, single-threaded and
//! in memory except the tree benches (Redis, DynamoDB, SQS), whose file I/O is system calls (not
//! counted by callgrind) in fresh temporary directories.

use std::fs;
use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};

use elastickv_benches::{
    SEED, encoded, records, segment_inputs, snapshot_bytes, versioned_records, wrap_runtime,
};
use elastickv_codec::adapter::{AdapterDecoder, AdapterSpec, Warnings};
use elastickv_codec::adapters::redis::docs::{
    HashDoc, NameValue, Score, StreamEntryLine, ZSetDoc, ZSetMember,
};
use elastickv_codec::adapters::redis::keys::{
    self, split_len_prefixed, split_list_item, split_stream_entry,
};
use elastickv_codec::adapters::redis::values::{self, SimpleType};
use elastickv_codec::adapters::redis::{RedisDecodeOptions, RedisDecoder, proto};
use elastickv_codec::assemble::encode_tree_to;
use elastickv_codec::container::{EntryRef, SnapshotReader};
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::mvcc::{Verdict, Visibility};
use elastickv_codec::scan::{self, ScanOptions};
use elastickv_codec::sort::{ExternalSorter, SortOptions};
use elastickv_codec::tree::bsv::BsvInline;
use elastickv_codec::tree::json::{Style, to_vec};
use elastickv_codec::tree::segment::{decode_segment, encode_segment};
use elastickv_codec::tree::writer::TreeWriter;
use elastickv_splitmix::SplitMix64;
use elastickv_synth::workload::redis::{RedisMix, write_redis_snapshot};
use gungraun::{library_benchmark, library_benchmark_group, main};
use tempfile::TempDir;

/// `(key, value)` byte pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

// ---------------------------------------------------------------------------------
// Container and MVCC
// ---------------------------------------------------------------------------------

/// A ~4 MiB native snapshot of the mixed workload, optionally in the runtime wrapper.
fn snapshot(runtime: bool) -> Vec<u8> {
    let native = snapshot_bytes(&records(4 << 20, SEED));
    if runtime {
        wrap_runtime(&native)
    } else {
        native
    }
}

#[library_benchmark]
#[bench::native_4mib(snapshot(false))]
#[bench::runtime_crc32c_4mib(snapshot(true))]
fn container_read(bytes: Vec<u8>) -> u64 {
    let mut reader = SnapshotReader::new(black_box(&bytes[..])).expect("valid snapshot");
    let mut sum = 0u64;
    while let Some(entry) = reader.next_entry().expect("valid snapshot") {
        sum = sum
            .wrapping_add(entry.commit_ts)
            .wrapping_add(entry.body.len() as u64)
            .wrapping_add(entry.user_key.len() as u64);
    }
    sum
}

fn versioned_pairs(count: usize) -> Pairs {
    encoded(&versioned_records(count, SEED))
}

#[library_benchmark]
#[bench::versions_20k(versioned_pairs(20_000))]
fn mvcc_visibility(pairs: Pairs) -> u64 {
    let mut visibility = Visibility::new();
    let mut visible = 0u64;
    for (offset, (key, value)) in black_box(&pairs).iter().enumerate() {
        let entry = EntryRef::parse(offset as u64, key, value).expect("valid entry");
        if visibility.observe(&entry) == Ok(Verdict::Visible) {
            visible += 1;
        }
    }
    visible
}

fn shuffled_pairs(bytes: usize) -> Pairs {
    let mut pairs = encoded(&records(bytes, SEED));
    SplitMix64(SEED ^ 1).shuffle(&mut pairs);
    pairs
}

// The external sort with a budget that keeps everything in memory (no file is
// created): buffering, sorting and draining.
#[library_benchmark]
#[bench::in_memory_1mib(shuffled_pairs(1 << 20))]
fn sort_in_memory(pairs: Pairs) -> u64 {
    let mut sorter = ExternalSorter::new(SortOptions {
        memory_budget: 1 << 30,
        scratch_dir: std::env::temp_dir(),
    });
    for (key, value) in black_box(&pairs) {
        sorter.push(key, value).expect("in memory");
    }
    let mut sorted = sorter.finish().expect("in memory");
    let mut n = 0u64;
    while let Some((key, value)) = sorted.next().expect("in memory") {
        n = n.wrapping_add((key.len() + value.len()) as u64);
    }
    n
}

// ---------------------------------------------------------------------------------
// Tree rendering: file names and Go JSON
// ---------------------------------------------------------------------------------

fn segment_keys(name: &str) -> Vec<Vec<u8>> {
    segment_inputs(SEED)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, keys)| keys)
        .expect("known input set")
}

// `encode_segment` on 1000 keys of each kind.
#[library_benchmark]
#[bench::short(segment_keys("short"))]
#[bench::escaped(segment_keys("escaped"))]
#[bench::long_sha(segment_keys("long_sha"))]
#[bench::binary(segment_keys("binary"))]
fn segment_encode(keys: Vec<Vec<u8>>) -> usize {
    black_box(&keys)
        .iter()
        .map(|k| encode_segment(k).len())
        .sum()
}

fn segment_names() -> Vec<String> {
    segment_keys("escaped")
        .iter()
        .map(|k| encode_segment(k))
        .collect()
}

#[library_benchmark]
#[bench::escaped(segment_names())]
fn segment_decode(names: Vec<String>) -> usize {
    black_box(&names)
        .iter()
        .map(|n| decode_segment(n).map_or(0, |v| v.len()))
        .sum()
}

/// Byte strings for the JSON documents: mostly text (with characters Go escapes),
/// some binary (the base64 envelope).
fn doc_strings(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|i| match i % 8 {
            0 => rng.bytes(24),
            1 => format!("<tag attr=\"{i}\"> & \u{2028} é {}", rng.next_u64()).into_bytes(),
            _ => format!("value-{i:05}-{:016x}", rng.next_u64()).into_bytes(),
        })
        .collect()
}

/// 100 hash documents of 32 fields (the `hashes/<key>.json` rendering).
fn hash_docs() -> Vec<Pairs> {
    (0..100)
        .map(|d| {
            let names = doc_strings(32, SEED ^ d);
            let values = doc_strings(32, !SEED ^ d);
            names.into_iter().zip(values).collect()
        })
        .collect()
}

#[library_benchmark]
#[bench::hash_100x32(hash_docs())]
fn json_hash(docs: Vec<Pairs>) -> usize {
    let mut total = 0;
    for (i, fields) in black_box(&docs).iter().enumerate() {
        let doc = HashDoc {
            format_version: 1,
            fields: fields
                .iter()
                .map(|(name, value)| NameValue {
                    name: BsvInline(name),
                    value: BsvInline(value),
                })
                .collect::<Vec<_>>(),
            expire_at_ms: (i % 3 == 0).then_some(1_790_000_000_000 + i as u64),
        };
        total += to_vec(&doc, Style::MARSHAL_INDENT).len();
    }
    total
}

/// 100 zset documents of 64 members with scores across Go's float layouts (integers,
/// fractions, tiny and huge exponents, infinities).
fn zset_docs() -> Vec<Vec<(Vec<u8>, f64)>> {
    let mut rng = SplitMix64(SEED ^ 0x5A);
    (0..100)
        .map(|d| {
            doc_strings(64, SEED ^ 0x7A ^ d)
                .into_iter()
                .enumerate()
                .map(|(i, member)| {
                    let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let score = match i % 8 {
                        0 => (rng.range(0, 1_000_000) as f64) - 500_000.0,
                        1 => x * 1e-9,
                        2 => x * 1e25,
                        3 if i % 16 == 3 => f64::INFINITY,
                        3 => f64::NEG_INFINITY,
                        _ => (x - 0.5) * 1000.0,
                    };
                    (member, score)
                })
                .collect()
        })
        .collect()
}

#[library_benchmark]
#[bench::zset_100x64(zset_docs())]
fn json_zset(docs: Vec<Vec<(Vec<u8>, f64)>>) -> usize {
    let mut total = 0;
    for members in black_box(&docs) {
        let doc = ZSetDoc {
            format_version: 1,
            members: members
                .iter()
                .map(|(member, score)| ZSetMember {
                    member: BsvInline(member),
                    score: Score(*score),
                })
                .collect::<Vec<_>>(),
            expire_at_ms: None,
        };
        total += to_vec(&doc, Style::MARSHAL_INDENT).len();
    }
    total
}

/// 1000 stream entry lines of 1–4 fields (compact, HTML-escaped, one per line).
fn stream_lines() -> Vec<(String, Pairs)> {
    let mut rng = SplitMix64(SEED ^ 0x57);
    (0..1000u64)
        .map(|i| {
            let n = rng.range(1, 5) as usize;
            let names = doc_strings(n, SEED ^ i);
            let values = doc_strings(n, !SEED ^ i);
            (
                format!("{}-{}", 1_780_000_000_000 + i, i % 3),
                names.into_iter().zip(values).collect(),
            )
        })
        .collect()
}

#[library_benchmark]
#[bench::stream_1000(stream_lines())]
fn json_stream_lines(lines: Vec<(String, Pairs)>) -> usize {
    let mut total = 0;
    for (id, fields) in black_box(&lines) {
        let line = StreamEntryLine {
            id: id.clone(),
            fields: fields
                .iter()
                .map(|(name, value)| NameValue {
                    name: BsvInline(name),
                    value: BsvInline(value),
                })
                .collect(),
        };
        total += to_vec(&line, Style::MARSHAL).len();
    }
    total
}

// ---------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------

/// A small `redis-mixed` snapshot (2k strings, 200 hashes/lists/sets, 100 zsets, 20
/// streams, plus one collection of each type with 2000 elements).
fn redis_snapshot() -> Vec<u8> {
    let mix = RedisMix::redis_mixed(0.01).giant(2_000);
    write_redis_snapshot(Vec::new(), &mix, SEED)
        .expect("in memory")
        .0
}

/// `(user key, value body)` of every entry of [`redis_snapshot`].
fn redis_rows() -> Pairs {
    let bytes = redis_snapshot();
    let mut reader = SnapshotReader::new(&bytes[..]).expect("valid");
    let mut rows = Vec::new();
    while let Some(entry) = reader.next_entry().expect("valid") {
        rows.push((entry.user_key.to_vec(), entry.body.to_vec()));
    }
    rows
}

// What the Redis adapter does per row before any buffering: split the key, parse
// the value.
#[library_benchmark]
#[bench::mixed(redis_rows())]
fn redis_parse_rows(rows: Pairs) -> u64 {
    let mut acc = 0u64;
    for (key, value) in black_box(&rows) {
        let n = if let Some(rest) = key.strip_prefix(keys::STRING) {
            let v = values::parse_simple(value, SimpleType::String).expect("string");
            (rest.len() + v.body.len()) as u64 + v.expire_at_ms
        } else if let Some(rest) = key.strip_prefix(keys::HASH_FIELD) {
            let (k, field) = split_len_prefixed(rest).expect("hash field key");
            (k.len() + field.len() + value.len()) as u64
        } else if let Some(rest) = key.strip_prefix(keys::HASH_META) {
            let (k, _) = split_len_prefixed(rest).expect("hash meta key");
            k.len() as u64 + values::parse_count_meta(value).expect("meta").len as u64
        } else if let Some(rest) = key.strip_prefix(keys::LIST_ITEM) {
            let (k, seq) = split_list_item(rest).expect("list item key");
            (k.len() + value.len()) as u64 ^ seq as u64
        } else if let Some(rest) = key.strip_prefix(keys::LIST_META) {
            rest.len() as u64 + values::parse_list_meta(value).expect("meta").len as u64
        } else if let Some(rest) = key.strip_prefix(keys::STREAM_ENTRY) {
            let (k, id) = split_stream_entry(rest).expect("stream entry key");
            let fields = proto::parse_stream_entry(value).expect("stream entry");
            k.len() as u64 + id.ms + fields.len() as u64
        } else if let Some(rest) = key.strip_prefix(keys::STREAM_META) {
            let (k, _) = split_len_prefixed(rest).expect("stream meta key");
            let meta = values::parse_stream_meta(value).expect("meta");
            k.len() as u64 + meta.last.ms
        } else if let Some(rest) = key.strip_prefix(keys::SET_MEMBER) {
            let (k, member) = split_len_prefixed(rest).expect("set member key");
            (k.len() + member.len()) as u64
        } else if let Some(rest) = key.strip_prefix(keys::SET_META) {
            let (k, _) = split_len_prefixed(rest).expect("set meta key");
            k.len() as u64 + values::parse_count_meta(value).expect("meta").len as u64
        } else if let Some(rest) = key.strip_prefix(keys::ZSET_MEMBER) {
            let (k, member) = split_len_prefixed(rest).expect("zset member key");
            let score = values::parse_zset_score(value).expect("score");
            (k.len() + member.len()) as u64 ^ score.to_bits()
        } else if let Some(rest) = key.strip_prefix(keys::ZSET_META) {
            let (k, _) = split_len_prefixed(rest).expect("zset meta key");
            k.len() as u64 + values::parse_count_meta(value).expect("meta").len as u64
        } else if let Some(rest) = key.strip_prefix(keys::ZSET_SCORE) {
            let (k, tail) = split_len_prefixed(rest).expect("zset score key");
            (k.len() + tail.len()) as u64
        } else if let Some(k) = key.strip_prefix(keys::TTL) {
            k.len() as u64 ^ values::parse_ttl(value).expect("ttl")
        } else {
            panic!("unexpected generated key")
        };
        acc = acc.wrapping_add(n);
    }
    acc
}

fn redis_only() -> AdapterSet {
    [Adapter::Redis].into_iter().collect()
}

/// A work directory holding `input.fsm` (the small Redis snapshot) and a scratch dir.
struct RedisWork {
    dir: TempDir,
    input: PathBuf,
    scratch: PathBuf,
}

fn redis_work() -> RedisWork {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.fsm");
    std::fs::write(&input, redis_snapshot()).expect("write snapshot");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch dir");
    RedisWork {
        dir,
        input,
        scratch,
    }
}

/// Decodes `input` with the Redis adapter into `out` (the adapter's files only: no
/// MANIFEST, whose wall-clock stamps would make the count drift).
fn decode_redis(input: &Path, out: &Path, scratch: &Path) -> u64 {
    let options = RedisDecodeOptions {
        scratch_dir: scratch.to_path_buf(),
        ..RedisDecodeOptions::default()
    };
    fs::create_dir_all(out).expect("create the output tree");
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![Box::new(RedisDecoder::new(
        TreeWriter::serial(out).expect("open the output tree"),
        options,
    ))];
    let scan_options = ScanOptions {
        enabled: redis_only(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: 1 << 30,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        input,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut |_| panic!("generated snapshots are sorted"),
        &mut |_, _| {},
    )
    .expect("decode");
    assert!(warnings.0.is_empty(), "{:?}", warnings.0);
    scan.counters.entries
}

// Snapshot → `redis/db_0/` files. Returns the work dir so that removing the tree
// happens after the measurement.
#[library_benchmark]
#[bench::small_mixed(redis_work())]
fn redis_decode(work: RedisWork) -> (u64, RedisWork) {
    let out = work.dir.path().join("tree");
    let entries = decode_redis(&work.input, &out, &work.scratch);
    (entries, work)
}

/// [`redis_work`] plus its decoded tree (string expiries in `strings_ttl.jsonl`
/// included: the encoder's TTL join is deterministic).
fn redis_tree() -> (RedisWork, PathBuf) {
    let work = redis_work();
    let tree = work.dir.path().join("tree");
    decode_redis(&work.input, &tree, &work.scratch);
    (work, tree)
}

// `redis/db_0/` files → snapshot bytes (into a sink; the sort stays in memory).
#[library_benchmark]
#[bench::small_mixed(redis_tree())]
fn redis_encode((work, tree): (RedisWork, PathBuf)) -> (u64, RedisWork) {
    let sort = SortOptions {
        memory_budget: 1 << 30,
        scratch_dir: work.scratch.clone(),
    };
    let summary = encode_tree_to(
        &tree,
        &[&elastickv_codec::adapters::redis::SPEC],
        1,
        sort,
        io::sink(),
    )
    .expect("encode");
    (summary.entries, work)
}

/// A work directory holding `input.fsm` (a generated `profile` workload at `scale`)
/// and a scratch dir.
fn profile_work(profile: &str, scale: f64) -> RedisWork {
    use elastickv_synth::workload::{Profile, Scale, Workload, write_snapshot};
    let profile: Profile = profile.parse().expect("profile");
    let workload = Workload::new(profile, Scale::new(scale).expect("scale"));
    let (snapshot, _) = write_snapshot(Vec::new(), &workload, SEED).expect("generate");
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.fsm");
    std::fs::write(&input, snapshot).expect("write snapshot");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch dir");
    RedisWork {
        dir,
        input,
        scratch,
    }
}

/// `ddb-items` at scale 0.005: 1000 items of two tables, one with an index.
fn ddb_work() -> RedisWork {
    profile_work("ddb-items", 0.005)
}

// Snapshot → `dynamodb/` item files (the adapter's files only, as for Redis).
#[library_benchmark]
#[bench::ddb_items(ddb_work())]
fn ddb_decode(work: RedisWork) -> (u64, RedisWork) {
    let out = work.dir.path().join("tree");
    let entries = decode_ddb(&work.input, &out, &work.scratch);
    (entries, work)
}

fn decode_ddb(input: &Path, out: &Path, scratch: &Path) -> u64 {
    use elastickv_codec::adapters::dynamodb::{DynamoDecodeOptions, DynamoDecoder};
    fs::create_dir_all(out).expect("create the output tree");
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![Box::new(DynamoDecoder::new(
        TreeWriter::serial(out).expect("open the output tree"),
        DynamoDecodeOptions {
            bundle_bytes: None,
            memory_budget: 1 << 30,
            scratch_dir: scratch.to_path_buf(),
        },
    ))];
    let scan_options = ScanOptions {
        enabled: [Adapter::DynamoDb].into_iter().collect(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: 1 << 30,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        input,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut |_| panic!("generated snapshots are sorted"),
        &mut |_, _| {},
    )
    .expect("decode");
    assert!(warnings.0.is_empty(), "{:?}", warnings.0);
    scan.counters.entries
}

fn ddb_tree() -> (RedisWork, PathBuf) {
    let work = ddb_work();
    let tree = work.dir.path().join("tree");
    decode_ddb(&work.input, &tree, &work.scratch);
    (work, tree)
}

// `dynamodb/` files → snapshot bytes (into a sink; the sort stays in memory).
#[library_benchmark]
#[bench::ddb_items(ddb_tree())]
fn ddb_encode((work, tree): (RedisWork, PathBuf)) -> (u64, RedisWork) {
    (
        encode_adapter_tree(&elastickv_codec::adapters::dynamodb::SPEC, &work, &tree),
        work,
    )
}

// ---------------------------------------------------------------------------------
// SQS
// ---------------------------------------------------------------------------------

/// `sqs-messages` at scale 0.003: about 900 messages in standard, FIFO and
/// partitioned FIFO queues.
fn sqs_work() -> RedisWork {
    profile_work("sqs-messages", 0.003)
}

// Snapshot → `sqs/` queue files (the adapter's files only, as for Redis): messages
// through the external sort (in memory here), then rendered per queue.
#[library_benchmark]
#[bench::sqs_messages(sqs_work())]
fn sqs_decode(work: RedisWork) -> (u64, RedisWork) {
    let out = work.dir.path().join("tree");
    let entries = decode_sqs(&work.input, &out, &work.scratch);
    (entries, work)
}

fn decode_sqs(input: &Path, out: &Path, scratch: &Path) -> u64 {
    use elastickv_codec::adapters::sqs::{SqsDecodeOptions, SqsDecoder};
    fs::create_dir_all(out).expect("create the output tree");
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = vec![Box::new(SqsDecoder::new(
        TreeWriter::serial(out).expect("open the output tree"),
        SqsDecodeOptions {
            preserve_visibility: false,
            include_side_records: false,
            sort: SortOptions {
                memory_budget: 1 << 30,
                scratch_dir: scratch.to_path_buf(),
            },
        },
    ))];
    let scan_options = ScanOptions {
        enabled: [Adapter::Sqs].into_iter().collect(),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes: 1 << 30,
    };
    let mut warnings = Warnings::default();
    let scan = scan::scan_file(
        input,
        &scan_options,
        &mut adapters,
        &mut warnings,
        &mut |_| panic!("generated snapshots are sorted"),
        &mut |_, _| {},
    )
    .expect("decode");
    scan.counters.entries
}

/// Encodes one adapter's tree into a sink (the sorts stay in memory); the entries.
fn encode_adapter_tree(spec: &'static AdapterSpec, work: &RedisWork, tree: &Path) -> u64 {
    let sort = SortOptions {
        memory_budget: 1 << 30,
        scratch_dir: work.scratch.clone(),
    };
    encode_tree_to(tree, &[spec], 1, sort, io::sink())
        .expect("encode")
        .entries
}

fn sqs_tree() -> (RedisWork, PathBuf) {
    let work = sqs_work();
    let tree = work.dir.path().join("tree");
    decode_sqs(&work.input, &tree, &work.scratch);
    (work, tree)
}

// `sqs/` files → snapshot bytes (into a sink; the sorts stay in memory).
#[library_benchmark]
#[bench::sqs_messages(sqs_tree())]
fn sqs_encode((work, tree): (RedisWork, PathBuf)) -> (u64, RedisWork) {
    (
        encode_adapter_tree(&elastickv_codec::adapters::sqs::SPEC, &work, &tree),
        work,
    )
}

library_benchmark_group!(
    name = container;
    benchmarks = container_read, mvcc_visibility, sort_in_memory
);

library_benchmark_group!(
    name = tree;
    benchmarks = segment_encode, segment_decode, json_hash, json_zset, json_stream_lines
);

library_benchmark_group!(
    name = redis;
    benchmarks = redis_parse_rows, redis_decode, redis_encode
);

library_benchmark_group!(
    name = dynamodb;
    benchmarks = ddb_decode, ddb_encode
);

library_benchmark_group!(
    name = sqs;
    benchmarks = sqs_decode, sqs_encode
);

main!(
    library_benchmark_groups = container,
    tree,
    redis,
    dynamodb,
    sqs
);
