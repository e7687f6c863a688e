//! `archive pack|unpack`: a dump tree ↔ one tar (optionally zstd) file, the way the Go
//! `elastickv-snapshot-archive` does it (FORMAT.md §7.4, §8.4; docs/format.md §10.2).
//!
//! Pack verifies the tree first (MANIFEST, CHECKSUMS, no unlisted file), refuses
//! links, devices and FIFOs, and writes Go's tar bytes exactly ([`header`]). Unpack
//! accepts USTAR, PAX and GNU archives but only directories and regular files with
//! local names, creates the root fresh, applies modes as Go does, verifies the result
//! and removes the whole root on any error.

mod error;
pub mod header;
pub mod owners;
mod pack;
mod unpack;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use error::ArchiveError;
pub use pack::{
    PackSummary, Verification, check_output_outside_input, pack_stream, pack_to_file,
    pack_tree_with_progress,
};
pub use unpack::{
    UnpackSummary, clean_entry_name, open_archive_input, unpack_archive,
    unpack_archive_with_progress,
};

use crate::tree::checksums::{
    CHECKSUMS_FILE_NAME, ChecksumsError, list_unlisted_files, verify_checksums,
};
use crate::tree::fs::{FsErrorKind, kind_name};
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};

/// Stream compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// One zstd frame around the tar (the default).
    #[default]
    Zstd,
    /// Plain tar.
    None,
}

impl Compression {
    /// `zstd` or `none`.
    pub fn parse(name: &str) -> Result<Compression, ArchiveError> {
        match name {
            "zstd" => Ok(Compression::Zstd),
            "none" => Ok(Compression::None),
            other => Err(ArchiveError::CompressionUnsupported(other.to_owned())),
        }
    }

    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }
}

/// Go's unpack limits: entries and bytes.
pub const MAX_UNPACK_ENTRIES: u64 = 1_000_000;
/// 1 TiB.
pub const MAX_UNPACK_BYTES: u64 = 1 << 40;

/// Go's `verifyDumpRoot`: MANIFEST.json and CHECKSUMS regular and not hard-linked,
/// the manifest valid, every CHECKSUMS row verified, no regular file unlisted.
pub fn verify_dump_root(root: &Path) -> Result<(), ArchiveError> {
    for name in [MANIFEST_FILE_NAME, CHECKSUMS_FILE_NAME] {
        require_single_regular(&root.join(name))?;
    }
    Manifest::read_file(&root.join(MANIFEST_FILE_NAME))?;
    verify_checksums(root).map_err(|e| match e {
        // Go's checksum pass reads hard-linked files and its walk refuses them as
        // non-regular; the verdict is the same, the kind Go's.
        ChecksumsError::Fs(fs_error) if fs_error.kind() == FsErrorKind::HardLink => {
            ArchiveError::non_regular(fs_error.path(), "hard-linked file")
        }
        other => other.into(),
    })?;
    if let Some(first) = list_unlisted_files(root)?.into_iter().next() {
        return Err(ArchiveError::UnchecksummedFile { path: first });
    }
    Ok(())
}

/// A regular file with one link (a second name may live outside the tree).
fn require_single_regular(path: &Path) -> Result<fs::Metadata, ArchiveError> {
    let meta = fs::symlink_metadata(path).map_err(|e| ArchiveError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(ArchiveError::non_regular(path, kind_name(&meta)));
    }
    if meta.nlink() > 1 {
        return Err(ArchiveError::non_regular(
            path,
            format!("hard-linked file (nlink={})", meta.nlink()),
        ));
    }
    Ok(meta)
}
