//! `verify`: MANIFEST valid, CHECKSUMS verified, nothing unlisted; with
//! `--round-trip`, the encode → decode self-test in scratch space.

use std::path::{Path, PathBuf};

use clap::Args;
use elastickv_codec::pipeline::adapters::parse_encode_adapters;
use elastickv_codec::pipeline::{self, DEFAULT_REPORT_CAP, DumpError, VerifyRequest};
use serde_json::json;

use crate::encode::{fail_with_report, write_report};
use crate::failure::Failure;
use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct Opts {
    /// The dump root.
    dir: PathBuf,
    /// Also encode the tree and decode it back in scratch space, comparing the result.
    #[arg(long)]
    round_trip: bool,
    /// Adapters for the round trip (default: those MANIFEST.json enables).
    #[arg(long)]
    adapter: Option<String>,
    /// Scratch space for the round trip (default: the system temp dir).
    #[arg(long)]
    scratch_root: Option<PathBuf>,
    /// Memory budget of the external sorts (e.g. 256MiB).
    #[arg(long, default_value = "256MiB", value_parser = crate::parse_size)]
    sort_memory: usize,
    /// Write the round-trip report to this file, or `-` for stdout.
    #[arg(long, requires = "round_trip")]
    report: Option<PathBuf>,
    /// Differing files the report details.
    #[arg(long, default_value_t = DEFAULT_REPORT_CAP)]
    report_cap: usize,
    /// Print a JSON summary on stdout instead of the text line.
    #[arg(long)]
    json: bool,
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    if opts.json && opts.report.as_deref() == Some(Path::new("-")) {
        return Err(Failure::usage(
            "usage",
            "--report - and --json both write to stdout; send the report to a file",
        ));
    }
    let fail = |e: DumpError| Failure::from_dump(&e);
    let mut request = VerifyRequest::new(&opts.dir);
    request.round_trip = opts.round_trip;
    request.adapters = opts
        .adapter
        .as_deref()
        .map(parse_encode_adapters)
        .transpose()
        .map_err(fail)?;
    request.scratch_root = opts.scratch_root;
    request.sort_memory_bytes = opts.sort_memory;
    request.report_cap = opts.report_cap;
    let mut bar = Bar::for_stderr();
    let result = pipeline::verify_tree(&request, &mut bar);
    drop(bar);
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => return Err(fail_with_report(e, opts.report.as_deref())),
    };
    if let (Some(target), Some(rt)) = (&opts.report, &outcome.round_trip) {
        write_report(target, &rt.report)?;
    }
    if opts.json {
        let summary = json!({
            "command": "verify",
            "dir": opts.dir.to_string_lossy(),
            "files": outcome.files,
            "bytes": outcome.bytes,
            "last_commit_ts": outcome.manifest.last_commit_ts,
            "round_trip": outcome.round_trip.as_ref().map(|rt| json!({
                "matched": rt.matched(),
                "files_compared": rt.report.files_compared,
            })),
        });
        println!("{summary:#}");
    } else {
        let round_trip = match &outcome.round_trip {
            Some(rt) => format!("; round trip {}", rt.summary()),
            None => String::new(),
        };
        println!(
            "verified {}: MANIFEST.json valid, {} files ({} bytes) match CHECKSUMS, none unlisted{round_trip}",
            opts.dir.display(),
            outcome.files,
            outcome.bytes
        );
    }
    Ok(())
}
