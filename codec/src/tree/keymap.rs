//! `KEYMAP.jsonl`: records that map a file name back to the key it stands for.
//!
//! Only names that cannot be reversed on their own get a record (SHA fallbacks, S3
//! renames), so a dump without any has no KEYMAP file at all.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::bsv::{decode_base64url, encode_base64url};
use super::fs::{self as tree_fs, FsError};
use super::gojson::{GoValue, match_field, set_string};
use super::gojson_reader;
use super::json::{self, Style};
use super::lines::{LineError, LineScanner};
use super::sink::{TreeFile, TreeSink};
use crate::error::{ErrorCode, ExitClass};

/// File name of the keymap in its scope directory.
pub const KEYMAP_FILE_NAME: &str = "KEYMAP.jsonl";
/// `encoded` is a SHA-fallback segment.
pub const KIND_SHA_FALLBACK: &str = "sha-fallback";
/// An S3 object renamed to `<key>.elastickv-leaf-data`.
pub const KIND_S3_LEAF_DATA: &str = "s3-leaf-data";
/// An S3 object key ending in the sidecar suffix, renamed under `--rename-collisions`.
pub const KIND_META_COLLISION: &str = "meta-suffix-rename";
/// An S3 folder object `P/` written at `P/.elastickv-folder` (this build; Go aborts).
pub const KIND_S3_FOLDER: &str = "s3-folder-object";
/// An S3 object whose path has a segment too long for a file name, shortened (this
/// build; Go fails with the OS's name-too-long error).
pub const KIND_S3_LONG_NAME: &str = "s3-long-name";
/// Longest accepted line: a 1 MiB key is ~1.33 MiB of base64; 4 MiB leaves margin.
pub const KEYMAP_MAX_LINE: usize = 4 << 20;

const WRITE_BUFFER: usize = 64 << 10;

/// One mapping from a file name back to the original key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeymapRecord {
    /// The name as it appears in the dump tree.
    pub encoded: String,
    /// base64url (no padding) of the original key bytes.
    pub original: String,
    /// Why the record exists: one of the `KIND_*` constants.
    pub kind: String,
}

impl KeymapRecord {
    /// A record for `original` key bytes.
    pub fn new(encoded: impl Into<String>, original: &[u8], kind: impl Into<String>) -> Self {
        KeymapRecord {
            encoded: encoded.into(),
            original: encode_base64url(original),
            kind: kind.into(),
        }
    }

    /// The original key bytes.
    pub fn original_bytes(&self) -> Result<Vec<u8>, KeymapError> {
        decode_base64url(&self.original).map_err(|e| KeymapError::InvalidOriginal {
            encoded: self.encoded.clone(),
            reason: e.to_string(),
        })
    }
}

/// Why a keymap could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    /// `ErrInvalidKeymapRecord`: a line that is not a valid record.
    #[error("{}: line {line}: invalid KEYMAP.jsonl record: {reason}", path.display())]
    InvalidRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A record whose `original` is not base64url.
    #[error("invalid KEYMAP.jsonl record for {encoded:?}: {reason}")]
    InvalidOriginal {
        /// The record's `encoded` name.
        encoded: String,
        /// The decoding error.
        reason: String,
    },
    /// The writer was handed a record with an empty `encoded` or `kind`.
    #[error("{}: KEYMAP record {field} must be non-empty", path.display())]
    EmptyField {
        /// The file.
        path: PathBuf,
        /// `encoded` or `kind`.
        field: &'static str,
    },
    /// Opening, reading or writing failed or was refused.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl ErrorCode for KeymapError {
    fn code(&self) -> &'static str {
        match self {
            KeymapError::InvalidRecord { .. } | KeymapError::InvalidOriginal { .. } => {
                "invalid-keymap-record"
            }
            KeymapError::EmptyField { .. } => "invalid-keymap-record",
            KeymapError::Fs(e) => e.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            KeymapError::InvalidRecord { .. } | KeymapError::InvalidOriginal { .. } => {
                ExitClass::Data
            }
            // The writer's callers build records; an empty field is their bug.
            KeymapError::EmptyField { .. } => ExitClass::Usage,
            KeymapError::Fs(e) => e.exit_class(),
        }
    }
}

/// Appends records to `<dir>/KEYMAP.jsonl` of a tree being written, creating it only
/// when the first record arrives so dumps without irreversible names carry no empty
/// file.
#[derive(Debug)]
pub struct KeymapWriter {
    tree: Arc<dyn TreeSink>,
    rel: Vec<u8>,
    out: Option<TreeFile>,
    count: u64,
}

impl KeymapWriter {
    /// A writer for `<dir>/KEYMAP.jsonl`, `dir` relative to the tree's root.
    pub fn new(tree: Arc<dyn TreeSink>, dir: &[u8]) -> Self {
        let mut rel = dir.to_vec();
        rel.push(b'/');
        rel.extend_from_slice(KEYMAP_FILE_NAME.as_bytes());
        KeymapWriter {
            tree,
            rel,
            out: None,
            count: 0,
        }
    }

    /// The file this writer writes.
    pub fn path(&self) -> PathBuf {
        self.tree.root().join(OsStr::from_bytes(&self.rel))
    }

    /// Records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends one record as a JSONL line (HTML escaping off, like Go's encoder).
    pub fn write(&mut self, record: &KeymapRecord) -> Result<(), KeymapError> {
        for (field, value) in [("encoded", &record.encoded), ("kind", &record.kind)] {
            if value.is_empty() {
                return Err(KeymapError::EmptyField {
                    path: self.path(),
                    field,
                });
            }
        }
        let out = match &mut self.out {
            Some(out) => out,
            none => none.insert(self.tree.create_file(&self.rel)?),
        };
        let line = json::to_vec(record, Style::JSONL);
        out.write_all(&line)
            .map_err(|e| FsError::io(out.path(), e))?;
        self.count += 1;
        Ok(())
    }

    /// [`write`](Self::write) for raw key bytes.
    pub fn write_original(
        &mut self,
        encoded: &str,
        original: &[u8],
        kind: &str,
    ) -> Result<(), KeymapError> {
        self.write(&KeymapRecord::new(encoded, original, kind))
    }

    /// Finishes the file (if a record made it in). Returns the record count.
    pub fn finish(self) -> Result<u64, KeymapError> {
        if let Some(out) = self.out {
            out.finish()?;
        }
        Ok(self.count)
    }
}

/// Streams records from a KEYMAP.jsonl file.
#[derive(Debug)]
pub struct KeymapReader<R> {
    lines: LineScanner<R>,
    path: PathBuf,
}

impl<R: std::io::BufRead> KeymapReader<R> {
    /// Reads records from `reader`; `path` is only used in errors.
    pub fn new(reader: R, path: impl Into<PathBuf>) -> Self {
        KeymapReader {
            lines: LineScanner::new(reader, KEYMAP_MAX_LINE),
            path: path.into(),
        }
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<KeymapRecord>, KeymapError> {
        let line = match self.lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(None),
            Err(LineError::TooLong { line, max }) => {
                return Err(KeymapError::InvalidRecord {
                    path: self.path.clone(),
                    line,
                    reason: format!("line longer than {max} bytes"),
                });
            }
            Err(LineError::Io(e)) => return Err(FsError::io(&self.path, e).into()),
        };
        match decode_line(line) {
            Ok(record) => Ok(Some(record)),
            Err(reason) => Err(KeymapError::InvalidRecord {
                path: self.path.clone(),
                line: self.lines.line_number(),
                reason,
            }),
        }
    }
}

/// One KEYMAP.jsonl line (without its terminator and trailing `\r`) as
/// [`KeymapReader`] reads it, for callers that have the lines already.
///
/// # Errors
/// Why it is not a valid record.
pub fn parse_keymap_line(line: &[u8]) -> Result<KeymapRecord, String> {
    decode_line(line)
}

/// Go's `decodeKeymapLine`: the three members must be present and non-null (a null
/// `original` would otherwise decode as an empty key and silently remap a name),
/// `encoded` and `kind` non-empty, and `original` valid base64url right away.
fn decode_line(line: &[u8]) -> Result<KeymapRecord, String> {
    const FIELDS: [&str; 3] = ["encoded", "original", "kind"];
    let value = gojson_reader::parse(line).map_err(|e| e.to_string())?;
    for name in FIELDS {
        match value.exact_member(name) {
            None => return Err(format!("missing field {name:?}")),
            Some(GoValue::Null) => return Err(format!("field {name:?} is null")),
            Some(_) => {}
        }
    }
    let GoValue::Object(members) = &value else {
        return Err(format!(
            "cannot unmarshal {} into record",
            value.type_name()
        ));
    };
    let mut rec = KeymapRecord {
        encoded: String::new(),
        original: String::new(),
        kind: String::new(),
    };
    for (k, v) in members {
        let slot = match match_field(k, &FIELDS) {
            Some("encoded") => &mut rec.encoded,
            Some("original") => &mut rec.original,
            Some(_) => &mut rec.kind,
            None => continue,
        };
        set_string(slot, v, k).map_err(|e| e.to_string())?;
    }
    if rec.encoded.is_empty() || rec.kind.is_empty() {
        return Err("missing encoded or kind".into());
    }
    decode_base64url(&rec.original).map_err(|e| format!("original: {e}"))?;
    Ok(rec)
}

fn open_reader(path: &Path) -> Result<KeymapReader<BufReader<File>>, KeymapError> {
    let file = tree_fs::open_regular_for_read(path)?;
    Ok(KeymapReader::new(
        BufReader::with_capacity(WRITE_BUFFER, file),
        path,
    ))
}

/// Reads every record of a KEYMAP.jsonl file of an untrusted dump tree, in file order.
pub fn read_keymap(path: &Path) -> Result<Vec<KeymapRecord>, KeymapError> {
    let mut reader = open_reader(path)?;
    let mut out = Vec::new();
    while let Some(rec) = reader.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

/// `LoadKeymap`: records by `encoded` name; the last record for a name wins.
pub fn load_keymap(path: &Path) -> Result<HashMap<String, KeymapRecord>, KeymapError> {
    let mut reader = open_reader(path)?;
    let mut out = HashMap::new();
    while let Some(rec) = reader.next_record()? {
        out.insert(rec.encoded.clone(), rec);
    }
    Ok(out)
}

/// Reads records from any reader (e.g. a file opened through a directory handle).
pub fn read_keymap_from(reader: impl Read, path: &Path) -> Result<Vec<KeymapRecord>, KeymapError> {
    let mut reader = KeymapReader::new(BufReader::new(reader), path);
    let mut out = Vec::new();
    while let Some(rec) = reader.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_renders_in_go_field_order() {
        let rec = KeymapRecord::new(
            "61e1921fd2d8dd4cbc277fab8715cc0d__KK",
            b"<K&>",
            KIND_SHA_FALLBACK,
        );
        assert_eq!(
            String::from_utf8(json::to_vec(&rec, Style::JSONL)).unwrap(),
            "{\"encoded\":\"61e1921fd2d8dd4cbc277fab8715cc0d__KK\",\"original\":\"PEsmPg\",\"kind\":\"sha-fallback\"}\n"
        );
        assert_eq!(rec.original_bytes().unwrap(), b"<K&>");
    }

    fn tree(root: &Path) -> Arc<crate::tree::writer::TreeWriter> {
        Arc::new(
            crate::tree::writer::TreeWriter::new(root, 1, crate::sort::SortOptions::default())
                .unwrap(),
        )
    }

    #[test]
    fn writer_is_lazy_and_checks_records_first() {
        let dir = tempfile::tempdir().unwrap();
        let w = KeymapWriter::new(tree(dir.path()), b"db");
        assert_eq!(w.finish().unwrap(), 0);
        assert!(!dir.path().join("db").join(KEYMAP_FILE_NAME).exists());

        // A record that cannot be written creates nothing.
        let mut w = KeymapWriter::new(tree(dir.path()), b"db");
        let err = w
            .write(&KeymapRecord::new("", b"k", KIND_SHA_FALLBACK))
            .unwrap_err();
        assert_eq!(err.code(), "invalid-keymap-record");
        assert!(w.write(&KeymapRecord::new("e", b"k", "")).is_err());
        assert_eq!(w.finish().unwrap(), 0);
        assert!(!dir.path().join("db").exists());
    }

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let scope = dir.path().join("redis/db_0");
        let mut w = KeymapWriter::new(tree(dir.path()), b"redis/db_0");
        w.write_original("a__x", &[0xff, 0x00], KIND_SHA_FALLBACK)
            .unwrap();
        w.write_original("a/b.elastickv-leaf-data", b"a/b", KIND_S3_LEAF_DATA)
            .unwrap();
        w.write_original("a__x", b"second", KIND_SHA_FALLBACK)
            .unwrap();
        assert_eq!(w.finish().unwrap(), 3);
        let path = scope.join(KEYMAP_FILE_NAME);
        let records = read_keymap(&path).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].original_bytes().unwrap(), [0xff, 0x00]);
        let map = load_keymap(&path).unwrap();
        assert_eq!(map["a__x"].original_bytes().unwrap(), b"second");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    fn read(text: &str) -> Result<Vec<KeymapRecord>, KeymapError> {
        read_keymap_from(text.as_bytes(), Path::new("KEYMAP.jsonl"))
    }

    #[test]
    fn reader_accepts_what_go_accepts() {
        let recs = read(
            "{\"encoded\":\"e\",\"original\":\"\",\"kind\":\"k\"}\r\n{\"kind\":\"k\",\"extra\":1,\"original\":\"AA\\r\\nH_\",\"encoded\":\"f\"}",
        )
        .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].original_bytes().unwrap(), b"");
        assert_eq!(recs[1].original_bytes().unwrap(), [0, 1, 0xff]);
        // Case-insensitive member names for the value, as Go's struct decode does.
        let recs = read("{\"encoded\":\"e\",\"original\":\"QQ\",\"kind\":\"k\",\"KIND\":\"k2\"}\n")
            .unwrap();
        assert_eq!(recs[0].kind, "k2");
    }

    #[test]
    fn reader_rejects_what_go_rejects() {
        for (text, line) in [
            ("{\"encoded\":\"e\",\"original\":\"QQ\"}", 1),
            ("{\"encoded\":\"e\",\"original\":null,\"kind\":\"k\"}", 1),
            ("{\"encoded\":\"\",\"original\":\"QQ\",\"kind\":\"k\"}", 1),
            ("{\"encoded\":\"e\",\"original\":\"Q\",\"kind\":\"k\"}", 1),
            (
                "{\"encoded\":\"e\",\"original\":\"QQ==\",\"kind\":\"k\"}",
                1,
            ),
            ("{\"encoded\":5,\"original\":\"QQ\",\"kind\":\"k\"}", 1),
            (
                "{\"encoded\":\"e\",\"original\":\"QQ\",\"kind\":\"k\"}\n\n",
                2,
            ),
            (
                "{\"encoded\":\"e\",\"original\":\"QQ\",\"kind\":\"k\"}\nnull",
                2,
            ),
            (
                "{\"encoded\":\"e\",\"original\":\"QQ\",\"kind\":\"k\"} x",
                1,
            ),
            ("[]", 1),
        ] {
            match read(text) {
                Err(KeymapError::InvalidRecord { line: got, .. }) => {
                    assert_eq!(got, line, "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let long = format!(
            "{{\"encoded\":\"e\",\"original\":\"{}\",\"kind\":\"k\"}}",
            "A".repeat(KEYMAP_MAX_LINE)
        );
        let err = read(&long).unwrap_err();
        assert_eq!(
            (err.code(), err.exit_class()),
            ("invalid-keymap-record", ExitClass::Data)
        );
    }

    #[test]
    fn reader_refuses_unsafe_files() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.jsonl");
        std::fs::write(&real, b"").unwrap();
        let link = dir.path().join(KEYMAP_FILE_NAME);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read_keymap(&link).unwrap_err().code(), "refusing-symlink");
        assert!(read_keymap(&real).unwrap().is_empty());
    }
}
