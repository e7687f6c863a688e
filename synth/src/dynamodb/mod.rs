//! A model of DynamoDB tables as elastickv stores them, its seeded generator, its
//! live-layout writer, and the codec plumbing the tests and benches drive it with.
//!
//! [`generate`] draws hash-only and composite tables with S/N/B keys (numbers in many
//! spellings of one value, binary keys with zero bytes, long keys that need SHA
//! fallback names), every attribute type nested, global secondary indexes with every
//! projection kind, and several generations per table (the active one, sometimes a
//! migration source, sometimes stale rows). [`DdbDb::live_set`] stores it the way a
//! live node does (docs/format.md §3.1): schema and generation rows, item rows keyed by
//! the ordered key encoding of their generation, index rows.

mod drive;

use std::collections::{BTreeMap, BTreeSet};

use elastickv_codec::adapters::dynamodb::keys::{
    GSI_PREFIX, ITEM_PREFIX, TABLE_GEN_PREFIX, TABLE_META_PREFIX, ordered_segment,
};
use elastickv_codec::adapters::dynamodb::number::ordered_key_bytes;
use elastickv_codec::adapters::dynamodb::proto::{
    AttributeValue, Gsi, Item, KeySchema, Projection, TableSchema,
};
use elastickv_codec::adapters::dynamodb::values::{item_value, schema_value};
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_splitmix::SplitMix64;

use crate::model::{Entry, EntrySet};

pub use drive::{decode_snapshot, dynamodb_only, encode_tree};

/// The commit timestamp of every generated entry.
pub const DDB_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 11;

/// One table: its schema (with its generations) and its items, each in a generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DdbTable {
    /// Table name (the key's and the schema's).
    pub name: String,
    /// The stored schema.
    pub schema: TableSchema,
    /// `(generation, item)`, no two with the same key in one generation.
    pub items: Vec<(u64, Item)>,
}

/// A database: tables with distinct names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DdbDb {
    /// The tables.
    pub tables: Vec<DdbTable>,
}

/// How much to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Tables (at most).
    pub tables: u64,
    /// Items per table (at most, before duplicate keys are dropped).
    pub items: u64,
}

/// Spellings of a few numbers: each row is one value.
const NUMBER_SPELLINGS: &[&[&str]] = &[
    &["0", "-0", "0.000", "0e5", "+0"],
    &["1", "1.0", "1e0", "10e-1", "+1", " 1 ", "0001", "0.1E1"],
    &["1.5", "1.50", "15e-1", "0.15e1", "+1.5"],
    &["-1.5", "-1.50", "-15E-1"],
    &["-1", "-1.0", "-10e-1"],
    &["42", "42.000", "4.2e1", "420e-1"],
    &[
        "123456789012345678901234567890",
        "1.23456789012345678901234567890e29",
    ],
    &["0.000001", "1e-6", "1E-6", "0.0000010"],
    &["-7e20", "-700000000000000000000"],
    &["3.14159", "314159e-5"],
];

/// Attribute-name letters, including HTML-escaped and non-ASCII ones.
const NAME_ALPHABET: &[u8] = b"abcxyz_-.<>&AZ09";

/// Draws a database.
pub fn generate(seed: u64, mix: Mix) -> DdbDb {
    let mut g = SplitMix64(seed);
    let mut names = BTreeSet::new();
    let mut db = DdbDb::default();
    for t in 0..g.range_inclusive(1, mix.tables.max(1)) {
        let name = table_name(&mut g, t);
        if !names.insert(name.clone()) {
            continue;
        }
        db.tables.push(table(&mut g, name, mix.items));
    }
    db
}

fn table_name(g: &mut SplitMix64, t: u64) -> String {
    match g.below(6) {
        0 => format!("t{t} with spaces/and slash"),
        1 => format!("表{t}-ü"),
        2 => format!("{}{t}", "long".repeat(70)),
        3 => format!("b64.{t}"),
        _ => format!("table-{t}"),
    }
}

/// The type letters of key attributes.
const KEY_TYPES: &[&str] = &["S", "N", "B"];

fn table(g: &mut SplitMix64, name: String, max_items: u64) -> DdbTable {
    let hash_type = g.pick(KEY_TYPES);
    let range_type = g.chance(50).then(|| g.pick(KEY_TYPES));
    let mut defs = BTreeMap::from([("pk".to_owned(), hash_type.to_owned())]);
    if let Some(rt) = range_type {
        defs.insert("sk".to_owned(), rt.to_owned());
    }
    let mut gsis = BTreeMap::new();
    for i in 0..g.below(3) {
        let attr = format!("g{i}");
        defs.insert(attr.clone(), g.pick(KEY_TYPES).to_owned());
        let range = if g.chance(50) {
            defs.insert("gr".to_owned(), "N".to_owned());
            "gr".to_owned()
        } else {
            String::new()
        };
        let projection = match g.below(3) {
            0 => Projection {
                projection_type: "ALL".into(),
                non_key_attributes: vec![],
            },
            1 => Projection {
                projection_type: "KEYS_ONLY".into(),
                non_key_attributes: vec![],
            },
            _ => Projection {
                projection_type: "INCLUDE".into(),
                non_key_attributes: vec!["z".into(), "a".into(), "m<".into()],
            },
        };
        gsis.insert(
            format!("idx-{i}"),
            Gsi {
                key_schema: Some(KeySchema {
                    hash_key: attr,
                    range_key: range,
                }),
                projection: Some(projection),
            },
        );
    }
    let generation = g.range_inclusive(1, 4);
    let migrating_from = if generation > 1 && g.chance(30) {
        generation - 1
    } else {
        0
    };
    let schema = TableSchema {
        table_name: name.clone(),
        attribute_definitions: defs,
        primary_key: Some(KeySchema {
            hash_key: "pk".into(),
            range_key: if range_type.is_some() {
                "sk".into()
            } else {
                String::new()
            },
        }),
        global_secondary_indexes: gsis,
        key_encoding_version: 2,
        migrating_from_generation: migrating_from,
        generation,
    };
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    for _ in 0..g.below(max_items + 1) {
        let gen_of_item = match g.below(10) {
            0 => generation + 1, // stale
            1 | 2 if migrating_from != 0 => migrating_from,
            _ => generation,
        };
        let item = draw_item(g, &schema);
        let key = item_key(&name, gen_of_item, &schema, &item);
        if seen.insert(key) {
            items.push((gen_of_item, item));
        }
    }
    DdbTable {
        name,
        schema,
        items,
    }
}

fn draw_item(g: &mut SplitMix64, schema: &TableSchema) -> Item {
    let mut item = Item::default();
    let defs = &schema.attribute_definitions;
    let key_value = |g: &mut SplitMix64, ty: &str| -> AttributeValue {
        match ty {
            "S" => AttributeValue::S(key_string(g)),
            "N" => AttributeValue::N(number(g).to_owned()),
            _ => {
                let len = if g.chance(5) {
                    200
                } else {
                    g.range(1, 12) as usize
                };
                let mut b = g.bytes(len);
                if g.chance(30) {
                    b[0] = 0;
                }
                AttributeValue::B(b)
            }
        }
    };
    for (name, ty) in defs {
        // Key attributes always; index attributes only sometimes.
        let is_primary = name == "pk" || name == "sk";
        if is_primary || g.chance(60) {
            item.attributes.insert(name.clone(), key_value(g, ty));
        }
    }
    for _ in 0..g.below(5) {
        let name = String::from_utf8(g.word(6, NAME_ALPHABET)).unwrap_or_default();
        if defs.contains_key(&name) {
            continue;
        }
        item.attributes.insert(name, value(g, 3));
    }
    item
}

fn key_string(g: &mut SplitMix64) -> String {
    match g.below(8) {
        0 => "k".repeat(300),
        1 => "ключ/<&>".to_owned(),
        2 => format!("b64.{}", g.below(100)),
        3 => "a\u{2028}b\n".to_owned(),
        _ => format!("key-{}", g.below(1000)),
    }
}

fn number(g: &mut SplitMix64) -> &'static str {
    let row = g.pick(NUMBER_SPELLINGS);
    g.pick(row)
}

fn value(g: &mut SplitMix64, depth: u32) -> AttributeValue {
    let top = if depth == 0 { 7 } else { 11 };
    match g.below(top) {
        0 => AttributeValue::S(
            String::from_utf8_lossy(&g.word(8, b"ab <>&\"\\\x01\xc3\xa9")).into_owned(),
        ),
        1 => AttributeValue::N(number(g).to_owned()),
        2 => {
            let len = g.below(6) as usize;
            AttributeValue::B(g.bytes(len))
        }
        3 => AttributeValue::Bool(g.chance(50)),
        4 => AttributeValue::Null(g.chance(80)),
        5 => AttributeValue::Ss((0..g.below(3)).map(|i| format!("s{i}")).collect()),
        6 => AttributeValue::Ns((0..g.below(3)).map(|_| number(g).to_owned()).collect()),
        7 => AttributeValue::Bs((0..g.below(3)).map(|i| g.bytes(i as usize)).collect()),
        8 => AttributeValue::L((0..g.below(4)).map(|_| value(g, depth - 1)).collect()),
        9 => AttributeValue::M(
            (0..g.below(4))
                .map(|i| (format!("m{i}"), value(g, depth - 1)))
                .collect(),
        ),
        _ => AttributeValue::Unset,
    }
}

/// An attribute's raw key bytes (S: UTF-8, B: bytes, N: ordered numeric bytes).
fn key_raw(value: &AttributeValue) -> Option<Vec<u8>> {
    match value {
        AttributeValue::S(s) => Some(s.as_bytes().to_vec()),
        AttributeValue::B(b) => Some(b.clone()),
        AttributeValue::N(n) => ordered_key_bytes(n).ok(),
        _ => None,
    }
}

fn segment_of(item: &Item, name: &str) -> Option<Vec<u8>> {
    item.attributes
        .get(name)
        .and_then(key_raw)
        .map(|raw| ordered_segment(&raw))
}

fn primary_segments(schema: &TableSchema, item: &Item) -> Vec<u8> {
    let mut out = segment_of(item, schema.hash_key()).unwrap_or_default();
    if !schema.range_key().is_empty() {
        out.extend(segment_of(item, schema.range_key()).unwrap_or_default());
    }
    out
}

/// `!ddb|item|<b64 table>|<gen>|<segments>`.
pub fn item_key(table: &str, generation: u64, schema: &TableSchema, item: &Item) -> Vec<u8> {
    let mut key = ITEM_PREFIX.to_vec();
    key.extend_from_slice(encode_base64url(table.as_bytes()).as_bytes());
    key.extend_from_slice(format!("|{generation}|").as_bytes());
    key.extend(primary_segments(schema, item));
    key
}

impl DdbDb {
    /// The database as a live node stores it: one version per key.
    pub fn live_set(&self) -> EntrySet {
        let mut entries = Vec::new();
        let mut put = |key: Vec<u8>, body: Vec<u8>| {
            entries.push(Entry {
                user_key: key,
                commit_ts: DDB_COMMIT_TS,
                tombstone: false,
                expire_at: 0,
                body,
            });
        };
        for t in &self.tables {
            let b64 = encode_base64url(t.name.as_bytes());
            put(
                [TABLE_META_PREFIX, b64.as_bytes()].concat(),
                schema_value(&t.schema),
            );
            put(
                [TABLE_GEN_PREFIX, b64.as_bytes()].concat(),
                t.schema.generation.to_string().into_bytes(),
            );
            for (generation, item) in &t.items {
                let key = item_key(&t.name, *generation, &t.schema, item);
                for (index, gsi) in &t.schema.global_secondary_indexes {
                    let ks = gsi.key_schema.clone().unwrap_or_default();
                    let Some(h) = segment_of(item, &ks.hash_key) else {
                        continue;
                    };
                    let r = if ks.range_key.is_empty() {
                        Vec::new()
                    } else {
                        match segment_of(item, &ks.range_key) {
                            Some(r) => r,
                            None => continue,
                        }
                    };
                    let mut row = GSI_PREFIX.to_vec();
                    row.extend_from_slice(b64.as_bytes());
                    row.extend_from_slice(format!("|{generation}|").as_bytes());
                    row.extend_from_slice(encode_base64url(index.as_bytes()).as_bytes());
                    row.push(b'|');
                    row.extend(h);
                    row.extend(r);
                    row.extend(primary_segments(&t.schema, item));
                    put(row, key.clone());
                }
                put(key, item_value(item));
            }
        }
        EntrySet {
            last_commit_ts: DDB_COMMIT_TS,
            entries,
        }
    }

    /// [`live_set`](Self::live_set) plus, under every key, an older version (garbage
    /// bytes when `garbage`, else a plausible older item or a tombstone).
    pub fn shadowed_set(&self, seed: u64, garbage: bool) -> EntrySet {
        let mut set = self.live_set();
        let mut g = SplitMix64(seed);
        let older: Vec<Entry> = set
            .entries
            .iter()
            .map(|e| Entry {
                user_key: e.user_key.clone(),
                commit_ts: e.commit_ts - 1 - g.below(100),
                tombstone: !garbage && g.chance(30),
                expire_at: 0,
                body: if garbage {
                    let len = g.below(16) as usize;
                    g.bytes(len)
                } else {
                    e.body.clone()
                },
            })
            .collect();
        set.entries.extend(older);
        set
    }

    /// Item files a per-item decode writes: distinct file names among the items of
    /// each table's active and migration-source generations.
    pub fn expected_item_files(&self) -> usize {
        self.tables
            .iter()
            .map(|t| {
                let active = t.schema.generation;
                let source = t.schema.migrating_from_generation;
                t.items
                    .iter()
                    .filter(|(gen_of, _)| *gen_of == active || (source != 0 && *gen_of == source))
                    .map(|(_, item)| primary_segments(&t.schema, item))
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_varied() {
        let mix = Mix {
            tables: 4,
            items: 40,
        };
        assert_eq!(generate(7, mix), generate(7, mix));
        let db = generate(7, mix);
        assert!(!db.tables.is_empty());
        let set = db.live_set();
        let keys: BTreeSet<_> = set.entries.iter().map(|e| e.user_key.clone()).collect();
        assert_eq!(keys.len(), set.entries.len(), "user keys are distinct");
    }
}
