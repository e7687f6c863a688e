//! The self-test: decode a produced snapshot (from disk) and compare what the decoder
//! produces, as it is produced, with the tree it was encoded from (docs/format.md
//! §6.6). No decoded tree is written: the decoder's output is a
//! [`ComparingSink`].

use std::path::Path;

use crate::adapter::{AdapterSpec, DecodeFlags, Warnings};
use crate::error::{ErrorCode, ExitClass};
use crate::scan::{DecodeError, Scan};

use super::compare::{CompareOptions, ComparingSink};
use super::decode::{Budget, DecodeInput, Decoded, Output, decode_into};
use super::report::{Report, Verdict};
use super::{DumpError, Progress, adapters};

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
    /// The producer flags of the tree under test (its manifest's).
    pub(crate) flags: &'a DecodeFlags,
    pub(crate) last_commit_ts: u64,
    /// Where the decode's sorts spill (anonymous runs only).
    pub(crate) scratch_root: &'a Path,
    pub(crate) sort_memory_bytes: usize,
    pub(crate) report_cap: usize,
}

/// The self-test's decode output: every file compared with `input_root`'s as it is
/// produced.
struct Compared<'a> {
    input_root: &'a Path,
    adapters: &'a [&'static AdapterSpec],
    keep: usize,
}

impl Output for Compared<'_> {
    type Sink = ComparingSink;

    fn open(&self, budget: &Budget<'_>) -> Result<ComparingSink, DecodeError> {
        let share = budget.split().1;
        let options = CompareOptions {
            sort_memory_bytes: share.memory_budget,
            scratch_dir: share.scratch_dir,
            keep: self.keep,
        };
        ComparingSink::new(self.input_root, self.adapters, &options, budget.jobs)
            .map_err(|e| DecodeError::io("open the input tree", e.into()))
    }

    /// A first pass's comparisons went with its sink.
    fn clear(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// Decodes `plan.fsm` and compares every file the decoder produces, as it is
/// produced, with `plan.input_root`; nothing is written but anonymous sort runs under
/// the scratch root. A snapshot that the decoder rejects (a data error) or that
/// carries another timestamp is a mismatch, not an error; failing to run the test
/// (scratch space full, I/O errors while decoding or reading the input) is an error:
/// the snapshot was never judged.
pub(crate) fn run_self_test(
    plan: &SelfTestPlan<'_>,
    progress: &mut dyn Progress,
) -> Result<SelfTestOutcome, DumpError> {
    let names = adapters::names(adapters::set_of(plan.adapters));
    let decoded = decode_into(
        DecodeInput {
            path: plan.fsm,
            cut: None,
        },
        &Compared {
            input_root: plan.input_root,
            adapters: plan.adapters,
            keep: plan.report_cap,
        },
        plan.adapters,
        plan.flags,
        &Budget {
            scratch: plan.scratch_root,
            sort_memory_bytes: plan.sort_memory_bytes,
            jobs: super::default_jobs(),
        },
        progress,
        "self-test: ",
    )
    .and_then(|mut decoded| {
        // Every comparison ran (the threads' too) before anything is judged.
        decoded
            .tree
            .close()
            .map_err(|e| DecodeError::io("compare the decoded files", e.into()))?;
        Ok(decoded)
    });
    let Decoded {
        scan,
        warnings,
        tree: sink,
    } = match decoded {
        Ok(done) => done,
        Err(e) if e.exit_class() == ExitClass::Usage => {
            return Err(DumpError::SelfTestNotRun {
                scratch: plan.scratch_root.to_path_buf(),
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
    let comparison = sink.finish(progress)?;
    // The input tree still exists: the report reads its side.
    let report = Report::from_comparison(&comparison, plan.report_cap)?;
    Ok(SelfTestOutcome {
        mismatch_txt: comparison.go_mismatch_text(),
        report,
        scan: Some(scan),
        warnings,
    })
}
