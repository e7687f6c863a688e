//! `encode`: dump tree → snapshot, atomically published, optionally self-tested.

use std::path::PathBuf;

use clap::Args;
use elastickv_codec::adapter::Warnings;
use elastickv_codec::pipeline::adapters::{DEFAULT_ADAPTERS, parse_encode_adapters};
use elastickv_codec::pipeline::report::Report;
use elastickv_codec::pipeline::{
    self, DumpError, EncodeOutcome, EncodeRequest, parse_last_commit_ts,
};
use serde_json::json;

use crate::failure::Failure;
use crate::options::{self, ReportOpts, RunSummary, SortOpts, SummaryOpts};
use crate::render;

#[derive(Debug, Args)]
#[command(
    mut_arg("scratch_root", |a| a.help(
        "Scratch space for the sort and the self-test (default: the system temp dir)"
    )),
    mut_arg("sort_memory", |a| a.help(
        "Memory budget of the external sorts (e.g. 256MiB): 3/4 for the records, 1/4 for \
         the adapter's directory listings and sidecar joins"
    )),
    mut_arg("report", |a| a.requires("self_test").help(
        "Write the self-test report (diffs per file) to this file, or `-` for stdout"
    )),
)]
pub struct Opts {
    /// The dump root (must contain MANIFEST.json).
    #[arg(long)]
    input: PathBuf,
    /// The .fsm to write; published only when complete (and self-tested).
    #[arg(long)]
    output: PathBuf,
    /// Comma-separated adapters to encode (dynamodb, s3, redis, sqs), or `all`.
    #[arg(long, default_value = DEFAULT_ADAPTERS)]
    adapter: String,
    /// Commit timestamp for the header and every key: decimal or 0x hex, not below
    /// the manifest's (default: the manifest's).
    #[arg(long, default_value = "")]
    last_commit_ts: String,
    /// Decode the produced file and compare it with --input before publishing.
    #[arg(long)]
    self_test: bool,
    #[command(flatten)]
    sort: SortOpts,
    #[command(flatten)]
    report: ReportOpts,
    #[command(flatten)]
    summary: SummaryOpts,
}

/// `--last-commit-ts`: empty means no override, as in Go.
pub fn parse_override(raw: &str) -> Result<Option<u64>, DumpError> {
    if raw.is_empty() {
        return Ok(None);
    }
    parse_last_commit_ts(raw).map(Some)
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    opts.report.check_stdout(&opts.summary)?;
    let fail = |e: DumpError| Failure::from_dump(&e);
    let adapters = parse_encode_adapters(&opts.adapter).map_err(fail)?;
    let mut request = EncodeRequest::new(opts.input, opts.output, adapters);
    request.last_commit_ts = parse_override(&opts.last_commit_ts).map_err(fail)?;
    request.self_test = opts.self_test;
    request.scratch_root = opts.sort.scratch_root;
    request.sort_memory_bytes = opts.sort.sort_memory;
    request.report_cap = opts.report.report_cap;
    options::finish(&opts.summary, opts.report.target(), |bar| {
        pipeline::encode_to_file(&request, bar).map(|outcome| Encoded {
            request: &request,
            outcome,
        })
    })
}

/// A finished encode, as its summary tells it.
struct Encoded<'r> {
    request: &'r EncodeRequest,
    outcome: EncodeOutcome,
}

impl RunSummary for Encoded<'_> {
    fn text(&self) -> String {
        let (request, outcome) = (self.request, &self.outcome);
        let info = &outcome.encode_info;
        let self_test = match &outcome.self_test {
            Some(st) => format!("self-test {}", st.summary()),
            None => "no self-test".to_owned(),
        };
        format!(
            "encoded {} -> {}: {} entries, {} bytes, sha256 {}; last_commit_ts {}{}; adapters {}; {}; {}",
            request.input.display(),
            request.output.display(),
            outcome.entries,
            outcome.bytes,
            outcome.sha256,
            info.last_commit_ts,
            if info.last_commit_ts_overridden {
                " (overridden)"
            } else {
                ""
            },
            info.adapters_enabled.join(","),
            self_test,
            render::seconds(outcome.elapsed)
        )
    }

    fn json(&self) -> serde_json::Value {
        let (request, outcome) = (self.request, &self.outcome);
        let info = &outcome.encode_info;
        json!({
            "command": "encode",
            "input": request.input.to_string_lossy(),
            "output": request.output.to_string_lossy(),
            "entries": outcome.entries,
            "bytes": outcome.bytes,
            "sha256": outcome.sha256,
            "last_commit_ts": info.last_commit_ts,
            "last_commit_ts_overridden": info.last_commit_ts_overridden,
            "manifest_last_commit_ts": info.manifest_last_commit_ts,
            "adapters": info.adapters_enabled,
            "encode_info": outcome.encode_info_path.to_string_lossy(),
            "warnings": render::warnings_json(&outcome.warnings),
            "self_test": outcome.self_test.as_ref().map(|st| json!({
                "matched": st.matched(),
                "files_compared": st.report.files_compared,
                "scan": st.scan.as_ref().map(render::scan_json),
                "warnings": render::warnings_json(&st.warnings),
            })),
            "elapsed_ms": outcome.elapsed.as_millis() as u64,
        })
    }

    fn report(&self) -> Option<&Report> {
        self.outcome.self_test.as_ref().map(|st| &st.report)
    }

    fn warnings(&self) -> Option<&Warnings> {
        Some(&self.outcome.warnings)
    }
}
