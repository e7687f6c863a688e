//! Why a pipeline failed, with a stable code and exit class.

use std::path::PathBuf;

use crate::assemble::EncodeError;
use crate::error::{ErrorCode, ExitClass};
use crate::scan::DecodeError;
use crate::tree::checksums::ChecksumsError;
use crate::tree::fs::{FsError, FsErrorKind};
use crate::tree::manifest::ManifestError;

use super::selftest::SelfTestOutcome;

/// A self-test (or `verify --round-trip`) that ran and did not match, with everything
/// needed to explain it.
#[derive(Debug)]
pub struct SelfTestFailure {
    /// `<output>.mismatch.txt`, when one was written (encode only).
    pub mismatch_path: Option<PathBuf>,
    /// The comparison, its Go `mismatch.txt` text and the rich report.
    pub outcome: SelfTestOutcome,
    /// Secondary problems that did not change the outcome (a sidecar that could not
    /// be written, a stale output that could not be removed), one sentence each.
    pub notes: Vec<String>,
}

/// Why a decode, encode or verify failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// A bad argument: missing flag, unknown adapter, unparseable value.
    #[error("{message}")]
    Usage {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The decode output exists and is not an empty directory.
    #[error("{}: {reason}; --output must not exist or be an empty directory", path.display())]
    OutputNotEmpty {
        /// The `--output` path.
        path: PathBuf,
        /// What is there.
        reason: String,
    },
    /// The output file exists and the caller asked not to replace it.
    #[error("{}: already exists; refusing to replace it", .0.display())]
    OutputExists(PathBuf),
    /// The input was refused before anything was written (an offload payload that
    /// disagrees with its manifest, a `--as-of` cut after the last commit).
    #[error("decode {}: {source}", input.display())]
    Input {
        /// The input file.
        input: PathBuf,
        /// Why.
        source: DecodeError,
    },
    /// The decode failed; the tree is partial and carries no MANIFEST/CHECKSUMS.
    #[error(
        "decode {}: {source} ({} is incomplete: no MANIFEST.json or CHECKSUMS was written)",
        input.display(),
        output.display()
    )]
    Decode {
        /// The input file.
        input: PathBuf,
        /// The output root left incomplete.
        output: PathBuf,
        /// The failure.
        source: DecodeError,
    },
    /// The input tree's MANIFEST.json is missing, unreadable, invalid or too new.
    #[error("read manifest: {0}")]
    ReadManifest(#[source] ManifestError),
    /// MANIFEST.json could not be written; the decoded tree is incomplete.
    #[error(
        "write MANIFEST.json: {source} ({} is incomplete: no MANIFEST.json or CHECKSUMS was written)",
        output.display()
    )]
    WriteManifest {
        /// The output root left incomplete.
        output: PathBuf,
        /// The failure.
        source: ManifestError,
    },
    /// CHECKSUMS could not be written; the decoded tree is incomplete, and the
    /// MANIFEST.json written just before was removed again.
    #[error("write CHECKSUMS: {source} ({incomplete})")]
    WriteChecksums {
        /// The failure.
        source: ChecksumsError,
        /// `<output> is incomplete: …`, saying what became of MANIFEST.json.
        incomplete: String,
    },
    /// CHECKSUMS did not verify.
    #[error("verify CHECKSUMS: {0}")]
    Checksums(#[source] ChecksumsError),
    /// Regular files that CHECKSUMS does not list.
    #[error("{count} file(s) not listed in CHECKSUMS, first: {first}")]
    UnlistedFiles {
        /// How many.
        count: usize,
        /// The first, in byte order.
        first: String,
    },
    /// `errAdapterNotInManifest`: the producer did not dump this adapter.
    #[error(
        "adapter {0:?} selected but MANIFEST.json has no scope for it (use --adapter to restrict, or re-dump including this adapter): encode: adapter scope mismatch between MANIFEST.json and --adapter / on-disk tree"
    )]
    AdapterNotInManifest(&'static str),
    /// `ErrSelfTestLowerLastCommitTS`: the HLC ceiling may only rise.
    #[error(
        "--last-commit-ts {requested} < manifest {manifest}: backup: --last-commit-ts T < manifest.last_commit_ts (HLC ceiling regression)"
    )]
    LastCommitTsRegression {
        /// `--last-commit-ts`.
        requested: u64,
        /// The manifest's value.
        manifest: u64,
    },
    /// A producer mode the encoder cannot reverse (`ErrEncodeUnsupported*`).
    #[error("{message}")]
    UnsupportedProducerMode {
        /// Stable code.
        code: &'static str,
        /// The Go message.
        message: &'static str,
    },
    /// The encoder failed.
    #[error("EncodeSnapshot: {0}")]
    Encode(#[source] EncodeError),
    /// The self-test ran and the round trip did not reproduce the input.
    #[error("{}", self_test_message(.0))]
    SelfTestMismatch(Box<SelfTestFailure>),
    /// The self-test could not decode the produced snapshot, or compare what it
    /// decodes to with the input, for a reason that is not about the snapshot
    /// (scratch space full, an I/O error): it was never judged, so this is no
    /// mismatch and nothing is published.
    #[error(
        "self-test could not run: decoding the produced snapshot and comparing it with \
         the input (scratch space {}) failed: {source} \
         (an I/O failure, not a verdict on the snapshot; nothing was published)",
        scratch.display()
    )]
    SelfTestNotRun {
        /// The scratch root the decode's sorts spill into.
        scratch: PathBuf,
        /// The decoder's I/O failure.
        source: DecodeError,
    },
    /// `<output>.encode_info.json` could not be written; the output was rolled back.
    #[error("write encode_info sidecar: {0}")]
    Sidecar(#[source] FsError),
    /// A refused or failed file operation.
    #[error("{context}: {source}")]
    Fs {
        /// What was being done.
        context: String,
        /// The failure.
        source: FsError,
    },
    /// An I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The failure.
        source: std::io::Error,
    },
}

fn self_test_message(failure: &SelfTestFailure) -> String {
    match &failure.mismatch_path {
        Some(path) => format!(
            "self-test diff (see {}): backup: --self-test diff against --input",
            path.display()
        ),
        None => format!(
            "round trip does not reproduce the tree: {}",
            failure.outcome.summary()
        ),
    }
}

impl DumpError {
    /// A usage error.
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        DumpError::Usage {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DumpError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn fs(context: impl Into<String>, source: FsError) -> Self {
        DumpError::Fs {
            context: context.into(),
            source,
        }
    }

    /// A failed [`PendingFile`](crate::tree::publish::PendingFile) step: a name that
    /// must not be replaced is `output-exists`, anything else names what was being
    /// published.
    pub fn publish(source: FsError) -> Self {
        if source.kind() == FsErrorKind::Exists {
            return DumpError::OutputExists(source.path().to_path_buf());
        }
        DumpError::fs("publish", source)
    }

    /// The exit code `elastickv-snapshot-encode` (Go) uses: 2 for exactly the Go
    /// data sentinels (manifest invalid or newer, adapter not in manifest, timestamp
    /// regression, unsupported producer modes, any adapter error, self-test
    /// mismatch), 1 for everything else (I/O, scratch space, publishing).
    ///
    /// The builder's data errors (duplicate key, key or value too large) count as
    /// adapter errors: Go's builder raises them while the adapter adds the record,
    /// inside the adapter-data mark (a duplicate key exits 2 there); ours finds a
    /// duplicate only after the sort, outside the adapter, with the same meaning.
    pub fn go_encode_exit_code(&self) -> i32 {
        match self {
            DumpError::ReadManifest(e) => match e {
                ManifestError::Fs(_) => 1,
                _ => 2,
            },
            DumpError::AdapterNotInManifest(_)
            | DumpError::LastCommitTsRegression { .. }
            | DumpError::UnsupportedProducerMode { .. }
            | DumpError::SelfTestMismatch(_) => 2,
            DumpError::Encode(EncodeError::Adapter { .. })
            | DumpError::Encode(EncodeError::AdapterRootNotDir { .. }) => 2,
            DumpError::Encode(EncodeError::Build(e)) if e.exit_class() == ExitClass::Data => 2,
            _ => 1,
        }
    }
}

impl ErrorCode for DumpError {
    fn code(&self) -> &'static str {
        match self {
            DumpError::Usage { code, .. } => code,
            DumpError::OutputNotEmpty { .. } => "output-not-empty",
            DumpError::OutputExists(_) => "output-exists",
            DumpError::Decode { source, .. } | DumpError::Input { source, .. } => source.code(),
            DumpError::ReadManifest(e) | DumpError::WriteManifest { source: e, .. } => e.code(),
            DumpError::WriteChecksums { source: e, .. } | DumpError::Checksums(e) => e.code(),
            DumpError::UnlistedFiles { .. } => "unchecksummed-file",
            DumpError::AdapterNotInManifest(_) => "adapter-not-in-manifest",
            DumpError::LastCommitTsRegression { .. } => "self-test-lower-last-commit-ts",
            DumpError::UnsupportedProducerMode { code, .. } => code,
            DumpError::Encode(e) => e.code(),
            DumpError::SelfTestMismatch(_) => "self-test-mismatch",
            DumpError::SelfTestNotRun { source, .. } => source.code(),
            DumpError::Sidecar(e) => e.code(),
            DumpError::Fs { source, .. } => source.code(),
            DumpError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            DumpError::Usage { .. }
            | DumpError::OutputNotEmpty { .. }
            | DumpError::OutputExists(_)
            | DumpError::WriteManifest { .. }
            | DumpError::WriteChecksums { .. }
            | DumpError::Sidecar(_)
            | DumpError::SelfTestNotRun { .. }
            | DumpError::Io { .. } => ExitClass::Usage,
            // Refusing to write through a planted link is about the machine, not the data.
            DumpError::Fs { .. } => ExitClass::Usage,
            DumpError::Decode { source, .. } | DumpError::Input { source, .. } => {
                source.exit_class()
            }
            DumpError::ReadManifest(e) => e.exit_class(),
            DumpError::Checksums(e) => e.exit_class(),
            DumpError::UnlistedFiles { .. }
            | DumpError::AdapterNotInManifest(_)
            | DumpError::LastCommitTsRegression { .. }
            | DumpError::UnsupportedProducerMode { .. }
            | DumpError::SelfTestMismatch(_) => ExitClass::Data,
            DumpError::Encode(e) => e.exit_class(),
        }
    }
}
