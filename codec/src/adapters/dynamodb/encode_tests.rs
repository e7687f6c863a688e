//! The encoder on hand-made trees: layouts, key rebuilding, index rows, and the
//! refusals (docs/format.md §6.3, §8.3).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;

use super::DynamoEncoder;
use super::keys::ordered_segment;
use super::number::ordered_key_bytes;

#[derive(Default)]
struct Collect(Vec<(Vec<u8>, Vec<u8>)>);

impl EntrySink for Collect {
    fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.0.push((key.to_vec(), value.to_vec()));
        Ok(())
    }
}

const SCHEMA: &str = r#"{"format_version":1,"table_name":"t","primary_key":{"hash_key":{"name":"pk"},"range_key":{"name":"sk"}},
"attribute_definitions":[{"name":"pk","type":"S"},{"name":"sk","type":"N"},{"name":"g","type":"S"}],
"global_secondary_indexes":[{"name":"by_g","key_schema":{"hash_key":{"name":"g"},"range_key":{}},"projection":{"type":"ALL"}}]}"#;

fn table(root: &Path) -> std::path::PathBuf {
    let dir = root.join("t");
    fs::create_dir_all(dir.join("items")).unwrap();
    fs::write(dir.join("_schema.json"), SCHEMA).unwrap();
    dir
}

/// Records as `(user key, value)`.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

fn encode(root: &Path) -> Result<Records, BoxError> {
    let mut sink = Collect::default();
    DynamoEncoder::default().encode(root, &mut sink)?;
    sink.0.sort();
    Ok(sink.0)
}

fn keys_of(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    records.iter().map(|(k, _)| k.clone()).collect()
}

#[test]
fn items_rebuild_their_keys_and_index_rows() {
    let root = tempfile::tempdir().unwrap();
    let dir = table(root.path());
    fs::create_dir(dir.join("items/whatever")).unwrap();
    fs::write(
        dir.join("items/whatever/name-ignored.json"),
        r#"{"pk":{"S":"a"},"sk":{"N":"1.50"},"g":{"S":"x"}}"#,
    )
    .unwrap();
    // No `g`: no index row.
    fs::write(
        dir.join("items/b.json"),
        r#"{"pk":{"S":"b"},"sk":{"N":"-2"}}"#,
    )
    .unwrap();
    fs::write(dir.join("items/README.txt"), "not an item").unwrap();
    let records = encode(root.path()).unwrap();
    let item_a = [
        &b"!ddb|item|dA|1|"[..],
        &ordered_segment(b"a"),
        &ordered_segment(&ordered_key_bytes("1.5").unwrap()),
    ]
    .concat();
    let item_b = [
        &b"!ddb|item|dA|1|"[..],
        &ordered_segment(b"b"),
        &ordered_segment(&ordered_key_bytes("-2").unwrap()),
    ]
    .concat();
    let gsi = [
        &b"!ddb|gsi|dA|1|YnlfZw|"[..],
        &ordered_segment(b"x"),
        &item_a[b"!ddb|item|dA|1|".len()..],
    ]
    .concat();
    assert_eq!(
        keys_of(&records),
        [
            gsi.clone(),
            item_a.clone(),
            item_b,
            b"!ddb|meta|gen|dA".to_vec(),
            b"!ddb|meta|table|dA".to_vec()
        ]
    );
    let gsi_row = records.iter().find(|(k, _)| *k == gsi).unwrap();
    assert_eq!(gsi_row.1, item_a);
    assert_eq!(records[3].1, b"1");
}

#[test]
fn bundles_and_exports_encode_like_item_files() {
    let files = tempfile::tempdir().unwrap();
    let dir = table(files.path());
    fs::write(
        dir.join("items/1.json"),
        r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#,
    )
    .unwrap();
    fs::write(
        dir.join("items/2.json"),
        r#"{"pk":{"S":"b"},"sk":{"N":"2"},"g":{"S":"y"}}"#,
    )
    .unwrap();
    let bundles = tempfile::tempdir().unwrap();
    let dir = table(bundles.path());
    fs::write(
        dir.join("items/data-00001.jsonl"),
        "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}\n\n{\"Item\":{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"2\"},\"g\":{\"S\":\"y\"}}}\n",
    )
    .unwrap();
    assert_eq!(
        encode(files.path()).unwrap(),
        encode(bundles.path()).unwrap()
    );
    fs::write(
        dir.join("items/data-00002.jsonl"),
        "{\"pk\":{\"S\":\"c\"}}\n",
    )
    .unwrap();
    let err = encode(bundles.path()).unwrap_err();
    assert_eq!(err.code(), "ddb-encode-invalid-item");
    assert!(
        err.to_string()
            .contains("data-00002.jsonl: dynamodb encode invalid item json: line 1: item missing range-key attribute \"sk\""),
        "{err}"
    );
}

#[test]
fn schemas_are_validated() {
    for (schema, why) in [
        (
            SCHEMA.replace("\"format_version\":1", "\"format_version\":2"),
            "format_version 2",
        ),
        (
            SCHEMA.replace("\"table_name\":\"t\"", "\"table_name\":\"u\""),
            "encodes to dir",
        ),
        (
            SCHEMA.replace("\"name\":\"pk\"}", "\"name\":\"\"}"),
            "empty primary hash key",
        ),
        (
            SCHEMA.replace(
                "{\"name\":\"g\",\"type\":\"S\"}",
                "{\"name\":\"pk\",\"type\":\"S\"}",
            ),
            "duplicate attribute definition",
        ),
        (format!("{SCHEMA} {{}}"), "trailing data"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let dir = table(root.path());
        fs::write(dir.join("_schema.json"), &schema).unwrap();
        let err = encode(root.path()).unwrap_err();
        assert_eq!(err.code(), "ddb-encode-invalid-schema", "{why}");
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[test]
fn bad_items_name_file_and_attribute() {
    for (doc, why) in [
        (
            r#"{"pk":{"S":"a"},"sk":{"N":"0x10"}}"#,
            "number has non-decimal characters",
        ),
        (
            r#"{"pk":{"BOOL":true},"sk":{"N":"1"}}"#,
            "is not S, N, or B",
        ),
        (
            r#"{"pk":{"S":"a"},"sk":{"N":"1"},"g":{"L":[]}}"#,
            "index hash key attribute \"g\"",
        ),
        (
            r#"{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"Q":1}}"#,
            "attribute \"x\": unknown attribute type",
        ),
    ] {
        let root = tempfile::tempdir().unwrap();
        let dir = table(root.path());
        fs::write(dir.join("items/i.json"), doc).unwrap();
        let err = encode(root.path()).unwrap_err();
        assert_eq!(err.code(), "ddb-encode-invalid-item", "{why}");
        let text = err.to_string();
        assert!(
            text.contains("items/i.json") && text.contains(why),
            "{text}"
        );
    }
    let root = tempfile::tempdir().unwrap();
    let dir = table(root.path());
    fs::create_dir_all(dir.join("items/h/deeper")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "ddb-encode-invalid-item"
    );
}

#[test]
fn links_and_special_files_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = table(root.path());
    let outside = root.path().join("outside.json");
    fs::write(&outside, r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#).unwrap();
    symlink(&outside, dir.join("items/link.json")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "ddb-encode-not-regular"
    );
    fs::remove_file(dir.join("items/link.json")).unwrap();
    // Go skips a symlink without the .json suffix; dropping it silently is refused.
    symlink(&outside, dir.join("items/link")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "ddb-encode-not-regular"
    );
    fs::remove_file(dir.join("items/link")).unwrap();
    fs::hard_link(&outside, dir.join("items/hard.json")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "redis-encode-hard-link"
    );
    fs::remove_file(dir.join("items/hard.json")).unwrap();
    symlink(root.path().join("t"), root.path().join("t2")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "ddb-encode-not-regular"
    );
    fs::remove_file(root.path().join("t2")).unwrap();
    fs::remove_file(dir.join("_schema.json")).unwrap();
    symlink(&outside, dir.join("_schema.json")).unwrap();
    assert_eq!(
        encode(root.path()).unwrap_err().code(),
        "ddb-encode-not-regular"
    );
    assert_eq!(encode(&root.path().join("missing")).unwrap(), vec![]);
}
