//! One error type for `archive pack|unpack`, mapped to the Go sentinels (FORMAT.md
//! §7.4): exit 2 for tree and archive content problems, 1 for usage, I/O, an
//! existing destination and malformed tar/zstd streams.

use std::path::PathBuf;

use crate::error::{ErrorCode, ExitClass};
use crate::tree::checksums::ChecksumsError;
use crate::tree::manifest::ManifestError;

/// Why packing or unpacking failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// `ErrArchiveCompressionUnsupported`.
    #[error("{0:?}: unsupported compression (zstd or none)")]
    CompressionUnsupported(String),
    /// `errArchiveOutputInsideInput`.
    #[error("{} under {}: output path is inside input tree", output.display(), input.display())]
    OutputInsideInput {
        /// `--output`.
        output: PathBuf,
        /// `--input`.
        input: PathBuf,
    },
    /// `ErrArchivePathUnsafe`: absolute or escaping entry name.
    #[error("{name:?}: unsafe path in archive")]
    PathUnsafe {
        /// The entry name (lossy UTF-8).
        name: String,
    },
    /// `ErrArchiveNonRegular`: a symlink, hard link, device, FIFO, … in the tree or
    /// the archive, or an input that is not a regular file.
    #[error("{}: {what}: non-regular file", path.display())]
    NonRegular {
        /// The path or entry name.
        path: PathBuf,
        /// What it is.
        what: String,
    },
    /// `ErrArchiveDestinationExists`.
    #[error("{}: destination exists", path.display())]
    DestinationExists {
        /// The unpack root.
        path: PathBuf,
    },
    /// `ErrArchiveUnchecksummedFile`.
    #[error("{}: file is not listed in CHECKSUMS", path.display())]
    UnchecksummedFile {
        /// Relative path.
        path: PathBuf,
    },
    /// `ErrArchiveBudgetExceeded`.
    #[error("{0}: unpack budget exceeded")]
    BudgetExceeded(String),
    /// MANIFEST.json invalid or of a newer format.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// CHECKSUMS malformed, or a file does not match it.
    #[error(transparent)]
    Checksums(#[from] ChecksumsError),
    /// The tar or zstd stream is malformed or cut short.
    #[error("{context}: {source}")]
    Stream {
        /// What was being read.
        context: String,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// Reading or writing a file failed (`open out.tar.zst: file exists`, …).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl ArchiveError {
    /// An I/O error on `path`.
    #[cold]
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ArchiveError::Io {
            path: path.into(),
            source,
        }
    }

    /// A non-regular file.
    #[cold]
    pub fn non_regular(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        ArchiveError::NonRegular {
            path: path.into(),
            what: what.into(),
        }
    }
}

impl ErrorCode for ArchiveError {
    fn code(&self) -> &'static str {
        match self {
            ArchiveError::CompressionUnsupported(_) => "archive-compression-unsupported",
            ArchiveError::OutputInsideInput { .. } => "archive-output-inside-input",
            ArchiveError::PathUnsafe { .. } => "archive-path-unsafe",
            ArchiveError::NonRegular { .. } => "archive-non-regular",
            ArchiveError::DestinationExists { .. } => "archive-destination-exists",
            ArchiveError::UnchecksummedFile { .. } => "archive-unchecksummed-file",
            ArchiveError::BudgetExceeded(_) => "archive-budget-exceeded",
            ArchiveError::Manifest(e) => e.code(),
            ArchiveError::Checksums(e) => e.code(),
            ArchiveError::Stream { .. } => "archive-stream",
            ArchiveError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            ArchiveError::PathUnsafe { .. }
            | ArchiveError::NonRegular { .. }
            | ArchiveError::UnchecksummedFile { .. }
            | ArchiveError::BudgetExceeded(_) => ExitClass::Data,
            ArchiveError::Manifest(e) => e.exit_class(),
            ArchiveError::Checksums(e) => e.exit_class(),
            ArchiveError::CompressionUnsupported(_)
            | ArchiveError::OutputInsideInput { .. }
            | ArchiveError::DestinationExists { .. }
            | ArchiveError::Stream { .. }
            | ArchiveError::Io { .. } => ExitClass::Usage,
        }
    }
}
