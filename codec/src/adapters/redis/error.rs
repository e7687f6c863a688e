//! Errors of the Redis adapter.
//!
//! Every variant maps to one Go sentinel (its code is the sentinel name without `Err`,
//! in kebab-case) so a failure can be matched against the Go tool's. Messages name the
//! offending user key (escaped) or file, so an operator can find the record.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{BoxError, ErrorCode, ExitClass};

/// Which part of the live Redis layout a decode failure is about. Each one is a Go
/// sentinel: a malformed key (`ErrRedisInvalid…Key`) or an invalid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ErrRedisInvalidStringValue`.
    StringValue,
    /// `ErrRedisInvalidHLLValue`.
    HllValue,
    /// `ErrRedisInvalidTTLValue`.
    TtlValue,
    /// `ErrRedisInvalidHashMeta`.
    HashMeta,
    /// `ErrRedisInvalidHashKey`.
    HashKey,
    /// `ErrRedisInvalidListMeta`.
    ListMeta,
    /// `ErrRedisInvalidListKey`.
    ListKey,
    /// `ErrRedisInvalidSetMeta`.
    SetMeta,
    /// `ErrRedisInvalidSetKey`.
    SetKey,
    /// `ErrRedisInvalidZSetMeta`.
    ZSetMeta,
    /// `ErrRedisInvalidZSetLegacyBlob`.
    ZSetLegacyBlob,
    /// `ErrRedisInvalidZSetMember`.
    ZSetMember,
    /// `ErrRedisInvalidZSetKey`.
    ZSetKey,
    /// `ErrRedisInvalidStreamMeta`.
    StreamMeta,
    /// `ErrRedisInvalidStreamEntry`.
    StreamEntry,
    /// `ErrRedisInvalidStreamKey`.
    StreamKey,
}

impl Fault {
    /// The stable error code.
    pub fn code(self) -> &'static str {
        match self {
            Fault::StringValue => "redis-invalid-string-value",
            Fault::HllValue => "redis-invalid-hll-value",
            Fault::TtlValue => "redis-invalid-ttl-value",
            Fault::HashMeta => "redis-invalid-hash-meta",
            Fault::HashKey => "redis-invalid-hash-key",
            Fault::ListMeta => "redis-invalid-list-meta",
            Fault::ListKey => "redis-invalid-list-key",
            Fault::SetMeta => "redis-invalid-set-meta",
            Fault::SetKey => "redis-invalid-set-key",
            Fault::ZSetMeta => "redis-invalid-zset-meta",
            Fault::ZSetLegacyBlob => "redis-invalid-zset-legacy-blob",
            Fault::ZSetMember => "redis-invalid-zset-member",
            Fault::ZSetKey => "redis-invalid-zset-key",
            Fault::StreamMeta => "redis-invalid-stream-meta",
            Fault::StreamEntry => "redis-invalid-stream-entry",
            Fault::StreamKey => "redis-invalid-stream-key",
        }
    }

    /// What was wrong, in the words of the Go sentinel.
    fn subject(self) -> &'static str {
        match self {
            Fault::StringValue => "invalid !redis|str| value",
            Fault::HllValue => "invalid !redis|hll| value",
            Fault::TtlValue => "invalid !redis|ttl| value",
            Fault::HashMeta => "invalid !hs|meta| value",
            Fault::HashKey => "malformed !hs| key",
            Fault::ListMeta => "invalid !lst|meta| value",
            Fault::ListKey => "malformed !lst| key",
            Fault::SetMeta => "invalid !st|meta| value",
            Fault::SetKey => "malformed !st| key",
            Fault::ZSetMeta => "invalid !zs|meta| value",
            Fault::ZSetLegacyBlob => "invalid !redis|zset| value",
            Fault::ZSetMember => "invalid !zs|mem| value",
            Fault::ZSetKey => "malformed !zs| key",
            Fault::StreamMeta => "invalid !stream|meta| value",
            Fault::StreamEntry => "invalid !stream|entry| value",
            Fault::StreamKey => "malformed !stream| key",
        }
    }
}

/// Bytes rendered for a message: printable ASCII as is, everything else `\xNN`.
/// Keys are binary; this keeps messages one line and unambiguous.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

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

/// Escapes `bytes` for a message, keeping long keys readable by eliding the middle.
pub(crate) fn escape_key(bytes: &[u8]) -> String {
    const HEAD: usize = 96;
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

/// An error of the Redis adapter.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// A snapshot record does not match the live Redis layout.
    #[error("{}: at key {key}: {detail}", .fault.subject())]
    Decode {
        /// Which sentinel.
        fault: Fault,
        /// The full store key, escaped.
        key: String,
        /// What exactly is wrong.
        detail: String,
    },

    /// `ErrPendingTTLBufferFull`: too many TTL rows wait for a key that has not shown up.
    #[error(
        "pending TTL buffer is full: parking the TTL of a {user_key_len}-byte key would \
         exceed the {cap}-byte budget ({in_flight} bytes in use); raise the budget, or set it \
         to 0 to count unmatched TTLs instead of keeping them"
    )]
    PendingTtlBufferFull {
        /// The configured budget.
        cap: usize,
        /// Bytes already parked.
        in_flight: usize,
        /// Length of the key that did not fit.
        user_key_len: usize,
    },

    /// A row arrived after rows that sort after it. TTL routing relies on ascending
    /// key order, which the decode driver guarantees (it sorts unsorted snapshots).
    #[error("redis rows out of order at key {key}: the decoder needs rows in ascending key order")]
    Unsorted {
        /// The store key, escaped.
        key: String,
    },

    /// Reading or writing the tree failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A shared tree helper refused (symlinked ancestor, FIFO, bad KEYMAP, …); its own
    /// code is kept.
    #[error("{}: {cause}", .path.display())]
    Tree {
        /// Where.
        path: PathBuf,
        /// The helper's error.
        cause: BoxError,
    },

    /// The snapshot builder refused a record (duplicate key, size limits); its own code
    /// is kept.
    #[error("{cause}")]
    Sink {
        /// The builder's error.
        cause: BoxError,
    },

    /// `ErrRedisEncodeInvalidJSON`: a collection file or TTL sidecar does not have the
    /// shape the decoder writes.
    #[error("{}: redis encode invalid collection JSON: {detail}", .path.display())]
    EncodeInvalidJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// `ErrRedisEncodeMissingKeymap`: a SHA-fallback name without a KEYMAP record.
    #[error(
        "{}: name {encoded:?} is a SHA-256 fallback and KEYMAP.jsonl has no record for it",
        .path.display()
    )]
    EncodeMissingKeymap {
        /// The file carrying the name (or the TTL sidecar).
        path: PathBuf,
        /// The name.
        encoded: String,
    },

    /// `ErrInvalidEncodedSegment`: a file name that no key encodes to.
    #[error("{}: invalid encoded filename segment: {detail}", .path.display())]
    InvalidSegment {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },

    /// `ErrRedisEncodeNotRegular`: a symlink, FIFO, device or directory where a dump
    /// file was expected.
    #[error("redis dump file is not a regular file: {detail}")]
    EncodeNotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        detail: String,
    },

    /// `ErrRedisEncodeHardLink`: the file has more links than its dump-tree name, so
    /// it may be a file from outside the tree.
    #[error("redis dump file is hard-linked: {detail}")]
    EncodeHardLink {
        /// The file.
        path: PathBuf,
        /// The link count.
        detail: String,
    },

    /// `ErrRedisEncodeNotDir`.
    #[error("{}: redis dump path must be a directory, found {kind}", .path.display())]
    EncodeNotDir {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },

    /// `ErrRedisEncodeMultiDBUnsupported`.
    #[error(
        "{}: only redis/db_0 can be encoded (the store keys carry no database number), found {found:?}",
        .path.display()
    )]
    EncodeMultiDbUnsupported {
        /// The `redis/` directory.
        path: PathBuf,
        /// The `db_<N>` directories found.
        found: Vec<String>,
    },
}

impl RedisError {
    /// A decode error for the record at `store_key`.
    pub(crate) fn decode(fault: Fault, store_key: &[u8], detail: impl Into<String>) -> Self {
        RedisError::Decode {
            fault,
            key: escape_key(store_key),
            detail: detail.into(),
        }
    }

    /// An I/O error at `path`.
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        RedisError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// `ErrRedisEncodeInvalidJSON` for `path`.
    pub(crate) fn invalid_json(path: &Path, detail: impl Into<String>) -> Self {
        RedisError::EncodeInvalidJson {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    /// The Go sentinel this error corresponds to, as a code.
    fn code_str(&self) -> &'static str {
        match self {
            RedisError::Decode { fault, .. } => fault.code(),
            RedisError::PendingTtlBufferFull { .. } => "pending-ttl-buffer-full",
            RedisError::Unsorted { .. } => "redis-input-unsorted",
            RedisError::Io { .. } => "io",
            RedisError::Tree { cause, .. } | RedisError::Sink { cause } => cause.code(),
            RedisError::EncodeInvalidJson { .. } => "redis-encode-invalid-json",
            RedisError::EncodeMissingKeymap { .. } => "redis-encode-missing-keymap",
            RedisError::InvalidSegment { .. } => "invalid-encoded-segment",
            RedisError::EncodeNotRegular { .. } => "redis-encode-not-regular",
            RedisError::EncodeHardLink { .. } => "redis-encode-hard-link",
            RedisError::EncodeNotDir { .. } => "redis-encode-not-dir",
            RedisError::EncodeMultiDbUnsupported { .. } => "redis-encode-multi-db-unsupported",
        }
    }
}

impl ErrorCode for RedisError {
    fn code(&self) -> &'static str {
        self.code_str()
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            RedisError::Io { .. } => ExitClass::Usage,
            RedisError::Tree { cause, .. } | RedisError::Sink { cause } => cause.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

impl RedisError {
    /// Boxes the error for the driver traits.
    pub(crate) fn boxed(self) -> BoxError {
        Box::new(self)
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = RedisError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_messages_on_one_line() {
        assert_eq!(Escaped(b"a\"b\\\n\xff").to_string(), r#""a\"b\\\x0a\xff""#);
    }

    #[test]
    fn long_keys_are_elided() {
        let key = vec![b'k'; 1000];
        let text = escape_key(&key);
        assert!(text.contains("1000 bytes"));
        assert!(text.len() < 300);
    }

    #[test]
    fn decode_errors_carry_the_sentinel_code() {
        let err = RedisError::decode(Fault::HashKey, b"!hs|fld|\0\0\0ca", "field key too short");
        assert_eq!(err.code(), "redis-invalid-hash-key");
        assert_eq!(err.exit_class(), ExitClass::Data);
        assert!(err.to_string().contains(r#"!hs|fld|\x00\x00\x00ca"#));
    }
}
