//! The streaming encoder against the whole-file reading it replaced.
//!
//! The oracle is the pre-streaming code path, kept here verbatim in behaviour: read
//! the file whole, parse it with `gojson::parse_prefix` (itself checked against the
//! old parser in `tree::gojson_oracle`), refuse trailing data, decode with
//! `docs::read_hash`/`read_set`/`read_list`/`read_zset`, then emit meta, elements and
//! TTL row. Generated documents, valid and broken in every way the decoding rules
//! know (duplicate and case-folded members, nulls, wrong types, bad binary values and
//! scores, syntax errors and truncation anywhere), must give the same records in the
//! same order, or the same error code and message, whatever the kept-elements budget.

use std::fs;
use std::path::Path;

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::{BoxError, ErrorCode, ExitClass};
use crate::tree::bsv::encode_base64url;
use crate::tree::gojson::GoValue;
use crate::tree::gojson_reader::parse_prefix;

use super::RedisEncoder;
use super::docs::{self, Collection, ElementKind, HashFields, ListItems, SetMembers, ZSetMembers};
use super::elements::{JsonLines, KEPT_ELEMENTS_BUDGET, ReadStats, check_document};
use super::error::RedisError;
use super::keys;
use super::values;
use crate::test_rng::Rng;

/// Picks one of `items`.
fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.index(items.len())]
}

/// The four collection kinds, with their directory and whole-document reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hash,
    Set,
    List,
    ZSet,
}

const KINDS: [Kind; 4] = [Kind::Hash, Kind::Set, Kind::List, Kind::ZSet];

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Hash => "hashes",
            Kind::Set => "sets",
            Kind::List => "lists",
            Kind::ZSet => "zsets",
        }
    }

    fn array(self) -> &'static str {
        match self {
            Kind::Hash => HashFields::ARRAY,
            Kind::Set => SetMembers::ARRAY,
            Kind::List => ListItems::ARRAY,
            Kind::ZSet => ZSetMembers::ARRAY,
        }
    }
}

/// Bytes a mutation writes over a document's byte.
const MUTATIONS: &[u8] = b"{}[],:\"\\x0-\n\xff";

/// Generates collection documents; `fault` is the percentage of generator choices
/// that break a rule.
struct Gen {
    rng: Rng,
    fault: u64,
}

impl Gen {
    fn bad(&mut self) -> bool {
        self.rng.chance(self.fault)
    }

    fn ws(&mut self) -> &'static str {
        pick(&mut self.rng, &["", "", "", " ", "\n  ", "\t"])
    }

    /// A member name as written: canonical, or one Go's case folding still matches.
    fn name(&mut self, canonical: &str) -> String {
        match self.rng.below(6) {
            0 => canonical.to_uppercase(),
            1 => {
                let mut chars = canonical.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => canonical.to_owned(),
        }
    }

    fn bsv(&mut self) -> String {
        if self.bad() {
            return pick(
                &mut self.rng,
                &[
                    "null",
                    "5",
                    "{}",
                    "[]",
                    r#"{"base64":null}"#,
                    r#"{"base64":"!!"}"#,
                    r#"{"base64":1}"#,
                    r#"{"base64":"AA","base64":null}"#,
                ],
            )
            .to_owned();
        }
        match self.rng.below(8) {
            0..=3 => {
                let pieces = [
                    "a",
                    "\\u00e9",
                    "é",
                    "\\ud800",
                    "<",
                    "\\n",
                    "z",
                    "\\\"",
                    "\u{1F600}",
                ];
                let len = self.rng.below(5);
                let text: String = (0..len)
                    .map(|_| pieces[self.rng.index(pieces.len())])
                    .collect();
                format!("\"{text}\"")
            }
            4 | 5 => {
                let len = self.rng.below(6);
                let raw: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
                format!(r#"{{"base64":"{}"}}"#, encode_base64url(&raw))
            }
            6 => r#"{"Base64":"AA","extra":[1,{"x":null}]}"#.to_owned(),
            _ => r#"{"base64":"_w","base64":"AQ"}"#.to_owned(),
        }
    }

    fn score(&mut self) -> String {
        let choices: &[&str] = if self.bad() {
            &[r#""inf""#, "1e400", "true", r#""1""#, "{}", "[]"]
        } else {
            &[
                "1.5",
                "-2",
                "0",
                "-0",
                r#""+inf""#,
                r#""-inf""#,
                "null",
                "9007199254740993",
                "1e-400",
                "3.14159e2",
            ]
        };
        pick(&mut self.rng, choices).to_owned()
    }

    /// Anything: skipped when it sits under an unknown name.
    fn junk(&mut self, depth: usize) -> String {
        match self.rng.below(if depth > 2 { 4 } else { 6 }) {
            0 => "null".into(),
            1 => "\"junk \\u0041\"".into(),
            2 => "-1.5e3".into(),
            3 => "true".into(),
            4 => format!("[{},{}]", self.junk(depth + 1), self.junk(depth + 1)),
            _ => format!(
                r#"{{"k":{},"k":{}}}"#,
                self.junk(depth + 1),
                self.junk(depth + 1)
            ),
        }
    }

    /// A `{first, second}` struct element.
    fn pair(&mut self, first: &str, second: &str, value: fn(&mut Gen) -> String) -> String {
        if self.bad() {
            return pick(&mut self.rng, &["5", "\"x\"", "[]", "null", "true"]).to_owned();
        }
        let mut members = vec![
            format!("\"{}\":{}", self.name(first), self.bsv()),
            format!("\"{}\":{}", self.name(second), value(self)),
        ];
        if self.bad() {
            members.pop();
        }
        if self.rng.chance(10) {
            members.push(format!("\"{}\":{}", self.name(first), self.bsv()));
        }
        if self.rng.chance(10) {
            members.push(format!("\"other\":{}", self.junk(0)));
        }
        self.shuffle(&mut members);
        format!("{{{}}}", members.join(","))
    }

    fn element(&mut self, kind: Kind) -> String {
        match kind {
            Kind::Hash => self.pair("name", "value", Gen::bsv),
            Kind::ZSet => self.pair("member", "score", Gen::score),
            Kind::Set | Kind::List => self.bsv(),
        }
    }

    fn array(&mut self, kind: Kind) -> String {
        if self.bad() {
            return pick(&mut self.rng, &["{}", r#"{"a":[1]}"#, "\"x\"", "5", "true"]).to_owned();
        }
        if self.rng.chance(5) {
            return "null".into();
        }
        let len = if self.rng.chance(5) {
            50 + self.rng.below(150)
        } else {
            self.rng.below(12)
        };
        let elements: Vec<String> = (0..len)
            .map(|_| format!("{}{}", self.ws(), self.element(kind)))
            .collect();
        format!("[{}{}]", elements.join(","), self.ws())
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.rng.index(i + 1));
        }
    }

    fn document(&mut self, kind: Kind) -> Vec<u8> {
        if self.bad() && self.rng.chance(30) {
            return pick(&mut self.rng, &["null", "[]", "\"doc\"", "7", ""])
                .as_bytes()
                .to_vec();
        }
        let mut members = Vec::new();
        if !self.bad() || self.rng.chance(50) {
            let version = if self.bad() {
                pick(
                    &mut self.rng,
                    &["2", "\"1\"", "1.0", "{}", "[1]", "null", "-1", "4294967296"],
                )
            } else {
                "1"
            };
            members.push(format!("\"{}\":{version}", self.name("format_version")));
        }
        let arrays = match self.rng.below(10) {
            0 => 0,
            1 | 2 => 2,
            _ => 1,
        };
        for _ in 0..arrays {
            members.push(format!(
                "\"{}\":{}",
                self.name(kind.array()),
                self.array(kind)
            ));
        }
        if self.rng.chance(50) {
            let expire = if self.bad() {
                pick(&mut self.rng, &["-1", "\"5\"", "1e3", "[]", "{}"])
            } else {
                pick(&mut self.rng, &["null", "0", "5", "18446744073709551615"])
            };
            members.push(format!("\"{}\":{expire}", self.name("expire_at_ms")));
        }
        if self.rng.chance(30) {
            members.push(format!("\"unknown\":{}", self.junk(0)));
        }
        // Keep the array members' relative order (it decides which one wins), but
        // move the others around them.
        if self.rng.chance(50) {
            self.shuffle(&mut members);
        }
        let sep = format!(",{}", self.ws());
        let mut text = format!("{}{{{}}}{}", self.ws(), members.join(&sep), self.ws()).into_bytes();
        if self.rng.chance(10) {
            text.extend_from_slice(pick(&mut self.rng, &["]", "} x", "x", "\n{}"]).as_bytes());
        }
        if self.fault > 0 && self.rng.chance(25) && !text.is_empty() {
            let at = self.rng.index(text.len());
            match self.rng.below(3) {
                0 => text.truncate(at),
                1 => text[at] = MUTATIONS[self.rng.index(MUTATIONS.len())],
                _ => {
                    text.remove(at);
                }
            }
        }
        text
    }
}

// --- the oracle ------------------------------------------------------------------

/// `(store key, value)` records in emission order.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// The pre-streaming `read_one_json`.
fn whole_value(path: &Path, bytes: &[u8]) -> Result<GoValue, RedisError> {
    let (value, end) =
        parse_prefix(bytes).map_err(|e| RedisError::invalid_json(path, e.to_string()))?;
    match bytes[end..]
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        None | Some(b']' | b'}') => Ok(value),
        Some(_) => Err(RedisError::invalid_json(
            path,
            "trailing data after the JSON value",
        )),
    }
}

fn ttl_row(out: &mut Records, user_key: &[u8], expire_at_ms: Option<u64>) {
    if let Some(ms) = expire_at_ms.filter(|ms| *ms != 0) {
        out.push((
            keys::raw_key(keys::TTL, user_key),
            values::build_ttl(ms).to_vec(),
        ));
    }
}

fn count<T>(c: &Collection<T>) -> u64 {
    c.elements.len() as u64
}

/// The pre-streaming encode of one collection file.
fn whole_file_records(kind: Kind, path: &Path, user_key: &[u8]) -> Result<Records, RedisError> {
    let bytes = fs::read(path).unwrap();
    let value = whole_value(path, &bytes)?;
    let invalid = |d: String| RedisError::invalid_json(path, d);
    let mut out = Records::new();
    let expire_at_ms = match kind {
        Kind::Hash => {
            let hash = docs::read_hash(&value).map_err(invalid)?;
            let meta = values::build_count_meta(count(&hash), hash.expire_at_ms);
            out.push((keys::wide_key(keys::HASH_META, user_key, b""), meta));
            for (name, value) in hash.elements {
                out.push((keys::wide_key(keys::HASH_FIELD, user_key, &name), value));
            }
            hash.expire_at_ms
        }
        Kind::Set => {
            let set = docs::read_set(&value).map_err(invalid)?;
            let meta = values::build_count_meta(count(&set), set.expire_at_ms);
            out.push((keys::wide_key(keys::SET_META, user_key, b""), meta));
            for member in set.elements {
                out.push((
                    keys::wide_key(keys::SET_MEMBER, user_key, &member),
                    Vec::new(),
                ));
            }
            set.expire_at_ms
        }
        Kind::List => {
            let list = docs::read_list(&value).map_err(invalid)?;
            let meta = values::build_list_meta(count(&list), list.expire_at_ms);
            out.push((keys::raw_key(keys::LIST_META, user_key), meta));
            for (seq, item) in (0i64..).zip(list.elements) {
                out.push((keys::list_item_key(user_key, seq), item));
            }
            list.expire_at_ms
        }
        Kind::ZSet => {
            let zset = docs::read_zset(&value).map_err(invalid)?;
            let meta = values::build_count_meta(count(&zset), zset.expire_at_ms);
            out.push((keys::wide_key(keys::ZSET_META, user_key, b""), meta));
            for (member, score) in zset.elements {
                out.push((
                    keys::wide_key(keys::ZSET_MEMBER, user_key, &member),
                    values::build_zset_score(score).to_vec(),
                ));
                out.push((keys::zset_score_key(user_key, score, &member), Vec::new()));
            }
            zset.expire_at_ms
        }
    };
    ttl_row(&mut out, user_key, expire_at_ms);
    Ok(out)
}

/// Records in the order they were added.
#[derive(Default)]
struct Collect(Records);

impl EntrySink for Collect {
    fn add(&mut self, user_key: &[u8], value: &[u8]) -> Result<(), BoxError> {
        self.0.push((user_key.to_vec(), value.to_vec()));
        Ok(())
    }
}

/// What an encode produced: the records, or the error's code and message.
type Outcome = Result<Records, (String, String)>;

fn coded(code: &str, message: String) -> (String, String) {
    (code.to_owned(), message)
}

/// A tree holding one collection file, `k.json` of `kind`.
struct OneFileTree {
    root: tempfile::TempDir,
    kind: Kind,
}

impl OneFileTree {
    fn new(kind: Kind) -> Self {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("redis/db_0").join(kind.dir())).unwrap();
        OneFileTree { root, kind }
    }

    fn file(&self) -> std::path::PathBuf {
        self.root
            .path()
            .join("redis/db_0")
            .join(self.kind.dir())
            .join("k.json")
    }

    fn write(&self, body: &[u8]) {
        fs::write(self.file(), body).unwrap();
    }

    fn streamed(&self, budget: usize) -> Outcome {
        let mut sink = Collect::default();
        match RedisEncoder::with_kept_budget(budget)
            .encode(&self.root.path().join("redis"), &mut sink)
        {
            Ok(()) => Ok(sink.0),
            Err(e) => Err(coded(e.code(), e.to_string())),
        }
    }

    fn whole(&self) -> Outcome {
        whole_file_records(self.kind, &self.file(), b"k").map_err(|e| {
            let code = e.code();
            coded(code, e.to_string())
        })
    }

    /// Streams with several budgets and checks each against the oracle.
    fn assert_same(&self, body: &[u8]) -> Outcome {
        self.write(body);
        let want = self.whole();
        for budget in [0, 300, KEPT_ELEMENTS_BUDGET] {
            assert_eq!(
                self.streamed(budget),
                want,
                "{:?} budget {budget}: {}",
                self.kind,
                String::from_utf8_lossy(body)
            );
        }
        want
    }
}

#[test]
fn streamed_documents_encode_like_whole_ones() {
    for kind in KINDS {
        let tree = OneFileTree::new(kind);
        let (mut ok, mut failed) = (0, 0);
        for seed in 0..400u64 {
            let fault = [0, 0, 1, 3, 10][seed as usize % 5];
            let mut generator = Gen {
                rng: Rng(seed * 31 + kind as u64),
                fault,
            };
            let body = generator.document(kind);
            match tree.assert_same(&body) {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        // The generator must exercise both outcomes substantially.
        assert!(
            ok > 100 && failed > 60,
            "{kind:?}: {ok} ok, {failed} failed"
        );
    }
}

/// `(code, message)` of an encode that must fail with `redis-encode-invalid-json`.
fn invalid_detail(outcome: Outcome) -> String {
    match outcome {
        Err((code, message)) if code == "redis-encode-invalid-json" => message,
        other => panic!("want an invalid-JSON error, got {other:?}"),
    }
}

#[test]
fn a_syntax_error_anywhere_outranks_earlier_decoding_errors() {
    let tree = OneFileTree::new(Kind::Hash);
    // Element 0 cannot be a struct, element 1's name is no binary value, the version
    // is wrong, and then the file stops being JSON: Go reports only the last.
    let body = br#"{"format_version":2,"fields":[5,{"name":null,"value":"v"}],"x":[1,}"#;
    let message = invalid_detail(tree.assert_same(body));
    assert!(
        message.contains("invalid character '}' looking for beginning of value"),
        "{message}"
    );
    // Without the syntax error the shape error (document order) wins...
    let body = br#"{"format_version":2,"fields":[5,{"name":null,"value":"v"}]}"#;
    assert!(
        invalid_detail(tree.assert_same(body))
            .contains("fields[0]: cannot unmarshal number into a struct")
    );
    // ...without it the version...
    let body = br#"{"format_version":2,"fields":[{"name":null,"value":"v"}]}"#;
    assert!(invalid_detail(tree.assert_same(body)).contains("unsupported format_version 2"));
    // ...and last the element content.
    let body = br#"{"format_version":1,"fields":[{"name":null,"value":"v"}]}"#;
    assert!(invalid_detail(tree.assert_same(body)).contains("fields[0].name"));
    // Trailing data outranks decoding errors too.
    let body = br#"{"format_version":2} x"#;
    assert!(invalid_detail(tree.assert_same(body)).contains("trailing data"));
}

#[test]
fn duplicate_members_follow_go() {
    let tree = OneFileTree::new(Kind::Hash);
    // The last array wins; a content error in an earlier one does not count...
    let records = tree
        .assert_same(
            br#"{"format_version":1,"fields":[{"name":{"base64":"!"},"value":"v"}],"FIELDS":[{"name":"a","value":"b"}]}"#,
        )
        .unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].0, keys::wide_key(keys::HASH_FIELD, b"k", b"a"));
    // ...but a shape error in an earlier one does,
    let body = br#"{"format_version":1,"fields":[7],"fields":[{"name":"a","value":"b"}]}"#;
    assert!(invalid_detail(tree.assert_same(body)).contains("fields[0]"));
    // a content error in the last one does,
    let body =
        br#"{"format_version":1,"fields":[{"name":"a","value":"b"}],"fields":[{"value":"b"}]}"#;
    assert!(invalid_detail(tree.assert_same(body)).contains("fields[0].name: missing"));
    // a trailing null empties the collection, and scalar members follow the same rule.
    let records = tree
        .assert_same(
            br#"{"format_version":1,"fields":[{"name":"a","value":"b"}],"fields":null,"expire_at_ms":5,"Expire_At_Ms":null,"format_version":null}"#,
        )
        .unwrap();
    assert_eq!(
        records,
        vec![(
            keys::wide_key(keys::HASH_META, b"k", b""),
            values::build_count_meta(0, None)
        )]
    );
    // Within an element, the last duplicate of a member wins.
    let records = tree
        .assert_same(br#"{"format_version":1,"fields":[{"name":"x","value":"b","Name":"y"}]}"#)
        .unwrap();
    assert_eq!(records[1].0, keys::wide_key(keys::HASH_FIELD, b"k", b"y"));
}

/// A sink that refuses a key it has seen, like the snapshot builder.
#[derive(Default)]
struct Unique(Vec<Vec<u8>>);

#[derive(Debug, thiserror::Error)]
#[error("duplicate key")]
struct Duplicate;

impl ErrorCode for Duplicate {
    fn code(&self) -> &'static str {
        "encode-duplicate-key"
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Data
    }
}

impl EntrySink for Unique {
    fn add(&mut self, user_key: &[u8], _: &[u8]) -> Result<(), BoxError> {
        if self.0.iter().any(|k| k == user_key) {
            return Err(Box::new(Duplicate));
        }
        self.0.push(user_key.to_vec());
        Ok(())
    }
}

#[test]
fn nothing_reaches_the_sink_before_the_whole_document_checked_out() {
    let tree = OneFileTree::new(Kind::Set);
    // A duplicate member the sink would refuse, then a member that cannot decode:
    // the document's error is reported, not the sink's.
    tree.write(br#"{"format_version":1,"members":["a","a",null]}"#);
    for budget in [0, KEPT_ELEMENTS_BUDGET] {
        let mut sink = Unique::default();
        let err = RedisEncoder::with_kept_budget(budget)
            .encode(&tree.root.path().join("redis"), &mut sink)
            .unwrap_err();
        assert_eq!(err.code(), "redis-encode-invalid-json");
        assert!(sink.0.is_empty());
    }
    tree.write(br#"{"format_version":1,"members":["a","a"]}"#);
    for budget in [0, KEPT_ELEMENTS_BUDGET] {
        let mut sink = Unique::default();
        let err = RedisEncoder::with_kept_budget(budget)
            .encode(&tree.root.path().join("redis"), &mut sink)
            .unwrap_err();
        assert_eq!(err.code(), "encode-duplicate-key");
    }
}

/// A 200 000-field hash: the reader never materializes more than one element, keeps
/// at most its budget of decoded elements, and the records are the oracle's.
#[test]
fn a_large_document_is_read_an_element_at_a_time() {
    const FIELDS: usize = 200_000;
    let mut body = String::from("{\"format_version\":1,\"fields\":[");
    for i in 0..FIELDS {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"name\":\"field-{i:06}\",\"value\":{{\"base64\":\"{}\"}}}}",
            encode_base64url(format!("value {i}").as_bytes())
        ));
    }
    body.push_str("],\"expire_at_ms\":9}");
    let tree = OneFileTree::new(Kind::Hash);
    tree.write(body.as_bytes());

    let budget = 1 << 20;
    let doc = check_document::<HashFields>(&tree.file(), budget).unwrap();
    assert_eq!(doc.count(), FIELDS as u64);
    let mut seen = 0usize;
    let stats: ReadStats = doc
        .for_each(|(name, _)| {
            assert_eq!(name, format!("field-{seen:06}").into_bytes());
            seen += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, FIELDS);
    let longest = body.len() / FIELDS * 2;
    assert!(stats.largest_element < longest, "{stats:?}");
    assert!(stats.peak_kept_bytes <= budget, "{stats:?}");
    assert!(stats.reread, "{stats:?}");

    let want = tree.whole().unwrap();
    assert_eq!(want.len(), FIELDS + 2);
    assert_eq!(tree.streamed(budget), Ok(want));
}

/// The pre-streaming JSONL reader: the whole file, then one value after another.
fn whole_jsonl(path: &Path, bytes: &[u8]) -> Result<Vec<GoValue>, String> {
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        }
        if pos >= bytes.len() {
            return Ok(out);
        }
        match parse_prefix(&bytes[pos..]) {
            Ok((value, end)) => {
                pos += end;
                out.push(value);
            }
            Err(e) => {
                let detail = format!("at byte {}: {}", pos + e.offset, e.message);
                return Err(RedisError::invalid_json(path, detail).to_string());
            }
        }
    }
}

fn streamed_jsonl(path: &Path) -> Result<Vec<GoValue>, String> {
    let mut lines = JsonLines::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(value) = lines.next_value().map_err(|e| e.to_string())? {
        out.push(value);
    }
    Ok(out)
}

#[test]
fn jsonl_files_read_like_whole_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut rng = Rng(11);
    let lines = [
        r#"{"id":"1-1","fields":[{"name":"a","value":{"base64":"_w"}}]}"#,
        r#"{"_meta":true,"length":1,"last_ms":1,"last_seq":1,"expire_at_ms":null}"#,
        r#"{"key":"k","expire_at_ms":5}"#,
        "  ",
        "7 8",
        r#"{"a":"x"}{"b":[1,2]}"#,
    ];
    for _ in 0..2000 {
        let mut body: Vec<u8> = (0..rng.below(6))
            .flat_map(|_| format!("{}\n", lines[rng.index(lines.len())]).into_bytes())
            .collect();
        if !body.is_empty() && rng.chance(40) {
            let at = rng.index(body.len());
            match rng.below(3) {
                0 => body.truncate(at),
                1 => body[at] = MUTATIONS[rng.index(MUTATIONS.len())],
                _ => {
                    body.remove(at);
                }
            }
        }
        fs::write(&path, &body).unwrap();
        assert_eq!(
            streamed_jsonl(&path),
            whole_jsonl(&path, &body),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}
