//! Errors of the SQS adapter.
//!
//! Every variant maps to one Go sentinel (its code is the sentinel name without `Err`,
//! in kebab-case) so a failure can be matched against the Go tool's. Messages name
//! the store key (escaped), or the queue directory, line and field of the tree.

use std::path::PathBuf;

use crate::adapters::redis::Escaped;
use crate::error::{BoxError, ErrorCode, ExitClass};

/// An SQS decode or encode failure.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// `ErrSQSInvalidQueueMeta`.
    #[error("invalid !sqs|queue|meta value at key {key}: {detail}")]
    InvalidQueueMeta {
        /// The store key, escaped.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// `ErrSQSInvalidMessage`.
    #[error("invalid !sqs|msg|data value at key {key}: {detail}")]
    InvalidMessage {
        /// The store key, escaped.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// `ErrSQSMalformedKey` (also a generation that is not decimal, as in Go).
    #[error("malformed SQS key {key}: {detail}")]
    MalformedKey {
        /// The store key, escaped.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// `ErrSQSEncodeInvalidQueue`.
    #[error("sqs encode invalid _queue.json: {queue}/_queue.json: {detail}")]
    EncodeInvalidQueue {
        /// The queue directory.
        queue: String,
        /// What is wrong.
        detail: String,
    },
    /// `ErrSQSEncodeInvalidMessage`.
    #[error("sqs encode invalid messages.jsonl: {queue}/messages.jsonl record {record}: {detail}")]
    EncodeInvalidMessage {
        /// The queue directory.
        queue: String,
        /// The record's number in the file (from 1).
        record: u64,
        /// What is wrong (names the field).
        detail: String,
    },
    /// A line of `_internals/side_records.jsonl` the faithful restore cannot write
    /// back as the store row the decoder read (no Go sentinel: Go's encoder refuses
    /// every tree with side records).
    #[error(
        "sqs encode invalid side record: {queue}/_internals/side_records.jsonl line {line}: {detail}"
    )]
    EncodeInvalidSideRecord {
        /// The queue directory.
        queue: String,
        /// The line's number in the file (from 1).
        line: u64,
        /// What is wrong (names the field).
        detail: String,
    },
    /// One of the partition gates of a partitioned (HT-FIFO) queue.
    #[error("{}: {queue}/messages.jsonl record {record}: {detail}", .gate.sentence())]
    Partition {
        /// Which gate.
        gate: PartitionGate,
        /// The queue directory.
        queue: String,
        /// The record's number in the file (from 1).
        record: u64,
        /// The message and the numbers involved.
        detail: String,
    },
    /// `ErrSQSEncodeNotRegular`: a symlink, FIFO, device or directory where a dump
    /// file was expected.
    #[error("sqs dump file is not a regular file: {detail}")]
    EncodeNotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        detail: String,
    },
    /// `ErrRedisEncodeHardLink` (Go's one hard-link sentinel for every adapter).
    #[error("sqs dump file is hard-linked: {detail}")]
    EncodeHardLink {
        /// The file.
        path: PathBuf,
        /// The link count.
        detail: String,
    },
    /// `ErrRedisEncodeNotDir` (Go's one not-a-directory sentinel for every adapter).
    #[error("{}: sqs dump path must be a directory, found {kind}", .path.display())]
    EncodeNotDir {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// An I/O failure.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A shared helper (tree sink, external sort, snapshot builder) failed; its code
    /// is kept.
    #[error("{cause}")]
    Inner {
        /// The helper's error.
        cause: BoxError,
    },
}

/// The partition gates of §6.5, each a Go sentinel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionGate {
    /// `ErrSQSEncodeMissingPartition`.
    Missing,
    /// `ErrSQSEncodeOutOfRangePartition`.
    OutOfRange,
    /// `ErrSQSEncodePartitionRoutingMismatch` (perQueue: everything on partition 0).
    RoutingMismatch,
    /// `ErrSQSEncodePartitionHashMismatch` (perMessageGroupId: FNV-1a of the group).
    HashMismatch,
}

impl PartitionGate {
    fn code(self) -> &'static str {
        match self {
            PartitionGate::Missing => "sqs-encode-missing-partition",
            PartitionGate::OutOfRange => "sqs-encode-out-of-range-partition",
            PartitionGate::RoutingMismatch => "sqs-encode-partition-routing-mismatch",
            PartitionGate::HashMismatch => "sqs-encode-partition-hash-mismatch",
        }
    }

    fn sentence(self) -> &'static str {
        match self {
            PartitionGate::Missing => "sqs partitioned queue message missing partition field",
            PartitionGate::OutOfRange => {
                "sqs message partition out of range for queue partition_count"
            }
            PartitionGate::RoutingMismatch => {
                "sqs perQueue HT-FIFO queue must keep all messages on partition 0"
            }
            PartitionGate::HashMismatch => {
                "sqs perMessageGroupId HT-FIFO message partition disagrees with \
                 partitionFor(message_group_id)"
            }
        }
    }
}

impl SqsError {
    /// A decode failure about store key `key`.
    pub(crate) fn malformed_key(key: &[u8], detail: impl ToString) -> Self {
        SqsError::MalformedKey {
            key: Escaped(key).to_string(),
            detail: detail.to_string(),
        }
    }

    /// Wraps a helper's error, keeping its code.
    pub(crate) fn inner(cause: BoxError) -> Self {
        SqsError::Inner { cause }
    }

    /// An I/O failure on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        SqsError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Boxes the error for the driver traits.
    pub(crate) fn boxed(self) -> BoxError {
        match self {
            SqsError::Inner { cause } => cause,
            other => Box::new(other),
        }
    }
}

impl ErrorCode for SqsError {
    fn code(&self) -> &'static str {
        match self {
            SqsError::InvalidQueueMeta { .. } => "sqs-invalid-queue-meta",
            SqsError::InvalidMessage { .. } => "sqs-invalid-message",
            SqsError::MalformedKey { .. } => "sqs-malformed-key",
            SqsError::EncodeInvalidQueue { .. } => "sqs-encode-invalid-queue",
            SqsError::EncodeInvalidMessage { .. } => "sqs-encode-invalid-message",
            SqsError::EncodeInvalidSideRecord { .. } => "sqs-encode-invalid-side-record",
            SqsError::Partition { gate, .. } => gate.code(),
            SqsError::EncodeNotRegular { .. } => "sqs-encode-not-regular",
            SqsError::EncodeHardLink { .. } => "redis-encode-hard-link",
            SqsError::EncodeNotDir { .. } => "redis-encode-not-dir",
            SqsError::Io { .. } => "io",
            SqsError::Inner { cause } => cause.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            SqsError::Io { .. } => ExitClass::Usage,
            SqsError::Inner { cause } => cause.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = SqsError> = std::result::Result<T, E>;
