//! `dynamodb/` → snapshot records (docs/format.md §6.3).
//!
//! Each table directory yields its schema row (`!ddb|meta|table|`), its generation
//! counter (`!ddb|meta|gen|` = `1`), and per item the item row, keyed by the ordered
//! encoding of its key attributes, plus one row per global secondary index whose key
//! attributes the item has. Items are read from either layout: one file per item
//! (`items/<hash>.json`, `items/<hash>/<range>.json`; file names are ignored, the key
//! is rebuilt from the attributes) or JSONL bundles (`items/*.jsonl`, one public item
//! or one DynamoDB-export `{"Item": …}` line each). Records stream into the sink,
//! which sorts them externally; directories are listed through external sorts, so
//! memory does not grow with the number of tables or items.
//!
//! Unlike Go, an entry that is neither a regular file nor a real directory (symlink,
//! FIFO, socket, device) anywhere in the tree is refused instead of skipped, so no
//! table or item silently drops out of the snapshot.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, SortOptions, SortedRecords};
use crate::tree::fs::{DumpDir, FsError, FsErrorKind, open_regular_for_read};
use crate::tree::gojson_reader::parse;
use crate::tree::segment::encode_segment;

use super::docs::{self, SchemaDoc};
use super::error::{DynamoError, Result};
use super::keys;
use super::number;
use super::proto::{AttributeValue, Item, TableSchema};
use super::values;

/// Largest item document (file or bundle line) and schema file read: the value limit
/// of a snapshot entry; anything larger could not be stored anyway, and reading it
/// must not take unbounded memory.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// The encode side: reads `dynamodb/` and emits records.
#[derive(Debug, Clone, Default)]
pub struct DynamoEncoder {
    sort: SortOptions,
}

impl DynamoEncoder {
    /// An encoder whose directory listings sort within `sort`.
    pub fn with_sort(sort: &SortOptions) -> Self {
        DynamoEncoder { sort: sort.clone() }
    }

    fn encode_all(&self, root: &Path, sink: &mut dyn EntrySink) -> Result<()> {
        let mut listing = self.list(root)?;
        while let Some(entry) = listing.next(root)? {
            match entry.kind {
                Kind::Dir => self.encode_table(root, &entry.name, sink)?,
                // Files beside the table directories are not tables.
                Kind::File => {}
                Kind::Other => {
                    return Err(not_regular(
                        &root.join(std::ffi::OsStr::from_bytes(&entry.name)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn encode_table(&self, root: &Path, dir_name: &[u8], sink: &mut dyn EntrySink) -> Result<()> {
        let dir = root.join(std::ffi::OsStr::from_bytes(dir_name));
        let schema_path = dir.join("_schema.json");
        let bytes = read_dump_file(&schema_path)?;
        let doc = docs::parse_schema_doc(&bytes).map_err(|d| invalid_schema(&schema_path, d))?;
        check_schema(&doc, dir_name, &schema_path)?;
        let schema = doc.to_schema();
        let table = doc.table_name.as_str();
        add(
            sink,
            &keys::table_meta_key(table),
            &values::schema_value(&schema),
        )?;
        add(
            sink,
            &keys::table_gen_key(table),
            &values::generation_value(),
        )?;
        let items = dir.join("items");
        match fs::symlink_metadata(&items) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(DynamoError::io("stat", &items, e)),
            Ok(meta) if !meta.is_dir() => {
                return Err(invalid_item(&items, "items is not a directory"));
            }
            Ok(_) => {}
        }
        let table = TableCtx {
            name: table,
            schema: &schema,
        };
        let handle = open_dump_dir(&items)?;
        let mut listing = self.list(&items)?;
        while let Some(entry) = listing.next(&items)? {
            let path = items.join(std::ffi::OsStr::from_bytes(&entry.name));
            match entry.kind {
                Kind::Dir => self.encode_hash_dir(&path, &table, sink)?,
                Kind::File if entry.name.ends_with(b".json") => {
                    encode_item_file(&handle, &entry.name, &table, sink)?;
                }
                Kind::File if entry.name.ends_with(b".jsonl") => {
                    encode_bundle(&path, &table, sink)?;
                }
                Kind::File => {}
                Kind::Other => return Err(not_regular(&path)),
            }
        }
        Ok(())
    }

    fn encode_hash_dir(
        &self,
        dir: &Path,
        table: &TableCtx<'_>,
        sink: &mut dyn EntrySink,
    ) -> Result<()> {
        let handle = open_dump_dir(dir)?;
        let mut listing = self.list(dir)?;
        while let Some(entry) = listing.next(dir)? {
            let path = dir.join(std::ffi::OsStr::from_bytes(&entry.name));
            match entry.kind {
                Kind::Dir => {
                    return Err(invalid_item(
                        &path,
                        "unexpected nested directory (items layout is at most 2 levels)",
                    ));
                }
                Kind::File if entry.name.ends_with(b".json") => {
                    encode_item_file(&handle, &entry.name, table, sink)?;
                }
                Kind::File => {}
                Kind::Other => return Err(not_regular(&path)),
            }
        }
        Ok(())
    }

    /// `dir`'s entries in byte order of their names (like Go's `os.ReadDir`), listed
    /// completely first and handed out from an external sort.
    fn list(&self, dir: &Path) -> Result<Listing> {
        let read = fs::read_dir(dir).map_err(|e| DynamoError::io("list", dir, e))?;
        let mut sorter = ExternalSorter::new(self.sort.clone());
        for entry in read {
            let entry = entry.map_err(|e| DynamoError::io("list", dir, e))?;
            let ty = entry
                .file_type()
                .map_err(|e| DynamoError::io("stat", &entry.path(), e))?;
            let kind = if ty.is_dir() {
                b'd'
            } else if ty.is_file() {
                b'f'
            } else {
                b'o'
            };
            sorter
                .push(entry.file_name().as_bytes(), &[kind])
                .map_err(|e| DynamoError::io("sort listing of", dir, e))?;
        }
        Ok(Listing {
            sorted: sorter
                .finish()
                .map_err(|e| DynamoError::io("sort listing of", dir, e))?,
        })
    }
}

impl AdapterEncoder for DynamoEncoder {
    fn encode(
        &mut self,
        adapter_root: &Path,
        sink: &mut dyn EntrySink,
    ) -> std::result::Result<(), BoxError> {
        match fs::symlink_metadata(adapter_root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(DynamoError::io("stat", adapter_root, e).boxed()),
            Ok(meta) if !meta.is_dir() => {
                return Err(DynamoError::EncodeNotDir {
                    path: adapter_root.to_path_buf(),
                    kind: if meta.file_type().is_symlink() {
                        "a symlink"
                    } else {
                        "not a directory"
                    },
                }
                .boxed());
            }
            Ok(_) => {}
        }
        self.encode_all(adapter_root, sink)
            .map_err(DynamoError::boxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Other,
}

struct Entry {
    name: Vec<u8>,
    kind: Kind,
}

struct Listing {
    sorted: SortedRecords,
}

impl Listing {
    fn next(&mut self, dir: &Path) -> Result<Option<Entry>> {
        let Some((name, kind)) = self
            .sorted
            .next()
            .map_err(|e| DynamoError::io("read listing of", dir, e))?
        else {
            return Ok(None);
        };
        let kind = match kind.first() {
            Some(b'd') => Kind::Dir,
            Some(b'f') => Kind::File,
            _ => Kind::Other,
        };
        Ok(Some(Entry {
            name: name.to_vec(),
            kind,
        }))
    }
}

/// The table an item belongs to.
struct TableCtx<'a> {
    name: &'a str,
    schema: &'a TableSchema,
}

/// Go's checks on `_schema.json` beyond its JSON shape.
fn check_schema(doc: &SchemaDoc, dir_name: &[u8], path: &Path) -> Result<()> {
    if doc.format_version != 1 {
        return Err(invalid_schema(
            path,
            format!("unsupported format_version {}", doc.format_version),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in &doc.attribute_definitions {
        if !seen.insert(name.as_str()) {
            return Err(invalid_schema(
                path,
                format!("duplicate attribute definition {name:?}"),
            ));
        }
    }
    seen.clear();
    for (name, _) in &doc.global_secondary_indexes {
        if !seen.insert(name.as_str()) {
            return Err(invalid_schema(path, format!("duplicate GSI name {name:?}")));
        }
    }
    if doc.table_name.is_empty() {
        return Err(invalid_schema(path, "empty table_name"));
    }
    let want = encode_segment(doc.table_name.as_bytes());
    if want.as_bytes() != dir_name {
        return Err(invalid_schema(
            path,
            format!(
                "table_name {:?} encodes to dir {want:?}, not {:?} (dump tampered or rebuilt by hand?)",
                doc.table_name,
                String::from_utf8_lossy(dir_name)
            ),
        ));
    }
    if doc.primary_key.hash_key.is_empty() {
        return Err(invalid_schema(path, "empty primary hash key"));
    }
    Ok(())
}

/// One item file, listed as `name` in the directory held by `dir`.
fn encode_item_file(
    dir: &DumpDir,
    name: &[u8],
    table: &TableCtx<'_>,
    sink: &mut dyn EntrySink,
) -> Result<()> {
    let path = &dir.path().join(std::ffi::OsStr::from_bytes(name));
    let bytes = read_listed_file(dir, name, path)?;
    let value = docs::parse_one_value(&bytes).map_err(|d| invalid_item(path, d))?;
    let item = docs::item_from_public(value).map_err(|d| invalid_item(path, d))?;
    emit_item(&item, table, sink).map_err(|d| invalid_item(path, d))?
}

/// A JSONL bundle: one item per non-blank line, read a line at a time.
fn encode_bundle(path: &Path, table: &TableCtx<'_>, sink: &mut dyn EntrySink) -> Result<()> {
    let file = open_dump_file(path)?;
    let mut reader = BufReader::new(file);
    let too_long = |number: u64| {
        invalid_item(
            path,
            format!("line {number}: longer than {MAX_DOCUMENT_BYTES} bytes"),
        )
    };
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_DOCUMENT_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| DynamoError::io("read", path, e))?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        if n as u64 > MAX_DOCUMENT_BYTES {
            return Err(too_long(number));
        }
        if line
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            continue;
        }
        let at = |d: String| invalid_item(path, format!("line {number}: {d}"));
        let value = parse(&line).map_err(|e| at(e.to_string()))?;
        let item = docs::item_from_line(value).map_err(at)?;
        emit_item(&item, table, sink).map_err(at)??;
    }
}

/// Emits an item's row and its index rows. The outer error is a data problem of the
/// item (to be tied to its file), the inner one the sink's.
fn emit_item(
    item: &Item,
    table: &TableCtx<'_>,
    sink: &mut dyn EntrySink,
) -> std::result::Result<Result<()>, String> {
    let schema = table.schema;
    let hash = key_attribute_segment(item, schema.hash_key(), "hash")?;
    let range = match schema.range_key() {
        "" => Vec::new(),
        name => key_attribute_segment(item, name, "range")?,
    };
    let item_key = keys::item_key(table.name, &hash, &range);
    let mut rows = Vec::new();
    for (index, gsi) in &schema.global_secondary_indexes {
        let (ks_hash, ks_range) = gsi
            .key_schema
            .as_ref()
            .map_or(("", ""), |ks| (ks.hash_key.as_str(), ks.range_key.as_str()));
        let Some(idx_hash) = optional_segment(item, ks_hash, "index hash")? else {
            continue;
        };
        let idx_range = if ks_range.is_empty() {
            Vec::new()
        } else {
            match optional_segment(item, ks_range, "index range")? {
                Some(seg) => seg,
                None => continue,
            }
        };
        let mut key = keys::gsi_key_prefix(table.name, index);
        for part in [&idx_hash, &idx_range, &hash, &range] {
            key.extend_from_slice(part);
        }
        rows.push(key);
    }
    Ok((|| {
        add(sink, &item_key, &values::item_value(item))?;
        for row in &rows {
            add(sink, row, &item_key)?;
        }
        Ok(())
    })())
}

fn key_attribute_segment(
    item: &Item,
    name: &str,
    role: &str,
) -> std::result::Result<Vec<u8>, String> {
    optional_segment(item, name, role)?
        .ok_or_else(|| format!("item missing {role}-key attribute {name:?}"))
}

/// The ordered key segment of attribute `name`, `None` when the item lacks it.
fn optional_segment(
    item: &Item,
    name: &str,
    role: &str,
) -> std::result::Result<Option<Vec<u8>>, String> {
    let Some(value) = item.attributes.get(name) else {
        return Ok(None);
    };
    let ordered;
    let raw: &[u8] = match value {
        AttributeValue::S(s) => s.as_bytes(),
        AttributeValue::B(b) => b,
        AttributeValue::N(n) => {
            ordered = number::ordered_key_bytes(n)
                .map_err(|e| format!("{role} key attribute {name:?}: {e}"))?;
            &ordered
        }
        _ => {
            return Err(format!(
                "{role} key attribute {name:?}: primary key attribute is not S, N, or B"
            ));
        }
    };
    Ok(Some(keys::ordered_segment(raw)))
}

fn add(sink: &mut dyn EntrySink, key: &[u8], value: &[u8]) -> Result<()> {
    sink.add(key, value)
        .map_err(|cause| DynamoError::Sink { cause })
}

fn invalid_schema(path: &Path, detail: impl Into<String>) -> DynamoError {
    DynamoError::EncodeInvalidSchema {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn invalid_item(path: &Path, detail: impl Into<String>) -> DynamoError {
    DynamoError::EncodeInvalidItem {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn not_regular(path: &Path) -> DynamoError {
    use std::os::unix::fs::FileTypeExt;
    let kind = match fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(ty) if ty.is_symlink() => "a symlink",
        Ok(ty) if ty.is_fifo() => "a FIFO",
        Ok(ty) if ty.is_socket() => "a socket",
        Ok(ty) if ty.is_block_device() => "a block device",
        Ok(ty) if ty.is_char_device() => "a character device",
        _ => "not a regular file",
    };
    DynamoError::EncodeNotRegular {
        path: path.to_path_buf(),
        detail: format!(
            "{}: {kind} in the dump, where only directories and regular files belong; \
             refused rather than leaving it out of the snapshot",
            path.display()
        ),
    }
}

fn refusal(path: &Path, err: FsError) -> DynamoError {
    match err.kind() {
        FsErrorKind::Symlink
        | FsErrorKind::Fifo
        | FsErrorKind::NotRegular
        | FsErrorKind::Replaced => DynamoError::EncodeNotRegular {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        FsErrorKind::HardLink => DynamoError::EncodeHardLink {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        _ => DynamoError::Tree {
            path: path.to_path_buf(),
            cause: Box::new(err),
        },
    }
}

fn open_dump_file(path: &Path) -> Result<fs::File> {
    open_regular_for_read(path).map_err(|e| refusal(path, e))
}

fn read_dump_file(path: &Path) -> Result<Vec<u8>> {
    read_document(open_dump_file(path)?, Vec::new(), path)
}

/// Reads a document into `buf`, refusing one over [`MAX_DOCUMENT_BYTES`] without
/// reading more than one byte past the limit.
fn read_document(file: fs::File, mut buf: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| DynamoError::io("read", path, e))?;
    if buf.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(invalid_item(
            path,
            format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    Ok(buf)
}

/// Opens a directory of the dump by handle, so the item files listed in it are
/// opened relative to it: one name lookup a file and no `lstat` before the open.
fn open_dump_dir(path: &Path) -> Result<DumpDir> {
    DumpDir::open(path).map_err(|e| refusal(path, e))
}

/// Reads the file `name` (at `path`) that `dir`'s listing reported as regular, with
/// the refusals of [`read_dump_file`]. The buffer is sized from the open's `fstat`,
/// so a file takes one read plus the one that sees its end, instead of a read per
/// doubling of a growing buffer.
fn read_listed_file(dir: &DumpDir, name: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (file, size) = dir
        .open_listed_file(std::ffi::OsStr::from_bytes(name))
        .map_err(|e| refusal(path, e))?;
    let room = size.min(MAX_DOCUMENT_BYTES) + 1;
    let buf = Vec::with_capacity(usize::try_from(room).unwrap_or(0));
    read_document(file, buf, path)
}
