use std::fmt;

use crate::error::{ErrorCode, ExitClass};

/// Why a snapshot stream could not be read.
///
/// Boxed so that `Result<_, ContainerError>` stays one word on the hot path.
#[derive(Debug)]
pub struct ContainerError {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ContainerErrorKind,
    offset: u64,
    message: String,
    source: Option<std::io::Error>,
}

/// The kinds of container failure. The first group mirrors the Go sentinels; the rest
/// are cases where Go returns a bare `io.EOF` or cannot read the file at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContainerErrorKind {
    /// `ErrSnapshotBadMagic`.
    BadMagic,
    /// `ErrSnapshotTruncated`: EOF inside an entry.
    Truncated,
    /// `ErrSnapshotKeyTooLarge`.
    KeyTooLarge,
    /// `ErrSnapshotValueTooLarge`.
    ValueTooLarge,
    /// `ErrSnapshotShortKey`.
    ShortKey,
    /// `ErrSnapshotShortValue`.
    ShortValue,
    /// `ErrSnapshotEncryptedEntry`.
    EncryptedEntry,
    /// `ErrSnapshotEncryptedReserved`.
    EncryptedReserved,
    /// The file ends inside the 16-byte header (Go: raw `EOF` / `unexpected EOF`).
    HeaderTruncated,
    /// `EKVTHLC` followed by an unknown version byte (`ErrSnapshotHeaderUnknownMagic`).
    HeaderUnknownMagic,
    /// `EKVTHLC2` length outside 16..=1024 (`ErrSnapshotHeaderInvalidLength`).
    HeaderInvalidLength,
    /// A runtime wrapper around a store format other than `EKVPBBL1` (SST ingest, MVCC2).
    UnsupportedInnerFormat,
    /// The runtime CRC32C footer does not match the bytes before it.
    FooterMismatch,
    /// An `EKVSSTI1` manifest upstream refuses (length, digest, JSON, validation).
    SstManifestInvalid,
    /// An `EKVSSTI1` table differs from what the manifest records (digest, length,
    /// rows, key bounds), or bytes follow the last table.
    SstIntegrity,
    /// A Pebble table that is structurally broken (footer, handle, block encoding).
    SstCorrupt,
    /// A Pebble block whose checksum does not match.
    SstChecksum,
    /// A valid Pebble table using something this reader does not read (columnar
    /// formats, other compressions, value blocks).
    SstUnsupported,
    /// A table row (or range) that is not a SET: snapshot tables hold only SETs.
    SstNonSetKey,
    /// Reading the input failed.
    Io,
}

impl ContainerError {
    /// Creates an error of `kind` for the entry (or header field) starting at `offset`.
    #[cold]
    pub fn new(kind: ContainerErrorKind, offset: u64, message: impl Into<String>) -> Self {
        ContainerError {
            inner: Box::new(Inner {
                kind,
                offset,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// An I/O failure while reading at `offset`.
    #[cold]
    pub fn io(offset: u64, source: std::io::Error) -> Self {
        ContainerError {
            inner: Box::new(Inner {
                kind: ContainerErrorKind::Io,
                offset,
                message: source.to_string(),
                source: Some(source),
            }),
        }
    }

    /// A copy for a reader that keeps reporting its first failure. An I/O source cannot
    /// be cloned, so the copy keeps only its text.
    #[cold]
    pub(crate) fn replay(&self) -> Self {
        ContainerError::new(
            self.inner.kind,
            self.inner.offset,
            self.inner.message.clone(),
        )
    }

    /// The kind of failure.
    pub fn kind(&self) -> ContainerErrorKind {
        self.inner.kind
    }

    /// Byte offset of the entry (or header field) that failed.
    pub fn offset(&self) -> u64 {
        self.inner.offset
    }

    /// The detail message, without the offset.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at offset {})",
            self.inner.message, self.inner.offset
        )
    }
}

impl std::error::Error for ContainerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|e| e as _)
    }
}

impl ErrorCode for ContainerError {
    fn code(&self) -> &'static str {
        match self.inner.kind {
            ContainerErrorKind::BadMagic => "snapshot-bad-magic",
            ContainerErrorKind::Truncated => "snapshot-truncated",
            ContainerErrorKind::KeyTooLarge => "snapshot-key-too-large",
            ContainerErrorKind::ValueTooLarge => "snapshot-value-too-large",
            ContainerErrorKind::ShortKey => "snapshot-short-key",
            ContainerErrorKind::ShortValue => "snapshot-short-value",
            ContainerErrorKind::EncryptedEntry => "snapshot-encrypted-entry",
            ContainerErrorKind::EncryptedReserved => "snapshot-encrypted-reserved",
            ContainerErrorKind::HeaderTruncated => "snapshot-header-truncated",
            ContainerErrorKind::HeaderUnknownMagic => "snapshot-header-unknown-magic",
            ContainerErrorKind::HeaderInvalidLength => "snapshot-header-invalid-length",
            ContainerErrorKind::UnsupportedInnerFormat => "snapshot-unsupported-inner-format",
            ContainerErrorKind::FooterMismatch => "snapshot-footer-mismatch",
            ContainerErrorKind::SstManifestInvalid => "sst-manifest-invalid",
            ContainerErrorKind::SstIntegrity => "sst-integrity-mismatch",
            ContainerErrorKind::SstCorrupt => "sst-corrupt",
            ContainerErrorKind::SstChecksum => "sst-checksum-mismatch",
            ContainerErrorKind::SstUnsupported => "sst-unsupported",
            ContainerErrorKind::SstNonSetKey => "sst-non-set-row",
            ContainerErrorKind::Io => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self.inner.kind {
            ContainerErrorKind::Io => ExitClass::Usage,
            _ => ExitClass::Data,
        }
    }
}
