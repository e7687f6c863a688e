//! `prepare-restore`: encoder payload → a new raft data directory that a stopped
//! node starts from (the Go tool's flags; `--dry-run` beyond them).

use std::path::PathBuf;

use clap::Args;
use elastickv_codec::restore::{self, PrepareOutcome, PrepareRequest};
use serde_json::json;

use crate::failure::Failure;
use crate::progress::Bar;

#[derive(Debug, Args)]
pub struct Opts {
    /// The encoder's payload (`elastickv-snapshot encode --output`).
    #[arg(long)]
    input: PathBuf,
    /// ENCODE_INFO sidecar (default: <input>.encode_info.json).
    #[arg(long)]
    encode_info: Option<PathBuf>,
    /// The raft data directory to create; must not exist (nor <data-dir>.restore-prep).
    #[arg(long)]
    data_dir: PathBuf,
    /// Raft index of the snapshot (> 0): file names and HardState.commit.
    #[arg(long)]
    index: u64,
    /// Raft term of the snapshot (> 0).
    #[arg(long, default_value_t = 1)]
    term: u64,
    /// Members: id=address,id=address (all voters).
    #[arg(long)]
    peers: String,
    /// Expected cluster id; must equal the sidecar's manifest_cluster_id.
    #[arg(long, default_value = "")]
    target_cluster_id: String,
    /// Restore into a new cluster: accept any source cluster id.
    #[arg(long)]
    fresh_cluster: bool,
    /// Accept a sidecar without manifest_cluster_id.
    #[arg(long)]
    allow_missing_cluster_id: bool,
    /// Accept a payload whose encoder self-test did not run or did not match.
    #[arg(long)]
    allow_unverified_self_test: bool,
    /// Run every check and print what would be written; touch nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print a JSON summary on stdout instead of the text line.
    #[arg(long)]
    json: bool,
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    let request = PrepareRequest {
        input: opts.input,
        encode_info: opts.encode_info,
        data_dir: opts.data_dir,
        index: opts.index,
        term: opts.term,
        peers: opts.peers,
        target_cluster_id: opts.target_cluster_id,
        fresh_cluster: opts.fresh_cluster,
        allow_missing_cluster_id: opts.allow_missing_cluster_id,
        allow_unverified_self_test: opts.allow_unverified_self_test,
        dry_run: opts.dry_run,
    };
    restore::check_options(&request).map_err(|e| Failure::usage("usage", e.0))?;
    let outcome = Bar::run(|bar| restore::prepare_restore_with_progress(&request, bar))
        .map_err(|e| Failure::from_error("prepare-restore", &e))?;
    if opts.json {
        println!("{:#}", summary_json(&outcome));
    } else {
        println!("{}", summary_text(&outcome));
    }
    Ok(())
}

/// One line: what was (or would be) written.
pub fn summary_text(o: &PrepareOutcome) -> String {
    format!(
        "{} {}: {} ({} payload bytes, sha256 {}, crc32c {:08x}, last_commit_ts {}, ceiling {} ms), {}, {}, {}; peers {}",
        if o.dry_run {
            "would prepare"
        } else {
            "prepared"
        },
        o.data_dir.display(),
        o.fsm.display(),
        o.payload.bytes,
        o.payload.sha256,
        o.crc32c,
        o.payload.last_commit_ts,
        o.ceiling_ms,
        o.snap.display(),
        o.wal.display(),
        o.peers_file.display(),
        o.peers
            .iter()
            .map(|p| format!("{}={} ({:016x})", p.id, p.address, p.node_id))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn summary_json(o: &PrepareOutcome) -> serde_json::Value {
    json!({
        "command": "prepare-restore",
        "dry_run": o.dry_run,
        "data_dir": o.data_dir.to_string_lossy(),
        "fsm": o.fsm.to_string_lossy(),
        "snap": o.snap.to_string_lossy(),
        "wal": o.wal.to_string_lossy(),
        "peers_file": o.peers_file.to_string_lossy(),
        "crc32c": format!("{:08x}", o.crc32c),
        "payload_sha256": o.payload.sha256,
        "payload_bytes": o.payload.bytes,
        "entries": o.payload.entries,
        "last_commit_ts": o.payload.last_commit_ts,
        "ceiling_ms": o.ceiling_ms,
        "peers": o.peers.iter().map(|p| json!({
            "id": p.id, "address": p.address, "node_id": p.node_id,
        })).collect::<Vec<_>>(),
    })
}
