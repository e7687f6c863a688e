//! `decode`: snapshot → dump tree (MANIFEST.json and CHECKSUMS written last).

use std::path::PathBuf;

use clap::Args;
use elastickv_codec::adapter::{DEFAULT_DYNAMODB_BUNDLE_BYTES, DecodeFlags, Warnings};
use elastickv_codec::container::datadir::{self, Choice};
use elastickv_codec::mvcc::AsOf;
use elastickv_codec::pipeline::adapters::{self, DEFAULT_ADAPTERS, parse_decode_adapters};
use elastickv_codec::pipeline::{self, DecodeOutcome, DecodeRequest, DumpError};
use elastickv_codec::tree::manifest::Exclusions;
use serde_json::json;

use crate::failure::Failure;
use crate::options::{self, RunSummary, SortOpts, SummaryOpts};
use crate::render;

#[derive(Debug, Args)]
#[command(
    mut_arg("scratch_root", |a| a.help(
        "Where unsorted input is sorted (default: <output>/.scratch, removed afterwards)"
    )),
    mut_arg("sort_memory", |a| a.help("Memory budget of that sort (e.g. 256MiB)")),
)]
pub struct Opts {
    /// The snapshot file (.fsm).
    #[arg(
        long,
        required_unless_present = "data_dir",
        conflicts_with = "data_dir"
    )]
    input: Option<PathBuf>,
    /// A node's raft group directory (holds snap/ and fsm-snap/): decode its newest
    /// snapshot that raft has recorded, saying which and why.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The `elastickv-snapshot-offload publish` manifest of a footer-less payload given
    /// as --input: its length, SHA-256 and CRC32C vouch for the payload.
    #[arg(long, conflicts_with = "data_dir")]
    offload_manifest: Option<PathBuf>,
    /// Decode the state as of this time: an HLC timestamp, or an RFC 3339 instant
    /// (every commit up to the end of that millisecond).
    #[arg(long)]
    as_of: Option<String>,
    /// The output root; must not exist or be an empty directory.
    #[arg(long)]
    output: PathBuf,
    /// Comma-separated adapters to decode (dynamodb, s3, redis, sqs), or `all`.
    #[arg(long, default_value = DEFAULT_ADAPTERS)]
    adapter: String,
    /// Stamped into MANIFEST.json `cluster_id`.
    #[arg(long, default_value = "")]
    cluster_id: String,
    /// S3: emit in-flight multipart uploads (recorded in MANIFEST exclusions).
    #[arg(long)]
    include_incomplete_uploads: bool,
    /// S3: emit pre-generation orphan blobs (recorded in MANIFEST exclusions).
    #[arg(long)]
    include_orphans: bool,
    /// SQS: keep visibility-state fields (recorded in MANIFEST exclusions).
    #[arg(long)]
    preserve_sqs_visibility: bool,
    /// SQS: emit side records (recorded in MANIFEST exclusions).
    #[arg(long)]
    include_sqs_side_records: bool,
    /// S3: rename colliding user keys instead of failing (recorded in MANIFEST exclusions).
    #[arg(long)]
    rename_collisions: bool,
    /// DynamoDB item layout: per-item | jsonl.
    #[arg(long, default_value = "per-item")]
    dynamodb_bundle_mode: String,
    /// Size limit of each JSONL bundle with `--dynamodb-bundle-mode jsonl` (e.g.
    /// 64MiB); an item whose line is larger fails the decode. A tree with other than
    /// the default size cannot be self-tested, as MANIFEST.json does not record it.
    #[arg(long, default_value = "64MiB", value_parser = crate::parse_size)]
    dynamodb_bundle_size: usize,
    /// Salvage a runtime (EKVTHLC*) snapshot that lacks its CRC32C footer, probably
    /// truncated: decode what is there and warn, instead of refusing it.
    #[arg(long)]
    allow_missing_footer: bool,
    /// Threads writing the tree's files (default: one per core); the tree is the same
    /// for every value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    #[command(flatten)]
    sort: SortOpts,
    #[command(flatten)]
    summary: SummaryOpts,
}

/// `--dynamodb-bundle-mode`: `per-item` or empty → per item, `jsonl` → bundled.
pub fn parse_bundle_mode(mode: &str) -> Result<bool, DumpError> {
    match mode {
        "per-item" | "" => Ok(false),
        "jsonl" => Ok(true),
        other => Err(DumpError::usage(
            "bundle-mode-invalid",
            format!("{other}: invalid --dynamodb-bundle-mode"),
        )),
    }
}

/// The flags both decode front ends share, as a library request.
pub fn request(
    input: PathBuf,
    output: PathBuf,
    adapter_csv: &str,
    cluster_id: String,
    exclusions: Exclusions,
    bundle_mode: &str,
) -> Result<DecodeRequest, DumpError> {
    let adapters = parse_decode_adapters(adapter_csv)?;
    let bundle = parse_bundle_mode(bundle_mode)?;
    let mut request = DecodeRequest::new(input, output, adapters);
    request.cluster_id = cluster_id;
    request.flags = DecodeFlags {
        exclusions,
        dynamodb_bundle_bytes: bundle.then_some(DEFAULT_DYNAMODB_BUNDLE_BYTES),
    };
    Ok(request)
}

/// The snapshot to decode: `--input`, or the one `--data-dir` picks (announced on
/// stderr, since the operator did not name it).
fn resolve_input(opts: &Opts) -> Result<(PathBuf, Option<Choice>), Failure> {
    if let Some(input) = &opts.input {
        return Ok((input.clone(), None));
    }
    let dir = opts
        .data_dir
        .as_deref()
        .unwrap_or(std::path::Path::new("."));
    let choice = datadir::choose_snapshot(dir)
        .map_err(|e| Failure::from_error(&format!("--data-dir {}", dir.display()), &e))?;
    eprintln!(
        "data-dir: decoding {} ({})",
        choice.file.path.display(),
        choice.reason
    );
    Ok((choice.file.path.clone(), Some(choice)))
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    let (input, choice) = resolve_input(&opts)?;
    let as_of = opts
        .as_of
        .as_deref()
        .map(AsOf::parse)
        .transpose()
        .map_err(|e| Failure::from_error("decode", &e))?;
    let exclusions = Exclusions {
        include_incomplete_uploads: opts.include_incomplete_uploads,
        include_orphans: opts.include_orphans,
        preserve_sqs_visibility: opts.preserve_sqs_visibility,
        include_sqs_side_records: opts.include_sqs_side_records,
        rename_s3_collisions: opts.rename_collisions,
    };
    let mut request = request(
        input,
        opts.output,
        &opts.adapter,
        opts.cluster_id,
        exclusions,
        &opts.dynamodb_bundle_mode,
    )
    .map_err(|e| Failure::from_dump(&e))?;
    if let Some(bytes) = &mut request.flags.dynamodb_bundle_bytes {
        if opts.dynamodb_bundle_size == 0 {
            let e = DumpError::usage(
                "bundle-size-invalid",
                "--dynamodb-bundle-size must be positive".to_owned(),
            );
            return Err(Failure::from_dump(&e));
        }
        *bytes = opts.dynamodb_bundle_size as u64;
    }
    request.scratch_root = opts.sort.scratch_root;
    request.sort_memory_bytes = opts.sort.sort_memory;
    request.allow_missing_footer = opts.allow_missing_footer;
    request.offload_manifest = opts.offload_manifest;
    request.as_of = as_of;
    if let Some(jobs) = opts.jobs {
        request.jobs = usize::from(jobs);
    }
    options::finish(&opts.summary, None, |bar| {
        pipeline::decode_to_tree(&request, bar).map(|outcome| Decoded {
            request: &request,
            outcome,
            choice: choice.as_ref(),
        })
    })
}

/// A finished decode, as its summary tells it.
struct Decoded<'r> {
    request: &'r DecodeRequest,
    outcome: DecodeOutcome,
    choice: Option<&'r Choice>,
}

impl RunSummary for Decoded<'_> {
    fn text(&self) -> String {
        let (request, outcome) = (self.request, &self.outcome);
        format!(
            "decoded {} -> {}: {}; {} files; last_commit_ts {}; {}",
            request.input.display(),
            request.output.display(),
            render::counters_text(&outcome.scan),
            outcome.files,
            outcome.manifest.last_commit_ts,
            render::seconds(outcome.elapsed)
        )
    }

    fn json(&self) -> serde_json::Value {
        let (request, outcome) = (self.request, &self.outcome);
        let m = &outcome.manifest;
        json!({
            "command": "decode",
            "input": request.input.to_string_lossy(),
            "output": request.output.to_string_lossy(),
            "adapters": adapters::names(request.adapters),
            "snapshot_index": (m.snapshot_index != 0).then_some(m.snapshot_index),
            "scan": render::scan_json(&outcome.scan),
            "files": outcome.files,
            "warnings": render::warnings_json(&outcome.warnings),
            "elapsed_ms": outcome.elapsed.as_millis() as u64,
            "data_dir_choice": self.choice.map(|c| json!({
                "path": c.file.path.to_string_lossy(),
                "index": c.file.index,
                "term": c.file.snap_term,
                "reason": c.reason,
            })),
            "as_of": request.as_of.as_ref().map(|a| json!({
                "requested": a.requested,
                "ts": a.ts,
                "versions_after_cut": outcome.scan.after_cut,
            })),
        })
    }

    fn warnings(&self) -> Option<&Warnings> {
        Some(&self.outcome.warnings)
    }
}
