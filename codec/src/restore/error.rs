//! One error type for `prepare-restore`, with the Go sentinel each variant stands for
//! (FORMAT.md §7.3) so exit codes and `error[<code>]` tags match the Go tool's.

use std::path::PathBuf;

use crate::container::ContainerError;
use crate::error::{ErrorCode, ExitClass};

/// Which input a refusal is about (Go's `restoreInputKind*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// The encoder's `.fsm` payload.
    Payload,
    /// The ENCODE_INFO sidecar.
    EncodeInfo,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Payload => "payload",
            InputKind::EncodeInfo => "encode-info",
        })
    }
}

/// Why a restore data directory could not be prepared. Every variant that is about a
/// file names it (Go prints a bare `no such file or directory` for a missing sidecar).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// `ErrExternalSnapshotRestoreInvalid`: an input path is a symlink.
    #[error("{kind} {} is a symlink", path.display())]
    InputSymlink {
        /// Payload or sidecar.
        kind: InputKind,
        /// The path given.
        path: PathBuf,
    },
    /// `ErrExternalSnapshotRestoreInvalid`: an input is a FIFO, directory, device, …
    #[error("{kind} {} is not a regular file", path.display())]
    InputNotRegular {
        /// Payload or sidecar.
        kind: InputKind,
        /// The path given.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `errRestoreEncodeInfoTooLarge`.
    #[error("{} exceeds {limit} bytes: ENCODE_INFO sidecar too large", path.display())]
    EncodeInfoTooLarge {
        /// The sidecar.
        path: PathBuf,
        /// The limit (1 MiB).
        limit: usize,
    },
    /// `errRestoreEncodeInfoMalformed`.
    #[error("{}: ENCODE_INFO sidecar malformed: {reason}", path.display())]
    EncodeInfoMalformed {
        /// The sidecar.
        path: PathBuf,
        /// What the JSON decoder said.
        reason: String,
    },
    /// `ErrUnsupportedEncodeInfoFormatVersion`.
    #[error("{}: unsupported ENCODE_INFO format_version: got {got}, want 1", path.display())]
    EncodeInfoVersion {
        /// The sidecar.
        path: PathBuf,
        /// The version found.
        got: u64,
    },
    /// The payload is not a well-formed `EKVPBBL1` stream (Go's `ErrSnapshot*`).
    #[error("{}: read encoded snapshot payload: {source}", path.display())]
    Payload {
        /// The payload.
        path: PathBuf,
        /// What the reader found.
        source: ContainerError,
    },
    /// `errRestoreSnapshotTimestampCeiling`.
    #[error(
        "{}: max entry commit_ts {max} > header last_commit_ts {header}: entry commit_ts exceeds snapshot header last_commit_ts",
        path.display()
    )]
    TimestampCeiling {
        /// The payload.
        path: PathBuf,
        /// Largest entry commit timestamp.
        max: u64,
        /// The header's.
        header: u64,
    },
    /// `errRestoreSHA256Missing`.
    #[error("{}: ENCODE_INFO output_fsm_sha256 is empty: encoded FSM SHA-256 missing", path.display())]
    Sha256Missing {
        /// The sidecar.
        path: PathBuf,
    },
    /// `errRestoreSHA256Mismatch`.
    #[error("input {} has {got}, sidecar records {want}: encoded FSM SHA-256 mismatch", path.display())]
    Sha256Mismatch {
        /// The payload.
        path: PathBuf,
        /// Its SHA-256.
        got: String,
        /// The sidecar's.
        want: String,
    },
    /// `errRestoreKeyFormatMismatch`.
    #[error("{}: encoder_key_format_version {got}, current 1: encoder key-format version mismatch", path.display())]
    KeyFormatMismatch {
        /// The sidecar.
        path: PathBuf,
        /// The version found.
        got: u64,
    },
    /// `errRestoreSelfTestMissing`.
    #[error(
        "{}: rerun elastickv-snapshot-encode with --self-test or pass --allow-unverified-self-test: encoder self-test did not pass",
        path.display()
    )]
    SelfTestMissing {
        /// The sidecar.
        path: PathBuf,
    },
    /// `errRestoreClusterIDMissing`.
    #[error("{reason}: cluster_id missing")]
    ClusterIdMissing {
        /// Which rule refused it.
        reason: &'static str,
    },
    /// `errRestoreClusterIDMismatch`.
    #[error("source {source_id:?} target {target:?}: cluster_id mismatch")]
    ClusterIdMismatch {
        /// The sidecar's `manifest_cluster_id`.
        source_id: String,
        /// `--target-cluster-id`.
        target: String,
    },
    /// `errPeerFormatInvalid`.
    #[error("parse peers: {item:?}: raft peer format is invalid (want id=address)")]
    PeerFormat {
        /// The offending item, trimmed.
        item: String,
    },
    /// `--peers` had only empty items.
    #[error("--peers selected zero peers")]
    NoPeers,
    /// Two peers hash to the same node id.
    #[error("duplicate peer node id {node_id}")]
    DuplicatePeer {
        /// The FNV-1a-64 node id.
        node_id: u64,
    },
    /// `errRestoreHLCCeilingOverflow`.
    #[error("last_commit_ts {last_commit_ts} has physical ms {physical_ms}: HLC ceiling overflow")]
    HlcCeilingOverflow {
        /// The header's timestamp.
        last_commit_ts: u64,
        /// Its physical half, already 2^48-1.
        physical_ms: u64,
    },
    /// `ErrExternalSnapshotRestoreExists`.
    #[error("{what} exists: {}: destination already exists", path.display())]
    DestinationExists {
        /// `destination` or `temporary destination`.
        what: &'static str,
        /// The data dir or its `.restore-prep` sibling.
        path: PathBuf,
    },
    /// `ErrExternalSnapshotRestoreSHA256`: the payload changed between the check and
    /// the copy.
    #[error("{}: copied payload has {got}, expected {want}: payload SHA-256 mismatch", path.display())]
    CopiedSha256Mismatch {
        /// The payload.
        path: PathBuf,
        /// SHA-256 of what was copied.
        got: String,
        /// What the check read.
        want: String,
    },
}

impl RestoreError {
    /// An I/O error on `path`.
    #[cold]
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RestoreError::Io {
            path: path.into(),
            source,
        }
    }
}

impl ErrorCode for RestoreError {
    fn code(&self) -> &'static str {
        match self {
            RestoreError::InputSymlink { .. } | RestoreError::InputNotRegular { .. } => {
                "external-snapshot-restore-invalid"
            }
            RestoreError::Io { .. } => "io",
            RestoreError::EncodeInfoTooLarge { .. } => "restore-encode-info-too-large",
            RestoreError::EncodeInfoMalformed { .. } => "restore-encode-info-malformed",
            RestoreError::EncodeInfoVersion { .. } => "unsupported-encode-info-format-version",
            RestoreError::Payload { source, .. } => source.code(),
            RestoreError::TimestampCeiling { .. } => "restore-snapshot-timestamp-ceiling",
            RestoreError::Sha256Missing { .. } => "restore-sha256-missing",
            RestoreError::Sha256Mismatch { .. } => "restore-sha256-mismatch",
            RestoreError::KeyFormatMismatch { .. } => "restore-key-format-mismatch",
            RestoreError::SelfTestMissing { .. } => "restore-self-test-missing",
            RestoreError::ClusterIdMissing { .. } => "restore-cluster-id-missing",
            RestoreError::ClusterIdMismatch { .. } => "restore-cluster-id-mismatch",
            RestoreError::PeerFormat { .. } => "peer-format-invalid",
            RestoreError::NoPeers => "no-peers",
            RestoreError::DuplicatePeer { .. } => "duplicate-peer",
            RestoreError::HlcCeilingOverflow { .. } => "restore-hlc-ceiling-overflow",
            RestoreError::DestinationExists { .. } => "external-snapshot-restore-exists",
            RestoreError::CopiedSha256Mismatch { .. } => "external-snapshot-restore-sha256",
        }
    }

    /// Exit 2 exactly for the Go tool's data errors (FORMAT.md §7.3); symlink and FIFO
    /// inputs, peers, an existing destination and I/O exit 1.
    fn exit_class(&self) -> ExitClass {
        match self {
            RestoreError::InputSymlink { .. }
            | RestoreError::InputNotRegular { .. }
            | RestoreError::Io { .. }
            | RestoreError::PeerFormat { .. }
            | RestoreError::NoPeers
            | RestoreError::DuplicatePeer { .. }
            | RestoreError::DestinationExists { .. } => ExitClass::Usage,
            RestoreError::Payload { source, .. } => source.exit_class(),
            _ => ExitClass::Data,
        }
    }
}
