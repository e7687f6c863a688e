//! Payloads uploaded by `elastickv-snapshot-offload publish` (docs/format.md §1.5).
//!
//! `publish` stores a live snapshot file *without* its 4-byte CRC32C footer, under
//! `v1/payloads/sha256/<2 hex>/<sha256>.fsm`, and describes it in a manifest JSON
//! (`payload.bytes`, `payload.sha256`, `payload.source_crc32c`: the footer value, i.e.
//! the CRC32C of every payload byte). On its own such a payload looks exactly like a
//! truncated live file and is refused; with its manifest, the three recorded facts
//! vouch for it instead of the footer.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, ExitClass};

/// The manifest schema `publish` writes.
pub const OFFLOAD_SCHEMA_VERSION: u64 = 1;
/// Largest manifest read (a real one is under 2 KiB).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Why an offload manifest or its payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum OffloadError {
    /// The manifest is not what `publish` writes.
    #[error("offload manifest {}: {reason}", path.display())]
    InvalidManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The payload disagrees with its manifest.
    #[error(
        "payload {} does not match offload manifest {}: {what} is {got}, the manifest records {want}",
        payload.display(), manifest.display()
    )]
    Mismatch {
        /// The payload file.
        payload: PathBuf,
        /// The manifest file.
        manifest: PathBuf,
        /// `length`, `SHA-256` or `CRC32C`.
        what: &'static str,
        /// What the payload has.
        got: String,
        /// What the manifest says.
        want: String,
    },
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl ErrorCode for OffloadError {
    fn code(&self) -> &'static str {
        match self {
            OffloadError::InvalidManifest { .. } => "offload-manifest-invalid",
            OffloadError::Mismatch { .. } => "offload-payload-mismatch",
            OffloadError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            OffloadError::Io { .. } => ExitClass::Usage,
            _ => ExitClass::Data,
        }
    }
}

/// The facts of a manifest this tool uses; the rest (conf state, keys, the
/// manifest's own hash) is for `offload restore` and is not checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffloadManifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Raft group of the snapshot.
    pub group_id: u64,
    /// Raft index of the snapshot.
    pub snapshot_index: u64,
    /// Raft term of the snapshot.
    pub snapshot_term: u64,
    /// Payload length in bytes.
    pub payload_bytes: u64,
    /// Payload SHA-256, lowercase hex.
    pub payload_sha256: String,
    /// CRC32C of the payload (the footer `publish` cut off).
    pub source_crc32c: u32,
}

#[derive(Deserialize)]
struct RawManifest {
    schema_version: u64,
    #[serde(default)]
    group_id: u64,
    snapshot_index: u64,
    snapshot_term: u64,
    payload: RawPayload,
}

#[derive(Deserialize)]
struct RawPayload {
    bytes: i64,
    sha256: String,
    source_crc32c: u32,
}

/// Reads and checks a manifest the way upstream validates the fields used here:
/// schema 1, index and term > 0, byte count ≥ 0, SHA-256 as 64 lowercase hex digits.
///
/// # Errors
/// [`OffloadError::InvalidManifest`] or the I/O error.
pub fn read_offload_manifest(path: &Path) -> Result<OffloadManifest, OffloadError> {
    let invalid = |reason: String| OffloadError::InvalidManifest {
        path: path.to_path_buf(),
        reason,
    };
    let io_error = |source| OffloadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut text = Vec::new();
    File::open(path)
        .map_err(io_error)?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(io_error)?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(invalid(format!("larger than {MAX_MANIFEST_BYTES} bytes")));
    }
    let raw: RawManifest =
        serde_json::from_slice(&text).map_err(|e| invalid(format!("not a manifest: {e}")))?;
    if raw.schema_version != OFFLOAD_SCHEMA_VERSION {
        return Err(invalid(format!(
            "unsupported manifest schema version {}",
            raw.schema_version
        )));
    }
    if raw.snapshot_index == 0 || raw.snapshot_term == 0 {
        return Err(invalid("snapshot index and term must be > 0".to_owned()));
    }
    let payload_bytes = u64::try_from(raw.payload.bytes)
        .map_err(|_| invalid("payload byte count must be >= 0".to_owned()))?;
    let sha = &raw.payload.sha256;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid(
            "payload sha256 must be 64 lowercase hex characters".to_owned(),
        ));
    }
    Ok(OffloadManifest {
        path: path.to_path_buf(),
        group_id: raw.group_id,
        snapshot_index: raw.snapshot_index,
        snapshot_term: raw.snapshot_term,
        payload_bytes,
        payload_sha256: sha.clone(),
        source_crc32c: raw.payload.source_crc32c,
    })
}

/// Checks the payload's length, then its SHA-256 and CRC32C (one read), against the
/// manifest. The length comes first so a wrong file is refused without reading it.
///
/// # Errors
/// [`OffloadError::Mismatch`] naming the first fact that differs, or the I/O error.
pub fn verify_payload(payload: &Path, manifest: &OffloadManifest) -> Result<(), OffloadError> {
    let io_error = |source| OffloadError::Io {
        path: payload.to_path_buf(),
        source,
    };
    let mismatch = |what, got: String, want: String| OffloadError::Mismatch {
        payload: payload.to_path_buf(),
        manifest: manifest.path.clone(),
        what,
        got,
        want,
    };
    let mut file = File::open(payload).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length != manifest.payload_bytes {
        return Err(mismatch(
            "length",
            format!("{length} bytes"),
            format!("{} bytes", manifest.payload_bytes),
        ));
    }
    let (sha, crc) = digest(&mut file).map_err(io_error)?;
    if sha != manifest.payload_sha256 {
        return Err(mismatch("SHA-256", sha, manifest.payload_sha256.clone()));
    }
    if crc != manifest.source_crc32c {
        return Err(mismatch(
            "CRC32C",
            format!("{crc:#010x}"),
            format!("{:#010x}", manifest.source_crc32c),
        ));
    }
    Ok(())
}

/// SHA-256 (lowercase hex) and CRC32C of everything `input` yields.
fn digest(input: &mut impl Read) -> io::Result<(String, u32)> {
    let mut sha = Sha256::new();
    let mut crc = 0u32;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha.update(&buf[..n]);
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
    Ok((hex::encode(sha.finalize()), crc))
}

#[cfg(test)]
#[path = "offload_tests.rs"]
mod tests;
