//! `verify`: MANIFEST valid, CHECKSUMS verified, nothing unlisted; with
//! `--round-trip`, the encode → decode self-test in scratch space.

use std::path::PathBuf;

use clap::Args;
use elastickv_codec::pipeline::adapters::parse_encode_adapters;
use elastickv_codec::pipeline::report::Report;
use elastickv_codec::pipeline::{self, VerifyOutcome, VerifyRequest};
use serde_json::json;

use crate::failure::Failure;
use crate::options::{self, ReportOpts, RunSummary, SortOpts, SummaryOpts};

#[derive(Debug, Args)]
#[command(
    mut_arg("scratch_root", |a| a.help(
        "Scratch space for the round trip (default: the system temp dir)"
    )),
    mut_arg("sort_memory", |a| a.help("Memory budget of the external sorts (e.g. 256MiB)")),
    mut_arg("report", |a| a.requires("round_trip").help(
        "Write the round-trip report to this file, or `-` for stdout"
    )),
)]
pub struct Opts {
    /// The dump root.
    dir: PathBuf,
    /// Also encode the tree and decode it back in scratch space, comparing the result.
    #[arg(long)]
    round_trip: bool,
    /// Adapters for the round trip (default: those MANIFEST.json enables).
    #[arg(long)]
    adapter: Option<String>,
    #[command(flatten)]
    sort: SortOpts,
    #[command(flatten)]
    report: ReportOpts,
    #[command(flatten)]
    summary: SummaryOpts,
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    opts.report.check_stdout(&opts.summary)?;
    let mut request = VerifyRequest::new(opts.dir);
    request.round_trip = opts.round_trip;
    request.adapters = opts
        .adapter
        .as_deref()
        .map(parse_encode_adapters)
        .transpose()
        .map_err(|e| Failure::from_dump(&e))?;
    request.scratch_root = opts.sort.scratch_root;
    request.sort_memory_bytes = opts.sort.sort_memory;
    request.report_cap = opts.report.report_cap;
    options::finish(&opts.summary, opts.report.target(), |bar| {
        pipeline::verify_tree(&request, bar).map(|outcome| Verified {
            request: &request,
            outcome,
        })
    })
}

/// A finished verification, as its summary tells it.
struct Verified<'r> {
    request: &'r VerifyRequest,
    outcome: VerifyOutcome,
}

impl RunSummary for Verified<'_> {
    fn text(&self) -> String {
        let outcome = &self.outcome;
        let round_trip = match &outcome.round_trip {
            Some(rt) => format!("; round trip {}", rt.summary()),
            None => String::new(),
        };
        format!(
            "verified {}: MANIFEST.json valid, {} files ({} bytes) match CHECKSUMS, none unlisted{round_trip}",
            self.request.root.display(),
            outcome.files,
            outcome.bytes
        )
    }

    fn json(&self) -> serde_json::Value {
        let outcome = &self.outcome;
        json!({
            "command": "verify",
            "dir": self.request.root.to_string_lossy(),
            "files": outcome.files,
            "bytes": outcome.bytes,
            "last_commit_ts": outcome.manifest.last_commit_ts,
            "round_trip": outcome.round_trip.as_ref().map(|rt| json!({
                "matched": rt.matched(),
                "files_compared": rt.report.files_compared,
            })),
        })
    }

    fn report(&self) -> Option<&Report> {
        self.outcome.round_trip.as_ref().map(|rt| &rt.report)
    }
}
