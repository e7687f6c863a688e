//! The faithful restore's checks on `_internals/side_records.jsonl` and orphan
//! directories, on small hand-made trees: what is written back verbatim, what is
//! refused (and how), and that Go's path ignores both.

use std::fs;
use std::path::Path;

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::sort::SortOptions;
use crate::tree::bsv::encode_base64url;

use super::docs::render_side_record;
use super::keys::{self, Layout};
use super::{SqsEncodeModes, SqsEncoder};

/// A store row: (user key, value).
type Row = (Vec<u8>, Vec<u8>);

#[derive(Default)]
struct Rows(Vec<Row>);

impl EntrySink for Rows {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.0.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

const SIDE: SqsEncodeModes = SqsEncodeModes {
    preserve_visibility: false,
    side_records: true,
};

/// `sqs/q/` with `_queue.json` for queue `q` and the given side-records file.
fn queue_tree(root: &Path, side_records: &[u8]) {
    let dir = root.join("sqs/q");
    fs::create_dir_all(dir.join("_internals")).unwrap();
    fs::write(
        dir.join("_queue.json"),
        br#"{"format_version":1,"name":"q","visibility_timeout_seconds":30,"message_retention_seconds":60,"delay_seconds":0}"#,
    )
    .unwrap();
    fs::write(dir.join("_internals/side_records.jsonl"), side_records).unwrap();
}

fn encode(root: &Path, modes: SqsEncodeModes) -> Result<Vec<Row>, BoxError> {
    let sort = SortOptions {
        memory_budget: 1 << 20,
        scratch_dir: root.to_path_buf(),
    };
    let mut rows = Rows::default();
    SqsEncoder::with_modes(&sort, modes).encode(&root.join("sqs"), &mut rows)?;
    rows.0.sort();
    Ok(rows.0)
}

fn q() -> String {
    encode_base64url(b"q")
}

fn vis_row(queue_b64: &str, generation: u64) -> Row {
    let key = keys::timed_key_at(
        keys::MSG_VIS,
        queue_b64,
        Layout::Classic,
        generation,
        100,
        b"m1",
    );
    (key, b"m1".to_vec())
}

fn line(prefix: &[u8], (key, value): &Row) -> Vec<u8> {
    render_side_record(std::str::from_utf8(prefix).unwrap(), key, value)
}

#[test]
fn side_rows_go_back_verbatim_and_set_the_generation() {
    let root = tempfile::tempdir().unwrap();
    let vis = vis_row(&q(), 3);
    let tombstone = (keys::tombstone_key(b"q", 4), b"purged".to_vec());
    let mut file = line(keys::MSG_VIS, &vis);
    file.extend(line(keys::QUEUE_TOMBSTONE, &tombstone));
    queue_tree(root.path(), &file);
    let rows = encode(root.path(), SIDE).unwrap();
    assert!(rows.contains(&vis) && rows.contains(&tombstone));
    // No messages: live past the tombstone of generation 4.
    let gen_row = (keys::queue_key(keys::QUEUE_GEN, b"q"), b"5".to_vec());
    assert!(rows.contains(&gen_row), "{rows:?}");
    assert_eq!(rows.len(), 4, "meta, gen and the two side rows");
}

fn refusal(file: &[u8]) -> String {
    let root = tempfile::tempdir().unwrap();
    queue_tree(root.path(), file);
    let err = encode(root.path(), SIDE).unwrap_err();
    assert_eq!(err.code(), "sqs-encode-invalid-side-record", "{err}");
    err.to_string()
}

#[test]
fn lines_not_written_by_the_decoder_are_refused() {
    let vis = vis_row(&q(), 1);
    let good = line(keys::MSG_VIS, &vis);
    let text = String::from_utf8(good.clone()).unwrap();
    // Another queue's row.
    let other = line(keys::MSG_VIS, &vis_row(&encode_base64url(b"other"), 1));
    assert!(refusal(&other).contains("queue segment"));
    // A message row is not a side record.
    let data = (
        keys::data_key_at(&q(), Layout::Classic, 1, b"m1"),
        b"x".to_vec(),
    );
    assert!(refusal(&line(keys::MSG_DATA, &data)).contains("side-record family"));
    // The prefix field must be the key's.
    assert!(refusal(&line(keys::MSG_BYAGE, &vis)).contains("field prefix"));
    // Not the decoder's form: uppercase hex, spaces, padding, no newline, extra field.
    let upper = text.replace(&hex::encode(&vis.0), &hex::encode_upper(&vis.0));
    assert!(refusal(upper.as_bytes()).contains("decoder's form"));
    assert!(refusal(text.replace(",", ", ").as_bytes()).contains("decoder's form"));
    assert!(refusal(&good[..good.len() - 1]).contains("decoder's form"));
    let extra = text.replace('}', r#","more":1}"#);
    assert!(refusal(extra.as_bytes()).contains("not a side-record line"));
    // The error names the line.
    let mut two = good.clone();
    two.extend(b"{}\n");
    assert!(refusal(&two).contains("line 2"), "{}", refusal(&two));
}

#[test]
fn orphan_directories_are_restored_only_with_side_records() {
    let root = tempfile::tempdir().unwrap();
    let seg = encode_base64url(b"gone");
    let dir = root.path().join(format!("sqs/{seg}.orphan/_internals"));
    fs::create_dir_all(&dir).unwrap();
    let vis = vis_row(&seg, 2);
    fs::write(dir.join("side_records.jsonl"), line(keys::MSG_VIS, &vis)).unwrap();
    assert_eq!(encode(root.path(), SIDE).unwrap(), vec![vis]);
    // Go's path: a queue directory without `_queue.json`.
    let go = encode(root.path(), SqsEncodeModes::default()).unwrap_err();
    assert!(go.to_string().contains("_queue.json"), "{go}");
    // An orphan never has messages.
    fs::write(dir.parent().unwrap().join("messages.jsonl"), b"").unwrap();
    assert_eq!(
        encode(root.path(), SIDE).unwrap_err().code(),
        "sqs-encode-invalid-queue"
    );
}

#[test]
fn go_path_ignores_side_records() {
    let root = tempfile::tempdir().unwrap();
    queue_tree(root.path(), b"not even json\n");
    let rows = encode(root.path(), SqsEncodeModes::default()).unwrap();
    let keys: Vec<&[u8]> = rows.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        keys,
        vec![
            keys::queue_key(keys::QUEUE_GEN, b"q").as_slice(),
            keys::queue_key(keys::QUEUE_META, b"q").as_slice()
        ]
    );
}

#[test]
fn a_symlinked_internals_directory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    queue_tree(root.path(), b"");
    let internals = root.path().join("sqs/q/_internals");
    fs::remove_dir_all(&internals).unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &internals).unwrap();
    let err = encode(root.path(), SIDE).unwrap_err();
    assert_eq!(err.code(), "redis-encode-not-dir", "{err}");
}
