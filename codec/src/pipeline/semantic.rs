//! What a difference means, for the self-test report: which JSON member differs,
//! which message, which bytes.
//!
//! Go's `mismatch.txt` only says "bytes differ". An operator reading the report needs
//! to know what the round trip changed: the attribute of a DynamoDB item, the field of
//! an SQS message, the bytes of an S3 object. Every adapter's files fall into a few
//! [`Shape`]s, and each shape has one way of saying what differs, shared by all
//! adapters: one JSON path differ for documents and for the lines of keyed JSONL
//! files, one byte window for opaque bodies.
//!
//! Everything here works on bounded data: documents of at most
//! [`TEXT_DIFF_MAX_BYTES`](super::report::TEXT_DIFF_MAX_BYTES), one line at a time
//! of a keyed file (whose lines reach it through the external sort), and a
//! [`WINDOW`]-byte slice of a body.

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

use crate::dispatch::Adapter;
use crate::sort::{Joined, SortedRecords, merge_join};
use crate::tree::keymap::KEYMAP_FILE_NAME;

/// Differing JSON paths (or keyed lines) listed per file; the rest are counted.
pub const PATHS_SHOWN: usize = 20;
/// Keys listed per side for lines only one side has; the rest are counted.
pub const KEYS_SHOWN: usize = 10;
/// Longest rendering of one JSON value, in characters, before it is cut.
const VALUE_MAX_CHARS: usize = 120;
/// Bytes of each side shown from the first difference of an opaque file.
pub const WINDOW: usize = 16;

/// How a file of an adapter's tree is read when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON document: a unified diff, and the member paths that differ, rooted at
    /// `root` (`Item` for a DynamoDB item, `$` otherwise).
    Json {
        /// The name of the document's root in a path.
        root: &'static str,
    },
    /// JSON lines without an identity: a unified diff.
    Lines,
    /// JSON lines that each carry a unique `key` member (SQS messages): lines are
    /// matched by it, whatever their order, and each pair is compared by JSON path.
    Keyed {
        /// The identifying member.
        key: &'static str,
        /// What a line is called in the report (`message`).
        unit: &'static str,
    },
    /// Opaque bytes (object bodies, string values, sketches): the first differing
    /// bytes of both sides.
    Bytes,
}

impl Shape {
    /// Whether a small enough file of this shape is shown as a unified diff.
    pub fn is_text(self) -> bool {
        matches!(self, Shape::Json { .. } | Shape::Lines)
    }
}

/// The shape of the file at `rel` (below the adapter directory, `/`-separated) in
/// `adapter`'s tree (docs/format.md §4.4–§4.7).
pub fn shape(adapter: Adapter, rel: &[u8]) -> Shape {
    let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    let name = parts.last().copied().unwrap_or_default();
    // KEYMAP is every adapter's and a set of records wherever it sits (compare.rs's
    // `Method::for_name` says the same).
    if name == KEYMAP_FILE_NAME.as_bytes() {
        return Shape::Lines;
    }
    match adapter {
        // Every path in a bucket is an object key, but for the bucket's own files.
        Adapter::S3 => match parts.as_slice() {
            [_, b"_bucket.json"] => Shape::Json { root: "$" },
            [_, b"_incomplete_uploads", b"records.jsonl"] => Shape::Lines,
            _ if name.ends_with(b".elastickv-meta.json") => Shape::Json { root: "$" },
            _ => Shape::Bytes,
        },
        Adapter::DynamoDb => match parts.as_slice() {
            [_, b"items", .., _] if name.ends_with(b".json") => Shape::Json { root: "Item" },
            _ => by_extension(name),
        },
        Adapter::Sqs => match parts.as_slice() {
            [_, b"messages.jsonl"] => Shape::Keyed {
                key: "message_id",
                unit: "message",
            },
            _ => by_extension(name),
        },
        Adapter::Redis => by_extension(name),
    }
}

fn by_extension(name: &[u8]) -> Shape {
    if name.ends_with(b".json") {
        Shape::Json { root: "$" }
    } else if name.ends_with(b".jsonl") {
        Shape::Lines
    } else {
        Shape::Bytes
    }
}

/// The JSON paths at which two documents differ: the first [`PATHS_SHOWN`] rendered
/// as `<path>: input <value>, decoded <value>`, all of them counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathDiffs {
    /// Differing paths (leaves, or members/elements only one side has).
    pub total: u64,
    /// The first of them, in document order (members by name).
    pub shown: Vec<String>,
}

impl PathDiffs {
    fn push(&mut self, line: impl FnOnce() -> String) {
        self.total += 1;
        if self.shown.len() < PATHS_SHOWN {
            self.shown.push(line());
        }
    }

    /// Adds the differences of two JSON texts below `root`; `false` when either is
    /// not JSON (nothing is added then).
    pub fn add_texts(&mut self, root: &str, input: &[u8], decoded: &[u8]) -> bool {
        let (Ok(a), Ok(b)) = (
            serde_json::from_slice::<Value>(input),
            serde_json::from_slice::<Value>(decoded),
        ) else {
            return false;
        };
        let mut path = root.to_owned();
        self.walk(&mut path, Some(&a), Some(&b));
        true
    }

    /// Depth is bounded by the parser's nesting limit (128).
    fn walk(&mut self, path: &mut String, a: Option<&Value>, b: Option<&Value>) {
        let len = path.len();
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let mut names: Vec<&String> = x.keys().chain(y.keys()).collect();
                names.sort_unstable();
                names.dedup();
                for name in names {
                    push_member(path, name);
                    self.walk(path, x.get(name), y.get(name));
                    path.truncate(len);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) => {
                for i in 0..x.len().max(y.len()) {
                    let _ = write!(path, "[{i}]");
                    self.walk(path, x.get(i), y.get(i));
                    path.truncate(len);
                }
            }
            _ if a == b => {}
            _ => self.push(|| format!("{path}: input {}, decoded {}", value(a), value(b))),
        }
    }
}

/// `.name` for an identifier-like member name, `["name"]` otherwise.
fn push_member(path: &mut String, name: &str) {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(&quoted(name));
        path.push(']');
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A value on one line: compact JSON, cut after [`VALUE_MAX_CHARS`] characters;
/// `(absent)` when the side has no value there.
fn value(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => cut(&serde_json::to_string(v).unwrap_or_default()),
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(VALUE_MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The key of a keyed JSONL line: its `field` member when that is a string, else
/// empty (such lines pair with each other by content only).
pub fn line_key(line: &[u8], field: &str) -> Vec<u8> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(members)) => match members.get(field) {
            Some(Value::String(key)) => key.as_bytes().to_vec(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// How two keyed JSONL files differ, their lines matched by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyedDelta {
    /// The identifying member (`message_id`).
    pub key: &'static str,
    /// What a line is called (`message`).
    pub unit: &'static str,
    /// Keys on both sides whose lines differ.
    pub changed: u64,
    /// Keys only the input has (with multiplicity).
    pub only_in_input: u64,
    /// Keys only the decoded file has.
    pub only_in_decoded: u64,
    /// How the changed lines differ, by path below `<unit>["<key>"]`.
    pub changes: PathDiffs,
    /// The first [`KEYS_SHOWN`] keys only the input has, in key order.
    pub input_keys: Vec<String>,
    /// The first [`KEYS_SHOWN`] keys only the decoded file has.
    pub decoded_keys: Vec<String>,
}

impl KeyedDelta {
    /// Whether the two files hold the same lines (they may still differ in order or
    /// framing).
    pub fn is_empty(&self) -> bool {
        self.changed == 0 && self.only_in_input == 0 && self.only_in_decoded == 0
    }

    fn root(&self, key: &[u8]) -> String {
        format!("{}[{}]", self.unit, quoted(&String::from_utf8_lossy(key)))
    }

    /// Counts a line both sides have under `key` with different bytes, and says
    /// which JSON members differ, or both lines when that says nothing (not JSON, or
    /// the same members written differently).
    fn changed_line(&mut self, key: &[u8], input: &[u8], decoded: &[u8]) {
        self.changed += 1;
        let root = self.root(key);
        let before = self.changes.total;
        let parsed = self.changes.add_texts(&root, input, decoded);
        if !parsed || self.changes.total == before {
            let (input, decoded) = (
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(decoded),
            );
            self.changes.push(|| {
                format!(
                    "{root}: input line {}, decoded line {}",
                    cut(&input),
                    cut(&decoded)
                )
            });
        }
    }
}

fn sample_key(keys: &mut Vec<String>, key: &[u8]) {
    if keys.len() < KEYS_SHOWN {
        keys.push(cut(&quoted(&String::from_utf8_lossy(key))));
    }
}

/// Merges both sides' `(key, line)` records, each sorted by key.
pub fn keyed_delta(
    key: &'static str,
    unit: &'static str,
    a: &mut SortedRecords,
    b: &mut SortedRecords,
) -> io::Result<KeyedDelta> {
    let mut delta = KeyedDelta {
        key,
        unit,
        ..KeyedDelta::default()
    };
    merge_join(a, b, |joined| match joined {
        Joined::Left(k, _) => {
            delta.only_in_input += 1;
            sample_key(&mut delta.input_keys, k);
        }
        Joined::Right(k, _) => {
            delta.only_in_decoded += 1;
            sample_key(&mut delta.decoded_keys, k);
        }
        Joined::Both { key, left, right } if left != right => delta.changed_line(key, left, right),
        Joined::Both { .. } => {}
    })?;
    Ok(delta)
}

/// `bytes <from>..<to>: <hex> |<printable>|` for a window of a file at `offset`.
pub fn render_window(offset: u64, bytes: &[u8]) -> String {
    let end = offset + bytes.len() as u64;
    if bytes.is_empty() {
        return format!("bytes {offset}..{end}: (end of file)");
    }
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    format!("bytes {offset}..{end}: {} |{text}|", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(a: &str, b: &str) -> Vec<String> {
        let mut diffs = PathDiffs::default();
        assert!(diffs.add_texts("Item", a.as_bytes(), b.as_bytes()));
        diffs.shown
    }

    #[test]
    fn json_paths_name_members_elements_and_absent_sides() {
        let a = r#"{"tags":{"L":[{"S":"a"},{"S":"b"},{"S":"c"}]},"n":{"N":"1"},"odd key":1}"#;
        let b =
            r#"{"tags":{"L":[{"S":"a"},{"S":"b"},{"S":"d"},{"S":"e"}]},"m":{"N":"1"},"odd key":2}"#;
        assert_eq!(
            paths(a, b),
            [
                "Item.m: input (absent), decoded {\"N\":\"1\"}",
                "Item.n: input {\"N\":\"1\"}, decoded (absent)",
                "Item[\"odd key\"]: input 1, decoded 2",
                "Item.tags.L[2].S: input \"c\", decoded \"d\"",
                "Item.tags.L[3]: input (absent), decoded {\"S\":\"e\"}",
            ]
        );
        assert!(paths(a, a).is_empty());
        // A type change is one difference at the member, not one per leaf.
        assert_eq!(
            paths(r#"{"x":[1,2]}"#, r#"{"x":{"a":1}}"#),
            ["Item.x: input [1,2], decoded {\"a\":1}"]
        );
    }

    #[test]
    fn json_paths_are_capped_and_counted() {
        let a: Vec<String> = (0..50).map(|i| format!("\"k{i:02}\":{i}")).collect();
        let b: Vec<String> = (0..50).map(|i| format!("\"k{i:02}\":{}", i + 1)).collect();
        let mut diffs = PathDiffs::default();
        assert!(diffs.add_texts(
            "$",
            format!("{{{}}}", a.join(",")).as_bytes(),
            format!("{{{}}}", b.join(",")).as_bytes()
        ));
        assert_eq!(diffs.total, 50);
        assert_eq!(diffs.shown.len(), PATHS_SHOWN);
        assert_eq!(diffs.shown[0], "$.k00: input 0, decoded 1");
        let mut none = PathDiffs::default();
        assert!(!none.add_texts("$", b"{", b"{}"));
        assert_eq!(none, PathDiffs::default());
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        let shown = paths(&format!("{{\"a\":\"{long}\"}}"), "{\"a\":1}");
        assert_eq!(
            shown,
            [format!("Item.a: input \"{}…, decoded 1", "x".repeat(119))]
        );
    }

    #[test]
    fn shapes_by_adapter_and_path() {
        let json = Shape::Json { root: "$" };
        let item = Shape::Json { root: "Item" };
        for (adapter, rel, want) in [
            (Adapter::Redis, &b"db_0/hashes/h.json"[..], json),
            (Adapter::Redis, b"db_0/streams/s.jsonl", Shape::Lines),
            (Adapter::Redis, b"db_0/strings/s.bin", Shape::Bytes),
            (Adapter::S3, b"b/KEYMAP.jsonl", Shape::Lines),
            (Adapter::DynamoDb, b"t/items/k.json", item),
            (Adapter::DynamoDb, b"t/items/h/r.json", item),
            (Adapter::DynamoDb, b"t/_schema.json", json),
            (Adapter::DynamoDb, b"t/items/data-00001.jsonl", Shape::Lines),
            (Adapter::S3, b"b/_bucket.json", json),
            (Adapter::S3, b"b/dir/_bucket.json", Shape::Bytes),
            (Adapter::S3, b"b/doc.json", Shape::Bytes),
            (Adapter::S3, b"b/doc.json.elastickv-meta.json", json),
            (
                Adapter::S3,
                b"b/_incomplete_uploads/records.jsonl",
                Shape::Lines,
            ),
            (
                Adapter::Sqs,
                b"q/messages.jsonl",
                Shape::Keyed {
                    key: "message_id",
                    unit: "message",
                },
            ),
            (Adapter::Sqs, b"q/_queue.json", json),
            (
                Adapter::Sqs,
                b"q/_internals/side_records.jsonl",
                Shape::Lines,
            ),
        ] {
            assert_eq!(shape(adapter, rel), want, "{adapter:?} {rel:?}");
        }
    }

    #[test]
    fn keys_of_lines() {
        assert_eq!(
            line_key(br#"{"message_id":"m1","x":1}"#, "message_id"),
            b"m1"
        );
        assert_eq!(line_key(br#"{"message_id":1}"#, "message_id"), b"");
        assert_eq!(line_key(b"not json", "message_id"), b"");
    }

    #[test]
    fn windows_render_hex_and_text() {
        assert_eq!(
            render_window(4, b"ab\x00\xff"),
            "bytes 4..8: 61 62 00 ff |ab..|"
        );
        assert_eq!(render_window(9, b""), "bytes 9..9: (end of file)");
    }
}
