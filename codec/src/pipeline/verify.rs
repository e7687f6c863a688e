//! Checking a dump tree: MANIFEST, CHECKSUMS, unlisted files, and optionally the
//! encode → decode round trip.

use std::path::PathBuf;

use crate::adapter::DecodeFlags;
use crate::dispatch::AdapterSet;
use crate::sort::SortOptions;
use crate::tree::checksums::{list_unlisted_files, verify_checksums};
use crate::tree::manifest::{Adapters, MANIFEST_FILE_NAME, Manifest};

use super::adapters::require_supported;
use super::encode::{plan, write_snapshot};
use super::report::display_path;
use super::selftest::{SelfTestOutcome, SelfTestPlan, run_self_test};
use super::{DEFAULT_REPORT_CAP, DEFAULT_SORT_MEMORY, DumpError, Progress, SelfTestFailure};

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The dump root.
    pub root: PathBuf,
    /// Also encode the tree and decode it back in scratch space.
    pub round_trip: bool,
    /// Adapters for the round trip; default: those the manifest enables.
    pub adapters: Option<AdapterSet>,
    /// Scratch space (default: the system temp dir).
    pub scratch_root: Option<PathBuf>,
    /// Memory budget of the external sorts.
    pub sort_memory_bytes: usize,
    /// Differing files detailed in the report.
    pub report_cap: usize,
}

impl VerifyRequest {
    /// A request with defaults.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        VerifyRequest {
            root: root.into(),
            round_trip: false,
            adapters: None,
            scratch_root: None,
            sort_memory_bytes: DEFAULT_SORT_MEMORY,
            report_cap: DEFAULT_REPORT_CAP,
        }
    }
}

/// What a successful verification checked.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    /// The manifest.
    pub manifest: Manifest,
    /// Files verified against CHECKSUMS.
    pub files: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// The round trip, when requested (then it matched).
    pub round_trip: Option<SelfTestOutcome>,
}

/// Verifies `request.root`.
pub fn verify_tree(
    request: &VerifyRequest,
    progress: &mut dyn Progress,
) -> Result<VerifyOutcome, DumpError> {
    let result = verify_inner(request, progress);
    progress.finish();
    result
}

fn verify_inner(
    request: &VerifyRequest,
    progress: &mut dyn Progress,
) -> Result<VerifyOutcome, DumpError> {
    let root = &request.root;
    super::check_scratch_root(request.scratch_root.as_deref())?;
    let manifest =
        Manifest::read_file(&root.join(MANIFEST_FILE_NAME)).map_err(DumpError::ReadManifest)?;
    progress.phase("verifying CHECKSUMS", None);
    let summary = verify_checksums(root).map_err(DumpError::Checksums)?;
    let unlisted = list_unlisted_files(root).map_err(DumpError::Checksums)?;
    if let Some(first) = unlisted.first() {
        return Err(DumpError::UnlistedFiles {
            count: unlisted.len(),
            first: display_path(first.as_os_str().as_encoded_bytes()),
        });
    }
    let round_trip = if request.round_trip {
        let adapters = request.adapters.unwrap_or_else(|| {
            manifest
                .adapters
                .as_ref()
                .map_or_else(AdapterSet::default, Adapters::enabled)
        });
        let specs = require_supported(adapters)?;
        let plan = plan(root, &specs, None)?;
        let scratch_root = request
            .scratch_root
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let fsm = tempfile::Builder::new()
            .prefix("verify-round-trip-")
            .suffix(".fsm")
            .tempfile_in(&scratch_root)
            .map_err(|e| {
                DumpError::io(
                    format!("create a scratch file in {}", scratch_root.display()),
                    e,
                )
            })?;
        let file = fsm
            .as_file()
            .try_clone()
            .map_err(|e| DumpError::io("open scratch snapshot", e))?;
        write_snapshot(
            root,
            &specs,
            plan.last_commit_ts,
            SortOptions {
                memory_budget: request.sort_memory_bytes,
                scratch_dir: scratch_root.clone(),
            },
            file,
            progress,
        )?;
        let outcome = run_self_test(
            &SelfTestPlan {
                fsm: fsm.path(),
                input_root: root,
                adapters: &specs,
                flags: &DecodeFlags::of_manifest(&plan.manifest),
                last_commit_ts: plan.last_commit_ts,
                scratch_root: &scratch_root,
                sort_memory_bytes: request.sort_memory_bytes,
                report_cap: request.report_cap,
            },
            progress,
        )?;
        if !outcome.matched() {
            return Err(DumpError::SelfTestMismatch(Box::new(SelfTestFailure {
                mismatch_path: None,
                outcome,
                notes: Vec::new(),
            })));
        }
        Some(outcome)
    } else {
        None
    };
    Ok(VerifyOutcome {
        manifest,
        files: summary.files,
        bytes: summary.bytes,
        round_trip,
    })
}
