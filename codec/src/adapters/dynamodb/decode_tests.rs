//! The decoder on hand-made records: generations, orphans, last-wins, JSONL parts.

use std::fs;
use std::path::Path;

use crate::adapter::{AdapterDecoder, Warnings};
use crate::container::EntryRef;
use crate::dispatch::route;
use crate::error::BoxError;
use crate::tree::writer::TreeWriter;

use super::proto::{AttributeValue, Item, KeySchema, TableSchema};
use super::values::{item_value, schema_value};
use super::{DynamoDecodeOptions, DynamoDecoder};

fn schema(generation: u64, source: u64, range: &str) -> Vec<u8> {
    schema_value(&TableSchema {
        table_name: "t".into(),
        attribute_definitions: [("pk".to_owned(), "N".to_owned())].into_iter().collect(),
        primary_key: Some(KeySchema {
            hash_key: "pk".into(),
            range_key: range.into(),
        }),
        generation,
        migrating_from_generation: source,
        ..TableSchema::default()
    })
}

fn item(pk: &str, v: &str) -> Vec<u8> {
    let mut item = Item::default();
    item.attributes
        .insert("pk".into(), AttributeValue::N(pk.into()));
    item.attributes
        .insert("v".into(), AttributeValue::S(v.into()));
    item_value(&item)
}

fn decode(
    out: &Path,
    records: &[(&[u8], Vec<u8>)],
    bundle: Option<u64>,
) -> Result<Warnings, BoxError> {
    let scratch = tempfile::tempdir().unwrap();
    let mut decoder = DynamoDecoder::new(
        TreeWriter::serial(out).unwrap(),
        DynamoDecodeOptions {
            bundle_bytes: bundle,
            memory_budget: 1,
            scratch_dir: scratch.path().to_path_buf(),
        },
    );
    let mut warnings = Warnings::default();
    for (i, (key, value)) in records.iter().enumerate() {
        let encoded = [*key, &[0u8; 8][..]].concat();
        let entry = EntryRef {
            offset: i as u64,
            encoded_key: &encoded,
            user_key: key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: value,
        };
        decoder.handle(route(key).unwrap(), &entry, &mut warnings)?;
    }
    decoder.finalize(&mut warnings)?;
    Ok(warnings)
}

fn read(out: &Path, rel: &str) -> String {
    fs::read_to_string(out.join("dynamodb/t/items").join(rel)).unwrap_or_default()
}

#[test]
fn generations_pick_active_over_source_and_warn_about_stale() {
    let out = tempfile::tempdir().unwrap();
    let warnings = decode(
        out.path(),
        &[
            (b"!ddb|item|dA|2|a", item("1", "source")),
            (b"!ddb|item|dA|2|b", item("2", "source only")),
            (b"!ddb|item|dA|3|a", item("1.0", "active")),
            (b"!ddb|item|dA|9|a", item("1", "stale")),
            (b"!ddb|item|dQ|1|a", item("1", "orphan")),
            (b"!ddb|meta|table|dA", schema(3, 2, "")),
        ],
        None,
    )
    .unwrap();
    assert!(read(out.path(), "1.json").contains("\"active\""));
    assert!(read(out.path(), "2.json").contains("\"source only\""));
    let events: Vec<_> = warnings
        .0
        .iter()
        .map(|w| {
            (
                w.event,
                w.fields[0].1.clone(),
                w.fields.get(1).map(|f| f.1.clone()),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ddb_orphan_items", "dQ".to_owned(), Some("1".to_owned())),
            (
                "ddb_stale_generation_items",
                "t".to_owned(),
                Some("3".to_owned())
            ),
        ]
    );
    assert_eq!(warnings.0[1].fields[3], ("stale_count", "1".to_owned()));
}

#[test]
fn tables_without_items_still_get_their_directory() {
    let out = tempfile::tempdir().unwrap();
    decode(
        out.path(),
        &[(b"!ddb|meta|table|dA", schema(1, 0, "sk"))],
        None,
    )
    .unwrap();
    assert!(out.path().join("dynamodb/t/items").is_dir());
    assert!(out.path().join("dynamodb/t/_schema.json").is_file());
}

#[test]
fn jsonl_parts_rotate_at_the_limit() {
    let out = tempfile::tempdir().unwrap();
    let line = r#"{"pk":{"N":"1"},"v":{"S":"x"}}"#.len() as u64 + 1;
    let records: Vec<(&[u8], Vec<u8>)> = vec![
        (b"!ddb|item|dA|1|a", item("1", "x")),
        (b"!ddb|item|dA|1|b", item("2", "x")),
        (b"!ddb|item|dA|1|c", item("3", "x")),
        (b"!ddb|meta|table|dA", schema(1, 0, "")),
    ];
    decode(out.path(), &records, Some(2 * line)).unwrap();
    assert_eq!(
        read(out.path(), "data-00001.jsonl"),
        "{\"pk\":{\"N\":\"1\"},\"v\":{\"S\":\"x\"}}\n{\"pk\":{\"N\":\"2\"},\"v\":{\"S\":\"x\"}}\n"
    );
    assert_eq!(read(out.path(), "data-00002.jsonl").lines().count(), 1);
    let small = tempfile::tempdir().unwrap();
    let err = decode(small.path(), &records, Some(line - 1)).unwrap_err();
    assert_eq!(err.code(), "ddb-bundle-item-too-large");
}

#[test]
fn malformed_records_carry_the_go_sentinels() {
    for (key, value, code) in [
        (
            &b"!ddb|item|dA|x|a"[..],
            item("1", "x"),
            "ddb-malformed-key",
        ),
        (
            b"!ddb|item|dA|1|a",
            b"\0DS\x01".to_vec(),
            "ddb-invalid-item",
        ),
        (b"!ddb|meta|table|", schema(1, 0, ""), "ddb-malformed-key"),
        (
            b"!ddb|meta|table|dA",
            b"junk".to_vec(),
            "ddb-invalid-schema",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let err = decode(out.path(), &[(key, value)], None).unwrap_err();
        assert_eq!(err.code(), code);
    }
    // A key attribute that cannot name a file fails at finalize.
    let out = tempfile::tempdir().unwrap();
    let mut bad = Item::default();
    bad.attributes
        .insert("pk".into(), AttributeValue::Bool(true));
    let err = decode(
        out.path(),
        &[
            (b"!ddb|item|dA|1|a", item_value(&bad)),
            (b"!ddb|meta|table|dA", schema(1, 0, "")),
        ],
        None,
    )
    .unwrap_err();
    assert_eq!(err.code(), "ddb-invalid-item");
}

/// A key that names `.` cannot be a file, but is a fine bundle line (as upstream's
/// JSONL writer has it).
#[test]
fn dot_keys_fail_as_files_only() {
    let records: Vec<(&[u8], Vec<u8>)> = vec![
        (b"!ddb|item|dA|1|a", item(".", "x")),
        (b"!ddb|meta|table|dA", schema(1, 0, "")),
    ];
    let out = tempfile::tempdir().unwrap();
    let err = decode(out.path(), &records, None).unwrap_err();
    assert_eq!(err.code(), "ddb-invalid-item");
    let out = tempfile::tempdir().unwrap();
    decode(out.path(), &records, Some(1 << 10)).unwrap();
    assert!(read(out.path(), "data-00001.jsonl").contains("\"N\":\".\""));
}
