//! Writing `redis/db_<n>/` (docs/format.md §4.6, §8.1).
//!
//! Everything goes through the tree's [`TreeSink`] (for a decode, the
//! [`TreeWriter`](crate::tree::writer::TreeWriter): directory handles, files created
//! exclusively with mode 0600, digests taken while writing). Sidecars and
//! KEYMAP.jsonl exist only once their first line is written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::tree::fs::FsError;
use crate::tree::json::{Style, to_vec};
use crate::tree::keymap::{KIND_SHA_FALLBACK, KeymapError, KeymapWriter};
use crate::tree::segment::{encode_segment, is_sha_fallback};
use crate::tree::sink::{TreeFile, TreeSink};

use super::docs::TtlLine;
use super::error::{RedisError, Result};

/// Largest string/HLL body handed to the tree's writer pool as a copy; larger ones
/// are written straight from the snapshot reader's buffer.
const POOLED_BLOB_MAX: usize = 256 << 10;

/// The two TTL sidecars of string-like types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlSidecar {
    /// `strings_ttl.jsonl`.
    Strings,
    /// `hll_ttl.jsonl`.
    Hll,
}

impl TtlSidecar {
    fn file_name(self) -> &'static str {
        match self {
            TtlSidecar::Strings => "strings_ttl.jsonl",
            TtlSidecar::Hll => "hll_ttl.jsonl",
        }
    }
}

/// Writes the files of one Redis database directory.
#[derive(Debug)]
pub struct DbWriter {
    tree: Arc<dyn TreeSink>,
    /// `redis/db_<n>`, relative to the tree's root.
    db_rel: String,
    strings_ttl: Option<TreeFile>,
    hll_ttl: Option<TreeFile>,
    keymap: Option<KeymapWriter>,
}

pub(super) fn tree_error(path: &Path, err: FsError) -> RedisError {
    RedisError::Tree {
        path: path.to_path_buf(),
        cause: Box::new(err),
    }
}

fn keymap_error(path: &Path, err: KeymapError) -> RedisError {
    RedisError::Tree {
        path: path.to_path_buf(),
        cause: Box::new(err),
    }
}

impl DbWriter {
    /// A writer for `redis/db_<db_index>/` of `tree`; nothing is created yet.
    pub fn new(tree: Arc<dyn TreeSink>, db_index: u32) -> Self {
        let db_rel = format!("redis/db_{db_index}");
        DbWriter {
            keymap: Some(KeymapWriter::new(Arc::clone(&tree), db_rel.as_bytes())),
            tree,
            db_rel,
            strings_ttl: None,
            hll_ttl: None,
        }
    }

    /// `<db>/<name>` relative to the tree's root.
    fn rel(&self, name: &str) -> String {
        format!("{}/{name}", self.db_rel)
    }

    /// Where `rel` is, for errors.
    fn full_path(&self, rel: &str) -> PathBuf {
        self.tree.root().join(rel)
    }

    /// Creates a type directory (`strings`, `hashes`, …).
    pub fn ensure_type_dir(&self, subdir: &str) -> Result<()> {
        let rel = self.rel(subdir);
        self.tree
            .create_dir(rel.as_bytes())
            .map_err(|e| tree_error(&self.full_path(&rel), e))
    }

    /// The file name of `user_key`, recording SHA fallbacks (which cannot be decoded
    /// back) in KEYMAP.jsonl. A key that is named several times is recorded each
    /// time, as Go does; the reader keeps the last record, which is the same.
    fn name_for(&mut self, user_key: &[u8]) -> Result<String> {
        let encoded = encode_segment(user_key);
        if is_sha_fallback(&encoded)
            && let Some(keymap) = self.keymap.as_mut()
        {
            keymap
                .write_original(&encoded, user_key, KIND_SHA_FALLBACK)
                .map_err(|e| keymap_error(&self.full_path(&self.db_rel), e))?;
        }
        Ok(encoded)
    }

    /// Writes `strings/<name>.bin` or `hll/<name>.bin`.
    pub fn write_blob(&mut self, subdir: &str, user_key: &[u8], body: &[u8]) -> Result<()> {
        let name = self.name_for(user_key)?;
        let rel = self.rel(&format!("{subdir}/{name}.bin"));
        if body.len() > POOLED_BLOB_MAX {
            // Written from the caller's buffer on this thread: a copy for the writer
            // pool would hold a large value twice (and queue many of them).
            let mut file = self
                .tree
                .create_file(rel.as_bytes())
                .map_err(|e| tree_error(&self.full_path(&rel), e))?;
            file.write_all(body)
                .map_err(|e| RedisError::io("write", &file.path(), e))?;
            return file
                .finish()
                .map_err(|e| tree_error(&self.full_path(&rel), e));
        }
        self.tree
            .write_file(rel.as_bytes(), body.to_vec())
            .map_err(|e| tree_error(&self.full_path(&rel), e))
    }

    /// Creates `<subdir>/<name><ext>` for `user_key` (recording a SHA fallback in
    /// KEYMAP.jsonl, as every use of a name does), for the caller to write and finish.
    pub fn create_collection(
        &mut self,
        subdir: &str,
        ext: &str,
        user_key: &[u8],
    ) -> Result<TreeFile> {
        let name = self.name_for(user_key)?;
        let rel = self.rel(&format!("{subdir}/{name}{ext}"));
        self.tree
            .create_file(rel.as_bytes())
            .map_err(|e| tree_error(&self.full_path(&rel), e))
    }

    /// Appends `{"key":…,"expire_at_ms":…}` to a TTL sidecar, opening it first.
    pub fn append_ttl(
        &mut self,
        which: TtlSidecar,
        user_key: &[u8],
        expire_at_ms: u64,
    ) -> Result<()> {
        if self.sidecar(which).is_none() {
            let opened = self.open_ttl_sidecar(which)?;
            *self.sidecar(which) = Some(opened);
        }
        let name = self.name_for(user_key)?;
        let line = to_vec(
            &TtlLine {
                key: &name,
                expire_at_ms,
            },
            Style::JSONL,
        );
        if let Some(sidecar) = self.sidecar(which).as_mut() {
            sidecar
                .write_all(&line)
                .map_err(|e| RedisError::io("write", &sidecar.path(), e))?;
        }
        Ok(())
    }

    fn sidecar(&mut self, which: TtlSidecar) -> &mut Option<TreeFile> {
        match which {
            TtlSidecar::Strings => &mut self.strings_ttl,
            TtlSidecar::Hll => &mut self.hll_ttl,
        }
    }

    fn open_ttl_sidecar(&self, which: TtlSidecar) -> Result<TreeFile> {
        let rel = self.rel(which.file_name());
        self.tree
            .create_file(rel.as_bytes())
            .map_err(|e| tree_error(&self.full_path(&rel), e))
    }

    /// Flushes and closes the sidecars and KEYMAP.jsonl. Every one is closed even
    /// if an earlier one fails; the first error is returned.
    pub fn close(&mut self) -> Result<()> {
        let strings = close_sidecar(self.strings_ttl.take());
        let hll = close_sidecar(self.hll_ttl.take());
        let keymap = match self.keymap.take() {
            Some(writer) => {
                let path = writer.path();
                writer
                    .finish()
                    .map(drop)
                    .map_err(|e| keymap_error(&path, e))
            }
            None => Ok(()),
        };
        strings.and(hll).and(keymap)
    }
}

fn close_sidecar(sidecar: Option<TreeFile>) -> Result<()> {
    let Some(file) = sidecar else {
        return Ok(());
    };
    let path = file.path();
    file.finish().map_err(|e| tree_error(&path, e))
}
