//! Errors of the DynamoDB adapter.
//!
//! Every variant maps to one Go sentinel (its code is the sentinel name without `Err`,
//! in kebab-case) so a failure can be matched against the Go tool's. Messages name the
//! offending store key (escaped), table, file and attribute.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{BoxError, ErrorCode, ExitClass};

/// Bytes rendered for a message: printable ASCII as is, everything else `\xNN`,
/// long keys elided in the middle.
pub(crate) fn escape_key(bytes: &[u8]) -> String {
    const HEAD: usize = 96;
    struct Escaped<'a>(&'a [u8]);
    impl fmt::Display for Escaped<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    if bytes.len() <= 2 * HEAD {
        return Escaped(bytes).to_string();
    }
    format!(
        "{}…({} bytes)…{}",
        Escaped(&bytes[..HEAD]),
        bytes.len(),
        Escaped(&bytes[bytes.len() - HEAD..])
    )
}

/// An error of the DynamoDB adapter.
#[derive(Debug, thiserror::Error)]
pub enum DynamoError {
    /// `ErrDDBMalformedKey`.
    #[error("malformed DynamoDB key {key}: {detail}")]
    MalformedKey {
        /// The store key, escaped.
        key: String,
        /// What is wrong.
        detail: String,
    },

    /// `ErrDDBInvalidSchema`: a `!ddb|meta|table|` value that is not a schema.
    #[error("invalid !ddb|meta|table value at key {key}: {detail}")]
    InvalidSchema {
        /// The store key, escaped.
        key: String,
        /// What is wrong.
        detail: String,
    },

    /// `ErrDDBInvalidItem`: an item value that does not decode, or an item whose key
    /// attributes cannot name a file.
    #[error("invalid !ddb|item value {at}: {detail}")]
    InvalidItem {
        /// The store key or the table, escaped.
        at: String,
        /// What is wrong.
        detail: String,
    },

    /// `ErrDDBBundleItemTooLarge`: one JSONL line exceeds the bundle size.
    #[error(
        "DynamoDB JSONL item exceeds bundle size: an item of table {table} renders to \
         {line} bytes, more than --dynamodb-bundle-size {limit}"
    )]
    BundleItemTooLarge {
        /// The table, escaped.
        table: String,
        /// The line's length.
        line: u64,
        /// The bundle size.
        limit: u64,
    },

    /// Reading or writing scratch or the tree failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A shared tree helper refused; its own code is kept.
    #[error("{}: {cause}", .path.display())]
    Tree {
        /// Where.
        path: PathBuf,
        /// The helper's error.
        cause: BoxError,
    },

    /// The snapshot builder refused a record; its own code is kept.
    #[error("{cause}")]
    Sink {
        /// The builder's error.
        cause: BoxError,
    },

    /// `ErrDDBEncodeInvalidSchema`.
    #[error("{}: dynamodb encode invalid _schema.json: {detail}", .path.display())]
    EncodeInvalidSchema {
        /// The schema file (or table directory).
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// `ErrDDBEncodeInvalidItem`.
    #[error("{}: dynamodb encode invalid item json: {detail}", .path.display())]
    EncodeInvalidItem {
        /// The item file (with `:<line>` for a bundle line).
        path: PathBuf,
        /// What is wrong, naming the attribute.
        detail: String,
    },

    /// `ErrDDBEncodeNotRegular`.
    #[error("dynamodb dump file is not a regular file: {detail}")]
    EncodeNotRegular {
        /// The entry.
        path: PathBuf,
        /// What it is instead.
        detail: String,
    },

    /// `ErrRedisEncodeHardLink`, which Go uses for every adapter.
    #[error("dynamodb dump file is hard-linked: {detail}")]
    EncodeHardLink {
        /// The file.
        path: PathBuf,
        /// The link count.
        detail: String,
    },

    /// `ErrRedisEncodeNotDir`, which Go's shared directory check uses for every adapter.
    #[error("{}: dynamodb dump path must be a directory, found {kind}", .path.display())]
    EncodeNotDir {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
}

impl DynamoError {
    /// An I/O error at `path`.
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        DynamoError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Boxes the error for the driver traits.
    pub(crate) fn boxed(self) -> BoxError {
        Box::new(self)
    }
}

impl ErrorCode for DynamoError {
    fn code(&self) -> &'static str {
        match self {
            DynamoError::MalformedKey { .. } => "ddb-malformed-key",
            DynamoError::InvalidSchema { .. } => "ddb-invalid-schema",
            DynamoError::InvalidItem { .. } => "ddb-invalid-item",
            DynamoError::BundleItemTooLarge { .. } => "ddb-bundle-item-too-large",
            DynamoError::Io { .. } => "io",
            DynamoError::Tree { cause, .. } | DynamoError::Sink { cause } => cause.code(),
            DynamoError::EncodeInvalidSchema { .. } => "ddb-encode-invalid-schema",
            DynamoError::EncodeInvalidItem { .. } => "ddb-encode-invalid-item",
            DynamoError::EncodeNotRegular { .. } => "ddb-encode-not-regular",
            DynamoError::EncodeHardLink { .. } => "redis-encode-hard-link",
            DynamoError::EncodeNotDir { .. } => "redis-encode-not-dir",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            DynamoError::Io { .. } => ExitClass::Usage,
            DynamoError::Tree { cause, .. } | DynamoError::Sink { cause } => cause.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = DynamoError> = std::result::Result<T, E>;
