//! `encode`: dump tree → snapshot, atomically published, optionally self-tested.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use elastickv_codec::pipeline::adapters::{DEFAULT_ADAPTERS, parse_encode_adapters};
use elastickv_codec::pipeline::report::Report;
use elastickv_codec::pipeline::{
    self, DEFAULT_REPORT_CAP, DumpError, EncodeOutcome, EncodeRequest, parse_last_commit_ts,
};
use elastickv_codec::tree::fs::open_sidecar;
use serde_json::json;

use crate::failure::Failure;
use crate::progress::Bar;
use crate::render;

#[derive(Debug, Args)]
pub struct Opts {
    /// The dump root (must contain MANIFEST.json).
    #[arg(long)]
    input: PathBuf,
    /// The .fsm to write; published only when complete (and self-tested).
    #[arg(long)]
    output: PathBuf,
    /// Comma-separated adapters to encode, or `all` (this build encodes redis).
    #[arg(long, default_value = DEFAULT_ADAPTERS)]
    adapter: String,
    /// Commit timestamp for the header and every key: decimal or 0x hex, not below
    /// the manifest's (default: the manifest's).
    #[arg(long, default_value = "")]
    last_commit_ts: String,
    /// Decode the produced file and compare it with --input before publishing.
    #[arg(long)]
    self_test: bool,
    /// Scratch space for the sort and the self-test (default: the system temp dir).
    #[arg(long)]
    scratch_root: Option<PathBuf>,
    /// Memory budget of the external sorts (e.g. 256MiB): 3/4 for the records, 1/4 for
    /// the adapter's directory listings and sidecar joins.
    #[arg(long, default_value = "256MiB", value_parser = crate::parse_size)]
    sort_memory: usize,
    /// Write the self-test report (diffs per file) to this file, or `-` for stdout.
    #[arg(long, requires = "self_test")]
    report: Option<PathBuf>,
    /// Differing files the report details.
    #[arg(long, default_value_t = DEFAULT_REPORT_CAP)]
    report_cap: usize,
    /// Print a JSON summary on stdout instead of the text line.
    #[arg(long)]
    json: bool,
}

/// Writes a rendered report to `target` (`-` = stdout) without following links.
pub fn write_report(target: &Path, report: &Report) -> Result<(), Failure> {
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

/// Turns a failed encode or verify into its exit, writing the mismatch report to
/// `--report` first when the failure is a self-test mismatch.
pub fn fail_with_report(error: DumpError, report: Option<&Path>) -> Failure {
    if let (DumpError::SelfTestMismatch(mismatch), Some(target)) = (&error, report)
        && let Err(failure) = write_report(target, &mismatch.outcome.report)
    {
        return failure;
    }
    Failure::from_dump(&error)
}

/// `--last-commit-ts`: empty means no override, as in Go.
pub fn parse_override(raw: &str) -> Result<Option<u64>, DumpError> {
    if raw.is_empty() {
        return Ok(None);
    }
    parse_last_commit_ts(raw).map(Some)
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    if opts.json && opts.report.as_deref() == Some(Path::new("-")) {
        return Err(Failure::usage(
            "usage",
            "--report - and --json both write to stdout; send the report to a file",
        ));
    }
    let fail = |e: DumpError| Failure::from_dump(&e);
    let adapters = parse_encode_adapters(&opts.adapter).map_err(fail)?;
    let mut request = EncodeRequest::new(opts.input, opts.output, adapters);
    request.last_commit_ts = parse_override(&opts.last_commit_ts).map_err(fail)?;
    request.self_test = opts.self_test;
    request.scratch_root = opts.scratch_root;
    request.sort_memory_bytes = opts.sort_memory;
    request.report_cap = opts.report_cap;
    let mut bar = Bar::for_stderr();
    let result = pipeline::encode_to_file(&request, &mut bar);
    drop(bar);
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => return Err(fail_with_report(e, opts.report.as_deref())),
    };
    if let (Some(target), Some(self_test)) = (&opts.report, &outcome.self_test) {
        write_report(target, &self_test.report)?;
    }
    if opts.json {
        println!("{:#}", summary_json(&request, &outcome));
    } else {
        let info = &outcome.encode_info;
        let self_test = match &outcome.self_test {
            Some(st) => format!("self-test {}", st.summary()),
            None => "no self-test".to_owned(),
        };
        println!(
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
        );
    }
    Ok(())
}

fn summary_json(request: &EncodeRequest, outcome: &EncodeOutcome) -> serde_json::Value {
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
        "self_test": outcome.self_test.as_ref().map(|st| json!({
            "matched": st.matched(),
            "files_compared": st.report.files_compared,
            "scan": st.scan.as_ref().map(render::scan_json),
            "warnings": render::warnings_json(&st.warnings),
        })),
        "elapsed_ms": outcome.elapsed.as_millis() as u64,
    })
}
