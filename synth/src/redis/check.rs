//! The decoded tree against the model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use elastickv_codec::adapters::redis::docs::{self, StreamLine};
use elastickv_codec::tree::gojson;
use elastickv_codec::tree::gojson_reader;
use elastickv_codec::tree::keymap::{KIND_SHA_FALLBACK, read_keymap};
use elastickv_codec::tree::segment::encode_segment;

use super::model::{Kind, RedisDb, Value};

/// A dump tree: relative path → file bytes, `None` for a directory. The map
/// `elastickv_testkit::tree::read_tree` reads, spelled out because this crate is linked
/// by the CLI and so does not depend on the (dev-only) test kit.
type Tree = BTreeMap<String, Option<Vec<u8>>>;

fn parse_json(bytes: &[u8], path: &str) -> Result<gojson::GoValue, String> {
    gojson_reader::parse(bytes).map_err(|e| format!("{path}: {e}"))
}

/// Parses a TTL sidecar into segment → expiry (later lines win, as the encoder reads).
fn sidecar(tree: &Tree, path: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let Some(Some(bytes)) = tree.get(path) else {
        return Ok(out);
    };
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = docs::read_ttl_line(&parse_json(line, path)?)?;
        out.insert(line.key, line.expire_at_ms);
    }
    Ok(out)
}

impl RedisDb {
    /// Checks a decoded tree (read with `elastickv_testkit::tree::read_tree` from the
    /// output root) against the model: exactly the expected files, each key's file at
    /// its segment name (SHA-fallback names with their KEYMAP record), bodies, elements,
    /// scores (bit for bit), stream entries and metas, and expiries.
    pub fn check_tree(&self, tree: &Tree, keymap_path: &Path) -> Result<(), String> {
        let strings_ttl = sidecar(tree, "redis/db_0/strings_ttl.jsonl")?;
        let hll_ttl = sidecar(tree, "redis/db_0/hll_ttl.jsonl")?;
        let keymap: BTreeMap<String, Vec<u8>> = if keymap_path.exists() {
            read_keymap(keymap_path)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| {
                    assert_eq!(
                        r.kind, KIND_SHA_FALLBACK,
                        "only SHA fallbacks in Redis KEYMAP"
                    );
                    let original = r.original_bytes().map_err(|e| e.to_string());
                    original.map(|o| (r.encoded, o))
                })
                .collect::<Result<_, _>>()?
        } else {
            BTreeMap::new()
        };
        let mut expected_files: BTreeSet<String> = BTreeSet::new();
        let mut sha_names = 0;
        for key in self.keys.values() {
            let path = key.tree_path();
            let fail = |what: String| Err(format!("{path} (key {:?}): {what}", key.name));
            let Some(Some(bytes)) = tree.get(&path) else {
                return fail("missing".into());
            };
            expected_files.insert(path.clone());
            let segment = encode_segment(&key.name);
            if key.sha_named() {
                sha_names += 1;
                if keymap.get(&segment) != Some(&key.name) {
                    return fail(format!("no KEYMAP record for {segment}"));
                }
            }
            let check = |got: Option<u64>| -> Result<(), String> {
                if got != key.ttl {
                    return fail(format!("expiry {got:?}, want {:?}", key.ttl));
                }
                Ok(())
            };
            match &key.value {
                Value::String(body) | Value::Hll(body) => {
                    if bytes != body {
                        return fail(format!("body {bytes:?}, want {body:?}"));
                    }
                    let ttls = if key.value.kind() == Kind::String {
                        &strings_ttl
                    } else {
                        &hll_ttl
                    };
                    check(ttls.get(&segment).copied())?;
                }
                Value::Hash(fields) => {
                    let doc = docs::read_hash(&parse_json(bytes, &path)?)?;
                    let want: Vec<(Vec<u8>, Vec<u8>)> =
                        fields.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
                    if doc.elements != want {
                        return fail(format!("fields {:?}, want {want:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::List(items) => {
                    let doc = docs::read_list(&parse_json(bytes, &path)?)?;
                    if &doc.elements != items {
                        return fail(format!("items {:?}, want {items:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::Set(members) => {
                    let doc = docs::read_set(&parse_json(bytes, &path)?)?;
                    let want: Vec<Vec<u8>> = members.iter().cloned().collect();
                    if doc.elements != want {
                        return fail(format!("members {:?}, want {want:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::ZSet(members) => {
                    let doc = docs::read_zset(&parse_json(bytes, &path)?)?;
                    let got: Vec<(Vec<u8>, u64)> = doc
                        .elements
                        .iter()
                        .map(|(m, s)| (m.clone(), s.to_bits()))
                        .collect();
                    let want: Vec<(Vec<u8>, u64)> = members
                        .iter()
                        .map(|(m, s)| (m.clone(), s.to_bits()))
                        .collect();
                    if got != want {
                        return fail(format!("members {:?}, want {members:?}", doc.elements));
                    }
                    check(doc.expire_at_ms)?;
                }
                Value::Stream(stream) => {
                    let mut lines = Vec::new();
                    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        lines.push(docs::read_stream_line(&parse_json(line, &path)?)?);
                    }
                    let Some(StreamLine::Meta {
                        length,
                        last,
                        expire_at_ms,
                    }) = lines.pop()
                    else {
                        return fail("no _meta line last".into());
                    };
                    if length != stream.entries.len() as i64 || last != stream.last {
                        return fail(format!("meta length {length} last {last}"));
                    }
                    check(expire_at_ms)?;
                    if lines.len() != stream.entries.len() {
                        return fail(format!("{} entry lines", lines.len()));
                    }
                    for (line, entry) in lines.iter().zip(&stream.entries) {
                        let want: Vec<Vec<u8>> = entry
                            .fields
                            .iter()
                            .flat_map(|(n, v)| [n.clone().into_bytes(), v.clone().into_bytes()])
                            .collect();
                        match line {
                            StreamLine::Entry {
                                id,
                                fields,
                                id_text,
                            } if *id == entry.id
                                && *fields == want
                                && *id_text == entry.id.to_string() => {}
                            other => return fail(format!("entry {other:?}, want {entry:?}")),
                        }
                    }
                }
            }
        }
        if !strings_ttl.is_empty() {
            expected_files.insert("redis/db_0/strings_ttl.jsonl".into());
        }
        if !hll_ttl.is_empty() {
            expected_files.insert("redis/db_0/hll_ttl.jsonl".into());
        }
        if sha_names > 0 {
            expected_files.insert("redis/db_0/KEYMAP.jsonl".into());
        }
        let extra_ttls = |map: &BTreeMap<String, u64>, kind: Kind| {
            map.keys()
                .filter(|seg| {
                    !self.keys.values().any(|k| {
                        k.value.kind() == kind
                            && k.ttl.is_some()
                            && encode_segment(&k.name) == **seg
                    })
                })
                .cloned()
                .collect::<Vec<_>>()
        };
        let stray = [
            extra_ttls(&strings_ttl, Kind::String),
            extra_ttls(&hll_ttl, Kind::Hll),
        ]
        .concat();
        if !stray.is_empty() {
            return Err(format!("TTL lines for keys without a TTL: {stray:?}"));
        }
        let files: BTreeSet<String> = tree
            .iter()
            .filter(|(_, b)| b.is_some())
            .map(|(p, _)| p.clone())
            .collect();
        if files != expected_files {
            let extra: Vec<_> = files.difference(&expected_files).collect();
            let missing: Vec<_> = expected_files.difference(&files).collect();
            return Err(format!("unexpected files {extra:?}, missing {missing:?}"));
        }
        Ok(())
    }
}
