//! Goldens of the self-test report and Go's `mismatch.txt`, one per kind of
//! mismatch, on hand-built input/decoded tree pairs (no decoder involved), for every
//! adapter's kinds of file. Each pair is compared twice, with the same text: on disk
//! ([`compare_trees`]) and the self-test's way, the decoded files fed to a
//! [`ComparingSink`] on the input.

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use elastickv_codec::adapter::AdapterSpec;
use elastickv_codec::adapters::{dynamodb, redis, s3, sqs};
use elastickv_codec::pipeline::NoProgress;
use elastickv_codec::pipeline::compare::{
    CompareOptions, ComparingSink, TreeComparison, compare_trees,
};
use elastickv_codec::pipeline::report::{Report, Verdict};
use elastickv_codec::tree::sink::TreeSink;

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Every file below `decoded`, fed to a sink on `input` as the decoder would produce
/// it (small files whole, large ones in pieces).
fn through_sink(
    input: &Path,
    decoded: &Path,
    adapters: &[&AdapterSpec],
    options: &CompareOptions,
) -> TreeComparison {
    let sink = ComparingSink::new(input, adapters, options, 2).unwrap();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(decoded.join(&dir)).unwrap() {
            let entry = entry.unwrap();
            let rel = dir.join(entry.file_name());
            let name = rel.as_os_str().as_bytes();
            if entry.file_type().unwrap().is_dir() {
                sink.create_dir(name).unwrap();
                pending.push(rel);
                continue;
            }
            let bytes = fs::read(entry.path()).unwrap();
            if bytes.len() < 1024 {
                sink.write_file(name, bytes).unwrap();
            } else {
                let mut file = sink.create_file(name).unwrap();
                for piece in bytes.chunks(1000) {
                    file.write_all(piece).unwrap();
                }
                file.finish().unwrap();
            }
        }
    }
    sink.finish(&mut NoProgress).unwrap()
}

/// Builds both trees with `build`, compares their `redis/` subtrees and renders
/// Go's `mismatch.txt` and the report; the self-test's sink must say the same.
fn golden(cap: usize, build: impl FnOnce(&Path, &Path)) -> String {
    golden_for(&[&redis::SPEC], cap, build)
}

/// [`golden`] of the `adapters`' subtrees.
fn golden_for(adapters: &[&AdapterSpec], cap: usize, build: impl FnOnce(&Path, &Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (input, decoded) = (dir.path().join("input"), dir.path().join("decoded"));
    fs::create_dir_all(&input).unwrap();
    fs::create_dir_all(&decoded).unwrap();
    build(&input, &decoded);
    let options = CompareOptions {
        sort_memory_bytes: 1 << 20,
        scratch_dir: dir.path().to_path_buf(),
        keep: cap,
    };
    let render = |comparison: &TreeComparison| {
        let report = Report::from_comparison(comparison, cap).unwrap();
        format!(
            "=== mismatch.txt\n{}=== report\n{}",
            String::from_utf8(comparison.go_mismatch_text()).unwrap(),
            report.render()
        )
    };
    let on_disk =
        render(&compare_trees(&input, &decoded, adapters, &options, &mut NoProgress).unwrap());
    let sunk = render(&through_sink(&input, &decoded, adapters, &options));
    assert_eq!(
        sunk, on_disk,
        "the self-test's sink and compare_trees disagree"
    );
    on_disk
}

macro_rules! assert_golden {
    ($name:literal, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

const HASH_A: &str = "{\n  \"format_version\": 1,\n  \"fields\": [\n    {\n      \"name\": \"f\",\n      \"value\": \"1\"\n    }\n  ],\n  \"expire_at_ms\": null\n}";

#[test]
fn report_json_diff() {
    assert_golden!(
        "report_json_diff",
        golden(64, |a, b| {
            write(a, "redis/db_0/hashes/h.json", HASH_A.as_bytes());
            write(
                b,
                "redis/db_0/hashes/h.json",
                HASH_A
                    .replace("\"1\"", "\"2\"")
                    .replace("null", "0")
                    .as_bytes(),
            );
        })
    );
}

#[test]
fn report_jsonl_diff() {
    assert_golden!(
        "report_jsonl_diff",
        golden(64, |a, b| {
            let meta =
                "{\"_meta\":true,\"length\":2,\"last_ms\":5,\"last_seq\":1,\"expire_at_ms\":0}\n";
            let e1 = "{\"id\":\"5-0\",\"fields\":[{\"name\":\"k\",\"value\":\"v\"}]}\n";
            let e2 = "{\"id\":\"5-1\",\"fields\":[{\"name\":\"k\",\"value\":\"w\"}]}\n";
            write(
                a,
                "redis/db_0/streams/s.jsonl",
                format!("{meta}{e1}{e2}").as_bytes(),
            );
            write(
                b,
                "redis/db_0/streams/s.jsonl",
                format!("{}{e1}{e2}", meta.replace(":0}", ":null}")).as_bytes(),
            );
        })
    );
}

#[test]
fn report_multiset_lines() {
    assert_golden!(
        "report_multiset_lines",
        golden(64, |a, b| {
            write(a, "redis/db_0/strings_ttl.jsonl", b"{\"key\":\"a\",\"expire_at_ms\":1}\n{\"key\":\"b\",\"expire_at_ms\":2}\n{\"key\":\"c\",\"expire_at_ms\":3}\n");
            // Reordered (fine) plus one changed line (not fine).
            write(b, "redis/db_0/strings_ttl.jsonl", b"{\"key\":\"c\",\"expire_at_ms\":3}\n{\"key\":\"b\",\"expire_at_ms\":20}\n{\"key\":\"a\",\"expire_at_ms\":1}\n");
            // Merely reordered: equal.
            write(
                a,
                "redis/db_0/hll_ttl.jsonl",
                b"{\"key\":\"x\",\"expire_at_ms\":1}\n{\"key\":\"y\",\"expire_at_ms\":2}\n",
            );
            write(
                b,
                "redis/db_0/hll_ttl.jsonl",
                b"{\"key\":\"y\",\"expire_at_ms\":2}\n{\"key\":\"x\",\"expire_at_ms\":1}\n",
            );
        })
    );
}

#[test]
fn report_multiset_keymap() {
    assert_golden!(
        "report_multiset_keymap",
        golden(64, |a, b| {
            write(a, "redis/db_0/KEYMAP.jsonl", b"{\"encoded\":\"k1\",\"original\":\"YQ\",\"kind\":\"sha-fallback\"}\n{\"encoded\":\"k2\",\"original\":\"Yg\",\"kind\":\"sha-fallback\"}\n");
            write(
                b,
                "redis/db_0/KEYMAP.jsonl",
                b"{\"encoded\":\"k2\",\"original\":\"Yg\",\"kind\":\"sha-fallback\"}\n",
            );
        })
    );
}

#[test]
fn report_binary() {
    assert_golden!(
        "report_binary",
        golden(64, |a, b| {
            write(a, "redis/db_0/strings/k.bin", b"\x00\x01\x02\x03\x04");
            write(b, "redis/db_0/strings/k.bin", b"\x00\x01\x02\xff\x04\x05");
            // JSON too large for a diff is reported like binary.
            let big = format!("[{}1]", "1,".repeat(600_000));
            write(a, "redis/db_0/lists/big.json", big.as_bytes());
            write(
                b,
                "redis/db_0/lists/big.json",
                big.replace("[1,", "[2,").as_bytes(),
            );
        })
    );
}

#[test]
fn report_only_in_input() {
    assert_golden!(
        "report_only_in_input",
        golden(64, |a, b| {
            write(a, "redis/db_0/strings/k.bin", b"v");
            write(b, "redis/db_0/strings/k.bin", b"v");
            write(a, "redis/db_0/notes.txt", b"hand-written");
            write(a, "redis/db_0/sets/s\nnewline.json", b"{}");
        })
    );
}

#[test]
fn report_only_in_decoded() {
    assert_golden!(
        "report_only_in_decoded",
        golden(64, |_, b| {
            write(b, "redis/db_0/zsets/z.json", b"{\"format_version\":1}");
        })
    );
}

#[test]
fn report_truncated() {
    assert_golden!(
        "report_truncated",
        golden(3, |a, _| {
            for i in 0..70 {
                write(a, &format!("redis/db_0/strings/{i:03}.bin"), b"x");
            }
        })
    );
}

#[test]
fn report_matched() {
    assert_golden!(
        "report_matched",
        golden(64, |a, b| {
            write(a, "redis/db_0/strings/k.bin", b"v");
            write(b, "redis/db_0/strings/k.bin", b"v");
        })
    );
}

#[test]
fn report_decode_rejected() {
    let report = Report::early(
        Verdict::DecodeRejected {
            error: "snapshot truncated at offset 16: entry key length".into(),
        },
        vec!["redis"],
        64,
    );
    assert_golden!("report_decode_rejected", report.render());
}

#[test]
fn report_header_mismatch() {
    let report = Report::early(
        Verdict::HeaderMismatch { want: 7, got: 5 },
        vec!["redis"],
        64,
    );
    assert_golden!("report_header_mismatch", report.render());
}

/// A DynamoDB item (indented, as the decoder writes it) with a list attribute.
fn item(third_tag: &str, extra: &str) -> String {
    format!(
        "{{\n  \"id\": {{\n    \"S\": \"o-1\"\n  }},\n{extra}  \"tags\": {{\n    \"L\": [\n      {{\n        \"S\": \"a\"\n      }},\n      {{\n        \"S\": \"b\"\n      }},\n      {{\n        \"S\": \"{third_tag}\"\n      }}\n    ]\n  }}\n}}"
    )
}

#[test]
fn report_dynamodb_item() {
    assert_golden!(
        "report_dynamodb_item",
        golden_for(&[&dynamodb::SPEC], 64, |a, b| {
            let schema = b"{\n  \"format_version\": 1,\n  \"table_name\": \"orders\"\n}";
            write(a, "dynamodb/orders/_schema.json", schema);
            write(b, "dynamodb/orders/_schema.json", schema);
            write(
                a,
                "dynamodb/orders/items/o-1.json",
                item("c", "  \"n\": {\n    \"N\": \"1.50\"\n  },\n").as_bytes(),
            );
            write(
                b,
                "dynamodb/orders/items/o-1.json",
                item("d", "").as_bytes(),
            );
        })
    );
}

/// `len` bytes of a body that is not text.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

const META: &str = "{\n  \"format_version\": 1,\n  \"etag\": \"0f\",\n  \"size_bytes\": 100000,\n  \"content_type\": \"image/jpeg\",\n  \"user_metadata\": {\n    \"x-owner\": \"ann\"\n  }\n}";

#[test]
fn report_s3_body_and_meta() {
    assert_golden!(
        "report_s3_body_and_meta",
        golden_for(&[&s3::SPEC], 64, |a, b| {
            // A large body (fed to the sink in pieces) that differs in the middle
            // and is one byte shorter.
            let original = body(100_000);
            let mut changed = original[..99_999].to_vec();
            changed[70_000] ^= 0xff;
            changed[70_003] ^= 0xff;
            write(a, "s3/photos/cat.jpg", &original);
            write(b, "s3/photos/cat.jpg", &changed);
            write(a, "s3/photos/cat.jpg.elastickv-meta.json", META.as_bytes());
            write(
                b,
                "s3/photos/cat.jpg.elastickv-meta.json",
                META.replace("100000", "99999")
                    .replace("\"ann\"", "\"bob\"")
                    .as_bytes(),
            );
            // An object whose key ends in .json is still a body, not a document.
            write(a, "s3/photos/doc.json", b"{\"a\":1}");
            write(b, "s3/photos/doc.json", b"{\"a\":2}");
        })
    );
}

const M1: &str = r#"{"message_id":"m-1","body":"hello","send_timestamp_millis":1,"available_at_millis":1,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;
const M2: &str = r#"{"message_id":"m-2","body":"world","message_attributes":{"n":{"DataType":"Number","StringValue":"12.50"}},"send_timestamp_millis":2,"available_at_millis":2,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;
const M3: &str = r#"{"message_id":"m-3","body":{"base64":"_w"},"send_timestamp_millis":3,"available_at_millis":3,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;
const M4: &str = r#"{"message_id":"m-4","body":"late","send_timestamp_millis":4,"available_at_millis":4,"visible_at_millis":0,"receive_count":0,"queue_generation":1}"#;

fn lines(lines: &[&str]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

#[test]
fn report_sqs_messages() {
    assert_golden!(
        "report_sqs_messages",
        golden_for(&[&sqs::SPEC], 64, |a, b| {
            write(a, "sqs/orders/messages.jsonl", &lines(&[M1, M2, M3]));
            let m2 = M2
                .replace("\"world\"", "\"w0rld\"")
                .replace("12.50", "12.5");
            // m-3 lost, m-4 new, m-2 changed.
            write(b, "sqs/orders/messages.jsonl", &lines(&[M1, &m2, M4]));
        })
    );
}

#[test]
fn report_sqs_messages_reordered() {
    assert_golden!(
        "report_sqs_messages_reordered",
        golden_for(&[&sqs::SPEC], 64, |a, b| {
            write(a, "sqs/orders/messages.jsonl", &lines(&[M1, M2, M3]));
            write(b, "sqs/orders/messages.jsonl", &lines(&[M1, M3, M2]));
        })
    );
}

/// Differences in every adapter's subtree, with the adapters named in another
/// order: `mismatch.txt` and the report follow Go's fan-out order.
#[test]
fn report_all_adapters_in_go_order() {
    assert_golden!(
        "report_all_adapters_in_go_order",
        golden_for(
            &[&sqs::SPEC, &s3::SPEC, &dynamodb::SPEC, &redis::SPEC],
            64,
            |a, b| {
                write(a, "sqs/q/_queue.json", b"{\n  \"name\": \"q\"\n}");
                write(b, "sqs/q/_queue.json", b"{\n  \"name\": \"r\"\n}");
                write(a, "s3/b/k", b"v");
                write(a, "dynamodb/t/items/k.json", b"{}");
                write(b, "dynamodb/t/items/k.json", b"{\"a\":{\"S\":\"x\"}}");
                write(b, "redis/db_0/strings/s.bin", b"v");
            }
        )
    );
}

/// A keyed file far larger than the sort budget: its lines go through the external
/// sort on both sides and still pair by key, on disk and in the sink alike.
#[test]
fn keyed_messages_beyond_the_sort_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (input, decoded) = (dir.path().join("input"), dir.path().join("decoded"));
    let message = |i: usize, body: &str| {
        format!(
            "{{\"message_id\":\"m-{i:06}\",\"body\":\"{body}\",\"pad\":\"{}\"}}\n",
            "p".repeat(64)
        )
    };
    let (mut a, mut b) = (String::new(), String::new());
    for i in 0..40_000 {
        a.push_str(&message(i, "x"));
        // Reversed order, one body changed, one message lost.
        let j = 39_999 - i;
        if j != 7 {
            b.push_str(&message(j, if j == 20_000 { "y" } else { "x" }));
        }
    }
    write(&input, "sqs/q/messages.jsonl", a.as_bytes());
    write(&decoded, "sqs/q/messages.jsonl", b.as_bytes());
    let options = CompareOptions {
        sort_memory_bytes: 1 << 20,
        scratch_dir: dir.path().to_path_buf(),
        keep: 64,
    };
    let adapters = [&sqs::SPEC];
    let on_disk = compare_trees(&input, &decoded, &adapters, &options, &mut NoProgress).unwrap();
    let sunk = through_sink(&input, &decoded, &adapters, &options);
    for comparison in [on_disk, sunk] {
        let text = Report::from_comparison(&comparison, 64).unwrap().render();
        assert!(
            text.contains("messages matched by message_id: 1 changed, 1 only in input, 0 only in decoded output\n  message[\"m-020000\"].body: input \"x\", decoded \"y\"\n  only in input:\n    message \"m-000007\"\n"),
            "{text}"
        );
    }
}

/// A body large enough to be compared as it streams, in pieces, differing just
/// before a piece boundary: the sink's byte window spans two pieces and says what
/// the on-disk comparison says.
#[test]
fn body_window_across_pieces() {
    let text = golden_for(&[&s3::SPEC], 64, |a, b| {
        let original = body(400_000);
        let mut changed = original.clone();
        changed[300_995] ^= 0x01;
        changed.truncate(301_004);
        write(a, "s3/b/big.bin", &original);
        write(b, "s3/b/big.bin", &changed);
    });
    let original = body(400_000);
    let mut decoded = original[300_995..301_004].to_vec();
    decoded[0] ^= 0x01;
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        text.contains(
            "first difference at byte 300995; input 400000 bytes, decoded 301004 bytes\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  input   bytes 300995..301011: {} |",
            hex(&original[300_995..301_011])
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  decoded bytes 300995..301004: {} |",
            hex(&decoded)
        )),
        "{text}"
    );
}
