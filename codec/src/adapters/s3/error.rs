//! Errors of the S3 adapter.
//!
//! Every variant maps to one Go sentinel (its code is the sentinel name without `Err`,
//! in kebab-case) so a failure can be matched against the Go tool's. Messages name the
//! offending store key (escaped), object, or dump path.

use std::path::{Path, PathBuf};

use crate::error::{BoxError, ErrorCode, ExitClass};
use crate::tree::fs::{FsError, FsErrorKind};
use crate::tree::keymap::KeymapError;

/// A failure of the S3 adapter.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// `ErrS3MalformedKey`.
    #[error("{detail}: backup: malformed S3 key")]
    MalformedKey {
        /// What is malformed, naming the key or object.
        detail: String,
    },
    /// `ErrS3InvalidBucketMeta`.
    #[error("bucket meta {key}: {detail}: backup: invalid !s3|bucket|meta value")]
    InvalidBucketMeta {
        /// The store key, escaped.
        key: String,
        /// The JSON error.
        detail: String,
    },
    /// `ErrS3InvalidManifest`.
    #[error("manifest {key}: {detail}: backup: invalid !s3|obj|head value")]
    InvalidManifest {
        /// The store key, escaped.
        key: String,
        /// The JSON or shape error.
        detail: String,
    },
    /// `ErrS3InvalidChunkRef`.
    #[error("{detail}: backup: invalid S3 chunk reference")]
    InvalidChunkRef {
        /// The key or the size mismatch.
        detail: String,
    },
    /// `ErrS3ChunkBlobHashMismatch`.
    #[error("chunkblob {key}: payload digest {actual}: backup: S3 chunkblob hash mismatch")]
    ChunkBlobHashMismatch {
        /// The store key, escaped.
        key: String,
        /// Hex digest of the payload.
        actual: String,
    },
    /// `ErrS3IncompleteBlobChunks`.
    #[error(
        "bucket {bucket} object {object}: {detail}: backup: incomplete blob chunks for manifest-declared part"
    )]
    IncompleteBlobChunks {
        /// Bucket, escaped.
        bucket: String,
        /// Object, escaped.
        object: String,
        /// Which part and chunk.
        detail: String,
    },
    /// `ErrS3MetaSuffixCollision`.
    #[error(
        "bucket {bucket} object {object}{detail}: backup: user S3 object key collides with reserved sidecar suffix"
    )]
    MetaSuffixCollision {
        /// Bucket, escaped.
        bucket: String,
        /// Object, escaped.
        object: String,
        /// The colliding rename target, if that is the collision.
        detail: String,
    },
    /// `ErrS3EncodeInvalidBucket`: `_bucket.json` or `KEYMAP.jsonl` of a dump bucket.
    #[error("{}: {detail}: backup: s3 encode invalid _bucket.json", path.display())]
    EncodeInvalidBucket {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// `ErrS3EncodeInvalidManifest`: an object sidecar.
    #[error("{}: {detail}: backup: s3 encode invalid object sidecar", path.display())]
    EncodeInvalidManifest {
        /// The sidecar or body.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// `ErrS3EncodeNotRegular`.
    #[error("{detail}: backup: s3 dump file is not a regular file")]
    EncodeNotRegular {
        /// The entry.
        path: PathBuf,
        /// What it is.
        detail: String,
    },
    /// `ErrRedisEncodeHardLink` (shared by every adapter's encoder).
    #[error("{detail}: backup: redis dump file is hard-linked")]
    EncodeHardLink {
        /// The file.
        path: PathBuf,
        /// The refusal.
        detail: String,
    },
    /// `ErrRedisEncodeNotDir` (shared by every adapter's encoder): `s3/` itself.
    #[error("{}: {kind}: backup: dump directory is not a directory", path.display())]
    EncodeNotDir {
        /// The directory.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// `ErrS3EncodeReservedPrefixCollision`.
    #[error(
        "{}: rename the colliding S3 key before backup: backup: s3 encode user object key collides with reserved dump directory",
        path.display()
    )]
    EncodeReservedPrefixCollision {
        /// The reserved directory.
        path: PathBuf,
    },
    /// A file the dump needs is missing (Go: the `stat` error).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Scratch space failed.
    #[error("S3 scratch: {0}")]
    Scratch(std::io::Error),
    /// Writing the tree failed.
    #[error(transparent)]
    Tree(#[from] FsError),
    /// Writing `KEYMAP.jsonl` failed.
    #[error(transparent)]
    Keymap(#[from] KeymapError),
    /// The entry sink refused a record.
    #[error("{0}")]
    Sink(BoxError),
}

impl S3Error {
    /// Boxes the error for the driver traits.
    pub(crate) fn boxed(self) -> BoxError {
        Box::new(self)
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        S3Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A refusal of the shared dump readers with the S3 encoder's code.
    pub(crate) fn refusal(path: &Path, err: FsError) -> Self {
        match err.kind() {
            FsErrorKind::Symlink
            | FsErrorKind::Fifo
            | FsErrorKind::NotRegular
            | FsErrorKind::Replaced => S3Error::EncodeNotRegular {
                path: path.to_path_buf(),
                detail: err.to_string(),
            },
            FsErrorKind::HardLink => S3Error::EncodeHardLink {
                path: path.to_path_buf(),
                detail: err.to_string(),
            },
            _ => S3Error::Tree(err),
        }
    }
}

/// A store key escaped for a message.
pub(crate) fn esc(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    if bytes.len() <= MAX {
        Escaped(bytes).to_string()
    } else {
        format!("{}… ({} bytes)", Escaped(&bytes[..MAX]), bytes.len())
    }
}

impl ErrorCode for S3Error {
    fn code(&self) -> &'static str {
        match self {
            S3Error::MalformedKey { .. } => "s3-malformed-key",
            S3Error::InvalidBucketMeta { .. } => "s3-invalid-bucket-meta",
            S3Error::InvalidManifest { .. } => "s3-invalid-manifest",
            S3Error::InvalidChunkRef { .. } => "s3-invalid-chunk-ref",
            S3Error::ChunkBlobHashMismatch { .. } => "s3-chunk-blob-hash-mismatch",
            S3Error::IncompleteBlobChunks { .. } => "s3-incomplete-blob-chunks",
            S3Error::MetaSuffixCollision { .. } => "s3-meta-suffix-collision",
            S3Error::EncodeInvalidBucket { .. } => "s3-encode-invalid-bucket",
            S3Error::EncodeInvalidManifest { .. } => "s3-encode-invalid-manifest",
            S3Error::EncodeNotRegular { .. } => "s3-encode-not-regular",
            S3Error::EncodeHardLink { .. } => "redis-encode-hard-link",
            S3Error::EncodeNotDir { .. } => "redis-encode-not-dir",
            S3Error::EncodeReservedPrefixCollision { .. } => "s3-encode-reserved-prefix-collision",
            S3Error::Io { .. } | S3Error::Scratch(_) => "io",
            S3Error::Tree(e) => e.code(),
            S3Error::Keymap(e) => e.code(),
            S3Error::Sink(e) => e.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            S3Error::Io { .. } | S3Error::Scratch(_) => ExitClass::Usage,
            S3Error::Tree(e) => e.exit_class(),
            S3Error::Keymap(e) => e.exit_class(),
            S3Error::Sink(e) => e.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = S3Error> = std::result::Result<T, E>;

/// Bytes rendered for a message: printable ASCII as is, everything else `\xNN`.
struct Escaped<'a>(&'a [u8]);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
    }
}
