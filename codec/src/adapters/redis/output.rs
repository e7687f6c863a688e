//! Writing `redis/db_<n>/` (docs/format.md §4.6, §8.1).
//!
//! Every directory use re-checks that no ancestor below the output root is a
//! symlink (a link left by an earlier run would redirect the writes), files are
//! published atomically with mode 0600, and the JSONL sidecars are opened refusing
//! symlinks, FIFOs and hard links. Sidecars and KEYMAP.jsonl exist only once their
//! first line is written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::tree::fs::{FsError, ensure_dir_within, open_sidecar};
use crate::tree::json::{Style, to_vec};
use crate::tree::keymap::{KIND_SHA_FALLBACK, KeymapError, KeymapWriter};
use crate::tree::publish::write_file_atomic;
use crate::tree::segment::{encode_segment, is_sha_fallback};

use super::docs::TtlLine;
use super::error::{RedisError, Result};

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

const SIDECAR_BUFFER: usize = 64 << 10;

/// An open JSONL sidecar.
#[derive(Debug)]
struct Sidecar {
    path: PathBuf,
    out: BufWriter<File>,
}

/// Writes the files of one Redis database directory.
#[derive(Debug)]
pub struct DbWriter {
    out_root: PathBuf,
    db_dir: PathBuf,
    strings_ttl: Option<Sidecar>,
    hll_ttl: Option<Sidecar>,
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
    /// A writer for `<out_root>/redis/db_<db_index>/`; nothing is created yet.
    pub fn new(out_root: &Path, db_index: u32) -> Self {
        let db_dir = out_root.join("redis").join(format!("db_{db_index}"));
        DbWriter {
            out_root: out_root.to_path_buf(),
            keymap: Some(KeymapWriter::within(out_root, &db_dir)),
            db_dir,
            strings_ttl: None,
            hll_ttl: None,
        }
    }

    /// Creates `dir` below the output root, refusing symlinked ancestors. Runs on
    /// every use: a directory that was safe once may have been swapped since.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        ensure_dir_within(&self.out_root, dir).map_err(|e| tree_error(dir, e))
    }

    /// Creates a type directory (`strings`, `hashes`, …).
    pub fn ensure_type_dir(&self, subdir: &str) -> Result<()> {
        self.ensure_dir(&self.db_dir.join(subdir))
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
                .map_err(|e| keymap_error(&self.db_dir, e))?;
        }
        Ok(encoded)
    }

    /// Writes `strings/<name>.bin` or `hll/<name>.bin`.
    pub fn write_blob(&mut self, subdir: &str, user_key: &[u8], body: &[u8]) -> Result<()> {
        let name = self.name_for(user_key)?;
        let dir = self.db_dir.join(subdir);
        self.ensure_dir(&dir)?;
        let path = dir.join(name + ".bin");
        write_file_atomic(&path, body).map_err(|e| tree_error(&path, e))
    }

    /// Names `<subdir>/<name><ext>` for `user_key` (recording a SHA fallback in
    /// KEYMAP.jsonl, as every use of a name does). The caller publishes the file
    /// atomically there; the type directory was created by
    /// [`DbWriter::ensure_type_dir`].
    pub fn collection_path(&mut self, subdir: &str, ext: &str, user_key: &[u8]) -> Result<PathBuf> {
        let name = self.name_for(user_key)?;
        Ok(self.db_dir.join(subdir).join(name + ext))
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
                .out
                .write_all(&line)
                .map_err(|e| RedisError::io("write", &sidecar.path, e))?;
        }
        Ok(())
    }

    fn sidecar(&mut self, which: TtlSidecar) -> &mut Option<Sidecar> {
        match which {
            TtlSidecar::Strings => &mut self.strings_ttl,
            TtlSidecar::Hll => &mut self.hll_ttl,
        }
    }

    fn open_ttl_sidecar(&self, which: TtlSidecar) -> Result<Sidecar> {
        self.ensure_dir(&self.db_dir)?;
        let path = self.db_dir.join(which.file_name());
        let file = open_sidecar(&path).map_err(|e| tree_error(&path, e))?;
        Ok(Sidecar {
            out: BufWriter::with_capacity(SIDECAR_BUFFER, file),
            path,
        })
    }

    /// Flushes and closes the sidecars and KEYMAP.jsonl. Every one is closed even
    /// if an earlier one fails; the first error is returned.
    pub fn close(&mut self) -> Result<()> {
        let strings = close_sidecar(self.strings_ttl.take());
        let hll = close_sidecar(self.hll_ttl.take());
        let keymap = match self.keymap.take() {
            Some(writer) => {
                let path = writer.path().to_path_buf();
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

fn close_sidecar(sidecar: Option<Sidecar>) -> Result<()> {
    let Some(Sidecar { path, out }) = sidecar else {
        return Ok(());
    };
    out.into_inner()
        .map(drop)
        .map_err(|e| RedisError::io("flush", &path, e.into_error()))
}
