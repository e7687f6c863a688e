//! `prepare-restore`: seeds a new etcd-raft data directory from an encoder payload
//! (FORMAT.md §1.3, §7.3, §8.4; docs/format.md §10).
//!
//! The checks run in the Go tool's order — options, sidecar, a full read of the
//! payload, sidecar fields, cluster id, peers, HLC ceiling, data dir — so the first
//! error reported is the one Go reports. Unlike Go, the payload is read once: when the
//! data dir and its staging sibling are free, the validating read also copies the
//! bytes into the staging `.fsm` (hashing them on the way); any later failure removes
//! the staging directory. An existing data dir is never touched.
//!
//! Output (byte-identical to the Go tool's for the same inputs):
//! `fsm-snap/<%016x index>.fsm`, `snap/<%016x term>-<%016x index>.snap`,
//! `wal/0000000000000000-0000000000000000.wal` (64,000,000 bytes), and
//! `etcd-raft-peers.bin`.

mod datadir;
mod error;
pub mod fsm_snap;
mod input;
pub mod payload;
pub mod peers;
pub mod raftpb;
pub mod sidecar;
pub mod snap;
pub mod wal;

use std::path::{Path, PathBuf};

pub use datadir::{FSM_SNAP_DIR, PEERS_FILE, SNAP_DIR, WAL_DIR, staging_path};
pub use error::{InputKind, RestoreError};
pub use peers::{Peer, parse_peers};
pub use sidecar::{Sidecar, read_sidecar};

use datadir::{Layout, Staging, ensure_absent};
use input::open_regular;
use payload::{CopyTarget, PayloadScan, scan_payload};

use crate::pipeline::encode_info::encode_info_path;
use crate::pipeline::{NoProgress, Progress};

/// What to prepare: the Go tool's flags, plus `dry_run`.
#[derive(Debug, Clone, Default)]
pub struct PrepareRequest {
    /// `--input`: the encoder's payload.
    pub input: PathBuf,
    /// `--encode-info`; default `<input>.encode_info.json`.
    pub encode_info: Option<PathBuf>,
    /// `--data-dir`: must not exist.
    pub data_dir: PathBuf,
    /// `--index` (> 0).
    pub index: u64,
    /// `--term` (> 0).
    pub term: u64,
    /// `--peers`: `id=addr,…`.
    pub peers: String,
    /// `--target-cluster-id`.
    pub target_cluster_id: String,
    /// `--fresh-cluster`.
    pub fresh_cluster: bool,
    /// `--allow-missing-cluster-id`.
    pub allow_missing_cluster_id: bool,
    /// `--allow-unverified-self-test`.
    pub allow_unverified_self_test: bool,
    /// Run every check, write nothing.
    pub dry_run: bool,
}

impl PrepareRequest {
    /// The sidecar path in effect.
    pub fn encode_info_path(&self) -> PathBuf {
        self.encode_info
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| encode_info_path(&self.input))
    }
}

/// A prepared (or, for a dry run, checked) data directory.
#[derive(Debug, Clone)]
pub struct PrepareOutcome {
    /// The data dir (cleaned).
    pub data_dir: PathBuf,
    /// `fsm-snap/<index>.fsm` inside it.
    pub fsm: PathBuf,
    /// `snap/<term>-<index>.snap` inside it.
    pub snap: PathBuf,
    /// The WAL segment inside it.
    pub wal: PathBuf,
    /// The peers file inside it.
    pub peers_file: PathBuf,
    /// The `.fsm` footer (and token crc).
    pub crc32c: u32,
    /// What the payload read found.
    pub payload: PayloadScan,
    /// HLC ceiling written into the `.fsm` prefix.
    pub ceiling_ms: u64,
    /// Members, sorted by node id.
    pub peers: Vec<Peer>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// An option the Go tool rejects before touching any file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OptionError(pub &'static str);

/// The Go flag checks, in Go's order.
pub fn check_options(request: &PrepareRequest) -> Result<(), OptionError> {
    if request.input.as_os_str().is_empty() {
        return Err(OptionError("--input is required"));
    }
    if request.data_dir.as_os_str().is_empty() {
        return Err(OptionError("--data-dir is required"));
    }
    if request.index == 0 {
        return Err(OptionError("--index must be > 0"));
    }
    if request.term == 0 {
        return Err(OptionError("--term must be > 0"));
    }
    if request.peers.trim().is_empty() {
        return Err(OptionError("--peers is required"));
    }
    if request.fresh_cluster && !request.target_cluster_id.is_empty() {
        return Err(OptionError(
            "--fresh-cluster and --target-cluster-id are mutually exclusive",
        ));
    }
    Ok(())
}

/// Prepares the data directory (the options must have passed [`check_options`]).
pub fn prepare_restore(request: &PrepareRequest) -> Result<PrepareOutcome, RestoreError> {
    prepare_restore_with_progress(request, &mut NoProgress)
}

/// [`prepare_restore`], reporting the payload read to `progress`.
pub fn prepare_restore_with_progress(
    request: &PrepareRequest,
    progress: &mut dyn Progress,
) -> Result<PrepareOutcome, RestoreError> {
    let result = prepare_inner(request, progress);
    progress.finish();
    result
}

fn prepare_inner(
    request: &PrepareRequest,
    progress: &mut dyn Progress,
) -> Result<PrepareOutcome, RestoreError> {
    let sidecar_path = request.encode_info_path();
    let sidecar = read_sidecar(&sidecar_path)?;
    let payload = open_regular(&request.input, InputKind::Payload)?;
    let data_dir = clean(&request.data_dir);
    let staging_root = staging_path(&data_dir);
    let mut staging = if request.dry_run {
        None
    } else {
        early_staging(&data_dir, &staging_root, request.index)
    };
    let scan = scan_payload(
        &request.input,
        payload,
        staging.as_ref().map(|s| {
            let (path, file) = s.fsm_target();
            CopyTarget { path, file }
        }),
        progress,
    )?;
    if scan.max_commit_ts > scan.last_commit_ts {
        return Err(RestoreError::TimestampCeiling {
            path: request.input.clone(),
            max: scan.max_commit_ts,
            header: scan.last_commit_ts,
        });
    }
    check_sidecar(&sidecar, &sidecar_path, &scan, request)?;
    check_cluster_id(&sidecar.manifest_cluster_id, request)?;
    let peers = parse_peers(&request.peers)?;
    let ceiling_ms = fsm_snap::hlc_ceiling_ms(scan.last_commit_ts)?;
    let fsm_prefix_crc = scan.crc32c;
    ensure_absent(&data_dir, "destination")?;
    if request.dry_run {
        ensure_absent(&staging_root, "temporary destination")?;
        if !parent_exists(&data_dir) {
            return Err(RestoreError::io(
                parent_of(&data_dir),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
    } else {
        let ready = match staging.take() {
            Some(s) => s,
            None => second_pass(request, &staging_root, &scan, progress)?,
        };
        ready.seed(&Layout {
            index: request.index,
            term: request.term,
            crc32c: fsm_prefix_crc,
            peers: &peers,
        })?;
        ready.publish(&data_dir)?;
    }
    Ok(PrepareOutcome {
        fsm: data_dir
            .join(FSM_SNAP_DIR)
            .join(fsm_snap::file_name(request.index)),
        snap: data_dir
            .join(SNAP_DIR)
            .join(snap::file_name(request.term, request.index)),
        wal: data_dir.join(WAL_DIR).join(wal::FILE_NAME),
        peers_file: data_dir.join(PEERS_FILE),
        data_dir,
        crc32c: fsm_prefix_crc,
        payload: scan,
        ceiling_ms,
        peers,
        dry_run: request.dry_run,
    })
}

/// Stages the copy during the validating read when nothing is in the way; otherwise
/// the data-dir step reports what is, in its turn.
fn early_staging(data_dir: &Path, staging_root: &Path, index: u64) -> Option<Staging> {
    if ensure_absent(data_dir, "destination").is_err() {
        return None;
    }
    Staging::create(staging_root, index).ok()
}

/// The data dir became free only after the read (or staging failed early): stage
/// now, copy the payload again, and require the same bytes (Go's
/// `ErrExternalSnapshotRestoreSHA256`).
fn second_pass(
    request: &PrepareRequest,
    staging_root: &Path,
    first: &PayloadScan,
    progress: &mut dyn Progress,
) -> Result<Staging, RestoreError> {
    let staging = Staging::create(staging_root, request.index)?;
    let payload = open_regular(&request.input, InputKind::Payload)?;
    let (path, file) = staging.fsm_target();
    let again = scan_payload(
        &request.input,
        payload,
        Some(CopyTarget { path, file }),
        progress,
    )?;
    if again.sha256 != first.sha256 || again.crc32c != first.crc32c {
        return Err(RestoreError::CopiedSha256Mismatch {
            path: request.input.clone(),
            got: again.sha256,
            want: first.sha256.clone(),
        });
    }
    Ok(staging)
}

/// SHA-256 (case-insensitive), key format, self-test: Go's `validateEncodeInfo`.
fn check_sidecar(
    sidecar: &Sidecar,
    sidecar_path: &Path,
    scan: &PayloadScan,
    request: &PrepareRequest,
) -> Result<(), RestoreError> {
    if sidecar.output_fsm_sha256.is_empty() {
        return Err(RestoreError::Sha256Missing {
            path: sidecar_path.to_path_buf(),
        });
    }
    if !sidecar.output_fsm_sha256.eq_ignore_ascii_case(&scan.sha256) {
        return Err(RestoreError::Sha256Mismatch {
            path: request.input.clone(),
            got: scan.sha256.clone(),
            want: sidecar.output_fsm_sha256.clone(),
        });
    }
    if sidecar.encoder_key_format_version != 1 {
        return Err(RestoreError::KeyFormatMismatch {
            path: sidecar_path.to_path_buf(),
            got: sidecar.encoder_key_format_version,
        });
    }
    let self_tested = sidecar.self_test_ran && sidecar.self_test_matched;
    if !(request.allow_unverified_self_test || self_tested) {
        return Err(RestoreError::SelfTestMissing {
            path: sidecar_path.to_path_buf(),
        });
    }
    Ok(())
}

/// Go's `validateClusterID`: `--fresh-cluster` does not excuse an empty source id;
/// only `--allow-missing-cluster-id` does.
fn check_cluster_id(source: &str, request: &PrepareRequest) -> Result<(), RestoreError> {
    if source.is_empty() {
        if request.allow_missing_cluster_id {
            return Ok(());
        }
        return Err(RestoreError::ClusterIdMissing {
            reason: "ENCODE_INFO manifest_cluster_id is empty",
        });
    }
    if request.fresh_cluster {
        return Ok(());
    }
    if request.target_cluster_id.is_empty() {
        return Err(RestoreError::ClusterIdMissing {
            reason: "pass --target-cluster-id or --fresh-cluster",
        });
    }
    if source != request.target_cluster_id {
        return Err(RestoreError::ClusterIdMismatch {
            source_id: source.to_owned(),
            target: request.target_cluster_id.clone(),
        });
    }
    Ok(())
}

/// `filepath.Clean` for the data dir: `data/` and `data` name the same staging sibling.
fn clean(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path.components().collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn parent_exists(path: &Path) -> bool {
    parent_of(path).is_dir()
}

#[cfg(test)]
mod prepare_tests;
