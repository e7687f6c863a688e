//! Snapshot records → `dynamodb/<table>/` (docs/format.md §3.1, §4.4).
//!
//! Item rows (`!ddb|item|`) sort before their table's schema row (`!ddb|meta|table|`),
//! so nothing can be written when an item arrives: items are checked (key shape,
//! magic, protobuf) and appended to a scratch log. At finalize, with every schema
//! known, the log is replayed once: items of tables without a schema are counted as
//! orphans, items of generations other than the active one and its migration source
//! are counted as stale, and the rest go through an external sort keyed by table and
//! file name (`hash` or `hash\0range`, the order upstream's JSONL writer uses), then
//! generation rank and arrival. The last record of each name wins — the active
//! generation over the migration source, a later row over an earlier one, as Go's
//! write order makes it — and is written as an item file or a JSONL bundle line.
//! Memory holds the schemas and one item; everything else waits in scratch.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::adapter::{AdapterDecoder, Warnings};
use crate::container::EntryRef;
use crate::dispatch::{Adapter, Family, Prefix};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, RecordLog, SortOptions, WrittenLog};
use crate::tree::segment::{encode_binary_segment, encode_segment};
use crate::tree::sink::{TreeFile, TreeSink};

use super::docs;
use super::error::{DynamoError, Result, escape_key};
use super::keys::{self, KeyError};
use super::number;
use super::proto::{self, AttributeValue, Item, TableSchema};
use super::values;

/// Default memory budget of the DynamoDB decoder's external sort.
pub const DEFAULT_MEMORY_BUDGET: usize = 64 << 20;

/// Knobs of the DynamoDB decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDecodeOptions {
    /// JSONL bundles of at most this many bytes (`--dynamodb-bundle-mode jsonl`);
    /// `None` writes one file per item.
    pub bundle_bytes: Option<u64>,
    /// Bytes the external sort keeps in memory before spilling.
    pub memory_budget: usize,
    /// Directory for the item log and spilled runs.
    pub scratch_dir: PathBuf,
}

impl Default for DynamoDecodeOptions {
    fn default() -> Self {
        DynamoDecodeOptions {
            bundle_bytes: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            scratch_dir: std::env::temp_dir(),
        }
    }
}

/// A table whose schema row was seen.
#[derive(Debug)]
struct Table {
    /// Raw table name from the key (names the directory).
    name: Vec<u8>,
    schema: TableSchema,
}

/// The DynamoDB side of a decode: writes `<root>/dynamodb/`.
pub struct DynamoDecoder {
    tree: Arc<dyn TreeSink>,
    options: DynamoDecodeOptions,
    /// Encoded table (the key segment) → table.
    tables: BTreeMap<Vec<u8>, Table>,
    /// Items in arrival order: key = encoded table, value = BE64(gen) ‖ item body.
    log: Option<RecordLog>,
    runs_spilled: u64,
}

impl std::fmt::Debug for DynamoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDecoder")
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

impl DynamoDecoder {
    /// A decoder writing `dynamodb/` of `tree` (nothing is created until needed).
    pub fn new(tree: Arc<dyn TreeSink>, options: DynamoDecodeOptions) -> Self {
        DynamoDecoder {
            tree,
            options,
            tables: BTreeMap::new(),
            log: None,
            runs_spilled: 0,
        }
    }

    /// Sorted runs spilled to scratch (complete after finalize).
    pub fn runs_spilled(&self) -> u64 {
        self.runs_spilled
    }

    fn route(&mut self, family: Family, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        match family {
            Family::DdbMetaTable => self.table_meta(rest, key, value),
            Family::DdbItem => self.item(rest, key, value),
            // Generation counters and index rows are derived data.
            _ => Ok(()),
        }
    }

    fn table_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (encoded, name) = keys::parse_table_meta(rest).map_err(|e| malformed(key, e))?;
        let schema = values::parse_schema(value).map_err(|e| DynamoError::InvalidSchema {
            key: escape_key(key),
            detail: e.to_string(),
        })?;
        self.tables
            .insert(encoded.as_bytes().to_vec(), Table { name, schema });
        Ok(())
    }

    fn item(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let (table, generation) = keys::parse_item(rest).map_err(|e| malformed(key, e))?;
        let invalid = |detail: String| DynamoError::InvalidItem {
            at: format!("at key {}", escape_key(key)),
            detail,
        };
        let body = values::item_body(value).map_err(|e| invalid(e.to_string()))?;
        proto::validate_item(body).map_err(|e| invalid(e.to_string()))?;
        let scratch = &self.options.scratch_dir;
        let log = match &mut self.log {
            Some(log) => log,
            None => self.log.insert(
                RecordLog::create(scratch).map_err(|e| DynamoError::io("create", scratch, e))?,
            ),
        };
        let mut record = Vec::with_capacity(8 + body.len());
        record.extend_from_slice(&generation.to_be_bytes());
        record.extend_from_slice(body);
        log.append(table, &record)
            .map_err(|e| DynamoError::io("append to", scratch, e))
    }

    // --- finalize -----------------------------------------------------------------

    fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
        for table in self.tables.values() {
            let dir = table_dir(&table.name);
            self.tree
                .create_dir(format!("{dir}/items").as_bytes())
                .map_err(|e| tree_error(&self.tree, e))?;
            self.tree
                .write_file(
                    format!("{dir}/_schema.json").as_bytes(),
                    docs::render_schema(&table.schema),
                )
                .map_err(|e| tree_error(&self.tree, e))?;
        }
        let Some(log) = self.log.take() else {
            return Ok(());
        };
        let scratch = self.options.scratch_dir.clone();
        let mut log = log
            .finish()
            .map_err(|e| DynamoError::io("finish", &scratch, e))?;
        let (sorter, counts) = self.rank_items(&mut log)?;
        drop(log);
        self.warn(&counts, warnings);
        self.runs_spilled += sorter.runs_spilled();
        let mut sorted = sorter
            .finish()
            .map_err(|e| DynamoError::io("sort in", &scratch, e))?;
        let mut out = ItemWriter::new(Arc::clone(&self.tree), self.options.bundle_bytes);
        let mut per_table: Option<(Vec<u8>, u64)> = None;
        let mut pending: Option<(Vec<u8>, Vec<u8>)> = None;
        while let Some((key, body)) = sorted
            .next()
            .map_err(|e| DynamoError::io("read sorted items in", &scratch, e))?
        {
            let name = &key[..key.len() - RANK_SUFFIX];
            if let Some((prev, prev_body)) = pending.take_if(|(prev, _)| prev.as_slice() != name) {
                self.write_item(&mut out, &prev, &prev_body)?;
                self.count_item(&mut per_table, &prev, warnings);
            }
            match &mut pending {
                Some((_, b)) => {
                    b.clear();
                    b.extend_from_slice(body);
                }
                None => pending = Some((name.to_vec(), body.to_vec())),
            }
        }
        if let Some((name, body)) = pending {
            self.write_item(&mut out, &name, &body)?;
            self.count_item(&mut per_table, &name, warnings);
        }
        self.warn_unbundled(per_table.take(), warnings);
        out.close()
    }

    /// Counts the items of each table written one file per item, for
    /// [`Self::warn_unbundled`].
    fn count_item(
        &self,
        per_table: &mut Option<(Vec<u8>, u64)>,
        name: &[u8],
        warnings: &mut Warnings,
    ) {
        if self.options.bundle_bytes.is_some() {
            return;
        }
        let encoded = name.split(|&b| b == 0).next().unwrap_or_default();
        match per_table {
            Some((table, n)) if table.as_slice() == encoded => *n += 1,
            _ => {
                let done = per_table.replace((encoded.to_vec(), 1));
                self.warn_unbundled(done, warnings);
            }
        }
    }

    /// `ddb_unbundled_large_scope` (upstream PR #1128): a table of more than a million
    /// items written one file per item.
    fn warn_unbundled(&self, counted: Option<(Vec<u8>, u64)>, warnings: &mut Warnings) {
        let Some((encoded, items)) = counted else {
            return;
        };
        if items <= UNBUNDLED_WARN_ITEMS {
            return;
        }
        let Some(table) = self.tables.get(&encoded) else {
            return;
        };
        warnings.push(
            "ddb_unbundled_large_scope",
            vec![
                ("table", String::from_utf8_lossy(&table.name).into_owned()),
                ("items", items.to_string()),
            ],
        );
    }

    /// Replays the item log: counts orphans and stale items, and sorts the items to
    /// write by `(table, hash, range, generation rank, arrival)`.
    fn rank_items(&self, log: &mut WrittenLog) -> Result<(ExternalSorter, Counts)> {
        let scratch = &self.options.scratch_dir;
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: self.options.memory_budget,
            scratch_dir: scratch.clone(),
        });
        let mut counts = Counts::default();
        let mut replay = log
            .replay()
            .map_err(|e| DynamoError::io("replay", scratch, e))?;
        let mut seq: u64 = 0;
        while let Some((encoded, record)) = replay
            .next()
            .map_err(|e| DynamoError::io("replay", scratch, e))?
        {
            seq += 1;
            let (gen_bytes, body) = record.split_at(8);
            let generation = u64::from_be_bytes(gen_bytes.try_into().unwrap_or_default());
            let Some(table) = self.tables.get(encoded) else {
                *counts.orphans.entry(encoded.to_vec()).or_default() += 1;
                continue;
            };
            let active = table.schema.generation;
            let source = table.schema.migrating_from_generation;
            let rank = if generation == active {
                1u8
            } else if source != 0 && source != active && generation == source {
                0u8
            } else {
                *counts.stale.entry(encoded.to_vec()).or_default() += 1;
                continue;
            };
            // Only the key attributes name the file; the item was checked on arrival.
            let keys = [table.schema.hash_key(), table.schema.range_key()];
            let item = proto::decode_item_attributes(body, &keys).map_err(|e| {
                DynamoError::InvalidItem {
                    at: format!("in table {}", escape_key(&table.name)),
                    detail: e.to_string(),
                }
            })?;
            let as_files = self.options.bundle_bytes.is_none();
            let (hash, range) = file_segments(table, &item, as_files)?;
            let mut key = Vec::with_capacity(encoded.len() + hash.len() + range.len() + 12);
            key.extend_from_slice(encoded);
            key.push(0);
            key.extend_from_slice(hash.as_bytes());
            key.push(0);
            key.extend_from_slice(range.as_bytes());
            key.push(rank);
            key.extend_from_slice(&seq.to_be_bytes());
            sorter
                .push(&key, body)
                .map_err(|e| DynamoError::io("sort in", scratch, e))?;
        }
        Ok((sorter, counts))
    }

    fn warn(&self, counts: &Counts, warnings: &mut Warnings) {
        for (encoded, n) in &counts.orphans {
            warnings.push(
                "ddb_orphan_items",
                vec![
                    (
                        "encoded_table",
                        String::from_utf8_lossy(encoded).into_owned(),
                    ),
                    ("buffered_items", n.to_string()),
                ],
            );
        }
        for (encoded, n) in &counts.stale {
            let Some(table) = self.tables.get(encoded) else {
                continue;
            };
            warnings.push(
                "ddb_stale_generation_items",
                vec![
                    ("table", String::from_utf8_lossy(&table.name).into_owned()),
                    ("active_generation", table.schema.generation.to_string()),
                    (
                        "migration_source_generation",
                        table.schema.migrating_from_generation.to_string(),
                    ),
                    ("stale_count", n.to_string()),
                    (
                        "hint",
                        "stale-gen rows excluded; restore would otherwise emit them under the new schema"
                            .to_owned(),
                    ),
                ],
            );
        }
    }

    /// Writes the winning record of one `(table, hash, range)`.
    fn write_item(&self, out: &mut ItemWriter, name: &[u8], body: &[u8]) -> Result<()> {
        let mut parts = name.splitn(3, |&b| b == 0);
        let (encoded, hash, range) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let Some(table) = self.tables.get(encoded) else {
            return Ok(());
        };
        let item = proto::decode_item(body).map_err(|e| DynamoError::InvalidItem {
            at: format!("in table {}", escape_key(&table.name)),
            detail: e.to_string(),
        })?;
        let hash = String::from_utf8_lossy(hash);
        let range = String::from_utf8_lossy(range);
        let composite = !table.schema.range_key().is_empty();
        out.write(table, &hash, composite.then_some(range.as_ref()), &item)
    }
}

/// Tables with more items than this written one file per item are reported.
const UNBUNDLED_WARN_ITEMS: u64 = 1_000_000;

/// Bytes after the file name in a sort key: the generation rank and BE64 arrival.
const RANK_SUFFIX: usize = 9;

#[derive(Debug, Default)]
struct Counts {
    orphans: BTreeMap<Vec<u8>, u64>,
    stale: BTreeMap<Vec<u8>, u64>,
}

fn table_dir(name: &[u8]) -> String {
    format!("dynamodb/{}", encode_segment(name))
}

fn malformed(key: &[u8], e: KeyError) -> DynamoError {
    DynamoError::MalformedKey {
        key: escape_key(key),
        detail: e.to_string(),
    }
}

fn tree_error(tree: &Arc<dyn TreeSink>, e: crate::tree::fs::FsError) -> DynamoError {
    DynamoError::Tree {
        path: tree.root().to_path_buf(),
        cause: Box::new(e),
    }
}

/// The item's file-name segments: hash, and range (empty for hash-only tables).
/// `as_files`: they name files, so `.` and `..` are refused (a bundle line has no
/// path, and upstream's JSONL writer accepts them).
fn file_segments(table: &Table, item: &Item, as_files: bool) -> Result<(String, String)> {
    let hash = key_segment(table, item, table.schema.hash_key(), "hash", as_files)?;
    let range_name = table.schema.range_key();
    let range = if range_name.is_empty() {
        String::new()
    } else {
        key_segment(table, item, range_name, "range", as_files)?
    };
    Ok((hash, range))
}

fn key_segment(
    table: &Table,
    item: &Item,
    attr: &str,
    role: &str,
    refuse_dots: bool,
) -> Result<String> {
    let invalid = |detail: String| DynamoError::InvalidItem {
        at: format!("in table {}", escape_key(&table.name)),
        detail,
    };
    let value = item
        .attributes
        .get(attr)
        .ok_or_else(|| invalid(format!("item missing {role}-key attribute {attr:?}")))?;
    let segment = match value {
        AttributeValue::S(s) => encode_segment(s.as_bytes()),
        AttributeValue::N(n) => encode_segment(number::canonical(n).as_bytes()),
        AttributeValue::B(b) => encode_binary_segment(b),
        other => {
            return Err(invalid(format!(
                "{role} key attribute {attr:?} has unsupported kind {}",
                kind_name(other)
            )));
        }
    };
    if refuse_dots && (segment == "." || segment == "..") {
        return Err(invalid(format!(
            "{role}-key segment {segment:?} is a dot path (would escape items dir)"
        )));
    }
    Ok(segment)
}

fn kind_name(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::Unset => "unset",
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
    }
}

/// Writes items as files, or as JSONL bundles rotated at a byte limit.
struct ItemWriter {
    tree: Arc<dyn TreeSink>,
    bundle_bytes: Option<u64>,
    /// The open bundle: its table directory, part number, bytes written, file.
    bundle: Option<(String, u32, u64, TreeFile)>,
}

impl ItemWriter {
    fn new(tree: Arc<dyn TreeSink>, bundle_bytes: Option<u64>) -> Self {
        ItemWriter {
            tree,
            bundle_bytes,
            bundle: None,
        }
    }

    fn write(&mut self, table: &Table, hash: &str, range: Option<&str>, item: &Item) -> Result<()> {
        let dir = table_dir(&table.name);
        let Some(limit) = self.bundle_bytes else {
            // filepath.Join drops an empty hash segment.
            let rel = match range {
                None => format!("{dir}/items/{hash}.json"),
                Some(range) if hash.is_empty() => format!("{dir}/items/{range}.json"),
                Some(range) => format!("{dir}/items/{hash}/{range}.json"),
            };
            return self
                .tree
                .write_file(rel.as_bytes(), docs::render_item(item))
                .map_err(|e| tree_error(&self.tree, e));
        };
        let line = docs::render_item_line(item);
        let len = line.len() as u64;
        if len > limit {
            return Err(DynamoError::BundleItemTooLarge {
                table: escape_key(&table.name),
                line: len,
                limit,
            });
        }
        let rotate = match &self.bundle {
            Some((open_dir, _, written, _)) => {
                *open_dir != dir || written.saturating_add(len) > limit
            }
            None => true,
        };
        if rotate {
            let part = match self.bundle.take() {
                Some((open_dir, part, _, file)) => {
                    file.finish().map_err(|e| tree_error(&self.tree, e))?;
                    if open_dir == dir { part + 1 } else { 1 }
                }
                None => 1,
            };
            let rel = format!("{dir}/items/data-{part:05}.jsonl");
            let file = self
                .tree
                .create_file(rel.as_bytes())
                .map_err(|e| tree_error(&self.tree, e))?;
            self.bundle = Some((dir, part, 0, file));
        }
        if let Some((_, _, written, file)) = &mut self.bundle {
            use std::io::Write as _;
            file.write_all(&line)
                .map_err(|e| DynamoError::io("write", &file.path(), e))?;
            *written += len;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some((_, _, _, file)) = self.bundle.take() {
            file.finish().map_err(|e| tree_error(&self.tree, e))?;
        }
        Ok(())
    }
}

impl AdapterDecoder for DynamoDecoder {
    fn adapter(&self) -> Adapter {
        Adapter::DynamoDb
    }

    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        _warnings: &mut Warnings,
    ) -> std::result::Result<(), BoxError> {
        let rest = prefix.rest(entry.user_key);
        self.route(prefix.family, rest, entry.user_key, entry.body)
            .map_err(DynamoError::boxed)
    }

    fn finalize(&mut self, warnings: &mut Warnings) -> std::result::Result<(), BoxError> {
        self.finish(warnings).map_err(DynamoError::boxed)
    }
}
