//! The self-test: decode a produced snapshot (from disk) into scratch space and
//! compare the result with the tree it was encoded from (docs/format.md §6.6).

use std::path::Path;

use crate::adapter::{AdapterSpec, Warnings};
use crate::error::{ErrorCode, ExitClass};
use crate::scan::{DecodeError, Scan};

use super::compare::{CompareOptions, compare_trees};
use super::decode::{Budget, decode_into};
use super::report::{Report, Verdict};
use super::{DumpError, Progress, adapters, leftovers};

/// What a self-test found.
#[derive(Debug, Clone)]
pub struct SelfTestOutcome {
    /// Go's `mismatch.txt` contents; empty when matched.
    pub mismatch_txt: Vec<u8>,
    /// The rich report.
    pub report: Report,
    /// The scratch decode's counters (absent when it failed).
    pub scan: Option<Scan>,
    /// The scratch decode's warnings.
    pub warnings: Warnings,
}

impl SelfTestOutcome {
    /// Whether the round trip reproduced the tree.
    pub fn matched(&self) -> bool {
        self.report.matched()
    }

    /// One line for logs.
    pub fn summary(&self) -> String {
        self.report.summary()
    }
}

/// Knobs of a self-test.
pub(crate) struct SelfTestPlan<'a> {
    pub(crate) fsm: &'a Path,
    pub(crate) input_root: &'a Path,
    pub(crate) adapters: &'a [&'static AdapterSpec],
    pub(crate) last_commit_ts: u64,
    pub(crate) scratch_root: &'a Path,
    pub(crate) sort_memory_bytes: usize,
    pub(crate) report_cap: usize,
    /// Name prefix of the scratch directory: `encode-self-test-`, followed for an
    /// encode by its output lock's tag and `-`, so that a rerun can tell its own dead
    /// run's directory from live ones ([`super::leftovers`]).
    pub(crate) scratch_prefix: &'a str,
}

/// Decodes `plan.fsm` into a fresh `<scratch_prefix>XXXXXX` directory under the scratch
/// root and compares it with `plan.input_root`. A snapshot that the decoder rejects
/// (a data error) or that carries another timestamp is a mismatch, not an error;
/// failing to run the test (scratch space full, I/O errors while decoding, reading
/// the trees) is an error: the snapshot was never judged.
pub(crate) fn run_self_test(
    plan: &SelfTestPlan<'_>,
    progress: &mut dyn Progress,
) -> Result<SelfTestOutcome, DumpError> {
    let names = adapters::names(adapters::set_of(plan.adapters));
    let scratch = tempfile::Builder::new()
        .prefix(plan.scratch_prefix)
        .rand_bytes(leftovers::SCRATCH_RANDOM_LEN)
        .tempdir_in(plan.scratch_root)
        .map_err(|e| {
            DumpError::io(
                format!(
                    "create self-test scratch dir in {}",
                    plan.scratch_root.display()
                ),
                e,
            )
        })?;
    let decoded = decode_into(
        plan.fsm,
        scratch.path(),
        plan.adapters,
        &Budget {
            scratch: plan.scratch_root,
            sort_memory_bytes: plan.sort_memory_bytes,
            jobs: super::default_jobs(),
        },
        progress,
        "self-test: ",
    )
    .and_then(|decoded| {
        // The scratch tree is compared, never listed: its digests are not needed, only
        // that every write landed.
        decoded
            .tree
            .finish()
            .map_err(|e| DecodeError::io("write the self-test tree", e.into()))?;
        Ok((decoded.scan, decoded.warnings))
    });
    let (scan, warnings) = match decoded {
        Ok(done) => done,
        Err(e) if e.exit_class() == ExitClass::Usage => {
            return Err(DumpError::SelfTestNotRun {
                scratch: scratch.path().to_path_buf(),
                source: e,
            });
        }
        Err(e) => {
            let error = e.to_string();
            return Ok(SelfTestOutcome {
                mismatch_txt: format!(
                    "self-test failed: DecodeSnapshot rejected the produced .fsm: {error}"
                )
                .into_bytes(),
                report: Report::early(Verdict::DecodeRejected { error }, names, plan.report_cap),
                scan: None,
                warnings: Warnings::default(),
            });
        }
    };
    let got = scan.header.last_commit_ts;
    if got != plan.last_commit_ts {
        let want = plan.last_commit_ts;
        return Ok(SelfTestOutcome {
            mismatch_txt: format!(
                "self-test failed: header.LastCommitTS mismatch (want {want}, got {got})\n"
            )
            .into_bytes(),
            report: Report::early(
                Verdict::HeaderMismatch { want, got },
                names,
                plan.report_cap,
            ),
            scan: Some(scan),
            warnings,
        });
    }
    progress.phase("self-test: comparing trees", None);
    let options = CompareOptions {
        sort_memory_bytes: plan.sort_memory_bytes,
        scratch_dir: plan.scratch_root.to_path_buf(),
        keep: plan.report_cap,
    };
    let comparison = compare_trees(
        plan.input_root,
        scratch.path(),
        plan.adapters,
        &options,
        progress,
    )?;
    // Built while the scratch tree still exists: the report reads both sides.
    let report = Report::from_comparison(&comparison, plan.report_cap)?;
    Ok(SelfTestOutcome {
        mismatch_txt: comparison.go_mismatch_text(),
        report,
        scan: Some(scan),
        warnings,
    })
}
