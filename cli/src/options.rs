//! What decode, encode, verify and generate have in common: the options they share,
//! flattened into each one's `Opts` so that a flag has one name, parser and default
//! everywhere, and [`finish`], the tail of every run (progress, report, warnings,
//! summary).
//!
//! Where the subcommands word an option's help differently (what their scratch space
//! holds, what their report compares), each sets its own with
//! `#[command(mut_arg("<field>", …))]`; such fields carry no doc comment here, since it
//! would become the help of all of them. `generate` shares only `--json`: its
//! `--scratch-root` holds the snapshot it decodes, not a sort, and conflicts with
//! `--fsm`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use elastickv_codec::adapter::Warnings;
use elastickv_codec::pipeline::report::Report;
use elastickv_codec::pipeline::{DEFAULT_REPORT_CAP, DumpError};
use elastickv_codec::tree::fs::open_sidecar;

use crate::failure::Failure;
use crate::progress::Bar;
use crate::render;

/// `--scratch-root` and `--sort-memory`: where the external sorts spill and how much
/// memory they may hold (help per subcommand).
#[derive(Debug, Args)]
pub struct SortOpts {
    #[arg(long)]
    pub scratch_root: Option<PathBuf>,
    #[arg(long, default_value = "192MiB", value_parser = crate::parse_size)]
    pub sort_memory: usize,
}

/// `--report` and `--report-cap`: the comparison report of a self-test or round trip
/// (`--report`'s help, and the flag it requires, per subcommand).
#[derive(Debug, Args)]
pub struct ReportOpts {
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Differing files the report details.
    #[arg(long, default_value_t = DEFAULT_REPORT_CAP)]
    pub report_cap: usize,
}

impl ReportOpts {
    /// Where `--report` goes, if anywhere (`-` = stdout).
    pub fn target(&self) -> Option<&Path> {
        self.report.as_deref()
    }

    /// `--report -` and `--json` would interleave two documents on stdout; refused
    /// before any work is done.
    pub fn check_stdout(&self, summary: &SummaryOpts) -> Result<(), Failure> {
        if summary.json && self.target() == Some(Path::new("-")) {
            return Err(Failure::usage(
                "usage",
                "--report - and --json both write to stdout; send the report to a file",
            ));
        }
        Ok(())
    }
}

/// `--json`.
#[derive(Debug, Args)]
pub struct SummaryOpts {
    /// Print a JSON summary on stdout instead of the text line.
    #[arg(long)]
    pub json: bool,
}

/// What a successful run prints.
pub trait RunSummary {
    /// The text summary line.
    fn text(&self) -> String;
    /// The `--json` summary.
    fn json(&self) -> serde_json::Value;
    /// Warnings the run raised, printed on stderr before the summary.
    fn warnings(&self) -> Option<&Warnings> {
        None
    }
    /// The self-test or round-trip report, written to `--report`.
    fn report(&self) -> Option<&Report> {
        None
    }
}

/// How a run's error leaves the process.
pub trait IntoFailure {
    /// The failure; `report` is the `--report` target, which still gets the report of a
    /// failed comparison, since that is when it is wanted most.
    fn into_failure(self, report: Option<&Path>) -> Failure;
}

impl IntoFailure for DumpError {
    fn into_failure(self, report: Option<&Path>) -> Failure {
        if let (DumpError::SelfTestMismatch(mismatch), Some(target)) = (&self, report)
            && let Err(failure) = write_report(target, &mismatch.outcome.report)
        {
            return failure;
        }
        Failure::from_dump(&self)
    }
}

/// `generate`'s errors, failures already (some with a hint, `--force replaces it`).
impl IntoFailure for Failure {
    fn into_failure(self, _report: Option<&Path>) -> Failure {
        self
    }
}

/// The tail every run shares: `work` under a progress bar (cleared before anything is
/// printed), its error turned into the command's failure, then the report to
/// `report`, the warnings and the text or JSON summary.
pub fn finish<S: RunSummary, E: IntoFailure>(
    summary: &SummaryOpts,
    report: Option<&Path>,
    work: impl FnOnce(&mut Bar) -> Result<S, E>,
) -> Result<(), Failure> {
    let done = Bar::run(work).map_err(|e| e.into_failure(report))?;
    if let (Some(target), Some(compared)) = (report, done.report()) {
        write_report(target, compared)?;
    }
    if let Some(warnings) = done.warnings() {
        render::print_warnings(warnings);
    }
    if summary.json {
        println!("{:#}", done.json());
    } else {
        println!("{}", done.text());
    }
    Ok(())
}

/// Writes a rendered report to `target` (`-` = stdout) without following links.
fn write_report(target: &Path, report: &Report) -> Result<(), Failure> {
    let text = report.render();
    if target == Path::new("-") {
        print!("{text}");
        return Ok(());
    }
    let mut file = open_sidecar(target)
        .map_err(|e| Failure::from_error(&format!("write report {}", target.display()), &e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Failure::usage("io", format!("write report {}: {e}", target.display())))
}
