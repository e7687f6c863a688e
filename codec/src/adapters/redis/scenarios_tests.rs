//! End-to-end scenarios of the Redis adapter on hand-built records and trees: the
//! docs/format.md examples, the order-dependent rules, warnings and every error kind.

use std::fs;
use std::path::Path;

use crate::adapter::{AdapterDecoder, Warnings};
use crate::adapter::{AdapterEncoder, EntrySink};
use crate::container::EntryRef;
use crate::dispatch::route;
use crate::error::BoxError;
use crate::tree::writer::TreeWriter;

use super::keys::{self, StreamId};
use super::proto::{self, RedisZSetEntry, RedisZSetValue};
use super::values;
use super::{RedisDecodeOptions, RedisDecoder, RedisEncoder};

use prost::Message as _;

/// Decodes `records` (sorted by key first, as the driver delivers them).
fn decode_with(
    out: &Path,
    records: &[(Vec<u8>, Vec<u8>)],
    options: RedisDecodeOptions,
) -> (Warnings, Result<(), BoxError>) {
    let mut records = records.to_vec();
    records.sort();
    let mut decoder = RedisDecoder::new(TreeWriter::serial(out).unwrap(), options);
    let mut warnings = Warnings::default();
    for (key, value) in &records {
        let prefix = route(key).expect("test records are routed");
        let entry = EntryRef {
            offset: 0,
            encoded_key: key,
            user_key: key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: value,
        };
        if let Err(e) = decoder.handle(prefix, &entry, &mut warnings) {
            let _ = decoder.finalize(&mut warnings);
            return (warnings, Err(e));
        }
    }
    let result = decoder.finalize(&mut warnings);
    (warnings, result)
}

fn decode(out: &Path, records: &[(Vec<u8>, Vec<u8>)]) -> Warnings {
    let (warnings, result) = decode_with(out, records, RedisDecodeOptions::default());
    if let Err(e) = result {
        panic!("decode failed: {e}");
    }
    warnings
}

fn decode_err(records: &[(Vec<u8>, Vec<u8>)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (_, result) = decode_with(dir.path(), records, RedisDecodeOptions::default());
    result.expect_err("decode should fail").code().to_owned()
}

fn rec(key: Vec<u8>, value: impl Into<Vec<u8>>) -> (Vec<u8>, Vec<u8>) {
    (key, value.into())
}

fn db(out: &Path) -> std::path::PathBuf {
    out.join("redis/db_0")
}

fn read(path: impl AsRef<Path>) -> String {
    String::from_utf8(fs::read(path.as_ref()).unwrap()).unwrap()
}

fn events(warnings: &Warnings) -> Vec<&'static str> {
    warnings.0.iter().map(|w| w.event).collect()
}

fn field<'w>(warnings: &'w Warnings, event: &str, name: &str) -> Option<&'w str> {
    let warning = warnings.0.iter().find(|w| w.event == event)?;
    warning
        .fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

// --- strings, HLLs, TTL routing ---------------------------------------------------

#[test]
fn strings_and_their_ttls() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(
            keys::raw_key(keys::STRING, b"new"),
            values::build_string(b"v1", 1_700_000_000_000),
        ),
        rec(
            keys::raw_key(keys::STRING, b"plain"),
            values::build_string(b"v2", 0),
        ),
        rec(keys::raw_key(keys::STRING, b"legacy"), b"raw".to_vec()),
        // The envelope owns the TTL, even when it says "none": scan rows are ignored.
        rec(keys::raw_key(keys::TTL, b"new"), values::build_ttl(5)),
        rec(keys::raw_key(keys::TTL, b"plain"), values::build_ttl(6)),
        rec(keys::raw_key(keys::TTL, b"legacy"), values::build_ttl(7)),
    ];
    let warnings = decode(out.path(), &records);
    assert!(warnings.0.is_empty());
    let db = db(out.path());
    assert_eq!(fs::read(db.join("strings/new.bin")).unwrap(), b"v1");
    assert_eq!(fs::read(db.join("strings/plain.bin")).unwrap(), b"v2");
    assert_eq!(fs::read(db.join("strings/legacy.bin")).unwrap(), b"raw");
    assert_eq!(
        read(db.join("strings_ttl.jsonl")),
        "{\"key\":\"new\",\"expire_at_ms\":1700000000000}\n{\"key\":\"legacy\",\"expire_at_ms\":7}\n"
    );
    assert!(!db.join("hll_ttl.jsonl").exists());
    assert!(!db.join("KEYMAP.jsonl").exists());
}

#[test]
fn hlls_and_their_ttls() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(
            keys::raw_key(keys::HLL, b"h1"),
            values::build_hll(b"sk1", 9),
        ),
        rec(keys::raw_key(keys::HLL, b"h2"), b"sk2".to_vec()),
        rec(keys::raw_key(keys::TTL, b"h1"), values::build_ttl(10)),
        rec(keys::raw_key(keys::TTL, b"h2"), values::build_ttl(11)),
    ];
    decode(out.path(), &records);
    let db = db(out.path());
    assert_eq!(fs::read(db.join("hll/h1.bin")).unwrap(), b"sk1");
    assert_eq!(
        read(db.join("hll_ttl.jsonl")),
        "{\"key\":\"h1\",\"expire_at_ms\":9}\n{\"key\":\"h2\",\"expire_at_ms\":11}\n"
    );
    assert!(!db.join("strings_ttl.jsonl").exists());
}

#[test]
fn empty_key_and_nothing_at_all() {
    let out = tempfile::tempdir().unwrap();
    decode(out.path(), &[]);
    assert!(
        !out.path().join("redis").exists(),
        "no records, no directory"
    );
    decode(
        out.path(),
        &[rec(keys::raw_key(keys::STRING, b""), b"e".to_vec())],
    );
    assert_eq!(fs::read(db(out.path()).join("strings/.bin")).unwrap(), b"e");
}

#[test]
fn sha_fallback_names_are_recorded_each_time() {
    let out = tempfile::tempdir().unwrap();
    let long = vec![b'K'; 300];
    let records = [
        rec(
            keys::raw_key(keys::STRING, &long),
            values::build_string(b"v", 42),
        ),
        rec(keys::wide_key(keys::SET_MEMBER, &long, b"m"), Vec::new()),
    ];
    decode(out.path(), &records);
    let db = db(out.path());
    let name = format!("61e1921fd2d8dd4cbc277fab8715cc0d__{}", "K".repeat(64));
    assert!(db.join(format!("strings/{name}.bin")).is_file());
    assert!(db.join(format!("sets/{name}.json")).is_file());
    let record = format!(
        "{{\"encoded\":\"{name}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
        "S0tL".repeat(100)
    );
    // The blob, its TTL line, then the set at flush time.
    assert_eq!(read(db.join("KEYMAP.jsonl")), record.repeat(3));
}

#[test]
fn malformed_simple_values() {
    assert_eq!(
        decode_err(&[rec(keys::raw_key(keys::STRING, b"k"), b"\xff\x01".to_vec())]),
        "redis-invalid-string-value"
    );
    assert_eq!(
        decode_err(&[rec(
            keys::raw_key(keys::HLL, b"k"),
            b"\xff\x02\x01\0".to_vec()
        )]),
        "redis-invalid-hll-value"
    );
    assert_eq!(
        decode_err(&[rec(keys::raw_key(keys::TTL, b"k"), b"1234".to_vec())]),
        "redis-invalid-ttl-value"
    );
}

// --- hashes, lists, sets ----------------------------------------------------------

#[test]
fn hash_document_and_ttl_ownership() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(
            keys::wide_key(keys::HASH_FIELD, b"h", b"f"),
            b"<v>".to_vec(),
        ),
        rec(
            keys::wide_key(keys::HASH_FIELD, b"h", b""),
            b"\xff".to_vec(),
        ),
        rec(
            keys::wide_key(keys::HASH_META, b"h", b""),
            values::build_count_meta(2, None),
        ),
        rec(keys::raw_key(keys::TTL, b"h"), values::build_ttl(77)),
        rec(
            keys::wide_key(keys::HASH_META, b"owned", b""),
            values::build_count_meta(0, Some(5)),
        ),
        rec(keys::raw_key(keys::TTL, b"owned"), values::build_ttl(99)),
        // Deltas are derived data.
        rec(
            [b"!hs|meta|d|".as_slice(), b"\0\0\0\x01h"].concat(),
            vec![0; 8],
        ),
    ];
    let warnings = decode(out.path(), &records);
    assert!(warnings.0.is_empty(), "{warnings:?}");
    let db = db(out.path());
    assert_eq!(
        read(db.join("hashes/h.json")),
        "{\n  \"format_version\": 1,\n  \"fields\": [\n    {\n      \"name\": \"\",\n      \"value\": {\n        \"base64\": \"_w\"\n      }\n    },\n    {\n      \"name\": \"f\",\n      \"value\": \"\\u003cv\\u003e\"\n    }\n  ],\n  \"expire_at_ms\": 77\n}"
    );
    assert_eq!(
        read(db.join("hashes/owned.json")),
        "{\n  \"format_version\": 1,\n  \"fields\": [],\n  \"expire_at_ms\": 5\n}"
    );
}

#[test]
fn list_items_in_sequence_order_and_length_warning() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(
            keys::raw_key(keys::LIST_META, b"L"),
            values::build_list_meta(3, None),
        ),
        rec(keys::list_item_key(b"L", 1), b"b".to_vec()),
        rec(keys::list_item_key(b"L", -4), b"a".to_vec()),
        rec(
            [b"!lst|claim|".as_slice(), b"\0\0\0\x01L"].concat(),
            Vec::new(),
        ),
    ];
    let warnings = decode(out.path(), &records);
    assert_eq!(
        read(db(out.path()).join("lists/L.json")),
        "{\n  \"format_version\": 1,\n  \"items\": [\n    \"a\",\n    \"b\"\n  ],\n  \"expire_at_ms\": null\n}"
    );
    assert_eq!(events(&warnings), ["redis_list_length_mismatch"]);
    let w = &warnings.0[0];
    let names: Vec<_> = w.fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        ["user_key_len", "declared_len", "observed_items", "hint"]
    );
    assert_eq!(
        field(&warnings, "redis_list_length_mismatch", "declared_len"),
        Some("3")
    );
    assert_eq!(
        field(&warnings, "redis_list_length_mismatch", "observed_items"),
        Some("2")
    );
}

#[test]
fn set_claims_a_parked_ttl_and_dedups() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(123)),
        rec(keys::wide_key(keys::SET_MEMBER, b"s", b"b"), Vec::new()),
        rec(
            keys::wide_key(keys::SET_MEMBER, b"s", b"a"),
            b"ignored".to_vec(),
        ),
        rec(
            keys::wide_key(keys::SET_META, b"s", b""),
            values::build_count_meta(2, None),
        ),
    ];
    let warnings = decode(out.path(), &records);
    assert!(warnings.0.is_empty());
    assert_eq!(
        read(db(out.path()).join("sets/s.json")),
        "{\n  \"format_version\": 1,\n  \"members\": [\n    \"a\",\n    \"b\"\n  ],\n  \"expire_at_ms\": 123\n}"
    );
}

#[test]
fn inline_meta_ttl_overrides_a_claimed_one() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(123)),
        rec(keys::wide_key(keys::SET_MEMBER, b"s", b"a"), Vec::new()),
        // 16-byte meta with expiry 0: the meta owns the TTL and says "none".
        rec(
            keys::wide_key(keys::SET_META, b"s", b""),
            [1u64.to_be_bytes(), [0; 8]].concat(),
        ),
    ];
    decode(out.path(), &records);
    assert!(read(db(out.path()).join("sets/s.json")).ends_with("\"expire_at_ms\": null\n}"));
}

#[test]
fn orphan_ttls_are_warned_about() {
    let out = tempfile::tempdir().unwrap();
    let records = [rec(
        keys::raw_key(keys::TTL, b"ghost"),
        values::build_ttl(1),
    )];
    let warnings = decode(out.path(), &records);
    assert_eq!(events(&warnings), ["redis_orphan_ttl"]);
    assert_eq!(field(&warnings, "redis_orphan_ttl", "count"), Some("1"));
    assert_eq!(
        field(&warnings, "redis_orphan_ttl", "pending_ttl_buffer_overflow"),
        None
    );
    assert!(!out.path().join("redis").exists());

    // With buffering off every not-yet-typed TTL is an orphan, even a set's.
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(1)),
        rec(keys::wide_key(keys::SET_MEMBER, b"s", b"a"), Vec::new()),
    ];
    let options = RedisDecodeOptions {
        pending_ttl_bytes_cap: 0,
        ..RedisDecodeOptions::default()
    };
    let (warnings, result) = decode_with(out.path(), &records, options);
    result.unwrap();
    assert_eq!(field(&warnings, "redis_orphan_ttl", "count"), Some("1"));
    assert!(read(db(out.path()).join("sets/s.json")).ends_with("\"expire_at_ms\": null\n}"));
}

#[test]
fn pending_ttl_budget_fails_closed() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(keys::raw_key(keys::TTL, b"a"), values::build_ttl(1)),
        rec(keys::raw_key(keys::TTL, b"b"), values::build_ttl(1)),
    ];
    let options = RedisDecodeOptions {
        pending_ttl_bytes_cap: 9,
        ..RedisDecodeOptions::default()
    };
    let (warnings, result) = decode_with(out.path(), &records, options);
    assert_eq!(result.unwrap_err().code(), "pending-ttl-buffer-full");
    assert_eq!(field(&warnings, "redis_orphan_ttl", "count"), Some("1"));
    assert_eq!(
        field(&warnings, "redis_orphan_ttl", "pending_ttl_buffer_overflow"),
        Some("1")
    );
    assert_eq!(
        field(
            &warnings,
            "redis_orphan_ttl",
            "pending_ttl_buffer_bytes_cap"
        ),
        Some("9")
    );
}

#[test]
fn pending_ttl_overflow_wins_over_later_row_errors() {
    // Go fails at the TTL row that overflows; rows after it are never looked at, so
    // their errors must not replace the budget's, although TTLs are routed later.
    let options = || RedisDecodeOptions {
        pending_ttl_bytes_cap: 9,
        ..RedisDecodeOptions::default()
    };
    let ttl = |k: &[u8]| rec(keys::raw_key(keys::TTL, k), values::build_ttl(1));
    let out = tempfile::tempdir().unwrap();
    let bad_set = rec(b"!st|mem|\0\0".to_vec(), Vec::new());
    let records = [ttl(b"a"), ttl(b"b"), bad_set.clone()];
    let (_, result) = decode_with(out.path(), &records, options());
    assert_eq!(result.unwrap_err().code(), "pending-ttl-buffer-full");
    let bad_ttl = rec(keys::raw_key(keys::TTL, b"c"), b"123".to_vec());
    let records = [ttl(b"a"), ttl(b"b"), bad_ttl.clone()];
    let (_, result) = decode_with(out.path(), &records, options());
    assert_eq!(result.unwrap_err().code(), "pending-ttl-buffer-full");
    // Without the overflow, the later rows' own errors.
    let records = [ttl(b"a"), bad_ttl];
    let (_, result) = decode_with(out.path(), &records, options());
    assert_eq!(result.unwrap_err().code(), "redis-invalid-ttl-value");
    let records = [ttl(b"a"), bad_set];
    let (_, result) = decode_with(out.path(), &records, options());
    assert_eq!(result.unwrap_err().code(), "redis-invalid-set-key");
}

#[test]
fn rows_out_of_key_order_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let mut decoder = RedisDecoder::new(
        TreeWriter::serial(out.path()).unwrap(),
        RedisDecodeOptions::default(),
    );
    let mut warnings = Warnings::default();
    let mut feed = |key: Vec<u8>, value: Vec<u8>| {
        let entry = EntryRef {
            offset: 0,
            encoded_key: &key,
            user_key: &key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: &value,
        };
        let prefix = route(&key).expect("routed");
        decoder
            .handle(prefix, &entry, &mut warnings)
            .map_err(|e| e.code().to_owned())
    };
    feed(
        keys::raw_key(keys::TTL, b"k"),
        values::build_ttl(1).to_vec(),
    )
    .unwrap();
    feed(keys::wide_key(keys::SET_MEMBER, b"k", b"m"), Vec::new()).unwrap();
    // A string after a set: TTL routing already happened without it.
    let err = feed(keys::raw_key(keys::STRING, b"k"), b"v".to_vec()).unwrap_err();
    assert_eq!(err, "redis-input-unsorted");
}

#[test]
fn malformed_collection_rows() {
    let short_len = [b"!hs|fld|".as_slice(), b"\0\0\0ca"].concat();
    assert_eq!(
        decode_err(&[rec(short_len, b"v".to_vec())]),
        "redis-invalid-hash-key"
    );
    assert_eq!(
        decode_err(&[rec(keys::wide_key(keys::HASH_META, b"h", b""), vec![0; 9])]),
        "redis-invalid-hash-meta"
    );
    assert_eq!(
        decode_err(&[rec(b"!lst|itm|1234567".to_vec(), Vec::new())]),
        "redis-invalid-list-key"
    );
    assert_eq!(
        decode_err(&[rec(keys::raw_key(keys::LIST_META, b"l"), vec![0; 8])]),
        "redis-invalid-list-meta"
    );
    assert_eq!(
        decode_err(&[rec(b"!st|mem|\0\0".to_vec(), Vec::new())]),
        "redis-invalid-set-key"
    );
    assert_eq!(
        decode_err(&[rec(
            keys::wide_key(keys::SET_META, b"s", b""),
            u64::MAX.to_be_bytes().to_vec()
        )]),
        "redis-invalid-set-meta"
    );
}

// --- zsets --------------------------------------------------------------------------

fn legacy_blob(entries: &[(&str, f64)]) -> Vec<u8> {
    let msg = RedisZSetValue {
        entries: entries
            .iter()
            .map(|(m, s)| RedisZSetEntry {
                member: (*m).to_owned(),
                score: *s,
            })
            .collect(),
    };
    [proto::ZSET_BLOB_MAGIC, &msg.encode_to_vec()].concat()
}

#[test]
fn zset_scores_render_like_go() {
    let out = tempfile::tempdir().unwrap();
    let member = |m: &[u8], s: f64| {
        rec(
            keys::wide_key(keys::ZSET_MEMBER, b"z", m),
            values::build_zset_score(s).to_vec(),
        )
    };
    let records = [
        member(b"a", f64::INFINITY),
        member(b"b", f64::NEG_INFINITY),
        member(b"c", 1e21),
        member(b"d", 0.000001),
        member(b"e", 1e-7),
        member(b"f", -0.0),
        member(b"g", 100.0),
    ];
    decode(out.path(), &records);
    let doc = read(db(out.path()).join("zsets/z.json"));
    let scores: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"score\": "))
        .collect();
    assert_eq!(
        scores,
        [
            "\"+inf\"", "\"-inf\"", "1e+21", "0.000001", "1e-7", "-0", "100"
        ]
    );
}

#[test]
fn wide_zset_rows_supersede_the_legacy_blob() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        // !redis|zset| sorts before !zs|: the blob arrives first, then the wide rows.
        rec(
            keys::raw_key(b"!redis|zset|", b"both"),
            legacy_blob(&[("old", 1.0)]),
        ),
        rec(
            keys::wide_key(keys::ZSET_MEMBER, b"both", b"new"),
            values::build_zset_score(2.0).to_vec(),
        ),
        rec(
            keys::raw_key(b"!redis|zset|", b"metaonly"),
            legacy_blob(&[("kept", 3.0)]),
        ),
        rec(
            keys::wide_key(keys::ZSET_META, b"metaonly", b""),
            values::build_count_meta(1, None),
        ),
    ];
    let warnings = decode(out.path(), &records);
    assert!(warnings.0.is_empty(), "{warnings:?}");
    let db = db(out.path());
    let both = read(db.join("zsets/both.json"));
    assert!(both.contains("\"new\"") && !both.contains("\"old\""));
    assert!(read(db.join("zsets/metaonly.json")).contains("\"kept\""));
}

#[test]
fn malformed_zset_rows() {
    let nan = f64::NAN.to_be_bytes().to_vec();
    assert_eq!(
        decode_err(&[rec(keys::wide_key(keys::ZSET_MEMBER, b"z", b"m"), nan)]),
        "redis-invalid-zset-member"
    );
    assert_eq!(
        decode_err(&[rec(
            keys::wide_key(keys::ZSET_MEMBER, b"z", b"m"),
            vec![0; 4]
        )]),
        "redis-invalid-zset-member"
    );
    assert_eq!(
        decode_err(&[rec(
            keys::raw_key(b"!redis|zset|", b"z"),
            legacy_blob(&[("m", f64::NAN)])
        )]),
        "redis-invalid-zset-legacy-blob"
    );
    assert_eq!(
        decode_err(&[rec(
            keys::raw_key(b"!redis|zset|", b"z"),
            b"\0RZ\x02".to_vec()
        )]),
        "redis-invalid-zset-legacy-blob"
    );
    assert_eq!(
        decode_err(&[rec(b"!zs|meta|\0\0\0\x09z".to_vec(), vec![0; 8])]),
        "redis-invalid-zset-key"
    );
    assert_eq!(
        decode_err(&[rec(keys::wide_key(keys::ZSET_META, b"z", b""), vec![0; 7])]),
        "redis-invalid-zset-meta"
    );
}

// --- streams ------------------------------------------------------------------------

fn entry(key: &[u8], ms: u64, seq: u64, fields: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let fields = fields.iter().map(|f| (*f).to_owned()).collect();
    rec(
        keys::stream_entry_key(key, StreamId { ms, seq }),
        proto::build_stream_entry("ignored", fields),
    )
}

#[test]
fn stream_file_ends_with_its_meta_line() {
    let out = tempfile::tempdir().unwrap();
    let mut trim_meta = values::build_stream_meta(2, StreamId { ms: 10, seq: 1 }, Some(500));
    trim_meta.extend_from_slice(&[0xAA; 16]);
    let records = [
        entry(b"s", 10, 1, &["b", "<2>"]),
        entry(b"s", 2, 0, &["a", "1", "a", "dup"]),
        rec(keys::wide_key(keys::STREAM_META, b"s", b""), trim_meta),
    ];
    let warnings = decode(out.path(), &records);
    assert!(warnings.0.is_empty());
    assert_eq!(
        read(db(out.path()).join("streams/s.jsonl")),
        concat!(
            "{\"id\":\"2-0\",\"fields\":[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"a\",\"value\":\"dup\"}]}\n",
            "{\"id\":\"10-1\",\"fields\":[{\"name\":\"b\",\"value\":\"\\u003c2\\u003e\"}]}\n",
            "{\"_meta\":true,\"length\":2,\"last_ms\":10,\"last_seq\":1,\"expire_at_ms\":500}\n"
        )
    );
}

#[test]
fn streams_without_meta_are_not_written() {
    let out = tempfile::tempdir().unwrap();
    let records = [
        rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(1)),
        entry(b"s", 1, 1, &[]),
    ];
    let warnings = decode(out.path(), &records);
    assert_eq!(
        events(&warnings),
        ["redis_stream_orphan_entries_without_meta"]
    );
    assert_eq!(
        field(
            &warnings,
            "redis_stream_orphan_entries_without_meta",
            "observed_entries"
        ),
        Some("1")
    );
    let streams = db(out.path()).join("streams");
    assert!(streams.is_dir(), "the type directory exists, as in Go");
    assert_eq!(fs::read_dir(streams).unwrap().count(), 0);
}

#[test]
fn malformed_stream_rows() {
    let meta_key = keys::wide_key(keys::STREAM_META, b"s", b"");
    assert_eq!(
        decode_err(&[rec(meta_key, vec![0; 40])]),
        "redis-invalid-stream-meta"
    );
    let long_id = keys::wide_key(keys::STREAM_ENTRY, b"s", &[0; 17]);
    assert_eq!(
        decode_err(&[rec(long_id, Vec::new())]),
        "redis-invalid-stream-key"
    );
    let bad_utf8 = [proto::STREAM_ENTRY_MAGIC, b"\x12\x01\xff"].concat();
    let key = keys::stream_entry_key(b"s", StreamId { ms: 1, seq: 1 });
    assert_eq!(
        decode_err(&[rec(key.clone(), bad_utf8)]),
        "redis-invalid-stream-entry"
    );
    assert_eq!(
        decode_err(&[rec(key, b"junk".to_vec())]),
        "redis-invalid-stream-entry"
    );
}

#[test]
fn symlinked_output_ancestor_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), out.path().join("redis")).unwrap();
    let (_, result) = decode_with(
        out.path(),
        &[rec(keys::raw_key(keys::STRING, b"k"), b"v".to_vec())],
        RedisDecodeOptions::default(),
    );
    assert_eq!(result.unwrap_err().code(), "symlinked-ancestor");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

// --- encode -------------------------------------------------------------------------

/// `(user key, value)` records, sorted.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Default)]
struct Collect(Records);

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.0.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

fn encode(redis: &Path) -> Result<Records, BoxError> {
    let mut sink = Collect::default();
    RedisEncoder::new().encode(redis, &mut sink)?;
    sink.0.sort();
    Ok(sink.0)
}

fn encode_err(redis: &Path) -> String {
    encode(redis)
        .expect_err("encode should fail")
        .code()
        .to_owned()
}

/// Writes `files` (path relative to `redis/db_0`, contents) into a fresh tree.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let path = root.path().join("redis/db_0").join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }
    root
}

#[test]
fn decoded_trees_encode_to_live_records() {
    let out = tempfile::tempdir().unwrap();
    let long = vec![b'L'; 250];
    let records = vec![
        rec(keys::raw_key(keys::STRING, b"s"), b"legacy".to_vec()),
        rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(50)),
        rec(
            keys::raw_key(keys::HLL, &long),
            values::build_hll(b"sk", 60),
        ),
        rec(
            keys::wide_key(keys::HASH_FIELD, b"h", b"\xff"),
            b"v".to_vec(),
        ),
        rec(keys::raw_key(keys::TTL, b"h"), values::build_ttl(70)),
        rec(keys::list_item_key(b"l", -9), b"x".to_vec()),
        rec(
            keys::wide_key(keys::ZSET_MEMBER, b"z", b"m"),
            values::build_zset_score(f64::NEG_INFINITY).to_vec(),
        ),
        entry(b"st", 3, 4, &["f", "v"]),
        rec(
            keys::wide_key(keys::STREAM_META, b"st", b""),
            values::build_stream_meta(1, StreamId { ms: 3, seq: 4 }, None),
        ),
    ];
    decode(out.path(), &records);
    let got = encode(&out.path().join("redis")).unwrap();
    let mut want = vec![
        rec(
            keys::raw_key(keys::STRING, b"s"),
            values::build_string(b"legacy", 50),
        ),
        rec(
            keys::raw_key(keys::HLL, &long),
            values::build_hll(b"sk", 60),
        ),
        rec(keys::raw_key(keys::TTL, &long), values::build_ttl(60)),
        rec(
            keys::wide_key(keys::HASH_META, b"h", b""),
            values::build_count_meta(1, Some(70)),
        ),
        rec(
            keys::wide_key(keys::HASH_FIELD, b"h", b"\xff"),
            b"v".to_vec(),
        ),
        rec(keys::raw_key(keys::TTL, b"h"), values::build_ttl(70)),
        rec(
            keys::raw_key(keys::LIST_META, b"l"),
            values::build_list_meta(1, None),
        ),
        rec(keys::list_item_key(b"l", 0), b"x".to_vec()),
        rec(
            keys::wide_key(keys::ZSET_META, b"z", b""),
            values::build_count_meta(1, None),
        ),
        rec(
            keys::wide_key(keys::ZSET_MEMBER, b"z", b"m"),
            values::build_zset_score(f64::NEG_INFINITY).to_vec(),
        ),
        rec(
            keys::zset_score_key(b"z", f64::NEG_INFINITY, b"m"),
            Vec::new(),
        ),
        rec(
            keys::stream_entry_key(b"st", StreamId { ms: 3, seq: 4 }),
            proto::build_stream_entry("3-4", vec!["f".into(), "v".into()]),
        ),
        rec(
            keys::wide_key(keys::STREAM_META, b"st", b""),
            values::build_stream_meta(1, StreamId { ms: 3, seq: 4 }, None),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn database_directory_rules() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(encode(&root.path().join("redis")).unwrap(), vec![]);
    let redis = root.path().join("redis");
    fs::create_dir(&redis).unwrap();
    fs::create_dir(redis.join("db_01")).unwrap(); // not canonical: ignored
    fs::write(redis.join("notes.txt"), "").unwrap();
    assert_eq!(encode(&redis).unwrap(), vec![]);
    fs::create_dir(redis.join("db_3")).unwrap();
    assert_eq!(encode_err(&redis), "redis-encode-multi-db-unsupported");
    fs::create_dir(redis.join("db_0")).unwrap();
    assert_eq!(encode_err(&redis), "redis-encode-multi-db-unsupported");
    fs::remove_dir(redis.join("db_3")).unwrap();
    assert_eq!(encode(&redis).unwrap(), vec![]);
    fs::write(redis.join("db_7"), "").unwrap();
    assert_eq!(encode_err(&redis), "redis-encode-not-dir");

    let file_root = tempfile::tempdir().unwrap();
    fs::write(file_root.path().join("redis"), "").unwrap();
    assert_eq!(
        encode_err(&file_root.path().join("redis")),
        "redis-encode-not-dir"
    );
}

#[test]
fn unsafe_dump_files() {
    let root = tree(&[("strings/a.bin", "x")]);
    let db = root.path().join("redis/db_0");
    // A symlinked entry is refused (Go skips it, losing the key; docs/format.md §9.1)...
    std::os::unix::fs::symlink(db.join("strings/a.bin"), db.join("strings/b.bin")).unwrap();
    assert_eq!(
        encode_err(&root.path().join("redis")),
        "redis-encode-not-regular"
    );
    fs::remove_file(db.join("strings/b.bin")).unwrap();
    assert_eq!(encode(&root.path().join("redis")).unwrap().len(), 1);
    // ...so is a hard-linked one...
    fs::hard_link(db.join("strings/a.bin"), db.join("strings/c.bin")).unwrap();
    assert_eq!(
        encode_err(&root.path().join("redis")),
        "redis-encode-hard-link"
    );
    fs::remove_file(db.join("strings/c.bin")).unwrap();
    // ...and so are a symlinked sidecar and a symlinked type directory.
    std::os::unix::fs::symlink(db.join("strings/a.bin"), db.join("strings_ttl.jsonl")).unwrap();
    assert_eq!(
        encode_err(&root.path().join("redis")),
        "redis-encode-not-regular"
    );
    fs::remove_file(db.join("strings_ttl.jsonl")).unwrap();
    std::os::unix::fs::symlink(db.join("strings"), db.join("hll")).unwrap();
    assert_eq!(
        encode_err(&root.path().join("redis")),
        "redis-encode-not-dir"
    );
}

#[test]
fn names_must_decode_or_be_in_the_keymap() {
    let sha = format!("61e1921fd2d8dd4cbc277fab8715cc0d__{}", "K".repeat(64));
    let root = tree(&[(&format!("strings/{sha}.bin"), "v")]);
    assert_eq!(
        encode_err(&root.path().join("redis")),
        "redis-encode-missing-keymap"
    );
    let keymap = format!(
        "{{\"encoded\":\"{sha}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
        "S0tL".repeat(100)
    );
    fs::write(root.path().join("redis/db_0/KEYMAP.jsonl"), keymap).unwrap();
    let got = encode(&root.path().join("redis")).unwrap();
    assert_eq!(got[0].0, keys::raw_key(keys::STRING, &[b'K'; 300]));

    let bad = tree(&[("strings/a b.bin", "v")]);
    assert_eq!(
        encode_err(&bad.path().join("redis")),
        "invalid-encoded-segment"
    );
    let bad_keymap = tree(&[("KEYMAP.jsonl", "{}\n")]);
    assert_eq!(
        encode_err(&bad_keymap.path().join("redis")),
        "invalid-keymap-record"
    );
}

#[test]
fn collection_json_is_validated() {
    let cases = [
        ("hashes/h.json", "{\"format_version\":2,\"fields\":[]}"),
        ("hashes/h.json", "{\"format_version\":1,\"fields\":[]} x"),
        (
            "sets/s.json",
            "{\"format_version\":1,\"members\":[{\"wrong\":\"x\"}]}",
        ),
        ("lists/l.json", "{\"format_version\":1,\"items\":[null]}"),
        (
            "zsets/z.json",
            "{\"format_version\":1,\"members\":[{\"member\":\"m\",\"score\":\"inf\"}]}",
        ),
        ("streams/s.jsonl", ""),
        (
            "streams/s.jsonl",
            "{\"_meta\":true,\"length\":0}\n{\"_meta\":true,\"length\":0}\n",
        ),
        ("streams/s.jsonl", "{\"_meta\":true,\"length\":-1}\n"),
        (
            "streams/s.jsonl",
            "{\"id\":\"1-1\",\"fields\":[]}\n{\"_meta\":true,\"length\":0}\n",
        ),
        (
            "streams/s.jsonl",
            "{\"id\":\"5-1\",\"fields\":[]}\n{\"_meta\":true,\"length\":1,\"last_ms\":5}\n",
        ),
        (
            "streams/s.jsonl",
            "{\"id\":\"1-1\",\"fields\":[{\"name\":{\"base64\":\"_w\"},\"value\":\"\"}]}\n",
        ),
        (
            "strings_ttl.jsonl",
            "{\"key\":\"a\",\"expire_at_ms\":\"soon\"}\n",
        ),
    ];
    for (path, body) in cases {
        let root = tree(&[(path, body)]);
        assert_eq!(
            encode_err(&root.path().join("redis")),
            "redis-encode-invalid-json",
            "{path}: {body}"
        );
    }
    // Go's Decoder.More() lets a closing bracket through after the value.
    let root = tree(&[("sets/s.json", "{\"format_version\":1,\"members\":[]} }")]);
    assert_eq!(encode(&root.path().join("redis")).unwrap().len(), 1);
}

#[test]
fn ttl_zero_means_no_ttl_and_sidecar_lines_only_apply_to_files() {
    let root = tree(&[
        ("strings/a.bin", "x"),
        (
            "strings_ttl.jsonl",
            "{\"key\":\"a\",\"expire_at_ms\":9}\n{\"key\":\"zz\",\"expire_at_ms\":1}\n{\"key\":\"a\",\"expire_at_ms\":0}\n",
        ),
        (
            "sets/s.json",
            "{\"format_version\":1,\"members\":[],\"expire_at_ms\":0}",
        ),
    ]);
    let got = encode(&root.path().join("redis")).unwrap();
    assert_eq!(
        got,
        vec![
            rec(
                keys::raw_key(keys::STRING, b"a"),
                values::build_string(b"x", 0)
            ),
            rec(
                keys::wide_key(keys::SET_META, b"s", b""),
                values::build_count_meta(0, None)
            ),
        ]
    );
}

#[test]
fn stream_entry_ids_keep_their_text() {
    let root = tree(&[(
        "streams/s.jsonl",
        "{\"id\":\"007-1\",\"fields\":[]}\n{\"_meta\":true,\"length\":1,\"last_ms\":7,\"last_seq\":1,\"expire_at_ms\":3}\n",
    )]);
    let got = encode(&root.path().join("redis")).unwrap();
    let id = StreamId { ms: 7, seq: 1 };
    assert_eq!(
        got,
        vec![
            rec(keys::raw_key(keys::TTL, b"s"), values::build_ttl(3)),
            rec(
                keys::stream_entry_key(b"s", id),
                proto::build_stream_entry("007-1", vec![])
            ),
            rec(
                keys::wide_key(keys::STREAM_META, b"s", b""),
                values::build_stream_meta(1, id, Some(3))
            ),
        ]
    );
}
