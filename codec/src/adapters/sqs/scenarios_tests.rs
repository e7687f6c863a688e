//! Targeted scenarios: key layouts, records, the encoder's gates and rows, the
//! decoder's filters and files, and the round trip.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::adapter::AdapterEncoder;
use crate::sort::SortOptions;
use crate::tree::bsv::encode_base64url;
use elastickv_testkit::tree::read_tree;

use super::conformance_tests::{Collect, decode_entries};
use super::keys::{self, KeyError, Layout};
use super::values::{self, Dialect};
use super::{SqsDecodeOptions, SqsEncoder, fnv1a32, partition_for_group};

// --- keys --------------------------------------------------------------------------

#[test]
fn classic_queue_segment_ends_at_the_first_non_alphabet_byte() {
    let q = encode_base64url(b"orders");
    let mut rest = q.clone().into_bytes();
    rest.extend_from_slice(&7u64.to_be_bytes());
    rest.extend_from_slice(b"bTE");
    let k = keys::parse_data_key(&rest).unwrap();
    assert_eq!(k.queue, q.as_bytes());
    assert_eq!(k.partition, None);
    // No message id after the generation.
    assert_eq!(
        keys::parse_data_key(&rest[..rest.len() - 3]),
        Err(KeyError::NoMessageId)
    );
    // A generation from 2^56 on starts with an alphabet byte: the boundary moves
    // into the generation and the key no longer parses as Go's does not.
    let mut big = q.into_bytes();
    big.extend_from_slice(&(u64::from(b'A') << 56).to_be_bytes());
    big.extend_from_slice(b"bTE");
    assert!(keys::parse_data_key(&big).is_err());
}

#[test]
fn partitioned_keys_carry_their_partition() {
    let key = keys::data_key(&encode_base64url(b"q.fifo"), Layout::Partitioned(5), b"m1");
    let rest = &key[keys::MSG_DATA.len()..];
    let k = keys::parse_data_key(rest).unwrap();
    assert_eq!(k.queue, encode_base64url(b"q.fifo").as_bytes());
    assert_eq!(k.partition, Some(5));
    assert_eq!(
        keys::parse_data_key(b"p||xxxx"),
        Err(KeyError::NoTerminator)
    );
    assert_eq!(
        keys::parse_data_key(b"p|cQ|\0\0\0\x01"),
        Err(KeyError::ShortTrailer)
    );
    // Side keys need only partition + generation.
    let vis = keys::timed_key(keys::MSG_VIS, "cQ", Layout::Partitioned(1), 9, b"m");
    assert_eq!(
        keys::parse_side_key(&vis[keys::MSG_VIS.len()..]),
        Ok(&b"cQ"[..])
    );
}

#[test]
fn seq_keys_are_the_whole_rest() {
    assert_eq!(keys::parse_seq_key(b"cQ"), Ok(&b"cQ"[..]));
    assert_eq!(keys::parse_seq_key(b""), Err(KeyError::NoQueueSegment));
    assert_eq!(keys::parse_seq_key(b"c|Q"), Err(KeyError::NoQueueSegment));
    // One base64 character alone encodes no byte.
    assert!(keys::parse_seq_key(b"c").is_err());
    // Go's generic parser (what the seq row hit) wants a trailer after the queue.
    assert_eq!(keys::parse_side_key(b"cQ"), Err(KeyError::NoQueueSegment));
}

#[test]
fn fnv1a_matches_the_reference_values() {
    assert_eq!(fnv1a32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    let meta = values::QueueMeta {
        fifo: true,
        partition_count: 8,
        fifo_throughput_limit: "perMessageGroupId".into(),
        ..Default::default()
    };
    assert_eq!(partition_for_group(&meta, b"a"), 0xe40c_292c & 7);
    assert_eq!(partition_for_group(&meta, b""), 0);
}

// --- records -------------------------------------------------------------------------

#[test]
fn live_messages_render_like_go() {
    let live = br#"{"message_id":"m1","body":"PGI+Jg==","md5_of_body":"x",
        "message_attributes":{"k<":{ "DataType" : "String","StringValue":"<v>"}},
        "send_timestamp_millis":5,"visible_at_millis":9,"receive_count":2,
        "current_receipt_token":"AAE=","queue_generation":1,"Sequence_Number":3}"#;
    let mut m = values::parse_message(live, Dialect::Live).unwrap();
    assert_eq!(m.body, b"<b>&");
    assert_eq!(
        m.sequence_number, 3,
        "member names match case-insensitively"
    );
    let line = String::from_utf8(super::docs::render_message_line(&m)).unwrap();
    assert_eq!(
        line,
        "{\"message_id\":\"m1\",\"body\":\"\\u003cb\\u003e\\u0026\",\"md5_of_body\":\"x\",\
         \"message_attributes\":{\"k<\":{\"DataType\":\"String\",\"StringValue\":\"<v>\"}},\
         \"send_timestamp_millis\":5,\"available_at_millis\":0,\"visible_at_millis\":9,\
         \"receive_count\":2,\"current_receipt_token\":\"AAE=\",\"queue_generation\":1,\
         \"sequence_number\":3}\n"
    );
    m.clear_visibility();
    m.body = vec![0xff, 0x00];
    m.partition = Some(0);
    let line = String::from_utf8(super::docs::render_message_line(&m)).unwrap();
    assert!(line.contains("\"body\":{\"base64\":\"_wA\"}"), "{line}");
    assert!(line.contains("\"visible_at_millis\":0,\"receive_count\":0,\"queue_generation\""));
    assert!(line.ends_with(",\"partition\":0}\n"), "{line}");
}

#[test]
fn malformed_records_are_refused() {
    for bad in [
        &br#"{"send_timestamp_millis":1.5}"#[..],
        br#"{"body":"not base64!"}"#,
        br#"{"queue_generation":-1}"#,
        br#"{"message_id":"a"} x"#,
        br#"[1]"#,
        br#"{"message_attributes":[]}"#,
    ] {
        assert!(
            values::parse_message(bad, Dialect::Live).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    for bad in [
        &br#"{"body":{"base64":"AA","x":1}}"#[..],
        br#"{"body":{}}"#,
        br#"{"body":{"base64":null}}"#,
        br#"{"partition":-1}"#,
    ] {
        assert!(values::parse_message(bad, Dialect::Tree).is_err());
    }
    let tree = values::parse_message(
        br#"{"BODY":{"Base64":"_w"},"partition":null}"#,
        Dialect::Tree,
    )
    .unwrap();
    assert_eq!(tree.body, [0xff]);
    assert_eq!(tree.partition, None);
    assert_eq!(values::parse_decimal(b" 42\n"), Ok(42));
    assert!(values::parse_decimal(b"+1").is_err());
    assert!(values::parse_decimal(b"seven").is_err());
}

// --- encode ---------------------------------------------------------------------------

fn queue_doc(extra: &str) -> String {
    format!(
        "{{\"format_version\":1,\"name\":\"q.fifo\",\"fifo\":true,\"visibility_timeout_seconds\":30,\
         \"message_retention_seconds\":60,\"delay_seconds\":0{extra}}}"
    )
}

fn write_queue(root: &Path, dir: &str, doc: &str, lines: &[String]) {
    let q = root.join(dir);
    fs::create_dir_all(&q).unwrap();
    fs::write(q.join("_queue.json"), doc).unwrap();
    if !lines.is_empty() {
        fs::write(q.join("messages.jsonl"), lines.join("\n") + "\n").unwrap();
    }
}

fn message(id: &str, ts: i64, seq: u64, extra: &str) -> String {
    format!(
        "{{\"message_id\":\"{id}\",\"body\":\"hello {id}\",\"send_timestamp_millis\":{ts},\
         \"available_at_millis\":{ts},\"visible_at_millis\":0,\"receive_count\":0,\
         \"queue_generation\":1,\"sequence_number\":{seq}{extra}}}"
    )
}

fn encode(root: &Path) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, crate::error::BoxError> {
    let scratch = tempfile::tempdir().unwrap();
    let sort = SortOptions {
        memory_budget: 1,
        scratch_dir: scratch.path().to_path_buf(),
    };
    let mut sink = Collect::default();
    SqsEncoder::with_sort(&sort).encode(root, &mut sink)?;
    let n = sink.records.len();
    let map: BTreeMap<_, _> = sink.records.into_iter().collect();
    assert_eq!(map.len(), n, "duplicate keys");
    Ok(map)
}

fn encode_err(root: &Path) -> String {
    match encode(root) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

#[test]
fn queue_docs_are_validated() {
    let cases = [
        (",\"partition_count\":3", "sqs-encode-invalid-queue"),
        (",\"partition_count\":64", "sqs-encode-invalid-queue"),
        (
            ",\"fifo_throughput_limit\":\"fast\"",
            "sqs-encode-invalid-queue",
        ),
        (",\"deduplication_scope\":\"x\"", "sqs-encode-invalid-queue"),
        (
            ",\"partition_count\":4,\"deduplication_scope\":\"queue\"",
            "sqs-encode-invalid-queue",
        ),
        (
            ",\"fifo_throughput_limit\":\"perMessageGroupId\"",
            "sqs-encode-invalid-queue",
        ),
        (",\"partition_count\":4", "ok"),
        (",\"format_version\":2", "sqs-encode-invalid-queue"),
        (",\"name\":\"\"", "sqs-encode-invalid-queue"),
        (",\"delay_seconds\":1.5", "sqs-encode-invalid-queue"),
    ];
    for (extra, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_queue(dir.path(), "q", &queue_doc(extra), &[]);
        assert_eq!(encode_err(dir.path()), want, "{extra}");
    }
    // Standard queues refuse the HT-FIFO attributes.
    let dir = tempfile::tempdir().unwrap();
    let doc = queue_doc(",\"fifo\":false,\"deduplication_scope\":\"messageGroup\"");
    write_queue(dir.path(), "q", &doc, &[]);
    assert_eq!(encode_err(dir.path()), "sqs-encode-invalid-queue");
    // Trailing data, but not a closing bracket (Go's `Decoder.More`).
    for (tail, want) in [(" x", "sqs-encode-invalid-queue"), (" }", "ok")] {
        let dir = tempfile::tempdir().unwrap();
        write_queue(dir.path(), "q", &(queue_doc("") + tail), &[]);
        assert_eq!(encode_err(dir.path()), want, "{tail}");
    }
}

#[test]
fn partition_gates_name_their_error() {
    let per_group = ",\"partition_count\":4,\"fifo_throughput_limit\":\"perMessageGroupId\"";
    let right = partition_for_group(
        &values::QueueMeta {
            fifo: true,
            partition_count: 4,
            fifo_throughput_limit: "perMessageGroupId".into(),
            ..Default::default()
        },
        b"g1",
    );
    let wrong = (right + 1) % 4;
    let cases = [
        (per_group, String::new(), "sqs-encode-missing-partition"),
        (
            per_group,
            ",\"partition\":4".into(),
            "sqs-encode-out-of-range-partition",
        ),
        (
            per_group,
            format!(",\"message_group_id\":\"g1\",\"partition\":{wrong}"),
            "sqs-encode-partition-hash-mismatch",
        ),
        (
            per_group,
            format!(",\"message_group_id\":\"g1\",\"partition\":{right}"),
            "ok",
        ),
        (
            ",\"partition_count\":4,\"fifo_throughput_limit\":\"perQueue\"",
            ",\"partition\":1".into(),
            "sqs-encode-partition-routing-mismatch",
        ),
        ("", ",\"partition\":1".into(), "sqs-encode-invalid-message"),
        ("", ",\"partition\":0".into(), "ok"),
    ];
    for (queue, extra, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_queue(
            dir.path(),
            "q",
            &queue_doc(queue),
            &[message("m1", 5, 1, &extra)],
        );
        assert_eq!(encode_err(dir.path()), want, "{queue} {extra}");
    }
    // A record that does not parse wins over an earlier gate failure, as in Go.
    let dir = tempfile::tempdir().unwrap();
    write_queue(
        dir.path(),
        "q",
        &queue_doc(per_group),
        &[message("m1", 5, 1, ""), "{\"message_id\":".to_owned()],
    );
    assert_eq!(encode_err(dir.path()), "sqs-encode-invalid-message");
    // A missing message id after a gate failure reports the gate.
    let dir = tempfile::tempdir().unwrap();
    write_queue(
        dir.path(),
        "q",
        &queue_doc(per_group),
        &["{\"partition\":0}".to_owned(), message("m1", 5, 1, "")],
    );
    assert_eq!(encode_err(dir.path()), "sqs-encode-missing-partition");
}

#[test]
fn rows_of_a_fifo_queue() {
    let dir = tempfile::tempdir().unwrap();
    write_queue(
        dir.path(),
        "q",
        &queue_doc(",\"content_based_deduplication\":true"),
        &[
            message("m1", 10, 7, ",\"message_deduplication_id\":\"d\""),
            message("m2", 30, 9, ",\"message_deduplication_id\":\"d\""),
            message("m3", 30, 8, ",\"message_deduplication_id\":\"d\""),
            message("m4", 20, 3, ""),
        ],
    );
    let rows = encode(dir.path()).unwrap();
    let q = encode_base64url(b"q.fifo");
    let dedup = |id: &[u8]| {
        rows.get(&keys::dedup_key(&q, Layout::Classic, b"", id))
            .cloned()
    };
    // Latest send wins; of equal sends the first record.
    let d = String::from_utf8(dedup(b"d").unwrap()).unwrap();
    assert_eq!(
        d,
        "{\"message_id\":\"m2\",\"send_timestamp_ms\":30,\"expires_at_millis\":300030,\"original_sequence\":9}"
    );
    // Content-based dedup: the body's SHA-256.
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"hello m4"));
    assert!(dedup(sha.as_bytes()).is_some());
    assert_eq!(
        rows.get(&keys::queue_key(keys::QUEUE_SEQ, b"q.fifo"))
            .map(Vec::as_slice),
        Some(&b"9"[..])
    );
    assert_eq!(
        rows.get(&keys::queue_key(keys::QUEUE_GEN, b"q.fifo"))
            .map(Vec::as_slice),
        Some(&b"1"[..])
    );
    let vis = keys::timed_key(keys::MSG_VIS, &q, Layout::Classic, 20, b"m4");
    assert_eq!(rows.get(&vis).map(Vec::as_slice), Some(&b"m4"[..]));
    // 4 data + 4 vis + 4 byage + 2 dedup + meta + gen + seq.
    assert_eq!(rows.len(), 17);
}

#[test]
fn dump_files_must_be_plain() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    write_queue(dir.path(), "q", &queue_doc(""), &[message("m1", 1, 0, "")]);
    let q = dir.path().join("q");
    fs::rename(q.join("messages.jsonl"), dir.path().join("elsewhere")).unwrap();
    symlink(dir.path().join("elsewhere"), q.join("messages.jsonl")).unwrap();
    assert_eq!(encode_err(dir.path()), "sqs-encode-not-regular");
    fs::remove_file(q.join("messages.jsonl")).unwrap();
    fs::hard_link(dir.path().join("elsewhere"), q.join("messages.jsonl")).unwrap();
    assert_eq!(encode_err(dir.path()), "redis-encode-hard-link");
    let top = tempfile::tempdir().unwrap();
    symlink(dir.path(), top.path().join("sqs")).unwrap();
    assert_eq!(encode_err(&top.path().join("sqs")), "redis-encode-not-dir");
}

// --- decode and round trip ------------------------------------------------------------

fn decode_tree(
    rows: &BTreeMap<Vec<u8>, Vec<u8>>,
    options: SqsDecodeOptions,
) -> (BTreeMap<String, Option<Vec<u8>>>, crate::adapter::Warnings) {
    let sink = Collect {
        records: rows.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let out = tempfile::tempdir().unwrap();
    let warnings = decode_entries(&sink.as_entries(), out.path(), options).unwrap();
    (
        read_tree(&out.path().join("sqs")).unwrap_or_default(),
        warnings,
    )
}

#[test]
fn trees_round_trip_and_decode_sorts_messages() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "{\n  \"format_version\": 1,\n  \"name\": \"q.fifo\",\n  \"fifo\": true,\n  \
               \"visibility_timeout_seconds\": 30,\n  \"message_retention_seconds\": 60,\n  \
               \"delay_seconds\": 0,\n  \"partition_count\": 2,\n  \
               \"fifo_throughput_limit\": \"perQueue\"\n}";
    let lines: Vec<String> = [("b", 5, 2), ("a", 5, 2), ("c", 1, 9)]
        .iter()
        .map(|(id, ts, seq)| message(id, *ts, *seq, ",\"partition\":0"))
        .collect();
    write_queue(dir.path(), "q.fifo", doc, &lines);
    let rows = encode(dir.path()).unwrap();
    let (tree, _) = decode_tree(&rows, SqsDecodeOptions::default());
    assert_eq!(
        tree.get("q.fifo/_queue.json").cloned().flatten().as_deref(),
        Some(doc.as_bytes())
    );
    let got = String::from_utf8(tree["q.fifo/messages.jsonl"].clone().unwrap()).unwrap();
    let mut want: Vec<&String> = vec![&lines[2], &lines[1], &lines[0]];
    want.dedup();
    assert_eq!(
        got,
        want.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
}

#[test]
fn stale_generations_orphans_and_side_records() {
    let mut rows = BTreeMap::new();
    let q = encode_base64url(b"q");
    let meta = b"\0SQ\x01{\"name\":\"\",\"visibility_timeout_seconds\":1}".to_vec();
    rows.insert(keys::queue_key(keys::QUEUE_META, b"q"), meta);
    rows.insert(keys::queue_key(keys::QUEUE_GEN, b"q"), b"2".to_vec());
    rows.insert(keys::queue_key(keys::QUEUE_SEQ, b"q"), b"7".to_vec());
    for (id, generation) in [("old", 1u64), ("new", 2)] {
        let mut key = keys::MSG_DATA.to_vec();
        key.extend_from_slice(q.as_bytes());
        key.extend_from_slice(&generation.to_be_bytes());
        key.extend_from_slice(encode_base64url(id.as_bytes()).as_bytes());
        let body = format!("\0SM\x01{{\"message_id\":\"{id}\",\"queue_generation\":{generation}}}");
        rows.insert(key, body.into_bytes());
    }
    // An orphan: side rows of a queue without meta.
    let orphan = encode_base64url(b"gone");
    rows.insert(
        keys::timed_key(keys::MSG_VIS, &orphan, Layout::Classic, 1, b"x"),
        b"x".to_vec(),
    );
    let (tree, warnings) = decode_tree(&rows, SqsDecodeOptions::default());
    let messages = String::from_utf8(tree["q/messages.jsonl"].clone().unwrap()).unwrap();
    assert!(messages.contains("\"new\"") && !messages.contains("\"old\""));
    assert!(
        tree["q/_queue.json"]
            .as_ref()
            .unwrap()
            .starts_with(b"{\n  \"format_version\": 1,\n  \"name\": \"q\"")
    );
    assert!(!tree.contains_key("q/_internals/side_records.jsonl"));
    // Without the flag side rows are not even looked at (no orphan queue), as in Go.
    let events: Vec<&str> = warnings.0.iter().map(|w| w.event).collect();
    assert_eq!(events, ["sqs_stale_generation_messages_dropped"]);

    let options = SqsDecodeOptions {
        include_side_records: true,
        ..Default::default()
    };
    let (tree, warnings) = decode_tree(&rows, options);
    let events: Vec<&str> = warnings.0.iter().map(|w| w.event).collect();
    assert_eq!(
        events,
        [
            "sqs_orphan_messages",
            "sqs_stale_generation_messages_dropped"
        ]
    );
    let side = String::from_utf8(tree["q/_internals/side_records.jsonl"].clone().unwrap()).unwrap();
    assert_eq!(
        side,
        format!(
            "{{\"prefix\":\"!sqs|queue|seq|\",\"key_hex\":\"{}\",\"value_b64\":\"Nw\"}}\n",
            hex::encode(keys::queue_key(keys::QUEUE_SEQ, b"q"))
        )
    );
    let orphan_file = format!("{orphan}.orphan/_internals/side_records.jsonl");
    assert!(tree.contains_key(&orphan_file), "{:?}", tree.keys());
}
