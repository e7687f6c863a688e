//! The DynamoDB profile `ddb-items`: two tables as a live node stores them, streamed
//! in key order in constant memory (docs/format.md §3.1).
//!
//! At scale 1: `users`, hash-only (`pk` S), 100k items with a global secondary index
//! `by-region` on `region`; `orders`, composite (`customer` S, `line` N), 100k items,
//! ten lines per customer. Items carry every common type (S, N, BOOL, NULL, SS, NS, B,
//! nested L and M), about 250–400 bytes each.
//!
//! Entries come out sorted without sorting anything: key families in byte order
//! (`!ddb|gsi|` < `!ddb|item|` < `!ddb|meta|gen|` < `!ddb|meta|table|`), tables in
//! the order of their base64 names (`orders` = `b3JkZXJz` < `users` = `dXNlcnM`), and
//! within a table keys that grow with the item counter (fixed-width strings; line
//! numbers 1–10, whose ordered numeric bytes ascend; index regions that never
//! decrease).

use std::collections::BTreeMap;
use std::io::{self, Write};

use elastickv_codec::adapters::dynamodb::keys::{
    GSI_PREFIX, ITEM_PREFIX, TABLE_GEN_PREFIX, TABLE_META_PREFIX, ordered_segment,
};
use elastickv_codec::adapters::dynamodb::number::ordered_key_bytes;
use elastickv_codec::adapters::dynamodb::proto::{
    AttributeValue, Gsi, Item, KeySchema, Projection, TableSchema,
};
use elastickv_codec::adapters::dynamodb::values::{item_value, schema_value};
use elastickv_codec::container::{SnapshotWriter, encode_key};
use elastickv_codec::dispatch::Adapter;
use elastickv_codec::tree::bsv::encode_base64url;
use elastickv_splitmix::SplitMix64;

use super::{Profile, Summary, Workload};

/// `ddb-items`.
pub const DDB_ITEMS: Profile = Profile {
    name: "ddb-items",
    about: "DynamoDB: per unit of scale 100k items of a hash-only table with a global \
            secondary index and 100k items of a composite-key table, every attribute \
            type (about 80 MB)",
    adapters: &[Adapter::DynamoDb],
    has_giant: false,
    write: write_ddb_items,
};

/// The commit timestamp of every entry.
pub const DDB_ITEMS_COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 13;

/// Users per region (the index's hash key).
const USERS_PER_REGION: u64 = 1000;
/// Order lines per customer.
const LINES_PER_CUSTOMER: u64 = 10;

fn scaled(n: u64, scale: f64) -> u64 {
    ((n as f64) * scale).round() as u64
}

fn write_ddb_items(out: &mut dyn Write, workload: &Workload, seed: u64) -> io::Result<Summary> {
    write_ddb_items_at(out, workload, seed, DDB_ITEMS_COMMIT_TS)
}

/// `ddb-items` with every entry (and the header) at `commit_ts`: the DynamoDB part of
/// the `mixed` profile, whose adapters share one timestamp.
pub(super) fn write_ddb_items_at(
    out: &mut dyn Write,
    workload: &Workload,
    seed: u64,
    commit_ts: u64,
) -> io::Result<Summary> {
    let users = scaled(100_000, workload.scale.get());
    let orders = scaled(100_000, workload.scale.get());
    let mut g = Gen {
        writer: SnapshotWriter::new(out, commit_ts)?,
        commit_ts,
        key: Vec::with_capacity(256),
        value: Vec::with_capacity(1024),
    };
    let users_b64 = encode_base64url(b"users");
    let orders_b64 = encode_base64url(b"orders");
    // !ddb|gsi| (only users have an index)
    for i in 0..users {
        let pk = user_pk(i);
        let mut row = GSI_PREFIX.to_vec();
        row.extend_from_slice(format!("{users_b64}|1|").as_bytes());
        row.extend_from_slice(encode_base64url(b"by-region").as_bytes());
        row.push(b'|');
        row.extend(ordered_segment(region(i).as_bytes()));
        row.extend(ordered_segment(pk.as_bytes()));
        g.put(
            &row,
            &item_key(&users_b64, &[ordered_segment(pk.as_bytes())]),
        )?;
    }
    // !ddb|item|: orders, then users (base64 order)
    for i in 0..orders {
        let (customer, line) = (i / LINES_PER_CUSTOMER, i % LINES_PER_CUSTOMER + 1);
        let cust = format!("cust#{customer:07}");
        let line_text = line.to_string();
        let segs = [
            ordered_segment(cust.as_bytes()),
            ordered_segment(&ordered_key_bytes(&line_text).unwrap_or_default()),
        ];
        let item = order_item(&mut SplitMix64(seed ^ i), &cust, &line_text);
        g.put(&item_key(&orders_b64, &segs), &item_value(&item))?;
    }
    for i in 0..users {
        let pk = user_pk(i);
        let item = user_item(&mut SplitMix64(seed.rotate_left(17) ^ i), &pk, i);
        g.put(
            &item_key(&users_b64, &[ordered_segment(pk.as_bytes())]),
            &item_value(&item),
        )?;
    }
    // !ddb|meta|gen|, !ddb|meta|table|
    for b64 in [&orders_b64, &users_b64] {
        g.put(&[TABLE_GEN_PREFIX, b64.as_bytes()].concat(), b"1")?;
    }
    g.put(
        &[TABLE_META_PREFIX, orders_b64.as_bytes()].concat(),
        &schema_value(&orders_schema()),
    )?;
    g.put(
        &[TABLE_META_PREFIX, users_b64.as_bytes()].concat(),
        &schema_value(&users_schema()),
    )?;
    let entries = g.writer.entries();
    let bytes = g.writer.bytes_written();
    g.writer.finish()?;
    Ok(Summary {
        entries,
        bytes,
        keys: users + orders,
        last_commit_ts: commit_ts,
    })
}

fn user_pk(i: u64) -> String {
    format!("user#{i:08}")
}

fn region(i: u64) -> String {
    format!("region-{:04}", i / USERS_PER_REGION)
}

fn item_key(table_b64: &str, segments: &[Vec<u8>]) -> Vec<u8> {
    let mut key = ITEM_PREFIX.to_vec();
    key.extend_from_slice(format!("{table_b64}|1|").as_bytes());
    for s in segments {
        key.extend_from_slice(s);
    }
    key
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(text: impl Into<String>) -> AttributeValue {
    AttributeValue::N(text.into())
}

fn word(g: &mut SplitMix64, lo: u64, hi: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz ";
    let len = g.range(lo, hi) as usize;
    (0..len).map(|_| char::from(g.pick(ALPHABET))).collect()
}

fn user_item(g: &mut SplitMix64, pk: &str, i: u64) -> Item {
    let history = (0..g.range(2, 8))
        .map(|_| n(format!("{}.{:02}", g.below(1000), g.below(100))))
        .collect();
    let profile: BTreeMap<String, AttributeValue> = [
        ("display_name".to_owned(), s(word(g, 8, 24))),
        ("score".to_owned(), n(g.below(1_000_000).to_string())),
        ("history".to_owned(), AttributeValue::L(history)),
    ]
    .into_iter()
    .collect();
    let attributes = [
        ("pk", s(pk)),
        (
            "email",
            s(format!("{}@example.com", word(g, 6, 12).replace(' ', ""))),
        ),
        ("region", s(region(i))),
        ("age", n((18 + g.below(70)).to_string())),
        ("active", AttributeValue::Bool(g.chance(80))),
        (
            "tags",
            AttributeValue::Ss((0..g.range(1, 4)).map(|t| format!("tag-{t}")).collect()),
        ),
        (
            "lucky",
            AttributeValue::Ns(vec![g.below(100).to_string(), "7".into()]),
        ),
        ("avatar", AttributeValue::B(g.bytes(32))),
        ("profile", AttributeValue::M(profile)),
    ];
    Item {
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    }
}

fn order_item(g: &mut SplitMix64, customer: &str, line: &str) -> Item {
    let lines = (0..g.range(1, 4))
        .map(|_| {
            AttributeValue::M(
                [
                    (
                        "sku".to_owned(),
                        s(format!("SKU-{:06}", g.below(1_000_000))),
                    ),
                    ("qty".to_owned(), n(g.range(1, 10).to_string())),
                ]
                .into_iter()
                .collect(),
            )
        })
        .collect();
    let attributes = [
        ("customer", s(customer)),
        ("line", n(line)),
        (
            "amount",
            n(format!("{}.{:02}", g.below(10_000), g.below(100))),
        ),
        ("currency", s("EUR")),
        ("items", AttributeValue::L(lines)),
        ("note", AttributeValue::Null(true)),
        ("gift", AttributeValue::Bool(g.chance(10))),
        ("comment", s(word(g, 0, 80))),
    ];
    Item {
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    }
}

fn users_schema() -> TableSchema {
    TableSchema {
        table_name: "users".into(),
        attribute_definitions: [("pk", "S"), ("region", "S")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        primary_key: Some(KeySchema {
            hash_key: "pk".into(),
            range_key: String::new(),
        }),
        global_secondary_indexes: [(
            "by-region".to_owned(),
            Gsi {
                key_schema: Some(KeySchema {
                    hash_key: "region".into(),
                    range_key: String::new(),
                }),
                projection: Some(Projection {
                    projection_type: "INCLUDE".into(),
                    non_key_attributes: vec!["email".into(), "age".into()],
                }),
            },
        )]
        .into_iter()
        .collect(),
        key_encoding_version: 2,
        migrating_from_generation: 0,
        generation: 1,
    }
}

fn orders_schema() -> TableSchema {
    TableSchema {
        table_name: "orders".into(),
        attribute_definitions: [("customer", "S"), ("line", "N")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        primary_key: Some(KeySchema {
            hash_key: "customer".into(),
            range_key: "line".into(),
        }),
        global_secondary_indexes: BTreeMap::new(),
        key_encoding_version: 2,
        migrating_from_generation: 0,
        generation: 1,
    }
}

struct Gen<W: Write> {
    writer: SnapshotWriter<W>,
    /// Every entry's commit timestamp.
    commit_ts: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl<W: Write> Gen<W> {
    fn put(&mut self, user_key: &[u8], value: &[u8]) -> io::Result<()> {
        self.key.clear();
        encode_key(user_key, self.commit_ts, &mut self.key);
        self.value.clear();
        self.value.push(0);
        self.value.extend_from_slice(&0u64.to_le_bytes());
        self.value.extend_from_slice(value);
        self.writer.write_entry(&self.key, &self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::read_snapshot;
    use crate::workload::{Scale, write_snapshot};

    #[test]
    fn entries_are_sorted_and_counted() {
        let w = Workload::new(DDB_ITEMS, Scale::new(0.01).unwrap());
        let (bytes, summary) = write_snapshot(Vec::new(), &w, 5).unwrap();
        let read = read_snapshot(&bytes).unwrap();
        // 1000 users (each with an index row), 1000 orders, 2 gen + 2 schema rows.
        assert_eq!(summary.entries, 3004);
        assert_eq!(read.entries.len(), 3004);
        let keys: Vec<Vec<u8>> = read.entries.iter().map(|e| e.encoded_key()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "strictly ascending");
        assert_eq!(write_snapshot(Vec::new(), &w, 5).unwrap().0, bytes);
    }
}
