//! The encoder's collection-document reader (`super::elements`) on generated and
//! hand-written documents.
//!
//! A document's elements reach the sink either from memory (they fitted the
//! kept-elements budget on the first pass) or from a second read of the file (they
//! did not); both must give the same records in the same order, or the same error
//! code and message. Generated documents, valid and broken in every way the decoding
//! rules know (duplicate and case-folded members, nulls, wrong types, bad binary
//! values and scores, syntax errors and truncation anywhere), are encoded at a budget
//! of 0 (every non-empty document is read twice), 300 bytes (kept, then dropped
//! part-way) and the default, and must agree. The hand-written tests pin the
//! outcomes themselves: Go's error precedence, which duplicate member wins, that
//! nothing reaches the sink before the whole document checked out, that a large
//! document is held an element at a time, and JSONL error offsets.
//!
//! What a valid document must encode *to* is also checked against Go's encoder by
//! the reference vectors (`conformance`) and against the model by the round-trip
//! properties of `proptests/tests/redis.rs`.

use std::fs;
use std::path::PathBuf;

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::{BoxError, ErrorCode, ExitClass};
use crate::tree::bsv::encode_base64url;
use crate::tree::gojson::GoValue;

use super::RedisEncoder;
use super::docs::{ElementKind, HashFields, ListItems, SetMembers, ZSetMembers};
use super::elements::{JsonLines, KEPT_ELEMENTS_BUDGET, ReadStats, check_document};
use super::keys;
use super::values;
use elastickv_splitmix::SplitMix64 as Rng;

/// Picks one of `items`.
fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.index(items.len())]
}

/// The four collection kinds, with their directory and element array.
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
                let raw: Vec<u8> = (0..len).map(|_| self.rng.next_u64() as u8).collect();
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
        // Half the time the members are shuffled, arrays included: which duplicate
        // comes last decides which one Go keeps.
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

/// `(store key, value)` records in emission order.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

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

/// Kept-elements budgets every document is encoded at: nothing kept (the second
/// pass re-reads the file), a budget small documents overflow part-way, the default.
const BUDGETS: [usize; 3] = [0, 300, KEPT_ELEMENTS_BUDGET];

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

    fn file(&self) -> PathBuf {
        self.root
            .path()
            .join("redis/db_0")
            .join(self.kind.dir())
            .join("k.json")
    }

    fn write(&self, body: &[u8]) {
        fs::write(self.file(), body).unwrap();
    }

    fn encode(&self, budget: usize, sink: &mut dyn EntrySink) -> Result<(), BoxError> {
        RedisEncoder::with_kept_budget(budget).encode(&self.root.path().join("redis"), sink)
    }

    fn streamed(&self, budget: usize) -> Outcome {
        let mut sink = Collect::default();
        match self.encode(budget, &mut sink) {
            Ok(()) => Ok(sink.0),
            Err(e) => Err((e.code().to_owned(), e.to_string())),
        }
    }

    /// Writes `body`, encodes it at every budget, checks they agree and returns
    /// their outcome.
    fn agreed(&self, body: &[u8]) -> Outcome {
        self.write(body);
        let want = self.streamed(0);
        for budget in &BUDGETS[1..] {
            assert_eq!(
                self.streamed(*budget),
                want,
                "{:?} budget {budget} vs 0: {}",
                self.kind,
                String::from_utf8_lossy(body)
            );
        }
        want
    }

    /// The detail of the `redis-encode-invalid-json` error `body` must fail with, at
    /// every budget.
    fn invalid(&self, body: &[u8]) -> String {
        let prefix = format!(
            "{}: redis encode invalid collection JSON: ",
            self.file().display()
        );
        match self.agreed(body) {
            Err((code, message)) if code == "redis-encode-invalid-json" => message
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{message}"))
                .to_owned(),
            other => panic!("want an invalid-JSON error, got {other:?}"),
        }
    }
}

#[test]
fn generated_documents_encode_the_same_at_every_kept_budget() {
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
            match tree.agreed(&body) {
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

/// The hash records of `fields` under key `k`: the meta row, then the fields in
/// document order, then the TTL row.
fn hash_records(fields: &[(&[u8], &[u8])], expire_at_ms: Option<u64>) -> Records {
    let count = fields.len() as u64;
    let mut out = vec![(
        keys::wide_key(keys::HASH_META, b"k", b""),
        values::build_count_meta(count, expire_at_ms),
    )];
    for (name, value) in fields {
        out.push((keys::wide_key(keys::HASH_FIELD, b"k", name), value.to_vec()));
    }
    if let Some(ms) = expire_at_ms.filter(|ms| *ms != 0) {
        out.push((
            keys::raw_key(keys::TTL, b"k"),
            values::build_ttl(ms).to_vec(),
        ));
    }
    out
}

/// Go reads the whole document before it decodes any of it, so a syntax error
/// anywhere wins; then trailing data; then the first shape error in document order;
/// then `format_version`; then element contents.
#[test]
fn a_syntax_error_anywhere_outranks_earlier_decoding_errors() {
    let tree = OneFileTree::new(Kind::Hash);
    // Element 0 cannot be a struct, element 1's name is no binary value, the version
    // is wrong, and then the file stops being JSON: Go reports only the last.
    assert_eq!(
        tree.invalid(br#"{"format_version":2,"fields":[5,{"name":null,"value":"v"}],"x":[1,}"#),
        "invalid character '}' looking for beginning of value (at byte 66)"
    );
    // Without the syntax error the shape error (document order) wins...
    assert_eq!(
        tree.invalid(br#"{"format_version":2,"fields":[5,{"name":null,"value":"v"}]}"#),
        "fields[0]: cannot unmarshal number into a struct"
    );
    // ...without it the version...
    assert_eq!(
        tree.invalid(br#"{"format_version":2,"fields":[{"name":null,"value":"v"}]}"#),
        "unsupported format_version 2"
    );
    // ...and last the element content.
    assert_eq!(
        tree.invalid(br#"{"format_version":1,"fields":[{"name":null,"value":"v"}]}"#),
        "fields[0].name: neither a string nor a {\"base64\":…} envelope"
    );
    // Trailing data outranks decoding errors too; a closing bracket is not trailing
    // data (Go's `Decoder.More`).
    assert_eq!(
        tree.invalid(br#"{"format_version":2} x"#),
        "trailing data after the JSON value"
    );
    assert_eq!(
        tree.agreed(br#"{"format_version":1} ]"#),
        Ok(hash_records(&[], None))
    );
}

#[test]
fn duplicate_members_follow_go() {
    let tree = OneFileTree::new(Kind::Hash);
    // The last array wins (names match case-insensitively); a content error in an
    // earlier one does not count...
    assert_eq!(
        tree.agreed(
            br#"{"format_version":1,"fields":[{"name":{"base64":"!"},"value":"v"}],"FIELDS":[{"name":"a","value":"b"}]}"#
        ),
        Ok(hash_records(&[(b"a", b"b")], None))
    );
    // ...but a shape error in an earlier one does,
    assert_eq!(
        tree.invalid(br#"{"format_version":1,"fields":[7],"fields":[{"name":"a","value":"b"}]}"#),
        "fields[0]: cannot unmarshal number into a struct"
    );
    // a content error in the last one does,
    assert_eq!(
        tree.invalid(
            br#"{"format_version":1,"fields":[{"name":"a","value":"b"}],"fields":[{"value":"b"}]}"#
        ),
        "fields[0].name: missing"
    );
    // a trailing null empties the collection, and scalar members follow the same rule
    // (a null expiry clears it, a null version leaves it).
    assert_eq!(
        tree.agreed(
            br#"{"format_version":1,"fields":[{"name":"a","value":"b"}],"fields":null,"expire_at_ms":5,"Expire_At_Ms":null,"format_version":null}"#
        ),
        Ok(hash_records(&[], None))
    );
    // Within an element, the last duplicate of a member wins.
    assert_eq!(
        tree.agreed(br#"{"format_version":1,"fields":[{"name":"x","value":"b","Name":"y"}]}"#),
        Ok(hash_records(&[(b"y", b"b")], None))
    );
    // The expiry is the last one given.
    assert_eq!(
        tree.agreed(
            br#"{"expire_at_ms":5,"format_version":1,"fields":[{"name":"x","value":"b"}],"expire_at_ms":7}"#
        ),
        Ok(hash_records(&[(b"x", b"b")], Some(7)))
    );
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

/// Go unmarshals the whole document before it emits anything, so a document error
/// must be reported even when an earlier element would already have made the sink
/// fail, and nothing may reach the sink first, whichever pass hands out the elements.
#[test]
fn nothing_reaches_the_sink_before_the_whole_document_checked_out() {
    let tree = OneFileTree::new(Kind::Set);
    // A duplicate member the sink would refuse, then a member that cannot decode:
    // the document's error is reported, not the sink's.
    let body = br#"{"format_version":1,"members":["a","a",null]}"#;
    assert_eq!(
        tree.invalid(body),
        "members[2]: neither a string nor a {\"base64\":…} envelope"
    );
    for budget in BUDGETS {
        let mut sink = Unique::default();
        let err = tree.encode(budget, &mut sink).unwrap_err();
        assert_eq!(err.code(), "redis-encode-invalid-json", "budget {budget}");
        assert!(sink.0.is_empty(), "budget {budget}: {:?}", sink.0);
    }
    // Without it, the sink's error is the one reported.
    tree.write(br#"{"format_version":1,"members":["a","a"]}"#);
    for budget in BUDGETS {
        let mut sink = Unique::default();
        let err = tree.encode(budget, &mut sink).unwrap_err();
        assert_eq!(err.code(), "encode-duplicate-key", "budget {budget}");
    }
}

/// A 200 000-field hash: the reader never materializes more than one element, keeps
/// at most its budget of decoded elements, and the records are the document's, in
/// order, whether they were kept or read again.
#[test]
fn a_large_document_is_read_an_element_at_a_time() {
    const FIELDS: usize = 200_000;
    let value = |i: usize| format!("value {i}").into_bytes();
    let mut body = String::from("{\"format_version\":1,\"fields\":[");
    for i in 0..FIELDS {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"name\":\"field-{i:06}\",\"value\":{{\"base64\":\"{}\"}}}}",
            encode_base64url(&value(i))
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

    let names: Vec<Vec<u8>> = (0..FIELDS)
        .map(|i| format!("field-{i:06}").into_bytes())
        .collect();
    let values: Vec<Vec<u8>> = (0..FIELDS).map(value).collect();
    let fields: Vec<(&[u8], &[u8])> = names
        .iter()
        .zip(&values)
        .map(|(n, v)| (n.as_slice(), v.as_slice()))
        .collect();
    let want = hash_records(&fields, Some(9));
    assert_eq!(want.len(), FIELDS + 2);
    for budget in [0, budget, KEPT_ELEMENTS_BUDGET, usize::MAX] {
        assert!(tree.streamed(budget) == Ok(want.clone()), "budget {budget}");
    }
}

/// The values of the JSONL file `body`, or the detail of its error.
fn jsonl(body: &[u8]) -> Result<Vec<GoValue>, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    fs::write(&path, body).unwrap();
    let detail = |e: super::error::RedisError| {
        let prefix = format!("{}: redis encode invalid collection JSON: ", path.display());
        let message = e.to_string();
        message.strip_prefix(&prefix).unwrap_or(&message).to_owned()
    };
    let mut lines = JsonLines::open(&path).map_err(detail)?;
    let mut out = Vec::new();
    while let Some(value) = lines.next_value().map_err(detail)? {
        out.push(value);
    }
    Ok(out)
}

/// `JsonLines` reads values the way a Go `json.Decoder` does (the fuzz oracle
/// `json_reader` checks the parser underneath for that); what is its own is the
/// error detail, which names the offset in the whole file, not in the value.
#[test]
fn jsonl_errors_name_the_offset_in_the_file() {
    let number = |n: &str| GoValue::Number(n.into());
    assert_eq!(
        jsonl(b"{\"a\":1}\n 7 8{\"b\":[1,2]}\n  \n"),
        Ok(vec![
            GoValue::Object(vec![("a".into(), number("1"))]),
            number("7"),
            number("8"),
            GoValue::Object(vec![(
                "b".into(),
                GoValue::Array(vec![number("1"), number("2")])
            )]),
        ])
    );
    assert_eq!(jsonl(b""), Ok(vec![]));
    assert_eq!(
        jsonl(b"{\"a\":1}\n{\"b\":tru}\n{}"),
        Err("at byte 16: invalid character '}' in literal".into())
    );
    assert_eq!(
        jsonl(b"[1]\n{\"a\" 1}"),
        Err("at byte 9: invalid character '1' after object key".into())
    );
    assert_eq!(
        jsonl(b"1\n\"x"),
        Err("at byte 4: unexpected end of JSON input".into())
    );
}
